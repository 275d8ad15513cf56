//! ICMP and ICMPv6 errors the data plane writes back into a TUN: destination
//! unreachable when no SA covers a packet, and fragmentation needed /
//! packet too big when the sealed packet would exceed the path MTU
//! (RFC 4301 §8.2). Built in a caller's buffer, no allocation.
#![forbid(unsafe_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Which error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IcmpError {
    /// No SA covers the packet: ICMP type 3 code 13 / ICMPv6 type 1 code 1
    /// ("communication administratively prohibited").
    Prohibited,
    /// The packet does not fit: ICMP type 3 code 4 with the next-hop MTU
    /// (RFC 1191) / ICMPv6 type 2 Packet Too Big (RFC 4443 §3.2).
    TooBig {
        /// The largest packet that fits.
        mtu: u32,
    },
}

/// RFC 1071 checksum of `data` (see [`crate::checksum`]).
pub fn checksum(data: &[u8]) -> u16 {
    crate::checksum::checksum(data, 0)
}

/// May an ICMP error be sent about this packet (RFC 1812 §4.3.2.7, RFC 4443
/// §2.4 (e))? Not about ICMP errors, non-first fragments, or packets from
/// or to a multicast/broadcast/unspecified address.
fn may_answer(orig: &[u8]) -> bool {
    match orig.first().map(|b| b >> 4) {
        Some(4) if orig.len() >= 20 => {
            let ihl = usize::from(orig[0] & 0xf) * 4;
            let src = Ipv4Addr::new(orig[12], orig[13], orig[14], orig[15]);
            let dst = Ipv4Addr::new(orig[16], orig[17], orig[18], orig[19]);
            let frag = u16::from_be_bytes([orig[6], orig[7]]) & 0x1fff;
            if frag != 0 || src.is_unspecified() || src.is_multicast() || src.is_broadcast() {
                return false;
            }
            if dst.is_multicast() || dst.is_broadcast() {
                return false;
            }
            if orig[9] == 1 {
                // ICMP: only answer queries (echo, timestamp...), never errors.
                return matches!(orig.get(ihl), Some(0 | 8 | 13 | 14 | 15 | 16));
            }
            true
        }
        Some(6) if orig.len() >= 40 => {
            let src = Ipv6Addr::from(<[u8; 16]>::try_from(&orig[8..24]).unwrap_or([0; 16]));
            let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&orig[24..40]).unwrap_or([0; 16]));
            if src.is_unspecified() || src.is_multicast() || dst.is_multicast() {
                // RFC 4443 §2.4 (e.3) allows Packet Too Big to multicast;
                // the data plane carries none, keep it simple.
                return false;
            }
            if orig[6] == 58 {
                return orig.get(40).is_some_and(|t| *t >= 128);
            }
            true
        }
        _ => false,
    }
}

