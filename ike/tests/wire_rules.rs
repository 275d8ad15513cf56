//! Hand-written tests, one or more per validation rule of `ike::wire`,
//! plus a hand-assembled message checked field by field.

use std::net::Ipv4Addr;

use ike::wire::*;

/// A generic payload: Next Payload, C bit, Length, body (RFC 7296 §3.2).
fn gp(next: u8, critical: bool, body: &[u8]) -> Vec<u8> {
    let mut v = vec![next, if critical { 0x80 } else { 0 }];
    v.extend_from_slice(&u16::try_from(4 + body.len()).unwrap().to_be_bytes());
    v.extend_from_slice(body);
    v
}

/// An IKEv2 header with the right Length for `rest`, then `rest`.
fn datagram(first: u8, rest: &[u8]) -> Vec<u8> {
    let mut v = vec![1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0];
    v.push(first);
    v.push(0x20); // version 2.0
    v.push(34); // IKE_SA_INIT
    v.push(0x08); // Initiator
    v.extend_from_slice(&0u32.to_be_bytes());
    v.extend_from_slice(&u32::try_from(28 + rest.len()).unwrap().to_be_bytes());
    v.extend_from_slice(rest);
    v
}

fn syntax(e: &WireError) {
    assert_eq!(e.notify_type(), NotifyType::INVALID_SYNTAX, "{e}");
    assert!(e.notify_data().is_empty());
}

fn chain_err(first: PayloadType, bytes: &[u8]) -> WireError {
    parse_payload_chain(first, bytes).expect_err("must not parse")
}

// ------------------------------------------------------------------ header

#[test]
fn truncated_header() {
    let d = datagram(0, &[]);
    for n in 0..28 {
        let e = Message::parse(&d[..n]).unwrap_err();
        assert!(
            matches!(
                e,
                WireError::Truncated {
                    part: Part::Header,
                    ..
                }
            ),
            "{e:?}"
        );
        syntax(&e);
    }
    assert!(Message::parse(&d).unwrap().payloads.is_empty());
}

#[test]
fn bad_major_version() {
    for v in [0x10u8, 0x30, 0xf0, 0x00] {
        let mut d = datagram(0, &[]);
        d[17] = v;
        let e = Message::parse(&d).unwrap_err();
        assert_eq!(e, WireError::InvalidMajorVersion { major: v >> 4 });
        assert_eq!(e.notify_type(), NotifyType::INVALID_MAJOR_VERSION);
        // Checked before the length: an IKEv1 packet need not agree with us.
        d.push(0);
        assert_eq!(
            Message::parse(&d).unwrap_err(),
            WireError::InvalidMajorVersion { major: v >> 4 }
        );
    }
    // Minor versions are accepted (§2.5: treat as the highest we speak).
    let mut d = datagram(0, &[]);
    d[17] = 0x2f;
    assert_eq!(Message::parse(&d).unwrap().header.minor, 15);
}

#[test]
fn length_field_must_equal_datagram() {
    let d = datagram(43, &gp(0, false, b"x"));
    for delta in [-1i64, 1, 1000, -5] {
        let mut bad = d.clone();
        let len = u32::try_from(i64::try_from(d.len()).unwrap() + delta).unwrap();
        bad[24..28].copy_from_slice(&len.to_be_bytes());
        let e = Message::parse(&bad).unwrap_err();
        assert!(matches!(e, WireError::LengthMismatch { .. }), "{e:?}");
        syntax(&e);
    }
    // Trailing bytes beyond the Length are not allowed either.
    let mut long = d.clone();
    long.push(0);
    assert!(matches!(
        Message::parse(&long),
        Err(WireError::LengthMismatch { .. })
    ));
}

