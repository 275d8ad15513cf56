//! Inner traffic-selector enforcement (RFC 4301 §5.2): after decapsulation
//! the caller extracts the inner packet's addresses, protocol and ports
//! with [`Flow::parse`] (no allocation) and checks them against the SA's
//! negotiated selectors with [`flow_allowed`].
#![forbid(unsafe_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Port information of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ports {
    /// Source and destination port. For ICMP and ICMPv6 both are the
    /// 16-bit Type << 8 | Code (RFC 7296 §3.13.1).
    Known {
        /// Source port (or ICMP type/code).
        src: u16,
        /// Destination port (or ICMP type/code).
        dst: u16,
    },
    /// The protocol has no ports.
    NotApplicable,
    /// A non-first fragment: the ports are not in this packet ("OPAQUE",
    /// RFC 4301 §4.4.1.1).
    Opaque,
}

/// The selector-relevant fields of an IP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flow {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Upper-layer protocol (after IPv6 extension headers).
    pub protocol: u8,
    /// Ports.
    pub ports: Ports,
}

/// Why an inner packet could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FlowError {
    /// Shorter than its headers.
    #[error("inner packet truncated")]
    Truncated,
    /// Not IPv4 or IPv6, or an inconsistent header.
    #[error("inner packet malformed")]
    Malformed,
}

const PROTO_ICMP: u8 = 1;
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const PROTO_ICMPV6: u8 = 58;
const PROTO_SCTP: u8 = 132;
const PROTO_UDPLITE: u8 = 136;

fn l4_ports(protocol: u8, l4: &[u8]) -> Result<Ports, FlowError> {
    match protocol {
        PROTO_TCP | PROTO_UDP | PROTO_SCTP | PROTO_UDPLITE => {
            let p = l4.get(..4).ok_or(FlowError::Truncated)?;
            Ok(Ports::Known {
                src: u16::from_be_bytes([p[0], p[1]]),
                dst: u16::from_be_bytes([p[2], p[3]]),
            })
        }
        PROTO_ICMP | PROTO_ICMPV6 => {
            let p = l4.get(..2).ok_or(FlowError::Truncated)?;
            let tc = u16::from_be_bytes([p[0], p[1]]);
            Ok(Ports::Known { src: tc, dst: tc })
        }
        _ => Ok(Ports::NotApplicable),
    }
}

impl Flow {
    /// Parse an IPv4 or IPv6 packet's selector fields.
    pub fn parse(packet: &[u8]) -> Result<Flow, FlowError> {
        match packet.first().map(|b| b >> 4) {
            Some(4) => Self::parse_v4(packet),
            Some(6) => Self::parse_v6(packet),
            Some(_) => Err(FlowError::Malformed),
            None => Err(FlowError::Truncated),
        }
    }

    fn parse_v4(p: &[u8]) -> Result<Flow, FlowError> {
        if p.len() < 20 {
            return Err(FlowError::Truncated);
        }
        let ihl = usize::from(p[0] & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([p[2], p[3]]));
        if ihl < 20 || total < ihl {
            return Err(FlowError::Malformed);
        }
        if total > p.len() {
            return Err(FlowError::Truncated);
        }
        let frag_offset = u16::from_be_bytes([p[6], p[7]]) & 0x1fff;
        let protocol = p[9];
        let src = Ipv4Addr::new(p[12], p[13], p[14], p[15]);
        let dst = Ipv4Addr::new(p[16], p[17], p[18], p[19]);
        let ports = if frag_offset != 0 {
            Ports::Opaque
        } else {
            l4_ports(protocol, &p[ihl..total])?
        };
        Ok(Flow {
            src: src.into(),
            dst: dst.into(),
            protocol,
            ports,
        })
    }

