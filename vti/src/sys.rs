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
