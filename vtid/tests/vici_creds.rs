//! The real `swanctl` manages vtid's credentials over VICI (issue 14 §3):
//! `--load-creds` (certificates, CA certificates, CRLs, an encrypted
//! private key swanctl decrypts with its `secrets { private-... }`,
//! authorities), `--list-certs`, `--list-authorities`; and `vtictl certs`.
//! The PKI is made by strongSwan's `pki`.
// Linux only: strongSwan's swanctl.
#![cfg(target_os = "linux")]

mod common;

use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{free_port, Vtid};
use pki::testpki::{KeyKind, TestPki};

const VTICTL: &str = env!("CARGO_BIN_EXE_vtictl");
const SWANCTL: &str = "/usr/sbin/swanctl";
const T: Duration = Duration::from_secs(15);

fn run(cmd: &str, args: &[&str]) -> Output {
    let out = Command::new(cmd).args(args).output().expect(cmd);
    eprintln!(
        "$ {cmd} {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn ok(cmd: &str, args: &[&str]) -> String {
    let out = run(cmd, args);
    assert!(out.status.success(), "{cmd} {args:?}: {}", out.status);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn put(p: &TestPki, from: &str, dir: &Path, sub: &str) {
    std::fs::create_dir_all(dir.join(sub)).unwrap();
    std::fs::write(dir.join(sub).join(from), p.read(from)).unwrap();
}

#[test]
fn swanctl_loads_and_lists_vtids_credentials() {
    let p = TestPki::new("vici").unwrap();
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
    p.issue(
        "moon",
        "C=CH, O=vtid test, CN=moon.example.org",
        "inter",
        KeyKind::Rsa(2048),
        &["--san", "moon.example.org"],
    )
    .unwrap();
    p.crl("inter", "inter", &[], 7).unwrap();
    // moon's key encrypted (PKCS#8, PBES2): swanctl decrypts it with the
    // passphrase of its secrets section and sends the key to vtid.
    let st = Command::new("openssl")
        .args([
            "pkcs8",
            "-topk8",
            "-v2",
            "aes256",
            "-in",
            "moon.key",
            "-passout",
            "pass:s3cret",
            "-out",
            "moon.enc",
        ])
        .current_dir(&p.dir)
        .status()
        .unwrap();
    assert!(st.success());

    // swanctl's side: a swanctl.conf with an authority and the passphrase,
    // and the folders next to it.
    let sw = p.dir.join("swanctl");
    put(&p, "root.pem", &sw, "x509ca");
    put(&p, "inter.pem", &sw, "x509");
    put(&p, "moon.pem", &sw, "x509");
    put(&p, "inter.crl", &sw, "x509crl");
    std::fs::create_dir_all(sw.join("private")).unwrap();
    std::fs::copy(p.path("moon.enc"), sw.join("private/moon.pem")).unwrap();
    std::fs::write(
        sw.join("swanctl.conf"),
        "connections {\n gw {\n  remote_addrs = 192.0.2.2\n  local {\n   auth = pubkey\n   certs = moon.pem\n  }\n  remote {\n   auth = pubkey\n   id = \"C=CH, O=vtid test, CN=*\"\n  }\n  children {\n   net {\n   }\n  }\n }\n}\n\
         authorities {\n lab {\n  cacert = root.pem\n  crl_uris = http://198.51.100.9/root.crl\n }\n}\n\
         secrets {\n private-moon {\n  file = moon.pem\n  secret = s3cret\n }\n}\n",
    )
    .unwrap();

    // vtid with an empty configuration of its own.
    let vdir = p.dir.join("vtid");
    std::fs::create_dir_all(&vdir).unwrap();
    let sock = vdir.join("vtid.vici");
    let conf = format!(
        "vtid {{\n  port = {}\n  port_nat_t = {}\n}}\n",
        free_port(),
        free_port()
    );
    let _vtid = Vtid::start(
        &vdir,
        "vtid",
        &conf,
        &[],
        &["--vici", sock.to_str().unwrap()],
    );
    let deadline = Instant::now() + T;
    while UnixStream::connect(&sock).is_err() {
        assert!(Instant::now() < deadline, "no VICI socket");
        std::thread::sleep(Duration::from_millis(20));
    }
    let uri = format!("unix://{}", sock.display());
    let file = sw.join("swanctl.conf");
    let out = ok(
        SWANCTL,
        &[
            "--load-creds",
            "--noprompt",
            "--file",
            file.to_str().unwrap(),
            "--uri",
            &uri,
        ],
    );
    assert!(out.contains("loaded certificate from"), "{out}");
    assert!(out.contains("loaded RSA key from"), "{out}");
    let out = ok(
        SWANCTL,
        &[
            "--load-authorities",
            "--file",
            file.to_str().unwrap(),
            "--uri",
            &uri,
        ],
    );
    assert!(out.contains("loaded authority 'lab'"), "{out}");

    let certs = ok(SWANCTL, &["--list-certs", "--uri", &uri]);
    for want in [
        "subject:  \"C=CH, O=vtid test, CN=moon.example.org\"",
        "issuer:   \"C=CH, O=vtid test, CN=Intermediate CA\"",
        "subject:  \"C=CH, O=vtid test, CN=Root CA\"",
        "has private key",
        "X.509 CRL",
    ] {
        assert!(
            certs.contains(want),
            "swanctl --list-certs lacks {want:?}:\n{certs}"
        );
    }
    let auths = ok(SWANCTL, &["--list-authorities", "--uri", &uri]);
    assert!(
        auths.contains("lab:")
            && auths.contains("C=CH, O=vtid test, CN=Root CA")
            && auths.contains("http://198.51.100.9/root.crl"),
        "{auths}"
    );

    // vtictl certs: the same, in a table and as JSON.
    let v: serde_json::Value = serde_json::from_str(&ok(
        VTICTL,
        &["--socket", sock.to_str().unwrap(), "--json", "certs"],
    ))
    .unwrap();
    let rows = v.as_array().unwrap();
    let moon = rows
        .iter()
        .find(|r| r["subject"] == "C=CH, O=vtid test, CN=moon.example.org")
        .unwrap_or_else(|| panic!("{v:#}"));
    assert_eq!(moon["private-key"], "yes");
    assert_eq!(moon["key"], "RSA 2048");
    assert!(rows
        .iter()
        .any(|r| r["type"] == "CA" && r["subject"] == "C=CH, O=vtid test, CN=Root CA"));
    assert!(rows.iter().any(|r| r["type"] == "CRL"));
    let table = ok(VTICTL, &["--socket", sock.to_str().unwrap(), "certs"]);
    assert!(
        table.contains("moon.example.org") && table.contains("PRIVATE KEY"),
        "{table}"
    );

    // A connection with certificate authentication over VICI: swanctl
    // sends the certificate itself; vtid identifies itself by its subject.
    let out = ok(
        SWANCTL,
        &[
            "--load-conns",
            "--file",
            file.to_str().unwrap(),
            "--uri",
            &uri,
        ],
    );
    assert!(out.contains("loaded connection 'gw'"), "{out}");
    let conns = ok(SWANCTL, &["--list-conns", "--uri", &uri]);
    assert!(conns.contains("gw:"), "{conns}");
    assert!(!_vtid.log().contains("not loaded"), "{}", _vtid.log());

    // swanctl --flush-certs empties the certificate cache.
    ok(SWANCTL, &["--flush-certs", "--uri", &uri]);
    let certs = ok(SWANCTL, &["--list-certs", "--uri", &uri]);
    assert!(!certs.contains("moon.example.org"), "{certs}");
    // The authority's certificate stays.
    assert!(certs.contains("Root CA"), "{certs}");
}
