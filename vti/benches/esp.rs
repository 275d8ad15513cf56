//! Single-core throughput of ESP encapsulate/decapsulate per suite for a
//! 1400-byte inner IPv4 packet.
//!
//! `cargo bench -p vti --bench esp`
//!
//! Each iteration copies the packet into the work buffer first (as a TUN
//! read or a socket receive would), so the figures include one 1.4 kB
//! memcpy. Decapsulation runs with the replay window disabled so the same
//! sealed packet can be opened again and again; the window check itself is
//! a few instructions.

use std::hint::black_box;
use std::time::{Duration, Instant};

use vti::esp::{InboundSa, OutboundSa, SaKeys, SaOptions, Suite, HEADROOM, TAILROOM};

const INNER_LEN: usize = 1400;
/// How long each row runs: `cargo bench` passes --bench; under
/// `cargo test --all-targets` it is a brief smoke test.
fn run_time() -> Duration {
    if std::env::args().any(|a| a == "--bench") {
        Duration::from_millis(1500)
    } else {
        Duration::from_millis(5)
    }
}

fn inner_packet() -> Vec<u8> {
    let mut p = vec![0u8; INNER_LEN];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(INNER_LEN as u16).to_be_bytes());
    p[8] = 64;
    p[9] = 17;
    p[12..16].copy_from_slice(&[10, 0, 0, 1]);
    p[16..20].copy_from_slice(&[10, 0, 0, 2]);
    for (i, b) in p[20..].iter_mut().enumerate() {
        *b = i as u8;
    }
    p
}

fn measure(mut f: impl FnMut()) -> (u64, Duration) {
    // Warm up.
    for _ in 0..1000 {
        f();
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < run_time() {
        for _ in 0..256 {
            f();
        }
        n += 256;
    }
    (n, start.elapsed())
}

fn report(what: &str, suite: Suite, n: u64, d: Duration) {
    let ns = d.as_nanos() as f64 / n as f64;
    let mbit = (INNER_LEN as f64 * 8.0 * n as f64) / d.as_secs_f64() / 1e6;
    println!(
        "{:<20} {:<12} {:>9.0} ns/packet {:>9.0} Mbit/s",
        suite.name(),
        what,
        ns,
        mbit
    );
}

fn main() {
    let inner = inner_packet();
    let now = Instant::now();
    let opts = SaOptions {
        replay_window: 0,
        esn: true,
        ..SaOptions::default()
    };
    println!("ESP, {INNER_LEN}-byte inner packet, single core (Mbit/s of inner packets)");
    for suite in Suite::ALL {
        let enc: Vec<u8> = (0..suite.encryption_key_len()).map(|i| i as u8).collect();
        let integ: Vec<u8> = (0..suite.integrity_key_len())
            .map(|i| 0x80 ^ i as u8)
            .collect();
        let keys = SaKeys {
            encryption: &enc,
            integrity: &integ,
        };
        let mut out = OutboundSa::new(0x1000, suite, keys, &opts, now).unwrap();
        let mut inb = InboundSa::new(0x1000, suite, keys, &opts, now).unwrap();
        let mut buf = vec![0u8; HEADROOM + INNER_LEN + TAILROOM];

        let (n, d) = measure(|| {
            buf[HEADROOM..HEADROOM + INNER_LEN].copy_from_slice(&inner);
            let s = out
                .encapsulate(black_box(&mut buf), INNER_LEN, now)
                .unwrap();
            black_box(s.packet);
        });
        report("encapsulate", suite, n, d);

        buf[HEADROOM..HEADROOM + INNER_LEN].copy_from_slice(&inner);
        let sealed = out
            .encapsulate(&mut buf, INNER_LEN, now)
            .unwrap()
            .packet
            .to_vec();
        let mut rx = sealed.clone();
        let (n, d) = measure(|| {
            rx.copy_from_slice(&sealed);
            let o = inb.decapsulate(black_box(&mut rx), now).unwrap();
            black_box(o.packet());
        });
        report("decapsulate", suite, n, d);
    }
}
