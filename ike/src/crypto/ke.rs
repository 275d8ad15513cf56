//! Key exchange (RFC 7296 §2.14, §3.4): MODP groups 14/15/16 (RFC 3526),
//! ECP groups 19/20/21 (RFC 5903) and Curve25519 (RFC 8031); legacy: MODP
//! groups 2 (RFC 2409 §6.2) and 5 (RFC 3526 §2), and the MODP groups with
//! prime-order subgroups 22/23/24 (RFC 5114 §2.1–§2.3).

use core::fmt;
use std::sync::OnceLock;

use crypto_bigint::modular::runtime_mod::{DynResidue, DynResidueParams};
use crypto_bigint::{Uint, U1024, U1536, U2048, U3072, U4096};
use rand_core::CryptoRngCore;
use zeroize::Zeroize;

use super::modp_primes::{
    MODP1024_160, MODP1024_HEX, MODP1536_HEX, MODP2048_224, MODP2048_256, MODP2048_HEX,
    MODP3072_HEX, MODP4096_HEX,
};
use super::{CryptoError, SecretBytes};
use crate::wire::DhGroup;

/// The shared secret g^ir, in the encoding RFC 7296 feeds to the PRF:
/// left-padded to the group's length for MODP (§2.14 / §3.4), the x
/// coordinate for ECP (RFC 5903 §7), the X25519 output (RFC 8031 §2.2).
pub type SharedSecret = SecretBytes;

/// Every key exchange method we implement, in our order of preference
/// (the legacy groups last).
pub const SUPPORTED_GROUPS: [DhGroup; 12] = [
    DhGroup::CURVE25519,
    DhGroup::ECP256,
    DhGroup::ECP384,
    DhGroup::ECP521,
    DhGroup::MODP3072,
    DhGroup::MODP4096,
    DhGroup::MODP2048,
    DhGroup::MODP1536,
    DhGroup::MODP1024,
    DhGroup::MODP2048_256,
    DhGroup::MODP2048_224,
    DhGroup::MODP1024_160,
];

/// Why a group RFC 8247 no longer recommends is legacy (logged once at
/// load); `None` for the others.
pub fn legacy_group(group: DhGroup) -> Option<&'static str> {
    Some(match group {
        DhGroup::MODP1024 => "MODP-1024 (group 2): too small (RFC 8247 §3.5: SHOULD NOT)",
        DhGroup::MODP1536 => "MODP-1536 (group 5): too small (RFC 8247 §3.5)",
        DhGroup::MODP1024_160 | DhGroup::MODP2048_224 | DhGroup::MODP2048_256 => {
            "MODP with a prime-order subgroup (RFC 5114, groups 22-24): \
             unverifiable origin (RFC 8247 §3.5: SHOULD NOT)"
        }
        _ => return None,
    })
}

/// One side of a key exchange: our private key and our public value (the KE
/// payload's Key Exchange Data).
pub struct KeyExchange {
    group: DhGroup,
    private: Private,
    public: Vec<u8>,
}

enum Private {
    Modp { x: SecretBytes },
    P256(p256::SecretKey),
    P384(p384::SecretKey),
    P521(p521::SecretKey),
    X25519(x25519_dalek::StaticSecret),
}

impl fmt::Debug for KeyExchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyExchange")
            .field("group", &self.group)
            .field("private", &"[redacted]")
            .field("public_len", &self.public.len())
            .finish()
    }
}

/// A MODP group: RFC 3526/2409 (generator 2, safe prime) or RFC 5114
/// (generator of a prime-order subgroup).
struct Modp {
    /// The prime, big-endian, exactly `len` bytes.
    p: Vec<u8>,
    /// The generator, big-endian (`[2]` for RFC 3526).
    g: Vec<u8>,
    /// The order of the subgroup `g` generates, for RFC 5114 groups
    /// (big-endian); peer values must lie in it (RFC 6989 §2.2).
    q: Option<Vec<u8>>,
    /// Bits of the private exponent; see [`modp_exponent_bits`].
    exp_bits: usize,
}

