//! Remote access parsers (crate `aaa`) on untrusted bytes never panic:
//! RADIUS replies and Disconnect-Requests (from the network, before and
//! after their authenticators are checked), EAP messages through both the
//! authenticator and the peer in every state, and configuration payload
//! attributes from a client or a gateway.
#![no_main]

use std::time::Instant;

use aaa::eap::{self, Authenticator, EapSecret, FailureLimiter, Method, Peer, ServerEnv};
use aaa::radius::packet::{self, Packet};
use aaa::radius::{Disconnect, EapRadius};
use ike::wire::{CfgAttr, CfgAttrType, CfgType, CpPayload};
use libfuzzer_sys::fuzz_target;
use rand_core::{CryptoRng, RngCore};

/// Deterministic randomness (the fuzzer must be reproducible).
struct Counter(u64);

impl RngCore for Counter {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1);
        self.0
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for b in dest {
            *b = self.next_u64() as u8;
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}
impl CryptoRng for Counter {}

fn users(id: &[u8]) -> Option<EapSecret> {
    (id == b"alice").then(|| EapSecret::password(b"pw"))
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    match sel % 4 {
        0 => {
            // RADIUS: decode, check as a reply, read as EAP-RADIUS would
            // (MPPE keys, Framed-IP, Class), and as a Disconnect-Request.
            if let Ok(p) = Packet::decode(rest) {
                let _ = p.encode();
                let _ = p.eap_message();
                let _ = p.vendor(packet::ms::VENDOR, packet::ms::MPPE_RECV_KEY).count();
                let mut relay = EapRadius::new(b"alice".to_vec(), b"vtid".to_vec(), None);
                let _ = relay.reply(&p, &[7; 16], b"secret");
            }
            let _ = packet::verify_response(rest, rest.get(1).copied().unwrap_or(0), &[7; 16], b"secret", false);
            let _ = Disconnect::parse(rest, b"secret");
            let _ = packet::decrypt_mppe_key(rest, b"secret", &[7; 16]);
        }
        1 => {
            // EAP through the authenticator: several Responses in a row,
            // split on 0xff, with the outstanding Identifier forced so
            // the methods' code is reached.
            let mut limiter = FailureLimiter::default();
            let mut rng = Counter(1);
            let secrets = users;
            let mut env = ServerEnv { secrets: &secrets, limiter: &mut limiter, rng: &mut rng, now: Instant::now() };
            let m = if rest.first().is_some_and(|b| b & 1 == 1) { Method::Md5 } else { Method::MsChapV2 };
            let mut auth = Authenticator::new(vec![m, Method::Md5], None, 0);
            let mut id = 0u8;
            let _ = auth.start(&mut env);
            for chunk in rest.split(|&b| b == 0xff) {
                if let Ok(mut p) = eap::decode(chunk) {
                    p.identifier = id;
                    if let eap::ServerStep::Request(r) = auth.process(&p, &mut env) {
                        id = r.identifier;
                    }
                }
            }
        }
        2 => {
            // EAP through the peer.
            let mut peer = Peer::new(b"alice".to_vec(), EapSecret::password(b"pw"), vec![Method::MsChapV2, Method::Md5]);
            let mut rng = Counter(2);
            for chunk in rest.split(|&b| b == 0xff) {
                if let Ok(p) = eap::decode(chunk) {
                    let _ = peer.process(&p, &mut rng);
                }
            }
        }
        _ => {
            // Configuration attributes: (type, length, value) triples.
            let mut attributes = Vec::new();
            let mut at = rest;
            while let [t, l, tail @ ..] = at {
                let n = usize::from(*l % 24).min(tail.len());
                attributes.push(CfgAttr { ty: CfgAttrType(u16::from(*t % 40)), value: tail[..n].to_vec() });
                at = &tail[n..];
            }
            let cp = CpPayload { cfg_type: CfgType::REPLY, attributes };
            let _ = aaa::cp::parse_request(&cp);
            let _ = aaa::cp::parse_reply(&cp);
        }
    }
});
