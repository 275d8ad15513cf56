//! Anti-replay window (RFC 4303 §3.4.3) and ESN high-bit inference
//! (RFC 4303 Appendix A2).
//!
//! The bitmap is a ring of 64-bit words indexed by sequence number, with
//! one spare word so that advancing the window clears whole words (the
//! layout of RFC 6479). It is allocated once per SA; checking and updating
//! never allocate.
#![forbid(unsafe_code)]

/// Largest supported window (bits).
pub const MAX_REPLAY_WINDOW: u32 = 1 << 16;

/// Default window size, as in strongSwan and Linux.
pub const DEFAULT_REPLAY_WINDOW: u32 = 32;

/// Why the window refused a sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayVerdict {
    /// Seen before, inside the window.
    Replayed,
    /// Left of the window: too old to tell, so refused (RFC 4303 §3.4.3).
    TooOld,
}

/// A sliding anti-replay window over (64-bit) sequence numbers.
#[derive(Clone)]
pub struct ReplayWindow {
    size: u32,
    top: u64,
    bits: Vec<u64>,
}

impl std::fmt::Debug for ReplayWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayWindow")
            .field("size", &self.size)
            .field("highest", &self.top)
            .finish()
    }
}

impl ReplayWindow {
    /// A window of `size` packets (0 disables replay checking, but the
    /// highest sequence number is still tracked for ESN inference). `size`
    /// is clamped to [`MAX_REPLAY_WINDOW`].
    pub fn new(size: u32) -> ReplayWindow {
        let size = size.min(MAX_REPLAY_WINDOW);
        let words = if size == 0 {
            0
        } else {
            (size.div_ceil(64) as usize + 1).next_power_of_two()
        };
        ReplayWindow {
            size,
            top: 0,
            bits: vec![0; words],
        }
    }

    /// Window size in packets (0 = disabled).
    pub fn size(&self) -> u32 {
        self.size
    }

    /// Highest authenticated sequence number so far (0 before the first).
    pub fn highest(&self) -> u64 {
        self.top
    }

    /// Reconstruct a full 64-bit ESN from the transmitted low 32 bits
    /// (RFC 4303 Appendix A2.2).
    pub fn infer_esn(&self, seq_lo: u32) -> u64 {
        infer_esn(self.top, self.size, seq_lo)
    }

    fn slot(&self, seq: u64) -> (usize, u64) {
        let mask = self.bits.len() - 1;
        (((seq >> 6) as usize) & mask, 1u64 << (seq & 63))
    }

    /// Would `seq` be accepted? Does not change the window: call this before
    /// the ICV check and [`update`](Self::update) after it.
    pub fn check(&self, seq: u64) -> Result<(), ReplayVerdict> {
        if self.size == 0 {
            return Ok(());
        }
        if seq == 0 {
            // Sequence number 0 is never sent (the first packet is 1).
            return Err(ReplayVerdict::TooOld);
        }
        if seq > self.top {
            return Ok(());
        }
        if self.top - seq >= u64::from(self.size) {
            return Err(ReplayVerdict::TooOld);
        }
        let (w, b) = self.slot(seq);
        if self.bits[w] & b != 0 {
            Err(ReplayVerdict::Replayed)
        } else {
            Ok(())
        }
    }

    /// Record `seq` as received (after its ICV verified), sliding the window
    /// if it is the new highest.
    pub fn update(&mut self, seq: u64) {
        if self.size == 0 {
            self.top = self.top.max(seq);
            return;
        }
        if seq > self.top {
            let old_w = self.top >> 6;
            let new_w = seq >> 6;
            let diff = new_w - old_w;
            let mask = self.bits.len() - 1;
            if diff >= self.bits.len() as u64 {
                self.bits.fill(0);
            } else {
                for i in 1..=diff {
                    self.bits[((old_w + i) as usize) & mask] = 0;
                }
            }
            self.top = seq;
        } else if self.top - seq >= u64::from(self.size) {
            return;
        }
        let (w, b) = self.slot(seq);
        self.bits[w] |= b;
    }

