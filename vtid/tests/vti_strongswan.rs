//! ROOT / NETWORK-NAMESPACE TESTS: vtid with a routed child (`ipsec7`)
//! against strongSwan charon with kernel-libipsec and a policy-based child
//! whose selectors are the LANs plus the transit /32s — the seed's "only
//! one side supports routed IPsec". vtid initiates and responds; LAN and
//! transit pings; vtid narrows to what charon accepts; the gateway follows
//! charon's death and return.
// Linux only: Linux network namespaces and strongSwan (the FreeBSD build check compiles the portable tests).
#![cfg(target_os = "linux")]

mod common;
mod vtilab;

use std::time::Duration;

use vtid_tests::strongswan::{Charon, ChildState, SiteToSite};
use vtilab::*;

fn charon_conf(extra: &str) -> String {
    SiteToSite {
        local_addrs: GB_WAN,
        remote_addrs: GA_WAN,
        local_id: "sun.example.org",
        remote_id: "moon.example.org",
        local_ts: "10.2.0.0/24,10.6.106.2/32",
        remote_ts: "10.1.0.0/24,10.6.106.1/32",
        psk: "vtid-vti-lab-psk-not-secret",
        extra_conn: extra,
        ..SiteToSite::default()
    }
    .swanctl_conf()
}

fn start_charon(s: &Site, name: &str) -> Charon {
    let c = Charon::start(&s.gb, name, &charon_conf(""), None).unwrap_or_else(|e| panic!("{e}"));
    c.load_all().unwrap_or_else(|e| panic!("{e}"));
    c
}

fn vtid_conf(initiate: bool, child_extra: &str, conn_extra: &str) -> Conf {
    let mut a = Conf::side(true);
    a.interfaces = ipsec7(true, "");
    let mut c = Child::new("vti", 7, "0.0.0.0/0, ::/0", "0.0.0.0/0, ::/0");
    if initiate {
        c.start_action = "start".into();
    }
    c.extra = child_extra.into();
    a.children.push(c);
    a.conn_extra = conn_extra.into();
    a
}

fn check_traffic(s: &Site) {
    ping_ok(&s.ha, HB, None);
    ping_ok(&s.hb, HA, None);
    ping_ok(&s.ga, TB, Some(TA));
    ping_ok(&s.gb, TA, Some(TB));
    let r = s.ha.ping(HB).count(2).run().unwrap();
    assert_eq!(r.ttl, Some(62), "{:?}", r.output);
}

fn routed_vs_policy(vtid_initiates: bool) {
    let s = site(if vtid_initiates { "ss-init" } else { "ss-resp" });
    // charon answers on the transit address it is given
    s.gb.add_addr("lo", "10.6.106.2/32").unwrap();
    let ch = start_charon(&s, "sun");
    let mut va = start_vtid(&s, &s.ga, "vtid-a", &vtid_conf(vtid_initiates, "", ""));
    if !vtid_initiates {
        ch.initiate("net").unwrap_or_else(|e| panic!("{e}"));
    }
    let up = va.wait_for(&["CHILD_SA vti{", " up: "], T);
    assert!(
        up.contains("ts=10.1.0.0/24 10.6.106.1/32 === 10.2.0.0/24 10.6.106.2/32"),
        "{up}"
    );
    if vtid_initiates {
        // vtid proposed 0.0.0.0/0 and ::/0; charon kept its IPv4 subnets
        va.wait_for(&["peer narrowed the IPv6 traffic selectors away"], T);
    }
    let sa = ch
        .wait_established("lab", "net", T)
        .unwrap_or_else(|e| panic!("{e}"));
    let child = sa.child("net").unwrap();
    assert_eq!(child.state, ChildState::Installed);
    assert!(child.encap, "kernel-libipsec always encapsulates");
    check_traffic(&s);
    // the IPv4 gateway is up; the IPv6 one has no SA to carry its probes
    va.wait_for(&["gateway IPSEC7_VTIV4", "-> up"], T);
    va.wait_for(&["gateway IPSEC7_VTIV6", "-> down"], T);
}

#[test]
fn routed_vtid_initiator_vs_policy_charon() {
    routed_vs_policy(true);
}

#[test]
fn routed_vtid_responder_vs_policy_charon() {
    routed_vs_policy(false);
}

