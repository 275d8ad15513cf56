//! The daemon's kernel-IPsec interface (strongSwan's `kernel_interface_t`
//! in front of a `kernel_ipsec_t`): the one place where the IKE engine's
//! data-plane [`Action`]s become backend-neutral [`SaOp`]s, and the one
//! table of installed CHILD SAs the daemon lists.
//!
//! Every backend — the userspace ESP plane, Linux XFRM, FreeBSD PF_KEY, the
//! `record` backend — implements [`Dataplane`] over [`SaOp`]s built from a
//! [`ChildSpec`]; none of them sees an engine type or keeps its own copy of
//! the listing table. What the conversion needs from the daemon is decided
//! here once:
//!
//! * whether a child is routed (an `ipsecN` carries it): the rule of every
//!   data plane, `config::interface_for` (reqid, else `if_id_in`, else
//!   `if_id_out`);
//! * our ESP source port with UDP encapsulation (the NAT-T port; the
//!   engine's `local` may still name the IKE port);
//! * which CHILD SAs an IKE SA's address change moves (those of the IKE SA
//!   in the table, and the inbound SPIs the engine names: some may have
//!   been installed by an IKE SA it replaced in a rekey).

use std::net::{IpAddr, SocketAddr};
use std::os::fd::BorrowedFd;
use std::sync::Arc;

use ike::crypto::{Encr, Integ};
use ike::engine::{Action, ChildInstall, Mode, Ts};
use pfkey::backend::{self, Auth, ChildSpec, Cipher, Limits, SaOp, TsRange};
use zeroize::Zeroizing;

use crate::dataplane::{
    Dataplane, DataplaneError, EspDrops, EspSink, InterfaceCounters, SaCounters, SaEntry, SaTable,
};

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