/// Build an ICMP (IPv4) or ICMPv6 error answering `orig` into `out`, from
/// `src` (or, if `None`, from `orig`'s destination) to `orig`'s source.
/// Returns its length, or `None` when no error may be sent about `orig`,
/// `src` is of the wrong family, or `out` is shorter than 1280 bytes.
pub fn build_error(
    orig: &[u8],
    kind: IcmpError,
    src: Option<IpAddr>,
    out: &mut [u8],
) -> Option<usize> {
    if out.len() < 1280 || !may_answer(orig) {
        return None;
    }
    if orig[0] >> 4 == 4 {
        let src: [u8; 4] = match src {
            Some(IpAddr::V4(a)) => a.octets(),
            None => orig[16..20].try_into().ok()?,
            Some(IpAddr::V6(_)) => return None,
        };
        // RFC 1812 §4.3.2.3: as much of the original as fits in 576 bytes.
        let quote = orig.len().min(576 - 28);
        let total = 28 + quote;
        let o = &mut out[..total];
        o[..20].copy_from_slice(&[
            0x45,
            0xc0,
            (total >> 8) as u8,
            total as u8,
            0,
            0,
            0,
            0,
            64,
            1,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
        ]);
        o[12..16].copy_from_slice(&src);
        o[16..20].copy_from_slice(&orig[12..16]);
        let c = checksum(&o[..20]);
        o[10..12].copy_from_slice(&c.to_be_bytes());
        let (code, mtu) = match kind {
            IcmpError::Prohibited => (13, 0u16),
            IcmpError::TooBig { mtu } => (4, mtu.min(0xffff) as u16),
        };
        o[20..28].copy_from_slice(&[3, code, 0, 0, 0, 0, 0, 0]);
        o[26..28].copy_from_slice(&mtu.to_be_bytes());
        o[28..].copy_from_slice(&orig[..quote]);
        let c = checksum(&o[20..]);
        o[22..24].copy_from_slice(&c.to_be_bytes());
        Some(total)
    } else {
        let src: [u8; 16] = match src {
            Some(IpAddr::V6(a)) => a.octets(),
            None => orig[24..40].try_into().ok()?,
            Some(IpAddr::V4(_)) => return None,
        };
        // RFC 4443 §2.4 (c): as much as fits in the minimum MTU.
        let quote = orig.len().min(1280 - 48);
        let plen = 8 + quote;
        let total = 40 + plen;
        let o = &mut out[..total];
        o[..8].copy_from_slice(&[0x60, 0, 0, 0, (plen >> 8) as u8, plen as u8, 58, 64]);
        o[8..24].copy_from_slice(&src);
        o[24..40].copy_from_slice(&orig[8..24]);
        let (ty, code, word) = match kind {
            IcmpError::Prohibited => (1u8, 1u8, 0u32),
            IcmpError::TooBig { mtu } => (2, 0, mtu),
        };
        o[40..44].copy_from_slice(&[ty, code, 0, 0]);
        o[44..48].copy_from_slice(&word.to_be_bytes());
        o[48..].copy_from_slice(&orig[..quote]);
        // Pseudo-header: source, destination, upper-layer length, next
        // header (RFC 8200 §8.1).
        let seed = crate::checksum::pseudo_header_sum(&o[8..24], &o[24..40], 58, plen as u32);
        let c = crate::checksum::checksum(&o[40..], u32::from(seed));
        o[42..44].copy_from_slice(&c.to_be_bytes());
        Some(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4_udp() -> Vec<u8> {
        let mut p = vec![
            0x45, 0, 0, 48, 0, 1, 0x40, 0, 64, 17, 0, 0, 10, 1, 0, 2, 10, 2, 0, 2,
        ];
        p.extend_from_slice(&[0x30, 0x39, 0, 53, 0, 28, 0, 0]);
        p.extend_from_slice(&[0xab; 20]);
        let c = checksum(&p[..20]);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        p
    }

    #[test]
    fn frag_needed_v4() {
        let orig = v4_udp();
        let mut out = [0u8; 1500];
        let n = build_error(&orig, IcmpError::TooBig { mtu: 1338 }, None, &mut out).unwrap();
        let o = &out[..n];
        assert_eq!(n, 28 + orig.len());
        assert_eq!(checksum(&o[..20]), 0, "IP header checksum");
        assert_eq!(checksum(&o[20..]), 0, "ICMP checksum");
        assert_eq!(&o[12..16], &orig[16..20], "from the original destination");
        assert_eq!(&o[16..20], &orig[12..16]);
        assert_eq!((o[20], o[21]), (3, 4));
        assert_eq!(u16::from_be_bytes([o[26], o[27]]), 1338);
        // Never about an ICMP error.
        let mut again = [0u8; 1500];
        assert!(build_error(o, IcmpError::Prohibited, None, &mut again).is_none());
    }

    #[test]
    fn packet_too_big_v6() {
        let mut orig = vec![0x60, 0, 0, 0, 0, 8, 17, 64];
        orig.extend_from_slice(&"2001:db8:1::2".parse::<Ipv6Addr>().unwrap().octets());
        orig.extend_from_slice(&"2001:db8:2::2".parse::<Ipv6Addr>().unwrap().octets());
        orig.extend_from_slice(&[1, 2, 3, 4, 0, 8, 0, 0]);
        let mut out = [0u8; 1500];
        let src: IpAddr = "2001:db8:6::2".parse().unwrap();
        let n = build_error(&orig, IcmpError::TooBig { mtu: 1300 }, Some(src), &mut out).unwrap();
        let o = &out[..n];
        assert_eq!((o[40], o[41]), (2, 0));
        assert_eq!(u32::from_be_bytes([o[44], o[45], o[46], o[47]]), 1300);
        // RFC 8200 §8.1 pseudo-header plus the message: all ones when valid.
        use crate::checksum::{fold, sum_words};
        let mut acc = sum_words(&o[8..40], 0);
        acc += (n - 40) as u64 + 58;
        acc = sum_words(&o[40..], acc);
        assert_eq!(fold(acc), 0xffff, "ICMPv6 checksum");
        assert!(build_error(o, IcmpError::Prohibited, None, &mut [0u8; 1500]).is_none());
    }
}
