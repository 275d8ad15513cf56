//! One change to the installed CHILD SAs in backend-neutral terms: what
//! the daemon's kernel-IPsec interface hands every backend (userspace
//! ESP, XFRM, PF_KEY), after converting the IKE engine's actions once.
#![forbid(unsafe_code)]

use std::net::SocketAddr;

use super::ChildSpec;

/// One change to the installed CHILD SAs (strongSwan's `kernel_ipsec_t`
/// `add_sa`/`update_sa`/`del_sa`, with the outbound half switched
/// separately for make-before-break, RFC 7296 §2.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaOp {
    /// Install a CHILD SA: its inbound SA, and its outbound SA when
    /// `outbound_active` (else later, with [`SaOp::ActivateOutbound`]).
    Install {
        /// The CHILD SA (keys zeroized on drop).
        spec: Box<ChildSpec>,
        /// Whether outbound traffic uses it at once.
        outbound_active: bool,
    },
    /// Start sending on the CHILD SA of `reqid` with this outbound SPI
    /// (so stop sending on the older ones of that reqid).
    ActivateOutbound {
        /// The SA's reqid (as installed).
        reqid: u32,
        /// Its outbound SPI.
        spi_out: u32,
    },
    /// Stop sending on it; its inbound half stays until [`SaOp::Delete`].
    RemoveOutbound {
        /// The SA's reqid (as installed).
        reqid: u32,
        /// Its outbound SPI.
        spi_out: u32,
    },
    /// Remove a CHILD SA entirely.
    Delete {
        /// The SA's reqid (as installed).
        reqid: u32,
        /// Its inbound SPI.
        spi_in: u32,
        /// Its outbound SPI.
        spi_out: u32,
    },
    /// Move a CHILD SA to new outer endpoints (a NAT mapping changed,
    /// RFC 7296 §2.23): same SPIs, keys and selectors.
    Update {
        /// Its inbound SPI.
        spi_in: u32,
        /// Our endpoint now (the NAT-T port with `encap`).
        local: SocketAddr,
        /// The peer's endpoint now.
        remote: SocketAddr,
        /// Whether ESP is UDP-encapsulated now.
        encap: bool,
    },
}

impl SaOp {
    /// Its name, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            SaOp::Install { .. } => "install",
            SaOp::ActivateOutbound { .. } => "activate-outbound",
            SaOp::RemoveOutbound { .. } => "remove-outbound",
            SaOp::Delete { .. } => "delete",
            SaOp::Update { .. } => "update-address",
        }
    }
}