/// Our ESP endpoint: with UDP encapsulation the NAT-T port (RFC 3948).
fn esp_local(mut local: SocketAddr, encap: bool, port_nat_t: u16) -> SocketAddr {
    if encap {
        local.set_port(port_nat_t);
    }
    local
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
    ChildSpec {
        reqid: c.reqid,
        local: esp_local(c.local, c.encap, port_nat_t),
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

/// What the conversion of the engine's actions takes from the daemon's
/// configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// Our NAT-T port (the ESP source port with UDP encapsulation).
    pub port_nat_t: u16,
    /// `vtid.max_policies_per_child`.
    pub selector_limit: u32,
}

/// The engine's action as changes to the installed SAs. `routed` tells
/// whether an interface carries a child of `(reqid, if_id)`; `table` holds
/// the installed SAs (for an address change: which ones move).
pub fn sa_ops(
    a: &Action,
    routed: impl Fn(u32, (u32, u32)) -> bool,
    p: Params,
    table: &[SaEntry],
) -> Vec<SaOp> {
    let port_nat_t = p.port_nat_t;
    match a {
        Action::Install(c) => vec![SaOp::Install {
            spec: Box::new(child_spec(
                c,
                routed(c.reqid, c.if_id),
                port_nat_t,
                p.selector_limit,
            )),
            outbound_active: c.outbound_active,
        }],
        Action::ActivateOutbound { reqid, spi_out } => vec![SaOp::ActivateOutbound {
            reqid: *reqid,
            spi_out: *spi_out,
        }],
        Action::RemoveOutbound { reqid, spi_out } => vec![SaOp::RemoveOutbound {
            reqid: *reqid,
            spi_out: *spi_out,
        }],
        Action::Delete {
            reqid,
            spi_in,
            spi_out,
        } => vec![SaOp::Delete {
            reqid: *reqid,
            spi_in: *spi_in,
            spi_out: *spi_out,
        }],
        Action::UpdateAddress {
            ike_sa,
            spis_in,
            local,
            remote,
            encap,
        } => {
            let id = ike_sa.to_string();
            table
                .iter()
                .filter(|e| e.ike_sa == id || spis_in.contains(&e.spi_in))
                .map(|e| SaOp::Update {
                    spi_in: e.spi_in,
                    local: esp_local(*local, *encap, port_nat_t),
                    remote: *remote,
                    encap: *encap,
                })
                .collect()
        }
    }
}

/// The daemon's kernel-IPsec interface: a backend, the table of the SAs
/// installed through it, and the conversion of the engine's actions.
#[derive(Debug)]
pub struct KernelIpsec {
    backend: Box<dyn Dataplane>,
    table: SaTable,
    interfaces: Vec<config::Interface>,
    params: Params,
}

impl KernelIpsec {
    /// In front of `backend`, for the configured interfaces (which one
    /// carries a child) and NAT-T port.
    pub fn new(backend: Box<dyn Dataplane>, cfg: &config::Config, port_nat_t: u16) -> KernelIpsec {
        KernelIpsec {
            table: SaTable::new(backend.name()),
            backend,
            interfaces: cfg.interfaces.clone(),
            params: Params {
                port_nat_t,
                selector_limit: cfg.daemon.max_policies_per_child,
            },
        }
    }

    /// Applies one engine action: converted into [`SaOp`]s, applied in
    /// order by the backend; the table records it once all went in (a
    /// failure leaves the table as it was, and the error names the step).
    pub fn apply(&mut self, a: &Action) -> Result<(), DataplaneError> {
        let entries = self.table.entries();
        let ifaces = &self.interfaces;
        let routed = |reqid, if_id| config::interface_for(ifaces, reqid, if_id).is_some();
        for op in sa_ops(a, routed, self.params, &entries) {
            self.backend
                .apply(&op)
                .map_err(|e| DataplaneError(format!("{}: {e}", op.name())))?;
        }
        self.table.apply(a);
        Ok(())
    }

    /// The inbound SPI of the CHILD SA that has `spi` in either direction
    /// (the kernels report expiry of the SA that ran out, either half).
    pub fn spi_in_of(&self, spi: u32) -> Option<u32> {
        self.table
            .entries()
            .into_iter()
            .find(|e| e.spi_in == spi || e.spi_out == spi)
            .map(|e| e.spi_in)
    }

    /// The backend's name (`userspace`, `xfrm`, `pfkey`, `record`).
    pub fn name(&self) -> &'static str {
        self.backend.name()
    }

    /// The installed SAs.
    pub fn sas(&self) -> Vec<SaEntry> {
        self.table.entries()
    }

    /// Per-SA traffic counters from the backend.
    pub fn counters(&self) -> Vec<SaCounters> {
        self.backend.counters()
    }

    /// Where ESP-in-UDP from the daemon's NAT-T socket goes.
    pub fn esp_sink(&self) -> Arc<dyn EspSink> {
        self.backend.esp_sink()
    }

    /// Whether the backend carries transport mode.
    pub fn supports_transport_mode(&self) -> bool {
        self.backend.supports_transport_mode()
    }

    /// Whether the backend owns the NAT-T socket.
    pub fn owns_nat_t(&self) -> bool {
        self.backend.owns_nat_t()
    }

    /// Sends IKE on the backend's NAT-T socket from our address `local`.
    pub fn send_nat_t(
        &self,
        local: IpAddr,
        remote: SocketAddr,
        data: &[u8],
    ) -> Result<(), DataplaneError> {
        self.backend.send_nat_t(local, remote, data)
    }

    /// Drop and error counters per interface, from the backend.
    pub fn interface_counters(&self) -> Vec<InterfaceCounters> {
        self.backend.interface_counters()
    }

    /// Inbound ESP the backend dropped before any SA had it.
    pub fn esp_drops(&self) -> EspDrops {
        self.backend.esp_drops()
    }

    /// Prepares one IKE socket for the backend
    /// ([`Dataplane::prepare_socket`]).
    pub fn prepare_socket(
        &self,
        fd: BorrowedFd<'_>,
        bound: SocketAddr,
        nat_t: bool,
    ) -> Result<(), DataplaneError> {
        self.backend.prepare_socket(fd, bound, nat_t)
    }

    /// Whether the daemon watches the `ipsecN` gateways.
    pub fn watches_gateways(&self) -> bool {
        self.backend.watches_gateways()
    }

    /// Re-reads the path MTUs; how many SAs changed.
    pub fn refresh_path_mtu(&self) -> usize {
        self.backend.refresh_path_mtu()
    }

    /// The backend's own statistics lines.
    pub fn stats_lines(&self) -> Vec<String> {
        self.backend.stats_lines()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ike::crypto::SecretBytes;
    use ike::engine::{IkeSaId, VolumeLimits};

    const P: Params = Params {
        port_nat_t: 4500,
        selector_limit: 77,
    };

    fn install(ike_sa: u64, spi_in: u32, encap: bool, if_id: (u32, u32)) -> ChildInstall {
        let k = |spi| ike::engine::SaKeys {
            spi,
            encr: Encr::AesCbc { key_bits: 256 },
            integ: Some(Integ::HmacSha2_256_128),
            encr_key: SecretBytes::new(vec![1; 32]),
            integ_key: SecretBytes::new(vec![2; 32]),
        };
        ChildInstall {
            ike_sa: IkeSaId(ike_sa),
            conn: "c".into(),
            child: "n".into(),
            reqid: 9,
            local: "192.0.2.1:500".parse().unwrap(),
            remote: "198.51.100.2:4500".parse().unwrap(),
            encap,
            mode: Mode::Tunnel,
            esn: true,
            replay_window: 128,
            inbound: k(spi_in),
            outbound: k(spi_in + 1),
            local_ts: vec![Ts::any(true)],
            remote_ts: vec![Ts::any(true)],
            limits: VolumeLimits {
                rekey_bytes: 1,
                life_bytes: 2,
                rekey_packets: 3,
                life_packets: 4,
            },
            if_id,
            outbound_active: false,
        }
    }

    /// One install: every field carried over, the NAT-T port with
    /// encapsulation, routed as the daemon decides (here by if_id).
    #[test]
    fn install_converts_once() {
        let ci = install(1, 0x100, true, (7, 7));
        let ops = sa_ops(
            &Action::Install(Box::new(ci)),
            |reqid, if_id| reqid == 9 && if_id == (7, 7),
            P,
            &[],
        );
        let [SaOp::Install {
            spec,
            outbound_active,
        }] = ops.as_slice()
        else {
            panic!("{ops:?}");
        };
        assert!(!outbound_active);
        assert!(spec.routed && spec.tunnel && spec.esn && spec.encap);
        assert_eq!(spec.local, "192.0.2.1:4500".parse().unwrap());
        assert_eq!(spec.remote, "198.51.100.2:4500".parse().unwrap());
        assert_eq!((spec.inbound.spi, spec.outbound.spi), (0x100, 0x101));
        assert_eq!(spec.inbound.cipher, Cipher::AesCbc { key_bits: 256 });
        assert_eq!(spec.inbound.auth, Some(Auth::HmacSha256_128));
        assert_eq!(&spec.outbound.auth_key[..], &[2; 32][..]);
        assert_eq!(spec.replay_window, 128);
        assert_eq!(spec.if_id, (7, 7));
        assert_eq!(spec.selector_limit, 77);
        assert_eq!(
            spec.limits,
            Limits {
                soft_bytes: 1,
                hard_bytes: 2,
                soft_packets: 3,
                hard_packets: 4
            }
        );
        assert_eq!(spec.local_ts, vec![TsRange::any(false)]);
        // Without encapsulation the port stays; not routed.
        let ops = sa_ops(
            &Action::Install(Box::new(install(1, 0x100, false, (0, 0)))),
            |_, _| false,
            P,
            &[],
        );
        let [SaOp::Install { spec, .. }] = ops.as_slice() else {
            panic!("{ops:?}");
        };
        assert_eq!(spec.local.port(), 500);
        assert!(!spec.routed);
    }

    /// An address change moves the SAs of the IKE SA and those it names
    /// (installed by a predecessor), and no others.
    #[test]
    fn update_address_moves_the_ike_sas_children() {
        let table = SaTable::new("test");
        table.apply(&Action::Install(Box::new(install(1, 0x100, false, (0, 0)))));
        table.apply(&Action::Install(Box::new(install(2, 0x200, false, (0, 0)))));
        table.apply(&Action::Install(Box::new(install(3, 0x300, false, (0, 0)))));
        let a = Action::UpdateAddress {
            ike_sa: IkeSaId(1),
            spis_in: vec![0x300],
            local: "192.0.2.5:4500".parse().unwrap(),
            remote: "198.51.100.9:1234".parse().unwrap(),
            encap: true,
        };
        let ops = sa_ops(
            &a,
            |_, _| false,
            Params {
                port_nat_t: 4600,
                ..P
            },
            &table.entries(),
        );
        let moved: Vec<u32> = ops
            .iter()
            .map(|o| match o {
                SaOp::Update {
                    spi_in,
                    local,
                    remote,
                    encap,
                } => {
                    assert_eq!(*local, "192.0.2.5:4600".parse().unwrap());
                    assert_eq!(*remote, "198.51.100.9:1234".parse().unwrap());
                    assert!(*encap);
                    *spi_in
                }
                o => panic!("{o:?}"),
            })
            .collect();
        assert_eq!(moved, vec![0x100, 0x300]);
    }
}
