//! Logging: `tracing-subscriber` with charon-style levels and charon's
//! log targets.
//!
//! * stderr: the levels of `vtid { log { default = 1, ike = 2 } }`
//!   (`--log-level` replaces `default`; `RUST_LOG`, a full EnvFilter
//!   directive, overrides both), in tracing's format.
//! * `vtid { filelog { NAME { path, time_format, append, default, ike, ...
//!   } } }` and `vtid { syslog { daemon { default = 1 } } }`: each target's
//!   levels refine `vtid.log` ([`config::LogRefinement`]); text lines as
//!   charon writes them, or one JSON object per line (`format = json`). A
//!   filelog whose path is `stderr` replaces the stderr output above.
//! * [`LogHandle::reopen`] reopens the log files (SIGHUP, for logrotate);
//!   [`LogHandle::apply`] installs new settings (start-up, SIGHUP,
//!   `reload-settings`).
//!
//! One global [`EnvFilter`] lets through what the most verbose target
//! wants (or what `RUST_LOG` says); each target then keeps the events of
//! its own levels. Levels: -1 off, 0 warn, 1 info, 2 debug, 3 and 4 trace.
//! Subsystems map to targets: `ike`/`chd` → the engine (`ike`; `chd` for
//! events about a CHILD SA), `enc` → `ike::wire`, `cfg` → `vtid::convert`,
//! `vtid::control`, `vici`, `net` → `vtid::net`, `knl`/`esp` →
//! `vtid::dataplane`, `vtid::kernel`, `vti`, `pfkey`, `dmn` → the rest.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{IsTerminal, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use config::{FileLog, LogFormat, LogLevels, SyslogTarget, TimePrecision};
use tokio::sync::broadcast;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::Context;
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{reload, EnvFilter, Layer, Registry};

/// Changes the filter and the targets of the installed subscriber.
#[derive(Debug, Clone)]
pub struct LogHandle {
    handle: Option<reload::Handle<EnvFilter, Registry>>,
    /// `--log-level` as a level (replaces `vtid.log.default`).
    cli_level: Option<i8>,
    /// `--log-level` as full directives, or `RUST_LOG`: the global filter,
    /// and stderr shows all it lets through.
    directives: Option<String>,
    tap: broadcast::Sender<Arc<LogLine>>,
    outputs: Arc<Outputs>,
}

/// One log event as the control socket streams it (`control-log` during
/// `initiate`/`terminate`, the `log` event): what passed the log filter.
#[derive(Clone, Debug)]
pub struct LogLine {
    /// Its level.
    pub level: Level,
    /// charon's subsystem for its target (`IKE`, `CHD`, `NET`, `KNL`, ...).
    pub group: &'static str,
    /// The connection it is about (the event's or an enclosing span's
    /// `conn` field), if any.
    pub conn: Option<String>,
    /// The message, without the structured fields.
    pub message: String,
}

impl LogLine {
    /// The level as charon numbers it (0 basic .. 4 most verbose).
    pub fn charon_level(&self) -> i8 {
        charon_level(self.level)
    }
}

/// A tracing level as charon numbers it.
fn charon_level(l: Level) -> i8 {
    match l {
        Level::ERROR | Level::WARN => 0,
        Level::INFO => 1,
        Level::DEBUG => 2,
        Level::TRACE => 3,
    }
}

/// charon's subsystem name for a tracing target.
pub fn group_of(target: &str, child: bool) -> &'static str {
    let under = |p: &str| target == p || target.starts_with(&format!("{p}::"));
    if under("ike::wire") {
        "ENC"
    } else if under("ike") {
        if child {
            "CHD"
        } else {
            "IKE"
        }
    } else if under("vtid::net") {
        "NET"
    } else if under("vtid::dataplane") || under("vtid::kernel") || under("vti") || under("pfkey") {
        "KNL"
    } else if under("vtid::convert") || under("vtid::control") || under("vici") {
        "CFG"
    } else {
        "DMN"
    }
}

