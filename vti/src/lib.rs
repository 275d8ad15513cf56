//! Route-based IPsec for vtid: `ipsecN` interfaces with transit addresses,
//! automatic gateways and routes, and the userspace ESP data plane over TUN.
//!
//! The interface layer and the data plane arrive with the VTI issue; this
//! crate is the place they live.

pub mod esp;
pub mod gateway;
pub mod updown;
