//! Network-namespace labs for interop tests: namespaces, veth links, LAN
//! hosts behind gateways, a NAT box, processes inside them, and cleanup that
//! happens even when a test panics.
//!
//! Everything here shells out to the ordinary tools (`ip`, `sysctl`,
//! `iptables`, `ping`, `kill`) and needs root (CAP_SYS_ADMIN + CAP_NET_ADMIN);
//! [`Lab::new`] fails with a clear message otherwise. Every command and every
//! wait is bounded by a timeout.
//!
//! ```no_run
//! use std::time::Duration;
//! use vtid_tests::netns::Lab;
//!
//! let mut lab = Lab::new("example").unwrap();
//! let moon = lab.add_ns("moon").unwrap();
//! let sun = lab.add_ns("sun").unwrap();
//! lab.veth((&moon, "wan", &["192.0.2.1/24", "2001:db8::1/64"]),
//!          (&sun, "wan", &["192.0.2.2/24", "2001:db8::2/64"])).unwrap();
//! moon.add_addr("lo", "10.1.0.1/32").unwrap();
//! let r = moon.ping("192.0.2.2").count(2).run().unwrap();
//! assert!(r.all_received(), "{r:?}");
//! // dropping `lab` kills what runs in its namespaces and deletes them
//! ```
//!
//! Names: every namespace is called `vtidlab<pid>x<n>-<label>` where `<pid>`
//! is the test process and `<n>` a per-process counter, so parallel tests
//! and parallel `cargo test` runs never collide. Interface names are chosen
//! by the caller, are per namespace (veths are created directly inside
//! their namespaces) and must fit IFNAMSIZ (15 bytes). [`reap_stale`]
//! removes namespaces of this prefix whose owning process is gone (a test
//! binary that was SIGKILLed cannot run its destructors); [`Lab::new`] calls
//! it once per process.

use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Once;
use std::thread;
use std::time::{Duration, Instant};

/// Prefix of every namespace (and work directory) a [`Lab`] creates.
pub const PREFIX: &str = "vtidlab";

/// Default bound for one command run with [`Ns::exec`] and friends.
pub const CMD_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest interface name Linux accepts (IFNAMSIZ - 1).
pub const IFNAME_MAX: usize = 15;

/// Errors of the harness: what failed, with the command's output.
#[derive(Debug)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error(e.to_string())
    }
}

/// Result of the harness.
pub type Result<T> = std::result::Result<T, Error>;

fn err<T>(msg: impl Into<String>) -> Result<T> {
    Err(Error(msg.into()))
}

// ------------------------------------------------------------- commands

/// What a finished command printed, and how it exited.
#[derive(Debug, Clone)]
pub struct Output {
    /// The command line, for messages.
    pub cmdline: String,
    /// Exit status.
    pub status: ExitStatus,
    /// Standard output (lossy UTF-8).
    pub stdout: String,
    /// Standard error (lossy UTF-8).
    pub stderr: String,
}

impl Output {
    /// Did it exit with status 0?
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// `Ok(stdout)` if it succeeded, else an error with both outputs.
    pub fn ok(self) -> Result<String> {
        if self.success() {
            Ok(self.stdout)
        } else {
            err(format!(
                "`{}` failed ({}):\n--- stdout\n{}--- stderr\n{}",
                self.cmdline, self.status, self.stdout, self.stderr
            ))
        }
    }
}

fn cmdline(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Runs `cmd` to completion with a bound: after `timeout` it is killed
/// (SIGKILL) and an error is returned. Standard input is /dev/null.
pub fn run_cmd(cmd: &mut Command, timeout: Duration) -> Result<Output> {
    let line = cmdline(cmd);
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error(format!("cannot run `{line}`: {e}")))?;
    let reader = |r: Option<Box<dyn Read + Send>>| {
        thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = reader(child.stdout.take().map(|r| Box::new(r) as _));
    let errs = reader(child.stderr.take().map(|r| Box::new(r) as _));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(st) = child.try_wait()? {
            break st;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return err(format!("`{line}` timed out after {timeout:?}"));
        }
        thread::sleep(Duration::from_millis(5));
    };
    Ok(Output {
        cmdline: line,
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: errs.join().unwrap_or_default(),
    })
}

