//! vtid's codec and crypto against real strongSwan 5.9.8 exchanges.
//!
//! For every suite under `tests/fixtures/strongswan/` (captured by
//! `interop/capture-fixtures`, keys taken from charon's log): the messages
//! parse and re-emit byte for byte; our key derivation reproduces charon's
//! SK_* and CHILD SA keys; our SK decryption opens every encrypted message
//! strongSwan sent; our AUTH computation reproduces strongSwan's AUTH
//! payloads; the Delete payloads name what was deleted.

use std::net::Ipv4Addr;

use ike::crypto::{
    psk_auth, signed_octets, verify_psk_auth, ChildKeys, IkeKeys, KeyExchange, Prf, SkCipher, Suite,
};
use ike::proposal::{parse_esp_proposals, parse_ike_proposals, proposal_name, select};
use ike::wire::{
    parse_payload_chain, AuthMethod, ExchangeType, IdType, Identification, Message, NotifyType,
    Payload, PayloadBody, PayloadType, Proposal, ProtocolId, SaPayload, TrafficSelector, TsPayload,
};
use vtid_tests::fixtures::{committed_root, ChildLog, Fixture, FixtureMessage};

/// All committed suites; fails unless there are at least 3 (so that no test
/// here can pass on an empty directory).
fn fixtures() -> Vec<Fixture> {
    let root = committed_root();
    let all = Fixture::load_all(&root).unwrap_or_else(|e| panic!("loading fixtures: {e}"));
    assert!(
        all.len() >= 3,
        "expected at least 3 strongSwan fixture suites under {}, found {}",
        root.display(),
        all.len()
    );
    for f in &all {
        assert!(
            f.messages.len() >= 10,
            "{}: only {} messages",
            f.name,
            f.messages.len()
        );
    }
    all
}

fn parse(f: &Fixture, m: &FixtureMessage) -> Message {
    Message::parse(&m.bytes).unwrap_or_else(|e| panic!("{}/{}: {e:?}", f.name, m.file))
}

fn msg(f: &Fixture, exchange: ExchangeType, response: bool) -> &FixtureMessage {
    f.first(exchange, response)
        .unwrap_or_else(|| panic!("{}: no {exchange} response={response}", f.name))
}

fn types(chain: &[Payload]) -> Vec<PayloadType> {
    chain.iter().map(Payload::ty).collect()
}

fn only<'a, T>(
    f: &Fixture,
    what: &str,
    chain: &'a [Payload],
    pick: impl Fn(&'a PayloadBody) -> Option<&'a T>,
) -> &'a T {
    let found: Vec<&T> = chain.iter().filter_map(|p| pick(&p.body)).collect();
    assert_eq!(
        found.len(),
        1,
        "{}: expected exactly one {what} in {:?}",
        f.name,
        types(chain)
    );
    found[0]
}

fn sa_of<'a>(f: &Fixture, chain: &'a [Payload]) -> &'a SaPayload {
    only(f, "SA", chain, |b| match b {
        PayloadBody::Sa(s) => Some(s),
        _ => None,
    })
}

fn nonce_of<'a>(f: &Fixture, chain: &'a [Payload]) -> &'a [u8] {
    &only(f, "Nonce", chain, |b| match b {
        PayloadBody::Nonce(n) => Some(n),
        _ => None,
    })
    .data
}

fn position(chain: &[Payload], ty: PayloadType) -> Option<usize> {
    chain.iter().position(|p| p.ty() == ty)
}

/// The IKE SA as vtid derives it from the fixture: the suite of the
/// selected proposal (IKE_SA_INIT response), the nonces and SPIs from the
/// packets and charon's logged g^ir.
struct IkeSa {
    suite: Suite,
    prf: Prf,
    ni: Vec<u8>,
    nr: Vec<u8>,
    keys: IkeKeys,
    /// SK_ei/SK_ai: what the original initiator sends with.
    from_initiator: SkCipher,
    /// SK_er/SK_ar.
    from_responder: SkCipher,
}

