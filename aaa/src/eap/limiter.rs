//! Brute-force protection for EAP passwords: failed attempts counted per
//! identity, and an identity that failed too often is refused for a
//! while (RFC 2759 §10: the authenticator SHOULD limit retries; RFC 3748
//! §7.3 on dictionary attacks).
//!
//! Sans I/O: the caller passes the time. The table is bounded
//! ([`LimiterConfig::max_tracked`]): a client spraying made-up identities
//! evicts the oldest entries rather than growing memory, and an identity
//! is only locked by its own failures — another client's guesses never
//! lock a user out beyond the lock time of that identity.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// How failures are limited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimiterConfig {
    /// Failures allowed within `window` before the identity is locked.
    pub max_failures: u32,
    /// How far back failures count.
    pub window: Duration,
    /// How long a locked identity is refused (doubling with each lock
    /// that follows within `window`, up to `max_lock`).
    pub lock: Duration,
    /// The longest lock.
    pub max_lock: Duration,
    /// Identities tracked at once (the oldest entries go first).
    pub max_tracked: usize,
}

impl Default for LimiterConfig {
    fn default() -> Self {
        LimiterConfig {
            max_failures: 5,
            window: Duration::from_secs(300),
            lock: Duration::from_secs(60),
            max_lock: Duration::from_secs(3600),
            max_tracked: 65_536,
        }
    }
}

#[derive(Debug)]
struct Entry {
    failures: u32,
    first: Instant,
    locked_until: Option<Instant>,
    locks: u32,
    /// Key into `order`.
    touched: u64,
}

/// Failed EAP authentications per identity.
#[derive(Debug)]
pub struct FailureLimiter {
    cfg: LimiterConfig,
    entries: HashMap<Vec<u8>, Entry>,
    /// Entries by when they were last touched (for eviction).
    order: BTreeMap<u64, Vec<u8>>,
    seq: u64,
}

impl FailureLimiter {
    /// A limiter with `cfg`.
    pub fn new(cfg: LimiterConfig) -> FailureLimiter {
        FailureLimiter {
            cfg,
            entries: HashMap::new(),
            order: BTreeMap::new(),
            seq: 0,
        }
    }

    /// Whether `identity` may try now; `Err(until)` while it is locked.
    pub fn check(&self, identity: &[u8], now: Instant) -> Result<(), Instant> {
        match self.entries.get(identity).and_then(|e| e.locked_until) {
            Some(until) if now < until => Err(until),
            _ => Ok(()),
        }
    }

    /// Records a failed attempt; returns the time until which the
    /// identity is now locked, if this failure locked it.
    pub fn failed(&mut self, identity: &[u8], now: Instant) -> Option<Instant> {
        let seq = self.next_seq();
        let cfg = self.cfg;
        let e = match self.entries.get_mut(identity) {
            Some(e) => {
                self.order.remove(&e.touched);
                e
            }
            None => {
                self.evict();
                self.entries.entry(identity.to_vec()).or_insert(Entry {
                    failures: 0,
                    first: now,
                    locked_until: None,
                    locks: 0,
                    touched: seq,
                })
            }
        };
        e.touched = seq;
        self.order.insert(seq, identity.to_vec());
        if now.saturating_duration_since(e.first) > cfg.window {
            // Old failures no longer count; earlier locks are forgiven
            // once a whole window passed without one.
            let quiet = e
                .locked_until
                .is_none_or(|u| now.saturating_duration_since(u) > cfg.window);
            if quiet {
                e.locks = 0;
            }
            e.failures = 0;
            e.first = now;
        }
        e.failures = e.failures.saturating_add(1);
        if e.failures < cfg.max_failures {
            return None;
        }
        let factor = 1u32.checked_shl(e.locks.min(16)).unwrap_or(u32::MAX);
        let lock = cfg.lock.saturating_mul(factor).min(cfg.max_lock);
        let until = now.checked_add(lock).unwrap_or(now);
        e.locked_until = Some(until);
        e.locks = e.locks.saturating_add(1);
        e.failures = 0;
        e.first = now;
        Some(until)
    }

    /// A successful authentication clears the identity's failures.
    pub fn succeeded(&mut self, identity: &[u8]) {
        if let Some(e) = self.entries.remove(identity) {
            self.order.remove(&e.touched);
        }
    }

    /// Identities tracked.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none is tracked.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn next_seq(&mut self) -> u64 {
        let s = self.seq;
        self.seq = s.wrapping_add(1);
        s
    }

    fn evict(&mut self) {
        while self.entries.len() >= self.cfg.max_tracked.max(1) {
            let Some((_, id)) = self.order.pop_first() else {
                break;
            };
            self.entries.remove(&id);
        }
    }
}

impl Default for FailureLimiter {
    fn default() -> Self {
        FailureLimiter::new(LimiterConfig::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> LimiterConfig {
        LimiterConfig {
            max_failures: 3,
            window: Duration::from_secs(100),
            lock: Duration::from_secs(10),
            max_lock: Duration::from_secs(25),
            max_tracked: 4,
        }
    }

    #[test]
    fn locks_after_failures_and_doubles_up_to_max() {
        let t0 = Instant::now();
        let mut l = FailureLimiter::new(cfg());
        assert_eq!(l.failed(b"bob", t0), None);
        assert_eq!(l.failed(b"bob", t0), None);
        assert!(l.check(b"bob", t0).is_ok());
        let until = l.failed(b"bob", t0).unwrap();
        assert_eq!(until, t0 + Duration::from_secs(10));
        assert_eq!(l.check(b"bob", t0 + Duration::from_secs(9)), Err(until));
        assert!(l.check(b"bob", t0 + Duration::from_secs(10)).is_ok());
        // Others are not affected.
        assert!(l.check(b"alice", t0).is_ok());
        let t1 = t0 + Duration::from_secs(11);
        l.failed(b"bob", t1);
        l.failed(b"bob", t1);
        assert_eq!(l.failed(b"bob", t1), Some(t1 + Duration::from_secs(20)));
        let t2 = t1 + Duration::from_secs(21);
        l.failed(b"bob", t2);
        l.failed(b"bob", t2);
        // 40 s capped at 25.
        assert_eq!(l.failed(b"bob", t2), Some(t2 + Duration::from_secs(25)));
        // Success clears.
        l.succeeded(b"bob");
        assert!(l.check(b"bob", t2).is_ok());
        assert!(l.is_empty());
    }

    #[test]
    fn failures_expire_with_the_window() {
        let t0 = Instant::now();
        let mut l = FailureLimiter::new(cfg());
        l.failed(b"bob", t0);
        l.failed(b"bob", t0);
        let later = t0 + Duration::from_secs(101);
        assert_eq!(l.failed(b"bob", later), None);
    }

    #[test]
    fn table_is_bounded() {
        let t0 = Instant::now();
        let mut l = FailureLimiter::new(cfg());
        for i in 0..3u8 {
            l.failed(b"bob", t0);
            let _ = i;
        }
        assert!(l.check(b"bob", t0).is_err());
        for i in 0..1000u32 {
            l.failed(&i.to_be_bytes(), t0);
        }
        assert_eq!(l.len(), 4);
        // The sprayed identities pushed bob out: memory stays bounded,
        // which is the trade-off a bounded table makes.
        assert!(l.check(b"bob", t0).is_ok());
    }
}
