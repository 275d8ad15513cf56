//! The PF_KEY backend's message sequences for Install / ActivateOutbound /
//! RemoveOutbound / UpdateAddress / Delete, against PF_KEY messages written
//! out here extension by extension (FreeBSD flavour), compared as decoded
//! structures and as encoded bytes. Runs on Linux with a recording
//! transport and recording `if_ipsec` calls.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use pfkey::backend::pfkey::{
    spd_entries, PfKeyBackend, RecordingTransport, RecordingTunnels, SADB_AALG_SHA1HMAC,
    SADB_X_AALG_SHA2_256, SADB_X_EALG_AES, SADB_X_EALG_AESGCM16,
};
use pfkey::backend::{Auth, ChildSpec, Cipher, Limits, SaKeys, TsRange};
use pfkey::pfkey::{
    ipsec_dir, ipsec_level, ipsec_mode, ipsec_policy, sa_state, Address, AddressKind, Extension,
    Flavor, IpsecRequest, Key, KeyKind, Lifetime, LifetimeKind, Message, MsgType, NatTPortKind,
    Policy, Sa, Sa2, SaType, UDP_ENCAP_ESPINUDP,
};
use zeroize::Zeroizing;

const BSD: Flavor = Flavor::FreeBsd;

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}
fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn bytes(len: usize, base: u8) -> Vec<u8> {
    (0..len).map(|i| base.wrapping_add(i as u8)).collect()
}

fn spec(reqid: u32, spi_in: u32, spi_out: u32, routed: bool) -> ChildSpec {
    let k = |spi| SaKeys {
        spi,
        cipher: Cipher::AesGcm16 { key_bits: 128 },
        auth: None,
        enc_key: Zeroizing::new(bytes(20, 0x10)),
        auth_key: Zeroizing::new(Vec::new()),
    };
    ChildSpec {
        reqid,
        local: sa("192.0.2.1:4500"),
        remote: sa("198.51.100.2:4500"),
        encap: true,
        tunnel: true,
        esn: false,
        replay_window: 4096,
        inbound: k(spi_in),
        outbound: k(spi_out),
        local_ts: vec![TsRange {
            proto: 0,
            start_port: 0,
            end_port: 65535,
            start: ip("10.1.0.0"),
            end: ip("10.1.255.255"),
        }],
        remote_ts: vec![TsRange {
            proto: 0,
            start_port: 0,
            end_port: 65535,
            start: ip("10.2.0.0"),
            end: ip("10.2.0.255"),
        }],
        limits: Limits {
            soft_bytes: 800,
            hard_bytes: 1000,
            soft_packets: 0,
            hard_packets: 0,
        },
        routed,
        if_id: (0, 0),
        selector_limit: 0,
    }
}

/// The `SADB_ADD` this test expects, written out extension by extension,
/// in FreeBSD's libipsec order (`pfkey_send_x1`: state LARVAL, encryption
/// key before authentication key, hard then soft lifetime) with the NAT-T
/// extensions after them.
fn expected_add(spi: u32, reqid: u32, src: SocketAddr, dst: SocketAddr) -> Message {
    let lt = |bytes| Lifetime {
        allocations: 0,
        bytes,
        addtime: 0,
        usetime: 0,
    };
    Message::new(MsgType::ADD, SaType::ESP)
        .with(Extension::Sa(Sa {
            spi,
            replay: 255,
            state: sa_state::LARVAL,
            auth: 0,
            encrypt: SADB_X_EALG_AESGCM16,
            flags: 0,
        }))
        .with(Extension::Sa2(Sa2 {
            mode: ipsec_mode::TUNNEL,
            sequence: 0,
            reqid,
        }))
        // 4096 packets = 512 bytes of bitmap > 255: FreeBSD's SA_REPLAY.
        .with(Extension::SaReplay(4096))
        .with(Extension::Address(
            AddressKind::Src,
            Address::host(src.ip()),
        ))
        .with(Extension::Address(
            AddressKind::Dst,
            Address::host(dst.ip()),
        ))
        .with(Extension::Key(
            KeyKind::Encrypt,
            Key {
                bits: 160,
                data: Zeroizing::new(bytes(20, 0x10)),
            },
        ))
        .with(Extension::Lifetime(LifetimeKind::Hard, lt(1000)))
        .with(Extension::Lifetime(LifetimeKind::Soft, lt(800)))
        .with(Extension::NatTType(UDP_ENCAP_ESPINUDP))
        .with(Extension::NatTPort(NatTPortKind::Src, src.port()))
        .with(Extension::NatTPort(NatTPortKind::Dst, dst.port()))
}

