//! The Wireshark key log, live: vtid (userspace data plane, routed
//! `ipsec7`) against a real strongSwan (charon with kernel-libipsec) in the
//! routed lab's namespaces, vtid with `keylog = DIR`; a capture of ga's
//! WAN decrypts in tshark with DIR as Wireshark's configuration directory
//! and nothing typed: the IKE_AUTH payloads (both identities) and the
//! inner packets of ESP in both directions (a LAN-to-LAN ping: the echo
//! requests vtid encrypted, the replies charon encrypted). Then `vtictl
//! keylog --off` / `--file` switches it at run time.
// Linux only: Linux network namespaces and strongSwan (the FreeBSD build
// check compiles the portable tests).
#![cfg(target_os = "linux")]

mod common;
mod vtilab;

use std::fs;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use vtid_tests::strongswan::{Charon, SiteToSite};
use vtilab::*;

const VTICTL: &str = env!("CARGO_BIN_EXE_vtictl");

fn tshark(dir: &std::path::Path, pcap: &std::path::Path, fields: &[&str]) -> Vec<String> {
    let mut c = Command::new("tshark");
    c.env("WIRESHARK_CONFIG_DIR", dir)
        .args(["-n", "-r"])
        .arg(pcap)
        .args(["-o", "esp.enable_encryption_decode:TRUE"])
        .args(["-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,"]);
    for f in fields {
        c.args(["-e", f]);
    }
    let out = c.output().expect(vtid_tests::tshark::INSTALL_HINT);
    assert!(out.status.success(), "tshark: {out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn capture_decrypts_from_vtids_key_log() {
    let s = site("keylog");
    let work = s.lab.workdir().to_path_buf();
    let keys = work.join("wireshark");
    let pcap = work.join("wan.pcap");
    // Capture from before the first IKE message, whole packets.
    let dump_log = fs::File::create(work.join("tcpdump.log")).unwrap();
    let mut dump = Command::new("ip")
        .args(["netns", "exec", s.ga.name()])
        .args(["tcpdump", "-i", "wan", "-U", "-n", "-w"])
        .arg(&pcap)
        .arg("udp")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(dump_log)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + T;
    while !fs::read_to_string(work.join("tcpdump.log"))
        .unwrap_or_default()
        .contains("listening on")
    {
        assert!(Instant::now() < deadline, "tcpdump did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    // charon: policy-based, the LANs plus the transit /32s (as
    // vti_strongswan.rs).
    s.gb.add_addr("lo", "10.6.106.2/32").unwrap();
    let conf = SiteToSite {
        local_addrs: GB_WAN,
        remote_addrs: GA_WAN,
        local_id: "sun.example.org",
        remote_id: "moon.example.org",
        local_ts: "10.2.0.0/24,10.6.106.2/32",
        remote_ts: "10.1.0.0/24,10.6.106.1/32",
        psk: "vtid-vti-lab-psk-not-secret",
        ..SiteToSite::default()
    }
    .swanctl_conf();
    let charon = Charon::start(&s.gb, "sun", &conf, None).unwrap_or_else(|e| panic!("{e}"));
    charon.load_all().unwrap_or_else(|e| panic!("{e}"));
    let mut a = Conf::side(true);
    a.interfaces = ipsec7(true, "");
    let mut c = Child::new("vti", 7, "0.0.0.0/0, ::/0", "0.0.0.0/0, ::/0");
    c.start_action = "start".into();
    a.children.push(c);
    a.vtid_extra = format!("keylog = {}", keys.display());
    let mut vtid = start_vtid(&s, &s.ga, "vtid-moon", &a);
    vtid.wait_for(&["keylog: writing every IKE and ESP key to"], T);
    vtid.wait_for(&["CHILD_SA vti{", " up: "], T);
    charon
        .wait_established("lab", "net", T)
        .unwrap_or_else(|e| panic!("{e}"));
    // LAN to LAN through the tunnel: ESP both ways, each side's own.
    ping_ok(&s.ha, HB, None);
    std::thread::sleep(Duration::from_millis(500));
    let _ = Command::new("kill")
        .args(["-INT", &dump.id().to_string()])
        .status();
    let _ = dump.wait();

    // Nothing but the key log's files carries keys: no log line has them.
    let table = fs::read_to_string(keys.join("ikev2_decryption_table")).unwrap();
    let esp = fs::read_to_string(keys.join("esp_sa")).unwrap();
    assert_eq!(table.lines().count(), 1, "{table}");
    assert_eq!(esp.lines().count(), 2, "{esp}");
    let sk_ei = table.split(',').nth(2).unwrap();
    assert!(!vtid.log().contains(sk_ei), "a key in vtid's log");
    let mode = fs::metadata(keys.join("esp_sa")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o600
    );

    // IKE_AUTH decrypts: both identities and the SA's traffic selectors.
    let rows = tshark(
        &keys,
        &pcap,
        &[
            "isakmp.exchangetype",
            "isakmp.id.data.fqdn",
            "isakmp.enc.decrypted",
        ],
    );
    let auth: Vec<&String> = rows.iter().filter(|r| r.starts_with("35\t")).collect();
    assert_eq!(auth.len(), 2, "IKE_AUTH request and response: {rows:?}");
    assert!(
        auth.iter().any(|r| r.contains("moon.example.org")),
        "{rows:?}"
    );
    assert!(
        auth.iter().any(|r| r.contains("sun.example.org")),
        "{rows:?}"
    );
    // ESP decrypts in both directions: the echo requests vtid encrypted
    // (ha -> hb) and the replies charon encrypted, each under one of the
    // key log's two SPIs.
    let spis: Vec<String> = esp
        .lines()
        .map(|l| l.split(',').nth(3).unwrap().trim_matches('"').to_string())
        .collect();
    let rows = tshark(&keys, &pcap, &["esp.spi", "ip.src", "ip.dst", "icmp.type"]);
    let spi_of = |src: &str, dst: &str, ty: &str| -> Vec<String> {
        rows.iter()
            .filter_map(|r| {
                let f: Vec<&str> = r.split('\t').collect();
                let (spi, srcs, dsts, t) = (f.first()?, f.get(1)?, f.get(2)?, f.get(3)?);
                (srcs.split(',').nth(1) == Some(src)
                    && dsts.split(',').nth(1) == Some(dst)
                    && *t == ty)
                    .then(|| spi.to_string())
            })
            .collect()
    };
    let requests = spi_of(HA, HB, "8");
    let replies = spi_of(HB, HA, "0");
    assert!(
        !requests.is_empty(),
        "no decrypted echo request in {rows:?}"
    );
    assert!(!replies.is_empty(), "no decrypted echo reply in {rows:?}");
    let norm = |x: &str| u32::from_str_radix(x.trim_start_matches("0x"), 16).unwrap();
    let (rq, rp) = (norm(&requests[0]), norm(&replies[0]));
    assert_ne!(rq, rp, "one SPI per direction");
    for spi in [rq, rp] {
        assert!(
            spis.iter().any(|k| norm(k) == spi),
            "SPI {spi:08x} not in the key log {spis:?}"
        );
    }
    // Without the key log, tshark sees none of it.
    let empty = work.join("empty");
    fs::create_dir_all(&empty).unwrap();
    let rows = tshark(&empty, &pcap, &["isakmp.id.data.fqdn", "icmp.type"]);
    assert!(
        rows.iter().all(|r| r.trim().is_empty()),
        "decrypted without keys? {rows:?}"
    );

    // At run time: off, then on in another directory (the current IKE SA
    // is written at once).
    let sock = work.join("vtid-moon.vici");
    let vtictl = |args: &[&str]| {
        let out = Command::new("ip")
            .args(["netns", "exec", s.ga.name(), VTICTL, "--socket"])
            .arg(&sock)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "vtictl {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(vtictl(&["keylog", "--off"]).contains("key log off"));
    let again = work.join("again");
    vtictl(&["keylog", "--file", again.to_str().unwrap()]);
    let t2 = fs::read_to_string(again.join("ikev2_decryption_table")).unwrap();
    assert_eq!(t2, table, "the running IKE SA, written when switched on");
    vtid.signal("TERM");
    let _ = vtid.wait_exit(T);
}