    fn parse_v6(p: &[u8]) -> Result<Flow, FlowError> {
        if p.len() < 40 {
            return Err(FlowError::Truncated);
        }
        let total = 40 + usize::from(u16::from_be_bytes([p[4], p[5]]));
        if total > p.len() {
            return Err(FlowError::Truncated);
        }
        let p = &p[..total];
        let addr = |at: usize| {
            let mut a = [0u8; 16];
            a.copy_from_slice(&p[at..at + 16]);
            Ipv6Addr::from(a)
        };
        let (src, dst) = (addr(8), addr(24));
        let mut nh = p[6];
        let mut off = 40usize;
        let mut opaque = false;
        // Walk the extension headers (bounded, as RFC 8200 allows a chain
        // but a real one is short).
        for _ in 0..16 {
            match nh {
                // Hop-by-hop, Routing, Destination Options.
                0 | 43 | 60 => {
                    let h = p.get(off..off + 2).ok_or(FlowError::Truncated)?;
                    nh = h[0];
                    off += (usize::from(h[1]) + 1) * 8;
                }
                // Fragment.
                44 => {
                    let h = p.get(off..off + 8).ok_or(FlowError::Truncated)?;
                    nh = h[0];
                    off += 8;
                    if u16::from_be_bytes([h[2], h[3]]) >> 3 != 0 {
                        opaque = true;
                        break;
                    }
                }
                // AH.
                51 => {
                    let h = p.get(off..off + 2).ok_or(FlowError::Truncated)?;
                    nh = h[0];
                    off += (usize::from(h[1]) + 2) * 4;
                }
                _ => break,
            }
        }
        let l4 = p.get(off..).ok_or(FlowError::Truncated)?;
        let ports = if opaque {
            Ports::Opaque
        } else {
            l4_ports(nh, l4)?
        };
        Ok(Flow {
            src: src.into(),
            dst: dst.into(),
            protocol: nh,
            ports,
        })
    }
}

/// One traffic selector as IKEv2 negotiates it (RFC 7296 §3.13.1): an
/// address range, an IP protocol (0 = any) and a port range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TrafficSelector {
    /// First address (inclusive).
    pub start_addr: IpAddr,
    /// Last address (inclusive); same family as `start_addr`.
    pub end_addr: IpAddr,
    /// IP protocol, 0 for any.
    pub protocol: u8,
    /// First port (inclusive).
    pub start_port: u16,
    /// Last port (inclusive). `start_port = 65535, end_port = 0` is
    /// OPAQUE: matches only packets whose ports are unavailable.
    pub end_port: u16,
}

fn addr_key(a: IpAddr) -> (bool, u128) {
    match a {
        IpAddr::V4(v) => (false, u128::from(u32::from(v))),
        IpAddr::V6(v) => (true, u128::from(v)),
    }
}

impl TrafficSelector {
    /// Everything IPv4.
    pub const fn any_v4() -> TrafficSelector {
        TrafficSelector {
            start_addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            end_addr: IpAddr::V4(Ipv4Addr::BROADCAST),
            protocol: 0,
            start_port: 0,
            end_port: 65535,
        }
    }

    /// Everything IPv6.
    pub const fn any_v6() -> TrafficSelector {
        TrafficSelector {
            start_addr: IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            end_addr: IpAddr::V6(Ipv6Addr::new(
                0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff,
            )),
            protocol: 0,
            start_port: 0,
            end_port: 65535,
        }
    }

    /// A prefix (e.g. 10.1.0.0/16), any protocol and port. The prefix
    /// length is clamped to the family's width.
    pub fn prefix(addr: IpAddr, len: u8) -> TrafficSelector {
        let (start, end) = match addr {
            IpAddr::V4(v) => {
                let len = u32::from(len.min(32));
                let host = u32::MAX.checked_shr(len).unwrap_or(0);
                let a = u32::from(v);
                (
                    IpAddr::V4((a & !host).into()),
                    IpAddr::V4((a | host).into()),
                )
            }
            IpAddr::V6(v) => {
                let len = u32::from(len.min(128));
                let host = u128::MAX.checked_shr(len).unwrap_or(0);
                let a = u128::from(v);
                (
                    IpAddr::V6((a & !host).into()),
                    IpAddr::V6((a | host).into()),
                )
            }
        };
        TrafficSelector {
            start_addr: start,
            end_addr: end,
            protocol: 0,
            start_port: 0,
            end_port: 65535,
        }
    }

    /// Restrict to a protocol and port range.
    pub fn with_protocol(
        mut self,
        protocol: u8,
        start_port: u16,
        end_port: u16,
    ) -> TrafficSelector {
        self.protocol = protocol;
        self.start_port = start_port;
        self.end_port = end_port;
        self
    }

    /// Is `a` within the address range?
    pub fn contains_addr(&self, a: IpAddr) -> bool {
        let (fa, ka) = addr_key(a);
        let (fs, ks) = addr_key(self.start_addr);
        let (fe, ke) = addr_key(self.end_addr);
        fa == fs && fa == fe && ks <= ka && ka <= ke
    }

