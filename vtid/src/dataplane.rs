//! The data-plane interface (STYLE.md §3; strongSwan's `kernel_ipsec_t`):
//! one trait every backend implements — the recording backend here, the
//! userspace ESP/TUN backend (`userspace.rs`), XFRM and PF_KEY
//! (`kernel/`). The daemon talks to it through
//! [`KernelIpsec`](crate::kernel_ipsec::KernelIpsec), which converts the
//! engine's actions once and keeps the one table of installed SAs.
//!
//! # Shape, and why
//!
//! * [`Dataplane::apply`] takes backend-neutral [`SaOp`]s one by one, in
//!   the engine's order, on the daemon's engine task. It is synchronous and
//!   must not block: order matters (an `Install` precedes the
//!   `ActivateOutbound` that switches to it, a `Delete` follows), and a
//!   synchronous call keeps that order without a queue whose tail could
//!   lose actions at shutdown. A backend with slow work (netlink round
//!   trips, building a TUN device) does the quick bookkeeping inline and
//!   hands the rest to its own task.
//! * ESP-in-UDP from the NAT-T socket goes to an [`EspSink`] (from
//!   [`Dataplane::esp_sink`]) directly from the socket's receive task: ESP
//!   is data-plane traffic and never queues behind IKE work on the engine
//!   task. The sink is `Send + Sync` and shared.
//! * What the data plane learns for the engine — ESP arrived on an SA
//!   (liveness for DPD), a byte/packet limit ran out (either half's SPI:
//!   the daemon maps it to the CHILD SA) — it sends as a
//!   [`Report`] on the channel given to the backend at construction; the
//!   engine task feeds them to [`ike::engine::Endpoint::child_activity`] /
//!   [`ike::engine::Endpoint::child_expired`]. A channel, because reports
//!   come from the backend's own tasks (the ESP path), not from `apply`.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ike::crypto::{Encr, Integ};
use ike::engine::{Action, Mode, Ts};
use pfkey::backend::SaOp;
use tokio::sync::mpsc::UnboundedSender;
use tracing::{info, warn};

/// What the data plane tells the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Report {
    /// ESP arrived on the CHILD SA with this inbound SPI.
    Activity {
        /// Our inbound SPI.
        spi_in: u32,
    },
    /// A volume limit of the CHILD SA ran out (soft: rekey; hard: delete).
    Expired {
        /// The SPI of the SA that ran out: our inbound SPI, or (kernels
        /// report either half) the outbound one.
        spi: u32,
        /// Hard limit.
        hard: bool,
    },
}

/// A data-plane failure (the action is logged and the engine goes on).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DataplaneError(pub String);

/// Receives ESP-in-UDP datagrams (the non-ESP marker check already made:
/// `data` starts with the SPI).
pub trait EspSink: Send + Sync + fmt::Debug {
    /// One datagram from `remote` to our `local`.
    fn esp_in(&self, local: SocketAddr, remote: SocketAddr, data: &[u8]);
}

/// A data-plane backend.
pub trait Dataplane: Send + fmt::Debug {
    /// Its name, for logs (`record`, `userspace`, ...).
    fn name(&self) -> &'static str;
    /// Applies one change to the installed SAs. Must not block.
    fn apply(&mut self, op: &SaOp) -> Result<(), DataplaneError>;
    /// Where ESP-in-UDP goes.
    fn esp_sink(&self) -> Arc<dyn EspSink>;
    /// Whether transport mode can be carried.
    fn supports_transport_mode(&self) -> bool {
        false
    }

    /// Whether the backend owns the NAT-T socket (then the daemon binds
    /// only the IKE port and sends NAT-T IKE through [`Dataplane::send_nat_t`]).
    fn owns_nat_t(&self) -> bool {
        false
    }

