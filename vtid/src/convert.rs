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

/// DNS answers gathered by the daemon before an initiation: serves them as
/// a [`HostEnv`] so [`remote_matches`] builds the engine's addresses.
#[derive(Debug, Default, Clone)]
pub struct Resolved(pub BTreeMap<String, Result<Vec<IpAddr>, String>>);

impl HostEnv for Resolved {
    fn resolve(&self, name: &str) -> Result<Vec<IpAddr>, String> {
        self.0
            .get(name)
            .cloned()
            .unwrap_or_else(|| Err("not resolved".into()))
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

/// One thing the operator should know about a conversion: where it is
/// (file:line:col, when the configuration came from a file), whether it
/// keeps a connection or child from loading, and what it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// Where in the configuration.
    pub location: Option<config::Location>,
    /// The connection it is about, if any.
    pub conn: Option<String>,
    /// A connection or child is not loaded because of it.
    pub error: bool,
    /// What it is (never a secret).
    pub message: String,
}

impl Note {
    fn warning(location: Option<&config::Location>, conn: Option<&str>, message: String) -> Note {
        Note {
            location: location.cloned(),
            conn: conn.map(str::to_owned),
            error: false,
            message,
        }
    }

    /// Whether the message contains `s` (tests, filters).
    pub fn contains(&self, s: &str) -> bool {
        self.to_string().contains(s)
    }
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(l) = &self.location {
            write!(f, "{l}: ")?;
        }
        let what = if self.error { "error" } else { "warning" };
        write!(f, "{what}: {}", self.message)
    }
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
    /// The `remote_addrs` of connections that name DNS hosts: the daemon
    /// resolves them again before each initiation (issue 15 §4) and hands
    /// the result to the engine ([`remote_matches`]).
    pub dns: BTreeMap<String, Vec<HostSpec>>,
    /// Everything the operator should know, each with its place, naming
    /// the connection and the key; a connection or child that is not
    /// loaded gets one error with every reason.
    pub warnings: Vec<Note>,
}

impl Converted {
    /// The notes that keep a connection or child from loading.
    pub fn errors(&self) -> impl Iterator<Item = &Note> {
        self.warnings.iter().filter(|n| n.error)
    }
}

/// Converts a loaded configuration. `previous` are the automatic reqids of
/// the running configuration (empty at start-up); `transport_mode` tells
/// whether the data plane can carry transport mode, which the kernel data
/// planes (XFRM, PF_KEY) can and the userspace one cannot; it also tells
/// whether interface IDs of an xfrm interface made outside vtid can be
/// used (kernel: yes).
pub fn convert(
    cfg: &Config,
    previous: &ReqidMap,
    env: &dyn HostEnv,
    transport_mode: bool,
) -> Converted {
    let mut warnings = Vec::new();
    let mut daemon_notes = Vec::new();
    let mut engine = engine_config(&cfg.daemon, &mut daemon_notes);
    warnings.extend(
        daemon_notes
            .into_iter()
            .map(|m| Note::warning(None, None, m)),
    );
    engine.transport_mode_supported = transport_mode;
    let reqids = assign_reqids(cfg, previous);
    let mut peers = Vec::new();
    let mut start = Vec::new();
    let mut trap = Vec::new();
    let mut dns = BTreeMap::new();
    for conn in &cfg.connections {
        let mut w = Warn::new(conn, &mut warnings);
        let p = peer_config(cfg, conn, &reqids, env, &engine, &mut w);
        if let Some(p) = p {
            for child in &conn.children {
                if !p.children.iter().any(|c| c.name == child.name) {
                    continue;
                }
                let key = (conn.name.clone(), child.name.clone());
                if child.start_action.start {
                    start.push(key.clone());
                }
                if child.start_action.trap {
                    w.child(child).key(
                        "start_action",
                        "trap policies need a data plane with traffic-triggered \
                         initiation; no trap installed",
                    );
                    trap.push(key);
                }
            }
            if conn
                .remote_addrs
                .iter()
                .any(|h| matches!(h, HostSpec::Dns(_)))
            {
                dns.insert(conn.name.clone(), conn.remote_addrs.clone());
            }
            peers.push(p);
        }
        w.finish();
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
        dns,
        warnings,
    }
}

