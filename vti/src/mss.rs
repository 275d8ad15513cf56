//! TCP MSS clamping (`mss_clamp = yes`): lower the MSS option of SYN
//! segments crossing an interface to what its MTU carries, fixing the TCP
//! checksum incrementally (RFC 1624).
#![forbid(unsafe_code)]

/// The MSS for an interface MTU: MTU − 40 (IPv4) or MTU − 60 (IPv6).
pub fn mss_for_mtu(mtu: u32, ipv6: bool) -> u16 {
    let hdr = if ipv6 { 60 } else { 40 };
    mtu.saturating_sub(hdr).min(0xffff) as u16
}

/// RFC 1624 eq. 3: HC' = ~(~HC + ~m + m').
fn csum_replace(csum: u16, old: u16, new: u16) -> u16 {
    let mut acc = u32::from(!csum) + u32::from(!old) + u32::from(new);
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// Whether `packet` is an unfragmented TCP segment with SYN set (IPv4, or
/// IPv6 with TCP as the first next header): one [`clamp`] may change.
pub fn is_syn(packet: &[u8]) -> bool {
    let l4 = match packet.first().map(|b| b >> 4) {
        Some(4) if packet.len() >= 20 => {
            let frag = u16::from_be_bytes([packet[6], packet[7]]) & 0x1fff;
            if packet[9] != 6 || frag != 0 {
                return false;
            }
            usize::from(packet[0] & 0xf) * 4
        }
        Some(6) if packet.len() >= 40 && packet[6] == 6 => 40,
        _ => return false,
    };
    packet.get(l4 + 13).is_some_and(|f| f & 0x02 != 0)
}

/// If `packet` is an unfragmented TCP SYN (IPv4, or IPv6 with TCP as the
/// first next header) whose MSS option exceeds the MSS for `mtu`, lower it
/// and fix the checksum. Returns whether the packet changed.
pub fn clamp(packet: &mut [u8], mtu: u32) -> bool {
    let (l4, ipv6) = match packet.first().map(|b| b >> 4) {
        Some(4) if packet.len() >= 20 => {
            let ihl = usize::from(packet[0] & 0xf) * 4;
            let frag = u16::from_be_bytes([packet[6], packet[7]]) & 0x1fff;
            if packet[9] != 6 || frag != 0 || ihl < 20 {
                return false;
            }
            (ihl, false)
        }
        Some(6) if packet.len() >= 40 => {
            if packet[6] != 6 {
                return false;
            }
            (40, true)
        }
        _ => return false,
    };
    let max = mss_for_mtu(mtu, ipv6);
    let Some(tcp) = packet.get_mut(l4..) else {
        return false;
    };
    if tcp.len() < 20 || tcp[13] & 0x02 == 0 {
        return false;
    }
    let doff = usize::from(tcp[12] >> 4) * 4;
    if doff < 20 || doff > tcp.len() {
        return false;
    }
    let mut i = 20;
    while i < doff {
        match tcp[i] {
            0 => break,
            1 => i += 1,
            kind => {
                let Some(&len) = tcp.get(i + 1) else { break };
                let len = usize::from(len);
                if len < 2 || i + len > doff {
                    break;
                }
                if kind == 2 && len == 4 {
                    let v = i + 2;
                    let mss = u16::from_be_bytes([tcp[v], tcp[v + 1]]);
                    if mss <= max {
                        return false;
                    }
                    // The checksum sums 16-bit words from the start of the
                    // TCP header; the value may straddle two of them.
                    let w0 = v & !1;
                    let w1 = (v + 1) & !1;
                    let word = |t: &[u8], at: usize| u16::from_be_bytes([t[at], t[at + 1]]);
                    let (o0, o1) = (word(tcp, w0), word(tcp, w1));
                    tcp[v..v + 2].copy_from_slice(&max.to_be_bytes());
                    let mut c = u16::from_be_bytes([tcp[16], tcp[17]]);
                    c = csum_replace(c, o0, word(tcp, w0));
                    if w1 != w0 {
                        c = csum_replace(c, o1, word(tcp, w1));
                    }
                    tcp[16..18].copy_from_slice(&c.to_be_bytes());
                    return true;
                }
                i += len;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::icmp::checksum;

    /// A TCP checksum over the IPv4 pseudo-header; 0 when valid.
    fn tcp_check_v4(p: &[u8]) -> u16 {
        let ihl = usize::from(p[0] & 0xf) * 4;
        let tcp = &p[ihl..];
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&p[12..20]);
        pseudo.extend_from_slice(&[0, 6]);
        pseudo.extend_from_slice(&(tcp.len() as u16).to_be_bytes());
        pseudo.extend_from_slice(tcp);
        checksum(&pseudo)
    }

    fn syn_v4(opts: &[u8]) -> Vec<u8> {
        let tcp_len = 20 + opts.len();
        let total = 20 + tcp_len;
        let mut p = vec![
            0x45,
            0,
            0,
            total as u8,
            0,
            1,
            0x40,
            0,
            64,
            6,
            0,
            0,
            10,
            1,
            0,
            2,
            10,
            2,
            0,
            2,
        ];
        p.extend_from_slice(&[0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0]);
        p.push(((tcp_len / 4) as u8) << 4);
        p.extend_from_slice(&[0x02, 0xff, 0xff, 0, 0, 0, 0]);
        p.extend_from_slice(opts);
        let c = tcp_check_v4(&p);
        p[36..38].copy_from_slice(&c.to_be_bytes());
        assert_eq!(tcp_check_v4(&p), 0);
        p
    }

    #[test]
    fn clamps_aligned_and_unaligned() {
        // MSS first (aligned), then behind one NOP (unaligned value).
        for opts in [
            &[2, 4, 0x05, 0xb4, 1, 1, 4, 2][..],
            &[1, 2, 4, 0x05, 0xb4, 1, 4, 2][..],
        ] {
            let mut p = syn_v4(opts);
            assert!(clamp(&mut p, 1400));
            assert_eq!(tcp_check_v4(&p), 0, "checksum still valid");
            let at = p.windows(2).position(|w| w == [2, 4]).unwrap() + 2;
            assert_eq!(u16::from_be_bytes([p[at], p[at + 1]]), 1360);
            assert!(!clamp(&mut p, 1400), "already small enough");
        }
        // Not a SYN.
        let mut p = syn_v4(&[2, 4, 0x05, 0xb4]);
        p[33] = 0x10;
        assert!(!clamp(&mut p, 1400));
        assert_eq!(mss_for_mtu(1400, true), 1340);
    }
}
