//! Integrity transforms for the SK payload and ESP: HMAC-SHA-1/SHA-2
//! (RFC 2404, RFC 4868), HMAC-MD5-96 (RFC 2403), AES-XCBC-MAC-96
//! (RFC 3566), AES-CMAC-96 (RFC 4494), and strongSwan's HMAC-SHA-256-96.

use super::mac::{MacAlg, MacKey};
use super::secret::ct_eq;
use super::CryptoError;
use crate::wire::{IntegId, TransformType};

/// strongSwan's private-use ID of AUTH_HMAC_SHA2_256_96 (`sha256_96`):
/// HMAC-SHA-256 truncated to 96 bits, what Linux kernels before 2.6.33
/// used for `hmac(sha256)` (draft-ietf-ipsec-ciph-sha-256-00). Only
/// strongSwan peers know it.
pub const HMAC_SHA2_256_96_PRIVATE: IntegId = IntegId(1026);

/// A negotiated integrity transform: a MAC with the output truncated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Integ {
    /// AUTH_HMAC_MD5_96 (RFC 2403), ID 1. Legacy.
    HmacMd5_96,
    /// AUTH_HMAC_SHA1_96 (RFC 2404), ID 2.
    HmacSha1_96,
    /// AUTH_AES_XCBC_96 (RFC 3566), ID 5. Legacy.
    AesXcbc96,
    /// AUTH_AES_CMAC_96 (RFC 4494), ID 8. Legacy.
    AesCmac96,
    /// AUTH_HMAC_SHA2_256_128 (RFC 4868), ID 12.
    HmacSha2_256_128,
    /// AUTH_HMAC_SHA2_384_192 (RFC 4868), ID 13.
    HmacSha2_384_192,
    /// AUTH_HMAC_SHA2_512_256 (RFC 4868), ID 14.
    HmacSha2_512_256,
    /// strongSwan's AUTH_HMAC_SHA2_256_96 (private ID 1026). Legacy.
    HmacSha2_256_96,
}

impl Integ {
    /// The integrity transform for a Transform ID; `NONE` (0) gives `None`.
    pub fn from_id(id: IntegId) -> Result<Option<Self>, CryptoError> {
        Ok(Some(match id {
            IntegId::NONE => return Ok(None),
            IntegId::HMAC_MD5_96 => Integ::HmacMd5_96,
            IntegId::HMAC_SHA1_96 => Integ::HmacSha1_96,
            IntegId::AES_XCBC_96 => Integ::AesXcbc96,
            IntegId::AES_CMAC_96 => Integ::AesCmac96,
            IntegId::HMAC_SHA2_256_128 => Integ::HmacSha2_256_128,
            IntegId::HMAC_SHA2_384_192 => Integ::HmacSha2_384_192,
            IntegId::HMAC_SHA2_512_256 => Integ::HmacSha2_512_256,
            HMAC_SHA2_256_96_PRIVATE => Integ::HmacSha2_256_96,
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
            Integ::HmacMd5_96 => IntegId::HMAC_MD5_96,
            Integ::HmacSha1_96 => IntegId::HMAC_SHA1_96,
            Integ::AesXcbc96 => IntegId::AES_XCBC_96,
            Integ::AesCmac96 => IntegId::AES_CMAC_96,
            Integ::HmacSha2_256_128 => IntegId::HMAC_SHA2_256_128,
            Integ::HmacSha2_384_192 => IntegId::HMAC_SHA2_384_192,
            Integ::HmacSha2_512_256 => IntegId::HMAC_SHA2_512_256,
            Integ::HmacSha2_256_96 => HMAC_SHA2_256_96_PRIVATE,
        }
    }

    /// The MAC underneath.
    pub fn mac(self) -> MacAlg {
        match self {
            Integ::HmacMd5_96 => MacAlg::HmacMd5,
            Integ::HmacSha1_96 => MacAlg::HmacSha1,
            Integ::AesXcbc96 => MacAlg::AesXcbc,
            Integ::AesCmac96 => MacAlg::AesCmac,
            Integ::HmacSha2_256_128 | Integ::HmacSha2_256_96 => MacAlg::HmacSha256,
            Integ::HmacSha2_384_192 => MacAlg::HmacSha384,
            Integ::HmacSha2_512_256 => MacAlg::HmacSha512,
        }
    }

    /// Key length in bytes: the hash output length for HMAC (RFC 4868
    /// §2.1.1, RFC 2404 §3, RFC 2403 §3), 128 bits for AES-XCBC/CMAC
    /// (RFC 3566 §2.1, RFC 4494 §2).
    pub fn key_len(self) -> usize {
        self.mac().output_len()
    }

    /// Length of the truncated ICV in bytes.
    pub fn icv_len(self) -> usize {
        match self {
            Integ::HmacMd5_96
            | Integ::HmacSha1_96
            | Integ::AesXcbc96
            | Integ::AesCmac96
            | Integ::HmacSha2_256_96 => 12,
            Integ::HmacSha2_256_128 => 16,
            Integ::HmacSha2_384_192 => 24,
            Integ::HmacSha2_512_256 => 32,
        }
    }

    /// The MAC key for `key` (which must be [`Integ::key_len`] bytes for
    /// AES-XCBC/CMAC).
    pub fn key(self, key: &[u8]) -> Result<MacKey, CryptoError> {
        MacKey::new(self.mac(), key)
    }

    /// The truncated ICV of `parts` concatenated. An AES-XCBC/CMAC key of
    /// the wrong length gives an empty ICV (which never verifies).
    pub fn compute(self, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        match self.key(key) {
            Ok(k) => self.compute_with(&k, parts),
            Err(_) => Vec::new(),
        }
    }

    pub(crate) fn compute_with(self, key: &MacKey, parts: &[&[u8]]) -> Vec<u8> {
        let tag = key.sign(parts);
        tag.as_ref()[..self.icv_len()].to_vec()
    }

    /// Checks a received ICV in constant time.
    pub fn verify(self, key: &[u8], parts: &[&[u8]], icv: &[u8]) -> bool {
        let c = self.compute(key, parts);
        !c.is_empty() && ct_eq(&c, icv)
    }

    /// Whether RFC 8221/8247 no longer recommend it (logged once at load).
    pub fn legacy(self) -> Option<&'static str> {
        match self {
            Integ::HmacMd5_96 => {
                Some("HMAC-MD5-96: MD5 is broken (RFC 8221 §6, RFC 8247 §3.4: MUST NOT)")
            }
            Integ::AesXcbc96 => Some("AES-XCBC-96: legacy, not recommended for ESP (RFC 8221 §6)"),
            Integ::AesCmac96 => {
                Some("AES-CMAC-96: legacy, not among RFC 8221's recommended transforms")
            }
            Integ::HmacSha2_256_96 => {
                Some("HMAC-SHA-256-96: strongSwan's non-standard truncation (private ID 1026)")
            }
            _ => None,
        }
    }
}