fn expected_delete(spi: u32, src: SocketAddr, dst: SocketAddr) -> Message {
    Message::new(MsgType::DELETE, SaType::ESP)
        .with(Extension::Sa(Sa {
            spi,
            ..Sa::default()
        }))
        .with(Extension::Address(
            AddressKind::Src,
            Address::host(src.ip()),
        ))
        .with(Extension::Address(
            AddressKind::Dst,
            Address::host(dst.ip()),
        ))
}

fn assert_same(got: &[Message], want: &[Message]) {
    assert_eq!(got.len(), want.len(), "number of messages: {got:#?}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g.msg_type, w.msg_type, "message {i}: type");
        assert_eq!(
            g.extensions.len(),
            w.extensions.len(),
            "message {i} ({:?}): extensions {:#?}",
            g.msg_type,
            g.extensions
        );
        for (j, (ge, we)) in g.extensions.iter().zip(&w.extensions).enumerate() {
            assert_eq!(ge, we, "message {i} ({:?}) extension {j}", g.msg_type);
        }
        assert_eq!(g, w, "message {i}");
        assert_eq!(
            g.emit(BSD).unwrap(),
            w.emit(BSD).unwrap(),
            "message {i}: encoded bytes"
        );
    }
}

fn backend() -> PfKeyBackend<RecordingTransport, RecordingTunnels> {
    PfKeyBackend::new(
        RecordingTransport::default(),
        RecordingTunnels::default(),
        BSD,
        HashMap::from([(7, "ipsec7".to_string())]),
    )
}

#[test]
fn routed_install_activate_rekey_delete_sequence() {
    let mut b = backend();
    let local = sa("192.0.2.1:4500");
    let remote = sa("198.51.100.2:4500");
    // Initial child, outbound active at once.
    b.install(spec(7, 0xc1, 0xd1, false), true).unwrap();
    // Rekey (responder): inbound first, then activate, drop the old
    // outbound, delete the old child.
    b.install(spec(7, 0xc2, 0xd2, false), false).unwrap();
    b.activate_outbound(7, 0xd2).unwrap();
    b.remove_outbound(7, 0xd1).unwrap();
    b.delete(0xc1).unwrap();
    assert_same(
        &b.transport().sent,
        &[
            expected_add(0xc1, 7, remote, local),
            expected_add(0xd1, 7, local, remote),
            expected_add(0xc2, 7, remote, local),
            expected_add(0xd2, 7, local, remote),
            expected_delete(0xd1, local, remote),
            expected_delete(0xc1, remote, local),
        ],
    );
    // The tunnel was set once, before the first SA; no SPD entries for a
    // routed child (if_ipsec has its own).
    assert_eq!(
        b.tunnels().calls,
        vec![("ipsec7".to_string(), 7, ip("192.0.2.1"), ip("198.51.100.2"))]
    );
    assert!(!b
        .transport()
        .sent
        .iter()
        .any(|m| m.msg_type == MsgType::X_SPDADD));
}

#[test]
fn peer_moves_behind_nat_tunnel_reset_before_the_sas() {
    let mut b = backend();
    b.install(spec(7, 0xc1, 0xd1, false), true).unwrap();
    let n = b.transport().sent.len();
    let local = sa("192.0.2.1:4500");
    let moved = sa("203.0.113.9:61000");
    b.update_address(0xc1, local, moved, true).unwrap();
    assert_eq!(
        b.tunnels().calls.last().unwrap(),
        &("ipsec7".to_string(), 7, ip("192.0.2.1"), ip("203.0.113.9"))
    );
    assert_same(
        &b.transport().sent[n..],
        &[
            expected_delete(0xc1, sa("198.51.100.2:4500"), local),
            expected_add(0xc1, 7, moved, local),
            expected_delete(0xd1, local, sa("198.51.100.2:4500")),
            expected_add(0xd1, 7, local, moved),
        ],
    );
}

