//! The swanctl.conf model ([`config::Config`]) → the engine's configuration
//! ([`PeerConfig`], [`ChildConfig`], [`SharedKey`], [`EngineConfig`]).
//!
//! Whatever the engine cannot do yet becomes a warning naming the
//! connection and the key; a connection or child that cannot work at all
//! (certificate authentication, AH, an unparsable proposal, ...) is left
//! out with a warning. Nothing is ignored silently, nothing panics.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::time::Duration;

use config::{
    AuthConfig, Child, Config, Connection, Daemon, Fragmentation, HostSpec, IfId, SecretKind,
};
use ike::crypto::SecretBytes;
use ike::engine::{
    AddrMatch, ChildConfig, EngineConfig, Mode, PeerAction, PeerConfig, SharedKey, Ts, TsSpec,
    Unique,
};
use ike::proposal::{legacy_algorithms, parse_proposals_lenient};
use ike::wire::Identification;
use ike::wire::ProtocolId;

/// Reqids given to children with `reqid = 0`, by (connection, child), kept
/// across reloads so an unchanged child keeps the reqid its SAs carry.
pub type ReqidMap = BTreeMap<(String, String), u32>;

/// What the conversion needs from the host: DNS and routing.
pub trait HostEnv {
    /// Resolves a DNS name of `remote_addrs`/`local_addrs`.
    fn resolve(&self, name: &str) -> Result<Vec<IpAddr>, String>;
    /// Our source address towards `remote` (a routing lookup).
    fn source_for(&self, remote: IpAddr) -> Option<IpAddr>;
}

/// The real host: the system resolver, and the kernel's route lookup by
/// connecting a UDP socket (nothing is sent).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemEnv;

impl HostEnv for SystemEnv {
    fn resolve(&self, name: &str) -> Result<Vec<IpAddr>, String> {
        (name, 0u16)
            .to_socket_addrs()
            .map(|it| it.map(|a| a.ip()).collect())
            .map_err(|e| e.to_string())
    }

    fn source_for(&self, remote: IpAddr) -> Option<IpAddr> {
        source_address(remote)
    }
}

/// Our source address towards `remote` as the kernel routes it.
pub fn source_address(remote: IpAddr) -> Option<IpAddr> {
    let any: SocketAddr = if remote.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let s = UdpSocket::bind(any).ok()?;
    s.connect((remote, 500)).ok()?;
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_unspecified()).then_some(ip)
}

/// The result of a conversion.
#[derive(Debug)]
pub struct Converted {
    /// Daemon-wide engine settings.
    pub engine: EngineConfig,
    /// The connections the engine can run.
    pub peers: Vec<PeerConfig>,
    /// IKE pre-shared keys.
    pub keys: Vec<SharedKey>,
    /// `(connection, child)` pairs with `start_action = start`.
    pub start: Vec<(String, String)>,
    /// `(connection, child)` pairs with `start_action = trap`.
    pub trap: Vec<(String, String)>,
    /// Automatic reqids handed out (feed them to the next conversion).
    pub reqids: ReqidMap,
    /// Everything the operator should know, one message each, naming the
    /// connection and the key.
    pub warnings: Vec<String>,
}

/// Converts a loaded configuration. `previous` are the automatic reqids of
/// the running configuration (empty at start-up); `transport_mode` tells
/// whether the data plane can carry transport mode.
pub fn convert(
    cfg: &Config,
    previous: &ReqidMap,
    env: &dyn HostEnv,
    transport_mode: bool,
) -> Converted {
    let mut warnings = Vec::new();
    let mut engine = engine_config(&cfg.daemon, &mut warnings);
    engine.transport_mode_supported = transport_mode;
    let reqids = assign_reqids(cfg, previous);
    let mut peers = Vec::new();
    let mut start = Vec::new();
    let mut trap = Vec::new();
    for conn in &cfg.connections {
        let mut w = Warn {
            conn: &conn.name,
            out: &mut warnings,
        };
        if let Some(p) = peer_config(cfg, conn, &reqids, env, &engine, &mut w) {
            for child in &conn.children {
                if !p.children.iter().any(|c| c.name == child.name) {
                    continue;
                }
                let key = (conn.name.clone(), child.name.clone());
                if child.start_action.start {
                    start.push(key.clone());
                }
                if child.start_action.trap {
                    w.key(
                        &format!("children.{}.start_action", child.name),
                        "trap policies need a data plane with traffic-triggered \
                         initiation; no trap installed",
                    );
                    trap.push(key);
                }
            }
            peers.push(p);
        }
    }
    legacy_warnings(&peers, &mut warnings);
    let keys = shared_keys(cfg, &mut warnings);
    Converted {
        engine,
        peers,
        keys,
        start,
        trap,
        reqids,
        warnings,
    }
}

/// One warning per legacy algorithm in use (RFC 8221/8247 no longer
/// recommend it), naming where it is configured.
fn legacy_warnings(peers: &[PeerConfig], warnings: &mut Vec<String>) {
    let mut seen: Vec<(&'static str, Vec<String>)> = Vec::new();
    let mut note = |why: &'static str, place: String| match seen.iter_mut().find(|(w, _)| *w == why)
    {
        Some((_, places)) => {
            if !places.contains(&place) {
                places.push(place)
            }
        }
        None => seen.push((why, vec![place])),
    };
    for p in peers {
        for prop in &p.proposals {
            for why in legacy_algorithms(prop) {
                note(why, format!("connection '{}' proposals", p.name));
            }
        }
        for c in &p.children {
            for prop in &c.esp_proposals {
                for why in legacy_algorithms(prop) {
                    note(
                        why,
                        format!("connection '{}' children.{}.esp_proposals", p.name, c.name),
                    );
                }
            }
        }
    }
    for (why, places) in seen {
        warnings.push(format!(
            "weak legacy algorithm configured: {why}; used by {}",
            places.join(", ")
        ));
    }
}

/// A swanctl proposal list, dropping only the proposals that cannot be
/// built (issue 15 §3), each with a warning that names it.
fn proposals(
    protocol: ProtocolId,
    list: &[String],
) -> Result<(Vec<ike::wire::Proposal>, Vec<String>), String> {
    let text = if list.is_empty() {
        "default".to_string()
    } else {
        list.join(",")
    };
    match parse_proposals_lenient(protocol, &text) {
        Ok(l) => Ok((
            l.proposals,
            l.dropped
                .iter()
                .map(|e| format!("{e}; that proposal is left out, the others are used"))
                .collect(),
        )),
        Err(e) => Err(e.to_string()),
    }
}

struct Warn<'a> {
    conn: &'a str,
    out: &'a mut Vec<String>,
}

