//! strongSwan-style proposal strings and responder selection (RFC 7296 §2.7,
//! §3.3.6).
//!
//! # Grammar
//!
//! A proposal list is proposals separated by commas; a proposal is algorithm
//! keywords separated by dashes, as in swanctl.conf (`proposals`,
//! `esp_proposals`). Keywords are strongSwan's (its
//! `proposal_keywords_static.txt`), restricted to what vtid implements:
//!
//! Every keyword of strongSwan's table is recognised ([`KEYWORDS`]); vtid
//! implements these (the *legacy* ones are for older peers, never in the
//! defaults, and warned about once at load):
//!
//! | type  | keywords |
//! |-------|----------|
//! | ENCR  | `aes` `aes128` `aes192` `aes256` (AES-CBC); `aes{128,192,256}gcm16`, `…gcm128`, `…gcm` (AES-GCM-16, 192 only for ESP); `chacha20poly1305`, `chacha20poly1305compat` (with Key Length 256); legacy: `3des`, `camellia` `camellia{128,192,256}` (CBC), `aes{128,192,256}ccm{8,12,16}` and `…ccm64/96/128`, `…ccm` (AES-CCM) |
//! | INTEG | `sha` `sha1` (HMAC_SHA1_96), `sha256` `sha2_256`, `sha384` `sha2_384`, `sha512` `sha2_512`; legacy: `md5` (HMAC_MD5_96), `aesxcbc`, `aescmac`, `sha256_96` `sha2_256_96` (strongSwan's private HMAC_SHA2_256_96) |
//! | PRF   | `prfsha1` `prfsha256` `prfsha384` `prfsha512`; legacy: `prfmd5`, `prfaesxcbc`, `prfaescmac` (IKE only; dropped from ESP, as strongSwan does) |
//! | KE    | `modp2048` `modp3072` `modp4096` `ecp256` `ecp384` `ecp521` `x25519` `curve25519`, `none`/`modpnone`; legacy: `modp1024` `modp1536` `modp1024s160` `modp2048s224` `modp2048s256` |
//! | ESN   | `esn` `noesn` (ESP only) |
//!
//! A proposal with a keyword of the table that vtid does not implement
//! (`des`, `blowfish`, `modp6144`, `ecp256bp`, `curve448`, ...) is dropped
//! alone by [`parse_proposals_lenient`], which the configuration loader
//! uses; the rest of the list still loads.
//!
//! Several algorithms of one type in a proposal are alternatives, in order
//! of preference. The whole token `default` stands for strongSwan 5.9's
//! default proposals restricted to what we implement (see
//! [`default_ike_proposals`], [`default_esp_proposals`]).
//!
//! The checks follow strongSwan 5.9's `check_proposal()`:
//! - IKE without a `prf…` keyword gets the PRFs matching its integrity
//!   algorithms (`sha256` → `prfsha256`, ...). An IKE proposal with only
//!   AEAD ciphers has no integrity algorithm to derive a PRF from, so
//!   `aes128gcm16-ecp256` is **rejected** ("a PRF algorithm is mandatory in
//!   IKE proposals"), as strongSwan 5.9 rejects it: write
//!   `aes128gcm16-prfsha256-ecp256`.
//! - `none` is removed from IKE proposals, and IKE needs a KE method.
//! - AEAD and non-AEAD ciphers cannot be mixed in one proposal; integrity
//!   algorithms are removed from all-AEAD proposals; non-AEAD IKE needs
//!   an integrity algorithm.
//! - ESP without `esn`/`noesn` gets NO_ESN.
//! - Deviation: an ESP proposal with AES-CBC and no integrity algorithm is
//!   rejected (strongSwan accepts it; unauthenticated CBC is not something a
//!   firewall should negotiate).
//!
//! # Selection
//!
//! [`select`] implements RFC 7296 §3.3.6 the way strongSwan does by
//! default: our configured proposals are tried in our order, each against
//! the peer's proposals in theirs, and for each transform type the first of
//! *our* algorithms the peer also offers is taken
//! ([`Preference::Configured`]). [`Preference::Peer`] (strongSwan's
//! `prefer_supplied`) walks the peer's order instead.

use core::fmt;

use crate::wire::{
    DhGroup, EncrId, EsnId, IntegId, PrfId, Proposal, ProtocolId, Transform, TransformAttr,
    TransformAttrType, TransformType,
};

/// Why a proposal string was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProposalError {
    /// A keyword we do not know (or do not implement).
    #[error("unknown or unsupported algorithm keyword '{keyword}' in proposal '{proposal}'")]
    UnknownKeyword {
        /// The keyword.
        keyword: String,
        /// The proposal it is in.
        proposal: String,
    },
    /// A keyword of strongSwan's table that vtid does not implement.
    #[error("algorithm '{keyword}' in proposal '{proposal}' is not supported: {reason}")]
    NotImplemented {
        /// The keyword.
        keyword: String,
        /// The proposal it is in.
        proposal: String,
        /// Why.
        reason: &'static str,
    },
    /// A keyword that exists but not for this protocol (e.g. `esn` in IKE,
    /// `aes192gcm16` for IKE).
    #[error("algorithm '{keyword}' is not supported in {protocol} proposals")]
    NotForProtocol {
        /// The keyword.
        keyword: String,
        /// IKE or ESP.
        protocol: ProtocolId,
    },
    /// The proposal is incomplete or inconsistent.
    #[error("invalid {protocol} proposal '{proposal}': {reason}")]
    Invalid {
        /// IKE or ESP.
        protocol: ProtocolId,
        /// The proposal string.
        proposal: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// An empty proposal list.
    #[error("empty proposal list")]
    Empty,
    /// Every proposal of the list was dropped.
    #[error("no usable proposal: {}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    NoneUsable(Vec<ProposalError>),
    /// Only IKE and ESP proposals are supported.
    #[error("proposals for protocol {0} are not supported")]
    UnsupportedProtocol(ProtocolId),
}

const ENCR: TransformType = TransformType::ENCR;
const PRF: TransformType = TransformType::PRF;
const INTEG: TransformType = TransformType::INTEG;
const KE: TransformType = TransformType::KE;
const ESN: TransformType = TransformType::ESN;

/// One keyword of strongSwan's proposal keyword table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keyword {
    /// The keyword, lower case.
    pub name: &'static str,
    /// Its transform type.
    pub ty: TransformType,
    /// Its transform ID (strongSwan's private-use IDs above 1023 included).
    pub id: u16,
    /// Its Key Length attribute in bits, if it has one.
    pub key_bits: Option<u16>,
}

