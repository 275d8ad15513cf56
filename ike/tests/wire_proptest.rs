//! Property tests of the `ike::wire` codec: round trips for every payload
//! kind and for whole messages, and no panics on arbitrary or mutated input.

use std::net::{Ipv4Addr, Ipv6Addr};

use ike::wire::*;
use proptest::prelude::*;
use proptest::sample::select;

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..=max)
}

// ---------------------------------------------------------------- strategies

fn transform_attr() -> impl Strategy<Value = TransformAttr> {
    prop_oneof![
        (0u16..0x8000, any::<u16>()).prop_map(|(t, value)| TransformAttr::Tv {
            ty: TransformAttrType(t),
            value
        }),
        (0u16..0x8000, bytes(8)).prop_map(|(t, value)| TransformAttr::Tlv {
            ty: TransformAttrType(t),
            value
        }),
    ]
}

fn transform() -> impl Strategy<Value = Transform> {
    (
        any::<u8>(),
        any::<u16>(),
        prop::collection::vec(transform_attr(), 0..3),
    )
        .prop_map(|(ty, id, attributes)| Transform {
            ty: TransformType(ty),
            id,
            attributes,
        })
}

fn proposal() -> impl Strategy<Value = Proposal> {
    (
        any::<u8>(),
        any::<u8>(),
        bytes(8),
        prop::collection::vec(transform(), 0..5),
    )
        .prop_map(|(num, p, spi, transforms)| Proposal {
            num,
            protocol: ProtocolId(p),
            spi,
            transforms,
        })
}

fn sa() -> impl Strategy<Value = SaPayload> {
    prop::collection::vec(proposal(), 0..4).prop_map(|proposals| SaPayload { proposals })
}

fn ipv4() -> impl Strategy<Value = Ipv4Addr> {
    any::<[u8; 4]>().prop_map(Ipv4Addr::from)
}

fn ipv6() -> impl Strategy<Value = Ipv6Addr> {
    any::<[u8; 16]>().prop_map(Ipv6Addr::from)
}

/// ID types without a typed variant.
fn other_id_type() -> impl Strategy<Value = IdType> {
    any::<u8>()
        .prop_filter("typed ID type", |t| ![1, 2, 3, 5, 9, 11].contains(t))
        .prop_map(IdType)
}

fn identification() -> impl Strategy<Value = Identification> {
    prop_oneof![
        ipv4().prop_map(Identification::Ipv4),
        ipv6().prop_map(Identification::Ipv6),
        bytes(30).prop_map(Identification::Fqdn),
        bytes(30).prop_map(Identification::Rfc822),
        bytes(40).prop_map(Identification::DerAsn1Dn),
        bytes(20).prop_map(Identification::KeyId),
        (other_id_type(), bytes(20)).prop_map(|(ty, data)| Identification::Other { ty, data }),
    ]
}

fn traffic_selector() -> impl Strategy<Value = TrafficSelector> {
    prop_oneof![
        (any::<u8>(), any::<u16>(), any::<u16>(), ipv4(), ipv4()).prop_map(
            |(ip_proto, start_port, end_port, start, end)| TrafficSelector::Ipv4 {
                ip_proto,
                start_port,
                end_port,
                start,
                end
            }
        ),
        (any::<u8>(), any::<u16>(), any::<u16>(), ipv6(), ipv6()).prop_map(
            |(ip_proto, start_port, end_port, start, end)| TrafficSelector::Ipv6 {
                ip_proto,
                start_port,
                end_port,
                start,
                end
            }
        ),
        (
            any::<u8>().prop_filter("typed TS", |t| *t != 7 && *t != 8),
            any::<u8>(),
            bytes(20)
        )
            .prop_map(|(ty, ip_proto, data)| TrafficSelector::Other {
                ty: TsType(ty),
                ip_proto,
                data
            }),
    ]
}

fn ts() -> impl Strategy<Value = TsPayload> {
    prop::collection::vec(traffic_selector(), 0..5).prop_map(|selectors| TsPayload { selectors })
}