fn ike_sa(f: &Fixture) -> IkeSa {
    let req = parse(f, msg(f, ExchangeType::IKE_SA_INIT, false));
    let resp = parse(f, msg(f, ExchangeType::IKE_SA_INIT, true));
    let sa = sa_of(f, &resp.payloads);
    assert_eq!(sa.proposals.len(), 1, "{}: responder selects one", f.name);
    let suite = Suite::from_proposal(&sa.proposals[0])
        .unwrap_or_else(|e| panic!("{}: Suite::from_proposal: {e:?}", f.name));
    let ni = nonce_of(f, &req.payloads).to_vec();
    let nr = nonce_of(f, &resp.payloads).to_vec();
    let keys = IkeKeys::from_shared_secret(
        &suite,
        &f.keys.g_ir,
        &ni,
        &nr,
        &resp.header.spi_i,
        &resp.header.spi_r,
    )
    .unwrap_or_else(|e| panic!("{}: IkeKeys::from_shared_secret: {e:?}", f.name));
    let (from_initiator, from_responder) = keys
        .sk_ciphers(&suite, true)
        .unwrap_or_else(|e| panic!("{}: sk_ciphers: {e:?}", f.name));
    IkeSa {
        prf: suite.prf.expect("IKE suite has a PRF"),
        suite,
        ni,
        nr,
        keys,
        from_initiator,
        from_responder,
    }
}

/// A decrypted message: its header, the plaintext and its parsed chain.
struct Opened {
    msg: Message,
    plain: Vec<u8>,
    first: PayloadType,
    chain: Vec<Payload>,
}

/// Opens `m` with the keys of the direction its I flag names.
fn open(f: &Fixture, sa: &IkeSa, m: &FixtureMessage) -> Opened {
    let msg = parse(f, m);
    let PayloadBody::Sk(sk) = &msg.encrypted().expect("SK payload").body else {
        panic!("{}/{}: last payload is not SK", f.name, m.file);
    };
    let first = sk.first;
    let (aad, body) = msg
        .split_encrypted(&m.bytes)
        .unwrap_or_else(|| panic!("{}/{}: split_encrypted", f.name, m.file));
    assert_eq!(body, &sk.body[..]);
    let cipher = if msg.header.flags.initiator {
        &sa.from_initiator
    } else {
        &sa.from_responder
    };
    let plain = cipher
        .open(aad, body)
        .unwrap_or_else(|e| panic!("{}/{}: open: {e:?}", f.name, m.file));
    let chain = parse_payload_chain(first, &plain)
        .unwrap_or_else(|e| panic!("{}/{}: inner chain: {e:?}", f.name, m.file));
    Opened {
        msg,
        plain,
        first,
        chain,
    }
}

/// The raw (type, body) pairs of a plaintext payload chain, walked by hand
/// from the generic payload headers (independently of the codec).
fn raw_chain(first: PayloadType, mut bytes: &[u8]) -> Vec<(PayloadType, Vec<u8>)> {
    let mut out = Vec::new();
    let mut ty = first;
    while ty != PayloadType::NONE {
        let len = usize::from(u16::from_be_bytes([bytes[2], bytes[3]]));
        out.push((ty, bytes[4..len].to_vec()));
        ty = PayloadType(bytes[0]);
        bytes = &bytes[len..];
    }
    assert!(bytes.is_empty());
    out
}

fn cidr_range(s: &str) -> (Ipv4Addr, Ipv4Addr) {
    let (a, l) = s.split_once('/').expect("CIDR");
    let a: Ipv4Addr = a.parse().expect("IPv4");
    let l: u32 = l.parse().expect("prefix length");
    let mask = if l == 0 { 0 } else { u32::MAX << (32 - l) };
    let start = u32::from(a) & mask;
    (Ipv4Addr::from(start), Ipv4Addr::from(start | !mask))
}

