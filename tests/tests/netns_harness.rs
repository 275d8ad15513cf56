//! ROOT / NETWORK-NAMESPACE TESTS of the interop harness
//! (`vtid_tests::netns`, `vtid_tests::strongswan`), proven with strongSwan
//! on both ends:
//!
//! - two charons on a veth: PSK, FQDN ids, aes128gcm16-prfsha256-ecp256;
//!   IKE SA ESTABLISHED and CHILD SA INSTALLED on both with matching SPIs;
//!   a ping between the LAN addresses on each side's loopback crosses the
//!   tunnel; rekey and terminate;
//! - the same across a NAT namespace (`MASQUERADE --random`, initiator
//!   behind it) with real LAN host namespaces behind each gateway (TTL
//!   shows the forwarding, a DF ping shows the tunnel's path MTU);
//! - cleanup: after a lab is dropped (also by a panic) none of its
//!   namespaces or processes remain; stale namespaces of dead test
//!   processes are reaped.
//!
//! They need root (CI runs as root) and the packages in interop/deps.txt;
//! without root they FAIL with a message saying so, they never skip. Every
//! test name starts with `netns_`.
// Linux only: Linux network namespaces (the FreeBSD build check compiles the portable tests).
#![cfg(target_os = "linux")]

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use vtid_tests::netns::{self, Lab, Ns};
use vtid_tests::strongswan::{Charon, ChildState, IkeSa, IkeState, SiteToSite};

const IKE: &str = "aes128gcm16-prfsha256-ecp256";

fn lab(tag: &str) -> Lab {
    Lab::new(tag).unwrap_or_else(|e| panic!("{e}"))
}

/// Starts a charon with `conf` and loads it.
fn charon(ns: &Ns, name: &str, conf: &SiteToSite<'_>) -> Charon {
    let c = Charon::start(ns, name, &conf.swanctl_conf(), None).unwrap_or_else(|e| panic!("{e}"));
    c.load_all().unwrap_or_else(|e| panic!("{e}"));
    c
}

fn the_sa(c: &Charon) -> IkeSa {
    let sas = c.list_sas().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sas.len(), 1, "charon {}: {sas:#?}", c.name());
    sas.into_iter().next().unwrap()
}

/// Both sides agree on one ESTABLISHED IKE SA and one INSTALLED CHILD SA
/// with mirrored SPIs and traffic selectors; returns (initiator's, responder's).
fn check_pair(ini: &Charon, resp: &Charon, ts_i: &str, ts_r: &str) -> (IkeSa, IkeSa) {
    let a = the_sa(ini);
    let b = the_sa(resp);
    for sa in [&a, &b] {
        assert_eq!(sa.name, "lab");
        assert_eq!(sa.state, IkeState::Established, "{sa:#?}");
        assert_eq!(sa.proposal, "AES_GCM_16-128/PRF_HMAC_SHA2_256/ECP_256");
        assert_eq!(sa.spi_i.len(), 16);
        assert_ne!(sa.spi_r, "0000000000000000");
    }
    assert!(a.initiator && !b.initiator);
    assert_eq!((&a.spi_i, &a.spi_r), (&b.spi_i, &b.spi_r));
    assert_eq!(a.local_spi(), b.remote_spi());
    assert_eq!(
        (a.local_id.as_str(), a.remote_id.as_str()),
        ("moon.example.org", "sun.example.org")
    );
    assert_eq!(
        (b.local_id.as_str(), b.remote_id.as_str()),
        ("sun.example.org", "moon.example.org")
    );

    let installed = |sa: &IkeSa| {
        let c: Vec<_> = sa
            .children
            .iter()
            .filter(|c| c.state == ChildState::Installed)
            .collect();
        assert_eq!(c.len(), 1, "{sa:#?}");
        c[0].clone()
    };
    let (ca, cb) = (installed(&a), installed(&b));
    for c in [&ca, &cb] {
        assert_eq!(c.name, "net");
        assert_eq!((c.mode.as_str(), c.protocol.as_str()), ("TUNNEL", "ESP"));
        assert!(c.encap, "kernel-libipsec always encapsulates in UDP");
        assert_eq!(c.proposal, "AES_GCM_16-128");
        assert_eq!(c.spi_in.len(), 8);
        assert!(c.reqid > 0);
    }
    assert_eq!(ca.spi_in, cb.spi_out, "initiator in = responder out");
    assert_eq!(ca.spi_out, cb.spi_in, "initiator out = responder in");
    assert_eq!(
        (ca.local_ts.as_slice(), ca.remote_ts.as_slice()),
        (&[ts_i.to_string()][..], &[ts_r.to_string()][..])
    );
    assert_eq!(
        (cb.local_ts.as_slice(), cb.remote_ts.as_slice()),
        (&[ts_r.to_string()][..], &[ts_i.to_string()][..])
    );
    (a, b)
}