/// The private exponent length for a MODP group: the upper end of the
/// exponent sizes RFC 3526 §8 gives for the group's strength estimates
/// (2048: 220–320, 3072: 260–420, 4096: 300–480 bits), rounded up to a
/// multiple of 64 bits. That is ≥ 2 × the group's security strength, and far
/// cheaper than a full-length exponent.
///
/// The legacy groups: 256 bits for groups 2 and 5 (as strongSwan uses),
/// and for the RFC 5114 groups one bit less than the subgroup order q (160,
/// 224, 256 bits), so every exponent is below q (RFC 5114 §2).
pub fn modp_exponent_bits(group: DhGroup) -> Option<usize> {
    match group {
        DhGroup::MODP1024 | DhGroup::MODP1536 => Some(256),
        DhGroup::MODP1024_160 => Some(159),
        DhGroup::MODP2048_224 => Some(223),
        DhGroup::MODP2048_256 => Some(255),
        DhGroup::MODP2048 => Some(320),
        DhGroup::MODP3072 => Some(448),
        DhGroup::MODP4096 => Some(512),
        _ => None,
    }
}

fn modp(group: DhGroup) -> Option<&'static Modp> {
    static G2: OnceLock<Modp> = OnceLock::new();
    static G5: OnceLock<Modp> = OnceLock::new();
    static G14: OnceLock<Modp> = OnceLock::new();
    static G15: OnceLock<Modp> = OnceLock::new();
    static G16: OnceLock<Modp> = OnceLock::new();
    static G22: OnceLock<Modp> = OnceLock::new();
    static G23: OnceLock<Modp> = OnceLock::new();
    static G24: OnceLock<Modp> = OnceLock::new();
    let (cell, [p, g, q]) = match group {
        DhGroup::MODP1024 => (&G2, [MODP1024_HEX, "02", ""]),
        DhGroup::MODP1536 => (&G5, [MODP1536_HEX, "02", ""]),
        DhGroup::MODP2048 => (&G14, [MODP2048_HEX, "02", ""]),
        DhGroup::MODP3072 => (&G15, [MODP3072_HEX, "02", ""]),
        DhGroup::MODP4096 => (&G16, [MODP4096_HEX, "02", ""]),
        DhGroup::MODP1024_160 => (&G22, MODP1024_160),
        DhGroup::MODP2048_224 => (&G23, MODP2048_224),
        DhGroup::MODP2048_256 => (&G24, MODP2048_256),
        _ => return None,
    };
    Some(cell.get_or_init(|| Modp {
        p: decode_hex(p),
        g: decode_hex(g),
        q: (!q.is_empty()).then(|| decode_hex(q)),
        exp_bits: modp_exponent_bits(group).unwrap_or(0),
    }))
}

/// The generator and (for RFC 5114 groups) subgroup order of a MODP group
/// we implement (big-endian), for tests and oracles.
pub fn modp_generator_order(group: DhGroup) -> Option<(&'static [u8], Option<&'static [u8]>)> {
    modp(group).map(|m| (m.g.as_slice(), m.q.as_deref()))
}

fn decode_hex(s: &str) -> Vec<u8> {
    let nib = |c: u8| match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => 0,
    };
    s.as_bytes()
        .chunks(2)
        .map(|p| (nib(p[0]) << 4) | nib(p[1]))
        .collect()
}

/// The prime of a MODP group we implement (big-endian), for tests and
/// oracles.
pub fn modp_prime(group: DhGroup) -> Option<&'static [u8]> {
    modp(group).map(|m| m.p.as_slice())
}

/// base^exp mod p, constant time in the value of `exp` (crypto-bigint
/// Montgomery ladder over a fixed `exp_bits`), result left-padded to the
/// length of p. `base` and `exp` must not be longer than p.
fn modpow_fixed<const L: usize>(base: &[u8], exp: &[u8], exp_bits: usize, p: &[u8]) -> Vec<u8> {
    let n = p.len();
    let p = Uint::<L>::from_be_slice(p);
    let params = DynResidueParams::new(&p);
    let mut b = Uint::<L>::from_be_slice(&left_pad(base, n));
    let mut e_bytes = left_pad(exp, n);
    let mut e = Uint::<L>::from_be_slice(&e_bytes);
    e_bytes.zeroize();
    let mut r = DynResidue::new(&b, params).pow_bounded_exp(&e, exp_bits);
    let mut out = r.retrieve();
    e.zeroize();
    b.zeroize();
    r.zeroize();
    let mut bytes = Vec::with_capacity(n);
    for w in out.as_words().iter().rev() {
        bytes.extend_from_slice(&w.to_be_bytes());
    }
    out.zeroize();
    bytes
}

