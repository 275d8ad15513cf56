//! A malicious peer against `ike::engine::Endpoint` (issue 11 §7).
//!
//! Every input starts with a valid handshake: the rogue initiator of
//! `ike/tests/common/rogue.rs` runs IKE_SA_INIT and IKE_AUTH (PSK, one
//! CHILD SA) with a responder endpoint. The input then drives what an
//! authenticated peer can send, each message properly encrypted with the
//! SA's keys: CREATE_CHILD_SA with hostile proposals, KE payloads, nonces
//! and traffic selectors, rekeys of CHILD SAs and of the IKE SA (which the
//! rogue follows), INFORMATIONAL with odd notifies and deletes, raw payload
//! chains, SKF fragments of any number, size and order, wrong message IDs,
//! responses to the endpoint's own requests, time passing, and the data
//! plane's reports.
//!
//! Asserted: no panic (and none contained: `Stats::internal_errors` stays
//! 0), and bounded state: partial reassembly within
//! `max_reassembly_total`, CHILD SAs per IKE SA within `child_sa_limit`,
//! a bounded number of IKE SAs. Run with `-rss_limit_mb` for the rest.
#![no_main]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use ike::crypto::{KeyExchange, SecretBytes};
use ike::engine::{
    Action, ChildConfig, Endpoint, EngineConfig, PeerAction, PeerConfig, SharedKey, Ts, TsSpec,
};
use ike::proposal::{parse_esp_proposals, parse_ike_proposals};
use ike::wire::{
    DeletePayload, DhGroup, ExchangeType, Header, Identification, KePayload, Message, NoncePayload,
    NotifyPayload, NotifyType, Payload, PayloadBody, PayloadType, ProtocolId, SaPayload,
    TrafficSelector, TsPayload,
};
use libfuzzer_sys::arbitrary::{Result as AResult, Unstructured};
use libfuzzer_sys::fuzz_target;

#[path = "../../ike/tests/common/rogue.rs"]
mod rogue;

const IKE: &str = "aes128gcm16-prfsha256-x25519";
const PSK: &[u8] = b"fuzz-psk-not-secret";

fn fqdn(s: &str) -> Identification {
    Identification::Fqdn(s.as_bytes().to_vec())
}

fn victim(now: Instant) -> (Endpoint, EngineConfig) {
    let ecfg = EngineConfig {
        child_sa_limit: 16,
        ..EngineConfig::default()
    };
    let mut p = PeerConfig::new(
        "lab",
        fqdn("sun.example.org"),
        parse_ike_proposals(&format!("{IKE},aes256-sha256-ecp256")).unwrap(),
    );
    p.dpd_delay = Duration::from_secs(30);
    p.rekey_time = Duration::from_secs(600);
    p.over_time = Duration::from_secs(60);
    p.rand_time = Duration::from_secs(30);
    let mut net = ChildConfig::new(
        "net",
        parse_esp_proposals("aes128gcm16,aes128-sha256").unwrap(),
    );
    net.local_ts = vec![TsSpec::Range(Ts::subnet("10.2.0.0".parse().unwrap(), 16))];
    net.remote_ts = vec![TsSpec::Range(Ts::subnet("10.1.0.0".parse().unwrap(), 16))];
    net.rekey_time = Duration::from_secs(120);
    net.life_time = Duration::from_secs(150);
    net.rand_time = Duration::from_secs(10);
    net.close_action = PeerAction::Restart;
    let mut host = ChildConfig::new("host", parse_esp_proposals("aes128gcm16-x25519").unwrap());
    host.reqid = 2;
    host.mode = ike::engine::Mode::Transport;
    let mut any = ChildConfig::new(
        "any",
        parse_esp_proposals("aes256gcm16,aes128gcm16").unwrap(),
    );
    any.reqid = 7;
    any.local_ts = vec![TsSpec::Range(Ts::any(true)), TsSpec::Range(Ts::any(false))];
    any.remote_ts = any.local_ts.clone();
    any.dpd_action = PeerAction::Restart;
    p.children = vec![net, host, any];
    let mut ep = Endpoint::new(ecfg.clone(), Box::new(rogue::Seeded(0x5eed)));
    ep.set_local_addrs(Some(SocketAddr::new(B.into(), 500)), None);
    ep.load(
        now,
        vec![p],
        vec![SharedKey {
            ids: vec![],
            secret: SecretBytes::from_slice(PSK),
        }],
    );
    (ep, ecfg)
}

