//! ESP transforms: which cipher, which integrity algorithm, and the sizes
//! they put on the wire.
#![forbid(unsafe_code)]

use super::ConfigError;

/// ESP encryption transform (IKEv2 Transform Type 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encryption {
    /// AES-GCM with a 16-octet ICV and a 128-bit key (RFC 4106, ENCR 20).
    AesGcm16_128,
    /// AES-GCM with a 16-octet ICV and a 256-bit key (RFC 4106, ENCR 20).
    AesGcm16_256,
    /// ChaCha20-Poly1305 (RFC 7634, ENCR 28).
    ChaCha20Poly1305,
    /// AES-CBC with a 128-bit key (RFC 3602, ENCR 12).
    AesCbc128,
    /// AES-CBC with a 192-bit key (RFC 3602, ENCR 12).
    AesCbc192,
    /// AES-CBC with a 256-bit key (RFC 3602, ENCR 12).
    AesCbc256,
}

impl Encryption {
    /// True for combined-mode (AEAD) transforms, which take no integrity
    /// transform.
    pub const fn is_aead(self) -> bool {
        matches!(
            self,
            Self::AesGcm16_128 | Self::AesGcm16_256 | Self::ChaCha20Poly1305
        )
    }

    /// Bytes of keying material taken from KEYMAT (RFC 7296 §2.17): for the
    /// AEADs this includes the 4-byte salt at the end (RFC 4106 §8.1,
    /// RFC 7634 §2).
    pub const fn key_len(self) -> usize {
        match self {
            Self::AesGcm16_128 => 16 + 4,
            Self::AesGcm16_256 | Self::ChaCha20Poly1305 => 32 + 4,
            Self::AesCbc128 => 16,
            Self::AesCbc192 => 24,
            Self::AesCbc256 => 32,
        }
    }

    /// Length of the explicit IV carried in every packet.
    pub const fn iv_len(self) -> usize {
        if self.is_aead() {
            8
        } else {
            16
        }
    }

    /// The payload (inner packet + padding + 2 trailer bytes) is padded to a
    /// multiple of this: the cipher block for CBC, 4 bytes (RFC 4303 §2.4)
    /// for the stream-like AEADs.
    pub const fn align(self) -> usize {
        if self.is_aead() {
            4
        } else {
            16
        }
    }

    /// IKEv2 transform ID (IANA "Transform Type 1").
    pub const fn ikev2_id(self) -> u16 {
        match self {
            Self::AesGcm16_128 | Self::AesGcm16_256 => 20,
            Self::ChaCha20Poly1305 => 28,
            Self::AesCbc128 | Self::AesCbc192 | Self::AesCbc256 => 12,
        }
    }
}

/// ESP integrity transform (IKEv2 Transform Type 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Integrity {
    /// HMAC-SHA1-96 (RFC 2404, AUTH 2).
    HmacSha1_96,
    /// HMAC-SHA-256-128 (RFC 4868, AUTH 12).
    HmacSha256_128,
    /// HMAC-SHA-384-192 (RFC 4868, AUTH 13).
    HmacSha384_192,
    /// HMAC-SHA-512-256 (RFC 4868, AUTH 14).
    HmacSha512_256,
}

impl Integrity {
    /// Key length (RFC 2404 §3, RFC 4868 §2.1.1: the hash output size).
    pub const fn key_len(self) -> usize {
        match self {
            Self::HmacSha1_96 => 20,
            Self::HmacSha256_128 => 32,
            Self::HmacSha384_192 => 48,
            Self::HmacSha512_256 => 64,
        }
    }

    /// Truncated ICV length on the wire.
    pub const fn icv_len(self) -> usize {
        match self {
            Self::HmacSha1_96 => 12,
            Self::HmacSha256_128 => 16,
            Self::HmacSha384_192 => 24,
            Self::HmacSha512_256 => 32,
        }
    }

    /// IKEv2 transform ID (IANA "Transform Type 3").
    pub const fn ikev2_id(self) -> u16 {
        match self {
            Self::HmacSha1_96 => 2,
            Self::HmacSha256_128 => 12,
            Self::HmacSha384_192 => 13,
            Self::HmacSha512_256 => 14,
        }
    }
}

/// A valid ESP transform combination: an AEAD alone, or AES-CBC with an
/// HMAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Suite {
    encryption: Encryption,
    integrity: Option<Integrity>,
}

