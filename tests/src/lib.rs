//! Helpers for vtid's whole-system tests.

pub mod fixtures;
pub mod pcap;
pub mod tshark;
