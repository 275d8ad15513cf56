//! vtid's own sections: `vtid { ... }` (daemon-wide settings, named after
//! strongswan.conf's `charon.*` where one exists) and `interfaces { ipsecN {
//! ... } }` (route-based VPN interfaces).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{ConfigError, Location, Warning};
use crate::observe::{self, FileLog, Metrics, Syslog};
use crate::reader::Reader;
use crate::settings::Section;
use crate::values::{self, parse_choice, IpNet};

/// Which kernel interface installs SAs and policies.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum Dataplane {
    /// Pick the best available (default).
    Auto,
    /// vtid's own userspace ESP.
    Userspace,
    /// Linux XFRM (netlink).
    Xfrm,
    /// PF_KEY (FreeBSD).
    Pfkey,
}

/// What the XFRM data plane makes of an `ipsecN` interface
/// (`vtid { xfrm_interface_type = xfrmi | vti }`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, Serialize, Deserialize)]
pub enum XfrmInterfaceType {
    /// `xfrmi` (default): an xfrm interface (`type xfrm if_id <reqid>`;
    /// Linux ≥ 4.19); SAs and policies carry `XFRMA_IF_ID`.
    #[default]
    Xfrmi,
    /// `vti`: a legacy VTI (`type vti`/`vti6`, ikey = okey = the reqid,
    /// the tunnel endpoints of the CHILD SA); SAs and policies carry
    /// `XFRMA_MARK` = the reqid, mask 0xffffffff. For kernels without xfrm
    /// interfaces; needs `ip_vti` (`ip6_vti`).
    Vti,
}

/// `vtid.vici { ... }`: the control socket.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Vici {
    /// `socket` (default [`crate::paths::VICI_SOCKET`]: `unix:///run/vtid.vici`
    /// on Linux, charon's `unix:///var/run/charon.vici` on FreeBSD).
    pub socket: String,
    /// `mode`: file mode of the socket (default 0600; read like strtoul base
    /// 0, so `0600` is octal).
    pub mode: u32,
    /// `owner` (user name or uid; default: the daemon's).
    pub owner: Option<String>,
    /// `group` (group name or gid; default: the daemon's).
    pub group: Option<String>,
}

impl Default for Vici {
    fn default() -> Vici {
        Vici {
            socket: crate::paths::VICI_SOCKET.into(),
            mode: 0o600,
            owner: None,
            group: None,
        }
    }
}

/// charon's logging subsystems (strongSwan `debug_t` names).
pub const LOG_SUBSYSTEMS: &[&str] = &[
    "dmn", "mgr", "ike", "chd", "job", "cfg", "knl", "net", "asn", "enc", "tnc", "imc", "imv",
    "pts", "tls", "esp", "lib", "app",
];

/// `vtid.log { default = 1, ike = 2, ... }`: log levels (-1 silent .. 4
/// most verbose) as in charon's `filelog`/`syslog` sections.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct LogLevels {
    /// `default` (1).
    pub default: i8,
    /// Per-subsystem levels; subsystems not listed use `default`.
    pub subsystems: BTreeMap<String, i8>,
}

impl Default for LogLevels {
    fn default() -> LogLevels {
        LogLevels {
            default: 1,
            subsystems: BTreeMap::new(),
        }
    }
}

impl LogLevels {
    /// The level for a subsystem.
    pub fn level(&self, subsystem: &str) -> i8 {
        self.subsystems
            .get(subsystem)
            .copied()
            .unwrap_or(self.default)
    }
}

/// The largest `vtid.max_policies_per_child`.
pub const MAX_POLICIES_PER_CHILD: u32 = 1 << 20;