const fn kw(name: &'static str, ty: TransformType, id: u16, bits: u16) -> Keyword {
    Keyword {
        name,
        ty,
        id,
        key_bits: if bits == 0 { None } else { Some(bits) },
    }
}

/// strongSwan's whole proposal keyword table (5.9's
/// `proposal_keywords_static.txt`, plus the 6.0 additions): every keyword
/// is recognised; [`implemented`] says which vtid can negotiate. A
/// proposal naming one it cannot is dropped with a warning naming the
/// keyword, the others of the list still load.
pub const KEYWORDS: &[Keyword] = &[
    kw("null", ENCR, 11, 0),
    kw("des", ENCR, 2, 0),
    kw("3des", ENCR, 3, 0),
    kw("aes", ENCR, 12, 128),
    kw("aes128", ENCR, 12, 128),
    kw("aes192", ENCR, 12, 192),
    kw("aes256", ENCR, 12, 256),
    kw("aes128ctr", ENCR, 13, 128),
    kw("aes192ctr", ENCR, 13, 192),
    kw("aes256ctr", ENCR, 13, 256),
    kw("aes128ccm8", ENCR, 14, 128),
    kw("aes128ccm64", ENCR, 14, 128),
    kw("aes128ccm12", ENCR, 15, 128),
    kw("aes128ccm96", ENCR, 15, 128),
    kw("aes128ccm16", ENCR, 16, 128),
    kw("aes128ccm128", ENCR, 16, 128),
    kw("aes128ccm", ENCR, 16, 128),
    kw("aes192ccm8", ENCR, 14, 192),
    kw("aes192ccm64", ENCR, 14, 192),
    kw("aes192ccm12", ENCR, 15, 192),
    kw("aes192ccm96", ENCR, 15, 192),
    kw("aes192ccm16", ENCR, 16, 192),
    kw("aes192ccm128", ENCR, 16, 192),
    kw("aes192ccm", ENCR, 16, 192),
    kw("aes256ccm8", ENCR, 14, 256),
    kw("aes256ccm64", ENCR, 14, 256),
    kw("aes256ccm12", ENCR, 15, 256),
    kw("aes256ccm96", ENCR, 15, 256),
    kw("aes256ccm16", ENCR, 16, 256),
    kw("aes256ccm128", ENCR, 16, 256),
    kw("aes256ccm", ENCR, 16, 256),
    kw("aes128gcm8", ENCR, 18, 128),
    kw("aes128gcm64", ENCR, 18, 128),
    kw("aes128gcm12", ENCR, 19, 128),
    kw("aes128gcm96", ENCR, 19, 128),
    kw("aes128gcm16", ENCR, 20, 128),
    kw("aes128gcm128", ENCR, 20, 128),
    kw("aes128gcm", ENCR, 20, 128),
    kw("aes192gcm8", ENCR, 18, 192),
    kw("aes192gcm64", ENCR, 18, 192),
    kw("aes192gcm12", ENCR, 19, 192),
    kw("aes192gcm96", ENCR, 19, 192),
    kw("aes192gcm16", ENCR, 20, 192),
    kw("aes192gcm128", ENCR, 20, 192),
    kw("aes192gcm", ENCR, 20, 192),
    kw("aes256gcm8", ENCR, 18, 256),
    kw("aes256gcm64", ENCR, 18, 256),
    kw("aes256gcm12", ENCR, 19, 256),
    kw("aes256gcm96", ENCR, 19, 256),
    kw("aes256gcm16", ENCR, 20, 256),
    kw("aes256gcm128", ENCR, 20, 256),
    kw("aes256gcm", ENCR, 20, 256),
    kw("aes128gmac", ENCR, 21, 128),
    kw("aes192gmac", ENCR, 21, 192),
    kw("aes256gmac", ENCR, 21, 256),
    kw("chacha20poly1305", ENCR, 28, 0),
    kw("chacha20poly1305compat", ENCR, 28, 256),
    kw("blowfish", ENCR, 7, 128),
    kw("blowfish128", ENCR, 7, 128),
    kw("blowfish192", ENCR, 7, 192),
    kw("blowfish256", ENCR, 7, 256),
    kw("camellia", ENCR, 23, 128),
    kw("camellia128", ENCR, 23, 128),
    kw("camellia192", ENCR, 23, 192),
    kw("camellia256", ENCR, 23, 256),
    kw("camellia128ctr", ENCR, 24, 128),
    kw("camellia192ctr", ENCR, 24, 192),
    kw("camellia256ctr", ENCR, 24, 256),
    kw("camellia128ccm8", ENCR, 25, 128),
    kw("camellia128ccm64", ENCR, 25, 128),
    kw("camellia128ccm12", ENCR, 26, 128),
    kw("camellia128ccm96", ENCR, 26, 128),
    kw("camellia128ccm16", ENCR, 27, 128),
    kw("camellia128ccm128", ENCR, 27, 128),
    kw("camellia192ccm8", ENCR, 25, 192),
    kw("camellia192ccm64", ENCR, 25, 192),
    kw("camellia192ccm12", ENCR, 26, 192),
    kw("camellia192ccm96", ENCR, 26, 192),
    kw("camellia192ccm16", ENCR, 27, 192),
    kw("camellia192ccm128", ENCR, 27, 192),
    kw("camellia256ccm8", ENCR, 25, 256),
    kw("camellia256ccm64", ENCR, 25, 256),
    kw("camellia256ccm12", ENCR, 26, 256),
    kw("camellia256ccm96", ENCR, 26, 256),
    kw("camellia256ccm16", ENCR, 27, 256),
    kw("camellia256ccm128", ENCR, 27, 256),
    kw("cast128", ENCR, 6, 128),
    // strongSwan's private-use IDs (ENCR_SERPENT_CBC, ENCR_TWOFISH_CBC).
    kw("serpent", ENCR, 1026, 128),
    kw("serpent128", ENCR, 1026, 128),
    kw("serpent192", ENCR, 1026, 192),
    kw("serpent256", ENCR, 1026, 256),
    kw("twofish", ENCR, 1027, 128),
    kw("twofish128", ENCR, 1027, 128),
    kw("twofish192", ENCR, 1027, 192),
    kw("twofish256", ENCR, 1027, 256),
    kw("sha", INTEG, 2, 0),
    kw("sha1", INTEG, 2, 0),
    kw("sha1_160", INTEG, 7, 0),
    kw("sha256", INTEG, 12, 0),
    kw("sha2_256", INTEG, 12, 0),
    // AUTH_HMAC_SHA2_256_96, strongSwan's private ID 1026.
    kw("sha256_96", INTEG, 1026, 0),
    kw("sha2_256_96", INTEG, 1026, 0),
    kw("sha384", INTEG, 13, 0),
    kw("sha2_384", INTEG, 13, 0),
    kw("sha512", INTEG, 14, 0),
    kw("sha2_512", INTEG, 14, 0),
    kw("md5", INTEG, 1, 0),
    kw("md5_128", INTEG, 6, 0),
    kw("aesxcbc", INTEG, 5, 0),
    // AUTH_CAMELLIA_XCBC_96, private ID 1030.
    kw("camelliaxcbc", INTEG, 1030, 0),
    kw("aescmac", INTEG, 8, 0),
    kw("prfsha1", PRF, 2, 0),
    kw("prfsha256", PRF, 5, 0),
    kw("prfsha384", PRF, 6, 0),
    kw("prfsha512", PRF, 7, 0),
    kw("prfmd5", PRF, 1, 0),
    kw("prfaesxcbc", PRF, 4, 0),
    // PRF_CAMELLIA128_XCBC, private ID 1028.
    kw("prfcamelliaxcbc", PRF, 1028, 0),
    kw("prfaescmac", PRF, 8, 0),
    kw("none", KE, 0, 0),
    kw("modpnone", KE, 0, 0),
    // MODP_NULL, private ID 1024 (strongSwan's insecure test group).
    kw("modpnull", KE, 1024, 0),
    kw("modp768", KE, 1, 0),
    kw("modp1024", KE, 2, 0),
    kw("modp1536", KE, 5, 0),
    kw("modp2048", KE, 14, 0),
    kw("modp3072", KE, 15, 0),
    kw("modp4096", KE, 16, 0),
    kw("modp6144", KE, 17, 0),
    kw("modp8192", KE, 18, 0),
    kw("ecp192", KE, 25, 0),
    kw("ecp224", KE, 26, 0),
    kw("ecp256", KE, 19, 0),
    kw("ecp384", KE, 20, 0),
    kw("ecp521", KE, 21, 0),
    kw("modp1024s160", KE, 22, 0),
    kw("modp2048s224", KE, 23, 0),
    kw("modp2048s256", KE, 24, 0),
    kw("ecp224bp", KE, 27, 0),
    kw("ecp256bp", KE, 28, 0),
    kw("ecp384bp", KE, 29, 0),
    kw("ecp512bp", KE, 30, 0),
    kw("curve25519", KE, 31, 0),
    kw("x25519", KE, 31, 0),
    kw("curve448", KE, 32, 0),
    kw("x448", KE, 32, 0),
    // 5.9 only: NTRU and NewHope (private IDs), removed in 6.0.
    kw("ntru112", KE, 1030, 0),
    kw("ntru128", KE, 1031, 0),
    kw("ntru192", KE, 1032, 0),
    kw("ntru256", KE, 1033, 0),
    kw("newhope128", KE, 1040, 0),
    // 6.0 additions.
    kw("gost256", KE, 33, 0),
    kw("gost512", KE, 34, 0),
    kw("mlkem512", KE, 35, 0),
    kw("mlkem768", KE, 36, 0),
    kw("mlkem1024", KE, 37, 0),
    kw("noesn", ESN, 0, 0),
    kw("esn", ESN, 1, 0),
];

