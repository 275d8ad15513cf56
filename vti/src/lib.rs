//! Route-based IPsec for vtid: `ipsecN` interfaces with transit addresses,
//! automatic gateways and routes, and the userspace ESP data plane over TUN.
//!
//! - [`esp`]: the per-packet ESP core (seal/open in place).
//! - [`netlink`]: links, addresses, routes and rules through rtnetlink.
//! - [`iface`]: the TUN interfaces (`ipsecN` and the shared one for
//!   policy-based children), their carrier and routes.
//! - [`dataplane`]: the SA tables and the packet path; the daemon's API.

pub mod dataplane;
pub mod esp;
pub mod icmp;
pub mod iface;
pub mod mss;
pub mod netlink;
mod sys;
