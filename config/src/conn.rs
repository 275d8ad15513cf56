//! `connections { NAME { ... } }`: IKE connections, their authentication
//! rounds and CHILD_SAs, as swanctl.conf(5) describes them.

use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{ConfigError, Origin, Warning};
use crate::reader::Reader;
use crate::settings::Section;
use crate::values::{self, parse_choice, Action, HostSpec, IfId, Mark};

/// IKE major version (`version`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum IkeVersion {
    /// `0`: accept both as responder, initiate with IKEv2 (default).
    Any,
    /// `1`: IKEv1 (not supported by vtid; warns).
    V1,
    /// `2`: IKEv2.
    V2,
}

/// `fragmentation`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum Fragmentation {
    /// `yes` (default).
    Yes,
    /// `accept`.
    Accept,
    /// `force` (IKEv1 only).
    Force,
    /// `no`.
    No,
}

/// `childless`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum Childless {
    /// `allow` (default).
    Allow,
    /// `prefer`.
    Prefer,
    /// `force`.
    Force,
    /// `never`.
    Never,
}

/// `send_cert`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum SendCert {
    /// `ifasked` (default).
    IfAsked,
    /// `always`.
    Always,
    /// `never`.
    Never,
}

/// `unique`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum Unique {
    /// `no` (default): replace on INITIAL_CONTACT.
    No,
    /// `never`.
    Never,
    /// `keep`.
    Keep,
    /// `replace`.
    Replace,
}

/// One authentication round (`local*` / `remote*` subsection).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct AuthConfig {
    /// The subsection name (`local`, `local-1`, `remote2`, ...).
    pub name: String,
    /// `round` (default 0); rounds are sorted by it, ties in file order.
    pub round: u32,
    /// `auth` (default `pubkey`): `psk`, `pubkey`, `rsa[-...]`, `ecdsa[-...]`,
    /// `eap[-...]`, ... kept as written; validated by the engine.
    pub auth: String,
    /// `id` (local default: none, i.e. derived from the certificate or
    /// address; remote default `%any`, represented as `None` here too).
    pub id: Option<String>,
    /// `certs` (file names).
    pub certs: Vec<String>,
    /// `cacerts` (file names; remote only in swanctl).
    pub cacerts: Vec<String>,
    /// `pubkeys` (file names).
    pub pubkeys: Vec<String>,
    /// `revocation`: `strict`, `ifuri` or `relaxed` (the default).
    #[serde(default)]
    pub revocation: String,
}