fn delete() -> impl Strategy<Value = DeletePayload> {
    (any::<u8>(), 0u8..=8).prop_flat_map(|(p, size)| {
        let spis = if size == 0 {
            Just(Vec::new()).boxed()
        } else {
            prop::collection::vec(prop::collection::vec(any::<u8>(), usize::from(size)), 0..6)
                .boxed()
        };
        spis.prop_map(move |spis| DeletePayload {
            protocol: ProtocolId(p),
            spi_size: size,
            spis,
        })
    })
}

fn skf() -> impl Strategy<Value = SkfPayload> {
    (1u16..=u16::MAX)
        .prop_flat_map(|total| (Just(total), 1..=total, any::<u8>(), bytes(64)))
        .prop_map(
            |(total_fragments, fragment_number, first, body)| SkfPayload {
                first: if fragment_number == 1 {
                    PayloadType(first)
                } else {
                    PayloadType::NONE
                },
                fragment_number,
                total_fragments,
                body,
            },
        )
}

fn unknown_type() -> impl Strategy<Value = PayloadType> {
    any::<u8>()
        .prop_map(PayloadType)
        .prop_filter("known or NONE", |t| {
            *t != PayloadType::NONE && !PayloadBody::is_known(*t)
        })
}

macro_rules! body_strategies {
    ($($name:ident => $s:expr;)*) => {
        $( fn $name() -> impl Strategy<Value = PayloadBody> { $s } )*
    };
}

body_strategies! {
    sa_body => sa().prop_map(PayloadBody::Sa);
    ke_body => (any::<u16>(), bytes(64)).prop_map(|(g, data)| PayloadBody::Ke(KePayload { group: DhGroup(g), data }));
    idi_body => identification().prop_map(PayloadBody::IdI);
    idr_body => identification().prop_map(PayloadBody::IdR);
    cert_body => (any::<u8>(), bytes(64)).prop_map(|(e, data)| PayloadBody::Cert(CertPayload { encoding: CertEncoding(e), data }));
    certreq_body => (any::<u8>(), bytes(60)).prop_map(|(e, data)| PayloadBody::CertReq(CertReqPayload { encoding: CertEncoding(e), data }));
    auth_body => (any::<u8>(), bytes(64)).prop_map(|(m, data)| PayloadBody::Auth(AuthPayload { method: AuthMethod(m), data }));
    nonce_body => bytes(64).prop_map(|data| PayloadBody::Nonce(NoncePayload { data }));
    notify_body => (any::<u8>(), bytes(8), any::<u16>(), bytes(32)).prop_map(|(p, spi, t, data)| {
        PayloadBody::Notify(NotifyPayload { protocol: ProtocolId(p), spi, ty: NotifyType(t), data })
    });
    delete_body => delete().prop_map(PayloadBody::Delete);
    vendor_body => bytes(32).prop_map(PayloadBody::VendorId);
    tsi_body => ts().prop_map(PayloadBody::TsI);
    tsr_body => ts().prop_map(PayloadBody::TsR);
    cp_body => (any::<u8>(), prop::collection::vec((0u16..0x8000, bytes(16)), 0..5)).prop_map(|(c, attrs)| {
        PayloadBody::Cp(CpPayload {
            cfg_type: CfgType(c),
            attributes: attrs.into_iter().map(|(t, value)| CfgAttr { ty: CfgAttrType(t), value }).collect(),
        })
    });
    eap_body => (any::<u8>(), any::<u8>(), bytes(32)).prop_map(|(code, identifier, data)| PayloadBody::Eap(EapPayload { code, identifier, data }));
    unknown_body => (unknown_type(), bytes(32)).prop_map(|(ty, data)| PayloadBody::Unknown { ty, data });
    sk_body => (any::<u8>(), bytes(64)).prop_map(|(f, body)| PayloadBody::Sk(SkPayload { first: PayloadType(f), body }));
    skf_body => skf().prop_map(PayloadBody::Skf);
}

/// A payload of any kind but SK/SKF. The critical bit is random except on
/// unknown payloads (a critical unknown payload is a parse error).
fn plain_payload() -> impl Strategy<Value = Payload> {
    let body = prop_oneof![
        sa_body(),
        ke_body(),
        idi_body(),
        idr_body(),
        cert_body(),
        certreq_body(),
        auth_body(),
        nonce_body(),
        notify_body(),
        delete_body(),
        vendor_body(),
        tsi_body(),
        tsr_body(),
        cp_body(),
        eap_body(),
        unknown_body(),
    ];
    (body, any::<bool>()).prop_map(|(body, c)| with_critical(body, c))
}

