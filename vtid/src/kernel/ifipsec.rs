//! FreeBSD PF_KEY with `if_ipsec(4)` interfaces (`pfkey::backend::pfkey`)
//! behind the daemon's [`Dataplane`] trait: pfSense's route-based IPsec,
//! and the default data plane on FreeBSD.
//!
//! * Interfaces at start: a configured `ipsecN` that exists is **adopted**
//!   (pfSense made it: `ifconfig ipsecN create reqid R`): its reqid is read
//!   with `IPSECGREQID` and must be the configured one, and vtid neither
//!   re-addresses nor destroys it. One that does not exist is created with
//!   its reqid, given the configured `local_addrs` (point-to-point to the
//!   `remote_addrs` of the family), MTU and `up`, and destroyed at exit.
//!   The tunnel endpoints follow each CHILD SA (`pfkey::freebsd::IfIpsec`).
//! * Routes: while an interface has a CHILD SA, its configured `routes` go
//!   through it with the routing socket (`route add -net P GW`), the gateway
//!   being its remote transit address of the family (the automatic gateway;
//!   the point-to-point address vtid gives a created interface makes the
//!   kernel's host route to it), else its own address of the family
//!   (`-interface`). FreeBSD routes have no preference metric, so of the
//!   interfaces that are up and route one prefix only the lowest
//!   `route_metric` (then name) has it installed
//!   ([`pfkey::backend::routes::PreferredRoutes`]): failover as on Linux.
//!   They are removed with the interface's last SA and at exit; a route
//!   that was there before vtid added it is never deleted by vtid.
//! * IKE sockets: IPsec bypass on every one (`IP_IPSEC_POLICY`), and
//!   `UDP_ENCAP_ESPINUDP` on the NAT-T ones, so the kernel takes ESP in UDP.
//! * Events: a thread on a second PF_KEY socket registered for ESP turns
//!   `SADB_EXPIRE` into [`Report::Expired`]; `SADB_ACQUIRE` is logged.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::SocketAddr;
use std::os::fd::BorrowedFd;
use std::sync::Arc;

use pfkey::backend::routes::{PreferredRoutes, Prefix, RouteChange};
use pfkey::backend::{self, KernelEvent, SaOp};
use pfkey::freebsd::{self as bsd, IfIpsec};
use pfkey::freebsd_route::{NextHop, Route, RtAddr, RTAX_IFP};
use pfkey::pfkey::{Flavor, Message, PfKeySocket, SaType};
use tokio::sync::mpsc::UnboundedSender;
use tracing::{info, warn};

use super::KernelEsp;
use crate::dataplane::{Dataplane, DataplaneError, EspSink, Report};

/// One configured `ipsecN`, whether vtid made it, and how many CHILD SAs
/// it carries.
#[derive(Debug)]
struct Iface {
    name: String,
    created: bool,
    cfg: config::Interface,
    sas: usize,
}

impl Iface {
    fn prefixes(&self) -> Vec<Prefix> {
        self.cfg.routes.iter().map(|r| (r.addr, r.prefix)).collect()
    }

    /// The next hop of a route of family `v6` through this interface
    /// ([`pfkey::freebsd_route::next_hop`]).
    fn next_hop(&self, v6: bool) -> Option<NextHop> {
        let local: Vec<_> = self.cfg.local_addrs.iter().map(|a| a.addr).collect();
        pfkey::freebsd_route::next_hop(&self.cfg.remote_addrs, &local, v6)
    }
}

/// PF_KEY with FreeBSD `if_ipsec` interfaces.
pub struct PfKeyDataplane {
    kernel: backend::pfkey::PfKeyBackend<PfKeySocket, IfIpsec>,
    ifaces: Vec<Iface>,
    /// Inbound SPI → reqid of the installed SAs whose reqid has an
    /// interface (what the interface's SA count follows).
    routed: HashMap<u32, u32>,
    routes: PreferredRoutes,
    /// Routes that already existed when vtid added them (`EEXIST`):
    /// someone else's, never deleted by vtid.
    foreign: HashSet<(Prefix, String)>,
}

impl fmt::Debug for PfKeyDataplane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PfKeyDataplane")
            .field("ifaces", &self.ifaces)
            .finish_non_exhaustive()
    }
}

fn err(name: &str, what: &str, e: impl fmt::Display) -> DataplaneError {
    DataplaneError(format!("interface {name}: {what}: {e}"))
}