fn assert_ts(f: &Fixture, what: &str, ts: &TsPayload, cidr: &str) {
    let (start, end) = cidr_range(cidr);
    assert!(
        ts.selectors.iter().any(|s| matches!(s,
            TrafficSelector::Ipv4 { start: a, end: b, .. } if *a == start && *b == end)),
        "{}: {what} {:?} has no selector for {cidr}",
        f.name,
        ts.selectors
    );
}

fn fqdn(f: &Fixture, what: &str, id: &Identification, expected: &str) {
    assert_eq!(
        id,
        &Identification::Fqdn(expected.as_bytes().to_vec()),
        "{}: {what}",
        f.name
    );
}

fn strip<'a>(s: &'a str, prefix: &str) -> &'a str {
    s.strip_prefix(prefix)
        .unwrap_or_else(|| panic!("{s:?} does not start with {prefix:?}"))
}

// ------------------------------------------------------------------ tests

#[test]
fn every_message_parses_and_reemits_byte_for_byte() {
    for f in fixtures() {
        let manifest = f
            .manifest
            .as_ref()
            .unwrap_or_else(|| panic!("{}: no manifest.txt", f.name));
        assert_eq!(manifest.len(), f.messages.len(), "{}: manifest", f.name);
        for m in &f.messages {
            let msg = parse(&f, m);
            assert_eq!(msg.emit(), m.bytes, "{}/{}: re-emission", f.name, m.file);
            let h = &msg.header;
            assert_eq!(h.exchange, m.exchange, "{}/{}: exchange", f.name, m.file);
            assert_eq!(
                h.flags.response, m.response,
                "{}/{}: R flag",
                f.name, m.file
            );
            assert_eq!((h.major, h.minor), (2, 0));
            let e = f
                .manifest_entry(&m.file)
                .unwrap_or_else(|| panic!("{}/{}: not in manifest", f.name, m.file));
            assert_eq!(e.exchange, m.exchange, "{}/{}", f.name, m.file);
            assert_eq!(e.response, m.response, "{}/{}", f.name, m.file);
            assert_eq!(e.message_id, h.message_id, "{}/{}: msgid", f.name, m.file);
            assert_eq!(
                e.sender_is_initiator, h.flags.initiator,
                "{}/{}: I flag vs manifest sender",
                f.name, m.file
            );
            assert_eq!(h.spi_i.as_slice(), f.keys.spi_i, "{}/{}", f.name, m.file);
            if m.seq == 1 {
                assert_eq!(h.spi_r, [0; 8], "{}: first IKE_SA_INIT", f.name);
            } else {
                assert_eq!(h.spi_r.as_slice(), f.keys.spi_r, "{}/{}", f.name, m.file);
            }
            // Everything after IKE_SA_INIT is protected.
            let encrypted = m.exchange != ExchangeType::IKE_SA_INIT;
            assert_eq!(
                msg.encrypted().is_some(),
                encrypted,
                "{}/{}",
                f.name,
                m.file
            );
            assert_eq!(msg.payloads.len() == 1, encrypted, "{}/{}", f.name, m.file);
        }
        // A request and its response share the message ID.
        for pair in f.messages.chunks(2) {
            assert!(
                !pair[0].response && pair[1].response,
                "{}: req/resp order",
                f.name
            );
            assert_eq!(
                parse(&f, &pair[0]).header.message_id,
                parse(&f, &pair[1]).header.message_id
            );
        }
    }
}

