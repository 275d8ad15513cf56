//! FreeBSD's binary interface for what vtid does there, as plain data:
//! the `if_ipsec(4)` and interface-address ioctls (`struct ifreq`,
//! `struct in_aliasreq`, `struct in6_aliasreq`, BSD `sockaddr_in/in6` with
//! their `sin_len`), their request codes (`<sys/ioccom.h>` encoding), and
//! the socket options of the IKE sockets (`UDP_ENCAP`, `IP_IPSEC_POLICY`).
//!
//! Nothing here makes a system call, so it compiles (and is tested) on
//! Linux too: `pfkey/tests/freebsd_golden.rs` compares every size, offset,
//! request code and constant with the values FreeBSD's own headers give
//! (x86_64: FreeBSD and Linux share the LP64 SysV layout rules). The calls
//! themselves are in `crate::freebsd` (FreeBSD only).
#![forbid(unsafe_code)]

use std::io;
use std::mem::size_of;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `IFNAMSIZ`.
pub const IFNAMSIZ: usize = 16;

/// An interface name as the kernel takes it: NUL-padded to `IFNAMSIZ`.
pub type IfName = [u8; IFNAMSIZ];

/// `name` as an [`IfName`]; at most 15 bytes, no NUL.
pub fn if_name(name: &str) -> io::Result<IfName> {
    if name.is_empty() || name.len() >= IFNAMSIZ || name.as_bytes().contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("interface name {name:?}: 1 to 15 bytes without NUL"),
        ));
    }
    let mut n = [0u8; IFNAMSIZ];
    n[..name.len()].copy_from_slice(name.as_bytes());
    Ok(n)
}

/// The name in an [`IfName`] (up to its first NUL).
pub fn if_name_str(n: &IfName) -> String {
    let end = n.iter().position(|&b| b == 0).unwrap_or(IFNAMSIZ);
    String::from_utf8_lossy(&n[..end]).into_owned()
}

// ---------------------------------------------------------------------------
// <sys/sys/ioccom.h>

/// `IOCPARM_MASK`: the parameter length field (13 bits).
pub const IOCPARM_MASK: u32 = 0x1fff;
/// `IOC_VOID`: no parameters.
pub const IOC_VOID: u32 = 0x2000_0000;
/// `IOC_OUT`: copy the parameter out of the kernel.
pub const IOC_OUT: u32 = 0x4000_0000;
/// `IOC_IN`: copy the parameter into the kernel.
pub const IOC_IN: u32 = 0x8000_0000;
/// `IOC_INOUT`.
pub const IOC_INOUT: u32 = IOC_IN | IOC_OUT;

/// `_IOC(inout, group, num, len)` as FreeBSD encodes it (an `unsigned
/// long` request; the length is masked to 13 bits as the macro does).
pub const fn ioc(inout: u32, group: u8, num: u8, len: usize) -> u64 {
    (inout | (((len as u32) & IOCPARM_MASK) << 16) | ((group as u32) << 8) | num as u32) as u64
}

/// `_IOW(group, num, type)`.
pub const fn iow(group: u8, num: u8, len: usize) -> u64 {
    ioc(IOC_IN, group, num, len)
}

/// `_IOWR(group, num, type)`.
pub const fn iowr(group: u8, num: u8, len: usize) -> u64 {
    ioc(IOC_INOUT, group, num, len)
}

/// `IOCPARM_LEN(request)`: the parameter size a request code says the
/// kernel copies.
pub const fn ioc_len(request: u64) -> usize {
    ((request as u32 >> 16) & IOCPARM_MASK) as usize
}

// ---------------------------------------------------------------------------
// Structures

/// `struct ifreq` (32 bytes): the name, then a 16-byte union (`ifr_data`
/// pointer, `ifr_mtu`, `ifr_flags`/`ifr_flagshigh`, ...), 8-aligned as the
/// union's pointer member makes it.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IfReq {
    /// `ifr_name`.
    pub name: IfName,
    /// `ifr_ifru`.
    pub ifru: [u64; 2],
}

impl IfReq {
    /// A request naming `name`, union zeroed.
    pub fn new(name: IfName) -> IfReq {
        IfReq { name, ifru: [0; 2] }
    }

    /// The union's first `int` (`ifr_mtu`, `ifr_metric`, ...).
    pub fn int(&self) -> i32 {
        let b = self.ifru[0].to_ne_bytes();
        i32::from_ne_bytes([b[0], b[1], b[2], b[3]])
    }

    /// Sets the union's first `int`.
    pub fn set_int(&mut self, v: i32) {
        let mut b = self.ifru[0].to_ne_bytes();
        b[..4].copy_from_slice(&v.to_ne_bytes());
        self.ifru[0] = u64::from_ne_bytes(b);
    }