/// Daemon-wide settings (`vtid { ... }`). Defaults are strongSwan's for the
/// `charon.*` option of the same name unless noted.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct Daemon {
    /// `retransmit_timeout` in seconds (4.0).
    pub retransmit_timeout: f64,
    /// `retransmit_base` (1.8).
    pub retransmit_base: f64,
    /// `retransmit_tries` (5).
    pub retransmit_tries: u32,
    /// `retransmit_jitter` in percent (0).
    pub retransmit_jitter: u32,
    /// `retransmit_limit`: upper bound of one retransmission timeout in
    /// seconds (0 = none).
    pub retransmit_limit: u32,
    /// `cookie_threshold`: half-open IKE_SAs, or IKE_SA_INIT requests
    /// within a second (failed ones too), before cookies are required (30;
    /// 0 = never).
    pub cookie_threshold: u32,
    /// `init_limit_half_open`: half-open IKE_SAs before IKE_SA_INIT
    /// requests are dropped (vtid: 1000; strongSwan: 0; 0 = no limit).
    pub init_limit_half_open: u32,
    /// `block_threshold`: half-open IKE_SAs from one address before its
    /// IKE_SA_INIT requests are dropped (5; 0 = no limit).
    pub block_threshold: u32,
    /// `ikesa_limit`: IKE_SAs before new IKE_SA_INIT requests are dropped
    /// (vtid: 10000; strongSwan: 0; 0 = no limit).
    pub ikesa_limit: u32,
    /// `max_packet`: largest IKE message accepted, as one datagram or
    /// reassembled from fragments (10000).
    pub max_packet: u32,
    /// `keep_alive`: NAT keepalive interval (20s).
    pub keep_alive: Duration,
    /// `delete_rekeyed_delay` (5s).
    pub delete_rekeyed_delay: Duration,
    /// `make_before_break` for reauthentication (yes; strongSwan ≥ 6.0 has
    /// yes too, 5.x had no).
    pub make_before_break: bool,
    /// `reqid_base`: first automatically allocated reqid (1).
    pub reqid_base: u32,
    /// `vici { ... }`.
    pub vici: Vici,
    /// `log { ... }`.
    pub log: LogLevels,
    /// `dataplane` (auto).
    pub dataplane: Dataplane,
    /// `xfrm_interface_type` (xfrmi): xfrm interfaces or legacy VTIs with
    /// the XFRM data plane.
    pub xfrm_interface_type: XfrmInterfaceType,
    /// `tun_offload` (yes): the userspace data plane opens its TUNs with
    /// IFF_VNET_HDR and TSO/USO/checksum offloads (segmenting in
    /// userspace, coalescing TCP on the way in). `no` is one packet per
    /// TUN read and write, for kernels or setups where offloads misbehave.
    pub tun_offload: bool,
    /// `dataplane_threads` (0 = one per CPU, at most 4): packet threads
    /// per direction of the userspace data plane.
    pub dataplane_threads: u32,
    /// `port`: the IKE port (500).
    pub port: u16,
    /// `port_nat_t`: the NAT-T port (4500); must differ from `port`.
    pub port_nat_t: u16,
    /// `fragment_size`: largest IKE datagram before IKE fragmentation,
    /// IP and UDP headers included (1280).
    pub fragment_size: u32,
    /// `install_routes` (yes): routes for the remote traffic selectors of
    /// policy-based children (strongSwan: table 220; vtid's userspace data
    /// plane: into the shared TUN). `no` (pfSense) leaves routing to the
    /// operator; routed interfaces' own `routes` are not affected.
    pub install_routes: bool,
    /// `max_policies_per_child` (1024, vtid's own): the most `(local prefix,
    /// remote prefix)` pairs the traffic selectors of one CHILD SA may
    /// split into — each becomes an XFRM policy per direction or a PF_KEY
    /// SPD entry per direction — and the most routes (remote prefixes) the
    /// userspace data plane installs for it. A child beyond it is refused
    /// (deleted, with a log line): selectors from a peer can be ranges
    /// that split into thousands of prefixes, multiplied pairwise.
    pub max_policies_per_child: u32,
    /// `ignore_acquire_ts` (no): a trap that fires negotiates the child's
    /// configured selectors instead of narrowing them to the packet that
    /// triggered it (strongSwan's meaning; read by the trap support).
    pub ignore_acquire_ts: bool,
    /// `filelog { NAME { ... } }`: log files (charon's), in file order.
    pub filelog: Vec<FileLog>,
    /// `syslog { ... }` (charon's), if configured.
    pub syslog: Option<Syslog>,
    /// `metrics { ... }`: the Prometheus endpoint, off without the section.
    pub metrics: Option<Metrics>,
    /// `eap-radius { }` (strongswan.conf's `charon.plugins.eap-radius`):
    /// the RADIUS client, if configured.
    #[serde(default)]
    pub radius: Option<crate::radius::Radius>,
    /// `keylog`: a directory where vtid keeps Wireshark's
    /// `ikev2_decryption_table` and `esp_sa` for every SA (insecure:
    /// debugging only).
    pub keylog: Option<String>,
}