#[test]
fn key_derivation_reproduces_charon() {
    for f in fixtures() {
        let k = &f.keys;
        let sa = ike_sa(&f);
        assert_eq!(
            format!("IKE:{}", {
                let resp = parse(&f, msg(&f, ExchangeType::IKE_SA_INIT, true));
                proposal_name(&sa_of(&f, &resp.payloads).proposals[0])
            }),
            k.ike_selected,
            "{}: selected IKE proposal",
            f.name
        );
        // Our selection from the configured proposal picks the same.
        let req = parse(&f, msg(&f, ExchangeType::IKE_SA_INIT, false));
        let configured = parse_ike_proposals(&k.ike_proposal).expect("ike_proposal parses");
        let ours = select(
            &configured,
            &sa_of(&f, &req.payloads).proposals,
            Default::default(),
        )
        .expect("vtid accepts strongSwan's IKE proposal");
        assert_eq!(proposal_name(&ours), strip(&k.ike_selected, "IKE:"));
        // The KE payloads are of the selected group and the right size.
        for m in [&req, &parse(&f, msg(&f, ExchangeType::IKE_SA_INIT, true))] {
            let ke = only(&f, "KE", &m.payloads, |b| match b {
                PayloadBody::Ke(k) => Some(k),
                _ => None,
            });
            assert_eq!(Some(ke.group), sa.suite.ke, "{}: KE group", f.name);
            assert_eq!(
                ke.data.len(),
                KeyExchange::public_value_len(ke.group).unwrap(),
                "{}: KE size",
                f.name
            );
        }
        // The nonces in the packets are the ones of the log.
        assert_eq!((&sa.ni, &sa.nr), (&k.ni, &k.nr), "{}: nonces", f.name);
        let ours = &sa.keys;
        for (name, got, want) in [
            ("SK_d", ours.sk_d.as_bytes(), &k.sk_d),
            ("SK_ai", ours.sk_ai.as_bytes(), &k.sk_ai),
            ("SK_ar", ours.sk_ar.as_bytes(), &k.sk_ar),
            ("SK_ei", ours.sk_ei.as_bytes(), &k.sk_ei),
            ("SK_er", ours.sk_er.as_bytes(), &k.sk_er),
            ("SK_pi", ours.sk_pi.as_bytes(), &k.sk_pi),
            ("SK_pr", ours.sk_pr.as_bytes(), &k.sk_pr),
        ] {
            assert_eq!(hex::encode(got), hex::encode(want), "{}: {name}", f.name);
        }
        assert!(!k.sk_d.is_empty() && !k.sk_ei.is_empty() && !k.sk_pr.is_empty());
        assert_eq!(
            sa.suite.encr.is_aead(),
            k.sk_ai.is_empty(),
            "{}: SK_a* only without AEAD",
            f.name
        );
        assert_eq!(
            ike::crypto::skeyseed(sa.prf, &sa.ni, &sa.nr, &k.g_ir).as_bytes(),
            &k.skeyseed[..],
            "{}: SKEYSEED",
            f.name
        );
    }
}

