//! vtid as a service, for real: `cargo deb` packages the binaries this
//! test run built; `dpkg -i` installs the package into overlays of /usr,
//! /etc and /var inside a private mount namespace (the host's files and
//! package database stay untouched); a real systemd boots as PID 1 of its
//! own PID and network namespaces and runs the packaged `vtid.service`:
//! `vtid --check` on the example configuration, `systemd-analyze verify`,
//! Type=notify readiness, the hardening in force, `systemctl reload`,
//! logrotate with the packaged snippet, `systemctl stop`. Plus the
//! `NOTIFY_SOCKET` protocol against a test listener, without systemd.
// Linux only: systemd, cargo-deb and namespaces (the FreeBSD build check
// compiles the portable tests).
#![cfg(target_os = "linux")]

mod common;

use std::fs;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::moon_sun::moon_sun;
use common::require_root;

const T: Duration = Duration::from_secs(60);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    out
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The NOTIFY_SOCKET protocol without systemd: READY=1 once the control
/// socket exists, RELOADING=1 then READY=1 around a SIGHUP, STOPPING=1 on
/// SIGTERM.
#[test]
fn notify_socket_protocol() {
    let ms = moon_sun("notify");
    let dir = ms.dir.clone();
    let sock = dir.join("notify.sock");
    let rx = UnixDatagram::bind(&sock).unwrap();
    rx.set_read_timeout(Some(T)).unwrap();
    let conf = dir.join("moon.conf");
    fs::write(&conf, ms.moon_conf.render()).unwrap();
    let vici = dir.join("moon.vici");
    let log = fs::File::create(dir.join("moon.log")).unwrap();
    let mut child = Command::new(common::VTID)
        .args(["--config", conf.to_str().unwrap(), "--dataplane", "record"])
        .args(["--vici", vici.to_str().unwrap()])
        .env("NOTIFY_SOCKET", &sock)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut buf = [0u8; 1024];
    let mut recv = || {
        let n = rx
            .recv(&mut buf)
            .expect("a notification within the timeout");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let ready = recv();
    // Ready means ready: the control socket is there and the IKE ports are
    // bound when the message arrives.
    assert!(vici.exists(), "READY=1 before the control socket");
    assert!(
        std::net::UdpSocket::bind(("0.0.0.0", ms.moon_ports.0)).is_err(),
        "READY=1 before the IKE socket is bound"
    );
    assert!(ready.starts_with("READY=1\n"), "{ready}");
    assert!(
        ready.contains(&format!("MAINPID={}\n", child.id())),
        "{ready}"
    );
    assert!(
        ready.contains("STATUS=1 connection(s), 0 IKE_SA(s), data plane record"),
        "{ready}"
    );
    let kill = |sig: &str| {
        assert!(Command::new("kill")
            .args([sig, &child.id().to_string()])
            .status()
            .unwrap()
            .success())
    };
    kill("-HUP");
    assert!(recv().starts_with("RELOADING=1\n"));
    assert!(recv().starts_with("READY=1\n"));
    kill("-TERM");
    assert!(recv().starts_with("STOPPING=1\n"));
    let deadline = Instant::now() + T;
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "vtid did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = fs::remove_dir_all(&dir);
}

/// A systemd booted in namespaces; killed (and with it everything in its
/// PID namespace) on drop.
struct Booted {
    unshare: Child,
    pid: u32,
    dir: PathBuf,
}

impl Booted {
    /// `nsenter` into systemd's mount, PID and network namespaces.
    fn exec(&self, args: &[&str]) -> Output {
        let mut c = Command::new("timeout");
        c.arg("60")
            .args(["nsenter", "-t", &self.pid.to_string(), "-m", "-p", "-n"])
            .args(args);
        run(&mut c)
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.exec(args);
        assert!(
            o.status.success(),
            "{args:?} failed ({}):\n{}\n--- journal-less vtid log ---\n{}",
            o.status,
            text(&o),
            self.file("/var/log/vtid/vtid.log")
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn show(&self, prop: &str) -> String {
        self.ok(&["systemctl", "show", "vtid", "-p", prop, "--value"])
            .trim()
            .to_string()
    }

    /// A file as seen inside the namespaces.
    fn file(&self, path: &str) -> String {
        let o = self.exec(&["cat", path]);
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn wait_file(&self, path: &str, needle: &str) -> String {
        let deadline = Instant::now() + T;
        loop {
            let s = self.file(path);
            if s.contains(needle) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "no '{needle}' in {path} within {T:?}:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Booted {
    fn drop(&mut self) {
        // SIGKILL to the namespace's init ends every process in it; the
        // mounts go with the mount namespace.
        let _ = Command::new("kill")
            .args(["-KILL", &self.pid.to_string()])
            .status();
        let _ = self.unshare.wait();
        if !std::thread::panicking() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Builds the package from this run's binaries (target/debug), with the
/// release paths of the metadata mapped to them.
fn build_deb(dir: &Path) -> PathBuf {
    let probe = Command::new("cargo").args(["deb", "--version"]).output();
    assert!(
        probe.as_ref().is_ok_and(|o| o.status.success()),
        "cargo-deb is needed to build the Debian package: `cargo install cargo-deb --locked` \
         (.ci/run installs it) — this test does not skip"
    );
    let bin = Path::new(common::VTID);
    let profile_dir = bin.parent().unwrap();
    let profile = profile_dir.file_name().unwrap().to_str().unwrap();
    let target_dir = profile_dir.parent().unwrap();
    let out = dir.join("vtid.deb");
    let o = run(Command::new("cargo")
        .current_dir(workspace())
        .args(["deb", "-p", "vtid", "--no-build"])
        .args([
            "--profile",
            if profile == "debug" { "dev" } else { profile },
        ])
        .arg("--output")
        .arg(&out)
        .env("CARGO_TARGET_DIR", target_dir));
    assert!(o.status.success(), "cargo deb failed:\n{}", text(&o));
    out
}

#[test]
fn debian_package_installs_and_systemd_runs_the_unit() {
    require_root();
    for tool in ["dpkg", "unshare", "nsenter", "logrotate"] {
        assert!(
            vtid_tests::netns::which(tool).is_some(),
            "{tool} is needed (interop/deps installs it) — this test does not skip"
        );
    }
    assert!(
        Path::new("/lib/systemd/systemd").exists(),
        "systemd is needed (Debian package systemd) — this test does not skip"
    );
    // Not under /tmp: the namespaces get a tmpfs there.
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("service-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let deb = build_deb(&dir);
    let contents = text(&run(Command::new("dpkg-deb").arg("-c").arg(&deb)));
    for f in [
        "./usr/sbin/vtid",
        "./usr/sbin/vtictl",
        "./etc/vtid/vtid.conf",
        "./etc/logrotate.d/vtid",
        "./usr/lib/systemd/system/vtid.service",
        "./usr/share/doc/vtid/README.md",
    ] {
        assert!(contents.contains(f), "{f} not in the package:\n{contents}");
    }

    // Boot: overlays for the package, empty sysinit/basic targets so that
    // the boot touches nothing of the host (no udev, tmpfiles, fstab).
    let boot = dir.join("boot.sh");
    fs::write(
        &boot,
        format!(
            r#"set -e
S={dir}
mount --make-rprivate /
for d in usr etc var; do
    mkdir -p $S/$d.up $S/$d.work
    mount -t overlay overlay -o lowerdir=/$d,upperdir=$S/$d.up,workdir=$S/$d.work /$d
done
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
ip link set lo up
rm -rf /usr/lib/systemd/system/*.target.wants /etc/systemd/system/*.target.wants
dpkg -i $S/vtid.deb > $S/dpkg.log 2>&1
mkdir -p /run/systemd/system
for t in sysinit basic sockets timers paths local-fs swap; do
    printf '[Unit]\nDescription=%s (test: empty)\n' $t > /run/systemd/system/$t.target
done
printf '[Unit]\nDescription=vtid test\n' > /run/systemd/system/vtid-test.target
exec /lib/systemd/systemd --system --unit=vtid-test.target
"#,
            dir = dir.display()
        ),
    )
    .unwrap();
    let log = fs::File::create(dir.join("systemd.log")).unwrap();
    let unshare = Command::new("unshare")
        .args([
            "--pid",
            "--fork",
            "--mount",
            "--net",
            "--uts",
            "--ipc",
            "--mount-proc",
            "sh",
        ])
        .arg(&boot)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    // systemd is unshare's child.
    let deadline = Instant::now() + T;
    let pid = loop {
        let c = fs::read_to_string(format!("/proc/{0}/task/{0}/children", unshare.id()))
            .unwrap_or_default();
        if let Some(p) = c.split_whitespace().next() {
            let comm = fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
            if comm.trim() == "systemd" {
                break p.parse::<u32>().unwrap();
            }
        }
        assert!(
            Instant::now() < deadline,
            "systemd did not start:\n{}\n{}",
            fs::read_to_string(dir.join("systemd.log")).unwrap_or_default(),
            fs::read_to_string(dir.join("dpkg.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let sd = Booted {
        unshare,
        pid,
        dir: dir.clone(),
    };
    let deadline = Instant::now() + T;
    loop {
        let o = sd.exec(&["systemctl", "is-system-running"]);
        let s = String::from_utf8_lossy(&o.stdout).trim().to_string();
        if s == "running" || s == "degraded" {
            break;
        }
        assert!(Instant::now() < deadline, "systemd is '{s}'");
        std::thread::sleep(Duration::from_millis(100));
    }
    let dpkg = fs::read_to_string(dir.join("dpkg.log")).unwrap();
    assert!(dpkg.contains("Setting up vtid"), "{dpkg}");
    assert!(sd
        .ok(&["dpkg", "-s", "vtid"])
        .contains("Status: install ok installed"));
    // The host's package database knows nothing of it.
    assert!(!run(Command::new("dpkg").args(["-s", "vtid"]))
        .status
        .success());

    // The example configuration passes the check; the unit is valid.
    sd.ok(&[
        "/usr/sbin/vtid",
        "--check",
        "--config",
        "/etc/vtid/vtid.conf",
    ]);
    let v = sd.exec(&[
        "systemd-analyze",
        "verify",
        "/usr/lib/systemd/system/vtid.service",
    ]);
    assert!(
        v.status.success() && !text(&v).contains("vtid.service"),
        "systemd-analyze verify:\n{}",
        text(&v)
    );
    assert_eq!(
        sd.ok(&["systemctl", "is-enabled", "vtid"]).trim(),
        "enabled"
    );

    // Start: returns once vtid said READY=1.
    sd.ok(&["systemctl", "start", "vtid"]);
    assert_eq!(sd.show("ActiveState"), "active");
    assert_eq!(sd.show("SubState"), "running");
    assert!(
        sd.show("StatusText").contains("data plane"),
        "{}",
        sd.show("StatusText")
    );
    let main_pid = sd.show("MainPID");
    // The hardening holds: bounding set NET_BIND_SERVICE(10), NET_ADMIN(12),
    // NET_RAW(13); no new privileges; /usr read-only.
    let status = sd.file(&format!("/proc/{main_pid}/status"));
    let capbnd = status
        .lines()
        .find(|l| l.starts_with("CapBnd:"))
        .unwrap_or_default();
    assert_eq!(
        capbnd.split_whitespace().nth(1),
        Some("0000000000003400"),
        "{status}"
    );
    assert!(status.contains("NoNewPrivs:\t1"), "{status}");
    let mounts = sd.file(&format!("/proc/{main_pid}/mountinfo"));
    assert!(
        mounts
            .lines()
            .any(|l| l.contains(" /usr ") && l.contains(" ro,")),
        "ProtectSystem=strict: /usr is not read-only:\n{mounts}"
    );
    // The control socket in the runtime directory; vtictl finds it.
    let v = sd.ok(&["/usr/sbin/vtictl", "--json", "version"]);
    assert!(v.contains("vtid"), "{v}");
    let log = sd.wait_file("/var/log/vtid/vtid.log", "VICI control socket listening");
    assert!(log.contains("[DMN]"), "{log}");

    // Reload: same process, new configuration read.
    sd.ok(&["systemctl", "reload", "vtid"]);
    sd.wait_file("/var/log/vtid/vtid.log", "reloaded: ");
    assert_eq!(sd.show("MainPID"), main_pid);
    assert_eq!(sd.show("ActiveState"), "active");

    // logrotate with the packaged snippet: the file moves, vtid reopens.
    sd.ok(&["logrotate", "-f", "/etc/logrotate.d/vtid"]);
    let fresh = sd.wait_file("/var/log/vtid/vtid.log", "reloaded: ");
    assert!(!fresh.contains("VICI control socket listening"), "{fresh}");
    assert!(sd
        .file("/var/log/vtid/vtid.log.1")
        .contains("VICI control socket listening"));

    sd.ok(&["systemctl", "stop", "vtid"]);
    assert_eq!(sd.show("ActiveState"), "inactive");
    assert_eq!(sd.show("Result"), "success");
    let log = sd.file("/var/log/vtid/vtid.log");
    assert!(
        log.contains("vtid exits") || log.contains("every IKE_SA is deleted"),
        "{log}"
    );
}
