//! The FreeBSD `rc.d` script (`packaging/freebsd/rc.d/vtid`) and the
//! platform defaults, on Linux: FreeBSD's `/etc/rc.subr` is not here, so
//! the script is checked with `sh -n` (Debian's `sh` is dash, a POSIX
//! shell like FreeBSD's) and sourced with a stand-in `rc.subr` that only
//! records what the script hands to `run_rc_command` (the variables
//! rc.subr acts on: command, arguments, pid file, reload signal, ...) and
//! runs its `configtest` against the real `vtid --check`. What rc.subr
//! itself then does (daemon(8), kldload, pid checks) is FreeBSD's and is
//! not exercised here.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/freebsd/rc.d/vtid")
}

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vtid-rc-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A stand-in for FreeBSD's rc.subr: `load_rc_config` reads `RC_CONF` (our
/// rc.conf), `run_rc_command` prints the variables rc.subr would use and,
/// for `configtest`, runs `configtest_cmd` as rc.subr does; `err` prints
/// and exits like rc.subr's.
const RC_SUBR: &str = r#"
load_rc_config() { [ -n "$RC_CONF" ] && . "$RC_CONF"; }
err() { _code=$1; shift; echo "err: $*" >&2; exit "$_code"; }
run_rc_command() {
    case "$1" in
    configtest) eval "$configtest_cmd" ;;
    *)
        echo "name=$name"
        echo "rcvar=$rcvar"
        echo "command=$command"
        echo "command_args=$command_args"
        echo "pidfile=$pidfile"
        echo "procname=$procname"
        echo "sig_reload=$sig_reload"
        echo "extra_commands=$extra_commands"
        echo "required_modules=$required_modules"
        echo "required_files=$required_files"
        echo "start_precmd=$start_precmd"
        ;;
    esac
}
"#;

/// Runs the script with `arg` against the stand-in rc.subr and `rc_conf`;
/// returns (exit code, stdout, stderr).
fn run_script(dir: &Path, rc_conf: &str, arg: &str) -> (i32, String, String) {
    let subr = dir.join("rc.subr");
    std::fs::write(&subr, RC_SUBR).unwrap();
    let conf = dir.join("rc.conf");
    std::fs::write(&conf, rc_conf).unwrap();
    let text = std::fs::read_to_string(script()).unwrap();
    assert_eq!(
        text.matches(". /etc/rc.subr").count(),
        1,
        "the script sources /etc/rc.subr once"
    );
    let copy = dir.join("vtid.rc");
    std::fs::write(
        &copy,
        text.replace(". /etc/rc.subr", &format!(". {}", subr.display())),
    )
    .unwrap();
    let out = Command::new("sh")
        .arg(&copy)
        .arg(arg)
        .env("RC_CONF", &conf)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn var<'a>(out: &'a str, name: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in {out}"))
}

#[test]
fn rc_script_parses_as_posix_sh() {
    let out = Command::new("sh").arg("-n").arg(script()).output().unwrap();
    assert!(
        out.status.success(),
        "sh -n: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(script()).unwrap();
    assert!(text.starts_with("#!/bin/sh\n"));
    for key in ["# PROVIDE: vtid", "# REQUIRE:", "# KEYWORD: shutdown"] {
        assert!(text.contains(key), "rcorder header {key}");
    }
}

#[test]
fn rc_script_defaults_follow_pfsense() {
    let d = scratch("defaults");
    let (code, out, err) = run_script(&d, "", "start");
    assert_eq!(code, 0, "{err}");
    assert_eq!(var(&out, "name"), "vtid");
    assert_eq!(var(&out, "rcvar"), "vtid_enable");
    assert_eq!(var(&out, "command"), "/usr/sbin/daemon");
    assert_eq!(
        var(&out, "command_args").trim_end(),
        "-f -p /var/run/vtid.pid -o /var/log/vtid.log /usr/local/sbin/vtid \
         --config /usr/local/etc/swanctl/swanctl.conf"
    );
    assert_eq!(var(&out, "pidfile"), "/var/run/vtid.pid");
    // rc.subr matches the pid file's process against procname: vtid itself.
    assert_eq!(var(&out, "procname"), "/usr/local/sbin/vtid");
    assert_eq!(var(&out, "sig_reload"), "HUP");
    assert!(var(&out, "extra_commands")
        .split(' ')
        .any(|c| c == "reload"));
    assert_eq!(var(&out, "required_modules"), "ipsec if_ipsec");
    assert_eq!(
        var(&out, "required_files"),
        "/usr/local/etc/swanctl/swanctl.conf"
    );
    assert_eq!(var(&out, "start_precmd"), "vtid_configtest");
}

#[test]
fn rc_script_takes_rc_conf_overrides_and_keeps_vtid_args_after_vtid() {
    let d = scratch("overrides");
    let (code, out, err) = run_script(
        &d,
        "vtid_enable=YES\nvtid_config=/tmp/x.conf\nvtid_args=\"--dataplane record\"\n\
         vtid_pidfile=/tmp/v.pid\nvtid_logfile=/tmp/v.log\n",
        "start",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        var(&out, "command_args").trim_end(),
        "-f -p /tmp/v.pid -o /tmp/v.log /usr/local/sbin/vtid --config /tmp/x.conf \
         --dataplane record"
    );
    assert_eq!(var(&out, "pidfile"), "/tmp/v.pid");
}

#[test]
fn rc_configtest_runs_vtid_check_and_refuses_a_broken_file() {
    let d = scratch("configtest");
    let good = d.join("good.conf");
    std::fs::write(
        &good,
        "connections {\n  c {\n    remote_addrs = 192.0.2.2\n    local { auth = psk }\n    \
         remote { auth = psk }\n    children { net { local_ts = 10.1.0.0/24\n      \
         remote_ts = 10.2.0.0/24 } }\n  }\n}\nsecrets { ike-1 { secret = \"s3cret-s3cret\" } }\n",
    )
    .unwrap();
    let bad = d.join("bad.conf");
    std::fs::write(&bad, "connections {\n  c {\n    remote_addrs = \n").unwrap();
    let vtid = env!("CARGO_BIN_EXE_vtid");
    let conf = |f: &Path| {
        format!(
            "vtid_binary={vtid}\nvtid_config={}\nvtid_args=\"--dataplane record\"\n",
            f.display()
        )
    };
    let (code, _, err) = run_script(&d, &conf(&good), "configtest");
    assert_eq!(code, 0, "a good file passes configtest: {err}");
    let (code, _, err) = run_script(&d, &conf(&bad), "configtest");
    assert_ne!(code, 0, "a broken file fails configtest");
    assert!(err.contains("bad.conf"), "{err}");
    assert!(err.contains("vtid --check failed; not starting"), "{err}");
}

#[test]
fn daemon_and_vtictl_defaults_name_this_systems_paths() {
    // Without --config, `vtid --check` reads the platform default (absent
    // here, so it names it in the error).
    let out = Command::new(env!("CARGO_BIN_EXE_vtid"))
        .arg("--check")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if Path::new(config::paths::DEFAULT_CONFIG).exists() {
        panic!(
            "{} exists on this machine; the test needs it absent",
            config::paths::DEFAULT_CONFIG
        );
    }
    assert!(!out.status.success());
    assert!(all.contains(config::paths::DEFAULT_CONFIG), "{all}");
    // vtictl without --socket talks to the platform's VICI socket.
    let out = Command::new(env!("CARGO_BIN_EXE_vtictl"))
        .arg("list-sas")
        .env_remove("VTICTL_SOCKET")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains(config::paths::vici_socket_path()), "{err}");
}