/// A CHILD_SA configuration (`children { NAME { ... } }`).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Child {
    /// Name.
    pub name: String,
    /// `local_ts`; empty when not configured — see
    /// [`crate::Config::traffic_selectors`] for the default (`dynamic`, or
    /// `0.0.0.0/0,::/0` for routed children).
    pub local_ts: Vec<String>,
    /// `remote_ts`; as `local_ts`.
    pub remote_ts: Vec<String>,
    /// `esp_proposals` (default `default`). Empty if only AH is configured.
    pub esp_proposals: Vec<String>,
    /// `ah_proposals` (default none).
    pub ah_proposals: Vec<String>,
    /// `mode` (default tunnel).
    pub mode: Mode,
    /// `policies` (default yes).
    pub policies: bool,
    /// `policies_fwd_out` (default no).
    pub policies_fwd_out: bool,
    /// `start_action` (default none).
    pub start_action: Action,
    /// `close_action` (default none).
    pub close_action: Action,
    /// `dpd_action` (default clear = none).
    pub dpd_action: Action,
    /// `rekey_time` as configured; see [`Child::lifetimes`].
    pub rekey_time: Option<Duration>,
    /// `life_time` as configured.
    pub life_time: Option<Duration>,
    /// `rand_time` as configured.
    pub rand_time: Option<Duration>,
    /// `rekey_bytes` as configured.
    pub rekey_bytes: Option<u64>,
    /// `life_bytes` as configured.
    pub life_bytes: Option<u64>,
    /// `rand_bytes` as configured.
    pub rand_bytes: Option<u64>,
    /// `rekey_packets` as configured.
    pub rekey_packets: Option<u64>,
    /// `life_packets` as configured.
    pub life_packets: Option<u64>,
    /// `rand_packets` as configured.
    pub rand_packets: Option<u64>,
    /// `reqid` (default 0 = allocate automatically).
    pub reqid: u32,
    /// `priority` (default 0 = automatic).
    pub priority: u32,
    /// `interface` (restrict policies to an interface).
    pub interface: Option<String>,
    /// `if_id_in` (default: the connection's).
    pub if_id_in: IfId,
    /// `if_id_out` (default: the connection's).
    pub if_id_out: IfId,
    /// `mark_in` (default 0/0).
    pub mark_in: Mark,
    /// `mark_in_sa` (default no).
    pub mark_in_sa: bool,
    /// `mark_out` (default 0/0).
    pub mark_out: Mark,
    /// `set_mark_in` (default 0/0).
    pub set_mark_in: Mark,
    /// `set_mark_out` (default 0/0).
    pub set_mark_out: Mark,
    /// `copy_df` (default yes).
    pub copy_df: bool,
    /// `copy_ecn` (default yes).
    pub copy_ecn: bool,
    /// `copy_dscp` (default out).
    pub copy_dscp: CopyDscp,
    /// `sha256_96` (default no).
    pub sha256_96: bool,
    /// `updown` script.
    pub updown: Option<String>,
    /// `hostaccess` (default no).
    pub hostaccess: bool,
    /// `ipcomp` (default no).
    pub ipcomp: bool,
    /// `inactivity` (default 0 = off).
    pub inactivity: Duration,
    /// `replay_window` (default 32).
    pub replay_window: u32,
    /// `hw_offload` (default no).
    pub hw_offload: HwOffload,
    /// `label` (SELinux/... security label; not supported, warns).
    pub label: Option<String>,
    /// Where it is written (never makes two children differ).
    #[serde(skip)]
    pub origin: Origin,
}

/// `mode`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum Mode {
    /// `tunnel` (default).
    Tunnel,
    /// `transport`.
    Transport,
    /// `transport_proxy`.
    TransportProxy,
    /// `beet`.
    Beet,
    /// `iptfs`.
    Iptfs,
    /// `pass` (bypass shunt).
    Pass,
    /// `drop` (drop shunt).
    Drop,
}

/// `copy_dscp`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum CopyDscp {
    /// `out` (default).
    Out,
    /// `in`.
    In,
    /// `yes`.
    Yes,
    /// `no`.
    No,
}

/// `hw_offload`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum HwOffload {
    /// `no` (default).
    No,
    /// `yes` / `crypto`.
    Crypto,
    /// `packet`.
    Packet,
    /// `auto`.
    Auto,
}