/// The keyword entry for `name` (case-insensitive).
pub fn keyword(name: &str) -> Option<&'static Keyword> {
    KEYWORDS.iter().find(|k| k.name.eq_ignore_ascii_case(name))
}

/// Whether vtid can negotiate and run this transform in `protocol`
/// proposals, and if not, why.
pub fn implemented(protocol: ProtocolId, k: &Keyword) -> Result<(), &'static str> {
    use crate::crypto::{Encr, Integ, KeyExchange, Prf};
    let is_ike = protocol == ProtocolId::IKE;
    match k.ty {
        ENCR => {
            let t = transform(ENCR, k.id, k.key_bits);
            match Encr::from_transform(&t) {
                Ok(Encr::AesGcm16 { key_bits: 192 }) if is_ike => {
                    Err("AES-GCM with a 192-bit key is not supported for IKE")
                }
                Ok(_) => Ok(()),
                Err(_) => Err("encryption algorithm not implemented by vtid"),
            }
        }
        INTEG => Integ::from_id(IntegId(k.id))
            .map(|_| ())
            .map_err(|_| "integrity algorithm not implemented by vtid"),
        PRF if is_ike => Prf::from_id(PrfId(k.id))
            .map(|_| ())
            .map_err(|_| "PRF not implemented by vtid"),
        // PRFs are dropped from ESP proposals (strongSwan does the same).
        PRF => Ok(()),
        KE if k.id == DhGroup::NONE.0 || KeyExchange::is_supported(DhGroup(k.id)) => Ok(()),
        KE => Err("key exchange method not implemented by vtid"),
        ESN if is_ike => Err("ESN is an ESP transform"),
        ESN => Ok(()),
        _ => Err("unknown transform type"),
    }
}

/// The reasons, one per transform, why the algorithms of `p` are legacy
/// (RFC 8221/8247 no longer recommend them): what the daemon warns about
/// once at load. Empty for a modern proposal.
pub fn legacy_algorithms(p: &Proposal) -> Vec<&'static str> {
    use crate::crypto::{legacy_group, Encr, Integ, Prf};
    let mut out = Vec::new();
    for t in &p.transforms {
        let why = match t.ty {
            ENCR => Encr::from_transform(t).ok().and_then(Encr::legacy),
            INTEG => Integ::from_id(IntegId(t.id))
                .ok()
                .flatten()
                .and_then(Integ::legacy),
            PRF => Prf::from_id(PrfId(t.id)).ok().and_then(Prf::legacy),
            KE => legacy_group(DhGroup(t.id)),
            _ => None,
        };
        if let Some(w) = why {
            if !out.contains(&w) {
                out.push(w);
            }
        }
    }
    out
}

/// strongSwan 5.9 `proposal_create_default_aead(PROTO_IKE)` restricted to
/// what we implement (drops AES-GCM-16-192, AES-CCM, Camellia-CCM, the
/// Brainpool curves, Curve448, MODP 6144/8192).
const DEFAULT_IKE_AEAD: &str =
    "aes128gcm16-aes256gcm16-chacha20poly1305-prfsha256-prfsha384-prfsha512-prfsha1-\
                                ecp256-ecp384-ecp521-x25519-modp3072-modp4096-modp2048";
