//! The inner packet of an authenticated ESP packet, as the data plane's
//! inbound path handles it after `InboundSa::decapsulate` (an authenticated
//! peer chooses every byte of it): the traffic-selector check
//! (`Flow::parse`, `flow_allowed`, RFC 4301 §5.2), MSS clamping
//! (`mss::clamp`) and TCP coalescing for the TUN (`Coalescer::push`).
//!
//! The first bytes build the SA's selectors (address ranges, protocol,
//! port ranges, either family) and the interface MTU; the rest is the
//! inner packet. Nothing may panic; clamping is idempotent and never
//! changes the flow the selector check saw; a coalesced packet fits its
//! buffer.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use vti::esp::selector::{flow_allowed, Flow, TrafficSelector};
use vti::esp::udp::{classify, UdpPayload};
use vti::mss;
use vti::offload::{Coalescer, VNET_HDR_LEN};

fn selector(b: &[u8]) -> TrafficSelector {
    let v6 = b[0] & 1 != 0;
    let (start, end) = if v6 {
        let mut s = [0u8; 16];
        let mut e = [0xffu8; 16];
        s[..4].copy_from_slice(&b[1..5]);
        e[..4].copy_from_slice(&b[5..9]);
        (IpAddr::V6(Ipv6Addr::from(s)), IpAddr::V6(Ipv6Addr::from(e)))
    } else {
        (
            IpAddr::V4(Ipv4Addr::new(b[1], b[2], b[3], b[4])),
            IpAddr::V4(Ipv4Addr::new(b[5], b[6], b[7], b[8])),
        )
    };
    TrafficSelector {
        start_addr: start,
        end_addr: end,
        protocol: b[9],
        start_port: u16::from_be_bytes([b[10], b[11]]),
        end_port: u16::from_be_bytes([b[12], b[13]]),
    }
}

fuzz_target!(|data: &[u8]| {
    // Two selectors per side (14 bytes each) and the MTU (2 bytes).
    const HEAD: usize = 4 * 14 + 2;
    if data.len() < HEAD {
        return;
    }
    let (head, inner) = data.split_at(HEAD);
    let remote_ts = [selector(&head[0..14]), selector(&head[14..28])];
    let local_ts = [selector(&head[28..42]), selector(&head[42..56])];
    let mtu = u32::from(u16::from_be_bytes([head[56], head[57]]));

    let flow = Flow::parse(inner);
    if let Ok(f) = &flow {
        let _ = flow_allowed(f, &remote_ts, &local_ts);
        let _ = flow_allowed(f, &remote_ts[..0], &local_ts);
    }

    let mut p = inner.to_vec();
    if mss::clamp(&mut p, mtu) {
        assert_eq!(p.len(), inner.len());
        assert!(!mss::clamp(&mut p, mtu), "clamping twice changed the packet again");
        assert_eq!(Flow::parse(&p), flow, "clamping changed the packet's flow");
    }

    let mut c = Coalescer::new();
    for _ in 0..3 {
        if !c.push(&p) {
            if let Some(b) = c.take() {
                assert!(b.len() <= VNET_HDR_LEN + 65535);
            }
            let _ = c.push(&p);
        }
    }
    if let Some(b) = c.take() {
        assert!(b.len() <= VNET_HDR_LEN + 65535);
    }

    // The same bytes as a UDP/4500 payload (RFC 3948 demultiplexing).
    match classify(inner) {
        UdpPayload::Ike(m) => assert_eq!(m.len() + 4, inner.len()),
        UdpPayload::Esp(e) => assert!(e.len() >= 8),
        UdpPayload::Keepalive | UdpPayload::Invalid => {}
    }
});
