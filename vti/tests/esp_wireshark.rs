//! Wireshark as an oracle: packets sealed by `OutboundSa` are written to a
//! pcap (outer IPv4, protocol 50, and UDP/4500) and decrypted by `tshark`
//! with an ESP SA table; the decrypted inner ICMP echo must appear, with a
//! good ICV and no malformed-packet or error-level expert info.
//!
//! Wireshark 4.0 (Debian 12) knows AES-GCM-16 and AES-CBC with the HMACs
//! used here; it does not know ChaCha20-Poly1305 for ESP nor ESN, so those
//! are covered only by the round trips and the RFC 7634 known answer.
//!
//! tshark is required: a missing tshark fails the test with an install
//! hint.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use common::{icmp4_echo, ipv4_header, keys};
use vti::esp::{OutboundSa, SaKeys, SaOptions, Suite};

const OUTER_SRC: [u8; 4] = [192, 0, 2, 1];
const OUTER_DST: [u8; 4] = [198, 51, 100, 2];
const INNER_SRC: [u8; 4] = [10, 1, 0, 1];
const INNER_DST: [u8; 4] = [10, 2, 0, 1];

/// (suite, Wireshark encryption name, Wireshark authentication name).
const SUITES: &[(Suite, &str, &str)] = &[
    (
        Suite::AES_GCM_16_128,
        "AES-GCM with 16 octet ICV [RFC4106]",
        "NULL",
    ),
    (
        Suite::AES_GCM_16_256,
        "AES-GCM with 16 octet ICV [RFC4106]",
        "NULL",
    ),
    (
        Suite::AES_CBC_128_SHA256_128,
        "AES-CBC [RFC3602]",
        "HMAC-SHA-256-128 [RFC4868]",
    ),
    (
        Suite::AES_CBC_256_SHA256_128,
        "AES-CBC [RFC3602]",
        "HMAC-SHA-256-128 [RFC4868]",
    ),
    (
        Suite::AES_CBC_256_SHA384_192,
        "AES-CBC [RFC3602]",
        "HMAC-SHA-384-192 [RFC4868]",
    ),
    (
        Suite::AES_CBC_256_SHA512_256,
        "AES-CBC [RFC3602]",
        "HMAC-SHA-512-256 [RFC4868]",
    ),
    (
        Suite::AES_CBC_128_SHA1_96,
        "AES-CBC [RFC3602]",
        "HMAC-SHA-1-96 [RFC2404]",
    ),
];

/// A minimal classic pcap writer (LINKTYPE_RAW: each record is an IP
/// packet).
struct Pcap {
    out: Vec<u8>,
}

impl Pcap {
    fn new() -> Pcap {
        let mut out = Vec::new();
        out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes()); // magic, µs
        out.extend_from_slice(&2u16.to_le_bytes()); // version 2.4
        out.extend_from_slice(&4u16.to_le_bytes());
        out.extend_from_slice(&0i32.to_le_bytes()); // thiszone
        out.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
        out.extend_from_slice(&65535u32.to_le_bytes()); // snaplen
        out.extend_from_slice(&101u32.to_le_bytes()); // LINKTYPE_RAW
        Pcap { out }
    }

    fn record(&mut self, n: u32, packet: &[u8]) {
        self.out
            .extend_from_slice(&(1_700_000_000 + n).to_le_bytes());
        self.out.extend_from_slice(&0u32.to_le_bytes());
        self.out
            .extend_from_slice(&(packet.len() as u32).to_le_bytes());
        self.out
            .extend_from_slice(&(packet.len() as u32).to_le_bytes());
        self.out.extend_from_slice(packet);
    }

    fn write(&self, path: &Path) {
        let mut f = std::fs::File::create(path).unwrap();
        f.write_all(&self.out).unwrap();
    }
}

/// Outer IPv4 + ESP (protocol 50).
fn outer_esp(esp: &[u8], id: u16) -> Vec<u8> {
    let mut p = ipv4_header(50, OUTER_SRC, OUTER_DST, esp.len(), id).to_vec();
    p.extend_from_slice(esp);
    p
}

