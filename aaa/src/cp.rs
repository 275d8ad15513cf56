//! Configuration payloads (RFC 7296 §3.15) from and to what the pools
//! and the client know: the gateway reads a client's CFG_REQUEST and
//! answers with a CFG_REPLY (its virtual IPs and its pools' attributes);
//! vtid as a client (`vips = 0.0.0.0, ::`) asks with a CFG_REQUEST and
//! reads the CFG_REPLY.
//!
//! Values are encoded as strongSwan does (`ike_config.c`, the vici
//! plugin's `pool_li`): INTERNAL_IP4_ADDRESS 4 octets, INTERNAL_IP6_ADDRESS
//! 16 octets and a prefix length of 64 (RFC 7296 §3.15.1: 17 octets),
//! IPv4 subnets as address and netmask, IPv6 subnets as address and
//! prefix length. Every attribute from a peer is length-checked; one of
//! the wrong length is an error the engine answers as a malformed
//! payload.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use config::{AttrKind, AttrValue, PoolAttr};
use ike::wire::{CfgAttr, CfgAttrType, CfgType, CpPayload};

/// strongSwan's and Cisco Unity's private attribute types (strongSwan's
/// `attributes.h`) and the IKEv1-era ones strongSwan still sends.
pub mod private {
    use ike::wire::CfgAttrType;
    /// INTERNAL_IP6_NETMASK (RFC 4306; gone from RFC 7296).
    pub const INTERNAL_IP6_NETMASK: CfgAttrType = CfgAttrType(9);
    /// INTERNAL_IP6_NBNS (RFC 4306; gone from RFC 7296).
    pub const INTERNAL_IP6_NBNS: CfgAttrType = CfgAttrType(11);
    /// strongSwan's INTERNAL_IP4_SERVER.
    pub const INTERNAL_IP4_SERVER: CfgAttrType = CfgAttrType(23456);
    /// strongSwan's INTERNAL_IP6_SERVER.
    pub const INTERNAL_IP6_SERVER: CfgAttrType = CfgAttrType(23457);
    /// Cisco Unity's UNITY_SPLIT_INCLUDE.
    pub const UNITY_SPLIT_INCLUDE: CfgAttrType = CfgAttrType(28676);
    /// Cisco Unity's UNITY_LOCAL_LAN (split_exclude).
    pub const UNITY_LOCAL_LAN: CfgAttrType = CfgAttrType(28678);
}

/// A configuration attribute of the wrong size.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[error("configuration attribute {ty} of {len} octets (expected {expected})")]
pub struct CpError {
    /// The attribute type.
    pub ty: u16,
    /// Its length.
    pub len: usize,
    /// What RFC 7296 §3.15.1 allows.
    pub expected: &'static str,
}

fn bad(a: &CfgAttr, expected: &'static str) -> CpError {
    CpError {
        ty: a.ty.0,
        len: a.value.len(),
        expected,
    }
}

/// What a client asks for in its CFG_REQUEST.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct CpRequest {
    /// INTERNAL_IP4_ADDRESS: the address it asks for (0.0.0.0 for any).
    pub v4: Option<Ipv4Addr>,
    /// INTERNAL_IP6_ADDRESS: likewise (:: for any).
    pub v6: Option<Ipv6Addr>,
    /// Every other attribute type it lists (DNS, NBNS, ...).
    pub attributes: Vec<CfgAttrType>,
}

impl CpRequest {
    /// The addresses to acquire, in the order asked.
    pub fn requested(&self) -> Vec<IpAddr> {
        let mut v = Vec::new();
        if let Some(a) = self.v4 {
            v.push(IpAddr::V4(a));
        }
        if let Some(a) = self.v6 {
            v.push(IpAddr::V6(a));
        }
        v
    }
}

fn v4(a: &CfgAttr) -> Option<Ipv4Addr> {
    <[u8; 4]>::try_from(a.value.as_slice())
        .ok()
        .map(Ipv4Addr::from)
}

fn v6_prefixed(a: &CfgAttr) -> Option<(Ipv6Addr, u8)> {
    let (addr, prefix) = a.value.split_first_chunk::<16>()?;
    match prefix {
        [p] if *p <= 128 => Some((Ipv6Addr::from(*addr), *p)),
        _ => None,
    }
}

