//! The daemon: one tokio task owns the [`Endpoint`] and is fed by the
//! sockets' receive threads (on two lanes, [`crate::net`]), the data
//! plane's reports, its timer, the control socket and the signals. After
//! every input it drains the engine's transmits, data-plane actions and
//! events.
//!
//! Inputs are served in a fixed order: messages of established IKE SAs,
//! data-plane reports, timers, signals, control requests, gateway events,
//! and only then one IKE_SA_INIT request, so a flood of IKE_SA_INITs never
//! delays DPD, rekeys, deletes or the control socket by more than one
//! IKE_SA_INIT's work. The handling of IKE_SA_INITs beyond a log budget is
//! not logged ([`crate::flood`]); a summary every ten seconds says what a
//! flood did.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ike::engine::{Action, Datagram, Endpoint, EngineConfig, Event, Failure};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;
use tracing::{debug, error, info, info_span, warn};

use crate::control::{self, Hub, Job};
use crate::convert::Resolved;
use crate::convert::{self, HostEnv, ReqidMap};
use crate::dataplane::Report;
use crate::flood::{self, FloodWatch};
use crate::kernel_ipsec::KernelIpsec;
use crate::logging::LogHandle;
use crate::net::{IkeLanes, IkeQueue, Inbound, NetStats, Sockets};
use crate::routing::{self, Routing};

/// How long shutdown waits for the peers to answer our DELETEs.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);
/// How often the userspace data plane re-reads the path MTU towards its
/// peers (a changed underlay MTU or a learned PMTU).
pub const PATH_MTU_REFRESH: Duration = Duration::from_secs(30);

/// The data-plane backend to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataplaneKind {
    /// The best available ([`crate::platform::start_dataplane`]): on Linux
    /// kernel ESP (XFRM) when the kernel has ESP and xfrm interfaces, else
    /// the userspace data plane; on FreeBSD PF_KEY with `if_ipsec`.
    Auto,
    /// vtid's userspace ESP over TUN (`vti::dataplane`).
    Userspace,
    /// Linux XFRM netlink with xfrm interfaces (kernel ESP).
    Xfrm,
    /// PF_KEY v2 with if_ipsec (FreeBSD).
    Pfkey,
    /// Keep a table, carry nothing (tests, dry runs).
    Record,
}

impl DataplaneKind {
    /// Parses `--dataplane`.
    pub fn parse(s: &str) -> Option<DataplaneKind> {
        Some(match s {
            "auto" => DataplaneKind::Auto,
            "userspace" => DataplaneKind::Userspace,
            "xfrm" => DataplaneKind::Xfrm,
            "pfkey" => DataplaneKind::Pfkey,
            "record" => DataplaneKind::Record,
            _ => return None,
        })
    }
}

/// Command-line options.
#[derive(Clone, Debug)]
pub struct Options {
    /// `--config`.
    pub config: PathBuf,
    /// `--strongswan-conf`: a strongswan.conf whose `charon { }` section
    /// sets the daemon settings (re-read on reload too).
    pub strongswan_conf: Option<PathBuf>,
    /// `--vici` (None: the config's `vtid.vici.socket`, else
    /// [`config::paths::VICI_SOCKET`]).
    pub vici: Option<PathBuf>,
    /// `--dataplane` (None: from the config).
    pub dataplane: Option<DataplaneKind>,
    /// `--log-level`.
    pub log_level: Option<String>,
}

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration could not be loaded.
    #[error("{0}")]
    Config(#[from] config::ConfigError),
    /// The sockets could not be bound.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The data plane could not start.
    #[error("{0}")]
    Dataplane(String),
}

fn log_config_warnings(loaded: &config::Loaded, conv: &convert::Converted) {
    for w in &loaded.warnings {
        warn!(target: "vtid::convert", "{w}");
    }
    for w in &conv.warnings {
        warn!(target: "vtid::convert", "{w}");
    }
}

/// The running daemon.
#[derive(Debug)]
pub struct Daemon {
    pub(crate) opts: Options,
    pub(crate) log: LogHandle,
    pub(crate) ep: Endpoint,
    pub(crate) engine_cfg: EngineConfig,
    sockets: Sockets,
    pub(crate) dp: KernelIpsec,
    dp_rx: mpsc::UnboundedReceiver<Report>,
    pub(crate) net_stats: Arc<NetStats>,
    pub(crate) reqids: ReqidMap,
    pub(crate) start: Vec<(String, String)>,
    /// Children to initiate once their connection's IKE SA is up (the
    /// engine starts a second IKE SA if asked while the first connects).
    pending_children: BTreeMap<String, Vec<String>>,
    local_v4: Option<SocketAddr>,
    local_v6: Option<SocketAddr>,
    pub(crate) send_errors: u64,
    /// Log budgets and counters for the flood summary.
    flood: FloodWatch,
    /// The configuration file as last loaded (start or SIGHUP).
    pub(crate) file_cfg: config::Config,
    /// Connections and secrets loaded over VICI; a SIGHUP leaves them be.
    pub(crate) vici: control::ViciLoaded,
    /// Virtual IP pools (the file's and VICI's) and their leases; a SIGHUP
    /// keeps the leases of unchanged pools.
    pub(crate) pools: aaa::Pools,
    /// The control socket's side of the event loop.
    pub(crate) hub: Hub,
    jobs: mpsc::Receiver<Job>,
    jobs_tx: mpsc::Sender<Job>,
    /// Gateways of the interfaces and the updown hook.
    routing: Routing,
    /// `remote_addrs` of connections that name DNS hosts, resolved again
    /// before each initiation (issue 15 §4).
    pub(crate) dns: BTreeMap<String, Vec<config::HostSpec>>,
    /// Certificates, keys, CRLs and authorities (swanctl folders, VICI).
    pub(crate) creds: Arc<pki::SharedStore>,
    /// The service manager's notification socket (`NOTIFY_SOCKET`).
    notify: Option<crate::notify::Notifier>,
    /// Counters of engine events, for the metrics endpoint.
    pub(crate) event_counters: crate::metrics::EventCounters,
    /// The Wireshark key log, when asked for (`vtid.keylog`, `vtictl
    /// keylog`).
    keylog: Option<crate::keylog::KeyLog>,
}

