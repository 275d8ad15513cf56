//! The MACs under the integrity transforms and PRFs: HMAC (RFC 2104) with
//! SHA-1/SHA-2 (ring) and MD5 (RFC 2403, RFC 2202), AES-XCBC-MAC
//! (RFC 3566) and AES-CMAC (RFC 4493).
//!
//! [`MacKey`] is built once per key and signs any number of messages given
//! in parts, without building their concatenation (the ESP data plane calls
//! it per packet). The PRF forms of AES-XCBC (RFC 4434) and AES-CMAC
//! (RFC 4615) take keys of any length: [`xcbc_prf_key`] and
//! [`cmac_prf_key`] reduce them to the 128-bit key the MAC takes.

use ::hmac::{Hmac, Mac as _};
use aes::cipher::{generic_array::GenericArray, BlockEncrypt, KeyInit};
use aes::Aes128;
use md5::Md5;
use ring::hmac as rhmac;
use zeroize::Zeroizing;

use super::CryptoError;

/// Which MAC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MacAlg {
    /// HMAC-MD5 (16-byte output).
    HmacMd5,
    /// HMAC-SHA-1 (20).
    HmacSha1,
    /// HMAC-SHA-256 (32).
    HmacSha256,
    /// HMAC-SHA-384 (48).
    HmacSha384,
    /// HMAC-SHA-512 (64).
    HmacSha512,
    /// AES-XCBC-MAC with a 128-bit key (16).
    AesXcbc,
    /// AES-CMAC with a 128-bit key (16).
    AesCmac,
}

impl MacAlg {
    /// The untruncated output length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            MacAlg::HmacMd5 | MacAlg::AesXcbc | MacAlg::AesCmac => 16,
            MacAlg::HmacSha1 => 20,
            MacAlg::HmacSha256 => 32,
            MacAlg::HmacSha384 => 48,
            MacAlg::HmacSha512 => 64,
        }
    }
}

/// A MAC output (up to 64 bytes).
#[derive(Clone)]
pub struct Tag {
    bytes: [u8; 64],
    len: usize,
}

impl AsRef<[u8]> for Tag {
    fn as_ref(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl core::fmt::Debug for Tag {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Tag([redacted; {}])", self.len)
    }
}

impl Drop for Tag {
    fn drop(&mut self) {
        // A MAC output is key material when it is a PRF block (prf+).
        zeroize::Zeroize::zeroize(&mut self.bytes);
    }
}

impl Tag {
    fn from_slice(s: &[u8]) -> Tag {
        let mut bytes = [0u8; 64];
        let len = s.len().min(64);
        bytes[..len].copy_from_slice(&s[..len]);
        Tag { bytes, len }
    }
}

/// A keyed MAC. Subkeys zeroize on drop; `Debug` prints no key material.
#[derive(Clone)]
pub struct MacKey {
    alg: MacAlg,
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    Ring(rhmac::Key),
    Md5(Box<Hmac<Md5>>),
    /// RFC 3566 §4: E with K1, and the final-block keys K2 (complete
    /// block) and K3 (padded block).
    Xcbc {
        k1: Box<Aes128>,
        k2: Zeroizing<[u8; 16]>,
        k3: Zeroizing<[u8; 16]>,
    },
    /// RFC 4493 §2.3/§2.4: E with K, and the subkeys K1 (complete last
    /// block) and K2 (padded last block).
    Cmac {
        k: Box<Aes128>,
        k1: Zeroizing<[u8; 16]>,
        k2: Zeroizing<[u8; 16]>,
    },
}

impl core::fmt::Debug for MacKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MacKey")
            .field("alg", &self.alg)
            .field("key", &"[redacted]")
            .finish()
    }
}

fn aes128(key: &[u8]) -> Result<Aes128, CryptoError> {
    Aes128::new_from_slice(key).map_err(|_| CryptoError::InvalidKeyLength {
        what: "AES-XCBC/CMAC",
        expected: 16,
        got: key.len(),
    })
}

fn encrypt(c: &Aes128, block: &mut [u8; 16]) {
    c.encrypt_block(GenericArray::from_mut_slice(block));
}

