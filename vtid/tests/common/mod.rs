//! Running the real `vtid` binary in tests: spawn (on the host or in a
//! lab namespace), wait for log lines, signal, wait for the exit.
#![allow(dead_code)]

pub mod lab;
pub mod moon_sun;

use std::fs;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// The binary under test.
pub const VTID: &str = env!("CARGO_BIN_EXE_vtid");

/// Fails the test clearly unless root (namespaces, port 500).
pub fn require_root() {
    let uid = fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
        })
        .unwrap_or_default();
    assert_eq!(
        uid, "0",
        "these tests need root (network namespaces, charon); CI runs as root - run them with sudo"
    );
}

/// A scratch directory for one test.
pub fn scratch(tag: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let d = std::env::temp_dir().join(format!(
        "vtid-test-{}-{}-{tag}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

/// A free UDP port on 127.0.0.1 (bound and released).
pub fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running vtid.
#[derive(Debug)]
pub struct Vtid {
    pub name: String,
    child: Option<Child>,
    pub log_path: PathBuf,
    pub conf_path: PathBuf,
}

impl Vtid {
    /// Starts vtid with `conf` (written to `dir/<name>.conf`), the record
    /// data plane and `extra` arguments. `prefix` wraps the command (e.g.
    /// `ip netns exec NS`).
    pub fn start(dir: &Path, name: &str, conf: &str, prefix: &[&str], extra: &[&str]) -> Vtid {
        let conf_path = dir.join(format!("{name}.conf"));
        fs::write(&conf_path, conf).unwrap();
        let log_path = dir.join(format!("{name}.log"));
        let out = fs::File::create(&log_path).unwrap();
        let mut args: Vec<String> = prefix.iter().map(|s| s.to_string()).collect();
        args.push(VTID.to_string());
        args.extend(
            [
                "--config",
                conf_path.to_str().unwrap(),
                "--dataplane",
                "record",
            ]
            .iter()
            .map(|s| s.to_string()),
        );
        args.extend(extra.iter().map(|s| s.to_string()));
        // Each daemon its own control socket (the default is /run/vtid.vici).
        if !extra.contains(&"--vici") {
            args.push("--vici".into());
            args.push(dir.join(format!("{name}.vici")).display().to_string());
        }
        let child = Command::new(&args[0])
            .args(&args[1..])
            .env("RUST_LOG", "info,ike=debug,vtid=debug")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {args:?}: {e}"));
        Vtid {
            name: name.to_string(),
            child: Some(child),
            log_path,
            conf_path,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// The log's complete lines (a line the daemon is still writing is
    /// left out, so a reader never sees half a line).
    pub fn log(&self) -> String {
        let mut s = fs::read_to_string(&self.log_path).unwrap_or_default();
        s.truncate(s.rfind('\n').map_or(0, |i| i + 1));
        s
    }

    /// Waits until a log line contains every needle; returns that line.
    pub fn wait_for(&mut self, needles: &[&str], timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let log = self.log();
            if let Some(l) = log.lines().find(|l| needles.iter().all(|n| l.contains(n))) {
                return l.to_string();
            }
            if Instant::now() > deadline {
                panic!(
                    "vtid {}: no log line with {needles:?} within {timeout:?}\n--- log ---\n{log}",
                    self.name
                );
            }
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(st)) = c.try_wait() {
                    panic!(
                        "vtid {} exited ({st}) while waiting for {needles:?}\n--- log ---\n{log}",
                        self.name
                    );
                }
            }
            thread::sleep(Duration::from_millis(25));
        }
    }

    /// How many log lines contain every needle.
    pub fn count(&self, needles: &[&str]) -> usize {
        self.log()
            .lines()
            .filter(|l| needles.iter().all(|n| l.contains(n)))
            .count()
    }

    pub fn signal(&self, sig: &str) {
        let st = Command::new("kill")
            .args([&format!("-{sig}"), &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(st.success(), "kill -{sig} {}", self.pid());
    }

    /// Waits for the exit; `None` if still running after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        let c = self.child.as_mut()?;
        loop {
            if let Ok(Some(st)) = c.try_wait() {
                self.child = None;
                return Some(st);
            }
            if Instant::now() > deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Vtid {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if thread::panicking() {
            eprintln!(
                "--- vtid {} log ({}) ---\n{}",
                self.name,
                self.log_path.display(),
                self.log()
            );
        }
    }
}

impl Vtid {
    /// Sends SIGUSR1 and returns the dump it logs (the lines from its
    /// `stats:` line on), waiting (bounded) for the data-plane summary
    /// that ends it.
    pub fn dump(&mut self) -> String {
        let before = self.log().len();
        self.signal("USR1");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.log();
            let new = log.get(before..).unwrap_or("");
            if let Some(i) = new.find("stats:") {
                let tail = &new[i..];
                if tail.contains("SA(s) installed") {
                    // the per-SA lines follow the summary; give them a moment
                    thread::sleep(Duration::from_millis(50));
                    let log = self.log();
                    let new = log.get(before..).unwrap_or("");
                    let i = new.find("stats:").unwrap_or(0);
                    return new[i..].to_string();
                }
            }
            assert!(
                Instant::now() < deadline,
                "vtid {}: no SIGUSR1 dump\n{log}",
                self.name
            );
            thread::sleep(Duration::from_millis(25));
        }
    }

    /// The record data plane's SAs from a SIGUSR1 dump (`dataplane(record):
    /// sa ...` lines).
    pub fn dataplane_sas(&mut self) -> Vec<String> {
        self.dump()
            .lines()
            .filter(|l| l.contains("dataplane(record): sa "))
            .map(str::to_string)
            .collect()
    }

    /// The IKE SAs from a SIGUSR1 dump (`sa: IKE_SA ...` lines).
    pub fn ike_sas(&mut self) -> Vec<String> {
        self.dump()
            .lines()
            .filter(|l| l.contains("vtid::daemon: sa: IKE_SA "))
            .map(str::to_string)
            .collect()
    }

    /// Log lines containing every needle.
    pub fn lines(&self, needles: &[&str]) -> Vec<String> {
        self.log()
            .lines()
            .filter(|l| needles.iter().all(|n| l.contains(n)))
            .map(str::to_string)
            .collect()
    }
}

/// A counter `key=N` in a `stats:` line.
pub fn counter(stats: &str, key: &str) -> u64 {
    let line = stats.lines().next().unwrap_or("");
    field(line, key)
        .parse()
        .unwrap_or_else(|_| panic!("{key}= is not a number in {line}"))
}

/// The value of `key=` in a log line (up to the next blank).
pub fn field<'a>(line: &'a str, key: &str) -> &'a str {
    let pat = format!(" {key}=");
    let i = line
        .find(&pat)
        .unwrap_or_else(|| panic!("no {key}= in {line}"))
        + pat.len();
    line[i..].split_whitespace().next().unwrap_or("")
}

/// A PSK site-to-site connection for vtid.
#[derive(Debug, Clone)]
pub struct Conn<'a> {
    pub name: &'a str,
    pub port: u16,
    pub port_nat_t: u16,
    pub local_addrs: &'a str,
    pub remote_addrs: &'a str,
    pub remote_port: u16,
    pub local_id: &'a str,
    pub remote_id: &'a str,
    pub local_ts: &'a str,
    pub remote_ts: &'a str,
    pub proposals: &'a str,
    pub esp_proposals: &'a str,
    pub psk: &'a str,
    pub start_action: &'a str,
    /// Extra lines in the connection section.
    pub extra: &'a str,
    /// Extra lines in the child section.
    pub child_extra: &'a str,
    /// Extra lines in the `vtid { }` section.
    pub vtid_extra: &'a str,
}

impl Default for Conn<'_> {
    fn default() -> Self {
        Conn {
            name: "lab",
            port: 500,
            port_nat_t: 4500,
            local_addrs: "%any",
            remote_addrs: "%any",
            remote_port: 500,
            local_id: "moon.example.org",
            remote_id: "sun.example.org",
            local_ts: "10.1.0.0/24",
            remote_ts: "10.2.0.0/24",
            proposals: "aes128gcm16-prfsha256-ecp256",
            esp_proposals: "aes128gcm16",
            psk: "vtid-interop-lab-psk-not-secret",
            start_action: "none",
            extra: "",
            child_extra: "",
            vtid_extra: "",
        }
    }
}

