//! Identities decided when the IKE SA is set up (issue 15 §4): a connection
//! without `local.id` identifies itself by the IKE address it uses then, as
//! strongSwan does (RFC 7296 §3.5 ID_IPV4_ADDR), and remote addresses the
//! daemon resolved are handed to the engine before an initiation.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use ike::crypto::SecretBytes;
use ike::engine::{
    AddrMatch, ChildConfig, Datagram, Endpoint, EngineConfig, Event, IkeInfo, PeerConfig,
    SharedKey, TsSpec,
};
use ike::proposal::{parse_esp_proposals, parse_ike_proposals};
use ike::wire::Identification;
use rand_core::{CryptoRng, RngCore};

/// SplitMix64: deterministic randomness for tests only.
struct TestRng(u64);

impl RngCore for TestRng {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}
impl CryptoRng for TestRng {}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn peer(name: &str, id: Option<&str>, remote_id: Option<Identification>) -> PeerConfig {
    let local = id.map_or(Identification::Fqdn(b"unused".to_vec()), |i| {
        Identification::Fqdn(i.as_bytes().to_vec())
    });
    let mut p = PeerConfig::new(
        name,
        local,
        parse_ike_proposals("aes128gcm16-prfsha256-ecp256").unwrap(),
    );
    p.local_id_from_address = id.is_none();
    p.remote_id = remote_id;
    let mut c = ChildConfig::new("net", parse_esp_proposals("aes128gcm16").unwrap());
    c.local_ts = vec![TsSpec::Dynamic];
    c.remote_ts = vec![TsSpec::Dynamic];
    c.reqid = 7;
    p.children.push(c);
    p
}

fn endpoint(seed: u64, local: &str, p: PeerConfig) -> Endpoint {
    let mut ep = Endpoint::new(EngineConfig::default(), Box::new(TestRng(seed)));
    ep.set_local_addrs(Some(SocketAddr::new(ip(local), 500)), None);
    ep.load(
        Instant::now(),
        vec![p],
        vec![SharedKey {
            ids: vec![],
            secret: SecretBytes::from_slice(b"lab-psk"),
        }],
    );
    ep
}

/// Moves datagrams between `a` and `b` until both are quiet; returns the
/// IKE_SAs that came up on each side.
fn pump(now: Instant, a: &mut Endpoint, b: &mut Endpoint) -> (Vec<IkeInfo>, Vec<IkeInfo>) {
    let (mut up_a, mut up_b) = (Vec::new(), Vec::new());
    for _ in 0..100 {
        let mut moved = false;
        for a_to_b in [true, false] {
            let (from, to) = if a_to_b {
                (&mut *a, &mut *b)
            } else {
                (&mut *b, &mut *a)
            };
            while let Some(t) = from.poll_transmit() {
                moved = true;
                to.handle_datagram(
                    now,
                    Datagram {
                        local: t.remote,
                        remote: t.local,
                        nat_t: t.nat_t,
                        data: &t.data,
                    },
                );
            }
        }
        for (ep, up) in [(&mut *a, &mut up_a), (&mut *b, &mut up_b)] {
            while ep.poll_action().is_some() {}
            while let Some(e) = ep.poll_event() {
                if let Event::IkeUp(i) = e {
                    up.push(*i);
                }
            }
        }
        if !moved {
            return (up_a, up_b);
        }
    }
    panic!("did not settle");
}

