//! The moon (vtid) / sun (charon) lab shared by the behaviour tests, and
//! helpers to craft IKE messages from a namespace.
#![allow(dead_code)]

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use ike::engine::{AddrMatch, ChildConfig, Endpoint, EngineConfig, PeerConfig};
use ike::proposal::{parse_esp_proposals, parse_ike_proposals};
use ike::wire::Identification;
use vtid_tests::netns::{wait_until, Lab, Ns};
use vtid_tests::strongswan::{Charon, ChildState, IkeSa, IkeState, SiteToSite};

use super::{field, require_root, Conn, Vtid};

pub const T: Duration = Duration::from_secs(20);

/// charon retransmits quickly (1 s, constant) and long enough to outlast
/// a blocked path in the collision tests.
pub const CHARON_FAST: &str =
    "retransmit_timeout = 1\n\tretransmit_base = 1.0\n\tretransmit_tries = 10";

pub struct Net {
    pub lab: Lab,
    pub moon: Ns,
    pub sun: Ns,
}

/// moon (vtid) 192.0.2.1 ==== 192.0.2.2 sun (charon).
pub fn net(tag: &str) -> Net {
    require_root();
    let mut lab = Lab::new(tag).unwrap_or_else(|e| panic!("{e}"));
    let moon = lab.add_ns("moon").unwrap();
    let sun = lab.add_ns("sun").unwrap();
    lab.veth(
        (&moon, "wan", &["192.0.2.1/24"]),
        (&sun, "wan", &["192.0.2.2/24"]),
    )
    .unwrap();
    sun.add_addr("lo", "10.2.0.1/32").unwrap();
    Net { lab, moon, sun }
}

/// charon's side of the lab connection.
pub fn charon_conf() -> SiteToSite<'static> {
    SiteToSite {
        local_addrs: "192.0.2.2",
        remote_addrs: "192.0.2.1",
        local_id: "sun.example.org",
        remote_id: "moon.example.org",
        local_ts: "10.2.0.0/24",
        remote_ts: "10.1.0.0/24",
        ..SiteToSite::default()
    }
}

/// vtid's side (rekeyed inbound SAs linger 1 s).
pub fn vtid_conf() -> Conn<'static> {
    Conn {
        local_addrs: "192.0.2.1",
        remote_addrs: "192.0.2.2",
        vtid_extra: "delete_rekeyed_delay = 1s",
        ..Conn::default()
    }
}

pub struct Up {
    pub n: Net,
    pub charon: Charon,
    pub vtid: Vtid,
}

pub fn start_charon(n: &Net, name: &str, c: &SiteToSite<'_>, extra: &str) -> Charon {
    let ch = Charon::start_with(&n.sun, name, &c.swanctl_conf(), None, extra)
        .unwrap_or_else(|e| panic!("{e}"));
    ch.load_all().unwrap_or_else(|e| panic!("{e}"));
    ch
}

pub fn start_vtid(n: &Net, v: &Conn<'_>) -> Vtid {
    let mut vt = Vtid::start(
        n.lab.workdir(),
        "vtid-moon",
        &v.render(),
        &["ip", "netns", "exec", n.moon.name()],
        &[],
    );
    vt.wait_for(&["listening on UDP 0.0.0.0:4500"], T);
    vt
}

/// Starts both, establishes (vtid or charon initiating) and waits for
/// both sides.
pub fn up(
    tag: &str,
    c: SiteToSite<'_>,
    c_extra: &str,
    mut v: Conn<'_>,
    vtid_initiates: bool,
) -> Up {
    let n = net(tag);
    // charon's rekeyed inbound SAs linger 1 s (default 5 s), as vtid's
    let c_extra = format!("delete_rekeyed_delay = 1\n\t{c_extra}");
    let charon = start_charon(&n, "sun", &c, &c_extra);
    v.start_action = if vtid_initiates { "start" } else { "none" };
    let mut vtid = start_vtid(&n, &v);
    if !vtid_initiates {
        charon
            .initiate("net")
            .unwrap_or_else(|e| panic!("{e}\n{}", charon.log_tail(40)));
    }
    vtid.wait_for(&["dataplane(record): install"], T);
    vtid.wait_for(&["IKE_SA lab[", "] up:"], T);
    charon
        .wait_established("lab", "net", T)
        .unwrap_or_else(|e| panic!("{e}\n{}", charon.log_tail(60)));
    Up { n, charon, vtid }
}