fn child_packets(c: &Charon) -> (u64, u64) {
    let sa = the_sa(c);
    let ch = sa.child("net").expect("child net");
    (ch.packets_in, ch.packets_out)
}

#[test]
fn netns_psk_tunnel_on_veth_with_loopback_lans() {
    let t0 = Instant::now();
    let mut lab = lab("veth");
    let moon = lab.add_ns("moon").unwrap();
    let sun = lab.add_ns("sun").unwrap();
    lab.veth(
        (&moon, "wan", &["192.0.2.1/24", "2001:db8:1::1/64"]),
        (&sun, "wan", &["192.0.2.2/24", "2001:db8:1::2/64"]),
    )
    .unwrap();
    // "LAN hosts" on each gateway's loopback
    moon.add_addr("lo", "10.1.0.1/32").unwrap();
    sun.add_addr("lo", "10.2.0.1/32").unwrap();

    // the veth works at once, IPv6 included (no DAD)
    for dst in ["192.0.2.2", "2001:db8:1::2"] {
        let r = moon.ping(dst).count(1).run().unwrap();
        assert!(r.all_received(), "{r:#?}");
    }
    // no tunnel yet: the LANs cannot reach each other
    let r = moon
        .ping("10.2.0.1")
        .from("10.1.0.1")
        .count(1)
        .deadline(Duration::from_secs(1))
        .run()
        .unwrap();
    assert_eq!(r.received, 0, "{r:#?}");

    let base = SiteToSite {
        proposals: IKE,
        esp_proposals: "aes128gcm16",
        ..SiteToSite::default()
    };
    let sun_c = charon(
        &sun,
        "sun",
        &SiteToSite {
            local_addrs: "192.0.2.2",
            remote_addrs: "192.0.2.1",
            local_id: "sun.example.org",
            remote_id: "moon.example.org",
            local_ts: "10.2.0.0/24",
            remote_ts: "10.1.0.0/24",
            ..base.clone()
        },
    );
    let moon_c = charon(
        &moon,
        "moon",
        &SiteToSite {
            local_addrs: "192.0.2.1",
            remote_addrs: "192.0.2.2",
            local_id: "moon.example.org",
            remote_id: "sun.example.org",
            local_ts: "10.1.0.0/24",
            remote_ts: "10.2.0.0/24",
            ..base
        },
    );
    let t_start = t0.elapsed();
    moon_c.initiate("net").unwrap();
    let t_up = t0.elapsed();
    // the responder may report its CHILD SA a moment after the initiator
    sun_c
        .wait_established("lab", "net", Duration::from_secs(5))
        .unwrap();
    let (a, b) = check_pair(&moon_c, &sun_c, "10.1.0.0/24", "10.2.0.0/24");
    assert_eq!(
        (a.local_host.as_str(), a.remote_host.as_str()),
        ("192.0.2.1", "192.0.2.2")
    );
    assert_eq!((b.local_port, b.remote_port), (4500, 4500));

    // traffic crosses the tunnel: the CHILD SA counters move on both sides
    let r = moon
        .ping("10.2.0.1")
        .from("10.1.0.1")
        .count(3)
        .run()
        .unwrap();
    assert!(r.all_received(), "{r:#?}");
    assert_eq!(r.ttl, Some(64), "loopback LAN: no hop");
    assert_eq!(child_packets(&moon_c), (3, 3));
    assert_eq!(child_packets(&sun_c), (3, 3));

    // rekey the CHILD SA: new SPIs, still mirrored, still carrying traffic
    let old = the_sa(&moon_c).child("net").unwrap().spi_in.clone();
    moon_c.rekey_child("net").unwrap();
    // The old CHILD SA lingers as REKEYED for charon's delete_rekeyed_delay
    // (5 s); what counts is one INSTALLED CHILD SA with new SPIs per side.
    let installed_spis = |c: &Charon| -> Vec<(String, String)> {
        c.list_sas()
            .map(|s| {
                s.iter()
                    .flat_map(|sa| &sa.children)
                    .filter(|c| c.state == ChildState::Installed)
                    .map(|c| (c.spi_in.clone(), c.spi_out.clone()))
                    .collect()
            })
            .unwrap_or_default()
    };
    netns::wait_until(
        Duration::from_secs(10),
        "CHILD SA rekeyed on both sides",
        || {
            let (a, b) = (installed_spis(&moon_c), installed_spis(&sun_c));
            a.len() == 1 && b.len() == 1 && a[0].0 != old && a[0].0 == b[0].1 && a[0].1 == b[0].0
        },
    )
    .unwrap();
    check_pair(&moon_c, &sun_c, "10.1.0.0/24", "10.2.0.0/24");
    let r = moon
        .ping("10.2.0.1")
        .from("10.1.0.1")
        .count(2)
        .run()
        .unwrap();
    assert!(r.all_received(), "{r:#?}");

    // terminate: both sides forget the SA
    moon_c.terminate_ike("lab").unwrap();
    netns::wait_until(Duration::from_secs(5), "IKE SA gone on both sides", || {
        moon_c.list_sas().is_ok_and(|s| s.is_empty())
            && sun_c.list_sas().is_ok_and(|s| s.is_empty())
    })
    .unwrap();
    eprintln!(
        "timing: lab + charons ready {t_start:?}, tunnel up {:?}, total {:?}",
        t_up - t_start,
        t0.elapsed()
    );
}

