//! ROOT / NETWORK-NAMESPACE TEST: pfSense's routed VTI as pfSense writes it
//! (issue 15 §1). On ga the child has `reqid = 5001`, `policies = no` and
//! the selectors `TRANSIT, 0.0.0.0/0, ::/0`; the interface `ipsec1` is made
//! outside vtid (as pfSense's `ifconfig ipsec1 create reqid 5001`), with
//! its transit address and the route to the far LAN added by "the
//! firewall", and vtid's `interfaces { ipsec1 { reqid = 5001 } }` carries
//! no addresses. gb is an ordinary routed vtid (ipsec7). The tunnel carries
//! LAN traffic, the host's other traffic is left alone (no route of vtid
//! for 0.0.0.0/0, the router still reached in the clear), and ipsec1
//! survives vtid.
// Linux only: Linux network namespaces (the FreeBSD build check compiles the portable tests).
#![cfg(target_os = "linux")]

mod common;
mod vtilab;

use vtilab::*;

#[test]
fn pfsense_vti_child_on_an_interface_made_outside_vtid() {
    let s = site("pfvti");
    // "pfSense": the interface, its transit address, up; no carrier yet.
    s.ga.ip(&["tuntap", "add", "dev", "ipsec1", "mode", "tun"])
        .unwrap();
    s.ga.ip(&["addr", "add", "10.6.106.1/30", "dev", "ipsec1"])
        .unwrap();
    s.ga.ip(&["link", "set", "ipsec1", "up"]).unwrap();

    let mut a = Conf::side(true);
    a.interfaces = "  ipsec1 {\n    reqid = 5001\n  }\n".into();
    a.conn_extra = "dpd_delay = 10s".into();
    let mut c = Child::new(
        "con1",
        5001,
        "10.6.106.1,0.0.0.0/0,::/0",
        "10.6.106.2,0.0.0.0/0,::/0",
    );
    c.start_action = "start".into();
    c.extra = "policies = no\n        dpd_action = restart".into();
    a.children.push(c);
    let mut b = Conf::side(false);
    b.interfaces = ipsec7(false, "");
    b.children
        .push(Child::new("vti", 7, "0.0.0.0/0, ::/0", "0.0.0.0/0, ::/0"));

    let mut vb = start_vtid(&s, &s.gb, "vtid-b", &b);
    let mut va = start_vtid(&s, &s.ga, "vtid-a", &a);
    let up = va.wait_for(&["CHILD_SA con1{", " up: "], T);
    assert!(up.contains("reqid=5001"), "{up}");
    vb.wait_for(&["CHILD_SA vti{", " up: "], T);
    // "pfSense" routes the far LAN over its interface (main table).
    s.ga.ip(&["route", "add", "10.2.0.0/24", "via", TB, "dev", "ipsec1"])
        .unwrap();

    // Transit and LAN to LAN through the tunnel.
    ping_ok(&s.ga, TB, Some(TA));
    ping_ok(&s.ha, HB, None);
    ping_ok(&s.hb, HA, None);
    let dump = va.dump();
    let counters: Vec<&str> = dump
        .lines()
        .filter(|l| l.contains("counters: spi_in=") && l.contains("interface=ipsec1"))
        .collect();
    assert!(!counters.is_empty(), "{dump}");
    let out: u64 = counters
        .iter()
        .map(|l| common::field(l, "packets_out").parse::<u64>().unwrap_or(0))
        .sum();
    let inn: u64 = counters
        .iter()
        .map(|l| common::field(l, "packets_in").parse::<u64>().unwrap_or(0))
        .sum();
    assert!(out >= 3 && inn >= 3, "{dump}");

    // The host's other traffic is left alone: 0.0.0.0/0 selectors and
    // policies = no give no route of vtid's own, the router and the
    // internet behind it are reached directly, and nothing but ESP to the
    // peer goes through vtid.
    let t4 = table(&s.ga, false);
    let t6 = table(&s.ga, true);
    assert!(!t4.contains("default") && !t4.contains("0.0.0.0/0"), "{t4}");
    assert!(!t6.contains("default") && !t6.contains("::/0"), "{t6}");
    for dst in ["192.0.2.254", "198.51.100.254"] {
        let get = s.ga.exec(&["ip", "route", "get", dst]).unwrap();
        assert!(get.contains("dev wan"), "{dst}: {get}");
        ping_ok(&s.ga, dst, None);
    }
    let dump = va.dump();
    let elsewhere: Vec<&str> = dump
        .lines()
        .filter(|l| l.contains("counters: spi_in=") && !l.contains("interface=ipsec1"))
        .collect();
    assert!(elsewhere.is_empty(), "an SA outside ipsec1: {elsewhere:?}");

    // ipsec1 is pfSense's: it outlives vtid, with its address (an
    // interface vtid created would be gone).
    va.signal("TERM");
    assert!(va.wait_exit(T).is_some(), "vtid did not exit");
    let addr = s.ga.ip(&["addr", "show", "dev", "ipsec1"]).unwrap();
    assert!(addr.contains("10.6.106.1/30"), "{addr}");
}
