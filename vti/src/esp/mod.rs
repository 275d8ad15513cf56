//! The per-packet core of the userspace ESP data plane (RFC 4303, tunnel
//! mode).
//!
//! An [`OutboundSa`] seals inner IP packets into ESP packets and an
//! [`InboundSa`] opens them, both in place in a caller-provided buffer and
//! without allocating per packet (in the style of boringtun's `noise`
//! module): [`OutboundSa::encapsulate`] takes a buffer holding the inner
//! packet at offset [`HEADROOM`] and returns the ESP packet as a sub-slice
//! of it; [`InboundSa::decapsulate`] takes the ESP packet (the payload of
//! IP protocol 50, or of UDP/4500 after [`udp::classify`]) and returns the
//! inner packet as a sub-slice.
//!
//! The data plane never reads a clock: every call takes `now`, which also
//! feeds [`InboundSa::last_used`] so the IKE engine can skip DPD while ESP
//! arrives.
//!
//! Around the SAs: [`udp`] (RFC 3948 port-4500 demultiplexing),
//! [`overhead`] (bytes ESP adds, largest inner packet for a path MTU),
//! [`selector`] (inner 5-tuple extraction and traffic-selector matching),
//! and [`replay`] (the anti-replay window and ESN inference).
#![forbid(unsafe_code)]

mod crypto;
pub mod overhead;
pub mod replay;
mod sa;
pub mod selector;
mod suite;
pub mod udp;

pub use crypto::SaKeys;
pub use replay::{ReplayVerdict, ReplayWindow};
pub use sa::{
    Counters, InboundSa, Inner, Lifetime, LimitKind, Opened, OutboundSa, RekeyReason, SaEvent,
    SaOptions, Sealed, Sealer,
};
pub use suite::{Encryption, Integrity, Suite};

/// SPI (4) + sequence number (4).
pub const ESP_HEADER_LEN: usize = 8;
/// Largest explicit IV (AES-CBC).
pub const MAX_IV_LEN: usize = 16;
/// Bytes the buffer passed to [`OutboundSa::encapsulate`] must have in front
/// of the inner packet: ESP header plus the largest IV.
pub const HEADROOM: usize = ESP_HEADER_LEN + MAX_IV_LEN;
/// Bytes the buffer must have after the inner packet, enough for every
/// suite: up to 15 bytes of padding, pad length, next header, and the
/// largest ICV (32, HMAC-SHA-512-256).
pub const TAILROOM: usize = 15 + 2 + 32;

/// Next Header value for an IPv4 inner packet (IP-in-IP).
pub const NEXT_HEADER_IPV4: u8 = 4;
/// Next Header value for an IPv6 inner packet.
pub const NEXT_HEADER_IPV6: u8 = 41;
/// Next Header value of a dummy packet (RFC 4303 §2.6), to be discarded.
pub const NEXT_HEADER_NONE: u8 = 59;

/// Why a packet could not be sealed or opened. Nothing here panics on any
/// input; every failure is one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EspError {
    /// The ESP packet is shorter than its header, IV, ICV and trailer, or
    /// its ciphertext is not a whole number of cipher blocks.
    #[error("ESP packet truncated or malformed ({len} bytes)")]
    Truncated {
        /// Length of the packet as received.
        len: usize,
    },
    /// The sequence number was already received (inside the window).
    #[error("replayed sequence number {seq}")]
    Replayed {
        /// The full (ESN-inferred) sequence number.
        seq: u64,
    },
    /// The sequence number is left of the anti-replay window.
    #[error("sequence number {seq} is older than the replay window")]
    TooOld {
        /// The full (ESN-inferred) sequence number.
        seq: u64,
    },
    /// The ICV did not verify (wrong key, tampered packet, wrong SPI).
    #[error("ESP authentication failed")]
    AuthenticationFailed,
    /// The self-describing padding (RFC 4303 §2.4) is not 1, 2, 3, ...
    /// or longer than the payload.
    #[error("bad ESP padding")]
    BadPadding,
    /// Next Header is neither IPv4 (4), IPv6 (41) nor "no next header" (59).
    #[error("unknown ESP next header {0}")]
    UnknownNextHeader(u8),
    /// The inner packet does not match its Next Header or its own length
    /// field.
    #[error("inner packet malformed")]
    MalformedInner,
    /// Outbound: the inner packet is not IPv4 or IPv6.
    #[error("inner packet is neither IPv4 nor IPv6")]
    NotIp,
    /// Outbound: the buffer lacks headroom or tailroom.
    #[error("buffer too small: need {needed} bytes, have {have}")]
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        have: usize,
    },
    /// Outbound: the sequence number space is used up and RFC 4303 §3.3.3
    /// forbids cycling; the SA must be rekeyed.
    #[error("sequence number space exhausted, rekey needed")]
    SequenceExhausted,
    /// A hard lifetime was reached; the SA refuses further use.
    #[error("SA expired ({0:?} hard limit)")]
    Expired(LimitKind),
    /// The cipher refused to seal (cannot happen for ESP-sized packets).
    #[error("encryption failed")]
    CryptoFailure,
}

/// Errors constructing an SA.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A key has the wrong length for the suite.
    #[error("{what} key must be {expected} bytes, got {got}")]
    KeyLength {
        /// "encryption" or "integrity".
        what: &'static str,
        /// Length the suite needs.
        expected: usize,
        /// Length given.
        got: usize,
    },
    /// An AEAD was combined with an integrity transform.
    #[error("AEAD transforms take no integrity transform")]
    IntegrityWithAead,
    /// AES-CBC without an integrity transform.
    #[error("AES-CBC needs an integrity transform")]
    MissingIntegrity,
    /// SPIs 0..=255 are reserved (RFC 4303 §2.1).
    #[error("SPI {0:#x} is reserved")]
    ReservedSpi(u32),
    /// The replay window is larger than [`replay::MAX_REPLAY_WINDOW`].
    #[error("replay window {0} is larger than the supported maximum")]
    ReplayWindowTooLarge(u32),
}

/// The SPI of an ESP packet, to find its [`InboundSa`]; `None` if the
/// packet is shorter than the ESP header.
pub fn spi_of(packet: &[u8]) -> Option<u32> {
    let b: [u8; 4] = packet.get(..4)?.try_into().ok()?;
    Some(u32::from_be_bytes(b))
}
