//! ROOT / NETWORK-NAMESPACE TESTS (issue 14): the real `vtid` against a
//! real strongSwan charon with certificates, both roles, every key type,
//! RFC 7427 and the classic AUTH methods, and the negative cases.
//!
//! ```text
//!   moon (vtid) 192.0.2.1 ==== 192.0.2.2 sun (charon)
//! ```
//!
//! strongSwan's `pki` makes the PKI at test time: a root, an intermediate,
//! end entities for moon and sun. Each side holds only the root as a
//! trusted CA (`x509ca/`); the intermediate is in `x509/` and travels in
//! CERT payloads, so each verifier builds the chain from what the peer
//! sent. vtid reads strongSwan's swanctl folders next to its config file.
// Linux only: Linux network namespaces and strongSwan.
#![cfg(target_os = "linux")]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{require_root, Vtid};
use pki::testpki::{KeyKind, TestPki};
use vtid_tests::netns::{Lab, Ns};
use vtid_tests::strongswan::{Charon, ChildState, IkeState};

const T: Duration = Duration::from_secs(15);
const MOON: &str = "C=CH, O=vtid test, CN=moon.example.org";
const SUN: &str = "C=CH, O=vtid test, CN=sun.example.org";

struct Net {
    lab: Lab,
    moon: Ns,
    sun: Ns,
}

fn net(tag: &str) -> Net {
    require_root();
    let mut lab = Lab::new(tag).unwrap_or_else(|e| panic!("{e}"));
    let moon = lab.add_ns("moon").unwrap();
    let sun = lab.add_ns("sun").unwrap();
    lab.veth(
        (&moon, "wan", &["192.0.2.1/24"]),
        (&sun, "wan", &["192.0.2.2/24"]),
    )
    .unwrap();
    sun.add_addr("lo", "10.2.0.1/32").unwrap();
    Net { lab, moon, sun }
}

/// Root (ECDSA) → intermediate (ECDSA) → moon and sun of `kind`, with
/// their FQDNs as subjectAltNames; plus `extra` certificates.
fn make_pki(kind: KeyKind) -> TestPki {
    let p = TestPki::new("interop").unwrap();
    let ec = KeyKind::Ecdsa(256);
    p.root("root", "C=CH, O=vtid test, CN=Root CA", ec, &[])
        .unwrap();
    p.issue(
        "inter",
        "C=CH, O=vtid test, CN=Intermediate CA",
        "root",
        ec,
        &["--ca"],
    )
    .unwrap();
    p.issue("moon", MOON, "inter", kind, &["--san", "moon.example.org"])
        .unwrap();
    p.issue("sun", SUN, "inter", kind, &["--san", "sun.example.org"])
        .unwrap();
    p
}

