use super::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// RFC 7427 Appendix A (A.1 RSA PKCS#1 v1.5, A.3 ECDSA) and RFC 8420 §2
/// (Ed25519, Ed448): the AlgorithmIdentifier octets of method 14.
const RFC7427_VECTORS: &[(SignatureScheme, &str)] = &[
    (
        SignatureScheme::RsaPkcs1Sha1,
        "300d06092a864886f70d0101050500",
    ),
    (
        SignatureScheme::RsaPkcs1Sha256,
        "300d06092a864886f70d01010b0500",
    ),
    (
        SignatureScheme::RsaPkcs1Sha384,
        "300d06092a864886f70d01010c0500",
    ),
    (
        SignatureScheme::RsaPkcs1Sha512,
        "300d06092a864886f70d01010d0500",
    ),
    (SignatureScheme::EcdsaSha1, "300906072a8648ce3d0401"),
    (SignatureScheme::EcdsaSha256, "300a06082a8648ce3d040302"),
    (SignatureScheme::EcdsaSha384, "300a06082a8648ce3d040303"),
    (SignatureScheme::EcdsaSha512, "300a06082a8648ce3d040304"),
    (SignatureScheme::Ed25519, "300506032b6570"),
    (SignatureScheme::Ed448, "300506032b6571"),
];

#[test]
fn algorithm_identifiers_match_rfc7427_appendix_a() {
    for (scheme, hex) in RFC7427_VECTORS {
        let want = hex::decode(hex).unwrap();
        assert_eq!(scheme.algorithm_identifier(), want, "{scheme}");
        assert_eq!(
            SignatureScheme::from_algorithm_identifier(&want).unwrap(),
            *scheme
        );
    }
}

/// RSASSA-PSS parameters as strongSwan builds them (signature_params.c:
/// hash and MGF1 hash with NULL parameters, the salt length, the trailer
/// field omitted as DER requires for its default), checked by hand against
/// RFC 8017 Appendix A.2.3.
#[test]
fn pss_algorithm_identifier_is_der_of_rfc8017_params() {
    let want = hex::decode(
        "304106092a864886f70d01010a3034a00f300d06096086480165030402010500\
         a11c301a06092a864886f70d010108300d06096086480165030402010500a203020120",
    )
    .unwrap();
    let ai = SignatureScheme::RsaPssSha256(32).algorithm_identifier();
    assert_eq!(hex::encode(&ai), hex::encode(&want));
    assert_eq!(
        SignatureScheme::from_algorithm_identifier(&want).unwrap(),
        SignatureScheme::RsaPssSha256(32)
    );
    // With the (default) trailer field spelled out, as RFC 7427 A.4.3 does.
    let mut with_trailer = want.clone();
    with_trailer.extend_from_slice(&[0xa3, 0x03, 0x02, 0x01, 0x01]);
    with_trailer[1] += 5;
    with_trailer[14] += 5;
    assert_eq!(
        SignatureScheme::from_algorithm_identifier(&with_trailer).unwrap(),
        SignatureScheme::RsaPssSha256(32)
    );
    // PSS with SHA-1 defaults (empty parameters) is refused, not guessed.
    let defaults = hex::decode("300d06092a864886f70d01010a3000").unwrap();
    assert!(SignatureScheme::from_algorithm_identifier(&defaults).is_err());
}

#[test]
fn digital_signature_auth_data_round_trips_and_rejects_bad_lengths() {
    let d = encode_digital_signature(SignatureScheme::EcdsaSha256, &[1, 2, 3]);
    assert_eq!(d[0], 12);
    let (s, sig) = decode_digital_signature(&d).unwrap();
    assert_eq!(s, SignatureScheme::EcdsaSha256);
    assert_eq!(sig, &[1, 2, 3]);
    assert!(decode_digital_signature(&[]).is_err());
    assert!(decode_digital_signature(&[0]).is_err());
    assert!(decode_digital_signature(&[200, 0x30, 0]).is_err());
    // An unknown algorithm (md5WithRSAEncryption) is refused.
    let md5 = hex::decode("0f300d06092a864886f70d0101040500").unwrap();
    assert!(matches!(
        decode_digital_signature(&md5),
        Err(SigError::Unsupported(_))
    ));
}

