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

pub mod checksum;
pub mod dataplane;
pub mod esp;
pub mod gateway;
pub mod icmp;
pub mod iface;
pub mod mss;
pub mod netlink;
pub mod offload;
mod sys;
pub mod updown;
