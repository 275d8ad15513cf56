//! The per-SA cipher state and the in-place seal/open of one ESP packet.
#![forbid(unsafe_code)]

use aes::cipher::{
    block_padding::NoPadding, generic_array::GenericArray, BlockCipher, BlockDecryptMut,
    BlockEncrypt, BlockEncryptMut, BlockSizeUser, InnerIvInit, KeyInit,
};
use aes::{Aes128, Aes192, Aes256};
use ike::crypto::block::{BlockAlg, BlockKey};
use ike::crypto::ccm::{ccm_nonce, CcmKey};
use ike::crypto::mac::{MacAlg, MacKey};
use ring::{aead, hmac};
use zeroize::Zeroizing;

use super::suite::{Encryption, Integrity, Suite};
use super::{ConfigError, ESP_HEADER_LEN};

/// Keying material for one direction of a Child SA, borrowed from the
/// caller (normally a slice of IKEv2 KEYMAT, RFC 7296 §2.17). The SA copies
/// what it needs into its own key schedule; the caller zeroizes its copy.
#[derive(Clone, Copy)]
pub struct SaKeys<'a> {
    /// Encryption key; for the AEADs the 4-byte salt is its last 4 bytes.
    pub encryption: &'a [u8],
    /// Integrity key; empty for the AEADs.
    pub integrity: &'a [u8],
}

impl std::fmt::Debug for SaKeys<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaKeys")
            .field("encryption", &"[redacted]")
            .field("integrity", &"[redacted]")
            .finish()
    }
}

/// Expanded AES key for CBC. The `aes` crate's key schedules zeroize on drop
/// (its `zeroize` feature).
#[derive(Clone)]
pub(crate) enum AesKey {
    A128(Aes128),
    A192(Aes192),
    A256(Aes256),
}

