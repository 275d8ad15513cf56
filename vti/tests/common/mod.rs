//! Helpers shared by the ESP integration tests.
#![allow(dead_code)]

use std::time::Instant;

use vti::esp::{InboundSa, OutboundSa, SaKeys, SaOptions, Suite, HEADROOM, TAILROOM};

/// Deterministic key material for `suite`: (encryption incl. salt, integrity).
pub fn keys(suite: Suite, seed: u8) -> (Vec<u8>, Vec<u8>) {
    let e = (0..suite.encryption_key_len())
        .map(|i| seed.wrapping_mul(31).wrapping_add(i as u8))
        .collect();
    let a = (0..suite.integrity_key_len())
        .map(|i| seed.wrapping_mul(17).wrapping_add(0x80 + i as u8))
        .collect();
    (e, a)
}

pub fn pair(suite: Suite, spi: u32, opts: &SaOptions, now: Instant) -> (OutboundSa, InboundSa) {
    let (e, a) = keys(suite, spi as u8);
    let k = SaKeys {
        encryption: &e,
        integrity: &a,
    };
    (
        OutboundSa::new(spi, suite, k, opts, now).unwrap(),
        InboundSa::new(spi, suite, k, opts, now).unwrap(),
    )
}

pub fn checksum(data: &[u8]) -> u16 {
    let mut sum = 0u32;
    for c in data.chunks(2) {
        let w = if c.len() == 2 {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from_be_bytes([c[0], 0])
        };
        sum += u32::from(w);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An IPv4 header with a correct checksum.
pub fn ipv4_header(proto: u8, src: [u8; 4], dst: [u8; 4], payload_len: usize, id: u16) -> [u8; 20] {
    let total = (20 + payload_len) as u16;
    let mut h = [0u8; 20];
    h[0] = 0x45;
    h[2..4].copy_from_slice(&total.to_be_bytes());
    h[4..6].copy_from_slice(&id.to_be_bytes());
    h[6] = 0x40; // DF
    h[8] = 64;
    h[9] = proto;
    h[12..16].copy_from_slice(&src);
    h[16..20].copy_from_slice(&dst);
    let c = checksum(&h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h
}

/// An IPv4 ICMP echo request with `data_len` bytes of data.
pub fn icmp4_echo(src: [u8; 4], dst: [u8; 4], seq: u16, data_len: usize) -> Vec<u8> {
    let mut icmp = vec![8, 0, 0, 0, 0x12, 0x34];
    icmp.extend_from_slice(&seq.to_be_bytes());
    icmp.extend((0..data_len).map(|i| i as u8));
    let c = checksum(&icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    let mut p = ipv4_header(1, src, dst, icmp.len(), seq).to_vec();
    p.extend_from_slice(&icmp);
    p
}

/// An IPv6 UDP packet with `data_len` bytes of payload (UDP checksum
/// computed over the pseudo-header).
pub fn udp6(data_len: usize) -> Vec<u8> {
    let src: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    let dst: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
    let ulen = (8 + data_len) as u16;
    let mut udp = vec![0x9c, 0x40, 0x00, 0x35];
    udp.extend_from_slice(&ulen.to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend((0..data_len).map(|i| (i * 7) as u8));
    let mut pseudo = Vec::new();
    pseudo.extend_from_slice(&src);
    pseudo.extend_from_slice(&dst);
    pseudo.extend_from_slice(&u32::from(ulen).to_be_bytes());
    pseudo.extend_from_slice(&[0, 0, 0, 17]);
    pseudo.extend_from_slice(&udp);
    let c = checksum(&pseudo);
    udp[6..8].copy_from_slice(&c.to_be_bytes());
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&ulen.to_be_bytes());
    p.extend_from_slice(&[17, 64]);
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p.extend_from_slice(&udp);
    p
}

/// Seal `inner` with `out` and return an owned copy of the ESP packet.
pub fn seal(out: &mut OutboundSa, inner: &[u8], now: Instant) -> Vec<u8> {
    let mut buf = vec![0u8; HEADROOM + inner.len() + TAILROOM];
    buf[HEADROOM..HEADROOM + inner.len()].copy_from_slice(inner);
    out.encapsulate(&mut buf, inner.len(), now)
        .unwrap()
        .packet
        .to_vec()
}