#[test]
fn sk_decryption_opens_strongswan_messages() {
    for f in fixtures() {
        let sa = ike_sa(&f);
        let mut opened = 0;
        for m in f
            .messages
            .iter()
            .filter(|m| m.exchange != ExchangeType::IKE_SA_INIT)
        {
            let o = open(&f, &sa, m);
            opened += 1;
            // Requests from the initiator and responses from the responder
            // here, but it is the I flag that chose the keys above.
            assert_eq!(
                o.msg.header.flags.initiator, !m.response,
                "{}/{}: sender",
                f.name, m.file
            );
            let (aad, body) = o.msg.split_encrypted(&m.bytes).unwrap();
            // The other direction's keys do not open it.
            let wrong = if o.msg.header.flags.initiator {
                &sa.from_responder
            } else {
                &sa.from_initiator
            };
            assert!(
                wrong.open(aad, body).is_err(),
                "{}/{}: wrong keys",
                f.name,
                m.file
            );
            // Any tampered byte (IV, ciphertext, ICV, or AAD) is refused.
            let right = if o.msg.header.flags.initiator {
                &sa.from_initiator
            } else {
                &sa.from_responder
            };
            for i in [0, body.len() / 2, body.len() - 1] {
                let mut t = body.to_vec();
                t[i] ^= 0x01;
                assert!(
                    right.open(aad, &t).is_err(),
                    "{}/{}: body[{i}]",
                    f.name,
                    m.file
                );
            }
            let mut t = aad.to_vec();
            t[20] ^= 0x80; // Message ID
            assert!(right.open(&t, body).is_err(), "{}/{}: AAD", f.name, m.file);
            // The codec re-emits the inner chain exactly.
            let mut re = Vec::new();
            assert_eq!(ike::wire::emit_payload_chain(&o.chain, &mut re), o.first);
            assert_eq!(re, o.plain, "{}/{}: inner re-emission", f.name, m.file);
        }
        assert_eq!(opened, f.messages.len() - 2, "{}", f.name);

        let k = &f.keys;
        let child1 = &k.children[0];
        // IKE_AUTH request: IDi, [N(INITIAL_CONTACT)], [IDr], AUTH, SA, TSi, TSr.
        let req = open(&f, &sa, msg(&f, ExchangeType::IKE_AUTH, false));
        let c = &req.chain;
        let idi = only(&f, "IDi", c, |b| match b {
            PayloadBody::IdI(i) => Some(i),
            _ => None,
        });
        fqdn(&f, "IDi", idi, &k.id_i);
        if let Some(i) = position(c, PayloadType::IDR) {
            let PayloadBody::IdR(idr) = &c[i].body else {
                unreachable!()
            };
            fqdn(&f, "IDr in the request", idr, &k.id_r);
        }
        let order: Vec<usize> = [PayloadType::IDI, PayloadType::AUTH, PayloadType::SA]
            .into_iter()
            .chain([PayloadType::TSI, PayloadType::TSR])
            .map(|t| {
                position(c, t).unwrap_or_else(|| panic!("{}: no {t} in {:?}", f.name, types(c)))
            })
            .collect();
        assert!(
            order.windows(2).all(|w| w[0] < w[1]),
            "{}: order {:?}",
            f.name,
            types(c)
        );
        for p in c {
            if let PayloadBody::Notify(n) = &p.body {
                if n.ty == NotifyType::INITIAL_CONTACT {
                    assert!(n.spi.is_empty() && n.data.is_empty());
                    assert!(position(c, PayloadType::NOTIFY) < Some(order[1]));
                }
            }
        }
        let req_sa = sa_of(&f, c);
        assert!(!req_sa.proposals.is_empty());
        for p in &req_sa.proposals {
            assert_eq!(p.protocol, ProtocolId::ESP);
            assert_eq!(p.spi, child1.spi_i, "{}: IKE_AUTH request ESP SPI", f.name);
        }
        let (tsi, tsr) = ts_pair(&f, c);
        assert_ts(&f, "TSi", tsi, &k.ts_i);
        assert_ts(&f, "TSr", tsr, &k.ts_r);

        // IKE_AUTH response: IDr, AUTH, SA, TSi, TSr.
        let resp = open(&f, &sa, msg(&f, ExchangeType::IKE_AUTH, true));
        let c = &resp.chain;
        let idr = only(&f, "IDr", c, |b| match b {
            PayloadBody::IdR(i) => Some(i),
            _ => None,
        });
        fqdn(&f, "IDr", idr, &k.id_r);
        assert!(position(c, PayloadType::IDI).is_none());
        let order: Vec<usize> = [PayloadType::IDR, PayloadType::AUTH, PayloadType::SA]
            .into_iter()
            .chain([PayloadType::TSI, PayloadType::TSR])
            .map(|t| {
                position(c, t).unwrap_or_else(|| panic!("{}: no {t} in {:?}", f.name, types(c)))
            })
            .collect();
        assert!(
            order.windows(2).all(|w| w[0] < w[1]),
            "{}: order {:?}",
            f.name,
            types(c)
        );
        let resp_sa = sa_of(&f, c);
        assert_eq!(resp_sa.proposals.len(), 1);
        assert_eq!(
            resp_sa.proposals[0].spi, child1.spi_r,
            "{}: ESP SPI",
            f.name
        );
        assert_eq!(
            proposal_name(&resp_sa.proposals[0]),
            strip(&child1.selected, "ESP:"),
            "{}: ESP proposal",
            f.name
        );
        let (tsi, tsr) = ts_pair(&f, c);
        assert_ts(&f, "TSi", tsi, &k.ts_i);
        assert_ts(&f, "TSr", tsr, &k.ts_r);
    }
}