/// SIGKILL charon: vtid's gateway goes down; start charon again: vtid's
/// DPD restart brings the tunnel and the gateway back.
#[test]
fn gateway_follows_charon() {
    let s = site("ss-gw");
    s.gb.add_addr("lo", "10.6.106.2/32").unwrap();
    let ch = start_charon(&s, "sun");
    let mut va = start_vtid(
        &s,
        &s.ga,
        "vtid-a",
        &vtid_conf(
            true,
            "dpd_action = restart",
            "dpd_delay = 1s\n    keyingtries = 0",
        ),
    );
    va.wait_for(&["CHILD_SA vti{", " up: "], T);
    va.wait_for(&["gateway IPSEC7_VTIV4", "-> up"], T);
    vtid_tests::netns::signal(ch.pid(), "KILL").unwrap();
    drop(ch);
    va.wait_for(
        &["gateway IPSEC7_VTIV4", "-> down"],
        Duration::from_secs(30),
    );
    va.wait_for(&["CHILD_SA vti down"], Duration::from_secs(30));
    let ch2 = start_charon(&s, "sun2");
    wait(Duration::from_secs(40), "gateway up again", || {
        va.count(&["gateway IPSEC7_VTIV4", "-> up"]) >= 2
    });
    ch2.wait_established("lab", "net", T)
        .unwrap_or_else(|e| panic!("{e}"));
    check_traffic(&s);
}

/// A gateway with two addresses on its WAN, the tunnel on the second:
/// after the switch to port 4500 (kernel-libipsec always encapsulates)
/// vtid's IKE leaves from that address too, whichever side initiates,
/// not from the kernel's choice (the first address), which the peer does
/// not know (RFC 7296 §2.11). The capture on the WAN is the oracle.
#[test]
fn ike_on_port_4500_leaves_from_the_sas_own_address() {
    for vtid_initiates in [true, false] {
        let s = site(if vtid_initiates {
            "ss-src-i"
        } else {
            "ss-src-r"
        });
        s.ga.add_addr("wan", "192.0.2.11/24").unwrap();
        s.gb.add_addr("lo", "10.6.106.2/32").unwrap();
        let conf = SiteToSite {
            local_addrs: GB_WAN,
            remote_addrs: "192.0.2.11",
            local_id: "sun.example.org",
            remote_id: "moon.example.org",
            local_ts: "10.2.0.0/24,10.6.106.2/32",
            remote_ts: "10.1.0.0/24,10.6.106.1/32",
            psk: "vtid-vti-lab-psk-not-secret",
            ..SiteToSite::default()
        }
        .swanctl_conf();
        let ch = Charon::start(&s.gb, "sun", &conf, None).unwrap_or_else(|e| panic!("{e}"));
        ch.load_all().unwrap_or_else(|e| panic!("{e}"));
        let cap = Capture::start(&s.ga, "wan", "udp port 4500", "wan4500");
        let mut a = vtid_conf(vtid_initiates, "", "");
        a.local = "192.0.2.11".into();
        let mut va = start_vtid(&s, &s.ga, "vtid-a", &a);
        if !vtid_initiates {
            ch.initiate("net").unwrap_or_else(|e| panic!("{e}"));
        }
        va.wait_for(&["CHILD_SA vti{", " up: "], T);
        ch.wait_established("lab", "net", T)
            .unwrap_or_else(|e| panic!("{e}"));
        ping_ok(&s.ha, HB, None);
        let pcap = cap.finish();
        let out = std::process::Command::new("tcpdump")
            .args(["-n", "-r"])
            .arg(&pcap)
            .args(["udp port 4500"])
            .output()
            .expect("tcpdump -r");
        let lines = String::from_utf8_lossy(&out.stdout).to_string();
        let from_first: Vec<&str> = lines
            .lines()
            .filter(|l| l.contains(" 192.0.2.1.4500 >"))
            .collect();
        let from_sa = lines
            .lines()
            .filter(|l| l.contains(" 192.0.2.11.4500 >"))
            .count();
        assert!(
            from_first.is_empty(),
            "vtid sent from the host's first address, not the SA's: {from_first:#?}"
        );
        assert!(from_sa >= 2, "nothing from 192.0.2.11:4500:\n{lines}");
        drop(va);
        drop(ch);
    }
}
