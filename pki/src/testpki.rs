//! A throw-away PKI made with strongSwan's `pki` tool (Debian package
//! strongswan-pki), for tests here and in the daemon's namespace tests: an
//! independent implementation makes every key, certificate and CRL vtid is
//! tested with.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A directory of keys (`NAME.key`), certificates (`NAME.pem`) and CRLs,
/// removed on drop.
#[derive(Debug)]
pub struct TestPki {
    /// Where the files are.
    pub dir: PathBuf,
}

impl Drop for TestPki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn run(dir: &Path, args: &[&str]) -> Result<Vec<u8>, String> {
    let out = Command::new("pki")
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| format!("pki (Debian package strongswan-pki) must be installed: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "pki {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(out.stdout)
}

/// Key types `pki --gen` makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA of this many bits.
    Rsa(u32),
    /// ECDSA on the curve of this many bits (256, 384, 521).
    Ecdsa(u32),
    /// Ed25519.
    Ed25519,
}

impl TestPki {
    /// A fresh directory under the system's temp dir; `tag` keeps parallel
    /// tests apart.
    pub fn new(tag: &str) -> Result<TestPki, String> {
        let dir = std::env::temp_dir().join(format!(
            "vtid-pki-{tag}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        ));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        Ok(TestPki { dir })
    }

    /// Path of a file in the directory.
    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// Reads a file of the directory.
    pub fn read(&self, file: &str) -> Vec<u8> {
        std::fs::read(self.path(file)).unwrap_or_default()
    }

    /// Generates `NAME.key` (PEM).
    pub fn key(&self, name: &str, kind: KeyKind) -> Result<(), String> {
        let (ty, size) = match kind {
            KeyKind::Rsa(b) => ("rsa", b.to_string()),
            KeyKind::Ecdsa(b) => ("ecdsa", b.to_string()),
            KeyKind::Ed25519 => ("ed25519", String::new()),
        };
        let mut a = vec!["--gen", "--type", ty, "--outform", "pem"];
        if !size.is_empty() {
            a.extend(["--size", &size]);
        }
        let key = run(&self.dir, &a)?;
        std::fs::write(self.path(&format!("{name}.key")), key).map_err(|e| e.to_string())
    }

    /// A self-signed CA `NAME.pem` with a new key of `kind`; `extra` are
    /// more `pki --self` options.
    pub fn root(&self, name: &str, dn: &str, kind: KeyKind, extra: &[&str]) -> Result<(), String> {
        self.key(name, kind)?;
        let key = format!("{name}.key");
        let mut a = vec![
            "--self",
            "--ca",
            "--in",
            &key,
            "--dn",
            dn,
            "--outform",
            "pem",
            "--lifetime",
            "30",
        ];
        a.extend_from_slice(extra);
        let cert = run(&self.dir, &a)?;
        std::fs::write(self.path(&format!("{name}.pem")), cert).map_err(|e| e.to_string())
    }

    /// Issues `NAME.pem` with a new key of `kind` from CA `issuer`; `extra`
    /// are more `pki --issue` options (`--ca`, `--san`, `--pathlen`,
    /// `--not-before`, `--crl`, `--flag`, `--nc-permitted`, ...).
    pub fn issue(
        &self,
        name: &str,
        dn: &str,
        issuer: &str,
        kind: KeyKind,
        extra: &[&str],
    ) -> Result<(), String> {
        self.key(name, kind)?;
        let key = format!("{name}.key");
        let cacert = format!("{issuer}.pem");
        let cakey = format!("{issuer}.key");
        let mut a = vec![
            "--issue",
            "--in",
            &key,
            "--type",
            "priv",
            "--cacert",
            &cacert,
            "--cakey",
            &cakey,
            "--dn",
            dn,
            "--outform",
            "pem",
        ];
        if !extra
            .iter()
            .any(|x| *x == "--lifetime" || *x == "--not-after")
        {
            a.extend(["--lifetime", "30"]);
        }
        a.extend_from_slice(extra);
        let cert = run(&self.dir, &a)?;
        std::fs::write(self.path(&format!("{name}.pem")), cert).map_err(|e| e.to_string())
    }

    /// A CRL `NAME.crl` (PEM) signed by CA `issuer`, revoking the
    /// certificates `revoked` (names of `.pem` files), valid `days`.
    pub fn crl(&self, name: &str, issuer: &str, revoked: &[&str], days: u32) -> Result<(), String> {
        let cacert = format!("{issuer}.pem");
        let cakey = format!("{issuer}.key");
        let lifetime = days.to_string();
        let files: Vec<String> = revoked.iter().map(|r| format!("{r}.pem")).collect();
        let mut a = vec![
            "--signcrl",
            "--cacert",
            &cacert,
            "--cakey",
            &cakey,
            "--lifetime",
            &lifetime,
            "--outform",
            "pem",
        ];
        for f in &files {
            a.extend(["--reason", "key-compromise", "--cert", f]);
        }
        let crl = run(&self.dir, &a)?;
        std::fs::write(self.path(&format!("{name}.crl")), crl).map_err(|e| e.to_string())
    }
}