/// The fields of a span, kept in its extensions.
struct SpanFields(Vec<(&'static str, String)>);

#[derive(Default)]
struct Fields {
    message: String,
    conn: Option<String>,
    child: bool,
    other: Vec<(&'static str, String)>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message = value.to_string(),
            "conn" => self.conn = Some(value.to_string()),
            name => {
                if name == "child" {
                    self.child = true;
                }
                self.other.push((name, value.to_string()));
            }
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => self.message = format!("{value:?}"),
            "conn" => self.conn = Some(format!("{value:?}")),
            name => {
                if name == "child" {
                    self.child = true;
                }
                self.other.push((name, format!("{value:?}")));
            }
        }
    }
}

/// A charon level as a tracing level name.
pub fn level_name(l: i8) -> &'static str {
    match l {
        i8::MIN..=-1 => "off",
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    }
}

/// Reads a `--log-level` value: a charon number (-1..4), a tracing level
/// name, or a full directive string.
pub fn cli_level(s: &str) -> String {
    match s.trim().parse::<i8>() {
        Ok(n) => level_name(n).to_string(),
        Err(_) => s.trim().to_string(),
    }
}

/// A `--log-level` that is a single level, as a charon level.
fn cli_as_level(s: &str) -> Option<i8> {
    match s.trim().parse::<i8>() {
        Ok(n) => Some(n.clamp(-1, 4)),
        Err(_) => match s.trim().to_ascii_lowercase().as_str() {
            "off" => Some(-1),
            "error" | "warn" => Some(0),
            "info" => Some(1),
            "debug" => Some(2),
            "trace" => Some(3),
            _ => None,
        },
    }
}

/// The tracing targets of each charon subsystem (see the module doc).
const TARGETS: &[(&str, &[&str])] = &[
    ("ike", &["ike"]),
    ("chd", &["ike"]),
    ("enc", &["ike::wire"]),
    ("cfg", &["vtid::convert", "vtid::control", "vici"]),
    ("net", &["vtid::net"]),
    ("knl", &["vtid::dataplane", "vtid::kernel", "vti", "pfkey"]),
    ("esp", &["vtid::dataplane", "vtid::kernel", "vti", "pfkey"]),
];

/// The filter directives that let through what any of `levels` wants:
/// per target the most verbose level any of them gives it.
pub fn directives_for(levels: &[LogLevels]) -> String {
    let most = |sub: &str| levels.iter().map(|l| l.level(sub)).max().unwrap_or(-1);
    let default = levels.iter().map(|l| l.default).max().unwrap_or(-1);
    let mut d = vec![level_name(most("dmn").max(default)).to_string()];
    let mut targets: Vec<(&str, i8)> = Vec::new();
    for (sub, ts) in TARGETS {
        for t in *ts {
            let l = most(sub);
            match targets.iter_mut().find(|(n, _)| n == t) {
                Some((_, x)) => *x = (*x).max(l),
                None => targets.push((t, l)),
            }
        }
    }
    for (t, l) in targets {
        d.push(format!("{t}={}", level_name(l)));
    }
    d.join(",")
}

/// The filter directives for `levels`, with `cli` replacing the default
/// (stderr alone).
pub fn directives(levels: &LogLevels, cli: Option<&str>) -> String {
    let mut l = levels.clone();
    if let Some(c) = cli.and_then(cli_as_level) {
        l.default = c;
    }
    directives_for(&[l])
}

/// Where a target's lines go.
enum Writer {
    Stderr,
    Stdout,
    File {
        path: PathBuf,
        file: Mutex<File>,
    },
    Syslog {
        socket: PathBuf,
        sock: UnixDatagram,
        facility: u8,
        ident: String,
    },
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Writer::Stderr => f.write_str("stderr"),
            Writer::Stdout => f.write_str("stdout"),
            Writer::File { path, .. } => write!(f, "file {}", path.display()),
            Writer::Syslog { socket, .. } => write!(f, "syslog {}", socket.display()),
        }
    }
}