/// Runs a host command (not in a namespace) with [`CMD_TIMEOUT`]; `Ok(stdout)`
/// if it exits 0.
pub fn host(args: &[&str]) -> Result<String> {
    let (prog, rest) = args.split_first().expect("empty command");
    run_cmd(Command::new(prog).args(rest), CMD_TIMEOUT)?.ok()
}

/// Polls `cond` every 50 ms until it returns true; fails with `what` after
/// `timeout`. `cond` runs at least once, also with a zero timeout.
pub fn wait_until(timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return err(format!("timed out after {timeout:?} waiting for {what}"));
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// Is this process root (effective uid 0)? Read from /proc, no libc.
pub fn is_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// Fails with a clear message unless we are root and `tools` are on PATH.
pub fn require_root_and_tools(tools: &[&str]) -> Result<()> {
    if !is_root() {
        return err(
            "this is a network-namespace test: it needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN) \
             to create namespaces, veths and TUN devices. Run `cargo test` as root \
             (CI does); it fails rather than silently passing.",
        );
    }
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| which(t).is_none())
        .collect();
    if !missing.is_empty() {
        return err(format!(
            "missing tools: {} (install the Debian packages in interop/deps.txt: `interop/deps`)",
            missing.join(", ")
        ));
    }
    Ok(())
}

/// Finds `prog` on PATH (or as a path).
pub fn which(prog: &str) -> Option<PathBuf> {
    if prog.contains('/') {
        let p = PathBuf::from(prog);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path)
        .map(|d| d.join(prog))
        .find(|p| p.is_file())
}

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Sends `signal` (e.g. "TERM", "KILL") to `pid` with kill(1).
pub fn signal(pid: u32, signal: &str) -> Result<()> {
    run_cmd(
        Command::new("kill").args([&format!("-{signal}"), &pid.to_string()]),
        Duration::from_secs(5),
    )?
    .ok()
    .map(drop)
}

// ------------------------------------------------------------- processes

/// A long-running process started by the harness (usually in a namespace).
/// Dropping it stops it: SIGTERM, then SIGKILL after a grace period, then
/// reaps it, so it never outlives the test.
#[derive(Debug)]
pub struct Proc {
    label: String,
    child: Option<Child>,
    log: PathBuf,
}

impl Proc {
    /// Process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// The file that receives its stdout and stderr.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Its output so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `Some(status)` once it has exited.
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>> {
        match self.child.as_mut() {
            Some(c) => Ok(c.try_wait()?),
            None => err(format!("{} already stopped", self.label)),
        }
    }

    /// Still running?
    pub fn is_running(&mut self) -> bool {
        matches!(self.try_wait(), Ok(None))
    }

    /// SIGTERM; SIGKILL if it has not exited after `grace`; reaps it.
    /// Idempotent.
    pub fn stop(&mut self, grace: Duration) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        if let Ok(Some(st)) = child.try_wait() {
            return Some(st);
        }
        let _ = signal(child.id(), "TERM");
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(st)) = child.try_wait() {
                return Some(st);
            }
            thread::sleep(Duration::from_millis(20));
        }
        eprintln!(
            "[netns] {} (pid {}) ignored SIGTERM for {grace:?}, killing",
            self.label,
            child.id()
        );
        let _ = child.kill();
        child.wait().ok()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(3));
    }
}

// ------------------------------------------------------------- namespaces

/// A network namespace (by name). Cheap to clone; does not own the
/// namespace: the [`Lab`] that made it deletes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ns {
    name: String,
    label: String,
    workdir: PathBuf,
}

impl Ns {
    /// The full namespace name (for `ip netns exec NAME`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The short label given to [`Lab::add_ns`].
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The lab's scratch directory (shared by all its namespaces).
    pub fn workdir(&self) -> &Path {
        &self.workdir
    }

