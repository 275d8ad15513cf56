//! Pre-shared keys leave no stale copies in vtid's memory: the real
//! daemon, an IKE SA authenticated with a PSK from its file, a reload of
//! that file (SIGHUP) and a second PSK loaded over VICI (`load-shared`);
//! then every writable mapping of the process (`/proc/PID/mem`) is searched
//! for the secrets. What may hold a PSK is what must: the loaded
//! configuration (`config::Secret`) and the engine's shared key
//! (`ike::crypto::SecretBytes`), both wiped on drop. The file's text, the
//! parser's buffers and tree, and the VICI request were left in freed
//! memory before.
#![cfg(target_os = "linux")]

mod common;

use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::time::Duration;

use common::moon_sun::moon_sun;
use common::{Conn, Vtid};

const T: Duration = Duration::from_secs(10);

/// A secret nobody else has: 32 random hex digits behind a marker.
fn unique_secret(tag: &str) -> String {
    let mut b = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut b);
    format!(
        "{tag}-{}",
        b.iter().map(|x| format!("{x:02x}")).collect::<String>()
    )
}

/// Occurrences of the text `s` in the writable mappings of `pid`, as UTF-8
/// bytes and as `char`s (UTF-32, what a lexer holds).
fn copies_in_memory(pid: u32, s: &str) -> usize {
    let utf32: Vec<u8> = s.chars().flat_map(|c| u32::from(c).to_ne_bytes()).collect();
    find_in_memory(pid, s.as_bytes()) + find_in_memory(pid, &utf32)
}

/// Occurrences of `needle` in the writable mappings of `pid`.
fn find_in_memory(pid: u32, needle: &[u8]) -> usize {
    let maps = fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let mut mem = fs::File::open(format!("/proc/{pid}/mem")).unwrap();
    let mut n = 0;
    for l in maps.lines() {
        let mut f = l.split_whitespace();
        let (Some(range), Some(perms)) = (f.next(), f.next()) else {
            continue;
        };
        if !perms.starts_with("rw") {
            continue;
        }
        let Some((a, b)) = range.split_once('-') else {
            continue;
        };
        let (a, b) = (
            u64::from_str_radix(a, 16).unwrap(),
            u64::from_str_radix(b, 16).unwrap(),
        );
        let mut buf = vec![0u8; (b - a) as usize];
        if mem.seek(SeekFrom::Start(a)).is_err() || mem.read_exact(&mut buf).is_err() {
            continue; // [vvar] and the like
        }
        for (i, w) in buf.windows(needle.len()).enumerate() {
            if w == needle {
                n += 1;
                if std::env::var_os("VTID_TEST_SHOW").is_some() {
                    let ctx = &buf[i.saturating_sub(96)..(i + needle.len() + 32).min(buf.len())];
                    eprintln!(
                        "hit in {l} at +{i:#x}: {}",
                        ctx.iter()
                            .map(|&b| if (0x20..0x7f).contains(&b) {
                                b as char
                            } else {
                                '.'
                            })
                            .collect::<String>()
                    );
                }
            }
        }
    }
    n
}

#[test]
fn psks_are_not_left_in_freed_memory() {
    let ms = moon_sun("psk-memory");
    let psk: &'static str = Box::leak(unique_secret("file-psk").into_boxed_str());
    let sun_conf = Conn {
        psk,
        ..ms.sun_conf.clone()
    };
    let moon_conf = Conn {
        psk,
        start_action: "start",
        ..ms.moon_conf.clone()
    };
    let mut sun = Vtid::start(&ms.dir, "sun", &sun_conf.render(), &[], &[]);
    sun.wait_for(&["VICI control socket listening"], T);
    let mut moon = Vtid::start(&ms.dir, "moon", &moon_conf.render(), &[], &[]);
    moon.wait_for(&["dataplane(record): install"], T);
    sun.wait_for(&["dataplane(record): install"], T);

    // Reload the file twice, load a second secret over VICI.
    for _ in 0..2 {
        let before = sun.count(&["reloaded: "]);
        sun.signal("HUP");
        let deadline = std::time::Instant::now() + T;
        while sun.count(&["reloaded: "]) <= before {
            assert!(std::time::Instant::now() < deadline, "no reload");
            std::thread::sleep(Duration::from_millis(25));
        }
    }
    let vici_psk = unique_secret("vici-psk");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut c = vici::Client::connect(ms.dir.join("sun.vici"))
            .await
            .unwrap();
        let m = vici::Message::new()
            .with_value("id", "vici-secret")
            .with_value("type", "IKE")
            .with_value("data", vici_psk.as_bytes())
            .with_list("owners", vec!["carol.example.org".as_bytes().to_vec()]);
        let r = c.request("load-shared", &m).await.unwrap();
        assert_eq!(r.str("success"), Some("yes"), "{r:?}");
    });
    // Let the daemon settle (the request's buffers freed).
    std::thread::sleep(Duration::from_millis(300));

    let file = copies_in_memory(sun.pid(), psk);
    let vici = copies_in_memory(sun.pid(), &vici_psk);
    eprintln!("file PSK: {file} copies, VICI PSK: {vici} copies");
    // The loaded configuration and the engine's key: two live copies each.
    assert!(
        file <= 2,
        "the file's PSK is in {file} places in vtid's memory (2 live copies expected)"
    );
    assert!(
        vici <= 2,
        "the VICI-loaded PSK is in {vici} places in vtid's memory (2 live copies expected)"
    );
    // and the search works: the secrets the daemon uses are found
    assert!(
        file >= 1 && vici >= 1,
        "the search found nothing: {file} {vici}"
    );
    sun.signal("TERM");
    sun.wait_exit(T);
    moon.signal("TERM");
    moon.wait_exit(T);
}