impl Default for Daemon {
    fn default() -> Daemon {
        Daemon {
            retransmit_timeout: 4.0,
            retransmit_base: 1.8,
            retransmit_tries: 5,
            retransmit_jitter: 0,
            retransmit_limit: 0,
            cookie_threshold: 30,
            init_limit_half_open: 1000,
            block_threshold: 5,
            ikesa_limit: 10_000,
            max_packet: 10_000,
            keep_alive: Duration::from_secs(20),
            delete_rekeyed_delay: Duration::from_secs(5),
            make_before_break: true,
            reqid_base: 1,
            vici: Vici::default(),
            log: LogLevels::default(),
            dataplane: Dataplane::Auto,
            xfrm_interface_type: XfrmInterfaceType::Xfrmi,
            tun_offload: true,
            dataplane_threads: 0,
            max_policies_per_child: 1024,
            port: 500,
            port_nat_t: 4500,
            fragment_size: 1280,
            install_routes: true,
            ignore_acquire_ts: false,
            filelog: Vec::new(),
            syslog: None,
            metrics: None,
            radius: None,
            keylog: None,
        }
    }
}

fn parse_f64(s: &str) -> Result<f64, String> {
    let v = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok().map(|v| v as f64)
    } else {
        f64::from_str(s.trim()).ok()
    };
    v.filter(|v| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| "expected a non-negative number like 4.0".into())
}

fn udp_port(s: &str) -> Result<u16, String> {
    values::parse_u64_c(s)
        .and_then(|v| u16::try_from(v).ok())
        .filter(|&p| p != 0)
        .ok_or_else(|| "expected a UDP port number 1..65535".into())
}

fn log_level(s: &str) -> Result<i8, String> {
    s.trim()
        .parse::<i8>()
        .ok()
        .filter(|v| (-1..=4).contains(v))
        .ok_or_else(|| "expected a log level from -1 to 4".into())
}

/// Reads `vtid { ... }` on top of `base` (the defaults, or what a
/// `charon { }` section set); its `interfaces` subsection is returned
/// separately.
pub(crate) fn daemon_from_section<'a>(
    sec: &'a Section,
    base: &Daemon,
    warnings: &mut Vec<Warning>,
) -> Result<(Daemon, Option<&'a Section>), ConfigError> {
    let mut r = Reader::new(sec, "vtid");
    let (daemon, interfaces) = daemon_settings(&mut r, base, warnings)?;
    r.finish(warnings);
    Ok((daemon, interfaces))
}

