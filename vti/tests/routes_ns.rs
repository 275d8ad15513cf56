//! Interface routes and interface lifetime in one network namespace (no
//! traffic): two interfaces routing the same prefix with different
//! `route_metric`s (failover), and adopting a pre-created persistent
//! `ipsecN` as pfSense creates it. Run as root; the namespace is deleted
//! on drop, also when a test panics, and every command is bounded
//! (`lab::run`).
// Linux only: rtnetlink in Linux network namespaces (the FreeBSD build check compiles the portable tests).
#![cfg(target_os = "linux")]

mod lab;

use std::sync::atomic::{AtomicU32, Ordering};

use lab::{Alg, Child, Ns};
use vti::dataplane::{Dataplane, DataplaneConfig};

const TABLE: &str = "30324"; // DataplaneConfig::default().table (0x7674)

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh namespace with a name unique to this process and test.
fn namespace(tag: &str) -> Ns {
    lab::require_root();
    Ns::new(format!(
        "vtirt{tag}{}{}",
        std::process::id() % 100000,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

fn table_routes(ns: &Ns, v6: bool) -> String {
    let fam = if v6 { "-6" } else { "-4" };
    // An empty table does not exist for `ip route show`: that is "no routes".
    let o = ns.exec(&["ip", fam, "route", "show", "table", TABLE]);
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The lines of `routes` for `prefix` (one per interface and metric).
fn routes_for<'a>(routes: &'a str, prefix: &str) -> Vec<&'a str> {
    routes
        .lines()
        .filter(|l| l.starts_with(&format!("{prefix} ")))
        .collect()
}

/// The interface an unmarked packet to `dst` leaves by (`ip route get`
/// follows the bypass rules: main without its default route, then the
/// tunnel table).
fn route_dev(ns: &Ns, dst: &str) -> String {
    let out = ns.ip(&["route", "get", dst]);
    out.split_whitespace()
        .skip_while(|w| *w != "dev")
        .nth(1)
        .unwrap_or_else(|| panic!("no dev in `ip route get {dst}`: {out}"))
        .to_owned()
}

/// `/sys/class/net/DEV/carrier` inside the namespace; reading it fails
/// (EINVAL) while the link is down: that is "no carrier" too.
fn carrier(ns: &Ns, dev: &str) -> bool {
    let o = ns.exec(&["cat", &format!("/sys/class/net/{dev}/carrier")]);
    o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == "1"
}

fn link_exists(ns: &Ns, dev: &str) -> bool {
    ns.exec(&["ip", "link", "show", "dev", dev])
        .status
        .success()
}

fn rules(ns: &Ns) -> String {
    ns.ip(&["rule"]) + &ns.ip(&["-6", "rule"])
}

#[test]
fn two_interfaces_routing_one_prefix_fail_over_by_metric() {
    let ns = namespace("m");
    let mut ipsec1 = lab::interface(
        "ipsec1",
        1,
        &["10.6.101.1/30", "2001:db8:61::1/64"],
        &["10.6.101.2", "2001:db8:61::2"],
        &["10.2.0.0/24", "2001:db8:2::/64"],
    );
    ipsec1.route_metric = 1;
    let mut ipsec2 = lab::interface(
        "ipsec2",
        2,
        &["10.6.102.1/30", "2001:db8:62::1/64"],
        &["10.6.102.2", "2001:db8:62::2"],
        &["10.2.0.0/24", "2001:db8:2::/64"],
    );
    ipsec2.route_metric = 2;
    let cfg = DataplaneConfig {
        interfaces: vec![ipsec1, ipsec2],
        shared_tun: None,
        ..DataplaneConfig::default()
    };
    let (dp, _ev) = ns.dataplane(cfg);
    let one = Child::routed(1, Alg::Gcm128, 0xc100_0001, 0xc100_0002);
    let two = Child::routed(2, Alg::Gcm128, 0xc200_0001, 0xc200_0002);
    let r1 = "10.2.0.0/24 via 10.6.101.2 dev ipsec1";
    let r2 = "10.2.0.0/24 via 10.6.102.2 dev ipsec2";
    let r1v6 = "2001:db8:2::/64 via 2001:db8:61::2 dev ipsec1";
    let r2v6 = "2001:db8:2::/64 via 2001:db8:62::2 dev ipsec2";
    let has = |v6: bool, route: &str, metric: u32| {
        let t = table_routes(&ns, v6);
        let prefix = route.split(' ').next().unwrap();
        routes_for(&t, prefix)
            .iter()
            .any(|l| l.starts_with(route) && l.contains(&format!(" metric {metric} ")))
    };
    assert!(table_routes(&ns, false).is_empty());

    // Only ipsec2 up: its route alone.
    dp.apply(&two.left(true)).unwrap();
    let t = table_routes(&ns, false);
    assert_eq!(routes_for(&t, "10.2.0.0/24").len(), 1, "{t}");
    assert!(has(false, r2, 2), "{t}");
    assert!(has(true, r2v6, 2), "{}", table_routes(&ns, true));
    assert_eq!(route_dev(&ns, "10.2.0.5"), "ipsec2");
    assert_eq!(route_dev(&ns, "2001:db8:2::5"), "ipsec2");

    // ipsec1 comes up: both routes present, ipsec1's lower metric wins.
    dp.apply(&one.left(true)).unwrap();
    let t = table_routes(&ns, false);
    assert_eq!(routes_for(&t, "10.2.0.0/24").len(), 2, "{t}");
    assert!(has(false, r1, 1) && has(false, r2, 2), "{t}");
    let t6 = table_routes(&ns, true);
    assert_eq!(routes_for(&t6, "2001:db8:2::/64").len(), 2, "{t6}");
    assert!(has(true, r1v6, 1) && has(true, r2v6, 2), "{t6}");
    assert_eq!(route_dev(&ns, "10.2.0.5"), "ipsec1");
    assert_eq!(route_dev(&ns, "2001:db8:2::5"), "ipsec1");

    // ipsec1's SA goes: only its own routes are withdrawn, traffic fails
    // over to ipsec2.
    dp.apply(&one.delete_left()).unwrap();
    let t = table_routes(&ns, false);
    assert_eq!(routes_for(&t, "10.2.0.0/24").len(), 1, "{t}");
    assert!(has(false, r2, 2), "{t}");
    assert!(has(true, r2v6, 2), "{}", table_routes(&ns, true));
    assert!(!has(true, r1v6, 1), "{}", table_routes(&ns, true));
    assert_eq!(route_dev(&ns, "10.2.0.5"), "ipsec2");
    assert_eq!(route_dev(&ns, "2001:db8:2::5"), "ipsec2");

    // ipsec1 comes back and takes over again; then ipsec2 goes and
    // ipsec1's route stays.
    let one = Child::routed(1, Alg::Gcm128, 0xc100_0003, 0xc100_0004);
    dp.apply(&one.left(true)).unwrap();
    assert_eq!(route_dev(&ns, "10.2.0.5"), "ipsec1");
    assert_eq!(route_dev(&ns, "2001:db8:2::5"), "ipsec1");
    dp.apply(&two.delete_left()).unwrap();
    let t = table_routes(&ns, false);
    assert_eq!(routes_for(&t, "10.2.0.0/24").len(), 1, "{t}");
    assert!(has(false, r1, 1), "{t}");
    assert!(has(true, r1v6, 1), "{}", table_routes(&ns, true));
    assert_eq!(route_dev(&ns, "10.2.0.5"), "ipsec1");

    // Dropping the data plane withdraws the rest.
    drop(dp);
    assert!(table_routes(&ns, false).is_empty());
    assert!(table_routes(&ns, true).is_empty());
}

#[test]
fn adopted_ipsec_interface_survives_the_data_plane_created_one_does_not() {
    let ns = namespace("a");
    // pfSense creates ipsecN itself: a persistent TUN, here with its
    // transit address already configured (as after a vtid restart).
    ns.ip(&["tuntap", "add", "dev", "ipsec7", "mode", "tun"]);
    ns.ip(&["addr", "add", "10.6.106.1/30", "dev", "ipsec7"]);
    let cfg = DataplaneConfig {
        interfaces: vec![
            lab::interface(
                "ipsec7",
                7,
                &["10.6.106.1/30"],
                &["10.6.106.2"],
                &["10.2.0.0/24"],
            ),
            lab::interface(
                "ipsec8",
                8,
                &["10.6.108.1/30"],
                &["10.6.108.2"],
                &["10.8.0.0/24"],
            ),
        ],
        shared_tun: None,
        ..DataplaneConfig::default()
    };
    let created = |dp: &Dataplane| -> Vec<(String, bool)> {
        dp.interfaces()
            .map(|t| (t.name().to_owned(), t.created()))
            .collect()
    };

    for round in 0..2 {
        // Round 1 is a restart: ipsec7 is adopted again with the address
        // vtid added before; ipsec8 is created again.
        let (dp, _ev) = ns.dataplane(cfg.clone());
        assert_eq!(
            created(&dp),
            [("ipsec7".to_owned(), false), ("ipsec8".to_owned(), true)],
            "round {round}"
        );
        for (dev, addr) in [("ipsec7", "10.6.106.1/30"), ("ipsec8", "10.6.108.1/30")] {
            let link = ns.ip(&["link", "show", "dev", dev]);
            assert!(
                link.contains("mtu 1400") && link.contains(",UP") && link.contains("NO-CARRIER"),
                "round {round}: {link}"
            );
            assert!(!carrier(&ns, dev), "round {round}: {dev}");
            let addrs = ns.ip(&["-4", "addr", "show", "dev", dev]);
            assert_eq!(
                addrs.matches(addr).count(),
                1,
                "round {round}: one {addr} on {dev}: {addrs}"
            );
        }
        assert!(table_routes(&ns, false).is_empty());
        assert!(rules(&ns).contains("lookup 30324"));

        let c7 = Child::routed(7, Alg::Gcm128, 0xc700_0001 + round, 0xc700_0101 + round);
        let c8 = Child::routed(8, Alg::Gcm128, 0xc800_0001 + round, 0xc800_0101 + round);
        dp.apply(&c7.left(true)).unwrap();
        dp.apply(&c8.left(true)).unwrap();
        for dev in ["ipsec7", "ipsec8"] {
            assert!(carrier(&ns, dev), "round {round}: {dev}");
            let link = ns.ip(&["link", "show", "dev", dev]);
            assert!(link.contains("LOWER_UP"), "round {round}: {link}");
        }
        let t = table_routes(&ns, false);
        assert!(t.contains("10.2.0.0/24 via 10.6.106.2 dev ipsec7"), "{t}");
        assert!(t.contains("10.8.0.0/24 via 10.6.108.2 dev ipsec8"), "{t}");

        // Stop with the SAs still installed (as at shutdown): the adopted
        // device stays, without carrier, routes or rules; the created one
        // is gone.
        drop(dp);
        assert!(link_exists(&ns, "ipsec7"), "round {round}");
        let link = ns.ip(&["link", "show", "dev", "ipsec7"]);
        assert!(link.contains("NO-CARRIER"), "round {round}: {link}");
        assert!(!carrier(&ns, "ipsec7"));
        assert!(!link_exists(&ns, "ipsec8"), "round {round}");
        assert!(table_routes(&ns, false).is_empty(), "round {round}");
        assert!(
            !rules(&ns).contains("30324"),
            "round {round}: {}",
            rules(&ns)
        );
    }
    // Still a persistent TUN that others can attach to.
    let d = ns.ip(&["-d", "link", "show", "dev", "ipsec7"]);
    assert!(
        d.contains("tun type tun") && d.contains("persist on"),
        "{d}"
    );
}
