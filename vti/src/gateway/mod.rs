//! Automatic gateways of routed (VTI) interfaces, with monitoring.
//!
//! pfSense gives every assigned `ipsecN` interface a gateway per address
//! family, named after the interface (`OPT3_VTIV4`), whose address is the
//! remote transit address and which dpinger monitors; static routes,
//! policy routing and gateway groups use it. vtid does the same with the
//! `ipsecN` name itself: `ipsec7` gets `IPSEC7_VTIV4` and `IPSEC7_VTIV6`
//! ([`gateway_name`]), one for each family with a `remote_addr`.
//!
//! [`GatewaySpec::for_interface`] derives the gateways of a configured
//! interface; [`Gateway::spawn`] starts one tokio task per gateway which
//! sends ICMP/ICMPv6 echo requests through the interface (see [`icmp`]),
//! feeds the sans-I/O [`Monitor`] (loss, latency, hold-down; the rule is
//! documented in [`monitor`]), publishes its [`GatewayStatus`] and sends a
//! [`GatewayEvent`] on every state change (for the control socket and for
//! withdrawing routes), logging it (`gateway IPSEC7_VTIV4 is down: 100%
//! loss (3 lost in a row)`). [`Gateways`] holds all of them for `vtictl
//! gateways`.
//!
//! ```no_run
//! # async fn f(cfg: config::Config) {
//! let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
//! let gws = vti::gateway::Gateways::spawn(&cfg.interfaces, tx);
//! while let Some(ev) = rx.recv().await {
//!     println!("{} is {}", ev.name, ev.to);
//! }
//! # drop(gws); }
//! ```

pub mod icmp;
pub mod monitor;

use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

pub use monitor::{GatewayState, Monitor, MonitorSettings, Stats, Transition};

use icmp::EchoSocket;

/// An address family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

impl Family {
    /// The family of an address.
    pub fn of(a: IpAddr) -> Family {
        match a {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    /// pfSense's suffix: `VTIV4` or `VTIV6`.
    pub fn suffix(self) -> &'static str {
        match self {
            Family::V4 => "VTIV4",
            Family::V6 => "VTIV6",
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::V4 => "inet",
            Family::V6 => "inet6",
        })
    }
}

/// The gateway name of `interface` for `family`, pfSense style: the
/// interface name in upper case, `_`, and `VTIV4`/`VTIV6` (pfSense uses the
/// assigned interface's description, e.g. `OPT3_VTIV4`; vtid has no
/// assignments and uses the `ipsecN` name): `ipsec7` → `IPSEC7_VTIV4`.
pub fn gateway_name(interface: &str, family: Family) -> String {
    format!("{}_{}", interface.to_ascii_uppercase(), family.suffix())
}

/// What a gateway probes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MonitorTarget {
    /// Nothing: the gateway is always [`GatewayState::Unmonitored`] (up).
    Off,
    /// The gateway address itself, the remote transit address (pfSense's
    /// default when no monitor IP is set).
    Gateway,
    /// Another address reachable through the tunnel.
    Address(IpAddr),
}

/// One gateway to run.
#[derive(Clone, Debug, PartialEq)]
pub struct GatewaySpec {
    /// `IPSEC7_VTIV4`.
    pub name: String,
    /// The VTI, `ipsec7`.
    pub interface: String,
    /// The family.
    pub family: Family,
    /// The gateway address: the remote transit address.
    pub gateway: IpAddr,
    /// The local transit address of this family (the probes' source), if
    /// the interface has one.
    pub source: Option<IpAddr>,
    /// What to probe.
    pub monitor: MonitorTarget,
    /// Timers and thresholds.
    pub settings: MonitorSettings,
}

impl GatewaySpec {
    /// The gateways of a configured interface: one per family that has a
    /// `remote_addr` (the first of that family).
    ///
    /// `monitor`: an explicit address is probed by the gateway of its
    /// family; a gateway without one probes its own address (the remote
    /// transit address), like pfSense. Note that vtid-config reads
    /// `monitor = off` and an absent `monitor` both as `None`, so both mean
    /// "probe the gateway address" here until the config model can say
    /// "off" (then map it to [`MonitorTarget::Off`]).
    pub fn for_interface(iface: &config::Interface) -> Vec<GatewaySpec> {
        let mut out = Vec::new();
        for family in [Family::V4, Family::V6] {
            let Some(gateway) = iface
                .remote_addrs
                .iter()
                .copied()
                .find(|a| Family::of(*a) == family)
            else {
                continue;
            };
            let source = iface
                .local_addrs
                .iter()
                .map(|n| n.addr)
                .find(|a| Family::of(*a) == family);
            let monitor = match iface.monitor {
                config::Monitor::Off => MonitorTarget::Off,
                config::Monitor::Address(a) if Family::of(a) == family => MonitorTarget::Address(a),
                _ => MonitorTarget::Gateway,
            };
            out.push(GatewaySpec {
                name: gateway_name(&iface.name, family),
                interface: iface.name.clone(),
                family,
                gateway,
                source,
                monitor,
                settings: MonitorSettings::new(iface.monitor_interval),
            });
        }
        out
    }