    /// Sends an IKE message (or a NAT keepalive) on the backend's NAT-T
    /// socket, adding the non-ESP marker, from our address `local` (the IKE
    /// SA's; unspecified: the kernel's choice).
    fn send_nat_t(
        &self,
        _local: IpAddr,
        remote: SocketAddr,
        _data: &[u8],
    ) -> Result<(), DataplaneError> {
        Err(DataplaneError(format!(
            "the '{}' data plane has no NAT-T socket (to {remote})",
            self.name()
        )))
    }

    /// Per-SA traffic counters; empty where the backend carries nothing.
    fn counters(&self) -> Vec<SaCounters> {
        Vec::new()
    }

    /// Drop and error counters per interface; empty where the backend
    /// keeps none (the kernel's own counters are in `ip -s link`).
    fn interface_counters(&self) -> Vec<InterfaceCounters> {
        Vec::new()
    }

    /// Inbound ESP the backend dropped before any SA had it.
    fn esp_drops(&self) -> EspDrops {
        EspDrops::default()
    }

    /// Prepares one of the daemon's IKE sockets, bound to `bound` (NAT-T
    /// when `nat_t`), so its packets bypass the tunnels: kernel backends
    /// set a per-socket IPsec bypass policy and, on NAT-T sockets,
    /// ESP-in-UDP decapsulation; the userspace plane marks it for its
    /// bypass rule. Called once per socket after binding.
    fn prepare_socket(
        &self,
        _fd: BorrowedFd<'_>,
        _bound: SocketAddr,
        _nat_t: bool,
    ) -> Result<(), DataplaneError> {
        Ok(())
    }

    /// Whether the daemon watches the automatic gateways of the `ipsecN`
    /// interfaces (the userspace plane's TUN interfaces).
    fn watches_gateways(&self) -> bool {
        false
    }

    /// Asks the kernel again for the path MTU towards every peer; how many
    /// SAs changed their largest inner packet (0 where the kernel does
    /// this itself). Called periodically.
    fn refresh_path_mtu(&self) -> usize {
        0
    }

    /// Backend-specific statistics, one line each, for the SIGUSR1 dump.
    fn stats_lines(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Traffic counters of one CHILD SA, from the backend that carries it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SaCounters {
    /// Inbound SPI.
    pub spi_in: u32,
    /// Outbound SPI.
    pub spi_out: u32,
    /// Interface carrying it.
    pub interface: String,
    /// Bytes received (inner).
    pub bytes_in: u64,
    /// Packets received.
    pub packets_in: u64,
    /// Bytes sent (inner).
    pub bytes_out: u64,
    /// Packets sent.
    pub packets_out: u64,
    /// Replayed packets dropped.
    pub replay_drops: u64,
    /// Packets failing authentication.
    pub auth_failures: u64,
    /// Inbound packets outside the traffic selectors.
    pub ts_violations: u64,
    /// Last inbound packet.
    pub last_in: Option<std::time::Instant>,
    /// Last outbound packet.
    pub last_out: Option<std::time::Instant>,
}

/// Drop and error counters of one interface (`ipsecN`, or the shared TUN
/// of policy-based CHILD SAs), from a backend that keeps them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InterfaceCounters {
    /// Interface name.
    pub name: String,
    /// Packets read from it that no SA carries (dropped).
    pub no_sa_drops: u64,
    /// Packets too big for the path with DF set (dropped, ICMP sent).
    pub too_big: u64,
    /// Unparseable packets read from it (dropped).
    pub malformed: u64,
    /// ESP it could not send (socket errors).
    pub send_errors: u64,
    /// Decrypted packets the interface refused (TUN write errors: queue
    /// full, interface down).
    pub tun_write_errors: u64,
}

/// Inbound ESP dropped before an SA had it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EspDrops {
    /// ESP whose SPI no SA has.
    pub unknown_spi: u64,
    /// Datagrams the kernel dropped because a data-plane socket's receive
    /// queue was full (the packet threads did not keep up).
    pub socket_overflow: u64,
}