    /// `ifr_flags | ifr_flagshigh << 16` (two `short`s at the union's
    /// start, as `ifconfig` combines them).
    pub fn flags(&self) -> u32 {
        let b = self.ifru[0].to_ne_bytes();
        let lo = u16::from_ne_bytes([b[0], b[1]]);
        let hi = u16::from_ne_bytes([b[2], b[3]]);
        u32::from(lo) | (u32::from(hi) << 16)
    }

    /// Sets `ifr_flags` and `ifr_flagshigh`.
    pub fn set_flags(&mut self, f: u32) {
        let mut b = self.ifru[0].to_ne_bytes();
        b[..2].copy_from_slice(&(f as u16).to_ne_bytes());
        b[2..4].copy_from_slice(&((f >> 16) as u16).to_ne_bytes());
        self.ifru[0] = u64::from_ne_bytes(b);
    }
}

/// `AF_INET`.
pub const AF_INET: u8 = 2;
/// FreeBSD's `AF_INET6` (28; Linux's is 10).
pub const AF_INET6: u8 = 28;
/// FreeBSD's `PF_KEY` (`pseudo_AF_KEY`).
pub const PF_KEY: i32 = 27;

/// `struct sockaddr_in` with the BSD `sin_len` byte (16 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SockaddrIn {
    /// `sin_len` (16).
    pub len: u8,
    /// `sin_family` (`AF_INET`).
    pub family: u8,
    /// `sin_port`, network order.
    pub port: [u8; 2],
    /// `sin_addr`, network order.
    pub addr: [u8; 4],
    /// `sin_zero`.
    pub zero: [u8; 8],
}

impl SockaddrIn {
    /// The address `a`, port 0.
    pub fn new(a: Ipv4Addr) -> SockaddrIn {
        SockaddrIn {
            len: size_of::<SockaddrIn>() as u8,
            family: AF_INET,
            port: [0; 2],
            addr: a.octets(),
            zero: [0; 8],
        }
    }

    /// A netmask of `prefix` bits (`sin_len` set, family as `ifconfig`
    /// leaves it for masks: `AF_INET`).
    pub fn mask(prefix: u8) -> SockaddrIn {
        let bits = u32::MAX
            .checked_shl(32 - u32::from(prefix.min(32)))
            .unwrap_or(0);
        SockaddrIn::new(Ipv4Addr::from(bits))
    }
}

/// `struct sockaddr_in6` with the BSD `sin6_len` byte (28 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SockaddrIn6 {
    /// `sin6_len` (28).
    pub len: u8,
    /// `sin6_family` (FreeBSD `AF_INET6` = 28).
    pub family: u8,
    /// `sin6_port`, network order.
    pub port: [u8; 2],
    /// `sin6_flowinfo`.
    pub flowinfo: u32,
    /// `sin6_addr`.
    pub addr: [u8; 16],
    /// `sin6_scope_id`.
    pub scope_id: u32,
}

impl SockaddrIn6 {
    /// The address `a`, port 0.
    pub fn new(a: Ipv6Addr) -> SockaddrIn6 {
        SockaddrIn6 {
            len: size_of::<SockaddrIn6>() as u8,
            family: AF_INET6,
            port: [0; 2],
            flowinfo: 0,
            addr: a.octets(),
            scope_id: 0,
        }
    }

    /// A prefix mask of `prefix` bits.
    pub fn mask(prefix: u8) -> SockaddrIn6 {
        let bits = u128::MAX
            .checked_shl(128 - u32::from(prefix.min(128)))
            .unwrap_or(0);
        SockaddrIn6::new(Ipv6Addr::from(bits))
    }
}

/// `struct in_aliasreq` (`<netinet/in_var.h>`): `SIOCAIFADDR` and
/// `SIOCSIFPHYADDR` (tunnel endpoints: `addr` = local, `dstaddr` = remote).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InAliasReq {
    /// `ifra_name`.
    pub name: IfName,
    /// `ifra_addr`.
    pub addr: SockaddrIn,
    /// `ifra_dstaddr` (= `ifra_broadaddr`).
    pub dstaddr: SockaddrIn,
    /// `ifra_mask`.
    pub mask: SockaddrIn,
    /// `ifra_vhid` (CARP; 0).
    pub vhid: i32,
}

/// `struct in6_addrlifetime` (`<netinet6/in6_var.h>`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct In6AddrLifetime {
    /// `ia6t_expire` (`time_t`).
    pub expire: i64,
    /// `ia6t_preferred` (`time_t`).
    pub preferred: i64,
    /// `ia6t_vltime`: valid lifetime, seconds.
    pub vltime: u32,
    /// `ia6t_pltime`: preferred lifetime, seconds.
    pub pltime: u32,
}