/// One warning per legacy algorithm in use (RFC 8221/8247 no longer
/// recommend it), naming where it is configured.
fn legacy_warnings(peers: &[PeerConfig], warnings: &mut Vec<Note>) {
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
        warnings.push(Note::warning(
            None,
            None,
            format!(
                "weak legacy algorithm configured: {why}; used by {}",
                places.join(", ")
            ),
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

/// Collects what is said about one connection: warnings go out at once,
/// the reasons it (or one of its children) cannot be loaded are gathered
/// and reported together, each with its place.
struct Warn<'a> {
    conn: &'a Connection,
    out: &'a mut Vec<Note>,
    /// Why the connection cannot be loaded: (location, key, reason).
    fatal: Vec<(Option<config::Location>, String, String)>,
}

/// The same for one child of the connection.
struct ChildWarn<'w, 'a> {
    w: &'w mut Warn<'a>,
    child: &'w Child,
    fatal: Vec<(Option<config::Location>, String, String)>,
}

fn reasons(list: &[(Option<config::Location>, String, String)]) -> String {
    list.iter()
        .map(|(l, k, m)| match l {
            Some(l) => format!("{k} ({l}): {m}"),
            None => format!("{k}: {m}"),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl<'a> Warn<'a> {
    fn new(conn: &'a Connection, out: &'a mut Vec<Note>) -> Warn<'a> {
        Warn {
            conn,
            out,
            fatal: Vec::new(),
        }
    }

    fn at(&self, key: &str) -> Option<config::Location> {
        self.conn.origin.at(key).cloned()
    }

    /// A warning about `key` of the connection.
    fn key(&mut self, key: &str, msg: &str) {
        let n = Note::warning(
            self.at(key).as_ref(),
            Some(&self.conn.name),
            format!("connection '{}': {key}: {msg}", self.conn.name),
        );
        self.out.push(n);
    }

    /// A reason the connection cannot be loaded (all are reported together
    /// by [`Warn::finish`]).
    fn skip(&mut self, key: &str, msg: &str) {
        let l = self.at(key);
        self.fatal.push((l, key.to_string(), msg.to_string()));
    }

    fn failed(&self) -> bool {
        !self.fatal.is_empty()
    }

    fn child<'w>(&'w mut self, child: &'w Child) -> ChildWarn<'w, 'a> {
        ChildWarn {
            w: self,
            child,
            fatal: Vec::new(),
        }
    }

    fn finish(self) {
        if self.fatal.is_empty() {
            return;
        }
        let n = Note {
            location: self.conn.origin.section.clone(),
            conn: Some(self.conn.name.clone()),
            error: true,
            message: format!(
                "connection '{}' not loaded: {}",
                self.conn.name,
                reasons(&self.fatal)
            ),
        };
        self.out.push(n);
    }
}

impl ChildWarn<'_, '_> {
    fn at(&self, key: &str) -> Option<config::Location> {
        self.child.origin.at(key).cloned()
    }

    fn path(&self, key: &str) -> String {
        format!("children.{}.{key}", self.child.name)
    }

    /// A warning about `key` of the child.
    fn key(&mut self, key: &str, msg: &str) {
        let n = Note::warning(
            self.at(key).as_ref(),
            Some(&self.w.conn.name),
            format!(
                "connection '{}': {}: {msg}",
                self.w.conn.name,
                self.path(key)
            ),
        );
        self.w.out.push(n);
    }

    /// A reason the child cannot be loaded.
    fn skip(&mut self, key: &str, msg: &str) {
        let l = self.at(key);
        self.fatal.push((l, key.to_string(), msg.to_string()));
    }

    fn failed(&self) -> bool {
        !self.fatal.is_empty()
    }

    /// Reports the child as not loaded with every reason, if it has any.
    fn finish(self) {
        if self.fatal.is_empty() {
            return;
        }
        let n = Note {
            location: self.child.origin.section.clone(),
            conn: Some(self.w.conn.name.clone()),
            error: true,
            message: format!(
                "child '{}.{}' not loaded: {}",
                self.w.conn.name,
                self.child.name,
                reasons(&self.fatal)
            ),
        };
        self.w.out.push(n);
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
        block_threshold: d.block_threshold as usize,
        ikesa_limit: d.ikesa_limit as usize,
        max_packet: d.max_packet as usize,
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

/// `local_addrs`/`remote_addrs` entries as the engine matches them, DNS
/// names resolved through `env` (each name once per call: the daemon calls
/// this again before every initiation). Names that do not resolve are left
/// out and returned as problems.
pub fn remote_matches(specs: &[HostSpec], env: &dyn HostEnv) -> (Vec<AddrMatch>, Vec<String>) {
    let mut out = Vec::new();
    let mut problems = Vec::new();
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
                Ok(_) => problems.push(format!("'{name}' resolved to no address")),
                Err(e) => problems.push(format!("cannot resolve '{name}': {e}")),
            },
        }
    }
    (out, problems)
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
/// Distinguished names (`C=CH, O=..., CN=...`, strongSwan's syntax, `*`
/// values as wildcards) → ID_DER_ASN1_DN; `asn1dn:#hex` gives the DER.
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
            "asn1dn" => Some(Identification::DerAsn1Dn(match rest.strip_prefix('#') {
                Some(h) => hex_bytes(h).ok_or_else(|| format!("'{h}' is not hex"))?,
                None => pki::dn::parse(rest)?,
            })),
            "asn1gn" | "dns" | "uri" | "ipv4subnet" | "ipv6subnet" | "ipv4range" | "ipv6range" => {
                return Err(format!("'{prefix}:' identities are not supported by vtid"))
            }
            _ => None,
        };
        if typed.is_some() {
            return Ok(typed);
        }
    }
    if pki::dn::looks_like_dn(s) {
        return pki::dn::parse(s).map(|d| Some(Identification::DerAsn1Dn(d)));
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

/// What an `auth` method needs that vtid lacks, named as a feature.
fn auth_feature(auth: &str) -> String {
    let a = auth.to_ascii_lowercase();
    if a.starts_with("xauth") {
        "XAuth is an IKEv1 feature and vtid is an IKEv2 daemon (IKEv1 is not supported)".into()
    } else if a.starts_with("eap") {
        format!("EAP authentication ({a}) is not supported by vtid yet")
    } else if a == "pubkey" || a.starts_with("rsa") || a.starts_with("ecdsa") || a.starts_with("ed")
    {
        "unknown signature constraint (see swanctl.conf(5): pubkey, rsa, rsa/pss, ecdsa, \
         ed25519 with -sha256/-sha384/-sha512 or a key size)"
            .into()
    } else {
        format!("authentication method '{a}' is not supported by vtid (only psk)")
    }
}

/// The one authentication round of a side, as the engine takes it, or why
/// there is none (every reason recorded in `w`). Files named in `certs`,
/// `cacerts` and `pubkeys` are read from the swanctl folders under `base`.
fn auth_round(
    rounds: &[AuthConfig],
    side: &str,
    base: Option<&std::path::Path>,
    w: &mut Warn<'_>,
) -> Option<(Option<String>, ike::engine::AuthConfig)> {
    let mut ok = true;
    let mut parsed = None;
    for (i, r) in rounds.iter().enumerate() {
        let key = if r.name.is_empty() {
            side.to_string()
        } else {
            format!("{}.auth", r.name)
        };
        match ike::engine::AuthConfig::parse_auth(&r.auth) {
            Ok(x) if i == 0 => parsed = Some(x),
            Ok(_) => {}
            Err(_) => {
                w.skip(
                    &key,
                    &format!("auth = {}: {}", r.auth, auth_feature(&r.auth)),
                );
                ok = false;
            }
        }
    }
    if rounds.len() > 1 {
        w.skip(
            rounds.get(1).map_or(side, |r| r.name.as_str()),
            &format!(
                "{} {side} authentication rounds: multiple authentication (RFC 4739) is not \
                 supported by vtid",
                rounds.len()
            ),
        );
        ok = false;
    }
    let r = rounds.first()?;
    let (class, constraints) = parsed?;
    if !ok {
        return None;
    }
    let mut out = ike::engine::AuthConfig {
        class,
        constraints,
        revocation: match r.revocation.as_str() {
            "strict" => ike::engine::Revocation::Strict,
            "ifuri" => ike::engine::Revocation::IfUri,
            _ => ike::engine::Revocation::Relaxed,
        },
        ..Default::default()
    };
    if class == ike::engine::AuthClass::Psk {
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
        return Some((r.id.clone(), out));
    }
    let read = |folder: &str, key: &str, names: &[String], w: &mut Warn<'_>| -> Vec<Vec<u8>> {
        let mut v = Vec::new();
        for n in names {
            // VICI-loaded connections carry the certificate itself.
            let data = match crate::creds::blob(n) {
                Some(d) => Ok(d),
                None => crate::creds::read_named(base, folder, n),
            };
            let der = data.and_then(|d| {
                if folder == crate::creds::PUBKEY {
                    ike::crypto::sig::PublicKey::from_file_bytes(&d)
                        .map(|k| k.spki_der().to_vec())
                        .map_err(|e| e.to_string())
                } else {
                    pki::Certificate::from_file_bytes(&d)
                        .map(|c| c.der().to_vec())
                        .map_err(|e| e.to_string())
                }
            });
            match der {
                Ok(d) => v.push(d),
                Err(e) => w.skip(&format!("{}.{key}", r.name), &format!("{n}: {e}")),
            }
        }
        v
    };
    out.certs = read(crate::creds::X509, "certs", &r.certs, w);
    out.cacerts = read(crate::creds::X509CA, "cacerts", &r.cacerts, w);
    out.pubkeys = read(crate::creds::PUBKEY, "pubkeys", &r.pubkeys, w);
    if side == "local" && r.certs.is_empty() && r.pubkeys.is_empty() {
        w.skip(
            &format!("{}.auth", if r.name.is_empty() { side } else { &r.name }),
            &format!(
                "auth = {} needs a certificate (certs, from x509/) or a raw key (pubkeys)",
                r.auth
            ),
        );
        return None;
    }
    Some((r.id.clone(), out))
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

fn if_id(v: IfId, key: &str, w: &mut ChildWarn<'_, '_>) -> u32 {
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
    // Every reason the connection cannot work is collected (w.skip) and
    // reported together by the caller; nothing returns at the first one.
    if conn.version == config::IkeVersion::V1 {
        w.skip(
            "version",
            "version = 1: IKEv1 is not supported (vtid is an IKEv2 daemon; set version = 2 \
             or 0 if the peer speaks IKEv2)",
        );
    }
    if conn.aggressive {
        w.skip(
            "aggressive",
            "aggressive = yes: aggressive mode is IKEv1, which vtid does not support",
        );
    }
    let proposals = match proposals(ProtocolId::IKE, &conn.proposals) {
        Ok((p, dropped)) => {
            for d in dropped {
                w.key("proposals", &d);
            }
            Some(p)
        }
        Err(e) => {
            w.skip("proposals", &e);
            None
        }
    };
    // A connection of pass/drop shunts only (pfSense's and OPNsense's
    // "bypass") is never negotiated: its authentication does not matter,
    // only that its children are shunts (reported per child below).
    let shunts_only = !conn.children.is_empty()
        && conn
            .children
            .iter()
            .all(|c| matches!(c.mode, config::Mode::Pass | config::Mode::Drop));
    let base = cfg.base_dir.as_deref();
    let ((local_id, local_auth), (remote_id, remote_auth)) = if shunts_only {
        w.skip(
            "children",
            "it holds only pass/drop shunts, which vtid does not support yet",
        );
        ((None, None), (None, None))
    } else {
        (
            auth_round(&conn.local, "local", base, w).unzip(),
            auth_round(&conn.remote, "remote", base, w).unzip(),
        )
    };
    let (local_addrs, problems) = remote_matches(&conn.local_addrs, env);
    for p in problems {
        w.key("local_addrs", &format!("{p}; left out"));
    }
    let (remote_addrs, problems) = remote_matches(&conn.remote_addrs, env);
    let has_dns = conn
        .remote_addrs
        .iter()
        .any(|h| matches!(h, HostSpec::Dns(_)));
    for p in problems {
        w.key(
            "remote_addrs",
            &format!("{p}; left out for now (resolved again at each initiation)"),
        );
    }
    if remote_addrs.is_empty() && !has_dns && !shunts_only {
        w.skip("remote_addrs", "no usable address");
    }
    if !conn.pools.is_empty() {
        w.skip(
            "pools",
            "address pools (virtual IPs for remote-access clients) are not supported by vtid yet",
        );
    }
    if !conn.vips.is_empty() {
        w.skip(
            "vips",
            "virtual IPs (configuration payloads) are not supported by vtid yet",
        );
    }
    if conn.mediation || conn.mediated_by.is_some() {
        w.skip("mediation", "mediation is not supported by vtid");
    }
    // No id (or %any): strongSwan uses the IKE address in use when the SA is
    // set up; the engine decides it then (PeerConfig::local_id_from_address).
    let local_id = match local_id.flatten().as_deref().map(parse_id) {
        Some(Ok(Some(id))) => Some(id),
        Some(Err(e)) => {
            w.skip("local.id", &e);
            None
        }
        Some(Ok(None)) | None => None,
    };
    let remote_id = match remote_id.flatten().as_deref() {
        // With certificates the identity is proven by the certificate and
        // matched with strongSwan's wildcards; a PSK is looked up by the
        // exact identity.
        Some(id)
            if id.contains('*')
                && id.trim() != "*"
                && remote_auth
                    .as_ref()
                    .is_none_or(|a| a.class == ike::engine::AuthClass::Psk) =>
        {
            w.skip(
                "remote.id",
                &format!(
                    "'{id}': wildcard identities are not supported by vtid with auth = psk \
                     (give the peer's exact identity, or %any)"
                ),
            );
            None
        }
        other => other.map(str::to_owned),
    };
    let remote_id = match remote_id.as_deref().map(parse_id) {
        Some(Ok(id)) => id,
        Some(Err(e)) => {
            w.skip("remote.id", &e);
            None
        }
        None => None,
    };
    // The children are checked even when the connection fails, so that
    // every reason is reported at once.
    let mut children = Vec::new();
    for child in &conn.children {
        let mut cw = w.child(child);
        let c = child_config(cfg, conn, child, reqids, engine, &mut cw);
        cw.finish();
        children.extend(c);
    }
    let proposals = proposals?;
    if w.failed() {
        return None;
    }
    let local_auth = local_auth.unwrap_or_default();
    let remote_auth = remote_auth.unwrap_or_default();
    // With `certs` and no `id`, strongSwan identifies us by the
    // certificate's subject DN.
    let local_id = local_id.or_else(|| {
        local_auth
            .certs
            .first()
            .and_then(|d| pki::Certificate::from_der(d).ok())
            .map(|c| c.subject_identity())
    });
    let from_address = local_id.is_none();
    let placeholder = local_addrs.iter().find_map(AddrMatch::host).map_or(
        Identification::Ipv4(Ipv4Addr::UNSPECIFIED),
        |a| match a {
            IpAddr::V4(a) => Identification::Ipv4(a),
            IpAddr::V6(a) => Identification::Ipv6(a),
        },
    );
    let mut p = PeerConfig::new(&conn.name, local_id.unwrap_or(placeholder), proposals);
    p.local_id_from_address = from_address;
    p.remote_id = remote_id;
    p.local_auth = local_auth;
    p.remote_auth = remote_auth;
    p.send_certreq = conn.send_certreq;
    p.send_cert = match conn.send_cert {
        config::SendCert::Always => ike::engine::SendCert::Always,
        config::SendCert::IfAsked => ike::engine::SendCert::IfAsked,
        config::SendCert::Never => ike::engine::SendCert::Never,
    };
    p.local_addrs = local_addrs;
    p.remote_addrs = remote_addrs;
    p.remote_port = conn.remote_port;
    if conn.local_port != 500
        && conn.local_port != engine.port
        && conn.local_port != engine.port_nat_t
    {
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
    if conn.ppk_id.is_some() || conn.ppk_required {
        w.key(
            "ppk_id",
            "post-quantum preshared keys are not supported yet; ignored",
        );
    }
    if conn.mobike {
        tracing::debug!(conn = %conn.name, "mobike: not implemented by the engine; not announced");
    }
    if conn.dpd_delay.is_zero() {
        for child in &conn.children {
            if child.dpd_action != config::Action::default() {
                w.child(child).key(
                    "dpd_action",
                    "has no effect: the connection has no dpd_delay, so dead-peer detection \
                     never runs (set e.g. dpd_delay = 30s; see README-config.md)",
                );
            }
        }
    }
    p.children = children;
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
    w: &mut ChildWarn<'_, '_>,
) -> Option<ChildConfig> {
    if !child.ah_proposals.is_empty() {
        w.skip("ah_proposals", "AH is not supported by vtid (ESP only)");
    }
    let esp = match proposals(ProtocolId::ESP, &child.esp_proposals) {
        Ok((p, dropped)) => {
            for d in dropped {
                w.key("esp_proposals", &d);
            }
            Some(p)
        }
        Err(e) => {
            if child.ah_proposals.is_empty() {
                w.skip("esp_proposals", &e);
            }
            None
        }
    };
    let mode = match child.mode {
        config::Mode::Tunnel => Some(Mode::Tunnel),
        config::Mode::Transport => {
            if !engine.transport_mode_supported {
                w.key(
                    "mode",
                    "the data plane cannot carry transport mode: as responder vtid answers in \
                     tunnel mode (as initiator the engine still asks for transport)",
                );
            }
            Some(Mode::Transport)
        }
        config::Mode::Pass | config::Mode::Drop => {
            let m = if child.mode == config::Mode::Pass {
                "pass"
            } else {
                "drop"
            };
            w.skip(
                "mode",
                &format!("mode = {m}: pass/drop shunts are not supported by vtid yet"),
            );
            None
        }
        m => {
            let name = format!("{m:?}").to_ascii_lowercase();
            w.skip(
                "mode",
                &format!("mode = {name}: {name} mode is not supported by vtid"),
            );
            None
        }
    };
    // RFC 4301 §4.4.1 policies are what a policy-based child is; without
    // them (pfSense's routed VTI) only an interface bound to the child's
    // reqid (or interface ID) can carry its traffic.
    if !child.policies && cfg.interface_for_child(conn, child).is_none() {
        let reqid = if child.reqid != 0 {
            child.reqid.to_string()
        } else {
            "R".into()
        };
        let fix = if child.reqid == 0 {
            "give the child a fixed reqid and add `interfaces { ipsecN { reqid = R } }`".to_string()
        } else {
            format!(
                "add `interfaces {{ ipsecN {{ reqid = {reqid} }} }}` (addresses optional: an \
                 ipsecN made outside vtid, as pfSense does, is adopted as it is)"
            )
        };
        w.skip(
            "policies",
            &format!(
                "policies = no: the child installs no policies, so only an interface carrying \
                 reqid {reqid} can route its traffic, and no interface does; {fix}"
            ),
        );
    }
    if child.mark_in.is_set() || child.mark_out.is_set() {
        w.skip(
            if child.mark_in.is_set() {
                "mark_in"
            } else {
                "mark_out"
            },
            "XFRM marks (strongSwan's way to bind a child to a VTI) are not supported by \
             vtid: give the child a reqid and bind it to `interfaces { ipsecN { reqid = R } }`",
        );
    }
    let mut if_ids: Vec<u32> = [conn.child_if_id_in(child), conn.child_if_id_out(child)]
        .into_iter()
        .filter_map(IfId::fixed)
        .collect();
    if_ids.dedup();
    if child.policies
        && !if_ids.is_empty()
        && cfg.interface_for_child(conn, child).is_none()
        && !engine.transport_mode_supported
    {
        // The userspace data plane would make it an ordinary policy-based
        // child, which with VyOS's or strongSwan's 0.0.0.0/0 selectors
        // would capture all traffic.
        let ids: Vec<String> = if_ids.iter().map(u32::to_string).collect();
        w.skip(
            "if_id_in",
            &format!(
                "interface ID {} names no vtid interface, and the userspace data plane has no \
                 xfrm interfaces made outside vtid: add `interfaces {{ ipsecN {{ reqid = {} \
                 }} }}` to route the child through a vtid interface",
                ids.join("/"),
                if_ids[0]
            ),
        );
    } else if child.policies && !if_ids.is_empty() && cfg.interface_for_child(conn, child).is_none()
    {
        let ids: Vec<String> = if_ids.iter().map(u32::to_string).collect();
        w.key(
            "if_id_in",
            &format!(
                "interface ID {} names no vtid interface: the XFRM data plane installs the \
                 SAs and policies with it for an xfrm interface made outside vtid (as \
                 strongSwan does), the userspace data plane cannot use it; to route the child \
                 through a vtid interface add `interfaces {{ ipsecN {{ reqid = {} }} }}`",
                ids.join("/"),
                if_ids[0]
            ),
        );
    }
    let mut lts_ok = Vec::new();
    let mut rts_ok = Vec::new();
    let (lts, rts) = cfg.traffic_selectors(conn, child);
    for (out, list, key) in [
        (&mut lts_ok, &lts, "local_ts"),
        (&mut rts_ok, &rts, "remote_ts"),
    ] {
        for s in list {
            match parse_ts(s) {
                Ok(v) => out.extend(v),
                Err(e) => w.skip(key, &e),
            }
        }
    }
    let reqid = if child.reqid != 0 {
        child.reqid
    } else {
        match reqids.get(&(conn.name.clone(), child.name.clone())) {
            Some(&r) => r,
            None => {
                w.skip("reqid", "no free reqid left");
                0
            }
        }
    };
    let (esp, mode) = (esp?, mode?);
    if w.failed() {
        return None;
    }
    let mut c = ChildConfig::new(&child.name, esp);
    c.mode = mode;
    c.local_ts = lts_ok;
    c.remote_ts = rts_ok;
    c.reqid = reqid;
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
            "rand_bytes",
            "randomised volume limits are not supported yet; the limits are used as they are",
        );
    }
    c.replay_window = child.replay_window;
    c.dpd_action = peer_action(child.dpd_action);
    c.close_action = peer_action(child.close_action);
    c.if_id_in = if_id(conn.child_if_id_in(child), "if_id_in", w);
    c.if_id_out = if_id(conn.child_if_id_out(child), "if_id_out", w);
    // Keys the engine or the data plane cannot honour yet.
    let unsupported: [(bool, &str); 11] = [
        (child.hostaccess, "hostaccess"),
        (child.ipcomp, "ipcomp"),
        (!child.inactivity.is_zero(), "inactivity"),
        (child.hw_offload != config::HwOffload::No, "hw_offload"),
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
            w.key(key, "not supported by vtid yet; ignored");
        }
    }
    if !child.copy_df || !child.copy_ecn || child.copy_dscp != config::CopyDscp::Out {
        w.key(
            "copy_df",
            "copy_df/copy_ecn/copy_dscp are not configurable in vtid's data plane yet; ignored",
        );
    }
    Some(c)
}

