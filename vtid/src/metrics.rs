//! The Prometheus/OpenMetrics endpoint (`vtid { metrics { listen, path,
//! sa_series } }`), off unless configured.
//!
//! # Shape
//!
//! * [`collect`] takes a [`Snapshot`] of the daemon on its event loop (a
//!   control [`Job`], like every control request): engine counters, the
//!   SAs, the data plane's per-SA counters (atomics the packet threads
//!   already keep), interfaces, gateways, the daemon's event counters
//!   ([`EventCounters`]). Nothing runs on the packet threads.
//! * [`render`] turns a snapshot into the OpenMetrics text with the
//!   `prometheus-client` crate, in the HTTP task.
//! * [`serve`] is a small HTTP/1.1 server on the daemon's runtime: `GET`
//!   of the path only, bounded request size, time and connections.
//!
//! Label cardinality is bounded: series are per daemon, connection,
//! interface, gateway and thread name (all from the configuration), and
//! per IKE/CHILD SA only with `sa_series = yes`, for at most
//! `sa_series_limit` IKE SAs.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tracing::{debug, info, warn};

use crate::control::Job;
use crate::daemon::Daemon;

/// Counters the daemon keeps from the engine's events.
#[derive(Debug, Default, Clone)]
pub struct EventCounters {
    /// IKE SAs established (IKE_AUTH completed), by connection.
    pub ike_up: BTreeMap<String, u64>,
    /// IKE SAs that failed before they were established, by reason.
    pub handshakes_failed: BTreeMap<&'static str, u64>,
    /// IKE SAs that went down, by reason.
    pub ike_down: BTreeMap<&'static str, u64>,
    /// IKE SA rekeys, by connection.
    pub ike_rekeys: BTreeMap<String, u64>,
    /// CHILD SA rekeys, by connection.
    pub child_rekeys: BTreeMap<String, u64>,
    /// CHILD SAs installed, by connection.
    pub child_up: BTreeMap<String, u64>,
}

/// The label value of a failure (a fixed set: bounded cardinality).
pub fn reason(f: &ike::engine::Failure) -> &'static str {
    use ike::engine::Failure as F;
    match f {
        F::Malformed(_) => "malformed",
        F::Protocol(_) => "protocol",
        F::NoProposal(_) => "no_proposal",
        F::TsUnacceptable(_) => "ts_unacceptable",
        F::AuthFailed(_) => "auth_failed",
        F::PeerError(_) => "peer_error",
        F::Timeout(_) => "timeout",
        F::Local(_) => "local",
        F::DeletedByPeer => "deleted_by_peer",
        F::DeletedLocally => "deleted_locally",
        F::Replaced => "replaced",
        F::Expired => "expired",
    }
}

impl EventCounters {
    /// Counts one engine event; `was_up` tells whether an IKE SA that
    /// went down had been established.
    pub fn count(
        &mut self,
        e: &ike::engine::Event,
        conn_of: impl Fn() -> Option<String>,
        was_up: bool,
    ) {
        use ike::engine::Event as E;
        match e {
            E::IkeUp(i) => *self.ike_up.entry(i.conn.clone()).or_default() += 1,
            E::IkeDown { reason: r, .. } => {
                *self.ike_down.entry(reason(r)).or_default() += 1;
                if !was_up {
                    *self.handshakes_failed.entry(reason(r)).or_default() += 1;
                }
            }
            E::IkeRekeyed { .. } => {
                if let Some(c) = conn_of() {
                    *self.ike_rekeys.entry(c).or_default() += 1;
                }
            }
            E::ChildUp { conn, .. } => *self.child_up.entry(conn.clone()).or_default() += 1,
            E::ChildRekeyed { .. } => {
                if let Some(c) = conn_of() {
                    *self.child_rekeys.entry(c).or_default() += 1;
                }
            }
            E::ChildDown { .. } => {}
        }
    }
}

/// One CHILD SA in a snapshot.
#[derive(Debug, Clone, Default)]
pub struct ChildSnap {
    /// Child name.
    pub name: String,
    /// Unique id.
    pub unique_id: u32,
    /// Traffic counters (inner bytes/packets, drops).
    pub counters: crate::dataplane::SaCounters,
}

