//! Route-based IPsec for vtid: `ipsecN` interfaces with transit addresses,
//! automatic gateways and routes, and the userspace ESP data plane over TUN.
//!
//! - [`esp`]: the per-packet ESP core (seal/open in place).
//! - [`netlink`]: links, addresses, routes and rules through rtnetlink.
//! - [`iface`]: the TUN interfaces (`ipsecN` and the shared one for
//!   policy-based children), their carrier and routes.
//! - [`dataplane`]: the SA tables and the packet path; the daemon's API.
//! - [`gateway`]: the automatic gateway per interface and family, with
//!   monitoring (ICMP echo, loss, latency, hold-down).
//! - [`offload`]: TUN offloads (virtio_net_hdr): GSO segmentation out,
//!   TCP coalescing in.
//! - [`updown`]: strongSwan-compatible updown scripts.
//! - [`addrmon`]: the local addresses and their changes (MOBIKE, moving
//!   WAN addresses); the monitor itself over rtnetlink on Linux.
//!
//! # Platform boundary
//!
//! The ESP core, checksums, ICMP, MSS clamping, offload segmentation, the
//! gateway monitor and updown are portable. The userspace data plane over
//! Linux TUN ([`dataplane`], [`iface`], the private `sys`) and rtnetlink
//! ([`netlink`]) exist on Linux only; this block and the private `platform`
//! module (the few calls that differ per system) are the only places that
//! say so. On FreeBSD vtid uses the kernel's ESP (`pfkey` crate).

pub mod addrmon;
pub mod checksum;
pub mod esp;
pub mod gateway;
pub mod icmp;
pub mod mss;
pub mod offload;
mod platform;
pub mod updown;

#[cfg(target_os = "linux")]
pub mod dataplane;
#[cfg(target_os = "linux")]
pub mod iface;
#[cfg(target_os = "linux")]
pub mod netlink;
#[cfg(target_os = "linux")]
mod sys;