/// Outer IPv4 + UDP 4500 -> 4500 + ESP (RFC 3948; UDP checksum 0 is
/// allowed for IPv4, RFC 3948 §2.1).
fn outer_udp(esp: &[u8], id: u16) -> Vec<u8> {
    let ulen = (8 + esp.len()) as u16;
    let mut p = ipv4_header(17, OUTER_SRC, OUTER_DST, ulen as usize, id).to_vec();
    p.extend_from_slice(&4500u16.to_be_bytes());
    p.extend_from_slice(&4500u16.to_be_bytes());
    p.extend_from_slice(&ulen.to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(esp);
    p
}

fn spi_for(i: usize) -> u32 {
    0x5000_0100 + i as u32
}

struct Capture {
    frames: Vec<Vec<u8>>,
    /// For each frame: (ICMP sequence number, ICMP data length, pad length).
    expect: Vec<(u16, usize, usize)>,
    uat: Vec<String>,
}

fn build() -> Capture {
    let now = Instant::now();
    let mut frames = Vec::new();
    let mut expect = Vec::new();
    let mut uat = Vec::new();
    for (i, (suite, enc_name, auth_name)) in SUITES.iter().enumerate() {
        let spi = spi_for(i);
        let (e, a) = keys(*suite, i as u8 + 1);
        let mut out = OutboundSa::new(
            spi,
            *suite,
            SaKeys {
                encryption: &e,
                integrity: &a,
            },
            &SaOptions::default(),
            now,
        )
        .unwrap();
        // Two data sizes so both padding paths show up, each as plain ESP
        // and as ESP-in-UDP.
        for (k, data_len) in [56usize, 1373].into_iter().enumerate() {
            for udp in [false, true] {
                let icmp_seq = (i * 10 + k * 2 + usize::from(udp)) as u16;
                let inner = icmp4_echo(INNER_SRC, INNER_DST, icmp_seq, data_len);
                let esp = common::seal(&mut out, &inner, now);
                let id = frames.len() as u16;
                frames.push(if udp {
                    outer_udp(&esp, id)
                } else {
                    outer_esp(&esp, id)
                });
                let pad = vti::esp::overhead::pad_len(*suite, inner.len());
                expect.push((icmp_seq, data_len, pad));
            }
        }
        let auth_key = if a.is_empty() {
            String::new()
        } else {
            format!("0x{}", hex::encode(&a))
        };
        uat.push(format!(
            "uat:esp_sa:\"IPv4\",\"{}\",\"{}\",\"0x{:08x}\",\"{}\",\"0x{}\",\"{}\",\"{}\"",
            dotted(OUTER_SRC),
            dotted(OUTER_DST),
            spi,
            enc_name,
            hex::encode(&e),
            auth_name,
            auth_key
        ));
    }
    Capture {
        frames,
        expect,
        uat,
    }
}

fn dotted(a: [u8; 4]) -> String {
    format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3])
}

fn tshark_args(pcap: &Path, uat: &[String]) -> Vec<String> {
    let mut args = vec![
        "-n".to_string(),
        "-r".to_string(),
        pcap.display().to_string(),
        "-o".to_string(),
        "esp.enable_encryption_decode:TRUE".to_string(),
        "-o".to_string(),
        "esp.enable_authentication_check:TRUE".to_string(),
    ];
    for u in uat {
        args.push("-o".to_string());
        args.push(u.clone());
    }
    args
}