fn vici_path(opts: &Options, cfg: &config::Config) -> PathBuf {
    if let Some(p) = &opts.vici {
        return p.clone();
    }
    let s = &cfg.daemon.vici.socket;
    PathBuf::from(s.strip_prefix("unix://").unwrap_or(s))
}

impl Daemon {
    /// Loads the configuration, binds the sockets and builds the engine.
    pub fn start(opts: Options, log: LogHandle) -> Result<(Daemon, IkeLanes), StartError> {
        let loaded = config::load_files(&opts.config, opts.strongswan_conf.as_deref())?;
        log.apply(&loaded.config.daemon, true);
        let (dp_tx, dp_rx) = mpsc::unbounded_channel();
        let net_stats = Arc::new(NetStats::default());
        let (tx, rx) = IkeQueue::new(net_stats.clone());
        let kind = opts
            .dataplane
            .unwrap_or(match loaded.config.daemon.dataplane {
                config::Dataplane::Auto => DataplaneKind::Auto,
                config::Dataplane::Userspace => DataplaneKind::Userspace,
                config::Dataplane::Xfrm => DataplaneKind::Xfrm,
                config::Dataplane::Pfkey => DataplaneKind::Pfkey,
            });
        let port_nat_t = loaded.config.daemon.port_nat_t;
        let dp =
            crate::platform::start_dataplane(kind, &loaded.config, port_nat_t, tx.clone(), dp_tx)
                .map_err(StartError::Dataplane)?;
        let dp = KernelIpsec::new(dp, &loaded.config, port_nat_t);
        let mut routing = Routing::new(&loaded.config);
        if dp.watches_gateways() {
            routing.start_gateways();
        }
        let conv = convert::convert(
            &loaded.config,
            &ReqidMap::new(),
            &convert::SystemEnv,
            dp.supports_transport_mode(),
        );
        log_config_warnings(&loaded, &conv);
        let sockets = Sockets::bind(
            conv.engine.port,
            (!dp.owns_nat_t()).then_some(conv.engine.port_nat_t),
        )?;
        for s in &sockets.list {
            dp.prepare_socket(s.as_fd(), s.bound, s.nat_t)
                .map_err(|e| StartError::Dataplane(e.to_string()))?;
        }
        for s in &sockets.list {
            info!(target: "vtid::net", "listening on UDP {}{}", s.bound, if s.nat_t { " (NAT-T)" } else { "" });
        }
        let mut ep = Endpoint::new(conv.engine.clone(), Box::new(rand_core::OsRng));
        let creds = pki::SharedStore::new(pki::Store::new(), pki::system_clock());
        crate::creds::reload(&creds, &loaded.config, &Default::default());
        // Runs as long as the store lives; verification wakes it.
        if let Err(e) = crate::crlfetch::Fetcher::spawn(creds.clone(), Default::default()) {
            tracing::warn!(target: "vtid::creds", "cannot start the CRL fetcher ({e}); CRLs come from files and VICI only");
        }
        ep.set_credentials(creds.clone());
        ep.load(Instant::now(), conv.peers, conv.keys);
        info!(
            "loaded {} connection(s) from {} with data plane '{}'",
            ep.peers().len(),
            opts.config.display(),
            dp.name()
        );
        sockets.spawn_receivers(tx, dp.esp_sink())?;
        let (jobs_tx, jobs) = mpsc::channel(64);
        let mut d = Daemon {
            opts,
            log,
            ep,
            engine_cfg: conv.engine,
            sockets,
            dp,
            dp_rx,
            net_stats,
            reqids: conv.reqids,
            dns: conv.dns,
            start: conv.start.clone(),
            pending_children: BTreeMap::new(),
            local_v4: None,
            local_v6: None,
            send_errors: 0,
            flood: FloodWatch::default(),
            file_cfg: loaded.config,
            vici: control::ViciLoaded::default(),
            hub: Hub::new(),
            jobs,
            jobs_tx,
            routing,
            creds,
            notify: None,
            event_counters: crate::metrics::EventCounters::default(),
            keylog: None,
            pools: aaa::Pools::new(),
        };
        d.sync_file_pools();
        Ok((d, rx))
    }