impl Warn<'_> {
    fn key(&mut self, key: &str, msg: &str) {
        self.out
            .push(format!("connection '{}': {key}: {msg}", self.conn));
    }
    fn skip(&mut self, msg: &str) {
        self.out.push(format!(
            "connection '{}': {msg}; connection not loaded",
            self.conn
        ));
    }
}

/// `vtid { }` → [`EngineConfig`].
pub fn engine_config(d: &Daemon, warnings: &mut Vec<String>) -> EngineConfig {
    let def = EngineConfig::default();
    if d.retransmit_jitter != 0 {
        warnings.push("vtid.retransmit_jitter: not supported by the engine yet; ignored".into());
    }
    if d.retransmit_limit != 0 {
        warnings.push("vtid.retransmit_limit: not supported by the engine yet; ignored".into());
    }
    EngineConfig {
        retransmit_timeout: Duration::from_secs_f64(d.retransmit_timeout.min(3600.0)),
        retransmit_base: d.retransmit_base,
        retransmit_tries: d.retransmit_tries,
        cookie_threshold: d.cookie_threshold as usize,
        init_limit_half_open: d.init_limit_half_open as usize,
        keep_alive: d.keep_alive,
        delete_rekeyed_delay: d.delete_rekeyed_delay,
        make_before_break: d.make_before_break,
        fragment_size: d.fragment_size as usize,
        port: d.port,
        port_nat_t: d.port_nat_t,
        ..def
    }
}

/// Automatic reqids: the previous assignment of a child if it is still free,
/// else the next from the config crate's allocator (which skips interface
/// and explicit reqids).
pub fn assign_reqids(cfg: &Config, previous: &ReqidMap) -> ReqidMap {
    let reserved = cfg.reserved_reqids();
    let mut alloc = cfg.reqid_allocator();
    let mut out = ReqidMap::new();
    let mut kept = BTreeSet::new();
    let auto: Vec<(String, String)> = cfg
        .connections
        .iter()
        .flat_map(|c| {
            c.children
                .iter()
                .filter(|ch| ch.reqid == 0)
                .map(move |ch| (c.name.clone(), ch.name.clone()))
        })
        .collect();
    for key in &auto {
        if let Some(&r) = previous.get(key) {
            if !reserved.contains(&r) && kept.insert(r) {
                alloc.reserve(r);
                out.insert(key.clone(), r);
            }
        }
    }
    for key in auto {
        if out.contains_key(&key) {
            continue;
        }
        if let Some(r) = alloc.allocate() {
            out.insert(key, r);
        }
    }
    out
}

fn host_specs(
    specs: &[HostSpec],
    key: &str,
    env: &dyn HostEnv,
    w: &mut Warn<'_>,
) -> Vec<AddrMatch> {
    let mut out = Vec::new();
    for s in specs {
        match s {
            HostSpec::Any(None) => out.push(AddrMatch::Any),
            HostSpec::Any(Some(config::AddrFamily::V4)) => out.push(AddrMatch::Any4),
            HostSpec::Any(Some(config::AddrFamily::V6)) => out.push(AddrMatch::Any6),
            HostSpec::Addr(a) if a.is_unspecified() => out.push(if a.is_ipv4() {
                AddrMatch::Any4
            } else {
                AddrMatch::Any6
            }),
            HostSpec::Addr(a) => out.push(AddrMatch::Addr(*a)),
            HostSpec::Subnet(n) => out.push(AddrMatch::Net(n.addr, n.prefix)),
            HostSpec::Range(a, b) => out.push(AddrMatch::Range(*a, *b)),
            HostSpec::Dns(name) => match env.resolve(name) {
                Ok(ips) if !ips.is_empty() => {
                    for ip in ips {
                        if !out.contains(&AddrMatch::Addr(ip)) {
                            out.push(AddrMatch::Addr(ip));
                        }
                    }
                }
                Ok(_) => w.key(key, &format!("'{name}' resolved to no address; left out")),
                Err(e) => w.key(key, &format!("cannot resolve '{name}': {e}; left out")),
            },
        }
    }
    out
}

