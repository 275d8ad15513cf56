//! `secrets { ike-NAME { id = ..., secret = ... } }`.

use serde::{Deserialize, Serialize};

use crate::error::{ConfigError, Warning};
use crate::reader::Reader;
use crate::secret::Secret;
use crate::settings::Section;

/// The kind of a shared secret, from its section name's prefix (as swanctl's
/// `load_secret`: `ike`, `ppk`, `eap`, `xauth`, `ntlm`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum SecretKind {
    /// IKE pre-shared key.
    Ike,
    /// Post-quantum preshared key (RFC 8784).
    Ppk,
    /// EAP secret (not used by vtid; warns).
    Eap,
    /// XAuth secret (not used by vtid; warns).
    Xauth,
    /// NTLM secret (not used by vtid; warns).
    Ntlm,
}

/// A shared secret and the identities it belongs to.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct SharedSecret {
    /// The section name (e.g. `ike-gw1`).
    pub name: String,
    /// What it is for.
    pub kind: SecretKind,
    /// Owner identities (`id`, `id-1`, `id2`, ... in file order); empty
    /// means the secret applies to any identity.
    pub ids: Vec<String>,
    /// The secret (plain, `0x` hex or `0s` base64 decoded).
    pub secret: Secret,
}

/// The passphrase of an encrypted private key (`secrets { private-NAME {
/// file, secret } }`, also `rsa-`, `ecdsa-`, `pkcs8-`).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct KeySecret {
    /// The section name (e.g. `private-gw`).
    pub name: String,
    /// The folder its file is in: `private`, `rsa`, `ecdsa` or `pkcs8`.
    pub folder: String,
    /// `file`: the key file (relative to the folder); `None` tries the
    /// passphrase on every encrypted key, as swanctl does.
    pub file: Option<String>,
    /// `secret`: the passphrase.
    pub secret: Secret,
}

/// A certification authority (`authorities { NAME { ... } }`).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Authority {
    /// The section name.
    pub name: String,
    /// `cacert`: the CA certificate file (in `x509ca/`).
    pub cacert: Option<String>,
    /// `crl_uris`.
    pub crl_uris: Vec<String>,
    /// Where it is defined (`file:line:col`).
    pub location: String,
}

/// Reads the `authorities` section (swanctl.conf(5)); `file`/`handle`/
/// `slot`/`module` tokens, `ocsp_uris` and `cert_uri_base` warn.
pub(crate) fn authorities_from_section(
    sec: &Section,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<Authority>, ConfigError> {
    let mut out = Vec::new();
    let mut top = Reader::new(sec, "authorities");
    for s in top.sections(|_| true) {
        let mut r = Reader::new(s, format!("authorities.{}", s.name));
        let cacert = r.string("cacert");
        let crl_uris = r.list("crl_uris").unwrap_or_default();
        for key in [
            "file",
            "handle",
            "slot",
            "module",
            "ocsp_uris",
            "cert_uri_base",
        ] {
            r.unsupported(key, warnings);
        }
        r.finish(warnings);
        if cacert.is_none() {
            return Err(ConfigError::invalid(
                &s.location,
                format!("'authorities.{}' has no 'cacert'", s.name),
            ));
        }
        out.push(Authority {
            name: s.name.clone(),
            cacert,
            crl_uris,
            location: s.location.to_string(),
        });
    }
    top.finish(warnings);
    Ok(out)
}

/// Reads the `secrets` section: shared secrets and private key
/// passphrases.
pub(crate) fn secrets_from_section(
    sec: &Section,
    warnings: &mut Vec<Warning>,
) -> Result<(Vec<SharedSecret>, Vec<KeySecret>), ConfigError> {
    let mut out = Vec::new();
    let mut keys = Vec::new();
    let mut top = Reader::new(sec, "secrets");
    for s in top.sections(|_| true) {
        // The order matters: swanctl tests these prefixes in this order.
        let kinds: [(&str, Option<SecretKind>); 11] = [
            ("eap", Some(SecretKind::Eap)),
            ("xauth", Some(SecretKind::Xauth)),
            ("ntlm", Some(SecretKind::Ntlm)),
            ("ike", Some(SecretKind::Ike)),
            ("ppk", Some(SecretKind::Ppk)),
            ("private", None),
            ("rsa", None),
            ("ecdsa", None),
            ("pkcs8", None),
            ("pkcs12", None),
            ("token", None),
        ];
        let Some(&(prefix, kind)) = kinds.iter().find(|(p, _)| s.name.starts_with(p)) else {
            warnings.push(Warning::new(
                &s.location,
                format!(
                    "unsupported secret 'secrets.{}' (unknown type); ignored",
                    s.name
                ),
            ));
            continue;
        };
        if matches!(prefix, "private" | "rsa" | "ecdsa" | "pkcs8") {
            let mut r = Reader::new(s, format!("secrets.{}", s.name));
            let file = r.string("file");
            let Some(kv) = r.kv("secret") else {
                r.finish(warnings);
                warnings.push(Warning::new(
                    &s.location,
                    format!(
                        "'secrets.{}' has no 'secret' (the passphrase of an encrypted key); ignored",
                        s.name
                    ),
                ));
                continue;
            };
            let secret = Secret::parse(kv.value.as_deref().unwrap_or_default())
                .map_err(|m| r.value_error(kv, m))?;
            r.finish(warnings);
            keys.push(KeySecret {
                name: s.name.clone(),
                folder: prefix.to_string(),
                file,
                secret,
            });
            continue;
        }
        let Some(kind) = kind else {
            warnings.push(Warning::new(
                &s.location,
                format!(
                    "'{prefix}' secrets ('secrets.{}') are not supported by vtid; ignored",
                    s.name
                ),
            ));
            continue;
        };
        // Reported here, once, with its place; the daemon adds nothing.
        match kind {
            SecretKind::Eap | SecretKind::Ntlm => warnings.push(Warning::new(
                &s.location,
                format!(
                    "'{prefix}' secret 'secrets.{}' is not used: EAP authentication is not \
                     supported by vtid yet",
                    s.name
                ),
            )),
            SecretKind::Xauth => warnings.push(Warning::new(
                &s.location,
                format!(
                    "'{prefix}' secret 'secrets.{}' is not used: XAuth is IKEv1, and vtid is \
                     an IKEv2 daemon",
                    s.name
                ),
            )),
            SecretKind::Ppk => warnings.push(Warning::new(
                &s.location,
                format!(
                    "'{prefix}' secret 'secrets.{}' is not used: post-quantum preshared keys \
                     (RFC 8784) are not supported by vtid yet",
                    s.name
                ),
            )),
            SecretKind::Ike => {}
        }
        let mut r = Reader::new(s, format!("secrets.{}", s.name));
        let Some(kv) = r.kv("secret") else {
            return Err(ConfigError::invalid(
                &s.location,
                format!("'secrets.{}' has no 'secret'", s.name),
            ));
        };
        let secret = Secret::parse(kv.value.as_deref().unwrap_or_default())
            .map_err(|m| r.value_error(kv, m))?;
        let ids = r
            .keys(|k| k.starts_with("id"))
            .into_iter()
            .filter_map(|kv| kv.value.clone())
            .collect();
        r.finish(warnings);
        out.push(SharedSecret {
            name: s.name.clone(),
            kind,
            ids,
            secret,
        });
    }
    top.finish(warnings);
    Ok((out, keys))
}