const A: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
const B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

/// The rogue's view of the victim's CHILD SAs: (victim inbound, outbound).
struct World {
    ep: Endpoint,
    cfg: EngineConfig,
    now: Instant,
    rogue: rogue::Rogue,
    /// CHILD SAs the victim installed: (its inbound SPI, its outbound).
    children: Vec<(u32, u32)>,
    /// The victim's requests seen, by message ID, newest last.
    requests: Vec<(ExchangeType, u32)>,
    /// An IKE rekey we asked for: (our KE, our new SPI, our nonce, msg ID).
    rekey: Option<(KeyExchange, [u8; 8], Vec<u8>, u32)>,
}

impl World {
    fn start() -> Option<World> {
        let now = Instant::now();
        let (mut ep, cfg) = victim(now);
        let mut rogue = rogue::Rogue::init(
            &mut ep,
            now,
            SocketAddr::new(A.into(), 500),
            SocketAddr::new(B.into(), 500),
            IKE,
            7,
        )
        .ok()?;
        let mut p = rogue.auth_payloads(&fqdn("moon.example.org"), PSK);
        p.push(sa(
            parse_esp_proposals("aes128gcm16").unwrap(),
            &[1, 2, 3, 4],
        ));
        p.extend(ts_pair(
            vec![Ts::subnet("10.1.0.0".parse().unwrap(), 16)],
            vec![Ts::subnet("10.2.0.0".parse().unwrap(), 16)],
        ));
        let auth = rogue.request(ExchangeType::IKE_AUTH, &p);
        let mut w = World {
            ep,
            cfg,
            now,
            rogue,
            children: Vec::new(),
            requests: Vec::new(),
            rekey: None,
        };
        w.send(&auth);
        Some(w)
    }

    /// Hands a datagram to the victim and looks at everything it does.
    fn send(&mut self, data: &[u8]) {
        let out = self.rogue.send(&mut self.ep, self.now, data);
        self.observe(out);
    }

    fn observe(&mut self, out: Vec<ike::engine::Transmit>) {
        for t in out {
            let Ok(m) = Message::parse(&t.data) else {
                continue;
            };
            if !m.header.flags.response && m.header.spi_i == self.rogue.spi_i {
                self.requests.push((m.header.exchange, m.header.message_id));
                if self.requests.len() > 8 {
                    self.requests.remove(0);
                }
            }
            // Our IKE rekey answered: move to the new IKE SA.
            if m.header.flags.response {
                if let Some((_, _, _, id)) = &self.rekey {
                    if *id == m.header.message_id {
                        if let (Some((ke, spi, ni, _)), Some(p)) =
                            (self.rekey.take(), self.rogue.open(&t.data))
                        {
                            let _ = self.rogue.follow_rekey(&ke, spi, &ni, &p);
                        }
                    }
                }
            }
        }
        while let Some(a) = self.ep.poll_action() {
            match a {
                Action::Install(i) => {
                    self.children.push((i.inbound.spi, i.outbound.spi));
                    if self.children.len() > 64 {
                        self.children.remove(0);
                    }
                }
                Action::Delete { spi_in, .. } => self.children.retain(|c| c.0 != spi_in),
                _ => {}
            }
        }
        while self.ep.poll_event().is_some() {}
        self.check();
    }