/// Parses an identity as strongSwan's `identification_create_from_string`:
///
/// * `%any`, `%any6`, `*`, `0.0.0.0`, `::`, empty → `None` (any identity);
/// * a typed prefix `ipv4:`, `ipv6:`, `fqdn:`, `rfc822:`/`email:`/`userfqdn:`,
///   `keyid:` (`keyid:#hex` for hex);
/// * without `@`: an IPv4 address → ID_IPV4_ADDR, else (no `:`) → ID_FQDN;
///   with `:` an IPv6 address → ID_IPV6_ADDR, else ID_KEY_ID of the text;
/// * `@#hex` → ID_KEY_ID, `@@user` → ID_RFC822_ADDR, `@name` → ID_FQDN;
/// * `user@host` → ID_RFC822_ADDR.
///
/// Distinguished names (`C=CH, O=...`) need certificates and are refused.
pub fn parse_id(s: &str) -> Result<Option<Identification>, String> {
    let s = s.trim();
    if let Some((prefix, rest)) = s.split_once(':') {
        let typed = match prefix.to_ascii_lowercase().as_str() {
            "ipv4" => Some(
                rest.parse::<Ipv4Addr>()
                    .map(Identification::Ipv4)
                    .map_err(|_| format!("'{rest}' is not an IPv4 address"))?,
            ),
            "ipv6" => Some(
                rest.parse::<Ipv6Addr>()
                    .map(Identification::Ipv6)
                    .map_err(|_| format!("'{rest}' is not an IPv6 address"))?,
            ),
            "fqdn" => Some(Identification::Fqdn(rest.as_bytes().to_vec())),
            "rfc822" | "email" | "userfqdn" => {
                Some(Identification::Rfc822(rest.as_bytes().to_vec()))
            }
            "keyid" => Some(Identification::KeyId(match rest.strip_prefix('#') {
                Some(h) => hex_bytes(h).ok_or_else(|| format!("'{h}' is not hex"))?,
                None => rest.as_bytes().to_vec(),
            })),
            "asn1dn" | "asn1gn" | "dns" | "uri" | "ipv4subnet" | "ipv6subnet" | "ipv4range"
            | "ipv6range" => {
                return Err(format!("'{prefix}:' identities are not supported by vtid"))
            }
            _ => None,
        };
        if typed.is_some() {
            return Ok(typed);
        }
    }
    if s.contains('=') {
        return Err(format!(
            "'{s}' looks like a distinguished name; DN identities need certificates, \
             which vtid does not support yet"
        ));
    }
    if !s.contains('@') {
        if matches!(s, "" | "%any" | "%any6" | "0.0.0.0" | "*" | "::" | "0::0") {
            return Ok(None);
        }
        if s.contains('/') || (s.contains('-') && s.split('-').all(|p| p.parse::<IpAddr>().is_ok()))
        {
            return Err(format!(
                "'{s}': subnet and range identities are not supported by vtid"
            ));
        }
        if !s.contains(':') {
            return Ok(Some(match s.parse::<Ipv4Addr>() {
                Ok(a) => Identification::Ipv4(a),
                Err(_) => Identification::Fqdn(s.as_bytes().to_vec()),
            }));
        }
        return Ok(Some(match s.parse::<Ipv6Addr>() {
            Ok(a) => Identification::Ipv6(a),
            Err(_) => Identification::KeyId(s.as_bytes().to_vec()),
        }));
    }
    Ok(Some(if let Some(rest) = s.strip_prefix('@') {
        if let Some(h) = rest.strip_prefix('#') {
            Identification::KeyId(hex_bytes(h).ok_or_else(|| format!("'{h}' is not hex"))?)
        } else if let Some(u) = rest.strip_prefix('@') {
            Identification::Rfc822(u.as_bytes().to_vec())
        } else {
            Identification::Fqdn(rest.as_bytes().to_vec())
        }
    } else {
        Identification::Rfc822(s.as_bytes().to_vec())
    }))
}

/// Hex like strongSwan's `chunk_from_hex`: `:` and blanks skipped, an odd
/// count gets a leading zero.
fn hex_bytes(s: &str) -> Option<Vec<u8>> {
    let mut d: Vec<u8> = Vec::new();
    for c in s.chars() {
        match c {
            ':' | ' ' => {}
            c => d.push(c.to_digit(16)? as u8),
        }
    }
    if d.len() % 2 == 1 {
        d.insert(0, 0);
    }
    Some(d.chunks(2).map(|p| (p[0] << 4) | p[1]).collect())
}

fn proto_number(p: &str) -> Option<u8> {
    Some(match p.to_ascii_lowercase().as_str() {
        "" | "%any" | "any" => 0,
        "icmp" => 1,
        "tcp" => 6,
        "udp" => 17,
        "gre" => 47,
        "esp" => 50,
        "ah" => 51,
        "ipv6-icmp" | "icmpv6" | "icmp6" => 58,
        "sctp" => 132,
        n => n.parse().ok()?,
    })
}

fn port_number(p: &str) -> Option<u16> {
    Some(match p.to_ascii_lowercase().as_str() {
        "ssh" => 22,
        "domain" => 53,
        "http" => 80,
        "https" => 443,
        "isakmp" => 500,
        "ipsec-nat-t" => 4500,
        n => n.parse().ok()?,
    })
}

/// Parses one traffic selector of `local_ts`/`remote_ts`: `dynamic`, an
/// address, `net/len`, `a-b` or `%any`, each optionally followed by
/// `[proto/port]` (proto and port as names or numbers, `%any`, port ranges
/// `a-b`; for ICMP the port is the message type).
pub fn parse_ts(s: &str) -> Result<Vec<TsSpec>, String> {
    let s = s.trim();
    let (base, suffix) = match s.split_once('[') {
        Some((b, rest)) => {
            let inner = rest
                .strip_suffix(']')
                .ok_or_else(|| format!("'{s}': missing ']'"))?;
            (b.trim(), Some(inner))
        }
        None => (s, None),
    };
    let (proto, ports) = match suffix {
        None => (0u8, (0u16, 0xffffu16)),
        Some(inner) => {
            let (p, port) = inner.split_once('/').unwrap_or((inner, ""));
            let proto =
                proto_number(p.trim()).ok_or_else(|| format!("'{s}': unknown protocol '{p}'"))?;
            let port = port.trim();
            let range = if port.is_empty() || port.eq_ignore_ascii_case("%any") {
                (0, 0xffff)
            } else if port.eq_ignore_ascii_case("%opaque") {
                return Err(format!("'{s}': OPAQUE ports are not supported by vtid"));
            } else if let Some((a, b)) = port.split_once('-') {
                let a = port_number(a.trim()).ok_or_else(|| format!("'{s}': bad port '{a}'"))?;
                let b = port_number(b.trim()).ok_or_else(|| format!("'{s}': bad port '{b}'"))?;
                if a > b {
                    return Err(format!("'{s}': port range ends before it starts"));
                }
                (a, b)
            } else {
                let n = port_number(port).ok_or_else(|| format!("'{s}': bad port '{port}'"))?;
                if proto == 1 || proto == 58 {
                    // ICMP type in the high byte, any code (as strongSwan).
                    let t = n.min(255) << 8;
                    (t, t | 0xff)
                } else {
                    (n, n)
                }
            };
            (proto, range)
        }
    };
    let with = |mut t: Ts| {
        t.proto = proto;
        t.start_port = ports.0;
        t.end_port = ports.1;
        TsSpec::Range(t)
    };
    if base.eq_ignore_ascii_case("dynamic") {
        if suffix.is_some() {
            return Err(format!(
                "'{s}': protocol/port on 'dynamic' is not supported by the engine yet"
            ));
        }
        return Ok(vec![TsSpec::Dynamic]);
    }
    if base.eq_ignore_ascii_case("%any") {
        return Ok(vec![with(Ts::any(true)), with(Ts::any(false))]);
    }
    if base.eq_ignore_ascii_case("%any4") {
        return Ok(vec![with(Ts::any(true))]);
    }
    if base.eq_ignore_ascii_case("%any6") {
        return Ok(vec![with(Ts::any(false))]);
    }
    if let Ok(a) = base.parse::<IpAddr>() {
        return Ok(vec![with(Ts::host(a))]);
    }
    if let Some((a, len)) = base.split_once('/') {
        let a: IpAddr = a
            .trim()
            .parse()
            .map_err(|_| format!("'{s}': '{a}' is not an IP address"))?;
        let max = if a.is_ipv4() { 32 } else { 128 };
        let len: u8 = len
            .trim()
            .parse()
            .ok()
            .filter(|l| *l <= max)
            .ok_or_else(|| format!("'{s}': bad prefix length '{len}'"))?;
        return Ok(vec![with(Ts::subnet(a, len))]);
    }
    if let Some((a, b)) = base.split_once('-') {
        if let (Ok(a), Ok(b)) = (a.trim().parse::<IpAddr>(), b.trim().parse::<IpAddr>()) {
            if a.is_ipv4() != b.is_ipv4() {
                return Err(format!("'{s}': range mixes IPv4 and IPv6"));
            }
            let mut t = Ts::host(a);
            t.end = b;
            if a > b {
                return Err(format!("'{s}': range ends before it starts"));
            }
            return Ok(vec![with(t)]);
        }
    }
    Err(format!(
        "'{s}': expected dynamic, an address, a subnet a/len, a range a-b or %any, \
         optionally with [proto/port]"
    ))
}

