//! Digital signatures for IKEv2 public-key authentication: the keys, the
//! signature schemes, and the AUTH payload encodings of RFC 7296 §3.8
//! (methods 1, 9, 10, 11) and RFC 7427 (method 14).
//!
//! ring signs and verifies wherever it can (RSA PKCS#1 v1.5 and PSS with
//! SHA-2 and 2048–4096-bit keys, ECDSA P-256/P-384, Ed25519). RustCrypto
//! does what ring cannot: ECDSA P-521 (`p521`), RSA PKCS#1 v1.5 with SHA-1
//! (classic AUTH method 1, RFC 7296 §3.8), RSA keys outside ring's sizes and
//! PSS with a salt length other than the hash length (`rsa`). Key files are
//! read with RustCrypto's DER crates (`pkcs1`, `sec1`, `pkcs8`, `spki`),
//! never by hand.
//!
//! Private keys live in types that zeroize on drop (ring's key pairs,
//! `rsa::RsaPrivateKey`, `p521::ecdsa::SigningKey`) and print
//! `[redacted]`.

use core::fmt;

use der::asn1::{AnyRef, ObjectIdentifier};
use der::{Decode, Encode};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use ring::rand::SystemRandom;
use ring::signature::{self as rsig, KeyPair};
use sha2::Digest;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef};
use zeroize::Zeroizing;

use crate::wire::AuthMethod;

/// Object identifiers used here (RFC 8017, RFC 5480, RFC 5758, RFC 8410).
pub mod oid {
    use der::asn1::ObjectIdentifier as O;
    /// rsaEncryption (RFC 8017 Appendix C).
    pub const RSA_ENCRYPTION: O = O::new_unwrap("1.2.840.113549.1.1.1");
    /// id-RSASSA-PSS (RFC 8017 Appendix C).
    pub const RSASSA_PSS: O = O::new_unwrap("1.2.840.113549.1.1.10");
    /// id-mgf1.
    pub const MGF1: O = O::new_unwrap("1.2.840.113549.1.1.8");
    /// sha1WithRSAEncryption.
    pub const SHA1_WITH_RSA: O = O::new_unwrap("1.2.840.113549.1.1.5");
    /// sha256WithRSAEncryption.
    pub const SHA256_WITH_RSA: O = O::new_unwrap("1.2.840.113549.1.1.11");
    /// sha384WithRSAEncryption.
    pub const SHA384_WITH_RSA: O = O::new_unwrap("1.2.840.113549.1.1.12");
    /// sha512WithRSAEncryption.
    pub const SHA512_WITH_RSA: O = O::new_unwrap("1.2.840.113549.1.1.13");
    /// id-ecPublicKey (RFC 5480 §2.1.1).
    pub const EC_PUBLIC_KEY: O = O::new_unwrap("1.2.840.10045.2.1");
    /// secp256r1.
    pub const SECP256R1: O = O::new_unwrap("1.2.840.10045.3.1.7");
    /// secp384r1.
    pub const SECP384R1: O = O::new_unwrap("1.3.132.0.34");
    /// secp521r1.
    pub const SECP521R1: O = O::new_unwrap("1.3.132.0.35");
    /// ecdsa-with-SHA1 (RFC 3279).
    pub const ECDSA_SHA1: O = O::new_unwrap("1.2.840.10045.4.1");
    /// ecdsa-with-SHA256 (RFC 5758 §3.2).
    pub const ECDSA_SHA256: O = O::new_unwrap("1.2.840.10045.4.3.2");
    /// ecdsa-with-SHA384.
    pub const ECDSA_SHA384: O = O::new_unwrap("1.2.840.10045.4.3.3");
    /// ecdsa-with-SHA512.
    pub const ECDSA_SHA512: O = O::new_unwrap("1.2.840.10045.4.3.4");
    /// id-Ed25519 (RFC 8410 §3).
    pub const ED25519: O = O::new_unwrap("1.3.101.112");
    /// id-Ed448 (RFC 8410 §3).
    pub const ED448: O = O::new_unwrap("1.3.101.113");
    /// id-sha1.
    pub const SHA1: O = O::new_unwrap("1.3.14.3.2.26");
    /// id-sha256.
    pub const SHA256: O = O::new_unwrap("2.16.840.1.101.3.4.2.1");
    /// id-sha384.
    pub const SHA384: O = O::new_unwrap("2.16.840.1.101.3.4.2.2");
    /// id-sha512.
    pub const SHA512: O = O::new_unwrap("2.16.840.1.101.3.4.2.3");
}

/// Errors of keys and signatures. Messages never carry key material.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SigError {
    /// The key or signature encoding could not be read.
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// What was being read.
        what: &'static str,
        /// Why it failed.
        detail: String,
    },
    /// A key type or algorithm vtid does not implement.
    #[error("unsupported {0}")]
    Unsupported(String),
    /// The key cannot make this kind of signature.
    #[error("a {key} key cannot sign with {scheme}")]
    WrongKey {
        /// The key's type.
        key: KeyType,
        /// The scheme asked for.
        scheme: SignatureScheme,
    },
    /// The private key file is encrypted and no (or a wrong) passphrase was
    /// given.
    #[error("the private key is encrypted and {0}")]
    Encrypted(&'static str),
    /// The crypto library refused to sign.
    #[error("signing failed")]
    SigningFailed,
}

fn malformed(what: &'static str, e: impl fmt::Display) -> SigError {
    SigError::Malformed {
        what,
        detail: e.to_string(),
    }
}

/// Key types (strongSwan's `key_type_t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// RSA.
    Rsa,
    /// ECDSA on NIST P-256.
    EcdsaP256,
    /// ECDSA on NIST P-384.
    EcdsaP384,
    /// ECDSA on NIST P-521.
    EcdsaP521,
    /// Ed25519 (RFC 8032).
    Ed25519,
    /// Ed448 (RFC 8032): recognised in certificates, not implemented.
    Ed448,
}

impl KeyType {
    /// strongSwan's name for the key type (`swanctl --list-certs`, `auth =`).
    pub fn name(self) -> &'static str {
        match self {
            KeyType::Rsa => "RSA",
            KeyType::EcdsaP256 | KeyType::EcdsaP384 | KeyType::EcdsaP521 => "ECDSA",
            KeyType::Ed25519 => "ED25519",
            KeyType::Ed448 => "ED448",
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyType::Rsa => "RSA",
            KeyType::EcdsaP256 => "ECDSA P-256",
            KeyType::EcdsaP384 => "ECDSA P-384",
            KeyType::EcdsaP521 => "ECDSA P-521",
            KeyType::Ed25519 => "Ed25519",
            KeyType::Ed448 => "Ed448",
        })
    }
}

