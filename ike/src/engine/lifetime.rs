//! When SAs are rekeyed and when they expire: whatever `rekey_time`,
//! `life_time`, `rand_time` and `over_time` say (equal values, a random
//! part as long as the rekey time, a life shorter than the rekey time),
//! the rekey starts early enough before the hard expiry for the exchange
//! to complete.
//!
//! The configured values arrive with strongSwan's derivations applied by
//! the configuration (swanctl/vici `check_lifetimes`: `life_time` defaults
//! to `rekey_time` × 1.1, `rand_time` to `life_time − rekey_time`); the
//! rekey is then drawn as strongSwan's `apply_jitter` does
//! (`rekey − random(0..=min(rand, rekey))`), except that here:
//! - the random part is at most half the rekey time, so an SA is never
//!   rekeyed the moment it is installed (a rekey loop);
//! - the rekey starts at least [`margin`] before the hard expiry, so a
//!   `rekey_time` equal to or longer than `life_time` still rekeys first.

use std::time::{Duration, Instant};

/// Retries of a failed rekey, as strongSwan's `RETRY_INTERVAL`
/// (15 s) minus up to `RETRY_JITTER` (10 s).
pub(crate) const RETRY_INTERVAL: Duration = Duration::from_secs(15);
pub(crate) const RETRY_JITTER: Duration = Duration::from_secs(10);

/// How long before the hard expiry of an SA living `life` the rekey must
/// start: a twentieth of the lifetime, at least 5 s (a lost message and
/// its retransmission), but never more than half the lifetime. A
/// twentieth leaves strongSwan's defaults as configured: `life_time` =
/// `rekey_time` × 1.1 (and an IKE SA's `over_time` of a tenth) already
/// rekey about a eleventh of the lifetime before the expiry.
pub(crate) fn margin(life: Duration) -> Duration {
    (life / 20).max(Duration::from_secs(5)).min(life / 2)
}

/// The rekey time to use: `rekey`, or the latest start before a hard
/// expiry `life` allows, whichever is first. Zero `rekey` is no rekey.
pub(crate) fn effective_rekey(rekey: Duration, life: Duration) -> Duration {
    if rekey.is_zero() || life.is_zero() {
        return rekey;
    }
    rekey.min(life - margin(life))
}

/// When an SA installed `now` is to be rekeyed and when it expires.
/// `jitter(max)` draws a random duration in `0..=max`.
pub(crate) fn schedule(
    now: Instant,
    rekey: Duration,
    life: Duration,
    rand: Duration,
    jitter: impl FnOnce(Duration) -> Duration,
) -> (Option<Instant>, Option<Instant>) {
    let expire_at = (!life.is_zero()).then(|| now + life);
    let rekey = effective_rekey(rekey, life);
    let rekey_at = (!rekey.is_zero()).then(|| {
        let j = jitter(rand.min(rekey / 2)).min(rekey / 2);
        now + (rekey - j)
    });
    (rekey_at, expire_at)
}

/// When an IKE SA established `now` is rekeyed, reauthenticated, and
/// when it expires: `max(rekey, reauth) + over` after (strongSwan's
/// `over_time`), each of the first two at least [`margin`] before that.
pub(crate) fn ike_schedule(
    now: Instant,
    rekey: Duration,
    reauth: Duration,
    over: Duration,
    rand: Duration,
    mut jitter: impl FnMut(Duration) -> Duration,
) -> (Option<Instant>, Option<Instant>, Option<Instant>) {
    let longest = rekey.max(reauth);
    let life = if longest.is_zero() {
        Duration::ZERO
    } else {
        longest.saturating_add(over)
    };
    let (rekey_at, expire_at) = schedule(now, rekey, life, rand, &mut jitter);
    let (reauth_at, _) = schedule(now, reauth, life, rand, &mut jitter);
    (rekey_at, reauth_at, expire_at)
}

