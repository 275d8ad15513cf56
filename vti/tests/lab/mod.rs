//! A two-gateway lab in network namespaces for the data-plane tests.
//!
//! ```text
//!  hl (10.1.0.2) -- gl [ipsec7 10.6.106.1] -- wan 192.0.2.1 --- inet --- 198.51.100.2 wan -- gr [ipsec7 10.6.106.2] -- hr (10.2.0.2)
//!                                             2001:db8:a::1   (router)   2001:db8:b::2
//! ```
//!
//! Each gateway runs one `vti::dataplane::Dataplane`, created from a
//! thread that entered the gateway's namespace with `setns` (the TUNs,
//! sockets and the netlink socket keep that namespace). The peer is off
//! link (behind the router `inet`), so a default route into the VTI really
//! would swallow the ESP packets without the bypass. Namespaces are
//! deleted on drop, also when a test panics.
#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use ike::engine::Ts;
use pfkey::backend::{Auth, ChildSpec, Cipher, Limits, SaKeys, SaOp, TsRange};
use vti::dataplane::{Dataplane, DataplaneConfig, DataplaneEvent};
use zeroize::Zeroizing;

/// Fail (not skip) without root.
pub fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the vti data-plane tests need root: they create network namespaces, veth pairs and TUN \
         devices (run `cargo test -p vti` as root)"
    );
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Run a command, bounded by `timeout`, and return its output.
pub fn run(args: &[&str]) -> Output {
    let mut cmd = Command::new("timeout");
    cmd.arg("20").args(args);
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"))
}

/// Run a command that must succeed.
pub fn must(args: &[&str]) -> String {
    let o = run(args);
    assert!(
        o.status.success(),
        "{args:?} failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A network namespace, deleted on drop.
#[derive(Debug)]
pub struct Ns {
    pub name: String,
}

impl Ns {
    pub fn new(name: String) -> Ns {
        let _ = run(&["ip", "netns", "del", &name]);
        must(&["ip", "netns", "add", &name]);
        let ns = Ns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// `ip -n NS args...`, must succeed.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut v = vec!["ip", "-n", &self.name];
        v.extend_from_slice(args);
        must(&v)
    }

    /// Run a command in the namespace (bounded).
    pub fn exec(&self, args: &[&str]) -> Output {
        let mut v = vec!["ip", "netns", "exec", &self.name];
        v.extend_from_slice(args);
        run(&v)
    }

    /// Spawn a background command in the namespace (killed by the caller).
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn")
    }

    pub fn sysctl(&self, kv: &str) {
        let o = self.exec(&["sysctl", "-q", "-w", kv]);
        assert!(o.status.success(), "sysctl {kv}: {o:?}");
    }

    /// Ping (bounded); returns (success, output).
    pub fn ping(&self, extra: &[&str], dst: &str) -> (bool, String) {
        let mut v = vec!["ping", "-n", "-c", "3", "-i", "0.2", "-W", "2"];
        v.extend_from_slice(extra);
        v.push(dst);
        let o = self.exec(&v);
        (
            o.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ),
        )
    }

    pub fn must_ping(&self, extra: &[&str], dst: &str) {
        let (ok, out) = self.ping(extra, dst);
        assert!(ok, "ping {dst} from {} failed:\n{out}", self.name);
    }

    /// Start a data plane inside this namespace.
    pub fn dataplane(&self, cfg: DataplaneConfig) -> (Dataplane, Events) {
        let (tx, rx) = mpsc::channel();
        let tx = Mutex::new(tx);
        let sink: vti::dataplane::Sink = Arc::new(move |e| {
            let _ = tx.lock().unwrap().send(e);
        });
        let path = format!("/run/netns/{}", self.name);
        let dp = std::thread::spawn(move || {
            let f = std::fs::File::open(&path).expect("netns file");
            nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
            Dataplane::start(cfg, sink)
        })
        .join()
        .expect("data plane thread")
        .expect("data plane start");
        (dp, Events(rx))
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = run(&["ip", "netns", "del", &self.name]);
    }
}

/// The data plane's events.
#[derive(Debug)]
pub struct Events(pub mpsc::Receiver<DataplaneEvent>);

