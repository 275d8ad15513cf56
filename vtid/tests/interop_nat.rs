//! ROOT / NETWORK-NAMESPACE TESTS: vtid behind a NAT (`MASQUERADE
//! --random`, so the port the peer sees is random and replies go to the
//! observed port):
//!
//! ```text
//!   moon (vtid) 10.0.0.2 -- 10.0.0.1 nat 192.0.2.254 -- 192.0.2.2 sun
//!                                                   (charon, or a second vtid)
//! ```
//!
//! Both pairs establish with vtid behind the NAT initiating; the NATed
//! vtid reports `nat_local`, the public side `nat_remote` (charon's
//! kernel-libipsec fakes its own NAT detection, so only vtid <-> vtid
//! proves ours), the CHILD SA is UDP-encapsulated, IKE moved to 4500, only
//! the NATed side sends NAT keepalives (1-byte 0xff datagrams, counted in
//! a capture on the NAT's outside; they must leave through the IKE/ESP
//! mapping), and after the NAT forgets its mappings the responder follows
//! the new port on the next authenticated message (moon's DPD).
// Linux only: Linux network namespaces and strongSwan (the FreeBSD build check compiles the portable tests).
#![cfg(target_os = "linux")]

mod common;

use std::time::Duration;

use common::{field, require_root, Conn, Vtid};
use vtid_tests::netns::{wait_until, Capture, Lab, Ns};
use vtid_tests::strongswan::{Charon, SiteToSite};

const T: Duration = Duration::from_secs(20);
const NAT_IP: &str = "192.0.2.254";

struct Net {
    lab: Lab,
    moon: Ns,
    nat: Ns,
    sun: Ns,
}

fn net(tag: &str) -> Net {
    require_root();
    let mut lab = Lab::new(tag).unwrap_or_else(|e| panic!("{e}"));
    let moon = lab.add_ns("moon").unwrap();
    let sun = lab.add_ns("sun").unwrap();
    let nat = lab
        .nat(
            "nat",
            (&moon, "eth0", &["10.0.0.2/24"]),
            &["10.0.0.1/24"],
            &[&format!("{NAT_IP}/24")],
            (&sun, "wan", &["192.0.2.2/24"]),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    sun.add_addr("lo", "10.2.0.1/32").unwrap();
    Net {
        lab,
        moon,
        nat,
        sun,
    }
}

/// moon: behind the NAT, initiates; keepalives every second, DPD every 2 s.
fn moon_conf() -> Conn<'static> {
    Conn {
        local_addrs: "%any",
        remote_addrs: "192.0.2.2",
        start_action: "start",
        extra: "dpd_delay = 2s",
        vtid_extra: "keep_alive = 1s",
        ..Conn::default()
    }
}

fn start_vtid(n: &Net, ns: &Ns, name: &str, c: &Conn<'_>) -> Vtid {
    let mut v = Vtid::start(
        n.lab.workdir(),
        name,
        &c.render(),
        &["ip", "netns", "exec", ns.name()],
        &[],
    );
    v.wait_for(&["listening on UDP 0.0.0.0:4500"], T);
    v
}

/// NAT keepalives (UDP length 9, payload 0xff) on the NAT's outside.
const KEEPALIVES: &str = "udp and udp[4:2] = 9 and udp[8] = 0xff";

/// Source ports of the keepalives from `src` in the capture.
fn keepalive_ports(cap: &Capture, src: &str) -> Vec<u16> {
    cap.lines(&format!("{KEEPALIVES} and src host {src}"))
        .unwrap_or_else(|e| panic!("{e}"))
        .iter()
        .filter_map(|l| {
            // "12:00:00.000 IP 192.0.2.254.61234 > 192.0.2.2.4500: UDP, length 1"
            let src = l.split_whitespace().nth(2)?;
            src.rsplit('.').next()?.parse().ok()
        })
        .collect()
}

