//! Known-answer tests for `ike::crypto`, each naming its source, plus
//! oracle checks of the MODP groups against num-bigint.

use ike::crypto::*;
use ike::wire::DhGroup;
use num_bigint::BigUint;
use rand_core::{OsRng, RngCore};

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace([' ', '\n'], "")).unwrap()
}

// ---------------------------------------------------------------- HMAC / PRF

const HI_THERE: &[u8] = b"Hi There";
const JEFE_DATA: &[u8] = b"what do ya want for nothing?";

// RFC 2202 §3 (HMAC-SHA-1), test cases 1 and 2; RFC 4868 §2.7.1 uses the
// same RFC 4231-style inputs for the PRFs.
#[test]
fn rfc2202_hmac_sha1() {
    assert_eq!(
        Prf::HmacSha1.compute(&[0x0b; 20], HI_THERE),
        h("b617318655057264e28bc0b6fb378c8ef146be00")
    );
    assert_eq!(
        Prf::HmacSha1.compute(b"Jefe", JEFE_DATA),
        h("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")
    );
}

// RFC 2202 §3, test case 5 ("Test With Truncation"): HMAC-SHA-1-96 = first
// 12 bytes (RFC 2404 §3).
#[test]
fn rfc2202_hmac_sha1_96_truncation() {
    let icv = Integ::HmacSha1_96.compute(&[0x0c; 20], &[b"Test With Truncation"]);
    assert_eq!(icv, h("4c1a03424b55e07fe7f27be1"));
    assert!(Integ::HmacSha1_96.verify(&[0x0c; 20], &[b"Test With", b" Truncation"], &icv));
}

