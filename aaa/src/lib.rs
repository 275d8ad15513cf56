//! Remote access for vtid, sans I/O (issue 17): what a gateway for
//! roadwarriors needs besides the IKE engine.
//!
//! * [`pool`]: virtual IP pools and their leases (stable per identity,
//!   released on disconnect, constant-time lookups).
//!
//! Nothing here touches a socket, a clock or a thread: the daemon feeds
//! the pieces and the IKE engine calls them.
#![forbid(unsafe_code)]

pub mod pool;

pub use pool::{Acquired, LeaseInfo, LeasePool, Loaded, PoolError, Pools, Source};
