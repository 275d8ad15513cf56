//! PF_KEY codec: proptest round trips for every extension and message in
//! both flavours, arbitrary bytes never panic, and the flavour differences.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use pfkey::pfkey::{
    decode_replay_window, encode_replay_window, ext, Address, AddressKind, Alg, Comb, Extension,
    Flavor, Identity, IdentityKind, IpsecRequest, Key, KeyKind, Lifetime, LifetimeKind, Message,
    MsgType, NatT, NatTPortKind, PfKeyError, PfKeySocket, Policy, Proposal, Sa, Sa2, SaSpec,
    SaType, Sensitivity, SpiRange, SupportedKind,
};
use proptest::prelude::*;

fn flavor() -> impl Strategy<Value = Flavor> {
    prop_oneof![Just(Flavor::Linux), Just(Flavor::FreeBsd)]
}

fn sockaddr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>())
            .prop_map(|(a, p)| SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(a), p))),
        (any::<[u8; 16]>(), any::<u16>(), any::<u32>(), any::<u32>())
            .prop_map(|(a, p, f, s)| SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(a), p, f, s))),
    ]
}

fn address() -> impl Strategy<Value = Address> {
    (any::<u8>(), any::<u8>(), sockaddr()).prop_map(|(proto, prefixlen, addr)| Address {
        proto,
        prefixlen,
        addr,
    })
}

fn key() -> impl Strategy<Value = Key> {
    (1u16..=4096).prop_flat_map(|bits| {
        proptest::collection::vec(any::<u8>(), usize::from(bits).div_ceil(8)).prop_map(
            move |data| Key {
                bits,
                data: data.into(),
            },
        )
    })
}

fn comb() -> impl Strategy<Value = Comb> {
    (
        any::<(u8, u8, u16, u16, u16, u16, u16, u32)>(),
        any::<(u32, u32, u64, u64, u64, u64, u64, u64)>(),
    )
        .prop_map(|(a, b)| Comb {
            auth: a.0,
            encrypt: a.1,
            flags: a.2,
            auth_minbits: a.3,
            auth_maxbits: a.4,
            encrypt_minbits: a.5,
            encrypt_maxbits: a.6,
            reserved: a.7,
            soft_allocations: b.0,
            hard_allocations: b.1,
            soft_bytes: b.2,
            hard_bytes: b.3,
            soft_addtime: b.4,
            hard_addtime: b.5,
            soft_usetime: b.6,
            hard_usetime: b.7,
        })
}

fn request(fl: Flavor) -> impl Strategy<Value = IpsecRequest> {
    let reqid = match fl {
        Flavor::Linux => any::<u32>().boxed(),
        Flavor::FreeBsd => any::<u16>().prop_map(u32::from).boxed(),
    };
    (
        any::<u16>(),
        any::<u8>(),
        any::<u8>(),
        reqid,
        proptest::option::of((sockaddr(), sockaddr())),
    )
        .prop_map(|(proto, mode, level, reqid, endpoints)| IpsecRequest {
            proto,
            mode,
            level,
            reqid,
            endpoints,
        })
}

