//! What a responder does with an IKE_SA_INIT request before it spends
//! anything on it (RFC 7296 §2.6, strongSwan's `receiver.c`): demand a
//! COOKIE under pressure, refuse beyond the half-open and IKE SA limits.
//!
//! Pressure is measured two ways, and either one turns cookies on:
//! - half-open responder IKE SAs (`cookie_threshold`, as strongSwan);
//! - the *rate* of IKE_SA_INIT requests without a valid cookie, whether
//!   they created state or failed (a bad KE payload, no proposal): more
//!   than `cookie_threshold` of them within [`RATE_WINDOW`]. Failed requests
//!   create no SA, so counting SAs alone never sees a flood of them.
//!
//! Once on, cookies stay on until the pressure has been below the
//! threshold for [`COOKIE_CALMDOWN`] (strongSwan's `COOKIE_CALMDOWN_DELAY`):
//! an initiator whose retransmissions were answered once with and once
//! without a COOKIE could not tell which response its AUTH must cover.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::engine::config::EngineConfig;
use crate::engine::natd::CookieJar;

/// The window over which IKE_SA_INIT requests are counted.
pub(crate) const RATE_WINDOW: Duration = Duration::from_secs(1);
/// How long cookies stay required after the pressure ended.
pub(crate) const COOKIE_CALMDOWN: Duration = Duration::from_secs(10);
/// How long one cookie secret is used (two are accepted, RFC 7296 §2.6).
pub(crate) const COOKIE_SECRET_LIFETIME: Duration = Duration::from_secs(120);

/// What to do with an IKE_SA_INIT request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Go on: look up a connection and answer.
    Admit,
    /// Answer with a COOKIE notify and keep no state.
    SendCookie,
    /// Drop silently: the limit named was reached.
    Drop(Limit),
}

/// Which limit refused an IKE_SA_INIT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Limit {
    /// `block_threshold`: half-open IKE SAs from one address.
    PerPeer,
    /// `init_limit_half_open`: half-open IKE SAs in total.
    HalfOpen,
    /// `ikesa_limit`: IKE SAs in total.
    IkeSas,
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Limit::PerPeer => "per-peer half-open IKE_SA limit (block_threshold)",
            Limit::HalfOpen => "half-open IKE_SA limit (init_limit_half_open)",
            Limit::IkeSas => "IKE_SA limit (ikesa_limit)",
        })
    }
}

/// What the checks look at in an IKE_SA_INIT request.
#[derive(Clone, Copy, Debug)]
pub(crate) struct InitRequest<'a> {
    /// Who sent it.
    pub remote: SocketAddr,
    /// The initiator's SPI.
    pub spi_i: [u8; 8],
    /// Its nonce (empty if it had none).
    pub ni: &'a [u8],
    /// The COOKIE notify's data, if it starts with one (§2.6).
    pub cookie: Option<&'a [u8]>,
}

/// Half-open responder IKE SAs, indexed for the checks above and for
/// retransmitted IKE_SA_INIT requests.
#[derive(Debug, Default)]
pub(crate) struct HalfOpen {
    /// By (initiator SPI, peer address): the retransmission lookup.
    by_init: HashMap<([u8; 8], SocketAddr), u64>,
    /// The key each SA was entered with (its address may change later).
    by_sa: HashMap<u64, ([u8; 8], SocketAddr)>,
    /// Count per peer address.
    per_ip: HashMap<IpAddr, usize>,
}

impl HalfOpen {
    pub(crate) fn insert(&mut self, spi_i: [u8; 8], remote: SocketAddr, sa: u64) {
        if self.by_sa.contains_key(&sa) {
            return;
        }
        if let Some(old) = self.by_init.insert((spi_i, remote), sa) {
            self.by_sa.remove(&old);
            self.dec(remote.ip());
        }
        self.by_sa.insert(sa, (spi_i, remote));
        *self.per_ip.entry(remote.ip()).or_default() += 1;
    }

    /// The SA is no longer half-open (established or gone).
    pub(crate) fn remove(&mut self, sa: u64) {
        if let Some(key) = self.by_sa.remove(&sa) {
            self.by_init.remove(&key);
            self.dec(key.1.ip());
        }
    }