fn tshark(args: &[String]) -> String {
    let out = match Command::new("tshark").args(args).output() {
        Ok(o) => o,
        Err(e) => panic!(
            "tshark is needed for the Wireshark oracle test but could not be run ({e}); \
             install it, e.g. `apt-get install tshark` (Debian/Ubuntu) or `dnf install wireshark-cli`"
        ),
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "tshark failed: {stderr}");
    assert!(
        !stderr.contains("rror") && !stderr.contains("nvalid"),
        "tshark complained: {stderr}"
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Remove a capture unless VTI_KEEP_PCAP is set (to inspect it by hand).
fn cleanup(path: &Path) {
    if std::env::var_os("VTI_KEEP_PCAP").is_none() {
        let _ = std::fs::remove_file(path);
    } else {
        eprintln!("kept {}", path.display());
    }
}

fn shell_words(args: &[String]) -> String {
    args.iter()
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("vti-esp-{}-{name}.pcap", std::process::id()))
}

/// Per frame, '|'-separated: frame number, SPI, icmp.type, icmp.seq, data
/// length, ICV good, ICV bad, expert severities, malformed, pad length,
/// next header, expert messages.
fn fields(pcap: &Path, uat: &[String]) -> Vec<Vec<String>> {
    let mut args = tshark_args(pcap, uat);
    for a in [
        "-T",
        "fields",
        "-E",
        "separator=|",
        "-e",
        "frame.number",
        "-e",
        "esp.spi",
        "-e",
        "icmp.type",
        "-e",
        "icmp.seq",
        "-e",
        "data.len",
        "-e",
        "esp.icv_good",
        "-e",
        "esp.icv_bad",
        "-e",
        "_ws.expert.severity",
        "-e",
        "_ws.malformed",
        "-e",
        "esp.pad_len",
        "-e",
        "esp.protocol",
        "-e",
        "_ws.expert.message",
    ] {
        args.push(a.to_string());
    }
    tshark(&args)
        .lines()
        .map(|l| l.split('|').map(str::to_string).collect())
        .collect()
}

#[test]
fn tshark_decrypts_sealed_packets() {
    let cap = build();
    let path = temp_path("good");
    let mut pcap = Pcap::new();
    for (n, f) in cap.frames.iter().enumerate() {
        pcap.record(n as u32, f);
    }
    pcap.write(&path);

    let rows = fields(&path, &cap.uat);
    if std::env::var_os("VTI_KEEP_PCAP").is_some() {
        eprintln!("tshark {}", shell_words(&tshark_args(&path, &cap.uat)));
    }
    assert_eq!(rows.len(), cap.frames.len(), "{rows:?}");
    for (row, (seq, data_len, pad)) in rows.iter().zip(&cap.expect) {
        let what = format!("frame {row:?}");
        assert_eq!(row[2], "8", "inner ICMP echo request not decoded: {what}");
        assert_eq!(row[3], seq.to_string(), "{what}");
        assert_eq!(row[4], data_len.to_string(), "{what}");
        assert_eq!(row[5], "1", "ICV not verified: {what}");
        assert!(row[6].is_empty() || row[6] == "0", "ICV bad: {what}");
        assert!(row[8].is_empty(), "malformed: {what}");
        assert_eq!(row[9], pad.to_string(), "pad length: {what}");
        assert_eq!(row[10], "0x04", "next header: {what}");
        // No expert complaints at all (e.g. a bad inner checksum would show).
        assert!(row[11].is_empty(), "expert info: {what}");
        // Severities: none at error level (Wireshark's "Error" is 0x00800000).
        for sev in row[7].split(',').filter(|s| !s.is_empty()) {
            let v = u32::from_str_radix(sev.trim_start_matches("0x"), 16).unwrap_or(u32::MAX);
            assert!(v < 0x0080_0000, "expert info at error level: {what}");
        }
    }

    // The verbose dissection carries no malformed packets or errors either.
    let verbose = tshark(&{
        let mut a = tshark_args(&path, &cap.uat);
        a.push("-V".to_string());
        a
    });
    assert!(!verbose.contains("Malformed"), "{verbose}");
    assert!(!verbose.contains("[Expert Info (Error"), "{verbose}");
    assert!(verbose.contains("Internet Control Message Protocol"));
    cleanup(&path);
}

#[test]
fn tshark_rejects_broken_ciphertext() {
    // The oracle must be able to say no: flip one ciphertext byte per frame
    // and tshark must neither verify the ICV nor show a clean inner packet.
    let cap = build();
    let path = temp_path("broken");
    let mut pcap = Pcap::new();
    for (n, f) in cap.frames.iter().enumerate() {
        let mut f = f.clone();
        let l = f.len();
        f[l - 40] ^= 0x5a; // inside the ciphertext for every suite here
        pcap.record(n as u32, &f);
    }
    pcap.write(&path);
    let rows = fields(&path, &cap.uat);
    assert_eq!(rows.len(), cap.frames.len());
    for (row, (seq, _, _)) in rows.iter().zip(&cap.expect) {
        assert_ne!(row[5], "1", "ICV verified on a broken packet: {row:?}");
        assert_eq!(row[6], "1", "ICV not flagged bad: {row:?}");
        let clean = row[2] == "8" && row[3] == seq.to_string();
        assert!(
            !clean || row[6] == "1",
            "broken packet decoded cleanly: {row:?}"
        );
    }
    cleanup(&path);
}
