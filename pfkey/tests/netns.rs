//! Kernel tests in throwaway network namespaces.
//!
//! Each `netns_*` test creates a namespace with a unique name, re-runs this
//! test binary inside it (`ip netns exec NAME <binary> --exact inner_* --ignored`)
//! and deletes the namespace afterwards, even when the inner test fails.
//! The `inner_*` tests are `#[ignore]`d and refuse to touch anything unless
//! they are really inside the namespace named in `VTID_PFKEY_NETNS` (same
//! nsfs inode as `/run/netns/NAME`), so `cargo test -- --ignored` cannot
//! change the host's XFRM state.
//!
//! Kernel features that may be missing (ESP, xfrm interfaces) are detected
//! and reported with a "SKIP"/"kernel has no ..." line rather than failing.
// Linux only: Linux network namespaces (the FreeBSD build check compiles the portable tests).
#![cfg(target_os = "linux")]

mod common_netns;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use pfkey::link::{create_xfrm_interface, delete_link, xfrm_interfaces_available, LinkError};
use pfkey::xfrm::{
    group, mode, policy, xfrm_esp_available, Algo, AlgoAuth, Attr, Body, LifetimeCfg, Mark,
    MsgType, Selector, UserTmpl, UserpolicyId, UserpolicyInfo, UsersaId, UsersaInfo, UserspiInfo,
    XfrmError, XfrmId, XfrmSocket, AF_INET, AF_INET6, IPPROTO_ESP,
};

const ENV: &str = "VTID_PFKEY_NETNS";
fn run_in_netns(inner: &str) {
    common_netns::run_in_netns(ENV, "vtid-pfkey", inner);
}

fn in_test_netns() -> bool {
    common_netns::in_test_netns(ENV)
}

fn ip(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().expect("ip");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// One policy as `ip -s xfrm policy` prints it.
#[derive(Debug, Default)]
struct IpPolicy {
    selector: String,
    dir: String,
    priority: u32,
    tmpl_endpoints: Vec<String>,
    reqids: Vec<u32>,
    if_id: Option<u32>,
}

/// Parses `ip -s xfrm policy` output into policies (blocks start with an
/// unindented `src` line).
fn parse_ip_policies(text: &str) -> Vec<IpPolicy> {
    let mut out: Vec<IpPolicy> = Vec::new();
    for line in text.lines() {
        if line.starts_with("src ") {
            out.push(IpPolicy {
                selector: line.trim().to_string(),
                ..IpPolicy::default()
            });
            continue;
        }
        let Some(p) = out.last_mut() else { continue };
        let words: Vec<&str> = line.split_whitespace().collect();
        let after = |k: &str| {
            words
                .iter()
                .position(|w| *w == k)
                .and_then(|i| words.get(i + 1).copied())
        };
        if words.first() == Some(&"dir") {
            p.dir = after("dir").unwrap_or_default().to_string();
            p.priority = after("priority").and_then(|v| v.parse().ok()).unwrap_or(0);
        }
        if words.first() == Some(&"tmpl") {
            p.tmpl_endpoints.push(words[1..].join(" "));
        }
        if let Some(r) = after("reqid") {
            p.reqids.push(r.split('(').next().unwrap().parse().unwrap());
        }
        if words.first() == Some(&"if_id") {
            let v = after("if_id").unwrap();
            p.if_id = Some(u32::from_str_radix(v.trim_start_matches("0x"), 16).unwrap());
        }
    }
    out
}

fn v4(a: [u8; 4]) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(a))
}

fn v6(s: &str) -> IpAddr {
    IpAddr::V6(s.parse::<Ipv6Addr>().unwrap())
}

fn tmpl(src: IpAddr, dst: IpAddr, reqid: u32) -> UserTmpl {
    UserTmpl {
        id: XfrmId {
            daddr: dst.into(),
            spi: 0,
            proto: IPPROTO_ESP,
        },
        family: if src.is_ipv4() { AF_INET } else { AF_INET6 },
        saddr: src.into(),
        reqid,
        mode: mode::TUNNEL,
        share: 0,
        optional: 0,
        aalgos: u32::MAX,
        ealgos: u32::MAX,
        calgos: u32::MAX,
    }
}

fn policy_info(sel: Selector, dir: u8, priority: u32) -> UserpolicyInfo {
    UserpolicyInfo {
        sel,
        lft: LifetimeCfg::infinite(),
        priority,
        dir,
        action: policy::ALLOW,
        ..UserpolicyInfo::default()
    }
}