fn psk_round(rounds: &[AuthConfig], side: &str, w: &mut Warn<'_>) -> Option<Option<String>> {
    if rounds.len() > 1 {
        w.skip(&format!(
            "{side}: {} authentication rounds; vtid does one (RFC 4739 multiple \
             authentication is not supported)",
            rounds.len()
        ));
        return None;
    }
    let r = &rounds[0];
    if !r.auth.eq_ignore_ascii_case("psk") {
        let what = if r.name.is_empty() {
            format!("no '{side}' section, so auth = pubkey (the default)")
        } else {
            format!("{}.auth = {}", r.name, r.auth)
        };
        w.skip(&format!(
            "{what}: only auth = psk is supported by the engine yet"
        ));
        return None;
    }
    for (k, v) in [
        ("certs", &r.certs),
        ("cacerts", &r.cacerts),
        ("pubkeys", &r.pubkeys),
    ] {
        if !v.is_empty() {
            w.key(
                &format!("{}.{k}", r.name),
                "not used with auth = psk; ignored",
            );
        }
    }
    Some(r.id.clone())
}

fn peer_action(a: config::Action) -> PeerAction {
    if a.start {
        PeerAction::Restart
    } else if a.trap {
        PeerAction::Trap
    } else {
        PeerAction::Clear
    }
}

fn if_id(v: IfId, key: &str, w: &mut Warn<'_>) -> u32 {
    match v {
        IfId::None => 0,
        IfId::Id(n) => n,
        _ => {
            w.key(key, "%unique interface IDs are not supported yet; using 0");
            0
        }
    }
}

fn peer_config(
    cfg: &Config,
    conn: &Connection,
    reqids: &ReqidMap,
    env: &dyn HostEnv,
    engine: &EngineConfig,
    w: &mut Warn<'_>,
) -> Option<PeerConfig> {
    if conn.version == config::IkeVersion::V1 {
        w.skip("version = 1: IKEv1 is not supported");
        return None;
    }
    let proposals = match proposals(ProtocolId::IKE, &conn.proposals) {
        Ok((p, dropped)) => {
            for d in dropped {
                w.key("proposals", &d);
            }
            p
        }
        Err(e) => {
            w.skip(&format!("proposals: {e}"));
            return None;
        }
    };
    let local_id = psk_round(&conn.local, "local", w)?;
    let remote_id = psk_round(&conn.remote, "remote", w)?;
    let local_addrs = host_specs(&conn.local_addrs, "local_addrs", env, w);
    let remote_addrs = host_specs(&conn.remote_addrs, "remote_addrs", env, w);
    if remote_addrs.is_empty() {
        w.skip("remote_addrs: no usable address");
        return None;
    }
    let local_id = match local_id.as_deref().map(parse_id) {
        Some(Ok(Some(id))) => id,
        Some(Err(e)) => {
            w.skip(&format!("local.id: {e}"));
            return None;
        }
        // No id (or %any): strongSwan uses our IKE address.
        Some(Ok(None)) | None => {
            let addr = local_addrs.iter().find_map(AddrMatch::host).or_else(|| {
                remote_addrs
                    .iter()
                    .find_map(AddrMatch::host)
                    .and_then(|r| env.source_for(r))
            });
            match addr {
                Some(IpAddr::V4(a)) => Identification::Ipv4(a),
                Some(IpAddr::V6(a)) => Identification::Ipv6(a),
                None => {
                    w.skip(
                        "local.id: not set, and there is no local address to use as \
                         identity (set local.id or a concrete local_addrs)",
                    );
                    return None;
                }
            }
        }
    };
    let remote_id = match remote_id.as_deref().map(parse_id) {
        Some(Ok(id)) => id,
        Some(Err(e)) => {
            w.skip(&format!("remote.id: {e}"));
            return None;
        }
        None => None,
    };
    let mut p = PeerConfig::new(&conn.name, local_id, proposals);
    p.remote_id = remote_id;
    p.local_addrs = local_addrs;
    p.remote_addrs = remote_addrs;
    p.remote_port = conn.remote_port;
    if conn.local_port != 500 && conn.local_port != engine.port {
        w.key(
            "local_port",
            &format!(
                "per-connection local ports are not supported; using the daemon's port {}",
                engine.port
            ),
        );
    }
    p.encap = conn.encap;
    p.fragmentation = match conn.fragmentation {
        Fragmentation::Yes | Fragmentation::Force => true,
        Fragmentation::Accept => {
            w.key(
                "fragmentation",
                "'accept' is treated as 'yes' (the engine announces and uses fragmentation)",
            );
            true
        }
        Fragmentation::No => false,
    };
    p.dpd_delay = conn.dpd_delay;
    let lt = conn.lifetimes();
    p.rekey_time = lt.rekey;
    p.reauth_time = lt.reauth;
    p.over_time = lt.over;
    p.rand_time = lt.rand;
    p.keyingtries = conn.keyingtries;
    p.unique = match conn.unique {
        config::Unique::No => Unique::No,
        config::Unique::Never => Unique::Never,
        config::Unique::Keep => Unique::Keep,
        config::Unique::Replace => Unique::Replace,
    };
    // Keys the engine cannot honour yet.
    if !conn.vips.is_empty() {
        w.key("vips", "virtual IPs are not supported yet; ignored");
    }
    if !conn.dpd_timeout.is_zero() {
        w.key("dpd_timeout", "IKEv1 only; ignored");
    }
    if conn.dscp != 0 {
        w.key(
            "dscp",
            "DSCP marking of IKE packets is not supported yet; ignored",
        );
    }
    if conn.childless != config::Childless::Allow {
        w.key("childless", "not supported by the engine yet; ignored");
    }
    if conn.send_cert != config::SendCert::IfAsked {
        w.key("send_cert", "certificates are not supported yet; ignored");
    }
    if conn.ppk_id.is_some() || conn.ppk_required {
        w.key(
            "ppk_id",
            "post-quantum preshared keys are not supported yet; ignored",
        );
    }
    if conn.if_id_in != IfId::None || conn.if_id_out != IfId::None {
        // Passed down to the children below.
    }
    if !conn.mobike {
        // MOBIKE is never announced by the engine, so `no` is what it does.
    } else {
        tracing::debug!(conn = %conn.name, "mobike: not implemented by the engine; not announced");
    }
    for child in &conn.children {
        if let Some(c) = child_config(cfg, conn, child, reqids, engine, w) {
            p.children.push(c);
        }
    }
    if p.children.is_empty() && !conn.children.is_empty() {
        w.key("children", "none of the children could be loaded");
    }
    Some(p)
}

