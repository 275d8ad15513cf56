//! Credentials from the swanctl folders (issue 14 §3): `x509/`,
//! `x509ca/`, `x509crl/`, `private/`, `rsa/`, `ecdsa/`, `pkcs8/`,
//! `pubkey/` next to the configuration file, as strongSwan reads them under
//! /etc/swanctl; `authorities { }`; passphrases of encrypted keys from
//! `secrets { private-NAME { file, secret } }`.

use std::path::{Path, PathBuf};

use ike::crypto::sig::{PrivateKey, PublicKey, SigError};
use pki::{Authority, Certificate, Crl, Store};

/// A folder of the swanctl layout.
pub const X509: &str = "x509";
/// Trusted CA certificates.
pub const X509CA: &str = "x509ca";
/// CRLs.
pub const X509CRL: &str = "x509crl";
/// Raw public keys.
pub const PUBKEY: &str = "pubkey";
/// Private key folders (any key type, RSA, ECDSA, PKCS#8).
pub const KEY_FOLDERS: [&str; 4] = ["private", "rsa", "ecdsa", "pkcs8"];

/// Where a file named in the configuration is: absolute as given, else in
/// `folder` under `base`.
pub fn path_of(base: Option<&Path>, folder: &str, name: &str) -> PathBuf {
    let p = Path::new(name);
    if p.is_absolute() {
        return p.to_path_buf();
    }
    base.unwrap_or_else(|| Path::new(".")).join(folder).join(p)
}

/// The prefix of a `certs`/`cacerts`/`pubkeys` entry that carries the
/// file's contents (hex) instead of its name: what a VICI `load-conn`
/// sends.
pub const BLOB_PREFIX: &str = "blob:";

