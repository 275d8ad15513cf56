//! `pools { NAME { addrs = ..., dns = ..., ... } }`: named pools of
//! virtual IP addresses and the configuration attributes that go with
//! them, with the meaning strongSwan gives them (swanctl.conf(5),
//! `src/swanctl/swanctl.opt`; the pool arithmetic of
//! `src/libcharon/attributes/mem_pool.c`; the attribute keys of the vici
//! plugin's `vici_attribute.c`). A connection names its pools with
//! `pools = NAME[, NAME]`.
//!
//! The same section shape arrives over VICI (`load-pool`, what
//! `swanctl --load-pools` sends), so [`pool_from_section`] serves both.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{ConfigError, Location, Warning};
use crate::reader::Reader;
use crate::settings::Section;
use crate::values;

/// The largest pool: 2^31 addresses, strongSwan's `POOL_LIMIT` (a larger
/// subnet is cut to its first 2^31 addresses, with a warning).
pub const MAX_POOL_SIZE: u32 = 1 << 31;

/// The longest attribute value: a configuration attribute's length field
/// is 16 bits (RFC 7296 §3.15.1) and the attribute header takes 4 bytes.
pub const MAX_ATTRIBUTE_LEN: usize = u16::MAX as usize - 4;

/// Where a pool's addresses come from (`addrs`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum PoolAddrs {
    /// `addrs = 10.9.0.0/24`: a subnet. As in strongSwan, the network ID
    /// and the broadcast address are not handed out, and if the address
    /// is not the network ID (`10.9.0.5/24`), addresses below it are not
    /// either (they can be given to internal hosts, the gateway itself).
    Subnet {
        /// The address as written.
        addr: IpAddr,
        /// The prefix length.
        prefix: u8,
    },
    /// `addrs = 10.9.0.10-10.9.0.99`: every address of the range,
    /// both ends included (all but the last 32 bits of the two ends
    /// equal).
    Range {
        /// The first address.
        from: IpAddr,
        /// The last address.
        to: IpAddr,
    },
    /// `addrs = %config` (also `%config4`, `%config6`, `%cfg`): no
    /// addresses of its own; a client is given the address it asks for,
    /// as ipsec.conf's `rightsourceip = %config` does in strongSwan (an
    /// empty `mem_pool`). Nothing is leased. swanctl's own vici plugin
    /// has no such pool; vtid accepts it from a file and over VICI.
    Config(Option<crate::values::AddrFamily>),
}

impl PoolAddrs {
    /// Parses `addrs`: a subnet `a/len`, a range `a-b` or `%config`.
    pub fn parse(s: &str) -> Result<PoolAddrs, String> {
        let s = s.trim();
        match s.to_ascii_lowercase().as_str() {
            "%config" | "%cfg" => return Ok(PoolAddrs::Config(None)),
            "%config4" => return Ok(PoolAddrs::Config(Some(values::AddrFamily::V4))),
            "%config6" => return Ok(PoolAddrs::Config(Some(values::AddrFamily::V6))),
            _ => {}
        }
        const EXPECTED: &str =
            "expected a subnet (10.9.0.0/24), a range (10.9.0.10-10.9.0.99) or %config";
        let addrs = if let Some((a, b)) = s.split_once('-') {
            let from = IpAddr::from_str(a.trim()).map_err(|_| EXPECTED.to_string())?;
            let to = IpAddr::from_str(b.trim()).map_err(|_| EXPECTED.to_string())?;
            PoolAddrs::Range { from, to }
        } else if s.contains('/') {
            let net = values::IpNet::parse(s, false)?;
            PoolAddrs::Subnet {
                addr: net.addr,
                prefix: net.prefix,
            }
        } else {
            return Err(EXPECTED.into());
        };
        addrs.span().map(|_| addrs)
    }

