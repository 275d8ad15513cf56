//! Known answers for the legacy transforms that older peers still
//! negotiate (issue 15 §3): the RFC 5114 MODP groups with prime-order
//! subgroups, the RFC 2409/3526 groups 2 and 5, and the SK payload with
//! 3DES, Camellia, AES-CCM and the XCBC/CMAC/MD5 integrity transforms.
//! The raw MAC and cipher vectors (RFC 3566, 4434, 4493, 4615, 2202, 3713,
//! 3610, SP 800-67) are unit tests next to their code in `ike::crypto`.

use ike::crypto::{
    modp_exponent_bits, modp_generator_order, modp_prime, Encr, Integ, KeyExchange, Prf, SkCipher,
    Suite,
};
use ike::proposal::{parse_esp_proposals, parse_ike_proposals};
use ike::wire::DhGroup;
use num_bigint::BigUint;
use rand_core::{OsRng, RngCore};

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace([' ', '\n'], "")).unwrap()
}

/// (group, xA, yA, xB, yB, Z) of RFC 5114 Appendix A.
const RFC5114_A: [(DhGroup, &str, &str, &str, &str, &str); 3] = [
    // RFC 5114 Appendix A.1.
    (
        DhGroup::MODP1024_160,
        "b9a3b3ae8fefc1a2930496507086f8455d48943e",
        "2a853b3d92197501b9015b2deb3ed84f5e021dcc3e52f109d3273d2b7521281c\
         babe0e76ff5727fa8acce26956ba9a1fca26f20228d8693feb10841d84a73600\
         54ece5a7f5b7a61ad3dfb3c60d2e43106d8727da37df9cce95b478755d06bcea\
         8f9d45965f75a5f3d1df3701165fc9e50c4279ceb07f989540ae96d5d88ed776",
        "9392c9f9eb6a7a6a9022f7d83e7223c6835bbdda",
        "717a6cb053371ff4a3b932941c1e5663f861a1d6ad34ae66576dfb98f6c6cbf9\
         ddd5a56c7833f6bcfdff095582ad868e440e8d09fd769e3ceccdc3d3b1e4cfa0\
         57776caaf9739b6a9fee8e7411f8d6dac09d6a4edb46cc2b5d5203090eae6126\
         311e53fd2c14b574e6a3109a3da1be41bdceaa186f5ce06716a2b6a07b3c33fe",
        "5c804f454d30d9c4df85271f93528c91df6b48ab5f80b3b59caac1b28f8acba9\
         cd3e39f3cb614525d9521d2e644c53b807b810f340062f257d7d6fbfe8d5e8f0\
         72e9b6e9afda9413eafb2e8b0699b1fb5a0caceddeaead7e9cfbb36ae2b42083\
         5bd83a19fb0b5e96bf8fa4d09e345525167ecd9155416f46f408ed31b63c6e6d",
    ),
    // RFC 5114 Appendix A.2.
    (
        DhGroup::MODP2048_224,
        "22e62601dbffd06708a680f747f361f76d8f4f721a0548e483294b0c",
        "1b3a63451bd886e699e67b494e288bd7f8e0d370badda7a0efd2fde7d8f66145\
         cc9f280419975eb808877c8a4c0c8e0bd48d4a5401eb1e8776bfeee134c03831\
         ac273cd9d635ab0ce006a42a887e3f52fb8766b650f38078bc8ee8580cefe243\
         968cfc4f8dc3db084554171d41bf2e861b7bb4d69dd0e01ea387cbaa5ca672af\
         cbe8bdb9d62d4ce15f17dd36f91ed1eedd65ca4a06455cb94cd40a52ec360e84\
         b3c926e22c4380a3bf309d56849768b7f52cfdf655fd053a7ef706979e7e5806\
         b17dfae53ad2a5bc568ebb529a7a61d68d256f8fc97c074a861d827e2ebc8c61\
         34553115b70e7103920aa16d85e52bcbab8d786a68178fa8ff7c2f5c71648d6f",
        "4ff3bc96c7fc6a6d71d3b363800a7cdfef6fc41b4417ea15353b7590",
        "4dcee992a9762a13f2f83844ad3d77ee0e31c9718b3db6c2035d3961182c3e0b\
         a247ec4182d760cd48d99599970622a1881bba2dc822939c78c3912c6661fa54\
         38b20766222b75e24c2e3ad0c7287236129525ee15b5dd7998aa04c4a9696cac\
         d7172083a97a81664ead2c479e444e4c0654cc19e28d7703cee8dacd6126f5d6\
         65ec52c67255db92014b037eb621a2ac8e365de071ffc1400acf077a12913dd8\
         de89473437ab7ba346743c1b215dd9c12164a7e4053118d199bec8ef6fc56117\
         0c84c87d10ee9a674a1fa8ffe13bdfba1d44de48946d68dc0cdd777635a7ab5b\
         fb1e4bb7b856f96827734c184138e915d9c3002ebce53120546a7e2002142b6c",
        "34d9bddc1b42176c313fea034c21034d074a6313bb4ecdb3703fff424567a46b\
         df75530ede0a9da5229de7d76732286cbc0f91da4c3c852fc099c679531d94c7\
         8ab03d9decb0a4e4ca8b2bb4591c4021cf8ce3a20a541d33994017d0200ae2c9\
         516e2ff5145779269e862b0fb474a2d56dc31ed569a7700b4c4ab16b22a45513\
         531ef523d71212077b5a169bdeffad7ad9608284c7795b6d5a5183b87066de17\
         d8d671c9ebd8ec89544d45ec061593d442c62ab9ce3b1cb9943a1d23a5ea3bcf\
         21a01471e67e003e7f8a69c728be490b2fc88cfeb92db6a215e5d03c17c464c9\
         ac1a46e203e13f952995fb03c69d3cc47fcb510b6998ffd3aa6de73cf9f63869",
    ),
    // RFC 5114 Appendix A.3.
    (
        DhGroup::MODP2048_256,
        "0881382cdb87660c6dc13e614938d5b9c8b2f248581cc5e31b35454397fce50e",
        "2e9380c8323af97545bc4941deb0ec3742c62fe0ece824a6abdbe66c59bee024\
         2911bfb967235ceba35ae13e4ec752be630b92dc4bde2847a9c62cb815274542\
         1fb7eb60a63c0fe9159fcce726ce7cd8523d7450667ef840e4919121eb5f01c8\
         c9b0d3d648a93bfb75689e8244ac134af544711ce79a02dcc34226684780dddc\
         b498594106c37f5bc79856487af5ab022a2e5e42f09897c1a85a11ea0212af04\
         d9b4cebc937c3c1a3e15a8a0342e337615c84e7fe3b8b9b87fb1e73a15af12a3\
         0d746e06dfc34f290d797ce51aa13aa785bf6658aff5e4b093003cbeaf665b3c\
         2e113a3a4e905269341dc0711426685f4ef37e868a8126ff3f2279b57ca67e29",
        "7d62a7e3ef36de617b13d1afb82c780d83a23bd4ee6705645121f371f546a53d",
        "575f0351bd2b1b817448bdf87a6c362c1e289d3903a30b9832c5741fa250363e\
         7acbc7f77f3dacbc1f131add8e03367eff8fbbb3e1c5784424809b25afe4d226\
         2a1a6fd2fab64105ca30a674e07f7809852088632fc049233791ad4edd083a97\
         8b883ee618bc5e0dd047415f2d95e683cf14826b5fbe10d3ce41c6c120c78ab2\
         0008c698bf7f0bcab9d7f407bed0f43afb2970f57f8d12043963e66ddd320d59\
         9ad9936c8f44137c08b180ec5e985cebe186f3d549677e80607331ee17af3380\
         a725b0782317d7dd43f59d7af9568a9bb63a84d365f92244ed120988219302f4\
         2924c7ca90b89d24f71b0ab697823d7deb1aff5b0e8e4a45d49f7f53757e1913",
        "86c70bf8d0bb81bb01078a17219cb7d27203db2a19c877f1d1f19fd7d77ef225\
         46a68f005ad52dc84553b78fc60330be51ea7c0672cac1515e4b35c047b9a551\
         b88f39dc26da14a09ef74774d47c762dd177f9ed5bc2f11e52c879bd95098504\
         cd9eecd8a8f9b3efbd1f008ac5853097d9d1837f2b18f77cd7be01af80a7c7b5\
         ea3ca54cc02d0c116fee3f95bb87399385875d7e86747e676e728938acbff709\
         8e05be4dcfb24052b83aeffb14783f029adbde7f53fae92084224090e007cee9\
         4d4bf2bace9ffd4b57d2af7c724d0caa19bf0501f6f17b4aa10f425e3ea76080\
         b4b9d6b3cefea115b2ceb8789bb8a3b0ea87febe63b6c8f846ec6db0c26c5d7c",
    ),
];