/// strongSwan 5.9 `proposal_create_default(PROTO_IKE)` restricted to what we
/// implement (drops AES-CTR, Camellia, 3DES, AES-XCBC/CMAC integrity and
/// PRFs, the Brainpool curves, Curve448, MODP 6144/8192).
const DEFAULT_IKE: &str =
    "aes128-aes192-aes256-sha256-sha384-sha512-sha1-prfsha256-prfsha384-prfsha512-prfsha1-\
                           ecp256-ecp384-ecp521-x25519-modp3072-modp4096-modp2048";
/// strongSwan 5.9 `proposal_create_default_aead(PROTO_ESP)`.
const DEFAULT_ESP_AEAD: &str = "aes128gcm16-aes192gcm16-aes256gcm16";
/// strongSwan 5.9 `proposal_create_default(PROTO_ESP)` without AES-XCBC.
const DEFAULT_ESP: &str = "aes128-aes192-aes256-sha256-sha384-sha512-sha1-noesn";

/// The canonical order of transform types in the proposals we build.
const TYPE_ORDER: [TransformType; 5] = [ENCR, PRF, INTEG, KE, ESN];

fn is_aead(t: &Transform) -> bool {
    t.ty == ENCR
        && crate::crypto::Encr::from_transform(t).map_or(
            !matches!(
                EncrId(t.id),
                EncrId::AES_CBC | EncrId::TRIPLE_DES | EncrId::CAMELLIA_CBC | EncrId::AES_CTR
            ),
            |e| e.is_aead(),
        )
}

fn transform(ty: TransformType, id: u16, bits: Option<u16>) -> Transform {
    match bits {
        Some(b) => Transform::with_key_length(ty, id, b),
        None => Transform::new(ty, id),
    }
}

/// Parses one dash-separated proposal (no `default`, no commas).
fn parse_one(protocol: ProtocolId, s: &str) -> Result<Proposal, ProposalError> {
    let is_ike = protocol == ProtocolId::IKE;
    let invalid = |reason| ProposalError::Invalid {
        protocol,
        proposal: s.to_string(),
        reason,
    };
    let mut by_type: Vec<(TransformType, Vec<Transform>)> =
        TYPE_ORDER.iter().map(|&t| (t, Vec::new())).collect();
    for kw in s.split('-') {
        let kw = kw.trim();
        let Some(entry) = keyword(kw) else {
            return Err(ProposalError::UnknownKeyword {
                keyword: kw.to_string(),
                proposal: s.to_string(),
            });
        };
        let (ty, id, bits) = (entry.ty, entry.id, entry.key_bits);
        if is_ike && (ty == ESN || (id == EncrId::AES_GCM_16.0 && ty == ENCR && bits == Some(192)))
        {
            return Err(ProposalError::NotForProtocol {
                keyword: kw.to_string(),
                protocol,
            });
        }
        if let Err(reason) = implemented(protocol, entry) {
            return Err(ProposalError::NotImplemented {
                keyword: kw.to_string(),
                proposal: s.to_string(),
                reason,
            });
        }
        if !is_ike && ty == PRF {
            // strongSwan removes PRFs from ESP/AH proposals.
            continue;
        }
        let t = transform(ty, id, bits);
        if let Some((_, list)) = by_type.iter_mut().find(|(k, _)| *k == ty) {
            if !list.contains(&t) {
                list.push(t);
            }
        }
    }
    let get = |by_type: &Vec<(TransformType, Vec<Transform>)>, ty| {
        by_type
            .iter()
            .find(|(k, _)| *k == ty)
            .map(|(_, l)| l.clone())
            .unwrap_or_default()
    };
    let encr = get(&by_type, ENCR);
    if encr.is_empty() {
        return Err(invalid("an encryption algorithm is mandatory"));
    }
    let all_aead = encr.iter().all(is_aead);
    let any_aead = encr.iter().any(is_aead);
    if any_aead && !all_aead {
        return Err(invalid(
            "classic and combined-mode (AEAD) encryption algorithms can't be in the same proposal",
        ));
    }
    let mut integ = get(&by_type, INTEG);
    if all_aead {
        integ.clear();
    } else if integ.is_empty() {
        return Err(invalid(
            "an integrity algorithm is mandatory with classic (non-AEAD) encryption",
        ));
    }
    let mut prf = get(&by_type, PRF);
    let mut ke = get(&by_type, KE);
    let mut esn = get(&by_type, ESN);
    if is_ike {
        if prf.is_empty() {
            // strongSwan: no explicit PRF → the PRFs of the integrity
            // algorithms, in their order; also for AEAD, whose integrity
            // algorithms are dropped only afterwards (check_proposal() in
            // proposal.c), so pfSense's `aes256gcm16-sha256-modp2048` has
            // PRF-HMAC-SHA2-256.
            for t in &get(&by_type, INTEG) {
                // strongSwan's integ_prf_map (proposal.c).
                let p = match IntegId(t.id) {
                    IntegId::HMAC_SHA1_96 | IntegId::HMAC_SHA1_160 => PrfId::HMAC_SHA1,
                    IntegId::HMAC_SHA2_256_128 => PrfId::HMAC_SHA2_256,
                    IntegId::HMAC_SHA2_384_192 => PrfId::HMAC_SHA2_384,
                    IntegId::HMAC_SHA2_512_256 => PrfId::HMAC_SHA2_512,
                    IntegId::HMAC_MD5_96 | IntegId::HMAC_MD5_128 => PrfId::HMAC_MD5,
                    IntegId::AES_XCBC_96 => PrfId::AES128_XCBC,
                    IntegId::AES_CMAC_96 => PrfId::AES128_CMAC,
                    _ => continue,
                };
                let pt = Transform::new(PRF, p.0);
                if !prf.contains(&pt) {
                    prf.push(pt);
                }
            }
        }
        if prf.is_empty() {
            return Err(invalid(
                "a PRF algorithm is mandatory in IKE proposals (AEAD ciphers need an explicit prf… keyword)",
            ));
        }
        ke.retain(|t| t.id != DhGroup::NONE.0);
        if ke.is_empty() {
            return Err(invalid(
                "a key exchange method is mandatory in IKE proposals",
            ));
        }
    } else if esn.is_empty() {
        esn.push(Transform::new(ESN, EsnId::NO_ESN.0));
    }
    let mut transforms = encr;
    transforms.extend(prf);
    transforms.extend(integ);
    transforms.extend(ke);
    transforms.extend(esn);
    Ok(Proposal {
        num: 0,
        protocol,
        spi: Vec::new(),
        transforms,
    })
}

