//! The few system calls nix has no safe wrapper for: the TUN ioctls
//! (TUNSETIFF, TUNSETCARRIER), `IP_MTU_DISCOVER`/`IPV6_MTU_DISCOVER`,
//! `recvmmsg`/`sendmmsg` with per-message control data, and the raw ESP
//! sockets' SPI filter.
//! Everything unsafe in the crate is in this module.
#![allow(unsafe_code)]

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

use nix::libc;

/// `IFF_TUN` from `<linux/if_tun.h>`: IP packets, no Ethernet header.
const IFF_TUN: libc::c_short = 0x0001;
/// `IFF_NO_PI`: no 4-byte packet-information prefix.
const IFF_NO_PI: libc::c_short = 0x1000;
/// `IFF_VNET_HDR`: every packet is preceded by a `struct virtio_net_hdr`
/// (GSO and checksum offload metadata).
const IFF_VNET_HDR: libc::c_short = 0x4000;

/// `TUN_F_*` offload flags of `TUNSETOFFLOAD` (`<linux/if_tun.h>`): what
/// the kernel may hand to userspace un-segmented / without checksum.
pub(crate) const TUN_F_CSUM: libc::c_uint = 0x01;
/// TCP over IPv4 segmentation offload.
pub(crate) const TUN_F_TSO4: libc::c_uint = 0x02;
/// TCP over IPv6 segmentation offload.
pub(crate) const TUN_F_TSO6: libc::c_uint = 0x04;
/// UDP over IPv4 segmentation offload (Linux 6.2+).
pub(crate) const TUN_F_USO4: libc::c_uint = 0x20;
/// UDP over IPv6 segmentation offload (Linux 6.2+).
pub(crate) const TUN_F_USO6: libc::c_uint = 0x40;

// _IOW('T', 202, int) and _IOW('T', 226, int) in <linux/if_tun.h>. Both take
// a pointer although declared with `int` size.
nix::ioctl_write_ptr_bad!(
    tunsetiff,
    nix::request_code_write!(b'T', 202, std::mem::size_of::<libc::c_int>()),
    libc::ifreq
);
// _IOW('T', 208, unsigned int): the flags are passed by value.
nix::ioctl_write_int_bad!(
    tunsetoffload,
    nix::request_code_write!(b'T', 208, std::mem::size_of::<libc::c_uint>())
);
nix::ioctl_write_ptr_bad!(
    tunsetcarrier,
    nix::request_code_write!(b'T', 226, std::mem::size_of::<libc::c_int>()),
    libc::c_int
);

/// Open `/dev/net/tun` and attach it to the TUN device `name` (IFF_TUN |
/// IFF_NO_PI), creating the device if it does not exist. The device is
/// created in the network namespace of the calling thread and is not
/// persistent: it goes away when the returned file is closed, unless it
/// existed before (an adopted, persistent device).
///
/// With `vnet_hdr`, every read and write carries a 10-byte
/// `struct virtio_net_hdr` in front of the packet (IFF_VNET_HDR; the
/// default header size, `sizeof(struct virtio_net_hdr)`); offloads are
/// then switched on with [`set_offload`].
pub(crate) fn open_tun(name: &str, vnet_hdr: bool) -> io::Result<File> {
    if name.is_empty() || name.len() >= libc::IFNAMSIZ {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("bad interface name {name:?}"),
        ));
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")?;
    // SAFETY: `ifreq` is plain old data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    req.ifr_ifru.ifru_flags = IFF_TUN | IFF_NO_PI | if vnet_hdr { IFF_VNET_HDR } else { 0 };
    // SAFETY: the fd is an open /dev/net/tun; `req` is a valid, initialised
    // ifreq that outlives the call; TUNSETIFF only reads it (and writes
    // the final name back into it).
    unsafe { tunsetiff(file.as_raw_fd(), &req) }.map_err(io::Error::from)?;
    Ok(file)
}