/// The initiator's identity is the address it initiates from, and follows
/// that address when it changes (a router whose WAN address moved).
#[test]
fn initiator_identity_is_the_address_in_use() {
    let now = Instant::now();
    let mut a = endpoint(1, "192.0.2.1", {
        let mut p = peer("gw", None, None);
        p.remote_addrs = vec![AddrMatch::Addr(ip("192.0.2.2"))];
        p
    });
    let mut b = endpoint(2, "192.0.2.2", peer("gw", Some("sun.example.org"), None));
    a.initiate(now, "gw", None).unwrap();
    let (ua, ub) = pump(now, &mut a, &mut b);
    assert_eq!(ua.len(), 1, "A did not come up");
    assert_eq!(ua[0].local_id, "192.0.2.1");
    assert_eq!(ub[0].remote_id, "192.0.2.1");

    // The address changed: the next IKE SA carries the new one.
    a.set_local_addrs(Some(SocketAddr::new(ip("192.0.2.11"), 500)), None);
    for i in a.ike_sas() {
        a.terminate_ike(now, i.id).unwrap();
    }
    pump(now, &mut a, &mut b);
    a.initiate(now, "gw", None).unwrap();
    let (ua, ub) = pump(now, &mut a, &mut b);
    assert_eq!(ua.len(), 1, "A did not come up again");
    assert_eq!(ua[0].local_id, "192.0.2.11");
    assert_eq!(ub[0].remote_id, "192.0.2.11");
}

/// The responder's identity is the address the request reached, and a
/// peer that asks for that address as IDr finds the connection.
#[test]
fn responder_identity_is_the_address_the_request_reached() {
    let now = Instant::now();
    let mut a = endpoint(3, "192.0.2.1", {
        let mut p = peer(
            "gw",
            Some("moon.example.org"),
            Some(Identification::Ipv4("192.0.2.2".parse().unwrap())),
        );
        p.remote_addrs = vec![AddrMatch::Addr(ip("192.0.2.2"))];
        p
    });
    let mut b = endpoint(4, "192.0.2.2", peer("gw", None, None));
    a.initiate(now, "gw", None).unwrap();
    let (ua, ub) = pump(now, &mut a, &mut b);
    assert_eq!(ub.len(), 1, "B did not come up");
    assert_eq!(ub[0].local_id, "192.0.2.2");
    assert_eq!(ua[0].remote_id, "192.0.2.2");
}

/// Without a local address there is no identity: initiation fails and
/// says why instead of sending 0.0.0.0 as identity.
#[test]
fn no_address_no_identity() {
    let now = Instant::now();
    let mut ep = Endpoint::new(EngineConfig::default(), Box::new(TestRng(5)));
    let mut p = peer("gw", None, None);
    p.remote_addrs = vec![AddrMatch::Addr(ip("192.0.2.2"))];
    ep.load(now, vec![p], vec![]);
    let e = ep.initiate(now, "gw", None).unwrap_err().to_string();
    assert!(e.contains("no local address to use as identity"), "{e}");
    assert!(ep.poll_transmit().is_none());
}

/// Remote addresses handed over by the daemon (a DNS name resolved just
/// before initiating) are where the next initiation goes.
#[test]
fn resolved_remote_addresses_are_used_at_initiation() {
    let now = Instant::now();
    let mut p = peer("gw", Some("moon.example.org"), None);
    p.remote_addrs = vec![];
    let mut a = endpoint(6, "192.0.2.1", p);
    let e = a.initiate(now, "gw", None).unwrap_err().to_string();
    assert!(e.contains("no concrete remote address"), "{e}");
    assert!(a.set_remote_addrs("gw", vec![AddrMatch::Addr(ip("198.51.100.9"))]));
    assert!(!a.set_remote_addrs("nope", vec![]));
    a.initiate(now, "gw", None).unwrap();
    let t = a.poll_transmit().expect("IKE_SA_INIT sent");
    assert_eq!(t.remote.ip(), ip("198.51.100.9"));
    // and a new resolution moves the next initiation
    assert!(a.set_remote_addrs("gw", vec![AddrMatch::Addr(ip("203.0.113.4"))]));
    for i in a.ike_sas() {
        a.terminate_ike(now, i.id).unwrap();
    }
    while a.poll_transmit().is_some() {}
    a.initiate(now, "gw", None).unwrap();
    let t = a.poll_transmit().expect("IKE_SA_INIT sent");
    assert_eq!(t.remote.ip(), ip("203.0.113.4"));
}