    /// The address probed, if any.
    pub fn monitor_addr(&self) -> Option<IpAddr> {
        match self.monitor {
            MonitorTarget::Off => None,
            MonitorTarget::Gateway => Some(self.gateway),
            MonitorTarget::Address(a) => Some(a),
        }
    }
}

/// What `vtictl gateways` shows of a gateway.
#[derive(Clone, Debug, PartialEq)]
pub struct GatewayStatus {
    /// `IPSEC7_VTIV4`.
    pub name: String,
    /// `ipsec7`.
    pub interface: String,
    /// The family.
    pub family: Family,
    /// The gateway address.
    pub gateway: IpAddr,
    /// The address probed (None: monitoring off).
    pub monitor: Option<IpAddr>,
    /// The probes' source address.
    pub source: Option<IpAddr>,
    /// The state.
    pub state: GatewayState,
    /// Loss over the window, percent.
    pub loss_percent: f64,
    /// Average RTT over the window.
    pub rtt_avg: Option<Duration>,
    /// Standard deviation of the RTT.
    pub rtt_stddev: Option<Duration>,
    /// Echo requests sent and replies received since the start.
    pub sent: u64,
    /// Replies accepted.
    pub received: u64,
    /// When the state last changed (or monitoring started).
    pub last_change: SystemTime,
    /// Why it is in this state (the last transition's reason).
    pub reason: String,
    /// The last socket error, if probes cannot be sent.
    pub error: Option<String>,
}

/// A gateway's state changed.
#[derive(Clone, Debug, PartialEq)]
pub struct GatewayEvent {
    /// `IPSEC7_VTIV4`.
    pub name: String,
    /// `ipsec7`.
    pub interface: String,
    /// The family.
    pub family: Family,
    /// The state before.
    pub from: GatewayState,
    /// The state now.
    pub to: GatewayState,
    /// Why.
    pub reason: String,
    /// The status right after the change.
    pub status: GatewayStatus,
}