#[test]
fn policy_based_child_gets_spd_entries_with_unique_reqid() {
    let mut b = backend();
    b.install(spec(9, 0xc1, 0xd1, false), true).unwrap();
    let local = ip("192.0.2.1");
    let remote = ip("198.51.100.2");
    let req = |s: IpAddr, d: IpAddr| IpsecRequest {
        proto: 50,
        mode: ipsec_mode::TUNNEL,
        level: ipsec_level::UNIQUE,
        reqid: 9,
        endpoints: Some((SocketAddr::new(s, 0), SocketAddr::new(d, 0))),
    };
    let pol = |dir, r| Policy {
        policy_type: ipsec_policy::IPSEC,
        dir,
        scope: 0,
        id: 0,
        priority: 0,
        requests: vec![r],
    };
    let out_sel = (
        Address::net(ip("10.1.0.0"), 16),
        Address::net(ip("10.2.0.0"), 24),
    );
    let sent = &b.transport().sent;
    assert_same(
        &sent[2..],
        &[
            Message::spd_add(
                out_sel.0,
                out_sel.1,
                pol(ipsec_dir::OUTBOUND, req(local, remote)),
            ),
            Message::spd_add(
                out_sel.1,
                out_sel.0,
                pol(ipsec_dir::INBOUND, req(remote, local)),
            ),
        ],
    );
    assert!(b.tunnels().calls.is_empty(), "no interface for reqid 9");
    b.delete(0xc1).unwrap();
    let sent = &b.transport().sent;
    let last: Vec<MsgType> = sent[4..].iter().map(|m| m.msg_type).collect();
    assert_eq!(
        last,
        vec![
            MsgType::DELETE,
            MsgType::DELETE,
            MsgType::X_SPDDELETE,
            MsgType::X_SPDDELETE
        ]
    );
}

#[test]
fn cbc_suites_and_refusals() {
    let mut s = spec(7, 1, 2, true);
    for (auth, id) in [
        (Auth::HmacSha1_96, SADB_AALG_SHA1HMAC),
        (Auth::HmacSha256_128, SADB_X_AALG_SHA2_256),
    ] {
        s.inbound.cipher = Cipher::AesCbc { key_bits: 128 };
        s.inbound.enc_key = Zeroizing::new(bytes(16, 1));
        s.inbound.auth = Some(auth);
        s.inbound.auth_key = Zeroizing::new(bytes(32, 2));
        let m = Message::add(
            &pfkey::backend::pfkey::sa_spec(&s, pfkey::backend::Dir::In).unwrap(),
            BSD,
        );
        let sa = m.sa().unwrap();
        assert_eq!((sa.auth, sa.encrypt), (id, SADB_X_EALG_AES));
        assert_eq!(m.key(KeyKind::Auth).unwrap().bits, 256);
    }
    // ChaCha20-Poly1305 (FreeBSD 14 xform_esp.c): encrypt 15, no auth
    // algorithm or key, the 36-byte key with its salt.
    s.inbound.cipher = Cipher::ChaCha20Poly1305;
    s.inbound.auth = None;
    s.inbound.enc_key = Zeroizing::new(bytes(36, 1));
    let m = Message::add(
        &pfkey::backend::pfkey::sa_spec(&s, pfkey::backend::Dir::In).unwrap(),
        BSD,
    );
    let sa = m.sa().unwrap();
    assert_eq!((sa.auth, sa.encrypt), (0, 15));
    assert_eq!(m.key(KeyKind::Encrypt).unwrap().bits, 288);
    assert!(m.key(KeyKind::Auth).is_none());
    // Without the salt, or with an integrity algorithm: refused.
    s.inbound.enc_key = Zeroizing::new(bytes(32, 1));
    assert!(pfkey::backend::pfkey::sa_spec(&s, pfkey::backend::Dir::In).is_err());
    s.inbound.enc_key = Zeroizing::new(bytes(36, 1));
    s.inbound.auth = Some(Auth::HmacSha256_128);
    assert!(pfkey::backend::pfkey::sa_spec(&s, pfkey::backend::Dir::In).is_err());
}

