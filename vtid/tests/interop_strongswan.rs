//! ROOT / NETWORK-NAMESPACE TESTS: the real `vtid` binary against a real
//! strongSwan charon (kernel-libipsec, so UDP-encapsulated on 4500), in a
//! lab of two namespaces joined by a veth:
//!
//! ```text
//!   moon (vtid, record data plane) 192.0.2.1 ==== 192.0.2.2 sun (charon)
//!   10.1.0.0/24                                              10.2.0.0/24
//! ```
//!
//! For each suite, vtid initiates and responds; `swanctl --list-sas` on the
//! charon side must show the IKE SA ESTABLISHED and the CHILD SA INSTALLED
//! with the suite and SPIs that vtid's record backend installed. Then the
//! bad peers: a wrong PSK and no common proposal. They need root; without
//! it they FAIL saying so.
// Linux only: Linux network namespaces and strongSwan (the FreeBSD build check compiles the portable tests).
#![cfg(target_os = "linux")]

mod common;

use std::time::Duration;

use common::{field, require_root, Conn, Vtid};
use vtid_tests::netns::{Lab, Ns};
use vtid_tests::strongswan::{Charon, ChildState, IkeSa, IkeState, SiteToSite};

const T: Duration = Duration::from_secs(15);

struct Net {
    lab: Lab,
    moon: Ns,
    sun: Ns,
}

fn net(tag: &str) -> Net {
    require_root();
    let mut lab = Lab::new(tag).unwrap_or_else(|e| panic!("{e}"));
    let moon = lab.add_ns("moon").unwrap();
    let sun = lab.add_ns("sun").unwrap();
    lab.veth(
        (&moon, "wan", &["192.0.2.1/24"]),
        (&sun, "wan", &["192.0.2.2/24"]),
    )
    .unwrap();
    // charon's libipsec routes the remote TS via its address in local_ts
    sun.add_addr("lo", "10.2.0.1/32").unwrap();
    Net { lab, moon, sun }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ids {
    Fqdn,
    Ip,
}

impl Ids {
    /// (vtid's, charon's)
    fn pair(self) -> (&'static str, &'static str) {
        match self {
            Ids::Fqdn => ("moon.example.org", "sun.example.org"),
            Ids::Ip => ("192.0.2.1", "192.0.2.2"),
        }
    }
}

fn start_charon(n: &Net, ike: &str, esp: &str, ids: Ids, psk: &str) -> Charon {
    let (v, c) = ids.pair();
    let conf = SiteToSite {
        local_addrs: "192.0.2.2",
        remote_addrs: "192.0.2.1",
        local_id: c,
        remote_id: v,
        local_ts: "10.2.0.0/24",
        remote_ts: "10.1.0.0/24",
        proposals: ike,
        esp_proposals: esp,
        psk,
        ..SiteToSite::default()
    };
    let ch =
        Charon::start(&n.sun, "sun", &conf.swanctl_conf(), None).unwrap_or_else(|e| panic!("{e}"));
    ch.load_all().unwrap_or_else(|e| panic!("{e}"));
    ch
}

fn start_vtid(n: &Net, ike: &str, esp: &str, ids: Ids, initiate: bool) -> Vtid {
    let (v, c) = ids.pair();
    let conf = Conn {
        local_addrs: "192.0.2.1",
        remote_addrs: "192.0.2.2",
        local_id: v,
        remote_id: c,
        proposals: ike,
        esp_proposals: esp,
        start_action: if initiate { "start" } else { "none" },
        ..Conn::default()
    };
    let mut vt = Vtid::start(
        n.lab.workdir(),
        "vtid-moon",
        &conf.render(),
        &["ip", "netns", "exec", n.moon.name()],
        &[],
    );
    vt.wait_for(&["listening on UDP 0.0.0.0:4500"], T);
    vt
}

/// strongSwan's proposal text vs vtid's: vtid writes the key size with
/// `_` (`AES_GCM_16_128`), swanctl's parsed listing with `-`.
fn norm(p: &str) -> String {
    p.replace('-', "_")
}

fn the_sa(c: &Charon) -> IkeSa {
    let sas = c.list_sas().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sas.len(), 1, "charon: {sas:#?}");
    sas.into_iter().next().unwrap()
}