/// Tell the kernel which offloads this TUN's reader handles
/// (TUNSETOFFLOAD with `TUN_F_*` flags): with TSO the kernel hands over
/// TCP packets of up to 64 KiB with a partial checksum and the segment
/// size in the virtio_net_hdr instead of one packet per MTU.
pub(crate) fn set_offload(tun: BorrowedFd<'_>, flags: libc::c_uint) -> io::Result<()> {
    // SAFETY: `tun` is an attached TUN fd; TUNSETOFFLOAD takes its
    // argument by value and touches no user memory.
    unsafe { tunsetoffload(tun.as_raw_fd(), flags as libc::c_int) }
        .map(drop)
        .map_err(io::Error::from)
}

/// Set or clear the carrier of the TUN device `tun` is attached to
/// (TUNSETCARRIER, Linux 4.19+).
pub(crate) fn set_carrier(tun: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    let v: libc::c_int = on.into();
    // SAFETY: `tun` is an attached TUN fd; the ioctl reads one int through
    // the pointer, which is valid for the duration of the call.
    unsafe { tunsetcarrier(tun.as_raw_fd(), &v) }
        .map(drop)
        .map_err(io::Error::from)
}

/// `IP_MTU_DISCOVER = IP_PMTUDISC_DONT` (and the IPv6 equivalent): the
/// kernel neither sets DF nor refuses datagrams larger than the path MTU;
/// it fragments them (RFC 4459 "fragment after encapsulation").
pub(crate) fn set_pmtudisc_dont(sock: BorrowedFd<'_>, v6: bool) -> io::Result<()> {
    let (level, name, value) = if v6 {
        (
            libc::IPPROTO_IPV6,
            libc::IPV6_MTU_DISCOVER,
            libc::IPV6_PMTUDISC_DONT,
        )
    } else {
        (
            libc::IPPROTO_IP,
            libc::IP_MTU_DISCOVER,
            libc::IP_PMTUDISC_DONT,
        )
    };
    // SAFETY: a plain setsockopt with a pointer to an int that lives for the
    // call and its correct length.
    let r = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// A raw socket for IP protocol 50 (ESP) of one family. IPv4 raw sockets
/// receive the IP header in front of the ESP packet, IPv6 ones do not; both
/// send the ESP packet alone (the kernel adds the IP header).
pub(crate) fn raw_esp_socket(v6: bool) -> io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    let family = if v6 { libc::AF_INET6 } else { libc::AF_INET };
    // SAFETY: socket(2) with constant arguments; it returns a new fd or -1.
    let fd = unsafe {
        libc::socket(
            family,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::IPPROTO_ESP,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by socket(2) and is owned by nobody
    // else.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

/// The path MTU of a connected IPv6 socket (`IPV6_MTU`; nix only has the
/// IPv4 `IP_MTU`).
pub(crate) fn ipv6_path_mtu(sock: BorrowedFd<'_>) -> io::Result<u32> {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `v`, both valid for
    // the call.
    let r = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_IPV6,
            libc::IPV6_MTU,
            (&mut v as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if r == 0 {
        Ok(v.max(0) as u32)
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Room for the control messages of one received datagram, in 8-byte
/// words (cmsg buffers must be aligned like `size_t`): IP(V6)_PKTINFO,
/// UDP_GRO and SO_RXQ_OVFL need about 80 bytes.
const RECV_CONTROL_WORDS: usize = 32;
/// Most datagrams per `recvmmsg` call.
pub(crate) const RECV_MAX: usize = 64;

/// Reusable `recvmmsg(2)` state: a source address and control buffer per
/// slot, allocated once. Every call re-arms every header (the kernel
/// overwrites `msg_namelen` and `msg_controllen` with what it used, so a
/// reused header would truncate the next datagram's control messages).
pub(crate) struct RecvMmsg {
    names: Box<[libc::sockaddr_storage]>,
    control: Box<[[u64; RECV_CONTROL_WORDS]]>,
    /// (bytes, control bytes) per received slot.
    got: Box<[(usize, usize)]>,
}

impl RecvMmsg {
    /// State for up to `n` ([`RECV_MAX`] at most) datagrams per call.
    pub(crate) fn new(n: usize) -> RecvMmsg {
        let n = n.clamp(1, RECV_MAX);
        // SAFETY: sockaddr_storage is plain old data; all-zero is valid.
        let zero: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        RecvMmsg {
            names: vec![zero; n].into_boxed_slice(),
            control: vec![[0u64; RECV_CONTROL_WORDS]; n].into_boxed_slice(),
            got: vec![(0, 0); n].into_boxed_slice(),
        }
    }

    /// Receive what is queued on `fd` without blocking, one datagram per
    /// buffer of `bufs` (at most as many as slots). Returns how many.
    pub(crate) fn recv(&mut self, fd: BorrowedFd<'_>, bufs: &mut [Vec<u8>]) -> io::Result<usize> {
        let n = bufs.len().min(self.names.len());
        // SAFETY: iovec and mmsghdr are plain old data; all-zero is valid.
        let mut iov: [libc::iovec; RECV_MAX] = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let mut hdrs: [libc::mmsghdr; RECV_MAX] = unsafe { std::mem::zeroed() };
        for i in 0..n {
            iov[i] = libc::iovec {
                iov_base: bufs[i].as_mut_ptr().cast(),
                iov_len: bufs[i].len(),
            };
            let h = &mut hdrs[i].msg_hdr;
            h.msg_name = (&mut self.names[i] as *mut libc::sockaddr_storage).cast();
            h.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            h.msg_iov = &mut iov[i];
            h.msg_iovlen = 1;
            h.msg_control = self.control[i].as_mut_ptr().cast();
            h.msg_controllen = RECV_CONTROL_WORDS * 8;
        }
        // SAFETY: the first `n` headers point at buffers (datagram, name,
        // control) that are valid and exclusively borrowed for the call,
        // with their true lengths; the kernel writes only within them.
        let r = unsafe {
            libc::recvmmsg(
                fd.as_raw_fd(),
                hdrs.as_mut_ptr(),
                n as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        let r = r as usize;
        for (g, h) in self.got.iter_mut().zip(&hdrs[..r]) {
            *g = (
                h.msg_len as usize,
                h.msg_hdr.msg_controllen.min(RECV_CONTROL_WORDS * 8),
            );
        }
        Ok(r)
    }

    /// Bytes of datagram `i` of the last call.
    pub(crate) fn len(&self, i: usize) -> usize {
        self.got.get(i).map_or(0, |g| g.0)
    }

    /// The sender of datagram `i` of the last call.
    pub(crate) fn from(&self, i: usize) -> Option<std::net::SocketAddr> {
        use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
        let s = self.names.get(i)?;
        match libc::c_int::from(s.ss_family) {
            libc::AF_INET => {
                // SAFETY: the kernel wrote a sockaddr_in (family AF_INET);
                // sockaddr_storage is large and aligned enough for it.
                let a =
                    unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
                Some(
                    SocketAddrV4::new(
                        Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)),
                        u16::from_be(a.sin_port),
                    )
                    .into(),
                )
            }
            libc::AF_INET6 => {
                // SAFETY: as above, a sockaddr_in6.
                let a =
                    unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
                Some(
                    SocketAddrV6::new(
                        Ipv6Addr::from(a.sin6_addr.s6_addr),
                        u16::from_be(a.sin6_port),
                        a.sin6_flowinfo,
                        a.sin6_scope_id,
                    )
                    .into(),
                )
            }
            _ => None,
        }
    }

    /// The control-message bytes of datagram `i` of the last call (parse
    /// them with [`control_messages`]).
    pub(crate) fn control(&self, i: usize) -> &[u8] {
        let (Some(c), Some(g)) = (self.control.get(i), self.got.get(i)) else {
            return &[];
        };
        // SAFETY: viewing an initialised [u64] as bytes: same memory, u8
        // has no alignment or validity requirements; the length is
        // within the array.
        let bytes =
            unsafe { std::slice::from_raw_parts(c.as_ptr().cast::<u8>(), RECV_CONTROL_WORDS * 8) };
        &bytes[..g.1]
    }
}

/// The control messages in `buf` as (level, type, data), walking the
/// `struct cmsghdr` chain as CMSG_FIRSTHDR/CMSG_NXTHDR do (RFC 3542 §20:
/// `size_t cmsg_len; int cmsg_level; int cmsg_type;` then the data, each
/// message aligned to `size_t`). Stops at anything malformed.
pub(crate) fn control_messages(buf: &[u8]) -> impl Iterator<Item = (i32, i32, &[u8])> {
    const HDR: usize = std::mem::size_of::<libc::size_t>() + 8;
    const ALIGN: usize = std::mem::size_of::<libc::size_t>();
    let mut off = 0usize;
    std::iter::from_fn(move || {
        let h = buf.get(off..off.checked_add(HDR)?)?;
        let (len_b, rest) = h.split_at(ALIGN);
        let len = usize::from_ne_bytes(len_b.try_into().ok()?);
        let level = i32::from_ne_bytes(rest[0..4].try_into().ok()?);
        let ty = i32::from_ne_bytes(rest[4..8].try_into().ok()?);
        if len < HDR {
            return None;
        }
        let data = buf.get(off + HDR..off.checked_add(len)?)?;
        off = off.checked_add(len.checked_add(ALIGN - 1)? & !(ALIGN - 1))?;
        Some((level, ty, data))
    })
}

/// Room for the control messages of one sent message, in 8-byte words:
/// IP_PKTINFO or IPV6_PKTINFO (32 bytes with its header) and UDP_SEGMENT
/// (24).
const SEND_CONTROL_WORDS: usize = 8;
/// Most messages per `sendmmsg` call (Linux's UIO_MAXIOV bounds a call at
/// 1024; a drain round has fewer).
pub(crate) const SEND_MAX: usize = 256;

/// One message of a [`SendMmsg::send`] call: the packets
/// `iov[first..first + count]` (one UDP_SEGMENT train, or one datagram) to
/// `to`, from our address `from` (IP_PKTINFO / IPV6_PKTINFO, RFC 3542
/// §6.1) when given, with a UDP_SEGMENT size when given.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OutMsg {
    pub first: usize,
    pub count: usize,
    pub to: std::net::SocketAddr,
    pub from: Option<std::net::IpAddr>,
    pub gso: Option<u16>,
}

/// Reusable `sendmmsg(2)` state: a destination and control buffer per
/// message, allocated once.
pub(crate) struct SendMmsg {
    names: Box<[libc::sockaddr_storage]>,
    control: Box<[[u64; SEND_CONTROL_WORDS]]>,
    hdrs: Box<[libc::mmsghdr]>,
}

// SAFETY: the raw pointers inside `hdrs` are scratch, rewritten before each
// call and never dereferenced outside `send`.
unsafe impl Send for SendMmsg {}

impl SendMmsg {
    /// State for up to [`SEND_MAX`] messages per call.
    pub(crate) fn new() -> SendMmsg {
        // SAFETY: sockaddr_storage and mmsghdr are plain old data; all-zero
        // is valid for both.
        let zero: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let zh: libc::mmsghdr = unsafe { std::mem::zeroed() };
        SendMmsg {
            names: vec![zero; SEND_MAX].into_boxed_slice(),
            control: vec![[0u64; SEND_CONTROL_WORDS]; SEND_MAX].into_boxed_slice(),
            hdrs: vec![zh; SEND_MAX].into_boxed_slice(),
        }
    }

    /// Sends `msgs` (at most [`SEND_MAX`]; the rest is ignored) in one
    /// `sendmmsg` on `fd`, whose packets are slices of `iov`. Returns how
    /// many messages the kernel took, from the first: fewer than asked
    /// means the next one failed (call again from there to learn why or
    /// skip it). A message with no packets or packets outside `iov` fails
    /// the call with `InvalidInput` before anything is sent.
    pub(crate) fn send(
        &mut self,
        fd: BorrowedFd<'_>,
        iov: &[io::IoSlice<'_>],
        msgs: &[OutMsg],
    ) -> io::Result<usize> {
        let n = msgs.len().min(SEND_MAX);
        for (i, m) in msgs[..n].iter().enumerate() {
            let end = m.first.checked_add(m.count).filter(|&e| e <= iov.len());
            if end.is_none() || m.count == 0 {
                return Err(io::Error::new(io::ErrorKind::InvalidInput, "bad message"));
            }
            let namelen = put_sockaddr(&mut self.names[i], m.to);
            let ctl = &mut self.control[i];
            let ctl_len = build_control(ctl, m.from, m.to.is_ipv6(), m.gso)?;
            let h = &mut self.hdrs[i].msg_hdr;
            h.msg_name = (&mut self.names[i] as *mut libc::sockaddr_storage).cast();
            h.msg_namelen = namelen;
            // IoSlice is ABI-compatible with iovec (std's documented
            // guarantee on Unix); the kernel only reads through msg_iov.
            h.msg_iov = iov[m.first..].as_ptr() as *mut libc::iovec;
            h.msg_iovlen = m.count;
            h.msg_control = if ctl_len == 0 {
                std::ptr::null_mut()
            } else {
                ctl.as_mut_ptr().cast()
            };
            h.msg_controllen = ctl_len;
            h.msg_flags = 0;
            self.hdrs[i].msg_len = 0;
        }
        if n == 0 {
            return Ok(0);
        }
        // SAFETY: the first `n` headers point at names, control buffers and
        // iovecs that are valid (checked bounds above) and live for the
        // call; the kernel writes only `msg_len` into the headers.
        let r = unsafe {
            libc::sendmmsg(
                fd.as_raw_fd(),
                self.hdrs.as_mut_ptr(),
                n as libc::c_uint,
                libc::MSG_DONTWAIT,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(r as usize)
    }
}

/// Writes `a` into `ss`; returns its length.
fn put_sockaddr(ss: &mut libc::sockaddr_storage, a: std::net::SocketAddr) -> libc::socklen_t {
    match a {
        std::net::SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(*a.ip()).to_be(),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for
            // sockaddr_in.
            unsafe {
                std::ptr::write(
                    (ss as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>(),
                    sin,
                )
            };
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t
        }
        std::net::SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: as above, for sockaddr_in6.
            unsafe {
                std::ptr::write(
                    (ss as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>(),
                    sin6,
                )
            };
            std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t
        }
    }
}

/// Appends one control message (`struct cmsghdr` then `data`, padded to
/// `size_t`; RFC 3542 §20) at byte `at` of `buf`; returns the next offset.
fn put_cmsg(buf: &mut [u8], at: usize, level: i32, ty: i32, data: &[u8]) -> io::Result<usize> {
    const HDR: usize = std::mem::size_of::<libc::cmsghdr>();
    const ALIGN: usize = std::mem::size_of::<libc::size_t>();
    let len = HDR + data.len();
    let space = (len + ALIGN - 1) & !(ALIGN - 1);
    let Some(dst) = buf.get_mut(at..at + space) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "control buffer too small",
        ));
    };
    dst.fill(0);
    dst[..ALIGN].copy_from_slice(&len.to_ne_bytes());
    dst[ALIGN..ALIGN + 4].copy_from_slice(&level.to_ne_bytes());
    dst[ALIGN + 4..ALIGN + 8].copy_from_slice(&ty.to_ne_bytes());
    dst[HDR..len].copy_from_slice(data);
    Ok(at + space)
}

/// The control messages of one sent message into `ctl`; returns their
/// length (0: none).
fn build_control(
    ctl: &mut [u64; SEND_CONTROL_WORDS],
    from: Option<std::net::IpAddr>,
    to_v6: bool,
    gso: Option<u16>,
) -> io::Result<usize> {
    let mut bytes = [0u8; SEND_CONTROL_WORDS * 8];
    let mut at = 0;
    match from {
        Some(std::net::IpAddr::V4(a)) if !to_v6 => {
            // struct in_pktinfo { int ipi_ifindex; in_addr ipi_spec_dst;
            // in_addr ipi_addr; }: the source goes in ipi_spec_dst.
            let mut d = [0u8; 12];
            d[4..8].copy_from_slice(&a.octets());
            at = put_cmsg(&mut bytes, at, libc::IPPROTO_IP, libc::IP_PKTINFO, &d)?;
        }
        Some(std::net::IpAddr::V6(a)) if to_v6 => {
            // struct in6_pktinfo { in6_addr ipi6_addr; int ipi6_ifindex; }
            let mut d = [0u8; 20];
            d[..16].copy_from_slice(&a.octets());
            at = put_cmsg(&mut bytes, at, libc::IPPROTO_IPV6, libc::IPV6_PKTINFO, &d)?;
        }
        _ => {}
    }
    if let Some(g) = gso {
        at = put_cmsg(
            &mut bytes,
            at,
            libc::SOL_UDP,
            libc::UDP_SEGMENT,
            &g.to_ne_bytes(),
        )?;
    }
    for (w, c) in ctl.iter_mut().zip(bytes.chunks_exact(8)) {
        *w = u64::from_ne_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
    }
    Ok(at)
}

/// Attach a classic BPF filter to raw ESP socket `fd` of an inbound
/// packet thread so that it receives only the ESP packets whose SPI
/// modulo `threads` is `thread` (SO_ATTACH_FILTER): every raw socket gets
/// a copy of every packet, so each of `threads` sockets takes its share
/// and the packets of one SA always reach the same thread, in order. An
/// IPv4 raw socket's filter sees the IP header first (the SPI is at IHL×4),
/// an IPv6 one's the ESP header (IPv6 raw sockets are given the transport
/// payload). A packet too short to hold an SPI is dropped by every filter.
pub(crate) fn attach_spi_filter(
    fd: BorrowedFd<'_>,
    v6: bool,
    thread: u32,
    threads: u32,
) -> io::Result<()> {
    const LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
    const LD_W_IND: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_IND) as u16;
    const LDX_B_MSH: u16 = (libc::BPF_LDX | libc::BPF_B | libc::BPF_MSH) as u16;
    const MOD_K: u16 = (libc::BPF_ALU | libc::BPF_MOD | libc::BPF_K) as u16;
    const JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
    const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
    let ins = |code: u16, jt: u8, jf: u8, k: u32| libc::sock_filter { code, jt, jf, k };
    let mut prog = Vec::with_capacity(6);
    if v6 {
        prog.push(ins(LD_W_ABS, 0, 0, 0)); // A = SPI
    } else {
        prog.push(ins(LDX_B_MSH, 0, 0, 0)); // X = 4 * (P[0] & 0xf)
        prog.push(ins(LD_W_IND, 0, 0, 0)); // A = P[X..X+4], the SPI
    }
    prog.push(ins(MOD_K, 0, 0, threads.max(1))); // A %= threads
    prog.push(ins(JEQ_K, 0, 1, thread)); // A == thread ?
    prog.push(ins(RET_K, 0, 0, u32::MAX)); //   take it whole
    prog.push(ins(RET_K, 0, 0, 0)); //   else not this socket's
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_mut_ptr(),
    };
    // SAFETY: a setsockopt with a valid sock_fprog whose program lives for
    // the call (the kernel copies it).
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            (&fprog as *const libc::sock_fprog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmsg(level: i32, ty: i32, data: &[u8]) -> Vec<u8> {
        let len = 16 + data.len();
        let mut v = Vec::new();
        v.extend_from_slice(&len.to_ne_bytes());
        v.extend_from_slice(&level.to_ne_bytes());
        v.extend_from_slice(&ty.to_ne_bytes());
        v.extend_from_slice(data);
        while v.len() % 8 != 0 {
            v.push(0);
        }
        v
    }

    /// Each of three raw ESP sockets with the SPI filter takes exactly the
    /// SPIs of its share, IPv4 and IPv6 (on loopback; as root), sent with
    /// one `sendmmsg` from a fourth.
    #[test]
    fn spi_filter_shares_spis_between_sockets() {
        use std::net::{IpAddr, SocketAddr};
        use std::os::fd::AsFd;
        for v6 in [false, true] {
            let rx: Vec<_> = (0..3)
                .map(|t| {
                    let fd = raw_esp_socket(v6).expect("raw ESP socket (root?)");
                    attach_spi_filter(fd.as_fd(), v6, t, 3).unwrap();
                    fd
                })
                .collect();
            let tx = raw_esp_socket(v6).unwrap();
            let to: IpAddr = if v6 { "::1" } else { "127.0.0.1" }.parse().unwrap();
            // SPIs unlikely to be anyone else's on loopback.
            let spis: Vec<u32> = (0..12).map(|i| 0x7e57_0000 + i).collect();
            let pkts: Vec<Vec<u8>> = spis
                .iter()
                .map(|s| [&s.to_be_bytes()[..], &[0, 0, 0, 1], &[0xaa; 24]].concat())
                .collect();
            let iov: Vec<io::IoSlice<'_>> = pkts.iter().map(|p| io::IoSlice::new(p)).collect();
            let msgs: Vec<OutMsg> = (0..pkts.len())
                .map(|i| OutMsg {
                    first: i,
                    count: 1,
                    to: SocketAddr::new(to, 0),
                    from: Some(to),
                    gso: None,
                })
                .collect();
            let mut mm = SendMmsg::new();
            assert_eq!(mm.send(tx.as_fd(), &iov, &msgs).unwrap(), 12);
            for (t, fd) in rx.iter().enumerate() {
                let mut got = Vec::new();
                let mut buf = [0u8; 256];
                let mut fds = [nix::poll::PollFd::new(
                    fd.as_fd(),
                    nix::poll::PollFlags::POLLIN,
                )];
                while nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(300u16)).unwrap_or(0)
                    > 0
                {
                    let Ok(n) = nix::sys::socket::recv(
                        fd.as_raw_fd(),
                        &mut buf,
                        nix::sys::socket::MsgFlags::MSG_DONTWAIT,
                    ) else {
                        break;
                    };
                    let off = if v6 { 0 } else { usize::from(buf[0] & 0xf) * 4 };
                    if n >= off + 4 {
                        let spi = u32::from_be_bytes(buf[off..off + 4].try_into().unwrap());
                        if spis.contains(&spi) {
                            got.push(spi);
                        }
                    }
                }
                let want: Vec<u32> = spis.iter().copied().filter(|s| s % 3 == t as u32).collect();
                assert_eq!(got, want, "v6 {v6} socket {t}");
            }
        }
    }

    #[test]
    fn control_for_pktinfo_and_segment_size() {
        let mut ctl = [0u64; SEND_CONTROL_WORDS];
        let n = build_control(
            &mut ctl,
            Some("192.0.2.9".parse().unwrap()),
            false,
            Some(1400),
        )
        .unwrap();
        let bytes: Vec<u8> = ctl.iter().flat_map(|w| w.to_ne_bytes()).collect();
        let got: Vec<_> = control_messages(&bytes[..n]).collect();
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].0, got[0].1), (libc::IPPROTO_IP, libc::IP_PKTINFO));
        assert_eq!(&got[0].2[4..8], &[192, 0, 2, 9], "ipi_spec_dst");
        assert_eq!((got[1].0, got[1].1), (libc::SOL_UDP, libc::UDP_SEGMENT));
        assert_eq!(got[1].2, 1400u16.to_ne_bytes());
        let n = build_control(&mut ctl, Some("2001:db8::9".parse().unwrap()), true, None).unwrap();
        let bytes: Vec<u8> = ctl.iter().flat_map(|w| w.to_ne_bytes()).collect();
        let got: Vec<_> = control_messages(&bytes[..n]).collect();
        assert_eq!(got.len(), 1);
        assert_eq!(
            (got[0].0, got[0].1),
            (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO)
        );
        assert_eq!(
            got[0].2[..16],
            "2001:db8::9"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets()
        );
        // A source of the other family than the destination is left out.
        assert_eq!(
            build_control(&mut ctl, Some("2001:db8::9".parse().unwrap()), false, None).unwrap(),
            0
        );
    }

    #[test]
    fn control_messages_walk_the_chain() {
        let mut buf = cmsg(libc::IPPROTO_IP, libc::IP_PKTINFO, &[1; 12]);
        buf.extend(cmsg(libc::SOL_UDP, libc::UDP_GRO, &1400i32.to_ne_bytes()));
        let got: Vec<_> = control_messages(&buf).collect();
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[0].0, got[0].1, got[0].2.len()),
            (libc::IPPROTO_IP, libc::IP_PKTINFO, 12)
        );
        assert_eq!((got[1].0, got[1].1), (libc::SOL_UDP, libc::UDP_GRO));
        assert_eq!(got[1].2, 1400i32.to_ne_bytes());
        // Truncated or lying lengths end the walk without a panic.
        assert_eq!(control_messages(&buf[..20]).count(), 0);
        let mut bad = buf.clone();
        bad[..8].copy_from_slice(&4usize.to_ne_bytes());
        assert_eq!(control_messages(&bad).count(), 0);
        bad[..8].copy_from_slice(&usize::MAX.to_ne_bytes());
        assert_eq!(control_messages(&bad).count(), 0);
    }
}
