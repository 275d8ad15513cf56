//! `pools { }` in swanctl.conf: loading, errors with their place, and the
//! pool arithmetic over the whole range of addresses and prefixes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use config::{load_str, AttrKind, AttrValue, PoolAddrs, MAX_POOL_SIZE};
use proptest::prelude::*;

const RA: &str = "\
connections {
  rw {
    pools = rw-v4, rw-v6
    local { auth = psk }
    remote { auth = psk }
  }
  rad {
    pools = radius
    local { auth = psk }
    remote { auth = psk }
  }
  lost {
    pools = nowhere
    local { auth = psk }
    remote { auth = psk }
  }
}
pools {
  rw-v4 {
    addrs = 10.9.0.0/24
    dns = 10.9.0.53, 2001:db8:9::53
    nbns = 10.9.0.54
    split_include = 10.1.0.0/16, 10.2.0.0/16
    split_exclude = 10.1.99.0/24
    subnet = 10.1.0.0/16
    25 = vpn.example.org
    28673 = 192.0.2.9
  }
  rw-v6 {
    addrs = 2001:db8:9::100-2001:db8:9::1ff
  }
  cfg {
    addrs = %config
  }
}
";

#[test]
fn pools_load_with_attributes() {
    let l = load_str(RA, "ra.conf").unwrap();
    let p = &l.config.pools;
    assert_eq!(p.len(), 3);
    assert_eq!(p[0].name, "rw-v4");
    let s = p[0].span().unwrap();
    assert_eq!((s.first.to_string(), s.size), ("10.9.0.1".into(), 254));
    let kinds: Vec<(AttrKind, String)> = p[0]
        .attrs
        .iter()
        .map(|a| (a.kind, a.value.to_string()))
        .collect();
    assert_eq!(
        kinds,
        [
            (AttrKind::Dns, "10.9.0.53".into()),
            (AttrKind::Dns, "2001:db8:9::53".into()),
            (AttrKind::Nbns, "10.9.0.54".into()),
            (AttrKind::SplitInclude, "10.1.0.0/16".into()),
            (AttrKind::SplitInclude, "10.2.0.0/16".into()),
            (AttrKind::SplitExclude, "10.1.99.0/24".into()),
            (AttrKind::Subnet, "10.1.0.0/16".into()),
            (AttrKind::Numeric(25), "vpn.example.org".into()),
            (AttrKind::Numeric(28673), "192.0.2.9".into()),
        ]
    );
    assert_eq!(
        p[0].attrs[7].value,
        AttrValue::Raw(b"vpn.example.org".to_vec())
    );
    assert_eq!(p[1].span().unwrap().size, 256);
    assert_eq!(p[2].addrs, PoolAddrs::Config(None));
    assert_eq!(p[2].span(), None);
    assert_eq!(p[0].location.as_ref().unwrap().line, 19);
    assert_eq!(l.config.connections[0].pools, ["rw-v4", "rw-v6"]);
    // `radius` is the RADIUS server's pool; `nowhere` is warned about at
    // the connection's `pools` key, and nothing else is.
    let w: Vec<String> = l.warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(
        w,
        [
            "ra.conf:13:5: warning: connection 'lost': pool 'nowhere' is not defined in 'pools'; \
          clients get no address from it unless it is loaded over VICI (swanctl --load-pools)"
        ]
    );
}

