//! ESP SA behaviour: round trips, tampering, anti-replay, ESN, sequence
//! exhaustion, lifetimes, padding checks.

mod common;

use std::time::{Duration, Instant};

use common::{icmp4_echo, keys, pair, seal, udp6};
use vti::esp::overhead::esp_len;
use vti::esp::{
    spi_of, EspError, Inner, Lifetime, LimitKind, RekeyReason, SaEvent, SaKeys, SaOptions, Suite,
    HEADROOM, TAILROOM,
};

const SPI: u32 = 0xc0ffee01;

fn opts(esn: bool, window: u32) -> SaOptions {
    SaOptions {
        esn,
        replay_window: window,
        ..SaOptions::default()
    }
}

#[test]
fn round_trip_every_suite_v4_v6_with_and_without_esn() {
    let now = Instant::now();
    for suite in Suite::ALL {
        for esn in [false, true] {
            let (mut out, mut inb) = pair(suite, SPI, &opts(esn, 64), now);
            // Every residue of the padding alignment, both families.
            for (i, data_len) in (0..40).chain([1372, 1400, 1452]).enumerate() {
                let inner = if i % 2 == 0 {
                    icmp4_echo([10, 0, 0, 1], [10, 0, 1, 1], i as u16, data_len)
                } else {
                    udp6(data_len)
                };
                let mut buf = vec![0xAAu8; HEADROOM + inner.len() + TAILROOM];
                buf[HEADROOM..HEADROOM + inner.len()].copy_from_slice(&inner);
                let sealed = out.encapsulate(&mut buf, inner.len(), now).unwrap();
                let pkt = sealed.packet.to_vec();
                assert_eq!(pkt.len(), esp_len(suite, inner.len()), "{suite}");
                assert_eq!(spi_of(&pkt), Some(SPI));
                assert_eq!(&pkt[4..8], &(i as u32 + 1).to_be_bytes());
                assert_eq!(sealed.seq, i as u64 + 1);
                // The plaintext must not appear in the packet.
                assert!(!pkt
                    .windows(inner.len().min(16))
                    .any(|w| w == &inner[..inner.len().min(16)]));

                let mut rx = pkt.clone();
                let opened = inb.decapsulate(&mut rx, now).unwrap();
                assert_eq!(opened.seq, i as u64 + 1);
                match opened.inner {
                    Inner::Ipv4(p) => {
                        assert_eq!(i % 2, 0);
                        assert_eq!(p, &inner[..]);
                    }
                    Inner::Ipv6(p) => {
                        assert_eq!(i % 2, 1);
                        assert_eq!(p, &inner[..]);
                    }
                    Inner::Dummy => panic!("dummy"),
                }
            }
            assert_eq!(inb.counters().packets, 43);
            assert_eq!(out.counters().packets, 43);
            assert_eq!(out.counters().bytes, inb.counters().bytes);
            assert_eq!(inb.counters().auth_failures, 0);
        }
    }
}

#[test]
fn encapsulate_checks_buffer_and_inner() {
    let now = Instant::now();
    let (mut out, _) = pair(Suite::AES_CBC_256_SHA512_256, SPI, &opts(false, 32), now);
    let inner = icmp4_echo([1, 1, 1, 1], [2, 2, 2, 2], 1, 100);
    let need = HEADROOM + esp_len(out.suite(), inner.len()) - 24;
    let mut buf = vec![0u8; need - 1];
    buf[HEADROOM..HEADROOM + inner.len()].copy_from_slice(&inner);
    assert_eq!(
        out.encapsulate(&mut buf, inner.len(), now).unwrap_err(),
        EspError::BufferTooSmall {
            needed: need,
            have: need - 1
        }
    );
    buf.push(0);
    assert!(out.encapsulate(&mut buf, inner.len(), now).is_ok());
    buf[HEADROOM] = 0x50;
    assert_eq!(
        out.encapsulate(&mut buf, inner.len(), now).unwrap_err(),
        EspError::NotIp
    );
    assert_eq!(
        out.encapsulate(&mut [0u8; 3], 0, now).unwrap_err(),
        EspError::BufferTooSmall {
            needed: HEADROOM + 1,
            have: 3
        }
    );
    buf[HEADROOM] = 0x45;
    let have = buf.len();
    assert_eq!(
        out.encapsulate(&mut buf, usize::MAX, now).unwrap_err(),
        EspError::BufferTooSmall {
            needed: usize::MAX,
            have
        }
    );
    assert_eq!(out.counters().other_errors, 4);
    assert_eq!(out.last_seq(), 1, "failures consume no sequence numbers");
}