/// A running gateway monitor (one tokio task). Dropping it stops the task.
#[derive(Debug)]
pub struct Gateway {
    spec: GatewaySpec,
    status: watch::Receiver<GatewayStatus>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Gateway {
    /// Starts monitoring (inside a tokio runtime; sockets are opened in the
    /// network namespace of the runtime's threads). State changes go to
    /// `events`; a closed receiver is ignored.
    pub fn spawn(spec: GatewaySpec, events: mpsc::UnboundedSender<GatewayEvent>) -> Gateway {
        let initial = GatewayStatus {
            name: spec.name.clone(),
            interface: spec.interface.clone(),
            family: spec.family,
            gateway: spec.gateway,
            monitor: spec.monitor_addr(),
            source: spec.source,
            state: if spec.monitor_addr().is_some() {
                GatewayState::Pending
            } else {
                GatewayState::Unmonitored
            },
            loss_percent: 0.0,
            rtt_avg: None,
            rtt_stddev: None,
            sent: 0,
            received: 0,
            last_change: SystemTime::now(),
            reason: String::new(),
            error: None,
        };
        let (status_tx, status) = watch::channel(initial.clone());
        let (stop, stop_rx) = oneshot::channel();
        let task = spec.monitor_addr().map(|target| {
            tokio::spawn(run(
                spec.clone(),
                target,
                initial,
                status_tx,
                events,
                stop_rx,
            ))
        });
        Gateway {
            spec,
            status,
            stop: Some(stop),
            task,
        }
    }

    /// What it runs.
    pub fn spec(&self) -> &GatewaySpec {
        &self.spec
    }

    /// The current status.
    pub fn status(&self) -> GatewayStatus {
        self.status.borrow().clone()
    }

    /// A receiver that sees every status update.
    pub fn subscribe(&self) -> watch::Receiver<GatewayStatus> {
        self.status.clone()
    }

    /// Stops the task and waits for it to end.
    pub async fn shutdown(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}

/// All gateways of the configured interfaces.
#[derive(Debug, Default)]
pub struct Gateways {
    list: Vec<Gateway>,
}

impl Gateways {
    /// Starts the gateways of every interface ([`GatewaySpec::for_interface`]).
    pub fn spawn(
        interfaces: &[config::Interface],
        events: mpsc::UnboundedSender<GatewayEvent>,
    ) -> Gateways {
        Gateways::from_specs(
            interfaces.iter().flat_map(GatewaySpec::for_interface),
            events,
        )
    }

    /// Starts the given gateways (e.g. with adjusted settings).
    pub fn from_specs(
        specs: impl IntoIterator<Item = GatewaySpec>,
        events: mpsc::UnboundedSender<GatewayEvent>,
    ) -> Gateways {
        let list = specs
            .into_iter()
            .map(|spec| Gateway::spawn(spec, events.clone()))
            .collect();
        Gateways { list }
    }

    /// The gateways, in interface then family order.
    pub fn iter(&self) -> impl Iterator<Item = &Gateway> {
        self.list.iter()
    }

    /// One gateway by name.
    pub fn get(&self, name: &str) -> Option<&Gateway> {
        self.list.iter().find(|g| g.spec.name == name)
    }

    /// Every gateway's status (for `vtictl gateways`).
    pub fn status(&self) -> Vec<GatewayStatus> {
        self.list.iter().map(Gateway::status).collect()
    }

    /// Stops every task.
    pub async fn shutdown(self) {
        for g in self.list {
            g.shutdown().await;
        }
    }
}

async fn recv_opt(sock: Option<&EchoSocket>) -> std::io::Result<u16> {
    match sock {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

async fn run(
    spec: GatewaySpec,
    target: IpAddr,
    mut status: GatewayStatus,
    status_tx: watch::Sender<GatewayStatus>,
    events: mpsc::UnboundedSender<GatewayEvent>,
    mut stop: oneshot::Receiver<()>,
) {
    let span = tracing::info_span!("gateway", name = %spec.name, monitor = %target);
    let mut mon = Monitor::new(spec.settings.clone(), Instant::now());
    let mut sock: Option<EchoSocket> = None;
    tracing::debug!(parent: &span, "monitoring {} via {}", target, spec.interface);
    loop {
        let now = Instant::now();
        while let Some(seq) = mon.poll_probe(now) {
            if sock.is_none() {
                match EchoSocket::open(target, spec.source, &spec.interface) {
                    Ok(s) => {
                        if status.error.take().is_some() {
                            tracing::info!(parent: &span, "gateway {}: probing again", spec.name);
                        }
                        sock = Some(s);
                    }
                    Err(e) => note_error(&span, &spec, &mut status, "socket", &e),
                }
            }
            let sent = match &sock {
                Some(s) => match s.send(seq) {
                    Ok(()) => true,
                    Err(e) => {
                        // The interface or address may have gone: reopen.
                        note_error(&span, &spec, &mut status, "send", &e);
                        sock = None;
                        false
                    }
                },
                None => false,
            };
            if !sent {
                mon.on_send_failed(now, seq);
            }
        }
        mon.handle_timeout(now);
        while let Some(t) = mon.poll_transition() {
            status.state = t.to;
            status.last_change = SystemTime::now();
            status.reason = t.reason.clone();
            fill_stats(&mut status, &mon.stats());
            tracing::info!(
                parent: &span,
                "gateway {} is {}: {}",
                spec.name,
                t.to,
                t.reason
            );
            let _ = events.send(GatewayEvent {
                name: spec.name.clone(),
                interface: spec.interface.clone(),
                family: spec.family,
                from: t.from,
                to: t.to,
                reason: t.reason,
                status: status.clone(),
            });
        }
        fill_stats(&mut status, &mon.stats());
        status_tx.send_if_modified(|s| {
            if *s != status {
                *s = status.clone();
                true
            } else {
                false
            }
        });
        let wake = tokio::time::Instant::from_std(mon.poll_timeout());
        tokio::select! {
            _ = &mut stop => break,
            _ = tokio::time::sleep_until(wake) => {}
            r = recv_opt(sock.as_ref()) => match r {
                Ok(seq) => mon.on_reply(Instant::now(), seq),
                Err(e) => {
                    note_error(&span, &spec, &mut status, "receive", &e);
                    sock = None;
                }
            },
        }
    }
    tracing::debug!(parent: &span, "monitor stopped");
}

fn fill_stats(status: &mut GatewayStatus, s: &Stats) {
    status.loss_percent = s.loss_percent;
    status.rtt_avg = s.rtt_avg;
    status.rtt_stddev = s.rtt_stddev;
    status.sent = s.sent;
    status.received = s.received;
}

fn note_error(
    span: &tracing::Span,
    spec: &GatewaySpec,
    status: &mut GatewayStatus,
    what: &str,
    e: &std::io::Error,
) {
    let msg = format!("{what}: {e}");
    // Log the first of a run of errors only; probes go on every interval.
    if status.error.as_deref() != Some(msg.as_str()) {
        tracing::warn!(parent: span, "gateway {}: cannot probe ({msg})", spec.name);
    }
    status.error = Some(msg);
}