/// Doubling in GF(2^128) for the CMAC subkeys (RFC 4493 §2.3).
fn dbl(l: &[u8; 16]) -> [u8; 16] {
    let mut out = [0u8; 16];
    let mut carry = 0u8;
    for i in (0..16).rev() {
        out[i] = (l[i] << 1) | carry;
        carry = l[i] >> 7;
    }
    if carry != 0 {
        out[15] ^= 0x87;
    }
    out
}

impl MacKey {
    /// A MAC key. HMAC takes keys of any length (RFC 2104 §2); AES-XCBC
    /// and AES-CMAC take exactly 16 bytes here (RFC 3566 §2.1, RFC 4494
    /// §2) — the PRFs reduce other lengths first.
    pub fn new(alg: MacAlg, key: &[u8]) -> Result<MacKey, CryptoError> {
        let inner = match alg {
            MacAlg::HmacSha1 => {
                Inner::Ring(rhmac::Key::new(rhmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key))
            }
            MacAlg::HmacSha256 => Inner::Ring(rhmac::Key::new(rhmac::HMAC_SHA256, key)),
            MacAlg::HmacSha384 => Inner::Ring(rhmac::Key::new(rhmac::HMAC_SHA384, key)),
            MacAlg::HmacSha512 => Inner::Ring(rhmac::Key::new(rhmac::HMAC_SHA512, key)),
            MacAlg::HmacMd5 => Inner::Md5(Box::new(
                // HMAC accepts every key length; the error cannot happen.
                <Hmac<Md5> as ::hmac::Mac>::new_from_slice(key).map_err(|_| {
                    CryptoError::InvalidKeyLength {
                        what: "HMAC-MD5",
                        expected: 16,
                        got: key.len(),
                    }
                })?,
            )),
            MacAlg::AesXcbc => {
                // RFC 3566 §4 (1): K1, K2, K3 = E_K(0x01..), E_K(0x02..), E_K(0x03..).
                let k = aes128(key)?;
                let mut k1 = Zeroizing::new([0x01u8; 16]);
                let mut k2 = Zeroizing::new([0x02u8; 16]);
                let mut k3 = Zeroizing::new([0x03u8; 16]);
                encrypt(&k, &mut k1);
                encrypt(&k, &mut k2);
                encrypt(&k, &mut k3);
                Inner::Xcbc {
                    k1: Box::new(aes128(&k1[..])?),
                    k2,
                    k3,
                }
            }
            MacAlg::AesCmac => {
                // RFC 4493 §2.3: L = E_K(0^128), K1 = dbl(L), K2 = dbl(K1).
                let k = aes128(key)?;
                let mut l = Zeroizing::new([0u8; 16]);
                encrypt(&k, &mut l);
                let k1 = Zeroizing::new(dbl(&l));
                let k2 = Zeroizing::new(dbl(&k1));
                Inner::Cmac {
                    k: Box::new(k),
                    k1,
                    k2,
                }
            }
        };
        Ok(MacKey { alg, inner })
    }

    /// The algorithm.
    pub fn alg(&self) -> MacAlg {
        self.alg
    }

    /// The MAC of `parts` concatenated, untruncated.
    pub fn sign(&self, parts: &[&[u8]]) -> Tag {
        match &self.inner {
            Inner::Ring(k) => {
                let mut ctx = rhmac::Context::with_key(k);
                for p in parts {
                    ctx.update(p);
                }
                Tag::from_slice(ctx.sign().as_ref())
            }
            Inner::Md5(m) => {
                let mut m = (**m).clone();
                for p in parts {
                    m.update(p);
                }
                Tag::from_slice(&m.finalize().into_bytes())
            }
            Inner::Xcbc { k1, k2, k3 } => {
                let mut s = CbcMac::new(k1);
                for p in parts {
                    s.update(p);
                }
                Tag::from_slice(&s.finish(k2, k3))
            }
            Inner::Cmac { k, k1, k2 } => {
                let mut s = CbcMac::new(k);
                for p in parts {
                    s.update(p);
                }
                Tag::from_slice(&s.finish(k1, k2))
            }
        }
    }
}

/// CBC-MAC over a stream whose last block gets one of two final keys
/// XORed in: the shared core of XCBC (RFC 3566 §4) and CMAC (RFC 4493
/// §2.4). A complete block is only absorbed once more data follows, so the
/// last one is known at [`CbcMac::finish`].
struct CbcMac<'a> {
    c: &'a Aes128,
    x: [u8; 16],
    pend: [u8; 16],
    n: usize,
}

