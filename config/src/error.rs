//! Positions, warnings and errors.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// A position in a configuration file: file name, 1-based line and column
/// (columns count characters, not bytes).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Location {
    /// The file (or the name given to [`crate::load_str`]).
    pub file: Arc<str>,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
}

impl Location {
    /// A location for values that did not come from a file (e.g. VICI).
    pub fn synthetic(what: &str) -> Location {
        Location {
            file: Arc::from(what),
            line: 0,
            column: 0,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// Where a connection or child was defined: its section and each of its
/// keys (dotted below the section: `proposals`, `local.auth`,
/// `esp_proposals`), so that a message about it names the file and line.
/// Two configurations never differ by where things are written: `==` on
/// an `Origin` is always true.
#[derive(Clone, Debug, Default)]
pub struct Origin {
    /// The section (`connections.NAME`, `children.NAME`); `None` for
    /// configurations that came from VICI.
    pub section: Option<Location>,
    /// Every key and subsection of the section, by dotted name.
    pub keys: BTreeMap<String, Location>,
}

impl PartialEq for Origin {
    fn eq(&self, _: &Origin) -> bool {
        true
    }
}

impl Eq for Origin {}

impl Origin {
    /// Records `sec` and its keys; subsections named by `nested` have their
    /// keys recorded too (as `sub.key`).
    pub(crate) fn of(sec: &crate::settings::Section, nested: impl Fn(&str) -> bool) -> Origin {
        let mut keys = BTreeMap::new();
        for kv in &sec.settings {
            keys.insert(kv.key.clone(), kv.location.clone());
        }
        for s in &sec.sections {
            keys.insert(s.name.clone(), s.location.clone());
            if nested(&s.name) {
                for kv in &s.settings {
                    keys.insert(format!("{}.{}", s.name, kv.key), kv.location.clone());
                }
            }
        }
        Origin {
            section: (sec.location.line != 0).then(|| sec.location.clone()),
            keys,
        }
    }

    /// Where `key` is written, else where the section starts.
    pub fn at(&self, key: &str) -> Option<&Location> {
        self.keys.get(key).or(self.section.as_ref())
    }
}

/// Something that does not stop loading but that the operator should see:
/// an unknown or unsupported key, an include that matched nothing, ...
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Warning {
    /// Where it is.
    pub location: Location,
    /// What it is (never contains secret values).
    pub message: String,
}

impl Warning {
    pub(crate) fn new(location: &Location, message: impl Into<String>) -> Warning {
        Warning {
            location: location.clone(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: warning: {}", self.location, self.message)
    }
}

/// Why a configuration could not be loaded. Messages never contain secret
/// values.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The text is not in strongSwan's settings syntax.
    #[error("{location}: syntax error: {message}")]
    Syntax {
        /// Where.
        location: Location,
        /// What was expected (and what was found).
        message: String,
    },
    /// A value could not be read as what its key needs.
    #[error("{location}: invalid value for '{key}': {message}")]
    Value {
        /// Where the value is.
        location: Location,
        /// Dotted path of the key, e.g. `connections.gw.rekey_time`.
        key: String,
        /// What was expected (and, for non-secret keys, what was found).
        message: String,
    },
    /// The configuration is well-formed but inconsistent (e.g. two
    /// interfaces with one reqid).
    #[error("{location}: {message}")]
    Invalid {
        /// Where.
        location: Location,
        /// What is wrong.
        message: String,
    },
}

impl ConfigError {
    pub(crate) fn syntax(location: Location, message: impl Into<String>) -> ConfigError {
        ConfigError::Syntax {
            location,
            message: message.into(),
        }
    }

    pub(crate) fn invalid(location: &Location, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            location: location.clone(),
            message: message.into(),
        }
    }

    /// Where the error is, if it has a position.
    pub fn location(&self) -> Option<&Location> {
        match self {
            ConfigError::Io { .. } => None,
            ConfigError::Syntax { location, .. }
            | ConfigError::Value { location, .. }
            | ConfigError::Invalid { location, .. } => Some(location),
        }
    }
}
