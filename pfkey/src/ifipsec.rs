//! FreeBSD `if_ipsec(4)` interfaces: the equivalent of
//! `ifconfig ipsecN create reqid R tunnel LOCAL REMOTE` and `destroy`.
//!
//! NOT compiled on this project's Linux CI: written from FreeBSD's
//! `sbin/ifconfig/ifipsec.c` (IPSECSREQID/IPSECGREQID with `ifr_data`
//! pointing at a `uint32_t`), `sys/net/if_ipsec.h`, `sys/sys/sockio.h`
//! (`SIOCIFCREATE2`, `SIOCIFDESTROY`, `SIOCSIFPHYADDR`) and `net/if.h`.
//! Not yet verified against a FreeBSD kernel. IPv4 tunnel endpoints only
//! (IPv6 needs `SIOCSIFPHYADDR_IN6` with `struct in6_aliasreq`: not done).
#![forbid(unsafe_code)]

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, OwnedFd};

use nix::libc;

use crate::sys::freebsd::{self as sys, IfReq, InAliasReq, SockaddrIn};

fn name16(name: &str) -> io::Result<[u8; 16]> {
    if name.len() > 15 || name.as_bytes().contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "interface name",
        ));
    }
    let mut n = [0u8; 16];
    n[..name.len()].copy_from_slice(name.as_bytes());
    Ok(n)
}

fn ctl_socket() -> io::Result<OwnedFd> {
    crate::sys::socket(libc::AF_INET, libc::SOCK_DGRAM, 0)
}

fn sin(a: Ipv4Addr) -> SockaddrIn {
    SockaddrIn {
        len: 16,
        family: libc::AF_INET as u8,
        port: 0,
        addr: a.octets(),
        zero: [0; 8],
    }
}

/// Creates an `if_ipsec` interface (`name` like `ipsec0`, or `ipsec` for the
/// next free unit), sets its reqid and IPv4 tunnel endpoints; returns the
/// name the kernel chose.
pub fn create(name: &str, reqid: u32, local: Ipv4Addr, remote: Ipv4Addr) -> io::Result<String> {
    let s = ctl_socket()?;
    let mut req = IfReq {
        name: name16(name)?,
        data: std::ptr::null_mut(),
        _pad: [0; 16 - std::mem::size_of::<usize>()],
    };
    sys::if_create2(s.as_fd(), &mut req)?;
    let end = req.name.iter().position(|&b| b == 0).unwrap_or(16);
    let created = String::from_utf8_lossy(&req.name[..end]).into_owned();
    let result = configure(&s, req.name, reqid, local, remote);
    if let Err(e) = result {
        let _ = destroy(&created);
        return Err(e);
    }
    Ok(created)
}

fn configure(
    s: &OwnedFd,
    name: [u8; 16],
    reqid: u32,
    local: Ipv4Addr,
    remote: Ipv4Addr,
) -> io::Result<()> {
    sys::set_reqid(s.as_fd(), name, reqid)?;
    set_phyaddr(s, name, local, remote)
}

fn set_phyaddr(s: &OwnedFd, name: [u8; 16], local: Ipv4Addr, remote: Ipv4Addr) -> io::Result<()> {
    let mut ar = InAliasReq {
        name,
        addr: sin(local),
        dstaddr: sin(remote),
        mask: SockaddrIn {
            len: 0,
            family: 0,
            port: 0,
            addr: [0; 4],
            zero: [0; 8],
        },
        vhid: 0,
    };
    sys::set_phyaddr(s.as_fd(), &mut ar)
}

/// Re-sets the IPv4 tunnel endpoints of an existing interface (`ifconfig
/// ipsecN tunnel LOCAL REMOTE`): `if_ipsec` uses only SAs between its
/// endpoints, so a moved peer needs this before its new SAs.
pub fn set_tunnel(name: &str, local: Ipv4Addr, remote: Ipv4Addr) -> io::Result<()> {
    let s = ctl_socket()?;
    set_phyaddr(&s, name16(name)?, local, remote)
}

/// The reqid of an `if_ipsec` interface.
pub fn reqid(name: &str) -> io::Result<u32> {
    let s = ctl_socket()?;
    sys::get_reqid(s.as_fd(), name16(name)?)
}

/// Destroys an interface.
pub fn destroy(name: &str) -> io::Result<()> {
    let s = ctl_socket()?;
    let mut req = IfReq {
        name: name16(name)?,
        data: std::ptr::null_mut(),
        _pad: [0; 16 - std::mem::size_of::<usize>()],
    };
    sys::if_destroy(s.as_fd(), &mut req)
}