impl Events {
    pub fn drain(&self) -> Vec<DataplaneEvent> {
        self.0.try_iter().collect()
    }
}

/// The lab: hosts, gateways and the router between them.
#[derive(Debug)]
pub struct Lab {
    pub hl: Ns,
    pub gl: Ns,
    pub inet: Ns,
    pub gr: Ns,
    pub hr: Ns,
}

pub const GL_WAN: &str = "192.0.2.1";
pub const GR_WAN: &str = "198.51.100.2";
pub const GL_WAN6: &str = "2001:db8:a::1";
pub const GR_WAN6: &str = "2001:db8:b::2";

impl Lab {
    /// Build the namespaces; `wan_mtu` on the gateway–router links.
    pub fn new(tag: &str, wan_mtu: u32) -> Lab {
        require_root();
        let id = format!(
            "vti{}{}{}",
            tag,
            std::process::id() % 100000,
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let mk = |role: &str| Ns::new(format!("{id}-{role}"));
        let lab = Lab {
            hl: mk("hl"),
            gl: mk("gl"),
            inet: mk("inet"),
            gr: mk("gr"),
            hr: mk("hr"),
        };
        let mtu = wan_mtu.to_string();
        // Links, created inside the namespaces (no names in the root one).
        let link = |a: &Ns, an: &str, b: &Ns, bn: &str| {
            a.ip(&[
                "link", "add", an, "type", "veth", "peer", "name", bn, "netns", &b.name,
            ]);
        };
        link(&lab.hl, "eth0", &lab.gl, "lan");
        link(&lab.gl, "wan", &lab.inet, "left");
        link(&lab.inet, "right", &lab.gr, "wan");
        link(&lab.gr, "lan", &lab.hr, "eth0");
        for (ns, dev) in [
            (&lab.gl, "wan"),
            (&lab.inet, "left"),
            (&lab.inet, "right"),
            (&lab.gr, "wan"),
        ] {
            ns.ip(&["link", "set", dev, "mtu", &mtu]);
        }
        for ns in [&lab.gl, &lab.inet, &lab.gr] {
            ns.sysctl("net.ipv4.ip_forward=1");
            ns.sysctl("net.ipv6.conf.all.forwarding=1");
        }
        for ns in [&lab.hl, &lab.gl, &lab.inet, &lab.gr, &lab.hr] {
            ns.sysctl("net.ipv6.conf.all.accept_dad=0");
            ns.sysctl("net.ipv6.conf.default.accept_dad=0");
        }
        let addr = |ns: &Ns, dev: &str, a: &str| {
            ns.ip(&["addr", "add", a, "dev", dev, "nodad"]);
        };
        let addr4 = |ns: &Ns, dev: &str, a: &str| {
            ns.ip(&["addr", "add", a, "dev", dev]);
        };
        addr4(&lab.hl, "eth0", "10.1.0.2/24");
        addr4(&lab.gl, "lan", "10.1.0.1/24");
        addr4(&lab.gl, "wan", "192.0.2.1/24");
        addr4(&lab.inet, "left", "192.0.2.254/24");
        addr4(&lab.inet, "right", "198.51.100.254/24");
        addr4(&lab.gr, "wan", "198.51.100.2/24");
        addr4(&lab.gr, "lan", "10.2.0.1/24");
        addr4(&lab.hr, "eth0", "10.2.0.2/24");
        addr(&lab.hl, "eth0", "2001:db8:1::2/64");
        addr(&lab.gl, "lan", "2001:db8:1::1/64");
        addr(&lab.gl, "wan", "2001:db8:a::1/64");
        addr(&lab.inet, "left", "2001:db8:a::fe/64");
        addr(&lab.inet, "right", "2001:db8:b::fe/64");
        addr(&lab.gr, "wan", "2001:db8:b::2/64");
        addr(&lab.gr, "lan", "2001:db8:2::1/64");
        addr(&lab.hr, "eth0", "2001:db8:2::2/64");
        for (ns, devs) in [
            (&lab.hl, &["eth0"][..]),
            (&lab.gl, &["lan", "wan"][..]),
            (&lab.inet, &["left", "right"][..]),
            (&lab.gr, &["lan", "wan"][..]),
            (&lab.hr, &["eth0"][..]),
        ] {
            for d in devs {
                ns.ip(&["link", "set", d, "up"]);
            }
        }
        lab.hl.ip(&["route", "add", "default", "via", "10.1.0.1"]);
        lab.hl
            .ip(&["-6", "route", "add", "default", "via", "2001:db8:1::1"]);
        lab.hr.ip(&["route", "add", "default", "via", "10.2.0.1"]);
        lab.hr
            .ip(&["-6", "route", "add", "default", "via", "2001:db8:2::1"]);
        lab.gl
            .ip(&["route", "add", "default", "via", "192.0.2.254"]);
        lab.gl
            .ip(&["-6", "route", "add", "default", "via", "2001:db8:a::fe"]);
        lab.gr
            .ip(&["route", "add", "default", "via", "198.51.100.254"]);
        lab.gr
            .ip(&["-6", "route", "add", "default", "via", "2001:db8:b::fe"]);
        // The underlay works before any tunnel.
        lab.gl.must_ping(&["-c", "1"], GR_WAN);
        lab
    }
}

fn net(s: &str) -> config::IpNet {
    config::IpNet::parse(s, false).unwrap()
}

/// A routed interface's configuration.
pub fn interface(
    name: &str,
    reqid: u32,
    local: &[&str],
    remote: &[&str],
    routes: &[&str],
) -> config::Interface {
    config::Interface {
        name: name.into(),
        reqid,
        local_addrs: local.iter().map(|s| net(s)).collect(),
        remote_addrs: remote.iter().map(|s| s.parse().unwrap()).collect(),
        routes: routes.iter().map(|s| net(s)).collect(),
        mtu: 1400,
        monitor: config::Monitor::Gateway,
        monitor_interval: Duration::from_secs(10),
        mss_clamp: false,
        route_metric: 1,
        description: None,
        location: None,
    }
}

/// Left's and right's data-plane configurations with routed `ipsec7`.
pub fn configs(left_routes: &[&str], right_routes: &[&str]) -> (DataplaneConfig, DataplaneConfig) {
    let l = DataplaneConfig {
        interfaces: vec![interface(
            "ipsec7",
            7,
            &["10.6.106.1/30", "2001:db8:6::1/64"],
            &["10.6.106.2", "2001:db8:6::2"],
            left_routes,
        )],
        ..DataplaneConfig::default()
    };
    let r = DataplaneConfig {
        interfaces: vec![interface(
            "ipsec7",
            7,
            &["10.6.106.2/30", "2001:db8:6::2/64"],
            &["10.6.106.1", "2001:db8:6::1"],
            right_routes,
        )],
        ..DataplaneConfig::default()
    };
    (l, r)
}

/// The ESP transforms the tests use.
#[derive(Debug, Clone, Copy)]
pub enum Alg {
    Gcm128,
    Cbc256Sha256,
    ChaCha,
}

fn keys(alg: Alg, spi: u32) -> SaKeys {
    let seed = spi as u8;
    let bytes = |n: usize, k: u8| -> Zeroizing<Vec<u8>> {
        Zeroizing::new(
            (0..n)
                .map(|i| (i as u8).wrapping_mul(7) ^ seed ^ k)
                .collect(),
        )
    };
    match alg {
        Alg::Gcm128 => SaKeys {
            spi,
            cipher: Cipher::AesGcm16 { key_bits: 128 },
            auth: None,
            enc_key: bytes(20, 0x11),
            auth_key: Zeroizing::new(Vec::new()),
        },
        Alg::ChaCha => SaKeys {
            spi,
            cipher: Cipher::ChaCha20Poly1305,
            auth: None,
            enc_key: bytes(36, 0x44),
            auth_key: Zeroizing::new(Vec::new()),
        },
        Alg::Cbc256Sha256 => SaKeys {
            spi,
            cipher: Cipher::AesCbc { key_bits: 256 },
            auth: Some(Auth::HmacSha256_128),
            enc_key: bytes(32, 0x22),
            auth_key: bytes(32, 0x33),
        },
    }
}

/// A selector as the data plane takes it.
fn range(t: &Ts) -> TsRange {
    TsRange {
        proto: t.proto,
        start_port: t.start_port,
        end_port: t.end_port,
        start: t.start,
        end: t.end,
    }
}

/// Traffic selectors from prefixes ("0.0.0.0/0", "10.1.0.0/24", ...).
pub fn ts(list: &[&str]) -> Vec<Ts> {
    list.iter()
        .map(|s| {
            let n = net(s);
            Ts::subnet(n.addr, n.prefix)
        })
        .collect()
}

pub fn any_ts() -> Vec<Ts> {
    vec![Ts::any(true), Ts::any(false)]
}

/// What one CHILD SA looks like from both ends.
#[derive(Debug, Clone)]
pub struct Child {
    pub reqid: u32,
    pub alg: Alg,
    /// SPI of left→right packets (right's inbound).
    pub spi_lr: u32,
    /// SPI of right→left packets (left's inbound).
    pub spi_rl: u32,
    /// Left's selectors (left's local, right's remote).
    pub left_ts: Vec<Ts>,
    /// Right's selectors.
    pub right_ts: Vec<Ts>,
    /// ESP in UDP (else plain ESP).
    pub encap: bool,
    /// `if_id_in`/`if_id_out` (0: none).
    pub if_id: (u32, u32),
}

impl Child {
    pub fn routed(reqid: u32, alg: Alg, spi_lr: u32, spi_rl: u32) -> Child {
        Child {
            reqid,
            alg,
            spi_lr,
            spi_rl,
            left_ts: any_ts(),
            right_ts: any_ts(),
            encap: true,
            if_id: (0, 0),
        }
    }