#[test]
fn tampering_fails_authentication_and_counts() {
    let now = Instant::now();
    for suite in Suite::ALL {
        let (mut out, mut inb) = pair(suite, SPI, &opts(false, 32), now);
        let inner = icmp4_echo([10, 0, 0, 1], [10, 0, 1, 1], 7, 64);
        let pkt = seal(&mut out, &inner, now);
        let iv_end = 8 + suite.iv_len();
        let positions = [
            ("spi", 2),
            ("iv", 9),
            ("ciphertext", iv_end + 3),
            ("last ciphertext", pkt.len() - suite.icv_len() - 1),
            ("icv", pkt.len() - 1),
        ];
        for (n, (what, at)) in positions.iter().enumerate() {
            let mut bad = pkt.clone();
            bad[*at] ^= 0x01;
            assert_eq!(
                inb.decapsulate(&mut bad, now).unwrap_err(),
                EspError::AuthenticationFailed,
                "{suite} {what}"
            );
            assert_eq!(inb.counters().auth_failures, n as u64 + 1);
        }
        // A forged sequence number fails too.
        let mut bad = pkt.clone();
        bad[7] ^= 0x40;
        assert_eq!(
            inb.decapsulate(&mut bad, now).unwrap_err(),
            EspError::AuthenticationFailed
        );
        // None of that moved the window or the clock: the real packet passes.
        assert_eq!(inb.replay_window().highest(), 0);
        assert_eq!(inb.last_used(), None);
        let later = now + Duration::from_secs(3);
        let mut good = pkt.clone();
        assert!(inb.decapsulate(&mut good, later).is_ok(), "{suite}");
        assert_eq!(inb.last_used(), Some(later));
        assert_eq!(inb.counters().auth_failures, 6);
        assert_eq!(inb.counters().packets, 1);
        // Truncated packets are refused before any crypto.
        for len in 0..pkt.len().min(40) {
            let mut short = pkt[..len].to_vec();
            let e = inb.decapsulate(&mut short, now).unwrap_err();
            assert!(
                matches!(
                    e,
                    EspError::Truncated { .. }
                        | EspError::AuthenticationFailed
                        | EspError::Replayed { .. }
                ),
                "{suite} len {len}: {e:?}"
            );
        }
    }
}

#[test]
fn wrong_keys_fail() {
    let now = Instant::now();
    let suite = Suite::AES_GCM_16_256;
    let (mut out, _) = pair(suite, SPI, &opts(false, 32), now);
    let (e, a) = keys(suite, 99);
    let mut other = vti::esp::InboundSa::new(
        SPI,
        suite,
        SaKeys {
            encryption: &e,
            integrity: &a,
        },
        &opts(false, 32),
        now,
    )
    .unwrap();
    let mut pkt = seal(
        &mut out,
        &icmp4_echo([1, 1, 1, 1], [2, 2, 2, 2], 1, 10),
        now,
    );
    assert_eq!(
        other.decapsulate(&mut pkt, now).unwrap_err(),
        EspError::AuthenticationFailed
    );
}