/// Adopts `i` if it exists (its reqid must match), else creates it with
/// its addresses, MTU and up.
fn setup_iface(i: &config::Interface) -> Result<Iface, DataplaneError> {
    if bsd::exists(&i.name) {
        let r = bsd::reqid(&i.name)
            .map_err(|e| err(&i.name, "IPSECGREQID (is it an if_ipsec interface?)", e))?;
        if r != i.reqid {
            return Err(DataplaneError(format!(
                "interface {} exists with reqid {r}, but the configuration gives it reqid {}: \
                 make them equal (ifconfig {} reqid {} or vtid.interfaces.{}.reqid = {r})",
                i.name, i.reqid, i.name, i.reqid, i.name
            )));
        }
        info!(target: "vtid::dataplane", "pfkey: adopting existing interface {} (reqid {r}); it keeps its addresses and will not be destroyed", i.name);
        return Ok(Iface {
            name: i.name.clone(),
            created: false,
            cfg: i.clone(),
            sas: 0,
        });
    }
    let name = bsd::create_ipsec(&i.name, i.reqid).map_err(|e| err(&i.name, "create", e))?;
    let f = Iface {
        name: name.clone(),
        created: true,
        cfg: i.clone(),
        sas: 0,
    };
    // From here a failure drops `f` through the caller, destroying it.
    for a in &i.local_addrs {
        let peer = i
            .remote_addrs
            .iter()
            .copied()
            .find(|r| r.is_ipv6() == a.addr.is_ipv6());
        bsd::add_address(&name, a.addr, a.prefix, peer)
            .map_err(|e| err(&name, &format!("address {}/{}", a.addr, a.prefix), e))?;
    }
    bsd::set_mtu(&name, i.mtu.max(config::MIN_MTU)).map_err(|e| err(&name, "mtu", e))?;
    bsd::set_up(&name).map_err(|e| err(&name, "up", e))?;
    info!(target: "vtid::dataplane", "pfkey: created if_ipsec interface {name} reqid {}", i.reqid);
    Ok(f)
}

impl PfKeyDataplane {
    /// Opens the PF_KEY socket, adopts or creates the configured `ipsecN`
    /// interfaces and starts the expire/acquire thread (reports go to
    /// `reports`).
    pub fn start(
        cfg: &config::Config,
        reports: UnboundedSender<Report>,
    ) -> Result<PfKeyDataplane, DataplaneError> {
        let sock = PfKeySocket::open(Flavor::native())
            .map_err(|e| DataplaneError(format!("data plane 'pfkey' cannot start: {e}")))?;
        let names = cfg
            .interfaces
            .iter()
            .map(|i| (i.reqid, i.name.clone()))
            .collect();
        let mut dp = PfKeyDataplane {
            kernel: backend::pfkey::PfKeyBackend::new(sock, IfIpsec, Flavor::native(), names),
            ifaces: Vec::new(),
            routed: HashMap::new(),
            routes: PreferredRoutes::new(),
            foreign: HashSet::new(),
        };
        for i in &cfg.interfaces {
            // On failure `dp` drops and destroys what it created.
            let f = setup_iface(i)?;
            dp.ifaces.push(f);
        }
        spawn_events(reports)?;
        Ok(dp)
    }
}

impl PfKeyDataplane {
    /// The interface carrying SAs of `reqid` (`if_ipsec` binds by reqid).
    fn iface_of(&mut self, reqid: u32) -> Option<&mut Iface> {
        self.ifaces.iter_mut().find(|f| f.cfg.reqid == reqid)
    }

    fn sa_up(&mut self, reqid: u32) {
        let Some(f) = self.iface_of(reqid) else {
            return;
        };
        f.sas += 1;
        if f.sas == 1 {
            let (name, metric, prefixes) = (f.name.clone(), f.cfg.route_metric, f.prefixes());
            let changes = self.routes.up(&name, metric, &prefixes);
            self.apply_routes(&changes);
        }
    }

    fn sa_down(&mut self, reqid: u32) {
        let Some(f) = self.iface_of(reqid) else {
            return;
        };
        f.sas = f.sas.saturating_sub(1);
        if f.sas == 0 {
            let name = f.name.clone();
            let changes = self.routes.down(&name);
            self.apply_routes(&changes);
        }
    }

    /// Carries out route changes; a failure is logged (the SA stays
    /// installed, as with XFRM). A route that existed before vtid added it
    /// is left in place when vtid would delete it.
    fn apply_routes(&mut self, changes: &[RouteChange]) {
        for c in changes {
            let (add, (dst, prefix), name) = match c {
                RouteChange::Add { prefix, iface } => (true, prefix, iface),
                RouteChange::Delete { prefix, iface } => (false, prefix, iface),
            };
            if !add && self.foreign.remove(&((*dst, *prefix), name.clone())) {
                continue;
            }
            let Some(f) = self.ifaces.iter().find(|f| &f.name == name) else {
                continue;
            };
            let Some(via) = f.next_hop(dst.is_ipv6()) else {
                warn!(target: "vtid::dataplane", "pfkey: route {dst}/{prefix} via {name}: the interface has no {} address (local_addr or remote_addr) to route through", if dst.is_ipv6() { "IPv6" } else { "IPv4" });
                continue;
            };
            let r = Route {
                dst: *dst,
                prefix: *prefix,
                via,
            };
            match bsd::route_change(add, &r) {
                Ok(()) => {
                    info!(target: "vtid::dataplane", "pfkey: {} route {dst}/{prefix} via {name} ({via:?})", if add { "added" } else { "removed" })
                }
                Err(e) if add && e.raw_os_error() == Some(nix::libc::EEXIST) => {
                    let now = match bsd::route_get(*dst).map(|m| m.addr(RTAX_IFP).cloned()) {
                        Ok(Some(RtAddr::Link { name, .. })) if !name.is_empty() => name,
                        _ => "?".into(),
                    };
                    warn!(target: "vtid::dataplane", "pfkey: route {dst}/{prefix} via {name}: a route to it already exists (through interface {now}); vtid leaves it alone and will not delete it");
                    self.foreign.insert(((*dst, *prefix), name.clone()));
                }
                Err(e) => {
                    warn!(target: "vtid::dataplane", "pfkey: {} route {dst}/{prefix} via {name}: {e}", if add { "adding" } else { "removing" })
                }
            }
        }
    }
}

