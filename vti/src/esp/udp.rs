//! ESP-in-UDP demultiplexing on port 4500 (RFC 3948).
//!
//! One UDP socket on port 4500 carries IKE (after a 4-byte zero "non-ESP
//! marker"), ESP (starting with a non-zero SPI) and NAT keepalives (a
//! single 0xFF byte). The daemon's socket loop calls [`classify`] on every
//! datagram payload.
#![forbid(unsafe_code)]

/// The NAT-T UDP port.
pub const NAT_T_PORT: u16 = 4500;
/// The non-ESP marker that precedes IKE messages on port 4500.
pub const NON_ESP_MARKER: [u8; 4] = [0; 4];
/// A NAT keepalive payload (RFC 3948 §2.3).
pub const NAT_KEEPALIVE: [u8; 1] = [0xff];

/// What a UDP/4500 payload carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UdpPayload<'a> {
    /// A NAT keepalive: drop it (it only refreshes NAT mappings).
    Keepalive,
    /// An IKE message, with the non-ESP marker removed.
    Ike(&'a [u8]),
    /// An ESP packet (SPI .. ICV), for [`InboundSa::decapsulate`](super::InboundSa::decapsulate).
    Esp(&'a [u8]),
    /// Neither: too short, or an SPI in the reserved range 1..=255.
    Invalid,
}

/// Classify a UDP/4500 payload (RFC 3948 §2.2, §2.3, §3.2).
pub fn classify(payload: &[u8]) -> UdpPayload<'_> {
    if payload == NAT_KEEPALIVE {
        return UdpPayload::Keepalive;
    }
    if payload.len() < 4 {
        return UdpPayload::Invalid;
    }
    if payload[..4] == NON_ESP_MARKER {
        // RFC 3948 §2.2: an IKE header follows; keep it even if short and
        // let the IKE parser judge.
        return UdpPayload::Ike(&payload[4..]);
    }
    let spi = u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]);
    // The header is SPI + sequence number; SPIs 1..=255 are reserved
    // (RFC 4303 §2.1).
    if payload.len() < super::ESP_HEADER_LEN || spi < 256 {
        return UdpPayload::Invalid;
    }
    UdpPayload::Esp(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies() {
        assert_eq!(classify(&[0xff]), UdpPayload::Keepalive);
        assert_eq!(classify(&[]), UdpPayload::Invalid);
        assert_eq!(classify(&[0xfe]), UdpPayload::Invalid);
        assert_eq!(classify(&[0, 0, 0]), UdpPayload::Invalid);
        assert_eq!(classify(&[0, 0, 0, 0, 1, 2]), UdpPayload::Ike(&[1, 2]));
        assert_eq!(classify(&[0, 0, 0, 0]), UdpPayload::Ike(&[]));
        let esp = [0, 0, 0x12, 0x34, 0, 0, 0, 1, 9, 9];
        assert_eq!(classify(&esp), UdpPayload::Esp(&esp));
        assert_eq!(classify(&esp[..7]), UdpPayload::Invalid, "short ESP");
        assert_eq!(
            classify(&[0, 0, 0, 5, 0, 0, 0, 1]),
            UdpPayload::Invalid,
            "reserved SPI"
        );
        // 0xFF followed by more bytes is ESP-shaped, not a keepalive.
        let spi_ff = [0xff, 0, 0, 0, 0, 0, 0, 1];
        assert_eq!(classify(&spi_ff), UdpPayload::Esp(&spi_ff));
    }
}