/// Hash algorithms of the SIGNATURE_HASH_ALGORITHMS notify (RFC 7427 §4,
/// IANA "IKEv2 Hash Algorithms"; Identity from RFC 8420 §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HashAlgorithm(pub u16);

impl HashAlgorithm {
    /// SHA1 (1).
    pub const SHA1: HashAlgorithm = HashAlgorithm(1);
    /// SHA2-256 (2).
    pub const SHA2_256: HashAlgorithm = HashAlgorithm(2);
    /// SHA2-384 (3).
    pub const SHA2_384: HashAlgorithm = HashAlgorithm(3);
    /// SHA2-512 (4).
    pub const SHA2_512: HashAlgorithm = HashAlgorithm(4);
    /// Identity (5), for EdDSA (RFC 8420 §2).
    pub const IDENTITY: HashAlgorithm = HashAlgorithm(5);

    /// What vtid announces: every hash it can verify with (strongSwan sends
    /// the same list: SHA2-256, -384, -512 and Identity).
    pub const SUPPORTED: [HashAlgorithm; 4] = [
        HashAlgorithm::SHA2_256,
        HashAlgorithm::SHA2_384,
        HashAlgorithm::SHA2_512,
        HashAlgorithm::IDENTITY,
    ];

    /// The notify's data: 16-bit hash algorithm identifiers (RFC 7427 §4).
    pub fn encode_list(list: &[HashAlgorithm]) -> Vec<u8> {
        list.iter().flat_map(|h| h.0.to_be_bytes()).collect()
    }

    /// Parses the notify's data; an odd trailing byte is ignored.
    pub fn decode_list(data: &[u8]) -> Vec<HashAlgorithm> {
        data.chunks_exact(2)
            .map(|c| HashAlgorithm(u16::from_be_bytes([c[0], c[1]])))
            .collect()
    }

    /// strongSwan's name of the hash (`sha256`, ..., `identity`).
    pub fn name(self) -> &'static str {
        match self {
            HashAlgorithm::SHA1 => "sha1",
            HashAlgorithm::SHA2_256 => "sha256",
            HashAlgorithm::SHA2_384 => "sha384",
            HashAlgorithm::SHA2_512 => "sha512",
            HashAlgorithm::IDENTITY => "identity",
            _ => "unknown",
        }
    }
}

/// A signature scheme: key type, padding and hash, as strongSwan's
/// `signature_scheme_t`. RSA-PSS carries its salt length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignatureScheme {
    /// RSASSA-PKCS1-v1_5 with SHA-1 (AUTH method 1, RFC 7296 §3.8).
    RsaPkcs1Sha1,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RsaPkcs1Sha256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RsaPkcs1Sha384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RsaPkcs1Sha512,
    /// RSASSA-PSS with SHA-256 and MGF1-SHA-256 and this salt length.
    RsaPssSha256(u8),
    /// RSASSA-PSS with SHA-384.
    RsaPssSha384(u8),
    /// RSASSA-PSS with SHA-512.
    RsaPssSha512(u8),
    /// ECDSA with SHA-1 (certificates of old CAs only).
    EcdsaSha1,
    /// ECDSA with SHA-256.
    EcdsaSha256,
    /// ECDSA with SHA-384.
    EcdsaSha384,
    /// ECDSA with SHA-512.
    EcdsaSha512,
    /// Ed25519 (pure, RFC 8032).
    Ed25519,
    /// Ed448 (pure): recognised, not implemented.
    Ed448,
}

impl fmt::Display for SignatureScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignatureScheme::RsaPkcs1Sha1 => f.write_str("RSA_EMSA_PKCS1_SHA1"),
            SignatureScheme::RsaPkcs1Sha256 => f.write_str("RSA_EMSA_PKCS1_SHA2_256"),
            SignatureScheme::RsaPkcs1Sha384 => f.write_str("RSA_EMSA_PKCS1_SHA2_384"),
            SignatureScheme::RsaPkcs1Sha512 => f.write_str("RSA_EMSA_PKCS1_SHA2_512"),
            SignatureScheme::RsaPssSha256(s) => write!(f, "RSA_EMSA_PSS_SHA2_256(salt {s})"),
            SignatureScheme::RsaPssSha384(s) => write!(f, "RSA_EMSA_PSS_SHA2_384(salt {s})"),
            SignatureScheme::RsaPssSha512(s) => write!(f, "RSA_EMSA_PSS_SHA2_512(salt {s})"),
            SignatureScheme::EcdsaSha1 => f.write_str("ECDSA_WITH_SHA1_DER"),
            SignatureScheme::EcdsaSha256 => f.write_str("ECDSA_WITH_SHA256_DER"),
            SignatureScheme::EcdsaSha384 => f.write_str("ECDSA_WITH_SHA384_DER"),
            SignatureScheme::EcdsaSha512 => f.write_str("ECDSA_WITH_SHA512_DER"),
            SignatureScheme::Ed25519 => f.write_str("ED25519"),
            SignatureScheme::Ed448 => f.write_str("ED448"),
        }
    }
}

impl SignatureScheme {
    /// The RFC 7427 hash algorithm this scheme uses.
    pub fn hash(self) -> HashAlgorithm {
        match self {
            SignatureScheme::RsaPkcs1Sha1 | SignatureScheme::EcdsaSha1 => HashAlgorithm::SHA1,
            SignatureScheme::RsaPkcs1Sha256
            | SignatureScheme::RsaPssSha256(_)
            | SignatureScheme::EcdsaSha256 => HashAlgorithm::SHA2_256,
            SignatureScheme::RsaPkcs1Sha384
            | SignatureScheme::RsaPssSha384(_)
            | SignatureScheme::EcdsaSha384 => HashAlgorithm::SHA2_384,
            SignatureScheme::RsaPkcs1Sha512
            | SignatureScheme::RsaPssSha512(_)
            | SignatureScheme::EcdsaSha512 => HashAlgorithm::SHA2_512,
            SignatureScheme::Ed25519 | SignatureScheme::Ed448 => HashAlgorithm::IDENTITY,
        }
    }

    /// Whether this is an RSASSA-PSS scheme.
    pub fn is_pss(self) -> bool {
        matches!(
            self,
            SignatureScheme::RsaPssSha256(_)
                | SignatureScheme::RsaPssSha384(_)
                | SignatureScheme::RsaPssSha512(_)
        )
    }

