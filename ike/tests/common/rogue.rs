//! A hostile IKEv2 initiator built only from `ike`'s public codec and
//! crypto: it runs IKE_SA_INIT (and, with the PSK, IKE_AUTH) against an
//! [`Endpoint`] like any peer, and then sends whatever it likes, properly
//! encrypted and authenticated with the SA's keys: arbitrary payload
//! chains, wrong message IDs, SKF fragments of any number and size.
//!
//! Shared by the engine's pair tests and the `ike_peer` fuzz target (which
//! includes this file by path), so what the fuzzer plays is what the tests
//! check. Deterministic: its randomness is a seeded SplitMix64.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Instant;

use ike::crypto::{psk_auth, signed_octets, IkeKeys, KeyExchange, SkCipher, Suite};
use ike::engine::{Datagram, Endpoint, Transmit};
use ike::proposal::parse_ike_proposals;
use ike::wire::{
    emit_payload_chain, parse_payload_chain, AuthMethod, AuthPayload, ExchangeType, Flags, Header,
    Identification, KePayload, Message, NoncePayload, NotifyPayload, NotifyType, Payload,
    PayloadBody, PayloadType, SaPayload, SkPayload, SkfPayload,
};

/// SplitMix64: deterministic randomness for IVs and nonces.
#[derive(Clone, Debug)]
pub struct Seeded(pub u64);

impl rand_core::RngCore for Seeded {
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
impl rand_core::CryptoRng for Seeded {}

/// The hostile initiator, after IKE_SA_INIT.
pub struct Rogue {
    /// Our address (as the victim sees it).
    pub local: SocketAddr,
    /// The victim's address.
    pub remote: SocketAddr,
    pub spi_i: [u8; 8],
    pub spi_r: [u8; 8],
    pub ni: Vec<u8>,
    pub nr: Vec<u8>,
    pub suite: Suite,
    pub keys: IkeKeys,
    out: SkCipher,
    inb: SkCipher,
    pub init_request: Vec<u8>,
    pub init_response: Vec<u8>,
    /// The message ID of our next request.
    pub next_id: u32,
    pub rng: Seeded,
}

fn header(spi_i: [u8; 8], spi_r: [u8; 8], ex: ExchangeType, response: bool, id: u32) -> Header {
    Header {
        spi_i,
        spi_r,
        next_payload: PayloadType::NONE,
        major: Header::IKEV2_MAJOR,
        minor: 0,
        exchange: ex,
        flags: Flags {
            initiator: true,
            version: false,
            response,
            reserved: 0,
        },
        message_id: id,
        length: 0,
    }
}

/// Hands `data` to the victim as a datagram from `from` to `to` and
/// returns what it sends back.
pub fn deliver(
    victim: &mut Endpoint,
    now: Instant,
    from: SocketAddr,
    to: SocketAddr,
    data: &[u8],
) -> Vec<Transmit> {
    victim.handle_datagram(
        now,
        Datagram {
            local: to,
            remote: from,
            nat_t: false,
            data,
        },
    );
    let mut out = Vec::new();
    while let Some(t) = victim.poll_transmit() {
        out.push(t);
    }
    out
}

impl Rogue {
    /// IKE_SA_INIT with `victim` (a COOKIE round if it asks for one) with
    /// one proposal `ike`, e.g. `aes128gcm16-prfsha256-ecp256`.
    pub fn init(
        victim: &mut Endpoint,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        ike: &str,
        seed: u64,
    ) -> Result<Rogue, String> {
        let mut rng = Seeded(seed);
        let proposals = parse_ike_proposals(ike).map_err(|e| e.to_string())?;
        let group = proposals
            .first()
            .and_then(|p| {
                p.transforms
                    .iter()
                    .find(|t| t.ty == ike::wire::TransformType::KE)
            })
            .map(|t| ike::wire::DhGroup(t.id))
            .ok_or("proposal without a KE transform")?;
        let ke = KeyExchange::generate(group, &mut rng).map_err(|e| e.to_string())?;
        let mut spi_i = [0u8; 8];
        rand_core::RngCore::fill_bytes(&mut rng, &mut spi_i);
        spi_i[0] |= 1;
        let mut ni = vec![0u8; 32];
        rand_core::RngCore::fill_bytes(&mut rng, &mut ni);
        let mut cookie: Option<Vec<u8>> = None;
        for _ in 0..2 {
            let mut p = Vec::new();
            if let Some(c) = &cookie {
                p.push(Payload::new(PayloadBody::Notify(NotifyPayload::new(
                    NotifyType::COOKIE,
                    c.clone(),
                ))));
            }
            p.push(Payload::new(PayloadBody::Sa(SaPayload {
                proposals: proposals.clone(),
            })));
            p.push(Payload::new(PayloadBody::Ke(KePayload {
                group,
                data: ke.public_value().to_vec(),
            })));
            p.push(Payload::new(PayloadBody::Nonce(NoncePayload {
                data: ni.clone(),
            })));
            p.push(Payload::new(PayloadBody::Notify(NotifyPayload::new(
                NotifyType::IKEV2_FRAGMENTATION_SUPPORTED,
                vec![],
            ))));
            let request = Message::new(
                header(spi_i, [0; 8], ExchangeType::IKE_SA_INIT, false, 0),
                p,
            )
            .emit();
            let answers = deliver(victim, now, local, remote, &request);
            let raw = answers
                .into_iter()
                .next()
                .ok_or("no answer to IKE_SA_INIT")?
                .data;
            let m = Message::parse(&raw).map_err(|e| e.to_string())?;
            let notify = |ty: NotifyType| {
                m.payloads.iter().find_map(|p| match &p.body {
                    PayloadBody::Notify(n) if n.ty == ty => Some(n.data.clone()),
                    _ => None,
                })
            };
            if let Some(c) = notify(NotifyType::COOKIE) {
                cookie = Some(c);
                continue;
            }
            let chosen = m
                .payloads
                .iter()
                .find_map(|p| match &p.body {
                    PayloadBody::Sa(s) => s.proposals.first().cloned(),
                    _ => None,
                })
                .ok_or_else(|| format!("no SA in the IKE_SA_INIT response: {m:?}"))?;
            let kr = m
                .payloads
                .iter()
                .find_map(|p| match &p.body {
                    PayloadBody::Ke(k) => Some(k.data.clone()),
                    _ => None,
                })
                .ok_or("no KE")?;
            let nr = m
                .payloads
                .iter()
                .find_map(|p| match &p.body {
                    PayloadBody::Nonce(n) => Some(n.data.clone()),
                    _ => None,
                })
                .ok_or("no nonce")?;
            let suite = Suite::from_proposal(&chosen).map_err(|e| e.to_string())?;
            let g = ke.agree(&kr).map_err(|e| e.to_string())?;
            let spi_r = m.header.spi_r;
            let keys = IkeKeys::from_shared_secret(&suite, g.as_bytes(), &ni, &nr, &spi_i, &spi_r)
                .map_err(|e| e.to_string())?;
            let (out, inb) = keys.sk_ciphers(&suite, true).map_err(|e| e.to_string())?;
            return Ok(Rogue {
                local,
                remote,
                spi_i,
                spi_r,
                ni,
                nr,
                suite,
                keys,
                out,
                inb,
                init_request: request,
                init_response: raw,
                next_id: 1,
                rng,
            });
        }
        Err("COOKIE demanded twice".into())
    }