#[test]
fn netns_nat_vtid_initiator_behind_nat_charon_responder() {
    let n = net("nat-charon");
    let c = SiteToSite {
        local_addrs: "192.0.2.2",
        remote_addrs: "%any",
        local_id: "sun.example.org",
        remote_id: "moon.example.org",
        local_ts: "10.2.0.0/24",
        remote_ts: "10.1.0.0/24",
        ..SiteToSite::default()
    };
    let charon =
        Charon::start(&n.sun, "sun", &c.swanctl_conf(), None).unwrap_or_else(|e| panic!("{e}"));
    charon.load_all().unwrap();
    let mut cap = n.nat.capture("wan", "udp", "outside").unwrap();
    let mut moon = start_vtid(&n, &n.moon, "vtid-moon", &moon_conf());
    let install = moon.wait_for(&["dataplane(record): install"], T);
    let up = moon.wait_for(&["IKE_SA lab[", "] up:"], T);
    let sa = charon
        .wait_established("lab", "net", T)
        .unwrap_or_else(|e| panic!("{e}"));
    eprintln!("vtid: {up}\nvtid: {install}\ncharon: {sa:#?}");
    assert_eq!(field(&up, "nat_local"), "true", "{up}");
    assert!(sa.nat_remote, "charon sees moon behind a NAT");
    assert_eq!(sa.remote_host, NAT_IP);
    assert_eq!(sa.local_port, 4500, "IKE moved to 4500");
    assert_eq!(field(&install, "encap"), "yes");
    assert_eq!(field(&install, "local"), "10.0.0.2:4500");
    assert_eq!(field(&install, "remote"), "192.0.2.2:4500");
    assert!(sa.child("net").unwrap().encap);
    let port = sa.remote_port;
    // keepalives: from moon's IKE/ESP mapping, one a second
    std::thread::sleep(Duration::from_millis(3500));
    let ka = keepalive_ports(&cap, NAT_IP);
    eprintln!("keepalives from {NAT_IP}: ports {ka:?} (IKE mapping port {port})");
    assert!(ka.len() >= 2, "keepalives sent: {ka:?}");
    assert!(
        ka.iter().all(|p| *p == port),
        "keepalives leave through the NAT-T mapping {port}: {ka:?}"
    );
    // new NAT mapping: charon follows moon's next DPD from the new port
    let how = n.nat.nat_remap().unwrap();
    eprintln!("NAT mappings dropped ({how})");
    let mut moved = None;
    wait_until(T, "charon follows the new port", || {
        moved = charon
            .list_sas()
            .ok()
            .and_then(|s| s.into_iter().next())
            .filter(|s| s.remote_port != port);
        moved.is_some()
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", charon.log_tail(40)));
    let m = moved.unwrap();
    eprintln!(
        "charon: moon moved from {NAT_IP}:{port} to {}:{}",
        m.remote_host, m.remote_port
    );
    assert_eq!(m.remote_host, NAT_IP);
    // and the SA still works: a rekey from charon reaches moon there
    charon.rekey_child("net").unwrap();
    moon.wait_for(&["CHILD_SA net rekeyed"], T);
    cap.stop();
}

#[test]
fn netns_nat_vtid_to_vtid_through_nat() {
    let n = net("nat-vtid");
    let sun_conf = Conn {
        local_addrs: "192.0.2.2",
        remote_addrs: "%any",
        local_id: "sun.example.org",
        remote_id: "moon.example.org",
        local_ts: "10.2.0.0/24",
        remote_ts: "10.1.0.0/24",
        vtid_extra: "keep_alive = 1s",
        ..Conn::default()
    };
    let mut sun = start_vtid(&n, &n.sun, "vtid-sun", &sun_conf);
    let mut cap = n.nat.capture("wan", "udp", "outside").unwrap();
    let mut moon = start_vtid(&n, &n.moon, "vtid-moon", &moon_conf());
    let m_up = moon.wait_for(&["IKE_SA lab[", "] up:"], T);
    let s_up = sun.wait_for(&["IKE_SA lab[", "] up:"], T);
    let m_inst = moon.wait_for(&["dataplane(record): install"], T);
    let s_inst = sun.wait_for(&["dataplane(record): install"], T);
    eprintln!("moon: {m_up}\nsun:  {s_up}\nmoon: {m_inst}\nsun:  {s_inst}");
    // our NAT detection, both sides
    assert_eq!(
        (field(&m_up, "nat_local"), field(&m_up, "nat_remote")),
        ("true", "false"),
        "moon is behind the NAT"
    );
    assert_eq!(
        (field(&s_up, "nat_local"), field(&s_up, "nat_remote")),
        ("false", "true"),
        "sun sees moon behind a NAT"
    );
    // encapsulated, on 4500, sun talks to the observed port
    assert_eq!(field(&m_inst, "encap"), "yes");
    assert_eq!(field(&s_inst, "encap"), "yes");
    assert_eq!(field(&m_inst, "local"), "10.0.0.2:4500");
    assert_eq!(field(&m_inst, "remote"), "192.0.2.2:4500");
    assert_eq!(field(&s_inst, "local"), "192.0.2.2:4500");
    let s_remote = field(&s_inst, "remote").to_string();
    assert!(s_remote.starts_with(&format!("{NAT_IP}:")), "{s_inst}");
    let port: u16 = s_remote.rsplit(':').next().unwrap().parse().unwrap();
    assert_eq!(field(&m_up, "spi_i"), field(&s_up, "spi_i"));
    assert_eq!(field(&m_inst, "spi_in"), field(&s_inst, "spi_out"));
    // keepalives: moon only, through its NAT-T mapping
    std::thread::sleep(Duration::from_millis(3500));
    let from_moon = keepalive_ports(&cap, NAT_IP);
    let from_sun = keepalive_ports(&cap, "192.0.2.2");
    eprintln!("keepalives: moon {from_moon:?} (mapping {port}), sun {from_sun:?}");
    assert!(from_moon.len() >= 2, "{from_moon:?}");
    assert!(from_sun.is_empty(), "the public side sends none");
    assert!(
        from_moon.iter().all(|p| *p == port),
        "keepalives leave through the NAT-T mapping {port}: {from_moon:?}"
    );
    // new mapping: sun follows moon's next DPD (authenticated) there
    let how = n.nat.nat_remap().unwrap();
    eprintln!("NAT mappings dropped ({how})");
    let moved = sun.wait_for(
        &["peer moved from", &format!("{NAT_IP}:{port} to {NAT_IP}:")],
        T,
    );
    let upd = sun.wait_for(&["dataplane(record): update-address"], T);
    eprintln!("sun: {moved}\nsun: {upd}");
    assert!(!upd.contains(&format!("remote={NAT_IP}:{port} ")), "{upd}");
    assert_eq!(field(&upd, "encap"), "yes");
    // the data plane sends there now
    let dps = sun.dataplane_sas();
    assert_eq!(dps.len(), 1, "{dps:?}");
    assert!(
        !dps[0].contains(&format!("remote={NAT_IP}:{port} ")),
        "{dps:?}"
    );
    cap.stop();
}
