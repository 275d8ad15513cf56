//! The IKEv2 transforms peers use (RFC 8247): SK payload protection, PRFs,
//! integrity, key exchange, key derivation and AUTH inputs.
//!
//! Implemented transforms:
//! - ENCR: AES-CBC-128/192/256 (+ an integrity transform), AES-GCM-16 with
//!   128/256-bit keys (RFC 5282), ChaCha20-Poly1305 (RFC 7634); legacy:
//!   3DES-CBC (RFC 2451), Camellia-CBC (RFC 5529), AES-CCM-8/12/16
//!   (RFC 5282, RFC 4309);
//! - PRF: HMAC-SHA1, HMAC-SHA2-256/384/512; legacy: HMAC-MD5,
//!   AES128-XCBC (RFC 4434), AES128-CMAC (RFC 4615);
//! - INTEG: HMAC-SHA1-96, HMAC-SHA2-256-128/384-192/512-256; legacy:
//!   HMAC-MD5-96 (RFC 2403), AES-XCBC-96 (RFC 3566), AES-CMAC-96
//!   (RFC 4494), strongSwan's HMAC-SHA2-256-96;
//! - KE: MODP 2048/3072/4096 (14/15/16), ECP 256/384/521 (19/20/21),
//!   Curve25519 (31); legacy: MODP 1024/1536 (2/5), MODP with prime-order
//!   subgroups (22/23/24, RFC 5114).
//!
//! The legacy transforms are never in the default proposals; each says
//! why with `legacy()` so the daemon can warn once at load.
//!
//! - Signatures (AUTH methods 1, 9-11, 14): RSA PKCS#1 v1.5 and PSS, ECDSA
//!   P-256/P-384/P-521, Ed25519 ([`sig`]).
//!
//! Key material lives in [`SecretBytes`] (zeroized on drop, redacted in
//! `Debug`). Keys inside ring (HMAC/AEAD key schedules) and the AES key
//! schedule are not zeroized by those crates.

mod auth;
pub mod block;
pub mod ccm;
mod encr;
mod error;
mod integ;
mod kdf;
mod ke;
pub mod mac;
mod modp_primes;
mod prf;
mod secret;
pub mod sig;
mod suite;

pub use auth::{psk_auth, signed_octets, verify_psk_auth, KEY_PAD};
pub use encr::{Encr, SkCipher};
pub use error::CryptoError;
pub use integ::{Integ, HMAC_SHA2_256_96_PRIVATE};
pub use kdf::{rekey_skeyseed, skeyseed, ChildKeys, IkeKeys};
pub use ke::{
    check_peer_public, legacy_group, modp_exponent_bits, modp_generator_order, modp_prime,
    KeyExchange, SharedSecret, SUPPORTED_GROUPS,
};
pub use prf::Prf;
pub use secret::SecretBytes;
pub use suite::Suite;