// ---------------------------------------------------------------------------

#[test]
fn netns_policy_install_readback_delete() {
    run_in_netns("inner_policy_install_readback_delete");
}

#[test]
#[ignore = "runs inside a namespace made by netns_policy_install_readback_delete"]
fn inner_policy_install_readback_delete() {
    if !in_test_netns() {
        return;
    }
    let mut s = XfrmSocket::open().unwrap();

    // IPv4 selector, tunnel template with reqid, no if_id.
    let sel4 = Selector::new(v4([10, 0, 0, 0]), 24, v4([10, 1, 0, 0]), 24);
    let p4 = policy_info(sel4, policy::OUT, 100);
    let t4 = tmpl(v4([192, 0, 2, 1]), v4([192, 0, 2, 2]), 5);
    s.new_policy(&p4, vec![Attr::Tmpl(vec![t4])]).unwrap();

    // IPv6 selector with if_id (route-based), reqid 6.
    let sel6 = Selector::new(v6("2001:db8:1::"), 48, v6("2001:db8:2::"), 48);
    let p6 = policy_info(sel6, policy::IN, 200);
    let t6 = tmpl(v6("2001:db8::2"), v6("2001:db8::1"), 6);
    s.new_policy(&p6, vec![Attr::Tmpl(vec![t6]), Attr::IfId(7)])
        .unwrap();

    // Adding the same policy again is EEXIST (NLM_F_EXCL).
    let dup = s.new_policy(&p4, vec![Attr::Tmpl(vec![t4])]).unwrap_err();
    assert_eq!(dup.errno(), Some(Errno::EEXIST), "{dup}");

    // Read back with GETPOLICY.
    let id4 = UserpolicyId {
        sel: sel4,
        index: 0,
        dir: policy::OUT,
    };
    let got4 = s.get_policy(&id4, vec![]).unwrap();
    assert_eq!(got4.msg_type, MsgType::NEWPOLICY);
    let Body::PolicyInfo(info4) = got4.body else {
        panic!("GETPOLICY reply body {:?}", got4.body)
    };
    assert_eq!(info4.sel, sel4);
    assert_eq!(
        (info4.dir, info4.priority, info4.action),
        (policy::OUT, 100, policy::ALLOW)
    );
    assert_ne!(info4.index, 0, "kernel assigns an index");
    assert_eq!(got4.templates(), &[t4]);
    assert_eq!(got4.if_id(), None);

    let id6 = UserpolicyId {
        sel: sel6,
        index: 0,
        dir: policy::IN,
    };
    // Without the if_id the kernel does not find the route-based policy.
    let miss = s.get_policy(&id6, vec![]).unwrap_err();
    assert!(miss.is_not_found(), "{miss}");
    let got6 = s.get_policy(&id6, vec![Attr::IfId(7)]).unwrap();
    let Body::PolicyInfo(info6) = got6.body else {
        panic!("GETPOLICY reply body {:?}", got6.body)
    };
    assert_eq!(info6.sel, sel6);
    assert_eq!(info6.priority, 200);
    assert_eq!(got6.templates(), &[t6]);
    assert_eq!(got6.if_id(), Some(7));

    // Read back with a dump.
    let dump = s.dump_policy().unwrap();
    assert_eq!(dump.len(), 2, "{dump:#?}");
    assert!(dump.iter().all(|m| m.msg_type == MsgType::NEWPOLICY));
    assert!(dump
        .iter()
        .any(|m| m.if_id() == Some(7) && m.templates() == [t6]));
    assert!(dump
        .iter()
        .any(|m| m.if_id().is_none() && m.templates() == [t4]));

    // And as iproute2 sees it.
    let text = ip(&["-s", "xfrm", "policy"]);
    println!("ip -s xfrm policy:\n{text}");
    let pols = parse_ip_policies(&text);
    assert_eq!(pols.len(), 2, "{pols:#?}");
    let a = pols
        .iter()
        .find(|p| p.selector.starts_with("src 10.0.0.0/24 dst 10.1.0.0/24"))
        .expect("IPv4 policy in ip output");
    assert_eq!((a.dir.as_str(), a.priority), ("out", 100));
    assert_eq!(a.reqids, vec![5]);
    assert_eq!(a.tmpl_endpoints, vec!["src 192.0.2.1 dst 192.0.2.2"]);
    assert_eq!(a.if_id, None);
    let b = pols
        .iter()
        .find(|p| {
            p.selector
                .starts_with("src 2001:db8:1::/48 dst 2001:db8:2::/48")
        })
        .expect("IPv6 policy in ip output");
    assert_eq!((b.dir.as_str(), b.priority), ("in", 200));
    assert_eq!(b.reqids, vec![6]);
    assert_eq!(b.tmpl_endpoints, vec!["src 2001:db8::2 dst 2001:db8::1"]);
    assert_eq!(b.if_id, Some(7));

    // UPDPOLICY replaces in place.
    let mut p4b = p4;
    p4b.priority = 150;
    s.update_policy(&p4b, vec![Attr::Tmpl(vec![t4])]).unwrap();
    let Body::PolicyInfo(info4b) = s.get_policy(&id4, vec![]).unwrap().body else {
        panic!()
    };
    assert_eq!(info4b.priority, 150);

    // Delete both; then they are gone for us and for ip.
    s.delete_policy(&id4, vec![]).unwrap();
    s.delete_policy(&id6, vec![Attr::IfId(7)]).unwrap();
    assert!(s.dump_policy().unwrap().is_empty());
    assert!(ip(&["xfrm", "policy"]).trim().is_empty());
    let again = s.delete_policy(&id4, vec![]).unwrap_err();
    assert!(again.is_not_found(), "{again}");

    // FLUSHPOLICY.
    s.new_policy(&p4, vec![Attr::Tmpl(vec![t4])]).unwrap();
    s.flush_policy().unwrap();
    assert!(s.dump_policy().unwrap().is_empty());
}

