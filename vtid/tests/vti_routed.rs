//! ROOT / NETWORK-NAMESPACE TESTS: two real vtid daemons with the userspace
//! data plane, LAN host – gateway – router – gateway – LAN host (see
//! `vtilab`): routed (`ipsec7` both sides), policy-based (shared `vtid0`),
//! a routed child beside a policy-based one, ESN with plain ESP, the
//! automatic gateway following the peer, the updown hook.
// Linux only: Linux network namespaces (the FreeBSD build check compiles the portable tests).
#![cfg(target_os = "linux")]

mod common;
mod vtilab;

use std::fs;
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use common::Vtid;
use vtilab::*;

fn routed_pair(s: &Site, tag: &str, a_extra: &str, esp: &str) -> (Conf, Conf) {
    let mut a = Conf::side(true);
    a.interfaces = ipsec7(true, "");
    let mut c = Child::new("vti", 7, "0.0.0.0/0, ::/0", "0.0.0.0/0, ::/0");
    c.start_action = "start".into();
    c.esp = esp.into();
    c.extra = a_extra.into();
    a.children.push(c);
    let mut b = Conf::side(false);
    b.interfaces = ipsec7(false, "");
    let mut c = Child::new("vti", 7, "0.0.0.0/0, ::/0", "0.0.0.0/0, ::/0");
    c.esp = esp.into();
    b.children.push(c);
    let _ = (s, tag);
    (a, b)
}