impl<'a> CbcMac<'a> {
    fn new(c: &'a Aes128) -> Self {
        CbcMac {
            c,
            x: [0; 16],
            pend: [0; 16],
            n: 0,
        }
    }

    fn absorb(&mut self) {
        for (x, p) in self.x.iter_mut().zip(&self.pend) {
            *x ^= p;
        }
        encrypt(self.c, &mut self.x);
        self.n = 0;
    }

    fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if self.n == 16 {
                self.absorb();
            }
            let take = (16 - self.n).min(data.len());
            self.pend[self.n..self.n + take].copy_from_slice(&data[..take]);
            self.n += take;
            data = &data[take..];
        }
    }

    /// `complete`: key for a whole last block; `padded`: for a last block
    /// padded with 10* (also the empty message).
    fn finish(mut self, complete: &[u8; 16], padded: &[u8; 16]) -> [u8; 16] {
        let key = if self.n == 16 {
            complete
        } else {
            self.pend[self.n] = 0x80;
            self.pend[self.n + 1..].fill(0);
            padded
        };
        for ((x, p), k) in self.x.iter_mut().zip(&self.pend).zip(key.iter()) {
            *x ^= p ^ k;
        }
        encrypt(self.c, &mut self.x);
        self.x
    }
}

/// The 128-bit key of AES-XCBC-PRF-128 for a key of any length (RFC 4434
/// §2): as is if 16 bytes, zero-padded on the right if shorter, else
/// AES-XCBC-MAC-128 of it under the all-zero key.
pub fn xcbc_prf_key(key: &[u8]) -> Zeroizing<[u8; 16]> {
    let mut out = Zeroizing::new([0u8; 16]);
    if key.len() <= 16 {
        out[..key.len()].copy_from_slice(key);
    } else if let Ok(m) = MacKey::new(MacAlg::AesXcbc, &[0u8; 16]) {
        out.copy_from_slice(m.sign(&[key]).as_ref());
    }
    out
}

/// The 128-bit key of AES-CMAC-PRF-128 for a key of any length (RFC 4615
/// §3): as is if 16 bytes, else AES-CMAC of it under the all-zero key.
pub fn cmac_prf_key(key: &[u8]) -> Zeroizing<[u8; 16]> {
    let mut out = Zeroizing::new([0u8; 16]);
    if key.len() == 16 {
        out.copy_from_slice(key);
    } else if let Ok(m) = MacKey::new(MacAlg::AesCmac, &[0u8; 16]) {
        out.copy_from_slice(m.sign(&[key]).as_ref());
    }
    out
}