    /// Check and, if acceptable, record `seq` in one go (for callers that
    /// have already authenticated the packet, and for tests).
    pub fn check_and_update(&mut self, seq: u64) -> Result<(), ReplayVerdict> {
        self.check(seq)?;
        self.update(seq);
        Ok(())
    }

    /// Restart the window at `highest`, treating every sequence number up to
    /// and including it as already received (e.g. after an HA failover
    /// synchronised the counter).
    pub fn resume(&mut self, highest: u64) {
        self.top = highest;
        if self.bits.is_empty() {
            return;
        }
        self.bits.fill(u64::MAX);
        // Bits above `highest` in its own word stand for the future: clear.
        let (w, _) = self.slot(highest);
        let bit = highest & 63;
        self.bits[w] = if bit == 63 {
            u64::MAX
        } else {
            (1u64 << (bit + 1)) - 1
        };
    }
}

/// RFC 4303 Appendix A2.2: infer the high 32 bits of a 64-bit sequence
/// number from the transmitted low 32 bits `seq_lo`, the highest number
/// authenticated so far `top` and the window size `window`.
///
/// With the window inside one 2^32 "subspace" (Tl >= W - 1), a `seq_lo`
/// below the window's bottom means the sender has moved into the next
/// subspace; with the window straddling a boundary (Tl < W - 1), a `seq_lo`
/// at or above the bottom belongs to the previous subspace. A disabled
/// window (0) infers as if it were 2^31 wide, i.e. picks the candidate
/// nearest to `top`. Inference that would leave the 64-bit space keeps the
/// current subspace (the ICV check then decides).
pub fn infer_esn(top: u64, window: u32, seq_lo: u32) -> u64 {
    let w = if window == 0 { 1u32 << 31 } else { window };
    let th = (top >> 32) as u32;
    let tl = top as u32;
    let bottom = tl.wrapping_sub(w - 1);
    let hi = if tl >= w - 1 {
        if seq_lo >= bottom {
            th
        } else {
            th.checked_add(1).unwrap_or(th)
        }
    } else if seq_lo >= bottom {
        th.checked_sub(1).unwrap_or(th)
    } else {
        th
    };
    (u64::from(hi) << 32) | u64::from(seq_lo)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_window_32() {
        let mut w = ReplayWindow::new(32);
        assert_eq!(w.check(0), Err(ReplayVerdict::TooOld));
        assert_eq!(w.check_and_update(1), Ok(()));
        assert_eq!(w.check_and_update(1), Err(ReplayVerdict::Replayed));
        assert_eq!(w.check_and_update(5), Ok(()));
        assert_eq!(w.check_and_update(3), Ok(()), "out of order in window");
        assert_eq!(w.check_and_update(3), Err(ReplayVerdict::Replayed));
        assert_eq!(w.check_and_update(100), Ok(()));
        assert_eq!(w.check(68), Err(ReplayVerdict::TooOld));
        assert_eq!(w.check(69 + 1), Ok(()));
        assert_eq!(w.check_and_update(100 - 31), Ok(()));
        assert_eq!(w.highest(), 100);
    }

    #[test]
    fn window_sizes() {
        for size in [32u32, 64, 1024, 4096] {
            let mut w = ReplayWindow::new(size);
            let top = 10_000u64;
            w.check_and_update(top).unwrap();
            let oldest = top - u64::from(size) + 1;
            assert_eq!(w.check_and_update(oldest), Ok(()), "size {size}");
            assert_eq!(
                w.check(oldest - 1),
                Err(ReplayVerdict::TooOld),
                "size {size}"
            );
            assert_eq!(w.check_and_update(oldest), Err(ReplayVerdict::Replayed));
            // Every slot in the window accepted once.
            for s in oldest + 1..top {
                assert_eq!(w.check_and_update(s), Ok(()), "size {size} seq {s}");
            }
            for s in oldest..=top {
                assert_eq!(
                    w.check(s),
                    Err(ReplayVerdict::Replayed),
                    "size {size} seq {s}"
                );
            }
            // Sliding by exactly one keeps everything but the oldest.
            w.check_and_update(top + 1).unwrap();
            assert_eq!(w.check(oldest), Err(ReplayVerdict::TooOld));
            assert_eq!(w.check(oldest + 1), Err(ReplayVerdict::Replayed));
            // A huge jump clears everything.
            w.check_and_update(top + 1_000_000).unwrap();
            assert_eq!(w.check(top + 1_000_000 - 1), Ok(()));
        }
    }

    #[test]
    fn disabled_window_accepts_all() {
        let mut w = ReplayWindow::new(0);
        for s in [5u64, 5, 1, 0, 5] {
            assert_eq!(w.check_and_update(s), Ok(()));
        }
        assert_eq!(w.highest(), 5);
    }

    #[test]
    fn resume_marks_everything_seen() {
        let mut w = ReplayWindow::new(64);
        w.resume(1000);
        assert_eq!(w.check(1000), Err(ReplayVerdict::Replayed));
        assert_eq!(w.check(990), Err(ReplayVerdict::Replayed));
        assert_eq!(w.check(1001), Ok(()));
        w.check_and_update(1010).unwrap();
        assert_eq!(w.check(1005), Ok(()), "cleared when the window slid");
        assert_eq!(w.check(1000), Err(ReplayVerdict::Replayed));
    }

    /// RFC 4303 Appendix A2 cases.
    #[test]
    fn esn_inference() {
        const HI: u64 = 7 << 32;
        // Case A: window within one subspace (Tl >= W - 1).
        let top = HI | 1000;
        assert_eq!(infer_esn(top, 32, 1000), HI | 1000);
        assert_eq!(infer_esn(top, 32, 969), HI | 969, "bottom of window");
        assert_eq!(infer_esn(top, 32, 2000), HI | 2000, "ahead, same subspace");
        assert_eq!(
            infer_esn(top, 32, 968),
            (8 << 32) | 968,
            "below window: next subspace"
        );
        // Case A near the top of a subspace: 0x00000005 after 0xFFFFFFF0 is
        // the next subspace.
        let top = HI | 0xFFFF_FFF0;
        assert_eq!(infer_esn(top, 32, 5), (8 << 32) | 5);
        assert_eq!(infer_esn(top, 32, 0xFFFF_FFE0), HI | 0xFFFF_FFE0);
        // Case B: window straddles the boundary (Tl < W - 1).
        let top = (8 << 32) | 3;
        assert_eq!(
            infer_esn(top, 32, 0xFFFF_FFF0),
            HI | 0xFFFF_FFF0,
            "previous subspace"
        );
        assert_eq!(infer_esn(top, 32, 2), (8 << 32) | 2);
        assert_eq!(infer_esn(top, 32, 100), (8 << 32) | 100, "ahead");
        // Case B at the very start: nothing before 0.
        assert_eq!(infer_esn(0, 32, 0xFFFF_FFFF), 0xFFFF_FFFF);
        assert_eq!(infer_esn(0, 32, 1), 1);
        // Big windows.
        let top = HI | 10;
        assert_eq!(infer_esn(top, 4096, 0xFFFF_F010), (6 << 32) | 0xFFFF_F010);
        assert_eq!(
            infer_esn(top, 4096, 0xFFFF_F000),
            HI | 0xFFFF_F000,
            "below the bottom"
        );
        // Disabled window: nearest candidate.
        assert_eq!(infer_esn(HI | 0xFFFF_FFF0, 0, 3), (8 << 32) | 3);
        assert_eq!(infer_esn((8 << 32) | 3, 0, 0xFFFF_FFF0), HI | 0xFFFF_FFF0);
        // Cannot leave the 64-bit space.
        assert_eq!(infer_esn(u64::MAX - 5, 32, 3), !0xFFFF_FFFF_u64 | 3);
    }

    #[test]
    fn esn_window_across_boundary() {
        let mut w = ReplayWindow::new(64);
        let base = (1u64 << 32) - 10;
        for s in base..base + 20 {
            let lo = s as u32;
            let full = w.infer_esn(lo);
            assert_eq!(full, s);
            w.check_and_update(full).unwrap();
        }
        // A late packet from before the boundary still maps below it.
        assert_eq!(w.infer_esn((base + 1) as u32), base + 1);
        assert_eq!(w.check(base + 1), Err(ReplayVerdict::Replayed));
    }
}