/// An IKE connection.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Connection {
    /// Name.
    pub name: String,
    /// `version` (default 0 = any).
    pub version: IkeVersion,
    /// `local_addrs` (default `%any`).
    pub local_addrs: Vec<HostSpec>,
    /// `remote_addrs` (default `%any`).
    pub remote_addrs: Vec<HostSpec>,
    /// `local_port` (default 500; strongSwan's 0 means "the daemon's port").
    pub local_port: u16,
    /// `remote_port` (default 500).
    pub remote_port: u16,
    /// `proposals` (default `default`), validated by the engine.
    pub proposals: Vec<String>,
    /// `vips` (virtual IPs to request; `0.0.0.0`/`::` for any).
    pub vips: Vec<IpAddr>,
    /// `aggressive` (IKEv1; default no; warns if yes).
    pub aggressive: bool,
    /// `pull` (IKEv1 mode config; default yes).
    pub pull: bool,
    /// `dscp` for IKE packets (six binary digits; default 000000).
    pub dscp: u8,
    /// `encap` (default no).
    pub encap: bool,
    /// `mobike` (default yes).
    pub mobike: bool,
    /// `dpd_delay` (default 0 = off).
    pub dpd_delay: Duration,
    /// `dpd_timeout` (IKEv1; default 0).
    pub dpd_timeout: Duration,
    /// `fragmentation` (default yes).
    pub fragmentation: Fragmentation,
    /// `childless` (default allow).
    pub childless: Childless,
    /// `send_certreq` (default yes).
    pub send_certreq: bool,
    /// `send_cert` (default ifasked).
    pub send_cert: SendCert,
    /// `ppk_id`.
    pub ppk_id: Option<String>,
    /// `ppk_required` (default no).
    pub ppk_required: bool,
    /// `keyingtries` (default 1; 0 = forever).
    pub keyingtries: u32,
    /// `unique` (default no).
    pub unique: Unique,
    /// `reauth_time` as configured; see [`Connection::lifetimes`].
    pub reauth_time: Option<Duration>,
    /// `rekey_time` as configured.
    pub rekey_time: Option<Duration>,
    /// `over_time` as configured.
    pub over_time: Option<Duration>,
    /// `rand_time` as configured.
    pub rand_time: Option<Duration>,
    /// `pools`: names of the pools clients' virtual IPs and attributes
    /// come from ([`crate::Pool`]; `radius` for addresses a RADIUS server
    /// assigns).
    pub pools: Vec<String>,
    /// `if_id_in` (default 0).
    pub if_id_in: IfId,
    /// `if_id_out` (default 0).
    pub if_id_out: IfId,
    /// `mediation` (default no; not supported, warns).
    pub mediation: bool,
    /// `mediated_by` (not supported, warns).
    pub mediated_by: Option<String>,
    /// `mediation_peer` (not supported, warns).
    pub mediation_peer: Option<String>,
    /// Local authentication rounds, sorted by `round`. If none is
    /// configured, one default round (`auth = pubkey`) is added, as strongSwan
    /// does.
    pub local: Vec<AuthConfig>,
    /// Remote authentication rounds, likewise.
    pub remote: Vec<AuthConfig>,
    /// CHILD_SA configurations, in file order.
    pub children: Vec<Child>,
    /// Where it is written (never makes two connections differ).
    #[serde(skip)]
    pub origin: Origin,
}

/// Resolved IKE_SA lifetimes (all in seconds granularity).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct IkeLifetimes {
    /// When to rekey (0 = never).
    pub rekey: Duration,
    /// When to reauthenticate (0 = never).
    pub reauth: Duration,
    /// Hard lifetime past rekey/reauth.
    pub over: Duration,
    /// Random time subtracted from rekey/reauth.
    pub rand: Duration,
}

/// Resolved CHILD_SA limits, as (rekey, life, rand) per dimension.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ChildLifetimes {
    /// Soft time limit.
    pub rekey_time: Duration,
    /// Hard time limit.
    pub life_time: Duration,
    /// Random time subtracted from the soft limit.
    pub rand_time: Duration,
    /// Soft byte limit (0 = none).
    pub rekey_bytes: u64,
    /// Hard byte limit (0 = none).
    pub life_bytes: u64,
    /// Random bytes subtracted.
    pub rand_bytes: u64,
    /// Soft packet limit (0 = none).
    pub rekey_packets: u64,
    /// Hard packet limit (0 = none).
    pub life_packets: u64,
    /// Random packets subtracted.
    pub rand_packets: u64,
}

/// strongSwan's default IKE rekey time (4h).
pub const DEFAULT_IKE_REKEY_TIME: Duration = Duration::from_secs(4 * 3600);
/// strongSwan's default CHILD_SA rekey time (1h).
pub const DEFAULT_CHILD_REKEY_TIME: Duration = Duration::from_secs(3600);