#[cfg(test)]
mod kat {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace([' ', '\n'], "")).unwrap()
    }

    fn mac(alg: MacAlg, key: &[u8], msg: &[u8]) -> Vec<u8> {
        MacKey::new(alg, key)
            .unwrap()
            .sign(&[msg])
            .as_ref()
            .to_vec()
    }

    // RFC 3566 §4.6: AES-XCBC-MAC test cases 1-6 (key 000102..0f).
    #[test]
    fn rfc3566_4_6() {
        let key = h("000102030405060708090a0b0c0d0e0f");
        let msg: Vec<u8> = (0u8..=0x21).collect();
        for (len, want) in [
            (0, "75f0251d528ac01c4573dfd584d79f29"),
            (3, "5b376580ae2f19afe7219ceef172756f"),
            (16, "d2a246fa349b68a79998a4394ff7a263"),
            (20, "47f51b4564966215b8985c63055ed308"),
            (32, "f54f0ec8d2b9f3d36807734bd5283fd4"),
            (34, "becbb3bccdb518a30677d5481fb6b4d8"),
        ] {
            assert_eq!(
                mac(MacAlg::AesXcbc, &key, &msg[..len]),
                h(want),
                "len {len}"
            );
        }
        // Test case 7: 1000 zero bytes.
        assert_eq!(
            mac(MacAlg::AesXcbc, &key, &[0u8; 1000]),
            h("f0dafee895db30253761103b5d84528f")
        );
        // Split across parts the same.
        let m = MacKey::new(MacAlg::AesXcbc, &key).unwrap();
        assert_eq!(
            m.sign(&[&msg[..5], &msg[5..17], &[], &msg[17..34]])
                .as_ref(),
            h("becbb3bccdb518a30677d5481fb6b4d8")
        );
    }

    // RFC 4434 §5: AES-XCBC-PRF-128 with 16-, 10- and 18-byte keys over
    // the message 000102..13.
    #[test]
    fn rfc4434_5() {
        let msg: Vec<u8> = (0u8..=0x13).collect();
        for (key, want) in [
            (
                "000102030405060708090a0b0c0d0e0f",
                "47f51b4564966215b8985c63055ed308",
            ),
            ("00010203040506070809", "0fa087af7d866e7653434e602fdde835"),
            (
                "000102030405060708090a0b0c0d0e0fedcb",
                "8cd3c93ae598a9803006ffb67c40e9e4",
            ),
        ] {
            let k = xcbc_prf_key(&h(key));
            assert_eq!(mac(MacAlg::AesXcbc, &k[..], &msg), h(want), "key {key}");
        }
    }

    // RFC 4493 §4: AES-CMAC examples 1-4 (key 2b7e1516...).
    #[test]
    fn rfc4493_4() {
        let key = h("2b7e151628aed2a6abf7158809cf4f3c");
        let msg = h(
            "6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51
                     30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710",
        );
        for (len, want) in [
            (0, "bb1d6929e95937287fa37d129b756746"),
            (16, "070a16b46b4d4144f79bdd9dd04a287c"),
            (40, "dfa66747de9ae63030ca32611497c827"),
            (64, "51f0bebf7e3b9d92fc49741779363cfe"),
        ] {
            assert_eq!(
                mac(MacAlg::AesCmac, &key, &msg[..len]),
                h(want),
                "len {len}"
            );
        }
        // RFC 4493 §2.3 subkeys, via their effect: K1 = fbeed618..., checked
        // by the 16-byte example above (a complete last block uses K1).
    }

    // RFC 4615 §4: AES-CMAC-PRF-128 with 18-, 16- and 10-byte keys over
    // the message 000102..13.
    #[test]
    fn rfc4615_4() {
        let msg: Vec<u8> = (0u8..=0x13).collect();
        for (key, want) in [
            (
                "000102030405060708090a0b0c0d0e0fedcb",
                "84a348a4a45d235babfffc0d2b4da09a",
            ),
            (
                "000102030405060708090a0b0c0d0e0f",
                "980ae87b5f4c9c5214f5b6a8455e4c2d",
            ),
            ("00010203040506070809", "290d9e112edb09ee141fcf64c0b72f3d"),
        ] {
            let k = cmac_prf_key(&h(key));
            assert_eq!(mac(MacAlg::AesCmac, &k[..], &msg), h(want), "key {key}");
        }
    }

    // RFC 2202 §2: HMAC-MD5 test cases 1, 2, 3 and 6.
    #[test]
    fn rfc2202_md5() {
        assert_eq!(
            mac(MacAlg::HmacMd5, &[0x0b; 16], b"Hi There"),
            h("9294727a3638bb1c13f48ef8158bfc9d")
        );
        assert_eq!(
            mac(MacAlg::HmacMd5, b"Jefe", b"what do ya want for nothing?"),
            h("750c783e6ab0b503eaa86e310a5db738")
        );
        assert_eq!(
            mac(MacAlg::HmacMd5, &[0xaa; 16], &[0xdd; 50]),
            h("56be34521d144c88dbb8c733f0e8b3f6")
        );
        assert_eq!(
            mac(
                MacAlg::HmacMd5,
                &[0xaa; 80],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            ),
            h("6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd")
        );
    }

    #[test]
    fn key_lengths() {
        assert!(MacKey::new(MacAlg::AesXcbc, &[0; 15]).is_err());
        assert!(MacKey::new(MacAlg::AesCmac, &[0; 32]).is_err());
        assert!(MacKey::new(MacAlg::HmacMd5, &[0; 100]).is_ok());
        let dbg = format!("{:?}", MacKey::new(MacAlg::AesCmac, &[7; 16]).unwrap());
        assert!(dbg.contains("redacted") && !dbg.contains('7'), "{dbg}");
    }
}
