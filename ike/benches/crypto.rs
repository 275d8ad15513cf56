//! Single-threaded timings of key exchange and SK payload protection.
//! Run with `cargo bench -p ike --bench crypto`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use ike::crypto::{Encr, Integ, KeyExchange, SkCipher};
use ike::wire::DhGroup;
use rand_core::OsRng;

/// Runs `f` repeatedly for about `budget` (after one warm-up call) and
/// returns (operations per second, microseconds per operation).
fn measure(budget: Duration, mut f: impl FnMut()) -> (f64, f64) {
    f();
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        f();
        n += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    (n as f64 / secs, secs * 1e6 / n as f64)
}

fn row(name: &str, (ops, us): (f64, f64)) {
    println!("| {name:<50} | {ops:>12.1} | {us:>10.2} |");
}

fn main() {
    // `cargo bench` passes --bench; under `cargo test --all-targets` this
    // runs once briefly as a smoke test.
    let budget = if std::env::args().any(|a| a == "--bench") {
        Duration::from_millis(1500)
    } else {
        Duration::from_millis(5)
    };
    println!("| operation                                          |        ops/s |      µs/op |");
    println!("|----------------------------------------------------|-------------:|-----------:|");

    for (group, name) in [
        (DhGroup::MODP2048, "KE generate+agree, group 14 (MODP 2048)"),
        (DhGroup::MODP3072, "KE generate+agree, group 15 (MODP 3072)"),
        (DhGroup::MODP4096, "KE generate+agree, group 16 (MODP 4096)"),
        (DhGroup::ECP256, "KE generate+agree, group 19 (ECP 256)"),
        (DhGroup::ECP384, "KE generate+agree, group 20 (ECP 384)"),
        (DhGroup::ECP521, "KE generate+agree, group 21 (ECP 521)"),
        (
            DhGroup::CURVE25519,
            "KE generate+agree, group 31 (Curve25519)",
        ),
    ] {
        let peer = KeyExchange::generate(group, &mut OsRng).unwrap();
        let peer_pub = peer.public_value().to_vec();
        row(
            name,
            measure(budget, || {
                let k = KeyExchange::generate(group, &mut OsRng).unwrap();
                black_box(k.agree(black_box(&peer_pub)).unwrap());
            }),
        );
    }

    let pt = vec![0x5au8; 1500];
    let aad = [0u8; 32];
    for (encr, integ, name) in [
        (
            Encr::AesCbc { key_bits: 128 },
            Some(Integ::HmacSha2_256_128),
            "AES-CBC-128 + HMAC-SHA2-256-128",
        ),
        (
            Encr::AesCbc { key_bits: 256 },
            Some(Integ::HmacSha2_256_128),
            "AES-CBC-256 + HMAC-SHA2-256-128",
        ),
        (
            Encr::AesCbc { key_bits: 256 },
            Some(Integ::HmacSha2_512_256),
            "AES-CBC-256 + HMAC-SHA2-512-256",
        ),
        (Encr::AesGcm16 { key_bits: 128 }, None, "AES-GCM-16-128"),
        (Encr::AesGcm16 { key_bits: 256 }, None, "AES-GCM-16-256"),
        (Encr::ChaCha20Poly1305, None, "ChaCha20-Poly1305"),
    ] {
        let ek = vec![7u8; encr.key_len()];
        let ak = vec![9u8; integ.map_or(0, |i| i.key_len())];
        let c = SkCipher::new(encr, integ, &ek, &ak).unwrap();
        let body = c.seal(&aad, &pt, &mut OsRng).unwrap();
        row(
            &format!("SK seal 1500 B, {name}"),
            measure(budget, || {
                black_box(c.seal(black_box(&aad), black_box(&pt), &mut OsRng).unwrap());
            }),
        );
        row(
            &format!("SK open 1500 B, {name}"),
            measure(budget, || {
                black_box(c.open(black_box(&aad), black_box(&body)).unwrap());
            }),
        );
    }
}