    fn install(&self, left: bool) -> ChildSpec {
        let port = if self.encap { 4500 } else { 500 };
        let l: SocketAddr = (GL_WAN.parse::<IpAddr>().unwrap(), port).into();
        let r: SocketAddr = (GR_WAN.parse::<IpAddr>().unwrap(), port).into();
        let (local, remote, spi_in, spi_out, lts, rts) = if left {
            (
                l,
                r,
                self.spi_rl,
                self.spi_lr,
                &self.left_ts,
                &self.right_ts,
            )
        } else {
            (
                r,
                l,
                self.spi_lr,
                self.spi_rl,
                &self.right_ts,
                &self.left_ts,
            )
        };
        ChildSpec {
            reqid: self.reqid,
            local,
            remote,
            encap: self.encap,
            tunnel: true,
            esn: false,
            replay_window: 64,
            inbound: keys(self.alg, spi_in),
            outbound: keys(self.alg, spi_out),
            local_ts: lts.iter().map(range).collect(),
            remote_ts: rts.iter().map(range).collect(),
            limits: Limits::default(),
            routed: false,
            if_id: self.if_id,
            selector_limit: 0,
        }
    }

    /// Left's install.
    pub fn left(&self, active: bool) -> SaOp {
        SaOp::Install {
            spec: Box::new(self.install(true)),
            outbound_active: active,
        }
    }

    /// Right's install.
    pub fn right(&self, active: bool) -> SaOp {
        SaOp::Install {
            spec: Box::new(self.install(false)),
            outbound_active: active,
        }
    }

    /// `action` (an install) with its local and/or remote address
    /// replaced (ports kept): a secondary address, another family.
    pub fn with_addrs(mut action: SaOp, local: Option<&str>, remote: Option<&str>) -> SaOp {
        if let SaOp::Install { spec: ci, .. } = &mut action {
            if let Some(l) = local {
                ci.local.set_ip(l.parse().unwrap());
            }
            if let Some(r) = remote {
                ci.remote.set_ip(r.parse().unwrap());
            }
        }
        action
    }

    pub fn delete_left(&self) -> SaOp {
        SaOp::Delete {
            reqid: self.reqid,
            spi_in: self.spi_rl,
            spi_out: self.spi_lr,
        }
    }

    pub fn delete_right(&self) -> SaOp {
        SaOp::Delete {
            reqid: self.reqid,
            spi_in: self.spi_lr,
            spi_out: self.spi_rl,
        }
    }
}