/// base^exp mod p of `group` with an exponent of at most `exp_bits` bits.
fn modpow_bits(group: DhGroup, base: &[u8], exp: &[u8], exp_bits: usize) -> Option<Vec<u8>> {
    let m = modp(group)?;
    Some(match m.p.len() {
        128 => modpow_fixed::<{ U1024::LIMBS }>(base, exp, exp_bits, &m.p),
        192 => modpow_fixed::<{ U1536::LIMBS }>(base, exp, exp_bits, &m.p),
        256 => modpow_fixed::<{ U2048::LIMBS }>(base, exp, exp_bits, &m.p),
        384 => modpow_fixed::<{ U3072::LIMBS }>(base, exp, exp_bits, &m.p),
        512 => modpow_fixed::<{ U4096::LIMBS }>(base, exp, exp_bits, &m.p),
        _ => return None,
    })
}

/// RFC 6989 §2.2: a value of a group with a prime-order subgroup must lie
/// in that subgroup, y^q = 1 mod p. True for the other groups.
fn in_subgroup(group: DhGroup, y: &[u8]) -> bool {
    let Some(m) = modp(group) else {
        return false;
    };
    let Some(q) = &m.q else {
        return true;
    };
    let Some(r) = modpow_bits(group, y, q, q.len() * 8) else {
        return false;
    };
    let (last, rest) = match r.split_last() {
        Some(x) => x,
        None => return false,
    };
    *last == 1 && rest.iter().all(|&b| b == 0)
}

fn left_pad(v: &[u8], n: usize) -> Vec<u8> {
    let mut out = vec![0u8; n.saturating_sub(v.len())];
    out.extend_from_slice(&v[v.len().saturating_sub(n)..]);
    out
}

/// RFC 6989 §2.1 check of a MODP public value (or shared secret):
/// 1 < y < p - 1, i.e. neither 0, 1 nor p - 1 nor anything ≥ p. Both are
/// big-endian of the same length; p is odd so p - 1 only differs in the last
/// byte.
fn modp_in_range(y: &[u8], p: &[u8]) -> bool {
    let mut p_minus_1 = p.to_vec();
    if let Some(last) = p_minus_1.last_mut() {
        *last &= 0xfe;
    }
    let gt_one = y[..y.len() - 1].iter().any(|&b| b != 0) || y[y.len() - 1] > 1;
    gt_one && y < p_minus_1.as_slice()
}

/// Curve25519 u-coordinates (little-endian, RFC 7748 §5) of small order,
/// on the curve or its twist: 0 (order 2), 1 (order 4), p − 1 (order 4 on
/// the twist) and the two points of order 8. X25519 with any (clamped)
/// scalar maps them to the all-zero output RFC 8031 §2.3 forbids, so they
/// are refused before any key is generated. Each value is checked by the
/// test `x25519_small_order_points_give_zero`.
const X25519_SMALL_ORDER: [[u8; 32]; 5] = [
    [0; 32],
    {
        let mut one = [0u8; 32];
        one[0] = 1;
        one
    },
    {
        // p − 1 = 2^255 − 20
        let mut v = [0xff; 32];
        v[0] = 0xec;
        v[31] = 0x7f;
        v
    },
    [
        0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4,
        0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49,
        0xb8, 0x00,
    ],
    [
        0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83, 0xef,
        0x5b, 0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f,
        0x11, 0x57,
    ],
];

/// A Curve25519 public value as X25519 reads it (RFC 7748 §5): the top bit
/// masked, and a non-canonical value (p ≤ u < 2^255) reduced modulo p.
fn x25519_canonical(u: &[u8; 32]) -> [u8; 32] {
    let mut v = *u;
    v[31] &= 0x7f;
    // p = 2^255 − 19: u ≥ p only when bytes 1..=30 are 0xff, byte 31 is
    // 0x7f and byte 0 ≥ 0xed; then u − p = byte 0 − 0xed, a small number.
    let high_all_ones = v[1..31].iter().all(|&b| b == 0xff) && v[31] == 0x7f;
    if high_all_ones && v[0] >= 0xed {
        let r = v[0] - 0xed;
        v = [0; 32];
        v[0] = r;
    }
    v
}