fn ts_pair<'a>(f: &Fixture, c: &'a [Payload]) -> (&'a TsPayload, &'a TsPayload) {
    (
        only(f, "TSi", c, |b| match b {
            PayloadBody::TsI(t) => Some(t),
            _ => None,
        }),
        only(f, "TSr", c, |b| match b {
            PayloadBody::TsR(t) => Some(t),
            _ => None,
        }),
    )
}

#[test]
fn auth_payloads_recomputed() {
    for f in fixtures() {
        let sa = ike_sa(&f);
        let k = &f.keys;
        let init_req = &msg(&f, ExchangeType::IKE_SA_INIT, false).bytes;
        let init_resp = &msg(&f, ExchangeType::IKE_SA_INIT, true).bytes;
        for (response, id_str, real_message, peer_nonce, sk_p) in [
            (false, &k.id_i, init_req, &sa.nr, sa.keys.sk_pi.as_bytes()),
            (true, &k.id_r, init_resp, &sa.ni, sa.keys.sk_pr.as_bytes()),
        ] {
            let o = open(&f, &sa, msg(&f, ExchangeType::IKE_AUTH, response));
            let (id_ty, id) = if response {
                (
                    PayloadType::IDR,
                    only(&f, "IDr", &o.chain, |b| match b {
                        PayloadBody::IdR(i) => Some(i),
                        _ => None,
                    }),
                )
            } else {
                (
                    PayloadType::IDI,
                    only(&f, "IDi", &o.chain, |b| match b {
                        PayloadBody::IdI(i) => Some(i),
                        _ => None,
                    }),
                )
            };
            let id_body = id.to_body();
            // RestOfInitIDPayload: from the ID Type byte on, i.e. exactly
            // the payload body after the 4-octet generic header as sent.
            assert_eq!(id_body[0], IdType::FQDN.0);
            assert_eq!(&id_body[1..4], &[0, 0, 0]);
            assert_eq!(&id_body[4..], id_str.as_bytes());
            let raw = raw_chain(o.first, &o.plain);
            let sent: Vec<&Vec<u8>> = raw
                .iter()
                .filter(|(t, _)| *t == id_ty)
                .map(|(_, b)| b)
                .collect();
            assert_eq!(sent, vec![&id_body], "{}: ID body as sent", f.name);

            let auth = only(&f, "AUTH", &o.chain, |b| match b {
                PayloadBody::Auth(a) => Some(a),
                _ => None,
            });
            assert_eq!(auth.method, AuthMethod::SHARED_KEY_MIC, "{}", f.name);
            let octets = signed_octets(sa.prf, real_message, peer_nonce, sk_p, &id_body);
            assert_eq!(
                octets.len(),
                real_message.len() + peer_nonce.len() + sa.prf.output_len()
            );
            let ours = psk_auth(sa.prf, &k.psk, &octets);
            assert_eq!(
                hex::encode(&ours),
                hex::encode(&auth.data),
                "{}: {} AUTH",
                f.name,
                if response { "responder" } else { "initiator" }
            );
            assert!(verify_psk_auth(sa.prf, &k.psk, &octets, &auth.data));
            assert!(!verify_psk_auth(sa.prf, b"wrong psk", &octets, &auth.data));
            // Another identity (ID_FQDN "x") does not verify.
            let swapped = signed_octets(sa.prf, real_message, peer_nonce, sk_p, b"\x02\0\0\0x");
            assert!(!verify_psk_auth(sa.prf, &k.psk, &swapped, &auth.data));
        }
    }
}

