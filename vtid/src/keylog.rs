//! The Wireshark key log: `vtid { keylog = DIR }` or `vtictl keylog --file
//! DIR`. vtid keeps Wireshark's two decryption tables in DIR, the files a
//! Wireshark profile holds (as strongSwan's save-keys plugin does):
//!
//! * `ikev2_decryption_table`: `SPIi,SPIr,SK_ei,SK_er,"encr",SK_ai,SK_ar,"integ"`
//!   per IKE SA, written as soon as its keys exist (after IKE_SA_INIT, or
//!   its rekey), so a failed IKE_AUTH decrypts too;
//! * `esp_sa`: `"IPv4","*","*","0xSPI","encr","0xkey","auth","0xkey"` per
//!   direction of each CHILD SA, written when it is installed (addresses
//!   are wildcards: the SPI names the SA, and a capture behind a NAT
//!   decrypts too).
//!
//! `WIRESHARK_CONFIG_DIR=DIR tshark -r capture.pcap -o
//! esp.enable_encryption_decode:TRUE` (or DIR as a Wireshark profile)
//! decrypts with no typing. The files are 0600 in a 0700 directory; the
//! keys go there and nowhere else (no log line carries them). Anyone who
//! can read them decrypts the traffic: debugging only.

use std::collections::HashSet;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use ike::crypto::{Encr, Integ};
use ike::engine::{ChildInstall, IkeSecrets, SaKeys};
use tracing::warn;

/// Wireshark's name of an IKEv2 encryption transform
/// (`packet-isakmp.c`'s `ikev2_encr_algs`), if Wireshark 4.0 has it.
pub fn ikev2_encr_name(e: Encr) -> Option<&'static str> {
    Some(match e {
        Encr::AesCbc { key_bits: 128 } => "AES-CBC-128 [RFC3602]",
        Encr::AesCbc { key_bits: 192 } => "AES-CBC-192 [RFC3602]",
        Encr::AesCbc { key_bits: 256 } => "AES-CBC-256 [RFC3602]",
        Encr::AesGcm16 { key_bits: 128 } => "AES-GCM-128 with 16 octet ICV [RFC5282]",
        Encr::AesGcm16 { key_bits: 192 } => "AES-GCM-192 with 16 octet ICV [RFC5282]",
        Encr::AesGcm16 { key_bits: 256 } => "AES-GCM-256 with 16 octet ICV [RFC5282]",
        Encr::TripleDes => "3DES [RFC2451]",
        _ => return None,
    })
}

/// Wireshark's name of an IKEv2 integrity transform (`NONE` for AEAD), if
/// Wireshark 4.0 has it.
pub fn ikev2_integ_name(i: Option<Integ>) -> Option<&'static str> {
    Some(match i {
        None => "NONE [RFC4306]",
        Some(Integ::HmacMd5_96) => "HMAC_MD5_96 [RFC2403]",
        Some(Integ::HmacSha1_96) => "HMAC_SHA1_96 [RFC2404]",
        Some(Integ::HmacSha2_256_128) => "HMAC_SHA2_256_128 [RFC4868]",
        Some(Integ::HmacSha2_384_192) => "HMAC_SHA2_384_192 [RFC4868]",
        Some(Integ::HmacSha2_512_256) => "HMAC_SHA2_512_256 [RFC4868]",
        // strongSwan's private sha256_96 (legacy): Wireshark has it.
        Some(Integ::HmacSha2_256_96) => "HMAC_SHA2_256_96 [draft-ietf-ipsec-ciph-sha-256-00]",
        Some(_) => return None,
    })
}

/// Wireshark's ESP encryption name (`packet-ipsec.c`), if it has one.
pub fn esp_encr_name(e: Encr) -> Option<&'static str> {
    Some(match e {
        Encr::AesCbc { .. } => "AES-CBC [RFC3602]",
        Encr::AesGcm16 { .. } => "AES-GCM with 16 octet ICV [RFC4106]",
        Encr::TripleDes => "TripleDes-CBC [RFC2451]",
        _ => return None,
    })
}

/// Wireshark's ESP authentication name (`NULL` for AEAD), if it has one.
pub fn esp_auth_name(i: Option<Integ>) -> Option<&'static str> {
    Some(match i {
        None => "NULL",
        Some(Integ::HmacMd5_96) => "HMAC-MD5-96 [RFC2403]",
        Some(Integ::HmacSha1_96) => "HMAC-SHA-1-96 [RFC2404]",
        Some(Integ::HmacSha2_256_128) => "HMAC-SHA-256-128 [RFC4868]",
        Some(Integ::HmacSha2_384_192) => "HMAC-SHA-384-192 [RFC4868]",
        Some(Integ::HmacSha2_512_256) => "HMAC-SHA-512-256 [RFC4868]",
        Some(_) => return None,
    })
}

/// The `ikev2_decryption_table` line of an IKE SA.
pub fn ikev2_line(s: &IkeSecrets) -> Option<String> {
    Some(format!(
        "{},{},{},{},\"{}\",{},{},\"{}\"",
        hex(&s.spi_i),
        hex(&s.spi_r),
        hex(s.sk_ei.as_bytes()),
        hex(s.sk_er.as_bytes()),
        ikev2_encr_name(s.encr)?,
        hex(s.sk_ai.as_bytes()),
        hex(s.sk_ar.as_bytes()),
        ikev2_integ_name(s.integ)?
    ))
}