/// Every extension `fl` can carry.
fn extension(fl: Flavor) -> BoxedStrategy<Extension> {
    let bsd = fl == Flavor::FreeBsd;
    let lifetime_kind = prop_oneof![
        Just(LifetimeKind::Current),
        Just(LifetimeKind::Hard),
        Just(LifetimeKind::Soft)
    ];
    let addr_kind = if bsd {
        prop_oneof![
            Just(AddressKind::Src),
            Just(AddressKind::Dst),
            Just(AddressKind::Proxy),
            Just(AddressKind::NatTOai),
            Just(AddressKind::NatTOar),
            Just(AddressKind::NewSrc),
            Just(AddressKind::NewDst),
        ]
        .boxed()
    } else {
        prop_oneof![
            Just(AddressKind::Src),
            Just(AddressKind::Dst),
            Just(AddressKind::Proxy),
            Just(AddressKind::NatTOai),
        ]
        .boxed()
    };
    let known: Vec<u16> = if bsd {
        (0..=28).collect()
    } else {
        (0..=23).collect()
    };
    let unknown_type = any::<u16>().prop_filter("unknown type", move |t| {
        *t == ext::X_KMPRIVATE || *t == 0 || !known.contains(t)
    });
    let mut v = vec![
        any::<(u32, u8, u8, u8, u8, u32)>()
            .prop_map(|(spi, replay, state, auth, encrypt, flags)| {
                Extension::Sa(Sa {
                    spi,
                    replay,
                    state,
                    auth,
                    encrypt,
                    flags,
                })
            })
            .boxed(),
        (lifetime_kind, any::<(u32, u64, u64, u64)>())
            .prop_map(|(k, (a, b, c, d))| {
                Extension::Lifetime(
                    k,
                    Lifetime {
                        allocations: a,
                        bytes: b,
                        addtime: c,
                        usetime: d,
                    },
                )
            })
            .boxed(),
        (addr_kind, address())
            .prop_map(|(k, a)| Extension::Address(k, a))
            .boxed(),
        (
            prop_oneof![Just(KeyKind::Auth), Just(KeyKind::Encrypt)],
            key(),
        )
            .prop_map(|(k, key)| Extension::Key(k, key))
            .boxed(),
        (
            prop_oneof![Just(IdentityKind::Src), Just(IdentityKind::Dst)],
            any::<u16>(),
            any::<u64>(),
            proptest::collection::vec(1u8..=255, 0..40),
        )
            .prop_map(|(k, ident_type, id, data)| {
                Extension::Identity(
                    k,
                    Identity {
                        ident_type,
                        id,
                        data,
                    },
                )
            })
            .boxed(),
        (
            any::<(u32, u8, u8)>(),
            0usize..4,
            0usize..4,
            any::<[u8; 32]>(),
        )
            .prop_map(|((dpd, sl, il), sn, inn, bits)| {
                Extension::Sensitivity(Sensitivity {
                    dpd,
                    sens_level: sl,
                    integ_level: il,
                    sens_bitmap: bits[..sn * 8].to_vec(),
                    integ_bitmap: bits[..inn * 8].to_vec(),
                })
            })
            .boxed(),
        (any::<u8>(), proptest::collection::vec(comb(), 0..4))
            .prop_map(|(replay, combs)| Extension::Proposal(Proposal { replay, combs }))
            .boxed(),
        (
            prop_oneof![Just(SupportedKind::Auth), Just(SupportedKind::Encrypt)],
            proptest::collection::vec(any::<(u8, u8, u16, u16)>(), 0..8),
        )
            .prop_map(|(k, algs)| {
                Extension::Supported(
                    k,
                    algs.into_iter()
                        .map(|(id, ivlen, minbits, maxbits)| Alg {
                            id,
                            ivlen,
                            minbits,
                            maxbits,
                        })
                        .collect(),
                )
            })
            .boxed(),
        any::<(u32, u32)>()
            .prop_map(|(min, max)| Extension::SpiRange(SpiRange { min, max }))
            .boxed(),
        (
            any::<(u16, u8, u8, u32, u32)>(),
            proptest::collection::vec(request(fl), 0..3),
        )
            .prop_map(move |((policy_type, dir, scope, id, priority), requests)| {
                Extension::Policy(Policy {
                    policy_type,
                    dir,
                    scope,
                    id,
                    priority,
                    requests,
                })
            })
            .boxed(),
        any::<(u8, u32, u32)>()
            .prop_map(|(mode, sequence, reqid)| {
                Extension::Sa2(Sa2 {
                    mode,
                    sequence,
                    reqid,
                })
            })
            .boxed(),
        any::<u8>().prop_map(Extension::NatTType).boxed(),
        (
            prop_oneof![Just(NatTPortKind::Src), Just(NatTPortKind::Dst)],
            any::<u16>(),
        )
            .prop_map(|(k, p)| Extension::NatTPort(k, p))
            .boxed(),
        (unknown_type, 0usize..6, any::<[u8; 44]>())
            .prop_map(|(ext_type, words, bytes)| Extension::Unknown {
                ext_type,
                data: bytes[..words * 8 + 4].to_vec(),
            })
            .boxed(),
    ];
    if bsd {
        v.push(any::<u16>().prop_map(Extension::NatTFrag).boxed());
        v.push(any::<u32>().prop_map(Extension::SaReplay).boxed());
    }
    proptest::strategy::Union::new(v).boxed()
}

