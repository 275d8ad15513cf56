//! The automatic gateway in network namespaces: a veth pair `ipsec7` ↔
//! `peer7` carries the transit networks 10.6.106.0/30 and 2001:db8:6::/64
//! (as a VTI would); the monitor runs in the `ipsec7` namespace.
//!
//! Needs root (namespaces, raw ICMP sockets) and iptables/ip6tables; skips
//! with a message otherwise. Traffic stays inside the lab's namespaces.
// Linux only: Linux network namespaces (the FreeBSD build check compiles the portable tests).
#![cfg(target_os = "linux")]

use std::fs::File;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use config::{Interface, IpNet};
use tokio::sync::mpsc::UnboundedReceiver;
use vti::gateway::{GatewayEvent, GatewaySpec, GatewayState, Gateways};
use vtid_tests::netns::{require_root_and_tools, Lab, Ns};

fn interface() -> Interface {
    let net = |a: &str, p| IpNet {
        addr: a.parse().unwrap(),
        prefix: p,
    };
    Interface {
        name: "ipsec7".into(),
        reqid: 7,
        local_addrs: vec![net("10.6.106.1", 30), net("2001:db8:6::1", 64)],
        remote_addrs: vec![
            "10.6.106.2".parse().unwrap(),
            "2001:db8:6::2".parse().unwrap(),
        ],
        routes: vec![],
        mtu: 1400,
        monitor: config::Monitor::Gateway,
        monitor_interval: Duration::from_millis(200),
        mss_clamp: false,
        route_metric: 1,
        description: None,
        location: None,
    }
}

/// Runs `f` on a new thread whose network namespace is `ns`, in a
/// current-thread tokio runtime (so every socket the gateways open lives
/// in `ns`).
fn in_netns<T: Send + 'static>(
    ns: &Ns,
    f: impl FnOnce() -> std::pin::Pin<Box<dyn std::future::Future<Output = T>>> + Send + 'static,
) -> T {
    let path = format!("/run/netns/{}", ns.name());
    std::thread::spawn(move || {
        let file = File::open(&path).expect("open the namespace");
        nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f())
    })
    .join()
    .expect("the namespace thread panicked")
}

/// Waits (bounded) until both gateways reach `state`; returns the events.
async fn wait_both(
    gws: &Gateways,
    rx: &mut UnboundedReceiver<GatewayEvent>,
    state: GatewayState,
    timeout: Duration,
) -> Vec<GatewayEvent> {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + timeout;
    while !["IPSEC7_VTIV4", "IPSEC7_VTIV6"].iter().all(|n| {
        got.iter()
            .any(|e: &GatewayEvent| e.name == *n && e.to == state)
    }) {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(ev)) => got.push(ev),
            Ok(None) => panic!("event channel closed"),
            Err(_) => panic!(
                "not both {state} within {timeout:?}; events: {got:#?}\nnow: {:#?}",
                gws.status()
            ),
        }
    }
    got
}

fn drop_echo(ns: &Ns, action: &str) {
    ns.exec(&[
        "iptables",
        action,
        "INPUT",
        "-p",
        "icmp",
        "--icmp-type",
        "echo-request",
        "-j",
        "DROP",
    ])
    .unwrap();
    ns.exec(&[
        "ip6tables",
        action,
        "INPUT",
        "-p",
        "ipv6-icmp",
        "--icmpv6-type",
        "echo-request",
        "-j",
        "DROP",
    ])
    .unwrap();
}