/// One record-backend SA line parsed: (spi_in, spi_out).
pub fn spis(line: &str) -> (String, String) {
    (
        field(line, "spi_in").to_string(),
        field(line, "spi_out").to_string(),
    )
}

/// The settled state: exactly one IKE SA with exactly one installed
/// CHILD SA on charon, exactly one IKE SA and one data-plane SA in vtid,
/// and the CHILD SA's SPIs mirrored. Waits (bounded) until it holds and
/// `extra` accepts it; returns (vtid's (spi_in, spi_out), charon's SA).
pub fn settled(
    u: &mut Up,
    timeout: Duration,
    mut extra: impl FnMut(&(String, String), &IkeSa) -> bool,
) -> ((String, String), IkeSa) {
    let deadline = Instant::now() + timeout;
    loop {
        let sas = u.charon.list_sas().unwrap_or_default();
        let dp = u.vtid.dataplane_sas();
        let ike = u.vtid.ike_sas();
        if sas.len() == 1 && dp.len() == 1 && ike.len() == 1 {
            let sa = &sas[0];
            let v = spis(&dp[0]);
            if sa.state == IkeState::Established
                && sa.children.len() == 1
                && sa.children[0].state == ChildState::Installed
                && sa.children[0].spi_in == v.1
                && sa.children[0].spi_out == v.0
                && extra(&v, sa)
            {
                return (v, sa.clone());
            }
        }
        let last = format!("charon: {sas:#?}\nvtid data plane: {dp:#?}\nvtid IKE SAs: {ike:#?}");
        if Instant::now() > deadline {
            panic!(
                "not settled within {timeout:?}\n{last}\n{}",
                u.charon.log_tail(80)
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Drops every UDP datagram arriving in `ns` (`on`) or stops doing so.
pub fn block_udp(ns: &Ns, on: bool) {
    let op = if on { "-I" } else { "-D" };
    ns.exec(&["iptables", op, "INPUT", "-p", "udp", "-j", "DROP"])
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Drops IKE responses arriving in `ns` on port 4500 (`on`) or stops
/// doing so: the IKE header's R flag, behind the 4-byte non-ESP marker,
/// is byte 51 of an IPv4 packet without options.
pub fn drop_ike_responses(ns: &Ns, on: bool) {
    let op = if on { "-I" } else { "-D" };
    ns.exec(&[
        "iptables",
        op,
        "INPUT",
        "-p",
        "udp",
        "--dport",
        "4500",
        "-m",
        "u32",
        "--u32",
        "48&0x20=0x20",
        "-j",
        "DROP",
    ])
    .unwrap_or_else(|e| panic!("{e}"));
}

/// An IKE_SA_INIT request as vtid's engine would send it to `to` (the
/// handshake is never continued: a half-open SA for the receiver).
pub fn ike_sa_init(to: SocketAddr, from: SocketAddr) -> Vec<u8> {
    let mut ep = Endpoint::new(EngineConfig::default(), Box::new(rand_core::OsRng));
    let mut p = PeerConfig::new(
        "probe",
        Identification::Fqdn(b"probe.example.org".to_vec()),
        parse_ike_proposals("aes128gcm16-prfsha256-ecp256").unwrap(),
    );
    p.remote_addrs = vec![AddrMatch::Addr(to.ip())];
    p.remote_port = to.port();
    p.children = vec![ChildConfig::new(
        "c",
        parse_esp_proposals("aes128gcm16").unwrap(),
    )];
    ep.set_local_addrs(Some(from), None);
    ep.load(Instant::now(), vec![p], vec![]);
    ep.initiate(Instant::now(), "probe", None).unwrap();
    ep.poll_transmit().expect("IKE_SA_INIT").data
}

/// A UDP socket in `ns` bound to `ip:0`.
pub fn socket_in(ns: &Ns, ip: &str) -> UdpSocket {
    ns.udp_socket(format!("{ip}:0").parse().unwrap())
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Waits for `what` in charon's log.
pub fn charon_logs(c: &Charon, what: &str, timeout: Duration) {
    wait_until(timeout, &format!("charon logs {what:?}"), || {
        c.log().contains(what)
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", c.log_tail(60)));
}