/// Reads strongswan.conf's `charon { ... }` (from a strongswan.conf given to
/// vtid, or a `charon` section in vtid's own file) on top of `base`: every
/// key vtid implements has strongSwan's meaning (retransmit_*,
/// make_before_break, install_routes, ignore_acquire_ts, port, port_nat_t,
/// cookie_threshold, ..., and the `filelog`/`syslog` loggers, which become
/// vtid's log outputs as `vtid { filelog / syslog }` would);
/// every other key or plugin is named once in a warning.
pub(crate) fn charon_from_section(
    sec: &Section,
    base: &Daemon,
    warnings: &mut Vec<Warning>,
) -> Result<Daemon, ConfigError> {
    let mut r = Reader::new(sec, "charon");
    let (mut daemon, _) = daemon_settings(&mut r, base, warnings)?;
    // Loggers: charon.filelog.NAME { ... } and charon.syslog.FACILITY
    // { ... }, the same outputs as vtid { filelog / syslog }.
    for f in r.sections(|n| n == "filelog") {
        daemon.filelog.extend(observe::filelogs_from_section(
            f,
            "charon.filelog",
            warnings,
        )?);
    }
    for s in r.sections(|n| n == "syslog") {
        daemon.syslog = Some(observe::syslog_from_section(s, "charon.syslog", warnings)?);
    }
    for plugins in r.sections(|n| n == "plugins") {
        for p in &plugins.sections {
            if p.name == "eap-radius" {
                daemon.radius = Some(crate::radius::radius_from_section(
                    p,
                    "charon.plugins.eap-radius",
                    warnings,
                )?);
                continue;
            }
            warnings.push(Warning::new(
                &p.location,
                format!(
                    "'charon.plugins.{}': strongSwan plugin settings are not used by vtid; ignored",
                    p.name
                ),
            ));
        }
        for kv in &plugins.settings {
            warnings.push(Warning::new(
                &kv.location,
                format!(
                    "'charon.plugins.{}': strongSwan plugin settings are not used by vtid; ignored",
                    kv.key
                ),
            ));
        }
    }
    // Every other key and section of charon: named once.
    for (name, location, what) in r.unused() {
        warnings.push(Warning::new(
            location,
            format!("'charon.{name}': strongSwan {what} not used by vtid; ignored"),
        ));
    }
    Ok(daemon)
}

