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
    /// 3DES-EDE-CBC (RFC 2451, ENCR 3): 192-bit key, 8-byte blocks. Legacy.
    TripleDesCbc,
    /// Camellia-CBC with a 128-bit key (RFC 4312, ENCR 23).
    CamelliaCbc128,
    /// Camellia-CBC with a 192-bit key (RFC 4312, ENCR 23).
    CamelliaCbc192,
    /// Camellia-CBC with a 256-bit key (RFC 4312, ENCR 23).
    CamelliaCbc256,
    /// AES-CCM with an 8-octet ICV and a 128-bit key (RFC 4309, ENCR 14).
    AesCcm8_128,
    /// AES-CCM, 8-octet ICV, 192-bit key.
    AesCcm8_192,
    /// AES-CCM, 8-octet ICV, 256-bit key.
    AesCcm8_256,
    /// AES-CCM with a 12-octet ICV and a 128-bit key (RFC 4309, ENCR 15).
    AesCcm12_128,
    /// AES-CCM, 12-octet ICV, 192-bit key.
    AesCcm12_192,
    /// AES-CCM, 12-octet ICV, 256-bit key.
    AesCcm12_256,
    /// AES-CCM with a 16-octet ICV and a 128-bit key (RFC 4309, ENCR 16).
    AesCcm16_128,
    /// AES-CCM, 16-octet ICV, 192-bit key.
    AesCcm16_192,
    /// AES-CCM, 16-octet ICV, 256-bit key.
    AesCcm16_256,
}

impl Encryption {
    /// True for combined-mode (AEAD) transforms, which take no integrity
    /// transform.
    pub const fn is_aead(self) -> bool {
        matches!(
            self,
            Self::AesGcm16_128 | Self::AesGcm16_256 | Self::ChaCha20Poly1305
        ) || self.ccm_icv_len() != 0
    }

    /// The ICV length of an AES-CCM transform, 0 for the others.
    pub const fn ccm_icv_len(self) -> usize {
        match self {
            Self::AesCcm8_128 | Self::AesCcm8_192 | Self::AesCcm8_256 => 8,
            Self::AesCcm12_128 | Self::AesCcm12_192 | Self::AesCcm12_256 => 12,
            Self::AesCcm16_128 | Self::AesCcm16_192 | Self::AesCcm16_256 => 16,
            _ => 0,
        }
    }

    /// The ICV length of an AEAD (16 for GCM-16 and ChaCha20-Poly1305),
    /// 0 for the CBC transforms.
    pub const fn aead_icv_len(self) -> usize {
        match self {
            Self::AesGcm16_128 | Self::AesGcm16_256 | Self::ChaCha20Poly1305 => 16,
            _ => self.ccm_icv_len(),
        }
    }

    /// Bytes of keying material taken from KEYMAT (RFC 7296 §2.17): for the
    /// AEADs this includes the salt at the end: 4 bytes for GCM and
    /// ChaCha20-Poly1305 (RFC 4106 §8.1, RFC 7634 §2), 3 for CCM (RFC 4309
    /// §7.1).
    pub const fn key_len(self) -> usize {
        match self {
            Self::AesGcm16_128 => 16 + 4,
            Self::AesGcm16_256 | Self::ChaCha20Poly1305 => 32 + 4,
            Self::AesCbc128 | Self::CamelliaCbc128 => 16,
            Self::AesCbc192 | Self::CamelliaCbc192 | Self::TripleDesCbc => 24,
            Self::AesCbc256 | Self::CamelliaCbc256 => 32,
            Self::AesCcm8_128 | Self::AesCcm12_128 | Self::AesCcm16_128 => 16 + 3,
            Self::AesCcm8_192 | Self::AesCcm12_192 | Self::AesCcm16_192 => 24 + 3,
            Self::AesCcm8_256 | Self::AesCcm12_256 | Self::AesCcm16_256 => 32 + 3,
        }
    }

    /// Length of the explicit IV carried in every packet: the cipher block
    /// for CBC (8 for 3DES, RFC 2451 §2.2), 8 for the AEADs.
    pub const fn iv_len(self) -> usize {
        if self.is_aead() {
            8
        } else {
            self.align()
        }
    }

    /// The payload (inner packet + padding + 2 trailer bytes) is padded to a
    /// multiple of this: the cipher block for CBC, 4 bytes (RFC 4303 §2.4)
    /// for the stream-like AEADs.
    pub const fn align(self) -> usize {
        if self.is_aead() {
            4
        } else if matches!(self, Self::TripleDesCbc) {
            8
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
            Self::TripleDesCbc => 3,
            Self::CamelliaCbc128 | Self::CamelliaCbc192 | Self::CamelliaCbc256 => 23,
            _ => match self.ccm_icv_len() {
                8 => 14,
                12 => 15,
                _ => 16,
            },
        }
    }

