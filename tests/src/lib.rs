//! Helpers for vtid's whole-system tests.

pub mod fixtures;
pub mod pcap;
pub mod tshark;

// Network namespaces (and the strongSwan peers and floods that run in them)
// are Linux's. The modules compile everywhere, so tests written with them
// build in the FreeBSD check without gating each file; the one system call
// that exists on Linux only (`netns::enter`, setns(2)) fails elsewhere, and
// so does any test that needs it.
pub mod flood;
pub mod netns;
pub mod strongswan;
