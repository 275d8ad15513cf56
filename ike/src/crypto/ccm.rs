//! AES-CCM as IPsec uses it (RFC 4309 for ESP, RFC 5282 for the SK
//! payload): an 11-byte nonce = 3-byte salt from the keying material |
//! 8-byte explicit IV (RFC 4309 §4), so the length field is 4 bytes, and
//! an ICV of 8, 12 or 16 bytes (ENCR_AES_CCM_8/12/16, IDs 14/15/16).

use aes::{Aes128, Aes192, Aes256};
use ccm::aead::generic_array::GenericArray;
use ccm::aead::{AeadInPlace, KeyInit};
use ccm::consts::{U11, U12, U16, U8};
use ccm::Ccm;

use super::CryptoError;

/// Salt length taken from the end of the keying material (RFC 4309 §4).
pub const CCM_SALT_LEN: usize = 3;
/// Explicit IV length (RFC 4309 §3.1).
pub const CCM_IV_LEN: usize = 8;

type C128_8 = Ccm<Aes128, U8, U11>;
type C128_12 = Ccm<Aes128, U12, U11>;
type C128_16 = Ccm<Aes128, U16, U11>;
type C192_8 = Ccm<Aes192, U8, U11>;
type C192_12 = Ccm<Aes192, U12, U11>;
type C192_16 = Ccm<Aes192, U16, U11>;
type C256_8 = Ccm<Aes256, U8, U11>;
type C256_12 = Ccm<Aes256, U12, U11>;
type C256_16 = Ccm<Aes256, U16, U11>;

/// An AES-CCM key (without the salt) for one ICV length.
#[derive(Clone)]
pub enum CcmKey {
    #[doc(hidden)]
    A128I8(Box<C128_8>),
    #[doc(hidden)]
    A128I12(Box<C128_12>),
    #[doc(hidden)]
    A128I16(Box<C128_16>),
    #[doc(hidden)]
    A192I8(Box<C192_8>),
    #[doc(hidden)]
    A192I12(Box<C192_12>),
    #[doc(hidden)]
    A192I16(Box<C192_16>),
    #[doc(hidden)]
    A256I8(Box<C256_8>),
    #[doc(hidden)]
    A256I12(Box<C256_12>),
    #[doc(hidden)]
    A256I16(Box<C256_16>),
}

impl core::fmt::Debug for CcmKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("CcmKey([redacted])")
    }
}

macro_rules! each {
    ($self:expr, $k:ident => $e:expr) => {
        match $self {
            CcmKey::A128I8($k) => $e,
            CcmKey::A128I12($k) => $e,
            CcmKey::A128I16($k) => $e,
            CcmKey::A192I8($k) => $e,
            CcmKey::A192I12($k) => $e,
            CcmKey::A192I16($k) => $e,
            CcmKey::A256I8($k) => $e,
            CcmKey::A256I12($k) => $e,
            CcmKey::A256I16($k) => $e,
        }
    };
}

impl CcmKey {
    /// A key of 16, 24 or 32 bytes (salt removed) with an ICV of 8, 12 or
    /// 16 bytes.
    pub fn new(key: &[u8], icv_len: usize) -> Result<CcmKey, CryptoError> {
        let bad = CryptoError::InvalidKeyLength {
            what: "AES-CCM",
            expected: 16,
            got: key.len(),
        };
        macro_rules! mk {
            ($v:ident, $t:ty) => {
                CcmKey::$v(Box::new(
                    <$t>::new_from_slice(key).map_err(|_| bad.clone())?,
                ))
            };
        }
        Ok(match (key.len(), icv_len) {
            (16, 8) => mk!(A128I8, C128_8),
            (16, 12) => mk!(A128I12, C128_12),
            (16, 16) => mk!(A128I16, C128_16),
            (24, 8) => mk!(A192I8, C192_8),
            (24, 12) => mk!(A192I12, C192_12),
            (24, 16) => mk!(A192I16, C192_16),
            (32, 8) => mk!(A256I8, C256_8),
            (32, 12) => mk!(A256I12, C256_12),
            (32, 16) => mk!(A256I16, C256_16),
            (16 | 24 | 32, _) => {
                return Err(CryptoError::BadProposal(
                    "AES-CCM ICV must be 8, 12 or 16 bytes",
                ))
            }
            _ => return Err(bad),
        })
    }

