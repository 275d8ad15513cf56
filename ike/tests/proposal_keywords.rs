//! Walks strongSwan's whole proposal keyword table (issue 15 §3): every
//! keyword of `src/libstrongswan/crypto/proposal/proposal_keywords_static.txt`
//! (strongSwan 5.9.8, plus what 6.0 added) is recognised, maps to its
//! transform, and either builds a usable proposal or is dropped with an
//! error naming it; the set vtid implements is pinned here.
//!
//! The table below is transcribed from strongSwan's file, with its
//! symbolic algorithm names resolved from `signer.h`, `crypter.h`, `prf.h`
//! and `key_exchange.h` (name, type, transform ID, key size in bits).

use ike::crypto::Suite;
use ike::proposal::{parse_ike_proposals, parse_proposals, parse_proposals_lenient, ProposalError};
use ike::wire::{ProtocolId, TransformType};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(clippy::upper_case_acronyms)]
enum Ty {
    ENCR,
    INTEG,
    PRF,
    KE,
    ESN,
}
use Ty::*;

const STRONGSWAN_TABLE: &[(&str, Ty, u16, u16)] = &[
    ("null", ENCR, 11, 0),                     // ENCR_NULL
    ("des", ENCR, 2, 0),                       // ENCR_DES
    ("3des", ENCR, 3, 0),                      // ENCR_3DES
    ("aes", ENCR, 12, 128),                    // ENCR_AES_CBC
    ("aes128", ENCR, 12, 128),                 // ENCR_AES_CBC
    ("aes192", ENCR, 12, 192),                 // ENCR_AES_CBC
    ("aes256", ENCR, 12, 256),                 // ENCR_AES_CBC
    ("aes128ctr", ENCR, 13, 128),              // ENCR_AES_CTR
    ("aes192ctr", ENCR, 13, 192),              // ENCR_AES_CTR
    ("aes256ctr", ENCR, 13, 256),              // ENCR_AES_CTR
    ("aes128ccm8", ENCR, 14, 128),             // ENCR_AES_CCM_ICV8
    ("aes128ccm64", ENCR, 14, 128),            // ENCR_AES_CCM_ICV8
    ("aes128ccm12", ENCR, 15, 128),            // ENCR_AES_CCM_ICV12
    ("aes128ccm96", ENCR, 15, 128),            // ENCR_AES_CCM_ICV12
    ("aes128ccm16", ENCR, 16, 128),            // ENCR_AES_CCM_ICV16
    ("aes128ccm128", ENCR, 16, 128),           // ENCR_AES_CCM_ICV16
    ("aes128ccm", ENCR, 16, 128),              // ENCR_AES_CCM_ICV16
    ("aes192ccm8", ENCR, 14, 192),             // ENCR_AES_CCM_ICV8
    ("aes192ccm64", ENCR, 14, 192),            // ENCR_AES_CCM_ICV8
    ("aes192ccm12", ENCR, 15, 192),            // ENCR_AES_CCM_ICV12
    ("aes192ccm96", ENCR, 15, 192),            // ENCR_AES_CCM_ICV12
    ("aes192ccm16", ENCR, 16, 192),            // ENCR_AES_CCM_ICV16
    ("aes192ccm128", ENCR, 16, 192),           // ENCR_AES_CCM_ICV16
    ("aes192ccm", ENCR, 16, 192),              // ENCR_AES_CCM_ICV16
    ("aes256ccm8", ENCR, 14, 256),             // ENCR_AES_CCM_ICV8
    ("aes256ccm64", ENCR, 14, 256),            // ENCR_AES_CCM_ICV8
    ("aes256ccm12", ENCR, 15, 256),            // ENCR_AES_CCM_ICV12
    ("aes256ccm96", ENCR, 15, 256),            // ENCR_AES_CCM_ICV12
    ("aes256ccm16", ENCR, 16, 256),            // ENCR_AES_CCM_ICV16
    ("aes256ccm128", ENCR, 16, 256),           // ENCR_AES_CCM_ICV16
    ("aes256ccm", ENCR, 16, 256),              // ENCR_AES_CCM_ICV16
    ("aes128gcm8", ENCR, 18, 128),             // ENCR_AES_GCM_ICV8
    ("aes128gcm64", ENCR, 18, 128),            // ENCR_AES_GCM_ICV8
    ("aes128gcm12", ENCR, 19, 128),            // ENCR_AES_GCM_ICV12
    ("aes128gcm96", ENCR, 19, 128),            // ENCR_AES_GCM_ICV12
    ("aes128gcm16", ENCR, 20, 128),            // ENCR_AES_GCM_ICV16
    ("aes128gcm128", ENCR, 20, 128),           // ENCR_AES_GCM_ICV16
    ("aes128gcm", ENCR, 20, 128),              // ENCR_AES_GCM_ICV16
    ("aes192gcm8", ENCR, 18, 192),             // ENCR_AES_GCM_ICV8
    ("aes192gcm64", ENCR, 18, 192),            // ENCR_AES_GCM_ICV8
    ("aes192gcm12", ENCR, 19, 192),            // ENCR_AES_GCM_ICV12
    ("aes192gcm96", ENCR, 19, 192),            // ENCR_AES_GCM_ICV12
    ("aes192gcm16", ENCR, 20, 192),            // ENCR_AES_GCM_ICV16
    ("aes192gcm128", ENCR, 20, 192),           // ENCR_AES_GCM_ICV16
    ("aes192gcm", ENCR, 20, 192),              // ENCR_AES_GCM_ICV16
    ("aes256gcm8", ENCR, 18, 256),             // ENCR_AES_GCM_ICV8
    ("aes256gcm64", ENCR, 18, 256),            // ENCR_AES_GCM_ICV8
    ("aes256gcm12", ENCR, 19, 256),            // ENCR_AES_GCM_ICV12
    ("aes256gcm96", ENCR, 19, 256),            // ENCR_AES_GCM_ICV12
    ("aes256gcm16", ENCR, 20, 256),            // ENCR_AES_GCM_ICV16
    ("aes256gcm128", ENCR, 20, 256),           // ENCR_AES_GCM_ICV16
    ("aes256gcm", ENCR, 20, 256),              // ENCR_AES_GCM_ICV16
    ("aes128gmac", ENCR, 21, 128),             // ENCR_NULL_AUTH_AES_GMAC
    ("aes192gmac", ENCR, 21, 192),             // ENCR_NULL_AUTH_AES_GMAC
    ("aes256gmac", ENCR, 21, 256),             // ENCR_NULL_AUTH_AES_GMAC
    ("chacha20poly1305", ENCR, 28, 0),         // ENCR_CHACHA20_POLY1305
    ("chacha20poly1305compat", ENCR, 28, 256), // ENCR_CHACHA20_POLY1305
    ("blowfish", ENCR, 7, 128),                // ENCR_BLOWFISH
    ("blowfish128", ENCR, 7, 128),             // ENCR_BLOWFISH
    ("blowfish192", ENCR, 7, 192),             // ENCR_BLOWFISH
    ("blowfish256", ENCR, 7, 256),             // ENCR_BLOWFISH
    ("camellia", ENCR, 23, 128),               // ENCR_CAMELLIA_CBC
    ("camellia128", ENCR, 23, 128),            // ENCR_CAMELLIA_CBC
    ("camellia192", ENCR, 23, 192),            // ENCR_CAMELLIA_CBC
    ("camellia256", ENCR, 23, 256),            // ENCR_CAMELLIA_CBC
    ("camellia128ctr", ENCR, 24, 128),         // ENCR_CAMELLIA_CTR
    ("camellia192ctr", ENCR, 24, 192),         // ENCR_CAMELLIA_CTR
    ("camellia256ctr", ENCR, 24, 256),         // ENCR_CAMELLIA_CTR
    ("camellia128ccm8", ENCR, 25, 128),        // ENCR_CAMELLIA_CCM_ICV8
    ("camellia128ccm64", ENCR, 25, 128),       // ENCR_CAMELLIA_CCM_ICV8
    ("camellia128ccm12", ENCR, 26, 128),       // ENCR_CAMELLIA_CCM_ICV12
    ("camellia128ccm96", ENCR, 26, 128),       // ENCR_CAMELLIA_CCM_ICV12
    ("camellia128ccm16", ENCR, 27, 128),       // ENCR_CAMELLIA_CCM_ICV16
    ("camellia128ccm128", ENCR, 27, 128),      // ENCR_CAMELLIA_CCM_ICV16
    ("camellia192ccm8", ENCR, 25, 192),        // ENCR_CAMELLIA_CCM_ICV8
    ("camellia192ccm64", ENCR, 25, 192),       // ENCR_CAMELLIA_CCM_ICV8
    ("camellia192ccm12", ENCR, 26, 192),       // ENCR_CAMELLIA_CCM_ICV12
    ("camellia192ccm96", ENCR, 26, 192),       // ENCR_CAMELLIA_CCM_ICV12
    ("camellia192ccm16", ENCR, 27, 192),       // ENCR_CAMELLIA_CCM_ICV16
    ("camellia192ccm128", ENCR, 27, 192),      // ENCR_CAMELLIA_CCM_ICV16
    ("camellia256ccm8", ENCR, 25, 256),        // ENCR_CAMELLIA_CCM_ICV8
    ("camellia256ccm64", ENCR, 25, 256),       // ENCR_CAMELLIA_CCM_ICV8
    ("camellia256ccm12", ENCR, 26, 256),       // ENCR_CAMELLIA_CCM_ICV12
    ("camellia256ccm96", ENCR, 26, 256),       // ENCR_CAMELLIA_CCM_ICV12
    ("camellia256ccm16", ENCR, 27, 256),       // ENCR_CAMELLIA_CCM_ICV16
    ("camellia256ccm128", ENCR, 27, 256),      // ENCR_CAMELLIA_CCM_ICV16
    ("cast128", ENCR, 6, 128),                 // ENCR_CAST
    ("serpent", ENCR, 1026, 128),              // ENCR_SERPENT_CBC
    ("serpent128", ENCR, 1026, 128),           // ENCR_SERPENT_CBC
    ("serpent192", ENCR, 1026, 192),           // ENCR_SERPENT_CBC
    ("serpent256", ENCR, 1026, 256),           // ENCR_SERPENT_CBC
    ("twofish", ENCR, 1027, 128),              // ENCR_TWOFISH_CBC
    ("twofish128", ENCR, 1027, 128),           // ENCR_TWOFISH_CBC
    ("twofish192", ENCR, 1027, 192),           // ENCR_TWOFISH_CBC
    ("twofish256", ENCR, 1027, 256),           // ENCR_TWOFISH_CBC
    ("sha", INTEG, 2, 0),                      // AUTH_HMAC_SHA1_96
    ("sha1", INTEG, 2, 0),                     // AUTH_HMAC_SHA1_96
    ("sha1_160", INTEG, 7, 0),                 // AUTH_HMAC_SHA1_160
    ("sha256", INTEG, 12, 0),                  // AUTH_HMAC_SHA2_256_128
    ("sha2_256", INTEG, 12, 0),                // AUTH_HMAC_SHA2_256_128
    ("sha256_96", INTEG, 1026, 0),             // AUTH_HMAC_SHA2_256_96
    ("sha2_256_96", INTEG, 1026, 0),           // AUTH_HMAC_SHA2_256_96
    ("sha384", INTEG, 13, 0),                  // AUTH_HMAC_SHA2_384_192
    ("sha2_384", INTEG, 13, 0),                // AUTH_HMAC_SHA2_384_192
    ("sha512", INTEG, 14, 0),                  // AUTH_HMAC_SHA2_512_256
    ("sha2_512", INTEG, 14, 0),                // AUTH_HMAC_SHA2_512_256
    ("md5", INTEG, 1, 0),                      // AUTH_HMAC_MD5_96
    ("md5_128", INTEG, 6, 0),                  // AUTH_HMAC_MD5_128
    ("aesxcbc", INTEG, 5, 0),                  // AUTH_AES_XCBC_96
    ("camelliaxcbc", INTEG, 1030, 0),          // AUTH_CAMELLIA_XCBC_96
    ("aescmac", INTEG, 8, 0),                  // AUTH_AES_CMAC_96
    ("prfsha1", PRF, 2, 0),                    // PRF_HMAC_SHA1
    ("prfsha256", PRF, 5, 0),                  // PRF_HMAC_SHA2_256
    ("prfsha384", PRF, 6, 0),                  // PRF_HMAC_SHA2_384
    ("prfsha512", PRF, 7, 0),                  // PRF_HMAC_SHA2_512
    ("prfmd5", PRF, 1, 0),                     // PRF_HMAC_MD5
    ("prfaesxcbc", PRF, 4, 0),                 // PRF_AES128_XCBC
    ("prfcamelliaxcbc", PRF, 1028, 0),         // PRF_CAMELLIA128_XCBC
    ("prfaescmac", PRF, 8, 0),                 // PRF_AES128_CMAC
    ("none", KE, 0, 0),                        // KE_NONE
    ("modpnone", KE, 0, 0),                    // KE_NONE
    ("modpnull", KE, 1024, 0),                 // MODP_NULL
    ("modp768", KE, 1, 0),                     // MODP_768_BIT
    ("modp1024", KE, 2, 0),                    // MODP_1024_BIT
    ("modp1536", KE, 5, 0),                    // MODP_1536_BIT
    ("modp2048", KE, 14, 0),                   // MODP_2048_BIT
    ("modp3072", KE, 15, 0),                   // MODP_3072_BIT
    ("modp4096", KE, 16, 0),                   // MODP_4096_BIT
    ("modp6144", KE, 17, 0),                   // MODP_6144_BIT
    ("modp8192", KE, 18, 0),                   // MODP_8192_BIT
    ("ecp192", KE, 25, 0),                     // ECP_192_BIT
    ("ecp224", KE, 26, 0),                     // ECP_224_BIT
    ("ecp256", KE, 19, 0),                     // ECP_256_BIT
    ("ecp384", KE, 20, 0),                     // ECP_384_BIT
    ("ecp521", KE, 21, 0),                     // ECP_521_BIT
    ("modp1024s160", KE, 22, 0),               // MODP_1024_160
    ("modp2048s224", KE, 23, 0),               // MODP_2048_224
    ("modp2048s256", KE, 24, 0),               // MODP_2048_256
    ("ecp224bp", KE, 27, 0),                   // ECP_224_BP
    ("ecp256bp", KE, 28, 0),                   // ECP_256_BP
    ("ecp384bp", KE, 29, 0),                   // ECP_384_BP
    ("ecp512bp", KE, 30, 0),                   // ECP_512_BP
    ("curve25519", KE, 31, 0),                 // CURVE_25519
    ("x25519", KE, 31, 0),                     // CURVE_25519
    ("curve448", KE, 32, 0),                   // CURVE_448
    ("x448", KE, 32, 0),                       // CURVE_448
    ("ntru112", KE, 1030, 0),                  // NTRU_112_BIT
    ("ntru128", KE, 1031, 0),                  // NTRU_128_BIT
    ("ntru192", KE, 1032, 0),                  // NTRU_192_BIT
    ("ntru256", KE, 1033, 0),                  // NTRU_256_BIT
    ("newhope128", KE, 1040, 0),               // NH_128_BIT
    ("noesn", ESN, 0, 0),                      // NO_EXT_SEQ_NUMBERS
    ("esn", ESN, 1, 0),                        // EXT_SEQ_NUMBERS
    ("gost256", KE, 33, 0),                    // GOST3410_256
    ("gost512", KE, 34, 0),                    // GOST3410_512
    ("mlkem512", KE, 35, 0),                   // ML_KEM_512
    ("mlkem768", KE, 36, 0),                   // ML_KEM_768
    ("mlkem1024", KE, 37, 0),                  // ML_KEM_1024
];

