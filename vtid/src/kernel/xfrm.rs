//! Linux XFRM with xfrm interfaces (`pfkey::backend::xfrm`) behind the
//! daemon's [`Dataplane`] trait.
//!
//! This adapter hands the backend-neutral [`SaOp`]s to the XFRM backend
//! and does what the kernel does not: the `ipsecN` interfaces (created or adopted at
//! start, addresses and MTU from the configuration) and their routes
//! (installed with the interface's first SA, withdrawn with its last, like
//! the userspace backend; here in the main table, since the kernel's own
//! ESP packets carry no mark a rule could match). Netlink requests are
//! synchronous (a few microseconds each), so `apply` stays quick.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::BorrowedFd;
use std::sync::Arc;

use pfkey::backend::{self, SaOp};
use tokio::sync::mpsc::UnboundedSender;
use tracing::{info, warn};
use vti::netlink::{Netlink, RouteSpec};

use super::KernelEsp;
use crate::dataplane::{Dataplane, DataplaneError, EspSink, Report};

/// The main routing table.
pub const RT_TABLE_MAIN: u32 = 254;

/// Why kernel ESP is missing (probed by creating and deleting a throwaway
/// state), or `Ok`.
fn esp_probe() -> Result<(), String> {
    match pfkey::xfrm::xfrm_esp_available() {
        Ok(true) => Ok(()),
        Ok(false) => Err(
            "the kernel has no ESP (XFRM_MSG_NEWSA for ESP fails: \"Requested type not \
             found\"; modules esp4/esp6)"
                .into(),
        ),
        Err(e) => Err(format!("kernel ESP could not be probed ({e})")),
    }
}

/// Why the XFRM backend cannot run here, or `Ok` if it can: kernel ESP and
/// xfrm interfaces (each probed by creating and deleting a throwaway state
/// or interface).
pub fn xfrm_probe() -> Result<(), String> {
    esp_probe()?;
    match pfkey::link::xfrm_interfaces_available() {
        Ok(true) => Ok(()),
        Ok(false) => Err(
            "the kernel has ESP but no xfrm interfaces (RTM_NEWLINK kind \"xfrm\" fails; \
             module xfrm_interface)"
                .into(),
        ),
        Err(e) => Err(format!("xfrm interfaces could not be probed ({e})")),
    }
}

/// Why the XFRM backend with interfaces of type `t` cannot run here, or
/// `Ok`: [`xfrm_probe`] for `xfrmi`; for `vti` kernel ESP and `ip_vti`
/// (probed by creating and deleting a throwaway VTI).
pub fn xfrm_probe_for(t: config::XfrmInterfaceType) -> Result<(), String> {
    if t == config::XfrmInterfaceType::Xfrmi {
        return xfrm_probe();
    }
    esp_probe()?;
    match pfkey::link::vti_available() {
        Ok(true) => Ok(()),
        Ok(false) => Err(
            "the kernel has ESP but no VTI (ip_vti module; RTM_NEWLINK kind \"vti\" fails) \
             for xfrm_interface_type = vti"
                .into(),
        ),
        Err(e) => Err(format!("VTI could not be probed ({e})")),
    }
}

/// One configured `ipsecN` interface (xfrm interface or legacy VTI).
#[derive(Debug)]
struct Iface {
    cfg: config::Interface,
    /// 0 while a VTI is not yet defined (before its first SA).
    index: u32,
    created: bool,
    sas: usize,
    /// The VTI's current definition (VTI mode, once defined).
    vti: Option<pfkey::link::VtiParams>,
}

impl Iface {
    fn routes(&self) -> Vec<RouteSpec> {
        self.cfg
            .routes
            .iter()
            .map(|r| {
                let p = vti::iface::Prefix::from(*r);
                RouteSpec {
                    dst: p.network(),
                    prefix: p.len,
                    ifindex: self.index,
                    gateway: self
                        .cfg
                        .remote_addrs
                        .iter()
                        .copied()
                        .find(|a| a.is_ipv6() == r.addr.is_ipv6()),
                    src: None,
                    table: RT_TABLE_MAIN,
                    metric: self.cfg.route_metric,
                }
            })
            .collect()
    }
}

/// Linux XFRM with xfrm interfaces.
pub struct XfrmDataplane {
    kernel: backend::xfrm::XfrmBackend,
    nl: Netlink,
    /// By the interface's reqid; which one carries an SA:
    /// [`XfrmDataplane::iface_of`].
    ifaces: HashMap<u32, Iface>,
    /// The configured interfaces, for `config::interface_for`.
    interfaces: Vec<config::Interface>,
    /// The interface (its reqid) of each installed routed SA, by inbound
    /// SPI.
    routed: HashMap<u32, u32>,
    iftype: config::XfrmInterfaceType,
}

