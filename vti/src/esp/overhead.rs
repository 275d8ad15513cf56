//! How many bytes ESP adds, and the largest inner packet that fits a path
//! MTU.
//!
//! Per packet: outer IP header (20 IPv4 / 40 IPv6, no options or extension
//! headers), UDP header (8) when NAT-T encapsulated, ESP header (SPI 4 +
//! sequence number 4), explicit IV (8 AEAD / 16 AES-CBC), padding so that
//! inner + padding + 2 is a multiple of 4 (AEAD) or 16 (AES-CBC), the 2
//! trailer bytes (pad length, next header), and the ICV (16 AEAD; 12, 16,
//! 24, 32 for HMAC-SHA1-96 / -SHA-256-128 / -SHA-384-192 / -SHA-512-256).
#![forbid(unsafe_code)]

use super::{Suite, ESP_HEADER_LEN};

/// The outer IP family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OuterFamily {
    /// IPv4, 20-byte header.
    V4,
    /// IPv6, 40-byte header.
    V6,
}

impl OuterFamily {
    /// Outer IP header length.
    pub const fn header_len(self) -> usize {
        match self {
            OuterFamily::V4 => 20,
            OuterFamily::V6 => 40,
        }
    }
}

/// UDP header length (RFC 3948).
pub const UDP_HEADER_LEN: usize = 8;

/// Padding ESP adds after an inner packet of `inner_len` bytes.
pub const fn pad_len(suite: Suite, inner_len: usize) -> usize {
    let a = suite.align();
    (a - (inner_len + 2) % a) % a
}

/// Length of the ESP packet (SPI .. ICV) for an inner packet of
/// `inner_len` bytes.
pub const fn esp_len(suite: Suite, inner_len: usize) -> usize {
    ESP_HEADER_LEN + suite.iv_len() + inner_len + pad_len(suite, inner_len) + 2 + suite.icv_len()
}

/// Exact bytes added to an inner packet of `inner_len` bytes: outer IP
/// header, UDP header if `udp_encap`, and ESP.
pub const fn overhead(
    suite: Suite,
    udp_encap: bool,
    outer: OuterFamily,
    inner_len: usize,
) -> usize {
    let udp = if udp_encap { UDP_HEADER_LEN } else { 0 };
    outer.header_len() + udp + esp_len(suite, inner_len) - inner_len
}

/// The largest inner packet whose encapsulation fits in `path_mtu` bytes
/// (0 if none does).
pub const fn max_inner_len(
    path_mtu: usize,
    suite: Suite,
    udp_encap: bool,
    outer: OuterFamily,
) -> usize {
    let udp = if udp_encap { UDP_HEADER_LEN } else { 0 };
    let fixed = outer.header_len() + udp + ESP_HEADER_LEN + suite.iv_len() + suite.icv_len();
    if path_mtu < fixed {
        return 0;
    }
    let a = suite.align();
    // Largest aligned payload (inner + pad + 2) that fits, minus the trailer.
    let payload = (path_mtu - fixed) / a * a;
    payload.saturating_sub(2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use OuterFamily::{V4, V6};

    /// Overhead for a 1400-byte inner packet, per suite, as
    /// [plain ESP over IPv4, ESP-in-UDP over IPv4, plain over IPv6, UDP over IPv6].
    ///
    /// AEADs (GCM-16-128/256, ChaCha20-Poly1305): ESP 8 + IV 8 + pad 2
    /// (1400 + 2 = 1402 -> 1404, a multiple of 4) + trailer 2 + ICV 16 = 36;
    /// plus outer 20/40 and UDP 8: 56, 64, 76, 84.
    /// AES-CBC: ESP 8 + IV 16 + pad 6 (1402 -> 1408, a multiple of 16) +
    /// trailer 2 = 32, plus the ICV:
    ///   SHA-256-128: 32 + 16 = 48 -> 68, 76, 88, 96;
    ///   SHA-384-192: 32 + 24 = 56 -> 76, 84, 96, 104;
    ///   SHA-512-256: 32 + 32 = 64 -> 84, 92, 104, 112;
    ///   SHA1-96:     32 + 12 = 44 -> 64, 72, 84, 92.
    const TABLE: [(Suite, [usize; 4]); 8] = [
        (Suite::AES_GCM_16_128, [56, 64, 76, 84]),
        (Suite::AES_GCM_16_256, [56, 64, 76, 84]),
        (Suite::CHACHA20_POLY1305, [56, 64, 76, 84]),
        (Suite::AES_CBC_128_SHA256_128, [68, 76, 88, 96]),
        (Suite::AES_CBC_256_SHA256_128, [68, 76, 88, 96]),
        (Suite::AES_CBC_256_SHA384_192, [76, 84, 96, 104]),
        (Suite::AES_CBC_256_SHA512_256, [84, 92, 104, 112]),
        (Suite::AES_CBC_128_SHA1_96, [64, 72, 84, 92]),
    ];

    #[test]
    fn overhead_table_1400() {
        for (suite, want) in TABLE {
            let got = [
                overhead(suite, false, V4, 1400),
                overhead(suite, true, V4, 1400),
                overhead(suite, false, V6, 1400),
                overhead(suite, true, V6, 1400),
            ];
            assert_eq!(got, want, "{suite}");
        }
    }

    #[test]
    fn max_inner_len_is_tight() {
        for suite in Suite::ALL {
            for udp in [false, true] {
                for fam in [V4, V6] {
                    for mtu in [576usize, 1280, 1400, 1420, 1500, 9000] {
                        let m = max_inner_len(mtu, suite, udp, fam);
                        assert!(m + overhead(suite, udp, fam, m) <= mtu, "{suite} {mtu}");
                        let n = m + 1;
                        assert!(
                            n + overhead(suite, udp, fam, n) > mtu,
                            "{suite} {mtu}: {m} not max"
                        );
                    }
                }
            }
        }
        assert_eq!(max_inner_len(1500, Suite::AES_GCM_16_128, false, V4), 1446);
        assert_eq!(
            max_inner_len(1500, Suite::AES_CBC_256_SHA256_128, true, V4),
            1422
        );
        assert_eq!(max_inner_len(10, Suite::AES_GCM_16_128, false, V4), 0);
    }
}