// One per SA, built once and never moved on the packet path.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Engine {
    Aead {
        key: aead::LessSafeKey,
        salt: Zeroizing<[u8; 4]>,
    },
    Cbc {
        aes: AesKey,
        hmac: hmac::Key,
        icv_len: usize,
    },
    /// AES-CCM (RFC 4309): 3-byte salt, 8-byte IV = the sequence number.
    Ccm {
        key: CcmKey,
        salt: Zeroizing<[u8; 3]>,
    },
    /// The legacy CBC suites (3DES, Camellia, and AES with an XCBC, CMAC
    /// or MD5 MAC): the generic block cipher and MAC of `ike::crypto`.
    Generic {
        cipher: BlockKey,
        mac: MacKey,
        icv_len: usize,
    },
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The AEAD refused to seal (only possible beyond its length limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SealFailed;

/// The ICV did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AuthFailed;

fn check_len(what: &'static str, expected: usize, got: usize) -> Result<(), ConfigError> {
    if expected == got {
        Ok(())
    } else {
        Err(ConfigError::KeyLength {
            what,
            expected,
            got,
        })
    }
}

impl Engine {
    pub(crate) fn new(suite: Suite, keys: SaKeys<'_>) -> Result<Engine, ConfigError> {
        let enc = suite.encryption();
        check_len("encryption", enc.key_len(), keys.encryption.len())?;
        check_len("integrity", suite.integrity_key_len(), keys.integrity.len())?;
        let bad_key = || ConfigError::KeyLength {
            what: "encryption",
            expected: enc.key_len(),
            got: keys.encryption.len(),
        };
        if enc.ccm_icv_len() != 0 {
            if suite.integrity().is_some() {
                return Err(ConfigError::IntegrityWithAead);
            }
            let (k, s) = keys.encryption.split_at(keys.encryption.len() - 3);
            let key = CcmKey::new(k, enc.ccm_icv_len()).map_err(|_| bad_key())?;
            let mut salt = Zeroizing::new([0u8; 3]);
            salt.copy_from_slice(s);
            return Ok(Engine::Ccm { key, salt });
        }
        let generic_alg = match enc {
            Encryption::TripleDesCbc => Some(BlockAlg::TripleDes),
            Encryption::CamelliaCbc128
            | Encryption::CamelliaCbc192
            | Encryption::CamelliaCbc256 => Some(BlockAlg::Camellia),
            _ if matches!(
                suite.integrity(),
                Some(Integrity::HmacMd5_96 | Integrity::AesXcbc96 | Integrity::AesCmac96)
            ) =>
            {
                Some(BlockAlg::Aes)
            }
            _ => None,
        };
        if let (Some(alg), Some(integ)) = (generic_alg, suite.integrity()) {
            let mac_alg = match integ {
                Integrity::HmacSha1_96 => MacAlg::HmacSha1,
                Integrity::HmacSha256_128 | Integrity::HmacSha256_96 => MacAlg::HmacSha256,
                Integrity::HmacSha384_192 => MacAlg::HmacSha384,
                Integrity::HmacSha512_256 => MacAlg::HmacSha512,
                Integrity::HmacMd5_96 => MacAlg::HmacMd5,
                Integrity::AesXcbc96 => MacAlg::AesXcbc,
                Integrity::AesCmac96 => MacAlg::AesCmac,
            };
            let bad_integ = || ConfigError::KeyLength {
                what: "integrity",
                expected: integ.key_len(),
                got: keys.integrity.len(),
            };
            return Ok(Engine::Generic {
                cipher: BlockKey::new(alg, keys.encryption).map_err(|_| bad_key())?,
                mac: MacKey::new(mac_alg, keys.integrity).map_err(|_| bad_integ())?,
                icv_len: integ.icv_len(),
            });
        }
        match (enc, suite.integrity()) {
            (
                Encryption::AesGcm16_128 | Encryption::AesGcm16_256 | Encryption::ChaCha20Poly1305,
                None,
            ) => {
                let alg = match enc {
                    Encryption::AesGcm16_128 => &aead::AES_128_GCM,
                    Encryption::AesGcm16_256 => &aead::AES_256_GCM,
                    _ => &aead::CHACHA20_POLY1305,
                };
                let (k, s) = keys.encryption.split_at(keys.encryption.len() - 4);
                let key =
                    aead::LessSafeKey::new(aead::UnboundKey::new(alg, k).map_err(|_| bad_key())?);
                let mut salt = Zeroizing::new([0u8; 4]);
                salt.copy_from_slice(s);
                Ok(Engine::Aead { key, salt })
            }
            (
                Encryption::AesCbc128 | Encryption::AesCbc192 | Encryption::AesCbc256,
                Some(integ),
            ) => {
                let k = keys.encryption;
                let aes = match enc {
                    Encryption::AesCbc128 => {
                        AesKey::A128(Aes128::new_from_slice(k).map_err(|_| bad_key())?)
                    }
                    Encryption::AesCbc192 => {
                        AesKey::A192(Aes192::new_from_slice(k).map_err(|_| bad_key())?)
                    }
                    _ => AesKey::A256(Aes256::new_from_slice(k).map_err(|_| bad_key())?),
                };
                let alg = match integ {
                    Integrity::HmacSha1_96 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
                    Integrity::HmacSha256_128 | Integrity::HmacSha256_96 => hmac::HMAC_SHA256,
                    Integrity::HmacSha384_192 => hmac::HMAC_SHA384,
                    Integrity::HmacSha512_256 => hmac::HMAC_SHA512,
                    // Routed to Engine::Generic above.
                    Integrity::HmacMd5_96 | Integrity::AesXcbc96 | Integrity::AesCmac96 => {
                        return Err(ConfigError::MissingIntegrity)
                    }
                };
                Ok(Engine::Cbc {
                    aes,
                    hmac: hmac::Key::new(alg, keys.integrity),
                    icv_len: integ.icv_len(),
                })
            }
            (_, Some(_)) => Err(ConfigError::IntegrityWithAead),
            (_, None) => Err(ConfigError::MissingIntegrity),
        }
    }

    /// Seal `esp`, the whole ESP packet: header (SPI and low sequence number
    /// already written), room for the IV, the plaintext payload including
    /// padding and trailer, and room for the ICV at the end.
    pub(crate) fn seal(&self, esp: &mut [u8], seq: u64, esn: bool) -> Result<(), SealFailed> {
        let seq_hi = (seq >> 32) as u32;
        match self {
            Engine::Aead { key, salt } => {
                // RFC 4106 §3.1 / RFC 7634 §2: the explicit IV must never
                // repeat under a key; the 64-bit sequence number never does.
                let iv = seq.to_be_bytes();
                esp[ESP_HEADER_LEN..ESP_HEADER_LEN + 8].copy_from_slice(&iv);
                let nonce = nonce(salt, &iv);
                let mut aad = [0u8; 12];
                let aad = build_aad(&mut aad, &esp[..ESP_HEADER_LEN], seq_hi, esn);
                let tag_at = esp.len() - 16;
                let (body, tag_out) = esp.split_at_mut(tag_at);
                let tag = key
                    .seal_in_place_separate_tag(
                        nonce,
                        aead::Aad::from(aad),
                        &mut body[ESP_HEADER_LEN + 8..],
                    )
                    // ring fails only for payloads beyond the AEAD's limit
                    // (~64 GB for GCM); an ESP packet is at most 64 kB.
                    .map_err(|_| SealFailed)?;
                tag_out.copy_from_slice(tag.as_ref());
                Ok(())
            }
            Engine::Cbc { aes, hmac, icv_len } => {
                let icv_at = esp.len() - icv_len;
                let (spi_seq, rest) = esp.split_at_mut(ESP_HEADER_LEN);
                let (iv, rest) = rest.split_at_mut(16);
                // IV = E_K(SPI || 0 || 64-bit sequence number): unique per
                // packet and unpredictable without the key, which is the
                // construction NIST SP 800-38A Appendix C recommends and what
                // RFC 3602 §3 asks for, without a getrandom per packet.
                iv[..4].copy_from_slice(&spi_seq[..4]);
                iv[4..8].fill(0);
                iv[8..].copy_from_slice(&seq.to_be_bytes());
                aes.encrypt_block(iv);
                let iv_arr: [u8; 16] = iv.try_into().unwrap_or([0; 16]);
                aes.cbc_encrypt(&iv_arr, &mut rest[..icv_at - ESP_HEADER_LEN - 16]);
                let tag = compute_hmac(hmac, &esp[..icv_at], seq_hi, esn);
                esp[icv_at..].copy_from_slice(&tag.as_ref()[..*icv_len]);
                Ok(())
            }
            Engine::Ccm { key, salt } => {
                // RFC 4309 §3.1: the IV must not repeat under a key; the
                // 64-bit sequence number never does.
                let iv = seq.to_be_bytes();
                esp[ESP_HEADER_LEN..ESP_HEADER_LEN + 8].copy_from_slice(&iv);
                let nonce = ccm_nonce(&salt[..], &iv);
                let mut aad = [0u8; 12];
                // RFC 4309 §5: the AAD is SPI | seq (| ESN high), as GCM's.
                let aad = build_aad(&mut aad, &esp[..ESP_HEADER_LEN], seq_hi, esn);
                let tag_at = esp.len() - key.icv_len();
                let (body, tag_out) = esp.split_at_mut(tag_at);
                key.seal(&nonce, aad, &mut body[ESP_HEADER_LEN + 8..], tag_out)
                    .map_err(|_| SealFailed)
            }
            Engine::Generic {
                cipher,
                mac,
                icv_len,
            } => {
                let b = cipher.block_len();
                let icv_at = esp.len() - icv_len;
                let (spi_seq, rest) = esp.split_at_mut(ESP_HEADER_LEN);
                let (iv, rest) = rest.split_at_mut(b);
                // IV = E_K(SPI | 0 | seq) for 16-byte blocks, E_K(seq) for
                // 3DES's 8-byte blocks: unique per packet, unpredictable
                // without the key (RFC 2451 §2.2, RFC 3602 §3).
                if b == 16 {
                    iv[..4].copy_from_slice(&spi_seq[..4]);
                    iv[4..8].fill(0);
                    iv[8..].copy_from_slice(&seq.to_be_bytes());
                } else {
                    iv.copy_from_slice(&seq.to_be_bytes());
                }
                cipher.encrypt_block(iv);
                let mut iv_copy = [0u8; 16];
                iv_copy[..b].copy_from_slice(iv);
                cipher
                    .cbc_encrypt(&iv_copy[..b], &mut rest[..icv_at - ESP_HEADER_LEN - b])
                    .map_err(|_| SealFailed)?;
                let tag = generic_mac(mac, &esp[..icv_at], seq_hi, esn);
                esp[icv_at..].copy_from_slice(&tag.as_ref()[..*icv_len]);
                Ok(())
            }
        }
    }

    /// Verify and decrypt `esp` in place; on success the plaintext payload
    /// sits between the IV and the (now meaningless) ICV.
    pub(crate) fn open(&self, esp: &mut [u8], seq: u64, esn: bool) -> Result<(), AuthFailed> {
        let seq_hi = (seq >> 32) as u32;
        match self {
            Engine::Aead { key, salt } => {
                let mut iv = [0u8; 8];
                iv.copy_from_slice(&esp[ESP_HEADER_LEN..ESP_HEADER_LEN + 8]);
                let nonce = nonce(salt, &iv);
                let mut aad_buf = [0u8; 12];
                let (hdr, rest) = esp.split_at_mut(ESP_HEADER_LEN);
                let aad = build_aad(&mut aad_buf, hdr, seq_hi, esn);
                key.open_in_place(nonce, aead::Aad::from(aad), &mut rest[8..])
                    .map(|_| ())
                    .map_err(|_| AuthFailed)
            }
            Engine::Cbc { aes, hmac, icv_len } => {
                let icv_at = esp.len() - icv_len;
                let tag = compute_hmac(hmac, &esp[..icv_at], seq_hi, esn);
                if !ct_eq(&tag.as_ref()[..*icv_len], &esp[icv_at..]) {
                    return Err(AuthFailed);
                }
                let mut iv = [0u8; 16];
                iv.copy_from_slice(&esp[ESP_HEADER_LEN..ESP_HEADER_LEN + 16]);
                aes.cbc_decrypt(&iv, &mut esp[ESP_HEADER_LEN + 16..icv_at]);
                Ok(())
            }
            Engine::Ccm { key, salt } => {
                let icv_at = esp.len() - key.icv_len();
                let mut iv = [0u8; 8];
                iv.copy_from_slice(&esp[ESP_HEADER_LEN..ESP_HEADER_LEN + 8]);
                let nonce = ccm_nonce(&salt[..], &iv);
                let mut aad_buf = [0u8; 12];
                let (hdr, rest) = esp.split_at_mut(ESP_HEADER_LEN);
                let aad = build_aad(&mut aad_buf, hdr, seq_hi, esn);
                let (ct, tag) = rest.split_at_mut(icv_at - ESP_HEADER_LEN);
                key.open(&nonce, aad, &mut ct[8..], tag)
                    .map_err(|_| AuthFailed)
            }
            Engine::Generic {
                cipher,
                mac,
                icv_len,
            } => {
                let b = cipher.block_len();
                let icv_at = esp.len() - icv_len;
                let tag = generic_mac(mac, &esp[..icv_at], seq_hi, esn);
                if !ct_eq(&tag.as_ref()[..*icv_len], &esp[icv_at..]) {
                    return Err(AuthFailed);
                }
                let mut iv = [0u8; 16];
                iv[..b].copy_from_slice(&esp[ESP_HEADER_LEN..ESP_HEADER_LEN + b]);
                cipher
                    .cbc_decrypt(&iv[..b], &mut esp[ESP_HEADER_LEN + b..icv_at])
                    .map_err(|_| AuthFailed)
            }
        }
    }
}

fn nonce(salt: &[u8; 4], iv: &[u8; 8]) -> aead::Nonce {
    let mut n = [0u8; 12];
    n[..4].copy_from_slice(salt);
    n[4..].copy_from_slice(iv);
    aead::Nonce::assume_unique_for_key(n)
}

/// RFC 4106 §5 / RFC 7634 §2.1: AAD is SPI || seq (8 bytes), or with ESN
/// SPI || seq-high || seq-low (12 bytes).
fn build_aad<'b>(buf: &'b mut [u8; 12], hdr: &[u8], seq_hi: u32, esn: bool) -> &'b [u8] {
    if esn {
        buf[..4].copy_from_slice(&hdr[..4]);
        buf[4..8].copy_from_slice(&seq_hi.to_be_bytes());
        buf[8..].copy_from_slice(&hdr[4..8]);
        &buf[..]
    } else {
        buf[..8].copy_from_slice(&hdr[..8]);
        &buf[..8]
    }
}