    /// strongSwan's keyword.
    pub const fn keyword(self) -> &'static str {
        match self {
            Self::AesGcm16_128 => "aes128gcm16",
            Self::AesGcm16_256 => "aes256gcm16",
            Self::ChaCha20Poly1305 => "chacha20poly1305",
            Self::AesCbc128 => "aes128",
            Self::AesCbc192 => "aes192",
            Self::AesCbc256 => "aes256",
            Self::TripleDesCbc => "3des",
            Self::CamelliaCbc128 => "camellia128",
            Self::CamelliaCbc192 => "camellia192",
            Self::CamelliaCbc256 => "camellia256",
            Self::AesCcm8_128 => "aes128ccm8",
            Self::AesCcm8_192 => "aes192ccm8",
            Self::AesCcm8_256 => "aes256ccm8",
            Self::AesCcm12_128 => "aes128ccm12",
            Self::AesCcm12_192 => "aes192ccm12",
            Self::AesCcm12_256 => "aes256ccm12",
            Self::AesCcm16_128 => "aes128ccm16",
            Self::AesCcm16_192 => "aes192ccm16",
            Self::AesCcm16_256 => "aes256ccm16",
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
    /// HMAC-MD5-96 (RFC 2403, AUTH 1). Legacy.
    HmacMd5_96,
    /// HMAC-SHA-256 truncated to 96 bits (strongSwan's private AUTH 1026,
    /// old Linux kernels' `hmac(sha256)`). Legacy.
    HmacSha256_96,
    /// AES-XCBC-MAC-96 (RFC 3566, AUTH 5). Legacy.
    AesXcbc96,
    /// AES-CMAC-96 (RFC 4494, AUTH 8). Legacy.
    AesCmac96,
}

impl Integrity {
    /// Key length (RFC 2404 §3, RFC 4868 §2.1.1, RFC 2403 §3: the hash
    /// output size; RFC 3566 §2.1, RFC 4494 §2: 128 bits).
    pub const fn key_len(self) -> usize {
        match self {
            Self::HmacSha1_96 => 20,
            Self::HmacSha256_128 | Self::HmacSha256_96 => 32,
            Self::HmacSha384_192 => 48,
            Self::HmacSha512_256 => 64,
            Self::HmacMd5_96 | Self::AesXcbc96 | Self::AesCmac96 => 16,
        }
    }

    /// Truncated ICV length on the wire.
    pub const fn icv_len(self) -> usize {
        match self {
            Self::HmacSha256_128 => 16,
            Self::HmacSha384_192 => 24,
            Self::HmacSha512_256 => 32,
            _ => 12,
        }
    }

    /// IKEv2 transform ID (IANA "Transform Type 3"; 1026 is strongSwan's
    /// private use).
    pub const fn ikev2_id(self) -> u16 {
        match self {
            Self::HmacSha1_96 => 2,
            Self::HmacSha256_128 => 12,
            Self::HmacSha384_192 => 13,
            Self::HmacSha512_256 => 14,
            Self::HmacMd5_96 => 1,
            Self::HmacSha256_96 => 1026,
            Self::AesXcbc96 => 5,
            Self::AesCmac96 => 8,
        }
    }

    /// strongSwan's keyword.
    pub const fn keyword(self) -> &'static str {
        match self {
            Self::HmacSha1_96 => "sha1",
            Self::HmacSha256_128 => "sha256",
            Self::HmacSha384_192 => "sha384",
            Self::HmacSha512_256 => "sha512",
            Self::HmacMd5_96 => "md5",
            Self::HmacSha256_96 => "sha256_96",
            Self::AesXcbc96 => "aesxcbc",
            Self::AesCmac96 => "aescmac",
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

    /// The suites the overhead table and the tests walk through: the
    /// modern ones, then the legacy ones older peers still negotiate.
    pub const ALL: [Suite; 18] = [
        Self::AES_GCM_16_128,
        Self::AES_GCM_16_256,
        Self::CHACHA20_POLY1305,
        Self::AES_CBC_128_SHA256_128,
        Self::AES_CBC_256_SHA256_128,
        Self::AES_CBC_256_SHA384_192,
        Self::AES_CBC_256_SHA512_256,
        Self::AES_CBC_128_SHA1_96,
        Suite::cbc(Encryption::TripleDesCbc, Integrity::HmacSha1_96),
        Suite::cbc(Encryption::TripleDesCbc, Integrity::HmacMd5_96),
        Suite::cbc(Encryption::AesCbc128, Integrity::AesXcbc96),
        Suite::cbc(Encryption::AesCbc192, Integrity::AesCmac96),
        Suite::cbc(Encryption::AesCbc256, Integrity::HmacSha256_96),
        Suite::cbc(Encryption::CamelliaCbc128, Integrity::HmacSha256_128),
        Suite::cbc(Encryption::CamelliaCbc256, Integrity::HmacMd5_96),
        Suite::aead(Encryption::AesCcm8_128),
        Suite::aead(Encryption::AesCcm12_192),
        Suite::aead(Encryption::AesCcm16_256),
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
            None => self.encryption.aead_icv_len(),
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

    /// A short name in strongSwan's proposal syntax (`aes128gcm16`,
    /// `aes256-sha256`, `3des-md5`).
    pub fn name(self) -> String {
        match self.integrity {
            None => self.encryption.keyword().to_string(),
            Some(i) => format!("{}-{}", self.encryption.keyword(), i.keyword()),
        }
    }
}

impl std::fmt::Display for Suite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}