fn open_log(path: &std::path::Path, truncate: bool) -> std::io::Result<File> {
    let mut o = OpenOptions::new();
    o.create(true).mode(0o600);
    if truncate {
        o.write(true).truncate(true);
    } else {
        o.append(true);
    }
    o.open(path)
}

/// Syslog severity (RFC 5424 §6.2.1, Table 2) of a tracing level.
fn severity(l: Level) -> u8 {
    match l {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        Level::DEBUG | Level::TRACE => 7,
    }
}

impl Writer {
    fn write_line(&self, level: Level, line: &str) {
        match self {
            Writer::Stderr => {
                let _ = std::io::stderr().lock().write_all(line.as_bytes());
            }
            Writer::Stdout => {
                let _ = std::io::stdout().lock().write_all(line.as_bytes());
            }
            Writer::File { file, .. } => {
                if let Ok(mut f) = file.lock() {
                    // One write(2) per line: O_APPEND keeps lines whole.
                    let _ = f.write_all(line.as_bytes());
                }
            }
            Writer::Syslog {
                socket,
                sock,
                facility,
                ident,
            } => {
                // What glibc's syslog(3) sends to /dev/log: <PRI>TIMESTAMP
                // TAG[PID]: MSG (RFC 3164 §4.1 without the HOSTNAME).
                let pri = u16::from(*facility) * 8 + u16::from(severity(level));
                let ts = chrono::Local::now().format("%b %e %H:%M:%S");
                let msg = format!(
                    "<{pri}>{ts} {ident}[{}]: {}",
                    std::process::id(),
                    line.trim_end_matches('\n')
                );
                let _ = sock.send_to(msg.as_bytes(), socket);
            }
        }
    }

    fn reopen(&mut self) -> std::io::Result<()> {
        if let Writer::File { path, file } = self {
            let f = open_log(path, false)?;
            if let Ok(g) = file.get_mut() {
                *g = f;
            }
        }
        Ok(())
    }
}

/// One configured log target.
#[derive(Debug)]
struct Sink {
    levels: LogLevels,
    format: LogFormat,
    ike_name: bool,
    log_level: bool,
    time_format: Option<String>,
    precision: Option<TimePrecision>,
    writer: Writer,
}

/// What one event looks like to the targets (built once per event).
struct Rendered<'a> {
    level: Level,
    group: &'static str,
    target: &'a str,
    conn: Option<&'a str>,
    message: &'a str,
    fields: Vec<(&'static str, &'a str)>,
}

impl Rendered<'_> {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .rev()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
    }
}

impl Sink {
    fn wants(&self, level: Level, group: &str) -> bool {
        charon_level(level) <= self.levels.level(&group.to_ascii_lowercase())
    }

    fn render(&self, e: &Rendered<'_>) -> String {
        match self.format {
            LogFormat::Json => json_line(e),
            LogFormat::Text => self.text_line(e),
        }
    }

    /// charon's line: `[TIME ]00[GRP[L]] [<conn|id> ]message[ k=v...]`.
    fn text_line(&self, e: &Rendered<'_>) -> String {
        let mut s = String::with_capacity(128);
        if let Some(f) = &self.time_format {
            let now = chrono::Local::now();
            if write!(s, "{}", now.format(f)).is_err() {
                s.clear();
            }
            match self.precision {
                Some(TimePrecision::Milli) => {
                    let _ = write!(s, ".{:03}", now.timestamp_subsec_millis());
                }
                Some(TimePrecision::Micro) => {
                    let _ = write!(s, ".{:06}", now.timestamp_subsec_micros());
                }
                None => {}
            }
            s.push(' ');
        }
        s.push_str("00[");
        s.push_str(e.group);
        if self.log_level {
            let _ = write!(s, "{}", charon_level(e.level));
        }
        s.push_str("] ");
        if self.ike_name {
            if let Some(c) = e.conn {
                match e.field("uniqueid") {
                    Some(u) => {
                        let _ = write!(s, "<{c}|{u}> ");
                    }
                    None => {
                        let _ = write!(s, "<{c}> ");
                    }
                }
            }
        }
        s.push_str(e.message);
        for (k, v) in &e.fields {
            let _ = write!(s, " {k}={v}");
        }
        s.push('\n');
        s
    }
}