impl fmt::Debug for XfrmDataplane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XfrmDataplane")
            .field("ifaces", &self.ifaces)
            .finish_non_exhaustive()
    }
}

impl XfrmDataplane {
    /// Checks the kernel ([`xfrm_probe`]), creates or adopts the `ipsecN`
    /// xfrm interfaces (if_id = reqid), and subscribes to expire/acquire
    /// events, which go to `reports`.
    pub fn start(
        cfg: &config::Config,
        reports: UnboundedSender<Report>,
    ) -> Result<XfrmDataplane, DataplaneError> {
        let iftype = cfg.daemon.xfrm_interface_type;
        xfrm_probe_for(iftype).map_err(|why| {
            DataplaneError(format!(
                "data plane 'xfrm' cannot start: {why}; use --dataplane userspace (or auto)"
            ))
        })?;
        let mut kernel = backend::xfrm::XfrmBackend::open()
            .map_err(|e| DataplaneError(format!("XFRM socket: {e}")))?;
        if iftype == config::XfrmInterfaceType::Vti {
            kernel.set_binding(backend::xfrm::Binding::Mark);
        }
        let nl = Netlink::new().map_err(|e| DataplaneError(format!("rtnetlink: {e}")))?;
        let mut ifaces = HashMap::new();
        let mut dp_err = None;
        for i in &cfg.interfaces {
            let r = if iftype == config::XfrmInterfaceType::Vti {
                Self::adopt_vti(&nl, i)
            } else {
                Self::setup_iface(&nl, i)
            };
            match r {
                Ok(f) => {
                    ifaces.insert(i.reqid, f);
                }
                Err(e) => {
                    dp_err = Some(e);
                    break;
                }
            }
        }
        let dp = XfrmDataplane {
            kernel,
            nl,
            ifaces,
            interfaces: cfg.interfaces.clone(),
            routed: HashMap::new(),
            iftype,
        };
        if let Some(e) = dp_err {
            return Err(e); // drop removes what was created
        }
        spawn_events(reports)?;
        Ok(dp)
    }

    fn setup_iface(nl: &Netlink, i: &config::Interface) -> Result<Iface, DataplaneError> {
        let err = |what: &str, e: &dyn fmt::Display| {
            DataplaneError(format!("interface {}: {what}: {e}", i.name))
        };
        let (index, created) = match nl.link_index(&i.name).map_err(|e| err("lookup", &e))? {
            Some(ix) => {
                info!(target: "vtid::dataplane", "xfrm: adopting existing interface {} (it must be an xfrm interface with if_id {}); it will not be deleted", i.name, i.reqid);
                (ix, false)
            }
            None => {
                pfkey::link::create_xfrm_interface(&i.name, i.reqid, None)
                    .map_err(|e| err("create", &e))?;
                let ix = nl
                    .link_index(&i.name)
                    .map_err(|e| err("lookup", &e))?
                    .ok_or_else(|| err("lookup", &"created but not found"))?;
                info!(target: "vtid::dataplane", "xfrm: created xfrm interface {} if_id {}", i.name, i.reqid);
                (ix, true)
            }
        };
        let f = Iface {
            cfg: i.clone(),
            index,
            created,
            sas: 0,
            vti: None,
        };
        Self::addresses_up(nl, i, index)?;
        Ok(f)
    }

    fn addresses_up(nl: &Netlink, i: &config::Interface, index: u32) -> Result<(), DataplaneError> {
        let err = |what: &str, e: &dyn fmt::Display| {
            DataplaneError(format!("interface {}: {what}: {e}", i.name))
        };
        for a in &i.local_addrs {
            nl.addr_add(index, a.addr, a.prefix)
                .map_err(|e| err("address", &e))?;
        }
        nl.link_up(index, i.mtu.max(config::MIN_MTU), 0)
            .map_err(|e| err("up", &e))?;
        Ok(())
    }

    /// VTI mode at start: a VTI is defined by its tunnel endpoints, known
    /// only with the first CHILD SA ([`Self::ensure_vti`]); an existing
    /// interface of that name is adopted (re-defined then, never deleted).
    fn adopt_vti(nl: &Netlink, i: &config::Interface) -> Result<Iface, DataplaneError> {
        let index = nl
            .link_index(&i.name)
            .map_err(|e| DataplaneError(format!("interface {}: lookup: {e}", i.name)))?;
        if index.is_some() {
            info!(target: "vtid::dataplane", "xfrm: adopting existing interface {} (it must be a VTI; it is re-defined with key {} and the SA's endpoints at the first SA, and not deleted)", i.name, i.reqid);
        }
        Ok(Iface {
            cfg: i.clone(),
            index: index.unwrap_or(0),
            created: false,
            sas: 0,
            vti: None,
        })
    }