fn shared_keys(cfg: &Config, warnings: &mut Vec<Note>) -> Vec<SharedKey> {
    let mut out = Vec::new();
    'secret: for s in &cfg.secrets {
        if s.kind != SecretKind::Ike {
            // The config crate reported it once, with its place.
            continue;
        }
        let mut ids = Vec::new();
        for id in &s.ids {
            match parse_id(id) {
                Ok(Some(i)) => ids.push(i),
                // %any among the owners: like strongSwan, matches anyone.
                Ok(None) => {}
                Err(e) => {
                    warnings.push(Note {
                        location: None,
                        conn: None,
                        error: true,
                        message: format!("secrets.{}: id '{id}': {e}; secret not loaded", s.name),
                    });
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
        assert_eq!(
            id("C=CH, O=strongSwan, CN=moon"),
            Some(Identification::DerAsn1Dn(
                pki::dn::parse("C=CH, O=strongSwan, CN=moon").unwrap()
            ))
        );
        assert!(parse_id("C=CH, XX=1").is_err());
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
        // No local.id: the engine takes the IKE address in use when the SA
        // is set up (issue 15 §4), also with local_addrs = %any and a
        // remote that is no concrete host.
        for remote in ["192.0.2.2", "%any", "192.0.2.0/24"] {
            let text = format!("connections {{\n gw {{\n  remote_addrs = {remote}\n  local {{\n   auth = psk\n  }}\n  remote {{\n   auth = psk\n   id = %any\n  }}\n }}\n}}\n");
            let c = load(&text);
            assert!(c.errors().next().is_none(), "{:?}", c.warnings);
            assert!(c.peers[0].local_id_from_address, "{remote}");
        }
        let c = load("connections {\n gw {\n  local {\n   auth = psk\n   id = moon\n  }\n  remote {\n   auth = psk\n  }\n }\n}\n");
        assert!(!c.peers[0].local_id_from_address);
    }

    #[test]
    fn proposal_errors_name_the_connection_and_keyword() {
        let c = load(&conn(
            "proposals = aes128gcm16-prfsha256-bogus512",
            "   net {\n   }",
        ));
        assert!(c.peers.is_empty());
        let w = c
            .warnings
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            w.contains(
                "test.conf:2:2: error: connection 'gw' not loaded: proposals (test.conf:3:3)"
            ) && w.contains("bogus512"),
            "{w}"
        );

        let c = load(&conn(
            "",
            "   net {\n    esp_proposals = aes128-nosuchmac\n   }\n   ok {\n   }",
        ));
        assert_eq!(c.peers[0].children.len(), 1);
        assert_eq!(c.peers[0].children[0].name, "ok");
        let w = c
            .warnings
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            w.contains("error: child 'gw.net' not loaded: esp_proposals (test.conf:")
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
        let w = c
            .warnings
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join("\n");
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
        let w = c
            .warnings
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(w.matches("MODP-1024").count(), 1, "{w}");
        assert!(
            w.contains("connection 'gw' proposals, connection 'gw' children.net.esp_proposals, connection 'gw' children.other.esp_proposals"),
            "{w}"
        );
        assert!(!w.contains("left out"), "{w}");
    }

    #[test]
    fn unsupported_things_warn_and_never_vanish() {
        let text = "connections {\n cert {\n  local {\n   auth = pubkey\n  }\n  remote {\n   auth = pubkey\n  }\n }\n dns {\n  remote_addrs = nowhere.invalid\n  local {\n   auth = psk\n   id = d\n  }\n  remote {\n   auth = psk\n  }\n }\n gw {\n  local {\n   auth = psk\n   id = moon\n  }\n  remote {\n   auth = psk\n  }\n  children {\n   ah {\n    ah_proposals = sha256\n   }\n   net {\n    start_action = trap\n    updown = /bin/true\n    mode = beet\n   }\n   tr {\n    mode = transport\n    inactivity = 60\n    start_action = trap\n   }\n  }\n }\n ra {\n  version = 1\n  vips = 0.0.0.0\n  pools = p4\n  local {\n   auth = eap-mschapv2\n  }\n }\n}\n";
        let c = load(text);
        let w = c
            .warnings
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join("\n");
        // Every reason at once, each with its place; features named as such.
        assert!(
            w.contains("test.conf:2:2: error: connection 'cert' not loaded: local.auth (test.conf:4:4): auth = pubkey needs a certificate"),
            "{w}"
        );
        assert!(
            w.contains("error: connection 'ra' not loaded: version (test.conf:45:3): version = 1: IKEv1 is not supported")
                && w.contains("local.auth (test.conf:49:4): auth = eap-mschapv2: EAP authentication")

                && w.contains("pools (test.conf:47:3): address pools")
                && w.contains("vips (test.conf:46:3): virtual IPs"),
            "{w}"
        );
        assert!(
            w.contains("error: child 'gw.ah' not loaded: ah_proposals ("),
            "{w}"
        );
        assert!(
            w.contains("error: child 'gw.net' not loaded: mode (test.conf:35:5): mode = beet"),
            "{w}"
        );
        assert!(
            w.contains("test.conf:39:5: warning: connection 'gw': children.tr.inactivity"),
            "{w}"
        );
        assert!(w.contains("children.tr.mode"), "{w}");
        // A DNS name that does not resolve now: loaded, resolved again at
        // each initiation.
        assert!(
            w.contains("test.conf:11:3: warning: connection 'dns': remote_addrs: cannot resolve 'nowhere.invalid'"),
            "{w}"
        );
        assert!(c
            .peers
            .iter()
            .any(|p| p.name == "dns" && p.remote_addrs.is_empty()));
        assert!(c.dns.contains_key("dns"));
        assert!(
            w.contains("connection 'gw': children.tr.start_action: trap"),
            "{w}"
        );
        // gw loads with what it can do: only child 'tr'
        let gw = c.peers.iter().find(|p| p.name == "gw").unwrap();
        let names: Vec<&str> = gw.children.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["tr"]);
        assert_eq!(c.errors().count(), 4, "{w}");
    }

    #[test]
    fn policies_no_needs_an_interface_with_its_reqid() {
        let child = "   vti {\n    reqid = 5001\n    policies = no\n    local_ts = 10.6.106.1,0.0.0.0/0,::/0\n    remote_ts = 10.6.106.2,0.0.0.0/0,::/0\n   }";
        let c = load(&conn("", child));
        let w = c
            .warnings
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            w.contains("error: child 'gw.vti' not loaded: policies (test.conf:")
                && w.contains("only an interface carrying reqid 5001 can route its traffic, and no interface does")
                && w.contains("interfaces { ipsecN { reqid = 5001 } }"),
            "{w}"
        );
        assert!(c.peers[0].children.is_empty());
        // An interface without addresses (made outside vtid) binds it.
        let text = format!(
            "{}interfaces {{\n ipsec1 {{\n  reqid = 5001\n }}\n}}\n",
            conn("", child)
        );
        let c = load(&text);
        assert!(c.errors().next().is_none(), "{:?}", c.warnings);
        assert_eq!(c.peers[0].children[0].reqid, 5001);
        assert_eq!(c.peers[0].children[0].local_ts.len(), 3);
    }

    #[test]
    fn dpd_action_without_dpd_delay_warns() {
        let c = load(&conn("", "   net {\n    dpd_action = restart\n   }"));
        let w = c
            .warnings
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            w.contains("children.net.dpd_action: has no effect: the connection has no dpd_delay"),
            "{w}"
        );
        let c = load(&conn(
            "dpd_delay = 30s",
            "   net {\n    dpd_action = restart\n   }",
        ));
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
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
            "vtid {\n retransmit_timeout = 2.5\n retransmit_tries = 3\n port = 1500\n port_nat_t = 14500\n fragment_size = 1400\n make_before_break = no\n retransmit_jitter = 10\n block_threshold = 0\n ikesa_limit = 4000000000\n max_packet = 20000\n}\n",
            "t",
        )
        .unwrap();
        let c = convert(&l.config, &ReqidMap::new(), &FakeEnv, false);
        let e = &c.engine;
        assert_eq!(e.retransmit_timeout, Duration::from_millis(2500));
        assert_eq!(e.retransmit_tries, 3);
        assert_eq!((e.port, e.port_nat_t, e.fragment_size), (1500, 14500, 1400));
        assert!(!e.make_before_break);
        assert_eq!(
            (e.block_threshold, e.ikesa_limit, e.max_packet),
            (0, 4_000_000_000, 20_000)
        );
        let d = EngineConfig::default();
        assert_eq!(
            (
                d.cookie_threshold,
                d.init_limit_half_open,
                d.block_threshold,
                d.ikesa_limit,
                d.max_packet
            ),
            (30, 1000, 5, 10_000, 10_000),
            "defaults as README-config.md says"
        );
        assert!(
            c.warnings.iter().any(|w| w.contains("retransmit_jitter")),
            "{:?}",
            c.warnings
        );
    }

    /// README.md's routed example loads without a warning, with a
    /// dpd_delay so its dpd_action works (issue 15 §6).
    #[test]
    fn readme_routed_example_converts_cleanly() {
        let md = include_str!("../../README.md");
        let start = md.find("## Writing a configuration").unwrap();
        let block = md[start..].split("```").nth(1).unwrap();
        let c = load(block);
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        let p = &c.peers[0];
        assert_eq!(p.dpd_delay, Duration::from_secs(30));
        assert_eq!(p.keyingtries, 0);
        assert_eq!(p.children[0].dpd_action, PeerAction::Restart);
        assert_eq!(p.children[0].reqid, 7);
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
