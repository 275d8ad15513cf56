//! The Wireshark key log, live: vtid (moon) against a real strongSwan
//! (sun) in namespaces, vtid with `keylog = DIR`; a capture of the link
//! between them decrypts in tshark with DIR as Wireshark's configuration
//! directory and nothing typed: the IKE_AUTH payloads (both identities)
//! and the inner packets of ESP (a ping through charon's tunnel). Then
//! `vtictl keylog --off` / `--file` switches it at run time.

mod common;

use std::fs;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::lab::{charon_conf, net, start_charon, vtid_conf, T};
use common::Vtid;

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
    let n = net("keylog");
    let work = n.lab.workdir().to_path_buf();
    let keys = work.join("wireshark");
    let pcap = work.join("wan.pcap");
    // Capture from before the first IKE message.
    let dump_log = fs::File::create(work.join("tcpdump.log")).unwrap();
    let mut dump = Command::new("ip")
        .args([
            "netns",
            "exec",
            n.moon.name(),
            "tcpdump",
            "-i",
            "wan",
            "-U",
            "-n",
            "-w",
        ])
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
    let charon = start_charon(&n, "sun", &charon_conf(), "");
    let mut v = vtid_conf();
    let vx = format!("delete_rekeyed_delay = 1s\n  keylog = {}", keys.display());
    v.vtid_extra = Box::leak(vx.into_boxed_str());
    v.start_action = "start";
    let mut vtid = Vtid::start(
        &work,
        "vtid-moon",
        &v.render(),
        &["ip", "netns", "exec", n.moon.name()],
        &[],
    );
    vtid.wait_for(&["keylog: writing every IKE and ESP key to"], T);
    vtid.wait_for(&["CHILD_SA net{", "up:"], T);
    charon
        .wait_established("lab", "net", T)
        .unwrap_or_else(|e| panic!("{e}\n{}", charon.log_tail(60)));
    // Traffic from sun's LAN address through charon's tunnel: ESP to vtid.
    let ping = Command::new("ip")
        .args([
            "netns",
            "exec",
            n.sun.name(),
            "ping",
            "-c",
            "3",
            "-i",
            "0.2",
            "-W",
            "1",
        ])
        .args(["-I", "10.2.0.1", "10.1.0.1"])
        .output()
        .unwrap();
    let _ = ping; // vtid's record data plane answers nothing; the requests are what we decrypt
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
    // ESP decrypts: the inner ICMP echo requests from 10.2.0.1.
    let rows = tshark(&keys, &pcap, &["esp.spi", "ip.src", "icmp.type"]);
    let echoes = rows
        .iter()
        .filter(|r| r.contains("10.2.0.1") && r.ends_with("\t8"))
        .count();
    assert!(echoes >= 1, "no decrypted echo request in {rows:?}");
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
            .args(["netns", "exec", n.moon.name(), VTICTL, "--socket"])
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