/// RFC 4303 §2.8 and §3.3.2.1: the ICV covers SPI through Next Header, and
/// with ESN the high 32 bits of the sequence number are appended to the
/// ICV input (but not sent).
fn compute_hmac(key: &hmac::Key, covered: &[u8], seq_hi: u32, esn: bool) -> hmac::Tag {
    let mut ctx = hmac::Context::with_key(key);
    ctx.update(covered);
    if esn {
        ctx.update(&seq_hi.to_be_bytes());
    }
    ctx.sign()
}

/// [`compute_hmac`] for the generic MACs (XCBC, CMAC, MD5).
fn generic_mac(mac: &MacKey, covered: &[u8], seq_hi: u32, esn: bool) -> ike::crypto::mac::Tag {
    let hi = seq_hi.to_be_bytes();
    if esn {
        mac.sign(&[covered, &hi])
    } else {
        mac.sign(&[covered])
    }
}

/// Constant-time comparison of two equal-length byte strings.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

impl AesKey {
    fn encrypt_block(&self, block: &mut [u8]) {
        let b = GenericArray::from_mut_slice(block);
        match self {
            AesKey::A128(k) => k.encrypt_block(b),
            AesKey::A192(k) => k.encrypt_block(b),
            AesKey::A256(k) => k.encrypt_block(b),
        }
    }