/// One JSON object: time (RFC 3339, UTC), level, group, target, conn,
/// message, then the event's and its spans' fields (`uniqueid`, `peer`,
/// `event`, `ike_sa`, ...).
fn json_line(e: &Rendered<'_>) -> String {
    let mut m = serde_json::Map::new();
    m.insert(
        "time".into(),
        chrono::Utc::now()
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
            .into(),
    );
    m.insert("level".into(), e.level.as_str().to_ascii_lowercase().into());
    m.insert("group".into(), e.group.into());
    m.insert("target".into(), e.target.into());
    if let Some(c) = e.conn {
        m.insert("conn".into(), c.into());
    }
    m.insert("message".into(), e.message.into());
    for (k, v) in &e.fields {
        if !m.contains_key(*k) {
            m.insert((*k).into(), (*v).into());
        }
    }
    let mut s = serde_json::Value::Object(m).to_string();
    s.push('\n');
    s
}

/// The configured targets, shared by the layer and the handle.
#[derive(Debug, Default)]
struct Outputs {
    state: RwLock<OutState>,
}

#[derive(Debug, Default)]
struct OutState {
    /// The built-in stderr output's levels; `None`: all that passes the
    /// global filter (`RUST_LOG` or directives given to `--log-level`).
    stderr: Option<LogLevels>,
    /// A filelog took stderr over.
    stderr_replaced: bool,
    sinks: Vec<Sink>,
}

impl Outputs {
    fn stderr_allows(&self, meta: &Metadata<'_>) -> bool {
        let Ok(st) = self.state.read() else {
            return true;
        };
        if st.stderr_replaced {
            return false;
        }
        match &st.stderr {
            None => true,
            // CHD events are only known from their fields; stderr lets
            // the engine's events through at the more verbose of IKE/CHD.
            Some(l) => {
                let g = group_of(meta.target(), false).to_ascii_lowercase();
                let lvl = if g == "ike" {
                    l.level("ike").max(l.level("chd"))
                } else {
                    l.level(&g)
                };
                charon_level(*meta.level()) <= lvl
            }
        }
    }
}

/// The layer that feeds the configured targets and the control socket's
/// tap.
struct Outlet {
    tx: broadcast::Sender<Arc<LogLine>>,
    outputs: Arc<Outputs>,
}

