//! Pseudorandom functions (RFC 7296 §2.13, RFC 4868, RFC 2104) and prf+.

use ring::hmac;

use super::{CryptoError, SecretBytes};
use crate::wire::{PrfId, TransformType};

/// A negotiated PRF transform. Only the HMAC-based PRFs of RFC 8247 that we
/// implement; AES-XCBC/CMAC PRFs are not supported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Prf {
    /// PRF_HMAC_SHA1 (RFC 2104), ID 2.
    HmacSha1,
    /// PRF_HMAC_SHA2_256 (RFC 4868), ID 5.
    HmacSha256,
    /// PRF_HMAC_SHA2_384 (RFC 4868), ID 6.
    HmacSha384,
    /// PRF_HMAC_SHA2_512 (RFC 4868), ID 7.
    HmacSha512,
}

impl Prf {
    /// Every PRF we implement, strongest first.
    pub const ALL: [Prf; 4] = [
        Prf::HmacSha256,
        Prf::HmacSha384,
        Prf::HmacSha512,
        Prf::HmacSha1,
    ];

    /// The PRF for a Transform ID.
    pub fn from_id(id: PrfId) -> Result<Self, CryptoError> {
        Ok(match id {
            PrfId::HMAC_SHA1 => Prf::HmacSha1,
            PrfId::HMAC_SHA2_256 => Prf::HmacSha256,
            PrfId::HMAC_SHA2_384 => Prf::HmacSha384,
            PrfId::HMAC_SHA2_512 => Prf::HmacSha512,
            _ => {
                return Err(CryptoError::UnsupportedTransform {
                    ty: TransformType::PRF,
                    id: id.0,
                    detail: None,
                })
            }
        })
    }

    /// The Transform ID.
    pub fn id(self) -> PrfId {
        match self {
            Prf::HmacSha1 => PrfId::HMAC_SHA1,
            Prf::HmacSha256 => PrfId::HMAC_SHA2_256,
            Prf::HmacSha384 => PrfId::HMAC_SHA2_384,
            Prf::HmacSha512 => PrfId::HMAC_SHA2_512,
        }
    }

    /// Output length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            Prf::HmacSha1 => 20,
            Prf::HmacSha256 => 32,
            Prf::HmacSha384 => 48,
            Prf::HmacSha512 => 64,
        }
    }

    /// The preferred key length, used for SK_d, SK_pi and SK_pr: the output
    /// length for HMAC PRFs (RFC 7296 §2.13, RFC 4868 §2.1.2).
    pub fn key_len(self) -> usize {
        self.output_len()
    }

    fn algorithm(self) -> hmac::Algorithm {
        match self {
            Prf::HmacSha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            Prf::HmacSha256 => hmac::HMAC_SHA256,
            Prf::HmacSha384 => hmac::HMAC_SHA384,
            Prf::HmacSha512 => hmac::HMAC_SHA512,
        }
    }

    /// prf(key, data). HMAC accepts keys of any length (longer than the
    /// hash block are hashed first, RFC 2104 §2), which is what RFC 7296
    /// §2.14 relies on for prf(Ni | Nr, g^ir).
    pub fn compute(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        self.compute_parts(key, &[data])
    }

    /// prf(key, parts[0] | parts[1] | ...), without building the
    /// concatenation.
    pub fn compute_parts(self, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        let key = hmac::Key::new(self.algorithm(), key);
        let mut ctx = hmac::Context::with_key(&key);
        for p in parts {
            ctx.update(p);
        }
        ctx.sign().as_ref().to_vec()
    }

    /// prf+(K, S) of RFC 7296 §2.13, truncated to `len` bytes:
    /// T1 = prf(K, S | 0x01), Tn = prf(K, Tn-1 | S | n), n ≤ 255.
    pub fn prf_plus(self, key: &[u8], seed: &[u8], len: usize) -> Result<SecretBytes, CryptoError> {
        let out_len = self.output_len();
        if len > 255 * out_len {
            return Err(CryptoError::PrfPlusTooLong(len));
        }
        let hkey = hmac::Key::new(self.algorithm(), key);
        let mut out = Vec::with_capacity(len.div_ceil(out_len) * out_len);
        let mut prev: Option<hmac::Tag> = None;
        let mut n: u8 = 1;
        while out.len() < len {
            let mut ctx = hmac::Context::with_key(&hkey);
            if let Some(t) = &prev {
                ctx.update(t.as_ref());
            }
            ctx.update(seed);
            ctx.update(&[n]);
            let t = ctx.sign();
            out.extend_from_slice(t.as_ref());
            prev = Some(t);
            n = n.wrapping_add(1);
        }
        out.truncate(len);
        Ok(SecretBytes::new(out))
    }
}
