//! Helpers for vtid's whole-system tests.

pub mod fixtures;
pub mod pcap;
pub mod tshark;

// Platform boundary: network namespaces (and the strongSwan peers that run
// in them) are Linux's. Test files that use them start with
// `#![cfg(target_os = "linux")]`.
#[cfg(target_os = "linux")]
pub mod flood;
#[cfg(target_os = "linux")]
pub mod netns;
#[cfg(target_os = "linux")]
pub mod strongswan;
