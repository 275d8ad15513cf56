//! The routed-IPsec lab for the vtid tests: two LAN hosts, two gateways and
//! a router between them, every one a network namespace.
//!
//! ```text
//!  ha 10.1.0.10        ga (vtid)                 inet (router)               gb (vtid|charon)        hb 10.2.0.10
//!     fd00:1::10 --eth0/lan-- 10.1.0.1 wan 192.0.2.1 ---- .254 | .254 ---- 198.51.100.1 wan  10.2.0.1 --lan/eth0-- fd00:2::10
//!                              ipsec7 10.6.106.1/30 ==== (ESP) ==== ipsec7 10.6.106.2/30
//!                                     fd00:6:106::1/126             fd00:6:106::2/126
//! ```
//!
//! The gateways forward with strict reverse-path filtering; the peer is off
//! link behind the router (so the bypass of vtid's own packets, TTLs and
//! the path MTU are real). Documentation ranges on the "internet", private
//! ranges on the LANs and the transit network, all inside the lab's
//! namespaces.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use vtid_tests::netns::{Lab, Ns, Proc};

use crate::common::{require_root, Vtid};

/// Waits for tunnels to come up and the like.
pub const T: Duration = Duration::from_secs(20);

/// The lab.
#[derive(Debug)]
pub struct Site {
    pub lab: Lab,
    pub ga: Ns,
    pub gb: Ns,
    pub inet: Ns,
    pub ha: Ns,
    pub hb: Ns,
}

pub const GA_WAN: &str = "192.0.2.1";
pub const GB_WAN: &str = "198.51.100.1";
pub const HA: &str = "10.1.0.10";
pub const HB: &str = "10.2.0.10";
pub const HA6: &str = "fd00:1::10";
pub const HB6: &str = "fd00:2::10";
pub const TA: &str = "10.6.106.1";
pub const TB: &str = "10.6.106.2";
pub const TA6: &str = "fd00:6:106::1";
pub const TB6: &str = "fd00:6:106::2";

/// Builds the five namespaces.
pub fn site(tag: &str) -> Site {
    require_root();
    let mut lab = Lab::new(tag).unwrap_or_else(|e| panic!("{e}"));
    let ga = lab.add_ns("ga").unwrap();
    let inet = lab.add_ns("inet").unwrap();
    let gb = lab.add_ns("gb").unwrap();
    lab.veth(
        (&ga, "wan", &["192.0.2.1/24", "2001:db8:a::1/64"]),
        (&inet, "wa", &["192.0.2.254/24", "2001:db8:a::fe/64"]),
    )
    .unwrap();
    lab.veth(
        (&gb, "wan", &["198.51.100.1/24", "2001:db8:b::1/64"]),
        (&inet, "wb", &["198.51.100.254/24", "2001:db8:b::fe/64"]),
    )
    .unwrap();
    ga.default_route("192.0.2.254").unwrap();
    ga.default_route("2001:db8:a::fe").unwrap();
    gb.default_route("198.51.100.254").unwrap();
    gb.default_route("2001:db8:b::fe").unwrap();
    let ha = lab
        .lan_host(
            &ga,
            "lan",
            &["10.1.0.1/24", "fd00:1::1/64"],
            "ha",
            &["10.1.0.10/24", "fd00:1::10/64"],
        )
        .unwrap();
    let hb = lab
        .lan_host(
            &gb,
            "lan",
            &["10.2.0.1/24", "fd00:2::1/64"],
            "hb",
            &["10.2.0.10/24", "fd00:2::10/64"],
        )
        .unwrap();
    for g in [&ga, &gb] {
        g.sysctl(&[
            "net.ipv4.conf.all.rp_filter=1",
            "net.ipv4.conf.default.rp_filter=1",
        ])
        .unwrap();
    }
    Site {
        lab,
        ga,
        gb,
        inet,
        ha,
        hb,
    }
}

/// One child of a vtid connection.
#[derive(Debug, Clone)]
pub struct Child {
    pub name: String,
    /// 0: automatic.
    pub reqid: u32,
    pub local_ts: String,
    pub remote_ts: String,
    pub esp: String,
    pub start_action: String,
    /// More lines inside the child.
    pub extra: String,
}

