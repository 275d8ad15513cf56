//! The real `vtid` binary, two of them on 127.0.0.1 with their own ports:
//! an IKE SA and CHILD SA come up; SIGHUP with a broken file keeps the SA
//! and reports the position; a reload that removes the connection deletes
//! its SAs and one that adds a `start` connection initiates it; SIGTERM
//! sends DELETE and exits 0 in time; garbage is dropped, counted, and the
//! daemon keeps serving. No root needed.

mod common;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use common::moon_sun::moon_sun;
use common::{field, Conn, Vtid};

const T: Duration = Duration::from_secs(10);

struct Pair {
    moon: Vtid,
    sun: Vtid,
    sun_conf: Conn<'static>,
    sun_ports: (u16, u16),
}

/// Starts sun (responder) and moon (initiator, `start_action = start`).
fn pair(tag: &str) -> Pair {
    let ms = moon_sun(tag);
    let moon_conf = Conn {
        start_action: "start",
        ..ms.moon_conf.clone()
    };
    let sun = ms.start_sun(T);
    let moon = Vtid::start(&ms.dir, "moon", &moon_conf.render(), &[], &[]);
    Pair {
        moon,
        sun,
        sun_conf: ms.sun_conf,
        sun_ports: ms.sun_ports,
    }
}

fn established(p: &mut Pair) -> (String, String) {
    let m = p.moon.wait_for(&["dataplane(record): install"], T);
    let s = p.sun.wait_for(&["dataplane(record): install"], T);
    assert_eq!(field(&m, "spi_in"), field(&s, "spi_out"));
    assert_eq!(field(&m, "spi_out"), field(&s, "spi_in"));
    assert_eq!(field(&m, "suite"), "AES_GCM_16-128");
    assert!(m.contains("ts=10.1.0.0/24 === 10.2.0.0/24"), "{m}");
    assert!(s.contains("ts=10.2.0.0/24 === 10.1.0.0/24"), "{s}");
    // no NAT between them: plain ESP, no encapsulation
    assert_eq!(field(&m, "encap"), "no", "{m}");
    assert_eq!(field(&s, "encap"), "no", "{s}");
    (m, s)
}