/// One IKE SA in a snapshot.
#[derive(Debug, Clone, Default)]
pub struct IkeSnap {
    /// Connection.
    pub conn: String,
    /// Unique id.
    pub unique_id: u32,
    /// strongSwan's state name.
    pub state: &'static str,
    /// Seconds since it was established (None while connecting).
    pub established_secs: Option<f64>,
    /// Its CHILD SAs.
    pub children: Vec<ChildSnap>,
}

/// One interface in a snapshot.
#[derive(Debug, Clone, Default)]
pub struct IfaceSnap {
    /// `ipsecN`.
    pub name: String,
    /// An SA with its reqid is installed.
    pub up: bool,
    /// Summed counters of its SAs.
    pub counters: crate::dataplane::SaCounters,
    /// Its own drop counters (backends that keep them).
    pub drops: Option<crate::dataplane::InterfaceCounters>,
}

/// One gateway in a snapshot.
#[derive(Debug, Clone, Default)]
pub struct GatewaySnap {
    /// `IPSEC7_VTIV4`.
    pub name: String,
    /// Its interface.
    pub interface: String,
    /// Up (or unmonitored).
    pub up: bool,
    /// Loss, 0..1.
    pub loss: f64,
    /// Average round trip, seconds.
    pub rtt: Option<f64>,
}

/// Everything the endpoint shows, taken on the event loop.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Engine counters.
    pub stats: ike::engine::Stats,
    /// The daemon's event counters.
    pub events: EventCounters,
    /// Connections loaded.
    pub connections: Vec<String>,
    /// IKE SAs.
    pub ike_sas: Vec<IkeSnap>,
    /// Interfaces.
    pub interfaces: Vec<IfaceSnap>,
    /// Gateways.
    pub gateways: Vec<GatewaySnap>,
    /// Receive-side socket counters: (ike, keepalives, esp, runts,
    /// overflow, errors).
    pub net: [u64; 6],
    /// IKE_SA_INIT requests dropped because the init lane was full.
    pub init_overflow: u64,
    /// Inbound ESP the data plane dropped before any SA had it.
    pub esp: crate::dataplane::EspDrops,
    /// Send errors.
    pub send_errors: u64,
    /// The data plane's name.
    pub dataplane: &'static str,
    /// Resident memory, bytes.
    pub rss: Option<f64>,
    /// CPU seconds by thread name.
    pub thread_cpu: BTreeMap<String, f64>,
}

/// Takes a snapshot of the daemon (on its event loop; cheap: no I/O).
pub fn collect(d: &Daemon) -> Snapshot {
    let now = Instant::now();
    let counters = d.dp.counters();
    let sas = d.dp.sas();
    let ike_sas =
        d.ep.ike_sas()
            .into_iter()
            .map(|i| IkeSnap {
                conn: i.conn.clone(),
                unique_id: i.unique_id,
                state: i.state,
                established_secs: i
                    .established_at
                    .map(|t| now.saturating_duration_since(t).as_secs_f64()),
                children: i
                    .children
                    .iter()
                    .map(|c| ChildSnap {
                        name: c.name.clone(),
                        unique_id: c.unique_id,
                        counters: counters
                            .iter()
                            .find(|k| k.spi_in == c.spi_in)
                            .cloned()
                            .unwrap_or_default(),
                    })
                    .collect(),
            })
            .collect();
    let merged = d.merged();
    let drops = d.dp.interface_counters();
    let interfaces = merged
        .interfaces
        .iter()
        .map(|iface| {
            let mine = crate::control::sas_of(&merged.interfaces, iface, &sas);
            IfaceSnap {
                name: iface.name.clone(),
                up: !mine.is_empty(),
                counters: crate::control::sum_counters(&mine, &counters),
                drops: drops.iter().find(|x| x.name == iface.name).cloned(),
            }
        })
        .collect();
    let gateways = d
        .gateways()
        .into_iter()
        .map(|g| GatewaySnap {
            up: matches!(
                g.state,
                vti::gateway::GatewayState::Up | vti::gateway::GatewayState::Unmonitored
            ),
            name: g.name,
            interface: g.interface,
            loss: g.loss_percent / 100.0,
            rtt: g.rtt_avg.map(|r| r.as_secs_f64()),
        })
        .collect();
    let (rss, thread_cpu) = process();
    let n = &d.net_stats;
    let g = |a: &AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
    Snapshot {
        stats: d.ep.stats(),
        events: d.event_counters.clone(),
        connections: d.ep.peers().iter().map(|p| p.name.clone()).collect(),
        ike_sas,
        interfaces,
        gateways,
        net: [
            g(&n.ike),
            g(&n.keepalives),
            g(&n.esp),
            g(&n.runts),
            g(&n.overflow),
            g(&n.errors),
        ],
        init_overflow: g(&n.init_overflow),
        esp: d.dp.esp_drops(),
        send_errors: d.send_errors,
        dataplane: d.dp.name(),
        rss,
        thread_cpu,
    }
}

