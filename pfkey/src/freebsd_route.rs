//! FreeBSD routing-socket messages (`PF_ROUTE`, route(4)): `RTM_ADD`,
//! `RTM_DELETE` and `RTM_GET` of one IPv4 or IPv6 prefix, and a parser for
//! what the kernel sends back. Pure bytes, compiled on every system so the
//! layout is tested on Linux; the socket itself is
//! `crate::freebsd::RouteSocket` (FreeBSD only).
//!
//! Written from FreeBSD's `sys/net/route.h` (`struct rt_msghdr`,
//! `struct rt_metrics`, `RTM_*`, `RTF_*`, `RTA_*`/`RTAX_*`, `SA_SIZE`) and
//! `sbin/route/route.c` (`newroute`, `getaddr`, `prefixlen`,
//! `rtmsg_rtsock`), so a message is laid out as `route add -net
//! 10.2.0.0/24 10.6.106.2` writes it: the 152-byte header, then the
//! sockaddrs named in `rtm_addrs` in `RTAX_*` order, each rounded up to a
//! multiple of `sizeof(long)` (8; a `sa_len` of 0 takes 8). Full-length
//! netmasks (`sin_len` 16 / `sin6_len` 28, as `prefixlen()` makes them);
//! `RTF_UP | RTF_STATIC`, `RTF_GATEWAY` when the next hop is a gateway
//! (not `-interface`), `RTF_HOST` and no netmask for a /32 or /128, and
//! `RTF_PINNED` added to deletes as `rtmsg()` does.
//!
//! Metrics: FreeBSD's routes have no preference value like Linux's
//! `RTA_PRIORITY`: `rmx_hopcount` is informational and `rmx_weight` is a
//! multipath (ECMP) weight, so two routes to one prefix share the traffic
//! instead of one standing by. The `route_metric` failover is therefore
//! done by the daemon, which installs each prefix only through its
//! preferred interface ([`crate::backend::routes::PreferredRoutes`]); no
//! metric is sent.
#![forbid(unsafe_code)]

use std::mem::{offset_of, size_of};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::freebsd_abi::{SockaddrIn, SockaddrIn6, AF_INET, AF_INET6};
use crate::ParseError;

/// `RTM_VERSION`.
pub const RTM_VERSION: u8 = 5;
/// `RTM_ADD`.
pub const RTM_ADD: u8 = 1;
/// `RTM_DELETE`.
pub const RTM_DELETE: u8 = 2;
/// `RTM_CHANGE`.
pub const RTM_CHANGE: u8 = 3;
/// `RTM_GET`.
pub const RTM_GET: u8 = 4;

/// `RTF_UP`: route usable.
pub const RTF_UP: i32 = 0x1;
/// `RTF_GATEWAY`: the next hop is a gateway.
pub const RTF_GATEWAY: i32 = 0x2;
/// `RTF_HOST`: a host route.
pub const RTF_HOST: i32 = 0x4;
/// `RTF_DONE`: message confirmed (set in the kernel's replies).
pub const RTF_DONE: i32 = 0x40;
/// `RTF_STATIC`: manually added.
pub const RTF_STATIC: i32 = 0x800;
/// `RTF_PINNED`: `route delete` sets it (`rtmsg()`).
pub const RTF_PINNED: i32 = 0x10_0000;

/// `RTA_DST`.
pub const RTA_DST: i32 = 0x1;
/// `RTA_GATEWAY`.
pub const RTA_GATEWAY: i32 = 0x2;
/// `RTA_NETMASK`.
pub const RTA_NETMASK: i32 = 0x4;
/// `RTA_GENMASK`.
pub const RTA_GENMASK: i32 = 0x8;
/// `RTA_IFP`.
pub const RTA_IFP: i32 = 0x10;
/// `RTA_IFA`.
pub const RTA_IFA: i32 = 0x20;
/// `RTA_AUTHOR`.
pub const RTA_AUTHOR: i32 = 0x40;
/// `RTA_BRD`.
pub const RTA_BRD: i32 = 0x80;
/// `RTAX_DST`: the destination's slot in [`RtMsg::addrs`].
pub const RTAX_DST: usize = 0;
/// `RTAX_GATEWAY`.
pub const RTAX_GATEWAY: usize = 1;
/// `RTAX_NETMASK`.
pub const RTAX_NETMASK: usize = 2;
/// `RTAX_IFP`: the interface (`sockaddr_dl`) of an `RTM_GET` reply.
pub const RTAX_IFP: usize = 4;
/// `RTAX_MAX`: how many sockaddr slots a message can have.
pub const RTAX_MAX: usize = 8;

