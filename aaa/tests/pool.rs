//! The lease manager: strongSwan's lease semantics (mem_pool.c and the
//! vici plugin's pools), at the scale of thousands of clients.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use aaa::{Loaded, PoolError, Pools, Source};
use config::{Pool, PoolAddrs, PoolAttr};
use proptest::prelude::*;

fn pool(name: &str, addrs: &str) -> Pool {
    Pool {
        name: name.into(),
        addrs: PoolAddrs::parse(addrs).unwrap(),
        attrs: vec![],
        location: None,
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn peer(n: u16) -> Option<SocketAddr> {
    Some(SocketAddr::new(ip("198.51.100.7"), 4500 + n))
}

const ANY4: &str = "0.0.0.0";

fn names(n: &[&str]) -> Vec<String> {
    n.iter().map(|s| s.to_string()).collect()
}

#[test]
fn same_identity_gets_same_address_back() {
    let mut p = Pools::new();
    p.load(pool("rw", "10.9.0.0/24"), Source::File).unwrap();
    let n = names(&["rw"]);
    let a = p.acquire(&n, "alice", ip(ANY4), peer(1)).unwrap();
    assert_eq!((a.pool.as_str(), a.addr), ("rw", ip("10.9.0.1")));
    let b = p.acquire(&n, "bob", ip(ANY4), peer(2)).unwrap();
    assert_eq!(b.addr, ip("10.9.0.2"));
    // Only the owner releases.
    assert!(!p.release(&n, a.addr, "bob", peer(2)));
    assert!(p.release(&n, a.addr, "alice", peer(1)));
    assert!(!p.release(&n, a.addr, "alice", peer(1)), "already offline");
    let rw = p.get("rw").unwrap();
    assert_eq!((rw.online(), rw.offline(), rw.size()), (1, 1, 254));
    // Alice comes back (from elsewhere): her address.
    let a2 = p.acquire(&n, "alice", ip(ANY4), peer(9)).unwrap();
    assert_eq!(a2.addr, ip("10.9.0.1"));
    let l = p.get("rw").unwrap().leases();
    assert_eq!(
        l.iter()
            .map(|l| (l.addr.to_string(), l.identity.as_str(), l.online))
            .collect::<Vec<_>>(),
        [
            ("10.9.0.1".to_string(), "alice", true),
            ("10.9.0.2".to_string(), "bob", true)
        ]
    );
    assert_eq!(p.lease_of(ip("10.9.0.2")), Some(("rw", "bob", true)));
    assert_eq!(p.lease_of(ip("10.9.0.3")), None);
}

#[test]
fn a_second_device_gets_a_second_address() {
    // strongSwan: an online lease is shared only with the same peer
    // address (make-before-break reauthentication).
    let mut p = Pools::new();
    p.load(pool("rw", "10.9.0.0/24"), Source::File).unwrap();
    let n = names(&["rw"]);
    let a = p.acquire(&n, "alice", ip(ANY4), peer(1)).unwrap();
    let phone = p.acquire(&n, "alice", ip(ANY4), peer(2)).unwrap();
    assert_ne!(a.addr, phone.addr);
    // Reauthentication from the same peer: the same address, held twice.
    let re = p.acquire(&n, "alice", ip(ANY4), peer(1)).unwrap();
    assert_eq!(re.addr, a.addr);
    assert!(p.release(&n, a.addr, "alice", peer(1)));
    assert_eq!(p.lease_of(a.addr), Some(("rw", "alice", true)));
    assert!(p.release(&n, a.addr, "alice", peer(1)));
    assert_eq!(p.lease_of(a.addr), Some(("rw", "alice", false)));
    // A specific request for one of her offline leases is honoured.
    assert!(p.release(&n, phone.addr, "alice", peer(2)));
    let again = p.acquire(&n, "alice", phone.addr, peer(3)).unwrap();
    assert_eq!(again.addr, phone.addr);
}

#[test]
fn full_pool_reassigns_the_oldest_offline_lease() {
    let mut p = Pools::new();
    p.load(pool("small", "10.9.0.1-10.9.0.3"), Source::File)
        .unwrap();
    let n = names(&["small"]);
    for id in ["a", "b", "c"] {
        p.acquire(&n, id, ip(ANY4), None).unwrap();
    }
    assert_eq!(p.acquire(&n, "d", ip(ANY4), None), None, "full");
    assert!(p.release(&n, ip("10.9.0.2"), "b", None));
    assert!(p.release(&n, ip("10.9.0.1"), "a", None));
    // b went offline first: its address goes to d.
    assert_eq!(
        p.acquire(&n, "d", ip(ANY4), None).unwrap().addr,
        ip("10.9.0.2")
    );
    assert_eq!(p.lease_of(ip("10.9.0.2")), Some(("small", "d", true)));
    // b is back: a's offline lease is the only one left.
    assert_eq!(
        p.acquire(&n, "b", ip(ANY4), None).unwrap().addr,
        ip("10.9.0.1")
    );
    assert_eq!(p.acquire(&n, "a", ip(ANY4), None), None);
    let s = p.get("small").unwrap();
    assert_eq!((s.online(), s.offline()), (3, 0));
}

#[test]
fn pools_are_tried_in_order_by_family_and_kind_of_lease() {
    let mut p = Pools::new();
    p.load(pool("one", "10.9.0.1-10.9.0.1"), Source::File)
        .unwrap();
    p.load(pool("two", "10.9.1.0/24"), Source::File).unwrap();
    p.load(pool("six", "2001:db8:9::/120"), Source::File)
        .unwrap();
    let n = names(&["one", "two", "six"]);
    assert_eq!(p.acquire(&n, "a", ip(ANY4), None).unwrap().pool, "one");
    assert_eq!(p.acquire(&n, "b", ip(ANY4), None).unwrap().pool, "two");
    let v6 = p.acquire(&n, "a", ip("::"), None).unwrap();
    assert_eq!((v6.pool.as_str(), v6.addr), ("six", ip("2001:db8:9::1")));
    // A new address in a later pool comes before reassigning one in an
    // earlier pool (existing, then new, then reassign, each over all).
    assert!(p.release(&n, ip("10.9.0.1"), "a", None));
    assert_eq!(p.acquire(&n, "c", ip(ANY4), None).unwrap().pool, "two");
    // ...and a's own offline lease comes before anything new.
    assert_eq!(
        p.acquire(&n, "a", ip(ANY4), None).unwrap().addr,
        ip("10.9.0.1")
    );
    // Unknown pool names are skipped.
    assert_eq!(
        p.acquire(&names(&["nope", "two"]), "d", ip(ANY4), None)
            .unwrap()
            .pool,
        "two"
    );
}

#[test]
fn config_pool_echoes_the_request() {
    // strongSwan's test_mem_pool.c "test_config": an empty pool returns
    // what was requested and keeps nothing; vtid gives nothing for an
    // unspecified request (there is nothing to echo).
    let mut p = Pools::new();
    p.load(pool("cfg", "%config4"), Source::File).unwrap();
    let n = names(&["cfg"]);
    assert_eq!(
        p.acquire(&n, "a", ip("192.168.0.1"), None).unwrap().addr,
        ip("192.168.0.1")
    );
    assert_eq!(p.acquire(&n, "a", ip(ANY4), None), None);
    assert_eq!(p.acquire(&n, "a", ip("2001:db8::1"), None), None, "v4 only");
    assert!(!p.release(&n, ip("192.168.0.1"), "a", None));
    assert_eq!(p.get("cfg").unwrap().online(), 0);
}

#[test]
fn loading_and_unloading_as_the_vici_plugin() {
    let mut p = Pools::new();
    assert_eq!(
        p.load(pool("v", "10.9.0.0/24"), Source::Vici),
        Ok(Loaded::Added)
    );
    let n = names(&["v"]);
    let a = p.acquire(&n, "alice", ip(ANY4), None).unwrap();
    // Same addresses: leases kept, attributes replaced.
    let mut with_dns = pool("v", "10.9.0.0/24");
    with_dns.attrs = vec![PoolAttr::parse(config::AttrKind::Dns, "10.9.0.53").unwrap()];
    assert_eq!(p.load(with_dns, Source::Vici), Ok(Loaded::Updated));
    assert_eq!(p.lease_of(a.addr), Some(("v", "alice", true)));
    assert_eq!(p.attributes(&n, &[a.addr]).count(), 1);
    // Other addresses while a lease is online: refused.
    assert_eq!(
        p.load(pool("v", "10.9.8.0/24"), Source::Vici),
        Err(PoolError::Online {
            name: "v".into(),
            online: 1,
            what: "replace"
        })
    );
    assert_eq!(
        p.unload("v").unwrap_err().to_string(),
        "vici pool v has 1 online leases, unable to unload"
    );
    assert!(p.release(&n, a.addr, "alice", None));
    assert_eq!(
        p.load(pool("v", "10.9.8.0/24"), Source::Vici),
        Ok(Loaded::Replaced)
    );
    assert_eq!(p.get("v").unwrap().offline(), 0, "old leases gone");
    // Overlap with another pool: refused.
    let e = p
        .load(pool("w", "10.9.8.128/25"), Source::Vici)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "pool 'w' (10.9.8.128/25) shares addresses with pool 'v' (10.9.8.0/24)"
    );
    assert_eq!(p.unload("v"), Ok(()));
    assert_eq!(p.unload("v"), Err(PoolError::NotFound("v".into())));
    // A file pool is the file's.
    p.load(pool("f", "10.1.0.0/24"), Source::File).unwrap();
    assert_eq!(p.unload("f"), Err(PoolError::FromFile("f".into())));
    assert_eq!(
        p.load(pool("f", "10.1.0.0/24"), Source::Vici),
        Err(PoolError::FromFile("f".into()))
    );
}

#[test]
fn reload_keeps_online_leases() {
    let mut p = Pools::new();
    let v1 = [pool("a", "10.9.0.0/24"), pool("b", "10.9.1.0/24")];
    assert!(p.sync_file(&v1).is_empty());
    let n = names(&["a", "b"]);
    let x = p.acquire(&names(&["b"]), "x", ip(ANY4), None).unwrap();
    // b moves while x is online: kept as it was, the operator told.
    let v2 = [pool("a", "10.9.0.0/24"), pool("b", "10.9.2.0/24")];
    let notes = p.sync_file(&v2);
    assert_eq!(
        notes,
        ["pool 'b' not loaded: vici pool b has 1 online leases, unable to replace"]
    );
    assert_eq!(p.lease_of(x.addr), Some(("b", "x", true)));
    // b removed from the file: stays while x is online, gives nothing new.
    let notes = p.sync_file(&v2[..1]);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(p.get("b").unwrap().is_retired());
    assert_eq!(p.acquire(&names(&["b"]), "y", ip(ANY4), None), None);
    assert!(p.release(&n, x.addr, "x", None));
    assert!(p.get("b").is_none(), "gone with its last online lease");
    // A VICI pool of the same name wins over the file's.
    p.load(pool("c", "10.9.5.0/24"), Source::Vici).unwrap();
    let notes = p.sync_file(&[pool("a", "10.9.0.0/24"), pool("c", "10.9.6.0/24")]);
    assert_eq!(notes.len(), 1);
    assert!(notes[0].contains("loaded over VICI"), "{notes:?}");
    assert_eq!(p.get("c").unwrap().base(), Some(ip("10.9.5.1")));
}

#[test]
fn attributes_go_with_the_pool_of_the_address() {
    let mut p = Pools::new();
    let mut a = pool("a", "10.9.0.0/24");
    a.attrs = vec![PoolAttr::parse(config::AttrKind::Dns, "10.9.0.53").unwrap()];
    let mut b = pool("b", "10.9.1.0/24");
    b.attrs = vec![PoolAttr::parse(config::AttrKind::Dns, "10.9.1.53").unwrap()];
    p.load(a, Source::File).unwrap();
    p.load(b, Source::File).unwrap();
    let n = names(&["a", "b"]);
    let got: Vec<String> = p
        .attributes(&n, &[ip("10.9.1.7")])
        .map(|a| a.value.to_string())
        .collect();
    assert_eq!(got, ["10.9.1.53"]);
    assert_eq!(p.attributes(&n, &[]).count(), 0);
}

#[test]
fn thousands_of_clients() {
    // A /16: 65534 identities each get their own address, keep it over a
    // disconnect, and every address maps back to its owner.
    let mut p = Pools::new();
    p.load(pool("big", "10.64.0.0/16"), Source::File).unwrap();
    let n = names(&["big"]);
    let mut got = HashMap::new();
    for i in 0..65534u32 {
        let id = format!("user{i}@example.org");
        let a = p.acquire(&n, &id, ip(ANY4), None).unwrap();
        assert!(got.insert(a.addr, id).is_none(), "{} twice", a.addr);
    }
    assert_eq!(p.acquire(&n, "one-too-many", ip(ANY4), None), None);
    for (addr, id) in &got {
        assert_eq!(p.lease_of(*addr), Some(("big", id.as_str(), true)));
        assert!(p.release(&n, *addr, id, None));
    }
    assert_eq!(p.get("big").unwrap().offline(), 65534);
    for (addr, id) in &got {
        assert_eq!(p.acquire(&n, id, ip(ANY4), None).unwrap().addr, *addr);
    }
    assert_eq!(p.get("big").unwrap().online(), 65534);
}

#[derive(Clone, Debug)]
enum Op {
    Connect(u8, u8),
    Disconnect(usize),
}

proptest! {
    // Any sequence of connects and disconnects of a few identities on a
    // small pool: two identities never hold one address, the counters
    // match the leases, a pool says "full" only when every address is
    // online, and while nothing was ever reassigned a returning identity
    // gets an address it had.
    #[test]
    fn leases_model(ops in prop::collection::vec(
        prop_oneof![
            3 => (0u8..6, 0u8..3).prop_map(|(i, p)| Op::Connect(i, p)),
            2 => any::<usize>().prop_map(Op::Disconnect),
        ],
        1..80,
    )) {
        let mut p = Pools::new();
        p.load(pool("p", "10.9.0.1-10.9.0.4"), Source::File).unwrap();
        let n = names(&["p"]);
        let mut sessions: Vec<(String, IpAddr, Option<SocketAddr>)> = Vec::new();
        let mut had: HashMap<String, Vec<IpAddr>> = HashMap::new();
        let mut reassigned = false;
        let mut last_owner: HashMap<IpAddr, String> = HashMap::new();
        for op in ops {
            match op {
                Op::Connect(i, port) => {
                    let id = format!("id{i}");
                    let prior = had.get(&id).cloned().unwrap_or_default();
                    let has_offline = prior
                        .iter()
                        .any(|a| !sessions.iter().any(|s| s.0 == id && s.1 == *a));
                    match p.acquire(&n, &id, ip(ANY4), peer(u16::from(port))) {
                        Some(a) => {
                            if let Some(owner) = sessions.iter().find(|s| s.1 == a.addr) {
                                prop_assert_eq!(&owner.0, &id, "address shared by two identities");
                            }
                            if !reassigned && has_offline {
                                prop_assert!(prior.contains(&a.addr), "not its old address");
                            }
                            if last_owner.get(&a.addr).is_some_and(|o| *o != id) {
                                reassigned = true;
                            }
                            last_owner.insert(a.addr, id.clone());
                            had.entry(id.clone()).or_default().push(a.addr);
                            sessions.push((id, a.addr, peer(u16::from(port))));
                        }
                        None => {
                            let online = p.get("p").unwrap().online();
                            prop_assert_eq!(online, 4, "refused while not full");
                        }
                    }
                }
                Op::Disconnect(k) => {
                    if sessions.is_empty() {
                        continue;
                    }
                    let (id, addr, pr) = sessions.remove(k % sessions.len());
                    prop_assert!(p.release(&n, addr, &id, pr));
                }
            }
            let lp = p.get("p").unwrap();
            let leases = lp.leases();
            prop_assert_eq!(
                (lp.online() + lp.offline()) as usize,
                leases.len()
            );
            let online: Vec<IpAddr> = leases.iter().filter(|l| l.online).map(|l| l.addr).collect();
            let mut from_sessions: Vec<IpAddr> = sessions.iter().map(|s| s.1).collect();
            from_sessions.sort();
            from_sessions.dedup();
            prop_assert_eq!(online, from_sessions);
        }
    }
}
