//! Integrity transforms for the SK payload (RFC 4868, RFC 2404).

use ring::hmac;

use super::secret::ct_eq;
use super::CryptoError;
use crate::wire::{IntegId, TransformType};

/// A negotiated integrity transform: HMAC with the output truncated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Integ {
    /// AUTH_HMAC_SHA1_96 (RFC 2404), ID 2.
    HmacSha1_96,
    /// AUTH_HMAC_SHA2_256_128 (RFC 4868), ID 12.
    HmacSha2_256_128,
    /// AUTH_HMAC_SHA2_384_192 (RFC 4868), ID 13.
    HmacSha2_384_192,
    /// AUTH_HMAC_SHA2_512_256 (RFC 4868), ID 14.
    HmacSha2_512_256,
}

impl Integ {
    /// The integrity transform for a Transform ID; `NONE` (0) gives `None`.
    pub fn from_id(id: IntegId) -> Result<Option<Self>, CryptoError> {
        Ok(Some(match id {
            IntegId::NONE => return Ok(None),
            IntegId::HMAC_SHA1_96 => Integ::HmacSha1_96,
            IntegId::HMAC_SHA2_256_128 => Integ::HmacSha2_256_128,
            IntegId::HMAC_SHA2_384_192 => Integ::HmacSha2_384_192,
            IntegId::HMAC_SHA2_512_256 => Integ::HmacSha2_512_256,
            _ => {
                return Err(CryptoError::UnsupportedTransform {
                    ty: TransformType::INTEG,
                    id: id.0,
                    detail: None,
                })
            }
        }))
    }

    /// The Transform ID.
    pub fn id(self) -> IntegId {
        match self {
            Integ::HmacSha1_96 => IntegId::HMAC_SHA1_96,
            Integ::HmacSha2_256_128 => IntegId::HMAC_SHA2_256_128,
            Integ::HmacSha2_384_192 => IntegId::HMAC_SHA2_384_192,
            Integ::HmacSha2_512_256 => IntegId::HMAC_SHA2_512_256,
        }
    }

    /// Key length in bytes (= the hash output length, RFC 4868 §2.1.1,
    /// RFC 2404 §3).
    pub fn key_len(self) -> usize {
        match self {
            Integ::HmacSha1_96 => 20,
            Integ::HmacSha2_256_128 => 32,
            Integ::HmacSha2_384_192 => 48,
            Integ::HmacSha2_512_256 => 64,
        }
    }

    /// Length of the truncated ICV in bytes.
    pub fn icv_len(self) -> usize {
        match self {
            Integ::HmacSha1_96 => 12,
            Integ::HmacSha2_256_128 => 16,
            Integ::HmacSha2_384_192 => 24,
            Integ::HmacSha2_512_256 => 32,
        }
    }

    pub(crate) fn algorithm(self) -> hmac::Algorithm {
        match self {
            Integ::HmacSha1_96 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            Integ::HmacSha2_256_128 => hmac::HMAC_SHA256,
            Integ::HmacSha2_384_192 => hmac::HMAC_SHA384,
            Integ::HmacSha2_512_256 => hmac::HMAC_SHA512,
        }
    }

    /// The truncated ICV of `parts` concatenated.
    pub fn compute(self, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        let key = hmac::Key::new(self.algorithm(), key);
        self.compute_with(&key, parts)
    }

    pub(crate) fn compute_with(self, key: &hmac::Key, parts: &[&[u8]]) -> Vec<u8> {
        let mut ctx = hmac::Context::with_key(key);
        for p in parts {
            ctx.update(p);
        }
        let tag = ctx.sign();
        tag.as_ref()[..self.icv_len()].to_vec()
    }

    /// Checks a received ICV in constant time.
    pub fn verify(self, key: &[u8], parts: &[&[u8]], icv: &[u8]) -> bool {
        ct_eq(&self.compute(key, parts), icv)
    }
}
