//! Keeping the log readable under a flood.
//!
//! Unauthenticated peers choose how many IKE_SA_INIT requests vtid handles,
//! and the engine logs a line for many of them (a proposal list nobody
//! accepts, a KE of the wrong group or length). One line per datagram under
//! a flood of thousands per second fills disks and buries the lines that
//! matter; a peer could also forge lines that way. So the daemon logs the
//! handling of at most [`LOGGED_INITS_BURST`] IKE_SA_INIT requests at once
//! and [`LOGGED_INITS_PER_SEC`] per second after that; the others are
//! handled [`quietly`] (their log events, ERROR aside, are dropped by
//! [`QuietLayer`] and counted), and every [`SUMMARY_EVERY`] one warning
//! says how many requests came, how many were dropped on a full queue, how
//! many got a COOKIE and how many lines were suppressed.
//!
//! The same budget applies to other per-datagram warnings a flood can
//! cause (sending to spoofed, unreachable addresses): [`LogBudget`].

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::Layer;

/// IKE_SA_INIT requests whose handling is logged in a burst.
pub const LOGGED_INITS_BURST: u32 = 20;
/// IKE_SA_INIT requests whose handling is logged per second, sustained.
pub const LOGGED_INITS_PER_SEC: u32 = 5;
/// How often the flood summary is logged (when there is something to say).
pub const SUMMARY_EVERY: Duration = Duration::from_secs(10);

thread_local! {
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

/// Log events dropped by [`QuietLayer`] since start.
static SUPPRESSED: AtomicU64 = AtomicU64::new(0);

/// Runs `f` with this thread's log events below ERROR dropped (and
/// counted).
pub fn quietly<R>(f: impl FnOnce() -> R) -> R {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            QUIET.with(|q| q.set(self.0));
        }
    }
    let _reset = Reset(QUIET.with(|q| q.replace(true)));
    f()
}

/// Log events dropped by [`quietly`] since start.
pub fn suppressed() -> u64 {
    SUPPRESSED.load(Ordering::Relaxed)
}

/// A layer that disables every event but errors while this thread runs
/// [`quietly`].
#[derive(Debug, Default, Clone, Copy)]
pub struct QuietLayer;

impl<S: Subscriber> Layer<S> for QuietLayer {
    fn event_enabled(&self, event: &Event<'_>, _ctx: Context<'_, S>) -> bool {
        if *event.metadata().level() == Level::ERROR || !QUIET.with(Cell::get) {
            return true;
        }
        SUPPRESSED.fetch_add(1, Ordering::Relaxed);
        false
    }
}

/// A token bucket: `burst` at once, `per_sec` sustained.
#[derive(Debug, Clone)]
pub struct LogBudget {
    tokens: f64,
    burst: f64,
    per_sec: f64,
    last: Option<Instant>,
    /// Times [`LogBudget::take`] said no since the last
    /// [`LogBudget::take_denied`].
    denied: u64,
}

impl LogBudget {
    /// A full bucket.
    pub fn new(burst: u32, per_sec: u32) -> LogBudget {
        LogBudget {
            tokens: f64::from(burst),
            burst: f64::from(burst),
            per_sec: f64::from(per_sec),
            last: None,
            denied: 0,
        }
    }

    /// Whether one more line may be logged at `now`.
    pub fn take(&mut self, now: Instant) -> bool {
        if let Some(last) = self.last {
            let dt = now.saturating_duration_since(last).as_secs_f64();
            self.tokens = (self.tokens + dt * self.per_sec).min(self.burst);
        }
        self.last = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            self.denied = self.denied.saturating_add(1);
            false
        }
    }

    /// How many were denied since the last call (and reset).
    pub fn take_denied(&mut self) -> u64 {
        std::mem::take(&mut self.denied)
    }
}

/// What the daemon counts for the flood summary.
#[derive(Debug)]
pub struct FloodWatch {
    /// Budget for logging IKE_SA_INIT handling.
    pub inits: LogBudget,
    /// Budget for per-datagram send warnings.
    pub sends: LogBudget,
    /// IKE_SA_INIT requests handled since the last summary.
    pub handled: u64,
    /// Of those, handled quietly.
    pub quiet: u64,
    last: Snapshot,
}

/// Counters at the last summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// IKE_SA_INITs dropped on a full init lane.
    pub init_overflow: u64,
    /// Established-lane drops.
    pub overflow: u64,
    /// COOKIEs sent.
    pub cookies: u64,
    /// Log lines suppressed.
    pub suppressed: u64,
}