    /// Control requests waiting for the loop.
    pub(crate) fn jobs_len(&self) -> usize {
        self.jobs.len()
    }

    /// The data plane (tests, listings).
    pub fn dataplane(&self) -> &KernelIpsec {
        &self.dp
    }

    /// The automatic gateways of the `ipsecN` interfaces and their state
    /// (empty unless the userspace data plane runs), for the control socket.
    pub fn gateways(&self) -> Vec<vti::gateway::GatewayStatus> {
        self.routing.gateways()
    }

    /// Sets our initiating address for connection `conn`: a concrete
    /// `local_addrs` entry, else the kernel's source address towards the
    /// peer. The engine takes one address per family for initiating.
    pub(crate) fn set_source(&mut self, conn: &str) {
        let Some(p) = self.ep.peers().iter().find(|p| p.name == conn).cloned() else {
            return;
        };
        let Some(remote) = p.remote_addrs.iter().find_map(|a| a.host()) else {
            return;
        };
        let local = p
            .local_addrs
            .iter()
            .filter_map(|a| a.host())
            .find(|l| l.is_ipv4() == remote.is_ipv4())
            .or_else(|| convert::SystemEnv.source_for(remote));
        if let Some(l) = local {
            let sa = SocketAddr::new(l, self.engine_cfg.port);
            match l {
                IpAddr::V4(_) => self.local_v4 = Some(sa),
                IpAddr::V6(_) => self.local_v6 = Some(sa),
            }
            self.ep.set_local_addrs(self.local_v4, self.local_v6);
        }
    }

    fn initiate(&mut self, conn: &str, child: &str) {
        if let Some(specs) = self.dns.get(conn).cloned() {
            // Resolve off the event loop, then initiate from it.
            let (conn, child, jobs) = (conn.to_owned(), child.to_owned(), self.jobs_tx.clone());
            tokio::spawn(async move {
                let resolved = resolve_names(&specs).await;
                let job: Job = Box::new(move |d: &mut Daemon| {
                    d.apply_resolved(&conn, &specs, &resolved);
                    d.initiate_now(&conn, &child);
                });
                let _ = jobs.send(job).await;
            });
            return;
        }
        self.initiate_now(conn, child);
    }

    /// Hands freshly resolved `remote_addrs` of `conn` to the engine
    /// (names that failed are left out, and said so).
    pub(crate) fn apply_resolved(
        &mut self,
        conn: &str,
        specs: &[config::HostSpec],
        resolved: &Resolved,
    ) {
        let (addrs, problems) = convert::remote_matches(specs, resolved);
        for p in problems {
            warn!(%conn, "connection '{conn}': remote_addrs: {p}");
        }
        debug!(%conn, "remote_addrs resolved: {addrs:?}");
        self.ep.set_remote_addrs(conn, addrs);
    }

    /// Our source address and the peer's DNS names for `conn`, looked up
    /// again (after an IKE SA went down, before the engine retries).
    fn refresh_addresses(&mut self, conn: &str) {
        self.set_source(conn);
        if let Some(specs) = self.dns.get(conn).cloned() {
            let (conn, jobs) = (conn.to_owned(), self.jobs_tx.clone());
            tokio::spawn(async move {
                let resolved = resolve_names(&specs).await;
                let job: Job = Box::new(move |d: &mut Daemon| {
                    d.apply_resolved(&conn, &specs, &resolved);
                });
                let _ = jobs.send(job).await;
            });
        }
    }

    /// The DNS `remote_addrs` of the connection a VICI `initiate` names
    /// (by IKE or CHILD config name), to resolve before initiating.
    pub(crate) fn dns_for(
        &self,
        ike: Option<&str>,
        child: Option<&str>,
    ) -> Option<(String, Vec<config::HostSpec>)> {
        let conn = match (ike, child) {
            (Some(c), _) => c.to_owned(),
            (None, Some(ch)) => self
                .ep
                .peers()
                .iter()
                .find(|p| p.children.iter().any(|c| c.name == ch))?
                .name
                .clone(),
            (None, None) => return None,
        };
        let specs = self.dns.get(&conn)?.clone();
        Some((conn, specs))
    }

    fn initiate_now(&mut self, conn: &str, child: &str) {
        self.set_source(conn);
        match self.ep.initiate(Instant::now(), conn, Some(child)) {
            Ok(id) => info!(%conn, %child, "initiating {conn}/{child} (IKE_SA {id})"),
            Err(e) => warn!(%conn, %child, "cannot initiate {conn}/{child}: {e}"),
        }
    }

    /// Initiates `start` children: the first per connection now, the
    /// others once its IKE SA is up.
    pub(crate) fn initiate_all(&mut self, list: &[(String, String)]) {
        let mut seen = BTreeSet::new();
        for (conn, child) in list {
            if seen.insert(conn.clone()) {
                self.initiate(conn, child);
            } else {
                self.pending_children
                    .entry(conn.clone())
                    .or_default()
                    .push(child.clone());
            }
        }
    }