#[test]
fn header_flags_and_fields_are_kept() {
    let mut d = datagram(0, &[]);
    d[19] = 0xff; // every flag bit
    d[20..24].copy_from_slice(&0xdead_beefu32.to_be_bytes());
    let m = Message::parse(&d).unwrap();
    let f = m.header.flags;
    assert!(f.initiator && f.version && f.response);
    assert_eq!(f.reserved, 0xc7);
    assert_eq!(m.header.message_id, 0xdead_beef);
    assert_eq!(m.header.spi_i, [1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(m.emit(), d);
}

// ---------------------------------------------------------- generic payload

#[test]
fn payload_length_below_four() {
    let mut p = gp(0, false, b"");
    p[3] = 3;
    let e = Message::parse(&datagram(43, &p)).unwrap_err();
    assert!(
        matches!(
            e,
            WireError::BadLength {
                part: Part::PayloadHeader,
                ..
            }
        ),
        "{e:?}"
    );
    syntax(&e);
}

#[test]
fn payload_length_overrun_and_truncated_header() {
    let mut p = gp(0, false, b"abcd");
    p[3] = 9; // one more than there is
    let e = Message::parse(&datagram(43, &p)).unwrap_err();
    assert!(
        matches!(
            e,
            WireError::BadLength {
                part: Part::PayloadHeader,
                ..
            }
        ),
        "{e:?}"
    );
    // Next Payload promises a payload that is not there.
    let e = Message::parse(&datagram(43, &gp(40, false, b"x"))).unwrap_err();
    assert!(
        matches!(
            e,
            WireError::Truncated {
                part: Part::PayloadHeader,
                ..
            }
        ),
        "{e:?}"
    );
    // Generic header cut short.
    let e = Message::parse(&datagram(43, &[0, 0, 0])).unwrap_err();
    assert!(
        matches!(
            e,
            WireError::Truncated {
                part: Part::PayloadHeader,
                ..
            }
        ),
        "{e:?}"
    );
    syntax(&e);
}

#[test]
fn bytes_after_last_payload() {
    let mut rest = gp(0, false, b"vid");
    rest.extend_from_slice(&[0, 0, 0, 4]);
    let e = Message::parse(&datagram(43, &rest)).unwrap_err();
    assert!(
        matches!(
            e,
            WireError::BadLength {
                part: Part::PayloadHeader,
                ..
            }
        ),
        "{e:?}"
    );
    // And with no payloads at all.
    assert!(Message::parse(&datagram(0, &[1])).is_err());
}

#[test]
fn critical_unknown_payload_is_rejected_with_its_type() {
    let mut rest = gp(200, false, b"vid");
    rest.extend(gp(0, true, b"whatever"));
    let e = Message::parse(&datagram(43, &rest)).unwrap_err();
    assert_eq!(
        e,
        WireError::UnsupportedCriticalPayload {
            ty: PayloadType(200)
        }
    );
    assert_eq!(e.notify_type(), NotifyType::UNSUPPORTED_CRITICAL_PAYLOAD);
    assert_eq!(e.notify_data(), vec![200]);
    // Payload types registered but not parsed by us count as unknown.
    let e = chain_err(PayloadType::GSA, &gp(0, true, b""));
    assert_eq!(e.notify_data(), vec![51]);
}

#[test]
fn non_critical_unknown_payload_is_kept() {
    let mut rest = gp(201, false, b"vid");
    rest.extend(gp(40, false, b"opaque"));
    rest.extend(gp(0, false, &[7; 16]));
    let d = datagram(43, &rest);
    let m = Message::parse(&d).unwrap();
    assert_eq!(m.payloads.len(), 3);
    assert_eq!(
        m.payloads[1],
        Payload::new(PayloadBody::Unknown {
            ty: PayloadType(201),
            data: b"opaque".to_vec()
        })
    );
    assert_eq!(m.emit(), d);
}

#[test]
fn critical_bit_on_known_payload_is_kept() {
    let d = datagram(43, &gp(0, true, b"vid"));
    let m = Message::parse(&d).unwrap();
    assert!(m.payloads[0].critical);
    assert_eq!(m.emit(), d);
}

// ------------------------------------------------------------- SK and SKF

#[test]
fn sk_must_be_last() {
    // SK (its Next Payload is the inner first type, 41), then a Vendor ID.
    let mut rest = gp(41, false, &[0xee; 32]);
    rest.extend(gp(0, false, b"vid"));
    let e = Message::parse(&datagram(46, &rest)).unwrap_err();
    assert_eq!(
        e,
        WireError::EncryptedNotLast {
            ty: PayloadType::SK
        }
    );
    syntax(&e);
    // Same for SKF.
    let mut body = vec![0, 1, 0, 2];
    body.extend([0xee; 20]);
    let mut rest = gp(41, false, &body);
    rest.extend(gp(0, false, b"vid"));
    let e = Message::parse(&datagram(53, &rest)).unwrap_err();
    assert_eq!(
        e,
        WireError::EncryptedNotLast {
            ty: PayloadType::SKF
        }
    );
}

#[test]
fn sk_keeps_inner_first_type_and_gives_aad() {
    let mut rest = gp(46, false, b"vendor");
    rest.extend(gp(35, false, &[0xee; 40])); // SK, first inner = IDi
    let d = datagram(43, &rest);
    let m = Message::parse(&d).unwrap();
    let PayloadBody::Sk(sk) = &m.payloads[1].body else {
        panic!("no SK")
    };
    assert_eq!(sk.first, PayloadType::IDI);
    assert_eq!(m.header.next_payload, PayloadType::VENDOR_ID);
    // AAD = IKE header + Vendor ID payload + SK generic header.
    assert_eq!(m.sk_body_offset(), Some(28 + 10 + 4));
    let (aad, body) = m.split_encrypted(&d).unwrap();
    assert_eq!(aad, &d[..42]);
    assert_eq!(body, &[0xee; 40][..]);
    assert_eq!(m.emit(), d);
    assert!(m.split_encrypted(&d[1..]).is_none());
}

#[test]
fn skf_aad_includes_fragment_fields() {
    let mut body = vec![0, 2, 0, 3];
    body.extend([0xaa; 24]);
    let d = datagram(53, &gp(0, false, &body));
    let m = Message::parse(&d).unwrap();
    assert_eq!(m.sk_body_offset(), Some(28 + 4 + 4));
    let (aad, b) = m.split_encrypted(&d).unwrap();
    assert_eq!(aad.len(), 36);
    assert_eq!(b, &[0xaa; 24][..]);
}

#[test]
fn skf_fields_are_checked() {
    for (num, total, next) in [(0u16, 1u16, 0u8), (3, 2, 0), (2, 2, 41), (1, 0, 41)] {
        let mut body = num.to_be_bytes().to_vec();
        body.extend(total.to_be_bytes());
        body.extend([1; 16]);
        let e = chain_err(PayloadType::SKF, &gp(next, false, &body));
        assert!(
            matches!(
                e,
                WireError::BadValue {
                    part: Part::Payload(PayloadType::SKF),
                    ..
                }
            ),
            "{e:?}"
        );
        syntax(&e);
    }
    let e = chain_err(PayloadType::SKF, &gp(0, false, &[0, 1, 0]));
    assert!(matches!(e, WireError::Truncated { .. }));
    // Fragment 1 of 1 with a first-payload type and an empty body is fine.
    let c = parse_payload_chain(PayloadType::SKF, &gp(41, false, &[0, 1, 0, 1])).unwrap();
    assert_eq!(
        c[0].body,
        PayloadBody::Skf(SkfPayload {
            first: PayloadType::NOTIFY,
            fragment_number: 1,
            total_fragments: 1,
            body: vec![]
        })
    );
}

#[test]
#[should_panic(expected = "must be the last payload")]
fn emitting_sk_not_last_panics() {
    let sk = Payload::new(PayloadBody::Sk(SkPayload::default()));
    let vid = Payload::new(PayloadBody::VendorId(vec![]));
    emit_payload_chain(&[sk, vid], &mut Vec::new());
}

// --------------------------------------------------------------------- SA

/// Transform bytes (§3.3.2).
fn tf(last: u8, ty: u8, id: u16, attrs: &[u8]) -> Vec<u8> {
    let mut v = vec![last, 0];
    v.extend(u16::try_from(8 + attrs.len()).unwrap().to_be_bytes());
    v.extend([ty, 0]);
    v.extend(id.to_be_bytes());
    v.extend(attrs);
    v
}

/// Proposal bytes (§3.3.1).
fn prop(last: u8, num: u8, proto: u8, spi: &[u8], count: u8, transforms: &[u8]) -> Vec<u8> {
    let mut v = vec![last, 0];
    v.extend(
        u16::try_from(8 + spi.len() + transforms.len())
            .unwrap()
            .to_be_bytes(),
    );
    v.extend([num, proto, u8::try_from(spi.len()).unwrap(), count]);
    v.extend(spi);
    v.extend(transforms);
    v
}

fn sa_err(body: &[u8]) -> WireError {
    let e = chain_err(PayloadType::SA, &gp(0, false, body));
    syntax(&e);
    e
}

#[test]
fn sa_parses_proposals_transforms_and_attributes() {
    let mut t = tf(3, 1, 12, &[0x80, 14, 0x01, 0x00]); // ENCR AES_CBC, KEY_LENGTH 256 (TV)
    t.extend(tf(0, 2, 5, &[0x00, 0x63, 0x00, 0x02, 0xab, 0xcd])); // PRF, a TLV attribute 99
    let mut body = prop(2, 1, 1, &[], 2, &t);
    body.extend(prop(0, 2, 3, &[1, 2, 3, 4], 1, &tf(0, 3, 12, &[])));
    let c = parse_payload_chain(PayloadType::SA, &gp(0, false, &body)).unwrap();
    let PayloadBody::Sa(sa) = &c[0].body else {
        panic!()
    };
    assert_eq!(sa.proposals.len(), 2);
    assert_eq!(sa.proposals[0].transforms[0].key_length(), Some(256));
    assert_eq!(
        sa.proposals[0].transforms[1].attributes,
        vec![TransformAttr::Tlv {
            ty: TransformAttrType(99),
            value: vec![0xab, 0xcd]
        }]
    );
    assert_eq!(sa.proposals[1].spi, vec![1, 2, 3, 4]);
    assert_eq!(sa.proposals[1].protocol, ProtocolId::ESP);
    let mut out = Vec::new();
    emit_payload_chain(&c, &mut out);
    assert_eq!(out, gp(0, false, &body));
}

#[test]
fn sa_last_substructure_values() {
    // Proposal: 1 is not a valid Last Substruc.
    let e = sa_err(&prop(1, 1, 1, &[], 0, &[]));
    assert!(
        matches!(
            e,
            WireError::BadValue {
                part: Part::Proposal,
                ..
            }
        ),
        "{e:?}"
    );
    // Says "more" (2) but is the last.
    let e = sa_err(&prop(2, 1, 1, &[], 0, &[]));
    assert!(
        matches!(
            e,
            WireError::BadValue {
                part: Part::Proposal,
                ..
            }
        ),
        "{e:?}"
    );
    // Says "last" (0) but another follows.
    let mut b = prop(0, 1, 1, &[], 0, &[]);
    b.extend(prop(0, 2, 1, &[], 0, &[]));
    let e = sa_err(&b);
    assert!(
        matches!(
            e,
            WireError::BadValue {
                part: Part::Proposal,
                ..
            }
        ),
        "{e:?}"
    );
    // Transforms: 3 means more; 2 is the proposal value and wrong here.
    let e = sa_err(&prop(0, 1, 1, &[], 1, &tf(3, 1, 12, &[])));
    assert!(
        matches!(
            e,
            WireError::BadValue {
                part: Part::Transform,
                ..
            }
        ),
        "{e:?}"
    );
    let e = sa_err(&prop(0, 1, 1, &[], 1, &tf(2, 1, 12, &[])));
    assert!(
        matches!(
            e,
            WireError::BadValue {
                part: Part::Transform,
                ..
            }
        ),
        "{e:?}"
    );
    let mut t = tf(0, 1, 12, &[]);
    t.extend(tf(0, 2, 5, &[]));
    let e = sa_err(&prop(0, 1, 1, &[], 2, &t));
    assert!(
        matches!(
            e,
            WireError::BadValue {
                part: Part::Transform,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn sa_transform_count_must_match() {
    let e = sa_err(&prop(0, 1, 1, &[], 2, &tf(0, 1, 12, &[])));
    assert!(
        matches!(
            e,
            WireError::BadValue {
                part: Part::Proposal,
                ..
            }
        ),
        "{e:?}"
    );
    let e = sa_err(&prop(0, 1, 1, &[], 0, &tf(0, 1, 12, &[])));
    assert!(
        matches!(
            e,
            WireError::BadValue {
                part: Part::Proposal,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn sa_lengths() {
    // Proposal length below 8.
    let mut p = prop(0, 1, 1, &[], 0, &[]);
    p[3] = 7;
    let e = sa_err(&p[..7]);
    assert!(
        matches!(
            e,
            WireError::BadLength {
                part: Part::Proposal,
                ..
            }
        ),
        "{e:?}"
    );
    // Proposal length overruns the payload.
    let mut p = prop(0, 1, 1, &[], 0, &[]);
    p[3] = 9;
    let e = sa_err(&p);
    assert!(
        matches!(
            e,
            WireError::BadLength {
                part: Part::Proposal,
                ..
            }
        ),
        "{e:?}"
    );
    // SPI Size overruns the proposal.
    let mut p = prop(0, 1, 3, &[1, 2, 3, 4], 0, &[]);
    p[6] = 5;
    let e = sa_err(&p);
    assert!(
        matches!(
            e,
            WireError::Truncated {
                part: Part::Proposal,
                ..
            }
        ),
        "{e:?}"
    );
    // Transform length below 8 and overrunning the proposal.
    let mut t = tf(0, 1, 12, &[]);
    t[3] = 4;
    let e = sa_err(&prop(0, 1, 1, &[], 1, &t));
    assert!(
        matches!(
            e,
            WireError::BadLength {
                part: Part::Transform,
                ..
            }
        ),
        "{e:?}"
    );
    let mut t = tf(0, 1, 12, &[]);
    t[3] = 12;
    let e = sa_err(&prop(0, 1, 1, &[], 1, &t));
    assert!(
        matches!(
            e,
            WireError::BadLength {
                part: Part::Transform,
                ..
            }
        ),
        "{e:?}"
    );
    // TLV attribute longer than the transform; TV attribute cut short.
    let e = sa_err(&prop(0, 1, 1, &[], 1, &tf(0, 1, 12, &[0, 1, 0, 5, 1, 2])));
    assert!(
        matches!(
            e,
            WireError::Truncated {
                part: Part::TransformAttr,
                ..
            }
        ),
        "{e:?}"
    );
    let e = sa_err(&prop(0, 1, 1, &[], 1, &tf(0, 1, 12, &[0x80, 14, 1])));
    assert!(
        matches!(
            e,
            WireError::Truncated {
                part: Part::TransformAttr,
                ..
            }
        ),
        "{e:?}"
    );
}

// --------------------------------------------------------- other payloads

#[test]
fn fixed_parts_must_be_present() {
    for (ty, min) in [
        (PayloadType::KE, 4),
        (PayloadType::IDI, 4),
        (PayloadType::IDR, 4),
        (PayloadType::CERT, 1),
        (PayloadType::CERTREQ, 1),
        (PayloadType::AUTH, 4),
        (PayloadType::NOTIFY, 4),
        (PayloadType::DELETE, 4),
        (PayloadType::TSI, 4),
        (PayloadType::TSR, 4),
        (PayloadType::CP, 4),
        (PayloadType::EAP, 4),
        (PayloadType::SKF, 4),
    ] {
        for n in 0..min {
            let e = chain_err(ty, &gp(0, false, &vec![0; n]));
            assert!(
                matches!(e, WireError::Truncated { part: Part::Payload(t), .. } if t == ty),
                "{ty}: {e:?}"
            );
            syntax(&e);
        }
    }
    // Bodies that may be empty.
    for ty in [
        PayloadType::NONCE,
        PayloadType::VENDOR_ID,
        PayloadType::SK,
        PayloadType::SA,
    ] {
        assert!(parse_payload_chain(ty, &gp(0, false, &[])).is_ok(), "{ty}");
    }
}

#[test]
fn ke_payload() {
    let c = parse_payload_chain(PayloadType::KE, &gp(0, false, &[0, 31, 0, 0, 9, 9])).unwrap();
    assert_eq!(
        c[0].body,
        PayloadBody::Ke(KePayload {
            group: DhGroup::CURVE25519,
            data: vec![9, 9]
        })
    );
}

#[test]
fn identification_payloads() {
    let c =
        parse_payload_chain(PayloadType::IDI, &gp(0, false, &[1, 0, 0, 0, 192, 0, 2, 1])).unwrap();
    assert_eq!(
        c[0].body,
        PayloadBody::IdI(Identification::Ipv4(Ipv4Addr::new(192, 0, 2, 1)))
    );
    // Address identities of the wrong size.
    for body in [
        &[1u8, 0, 0, 0, 1, 2, 3][..],
        &[1, 0, 0, 0, 1, 2, 3, 4, 5],
        &[5, 0, 0, 0, 1, 2, 3, 4],
    ] {
        let e = chain_err(PayloadType::IDR, &gp(0, false, body));
        assert!(
            matches!(
                e,
                WireError::BadLength {
                    part: Part::Payload(PayloadType::IDR),
                    ..
                }
            ),
            "{e:?}"
        );
    }
    // Typed strings keep their bytes, even non-UTF-8 ones.
    let c =
        parse_payload_chain(PayloadType::IDR, &gp(0, false, &[2, 0, 0, 0, 0xff, b'a'])).unwrap();
    assert_eq!(
        c[0].body,
        PayloadBody::IdR(Identification::Fqdn(vec![0xff, b'a']))
    );
    // Unknown ID types are kept raw.
    let c = parse_payload_chain(PayloadType::IDR, &gp(0, false, &[13, 0, 0, 0])).unwrap();
    assert_eq!(
        c[0].body,
        PayloadBody::IdR(Identification::Other {
            ty: IdType::NULL,
            data: vec![]
        })
    );
}

#[test]
fn notify_spi_size_overrun() {
    let e = chain_err(
        PayloadType::NOTIFY,
        &gp(0, false, &[3, 4, 0x40, 0x00, 1, 2, 3]),
    );
    assert!(
        matches!(
            e,
            WireError::Truncated {
                part: Part::Payload(PayloadType::NOTIFY),
                ..
            }
        ),
        "{e:?}"
    );
    let c = parse_payload_chain(
        PayloadType::NOTIFY,
        &gp(0, false, &[3, 4, 0x40, 0x09, 1, 2, 3, 4, 0xdd]),
    )
    .unwrap();
    assert_eq!(
        c[0].body,
        PayloadBody::Notify(NotifyPayload {
            protocol: ProtocolId::ESP,
            spi: vec![1, 2, 3, 4],
            ty: NotifyType::REKEY_SA,
            data: vec![0xdd]
        })
    );
}

#[test]
fn delete_count_times_size() {
    // Two 4-octet SPIs announced, 7 octets present, and 9.
    for n in [7usize, 9, 0] {
        let mut body = vec![3, 4, 0, 2];
        body.extend(vec![0xab; n]);
        let e = chain_err(PayloadType::DELETE, &gp(0, false, &body));
        assert!(
            matches!(
                e,
                WireError::BadLength {
                    part: Part::Payload(PayloadType::DELETE),
                    ..
                }
            ),
            "{e:?}"
        );
        syntax(&e);
    }
    // SPI Size 0 with a count.
    let e = chain_err(PayloadType::DELETE, &gp(0, false, &[1, 0, 0, 1]));
    assert!(matches!(e, WireError::BadValue { .. }), "{e:?}");
    // IKE SA delete: size 0, count 0.
    let c = parse_payload_chain(PayloadType::DELETE, &gp(0, false, &[1, 0, 0, 0])).unwrap();
    assert_eq!(
        c[0].body,
        PayloadBody::Delete(DeletePayload {
            protocol: ProtocolId::IKE,
            spi_size: 0,
            spis: vec![]
        })
    );
}

fn ts4() -> Vec<u8> {
    let mut v = vec![7, 6, 0, 16, 0, 0, 0xff, 0xff];
    v.extend([10, 0, 0, 0, 10, 0, 0, 255]);
    v
}

#[test]
fn traffic_selectors() {
    let mut body = vec![1, 0, 0, 0];
    body.extend(ts4());
    let c = parse_payload_chain(PayloadType::TSI, &gp(0, false, &body)).unwrap();
    let PayloadBody::TsI(ts) = &c[0].body else {
        panic!()
    };
    assert_eq!(
        ts.selectors,
        vec![TrafficSelector::Ipv4 {
            ip_proto: 6,
            start_port: 0,
            end_port: 65535,
            start: Ipv4Addr::new(10, 0, 0, 0),
            end: Ipv4Addr::new(10, 0, 0, 255)
        }]
    );
    // Count larger than the selectors present.
    let mut b = vec![2, 0, 0, 0];
    b.extend(ts4());
    let e = chain_err(PayloadType::TSR, &gp(0, false, &b));
    assert!(
        matches!(
            e,
            WireError::Truncated {
                part: Part::TrafficSelector,
                ..
            }
        ),
        "{e:?}"
    );
    // Bytes after the counted selectors.
    let mut b = vec![1, 0, 0, 0];
    b.extend(ts4());
    b.push(0);
    let e = chain_err(PayloadType::TSR, &gp(0, false, &b));
    assert!(
        matches!(
            e,
            WireError::BadLength {
                part: Part::Payload(PayloadType::TSR),
                ..
            }
        ),
        "{e:?}"
    );
    // IPv4 range with the IPv6 length, a length below 4, and an overrun.
    for (len, extra) in [(40u8, 24usize), (3, 0), (17, 0)] {
        let mut b = vec![1, 0, 0, 0];
        let mut t = ts4();
        t[3] = len;
        t.extend(vec![0; extra]);
        b.extend(t);
        let e = chain_err(PayloadType::TSR, &gp(0, false, &b));
        assert!(
            matches!(
                e,
                WireError::BadLength {
                    part: Part::TrafficSelector,
                    ..
                }
            ),
            "{len}: {e:?}"
        );
    }
    // Unknown TS type kept raw.
    let c = parse_payload_chain(
        PayloadType::TSR,
        &gp(0, false, &[1, 0, 0, 0, 10, 0, 0, 6, 0xab, 0xcd]),
    )
    .unwrap();
    let PayloadBody::TsR(ts) = &c[0].body else {
        panic!()
    };
    assert_eq!(
        ts.selectors,
        vec![TrafficSelector::Other {
            ty: TsType::SECLABEL,
            ip_proto: 0,
            data: vec![0xab, 0xcd]
        }]
    );
}

#[test]
fn cp_attributes() {
    let body = [1, 0, 0, 0, 0, 1, 0, 0, 0, 3, 0, 4, 8, 8, 8, 8];
    let c = parse_payload_chain(PayloadType::CP, &gp(0, false, &body)).unwrap();
    assert_eq!(
        c[0].body,
        PayloadBody::Cp(CpPayload {
            cfg_type: CfgType::REQUEST,
            attributes: vec![
                CfgAttr {
                    ty: CfgAttrType::INTERNAL_IP4_ADDRESS,
                    value: vec![]
                },
                CfgAttr {
                    ty: CfgAttrType::INTERNAL_IP4_DNS,
                    value: vec![8, 8, 8, 8]
                },
            ]
        })
    );
    let e = chain_err(
        PayloadType::CP,
        &gp(0, false, &[1, 0, 0, 0, 0, 1, 0, 5, 1, 2, 3, 4]),
    );
    assert!(
        matches!(
            e,
            WireError::Truncated {
                part: Part::CfgAttr,
                ..
            }
        ),
        "{e:?}"
    );
    let e = chain_err(PayloadType::CP, &gp(0, false, &[1, 0, 0, 0, 0, 1, 0]));
    assert!(
        matches!(
            e,
            WireError::Truncated {
                part: Part::CfgAttr,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn eap_inner_length() {
    let ok = [2, 7, 0, 6, 1, b'x'];
    let c = parse_payload_chain(PayloadType::EAP, &gp(0, false, &ok)).unwrap();
    let PayloadBody::Eap(eap) = &c[0].body else {
        panic!()
    };
    assert_eq!((eap.code, eap.identifier, eap.eap_type()), (2, 7, Some(1)));
    for len in [5u8, 7, 0, 4] {
        let mut b = ok;
        b[3] = len;
        let e = chain_err(PayloadType::EAP, &gp(0, false, &b));
        assert!(
            matches!(
                e,
                WireError::BadLength {
                    part: Part::Payload(PayloadType::EAP),
                    ..
                }
            ),
            "{e:?}"
        );
        syntax(&e);
    }
    let c = parse_payload_chain(PayloadType::EAP, &gp(0, false, &[3, 7, 0, 4])).unwrap();
    let PayloadBody::Eap(eap) = &c[0].body else {
        panic!()
    };
    assert_eq!(eap.eap_type(), None);
}

#[test]
fn nonce_length_helper() {
    for (n, ok) in [
        (0, false),
        (15, false),
        (16, true),
        (256, true),
        (257, false),
    ] {
        assert_eq!(NoncePayload { data: vec![0; n] }.length_ok(), ok, "{n}");
    }
    // The codec itself accepts any length.
    assert!(parse_payload_chain(PayloadType::NONCE, &gp(0, false, &[1])).is_ok());
}

#[test]
fn certreq_hashes() {
    let c = CertReqPayload {
        encoding: CertEncoding::X509_SIGNATURE,
        data: vec![1; 40],
    };
    assert_eq!(c.ca_hashes().unwrap().count(), 2);
    let c = CertReqPayload {
        encoding: CertEncoding::X509_SIGNATURE,
        data: vec![1; 41],
    };
    assert!(c.ca_hashes().is_none());
}

#[test]
fn notify_registry() {
    assert_eq!(NotifyType(16430), NotifyType::IKEV2_FRAGMENTATION_SUPPORTED);
    assert_eq!(NotifyType::GROUP_SENDER.0, 16429);
    assert!(NotifyType::INVALID_SYNTAX.is_error());
    assert!(!NotifyType::COOKIE.is_error());
    assert_eq!(format!("{:?}", NotifyType(40000)), "NotifyType(40000)");
    // Every value listed once.
    let mut v: Vec<u16> = NotifyType::KNOWN.iter().map(|n| n.0).collect();
    v.sort_unstable();
    v.dedup();
    assert_eq!(v.len(), NotifyType::KNOWN.len());
}

// ------------------------------------------------- a hand-assembled message

/// An IKE_SA_INIT request assembled by hand from RFC 7296 §3, independent
/// of the emitter, so that parse and emit cannot share a mistake.
#[test]
fn hand_assembled_ike_sa_init() {
    let hex = concat!(
        "0102030405060708",
        "0000000000000000", // SPIs
        "21",
        "20",
        "22",
        "08",
        "00000000",
        "00000058", // SA, 2.0, IKE_SA_INIT, I, msgid 0, len 88
        // SA payload (next KE), 48 octets
        "22",
        "00",
        "0030",
        // proposal 1, IKE, no SPI, 4 transforms, length 44
        "00",
        "00",
        "002c",
        "01",
        "01",
        "00",
        "04",
        "03",
        "00",
        "000c",
        "01",
        "00",
        "0014",
        "800e0100", // ENCR AES_GCM_16, KEY_LENGTH 256
        "03",
        "00",
        "0008",
        "02",
        "00",
        "0007", // PRF HMAC_SHA2_512
        "03",
        "00",
        "0008",
        "04",
        "00",
        "001f", // KE Curve25519
        "00",
        "00",
        "0008",
        "05",
        "00",
        "0000", // ESN none (unusual in IKE, fine for the codec)
        // KE payload (next none), 12 octets
        "00",
        "00",
        "000c",
        "001f",
        "0000",
        "aabbccdd",
    );
    let d = hex::decode(hex).unwrap();
    assert_eq!(d.len(), 88);
    let m = Message::parse(&d).unwrap();
    assert_eq!(m.header.exchange, ExchangeType::IKE_SA_INIT);
    assert!(m.header.flags.initiator && !m.header.flags.response);
    let PayloadBody::Sa(sa) = &m.payloads[0].body else {
        panic!()
    };
    let t = &sa.proposals[0].transforms;
    assert_eq!(sa.proposals[0].protocol, ProtocolId::IKE);
    assert_eq!(
        (t[0].ty, EncrId(t[0].id), t[0].key_length()),
        (TransformType::ENCR, EncrId::AES_GCM_16, Some(256))
    );
    assert_eq!(PrfId(t[1].id), PrfId::HMAC_SHA2_512);
    assert_eq!(DhGroup(t[2].id), DhGroup::CURVE25519);
    assert_eq!(
        m.payloads[1].body,
        PayloadBody::Ke(KePayload {
            group: DhGroup::CURVE25519,
            data: vec![0xaa, 0xbb, 0xcc, 0xdd]
        })
    );
    assert_eq!(m.emit(), d);
}
