//! FreeBSD routing-socket messages (`pfkey::freebsd_route`) and the
//! route preference of `pfkey::backend::routes`, on any system: the
//! encoder round-trips through the parser over the whole range of
//! addresses and prefix lengths, the parser never panics on what a kernel
//! (or anyone writing to a routing socket) could send, and the preferred
//! routes keep exactly the best interface of each prefix installed. The
//! byte layout itself is checked against route(8)'s in `freebsd_golden.rs`.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use pfkey::backend::routes::{PreferredRoutes, Prefix, RouteChange};
use pfkey::freebsd_route::{
    get_message, parse, route_message, sa_size, NextHop, Route, RtAddr, RTA_GATEWAY, RTA_NETMASK,
    RTF_GATEWAY, RTF_HOST, RTF_PINNED, RTM_ADD, RTM_DELETE, RT_MSGHDR_LEN,
};
use proptest::prelude::*;

fn ip_of(v6: bool, bits: u128) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::from(bits))
    } else {
        IpAddr::V4(Ipv4Addr::from(bits as u32))
    }
}

fn masked(a: IpAddr, prefix: u8) -> IpAddr {
    match a {
        IpAddr::V4(v) => {
            let m = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4((u32::from(v) & m).into())
        }
        IpAddr::V6(v) => {
            let m = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6((u128::from(v) & m).into())
        }
    }
}

fn mask_len(a: &RtAddr) -> u32 {
    match a {
        RtAddr::Ip(IpAddr::V4(v)) => u32::from(*v).count_ones(),
        RtAddr::Ip(IpAddr::V6(v)) => u128::from(*v).count_ones(),
        other => panic!("netmask {other:?}"),
    }
}

#[test]
fn next_hop_is_the_gateway_else_the_interface_address_of_the_family() {
    use pfkey::freebsd_route::next_hop;
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    let remote = [ip("10.6.106.2"), ip("2001:db8:ffff::2")];
    let local = [ip("10.6.106.1"), ip("fd00::1")];
    assert_eq!(
        next_hop(&remote, &local, false),
        Some(NextHop::Gateway(ip("10.6.106.2")))
    );
    assert_eq!(
        next_hop(&remote, &local, true),
        Some(NextHop::Gateway(ip("2001:db8:ffff::2")))
    );
    assert_eq!(
        next_hop(&remote[..1], &local, true),
        Some(NextHop::Interface(ip("fd00::1")))
    );
    assert_eq!(next_hop(&[], &local[..1], true), None);
    assert_eq!(next_hop(&[], &[], false), None);
}

#[test]
fn sa_size_rounds_to_long() {
    // SA_SIZE(): 0 → 8, 1..=8 → 8, 16 → 16, 28 → 32, 54 → 56.
    for (l, want) in [
        (0, 8),
        (1, 8),
        (8, 8),
        (9, 16),
        (16, 16),
        (28, 32),
        (54, 56),
        (255, 256),
    ] {
        assert_eq!(sa_size(l), want, "{l}");
    }
}

#[test]
fn truncated_and_inconsistent_messages_are_errors() {
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    let good = route_message(
        true,
        &Route {
            dst: ip("10.2.0.0"),
            prefix: 24,
            via: NextHop::Gateway(ip("10.6.106.2")),
        },
        1,
    )
    .unwrap();
    assert!(parse(&good).is_ok());
    // Every shorter buffer is refused (the header's length says more).
    for n in 0..good.len() {
        assert!(parse(&good[..n]).is_err(), "{n} bytes");
    }
    // rtm_msglen shorter than its sockaddrs.
    let mut short = good.clone();
    short[..2].copy_from_slice(&((RT_MSGHDR_LEN + 20) as u16).to_ne_bytes());
    assert!(parse(&short).is_err());
    // Wrong version.
    let mut v = good.clone();
    v[2] = 4;
    assert!(parse(&v).is_err());
    // A sockaddr claiming more than the message holds.
    let mut big = good;
    big[RT_MSGHDR_LEN + 32] = 200;
    assert!(parse(&big).is_err());
    // The RTM_GET request parses too (the kernel echoes it with the
    // answer's sockaddrs).
    assert!(parse(&get_message(ip("2001:db8::7"), 9)).is_ok());
}

