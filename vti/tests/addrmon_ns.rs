//! The local address monitor in a namespace of its own: the addresses
//! there at start, then addresses added and deleted with `ip`, IPv4 and
//! IPv6, and a tentative IPv6 address reported only once duplicate address
//! detection has finished. The interface is a veth whose other end is in
//! a second namespace (this kernel has no dummy interfaces).
#![cfg(target_os = "linux")]

use std::fs;
use std::net::IpAddr;
use std::time::Duration;

use vti::addrmon::{AddrEvent, AddrMonitor};
use vtid_tests::netns::{self, Lab};

struct Mon {
    rt: tokio::runtime::Runtime,
    rx: tokio::sync::mpsc::UnboundedReceiver<AddrEvent>,
    _mon: AddrMonitor,
}

impl Mon {
    /// The next event within `secs`.
    fn next(&mut self, secs: u64) -> Option<AddrEvent> {
        let rx = &mut self.rx;
        self.rt
            .block_on(async { tokio::time::timeout(Duration::from_secs(secs), rx.recv()).await })
            .ok()
            .flatten()
    }

    fn expect(&mut self, want: AddrEvent) {
        let mut seen = Vec::new();
        while let Some(e) = self.next(10) {
            if e == want {
                return;
            }
            seen.push(e);
        }
        panic!("no {want:?} within 10 s; saw {seen:?}");
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn follows_addresses_in_a_namespace() {
    let mut lab = Lab::new("addrmon").unwrap();
    let ns = lab.add_ns("host").unwrap();
    let peer = lab.add_ns("peer").unwrap();
    lab.veth((&ns, "wan0", &["192.0.2.10/24"]), (&peer, "wan1", &[]))
        .unwrap();
    let idx: u32 = ns
        .exec(&["cat", "/sys/class/net/wan0/ifindex"])
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let path = format!("/run/netns/{}", ns.name());
    let (mon, rx) = std::thread::spawn(move || {
        let f = fs::File::open(&path).unwrap();
        netns::enter(&f).unwrap();
        // A long resync: the events below come from the multicast
        // messages, not from dumps.
        AddrMonitor::start(Duration::from_secs(3600)).unwrap()
    })
    .join()
    .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let mut m = Mon { rt, rx, _mon: mon };

    // What is there at the start (loopback is never reported).
    m.expect(AddrEvent::Added {
        addr: ip("192.0.2.10"),
        ifindex: idx,
    });
    ns.ip(&["addr", "add", "198.51.100.7/24", "dev", "wan0"])
        .unwrap();
    m.expect(AddrEvent::Added {
        addr: ip("198.51.100.7"),
        ifindex: idx,
    });
    ns.ip(&["addr", "add", "2001:db8:7::7/64", "dev", "wan0", "nodad"])
        .unwrap();
    m.expect(AddrEvent::Added {
        addr: ip("2001:db8:7::7"),
        ifindex: idx,
    });
    ns.ip(&["addr", "del", "192.0.2.10/24", "dev", "wan0"])
        .unwrap();
    m.expect(AddrEvent::Removed {
        addr: ip("192.0.2.10"),
        ifindex: idx,
    });
    // With DAD (turned on for this interface): tentative first, usable
    // about a second later; the monitor reports it once, when usable.
    ns.sysctl(&[
        "net.ipv6.conf.wan0.accept_dad=1",
        "net.ipv6.conf.wan0.dad_transmits=1",
    ])
    .unwrap();
    ns.ip(&["addr", "add", "2001:db8:8::8/64", "dev", "wan0"])
        .unwrap();
    let first = ns
        .exec(&["ip", "-6", "addr", "show", "dev", "wan0"])
        .unwrap();
    assert!(first.contains("tentative"), "DAD is not running:\n{first}");
    m.expect(AddrEvent::Added {
        addr: ip("2001:db8:8::8"),
        ifindex: idx,
    });
    let after = ns
        .exec(&["ip", "-6", "addr", "show", "dev", "wan0"])
        .unwrap();
    assert!(
        !after.contains("tentative"),
        "reported while still tentative:\n{after}\n(at add: {first})"
    );
    ns.ip(&["link", "del", "wan0"]).unwrap();
    let mut gone = Vec::new();
    while gone.len() < 3 {
        match m.next(10) {
            Some(AddrEvent::Removed { addr, .. }) => gone.push(addr),
            Some(_) => {}
            None => panic!("removals missing after the link went: {gone:?}"),
        }
    }
    gone.sort();
    assert_eq!(
        gone,
        vec![ip("198.51.100.7"), ip("2001:db8:7::7"), ip("2001:db8:8::8")]
    );
}
