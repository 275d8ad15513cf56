//! `install_routes` (strongSwan's `charon.install_routes`, pfSense sets it
//! to no): a policy-based SA on the shared TUN gets a route for its remote
//! selector in vtid's table by default, and none with `install_routes =
//! false`; a routed interface keeps its own routes either way. One network
//! namespace, no traffic; run as root, the namespace is deleted on drop.
// Linux only: rtnetlink in Linux network namespaces (the FreeBSD build check compiles the portable tests).
#![cfg(target_os = "linux")]

mod lab;

use ike::engine::Ts;
use lab::{Alg, Child, Ns};
use vti::dataplane::DataplaneConfig;

const TABLE: &str = "30324"; // DataplaneConfig::default().table (0x7674)

fn table_routes(ns: &Ns) -> String {
    let o = ns.exec(&["ip", "-4", "route", "show", "table", TABLE]);
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn policy_child(spi: u32) -> Child {
    let mut c = Child::routed(9, Alg::Gcm128, spi, spi + 1);
    c.left_ts = vec![Ts::subnet("10.1.0.0".parse().unwrap(), 24)];
    c.right_ts = vec![Ts::subnet("10.2.0.0".parse().unwrap(), 24)];
    c
}

#[test]
fn install_routes_no_leaves_policy_routes_to_the_operator() {
    lab::require_root();
    for install in [true, false] {
        let ns = Ns::new(format!(
            "vtiir{}{}",
            std::process::id() % 100000,
            u8::from(install)
        ));
        let cfg = DataplaneConfig {
            interfaces: vec![lab::interface(
                "ipsec7",
                7,
                &["10.6.106.1/30"],
                &["10.6.106.2"],
                &["10.7.0.0/24"],
            )],
            install_routes: install,
            ..DataplaneConfig::default()
        };
        let (dp, _ev) = ns.dataplane(cfg);
        dp.apply(&policy_child(0xd100_0001).left(true)).unwrap();
        dp.apply(&Child::routed(7, Alg::Gcm128, 0xd700_0001, 0xd700_0002).left(true))
            .unwrap();
        let t = table_routes(&ns);
        assert_eq!(
            t.lines()
                .any(|l| l.starts_with("10.2.0.0/24 ") && l.contains("dev vtid0")),
            install,
            "install_routes = {install}:\n{t}"
        );
        assert!(
            t.lines()
                .any(|l| l.starts_with("10.7.0.0/24 via 10.6.106.2 dev ipsec7")),
            "the interface's own route, install_routes = {install}:\n{t}"
        );
        drop(dp);
    }
}

/// A policy-based child whose remote selector splits into more routes
/// than `max_routes_per_child` is refused before anything of it is
/// installed; within the limit it gets every route (before, the routes of
/// one range were cut at 64 without a word: 2001:db8::1 to
/// 2001:db8:ffff:ffff:ffff:ffff:ffff:fffe is 2 × 95 = 190 prefixes).
#[test]
fn routes_beyond_the_limit_are_refused_not_cut() {
    lab::require_root();
    let wide = |a: &str, b: &str| Ts {
        proto: 0,
        start_port: 0,
        end_port: 65535,
        start: a.parse().unwrap(),
        end: b.parse().unwrap(),
    };
    let worst = wide("2001:db8::1", "2001:db8:ffff:ffff:ffff:ffff:ffff:fffe");
    for (limit, ok) in [(189usize, false), (190, true)] {
        let ns = Ns::new(format!(
            "vtimr{}{}",
            std::process::id() % 100000,
            u8::from(ok)
        ));
        let cfg = DataplaneConfig {
            max_routes_per_child: limit,
            ..DataplaneConfig::default()
        };
        let (dp, _ev) = ns.dataplane(cfg);
        let mut c = policy_child(0xd200_0001);
        c.left_ts = vec![Ts::subnet("2001:db8:1::".parse().unwrap(), 64)];
        c.right_ts = vec![worst];
        let r = dp.apply(&c.left(true));
        let o = ns.exec(&["ip", "-6", "route", "show", "table", TABLE]);
        let routes = String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| l.contains("dev vtid0"))
            .count();
        if ok {
            r.unwrap();
            assert_eq!(routes, 190, "every prefix of the range routed");
            assert_eq!(dp.sa_stats().len(), 1);
        } else {
            let e = r.expect_err("beyond the limit").to_string();
            assert!(
                e.contains("190 routes") && e.contains("max_policies_per_child = 189"),
                "{e}"
            );
            assert_eq!(routes, 0, "nothing routed");
            assert!(dp.sa_stats().is_empty(), "nothing installed");
        }
        drop(dp);
    }
}
