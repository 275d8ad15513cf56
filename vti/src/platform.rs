//! The few calls that differ between Linux and FreeBSD (the crate's
//! platform boundary, with the module list in `lib.rs`).

use std::io;
use std::os::fd::OwnedFd;

/// Binds a socket to interface `device` (`SO_BINDTODEVICE`), so that gateway
/// probes leave through the tunnel interface whatever the routing table
/// says.
#[cfg(target_os = "linux")]
pub(crate) fn bind_to_device(fd: &OwnedFd, device: &str) -> io::Result<()> {
    use nix::sys::socket::{setsockopt, sockopt};
    setsockopt(fd, sockopt::BindToDevice, &std::ffi::OsString::from(device))?;
    Ok(())
}

/// FreeBSD has no `SO_BINDTODEVICE`. Like pfSense's dpinger (`-B`), the
/// probe is bound to the interface's transit address instead (the caller
/// does that) and follows the route to the remote transit address, which
/// `if_ipsec`'s point-to-point address makes a host route through the
/// interface. So there is nothing to do here.
#[cfg(not(target_os = "linux"))]
pub(crate) fn bind_to_device(_fd: &OwnedFd, _device: &str) -> io::Result<()> {
    Ok(())
}
