//! vtid's configuration: strongSwan's swanctl.conf syntax and the typed model
//! it yields.
//!
//! * [`settings`]: the untyped tree ([`Section`]) and its parser, following
//!   strongSwan's settings lexer/grammar (sections, `key = value`, quoted
//!   strings, comments, `include` with globs, section references,
//!   merge-on-repeat).
//! * [`load_file`] / [`load_str`]: text → [`Loaded`] = typed [`Config`] plus
//!   [`Warning`]s for everything vtid does not know or support (never
//!   skipped silently).
//! * [`connection_from_section`]: one [`Section`] → [`Connection`], shared
//!   with the VICI control socket.
//! * Derived defaults: [`Connection::lifetimes`], [`Child::lifetimes`],
//!   [`Config::traffic_selectors`], [`Config::reqid_allocator`].
#![forbid(unsafe_code)]

use std::collections::BTreeSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

mod conn;
mod daemon;
mod error;
mod glob;
mod observe;
pub mod paths;
pub mod pools;
mod radius;
mod reader;
mod secret;
mod secrets;
pub mod settings;
pub mod values;

pub use conn::{
    child_from_section, connection_from_section, AuthConfig, Child, ChildLifetimes, Childless,
    Connection, CopyDscp, Fragmentation, HwOffload, IkeLifetimes, IkeVersion, Mode, SendCert,
    Unique, DEFAULT_CHILD_REKEY_TIME, DEFAULT_IKE_REKEY_TIME,
};
pub use daemon::{
    default_route_metric, interface_unit, Daemon, Dataplane, Interface, LogLevels, Monitor, Vici,
    XfrmInterfaceType, DEFAULT_MTU, LOG_SUBSYSTEMS, MAX_POLICIES_PER_CHILD, MIN_MTU,
};
pub use error::{ConfigError, Location, Origin, Warning};
pub use observe::{
    check_time_format, filelogs_from_section, syslog_from_section, FileLog, LogFormat,
    LogRefinement, Metrics, Syslog, SyslogFacility, SyslogTarget, TimePrecision,
    DEFAULT_METRICS_LISTEN,
};
pub use pools::{
    pool_from_section, AttrKind, AttrValue, Pool, PoolAddrs, PoolAttr, PoolSpan, MAX_POOL_SIZE,
};
pub use radius::{Dae, Radius, RadiusHost, RadiusServer};
pub use secret::Secret;
pub use secrets::{Authority, KeySecret, SecretKind, SharedSecret};
pub use settings::{KeyValue, Section};
pub use values::{Action, AddrFamily, HostSpec, IfId, IpNet, Mark, MarkValue};

use reader::Reader;

/// The typed configuration.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize, Default)]
pub struct Config {
    /// `connections`, in file order.
    pub connections: Vec<Connection>,
    /// `secrets` (supported kinds only), in file order.
    pub secrets: Vec<SharedSecret>,
    /// `vtid { ... }`.
    pub daemon: Daemon,
    /// `interfaces { ... }` (top level, or inside `vtid`), in file order.
    pub interfaces: Vec<Interface>,
    /// `authorities { NAME { cacert, crl_uris } }`, in file order.
    pub authorities: Vec<secrets::Authority>,
    /// `secrets { private-NAME / rsa-NAME / ecdsa-NAME / pkcs8-NAME { file,
    /// secret } }`: passphrases of encrypted private keys.
    pub key_secrets: Vec<secrets::KeySecret>,
    /// The directory of the configuration file: the swanctl folders
    /// (`x509/`, `x509ca/`, `private/`, ...) are looked up in it, as
    /// strongSwan looks in /etc/swanctl. `None` for configurations not read
    /// from a file.
    #[serde(skip)]
    pub base_dir: Option<std::path::PathBuf>,
    /// `pools { ... }`: virtual IP pools and their attributes, in file
    /// order.
    #[serde(default)]
    pub pools: Vec<Pool>,
}

/// A loaded configuration and what the operator should be told about it.
#[derive(Debug)]
pub struct Loaded {
    /// The configuration.
    pub config: Config,
    /// Warnings, in the order found (log them).
    pub warnings: Vec<Warning>,
}

/// Reads and loads a swanctl.conf-syntax file (with its includes).
pub fn load_file(path: impl AsRef<Path>) -> Result<Loaded, ConfigError> {
    load_files(path, None)
}

