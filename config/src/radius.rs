//! The RADIUS client's settings, with the names of strongSwan's
//! `charon.plugins.eap-radius` (strongswan.conf): `vtid { eap-radius {
//! ... } }` in vtid's file, or `charon { plugins { eap-radius { ... } } }`
//! from a strongswan.conf.
//!
//! ```text
//! eap-radius {
//!     servers {
//!         primary { address = 192.0.2.5  secret = s3cret  auth_port = 1812  acct_port = 1813 }
//!         backup  { address = 192.0.2.6  secret = other }
//!     }
//!     accounting = yes
//!     accounting_interval = 5m
//!     class_group = yes
//!     nas_identifier = vpn1
//!     dae { enable = yes  listen = 192.0.2.1  port = 3799  secret = dae-s3cret }
//! }
//! ```
//!
//! strongSwan's single-server form (`server`, `secret`, `port` directly in
//! `eap-radius`) is read as a server named `default`. The secrets are
//! [`Secret`]s (never printed), decoded like swanctl's (`0x`, `0s`).

use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{ConfigError, Warning};
use crate::reader::Reader;
use crate::secret::Secret;
use crate::settings::Section;
use crate::values;

/// One RADIUS server (`servers.NAME`).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct RadiusServer {
    /// Its name.
    pub name: String,
    /// `address`: an IP address or a DNS name (resolved when the RADIUS
    /// client starts, as strongSwan does).
    pub address: RadiusHost,
    /// `secret` (required).
    pub secret: Secret,
    /// `auth_port` (1812).
    pub auth_port: u16,
    /// `acct_port` (1813).
    pub acct_port: u16,
    /// `preference` (0): higher is tried first; equal ones in file order.
    pub preference: u32,
    /// `nas_identifier`: overrides the plugin's for this server.
    pub nas_identifier: Option<String>,
}

/// A RADIUS server's address as configured.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum RadiusHost {
    /// An IP address.
    Ip(IpAddr),
    /// A DNS name.
    Name(String),
}

impl std::fmt::Display for RadiusHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RadiusHost::Ip(ip) => write!(f, "{ip}"),
            RadiusHost::Name(n) => f.write_str(n),
        }
    }
}

fn host(s: &str) -> Result<RadiusHost, String> {
    if let Ok(ip) = s.parse() {
        return Ok(RadiusHost::Ip(ip));
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let name = s.strip_suffix('.').unwrap_or(s);
    if name.len() <= 253 && name.split('.').all(label_ok) {
        Ok(RadiusHost::Name(s.to_string()))
    } else {
        Err(format!("'{s}' is neither an IP address nor a DNS name"))
    }
}

/// `dae { }`: RFC 5176 Dynamic Authorization (Disconnect-Request).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Dae {
    /// `listen` (0.0.0.0).
    pub listen: IpAddr,
    /// `port` (3799).
    pub port: u16,
    /// `secret` (required when enabled).
    pub secret: Secret,
}

/// `eap-radius { }`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Radius {
    /// `servers { }` (and the single-server form), by preference.
    pub servers: Vec<RadiusServer>,
    /// `accounting` (no): RFC 2866 Start/Stop records.
    pub accounting: bool,
    /// `accounting_interval` (0 = none): Interim-Updates.
    pub accounting_interval: Duration,
    /// `class_group` (no): Class attributes of an Access-Accept are group
    /// memberships (and so the names of pools to try, issue 17).
    pub class_group: bool,
    /// `nas_identifier` (strongSwan).
    pub nas_identifier: String,
    /// `retransmit_timeout` (2s): first wait for a reply.
    pub retransmit_timeout: Duration,
    /// `retransmit_tries` (4): sends to one server before the next.
    pub retransmit_tries: u32,
    /// `dae { enable = yes ... }`, when enabled.
    pub dae: Option<Dae>,
}

fn port(s: &str) -> Result<u16, String> {
    match values::parse_u32(s)? {
        v @ 1..=65535 => u16::try_from(v).map_err(|_| "expected a port 1..65535".into()),
        _ => Err("expected a port 1..65535".into()),
    }
}

fn address(s: &str) -> Result<IpAddr, String> {
    s.parse().map_err(|_| format!("'{s}' is not an IP address"))
}

fn secret(s: &str) -> Result<Secret, String> {
    let v = Secret::parse(s)?;
    if v.is_empty() {
        return Err("a RADIUS shared secret cannot be empty".into());
    }
    Ok(v)
}

