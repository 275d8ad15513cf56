//! strongSwan-style proposal strings and responder selection (RFC 7296 §2.7, §3.3.6).