/// Reads and loads vtid's file and, if given, a strongswan.conf whose
/// `charon { }` section sets the daemon-wide defaults (pfSense writes its
/// daemon settings there): strongswan.conf's `charon`, then a `charon`
/// section of vtid's file, then `vtid { }`, each overriding the one before.
pub fn load_files(
    path: impl AsRef<Path>,
    strongswan_conf: Option<&Path>,
) -> Result<Loaded, ConfigError> {
    load_files_all(path, strongswan_conf).map_err(|mut e| e.swap_remove(0))
}

/// Like [`load_files`], but reports every connection whose values cannot
/// be read, not only the first (for `vtid --check`). A syntax error still
/// stops at the first one: what follows it cannot be parsed reliably.
/// The error list is never empty.
pub fn load_files_all(
    path: impl AsRef<Path>,
    strongswan_conf: Option<&Path>,
) -> Result<Loaded, Vec<ConfigError>> {
    let mut warnings = Vec::new();
    let base = match strongswan_conf {
        Some(p) => {
            let root = settings::parse_file(p, &mut warnings).map_err(|e| vec![e])?;
            strongswan_conf_settings(&root, &mut warnings).map_err(|e| vec![e])?
        }
        None => Daemon::default(),
    };
    let root = settings::parse_file(path.as_ref(), &mut warnings).map_err(|e| vec![e])?;
    let mut errors = Vec::new();
    match load_settings_on(&root, warnings, base, &mut errors) {
        Ok(mut l) if errors.is_empty() => {
            l.config.base_dir = Some(
                path.as_ref()
                    .parent()
                    .map_or_else(|| Path::new(".").to_path_buf(), Path::to_path_buf),
            );
            Ok(l)
        }
        Ok(_) => Err(errors),
        Err(e) => {
            errors.push(e);
            Err(errors)
        }
    }
}

/// The daemon settings of a parsed strongswan.conf: its `charon { }`
/// section ([`Daemon`] keys with strongSwan's meaning); every other
/// top-level section or key is named once in a warning.
fn strongswan_conf_settings(
    root: &Section,
    warnings: &mut Vec<Warning>,
) -> Result<Daemon, ConfigError> {
    let resolved = root.resolve_references(warnings)?;
    let mut base = Daemon::default();
    let mut top = Reader::new(&resolved, "");
    for c in top.sections(|n| n == "charon") {
        base = daemon::charon_from_section(c, &base, warnings)?;
    }
    for (name, location, what) in top.unused() {
        warnings.push(Warning::new(
            location,
            format!("strongswan.conf {what} '{name}' is not used by vtid; ignored"),
        ));
    }
    Ok(base)
}

/// Loads swanctl.conf-syntax `text`; `name` is used in locations and as the
/// base for relative includes.
pub fn load_str(text: &str, name: &str) -> Result<Loaded, ConfigError> {
    let mut warnings = Vec::new();
    let root = settings::parse_str(text, name, &mut warnings)?;
    load_settings(&root, warnings)
}

/// Builds the typed configuration from a parsed settings tree (references
/// are resolved here); `warnings` are the parser's, to which this adds.
pub fn load_settings(root: &Section, warnings: Vec<Warning>) -> Result<Loaded, ConfigError> {
    let mut errors = Vec::new();
    let l = load_settings_on(root, warnings, Daemon::default(), &mut errors)?;
    match errors.into_iter().next() {
        Some(e) => Err(e),
        None => Ok(l),
    }
}

/// Loads `root` on top of the daemon settings `base`. Errors in a
/// connection go to `errors` and loading goes on with the next one (so all
/// are found); other errors end it.
fn load_settings_on(
    root: &Section,
    mut warnings: Vec<Warning>,
    base: Daemon,
    errors: &mut Vec<ConfigError>,
) -> Result<Loaded, ConfigError> {
    let resolved = root.resolve_references(&mut warnings)?;
    let mut config = Config::default();
    let mut top = Reader::new(&resolved, "");

    for cs in top.sections(|n| n == "connections") {
        let mut r = Reader::new(cs, "connections");
        for c in r.sections(|_| true) {
            match connection_from_section(c, &mut warnings) {
                Ok(conn) => config.connections.push(conn),
                Err(e) => errors.push(e),
            }
        }
        r.finish(&mut warnings);
    }
    for s in top.sections(|n| n == "secrets") {
        let (shared, keys) = secrets::secrets_from_section(s, &mut warnings)?;
        config.secrets = shared;
        config.key_secrets = keys;
    }
    for s in top.sections(|n| n == "authorities") {
        config.authorities = secrets::authorities_from_section(s, &mut warnings)?;
    }
    for s in top.sections(|n| n == "pools") {
        config.pools = pools::pools_from_section(s, &mut warnings)?;
    }
    check_pool_names(&config, &mut warnings);
    let mut iface_sections = Vec::new();
    config.daemon = base;
    for s in top.sections(|n| n == "charon") {
        config.daemon = daemon::charon_from_section(s, &config.daemon, &mut warnings)?;
    }
    for s in top.sections(|n| n == "vtid") {
        let (daemon, ifaces) = daemon::daemon_from_section(s, &config.daemon, &mut warnings)?;
        config.daemon = daemon;
        iface_sections.extend(ifaces);
    }
    iface_sections.extend(top.sections(|n| n == "interfaces"));
    for s in iface_sections {
        for iface in daemon::interfaces_from_section(s, config.interfaces.len(), &mut warnings)? {
            if let Some(prev) = config.interfaces.iter().find(|i| i.name == iface.name) {
                return Err(ConfigError::invalid(
                    iface.location.as_ref().unwrap_or(&s.location),
                    format!(
                        "interface '{}' is defined both in 'interfaces' and 'vtid.interfaces' (first at {})",
                        iface.name,
                        prev.location.as_ref().map(|l| l.to_string()).unwrap_or_default()
                    ),
                ));
            }
            config.interfaces.push(iface);
        }
    }
    // Sections used only as templates for references are fine; anything
    // else unknown at the top level gets a warning.
    top.sections(|n| root.is_referenced(n));
    top.finish(&mut warnings);

    config.validate()?;
    Ok(Loaded { config, warnings })
}