/// The settings shared by `vtid { }` and `charon { }`, read from `r` on top
/// of `base`; `vici` and `log` subsections and vtid's own keys are read only
/// under `vtid`.
fn daemon_settings<'a>(
    r: &mut Reader<'a>,
    base: &Daemon,
    warnings: &mut Vec<Warning>,
) -> Result<(Daemon, Option<&'a Section>), ConfigError> {
    let vtid = r.path == "vtid";
    let sec = r.sec;
    let d = base.clone();
    let mut daemon = Daemon {
        retransmit_timeout: r
            .parse("retransmit_timeout", parse_f64)?
            .unwrap_or(d.retransmit_timeout),
        retransmit_base: r
            .parse("retransmit_base", parse_f64)?
            .unwrap_or(d.retransmit_base),
        retransmit_tries: r.u32("retransmit_tries", d.retransmit_tries)?,
        retransmit_jitter: r
            .parse("retransmit_jitter", |s| {
                let v = values::parse_u32(s)?;
                if v <= 100 {
                    Ok(v)
                } else {
                    Err("expected a percentage 0..100".into())
                }
            })?
            .unwrap_or(d.retransmit_jitter),
        retransmit_limit: r.u32("retransmit_limit", d.retransmit_limit)?,
        cookie_threshold: r.u32("cookie_threshold", d.cookie_threshold)?,
        init_limit_half_open: r.u32("init_limit_half_open", d.init_limit_half_open)?,
        block_threshold: r.u32("block_threshold", d.block_threshold)?,
        ikesa_limit: r.u32("ikesa_limit", d.ikesa_limit)?,
        max_packet: r
            .parse("max_packet", |s| {
                let v = values::parse_u32(s)?;
                if (1280..=65535).contains(&v) {
                    Ok(v)
                } else {
                    Err("expected an IKE message size from 1280 to 65535".into())
                }
            })?
            .unwrap_or(d.max_packet),
        keep_alive: r
            .parse("keep_alive", values::parse_duration)?
            .unwrap_or(d.keep_alive),
        delete_rekeyed_delay: r
            .parse("delete_rekeyed_delay", values::parse_duration)?
            .unwrap_or(d.delete_rekeyed_delay),
        make_before_break: r.bool("make_before_break", d.make_before_break)?,
        reqid_base: r.u32("reqid_base", d.reqid_base)?,
        vici: d.vici.clone(),
        log: d.log.clone(),
        install_routes: r.bool("install_routes", d.install_routes)?,
        ignore_acquire_ts: r.bool("ignore_acquire_ts", d.ignore_acquire_ts)?,
        dataplane: if !vtid {
            d.dataplane
        } else {
            r.parse("dataplane", |s| {
                parse_choice(
                    s,
                    &[
                        ("auto", Dataplane::Auto),
                        ("userspace", Dataplane::Userspace),
                        ("xfrm", Dataplane::Xfrm),
                        ("pfkey", Dataplane::Pfkey),
                    ],
                )
            })?
            .unwrap_or(d.dataplane)
        },
        xfrm_interface_type: if !vtid {
            d.xfrm_interface_type
        } else {
            r.parse("xfrm_interface_type", |s| {
                parse_choice(
                    s,
                    &[
                        ("xfrmi", XfrmInterfaceType::Xfrmi),
                        ("vti", XfrmInterfaceType::Vti),
                    ],
                )
            })?
            .unwrap_or(d.xfrm_interface_type)
        },
        tun_offload: if vtid {
            r.bool("tun_offload", d.tun_offload)?
        } else {
            d.tun_offload
        },
        dataplane_threads: if !vtid {
            d.dataplane_threads
        } else {
            r.parse("dataplane_threads", |s| {
                let v = values::parse_u32(s)?;
                if v <= 64 {
                    Ok(v)
                } else {
                    Err("expected 0 (one per CPU) to 64 threads".into())
                }
            })?
            .unwrap_or(d.dataplane_threads)
        },
        max_policies_per_child: if !vtid {
            d.max_policies_per_child
        } else {
            r.parse("max_policies_per_child", |s| {
                let v = values::parse_u32(s)?;
                if (1..=MAX_POLICIES_PER_CHILD).contains(&v) {
                    Ok(v)
                } else {
                    Err(format!(
                        "expected 1 to {MAX_POLICIES_PER_CHILD} (selector pairs of one CHILD_SA)"
                    ))
                }
            })?
            .unwrap_or(d.max_policies_per_child)
        },
        port: r.parse("port", udp_port)?.unwrap_or(d.port),
        port_nat_t: r.parse("port_nat_t", udp_port)?.unwrap_or(d.port_nat_t),
        fragment_size: r
            .parse("fragment_size", |s| {
                let v = values::parse_u32(s)?;
                if (576..=65535).contains(&v) {
                    Ok(v)
                } else {
                    Err("expected a datagram size from 576 to 65535".into())
                }
            })?
            .unwrap_or(d.fragment_size),
        filelog: Vec::new(),
        syslog: None,
        metrics: None,
        radius: d.radius.clone(),
        keylog: r.string("keylog"),
    };
    if daemon.port == daemon.port_nat_t {
        let kv = sec
            .get("port_nat_t")
            .or_else(|| sec.get("port"))
            .expect("one of the ports was set");
        return Err(r.value_error(kv, "port and port_nat_t must differ".into()));
    }
    if daemon.reqid_base == 0 {
        let kv = sec.get("reqid_base").expect("reqid_base was read");
        return Err(r.value_error(kv, "reqid_base must be at least 1".into()));
    }
    if !vtid {
        return Ok((daemon, None));
    }
    for v in r.sections(|n| n == "vici") {
        let mut vr = Reader::new(v, "vtid.vici");
        daemon.vici = Vici {
            socket: vr.string("socket").unwrap_or(d.vici.socket.clone()),
            mode: vr
                .parse("mode", |s| {
                    values::parse_u32(s).and_then(|m| {
                        if m <= 0o7777 {
                            Ok(m)
                        } else {
                            Err("expected a file mode like 0600".into())
                        }
                    })
                })?
                .unwrap_or(d.vici.mode),
            owner: vr.string("owner"),
            group: vr.string("group"),
        };
        vr.finish(warnings);
    }
    for l in r.sections(|n| n == "log") {
        let mut lr = Reader::new(l, "vtid.log");
        daemon.log.default = lr.parse("default", log_level)?.unwrap_or(d.log.default);
        for sub in LOG_SUBSYSTEMS {
            if let Some(level) = lr.parse(sub, log_level)? {
                daemon.log.subsystems.insert((*sub).to_string(), level);
            }
        }
        lr.finish(warnings);
    }
    for f in r.sections(|n| n == "filelog") {
        daemon
            .filelog
            .extend(observe::filelogs_from_section(f, "vtid.filelog", warnings)?);
    }
    for s in r.sections(|n| n == "syslog") {
        daemon.syslog = Some(observe::syslog_from_section(s, "vtid.syslog", warnings)?);
    }
    for m in r.sections(|n| n == "metrics") {
        daemon.metrics = Some(observe::metrics_from_section(m, warnings)?);
    }
    for s in r.sections(|n| n == "eap-radius") {
        daemon.radius = Some(crate::radius::radius_from_section(
            s,
            "vtid.eap-radius",
            warnings,
        )?);
    }
    let interfaces = r.sections(|n| n == "interfaces").into_iter().next();
    Ok((daemon, interfaces))
}