/// Routed on both sides: transit and LAN pings (IPv4 and IPv6), iperf3,
/// routes only while the SA is up, path MTU at the interface MTU, the
/// updown hook with VTID_INTERFACE, routes withdrawn after the peer
/// terminates.
#[test]
fn routed_vtid_vtid() {
    let s = site("routed");
    let (script, updown_out) = updown_script(&s);
    let (a, b) = routed_pair(&s, "routed", &format!("updown = {script}"), "aes128gcm16");
    let mut vb = start_vtid(&s, &s.gb, "vtid-b", &b);
    // no SA yet: carrier off, no LAN routes in vtid's table
    assert!(
        !table(&s.gb, false).contains("10.1.0.0/24"),
        "{}",
        table(&s.gb, false)
    );
    let mut va = start_vtid(&s, &s.ga, "vtid-a", &a);
    va.wait_for(&["CHILD_SA vti{", " up: "], T);
    vb.wait_for(&["CHILD_SA vti{", " up: "], T);

    // routes of ipsec7 in table 0x7674, both families, both sides
    wait(T, "routes of ipsec7 on ga", || {
        let t4 = table(&s.ga, false);
        let t6 = table(&s.ga, true);
        t4.contains("10.2.0.0/24") && t4.contains("ipsec7") && t6.contains("fd00:2::/64")
    });
    wait(T, "routes of ipsec7 on gb", || {
        table(&s.gb, false).contains("10.1.0.0/24") && table(&s.gb, true).contains("fd00:1::/64")
    });
    let get = s.ga.exec(&["ip", "route", "get", HB]).unwrap();
    assert!(get.contains("dev ipsec7"), "{get}");

    // transit addresses over the VTI
    ping_ok(&s.ga, TB, Some(TA));
    ping_ok(&s.ga, TB6, Some(TA6));
    ping_ok(&s.gb, TA, Some(TB));
    // LAN to LAN, both families; TTL 62: two forwarding gateways, the
    // router is not on the inner path
    ping_ok(&s.ha, HB, None);
    ping_ok(&s.ha, HB6, None);
    ping_ok(&s.hb, HA, None);
    let r = s.ha.ping(HB).count(2).run().unwrap();
    assert_eq!(r.ttl, Some(62), "{:?}", r.output);

    // TCP through the tunnel
    let mut srv =
        s.hb.spawn("iperf3-server", &["iperf3", "-s", "-1", "--forceflush"])
            .unwrap();
    wait(T, "iperf3 server", || srv.log().contains("listening"));
    let out =
        s.ha.exec_output(
            &["iperf3", "-c", HB, "-t", "2", "-J"],
            Duration::from_secs(20),
        )
        .unwrap();
    assert!(out.success(), "iperf3: {}\n{}", out.stdout, out.stderr);
    let bytes = out
        .stdout
        .split("\"sum_received\"")
        .nth(1)
        .and_then(|r| r.split("\"bytes\":").nth(1))
        .and_then(|r| r.split([',', '\n']).next())
        .and_then(|n| n.trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    assert!(
        bytes > 100_000.0,
        "iperf3 moved {bytes} bytes:\n{}",
        out.stdout
    );
    eprintln!("iperf3 LAN to LAN: {bytes} bytes in 2 s");
    srv.stop(Duration::from_secs(2));

    // path MTU: the interface MTU (1400) passes with DF, one byte more
    // gets "frag needed" / "packet too big" with mtu 1400
    let r =
        s.ha.ping(HB)
            .count(2)
            .size(1400 - 28)
            .dont_fragment()
            .run()
            .unwrap();
    assert!(r.all_received(), "{:?}", r.output);
    let r =
        s.ha.ping(HB)
            .count(2)
            .size(1400 - 28 + 1)
            .dont_fragment()
            .run()
            .unwrap();
    assert_eq!(r.received, 0, "{:?}", r.output);
    assert_eq!(r.mtu, Some(1400), "{:?}", r.output);
    let r =
        s.ha.ping(HB6)
            .count(2)
            .size(1400 - 48)
            .dont_fragment()
            .run()
            .unwrap();
    assert!(r.all_received(), "{:?}", r.output);
    let r =
        s.ha.ping(HB6)
            .count(2)
            .size(1400 - 48 + 1)
            .dont_fragment()
            .run()
            .unwrap();
    assert_eq!(r.received, 0, "{:?}", r.output);
    assert_eq!(r.mtu, Some(1400), "{:?}", r.output);

    // updown: up-client per TS pair with the VTI and its gateway
    wait(T, "updown up calls", || {
        fs::read_to_string(&updown_out)
            .unwrap_or_default()
            .lines()
            .count()
            >= 2
    });
    let ud = fs::read_to_string(&updown_out).unwrap();
    let lines: Vec<&str> = ud.lines().collect();
    assert!(
        lines[0].starts_with("up-client ")
            && lines[0].contains("conn=vti reqid=7 me=192.0.2.1 peer=198.51.100.1")
            && lines[0].contains("my_id=moon.example.org peer_id=sun.example.org")
            && lines[0].contains("my_client=0.0.0.0/0 peer_client=0.0.0.0/0")
            && lines[0].contains("if=ipsec7 gw=IPSEC7_VTIV4"),
        "{ud}"
    );
    assert!(
        lines[1].starts_with("up-client-v6 ")
            && lines[1].contains("my_client=::/0 peer_client=::/0")
            && lines[1].contains("if=ipsec7 gw=IPSEC7_VTIV6"),
        "{ud}"
    );
    // the gateways came up
    va.wait_for(&["gateway IPSEC7_VTIV4", "-> up"], T);
    va.wait_for(&["gateway IPSEC7_VTIV6", "-> up"], T);

    // the peer terminates: DELETE, routes withdrawn, carrier off, down-client
    vb.signal("TERM");
    assert!(vb.wait_exit(Duration::from_secs(10)).is_some());
    va.wait_for(&["CHILD_SA vti down"], T);
    wait(T, "routes withdrawn on ga", || {
        !table(&s.ga, false).contains("10.2.0.0/24") && !table(&s.ga, true).contains("fd00:2::/64")
    });
    let get = s.ga.exec(&["ip", "route", "get", HB]).unwrap();
    assert!(!get.contains("ipsec7"), "{get}");
    wait(T, "updown down calls", || {
        fs::read_to_string(&updown_out)
            .unwrap_or_default()
            .lines()
            .count()
            >= 4
    });
    let ud = fs::read_to_string(&updown_out).unwrap();
    let lines: Vec<&str> = ud.lines().collect();
    assert!(
        lines[2].starts_with("down-client ") && lines[2].contains("if=ipsec7"),
        "{ud}"
    );
    assert!(lines[3].starts_with("down-client-v6 "), "{ud}");
}

/// Both sides policy-based (LAN selectors, no interfaces): the shared
/// `vtid0` carries IPv4 and IPv6 LAN to LAN.
#[test]
fn policy_based_vtid_vtid() {
    let s = site("policy");
    let mut a = Conf::side(true);
    let mut c = Child::new(
        "net",
        0,
        "10.1.0.0/24, fd00:1::/64",
        "10.2.0.0/24, fd00:2::/64",
    );
    c.start_action = "start".into();
    a.children.push(c);
    let mut b = Conf::side(false);
    b.children.push(Child::new(
        "net",
        0,
        "10.2.0.0/24, fd00:2::/64",
        "10.1.0.0/24, fd00:1::/64",
    ));
    let _vb = start_vtid(&s, &s.gb, "vtid-b", &b);
    let mut va = start_vtid(&s, &s.ga, "vtid-a", &a);
    va.wait_for(&["CHILD_SA net{", " up: "], T);
    wait(T, "policy routes on vtid0", || {
        let t = table(&s.ga, false);
        t.contains("10.2.0.0/24") && t.contains("vtid0")
    });
    ping_ok(&s.ha, HB, None);
    ping_ok(&s.hb, HA, None);
    ping_ok(&s.ha, HB6, None);
    let r = s.ha.ping(HB).count(2).run().unwrap();
    assert_eq!(r.ttl, Some(62), "{:?}", r.output);
    assert!(
        table(&s.ga, true).contains("vtid0"),
        "{}",
        table(&s.ga, true)
    );
}

/// A peer whose selectors split into more routes than
/// `max_policies_per_child` allows: the data plane refuses the CHILD SA,
/// vtid says why and deletes it (the peer sees it go), nothing of it is
/// routed, and the IKE SA stays.
#[test]
fn a_child_beyond_max_policies_per_child_is_refused_and_deleted() {
    let s = site("maxpol");
    let mut a = Conf::side(true);
    a.vtid_extra = "max_policies_per_child = 4".into();
    a.children
        .push(Child::new("net", 0, "10.1.0.0/24", "10.2.0.0/16"));
    let mut b = Conf::side(false);
    let mut c = Child::new(
        "net",
        0,
        "10.2.1.0/24, 10.2.2.0/24, 10.2.3.0/24, 10.2.4.0/24, 10.2.5.0/24",
        "10.1.0.0/24",
    );
    c.start_action = "start".into();
    b.children.push(c);
    let mut va = start_vtid(&s, &s.ga, "vtid-a", &a);
    let mut vb = start_vtid(&s, &s.gb, "vtid-b", &b);
    let refused = va.wait_for(&["refused CHILD_SA net"], T);
    assert!(
        refused.contains("5 routes") && refused.contains("max_policies_per_child = 4"),
        "{refused}"
    );
    vb.wait_for(&["CHILD_SA net down"], T);
    va.wait_for(&["CHILD_SA net down"], T);
    assert!(
        !table(&s.ga, false).contains("10.2."),
        "{}",
        table(&s.ga, false)
    );
    assert_eq!(va.count(&["IKE_SA lab", "down"]), 0, "the IKE SA stays");
}

/// One routed child (ipsec7) beside one policy-based child (vtid0) on the
/// same IKE SA, carrying traffic at the same time.
#[test]
fn routed_beside_policy_on_one_ike_sa() {
    let s = site("mixed");
    s.ha.add_addr("eth0", "10.1.0.20/24").unwrap();
    s.hb.add_addr("eth0", "10.2.0.20/24").unwrap();
    let (mut a, mut b) = routed_pair(&s, "mixed", "", "aes128gcm16");
    let mut c = Child::new("host", 0, "10.1.0.10/32", "10.2.0.10/32");
    c.start_action = "start".into();
    a.children.push(c);
    b.children
        .push(Child::new("host", 0, "10.2.0.10/32", "10.1.0.10/32"));
    let mut vb = start_vtid(&s, &s.gb, "vtid-b", &b);
    let mut va = start_vtid(&s, &s.ga, "vtid-a", &a);
    va.wait_for(&["CHILD_SA vti{", " up: "], T);
    va.wait_for(&["CHILD_SA host{", " up: "], T);
    assert_eq!(va.count(&["IKE_SA lab[", " up: "]), 1, "{}", va.log());
    // 10.1.0.10 <-> 10.2.0.10 by the /32 routes on vtid0; 10.1.0.20 <->
    // 10.2.0.20 by the /24 routes of ipsec7
    wait(T, "both kinds of routes", || {
        let t = table(&s.ga, false);
        t.contains("10.2.0.10 dev vtid0") && t.contains("10.2.0.0/24") && t.contains("ipsec7")
    });
    ping_ok(&s.ha, "10.2.0.10", Some("10.1.0.10"));
    ping_ok(&s.ha, "10.2.0.20", Some("10.1.0.20"));
    // both at once
    let (ha1, ha2) = (s.ha.clone(), s.ha.clone());
    let p1 = std::thread::spawn(move || {
        ha1.ping("10.2.0.10")
            .from("10.1.0.10")
            .count(25)
            .interval(0.02)
            .run()
            .unwrap()
    });
    let p2 = std::thread::spawn(move || {
        ha2.ping("10.2.0.20")
            .from("10.1.0.20")
            .count(25)
            .interval(0.02)
            .run()
            .unwrap()
    });
    let (r1, r2) = (p1.join().unwrap(), p2.join().unwrap());
    assert!(r1.all_received(), "{:?}", r1.output);
    assert!(r2.all_received(), "{:?}", r2.output);
    // the counters: each SA carried packets both ways
    for v in [&va, &vb] {
        v.signal("USR1");
    }
    for v in [&mut va, &mut vb] {
        v.wait_for(&["counters: ", "interface=vtid0"], T);
        v.wait_for(&["counters: ", "interface=ipsec7"], T);
        let log = v.log();
        for ifname in ["vtid0", "ipsec7"] {
            let l = log
                .lines()
                .rfind(|l| l.contains("counters: ") && l.contains(&format!("interface={ifname}")))
                .unwrap();
            let pin: u64 = common::field(l, "packets_in").parse().unwrap();
            let pout: u64 = common::field(l, "packets_out").parse().unwrap();
            assert!(pin >= 25 && pout >= 25, "{}: {l}", v.name);
        }
    }
}

/// ESN negotiated and plain ESP (IP protocol 50) without NAT and without
/// `encap`: both ends install with ESN, the wire carries `esp`, not UDP.
#[test]
fn esn_and_plain_esp() {
    let s = site("esn");
    let (a, b) = routed_pair(&s, "esn", "", "aes128gcm16-esn");
    let cap = Capture::start(&s.inet, "wa", "esp or udp", "wire");
    let mut vb = start_vtid(&s, &s.gb, "vtid-b", &b);
    let mut va = start_vtid(&s, &s.ga, "vtid-a", &a);
    va.wait_for(&["CHILD_SA vti{", " up: "], T);
    for v in [&mut va, &mut vb] {
        let l = v.wait_for(&["dataplane(userspace): install", "child=vti"], T);
        assert!(
            l.contains("encap=no") && l.contains("esn=yes"),
            "{}: {l}",
            v.name
        );
    }
    ping_ok(&s.ha, HB, None);
    let r = s.ha.ping(HB).count(20).interval(0.02).run().unwrap();
    assert!(r.all_received(), "{:?}", r.output);
    let pcap = cap.finish();
    let plain = fields(&pcap, "esp && !udp", &["ip.proto", "esp.spi"]);
    let in_udp = fields(&pcap, "udp.port == 4500", &["frame.number"]);
    assert!(plain.len() >= 40, "plain ESP packets: {}", plain.len());
    assert!(plain.iter().all(|f| f[0] == "50"), "{plain:?}");
    assert!(in_udp.is_empty(), "UDP 4500 on the wire: {}", in_udp.len());
}

/// The automatic gateway goes down when the peer dies (SIGKILL) and up
/// again when it returns (dpd_action = restart, keyingtries = 0).
#[test]
fn gateway_follows_the_peer() {
    let s = site("gateway");
    let (mut a, b) = routed_pair(&s, "gateway", "dpd_action = restart", "aes128gcm16");
    a.conn_extra = "dpd_delay = 1s\n    keyingtries = 0".into();
    let mut vb = start_vtid(&s, &s.gb, "vtid-b", &b);
    let mut va = start_vtid(&s, &s.ga, "vtid-a", &a);
    va.wait_for(&["CHILD_SA vti{", " up: "], T);
    va.wait_for(&["gateway IPSEC7_VTIV4", "-> up"], T);
    va.wait_for(&["gateway IPSEC7_VTIV6", "-> up"], T);
    // The control socket shows both gateways up, with a measured latency.
    let sock = va.conf_path.with_file_name("vtid-a.vici");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vtictl"))
        .args(["--socket", sock.to_str().unwrap(), "--json", "gateways"])
        .output()
        .expect("run vtictl");
    let json = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "vtictl gateways: {json}");
    let v: serde_json::Value = serde_json::from_str(&json).expect("vtictl --json");
    for name in ["IPSEC7_VTIV4", "IPSEC7_VTIV6"] {
        let g = v
            .as_array()
            .and_then(|a| a.iter().find(|g| g["name"] == name))
            .unwrap_or_else(|| panic!("{name} missing: {json}"));
        assert_eq!(g["status"], "up", "{g}");
        assert_eq!(g["interface"], "ipsec7", "{g}");
        assert!(
            g["latency"].as_str().is_some_and(|l| l.ends_with("ms")),
            "{g}"
        );
    }
    vb.signal("KILL");
    vb.wait_exit(Duration::from_secs(5)).unwrap();
    drop(vb);
    va.wait_for(
        &["gateway IPSEC7_VTIV4", "-> down"],
        Duration::from_secs(30),
    );
    va.wait_for(
        &["gateway IPSEC7_VTIV6", "-> down"],
        Duration::from_secs(30),
    );
    // routes go with the SA once DPD gives up
    va.wait_for(&["CHILD_SA vti down"], Duration::from_secs(30));
    // Counted as a DPD timeout, after the DPD request's retransmits.
    let stats = vtictl_json(&va, &["stats"]);
    assert_eq!(json_u64(&stats["vtid"]["dpd-timeouts"]), 1, "{stats}");
    assert!(json_u64(&stats["vtid"]["retransmits"]) >= 2, "{stats}");
    let _vb2: Vtid = start_vtid(&s, &s.gb, "vtid-b2", &b);
    wait(Duration::from_secs(40), "gateways up again", || {
        va.count(&["gateway IPSEC7_VTIV4", "-> up"]) >= 2
            && va.count(&["gateway IPSEC7_VTIV6", "-> up"]) >= 2
    });
    ping_ok(&s.ha, HB, None);
}

