//! Codec errors and the notification each one calls for (RFC 7296 §2.21).

use core::fmt;

use super::registry::{NotifyType, PayloadType};

/// Which part of a message a [`WireError`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Part {
    /// The IKE header (RFC 7296 §3.1).
    Header,
    /// A generic payload header (§3.2).
    PayloadHeader,
    /// The body of a payload of this type.
    Payload(PayloadType),
    /// A Proposal substructure of an SA payload (§3.3.1).
    Proposal,
    /// A Transform substructure (§3.3.2).
    Transform,
    /// A transform attribute (§3.3.5).
    TransformAttr,
    /// A traffic selector (§3.13.1).
    TrafficSelector,
    /// A configuration attribute (§3.15.1).
    CfgAttr,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Part::Header => f.write_str("IKE header"),
            Part::PayloadHeader => f.write_str("generic payload header"),
            Part::Payload(t) => write!(f, "{t} payload"),
            Part::Proposal => f.write_str("proposal"),
            Part::Transform => f.write_str("transform"),
            Part::TransformAttr => f.write_str("transform attribute"),
            Part::TrafficSelector => f.write_str("traffic selector"),
            Part::CfgAttr => f.write_str("configuration attribute"),
        }
    }
}

/// Why a message (or a decrypted payload chain) could not be parsed.
///
/// [`WireError::notify_type`] and [`WireError::notify_data`] give the
/// notification RFC 7296 §2.21 says to answer with. (Whether to answer at
/// all is the engine's decision: §2.21.1 says errors in unauthenticated
/// messages are normally just dropped.)
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Fewer bytes than a fixed field or a length field calls for.
    #[error("{part} truncated: needed {needed} bytes, {available} available")]
    Truncated {
        /// Where.
        part: Part,
        /// Bytes the field needed.
        needed: usize,
        /// Bytes there were.
        available: usize,
    },
    /// A length field that is too small for its structure, overruns its
    /// container, or leaves bytes over.
    #[error("{part}: bad length ({detail})")]
    BadLength {
        /// Where.
        part: Part,
        /// What was wrong.
        detail: &'static str,
    },
    /// A field with a value the encoding forbids.
    #[error("{part}: bad value ({detail})")]
    BadValue {
        /// Where.
        part: Part,
        /// What was wrong.
        detail: &'static str,
    },
    /// The header's Length is not the datagram's length (RFC 7296 §3.1).
    #[error("IKE header says {header} bytes, datagram has {datagram}")]
    LengthMismatch {
        /// The Length field.
        header: u32,
        /// The bytes received.
        datagram: usize,
    },
    /// Major version other than 2 (RFC 7296 §1.5, §2.5, §3.1).
    #[error("unsupported IKE major version {major}")]
    InvalidMajorVersion {
        /// The Major Version field.
        major: u8,
    },
    /// A payload type we do not know with the critical bit set
    /// (RFC 7296 §2.5, §3.2).
    #[error("unsupported critical payload {ty}")]
    UnsupportedCriticalPayload {
        /// Its type, which is also the notification data.
        ty: PayloadType,
    },
    /// An SK or SKF payload followed by more bytes (RFC 7296 §3.14,
    /// RFC 7383 §2.5: it MUST be the last payload).
    #[error("{ty} payload is not the last payload")]
    EncryptedNotLast {
        /// SK or SKF.
        ty: PayloadType,
    },
    /// A value to be emitted does not fit the field that encodes its
    /// length or count (e.g. more than 255 traffic selectors, a payload
    /// over 65535 octets). Found by the `check` of a representation, before
    /// anything is emitted.
    #[error("{part}: too large to encode ({detail})")]
    TooLarge {
        /// Where.
        part: Part,
        /// Which limit.
        detail: &'static str,
    },
}

/// `Ok` when `n` fits a 16-bit length field, else [`WireError::TooLarge`].
pub(crate) fn fits16(n: usize, part: Part, detail: &'static str) -> Result<(), WireError> {
    if n <= usize::from(u16::MAX) {
        Ok(())
    } else {
        Err(WireError::TooLarge { part, detail })
    }
}

/// `Ok` when `n` fits an 8-bit count or size field.
pub(crate) fn fits8(n: usize, part: Part, detail: &'static str) -> Result<(), WireError> {
    if n <= usize::from(u8::MAX) {
        Ok(())
    } else {
        Err(WireError::TooLarge { part, detail })
    }
}

impl WireError {
    /// The notification to answer with (RFC 7296 §2.21, §3.10.1).
    pub fn notify_type(&self) -> NotifyType {
        match self {
            WireError::InvalidMajorVersion { .. } => NotifyType::INVALID_MAJOR_VERSION,
            WireError::UnsupportedCriticalPayload { .. } => {
                NotifyType::UNSUPPORTED_CRITICAL_PAYLOAD
            }
            _ => NotifyType::INVALID_SYNTAX,
        }
    }

    /// The Notification Data for [`WireError::notify_type`]: the one-octet
    /// payload type for UNSUPPORTED_CRITICAL_PAYLOAD (§3.10.1), else empty.
    pub fn notify_data(&self) -> Vec<u8> {
        match self {
            WireError::UnsupportedCriticalPayload { ty } => vec![ty.0],
            _ => Vec::new(),
        }
    }
}