fn err(text: &str) -> String {
    match load_str(text, "p.conf") {
        Ok(l) => panic!("loaded: {:?}", l.config.pools),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_pools_are_errors_with_their_place() {
    assert_eq!(
        err("pools {\n  a {\n    addrs = 10.0.0.0/24\n  }\n  b {\n    addrs = 10.0.0.200-10.0.1.5\n  }\n}\n"),
        "p.conf:5:3: pool 'b' (10.0.0.200-10.0.1.5) shares addresses with pool 'a' (p.conf:2:3) \
         (10.0.0.0/24); pools must not overlap"
    );
    assert_eq!(
        err("pools {\n  a {\n    dns = 10.0.0.1\n  }\n}\n"),
        "p.conf:2:3: pool 'a' has no 'addrs'"
    );
    assert_eq!(
        err("pools {\n  a {\n    addrs = 10.0.0.0\n  }\n}\n"),
        "p.conf:3:5: invalid value for 'pools.a.addrs': expected a subnet (10.9.0.0/24), a range \
         (10.9.0.10-10.9.0.99) or %config; found '10.0.0.0'"
    );
    assert_eq!(
        err("pools {\n  a {\n    addrs = 10.0.0.255/24\n  }\n}\n"),
        "p.conf:3:5: invalid value for 'pools.a.addrs': pool 10.0.0.255/24 is empty; found \
         '10.0.0.255/24'"
    );
    assert_eq!(
        err("pools {\n  a {\n    addrs = 10.0.0.0/24\n    dns = ns.example\n  }\n}\n"),
        "p.conf:4:5: invalid value for 'pools.a.dns': expected IP addresses or subnets (a/len), \
         found 'ns.example'; found 'ns.example'"
    );
    assert!(
        err("pools {\n  a {\n    addrs = 10.0.0.0/24\n    wins = 10.0.0.1\n  }\n}\n")
            .starts_with("p.conf:4:5: invalid value for 'pools.a.wins': not a pool attribute")
    );
    assert!(
        err("pools {\n  a {\n    addrs = 10.0.0.0/24\n    x { }\n  }\n}\n")
            .starts_with("p.conf:4:5: 'pools.a.x': a pool has no subsections")
    );
    assert!(
        err("pools {\n  a {\n    addrs = 10.0.0.0/24\n    40000 = 1\n  }\n}\n")
            .contains("'pools.a.40000': not a pool attribute")
    );
}

#[test]
fn big_subnets_warn() {
    let l = load_str(
        "pools {\n  v6 {\n    addrs = 2001:db8::/64\n  }\n}\n",
        "b.conf",
    )
    .unwrap();
    assert_eq!(l.config.pools[0].span().unwrap().size, MAX_POOL_SIZE - 2);
    let w: Vec<String> = l.warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(
        w,
        [
            "b.conf:3:5: warning: pool 'v6': 2001:db8::/64 is larger than 2147483648 addresses; \
          only 2147483646 from 2001:db8::1 are handed out"
        ]
    );
}

fn v4() -> impl Strategy<Value = IpAddr> {
    any::<u32>().prop_map(|a| IpAddr::V4(Ipv4Addr::from(a)))
}

fn v6() -> impl Strategy<Value = IpAddr> {
    // Mostly small offsets inside 2001:db8::/96 (where ranges are legal),
    // some anywhere.
    prop_oneof![
        any::<u32>().prop_map(|a| IpAddr::V6(Ipv6Addr::from(
            0x2001_0db8_0000_0000_0000_0000_0000_0000u128 | u128::from(a)
        ))),
        any::<u128>().prop_map(|a| IpAddr::V6(Ipv6Addr::from(a))),
    ]
}

fn u(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

proptest! {
    // Subnets over every prefix length, both families: the pool is never
    // empty when accepted, lies inside the subnet, never hands out the
    // network ID or (for more than two addresses) the broadcast address,
    // and index/addr are inverse over its whole span.
    #[test]
    fn subnets(addr in prop_oneof![v4(), v6()], prefix in 0u8..=128) {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix % (max + 1);
        let text = format!("{addr}/{prefix}");
        let Ok(pa) = PoolAddrs::parse(&text) else {
            // Refused only when empty: the address is the last of its
            // block (its broadcast address).
            let host_bits = (u32::from(max - prefix)).min(31);
            let mask = (1u128 << host_bits) - 1;
            prop_assert!(host_bits > 1 && u(addr) & mask == mask, "{text} refused");
            return Ok(());
        };
        let s = pa.span().unwrap().unwrap();
        prop_assert!(s.size >= 1 && s.size <= MAX_POOL_SIZE);
        let first = u(s.first);
        let last = u(s.last());
        prop_assert!(first >= u(addr));
        prop_assert_eq!(last - first + 1, u128::from(s.size));
        let host_bits = (u32::from(max - prefix)).min(31);
        let block = u(addr) & !((1u128 << host_bits) - 1);
        prop_assert!(first >= block && last < block + (1u128 << host_bits));
        if host_bits >= 2 {
            prop_assert!(first != block, "network ID handed out");
            prop_assert!(last != block + (1u128 << host_bits) - 1, "broadcast handed out");
        }
        for i in [0, s.size / 2, s.size - 1] {
            let a = s.addr(i).unwrap();
            prop_assert_eq!(s.index(a), Some(i));
        }
        prop_assert_eq!(s.addr(s.size), None);
        prop_assert_eq!(PoolAddrs::parse(&pa.to_string()).unwrap(), pa);
    }

    // Ranges: accepted exactly when ordered, one family, within one 2^32
    // block and at most 2^31 addresses; then the span is the range.
    #[test]
    fn ranges(a in prop_oneof![v4(), v6()], b in prop_oneof![v4(), v6()]) {
        let text = format!("{a}-{b}");
        let ok = a.is_ipv4() == b.is_ipv4()
            && u(a) <= u(b)
            && u(a) >> 32 == u(b) >> 32
            && u(b) - u(a) < u128::from(MAX_POOL_SIZE);
        match PoolAddrs::parse(&text) {
            Ok(pa) => {
                prop_assert!(ok, "{text} accepted");
                let s = pa.span().unwrap().unwrap();
                prop_assert_eq!(s.first, a);
                prop_assert_eq!(s.last(), b);
                prop_assert_eq!(s.index(b), Some(s.size - 1));
            }
            Err(_) => prop_assert!(!ok, "{text} refused"),
        }
    }

    // Any text as `addrs` or an attribute never panics the loader.
    #[test]
    fn any_text(addrs in "[ -~]{0,40}", key in "[a-z0-9_]{1,14}", val in "[ -~]{0,40}") {
        let text = format!(
            "pools {{\n p {{\n  addrs = \"{}\"\n  {key} = \"{}\"\n }}\n}}\n",
            addrs.replace(['"', '\\'], ""),
            val.replace(['"', '\\'], "")
        );
        let _ = load_str(&text, "any.conf");
    }
}
