//! ROOT / NETWORK-NAMESPACE TEST: a peer named by DNS in `remote_addrs`
//! is resolved again at each initiation (issue 15 §4), and a connection
//! without `local.id` uses the address of the moment as its identity.
//!
//! `ip netns exec NS` bind-mounts `/etc/netns/NS/hosts` over `/etc/hosts`
//! for what it runs, so vtid on ga resolves `peer.vtid-lab.example` through
//! a hosts file of this test only. It first points nowhere (an address of
//! the lab's internet where nobody answers); the tunnel cannot come up.
//! The file is then rewritten to gb's address: the engine's next attempt
//! (keyingtries = 0) goes there and the tunnel comes up, without a reload.
// Linux only: Linux network namespaces (the FreeBSD build check compiles the portable tests).
#![cfg(target_os = "linux")]

mod common;
mod vtilab;

use std::path::PathBuf;
use std::time::Duration;

use vtilab::*;

/// Removes `/etc/netns/NS` when the test ends, passed or not.
struct EtcNetns(PathBuf);

impl Drop for EtcNetns {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        // and /etc/netns itself if this test made it (only when empty)
        let _ = std::fs::remove_dir("/etc/netns");
    }
}

#[test]
fn dns_peer_is_resolved_at_each_initiation() {
    let s = site("dnsinit");
    let dir = PathBuf::from("/etc/netns").join(s.ga.name());
    std::fs::create_dir_all(&dir).unwrap();
    let _guard = EtcNetns(dir.clone());
    let hosts = dir.join("hosts");
    // 198.51.100.77 is on the lab's internet, and nobody answers there.
    std::fs::write(
        &hosts,
        "127.0.0.1 localhost\n198.51.100.77 peer.vtid-lab.example\n",
    )
    .unwrap();

    let (mut a, mut b) = (Conf::side(true), Conf::side(false));
    a.remote = "peer.vtid-lab.example".into();
    // no local.id: the identity is the address in use (192.0.2.1)
    a.local_id = "%any".into();
    a.conn_extra = "keyingtries = 0".into();
    b.remote_id = GA_WAN.into();
    a.interfaces = ipsec7(true, "");
    b.interfaces = ipsec7(false, "");
    let mut c = Child::new("vti", 7, "0.0.0.0/0, ::/0", "0.0.0.0/0, ::/0");
    c.start_action = "start".into();
    a.children.push(c);
    b.children
        .push(Child::new("vti", 7, "0.0.0.0/0, ::/0", "0.0.0.0/0, ::/0"));
    let conf_b = b
        .render()
        .replace("id-1 = moon.example.org", &format!("id-1 = {GA_WAN}"));
    let conf_a = a
        .render()
        .replace("id-1 = moon.example.org", &format!("id-1 = {GA_WAN}"));
    let mut vb = common::Vtid::start(
        s.lab.workdir(),
        "vtid-b",
        &conf_b,
        &["ip", "netns", "exec", s.gb.name()],
        &["--dataplane", "userspace"],
    );
    vb.wait_for(&["listening on UDP"], T);
    let mut va = common::Vtid::start(
        s.lab.workdir(),
        "vtid-a",
        &conf_a,
        &["ip", "netns", "exec", s.ga.name()],
        &["--dataplane", "userspace"],
    );
    va.wait_for(&["initiating IKE_SA lab", "198.51.100.77"], T);
    assert!(va.lines(&["CHILD_SA vti{", " up: "]).is_empty());

    // The name moves to gb: the next attempt goes there.
    std::fs::write(
        &hosts,
        format!("127.0.0.1 localhost\n{GB_WAN} peer.vtid-lab.example\n"),
    )
    .unwrap();
    let up = va.wait_for(&["IKE_SA lab[", " up: "], Duration::from_secs(60));
    assert!(up.contains(GB_WAN), "{up}");
    assert!(
        up.contains(&format!("{GA_WAN}:500[{GA_WAN}]")),
        "identity: {up}"
    );
    va.wait_for(&["CHILD_SA vti{", " up: "], T);
    vb.wait_for(&["CHILD_SA vti{", " up: "], T);
    ping_ok(&s.ha, HB, None);
}
