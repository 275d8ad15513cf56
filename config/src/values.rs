//! Value types and their parsers, following what strongSwan's vici plugin
//! (`vici_config.c`) and libstrongswan accept. Each parser returns a short
//! "expected ..." message on failure; callers add position and key.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// `strtoul(s, &end, 0)` with `*end == 0` required: decimal, `0x` hex or
/// leading-`0` octal, optional `+`. Unlike strtoul, an empty number or a
/// `-` sign is refused.
pub fn parse_u64_c(s: &str) -> Option<u64> {
    let s = s.trim_start();
    let s = s.strip_prefix('+').unwrap_or(s);
    let (digits, radix) = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (h, 16)
    } else if s.len() > 1 && s.starts_with('0') {
        (&s[1..], 8)
    } else {
        (s, 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// A 32-bit integer as strongSwan's `parse_uint32` reads it.
pub fn parse_u32(s: &str) -> Result<u32, String> {
    parse_u64_c(s)
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| "expected an unsigned 32-bit integer (decimal, 0x hex or 0 octal)".into())
}

/// A 64-bit integer (packet counts).
pub fn parse_u64(s: &str) -> Result<u64, String> {
    parse_u64_c(s).ok_or_else(|| "expected an unsigned integer (decimal, 0x hex or 0 octal)".into())
}

/// A boolean as strongSwan's `parse_bool` / `settings_value_as_bool`:
/// yes/true/enabled/1 and no/false/disabled/0, case-insensitive.
pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "yes" | "true" | "enabled" | "1" => Ok(true),
        "no" | "false" | "disabled" | "0" => Ok(false),
        _ => Err("expected yes/no (or true/false, enabled/disabled, 1/0)".into()),
    }
}

const DURATION_EXPECTED: &str =
    "expected a duration like 1h, 30m, 45s, 2d (a bare number is seconds)";

/// A time as strongSwan's `parse_time`: an integer (see [`parse_u64_c`]),
/// optional blanks, then an optional `s`, `m`, `h` or `d` suffix (any case).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .char_indices()
        .find(|(_, c)| {
            matches!(
                c,
                's' | 'S' | 'm' | 'M' | 'h' | 'H' | 'd' | 'D' | ' ' | '\t'
            )
        })
        .map(|(i, _)| i)
        .unwrap_or(s.len());
    // "0x1d" is hex, not 1 day: if the number is hex, take all hex digits.
    let split = if s.starts_with("0x") || s.starts_with("0X") {
        s[2..]
            .char_indices()
            .find(|(_, c)| !c.is_ascii_hexdigit())
            .map(|(i, _)| i + 2)
            .unwrap_or(s.len())
    } else {
        split
    };
    let (num, rest) = s.split_at(split);
    let n = parse_u64_c(num).ok_or_else(|| DURATION_EXPECTED.to_string())?;
    let mult = match rest.trim_start() {
        "" | "s" | "S" => 1,
        "m" | "M" => 60,
        "h" | "H" => 3600,
        "d" | "D" => 86400,
        _ => return Err(DURATION_EXPECTED.into()),
    };
    n.checked_mul(mult)
        .map(Duration::from_secs)
        .ok_or_else(|| "duration too large".into())
}

/// A byte count as strongSwan's `parse_bytes`: an integer with an optional
/// `k`, `m` or `g` suffix (binary: 1024, 1024², 1024³; any case);
/// saturates on overflow like strongSwan.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    const EXPECTED: &str = "expected a byte count like 1000000, 512k, 100m, 2g";
    let s = s.trim();
    let split = s
        .char_indices()
        .find(|(_, c)| matches!(c, 'k' | 'K' | 'm' | 'M' | 'g' | 'G' | ' ' | '\t'))
        .map(|(i, _)| i)
        .unwrap_or(s.len());
    let (num, rest) = s.split_at(split);
    let n = parse_u64_c(num).ok_or_else(|| EXPECTED.to_string())?;
    let mult: u64 = match rest.trim_start() {
        "" => 1,
        "k" | "K" => 1 << 10,
        "m" | "M" => 1 << 20,
        "g" | "G" => 1 << 30,
        _ => return Err(EXPECTED.into()),
    };
    Ok(n.saturating_mul(mult))
}

/// Splits a comma list as swanctl does for its list keys: items trimmed,
/// empty items dropped.
pub fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(String::from)
        .collect()
}

/// An XFRM interface ID (`if_id_in`/`if_id_out`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize, Default)]
pub enum IfId {
    /// A fixed ID; 0 means none.
    Id(u32),
    /// `%unique`: a unique ID per SA (both directions).
    Unique,
    /// `%unique-dir`: a unique ID per SA and direction.
    UniqueDir,
    /// Not configured (0).
    #[default]
    None,
}