    /// Whether a key of type `key` makes this kind of signature.
    pub fn fits(self, key: KeyType) -> bool {
        match self {
            SignatureScheme::RsaPkcs1Sha1
            | SignatureScheme::RsaPkcs1Sha256
            | SignatureScheme::RsaPkcs1Sha384
            | SignatureScheme::RsaPkcs1Sha512
            | SignatureScheme::RsaPssSha256(_)
            | SignatureScheme::RsaPssSha384(_)
            | SignatureScheme::RsaPssSha512(_) => key == KeyType::Rsa,
            SignatureScheme::EcdsaSha1
            | SignatureScheme::EcdsaSha256
            | SignatureScheme::EcdsaSha384
            | SignatureScheme::EcdsaSha512 => matches!(
                key,
                KeyType::EcdsaP256 | KeyType::EcdsaP384 | KeyType::EcdsaP521
            ),
            SignatureScheme::Ed25519 => key == KeyType::Ed25519,
            SignatureScheme::Ed448 => key == KeyType::Ed448,
        }
    }

    /// The DER AlgorithmIdentifier of the scheme (RFC 7427 §3 and
    /// Appendix A; RFC 8420 §2 for EdDSA): what method 14 puts before the
    /// signature value. PKCS#1 v1.5 carries a NULL parameter, ECDSA and
    /// EdDSA none, PSS its RSASSA-PSS-params (RFC 8017 Appendix A.2.3).
    pub fn algorithm_identifier(self) -> Vec<u8> {
        let pss = |hash: ObjectIdentifier, salt: u8| {
            let h = spki::AlgorithmIdentifierRef {
                oid: hash,
                parameters: Some(AnyRef::NULL),
            };
            let params = pkcs1::RsaPssParams {
                hash: h,
                mask_gen: spki::AlgorithmIdentifier {
                    oid: oid::MGF1,
                    parameters: Some(h),
                },
                salt_len: salt,
                trailer_field: pkcs1::TrailerField::BC,
            };
            // Encoding a well-formed value into a Vec cannot fail.
            let p = params.to_der().unwrap_or_default();
            encode_ai(oid::RSASSA_PSS, Some(&p))
        };
        match self {
            SignatureScheme::RsaPkcs1Sha1 => encode_ai(oid::SHA1_WITH_RSA, Some(&[5, 0])),
            SignatureScheme::RsaPkcs1Sha256 => encode_ai(oid::SHA256_WITH_RSA, Some(&[5, 0])),
            SignatureScheme::RsaPkcs1Sha384 => encode_ai(oid::SHA384_WITH_RSA, Some(&[5, 0])),
            SignatureScheme::RsaPkcs1Sha512 => encode_ai(oid::SHA512_WITH_RSA, Some(&[5, 0])),
            SignatureScheme::RsaPssSha256(s) => pss(oid::SHA256, s),
            SignatureScheme::RsaPssSha384(s) => pss(oid::SHA384, s),
            SignatureScheme::RsaPssSha512(s) => pss(oid::SHA512, s),
            SignatureScheme::EcdsaSha1 => encode_ai(oid::ECDSA_SHA1, None),
            SignatureScheme::EcdsaSha256 => encode_ai(oid::ECDSA_SHA256, None),
            SignatureScheme::EcdsaSha384 => encode_ai(oid::ECDSA_SHA384, None),
            SignatureScheme::EcdsaSha512 => encode_ai(oid::ECDSA_SHA512, None),
            SignatureScheme::Ed25519 => encode_ai(oid::ED25519, None),
            SignatureScheme::Ed448 => encode_ai(oid::ED448, None),
        }
    }

    /// Reads a DER AlgorithmIdentifier (of an RFC 7427 AUTH payload or of a
    /// certificate's or CRL's signature). Unknown algorithms, PSS with a MGF
    /// hash other than its hash, and trailing bytes are errors.
    pub fn from_algorithm_identifier(der: &[u8]) -> Result<SignatureScheme, SigError> {
        let ai = AlgorithmIdentifierOwned::from_der(der)
            .map_err(|e| malformed("AlgorithmIdentifier", e))?;
        Self::from_ai(&ai)
    }

    /// As [`SignatureScheme::from_algorithm_identifier`], from a parsed value.
    pub fn from_ai(ai: &AlgorithmIdentifierOwned) -> Result<SignatureScheme, SigError> {
        let o = ai.oid;
        Ok(if o == oid::SHA1_WITH_RSA {
            SignatureScheme::RsaPkcs1Sha1
        } else if o == oid::SHA256_WITH_RSA {
            SignatureScheme::RsaPkcs1Sha256
        } else if o == oid::SHA384_WITH_RSA {
            SignatureScheme::RsaPkcs1Sha384
        } else if o == oid::SHA512_WITH_RSA {
            SignatureScheme::RsaPkcs1Sha512
        } else if o == oid::ECDSA_SHA1 {
            SignatureScheme::EcdsaSha1
        } else if o == oid::ECDSA_SHA256 {
            SignatureScheme::EcdsaSha256
        } else if o == oid::ECDSA_SHA384 {
            SignatureScheme::EcdsaSha384
        } else if o == oid::ECDSA_SHA512 {
            SignatureScheme::EcdsaSha512
        } else if o == oid::ED25519 {
            SignatureScheme::Ed25519
        } else if o == oid::ED448 {
            SignatureScheme::Ed448
        } else if o == oid::RSASSA_PSS {
            let params = ai
                .parameters
                .as_ref()
                .ok_or_else(|| malformed("RSASSA-PSS parameters", "absent"))?;
            let bytes = params
                .to_der()
                .map_err(|e| malformed("RSASSA-PSS parameters", e))?;
            let p = pkcs1::RsaPssParams::from_der(&bytes)
                .map_err(|e| malformed("RSASSA-PSS parameters", e))?;
            let hash = p.hash.oid;
            let mgf_hash = p.mask_gen.parameters.map(|h| h.oid);
            if p.mask_gen.oid != oid::MGF1 || mgf_hash != Some(hash) {
                return Err(SigError::Unsupported(
                    "RSASSA-PSS with a mask generation function other than MGF1 with its own hash"
                        .into(),
                ));
            }
            let s = p.salt_len;
            if hash == oid::SHA256 {
                SignatureScheme::RsaPssSha256(s)
            } else if hash == oid::SHA384 {
                SignatureScheme::RsaPssSha384(s)
            } else if hash == oid::SHA512 {
                SignatureScheme::RsaPssSha512(s)
            } else {
                return Err(SigError::Unsupported(format!(
                    "RSASSA-PSS with hash {hash}"
                )));
            }
        } else {
            return Err(SigError::Unsupported(format!("signature algorithm {o}")));
        })
    }