impl Connection {
    /// Resolves the IKE_SA lifetimes exactly as strongSwan's vici plugin
    /// (`vici_config.c`, `add_peer`) does:
    ///
    /// * neither `rekey_time` nor `reauth_time` set: rekey 4h, reauth 0;
    ///   otherwise an unset one is 0 (disabled);
    /// * `over_time` defaults to 10% of the longer of rekey and reauth time;
    /// * `rand_time` defaults to `over_time`, but at most half of the shorter
    ///   non-zero of rekey/reauth time.
    pub fn lifetimes(&self) -> IkeLifetimes {
        let (rekey, reauth) = match (self.rekey_time, self.reauth_time) {
            (None, None) => (DEFAULT_IKE_REKEY_TIME, Duration::ZERO),
            (r, a) => (r.unwrap_or_default(), a.unwrap_or_default()),
        };
        let over = self.over_time.unwrap_or(rekey.max(reauth) / 10);
        let rand = self.rand_time.unwrap_or_else(|| {
            let base = if !rekey.is_zero() && !reauth.is_zero() {
                rekey.min(reauth)
            } else {
                rekey.max(reauth)
            };
            over.min(base / 2)
        });
        IkeLifetimes {
            rekey,
            reauth,
            over,
            rand,
        }
    }

    /// The effective inbound interface ID of a child: its own, else the
    /// connection's.
    pub fn child_if_id_in(&self, child: &Child) -> IfId {
        if child.if_id_in == IfId::None {
            self.if_id_in
        } else {
            child.if_id_in
        }
    }

    /// The effective outbound interface ID of a child.
    pub fn child_if_id_out(&self, child: &Child) -> IfId {
        if child.if_id_out == IfId::None {
            self.if_id_out
        } else {
            child.if_id_out
        }
    }
}

fn times_1_1(v: u64) -> u64 {
    // strongSwan computes `rekey * 1.1` in floating point and truncates.
    (v as f64 * 1.1) as u64
}

fn div_1_1(v: u64) -> u64 {
    (v as f64 / 1.1) as u64
}

impl Child {
    /// Resolves the CHILD_SA limits exactly as strongSwan's vici plugin
    /// (`check_lifetimes`) does, per dimension (time, bytes, packets):
    ///
    /// * rekey unset: `life / 1.1` if life is set, else the default (1h for
    ///   time, 0 = none for bytes and packets);
    /// * life unset: `rekey * 1.1`;
    /// * rand unset: `life - rekey` (time only; bytes and packets default to
    ///   0 — strongSwan does not derive those).
    pub fn lifetimes(&self) -> ChildLifetimes {
        let t = |d: Option<Duration>| d.map(|d| d.as_secs());
        let rekey_t = t(self.rekey_time).unwrap_or_else(|| {
            t(self.life_time)
                .map(div_1_1)
                .unwrap_or(DEFAULT_CHILD_REKEY_TIME.as_secs())
        });
        let life_t = t(self.life_time).unwrap_or_else(|| times_1_1(rekey_t));
        let rand_t = t(self.rand_time).unwrap_or(life_t - life_t.min(rekey_t));
        let rekey_b = self
            .rekey_bytes
            .unwrap_or_else(|| self.life_bytes.map(div_1_1).unwrap_or(0));
        let life_b = self.life_bytes.unwrap_or_else(|| times_1_1(rekey_b));
        let rekey_p = self
            .rekey_packets
            .unwrap_or_else(|| self.life_packets.map(div_1_1).unwrap_or(0));
        let life_p = self.life_packets.unwrap_or_else(|| times_1_1(rekey_p));
        ChildLifetimes {
            rekey_time: Duration::from_secs(rekey_t),
            life_time: Duration::from_secs(life_t),
            rand_time: Duration::from_secs(rand_t),
            rekey_bytes: rekey_b,
            life_bytes: life_b,
            rand_bytes: self.rand_bytes.unwrap_or(0),
            rekey_packets: rekey_p,
            life_packets: life_p,
            rand_packets: self.rand_packets.unwrap_or(0),
        }
    }