#[test]
fn gateway_follows_the_tunnel_up_down_up() {
    if let Err(e) = require_root_and_tools(&["ip", "iptables", "ip6tables"]) {
        eprintln!("skipped: {e}");
        return;
    }
    let mut lab = Lab::new("gateway").unwrap();
    let a = lab.add_ns("a").unwrap();
    let b = lab.add_ns("b").unwrap();
    lab.veth(
        (&a, "ipsec7", &["10.6.106.1/30", "2001:db8:6::1/64"]),
        (&b, "peer7", &["10.6.106.2/30", "2001:db8:6::2/64"]),
    )
    .unwrap();
    let b2 = b.clone();
    let hold = Duration::from_secs(1);

    in_netns(&a, move || {
        Box::pin(async move {
            let b = b2;
            let specs: Vec<GatewaySpec> = GatewaySpec::for_interface(&interface())
                .into_iter()
                .map(|mut s| {
                    s.settings.hold_down = hold;
                    s
                })
                .collect();
            assert_eq!(specs.len(), 2);
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let gws = Gateways::from_specs(specs, tx);

            // Up, with a small RTT, from the transit addresses.
            wait_both(&gws, &mut rx, GatewayState::Up, Duration::from_secs(10)).await;
            tokio::time::sleep(Duration::from_secs(1)).await;
            for st in gws.status() {
                assert_eq!(st.state, GatewayState::Up, "{st:?}");
                assert_eq!(st.loss_percent, 0.0, "{st:?}");
                assert!(st.rtt_avg.unwrap() < Duration::from_millis(50), "{st:?}");
                assert!(st.received >= 4, "{st:?}");
                assert_eq!(st.error, None);
                let fam_src: IpAddr = if st.name.ends_with("V4") {
                    "10.6.106.1".parse().unwrap()
                } else {
                    "2001:db8:6::1".parse().unwrap()
                };
                assert_eq!(st.source, Some(fam_src));
                assert_eq!(st.monitor, Some(st.gateway), "monitors the remote transit");
                eprintln!(
                    "{} {} loss {}% rtt {:?} ± {:?}",
                    st.name,
                    st.state,
                    st.loss_percent,
                    st.rtt_avg.unwrap(),
                    st.rtt_stddev.unwrap()
                );
            }

            // The peer stops answering: down, but not before the hold-down.
            // (Commands run off the runtime thread so that the monitors keep
            // running; times are taken after the rule is in place, so they
            // underestimate the delay.)
            let b3 = b.clone();
            tokio::task::spawn_blocking(move || drop_echo(&b3, "-I"))
                .await
                .unwrap();
            let cut = Instant::now();
            let evs = wait_both(&gws, &mut rx, GatewayState::Down, Duration::from_secs(15)).await;
            let took = cut.elapsed();
            eprintln!("down after {took:?}: {evs:#?}");
            assert!(took >= hold, "down before the hold-down: {took:?}");
            for e in evs.iter().filter(|e| e.to == GatewayState::Down) {
                assert_eq!(e.from, GatewayState::Up);
                assert!(e.reason.contains("lost in a row"), "{e:?}");
                assert_eq!(e.status.state, GatewayState::Down);
            }
            for st in gws.status() {
                assert_eq!(st.state, GatewayState::Down, "{st:?}");
            }

            // It answers again: up.
            let b3 = b.clone();
            tokio::task::spawn_blocking(move || drop_echo(&b3, "-D"))
                .await
                .unwrap();
            let back = Instant::now();
            wait_both(&gws, &mut rx, GatewayState::Up, Duration::from_secs(15)).await;
            let took = back.elapsed();
            eprintln!("up again after {took:?}");
            assert!(took >= hold, "up before the hold-down: {took:?}");

            // The link goes away (sends fail): down; back: up. (Linux drops
            // IPv6 addresses of an interface set down unless told not to.)
            b.sysctl(&["net.ipv6.conf.peer7.keep_addr_on_down=1"])
                .unwrap();
            b.ip(&["link", "set", "peer7", "down"]).unwrap();
            wait_both(&gws, &mut rx, GatewayState::Down, Duration::from_secs(15)).await;
            b.ip(&["link", "set", "peer7", "up"]).unwrap();
            wait_both(&gws, &mut rx, GatewayState::Up, Duration::from_secs(20)).await;

            // Shutdown ends the tasks promptly.
            tokio::time::timeout(Duration::from_secs(5), gws.shutdown())
                .await
                .expect("shutdown hangs");
        })
    });
    drop(lab);
}