#[test]
fn replay_in_order_out_of_order_and_too_old() {
    let now = Instant::now();
    for window in [32u32, 64, 1024, 4096] {
        let (mut out, mut inb) = pair(Suite::AES_GCM_16_128, SPI, &opts(false, window), now);
        let n = window as usize + 20;
        let pkts: Vec<Vec<u8>> = (0..n)
            .map(|i| {
                seal(
                    &mut out,
                    &icmp4_echo([1, 1, 1, 1], [2, 2, 2, 2], i as u16, 8),
                    now,
                )
            })
            .collect();
        // Deliver the newest first, then everything inside the window
        // backwards: all accepted once.
        let newest = n - 1;
        inb.decapsulate(&mut pkts[newest].clone(), now).unwrap();
        let oldest_in_window = newest + 1 - window as usize;
        for i in (oldest_in_window..newest).rev() {
            inb.decapsulate(&mut pkts[i].clone(), now)
                .unwrap_or_else(|e| panic!("window {window} seq {}: {e}", i + 1));
        }
        // Replays of all of them are refused.
        for (i, p) in pkts.iter().enumerate().skip(oldest_in_window) {
            assert_eq!(
                inb.decapsulate(&mut p.clone(), now).unwrap_err(),
                EspError::Replayed { seq: i as u64 + 1 }
            );
        }
        // Older than the window: refused without decrypting.
        for (i, p) in pkts.iter().enumerate().take(oldest_in_window) {
            assert_eq!(
                inb.decapsulate(&mut p.clone(), now).unwrap_err(),
                EspError::TooOld { seq: i as u64 + 1 }
            );
        }
        let c = inb.counters();
        assert_eq!(c.packets, u64::from(window));
        assert_eq!(c.replay_drops, n as u64);
        assert_eq!(c.auth_failures, 0);
    }
}

#[test]
fn replay_window_disabled() {
    let now = Instant::now();
    let (mut out, mut inb) = pair(Suite::CHACHA20_POLY1305, SPI, &opts(false, 0), now);
    let p1 = seal(&mut out, &icmp4_echo([1, 1, 1, 1], [2, 2, 2, 2], 1, 8), now);
    for _ in 0..3 {
        assert!(inb.decapsulate(&mut p1.clone(), now).is_ok());
    }
    assert_eq!(inb.counters().replay_drops, 0);
}

#[test]
fn replay_is_checked_before_authentication() {
    // A replayed sequence number with garbage after it is a replay drop,
    // not an authentication failure: the window check comes first.
    let now = Instant::now();
    let (mut out, mut inb) = pair(Suite::AES_CBC_128_SHA256_128, SPI, &opts(false, 32), now);
    let p = seal(&mut out, &icmp4_echo([1, 1, 1, 1], [2, 2, 2, 2], 1, 8), now);
    inb.decapsulate(&mut p.clone(), now).unwrap();
    let mut forged = p.clone();
    let l = forged.len();
    forged[l - 1] ^= 1;
    assert_eq!(
        inb.decapsulate(&mut forged, now).unwrap_err(),
        EspError::Replayed { seq: 1 }
    );
    assert_eq!(inb.counters().auth_failures, 0);
}

#[test]
fn esn_across_the_2_pow_32_boundary() {
    let now = Instant::now();
    for suite in Suite::ALL {
        let (mut out, mut inb) = pair(suite, SPI, &opts(true, 64), now);
        let start = (1u64 << 32) - 8;
        out.set_last_seq(start);
        inb.resume_replay(start);
        let pkts: Vec<(u64, Vec<u8>)> = (0..16)
            .map(|i| {
                let inner = icmp4_echo([1, 1, 1, 1], [2, 2, 2, 2], i, 8);
                let mut buf = vec![0u8; HEADROOM + inner.len() + TAILROOM];
                buf[HEADROOM..HEADROOM + inner.len()].copy_from_slice(&inner);
                let s = out.encapsulate(&mut buf, inner.len(), now).unwrap();
                (s.seq, s.packet.to_vec())
            })
            .collect();
        assert_eq!(pkts[7].0, 1 << 32);
        assert_eq!(
            &pkts[7].1[4..8],
            &[0, 0, 0, 0],
            "only the low 32 bits are sent"
        );
        // Deliver: a few after the boundary first, then the late ones from
        // before it (A2 case B), then the rest.
        for i in [8usize, 9, 2, 0, 1, 7, 3, 4, 5, 6, 10, 11, 15, 12, 13, 14] {
            let mut rx = pkts[i].1.clone();
            let opened = inb
                .decapsulate(&mut rx, now)
                .unwrap_or_else(|e| panic!("{suite} packet {i}: {e}"));
            assert_eq!(opened.seq, pkts[i].0);
        }
        assert_eq!(inb.replay_window().highest(), start + 16);
        assert_eq!(
            inb.decapsulate(&mut pkts[1].1.clone(), now).unwrap_err(),
            EspError::Replayed { seq: start + 2 }
        );
    }
}