/// A proposal list as far as it could be built: the usable proposals
/// (numbered from 1) and why the others were dropped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedList {
    /// The proposals that can be negotiated.
    pub proposals: Vec<Proposal>,
    /// One error per dropped proposal, naming it and the keyword at fault.
    pub dropped: Vec<ProposalError>,
}

/// Parses a comma-separated strongSwan proposal list for `protocol` (IKE or
/// ESP), dropping only the proposals that cannot be built: a proposal with
/// an algorithm vtid does not implement (`modp6144`, `blowfish`, ...) or an
/// unknown keyword is left out and reported in [`ParsedList::dropped`],
/// the rest of the list still counts. An error only when nothing is left.
pub fn parse_proposals_lenient(protocol: ProtocolId, s: &str) -> Result<ParsedList, ProposalError> {
    if protocol != ProtocolId::IKE && protocol != ProtocolId::ESP {
        return Err(ProposalError::UnsupportedProtocol(protocol));
    }
    let mut out = Vec::new();
    let mut dropped = Vec::new();
    let mut one = |text: &str, out: &mut Vec<Proposal>| match parse_one(protocol, text) {
        Ok(p) => out.push(p),
        Err(e) => dropped.push(e),
    };
    for item in s.split(',').map(str::trim) {
        if item.is_empty() {
            continue;
        }
        if item.eq_ignore_ascii_case("default") {
            let (aead, classic) = if protocol == ProtocolId::IKE {
                (DEFAULT_IKE_AEAD, DEFAULT_IKE)
            } else {
                (DEFAULT_ESP_AEAD, DEFAULT_ESP)
            };
            one(aead, &mut out);
            one(classic, &mut out);
        } else {
            one(item, &mut out);
        }
    }
    if out.is_empty() {
        return Err(if dropped.is_empty() {
            ProposalError::Empty
        } else {
            ProposalError::NoneUsable(dropped)
        });
    }
    if out.len() > 255 {
        return Err(ProposalError::Invalid {
            protocol,
            proposal: s.to_string(),
            reason: "more than 255 proposals",
        });
    }
    for (i, p) in out.iter_mut().enumerate() {
        p.num = (i + 1) as u8;
    }
    Ok(ParsedList {
        proposals: out,
        dropped,
    })
}

/// Parses a comma-separated strongSwan proposal list for `protocol` (IKE or
/// ESP) into proposals numbered from 1, with empty SPIs; any proposal that
/// cannot be built is an error (see [`parse_proposals_lenient`] for the
/// configuration loader's behaviour).
pub fn parse_proposals(protocol: ProtocolId, s: &str) -> Result<Vec<Proposal>, ProposalError> {
    let list = match parse_proposals_lenient(protocol, s) {
        Ok(l) => l,
        Err(ProposalError::NoneUsable(v)) => {
            return Err(v.into_iter().next().unwrap_or(ProposalError::Empty))
        }
        Err(e) => return Err(e),
    };
    match list.dropped.into_iter().next() {
        Some(e) => Err(e),
        None => Ok(list.proposals),
    }
}

/// [`parse_proposals`] for IKE (swanctl `proposals`).
pub fn parse_ike_proposals(s: &str) -> Result<Vec<Proposal>, ProposalError> {
    parse_proposals(ProtocolId::IKE, s)
}

/// [`parse_proposals`] for ESP (swanctl `esp_proposals`). A KE method in an
/// ESP proposal means PFS for CREATE_CHILD_SA.
pub fn parse_esp_proposals(s: &str) -> Result<Vec<Proposal>, ProposalError> {
    parse_proposals(ProtocolId::ESP, s)
}

/// Our `default` IKE proposals: strongSwan 5.9's AEAD default then its
/// classic default, restricted to what we implement:
///
/// 1. `aes128gcm16-aes256gcm16-chacha20poly1305-prfsha256-prfsha384-prfsha512-prfsha1-ecp256-ecp384-ecp521-x25519-modp3072-modp4096-modp2048`
/// 2. `aes128-aes192-aes256-sha256-sha384-sha512-sha1-prfsha256-prfsha384-prfsha512-prfsha1-ecp256-ecp384-ecp521-x25519-modp3072-modp4096-modp2048`
pub fn default_ike_proposals() -> Vec<Proposal> {
    parse_ike_proposals("default").unwrap_or_default()
}

/// Our `default` ESP proposals: `aes128gcm16-aes192gcm16-aes256gcm16` then
/// `aes128-aes192-aes256-sha256-sha384-sha512-sha1-noesn` (strongSwan 5.9's,
/// without AES-XCBC).
pub fn default_esp_proposals() -> Vec<Proposal> {
    parse_esp_proposals("default").unwrap_or_default()
}

/// Whose order wins when several algorithms would do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Preference {
    /// Ours (strongSwan's default).
    #[default]
    Configured,
    /// The peer's (strongSwan's `prefer_supplied`).
    Peer,
}

/// How [`select`] chooses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SelectOptions {
    /// Whose order of preference wins.
    pub prefer: Preference,
    /// Ignore KE transforms on both sides: for the CHILD SA created by
    /// IKE_AUTH, whose keys come from the IKE SA's exchange (RFC 7296 §1.2:
    /// the KE transforms are ignored there), so a configured PFS group still
    /// matches a peer's proposal with or without one.
    pub ignore_ke: bool,
}

impl SelectOptions {
    /// Options for the first CHILD SA (in IKE_AUTH): KE transforms ignored.
    pub fn first_child_sa() -> Self {
        SelectOptions {
            prefer: Preference::Configured,
            ignore_ke: true,
        }
    }
}

/// No acceptable proposal: answer with a NO_PROPOSAL_CHOSEN notification
/// (RFC 7296 §3.10.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("NO_PROPOSAL_CHOSEN: none of the peer's proposals is acceptable")]
pub struct NoProposalChosen;

fn is_ke_type(ty: TransformType) -> bool {
    ty == KE || (TransformType::ADDKE1.0..=TransformType::ADDKE7.0).contains(&ty.0)
}