#[test]
fn spd_entries_deleted_are_those_added_when_a_reqids_children_differ() {
    // Two policy-based children of reqid 9 whose selectors differ (a
    // rekey narrowed differently): the SPD holds the first one's entries
    // (SPDADD only with the reqid's first child), so those are what the
    // last delete must remove.
    let mut b = backend();
    let first = spec(9, 0xc1, 0xd1, false);
    let mut second = spec(9, 0xc2, 0xd2, false);
    second.local_ts[0].end = ip("10.1.0.255");
    b.install(first.clone(), true).unwrap();
    b.install(second, true).unwrap();
    b.delete(0xc1).unwrap();
    b.delete(0xc2).unwrap();
    let added = spd_entries(&first).unwrap();
    let sent = &b.transport().sent;
    let adds: Vec<Message> = sent
        .iter()
        .filter(|m| m.msg_type == MsgType::X_SPDADD)
        .cloned()
        .collect();
    let deletes: Vec<Message> = sent
        .iter()
        .filter(|m| m.msg_type == MsgType::X_SPDDELETE)
        .cloned()
        .collect();
    let want_adds: Vec<Message> = added
        .iter()
        .map(|e| Message::spd_add(e.src, e.dst, e.policy.clone()))
        .collect();
    let want_deletes: Vec<Message> = added
        .iter()
        .map(|e| Message::spd_delete(e.src, e.dst, e.policy.clone()))
        .collect();
    assert_same(&adds, &want_adds);
    assert_same(&deletes, &want_deletes);
}

#[test]
fn expiring_spis_map_to_their_child_and_spd_entries_are_listed() {
    let mut b = backend();
    b.install(spec(7, 0xc1, 0xd1, false), true).unwrap();
    b.install(spec(9, 0xc9, 0xd9, false), true).unwrap();
    // An SADB_EXPIRE names either direction's SPI.
    assert_eq!(b.spi_in_of(0xc1), Some(0xc1));
    assert_eq!(b.spi_in_of(0xd1), Some(0xc1));
    assert_eq!(b.spi_in_of(0xd9), Some(0xc9));
    assert_eq!(b.spi_in_of(0xee), None);
    // Routed reqid 7 has no SPD entries; policy-based reqid 9 has the two
    // that went to the kernel.
    assert!(b.spd_of(7).is_empty());
    let sent: Vec<_> = b
        .transport()
        .sent
        .iter()
        .filter(|m| m.msg_type == MsgType::X_SPDADD)
        .cloned()
        .collect();
    let listed: Vec<_> = b
        .spd_of(9)
        .iter()
        .map(|e| Message::spd_add(e.src, e.dst, e.policy.clone()))
        .collect();
    assert_eq!(listed, sent);
    b.delete(0xc9).unwrap();
    assert!(b.spd_of(9).is_empty());
}

#[test]
fn ipv6_tunnel_endpoints_reach_the_interface() {
    let mut b = backend();
    let mut s = spec(7, 0xc1, 0xd1, false);
    s.local = sa("[2001:db8::1]:4500");
    s.remote = sa("[2001:db8:1::2]:4500");
    b.install(s, true).unwrap();
    assert_eq!(
        b.tunnels().calls,
        vec![(
            "ipsec7".to_string(),
            7,
            ip("2001:db8::1"),
            ip("2001:db8:1::2")
        )]
    );
    let add = &b.transport().sent[0];
    assert_eq!(
        add.address(AddressKind::Src).unwrap().addr.ip(),
        ip("2001:db8:1::2")
    );
    // FreeBSD's sockaddr_in6: sin6_len 28, AF_INET6 28.
    let bytes = add.emit(BSD).unwrap();
    let at = bytes
        .windows(2)
        .position(|w| w == [28, 28])
        .expect("a FreeBSD sockaddr_in6");
    assert_eq!(&bytes[at + 8..at + 24], &ip_octets("2001:db8:1::2"));
}

