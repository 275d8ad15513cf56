//! Observability settings of `vtid { }`: log targets (`filelog`, `syslog`,
//! named and shaped as in strongswan.conf's `charon.filelog` /
//! `charon.syslog`), the metrics endpoint (`metrics`) and the Wireshark key
//! log (`keylog`).
//!
//! The log sections are read by [`filelogs_from_section`] and
//! [`syslog_from_section`], which take the section and the path to name
//! in messages, so the same code reads vtid's `vtid { filelog { } }` and
//! strongswan.conf's `charon { filelog { } }`.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::daemon::{LogLevels, LOG_SUBSYSTEMS};
use crate::error::{ConfigError, Location, Warning};
use crate::reader::Reader;
use crate::settings::Section;
use crate::values;

/// How a log target writes its lines.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub enum LogFormat {
    /// charon's text lines: `[time ]NN[IKE] [<conn|id> ]message`.
    #[default]
    Text,
    /// One JSON object per line (vtid's `format = json`).
    Json,
}

/// Levels of one log target that refine `vtid.log`: a subsystem takes the
/// target's own level for it, else the target's `default`, else what
/// `vtid.log` says for it.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct LogRefinement {
    /// The target's `default`, if set.
    pub default: Option<i8>,
    /// The target's per-subsystem levels.
    pub subsystems: BTreeMap<String, i8>,
}

impl LogRefinement {
    /// The level of `subsystem` for this target, `base` being `vtid.log`.
    pub fn level(&self, base: &LogLevels, subsystem: &str) -> i8 {
        self.subsystems
            .get(subsystem)
            .copied()
            .or(self.default)
            .unwrap_or_else(|| base.level(subsystem))
    }

    /// Every subsystem's level for this target, as a [`LogLevels`].
    pub fn resolve(&self, base: &LogLevels) -> LogLevels {
        let mut out = LogLevels {
            default: self.default.unwrap_or(base.default),
            subsystems: BTreeMap::new(),
        };
        for sub in LOG_SUBSYSTEMS {
            let l = self.level(base, sub);
            if l != out.default {
                out.subsystems.insert((*sub).to_string(), l);
            }
        }
        out
    }
}

/// Sub-second digits after a `time_format` timestamp (charon's
/// `time_precision`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum TimePrecision {
    /// `ms`: `.123`.
    Milli,
    /// `us`: `.123456`.
    Micro,
}

/// `filelog { NAME { ... } }`: one log file (or `stderr`/`stdout`).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct FileLog {
    /// The section's name.
    pub name: String,
    /// `path` (default: the section's name). `stderr` and `stdout` name the
    /// standard streams; a filelog named `stderr` replaces vtid's own
    /// stderr output.
    pub path: String,
    /// `time_format`: strftime(3) format of a timestamp in front of each
    /// text line (none by default, as charon).
    pub time_format: Option<String>,
    /// `time_precision` (`ms`, `us`): digits appended to the timestamp.
    pub time_precision: Option<TimePrecision>,
    /// `append` (yes): keep what the file holds at start-up; `no`
    /// truncates it once at start-up (reopening for logrotate appends).
    pub append: bool,
    /// `flush_line` (no): accepted for charon compatibility; vtid writes
    /// every line with one write(2), unbuffered.
    pub flush_line: bool,
    /// `ike_name` (no): prefix text lines with `<conn|uniqueid>`.
    pub ike_name: bool,
    /// `log_level` (no): add the level to the subsystem (`[IKE1]`).
    pub log_level: bool,
    /// `format` (text): `text` or `json` (vtid's).
    pub format: LogFormat,
    /// `default`, `ike`, `cfg`, ...: levels refining `vtid.log`.
    pub levels: LogRefinement,
    /// Where the section is (messages).
    #[serde(skip)]
    pub location: Option<Location>,
}

/// A syslog facility charon logs to.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum SyslogFacility {
    /// `daemon` (LOG_DAEMON, 3).
    Daemon,
    /// `auth` (LOG_AUTHPRIV, 10, as charon maps it).
    Auth,
}

impl SyslogFacility {
    /// The facility's number (RFC 5424 §6.2.1, Table 1).
    pub fn code(self) -> u8 {
        match self {
            SyslogFacility::Daemon => 3,
            SyslogFacility::Auth => 10,
        }
    }
}

/// `syslog { FACILITY { ... } }`: one facility's settings.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct SyslogTarget {
    /// Which facility.
    pub facility: SyslogFacility,
    /// `ike_name` (no).
    pub ike_name: bool,
    /// `log_level` (no).
    pub log_level: bool,
    /// `format` (text).
    pub format: LogFormat,
    /// Levels refining `vtid.log`.
    pub levels: LogRefinement,
}