/// A proposal without its KE (and additional KE) transforms.
pub fn strip_ke(p: &Proposal) -> Proposal {
    Proposal {
        num: p.num,
        protocol: p.protocol,
        spi: p.spi.clone(),
        transforms: p
            .transforms
            .iter()
            .filter(|t| !is_ke_type(t.ty))
            .cloned()
            .collect(),
    }
}

/// Whether two transforms are the same algorithm with the same key length;
/// a peer transform with an attribute other than Key Length is never
/// acceptable (RFC 7296 §3.3.6).
fn transform_matches(ours: &Transform, theirs: &Transform) -> bool {
    ours.ty == theirs.ty
        && ours.id == theirs.id
        && ours.key_length() == theirs.key_length()
        && theirs.attributes.iter().all(
            |a| matches!(a, TransformAttr::Tv { ty, .. } if *ty == TransformAttrType::KEY_LENGTH),
        )
}

/// A type may be absent on one side if the other side offers its NONE value
/// (KE NONE = PFS optional, INTEG NONE with AEAD), or for ESN, NO_ESN.
fn absent_ok(list: &[&Transform], ty: TransformType) -> bool {
    list.iter().any(|t| {
        (t.id == 0 && (is_ke_type(ty) || ty == INTEG)) || (ty == ESN && t.id == EsnId::NO_ESN.0)
    })
}

/// The single-choice proposal for `ours` against `theirs`, if acceptable.
fn match_one(ours: &Proposal, theirs: &Proposal, prefer: Preference) -> Option<Proposal> {
    if ours.protocol != theirs.protocol {
        return None;
    }
    let mut types: Vec<TransformType> = Vec::new();
    for t in ours.transforms.iter().chain(&theirs.transforms) {
        if !types.contains(&t.ty) {
            types.push(t.ty);
        }
    }
    types.sort_by_key(|ty| {
        TYPE_ORDER
            .iter()
            .position(|o| o == ty)
            .unwrap_or(usize::MAX)
    });
    let mut chosen = Vec::new();
    for ty in types {
        let o: Vec<&Transform> = ours.transforms.iter().filter(|t| t.ty == ty).collect();
        let t: Vec<&Transform> = theirs.transforms.iter().filter(|t| t.ty == ty).collect();
        match (o.is_empty(), t.is_empty()) {
            (true, true) => {}
            (false, true) => {
                if !absent_ok(&o, ty) {
                    return None;
                }
            }
            (true, false) => {
                // Echo the peer's NONE so the reply has each offered type.
                let none = t
                    .iter()
                    .find(|x| x.id == 0 && (is_ke_type(ty) || ty == INTEG))?;
                chosen.push((*none).clone());
            }
            (false, false) => {
                let pick = match prefer {
                    Preference::Configured => o
                        .iter()
                        .find_map(|a| t.iter().find(|b| transform_matches(a, b)))
                        .copied(),
                    Preference::Peer => t
                        .iter()
                        .find(|b| o.iter().any(|a| transform_matches(a, b)))
                        .copied(),
                }?;
                chosen.push(pick.clone());
            }
        }
    }
    Some(Proposal {
        num: theirs.num,
        protocol: theirs.protocol,
        spi: theirs.spi.clone(),
        transforms: chosen,
    })
}

/// Responder selection (RFC 7296 §2.7, §3.3.6): the first acceptable
/// combination, as a single proposal with exactly one transform of each
/// type the peer offered, carrying the peer's proposal number and SPI.
/// Replace the SPI with ours before sending it back in a CHILD SA or IKE SA
/// rekey.
pub fn select(
    configured: &[Proposal],
    offered: &[Proposal],
    opts: SelectOptions,
) -> Result<Proposal, NoProposalChosen> {
    let (cfg, off): (Vec<Proposal>, Vec<Proposal>) = if opts.ignore_ke {
        (
            configured.iter().map(strip_ke).collect(),
            offered.iter().map(strip_ke).collect(),
        )
    } else {
        (configured.to_vec(), offered.to_vec())
    };
    match opts.prefer {
        Preference::Configured => cfg
            .iter()
            .find_map(|c| off.iter().find_map(|o| match_one(c, o, opts.prefer))),
        Preference::Peer => off
            .iter()
            .find_map(|o| cfg.iter().find_map(|c| match_one(c, o, opts.prefer))),
    }
    .ok_or(NoProposalChosen)
}

fn encr_name(id: u16) -> String {
    match EncrId(id) {
        EncrId::AES_CBC => "AES_CBC".into(),
        EncrId::AES_GCM_16 => "AES_GCM_16".into(),
        EncrId::CHACHA20_POLY1305 => "CHACHA20_POLY1305".into(),
        EncrId::TRIPLE_DES => "3DES_CBC".into(),
        EncrId::CAMELLIA_CBC => "CAMELLIA_CBC".into(),
        e => e
            .name()
            .map_or_else(|| format!("UNKNOWN_1_{id}"), str::to_string),
    }
}

fn ke_name(id: u16) -> String {
    match DhGroup(id) {
        DhGroup::NONE => "KE_NONE".into(),
        DhGroup::CURVE25519 => "CURVE_25519".into(),
        DhGroup::CURVE448 => "CURVE_448".into(),
        g => match g.name() {
            Some(n) if n.starts_with("MODP") || n.starts_with("ECP") => {
                // MODP2048 -> MODP_2048, ECP256 -> ECP_256.
                let split = n.find(|c: char| c.is_ascii_digit()).unwrap_or(n.len());
                format!("{}_{}", &n[..split], &n[split..])
            }
            Some(n) => n.to_string(),
            None => format!("UNKNOWN_4_{id}"),
        },
    }
}

struct Name<'a>(&'a Proposal);

impl fmt::Display for Name<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for ty in [ENCR, INTEG, PRF, KE, ESN] {
            for t in self.0.transforms.iter().filter(|t| t.ty == ty) {
                if !first {
                    f.write_str("/")?;
                }
                first = false;
                let name = match ty {
                    ENCR => encr_name(t.id),
                    INTEG if IntegId(t.id) == crate::crypto::HMAC_SHA2_256_96_PRIVATE => {
                        "HMAC_SHA2_256_96".into()
                    }
                    INTEG => IntegId(t.id)
                        .name()
                        .map_or_else(|| format!("UNKNOWN_3_{}", t.id), str::to_string),
                    PRF => PrfId(t.id)
                        .name()
                        .map_or_else(|| format!("UNKNOWN_2_{}", t.id), |n| format!("PRF_{n}")),
                    KE => ke_name(t.id),
                    _ => match EsnId(t.id) {
                        EsnId::NO_ESN => "NO_EXT_SEQ".into(),
                        EsnId::ESN => "EXT_SEQ".into(),
                        _ => format!("UNKNOWN_5_{}", t.id),
                    },
                };
                f.write_str(&name)?;
                if let Some(bits) = t.key_length() {
                    write!(f, "_{bits}")?;
                }
            }
        }
        Ok(())
    }
}