impl Drop for PfKeyDataplane {
    fn drop(&mut self) {
        for spi_in in self.kernel.spis() {
            let _ = self.kernel.delete(spi_in);
        }
        let changes = self.routes.clear();
        self.apply_routes(&changes);
        for f in self.ifaces.iter().filter(|f| f.created) {
            if let Err(e) = bsd::destroy(&f.name) {
                warn!(target: "vtid::dataplane", "pfkey: destroying {}: {e}", f.name);
            }
        }
    }
}

fn spawn_events(reports: UnboundedSender<Report>) -> Result<(), DataplaneError> {
    let mut sock = PfKeySocket::open(Flavor::native())
        .map_err(|e| DataplaneError(format!("PF_KEY event socket: {e}")))?;
    sock.request(Message::register(SaType::ESP))
        .map_err(|e| DataplaneError(format!("PF_KEY SADB_REGISTER: {e}")))?;
    let _ = sock.set_timeout(None);
    std::thread::Builder::new()
        .name("vtid-pfkey-events".into())
        .spawn(move || loop {
            let m = match sock.next_event() {
                Ok(m) => m,
                Err(e) => {
                    warn!(target: "vtid::dataplane", "pfkey events: {e}");
                    std::thread::sleep(std::time::Duration::from_millis(200));
                    continue;
                }
            };
            match backend::pfkey::parse_event(&m) {
                Some(KernelEvent::Expire { spi, hard, .. })
                    if reports.send(Report::Expired { spi, hard }).is_err() =>
                {
                    return;
                }
                Some(KernelEvent::Acquire { reqid, src, dst }) => {
                    info!(target: "vtid::dataplane", "pfkey: acquire for reqid {reqid} ({src:?} -> {dst:?}); traffic-triggered initiation is not implemented");
                }
                // Sent, or nothing to do.
                Some(KernelEvent::Expire { .. }) | None => {}
            }
        })
        .map_err(|e| DataplaneError(format!("PF_KEY event thread: {e}")))?;
    Ok(())
}

impl Dataplane for PfKeyDataplane {
    fn name(&self) -> &'static str {
        "pfkey"
    }

    fn apply(&mut self, op: &SaOp) -> Result<(), DataplaneError> {
        let e = |e: backend::pfkey::Error| DataplaneError(e.to_string());
        match op {
            SaOp::Install {
                spec,
                outbound_active,
            } => {
                let spi_in = spec.inbound.spi;
                let replaced = self.routed.contains_key(&spi_in);
                self.kernel
                    .install((**spec).clone(), *outbound_active)
                    .map_err(e)?;
                if !replaced && self.iface_of(spec.reqid).is_some() {
                    self.routed.insert(spi_in, spec.reqid);
                    self.sa_up(spec.reqid);
                }
            }
            SaOp::ActivateOutbound { reqid, spi_out } => {
                self.kernel.activate_outbound(*reqid, *spi_out).map_err(e)?
            }
            SaOp::RemoveOutbound { reqid, spi_out } => {
                self.kernel.remove_outbound(*reqid, *spi_out).map_err(e)?
            }
            SaOp::Delete { spi_in, .. } => {
                self.kernel.delete(*spi_in).map_err(e)?;
                if let Some(reqid) = self.routed.remove(spi_in) {
                    self.sa_down(reqid);
                }
            }
            SaOp::Update {
                spi_in,
                local,
                remote,
                encap,
            } => self
                .kernel
                .update_address(*spi_in, *local, *remote, *encap)
                .map_err(e)?,
        }
        Ok(())
    }

    fn esp_sink(&self) -> Arc<dyn EspSink> {
        Arc::new(KernelEsp)
    }

    fn supports_transport_mode(&self) -> bool {
        true
    }

    /// IPsec bypass on every IKE socket, `UDP_ENCAP_ESPINUDP` on the NAT-T
    /// ones (the daemon binds port 4500 itself with this backend).
    fn prepare_socket(
        &self,
        fd: BorrowedFd<'_>,
        bound: SocketAddr,
        nat_t: bool,
    ) -> Result<(), DataplaneError> {
        bsd::bypass_socket(fd, bound.is_ipv6())
            .map_err(|e| DataplaneError(format!("IP_IPSEC_POLICY bypass on {bound}: {e}")))?;
        if nat_t {
            bsd::udp_encap_socket(fd)
                .map_err(|e| DataplaneError(format!("UDP_ENCAP on {bound}: {e}")))?;
        }
        Ok(())
    }
}