fn ip_octets(s: &str) -> [u8; 16] {
    match ip(s) {
        IpAddr::V6(a) => a.octets(),
        IpAddr::V4(_) => unreachable!(),
    }
}

#[test]
fn kernel_events_expire_and_acquire() {
    use pfkey::backend::pfkey::parse_event;
    use pfkey::backend::KernelEvent;
    let lt = Lifetime {
        allocations: 0,
        bytes: 1000,
        addtime: 1,
        usetime: 2,
    };
    let expire = |kind| {
        Message::new(MsgType::EXPIRE, SaType::ESP)
            .with(Extension::Sa(Sa {
                spi: 0xd1,
                ..Sa::default()
            }))
            .with(Extension::Sa2(Sa2 {
                mode: ipsec_mode::TUNNEL,
                sequence: 0,
                reqid: 7,
            }))
            .with(Extension::Lifetime(LifetimeKind::Current, lt))
            .with(Extension::Lifetime(kind, lt))
            .with(Extension::Address(
                AddressKind::Src,
                Address::host(ip("192.0.2.1")),
            ))
            .with(Extension::Address(
                AddressKind::Dst,
                Address::host(ip("198.51.100.2")),
            ))
    };
    assert_eq!(
        parse_event(&expire(LifetimeKind::Soft)),
        Some(KernelEvent::Expire {
            spi: 0xd1,
            dst: Some(ip("198.51.100.2")),
            hard: false
        })
    );
    assert_eq!(
        parse_event(&expire(LifetimeKind::Hard)),
        Some(KernelEvent::Expire {
            spi: 0xd1,
            dst: Some(ip("198.51.100.2")),
            hard: true
        })
    );
    // An EXPIRE without an SA extension says nothing we can act on.
    assert_eq!(
        parse_event(&Message::new(MsgType::EXPIRE, SaType::ESP)),
        None
    );
    let acquire = Message::new(MsgType::ACQUIRE, SaType::ESP)
        .with(Extension::Address(
            AddressKind::Src,
            Address::host(ip("192.0.2.1")),
        ))
        .with(Extension::Address(
            AddressKind::Dst,
            Address::host(ip("198.51.100.2")),
        ))
        .with(Extension::Sa2(Sa2 {
            mode: ipsec_mode::TUNNEL,
            sequence: 0,
            reqid: 9,
        }));
    assert_eq!(
        parse_event(&acquire),
        Some(KernelEvent::Acquire {
            reqid: 9,
            src: Some(ip("192.0.2.1")),
            dst: Some(ip("198.51.100.2"))
        })
    );
    // A reply (ADD) is not an event.
    assert_eq!(parse_event(&Message::new(MsgType::ADD, SaType::ESP)), None);
}

/// A policy-based child whose selectors split into more prefix pairs than
/// its limit is refused before any SPD entry is built or sent; at the limit
/// it installs its two entries per pair.
#[test]
fn spd_entries_beyond_the_selector_limit_are_refused() {
    let odd = |a: &str, b: &str| TsRange {
        proto: 0,
        start_port: 0,
        end_port: 65535,
        start: ip(a),
        end: ip(b),
    };
    let mut s = spec(9, 0xc1, 0xd1, false);
    // 10.1.0.1-10.1.0.6 and 10.2.0.1-10.2.0.6: 4 prefixes each, 16 pairs.
    s.local_ts = vec![odd("10.1.0.1", "10.1.0.6")];
    s.remote_ts = vec![odd("10.2.0.1", "10.2.0.6")];
    s.selector_limit = 16;
    assert_eq!(spd_entries(&s).unwrap().len(), 32);
    s.selector_limit = 15;
    let e = spd_entries(&s).unwrap_err().to_string();
    assert!(e.contains("max_policies_per_child = 15"), "{e}");
    let mut b = backend();
    assert!(b.install(s, true).is_err());
    assert!(
        !b.transport()
            .sent
            .iter()
            .any(|m| matches!(m.msg_type, MsgType::X_SPDADD | MsgType::ADD)),
        "nothing reached the kernel"
    );
}