/// The proposal as strongSwan names it in its logs ("selected proposal:
/// IKE:AES_GCM_16_128/PRF_HMAC_SHA2_256/ECP_256"), without the protocol
/// prefix: `AES_GCM_16_128/PRF_HMAC_SHA2_256/ECP_256`. Types are printed in
/// the order ENCR, INTEG, PRF, KE, ESN.
pub fn proposal_name(p: &Proposal) -> String {
    Name(p).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(p: &Proposal, ty: TransformType) -> Vec<(u16, Option<u16>)> {
        p.transforms
            .iter()
            .filter(|t| t.ty == ty)
            .map(|t| (t.id, t.key_length()))
            .collect()
    }

    #[test]
    fn ike_aead_with_prf() {
        let p = parse_ike_proposals("aes128gcm16-prfsha256-ecp256").unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].num, 1);
        assert_eq!(p[0].protocol, ProtocolId::IKE);
        assert_eq!(ids(&p[0], ENCR), vec![(20, Some(128))]);
        assert_eq!(ids(&p[0], PRF), vec![(5, None)]);
        assert!(ids(&p[0], INTEG).is_empty());
        assert_eq!(ids(&p[0], KE), vec![(19, None)]);
        assert_eq!(
            proposal_name(&p[0]),
            "AES_GCM_16_128/PRF_HMAC_SHA2_256/ECP_256"
        );
    }

    #[test]
    fn ike_classic_derives_prf() {
        let p = parse_ike_proposals("aes256-sha384-modp3072").unwrap();
        assert_eq!(ids(&p[0], ENCR), vec![(12, Some(256))]);
        assert_eq!(ids(&p[0], INTEG), vec![(13, None)]);
        assert_eq!(ids(&p[0], PRF), vec![(6, None)]);
        assert_eq!(ids(&p[0], KE), vec![(15, None)]);
        assert_eq!(
            proposal_name(&p[0]),
            "AES_CBC_256/HMAC_SHA2_384_192/PRF_HMAC_SHA2_384/MODP_3072"
        );
        let p = parse_ike_proposals("aes256-sha256-modp2048").unwrap();
        assert_eq!(ids(&p[0], PRF), vec![(5, None)]);
        let p = parse_ike_proposals("aes128-sha256-ecp256").unwrap();
        assert_eq!(ids(&p[0], ENCR), vec![(12, Some(128))]);
    }

    #[test]
    fn ike_chacha_and_x25519() {
        let p = parse_ike_proposals("chacha20poly1305-prfsha256-x25519").unwrap();
        assert_eq!(ids(&p[0], ENCR), vec![(28, None)]);
        assert_eq!(ids(&p[0], KE), vec![(31, None)]);
        assert_eq!(
            proposal_name(&p[0]),
            "CHACHA20_POLY1305/PRF_HMAC_SHA2_256/CURVE_25519"
        );
        let p = parse_ike_proposals("aes256gcm16-prfsha384-x25519").unwrap();
        assert_eq!(ids(&p[0], ENCR), vec![(20, Some(256))]);
        let p = parse_ike_proposals("chacha20poly1305-prfsha256-ecp384").unwrap();
        assert_eq!(ids(&p[0], KE), vec![(20, None)]);
    }

    #[test]
    fn ike_aead_without_prf_is_rejected_like_strongswan() {
        let e = parse_ike_proposals("aes128gcm16-ecp256").unwrap_err();
        assert!(matches!(e, ProposalError::Invalid { .. }), "{e}");
        assert!(e.to_string().contains("PRF"));
    }

    #[test]
    fn several_of_one_type_and_lists() {
        let p = parse_ike_proposals(
            "aes256-aes128-sha256-sha384-ecp384-ecp256-modp3072, aes256gcm16-aes128gcm16-prfsha384-prfsha256-x25519",
        )
        .unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!((p[0].num, p[1].num), (1, 2));
        assert_eq!(ids(&p[0], ENCR), vec![(12, Some(256)), (12, Some(128))]);
        assert_eq!(ids(&p[0], PRF), vec![(5, None), (6, None)]);
        assert_eq!(ids(&p[0], KE), vec![(20, None), (19, None), (15, None)]);
        assert_eq!(ids(&p[1], PRF), vec![(6, None), (5, None)]);
        // Order of different kinds does not matter.
        let a = parse_ike_proposals("aes256gcm16-prfsha384-ecp384-aes192-sha1");
        assert!(a.is_err(), "AEAD and classic mixed");
    }

    #[test]
    fn unknown_keyword_is_named() {
        let e = parse_ike_proposals("aes256-sha256-modp2048-frobnicate").unwrap_err();
        assert_eq!(
            e,
            ProposalError::UnknownKeyword {
                keyword: "frobnicate".into(),
                proposal: "aes256-sha256-modp2048-frobnicate".into()
            }
        );
        assert!(e.to_string().contains("'frobnicate'"));
        assert!(parse_ike_proposals("3des-sha1-modp1024").is_ok());
        assert!(matches!(
            parse_ike_proposals("des-sha1-modp1024"),
            Err(ProposalError::NotImplemented { .. })
        ));
        assert!(matches!(
            parse_ike_proposals("aes192gcm16-prfsha256-ecp256"),
            Err(ProposalError::NotForProtocol { .. })
        ));
        assert!(matches!(
            parse_ike_proposals("aes128-sha256-ecp256-esn"),
            Err(ProposalError::NotForProtocol { .. })
        ));
        assert_eq!(parse_ike_proposals(" , "), Err(ProposalError::Empty));
        assert!(parse_ike_proposals("aes128-sha256").is_err(), "no KE");
        assert!(
            parse_ike_proposals("aes128-ecp256").is_err(),
            "no integrity"
        );
    }

    #[test]
    fn esp() {
        let p = parse_esp_proposals("aes128gcm16").unwrap();
        assert_eq!(p[0].protocol, ProtocolId::ESP);
        assert_eq!(ids(&p[0], ENCR), vec![(20, Some(128))]);
        assert_eq!(ids(&p[0], ESN), vec![(0, None)]);
        assert!(ids(&p[0], KE).is_empty());
        assert_eq!(proposal_name(&p[0]), "AES_GCM_16_128/NO_EXT_SEQ");

        let p = parse_esp_proposals("aes256gcm16-ecp256").unwrap();
        assert_eq!(ids(&p[0], KE), vec![(19, None)]);

        let p = parse_esp_proposals("aes256-sha256").unwrap();
        assert_eq!(ids(&p[0], INTEG), vec![(12, None)]);
        assert!(ids(&p[0], PRF).is_empty());

        let p = parse_esp_proposals("chacha20poly1305-esn-noesn").unwrap();
        assert_eq!(ids(&p[0], ESN), vec![(1, None), (0, None)]);
        let p = parse_esp_proposals("aes256gcm16-esn").unwrap();
        assert_eq!(ids(&p[0], ESN), vec![(1, None)]);

        // PRF keywords are dropped from ESP, as strongSwan does.
        let p = parse_esp_proposals("aes256-sha256-prfsha256").unwrap();
        assert!(ids(&p[0], PRF).is_empty());
        // Deviation from strongSwan: no unauthenticated CBC.
        assert!(parse_esp_proposals("aes256").is_err());
    }

    #[test]
    fn defaults() {
        let ike = parse_ike_proposals("default").unwrap();
        assert_eq!(ike, default_ike_proposals());
        assert_eq!(ike.len(), 2);
        assert!(ike[0]
            .transforms
            .iter()
            .filter(|t| t.ty == ENCR)
            .all(is_aead));
        assert!(!ike[1].transforms.iter().any(is_aead));
        let esp = default_esp_proposals();
        assert_eq!(esp.len(), 2);
        assert_eq!(ids(&esp[1], ESN), vec![(0, None)]);
        let mixed = parse_ike_proposals("aes256-sha256-modp2048,default").unwrap();
        assert_eq!(mixed.len(), 3);
        assert_eq!(
            mixed.iter().map(|p| p.num).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
    }

    fn offer(s: &str, proto: ProtocolId, spi: &[u8]) -> Vec<Proposal> {
        let mut v = parse_proposals(proto, s).unwrap();
        for p in &mut v {
            p.spi = spi.to_vec();
        }
        v
    }

    #[test]
    fn select_prefers_ours() {
        let ours = parse_ike_proposals("aes256gcm16-aes128gcm16-prfsha384-prfsha256-ecp384-ecp256")
            .unwrap();
        let theirs = offer(
            "aes128-sha256-modp2048,aes128gcm16-aes256gcm16-prfsha256-prfsha384-ecp256-ecp384",
            ProtocolId::IKE,
            &[],
        );
        let s = select(&ours, &theirs, SelectOptions::default()).unwrap();
        assert_eq!(s.num, 2);
        assert_eq!(
            proposal_name(&s),
            "AES_GCM_16_256/PRF_HMAC_SHA2_384/ECP_384"
        );
        assert_eq!(s.transforms.len(), 3);

        let s = select(
            &ours,
            &theirs,
            SelectOptions {
                prefer: Preference::Peer,
                ignore_ke: false,
            },
        )
        .unwrap();
        assert_eq!(
            proposal_name(&s),
            "AES_GCM_16_128/PRF_HMAC_SHA2_256/ECP_256"
        );
    }

    #[test]
    fn select_no_proposal_chosen() {
        let ours = parse_ike_proposals("aes256gcm16-prfsha384-ecp384").unwrap();
        let theirs = offer("aes256gcm16-prfsha384-ecp256", ProtocolId::IKE, &[]);
        assert_eq!(
            select(&ours, &theirs, SelectOptions::default()),
            Err(NoProposalChosen)
        );
        // Key length must match.
        let theirs = offer("aes128gcm16-prfsha384-ecp384", ProtocolId::IKE, &[]);
        assert_eq!(
            select(&ours, &theirs, SelectOptions::default()),
            Err(NoProposalChosen)
        );
        // Protocol must match.
        let theirs = offer("aes256gcm16-ecp384", ProtocolId::ESP, &[1, 2, 3, 4]);
        assert_eq!(
            select(&ours, &theirs, SelectOptions::default()),
            Err(NoProposalChosen)
        );
    }

    #[test]
    fn select_esp_keeps_spi_and_handles_ke() {
        let ours = parse_esp_proposals("aes256gcm16-ecp256").unwrap();
        let theirs = offer(
            "aes128gcm16-aes256gcm16-ecp256-modp2048",
            ProtocolId::ESP,
            &[1, 2, 3, 4],
        );
        let s = select(&ours, &theirs, SelectOptions::default()).unwrap();
        assert_eq!(s.spi, vec![1, 2, 3, 4]);
        assert_eq!(proposal_name(&s), "AES_GCM_16_256/ECP_256/NO_EXT_SEQ");

        // In IKE_AUTH the peer sends no KE (or one): ignore KE on both sides.
        let theirs = offer("aes256gcm16", ProtocolId::ESP, &[9, 9, 9, 9]);
        assert_eq!(
            select(&ours, &theirs, SelectOptions::default()),
            Err(NoProposalChosen)
        );
        let s = select(&ours, &theirs, SelectOptions::first_child_sa()).unwrap();
        assert_eq!(proposal_name(&s), "AES_GCM_16_256/NO_EXT_SEQ");
        assert!(s.transforms.iter().all(|t| t.ty != KE));

        // KE NONE offered by the peer: PFS optional, we have none configured.
        let ours = parse_esp_proposals("aes256gcm16").unwrap();
        let theirs = offer("aes256gcm16-ecp256-none", ProtocolId::ESP, &[1, 1, 1, 1]);
        let s = select(&ours, &theirs, SelectOptions::default()).unwrap();
        assert_eq!(ids(&s, KE), vec![(0, None)]);
    }

    #[test]
    fn select_rejects_unknown_attributes() {
        let ours = parse_esp_proposals("aes256gcm16").unwrap();
        let mut theirs = offer("aes256gcm16", ProtocolId::ESP, &[1, 2, 3, 4]);
        theirs[0].transforms[0].attributes.push(TransformAttr::Tv {
            ty: TransformAttrType(99),
            value: 1,
        });
        assert_eq!(
            select(&ours, &theirs, SelectOptions::default()),
            Err(NoProposalChosen)
        );
    }
}
