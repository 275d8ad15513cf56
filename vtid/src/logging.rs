//! Logging: `tracing-subscriber` with an [`EnvFilter`] built from the
//! config's charon-style levels (`vtid { log { default = 1, ike = 2 } }`),
//! reloadable on SIGHUP.
//!
//! Precedence: `RUST_LOG` (a full EnvFilter directive) wins; else
//! `--log-level` replaces the config's `default`; the config's subsystem
//! levels apply on top.
//!
//! Levels: -1 off, 0 warn, 1 info, 2 debug, 3 and 4 trace. Subsystems map
//! to targets: `ike`/`chd` → the engine (`ike`), `enc` → `ike::wire`,
//! `cfg` → `vtid::convert`, `net` → `vtid::net`, `knl`/`esp` →
//! `vtid::dataplane`, `dmn` → `vtid::daemon`.

use std::io::IsTerminal;
use std::sync::Arc;

use config::LogLevels;
use tokio::sync::broadcast;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{reload, EnvFilter, Layer, Registry};

/// Changes the filter of the installed subscriber.
#[derive(Debug, Clone)]
pub struct LogHandle {
    handle: Option<reload::Handle<EnvFilter, Registry>>,
    cli: Option<String>,
    env: Option<String>,
    tap: broadcast::Sender<Arc<LogLine>>,
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
        match self.level {
            Level::ERROR | Level::WARN => 0,
            Level::INFO => 1,
            Level::DEBUG => 2,
            Level::TRACE => 3,
        }
    }
}

/// charon's subsystem name for a tracing target.
pub fn group_of(target: &str, child: bool) -> &'static str {
    if target == "ike::wire" || target.starts_with("ike::wire::") {
        "ENC"
    } else if target == "ike" || target.starts_with("ike::") {
        if child {
            "CHD"
        } else {
            "IKE"
        }
    } else if target.starts_with("vtid::net") {
        "NET"
    } else if target.starts_with("vtid::dataplane") {
        "KNL"
    } else if target.starts_with("vtid::convert")
        || target.starts_with("vtid::control")
        || target.starts_with("vici")
    {
        "CFG"
    } else {
        "DMN"
    }
}

/// The `conn` field of a span, kept in its extensions.
struct SpanConn(String);

#[derive(Default)]
struct Fields {
    message: String,
    conn: Option<String>,
    child: bool,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message = value.to_string(),
            "conn" => self.conn = Some(value.to_string()),
            "child" => self.child = true,
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => self.message = format!("{value:?}"),
            "conn" => self.conn = Some(format!("{value:?}")),
            "child" => self.child = true,
            _ => {}
        }
    }
}

/// A layer that copies events onto a broadcast channel while anyone
/// listens (nothing is formatted otherwise).
struct Tap {
    tx: broadcast::Sender<Arc<LogLine>>,
}

impl<S> Layer<S> for Tap
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut f = Fields::default();
        attrs.record(&mut f);
        if let (Some(conn), Some(span)) = (f.conn, ctx.span(id)) {
            span.extensions_mut().insert(SpanConn(conn));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if self.tx.receiver_count() == 0 {
            return;
        }
        let mut f = Fields::default();
        event.record(&mut f);
        if f.conn.is_none() {
            if let Some(scope) = ctx.event_scope(event) {
                for span in scope {
                    if let Some(c) = span.extensions().get::<SpanConn>() {
                        f.conn = Some(c.0.clone());
                        break;
                    }
                }
            }
        }
        let meta = event.metadata();
        let _ = self.tx.send(Arc::new(LogLine {
            level: *meta.level(),
            group: group_of(meta.target(), f.child),
            conn: f.conn,
            message: f.message,
        }));
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

const TARGETS: &[(&str, &[&str])] = &[
    ("ike", &["ike"]),
    ("chd", &["ike"]),
    ("enc", &["ike::wire"]),
    ("cfg", &["vtid::convert"]),
    ("net", &["vtid::net"]),
    ("knl", &["vtid::dataplane"]),
    ("esp", &["vtid::dataplane"]),
    ("dmn", &["vtid::daemon"]),
];

/// The filter directives for `levels`, with `cli` replacing the default.
pub fn directives(levels: &LogLevels, cli: Option<&str>) -> String {
    let mut d = vec![cli.map_or_else(|| level_name(levels.default).to_string(), str::to_string)];
    for (sub, targets) in TARGETS {
        if let Some(&l) = levels.subsystems.get(*sub) {
            for t in *targets {
                d.push(format!("{t}={}", level_name(l)));
            }
        }
    }
    d.join(",")
}

impl LogHandle {
    /// Installs the global subscriber (stderr) with the CLI level; the
    /// config's levels come with [`LogHandle::apply`].
    pub fn init(cli: Option<&str>) -> LogHandle {
        let cli = cli.map(cli_level);
        let env = std::env::var("RUST_LOG").ok().filter(|s| !s.is_empty());
        let initial = env
            .clone()
            .or_else(|| cli.clone())
            .unwrap_or_else(|| "info".into());
        let filter = EnvFilter::try_new(&initial).unwrap_or_else(|_| EnvFilter::new("info"));
        let (layer, handle) = reload::Layer::new(filter);
        let fmt = tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal());
        let (tap, _) = broadcast::channel(1024);
        let ok = tracing_subscriber::registry()
            .with(layer)
            .with(crate::flood::QuietLayer)
            .with(fmt)
            .with(Tap { tx: tap.clone() })
            .try_init()
            .is_ok();
        LogHandle {
            handle: ok.then_some(handle),
            cli,
            env,
            tap,
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

    /// Applies the config's levels (unless `RUST_LOG` is set).
    pub fn apply(&self, levels: &LogLevels) {
        if self.env.is_some() {
            return;
        }
        let d = directives(levels, self.cli.as_deref());
        match EnvFilter::try_new(&d) {
            Ok(f) => {
                if let Some(h) = &self.handle {
                    let _ = h.reload(f);
                }
            }
            Err(e) => tracing::warn!("bad log level directives '{d}': {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charon_levels_to_directives() {
        let mut l = LogLevels::default();
        assert_eq!(directives(&l, None), "info");
        l.default = 0;
        l.subsystems.insert("ike".into(), 2);
        l.subsystems.insert("net".into(), -1);
        assert_eq!(directives(&l, None), "warn,ike=debug,vtid::net=off");
        assert_eq!(
            directives(&l, Some("trace")),
            "trace,ike=debug,vtid::net=off"
        );
        assert_eq!(cli_level("2"), "debug");
        assert_eq!(cli_level("warn"), "warn");
    }
}