#[test]
fn rfc5114_appendix_a() {
    for (group, xa, ya, xb, yb, z) in RFC5114_A {
        let a = KeyExchange::from_fixed_private_key(group, &h(xa)).unwrap();
        let b = KeyExchange::from_fixed_private_key(group, &h(xb)).unwrap();
        assert_eq!(a.public_value(), h(ya), "{group} yA");
        assert_eq!(b.public_value(), h(yb), "{group} yB");
        assert_eq!(a.agree(&h(yb)).unwrap().as_bytes(), h(z), "{group} Z");
        assert_eq!(b.agree(&h(ya)).unwrap().as_bytes(), h(z), "{group} Z");
    }
}

/// RFC 5114 §2.1–§2.3: g generates a subgroup of prime order q, so
/// q | p - 1 and g^q = 1 mod p (checks the transcribed p, g, q).
#[test]
fn rfc5114_group_parameters() {
    for group in [
        DhGroup::MODP1024_160,
        DhGroup::MODP2048_224,
        DhGroup::MODP2048_256,
    ] {
        let p = BigUint::from_bytes_be(modp_prime(group).unwrap());
        let (g, q) = modp_generator_order(group).unwrap();
        let (g, q) = (
            BigUint::from_bytes_be(g),
            BigUint::from_bytes_be(q.unwrap()),
        );
        assert_eq!((&p - 1u8) % &q, BigUint::default(), "{group}: q | p-1");
        assert_eq!(g.modpow(&q, &p), BigUint::from(1u8), "{group}: g^q = 1");
        assert!(g > BigUint::from(1u8));
        // Our exponents stay below q.
        assert!(modp_exponent_bits(group).unwrap() < q.bits() as usize);
    }
}