#[test]
fn esn_high_bits_are_authenticated() {
    // Same keys, ESN on one side only: with the high bits at 0 the AEAD AAD
    // is 12 vs 8 bytes, and for HMAC 4 extra bytes, so nothing verifies.
    let now = Instant::now();
    for suite in Suite::ALL {
        let (mut out, _) = pair(suite, SPI, &opts(true, 32), now);
        let (_, mut inb) = pair(suite, SPI, &opts(false, 32), now);
        let mut p = seal(&mut out, &icmp4_echo([1, 1, 1, 1], [2, 2, 2, 2], 1, 8), now);
        assert_eq!(
            inb.decapsulate(&mut p, now).unwrap_err(),
            EspError::AuthenticationFailed,
            "{suite}"
        );
        // And a receiver that infers the wrong high half fails as well.
        let (mut out, mut inb) = pair(suite, SPI, &opts(true, 32), now);
        out.set_last_seq(5 << 32);
        let mut p = seal(&mut out, &icmp4_echo([1, 1, 1, 1], [2, 2, 2, 2], 1, 8), now);
        assert_eq!(
            inb.decapsulate(&mut p, now).unwrap_err(),
            EspError::AuthenticationFailed
        );
    }
}

/// Encapsulate a copy of `inner` (the buffer is consumed in place).
fn enc(
    out: &mut vti::esp::OutboundSa,
    inner: &[u8],
    now: Instant,
) -> Result<(u64, Option<SaEvent>, Vec<u8>), EspError> {
    let mut buf = vec![0u8; HEADROOM + inner.len() + TAILROOM];
    buf[HEADROOM..HEADROOM + inner.len()].copy_from_slice(inner);
    out.encapsulate(&mut buf, inner.len(), now)
        .map(|s| (s.seq, s.event, s.packet.to_vec()))
}

#[test]
fn sequence_exhaustion_without_esn() {
    let now = Instant::now();
    let (mut out, mut inb) = pair(Suite::AES_GCM_16_128, SPI, &opts(false, 32), now);
    out.set_last_seq(u64::from(u32::MAX) - 1);
    inb.resume_replay(u64::from(u32::MAX) - 1);
    let inner = icmp4_echo([1, 1, 1, 1], [2, 2, 2, 2], 1, 8);
    let (seq, _, mut last) = enc(&mut out, &inner, now).unwrap();
    assert_eq!(seq, u64::from(u32::MAX));
    assert_eq!(
        enc(&mut out, &inner, now).unwrap_err(),
        EspError::SequenceExhausted
    );
    assert_eq!(
        enc(&mut out, &inner, now).unwrap_err(),
        EspError::SequenceExhausted
    );
    assert_eq!(out.last_seq(), u64::from(u32::MAX));
    assert_eq!(out.counters().other_errors, 2);
    assert_eq!(
        inb.decapsulate(&mut last, now).unwrap().seq,
        u64::from(u32::MAX)
    );

    // With ESN the counter simply carries on, up to 2^64 - 1.
    let (mut out, _) = pair(Suite::AES_GCM_16_128, SPI, &opts(true, 32), now);
    out.set_last_seq(u64::from(u32::MAX));
    assert_eq!(enc(&mut out, &inner, now).unwrap().0, 1 << 32);
    out.set_last_seq(u64::MAX);
    assert_eq!(
        enc(&mut out, &inner, now).unwrap_err(),
        EspError::SequenceExhausted
    );
}

#[test]
fn sequence_nearing_exhaustion_is_reported_once() {
    let now = Instant::now();
    let inner = icmp4_echo([1, 1, 1, 1], [2, 2, 2, 2], 1, 8);
    let (mut out, _) = pair(Suite::AES_GCM_16_128, SPI, &opts(false, 32), now);
    out.set_last_seq(0xEFFF_FFFE);
    assert_eq!(enc(&mut out, &inner, now).unwrap().1, None);
    assert!(!out.rekey_wanted());
    assert_eq!(
        enc(&mut out, &inner, now).unwrap().1,
        Some(SaEvent::RekeyWanted(RekeyReason::SequenceNumber))
    );
    assert!(out.rekey_wanted());
    assert_eq!(enc(&mut out, &inner, now).unwrap().1, None);

    // Configurable threshold.
    let o = SaOptions {
        seq_rekey_at: Some(3),
        ..opts(false, 32)
    };
    let (mut out, _) = pair(Suite::AES_GCM_16_128, SPI, &o, now);
    let events: Vec<_> = (0..5)
        .map(|_| enc(&mut out, &inner, now).unwrap().1)
        .collect();
    assert_eq!(
        events,
        [
            None,
            None,
            Some(SaEvent::RekeyWanted(RekeyReason::SequenceNumber)),
            None,
            None
        ]
    );
}