/// Warns about a connection's `pools = NAME` that names no pool of the
/// file: such a pool must come over VICI (`swanctl --load-pools`) before
/// a client connects, or be `radius` (addresses from the RADIUS server,
/// as strongSwan's eap-radius plugin provides them).
fn check_pool_names(config: &Config, warnings: &mut Vec<Warning>) {
    for conn in &config.connections {
        for name in &conn.pools {
            if name == "radius" || config.pools.iter().any(|p| p.name == *name) {
                continue;
            }
            let loc = conn
                .origin
                .at("pools")
                .cloned()
                .unwrap_or_else(|| Location::synthetic("<config>"));
            warnings.push(Warning::new(
                &loc,
                format!(
                    "connection '{}': pool '{name}' is not defined in 'pools'; clients get no \
                     address from it unless it is loaded over VICI (swanctl --load-pools)",
                    conn.name
                ),
            ));
        }
    }
}

/// Hands out reqids for children without a fixed one, skipping reserved
/// reqids (interfaces' and explicitly configured ones).
#[derive(Clone, Debug)]
pub struct ReqidAllocator {
    next: u32,
    reserved: BTreeSet<u32>,
}

impl ReqidAllocator {
    /// Starts at `base` (charon's `reqid_base`), never returning a reserved
    /// reqid or 0.
    pub fn new(base: u32, reserved: BTreeSet<u32>) -> ReqidAllocator {
        ReqidAllocator {
            next: base.max(1),
            reserved,
        }
    }

    /// The next free reqid, or `None` when exhausted.
    pub fn allocate(&mut self) -> Option<u32> {
        loop {
            let r = self.next;
            if r == 0 {
                return None;
            }
            self.next = r.wrapping_add(1);
            if !self.reserved.contains(&r) {
                self.reserved.insert(r);
                return Some(r);
            }
        }
    }

    /// Marks a reqid as taken.
    pub fn reserve(&mut self, reqid: u32) {
        self.reserved.insert(reqid);
    }
}

/// The interface that carries a CHILD SA with `reqid` and interface IDs
/// `if_id` (in, out; 0: none): the one whose reqid is the SA's, else the
/// one whose reqid is its non-zero `if_id_in`, else `if_id_out`. The one
/// rule every data plane, routing and the control socket use, the same as
/// [`Config::interface_for_child`] for a configured child.
pub fn interface_for(
    interfaces: &[Interface],
    reqid: u32,
    if_id: (u32, u32),
) -> Option<&Interface> {
    [reqid, if_id.0, if_id.1]
        .into_iter()
        .filter(|&id| id != 0)
        .find_map(|id| interfaces.iter().find(|i| i.reqid == id))
}

impl Config {
    /// The interface a child is routed through, if any: the one whose reqid
    /// equals the child's non-zero `reqid`, or else its effective fixed
    /// `if_id_in`/`if_id_out` (the child's, falling back to the
    /// connection's). A child is "routed" exactly when this returns `Some`.
    pub fn interface_for_child(&self, conn: &Connection, child: &Child) -> Option<&Interface> {
        let fixed = |v: IfId| IfId::fixed(v).unwrap_or(0);
        interface_for(
            &self.interfaces,
            child.reqid,
            (
                fixed(conn.child_if_id_in(child)),
                fixed(conn.child_if_id_out(child)),
            ),
        )
    }