/// RFC 6989 §2.2: a peer value outside the prime-order subgroup is
/// refused; one inside (the RFC's yB) is accepted.
#[test]
fn rfc6989_subgroup_check() {
    for (group, _, _, _, yb, _) in RFC5114_A {
        let a = KeyExchange::generate(group, &mut OsRng).unwrap();
        let n = modp_prime(group).unwrap().len();
        let mut two = vec![0u8; n];
        two[n - 1] = 2;
        let e = a.agree(&two).unwrap_err();
        assert!(e.to_string().contains("subgroup"), "{group}: {e}");
        assert!(a.agree(&h(yb)).is_ok());
        // Range check first: 1 and p-1 are refused too.
        let mut one = vec![0u8; n];
        one[n - 1] = 1;
        assert!(a.agree(&one).is_err());
        // Two fresh parties agree.
        let b = KeyExchange::generate(group, &mut OsRng).unwrap();
        assert_eq!(
            a.agree(b.public_value()).unwrap().as_bytes(),
            b.agree(a.public_value()).unwrap().as_bytes()
        );
    }
}

/// Groups 2 and 5 (generator 2) against num-bigint's modpow.
#[test]
fn modp_1024_1536_match_num_bigint() {
    for group in [DhGroup::MODP1024, DhGroup::MODP1536] {
        let pb = modp_prime(group).unwrap();
        let p = BigUint::from_bytes_be(pb);
        let bits = modp_exponent_bits(group).unwrap();
        let mut x = vec![0u8; bits / 8];
        OsRng.fill_bytes(&mut x);
        x[0] |= 0x80;
        let k = KeyExchange::from_fixed_private_key(group, &x).unwrap();
        let want = BigUint::from(2u8).modpow(&BigUint::from_bytes_be(&x), &p);
        assert_eq!(BigUint::from_bytes_be(k.public_value()), want, "{group}");
        assert_eq!(k.public_value().len(), pb.len());
        let other = KeyExchange::generate(group, &mut OsRng).unwrap();
        let s = k.agree(other.public_value()).unwrap();
        let want =
            BigUint::from_bytes_be(other.public_value()).modpow(&BigUint::from_bytes_be(&x), &p);
        assert_eq!(BigUint::from_bytes_be(s.as_bytes()), want);
        assert_eq!(s.as_bytes().len(), pb.len());
    }
}