    /// The addresses handed out: the first one and how many follow it
    /// (`None` for a `%config` pool). Computed as strongSwan's
    /// `mem_pool_create` and `mem_pool_create_range` do; an error if the
    /// pool would be empty or a range is malformed.
    pub fn span(&self) -> Result<Option<PoolSpan>, String> {
        match *self {
            PoolAddrs::Config(_) => Ok(None),
            PoolAddrs::Subnet { addr, prefix } => {
                let addr_bits: u32 = if addr.is_ipv4() { 32 } else { 128 };
                let prefix = u32::from(prefix).min(addr_bits);
                // Host bits, limited to 31 (POOL_LIMIT).
                let host_bits = (addr_bits - prefix).min(31);
                let mut size: u32 = 1 << host_bits;
                let mut first = to_u128(addr);
                // How far the address is above the network ID, within the
                // last 32 bits (mem_pool.c's network_id_diff).
                let diff = (first as u32) & (size.wrapping_sub(1));
                // diff < size: these never go below zero (saturating
                // only to say so to the reader and the checker).
                if size > 2 {
                    if diff == 0 {
                        first = first.saturating_add(1);
                        size = size.saturating_sub(1);
                    } else {
                        size = size.saturating_sub(diff);
                    }
                    // The broadcast address.
                    size = size.saturating_sub(1);
                } else if diff != 0 {
                    // A /31 (or /127) written with its second address:
                    // only that one.
                    size = size.saturating_sub(1);
                }
                if size == 0 {
                    return Err(format!("pool {addr}/{prefix} is empty"));
                }
                Ok(Some(PoolSpan {
                    first: from_u128(first, addr.is_ipv4()),
                    size,
                }))
            }
            PoolAddrs::Range { from, to } => {
                if from.is_ipv4() != to.is_ipv4() {
                    return Err(format!("range {from}-{to} mixes IPv4 and IPv6"));
                }
                let (a, b) = (to_u128(from), to_u128(to));
                if a > b {
                    return Err(format!("range {from}-{to} ends before it starts"));
                }
                if a >> 32 != b >> 32 {
                    return Err(format!(
                        "range {from}-{to} is too large (only the last 32 bits may differ)"
                    ));
                }
                let size = b - a + 1;
                if size > u128::from(MAX_POOL_SIZE) {
                    return Err(format!(
                        "range {from}-{to} is too large (at most {MAX_POOL_SIZE} addresses)"
                    ));
                }
                Ok(Some(PoolSpan {
                    first: from,
                    size: size as u32,
                }))
            }
        }
    }

    /// Whether the subnet was cut to [`MAX_POOL_SIZE`] addresses.
    pub fn is_limited(&self) -> bool {
        match *self {
            PoolAddrs::Subnet { addr, prefix } => {
                let addr_bits: u32 = if addr.is_ipv4() { 32 } else { 128 };
                addr_bits.saturating_sub(u32::from(prefix)) > 31
            }
            _ => false,
        }
    }
}

impl fmt::Display for PoolAddrs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PoolAddrs::Subnet { addr, prefix } => write!(f, "{addr}/{prefix}"),
            PoolAddrs::Range { from, to } => write!(f, "{from}-{to}"),
            PoolAddrs::Config(None) => f.write_str("%config"),
            PoolAddrs::Config(Some(values::AddrFamily::V4)) => f.write_str("%config4"),
            PoolAddrs::Config(Some(values::AddrFamily::V6)) => f.write_str("%config6"),
        }
    }
}

/// The addresses of a pool: `size` consecutive addresses from `first`
/// (1 ≤ size ≤ [`MAX_POOL_SIZE`]; they never cross a 2^32 boundary).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct PoolSpan {
    /// The first address handed out (strongSwan's pool "base").
    pub first: IpAddr,
    /// How many addresses.
    pub size: u32,
}

impl PoolSpan {
    /// The `index`-th address (0-based), if `index < size`.
    pub fn addr(&self, index: u32) -> Option<IpAddr> {
        (index < self.size).then(|| {
            from_u128(
                to_u128(self.first) + u128::from(index),
                self.first.is_ipv4(),
            )
        })
    }

    /// The index of `addr` in the pool, if it is one of its addresses.
    pub fn index(&self, addr: IpAddr) -> Option<u32> {
        if addr.is_ipv4() != self.first.is_ipv4() {
            return None;
        }
        let d = to_u128(addr).checked_sub(to_u128(self.first))?;
        u32::try_from(d).ok().filter(|&i| i < self.size)
    }

    /// The last address.
    pub fn last(&self) -> IpAddr {
        from_u128(
            to_u128(self.first) + u128::from(self.size) - 1,
            self.first.is_ipv4(),
        )
    }