impl IfId {
    /// The fixed, non-zero ID, if any.
    pub fn fixed(self) -> Option<u32> {
        match self {
            IfId::Id(n) if n != 0 => Some(n),
            _ => None,
        }
    }
}

/// Parses an interface ID like libstrongswan's `if_id_from_string`.
pub fn parse_if_id(s: &str) -> Result<IfId, String> {
    let lower = s.to_ascii_lowercase();
    match lower.as_str() {
        "%unique" => return Ok(IfId::Unique),
        "%unique-dir" => return Ok(IfId::UniqueDir),
        _ => {}
    }
    match parse_u64_c(s).and_then(|v| u32::try_from(v).ok()) {
        Some(0) => Ok(IfId::None),
        Some(0xffff_ffff) => Ok(IfId::Unique),
        Some(0xffff_fffe) => Ok(IfId::UniqueDir),
        Some(n) => Ok(IfId::Id(n)),
        None => Err("expected an interface ID: a number, 0x hex, %unique or %unique-dir".into()),
    }
}

/// The value part of a mark.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum MarkValue {
    /// A fixed value (already masked).
    Value(u32),
    /// `%unique`.
    Unique,
    /// `%unique-dir`.
    UniqueDir,
    /// `%same` (only for `set_mark_*`): the value of the matching `mark_*`.
    Same,
}

/// A Netfilter mark with mask (`value/mask`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Mark {
    /// The value.
    pub value: MarkValue,
    /// The mask; 0 with value 0 means "no mark".
    pub mask: u32,
}

impl Default for Mark {
    fn default() -> Mark {
        Mark {
            value: MarkValue::Value(0),
            mask: 0,
        }
    }
}

impl Mark {
    /// Whether a mark is configured at all.
    pub fn is_set(&self) -> bool {
        *self != Mark::default()
    }
}

/// Parses a mark like libstrongswan's `mark_from_string`: `value[/mask]`
/// with the mask defaulting to 0xffffffff; `%unique`, `%unique-dir` and
/// (if `allow_same`) `%same` as value.
pub fn parse_mark(s: &str, allow_same: bool) -> Result<Mark, String> {
    let expected = if allow_same {
        "expected a mark like 42, 0x2a/0xff, %unique, %unique-dir or %same"
    } else {
        "expected a mark like 42, 0x2a/0xff, %unique or %unique-dir"
    };
    let (v, m) = match s.split_once('/') {
        Some((v, m)) => (v, Some(m)),
        None => (s, None),
    };
    let mask = match m {
        Some(m) => parse_u64_c(m)
            .and_then(|x| u32::try_from(x).ok())
            .ok_or_else(|| expected.to_string())?,
        None => 0xffff_ffff,
    };
    let value = match v.to_ascii_lowercase().as_str() {
        "%unique" => MarkValue::Unique,
        "%unique-dir" => MarkValue::UniqueDir,
        "%same" if allow_same => MarkValue::Same,
        _ => {
            let n = parse_u64_c(v)
                .and_then(|x| u32::try_from(x).ok())
                .ok_or_else(|| expected.to_string())?;
            match n {
                0xffff_ffff if !allow_same => MarkValue::Unique,
                0xffff_fffe => MarkValue::UniqueDir,
                n => MarkValue::Value(n & mask),
            }
        }
    };
    Ok(Mark { value, mask })
}

/// An IP prefix `addr/len`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct IpNet {
    /// The address as written (host bits may be set, e.g. an interface
    /// address `10.6.106.1/30`).
    pub addr: IpAddr,
    /// Prefix length.
    pub prefix: u8,
}

impl IpNet {
    /// Whether `ip` is inside this prefix.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                let m = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(a) & m == u32::from(b) & m
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                let m = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(a) & m == u128::from(b) & m
            }
            _ => false,
        }
    }

    /// Parses `addr/len`; without `/len` only if `host_ok` (then a host
    /// prefix, /32 or /128).
    pub fn parse(s: &str, host_ok: bool) -> Result<IpNet, String> {
        let s = s.trim();
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr = IpAddr::from_str(a.trim())
            .map_err(|_| format!("expected an IP address, found '{a}'"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|&n| n <= max)
                .ok_or_else(|| format!("expected a prefix length 0..={max}, found '{p}'"))?,
            None if host_ok => max,
            None => return Err(format!("'{s}' needs a prefix length, like {a}/{max}")),
        };
        Ok(IpNet { addr, prefix })
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// An entry of `local_addrs`/`remote_addrs`.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum HostSpec {
    /// `%any` (also `0.0.0.0`/`::`), `%any4`, `%any6`: any address, or any
    /// of one family.
    Any(Option<AddrFamily>),
    /// One address.
    Addr(IpAddr),
    /// A subnet `a/len`.
    Subnet(IpNet),
    /// A range `a-b`, inclusive.
    Range(IpAddr, IpAddr),
    /// A DNS name, resolved when used.
    Dns(String),
}