fn esp_sa(spi: u32) -> UsersaInfo {
    UsersaInfo {
        id: XfrmId {
            daddr: v4([192, 0, 2, 2]).into(),
            spi,
            proto: IPPROTO_ESP,
        },
        saddr: v4([192, 0, 2, 1]).into(),
        lft: LifetimeCfg::infinite(),
        reqid: 5,
        family: AF_INET,
        mode: mode::TUNNEL,
        replay_window: 32,
        ..UsersaInfo::default()
    }
}

fn esp_attrs() -> Vec<Attr> {
    vec![
        Attr::AlgCrypt(Algo {
            name: "cbc(aes)".into(),
            key_bits: 128,
            key: vec![0x11; 16].into(),
        }),
        Attr::AlgAuthTrunc(AlgoAuth {
            name: "hmac(sha256)".into(),
            key_bits: 256,
            trunc_bits: 128,
            key: vec![0x22; 32].into(),
        }),
        Attr::IfId(7),
        Attr::Mark(Mark { v: 1, m: 0xff }),
    ]
}

#[test]
fn netns_esp_sa_or_missing_esp() {
    run_in_netns("inner_esp_sa_or_missing_esp");
}

#[test]
#[ignore = "runs inside a namespace made by netns_esp_sa_or_missing_esp"]
fn inner_esp_sa_or_missing_esp() {
    if !in_test_netns() {
        return;
    }
    let mut s = XfrmSocket::open().unwrap();
    let sa = esp_sa(0x0000_1001);
    match s.new_sa(&sa, esp_attrs()) {
        Err(e @ XfrmError::NoEsp { .. }) => {
            let text = e.to_string();
            println!("NEWSA: {text}");
            assert!(
                text.contains("kernel has no ESP support (esp4/esp6 modules)"),
                "{text}"
            );
            assert!(text.contains("Requested type not found"), "{text}");
            assert_eq!(e.errno(), Some(Errno::EPROTONOSUPPORT));
            assert!(!xfrm_esp_available().unwrap());
            println!("xfrm_esp_available() = false: --dataplane auto would use userspace ESP");
            assert!(s.dump_sa().unwrap().is_empty(), "probe left no SA behind");
        }
        Ok(()) => {
            println!("kernel has ESP: NEWSA accepted");
            let id = UsersaId {
                daddr: sa.id.daddr,
                spi: sa.id.spi,
                family: AF_INET,
                proto: IPPROTO_ESP,
            };
            let got = s
                .get_sa(&id, vec![Attr::Mark(Mark { v: 1, m: 0xff })])
                .unwrap();
            let Body::SaInfo(info) = got.body else {
                panic!("{:?}", got.body)
            };
            assert_eq!((info.id, info.reqid, info.mode), (sa.id, 5, mode::TUNNEL));
            assert_eq!(got.if_id(), Some(7));
            s.delete_sa(&id, vec![Attr::Mark(Mark { v: 1, m: 0xff })])
                .unwrap();
            assert!(xfrm_esp_available().unwrap());
            assert!(s.dump_sa().unwrap().is_empty(), "probe left no SA behind");
        }
        Err(e) => panic!("NEWSA failed otherwise: {e}"),
    }
}