    /// The bounds the endpoint promises, whatever the peer does.
    fn check(&self) {
        let s = self.ep.stats();
        assert_eq!(s.internal_errors, 0, "a panic was contained: {s:?}");
        assert!(s.reassembly_bytes <= self.cfg.max_reassembly_total, "{s:?}");
        assert!(s.ike_sas <= 16, "{s:?}");
        for i in self.ep.ike_sas() {
            assert!(
                i.children.len() <= self.cfg.child_sa_limit,
                "{}",
                i.children.len()
            );
        }
    }

    fn tick(&mut self, by: Duration) {
        self.now += by;
        if let Some(t) = self.ep.poll_timeout() {
            if t <= self.now {
                self.ep.handle_timeout(self.now);
            }
        }
        let mut out = Vec::new();
        while let Some(t) = self.ep.poll_transmit() {
            out.push(t);
        }
        self.observe(out);
    }

    fn known_spi(&self, u: &mut Unstructured<'_>, outbound: bool) -> AResult<u32> {
        if !self.children.is_empty() && u.ratio(3, 4)? {
            let c = u.choose(&self.children)?;
            return Ok(if outbound { c.1 } else { c.0 });
        }
        u.arbitrary()
    }
}

fn sa(proposals: Vec<ike::wire::Proposal>, spi: &[u8]) -> Payload {
    Payload::new(PayloadBody::Sa(SaPayload {
        proposals: proposals
            .into_iter()
            .map(|p| ike::wire::Proposal {
                spi: spi.to_vec(),
                ..p
            })
            .collect(),
    }))
}

fn ts_pair(i: Vec<Ts>, r: Vec<Ts>) -> [Payload; 2] {
    let w = |v: Vec<Ts>| TsPayload {
        selectors: v.iter().map(Ts::to_wire).collect(),
    };
    [
        Payload::new(PayloadBody::TsI(w(i))),
        Payload::new(PayloadBody::TsR(w(r))),
    ]
}

fn esp_proposals(u: &mut Unstructured<'_>) -> AResult<Vec<ike::wire::Proposal>> {
    const TEXT: &[&str] = &[
        "aes128gcm16",
        "aes128gcm16-x25519",
        "aes256gcm16-ecp256",
        "aes128-sha256",
        "aes128gcm16-modp2048",
        "chacha20poly1305-x25519-esn",
        "aes256gcm16,aes128gcm16-x25519",
    ];
    let mut p = parse_esp_proposals(u.choose(TEXT)?).unwrap();
    // Now and then something hostile: random transforms, protocols, numbers.
    if u.ratio(1, 4)? {
        for prop in &mut p {
            prop.protocol = ProtocolId(u.int_in_range(0..=4)?);
            prop.num = u.arbitrary()?;
            for t in &mut prop.transforms {
                if u.ratio(1, 3)? {
                    t.id = u.arbitrary()?;
                }
            }
            let n = u.int_in_range(0..=3)?;
            for _ in 0..n {
                prop.transforms.push(ike::wire::Transform {
                    ty: ike::wire::TransformType(u.int_in_range(0..=6)?),
                    id: u.arbitrary()?,
                    attributes: vec![],
                });
            }
        }
    }
    Ok(p)
}

fn selector(u: &mut Unstructured<'_>) -> AResult<TrafficSelector> {
    let proto = *u.choose(&[0u8, 0, 6, 17, 1, 58, 255])?;
    let (sp, ep) = if u.ratio(1, 2)? {
        (0, 0xffff)
    } else {
        (u.arbitrary()?, u.arbitrary()?)
    };
    Ok(if u.ratio(4, 5)? {
        let base: u32 = *u.choose(&[0x0a01_0000u32, 0x0a02_0000, 0xc000_0200, 0, 0x0a00_0000])?;
        let a = base.wrapping_add(u.int_in_range(0..=0xffff)?);
        let b = if u.ratio(1, 2)? {
            a
        } else {
            a.wrapping_add(u.arbitrary::<u16>()?.into())
        };
        TrafficSelector::Ipv4 {
            ip_proto: proto,
            start_port: sp,
            end_port: ep,
            start: a.into(),
            end: b.into(),
        }
    } else {
        TrafficSelector::Ipv6 {
            ip_proto: proto,
            start_port: sp,
            end_port: ep,
            start: u.arbitrary::<[u8; 16]>()?.into(),
            end: u.arbitrary::<[u8; 16]>()?.into(),
        }
    })
}