// RFC 2202 §2, test case 5: HMAC-MD5-96 is the first 12 bytes (RFC 2403 §3).
#[test]
fn rfc2202_hmac_md5_96() {
    let icv = Integ::HmacMd5_96.compute(&[0x0c; 16], &[b"Test With Truncation"]);
    assert_eq!(icv, h("56461ef2342edc00f9bab995"));
    assert!(Integ::HmacMd5_96.verify(&[0x0c; 16], &[b"Test With ", b"Truncation"], &icv));
    assert_eq!(Integ::HmacMd5_96.key_len(), 16);
    // RFC 2202 §2 test case 1 as PRF_HMAC_MD5 (RFC 2104).
    assert_eq!(
        Prf::HmacMd5.compute(&[0x0b; 16], b"Hi There"),
        h("9294727a3638bb1c13f48ef8158bfc9d")
    );
}

// RFC 3566 §4.6, test cases 2 and 4, truncated to 96 bits (§2.4).
#[test]
fn rfc3566_aes_xcbc_96() {
    let key = h("000102030405060708090a0b0c0d0e0f");
    let msg: Vec<u8> = (0u8..=0x21).collect();
    assert_eq!(
        Integ::AesXcbc96.compute(&key, &[&msg[..3]]),
        h("5b376580ae2f19afe7219cee")
    );
    assert_eq!(
        Integ::AesXcbc96.compute(&key, &[&msg[..20]]),
        h("47f51b4564966215b8985c63")
    );
    assert_eq!(Integ::AesXcbc96.key_len(), 16);
    // A key of the wrong length never verifies.
    assert!(!Integ::AesXcbc96.verify(&key[..15], &[&msg[..3]], &h("5b376580ae2f19afe7219cee")));
}

// RFC 4494 §4: AES-CMAC-96 examples 1-4 (RFC 4493's, truncated).
#[test]
fn rfc4494_aes_cmac_96() {
    let key = h("2b7e151628aed2a6abf7158809cf4f3c");
    let msg = h(
        "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51\
                 30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710",
    );
    for (len, want) in [
        (0, "bb1d6929e95937287fa37d12"),
        (16, "070a16b46b4d4144f79bdd9d"),
        (40, "dfa66747de9ae63030ca3261"),
        (64, "51f0bebf7e3b9d92fc497417"),
    ] {
        assert_eq!(
            Integ::AesCmac96.compute(&key, &[&msg[..len]]),
            h(want),
            "len {len}"
        );
    }
}

// RFC 4434 §5 and RFC 4615 §4 through `Prf`: variable key lengths.
#[test]
fn rfc4434_rfc4615_prfs() {
    let msg: Vec<u8> = (0u8..=0x13).collect();
    let k10 = h("00010203040506070809");
    let k18 = h("000102030405060708090a0b0c0d0e0fedcb");
    assert_eq!(
        Prf::Aes128Xcbc.compute(&k10, &msg),
        h("0fa087af7d866e7653434e602fdde835")
    );
    assert_eq!(
        Prf::Aes128Xcbc.compute(&k18, &msg),
        h("8cd3c93ae598a9803006ffb67c40e9e4")
    );
    assert_eq!(
        Prf::Aes128Cmac.compute(&k10, &msg),
        h("290d9e112edb09ee141fcf64c0b72f3d")
    );
    assert_eq!(
        Prf::Aes128Cmac.compute(&k18, &msg),
        h("84a348a4a45d235babfffc0d2b4da09a")
    );
    assert_eq!(Prf::Aes128Xcbc.key_len(), 16);
    assert_eq!(Prf::Aes128Cmac.output_len(), 16);
    // prf+ T1 = prf(K, S | 0x01) (RFC 7296 §2.13).
    let t = Prf::Aes128Cmac.prf_plus(&k10, &msg, 40).unwrap();
    let mut s1 = msg.clone();
    s1.push(1);
    assert_eq!(
        &t.as_bytes()[..16],
        Prf::Aes128Cmac.compute(&k10, &s1).as_slice()
    );
}

