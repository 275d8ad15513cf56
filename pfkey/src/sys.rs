//! The crate's only `unsafe` code: raw `socket(2)` calls and, on FreeBSD, the
//! interface ioctls for `if_ipsec(4)`.
//!
//! Why not `nix`: `nix::sys::socket::socket` takes a closed `SockProtocol`
//! enum that has no `NETLINK_XFRM` (6) and no `PF_KEY_V2` (2) on every target,
//! and `nix` has no `NETLINK_EXT_ACK` socket option. Everything else (bind,
//! send, recv, timeouts) goes through `nix`'s safe wrappers.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::libc;

/// `socket(domain, ty | SOCK_CLOEXEC, protocol)`.
pub(crate) fn socket(domain: i32, ty: i32, protocol: i32) -> io::Result<OwnedFd> {
    // SAFETY: socket(2) takes only integers and touches no caller memory.
    let fd = unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, protocol) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by socket(2), is valid, and nothing
    // else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `setsockopt(fd, level, name, &value, sizeof(int))`.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub(crate) fn setsockopt_int(
    fd: BorrowedFd<'_>,
    level: i32,
    name: i32,
    value: i32,
) -> io::Result<()> {
    // SAFETY: the pointer is to a live local `c_int` and the length passed is
    // exactly its size; the kernel only reads it.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&value as *const i32).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `setsockopt(fd, level, name, value.as_ptr(), value.len())`.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub(crate) fn setsockopt_bytes(
    fd: BorrowedFd<'_>,
    level: i32,
    name: i32,
    value: &[u8],
) -> io::Result<()> {
    let len = libc::socklen_t::try_from(value.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "option too long"))?;
    // SAFETY: the pointer and length describe a live slice the kernel only
    // reads for the duration of the call.
    let rc = unsafe { libc::setsockopt(fd.as_raw_fd(), level, name, value.as_ptr().cast(), len) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// FreeBSD interface ioctls (`SIOCIFCREATE2`, `SIOCIFDESTROY`,
/// `SIOCSIFPHYADDR`, `IPSECSREQID`, `IPSECGREQID`).
///
/// NOT compiled or run on this project's Linux CI: written from FreeBSD's
/// `sys/net/if.h`, `sys/sys/sockio.h`, `sys/net/if_ipsec.h` and
/// `sbin/ifconfig/ifipsec.c`, not yet verified against a FreeBSD kernel.
#[cfg(target_os = "freebsd")]
pub(crate) mod freebsd {
    use super::*;

    /// `struct ifreq` (32 bytes on LP64): the name, then a 16-byte union of
    /// which we use only `ifru_data` (a pointer, at offset 16).
    #[repr(C)]
    pub(crate) struct IfReq {
        pub(crate) name: [u8; 16],
        pub(crate) data: *mut libc::c_void,
        pub(crate) _pad: [u8; 16 - std::mem::size_of::<usize>()],
    }

    /// `struct sockaddr_in` with its BSD `sin_len` byte.
    #[repr(C)]
    #[derive(Clone, Copy)]
    pub(crate) struct SockaddrIn {
        pub(crate) len: u8,
        pub(crate) family: u8,
        pub(crate) port: u16,
        pub(crate) addr: [u8; 4],
        pub(crate) zero: [u8; 8],
    }

    /// `struct in_aliasreq`: name, addr, dstaddr (a.k.a. broadaddr), mask,
    /// vhid.
    #[repr(C)]
    pub(crate) struct InAliasReq {
        pub(crate) name: [u8; 16],
        pub(crate) addr: SockaddrIn,
        pub(crate) dstaddr: SockaddrIn,
        pub(crate) mask: SockaddrIn,
        pub(crate) vhid: libc::c_int,
    }

    // sys/sys/sockio.h and sys/net/if_ipsec.h.
    const SIOCIFDESTROY: libc::c_ulong =
        nix::request_code_write!(b'i', 121, std::mem::size_of::<IfReq>()) as libc::c_ulong;
    const SIOCIFCREATE2: libc::c_ulong =
        nix::request_code_readwrite!(b'i', 124, std::mem::size_of::<IfReq>()) as libc::c_ulong;
    const SIOCSIFPHYADDR: libc::c_ulong =
        nix::request_code_write!(b'i', 70, std::mem::size_of::<InAliasReq>()) as libc::c_ulong;
    const IPSECGREQID: libc::c_ulong =
        nix::request_code_readwrite!(b'i', 160, std::mem::size_of::<IfReq>()) as libc::c_ulong;
    const IPSECSREQID: libc::c_ulong =
        nix::request_code_write!(b'i', 161, std::mem::size_of::<IfReq>()) as libc::c_ulong;

    fn ioctl(fd: BorrowedFd<'_>, req: libc::c_ulong, arg: *mut libc::c_void) -> io::Result<()> {
        // SAFETY: every caller passes a pointer to a live, correctly sized
        // `#[repr(C)]` structure matching `req`'s encoded size.
        let rc = unsafe { libc::ioctl(fd.as_raw_fd(), req, arg) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    pub(crate) fn if_create2(fd: BorrowedFd<'_>, req: &mut IfReq) -> io::Result<()> {
        ioctl(fd, SIOCIFCREATE2, (req as *mut IfReq).cast())
    }
    pub(crate) fn if_destroy(fd: BorrowedFd<'_>, req: &mut IfReq) -> io::Result<()> {
        ioctl(fd, SIOCIFDESTROY, (req as *mut IfReq).cast())
    }
    pub(crate) fn set_phyaddr(fd: BorrowedFd<'_>, req: &mut InAliasReq) -> io::Result<()> {
        ioctl(fd, SIOCSIFPHYADDR, (req as *mut InAliasReq).cast())
    }
    pub(crate) fn set_reqid(fd: BorrowedFd<'_>, name: [u8; 16], reqid: u32) -> io::Result<()> {
        let mut v = reqid;
        let mut req = IfReq {
            name,
            data: (&mut v as *mut u32).cast(),
            _pad: [0; 16 - std::mem::size_of::<usize>()],
        };
        ioctl(fd, IPSECSREQID, (&mut req as *mut IfReq).cast())
    }
    pub(crate) fn get_reqid(fd: BorrowedFd<'_>, name: [u8; 16]) -> io::Result<u32> {
        let mut v = 0u32;
        let mut req = IfReq {
            name,
            data: (&mut v as *mut u32).cast(),
            _pad: [0; 16 - std::mem::size_of::<usize>()],
        };
        ioctl(fd, IPSECGREQID, (&mut req as *mut IfReq).cast())?;
        Ok(v)
    }
}
