//! SK payload seal/open round trips for every suite, tampering, the full
//! key schedule between two peers, Debug redaction, and proptests that
//! `open` never panics.

use ike::crypto::*;
use ike::proposal::{parse_esp_proposals, parse_ike_proposals};
use ike::wire::DhGroup;
use proptest::prelude::*;
use rand_core::{OsRng, RngCore};

fn all_suites() -> Vec<(Encr, Option<Integ>)> {
    let mut v = Vec::new();
    for key_bits in [128, 192, 256] {
        for integ in [
            Integ::HmacSha1_96,
            Integ::HmacSha2_256_128,
            Integ::HmacSha2_384_192,
            Integ::HmacSha2_512_256,
        ] {
            v.push((Encr::AesCbc { key_bits }, Some(integ)));
        }
    }
    v.push((Encr::AesGcm16 { key_bits: 128 }, None));
    v.push((Encr::AesGcm16 { key_bits: 256 }, None));
    v.push((Encr::ChaCha20Poly1305, None));
    v
}

fn random(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    OsRng.fill_bytes(&mut v);
    v
}

fn cipher(encr: Encr, integ: Option<Integ>) -> SkCipher {
    let ek = random(encr.key_len());
    let ak = random(integ.map_or(0, |i| i.key_len()));
    SkCipher::new(encr, integ, &ek, &ak).unwrap()
}

/// A fake IKE header + SK generic header with the length fields set as the
/// caller must set them.
fn aad_for(c: &SkCipher, pt_len: usize) -> Vec<u8> {
    let body = c.sealed_len(pt_len);
    let mut aad = vec![0x11; 28];
    aad[24..28].copy_from_slice(&((28 + 4 + body) as u32).to_be_bytes());
    aad.extend_from_slice(&[33, 0]);
    aad.extend_from_slice(&((4 + body) as u16).to_be_bytes());
    aad
}

#[test]
fn seal_open_every_suite() {
    for (encr, integ) in all_suites() {
        let c = cipher(encr, integ);
        for len in [0usize, 1, 14, 15, 16, 17, 31, 100, 1500] {
            let pt = random(len);
            let aad = aad_for(&c, len);
            let body = c.seal(&aad, &pt, &mut OsRng).unwrap();
            assert_eq!(body.len(), c.sealed_len(len), "{encr:?} {len}");
            if let Encr::AesCbc { .. } = encr {
                assert_eq!((body.len() - 16 - c.icv_len()) % 16, 0);
            }
            assert_eq!(c.open(&aad, &body).unwrap(), pt, "{encr:?} {integ:?} {len}");

            // Any single flipped bit, in the AAD or anywhere in the body,
            // is detected.
            for pos in [0, body.len() / 2, body.len() - 1] {
                let mut t = body.clone();
                t[pos] ^= 0x01;
                assert_eq!(c.open(&aad, &t), Err(CryptoError::IntegrityCheckFailed));
            }
            let mut a = aad.clone();
            a[3] ^= 0x80;
            assert_eq!(c.open(&a, &body), Err(CryptoError::IntegrityCheckFailed));
            // Truncated or extended bodies are refused.
            assert!(c.open(&aad, &body[..body.len() - 1]).is_err());
            let mut longer = body.clone();
            longer.push(0);
            assert!(c.open(&aad, &longer).is_err());
            // Another key does not open it.
            let other = cipher(encr, integ);
            assert!(other.open(&aad, &body).is_err());
        }
    }
}

#[test]
fn iv_is_fresh() {
    for (encr, integ) in all_suites() {
        let c = cipher(encr, integ);
        let a = c.seal(b"hdr", b"payload", &mut OsRng).unwrap();
        let b = c.seal(b"hdr", b"payload", &mut OsRng).unwrap();
        assert_ne!(a[..encr.iv_len()], b[..encr.iv_len()]);
        assert_ne!(a, b);
    }
}

#[test]
fn bad_keys_and_combinations() {
    assert!(SkCipher::new(Encr::AesCbc { key_bits: 128 }, None, &[0; 16], &[]).is_err());
    assert!(SkCipher::new(
        Encr::AesGcm16 { key_bits: 128 },
        Some(Integ::HmacSha2_256_128),
        &[0; 20],
        &[0; 32]
    )
    .is_err());
    assert!(SkCipher::new(Encr::AesGcm16 { key_bits: 128 }, None, &[0; 16], &[]).is_err());
    assert!(SkCipher::new(Encr::AesGcm16 { key_bits: 192 }, None, &[0; 28], &[]).is_err());
    assert!(SkCipher::new(
        Encr::AesCbc { key_bits: 256 },
        Some(Integ::HmacSha1_96),
        &[0; 32],
        &[0; 32]
    )
    .is_err());
}

