//! VICI messages → vtid's configuration tree ([`config::Section`]).
//!
//! A `load-conn` request has the shape of a `connections.NAME` section of
//! swanctl.conf: swanctl reads the file and sends each connection as a
//! section, turning the values of its list keys (`local_addrs`,
//! `proposals`, `local_ts`, ...) into VICI lists of the comma-separated
//! items. Going back, lists become comma-joined values, which is exactly
//! what the config crate's loader splits again; so a connection loaded over
//! VICI goes through the same [`config::connection_from_section`] as one
//! read from a file.

use config::{ConfigError, Connection, Location, Pool, Section, Warning};

use crate::message::{Element, Message};

/// Why a message does not convert.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// A value or list item that is not UTF-8 (outside [`BLOB_KEYS`]).
    #[error("value of '{0}' is not UTF-8 text")]
    NotUtf8(String),
    /// `load-conn` content that is not a section.
    #[error("'{0}' is not a connection section")]
    NotASection(String),
    /// The connection is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// The location given to settings that came over VICI.
pub fn vici_location() -> Location {
    Location::synthetic("vici")
}

/// Keys whose list items swanctl fills with file contents (certificates
/// and public keys, PEM or DER) rather than names.
pub const BLOB_KEYS: [&str; 3] = ["certs", "cacerts", "pubkeys"];

/// A file's contents as a config value: `blob:` and hex (vtid's
/// credential loader reads it back, `vtid::creds::blob`).
pub fn blob(v: &[u8]) -> String {
    let mut s = String::with_capacity(5 + 2 * v.len());
    s.push_str("blob:");
    for b in v {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

fn text(path: &str, v: &[u8]) -> Result<String, ConvertError> {
    String::from_utf8(v.to_vec()).map_err(|_| ConvertError::NotUtf8(path.into()))
}

/// Converts `message` into a settings section named `name`: key/values as
/// they are, lists joined with `,`, subsections recursively. A repeated key
/// overrides the earlier one, a repeated section extends it (swanctl.conf's
/// rules).
pub fn to_config_section(name: &str, message: &Message) -> Result<Section, ConvertError> {
    convert(name, name, message)
}

fn convert(name: &str, path: &str, message: &Message) -> Result<Section, ConvertError> {
    let loc = vici_location();
    let mut sec = Section::new(name, loc.clone());
    for item in &message.items {
        let here = format!("{path}.{}", item.name);
        match &item.value {
            Element::Value(v) => sec.set(&item.name, Some(text(&here, v)?), loc.clone()),
            Element::List(items) if BLOB_KEYS.contains(&item.name.as_str()) => {
                let items: Vec<String> = items.iter().map(|v| blob(v)).collect();
                sec.set(&item.name, Some(items.join(",")), loc.clone());
            }
            Element::List(items) => {
                let items = items
                    .iter()
                    .map(|v| text(&here, v))
                    .collect::<Result<Vec<_>, _>>()?;
                sec.set(&item.name, Some(items.join(",")), loc.clone());
            }
            Element::Section(m) => {
                let sub = convert(&item.name, &here, m)?;
                sec.section_mut(&item.name, &loc).merge(sub);
            }
        }
    }
    Ok(sec)
}

/// The connections of a `load-conn` request (normally one: swanctl sends a
/// request per connection), with warnings for unknown or unsupported keys.
pub fn connections_from_load_conn(
    message: &Message,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<Connection>, ConvertError> {
    let mut out = Vec::new();
    for item in &message.items {
        let Element::Section(m) = &item.value else {
            return Err(ConvertError::NotASection(item.name.clone()));
        };
        let sec = to_config_section(&item.name, m)?;
        out.push(config::connection_from_section(&sec, warnings)?);
    }
    Ok(out)
}

/// The pools of a `load-pool` request (swanctl sends one per request):
/// each section has `addrs` as a value and every attribute as a list, as
/// `swanctl --load-pools` builds it from a `pools.NAME` section.
pub fn pools_from_load_pool(
    message: &Message,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<Pool>, ConvertError> {
    let mut out = Vec::new();
    for item in &message.items {
        let Element::Section(m) = &item.value else {
            return Err(ConvertError::NotASection(item.name.clone()));
        };
        let sec = to_config_section(&item.name, m)?;
        out.push(config::pool_from_section(&sec, warnings)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_join_and_sections_nest() {
        let m = Message::new()
            .with_list("remote_addrs", ["192.0.2.1", "gw.example.net"])
            .with_list("proposals", Vec::<Vec<u8>>::new())
            .with_value("version", "2")
            .with_section("local", Message::new().with_value("auth", "psk"));
        let s = to_config_section("gw", &m).unwrap();
        assert_eq!(s.name, "gw");
        assert_eq!(s.value("remote_addrs"), Some("192.0.2.1,gw.example.net"));
        assert_eq!(s.value("proposals"), Some(""));
        assert_eq!(s.section("local").unwrap().value("auth"), Some("psk"));
    }

    #[test]
    fn load_pool_as_swanctl_sends_it() {
        let m = Message::new().with_section(
            "rw",
            Message::new()
                .with_value("addrs", "10.9.0.0/24")
                .with_list("dns", ["10.9.0.53", "2001:db8::53"])
                .with_list("split_include", ["10.1.0.0/16"]),
        );
        let p = pools_from_load_pool(&m, &mut Vec::new()).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].name, "rw");
        assert_eq!(p[0].span().unwrap().size, 254);
        assert_eq!(p[0].attrs.len(), 3);
        assert_eq!(p[0].location, None);
        let bad = Message::new().with_section("x", Message::new().with_list("dns", ["1.2.3.4"]));
        assert_eq!(
            pools_from_load_pool(&bad, &mut Vec::new())
                .unwrap_err()
                .to_string(),
            "vici:0:0: pool 'x' has no 'addrs'"
        );
    }

    #[test]
    fn rejects_binary_and_non_sections() {
        // Certificates come as file contents: carried as blobs.
        let m = Message::new().with_list("certs", [vec![0x30u8, 0x82, 0xff]]);
        let s = to_config_section("gw", &m).unwrap();
        assert_eq!(s.value("certs"), Some("blob:3082ff"));
        let m = Message::new().with_list("local_addrs", [vec![0x30u8, 0x82, 0xff]]);
        assert!(matches!(
            to_config_section("gw", &m),
            Err(ConvertError::NotUtf8(p)) if p == "gw.local_addrs"
        ));
        let m = Message::new().with_value("gw", "x");
        assert!(matches!(
            connections_from_load_conn(&m, &mut Vec::new()),
            Err(ConvertError::NotASection(_))
        ));
    }
}
