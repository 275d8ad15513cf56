//! Pseudorandom functions (RFC 7296 §2.13, RFC 4868, RFC 2104, RFC 4434,
//! RFC 4615) and prf+.

use super::mac::{cmac_prf_key, xcbc_prf_key, MacAlg, MacKey};
use super::{CryptoError, SecretBytes};
use crate::wire::{PrfId, TransformType};

/// A negotiated PRF transform.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Prf {
    /// PRF_HMAC_MD5 (RFC 2104), ID 1. Legacy.
    HmacMd5,
    /// PRF_HMAC_SHA1 (RFC 2104), ID 2.
    HmacSha1,
    /// PRF_AES128_XCBC (RFC 4434), ID 4. Legacy.
    Aes128Xcbc,
    /// PRF_HMAC_SHA2_256 (RFC 4868), ID 5.
    HmacSha256,
    /// PRF_HMAC_SHA2_384 (RFC 4868), ID 6.
    HmacSha384,
    /// PRF_HMAC_SHA2_512 (RFC 4868), ID 7.
    HmacSha512,
    /// PRF_AES128_CMAC (RFC 4615), ID 8. Legacy.
    Aes128Cmac,
}

impl Prf {
    /// The PRFs of the default proposals, strongest first (the legacy ones
    /// are only used when configured).
    pub const ALL: [Prf; 4] = [
        Prf::HmacSha256,
        Prf::HmacSha384,
        Prf::HmacSha512,
        Prf::HmacSha1,
    ];

    /// The PRF for a Transform ID.
    pub fn from_id(id: PrfId) -> Result<Self, CryptoError> {
        Ok(match id {
            PrfId::HMAC_MD5 => Prf::HmacMd5,
            PrfId::HMAC_SHA1 => Prf::HmacSha1,
            PrfId::AES128_XCBC => Prf::Aes128Xcbc,
            PrfId::HMAC_SHA2_256 => Prf::HmacSha256,
            PrfId::HMAC_SHA2_384 => Prf::HmacSha384,
            PrfId::HMAC_SHA2_512 => Prf::HmacSha512,
            PrfId::AES128_CMAC => Prf::Aes128Cmac,
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
            Prf::HmacMd5 => PrfId::HMAC_MD5,
            Prf::HmacSha1 => PrfId::HMAC_SHA1,
            Prf::Aes128Xcbc => PrfId::AES128_XCBC,
            Prf::HmacSha256 => PrfId::HMAC_SHA2_256,
            Prf::HmacSha384 => PrfId::HMAC_SHA2_384,
            Prf::HmacSha512 => PrfId::HMAC_SHA2_512,
            Prf::Aes128Cmac => PrfId::AES128_CMAC,
        }
    }

    fn mac(self) -> MacAlg {
        match self {
            Prf::HmacMd5 => MacAlg::HmacMd5,
            Prf::HmacSha1 => MacAlg::HmacSha1,
            Prf::Aes128Xcbc => MacAlg::AesXcbc,
            Prf::HmacSha256 => MacAlg::HmacSha256,
            Prf::HmacSha384 => MacAlg::HmacSha384,
            Prf::HmacSha512 => MacAlg::HmacSha512,
            Prf::Aes128Cmac => MacAlg::AesCmac,
        }
    }

    /// Output length in bytes.
    pub fn output_len(self) -> usize {
        self.mac().output_len()
    }

    /// The preferred key length, used for SK_d, SK_pi and SK_pr: the output
    /// length for HMAC PRFs (RFC 7296 §2.13, RFC 4868 §2.1.2), 128 bits for
    /// AES-XCBC/CMAC (RFC 4434 §2, RFC 4615 §3).
    pub fn key_len(self) -> usize {
        self.output_len()
    }

    /// Whether the PRF takes a fixed-length key when keyed with the nonces
    /// (RFC 7296 §2.14: then SKEYSEED uses only the first half-key-length
    /// bytes of Ni and of Nr). True for AES-XCBC and AES-CMAC, as strongSwan
    /// treats them (RFC 3664's XCBC has fixed keys).
    pub fn fixed_key(self) -> bool {
        matches!(self, Prf::Aes128Xcbc | Prf::Aes128Cmac)
    }

    /// Whether RFC 8247 no longer recommends it (logged once at load).
    pub fn legacy(self) -> Option<&'static str> {
        match self {
            Prf::HmacMd5 => Some("PRF-HMAC-MD5: MD5 is broken (RFC 8247 §3.3: MUST NOT)"),
            Prf::Aes128Xcbc => {
                Some("PRF-AES128-XCBC: legacy, meant for constrained devices (RFC 8247 §3.3)")
            }
            Prf::Aes128Cmac => {
                Some("PRF-AES128-CMAC: legacy, not among RFC 8247's recommended PRFs")
            }
            _ => None,
        }
    }

    /// The keyed MAC of this PRF for a key of any length: HMAC takes it as
    /// it is (RFC 2104 §2), AES-XCBC-PRF-128 and AES-CMAC-PRF-128 reduce it
    /// to 128 bits first (RFC 4434 §2, RFC 4615 §3).
    fn keyed(self, key: &[u8]) -> Result<MacKey, CryptoError> {
        match self {
            Prf::Aes128Xcbc => MacKey::new(MacAlg::AesXcbc, &xcbc_prf_key(key)[..]),
            Prf::Aes128Cmac => MacKey::new(MacAlg::AesCmac, &cmac_prf_key(key)[..]),
            _ => MacKey::new(self.mac(), key),
        }
    }

    /// prf(key, data). Every PRF here accepts keys of any length, which is
    /// what RFC 7296 §2.14 relies on for prf(Ni | Nr, g^ir) (the nonces are
    /// cut first for [`Prf::fixed_key`] PRFs, see `kdf::skeyseed`).
    pub fn compute(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        self.compute_parts(key, &[data])
    }

    /// prf(key, parts[0] | parts[1] | ...), without building the
    /// concatenation.
    pub fn compute_parts(self, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        match self.keyed(key) {
            Ok(k) => k.sign(parts).as_ref().to_vec(),
            // Unreachable: keyed() always hands the MAC a valid key length.
            Err(_) => vec![0; self.output_len()],
        }
    }

    /// prf+(K, S) of RFC 7296 §2.13, truncated to `len` bytes:
    /// T1 = prf(K, S | 0x01), Tn = prf(K, Tn-1 | S | n), n ≤ 255.
    pub fn prf_plus(self, key: &[u8], seed: &[u8], len: usize) -> Result<SecretBytes, CryptoError> {
        let out_len = self.output_len();
        if len > 255 * out_len {
            return Err(CryptoError::PrfPlusTooLong(len));
        }
        let k = self.keyed(key)?;
        let mut out = Vec::with_capacity(len.div_ceil(out_len) * out_len);
        let mut prev: Option<super::mac::Tag> = None;
        let mut n: u8 = 1;
        while out.len() < len {
            let t = match &prev {
                Some(p) => k.sign(&[p.as_ref(), seed, &[n]]),
                None => k.sign(&[seed, &[n]]),
            };
            out.extend_from_slice(t.as_ref());
            prev = Some(t);
            n = n.wrapping_add(1);
        }
        out.truncate(len);
        Ok(SecretBytes::new(out))
    }
}
