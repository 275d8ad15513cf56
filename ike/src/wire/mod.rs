//! The IKEv2 message codec (RFC 7296 §3, RFC 7383 §2.5).

pub mod registry;
pub mod sa;

pub use registry::*;
pub use sa::*;