// RFC 4231 §4.2 (test case 1) and §4.3 (test case 2): HMAC-SHA-256/384/512.
// RFC 4868 §2.7.1 lists these as the PRF_HMAC_SHA2_* test vectors.
#[test]
fn rfc4231_hmac_sha2_prf() {
    let k1 = [0x0b; 20];
    assert_eq!(
        Prf::HmacSha256.compute(&k1, HI_THERE),
        h("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
    );
    assert_eq!(
        Prf::HmacSha384.compute(&k1, HI_THERE),
        h(
            "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59c
           faea9ea9076ede7f4af152e8b2fa9cb6"
        )
    );
    assert_eq!(
        Prf::HmacSha512.compute(&k1, HI_THERE),
        h(
            "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde
           daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"
        )
    );
    assert_eq!(
        Prf::HmacSha256.compute(b"Jefe", JEFE_DATA),
        h("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    );
    assert_eq!(
        Prf::HmacSha384.compute(b"Jefe", JEFE_DATA),
        h(
            "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e
           8e2240ca5e69e2c78b3239ecfab21649"
        )
    );
    assert_eq!(
        Prf::HmacSha512.compute_parts(b"Jefe", &[b"what do ya ", b"want for nothing?"]),
        h(
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554
           9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
        )
    );
}

// RFC 4868 §2.7.2.1–§2.7.2.3: the authenticator test vectors, with keys of
// the full hash length, truncated to 128/192/256 bits.
#[test]
fn rfc4868_integrity_truncation() {
    // §2.7.2.1 Test Case AUTH256-1 / AUTH256-2.
    assert_eq!(
        Integ::HmacSha2_256_128.compute(&[0x0b; 32], &[HI_THERE]),
        h("198a607eb44bfbc69903a0f1cf2bbdc5")
    );
    assert_eq!(
        Integ::HmacSha2_256_128.compute(&b"Jefe".repeat(8), &[JEFE_DATA]),
        h("167f928588c5cc2eef8e3093caa0e87c")
    );
    // §2.7.2.2 Test Case AUTH384-1.
    assert_eq!(
        Integ::HmacSha2_384_192.compute(&[0x0b; 48], &[HI_THERE]),
        h("b6a8d5636f5c6a7224f9977dcf7ee6c7fb6d0c48cbdee973")
    );
    // §2.7.2.3 Test Case AUTH512-1 / AUTH512-2.
    assert_eq!(
        Integ::HmacSha2_512_256.compute(&[0x0b; 64], &[HI_THERE]),
        h("637edc6e01dce7e6742a99451aae82df23da3e92439e590e43e761b33e910fb8")
    );
    assert_eq!(
        Integ::HmacSha2_512_256.compute(&b"Jefe".repeat(16), &[JEFE_DATA]),
        h("cb370917ae8a7ce28cfd1d8f4705d6141c173b2a9362c15df235dfb251b15454")
    );
    // The full PRF outputs of the same vectors (RFC 4868 §2.7.2, untruncated).
    assert_eq!(
        Prf::HmacSha256.compute(&[0x0b; 32], HI_THERE),
        h("198a607eb44bfbc69903a0f1cf2bbdc5ba0aa3f3d9ae3c1c7a3b1696a0b68cf7")
    );
    let icv = Integ::HmacSha2_512_256.compute(&[0x0b; 64], &[HI_THERE]);
    let mut bad = icv.clone();
    bad[31] ^= 1;
    assert!(Integ::HmacSha2_512_256.verify(&[0x0b; 64], &[HI_THERE], &icv));
    assert!(!Integ::HmacSha2_512_256.verify(&[0x0b; 64], &[HI_THERE], &bad));
    assert!(!Integ::HmacSha2_512_256.verify(&[0x0b; 64], &[HI_THERE], &icv[..16]));
}

// ------------------------------------------------------ IKEv2 KDF (CAVP)

/// NIST CAVP SP 800-135 IKEv2 KDF sample vector, SHA-1 (Ni/Nr 64 bits,
/// g^ir 256 bits, DKM 1056 bits), as reproduced in libreswan's
/// `ike_alg_test_prf.c` ("CAVP: IKEv2 key derivation with HMAC-SHA1") and in
/// NSS `ike_sha1_vectors.h` ("these vectors are from this NIST samples").
/// The two Child SA DKMs are from libreswan's `cavp` harness output for the
/// same inputs (programs/…/ikev2 CAVS test comment).
#[test]
fn sp800_135_ikev2_sha1() {
    let ni = h("32b50d5f4a3763f3");
    let nr = h("9206a04b26564cb1");
    let gir = h("4b2c1f971981a8ad8d0abeafabf38cf75fc8349c148142465ed9c8b516b8be52");
    let gir_new = h("863f3c9d06efd39d2b907b97f8699e5dd5251ef64a2a176f36ee40c87d4f9330");
    let spii = h("34c9e7c188868785");
    let spir = h("3ff77d760d2b2199");

    let seed = skeyseed(Prf::HmacSha1, &ni, &nr, &gir);
    assert_eq!(
        seed.as_bytes(),
        h("a9a7b222b59f8f48645f28a1db5b5f5d7479cba7")
    );

    let s = [ni.clone(), nr.clone(), spii, spir].concat();
    let dkm = Prf::HmacSha1.prf_plus(seed.as_bytes(), &s, 132).unwrap();
    assert_eq!(
        dkm.as_bytes(),
        h(
            "a14293677cc80ff8f9cc0eee30d895da9d8f405666e30ef0dfcb63c634a46002
           a2a63080e514a062768b76606f9fa5e992204fc5a670bde3f10d6b027113936a
           5c55b648a194ae587b0088d52204b702c979fa280870d2ed41efa9c549fd1119
           8af1670b143d384bd275c5f594cf266b05ebadca855e4249520a441a81157435
           a7a56cc4"
        )
    );
    // prf+ truncation (NSS ikePlus cases 9 and 10: 40 and 15 bytes).
    let short = Prf::HmacSha1.prf_plus(seed.as_bytes(), &s, 15).unwrap();
    assert_eq!(short.as_bytes(), &dkm.as_bytes()[..15]);

    let sk_d = &dkm.as_bytes()[..20];
    let nn = [ni.clone(), nr.clone()].concat();
    let child = Prf::HmacSha1.prf_plus(sk_d, &nn, 132).unwrap();
    assert_eq!(
        child.as_bytes(),
        h(
            "8059e3ee8810e6c3a91bc8bcd2a7a41151b8d0e6ae239c7b38093ad85ef4c581
           1a8e7b5d1cdabd9560b2d5e092d1f24e2d4b85eccdf0ad0dc9abd94b51ee7181
           4ca6dbc8bb51b6309f5b9545c7eb35cf5580b1e521a8fe20754a2d883ba0c2cf
           285f524aea6545b33106bc03e614296d319d41d4b50b3f510b1c0a22f3e66499
           4d234cb4"
        )
    );
    let child_dh = Prf::HmacSha1
        .prf_plus(
            sk_d,
            &[gir_new.clone(), ni.clone(), nr.clone()].concat(),
            132,
        )
        .unwrap();
    assert_eq!(
        child_dh.as_bytes(),
        h(
            "bb43244c1860ad65ee1e211ffe8bb3661750c8f89cb9f547df7f4fa61d373016
           28190e38c66232eab4b3ab14c400a5197dd3730ed4820a8a10394d51e1c04000
           52f63ebd36b0e7ef53aaed31eba4a5080d7d4b5666023a8bbb5ffb7857240f9a
           05884d1b7d2f933708450b7b3288f1fc863ab49fa901227cffc06e27899c7054
           d56fd74c"
        )
    );
    let rekey = rekey_skeyseed(Prf::HmacSha1, sk_d, &gir_new, &ni, &nr);
    assert_eq!(
        rekey.as_bytes(),
        h("63e81194946ebd05df7df5ebf5d8750056bf1f1d")
    );
}

/// NIST CAVP SP 800-135 IKEv2 KDF sample vector, SHA-256, as reproduced in
/// NSS `ike_sha256_vectors.h` (cases 6–8, "these vectors are from this NIST
/// samples").
#[test]
fn sp800_135_ikev2_sha256() {
    let ni = h("3f302be1abcb28e1");
    let nr = h("8c332ee006064c9b");
    let gir = h("0f4d257d7a58fc4545c7d7a88119eee5d5c9690c5b4c989171d3abbfd99d1d29");
    let gir_new = h("25f3b12d6f282739256e39bf54eda53b60ffcf379bb7bcc90c27b4c4c578616c");
    let seed = skeyseed(Prf::HmacSha256, &ni, &nr, &gir);
    assert_eq!(
        seed.as_bytes(),
        h("5f00d1bd2c58ec224b1e6b71fa0f19a1faa7a193952c444411b47c1a9d8ba6fe")
    );
    let s = [
        ni.clone(),
        nr.clone(),
        h("40dac39e1e1a8640"),
        h("8619a1cf9a6e4c07"),
    ]
    .concat();
    let dkm = Prf::HmacSha256.prf_plus(seed.as_bytes(), &s, 132).unwrap();
    assert_eq!(
        dkm.as_bytes(),
        h(
            "0b137d669b0947d7d026d593f0305ad401ff0c471357d695778a9c7f4b4869ec
           e98aca531188d16041b3bb936d2dbb3b4993a6e768a809160de45d0283f273a6
           cdf6854379e31be72b8d3d1fa990cf9c5b015ca9f918a7df6253c958114a09d4
           e1c19bdcd4db14b29d98db1a74ad405c588662c14a04d0d36aa4ab55e90f8986
           d12d4aad"
        )
    );
    let rekey = rekey_skeyseed(Prf::HmacSha256, &dkm.as_bytes()[..32], &gir_new, &ni, &nr);
    assert_eq!(
        rekey.as_bytes(),
        h("2d63f6debc92048b4fef3889c4c99ca67d6496e0fac14a2bca9a2d6566ff2398")
    );
}

#[test]
fn prf_plus_limit() {
    assert!(Prf::HmacSha256.prf_plus(b"k", b"s", 255 * 32).is_ok());
    assert_eq!(
        Prf::HmacSha256
            .prf_plus(b"k", b"s", 255 * 32 + 1)
            .unwrap_err(),
        CryptoError::PrfPlusTooLong(255 * 32 + 1)
    );
}

// ------------------------------------------------------------------- ECP

struct EcpVector {
    group: DhGroup,
    i: &'static str,
    gi: &'static str,
    r: &'static str,
    gr: &'static str,
    girx: &'static str,
}

// RFC 5903 §8.1 (256-bit), §8.2 (384-bit), §8.3 (521-bit) Random ECP Group
// test vectors. gi/gr are the KE payload data x | y (RFC 5903 §7, no 0x04).
const ECP: [EcpVector; 3] = [
    EcpVector {
        group: DhGroup::ECP256,
        i: "C88F01F510D9AC3F70A292DAA2316DE544E9AAB8AFE84049C62A9C57862D1433",
        gi: "DAD0B65394221CF9B051E1FECA5787D098DFE637FC90B9EF945D0C3772581180
             5271A0461CDB8252D61F1C456FA3E59AB1F45B33ACCF5F58389E0577B8990BB3",
        r: "C6EF9C5D78AE012A011164ACB397CE2088685D8F06BF9BE0B283AB46476BEE53",
        gr: "D12DFB5289C8D4F81208B70270398C342296970A0BCCB74C736FC7554494BF63
             56FBF3CA366CC23E8157854C13C58D6AAC23F046ADA30F8353E74F33039872AB",
        girx: "D6840F6B42F6EDAFD13116E0E12565202FEF8E9ECE7DCE03812464D04B9442DE",
    },
    EcpVector {
        group: DhGroup::ECP384,
        i: "099F3C7034D4A2C699884D73A375A67F7624EF7C6B3C0F160647B67414DCE655
            E35B538041E649EE3FAEF896783AB194",
        gi: "667842D7D180AC2CDE6F74F37551F55755C7645C20EF73E31634FE72B4C55EE6
             DE3AC808ACB4BDB4C88732AEE95F41AA
             9482ED1FC0EEB9CAFC4984625CCFC23F65032149E0E144ADA024181535A0F38E
             EB9FCFF3C2C947DAE69B4C634573A81C",
        r: "41CB0779B4BDB85D47846725FBEC3C9430FAB46CC8DC5060855CC9BDA0AA2942
            E0308312916B8ED2960E4BD55A7448FC",
        gr: "E558DBEF53EECDE3D3FCCFC1AEA08A89A987475D12FD950D83CFA41732BC509D
             0D1AC43A0336DEF96FDA41D0774A3571
             DCFBEC7AACF3196472169E838430367F66EEBE3C6E70C416DD5F0C68759DD1FF
             F83FA40142209DFF5EAAD96DB9E6386C",
        girx: "11187331C279962D93D604243FD592CB9D0A926F422E47187521287E7156C5C4
               D603135569B9E9D09CF5D4A270F59746",
    },
    EcpVector {
        group: DhGroup::ECP521,
        i: "0037ADE9319A89F4DABDB3EF411AACCCA5123C61ACAB57B5393DCE47608172A0
            95AA85A30FE1C2952C6771D937BA9777F5957B2639BAB072462F68C27A57382D
            4A52",
        gi: "0015417E84DBF28C0AD3C278713349DC7DF153C897A1891BD98BAB4357C9ECBE
             E1E3BF42E00B8E380AEAE57C2D107564941885942AF5A7F4601723C4195D176C
             ED3E
             017CAE20B6641D2EEB695786D8C946146239D099E18E1D5A514C739D7CB4A10A
             D8A788015AC405D7799DC75E7B7D5B6CF2261A6A7F1507438BF01BEB6CA3926F
             9582",
        r: "0145BA99A847AF43793FDD0E872E7CDFA16BE30FDC780F97BCCC3F078380201E
            9C677D600B343757A3BDBF2A3163E4C2F869CCA7458AA4A4EFFC311F5CB15168
            5EB9",
        gr: "00D0B3975AC4B799F5BEA16D5E13E9AF971D5E9B984C9F39728B5E5739735A21
             9B97C356436ADC6E95BB0352F6BE64A6C2912D4EF2D0433CED2B6171640012D9
             460F
             015C68226383956E3BD066E797B623C27CE0EAC2F551A10C2C724D9852077B87
             220B6536C5C408A1D2AEBB8E86D678AE49CB57091F4732296579AB44FCD17F0F
             C56A",
        girx: "01144C7D79AE6956BC8EDB8E7C787C4521CB086FA64407F97894E5E6B2D79B04
               D1427E73CA4BAA240A34786859810C06B3C715A3A8CC3151F2BEE417996D19F3
               DDEA",
    },
];

#[test]
fn rfc5903_ecp() {
    for v in &ECP {
        let i = KeyExchange::from_fixed_private_key(v.group, &h(v.i)).unwrap();
        let r = KeyExchange::from_fixed_private_key(v.group, &h(v.r)).unwrap();
        assert_eq!(i.public_value(), h(v.gi), "{} gi", v.group);
        assert_eq!(r.public_value(), h(v.gr), "{} gr", v.group);
        assert_eq!(
            i.public_value().len(),
            KeyExchange::public_value_len(v.group).unwrap()
        );
        let s1 = i.agree(&h(v.gr)).unwrap();
        let s2 = r.agree(&h(v.gi)).unwrap();
        assert_eq!(s1.as_bytes(), h(v.girx), "{} girx", v.group);
        assert_eq!(s2.as_bytes(), h(v.girx), "{} girx (responder)", v.group);

        // Not on the curve: flip a bit of y.
        let mut bad = h(v.gr);
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(matches!(
            i.agree(&bad),
            Err(CryptoError::BadPeerPublicValue { .. })
        ));
        // Wrong lengths, and the SEC1 form with its 0x04 prefix.
        let mut sec1 = vec![4u8];
        sec1.extend(h(v.gr));
        assert!(i.agree(&sec1).is_err());
        assert!(i.agree(&h(v.gr)[1..]).is_err());
        assert!(i.agree(&[]).is_err());
        // The point at infinity has no x | y encoding; all zero is off-curve.
        assert!(i.agree(&vec![0u8; h(v.gr).len()]).is_err());
    }
}

// ----------------------------------------------------------------- X25519

// RFC 7748 §6.1: Alice and Bob.
#[test]
fn rfc7748_x25519() {
    let a = KeyExchange::from_fixed_private_key(
        DhGroup::CURVE25519,
        &h("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"),
    )
    .unwrap();
    let b = KeyExchange::from_fixed_private_key(
        DhGroup::CURVE25519,
        &h("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"),
    )
    .unwrap();
    assert_eq!(
        a.public_value(),
        h("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
    );
    assert_eq!(
        b.public_value(),
        h("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
    );
    let k = h("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
    assert_eq!(a.agree(b.public_value()).unwrap().as_bytes(), k);
    assert_eq!(b.agree(a.public_value()).unwrap().as_bytes(), k);

    // RFC 8031 §2.3 / RFC 7748 §6.1: small-order points give an all-zero
    // secret, which must be rejected (u = 0 and u = 1); they are refused
    // as public values before the scalar multiplication.
    let mut one = [0u8; 32];
    one[0] = 1;
    for low in [[0u8; 32], one] {
        assert!(matches!(
            a.agree(&low).unwrap_err(),
            CryptoError::BadPeerPublicValue {
                group: DhGroup::CURVE25519,
                ..
            }
        ));
    }
    assert!(a.agree(&[9u8; 31]).is_err());
}

// ------------------------------------------------------------------- MODP

/// floor(2^bits * pi) by Machin's formula, pi = 16 atan(1/5) - 4 atan(1/239),
/// with 64 guard bits.
fn pi_scaled(bits: usize) -> BigUint {
    let one = BigUint::from(1u8) << (bits + 64);
    let atan_inv = |x: u32| {
        let x = BigUint::from(x);
        let x2 = &x * &x;
        let mut term = &one / &x;
        let (mut pos, mut neg) = (BigUint::default(), BigUint::default());
        let mut k = 0u32;
        while term > BigUint::default() {
            let t = &term / BigUint::from(2 * k + 1);
            if k % 2 == 0 {
                pos += t;
            } else {
                neg += t;
            }
            term /= &x2;
            k += 1;
        }
        pos - neg
    };
    (atan_inv(5) * 16u32 - atan_inv(239) * 4u32) >> 64
}

// RFC 3526 §3–§5: "The prime is: 2^n - 2^(n-64) - 1 + 2^64 * { [2^(n-130)
// pi] + k }" with k = 124476, 1690314, 240904. Checks the transcribed hex.
#[test]
fn modp_primes_match_rfc3526_formula() {
    for (group, n, k) in [
        // RFC 2409 §6.2 (group 2) and RFC 3526 §2 (group 5), same formula.
        (DhGroup::MODP1024, 1024usize, 129093u32),
        (DhGroup::MODP1536, 1536, 741804),
        (DhGroup::MODP2048, 2048, 124476),
        (DhGroup::MODP3072, 3072, 1690314),
        (DhGroup::MODP4096, 4096, 240904),
    ] {
        let two = BigUint::from(2u8);
        let p = two.pow(n as u32) - two.pow((n - 64) as u32) - 1u8
            + (pi_scaled(n - 130) + BigUint::from(k)) * two.pow(64);
        assert_eq!(
            BigUint::from_bytes_be(modp_prime(group).unwrap()),
            p,
            "{group}"
        );
    }
}

fn pad(v: &BigUint, n: usize) -> Vec<u8> {
    let b = v.to_bytes_be();
    let mut out = vec![0u8; n - b.len()];
    out.extend(b);
    out
}

/// Our constant-time MODP against num-bigint's modpow on random exponents:
/// public values and shared secrets, both directions.
#[test]
fn modp_matches_num_bigint_oracle() {
    for group in [DhGroup::MODP2048, DhGroup::MODP3072, DhGroup::MODP4096] {
        let p = BigUint::from_bytes_be(modp_prime(group).unwrap());
        let n = modp_prime(group).unwrap().len();
        let a = KeyExchange::generate(group, &mut OsRng).unwrap();
        let b = KeyExchange::generate(group, &mut OsRng).unwrap();
        assert_eq!(a.public_value().len(), n);
        let s1 = a.agree(b.public_value()).unwrap();
        let s2 = b.agree(a.public_value()).unwrap();
        assert_eq!(s1.as_bytes(), s2.as_bytes());
        assert_eq!(s1.len(), n);

        // Fixed random exponent of the full allowed size, checked against
        // the oracle.
        let bits = modp_exponent_bits(group).unwrap();
        let mut x = vec![0u8; bits / 8];
        OsRng.fill_bytes(&mut x);
        x[0] |= 0x80;
        let kx = KeyExchange::from_fixed_private_key(group, &x).unwrap();
        let xb = BigUint::from_bytes_be(&x);
        let want = BigUint::from(2u8).modpow(&xb, &p);
        assert_eq!(kx.public_value(), pad(&want, n), "{group} public");
        let yb = BigUint::from_bytes_be(b.public_value());
        let want = yb.modpow(&xb, &p);
        assert_eq!(
            kx.agree(b.public_value()).unwrap().as_bytes(),
            pad(&want, n),
            "{group} secret"
        );

        // Exponents beyond the chosen size are refused.
        let mut too_big = vec![0u8; bits / 8 + 1];
        too_big[0] = 1;
        assert!(KeyExchange::from_fixed_private_key(group, &too_big).is_err());
    }
}

/// A public value and a shared secret whose top byte is zero stay the full
/// group length (RFC 7296 §3.4); the cases are found with the num-bigint
/// oracle, then computed with our code.
#[test]
fn modp_leading_zero_padding() {
    let group = DhGroup::MODP2048;
    let pb = modp_prime(group).unwrap();
    let p = BigUint::from_bytes_be(pb);
    let peer = KeyExchange::generate(group, &mut OsRng).unwrap();
    let y = BigUint::from_bytes_be(peer.public_value());
    let (mut found_pub, mut found_secret) = (false, false);
    for _ in 0..20_000 {
        let mut x = [0u8; 40];
        OsRng.fill_bytes(&mut x);
        let xb = BigUint::from_bytes_be(&x);
        let gx = BigUint::from(2u8).modpow(&xb, &p);
        if !found_pub && gx.bits() <= 2040 {
            let k = KeyExchange::from_fixed_private_key(group, &x).unwrap();
            assert_eq!(k.public_value().len(), 256);
            assert_eq!(k.public_value()[0], 0);
            assert_eq!(k.public_value(), pad(&gx, 256));
            // And the peer accepts it.
            assert!(peer.agree(k.public_value()).is_ok());
            found_pub = true;
        }
        let s = y.modpow(&xb, &p);
        if !found_secret && s.bits() <= 2040 {
            let k = KeyExchange::from_fixed_private_key(group, &x).unwrap();
            let ss = k.agree(peer.public_value()).unwrap();
            assert_eq!(ss.len(), 256);
            assert_eq!(ss.as_bytes()[0], 0);
            assert_eq!(ss.as_bytes(), pad(&s, 256));
            found_secret = true;
        }
        if found_pub && found_secret {
            return;
        }
    }
    panic!("no leading-zero case found (probability ~1e-34)");
}

// RFC 6989 §2.1: 1 < y < p - 1.
#[test]
fn modp_rejects_out_of_range_peer_values() {
    for group in [DhGroup::MODP2048, DhGroup::MODP3072, DhGroup::MODP4096] {
        let pb = modp_prime(group).unwrap().to_vec();
        let n = pb.len();
        let k = KeyExchange::generate(group, &mut OsRng).unwrap();
        let mut v = vec![0u8; n];
        let bad_values = {
            let zero = v.clone();
            v[n - 1] = 1;
            let one = v.clone();
            let mut pm1 = pb.clone();
            pm1[n - 1] -= 1;
            vec![zero, one, pm1, pb.clone(), vec![0xff; n]]
        };
        for bad in bad_values {
            assert!(matches!(
                k.agree(&bad),
                Err(CryptoError::BadPeerPublicValue { .. })
            ));
        }
        assert!(k.agree(&pb[1..]).is_err());
    }
}

#[test]
fn unsupported_group_is_named() {
    let e = KeyExchange::generate(DhGroup::MODP6144, &mut OsRng).unwrap_err();
    assert_eq!(e, CryptoError::UnsupportedGroup(DhGroup::MODP6144));
    assert!(e.to_string().contains("MODP6144"));
    assert!(KeyExchange::from_fixed_private_key(DhGroup::CURVE448, &[1; 56]).is_err());
}

// ------------------------------------------------------------- AUTH / misc

// RFC 7296 §2.15: layout of the signed octets and of the shared-key AUTH.
#[test]
fn auth_octets() {
    let prf = Prf::HmacSha256;
    let octets = signed_octets(prf, b"MSG1", b"NONCE_R", b"skpi", b"\x02\0\0\0id");
    assert_eq!(&octets[..4], b"MSG1");
    assert_eq!(&octets[4..11], b"NONCE_R");
    assert_eq!(&octets[11..], prf.compute(b"skpi", b"\x02\0\0\0id"));
    let auth = psk_auth(prf, b"secret", &octets);
    let inner = prf.compute(b"secret", b"Key Pad for IKEv2");
    assert_eq!(auth, prf.compute(&inner, &octets));
    assert!(verify_psk_auth(prf, b"secret", &octets, &auth));
    assert!(!verify_psk_auth(prf, b"secreT", &octets, &auth));
}
