//! The kernel data planes behind the daemon's [`Dataplane`](crate::dataplane::Dataplane)
//! trait. They take the backend-neutral `pfkey::backend::SaOp`s that
//! [`crate::kernel_ipsec`] converts the engine's actions into.
//!
//! # Platform boundary
//!
//! One backend per system, chosen here and nowhere else in this module:
//! Linux XFRM with xfrm interfaces or legacy VTIs ([`XfrmDataplane`], in
//! `kernel/xfrm.rs`) and FreeBSD PF_KEY with `if_ipsec(4)` interfaces
//! (`PfKeyDataplane`, in `kernel/ifipsec.rs`).

use std::net::SocketAddr;

use tracing::debug;

use crate::dataplane::EspSink;

#[cfg(target_os = "freebsd")]
mod ifipsec;
#[cfg(target_os = "linux")]
mod xfrm;

#[cfg(target_os = "freebsd")]
pub use self::ifipsec::PfKeyDataplane;
#[cfg(target_os = "linux")]
pub use self::xfrm::{xfrm_probe, xfrm_probe_for, XfrmDataplane, RT_TABLE_MAIN};

/// ESP never reaches the daemon's sockets with a kernel backend (the NAT-T
/// socket decapsulates in the kernel); anything that does is dropped.
#[derive(Debug)]
pub(crate) struct KernelEsp;

impl EspSink for KernelEsp {
    fn esp_in(&self, _: SocketAddr, remote: SocketAddr, _: &[u8]) {
        debug!(target: "vtid::dataplane", %remote, "ESP reached the NAT-T socket despite UDP_ENCAP; dropped");
    }
}

/// Why the PF_KEY backend cannot run here, or `Ok` if it can.
pub fn pfkey_probe() -> Result<(), String> {
    if !cfg!(target_os = "freebsd") {
        let sock = match ::pfkey::pfkey::PfKeySocket::open(::pfkey::pfkey::Flavor::native()) {
            Ok(_) => "the kernel has a PF_KEY socket".to_string(),
            Err(e) => e.to_string(),
        };
        return Err(format!(
            "the PF_KEY backend drives FreeBSD if_ipsec(4) interfaces and runs on FreeBSD only \
             ({sock}); on Linux use --dataplane xfrm or userspace"
        ));
    }
    ::pfkey::pfkey::PfKeySocket::open(::pfkey::pfkey::Flavor::native())
        .map(|_| ())
        .map_err(|e| e.to_string())
}