/// The `esp_sa` line of one direction of a CHILD SA (`v6`: its outer
/// addresses are IPv6).
pub fn esp_line(k: &SaKeys, v6: bool) -> Option<String> {
    let auth_key = if k.integ.is_some() {
        format!("0x{}", hex(k.integ_key.as_bytes()))
    } else {
        String::new()
    };
    Some(format!(
        "\"{}\",\"*\",\"*\",\"0x{:08x}\",\"{}\",\"0x{}\",\"{}\",\"{}\"",
        if v6 { "IPv6" } else { "IPv4" },
        k.spi,
        esp_encr_name(k.encr)?,
        hex(k.encr_key.as_bytes()),
        esp_auth_name(k.integ)?,
        auth_key
    ))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The key log of a running daemon.
#[derive(Debug)]
pub struct KeyLog {
    dir: PathBuf,
    /// IKE SAs written, by SPIs (trimmed to those that exist).
    written: HashSet<([u8; 8], [u8; 8])>,
}

impl KeyLog {
    /// Starts a key log in `dir` (created 0700 if missing).
    pub fn open(dir: &Path) -> std::io::Result<KeyLog> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        for f in ["ikev2_decryption_table", "esp_sa"] {
            append(&dir.join(f), "")?;
        }
        Ok(KeyLog {
            dir: dir.to_path_buf(),
            written: HashSet::new(),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes the IKE SAs of `all` not written yet (call with every IKE
    /// SA that has keys).
    pub fn ike_sas(&mut self, all: Vec<IkeSecrets>) {
        let mut lines = String::new();
        let mut present = HashSet::with_capacity(all.len());
        for s in &all {
            let key = (s.spi_i, s.spi_r);
            present.insert(key);
            if self.written.contains(&key) {
                continue;
            }
            self.written.insert(key);
            match ikev2_line(s) {
                Some(l) => {
                    lines.push_str(&l);
                    lines.push('\n');
                }
                None => {
                    warn!(conn = %s.conn, "keylog: Wireshark cannot decrypt IKE_SA {} ({:?}): not written", s.id, s.encr)
                }
            }
        }
        self.written.retain(|k| present.contains(k));
        if !lines.is_empty() {
            self.write("ikev2_decryption_table", &lines);
        }
    }

    /// Writes both directions of a CHILD SA being installed.
    pub fn child(&mut self, c: &ChildInstall) {
        let mut lines = String::new();
        for k in [&c.inbound, &c.outbound] {
            match esp_line(k, c.remote.is_ipv6()) {
                Some(l) => {
                    lines.push_str(&l);
                    lines.push('\n');
                }
                None => {
                    warn!(conn = %c.conn, "keylog: Wireshark cannot decrypt ESP SPI {:08x} ({:?}): not written", k.spi, k.encr);
                }
            }
        }
        if !lines.is_empty() {
            self.write("esp_sa", &lines);
        }
    }

    fn write(&self, name: &str, lines: &str) {
        if let Err(e) = append(&self.dir.join(name), lines) {
            warn!(
                "keylog: cannot write {}: {e}",
                self.dir.join(name).display()
            );
        }
    }
}

fn append(path: &Path, text: &str) -> std::io::Result<()> {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ike::crypto::SecretBytes;

    /// The line format tests/tests/tshark_decrypt.rs feeds Wireshark
    /// (checked there against tshark) and vti/tests/esp_wireshark.rs uses.
    #[test]
    fn lines() {
        let s = IkeSecrets {
            id: ike::engine::IkeSaId(1),
            conn: "c".into(),
            spi_i: [1; 8],
            spi_r: [2; 8],
            encr: Encr::AesCbc { key_bits: 256 },
            integ: Some(Integ::HmacSha2_256_128),
            sk_ei: SecretBytes::from_slice(&[0xaa; 32]),
            sk_er: SecretBytes::from_slice(&[0xbb; 32]),
            sk_ai: SecretBytes::from_slice(&[0xcc; 32]),
            sk_ar: SecretBytes::from_slice(&[0xdd; 32]),
        };
        let l = ikev2_line(&s).unwrap();
        assert_eq!(
            l,
            format!(
                "0101010101010101,0202020202020202,{},{},\"AES-CBC-256 [RFC3602]\",{},{},\"HMAC_SHA2_256_128 [RFC4868]\"",
                "aa".repeat(32),
                "bb".repeat(32),
                "cc".repeat(32),
                "dd".repeat(32)
            )
        );
        let k = SaKeys {
            spi: 0xc0ffee01,
            encr: Encr::AesGcm16 { key_bits: 128 },
            integ: None,
            encr_key: SecretBytes::from_slice(&[0x11; 20]),
            integ_key: SecretBytes::from_slice(&[]),
        };
        assert_eq!(
            esp_line(&k, false).unwrap(),
            format!(
                "\"IPv4\",\"*\",\"*\",\"0xc0ffee01\",\"AES-GCM with 16 octet ICV [RFC4106]\",\"0x{}\",\"NULL\",\"\"",
                "11".repeat(20)
            )
        );
        assert!(esp_line(
            &SaKeys {
                encr: Encr::ChaCha20Poly1305,
                ..k
            },
            true
        )
        .is_none());
    }
}