impl SaCounters {
    /// Adds `o`'s traffic and drop counters to these (saturating).
    pub fn add(&mut self, o: &SaCounters) {
        self.bytes_in = self.bytes_in.saturating_add(o.bytes_in);
        self.packets_in = self.packets_in.saturating_add(o.packets_in);
        self.bytes_out = self.bytes_out.saturating_add(o.bytes_out);
        self.packets_out = self.packets_out.saturating_add(o.packets_out);
        self.replay_drops = self.replay_drops.saturating_add(o.replay_drops);
        self.auth_failures = self.auth_failures.saturating_add(o.auth_failures);
        self.ts_violations = self.ts_violations.saturating_add(o.ts_violations);
    }
}

/// One installed CHILD SA as the data plane holds it (no keys).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SaEntry {
    /// The IKE SA's handle.
    pub ike_sa: String,
    /// Connection name.
    pub conn: String,
    /// Child name.
    pub child: String,
    /// reqid.
    pub reqid: u32,
    /// Our inbound SPI.
    pub spi_in: u32,
    /// Outbound SPI.
    pub spi_out: u32,
    /// The suite, strongSwan style: `AES_GCM_16-128` or
    /// `AES_CBC-256/HMAC_SHA2_256_128`.
    pub suite: String,
    /// Our outer address.
    pub local: SocketAddr,
    /// The peer's outer address.
    pub remote: SocketAddr,
    /// ESP in UDP.
    pub encap: bool,
    /// Tunnel or transport.
    pub mode: Mode,
    /// ESN.
    pub esn: bool,
    /// Our selectors.
    pub local_ts: Vec<Ts>,
    /// The peer's selectors.
    pub remote_ts: Vec<Ts>,
    /// Whether outbound traffic uses this SA.
    pub outbound_active: bool,
    /// `if_id_in`/`if_id_out` (0: none): with the reqid, which interface
    /// carries it (`config::interface_for`).
    pub if_id: (u32, u32),
}

impl fmt::Display for SaEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "reqid={} conn={} child={} spi_in={:08x} spi_out={:08x} suite={} local={} remote={} \
             encap={} mode={} esn={} outbound={} ts={} === {}",
            self.reqid,
            self.conn,
            self.child,
            self.spi_in,
            self.spi_out,
            self.suite,
            self.local,
            self.remote,
            yes(self.encap),
            match self.mode {
                Mode::Tunnel => "tunnel",
                Mode::Transport => "transport",
            },
            yes(self.esn),
            if self.outbound_active {
                "active"
            } else {
                "inactive"
            },
            ike::engine::ts::list(&self.local_ts),
            ike::engine::ts::list(&self.remote_ts),
        )
    }
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// strongSwan's name of an ESP suite (`AES_GCM_16-128`,
/// `AES_CBC-256/HMAC_SHA2_256_128`, `CHACHA20_POLY1305`).
pub fn suite_name(encr: Encr, integ: Option<Integ>) -> String {
    let e = match encr {
        Encr::AesCbc { key_bits } => format!("AES_CBC-{key_bits}"),
        Encr::AesGcm16 { key_bits } => format!("AES_GCM_16-{key_bits}"),
        Encr::ChaCha20Poly1305 => "CHACHA20_POLY1305".to_string(),
        Encr::TripleDes => "3DES_CBC".to_string(),
        Encr::CamelliaCbc { key_bits } => format!("CAMELLIA_CBC-{key_bits}"),
        Encr::AesCcm { key_bits, icv } => format!("AES_CCM_{icv}-{key_bits}"),
    };
    match integ {
        None => e,
        Some(i) => format!(
            "{e}/{}",
            match i {
                Integ::HmacSha1_96 => "HMAC_SHA1_96",
                Integ::HmacSha2_256_128 => "HMAC_SHA2_256_128",
                Integ::HmacSha2_384_192 => "HMAC_SHA2_384_192",
                Integ::HmacSha2_512_256 => "HMAC_SHA2_512_256",
                Integ::HmacMd5_96 => "HMAC_MD5_96",
                Integ::HmacSha2_256_96 => "HMAC_SHA2_256_96",
                Integ::AesXcbc96 => "AES_XCBC_96",
                Integ::AesCmac96 => "AES_CMAC_96",
            }
        ),
    }
}

