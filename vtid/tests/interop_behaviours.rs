//! ROOT / NETWORK-NAMESPACE TESTS: every behaviour strongSwan can exercise
//! against vtid, vtid on one side and charon (kernel-libipsec) on the
//! other, in the moon/sun lab of `interop_strongswan.rs`:
//!
//! * CHILD SA and IKE SA rekeys initiated by either side, and both
//!   initiated at once (collisions);
//! * DPD: vtid detecting a killed charon (dpd_action clear / restart), and
//!   charon's DPD answered by vtid;
//! * DELETE of the CHILD SA and the IKE SA from either side;
//! * INVALID_KE_PAYLOAD both ways;
//! * COOKIE rounds demanded by either side;
//! * garbage datagrams at vtid from a third namespace while an SA is up.
//!
//! Timers are short (seconds) so the whole file runs in well under a
//! minute per test.
// Linux only: Linux network namespaces and strongSwan (the FreeBSD build check compiles the portable tests).
#![cfg(target_os = "linux")]

mod common;

use std::time::Duration;

use common::lab::{
    block_udp, charon_conf, charon_logs, drop_ike_responses, ike_sa_init, settled, socket_in, spis,
    start_charon, up, vtid_conf, CHARON_FAST, T,
};
use common::{counter, field};
use vtid_tests::netns::{signal, wait_until};
use vtid_tests::strongswan::{IkeState, SiteToSite};

// ------------------------------------------------------------ rekeying

#[test]
fn netns_child_rekey_initiated_by_vtid() {
    let v = common::Conn {
        child_extra: "rekey_time = 4s\n        life_time = 60s\n        rand_time = 0",
        ..vtid_conf()
    };
    let mut u = up("rk-child-v", charon_conf(), "", v, true);
    let old = spis(&u.vtid.wait_for(&["dataplane(record): install"], T));
    let line = u.vtid.wait_for(&["CHILD_SA net rekeyed"], T);
    eprintln!("vtid: {line}");
    let (new, sa) = settled(&mut u, T, |v, _| v.0 != old.0);
    assert_ne!(new.1, old.1, "outbound SPI changed too");
    eprintln!("old {old:?} -> new {new:?}; charon {:?}", sa.children[0]);
    // the old inbound SA went from vtid's data plane, and charon says the
    // rekey came from the peer
    assert!(u.vtid.log().contains(&format!(
        "dataplane(record): delete reqid=1 spi_in={}",
        old.0
    )));
    charon_logs(&u.charon, "received DELETE for ESP CHILD_SA with SPI", T);
}

#[test]
fn netns_child_rekey_initiated_by_charon() {
    let mut u = up("rk-child-c", charon_conf(), "", vtid_conf(), true);
    let old = spis(&u.vtid.wait_for(&["dataplane(record): install"], T));
    u.charon.rekey_child("net").unwrap();
    let line = u.vtid.wait_for(&["CHILD_SA net rekeyed"], T);
    eprintln!("vtid: {line}");
    let (new, _) = settled(&mut u, T, |v, _| v.0 != old.0);
    assert_ne!(new.1, old.1);
    assert!(u.vtid.log().contains(&format!(
        "dataplane(record): delete reqid=1 spi_in={}",
        old.0
    )));
}

/// vtid's listing of the IKE SA carries no SPIs, so the new IKE SA is
/// identified by the SPIs of the messages vtid processes on it: its log
/// spans carry `spi=<SPIi>_<SPIr>` of every received datagram.
fn vtid_saw_ike_spis(u: &common::lab::Up, sa: &vtid_tests::strongswan::IkeSa) -> bool {
    u.vtid
        .log()
        .contains(&format!("spi={}_{}", sa.spi_i, sa.spi_r))
}