/// A route-based VPN interface `ipsecN` bound to CHILD_SAs by reqid.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Interface {
    /// The name, `ipsecN`.
    pub name: String,
    /// `reqid`: children with this reqid (or if_id_in/if_id_out) are routed
    /// through this interface. Required, non-zero, unique.
    pub reqid: u32,
    /// `local_addr`: the interface's own addresses, with prefix lengths.
    pub local_addrs: Vec<IpNet>,
    /// `remote_addr`: the peer's tunnel addresses.
    pub remote_addrs: Vec<IpAddr>,
    /// `routes`: prefixes routed into the interface.
    pub routes: Vec<IpNet>,
    /// `mtu` (default 1400; at least 1280).
    pub mtu: u32,
    /// `monitor`: what the automatic gateway probes (default: the remote
    /// transit address, as pfSense's gateway monitoring does).
    pub monitor: Monitor,
    /// `monitor_interval` (default 10s; vtid's choice).
    pub monitor_interval: Duration,
    /// `mss_clamp`: clamp TCP MSS to the MTU (default no; vtid's choice).
    pub mss_clamp: bool,
    /// `route_metric`: the metric (RTA_PRIORITY) of the interface's
    /// `routes`, 1 or more; the kernel uses the lowest metric among the
    /// routes present for a prefix, so two interfaces routing the same
    /// prefix coexist and the lower metric is preferred while its SA is up
    /// (failover). Default: the interface's position in
    /// [`crate::Config::interfaces`] plus one ([`default_route_metric`]);
    /// vtid's choice, see vtid/README-config.md.
    pub route_metric: u32,
    /// `description`.
    pub description: Option<String>,
    /// Where the interface is defined (for messages).
    #[serde(skip)]
    pub location: Option<Location>,
}

/// What an interface's automatic gateway probes (`monitor`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub enum Monitor {
    /// The remote transit address (the gateway itself); the default.
    #[default]
    Gateway,
    /// `monitor = ADDRESS`: another address behind the tunnel.
    Address(IpAddr),
    /// `monitor = off`: no probes; the gateway counts as up.
    Off,
}

/// Default interface MTU.
pub const DEFAULT_MTU: u32 = 1400;
/// Smallest allowed interface MTU (IPv6 minimum).
pub const MIN_MTU: u32 = 1280;

/// The default `route_metric` of the interface at `position` (0-based) in
/// [`crate::Config::interfaces`]: `position + 1`, so the first interface
/// is preferred. Never 0: Linux stores an IPv6 route of metric 0 with
/// metric 1024 (IP6_RT_PRIO_USER, `ip6_route_info_create`), which would
/// rank the first interface last for IPv6.
pub fn default_route_metric(position: usize) -> u32 {
    u32::try_from(position).map_or(u32::MAX, |p| p.saturating_add(1))
}

/// Parses a `route_metric` value: 1 ..= 2^32-1 (see [`default_route_metric`]
/// for why not 0).
fn route_metric(v: &str) -> Result<u32, String> {
    match values::parse_u32(v)? {
        0 => Err(
            "expected a route metric from 1 to 4294967295 (Linux turns an IPv6 metric 0 into \
                  1024, so 0 would not prefer this interface)"
                .into(),
        ),
        m => Ok(m),
    }
}