    /// VTI mode: (re)defines the VTI of `reqid` for these tunnel endpoints
    /// before its SAs go in: created at the first SA (addresses, MTU, up),
    /// changed (`ip link change … local L remote R`) when the peer moved,
    /// deleted and created again if the change is refused (family change).
    fn ensure_vti(
        &mut self,
        reqid: u32,
        key: u32,
        local: IpAddr,
        remote: IpAddr,
    ) -> Result<(), DataplaneError> {
        if self.iftype != config::XfrmInterfaceType::Vti {
            return Ok(());
        }
        let Some(f) = self.ifaces.get_mut(&reqid) else {
            return Ok(());
        };
        let p = pfkey::link::VtiParams {
            key,
            local,
            remote,
            link: None,
        };
        if f.vti == Some(p) {
            return Ok(());
        }
        let name = f.cfg.name.clone();
        let err = |what: &str, e: &dyn fmt::Display| {
            DataplaneError(format!("interface {name}: {what}: {e}"))
        };
        if f.index != 0 {
            match pfkey::link::change_vti_interface(&name, &p) {
                Ok(()) => {
                    info!(target: "vtid::dataplane", "xfrm: VTI {name} re-defined: {} key {key} local {local} remote {remote}", p.kind());
                    f.vti = Some(p);
                    return Ok(());
                }
                Err(e) if f.created => {
                    info!(target: "vtid::dataplane", "xfrm: VTI {name} cannot be changed ({e}); re-creating it");
                    pfkey::link::delete_link(&name).map_err(|e| err("delete", &e))?;
                    f.index = 0;
                    f.created = false;
                }
                Err(e) => return Err(err("re-define adopted VTI", &e)),
            }
        }
        pfkey::link::create_vti_interface(&name, &p).map_err(|e| err("create", &e))?;
        let ix = self
            .nl
            .link_index(&name)
            .map_err(|e| err("lookup", &e))?
            .ok_or_else(|| err("lookup", &"created but not found"))?;
        f.index = ix;
        f.created = true;
        f.vti = Some(p);
        info!(target: "vtid::dataplane", "xfrm: created VTI {name}: {} key {key} local {local} remote {remote}", p.kind());
        Self::addresses_up(&self.nl, &f.cfg, ix)?;
        if f.sas > 0 {
            for r in f.routes() {
                if let Err(e) = self.nl.route_add(r) {
                    warn!(target: "vtid::dataplane", "xfrm: route {}/{} via {name}: {e}", r.dst, r.prefix);
                }
            }
        }
        Ok(())
    }

    fn vti_key(spec: &backend::ChildSpec) -> Result<u32, DataplaneError> {
        let (i, o) = (
            spec.if_id_of(backend::Dir::In),
            spec.if_id_of(backend::Dir::Out),
        );
        if i != o {
            return Err(DataplaneError(format!(
                "legacy VTI has one key: if_id_in {i} and if_id_out {o} must be equal"
            )));
        }
        Ok(i)
    }

    /// The interface (its reqid, the key of `ifaces`) carrying an SA of
    /// `reqid` and `if_id`: by reqid, else by if_id (`config::interface_for`,
    /// the rule of every data plane).
    fn iface_of(&self, reqid: u32, if_id: (u32, u32)) -> Option<u32> {
        config::interface_for(&self.interfaces, reqid, if_id).map(|i| i.reqid)
    }

    fn err(e: backend::xfrm::Error) -> DataplaneError {
        DataplaneError(e.to_string())
    }

    fn sa_up(&mut self, reqid: u32) {
        let Some(f) = self.ifaces.get_mut(&reqid) else {
            return;
        };
        f.sas += 1;
        if f.sas == 1 {
            for r in f.routes() {
                if let Err(e) = self.nl.route_add(r) {
                    warn!(target: "vtid::dataplane", "xfrm: route {}/{} via {}: {e}", r.dst, r.prefix, f.cfg.name);
                }
            }
        }
    }

    fn sa_down(&mut self, reqid: u32) {
        let Some(f) = self.ifaces.get_mut(&reqid) else {
            return;
        };
        f.sas = f.sas.saturating_sub(1);
        if f.sas == 0 {
            for r in f.routes() {
                if let Err(e) = self.nl.route_del(r) {
                    warn!(target: "vtid::dataplane", "xfrm: removing route {}/{}: {e}", r.dst, r.prefix);
                }
            }
        }
    }
}