    async fn flush(&mut self) {
        loop {
            let mut did = false;
            // Actions first: an SA the engine installs must be in the data
            // plane before the message that lets the peer use it leaves
            // (a rekey responder's CREATE_CHILD_SA response; the peer's
            // first ESP on the new SA otherwise meets an unknown SPI).
            while let Some(a) = self.ep.poll_action() {
                did = true;
                self.routing.on_action(&a);
                if let Action::Delete { spi_in, .. } = &a {
                    if let Some(c) = self.dp.counters().iter().find(|c| c.spi_in == *spi_in) {
                        info!(target: "vtid::dataplane", "dataplane({}): delete {}", self.dp.name(), routing::counters_line(c));
                    }
                }
                if let (Some(k), Action::Install(ci)) = (&mut self.keylog, &a) {
                    k.child(ci);
                }
                if let Err(e) = self.dp.apply(&a) {
                    match &a {
                        // A CHILD SA the data plane refuses (too many
                        // selectors, a transform it lacks, a kernel error)
                        // must not stay up in the engine with nothing
                        // carrying it: delete it (DELETE to the peer).
                        Action::Install(ci) => {
                            let _s = info_span!("ike", conn = %ci.conn, id = %ci.ike_sa).entered();
                            error!(
                                target: "vtid::dataplane",
                                "data plane '{}' refused CHILD_SA {} (reqid {}, spi_in {:08x}): {e}; deleting it",
                                self.dp.name(),
                                ci.child,
                                ci.reqid,
                                ci.inbound.spi
                            );
                            if let Err(f) = self.ep.terminate_child(Instant::now(), ci.inbound.spi)
                            {
                                warn!(target: "vtid::dataplane", "cannot delete CHILD_SA {}: {f}", ci.child);
                            }
                        }
                        _ => {
                            error!(target: "vtid::dataplane", "data plane '{}' failed to apply {}: {e}", self.dp.name(), action_name(&a));
                        }
                    }
                }
            }
            while let Some(t) = self.ep.poll_transmit() {
                did = true;
                if t.nat_t && self.dp.owns_nat_t() {
                    if let Err(e) = self.dp.send_nat_t(t.local.ip(), t.remote, &t.data) {
                        self.send_errors += 1;
                        if self.flood.sends.take(Instant::now()) {
                            warn!(target: "vtid::net", "{e}");
                        }
                    }
                    continue;
                }
                let Some(s) = self.sockets.pick(t.remote, t.nat_t).cloned() else {
                    self.send_errors += 1;
                    if self.flood.sends.take(Instant::now()) {
                        warn!(target: "vtid::net", "no socket to send to {} (nat_t {})", t.remote, t.nat_t);
                    }
                    continue;
                };
                let marker: &[u8] = if t.nat_t && t.data != [0xff] {
                    &crate::net::NON_ESP_MARKER
                } else {
                    &[]
                };
                if let Err(e) = s.send(&[marker, &t.data], t.local.ip(), t.remote).await {
                    self.send_errors += 1;
                    // Answers to spoofed sources fail by the thousand.
                    if self.flood.sends.take(Instant::now()) {
                        warn!(target: "vtid::net", "sending {} bytes from {} to {}: {e}", t.data.len(), t.local, t.remote);
                    }
                }
            }
            while let Some(e) = self.ep.poll_event() {
                did = true;
                self.on_event(e);
            }
            if !did {
                break;
            }
        }
        // IKE SAs whose keys appeared (IKE_SA_INIT done, a rekey).
        if let Some(k) = &mut self.keylog {
            k.ike_sas(self.ep.ike_sa_secrets());
        }
    }

    fn on_event(&mut self, e: Event) {
        let ep = &self.ep;
        self.routing
            .on_event(&e, |id| ep.ike_sas().into_iter().find(|i| i.id == id));
        self.count_event(&e);
        self.log_event(&e);
        self.hub_event(&e);
    }

    /// Counts an engine event for the metrics endpoint.
    fn count_event(&mut self, e: &Event) {
        let ike = match e {
            Event::IkeRekeyed { old, .. } => Some(*old),
            Event::ChildRekeyed { ike, .. } => Some(*ike),
            Event::IkeDown { id, .. } => Some(*id),
            _ => None,
        };
        let known = ike.and_then(|id| {
            self.ep
                .ike_sa(id)
                .or_else(|| self.hub.known_ike(id).cloned())
        });
        let was_up = known.as_ref().is_some_and(|i| i.established_at.is_some());
        self.event_counters
            .count(e, || known.as_ref().map(|i| i.conn.clone()), was_up);
    }