    /// Whether `reqid` is left to automatic allocation.
    pub fn has_automatic_reqid(&self) -> bool {
        self.reqid == 0
    }
}

fn port(s: &str) -> Result<u16, String> {
    values::parse_u64_c(s)
        .and_then(|v| u16::try_from(v).ok())
        .ok_or_else(|| "expected a UDP port number 0..65535".into())
}

fn hosts(list: &str) -> Result<Vec<HostSpec>, String> {
    values::split_list(list)
        .iter()
        .map(|h| values::parse_host(h))
        .collect()
}

fn vips(list: &str) -> Result<Vec<IpAddr>, String> {
    values::split_list(list)
        .iter()
        .map(|h| match h.to_ascii_lowercase().as_str() {
            "%any" | "%any4" => Ok(IpAddr::from([0u8, 0, 0, 0])),
            "%any6" => Ok(IpAddr::from([0u16; 8])),
            _ => IpAddr::from_str(h)
                .map_err(|_| format!("expected IP addresses (or %any, %any6), found '{h}'")),
        })
        .collect()
}

fn dscp(s: &str) -> Result<u8, String> {
    let ok = !s.is_empty() && s.len() <= 32 && s.chars().all(|c| c == '0' || c == '1');
    if !ok {
        return Err("expected six binary digits like 101110".into());
    }
    Ok((u64::from_str_radix(s, 2).map_err(|e| e.to_string())? & 0x3f) as u8)
}