    /// A `Command` for `args` inside this namespace (`ip netns exec`).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).args(args);
        c
    }

    /// Runs `args` in the namespace with `timeout`, whatever its exit code.
    pub fn exec_output(&self, args: &[&str], timeout: Duration) -> Result<Output> {
        run_cmd(&mut self.command(args), timeout)
    }

    /// Runs `args` in the namespace ([`CMD_TIMEOUT`]); `Ok(stdout)` on exit 0.
    pub fn exec(&self, args: &[&str]) -> Result<String> {
        self.exec_output(args, CMD_TIMEOUT)?.ok()
    }

    /// Runs `ip -n NS args` (no fork into the namespace needed).
    pub fn ip(&self, args: &[&str]) -> Result<String> {
        let mut c = Command::new("ip");
        c.args(["-n", &self.name]).args(args);
        run_cmd(&mut c, CMD_TIMEOUT)?.ok()
    }

    /// Sets sysctls (`key=value` each) in the namespace.
    pub fn sysctl(&self, settings: &[&str]) -> Result<()> {
        let mut args = vec!["sysctl", "-qw"];
        args.extend_from_slice(settings);
        self.exec(&args).map(drop)
    }

    /// Turns IPv4 and IPv6 forwarding on (or off).
    pub fn set_forwarding(&self, on: bool) -> Result<()> {
        let v = if on { "1" } else { "0" };
        self.sysctl(&[
            &format!("net.ipv4.ip_forward={v}"),
            &format!("net.ipv6.conf.all.forwarding={v}"),
        ])
    }

    /// Adds `cidr` (IPv4 or IPv6) to `dev`; IPv6 addresses are `nodad`, so
    /// usable at once.
    pub fn add_addr(&self, dev: &str, cidr: &str) -> Result<()> {
        let mut args = vec!["addr", "add", cidr, "dev", dev];
        if cidr.contains(':') {
            args.push("nodad");
        }
        self.ip(&args).map(drop)
    }

    /// Adds a route to `dst` (CIDR or "default") via `gateway`.
    pub fn add_route(&self, dst: &str, gateway: &str) -> Result<()> {
        let fam = if gateway.contains(':') { "-6" } else { "-4" };
        self.ip(&[fam, "route", "add", dst, "via", gateway])
            .map(drop)
    }

    /// Default route via `gateway` (IPv4 or IPv6).
    pub fn default_route(&self, gateway: &str) -> Result<()> {
        self.add_route("default", gateway)
    }

    /// Source-NAT everything leaving through `out_if` to that interface's
    /// address with random ports (`MASQUERADE --random`), for IPv4 and,
    /// when `ipv6` is set, IPv6.
    pub fn masquerade(&self, out_if: &str, ipv6: bool) -> Result<()> {
        let rule = [
            "-t",
            "nat",
            "-A",
            "POSTROUTING",
            "-o",
            out_if,
            "-j",
            "MASQUERADE",
            "--random",
        ];
        let mut v4 = vec!["iptables"];
        v4.extend_from_slice(&rule);
        self.exec(&v4)?;
        if ipv6 {
            let mut v6 = vec!["ip6tables"];
            v6.extend_from_slice(&rule);
            self.exec(&v6)?;
        }
        Ok(())
    }

    /// Starts `args` in the namespace as a child process, output to
    /// `<workdir>/<label>-<log_name>.log`. It is stopped when the returned
    /// [`Proc`] is dropped (and killed when the lab is dropped, at the latest).
    pub fn spawn(&self, log_name: &str, args: &[&str]) -> Result<Proc> {
        let log = self.workdir.join(format!("{}-{log_name}.log", self.label));
        let out = fs::File::create(&log)?;
        let mut cmd = self.command(args);
        cmd.stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
        self.spawn_command(&format!("{log_name} in {}", self.name), cmd, log)
    }

    /// Spawns a prepared command (stdio already set) as a [`Proc`].
    pub fn spawn_command(&self, label: &str, mut cmd: Command, log: PathBuf) -> Result<Proc> {
        let line = cmdline(&cmd);
        let child = cmd
            .spawn()
            .map_err(|e| Error(format!("cannot start `{line}`: {e}")))?;
        Ok(Proc {
            label: label.to_string(),
            child: Some(child),
            log,
        })
    }

    /// Pids of all processes whose network namespace this is.
    pub fn pids(&self) -> Vec<u32> {
        Self::pids_of(&self.name)
    }

    /// Pids of all processes in the named namespace (`ip netns pids`).
    pub fn pids_of(name: &str) -> Vec<u32> {
        run_cmd(
            Command::new("ip").args(["netns", "pids", name]),
            CMD_TIMEOUT,
        )
        .map(|o| {
            o.stdout
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
    }

    /// A ping from this namespace to `dst` (IPv4 or IPv6), to configure and
    /// [`run`](Ping::run).
    pub fn ping(&self, dst: &str) -> Ping {
        Ping {
            ns: self.clone(),
            dst: dst.to_string(),
            src: None,
            count: 3,
            interval: 0.2,
            size: None,
            dont_fragment: false,
            deadline: Duration::from_secs(5),
        }
    }
}

impl Ns {
    /// Forgets every NAT mapping of this (NAT) namespace, so the next
    /// packet from the inside gets a new random source port: `conntrack -F`
    /// when the tool is installed, else the entries are left to expire
    /// (UDP conntrack timeouts set to 1 s, taken over by each entry at its
    /// next packet - so this needs traffic on the mappings, such as NAT
    /// keepalives - then the raw table drops everything arriving, so
    /// nothing refreshes them, until they are gone). Returns how it was
    /// done. `VTID_NO_CONNTRACK=1` forces the second way (to test it).
    pub fn nat_remap(&self) -> Result<&'static str> {
        let forced = std::env::var("VTID_NO_CONNTRACK").is_ok_and(|v| v == "1");
        if which("conntrack").is_some() && !forced {
            // exit status 0 also when the table was empty
            self.exec(&["conntrack", "-F"])?;
            return Ok("conntrack -F");
        }
        let keys = [
            "net.netfilter.nf_conntrack_udp_timeout",
            "net.netfilter.nf_conntrack_udp_timeout_stream",
        ];
        let old: Vec<String> = keys
            .iter()
            .map(|k| {
                self.exec(&["sysctl", "-n", k])
                    .map(|v| v.trim().to_string())
            })
            .collect::<Result<_>>()?;
        self.sysctl(&[&format!("{}=1", keys[0]), &format!("{}=1", keys[1])])?;
        // an entry takes the new timeout when traffic next refreshes it
        // (NAT keepalives do)
        thread::sleep(Duration::from_millis(1500));
        self.exec(&["iptables", "-t", "raw", "-I", "PREROUTING", "-j", "DROP"])?;
        thread::sleep(Duration::from_millis(2500));
        let r = self.exec(&["iptables", "-t", "raw", "-D", "PREROUTING", "-j", "DROP"]);
        self.sysctl(&[
            &format!("{}={}", keys[0], old[0]),
            &format!("{}={}", keys[1], old[1]),
        ])?;
        r.map(|_| "conntrack entries expired (no conntrack tool)")
    }

    /// Starts `tcpdump` on `iface` in this namespace writing every packet
    /// matching the BPF `filter` to `<workdir>/<label>-<name>.pcap`;
    /// returns once it listens (bounded).
    pub fn capture(&self, iface: &str, filter: &str, name: &str) -> Result<Capture> {
        require_root_and_tools(&["tcpdump"])?;
        let path = self.workdir.join(format!("{}-{name}.pcap", self.label));
        let p = path.to_string_lossy().to_string();
        let proc = self.spawn(
            &format!("tcpdump-{name}"),
            &[
                "tcpdump",
                "-n",
                "-U",
                "--immediate-mode",
                "-i",
                iface,
                "-w",
                &p,
                filter,
            ],
        )?;
        let mut c = Capture { proc, path };
        wait_until(Duration::from_secs(10), "tcpdump listening", || {
            c.proc.log().contains("listening on")
        })
        .map_err(|e| {
            Error(format!(
                "{e}
{}",
                c.proc.log()
            ))
        })?;
        if !c.proc.is_running() {
            return err(format!("tcpdump exited: {}", c.proc.log()));
        }
        Ok(c)
    }
}