    fn dec(&mut self, ip: IpAddr) {
        if let Some(n) = self.per_ip.get_mut(&ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_ip.remove(&ip);
            }
        }
    }

    pub(crate) fn lookup(&self, spi_i: [u8; 8], remote: SocketAddr) -> Option<u64> {
        self.by_init.get(&(spi_i, remote)).copied()
    }

    pub(crate) fn count(&self) -> usize {
        self.by_sa.len()
    }

    pub(crate) fn count_ip(&self, ip: IpAddr) -> usize {
        self.per_ip.get(&ip).copied().unwrap_or(0)
    }
}

/// The responder's IKE_SA_INIT admission: cookies and limits.
pub(crate) struct InitGuard {
    cookies: CookieJar,
    /// When the current cookie secret is to be replaced (set at first use).
    rotate_at: Option<Instant>,
    /// Requests counted in the current rate window, and when it started.
    window: Option<(Instant, usize)>,
    /// Cookies stay required until then.
    cookies_until: Option<Instant>,
    pub(crate) half_open: HalfOpen,
}

impl std::fmt::Debug for InitGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InitGuard")
            .field("half_open", &self.half_open.count())
            .field("cookies_until", &self.cookies_until)
            .finish_non_exhaustive()
    }
}

impl InitGuard {
    pub(crate) fn new(secret: &[u8; 32]) -> Self {
        InitGuard {
            cookies: CookieJar::new(secret),
            rotate_at: None,
            window: None,
            cookies_until: None,
            half_open: HalfOpen::default(),
        }
    }

    /// Counts one IKE_SA_INIT request without a valid cookie and says
    /// whether cookies are required now. `threshold` 0 disables cookies.
    fn cookies_required(&mut self, now: Instant, threshold: usize) -> bool {
        if threshold == 0 {
            return false;
        }
        let in_window = match &mut self.window {
            Some((start, n)) if now.saturating_duration_since(*start) < RATE_WINDOW => {
                *n += 1;
                *n
            }
            w => {
                *w = Some((now, 1));
                1
            }
        };
        // strict ">": `threshold` requests per window pass; the next one
        // finds the rate exceeded.
        if self.half_open.count() >= threshold || in_window > threshold {
            self.cookies_until = Some(now + COOKIE_CALMDOWN);
        }
        self.cookies_until.is_some_and(|t| now < t)
    }

    /// The verdict on an IKE_SA_INIT request; `ike_sas` is the number of
    /// IKE SAs the endpoint holds.
    pub(crate) fn check(
        &mut self,
        cfg: &EngineConfig,
        now: Instant,
        req: &InitRequest<'_>,
        ike_sas: usize,
    ) -> Verdict {
        let remote = req.remote;
        let valid_cookie = req
            .cookie
            .is_some_and(|c| self.cookies.check(c, req.ni, remote.ip(), &req.spi_i));
        if !valid_cookie && self.cookies_required(now, cfg.cookie_threshold) {
            return Verdict::SendCookie;
        }
        // Beyond this point the address is either proven by a cookie or
        // the pressure is low.
        if cfg.block_threshold > 0 && self.half_open.count_ip(remote.ip()) >= cfg.block_threshold {
            return Verdict::Drop(Limit::PerPeer);
        }
        if cfg.init_limit_half_open > 0 && self.half_open.count() >= cfg.init_limit_half_open {
            return Verdict::Drop(Limit::HalfOpen);
        }
        if cfg.ikesa_limit > 0 && ike_sas >= cfg.ikesa_limit {
            return Verdict::Drop(Limit::IkeSas);
        }
        Verdict::Admit
    }

    /// A cookie for a request (RFC 7296 §2.6); the secret is rotated
    /// [`COOKIE_SECRET_LIFETIME`] after its first use.
    pub(crate) fn make_cookie(&mut self, now: Instant, req: &InitRequest<'_>) -> Vec<u8> {
        if self.rotate_at.is_none() {
            self.rotate_at = Some(now + COOKIE_SECRET_LIFETIME);
        }
        self.cookies.make(req.ni, req.remote.ip(), &req.spi_i)
    }