    /// Logs an engine event. Each line carries `event` (charon's listener
    /// hook names: `ike-up`, `ike-down`, `ike-rekey`, `child-up`,
    /// `child-down`, `child-rekey`) and, in its span, the IKE SA's `conn`,
    /// `ike_sa`, `uniqueid` and `peer` where known (JSON log lines show
    /// them as fields).
    fn log_event(&mut self, e: &Event) {
        let e = e.clone();
        let known = |id: ike::engine::IkeSaId| {
            self.ep
                .ike_sa(id)
                .or_else(|| self.hub.known_ike(id).cloned())
        };
        match e {
            Event::IkeUp(i) => {
                let _s = info_span!("ike", conn = %i.conn, ike_sa = %i.id, uniqueid = i.unique_id, peer = %i.remote).entered();
                info!(
                    event = "ike-up",
                    "IKE_SA {}[{}] up: {}[{}]...{}[{}] proposal={} spi_i={} spi_r={} nat_local={} nat_remote={}",
                    i.conn,
                    i.unique_id,
                    i.local,
                    i.local_id,
                    i.remote,
                    i.remote_id,
                    i.proposal,
                    hex(&i.spi_i),
                    hex(&i.spi_r),
                    i.nat_local,
                    i.nat_remote
                );
                if let Some(children) = self.pending_children.remove(&i.conn) {
                    for c in children {
                        self.initiate(&i.conn, &c);
                    }
                }
            }
            Event::IkeDown { id, conn, reason } => {
                let (uid, peer) =
                    known(id).map_or((0, String::new()), |i| (i.unique_id, i.remote.to_string()));
                let _s = info_span!("ike", %conn, ike_sa = %id, uniqueid = uid, %peer).entered();
                // The engine may try again (keyingtries, dpd/close_action
                // restart): let it use the address and the DNS answers of now.
                self.refresh_addresses(&conn);
                match reason {
                    Failure::DeletedByPeer | Failure::DeletedLocally | Failure::Replaced => {
                        info!(event = "ike-down", "IKE_SA {conn} ({id}) down: {reason}")
                    }
                    _ => warn!(event = "ike-down", "IKE_SA {conn} ({id}) down: {reason}"),
                }
            }
            Event::IkeRekeyed { old, new } => {
                let (conn, uid, peer) = known(old).map_or((String::new(), 0, String::new()), |i| {
                    (i.conn.clone(), i.unique_id, i.remote.to_string())
                });
                let _s = info_span!("ike", %conn, ike_sa = %old, uniqueid = uid, %peer).entered();
                info!(event = "ike-rekey", "IKE_SA {old} rekeyed into {new}")
            }
            Event::ChildUp { ike, conn, child } => {
                let (uid, peer) =
                    known(ike).map_or((0, String::new()), |i| (i.unique_id, i.remote.to_string()));
                let _s = info_span!("ike", %conn, ike_sa = %ike, uniqueid = uid, %peer).entered();
                info!(
                    event = "child-up",
                    child_uniqueid = child.unique_id,
                    "CHILD_SA {}{{{}}} up: reqid={} spi_in={:08x} spi_out={:08x} proposal={} encap={} ts={} === {}",
                    child.name,
                    child.unique_id,
                    child.reqid,
                    child.spi_in,
                    child.spi_out,
                    child.proposal,
                    child.encap,
                    ike::engine::ts::list(&child.local_ts),
                    ike::engine::ts::list(&child.remote_ts)
                );
            }
            Event::ChildDown {
                ike,
                conn,
                child,
                spi_in,
                spi_out,
                reason,
            } => {
                let (uid, peer) =
                    known(ike).map_or((0, String::new()), |i| (i.unique_id, i.remote.to_string()));
                let _s = info_span!("ike", %conn, ike_sa = %ike, uniqueid = uid, %peer).entered();
                info!(
                    event = "child-down",
                    "CHILD_SA {child} down: spi_in={spi_in:08x} spi_out={spi_out:08x}: {reason}"
                );
            }
            Event::ChildRekeyed {
                ike,
                child,
                old_spi_in,
                new_spi_in,
            } => {
                let (conn, uid, peer) = known(ike).map_or((String::new(), 0, String::new()), |i| {
                    (i.conn.clone(), i.unique_id, i.remote.to_string())
                });
                let _s = info_span!("ike", %conn, ike_sa = %ike, uniqueid = uid, %peer).entered();
                info!(
                    event = "child-rekey",
                    "CHILD_SA {child} rekeyed: spi_in {old_spi_in:08x} -> {new_spi_in:08x}"
                );
            }
        }
    }

    fn on_datagram(&mut self, d: Inbound) {
        let spi = d
            .data
            .get(..16)
            .map(|h| format!("{}_{}", hex(&h[..8]), hex(&h[8..16])))
            .unwrap_or_default();
        let _s = info_span!("ike", peer = %d.remote, spi = %spi).entered();
        self.ep.handle_datagram(
            Instant::now(),
            Datagram {
                local: d.local,
                remote: d.remote,
                nat_t: d.nat_t,
                data: &d.data,
            },
        );
    }

    /// One IKE_SA_INIT request (the init lane): logged within the budget,
    /// quietly beyond it.
    fn on_init_datagram(&mut self, d: Inbound) {
        self.flood.handled += 1;
        if self.flood.inits.take(Instant::now()) {
            self.on_datagram(d);
        } else {
            self.flood.quiet += 1;
            flood::quietly(|| self.on_datagram(d));
        }
    }