    fn cbc_encrypt(&self, iv: &[u8; 16], buf: &mut [u8]) {
        match self {
            AesKey::A128(k) => cbc_enc(k, iv, buf),
            AesKey::A192(k) => cbc_enc(k, iv, buf),
            AesKey::A256(k) => cbc_enc(k, iv, buf),
        }
    }

    fn cbc_decrypt(&self, iv: &[u8; 16], buf: &mut [u8]) {
        match self {
            AesKey::A128(k) => cbc_dec(k, iv, buf),
            AesKey::A192(k) => cbc_dec(k, iv, buf),
            AesKey::A256(k) => cbc_dec(k, iv, buf),
        }
    }
}

/// CBC-encrypt `buf` (a whole number of blocks, checked by the caller) in
/// place. The key schedule is cloned onto the stack (and zeroized there on
/// drop) rather than re-expanded per packet.
fn cbc_enc<C>(key: &C, iv: &[u8; 16], buf: &mut [u8])
where
    C: BlockEncryptMut + BlockCipher + BlockSizeUser<BlockSize = aes::cipher::consts::U16> + Clone,
{
    let len = buf.len();
    let enc = cbc::Encryptor::<C>::inner_iv_init(key.clone(), GenericArray::from_slice(iv));
    // NoPadding only fails on a partial block, which the framing excludes.
    let _ = enc.encrypt_padded_mut::<NoPadding>(buf, len);
}