/// What vtid implements of the table, for IKE proposals (ESP: the same
/// plus `aes*gcm16`/`aes192gcm*` with a 192-bit key, plus `esn`/`noesn`,
/// and PRFs are ignored there).
const IMPLEMENTED_IKE: &[&str] = &[
    "3des",
    "aes",
    "aes128",
    "aes192",
    "aes256",
    "aes128ccm8",
    "aes128ccm64",
    "aes128ccm12",
    "aes128ccm96",
    "aes128ccm16",
    "aes128ccm128",
    "aes128ccm",
    "aes192ccm8",
    "aes192ccm64",
    "aes192ccm12",
    "aes192ccm96",
    "aes192ccm16",
    "aes192ccm128",
    "aes192ccm",
    "aes256ccm8",
    "aes256ccm64",
    "aes256ccm12",
    "aes256ccm96",
    "aes256ccm16",
    "aes256ccm128",
    "aes256ccm",
    "aes128gcm16",
    "aes128gcm128",
    "aes128gcm",
    "aes256gcm16",
    "aes256gcm128",
    "aes256gcm",
    "chacha20poly1305",
    "chacha20poly1305compat",
    "camellia",
    "camellia128",
    "camellia192",
    "camellia256",
    "sha",
    "sha1",
    "sha256",
    "sha2_256",
    "sha256_96",
    "sha2_256_96",
    "sha384",
    "sha2_384",
    "sha512",
    "sha2_512",
    "md5",
    "aesxcbc",
    "aescmac",
    "prfsha1",
    "prfsha256",
    "prfsha384",
    "prfsha512",
    "prfmd5",
    "prfaesxcbc",
    "prfaescmac",
    "none",
    "modpnone",
    "modp1024",
    "modp1536",
    "modp2048",
    "modp3072",
    "modp4096",
    "ecp256",
    "ecp384",
    "ecp521",
    "modp1024s160",
    "modp2048s224",
    "modp2048s256",
    "curve25519",
    "x25519",
];