/// SIGHUP with changed interfaces: monitor settings apply at once (the
/// gateways restart with them); a new interface and changed routes are
/// reported as needing a restart.
#[test]
fn reload_applies_monitor_settings_and_reports_the_rest() {
    let s = site("reload");
    let mut a = Conf::side(true);
    a.interfaces = ipsec7(true, "");
    a.children
        .push(Child::new("vti", 7, "0.0.0.0/0, ::/0", "0.0.0.0/0, ::/0"));
    let mut va = start_vtid(&s, &s.ga, "vtid-a", &a);
    va.wait_for(&["gateway IPSEC7_VTIV4 on ipsec7", "every 1s"], T);
    a.interfaces = format!(
        "  ipsec7 {{\n    reqid = 7\n    local_addr = {TA}/30, {TA6}/126\n    remote_addr = {TB}, {TB6}\n    \
         routes = 10.2.0.0/24, 10.3.0.0/24\n    monitor_interval = 2\n  }}\n  ipsec8 {{\n    reqid = 8\n    \
         local_addr = 10.6.108.1/30\n    remote_addr = 10.6.108.2\n  }}\n"
    );
    fs::write(&va.conf_path, a.render()).unwrap();
    va.signal("HUP");
    va.wait_for(&["reload: new interface ipsec8 cannot be created"], T);
    va.wait_for(&["reload: interface ipsec7:", "restart vtid"], T);
    va.wait_for(
        &["gateway monitor settings changed; restarting the monitors"],
        T,
    );
    va.wait_for(&["gateway IPSEC7_VTIV4 on ipsec7", "every 2s"], T);
    va.wait_for(&["gateway IPSEC7_VTIV6 on ipsec7", "every 2s"], T);
    assert_eq!(va.count(&["gateway IPSEC8_"]), 0, "{}", va.log());
}