fn spawn_events(reports: UnboundedSender<Report>) -> Result<(), DataplaneError> {
    use pfkey::backend::xfrm::{parse_event, KernelEvent};
    use pfkey::xfrm::{group, XfrmSocket};
    let mut sock = XfrmSocket::open_groups(&[group::EXPIRE, group::ACQUIRE])
        .map_err(|e| DataplaneError(format!("XFRM event socket: {e}")))?;
    let _ = sock.netlink().set_timeout(None);
    std::thread::Builder::new()
        .name("vtid-xfrm-events".into())
        .spawn(move || loop {
            let m = match sock.next_event() {
                Ok(m) => m,
                Err(e) => {
                    warn!(target: "vtid::dataplane", "xfrm events: {e}");
                    std::thread::sleep(std::time::Duration::from_millis(200));
                    continue;
                }
            };
            match parse_event(&m) {
                Some(KernelEvent::Expire { spi, hard, .. })
                    if reports.send(Report::Expired { spi, hard }).is_err() =>
                {
                    return;
                }
                Some(KernelEvent::Acquire { reqid, src, dst }) => {
                    info!(target: "vtid::dataplane", "xfrm: acquire for reqid {reqid} ({} -> {}); traffic-triggered initiation is not implemented", opt(src), opt(dst));
                }
                // Sent, or nothing to do.
                Some(KernelEvent::Expire { .. }) | None => {}
            }
        })
        .map_err(|e| DataplaneError(format!("XFRM event thread: {e}")))?;
    Ok(())
}

fn opt(a: Option<IpAddr>) -> String {
    a.map_or_else(|| "?".into(), |a| a.to_string())
}

impl Drop for XfrmDataplane {
    fn drop(&mut self) {
        self.kernel.clear();
        for f in self.ifaces.values() {
            if f.sas > 0 {
                for r in f.routes() {
                    let _ = self.nl.route_del(r);
                }
            }
            if f.created {
                if let Err(e) = pfkey::link::delete_link(&f.cfg.name) {
                    warn!(target: "vtid::dataplane", "xfrm: deleting {}: {e}", f.cfg.name);
                }
            }
        }
    }
}

impl Dataplane for XfrmDataplane {
    fn name(&self) -> &'static str {
        "xfrm"
    }

    fn apply(&mut self, op: &SaOp) -> Result<(), DataplaneError> {
        match op {
            SaOp::Install {
                spec,
                outbound_active,
            } => {
                let iface = self.iface_of(spec.reqid, spec.if_id);
                let vti = self.iftype == config::XfrmInterfaceType::Vti;
                if let Some(i) = iface.filter(|_| vti) {
                    let key = Self::vti_key(spec)?;
                    self.ensure_vti(i, key, spec.local.ip(), spec.remote.ip())?;
                }
                let spi_in = spec.inbound.spi;
                let replaced = self.kernel.if_id_of(spi_in).is_some();
                self.kernel
                    .install((**spec).clone(), *outbound_active)
                    .map_err(Self::err)?;
                if let Some(i) = iface {
                    self.routed.insert(spi_in, i);
                    if !replaced {
                        self.sa_up(i);
                    }
                }
            }
            SaOp::ActivateOutbound { reqid, spi_out } => self
                .kernel
                .activate_outbound(*reqid, *spi_out)
                .map_err(Self::err)?,
            SaOp::RemoveOutbound { reqid, spi_out } => self
                .kernel
                .remove_outbound(*reqid, *spi_out)
                .map_err(Self::err)?,
            SaOp::Delete { spi_in, .. } => {
                let iface = self.routed.remove(spi_in);
                if self.kernel.delete(*spi_in) {
                    if let Some(i) = iface {
                        self.sa_down(i);
                    }
                }
            }
            SaOp::Update {
                spi_in,
                local,
                remote,
                encap,
            } => {
                let vti = self.iftype == config::XfrmInterfaceType::Vti;
                if let Some(i) = self.routed.get(spi_in).copied().filter(|_| vti) {
                    let key = self.kernel.if_id_of(*spi_in).unwrap_or(i);
                    self.ensure_vti(i, key, local.ip(), remote.ip())?;
                }
                self.kernel
                    .update_address(*spi_in, *local, *remote, *encap)
                    .map_err(Self::err)?;
            }
        }
        Ok(())
    }

    fn esp_sink(&self) -> Arc<dyn EspSink> {
        Arc::new(KernelEsp)
    }

    fn supports_transport_mode(&self) -> bool {
        true
    }

    /// A per-socket bypass policy on every IKE socket and kernel
    /// ESP-in-UDP decapsulation on the NAT-T ones.
    fn prepare_socket(
        &self,
        fd: BorrowedFd<'_>,
        bound: SocketAddr,
        nat_t: bool,
    ) -> Result<(), DataplaneError> {
        backend::xfrm::bypass_socket(fd, bound.is_ipv6())
            .map_err(|e| DataplaneError(format!("IP_XFRM_POLICY bypass on {bound}: {e}")))?;
        if nat_t {
            backend::xfrm::udp_encap_socket(fd)
                .map_err(|e| DataplaneError(format!("UDP_ENCAP on {bound}: {e}")))?;
        }
        Ok(())
    }
}
