//! The daemon's platform boundary: everything that differs between Linux
//! and FreeBSD is chosen here (and, for the kernel backends, in
//! [`crate::kernel`]'s module list), so the rest of the daemon has no
//! `cfg(target_os)`.
//!
//! * Which data planes exist and which one `auto` picks
//!   ([`start_dataplane`]): on Linux XFRM when the kernel has ESP and
//!   interfaces for it, else vtid's userspace ESP over TUN; on FreeBSD
//!   (pfSense, OPNsense) always the kernel's ESP through PF_KEY and
//!   `if_ipsec(4)`, as pfSense's strongSwan does. The userspace data plane
//!   needs Linux TUN offloads and rtnetlink and is not built on FreeBSD;
//!   what only it does (socket marks, gateway monitors, path MTU refresh)
//!   the daemon asks of every backend through the `Dataplane` trait, so no
//!   code outside this file names it.
//! * The IKE sockets' local-address control messages ([`V4PktInfo`],
//!   [`enable_v4_pktinfo`], [`v4_local`], [`V4Src`]): Linux `IP_PKTINFO`
//!   (`struct in_pktinfo`) both ways; FreeBSD `IP_RECVDSTADDR` on receive
//!   and `IP_SENDSRCADDR` on send (a bare `struct in_addr`; see FreeBSD's
//!   `ip(4)`: IP_SENDSRCADDR needs a socket bound to `INADDR_ANY`, which
//!   ours are). IPv6 uses RFC 3542's `IPV6_PKTINFO` on both.
//! * Default paths ([`config::paths`]).

use std::net::Ipv4Addr;
use std::os::fd::AsFd;

use nix::sys::socket::{self, sockopt, ControlMessage, ControlMessageOwned};
use tokio::sync::mpsc::UnboundedSender;

use crate::daemon::DataplaneKind;
use crate::dataplane::{Dataplane, RecordBackend, Report};
use crate::net::IkeQueue;

/// Starts the data plane of `kind` (`auto`: the platform's best).
#[cfg(target_os = "linux")]
pub fn start_dataplane(
    kind: DataplaneKind,
    cfg: &config::Config,
    port_nat_t: u16,
    ike: IkeQueue,
    reports: UnboundedSender<Report>,
) -> Result<Box<dyn Dataplane>, String> {
    use tracing::info;

    use crate::kernel::XfrmDataplane;
    use crate::userspace::UserspaceBackend;

    let err = |e: crate::dataplane::DataplaneError| e.to_string();
    Ok(match kind {
        DataplaneKind::Record => Box::new(RecordBackend::new(reports)),
        DataplaneKind::Auto | DataplaneKind::Userspace => {
            let probe = if kind == DataplaneKind::Auto {
                crate::kernel::xfrm_probe_for(cfg.daemon.xfrm_interface_type)
            } else {
                Err(String::new())
            };
            match probe {
                Ok(()) => {
                    info!(target: "vtid::dataplane", "data plane auto: the kernel has ESP and xfrm interfaces; using the XFRM data plane");
                    Box::new(XfrmDataplane::start(cfg, reports).map_err(err)?)
                }
                Err(why) => {
                    if kind == DataplaneKind::Auto {
                        info!(target: "vtid::dataplane", "data plane auto: {why}; using the userspace data plane");
                    }
                    Box::new(UserspaceBackend::start(cfg, port_nat_t, ike, reports).map_err(err)?)
                }
            }
        }
        DataplaneKind::Xfrm => Box::new(XfrmDataplane::start(cfg, reports).map_err(err)?),
        DataplaneKind::Pfkey => {
            let why = crate::kernel::pfkey_probe().err().unwrap_or_default();
            return Err(format!("data plane 'pfkey' cannot start: {why}"));
        }
    })
}