#[test]
fn packet_lifetimes_soft_and_hard() {
    let now = Instant::now();
    let o = SaOptions {
        lifetime: Lifetime {
            soft_packets: Some(3),
            hard_packets: Some(5),
            ..Lifetime::default()
        },
        ..opts(false, 32)
    };
    let (mut out, mut inb) = pair(Suite::AES_CBC_128_SHA1_96, SPI, &o, now);
    let inner = icmp4_echo([1, 1, 1, 1], [2, 2, 2, 2], 1, 8);
    let mut buf = vec![0u8; HEADROOM + inner.len() + TAILROOM];
    let mut events = Vec::new();
    let mut pkts = Vec::new();
    for _ in 0..5 {
        buf[HEADROOM..HEADROOM + inner.len()].copy_from_slice(&inner);
        let s = out.encapsulate(&mut buf, inner.len(), now).unwrap();
        events.push(s.event);
        pkts.push(s.packet.to_vec());
    }
    let soft = Some(SaEvent::RekeyWanted(RekeyReason::Soft(LimitKind::Packets)));
    let hard = Some(SaEvent::Expired(LimitKind::Packets));
    assert_eq!(events, [None, None, soft, None, hard]);
    assert_eq!(out.expired(), Some(LimitKind::Packets));
    buf[HEADROOM..HEADROOM + inner.len()].copy_from_slice(&inner);
    assert_eq!(
        out.encapsulate(&mut buf, inner.len(), now).unwrap_err(),
        EspError::Expired(LimitKind::Packets)
    );
    assert_eq!(out.counters().packets, 5);
    assert_eq!(out.take_event(), None);

    // Inbound counts the same way.
    let got: Vec<_> = pkts
        .iter()
        .map(|p| inb.decapsulate(&mut p.clone(), now).unwrap().event)
        .collect();
    assert_eq!(got, [None, None, soft, None, hard]);
    let mut extra = pkts[0].clone();
    assert_eq!(
        inb.decapsulate(&mut extra, now).unwrap_err(),
        EspError::Expired(LimitKind::Packets)
    );
}

#[test]
fn byte_lifetimes_soft_and_hard() {
    let now = Instant::now();
    let inner = icmp4_echo([1, 1, 1, 1], [2, 2, 2, 2], 1, 72); // 100 bytes
    assert_eq!(inner.len(), 100);
    let o = SaOptions {
        lifetime: Lifetime {
            soft_bytes: Some(250),
            hard_bytes: Some(400),
            ..Lifetime::default()
        },
        ..opts(false, 32)
    };
    let (mut out, _) = pair(Suite::AES_GCM_16_256, SPI, &o, now);
    let events: Vec<_> = (0..4)
        .map(|_| enc(&mut out, &inner, now).unwrap().1)
        .collect();
    assert_eq!(
        events,
        [
            None,
            None,
            Some(SaEvent::RekeyWanted(RekeyReason::Soft(LimitKind::Bytes))),
            Some(SaEvent::Expired(LimitKind::Bytes))
        ]
    );
    assert!(out.rekey_wanted());
    assert_eq!(out.counters().bytes, 400);
    assert_eq!(
        enc(&mut out, &inner, now).unwrap_err(),
        EspError::Expired(LimitKind::Bytes)
    );
}