/// RFC 7296 §2.14: a PRF with a fixed key size takes the first half-key of
/// each nonce for SKEYSEED.
#[test]
fn skeyseed_fixed_key_prfs_use_nonce_halves() {
    let ni = [0x11u8; 32];
    let nr = [0x22u8; 32];
    let g = [0x33u8; 128];
    for prf in [Prf::Aes128Xcbc, Prf::Aes128Cmac] {
        let s = ike::crypto::skeyseed(prf, &ni, &nr, &g);
        let mut key = ni[..8].to_vec();
        key.extend_from_slice(&nr[..8]);
        assert_eq!(s.as_bytes(), prf.compute(&key, &g).as_slice(), "{prf:?}");
    }
    // HMAC PRFs keep the whole nonces.
    let s = ike::crypto::skeyseed(Prf::HmacMd5, &ni, &nr, &g);
    assert_eq!(
        s.as_bytes(),
        Prf::HmacMd5.compute(&[ni, nr].concat(), &g).as_slice()
    );
}

/// Every legacy IKE suite seals and opens the SK payload, refuses a
/// tampered one, and agrees with `sealed_len`.
#[test]
fn sk_payload_every_legacy_suite() {
    let mut rng = OsRng;
    for s in [
        "3des-sha1-modp1024",
        "3des-md5-modp1024",
        "aes128-aesxcbc-modp1536",
        "aes256-aescmac-modp2048s256",
        "camellia128-sha256-modp2048",
        "camellia256-sha256_96-prfsha256-ecp256",
        "aes128ccm8-prfsha256-ecp256",
        "aes192ccm12-prfaesxcbc-modp2048s224",
        "aes256ccm16-prfaescmac-modp1024s160",
        "aes256-sha512-prfmd5-x25519",
    ] {
        let p = &parse_ike_proposals(s).unwrap()[0];
        let suite = Suite::from_proposal(p).unwrap_or_else(|e| panic!("{s}: {e}"));
        let mut ek = vec![0u8; suite.encr_key_len()];
        let mut ak = vec![0u8; suite.integ_key_len()];
        rng.fill_bytes(&mut ek);
        rng.fill_bytes(&mut ak);
        let c = SkCipher::new(suite.encr, suite.integ, &ek, &ak).unwrap();
        for len in [0usize, 1, 7, 8, 15, 16, 17, 100] {
            let pt: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let body = c.seal(b"header", &pt, &mut rng).unwrap();
            assert_eq!(body.len(), c.sealed_len(len), "{s} len {len}");
            assert_eq!(c.open(b"header", &body).unwrap(), pt, "{s}");
            assert!(c.open(b"headeR", &body).is_err(), "{s}: AAD covered");
            let mut bad = body.clone();
            let last = bad.len() - 1;
            bad[last] ^= 1;
            assert!(c.open(b"header", &bad).is_err(), "{s}: ICV checked");
            assert!(c.open(b"header", &body[..body.len() / 2]).is_err());
        }
    }
}

/// Key lengths and IVs of the legacy ENCR transforms (RFC 2451 §2,
/// RFC 5529 §3, RFC 5282 §7.1: CCM takes 3 bytes of salt).
#[test]
fn legacy_encr_sizes() {
    assert_eq!(
        (Encr::TripleDes.key_len(), Encr::TripleDes.iv_len()),
        (24, 8)
    );
    let c = Encr::CamelliaCbc { key_bits: 192 };
    assert_eq!((c.key_len(), c.iv_len()), (24, 16));
    let c = Encr::AesCcm {
        key_bits: 128,
        icv: 8,
    };
    assert_eq!((c.key_len(), c.iv_len(), c.aead_icv_len()), (19, 8, 8));
    assert_eq!(c.id().0, 14);
    let esp = parse_esp_proposals("aes256ccm12-3des-sha1").unwrap_err();
    assert!(esp.to_string().contains("AEAD"), "{esp}");
    let esp = &parse_esp_proposals("3des-md5").unwrap()[0];
    let s = Suite::from_proposal(esp).unwrap();
    assert_eq!(
        (s.encr, s.integ),
        (Encr::TripleDes, Some(Integ::HmacMd5_96))
    );
    assert_eq!(s.child_keymat_len(), 2 * (24 + 16));
}