/// `RTV_HOPCOUNT` (`rtm_inits`/`rmx_locks` bit).
pub const RTV_HOPCOUNT: u64 = 0x2;
/// `RTV_WEIGHT`.
pub const RTV_WEIGHT: u64 = 0x100;

/// `AF_LINK`.
pub const AF_LINK: u8 = 18;
/// `sizeof(struct sockaddr_dl)` (`<net/if_dl.h>`), what `route get` puts
/// in `RTA_IFP` to ask for the interface.
pub const SOCKADDR_DL_LEN: u8 = 54;
/// `PF_ROUTE` (= `AF_ROUTE`).
pub const PF_ROUTE: i32 = 17;

/// `sizeof(long)` on FreeBSD's 64-bit targets: the sockaddr alignment of
/// routing messages.
const LONG: usize = 8;

/// `struct rt_metrics` (`<net/route.h>`; `u_long` = 8 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RtMetrics {
    /// `rmx_locks`.
    pub locks: u64,
    /// `rmx_mtu`.
    pub mtu: u64,
    /// `rmx_hopcount`.
    pub hopcount: u64,
    /// `rmx_expire`.
    pub expire: u64,
    /// `rmx_recvpipe`.
    pub recvpipe: u64,
    /// `rmx_sendpipe`.
    pub sendpipe: u64,
    /// `rmx_ssthresh`.
    pub ssthresh: u64,
    /// `rmx_rtt`.
    pub rtt: u64,
    /// `rmx_rttvar`.
    pub rttvar: u64,
    /// `rmx_pksent`.
    pub pksent: u64,
    /// `rmx_weight`.
    pub weight: u64,
    /// `rmx_nhidx`.
    pub nhidx: u64,
    /// `rmx_filler[2]`.
    pub filler: [u64; 2],
}

/// `struct rt_msghdr` (`<net/route.h>`), 152 bytes on amd64.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RtMsgHdr {
    /// `rtm_msglen`: the whole message.
    pub msglen: u16,
    /// `rtm_version` ([`RTM_VERSION`]).
    pub version: u8,
    /// `rtm_type` (`RTM_*`).
    pub msg_type: u8,
    /// `rtm_index`: the interface index.
    pub index: u16,
    /// `_rtm_spare1`.
    pub spare1: u16,
    /// `rtm_flags` (`RTF_*`).
    pub flags: i32,
    /// `rtm_addrs` (`RTA_*` bits).
    pub addrs: i32,
    /// `rtm_pid`.
    pub pid: i32,
    /// `rtm_seq`.
    pub seq: i32,
    /// `rtm_errno`.
    pub errno: i32,
    /// `rtm_fmask`.
    pub fmask: i32,
    /// `rtm_inits` (`RTV_*` bits).
    pub inits: u64,
    /// `rtm_rmx`.
    pub rmx: RtMetrics,
}

/// `sizeof(struct rt_msghdr)`.
pub const RT_MSGHDR_LEN: usize = size_of::<RtMsgHdr>();

/// `SA_SIZE()`: the room a sockaddr of `sa_len` takes in a routing
/// message (rounded up to `sizeof(long)`, at least `sizeof(long)`).
pub fn sa_size(sa_len: u8) -> usize {
    match usize::from(sa_len) {
        0 => LONG,
        n => 1 + ((n - 1) | (LONG - 1)),
    }
}

/// The next hop of a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NextHop {
    /// Through a gateway address (`route add -net P GW`, `RTF_GATEWAY`).
    Gateway(IpAddr),
    /// Directly into the interface that has this local address
    /// (`route add -net P -interface ADDR`: no `RTF_GATEWAY`, the kernel
    /// finds the interface by the address, `ifa_ifwithaddr`).
    Interface(IpAddr),
}

impl NextHop {
    fn addr(self) -> IpAddr {
        match self {
            NextHop::Gateway(a) | NextHop::Interface(a) => a,
        }
    }
}

/// The next hop of a route of family `v6` into an interface with these
/// addresses: its remote transit address of the family (the automatic
/// gateway, `RTF_GATEWAY`), else its own address of the family
/// (`-interface`), else none (the interface has no address to route
/// through).
pub fn next_hop(remote: &[IpAddr], local: &[IpAddr], v6: bool) -> Option<NextHop> {
    let of = |a: &&IpAddr| a.is_ipv6() == v6;
    remote
        .iter()
        .find(of)
        .map(|a| NextHop::Gateway(*a))
        .or_else(|| local.iter().find(of).map(|a| NextHop::Interface(*a)))
}

