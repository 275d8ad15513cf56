//! Block ciphers in CBC mode for the SK payload and ESP: AES (RFC 3602),
//! 3DES-EDE (RFC 2451) and Camellia (RFC 5529 for IKEv2, RFC 4312 for ESP).
//!
//! One type, [`BlockKey`], holds an expanded key of any of them; the key
//! schedules zeroize on drop (the `zeroize` features of the `aes`, `des`
//! and `camellia` crates).

use aes::cipher::{
    block_padding::NoPadding, generic_array::GenericArray, BlockCipher, BlockDecrypt,
    BlockDecryptMut, BlockEncrypt, BlockEncryptMut, InnerIvInit, KeyInit,
};
use aes::{Aes128, Aes192, Aes256};
use camellia::{Camellia128, Camellia192, Camellia256};
use des::TdesEde3;

use super::CryptoError;

/// Which block cipher.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BlockAlg {
    /// AES with a 128, 192 or 256-bit key.
    Aes,
    /// Triple DES (EDE, three independent keys, 192 bits with parity).
    TripleDes,
    /// Camellia with a 128, 192 or 256-bit key (RFC 3713).
    Camellia,
}

/// An expanded block cipher key.
#[derive(Clone)]
pub enum BlockKey {
    /// AES-128.
    Aes128(Aes128),
    /// AES-192.
    Aes192(Aes192),
    /// AES-256.
    Aes256(Aes256),
    /// 3DES-EDE3.
    TripleDes(TdesEde3),
    /// Camellia-128.
    Camellia128(Camellia128),
    /// Camellia-192.
    Camellia192(Camellia192),
    /// Camellia-256.
    Camellia256(Camellia256),
}

impl core::fmt::Debug for BlockKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("BlockKey([redacted])")
    }
}

macro_rules! each {
    ($self:expr, $k:ident => $e:expr) => {
        match $self {
            BlockKey::Aes128($k) => $e,
            BlockKey::Aes192($k) => $e,
            BlockKey::Aes256($k) => $e,
            BlockKey::TripleDes($k) => $e,
            BlockKey::Camellia128($k) => $e,
            BlockKey::Camellia192($k) => $e,
            BlockKey::Camellia256($k) => $e,
        }
    };
}

impl BlockKey {
    /// Expands `key` for `alg`; the key length picks the variant (AES and
    /// Camellia: 16, 24 or 32 bytes; 3DES: 24 bytes).
    pub fn new(alg: BlockAlg, key: &[u8]) -> Result<BlockKey, CryptoError> {
        let bad = |expected| CryptoError::InvalidKeyLength {
            what: match alg {
                BlockAlg::Aes => "AES",
                BlockAlg::TripleDes => "3DES",
                BlockAlg::Camellia => "Camellia",
            },
            expected,
            got: key.len(),
        };
        Ok(match (alg, key.len()) {
            (BlockAlg::Aes, 16) => {
                BlockKey::Aes128(Aes128::new_from_slice(key).map_err(|_| bad(16))?)
            }
            (BlockAlg::Aes, 24) => {
                BlockKey::Aes192(Aes192::new_from_slice(key).map_err(|_| bad(24))?)
            }
            (BlockAlg::Aes, 32) => {
                BlockKey::Aes256(Aes256::new_from_slice(key).map_err(|_| bad(32))?)
            }
            (BlockAlg::TripleDes, 24) => {
                BlockKey::TripleDes(TdesEde3::new_from_slice(key).map_err(|_| bad(24))?)
            }
            (BlockAlg::Camellia, 16) => {
                BlockKey::Camellia128(Camellia128::new_from_slice(key).map_err(|_| bad(16))?)
            }
            (BlockAlg::Camellia, 24) => {
                BlockKey::Camellia192(Camellia192::new_from_slice(key).map_err(|_| bad(24))?)
            }
            (BlockAlg::Camellia, 32) => {
                BlockKey::Camellia256(Camellia256::new_from_slice(key).map_err(|_| bad(32))?)
            }
            (BlockAlg::TripleDes, _) => return Err(bad(24)),
            _ => return Err(bad(16)),
        })
    }

    /// The cipher's block length: 8 for 3DES, 16 otherwise (also the CBC
    /// IV length, RFC 2451 §2.2, RFC 3602 §3, RFC 5529 §2).
    pub fn block_len(&self) -> usize {
        match self {
            BlockKey::TripleDes(_) => 8,
            _ => 16,
        }
    }

    /// Encrypts one block in place; `block` must be [`BlockKey::block_len`]
    /// bytes (anything else is left as it is).
    pub fn encrypt_block(&self, block: &mut [u8]) {
        if block.len() != self.block_len() {
            return;
        }
        each!(self, k => k.encrypt_block(GenericArray::from_mut_slice(block)))
    }

    /// Decrypts one block in place (same length rule).
    pub fn decrypt_block(&self, block: &mut [u8]) {
        if block.len() != self.block_len() {
            return;
        }
        each!(self, k => k.decrypt_block(GenericArray::from_mut_slice(block)))
    }

    fn check(&self, iv: &[u8], buf: &[u8]) -> Result<(), CryptoError> {
        let b = self.block_len();
        if iv.len() != b {
            return Err(CryptoError::InvalidKeyLength {
                what: "CBC IV",
                expected: b,
                got: iv.len(),
            });
        }
        if buf.len() % b != 0 {
            return Err(CryptoError::MalformedCiphertext(
                "ciphertext is not a multiple of the cipher block size",
            ));
        }
        Ok(())
    }