fn transform_type(t: Ty) -> TransformType {
    match t {
        ENCR => TransformType::ENCR,
        INTEG => TransformType::INTEG,
        PRF => TransformType::PRF,
        KE => TransformType::KE,
        ESN => TransformType::ESN,
    }
}

/// A complete proposal around one keyword, so that only the keyword
/// decides whether it builds.
fn around(protocol: ProtocolId, kw: &str, ty: Ty, aead: bool) -> String {
    let ike = protocol == ProtocolId::IKE;
    match (ty, ike) {
        (ENCR, true) if aead => format!("{kw}-prfsha256-ecp256"),
        (ENCR, true) => format!("{kw}-sha256-ecp256"),
        (ENCR, false) if aead => kw.to_string(),
        (ENCR, false) => format!("{kw}-sha256"),
        (INTEG, true) => format!("aes128-{kw}-prfsha256-ecp256"),
        (INTEG, false) => format!("aes128-{kw}"),
        (PRF, true) => format!("aes128-sha256-{kw}-ecp256"),
        (PRF, false) => format!("aes128-sha256-{kw}"),
        (KE, true) => format!("aes128-sha256-{kw}-ecp256"),
        (KE, false) => format!("aes128gcm16-{kw}"),
        (ESN, _) => format!("aes128gcm16-{kw}"),
    }
}

