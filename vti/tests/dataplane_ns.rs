//! Two userspace ESP data planes in network namespaces passing real
//! traffic (see `lab/mod.rs` for the topology). Run as root.
// Linux only: the userspace data plane over Linux TUN, in network namespaces (the FreeBSD build check compiles the portable tests).
#![cfg(target_os = "linux")]

mod lab;

use lab::{Alg, Child, Lab};
use pfkey::backend::SaOp;

const TABLE: &str = "30324"; // DataplaneConfig::default().table (0x7674)

/// iperf3 TCP from the left host to `server` (an address of the right
/// host) for `secs` seconds, with `extra` client options; must succeed.
fn tcp_across(lab: &Lab, server: &str, extra: &[&str], secs: &str) {
    let mut srv = lab.hr.spawn(&["iperf3", "-s", "-1", "-B", server]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let mut args = vec!["iperf3", "-c", server, "-t", secs];
    args.extend_from_slice(extra);
    let out = lab.hl.exec(&args);
    let _ = srv.kill();
    let _ = srv.wait();
    assert!(
        out.status.success(),
        "iperf3 {server}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Pings the right host from the left one while tcpdump on gr's WAN link
/// waits for 3 packets matching `filter`; each must come from `src`.
fn ping_seen_from(lab: &Lab, filter: &str, src: &str) {
    let cap = lab.gr.spawn(&[
        "timeout", "10", "tcpdump", "-l", "-n", "-i", "wan", "-c", "3", filter,
    ]);
    std::thread::sleep(std::time::Duration::from_millis(500));
    lab.hl.must_ping(&["-c", "4"], "10.2.0.2");
    let out = cap.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.lines().filter(|l| l.contains(src)).count(),
        3,
        "{filter}: {text}"
    );
}

fn table_routes(ns: &lab::Ns, v6: bool) -> String {
    let fam = if v6 { "-6" } else { "-4" };
    // An empty table does not exist for `ip route show`: that is "no routes".
    let o = ns.exec(&["ip", fam, "route", "show", "table", TABLE]);
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn routed_vti_carries_ipv4_ipv6_tcp_and_follows_the_sa() {
    let lab = Lab::new("r", 1500);
    let (lc, rc) = lab::configs(
        &["10.2.0.0/24", "2001:db8:2::/64"],
        &["10.1.0.0/24", "2001:db8:1::/64"],
    );
    let (left, le) = lab.gl.dataplane(lc);
    let (right, _re) = lab.gr.dataplane(rc);

    // Up, addressed, but no carrier and no routes before an SA.
    let link = lab.gl.ip(&["link", "show", "ipsec7"]);
    assert!(
        link.contains("NO-CARRIER") && link.contains("mtu 1400"),
        "{link}"
    );
    assert!(lab
        .gl
        .ip(&["addr", "show", "ipsec7"])
        .contains("2001:db8:6::1/64"));
    assert!(table_routes(&lab.gl, false).is_empty());

    let child = Child::routed(7, Alg::Gcm128, 0xc000_0101, 0xc000_0202);
    right.apply(&child.right(true)).unwrap();
    left.apply(&child.left(true)).unwrap();

    let link = lab.gl.ip(&["link", "show", "ipsec7"]);
    assert!(!link.contains("NO-CARRIER"), "{link}");
    let r4 = table_routes(&lab.gl, false);
    assert!(r4.contains("10.2.0.0/24 via 10.6.106.2 dev ipsec7"), "{r4}");
    assert!(table_routes(&lab.gl, true).contains("2001:db8:2::/64 via 2001:db8:6::2 dev ipsec7"));

    // Transit addresses, LAN to LAN, IPv6 over the VTI.
    lab.gl.must_ping(&[], "10.6.106.2");
    lab.hl.must_ping(&[], "10.2.0.2");
    lab.gl.must_ping(&["-6"], "2001:db8:6::2");
    lab.hl.must_ping(&["-6"], "2001:db8:2::2");

    // TCP across (iperf3, bounded), IPv4 and IPv6: with the TUN
    // offloads the sender's gateway reads whole TSO segments and splits
    // them, the receiver's writes coalesced ones.
    tcp_across(&lab, "10.2.0.2", &["-4"], "2");
    tcp_across(&lab, "2001:db8:2::2", &["-6"], "2");
    let (li, ri) = (&left.interface_stats()[0], &right.interface_stats()[0]);
    assert!(li.gso_reads > 0, "{li:?}");
    assert!(ri.gro_writes > 0, "{ri:?}");
    for i in [li, ri] {
        assert_eq!(
            (i.malformed, i.tun_write_errors, i.send_errors),
            (0, 0, 0),
            "{i:?}"
        );
    }

    let s = left.sa_stats();
    assert_eq!(s.len(), 1);
    assert!(
        s[0].outbound.packets > 10 && s[0].inbound.packets > 10,
        "{s:?}"
    );
    assert_eq!(s[0].inbound.auth_failures, 0);
    // ESP arrived: the engine hears of it (for DPD), at most once a second.
    let ev = le.drain();
    assert!(
        ev.iter().any(|e| matches!(e, vti::dataplane::DataplaneEvent::Activity { spi_in, .. } if *spi_in == 0xc000_0202)),
        "{ev:?}"
    );

    // Delete: carrier and routes go.
    left.apply(&child.delete_left()).unwrap();
    right.apply(&child.delete_right()).unwrap();
    let link = lab.gl.ip(&["link", "show", "ipsec7"]);
    assert!(link.contains("NO-CARRIER"), "{link}");
    assert!(table_routes(&lab.gl, false).is_empty());
    assert!(table_routes(&lab.gl, true).is_empty());
    assert!(!lab.hl.ping(&["-c", "1", "-W", "1"], "10.2.0.2").0);

    // Created interfaces vanish with the data plane; the rules too.
    drop(left);
    assert!(!lab
        .gl
        .exec(&["ip", "link", "show", "ipsec7"])
        .status
        .success());
    assert!(!lab.gl.ip(&["rule"]).contains("30324"));
    drop(right);
}

#[test]
fn plain_esp_and_cbc() {
    let lab = Lab::new("p", 1500);
    let (mut lc, mut rc) = lab::configs(&["10.2.0.0/24"], &["10.1.0.0/24"]);
    // This lab also covers the TUNs without offloads (`tun_offload = no`):
    // one packet per read and write.
    lc.offload = false;
    rc.offload = false;
    let (left, _le) = lab.gl.dataplane(lc);
    let (right, _re) = lab.gr.dataplane(rc);
    let mut child = Child::routed(7, Alg::Cbc256Sha256, 0xc000_0301, 0xc000_0302);
    child.encap = false;
    right.apply(&child.right(true)).unwrap();
    left.apply(&child.left(true)).unwrap();
    lab.hl.must_ping(&[], "10.2.0.2");
    lab.hl.must_ping(&["-s", "1300"], "10.2.0.2");
    assert!(left.sa_stats()[0].inbound.packets >= 6);
    tcp_across(&lab, "10.2.0.2", &[], "1");
    let (li, ri) = (&left.interface_stats()[0], &right.interface_stats()[0]);
    assert_eq!((li.gso_reads, ri.gro_writes), (0, 0), "{li:?} {ri:?}");
    assert!(left.sa_stats()[0].outbound.packets > 100);
    let _ = SaOp::RemoveOutbound {
        reqid: 7,
        spi_out: 1,
    };
}

/// A child bound to `ipsec7` by its interface ID (`if_id_in/out = 7`)
/// while its reqid (1234) names no interface is carried by `ipsec7`
/// (carrier, routes, traffic), not by the shared TUN.
#[test]
fn child_bound_by_if_id_uses_its_interface() {
    let lab = Lab::new("i", 1500);
    let (lc, rc) = lab::configs(&["10.2.0.0/24"], &["10.1.0.0/24"]);
    let (left, _le) = lab.gl.dataplane(lc);
    let (right, _re) = lab.gr.dataplane(rc);
    let mut child = Child::routed(1234, Alg::Gcm128, 0xc000_0e01, 0xc000_0e02);
    child.if_id = (7, 7);
    right.apply(&child.right(true)).unwrap();
    left.apply(&child.left(true)).unwrap();
    let s = left.sa_stats();
    assert_eq!(s[0].interface, "ipsec7", "{s:?}");
    assert!(left.interface_stats()[0].carrier);
    lab.hl.must_ping(&[], "10.2.0.2");
    assert!(left.sa_stats()[0].outbound.packets >= 3);
}

#[test]
fn policy_child_on_shared_tun_beside_routed_with_ts_enforcement() {
    let lab = Lab::new("s", 1500);
    let (lc, rc) = lab::configs(&["10.2.0.0/24"], &["10.1.0.0/24"]);
    let (left, _le) = lab.gl.dataplane(lc);
    let (right, _re) = lab.gr.dataplane(rc);
    // Right has a second LAN, 10.3.0.0/24, reached by a policy-based child.
    // (No dummy module on this kernel: a veth pair inside gr.)
    lab.gr.ip(&[
        "link", "add", "lan3", "type", "veth", "peer", "name", "lan3p",
    ]);
    lab.gr.ip(&["addr", "add", "10.3.0.1/24", "dev", "lan3"]);
    lab.gr.ip(&["link", "set", "lan3", "up"]);
    lab.gr.ip(&["link", "set", "lan3p", "up"]);

    // Routed child: right enforces narrow selectors, left sends anything.
    let mut routed = Child::routed(7, Alg::Gcm128, 0xc000_0401, 0xc000_0402);
    routed.right_ts = lab::ts(&["10.2.0.0/24", "10.6.106.0/30"]);
    routed.left_ts = lab::ts(&["10.1.0.0/24", "10.6.106.0/30"]);
    let mut routed_left_view = routed.clone();
    routed_left_view.left_ts = lab::any_ts();
    routed_left_view.right_ts = lab::any_ts();
    // Policy-based child (reqid 20 names no interface): shared TUN.
    let mut policy = Child::routed(20, Alg::Cbc256Sha256, 0xc000_0501, 0xc000_0502);
    // (Its left side must not overlap the routed child's 10.1.0.0/24, or
    // right would route the replies of both into one interface.)
    lab.gl.ip(&["addr", "add", "10.11.0.1/24", "dev", "lan"]);
    policy.left_ts = lab::ts(&["10.11.0.0/24"]);
    policy.right_ts = lab::ts(&["10.3.0.0/24"]);
    for a in [routed.right(true), policy.right(true)] {
        right.apply(&a).unwrap();
    }
    for a in [routed_left_view.left(true), policy.left(true)] {
        left.apply(&a).unwrap();
    }
    // The shared TUN's route, with our local selector's address as source.
    let r = table_routes(&lab.gl, false);
    assert!(
        r.contains("10.3.0.0/24 dev vtid0") && r.contains("src 10.11.0.1"),
        "{r}"
    );

    // Both children at once.
    lab.hl.must_ping(&[], "10.2.0.2");
    lab.gl.must_ping(&[], "10.3.0.1");
    lab.gl.must_ping(&["-I", "10.11.0.1"], "10.3.0.1");
    assert!(right.sa_stats().iter().all(|s| s.inbound.packets > 0));

    // Inbound TS enforcement: left routes 10.5.0.0/24 into ipsec7 and its
    // SA lets it out, right's SA does not cover 10.5.0.1: dropped, counted.
    // (Left's IPv6 link noise — router solicitations, MLD — is outside
    // right's selectors too: count the difference.)
    let violations = || {
        let rs = right.sa_stats();
        rs.iter().find(|s| s.reqid == 7).unwrap().ts_violations
    };
    lab.gl.ip(&["route", "add", "10.5.0.0/24", "dev", "ipsec7"]);
    let before = violations();
    assert!(!lab.gl.ping(&["-c", "3", "-W", "1"], "10.5.0.1").0);
    assert!(violations() >= before + 3, "{:?}", right.sa_stats());

    // No SA matches: 10.4.0.0/24 routed into the shared TUN, no child
    // covers it: ICMP unreachable back, counted.
    lab.gl.ip(&["route", "add", "10.4.0.0/24", "dev", "vtid0"]);
    let no_sa = || left.interface_stats()[1].no_sa_drops;
    let before = no_sa();
    let (ok, out) = lab.hl.ping(&["-c", "2", "-W", "1"], "10.4.0.1");
    assert!(!ok);
    assert!(
        out.contains("Packet filtered") || out.contains("Prohibited"),
        "{out}"
    );
    let st = left.interface_stats();
    let shared = st.iter().find(|s| s.name == "vtid0").unwrap();
    // (IPv6 multicast noise also finds no SA, but gets no ICMP.)
    assert!(shared.no_sa_drops >= before + 2, "{st:?}");
    assert_eq!(shared.icmp_sent, 2, "{st:?}");

    // Deleting the policy child removes its route, the routed one stays.
    left.apply(&policy.delete_left()).unwrap();
    let r = table_routes(&lab.gl, false);
    assert!(!r.contains("vtid0") && r.contains("ipsec7"), "{r}");
    assert!(lab.gl.ip(&["link", "show", "vtid0"]).contains("NO-CARRIER"));
    lab.hl.must_ping(&[], "10.2.0.2");
}

#[test]
fn make_before_break_rekeys_lose_nothing() {
    let lab = Lab::new("m", 1500);
    let (lc, rc) = lab::configs(&["10.2.0.0/24"], &["10.1.0.0/24"]);
    let (left, _le) = lab.gl.dataplane(lc);
    let (right, _re) = lab.gr.dataplane(rc);
    let mut old = Child::routed(7, Alg::Gcm128, 0xc000_1001, 0xc000_2001);
    right.apply(&old.right(true)).unwrap();
    left.apply(&old.left(true)).unwrap();
    lab.hl.must_ping(&["-c", "1"], "10.2.0.2");

    // 150 pings at 20 ms (3 s) while the child is rekeyed 4 times.
    let ping = lab.hl.spawn(&[
        "ping", "-n", "-c", "150", "-i", "0.02", "-W", "2", "10.2.0.2",
    ]);
    for k in 1..=4u32 {
        std::thread::sleep(std::time::Duration::from_millis(500));
        let alg = if k % 2 == 0 {
            Alg::Gcm128
        } else {
            Alg::Cbc256Sha256
        };
        let new = Child::routed(7, alg, 0xc000_1001 + k, 0xc000_2001 + k);
        // As the engine orders it (left initiates the rekey): the
        // responder installs inbound-only, the initiator installs active,
        // the initiator's DELETE of the old child makes it stop sending on
        // it; the responder switches outbound and deletes; then the
        // initiator deletes on the response.
        right.apply(&new.right(false)).unwrap();
        left.apply(&new.left(true)).unwrap();
        left.apply(&SaOp::RemoveOutbound {
            reqid: 7,
            spi_out: old.spi_lr,
        })
        .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(30));
        right
            .apply(&SaOp::ActivateOutbound {
                reqid: 7,
                spi_out: new.spi_rl,
            })
            .unwrap();
        right.apply(&old.delete_right()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(30));
        left.apply(&old.delete_left()).unwrap();
        old = new;
    }
    let out = ping.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(" 0% packet loss"), "{text}");
    let s = left.sa_stats();
    assert_eq!(s.len(), 1, "only the newest child is left: {s:?}");
    assert_eq!(s[0].spi_out, old.spi_lr);
    assert!(s[0].inbound.packets > 0);
}

#[test]
fn path_mtu_icmp_and_mss_clamping_esp_in_udp() {
    // A 1400-byte underlay: AES-GCM in UDP over IPv4 carries at most 1338
    // bytes of inner packet (1400 - 20 - 8 - 8 - 8 - 16, aligned).
    path_mtu_icmp_and_mss_clamping(true, 1338);
}

#[test]
fn path_mtu_icmp_and_mss_clamping_plain_esp() {
    // Plain ESP (IP protocol 50): 1346 (1400 - 20 - 8 - 8 - 16 - 2, so
    // that inner + 2 is a multiple of 4).
    path_mtu_icmp_and_mss_clamping(false, 1346);
}

fn path_mtu_icmp_and_mss_clamping(encap: bool, max_inner: u32) {
    let lab = Lab::new(if encap { "u" } else { "U" }, 1400);
    let (mut lc, rc) = lab::configs(
        &["10.2.0.0/24", "2001:db8:2::/64"],
        &["10.1.0.0/24", "2001:db8:1::/64"],
    );
    lc.interfaces[0].mss_clamp = true;
    let (left, _le) = lab.gl.dataplane(lc);
    let (right, _re) = lab.gr.dataplane(rc);
    let mut child = Child::routed(7, Alg::Gcm128, 0xc000_3001, 0xc000_3002);
    child.encap = encap;
    right.apply(&child.right(true)).unwrap();
    left.apply(&child.left(true)).unwrap();

    // MSS clamping first (the pings below teach the hosts a smaller
    // path MTU, and with it a smaller MSS). MSS clamping on the left ipsec7 (MTU 1400 -> MSS 1360): the right
    // host's SYN-ACK and the left host's SYN are both rewritten; the
    // left host ends up with an MSS of at most 1360 although both hosts'
    // links have an MTU of 1500.
    let py_server = "import socket,sys\ns=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\ns.bind(('10.2.0.2', 5001)); s.listen(1); s.settimeout(10)\nc,_=s.accept(); print(c.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG)); c.recv(10)\n";
    let py_client = "import socket,time\nfor i in range(50):\n  try:\n    c=socket.create_connection(('10.2.0.2', 5001), timeout=2); break\n  except OSError: time.sleep(0.1)\nprint(c.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG)); c.send(b'x')\n";
    let server = lab.hr.spawn(&["python3", "-c", py_server]);
    let client = lab.hl.exec(&["python3", "-c", py_client]);
    let server = server.wait_with_output().unwrap();
    let mss_c: u32 = String::from_utf8_lossy(&client.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    let mss_s: u32 = String::from_utf8_lossy(&server.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    assert!(mss_c > 0 && mss_c <= 1360, "client MSS {mss_c}: {client:?}");
    assert!(mss_s > 0 && mss_s <= 1360, "server MSS {mss_s}: {server:?}");
    assert!(left.interface_stats()[0].mss_clamped >= 2);

    // max_inner bytes pass with DF, one more gets "fragmentation needed,
    // mtu max_inner" (ICMP payload = inner - 28).
    let s = |extra: u32| (max_inner - 28 + extra).to_string();
    lab.hl.must_ping(&["-M", "do", "-s", &s(0)], "10.2.0.2");
    let (ok, out) = lab
        .hl
        .ping(&["-M", "do", "-s", &s(1), "-c", "1"], "10.2.0.2");
    assert!(!ok && out.contains(&format!("mtu = {max_inner}")), "{out}");
    // IPv6: Packet Too Big with the same MTU (ICMPv6 payload = inner - 48).
    let s6 = |extra: u32| (max_inner - 48 + extra).to_string();
    lab.hl
        .must_ping(&["-6", "-M", "do", "-s", &s6(0)], "2001:db8:2::2");
    let (ok, out) = lab.hl.ping(
        &["-6", "-M", "do", "-s", &s6(1), "-c", "1"],
        "2001:db8:2::2",
    );
    assert!(!ok && out.contains(&format!("mtu={max_inner}")), "{out}");
    assert!(left.interface_stats()[0].too_big >= 2);
    // Without DF the ESP packet is fragmented outside and gets through.
    lab.hl.must_ping(&["-M", "dont", "-s", "1372"], "10.2.0.2");

    // The underlay shrinks after the SA was installed: a refresh picks
    // the new path MTU up (nothing changes without a change).
    assert_eq!(left.refresh_path_mtu(), 0);
    lab.gl.ip(&["link", "set", "wan", "mtu", "1300"]);
    assert_eq!(left.refresh_path_mtu(), 1);
    assert_eq!(left.refresh_path_mtu(), 0);
    let (ok, out) = lab
        .hl
        .ping(&["-M", "do", "-s", "1300", "-c", "1"], "10.2.0.2");
    let mtu: u32 = out
        .split("mtu = ")
        .nth(1)
        .and_then(|t| t.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    assert!(!ok && (1200..1300).contains(&mtu), "{out}");
}

#[test]
fn default_route_into_the_vti_does_not_swallow_esp() {
    let lab = Lab::new("d", 1500);
    // Left sends everything through the VTI: 0.0.0.0/0 and ::/0.
    let (lc, rc) = lab::configs(&["0.0.0.0/0", "::/0"], &["10.1.0.0/24", "2001:db8:1::/64"]);
    let (left, _le) = lab.gl.dataplane(lc);
    let (right, _re) = lab.gr.dataplane(rc);
    let child = Child::routed(7, Alg::Gcm128, 0xc000_4001, 0xc000_4002);
    right.apply(&child.right(true)).unwrap();
    left.apply(&child.left(true)).unwrap();

    // Unmarked traffic to the peer's address would now go into the tunnel,
    // marked traffic (ours) goes to the underlay.
    let unmarked = lab.gl.ip(&["route", "get", lab::GR_WAN]);
    assert!(unmarked.contains("dev ipsec7"), "{unmarked}");
    let marked = lab.gl.ip(&["route", "get", lab::GR_WAN, "mark", "0x7674"]);
    assert!(marked.contains("dev wan"), "{marked}");
    let marked6 = lab
        .gl
        .ip(&["-6", "route", "get", lab::GR_WAN6, "mark", "0x7674"]);
    assert!(marked6.contains("dev wan"), "{marked6}");

    // And the tunnel carries traffic, IPv4 and IPv6, LAN and transit.
    lab.hl.must_ping(&[], "10.2.0.2");
    lab.hl.must_ping(&["-6"], "2001:db8:2::2");
    lab.gl.must_ping(&[], "10.6.106.2");
    // Local LAN traffic still stays local (main's specific routes first).
    lab.gl.must_ping(&["-c", "1"], "10.1.0.2");
    assert_eq!(left.interface_stats()[0].send_errors, 0);
}

/// A multi-homed gateway sends ESP from the address of the SA (the one
/// the peer knows from IKE), not from whatever the kernel would pick.
#[test]
fn esp_leaves_from_the_sa_local_address() {
    let lab = Lab::new("s", 1500);
    // The kernel's pick towards 198.51.100.2 stays 192.0.2.1; the SA uses
    // a secondary address.
    lab.gl.ip(&["addr", "add", "192.0.2.9/24", "dev", "wan"]);
    let (lc, rc) = lab::configs(&["10.2.0.0/24"], &["10.1.0.0/24"]);
    let (left, _le) = lab.gl.dataplane(lc);
    let (right, _re) = lab.gr.dataplane(rc);
    for (encap, filter) in [
        (true, "udp port 4500 and src host 192.0.2.9"),
        (false, "ip proto 50 and src host 192.0.2.9"),
    ] {
        let mut c = Child::routed(7, Alg::Gcm128, 0xc000_0b01, 0xc000_0b02);
        c.encap = encap;
        right.apply(&c.right(true)).unwrap();
        left.apply(&Child::with_addrs(c.left(true), Some("192.0.2.9"), None))
            .unwrap();
        ping_seen_from(&lab, filter, "192.0.2.9");
        left.apply(&c.delete_left()).unwrap();
        right.apply(&c.delete_right()).unwrap();
    }
}

/// Several packet threads: two tunnels (ipsec7 to the peer's first
/// address, ipsec8 to its second) carry TCP at the same time, each
/// interface read by its own outbound thread, each peer address hashed
/// to one inbound socket; nothing is lost or refused.
#[test]
fn two_tunnels_on_several_packet_threads_esp_in_udp() {
    two_tunnels_on_several_packet_threads(true);
}

/// The same with plain ESP: each inbound thread's raw ESP socket takes
/// the SPIs of its share; TCP through both tunnels is neither lost nor
/// reordered past the replay window.
#[test]
fn two_tunnels_on_several_packet_threads_plain_esp() {
    two_tunnels_on_several_packet_threads(false);
}

fn two_tunnels_on_several_packet_threads(encap: bool) {
    let lab = Lab::new(if encap { "m" } else { "M" }, 1500);
    lab.gr.ip(&["addr", "add", "198.51.100.3/24", "dev", "wan"]);
    // ipsec7 joins 10.1.0.2 and 10.2.0.2 as usual; ipsec8 joins the
    // hosts' second addresses 10.1.8.2 and 10.2.8.2 (on their loopbacks,
    // routed to them by their gateways).
    lab.hl.ip(&["addr", "add", "10.1.8.2/32", "dev", "lo"]);
    lab.hr.ip(&["addr", "add", "10.2.8.2/32", "dev", "lo"]);
    lab.gl
        .ip(&["route", "add", "10.1.8.0/24", "via", "10.1.0.2"]);
    lab.gr
        .ip(&["route", "add", "10.2.8.0/24", "via", "10.2.0.2"]);
    let (mut lc, mut rc) = lab::configs(&["10.2.0.0/24"], &["10.1.0.0/24"]);
    lc.interfaces.push(lab::interface(
        "ipsec8",
        8,
        &["10.6.108.1/30"],
        &["10.6.108.2"],
        &["10.2.8.0/24"],
    ));
    rc.interfaces.push(lab::interface(
        "ipsec8",
        8,
        &["10.6.108.2/30"],
        &["10.6.108.1"],
        &["10.1.8.0/24"],
    ));
    lc.interfaces[1].route_metric = 2;
    rc.interfaces[1].route_metric = 2;
    lc.threads = 3;
    rc.threads = 3;
    let (left, _le) = lab.gl.dataplane(lc);
    let (right, _re) = lab.gr.dataplane(rc);
    // Three TUNs (ipsec7, ipsec8, vtid0): three outbound threads.
    assert_eq!(left.threads(), (3, 3));
    let mut c7 = Child::routed(7, Alg::Gcm128, 0xc000_0c01, 0xc000_0c02);
    let mut c8 = Child::routed(8, Alg::Gcm128, 0xc000_0c03, 0xc000_0c04);
    c7.encap = encap;
    c8.encap = encap;
    let at = Child::with_addrs;
    right.apply(&c7.right(true)).unwrap();
    left.apply(&c7.left(true)).unwrap();
    right
        .apply(&at(c8.right(true), Some("198.51.100.3"), None))
        .unwrap();
    left.apply(&at(c8.left(true), None, Some("198.51.100.3")))
        .unwrap();
    lab.hl.must_ping(&[], "10.2.0.2");
    lab.hl.must_ping(&["-I", "10.1.8.2"], "10.2.8.2");

    let s7 = lab
        .hr
        .spawn(&["iperf3", "-s", "-1", "-B", "10.2.0.2", "-p", "5207"]);
    let s8 = lab
        .hr
        .spawn(&["iperf3", "-s", "-1", "-B", "10.2.8.2", "-p", "5208"]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let c7c = lab
        .hl
        .spawn(&["iperf3", "-c", "10.2.0.2", "-p", "5207", "-t", "2"]);
    let c8c = lab.hl.spawn(&[
        "iperf3", "-c", "10.2.8.2", "-B", "10.1.8.2", "-p", "5208", "-t", "2",
    ]);
    for c in [c7c, c8c] {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for mut s in [s7, s8] {
        let _ = s.kill();
        let _ = s.wait();
    }
    let sas = right.sa_stats();
    assert_eq!(sas.len(), 2, "{sas:?}");
    for sa in &sas {
        assert!(sa.inbound.packets > 1000, "{sa:?}");
        assert_eq!(
            (
                sa.inbound.auth_failures,
                sa.inbound.replay_drops,
                sa.ts_violations
            ),
            (0, 0, 0),
            "{sa:?}"
        );
    }
    for i in left
        .interface_stats()
        .iter()
        .chain(&right.interface_stats())
    {
        assert_eq!(
            (
                i.no_sa_drops,
                i.malformed,
                i.tun_write_errors,
                i.send_errors
            ),
            (0, 0, 0, 0),
            "{i:?}"
        );
    }
}

/// ESP over an IPv6 underlay: in UDP (the IPv6 NAT-T socket: UDP_SEGMENT
/// out, recvmmsg/UDP_GRO in) and plain (raw IPv6 ESP socket), TCP through
/// the offloaded TUNs, sent from the SA's own (secondary) IPv6 address.
#[test]
fn esp_over_an_ipv6_underlay() {
    let lab = Lab::new("6", 1500);
    lab.gl
        .ip(&["addr", "add", "2001:db8:a::9/64", "dev", "wan", "nodad"]);
    let (lc, rc) = lab::configs(&["10.2.0.0/24"], &["10.1.0.0/24"]);
    let (left, _le) = lab.gl.dataplane(lc);
    let (right, _re) = lab.gr.dataplane(rc);
    let v6 = |a, local, remote| Child::with_addrs(a, Some(local), Some(remote));
    for (encap, filter) in [
        (true, "ip6 and udp port 4500 and src host 2001:db8:a::9"),
        (false, "ip6 proto 50 and src host 2001:db8:a::9"),
    ] {
        let mut c = Child::routed(7, Alg::Gcm128, 0xc000_0d01, 0xc000_0d02);
        c.encap = encap;
        right
            .apply(&v6(c.right(true), lab::GR_WAN6, "2001:db8:a::9"))
            .unwrap();
        left.apply(&v6(c.left(true), "2001:db8:a::9", lab::GR_WAN6))
            .unwrap();
        ping_seen_from(&lab, filter, "2001:db8:a::9");
        tcp_across(&lab, "10.2.0.2", &[], "1");
        let s = right.sa_stats();
        assert_eq!(s.len(), 1, "{s:?}");
        assert!(s[0].inbound.packets > 100, "{s:?}");
        assert_eq!(
            (s[0].inbound.auth_failures, s[0].inbound.replay_drops),
            (0, 0)
        );
        left.apply(&c.delete_left()).unwrap();
        right.apply(&c.delete_right()).unwrap();
    }
    for i in left
        .interface_stats()
        .iter()
        .chain(&right.interface_stats())
    {
        assert_eq!(
            (i.send_errors, i.tun_write_errors, i.malformed),
            (0, 0, 0),
            "{i:?}"
        );
    }
}