/// `ND6_INFINITE_LIFETIME`: what `ifconfig` gives a manual address.
pub const ND6_INFINITE_LIFETIME: u32 = 0xffff_ffff;

/// `struct in6_aliasreq` (`<netinet6/in6_var.h>`): `SIOCAIFADDR_IN6` and
/// `SIOCSIFPHYADDR_IN6` (tunnel endpoints: `addr` = local, `dstaddr` =
/// remote).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct In6AliasReq {
    /// `ifra_name`.
    pub name: IfName,
    /// `ifra_addr`.
    pub addr: SockaddrIn6,
    /// `ifra_dstaddr`.
    pub dstaddr: SockaddrIn6,
    /// `ifra_prefixmask`.
    pub prefixmask: SockaddrIn6,
    /// `ifra_flags` (`IN6_IFF_*`).
    pub flags: i32,
    /// `ifra_lifetime`.
    pub lifetime: In6AddrLifetime,
    /// `ifra_vhid` (CARP; 0).
    pub vhid: i32,
}

impl InAliasReq {
    /// `SIOCSIFPHYADDR`'s argument: tunnel `local → remote` (what
    /// `ifconfig NAME tunnel LOCAL REMOTE` sends; the mask stays zero).
    pub fn tunnel(name: IfName, local: Ipv4Addr, remote: Ipv4Addr) -> InAliasReq {
        InAliasReq {
            name,
            addr: SockaddrIn::new(local),
            dstaddr: SockaddrIn::new(remote),
            mask: SockaddrIn::default(),
            vhid: 0,
        }
    }

    /// `SIOCAIFADDR`'s argument: address `addr/prefix`, with the
    /// point-to-point peer `dst` if given.
    pub fn address(name: IfName, addr: Ipv4Addr, prefix: u8, dst: Option<Ipv4Addr>) -> InAliasReq {
        InAliasReq {
            name,
            addr: SockaddrIn::new(addr),
            dstaddr: dst.map(SockaddrIn::new).unwrap_or_default(),
            mask: SockaddrIn::mask(prefix),
            vhid: 0,
        }
    }
}

impl In6AliasReq {
    /// `SIOCSIFPHYADDR_IN6`'s argument: tunnel `local → remote`.
    pub fn tunnel(name: IfName, local: Ipv6Addr, remote: Ipv6Addr) -> In6AliasReq {
        In6AliasReq {
            name,
            addr: SockaddrIn6::new(local),
            dstaddr: SockaddrIn6::new(remote),
            prefixmask: SockaddrIn6::default(),
            flags: 0,
            lifetime: In6AddrLifetime::default(),
            vhid: 0,
        }
    }

    /// `SIOCAIFADDR_IN6`'s argument: address `addr/prefix`, with the
    /// point-to-point peer `dst` if given, infinite lifetimes (as `ifconfig`
    /// sets them).
    pub fn address(name: IfName, addr: Ipv6Addr, prefix: u8, dst: Option<Ipv6Addr>) -> In6AliasReq {
        In6AliasReq {
            name,
            addr: SockaddrIn6::new(addr),
            dstaddr: dst.map(SockaddrIn6::new).unwrap_or_default(),
            prefixmask: SockaddrIn6::mask(prefix),
            flags: 0,
            lifetime: In6AddrLifetime {
                expire: 0,
                preferred: 0,
                vltime: ND6_INFINITE_LIFETIME,
                pltime: ND6_INFINITE_LIFETIME,
            },
            vhid: 0,
        }
    }
}

/// The tunnel-endpoint request for `local → remote`, by family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PhyAddr {
    /// `SIOCSIFPHYADDR` with an `in_aliasreq`.
    V4(InAliasReq),
    /// `SIOCSIFPHYADDR_IN6` with an `in6_aliasreq`.
    V6(In6AliasReq),
}

impl PhyAddr {
    /// The request for tunnel `local → remote`; both of one family.
    pub fn new(name: IfName, local: IpAddr, remote: IpAddr) -> io::Result<PhyAddr> {
        match (local, remote) {
            (IpAddr::V4(l), IpAddr::V4(r)) => Ok(PhyAddr::V4(InAliasReq::tunnel(name, l, r))),
            (IpAddr::V6(l), IpAddr::V6(r)) => Ok(PhyAddr::V6(In6AliasReq::tunnel(name, l, r))),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("tunnel endpoints of different families: {local} -> {remote}"),
            )),
        }
    }
}