#[test]
fn netns_psk_tunnel_through_nat_with_lan_hosts() {
    let t0 = Instant::now();
    let mut lab = lab("nat");
    let moon = lab.add_ns("moon").unwrap();
    let sun = lab.add_ns("sun").unwrap();
    // moon (10.99.0.2) -- nat (10.99.0.1 | 192.0.2.1, MASQUERADE --random) -- sun (192.0.2.2)
    let nat = lab
        .nat(
            "nat",
            (&moon, "wan", &["10.99.0.2/24", "2001:db8:99::2/64"]),
            &["10.99.0.1/24", "2001:db8:99::1/64"],
            &["192.0.2.1/24", "2001:db8:1::1/64"],
            (&sun, "wan", &["192.0.2.2/24", "2001:db8:1::2/64"]),
        )
        .unwrap();
    // real LAN hosts behind each gateway
    let alice = lab
        .lan_host(&moon, "lan", &["10.1.0.1/24"], "alice", &["10.1.0.2/24"])
        .unwrap();
    let bob = lab
        .lan_host(&sun, "lan", &["10.2.0.1/24"], "bob", &["10.2.0.2/24"])
        .unwrap();
    assert!(nat
        .exec(&["iptables", "-t", "nat", "-S"])
        .unwrap()
        .contains("MASQUERADE --random"));
    for dst in ["192.0.2.2", "2001:db8:1::2"] {
        let r = moon.ping(dst).count(1).run().unwrap();
        assert!(r.all_received(), "moon reaches sun through the NAT: {r:#?}");
    }
    // sun has no route to moon's private networks (no default route
    // either), so the replies above only came back because the NAT
    // rewrote moon's source addresses (IPv6 too: ip6tables)
    for fam in ["-4", "-6"] {
        let routes = sun.ip(&[fam, "route", "show", "default"]).unwrap();
        assert!(routes.trim().is_empty(), "{routes}");
    }
    let r = alice.ping("10.1.0.1").count(1).run().unwrap();
    assert!(r.all_received(), "alice reaches her gateway: {r:#?}");

    let base = SiteToSite {
        proposals: IKE,
        ..SiteToSite::default()
    };
    let sun_c = charon(
        &sun,
        "sun",
        &SiteToSite {
            local_addrs: "192.0.2.2",
            remote_addrs: "%any",
            local_id: "sun.example.org",
            remote_id: "moon.example.org",
            local_ts: "10.2.0.0/24",
            remote_ts: "10.1.0.0/24",
            ..base.clone()
        },
    );
    let moon_c = charon(
        &moon,
        "moon",
        &SiteToSite {
            local_addrs: "10.99.0.2",
            remote_addrs: "192.0.2.2",
            local_ts: "10.1.0.0/24",
            remote_ts: "10.2.0.0/24",
            ..base
        },
    );
    let t_start = t0.elapsed();
    moon_c.initiate("net").unwrap();
    let t_up = t0.elapsed();
    sun_c
        .wait_established("lab", "net", Duration::from_secs(5))
        .unwrap();
    let (a, b) = check_pair(&moon_c, &sun_c, "10.1.0.0/24", "10.2.0.0/24");
    // moon sees its private address, sun the NAT's public one
    assert_eq!(
        (a.local_host.as_str(), a.remote_host.as_str()),
        ("10.99.0.2", "192.0.2.2")
    );
    assert_eq!(b.remote_host, "192.0.2.1", "{b:#?}");
    assert!(
        a.nat_local,
        "initiator should detect it is behind a NAT: {a:#?}"
    );
    eprintln!(
        "sun sees moon at {}:{} (NAT, random port)",
        b.remote_host, b.remote_port
    );

    // alice -> bob through both gateways and the tunnel: two forwarding hops
    let r = alice.ping("10.2.0.2").count(3).run().unwrap();
    assert!(r.all_received(), "{r:#?}");
    assert_eq!(
        r.ttl,
        Some(62),
        "bob's reply was forwarded by sun and by moon"
    );
    assert_eq!(child_packets(&moon_c), (3, 3));
    let r = bob.ping("10.1.0.2").count(1).run().unwrap();
    assert!(
        r.all_received(),
        "the responder side can send first too: {r:#?}"
    );

    // path MTU: the tunnel (TUN ipsec0) is narrower than the veths
    let mtu: u32 = moon
        .ip(&["-o", "link", "show", "ipsec0"])
        .unwrap()
        .split_whitespace()
        .skip_while(|w| *w != "mtu")
        .nth(1)
        .and_then(|m| m.parse().ok())
        .expect("ipsec0 mtu");
    let fits = mtu - 28; // minus IPv4 + ICMP headers
    let r = alice
        .ping("10.2.0.2")
        .count(1)
        .size(fits)
        .dont_fragment()
        .run()
        .unwrap();
    assert!(
        r.all_received(),
        "DF ping of exactly the tunnel MTU ({mtu}): {r:#?}"
    );
    let r = alice
        .ping("10.2.0.2")
        .count(1)
        .size(fits + 1)
        .dont_fragment()
        .run()
        .unwrap();
    assert_eq!(r.received, 0, "{r:#?}");
    assert_eq!(
        r.mtu,
        Some(mtu),
        "moon answers 'fragmentation needed' with the tunnel MTU: {r:#?}"
    );
    eprintln!(
        "timing: lab + charons ready {t_start:?}, tunnel up {:?}, total {:?}",
        t_up - t_start,
        t0.elapsed()
    );
}