/// Both peers run the whole IKE_SA_INIT key schedule from a selected
/// proposal; each one's outbound cipher is the other's inbound.
#[test]
fn two_peers_derive_the_same_keys() {
    for s in [
        "aes128gcm16-prfsha256-ecp256",
        "aes256-sha384-modp3072",
        "aes256-sha256-modp2048",
        "chacha20poly1305-prfsha256-x25519",
        "aes128-sha256-ecp256",
        "aes256gcm16-prfsha384-x25519",
        "chacha20poly1305-prfsha256-ecp384",
        "aes192-sha512-prfsha512-ecp521",
        "aes128-sha1-prfsha1-modp4096",
    ] {
        let proposal = &parse_ike_proposals(s).unwrap()[0];
        let suite = Suite::from_proposal(proposal).unwrap();
        let group = suite.ke.unwrap();
        let i = KeyExchange::generate(group, &mut OsRng).unwrap();
        let r = KeyExchange::generate(group, &mut OsRng).unwrap();
        let (ni, nr) = (random(32), random(32));
        let (spi_i, spi_r) = (random(8), random(8));
        let gi = i.agree(r.public_value()).unwrap();
        let gr = r.agree(i.public_value()).unwrap();
        let ki =
            IkeKeys::from_shared_secret(&suite, gi.as_bytes(), &ni, &nr, &spi_i, &spi_r).unwrap();
        let kr =
            IkeKeys::from_shared_secret(&suite, gr.as_bytes(), &ni, &nr, &spi_i, &spi_r).unwrap();
        assert_eq!(ki.sk_d.as_bytes(), kr.sk_d.as_bytes());
        assert_eq!(ki.sk_pr.as_bytes(), kr.sk_pr.as_bytes());
        assert_eq!(ki.sk_ei.len(), suite.encr_key_len());
        assert_eq!(ki.sk_ai.len(), suite.integ_key_len());
        assert_eq!(ki.sk_d.len(), suite.prf.unwrap().output_len());
        if suite.encr.is_aead() {
            assert!(ki.sk_ai.is_empty() && ki.sk_ar.is_empty());
        }
        let (i_out, i_in) = ki.sk_ciphers(&suite, true).unwrap();
        let (r_out, r_in) = kr.sk_ciphers(&suite, false).unwrap();
        let body = i_out
            .seal(b"aad", b"IDi|AUTH|SA|TSi|TSr", &mut OsRng)
            .unwrap();
        assert_eq!(r_in.open(b"aad", &body).unwrap(), b"IDi|AUTH|SA|TSi|TSr");
        assert!(i_in.open(b"aad", &body).is_err(), "directions must differ");
        let body = r_out.seal(b"aad", b"reply", &mut OsRng).unwrap();
        assert_eq!(i_in.open(b"aad", &body).unwrap(), b"reply");

        // Child SA keys (§2.17), with and without PFS, and the rekey
        // SKEYSEED (§2.18).
        let esp =
            Suite::from_proposal(&parse_esp_proposals("aes256gcm16-ecp256").unwrap()[0]).unwrap();
        let prf = suite.prf.unwrap();
        let c1 = ChildKeys::derive(prf, ki.sk_d.as_bytes(), None, &ni, &nr, &esp).unwrap();
        let c2 = ChildKeys::derive(prf, kr.sk_d.as_bytes(), None, &ni, &nr, &esp).unwrap();
        assert_eq!(c1.encr_r.as_bytes(), c2.encr_r.as_bytes());
        assert_eq!(c1.encr_i.len(), 36);
        assert!(c1.integ_i.is_empty());
        let c3 =
            ChildKeys::derive(prf, ki.sk_d.as_bytes(), Some(b"g^ir new"), &ni, &nr, &esp).unwrap();
        assert_ne!(c1.encr_i.as_bytes(), c3.encr_i.as_bytes());
        let seed = rekey_skeyseed(prf, ki.sk_d.as_bytes(), b"g^ir new", &ni, &nr);
        assert_eq!(seed.len(), prf.output_len());
    }
}

#[test]
fn child_keymat_split() {
    let esp = Suite::from_proposal(&parse_esp_proposals("aes256-sha256").unwrap()[0]).unwrap();
    assert_eq!(esp.esn, Some(false));
    assert_eq!(esp.child_keymat_len(), 2 * (32 + 32));
    let k = ChildKeys::derive(Prf::HmacSha256, &[7; 32], None, b"ni", b"nr", &esp).unwrap();
    let all = Prf::HmacSha256.prf_plus(&[7; 32], b"ninr", 128).unwrap();
    let a = all.as_bytes();
    assert_eq!(k.encr_i.as_bytes(), &a[..32]);
    assert_eq!(k.integ_i.as_bytes(), &a[32..64]);
    assert_eq!(k.encr_r.as_bytes(), &a[64..96]);
    assert_eq!(k.integ_r.as_bytes(), &a[96..]);
}

