//! The few system calls nix has no safe wrapper for: the TUN ioctls
//! (TUNSETIFF, TUNSETCARRIER) and `IP_MTU_DISCOVER`/`IPV6_MTU_DISCOVER`.
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
