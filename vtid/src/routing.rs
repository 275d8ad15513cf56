//! Routed IPsec in the daemon: the automatic gateways of the `ipsecN`
//! interfaces ([`vti::gateway`]) and the strongSwan-compatible `updown`
//! hook ([`vti::updown`]).
//!
//! The daemon owns one [`Routing`] and feeds it
//! - the engine's actions ([`Routing::on_action`], before the data plane
//!   applies them): an `Install` of a child with `updown` is remembered by
//!   its inbound SPI, since it carries what the script's environment needs
//!   (addresses, selectors, encapsulation);
//! - the engine's events ([`Routing::on_event`]): `ChildUp` runs
//!   `up-client` (once per TS pair, as strongSwan), `ChildDown` runs
//!   `down-client` when the last SA of that child is gone; a rekey
//!   (`ChildRekeyed`, then `ChildUp` of the new SA) runs nothing, as in
//!   strongSwan, and neither do the redundant SAs of a rekey collision
//!   (both successors of one SA belong to the same child, the *lineage*);
//! - gateway state changes ([`Routing::next_gateway_event`]), logged and kept
//!   for the control socket ([`Routing::gateways`]);
//! - reloads ([`Routing::reload`]): new `updown` settings apply to children
//!   that come up afterwards; gateway monitor settings (`monitor`,
//!   `monitor_interval`) apply at once; interface changes that need the
//!   data plane rebuilt (added/removed interfaces, addresses, routes, route
//!   metric, MTU, reqid, MSS clamping) are logged as needing a restart.
//!
//! Which interface a child belongs to: the interface whose `reqid` is the
//! child's, else its `if_id_in`/`if_id_out` (`config::interface_for`, what
//! every data plane uses); such children get
//! `VTID_INTERFACE`/`VTID_GATEWAY` in their updown environment.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::Duration;

use ike::engine::{Action, Event, IkeInfo, IkeSaId};
use tokio::sync::mpsc;
use tracing::{info, warn};
use vti::gateway::{GatewayEvent, GatewaySpec, GatewayState, GatewayStatus, Gateways};
use vti::updown::{Routed, UpdownContext, UpdownRunner, UpdownSettings, Verb};

use crate::dataplane::SaCounters;

/// How long shutdown waits for queued updown scripts.
pub const UPDOWN_SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

/// Gateways and updown state of the daemon. See the module documentation.
#[derive(Debug)]
pub struct Routing {
    /// The interfaces the data plane runs with (fixed at start), with the
    /// monitor settings of the last (re)load.
    interfaces: Vec<config::Interface>,
    gateways: Option<Gateways>,
    gw_tx: mpsc::UnboundedSender<GatewayEvent>,
    gw_rx: mpsc::UnboundedReceiver<GatewayEvent>,
    runner: Option<UpdownRunner>,
    settings: UpdownSettings,
    /// `(connection, child)` → updown command line.
    scripts: HashMap<(String, String), String>,
    /// Installed, not yet up, by inbound SPI.
    installed: HashMap<u32, UpdownContext>,
    /// The lineage (one `up`, one `down`) of every SA that ran `up` or
    /// succeeded one that did, by inbound SPI.
    lineage: HashMap<u32, u64>,
    /// SAs replaced by a rekey, newest last (a collision rekeys one SA
    /// twice), bounded.
    retired: VecDeque<(u32, u64)>,
    /// The context of each lineage's `up` (for its `down`).
    up: HashMap<u64, UpdownContext>,
    next_lineage: u64,
    /// New inbound SPIs of rekeys whose `ChildUp` must not run the script.
    rekeyed: HashSet<u32>,
}

fn scripts_of(cfg: &config::Config) -> HashMap<(String, String), String> {
    let mut m = HashMap::new();
    for c in &cfg.connections {
        for ch in &c.children {
            if let Some(u) = ch.updown.as_ref().filter(|u| !u.trim().is_empty()) {
                m.insert((c.name.clone(), ch.name.clone()), u.clone());
            }
        }
    }
    m
}

/// An interface's fields that only a new data plane can change.
fn dataplane_fields(i: &config::Interface) -> impl PartialEq + std::fmt::Debug + '_ {
    (
        i.reqid,
        &i.local_addrs,
        &i.remote_addrs,
        &i.routes,
        i.route_metric,
        i.mtu,
        i.mss_clamp,
    )
}

impl Routing {
    /// The state for configuration `cfg`; no gateway runs yet.
    pub fn new(cfg: &config::Config) -> Routing {
        let (gw_tx, gw_rx) = mpsc::unbounded_channel();
        Routing {
            interfaces: cfg.interfaces.clone(),
            gateways: None,
            gw_tx,
            gw_rx,
            runner: None,
            settings: UpdownSettings::default(),
            scripts: scripts_of(cfg),
            installed: HashMap::new(),
            lineage: HashMap::new(),
            retired: VecDeque::new(),
            up: HashMap::new(),
            next_lineage: 0,
            rekeyed: HashSet::new(),
        }
    }