/// The last `stats:` line after a SIGUSR1.
fn stats(v: &mut Vtid) -> String {
    let before = v.count(&["stats:"]);
    v.signal("USR1");
    let deadline = Instant::now() + T;
    while v.count(&["stats:"]) == before {
        assert!(
            Instant::now() < deadline,
            "no stats after SIGUSR1:\n{}",
            v.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(50));
    v.log()
        .lines()
        .rfind(|l| l.contains("stats:"))
        .unwrap()
        .to_string()
}

fn num(line: &str, key: &str) -> u64 {
    field(line, key)
        .parse()
        .unwrap_or_else(|_| panic!("{key} in {line}"))
}

#[test]
fn two_daemons_establish_survive_a_broken_reload_and_shut_down() {
    let mut p = pair("establish");
    established(&mut p);

    // SIGHUP with a broken file: error with file:line:col, SA kept.
    std::fs::write(
        &p.sun.conf_path,
        "connections {\n  lab {\n    proposals = aes128gcm16-prfsha256-ecp256\n    local_addrs = = 127.0.0.1\n",
    )
    .unwrap();
    p.sun.signal("HUP");
    let err = p.sun.wait_for(&["reload failed"], T);
    let path = p.sun.conf_path.display().to_string();
    assert!(err.contains(&format!("{path}:")), "position: {err}");
    let pos = err.split(&format!("{path}:")).nth(1).unwrap();
    let mut it = pos.split(':');
    let (line, col) = (it.next().unwrap(), it.next().unwrap());
    assert!(
        line.parse::<u32>().is_ok() && col.parse::<u32>().is_ok(),
        "{err}"
    );
    assert!(err.contains("keeping the running configuration"), "{err}");
    let s = stats(&mut p.sun);
    assert_eq!(num(&s, "ike_sas"), 1, "{s}");
    assert!(p.sun.log().contains("dataplane(record): 1 SA(s) installed"));

    // SIGTERM on moon: DELETE to sun, exit 0 within the 3 s bound.
    let t0 = Instant::now();
    p.moon.signal("TERM");
    let st = p
        .moon
        .wait_exit(Duration::from_secs(5))
        .expect("moon exits");
    assert!(st.success(), "{st}");
    assert!(t0.elapsed() < Duration::from_secs(4), "{:?}", t0.elapsed());
    assert!(p.moon.log().contains("shutdown: every IKE_SA is deleted"));
    p.sun.wait_for(&["received DELETE for IKE_SA lab["], T);
    p.sun.wait_for(&["dataplane(record): delete reqid=1"], T);

    // SIGTERM on sun with nothing left: exits at once, 0.
    p.sun.signal("TERM");
    let st = p.sun.wait_exit(Duration::from_secs(5)).expect("sun exits");
    assert!(st.success(), "{st}");
}

#[test]
fn reload_removes_and_adds_connections() {
    let mut p = pair("reload");
    established(&mut p);

    // Remove the connection on sun: its IKE SA is deleted (moon hears it).
    let cfg = p.sun_conf.clone();
    std::fs::write(
        &p.sun.conf_path,
        format!(
            "vtid {{\n  port = {}\n  port_nat_t = {}\n}}\n",
            cfg.port, cfg.port_nat_t
        ),
    )
    .unwrap();
    p.sun.signal("HUP");
    p.sun
        .wait_for(&["connection removed, deleting its IKE_SA"], T);
    p.moon.wait_for(&["received DELETE for IKE_SA lab["], T);
    p.moon.wait_for(&["dataplane(record): delete"], T);

    // Add it back with start_action = start on sun: sun initiates now.
    let again = Conn {
        name: "back",
        start_action: "start",
        ..cfg
    };
    std::fs::write(&p.sun.conf_path, again.render()).unwrap();
    p.sun.signal("HUP");
    p.sun.wait_for(&["initiating back/net"], T);
    p.sun.wait_for(&["IKE_SA back[", "] up:"], T);
    assert_eq!(p.sun.count(&["dataplane(record): install"]), 2);
    assert_eq!(p.moon.count(&["dataplane(record): install"]), 2);
}

/// Issue 11 §5: SIGHUP with one connection that fails to load (an unknown
/// group in its only proposal) and one new connection. The broken one
/// keeps its running definition and its SAs (it was deleted, and the peer
/// heard a DELETE); the new one is loaded.
#[test]
fn reload_keeps_a_connection_that_fails_to_load_with_its_sas() {
    let mut p = pair("keepbroken");
    established(&mut p);
    let broken = Conn {
        proposals: "aes128gcm16-prfsha256-modp9999",
        ..p.sun_conf.clone()
    }
    .render()
    .replacen(
        "connections {\n",
        "connections {\n  other {\n    remote_addrs = 192.0.2.99\n    local {\n      auth = psk\n      id = other.example.org\n    }\n    remote {\n      auth = psk\n      id = peer.example.org\n    }\n    children {\n      net {\n        local_ts = 10.9.0.0/24\n        remote_ts = 10.8.0.0/24\n      }\n    }\n  }\n",
        1,
    );
    std::fs::write(&p.sun.conf_path, broken).unwrap();
    p.sun.signal("HUP");
    let line = p.sun.wait_for(&["reloaded: "], T);
    assert!(
        line.contains("reloaded: 2 connection(s); lab kept as before"),
        "{line}"
    );
    let log = p.sun.log();
    assert!(log.contains("modp9999"), "the reason is logged:\n{log}");
    assert!(!log.contains("connection removed"), "{log}");
    let s = stats(&mut p.sun);
    assert_eq!(num(&s, "ike_sas"), 1, "{s}");
    assert_eq!(p.sun.count(&["dataplane(record): delete"]), 0);
    assert!(!p.moon.log().contains("received DELETE"));
}

#[test]
fn garbage_is_dropped_counted_and_the_daemon_keeps_serving() {
    let mut p = pair("garbage");
    established(&mut p);
    let (ike, natt) = p.sun_ports;
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to_ike = ("127.0.0.1", ike);
    let to_natt = ("127.0.0.1", natt);
    // truncated header, random bytes, a header with a bad length
    s.send_to(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], to_ike).unwrap();
    s.send_to(&[0xa5; 200], to_ike).unwrap();
    // a well-formed INFORMATIONAL for SPIs nobody has
    let mut h = Vec::new();
    h.extend_from_slice(&[0x11; 8]);
    h.extend_from_slice(&[0x22; 8]);
    h.extend_from_slice(&[0, 0x20, 37, 0x08, 0, 0, 0, 0, 0, 0, 0, 28]);
    s.send_to(&h, to_ike).unwrap();
    // NAT-T: keepalive, runt, ESP for an unknown SPI, marker + garbage,
    // marker + the unknown-SPI message
    s.send_to(&[0xff], to_natt).unwrap();
    s.send_to(&[0, 0], to_natt).unwrap();
    s.send_to(&[0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 1, 9, 9, 9, 9], to_natt)
        .unwrap();
    s.send_to(&[0, 0, 0, 0, 7, 7, 7], to_natt).unwrap();
    let mut m = vec![0, 0, 0, 0];
    m.extend_from_slice(&h);
    s.send_to(&m, to_natt).unwrap();
    std::thread::sleep(Duration::from_millis(200));

    let st = stats(&mut p.sun);
    eprintln!("{st}");
    assert_eq!(num(&st, "malformed"), 3, "{st}");
    assert_eq!(num(&st, "unknown_spi"), 2, "{st}");
    assert_eq!(num(&st, "keepalives"), 1, "{st}");
    assert_eq!(num(&st, "runts"), 1, "{st}");
    assert_eq!(num(&st, "esp"), 1, "{st}");
    assert_eq!(num(&st, "ike_sas"), 1, "{st}");

    // Still serving: a fresh initiator gets a new IKE SA and CHILD SA.
    p.moon.signal("TERM");
    assert!(p.moon.wait_exit(Duration::from_secs(5)).unwrap().success());
    p.sun.wait_for(&["received DELETE for IKE_SA lab["], T);
    let moon2 = std::fs::read_to_string(&p.moon.conf_path).unwrap();
    let mut again = Vtid::start(
        p.moon.conf_path.parent().unwrap(),
        "moon2",
        &moon2,
        &[],
        &[],
    );
    again.wait_for(&["dataplane(record): install"], T);
    assert_eq!(p.sun.count(&["dataplane(record): install"]), 2);
}