fn put(p: &TestPki, from: &str, dir: &Path, sub: &str, to: &str) {
    std::fs::create_dir_all(dir.join(sub)).unwrap();
    let dst = dir.join(sub).join(to);
    std::fs::write(&dst, p.read(from)).unwrap();
    if sub == "private" {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

/// The swanctl folders of one side: the root trusted, the intermediate
/// and the own certificate in x509/, the key in private/.
fn folders(p: &TestPki, me: &str, dir: &Path) {
    put(p, "root.pem", dir, "x509ca", "root.pem");
    put(p, "inter.pem", dir, "x509", "inter.pem");
    put(p, &format!("{me}.pem"), dir, "x509", &format!("{me}.pem"));
    put(
        p,
        &format!("{me}.key"),
        dir,
        "private",
        &format!("{me}.key"),
    );
}

struct Case<'a> {
    tag: &'a str,
    kind: KeyKind,
    vtid_initiates: bool,
    /// `auth` of both sides' rounds.
    auth: &'a str,
    /// Extra strongswan.conf lines in `charon { }`.
    charon_extra: &'a str,
    /// The identity vtid claims and charon expects (FQDN or DN).
    vtid_id: Option<&'a str>,
}

fn charon_conf(c: &Case<'_>, remote_id: &str) -> String {
    format!(
        "connections {{\n lab {{\n  version = 2\n  local_addrs = 192.0.2.2\n  remote_addrs = 192.0.2.1\n  \
         proposals = aes128gcm16-prfsha256-ecp256\n  rekey_time = 0\n  \
         local {{\n   auth = {auth}\n   certs = sun.pem\n   id = sun.example.org\n  }}\n  \
         remote {{\n   auth = {auth}\n   id = \"{remote_id}\"\n  }}\n  \
         children {{\n   net {{\n    local_ts = 10.2.0.0/24\n    remote_ts = 10.1.0.0/24\n    \
         esp_proposals = aes128gcm16\n    start_action = none\n   }}\n  }}\n }}\n}}\n",
        auth = c.auth
    )
}

fn vtid_conf(c: &Case<'_>) -> String {
    let id = c
        .vtid_id
        .map(|i| format!("id = \"{i}\""))
        .unwrap_or_default();
    format!(
        "vtid {{\n  retransmit_timeout = 1\n  retransmit_tries = 2\n}}\n\
         connections {{\n lab {{\n  version = 2\n  local_addrs = 192.0.2.1\n  remote_addrs = 192.0.2.2\n  \
         proposals = aes128gcm16-prfsha256-ecp256\n  \
         local {{\n   auth = {auth}\n   certs = moon.pem\n   {id}\n  }}\n  \
         remote {{\n   auth = {auth}\n   id = sun.example.org\n  }}\n  \
         children {{\n   net {{\n    local_ts = 10.1.0.0/24\n    remote_ts = 10.2.0.0/24\n    \
         esp_proposals = aes128gcm16\n    start_action = {sa}\n   }}\n  }}\n }}\n}}\n",
        auth = c.auth,
        sa = if c.vtid_initiates { "start" } else { "none" },
    )
}

struct Running {
    _n: Net,
    charon: Charon,
    vtid: Vtid,
    _pki: TestPki,
}

type Folders<'a> = &'a dyn Fn(&TestPki, &Path);

fn start(
    c: &Case<'_>,
    p: TestPki,
    vtid_folders: Folders<'_>,
    charon_folders: Folders<'_>,
) -> Running {
    let n = net(c.tag);
    // charon expects moon's subject DN unless vtid claims its FQDN.
    let remote_id = c.vtid_id.unwrap_or(MOON);
    let charon = Charon::start_with(
        &n.sun,
        "sun",
        &charon_conf(c, remote_id),
        None,
        c.charon_extra,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    charon_folders(&p, &charon.dir().join("swanctl"));
    charon.load_all().unwrap_or_else(|e| panic!("{e}"));
    let dir: PathBuf = n.lab.workdir().join("vtid-moon");
    std::fs::create_dir_all(&dir).unwrap();
    vtid_folders(&p, &dir);
    let mut vtid = Vtid::start(
        &dir,
        "vtid-moon",
        &vtid_conf(c),
        &["ip", "netns", "exec", n.moon.name()],
        &[],
    );
    vtid.wait_for(&["listening on UDP 0.0.0.0:4500"], T);
    Running {
        _n: n,
        charon,
        vtid,
        _pki: p,
    }
}

fn up(c: Case<'_>) {
    up_with(c, &|p, d| folders(p, "moon", d), &|p, d| {
        folders(p, "sun", d)
    });
}

fn up_with(c: Case<'_>, vtid_folders: Folders<'_>, charon_folders: Folders<'_>) -> Running {
    let p = make_pki(c.kind);
    let mut r = start(&c, p, vtid_folders, charon_folders);
    if !c.vtid_initiates {
        r.charon
            .initiate("net")
            .unwrap_or_else(|e| panic!("{e}\n{}", r.vtid.log()));
    }
    r.vtid.wait_for(&["dataplane(record): install"], T);
    let sa = r
        .charon
        .wait_established("lab", "net", T)
        .unwrap_or_else(|e| panic!("{e}\n{}", r.vtid.log()));
    assert_eq!(sa.state, IkeState::Established);
    assert_eq!(sa.children[0].state, ChildState::Installed);
    // charon saw moon's identity; vtid authenticated sun by its chain.
    assert_eq!(sa.remote_id, c.vtid_id.unwrap_or(MOON), "{sa:#?}");
    let log = r.vtid.log();
    assert!(
        log.contains("authentication of 'sun.example.org' with")
            && log.contains(
                "\"C=CH, O=vtid test, CN=Intermediate CA\" <- \"C=CH, O=vtid test, CN=Root CA\""
            ),
        "{log}"
    );
    // charon names how moon authenticated: an RFC 7427 scheme or a
    // classic method.
    let want = if c.charon_extra.contains("signature_authentication = no") {
        match c.kind {
            KeyKind::Rsa(_) => "with RSA signature successful",
            _ => "with ECDSA-256 signature successful",
        }
    } else {
        match c.kind {
            KeyKind::Rsa(_) if c.auth.contains("pss") => "with RSA_EMSA_PSS",
            KeyKind::Rsa(_) => "with RSA_EMSA_PKCS1_SHA2_256 successful",
            KeyKind::Ed25519 => "with ED25519 successful",
            _ => "with ECDSA_WITH_SHA256_DER successful",
        }
    };
    let clog = r.charon.log();
    assert!(
        clog.lines().any(|l| l.contains("authentication of '")
            && !l.contains("(myself)")
            && l.contains(want)),
        "charon did not authenticate moon {want}:\n{}",
        r.charon.log_tail(40)
    );
    r
}

const DEFAULT: Case<'static> = Case {
    tag: "",
    kind: KeyKind::Ecdsa(256),
    vtid_initiates: true,
    auth: "pubkey",
    charon_extra: "",
    vtid_id: Some("moon.example.org"),
};

#[test]
fn netns_certs_ecdsa_vtid_initiates() {
    up(Case {
        tag: "ce-i",
        ..DEFAULT
    });
}

#[test]
fn netns_certs_ecdsa_vtid_responds_identified_by_subject_dn() {
    // No local.id: vtid identifies itself by its certificate's subject.
    up(Case {
        tag: "ce-r",
        vtid_initiates: false,
        vtid_id: None,
        ..DEFAULT
    });
}

#[test]
fn netns_certs_rsa_pss_both_roles() {
    for (tag, init) in [("cp-i", true), ("cp-r", false)] {
        up(Case {
            tag,
            kind: KeyKind::Rsa(2048),
            vtid_initiates: init,
            auth: "rsa/pss",
            // charon signs PKCS#1 v1.5 unless told to prefer PSS.
            charon_extra: "rsa_pss = yes",
            ..DEFAULT
        });
    }
}

#[test]
fn netns_certs_ed25519_both_roles() {
    for (tag, init) in [("cd-i", true), ("cd-r", false)] {
        up(Case {
            tag,
            kind: KeyKind::Ed25519,
            vtid_initiates: init,
            ..DEFAULT
        });
    }
}

#[test]
fn netns_certs_classic_methods_rsa_and_ecdsa() {
    for (tag, kind, init) in [
        ("cc-ri", KeyKind::Rsa(2048), true),
        ("cc-rr", KeyKind::Rsa(2048), false),
        ("cc-ei", KeyKind::Ecdsa(256), true),
        ("cc-er", KeyKind::Ecdsa(256), false),
    ] {
        up(Case {
            tag,
            kind,
            vtid_initiates: init,
            charon_extra: "signature_authentication = no",
            ..DEFAULT
        });
    }
}

/// vtid refuses charon's certificate: AUTHENTICATION_FAILED to charon,
/// nothing installed on either side, vtid's log says why.
fn refused_by_vtid(tag: &str, sun_cert: &str, why: &str, p: TestPki) {
    let c = Case { tag, ..DEFAULT };
    // charon presents `sun_cert` as sun.pem.
    std::fs::copy(p.path(&format!("{sun_cert}.pem")), p.path("sun.pem")).unwrap();
    std::fs::copy(p.path(&format!("{sun_cert}.key")), p.path("sun.key")).unwrap();
    let mut r = start(&c, p, &|p, d| folders(p, "moon", d), &|p, d| {
        folders(p, "sun", d)
    });
    let line = r
        .vtid
        .wait_for(&["authentication of 'sun.example.org' failed"], T);
    assert!(line.contains(why), "{line}");
    vtid_tests::netns::wait_until(T, "charon hears AUTHENTICATION_FAILED", || {
        r.charon.log().contains("N(AUTH_FAILED)")
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", r.charon.log_tail(40)));
    vtid_tests::netns::wait_until(T, "charon has no SA", || {
        r.charon.list_sas().is_ok_and(|s| s.is_empty())
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", r.charon.log_tail(40)));
    let log = r.vtid.log();
    assert!(!log.contains("dataplane(record): install"), "{log}");
}

#[test]
fn netns_certs_vtid_refuses_untrusted_and_expired_peers() {
    let ec = KeyKind::Ecdsa(256);
    let p = make_pki(ec);
    p.root("other", "C=CH, O=elsewhere, CN=Other CA", ec, &[])
        .unwrap();
    p.issue("impostor", SUN, "other", ec, &["--san", "sun.example.org"])
        .unwrap();
    refused_by_vtid("cn-u", "impostor", "no trusted issuer", p);
    let p = make_pki(ec);
    p.issue(
        "expired",
        SUN,
        "inter",
        ec,
        &[
            "--san",
            "sun.example.org",
            "--not-before",
            "01.01.20 00:00:00",
            "--not-after",
            "02.01.20 00:00:00",
        ],
    )
    .unwrap();
    refused_by_vtid("cn-e", "expired", "is not valid now", p);
    let p = make_pki(ec);
    p.issue(
        "wrongid",
        "C=CH, O=vtid test, CN=mars.example.org",
        "inter",
        ec,
        &["--san", "mars.example.org"],
    )
    .unwrap();
    refused_by_vtid("cn-w", "wrongid", "does not confirm the identity", p);
}

#[test]
fn netns_certs_charon_refuses_a_revoked_vtid() {
    let ec = KeyKind::Ecdsa(256);
    let p = make_pki(ec);
    p.crl("inter", "inter", &["moon"], 7).unwrap();
    let c = Case {
        tag: "cn-rv",
        ..DEFAULT
    };
    let n = net(c.tag);
    let charon = Charon::start_with(
        &n.sun,
        "sun",
        &charon_conf(&c, "moon.example.org"),
        None,
        "",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let sw = charon.dir().join("swanctl");
    folders(&p, "sun", &sw);
    put(&p, "inter.crl", &sw, "x509crl", "inter.crl");
    charon.load_all().unwrap_or_else(|e| panic!("{e}"));
    let dir = n.lab.workdir().join("vtid-moon");
    std::fs::create_dir_all(&dir).unwrap();
    folders(&p, "moon", &dir);
    let mut vtid = Vtid::start(
        &dir,
        "vtid-moon",
        &vtid_conf(&c),
        &["ip", "netns", "exec", n.moon.name()],
        &[],
    );
    let line = vtid.wait_for(&["AUTHENTICATION_FAILED"], T);
    assert!(line.contains("refused our authentication"), "{line}");
    assert!(charon.log().contains("revoked"), "{}", charon.log_tail(40));
    assert!(!vtid.log().contains("dataplane(record): install"));
    assert!(charon.list_sas().unwrap().is_empty());
}

/// Only the root: the side without the intermediate builds the chain from
/// the CERT payloads the other sends.
fn root_and_own(p: &TestPki, me: &str, dir: &Path) {
    put(p, "root.pem", dir, "x509ca", "root.pem");
    put(p, &format!("{me}.pem"), dir, "x509", &format!("{me}.pem"));
    put(
        p,
        &format!("{me}.key"),
        dir,
        "private",
        &format!("{me}.key"),
    );
}

#[test]
fn netns_certs_verifier_holds_only_the_root() {
    // vtid lacks the intermediate: charon sends it.
    let r = up_with(
        Case {
            tag: "co-v",
            ..DEFAULT
        },
        &|p, d| root_and_own(p, "moon", d),
        &|p, d| folders(p, "sun", d),
    );
    assert!(r.vtid.log().contains("Intermediate CA"));
    // charon lacks it: vtid sends it, charon says it received it.
    let r = up_with(
        Case {
            tag: "co-c",
            vtid_initiates: false,
            ..DEFAULT
        },
        &|p, d| folders(p, "moon", d),
        &|p, d| root_and_own(p, "sun", d),
    );
    assert!(
        r.charon
            .log()
            .contains("received issuer cert \"C=CH, O=vtid test, CN=Intermediate CA\""),
        "{}",
        r.charon.log_tail(40)
    );
}

/// Where sun's CRL is served (python3's http.server in sun's namespace).
const CRL_URI: &str = "http://192.0.2.2:8080/inter.crl";
/// Nobody listens there.
const DEAD_URI: &str = "http://192.0.2.2:8081/inter.crl";

/// vtid initiates to charon, whose certificate `sun_cert` names `uri` as
/// its CRL distribution point; vtid's remote round has `revocation`. The
/// intermediate's CRL (revoking `revoked`) is served over HTTP at
/// [`CRL_URI`].
/// Returns once vtid decided; `up` says which way.
fn crl_fetch_case(tag: &str, uri: &str, revoked: &[&str], revocation: &str, up: bool) {
    let ec = KeyKind::Ecdsa(256);
    let p = make_pki(ec);
    for name in ["sun-good", "sun-revoked"] {
        p.issue(
            name,
            SUN,
            "inter",
            ec,
            &["--san", "sun.example.org", "--crl", uri],
        )
        .unwrap();
    }
    p.crl("inter", "inter", revoked, 7).unwrap();
    let sun_cert = if revoked.is_empty() {
        "sun-good"
    } else {
        "sun-revoked"
    };
    std::fs::copy(p.path(&format!("{sun_cert}.pem")), p.path("sun.pem")).unwrap();
    std::fs::copy(p.path(&format!("{sun_cert}.key")), p.path("sun.key")).unwrap();
    let c = Case { tag, ..DEFAULT };
    let n = net(tag);
    let www = n.lab.workdir().join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::copy(p.path("inter.crl"), www.join("inter.crl")).unwrap();
    let www_s = www.to_string_lossy().to_string();
    let server = n
        .sun
        .spawn(
            "http",
            &[
                "python3",
                "-u",
                "-m",
                "http.server",
                "8080",
                "--bind",
                "192.0.2.2",
                "--directory",
                &www_s,
            ],
        )
        .unwrap();
    vtid_tests::netns::wait_until(T, "the HTTP server listens", || {
        server.log().contains("Serving HTTP")
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", server.log()));
    let charon = Charon::start_with(
        &n.sun,
        "sun",
        &charon_conf(&c, "moon.example.org"),
        None,
        "",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    folders(&p, "sun", &charon.dir().join("swanctl"));
    charon.load_all().unwrap_or_else(|e| panic!("{e}"));
    let dir = n.lab.workdir().join("vtid-moon");
    std::fs::create_dir_all(&dir).unwrap();
    folders(&p, "moon", &dir);
    let conf = vtid_conf(&c).replace(
        "remote {\n   auth = pubkey\n",
        &format!("remote {{\n   auth = pubkey\n   revocation = {revocation}\n"),
    );
    assert!(conf.contains("revocation"), "{conf}");
    let mut vtid = Vtid::start(
        &dir,
        "vtid-moon",
        &conf,
        &["ip", "netns", "exec", n.moon.name()],
        &[],
    );
    if up {
        vtid.wait_for(&["dataplane(record): install"], T);
        charon
            .wait_established("lab", "net", T)
            .unwrap_or_else(|e| panic!("{e}\n{}", vtid.log()));
    } else {
        vtid.wait_for(&["authentication of 'sun.example.org' failed"], T);
        vtid_tests::netns::wait_until(T, "charon has no SA", || {
            charon.list_sas().is_ok_and(|s| s.is_empty())
        })
        .unwrap_or_else(|e| panic!("{e}\n{}", charon.log_tail(40)));
        assert!(!vtid.log().contains("dataplane(record): install"));
    }
    let log = vtid.log();
    if uri == CRL_URI {
        assert!(
            log.contains(&format!(
                "fetched the CRL of \"C=CH, O=vtid test, CN=Intermediate CA\" from {CRL_URI}"
            )),
            "{log}"
        );
        assert!(server.log().contains("GET /inter.crl"), "{}", server.log());
    } else {
        assert!(
            log.contains(&format!("fetching the CRL at {uri} failed")),
            "{log}"
        );
    }
    if !revoked.is_empty() {
        assert!(log.contains("revoked"), "{log}");
    }
}

/// issue 14 §2: vtid fetches the CRL a certificate names over HTTP while
/// the peer retransmits. A good peer under `ifuri` is accepted only with
/// the CRL fetched (without it `ifuri` refuses); a revoked one is refused
/// even under `relaxed` (which accepts without a CRL).
#[test]
fn netns_certs_vtid_fetches_crls_over_http() {
    crl_fetch_case("cf-g", CRL_URI, &[], "ifuri", true);
    crl_fetch_case("cf-r", CRL_URI, &["sun-revoked"], "relaxed", false);
}

/// An unreachable CRL URI: `ifuri` (and so `strict`) fails closed once the
/// fetch failed, `relaxed` accepts.
#[test]
fn netns_certs_unreachable_crl_uri() {
    crl_fetch_case("cf-u", DEAD_URI, &[], "ifuri", false);
    crl_fetch_case("cf-s", DEAD_URI, &[], "strict", false);
    crl_fetch_case("cf-x", DEAD_URI, &[], "relaxed", true);
}
