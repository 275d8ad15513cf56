//! Property tests: no input makes the data plane panic, and the replay
//! window agrees with a simple reference model.

mod common;

use std::collections::HashSet;
use std::time::Instant;

use proptest::prelude::*;
use vti::esp::selector::Flow;
use vti::esp::udp::classify;
use vti::esp::{ReplayVerdict, ReplayWindow, SaOptions, Suite};

fn suite_strategy() -> impl Strategy<Value = Suite> {
    (0..Suite::ALL.len()).prop_map(|i| Suite::ALL[i])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Arbitrary bytes never panic decapsulate (nor the helpers).
    #[test]
    fn decapsulate_arbitrary_bytes(suite in suite_strategy(), esn in any::<bool>(),
                                   window in prop_oneof![Just(0u32), Just(32), Just(4096)],
                                   bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let now = Instant::now();
        let opts = SaOptions { esn, replay_window: window, ..SaOptions::default() };
        let (_, mut inb) = common::pair(suite, 0x1000, &opts, now);
        let mut b = bytes.clone();
        prop_assert!(inb.decapsulate(&mut b, now).is_err());
        let _ = classify(&bytes);
        let _ = Flow::parse(&bytes);
        let _ = vti::esp::spi_of(&bytes);
    }

    /// Valid packets with random corruption: never a panic, and never
    /// accepted unless the corruption left the packet intact.
    #[test]
    fn decapsulate_corrupted_packets(suite in suite_strategy(), esn in any::<bool>(),
                                     data_len in 0usize..300,
                                     flips in proptest::collection::vec((any::<usize>(), 1u8..), 1..4),
                                     cut in proptest::option::of(any::<usize>())) {
        let now = Instant::now();
        let opts = SaOptions { esn, ..SaOptions::default() };
        let (mut out, mut inb) = common::pair(suite, 0x1000, &opts, now);
        let inner = common::icmp4_echo([10, 0, 0, 1], [10, 0, 0, 2], 1, data_len);
        let pkt = common::seal(&mut out, &inner, now);
        let mut bad = pkt.clone();
        for (at, x) in &flips {
            let i = at % bad.len();
            bad[i] ^= x;
        }
        if let Some(c) = cut {
            bad.truncate(c % (bad.len() + 1));
        }
        let changed = bad != pkt;
        let r = inb.decapsulate(&mut bad, now);
        prop_assert_eq!(r.is_ok(), !changed);
    }

    /// The bitmap window agrees with a HashSet + highest-seen model.
    #[test]
    fn replay_window_matches_model(size in prop_oneof![Just(0u32), Just(1), Just(32), Just(64), Just(100), Just(1024), Just(4096)],
                                   seqs in proptest::collection::vec(
                                       prop_oneof![0u64..200, 0u64..10_000, any::<u64>()], 1..400)) {
        let mut w = ReplayWindow::new(size);
        let mut seen = HashSet::new();
        let mut highest = 0u64;
        for s in seqs {
            let model = if size == 0 {
                Ok(())
            } else if s == 0 || (s <= highest && highest - s >= u64::from(size)) {
                Err(ReplayVerdict::TooOld)
            } else if seen.contains(&s) {
                Err(ReplayVerdict::Replayed)
            } else {
                Ok(())
            };
            let got = w.check_and_update(s);
            prop_assert_eq!(got, model, "seq {} highest {}", s, highest);
            if model.is_ok() {
                seen.insert(s);
                highest = highest.max(s);
            }
            prop_assert_eq!(w.highest(), highest);
        }
    }

    /// Sealing then opening is the identity for any inner packet size.
    #[test]
    fn round_trip_any_size(suite in suite_strategy(), esn in any::<bool>(), data_len in 0usize..2000, v6 in any::<bool>()) {
        let now = Instant::now();
        let opts = SaOptions { esn, ..SaOptions::default() };
        let (mut out, mut inb) = common::pair(suite, 0x1000, &opts, now);
        let inner = if v6 { common::udp6(data_len) } else { common::icmp4_echo([1, 2, 3, 4], [5, 6, 7, 8], 9, data_len) };
        let mut pkt = common::seal(&mut out, &inner, now);
        prop_assert_eq!(pkt.len(), vti::esp::overhead::esp_len(suite, inner.len()));
        let opened = inb.decapsulate(&mut pkt, now).unwrap();
        prop_assert_eq!(opened.packet().unwrap(), &inner[..]);
    }
}