/// Establishes between vtid and charon and checks both views agree.
fn interop(tag: &str, ike: &str, esp: &str, ids: Ids, vtid_initiates: bool) {
    let n = net(tag);
    let charon = start_charon(&n, ike, esp, ids, SiteToSite::default().psk);
    let mut vtid = start_vtid(&n, ike, esp, ids, vtid_initiates);
    if !vtid_initiates {
        charon
            .initiate("net")
            .unwrap_or_else(|e| panic!("{e}\n{}", charon.log_tail(40)));
    }
    let install = vtid.wait_for(&["dataplane(record): install"], T);
    let ike_up = vtid.wait_for(&["IKE_SA lab[", "] up:"], T);
    charon
        .wait_established("lab", "net", T)
        .unwrap_or_else(|e| panic!("{e}\n{}", charon.log_tail(60)));
    let sa = the_sa(&charon);
    let child = sa.child("net").expect("child net").clone();
    eprintln!(
        "== {tag}: vtid {} ==\nvtid:   {install}\nvtid:   {ike_up}\ncharon: IKE_SA {} {:?} {} spi_i={} spi_r={} {}:{} <-> {}:{} initiator={}\ncharon: CHILD_SA {} {:?} reqid={} {} spi_in={} spi_out={} encap={} ts={:?} === {:?}",
        if vtid_initiates { "initiates" } else { "responds" },
        sa.name, sa.state, sa.proposal, sa.spi_i, sa.spi_r, sa.local_host, sa.local_port,
        sa.remote_host, sa.remote_port, sa.initiator,
        child.name, child.state, child.reqid, child.proposal, child.spi_in, child.spi_out,
        child.encap, child.local_ts, child.remote_ts,
    );
    // IKE SA: established, same suite, same SPIs, charon's role mirrored.
    assert_eq!(sa.state, IkeState::Established, "{sa:#?}");
    assert_eq!(sa.initiator, !vtid_initiates);
    assert_eq!(
        norm(&sa.proposal),
        norm(field(&ike_up, "proposal")),
        "IKE proposal; vtid line: {ike_up}"
    );
    assert_eq!(field(&ike_up, "spi_i"), sa.spi_i);
    assert_eq!(field(&ike_up, "spi_r"), sa.spi_r);
    let (vid, cid) = ids.pair();
    assert_eq!((sa.local_id.as_str(), sa.remote_id.as_str()), (cid, vid));
    // kernel-libipsec forces UDP encapsulation: vtid followed to 4500.
    assert_eq!((sa.local_port, sa.remote_port), (4500, 4500), "{sa:#?}");
    // CHILD SA: installed, same suite, SPIs mirrored, encapsulated.
    assert_eq!(child.state, ChildState::Installed, "{child:#?}");
    assert_eq!(
        norm(&child.proposal),
        norm(field(&install, "suite")),
        "ESP suite; vtid: {install}"
    );
    assert_eq!(
        field(&install, "spi_in"),
        child.spi_out,
        "vtid inbound = charon outbound"
    );
    assert_eq!(
        field(&install, "spi_out"),
        child.spi_in,
        "vtid outbound = charon inbound"
    );
    assert!(child.encap);
    assert_eq!(field(&install, "encap"), "yes");
    assert_eq!(field(&install, "local"), "192.0.2.1:4500");
    assert_eq!(field(&install, "remote"), "192.0.2.2:4500");
    assert_eq!(child.local_ts, ["10.2.0.0/24"]);
    assert_eq!(child.remote_ts, ["10.1.0.0/24"]);
    assert!(
        install.contains("ts=10.1.0.0/24 === 10.2.0.0/24"),
        "{install}"
    );

    // SIGTERM: vtid deletes the IKE SA, charon logs the DELETE, vtid
    // exits 0 within the grace period.
    vtid.signal("TERM");
    let st = vtid
        .wait_exit(Duration::from_secs(5))
        .expect("vtid exits within 5 s of SIGTERM");
    assert!(st.success(), "exit status {st}");
    assert!(
        vtid.log().contains("shutdown: every IKE_SA is deleted"),
        "{}",
        vtid.log()
    );
    vtid_tests::netns::wait_until(Duration::from_secs(5), "charon logs the DELETE", || {
        charon.log().contains("received DELETE for IKE_SA lab[")
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", charon.log_tail(30)));
    let left = charon.list_sas().unwrap();
    assert!(left.is_empty(), "charon still has {left:#?}");
}

const AES128GCM: (&str, &str) = ("aes128gcm16-prfsha256-ecp256", "aes128gcm16");
const AES256CBC: (&str, &str) = ("aes256-sha256-modp2048", "aes256-sha256");
const AES256GCM: (&str, &str) = ("aes256gcm16-prfsha384-x25519", "aes256gcm16");
const CHACHA: (&str, &str) = ("chacha20poly1305-prfsha256-ecp384", "chacha20poly1305");

#[test]
fn netns_vtid_initiates_aes128gcm16_prfsha256_ecp256_fqdn() {
    interop("i-gcm128", AES128GCM.0, AES128GCM.1, Ids::Fqdn, true);
}
#[test]
fn netns_vtid_responds_aes128gcm16_prfsha256_ecp256_fqdn() {
    interop("r-gcm128", AES128GCM.0, AES128GCM.1, Ids::Fqdn, false);
}
#[test]
fn netns_vtid_initiates_aes256_sha256_modp2048_ip_ids() {
    interop("i-cbc", AES256CBC.0, AES256CBC.1, Ids::Ip, true);
}
#[test]
fn netns_vtid_responds_aes256_sha256_modp2048_ip_ids() {
    interop("r-cbc", AES256CBC.0, AES256CBC.1, Ids::Ip, false);
}
#[test]
fn netns_vtid_initiates_aes256gcm16_prfsha384_x25519_fqdn() {
    interop("i-gcm256", AES256GCM.0, AES256GCM.1, Ids::Fqdn, true);
}
#[test]
fn netns_vtid_responds_aes256gcm16_prfsha384_x25519_ip_ids() {
    interop("r-gcm256", AES256GCM.0, AES256GCM.1, Ids::Ip, false);
}
#[test]
fn netns_vtid_initiates_chacha20poly1305_prfsha256_ecp384_ip_ids() {
    interop("i-chacha", CHACHA.0, CHACHA.1, Ids::Ip, true);
}
#[test]
fn netns_vtid_responds_chacha20poly1305_prfsha256_ecp384_fqdn() {
    interop("r-chacha", CHACHA.0, CHACHA.1, Ids::Fqdn, false);
}

/// charon initiates with a different PSK: vtid refuses with
/// AUTHENTICATION_FAILED and says why; charon logs the notify.
#[test]
fn netns_wrong_psk_vtid_sends_authentication_failed() {
    let n = net("badpsk");
    let charon = start_charon(&n, AES128GCM.0, AES128GCM.1, Ids::Fqdn, "not-the-same-psk");
    let mut vtid = start_vtid(&n, AES128GCM.0, AES128GCM.1, Ids::Fqdn, false);
    let _ = charon.initiate("net"); // fails, as it should
    let line = vtid.wait_for(
        &["authentication failed", "sending AUTHENTICATION_FAILED"],
        T,
    );
    eprintln!("vtid: {line}");
    vtid_tests::netns::wait_until(T, "charon logs AUTHENTICATION_FAILED", || {
        charon.log().contains("AUTHENTICATION_FAILED")
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", charon.log_tail(30)));
    assert_eq!(vtid.count(&["dataplane(record): install"]), 0);
    assert!(charon
        .list_sas()
        .unwrap()
        .iter()
        .all(|s| s.state != IkeState::Established));
}

/// vtid initiates with a PSK charon does not share: charon answers
/// AUTHENTICATION_FAILED, vtid reports it and installs nothing.
#[test]
fn netns_wrong_psk_vtid_initiator_reports_the_refusal() {
    let n = net("badpsk-i");
    let _charon = start_charon(&n, AES128GCM.0, AES128GCM.1, Ids::Fqdn, "not-the-same-psk");
    let mut vtid = start_vtid(&n, AES128GCM.0, AES128GCM.1, Ids::Fqdn, true);
    let line = vtid.wait_for(&["AUTHENTICATION_FAILED"], T);
    eprintln!("vtid: {line}");
    assert_eq!(vtid.count(&["dataplane(record): install"]), 0);
}

/// No common IKE proposal: vtid answers NO_PROPOSAL_CHOSEN and logs both
/// sides' proposals.
#[test]
fn netns_no_common_proposal_vtid_sends_no_proposal_chosen() {
    let n = net("noprop");
    let charon = start_charon(
        &n,
        "aes256-sha512-modp4096",
        "aes256-sha512",
        Ids::Fqdn,
        SiteToSite::default().psk,
    );
    let mut vtid = start_vtid(&n, AES128GCM.0, AES128GCM.1, Ids::Fqdn, false);
    let _ = charon.initiate("net");
    let line = vtid.wait_for(&["NO_PROPOSAL_CHOSEN"], T);
    eprintln!("vtid: {line}");
    assert!(
        line.contains("AES_CBC_256") && line.contains("MODP_4096"),
        "charon's proposal listed: {line}"
    );
    assert!(
        line.contains("AES_GCM_16_128") && line.contains("ECP_256"),
        "our proposal listed: {line}"
    );
    vtid_tests::netns::wait_until(T, "charon logs NO_PROPOSAL_CHOSEN", || {
        charon.log().contains("NO_PROPOSAL_CHOSEN")
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", charon.log_tail(30)));
}
