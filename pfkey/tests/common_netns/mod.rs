//! Shared helper: run one `#[ignore]`d test of this binary inside a fresh,
//! throwaway network namespace (deleted again even when the test fails).
#![allow(dead_code)]

use std::os::unix::fs::MetadataExt;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

static COUNTER: AtomicU32 = AtomicU32::new(0);

struct Netns(String);

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// Re-runs this test binary's ignored test `inner` inside a new namespace
/// named `<prefix>-<pid>-<n>`, with `env` set to the namespace's name so
/// the inner test can check where it runs ([`in_test_netns`]). Fails (not
/// skips) without root: CI runs as root.
pub fn run_in_netns(env: &str, prefix: &str, inner: &str) {
    assert!(
        nix::unistd::geteuid().is_root(),
        "{inner} creates a network namespace: run it as root (CI does)"
    );
    let name = format!(
        "{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let st = Command::new("ip")
        .args(["netns", "add", &name])
        .status()
        .expect("ip netns add (iproute2 installed?)");
    assert!(st.success(), "ip netns add {name} failed");
    let _guard = Netns(name.clone());
    let out = Command::new("ip")
        .args(["netns", "exec", &name])
        .arg(std::env::current_exe().unwrap())
        .args([
            inner,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(env, &name)
        .output()
        .expect("ip netns exec");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!(
        "--- {inner} in netns {name} ---\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{inner} failed inside netns {name}");
    assert!(
        stdout.contains("1 passed"),
        "{inner} did not run inside netns {name}"
    );
}

/// True only inside the namespace [`run_in_netns`] started this process
/// in, so an inner test run by hand never touches the host's tables.
pub fn in_test_netns(env: &str) -> bool {
    let Ok(name) = std::env::var(env) else {
        println!("not inside a test namespace: run through the outer tests");
        return false;
    };
    let me = std::fs::metadata("/proc/self/ns/net").map(|m| (m.dev(), m.ino()));
    let ns = std::fs::metadata(format!("/run/netns/{name}")).map(|m| (m.dev(), m.ino()));
    match (me, ns) {
        (Ok(a), Ok(b)) if a == b => true,
        _ => {
            println!("refusing to run: this process is not in netns {name}");
            false
        }
    }
}
