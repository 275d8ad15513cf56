//! Two userspace ESP data planes in network namespaces passing real
//! traffic (see `lab/mod.rs` for the topology). Run as root.

mod lab;

use ike::engine::Action;
use lab::{Alg, Child, Lab};

const TABLE: &str = "30324"; // DataplaneConfig::default().table (0x7674)

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
    let (left, _le) = lab.gl.dataplane(lc);
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

    // TCP across (iperf3, bounded).
    let mut server = lab.hr.spawn(&["iperf3", "-s", "-1", "-B", "10.2.0.2"]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let out = lab.hl.exec(&["iperf3", "-c", "10.2.0.2", "-t", "2"]);
    let _ = server.kill();
    let _ = server.wait();
    assert!(
        out.status.success(),
        "iperf3: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let s = left.sa_stats();
    assert_eq!(s.len(), 1);
    assert!(
        s[0].outbound.packets > 10 && s[0].inbound.packets > 10,
        "{s:?}"
    );
    assert_eq!(s[0].inbound.auth_failures, 0);

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
    let (lc, rc) = lab::configs(&["10.2.0.0/24"], &["10.1.0.0/24"]);
    let (left, _le) = lab.gl.dataplane(lc);
    let (right, _re) = lab.gr.dataplane(rc);
    let mut child = Child::routed(7, Alg::Cbc256Sha256, 0xc000_0301, 0xc000_0302);
    child.encap = false;
    right.apply(&child.right(true)).unwrap();
    left.apply(&child.left(true)).unwrap();
    lab.hl.must_ping(&[], "10.2.0.2");
    lab.hl.must_ping(&["-s", "1300"], "10.2.0.2");
    assert!(left.sa_stats()[0].inbound.packets >= 6);
    let _ = Action::RemoveOutbound {
        reqid: 7,
        spi_out: 1,
    };
}