/// Checks one CHILD SA: SPIs in the SA payloads, the selected ESP suite,
/// charon's seed, and our KEYMAT against charon's.
fn check_child(
    f: &Fixture,
    sa: &IkeSa,
    log: &ChildLog,
    req_sa: &SaPayload,
    resp_sa: &SaPayload,
    (ni, nr): (&[u8], &[u8]),
    pfs: bool,
) {
    let what = format!("{}: child{}", f.name, log.n);
    for p in &req_sa.proposals {
        assert_eq!(p.spi, log.spi_i, "{what}: initiator's SPI");
    }
    assert_eq!(resp_sa.proposals.len(), 1, "{what}");
    let selected: &Proposal = &resp_sa.proposals[0];
    assert_eq!(selected.spi, log.spi_r, "{what}: responder's SPI");
    assert_eq!(
        proposal_name(selected),
        strip(&log.selected, "ESP:"),
        "{what}"
    );
    let configured = parse_esp_proposals(&f.keys.esp_proposal).expect("esp_proposal parses");
    let ours = select(
        &configured,
        &req_sa.proposals,
        ike::proposal::SelectOptions::first_child_sa(),
    )
    .expect("vtid accepts strongSwan's ESP proposal");
    assert_eq!(proposal_name(&ours), proposal_name(selected), "{what}");
    let esp = Suite::from_proposal(selected).unwrap_or_else(|e| panic!("{what}: {e:?}"));
    // charon's seed is [g^ir (new) |] Ni | Nr.
    let nonces = [ni, nr].concat();
    assert!(
        log.seed.ends_with(&nonces),
        "{what}: seed ends with Ni | Nr"
    );
    let g_ir_new = &log.seed[..log.seed.len() - nonces.len()];
    assert_eq!(
        !g_ir_new.is_empty(),
        pfs,
        "{what}: PFS g^ir iff KE payloads"
    );
    let keys = ChildKeys::derive(
        sa.prf,
        sa.keys.sk_d.as_bytes(),
        pfs.then_some(g_ir_new),
        ni,
        nr,
        &esp,
    )
    .unwrap_or_else(|e| panic!("{what}: ChildKeys::derive: {e:?}"));
    for (name, got, want) in [
        ("encr_i", keys.encr_i.as_bytes(), &log.encr_i),
        ("encr_r", keys.encr_r.as_bytes(), &log.encr_r),
        ("integ_i", keys.integ_i.as_bytes(), &log.integ_i),
        ("integ_r", keys.integ_r.as_bytes(), &log.integ_r),
    ] {
        assert_eq!(hex::encode(got), hex::encode(want), "{what}: {name}");
    }
    assert!(!log.encr_i.is_empty(), "{what}: charon logged keys");
}