impl Default for FloodWatch {
    fn default() -> Self {
        FloodWatch {
            inits: LogBudget::new(LOGGED_INITS_BURST, LOGGED_INITS_PER_SEC),
            sends: LogBudget::new(LOGGED_INITS_BURST, LOGGED_INITS_PER_SEC),
            handled: 0,
            quiet: 0,
            last: Snapshot::default(),
        }
    }
}

impl FloodWatch {
    /// The summary line since the last call, if anything was shed or
    /// silenced (`now` holds the current counters).
    pub fn summary(&mut self, now: Snapshot) -> Option<String> {
        let d = |a: u64, b: u64| a.saturating_sub(b);
        let init_overflow = d(now.init_overflow, self.last.init_overflow);
        let overflow = d(now.overflow, self.last.overflow);
        let cookies = d(now.cookies, self.last.cookies);
        let suppressed = d(now.suppressed, self.last.suppressed);
        let sends = self.sends.take_denied();
        let (handled, quiet) = (self.handled, self.quiet);
        self.last = now;
        self.handled = 0;
        self.quiet = 0;
        if quiet == 0 && init_overflow == 0 && overflow == 0 && sends == 0 {
            return None;
        }
        Some(format!(
            "IKE_SA_INIT flood? in the last {}s: {handled} IKE_SA_INIT request(s) handled ({quiet} \
             without logging, {suppressed} log line(s) suppressed), {init_overflow} dropped on a \
             full queue, {cookies} answered with a COOKIE; {sends} send warning(s) suppressed; \
             {overflow} message(s) of established IKE_SAs dropped on a full queue",
            SUMMARY_EVERY.as_secs()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::prelude::*;

    #[test]
    fn budget_bursts_then_refills() {
        let t0 = Instant::now();
        let mut b = LogBudget::new(3, 2);
        assert!((0..3).all(|_| b.take(t0)));
        assert!(!b.take(t0));
        assert!(!b.take(t0 + Duration::from_millis(100)));
        // 2 per second: half a second later one more.
        assert!(b.take(t0 + Duration::from_millis(600)));
        assert!(!b.take(t0 + Duration::from_millis(600)));
        assert_eq!(b.take_denied(), 3);
        assert_eq!(b.take_denied(), 0);
        // Never more than the burst, however long the pause.
        let later = t0 + Duration::from_secs(3600);
        assert_eq!((0..10).filter(|_| b.take(later)).count(), 3);
    }

    #[test]
    fn quiet_drops_all_but_errors_on_this_thread_only() {
        #[derive(Clone, Default)]
        struct Count(std::sync::Arc<std::sync::Mutex<Vec<Level>>>);
        impl<S: Subscriber> Layer<S> for Count {
            fn on_event(&self, e: &Event<'_>, _: Context<'_, S>) {
                self.0.lock().unwrap().push(*e.metadata().level());
            }
        }
        let seen = Count::default();
        let sub = tracing_subscriber::registry()
            .with(QuietLayer)
            .with(seen.clone());
        tracing::subscriber::with_default(sub, || {
            let before = suppressed();
            tracing::warn!("loud");
            quietly(|| {
                tracing::warn!("quiet warn");
                tracing::info!("quiet info");
                tracing::error!("an error always passes");
            });
            tracing::info!("loud again");
            assert_eq!(suppressed() - before, 2);
        });
        assert_eq!(
            *seen.0.lock().unwrap(),
            [Level::WARN, Level::ERROR, Level::INFO]
        );
    }

    #[test]
    fn summary_only_when_something_was_shed() {
        let mut w = FloodWatch::default();
        assert_eq!(w.summary(Snapshot::default()), None);
        w.handled = 500;
        w.quiet = 480;
        let s = w
            .summary(Snapshot {
                init_overflow: 1000,
                overflow: 0,
                cookies: 450,
                suppressed: 960,
            })
            .unwrap();
        assert!(s.contains("500 IKE_SA_INIT request(s) handled (480 without logging, 960"));
        assert!(s.contains("1000 dropped on a full queue, 450 answered with a COOKIE"));
        // Deltas: the same counters again say nothing.
        assert_eq!(
            w.summary(Snapshot {
                init_overflow: 1000,
                overflow: 0,
                cookies: 450,
                suppressed: 960,
            }),
            None
        );
    }
}