type Labels = Vec<(String, String)>;

fn l(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect()
}

struct Builder {
    reg: Registry,
}

impl Builder {
    fn gauge(&mut self, name: &str, help: &str) -> Family<Labels, Gauge<f64, AtomicU64>> {
        let f = Family::<Labels, Gauge<f64, AtomicU64>>::default();
        self.reg.register(name, help, f.clone());
        f
    }

    fn counter(&mut self, name: &str, help: &str) -> Family<Labels, Counter<u64>> {
        let f = Family::<Labels, Counter<u64>>::default();
        self.reg.register(name, help, f.clone());
        f
    }
}

fn set(f: &Family<Labels, Gauge<f64, AtomicU64>>, labels: Labels, v: f64) {
    f.get_or_create(&labels).set(v);
}

fn inc(f: &Family<Labels, Counter<u64>>, labels: Labels, v: u64) {
    f.get_or_create(&labels).inc_by(v);
}

/// Process memory (resident bytes) and CPU seconds per thread name, from
/// /proc/self (Linux).
fn process() -> (Option<f64>, BTreeMap<String, f64>) {
    let tick = 100.0; // USER_HZ on Linux
    let rss = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map(|pages| pages * 4096.0);
    let mut cpu = BTreeMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
        for t in dir.flatten() {
            let Ok(stat) = std::fs::read_to_string(t.path().join("stat")) else {
                continue;
            };
            // pid (comm) state ... utime(14) stime(15): after the last ')'.
            let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
                continue;
            };
            let comm = stat.get(open + 1..close).unwrap_or("?").to_string();
            let rest: Vec<&str> = stat
                .get(close + 1..)
                .unwrap_or("")
                .split_whitespace()
                .collect();
            let num = |i: usize| {
                rest.get(i)
                    .and_then(|v| v.parse::<f64>().ok())
                    .unwrap_or(0.0)
            };
            // rest[0] is the state (field 3): utime is field 14 = rest[11].
            *cpu.entry(comm).or_insert(0.0) += (num(11) + num(12)) / tick;
        }
    }
    (rss, cpu)
}