impl Ns {
    /// A UDP socket bound to `bind` inside this namespace, for the test
    /// process itself to send from (a helper thread enters the namespace
    /// with setns(2) and binds; the socket stays in that namespace).
    pub fn udp_socket(&self, bind: std::net::SocketAddr) -> Result<std::net::UdpSocket> {
        let path = format!("/run/netns/{}", self.name);
        thread::spawn(move || -> Result<std::net::UdpSocket> {
            let f = fs::File::open(&path)?;
            enter(&f).map_err(|e| Error(format!("setns {path}: {e}")))?;
            Ok(std::net::UdpSocket::bind(bind)?)
        })
        .join()
        .map_err(|_| Error("setns thread panicked".into()))?
    }
}

/// Moves the calling thread into the network namespace `f` (setns(2)).
#[cfg(target_os = "linux")]
pub fn enter(f: &fs::File) -> std::result::Result<(), String> {
    nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWNET).map_err(|e| e.to_string())
}

/// Network namespaces are Linux's: elsewhere entering one fails.
#[cfg(not(target_os = "linux"))]
pub fn enter(_f: &fs::File) -> std::result::Result<(), String> {
    Err("network namespaces exist on Linux only".into())
}

/// A packet capture running in a namespace ([`Ns::capture`]).
#[derive(Debug)]
pub struct Capture {
    proc: Proc,
    path: PathBuf,
}