/// One route: `dst/prefix` through `via`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Route {
    /// The destination; host bits beyond `prefix` are cleared when sent.
    pub dst: IpAddr,
    /// Prefix length (≤ 32 or ≤ 128).
    pub prefix: u8,
    /// The next hop, of the same family as `dst`.
    pub via: NextHop,
}

fn family_max(a: IpAddr) -> u8 {
    if a.is_ipv4() {
        32
    } else {
        128
    }
}

fn masked(a: IpAddr, prefix: u8) -> IpAddr {
    match a {
        IpAddr::V4(v) => {
            let m = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(v) & m))
        }
        IpAddr::V6(v) => {
            let m = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(v) & m))
        }
    }
}

fn put_sockaddr(out: &mut Vec<u8>, a: IpAddr) {
    let start = out.len();
    match a {
        IpAddr::V4(v) => {
            let s = SockaddrIn::new(v);
            out.extend_from_slice(&[s.len, s.family]);
            out.extend_from_slice(&s.port);
            out.extend_from_slice(&s.addr);
            out.extend_from_slice(&s.zero);
        }
        IpAddr::V6(v) => {
            let s = SockaddrIn6::new(v);
            out.extend_from_slice(&[s.len, s.family]);
            out.extend_from_slice(&s.port);
            out.extend_from_slice(&s.flowinfo.to_ne_bytes());
            out.extend_from_slice(&s.addr);
            out.extend_from_slice(&s.scope_id.to_ne_bytes());
        }
    }
    let len = out.len() - start;
    out.resize(start + sa_size(len as u8), 0);
}

fn put_mask(out: &mut Vec<u8>, v6: bool, prefix: u8) {
    if v6 {
        let s = SockaddrIn6::mask(prefix);
        put_sockaddr(out, IpAddr::V6(Ipv6Addr::from(s.addr)));
    } else {
        let s = SockaddrIn::mask(prefix);
        put_sockaddr(out, IpAddr::V4(Ipv4Addr::from(s.addr)));
    }
}

/// Why a route cannot be expressed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// The next hop's family differs from the destination's.
    #[error("route {dst}/{prefix}: next hop {via} is of another address family")]
    Family {
        /// Destination.
        dst: IpAddr,
        /// Prefix length.
        prefix: u8,
        /// Next hop.
        via: IpAddr,
    },
    /// The prefix length is longer than the address.
    #[error("route {dst}/{prefix}: prefix length over {max}")]
    Prefix {
        /// Destination.
        dst: IpAddr,
        /// Prefix length.
        prefix: u8,
        /// 32 or 128.
        max: u8,
    },
}

fn header(out: &mut Vec<u8>, h: &RtMsgHdr) {
    out.extend_from_slice(&h.msglen.to_ne_bytes());
    out.push(h.version);
    out.push(h.msg_type);
    out.extend_from_slice(&h.index.to_ne_bytes());
    out.extend_from_slice(&h.spare1.to_ne_bytes());
    for v in [h.flags, h.addrs, h.pid, h.seq, h.errno, h.fmask] {
        out.extend_from_slice(&v.to_ne_bytes());
    }
    out.extend_from_slice(&h.inits.to_ne_bytes());
    let m = &h.rmx;
    for v in [
        m.locks,
        m.mtu,
        m.hopcount,
        m.expire,
        m.recvpipe,
        m.sendpipe,
        m.ssthresh,
        m.rtt,
        m.rttvar,
        m.pksent,
        m.weight,
        m.nhidx,
        m.filler[0],
        m.filler[1],
    ] {
        out.extend_from_slice(&v.to_ne_bytes());
    }
}

fn finish(mut out: Vec<u8>) -> Vec<u8> {
    // The header is first; its length field covers everything. Messages
    // here are at most 152 + 3 × 32 bytes.
    let len = u16::try_from(out.len()).unwrap_or(u16::MAX);
    out[..2].copy_from_slice(&len.to_ne_bytes());
    out
}