    /// The classic AUTH method of this scheme (RFC 7296 §3.8), if it has one:
    /// RSA with SHA-1 is method 1; ECDSA is method 9, 10 or 11 when the hash
    /// matches the curve (RFC 4754 §3).
    pub fn classic_method(self, key: KeyType) -> Option<AuthMethod> {
        match (self, key) {
            (SignatureScheme::RsaPkcs1Sha1, KeyType::Rsa) => Some(AuthMethod::RSA_SIG),
            (SignatureScheme::EcdsaSha256, KeyType::EcdsaP256) => Some(AuthMethod::ECDSA_256),
            (SignatureScheme::EcdsaSha384, KeyType::EcdsaP384) => Some(AuthMethod::ECDSA_384),
            (SignatureScheme::EcdsaSha512, KeyType::EcdsaP521) => Some(AuthMethod::ECDSA_521),
            _ => None,
        }
    }
}

fn encode_ai(o: ObjectIdentifier, params_der: Option<&[u8]>) -> Vec<u8> {
    let parameters = params_der.and_then(|p| der::Any::from_der(p).ok());
    AlgorithmIdentifierOwned { oid: o, parameters }
        .to_der()
        .unwrap_or_default()
}

/// The length of a signature's ECDSA integers for a curve.
fn ec_field_len(key: KeyType) -> usize {
    match key {
        KeyType::EcdsaP256 => 32,
        KeyType::EcdsaP384 => 48,
        _ => 66,
    }
}

/// A public key (from a certificate, a `pubkeys` file or a private key).
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    ty: KeyType,
    /// SubjectPublicKeyInfo DER.
    spki: Vec<u8>,
    /// The subjectPublicKey bits: RSAPublicKey DER, the uncompressed EC
    /// point, or the raw EdDSA key.
    raw: Vec<u8>,
    /// RSA modulus size, EC field size, in bits.
    bits: usize,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({} {} bits)", self.ty, self.bits)
    }
}