/// Validates the peer's Key Exchange Data for `group` without generating
/// any key, so a request that will be refused costs no key generation:
/// - the length the group fixes (RFC 7296 §3.4; RFC 5903 §7; RFC 8031 §2);
/// - MODP: 1 < y < p − 1 (RFC 6989 §2.1; the RFC 3526 primes are safe
///   primes, so no subgroup check is needed for them; the RFC 5114 groups
///   also need y^q = 1, §2.2);
/// - ECP: a point on the curve, not the point at infinity (RFC 6989 §2.3,
///   RFC 5903 §7);
/// - Curve25519: not a point of small order, whose shared secret would be
///   all zero (RFC 8031 §2.3, RFC 7748 §6.1).
pub fn check_peer_public(group: DhGroup, peer: &[u8]) -> Result<(), CryptoError> {
    let expected = KeyExchange::public_value_len(group)?;
    if peer.len() != expected {
        return Err(CryptoError::BadPeerPublicValue {
            group,
            reason: "wrong length for the group",
        });
    }
    let bad_point = CryptoError::BadPeerPublicValue {
        group,
        reason: "not a point on the curve",
    };
    match group {
        DhGroup::ECP256 => p256::PublicKey::from_sec1_bytes(&sec1_uncompressed(peer))
            .map(drop)
            .map_err(|_| bad_point),
        DhGroup::ECP384 => p384::PublicKey::from_sec1_bytes(&sec1_uncompressed(peer))
            .map(drop)
            .map_err(|_| bad_point),
        DhGroup::ECP521 => p521::PublicKey::from_sec1_bytes(&sec1_uncompressed(peer))
            .map(drop)
            .map_err(|_| bad_point),
        DhGroup::CURVE25519 => {
            let mut u = [0u8; 32];
            u.copy_from_slice(peer);
            if X25519_SMALL_ORDER.contains(&x25519_canonical(&u)) {
                return Err(CryptoError::BadPeerPublicValue {
                    group,
                    reason: "a point of small order (RFC 8031 §2.3)",
                });
            }
            Ok(())
        }
        _ => match modp_prime(group) {
            Some(p) if !modp_in_range(peer, p) => Err(CryptoError::BadPeerPublicValue {
                group,
                reason: "not in the range 1 < y < p-1 (RFC 6989)",
            }),
            // RFC 5114 groups are not safe primes: y^q = 1 (§2.2).
            Some(_) if !in_subgroup(group, peer) => Err(CryptoError::BadPeerPublicValue {
                group,
                reason: "not in the prime-order subgroup, y^q != 1 (RFC 6989 §2.2)",
            }),
            Some(_) => Ok(()),
            None => Err(CryptoError::UnsupportedGroup(group)),
        },
    }
}

impl KeyExchange {
    /// True if we implement `group`.
    pub fn is_supported(group: DhGroup) -> bool {
        SUPPORTED_GROUPS.contains(&group)
    }

    /// Length of the Key Exchange Data (and of the shared secret's group
    /// element) for `group`.
    pub fn public_value_len(group: DhGroup) -> Result<usize, CryptoError> {
        Ok(match group {
            DhGroup::MODP1024 | DhGroup::MODP1024_160 => 128,
            DhGroup::MODP1536 => 192,
            DhGroup::MODP2048 | DhGroup::MODP2048_224 | DhGroup::MODP2048_256 => 256,
            DhGroup::MODP3072 => 384,
            DhGroup::MODP4096 => 512,
            DhGroup::ECP256 => 64,
            DhGroup::ECP384 => 96,
            DhGroup::ECP521 => 132,
            DhGroup::CURVE25519 => 32,
            g => return Err(CryptoError::UnsupportedGroup(g)),
        })
    }

    /// A fresh key pair for `group`.
    pub fn generate<R: CryptoRngCore + ?Sized>(
        group: DhGroup,
        rng: &mut R,
    ) -> Result<Self, CryptoError> {
        let private = match group {
            g if modp(g).is_some() => {
                let bits = modp_exponent_bits(group).unwrap_or(256);
                let mut x = vec![0u8; bits.div_ceil(8)];
                loop {
                    rng.fill_bytes(&mut x);
                    // Keep exactly `bits` bits (RFC 5114 groups: below q).
                    if bits % 8 != 0 {
                        x[0] &= 0xff >> (8 - bits % 8);
                    }
                    // Exclude the tiny exponents 0 and 1.
                    if x[..x.len() - 1].iter().any(|&b| b != 0) || x[x.len() - 1] > 1 {
                        break;
                    }
                }
                Private::Modp {
                    x: SecretBytes::new(x),
                }
            }
            DhGroup::ECP256 => Private::P256(p256::SecretKey::random(&mut RngAdapter(rng))),
            DhGroup::ECP384 => Private::P384(p384::SecretKey::random(&mut RngAdapter(rng))),
            DhGroup::ECP521 => Private::P521(p521::SecretKey::random(&mut RngAdapter(rng))),
            DhGroup::CURVE25519 => {
                let mut k = [0u8; 32];
                rng.fill_bytes(&mut k);
                let s = x25519_dalek::StaticSecret::from(k);
                k.zeroize();
                Private::X25519(s)
            }
            g => return Err(CryptoError::UnsupportedGroup(g)),
        };
        Self::from_private(group, private)
    }