impl Suite {
    /// AES-GCM-16 with a 128-bit key.
    pub const AES_GCM_16_128: Suite = Suite::aead(Encryption::AesGcm16_128);
    /// AES-GCM-16 with a 256-bit key.
    pub const AES_GCM_16_256: Suite = Suite::aead(Encryption::AesGcm16_256);
    /// ChaCha20-Poly1305.
    pub const CHACHA20_POLY1305: Suite = Suite::aead(Encryption::ChaCha20Poly1305);
    /// AES-CBC-128 with HMAC-SHA1-96.
    pub const AES_CBC_128_SHA1_96: Suite =
        Suite::cbc(Encryption::AesCbc128, Integrity::HmacSha1_96);
    /// AES-CBC-128 with HMAC-SHA-256-128.
    pub const AES_CBC_128_SHA256_128: Suite =
        Suite::cbc(Encryption::AesCbc128, Integrity::HmacSha256_128);
    /// AES-CBC-256 with HMAC-SHA-256-128.
    pub const AES_CBC_256_SHA256_128: Suite =
        Suite::cbc(Encryption::AesCbc256, Integrity::HmacSha256_128);
    /// AES-CBC-256 with HMAC-SHA-384-192.
    pub const AES_CBC_256_SHA384_192: Suite =
        Suite::cbc(Encryption::AesCbc256, Integrity::HmacSha384_192);
    /// AES-CBC-256 with HMAC-SHA-512-256.
    pub const AES_CBC_256_SHA512_256: Suite =
        Suite::cbc(Encryption::AesCbc256, Integrity::HmacSha512_256);

    /// The suites the overhead table and the tests walk through.
    pub const ALL: [Suite; 8] = [
        Self::AES_GCM_16_128,
        Self::AES_GCM_16_256,
        Self::CHACHA20_POLY1305,
        Self::AES_CBC_128_SHA256_128,
        Self::AES_CBC_256_SHA256_128,
        Self::AES_CBC_256_SHA384_192,
        Self::AES_CBC_256_SHA512_256,
        Self::AES_CBC_128_SHA1_96,
    ];

    const fn aead(encryption: Encryption) -> Suite {
        Suite {
            encryption,
            integrity: None,
        }
    }

    const fn cbc(encryption: Encryption, integrity: Integrity) -> Suite {
        Suite {
            encryption,
            integrity: Some(integrity),
        }
    }

    /// Combine an encryption and an (optional) integrity transform; AEADs
    /// must come without one, AES-CBC with one (RFC 8221 §3).
    pub fn new(encryption: Encryption, integrity: Option<Integrity>) -> Result<Suite, ConfigError> {
        match (encryption.is_aead(), integrity) {
            (true, Some(_)) => Err(ConfigError::IntegrityWithAead),
            (false, None) => Err(ConfigError::MissingIntegrity),
            _ => Ok(Suite {
                encryption,
                integrity,
            }),
        }
    }

    /// The encryption transform.
    pub const fn encryption(self) -> Encryption {
        self.encryption
    }

    /// The integrity transform, `None` for AEADs.
    pub const fn integrity(self) -> Option<Integrity> {
        self.integrity
    }

    /// Explicit IV length.
    pub const fn iv_len(self) -> usize {
        self.encryption.iv_len()
    }

    /// ICV length on the wire.
    pub const fn icv_len(self) -> usize {
        match self.integrity {
            Some(i) => i.icv_len(),
            None => 16,
        }
    }

    /// Payload alignment (see [`Encryption::align`]).
    pub const fn align(self) -> usize {
        self.encryption.align()
    }

    /// Encryption key length (with salt for AEADs).
    pub const fn encryption_key_len(self) -> usize {
        self.encryption.key_len()
    }

    /// Integrity key length, 0 for AEADs.
    pub const fn integrity_key_len(self) -> usize {
        match self.integrity {
            Some(i) => i.key_len(),
            None => 0,
        }
    }

    /// A short name in strongSwan's proposal syntax.
    pub const fn name(self) -> &'static str {
        use Encryption as E;
        use Integrity as I;
        match (self.encryption, self.integrity) {
            (E::AesGcm16_128, _) => "aes128gcm16",
            (E::AesGcm16_256, _) => "aes256gcm16",
            (E::ChaCha20Poly1305, _) => "chacha20poly1305",
            (E::AesCbc128, Some(I::HmacSha1_96)) => "aes128-sha1",
            (E::AesCbc128, Some(I::HmacSha256_128)) => "aes128-sha256",
            (E::AesCbc128, Some(I::HmacSha384_192)) => "aes128-sha384",
            (E::AesCbc128, Some(I::HmacSha512_256)) => "aes128-sha512",
            (E::AesCbc192, Some(I::HmacSha1_96)) => "aes192-sha1",
            (E::AesCbc192, Some(I::HmacSha256_128)) => "aes192-sha256",
            (E::AesCbc192, Some(I::HmacSha384_192)) => "aes192-sha384",
            (E::AesCbc192, Some(I::HmacSha512_256)) => "aes192-sha512",
            (E::AesCbc256, Some(I::HmacSha1_96)) => "aes256-sha1",
            (E::AesCbc256, Some(I::HmacSha256_128)) => "aes256-sha256",
            (E::AesCbc256, Some(I::HmacSha384_192)) => "aes256-sha384",
            (E::AesCbc256, Some(I::HmacSha512_256)) => "aes256-sha512",
            (_, None) => "invalid",
        }
    }
}

impl std::fmt::Display for Suite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
