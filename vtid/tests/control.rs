//! The control socket with the real binaries: two vtids on 127.0.0.1 (sun
//! answers from its file, moon is managed over VICI only), driven by
//! Debian's strongSwan `swanctl` and by `vtictl`.
// Linux only: the daemon on Linux (record data plane, /proc, Debian's swanctl) (the FreeBSD build check compiles the portable tests).
#![cfg(target_os = "linux")]

mod common;

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::moon_sun::moon_sun;
use common::{field, free_port, require_root, Vtid};

const T: Duration = Duration::from_secs(15);
const VTICTL: &str = env!("CARGO_BIN_EXE_vtictl");
const SWANCTL: &str = "/usr/sbin/swanctl";

struct Lab {
    dir: PathBuf,
    sun: Vtid,
    moon: Vtid,
    /// moon's control socket.
    sock: PathBuf,
    /// moon's connection as a swanctl.conf (connections + secrets).
    moon_conn: String,
    sun_ports: (u16, u16),
}

fn wait_socket(p: &Path) {
    let deadline = Instant::now() + T;
    while UnixStream::connect(p).is_err() {
        assert!(Instant::now() < deadline, "no socket at {}", p.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// sun: responder from its file. moon: only `vtid { }` (and an interface
/// for reqid 1) in its file; its connection comes over VICI.
fn lab(tag: &str) -> Lab {
    let ms = moon_sun(tag);
    let (mp, mn) = ms.moon_ports;
    let moon_full = ms.moon_conf.render();
    // Everything but the vtid { } section, with a fixed reqid.
    let moon_conn = moon_full[moon_full.find("connections").unwrap()..].replace(
        "start_action = none",
        "start_action = none\n        reqid = 1",
    );
    let moon_file = format!(
        "vtid {{\n  port = {mp}\n  port_nat_t = {mn}\n  retransmit_timeout = 1\n  retransmit_tries = 2\n}}\n\
         interfaces {{\n  ipsec1 {{\n    reqid = 1\n    local_addr = 169.254.10.1/30\n    remote_addr = 169.254.10.2\n    routes = 10.2.0.0/24\n    monitor = 169.254.10.2\n  }}\n}}\n"
    );
    let sun = ms.start_sun(T);
    let sock = ms.dir.join("moon.vici");
    let moon = Vtid::start(
        &ms.dir,
        "moon",
        &moon_file,
        &[],
        &["--vici", sock.to_str().unwrap()],
    );
    wait_socket(&sock);
    Lab {
        dir: ms.dir,
        sun,
        moon,
        sock,
        moon_conn,
        sun_ports: ms.sun_ports,
    }
}

impl Lab {
    fn uri(&self) -> String {
        format!("unix://{}", self.sock.display())
    }

    /// `swanctl ARGS --uri ...`.
    fn swanctl(&self, args: &[&str]) -> Output {
        let out = Command::new(SWANCTL)
            .args(args)
            .args(["--uri", &self.uri()])
            .output()
            .expect("run swanctl");
        eprintln!(
            "$ swanctl {}\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn swanctl_ok(&self, args: &[&str]) -> String {
        let out = self.swanctl(args);
        assert!(out.status.success(), "swanctl {args:?}: {}", out.status);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn vtictl(&self, args: &[&str]) -> Output {
        let out = Command::new(VTICTL)
            .args(["--socket", self.sock.to_str().unwrap()])
            .args(args)
            .output()
            .expect("run vtictl");
        eprintln!(
            "$ vtictl {}\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// vtictl writing into a pipe nobody reads any more (`vtictl ... |
    /// head` after head exited): the read end is closed before vtictl
    /// starts, so its first write fails with EPIPE (a socket pair: the
    /// same error as a pipe, and `std::io::pipe` is newer than our MSRV).
    /// Its exit status and stderr.
    fn vtictl_closed_pipe(&self, args: &[&str]) -> (Option<i32>, String) {
        let (reader, writer) = std::os::unix::net::UnixStream::pair().unwrap();
        drop(reader);
        let out = Command::new(VTICTL)
            .args(["--socket", self.sock.to_str().unwrap()])
            .args(args)
            .stdout(std::os::fd::OwnedFd::from(writer))
            .output()
            .expect("run vtictl");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn vtictl_json(&self, args: &[&str]) -> serde_json::Value {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        let out = self.vtictl(&a);
        assert_eq!(out.status.code(), Some(0), "vtictl {args:?}");
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("vtictl {args:?}: not JSON: {e}"))
    }

    fn write(&self, name: &str, text: &str) -> String {
        let p = self.dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    }
}

/// The (spi_in, spi_out) of moon's newest installed SA, from its log.
fn installed(v: &Vtid) -> (String, String) {
    let log = v.log();
    let l = log
        .lines()
        .rfind(|l| l.contains("dataplane(record): install"))
        .expect("an install line");
    (
        field(l, "spi_in").to_string(),
        field(l, "spi_out").to_string(),
    )
}

#[test]
fn swanctl_manages_vtid() {
    let mut lab = lab("swanctl");

    let v = lab.swanctl_ok(&["--version", "--daemon"]);
    assert!(v.starts_with("strongSwan "), "{v}");
    assert!(v.contains(" vtid (Linux, "), "{v}");

    // --load-all with connections and secrets.
    let f = lab.write("swanctl.conf", &lab.moon_conn);
    let out = lab.swanctl_ok(&["--load-all", "--file", &f]);
    assert!(out.contains("loaded ike secret 'ike-lab'"), "{out}");
    assert!(out.contains("loaded connection 'lab'"), "{out}");
    assert!(
        out.contains("successfully loaded 1 connections, 0 unloaded"),
        "{out}"
    );
    // The secret is never logged.
    assert!(!lab.moon.log().contains("vtid-interop-lab-psk-not-secret"));

    let out = lab.swanctl_ok(&["--list-conns"]);
    for want in [
        "lab: IKEv2, no reauthentication, rekeying every 14400s",
        "  local:  127.0.0.1",
        "  local pre-shared key authentication:",
        "    id: moon.example.org",
        "    id: sun.example.org",
        "  net: TUNNEL, rekeying every 3600s",
        "    local:  10.1.0.0/24",
        "    remote: 10.2.0.0/24",
    ] {
        assert!(out.contains(want), "missing {want:?} in\n{out}");
    }

    // --initiate: the engine's log lines, then success.
    let out = lab.swanctl_ok(&["--initiate", "--child", "net"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines.last(),
        Some(&"initiate completed successfully"),
        "{out}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("[IKE] initiating IKE_SA lab[")),
        "{out}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("[IKE] CHILD_SA net{") && l.contains("established")),
        "{out}"
    );

    // --list-sas: the SPIs the data plane really has.
    let (spi_in, spi_out) = installed(&lab.moon);
    let out = lab.swanctl_ok(&["--list-sas"]);
    assert!(out.contains("lab: #"), "{out}");
    assert!(out.contains(", ESTABLISHED, IKEv2, "), "{out}");
    assert!(
        out.contains("  local  'moon.example.org' @ 127.0.0.1["),
        "{out}"
    );
    assert!(
        out.contains("  AES_GCM_16-128/PRF_HMAC_SHA2_256/ECP_256"),
        "{out}"
    );
    assert!(
        out.contains(", reqid 1, INSTALLED, TUNNEL, ESP:AES_GCM_16-128"),
        "{out}"
    );
    assert!(out.contains(&format!("    in  {spi_in},")), "{out}");
    assert!(out.contains(&format!("    out {spi_out},")), "{out}");
    assert!(out.contains("    local  10.1.0.0/24"), "{out}");
    // ...and they match sun's.
    let s = lab.sun.wait_for(&["dataplane(record): install"], T);
    assert_eq!(field(&s, "spi_out"), spi_in);

    let out = lab.swanctl_ok(&["--stats"]);
    assert!(out.contains("IKE_SAs: 1 total, 0 half-open"), "{out}");
    assert!(out.contains("uptime: "), "{out}");
    assert!(out.contains("loaded plugins: "), "{out}");

    // --rekey --child: new SPIs afterwards.
    let out = lab.swanctl_ok(&["--rekey", "--child", "net"]);
    assert!(out.contains("rekey completed successfully"), "{out}");
    let deadline = Instant::now() + T;
    let new_in = loop {
        let (i, _) = installed(&lab.moon);
        if i != spi_in {
            break i;
        }
        assert!(Instant::now() < deadline, "no rekey");
        std::thread::sleep(Duration::from_millis(50));
    };
    let deadline = Instant::now() + T;
    loop {
        let out = lab.swanctl_ok(&["--list-sas"]);
        if out.contains(&format!("    in  {new_in},")) && !out.contains(&spi_in) {
            break;
        }
        assert!(Instant::now() < deadline, "list-sas still old: {out}");
        std::thread::sleep(Duration::from_millis(200));
    }

    // --raw: the list-sa event with strongSwan's field names.
    let out = lab.swanctl_ok(&["--list-sas", "--raw"]);
    for want in [
        "list-sa event {lab {uniqueid=",
        "version=2 state=ESTABLISHED local-host=127.0.0.1",
        "initiator=yes initiator-spi=",
        "encr-alg=AES_GCM_16 encr-keysize=128 prf-alg=PRF_HMAC_SHA2_256 dh-group=ECP_256",
        "child-sas {net-",
        &format!("spi-in={new_in}"),
        "bytes-in=0 packets-in=0",
        "local-ts=[10.1.0.0/24] remote-ts=[10.2.0.0/24]",
        "list-sas reply {}",
    ] {
        assert!(out.contains(want), "missing {want:?} in\n{out}");
    }

    // --terminate --ike: log lines, success, nothing left.
    let out = lab.swanctl_ok(&["--terminate", "--ike", "lab"]);
    assert!(out.contains("[IKE] deleting IKE_SA lab["), "{out}");
    assert!(out.contains("terminate completed successfully"), "{out}");
    let out = lab.swanctl_ok(&["--list-sas"]);
    assert!(!out.contains("lab:"), "{out}");
    lab.sun.wait_for(&["received DELETE for IKE_SA lab["], T);

    // An initiate that cannot succeed (nobody there) fails with the reason.
    let dead = lab.moon_conn.replace(
        &format!("remote_port = {}", lab.sun_ports.0),
        &format!("remote_port = {}", free_port()),
    );
    let dead = dead
        .replace("lab {", "dead {")
        .replace("ike-lab", "ike-dead");
    let f2 = lab.write("dead.conf", &format!("{}\n{dead}", lab.moon_conn));
    // (two files' worth of sections merge: lab and dead)
    lab.swanctl_ok(&["--load-all", "--file", &f2]);
    let out = lab.swanctl(&["--initiate", "--ike", "dead", "--timeout", "2"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("initiate failed: "), "{err}");

    // --load-conns after an edit: renamed connection loaded, old ones
    // unloaded.
    let edited = lab
        .moon_conn
        .replace("lab {", "lab2 {")
        .replace("net {", "net2 {");
    let f3 = lab.write("edited.conf", &edited);
    let out = lab.swanctl_ok(&["--load-conns", "--file", &f3]);
    assert!(out.contains("loaded connection 'lab2'"), "{out}");
    assert!(
        out.contains("successfully loaded 1 connections, 2 unloaded"),
        "{out}"
    );
    let out = lab.swanctl_ok(&["--list-conns"]);
    assert!(out.contains("lab2: IKEv2"), "{out}");
    assert!(!out.contains("lab: IKEv2"), "{out}");
    assert!(!out.contains("dead: IKEv2"), "{out}");

    // SIGHUP re-reads moon's file and keeps what VICI loaded.
    lab.moon.signal("HUP");
    lab.moon.wait_for(&["reloaded: 1 connection(s)"], T);
    let out = lab.swanctl_ok(&["--list-conns"]);
    assert!(out.contains("lab2: IKEv2"), "{out}");
    let out = lab.swanctl_ok(&["--initiate", "--child", "net2"]);
    assert!(out.contains("initiate completed successfully"), "{out}");

    // reload-settings re-reads the vtid { } section (swanctl prints
    // nothing on success).
    lab.swanctl_ok(&["--reload-settings"]);
    lab.moon
        .wait_for(&["reload-settings: log levels applied"], T);
}

#[test]
fn vtictl_verbs_json_and_exit_codes() {
    let lab = lab("vtictl");
    let f = lab.write("swanctl.conf", &lab.moon_conn);

    // Usage errors: 2, before connecting.
    assert_eq!(lab.vtictl(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(
        lab.vtictl(&["list-sas", "--bogus", "x"]).status.code(),
        Some(2)
    );
    assert_eq!(lab.vtictl(&["initiate"]).status.code(), Some(2));
    assert_eq!(
        lab.vtictl(&["load-all", "--file", "/nonexistent"])
            .status
            .code(),
        Some(2)
    );
    let help = lab.vtictl(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("3  cannot connect"), "{help}");
    // Cannot connect: 3.
    let out = Command::new(VTICTL)
        .args(["--socket", "/nonexistent/vtid.vici", "version"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));

    let v = lab.vtictl_json(&["version"]);
    assert_eq!(v["daemon"], "vtid");
    let out = lab.vtictl(&["version"]);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("vtid "));

    let v = lab.vtictl_json(&["load-all", "--file", &f]);
    assert_eq!(v["success"], true);
    assert_eq!(v["conns-loaded"], serde_json::json!(["lab"]));
    assert_eq!(v["secrets-loaded"], serde_json::json!(["ike-lab"]));

    let v = lab.vtictl_json(&["list-conns"]);
    assert_eq!(v[0]["name"], "lab");
    assert_eq!(v[0]["children"]["net"]["reqid"], "1");
    let out = lab.vtictl(&["list-conns"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("moon.example.org"), "{text}");

    // Interfaces before the SA: down.
    let v = lab.vtictl_json(&["interfaces"]);
    assert_eq!(v[0]["name"], "ipsec1");
    assert_eq!(v[0]["state"], "down");
    assert_eq!(v[0]["route-metric"], "1", "the first interface's default");

    let v = lab.vtictl_json(&["initiate", "--child", "net"]);
    assert_eq!(v["success"], true);
    let log = v["log"].as_array().unwrap();
    assert!(
        log.iter().any(|l| l
            .as_str()
            .unwrap()
            .starts_with("[IKE] initiating IKE_SA lab[")),
        "{log:?}"
    );
    let out = lab.vtictl(&["initiate", "--child", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("CHILD_SA config 'nope' not found"));

    let (spi_in, spi_out) = installed(&lab.moon);
    let v = lab.vtictl_json(&["list-sas"]);
    assert_eq!(v[0]["name"], "lab");
    assert_eq!(v[0]["state"], "ESTABLISHED");
    let child = v[0]["child-sas"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap();
    assert_eq!(child["spi-in"], spi_in.as_str());
    assert_eq!(child["spi-out"], spi_out.as_str());
    let out = lab.vtictl(&["list-sas"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("ESTABLISHED") && text.contains(&spi_in),
        "{text}"
    );

    // The interface of reqid 1 is up, carried by that SA.
    let v = lab.vtictl_json(&["interfaces"]);
    assert_eq!(v[0]["state"], "up");
    assert_eq!(v[0]["sa"]["spi-in"], spi_in.as_str());
    assert_eq!(v[0]["bytes-in"], "0");
    let out = lab.vtictl(&["interfaces"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ipsec1") && text.contains(" up "), "{text}");

    // Gateways are monitored by the userspace data plane; with 'record'
    // there are none, and vtictl says why.
    let v = lab.vtictl_json(&["gateways"]);
    assert_eq!(v.as_array().map(Vec::len), Some(0), "{v}");
    let out = lab.vtictl(&["gateways"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("gateway monitoring runs with the userspace data plane"),
        "{text}"
    );

    let v = lab.vtictl_json(&["stats"]);
    assert_eq!(v["ikesas"]["total"], "1");
    assert_eq!(v["vtid"]["dataplane"], "record");

    // `vtictl ... | head`: a closed pipe is no panic, and the exit status
    // is the command's; every output path, tables and JSON.
    for args in [
        &["version"][..],
        &["stats"],
        &["list-sas"],
        &["list-conns"],
        &["interfaces"],
        &["gateways"],
        &["certs"],
        &["reload-settings"],
        &["rekey", "--child", "net"],
        &["keylog", "--off"],
        &["check", "--file", &f],
        &["--help"],
    ] {
        for json in [false, true] {
            let mut a = if json { vec!["--json"] } else { vec![] };
            a.extend_from_slice(args);
            let (code, stderr) = lab.vtictl_closed_pipe(&a);
            assert!(!stderr.contains("panicked"), "vtictl {a:?}: {stderr}");
            assert_eq!(code, Some(0), "vtictl {a:?} into a closed pipe: {stderr}");
        }
    }
    // Other write errors are failures: a full disk.
    let full = Command::new(VTICTL)
        .args(["--socket", lab.sock.to_str().unwrap(), "list-sas"])
        .stdout(std::fs::File::create("/dev/full").unwrap())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&full.stderr);
    assert_eq!(full.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("vtictl: cannot write the output: No space left on device"),
        "{stderr}"
    );

    let v = lab.vtictl_json(&["rekey", "--child", "net"]);
    assert_eq!(v["success"], true);
    assert_eq!(v["matches"], "1");

    let v = lab.vtictl_json(&["reload-settings"]);
    assert_eq!(v["success"], "yes");

    // The streamed control log into a closed pipe: the command still
    // runs to its end.
    let (code, stderr) = lab.vtictl_closed_pipe(&["terminate", "--ike", "lab"]);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(code, Some(0), "{stderr}");
    let v = lab.vtictl_json(&["list-sas"]);
    assert_eq!(v, serde_json::json!([]));
    let v = lab.vtictl_json(&["initiate", "--child", "net"]);
    assert_eq!(v["success"], true);
    let v = lab.vtictl_json(&["terminate", "--ike", "lab"]);
    assert_eq!(v["success"], true);
    assert_eq!(v["terminated"], "1");
    // Nothing left to terminate: 1.
    assert_eq!(
        lab.vtictl(&["terminate", "--ike", "lab"]).status.code(),
        Some(1)
    );

    let v = lab.vtictl_json(&["unload-conn", "lab"]);
    assert_eq!(v["success"], true);
    assert_eq!(lab.vtictl(&["unload-conn", "lab"]).status.code(), Some(1));
    let v = lab.vtictl_json(&["list-conns"]);
    assert_eq!(v, serde_json::json!([]));

    // load-conns only loads connections.
    let v = lab.vtictl_json(&["load-conns", "--file", &f]);
    assert_eq!(v["conns-loaded"], serde_json::json!(["lab"]));
    assert!(v.get("secrets-loaded").is_none());
}

/// Clients that never read, flood, or stall mid-packet do not keep the
/// daemon from negotiating.
#[test]
fn stuck_clients_do_not_stop_negotiation() {
    let lab = lab("stuck");
    let f = lab.write("swanctl.conf", &lab.moon_conn);
    lab.swanctl_ok(&["--load-all", "--file", &f]);

    let frame = |ty: u8, name: &str, body: &[u8]| {
        let mut p = vec![ty, name.len() as u8];
        p.extend_from_slice(name.as_bytes());
        p.extend_from_slice(body);
        let mut f = (p.len() as u32).to_be_bytes().to_vec();
        f.extend(p);
        f
    };
    // A: registers for every log line and never reads.
    let mut a = UnixStream::connect(&lab.sock).unwrap();
    a.write_all(&frame(3, "log", &[])).unwrap();
    a.write_all(&frame(3, "ike-updown", &[])).unwrap();
    // B: floods requests and never reads the replies.
    let mut b = UnixStream::connect(&lab.sock).unwrap();
    b.set_nonblocking(true).unwrap();
    let req = frame(0, "list-conns", &[]);
    for _ in 0..20_000 {
        if b.write_all(&req).is_err() {
            break;
        }
    }
    // C: half a packet, then silence.
    let mut c = UnixStream::connect(&lab.sock).unwrap();
    c.write_all(&[0, 0, 0, 50, 0, 7]).unwrap();

    let t0 = Instant::now();
    let out = lab.swanctl(&["--initiate", "--child", "net", "--timeout", "10"]);
    assert!(out.status.success(), "initiate with stuck clients around");
    assert!(t0.elapsed() < Duration::from_secs(10));
    let out = lab.swanctl_ok(&["--list-sas"]);
    assert!(out.contains("INSTALLED"), "{out}");
    drop((a, b, c));
}

/// With the default mode 0600 root:root, an unprivileged user cannot
/// connect.
#[test]
fn nobody_cannot_connect() {
    require_root();
    let lab = lab("nobody");
    let mode = std::fs::metadata(&lab.sock).unwrap();
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    assert_eq!(mode.permissions().mode() & 0o7777, 0o600);
    assert_eq!(mode.uid(), 0);
    // The scratch directory itself is world-searchable.
    let out = Command::new("setpriv")
        .args([
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            SWANCTL,
        ])
        .args(["--version", "--daemon", "--uri", &lab.uri()])
        .output()
        .unwrap();
    assert!(!out.status.success(), "nobody connected");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Permission denied"), "{err}");
    let out = Command::new("setpriv")
        .args([
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            VTICTL,
        ])
        .args(["--socket", lab.sock.to_str().unwrap(), "version"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    // root still can.
    lab.swanctl_ok(&["--version", "--daemon"]);
}