    /// Whether two spans share an address.
    pub fn overlaps(&self, other: &PoolSpan) -> bool {
        if self.first.is_ipv4() != other.first.is_ipv4() {
            return false;
        }
        let (a0, a1) = (to_u128(self.first), to_u128(self.last()));
        let (b0, b1) = (to_u128(other.first), to_u128(other.last()));
        a0 <= b1 && b0 <= a1
    }
}

fn to_u128(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

fn from_u128(v: u128, v4: bool) -> IpAddr {
    if v4 {
        IpAddr::V4(Ipv4Addr::from(v as u32))
    } else {
        IpAddr::V6(Ipv6Addr::from(v))
    }
}

/// What a pool attribute is (the key in the pool section).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum AttrKind {
    /// `address`: INTERNAL_IP4/6_ADDRESS.
    Address,
    /// `dns`: INTERNAL_IP4/6_DNS.
    Dns,
    /// `nbns`: INTERNAL_IP4/6_NBNS (WINS).
    Nbns,
    /// `dhcp`: INTERNAL_IP4/6_DHCP.
    Dhcp,
    /// `netmask`: INTERNAL_IP4/6_NETMASK.
    Netmask,
    /// `server`: strongSwan's private INTERNAL_IP4/6_SERVER.
    Server,
    /// `subnet`: INTERNAL_IP4/6_SUBNET (the protected networks).
    Subnet,
    /// `p_cscf`: P_CSCF_IP4/6_ADDRESS (RFC 7651).
    PCscf,
    /// `split_include`: Cisco Unity's UNITY_SPLIT_INCLUDE.
    SplitInclude,
    /// `split_exclude`: Cisco Unity's UNITY_LOCAL_LAN.
    SplitExclude,
    /// A number: the attribute type itself (1..=32767).
    Numeric(u16),
}

impl AttrKind {
    /// The named kinds and their swanctl.conf keys.
    pub const NAMED: [(&'static str, AttrKind); 10] = [
        ("address", AttrKind::Address),
        ("dns", AttrKind::Dns),
        ("nbns", AttrKind::Nbns),
        ("dhcp", AttrKind::Dhcp),
        ("netmask", AttrKind::Netmask),
        ("server", AttrKind::Server),
        ("subnet", AttrKind::Subnet),
        ("p_cscf", AttrKind::PCscf),
        ("split_include", AttrKind::SplitInclude),
        ("split_exclude", AttrKind::SplitExclude),
    ];

    /// The kind a pool key names: one of [`AttrKind::NAMED`] or a
    /// number 1..=32767 (the attribute type field is 15 bits, RFC 7296
    /// §3.15.1).
    pub fn from_key(key: &str) -> Option<AttrKind> {
        if let Some(&(_, k)) = Self::NAMED.iter().find(|(n, _)| *n == key) {
            return Some(k);
        }
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        key.parse::<u16>()
            .ok()
            .filter(|&n| (1..=0x7fff).contains(&n))
            .map(AttrKind::Numeric)
    }

    /// The swanctl.conf key.
    pub fn key(&self) -> String {
        match self {
            AttrKind::Numeric(n) => n.to_string(),
            k => Self::NAMED
                .iter()
                .find(|(_, x)| x == k)
                .map(|(n, _)| (*n).to_string())
                .unwrap_or_default(),
        }
    }
}

/// A pool attribute's value.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum AttrValue {
    /// An address.
    Addr(IpAddr),
    /// A subnet `addr/len` (encoded with a netmask for IPv4, a prefix
    /// length for IPv6, as strongSwan does).
    Net(IpAddr, u8),
    /// Bytes, for numeric attributes whose value is not an address (a
    /// string as written).
    Raw(Vec<u8>),
}

impl fmt::Display for AttrValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttrValue::Addr(a) => write!(f, "{a}"),
            AttrValue::Net(a, p) => write!(f, "{a}/{p}"),
            AttrValue::Raw(b) => f.write_str(&String::from_utf8_lossy(b)),
        }
    }
}

/// One configuration attribute of a pool.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct PoolAttr {
    /// What it is.
    pub kind: AttrKind,
    /// Its value.
    pub value: AttrValue,
}