/// The contents of a blob entry (see [`BLOB_PREFIX`]).
pub fn blob(entry: &str) -> Option<Vec<u8>> {
    let h = entry.strip_prefix(BLOB_PREFIX)?;
    if h.len() % 2 != 0 {
        return None;
    }
    (0..h.len())
        .step_by(2)
        .map(|i| h.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
        .collect()
}

/// Reads a file named in the configuration (see [`path_of`]).
pub fn read_named(base: Option<&Path>, folder: &str, name: &str) -> Result<Vec<u8>, String> {
    let p = path_of(base, folder, name);
    std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

/// Whether a key file can be read by others than its owner.
#[cfg(unix)]
fn loose(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
}

#[cfg(not(unix))]
fn loose(_: &Path) -> bool {
    false
}

/// Loads the swanctl folders under `base` and the configuration's
/// authorities into a new store. Each problem is a warning naming the file;
/// nothing here stops the daemon.
pub fn load(base: &Path, cfg: &config::Config, warnings: &mut Vec<String>) -> Store {
    let mut store = Store::new();
    for p in files(&base.join(X509CA)) {
        match std::fs::read(&p)
            .map_err(|e| e.to_string())
            .and_then(|d| Certificate::from_file_bytes(&d).map_err(|e| e.to_string()))
        {
            Ok(c) => {
                if !c.is_ca {
                    warnings.push(format!(
                        "{}: \"{}\" is not a CA certificate (no basicConstraints CA); \
                         trusted as a peer certificate only",
                        p.display(),
                        c.subject_string()
                    ));
                }
                store.add_ca(c);
            }
            Err(e) => warnings.push(format!("{}: {e}; not loaded", p.display())),
        }
    }
    for p in files(&base.join(X509)) {
        match std::fs::read(&p)
            .map_err(|e| e.to_string())
            .and_then(|d| Certificate::from_file_bytes(&d).map_err(|e| e.to_string()))
        {
            Ok(c) => {
                store.add_cert(c);
            }
            Err(e) => warnings.push(format!("{}: {e}; not loaded", p.display())),
        }
    }
    for p in files(&base.join(X509CRL)) {
        match std::fs::read(&p)
            .map_err(|e| e.to_string())
            .and_then(|d| Crl::from_file_bytes(&d).map_err(|e| e.to_string()))
        {
            Ok(c) => {
                store.add_crl(c);
            }
            Err(e) => warnings.push(format!("{}: {e}; not loaded", p.display())),
        }
    }
    for folder in KEY_FOLDERS {
        for p in files(&base.join(folder)) {
            let Ok(data) = std::fs::read(&p) else {
                warnings.push(format!("{}: cannot be read; not loaded", p.display()));
                continue;
            };
            let data = zeroize::Zeroizing::new(data);
            if loose(&p) {
                warnings.push(format!(
                    "{}: private key readable by group or others (chmod 600 it)",
                    p.display()
                ));
            }
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            // Passphrases for this file first, then those without a file.
            let mut pass: Vec<&[u8]> = cfg
                .key_secrets
                .iter()
                .filter(|k| {
                    k.file
                        .as_deref()
                        .is_some_and(|f| f == name || path_of(Some(base), &k.folder, f) == p)
                })
                .map(|k| k.secret.expose())
                .collect();
            pass.extend(
                cfg.key_secrets
                    .iter()
                    .filter(|k| k.file.is_none())
                    .map(|k| k.secret.expose()),
            );
            match PrivateKey::from_file_bytes(&data, &pass) {
                Ok(k) => {
                    let id = store.add_key(k);
                    tracing::debug!(target: "vtid::creds", "loaded private key {id} from {}", p.display());
                }
                Err(e @ SigError::Encrypted(_)) => warnings.push(format!(
                    "{}: {e} (secrets {{ {folder}-NAME {{ file = {name} secret = ... }} }}); not loaded",
                    p.display()
                )),
                Err(e) => warnings.push(format!("{}: {e}; not loaded", p.display())),
            }
        }
    }
    for p in files(&base.join(PUBKEY)) {
        match std::fs::read(&p)
            .map_err(|e| e.to_string())
            .and_then(|d| PublicKey::from_file_bytes(&d).map_err(|e| e.to_string()))
        {
            Ok(k) => store.add_pubkey(k),
            Err(e) => warnings.push(format!("{}: {e}; not loaded", p.display())),
        }
    }
    for a in &cfg.authorities {
        let Some(file) = &a.cacert else { continue };
        match read_named(Some(base), X509CA, file)
            .and_then(|d| Certificate::from_file_bytes(&d).map_err(|e| e.to_string()))
        {
            Ok(c) => store.add_authority(Authority {
                name: a.name.clone(),
                cert: std::sync::Arc::new(c),
                crl_uris: a.crl_uris.clone(),
            }),
            Err(e) => warnings.push(format!(
                "{}: authorities.{}: cacert: {e}; not loaded",
                a.location, a.name
            )),
        }
    }
    store
}

/// What was loaded, for the log.
pub fn summary(s: &Store) -> String {
    format!(
        "{} CA certificate(s), {} certificate(s), {} CRL(s), {} private key(s), {} public key(s), {} authorit(y/ies)",
        s.cas().len(),
        s.certs().len(),
        s.crls().len(),
        s.keys().len(),
        s.pubkeys().len(),
        s.authorities().len()
    )
}

/// Credentials loaded over VICI (`load-cert`, `load-key`,
/// `load-authority`), kept across a SIGHUP reload of the files.
#[derive(Debug, Default, Clone)]
pub struct ViciCreds {
    /// Certificates (DER) and whether they were loaded as CA.
    pub certs: Vec<(Vec<u8>, bool)>,
    /// CRLs (DER).
    pub crls: Vec<Vec<u8>>,
    /// Private keys: their identifier and their encoding (zeroized on
    /// drop, never printed).
    pub keys: Vec<(String, ike::crypto::SecretBytes)>,
    /// Authorities: name, CA certificate (DER), CRL URIs.
    pub authorities: Vec<(String, Vec<u8>, Vec<String>)>,
}

impl ViciCreds {
    /// Adds these credentials to `store`.
    pub fn apply(&self, store: &mut Store) {
        for (der, ca) in &self.certs {
            if let Ok(c) = Certificate::from_der(der) {
                if *ca {
                    store.add_ca(c);
                } else {
                    store.add_cert(c);
                }
            }
        }
        for der in &self.crls {
            if let Ok(c) = Crl::from_der(der) {
                store.add_crl(c);
            }
        }
        for (_, data) in &self.keys {
            if let Ok(k) = PrivateKey::from_file_bytes(data.as_bytes(), &[]) {
                store.add_key(k);
            }
        }
        for (name, der, uris) in &self.authorities {
            if let Ok(c) = Certificate::from_der(der) {
                store.add_authority(Authority {
                    name: name.clone(),
                    cert: std::sync::Arc::new(c),
                    crl_uris: uris.clone(),
                });
            }
        }
    }
}

/// Loads the swanctl folders next to the configuration file into `shared`
/// (replacing what was loaded from files before) plus what VICI loaded,
/// logging each problem.
pub fn reload(shared: &pki::SharedStore, cfg: &config::Config, vici: &ViciCreds) {
    let mut warnings = Vec::new();
    let mut store = match cfg.base_dir.as_deref() {
        Some(base) => load(base, cfg, &mut warnings),
        None => Store::new(),
    };
    vici.apply(&mut store);
    let base = cfg
        .base_dir
        .as_deref()
        .unwrap_or_else(|| Path::new("(none)"));
    for w in &warnings {
        tracing::warn!(target: "vtid::creds", "{w}");
    }
    tracing::info!(target: "vtid::creds", "credentials from {}: {}", base.display(), summary(&store));
    let mut held = shared.lock();
    // CRLs fetched before stay (they are still valid; the URIs no longer
    // wanted are simply not refreshed).
    store.carry_fetched(&held);
    *held = store;
}