impl Child {
    pub fn new(name: &str, reqid: u32, local_ts: &str, remote_ts: &str) -> Child {
        Child {
            name: name.into(),
            reqid,
            local_ts: local_ts.into(),
            remote_ts: remote_ts.into(),
            esp: "aes128gcm16".into(),
            start_action: "none".into(),
            extra: String::new(),
        }
    }
}

/// A vtid configuration of one side.
#[derive(Debug, Clone)]
pub struct Conf {
    pub local: String,
    pub remote: String,
    pub local_id: String,
    pub remote_id: String,
    pub proposals: String,
    /// More lines inside the connection.
    pub conn_extra: String,
    /// `interfaces { }` body.
    pub interfaces: String,
    pub children: Vec<Child>,
    /// More lines inside `vtid { }`.
    pub vtid_extra: String,
    /// More connections (whole `name { ... }` sections).
    pub more_conns: String,
}

/// The `ipsec7` interface of side `a` (true) or `b`, routing the far LAN.
pub fn ipsec7(a: bool, extra: &str) -> String {
    let (l, r, l6, r6, routes) = if a {
        (TA, TB, TA6, TB6, "10.2.0.0/24, fd00:2::/64")
    } else {
        (TB, TA, TB6, TA6, "10.1.0.0/24, fd00:1::/64")
    };
    format!(
        "  ipsec7 {{\n    reqid = 7\n    local_addr = {l}/30, {l6}/126\n    remote_addr = {r}, {r6}\n    \
         routes = {routes}\n    monitor_interval = 1\n    {extra}\n  }}\n"
    )
}

impl Conf {
    /// Side `a` (moon, 192.0.2.1) or `b` (sun, 198.51.100.1).
    pub fn side(a: bool) -> Conf {
        let (local, remote, lid, rid) = if a {
            (GA_WAN, GB_WAN, "moon.example.org", "sun.example.org")
        } else {
            (GB_WAN, GA_WAN, "sun.example.org", "moon.example.org")
        };
        Conf {
            local: local.into(),
            remote: remote.into(),
            local_id: lid.into(),
            remote_id: rid.into(),
            proposals: "aes128gcm16-prfsha256-ecp256".into(),
            conn_extra: String::new(),
            interfaces: String::new(),
            children: Vec::new(),
            vtid_extra: String::new(),
            more_conns: String::new(),
        }
    }

    pub fn render(&self) -> String {
        let mut children = String::new();
        for c in &self.children {
            let reqid = if c.reqid != 0 {
                format!("reqid = {}\n", c.reqid)
            } else {
                String::new()
            };
            children.push_str(&format!(
                "      {} {{\n        {reqid}        local_ts = {}\n        remote_ts = {}\n        \
                 esp_proposals = {}\n        start_action = {}\n        {}\n      }}\n",
                c.name, c.local_ts, c.remote_ts, c.esp, c.start_action, c.extra
            ));
        }
        let interfaces = if self.interfaces.is_empty() {
            String::new()
        } else {
            format!("interfaces {{\n{}}}\n", self.interfaces)
        };
        format!(
            "vtid {{\n  retransmit_timeout = 1\n  retransmit_tries = 2\n  {vx}\n}}\n{interfaces}\
             connections {{\n{more}\n  lab {{\n    version = 2\n    local_addrs = {la}\n    remote_addrs = {ra}\n    \
             proposals = {prop}\n    {extra}\n    local {{\n      auth = psk\n      id = {lid}\n    }}\n    \
             remote {{\n      auth = psk\n      id = {rid}\n    }}\n    children {{\n{children}    }}\n  }}\n}}\n\
             secrets {{\n  ike-lab {{\n    id-1 = moon.example.org\n    id-2 = sun.example.org\n    \
             secret = \"vtid-vti-lab-psk-not-secret\"\n  }}\n}}\n",
            vx = self.vtid_extra,
            more = self.more_conns,
            la = self.local,
            ra = self.remote,
            prop = self.proposals,
            extra = self.conn_extra,
            lid = self.local_id,
            rid = self.remote_id,
        )
    }
}