fn ike_rekey(tag: &str, by_vtid: bool) {
    let v = common::Conn {
        extra: if by_vtid {
            "rekey_time = 4s\n    over_time = 60s\n    rand_time = 0"
        } else {
            ""
        },
        ..vtid_conf()
    };
    let mut u = up(tag, charon_conf(), "", v, true);
    let child = spis(&u.vtid.wait_for(&["dataplane(record): install"], T));
    let before = u.charon.list_sas().unwrap().remove(0);
    if !by_vtid {
        u.charon.rekey_ike("lab").unwrap();
    }
    let line = u.vtid.wait_for(&["IKE_SA lab[1] rekeyed into"], T);
    eprintln!("vtid: {line}");
    let (now, sa) = settled(&mut u, T, |_, sa| sa.spi_i != before.spi_i);
    assert_ne!(sa.spi_r, before.spi_r);
    // the CHILD SA was kept
    assert_eq!(now, child, "CHILD SA kept across the IKE rekey");
    // exercise the new IKE SA: a CHILD rekey over it, seen by vtid on the
    // new SPIs
    u.charon.rekey_child("net").unwrap();
    u.vtid.wait_for(&["CHILD_SA net rekeyed"], T);
    let (_, sa2) = settled(&mut u, T, |v, _| v.0 != child.0);
    assert_eq!(
        (sa2.spi_i.as_str(), sa2.spi_r.as_str()),
        (sa.spi_i.as_str(), sa.spi_r.as_str())
    );
    assert!(
        vtid_saw_ike_spis(&u, &sa),
        "vtid processed messages on {sa:#?}"
    );
    eprintln!(
        "IKE SA {}_{} -> {}_{}",
        before.spi_i, before.spi_r, sa.spi_i, sa.spi_r
    );
}

#[test]
fn netns_ike_rekey_initiated_by_vtid() {
    ike_rekey("rk-ike-v", true);
}

#[test]
fn netns_ike_rekey_initiated_by_charon() {
    ike_rekey("rk-ike-c", false);
}