fn cbc_dec<C>(key: &C, iv: &[u8; 16], buf: &mut [u8])
where
    C: BlockDecryptMut + BlockCipher + BlockSizeUser<BlockSize = aes::cipher::consts::U16> + Clone,
{
    let dec = cbc::Decryptor::<C>::inner_iv_init(key.clone(), GenericArray::from_slice(iv));
    let _ = aes::cipher::BlockDecryptMut::decrypt_padded_mut::<NoPadding>(dec, buf);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ct_eq_works() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }

    #[test]
    fn key_lengths_are_checked() {
        let k = [0u8; 64];
        let err = Engine::new(
            Suite::AES_GCM_16_128,
            SaKeys {
                encryption: &k[..16],
                integrity: &[],
            },
        )
        .unwrap_err();
        assert_eq!(
            err,
            ConfigError::KeyLength {
                what: "encryption",
                expected: 20,
                got: 16
            }
        );
        let err = Engine::new(
            Suite::AES_CBC_256_SHA384_192,
            SaKeys {
                encryption: &k[..32],
                integrity: &k[..32],
            },
        )
        .unwrap_err();
        assert_eq!(
            err,
            ConfigError::KeyLength {
                what: "integrity",
                expected: 48,
                got: 32
            }
        );
        let dbg = format!(
            "{:?}",
            Engine::new(
                Suite::CHACHA20_POLY1305,
                SaKeys {
                    encryption: &k[..36],
                    integrity: &[]
                }
            )
            .unwrap()
        );
        assert_eq!(dbg, "[redacted]");
    }
}