    /// A key pair from a fixed private key, **for known-answer tests only**
    /// (a fixed key makes every exchange with it predictable).
    ///
    /// The private key is the exponent (big-endian, any length up to the
    /// group's, used with [`modp_exponent_bits`] bits — longer exponents are
    /// rejected) for MODP, the scalar (big-endian, 32/48/66 bytes) for
    /// ECP, the 32-byte scalar of RFC 7748 for Curve25519.
    pub fn from_fixed_private_key(group: DhGroup, private: &[u8]) -> Result<Self, CryptoError> {
        let bad = || CryptoError::InvalidPrivateKey(group);
        let private = match group {
            g if modp(g).is_some() => {
                let bits = modp(g).map_or(0, |m| m.q.as_ref().map_or(m.exp_bits, |q| q.len() * 8));
                let first = private
                    .iter()
                    .position(|&b| b != 0)
                    .unwrap_or(private.len());
                let significant = &private[first..];
                let nbits = significant
                    .first()
                    .map(|b| significant.len() * 8 - b.leading_zeros() as usize)
                    .unwrap_or(0);
                if nbits > bits || nbits < 2 {
                    return Err(bad());
                }
                Private::Modp {
                    x: SecretBytes::from_slice(significant),
                }
            }
            DhGroup::ECP256 if private.len() == 32 => {
                Private::P256(p256::SecretKey::from_slice(private).map_err(|_| bad())?)
            }
            DhGroup::ECP384 if private.len() == 48 => {
                Private::P384(p384::SecretKey::from_slice(private).map_err(|_| bad())?)
            }
            DhGroup::ECP521 if private.len() == 66 => {
                Private::P521(p521::SecretKey::from_slice(private).map_err(|_| bad())?)
            }
            DhGroup::CURVE25519 => {
                let k: [u8; 32] = private.try_into().map_err(|_| bad())?;
                Private::X25519(x25519_dalek::StaticSecret::from(k))
            }
            DhGroup::ECP256 | DhGroup::ECP384 | DhGroup::ECP521 => return Err(bad()),
            g => return Err(CryptoError::UnsupportedGroup(g)),
        };
        Self::from_private(group, private)
    }

    fn from_private(group: DhGroup, private: Private) -> Result<Self, CryptoError> {
        use p256::elliptic_curve::sec1::ToEncodedPoint;
        let public = match &private {
            Private::Modp { x } => {
                let m = modp(group).ok_or(CryptoError::UnsupportedGroup(group))?;
                // A fixed exponent of an RFC 5114 group may use all bits of
                // q (its Appendix A test keys do).
                let bits = m.q.as_ref().map_or(m.exp_bits, |q| q.len() * 8);
                modpow_bits(group, &m.g, x.as_bytes(), bits)
                    .ok_or(CryptoError::UnsupportedGroup(group))?
            }
            // RFC 5903 §7: x | y, without the SEC1 0x04 prefix.
            Private::P256(k) => k.public_key().to_encoded_point(false).as_bytes()[1..].to_vec(),
            Private::P384(k) => k.public_key().to_encoded_point(false).as_bytes()[1..].to_vec(),
            Private::P521(k) => k.public_key().to_encoded_point(false).as_bytes()[1..].to_vec(),
            Private::X25519(k) => x25519_dalek::PublicKey::from(k).as_bytes().to_vec(),
        };
        Ok(KeyExchange {
            group,
            private,
            public,
        })
    }

    /// The group.
    pub fn group(&self) -> DhGroup {
        self.group
    }

    /// Our Key Exchange Data for the KE payload, in the group's fixed
    /// length.
    pub fn public_value(&self) -> &[u8] {
        &self.public
    }

