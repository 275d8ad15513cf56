//! The kernel data planes at start-up, on this machine's kernel (root, in a
//! throwaway network namespace): `--dataplane xfrm` refuses to start and
//! names the missing kernel feature (also with `xfrm_interface_type =
//! vti`, which needs `ip_vti` instead of xfrm interfaces); `--dataplane
//! auto` starts and logs
//! that it falls back to userspace (or that it uses XFRM, on a kernel with
//! ESP and xfrm interfaces); `--dataplane pfkey` on Linux refuses with the
//! reason.
// Linux only: the Linux data planes (the FreeBSD build check compiles the portable tests).
#![cfg(target_os = "linux")]

mod common;

use std::process::Command;
use std::time::Duration;

use common::{free_port, require_root, scratch, Conn, Vtid, VTID};

struct Netns(String);

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn netns(tag: &str) -> Netns {
    let name = format!("vtid-kdp-{tag}-{}", std::process::id());
    let _ = Command::new("ip")
        .args(["netns", "del", &name])
        .stderr(std::process::Stdio::null())
        .status();
    assert!(Command::new("ip")
        .args(["netns", "add", &name])
        .status()
        .unwrap()
        .success());
    assert!(Command::new("ip")
        .args(["-n", &name, "link", "set", "lo", "up"])
        .status()
        .unwrap()
        .success());
    Netns(name)
}

fn conf() -> String {
    conf_with("")
}

fn conf_with(vtid_extra: &str) -> String {
    Conn {
        port: free_port(),
        port_nat_t: free_port(),
        local_addrs: "127.0.0.1",
        remote_addrs: "127.0.0.1",
        remote_port: free_port(),
        vtid_extra,
        ..Conn::default()
    }
    .render()
}

/// Runs vtid until it exits by itself; returns (success, log), or `None`
/// if it was still running after 15 s (it started: killed then).
fn run_to_exit(ns: &str, dataplane: &str) -> Option<(bool, String)> {
    run_conf_to_exit(ns, dataplane, dataplane, &conf())
}

fn run_conf_to_exit(ns: &str, dataplane: &str, tag: &str, conf: &str) -> Option<(bool, String)> {
    let dir = scratch(tag);
    let c = dir.join("vtid.conf");
    std::fs::write(&c, conf).unwrap();
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns, VTID, "--config"])
        .arg(&c)
        .args(["--dataplane", dataplane])
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some((out.status.success(), log))
}

#[test]
fn xfrm_refuses_to_start_naming_the_missing_kernel_feature() {
    require_root();
    let ns = netns("xfrm");
    let Some((ok, log)) = run_to_exit(&ns.0, "xfrm") else {
        println!("vtid --dataplane xfrm kept running: this kernel has ESP and xfrm interfaces");
        return;
    };
    println!("{log}");
    assert!(!ok, "exit status reports the failure");
    assert!(log.contains("data plane 'xfrm' cannot start"), "{log}");
    assert!(
        log.contains("no ESP") || log.contains("no xfrm interfaces"),
        "names the missing feature: {log}"
    );
    assert!(
        log.contains("esp4") || log.contains("xfrm_interface"),
        "{log}"
    );
}

/// `xfrm_interface_type = vti`: the probe asks for ESP and `ip_vti`, not
/// for xfrm interfaces.
#[test]
fn xfrm_with_legacy_vti_refuses_to_start_naming_the_missing_kernel_feature() {
    require_root();
    let ns = netns("xfrmvti");
    let conf = conf_with("xfrm_interface_type = vti");
    let Some((ok, log)) = run_conf_to_exit(&ns.0, "xfrm", "xfrmvti", &conf) else {
        println!("vtid --dataplane xfrm (vti) kept running: this kernel has ESP and ip_vti");
        return;
    };
    println!("{log}");
    assert!(!ok, "exit status reports the failure");
    assert!(log.contains("data plane 'xfrm' cannot start"), "{log}");
    assert!(
        log.contains("no ESP") || log.contains("no VTI (ip_vti module"),
        "names the missing feature: {log}"
    );
    assert!(!log.contains("xfrm interfaces"), "{log}");
}

#[test]
fn pfkey_refuses_to_start_on_linux() {
    require_root();
    let ns = netns("pfkey");
    let (ok, log) = run_to_exit(&ns.0, "pfkey").expect("vtid --dataplane pfkey exits");
    println!("{log}");
    assert!(!ok);
    assert!(log.contains("data plane 'pfkey' cannot start"), "{log}");
    assert!(log.contains("FreeBSD"), "{log}");
}

#[test]
fn auto_starts_and_says_which_data_plane_and_why() {
    require_root();
    let ns = netns("auto");
    let dir = scratch("auto");
    let mut v = Vtid::start(
        &dir,
        "auto",
        &conf(),
        &["ip", "netns", "exec", &ns.0],
        &["--dataplane", "auto"],
    );
    let line = v.wait_for(&["data plane auto:"], Duration::from_secs(20));
    println!("{line}");
    if line.contains("using the XFRM data plane") {
        v.wait_for(&["with data plane 'xfrm'"], Duration::from_secs(20));
    } else {
        assert!(line.contains("using the userspace data plane"), "{line}");
        assert!(
            line.contains("no ESP") || line.contains("no xfrm interfaces"),
            "says why: {line}"
        );
        v.wait_for(&["with data plane 'userspace'"], Duration::from_secs(20));
    }
}