    /// A copy with the same SA and keys (to answer the victim's requests
    /// without disturbing our own message IDs).
    pub fn clone_keys(&self) -> Rogue {
        Rogue {
            local: self.local,
            remote: self.remote,
            spi_i: self.spi_i,
            spi_r: self.spi_r,
            ni: self.ni.clone(),
            nr: self.nr.clone(),
            suite: self.suite,
            keys: self.keys.clone(),
            out: self.keys.sk_ciphers(&self.suite, true).expect("ciphers").0,
            inb: self.keys.sk_ciphers(&self.suite, true).expect("ciphers").1,
            init_request: self.init_request.clone(),
            init_response: self.init_response.clone(),
            next_id: self.next_id,
            rng: self.rng.clone(),
        }
    }

    /// The AUTH payload data for identity `idi` with `psk` (RFC 7296 §2.15).
    pub fn auth_data(&self, idi: &Identification, psk: &[u8]) -> Vec<u8> {
        let prf = self.suite.prf.expect("IKE suite has a PRF");
        let octets = signed_octets(
            prf,
            &self.init_request,
            &self.nr,
            self.keys.sk_pi.as_bytes(),
            &idi.to_body(),
        );
        psk_auth(prf, psk, &octets)
    }

    /// IDi and AUTH payloads for `idi` with `psk`.
    pub fn auth_payloads(&self, idi: &Identification, psk: &[u8]) -> Vec<Payload> {
        vec![
            Payload::new(PayloadBody::IdI(idi.clone())),
            Payload::new(PayloadBody::Auth(AuthPayload {
                method: AuthMethod::SHARED_KEY_MIC,
                data: self.auth_data(idi, psk),
            })),
        ]
    }

    /// Seals an inner payload chain given as bytes (`first` names its first
    /// payload) into one SK message.
    pub fn seal_raw(
        &mut self,
        ex: ExchangeType,
        response: bool,
        id: u32,
        first: PayloadType,
        inner: &[u8],
    ) -> Vec<u8> {
        let len = self.out.sealed_len(inner.len());
        let m = Message::new(
            header(self.spi_i, self.spi_r, ex, response, id),
            vec![Payload::new(PayloadBody::Sk(SkPayload {
                first,
                body: vec![0; len],
            }))],
        );
        let mut bytes = m.emit();
        let off = bytes.len() - len;
        let sealed = self
            .out
            .seal(&bytes[..off], inner, &mut self.rng)
            .expect("sealing");
        bytes[off..].copy_from_slice(&sealed);
        bytes
    }