    /// The flood summary, if a flood shed or silenced anything.
    fn flood_summary(&mut self) {
        let now = flood::Snapshot {
            init_overflow: self
                .net_stats
                .init_overflow
                .load(std::sync::atomic::Ordering::Relaxed),
            overflow: self
                .net_stats
                .overflow
                .load(std::sync::atomic::Ordering::Relaxed),
            cookies: self.ep.stats().cookies_sent,
            suppressed: flood::suppressed(),
        };
        if let Some(line) = self.flood.summary(now) {
            warn!(target: "vtid::net", "{line}");
        }
    }

    fn on_report(&mut self, r: Report) {
        match r {
            Report::Activity { spi_in } => self.ep.child_activity(Instant::now(), spi_in),
            Report::Expired { spi, hard } => {
                let Some(spi_in) = self.dp.spi_in_of(spi) else {
                    debug!(target: "vtid::dataplane", "SA {spi:08x}: volume limit reached, but no CHILD_SA has it (deleted meanwhile)");
                    return;
                };
                info!(target: "vtid::dataplane", "CHILD_SA {spi_in:08x}: {} volume limit reached", if hard { "hard" } else { "soft" });
                self.ep.child_expired(Instant::now(), spi_in, hard)
            }
        }
    }

    fn refresh_path_mtu(&self) {
        let n = self.dp.refresh_path_mtu();
        if n > 0 {
            info!(target: "vtid::dataplane", "path MTU changed: {n} CHILD_SA(s) now take a different largest inner packet");
        }
    }

    fn dump(&self) {
        let s = self.ep.stats();
        info!(
            "stats: malformed={} unknown_spi={} cookies_sent={} init_dropped={} half_open={} ike_sas={} \
             init_received={} retransmits={} responses_resent={} dpd_timeouts={} send_errors={} {}",
            s.malformed,
            s.unknown_spi,
            s.cookies_sent,
            s.init_dropped,
            s.half_open,
            s.ike_sas,
            s.init_received,
            s.retransmits,
            s.responses_resent,
            s.dpd_timeouts,
            self.send_errors,
            self.net_stats.summary()
        );
        for i in self.ep.ike_sas() {
            info!(
                "sa: IKE_SA {}[{}] {} {}[{}]...{}[{}] {}",
                i.conn,
                i.unique_id,
                i.state,
                i.local,
                i.local_id,
                i.remote,
                i.remote_id,
                i.proposal
            );
        }
        let sas = self.dp.sas();
        info!(target: "vtid::dataplane", "dataplane({}): {} SA(s) installed", self.dp.name(), sas.len());
        for e in sas {
            info!(target: "vtid::dataplane", "dataplane({}): sa {e}", self.dp.name());
        }
        for c in self.dp.counters() {
            info!(target: "vtid::dataplane", "dataplane({}): {}", self.dp.name(), routing::counters_line(&c));
        }
        for l in self.dp.stats_lines() {
            info!(target: "vtid::dataplane", "dataplane({}): {l}", self.dp.name());
        }
        for l in self.routing.dump_lines() {
            info!(target: "vtid::gateway", "{l}");
        }
    }

    /// Sends service-manager notifications to `notify_socket` (a
    /// `NOTIFY_SOCKET` value, see [`crate::notify`]).
    pub fn with_notifier(mut self, notify_socket: Option<&str>) -> Daemon {
        self.notify = notify_socket.and_then(|s| match crate::notify::Notifier::new(s) {
            Ok(n) => Some(n),
            Err(e) => {
                warn!("NOTIFY_SOCKET={s}: {e}; not notifying the service manager");
                None
            }
        });
        self
    }

    /// Starts (`Some(dir)`) or stops the Wireshark key log; returns the
    /// directory in use. Starting writes the IKE SAs that exist now.
    pub(crate) fn set_keylog(&mut self, dir: Option<&str>) -> Result<Option<String>, String> {
        let Some(dir) = dir else {
            if let Some(k) = self.keylog.take() {
                info!("keylog: stopped writing keys to {}", k.dir().display());
            }
            return Ok(None);
        };
        let mut k = crate::keylog::KeyLog::open(std::path::Path::new(dir))
            .map_err(|e| format!("keylog {dir}: {e}"))?;
        warn!(
            "keylog: writing every IKE and ESP key to {dir} (ikev2_decryption_table, esp_sa) for \
             Wireshark; anyone who can read them decrypts the traffic: insecure, for debugging only"
        );
        k.ike_sas(self.ep.ike_sa_secrets());
        self.keylog = Some(k);
        Ok(Some(dir.to_string()))
    }

    /// One line for the service manager's status.
    fn status_line(&self) -> String {
        format!(
            "{} connection(s), {} IKE_SA(s), data plane {}",
            self.ep.peers().len(),
            self.ep.stats().ike_sas,
            self.dp.name()
        )
    }

    /// SIGHUP: reopens the log files and reloads the configuration, with
    /// `RELOADING=1` ... `READY=1` around it for the service manager.
    fn reload(&mut self) {
        if let Some(n) = &self.notify {
            n.reloading("reloading the configuration");
        }
        self.reload_config();
        if let Some(n) = &self.notify {
            n.ready(&self.status_line());
        }
    }