impl PublicKey {
    /// Reads a SubjectPublicKeyInfo (RFC 5280 §4.1.2.7).
    pub fn from_spki_der(der: &[u8]) -> Result<PublicKey, SigError> {
        let spki = SubjectPublicKeyInfoRef::from_der(der)
            .map_err(|e| malformed("SubjectPublicKeyInfo", e))?;
        let raw = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| malformed("SubjectPublicKeyInfo", "unused bits in the key"))?
            .to_vec();
        let alg = spki.algorithm.oid;
        let (ty, bits) = if alg == oid::RSA_ENCRYPTION {
            let k = pkcs1::RsaPublicKey::from_der(&raw).map_err(|e| malformed("RSA key", e))?;
            let n = k.modulus.as_bytes();
            let bits = n.len() * 8 - n.first().map_or(8, |b| b.leading_zeros() as usize);
            (KeyType::Rsa, bits)
        } else if alg == oid::EC_PUBLIC_KEY {
            let curve: ObjectIdentifier = spki
                .algorithm
                .parameters
                .ok_or_else(|| malformed("EC key", "no curve"))?
                .decode_as()
                .map_err(|e| malformed("EC key curve", e))?;
            let (ty, bits) = if curve == oid::SECP256R1 {
                (KeyType::EcdsaP256, 256)
            } else if curve == oid::SECP384R1 {
                (KeyType::EcdsaP384, 384)
            } else if curve == oid::SECP521R1 {
                (KeyType::EcdsaP521, 521)
            } else {
                return Err(SigError::Unsupported(format!("elliptic curve {curve}")));
            };
            let want = 1 + 2 * ec_field_len(ty);
            if raw.len() != want || raw.first() != Some(&4) {
                return Err(malformed(
                    "EC key",
                    "not an uncompressed point of the curve's size",
                ));
            }
            (ty, bits)
        } else if alg == oid::ED25519 {
            if raw.len() != 32 {
                return Err(malformed("Ed25519 key", "not 32 bytes"));
            }
            (KeyType::Ed25519, 256)
        } else if alg == oid::ED448 {
            if raw.len() != 57 {
                return Err(malformed("Ed448 key", "not 57 bytes"));
            }
            (KeyType::Ed448, 456)
        } else {
            return Err(SigError::Unsupported(format!("public key algorithm {alg}")));
        };
        Ok(PublicKey {
            ty,
            spki: der.to_vec(),
            raw,
            bits,
        })
    }

    /// Reads a public key file: PEM (`PUBLIC KEY`, `RSA PUBLIC KEY`) or DER
    /// (SubjectPublicKeyInfo or PKCS#1 RSAPublicKey).
    pub fn from_file_bytes(data: &[u8]) -> Result<PublicKey, SigError> {
        let (label, der) = match pem_decode(data) {
            Some(r) => r?,
            None => (String::new(), Zeroizing::new(data.to_vec())),
        };
        match label.as_str() {
            "PUBLIC KEY" => PublicKey::from_spki_der(&der),
            "RSA PUBLIC KEY" => PublicKey::from_rsa_public_key_der(&der),
            "" => {
                PublicKey::from_spki_der(&der).or_else(|_| PublicKey::from_rsa_public_key_der(&der))
            }
            other => Err(SigError::Unsupported(format!(
                "PEM block '{other}' as a public key"
            ))),
        }
    }

    fn from_rsa_public_key_der(der: &[u8]) -> Result<PublicKey, SigError> {
        pkcs1::RsaPublicKey::from_der(der).map_err(|e| malformed("RSA public key", e))?;
        let spki = SubjectPublicKeyInfoOwned {
            algorithm: AlgorithmIdentifierOwned {
                oid: oid::RSA_ENCRYPTION,
                parameters: Some(der::Any::null()),
            },
            subject_public_key: der::asn1::BitString::from_bytes(der)
                .map_err(|e| malformed("RSA public key", e))?,
        };
        let d = spki.to_der().map_err(|e| malformed("RSA public key", e))?;
        PublicKey::from_spki_der(&d)
    }

    /// The key type.
    pub fn key_type(&self) -> KeyType {
        self.ty
    }

    /// The key size in bits (RSA modulus, EC field).
    pub fn bits(&self) -> usize {
        self.bits
    }

    /// The SubjectPublicKeyInfo DER.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki
    }

    /// SHA-1 of the SubjectPublicKeyInfo: the IKEv2 CERTREQ Certification
    /// Authority value (RFC 7296 §3.7) and strongSwan's `keyid`.
    pub fn spki_sha1(&self) -> [u8; 20] {
        sha1::Sha1::digest(&self.spki).into()
    }

    /// SHA-1 of the subjectPublicKey bits (RFC 5280 §4.2.1.2 method 1):
    /// what subjectKeyIdentifier usually holds.
    pub fn key_id(&self) -> [u8; 20] {
        sha1::Sha1::digest(&self.raw).into()
    }

    /// Verifies `sig` over `data` with `scheme`. Any error (wrong key type,
    /// malformed signature, mismatch) is `false`.
    pub fn verify(&self, scheme: SignatureScheme, data: &[u8], sig: &[u8]) -> bool {
        if !scheme.fits(self.ty) {
            return false;
        }
        match self.ty {
            KeyType::Rsa => self.verify_rsa(scheme, data, sig),
            KeyType::EcdsaP256 | KeyType::EcdsaP384 => {
                let alg: &dyn rsig::VerificationAlgorithm = match (self.ty, scheme) {
                    (KeyType::EcdsaP256, SignatureScheme::EcdsaSha256) => {
                        &rsig::ECDSA_P256_SHA256_ASN1
                    }
                    (KeyType::EcdsaP256, SignatureScheme::EcdsaSha384) => {
                        &rsig::ECDSA_P256_SHA384_ASN1
                    }
                    (KeyType::EcdsaP384, SignatureScheme::EcdsaSha256) => {
                        &rsig::ECDSA_P384_SHA256_ASN1
                    }
                    (KeyType::EcdsaP384, SignatureScheme::EcdsaSha384) => {
                        &rsig::ECDSA_P384_SHA384_ASN1
                    }
                    _ => return false,
                };
                rsig::UnparsedPublicKey::new(alg, &self.raw)
                    .verify(data, sig)
                    .is_ok()
            }
            KeyType::EcdsaP521 => {
                use p521::ecdsa::signature::hazmat::PrehashVerifier;
                let Ok(vk) = p521::ecdsa::VerifyingKey::from_sec1_bytes(&self.raw) else {
                    return false;
                };
                let Ok(s) = p521::ecdsa::Signature::from_der(sig) else {
                    return false;
                };
                let Some(h) = digest(scheme.hash(), data) else {
                    return false;
                };
                vk.verify_prehash(&h, &s).is_ok()
            }
            KeyType::Ed25519 => rsig::UnparsedPublicKey::new(&rsig::ED25519, &self.raw)
                .verify(data, sig)
                .is_ok(),
            KeyType::Ed448 => false,
        }
    }

    fn verify_rsa(&self, scheme: SignatureScheme, data: &[u8], sig: &[u8]) -> bool {
        let ring_alg: Option<&'static rsig::RsaParameters> = match scheme {
            SignatureScheme::RsaPkcs1Sha256 => Some(&rsig::RSA_PKCS1_2048_8192_SHA256),
            SignatureScheme::RsaPkcs1Sha384 => Some(&rsig::RSA_PKCS1_2048_8192_SHA384),
            SignatureScheme::RsaPkcs1Sha512 => Some(&rsig::RSA_PKCS1_2048_8192_SHA512),
            SignatureScheme::RsaPkcs1Sha1 => {
                Some(&rsig::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY)
            }
            SignatureScheme::RsaPssSha256(32) => Some(&rsig::RSA_PSS_2048_8192_SHA256),
            SignatureScheme::RsaPssSha384(48) => Some(&rsig::RSA_PSS_2048_8192_SHA384),
            SignatureScheme::RsaPssSha512(64) => Some(&rsig::RSA_PSS_2048_8192_SHA512),
            _ => None,
        };
        if let Some(alg) = ring_alg {
            if (2048..=8192).contains(&self.bits) {
                return rsig::UnparsedPublicKey::new(alg, &self.raw)
                    .verify(data, sig)
                    .is_ok();
            }
        }
        // Keys ring refuses (under 2048 bits) and other PSS salt lengths.
        use rsa::pkcs1::DecodeRsaPublicKey;
        let Ok(k) = rsa::RsaPublicKey::from_pkcs1_der(&self.raw) else {
            return false;
        };
        let Some(h) = digest(scheme.hash(), data) else {
            return false;
        };
        let r = match scheme {
            SignatureScheme::RsaPkcs1Sha1 => {
                k.verify(rsa::Pkcs1v15Sign::new::<sha1::Sha1>(), &h, sig)
            }
            SignatureScheme::RsaPkcs1Sha256 => {
                k.verify(rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), &h, sig)
            }
            SignatureScheme::RsaPkcs1Sha384 => {
                k.verify(rsa::Pkcs1v15Sign::new::<sha2::Sha384>(), &h, sig)
            }
            SignatureScheme::RsaPkcs1Sha512 => {
                k.verify(rsa::Pkcs1v15Sign::new::<sha2::Sha512>(), &h, sig)
            }
            SignatureScheme::RsaPssSha256(s) => {
                k.verify(rsa::Pss::new_with_salt::<sha2::Sha256>(s.into()), &h, sig)
            }
            SignatureScheme::RsaPssSha384(s) => {
                k.verify(rsa::Pss::new_with_salt::<sha2::Sha384>(s.into()), &h, sig)
            }
            SignatureScheme::RsaPssSha512(s) => {
                k.verify(rsa::Pss::new_with_salt::<sha2::Sha512>(s.into()), &h, sig)
            }
            _ => return false,
        };
        r.is_ok()
    }
}

fn digest(h: HashAlgorithm, data: &[u8]) -> Option<Vec<u8>> {
    Some(match h {
        HashAlgorithm::SHA1 => sha1::Sha1::digest(data).to_vec(),
        HashAlgorithm::SHA2_256 => sha2::Sha256::digest(data).to_vec(),
        HashAlgorithm::SHA2_384 => sha2::Sha384::digest(data).to_vec(),
        HashAlgorithm::SHA2_512 => sha2::Sha512::digest(data).to_vec(),
        _ => return None,
    })
}

enum Inner {
    Rsa {
        ring: Option<Box<rsig::RsaKeyPair>>,
        key: Box<rsa::RsaPrivateKey>,
    },
    /// ring ECDSA key pairs bind the signature encoding: one for DER (RFC
    /// 7427) and one for r||s (RFC 4754, methods 9/10).
    Ec {
        der: Box<rsig::EcdsaKeyPair>,
        fixed: Box<rsig::EcdsaKeyPair>,
    },
    P521(Box<p521::ecdsa::SigningKey>),
    Ed25519(Box<rsig::Ed25519KeyPair>),
}