impl Capture {
    /// The pcap file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops tcpdump (it flushes the file). Idempotent.
    pub fn stop(&mut self) {
        self.proc.stop(Duration::from_secs(3));
    }

    /// The packets captured so far that match the BPF `filter`, one
    /// `tcpdump -n -r` line each (the capture may still run: `-U` writes
    /// every packet at once).
    pub fn lines(&self, filter: &str) -> Result<Vec<String>> {
        let p = self.path.to_string_lossy().to_string();
        let mut cmd = Command::new("tcpdump");
        cmd.args(["-n", "-r", &p, filter]);
        let out = run_cmd(&mut cmd, CMD_TIMEOUT)?.ok()?;
        Ok(out.lines().map(str::to_string).collect())
    }
}

/// A ping to run, see [`Ns::ping`]. Defaults: 3 packets, 0.2 s apart, no
/// size, fragmentation allowed, 5 s deadline.
#[derive(Debug, Clone)]
pub struct Ping {
    ns: Ns,
    dst: String,
    src: Option<String>,
    count: u32,
    interval: f64,
    size: Option<u32>,
    dont_fragment: bool,
    deadline: Duration,
}

impl Ping {
    /// Source address or interface (`ping -I`).
    pub fn from(mut self, src: &str) -> Self {
        self.src = Some(src.to_string());
        self
    }
    /// Number of echo requests (`-c`).
    pub fn count(mut self, n: u32) -> Self {
        self.count = n;
        self
    }
    /// Seconds between requests (`-i`, root may go below 0.2).
    pub fn interval(mut self, secs: f64) -> Self {
        self.interval = secs;
        self
    }
    /// ICMP payload size (`-s`).
    pub fn size(mut self, bytes: u32) -> Self {
        self.size = Some(bytes);
        self
    }
    /// Set DF and never fragment locally (`-M do`): for path MTU tests.
    pub fn dont_fragment(mut self) -> Self {
        self.dont_fragment = true;
        self
    }
    /// Overall bound (`-w`, whole seconds, at least 1).
    pub fn deadline(mut self, d: Duration) -> Self {
        self.deadline = d;
        self
    }

    /// Runs it. `Ok` whatever got through (see [`PingReport`]); `Err` only
    /// if ping could not run or hung.
    pub fn run(self) -> Result<PingReport> {
        let count = self.count.to_string();
        let interval = format!("{}", self.interval);
        let w = self.deadline.as_secs().max(1).to_string();
        let mut args = vec!["ping", "-n", "-c", &count, "-i", &interval, "-w", &w];
        let size;
        if let Some(s) = self.size {
            size = s.to_string();
            args.extend_from_slice(&["-s", &size]);
        }
        if self.dont_fragment {
            args.extend_from_slice(&["-M", "do"]);
        }
        if let Some(src) = &self.src {
            args.extend_from_slice(&["-I", src]);
        }
        if self.dst.contains(':') {
            args.push("-6");
        }
        args.push(&self.dst);
        let out = self
            .ns
            .exec_output(&args, self.deadline + Duration::from_secs(5))?;
        Ok(PingReport::parse(out))
    }
}

/// What a ping saw.
#[derive(Debug, Clone)]
pub struct PingReport {
    /// Echo requests sent.
    pub transmitted: u32,
    /// Echo replies received.
    pub received: u32,
    /// TTL (hop limit) of the first reply.
    pub ttl: Option<u8>,
    /// MTU announced by an ICMP "fragmentation needed"/"packet too big", or
    /// by a local "message too long" error.
    pub mtu: Option<u32>,
    /// The raw ping output.
    pub output: Output,
}