proptest! {
    #[test]
    fn route_messages_round_trip(
        v6 in any::<bool>(),
        dst in any::<u128>(),
        via in any::<u128>(),
        prefix in 0u8..=128,
        gateway in any::<bool>(),
        add in any::<bool>(),
        seq in any::<i32>(),
    ) {
        let max = if v6 { 128 } else { 32 };
        let prefix = prefix % (max + 1);
        let dst = ip_of(v6, dst);
        let via_ip = ip_of(v6, via);
        let r = Route {
            dst,
            prefix,
            via: if gateway { NextHop::Gateway(via_ip) } else { NextHop::Interface(via_ip) },
        };
        let bytes = route_message(add, &r, seq).unwrap();
        let m = parse(&bytes).unwrap();
        prop_assert_eq!(usize::from(m.hdr.msglen), bytes.len());
        prop_assert_eq!(m.hdr.msg_type, if add { RTM_ADD } else { RTM_DELETE });
        prop_assert_eq!(m.hdr.seq, seq);
        prop_assert_eq!(m.hdr.flags & RTF_GATEWAY != 0, gateway);
        prop_assert_eq!(m.hdr.flags & RTF_PINNED != 0, !add);
        prop_assert_eq!(m.hdr.flags & RTF_HOST != 0, prefix == max);
        prop_assert_eq!(m.hdr.addrs & RTA_GATEWAY != 0, true);
        prop_assert_eq!(m.addr(0), Some(&RtAddr::Ip(masked(dst, prefix))));
        prop_assert_eq!(m.addr(1), Some(&RtAddr::Ip(via_ip)));
        if prefix == max {
            prop_assert_eq!(m.hdr.addrs & RTA_NETMASK, 0);
        } else {
            prop_assert_eq!(mask_len(m.addr(2).unwrap()), u32::from(prefix));
        }
        // Over-long prefixes and mixed families are refused, never sent.
        let long = Route { prefix: max + 1, ..r };
        prop_assert!(route_message(add, &long, seq).is_err());
        let mixed = Route { via: NextHop::Gateway(ip_of(!v6, via)), ..r };
        prop_assert!(route_message(add, &mixed, seq).is_err());
    }

    #[test]
    fn parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = parse(&bytes);
    }

    #[test]
    fn parser_never_panics_on_mutated_messages(
        v6 in any::<bool>(),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in any::<usize>(),
    ) {
        let dst = ip_of(v6, 0x0a02_0000);
        let mut b = route_message(
            true,
            &Route { dst, prefix: 16, via: NextHop::Gateway(ip_of(v6, 0x0a06_6a02)) },
            1,
        )
        .unwrap();
        for (at, v) in flips {
            let n = b.len();
            b[at % n] = v;
        }
        let n = b.len();
        b.truncate(cut % (n + 1));
        let _ = parse(&b);
    }
}

/// What a kernel holds after applying the changes, checking that each one
/// is possible (no second route to a prefix, no delete of a route that is
/// not there).
fn apply(table: &mut BTreeMap<Prefix, String>, changes: &[RouteChange]) {
    for c in changes {
        match c {
            RouteChange::Add { prefix, iface } => {
                assert!(table.insert(*prefix, iface.clone()).is_none(), "{c:?}");
            }
            RouteChange::Delete { prefix, iface } => {
                assert_eq!(table.remove(prefix).as_ref(), Some(iface), "{c:?}");
            }
        }
    }
}

#[test]
fn failover_to_the_next_metric_and_back() {
    let p: Prefix = ("10.2.0.0".parse().unwrap(), 24);
    let mut r = PreferredRoutes::new();
    let mut k = BTreeMap::new();
    apply(&mut k, &r.up("ipsec2", 2, &[p]));
    assert_eq!(r.installed(&p), Some("ipsec2"));
    // The preferred interface comes up: the route moves to it.
    let c = r.up("ipsec1", 1, &[p]);
    assert_eq!(
        c,
        vec![
            RouteChange::Delete {
                prefix: p,
                iface: "ipsec2".into()
            },
            RouteChange::Add {
                prefix: p,
                iface: "ipsec1".into()
            },
        ]
    );
    apply(&mut k, &c);
    // Up again: nothing.
    assert!(r.up("ipsec1", 1, &[p]).is_empty());
    // It goes down: back to the standby.
    apply(&mut k, &r.down("ipsec1"));
    assert_eq!(k.get(&p).map(String::as_str), Some("ipsec2"));
    apply(&mut k, &r.down("ipsec2"));
    assert!(k.is_empty());
    assert!(r.down("ipsec2").is_empty());
}

proptest! {
    #[test]
    fn preferred_routes_keep_the_best_interface_installed(
        ops in proptest::collection::vec((0usize..4, any::<bool>(), 1u32..4, 0u8..8), 1..40),
    ) {
        let names = ["ipsec1", "ipsec2", "ipsec3", "ipsec4"];
        let prefixes: Vec<Prefix> = (0u8..3)
            .map(|i| (IpAddr::V4(Ipv4Addr::new(10, i, 0, 0)), 16))
            .collect();
        let mut r = PreferredRoutes::new();
        let mut kernel = BTreeMap::new();
        // The model: which interfaces are up, with their metric and prefixes.
        let mut up: BTreeMap<&str, (u32, Vec<Prefix>)> = BTreeMap::new();
        for (i, go_up, metric, set) in ops {
            let name = names[i];
            let ps: Vec<Prefix> = prefixes
                .iter()
                .enumerate()
                .filter(|(j, _)| set & (1 << j) != 0)
                .map(|(_, p)| *p)
                .collect();
            let changes = if go_up {
                up.entry(name).or_insert((metric, ps.clone()));
                r.up(name, metric, &ps)
            } else {
                up.remove(name);
                r.down(name)
            };
            apply(&mut kernel, &changes);
            for p in &prefixes {
                let best = up
                    .iter()
                    .filter(|(_, (_, ps))| ps.contains(p))
                    .min_by_key(|(n, (m, _))| (*m, **n))
                    .map(|(n, _)| (*n).to_owned());
                prop_assert_eq!(kernel.get(p).cloned(), best.clone());
                prop_assert_eq!(r.installed(p).map(str::to_owned), best);
            }
        }
        let mut rest = r.clear();
        apply(&mut kernel, &rest);
        prop_assert!(kernel.is_empty());
        rest = r.clear();
        prop_assert!(rest.is_empty());
    }
}
