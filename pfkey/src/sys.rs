//! The crate's only `unsafe` code: raw `socket(2)` and `setsockopt(2)` calls
//! and, on FreeBSD, the interface ioctls for `if_ipsec(4)`.
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

/// FreeBSD interface ioctls. Every function has a safe signature: the
/// argument is one of the plain `#[repr(C)]` structures of
/// [`crate::freebsd_abi`] (no pointer the kernel would follow, except
/// `ifr_data` in [`ifreq_u32`], which is built here from a live local),
/// and the request code's encoded length is checked against the
/// structure's size before the call, so the kernel copies exactly the
/// structure in and out.
#[cfg(target_os = "freebsd")]
pub(crate) mod freebsd {
    use super::*;
    use crate::freebsd_abi::{ioc_len, IfName, IfReq, In6AliasReq, InAliasReq};

    /// The structures an ioctl may take whole.
    pub(crate) trait IoctlArg: Copy {}
    impl IoctlArg for IfReq {}
    impl IoctlArg for InAliasReq {}
    impl IoctlArg for In6AliasReq {}

    /// `ioctl(fd, request, arg)` for a request whose parameter is `T`.
    pub(crate) fn ioctl<T: IoctlArg>(
        fd: BorrowedFd<'_>,
        request: u64,
        arg: &mut T,
    ) -> io::Result<()> {
        if ioc_len(request) != std::mem::size_of::<T>() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "ioctl {request:#x} takes {} bytes, not the {} of this structure",
                    ioc_len(request),
                    std::mem::size_of::<T>()
                ),
            ));
        }
        // SAFETY: `arg` is a live, exclusively borrowed plain-data
        // structure of exactly the size the request encodes (checked
        // above), so the kernel reads and writes only inside it; none of
        // these structures carries a pointer the kernel dereferences.
        let rc = unsafe {
            libc::ioctl(
                fd.as_raw_fd(),
                request as libc::c_ulong,
                (arg as *mut T).cast::<libc::c_void>(),
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// An `ifreq` request whose `ifr_data` points at a `uint32_t`
    /// (`IPSECGREQID`, `IPSECSREQID`): `value` in, and out again.
    pub(crate) fn ifreq_u32(
        fd: BorrowedFd<'_>,
        request: u64,
        name: IfName,
        value: &mut u32,
    ) -> io::Result<()> {
        let mut req = IfReq::new(name);
        req.ifru[0] = (value as *mut u32) as usize as u64;
        if ioc_len(request) != std::mem::size_of::<IfReq>() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("ioctl {request:#x} does not take a struct ifreq"),
            ));
        }
        // SAFETY: `req` is a live local `struct ifreq` of the encoded size
        // and its `ifr_data` points at `*value`, a live, exclusively
        // borrowed `u32` that outlives the call: the kernel copies at most
        // a `uint32_t` through it (sys/net/if_ipsec.c, ipsec_ioctl).
        let rc = unsafe {
            libc::ioctl(
                fd.as_raw_fd(),
                request as libc::c_ulong,
                (&mut req as *mut IfReq).cast::<libc::c_void>(),
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}