#[test]
fn netns_allocspi_without_esp() {
    run_in_netns("inner_allocspi_without_esp");
}

#[test]
#[ignore = "runs inside a namespace made by netns_allocspi_without_esp"]
fn inner_allocspi_without_esp() {
    if !in_test_netns() {
        return;
    }
    let mut s = XfrmSocket::open().unwrap();
    let info = esp_sa(0);
    let larval = s
        .alloc_spi(
            &UserspiInfo {
                info,
                min: 0xc000_0100,
                max: 0xc000_01ff,
            },
            vec![],
        )
        .unwrap();
    let spi = larval.id.spi;
    println!("ALLOCSPI gave spi 0x{spi:08x} (no ESP type needed for a larval SA)");
    assert!((0xc000_0100..=0xc000_01ff).contains(&spi));
    assert_eq!(larval.id.proto, IPPROTO_ESP);
    assert_eq!(larval.reqid, 5);

    let id = UsersaId {
        daddr: info.id.daddr,
        spi,
        family: AF_INET,
        proto: IPPROTO_ESP,
    };
    let got = s.get_sa(&id, vec![]).unwrap();
    let Body::SaInfo(g) = got.body else { panic!() };
    assert_eq!(g.id.spi, spi);
    let text = ip(&["xfrm", "state"]);
    println!("ip xfrm state:\n{text}");
    assert!(text.contains(&format!("spi 0x{spi:08x}")), "{text}");

    // Completing the larval SA (UPDSA) needs the ESP type.
    match s.update_sa(&esp_sa(spi), esp_attrs()) {
        Err(e @ XfrmError::NoEsp { .. }) => println!("UPDSA of the larval SA: {e}"),
        Ok(()) => println!("UPDSA of the larval SA succeeded (kernel has ESP)"),
        Err(e) => panic!("UPDSA failed otherwise: {e}"),
    }
    // Delete the larval SA (if UPDSA completed it, it now carries a mark
    // that DELSA would have to repeat; the flush covers that case).
    let _ = s.delete_sa(&id, vec![]);
    s.flush_sa(0).unwrap();
    assert!(s.dump_sa().unwrap().is_empty());
    let missing = s.delete_sa(&id, vec![]).unwrap_err();
    assert!(missing.is_not_found(), "{missing}");
}

#[test]
fn netns_acquire_and_polexpire_events() {
    run_in_netns("inner_acquire_and_polexpire_events");
}

