//! FreeBSD PF_KEY with `if_ipsec(4)` interfaces (`pfkey::backend::pfkey`)
//! behind the daemon's [`Dataplane`] trait: pfSense's route-based IPsec.

use std::sync::Arc;

use ike::engine::Action;
use pfkey::backend;
use pfkey::pfkey::{Flavor, PfKeySocket};
use tokio::sync::mpsc::UnboundedSender;

use super::{child_spec, KernelEsp};
use crate::dataplane::{Dataplane, DataplaneError, EspSink, Report, SaEntry, SaTable};

/// PF_KEY with FreeBSD `if_ipsec` interfaces.
#[derive(Debug)]
pub struct PfKeyDataplane {
    kernel: backend::pfkey::PfKeyBackend<PfKeySocket, backend::pfkey::IfIpsec>,
    table: SaTable,
    port_nat_t: u16,
}

impl PfKeyDataplane {
    /// Opens the PF_KEY socket; the `if_ipsec` interfaces are created (or
    /// re-pointed) at their first SA, when the tunnel endpoints are known.
    pub fn start(
        cfg: &config::Config,
        port_nat_t: u16,
        _reports: UnboundedSender<Report>,
    ) -> Result<PfKeyDataplane, DataplaneError> {
        let sock = PfKeySocket::open(Flavor::native())
            .map_err(|e| DataplaneError(format!("data plane 'pfkey' cannot start: {e}")))?;
        let names = cfg
            .interfaces
            .iter()
            .map(|i| (i.reqid, i.name.clone()))
            .collect();
        Ok(PfKeyDataplane {
            kernel: backend::pfkey::PfKeyBackend::new(
                sock,
                backend::pfkey::IfIpsec,
                Flavor::native(),
                names,
            ),
            table: SaTable::new("pfkey"),
            port_nat_t,
        })
    }
}

impl Dataplane for PfKeyDataplane {
    fn name(&self) -> &'static str {
        "pfkey"
    }

    fn apply(&mut self, action: &Action) -> Result<(), DataplaneError> {
        let e = |e: backend::pfkey::Error| DataplaneError(e.to_string());
        match action {
            Action::Install(c) => {
                let spec = child_spec(c, false, self.port_nat_t);
                self.kernel.install(spec, c.outbound_active).map_err(e)?;
            }
            Action::ActivateOutbound { reqid, spi_out } => {
                self.kernel.activate_outbound(*reqid, *spi_out).map_err(e)?
            }
            Action::RemoveOutbound { reqid, spi_out } => {
                self.kernel.remove_outbound(*reqid, *spi_out).map_err(e)?
            }
            Action::Delete { spi_in, .. } => self.kernel.delete(*spi_in).map_err(e)?,
            Action::UpdateAddress {
                ike_sa,
                spis_in,
                local,
                remote,
                encap,
            } => {
                let id = ike_sa.to_string();
                let mut local = *local;
                if *encap {
                    local.set_port(self.port_nat_t);
                }
                for en in self
                    .table
                    .entries()
                    .iter()
                    .filter(|x| x.ike_sa == id || spis_in.contains(&x.spi_in))
                {
                    self.kernel
                        .update_address(en.spi_in, local, *remote, *encap)
                        .map_err(e)?;
                }
            }
        }
        self.table.apply(action);
        Ok(())
    }

    fn esp_sink(&self) -> Arc<dyn EspSink> {
        Arc::new(KernelEsp)
    }

    fn sas(&self) -> Vec<SaEntry> {
        self.table.entries()
    }
}
