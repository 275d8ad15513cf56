//! Remote access for vtid, sans I/O (issue 17): what a gateway for
//! roadwarriors needs besides the IKE engine.
//!
//! * [`pool`]: virtual IP pools and their leases (stable per identity,
//!   released on disconnect, constant-time lookups).
//! * [`cp`]: configuration payloads (RFC 7296 §3.15) from pools and leases,
//!   and for vtid as a client.
//! * [`eap`]: EAP (RFC 3748) authenticator and peer with EAP-MD5 and
//!   EAP-MSCHAPv2, and per-identity brute-force protection.
//! * [`radius`]: the RADIUS client (RFC 2865, 2866, 2869, 3579, 5176):
//!   EAP relayed to a RADIUS server, accounting, Disconnect-Requests.
//!
//! Nothing here touches a socket, a clock or a thread: the daemon feeds
//! the pieces and the IKE engine calls them.
#![forbid(unsafe_code)]

pub mod cp;
pub mod eap;
pub mod pool;
pub mod radius;

pub use pool::{Acquired, LeaseInfo, LeasePool, Loaded, PoolError, Pools, Source};