    /// When the cookie secret is due for rotation.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.rotate_at
    }

    /// Rotates the cookie secret if due.
    pub(crate) fn handle_timeout(&mut self, now: Instant, fresh: impl FnOnce() -> [u8; 32]) {
        if self.rotate_at.is_some_and(|t| t <= now) {
            self.cookies.rotate(&fresh());
            self.rotate_at = Some(now + COOKIE_SECRET_LIFETIME);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(i: u8) -> SocketAddr {
        SocketAddr::from(([198, 51, 100, i], 500))
    }

    fn req(from: u8, spi: u8, cookie: Option<&[u8]>) -> InitRequest<'_> {
        InitRequest {
            remote: addr(from),
            spi_i: [spi; 8],
            ni: b"nonce",
            cookie,
        }
    }

    #[test]
    fn rate_turns_cookies_on_and_they_calm_down() {
        let cfg = EngineConfig {
            cookie_threshold: 3,
            ..Default::default()
        };
        let mut g = InitGuard::new(&[1; 32]);
        let t0 = Instant::now();
        let v: Vec<Verdict> = (0..5)
            .map(|i| g.check(&cfg, t0, &req(i, i, None), 0))
            .collect();
        assert_eq!(
            v,
            [
                Verdict::Admit,
                Verdict::Admit,
                Verdict::Admit,
                Verdict::SendCookie,
                Verdict::SendCookie
            ]
        );
        // A valid cookie passes.
        let c = g.make_cookie(t0, &req(9, 9, None));
        assert_eq!(g.check(&cfg, t0, &req(9, 9, Some(&c)), 0), Verdict::Admit);
        // One for another address does not.
        assert_eq!(
            g.check(&cfg, t0, &req(8, 9, Some(&c)), 0),
            Verdict::SendCookie
        );
        // Quiet for less than the calm-down: still cookies.
        let t1 = t0 + COOKIE_CALMDOWN - Duration::from_millis(1);
        assert_eq!(g.check(&cfg, t1, &req(1, 1, None), 0), Verdict::SendCookie);
        // That request counted, but the pressure is below the threshold:
        // cookies end once the calm-down is over.
        let t2 = t0 + COOKIE_CALMDOWN + Duration::from_millis(1);
        assert_eq!(g.check(&cfg, t2, &req(1, 1, None), 0), Verdict::Admit);
    }

    #[test]
    fn limits_refuse_in_order() {
        let cfg = EngineConfig {
            cookie_threshold: 0,
            block_threshold: 2,
            init_limit_half_open: 3,
            ikesa_limit: 10,
            ..Default::default()
        };
        let mut g = InitGuard::new(&[1; 32]);
        let now = Instant::now();
        g.half_open.insert([1; 8], addr(1), 1);
        g.half_open.insert([2; 8], addr(1), 2);
        assert_eq!(
            g.check(&cfg, now, &req(1, 3, None), 2),
            Verdict::Drop(Limit::PerPeer)
        );
        assert_eq!(g.check(&cfg, now, &req(2, 3, None), 2), Verdict::Admit);
        g.half_open.insert([3; 8], addr(2), 3);
        assert_eq!(
            g.check(&cfg, now, &req(3, 3, None), 3),
            Verdict::Drop(Limit::HalfOpen)
        );
        g.half_open.remove(1);
        assert_eq!(g.half_open.count_ip(addr(1).ip()), 1);
        assert_eq!(
            g.check(&cfg, now, &req(3, 3, None), 10),
            Verdict::Drop(Limit::IkeSas)
        );
        assert_eq!(g.check(&cfg, now, &req(3, 3, None), 9), Verdict::Admit);
        // Removing twice or an unknown SA changes nothing.
        g.half_open.remove(1);
        g.half_open.remove(77);
        assert_eq!(g.half_open.count(), 2);
        assert_eq!(g.half_open.lookup([2; 8], addr(1)), Some(2));
    }
}