fn ts_payloads(u: &mut Unstructured<'_>) -> AResult<Vec<Payload>> {
    let mut out = Vec::new();
    for tsi in [true, false] {
        let n = if u.ratio(1, 8)? {
            u.int_in_range(0..=255)?
        } else {
            u.int_in_range(0..=4)?
        };
        let mut sel = Vec::with_capacity(n);
        for _ in 0..n {
            sel.push(selector(u)?);
        }
        let p = TsPayload { selectors: sel };
        out.push(Payload::new(if tsi {
            PayloadBody::TsI(p)
        } else {
            PayloadBody::TsR(p)
        }));
    }
    Ok(out)
}

fn nonce(u: &mut Unstructured<'_>) -> AResult<Payload> {
    let n = if u.ratio(7, 8)? {
        32
    } else {
        u.int_in_range(0..=300)?
    };
    Ok(Payload::new(PayloadBody::Nonce(NoncePayload {
        data: vec![0x4e; n],
    })))
}

/// A KE payload: valid for its group, or anything.
fn ke(u: &mut Unstructured<'_>, seed: u64) -> AResult<(Payload, Option<KeyExchange>)> {
    let group = DhGroup(*u.choose(&[31u16, 31, 19, 14, 0, 1, 999])?);
    let mut rng = rogue::Seeded(seed);
    let (data, kx) = match (u.ratio(3, 4)?, group) {
        (true, DhGroup::CURVE25519 | DhGroup::ECP256) => {
            let k = KeyExchange::generate(group, &mut rng).unwrap();
            (k.public_value().to_vec(), Some(k))
        }
        _ => {
            let n = u.int_in_range(0..=600)?;
            (u.bytes(n.min(u.len()))?.to_vec(), None)
        }
    };
    Ok((Payload::new(PayloadBody::Ke(KePayload { group, data })), kx))
}

fn notify_payload(w: &World, u: &mut Unstructured<'_>) -> AResult<Payload> {
    const TYPES: &[NotifyType] = &[
        NotifyType::REKEY_SA,
        NotifyType::USE_TRANSPORT_MODE,
        NotifyType::INITIAL_CONTACT,
        NotifyType::COOKIE,
        NotifyType::INVALID_KE_PAYLOAD,
        NotifyType::TEMPORARY_FAILURE,
        NotifyType::CHILD_SA_NOT_FOUND,
        NotifyType::NO_PROPOSAL_CHOSEN,
        NotifyType::TS_UNACCEPTABLE,
        NotifyType::AUTHENTICATION_FAILED,
        NotifyType::NAT_DETECTION_SOURCE_IP,
        NotifyType::IKEV2_FRAGMENTATION_SUPPORTED,
        NotifyType::INVALID_SYNTAX,
    ];
    let ty = if u.ratio(7, 8)? {
        *u.choose(TYPES)?
    } else {
        NotifyType(u.arbitrary()?)
    };
    let len = u.int_in_range(0..=8)?.min(u.len());
    let mut n = NotifyPayload::new(ty, u.bytes(len)?.to_vec());
    if u.ratio(1, 2)? {
        n.protocol = ProtocolId::ESP;
        n.spi = w.known_spi(u, true)?.to_be_bytes().to_vec();
    } else if u.ratio(1, 4)? {
        n.protocol = ProtocolId(u.arbitrary()?);
        let len = u.int_in_range(0..=16)?.min(u.len());
        n.spi = u.bytes(len)?.to_vec();
    }
    Ok(Payload::new(PayloadBody::Notify(n)))
}

