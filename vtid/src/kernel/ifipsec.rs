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
//!   The configured `routes` are not installed on FreeBSD (pfSense routes
//!   through its own gateways; see the README's FreeBSD section).
//! * IKE sockets: IPsec bypass on every one (`IP_IPSEC_POLICY`), and
//!   `UDP_ENCAP_ESPINUDP` on the NAT-T ones, so the kernel takes ESP in UDP.
//! * Events: a thread on a second PF_KEY socket registered for ESP turns
//!   `SADB_EXPIRE` into [`Report::Expired`]; `SADB_ACQUIRE` is logged.

use std::fmt;
use std::net::SocketAddr;
use std::os::fd::BorrowedFd;
use std::sync::Arc;

use pfkey::backend::{self, KernelEvent, SaOp};
use pfkey::freebsd::{self as bsd, IfIpsec};
use pfkey::pfkey::{Flavor, Message, PfKeySocket, SaType};
use tokio::sync::mpsc::UnboundedSender;
use tracing::{info, warn};

use super::KernelEsp;
use crate::dataplane::{Dataplane, DataplaneError, EspSink, Report};

/// One configured `ipsecN` and whether vtid made it.
#[derive(Debug)]
struct Iface {
    name: String,
    created: bool,
}

/// PF_KEY with FreeBSD `if_ipsec` interfaces.
pub struct PfKeyDataplane {
    kernel: backend::pfkey::PfKeyBackend<PfKeySocket, IfIpsec>,
    ifaces: Vec<Iface>,
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
        });
    }
    let name = bsd::create_ipsec(&i.name, i.reqid).map_err(|e| err(&i.name, "create", e))?;
    let f = Iface {
        name: name.clone(),
        created: true,
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

impl Drop for PfKeyDataplane {
    fn drop(&mut self) {
        for spi_in in self.kernel.spis() {
            let _ = self.kernel.delete(spi_in);
        }
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
            } => self
                .kernel
                .install((**spec).clone(), *outbound_active)
                .map_err(e)?,
            SaOp::ActivateOutbound { reqid, spi_out } => {
                self.kernel.activate_outbound(*reqid, *spi_out).map_err(e)?
            }
            SaOp::RemoveOutbound { reqid, spi_out } => {
                self.kernel.remove_outbound(*reqid, *spi_out).map_err(e)?
            }
            SaOp::Delete { spi_in, .. } => self.kernel.delete(*spi_in).map_err(e)?,
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