    /// The ICV length.
    pub fn icv_len(&self) -> usize {
        match self {
            CcmKey::A128I8(_) | CcmKey::A192I8(_) | CcmKey::A256I8(_) => 8,
            CcmKey::A128I12(_) | CcmKey::A192I12(_) | CcmKey::A256I12(_) => 12,
            _ => 16,
        }
    }

    /// Encrypts `buf` in place and writes the ICV into `tag` (exactly
    /// [`CcmKey::icv_len`] bytes). `nonce` is salt | IV, 11 bytes.
    pub fn seal(
        &self,
        nonce: &[u8; 11],
        aad: &[u8],
        buf: &mut [u8],
        tag: &mut [u8],
    ) -> Result<(), CryptoError> {
        if tag.len() != self.icv_len() {
            return Err(CryptoError::EncryptionFailed);
        }
        let n = GenericArray::from_slice(nonce);
        each!(self, k => {
            let t = k
                .encrypt_in_place_detached(n, aad, buf)
                .map_err(|_| CryptoError::EncryptionFailed)?;
            tag.copy_from_slice(&t);
        });
        Ok(())
    }

    /// Checks `tag` and decrypts `buf` in place; on failure `buf` is left
    /// unusable and the error is [`CryptoError::IntegrityCheckFailed`].
    pub fn open(
        &self,
        nonce: &[u8; 11],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8],
    ) -> Result<(), CryptoError> {
        if tag.len() != self.icv_len() {
            return Err(CryptoError::IntegrityCheckFailed);
        }
        let n = GenericArray::from_slice(nonce);
        each!(self, k => k
            .decrypt_in_place_detached(n, aad, buf, GenericArray::from_slice(tag))
            .map_err(|_| CryptoError::IntegrityCheckFailed))
    }
}

/// salt | IV (RFC 4309 §4).
pub fn ccm_nonce(salt: &[u8], iv: &[u8]) -> [u8; 11] {
    let mut n = [0u8; 11];
    let s = salt.len().min(CCM_SALT_LEN);
    n[..s].copy_from_slice(&salt[..s]);
    let i = iv.len().min(CCM_IV_LEN);
    n[CCM_SALT_LEN..CCM_SALT_LEN + i].copy_from_slice(&iv[..i]);
    n
}

#[cfg(test)]
mod kat {
    use super::*;
    use ccm::consts::U13;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace([' ', '\n'], "")).unwrap()
    }

    // RFC 3610 §8, Packet Vector #1 (AES-128, M = 8, L = 2: a 13-byte
    // nonce): checks the CCM construction of the crate vtid uses. The
    // IPsec nonce layout (L = 4) is checked against strongSwan in the
    // interop tests.
    #[test]
    fn rfc3610_packet_vector_1() {
        let key = h("c0c1c2c3c4c5c6c7c8c9cacbcccdcecf");
        let nonce = h("00000003020100a0a1a2a3a4a5");
        let aad = h("0001020304050607");
        let mut buf = h("08090a0b0c0d0e0f101112131415161718191a1b1c1d1e");
        let c = Ccm::<Aes128, U8, U13>::new_from_slice(&key).unwrap();
        let tag = c
            .encrypt_in_place_detached(GenericArray::from_slice(&nonce), &aad, &mut buf)
            .unwrap();
        assert_eq!(buf, h("588c979a61c663d2f066d0c2c0f989806d5f6b61dac384"));
        assert_eq!(tag.as_slice(), h("17e8d12cfdf926e0"));
    }

    #[test]
    fn seal_open_every_size() {
        for klen in [16, 24, 32] {
            for icv in [8, 12, 16] {
                let k = CcmKey::new(&vec![7; klen], icv).unwrap();
                assert_eq!(k.icv_len(), icv);
                let nonce = ccm_nonce(&[1, 2, 3], &[9; 8]);
                let mut buf = b"seal me, then open me".to_vec();
                let mut tag = vec![0; icv];
                k.seal(&nonce, b"aad", &mut buf, &mut tag).unwrap();
                assert_ne!(&buf[..], b"seal me, then open me");
                let mut bad = buf.clone();
                assert!(k.open(&nonce, b"aaD", &mut bad, &tag).is_err());
                k.open(&nonce, b"aad", &mut buf, &tag).unwrap();
                assert_eq!(&buf[..], b"seal me, then open me");
                assert!(k.open(&nonce, b"aad", &mut buf, &tag[1..]).is_err());
            }
        }
        assert!(CcmKey::new(&[0; 16], 10).is_err());
        assert!(CcmKey::new(&[0; 20], 16).is_err());
    }
}
