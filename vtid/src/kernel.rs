//! The kernel data planes behind the daemon's [`Dataplane`](crate::dataplane::Dataplane)
//! trait, and what they share: the conversion of the engine's
//! [`ChildInstall`] into the backends' daemon-neutral [`ChildSpec`].
//!
//! # Platform boundary
//!
//! One backend per system, chosen here and nowhere else in this module:
//! Linux XFRM with xfrm interfaces or legacy VTIs ([`XfrmDataplane`], in
//! `kernel/xfrm.rs`) and FreeBSD PF_KEY with `if_ipsec(4)` interfaces
//! (`PfKeyDataplane`, in `kernel/ifipsec.rs`).

use std::net::SocketAddr;

use ike::crypto::{Encr, Integ};
use ike::engine::{ChildInstall, Mode, Ts};
use pfkey::backend::{self, Auth, ChildSpec, Cipher, Limits, TsRange};
use tracing::debug;
use zeroize::Zeroizing;

use crate::dataplane::EspSink;

#[cfg(target_os = "freebsd")]
mod ifipsec;
#[cfg(target_os = "linux")]
mod xfrm;

#[cfg(target_os = "freebsd")]
pub use self::ifipsec::PfKeyDataplane;
#[cfg(target_os = "linux")]
pub use self::xfrm::{xfrm_probe, xfrm_probe_for, XfrmDataplane, RT_TABLE_MAIN};

fn cipher(e: Encr) -> Cipher {
    match e {
        Encr::AesCbc { key_bits } => Cipher::AesCbc { key_bits },
        Encr::AesGcm16 { key_bits } => Cipher::AesGcm16 { key_bits },
        Encr::ChaCha20Poly1305 => Cipher::ChaCha20Poly1305,
        Encr::TripleDes => Cipher::TripleDes,
        Encr::CamelliaCbc { key_bits } => Cipher::CamelliaCbc { key_bits },
        Encr::AesCcm { key_bits, icv } => Cipher::AesCcm { key_bits, icv },
    }
}

fn auth(i: Integ) -> Auth {
    match i {
        Integ::HmacSha1_96 => Auth::HmacSha1_96,
        Integ::HmacSha2_256_128 => Auth::HmacSha256_128,
        Integ::HmacSha2_384_192 => Auth::HmacSha384_192,
        Integ::HmacSha2_512_256 => Auth::HmacSha512_256,
        Integ::HmacMd5_96 => Auth::HmacMd5_96,
        Integ::HmacSha2_256_96 => Auth::HmacSha256_96,
        Integ::AesXcbc96 => Auth::AesXcbc96,
        Integ::AesCmac96 => Auth::AesCmac96,
    }
}

fn keys(k: &ike::engine::SaKeys) -> backend::SaKeys {
    backend::SaKeys {
        spi: k.spi,
        cipher: cipher(k.encr),
        auth: k.integ.map(auth),
        enc_key: Zeroizing::new(k.encr_key.as_ref().to_vec()),
        auth_key: Zeroizing::new(k.integ_key.as_ref().to_vec()),
    }
}

fn ts(t: &Ts) -> TsRange {
    TsRange {
        proto: t.proto,
        start_port: t.start_port,
        end_port: t.end_port,
        start: t.start,
        end: t.end,
    }
}

/// The backend-neutral spec of an engine `ChildInstall`. With UDP
/// encapsulation our ESP source port is the NAT-T port (the engine's
/// `local` may still name the IKE port). `selector_limit` is
/// `vtid.max_policies_per_child`.
pub fn child_spec(
    c: &ChildInstall,
    routed: bool,
    port_nat_t: u16,
    selector_limit: u32,
) -> ChildSpec {
    let mut local = c.local;
    if c.encap {
        local.set_port(port_nat_t);
    }
    ChildSpec {
        reqid: c.reqid,
        local,
        remote: c.remote,
        encap: c.encap,
        tunnel: c.mode == Mode::Tunnel,
        esn: c.esn,
        replay_window: c.replay_window,
        inbound: keys(&c.inbound),
        outbound: keys(&c.outbound),
        local_ts: c.local_ts.iter().map(ts).collect(),
        remote_ts: c.remote_ts.iter().map(ts).collect(),
        limits: Limits {
            soft_bytes: c.limits.rekey_bytes,
            hard_bytes: c.limits.life_bytes,
            soft_packets: c.limits.rekey_packets,
            hard_packets: c.limits.life_packets,
        },
        routed,
        if_id: c.if_id,
        selector_limit,
    }
}

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