/// The userspace data plane as a service sees it. Readiness: READY=1
/// (the `NOTIFY_SOCKET` protocol, a test listener) comes when `ipsec7`
/// exists with its address. Drops at the TUN: `ipsec7` set down under
/// vtid on gb, what gb decrypts for it the TUN refuses; `vtictl --json
/// interfaces` and the metrics endpoint both count them as ipsec7's, and
/// agree. The daemon-wide IKE counters agree too.
#[test]
fn readiness_tun_drops_and_metrics() {
    let s = site("drops");
    let (a, mut b) = routed_pair(&s, "drops", "", "aes128gcm16");
    let port = 9574;
    b.vtid_extra = format!("metrics {{\n    listen = 127.0.0.1:{port}\n  }}");
    let sock = s.lab.workdir().join("notify.sock");
    let rx = UnixDatagram::bind(&sock).unwrap();
    rx.set_read_timeout(Some(T)).unwrap();
    let notify = format!("NOTIFY_SOCKET={}", sock.display());
    let mut vb = Vtid::start(
        s.lab.workdir(),
        "vtid-b",
        &b.render(),
        &["ip", "netns", "exec", s.gb.name(), "env", &notify],
        &["--dataplane", "userspace"],
    );
    let mut buf = [0u8; 1024];
    let n = rx
        .recv(&mut buf)
        .unwrap_or_else(|e| panic!("no READY=1 within {T:?}: {e}\n{}", vb.log()));
    // At once, before anything else can happen: the interface is there.
    let addr = s.gb.exec(&["ip", "-o", "addr", "show", "dev", "ipsec7"]);
    let ready = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(ready.starts_with("READY=1\n"), "{ready}");
    let addr = addr.unwrap_or_else(|e| panic!("READY=1 before ipsec7 exists: {e}"));
    assert!(addr.contains(&format!("{TB}/30")), "{addr}");

    let mut va = start_vtid(&s, &s.ga, "vtid-a", &a);
    va.wait_for(&["CHILD_SA vti{", " up: "], T);
    vb.wait_for(&["CHILD_SA vti{", " up: "], T);
    ping_ok(&s.ga, TB, Some(TA));
    let ipsec7 = |v: &serde_json::Value| -> serde_json::Value {
        v.as_array()
            .and_then(|a| a.iter().find(|i| i["name"] == "ipsec7"))
            .unwrap_or_else(|| panic!("no ipsec7 in {v}"))
            .clone()
    };
    let before = ipsec7(&vtictl_json(&vb, &["interfaces"]));
    assert_eq!(json_u64(&before["tun-write-errors"]), 0, "{before}");

    s.gb.exec(&["ip", "link", "set", "ipsec7", "down"]).unwrap();
    let r = s.ga.ping(TB).from(TA).count(3).interval(0.2).run().unwrap();
    assert_eq!(r.received, 0, "{:?}", r.output);
    wait(T, "TUN write errors on gb's ipsec7", || {
        json_u64(&ipsec7(&vtictl_json(&vb, &["interfaces"]))["tun-write-errors"]) >= 3
    });
    // ga's gateway monitor keeps pinging: the count grows while we look,
    // so the scrape lies between two vtictl readings.
    let v1 = json_u64(&ipsec7(&vtictl_json(&vb, &["interfaces"]))["tun-write-errors"]);
    let m = scrape(&s.gb, port);
    let v2 = json_u64(&ipsec7(&vtictl_json(&vb, &["interfaces"]))["tun-write-errors"]);
    let got = series(
        &m,
        "vtid_interface_drops_total",
        "interface=\"ipsec7\",reason=\"tun_write\"",
    )
    .unwrap_or_else(|| panic!("no tun_write drops of ipsec7 in\n{m}"));
    assert!(
        (v1 as f64) <= got && got <= v2 as f64,
        "metrics {got}, vtictl {v1}..{v2}"
    );
    for reason in ["no_sa", "too_big", "malformed", "send_error"] {
        let labels = format!("interface=\"ipsec7\",reason=\"{reason}\"");
        assert!(
            series(&m, "vtid_interface_drops_total", &labels).is_some(),
            "{labels} missing in\n{m}"
        );
    }
    // Daemon-wide: gb answered moon's IKE_SA_INIT.
    let stats = vtictl_json(&vb, &["stats"]);
    for (key, metric) in [
        ("ike-sa-init-received", "vtid_ike_sa_init_received_total"),
        ("retransmits", "vtid_ike_retransmits_total"),
        ("responses-resent", "vtid_ike_responses_resent_total"),
        ("dpd-timeouts", "vtid_ike_dpd_timeouts_total"),
        ("esp-unknown-spi", "vtid_esp_unknown_spi_drops_total"),
        (
            "esp-socket-overflow",
            "vtid_esp_socket_overflow_drops_total",
        ),
    ] {
        let want = json_u64(&stats["vtid"][key]);
        assert_eq!(series(&m, metric, ""), Some(want as f64), "{key}: {stats}");
    }
    assert!(
        json_u64(&stats["vtid"]["ike-sa-init-received"]) >= 1,
        "{stats}"
    );
}
