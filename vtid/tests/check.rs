//! `vtid --check` and `vtictl check` on broken files (issue 15 §5), and
//! `vtid --help` into a closed pipe (§6): the real binaries, no root, no
//! daemon, nothing started.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("vtid-check-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(name: &str, text: &str) -> PathBuf {
    let p = dir().join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Runs a binary; returns (exit code, stdout, stderr).
fn run(bin: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn check(file: &Path) -> (i32, String) {
    let (code, out, err) = run(
        env!("CARGO_BIN_EXE_vtid"),
        &["--check", "--config", file.to_str().unwrap()],
    );
    assert!(
        err.is_empty(),
        "--check writes its findings to stdout: {err}"
    );
    (code, out)
}

const BROKEN: &str = "\
connections {
    v1 {
        version = 1
        remote_addrs = 192.0.2.2
        local {
            auth = psk
            id = a.example.org
        }
        remote {
            auth = xauth-generic
        }
    }
    rw {
        pools = rw-pool
        local {
            auth = pubkey
        }
        remote {
            auth = eap-mschapv2
        }
        children {
            rw {
                esp_proposals = aes128gcm16-nosuch
                ah_proposals = sha256
            }
        }
    }
    pf {
        remote_addrs = 198.51.100.2
        local {
            auth = psk
        }
        remote {
            auth = psk
        }
        children {
            con1 {
                reqid = 5001
                policies = no
                local_ts = 10.6.106.1,0.0.0.0/0,::/0
                remote_ts = 10.6.106.2,0.0.0.0/0,::/0
                start_action = start
                dpd_action = restart
            }
            bypasslan {
                mode = pass
                local_ts = 192.0.2.0/24
                remote_ts = 192.0.2.0/24
            }
        }
    }
}
secrets {
    eap-carol {
        id = carol
        secret = x
    }
}
";

#[test]
fn every_problem_with_its_place_and_a_failing_exit() {
    let f = write("broken.conf", BROKEN);
    let name = f.display().to_string();
    let (code, out) = check(&f);
    assert_eq!(code, 1, "{out}");
    let line = |n: u32, col: u32| format!("{name}:{n}:{col}: ");
    let expect = [
        // v1: IKEv1 named, and XAuth as IKEv1
        format!("{}error: connection 'v1' not loaded", line(2, 5)),
        format!("version ({name}:3:9): version = 1: IKEv1 is not supported"),
        format!("remote.auth ({name}:10:13): auth = xauth-generic: XAuth is an IKEv1 feature"),
        // rw: every reason, features named
        format!("{}error: connection 'rw' not loaded", line(13, 5)),
        format!("local.auth ({name}:16:13): auth = pubkey needs a certificate (certs, from x509/) or a raw key (pubkeys)"),
        format!("remote.auth ({name}:19:13): auth = eap-mschapv2: EAP authentication"),
        format!("pools ({name}:14:9): address pools"),
        format!("{}error: child 'rw.rw' not loaded: ah_proposals", line(22, 13)),
        // pfSense's VTI child without an interface, and its bypass shunt
        format!("{}error: child 'pf.con1' not loaded: policies ({name}:39:17): policies = no", line(37, 13)),
        "interfaces { ipsecN { reqid = 5001 } }".to_string(),
        format!("{}warning: connection 'pf': children.con1.dpd_action: has no effect: the connection has no dpd_delay", line(43, 17)),
        format!("{}error: child 'pf.bypasslan' not loaded: mode ({name}:46:17): mode = pass: pass/drop shunts are not supported", line(45, 13)),
        // the secret: once
        format!("{}warning: 'eap' secret 'secrets.eap-carol' is not used", line(54, 5)),
        format!("{name}: 1 connection(s) with 0 child(ren) would be loaded; 5 error(s)"),
    ];
    for e in &expect {
        assert!(out.contains(e.as_str()), "missing {e:?} in:\n{out}");
    }
    // pools: said once, as a reason, not also as a warning
    assert_eq!(out.matches("address pools").count(), 1, "{out}");
    assert_eq!(out.matches("secrets.eap-carol").count(), 1, "{out}");

    // vtictl check says the same, from the same code, without a daemon.
    let (code2, out2, err2) = run(
        env!("CARGO_BIN_EXE_vtictl"),
        &["--socket", "/nonexistent", "check", "--file", &name],
    );
    assert_eq!(code2, 1, "{out2}{err2}");
    assert_eq!(out2, out);
    assert!(err2.contains("5 error(s)"), "{err2}");
}

#[test]
fn values_in_several_connections_are_all_reported() {
    let f = write(
        "values.conf",
        "connections {\n a {\n  rekey_time = soon\n }\n b {\n  dpd_delay = x\n }\n}\n",
    );
    let name = f.display().to_string();
    let (code, out) = check(&f);
    assert_eq!(code, 1);
    assert!(
        out.contains(&format!(
            "{name}:3:3: error: invalid value for 'connections.a.rekey_time'"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "{name}:6:3: error: invalid value for 'connections.b.dpd_delay'"
        )),
        "{out}"
    );
    assert!(
        out.contains("2 error(s): the configuration cannot be loaded"),
        "{out}"
    );
}

#[test]
fn syntax_errors_have_line_and_column() {
    let f = write(
        "syntax.conf",
        "connections {\n gw {\n  local_addrs = 192.0.2.1\n",
    );
    let (code, out) = check(&f);
    assert_eq!(code, 1);
    assert!(
        out.contains(&format!("{}:", f.display())) && out.contains("error: syntax"),
        "{out}"
    );
}

#[test]
fn a_good_file_passes_with_exit_0() {
    let f = write(
        "good.conf",
        "connections {\n gw {\n  remote_addrs = 192.0.2.2\n  dpd_delay = 30s\n  local {\n   auth = psk\n  }\n  remote {\n   auth = psk\n  }\n  children {\n   net {\n    remote_ts = 10.2.0.0/16\n    dpd_action = restart\n   }\n  }\n }\n}\nsecrets {\n ike-1 {\n  secret = 0sc2VjcmV0\n }\n}\n",
    );
    let (code, out) = check(&f);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("1 connection(s) with 1 child(ren) would be loaded; 0 error(s), 0 warning(s)"),
        "{out}"
    );
    // A missing file is an error, not a panic.
    let (code, out) = check(Path::new("/nonexistent/vtid.conf"));
    assert_eq!(code, 1);
    assert!(out.contains("error: /nonexistent/vtid.conf"), "{out}");
}

/// `vtid --help | head` closed the pipe and vtid panicked (issue 15 §6).
#[test]
fn help_into_a_closed_pipe_does_not_panic() {
    for bin in [env!("CARGO_BIN_EXE_vtid"), env!("CARGO_BIN_EXE_vtictl")] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = Command::new(bin)
            .arg("--help")
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{bin}: {err}");
        assert_eq!(out.status.code(), Some(0), "{bin}: {err}");
    }
    // and the data plane help says what this build has
    let (_, help, _) = run(env!("CARGO_BIN_EXE_vtid"), &["--help"]);
    assert!(!help.contains("not in this build"), "{help}");
    assert!(help.contains("--check"), "{help}");
}