impl PoolAttr {
    /// Parses one item of an attribute list, as `vici_attribute.c`'s
    /// `pool_li` does: a subnet if it has a `/`, else an address; a named
    /// kind must be one of those, a numeric one may be any text.
    pub fn parse(kind: AttrKind, item: &str) -> Result<PoolAttr, String> {
        let item = item.trim();
        let parsed = if item.contains('/') {
            values::IpNet::parse(item, false)
                .ok()
                .map(|n| AttrValue::Net(n.addr, n.prefix))
        } else {
            IpAddr::from_str(item).ok().map(AttrValue::Addr)
        };
        let value = match (parsed, kind) {
            (Some(v), _) => v,
            (None, AttrKind::Numeric(_)) => {
                if item.len() > MAX_ATTRIBUTE_LEN {
                    return Err(format!(
                        "attribute value longer than {MAX_ATTRIBUTE_LEN} bytes"
                    ));
                }
                AttrValue::Raw(item.as_bytes().to_vec())
            }
            (None, _) => {
                return Err(format!(
                    "expected IP addresses or subnets (a/len), found '{item}'"
                ))
            }
        };
        Ok(PoolAttr { kind, value })
    }

    /// Whether the value is an IPv6 address or subnet (`None` for raw
    /// values).
    pub fn is_ipv6(&self) -> Option<bool> {
        match self.value {
            AttrValue::Addr(a) | AttrValue::Net(a, _) => Some(a.is_ipv6()),
            AttrValue::Raw(_) => None,
        }
    }
}

/// A named pool (`pools.NAME`).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Pool {
    /// The section name.
    pub name: String,
    /// `addrs`.
    pub addrs: PoolAddrs,
    /// Every other key, in the order written, one entry per list item.
    pub attrs: Vec<PoolAttr>,
    /// Where it is defined (`None` if it came over VICI).
    #[serde(skip)]
    pub location: Option<Location>,
}

impl Pool {
    /// The addresses it hands out (see [`PoolAddrs::span`]).
    pub fn span(&self) -> Option<PoolSpan> {
        self.addrs.span().ok().flatten()
    }

    /// The pool's name with where it is defined, for messages.
    pub fn describe(&self) -> String {
        match &self.location {
            Some(l) => format!("pool '{}' ({l})", self.name),
            None => format!("pool '{}'", self.name),
        }
    }
}

/// Reads one pool section (`pools.NAME`, or a `load-pool` request's
/// section). Unknown keys are errors, as in strongSwan's vici plugin
/// ("invalid attribute"): a key that is neither `addrs`, a named
/// attribute nor a number cannot be sent to clients.
pub fn pool_from_section(sec: &Section, warnings: &mut Vec<Warning>) -> Result<Pool, ConfigError> {
    let mut r = Reader::new(sec, format!("pools.{}", sec.name));
    if !is_pool_name(&sec.name) {
        return Err(ConfigError::invalid(
            &sec.location,
            format!(
                "pool name '{}' must be 1-64 printable characters without blanks",
                sec.name
            ),
        ));
    }
    let Some(addrs) = r.parse("addrs", PoolAddrs::parse)? else {
        return Err(ConfigError::invalid(
            &sec.location,
            format!("pool '{}' has no 'addrs'", sec.name),
        ));
    };
    if addrs.is_limited() {
        if let Some(kv) = r.kv("addrs") {
            let span = addrs.span().ok().flatten();
            warnings.push(Warning::new(
                &kv.location,
                format!(
                    "pool '{}': {addrs} is larger than {MAX_POOL_SIZE} addresses; only {} \
                     from {} are handed out",
                    sec.name,
                    span.map(|s| s.size).unwrap_or(0),
                    span.map(|s| s.first.to_string()).unwrap_or_default(),
                ),
            ));
        }
    }
    let mut attrs = Vec::new();
    for kv in r.keys(|k| k != "addrs") {
        let Some(kind) = AttrKind::from_key(&kv.key) else {
            let names: Vec<&str> = AttrKind::NAMED.iter().map(|(n, _)| *n).collect();
            return Err(ConfigError::Value {
                location: kv.location.clone(),
                key: format!("pools.{}.{}", sec.name, kv.key),
                message: format!(
                    "not a pool attribute: expected addrs, {} or an attribute type number \
                     1..32767",
                    names.join(", ")
                ),
            });
        };
        for item in values::split_list(kv.value.as_deref().unwrap_or_default()) {
            let a = PoolAttr::parse(kind, &item).map_err(|m| r.value_error(kv, m))?;
            attrs.push(a);
        }
    }
    if let Some(s) = r.sections(|_| true).first() {
        return Err(ConfigError::invalid(
            &s.location,
            format!(
                "'pools.{}.{}': a pool has no subsections (only addrs and attributes)",
                sec.name, s.name
            ),
        ));
    }
    r.finish(warnings);
    Ok(Pool {
        name: sec.name.clone(),
        addrs,
        attrs,
        location: (sec.location.line != 0).then(|| sec.location.clone()),
    })
}