/// RFC 8032 §7.1, TEST 1: the secret key, its public key and the signature
/// of the empty message.
#[test]
fn ed25519_rfc8032_test_1() {
    let seed =
        hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60").unwrap();
    // OneAsymmetricKey for Ed25519 (RFC 8410 §7/§10.3 layout).
    let mut p8 = hex::decode("302e020100300506032b657004220420").unwrap();
    p8.extend_from_slice(&seed);
    let k = PrivateKey::from_pkcs8_der(&p8).unwrap();
    assert_eq!(k.key_type(), KeyType::Ed25519);
    let sig = k.sign(SignatureScheme::Ed25519, b"").unwrap();
    assert_eq!(
        hex::encode(&sig),
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155\
         5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    );
    let pk = k.public_key();
    assert_eq!(
        hex::encode(&pk.raw),
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    );
    assert!(pk.verify(SignatureScheme::Ed25519, b"", &sig));
    assert!(!pk.verify(SignatureScheme::Ed25519, b"x", &sig));
    assert!(k.sign_classic(b"").is_err());
}

struct Dir(PathBuf);
impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
fn tmpdir(tag: &str) -> Dir {
    let p = std::env::temp_dir().join(format!("vtid-sig-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).unwrap();
    Dir(p)
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl (Debian package openssl) must be installed");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn openssl_ok(dir: &Path, args: &[&str]) -> bool {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Cross-checks with OpenSSL, an independent implementation: OpenSSL
/// verifies what vtid signs and vtid verifies what OpenSSL signs, for every
/// key type and scheme vtid implements, with keys in every file format.
#[test]
fn signatures_interoperate_with_openssl() {
    let d = tmpdir("openssl");
    let dir = &d.0;
    std::fs::write(dir.join("data"), b"signed octets of an IKE_AUTH exchange").unwrap();
    let data = std::fs::read(dir.join("data")).unwrap();
    // (genpkey args, OpenSSL digest, our scheme, PSS salt)
    let cases: &[(&str, &[&str], &str, SignatureScheme)] = &[
        (
            "rsa2048",
            &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
            "sha256",
            SignatureScheme::RsaPkcs1Sha256,
        ),
        ("rsa2048", &[], "sha384", SignatureScheme::RsaPkcs1Sha384),
        ("rsa2048", &[], "sha512", SignatureScheme::RsaPkcs1Sha512),
        ("rsa2048", &[], "sha1", SignatureScheme::RsaPkcs1Sha1),
        ("rsa2048", &[], "sha256", SignatureScheme::RsaPssSha256(32)),
        ("rsa2048", &[], "sha512", SignatureScheme::RsaPssSha512(64)),
        ("rsa2048", &[], "sha256", SignatureScheme::RsaPssSha256(20)),
        (
            "rsa1024",
            &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"],
            "sha256",
            SignatureScheme::RsaPkcs1Sha256,
        ),
        ("rsa1024", &[], "sha256", SignatureScheme::RsaPssSha256(32)),
        (
            "p256",
            &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
            "sha256",
            SignatureScheme::EcdsaSha256,
        ),
        (
            "p384",
            &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
            "sha384",
            SignatureScheme::EcdsaSha384,
        ),
        (
            "p521",
            &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-521"],
            "sha512",
            SignatureScheme::EcdsaSha512,
        ),
        (
            "ed25519",
            &["-algorithm", "ED25519"],
            "",
            SignatureScheme::Ed25519,
        ),
    ];
    for (name, gen, md, scheme) in cases {
        let key = format!("{name}.pem");
        if !gen.is_empty() {
            let mut a = vec!["genpkey"];
            a.extend_from_slice(gen);
            a.extend_from_slice(&["-out", &key]);
            openssl(dir, &a);
            openssl(
                dir,
                &[
                    "pkey",
                    "-in",
                    &key,
                    "-pubout",
                    "-out",
                    &format!("{name}.pub"),
                ],
            );
        }
        let k = PrivateKey::from_file_bytes(&std::fs::read(dir.join(&key)).unwrap(), &[]).unwrap();
        let pubk =
            PublicKey::from_file_bytes(&std::fs::read(dir.join(format!("{name}.pub"))).unwrap())
                .unwrap();
        assert_eq!(k.public_key(), &pubk, "{name}");
        let ours = k.sign(*scheme, &data).unwrap();
        std::fs::write(dir.join("ours.sig"), &ours).unwrap();
        let mut sigopt: Vec<String> = Vec::new();
        if let SignatureScheme::RsaPssSha256(s)
        | SignatureScheme::RsaPssSha384(s)
        | SignatureScheme::RsaPssSha512(s) = scheme
        {
            sigopt = vec![
                "-sigopt".into(),
                "rsa_padding_mode:pss".into(),
                "-sigopt".into(),
                format!("rsa_pss_saltlen:{s}"),
            ];
        }
        let pubf = format!("{name}.pub");
        let mdflag = format!("-{md}");
        let mut verify: Vec<&str> = if md.is_empty() {
            vec![
                "pkeyutl", "-verify", "-rawin", "-pubin", "-inkey", &pubf, "-in", "data",
                "-sigfile", "ours.sig",
            ]
        } else {
            vec!["dgst", &mdflag, "-verify", &pubf, "-signature", "ours.sig"]
        };
        verify.extend(sigopt.iter().map(String::as_str));
        if !md.is_empty() {
            verify.push("data");
        }
        openssl(dir, &verify);
        // And the other way round.
        let mut sign: Vec<&str> = if md.is_empty() {
            vec![
                "pkeyutl",
                "-sign",
                "-rawin",
                "-inkey",
                &key,
                "-in",
                "data",
                "-out",
                "theirs.sig",
            ]
        } else {
            vec!["dgst", &mdflag, "-sign", &key, "-out", "theirs.sig"]
        };
        sign.extend(sigopt.iter().map(String::as_str));
        if !md.is_empty() {
            sign.push("data");
        }
        openssl(dir, &sign);
        let theirs = std::fs::read(dir.join("theirs.sig")).unwrap();
        assert!(pubk.verify(*scheme, &data, &theirs), "{name} {scheme}");
        assert!(
            !pubk.verify(*scheme, b"other data", &theirs),
            "{name} {scheme}"
        );
        // A signature by this key never verifies under another scheme family.
        let wrong = if scheme.fits(KeyType::Rsa) {
            SignatureScheme::EcdsaSha256
        } else {
            SignatureScheme::RsaPkcs1Sha256
        };
        assert!(!pubk.verify(wrong, &data, &theirs));
    }
    // The same keys in the other file formats swanctl reads: PKCS#1 and SEC1
    // (traditional PEM), DER.
    for (name, trad) in [
        ("rsa2048", "-traditional"),
        ("p256", "-traditional"),
        ("p521", "-traditional"),
    ] {
        openssl(
            dir,
            &[
                "pkey",
                "-in",
                &format!("{name}.pem"),
                trad,
                "-out",
                &format!("{name}.trad"),
            ],
        );
        openssl(
            dir,
            &[
                "pkey",
                "-in",
                &format!("{name}.pem"),
                trad,
                "-outform",
                "DER",
                "-out",
                &format!("{name}.tder"),
            ],
        );
        openssl(
            dir,
            &[
                "pkey",
                "-in",
                &format!("{name}.pem"),
                "-outform",
                "DER",
                "-out",
                &format!("{name}.der"),
            ],
        );
        let want = PrivateKey::from_file_bytes(
            &std::fs::read(dir.join(format!("{name}.pem"))).unwrap(),
            &[],
        )
        .unwrap();
        for f in ["trad", "tder", "der"] {
            let bytes = std::fs::read(dir.join(format!("{name}.{f}"))).unwrap();
            let k = PrivateKey::from_file_bytes(&bytes, &[]).unwrap();
            assert_eq!(k.public_key(), want.public_key(), "{name}.{f}");
        }
        assert!(std::fs::read_to_string(dir.join(format!("{name}.trad")))
            .unwrap()
            .contains(if name.starts_with("rsa") {
                "BEGIN RSA PRIVATE KEY"
            } else {
                "BEGIN EC PRIVATE KEY"
            }));
    }
}

#[test]
fn encrypted_pkcs8_needs_the_right_passphrase() {
    let d = tmpdir("enc");
    let dir = &d.0;
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "k.pem",
        ],
    );
    openssl(
        dir,
        &[
            "pkcs8",
            "-topk8",
            "-v2",
            "aes256",
            "-in",
            "k.pem",
            "-passout",
            "pass:s3cr3t",
            "-out",
            "enc.pem",
        ],
    );
    let plain =
        PrivateKey::from_file_bytes(&std::fs::read(dir.join("k.pem")).unwrap(), &[]).unwrap();
    let enc = std::fs::read(dir.join("enc.pem")).unwrap();
    assert!(String::from_utf8_lossy(&enc).contains("ENCRYPTED PRIVATE KEY"));
    assert!(matches!(
        PrivateKey::from_file_bytes(&enc, &[]),
        Err(SigError::Encrypted(_))
    ));
    assert!(matches!(
        PrivateKey::from_file_bytes(&enc, &[b"wrong"]),
        Err(SigError::Encrypted(_))
    ));
    let k = PrivateKey::from_file_bytes(&enc, &[b"wrong", b"s3cr3t"]).unwrap();
    assert_eq!(k.public_key(), plain.public_key());
    // Legacy OpenSSL PEM encryption is named, not misread.
    if openssl_ok(
        dir,
        &[
            "ec",
            "-in",
            "k.pem",
            "-aes256",
            "-passout",
            "pass:x",
            "-out",
            "legacy.pem",
        ],
    ) {
        let legacy = std::fs::read(dir.join("legacy.pem")).unwrap();
        if String::from_utf8_lossy(&legacy).contains("Proc-Type") {
            assert!(matches!(
                PrivateKey::from_file_bytes(&legacy, &[b"x"]),
                Err(SigError::Unsupported(_))
            ));
        }
    }
    let dbg = format!("{k:?}");
    assert!(dbg.contains("redacted") && dbg.contains("P-256"), "{dbg}");
}

#[test]
fn classic_methods_round_trip_with_fixed_size_ecdsa() {
    let d = tmpdir("classic");
    let dir = &d.0;
    for (curve, method, len) in [
        ("P-256", AuthMethod::ECDSA_256, 64),
        ("P-384", AuthMethod::ECDSA_384, 96),
        ("P-521", AuthMethod::ECDSA_521, 132),
    ] {
        openssl(
            dir,
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                &format!("ec_paramgen_curve:{curve}"),
                "-out",
                "k.pem",
            ],
        );
        let k =
            PrivateKey::from_file_bytes(&std::fs::read(dir.join("k.pem")).unwrap(), &[]).unwrap();
        let (m, sig) = k.sign_classic(b"octets").unwrap();
        assert_eq!((m, sig.len()), (method, len), "{curve}");
        assert!(verify_classic(k.public_key(), m, b"octets", &sig));
        assert!(!verify_classic(k.public_key(), m, b"octetz", &sig));
        assert!(!verify_classic(
            k.public_key(),
            AuthMethod::RSA_SIG,
            b"octets",
            &sig
        ));
    }
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            "r.pem",
        ],
    );
    let k = PrivateKey::from_file_bytes(&std::fs::read(dir.join("r.pem")).unwrap(), &[]).unwrap();
    let (m, sig) = k.sign_classic(b"octets").unwrap();
    assert_eq!(m, AuthMethod::RSA_SIG);
    assert!(verify_classic(k.public_key(), m, b"octets", &sig));
    assert!(!verify_classic(
        k.public_key(),
        AuthMethod::ECDSA_256,
        b"octets",
        &sig
    ));
}

proptest::proptest! {
    #[test]
    fn parsers_never_panic(data in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
        let _ = decode_digital_signature(&data);
        let _ = SignatureScheme::from_algorithm_identifier(&data);
        let _ = PublicKey::from_spki_der(&data);
        let _ = PublicKey::from_file_bytes(&data);
        let _ = PrivateKey::from_file_bytes(&data, &[b"x"]);
        let _ = HashAlgorithm::decode_list(&data);
    }
}
