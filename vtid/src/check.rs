//! `vtid --check --config F` and `vtictl check`: load and validate a
//! configuration the way the daemon would (includes, references, secrets,
//! interfaces, proposals, traffic selectors, identities, DNS names), and say
//! every problem with its file:line:col and every reason a connection or
//! child could not work. Starts nothing: no socket, no interface, no data
//! plane, so it needs no root.

use std::path::Path;

use crate::convert::{self, HostEnv, ReqidMap};

/// What a check found.
#[derive(Debug, Default)]
pub struct Report {
    /// One line per problem, in the order found, then a summary line.
    pub lines: Vec<String>,
    /// Problems that keep the file, a connection or a child from loading.
    pub errors: usize,
    /// Everything else the operator should see.
    pub warnings: usize,
    /// Connections that would be loaded.
    pub connections: usize,
    /// Children that would be loaded.
    pub children: usize,
}

impl Report {
    /// Whether the configuration loads without an error.
    pub fn ok(&self) -> bool {
        self.errors == 0
    }
}

/// `file:line:col: error: ...` for a [`config::ConfigError`].
pub fn config_error_line(e: &config::ConfigError) -> String {
    use config::ConfigError as E;
    match e {
        E::Io { .. } => format!("error: {e}"),
        E::Syntax { location, message } => format!("{location}: error: syntax: {message}"),
        E::Value {
            location,
            key,
            message,
        } => format!("{location}: error: invalid value for '{key}': {message}"),
        E::Invalid { location, message } => format!("{location}: error: {message}"),
    }
}

/// Checks `config` (with an optional strongswan.conf for the daemon
/// settings). `transport_mode`: whether the data plane that will run it can
/// carry transport mode (the kernel backends can, the userspace one not).
pub fn check(
    config: &Path,
    strongswan_conf: Option<&Path>,
    env: &dyn HostEnv,
    transport_mode: bool,
) -> Report {
    let mut r = Report::default();
    let loaded = match config::load_files_all(config, strongswan_conf) {
        Ok(l) => l,
        Err(errors) => {
            for e in &errors {
                r.lines.push(config_error_line(e));
            }
            r.errors = errors.len();
            r.lines.push(format!(
                "{}: {} error(s): the configuration cannot be loaded",
                config.display(),
                r.errors
            ));
            return r;
        }
    };
    for w in &loaded.warnings {
        r.lines.push(w.to_string());
        r.warnings += 1;
    }
    let conv = convert::convert(&loaded.config, &ReqidMap::new(), env, transport_mode);
    for n in &conv.warnings {
        r.lines.push(n.to_string());
        if n.error {
            r.errors += 1;
        } else {
            r.warnings += 1;
        }
    }
    r.connections = conv.peers.len();
    r.children = conv.peers.iter().map(|p| p.children.len()).sum();
    r.lines.push(format!(
        "{}: {} connection(s) with {} child(ren) would be loaded; {} error(s), {} warning(s)",
        config.display(),
        r.connections,
        r.children,
        r.errors,
        r.warnings
    ));
    r
}