fn delete_payload(w: &World, u: &mut Unstructured<'_>) -> AResult<Payload> {
    Ok(Payload::new(PayloadBody::Delete(if u.ratio(1, 6)? {
        DeletePayload {
            protocol: ProtocolId::IKE,
            spi_size: 0,
            spis: vec![],
        }
    } else {
        let n = u.int_in_range(0..=4)?;
        let mut spis = Vec::new();
        for _ in 0..n {
            spis.push(w.known_spi(u, true)?.to_be_bytes().to_vec());
        }
        DeletePayload {
            protocol: ProtocolId::ESP,
            spi_size: 4,
            spis,
        }
    })))
}

/// One step of the rogue.
fn step(w: &mut World, u: &mut Unstructured<'_>, seed: u64) -> AResult<()> {
    match u.int_in_range(0..=11)? {
        // A new CHILD SA or a CHILD SA rekey, with anything in it.
        0..=2 => {
            let mut p = Vec::new();
            if u.ratio(1, 2)? {
                let mut n = NotifyPayload::new(NotifyType::REKEY_SA, vec![]);
                n.protocol = ProtocolId::ESP;
                n.spi = w.known_spi(u, true)?.to_be_bytes().to_vec();
                p.push(Payload::new(PayloadBody::Notify(n)));
            }
            if u.ratio(1, 6)? {
                p.push(Payload::new(PayloadBody::Notify(NotifyPayload::new(
                    NotifyType::USE_TRANSPORT_MODE,
                    vec![],
                ))));
            }
            let spi = u.arbitrary::<u32>()?.to_be_bytes();
            p.push(sa(esp_proposals(u)?, &spi));
            p.push(nonce(u)?);
            if u.ratio(1, 2)? {
                p.push(ke(u, seed)?.0);
            }
            p.extend(ts_payloads(u)?);
            if u.ratio(1, 8)? {
                p.push(notify_payload(w, u)?);
            }
            let m = w.rogue.request(ExchangeType::CREATE_CHILD_SA, &p);
            w.send(&m);
        }
        // An IKE SA rekey (followed when the victim agrees).
        3 => {
            let mut spi = u.arbitrary::<[u8; 8]>()?;
            spi[0] |= 1;
            let (kp, kx) = ke(u, seed)?;
            let mut props = parse_ike_proposals(IKE).unwrap();
            if u.ratio(1, 4)? {
                props =
                    parse_ike_proposals("aes256-sha256-ecp256,aes128gcm16-prfsha256-x25519-ecp256")
                        .unwrap();
            }
            let spi_len = if u.ratio(7, 8)? {
                8
            } else {
                u.int_in_range(0..=12)?
            };
            let ni = vec![0x4e; 32];
            let p = vec![
                sa(props, &spi[..spi_len.min(8)]),
                Payload::new(PayloadBody::Nonce(NoncePayload { data: ni.clone() })),
                kp,
            ];
            let id = w.rogue.next_id;
            let m = w.rogue.request(ExchangeType::CREATE_CHILD_SA, &p);
            if let Some(kx) = kx {
                w.rekey = Some((kx, spi, ni, id));
            }
            w.send(&m);
        }
        // INFORMATIONAL: deletes, notifies, or nothing (liveness).
        4 | 5 => {
            let mut p = Vec::new();
            for _ in 0..u.int_in_range(0..=3)? {
                p.push(if u.ratio(1, 2)? {
                    delete_payload(w, u)?
                } else {
                    notify_payload(w, u)?
                });
            }
            let m = w.rogue.request(ExchangeType::INFORMATIONAL, &p);
            w.send(&m);
        }
        // Raw inner bytes, well encrypted.
        6 => {
            let ex = ExchangeType(*u.choose(&[34u8, 35, 36, 37, 43, 99])?);
            let first = PayloadType(u.arbitrary()?);
            let n = u.int_in_range(0..=512)?;
            let inner = u.bytes(n.min(u.len()))?.to_vec();
            let id = if u.ratio(3, 4)? {
                let id = w.rogue.next_id;
                w.rogue.next_id = id.wrapping_add(1);
                id
            } else {
                u.arbitrary()?
            };
            let response = u.ratio(1, 5)?;
            let m = w.rogue.seal_raw(ex, response, id, first, &inner);
            w.send(&m);
        }
        // Fragments of a message, in any number, size and order.
        7 => {
            let mut p = vec![nonce(u)?];
            p.extend(ts_payloads(u)?);
            p.push(sa(esp_proposals(u)?, &u.arbitrary::<u32>()?.to_be_bytes()));
            let mut inner = Vec::new();
            let Ok(first) = ike::wire::try_emit_payload_chain(&p, &mut inner) else {
                return Ok(());
            };
            let size = u.int_in_range(1..=1200)?;
            let chunks: Vec<Vec<u8>> = inner.chunks(size).map(<[u8]>::to_vec).collect();
            let total = if u.ratio(3, 4)? {
                chunks.len().min(usize::from(u16::MAX)) as u16
            } else {
                u.int_in_range(1..=u16::MAX)?
            };
            let id = w.rogue.next_id;
            if u.ratio(3, 4)? {
                w.rogue.next_id = id.wrapping_add(1);
            }
            let mut order: Vec<usize> = (0..chunks.len()).collect();
            if u.ratio(1, 3)? {
                for i in 0..order.len() {
                    let j = u.int_in_range(0..=order.len() - 1)?;
                    order.swap(i, j);
                }
            }
            for &i in order.iter().take(300) {
                let num = if u.ratio(15, 16)? {
                    (i + 1).min(usize::from(total)) as u16
                } else {
                    u.int_in_range(1..=total)?
                };
                let m = w.rogue.fragment(
                    ExchangeType::CREATE_CHILD_SA,
                    id,
                    first,
                    num,
                    total,
                    &chunks[i],
                );
                w.send(&m);
            }
        }
        // Time passes: the victim's timers (rekeys, DPD, expiry).
        8 => {
            let s = *u.choose(&[1u64, 5, 31, 61, 121, 151, 601, 3601])?;
            w.tick(Duration::from_secs(s));
        }
        // Answer one of the victim's requests, with anything.
        9 => {
            if let Some(&(ex, id)) = w.requests.last() {
                let mut p = Vec::new();
                for _ in 0..u.int_in_range(0..=3)? {
                    p.push(match u.int_in_range(0..=3)? {
                        0 => notify_payload(w, u)?,
                        1 => sa(esp_proposals(u)?, &u.arbitrary::<u32>()?.to_be_bytes()),
                        2 => nonce(u)?,
                        _ => delete_payload(w, u)?,
                    });
                }
                if u.ratio(1, 3)? {
                    p.extend(ts_payloads(u)?);
                }
                let m = w.rogue.seal(ex, true, id, &p);
                w.send(&m);
            }
        }
        // The data plane reports traffic or an expired volume limit.
        10 => {
            let spi = w.known_spi(u, false)?;
            match u.int_in_range(0..=2)? {
                0 => w.ep.child_activity(w.now, spi),
                1 => w.ep.child_expired(w.now, spi, false),
                _ => w.ep.child_expired(w.now, spi, true),
            }
            w.tick(Duration::ZERO);
        }
        // An unencrypted IKE_SA_INIT or IKE_AUTH for the same SPIs, or
        // a message with a wrong message ID.
        _ => {
            let mut h = Header::parse(&w.rogue.init_request).unwrap();
            h.spi_r = if u.ratio(1, 2)? {
                w.rogue.spi_r
            } else {
                [0; 8]
            };
            h.exchange = ExchangeType(*u.choose(&[34u8, 35, 36, 37])?);
            let m = Message::new(h, vec![nonce(u)?]);
            if let Ok(bytes) = m.try_emit() {
                w.send(&bytes);
            }
        }
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let Some(mut w) = World::start() else {
        panic!("the handshake failed");
    };
    let mut u = Unstructured::new(data);
    let mut n = 0u64;
    while !u.is_empty() && n < 48 {
        n += 1;
        if step(&mut w, &mut u, n).is_err() {
            break;
        }
    }
    w.tick(Duration::from_secs(3601));
    w.tick(Duration::from_secs(3601));
});