/// `syslog { ... }`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Syslog {
    /// `identifier` (`vtid`): the tag of every message.
    pub identifier: String,
    /// `socket` (vtid's): the local syslog socket; default
    /// [`crate::paths::SYSLOG_SOCKET`] (`/dev/log`, FreeBSD `/var/run/log`).
    pub socket: String,
    /// The facilities configured, in file order.
    pub targets: Vec<SyslogTarget>,
}

/// Default metrics address: localhost, port 9574.
pub const DEFAULT_METRICS_LISTEN: &str = "127.0.0.1:9574";

/// `metrics { ... }`: the Prometheus/OpenMetrics endpoint (off unless the
/// section is there).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Metrics {
    /// `listen` (127.0.0.1:9574): address and port, `[::1]:9574` for IPv6.
    pub listen: SocketAddr,
    /// `path` (`/metrics`).
    pub path: String,
    /// `sa_series` (no): series per IKE SA and CHILD SA (labels with unique
    /// ids). Off, every series is per connection, interface or daemon, so
    /// thousands of road warriors do not make thousands of series.
    pub sa_series: bool,
    /// `sa_series_limit` (256): at most this many IKE SAs get series of
    /// their own when `sa_series` is on; the rest are counted in
    /// `vtid_metrics_sa_series_omitted`.
    pub sa_series_limit: u32,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics {
            listen: DEFAULT_METRICS_LISTEN.parse().expect("a socket address"),
            path: "/metrics".into(),
            sa_series: false,
            sa_series_limit: 256,
        }
    }
}

fn log_level(s: &str) -> Result<i8, String> {
    s.trim()
        .parse::<i8>()
        .ok()
        .filter(|v| (-1..=4).contains(v))
        .ok_or_else(|| "expected a log level from -1 to 4".into())
}

fn format(s: &str) -> Result<LogFormat, String> {
    values::parse_choice(s, &[("text", LogFormat::Text), ("json", LogFormat::Json)])
}

fn levels(r: &mut Reader<'_>) -> Result<LogRefinement, ConfigError> {
    let mut l = LogRefinement {
        default: r.parse("default", log_level)?,
        subsystems: BTreeMap::new(),
    };
    for sub in LOG_SUBSYSTEMS {
        if let Some(level) = r.parse(sub, log_level)? {
            l.subsystems.insert((*sub).to_string(), level);
        }
    }
    Ok(l)
}

/// Checks a strftime(3) format: printable, and only conversions vtid
/// implements (the common ones of C99 and POSIX).
pub fn check_time_format(s: &str) -> Result<(), String> {
    if s.chars().any(char::is_control) {
        return Err("expected a strftime format without control characters".into());
    }
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '%' {
            continue;
        }
        match it.next() {
            Some(
                'a' | 'A' | 'b' | 'B' | 'h' | 'c' | 'C' | 'd' | 'D' | 'e' | 'F' | 'H' | 'I' | 'j'
                | 'm' | 'M' | 'n' | 'p' | 'r' | 'R' | 's' | 'S' | 't' | 'T' | 'u' | 'w' | 'y' | 'Y'
                | 'z' | 'Z' | '%',
            ) => {}
            Some(o) => return Err(format!("'%{o}' is not a strftime conversion vtid knows")),
            None => return Err("the format ends in a lone '%'".into()),
        }
    }
    Ok(())
}