    /// Starts the gateway monitors of the interfaces (inside the runtime,
    /// once the data plane has created the interfaces).
    pub fn start_gateways(&mut self) {
        let specs: Vec<GatewaySpec> = self
            .interfaces
            .iter()
            .flat_map(GatewaySpec::for_interface)
            .collect();
        for s in &specs {
            info!(
                target: "vtid::gateway",
                "gateway {} on {}: {} {}, monitor {} every {:?}",
                s.name,
                s.interface,
                s.family,
                s.gateway,
                s.monitor_addr().map_or("off".to_string(), |a| a.to_string()),
                s.settings.interval
            );
        }
        self.gateways = Some(Gateways::from_specs(specs, self.gw_tx.clone()));
    }

    /// Every gateway's status (empty without the userspace data plane).
    pub fn gateways(&self) -> Vec<GatewayStatus> {
        self.gateways
            .as_ref()
            .map(Gateways::status)
            .unwrap_or_default()
    }

    /// The next gateway state change (pending forever if none comes).
    pub async fn next_gateway_event(&mut self) -> Option<GatewayEvent> {
        self.gw_rx.recv().await
    }

    /// Logs a gateway state change.
    pub fn on_gateway_event(&mut self, ev: GatewayEvent) {
        let line = format!(
            "gateway {} ({} via {}) {} -> {}: {}; loss {:.0}%, rtt {}",
            ev.name,
            ev.status.gateway,
            ev.interface,
            ev.from,
            ev.to,
            ev.reason,
            ev.status.loss_percent,
            ev.status.rtt_avg.map_or("-".to_string(), |d| format!(
                "{:.1} ms",
                d.as_secs_f64() * 1e3
            ))
        );
        if ev.to == GatewayState::Down {
            warn!(target: "vtid::gateway", "{line}");
        } else {
            info!(target: "vtid::gateway", "{line}");
        }
    }

    /// The interface of a CHILD SA (by reqid, else if_id: the data
    /// planes' rule, `config::interface_for`).
    fn routed(&self, reqid: u32, if_id: (u32, u32)) -> Option<Routed> {
        config::interface_for(&self.interfaces, reqid, if_id).map(Routed::from_interface)
    }

    /// An engine action, before the data plane applies it.
    pub fn on_action(&mut self, a: &Action) {
        let Action::Install(ci) = a else {
            return;
        };
        let Some(script) = self.scripts.get(&(ci.conn.clone(), ci.child.clone())) else {
            return;
        };
        let mut ctx = UpdownContext::from_child_install(ci, 0, "", "", script.clone());
        ctx.routed = self.routed(ci.reqid, ci.if_id);
        self.installed.insert(ci.inbound.spi, ctx);
    }

    /// An engine event; `ike` finds an IKE SA's summary (ids, unique id).
    /// Runs the script if the event calls for it.
    pub fn on_event(&mut self, e: &Event, ike: impl Fn(IkeSaId) -> Option<IkeInfo>) {
        if let Some((verb, ctx)) = self.updown_for(e, ike) {
            self.submit(verb, ctx);
        }
    }

    /// What an event means for the updown script.
    fn updown_for(
        &mut self,
        e: &Event,
        ike: impl Fn(IkeSaId) -> Option<IkeInfo>,
    ) -> Option<(Verb, UpdownContext)> {
        match e {
            Event::ChildRekeyed {
                old_spi_in,
                new_spi_in,
                ..
            } => {
                self.installed.remove(old_spi_in);
                let lin = self.lineage.remove(old_spi_in).or_else(|| {
                    self.retired
                        .iter()
                        .rev()
                        .find(|(s, _)| s == old_spi_in)
                        .map(|(_, l)| *l)
                });
                let new = self.installed.remove(new_spi_in);
                let lin = lin?;
                self.retired.push_back((*old_spi_in, lin));
                while self.retired.len() > 64 {
                    self.retired.pop_front();
                }
                self.lineage.insert(*new_spi_in, lin);
                self.rekeyed.insert(*new_spi_in);
                // `down` tells what the newest SA has (ids from the `up`).
                if let (Some(mut ctx), Some(old)) = (new, self.up.get(&lin)) {
                    ctx.ike_unique_id = old.ike_unique_id;
                    ctx.my_id = old.my_id.clone();
                    ctx.peer_id = old.peer_id.clone();
                    ctx.nat = old.nat || ctx.nat;
                    self.up.insert(lin, ctx);
                }
                None
            }
            Event::ChildUp { ike: id, child, .. } => {
                if self.rekeyed.remove(&child.spi_in) {
                    return None;
                }
                let mut ctx = self.installed.remove(&child.spi_in)?;
                if let Some(i) = ike(*id) {
                    ctx.ike_unique_id = i.unique_id;
                    ctx.my_id = i.local_id;
                    ctx.peer_id = i.remote_id;
                    ctx.nat = ctx.nat || i.nat_local || i.nat_remote;
                }
                let lin = self.next_lineage;
                self.next_lineage += 1;
                self.lineage.insert(child.spi_in, lin);
                self.up.insert(lin, ctx.clone());
                Some((Verb::Up, ctx))
            }
            Event::ChildDown { spi_in, .. } => {
                self.installed.remove(spi_in);
                self.rekeyed.remove(spi_in);
                let lin = self.lineage.remove(spi_in)?;
                // A collision's redundant SA: its sibling carries on.
                if self.lineage.values().any(|l| *l == lin) {
                    return None;
                }
                self.up.remove(&lin).map(|ctx| (Verb::Down, ctx))
            }
            Event::IkeUp(_) | Event::IkeDown { .. } | Event::IkeRekeyed { .. } => None,
        }
    }