/// When to try a failed rekey again: after `retry` (strongSwan's retry
/// interval with its jitter), but early enough before `expire_at` that
/// the exchange completes, and never in the past.
pub(crate) fn retry_at(
    now: Instant,
    retry: Duration,
    expire_at: Option<Instant>,
    installed_at: Instant,
) -> Instant {
    let wanted = now + retry;
    match expire_at {
        Some(exp) => {
            let life = exp.saturating_duration_since(installed_at);
            let latest = exp.checked_sub(margin(life) / 2).unwrap_or(now);
            wanted.min(latest).max(now)
        }
        None => wanted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    /// Issue 11 §4: rekey_time 8s without life_time gives life 8 s (× 1.1
    /// rounds down in strongSwan), and the SA expired before its rekey.
    #[test]
    fn equal_rekey_and_life_rekey_first() {
        let now = Instant::now();
        let (r, e) = schedule(now, s(8), s(8), s(0), |_| Duration::ZERO);
        assert!(r.unwrap() < e.unwrap(), "{r:?} {e:?}");
        assert_eq!(r.unwrap() - now, s(4));
    }

    #[test]
    fn every_triple_rekeys_before_expiry_and_not_at_once() {
        let now = Instant::now();
        let values = [0u64, 1, 2, 3, 5, 8, 9, 10, 30, 60, 100, 3600, 3960, 86400];
        for rekey in values {
            for life in values {
                for rand in values {
                    for pick in [0.0f64, 0.5, 1.0] {
                        let (r, e) =
                            schedule(now, s(rekey), s(life), s(rand), |max| max.mul_f64(pick));
                        if rekey == 0 {
                            assert!(r.is_none());
                            continue;
                        }
                        let r = r.unwrap();
                        assert!(r > now, "{rekey} {life} {rand}");
                        assert!(r - now >= effective_rekey(s(rekey), s(life)) / 2);
                        if let Some(e) = e {
                            assert!(
                                e - r >= margin(s(life)),
                                "{rekey} {life} {rand}: rekey {:?} expiry {:?}",
                                r - now,
                                e - now
                            );
                        }
                    }
                }
            }
        }
    }

    /// `over_time = 0` made the IKE SA expire exactly when its rekey (with
    /// no random part) was due, and the expiry was handled first.
    #[test]
    fn ike_sas_rekey_and_reauth_before_they_expire() {
        let now = Instant::now();
        for (rekey, reauth, over, rand) in [
            (60, 0, 0, 0),
            (60, 60, 0, 0),
            (0, 60, 0, 30),
            (3600, 7200, 360, 7200),
        ] {
            let (r, a, e) = ike_schedule(now, s(rekey), s(reauth), s(over), s(rand), |m| m);
            let e = e.unwrap();
            for t in [r, a].into_iter().flatten() {
                assert!(t < e && t > now, "{rekey} {reauth} {over} {rand}");
            }
            assert_eq!(r.is_some(), rekey > 0);
            assert_eq!(a.is_some(), reauth > 0);
        }
        assert_eq!(
            ike_schedule(now, s(0), s(0), s(10), s(0), |m| m),
            (None, None, None)
        );
    }

    /// strongSwan's defaults (life = rekey × 1.1, IKE over_time = rekey /
    /// 10) rekey when configured, not earlier.
    #[test]
    fn default_derivations_rekey_as_configured() {
        let now = Instant::now();
        for rekey in [60u64, 3600, 14400, 86400] {
            let life = s(rekey).mul_f64(1.1);
            let (r, _) = schedule(now, s(rekey), life, s(0), |_| Duration::ZERO);
            assert_eq!(r.unwrap() - now, s(rekey));
            let (r, _, _) = ike_schedule(now, s(rekey), s(0), s(rekey / 10), s(0), |m| m.min(s(0)));
            assert_eq!(r.unwrap() - now, s(rekey));
        }
    }

    #[test]
    fn retries_stay_before_the_expiry() {
        let now = Instant::now();
        let exp = now + s(8);
        let at = retry_at(now + s(4), s(15), Some(exp), now);
        assert!(at < exp && at >= now + s(4), "{:?}", at - now);
        assert_eq!(retry_at(now, s(15), None, now), now + s(15));
        // Past the last moment: now.
        assert_eq!(retry_at(now + s(9), s(15), Some(exp), now), now + s(9));
    }
}