    /// Seals payloads into one SK message.
    pub fn seal(&mut self, ex: ExchangeType, response: bool, id: u32, p: &[Payload]) -> Vec<u8> {
        let mut inner = Vec::new();
        let first = emit_payload_chain(p, &mut inner);
        self.seal_raw(ex, response, id, first, &inner)
    }

    /// One SKF fragment (RFC 7383 §2.5) with any numbers the caller likes.
    #[allow(clippy::too_many_arguments)]
    pub fn fragment(
        &mut self,
        ex: ExchangeType,
        id: u32,
        first: PayloadType,
        number: u16,
        total: u16,
        chunk: &[u8],
    ) -> Vec<u8> {
        let len = self.out.sealed_len(chunk.len());
        let m = Message::new(
            header(self.spi_i, self.spi_r, ex, false, id),
            vec![Payload::new(PayloadBody::Skf(SkfPayload {
                first: if number == 1 {
                    first
                } else {
                    PayloadType::NONE
                },
                fragment_number: number,
                total_fragments: total,
                body: vec![0; len],
            }))],
        );
        let mut bytes = m.emit();
        let off = bytes.len() - len;
        let sealed = self
            .out
            .seal(&bytes[..off], chunk, &mut self.rng)
            .expect("sealing");
        bytes[off..].copy_from_slice(&sealed);
        bytes
    }

    /// A request with the next message ID.
    pub fn request(&mut self, ex: ExchangeType, p: &[Payload]) -> Vec<u8> {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        self.seal(ex, false, id, p)
    }

    /// Moves to the IKE SA our rekey created (RFC 7296 §2.18): `ours` is
    /// the key exchange, `spi` the new SPI and `ni` the nonce our
    /// CREATE_CHILD_SA request carried; `resp` the victim's answer.
    pub fn follow_rekey(
        &mut self,
        ours: &KeyExchange,
        spi: [u8; 8],
        ni: &[u8],
        resp: &[Payload],
    ) -> Result<(), String> {
        let chosen = resp
            .iter()
            .find_map(|p| match &p.body {
                PayloadBody::Sa(s) => s.proposals.first().cloned(),
                _ => None,
            })
            .ok_or("no SA")?;
        let nr = resp
            .iter()
            .find_map(|p| match &p.body {
                PayloadBody::Nonce(n) => Some(n.data.clone()),
                _ => None,
            })
            .ok_or("no nonce")?;
        let ke = resp
            .iter()
            .find_map(|p| match &p.body {
                PayloadBody::Ke(k) => Some(k.data.clone()),
                _ => None,
            })
            .ok_or("no KE")?;
        let spi_r: [u8; 8] = chosen.spi.as_slice().try_into().map_err(|_| "SPI size")?;
        let suite = Suite::from_proposal(&ike::wire::Proposal {
            spi: vec![],
            ..chosen
        })
        .map_err(|e| e.to_string())?;
        let g = ours.agree(&ke).map_err(|e| e.to_string())?;
        let prf = self.suite.prf.ok_or("no PRF")?;
        let seed =
            ike::crypto::rekey_skeyseed(prf, self.keys.sk_d.as_bytes(), g.as_bytes(), ni, &nr);
        let keys = IkeKeys::derive(&suite, seed.as_bytes(), ni, &nr, &spi, &spi_r)
            .map_err(|e| e.to_string())?;
        let (out, inb) = keys.sk_ciphers(&suite, true).map_err(|e| e.to_string())?;
        self.spi_i = spi;
        self.spi_r = spi_r;
        self.suite = suite;
        self.keys = keys;
        self.out = out;
        self.inb = inb;
        self.ni = ni.to_vec();
        self.nr = nr;
        self.next_id = 0;
        Ok(())
    }

    /// Sends `data` to the victim, returns its answers.
    pub fn send(&self, victim: &mut Endpoint, now: Instant, data: &[u8]) -> Vec<Transmit> {
        deliver(victim, now, self.local, self.remote, data)
    }

    /// The payloads of an answer the victim sent (an SK message), if it
    /// decrypts and parses.
    pub fn open(&self, data: &[u8]) -> Option<Vec<Payload>> {
        let m = Message::parse(data).ok()?;
        let (aad, body) = m.split_encrypted(data)?;
        let plain = self.inb.open(aad, body).ok()?;
        match &m.encrypted()?.body {
            PayloadBody::Sk(sk) => parse_payload_chain(sk.first, &plain).ok(),
            _ => None,
        }
    }
}