/// Reads a client's CFG_REQUEST (RFC 7296 §3.15.1: an address attribute
/// is empty or holds the address asked for).
pub fn parse_request(cp: &CpPayload) -> Result<CpRequest, CpError> {
    let mut r = CpRequest::default();
    for a in &cp.attributes {
        match a.ty {
            CfgAttrType::INTERNAL_IP4_ADDRESS => {
                r.v4 = Some(match a.value.len() {
                    0 => Ipv4Addr::UNSPECIFIED,
                    _ => v4(a).ok_or_else(|| bad(a, "0 or 4"))?,
                });
            }
            CfgAttrType::INTERNAL_IP6_ADDRESS => {
                r.v6 = Some(match a.value.len() {
                    0 => Ipv6Addr::UNSPECIFIED,
                    _ => v6_prefixed(a).ok_or_else(|| bad(a, "0 or 17"))?.0,
                });
            }
            t => {
                if !r.attributes.contains(&t) {
                    r.attributes.push(t);
                }
            }
        }
    }
    Ok(r)
}

fn netmask(prefix: u8) -> [u8; 4] {
    let p = u32::from(prefix.min(32));
    let m = u32::MAX.checked_shl(32 - p).unwrap_or(0);
    m.to_be_bytes()
}

/// The attribute strongSwan's vici plugin makes of a pool attribute.
pub fn pool_attr(a: &PoolAttr) -> CfgAttr {
    use private::*;
    let v6 = match &a.value {
        AttrValue::Addr(ip) | AttrValue::Net(ip, _) => ip.is_ipv6(),
        AttrValue::Raw(_) => false,
    };
    let pick = |four: CfgAttrType, six: CfgAttrType| if v6 { six } else { four };
    let ty = match a.kind {
        AttrKind::Address => pick(
            CfgAttrType::INTERNAL_IP4_ADDRESS,
            CfgAttrType::INTERNAL_IP6_ADDRESS,
        ),
        AttrKind::Dns => pick(CfgAttrType::INTERNAL_IP4_DNS, CfgAttrType::INTERNAL_IP6_DNS),
        AttrKind::Nbns => pick(CfgAttrType::INTERNAL_IP4_NBNS, INTERNAL_IP6_NBNS),
        AttrKind::Dhcp => pick(
            CfgAttrType::INTERNAL_IP4_DHCP,
            CfgAttrType::INTERNAL_IP6_DHCP,
        ),
        AttrKind::Netmask => pick(CfgAttrType::INTERNAL_IP4_NETMASK, INTERNAL_IP6_NETMASK),
        AttrKind::Server => pick(INTERNAL_IP4_SERVER, INTERNAL_IP6_SERVER),
        AttrKind::Subnet => pick(
            CfgAttrType::INTERNAL_IP4_SUBNET,
            CfgAttrType::INTERNAL_IP6_SUBNET,
        ),
        AttrKind::PCscf => pick(
            CfgAttrType::P_CSCF_IP4_ADDRESS,
            CfgAttrType::P_CSCF_IP6_ADDRESS,
        ),
        AttrKind::SplitInclude => UNITY_SPLIT_INCLUDE,
        AttrKind::SplitExclude => UNITY_LOCAL_LAN,
        AttrKind::Numeric(n) => CfgAttrType(n),
    };
    let value = match &a.value {
        AttrValue::Addr(IpAddr::V4(x)) => x.octets().to_vec(),
        AttrValue::Addr(IpAddr::V6(x)) => x.octets().to_vec(),
        AttrValue::Net(IpAddr::V4(x), p) => [x.octets(), netmask(*p)].concat(),
        AttrValue::Net(IpAddr::V6(x), p) => {
            let mut v = x.octets().to_vec();
            v.push(*p);
            v
        }
        AttrValue::Raw(b) => b.clone(),
    };
    CfgAttr { ty, value }
}

/// The CFG_REPLY for a client given `vips` with `attrs` (those of the
/// pools its addresses come from: [`crate::Pools::attributes`]). As
/// strongSwan, every attribute of those pools is sent, asked for or not.
pub fn build_reply<'a>(
    vips: &[IpAddr],
    attrs: impl IntoIterator<Item = &'a PoolAttr>,
) -> CpPayload {
    let mut attributes = Vec::new();
    for ip in vips {
        attributes.push(match ip {
            IpAddr::V4(a) => CfgAttr {
                ty: CfgAttrType::INTERNAL_IP4_ADDRESS,
                value: a.octets().to_vec(),
            },
            IpAddr::V6(a) => {
                let mut v = a.octets().to_vec();
                v.push(64);
                CfgAttr {
                    ty: CfgAttrType::INTERNAL_IP6_ADDRESS,
                    value: v,
                }
            }
        });
    }
    attributes.extend(attrs.into_iter().map(pool_attr));
    CpPayload {
        cfg_type: CfgType::REPLY,
        attributes,
    }
}

