//! The userspace ESP data plane (`vti::dataplane`) behind the daemon's
//! [`Dataplane`] trait: `ipsecN` TUN interfaces for routed children, the
//! shared TUN for policy-based ones, ESP sealed and opened in vtid.
//!
//! The data plane owns the NAT-T socket (port 4500): nearly all ESP arrives
//! there, and keeping it in the data plane's packet threads lets them batch
//! it without every packet crossing the daemon's runtime. IKE messages on
//! that port come up through the sink as [`Inbound`] datagrams, and the
//! daemon sends IKE on it with [`Dataplane::send_nat_t`].

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::BorrowedFd;
use std::sync::Arc;

use pfkey::backend::SaOp;
use tokio::sync::mpsc::UnboundedSender;
use tracing::info;
use vti::dataplane::{self as vdp, DataplaneEvent};

use crate::dataplane::{
    Dataplane, DataplaneError, EspDrops, EspSink, InterfaceCounters, Report, SaCounters,
};
use crate::net::{IkeQueue, Inbound};

/// The userspace backend.
pub struct UserspaceBackend {
    dp: vdp::Dataplane,
}

impl fmt::Debug for UserspaceBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserspaceBackend").finish_non_exhaustive()
    }
}

/// ESP-in-UDP never reaches the daemon's sockets with this backend: the
/// data plane owns the NAT-T port.
#[derive(Debug)]
struct NoEsp;

impl EspSink for NoEsp {
    fn esp_in(&self, _: SocketAddr, _: SocketAddr, _: &[u8]) {}
}

impl UserspaceBackend {
    /// Starts the data plane: creates or adopts the interfaces of `cfg`, the
    /// shared TUN, the NAT-T and raw ESP sockets and the bypass rules.
    /// IKE on the NAT-T port goes to `ike` (on its lane, from the packet
    /// threads: never behind the engine's work), reports to `reports`.
    pub fn start(
        cfg: &config::Config,
        port_nat_t: u16,
        ike: IkeQueue,
        reports: UnboundedSender<Report>,
    ) -> Result<UserspaceBackend, DataplaneError> {
        let dcfg = vdp::DataplaneConfig {
            interfaces: cfg.interfaces.clone(),
            nat_t_port: port_nat_t,
            offload: cfg.daemon.tun_offload,
            threads: cfg.daemon.dataplane_threads as usize,
            max_routes_per_child: cfg.daemon.max_policies_per_child as usize,
            install_routes: cfg.daemon.install_routes,
            ..Default::default()
        };
        if !cfg.daemon.install_routes {
            info!(target: "vtid::dataplane", "install_routes = no: policy-based CHILD_SAs get no routes into the shared TUN; route their traffic there yourself (routed interfaces keep their routes)");
        }
        let sink: vdp::Sink = Arc::new(move |e| match e {
            DataplaneEvent::Ike {
                local,
                remote,
                data,
            } => {
                // A full lane drops and counts (`overflow`,
                // `init_overflow`); the daemon's flood summary reports it.
                let _ = ike.push(Inbound {
                    local,
                    remote,
                    nat_t: true,
                    data,
                });
            }
            DataplaneEvent::Expired { spi_in, hard } => {
                let _ = reports.send(Report::Expired { spi: spi_in, hard });
            }
            DataplaneEvent::Activity { spi_in, .. } => {
                let _ = reports.send(Report::Activity { spi_in });
            }
        });
        let dp = vdp::Dataplane::start(dcfg, sink)
            .map_err(|e| DataplaneError(format!("userspace data plane: {e}")))?;
        let (out_threads, in_threads) = dp.threads();
        let offloaded: Vec<&str> = dp
            .interfaces()
            .filter(|t| t.offloads() != 0)
            .map(|t| t.name())
            .collect();
        info!(
            target: "vtid::dataplane",
            "userspace data plane: {out_threads} outbound reader(s), {} seal thread(s) and {in_threads} inbound packet thread(s); TUN offloads on {}",
            dp.seal_threads(),
            if offloaded.is_empty() { "none".to_string() } else { offloaded.join(", ") }
        );
        Ok(UserspaceBackend { dp })
    }
}

