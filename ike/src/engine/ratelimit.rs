//! Rate-limited logging for what unauthenticated peers trigger: a flood of
//! bogus IKE_SA_INIT requests must not become a flood of log lines (one per
//! datagram, each with the whole offered proposal list).

use std::time::{Duration, Instant};

/// Lines allowed per [`WINDOW`].
pub(crate) const BURST: u32 = 10;
/// The window [`BURST`] applies to.
pub(crate) const WINDOW: Duration = Duration::from_secs(10);

/// Lets [`BURST`] lines through per [`WINDOW`], counting the rest; the
/// next line let through says how many were suppressed.
#[derive(Debug, Default)]
pub(crate) struct LogLimiter {
    window: Option<Instant>,
    emitted: u32,
    suppressed: u64,
    total_suppressed: u64,
}

impl LogLimiter {
    /// `Some(n)` when a line may be logged now; `n` lines were suppressed
    /// since the last one logged. `None`: suppress this one.
    pub(crate) fn allow(&mut self, now: Instant) -> Option<u64> {
        match self.window {
            Some(start) if now.saturating_duration_since(start) < WINDOW => {}
            _ => {
                self.window = Some(now);
                self.emitted = 0;
            }
        }
        if self.emitted < BURST {
            self.emitted += 1;
            Some(std::mem::take(&mut self.suppressed))
        } else {
            self.suppressed += 1;
            self.total_suppressed += 1;
            None
        }
    }

    /// Lines suppressed since the start.
    pub(crate) fn total_suppressed(&self) -> u64 {
        self.total_suppressed
    }
}

/// The suffix for a log line after `n` suppressed ones.
pub(crate) fn suppressed_note(n: u64) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(" ({n} similar messages suppressed)")
    }
}

/// A list for a log line made of at most `max` items and `max_chars`
/// characters, saying how many were left out: what a peer sends (its
/// proposals, its selectors) can be as long as it likes.
pub(crate) fn bounded_list<I>(items: I, max: usize, max_chars: usize) -> String
where
    I: IntoIterator,
    I::Item: std::fmt::Display,
{
    let mut out = String::new();
    let mut left = 0usize;
    for (i, it) in items.into_iter().enumerate() {
        if i >= max || out.len() >= max_chars {
            left += 1;
            continue;
        }
        if i > 0 {
            out.push_str(", ");
        }
        let s = it.to_string();
        let room = max_chars.saturating_sub(out.len());
        if s.len() > room {
            let mut cut = room;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            out.push_str(&s[..cut]);
            out.push('…');
        } else {
            out.push_str(&s);
        }
    }
    if left > 0 {
        out.push_str(&format!(" (and {left} more)"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_silence_then_a_count() {
        let mut l = LogLimiter::default();
        let t = Instant::now();
        let allowed = (0..1000).filter(|_| l.allow(t).is_some()).count();
        assert_eq!(allowed, BURST as usize);
        assert_eq!(l.allow(t + WINDOW), Some(1000 - u64::from(BURST)));
        assert_eq!(l.total_suppressed(), 1000 - u64::from(BURST));
    }

    #[test]
    fn lists_are_bounded() {
        let v: Vec<String> = (0..100).map(|i| format!("P{i}")).collect();
        assert_eq!(bounded_list(&v, 3, 100), "P0, P1, P2 (and 97 more)");
        let long = vec!["x".repeat(500)];
        let s = bounded_list(&long, 3, 20);
        assert!(s.chars().count() <= 21, "{s}");
        assert_eq!(bounded_list(Vec::<String>::new(), 3, 20), "");
    }
}