#[test]
#[ignore = "runs inside a namespace made by netns_acquire_and_polexpire_events"]
fn inner_acquire_and_polexpire_events() {
    if !in_test_netns() {
        return;
    }
    // A veth pair gives a route that is not NOXFRM (loopback is).
    ip(&["link", "add", "vt0", "type", "veth", "peer", "name", "vt1"]);
    ip(&["addr", "add", "10.0.0.1/24", "dev", "vt0"]);
    ip(&["link", "set", "vt0", "up"]);
    ip(&["link", "set", "vt1", "up"]);
    ip(&["link", "set", "lo", "up"]);
    ip(&["route", "add", "10.1.0.0/24", "dev", "vt0"]);

    let mut events = XfrmSocket::open_groups(&[group::ACQUIRE, group::EXPIRE]).unwrap();
    let mut s = XfrmSocket::open().unwrap();
    let sel = Selector::new(v4([10, 0, 0, 0]), 24, v4([10, 1, 0, 0]), 24);
    let t = tmpl(v4([10, 0, 0, 1]), v4([10, 1, 0, 1]), 42);
    s.new_policy(
        &policy_info(sel, policy::OUT, 10),
        vec![Attr::Tmpl(vec![t])],
    )
    .unwrap();

    let udp = UdpSocket::bind("10.0.0.1:0").unwrap();
    let sent = udp.send_to(b"trigger", "10.1.0.1:9");
    println!("send through the policy without an SA: {sent:?}");

    let deadline = Instant::now() + Duration::from_secs(3);
    let mut acquire = None;
    while Instant::now() < deadline && acquire.is_none() {
        match events.next_event() {
            Ok(m) if m.msg_type == MsgType::ACQUIRE => acquire = Some(m),
            Ok(m) => println!("other event {:?}", m.msg_type),
            Err(e) => {
                println!("no event: {e}");
                break;
            }
        }
    }
    let acq = acquire.expect("XFRM_MSG_ACQUIRE on XFRMNLGRP_ACQUIRE");
    let Body::Acquire(a) = acq.body else { panic!() };
    println!("ACQUIRE: {a:?} tmpl {:?}", acq.templates());
    assert_eq!(a.id.proto, IPPROTO_ESP);
    assert_eq!(a.id.daddr, v4([10, 1, 0, 1]).into());
    assert_eq!(a.saddr, v4([10, 0, 0, 1]).into());
    assert_eq!(a.sel.daddr, v4([10, 1, 0, 1]).into());
    assert_eq!(a.sel.prefixlen_d, 32);
    assert_eq!(a.policy.sel, sel);
    assert_eq!(a.policy.dir, policy::OUT);
    assert_eq!(acq.templates().first().map(|t| t.reqid), Some(42));

    // A policy with a 1-second hard lifetime expires: POLEXPIRE on the
    // EXPIRE group.
    let sel2 = Selector::new(v4([10, 2, 0, 0]), 24, v4([10, 3, 0, 0]), 24);
    let mut p2 = policy_info(sel2, policy::OUT, 20);
    p2.lft.hard_add_expires_seconds = 1;
    s.new_policy(&p2, vec![]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(6);
    let mut expired = None;
    while Instant::now() < deadline && expired.is_none() {
        match events.next_event() {
            Ok(m) if m.msg_type == MsgType::POLEXPIRE => expired = Some(m),
            Ok(m) => println!("other event {:?}", m.msg_type),
            Err(e) => println!("waiting: {e}"),
        }
    }
    let exp = expired.expect("XFRM_MSG_POLEXPIRE on XFRMNLGRP_EXPIRE");
    let Body::PolExpire(pe) = exp.body else {
        panic!()
    };
    assert_eq!(pe.pol.sel, sel2);
    assert_eq!(pe.hard, 1);
    println!("POLEXPIRE: hard={} sel={:?}", pe.hard, pe.pol.sel);
}

#[test]
fn netns_xfrm_interface_or_missing_module() {
    run_in_netns("inner_xfrm_interface_or_missing_module");
}

#[test]
#[ignore = "runs inside a namespace made by netns_xfrm_interface_or_missing_module"]
fn inner_xfrm_interface_or_missing_module() {
    if !in_test_netns() {
        return;
    }
    match create_xfrm_interface("vtid-x7", 7, Some(1)) {
        Err(e @ LinkError::NoXfrmInterface { .. }) => {
            let text = e.to_string();
            println!("{text}");
            assert!(text.contains("kernel has no xfrm interfaces (xfrm_interface module)"));
            assert!(!xfrm_interfaces_available().unwrap());
        }
        Ok(()) => {
            println!("kernel has xfrm interfaces");
            let link = ip(&["-d", "link", "show", "vtid-x7"]);
            println!("{link}");
            assert!(link.contains("if_id 0x7"), "{link}");
            delete_link("vtid-x7").unwrap();
            assert!(xfrm_interfaces_available().unwrap());
        }
        Err(e) => panic!("RTM_NEWLINK failed otherwise: {e}"),
    }
}

#[test]
fn parse_ip_policy_output() {
    let text = "src 10.0.0.0/24 dst 10.1.0.0/24 uid 0\n\tdir out action allow index 1 priority 100 ptype main share any flag  (0x00000000)\n\ttmpl src 1.1.1.1 dst 2.2.2.2\n\t\tproto esp spi 0x00000000(0) reqid 5(0x00000005) mode tunnel\n\tif_id 0x7\n";
    let p = parse_ip_policies(text);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].dir, "out");
    assert_eq!(p[0].priority, 100);
    assert_eq!(p[0].reqids, vec![5]);
    assert_eq!(p[0].if_id, Some(7));
    assert_eq!(p[0].tmpl_endpoints, vec!["src 1.1.1.1 dst 2.2.2.2"]);
}