/// An address family.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum AddrFamily {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

/// Parses one address specification.
pub fn parse_host(s: &str) -> Result<HostSpec, String> {
    let s = s.trim();
    match s.to_ascii_lowercase().as_str() {
        "%any" => return Ok(HostSpec::Any(None)),
        "%any4" => return Ok(HostSpec::Any(Some(AddrFamily::V4))),
        "%any6" => return Ok(HostSpec::Any(Some(AddrFamily::V6))),
        _ => {}
    }
    if let Ok(ip) = IpAddr::from_str(s) {
        return Ok(HostSpec::Addr(ip));
    }
    if s.contains('/') {
        return IpNet::parse(s, false).map(HostSpec::Subnet);
    }
    if let Some((a, b)) = s.split_once('-') {
        if let (Ok(a), Ok(b)) = (IpAddr::from_str(a.trim()), IpAddr::from_str(b.trim())) {
            if a.is_ipv4() != b.is_ipv4() {
                return Err(format!("range '{s}' mixes IPv4 and IPv6"));
            }
            if a > b {
                return Err(format!("range '{s}' ends before it starts"));
            }
            return Ok(HostSpec::Range(a, b));
        }
    }
    let dns_ok = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        && !s.is_empty();
    if dns_ok {
        Ok(HostSpec::Dns(s.to_string()))
    } else {
        Err(format!(
            "expected an IP address, subnet (a/len), range (a-b), DNS name or %any, found '{s}'"
        ))
    }
}

/// What to do (`start_action`, `close_action`, `dpd_action`): nothing,
/// install a trap policy, (re)start, or both (`trap|start`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, Serialize, Deserialize)]
pub struct Action {
    /// Install a trap policy (`trap`, `route`).
    pub trap: bool,
    /// Initiate / restart (`start`, `restart`).
    pub start: bool,
}

impl Action {
    /// No action (`none`, `clear`).
    pub const NONE: Action = Action {
        trap: false,
        start: false,
    };
}

/// Parses an action as strongSwan's `parse_action`: none/clear, trap/route,
/// start/restart, and `|`-combinations like `trap|start`.
pub fn parse_action(s: &str) -> Result<Action, String> {
    let mut a = Action::NONE;
    for part in s.split('|') {
        match part.trim().to_ascii_lowercase().as_str() {
            "none" | "clear" => {}
            "trap" | "route" => a.trap = true,
            "start" | "restart" => a.start = true,
            _ => {
                return Err(
                    "expected none, trap, start or trap|start (also clear, route, restart)".into(),
                )
            }
        }
    }
    Ok(a)
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match (self.trap, self.start) {
            (false, false) => "none",
            (true, false) => "trap",
            (false, true) => "start",
            (true, true) => "trap|start",
        })
    }
}