fn is_aead_keyword(kw: &str) -> bool {
    kw.contains("gcm") || kw.contains("ccm") || kw.contains("chacha") || kw.contains("gmac")
}

#[test]
fn every_strongswan_keyword_parses() {
    assert_eq!(STRONGSWAN_TABLE.len(), 158);
    for protocol in [ProtocolId::IKE, ProtocolId::ESP] {
        let mut implemented = Vec::new();
        for &(kw, ty, id, bits) in STRONGSWAN_TABLE {
            let text = around(protocol, kw, ty, is_aead_keyword(kw));
            match parse_proposals(protocol, &text) {
                Ok(list) => {
                    implemented.push(kw);
                    let p = &list[0];
                    // ESP ignores PRFs; IKE drops KE NONE.
                    let skipped = (ty == PRF && protocol == ProtocolId::ESP)
                        || (ty == KE && id == 0 && protocol == ProtocolId::IKE);
                    if !skipped {
                        let t = p
                            .transforms
                            .iter()
                            .find(|t| t.ty == transform_type(ty) && t.id == id)
                            .unwrap_or_else(|| {
                                panic!("{protocol} {kw}: transform {id} missing in {p:?}")
                            });
                        assert_eq!(t.key_length(), (bits != 0).then_some(bits), "{kw}");
                    }
                    // What parses can be negotiated: the single-choice form
                    // of the proposal is a suite the crypto layer builds.
                    let single = ike::proposal::select(&list, &list, Default::default())
                        .unwrap_or_else(|e| panic!("{kw}: {e}"));
                    let suite = Suite::from_proposal(&single);
                    assert!(suite.is_ok(), "{protocol} {kw}: {suite:?}");
                }
                Err(ProposalError::NotImplemented {
                    keyword, reason, ..
                }) => {
                    assert_eq!(keyword, kw);
                    assert!(!reason.is_empty());
                }
                Err(ProposalError::NotForProtocol { keyword, .. }) => {
                    assert_eq!(keyword, kw);
                    assert!(
                        protocol == ProtocolId::IKE && (ty == ESN || kw.starts_with("aes192gcm")),
                        "{kw} refused for {protocol}"
                    );
                }
                Err(e) => panic!("{protocol} '{kw}' ({text}): {e}"),
            }
        }
        let mut want: Vec<&str> = IMPLEMENTED_IKE.to_vec();
        if protocol == ProtocolId::ESP {
            want.extend([
                "aes192gcm16",
                "aes192gcm128",
                "aes192gcm",
                "noesn",
                "esn",
                // PRF keywords are accepted and dropped from ESP.
                "prfcamelliaxcbc",
            ]);
        }
        implemented.sort_unstable();
        want.sort_unstable();
        assert_eq!(implemented, want, "{protocol}");
    }
}

