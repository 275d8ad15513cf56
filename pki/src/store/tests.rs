use super::*;
use crate::testpki::{KeyKind, TestPki};
use std::net::Ipv4Addr;

fn cert(p: &TestPki, name: &str) -> Arc<Certificate> {
    Arc::new(Certificate::from_file_bytes(&p.read(&format!("{name}.pem"))).unwrap())
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn opts(revocation: Revocation) -> VerifyOptions {
    VerifyOptions {
        now: now(),
        revocation,
        cacerts: Vec::new(),
        wait_for_fetch: false,
    }
}

/// Root → intermediate (pathlen 0, CRL distribution point) → end entities
/// of every key type, plus the certificates of the negative cases; all
/// made by strongSwan's `pki`.
fn lab() -> TestPki {
    let p = TestPki::new("store").unwrap();
    let ec = KeyKind::Ecdsa(256);
    p.root("root", "C=CH, O=vtid test, CN=Root CA", ec, &[])
        .unwrap();
    p.issue(
        "inter",
        "C=CH, O=vtid test, CN=Intermediate CA",
        "root",
        ec,
        &["--ca", "--pathlen", "0"],
    )
    .unwrap();
    let san = [
        "--san",
        "moon.example.org",
        "--san",
        "moon@example.org",
        "--san",
        "192.0.2.1",
    ];
    p.issue(
        "moon",
        "C=CH, O=vtid test, CN=moon.example.org",
        "inter",
        KeyKind::Rsa(2048),
        &san,
    )
    .unwrap();
    p.issue(
        "sun",
        "C=CH, O=vtid test, CN=sun.example.org",
        "inter",
        ec,
        &["--san", "sun.example.org"],
    )
    .unwrap();
    p.issue(
        "ed",
        "C=CH, O=vtid test, CN=ed.example.org",
        "inter",
        KeyKind::Ed25519,
        &[],
    )
    .unwrap();
    p.issue(
        "cdp",
        "C=CH, O=vtid test, CN=cdp.example.org",
        "inter",
        ec,
        &["--crl", "http://198.51.100.9/inter.crl"],
    )
    .unwrap();
    p.issue(
        "revoked",
        "C=CH, O=vtid test, CN=revoked.example.org",
        "inter",
        ec,
        &[],
    )
    .unwrap();
    p.issue(
        "expired",
        "C=CH, O=vtid test, CN=expired.example.org",
        "inter",
        ec,
        &[
            "--not-before",
            "01.01.20 00:00:00",
            "--not-after",
            "02.01.20 00:00:00",
        ],
    )
    .unwrap();
    p.issue(
        "future",
        "C=CH, O=vtid test, CN=future.example.org",
        "inter",
        ec,
        &[
            "--not-before",
            "01.01.37 00:00:00",
            "--not-after",
            "02.01.37 00:00:00",
        ],
    )
    .unwrap();
    p.root("other", "C=CH, O=elsewhere, CN=Other CA", ec, &[])
        .unwrap();
    p.issue(
        "stranger",
        "C=CH, O=elsewhere, CN=moon.example.org",
        "other",
        ec,
        &["--san", "moon.example.org"],
    )
    .unwrap();
    // pathlen 0 of "inter" forbids a CA below it.
    p.issue(
        "sub",
        "C=CH, O=vtid test, CN=Sub CA",
        "inter",
        ec,
        &["--ca"],
    )
    .unwrap();
    p.issue(
        "deep",
        "C=CH, O=vtid test, CN=deep.example.org",
        "sub",
        ec,
        &[],
    )
    .unwrap();
    // An end entity is no CA (pki refuses to issue from it: OpenSSL does).
    p.key("fake", ec).unwrap();
    let ossl = |args: &[&str]| {
        let st = std::process::Command::new("openssl")
            .args(args)
            .current_dir(&p.dir)
            .status()
            .unwrap();
        assert!(st.success(), "openssl {args:?}");
    };
    ossl(&[
        "req",
        "-new",
        "-key",
        "fake.key",
        "-subj",
        "/C=CH/O=vtid test/CN=fake.example.org",
        "-out",
        "fake.csr",
    ]);
    ossl(&[
        "x509", "-req", "-in", "fake.csr", "-CA", "sun.pem", "-CAkey", "sun.key", "-days", "3",
        "-out", "fake.pem",
    ]);
    // Name constraints.
    p.root(
        "nc",
        "C=CH, O=constrained, CN=NC CA",
        ec,
        &[
            "--nc-permitted",
            ".example.org",
            "--nc-excluded",
            "bad.example.org",
        ],
    )
    .unwrap();
    p.issue(
        "nc-ok",
        "C=CH, O=constrained, CN=ok",
        "nc",
        ec,
        &["--san", "gw.example.org"],
    )
    .unwrap();
    p.issue(
        "nc-out",
        "C=CH, O=constrained, CN=out",
        "nc",
        ec,
        &["--san", "gw.example.net"],
    )
    .unwrap();
    p.issue(
        "nc-bad",
        "C=CH, O=constrained, CN=bad",
        "nc",
        ec,
        &["--san", "bad.example.org"],
    )
    .unwrap();
    p.crl("inter", "inter", &["revoked"], 7).unwrap();
    p.crl("other", "other", &["revoked"], 7).unwrap();
    p
}

#[test]
fn chains_and_every_negative_case() {
    let p = lab();
    let root = cert(&p, "root");
    let inter = cert(&p, "inter");
    let mut s = Store::new();
    assert!(s.add_ca((*root).clone()));
    assert!(!s.add_ca((*root).clone()));
    let relaxed = opts(Revocation::Relaxed);

    // Only the root is trusted; the peer sends the intermediate.
    for name in ["moon", "sun", "ed"] {
        let c = s
            .verify(&cert(&p, name), std::slice::from_ref(&inter), &relaxed)
            .unwrap();
        assert_eq!(c.certs.len(), 3, "{name}");
        assert_eq!(c.certs[2], root);
        assert_eq!(c.status, vec![Status::Skipped, Status::Skipped]);
    }
    // Without the intermediate there is no path.
    let e = s.verify(&cert(&p, "moon"), &[], &relaxed).unwrap_err();
    assert!(matches!(e, TrustError::NoIssuer { .. }), "{e}");
    // Validity.
    for name in ["expired", "future"] {
        let e = s
            .verify(&cert(&p, name), std::slice::from_ref(&inter), &relaxed)
            .unwrap_err();
        assert!(matches!(e, TrustError::Expired { .. }), "{name}: {e}");
    }
    // Another CA's certificate, even with the same subject names.
    let e = s
        .verify(
            &cert(&p, "stranger"),
            std::slice::from_ref(&inter),
            &relaxed,
        )
        .unwrap_err();
    assert!(matches!(e, TrustError::NoIssuer { .. }), "{e}");
    // pathlen 0 of the intermediate.
    let e = s
        .verify(
            &cert(&p, "deep"),
            &[inter.clone(), cert(&p, "sub")],
            &relaxed,
        )
        .unwrap_err();
    assert!(
        matches!(
            e,
            TrustError::PathLen {
                len: 0,
                below: 1,
                ..
            }
        ),
        "{e}"
    );
    // An end entity as issuer.
    let e = s
        .verify(
            &cert(&p, "fake"),
            &[inter.clone(), cert(&p, "sun")],
            &relaxed,
        )
        .unwrap_err();
    assert!(matches!(e, TrustError::NotCa(_)), "{e}");
    // A forged intermediate: right name, wrong key.
    let forged = cert(&p, "stranger");
    let e = s
        .verify(&cert(&p, "moon"), &[forged], &relaxed)
        .unwrap_err();
    assert!(matches!(e, TrustError::NoIssuer { .. }), "{e}");
    // cacerts: the chain must contain the required CA.
    let other = cert(&p, "other");
    let mut with_ca = relaxed.clone();
    with_ca.cacerts = vec![other.der().to_vec()];
    let e = s
        .verify(&cert(&p, "moon"), std::slice::from_ref(&inter), &with_ca)
        .unwrap_err();
    assert!(matches!(e, TrustError::NotRequiredCa(_)), "{e}");
    with_ca.cacerts = vec![inter.der().to_vec()];
    s.verify(&cert(&p, "moon"), std::slice::from_ref(&inter), &with_ca)
        .unwrap();
    // A cacerts CA is trusted for the round even if not loaded as CA.
    let mut s2 = Store::new();
    let mut only_other = relaxed.clone();
    only_other.cacerts = vec![other.der().to_vec()];
    assert_eq!(
        s2.verify(&cert(&p, "stranger"), &[], &only_other)
            .unwrap()
            .certs
            .len(),
        2
    );
}

#[test]
fn name_constraints() {
    let p = lab();
    let mut s = Store::new();
    s.add_ca((*cert(&p, "nc")).clone());
    let o = opts(Revocation::Relaxed);
    s.verify(&cert(&p, "nc-ok"), &[], &o).unwrap();
    for name in ["nc-out", "nc-bad"] {
        let e = s.verify(&cert(&p, name), &[], &o).unwrap_err();
        assert!(
            matches!(e, TrustError::NameConstraint { .. }),
            "{name}: {e}"
        );
    }
}

#[test]
fn revocation_policies() {
    let p = lab();
    let inter = cert(&p, "inter");
    let mut s = Store::new();
    s.add_ca((*cert(&p, "root")).clone());
    let revoked = cert(&p, "revoked");
    let sun = cert(&p, "sun");
    // No CRL, no URI: relaxed and ifuri pass, strict fails.
    s.verify(
        &revoked,
        std::slice::from_ref(&inter),
        &opts(Revocation::Relaxed),
    )
    .unwrap();
    s.verify(
        &revoked,
        std::slice::from_ref(&inter),
        &opts(Revocation::IfUri),
    )
    .unwrap();
    let e = s
        .verify(
            &sun,
            std::slice::from_ref(&inter),
            &opts(Revocation::Strict),
        )
        .unwrap_err();
    assert!(
        matches!(
            e,
            TrustError::Revocation {
                status: Status::Skipped,
                ..
            }
        ),
        "{e}"
    );
    // A URI but no CRL: ifuri fails and the URI is wanted.
    let cdp = cert(&p, "cdp");
    let e = s
        .verify(&cdp, std::slice::from_ref(&inter), &opts(Revocation::IfUri))
        .unwrap_err();
    assert!(
        matches!(
            e,
            TrustError::Revocation {
                status: Status::Failed,
                ..
            }
        ),
        "{e}"
    );
    assert!(s.crl_uris().contains_key("http://198.51.100.9/inter.crl"));
    assert_eq!(
        s.crl_uris_due(now(), 60),
        vec!["http://198.51.100.9/inter.crl".to_string()]
    );
    s.verify(
        &cdp,
        std::slice::from_ref(&inter),
        &opts(Revocation::Relaxed),
    )
    .unwrap();
    // A CRL signed by another CA is not the intermediate's.
    assert!(s.add_crl(Crl::from_file_bytes(&p.read("other.crl")).unwrap()));
    s.verify(
        &revoked,
        std::slice::from_ref(&inter),
        &opts(Revocation::Relaxed),
    )
    .unwrap();
    // The intermediate's CRL (fetched for the URI): revoked fails under
    // every policy; the others are good even under strict... except the
    // intermediate itself, whose issuer (the root) has no CRL.
    s.crl_fetched(
        "http://198.51.100.9/inter.crl",
        now(),
        Ok(Crl::from_file_bytes(&p.read("inter.crl")).unwrap()),
    );
    assert!(s.crl_uris_due(now(), 60).is_empty());
    for pol in [Revocation::Relaxed, Revocation::IfUri, Revocation::Strict] {
        let e = s
            .verify(&revoked, std::slice::from_ref(&inter), &opts(pol))
            .unwrap_err();
        assert!(
            matches!(e, TrustError::Revoked { reason: 1, .. }),
            "{pol:?}: {e}"
        );
    }
    let c = s
        .verify(&sun, std::slice::from_ref(&inter), &opts(Revocation::IfUri))
        .unwrap();
    assert_eq!(c.status, vec![Status::Good, Status::Skipped]);
    let e = s
        .verify(
            &sun,
            std::slice::from_ref(&inter),
            &opts(Revocation::Strict),
        )
        .unwrap_err();
    assert!(
        matches!(&e, TrustError::Revocation { subject, status: Status::Skipped, .. } if subject.contains("Intermediate")),
        "{e}"
    );
    // A CRL past its nextUpdate is stale: ifuri and strict refuse it.
    let mut late = opts(Revocation::IfUri);
    late.now += 8 * 86400;
    let e = s
        .verify(&sun, std::slice::from_ref(&inter), &late)
        .unwrap_err();
    assert!(
        matches!(
            e,
            TrustError::Revocation {
                status: Status::Stale,
                ..
            }
        ),
        "{e}"
    );
}

/// With a fetcher attached (`wait_for_fetch`), a certificate whose CRL is
/// missing waits while its URI is untried or being fetched, and is decided
/// by the policy once the fetch failed; a fetched CRL revokes; a forged
/// one (the intermediate's name, another key) is refused when the
/// intermediate is known and ignored when used otherwise.
#[test]
fn crl_fetches_are_awaited_then_decided() {
    let p = lab();
    p.root(
        "forger",
        "C=CH, O=vtid test, CN=Intermediate CA",
        KeyKind::Ecdsa(256),
        &[],
    )
    .unwrap();
    p.crl("forged", "forger", &[], 7).unwrap();
    let inter = cert(&p, "inter");
    let cdp = cert(&p, "cdp");
    let uri = "http://198.51.100.9/inter.crl";
    let mut s = Store::new();
    s.add_ca((*cert(&p, "root")).clone());
    let wait = |pol| VerifyOptions {
        wait_for_fetch: true,
        ..opts(pol)
    };
    let chain = std::slice::from_ref(&inter);
    for pol in [Revocation::Relaxed, Revocation::IfUri, Revocation::Strict] {
        let e = s.verify(&cdp, chain, &wait(pol)).unwrap_err();
        assert_eq!(e, TrustError::Pending(vec![uri.to_string()]), "{pol:?}");
    }
    // Without a fetcher the same question is decided at once.
    s.verify(&cdp, chain, &opts(Revocation::Relaxed)).unwrap();
    assert_eq!(s.crl_uris_due(now(), 60), vec![uri.to_string()]);
    s.crl_fetch_started(uri);
    assert!(s.crl_uris_due(now(), 60).is_empty(), "in flight");
    assert!(matches!(
        s.verify(&cdp, chain, &wait(Revocation::IfUri)),
        Err(TrustError::Pending(_))
    ));
    // The fetch failed: decided by the policy, retried after `retry`.
    assert_eq!(
        s.crl_fetched(uri, now(), Err("connection refused".into())),
        Some("connection refused".into())
    );
    s.verify(&cdp, chain, &wait(Revocation::Relaxed)).unwrap();
    for pol in [Revocation::IfUri, Revocation::Strict] {
        let e = s.verify(&cdp, chain, &wait(pol)).unwrap_err();
        assert!(
            matches!(
                e,
                TrustError::Revocation {
                    status: Status::Failed,
                    ..
                }
            ),
            "{pol:?}: {e}"
        );
    }
    assert!(s.crl_uris_due(now(), 60).is_empty());
    assert_eq!(s.crl_uris_due(now() + 60, 60), vec![uri.to_string()]);
    assert_eq!(
        s.crl_next_due(60)
            .map(|t| t - now())
            .map(|d| (59..=61).contains(&d)),
        Some(true)
    );
    // A forged CRL while the intermediate is unknown to the store: kept,
    // but its signature fails when used, so it decides nothing.
    let forged = Crl::from_file_bytes(&p.read("forged.crl")).unwrap();
    assert_eq!(s.crl_fetched(uri, now(), Ok(forged.clone())), None);
    let e = s
        .verify(&cdp, chain, &wait(Revocation::Strict))
        .unwrap_err();
    assert!(
        matches!(
            e,
            TrustError::Revocation {
                status: Status::Failed,
                ..
            }
        ),
        "{e}"
    );
    // The real CRL: good under strict (the end entity; the intermediate
    // has no URI, so strict still wants the root's CRL: ifuri passes).
    let real = Crl::from_file_bytes(&p.read("inter.crl")).unwrap();
    assert_eq!(s.crl_fetched(uri, now(), Ok(real)), None);
    let c = s.verify(&cdp, chain, &wait(Revocation::IfUri)).unwrap();
    assert_eq!(c.status, vec![Status::Good, Status::Skipped]);
    assert!(
        s.crl_uris_due(now(), 60).is_empty(),
        "fresh until nextUpdate"
    );
    assert!(s
        .crl_uris_due(now() + 8 * 86400, 60)
        .contains(&uri.to_string()));
    // Now the intermediate is known: a forged answer is refused and the
    // real CRL stays.
    s.add_cert((*inter).clone());
    let e = s.crl_fetched(uri, now(), Ok(forged)).unwrap();
    assert!(e.contains("not signed by that CA"), "{e}");
    s.verify(&cdp, chain, &wait(Revocation::IfUri)).unwrap();
    // A new store after a reload takes over what was fetched.
    let mut t = Store::new();
    t.add_ca((*cert(&p, "root")).clone());
    t.carry_fetched(&s);
    t.verify(&cdp, chain, &wait(Revocation::IfUri)).unwrap();
}

#[test]
fn identities_from_subject_and_alt_names() {
    let p = lab();
    let moon = cert(&p, "moon");
    let dn = crate::dn::parse("C=CH, O=vtid test, CN=moon.example.org").unwrap();
    assert!(moon.has_identity(&Identification::DerAsn1Dn(dn.clone())));
    assert_eq!(
        moon.subject_identity(),
        Identification::DerAsn1Dn(moon.subject.clone())
    );
    assert!(moon.has_identity(&Identification::Fqdn(b"MOON.example.org".to_vec())));
    assert!(moon.has_identity(&Identification::Rfc822(b"moon@example.org".to_vec())));
    assert!(moon.has_identity(&Identification::Ipv4(Ipv4Addr::new(192, 0, 2, 1))));
    assert!(moon.has_identity(&Identification::KeyId(moon.public_key.key_id().to_vec())));
    for other in [
        Identification::Fqdn(b"sun.example.org".to_vec()),
        Identification::Rfc822(b"sun@example.org".to_vec()),
        Identification::Ipv4(Ipv4Addr::new(192, 0, 2, 2)),
        Identification::DerAsn1Dn(
            crate::dn::parse("C=CH, O=vtid test, CN=sun.example.org").unwrap(),
        ),
        Identification::DerAsn1Dn(crate::dn::parse("C=CH, O=vtid test, CN=*").unwrap()),
        // The CN is not a dNSName.
        Identification::Fqdn(b"moon.example.org.evil".to_vec()),
    ] {
        assert!(!moon.has_identity(&other), "{other:?}");
    }
    let sun = cert(&p, "sun");
    assert!(!sun.has_identity(&Identification::Fqdn(b"moon.example.org".to_vec())));
    assert!(moon.may_sign_ike());
    assert_eq!(moon.crl_uris, Vec::<String>::new());
    assert_eq!(
        cert(&p, "cdp").crl_uris,
        vec!["http://198.51.100.9/inter.crl".to_string()]
    );
    assert!(cert(&p, "inter").is_ca && cert(&p, "inter").path_len == Some(0));
}

#[test]
fn remote_id_wildcards_like_strongswan() {
    let dn = |s: &str| Identification::DerAsn1Dn(crate::dn::parse(s).unwrap());
    let f = |s: &str| Identification::Fqdn(s.as_bytes().to_vec());
    let e = |s: &str| Identification::Rfc822(s.as_bytes().to_vec());
    assert!(id_matches(
        &dn("C=CH, O=Lab, CN=*"),
        &dn("C=CH, O=Lab, CN=gw")
    ));
    assert!(!id_matches(
        &dn("C=CH, O=Lab, CN=*"),
        &dn("C=CH, O=Other, CN=gw")
    ));
    assert!(id_matches(&f("*.example.org"), &f("gw.EXAMPLE.org")));
    assert!(!id_matches(&f("*.example.org"), &f("gw.example.net")));
    assert!(id_matches(&e("*@example.org"), &e("alice@example.org")));
    assert!(id_matches(&f("gw.example.org"), &f("GW.example.org")));
    assert!(!id_matches(&f("gw.example.org"), &e("gw.example.org")));
}

#[test]
fn keys_pair_with_their_certificates() {
    let p = lab();
    let mut s = Store::new();
    for name in ["moon", "sun", "ed"] {
        let k = PrivateKey::from_file_bytes(&p.read(&format!("{name}.key")), &[]).unwrap();
        let c = cert(&p, name);
        assert_eq!(k.public_key(), &c.public_key);
        s.add_cert((*c).clone());
        let id = s.add_key(k);
        assert_eq!(id.len(), 40);
        assert!(s.private_key_for(&c.public_key).is_some());
        assert_eq!(s.cert_for_key(&c.public_key), Some(c.clone()));
    }
    let id = s.keys()[0].id.clone();
    assert!(s.remove_key(&id));
    assert!(!s.remove_key(&id));
    assert_eq!(s.keys().len(), 2);
}

proptest::proptest! {
    #[test]
    fn parsers_never_panic(data in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
        let _ = Certificate::from_der(&data);
        let _ = Certificate::from_file_bytes(&data);
        let _ = Crl::from_der(&data);
    }
}