/// Reads `filelog { NAME { ... } ... }`; `path` names the section in
/// messages (`vtid.filelog`, `charon.filelog`).
pub fn filelogs_from_section(
    sec: &Section,
    path: &str,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<FileLog>, ConfigError> {
    let mut top = Reader::new(sec, path);
    let mut out = Vec::new();
    for s in top.sections(|_| true) {
        let mut r = Reader::new(s, format!("{path}.{}", s.name));
        let file = FileLog {
            name: s.name.clone(),
            path: r.string("path").unwrap_or_else(|| s.name.clone()),
            time_format: r.parse("time_format", |v| {
                check_time_format(v).map(|()| v.to_string())
            })?,
            time_precision: r.parse("time_precision", |v| {
                values::parse_choice(
                    v,
                    &[("ms", TimePrecision::Milli), ("us", TimePrecision::Micro)],
                )
            })?,
            append: r.bool("append", true)?,
            flush_line: r.bool("flush_line", false)?,
            ike_name: r.bool("ike_name", false)?,
            log_level: r.bool("log_level", false)?,
            format: r.parse("format", format)?.unwrap_or_default(),
            levels: levels(&mut r)?,
            location: Some(s.location.clone()),
        };
        if file.path.is_empty() {
            return Err(ConfigError::invalid(
                &s.location,
                format!("{path}.{}: the log file path is empty", s.name),
            ));
        }
        if let Some(prev) = out.iter().find(|f: &&FileLog| f.path == file.path) {
            return Err(ConfigError::invalid(
                &s.location,
                format!(
                    "{path}.{} writes to '{}' like {path}.{}; give each log file one section",
                    s.name, file.path, prev.name
                ),
            ));
        }
        r.finish(warnings);
        out.push(file);
    }
    top.finish(warnings);
    Ok(out)
}

/// Reads `syslog { identifier, socket, daemon { ... }, auth { ... } }`.
pub fn syslog_from_section(
    sec: &Section,
    path: &str,
    warnings: &mut Vec<Warning>,
) -> Result<Syslog, ConfigError> {
    let mut r = Reader::new(sec, path);
    let mut syslog = Syslog {
        identifier: r.string("identifier").unwrap_or_else(|| "vtid".into()),
        socket: r
            .string("socket")
            .unwrap_or_else(|| crate::paths::SYSLOG_SOCKET.into()),
        targets: Vec::new(),
    };
    for (name, facility) in [
        ("daemon", SyslogFacility::Daemon),
        ("auth", SyslogFacility::Auth),
    ] {
        for s in r.sections(|n| n == name) {
            let mut fr = Reader::new(s, format!("{path}.{name}"));
            let t = SyslogTarget {
                facility,
                ike_name: fr.bool("ike_name", false)?,
                log_level: fr.bool("log_level", false)?,
                format: fr.parse("format", format)?.unwrap_or_default(),
                levels: levels(&mut fr)?,
            };
            fr.unsupported("map_level", warnings);
            fr.finish(warnings);
            syslog.targets.retain(|x| x.facility != facility);
            syslog.targets.push(t);
        }
    }
    r.finish(warnings);
    Ok(syslog)
}

/// Reads `metrics { listen, path, sa_series, sa_series_limit }`.
pub(crate) fn metrics_from_section(
    sec: &Section,
    warnings: &mut Vec<Warning>,
) -> Result<Metrics, ConfigError> {
    let mut r = Reader::new(sec, "vtid.metrics");
    let d = Metrics::default();
    let m = Metrics {
        listen: r
            .parse("listen", |v| {
                v.trim().parse::<SocketAddr>().map_err(|_| {
                    "expected an address and port like 127.0.0.1:9574 or [::1]:9574".to_string()
                })
            })?
            .unwrap_or(d.listen),
        path: r
            .parse("path", |v| {
                if v.starts_with('/')
                    && v.len() <= 256
                    && v.chars()
                        .all(|c| c.is_ascii_graphic() && c != '?' && c != '#')
                {
                    Ok(v.to_string())
                } else {
                    Err("expected an absolute URL path like /metrics".into())
                }
            })?
            .unwrap_or(d.path),
        sa_series: r.bool("sa_series", d.sa_series)?,
        sa_series_limit: r.u32("sa_series_limit", d.sa_series_limit)?,
    };
    r.finish(warnings);
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load_str;

    #[test]
    fn filelog_and_syslog_like_charon() {
        let l = load_str(
            "vtid {
                log { default = 0
                      ike = 2 }
                filelog {
                    charon {
                        path = /var/log/vtid.log
                        time_format = %b %e %T
                        time_precision = ms
                        append = no
                        ike_name = yes
                        default = 1
                        knl = 3
                    }
                    json { path = /var/log/vtid.json
                           format = json }
                    stderr { default = -1 }
                }
                syslog {
                    identifier = vpn
                    daemon { default = 1
                             net = 2 }
                    auth { default = 0 }
                }
            }",
            "t.conf",
        )
        .unwrap();
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
        let d = &l.config.daemon;
        assert_eq!(d.filelog.len(), 3);
        let f = &d.filelog[0];
        assert_eq!(f.path, "/var/log/vtid.log");
        assert_eq!(f.time_format.as_deref(), Some("%b %e %T"));
        assert_eq!(f.time_precision, Some(TimePrecision::Milli));
        assert!(!f.append && f.ike_name && !f.log_level);
        // The file's own subsystem, then its default, then vtid.log.
        assert_eq!(f.levels.level(&d.log, "knl"), 3);
        assert_eq!(f.levels.level(&d.log, "ike"), 1);
        let j = &d.filelog[1];
        assert_eq!(
            (j.format, j.path.as_str()),
            (LogFormat::Json, "/var/log/vtid.json")
        );
        assert_eq!(j.levels.level(&d.log, "ike"), 2);
        assert_eq!(j.levels.level(&d.log, "cfg"), 0);
        assert_eq!(d.filelog[2].path, "stderr");
        let s = d.syslog.as_ref().unwrap();
        assert_eq!(
            (s.identifier.as_str(), s.socket.as_str()),
            ("vpn", crate::paths::SYSLOG_SOCKET)
        );
        // The system's own syslog socket: FreeBSD's syslogd listens on
        // /var/run/log, not /dev/log.
        let want = if cfg!(target_os = "freebsd") {
            "/var/run/log"
        } else {
            "/dev/log"
        };
        assert_eq!(s.socket, want);
        assert_eq!(s.targets.len(), 2);
        assert_eq!(s.targets[0].facility, SyslogFacility::Daemon);
        assert_eq!(s.targets[0].levels.level(&d.log, "net"), 2);
        assert_eq!(s.targets[1].levels.level(&d.log, "ike"), 0);
        let r = f.levels.resolve(&d.log);
        assert_eq!(r.level("knl"), 3);
        assert_eq!(r.level("dmn"), 1);
    }

    #[test]
    fn bad_log_settings_name_their_place() {
        for (text, want) in [
            (
                "vtid { filelog { f { path = /tmp/x\n default = 5 } } }",
                "t.conf:2:2: invalid value for 'vtid.filelog.f.default'",
            ),
            (
                "vtid { filelog { f { time_format = %Q } } }",
                "vtid.filelog.f.time_format",
            ),
            (
                "vtid { filelog { a { path = /tmp/x\n } b { path = /tmp/x\n } } }",
                "give each log file one section",
            ),
            (
                "vtid { syslog { daemon { format = xml } } }",
                "vtid.syslog.daemon.format",
            ),
            (
                "vtid { metrics { listen = 127.0.0.1 } }",
                "vtid.metrics.listen",
            ),
            ("vtid { metrics { path = metrics } }", "vtid.metrics.path"),
        ] {
            let e = load_str(text, "t.conf").unwrap_err().to_string();
            assert!(e.contains(want), "{text}: {e}");
        }
        let l = load_str("vtid { syslog { daemon { map_level = 1 } } }", "t.conf").unwrap();
        assert!(l.warnings[0].to_string().contains("map_level"));
    }

    #[test]
    fn metrics_and_keylog() {
        let d = load_str("", "t.conf").unwrap().config.daemon;
        assert_eq!((d.metrics, d.keylog), (None, None));
        let d = load_str(
            "vtid { keylog = /tmp/keys\n metrics { listen = [::1]:9100\n path = /m\n sa_series = yes } }",
            "t.conf",
        )
        .unwrap()
        .config
        .daemon;
        let m = d.metrics.unwrap();
        assert_eq!(m.listen, "[::1]:9100".parse().unwrap());
        assert_eq!(
            (m.path.as_str(), m.sa_series, m.sa_series_limit),
            ("/m", true, 256)
        );
        assert_eq!(d.keylog.as_deref(), Some("/tmp/keys"));
        let m = load_str("vtid { metrics { } }", "t.conf")
            .unwrap()
            .config
            .daemon
            .metrics
            .unwrap();
        assert_eq!(m, Metrics::default());
    }

    proptest::proptest! {
        /// Every level -1..=4 of a file's default and subsystem, over every
        /// vtid.log level: the file's own subsystem level wins, then its
        /// default, then vtid.log's.
        #[test]
        fn refinement_precedence(base in -1i8..=4, sub in -1i8..=4, def in proptest::option::of(-1i8..=4), fsub in proptest::option::of(-1i8..=4)) {
            let mut text = format!("vtid {{ log {{ default = {base}\n ike = {sub} }}\n filelog {{ f {{ path = /tmp/f\n");
            if let Some(d) = def { text += &format!("default = {d}\n"); }
            if let Some(s) = fsub { text += &format!("ike = {s}\n"); }
            text += "} } }";
            let d = load_str(&text, "t.conf").unwrap().config.daemon;
            let f = &d.filelog[0];
            proptest::prop_assert_eq!(f.levels.level(&d.log, "ike"), fsub.or(def).unwrap_or(sub));
            proptest::prop_assert_eq!(f.levels.level(&d.log, "net"), def.unwrap_or(base));
            proptest::prop_assert_eq!(f.levels.resolve(&d.log).level("ike"), fsub.or(def).unwrap_or(sub));
        }

        /// sa_series_limit over its whole range reads back as written.
        #[test]
        fn sa_series_limit_range(n in proptest::num::u32::ANY) {
            let d = load_str(&format!("vtid {{ metrics {{ sa_series_limit = {n} }} }}"), "t.conf").unwrap().config.daemon;
            proptest::prop_assert_eq!(d.metrics.unwrap().sa_series_limit, n);
        }
    }
}