/// Is `pid` gone (or at least no longer running: a zombie awaiting reaping)?
fn not_running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(s) => s
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
    }
}

/// A lab with two namespaces, a veth, a charon and a `sleep`; returns it
/// with (namespace names, pids).
fn busy_lab(tag: &str) -> (Lab, Charon, netns::Proc, Vec<String>, Vec<u32>) {
    let mut lab = lab(tag);
    let a = lab.add_ns("a").unwrap();
    let b = lab.add_ns("b").unwrap();
    lab.veth((&a, "x", &["192.0.2.1/24"]), (&b, "y", &["192.0.2.2/24"]))
        .unwrap();
    let c = Charon::start(&a, "a", &SiteToSite::default().swanctl_conf(), None).unwrap();
    let sleep = b.spawn("sleep", &["sleep", "600"]).unwrap();
    let names: Vec<String> = lab
        .namespaces()
        .iter()
        .map(|n| n.name().to_string())
        .collect();
    for n in &names {
        assert!(netns::netns_exists(n), "{n}");
    }
    let pids = vec![c.pid(), sleep.pid()];
    for &p in &pids {
        assert!(!not_running(p), "pid {p} should run");
    }
    (lab, c, sleep, names, pids)
}

fn assert_all_gone(names: &[String], pids: &[u32]) {
    for n in names {
        assert!(!netns::netns_exists(n), "namespace {n} still exists");
        assert!(!netns::list_netns().contains(n));
    }
    for &p in pids {
        assert!(not_running(p), "pid {p} still runs");
    }
}