#[test]
fn ike_keymat_split() {
    let suite =
        Suite::from_proposal(&parse_ike_proposals("aes128-sha256-ecp256").unwrap()[0]).unwrap();
    assert_eq!(suite.ike_keymat_len(), 3 * 32 + 2 * 32 + 2 * 16);
    let k = IkeKeys::derive(&suite, &[1; 32], b"ni", b"nr", b"spiispii", b"spirspir").unwrap();
    let all = Prf::HmacSha256
        .prf_plus(&[1; 32], b"ninrspiispiispirspir", suite.ike_keymat_len())
        .unwrap();
    let a = all.as_bytes();
    let parts = [
        &k.sk_d, &k.sk_ai, &k.sk_ar, &k.sk_ei, &k.sk_er, &k.sk_pi, &k.sk_pr,
    ];
    let mut off = 0;
    for p in parts {
        assert_eq!(p.as_bytes(), &a[off..off + p.len()]);
        off += p.len();
    }
    assert_eq!(off, a.len());
}

#[test]
fn debug_never_shows_keys() {
    let suite =
        Suite::from_proposal(&parse_ike_proposals("aes128gcm16-prfsha256-x25519").unwrap()[0])
            .unwrap();
    let k = IkeKeys::derive(&suite, &[0xab; 32], b"n", b"n", b"s", b"s").unwrap();
    let d = format!("{k:?}");
    assert!(d.contains("redacted"), "{d}");
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    for key in [&k.sk_d, &k.sk_ei, &k.sk_pi] {
        assert!(!d.contains(&hex(&key.as_bytes()[..8])));
    }
    let (c, _) = k.sk_ciphers(&suite, true).unwrap();
    let d = format!("{c:?}");
    assert!(
        d.contains("redacted") && !d.contains(&hex(&k.sk_ei.as_bytes()[..8])),
        "{d}"
    );
    let kx = KeyExchange::from_fixed_private_key(DhGroup::CURVE25519, &[0x5a; 32]).unwrap();
    let d = format!("{kx:?}");
    assert!(d.contains("redacted") && !d.contains("5a5a"), "{d}");
    let s = kx.agree(&[9; 32]).unwrap();
    assert!(!format!("{s:?}").contains(&hex(&s.as_bytes()[..4])));
}

#[test]
fn suite_from_proposal_errors() {
    use ike::wire::{Proposal, ProtocolId, Transform, TransformType};
    let mut p = parse_ike_proposals("aes128-aes256-sha256-ecp256")
        .unwrap()
        .remove(0);
    assert!(Suite::from_proposal(&p).is_err(), "two ENCR transforms");
    p.transforms.remove(1);
    assert!(Suite::from_proposal(&p).is_ok());
    let gcm192 = Proposal {
        num: 1,
        protocol: ProtocolId::IKE,
        spi: vec![],
        transforms: vec![
            Transform::with_key_length(TransformType::ENCR, 20, 192),
            Transform::new(TransformType::PRF, 5),
            Transform::new(TransformType::KE, 19),
        ],
    };
    assert!(matches!(
        Suite::from_proposal(&gcm192),
        Err(CryptoError::UnsupportedTransform { .. })
    ));
    let esp = Suite::from_proposal(&parse_esp_proposals("aes192gcm16").unwrap()[0]).unwrap();
    assert_eq!(esp.encr_key_len(), 28);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn open_never_panics(suite in 0usize..15, aad in proptest::collection::vec(any::<u8>(), 0..40),
                         body in proptest::collection::vec(any::<u8>(), 0..200)) {
        let (encr, integ) = all_suites()[suite];
        let c = SkCipher::new(encr, integ, &vec![3u8; encr.key_len()], &vec![4u8; integ.map_or(0, |i| i.key_len())]).unwrap();
        prop_assert!(c.open(&aad, &body).is_err());
    }

    #[test]
    fn aead_round_trip_any_plaintext(suite in 12usize..15, body in proptest::collection::vec(any::<u8>(), 0..100)) {
        let (encr, integ) = all_suites()[suite];
        let c = SkCipher::new(encr, integ, &vec![3u8; encr.key_len()], &[]).unwrap();
        let sealed = c.seal(b"a", &body, &mut OsRng).unwrap();
        prop_assert_eq!(c.open(b"a", &sealed).unwrap(), body);
    }

    #[test]
    fn agree_never_panics(g in 0usize..4, peer in proptest::collection::vec(any::<u8>(), 0..140)) {
        let group = [DhGroup::ECP256, DhGroup::ECP384, DhGroup::ECP521, DhGroup::CURVE25519][g];
        let k = KeyExchange::generate(group, &mut OsRng).unwrap();
        let _ = k.agree(&peer);
    }
}