/// Issue 15 §3: pfSense's mobile default loses only its MODP-1024 half when
/// a group is missing, not the whole list; every dropped proposal is named.
#[test]
fn one_unsupported_algorithm_drops_only_its_proposal() {
    let list = parse_proposals_lenient(
        ProtocolId::IKE,
        "aes256-sha256-modp2048,aes256-sha1-modp6144,blowfish-sha1-modp2048,aes128-sha1-frob",
    )
    .unwrap();
    assert_eq!(list.proposals.len(), 1);
    assert_eq!(list.proposals[0].num, 1);
    assert_eq!(list.dropped.len(), 3);
    let msgs: Vec<String> = list.dropped.iter().map(|e| e.to_string()).collect();
    assert!(
        msgs[0].contains("'modp6144'") && msgs[0].contains("aes256-sha1-modp6144"),
        "{msgs:?}"
    );
    assert!(msgs[1].contains("'blowfish'"), "{msgs:?}");
    assert!(msgs[2].contains("'frob'"), "{msgs:?}");
    // The legacy list of pfSense's mobile default now loads whole.
    let list = parse_proposals_lenient(
        ProtocolId::IKE,
        "aes256-sha256-modp2048,aes256-sha1-modp1024",
    )
    .unwrap();
    assert_eq!((list.proposals.len(), list.dropped.len()), (2, 0));
    // Nothing left: an error that carries every reason.
    let e = parse_proposals_lenient(ProtocolId::ESP, "blowfish-sha1,aes128-md5_128").unwrap_err();
    let ProposalError::NoneUsable(v) = &e else {
        panic!("{e}")
    };
    assert_eq!(v.len(), 2);
    assert!(
        e.to_string().contains("blowfish") && e.to_string().contains("md5_128"),
        "{e}"
    );
    // The strict parser still refuses the whole list.
    assert!(parse_ike_proposals("aes256-sha256-modp2048,aes256-sha1-modp6144").is_err());
}

/// None of the legacy algorithms is in the defaults, and each legacy one
/// says why.
#[test]
fn legacy_algorithms_are_named_and_not_default() {
    for p in ike::proposal::default_ike_proposals()
        .iter()
        .chain(&ike::proposal::default_esp_proposals())
    {
        assert!(ike::proposal::legacy_algorithms(p).is_empty(), "{p:?}");
    }
    let p = &parse_ike_proposals("3des-md5-prfaesxcbc-modp1024").unwrap()[0];
    let why = ike::proposal::legacy_algorithms(p);
    assert_eq!(why.len(), 4, "{why:?}");
    assert!(why.iter().any(|w| w.contains("3DES")));
    assert!(why.iter().any(|w| w.contains("MD5")));
    assert!(why.iter().any(|w| w.contains("XCBC")));
    assert!(why.iter().any(|w| w.contains("MODP-1024")));
    let p = &parse_ike_proposals("aes128-sha256-modp2048").unwrap()[0];
    assert!(ike::proposal::legacy_algorithms(p).is_empty());
}