/// vtid as a client: a CFG_REQUEST for the families of `vips` (as
/// configured: `0.0.0.0` and `::` ask for any address) and their DNS
/// servers, as charon asks.
pub fn build_request(vips: &[IpAddr]) -> CpPayload {
    let mut attributes = Vec::new();
    for ip in vips {
        let (ty, value, dns) = match ip {
            IpAddr::V4(a) => (
                CfgAttrType::INTERNAL_IP4_ADDRESS,
                if a.is_unspecified() {
                    Vec::new()
                } else {
                    a.octets().to_vec()
                },
                CfgAttrType::INTERNAL_IP4_DNS,
            ),
            IpAddr::V6(a) => (
                CfgAttrType::INTERNAL_IP6_ADDRESS,
                if a.is_unspecified() {
                    Vec::new()
                } else {
                    [a.octets().as_slice(), &[128]].concat()
                },
                CfgAttrType::INTERNAL_IP6_DNS,
            ),
        };
        attributes.push(CfgAttr { ty, value });
        attributes.push(CfgAttr {
            ty: dns,
            value: Vec::new(),
        });
    }
    CpPayload {
        cfg_type: CfgType::REQUEST,
        attributes,
    }
}

/// What a CFG_REPLY gave vtid as a client.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct CpReply {
    /// Virtual IPs (with the IPv6 prefix length sent).
    pub vips: Vec<(IpAddr, u8)>,
    /// DNS servers.
    pub dns: Vec<IpAddr>,
    /// NBNS (WINS) servers.
    pub nbns: Vec<IpAddr>,
    /// The protected subnets (INTERNAL_IP4/6_SUBNET).
    pub subnets: Vec<(IpAddr, u8)>,
    /// Anything else, as received.
    pub other: Vec<CfgAttr>,
}

fn mask_len(m: [u8; 4]) -> Option<u8> {
    let v = u32::from_be_bytes(m);
    let ones = v.leading_ones();
    // A netmask is contiguous ones.
    (v.checked_shl(ones).unwrap_or(0) == 0).then(|| u8::try_from(ones).unwrap_or(32))
}

/// Reads the gateway's CFG_REPLY.
pub fn parse_reply(cp: &CpPayload) -> Result<CpReply, CpError> {
    let mut r = CpReply::default();
    for a in &cp.attributes {
        match a.ty {
            CfgAttrType::INTERNAL_IP4_ADDRESS => {
                let ip = v4(a).ok_or_else(|| bad(a, "4"))?;
                r.vips.push((IpAddr::V4(ip), 32));
            }
            CfgAttrType::INTERNAL_IP6_ADDRESS => {
                let (ip, p) = v6_prefixed(a).ok_or_else(|| bad(a, "17"))?;
                r.vips.push((IpAddr::V6(ip), p));
            }
            CfgAttrType::INTERNAL_IP4_DNS | CfgAttrType::INTERNAL_IP4_NBNS => {
                let ip = IpAddr::V4(v4(a).ok_or_else(|| bad(a, "4"))?);
                if a.ty == CfgAttrType::INTERNAL_IP4_DNS {
                    r.dns.push(ip);
                } else {
                    r.nbns.push(ip);
                }
            }
            CfgAttrType::INTERNAL_IP6_DNS => {
                let b = <[u8; 16]>::try_from(a.value.as_slice()).map_err(|_| bad(a, "16"))?;
                r.dns.push(IpAddr::V6(Ipv6Addr::from(b)));
            }
            CfgAttrType::INTERNAL_IP4_SUBNET => {
                let (addr, mask) = a
                    .value
                    .split_first_chunk::<4>()
                    .and_then(|(x, m)| Some((*x, <[u8; 4]>::try_from(m).ok()?)))
                    .ok_or_else(|| bad(a, "8"))?;
                let p = mask_len(mask).ok_or_else(|| bad(a, "8 with a contiguous netmask"))?;
                r.subnets.push((IpAddr::V4(Ipv4Addr::from(addr)), p));
            }
            CfgAttrType::INTERNAL_IP6_SUBNET => {
                let (ip, p) = v6_prefixed(a).ok_or_else(|| bad(a, "17"))?;
                r.subnets.push((IpAddr::V6(ip), p));
            }
            _ => r.other.push(a.clone()),
        }
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netmasks() {
        assert_eq!(netmask(0), [0, 0, 0, 0]);
        assert_eq!(netmask(16), [255, 255, 0, 0]);
        assert_eq!(netmask(32), [255; 4]);
        for p in 0..=32u8 {
            assert_eq!(mask_len(netmask(p)), Some(p));
        }
        assert_eq!(mask_len([255, 0, 255, 0]), None);
    }
}
