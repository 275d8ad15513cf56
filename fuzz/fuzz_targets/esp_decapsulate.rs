//! `vti::esp::InboundSa::decapsulate` against a real SA keyed in the
//! harness, the way the data plane calls it for every ESP packet from the
//! network.
//!
//! The first byte picks the suite, ESN and the replay window; the rest is a
//! sequence of records, each one packet offered to the same inbound SA (so
//! the anti-replay window and ESN inference see a hostile sequence):
//!
//! - raw: the bytes as received (wrong ICVs, short packets, any SPI and
//!   sequence number);
//! - forged: an arbitrary plaintext (padding, pad length, next header and
//!   inner packet all attacker-chosen) sealed with the SA's own key by the
//!   harness, as a peer holding the key can (AEAD suites, RFC 4106 /
//!   RFC 7634 with ring); it passes the ICV, so the code after it runs on
//!   arbitrary bytes;
//! - sealed: the bytes as an inner packet sealed by the matching
//!   `OutboundSa` at a chosen sequence number; without ESN it must open
//!   unless the window refuses it (with ESN a far jump legitimately fails,
//!   RFC 4303 Appendix A), and what comes out is a prefix of what went in.
//!
//! Nothing may panic; every returned range lies inside the packet.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use ring::aead;
use vti::esp::{
    EspError, InboundSa, Inner, OutboundSa, SaKeys, SaOptions, Suite, ESP_HEADER_LEN, HEADROOM,
    TAILROOM,
};

const SPI: u32 = 0x0bad_cafe;

fn key_material(suite: Suite) -> (Vec<u8>, Vec<u8>) {
    let e = (0..suite.encryption_key_len())
        .map(|i| (i as u8).wrapping_mul(7).wrapping_add(3))
        .collect();
    let a = (0..suite.integrity_key_len())
        .map(|i| (i as u8).wrapping_mul(11).wrapping_add(5))
        .collect();
    (e, a)
}

/// Seals `plaintext` (payload, padding, pad length, next header: as given)
/// into an ESP packet for an AEAD suite, as RFC 4106 §3 / RFC 7634 §2 lay
/// it out: SPI, sequence number, 8-byte IV, ciphertext, 16-byte tag.
fn forge_aead(suite: Suite, enc: &[u8], seq: u64, esn: bool, plaintext: &[u8]) -> Option<Vec<u8>> {
    let alg = match suite {
        s if s == Suite::AES_GCM_16_128 => &aead::AES_128_GCM,
        s if s == Suite::AES_GCM_16_256 => &aead::AES_256_GCM,
        s if s == Suite::CHACHA20_POLY1305 => &aead::CHACHA20_POLY1305,
        _ => return None,
    };
    let (k, salt) = enc.split_at(enc.len() - 4);
    let key = aead::LessSafeKey::new(aead::UnboundKey::new(alg, k).ok()?);
    let mut pkt = Vec::with_capacity(ESP_HEADER_LEN + 8 + plaintext.len() + 16);
    pkt.extend_from_slice(&SPI.to_be_bytes());
    pkt.extend_from_slice(&(seq as u32).to_be_bytes());
    let iv = seq.to_be_bytes();
    pkt.extend_from_slice(&iv);
    let mut nonce = [0u8; 12];
    nonce[..4].copy_from_slice(salt);
    nonce[4..].copy_from_slice(&iv);
    let mut aad = Vec::with_capacity(12);
    aad.extend_from_slice(&SPI.to_be_bytes());
    if esn {
        aad.extend_from_slice(&((seq >> 32) as u32).to_be_bytes());
    }
    aad.extend_from_slice(&(seq as u32).to_be_bytes());
    let mut body = plaintext.to_vec();
    let tag = key
        .seal_in_place_separate_tag(
            aead::Nonce::assume_unique_for_key(nonce),
            aead::Aad::from(&aad[..]),
            &mut body,
        )
        .ok()?;
    pkt.extend_from_slice(&body);
    pkt.extend_from_slice(tag.as_ref());
    Some(pkt)
}

fn check_opened(packet_len: usize, r: &Result<vti::esp::Opened<'_>, EspError>) {
    if let Ok(o) = r {
        if let Inner::Ipv4(p) | Inner::Ipv6(p) = o.inner {
            assert!(p.len() <= packet_len);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&head, mut rest)) = data.split_first() else {
        return;
    };
    let suite = Suite::ALL[usize::from(head) % Suite::ALL.len()];
    let esn = head & 0x08 != 0;
    let replay_window = [0u32, 32, 64, 1024][usize::from(head >> 4) & 3];
    let options = SaOptions {
        esn,
        replay_window,
        ..SaOptions::default()
    };
    let (e, a) = key_material(suite);
    let keys = SaKeys {
        encryption: &e,
        integrity: &a,
    };
    let start = Instant::now();
    let Ok(mut inbound) = InboundSa::new(SPI, suite, keys, &options, start) else {
        return;
    };
    let Ok(mut outbound) = OutboundSa::new(SPI, suite, keys, &options, start) else {
        return;
    };
    let mut step = 0u64;
    // Records: kind (1), sequence number (8), length (2), bytes.
    while rest.len() >= 11 && step < 64 {
        let kind = rest[0] % 3;
        let mut s = [0u8; 8];
        s.copy_from_slice(&rest[1..9]);
        let seq = u64::from_be_bytes(s);
        let len = usize::from(u16::from_be_bytes([rest[9], rest[10]]));
        let body = &rest[11..];
        let (bytes, tail) = body.split_at(len.min(body.len()));
        rest = tail;
        step += 1;
        let now = start + Duration::from_millis(step);
        match kind {
            0 => {
                let mut pkt = bytes.to_vec();
                let n = pkt.len();
                let r = inbound.decapsulate(&mut pkt, now);
                check_opened(n, &r);
            }
            1 => {
                let Some(mut pkt) = forge_aead(suite, &e, seq, esn, bytes) else {
                    continue;
                };
                let n = pkt.len();
                let r = inbound.decapsulate(&mut pkt, now);
                check_opened(n, &r);
                // With ESN the receiver infers the high half of the sequence
                // number from its window (RFC 4303 Appendix A): a far jump
                // legitimately fails the ICV.
                assert!(
                    esn || !matches!(r, Err(EspError::AuthenticationFailed)),
                    "a packet sealed with the SA's key failed authentication"
                );
            }
            _ => {
                if bytes.is_empty() {
                    continue;
                }
                let wanted = if esn { seq } else { seq & 0xffff_ffff };
                outbound.set_last_seq(wanted.saturating_sub(1));
                let mut buf = vec![0u8; HEADROOM + bytes.len() + TAILROOM];
                buf[HEADROOM..HEADROOM + bytes.len()].copy_from_slice(bytes);
                let Ok(sealed) = outbound.encapsulate(&mut buf, bytes.len(), now) else {
                    continue;
                };
                let mut pkt = sealed.packet.to_vec();
                let n = pkt.len();
                let r = inbound.decapsulate(&mut pkt, now);
                check_opened(n, &r);
                match r {
                    Ok(o) => {
                        if let Inner::Ipv4(p) | Inner::Ipv6(p) = o.inner {
                            assert!(bytes.starts_with(p), "the opened packet is not what was sealed");
                        }
                    }
                    Err(EspError::AuthenticationFailed) if !esn => {
                        panic!("a packet of the matching outbound SA failed authentication")
                    }
                    Err(_) => {}
                }
            }
        }
    }
    let _ = inbound.counters();
    let _ = inbound.take_event();
});
