//! Helpers for vtid's whole-system tests.

pub mod netns;
pub mod pcap;
pub mod strongswan;