/// The OpenMetrics text of a snapshot. `sa_series`: per-SA series for at
/// most `limit` IKE SAs.
pub fn render(s: &Snapshot, sa_series: bool, limit: u32) -> String {
    let mut b = Builder {
        reg: Registry::with_prefix("vtid"),
    };
    let info = b.gauge("info", "vtid's version and data plane (value 1)");
    set(
        &info,
        l(&[
            ("version", env!("CARGO_PKG_VERSION")),
            ("dataplane", s.dataplane),
        ]),
        1.0,
    );
    let ike_sas = b.gauge("ike_sas", "IKE SAs by state");
    let mut by_state: BTreeMap<&str, u64> = BTreeMap::new();
    for i in &s.ike_sas {
        *by_state.entry(i.state).or_default() += 1;
    }
    for st in ["CONNECTING", "ESTABLISHED", "REKEYING", "DELETING"] {
        by_state.entry(st).or_default();
    }
    for (st, n) in &by_state {
        set(&ike_sas, l(&[("state", st)]), *n as f64);
    }
    set(
        &b.gauge("ike_sas_half_open", "Half-open IKE SAs (responder)"),
        vec![],
        s.stats.half_open as f64,
    );
    let st = &s.stats;
    for (name, help, v) in [
        (
            "ike_malformed",
            "IKE datagrams that did not parse",
            st.malformed,
        ),
        (
            "ike_unknown_spi",
            "IKE datagrams for IKE SAs vtid does not have",
            st.unknown_spi,
        ),
        (
            "ike_cookies_sent",
            "IKE_SA_INIT requests answered with a COOKIE",
            st.cookies_sent,
        ),
        (
            "ike_sa_init_dropped",
            "IKE_SA_INIT requests dropped (init_limit_half_open)",
            st.init_dropped,
        ),
        (
            "ike_datagrams_received",
            "IKE datagrams received (both ports)",
            s.net[0],
        ),
        (
            "nat_keepalives_received",
            "NAT keepalives received",
            s.net[1],
        ),
        (
            "esp_in_udp_received",
            "ESP-in-UDP datagrams handed to the data plane by the NAT-T socket",
            s.net[2],
        ),
        (
            "socket_runts",
            "Datagrams too short to be anything (dropped)",
            s.net[3],
        ),
        (
            "socket_overflow_drops",
            "IKE datagrams of established IKE SAs dropped at the socket because the event loop was busy",
            s.net[4],
        ),
        (
            "socket_init_overflow_drops",
            "IKE_SA_INIT requests dropped at the socket because the event loop was busy",
            s.init_overflow,
        ),
        (
            "ike_sa_init_received",
            "IKE_SA_INIT requests received (new and retransmitted, before the cookie and limit checks)",
            st.init_received,
        ),
        (
            "ike_retransmits",
            "IKE requests sent again because no response came",
            st.retransmits,
        ),
        (
            "ike_responses_resent",
            "IKE responses sent again because the peer retransmitted its request",
            st.responses_resent,
        ),
        (
            "ike_dpd_timeouts",
            "IKE SAs deleted because a liveness check (DPD) went unanswered",
            st.dpd_timeouts,
        ),
        (
            "esp_unknown_spi_drops",
            "Inbound ESP dropped because no SA has its SPI",
            s.esp.unknown_spi,
        ),
        (
            "esp_socket_overflow_drops",
            "Inbound ESP dropped by the kernel because a data-plane socket's queue was full",
            s.esp.socket_overflow,
        ),
        (
            "socket_receive_errors",
            "Receive errors on the IKE sockets",
            s.net[5],
        ),
        (
            "send_errors",
            "IKE datagrams that could not be sent",
            s.send_errors,
        ),
    ] {
        inc(&b.counter(name, help), vec![], v);
    }
    let up = b.counter("ike_sa_established", "IKE SAs established, by connection");
    let child_up = b.counter("child_sa_installed", "CHILD SAs installed, by connection");
    let ike_rekeys = b.counter("ike_sa_rekeys", "IKE SA rekeys, by connection");
    let child_rekeys = b.counter("child_sa_rekeys", "CHILD SA rekeys, by connection");
    let conn_ike = b.gauge("connection_ike_sas", "IKE SAs of a connection");
    let conn_child = b.gauge("connection_child_sas", "CHILD SAs of a connection");
    let bytes = b.counter(
        "connection_bytes",
        "Inner bytes of a connection's CHILD SAs",
    );
    let packets = b.counter("connection_packets", "Packets of a connection's CHILD SAs");
    let drops = b.counter(
        "connection_drops",
        "Inbound ESP dropped on a connection's CHILD SAs, by reason (replay, auth, selector)",
    );
    for c in &s.connections {
        let cl = || l(&[("conn", c)]);
        inc(&up, cl(), s.events.ike_up.get(c).copied().unwrap_or(0));
        inc(
            &child_up,
            cl(),
            s.events.child_up.get(c).copied().unwrap_or(0),
        );
        inc(
            &ike_rekeys,
            cl(),
            s.events.ike_rekeys.get(c).copied().unwrap_or(0),
        );
        inc(
            &child_rekeys,
            cl(),
            s.events.child_rekeys.get(c).copied().unwrap_or(0),
        );
        let mine: Vec<&IkeSnap> = s.ike_sas.iter().filter(|i| &i.conn == c).collect();
        set(&conn_ike, cl(), mine.len() as f64);
        let mut sum = crate::dataplane::SaCounters::default();
        let mut n = 0;
        for i in &mine {
            for ch in &i.children {
                n += 1;
                sum.add(&ch.counters);
            }
        }
        set(&conn_child, cl(), n as f64);
        inc(&bytes, l(&[("conn", c), ("direction", "in")]), sum.bytes_in);
        inc(
            &bytes,
            l(&[("conn", c), ("direction", "out")]),
            sum.bytes_out,
        );
        inc(
            &packets,
            l(&[("conn", c), ("direction", "in")]),
            sum.packets_in,
        );
        inc(
            &packets,
            l(&[("conn", c), ("direction", "out")]),
            sum.packets_out,
        );
        inc(
            &drops,
            l(&[("conn", c), ("reason", "replay")]),
            sum.replay_drops,
        );
        inc(
            &drops,
            l(&[("conn", c), ("reason", "auth")]),
            sum.auth_failures,
        );
        inc(
            &drops,
            l(&[("conn", c), ("reason", "selector")]),
            sum.ts_violations,
        );
    }
    let failed = b.counter(
        "ike_handshakes_failed",
        "IKE SAs that failed before they were established, by reason",
    );
    let down = b.counter(
        "ike_sa_down",
        "IKE SAs gone, by reason (timeout: the peer stopped answering, DPD included)",
    );
    for (r, n) in &s.events.handshakes_failed {
        inc(&failed, l(&[("reason", r)]), *n);
    }
    for (r, n) in &s.events.ike_down {
        inc(&down, l(&[("reason", r)]), *n);
    }
    let if_up = b.gauge(
        "interface_up",
        "1 while a CHILD SA with the interface's reqid is installed",
    );
    let if_bytes = b.counter("interface_bytes", "Inner bytes through an ipsecN interface");
    let if_packets = b.counter("interface_packets", "Packets through an ipsecN interface");
    let if_drops = b.counter(
        "interface_drops",
        "Packets dropped on an interface, by reason: inbound ESP of its SAs (replay, auth, \
         selector), decrypted packets the TUN refused (tun_write), packets read from it that \
         no SA carries (no_sa), too big for the path (too_big), unparseable (malformed), ESP \
         the socket did not send (send_error)",
    );
    for i in &s.interfaces {
        let n = i.name.as_str();
        set(&if_up, l(&[("interface", n)]), f64::from(u8::from(i.up)));
        inc(
            &if_bytes,
            l(&[("interface", n), ("direction", "in")]),
            i.counters.bytes_in,
        );
        inc(
            &if_bytes,
            l(&[("interface", n), ("direction", "out")]),
            i.counters.bytes_out,
        );
        inc(
            &if_packets,
            l(&[("interface", n), ("direction", "in")]),
            i.counters.packets_in,
        );
        inc(
            &if_packets,
            l(&[("interface", n), ("direction", "out")]),
            i.counters.packets_out,
        );
        inc(
            &if_drops,
            l(&[("interface", n), ("reason", "replay")]),
            i.counters.replay_drops,
        );
        inc(
            &if_drops,
            l(&[("interface", n), ("reason", "auth")]),
            i.counters.auth_failures,
        );
        inc(
            &if_drops,
            l(&[("interface", n), ("reason", "selector")]),
            i.counters.ts_violations,
        );
        if let Some(d) = &i.drops {
            for (reason, v) in [
                ("tun_write", d.tun_write_errors),
                ("no_sa", d.no_sa_drops),
                ("too_big", d.too_big),
                ("malformed", d.malformed),
                ("send_error", d.send_errors),
            ] {
                inc(&if_drops, l(&[("interface", n), ("reason", reason)]), v);
            }
        }
    }
    let gw_up = b.gauge(
        "gateway_up",
        "Gateway monitor verdict (1 up or unmonitored)",
    );
    let gw_loss = b.gauge("gateway_loss_ratio", "Gateway monitor packet loss, 0..1");
    let gw_rtt = b.gauge("gateway_rtt_seconds", "Gateway monitor average round trip");
    for g in &s.gateways {
        let gl = || l(&[("gateway", &g.name), ("interface", &g.interface)]);
        set(&gw_up, gl(), f64::from(u8::from(g.up)));
        set(&gw_loss, gl(), g.loss);
        if let Some(r) = g.rtt {
            set(&gw_rtt, gl(), r);
        }
    }
    if let Some(r) = s.rss {
        set(
            &b.gauge("process_resident_memory_bytes", "Resident memory of vtid"),
            vec![],
            r,
        );
    }
    let thread_cpu = b.gauge(
        "thread_cpu_seconds",
        "CPU time (user + system) of vtid's threads, summed by thread name (data-plane threads, the event loop)",
    );
    for (name, secs) in &s.thread_cpu {
        set(&thread_cpu, l(&[("thread", name)]), *secs);
    }
    if sa_series {
        let est = b.gauge(
            "ike_sa_established_seconds",
            "Seconds since the IKE SA was established",
        );
        let cbytes = b.counter("child_sa_bytes", "Inner bytes of a CHILD SA");
        let cpackets = b.counter("child_sa_packets", "Packets of a CHILD SA");
        let cdrops = b.counter(
            "child_sa_drops",
            "Inbound ESP a CHILD SA dropped, by reason (replay, auth, selector)",
        );
        let omitted = b.gauge(
            "metrics_sa_series_omitted",
            "IKE SAs without series of their own (beyond sa_series_limit)",
        );
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        set(
            &omitted,
            vec![],
            s.ike_sas.len().saturating_sub(limit) as f64,
        );
        for i in s.ike_sas.iter().take(limit) {
            let uid = i.unique_id.to_string();
            if let Some(e) = i.established_secs {
                set(&est, l(&[("conn", &i.conn), ("uniqueid", &uid)]), e);
            }
            for c in &i.children {
                let cu = c.unique_id.to_string();
                for (dir, by, pk) in [
                    ("in", c.counters.bytes_in, c.counters.packets_in),
                    ("out", c.counters.bytes_out, c.counters.packets_out),
                ] {
                    let cl = l(&[
                        ("conn", &i.conn),
                        ("child", &c.name),
                        ("uniqueid", &cu),
                        ("direction", dir),
                    ]);
                    inc(&cbytes, cl.clone(), by);
                    inc(&cpackets, cl, pk);
                }
                for (reason, v) in [
                    ("replay", c.counters.replay_drops),
                    ("auth", c.counters.auth_failures),
                    ("selector", c.counters.ts_violations),
                ] {
                    let cl = l(&[
                        ("conn", &i.conn),
                        ("child", &c.name),
                        ("uniqueid", &cu),
                        ("reason", reason),
                    ]);
                    inc(&cdrops, cl, v);
                }
            }
        }
    }
    let mut out = String::new();
    if encode(&mut out, &b.reg).is_err() {
        out = "# EOF\n".into();
    }
    out
}