impl PingReport {
    fn parse(output: Output) -> PingReport {
        let all = format!("{}\n{}", output.stdout, output.stderr);
        let num_before = |s: &str, word: &str| -> Option<u32> {
            let i = s.find(word)?;
            s[..i].split_whitespace().last()?.parse().ok()
        };
        let mut transmitted = 0;
        let mut received = 0;
        let mut ttl = None;
        let mut mtu = None;
        for line in all.lines() {
            if line.contains("packets transmitted") {
                transmitted = num_before(line, "packets transmitted").unwrap_or(0);
                received = num_before(line, "received").unwrap_or(0);
            }
            if ttl.is_none() {
                if let Some(i) = line.find("ttl=") {
                    ttl = line[i + 4..]
                        .split_whitespace()
                        .next()
                        .and_then(|t| t.parse().ok());
                }
            }
            if mtu.is_none() {
                // "Frag needed and DF set (mtu = 1400)", "Packet too big: mtu=1280",
                // "local error: message too long, mtu=1400"
                if let Some(i) = line.find("mtu") {
                    let rest = line[i + 3..].trim_start_matches([' ', '=']);
                    mtu = rest
                        .split(|c: char| !c.is_ascii_digit())
                        .next()
                        .and_then(|t| t.parse().ok());
                }
            }
        }
        PingReport {
            transmitted,
            received,
            ttl,
            mtu,
            output,
        }
    }

    /// Every request got a reply (and at least one was sent).
    pub fn all_received(&self) -> bool {
        self.transmitted > 0 && self.received == self.transmitted
    }
}

// ------------------------------------------------------------- the lab

static LAB_COUNTER: AtomicU32 = AtomicU32::new(0);
static REAP_ONCE: Once = Once::new();

/// A set of namespaces (and the processes in them) for one test. Dropping it
/// kills everything still running in its namespaces and deletes them, also
/// when the test panics; its scratch directory goes too unless
/// `VTID_LAB_KEEP=1`.
#[derive(Debug)]
pub struct Lab {
    id: String,
    workdir: PathBuf,
    namespaces: Vec<Ns>,
    keep: bool,
}

impl Lab {
    /// A new, empty lab. `tag` only names the scratch directory. Fails
    /// (clearly) unless root with `ip`, `sysctl` and `kill` available.
    /// Reaps stale namespaces of dead test processes, once per process.
    pub fn new(tag: &str) -> Result<Lab> {
        require_root_and_tools(&["ip", "sysctl", "kill"])?;
        REAP_ONCE.call_once(|| match reap_stale() {
            Ok(r) if !r.is_empty() => eprintln!("[netns] reaped stale namespaces: {r:?}"),
            Ok(_) => {}
            Err(e) => eprintln!("[netns] reaping stale namespaces failed: {e}"),
        });
        let n = LAB_COUNTER.fetch_add(1, Ordering::Relaxed);
        let id = format!("{PREFIX}{}x{n}", std::process::id());
        let workdir = std::env::temp_dir().join(format!("{id}-{tag}"));
        if workdir.exists() {
            fs::remove_dir_all(&workdir)?;
        }
        fs::create_dir_all(&workdir)?;
        Ok(Lab {
            id,
            workdir,
            namespaces: Vec::new(),
            keep: std::env::var("VTID_LAB_KEEP").is_ok_and(|v| v == "1"),
        })
    }

    /// The lab's unique id (`vtidlab<pid>x<n>`), the prefix of its namespaces.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Scratch directory for logs and configs (outside /run, so it is seen
    /// from private mount namespaces too).
    pub fn workdir(&self) -> &Path {
        &self.workdir
    }

    /// The namespaces made so far, in creation order.
    pub fn namespaces(&self) -> &[Ns] {
        &self.namespaces
    }