impl Conn<'_> {
    pub fn render(&self) -> String {
        format!(
            "vtid {{\n  port = {port}\n  port_nat_t = {natt}\n  retransmit_timeout = 1\n  retransmit_tries = 2\n  {vx}\n}}\n\
             connections {{\n  {name} {{\n    version = 2\n    local_addrs = {la}\n    remote_addrs = {ra}\n    remote_port = {rp}\n\
             \x20   proposals = {prop}\n    {extra}\n    local {{\n      auth = psk\n      id = {lid}\n    }}\n    remote {{\n      auth = psk\n      id = {rid}\n    }}\n\
             \x20   children {{\n      net {{\n        local_ts = {lts}\n        remote_ts = {rts}\n        esp_proposals = {esp}\n        start_action = {sa}\n        {cx}\n      }}\n    }}\n  }}\n}}\n\
             secrets {{\n  ike-{name} {{\n    id-1 = {lid}\n    id-2 = {rid}\n    secret = \"{psk}\"\n  }}\n}}\n",
            port = self.port,
            natt = self.port_nat_t,
            name = self.name,
            la = self.local_addrs,
            ra = self.remote_addrs,
            rp = self.remote_port,
            prop = self.proposals,
            extra = self.extra,
            vx = self.vtid_extra,
            cx = self.child_extra,
            lid = self.local_id,
            rid = self.remote_id,
            lts = self.local_ts,
            rts = self.remote_ts,
            esp = self.esp_proposals,
            sa = self.start_action,
            psk = self.psk,
        )
    }
}