#[test]
fn child_sa_keys_reproduce_charon() {
    for f in fixtures() {
        let sa = ike_sa(&f);
        let k = &f.keys;
        assert_eq!(
            k.children.len(),
            2,
            "{}: two CHILD SAs (created, rekeyed)",
            f.name
        );

        // child1: IKE_AUTH, keyed from the IKE_SA_INIT nonces, no KE.
        let areq = open(&f, &sa, msg(&f, ExchangeType::IKE_AUTH, false));
        let aresp = open(&f, &sa, msg(&f, ExchangeType::IKE_AUTH, true));
        check_child(
            &f,
            &sa,
            &k.children[0],
            sa_of(&f, &areq.chain),
            sa_of(&f, &aresp.chain),
            (&sa.ni, &sa.nr),
            false,
        );

        // child2: the CREATE_CHILD_SA rekey, keyed from its own nonces (Ni
        // from its request, Nr from its response) and g^ir if KE was sent.
        let creq = open(&f, &sa, msg(&f, ExchangeType::CREATE_CHILD_SA, false));
        let cresp = open(&f, &sa, msg(&f, ExchangeType::CREATE_CHILD_SA, true));
        let rekey = only(&f, "N(REKEY_SA)", &creq.chain, |b| match b {
            PayloadBody::Notify(n) if n.ty == NotifyType::REKEY_SA => Some(n),
            _ => None,
        });
        assert_eq!(rekey.protocol, ProtocolId::ESP);
        // The SPI of the SA being rekeyed, as its sender knows it (inbound).
        let old = if creq.msg.header.flags.initiator {
            &k.children[0].spi_i
        } else {
            &k.children[0].spi_r
        };
        assert_eq!(&rekey.spi, old, "{}: REKEY_SA names child1", f.name);
        let ke_req = position(&creq.chain, PayloadType::KE).is_some();
        let ke_resp = position(&cresp.chain, PayloadType::KE).is_some();
        assert_eq!(ke_req, ke_resp, "{}: KE in both or neither", f.name);
        // The rekey's SPIs: child2.spi_i is the exchange initiator's.
        let (log, nonces) = (
            &k.children[1],
            (nonce_of(&f, &creq.chain), nonce_of(&f, &cresp.chain)),
        );
        assert_ne!(nonces.0, &sa.ni[..], "{}: fresh nonces", f.name);
        // (Whoever initiates the rekey is "i" for its KEYMAT, RFC 7296
        // §2.17; in these captures it is the original initiator.)
        check_child(
            &f,
            &sa,
            log,
            sa_of(&f, &creq.chain),
            sa_of(&f, &cresp.chain),
            nonces,
            ke_req,
        );
        let (tsi, tsr) = ts_pair(&f, &creq.chain);
        assert_ts(&f, "rekey TSi", tsi, &k.ts_i);
        assert_ts(&f, "rekey TSr", tsr, &k.ts_r);
    }
}

#[test]
fn informational_deletes_name_the_old_child_sa_then_the_ike_sa() {
    for f in fixtures() {
        let sa = ike_sa(&f);
        let k = &f.keys;
        let infos: Vec<Opened> = f
            .of_exchange(ExchangeType::INFORMATIONAL)
            .map(|m| open(&f, &sa, m))
            .collect();
        assert_eq!(infos.len(), 4, "{}: two INFORMATIONAL exchanges", f.name);
        let deletes = |o: &Opened| -> Vec<ike::wire::DeletePayload> {
            o.chain
                .iter()
                .filter_map(|p| match &p.body {
                    PayloadBody::Delete(d) => Some(d.clone()),
                    _ => None,
                })
                .collect()
        };
        // 1st exchange: the old (first) CHILD SA, each side naming its
        // inbound SPI.
        for o in &infos[..2] {
            let d = deletes(o);
            assert_eq!(d.len(), 1, "{}: {:?}", f.name, types(&o.chain));
            assert_eq!((d[0].protocol, d[0].spi_size), (ProtocolId::ESP, 4));
            let spi = if o.msg.header.flags.initiator {
                &k.children[0].spi_i
            } else {
                &k.children[0].spi_r
            };
            assert_eq!(d[0].spis, vec![spi.clone()], "{}: old CHILD SA", f.name);
            assert_ne!(spi, &k.children[1].spi_i);
        }
        // 2nd exchange: the IKE SA (no SPIs: the header names it), and an
        // empty response.
        let d = deletes(&infos[2]);
        assert_eq!(d.len(), 1, "{}", f.name);
        assert_eq!((d[0].protocol, d[0].spi_size), (ProtocolId::IKE, 0));
        assert!(d[0].spis.is_empty());
        assert!(!infos[2].msg.header.flags.response);
        assert!(infos[3].msg.header.flags.response);
        assert!(infos[3].chain.is_empty(), "{}: empty response", f.name);
    }
}
