//! vtid, the IKEv2 daemon: the tokio shell around the sans-I/O engine
//! [`ike::engine`].
//!
//! * [`convert`]: swanctl.conf model → engine configuration.
//! * [`check`]: `vtid --check` / `vtictl check`: every problem of a
//!   configuration with its place, nothing started.
//! * [`net`]: the IKE and NAT-T sockets (packet info, non-ESP marker) and
//!   the two lanes to the engine (established IKE SAs before IKE_SA_INIT).
//! * [`flood`]: log budgets and the flood summary.
//! * [`dataplane`]: the data-plane trait and the `record` backend.
//! * [`crlfetch`]: the CRL fetcher (`http://`, `file://`), bounded.
//! * [`control`]: the VICI control socket (swanctl, vtictl).
//! * [`kernel`]: the kernel backends (XFRM with xfrm interfaces, PF_KEY
//!   with FreeBSD if_ipsec).
//! * [`daemon`]: the event loop, signals, reload and shutdown.
//! * [`logging`]: tracing with charon-style levels.
//! * [`keylog`]: Wireshark's decryption tables, when asked for.
//! * [`metrics`]: the Prometheus/OpenMetrics endpoint.
//! * [`notify`]: readiness and status for the service manager (sd_notify).
//! * [`pools`]: virtual IP pools and leases, VICI's pool commands.
//! * [`routing`]: the automatic gateways of the interfaces and the updown hook.
//! * [`platform`]: what differs between Linux and FreeBSD.

pub mod check;
pub mod control;
pub mod convert;
pub mod creds;
pub mod crlfetch;
pub mod daemon;
pub mod dataplane;
pub mod flood;
pub mod kernel;
pub mod kernel_ipsec;
pub mod keylog;
pub mod logging;
pub mod metrics;
pub mod net;
pub mod notify;
pub mod platform;
pub mod pools;
pub mod routing;

// The platform boundary (see [`platform`]): the userspace data plane is
// Linux's.
#[cfg(target_os = "linux")]
pub mod userspace;

#[cfg(not(any(target_os = "linux", target_os = "freebsd")))]
compile_error!("vtid runs on Linux and FreeBSD");