/// Both sides rekey the same SA while neither hears the other: UDP is
/// dropped in both namespaces, charon is told to rekey, vtid's own timer
/// (rekey_time 5 s, rand_time 0) fires. Then only requests pass, until each
/// side has received the other's request while its own is pending; then
/// the responses too, first towards vtid, then towards charon (answered
/// from the response caches on the next retransmits). A true collision on both sides (RFC 7296 §2.8.1/§2.8.2):
/// exactly one SA must survive on both, with matching SPIs, no leftovers,
/// and the two must agree who won.
fn collision(tag: &str, ike: bool) {
    let v = common::Conn {
        extra: if ike {
            "rekey_time = 5s\n    over_time = 60s\n    rand_time = 0"
        } else {
            ""
        },
        child_extra: if ike {
            ""
        } else {
            "rekey_time = 5s\n        life_time = 60s\n        rand_time = 0"
        },
        ..vtid_conf()
    };
    let mut u = up(tag, charon_conf(), CHARON_FAST, v, true);
    let child = spis(&u.vtid.wait_for(&["dataplane(record): install"], T));
    let before = u.charon.list_sas().unwrap().remove(0);
    block_udp(&u.n.moon, true);
    block_udp(&u.n.sun, true);
    if ike {
        u.charon.rekey_ike("lab").unwrap();
    } else {
        u.charon.rekey_child("net").unwrap();
    }
    charon_logs(&u.charon, "generating CREATE_CHILD_SA request", T);
    if ike {
        u.vtid.wait_for(&["rekeying IKE_SA lab[1]"], T);
    } else {
        u.vtid.wait_for(&["rekeying CHILD_SA with SPI"], T);
    }
    // requests only, until both have seen the other's
    for ns in [&u.n.moon, &u.n.sun] {
        drop_ike_responses(ns, true);
        block_udp(ns, false);
    }
    let kind = if ike { "IKE_SA" } else { "CHILD_SA" };
    charon_logs(
        &u.charon,
        &format!(
            "detected {}_REKEY collision",
            if ike { "IKE" } else { "CHILD" }
        ),
        T,
    );
    u.vtid.wait_for(
        &[&format!("{kind} rekey collision: peer rekeyed it too")],
        T,
    );
    // vtid completes first (its next retransmit is answered from charon's
    // response cache), then charon. (In the other order charon, if it
    // wins, deletes the old IKE SA before vtid's response got through:
    // vtid moves to charon's SA, but cannot delete its redundant one,
    // whose keys it never learned, and charon keeps that one "waiting for
    // delete".)
    drop_ike_responses(&u.n.moon, false);
    let won = format!("{kind} rekey collision won");
    let lost = format!("{kind} rekey collision lost");
    wait_until(T, "vtid resolves the collision", || {
        u.vtid.count(&[&won]) + u.vtid.count(&[&lost]) > 0
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", u.vtid.log()));
    drop_ike_responses(&u.n.sun, false);
    // If vtid lost, charon won. If vtid won, it deletes the old SA at once,
    // which may reach charon before the response to charon's request
    // does (its exchange then ends with the old SA, without a verdict).
    if u.vtid.count(&[&won]) == 0 {
        charon_logs(&u.charon, &won, T);
    }
    let (now, sa) = if ike {
        settled(&mut u, T, |_, sa| sa.spi_i != before.spi_i)
    } else {
        settled(&mut u, T, |v, _| v.0 != child.0)
    };
    for l in u.vtid.lines(&["collision"]) {
        eprintln!("vtid: {l}");
    }
    let clog = u.charon.log();
    for l in clog.lines().filter(|l| l.contains("collision")) {
        eprintln!("charon: {l}");
    }
    assert!(
        clog.contains("collision"),
        "charon saw the collision too\n{}",
        u.charon.log_tail(80)
    );
    // vtid's outbound runs on the survivor
    assert!(
        u.vtid
            .dataplane_sas()
            .iter()
            .all(|l| l.contains("outbound=active")),
        "{}",
        u.vtid.log()
    );
    if ike {
        assert_eq!(now, child, "the CHILD SA moved to the surviving IKE SA");
        // vtid works on the surviving IKE SA: a CHILD rekey over it
        u.charon.rekey_child("net").unwrap();
        u.vtid.wait_for(&["CHILD_SA net rekeyed"], T);
        settled(&mut u, T, |v, _| v.0 != child.0);
        assert!(
            vtid_saw_ike_spis(&u, &sa),
            "vtid processed messages on {sa:#?}"
        );
    }
    eprintln!("survivor: IKE {}_{} CHILD {now:?}", sa.spi_i, sa.spi_r);
}

#[test]
fn netns_child_rekey_collision() {
    collision("coll-child", false);
}

#[test]
fn netns_ike_rekey_collision() {
    collision("coll-ike", true);
}

// ------------------------------------------------------------ DPD

fn vtid_dpd(tag: &str, action: &str) {
    let child_extra = format!("dpd_action = {action}");
    let v = common::Conn {
        extra: "dpd_delay = 1s",
        child_extra: &child_extra,
        ..vtid_conf()
    };
    let mut u = up(tag, charon_conf(), "", v, true);
    // charon dies without a word
    signal(u.charon.pid(), "KILL").unwrap();
    let line = u.vtid.wait_for(&["giving up after"], T);
    eprintln!("vtid: {line}");
    let down = u.vtid.wait_for(&["IKE_SA lab (", "down:"], T);
    eprintln!("vtid: {down}");
    if action == "restart" {
        // a new charon answers the restarted IKE SA
        let c2 = start_charon(&u.n, "sun2", &charon_conf(), "");
        c2.wait_established("lab", "net", T)
            .unwrap_or_else(|e| panic!("{e}"));
        wait_until(T, "vtid's second IKE SA up", || {
            u.vtid.count(&["IKE_SA lab[", "] up:"]) == 2
        })
        .unwrap();
        assert_eq!(u.vtid.dataplane_sas().len(), 1);
    } else {
        wait_until(T, "vtid's data plane empties", || {
            u.vtid.dataplane_sas().is_empty() && u.vtid.ike_sas().is_empty()
        })
        .unwrap();
        std::thread::sleep(Duration::from_secs(2));
        assert_eq!(
            u.vtid.count(&["initiating IKE_SA"]),
            1,
            "no restart on clear"
        );
    }
}

#[test]
fn netns_dpd_vtid_detects_dead_charon_and_clears() {
    vtid_dpd("dpd-clear", "clear");
}

#[test]
fn netns_dpd_vtid_detects_dead_charon_and_restarts() {
    vtid_dpd("dpd-restart", "restart");
}

#[test]
fn netns_dpd_charon_probes_are_answered() {
    let c = SiteToSite {
        dpd_delay: "1s",
        ..charon_conf()
    };
    let mut u = up("dpd-charon", c, "", vtid_conf(), true);
    wait_until(T, "charon sends 3 DPD requests", || {
        u.charon.log().matches("sending DPD request").count() >= 3
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", u.charon.log_tail(40)));
    let log = u.charon.log();
    assert!(!log.contains("retransmit"), "{}", u.charon.log_tail(40));
    let sas = u.charon.list_sas().unwrap();
    assert_eq!(sas.len(), 1);
    assert_eq!(sas[0].state, IkeState::Established);
    assert_eq!(u.vtid.ike_sas().len(), 1);
}

// ------------------------------------------------------------ DELETE

#[test]
fn netns_delete_by_charon_child_then_ike() {
    let mut u = up("del-c", charon_conf(), "", vtid_conf(), true);
    u.charon.terminate_child("net").unwrap();
    u.vtid.wait_for(&["received DELETE for CHILD_SA net"], T);
    wait_until(T, "vtid's CHILD SA gone", || {
        u.vtid.dataplane_sas().is_empty()
    })
    .unwrap();
    assert_eq!(u.vtid.ike_sas().len(), 1, "the IKE SA stays");
    let sas = u.charon.list_sas().unwrap();
    assert_eq!(sas.len(), 1);
    assert!(sas[0].children.is_empty(), "{sas:#?}");
    u.charon.terminate_ike("lab").unwrap();
    u.vtid.wait_for(&["received DELETE for IKE_SA lab[1]"], T);
    wait_until(T, "vtid's IKE SA gone", || u.vtid.ike_sas().is_empty()).unwrap();
    assert!(u.charon.list_sas().unwrap().is_empty());
}

#[test]
fn netns_delete_by_vtid_on_reload_without_the_connection() {
    let mut u = up("del-v", charon_conf(), "", vtid_conf(), false);
    // the same file without the connection (the vtid section kept)
    let conf = std::fs::read_to_string(&u.vtid.conf_path).unwrap();
    let vtid_section = &conf[..conf.find("connections").unwrap()];
    std::fs::write(
        &u.vtid.conf_path,
        format!("{vtid_section}connections {{\n}}\n"),
    )
    .unwrap();
    u.vtid.signal("HUP");
    u.vtid
        .wait_for(&["connection removed, deleting its IKE_SA"], T);
    charon_logs(&u.charon, "received DELETE for IKE_SA lab[", T);
    wait_until(T, "charon's SAs gone", || {
        u.charon.list_sas().is_ok_and(|s| s.is_empty())
    })
    .unwrap();
    wait_until(T, "vtid's SAs gone", || {
        u.vtid.ike_sas().is_empty() && u.vtid.dataplane_sas().is_empty()
    })
    .unwrap();
}

// ------------------------------------------------------------ INVALID_KE

#[test]
fn netns_invalid_ke_vtid_initiator_retries_with_charons_group() {
    let c = SiteToSite {
        proposals: "aes128gcm16-prfsha256-modp2048",
        ..charon_conf()
    };
    let v = common::Conn {
        proposals: "aes128gcm16-prfsha256-ecp256-modp2048",
        ..vtid_conf()
    };
    let u = up("ike-v", c, "", v, true);
    let l = u.vtid.lines(&["peer didn't accept DH group"]);
    assert_eq!(l.len(), 1, "{l:?}");
    assert!(l[0].contains("requested MODP2048"), "{}", l[0]);
    let sa = u.charon.list_sas().unwrap().remove(0);
    assert!(sa.proposal.ends_with("MODP_2048"), "{sa:#?}");
    charon_logs(
        &u.charon,
        "DH group ECP_256 unacceptable, requesting MODP_2048",
        T,
    );
}

#[test]
fn netns_invalid_ke_charon_initiator_retries_with_vtids_group() {
    let c = SiteToSite {
        proposals: "aes128gcm16-prfsha256-ecp256-modp2048",
        ..charon_conf()
    };
    let v = common::Conn {
        proposals: "aes128gcm16-prfsha256-modp2048",
        ..vtid_conf()
    };
    let u = up("ike-c", c, "", v, false);
    let l = u.vtid.lines(&["peer sent KE of group"]);
    assert_eq!(l.len(), 1, "{l:?}");
    eprintln!("vtid: {}", l[0]);
    charon_logs(
        &u.charon,
        "peer didn't accept DH group ECP_256, it requested MODP_2048",
        T,
    );
    let sa = u.charon.list_sas().unwrap().remove(0);
    assert!(sa.proposal.ends_with("MODP_2048"), "{sa:#?}");
}

// ------------------------------------------------------------ cookies

/// COOKIE notifies (type 16390) in the capture: (in responses, in
/// requests).
fn cookie_notifies(pcap: &std::path::Path) -> (usize, usize) {
    let rows = vtid_tests::tshark::fields(pcap, &[], &["isakmp.flag_r", "isakmp.notify.msgtype"]);
    let with: Vec<&Vec<String>> = rows
        .iter()
        .filter(|r| r.get(1).is_some_and(|t| t.split(',').any(|x| x == "16390")))
        .collect();
    let resp = with
        .iter()
        .filter(|r| r[0] == "1" || r[0] == "True")
        .count();
    (resp, with.len() - resp)
}

#[test]
fn netns_cookie_demanded_by_vtid() {
    let n = common::lab::net("cookie-v");
    let charon = start_charon(&n, "sun", &charon_conf(), "");
    let v = common::Conn {
        vtid_extra: "cookie_threshold = 1",
        ..vtid_conf()
    };
    let mut vtid = common::lab::start_vtid(&n, &v);
    let mut cap = n.moon.capture("wan", "udp port 500", "ike").unwrap();
    // one half-open IKE SA from sun's address that never continues
    let s = socket_in(&n.sun, "192.0.2.2");
    let to = "192.0.2.1:500".parse().unwrap();
    s.send_to(&ike_sa_init(to, s.local_addr().unwrap()), to)
        .unwrap();
    wait_until(T, "vtid holds a half-open SA", || {
        counter(&vtid.dump(), "half_open") == 1
    })
    .unwrap();
    charon.initiate("net").unwrap_or_else(|e| panic!("{e}"));
    charon.wait_established("lab", "net", T).unwrap();
    vtid.wait_for(&["dataplane(record): install"], T);
    let st = vtid.dump();
    assert!(counter(&st, "cookies_sent") >= 1, "{st}");
    cap.stop();
    let (resp, req) = cookie_notifies(cap.path());
    eprintln!(
        "COOKIE notifies: {resp} in responses, {req} in requests; {}",
        st.lines().next().unwrap()
    );
    assert!(resp >= 1 && req >= 1, "a COOKIE round on the wire");
    assert!(charon.log().contains("received COOKIE") || charon.log().contains("COOKIE"));
}

#[test]
fn netns_cookie_demanded_by_charon() {
    let n = common::lab::net("cookie-c");
    let charon = start_charon(&n, "sun", &charon_conf(), "cookie_threshold = 1");
    let mut cap = n.moon.capture("wan", "udp port 500", "ike").unwrap();
    let s = socket_in(&n.moon, "192.0.2.1");
    let to = "192.0.2.2:500".parse().unwrap();
    s.send_to(&ike_sa_init(to, s.local_addr().unwrap()), to)
        .unwrap();
    let mut buf = [0u8; 2048];
    s.set_read_timeout(Some(T)).unwrap();
    s.recv_from(&mut buf)
        .expect("charon answers the probe (half-open now)");
    let v = common::Conn {
        start_action: "start",
        ..vtid_conf()
    };
    let mut vtid = common::lab::start_vtid(&n, &v);
    vtid.wait_for(&["received COOKIE, retrying IKE_SA_INIT"], T);
    vtid.wait_for(&["dataplane(record): install"], T);
    charon.wait_established("lab", "net", T).unwrap();
    cap.stop();
    let (resp, req) = cookie_notifies(cap.path());
    eprintln!("COOKIE notifies: {resp} in responses, {req} in requests");
    assert!(resp >= 1 && req >= 1, "a COOKIE round on the wire");
}

// ------------------------------------------------------------ garbage

#[test]
fn netns_garbage_from_a_third_namespace_is_dropped_and_counted() {
    let mut u = up("garbage", charon_conf(), "", vtid_conf(), true);
    let eve = u.n.lab.add_ns("eve").unwrap();
    u.n.lab
        .veth(
            (&u.n.moon, "lan2", &["198.51.100.1/24"]),
            (&eve, "eth0", &["198.51.100.2/24"]),
        )
        .unwrap();
    let s = socket_in(&eve, "198.51.100.2");
    let before = u.vtid.dump();
    let ike_to = "198.51.100.1:500";
    let natt_to = "198.51.100.1:4500";
    let mut rnd = [0u8; 300];
    let real = ike_sa_init("198.51.100.1:500".parse().unwrap(), s.local_addr().unwrap());
    // unknown SPI: a well-formed INFORMATIONAL request header for SPIs
    // nobody has
    let mut unknown = real[..28].to_vec();
    unknown[8..16].copy_from_slice(&[0x42; 8]); // SPIr != 0
    unknown[16] = 0; // next payload: none
    unknown[18] = 37; // INFORMATIONAL
    unknown[19] = 0x08; // initiator
    unknown[24..28].copy_from_slice(&28u32.to_be_bytes());
    let mut sent_ike = 0;
    for i in 0..20u8 {
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut rnd);
        // truncated, random, unknown SPI at 500
        s.send_to(&real[..(i as usize + 5)], ike_to).unwrap();
        s.send_to(&rnd[..(50 + i as usize)], ike_to).unwrap();
        s.send_to(&unknown, ike_to).unwrap();
        sent_ike += 3;
        // at 4500: non-ESP marker + the same, random (ESP with an unknown
        // SPI), runts
        let mut m = vec![0u8; 4];
        m.extend_from_slice(&unknown);
        s.send_to(&m, natt_to).unwrap();
        let mut m = vec![0u8; 4];
        m.extend_from_slice(&real[..(i as usize + 5)]);
        s.send_to(&m, natt_to).unwrap();
        s.send_to(&rnd[..(60 + i as usize)], natt_to).unwrap();
        s.send_to(&rnd[..2], natt_to).unwrap();
    }
    std::thread::sleep(Duration::from_millis(500));
    let after = u.vtid.dump();
    eprintln!(
        "before: {}\nafter:  {}",
        before.lines().next().unwrap(),
        after.lines().next().unwrap()
    );
    let d = |k: &str| counter(&after, k) - counter(&before, k);
    assert!(
        d("malformed") >= 40,
        "truncated and random IKE counted as malformed"
    );
    assert!(d("unknown_spi") >= 40, "unknown-SPI IKE counted");
    assert!(d("runts") >= 20, "runts counted");
    assert!(d("esp") >= 20, "ESP for unknown SPIs counted");
    assert!(d("ike") >= sent_ike, "every IKE datagram seen");
    assert_eq!(counter(&after, "ike_sas"), 1);
    assert_eq!(counter(&after, "half_open"), 0, "nothing created state");
    // still serving: a rekey works
    let old = spis(&u.vtid.wait_for(&["dataplane(record): install"], T));
    u.charon.rekey_child("net").unwrap();
    u.vtid.wait_for(&["CHILD_SA net rekeyed"], T);
    settled(&mut u, T, |v, _| v.0 != old.0);
    let _ = field;
}