fn server(
    r: &mut Reader<'_>,
    name: &str,
    addr_key: &str,
    auth_key: &str,
) -> Result<Option<RadiusServer>, ConfigError> {
    let Some(address) = r.parse(addr_key, host)? else {
        return Ok(None);
    };
    let Some(secret) = r.parse("secret", secret)? else {
        return Err(ConfigError::invalid(
            &r.sec.location,
            format!(
                "'{}': a RADIUS server needs its shared secret ('secret')",
                r.path
            ),
        ));
    };
    Ok(Some(RadiusServer {
        name: name.to_string(),
        address,
        secret,
        auth_port: r.parse(auth_key, port)?.unwrap_or(1812),
        acct_port: r.parse("acct_port", port)?.unwrap_or(1813),
        preference: r.u32("preference", 0)?,
        nas_identifier: r.string("nas_identifier"),
    }))
}

/// Reads `eap-radius { }` at `path` (for messages).
pub(crate) fn radius_from_section(
    sec: &Section,
    path: &str,
    warnings: &mut Vec<Warning>,
) -> Result<Radius, ConfigError> {
    let mut r = Reader::new(sec, path);
    let mut servers = Vec::new();
    if let Some(s) = server(&mut r, "default", "server", "port")? {
        servers.push(s);
    }
    for group in r.sections(|n| n == "servers") {
        for s in &group.sections {
            let mut sr = Reader::new(s, format!("{path}.servers.{}", s.name));
            match server(&mut sr, &s.name, "address", "auth_port")? {
                Some(srv) => servers.push(srv),
                None => {
                    return Err(ConfigError::invalid(
                        &s.location,
                        format!("'{}': a RADIUS server needs its 'address'", sr.path),
                    ))
                }
            }
            sr.unsupported("sockets", warnings);
            sr.finish(warnings);
        }
    }
    // Higher preference first; the sort is stable, so file order otherwise.
    servers.sort_by_key(|s| std::cmp::Reverse(s.preference));
    let mut dae = None;
    for d in r.sections(|n| n == "dae") {
        let mut dr = Reader::new(d, format!("{path}.dae"));
        let enable = dr.bool("enable", false)?;
        let listen = dr
            .parse("listen", address)?
            .unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let dport = dr.parse("port", port)?.unwrap_or(3799);
        let dsecret = dr.parse("secret", secret)?;
        if enable {
            let Some(secret) = dsecret else {
                return Err(ConfigError::invalid(
                    &d.location,
                    format!(
                        "'{path}.dae': enable = yes needs the 'secret' Disconnect-Requests are \
                         signed with"
                    ),
                ));
            };
            dae = Some(Dae {
                listen,
                port: dport,
                secret,
            });
        }
        dr.finish(warnings);
    }
    let radius = Radius {
        servers,
        accounting: r.bool("accounting", false)?,
        accounting_interval: r
            .parse("accounting_interval", values::parse_duration)?
            .unwrap_or(Duration::ZERO),
        class_group: r.bool("class_group", false)?,
        nas_identifier: r
            .string("nas_identifier")
            .unwrap_or_else(|| "strongSwan".into()),
        retransmit_timeout: r
            .parse("retransmit_timeout", |s| {
                let d = values::parse_duration(s)?;
                if d.is_zero() || d > Duration::from_secs(600) {
                    return Err("expected a timeout above 0 and at most 600 s".into());
                }
                Ok(d)
            })?
            .unwrap_or(Duration::from_secs(2)),
        retransmit_tries: r
            .parse("retransmit_tries", |s| match values::parse_u32(s)? {
                v @ 1..=100 => Ok(v),
                _ => Err("expected 1 to 100 tries".into()),
            })?
            .unwrap_or(4),
        dae,
    };
    if radius.servers.is_empty() {
        warnings.push(Warning::new(
            &sec.location,
            format!("'{path}' names no RADIUS server (servers {{ NAME {{ address, secret }} }}): eap-radius cannot authenticate anyone"),
        ));
    }
    warnings.push(Warning::new(
        &sec.location,
        format!(
            "'{path}': read and checked, but not used yet: vtid does not run EAP in IKE_AUTH \
             yet (issue 17)"
        ),
    ));
    for key in [
        "eap_start",
        "id_prefix",
        "filter_id",
        "station_id_with_port",
        "accounting_requires_vip",
        "accounting_send_class",
        "accounting_close_on_timeout",
        "close_all_on_timeout",
        "retransmit_base",
        "sockets",
    ] {
        r.unsupported(key, warnings);
    }
    r.finish(warnings);
    Ok(radius)
}