/// `RTM_ADD` (`add`) or `RTM_DELETE` of `r`, sequence number `seq`, laid
/// out as `route(8)` writes it (see the module documentation).
pub fn route_message(add: bool, r: &Route, seq: i32) -> Result<Vec<u8>, RouteError> {
    let max = family_max(r.dst);
    if r.prefix > max {
        return Err(RouteError::Prefix {
            dst: r.dst,
            prefix: r.prefix,
            max,
        });
    }
    let via = r.via.addr();
    if via.is_ipv4() != r.dst.is_ipv4() {
        return Err(RouteError::Family {
            dst: r.dst,
            prefix: r.prefix,
            via,
        });
    }
    let host = r.prefix == max;
    let mut flags = RTF_UP | RTF_STATIC;
    if matches!(r.via, NextHop::Gateway(_)) {
        flags |= RTF_GATEWAY;
    }
    if host {
        flags |= RTF_HOST;
    }
    if !add {
        flags |= RTF_PINNED;
    }
    let h = RtMsgHdr {
        version: RTM_VERSION,
        msg_type: if add { RTM_ADD } else { RTM_DELETE },
        flags,
        addrs: RTA_DST | RTA_GATEWAY | if host { 0 } else { RTA_NETMASK },
        seq,
        ..RtMsgHdr::default()
    };
    let mut out = Vec::with_capacity(RT_MSGHDR_LEN + 96);
    header(&mut out, &h);
    put_sockaddr(&mut out, masked(r.dst, r.prefix));
    put_sockaddr(&mut out, via);
    if !host {
        put_mask(&mut out, r.dst.is_ipv6(), r.prefix);
    }
    Ok(finish(out))
}

/// `RTM_GET` for `dst` (`route -n get DST`): the destination and an empty
/// `sockaddr_dl` in `RTA_IFP`, so the reply names the interface.
pub fn get_message(dst: IpAddr, seq: i32) -> Vec<u8> {
    let h = RtMsgHdr {
        version: RTM_VERSION,
        msg_type: RTM_GET,
        flags: RTF_UP | RTF_STATIC | RTF_GATEWAY | RTF_HOST,
        addrs: RTA_DST | RTA_IFP,
        seq,
        ..RtMsgHdr::default()
    };
    let mut out = Vec::with_capacity(RT_MSGHDR_LEN + 88);
    header(&mut out, &h);
    put_sockaddr(&mut out, dst);
    let start = out.len();
    out.push(SOCKADDR_DL_LEN);
    out.push(AF_LINK);
    out.resize(start + sa_size(SOCKADDR_DL_LEN), 0);
    finish(out)
}

/// One sockaddr of a kernel message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RtAddr {
    /// `AF_INET`/`AF_INET6`, or a netmask the kernel trimmed (`sa_len`
    /// shorter than the structure; the missing bytes are zeros).
    Ip(IpAddr),
    /// `AF_LINK`: the interface index (`sdl_index`) and name (`sdl_data`,
    /// `sdl_nlen` bytes).
    Link {
        /// `sdl_index`.
        index: u16,
        /// The interface name, if any.
        name: String,
    },
    /// Any other family, as bytes.
    Other {
        /// `sa_family`.
        family: u8,
        /// The `sa_len` bytes.
        bytes: Vec<u8>,
    },
}

/// A routing message read from the kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RtMsg {
    /// The header.
    pub hdr: RtMsgHdr,
    /// The sockaddrs by `RTAX_*` index.
    pub addrs: [Option<RtAddr>; RTAX_MAX],
}

fn byte(b: &[u8], at: usize) -> Result<u8, ParseError> {
    b.get(at)
        .copied()
        .ok_or_else(|| ParseError::invalid("rt_msghdr", "truncated"))
}

fn ne_u16(b: &[u8], at: usize) -> Result<u16, ParseError> {
    let s = b
        .get(at..at + 2)
        .ok_or_else(|| ParseError::invalid("rt_msghdr", "truncated"))?;
    Ok(u16::from_ne_bytes([s[0], s[1]]))
}