impl<S> Layer<S> for Outlet
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut f = Fields::default();
        attrs.record(&mut f);
        if let Some(span) = ctx.span(id) {
            let mut all = f.other;
            if let Some(c) = f.conn {
                all.push(("conn", c));
            }
            span.extensions_mut().insert(SpanFields(all));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let mut f = Fields::default();
        values.record(&mut f);
        if let Some(span) = ctx.span(id) {
            let mut ext = span.extensions_mut();
            if let Some(SpanFields(all)) = ext.get_mut::<SpanFields>() {
                all.extend(f.other);
                if let Some(c) = f.conn {
                    all.push(("conn", c));
                }
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let tapped = self.tx.receiver_count() > 0;
        let st = match self.outputs.state.read() {
            Ok(s) => s,
            Err(_) => return,
        };
        if !tapped && st.sinks.is_empty() {
            return;
        }
        let meta = event.metadata();
        let mut f = Fields::default();
        event.record(&mut f);
        // Span fields, outermost first, then the event's own.
        let mut span_fields: Vec<(&'static str, String)> = Vec::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(SpanFields(all)) = span.extensions().get::<SpanFields>() {
                    span_fields.extend(all.iter().cloned());
                }
            }
        }
        let conn = f.conn.clone().or_else(|| {
            span_fields
                .iter()
                .rev()
                .find(|(n, _)| *n == "conn")
                .map(|(_, v)| v.clone())
        });
        let child = f.child || span_fields.iter().any(|(n, _)| *n == "child");
        let group = group_of(meta.target(), child);
        if tapped {
            let _ = self.tx.send(Arc::new(LogLine {
                level: *meta.level(),
                group,
                conn: conn.clone(),
                message: f.message.clone(),
            }));
        }
        let wanted: Vec<&Sink> = st
            .sinks
            .iter()
            .filter(|s| s.wants(*meta.level(), group))
            .collect();
        if wanted.is_empty() {
            return;
        }
        let mut fields: Vec<(&'static str, &str)> = span_fields
            .iter()
            .filter(|(n, _)| *n != "conn")
            .map(|(n, v)| (*n, v.as_str()))
            .collect();
        fields.extend(f.other.iter().map(|(n, v)| (*n, v.as_str())));
        let r = Rendered {
            level: *meta.level(),
            group,
            target: meta.target(),
            conn: conn.as_deref(),
            message: &f.message,
            fields,
        };
        for s in wanted {
            s.writer.write_line(r.level, &s.render(&r));
        }
    }
}

fn sink_of_file(f: &FileLog, base: &LogLevels, first: bool) -> std::io::Result<Sink> {
    let writer = match f.path.as_str() {
        "stderr" => Writer::Stderr,
        "stdout" => Writer::Stdout,
        p => {
            let path = PathBuf::from(p);
            let file = open_log(&path, first && !f.append)?;
            Writer::File {
                path,
                file: Mutex::new(file),
            }
        }
    };
    Ok(Sink {
        levels: f.levels.resolve(base),
        format: f.format,
        ike_name: f.ike_name,
        log_level: f.log_level,
        time_format: f.time_format.clone(),
        precision: f.time_precision,
        writer,
    })
}

fn sink_of_syslog(t: &SyslogTarget, s: &config::Syslog, base: &LogLevels) -> std::io::Result<Sink> {
    Ok(Sink {
        levels: t.levels.resolve(base),
        format: t.format,
        ike_name: t.ike_name,
        log_level: t.log_level,
        time_format: None,
        precision: None,
        writer: Writer::Syslog {
            socket: PathBuf::from(&s.socket),
            sock: UnixDatagram::unbound()?,
            facility: t.facility.code(),
            ident: s.identifier.clone(),
        },
    })
}

impl LogHandle {
    /// Installs the global subscriber (stderr) with the CLI level; the
    /// config's levels and targets come with [`LogHandle::apply`].
    pub fn init(cli: Option<&str>) -> LogHandle {
        let env = std::env::var("RUST_LOG").ok().filter(|s| !s.is_empty());
        let cli_level = cli.and_then(cli_as_level);
        let cli_directives = cli.filter(|c| cli_as_level(c).is_none()).map(cli_level_str);
        let directives = env.or(cli_directives);
        let initial = directives.clone().unwrap_or_else(|| {
            let mut l = LogLevels::default();
            if let Some(c) = cli_level {
                l.default = c;
            }
            directives_for(&[l])
        });
        let filter = EnvFilter::try_new(&initial).unwrap_or_else(|_| EnvFilter::new("info"));
        let (layer, handle) = reload::Layer::new(filter);
        let outputs = Arc::new(Outputs::default());
        if directives.is_none() {
            if let Ok(mut st) = outputs.state.write() {
                let mut l = LogLevels::default();
                if let Some(c) = cli_level {
                    l.default = c;
                }
                st.stderr = Some(l);
            }
        }
        let gate = outputs.clone();
        let fmt = tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
            .with_filter(filter_fn(move |meta| gate.stderr_allows(meta)));
        let (tap, _) = broadcast::channel(1024);
        let ok = tracing_subscriber::registry()
            .with(layer)
            .with(crate::flood::QuietLayer)
            .with(fmt)
            .with(Outlet {
                tx: tap.clone(),
                outputs: outputs.clone(),
            })
            .try_init()
            .is_ok();
        LogHandle {
            handle: ok.then_some(handle),
            cli_level,
            directives,
            tap,
            outputs,
        }
    }