    /// Creates namespace `<id>-<label>` with loopback up, IPv6 DAD off
    /// (accept_dad=0), rp_filter off and IPv4/IPv6 forwarding on (every lab
    /// namespace can route; see [`Ns::set_forwarding`]).
    pub fn add_ns(&mut self, label: &str) -> Result<Ns> {
        if label.is_empty() || !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return err(format!("bad namespace label {label:?}"));
        }
        if self.namespaces.iter().any(|n| n.label == label) {
            return err(format!("namespace label {label:?} used twice"));
        }
        let name = format!("{}-{label}", self.id);
        host(&["ip", "netns", "add", &name])?;
        let ns = Ns {
            name,
            label: label.to_string(),
            workdir: self.workdir.clone(),
        };
        // Registered before configuring, so a failure below still cleans up.
        self.namespaces.push(ns.clone());
        ns.ip(&["link", "set", "lo", "up"])?;
        ns.sysctl(&[
            "net.ipv6.conf.all.accept_dad=0",
            "net.ipv6.conf.default.accept_dad=0",
            "net.ipv4.conf.all.rp_filter=0",
            "net.ipv4.conf.default.rp_filter=0",
            "net.ipv4.ip_forward=1",
            "net.ipv6.conf.all.forwarding=1",
        ])?;
        Ok(ns)
    }

    /// A veth pair between two namespaces, each end `(ns, ifname, addrs)`
    /// with its addresses in CIDR notation (IPv4 and/or IPv6, IPv6 nodad),
    /// both ends up.
    pub fn veth(&mut self, a: (&Ns, &str, &[&str]), b: (&Ns, &str, &[&str])) -> Result<()> {
        for ifname in [a.1, b.1] {
            if ifname.is_empty() || ifname.len() > IFNAME_MAX || ifname.contains(['/', ' ']) {
                return err(format!(
                    "bad interface name {ifname:?} (1..={IFNAME_MAX} bytes)"
                ));
            }
        }
        host(&[
            "ip", "link", "add", a.1, "netns", &a.0.name, "type", "veth", "peer", "name", b.1,
            "netns", &b.0.name,
        ])?;
        for (ns, ifname, addrs) in [a, b] {
            ns.ip(&["link", "set", ifname, "up"])?;
            for addr in addrs {
                ns.add_addr(ifname, addr)?;
            }
        }
        Ok(())
    }

    /// A LAN host behind gateway `gw`: a new namespace `label` joined to
    /// `gw` by a veth (`gw_if` on the gateway, `eth0` in the host), with
    /// `gw_addrs` on the gateway side and `host_addrs` on the host, and a
    /// default route in the host via the gateway's first address of each
    /// family. The host does not forward.
    pub fn lan_host(
        &mut self,
        gw: &Ns,
        gw_if: &str,
        gw_addrs: &[&str],
        label: &str,
        host_addrs: &[&str],
    ) -> Result<Ns> {
        let h = self.add_ns(label)?;
        h.set_forwarding(false)?;
        self.veth((gw, gw_if, gw_addrs), (&h, "eth0", host_addrs))?;
        for v6 in [false, true] {
            if let Some(a) = gw_addrs.iter().find(|a| a.contains(':') == v6) {
                h.default_route(a.split('/').next().unwrap_or(a))?;
            }
        }
        Ok(h)
    }

    /// A NAT box `label` between an inside and an outside namespace:
    /// `(inside_ns, inside_if_there, inside_addrs_there)` is joined to the
    /// NAT's `lan` interface (`nat_lan_addrs`), the NAT's `wan` interface
    /// (`nat_wan_addrs`) to `(outside_ns, if, addrs)`, and everything leaving
    /// `wan` is masqueraded with random ports (IPv6 too if it has IPv6
    /// addresses). The inside namespace gets default routes via the NAT.
    pub fn nat(
        &mut self,
        label: &str,
        inside: (&Ns, &str, &[&str]),
        nat_lan_addrs: &[&str],
        nat_wan_addrs: &[&str],
        outside: (&Ns, &str, &[&str]),
    ) -> Result<Ns> {
        require_root_and_tools(&["iptables"])?;
        let nat = self.add_ns(label)?;
        self.veth(inside, (&nat, "lan", nat_lan_addrs))?;
        self.veth((&nat, "wan", nat_wan_addrs), outside)?;
        let v6 = nat_wan_addrs.iter().any(|a| a.contains(':'));
        nat.masquerade("wan", v6)?;
        for v6 in [false, true] {
            if let Some(a) = nat_lan_addrs.iter().find(|a| a.contains(':') == v6) {
                inside.0.default_route(a.split('/').next().unwrap_or(a))?;
            }
        }
        Ok(nat)
    }

    /// Kills everything in the lab's namespaces and deletes them (what Drop
    /// does). Returns the namespaces that could not be deleted.
    pub fn teardown(&mut self) -> Vec<String> {
        let mut failed = Vec::new();
        // Kill first everywhere: a process in one namespace may hold
        // another (e.g. nsenter); veths go with their namespaces.
        for ns in &self.namespaces {
            for pid in ns.pids() {
                let _ = signal(pid, "KILL");
            }
        }
        // SIGKILL is asynchronous: wait (bounded) until they are gone.
        let gone = wait_until(Duration::from_secs(5), "lab processes to die", || {
            self.namespaces.iter().all(|ns| ns.pids().is_empty())
        });
        if let Err(e) = gone {
            eprintln!("[netns] {e}");
        }
        for ns in self.namespaces.drain(..).rev() {
            if delete_netns(&ns.name).is_err() {
                failed.push(ns.name);
            }
        }
        if self.keep || thread::panicking() {
            // logs and configs for the post-mortem; reap_stale removes it
            // once this process is gone
            eprintln!("[netns] keeping {}", self.workdir.display());
        } else {
            let _ = fs::remove_dir_all(&self.workdir);
        }
        failed
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let failed = self.teardown();
        if !failed.is_empty() {
            eprintln!("[netns] could not delete namespaces {failed:?}");
        }
    }
}

