//! The IKEv2 transforms peers use (RFC 8247).