fn message(fl: Flavor) -> impl Strategy<Value = Message> {
    (
        any::<(u8, u8, u8, u16, u32, u32)>(),
        proptest::collection::vec(extension(fl), 0..8),
    )
        .prop_map(
            |((t, errno, satype, reserved, seq, pid), extensions)| Message {
                msg_type: MsgType(t),
                errno,
                satype: SaType(satype),
                reserved,
                seq,
                pid,
                extensions,
            },
        )
}

fn flavored_message() -> impl Strategy<Value = (Flavor, Message)> {
    flavor().prop_flat_map(|fl| message(fl).prop_map(move |m| (fl, m)))
}

fn flavored_extension() -> impl Strategy<Value = (Flavor, Extension)> {
    flavor().prop_flat_map(|fl| extension(fl).prop_map(move |e| (fl, e)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_extension_round_trips((fl, e) in flavored_extension()) {
        let m = Message::new(MsgType::ADD, SaType::ESP).with(e);
        let bytes = m.emit(fl).unwrap();
        prop_assert_eq!(bytes.len() % 8, 0);
        prop_assert_eq!(usize::from(u16::from_ne_bytes([bytes[4], bytes[5]])) * 8, bytes.len());
        let ext_len = usize::from(u16::from_ne_bytes([bytes[16], bytes[17]])) * 8;
        prop_assert_eq!(ext_len, bytes.len() - 16);
        prop_assert_eq!(Message::parse(&bytes, fl).unwrap(), m);
    }

    #[test]
    fn every_message_round_trips((fl, m) in flavored_message()) {
        let bytes = m.emit(fl).unwrap();
        prop_assert_eq!(Message::parse(&bytes, fl).unwrap(), m.clone());
        // Emit is deterministic and parse∘emit is the identity on bytes too.
        prop_assert_eq!(Message::parse(&bytes, fl).unwrap().emit(fl).unwrap(), bytes);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600), fl in flavor()) {
        if let Ok(m) = Message::parse(&bytes, fl) {
            if let Ok(again) = m.emit(fl) {
                prop_assert_eq!(Message::parse(&again, fl).unwrap(), m);
            }
        }
    }

    #[test]
    fn mutated_messages_never_panic((fl, m) in flavored_message(), idx in any::<prop::sample::Index>(), val in any::<u8>()) {
        let mut bytes = m.emit(fl).unwrap();
        let i = idx.index(bytes.len());
        bytes[i] = val;
        let _ = Message::parse(&bytes, fl);
        let _ = Message::parse(&bytes[..i], fl);
    }

    #[test]
    fn replay_window_units_round_trip(packets in 0u32..100_000) {
        let (b, ext) = encode_replay_window(Flavor::FreeBsd, packets);
        let sa = Sa { replay: b, ..Sa::default() };
        let back = decode_replay_window(Flavor::FreeBsd, &sa, ext);
        // FreeBSD keeps whole bytes of bitmap: rounds up to a multiple of 8
        // (libipsec sends SA_REPLAY as bytes << 3 too).
        prop_assert_eq!(back, packets.div_ceil(8) * 8);
        let (l, lext) = encode_replay_window(Flavor::Linux, packets);
        prop_assert_eq!(lext, None);
        prop_assert_eq!(u32::from(l), packets.min(255));
    }
}

#[test]
fn sockaddr_encoding_differs_per_flavor() {
    let a4 = Address::host(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
    let a6 = Address::host(IpAddr::V6(Ipv6Addr::LOCALHOST));
    let m = Message::new(MsgType::X_SPDADD, SaType::UNSPEC)
        .with(Extension::Address(AddressKind::Src, a4))
        .with(Extension::Address(AddressKind::Dst, a6));
    let lin = m.emit(Flavor::Linux).unwrap();
    let bsd = m.emit(Flavor::FreeBsd).unwrap();
    // sadb_address (8) then the sockaddr at offset 16 + 8.
    assert_eq!(&lin[24..26], &2u16.to_ne_bytes(), "Linux: u16 sin_family");
    assert_eq!(&bsd[24..26], &[16, 2], "FreeBSD: sin_len 16, sin_family 2");
    // Second address: 16 + 24 (first ext) + 8.
    assert_eq!(&lin[48..50], &10u16.to_ne_bytes(), "Linux AF_INET6 = 10");
    assert_eq!(&bsd[48..50], &[28, 28], "FreeBSD: sin6_len 28, AF_INET6 28");
    assert_eq!(lin.len(), bsd.len());
    assert!(Message::parse(&lin, Flavor::FreeBsd).is_err());
}

#[test]
fn extension_numbers_24_to_26_differ_per_flavor() {
    // A FreeBSD SA_REPLAY (26) is Linux's SADB_X_EXT_FILTER: kept raw there.
    let m = Message::new(MsgType::ADD, SaType::ESP).with(Extension::SaReplay(4096));
    let bytes = m.emit(Flavor::FreeBsd).unwrap();
    let lin = Message::parse(&bytes, Flavor::Linux).unwrap();
    assert_eq!(
        lin.extensions,
        vec![Extension::Unknown {
            ext_type: ext::LINUX_X_FILTER,
            data: 4096u32.to_ne_bytes().to_vec()
        }]
    );
    assert!(m.emit(Flavor::Linux).is_err(), "no SA_REPLAY on Linux");
    // NAT_T_OAR (24) exists only on FreeBSD; 24 is SEC_CTX on Linux.
    let oar = Message::new(MsgType::ADD, SaType::ESP).with(Extension::Address(
        AddressKind::NatTOar,
        Address::host(IpAddr::V4(Ipv4Addr::new(100, 64, 0, 1))),
    ));
    let bytes = oar.emit(Flavor::FreeBsd).unwrap();
    assert_eq!(u16::from_ne_bytes([bytes[18], bytes[19]]), 24);
    assert!(oar.emit(Flavor::Linux).is_err());
    assert!(matches!(
        Message::parse(&bytes, Flavor::Linux).unwrap().extensions[0],
        Extension::Unknown { ext_type: 24, .. }
    ));
    // NAT_T_FRAG (25) likewise.
    let frag = Message::new(MsgType::ADD, SaType::ESP).with(Extension::NatTFrag(1400));
    assert_eq!(
        Message::parse(&frag.emit(Flavor::FreeBsd).unwrap(), Flavor::FreeBsd).unwrap(),
        frag
    );
}

#[test]
fn ipsecrequest_layout_differs_per_flavor() {
    let p = Policy {
        policy_type: 2,
        dir: 2,
        requests: vec![IpsecRequest {
            proto: 50,
            mode: 2,
            level: 3,
            reqid: 0x1234,
            endpoints: None,
        }],
        ..Policy::default()
    };
    let m = Message::new(MsgType::X_SPDADD, SaType::UNSPEC).with(Extension::Policy(p.clone()));
    let lin = m.emit(Flavor::Linux).unwrap();
    let bsd = m.emit(Flavor::FreeBsd).unwrap();
    assert_eq!(lin.len(), 16 + 16 + 16, "Linux request is 16 bytes");
    assert_eq!(bsd.len(), 16 + 16 + 8, "FreeBSD request is 8 bytes");
    assert_eq!(
        u16::from_ne_bytes([lin[32], lin[33]]),
        16,
        "length in bytes"
    );
    assert_eq!(u16::from_ne_bytes([bsd[32], bsd[33]]), 8, "length in bytes");
    assert_eq!(&lin[40..44], &0x1234u32.to_ne_bytes());
    assert_eq!(&bsd[38..40], &0x1234u16.to_ne_bytes());
    let mut big = p;
    big.requests[0].reqid = 0x1_0000;
    let m = Message::new(MsgType::X_SPDADD, SaType::UNSPEC).with(Extension::Policy(big));
    assert!(m.emit(Flavor::FreeBsd).is_err(), "FreeBSD reqid is 16 bits");
    assert!(m.emit(Flavor::Linux).is_ok());
}

fn spec() -> SaSpec {
    SaSpec {
        satype: SaType::ESP,
        spi: 0x1000,
        auth: 5,
        encrypt: 12,
        flags: 0,
        replay_window: 4096,
        mode: 2,
        reqid: 7,
        src: Address::host(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))),
        dst: Address::host(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2))),
        auth_key: Some(Key::new(&[1; 32]).unwrap()),
        enc_key: Some(Key::new(&[2; 16]).unwrap()),
        hard: Some(Lifetime {
            addtime: 3600,
            ..Lifetime::default()
        }),
        soft: None,
        natt: Some(NatT {
            encap_type: pfkey::pfkey::UDP_ENCAP_ESPINUDP,
            sport: 4500,
            dport: 4500,
            oai: None,
            oar: None,
        }),
    }
}