/// A private key. Zeroized on drop (by the crates holding it); `Debug`
/// prints only its type and size.
pub struct PrivateKey {
    inner: Inner,
    public: PublicKey,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PrivateKey({} {} bits, [redacted])",
            self.public.ty, self.public.bits
        )
    }
}

/// Decodes the first PEM block of `data`, if `data` is PEM at all.
/// A PEM block's label and its DER contents.
type PemBlock = (String, Zeroizing<Vec<u8>>);

fn pem_decode(data: &[u8]) -> Option<Result<PemBlock, SigError>> {
    let text = std::str::from_utf8(data).ok()?;
    let start = text.find("-----BEGIN ")?;
    let block = &text[start..];
    if block.contains("Proc-Type: 4,ENCRYPTED") {
        return Some(Err(SigError::Unsupported(
            "legacy OpenSSL-encrypted PEM (Proc-Type: 4,ENCRYPTED); convert it to encrypted PKCS#8"
                .into(),
        )));
    }
    Some(
        der::pem::decode_vec(block.as_bytes())
            .map(|(l, d)| (l.to_string(), Zeroizing::new(d)))
            .map_err(|e| malformed("PEM", e)),
    )
}

impl PrivateKey {
    /// Reads a private key file as swanctl does: PEM or DER; PKCS#1
    /// (`RSA PRIVATE KEY`), SEC1 (`EC PRIVATE KEY`), PKCS#8 (`PRIVATE KEY`)
    /// or encrypted PKCS#8 (`ENCRYPTED PRIVATE KEY`, decrypted with one of
    /// `passphrases`, tried in turn).
    pub fn from_file_bytes(data: &[u8], passphrases: &[&[u8]]) -> Result<PrivateKey, SigError> {
        let (label, der) = match pem_decode(data) {
            Some(r) => r?,
            None => (String::new(), Zeroizing::new(data.to_vec())),
        };
        match label.as_str() {
            "RSA PRIVATE KEY" => PrivateKey::from_pkcs1_der(&der),
            "EC PRIVATE KEY" => PrivateKey::from_sec1_der(&der, None),
            "PRIVATE KEY" => PrivateKey::from_pkcs8_der(&der),
            "ENCRYPTED PRIVATE KEY" => PrivateKey::from_encrypted_pkcs8_der(&der, passphrases),
            "" => PrivateKey::from_pkcs8_der(&der)
                .or_else(|_| PrivateKey::from_pkcs1_der(&der))
                .or_else(|_| PrivateKey::from_sec1_der(&der, None))
                .or_else(|e| {
                    if pkcs8::EncryptedPrivateKeyInfo::from_der(&der).is_ok() {
                        PrivateKey::from_encrypted_pkcs8_der(&der, passphrases)
                    } else {
                        Err(e)
                    }
                }),
            other => Err(SigError::Unsupported(format!(
                "PEM block '{other}' as a private key"
            ))),
        }
    }

    /// Reads an encrypted PKCS#8 key (RFC 5958 §3, PBES2 of RFC 8018).
    pub fn from_encrypted_pkcs8_der(
        der: &[u8],
        passphrases: &[&[u8]],
    ) -> Result<PrivateKey, SigError> {
        let enc = pkcs8::EncryptedPrivateKeyInfo::from_der(der)
            .map_err(|e| malformed("encrypted PKCS#8", e))?;
        if passphrases.is_empty() {
            return Err(SigError::Encrypted(
                "no passphrase is configured (secrets { private-NAME { file, secret } })",
            ));
        }
        for p in passphrases {
            if let Ok(doc) = enc.decrypt(p) {
                return PrivateKey::from_pkcs8_der(doc.as_bytes());
            }
        }
        Err(SigError::Encrypted("no configured passphrase decrypts it"))
    }