    fn submit(&mut self, verb: Verb, ctx: UpdownContext) {
        let s = self.settings.clone();
        self.runner
            .get_or_insert_with(|| UpdownRunner::spawn(s, None))
            .submit(verb, ctx);
    }

    /// A reloaded configuration: new updown scripts, monitor settings
    /// applied live, the rest of interface changes reported.
    pub fn reload(&mut self, cfg: &config::Config) {
        self.scripts = scripts_of(cfg);
        let mut effective = self.interfaces.clone();
        let old: BTreeMap<&str, &config::Interface> = self
            .interfaces
            .iter()
            .map(|i| (i.name.as_str(), i))
            .collect();
        let new: BTreeMap<&str, &config::Interface> = cfg
            .interfaces
            .iter()
            .map(|i| (i.name.as_str(), i))
            .collect();
        for (name, n) in &new {
            match old.get(name) {
                None => warn!(
                    target: "vtid::gateway",
                    "reload: new interface {name} cannot be created while running; restart vtid to add it"
                ),
                Some(o) if dataplane_fields(o) != dataplane_fields(n) => warn!(
                    target: "vtid::gateway",
                    "reload: interface {name}: reqid, addresses, routes, route_metric, mtu and mss_clamp cannot be \
                     changed while running; keeping the running ones (restart vtid to apply)"
                ),
                Some(_) => {}
            }
        }
        for name in old.keys() {
            if !new.contains_key(name) {
                warn!(
                    target: "vtid::gateway",
                    "reload: interface {name} was removed from the configuration; it stays until \
                     vtid restarts"
                );
            }
        }
        for i in &mut effective {
            if let Some(n) = new.get(i.name.as_str()) {
                i.monitor = n.monitor;
                i.monitor_interval = n.monitor_interval;
                i.description = n.description.clone();
            }
        }
        let changed = effective
            .iter()
            .zip(&self.interfaces)
            .any(|(a, b)| a.monitor != b.monitor || a.monitor_interval != b.monitor_interval);
        self.interfaces = effective;
        if changed && self.gateways.is_some() {
            info!(target: "vtid::gateway", "reload: gateway monitor settings changed; restarting the monitors");
            self.gateways = None;
            self.start_gateways();
        }
    }

    /// Waits (bounded) for queued updown scripts, e.g. the `down` calls of
    /// a shutdown.
    pub async fn shutdown(&mut self) {
        if let Some(r) = self.runner.take() {
            if tokio::time::timeout(UPDOWN_SHUTDOWN_WAIT, r.shutdown())
                .await
                .is_err()
            {
                warn!("updown scripts still running after {UPDOWN_SHUTDOWN_WAIT:?}; not waiting");
            }
        }
        self.gateways = None;
    }

    /// Lines for the SIGUSR1 dump: gateways.
    pub fn dump_lines(&self) -> Vec<String> {
        self.gateways()
            .into_iter()
            .map(|g| {
                format!(
                    "gateway: {} {} via {} {} loss={:.0}% rtt={} sent={} received={}",
                    g.name,
                    g.gateway,
                    g.interface,
                    g.state,
                    g.loss_percent,
                    g.rtt_avg.map_or("-".to_string(), |d| format!(
                        "{:.1}ms",
                        d.as_secs_f64() * 1e3
                    )),
                    g.sent,
                    g.received
                )
            })
            .collect()
    }
}