/// Builds a [`Connection`] from its settings section (`connections.NAME`,
/// references already resolved). Used for swanctl.conf and, later, for
/// VICI `load-conn` messages, which have the same tree shape. Unknown and
/// unsupported keys are reported in `warnings`.
pub fn connection_from_section(
    sec: &Section,
    warnings: &mut Vec<Warning>,
) -> Result<Connection, ConfigError> {
    let mut r = Reader::new(sec, format!("connections.{}", sec.name));
    let version = r
        .parse("version", |s| {
            parse_choice(
                s,
                &[
                    ("0", IkeVersion::Any),
                    ("1", IkeVersion::V1),
                    ("2", IkeVersion::V2),
                ],
            )
        })?
        .unwrap_or(IkeVersion::Any);
    // IKEv1 (version = 1, aggressive = yes) is refused by the daemon with
    // the connection's other reasons, once.
    let any = || vec![HostSpec::Any(None)];
    let local_addrs = r
        .parse("local_addrs", hosts)?
        .filter(|v| !v.is_empty())
        .unwrap_or_else(any);
    let remote_addrs = r
        .parse("remote_addrs", hosts)?
        .filter(|v| !v.is_empty())
        .unwrap_or_else(any);
    let local_port = r
        .parse("local_port", port)?
        .filter(|&p| p != 0)
        .unwrap_or(500);
    let remote_port = r.parse("remote_port", port)?.unwrap_or(500);
    let proposals = r
        .list("proposals")
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| vec!["default".into()]);
    let vips = r.parse("vips", vips)?.unwrap_or_default();
    let aggressive = r.bool("aggressive", false)?;
    let pull = r.bool("pull", true)?;
    let dscp = r.parse("dscp", dscp)?.unwrap_or(0);
    let encap = r.bool("encap", false)?;
    let mobike = r.bool("mobike", true)?;
    let dpd_delay = r
        .parse("dpd_delay", values::parse_duration)?
        .unwrap_or_default();
    let dpd_timeout = r
        .parse("dpd_timeout", values::parse_duration)?
        .unwrap_or_default();
    let fragmentation = r
        .parse("fragmentation", |s| {
            parse_choice(
                s,
                &[
                    ("yes", Fragmentation::Yes),
                    ("accept", Fragmentation::Accept),
                    ("force", Fragmentation::Force),
                    ("no", Fragmentation::No),
                ],
            )
        })?
        .unwrap_or(Fragmentation::Yes);
    let childless = r
        .parse("childless", |s| {
            parse_choice(
                s,
                &[
                    ("allow", Childless::Allow),
                    ("prefer", Childless::Prefer),
                    ("force", Childless::Force),
                    ("never", Childless::Never),
                ],
            )
        })?
        .unwrap_or(Childless::Allow);
    let send_certreq = r.bool("send_certreq", true)?;
    let send_cert = r
        .parse("send_cert", |s| {
            parse_choice(
                s,
                &[
                    ("ifasked", SendCert::IfAsked),
                    ("always", SendCert::Always),
                    ("never", SendCert::Never),
                ],
            )
        })?
        .unwrap_or(SendCert::IfAsked);
    r.unsupported("ocsp", warnings);
    let ppk_id = r.string("ppk_id");
    let ppk_required = r.bool("ppk_required", false)?;
    let keyingtries = r.u32("keyingtries", 1)?;
    let unique = r
        .parse("unique", |s| {
            parse_choice(
                s,
                &[
                    ("no", Unique::No),
                    ("never", Unique::Never),
                    ("keep", Unique::Keep),
                    ("replace", Unique::Replace),
                ],
            )
        })?
        .unwrap_or(Unique::No);
    let reauth_time = r.parse("reauth_time", values::parse_duration)?;
    let rekey_time = r.parse("rekey_time", values::parse_duration)?;
    let over_time = r.parse("over_time", values::parse_duration)?;
    let rand_time = r.parse("rand_time", values::parse_duration)?;
    // Names are checked against the pools once all are read
    // (`check_pool_names`); the daemon decides what it can serve.
    let pools = r
        .parse("pools", |v| {
            let names = values::split_list(v);
            match names
                .iter()
                .find(|n| !n.chars().all(|c| c.is_ascii_graphic()))
            {
                Some(n) => Err(format!("'{n}' is not a pool name")),
                None => Ok(names),
            }
        })?
        .unwrap_or_default();
    let if_id_in = r
        .parse("if_id_in", values::parse_if_id)?
        .unwrap_or_default();
    let if_id_out = r
        .parse("if_id_out", values::parse_if_id)?
        .unwrap_or_default();
    // Mediation is refused by the daemon with the connection's other reasons.
    let mediation = r.bool("mediation", false)?;
    let mediated_by = r.string("mediated_by");
    let mediation_peer = r.string("mediation_peer");
    r.warn_if_set(
        "mediation_peer",
        "mediation is not supported by vtid",
        warnings,
    );

    let mut local = Vec::new();
    for s in r.sections(|n| n.starts_with("local")) {
        local.push(auth_from_section(s, &r.path, true, warnings)?);
    }
    let mut remote = Vec::new();
    for s in r.sections(|n| n.starts_with("remote")) {
        remote.push(auth_from_section(s, &r.path, false, warnings)?);
    }
    for rounds in [&mut local, &mut remote] {
        if rounds.is_empty() {
            rounds.push(AuthConfig {
                name: String::new(),
                round: 0,
                auth: "pubkey".into(),
                id: None,
                certs: vec![],
                cacerts: vec![],
                pubkeys: vec![],
                revocation: "relaxed".into(),
            });
        }
        rounds.sort_by_key(|a| a.round);
    }
    let mut children = Vec::new();
    for cs in r.sections(|n| n == "children") {
        let mut cr = Reader::new(cs, format!("{}.children", r.path));
        for s in cr.sections(|_| true) {
            children.push(child_from_section(s, &cr.path, warnings)?);
        }
        cr.finish(warnings);
    }
    r.finish(warnings);
    Ok(Connection {
        name: sec.name.clone(),
        version,
        local_addrs,
        remote_addrs,
        local_port,
        remote_port,
        proposals,
        vips,
        aggressive,
        pull,
        dscp,
        encap,
        mobike,
        dpd_delay,
        dpd_timeout,
        fragmentation,
        childless,
        send_certreq,
        send_cert,
        ppk_id,
        ppk_required,
        keyingtries,
        unique,
        reauth_time,
        rekey_time,
        over_time,
        rand_time,
        pools,
        if_id_in,
        if_id_out,
        mediation,
        mediated_by,
        mediation_peer,
        local,
        remote,
        children,
        origin: Origin::of(sec, |n| n.starts_with("local") || n.starts_with("remote")),
    })
}