/// Deletes a namespace; retries briefly (a process killed a moment ago may
/// still hold it; `ip netns del` only unmounts, so it normally succeeds).
fn delete_netns(name: &str) -> Result<()> {
    let mut last = Ok(());
    for _ in 0..20 {
        last = host(&["ip", "netns", "del", name]).map(drop);
        if last.is_ok() || !netns_exists(name) {
            return Ok(());
        }
        thread::sleep(Duration::from_millis(50));
    }
    last
}

/// Does a named namespace (in /run/netns) exist?
pub fn netns_exists(name: &str) -> bool {
    Path::new("/run/netns").join(name).exists()
}

/// All named namespaces (from /run/netns).
pub fn list_netns() -> Vec<String> {
    fs::read_dir("/run/netns")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The pid encoded in a harness name (`vtidlab<pid>x<n>...`), if it is one.
pub fn owner_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(PREFIX)?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    if !rest[digits.len()..].starts_with('x') {
        return None;
    }
    digits.parse().ok()
}

/// Removes namespaces (and scratch dirs in the temp dir) of this harness
/// whose owning process no longer exists, killing whatever still runs in
/// them. Namespaces of live processes (other tests running now) are left
/// alone. Returns the names of the namespaces deleted.
pub fn reap_stale() -> Result<Vec<String>> {
    let mut reaped = Vec::new();
    for name in list_netns() {
        let Some(pid) = owner_pid(&name) else {
            continue;
        };
        if pid_alive(pid) {
            continue;
        }
        for p in Ns::pids_of(&name) {
            let _ = signal(p, "KILL");
        }
        let _ = wait_until(Duration::from_secs(5), "stale processes to die", || {
            Ns::pids_of(&name).is_empty()
        });
        delete_netns(&name)?;
        reaped.push(name);
    }
    if let Ok(dir) = fs::read_dir(std::env::temp_dir()) {
        for e in dir.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(pid) = owner_pid(&name) {
                if !pid_alive(pid) {
                    let _ = fs::remove_dir_all(e.path());
                }
            }
        }
    }
    Ok(reaped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_pid_parses_only_harness_names() {
        assert_eq!(owner_pid("vtidlab1234x0-moon"), Some(1234));
        assert_eq!(owner_pid("vtidlab1234x17-nat"), Some(1234));
        assert_eq!(owner_pid("vtidlab1234-moon"), None);
        assert_eq!(owner_pid("moon-1234"), None);
        assert_eq!(owner_pid("vtidlabx0"), None);
    }

    #[test]
    fn ping_report_parses_iputils_output() {
        let out = |stdout: &str| Output {
            cmdline: "ping".into(),
            status: ExitStatus::default(),
            stdout: stdout.into(),
            stderr: String::new(),
        };
        let r = PingReport::parse(out(
            "PING 10.2.0.2 (10.2.0.2) from 10.1.0.2 : 56(84) bytes of data.\n\
             64 bytes from 10.2.0.2: icmp_seq=1 ttl=62 time=0.958 ms\n\
             64 bytes from 10.2.0.2: icmp_seq=2 ttl=62 time=0.953 ms\n\n\
             --- 10.2.0.2 ping statistics ---\n\
             2 packets transmitted, 2 received, 0% packet loss, time 200ms\n",
        ));
        assert_eq!(
            (r.transmitted, r.received, r.ttl, r.mtu),
            (2, 2, Some(62), None)
        );
        assert!(r.all_received());
        let r = PingReport::parse(out("PING 10.2.0.2 (10.2.0.2) 1400(1428) bytes of data.\n\
             From 10.1.0.1 icmp_seq=1 Frag needed and DF set (mtu = 1400)\n\n\
             --- 10.2.0.2 ping statistics ---\n\
             1 packets transmitted, 0 received, +1 errors, 100% packet loss, time 0ms\n"));
        assert_eq!((r.transmitted, r.received, r.mtu), (1, 0, Some(1400)));
        assert!(!r.all_received());
    }
}