/// The SAs installed through the daemon's
/// [`KernelIpsec`](crate::kernel_ipsec::KernelIpsec), as it lists them
/// (with the engine's names: connection, child, IKE SA).
#[derive(Clone, Debug)]
pub struct SaTable {
    backend: &'static str,
    entries: Arc<Mutex<Vec<SaEntry>>>,
}

impl SaTable {
    /// An empty table of backend `backend` (named in the log lines).
    pub fn new(backend: &'static str) -> SaTable {
        SaTable {
            backend,
            entries: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Records an action, logging it in one line (never the keys).
    pub fn apply(&self, action: &Action) {
        let b = self.backend;
        let Ok(mut t) = self.entries.lock() else {
            return;
        };
        match action {
            Action::Install(c) => {
                let e = SaEntry {
                    ike_sa: c.ike_sa.to_string(),
                    conn: c.conn.clone(),
                    child: c.child.clone(),
                    reqid: c.reqid,
                    spi_in: c.inbound.spi,
                    spi_out: c.outbound.spi,
                    suite: suite_name(c.inbound.encr, c.inbound.integ),
                    local: c.local,
                    remote: c.remote,
                    encap: c.encap,
                    mode: c.mode,
                    esn: c.esn,
                    local_ts: c.local_ts.clone(),
                    remote_ts: c.remote_ts.clone(),
                    outbound_active: c.outbound_active,
                    if_id: c.if_id,
                };
                info!(target: "vtid::dataplane", "dataplane({b}): install {e}");
                if e.outbound_active {
                    for o in t.iter_mut().filter(|o| o.reqid == e.reqid) {
                        o.outbound_active = false;
                    }
                }
                t.retain(|o| o.spi_in != e.spi_in);
                t.push(e);
            }
            Action::ActivateOutbound { reqid, spi_out } => {
                info!(target: "vtid::dataplane", "dataplane({b}): activate-outbound reqid={reqid} spi_out={spi_out:08x}");
                for o in t.iter_mut().filter(|o| o.reqid == *reqid) {
                    o.outbound_active = o.spi_out == *spi_out;
                }
            }
            Action::RemoveOutbound { reqid, spi_out } => {
                info!(target: "vtid::dataplane", "dataplane({b}): remove-outbound reqid={reqid} spi_out={spi_out:08x}");
                for o in t
                    .iter_mut()
                    .filter(|o| o.reqid == *reqid && o.spi_out == *spi_out)
                {
                    o.outbound_active = false;
                }
            }
            Action::Delete {
                reqid,
                spi_in,
                spi_out,
            } => {
                info!(target: "vtid::dataplane", "dataplane({b}): delete reqid={reqid} spi_in={spi_in:08x} spi_out={spi_out:08x}");
                let before = t.len();
                t.retain(|o| o.spi_in != *spi_in);
                if t.len() == before {
                    warn!(target: "vtid::dataplane", "dataplane({b}): delete of unknown SA spi_in={spi_in:08x}");
                }
            }
            Action::UpdateAddress {
                ike_sa,
                spis_in,
                local,
                remote,
                encap,
            } => {
                info!(target: "vtid::dataplane", "dataplane({b}): update-address ike_sa={ike_sa} local={local} remote={remote} encap={}", yes(*encap));
                let id = ike_sa.to_string();
                for o in t
                    .iter_mut()
                    .filter(|o| o.ike_sa == id || spis_in.contains(&o.spi_in))
                {
                    o.local = *local;
                    o.remote = *remote;
                    o.encap = *encap;
                }
            }
        }
    }

    /// A copy of the entries.
    pub fn entries(&self) -> Vec<SaEntry> {
        self.entries.lock().map(|t| t.clone()).unwrap_or_default()
    }
}

/// The `record` backend: keeps the installed inbound SPIs, counts and
/// drops ESP (the daemon's table logs every change in one line, never
/// keys). It carries no traffic.
#[derive(Debug)]
pub struct RecordBackend {
    spis: Arc<Mutex<Vec<(u32, u32)>>>,
    sink: Arc<RecordSink>,
}

/// The `record` backend's ESP sink: counts, reports activity on known
/// inbound SPIs, drops.
#[derive(Debug)]
pub struct RecordSink {
    /// `(spi_in, spi_out)` of the installed SAs.
    spis: Arc<Mutex<Vec<(u32, u32)>>>,
    reports: UnboundedSender<Report>,
    /// ESP datagrams seen.
    pub packets: AtomicU64,
    /// Of which for SPIs not installed.
    pub unknown_spi: AtomicU64,
}

impl EspSink for RecordSink {
    fn esp_in(&self, _local: SocketAddr, remote: SocketAddr, data: &[u8]) {
        self.packets.fetch_add(1, Ordering::Relaxed);
        let Some(spi) = data.get(..4) else {
            self.unknown_spi.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let spi = u32::from_be_bytes([spi[0], spi[1], spi[2], spi[3]]);
        let known = self
            .spis
            .lock()
            .map(|t| t.iter().any(|(i, _)| *i == spi))
            .unwrap_or(false);
        if known {
            let _ = self.reports.send(Report::Activity { spi_in: spi });
        } else {
            self.unknown_spi.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%remote, "ESP for unknown SPI {spi:08x} dropped");
        }
    }
}

impl RecordBackend {
    /// A new, empty table; reports go to `reports`.
    pub fn new(reports: UnboundedSender<Report>) -> RecordBackend {
        let spis = Arc::new(Mutex::new(Vec::new()));
        RecordBackend {
            sink: Arc::new(RecordSink {
                spis: spis.clone(),
                reports,
                packets: AtomicU64::new(0),
                unknown_spi: AtomicU64::new(0),
            }),
            spis,
        }
    }

    /// ESP datagrams seen, and of those for unknown SPIs.
    pub fn esp_counts(&self) -> (u64, u64) {
        (
            self.sink.packets.load(Ordering::Relaxed),
            self.sink.unknown_spi.load(Ordering::Relaxed),
        )
    }
}

impl Dataplane for RecordBackend {
    fn name(&self) -> &'static str {
        "record"
    }

    fn apply(&mut self, op: &SaOp) -> Result<(), DataplaneError> {
        let Ok(mut t) = self.spis.lock() else {
            return Err(DataplaneError("record: table lock poisoned".into()));
        };
        match op {
            SaOp::Install { spec, .. } => {
                t.retain(|(i, _)| *i != spec.inbound.spi);
                t.push((spec.inbound.spi, spec.outbound.spi));
            }
            SaOp::Delete { spi_in, .. } => t.retain(|(i, _)| i != spi_in),
            SaOp::ActivateOutbound { .. } | SaOp::RemoveOutbound { .. } | SaOp::Update { .. } => {}
        }
        Ok(())
    }

    fn esp_sink(&self) -> Arc<dyn EspSink> {
        self.sink.clone()
    }

    fn counters(&self) -> Vec<SaCounters> {
        // It carries no traffic, so every SA's counters are honestly zero.
        self.spis
            .lock()
            .map(|t| {
                t.iter()
                    .map(|(spi_in, spi_out)| SaCounters {
                        spi_in: *spi_in,
                        spi_out: *spi_out,
                        ..SaCounters::default()
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn supports_transport_mode(&self) -> bool {
        // It carries nothing, so it can "carry" anything; but claiming
        // transport mode would make the engine accept what the real
        // backends refuse. Stay with what the userspace backend will do.
        false
    }
}