fn child_config(
    cfg: &Config,
    conn: &Connection,
    child: &Child,
    reqids: &ReqidMap,
    engine: &EngineConfig,
    w: &mut Warn<'_>,
) -> Option<ChildConfig> {
    let k = |key: &str| format!("children.{}.{key}", child.name);
    let skip = |w: &mut Warn<'_>, key: &str, msg: &str| {
        w.key(&k(key), &format!("{msg}; child not loaded"));
    };
    if !child.ah_proposals.is_empty() {
        skip(w, "ah_proposals", "AH is not supported");
        return None;
    }
    let esp = match proposals(ProtocolId::ESP, &child.esp_proposals) {
        Ok((p, dropped)) => {
            for d in dropped {
                w.key(&k("esp_proposals"), &d);
            }
            p
        }
        Err(e) => {
            skip(w, "esp_proposals", &e);
            return None;
        }
    };
    let mode = match child.mode {
        config::Mode::Tunnel => Mode::Tunnel,
        config::Mode::Transport => {
            if !engine.transport_mode_supported {
                w.key(
                    &k("mode"),
                    "the data plane cannot carry transport mode: as responder vtid answers in \
                     tunnel mode (as initiator the engine still asks for transport)",
                );
            }
            Mode::Transport
        }
        m => {
            skip(w, "mode", &format!("mode {m:?} is not supported"));
            return None;
        }
    };
    let mut c = ChildConfig::new(&child.name, esp);
    c.mode = mode;
    let (lts, rts) = cfg.traffic_selectors(conn, child);
    for (out, list, key) in [
        (&mut c.local_ts, &lts, "local_ts"),
        (&mut c.remote_ts, &rts, "remote_ts"),
    ] {
        out.clear();
        for s in list {
            match parse_ts(s) {
                Ok(v) => out.extend(v),
                Err(e) => {
                    skip(w, key, &e);
                    return None;
                }
            }
        }
    }
    c.reqid = if child.reqid != 0 {
        child.reqid
    } else {
        match reqids.get(&(conn.name.clone(), child.name.clone())) {
            Some(&r) => r,
            None => {
                skip(w, "reqid", "no free reqid left");
                return None;
            }
        }
    };
    let lt = child.lifetimes();
    c.rekey_time = lt.rekey_time;
    c.life_time = lt.life_time;
    c.rand_time = lt.rand_time;
    c.rekey_bytes = lt.rekey_bytes;
    c.life_bytes = lt.life_bytes;
    c.rekey_packets = lt.rekey_packets;
    c.life_packets = lt.life_packets;
    if lt.rand_bytes != 0 || lt.rand_packets != 0 {
        w.key(
            &k("rand_bytes"),
            "randomised volume limits are not supported yet; the limits are used as they are",
        );
    }
    c.replay_window = child.replay_window;
    c.dpd_action = peer_action(child.dpd_action);
    c.close_action = peer_action(child.close_action);
    c.if_id_in = if_id(conn.child_if_id_in(child), &k("if_id_in"), w);
    c.if_id_out = if_id(conn.child_if_id_out(child), &k("if_id_out"), w);
    // Keys the engine or the data plane cannot honour yet.
    let unsupported: [(bool, &str); 13] = [
        (child.hostaccess, "hostaccess"),
        (child.ipcomp, "ipcomp"),
        (!child.inactivity.is_zero(), "inactivity"),
        (child.hw_offload != config::HwOffload::No, "hw_offload"),
        (child.mark_in.is_set(), "mark_in"),
        (child.mark_out.is_set(), "mark_out"),
        (child.set_mark_in.is_set(), "set_mark_in"),
        (child.set_mark_out.is_set(), "set_mark_out"),
        (child.mark_in_sa, "mark_in_sa"),
        (child.sha256_96, "sha256_96"),
        (child.priority != 0, "priority"),
        (child.interface.is_some(), "interface"),
        (child.policies_fwd_out, "policies_fwd_out"),
    ];
    for (set, key) in unsupported {
        if set {
            w.key(&k(key), "not supported by vtid yet; ignored");
        }
    }
    if !child.copy_df || !child.copy_ecn || child.copy_dscp != config::CopyDscp::Out {
        w.key(
            &k("copy_df"),
            "copy_df/copy_ecn/copy_dscp are not configurable in vtid's data plane yet; ignored",
        );
    }
    Some(c)
}