/// Starts vtid (userspace data plane) in `ns` and waits until it listens.
pub fn start_vtid(site: &Site, ns: &Ns, name: &str, conf: &Conf) -> Vtid {
    let mut v = Vtid::start(
        site.lab.workdir(),
        name,
        &conf.render(),
        &["ip", "netns", "exec", ns.name()],
        &["--dataplane", "userspace"],
    );
    v.wait_for(&["listening on UDP"], T);
    v
}

/// `ip route show table 0x7674` (empty string if the table does not
/// exist yet).
pub fn table(ns: &Ns, v6: bool) -> String {
    let fam = if v6 { "-6" } else { "-4" };
    ns.exec_output(&["ip", fam, "route", "show", "table", "0x7674"], T)
        .map(|o| o.stdout)
        .unwrap_or_default()
}

/// Polls `cond` every 50 ms up to `timeout`; panics with `what`.
pub fn wait(timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < end, "timed out after {timeout:?}: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Pings until one gets through (tunnels need a moment for routes).
pub fn ping_ok(from: &Ns, dst: &str, src: Option<&str>) {
    let end = Instant::now() + T;
    loop {
        let mut p = from.ping(dst).count(3).interval(0.2);
        if let Some(s) = src {
            p = p.from(s);
        }
        let r = p.run().unwrap();
        if r.received > 0 {
            // and then all of a fresh round must pass
            let mut p = from.ping(dst).count(3).interval(0.1);
            if let Some(s) = src {
                p = p.from(s);
            }
            let r2 = p.run().unwrap();
            assert!(
                r2.all_received(),
                "ping {dst} from {}: {:?}",
                from.name(),
                r2.output
            );
            return;
        }
        assert!(
            Instant::now() < end,
            "ping {dst} from {} never passed: {:?}",
            from.name(),
            r.output
        );
    }
}

/// A packet capture (tcpdump) on `dev` in `ns`, stopped by
/// [`Capture::finish`].
#[derive(Debug)]
pub struct Capture {
    proc: Proc,
    pub file: PathBuf,
}

impl Capture {
    pub fn start(ns: &Ns, dev: &str, filter: &str, name: &str) -> Capture {
        let file = ns.workdir().join(format!("{name}.pcap"));
        let f = file.to_string_lossy().into_owned();
        let mut args = vec![
            "tcpdump",
            "-n",
            "-U",
            "--immediate-mode",
            "-s",
            "128",
            "-i",
            dev,
            "-w",
            &f,
        ];
        args.extend(filter.split_whitespace());
        let proc = ns.spawn(name, &args).unwrap();
        // tcpdump says "listening on" on stderr once the capture runs
        wait(Duration::from_secs(10), "tcpdump to listen", || {
            proc.log().contains("listening on")
        });
        Capture { proc, file }
    }

    /// Stops tcpdump (SIGTERM flushes the file).
    pub fn finish(mut self) -> PathBuf {
        // let the last packets reach the file
        std::thread::sleep(Duration::from_millis(300));
        self.proc.stop(Duration::from_secs(3));
        self.file.clone()
    }
}

/// `tshark -T fields` of a pcap (with ESP-in-UDP decoded on 4500).
pub fn fields(pcap: &std::path::Path, filter: &str, names: &[&str]) -> Vec<Vec<String>> {
    let mut c = Command::new("tshark");
    c.arg("-n")
        .arg("-r")
        .arg(pcap)
        .args(["-Y", filter, "-T", "fields", "-E", "occurrence=f"]);
    for n in names {
        c.args(["-e", n]);
    }
    let out = c.output().expect("tshark");
    assert!(
        out.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

/// ESP packets per (source address, SPI) in a capture.
pub fn esp_per_spi(pcap: &std::path::Path) -> BTreeMap<(String, u32), u64> {
    let mut m = BTreeMap::new();
    for f in fields(pcap, "esp", &["ip.src", "esp.spi"]) {
        let (Some(src), Some(spi)) = (f.first(), f.get(1)) else {
            continue;
        };
        let spi = spi.trim_start_matches("0x");
        let Ok(spi) = u32::from_str_radix(spi, 16) else {
            continue;
        };
        *m.entry((src.clone(), spi)).or_default() += 1;
    }
    m
}

/// Distinct SPIs in a capture.
pub fn spis(m: &BTreeMap<(String, u32), u64>) -> BTreeSet<u32> {
    m.keys().map(|(_, s)| *s).collect()
}

/// Per-SA counters from vtid's log (`counters:` lines of deleted SAs and
/// of the last SIGUSR1 dump): spi → (packets_in, packets_out), by inbound
/// and outbound SPI.
pub fn vtid_counters(log: &str) -> (BTreeMap<u32, u64>, BTreeMap<u32, u64>) {
    let mut inb = BTreeMap::new();
    let mut out = BTreeMap::new();
    for l in log.lines().filter(|l| l.contains("counters: spi_in=")) {
        let get = |k: &str| crate::common::field(l, k).to_string();
        let spi_in = u32::from_str_radix(&get("spi_in"), 16).unwrap();
        let spi_out = u32::from_str_radix(&get("spi_out"), 16).unwrap();
        let pin: u64 = get("packets_in").parse().unwrap();
        let pout: u64 = get("packets_out").parse().unwrap();
        // the last line of an SA wins (a dump before its delete line)
        inb.insert(spi_in, pin);
        out.insert(spi_out, pout);
    }
    (inb, out)
}

/// The updown script: one line per call with what the test checks.
pub fn updown_script(s: &Site) -> (String, std::path::PathBuf) {
    let out = s.lab.workdir().join("updown.out");
    let script = s.lab.workdir().join("updown.sh");
    fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$PLUTO_VERB conn=$PLUTO_CONNECTION reqid=$PLUTO_REQID me=$PLUTO_ME \
             peer=$PLUTO_PEER my_id=$PLUTO_MY_ID peer_id=$PLUTO_PEER_ID \
             my_client=$PLUTO_MY_CLIENT peer_client=$PLUTO_PEER_CLIENT \
             if=$VTID_INTERFACE gw=$VTID_GATEWAY\" >> {}\n",
            out.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    (script.display().to_string(), out)
}

/// `vtictl --json ARGS` against the control socket of `v` (started by
/// [`start_vtid`]: `<name>.vici` beside its configuration).
pub fn vtictl_json(v: &Vtid, args: &[&str]) -> serde_json::Value {
    let sock = v.conf_path.with_file_name(format!("{}.vici", v.name));
    let out = Command::new(env!("CARGO_BIN_EXE_vtictl"))
        .args(["--socket", sock.to_str().unwrap(), "--json"])
        .args(args)
        .output()
        .expect("run vtictl");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "vtictl {args:?}: {out:?}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("vtictl --json {args:?}: {e}: {text}"))
}

/// A number vtictl's JSON holds as a string (`"12"`).
pub fn json_u64(v: &serde_json::Value) -> u64 {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a number string: {v}"))
}

/// The metrics endpoint at `127.0.0.1:port` in `ns`, scraped with curl.
pub fn scrape(ns: &Ns, port: u16) -> String {
    let url = format!("http://127.0.0.1:{port}/metrics");
    let out = ns
        .exec_output(&["curl", "-sS", "--max-time", "10", &url], T)
        .unwrap();
    assert!(out.success(), "curl {url}: {}", out.stderr);
    out.stdout
}

/// The value of the series `name{labels}` (labels exactly as rendered,
/// e.g. `interface="ipsec7",reason="tun_write"`; empty for none) in a
/// scrape.
pub fn series(scrape: &str, name: &str, labels: &str) -> Option<f64> {
    let key = if labels.is_empty() {
        format!("{name} ")
    } else {
        format!("{name}{{{labels}}} ")
    };
    scrape
        .lines()
        .find_map(|l| l.strip_prefix(&key))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}