    /// CBC encryption in place, no padding: `buf` must be whole blocks and
    /// `iv` one block.
    pub fn cbc_encrypt(&self, iv: &[u8], buf: &mut [u8]) -> Result<(), CryptoError> {
        self.check(iv, buf)?;
        each!(self, k => cbc_enc(k, iv, buf))
    }

    /// CBC decryption in place, no padding removal.
    pub fn cbc_decrypt(&self, iv: &[u8], buf: &mut [u8]) -> Result<(), CryptoError> {
        self.check(iv, buf)?;
        each!(self, k => cbc_dec(k, iv, buf))
    }
}

fn cbc_enc<C>(key: &C, iv: &[u8], buf: &mut [u8]) -> Result<(), CryptoError>
where
    C: BlockEncryptMut + BlockCipher + Clone,
{
    let len = buf.len();
    let enc = cbc::Encryptor::<C>::inner_iv_slice_init(key.clone(), iv)
        .map_err(|_| CryptoError::EncryptionFailed)?;
    enc.encrypt_padded_mut::<NoPadding>(buf, len)
        .map(|_| ())
        .map_err(|_| CryptoError::EncryptionFailed)
}

fn cbc_dec<C>(key: &C, iv: &[u8], buf: &mut [u8]) -> Result<(), CryptoError>
where
    C: BlockDecryptMut + BlockCipher + Clone,
{
    let dec = cbc::Decryptor::<C>::inner_iv_slice_init(key.clone(), iv)
        .map_err(|_| CryptoError::MalformedCiphertext("CBC IV"))?;
    dec.decrypt_padded_mut::<NoPadding>(buf)
        .map(|_| ())
        .map_err(|_| CryptoError::MalformedCiphertext("CBC decryption failed"))
}

#[cfg(test)]
mod kat {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace([' ', '\n'], "")).unwrap()
    }

    fn ecb(alg: BlockAlg, key: &str, pt: &str, ct: &str) {
        let k = BlockKey::new(alg, &h(key)).unwrap();
        let mut b = h(pt);
        k.encrypt_block(&mut b);
        assert_eq!(b, h(ct), "{alg:?} encrypt");
        k.decrypt_block(&mut b);
        assert_eq!(b, h(pt), "{alg:?} decrypt");
    }

    // RFC 3713 Appendix A: Camellia test data, 128/192/256-bit keys.
    #[test]
    fn rfc3713_appendix_a() {
        let pt = "0123456789abcdeffedcba9876543210";
        ecb(
            BlockAlg::Camellia,
            "0123456789abcdeffedcba9876543210",
            pt,
            "67673138549669730857065648eabe43",
        );
        ecb(
            BlockAlg::Camellia,
            "0123456789abcdeffedcba98765432100011223344556677",
            pt,
            "b4993401b3e996f84ee5cee7d79b09b9",
        );
        ecb(
            BlockAlg::Camellia,
            "0123456789abcdeffedcba987654321000112233445566778899aabbccddeeff",
            pt,
            "9acc237dff16d76c20ef7c919e3a7509",
        );
    }

    // NIST SP 800-67 Rev. 2, Appendix B: the TDEA (three keys) example,
    // ECB over "The qufck brown fox jump" (sic, three blocks).
    #[test]
    fn sp800_67_appendix_b() {
        let key = "0123456789abcdef23456789abcdef01456789abcdef0123";
        let pt = h("5468652071756663 6b2062726f776e20 666f78206a756d70");
        let want = h("a826fd8ce53b855f cce21c8112256fe6 68d5c05dd9b6b900");
        let k = BlockKey::new(BlockAlg::TripleDes, &h(key)).unwrap();
        let mut b = pt.clone();
        for c in b.chunks_mut(8) {
            k.encrypt_block(c);
        }
        assert_eq!(b, want);
        // CBC with a zero IV over one block is ECB of that block.
        let mut one = pt[..8].to_vec();
        k.cbc_encrypt(&[0; 8], &mut one).unwrap();
        assert_eq!(one, want[..8]);
        k.cbc_decrypt(&[0; 8], &mut one).unwrap();
        assert_eq!(one, pt[..8]);
    }

    // RFC 3602 §4, Case #2 through the generic path.
    #[test]
    fn rfc3602_case2_generic() {
        let k = BlockKey::new(BlockAlg::Aes, &h("c286696d887c9aa0611bbb3e2025a45a")).unwrap();
        let iv = h("562e17996d093d28ddb3ba695a2e6f58");
        let pt = h("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
        let mut buf = pt.clone();
        k.cbc_encrypt(&iv, &mut buf).unwrap();
        assert_eq!(
            buf,
            h("d296cd94c2cccf8a3a863028b5e1dc0a7586602d253cfff91b8266bea6d61ab1")
        );
        k.cbc_decrypt(&iv, &mut buf).unwrap();
        assert_eq!(buf, pt);
    }

    #[test]
    fn lengths_are_checked() {
        assert!(BlockKey::new(BlockAlg::TripleDes, &[0; 16]).is_err());
        assert!(BlockKey::new(BlockAlg::Camellia, &[0; 20]).is_err());
        let k = BlockKey::new(BlockAlg::TripleDes, &[1; 24]).unwrap();
        assert_eq!(k.block_len(), 8);
        assert!(k.cbc_encrypt(&[0; 16], &mut [0; 8]).is_err());
        assert!(k.cbc_encrypt(&[0; 8], &mut [0; 12]).is_err());
        assert!(k.cbc_decrypt(&[0; 8], &mut [0; 7]).is_err());
        assert_eq!(format!("{k:?}"), "BlockKey([redacted])");
    }
}