fn shared_keys(cfg: &Config, warnings: &mut Vec<String>) -> Vec<SharedKey> {
    let mut out = Vec::new();
    'secret: for s in &cfg.secrets {
        if s.kind != SecretKind::Ike {
            warnings.push(format!(
                "secrets.{}: {:?} secrets are not used by vtid; ignored",
                s.name, s.kind
            ));
            continue;
        }
        let mut ids = Vec::new();
        for id in &s.ids {
            match parse_id(id) {
                Ok(Some(i)) => ids.push(i),
                // %any among the owners: like strongSwan, matches anyone.
                Ok(None) => {}
                Err(e) => {
                    warnings.push(format!(
                        "secrets.{}: id '{id}': {e}; secret not loaded",
                        s.name
                    ));
                    continue 'secret;
                }
            }
        }
        out.push(SharedKey {
            ids,
            secret: SecretBytes::from_slice(s.secret.expose()),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No DNS, no routes: deterministic.
    struct FakeEnv;
    impl HostEnv for FakeEnv {
        fn resolve(&self, name: &str) -> Result<Vec<IpAddr>, String> {
            match name {
                "gw.example.org" => Ok(vec!["198.51.100.7".parse().unwrap()]),
                _ => Err("no such host".into()),
            }
        }
        fn source_for(&self, _remote: IpAddr) -> Option<IpAddr> {
            Some("192.0.2.1".parse().unwrap())
        }
    }

    fn load(text: &str) -> Converted {
        let l = config::load_str(text, "test.conf").unwrap();
        convert(&l.config, &ReqidMap::new(), &FakeEnv, false)
    }

    const PSK: &str = "secrets {\n ike-1 {\n  id-1 = moon.example.org\n  id-2 = 192.0.2.2\n  secret = s3cret\n }\n}\n";

    fn conn(body: &str, children: &str) -> String {
        format!(
            "connections {{\n gw {{\n  {body}\n  local {{\n   auth = psk\n   id = moon.example.org\n  }}\n  remote {{\n   auth = psk\n  }}\n  children {{\n{children}\n  }}\n }}\n}}\n{PSK}"
        )
    }

    #[test]
    fn ids_like_strongswan() {
        let id = |s| parse_id(s).unwrap();
        assert_eq!(
            id("192.0.2.1"),
            Some(Identification::Ipv4("192.0.2.1".parse().unwrap()))
        );
        assert_eq!(
            id("2001:db8::1"),
            Some(Identification::Ipv6("2001:db8::1".parse().unwrap()))
        );
        assert_eq!(
            id("moon.example.org"),
            Some(Identification::Fqdn(b"moon.example.org".to_vec()))
        );
        assert_eq!(id("@moon"), Some(Identification::Fqdn(b"moon".to_vec())));
        assert_eq!(id("moon"), Some(Identification::Fqdn(b"moon".to_vec())));
        assert_eq!(
            id("alice@example.org"),
            Some(Identification::Rfc822(b"alice@example.org".to_vec()))
        );
        assert_eq!(
            id("@@alice"),
            Some(Identification::Rfc822(b"alice".to_vec()))
        );
        assert_eq!(
            id("@#0a0b:0c"),
            Some(Identification::KeyId(vec![0x0a, 0x0b, 0x0c]))
        );
        assert_eq!(id("@#abc"), Some(Identification::KeyId(vec![0x0a, 0xbc])));
        assert_eq!(
            id("fe80::zz"),
            Some(Identification::KeyId(b"fe80::zz".to_vec()))
        );
        assert_eq!(
            id("fqdn:192.0.2.1"),
            Some(Identification::Fqdn(b"192.0.2.1".to_vec()))
        );
        assert_eq!(
            id("email:bob@x"),
            Some(Identification::Rfc822(b"bob@x".to_vec()))
        );
        assert_eq!(id("keyid:#0102"), Some(Identification::KeyId(vec![1, 2])));
        assert_eq!(
            id("ipv4:10.0.0.1"),
            Some(Identification::Ipv4("10.0.0.1".parse().unwrap()))
        );
        for any in ["%any", "%any6", "*", "0.0.0.0", "::", ""] {
            assert_eq!(id(any), None, "{any}");
        }
        assert!(parse_id("C=CH, O=strongSwan, CN=moon").is_err());
        assert!(parse_id("10.0.0.0/8").is_err());
        assert!(parse_id("@#xyz").is_err());
        assert!(parse_id("ipv4:nope").is_err());
    }

    #[test]
    fn traffic_selectors() {
        let one = |s| match parse_ts(s).unwrap().as_slice() {
            [TsSpec::Range(t)] => *t,
            other => panic!("{s}: {other:?}"),
        };
        assert_eq!(parse_ts("dynamic").unwrap(), vec![TsSpec::Dynamic]);
        assert_eq!(
            one("10.1.0.0/16"),
            Ts::subnet("10.1.0.0".parse().unwrap(), 16)
        );
        assert_eq!(one("10.1.2.3"), Ts::host("10.1.2.3".parse().unwrap()));
        let r = one("10.0.0.5-10.0.0.9");
        assert_eq!(
            (r.start, r.end),
            ("10.0.0.5".parse().unwrap(), "10.0.0.9".parse().unwrap())
        );
        let t = one("10.0.0.0/8[tcp/80]");
        assert_eq!((t.proto, t.start_port, t.end_port), (6, 80, 80));
        let t = one("10.0.0.0/8[udp/1000-2000]");
        assert_eq!((t.proto, t.start_port, t.end_port), (17, 1000, 2000));
        let t = one("::/0[ipv6-icmp/%any]");
        assert_eq!((t.proto, t.start_port, t.end_port), (58, 0, 0xffff));
        let t = one("0.0.0.0/0[icmp/8]");
        assert_eq!((t.proto, t.start_port, t.end_port), (1, 0x0800, 0x08ff));
        let t = one("192.0.2.0/24[47]");
        assert_eq!(t.proto, 47);
        let t = one("192.0.2.0/24[tcp/https]");
        assert_eq!(t.start_port, 443);
        assert_eq!(parse_ts("%any").unwrap().len(), 2);
        for bad in [
            "10.0.0.0/33",
            "10.0.0.9-10.0.0.1",
            "dynamic[tcp/80]",
            "nonsense",
            "10.0.0.0/8[tcp/x]",
            "10.0.0.0/8[tcp/80",
            "1.0.0.0/8[tcp/%opaque]",
        ] {
            assert!(parse_ts(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_psk_connection_converts() {
        let c = load(&conn(
            "local_addrs = 192.0.2.1\n  remote_addrs = 192.0.2.2, 198.51.100.0/24, 203.0.113.1-203.0.113.9, gw.example.org, %any6\n  proposals = aes128gcm16-prfsha256-ecp256\n  encap = yes\n  dpd_delay = 30s\n  keyingtries = 0\n  unique = replace\n  rekey_time = 2h\n  remote_port = 4501",
            "   net {\n    local_ts = 10.1.0.0/24, dynamic\n    remote_ts = 10.2.0.0/24[tcp/22]\n    esp_proposals = aes256gcm16\n    start_action = start\n    dpd_action = restart\n    close_action = trap\n    life_time = 2200\n   }",
        ));
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        let p = &c.peers[0];
        assert_eq!(p.name, "gw");
        assert_eq!(
            p.local_id,
            Identification::Fqdn(b"moon.example.org".to_vec())
        );
        assert_eq!(p.remote_id, None);
        assert_eq!(
            p.local_addrs,
            vec![AddrMatch::Addr("192.0.2.1".parse().unwrap())]
        );
        assert_eq!(
            p.remote_addrs,
            vec![
                AddrMatch::Addr("192.0.2.2".parse().unwrap()),
                AddrMatch::Net("198.51.100.0".parse().unwrap(), 24),
                AddrMatch::Range(
                    "203.0.113.1".parse().unwrap(),
                    "203.0.113.9".parse().unwrap()
                ),
                AddrMatch::Addr("198.51.100.7".parse().unwrap()),
                AddrMatch::Any6,
            ]
        );
        assert_eq!(p.remote_port, 4501);
        assert!(p.encap);
        assert_eq!(p.dpd_delay, Duration::from_secs(30));
        assert_eq!(p.keyingtries, 0);
        assert_eq!(p.unique, Unique::Replace);
        // IKE lifetimes derived like strongSwan: over = 10%, rand = over
        assert_eq!(p.rekey_time, Duration::from_secs(7200));
        assert_eq!(p.reauth_time, Duration::ZERO);
        assert_eq!(p.over_time, Duration::from_secs(720));
        assert_eq!(p.rand_time, Duration::from_secs(720));
        let ch = &p.children[0];
        assert_eq!(ch.local_ts.len(), 2);
        assert_eq!(ch.local_ts[1], TsSpec::Dynamic);
        assert!(matches!(ch.remote_ts[0], TsSpec::Range(t) if t.proto == 6 && t.start_port == 22));
        // life 2200 → rekey 2200/1.1 truncated in floating point (as
        // strongSwan) = 1999, rand = life - rekey = 201
        assert_eq!(
            (
                ch.rekey_time.as_secs(),
                ch.life_time.as_secs(),
                ch.rand_time.as_secs()
            ),
            (1999, 2200, 201)
        );
        assert_eq!(ch.dpd_action, PeerAction::Restart);
        assert_eq!(ch.close_action, PeerAction::Trap);
        assert_eq!(ch.reqid, 1);
        assert_eq!(c.start, vec![("gw".to_string(), "net".to_string())]);
        // the secret
        assert_eq!(c.keys.len(), 1);
        assert_eq!(c.keys[0].secret.as_bytes(), b"s3cret");
        assert_eq!(
            c.keys[0].ids,
            vec![
                Identification::Fqdn(b"moon.example.org".to_vec()),
                Identification::Ipv4("192.0.2.2".parse().unwrap())
            ]
        );
    }

    #[test]
    fn local_id_defaults_to_our_address() {
        let text = "connections {\n gw {\n  remote_addrs = 192.0.2.2\n  local {\n   auth = psk\n  }\n  remote {\n   auth = psk\n   id = %any\n  }\n }\n}\n";
        let c = load(text);
        assert_eq!(
            c.peers[0].local_id,
            Identification::Ipv4("192.0.2.1".parse().unwrap())
        );
    }

    #[test]
    fn proposal_errors_name_the_connection_and_keyword() {
        let c = load(&conn(
            "proposals = aes128gcm16-prfsha256-bogus512",
            "   net {\n   }",
        ));
        assert!(c.peers.is_empty());
        let w = c.warnings.join("\n");
        assert!(
            w.contains("connection 'gw'") && w.contains("bogus512") && w.contains("proposals"),
            "{w}"
        );

        let c = load(&conn(
            "",
            "   net {\n    esp_proposals = aes128-nosuchmac\n   }\n   ok {\n   }",
        ));
        assert_eq!(c.peers[0].children.len(), 1);
        assert_eq!(c.peers[0].children[0].name, "ok");
        let w = c.warnings.join("\n");
        assert!(
            w.contains("connection 'gw'")
                && w.contains("children.net.esp_proposals")
                && w.contains("nosuchmac"),
            "{w}"
        );
    }

    /// Issue 15 §3: pfSense's mobile default keeps its modern half when a
    /// group is missing, and legacy algorithms load with one warning each.
    #[test]
    fn one_unsupported_algorithm_drops_only_its_proposal() {
        let c = load(&conn(
            "proposals = aes256-sha256-modp2048,aes256-sha1-modp6144",
            "   net {\n    esp_proposals = aes256-sha256,blowfish-sha1,3des-md5\n   }",
        ));
        assert_eq!(c.peers.len(), 1);
        assert_eq!(c.peers[0].proposals.len(), 1);
        assert_eq!(c.peers[0].children[0].esp_proposals.len(), 2);
        let w = c.warnings.join("\n");
        assert!(
            w.contains("connection 'gw': proposals: algorithm 'modp6144'")
                && w.contains("aes256-sha1-modp6144"),
            "{w}"
        );
        assert!(
            w.contains("connection 'gw': children.net.esp_proposals: algorithm 'blowfish'"),
            "{w}"
        );
        // The legacy ones that loaded are warned about, once each.
        assert_eq!(
            w.matches("weak legacy algorithm configured: 3DES").count(),
            1,
            "{w}"
        );
        assert_eq!(
            w.matches("weak legacy algorithm configured: HMAC-MD5")
                .count(),
            1,
            "{w}"
        );

        let c = load(&conn(
            "proposals = aes256-sha256-modp2048,aes256-sha1-modp1024",
            "   net {\n    esp_proposals = aes256-sha1-modp1024\n   }\n   other {\n    esp_proposals = aes128-sha1-modp1024\n   }",
        ));
        assert_eq!(c.peers[0].proposals.len(), 2);
        let w = c.warnings.join("\n");
        assert_eq!(w.matches("MODP-1024").count(), 1, "{w}");
        assert!(
            w.contains("connection 'gw' proposals, connection 'gw' children.net.esp_proposals, connection 'gw' children.other.esp_proposals"),
            "{w}"
        );
        assert!(!w.contains("left out"), "{w}");
    }

    #[test]
    fn unsupported_things_warn_and_never_vanish() {
        let text = "connections {\n cert {\n  local {\n   auth = pubkey\n  }\n  remote {\n   auth = pubkey\n  }\n }\n dns {\n  remote_addrs = nowhere.invalid\n  local {\n   auth = psk\n   id = d\n  }\n  remote {\n   auth = psk\n  }\n }\n gw {\n  vips = 0.0.0.0\n  local {\n   auth = psk\n   id = moon\n  }\n  remote {\n   auth = psk\n  }\n  children {\n   ah {\n    ah_proposals = sha256\n   }\n   net {\n    start_action = trap\n    updown = /bin/true\n    mode = beet\n   }\n   tr {\n    mode = transport\n    inactivity = 60\n    start_action = trap\n   }\n  }\n }\n}\n";
        let c = load(text);
        let w = c.warnings.join("\n");
        assert!(
            w.contains("connection 'cert'") && w.contains("auth = pubkey"),
            "{w}"
        );
        assert!(w.contains("connection 'gw': vips"), "{w}");
        assert!(w.contains("children.ah.ah_proposals"), "{w}");
        assert!(w.contains("children.net.mode"), "{w}");
        assert!(w.contains("children.tr.inactivity"), "{w}");
        assert!(w.contains("children.tr.mode"), "{w}");
        assert!(
            w.contains("connection 'dns': remote_addrs: cannot resolve 'nowhere.invalid'"),
            "{w}"
        );
        assert!(
            w.contains("connection 'dns': remote_addrs: no usable address"),
            "{w}"
        );
        assert!(
            w.contains("connection 'gw': children.tr.start_action: trap"),
            "{w}"
        );
        // gw loads with what it can do: only child 'tr'
        assert_eq!(c.peers.len(), 1);
        let names: Vec<&str> = c.peers[0]
            .children
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(names, ["tr"]);
    }

    #[test]
    fn reqids_skip_interfaces_and_stay_stable_across_reloads() {
        let text = |extra: &str| {
            format!(
                "connections {{\n {extra}\n gw {{\n  local {{\n   auth = psk\n   id = a\n  }}\n  remote {{\n   auth = psk\n  }}\n  children {{\n   a {{\n   }}\n   b {{\n    reqid = 2\n   }}\n   c {{\n   }}\n  }}\n }}\n}}\ninterfaces {{\n ipsec1 {{\n  reqid = 1\n }}\n}}\n"
            )
        };
        let l = config::load_str(&text(""), "t").unwrap();
        let c = convert(&l.config, &ReqidMap::new(), &FakeEnv, false);
        let r: Vec<u32> = c.peers[0].children.iter().map(|c| c.reqid).collect();
        // 1 is ipsec1's, 2 is b's explicit one
        assert_eq!(r, vec![3, 2, 4]);
        // A new connection in front of it: gw's children keep 3 and 4.
        let first = "first {\n  local {\n   auth = psk\n   id = f\n  }\n  remote {\n   auth = psk\n  }\n  children {\n   x {\n   }\n  }\n }";
        let l2 = config::load_str(&text(first), "t").unwrap();
        let c2 = convert(&l2.config, &c.reqids, &FakeEnv, false);
        let gw = c2.peers.iter().find(|p| p.name == "gw").unwrap();
        assert_eq!(
            gw.children.iter().map(|c| c.reqid).collect::<Vec<_>>(),
            vec![3, 2, 4]
        );
        let first = c2.peers.iter().find(|p| p.name == "first").unwrap();
        assert_eq!(first.children[0].reqid, 5);
    }

    #[test]
    fn engine_settings_from_the_vtid_section() {
        let l = config::load_str(
            "vtid {\n retransmit_timeout = 2.5\n retransmit_tries = 3\n port = 1500\n port_nat_t = 14500\n fragment_size = 1400\n make_before_break = no\n retransmit_jitter = 10\n}\n",
            "t",
        )
        .unwrap();
        let c = convert(&l.config, &ReqidMap::new(), &FakeEnv, false);
        let e = &c.engine;
        assert_eq!(e.retransmit_timeout, Duration::from_millis(2500));
        assert_eq!(e.retransmit_tries, 3);
        assert_eq!((e.port, e.port_nat_t, e.fragment_size), (1500, 14500, 1400));
        assert!(!e.make_before_break);
        assert!(
            c.warnings.iter().any(|w| w.contains("retransmit_jitter")),
            "{:?}",
            c.warnings
        );
    }

    /// The example in README-config.md loads without a warning.
    #[test]
    fn readme_example_converts_cleanly() {
        let md = include_str!("../README-config.md");
        let start = md.find("## A PSK site-to-site tunnel").unwrap();
        let block = md[start..].split("```").nth(1).unwrap();
        let c = load(block);
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        assert_eq!(c.peers.len(), 1);
        assert_eq!(c.start, vec![("site-b".to_string(), "lan".to_string())]);
    }
}
