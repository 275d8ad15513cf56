//! IKEv2 (RFC 7296) for vtid: the message codec ([`wire`]), the transforms
//! peers use ([`crypto`]) and proposal handling ([`proposal`]).
//!
//! Nothing in this crate performs I/O: it takes bytes and returns bytes.
#![forbid(unsafe_code)]

pub mod crypto;
pub mod engine;
pub mod proposal;
pub mod wire;