    /// Log events that pass the filter, from now on (for the control
    /// socket). A receiver that falls behind loses the oldest lines.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<LogLine>> {
        self.tap.subscribe()
    }

    /// The sender side of [`LogHandle::subscribe`].
    pub fn tap(&self) -> broadcast::Sender<Arc<LogLine>> {
        self.tap.clone()
    }

    /// Applies the `vtid { }` settings' levels and log targets. `first`
    /// (start-up) truncates files with `append = no`; later calls append.
    /// A target that cannot be opened is reported and left out; the others
    /// work.
    pub fn apply(&self, d: &config::Daemon, first: bool) {
        let mut base = d.log.clone();
        if let Some(c) = self.cli_level {
            base.default = c;
        }
        let mut sinks = Vec::new();
        let mut errors = Vec::new();
        for f in &d.filelog {
            match sink_of_file(f, &base, first) {
                Ok(s) => sinks.push(s),
                Err(e) => errors.push(format!(
                    "filelog '{}': cannot open {}: {e}; that log is off",
                    f.name, f.path
                )),
            }
        }
        if let Some(s) = &d.syslog {
            for t in &s.targets {
                match sink_of_syslog(t, s, &base) {
                    Ok(x) => sinks.push(x),
                    Err(e) => errors.push(format!("syslog: {e}; syslog is off")),
                }
            }
        }
        let stderr_replaced = d.filelog.iter().any(|f| f.path == "stderr");
        let mut all: Vec<LogLevels> = sinks.iter().map(|s| s.levels.clone()).collect();
        if !stderr_replaced {
            all.push(base.clone());
        }
        if let Ok(mut st) = self.outputs.state.write() {
            st.sinks = sinks;
            st.stderr_replaced = stderr_replaced;
            if self.directives.is_none() {
                st.stderr = Some(base);
            }
        }
        if self.directives.is_none() {
            let dirs = directives_for(&all);
            match EnvFilter::try_new(&dirs) {
                Ok(f) => {
                    if let Some(h) = &self.handle {
                        let _ = h.reload(f);
                    }
                }
                Err(e) => tracing::warn!("bad log level directives '{dirs}': {e}"),
            }
        }
        for e in errors {
            tracing::error!("{e}");
        }
    }

    /// Reopens every log file (after logrotate moved it away).
    pub fn reopen(&self) {
        let mut errors = Vec::new();
        if let Ok(mut st) = self.outputs.state.write() {
            for s in &mut st.sinks {
                if let Err(e) = s.writer.reopen() {
                    errors.push(format!("cannot reopen {:?}: {e}", s.writer));
                }
            }
        }
        for e in errors {
            tracing::error!("{e}");
        }
    }
}