#[test]
fn netns_cleanup_after_drop() {
    // the lab goes first, while its charon and sleep still run: it kills them
    let (lab, c, sleep, names, pids) = busy_lab("drop");
    let workdir = lab.workdir().to_path_buf();
    drop(lab);
    assert_all_gone(&names, &pids);
    assert!(!workdir.exists());
    drop((c, sleep));
    for p in pids {
        assert!(
            !std::path::Path::new(&format!("/proc/{p}")).exists(),
            "pid {p} not reaped"
        );
    }

    // the usual order (charon first, lab last) leaves nothing either
    let (lab, c, sleep, names, pids) = busy_lab("drop2");
    drop((c, sleep));
    drop(lab);
    assert_all_gone(&names, &pids);
}

#[test]
fn netns_cleanup_after_panic() {
    let mut seen = (Vec::new(), Vec::new(), std::path::PathBuf::new());
    let r = catch_unwind(AssertUnwindSafe(|| {
        let (lab, _c, _sleep, names, pids) = busy_lab("panic");
        seen = (names, pids, lab.workdir().to_path_buf());
        panic!("deliberate panic inside a lab (expected; its charon log tail follows)");
    }));
    assert!(r.is_err());
    let (names, pids, workdir) = seen;
    assert_eq!(names.len(), 2);
    assert_all_gone(&names, &pids);
    // the scratch dir (charon logs) survives a panic for the post-mortem
    assert!(workdir.join("charon-a/charon.log").exists());
    std::fs::remove_dir_all(&workdir).unwrap();
}

#[test]
fn netns_reaper_removes_only_namespaces_of_dead_processes() {
    let mut live = lab("reap");
    let mine = live.add_ns("mine").unwrap();
    // a pid that does not exist: from the top of the pid range down
    let pid_max: u32 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(32768);
    let dead = (1..pid_max)
        .rev()
        .find(|p| !std::path::Path::new(&format!("/proc/{p}")).exists())
        .unwrap();
    let stale = format!("{}{dead}x0-stale", netns::PREFIX);
    netns::host(&["ip", "netns", "add", &stale]).unwrap();
    // a process still running in it, as after a crash
    let sleeper = std::process::Command::new("ip")
        .args(["netns", "exec", &stale, "sleep", "600"])
        .spawn()
        .unwrap();
    let mut sleeper = scopeguard(sleeper);
    netns::wait_until(Duration::from_secs(5), "sleep in stale namespace", || {
        !netns::Ns::pids_of(&stale).is_empty()
    })
    .unwrap();

    let reaped = netns::reap_stale().unwrap();
    assert!(reaped.contains(&stale), "{reaped:?}");
    assert!(!netns::netns_exists(&stale));
    assert!(
        netns::netns_exists(mine.name()),
        "a live lab's namespace was reaped"
    );
    let st = sleeper.0.wait().unwrap();
    assert!(!st.success(), "the stale process was killed");
}

/// Kills the child on drop (in case the test fails before the reaper does).
struct Guard(std::process::Child);
fn scopeguard(c: std::process::Child) -> Guard {
    Guard(c)
}
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