/// Starts the data plane of `kind`. On FreeBSD `auto` is PF_KEY with
/// `if_ipsec`; XFRM and the userspace data plane are Linux's.
#[cfg(target_os = "freebsd")]
pub fn start_dataplane(
    kind: DataplaneKind,
    cfg: &config::Config,
    _port_nat_t: u16,
    _ike: IkeQueue,
    reports: UnboundedSender<Report>,
) -> Result<Box<dyn Dataplane>, String> {
    use crate::kernel::PfKeyDataplane;
    Ok(match kind {
        DataplaneKind::Record => Box::new(RecordBackend::new(reports)),
        DataplaneKind::Auto | DataplaneKind::Pfkey => {
            Box::new(PfKeyDataplane::start(cfg, reports).map_err(|e| e.to_string())?)
        }
        DataplaneKind::Xfrm => {
            return Err("data plane 'xfrm' is Linux's; on FreeBSD use pfkey (the default)".into())
        }
        DataplaneKind::Userspace => {
            return Err(
                "data plane 'userspace' (ESP over Linux TUN) is not built for \
                 FreeBSD; use pfkey (the default: the kernel's ESP with if_ipsec)"
                    .into(),
            )
        }
    })
}

/// The IPv4 local-address control message received with each datagram
/// (its type, for `nix::cmsg_space!`).
#[cfg(target_os = "linux")]
pub type V4PktInfo = nix::libc::in_pktinfo;
/// The IPv4 local-address control message received with each datagram
/// (its type, for `nix::cmsg_space!`).
#[cfg(target_os = "freebsd")]
pub type V4PktInfo = nix::libc::in_addr;

/// Asks for the local address of every IPv4 datagram (`IP_PKTINFO`;
/// FreeBSD `IP_RECVDSTADDR`).
pub fn enable_v4_pktinfo<F: AsFd>(fd: &F) -> nix::Result<()> {
    #[cfg(target_os = "linux")]
    let opt = sockopt::Ipv4PacketInfo;
    #[cfg(target_os = "freebsd")]
    let opt = sockopt::Ipv4RecvDstAddr;
    socket::setsockopt(fd, opt, &true)
}

/// The local address an IPv4 control message names, if it is the one
/// [`enable_v4_pktinfo`] asked for.
pub fn v4_local(c: &ControlMessageOwned) -> Option<Ipv4Addr> {
    match c {
        #[cfg(target_os = "linux")]
        ControlMessageOwned::Ipv4PacketInfo(pi) => {
            Some(Ipv4Addr::from(u32::from_be(pi.ipi_addr.s_addr)))
        }
        #[cfg(target_os = "freebsd")]
        ControlMessageOwned::Ipv4RecvDstAddr(a) => Some(Ipv4Addr::from(u32::from_be(a.s_addr))),
        _ => None,
    }
}

/// The IPv4 source address to send from, as the control message this
/// system takes (`IP_PKTINFO`'s `ipi_spec_dst`; FreeBSD `IP_SENDSRCADDR`).
#[derive(Clone, Copy)]
pub struct V4Src {
    #[cfg(target_os = "linux")]
    info: nix::libc::in_pktinfo,
    #[cfg(target_os = "freebsd")]
    info: nix::libc::in_addr,
}

impl std::fmt::Debug for V4Src {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("V4Src").finish_non_exhaustive()
    }
}

impl V4Src {
    /// The control message data for source address `src`.
    pub fn new(src: Ipv4Addr) -> V4Src {
        let addr = nix::libc::in_addr {
            s_addr: u32::from(src).to_be(),
        };
        #[cfg(target_os = "linux")]
        let info = nix::libc::in_pktinfo {
            ipi_ifindex: 0,
            ipi_spec_dst: addr,
            ipi_addr: nix::libc::in_addr { s_addr: 0 },
        };
        #[cfg(target_os = "freebsd")]
        let info = addr;
        V4Src { info }
    }

    /// The control message to pass to `sendmsg`.
    pub fn cmsg(&self) -> ControlMessage<'_> {
        #[cfg(target_os = "linux")]
        let c = ControlMessage::Ipv4PacketInfo(&self.info);
        #[cfg(target_os = "freebsd")]
        let c = ControlMessage::Ipv4SendSrcAddr(&self.info);
        c
    }
}