    /// Reads a PKCS#8 PrivateKeyInfo (RFC 5208 §5, RFC 5958).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<PrivateKey, SigError> {
        let info = pkcs8::PrivateKeyInfo::from_der(der).map_err(|e| malformed("PKCS#8", e))?;
        let alg = info.algorithm.oid;
        if alg == oid::RSA_ENCRYPTION {
            PrivateKey::from_pkcs1_der(info.private_key)
        } else if alg == oid::EC_PUBLIC_KEY {
            let curve: ObjectIdentifier = info
                .algorithm
                .parameters
                .ok_or_else(|| malformed("PKCS#8 EC key", "no curve"))?
                .decode_as()
                .map_err(|e| malformed("PKCS#8 EC key curve", e))?;
            PrivateKey::from_sec1_der(info.private_key, Some(curve))
        } else if alg == oid::ED25519 {
            // CurvePrivateKey ::= OCTET STRING (RFC 8410 §7).
            let seed = Zeroizing::new(
                der::asn1::OctetString::from_der(info.private_key)
                    .map_err(|e| malformed("Ed25519 key", e))?
                    .into_bytes(),
            );
            let kp = rsig::Ed25519KeyPair::from_seed_unchecked(&seed)
                .map_err(|e| malformed("Ed25519 key", e))?;
            let public = public_from_parts(oid::ED25519, None, kp.public_key().as_ref())?;
            Ok(PrivateKey {
                inner: Inner::Ed25519(Box::new(kp)),
                public,
            })
        } else if alg == oid::ED448 {
            Err(SigError::Unsupported(
                "Ed448 private keys (no maintained Ed448 implementation is used by vtid)".into(),
            ))
        } else {
            Err(SigError::Unsupported(format!(
                "private key algorithm {alg}"
            )))
        }
    }

    /// Reads a PKCS#1 RSAPrivateKey (RFC 8017 Appendix A.1.2).
    pub fn from_pkcs1_der(der: &[u8]) -> Result<PrivateKey, SigError> {
        use rsa::pkcs1::DecodeRsaPrivateKey;
        use rsa::traits::PublicKeyParts;
        let key = rsa::RsaPrivateKey::from_pkcs1_der(der).map_err(|e| malformed("RSA key", e))?;
        key.validate().map_err(|e| malformed("RSA key", e))?;
        let n = key.n().to_bytes_be();
        let e = key.e().to_bytes_be();
        let pk = pkcs1::RsaPublicKey {
            modulus: pkcs1::UintRef::new(&n).map_err(|e| malformed("RSA key", e))?,
            public_exponent: pkcs1::UintRef::new(&e).map_err(|e| malformed("RSA key", e))?,
        };
        let pk_der = pk.to_der().map_err(|e| malformed("RSA key", e))?;
        let public = public_from_parts(oid::RSA_ENCRYPTION, Some(der::Any::null()), &pk_der)?;
        // ring takes 2048..4096-bit keys; the rest is signed by `rsa`.
        let ring = rsig::RsaKeyPair::from_der(der).ok().map(Box::new);
        Ok(PrivateKey {
            inner: Inner::Rsa {
                ring,
                key: Box::new(key),
            },
            public,
        })
    }

    /// Reads a SEC1 ECPrivateKey (RFC 5915 §3); `curve` comes from a PKCS#8
    /// wrapper when the inner structure omits it.
    pub fn from_sec1_der(
        der: &[u8],
        curve: Option<ObjectIdentifier>,
    ) -> Result<PrivateKey, SigError> {
        let k = sec1::EcPrivateKey::from_der(der).map_err(|e| malformed("EC key", e))?;
        let curve = k
            .parameters
            .and_then(|p| p.named_curve())
            .or(curve)
            .ok_or_else(|| malformed("EC key", "no named curve"))?;
        let d = Zeroizing::new(k.private_key.to_vec());
        let rng = SystemRandom::new();
        let ring_pair = |asn1: &'static rsig::EcdsaSigningAlgorithm,
                         fixed: &'static rsig::EcdsaSigningAlgorithm,
                         public: &[u8]|
         -> Result<Inner, SigError> {
            let der = rsig::EcdsaKeyPair::from_private_key_and_public_key(asn1, &d, public, &rng)
                .map_err(|e| malformed("EC key", e))?;
            let fixed =
                rsig::EcdsaKeyPair::from_private_key_and_public_key(fixed, &d, public, &rng)
                    .map_err(|e| malformed("EC key", e))?;
            Ok(Inner::Ec {
                der: Box::new(der),
                fixed: Box::new(fixed),
            })
        };
        let curve_param = der::Any::encode_from(&curve).map_err(|e| malformed("EC key", e))?;
        if curve == oid::SECP256R1 {
            let sk = p256::SecretKey::from_slice(&d).map_err(|e| malformed("EC key", e))?;
            let pubkey = sk.public_key().to_encoded_point(false);
            let inner = ring_pair(
                &rsig::ECDSA_P256_SHA256_ASN1_SIGNING,
                &rsig::ECDSA_P256_SHA256_FIXED_SIGNING,
                pubkey.as_bytes(),
            )?;
            let public =
                public_from_parts(oid::EC_PUBLIC_KEY, Some(curve_param), pubkey.as_bytes())?;
            Ok(PrivateKey { inner, public })
        } else if curve == oid::SECP384R1 {
            let sk = p384::SecretKey::from_slice(&d).map_err(|e| malformed("EC key", e))?;
            let pubkey = sk.public_key().to_encoded_point(false);
            let inner = ring_pair(
                &rsig::ECDSA_P384_SHA384_ASN1_SIGNING,
                &rsig::ECDSA_P384_SHA384_FIXED_SIGNING,
                pubkey.as_bytes(),
            )?;
            let public =
                public_from_parts(oid::EC_PUBLIC_KEY, Some(curve_param), pubkey.as_bytes())?;
            Ok(PrivateKey { inner, public })
        } else if curve == oid::SECP521R1 {
            let sk = p521::ecdsa::SigningKey::from_slice(&d).map_err(|e| malformed("EC key", e))?;
            let vk = p521::ecdsa::VerifyingKey::from(&sk);
            let point = vk.to_encoded_point(false);
            let public =
                public_from_parts(oid::EC_PUBLIC_KEY, Some(curve_param), point.as_bytes())?;
            Ok(PrivateKey {
                inner: Inner::P521(Box::new(sk)),
                public,
            })
        } else {
            Err(SigError::Unsupported(format!("elliptic curve {curve}")))
        }
    }

    /// The public half.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The key type.
    pub fn key_type(&self) -> KeyType {
        self.public.ty
    }

    /// Signs `data`. ECDSA signatures are DER (ECDSA-Sig-Value, as RFC 7427
    /// and X.509 use); [`PrivateKey::sign_classic`] makes the r||s form of
    /// RFC 4754.
    pub fn sign(&self, scheme: SignatureScheme, data: &[u8]) -> Result<Vec<u8>, SigError> {
        if !scheme.fits(self.public.ty) {
            return Err(SigError::WrongKey {
                key: self.public.ty,
                scheme,
            });
        }
        let rng = SystemRandom::new();
        match &self.inner {
            Inner::Rsa { ring, key } => {
                let ring_enc: Option<&'static dyn rsig::RsaEncoding> = match scheme {
                    SignatureScheme::RsaPkcs1Sha256 => Some(&rsig::RSA_PKCS1_SHA256),
                    SignatureScheme::RsaPkcs1Sha384 => Some(&rsig::RSA_PKCS1_SHA384),
                    SignatureScheme::RsaPkcs1Sha512 => Some(&rsig::RSA_PKCS1_SHA512),
                    SignatureScheme::RsaPssSha256(32) => Some(&rsig::RSA_PSS_SHA256),
                    SignatureScheme::RsaPssSha384(48) => Some(&rsig::RSA_PSS_SHA384),
                    SignatureScheme::RsaPssSha512(64) => Some(&rsig::RSA_PSS_SHA512),
                    _ => None,
                };
                if let (Some(kp), Some(enc)) = (ring, ring_enc) {
                    let mut sig = vec![0; kp.public().modulus_len()];
                    kp.sign(enc, &rng, data, &mut sig)
                        .map_err(|_| SigError::SigningFailed)?;
                    return Ok(sig);
                }
                let h = digest(scheme.hash(), data).ok_or(SigError::SigningFailed)?;
                let mut os = rand_core::OsRng;
                let r = match scheme {
                    SignatureScheme::RsaPkcs1Sha1 => {
                        key.sign_with_rng(&mut os, rsa::Pkcs1v15Sign::new::<sha1::Sha1>(), &h)
                    }
                    SignatureScheme::RsaPkcs1Sha256 => {
                        key.sign_with_rng(&mut os, rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), &h)
                    }
                    SignatureScheme::RsaPkcs1Sha384 => {
                        key.sign_with_rng(&mut os, rsa::Pkcs1v15Sign::new::<sha2::Sha384>(), &h)
                    }
                    SignatureScheme::RsaPkcs1Sha512 => {
                        key.sign_with_rng(&mut os, rsa::Pkcs1v15Sign::new::<sha2::Sha512>(), &h)
                    }
                    SignatureScheme::RsaPssSha256(s) => key.sign_with_rng(
                        &mut os,
                        rsa::Pss::new_with_salt::<sha2::Sha256>(s.into()),
                        &h,
                    ),
                    SignatureScheme::RsaPssSha384(s) => key.sign_with_rng(
                        &mut os,
                        rsa::Pss::new_with_salt::<sha2::Sha384>(s.into()),
                        &h,
                    ),
                    SignatureScheme::RsaPssSha512(s) => key.sign_with_rng(
                        &mut os,
                        rsa::Pss::new_with_salt::<sha2::Sha512>(s.into()),
                        &h,
                    ),
                    _ => return Err(SigError::SigningFailed),
                };
                r.map_err(|_| SigError::SigningFailed)
            }
            Inner::Ec { der, .. } => {
                let native = matches!(
                    (self.public.ty, scheme),
                    (KeyType::EcdsaP256, SignatureScheme::EcdsaSha256)
                        | (KeyType::EcdsaP384, SignatureScheme::EcdsaSha384)
                );
                if !native {
                    return Err(SigError::Unsupported(format!(
                        "{scheme} with a {} key",
                        self.public.ty
                    )));
                }
                der.sign(&rng, data)
                    .map(|s| s.as_ref().to_vec())
                    .map_err(|_| SigError::SigningFailed)
            }
            Inner::P521(sk) => {
                use p521::ecdsa::signature::hazmat::PrehashSigner;
                let h = digest(scheme.hash(), data).ok_or(SigError::SigningFailed)?;
                let s: p521::ecdsa::Signature =
                    sk.sign_prehash(&h).map_err(|_| SigError::SigningFailed)?;
                Ok(s.to_der().as_bytes().to_vec())
            }
            Inner::Ed25519(kp) => Ok(kp.sign(data).as_ref().to_vec()),
        }
    }

    /// Signs for a classic AUTH method (RFC 7296 §3.8): RSA PKCS#1 v1.5
    /// with SHA-1 (method 1), or ECDSA with the curve's hash and the r||s
    /// encoding of RFC 4754 §7 (methods 9, 10, 11).
    pub fn sign_classic(&self, data: &[u8]) -> Result<(AuthMethod, Vec<u8>), SigError> {
        let rng = SystemRandom::new();
        match (&self.inner, self.public.ty) {
            (Inner::Rsa { .. }, _) => Ok((
                AuthMethod::RSA_SIG,
                self.sign(SignatureScheme::RsaPkcs1Sha1, data)?,
            )),
            (Inner::Ec { fixed, .. }, ty) => {
                let m = if ty == KeyType::EcdsaP256 {
                    AuthMethod::ECDSA_256
                } else {
                    AuthMethod::ECDSA_384
                };
                let s = fixed
                    .sign(&rng, data)
                    .map_err(|_| SigError::SigningFailed)?;
                Ok((m, s.as_ref().to_vec()))
            }
            (Inner::P521(sk), _) => {
                use p521::ecdsa::signature::hazmat::PrehashSigner;
                let h = sha2::Sha512::digest(data);
                let s: p521::ecdsa::Signature =
                    sk.sign_prehash(&h).map_err(|_| SigError::SigningFailed)?;
                Ok((AuthMethod::ECDSA_521, s.to_bytes().to_vec()))
            }
            (Inner::Ed25519(_), _) => Err(SigError::Unsupported(
                "Ed25519 has no classic AUTH method; it needs RFC 7427 (method 14)".into(),
            )),
        }
    }
}

