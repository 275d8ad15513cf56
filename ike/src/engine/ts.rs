//! Traffic selectors as the engine reasons about them, and narrowing
//! (RFC 7296 §2.9).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::wire::TrafficSelector;

/// One traffic selector: an address range of one family, an IP protocol
/// (0 = any) and a port range (RFC 7296 §3.13.1).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ts {
    /// IP protocol, 0 for any.
    pub proto: u8,
    /// First port.
    pub start_port: u16,
    /// Last port.
    pub end_port: u16,
    /// First address.
    pub start: IpAddr,
    /// Last address, of the same family as `start`.
    pub end: IpAddr,
}

pub(crate) fn ip_to_u128(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

fn u128_to_ip(v: u128, v4: bool) -> IpAddr {
    if v4 {
        IpAddr::V4(Ipv4Addr::from(v as u32))
    } else {
        IpAddr::V6(Ipv6Addr::from(v))
    }
}

impl Ts {
    /// Every address of `a`'s family... no: exactly the host `a`, any
    /// protocol and port (what `dynamic` becomes).
    pub fn host(a: IpAddr) -> Ts {
        Ts {
            proto: 0,
            start_port: 0,
            end_port: 0xffff,
            start: a,
            end: a,
        }
    }

    /// A subnet `net/len`, any protocol and port.
    pub fn subnet(net: IpAddr, len: u8) -> Ts {
        let bits: u32 = if net.is_ipv4() { 32 } else { 128 };
        let len = u32::from(len).min(bits);
        let host_bits = bits - len;
        let hostmask: u128 = if host_bits == 0 {
            0
        } else if host_bits >= 128 {
            u128::MAX
        } else {
            (1u128 << host_bits) - 1
        };
        let n = ip_to_u128(net) & !hostmask;
        Ts {
            proto: 0,
            start_port: 0,
            end_port: 0xffff,
            start: u128_to_ip(n, net.is_ipv4()),
            end: u128_to_ip(n | hostmask, net.is_ipv4()),
        }
    }

    /// `0.0.0.0/0` or `::/0`.
    pub fn any(v4: bool) -> Ts {
        if v4 {
            Ts::subnet(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0)
        } else {
            Ts::subnet(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0)
        }
    }

    /// Whether the selector is IPv4.
    pub fn is_ipv4(&self) -> bool {
        self.start.is_ipv4()
    }

    /// The intersection of two selectors, if not empty (RFC 7296 §2.9).
    pub fn intersect(&self, other: &Ts) -> Option<Ts> {
        if self.is_ipv4() != other.is_ipv4() {
            return None;
        }
        let proto = match (self.proto, other.proto) {
            (0, p) | (p, 0) => p,
            (a, b) if a == b => a,
            _ => return None,
        };
        let start_port = self.start_port.max(other.start_port);
        let end_port = self.end_port.min(other.end_port);
        if start_port > end_port {
            return None;
        }
        let s = ip_to_u128(self.start).max(ip_to_u128(other.start));
        let e = ip_to_u128(self.end).min(ip_to_u128(other.end));
        if s > e {
            return None;
        }
        Some(Ts {
            proto,
            start_port,
            end_port,
            start: u128_to_ip(s, self.is_ipv4()),
            end: u128_to_ip(e, self.is_ipv4()),
        })
    }

    /// Whether `self` lies within `other`.
    pub fn is_subset_of(&self, other: &Ts) -> bool {
        self.intersect(other).as_ref() == Some(self)
    }

    /// Whether a packet's addresses/protocol/port fall inside.
    pub fn contains(&self, addr: IpAddr, proto: u8, port: u16) -> bool {
        if addr.is_ipv4() != self.is_ipv4() {
            return false;
        }
        let a = ip_to_u128(addr);
        (self.proto == 0 || self.proto == proto)
            && ip_to_u128(self.start) <= a
            && a <= ip_to_u128(self.end)
            && (self.start_port == 0 && self.end_port == 0xffff
                || (self.start_port <= port && port <= self.end_port))
    }

    /// The wire form.
    pub fn to_wire(&self) -> TrafficSelector {
        match (self.start, self.end) {
            (IpAddr::V4(s), IpAddr::V4(e)) => TrafficSelector::Ipv4 {
                ip_proto: self.proto,
                start_port: self.start_port,
                end_port: self.end_port,
                start: s,
                end: e,
            },
            (s, e) => TrafficSelector::Ipv6 {
                ip_proto: self.proto,
                start_port: self.start_port,
                end_port: self.end_port,
                start: to_v6(s),
                end: to_v6(e),
            },
        }
    }

    /// From the wire form; `None` for selector types we do not use.
    pub fn from_wire(t: &TrafficSelector) -> Option<Ts> {
        match *t {
            TrafficSelector::Ipv4 {
                ip_proto,
                start_port,
                end_port,
                start,
                end,
            } => Some(Ts {
                proto: ip_proto,
                start_port,
                end_port,
                start: start.into(),
                end: end.into(),
            }),
            TrafficSelector::Ipv6 {
                ip_proto,
                start_port,
                end_port,
                start,
                end,
            } => Some(Ts {
                proto: ip_proto,
                start_port,
                end_port,
                start: start.into(),
                end: end.into(),
            }),
            TrafficSelector::Other { .. } => None,
        }
    }

    /// The prefix length when the range is exactly a subnet.
    fn prefix_len(&self) -> Option<u8> {
        let (s, e) = (ip_to_u128(self.start), ip_to_u128(self.end));
        let bits = if self.is_ipv4() { 32 } else { 128 };
        let diff = s ^ e;
        let host_bits = 128 - diff.leading_zeros();
        let hostmask = if host_bits >= 128 {
            u128::MAX
        } else {
            (1u128 << host_bits) - 1
        };
        (s & hostmask == 0 && e & hostmask == hostmask && host_bits <= bits)
            .then(|| (bits - host_bits) as u8)
    }
}

fn to_v6(a: IpAddr) -> Ipv6Addr {
    match a {
        IpAddr::V6(v6) => v6,
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
    }
}

impl fmt::Display for Ts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.prefix_len() {
            Some(len) => write!(f, "{}/{}", self.start, len)?,
            None => write!(f, "{}..{}", self.start, self.end)?,
        }
        if self.proto != 0 || self.start_port != 0 || self.end_port != 0xffff {
            write!(f, "[{}", self.proto)?;
            if self.start_port == self.end_port {
                write!(f, "/{}", self.start_port)?;
            } else if self.start_port != 0 || self.end_port != 0xffff {
                write!(f, "/{}-{}", self.start_port, self.end_port)?;
            }
            f.write_str("]")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Ts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Narrows `offered` to what `configured` allows (RFC 7296 §2.9): every
/// non-empty intersection, in the order of the offer, without duplicates.
pub fn narrow(offered: &[Ts], configured: &[Ts]) -> Vec<Ts> {
    let mut out: Vec<Ts> = Vec::new();
    for o in offered {
        for c in configured {
            if let Some(i) = o.intersect(c) {
                if !out.iter().any(|x| i.is_subset_of(x)) {
                    out.retain(|x| !x.is_subset_of(&i));
                    out.push(i);
                }
            }
        }
    }
    out
}

/// [`narrow`], unless the result has more than `max` selectors (a TS
/// payload carries at most 255, RFC 7296 §3.13): `None` then, found
/// without computing the whole product of a hostile offer.
pub fn narrow_bounded(offered: &[Ts], configured: &[Ts], max: usize) -> Option<Vec<Ts>> {
    let mut out: Vec<Ts> = Vec::new();
    for o in offered {
        for c in configured {
            if let Some(i) = o.intersect(c) {
                if !out.iter().any(|x| i.is_subset_of(x)) {
                    out.retain(|x| !x.is_subset_of(&i));
                    out.push(i);
                    if out.len() > max {
                        return None;
                    }
                }
            }
        }
    }
    Some(out)
}

/// Whether some offered selector intersects some configured one.
pub fn intersects(offered: &[Ts], configured: &[Ts]) -> bool {
    offered
        .iter()
        .any(|o| configured.iter().any(|c| o.intersect(c).is_some()))
}

/// strongSwan's `get_transport_nat_ts`: in transport mode a host behind a
/// NAT proposes its own (private) address, but the SA carries the NAT's
/// (RFC 7296 §2.23.1). The selectors that name one host, the same as the
/// first of them, get `host` (the IKE address as seen across the NAT)
/// instead, keeping protocol and ports; the others are dropped.
pub fn transport_nat(proposed: &[Ts], host: IpAddr) -> Vec<Ts> {
    let mut first: Option<IpAddr> = None;
    let mut out = Vec::new();
    for t in proposed {
        if t.start != t.end || t.is_ipv4() != host.is_ipv4() {
            continue;
        }
        if *first.get_or_insert(t.start) != t.start {
            continue;
        }
        let n = Ts {
            start: host,
            end: host,
            ..*t
        };
        if !out.contains(&n) {
            out.push(n);
        }
    }
    out
}

/// Whether every selector names a single host (transport mode needs
/// host-to-host selectors, RFC 7296 §1.3.1).
pub fn all_hosts(ts: &[Ts]) -> bool {
    !ts.is_empty() && ts.iter().all(|t| t.start == t.end)
}

/// How well configured selectors match an offer, for choosing among child
/// configurations (strongSwan's `get_ts_match`): per pair of offered and
/// configured selector, 4 if equal, 2 if the offered one lies within the
/// configured one, 1 if they only intersect.
pub fn match_score(offered: &[Ts], configured: &[Ts]) -> u32 {
    let mut score = 0;
    for o in offered {
        for c in configured {
            score += if o == c {
                4
            } else if o.is_subset_of(c) {
                2
            } else if o.intersect(c).is_some() {
                1
            } else {
                0
            };
        }
    }
    score
}

/// Whether every selector of `got` lies within some selector of `allowed`:
/// how an initiator checks the responder's narrowed selectors.
pub fn all_within(got: &[Ts], allowed: &[Ts]) -> bool {
    got.iter()
        .all(|g| allowed.iter().any(|a| g.is_subset_of(a)))
}

/// A comma list of selectors, for logs.
pub fn list(ts: &[Ts]) -> String {
    let v: Vec<String> = ts.iter().map(Ts::to_string).collect();
    v.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn subnet_and_display() {
        let t = Ts::subnet(ip("10.1.2.3"), 24);
        assert_eq!(t.start, ip("10.1.2.0"));
        assert_eq!(t.end, ip("10.1.2.255"));
        assert_eq!(t.to_string(), "10.1.2.0/24");
        assert_eq!(Ts::any(false).to_string(), "::/0");
        assert_eq!(Ts::host(ip("192.0.2.1")).to_string(), "192.0.2.1/32");
    }

    /// RFC 7296 §2.9: the responder narrows to the intersection.
    #[test]
    fn narrowing() {
        let offered = [Ts::any(true), Ts::any(false)];
        let configured = [Ts::subnet(ip("10.0.0.0"), 8)];
        assert_eq!(narrow(&offered, &configured), vec![configured[0]]);
        let none = narrow(&[Ts::subnet(ip("192.0.2.0"), 24)], &configured);
        assert!(none.is_empty());
        let tcp = Ts {
            proto: 6,
            start_port: 80,
            end_port: 80,
            ..Ts::any(true)
        };
        let n = narrow(&[Ts::subnet(ip("10.1.0.0"), 16)], &[tcp]);
        assert_eq!(n[0].proto, 6);
        assert_eq!(n[0].start, ip("10.1.0.0"));
        assert!(all_within(&n, &[Ts::subnet(ip("10.0.0.0"), 8)]));
        assert!(!all_within(&[Ts::any(true)], &n));
    }

    #[test]
    fn bounded_narrowing_and_transport_nat() {
        // 300 distinct /32s narrowed by 0.0.0.0/0: over the 255 a TS
        // payload can carry.
        let offered: Vec<Ts> = (0..300u32)
            .map(|i| Ts::host(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i * 2))))
            .collect();
        assert_eq!(narrow_bounded(&offered, &[Ts::any(true)], 255), None);
        assert_eq!(
            narrow_bounded(&offered[..10], &[Ts::any(true)], 255).map(|v| v.len()),
            Some(10)
        );
        assert!(intersects(&offered, &[Ts::subnet(ip("10.0.0.0"), 8)]));
        assert!(!intersects(&offered, &[Ts::subnet(ip("192.0.2.0"), 24)]));
        // The NATed host's private address becomes the NAT's; a selector
        // for another host is dropped; protocol and ports stay.
        let tcp = Ts {
            proto: 6,
            start_port: 22,
            end_port: 22,
            ..Ts::host(ip("10.0.0.5"))
        };
        let got = transport_nat(
            &[
                tcp,
                Ts::host(ip("10.0.0.5")),
                Ts::host(ip("10.0.0.6")),
                Ts::any(true),
            ],
            ip("203.0.113.7"),
        );
        assert_eq!(
            got,
            [
                Ts {
                    start: ip("203.0.113.7"),
                    end: ip("203.0.113.7"),
                    ..tcp
                },
                Ts::host(ip("203.0.113.7"))
            ]
        );
        assert!(all_hosts(&got));
        assert!(!all_hosts(&[Ts::any(true)]));
    }

    #[test]
    fn wire_round_trip() {
        for t in [
            Ts::subnet(ip("10.0.0.0"), 8),
            Ts::subnet(ip("2001:db8::"), 32),
        ] {
            assert_eq!(Ts::from_wire(&t.to_wire()), Some(t));
        }
    }
}