#[test]
fn sa_builders_encode_replay_per_flavor() {
    let bsd = Message::add(&spec(), Flavor::FreeBsd);
    assert_eq!(bsd.sa().unwrap().replay, 255);
    assert_eq!(bsd.sa_replay(), Some(4096));
    assert_eq!(bsd.replay_window(Flavor::FreeBsd), Some(4096));
    assert_eq!(bsd.sa2().unwrap().reqid, 7);
    let lin = Message::update(&spec(), Flavor::Linux);
    assert_eq!(lin.msg_type, MsgType::UPDATE);
    assert_eq!(lin.sa().unwrap().replay, 255);
    assert_eq!(lin.sa_replay(), None);
    for fl in [Flavor::Linux, Flavor::FreeBsd] {
        let m = Message::add(&spec(), fl);
        assert_eq!(Message::parse(&m.emit(fl).unwrap(), fl).unwrap(), m);
    }
    // Small FreeBSD windows are bytes in sadb_sa_replay.
    let mut s = spec();
    s.replay_window = 64;
    let m = Message::add(&s, Flavor::FreeBsd);
    assert_eq!(m.sa().unwrap().replay, 8);
    assert_eq!(m.sa_replay(), None);
}

#[test]
fn keys_are_redacted_in_debug() {
    let m = Message::add(&spec(), Flavor::Linux);
    let dbg = format!("{m:?}");
    assert!(dbg.contains("redacted"), "{dbg}");
    assert!(!dbg.contains("[1, 1, 1"), "{dbg}");
    assert!(!dbg.contains("[2, 2, 2"), "{dbg}");
}