fn is_pool_name(n: &str) -> bool {
    !n.is_empty() && n.len() <= 64 && n.chars().all(|c| c.is_ascii_graphic())
}

/// Reads the `pools` section: every pool, each checked; two pools may not
/// share an address (swanctl.opt: "Pools must be unique and
/// non-overlapping"; handing one address to two clients would let one
/// receive the other's traffic).
pub(crate) fn pools_from_section(
    sec: &Section,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<Pool>, ConfigError> {
    let mut out: Vec<Pool> = Vec::new();
    let mut top = Reader::new(sec, "pools");
    for s in top.sections(|_| true) {
        let pool = pool_from_section(s, warnings)?;
        if let Some(other) = overlapping(&pool, &out) {
            return Err(ConfigError::invalid(
                &s.location,
                format!(
                    "pool '{}' ({}) shares addresses with {} ({}); pools must not overlap",
                    pool.name,
                    pool.addrs,
                    other.describe(),
                    other.addrs
                ),
            ));
        }
        out.push(pool);
    }
    top.finish(warnings);
    Ok(out)
}

/// The first pool of `others` (other than one of the same name) that
/// shares an address with `pool`.
pub fn overlapping<'a>(pool: &Pool, others: &'a [Pool]) -> Option<&'a Pool> {
    let span = pool.span()?;
    others
        .iter()
        .find(|o| o.name != pool.name && o.span().is_some_and(|os| os.overlaps(&span)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(s: &str) -> (String, u32) {
        let sp = PoolAddrs::parse(s).unwrap().span().unwrap().unwrap();
        (sp.first.to_string(), sp.size)
    }

    // The cases of strongSwan's src/libcharon/tests/suites/test_mem_pool.c
    // (test_cidr, test_cidr_offset, test_range): base and size.
    #[test]
    fn subnets_as_mem_pool() {
        assert_eq!(span("192.168.0.0/32"), ("192.168.0.0".into(), 1));
        assert_eq!(span("192.168.0.0/31"), ("192.168.0.0".into(), 2));
        assert_eq!(span("192.168.0.0/30"), ("192.168.0.1".into(), 2));
        assert_eq!(span("192.168.0.0/29"), ("192.168.0.1".into(), 6));
        assert_eq!(span("192.168.0.0/24"), ("192.168.0.1".into(), 254));
        assert_eq!(span("192.168.0.1/31"), ("192.168.0.1".into(), 1));
        assert_eq!(span("192.168.0.1/30"), ("192.168.0.1".into(), 2));
        assert_eq!(span("192.168.0.1/24"), ("192.168.0.1".into(), 254));
        assert_eq!(span("192.168.0.2/30"), ("192.168.0.2".into(), 1));
        assert_eq!(span("192.168.0.2/24"), ("192.168.0.2".into(), 253));
        assert_eq!(span("192.168.0.254/24"), ("192.168.0.254".into(), 1));
        assert!(PoolAddrs::parse("192.168.0.255/24").is_err());
    }

    #[test]
    fn ranges_as_mem_pool() {
        assert_eq!(span("192.168.0.0-192.168.0.0"), ("192.168.0.0".into(), 1));
        assert_eq!(span("192.168.0.0-192.168.0.1"), ("192.168.0.0".into(), 2));
        assert_eq!(
            span("192.168.0.10-192.168.0.20"),
            ("192.168.0.10".into(), 11)
        );
        assert!(PoolAddrs::parse("192.168.0.10-192.168.0.1").is_err());
        assert!(PoolAddrs::parse("fec::1-fed::1").is_err());
        assert!(PoolAddrs::parse("10.0.0.1-2001:db8::1").is_err());
        assert!(PoolAddrs::parse("0.0.0.0-255.255.255.255").is_err());
        assert_eq!(
            span("2001:db8::1-2001:db8::ff"),
            ("2001:db8::1".into(), 255)
        );
    }

    #[test]
    fn large_subnets_are_limited() {
        let a = PoolAddrs::parse("2001:db8::/64").unwrap();
        assert!(a.is_limited());
        assert_eq!(span("2001:db8::/64"), ("2001:db8::1".into(), (1 << 31) - 2));
        assert_eq!(span("0.0.0.0/0"), ("0.0.0.1".into(), (1 << 31) - 2));
        // Cut to 31 host bits, the address is 0x0a000000 above that
        // block's network ID (mem_pool.c's network_id_diff).
        assert_eq!(span("10.0.0.0/0"), ("10.0.0.0".into(), 0x75ff_ffff));
        assert!(!PoolAddrs::parse("10.0.0.0/8").unwrap().is_limited());
    }

    #[test]
    fn config_pools() {
        assert_eq!(PoolAddrs::parse("%config"), Ok(PoolAddrs::Config(None)));
        assert_eq!(
            PoolAddrs::parse("%CONFIG6"),
            Ok(PoolAddrs::Config(Some(values::AddrFamily::V6)))
        );
        assert_eq!(PoolAddrs::parse("%config").unwrap().span(), Ok(None));
        assert!(PoolAddrs::parse("10.0.0.1").is_err());
        assert!(PoolAddrs::parse("").is_err());
    }

    #[test]
    fn span_index_and_overlap() {
        let s = PoolAddrs::parse("10.9.0.0/24")
            .unwrap()
            .span()
            .unwrap()
            .unwrap();
        assert_eq!(s.addr(0), Some("10.9.0.1".parse().unwrap()));
        assert_eq!(s.addr(253), Some("10.9.0.254".parse().unwrap()));
        assert_eq!(s.addr(254), None);
        assert_eq!(s.index("10.9.0.1".parse().unwrap()), Some(0));
        assert_eq!(s.index("10.9.0.255".parse().unwrap()), None);
        assert_eq!(s.index("10.9.0.0".parse().unwrap()), None);
        assert_eq!(s.index("::1".parse().unwrap()), None);
        let t = PoolAddrs::parse("10.9.0.254-10.9.1.10")
            .unwrap()
            .span()
            .unwrap()
            .unwrap();
        assert!(s.overlaps(&t) && t.overlaps(&s));
        let u = PoolAddrs::parse("10.9.0.255-10.9.1.10")
            .unwrap()
            .span()
            .unwrap()
            .unwrap();
        assert!(!s.overlaps(&u));
    }

    #[test]
    fn attributes() {
        let a = PoolAttr::parse(AttrKind::Dns, "10.9.0.53").unwrap();
        assert_eq!(a.value, AttrValue::Addr("10.9.0.53".parse().unwrap()));
        let a = PoolAttr::parse(AttrKind::SplitInclude, "10.1.0.0/16").unwrap();
        assert_eq!(a.value, AttrValue::Net("10.1.0.0".parse().unwrap(), 16));
        assert!(PoolAttr::parse(AttrKind::Dns, "dns.example").is_err());
        let a = PoolAttr::parse(AttrKind::Numeric(25), "example.org").unwrap();
        assert_eq!(a.value, AttrValue::Raw(b"example.org".to_vec()));
        assert_eq!(AttrKind::from_key("28673"), Some(AttrKind::Numeric(28673)));
        assert_eq!(AttrKind::from_key("32768"), None);
        assert_eq!(AttrKind::from_key("0"), None);
        assert_eq!(AttrKind::from_key("+5"), None);
        assert_eq!(
            AttrKind::from_key("split_include"),
            Some(AttrKind::SplitInclude)
        );
        assert_eq!(AttrKind::SplitExclude.key(), "split_exclude");
        assert_eq!(AttrKind::Numeric(7).key(), "7");
    }
}
