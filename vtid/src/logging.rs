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

use config::LogLevels;
use tracing_subscriber::prelude::*;
use tracing_subscriber::{reload, EnvFilter, Registry};

/// Changes the filter of the installed subscriber.
#[derive(Debug, Clone)]
pub struct LogHandle {
    handle: Option<reload::Handle<EnvFilter, Registry>>,
    cli: Option<String>,
    env: Option<String>,
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
        let ok = tracing_subscriber::registry()
            .with(layer)
            .with(fmt)
            .try_init()
            .is_ok();
        LogHandle {
            handle: ok.then_some(handle),
            cli,
            env,
        }
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