    /// Computes g^ir from the peer's Key Exchange Data, after validating it
    /// (RFC 6989 range check for MODP, on-curve check for ECP, all-zero
    /// output check for X25519).
    pub fn agree(&self, peer: &[u8]) -> Result<SharedSecret, CryptoError> {
        let group = self.group;
        check_peer_public(group, peer)?;
        let bad_point = CryptoError::BadPeerPublicValue {
            group,
            reason: "not a point on the curve",
        };
        match &self.private {
            Private::Modp { x } => {
                // (range and subgroup checked by check_peer_public)
                let p = modp_prime(group).ok_or(CryptoError::UnsupportedGroup(group))?;
                let bits =
                    modp(group).map_or(0, |m| m.q.as_ref().map_or(m.exp_bits, |q| q.len() * 8));
                let s = SecretBytes::new(
                    modpow_bits(group, peer, x.as_bytes(), bits)
                        .ok_or(CryptoError::UnsupportedGroup(group))?,
                );
                if !modp_in_range(s.as_bytes(), p) {
                    return Err(CryptoError::DegenerateSharedSecret(group));
                }
                Ok(s)
            }
            Private::P256(k) => {
                let pk = p256::PublicKey::from_sec1_bytes(&sec1_uncompressed(peer))
                    .map_err(|_| bad_point)?;
                let ss = p256::ecdh::diffie_hellman(k.to_nonzero_scalar(), pk.as_affine());
                Ok(SecretBytes::from_slice(ss.raw_secret_bytes()))
            }
            Private::P384(k) => {
                let pk = p384::PublicKey::from_sec1_bytes(&sec1_uncompressed(peer))
                    .map_err(|_| bad_point)?;
                let ss = p384::ecdh::diffie_hellman(k.to_nonzero_scalar(), pk.as_affine());
                Ok(SecretBytes::from_slice(ss.raw_secret_bytes()))
            }
            Private::P521(k) => {
                let pk = p521::PublicKey::from_sec1_bytes(&sec1_uncompressed(peer))
                    .map_err(|_| bad_point)?;
                let ss = p521::ecdh::diffie_hellman(k.to_nonzero_scalar(), pk.as_affine());
                Ok(SecretBytes::from_slice(ss.raw_secret_bytes()))
            }
            Private::X25519(k) => {
                let mut arr = [0u8; 32];
                arr.copy_from_slice(peer);
                let ss = k.diffie_hellman(&x25519_dalek::PublicKey::from(arr));
                // RFC 7748 §6.1 / RFC 8031 §2.3: an all-zero output means a
                // small-order peer point.
                let all_zero = ss.as_bytes().iter().fold(0u8, |a, &b| a | b) == 0;
                if all_zero {
                    return Err(CryptoError::DegenerateSharedSecret(group));
                }
                Ok(SecretBytes::from_slice(ss.as_bytes()))
            }
        }
    }
}

/// SEC1 uncompressed encoding: 0x04 | x | y.
fn sec1_uncompressed(xy: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(xy.len() + 1);
    v.push(0x04);
    v.extend_from_slice(xy);
    v
}

/// Lets a `?Sized` RNG be passed where the RustCrypto crates want a sized
/// `CryptoRngCore`.
struct RngAdapter<'a, R: CryptoRngCore + ?Sized>(&'a mut R);

impl<R: CryptoRngCore + ?Sized> rand_core::RngCore for RngAdapter<'_, R> {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }
    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest)
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.0.try_fill_bytes(dest)
    }
}