    fn reload_config(&mut self) {
        info!("SIGHUP: reloading {}", self.opts.config.display());
        // Log files first (logrotate's SIGHUP), whatever the file holds.
        self.log.reopen();
        let loaded =
            match config::load_files(&self.opts.config, self.opts.strongswan_conf.as_deref()) {
                Ok(l) => l,
                Err(e) => {
                    error!("reload failed, keeping the running configuration: {e}");
                    return;
                }
            };
        self.log.apply(&loaded.config.daemon, false);
        self.routing.reload(&loaded.config);
        for w in &loaded.warnings {
            warn!(target: "vtid::convert", "{w}");
        }
        crate::creds::reload(&self.creds, &loaded.config, &self.vici.creds);
        let previous = std::mem::replace(&mut self.file_cfg, loaded.config);
        // The file's connections, plus those loaded over VICI (kept).
        let mut conv = match self.convert_merged() {
            Ok(c) => c,
            Err(e) => {
                error!("reload failed, keeping the running configuration: {e}");
                self.file_cfg = previous;
                return;
            }
        };
        self.sync_file_pools();
        if format!("{:?}", conv.engine) != format!("{:?}", self.engine_cfg) {
            warn!(
                "changes in the vtid {{ }} section (ports, retransmission, cookies, ...) take \
                 effect only after a restart; keeping the running settings"
            );
        }
        let kept = self.keep_failed_connections(&mut conv);
        let n = conv.peers.len();
        self.install(conv);
        if kept.is_empty() {
            info!("reloaded: {n} connection(s)");
        } else {
            info!(
                "reloaded: {n} connection(s); {} kept as before",
                kept.join(", ")
            );
        }
    }

    /// Issue 11 §5, as VICI `load-conn` does: a connection of the reloaded
    /// configuration that fails to load (an error about it or one of its
    /// children, each reason already logged) keeps its running definition
    /// and with it its SAs, start actions, reqids and DNS names; the other
    /// connections take their new definitions. Returns the kept names.
    fn keep_failed_connections(&self, conv: &mut convert::Converted) -> Vec<String> {
        let failed: BTreeSet<String> = conv.errors().filter_map(|n| n.conn.clone()).collect();
        let mut kept = Vec::new();
        for name in failed {
            let Some(prev) = self.ep.peers().iter().find(|p| p.name == name) else {
                continue;
            };
            let prev = ike::engine::PeerConfig::clone(prev);
            match conv.peers.iter_mut().find(|p| p.name == name) {
                Some(slot) => *slot = prev,
                None => conv.peers.push(prev),
            }
            conv.start.retain(|(c, _)| *c != name);
            conv.start
                .extend(self.start.iter().filter(|(c, _)| *c == name).cloned());
            conv.reqids.retain(|(c, _), _| *c != name);
            conv.reqids.extend(
                self.reqids
                    .iter()
                    .filter(|((c, _), _)| *c == name)
                    .map(|(k, v)| (k.clone(), *v)),
            );
            conv.dns.remove(&name);
            if let Some(d) = self.dns.get(&name) {
                conv.dns.insert(name.clone(), d.clone());
            }
            warn!(
                conn = %name,
                "reload: connection '{name}' failed to load; keeping its running definition and its SAs"
            );
            kept.push(name);
        }
        kept
    }

    /// Converts the file's configuration merged with what VICI loaded
    /// (warnings logged).
    pub(crate) fn convert_merged(&self) -> Result<convert::Converted, String> {
        let mut notes = Vec::new();
        let cfg = self.vici.merge(&self.file_cfg, &mut notes);
        cfg.validate().map_err(|e| e.to_string())?;
        let conv = convert::convert(
            &cfg,
            &self.reqids,
            &convert::SystemEnv,
            self.dp.supports_transport_mode(),
        );
        for w in &notes {
            warn!(target: "vtid::convert", "{w}");
        }
        for w in &conv.warnings {
            warn!(target: "vtid::convert", "{w}");
        }
        Ok(conv)
    }

    /// Hands a converted configuration to the engine (the running engine
    /// settings stay) and starts the `start_action = start` children that
    /// are new.
    pub(crate) fn install(&mut self, conv: convert::Converted) {
        let old: BTreeSet<(String, String)> = self.start.iter().cloned().collect();
        let new_start: Vec<(String, String)> = conv
            .start
            .iter()
            .filter(|k| !old.contains(*k))
            .cloned()
            .collect();
        self.ep.load(Instant::now(), conv.peers, conv.keys);
        self.reqids = conv.reqids;
        self.dns = conv.dns;
        self.start = conv.start;
        self.initiate_all(&new_start);
    }