fn public_from_parts(
    alg: ObjectIdentifier,
    params: Option<der::Any>,
    raw: &[u8],
) -> Result<PublicKey, SigError> {
    let spki = SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned {
            oid: alg,
            parameters: params,
        },
        subject_public_key: der::asn1::BitString::from_bytes(raw)
            .map_err(|e| malformed("public key", e))?,
    };
    let d = spki.to_der().map_err(|e| malformed("public key", e))?;
    PublicKey::from_spki_der(&d)
}

/// Verifies a classic signature AUTH value (RFC 7296 §3.8: methods 1, 9,
/// 10, 11). ECDSA values are r||s of the curve's size (RFC 4754 §7) and use
/// the curve's hash; method 1 is PKCS#1 v1.5 with SHA-1.
pub fn verify_classic(key: &PublicKey, method: AuthMethod, data: &[u8], sig: &[u8]) -> bool {
    match (method, key.ty) {
        (AuthMethod::RSA_SIG, KeyType::Rsa) => key.verify(SignatureScheme::RsaPkcs1Sha1, data, sig),
        (AuthMethod::ECDSA_256, KeyType::EcdsaP256) => {
            rsig::UnparsedPublicKey::new(&rsig::ECDSA_P256_SHA256_FIXED, &key.raw)
                .verify(data, sig)
                .is_ok()
        }
        (AuthMethod::ECDSA_384, KeyType::EcdsaP384) => {
            rsig::UnparsedPublicKey::new(&rsig::ECDSA_P384_SHA384_FIXED, &key.raw)
                .verify(data, sig)
                .is_ok()
        }
        (AuthMethod::ECDSA_521, KeyType::EcdsaP521) => {
            use p521::ecdsa::signature::hazmat::PrehashVerifier;
            let Ok(vk) = p521::ecdsa::VerifyingKey::from_sec1_bytes(&key.raw) else {
                return false;
            };
            let Ok(s) = p521::ecdsa::Signature::from_slice(sig) else {
                return false;
            };
            vk.verify_prehash(&sha2::Sha512::digest(data), &s).is_ok()
        }
        _ => false,
    }
}

/// The AUTH data of method 14 (RFC 7427 §3): the length of the
/// AlgorithmIdentifier (one octet), the AlgorithmIdentifier, the signature.
pub fn encode_digital_signature(scheme: SignatureScheme, sig: &[u8]) -> Vec<u8> {
    let ai = scheme.algorithm_identifier();
    let mut out = Vec::with_capacity(1 + ai.len() + sig.len());
    // Every AlgorithmIdentifier we emit is shorter than 256 octets.
    out.push(u8::try_from(ai.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(&ai);
    out.extend_from_slice(sig);
    out
}

/// Splits the AUTH data of method 14 (RFC 7427 §3) into the scheme and the
/// signature value.
pub fn decode_digital_signature(data: &[u8]) -> Result<(SignatureScheme, &[u8]), SigError> {
    let (&len, rest) = data
        .split_first()
        .ok_or_else(|| malformed("Digital Signature AUTH data", "empty"))?;
    let len = usize::from(len);
    if len == 0 || rest.len() < len {
        return Err(malformed(
            "Digital Signature AUTH data",
            "the ASN.1 length exceeds the payload",
        ));
    }
    let (ai, sig) = rest.split_at(len);
    Ok((SignatureScheme::from_algorithm_identifier(ai)?, sig))
}

#[cfg(test)]
mod tests;
