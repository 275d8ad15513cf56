//! charon's log targets with the real binary: `filelog` (text with
//! time_format/ike_name/log_level, and JSON lines), `syslog` (to a test
//! socket standing in for /dev/log), levels refining `vtid.log`, and the
//! log files reopened on SIGHUP after a logrotate-style rename.

mod common;

use std::fs;
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use common::moon_sun::moon_sun;
use common::Vtid;

const T: Duration = Duration::from_secs(20);

fn wait_file(path: &std::path::Path, needle: &str) -> String {
    let deadline = Instant::now() + T;
    loop {
        let s = fs::read_to_string(path).unwrap_or_default();
        if s.contains(needle) {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "no '{needle}' in {} within {T:?}:\n{s}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn wait_path(p: &std::path::Path) {
    let deadline = Instant::now() + T;
    while !p.exists() {
        assert!(Instant::now() < deadline, "no {} within {T:?}", p.display());
        std::thread::sleep(Duration::from_millis(25));
    }
}

#[test]
fn filelog_syslog_json_and_reopen() {
    let mut ms = moon_sun("logs");
    let dir = ms.dir.clone();
    let text = dir.join("charon.log");
    let json = dir.join("vtid.json");
    let sock = dir.join("log.sock");
    fs::write(&text, "OLD LINE\n").unwrap();
    fs::write(&json, "{\"old\":1}\n").unwrap();
    let syslog = UnixDatagram::bind(&sock).unwrap();
    syslog
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let vx = format!(
        "log {{\n default = 1\n }}\n\
         filelog {{\n\
           text {{\n path = {}\n time_format = %Y-%m-%d %H:%M:%S\n time_precision = ms\n append = no\n ike_name = yes\n log_level = yes\n }}\n\
           json {{\n path = {}\n format = json\n default = -1\n dmn = 1\n }}\n\
         }}\n\
         syslog {{\n identifier = vtid-test\n socket = {}\n daemon {{\n default = 0\n dmn = 1\n }}\n }}\n",
        text.display(),
        json.display(),
        sock.display()
    );
    ms.moon_conf.vtid_extra = Box::leak(vx.into_boxed_str());
    ms.moon_conf.start_action = "start";
    let _sun = ms.start_sun(T);
    let mut moon = Vtid::start(&dir, "moon", &ms.moon_conf.render(), &[], &[]);
    moon.wait_for(&["CHILD_SA net{", "up:"], T);

    // Text: truncated at start (append = no), charon's shape.
    let t = wait_file(&text, "CHILD_SA net{");
    assert!(
        !t.contains("OLD LINE"),
        "append = no keeps the old file:\n{t}"
    );
    let up = t
        .lines()
        .find(|l| l.contains("IKE_SA lab[") && l.contains(" up: "))
        .unwrap_or_else(|| panic!("no IKE_SA up line:\n{t}"));
    // 2026-12-04 10:00:00.123 00[DMN1] <lab|1> IKE_SA lab[1] up: ...
    let (date, rest) = up.split_once(' ').unwrap();
    assert_eq!(date.len(), 10, "{up}");
    let (time, rest) = rest.split_once(' ').unwrap();
    assert_eq!(time.len(), 12, "time with milliseconds: {up}");
    assert!(rest.starts_with("00[DMN1] <lab|"), "{up}");
    assert!(t.lines().any(|l| l.contains("[IKE")), "engine lines: {t}");

    // JSON: one object per line; only DMN (the file's own levels).
    let j = wait_file(&json, "child-up");
    let mut lines = j.lines();
    assert_eq!(lines.next(), Some("{\"old\":1}"), "append keeps the file");
    let objs: Vec<serde_json::Value> = lines
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(objs.iter().all(|o| o["group"] == "DMN"), "{j}");
    let ike_up = objs
        .iter()
        .find(|o| o["event"] == "ike-up")
        .unwrap_or_else(|| panic!("no ike-up object:\n{j}"));
    assert_eq!(ike_up["conn"], "lab");
    assert_eq!(ike_up["level"], "info");
    assert_eq!(ike_up["peer"], format!("127.0.0.1:{}", ms.sun_ports.0));
    let uid: u32 = ike_up["uniqueid"].as_str().unwrap().parse().unwrap();
    assert!(uid > 0);
    let child_up = objs.iter().find(|o| o["event"] == "child-up").unwrap();
    assert_eq!(child_up["uniqueid"], ike_up["uniqueid"]);
    assert!(child_up["child_uniqueid"].as_str().is_some(), "{child_up}");
    assert!(ike_up["time"].as_str().unwrap().ends_with('Z'));

    // syslog: <daemon*8+info> timestamp tag[pid]: 00[DMN] ...
    let mut got = Vec::new();
    let deadline = Instant::now() + T;
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        if let Ok(n) = syslog.recv(&mut buf) {
            let m = String::from_utf8_lossy(&buf[..n]).into_owned();
            let done = m.contains("CHILD_SA net{");
            got.push(m);
            if done {
                break;
            }
        }
    }
    let tag = format!("vtid-test[{}]: 00[DMN] ", moon.pid());
    let m = got
        .iter()
        .find(|m| m.contains("IKE_SA lab[") && m.contains(" up: "))
        .unwrap_or_else(|| panic!("no IKE_SA up over syslog: {got:?}"));
    assert!(m.starts_with("<30>"), "daemon.info is 3*8+6: {m}");
    assert!(m.contains(&tag), "{m}");
    assert!(
        got.iter()
            .all(|m| m.contains("00[DMN]") || m.starts_with("<28>")),
        "syslog takes DMN at info and the rest at warning: {got:?}"
    );

    // logrotate: move the file away, SIGHUP, the new lines go to a new
    // file at the old path; the moved file gets none of them.
    let rotated = dir.join("charon.log.1");
    fs::rename(&text, &rotated).unwrap();
    moon.signal("HUP");
    let fresh = wait_file(&text, "reloaded: ");
    assert!(!fresh.contains("IKE_SA lab["), "{fresh}");
    let old = fs::read_to_string(&rotated).unwrap();
    assert!(!old.contains("reloaded: "), "{old}");
    // The JSON file (no rename) is appended to, not truncated.
    let j2 = wait_file(&json, "reloaded: ");
    assert!(j2.starts_with("{\"old\":1}\n"), "{j2}");
    assert!(j2.contains("ike-up"), "{j2}");
    moon.signal("TERM");
    assert!(moon.wait_exit(T).is_some_and(|s| s.success()));
}

#[test]
fn a_filelog_named_stderr_replaces_stderr() {
    let mut ms = moon_sun("logs-stderr");
    ms.moon_conf.vtid_extra = "filelog {\n stderr {\n default = 0\n }\n }\n";
    let dir = ms.dir.clone();
    let mut moon = Vtid::start(&dir, "moon", &ms.moon_conf.render(), &[], &[]);
    wait_path(&dir.join("moon.vici"));
    // RUST_LOG (set by the harness) would show info lines on stderr; the
    // stderr filelog (warnings only) is what stderr gets instead.
    moon.signal("TERM");
    assert!(moon.wait_exit(T).is_some_and(|s| s.success()));
    let log = moon.log();
    assert!(!log.contains("listening on UDP"), "{log}");
    // A warning still shows, in charon's shape.
    let mut ms = moon_sun("logs-stderr-warn");
    ms.moon_conf.vtid_extra = "filelog {\n stderr {\n default = 0\n }\n }\n no_such_key = 1\n";
    let mut moon = Vtid::start(&ms.dir, "moon", &ms.moon_conf.render(), &[], &[]);
    moon.wait_for(&["00[CFG] ", "no_such_key"], T);
    // The warning comes while vtid starts, before its signal handlers are
    // installed; a TERM then would kill it (not a clean exit).
    wait_path(&ms.dir.join("moon.vici"));
    moon.signal("TERM");
    assert!(moon.wait_exit(T).is_some_and(|s| s.success()));
}