    /// Reqids automatic allocation must skip: every interface's reqid and
    /// every explicitly configured child reqid.
    pub fn reserved_reqids(&self) -> BTreeSet<u32> {
        let mut set: BTreeSet<u32> = self.interfaces.iter().map(|i| i.reqid).collect();
        for c in &self.connections {
            set.extend(c.children.iter().map(|ch| ch.reqid).filter(|&r| r != 0));
        }
        set
    }

    /// An allocator for automatic reqids, starting at `vtid.reqid_base`.
    pub fn reqid_allocator(&self) -> ReqidAllocator {
        ReqidAllocator::new(self.daemon.reqid_base, self.reserved_reqids())
    }

    /// A child's effective traffic selectors `(local, remote)`: as
    /// configured, else `dynamic` — or `0.0.0.0/0, ::/0` when the child is
    /// routed through an interface (see [`Config::interface_for_child`]).
    pub fn traffic_selectors(
        &self,
        conn: &Connection,
        child: &Child,
    ) -> (Vec<String>, Vec<String>) {
        let routed = self.interface_for_child(conn, child).is_some();
        let default = || -> Vec<String> {
            if routed {
                vec!["0.0.0.0/0".into(), "::/0".into()]
            } else {
                vec!["dynamic".into()]
            }
        };
        let pick = |ts: &Vec<String>| if ts.is_empty() { default() } else { ts.clone() };
        (pick(&child.local_ts), pick(&child.remote_ts))
    }

    /// A connection by name.
    pub fn connection(&self, name: &str) -> Option<&Connection> {
        self.connections.iter().find(|c| c.name == name)
    }

    /// Checks cross-references: unique interface reqids, no two interfaces
    /// routing the same prefix with the same `route_metric` (a route with
    /// the same table, prefix and metric replaces the other one in the
    /// kernel: `NLM_F_REPLACE`, which vtid's route installation uses), and
    /// that a child's reqid and interface IDs do not name different
    /// interfaces.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let nowhere = Location::synthetic("<config>");
        for (i, a) in self.interfaces.iter().enumerate() {
            let loc = a.location.as_ref().unwrap_or(&nowhere);
            if interface_unit(&a.name).is_none() {
                return Err(ConfigError::invalid(
                    loc,
                    format!("interface name '{}' must look like ipsecN", a.name),
                ));
            }
            if let Some(b) = self.interfaces[..i].iter().find(|b| b.reqid == a.reqid) {
                return Err(ConfigError::invalid(
                    loc,
                    format!(
                        "interfaces '{}' and '{}' both use reqid {}",
                        b.name, a.name, a.reqid
                    ),
                ));
            }
            for b in &self.interfaces[..i] {
                if b.route_metric != a.route_metric {
                    continue;
                }
                if let Some(r) = a.routes.iter().find(|r| {
                    b.routes
                        .iter()
                        .any(|q| q.prefix == r.prefix && q.contains(r.addr))
                }) {
                    return Err(ConfigError::invalid(
                        loc,
                        format!(
                            "interfaces '{}' and '{}' both route {r} with route_metric {}; \
                             give one of them a different route_metric (the lower one is \
                             preferred while its SA is up)",
                            b.name, a.name, a.route_metric
                        ),
                    ));
                }
            }
            if a.mtu < MIN_MTU {
                return Err(ConfigError::invalid(
                    loc,
                    format!("interface '{}': mtu below {MIN_MTU}", a.name),
                ));
            }
        }
        for conn in &self.connections {
            for child in &conn.children {
                let by = |id: u32| self.interfaces.iter().find(|i| i.reqid == id);
                let named: Vec<(&str, &Interface)> = [
                    ("reqid", child.reqid),
                    ("if_id_in", conn.child_if_id_in(child).fixed().unwrap_or(0)),
                    (
                        "if_id_out",
                        conn.child_if_id_out(child).fixed().unwrap_or(0),
                    ),
                ]
                .into_iter()
                .filter(|&(_, id)| id != 0)
                .filter_map(|(what, id)| by(id).map(|i| (what, i)))
                .collect();
                if let Some(w) = named.windows(2).find(|w| w[0].1.name != w[1].1.name) {
                    let loc = w[1].1.location.as_ref().unwrap_or(&nowhere);
                    return Err(ConfigError::invalid(
                        loc,
                        format!(
                            "child '{}.{}': {} names interface '{}' but {} names '{}'",
                            conn.name, child.name, w[0].0, w[0].1.name, w[1].0, w[1].1.name
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}