fn ne_i32(b: &[u8], at: usize) -> Result<i32, ParseError> {
    let s = b
        .get(at..at + 4)
        .ok_or_else(|| ParseError::invalid("rt_msghdr", "truncated"))?;
    Ok(i32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
}

fn ne_u64(b: &[u8], at: usize) -> Result<u64, ParseError> {
    let s = b
        .get(at..at + 8)
        .ok_or_else(|| ParseError::invalid("rt_msghdr", "truncated"))?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Ok(u64::from_ne_bytes(a))
}

/// The bytes of a sockaddr, zero-filled to `want` (a trimmed netmask
/// carries only its leading non-zero bytes).
fn filled(sa: &[u8], want: usize) -> Vec<u8> {
    let mut v = sa.to_vec();
    v.resize(want.max(v.len()), 0);
    v
}

fn parse_sockaddr(sa: &[u8]) -> RtAddr {
    let family = sa.get(1).copied().unwrap_or(0);
    match family {
        AF_INET => {
            let b = filled(sa, 16);
            RtAddr::Ip(IpAddr::V4(Ipv4Addr::new(b[4], b[5], b[6], b[7])))
        }
        AF_INET6 => {
            let b = filled(sa, 28);
            let mut a = [0u8; 16];
            a.copy_from_slice(&b[8..24]);
            RtAddr::Ip(IpAddr::V6(Ipv6Addr::from(a)))
        }
        AF_LINK => {
            // struct sockaddr_dl: len, family, index (u16), type, nlen,
            // alen, slen, data[].
            let b = filled(sa, 8);
            let index = u16::from_ne_bytes([b[2], b[3]]);
            let nlen = usize::from(b[5]);
            let name = sa
                .get(8..8 + nlen)
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .unwrap_or_default();
            RtAddr::Link { index, name }
        }
        _ => RtAddr::Other {
            family,
            bytes: sa.to_vec(),
        },
    }
}

/// Parses one routing message (a reply to [`route_message`] or
/// [`get_message`], or a message of another process). Never panics:
/// lengths are checked against the buffer and `rtm_msglen`.
pub fn parse(buf: &[u8]) -> Result<RtMsg, ParseError> {
    if buf.len() < RT_MSGHDR_LEN {
        return Err(ParseError::invalid(
            "rt_msghdr",
            format!("{} bytes, the header alone has {RT_MSGHDR_LEN}", buf.len()),
        ));
    }
    let msglen = usize::from(ne_u16(buf, 0)?);
    if msglen < RT_MSGHDR_LEN || msglen > buf.len() {
        return Err(ParseError::invalid(
            "rt_msghdr",
            format!(
                "rtm_msglen {msglen} out of range ({} bytes read)",
                buf.len()
            ),
        ));
    }
    let version = byte(buf, 2)?;
    if version != RTM_VERSION {
        return Err(ParseError::invalid(
            "rt_msghdr",
            format!("rtm_version {version}, want {RTM_VERSION}"),
        ));
    }
    let mut rmx = [0u64; 14];
    for (i, v) in rmx.iter_mut().enumerate() {
        *v = ne_u64(buf, offset_of!(RtMsgHdr, rmx) + 8 * i)?;
    }
    let hdr = RtMsgHdr {
        msglen: msglen as u16,
        version,
        msg_type: byte(buf, 3)?,
        index: ne_u16(buf, 4)?,
        spare1: ne_u16(buf, 6)?,
        flags: ne_i32(buf, 8)?,
        addrs: ne_i32(buf, 12)?,
        pid: ne_i32(buf, 16)?,
        seq: ne_i32(buf, 20)?,
        errno: ne_i32(buf, 24)?,
        fmask: ne_i32(buf, 28)?,
        inits: ne_u64(buf, 32)?,
        rmx: RtMetrics {
            locks: rmx[0],
            mtu: rmx[1],
            hopcount: rmx[2],
            expire: rmx[3],
            recvpipe: rmx[4],
            sendpipe: rmx[5],
            ssthresh: rmx[6],
            rtt: rmx[7],
            rttvar: rmx[8],
            pksent: rmx[9],
            weight: rmx[10],
            nhidx: rmx[11],
            filler: [rmx[12], rmx[13]],
        },
    };
    let body = buf.get(RT_MSGHDR_LEN..msglen).unwrap_or(&[]);
    let mut addrs: [Option<RtAddr>; RTAX_MAX] = Default::default();
    let mut at = 0usize;
    for (i, slot) in addrs.iter_mut().enumerate() {
        if hdr.addrs & (1 << i) == 0 {
            continue;
        }
        let sa_len = *body.get(at).ok_or_else(|| {
            ParseError::invalid("rt_msghdr", format!("sockaddr {i} past the message end"))
        })?;
        let room = sa_size(sa_len);
        let end = at
            .checked_add(room)
            .filter(|&e| e <= body.len())
            .ok_or_else(|| {
                ParseError::invalid(
                    "rt_msghdr",
                    format!("sockaddr {i} ({sa_len} bytes) past the message end"),
                )
            })?;
        let sa = body.get(at..at + usize::from(sa_len)).unwrap_or(&[]);
        *slot = Some(parse_sockaddr(sa));
        at = end;
    }
    Ok(RtMsg { hdr, addrs })
}

impl RtMsg {
    /// The sockaddr at `RTAX_*` index `i`.
    pub fn addr(&self, i: usize) -> Option<&RtAddr> {
        self.addrs.get(i).and_then(Option::as_ref)
    }
}