impl<R: CryptoRngCore + ?Sized> rand_core::CryptoRng for RngAdapter<'_, R> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_check() {
        let p = modp_prime(DhGroup::MODP2048).unwrap();
        let mut y = vec![0u8; 256];
        assert!(!modp_in_range(&y, p)); // 0
        y[255] = 1;
        assert!(!modp_in_range(&y, p)); // 1
        y[255] = 2;
        assert!(modp_in_range(&y, p)); // 2
        let mut pm1 = p.to_vec();
        pm1[255] = 0xfe;
        assert!(!modp_in_range(&pm1, p)); // p - 1
        pm1[255] = 0xfd;
        assert!(modp_in_range(&pm1, p)); // p - 2
        assert!(!modp_in_range(p, p)); // p
        assert!(!modp_in_range(&[0xff; 256], p)); // > p
    }

    /// RFC 8031 §2.3 / RFC 7748 §6.1: every listed u-coordinate gives the
    /// all-zero shared secret whatever the scalar, so refusing them up
    /// front is what the all-zero check would do after the work.
    #[test]
    fn x25519_small_order_points_give_zero() {
        let scalars = [[0x11u8; 32], [0xa5; 32], [0x42; 32]];
        for u in X25519_SMALL_ORDER {
            for k in scalars {
                let s = x25519_dalek::StaticSecret::from(k);
                let out = s.diffie_hellman(&x25519_dalek::PublicKey::from(u));
                assert_eq!(out.as_bytes(), &[0u8; 32], "{u:02x?}");
            }
        }
        // And nothing else among small values does.
        for v in 2u8..=200 {
            let mut u = [0u8; 32];
            u[0] = v;
            let s = x25519_dalek::StaticSecret::from([0x11; 32]);
            let out = s.diffie_hellman(&x25519_dalek::PublicKey::from(u));
            if out.as_bytes() == &[0u8; 32] {
                assert!(X25519_SMALL_ORDER.contains(&x25519_canonical(&u)), "{v}");
            }
        }
    }

    #[test]
    fn x25519_non_canonical_values_are_reduced() {
        // p = 2^255 - 19 and p + 1 are 0 and 1; the top bit is ignored.
        let mut p = [0xff; 32];
        p[0] = 0xed;
        p[31] = 0x7f;
        assert_eq!(x25519_canonical(&p), [0; 32]);
        let mut p1 = p;
        p1[0] = 0xee;
        assert_eq!(x25519_canonical(&p1), X25519_SMALL_ORDER[1]);
        let mut hi = X25519_SMALL_ORDER[3];
        hi[31] |= 0x80;
        for v in [p, p1, hi] {
            assert!(check_peer_public(DhGroup::CURVE25519, &v).is_err());
        }
    }

    /// The checks made before any key is generated (RFC 6989, RFC 5903 §7,
    /// RFC 8031 §2): lengths, ranges, points.
    #[test]
    fn peer_public_values_are_checked_before_key_generation() {
        let mut rng = TestRng(5);
        for g in SUPPORTED_GROUPS {
            let good = KeyExchange::generate(g, &mut rng).unwrap();
            assert!(check_peer_public(g, good.public_value()).is_ok(), "{g}");
            let n = good.public_value().len();
            for len in [0, 1, n - 1, n + 1] {
                assert!(check_peer_public(g, &vec![2u8; len]).is_err(), "{g} {len}");
            }
        }
        for g in [DhGroup::MODP2048, DhGroup::MODP3072, DhGroup::MODP4096] {
            let p = modp_prime(g).unwrap();
            let n = p.len();
            let mut one = vec![0u8; n];
            one[n - 1] = 1;
            let mut pm1 = p.to_vec();
            pm1[n - 1] &= 0xfe;
            for bad in [vec![0u8; n], one, pm1, p.to_vec(), vec![0xff; n]] {
                assert!(check_peer_public(g, &bad).is_err(), "{g}");
            }
        }
        for g in [DhGroup::ECP256, DhGroup::ECP384, DhGroup::ECP521] {
            let good = KeyExchange::generate(g, &mut rng).unwrap();
            let mut off = good.public_value().to_vec();
            let last = off.len() - 1;
            off[last] ^= 1; // y no longer matches x
            assert!(check_peer_public(g, &off).is_err(), "{g}");
            let zero = vec![0u8; off.len()];
            assert!(check_peer_public(g, &zero).is_err(), "{g}");
        }
        assert!(matches!(
            check_peer_public(DhGroup(1), &[0; 96]),
            Err(CryptoError::UnsupportedGroup(_))
        ));
    }

    struct TestRng(u64);
    impl rand_core::RngCore for TestRng {
        fn next_u32(&mut self) -> u32 {
            self.next_u64() as u32
        }
        fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            for chunk in dest.chunks_mut(8) {
                let v = self.next_u64().to_le_bytes();
                chunk.copy_from_slice(&v[..chunk.len()]);
            }
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }
    impl rand_core::CryptoRng for TestRng {}

    #[test]
    fn left_pad_works() {
        assert_eq!(left_pad(&[1, 2], 4), vec![0, 0, 1, 2]);
        assert_eq!(left_pad(&[1, 2, 3, 4], 4), vec![1, 2, 3, 4]);
    }
}