#[test]
fn request_builders() {
    let a = Address::host(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
    let b = Address::host(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)));
    let g = Message::getspi(SaType::ESP, a, b, SpiRange { min: 256, max: 511 }, 2, 9);
    assert_eq!(g.spirange(), Some(&SpiRange { min: 256, max: 511 }));
    assert_eq!(g.sa2().unwrap().reqid, 9);
    assert_eq!(Message::delete(SaType::ESP, 5, a, b).sa().unwrap().spi, 5);
    assert_eq!(Message::get(SaType::ESP, 5, a, b).msg_type, MsgType::GET);
    assert_eq!(Message::register(SaType::ESP).msg_type, MsgType::REGISTER);
    assert_eq!(Message::flush(SaType::UNSPEC).msg_type, MsgType::FLUSH);
    assert_eq!(Message::dump(SaType::ESP).msg_type, MsgType::DUMP);
    assert_eq!(Message::spd_flush().msg_type, MsgType::X_SPDFLUSH);
    assert_eq!(Message::spd_dump().msg_type, MsgType::X_SPDDUMP);
    let p = Policy::default();
    assert_eq!(Message::spd_add(a, b, p.clone()).policy(), Some(&p));
    assert_eq!(Message::spd_delete(a, b, p).msg_type, MsgType::X_SPDDELETE);
    assert_eq!(format!("{:?}", MsgType::X_SPDADD), "X_SPDADD");
    assert_eq!(format!("{:?}", MsgType(99)), "MsgType(99)");
}

/// On this project's CI kernel there is no AF_KEY: the error must say so.
/// On a kernel with PF_KEY the socket must answer an SPD dump.
#[test]
fn pfkey_socket_reports_missing_af_key() {
    match PfKeySocket::open(Flavor::native()) {
        Err(e @ PfKeyError::NoPfKey) => {
            let text = e.to_string();
            println!("SKIP PF_KEY socket I/O: {text}");
            assert!(text.contains("this kernel has no PF_KEY (AF_KEY) support"));
        }
        Ok(mut s) => {
            println!("kernel has PF_KEY");
            match s.dump(Message::spd_dump()) {
                Ok(v) => println!("SPD has {} entries", v.len()),
                Err(PfKeyError::Kernel { errno, .. }) => println!("SPDDUMP: {errno}"),
                Err(e) => panic!("PF_KEY SPDDUMP failed: {e}"),
            }
        }
        Err(PfKeyError::Io(e)) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            println!("SKIP PF_KEY socket I/O: needs root ({e})");
        }
        Err(e) => panic!("unexpected PF_KEY error: {e}"),
    }
}