/// Most connections served at once.
const MAX_CLIENTS: usize = 16;
/// Longest request head read.
const MAX_REQUEST: usize = 8192;
/// Time a client has to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Binds `cfg.listen` and serves `cfg.path` in a task of its own;
/// snapshots come from the event loop over `jobs`.
pub async fn serve(
    cfg: &config::Metrics,
    jobs: mpsc::Sender<Job>,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let listener = TcpListener::bind(cfg.listen).await?;
    info!(
        "metrics: serving http://{}{} (OpenMetrics)",
        listener.local_addr()?,
        cfg.path
    );
    let cfg = Arc::new(cfg.clone());
    let slots = Arc::new(Semaphore::new(MAX_CLIENTS));
    Ok(tokio::spawn(async move {
        loop {
            let Ok((stream, peer)) = listener.accept().await else {
                continue;
            };
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                debug!("metrics: too many clients, dropping {peer}");
                continue;
            };
            let (cfg, jobs) = (cfg.clone(), jobs.clone());
            tokio::spawn(async move {
                if let Err(e) = client(stream, &cfg, jobs).await {
                    debug!("metrics: client {peer}: {e}");
                }
                drop(permit);
            });
        }
    }))
}

async fn client(
    mut stream: TcpStream,
    cfg: &config::Metrics,
    jobs: mpsc::Sender<Job>,
) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    let head = tokio::time::timeout(REQUEST_TIMEOUT, async {
        let mut chunk = [0u8; 1024];
        loop {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok::<bool, std::io::Error>(false);
            }
            buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
            if buf.windows(4).any(|w| w == b"\r\n\r\n") || buf.windows(2).any(|w| w == b"\n\n") {
                return Ok(true);
            }
            if buf.len() > MAX_REQUEST {
                return Ok(false);
            }
        }
    })
    .await;
    let complete = matches!(head, Ok(Ok(true)));
    if !complete {
        return respond(
            &mut stream,
            "400 Bad Request",
            "text/plain",
            "bad request\n",
        )
        .await;
    }
    let text = String::from_utf8_lossy(&buf);
    let mut first = text.lines().next().unwrap_or("").split_whitespace();
    let (method, target) = (first.next().unwrap_or(""), first.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    if path != cfg.path {
        return respond(&mut stream, "404 Not Found", "text/plain", "not found\n").await;
    }
    if method != "GET" && method != "HEAD" {
        return respond(
            &mut stream,
            "405 Method Not Allowed",
            "text/plain",
            "GET only\n",
        )
        .await;
    }
    let (tx, rx) = oneshot::channel();
    let job: Job = Box::new(move |d: &mut Daemon| {
        let _ = tx.send(collect(d));
    });
    if jobs.send(job).await.is_err() {
        return respond(
            &mut stream,
            "503 Service Unavailable",
            "text/plain",
            "stopping\n",
        )
        .await;
    }
    let snap = match tokio::time::timeout(REQUEST_TIMEOUT, rx).await {
        Ok(Ok(s)) => s,
        _ => {
            warn!("metrics: no snapshot from the event loop within {REQUEST_TIMEOUT:?}");
            return respond(
                &mut stream,
                "503 Service Unavailable",
                "text/plain",
                "busy\n",
            )
            .await;
        }
    };
    let body = render(&snap, cfg.sa_series, cfg.sa_series_limit);
    let body = if method == "HEAD" {
        String::new()
    } else {
        body
    };
    respond(
        &mut stream,
        "200 OK",
        "application/openmetrics-text; version=1.0.0; charset=utf-8",
        &body,
    )
    .await
}