fn cli_level_str(s: &str) -> String {
    cli_level(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charon_levels_to_directives() {
        let mut l = LogLevels::default();
        assert_eq!(
            directives(&l, None),
            "info,ike=info,ike::wire=info,vtid::convert=info,vtid::control=info,vici=info,\
             vtid::net=info,vtid::dataplane=info,vtid::kernel=info,vti=info,pfkey=info"
        );
        l.default = 0;
        l.subsystems.insert("ike".into(), 2);
        l.subsystems.insert("net".into(), -1);
        let d = directives(&l, None);
        assert!(d.starts_with("warn,ike=debug,ike::wire=warn,"), "{d}");
        assert!(d.contains("vtid::net=off"), "{d}");
        assert!(directives(&l, Some("trace")).starts_with("trace,ike=trace,ike::wire=trace"));
        assert_eq!(cli_level("2"), "debug");
        assert_eq!(cli_level("warn"), "warn");
        assert_eq!(cli_as_level("debug"), Some(2));
        assert_eq!(cli_as_level("info,ike=debug"), None);
    }

    #[test]
    fn union_of_targets_is_the_most_verbose() {
        let a = LogLevels::default();
        let mut b = LogLevels {
            default: -1,
            ..LogLevels::default()
        };
        b.subsystems.insert("knl".into(), 3);
        let d = directives_for(&[a, b]);
        assert!(d.starts_with("info,"), "{d}");
        assert!(d.contains("vtid::dataplane=trace"), "{d}");
        assert!(d.contains("ike=info"), "{d}");
    }

    #[test]
    fn groups() {
        assert_eq!(group_of("ike::engine::ike_sa", false), "IKE");
        assert_eq!(group_of("ike::engine::ike_sa", true), "CHD");
        assert_eq!(group_of("ike::wire::message", false), "ENC");
        assert_eq!(group_of("ikefoo", false), "DMN");
        assert_eq!(group_of("vti::dataplane", false), "KNL");
        assert_eq!(group_of("vtid::control", false), "CFG");
        assert_eq!(group_of("vtid::daemon", false), "DMN");
    }

    fn sink(format: LogFormat, ike_name: bool, log_level: bool) -> Sink {
        Sink {
            levels: LogLevels::default(),
            format,
            ike_name,
            log_level,
            time_format: None,
            precision: None,
            writer: Writer::Stdout,
        }
    }

    #[test]
    fn text_and_json_lines() {
        let r = Rendered {
            level: Level::INFO,
            group: "IKE",
            target: "vtid::daemon",
            conn: Some("site-b"),
            message: "IKE_SA site-b[3] up",
            fields: vec![("uniqueid", "3"), ("peer", "198.51.100.2:500")],
        };
        assert_eq!(
            sink(LogFormat::Text, true, true).render(&r),
            "00[IKE1] <site-b|3> IKE_SA site-b[3] up uniqueid=3 peer=198.51.100.2:500\n"
        );
        assert_eq!(
            sink(LogFormat::Text, false, false).render(&r),
            "00[IKE] IKE_SA site-b[3] up uniqueid=3 peer=198.51.100.2:500\n"
        );
        let j: serde_json::Value =
            serde_json::from_str(&sink(LogFormat::Json, false, false).render(&r)).unwrap();
        assert_eq!(j["conn"], "site-b");
        assert_eq!(j["uniqueid"], "3");
        assert_eq!(j["peer"], "198.51.100.2:500");
        assert_eq!(j["group"], "IKE");
        assert_eq!(j["level"], "info");
        assert_eq!(j["message"], "IKE_SA site-b[3] up");
        assert!(j["time"].as_str().unwrap().ends_with('Z'));
        // A message with quotes and a newline stays one line of JSON.
        let r2 = Rendered {
            message: "a \"b\"\nc",
            ..r
        };
        let line = sink(LogFormat::Json, false, false).render(&r2);
        assert_eq!(line.matches('\n').count(), 1);
    }

    #[test]
    fn levels_of_a_sink() {
        let mut s = sink(LogFormat::Text, false, false);
        s.levels.default = 0;
        s.levels.subsystems.insert("knl".into(), 2);
        assert!(s.wants(Level::WARN, "IKE"));
        assert!(!s.wants(Level::INFO, "IKE"));
        assert!(s.wants(Level::DEBUG, "KNL"));
        assert!(!s.wants(Level::TRACE, "KNL"));
    }
}