fn auth_from_section(
    sec: &Section,
    parent: &str,
    local: bool,
    warnings: &mut Vec<Warning>,
) -> Result<AuthConfig, ConfigError> {
    let mut r = Reader::new(sec, format!("{parent}.{}", sec.name));
    let round = r.u32("round", 0)?;
    let auth = r.string("auth").unwrap_or_else(|| "pubkey".into());
    let id = r.string("id").filter(|id| local || id != "%any");
    let certs = r.list("certs").unwrap_or_default();
    let cacerts = r.list("cacerts").unwrap_or_default();
    let pubkeys = r.list("pubkeys").unwrap_or_default();
    let revocation = r
        .parse("revocation", |v| match v.to_ascii_lowercase().as_str() {
            "strict" | "ifuri" | "relaxed" => Ok(v.to_ascii_lowercase()),
            _ => Err(format!(
                "'{v}' is not a revocation policy (strict, ifuri or relaxed)"
            )),
        })?
        .unwrap_or_else(|| "relaxed".into());
    for key in [
        "eap_id",
        "aaa_id",
        "xauth_id",
        "ca_id",
        "groups",
        "cert_policy",
    ] {
        r.unsupported(key, warnings);
    }
    for s in r.sections(|n| n.starts_with("cert") || n.starts_with("cacert")) {
        warnings.push(Warning::new(
            &s.location,
            format!(
                "'{}.{}': certificates from files/tokens in subsections are not supported by vtid; ignored",
                r.path, s.name
            ),
        ));
    }
    r.finish(warnings);
    Ok(AuthConfig {
        name: sec.name.clone(),
        round,
        auth,
        id,
        certs,
        cacerts,
        pubkeys,
        revocation,
    })
}