fn with_critical(body: PayloadBody, c: bool) -> Payload {
    let critical = c && !matches!(body, PayloadBody::Unknown { .. });
    Payload { critical, body }
}

fn encrypted_payload() -> impl Strategy<Value = Payload> {
    (prop_oneof![sk_body(), skf_body()], any::<bool>()).prop_map(|(b, c)| with_critical(b, c))
}

fn header() -> impl Strategy<Value = Header> {
    (
        any::<[u8; 8]>(),
        any::<[u8; 8]>(),
        0u8..16,
        any::<u8>(),
        any::<u8>(),
        any::<u32>(),
    )
        .prop_map(
            |(spi_i, spi_r, minor, exchange, flags, message_id)| Header {
                spi_i,
                spi_r,
                next_payload: PayloadType::NONE,
                major: 2,
                minor,
                exchange: ExchangeType(exchange),
                flags: Flags::from_byte(flags),
                message_id,
                length: 0,
            },
        )
}

fn message() -> impl Strategy<Value = Message> {
    (
        header(),
        prop::collection::vec(plain_payload(), 0..7),
        prop::option::of(encrypted_payload()),
    )
        .prop_map(|(h, mut payloads, enc)| {
            payloads.extend(enc);
            Message::new(h, payloads)
        })
}

// ---------------------------------------------------------------- helpers

/// emit -> parse gives the value back, and parse -> emit gives the bytes.
fn check_chain(payloads: Vec<Payload>) -> Result<(), TestCaseError> {
    let mut bytes = Vec::new();
    let first = emit_payload_chain(&payloads, &mut bytes);
    prop_assert_eq!(bytes.len(), payload_chain_len(&payloads));
    let parsed =
        parse_payload_chain(first, &bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&parsed, &payloads);
    let mut again = Vec::new();
    prop_assert_eq!(emit_payload_chain(&parsed, &mut again), first);
    prop_assert_eq!(again, bytes);
    Ok(())
}

/// Round-trip a single payload, alone and followed by a Vendor ID (which
/// exercises its Next Payload link), except SK/SKF which must be last.
fn check_payload(body: PayloadBody, critical: bool) -> Result<(), TestCaseError> {
    let p = with_critical(body, critical);
    let last_only = matches!(p.body, PayloadBody::Sk(_) | PayloadBody::Skf(_));
    check_chain(vec![p.clone()])?;
    let vid = Payload::new(PayloadBody::VendorId(b"vtid".to_vec()));
    if last_only {
        check_chain(vec![vid, p])
    } else {
        check_chain(vec![p, vid])
    }
}

/// Applies a few random edits to `bytes`.
fn mutate(mut bytes: Vec<u8>, edits: &[(u8, usize, u8)]) -> Vec<u8> {
    for &(kind, pos, val) in edits {
        if bytes.is_empty() {
            bytes.push(val);
            continue;
        }
        let i = pos % bytes.len();
        match kind % 5 {
            0 => bytes[i] = val,
            1 => bytes[i] ^= 1 << (val % 8),
            2 => bytes.truncate(i),
            3 => bytes.insert(i, val),
            _ => {
                bytes.remove(i);
            }
        }
    }
    bytes
}

/// Whatever `bytes` are: parsing must not panic, and a successful parse
/// must round-trip through emit.
fn check_any(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(m) = Message::parse(bytes) {
        let out = m.emit();
        prop_assert_eq!(out.len(), bytes.len());
        if let Some(off) = m.sk_body_offset() {
            prop_assert!(m.split_encrypted(bytes).is_some());
            prop_assert!(off <= bytes.len());
        }
        prop_assert_eq!(Message::parse(&out), Ok(m));
    }
    for t in [0u8, 33, 41, 46, 53, 200] {
        if let Ok(chain) = parse_payload_chain(PayloadType(t), bytes) {
            let mut out = Vec::new();
            emit_payload_chain(&chain, &mut out);
            prop_assert_eq!(out.len(), bytes.len());
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- properties

macro_rules! payload_round_trips {
    ($($test:ident: $strategy:ident;)*) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(128))]
            $(
                #[test]
                fn $test(body in $strategy(), critical in any::<bool>()) {
                    check_payload(body, critical)?;
                }
            )*
        }
    };
}