/// One dump line of an SA's counters.
pub fn counters_line(c: &SaCounters) -> String {
    format!(
        "counters: spi_in={:08x} spi_out={:08x} interface={} packets_in={} bytes_in={} \
         packets_out={} bytes_out={} replay_drops={} auth_failures={} ts_violations={}",
        c.spi_in,
        c.spi_out,
        c.interface,
        c.packets_in,
        c.bytes_in,
        c.packets_out,
        c.bytes_out,
        c.replay_drops,
        c.auth_failures,
        c.ts_violations
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ike::engine::{ChildInfo, Failure, Ts};
    use std::time::Instant;

    fn cfg() -> config::Config {
        config::load_str(
            "connections {\n lab {\n  local {\n   auth = psk\n  }\n  remote {\n   auth = psk\n  }\n  \
             children {\n   vti {\n    reqid = 7\n    updown = /bin/true\n   }\n  }\n }\n}\n\
             interfaces {\n ipsec7 {\n  reqid = 7\n  local_addr = 10.6.106.1/30\n  remote_addr = 10.6.106.2\n }\n}\n",
            "test.conf",
        )
        .unwrap()
        .config
    }

    fn ctx(r: &Routing) -> UpdownContext {
        let any: Ts = Ts::any(true);
        UpdownContext {
            updown: "/bin/true".into(),
            child_name: "vti".into(),
            reqid: 7,
            proto: vti::updown::IpsecProto::Esp,
            ike_unique_id: 0,
            me: "192.0.2.1".parse().unwrap(),
            peer: "198.51.100.1:500".parse().unwrap(),
            my_id: String::new(),
            peer_id: String::new(),
            local_ts: vec![any],
            remote_ts: vec![any],
            nat: false,
            xauth_id: None,
            my_vips: vec![],
            peer_vips: vec![],
            dns: vec![],
            mark_in: None,
            mark_out: None,
            if_id_in: 0,
            if_id_out: 0,
            ipcomp: false,
            host_access: false,
            interface: None,
            routed: r.routed(7, (0, 0)),
        }
    }

    /// As `on_action` does for an Install of the child.
    fn install(r: &mut Routing, spi: u32) {
        let c = ctx(r);
        r.installed.insert(spi, c);
    }

    fn up(spi: u32) -> Event {
        Event::ChildUp {
            ike: IkeSaId(1),
            conn: "lab".into(),
            child: Box::new(ChildInfo {
                unique_id: spi,
                name: "vti".into(),
                reqid: 7,
                state: "INSTALLED",
                spi_in: spi,
                spi_out: spi + 1000,
                proposal: String::new(),
                encap: false,
                esn: false,
                local_ts: vec![],
                remote_ts: vec![],
                installed_at: Instant::now(),
                rekey_at: None,
                expires_at: None,
            }),
        }
    }

    fn rekeyed(old: u32, new: u32) -> Event {
        Event::ChildRekeyed {
            ike: IkeSaId(1),
            child: "vti".into(),
            old_spi_in: old,
            new_spi_in: new,
        }
    }

    fn down(spi: u32) -> Event {
        Event::ChildDown {
            ike: IkeSaId(1),
            conn: "lab".into(),
            child: "vti".into(),
            spi_in: spi,
            spi_out: spi + 1000,
            reason: Failure::DeletedLocally,
        }
    }

    fn run(r: &mut Routing, e: Event) -> Option<Verb> {
        r.updown_for(&e, |_| None).map(|(v, c)| {
            assert_eq!(
                c.routed.as_ref().map(|x| x.interface.as_str()),
                Some("ipsec7")
            );
            v
        })
    }

    /// Up once, nothing for rekeys or a collision's redundant SA, down
    /// when the last SA of the child goes.
    #[test]
    fn updown_once_per_child_through_rekeys_and_collisions() {
        let mut r = Routing::new(&cfg());
        install(&mut r, 1);
        assert_eq!(run(&mut r, up(1)), Some(Verb::Up));
        // plain rekey 1 -> 2
        install(&mut r, 2);
        assert_eq!(run(&mut r, rekeyed(1, 2)), None);
        assert_eq!(run(&mut r, up(2)), None);
        // collision: 2 rekeyed into 3 (theirs) and 4 (ours), 4 deleted
        install(&mut r, 3);
        assert_eq!(run(&mut r, rekeyed(2, 3)), None);
        assert_eq!(run(&mut r, up(3)), None);
        install(&mut r, 4);
        assert_eq!(run(&mut r, rekeyed(2, 4)), None);
        assert_eq!(run(&mut r, up(4)), None);
        assert_eq!(run(&mut r, down(4)), None);
        // the survivor goes: down
        assert_eq!(run(&mut r, down(3)), Some(Verb::Down));
        assert!(r.up.is_empty() && r.lineage.is_empty());
    }

    /// A child that fails before it is up, and one without updown, run
    /// nothing.
    #[test]
    fn no_updown_without_an_up() {
        let mut r = Routing::new(&cfg());
        assert_eq!(run(&mut r, up(9)), None);
        assert_eq!(run(&mut r, down(9)), None);
        assert_eq!(run(&mut r, down(0)), None);
    }
}