    fn matches_port(&self, port: Option<u16>) -> bool {
        let any = self.start_port == 0 && self.end_port == 65535;
        let opaque = self.start_port == 65535 && self.end_port == 0;
        match port {
            _ if any => true,
            Some(p) => self.start_port <= p && p <= self.end_port,
            None => opaque,
        }
    }

    /// Does this selector cover one end of `flow`: `addr` and `port` (the
    /// source's or the destination's), with the flow's protocol?
    pub fn matches(&self, addr: IpAddr, protocol: u8, port: Option<u16>) -> bool {
        (self.protocol == 0 || self.protocol == protocol)
            && self.contains_addr(addr)
            && self.matches_port(port)
    }
}

/// Is `flow` covered by the SA whose selectors are `src_ts` for the
/// sender's side and `dst_ts` for the receiver's side? For an inbound SA,
/// `src_ts` are the peer's selectors and `dst_ts` ours. A packet is allowed
/// if its source matches some selector of `src_ts` and its destination
/// some selector of `dst_ts` (RFC 7296 §2.9).
pub fn flow_allowed(flow: &Flow, src_ts: &[TrafficSelector], dst_ts: &[TrafficSelector]) -> bool {
    let (sp, dp) = match flow.ports {
        Ports::Known { src, dst } => (Some(src), Some(dst)),
        Ports::NotApplicable | Ports::Opaque => (None, None),
    };
    src_ts
        .iter()
        .any(|t| t.matches(flow.src, flow.protocol, sp))
        && dst_ts
            .iter()
            .any(|t| t.matches(flow.dst, flow.protocol, dp))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(proto: u8, src: [u8; 4], dst: [u8; 4], frag: u16, l4: &[u8]) -> Vec<u8> {
        let total = 20 + l4.len();
        let mut p = vec![0x45, 0, (total >> 8) as u8, total as u8, 0, 1];
        p.extend_from_slice(&frag.to_be_bytes());
        p.extend_from_slice(&[64, proto, 0, 0]);
        p.extend_from_slice(&src);
        p.extend_from_slice(&dst);
        p.extend_from_slice(l4);
        p
    }

    #[test]
    fn ipv4_udp_tcp_icmp() {
        let udp = v4(
            17,
            [10, 0, 0, 1],
            [10, 0, 1, 2],
            0,
            &[0x30, 0x39, 0, 53, 0, 8, 0, 0],
        );
        let f = Flow::parse(&udp).unwrap();
        assert_eq!(f.src, IpAddr::from([10, 0, 0, 1]));
        assert_eq!(f.dst, IpAddr::from([10, 0, 1, 2]));
        assert_eq!(f.protocol, 17);
        assert_eq!(
            f.ports,
            Ports::Known {
                src: 12345,
                dst: 53
            }
        );

        let icmp = v4(1, [1, 1, 1, 1], [2, 2, 2, 2], 0, &[8, 0, 0, 0, 0, 1, 0, 1]);
        assert_eq!(
            Flow::parse(&icmp).unwrap().ports,
            Ports::Known {
                src: 0x0800,
                dst: 0x0800
            }
        );

        let gre = v4(47, [1, 1, 1, 1], [2, 2, 2, 2], 0, &[0; 4]);
        assert_eq!(Flow::parse(&gre).unwrap().ports, Ports::NotApplicable);

        // Non-first fragment: ports opaque even though bytes follow.
        let frag = v4(6, [1, 1, 1, 1], [2, 2, 2, 2], 185, &[0; 20]);
        assert_eq!(Flow::parse(&frag).unwrap().ports, Ports::Opaque);

        // First fragment without room for ports.
        let short = v4(6, [1, 1, 1, 1], [2, 2, 2, 2], 0x2000, &[0, 1]);
        assert_eq!(Flow::parse(&short), Err(FlowError::Truncated));
        assert_eq!(Flow::parse(&udp[..19]), Err(FlowError::Truncated));
        assert_eq!(Flow::parse(&[]), Err(FlowError::Truncated));
        assert_eq!(Flow::parse(&[0x15; 40]), Err(FlowError::Malformed));
    }

    fn v6(nh: u8, ext_and_l4: &[u8]) -> Vec<u8> {
        let mut p = vec![0x60, 0, 0, 0];
        p.extend_from_slice(&(ext_and_l4.len() as u16).to_be_bytes());
        p.extend_from_slice(&[nh, 64]);
        p.extend_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
        p.extend_from_slice(&"2001:db8::2".parse::<Ipv6Addr>().unwrap().octets());
        p.extend_from_slice(ext_and_l4);
        p
    }

    #[test]
    fn ipv6_with_extension_headers() {
        let tcp = v6(6, &[0x01, 0xbb, 0xc0, 0x00, 0, 0, 0, 0]);
        let f = Flow::parse(&tcp).unwrap();
        assert_eq!(f.protocol, 6);
        assert_eq!(
            f.ports,
            Ports::Known {
                src: 443,
                dst: 0xc000
            }
        );
        assert_eq!(f.dst, "2001:db8::2".parse::<IpAddr>().unwrap());

        // Hop-by-hop (8 bytes) then a first fragment then UDP.
        let mut ext = vec![44, 0, 1, 4, 0, 0, 0, 0];
        ext.extend_from_slice(&[17, 0, 0, 1, 0, 0, 0, 7]);
        ext.extend_from_slice(&[0x11, 0x11, 0x22, 0x22, 0, 8, 0, 0]);
        let f = Flow::parse(&v6(0, &ext)).unwrap();
        assert_eq!(f.protocol, 17);
        assert_eq!(
            f.ports,
            Ports::Known {
                src: 0x1111,
                dst: 0x2222
            }
        );

        // Non-first fragment.
        let ext = [58, 0, 0, 0x10, 0, 0, 0, 7, 1, 2, 3, 4];
        let f = Flow::parse(&v6(44, &ext)).unwrap();
        assert_eq!(f.protocol, 58);
        assert_eq!(f.ports, Ports::Opaque);

        // ICMPv6 echo request.
        let f = Flow::parse(&v6(58, &[128, 0, 0, 0])).unwrap();
        assert_eq!(
            f.ports,
            Ports::Known {
                src: 0x8000,
                dst: 0x8000
            }
        );

        // Extension header running past the end.
        assert_eq!(
            Flow::parse(&v6(0, &[6, 4, 0, 0])),
            Err(FlowError::Truncated)
        );
        let mut bad = v6(6, &[0; 8]);
        bad[5] = 200;
        assert_eq!(Flow::parse(&bad), Err(FlowError::Truncated));
    }

    #[test]
    fn matcher() {
        let net = TrafficSelector::prefix("10.1.0.0".parse().unwrap(), 16);
        assert!(net.contains_addr("10.1.255.255".parse().unwrap()));
        assert!(!net.contains_addr("10.2.0.0".parse().unwrap()));
        assert!(!net.contains_addr("::1".parse().unwrap()));
        let dns =
            TrafficSelector::prefix("10.2.0.53".parse().unwrap(), 32).with_protocol(17, 53, 53);
        let flow = Flow {
            src: "10.1.2.3".parse().unwrap(),
            dst: "10.2.0.53".parse().unwrap(),
            protocol: 17,
            ports: Ports::Known {
                src: 40000,
                dst: 53,
            },
        };
        assert!(flow_allowed(&flow, &[net], &[dns]));
        assert!(!flow_allowed(&flow, &[dns], &[net]), "reversed");
        let tcp = Flow {
            protocol: 6,
            ..flow
        };
        assert!(!flow_allowed(&tcp, &[net], &[dns]), "protocol");
        let other_port = Flow {
            ports: Ports::Known {
                src: 40000,
                dst: 54,
            },
            ..flow
        };
        assert!(!flow_allowed(&other_port, &[net], &[dns]));
        let frag = Flow {
            ports: Ports::Opaque,
            ..flow
        };
        assert!(
            !flow_allowed(&frag, &[net], &[dns]),
            "opaque vs a port range"
        );
        let opaque = dns.with_protocol(17, 65535, 0);
        assert!(flow_allowed(&frag, &[net], &[opaque]));
        assert!(flow_allowed(&frag, &[net], &[TrafficSelector::any_v4()]));
        assert!(!flow_allowed(&frag, &[net], &[TrafficSelector::any_v6()]));
        let v6 = TrafficSelector::prefix("2001:db8::".parse().unwrap(), 32);
        assert!(v6.contains_addr("2001:db8:ffff::1".parse().unwrap()));
        assert!(!v6.contains_addr("2001:db9::".parse().unwrap()));
        assert!(TrafficSelector::prefix("1.2.3.4".parse().unwrap(), 0)
            .contains_addr("255.0.0.1".parse().unwrap()));
    }
}