/// Builds a [`Child`] from its settings section (`children.NAME`).
pub fn child_from_section(
    sec: &Section,
    parent: &str,
    warnings: &mut Vec<Warning>,
) -> Result<Child, ConfigError> {
    let mut r = Reader::new(sec, format!("{parent}.{}", sec.name));
    let local_ts = r.list("local_ts").unwrap_or_default();
    let remote_ts = r.list("remote_ts").unwrap_or_default();
    let ah_proposals = r.list("ah_proposals").unwrap_or_default();
    let esp_proposals = match r.list("esp_proposals") {
        Some(v) if !v.is_empty() => v,
        // strongSwan adds default ESP proposals only if no AH ones are given.
        _ if !ah_proposals.is_empty() => vec![],
        _ => vec!["default".into()],
    };
    let mode = r
        .parse("mode", |s| {
            parse_choice(
                s,
                &[
                    ("tunnel", Mode::Tunnel),
                    ("transport", Mode::Transport),
                    ("transport_proxy", Mode::TransportProxy),
                    ("beet", Mode::Beet),
                    ("iptfs", Mode::Iptfs),
                    ("pass", Mode::Pass),
                    ("drop", Mode::Drop),
                ],
            )
        })?
        .unwrap_or(Mode::Tunnel);
    let policies = r.bool("policies", true)?;
    let policies_fwd_out = r.bool("policies_fwd_out", false)?;
    let start_action = r
        .parse("start_action", values::parse_action)?
        .unwrap_or_default();
    let close_action = r
        .parse("close_action", values::parse_action)?
        .unwrap_or_default();
    let dpd_action = r
        .parse("dpd_action", values::parse_action)?
        .unwrap_or_default();
    let rekey_time = r.parse("rekey_time", values::parse_duration)?;
    let life_time = r.parse("life_time", values::parse_duration)?;
    let rand_time = r.parse("rand_time", values::parse_duration)?;
    let rekey_bytes = r.parse("rekey_bytes", values::parse_bytes)?;
    let life_bytes = r.parse("life_bytes", values::parse_bytes)?;
    let rand_bytes = r.parse("rand_bytes", values::parse_bytes)?;
    let rekey_packets = r.parse("rekey_packets", values::parse_u64)?;
    let life_packets = r.parse("life_packets", values::parse_u64)?;
    let rand_packets = r.parse("rand_packets", values::parse_u64)?;
    let reqid = r.u32("reqid", 0)?;
    let priority = r.u32("priority", 0)?;
    let interface = r.string("interface");
    let if_id_in = r
        .parse("if_id_in", values::parse_if_id)?
        .unwrap_or_default();
    let if_id_out = r
        .parse("if_id_out", values::parse_if_id)?
        .unwrap_or_default();
    let mark_in = r
        .parse("mark_in", |s| values::parse_mark(s, false))?
        .unwrap_or_default();
    let mark_in_sa = r.bool("mark_in_sa", false)?;
    let mark_out = r
        .parse("mark_out", |s| values::parse_mark(s, false))?
        .unwrap_or_default();
    let set_mark_in = r
        .parse("set_mark_in", |s| values::parse_mark(s, true))?
        .unwrap_or_default();
    let set_mark_out = r
        .parse("set_mark_out", |s| values::parse_mark(s, true))?
        .unwrap_or_default();
    let copy_df = r.bool("copy_df", true)?;
    let copy_ecn = r.bool("copy_ecn", true)?;
    let copy_dscp = r
        .parse("copy_dscp", |s| {
            parse_choice(
                s,
                &[
                    ("out", CopyDscp::Out),
                    ("in", CopyDscp::In),
                    ("yes", CopyDscp::Yes),
                    ("no", CopyDscp::No),
                ],
            )
        })?
        .unwrap_or(CopyDscp::Out);
    let sha256_96 = r.bool("sha256_96", false)?;
    let updown = r.string("updown");
    let hostaccess = r.bool("hostaccess", false)?;
    let ipcomp = r.bool("ipcomp", false)?;
    let inactivity = r
        .parse("inactivity", values::parse_duration)?
        .unwrap_or_default();
    let replay_window = r.u32("replay_window", 32)?;
    let hw_offload = r
        .parse("hw_offload", |s| {
            parse_choice(
                s,
                &[
                    ("no", HwOffload::No),
                    ("yes", HwOffload::Crypto),
                    ("crypto", HwOffload::Crypto),
                    ("packet", HwOffload::Packet),
                    ("auto", HwOffload::Auto),
                ],
            )
        })?
        .unwrap_or(HwOffload::No);
    let label = r.string("label");
    r.warn_if_set(
        "label",
        "security labels are not supported by vtid; ignored",
        warnings,
    );
    for key in ["label_mode", "tfc_padding", "per_cpu_sas", "icmp"] {
        r.unsupported(key, warnings);
    }
    r.finish(warnings);
    Ok(Child {
        name: sec.name.clone(),
        local_ts,
        remote_ts,
        esp_proposals,
        ah_proposals,
        mode,
        policies,
        policies_fwd_out,
        start_action,
        close_action,
        dpd_action,
        rekey_time,
        life_time,
        rand_time,
        rekey_bytes,
        life_bytes,
        rand_bytes,
        rekey_packets,
        life_packets,
        rand_packets,
        reqid,
        priority,
        interface,
        if_id_in,
        if_id_out,
        mark_in,
        mark_in_sa,
        mark_out,
        set_mark_in,
        set_mark_out,
        copy_df,
        copy_ecn,
        copy_dscp,
        sha256_96,
        updown,
        hostaccess,
        ipcomp,
        inactivity,
        replay_window,
        hw_offload,
        label,
        origin: Origin::of(sec, |_| false),
    })
}