/// Parses one of `choices` case-insensitively.
pub fn parse_choice<T: Copy>(s: &str, choices: &[(&str, T)]) -> Result<T, String> {
    let l = s.to_ascii_lowercase();
    choices
        .iter()
        .find(|(n, _)| *n == l)
        .map(|&(_, v)| v)
        .ok_or_else(|| {
            let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
            format!("expected one of: {}", names.join(", "))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_like_strtoul() {
        assert_eq!(parse_u64_c("42"), Some(42));
        assert_eq!(parse_u64_c("0x2A"), Some(42));
        assert_eq!(parse_u64_c("052"), Some(42));
        assert_eq!(parse_u64_c("0"), Some(0));
        assert_eq!(parse_u64_c("+7"), Some(7));
        assert_eq!(parse_u64_c("-7"), None);
        assert_eq!(parse_u64_c("08"), None);
        assert_eq!(parse_u64_c(""), None);
        assert_eq!(parse_u64_c("0x"), None);
        assert!(parse_u32("4294967296").is_err());
    }

    #[test]
    fn durations() {
        let d = |s| parse_duration(s).map(|d| d.as_secs());
        assert_eq!(d("90"), Ok(90));
        assert_eq!(d("10s"), Ok(10));
        assert_eq!(d("30m"), Ok(1800));
        assert_eq!(d("1h"), Ok(3600));
        assert_eq!(d("4H"), Ok(14400));
        assert_eq!(d("2d"), Ok(172800));
        assert_eq!(d("5 m"), Ok(300));
        assert_eq!(d("0x1d"), Ok(29));
        assert!(d("1x").is_err());
        assert!(d("1.5h").is_err());
        assert!(d("h").is_err());
        assert!(d("1hh").is_err());
        assert!(d("").is_err());
    }

    #[test]
    fn bytes() {
        assert_eq!(parse_bytes("1000"), Ok(1000));
        assert_eq!(parse_bytes("2k"), Ok(2048));
        assert_eq!(parse_bytes("1M"), Ok(1 << 20));
        assert_eq!(parse_bytes("3g"), Ok(3 << 30));
        assert_eq!(parse_bytes("99999999999999g"), Ok(u64::MAX));
        assert!(parse_bytes("1t").is_err());
    }

    #[test]
    fn bools() {
        for t in ["yes", "YES", "true", "enabled", "1"] {
            assert_eq!(parse_bool(t), Ok(true));
        }
        for f in ["no", "False", "disabled", "0"] {
            assert_eq!(parse_bool(f), Ok(false));
        }
        assert!(parse_bool("maybe").is_err());
    }

    #[test]
    fn marks() {
        let m = parse_mark("42", false).unwrap();
        assert_eq!(
            m,
            Mark {
                value: MarkValue::Value(42),
                mask: 0xffff_ffff
            }
        );
        let m = parse_mark("0x1ff/0xff", false).unwrap();
        assert_eq!(
            m,
            Mark {
                value: MarkValue::Value(0xff),
                mask: 0xff
            }
        );
        assert_eq!(
            parse_mark("%unique", false).unwrap().value,
            MarkValue::Unique
        );
        assert_eq!(parse_mark("%unique-dir/0xf0", false).unwrap().mask, 0xf0);
        assert_eq!(parse_mark("%same", true).unwrap().value, MarkValue::Same);
        assert!(parse_mark("%same", false).is_err());
        assert!(parse_mark("x/1", false).is_err());
        assert!(!parse_mark("0/0", false).unwrap().is_set());
    }

    #[test]
    fn if_ids() {
        assert_eq!(parse_if_id("7"), Ok(IfId::Id(7)));
        assert_eq!(parse_if_id("0x10"), Ok(IfId::Id(16)));
        assert_eq!(parse_if_id("0"), Ok(IfId::None));
        assert_eq!(parse_if_id("%unique"), Ok(IfId::Unique));
        assert_eq!(parse_if_id("%UNIQUE-dir"), Ok(IfId::UniqueDir));
        assert!(parse_if_id("%uniquex").is_err());
    }

    #[test]
    fn hosts() {
        assert_eq!(parse_host("%any"), Ok(HostSpec::Any(None)));
        assert_eq!(parse_host("%any6"), Ok(HostSpec::Any(Some(AddrFamily::V6))));
        assert!(matches!(parse_host("192.0.2.1"), Ok(HostSpec::Addr(_))));
        assert!(matches!(parse_host("2001:db8::1"), Ok(HostSpec::Addr(_))));
        assert!(matches!(parse_host("10.0.0.0/8"), Ok(HostSpec::Subnet(_))));
        assert!(matches!(
            parse_host("10.0.0.1-10.0.0.9"),
            Ok(HostSpec::Range(..))
        ));
        assert!(matches!(
            parse_host("vpn.example.org"),
            Ok(HostSpec::Dns(_))
        ));
        assert!(parse_host("10.0.0.9-10.0.0.1").is_err());
        assert!(parse_host("a b").is_err());
    }

    #[test]
    fn actions() {
        assert_eq!(parse_action("none"), Ok(Action::NONE));
        assert_eq!(
            parse_action("trap|start"),
            Ok(Action {
                trap: true,
                start: true
            })
        );
        assert_eq!(
            parse_action("restart"),
            Ok(Action {
                trap: false,
                start: true
            })
        );
        assert_eq!(parse_action("route").unwrap().to_string(), "trap");
        assert!(parse_action("hold").is_err());
    }

    #[test]
    fn nets() {
        let n = IpNet::parse("10.6.106.1/30", false).unwrap();
        assert!(n.contains("10.6.106.2".parse().unwrap()));
        assert!(!n.contains("10.6.106.5".parse().unwrap()));
        assert!(IpNet::parse("10.6.106.1", false).is_err());
        assert_eq!(IpNet::parse("10.6.106.1", true).unwrap().prefix, 32);
        let z = IpNet::parse("::/0", false).unwrap();
        assert!(z.contains("2001:db8::1".parse().unwrap()));
        assert!(IpNet::parse("1.2.3.4/33", false).is_err());
    }
}