// ---------------------------------------------------------------------------
// Request codes (<sys/sockio.h>, <net/if_ipsec.h>, <netinet6/in6_var.h>)

const IFREQ: usize = size_of::<IfReq>();
const IN_ALIASREQ: usize = size_of::<InAliasReq>();
const IN6_ALIASREQ: usize = size_of::<In6AliasReq>();

/// `SIOCSIFFLAGS` = `_IOW('i', 16, struct ifreq)`.
pub const SIOCSIFFLAGS: u64 = iow(b'i', 16, IFREQ);
/// `SIOCGIFFLAGS` = `_IOWR('i', 17, struct ifreq)`.
pub const SIOCGIFFLAGS: u64 = iowr(b'i', 17, IFREQ);
/// `SIOCAIFADDR_IN6` = `_IOW('i', 27, struct in6_aliasreq)`.
pub const SIOCAIFADDR_IN6: u64 = iow(b'i', 27, IN6_ALIASREQ);
/// `SIOCAIFADDR` = `_IOW('i', 43, struct in_aliasreq)`.
pub const SIOCAIFADDR: u64 = iow(b'i', 43, IN_ALIASREQ);
/// `SIOCSIFMTU` = `_IOW('i', 52, struct ifreq)`.
pub const SIOCSIFMTU: u64 = iow(b'i', 52, IFREQ);
/// `SIOCSIFPHYADDR` = `_IOW('i', 70, struct in_aliasreq)`.
pub const SIOCSIFPHYADDR: u64 = iow(b'i', 70, IN_ALIASREQ);
/// `SIOCSIFPHYADDR_IN6` = `_IOW('i', 70, struct in6_aliasreq)`.
pub const SIOCSIFPHYADDR_IN6: u64 = iow(b'i', 70, IN6_ALIASREQ);
/// `SIOCIFDESTROY` = `_IOW('i', 121, struct ifreq)`.
pub const SIOCIFDESTROY: u64 = iow(b'i', 121, IFREQ);
/// `SIOCIFCREATE2` = `_IOWR('i', 124, struct ifreq)`.
pub const SIOCIFCREATE2: u64 = iowr(b'i', 124, IFREQ);
/// `IPSECGREQID` = `_IOWR('i', 160, struct ifreq)` (`ifr_data` points at
/// a `uint32_t`).
pub const IPSECGREQID: u64 = iowr(b'i', 160, IFREQ);
/// `IPSECSREQID` = `_IOW('i', 161, struct ifreq)`.
pub const IPSECSREQID: u64 = iow(b'i', 161, IFREQ);

/// `IFF_UP`.
pub const IFF_UP: u32 = 0x1;

// ---------------------------------------------------------------------------
// Socket options of the IKE sockets

/// `IPPROTO_IP`.
pub const IPPROTO_IP: i32 = 0;
/// `IPPROTO_UDP`.
pub const IPPROTO_UDP: i32 = 17;
/// `IPPROTO_IPV6`.
pub const IPPROTO_IPV6: i32 = 41;
/// `UDP_ENCAP` (`<netinet/udp.h>`): the UDP socket option that makes the
/// kernel take ESP-in-UDP (RFC 3948) arriving on the socket.
pub const UDP_ENCAP: i32 = 1;
/// `UDP_ENCAP_ESPINUDP`, its value for RFC 3948 (non-IKE marker).
pub const UDP_ENCAP_ESPINUDP: i32 = 2;
/// `IP_IPSEC_POLICY` (`<netinet/in.h>`).
pub const IP_IPSEC_POLICY: i32 = 21;
/// `IPV6_IPSEC_POLICY` (`<netinet6/in6.h>`).
pub const IPV6_IPSEC_POLICY: i32 = 28;

/// The `struct sadb_x_policy` a socket's `IP_IPSEC_POLICY` /
/// `IPV6_IPSEC_POLICY` takes to bypass IPsec in direction `dir`
/// (`IPSEC_DIR_INBOUND`/`OUTBOUND`): what `ipsec_set_policy("in bypass")`
/// builds and what strongSwan's kernel-pfkey sets on its IKE sockets, so
/// IKE is never caught by a policy-based child's SPD entry.
pub fn bypass_policy(dir: u8) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[0..2].copy_from_slice(&2u16.to_ne_bytes()); // sadb_x_policy_len: 2 x 64 bits
    b[2..4].copy_from_slice(&crate::pfkey::ext::X_POLICY.to_ne_bytes());
    b[4..6].copy_from_slice(&crate::pfkey::ipsec_policy::BYPASS.to_ne_bytes());
    b[6] = dir;
    b
}