impl Dataplane for UserspaceBackend {
    fn name(&self) -> &'static str {
        "userspace"
    }

    fn apply(&mut self, op: &SaOp) -> Result<(), DataplaneError> {
        self.dp.apply(op).map_err(|e| DataplaneError(e.to_string()))
    }

    fn esp_sink(&self) -> Arc<dyn EspSink> {
        Arc::new(NoEsp)
    }

    fn owns_nat_t(&self) -> bool {
        true
    }

    /// Marks the socket so its packets bypass the tunnels (the data
    /// plane's rule sends marked packets to the main table only).
    fn prepare_socket(
        &self,
        fd: BorrowedFd<'_>,
        bound: SocketAddr,
        _nat_t: bool,
    ) -> Result<(), DataplaneError> {
        vdp::mark_socket(fd, self.dp.mark())
            .map_err(|e| DataplaneError(format!("SO_MARK on {bound}: {e}")))
    }

    fn watches_gateways(&self) -> bool {
        true
    }

    /// [`vti::dataplane::Dataplane::refresh_path_mtu`].
    fn refresh_path_mtu(&self) -> usize {
        self.dp.refresh_path_mtu()
    }

    /// Per-interface counters and the unknown-SPI and socket-overflow
    /// drops, one line each (for the SIGUSR1 dump).
    fn stats_lines(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .dp
            .interface_stats()
            .into_iter()
            .map(|i| {
                format!(
                    "interface {} reqid={} carrier={} no_sa_drops={} too_big={} icmp_sent={} \
                     icmp_rate_limited={} malformed={} mss_clamped={} send_errors={} \
                     tun_write_errors={} gso_reads={} gro_writes={}",
                    i.name,
                    i.reqid.map_or("-".to_string(), |r| r.to_string()),
                    if i.carrier { "on" } else { "off" },
                    i.no_sa_drops,
                    i.too_big,
                    i.icmp_sent,
                    i.icmp_rate_limited,
                    i.malformed,
                    i.mss_clamped,
                    i.send_errors,
                    i.tun_write_errors,
                    i.gso_reads,
                    i.gro_writes
                )
            })
            .collect();
        v.push(format!(
            "unknown_spi_drops={} socket_overflow_drops={}",
            self.dp.unknown_spi_drops(),
            self.dp.socket_overflow_drops()
        ));
        v
    }

    fn send_nat_t(
        &self,
        local: IpAddr,
        remote: SocketAddr,
        data: &[u8],
    ) -> Result<(), DataplaneError> {
        self.dp
            .send_ike_nat_t(Some(local), remote, data)
            .map_err(|e| DataplaneError(format!("sending to {remote}: {e}")))
    }

    fn interface_counters(&self) -> Vec<InterfaceCounters> {
        self.dp
            .interface_stats()
            .into_iter()
            .map(|i| InterfaceCounters {
                name: i.name,
                no_sa_drops: i.no_sa_drops,
                too_big: i.too_big,
                malformed: i.malformed,
                send_errors: i.send_errors,
                tun_write_errors: i.tun_write_errors,
            })
            .collect()
    }

    fn esp_drops(&self) -> EspDrops {
        EspDrops {
            unknown_spi: self.dp.unknown_spi_drops(),
            socket_overflow: self.dp.socket_overflow_drops(),
        }
    }

    fn counters(&self) -> Vec<SaCounters> {
        self.dp
            .sa_stats()
            .into_iter()
            .map(|s| SaCounters {
                spi_in: s.spi_in,
                spi_out: s.spi_out,
                interface: s.interface,
                bytes_in: s.inbound.bytes,
                packets_in: s.inbound.packets,
                bytes_out: s.outbound.bytes,
                packets_out: s.outbound.packets,
                replay_drops: s.inbound.replay_drops,
                auth_failures: s.inbound.auth_failures,
                ts_violations: s.ts_violations,
                last_in: s.last_in,
                last_out: s.last_out,
            })
            .collect()
    }
}