#[test]
fn time_lifetimes() {
    let t0 = Instant::now();
    let o = SaOptions {
        lifetime: Lifetime {
            soft_time: Some(Duration::from_secs(10)),
            hard_time: Some(Duration::from_secs(20)),
            ..Lifetime::default()
        },
        ..opts(false, 32)
    };
    let (mut out, mut inb) = pair(Suite::AES_GCM_16_128, SPI, &o, t0);
    assert_eq!(out.check_time(t0 + Duration::from_secs(9)), None);
    assert_eq!(
        out.check_time(t0 + Duration::from_secs(10)),
        Some(SaEvent::RekeyWanted(RekeyReason::Soft(LimitKind::Time)))
    );
    assert_eq!(
        out.check_time(t0 + Duration::from_secs(11)),
        None,
        "reported once"
    );
    let p = seal(
        &mut out,
        &icmp4_echo([1, 1, 1, 1], [2, 2, 2, 2], 1, 8),
        t0 + Duration::from_secs(12),
    );
    assert_eq!(
        out.check_time(t0 + Duration::from_secs(20)),
        Some(SaEvent::Expired(LimitKind::Time))
    );
    assert_eq!(out.expired(), Some(LimitKind::Time));
    // The data path sees the hard time limit from its own `now`, too.
    assert_eq!(
        inb.decapsulate(&mut p.clone(), t0 + Duration::from_secs(21))
            .unwrap_err(),
        EspError::Expired(LimitKind::Time)
    );
    assert_eq!(inb.take_event(), Some(SaEvent::Expired(LimitKind::Time)));
    assert_eq!(
        inb.take_event(),
        Some(SaEvent::RekeyWanted(RekeyReason::Soft(LimitKind::Time)))
    );
    assert_eq!(inb.take_event(), None);
}

/// Seal an arbitrary ESP payload (inner data + whatever trailer the test
/// wants) with AES-GCM-16-128 directly through ring, as a second, independent
/// implementation of RFC 4106 framing.
fn raw_gcm_packet(key_salt: &[u8], spi: u32, seq: u32, iv: [u8; 8], payload: &[u8]) -> Vec<u8> {
    use ring::aead;
    let key =
        aead::LessSafeKey::new(aead::UnboundKey::new(&aead::AES_128_GCM, &key_salt[..16]).unwrap());
    let mut nonce = [0u8; 12];
    nonce[..4].copy_from_slice(&key_salt[16..]);
    nonce[4..].copy_from_slice(&iv);
    let mut pkt = Vec::new();
    pkt.extend_from_slice(&spi.to_be_bytes());
    pkt.extend_from_slice(&seq.to_be_bytes());
    let aad = pkt.clone();
    pkt.extend_from_slice(&iv);
    let mut body = payload.to_vec();
    key.seal_in_place_append_tag(
        aead::Nonce::assume_unique_for_key(nonce),
        aead::Aad::from(&aad),
        &mut body,
    )
    .unwrap();
    pkt.extend_from_slice(&body);
    pkt
}