payload_round_trips! {
    round_trip_sa: sa_body;
    round_trip_ke: ke_body;
    round_trip_idi: idi_body;
    round_trip_idr: idr_body;
    round_trip_cert: cert_body;
    round_trip_certreq: certreq_body;
    round_trip_auth: auth_body;
    round_trip_nonce: nonce_body;
    round_trip_notify: notify_body;
    round_trip_delete: delete_body;
    round_trip_vendor_id: vendor_body;
    round_trip_tsi: tsi_body;
    round_trip_tsr: tsr_body;
    round_trip_cp: cp_body;
    round_trip_eap: eap_body;
    round_trip_unknown: unknown_body;
    round_trip_sk: sk_body;
    round_trip_skf: skf_body;
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn round_trip_header(raw in any::<[u8; 28]>()) {
        let h = Header::parse(&raw).unwrap();
        let mut out = Vec::new();
        h.emit_into(&mut out);
        prop_assert_eq!(&out[..], &raw[..]);
    }

    #[test]
    fn round_trip_message(m in message()) {
        let bytes = m.emit();
        prop_assert_eq!(bytes.len(), m.buffer_len());
        let parsed = Message::parse(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&parsed, &m);
        prop_assert_eq!(parsed.emit(), bytes.clone());
        let mut appended = vec![0xAA; 3];
        m.emit_into(&mut appended);
        prop_assert_eq!(&appended[3..], &bytes[..]);
        // The AAD/body split lands on the SK/SKF body.
        match m.payloads.last().map(|p| &p.body) {
            Some(PayloadBody::Sk(SkPayload { body, .. }))
            | Some(PayloadBody::Skf(SkfPayload { body, .. })) => {
                let (aad, b) = m.split_encrypted(&bytes).unwrap();
                prop_assert_eq!(b, &body[..]);
                prop_assert_eq!(aad.len() + b.len(), bytes.len());
            }
            _ => prop_assert_eq!(m.sk_body_offset(), None),
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(raw in bytes(600)) {
        check_any(&raw)?;
    }

    #[test]
    fn arbitrary_bytes_behind_a_valid_header_never_panic(
        h in header(), first in any::<u8>(), raw in bytes(400),
    ) {
        // Random payload bytes behind a header that passes the header checks,
        // so the payload parsers see them.
        let mut m = Message::new(h, Vec::new());
        m.header.next_payload = PayloadType(first);
        m.header.length = u32::try_from(Header::LEN + raw.len()).unwrap();
        let mut bytes = Vec::new();
        m.header.emit_into(&mut bytes);
        bytes.extend_from_slice(&raw);
        check_any(&bytes)?;
    }

    #[test]
    fn mutated_messages_never_panic(
        m in message(),
        edits in prop::collection::vec((any::<u8>(), any::<usize>(), any::<u8>()), 1..6),
        fix_length in any::<bool>(),
    ) {
        let mut bytes = mutate(m.emit(), &edits);
        if fix_length && bytes.len() >= Header::LEN {
            // Keep the header's Length right so that the payloads are parsed.
            let len = u32::try_from(bytes.len()).unwrap().to_be_bytes();
            bytes[24..28].copy_from_slice(&len);
            bytes[17] = 0x20;
        }
        check_any(&bytes)?;
    }

    #[test]
    fn payload_types_pick(t in select(PayloadType::KNOWN.to_vec()), raw in bytes(64)) {
        // Every registered type as the first payload over random bytes.
        let _ = parse_payload_chain(t, &raw);
    }
}

// ------------------------------------------------- fallible emission (check)

/// Payloads near and beyond the limits of their length and count fields:
/// 250..=260 traffic selectors, SPIs, transforms; Delete SPIs of the wrong
/// size; bodies around 65535 octets.
fn oversized_payload() -> impl Strategy<Value = Payload> {
    let n = 250usize..=260;
    let body = prop_oneof![
        n.clone().prop_map(|k| PayloadBody::TsI(TsPayload {
            selectors: vec![TrafficSelector::ipv4_any(Ipv4Addr::LOCALHOST, Ipv4Addr::LOCALHOST); k]
        })),
        n.clone().prop_map(|k| PayloadBody::Notify(NotifyPayload {
            protocol: ProtocolId::ESP,
            spi: vec![1; k],
            ty: NotifyType::REKEY_SA,
            data: vec![],
        })),
        (n.clone(), n.clone()).prop_map(|(t, s)| PayloadBody::Sa(SaPayload {
            proposals: vec![Proposal {
                num: 1,
                protocol: ProtocolId::ESP,
                spi: vec![0; s],
                transforms: vec![
                    Transform {
                        ty: TransformType::ENCR,
                        id: 20,
                        attributes: vec![]
                    };
                    t
                ],
            }]
        })),
        (0u8..4, 1u8..4).prop_map(|(size, wrong)| PayloadBody::Delete(DeletePayload {
            protocol: ProtocolId::ESP,
            spi_size: size,
            spis: vec![vec![0; usize::from(size + wrong)]],
        })),
        (65520usize..=65540).prop_map(|k| PayloadBody::Ke(KePayload {
            group: DhGroup(14),
            data: vec![7; k]
        })),
        (65520usize..=65540).prop_map(|k| PayloadBody::TsR(TsPayload {
            selectors: vec![TrafficSelector::Other {
                ty: TsType(99),
                ip_proto: 0,
                data: vec![0; k]
            }]
        })),
        (65525usize..=65540).prop_map(|k| PayloadBody::Eap(EapPayload {
            code: 1,
            identifier: 1,
            data: vec![0; k]
        })),
    ];
    body.prop_map(Payload::new)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// `check` says exactly when emission would panic: a payload that
    /// passes emits and parses back; one that fails would have panicked,
    /// and `try_emit` refuses it instead. (Issue 11 §3: more than 255
    /// narrowed selectors made the TS emit panic and took the daemon down.)
    #[test]
    fn check_predicts_emission(p in prop_oneof![oversized_payload(), plain_payload()]) {
        let ok = p.check().is_ok();
        let emitted = std::panic::catch_unwind(|| {
            let mut out = Vec::new();
            emit_payload_chain(std::slice::from_ref(&p), &mut out);
            out
        });
        prop_assert_eq!(ok, emitted.is_ok(), "check {:?}", p.check());
        let m = Message::new(
            Header {
                spi_i: [1; 8],
                spi_r: [2; 8],
                next_payload: PayloadType::NONE,
                major: 2,
                minor: 0,
                exchange: ExchangeType::CREATE_CHILD_SA,
                flags: Flags::from_byte(0),
                message_id: 3,
                length: 0,
            },
            vec![p.clone()],
        );
        match m.try_emit() {
            Ok(bytes) => {
                prop_assert!(ok);
                prop_assert_eq!(Message::parse(&bytes).map(|x| x.payloads), Ok(vec![p]));
            }
            Err(e) => {
                prop_assert!(!ok);
                prop_assert!(matches!(e, WireError::TooLarge { .. } | WireError::BadValue { .. }), "{e}");
            }
        }
    }
}

/// An SK payload that is not last is refused, not emitted.
#[test]
fn check_refuses_sk_not_last() {
    let sk = Payload::new(PayloadBody::Sk(SkPayload {
        first: PayloadType::NONE,
        body: vec![0; 16],
    }));
    let vid = Payload::new(PayloadBody::VendorId(vec![1]));
    assert_eq!(
        check_payload_chain(&[sk.clone(), vid.clone()]),
        Err(WireError::EncryptedNotLast {
            ty: PayloadType::SK
        })
    );
    let mut out = Vec::new();
    assert!(try_emit_payload_chain(&[sk.clone(), vid.clone()], &mut out).is_err());
    assert!(out.is_empty());
    assert!(try_emit_payload_chain(&[vid, sk], &mut out).is_ok());
}