/// Parses the number of an `ipsecN` name.
pub fn interface_unit(name: &str) -> Option<u32> {
    let n = name.strip_prefix("ipsec")?;
    if n.is_empty() || !n.chars().all(|c| c.is_ascii_digit()) || (n.len() > 1 && n.starts_with('0'))
    {
        return None;
    }
    n.parse().ok()
}

/// Reads an `interfaces { ... }` section; `first_position` is the position
/// its first interface gets in [`crate::Config::interfaces`] (for the
/// default `route_metric`).
pub(crate) fn interfaces_from_section(
    sec: &Section,
    first_position: usize,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<Interface>, ConfigError> {
    let mut top = Reader::new(sec, "interfaces");
    let mut out = Vec::new();
    for s in top.sections(|_| true) {
        if interface_unit(&s.name).is_none() {
            return Err(ConfigError::invalid(
                &s.location,
                format!(
                    "interface name '{}' must look like ipsecN (e.g. ipsec7)",
                    s.name
                ),
            ));
        }
        let mut r = Reader::new(s, format!("interfaces.{}", s.name));
        let reqid = match r.parse("reqid", values::parse_u32)? {
            Some(0) | None => {
                return Err(ConfigError::invalid(
                    &s.location,
                    format!("interface '{}' needs a non-zero 'reqid'", s.name),
                ))
            }
            Some(n) => n,
        };
        let local_addrs: Vec<IpNet> = r
            .parse("local_addr", |v| {
                values::split_list(v)
                    .iter()
                    .map(|a| IpNet::parse(a, false))
                    .collect()
            })?
            .unwrap_or_default();
        let remote_addrs: Vec<IpAddr> = r
            .parse("remote_addr", |v| {
                values::split_list(v)
                    .iter()
                    .map(|a| {
                        IpAddr::from_str(a)
                            .map_err(|_| format!("expected an IP address, found '{a}'"))
                    })
                    .collect()
            })?
            .unwrap_or_default();
        let routes = r
            .parse("routes", |v| {
                values::split_list(v)
                    .iter()
                    .map(|a| IpNet::parse(a, true))
                    .collect()
            })?
            .unwrap_or_default();
        let mtu = r
            .parse("mtu", |v| {
                let m = values::parse_u32(v)?;
                if !(MIN_MTU..=65535).contains(&m) {
                    return Err(format!("expected an MTU from {MIN_MTU} to 65535"));
                }
                Ok(m)
            })?
            .unwrap_or(DEFAULT_MTU);
        let monitor = r
            .parse("monitor", |v| {
                if v.eq_ignore_ascii_case("off") || v.eq_ignore_ascii_case("no") {
                    Ok(Monitor::Off)
                } else {
                    IpAddr::from_str(v)
                        .map(Monitor::Address)
                        .map_err(|_| "expected an IP address or 'off'".to_string())
                }
            })?
            .unwrap_or(Monitor::Gateway);
        let monitor_interval = r
            .parse("monitor_interval", values::parse_duration)?
            .unwrap_or(Duration::from_secs(10));
        let mss_clamp = r.bool("mss_clamp", false)?;
        let route_metric = r
            .parse("route_metric", route_metric)?
            .unwrap_or_else(|| default_route_metric(first_position + out.len()));
        let description = r.string("description");
        // remote_addr should lie inside local_addr's subnet of its family.
        if let Some(kv) = s.get("remote_addr") {
            for ra in &remote_addrs {
                if !local_addrs.iter().any(|n| n.contains(*ra)) {
                    warnings.push(Warning::new(
                        &kv.location,
                        format!(
                            "interfaces.{}: remote_addr {ra} is not inside any local_addr subnet",
                            s.name
                        ),
                    ));
                }
            }
        }
        r.finish(warnings);
        out.push(Interface {
            name: s.name.clone(),
            reqid,
            local_addrs,
            remote_addrs,
            routes,
            mtu,
            monitor,
            monitor_interval,
            mss_clamp,
            route_metric,
            description,
            location: Some(s.location.clone()),
        });
    }
    top.finish(warnings);
    Ok(out)
}
