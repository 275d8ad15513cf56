//! Errors of the crypto layer.

use crate::wire::{DhGroup, TransformType};

/// What went wrong in a cryptographic operation. Messages never contain key
/// material.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// A transform we do not implement (or not for this use).
    #[error("unsupported {ty} transform ID {id}{}", detail.map(|d| format!(" ({d})")).unwrap_or_default())]
    UnsupportedTransform {
        /// Transform type.
        ty: TransformType,
        /// Transform ID.
        id: u16,
        /// Why, when it is not just the ID (e.g. a key length).
        detail: Option<&'static str>,
    },
    /// A key exchange method we do not implement.
    #[error("unsupported key exchange method {0}")]
    UnsupportedGroup(DhGroup),
    /// The peer's KE data is not a valid public value for the group.
    #[error("bad peer public value for {group}: {reason}")]
    BadPeerPublicValue {
        /// The group.
        group: DhGroup,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The key exchange produced a degenerate shared secret (all zero for
    /// X25519, 1 for MODP).
    #[error("key exchange with {0} produced a degenerate shared secret")]
    DegenerateSharedSecret(DhGroup),
    /// A fixed private key of the wrong form for the group.
    #[error("invalid private key for {0}")]
    InvalidPrivateKey(DhGroup),
    /// ICV / authentication tag did not verify.
    #[error("integrity check failed (authentication tag mismatch)")]
    IntegrityCheckFailed,
    /// The SK payload body has an impossible length or layout.
    #[error("malformed encrypted payload: {0}")]
    MalformedCiphertext(&'static str),
    /// The decrypted Pad Length points outside the plaintext.
    #[error("invalid padding in encrypted payload")]
    BadPadding,
    /// A key of the wrong length was supplied.
    #[error("invalid key length for {what}: expected {expected} bytes, got {got}")]
    InvalidKeyLength {
        /// Which key.
        what: &'static str,
        /// Needed length.
        expected: usize,
        /// Supplied length.
        got: usize,
    },
    /// The proposal does not describe a usable suite.
    #[error("unusable proposal: {0}")]
    BadProposal(&'static str),
    /// prf+ was asked for more than 255 blocks (RFC 7296 §2.13).
    #[error("prf+ output too long: {0} bytes requested")]
    PrfPlusTooLong(usize),
    /// The underlying library refused to encrypt.
    #[error("encryption failed")]
    EncryptionFailed,
}
