//! Helpers for vtid's whole-system tests.

pub mod fixtures;
pub mod flood;
pub mod netns;
pub mod pcap;
pub mod strongswan;
pub mod tshark;