#[test]
fn padding_next_header_and_inner_checks() {
    let now = Instant::now();
    let suite = Suite::AES_GCM_16_128;
    let (e, _) = keys(suite, SPI as u8);
    let (_, mut inb) = pair(suite, SPI, &opts(false, 32), now);
    let inner = icmp4_echo([1, 1, 1, 1], [2, 2, 2, 2], 1, 10); // 38 bytes
    let with = |trailer: &[u8]| {
        let mut p = inner.clone();
        p.extend_from_slice(trailer);
        p
    };
    let mut seq = 0u32;
    let mut try_payload = |payload: Vec<u8>| {
        seq += 1;
        let mut pkt = raw_gcm_packet(&e, SPI, seq, [7; 8], &payload);
        inb.decapsulate(&mut pkt, now)
            .map(|o| (o.inner == Inner::Dummy, o.packet().map(<[u8]>::to_vec)))
    };
    // Correct: 38 + 2 = 40, no padding needed; and with extra valid padding.
    assert_eq!(try_payload(with(&[0, 4])).unwrap().1.unwrap(), inner);
    assert_eq!(
        try_payload(with(&[1, 2, 3, 4, 4, 4])).unwrap().1.unwrap(),
        inner
    );
    // Wrong padding contents, or pad length beyond the payload.
    assert_eq!(
        try_payload(with(&[1, 2, 4, 4, 4, 4])).unwrap_err(),
        EspError::BadPadding
    );
    assert_eq!(
        try_payload(with(&[0, 0, 0, 0, 4, 4])).unwrap_err(),
        EspError::BadPadding
    );
    assert_eq!(
        try_payload(vec![1, 2, 3, 200, 4]).unwrap_err(),
        EspError::BadPadding
    );
    // Unknown next header; IPv6 next header with an IPv4 packet.
    assert_eq!(
        try_payload(with(&[0, 17])).unwrap_err(),
        EspError::UnknownNextHeader(17)
    );
    assert_eq!(
        try_payload(with(&[0, 41])).unwrap_err(),
        EspError::MalformedInner
    );
    // Dummy packet (RFC 4303 §2.6).
    let (dummy, pkt) = try_payload(vec![0xde, 0xad, 1, 2, 2, 59]).unwrap();
    assert!(dummy);
    assert_eq!(pkt, None);
    // TFC padding after the inner packet (RFC 4303 §2.7) is trimmed off.
    let mut tfc = inner.clone();
    tfc.extend_from_slice(&[0; 12]);
    tfc.extend_from_slice(&[1, 2, 2, 4]);
    assert_eq!(try_payload(tfc).unwrap().1.unwrap(), inner);
    // Inner packet claiming to be longer than it is.
    let mut long = inner.clone();
    long[3] += 1;
    long.extend_from_slice(&[0, 4]);
    assert_eq!(try_payload(long).unwrap_err(), EspError::MalformedInner);

    let c = inb.counters();
    assert_eq!(c.padding_errors, 3);
    assert_eq!(c.other_errors, 3);
    assert_eq!(c.auth_failures, 0);
    assert_eq!(c.packets, 4);
    // Authentic packets with a bad trailer still advanced the window.
    assert_eq!(inb.replay_window().highest(), 10);
}

#[test]
fn debug_output_redacts_keys() {
    let now = Instant::now();
    let suite = Suite::AES_CBC_256_SHA256_128;
    let (out, inb) = pair(suite, SPI, &opts(false, 32), now);
    let (e, a) = keys(suite, SPI as u8);
    for dbg in [
        format!("{out:?}"),
        format!("{inb:?}"),
        format!(
            "{:?}",
            SaKeys {
                encryption: &e,
                integrity: &a
            }
        ),
    ] {
        assert!(dbg.contains("[redacted]"), "{dbg}");
        assert!(!dbg.contains(&hex::encode(&e[..4])), "{dbg}");
        assert!(!dbg.contains(&format!("{:?}", &e[..4])), "{dbg}");
        assert!(!dbg.contains(&format!("{}, {}", a[0], a[1])), "{dbg}");
    }
}

#[test]
fn config_errors() {
    let now = Instant::now();
    let (e, a) = keys(Suite::AES_GCM_16_128, 1);
    let k = SaKeys {
        encryption: &e,
        integrity: &a,
    };
    assert!(matches!(
        vti::esp::OutboundSa::new(255, Suite::AES_GCM_16_128, k, &SaOptions::default(), now),
        Err(vti::esp::ConfigError::ReservedSpi(255))
    ));
    assert!(matches!(
        vti::esp::InboundSa::new(SPI, Suite::AES_GCM_16_128, k, &opts(false, 1 << 20), now),
        Err(vti::esp::ConfigError::ReplayWindowTooLarge(_))
    ));
    assert!(Suite::new(
        vti::esp::Encryption::AesGcm16_128,
        Some(vti::esp::Integrity::HmacSha1_96)
    )
    .is_err());
    assert!(Suite::new(vti::esp::Encryption::AesCbc192, None).is_err());
    let s = Suite::new(
        vti::esp::Encryption::AesCbc192,
        Some(vti::esp::Integrity::HmacSha384_192),
    )
    .unwrap();
    assert_eq!(s.name(), "aes192-sha384");
    // AES-192-CBC works end to end.
    let (mut out, mut inb) = pair(s, SPI, &opts(false, 32), now);
    let inner = udp6(33);
    let mut p = seal(&mut out, &inner, now);
    assert_eq!(
        inb.decapsulate(&mut p, now).unwrap().packet().unwrap(),
        &inner[..]
    );
}