    /// Runs until SIGTERM/SIGINT; returns after the shutdown.
    pub async fn run(mut self, mut rx: IkeLanes) -> std::io::Result<()> {
        // Signal handlers first: once the control socket exists (or
        // readiness is reported), SIGHUP and SIGTERM are handled.
        let mut hup = signal(SignalKind::hangup())?;
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let mut usr1 = signal(SignalKind::user_defined1())?;
        let vici = vici_path(&self.opts, &self.file_cfg);
        let server = control::serve(
            &vici,
            &self.file_cfg.daemon.vici,
            self.jobs_tx.clone(),
            &mut self.hub,
            &self.log,
        )
        .await
        .map_err(|e| {
            std::io::Error::new(e.kind(), format!("VICI socket {}: {e}", vici.display()))
        })?;
        info!("VICI control socket listening on {}", vici.display());
        let metrics = match &self.file_cfg.daemon.metrics {
            Some(m) => Some(
                crate::metrics::serve(m, self.jobs_tx.clone())
                    .await
                    .map_err(|e| {
                        std::io::Error::new(
                            e.kind(),
                            format!("vtid.metrics.listen {}: {e}", m.listen),
                        )
                    })?,
            ),
            None => None,
        };
        if let Some(dir) = self.file_cfg.daemon.keylog.clone() {
            if let Err(e) = self.set_keylog(Some(&dir)) {
                error!("vtid.keylog: {e}; no key log");
            }
        }
        let start = self.start.clone();
        self.initiate_all(&start);
        // Ready: the IKE sockets are bound, the data plane and its
        // interfaces are up (Daemon::start), the control socket listens.
        if let Some(n) = &self.notify {
            n.ready(&self.status_line());
        }
        let mut shutdown_at: Option<tokio::time::Instant> = None;
        let mut pmtu_tick = tokio::time::interval(PATH_MTU_REFRESH);
        pmtu_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut flood_tick = tokio::time::interval(flood::SUMMARY_EVERY);
        flood_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            self.flush().await;
            if let Some(deadline) = shutdown_at {
                let left = self.ep.ike_sas().len();
                if left == 0 {
                    info!("shutdown: every IKE_SA is deleted");
                    break;
                }
                if tokio::time::Instant::now() >= deadline {
                    warn!("shutdown: {left} IKE_SA(s) did not confirm the DELETE within {SHUTDOWN_GRACE:?}");
                    break;
                }
            }
            let mut wake = self.ep.poll_timeout().map(tokio::time::Instant::from_std);
            if let Some(d) = shutdown_at {
                wake = Some(wake.map_or(d, |w| w.min(d)));
            }
            let sleep = async {
                match wake {
                    Some(w) => tokio::time::sleep_until(w).await,
                    None => std::future::pending().await,
                }
            };
            // In this order (`biased`): IKE_SA_INIT requests only when
            // nothing else is ready (module documentation).
            tokio::select! {
                biased;
                Some(d) = rx.established.recv() => self.on_datagram(d),
                Some(r) = self.dp_rx.recv() => self.on_report(r),
                () = sleep => self.ep.handle_timeout(Instant::now()),
                _ = term.recv() => {
                    if shutdown_at.is_some() { warn!("second signal: exiting now"); break; }
                    info!("SIGTERM: deleting every IKE_SA");
                    if let Some(n) = &self.notify { n.stopping("deleting every IKE_SA"); }
                    self.ep.shutdown(Instant::now());
                    shutdown_at = Some(tokio::time::Instant::now() + SHUTDOWN_GRACE);
                }
                _ = int.recv() => {
                    if shutdown_at.is_some() { warn!("second signal: exiting now"); break; }
                    info!("SIGINT: deleting every IKE_SA");
                    if let Some(n) = &self.notify { n.stopping("deleting every IKE_SA"); }
                    self.ep.shutdown(Instant::now());
                    shutdown_at = Some(tokio::time::Instant::now() + SHUTDOWN_GRACE);
                }
                _ = hup.recv() => self.reload(),
                _ = usr1.recv() => self.dump(),
                Some(job) = self.jobs.recv() => job(&mut self),
                Some(g) = self.routing.next_gateway_event() => self.routing.on_gateway_event(g),
                _ = pmtu_tick.tick() => self.refresh_path_mtu(),
                _ = flood_tick.tick() => self.flood_summary(),
                Some(d) = rx.init.recv() => self.on_init_datagram(d),
            }
        }
        self.flush().await;
        self.routing.shutdown().await;
        self.dump();
        server.stop().await;
        if let Some(m) = metrics {
            m.abort();
        }
        let _ = std::fs::remove_file(&vici);
        debug!("vtid stopped");
        Ok(())
    }
}

/// Resolves the DNS names among `specs` (system resolver, off the event
/// loop).
pub(crate) async fn resolve_names(specs: &[config::HostSpec]) -> Resolved {
    let mut out = Resolved::default();
    for s in specs {
        if let config::HostSpec::Dns(name) = s {
            let r = tokio::net::lookup_host((name.as_str(), 0u16))
                .await
                .map(|it| it.map(|a| a.ip()).collect())
                .map_err(|e| e.to_string());
            out.0.insert(name.clone(), r);
        }
    }
    out
}

fn action_name(a: &Action) -> &'static str {
    match a {
        Action::Install(_) => "install",
        Action::ActivateOutbound { .. } => "activate-outbound",
        Action::RemoveOutbound { .. } => "remove-outbound",
        Action::Delete { .. } => "delete",
        Action::UpdateAddress { .. } => "update-address",
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