async fn respond(
    stream: &mut TcpStream,
    status: &str,
    ctype: &str,
    body: &str,
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(n: usize) -> Snapshot {
        let mut s = Snapshot {
            connections: vec!["rw".into()],
            dataplane: "record",
            ..Snapshot::default()
        };
        for u in 0..n {
            s.ike_sas.push(IkeSnap {
                conn: "rw".into(),
                unique_id: u as u32 + 1,
                state: "ESTABLISHED",
                established_secs: Some(1.0),
                children: vec![ChildSnap {
                    name: "net".into(),
                    unique_id: u as u32 + 1000,
                    counters: crate::dataplane::SaCounters {
                        bytes_in: 10,
                        ..Default::default()
                    },
                }],
            });
        }
        s
    }

    /// Thousands of road warriors: without sa_series the output does not
    /// grow with them; with it, at most `limit` IKE SAs get series.
    #[test]
    fn cardinality_is_bounded() {
        let few = render(&snap(3), false, 256);
        let many = render(&snap(3000), false, 256);
        let series = |t: &str| t.lines().filter(|l| !l.starts_with('#')).count();
        assert_eq!(series(&few), series(&many));
        assert!(
            many.contains("vtid_connection_ike_sas{conn=\"rw\"} 3000"),
            "{many}"
        );
        assert!(many.contains("vtid_connection_bytes_total{conn=\"rw\",direction=\"in\"} 30000"));
        let per_sa = render(&snap(3000), true, 10);
        assert_eq!(
            per_sa
                .lines()
                .filter(|l| l.starts_with("vtid_ike_sa_established_seconds{"))
                .count(),
            10
        );
        assert!(
            per_sa.contains("vtid_metrics_sa_series_omitted 2990"),
            "{per_sa}"
        );
        assert!(per_sa.ends_with("# EOF\n"));
    }
}
