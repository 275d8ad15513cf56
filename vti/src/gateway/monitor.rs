//! The gateway monitor's state machine: probes, loss, latency, hold-down.
//!
//! No sockets and no clock (STYLE.md §1): the driver asks
//! [`Monitor::poll_probe`] whether an echo request is due, reports replies
//! with [`Monitor::on_reply`], wakes at [`Monitor::poll_timeout`] and calls
//! [`Monitor::handle_timeout`], and drains state changes with
//! [`Monitor::poll_transition`]. Tests drive it on a virtual clock.
//!
//! # The rule (pfSense's dpinger, adapted)
//!
//! Every probe ends as *answered* (with its RTT) or *lost* (no reply within
//! [`MonitorSettings::loss_timeout`], or the send failed). The last
//! [`MonitorSettings::window`] outcomes give the displayed loss and RTT
//! average/standard deviation, like dpinger's averaging period.
//!
//! The *raw verdict*, recomputed at every outcome:
//! - While up (or pending): **down** when [`MonitorSettings::down_after_lost`]
//!   probes in a row were lost (a dead tunnel), or when the loss over the
//!   probes since the gateway last came up (at most `window` of them, at
//!   least [`MonitorSettings::min_samples`]) reaches
//!   [`MonitorSettings::loss_down_percent`] (a lossy tunnel), or when their
//!   average RTT reaches [`MonitorSettings::latency_down`].
//! - While down: **up** when [`MonitorSettings::up_after_answered`] probes
//!   in a row were answered with an average RTT under `latency_down`. The
//!   outage's losses still in the window do not hold the gateway down (with
//!   dpinger they do until they age out of its 60 s period).
//!
//! A raw verdict that differs from the state must persist for
//! [`MonitorSettings::hold_down`] before the state changes; a contrary
//! verdict in between cancels it. So an SA that disappears for a moment (a
//! break-before-make reauthentication) does not withdraw routes. The very
//! first verdict (from [`GatewayState::Pending`]) is taken at once.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

/// A gateway's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GatewayState {
    /// Monitoring started and no verdict yet.
    Pending,
    /// The monitor address answers.
    Up,
    /// It does not (or too badly).
    Down,
    /// Monitoring is off: the gateway counts as up (pfSense shows such a
    /// gateway as online).
    Unmonitored,
}

impl GatewayState {
    /// Whether routes through the gateway should be in place.
    pub fn is_up(self) -> bool {
        matches!(self, GatewayState::Up | GatewayState::Unmonitored)
    }

    /// Lower-case name, as `vtictl gateways` prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            GatewayState::Pending => "pending",
            GatewayState::Up => "up",
            GatewayState::Down => "down",
            GatewayState::Unmonitored => "unmonitored",
        }
    }
}

impl fmt::Display for GatewayState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Thresholds and timers of a monitor. [`MonitorSettings::new`] gives the
/// defaults for a probe interval; each field says why it has its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MonitorSettings {
    /// Time between echo requests (the interface's `monitor_interval`).
    pub interval: Duration,
    /// A probe without reply after this long is lost; a later reply is
    /// ignored. Default 2 s (dpinger's default loss interval), but never
    /// more than 4 intervals so few probes are outstanding at once.
    pub loss_timeout: Duration,
    /// Probes in the statistics window: those of the last 60 s (dpinger's
    /// default averaging period), at least 10 and at most 120. A long
    /// window keeps a short outage (a few lost probes in a row) from
    /// reaching the loss threshold once the tunnel answers again.
    pub window: usize,
    /// Lost probes in a row that make a gateway down. Default 3: one lost
    /// probe is noise, three are an outage.
    pub down_after_lost: u32,
    /// Loss (percent, over the probes since the gateway came up, at most
    /// `window`) that makes a gateway down. Default 20 (pfSense's default
    /// high packet-loss threshold).
    pub loss_down_percent: u8,
    /// Probes needed since the gateway came up before the loss percentage
    /// counts. Default 5 (one loss in two probes is not "50 % loss").
    pub min_samples: usize,
    /// Average RTT that makes a gateway down. Default 500 ms (pfSense's
    /// default high latency threshold).
    pub latency_down: Duration,
    /// Answered probes in a row that bring a down gateway up. Default 2.
    pub up_after_answered: u32,
    /// How long a new verdict must persist before the state changes.
    /// Default 5 s: longer than a break-before-make reauthentication leaves
    /// a tunnel without SAs (a few round trips).
    pub hold_down: Duration,
}

impl MonitorSettings {
    /// The defaults for probes every `interval` (a zero interval becomes
    /// 100 ms).
    pub fn new(interval: Duration) -> MonitorSettings {
        let interval = interval.max(Duration::from_millis(100));
        MonitorSettings {
            interval,
            loss_timeout: Duration::from_secs(2).min(interval * 4),
            window: (60_000 / interval.as_millis().max(1)).clamp(10, 120) as usize,
            down_after_lost: 3,
            loss_down_percent: 20,
            min_samples: 5,
            latency_down: Duration::from_millis(500),
            up_after_answered: 2,
            hold_down: Duration::from_secs(5),
        }
    }
}

/// How one probe ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Answered(Duration),
    Lost,
}

/// Why a gateway is down: it decides how it comes back up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DownCause {
    /// Probes lost in a row: the tunnel was dead, its losses say nothing
    /// about it once replies come back.
    Dead,
    /// Scattered loss over the threshold: the window must show less.
    Lossy,
    /// Slow replies: the recent replies must be fast enough.
    Slow,
}

/// Whether sequence number `a` was sent after `b` (serial arithmetic).
fn seq_after(a: u16, b: u16) -> bool {
    (a.wrapping_sub(b) as i16) > 0
}

/// Loss and latency over the statistics window.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Stats {
    /// Lost probes over finished probes in the window, in percent (0 when
    /// none finished yet).
    pub loss_percent: f64,
    /// Average RTT of the answered probes in the window.
    pub rtt_avg: Option<Duration>,
    /// Their (population) standard deviation.
    pub rtt_stddev: Option<Duration>,
    /// Finished probes in the window.
    pub samples: usize,
    /// Echo requests sent (or attempted) since the start.
    pub sent: u64,
    /// Replies accepted since the start.
    pub received: u64,
}

/// A committed state change.
#[derive(Clone, Debug, PartialEq)]
pub struct Transition {
    /// The state before.
    pub from: GatewayState,
    /// The state now.
    pub to: GatewayState,
    /// When it was committed.
    pub at: Instant,
    /// Why, e.g. "100% loss (3 lost in a row)" or "0% loss, rtt 1.2 ms".
    pub reason: String,
    /// The statistics at that moment.
    pub stats: Stats,
}

/// The monitor of one gateway (see the module documentation).
#[derive(Debug)]
pub struct Monitor {
    settings: MonitorSettings,
    state: GatewayState,
    next_probe: Instant,
    next_seq: u16,
    /// Sent and not yet finished, oldest first.
    outstanding: VecDeque<(u16, Instant)>,
    /// Finished probes, oldest first, at most `window`.
    window: VecDeque<Outcome>,
    /// Finished probes since the gateway last came up (capped at `window`).
    since_up: usize,
    /// Lost probes in a row, by sequence number: a loss found after a
    /// newer probe was answered (its timeout is longer than an RTT) does
    /// not break the newer run of replies, and the other way round.
    lost_in_row: u32,
    /// RTTs of the current run of answered probes (capped).
    answered_run: Vec<Duration>,
    newest_lost: Option<u16>,
    newest_answered: Option<u16>,
    /// A verdict waiting out the hold-down: (state, since).
    pending: Option<(GatewayState, Instant, String, DownCause)>,
    down_cause: DownCause,
    transitions: VecDeque<Transition>,
    sent: u64,
    received: u64,
}

impl Monitor {
    /// A monitor whose first probe is due at `now`.
    pub fn new(settings: MonitorSettings, now: Instant) -> Monitor {
        Monitor {
            window: VecDeque::with_capacity(settings.window),
            settings,
            state: GatewayState::Pending,
            next_probe: now,
            next_seq: 1,
            outstanding: VecDeque::new(),
            since_up: 0,
            lost_in_row: 0,
            answered_run: Vec::new(),
            newest_lost: None,
            newest_answered: None,
            pending: None,
            down_cause: DownCause::Dead,
            transitions: VecDeque::new(),
            sent: 0,
            received: 0,
        }
    }

    /// The settings.
    pub fn settings(&self) -> &MonitorSettings {
        &self.settings
    }

    /// The committed state.
    pub fn state(&self) -> GatewayState {
        self.state
    }

    /// A verdict waiting out the hold-down, and since when.
    pub fn pending_change(&self) -> Option<(GatewayState, Instant)> {
        self.pending.as_ref().map(|(s, t, _, _)| (*s, *t))
    }

    /// If a probe is due at `now`, its sequence number; the caller sends an
    /// echo request with it now (and reports a failed send with
    /// [`Monitor::on_send_failed`]). Call until `None`.
    #[must_use]
    pub fn poll_probe(&mut self, now: Instant) -> Option<u16> {
        if now < self.next_probe {
            return None;
        }
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        self.outstanding.push_back((seq, now));
        self.sent += 1;
        self.next_probe += self.settings.interval;
        if self.next_probe <= now {
            // Far behind (a stalled task): do not burst, resume from now.
            self.next_probe = now + self.settings.interval;
        }
        Some(seq)
    }

    /// The echo request `seq` could not be sent: it counts as lost.
    pub fn on_send_failed(&mut self, now: Instant, seq: u16) {
        if let Some(i) = self.outstanding.iter().position(|&(s, _)| s == seq) {
            self.outstanding.remove(i);
            self.finish(now, seq, Outcome::Lost);
        }
    }

    /// An echo reply with `seq` arrived at `now`. Unknown, duplicate and
    /// late (already lost) replies are ignored.
    pub fn on_reply(&mut self, now: Instant, seq: u16) {
        let Some(i) = self.outstanding.iter().position(|&(s, _)| s == seq) else {
            return;
        };
        let (_, sent_at) = self.outstanding.remove(i).expect("index found above");
        let rtt = now.saturating_duration_since(sent_at);
        if rtt > self.settings.loss_timeout {
            self.finish(now, seq, Outcome::Lost);
            return;
        }
        self.received += 1;
        self.finish(now, seq, Outcome::Answered(rtt));
    }

    /// Expires lost probes and commits a verdict whose hold-down is over.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&(seq, sent_at)) = self.outstanding.front() {
            if now.saturating_duration_since(sent_at) < self.settings.loss_timeout {
                break;
            }
            self.outstanding.pop_front();
            self.finish(now, seq, Outcome::Lost);
        }
        self.commit_if_held(now);
    }

    /// When [`Monitor::handle_timeout`] or [`Monitor::poll_probe`] next has
    /// something to do.
    #[must_use]
    pub fn poll_timeout(&self) -> Instant {
        let mut t = self.next_probe;
        if let Some(&(_, sent_at)) = self.outstanding.front() {
            t = t.min(sent_at + self.settings.loss_timeout);
        }
        if let Some((_, since, _, _)) = &self.pending {
            t = t.min(*since + self.settings.hold_down);
        }
        t
    }

    /// The next committed state change, oldest first.
    #[must_use]
    pub fn poll_transition(&mut self) -> Option<Transition> {
        self.transitions.pop_front()
    }

    /// Loss and latency over the window.
    pub fn stats(&self) -> Stats {
        let samples = self.window.len();
        let rtts: Vec<Duration> = self
            .window
            .iter()
            .filter_map(|o| match o {
                Outcome::Answered(d) => Some(*d),
                Outcome::Lost => None,
            })
            .collect();
        let lost = samples - rtts.len();
        let (rtt_avg, rtt_stddev) = mean_stddev(&rtts);
        Stats {
            loss_percent: percent(lost, samples),
            rtt_avg,
            rtt_stddev,
            samples,
            sent: self.sent,
            received: self.received,
        }
    }

    fn finish(&mut self, now: Instant, seq: u16, outcome: Outcome) {
        if self.window.len() == self.settings.window.max(1) {
            self.window.pop_front();
        }
        self.window.push_back(outcome);
        self.since_up = (self.since_up + 1).min(self.settings.window.max(1));
        match outcome {
            Outcome::Answered(rtt) => {
                if self.newest_lost.is_none_or(|l| seq_after(seq, l)) {
                    self.lost_in_row = 0;
                    if self.answered_run.len() < 64 {
                        self.answered_run.push(rtt);
                    }
                }
                if self.newest_answered.is_none_or(|a| seq_after(seq, a)) {
                    self.newest_answered = Some(seq);
                }
            }
            Outcome::Lost => {
                if self.newest_answered.is_none_or(|a| seq_after(seq, a)) {
                    self.lost_in_row = self.lost_in_row.saturating_add(1);
                    self.answered_run.clear();
                }
                if self.newest_lost.is_none_or(|l| seq_after(seq, l)) {
                    self.newest_lost = Some(seq);
                }
            }
        }
        if self.state == GatewayState::Down && self.lost_in_row >= self.settings.down_after_lost {
            // Dead now, whatever took it down.
            self.down_cause = DownCause::Dead;
        }
        self.evaluate(now);
    }

    /// The raw verdict and its reason; `None` when there is nothing to say
    /// yet (pending, no outcome decides).
    fn verdict(&self) -> Option<(GatewayState, String, DownCause)> {
        let s = &self.settings;
        let stats = self.stats();
        let fmt_ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1e3);
        let keep = self.down_cause;
        if self.state == GatewayState::Down {
            let run = self.answered_run.len();
            let lossy = self.down_cause == DownCause::Lossy
                && stats.loss_percent >= f64::from(s.loss_down_percent);
            if run >= s.up_after_answered.max(1) as usize && !lossy {
                let (avg, _) = mean_stddev(&self.answered_run);
                let avg = avg.unwrap_or_default();
                if avg < s.latency_down {
                    return Some((
                        GatewayState::Up,
                        format!(
                            "{run} replies in a row, {:.0}% loss, rtt {}",
                            stats.loss_percent,
                            fmt_ms(avg)
                        ),
                        keep,
                    ));
                }
            }
            return Some((GatewayState::Down, String::new(), keep));
        }
        // Up or pending.
        if self.lost_in_row >= s.down_after_lost.max(1) {
            return Some((
                GatewayState::Down,
                format!(
                    "{:.0}% loss ({} lost in a row)",
                    stats.loss_percent, self.lost_in_row
                ),
                DownCause::Dead,
            ));
        }
        let recent: Vec<Outcome> = self
            .window
            .iter()
            .rev()
            .take(self.since_up)
            .copied()
            .collect();
        let recent_rtts: Vec<Duration> = recent
            .iter()
            .filter_map(|o| match o {
                Outcome::Answered(d) => Some(*d),
                Outcome::Lost => None,
            })
            .collect();
        let lost = recent.len() - recent_rtts.len();
        let loss = percent(lost, recent.len());
        if recent.len() >= s.min_samples.max(1) && loss >= f64::from(s.loss_down_percent) {
            return Some((
                GatewayState::Down,
                format!("{loss:.0}% loss ({lost} of the last {})", recent.len()),
                DownCause::Lossy,
            ));
        }
        if let (Some(avg), _) = mean_stddev(&recent_rtts) {
            if avg >= s.latency_down {
                return Some((
                    GatewayState::Down,
                    format!("high latency, rtt {}", fmt_ms(avg)),
                    DownCause::Slow,
                ));
            }
        }
        if self.state == GatewayState::Pending && self.answered_run.is_empty() {
            return None;
        }
        let rtt = stats.rtt_avg.map(fmt_ms).unwrap_or_else(|| "-".into());
        Some((
            GatewayState::Up,
            format!("{:.0}% loss, rtt {rtt}", stats.loss_percent),
            keep,
        ))
    }

    fn evaluate(&mut self, now: Instant) {
        let Some((raw, reason, cause)) = self.verdict() else {
            return;
        };
        if raw == self.state {
            self.pending = None;
            return;
        }
        if self.state == GatewayState::Pending {
            self.commit(now, raw, reason, cause);
            return;
        }
        match &mut self.pending {
            Some((target, _, r, c)) if *target == raw => {
                *r = reason;
                *c = cause;
            }
            _ => self.pending = Some((raw, now, reason, cause)),
        }
        self.commit_if_held(now);
    }

    fn commit_if_held(&mut self, now: Instant) {
        let Some((target, since, _, _)) = &self.pending else {
            return;
        };
        if now.saturating_duration_since(*since) < self.settings.hold_down {
            return;
        }
        let target = *target;
        let (_, _, reason, cause) = self.pending.take().expect("checked above");
        self.commit(now, target, reason, cause);
    }

    fn commit(&mut self, now: Instant, to: GatewayState, reason: String, cause: DownCause) {
        let from = self.state;
        self.state = to;
        self.pending = None;
        if to == GatewayState::Down {
            self.down_cause = cause;
        }
        if to == GatewayState::Up {
            // Loss is judged afresh from here: the outage's losses still in
            // the window must not take the gateway straight down again.
            self.since_up = 0;
        }
        self.transitions.push_back(Transition {
            from,
            to,
            at: now,
            reason,
            stats: self.stats(),
        });
    }
}

fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

fn mean_stddev(v: &[Duration]) -> (Option<Duration>, Option<Duration>) {
    if v.is_empty() {
        return (None, None);
    }
    let n = v.len() as f64;
    let xs: Vec<f64> = v.iter().map(Duration::as_secs_f64).collect();
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    (
        Some(Duration::from_secs_f64(mean)),
        Some(Duration::from_secs_f64(var.max(0.0).sqrt())),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// Drives a monitor on a virtual clock: `answer(seq, sent_at)` says
    /// after how long the echo request `seq` is answered (None: lost).
    struct Sim {
        mon: Monitor,
        now: Instant,
        start: Instant,
        replies: Vec<(Instant, u16)>,
        log: Vec<(Duration, GatewayState, String)>,
        wakeups: u64,
    }

    impl Sim {
        fn new(settings: MonitorSettings) -> Sim {
            let now = Instant::now();
            Sim {
                mon: Monitor::new(settings, now),
                now,
                start: now,
                replies: Vec::new(),
                log: Vec::new(),
                wakeups: 0,
            }
        }

        fn elapsed(&self) -> Duration {
            self.now - self.start
        }

        /// Runs until `until` (since the start).
        fn run(
            &mut self,
            until: Duration,
            mut answer: impl FnMut(u16, Duration) -> Option<Duration>,
        ) {
            let end = self.start + until;
            loop {
                while let Some(seq) = self.mon.poll_probe(self.now) {
                    if let Some(rtt) = answer(seq, self.elapsed()) {
                        self.replies.push((self.now + rtt, seq));
                    }
                }
                self.mon.handle_timeout(self.now);
                while let Some(t) = self.mon.poll_transition() {
                    self.log.push((t.at - self.start, t.to, t.reason));
                }
                let mut next = self.mon.poll_timeout();
                if let Some(&(t, _)) = self.replies.iter().min_by_key(|r| r.0) {
                    next = next.min(t);
                }
                assert!(
                    next > self.now
                        || self.mon.poll_timeout() > self.now
                        || next == self.now && !self.replies.is_empty(),
                    "the monitor asks to be woken in the past (it would spin)"
                );
                if next > end {
                    self.now = end;
                    return;
                }
                self.now = next.max(self.now);
                self.wakeups += 1;
                let due: Vec<u16> = self
                    .replies
                    .iter()
                    .filter(|r| r.0 <= self.now)
                    .map(|r| r.1)
                    .collect();
                self.replies.retain(|r| r.0 > self.now);
                for seq in due {
                    self.mon.on_reply(self.now, seq);
                }
                while let Some(t) = self.mon.poll_transition() {
                    self.log.push((t.at - self.start, t.to, t.reason));
                }
            }
        }

        fn states(&self) -> Vec<GatewayState> {
            self.log.iter().map(|l| l.1).collect()
        }
    }

    fn settings_1s() -> MonitorSettings {
        let s = MonitorSettings::new(Duration::from_secs(1));
        assert_eq!(s.loss_timeout, Duration::from_secs(2));
        assert_eq!(s.window, 60);
        assert_eq!(s.hold_down, Duration::from_secs(5));
        s
    }

    #[test]
    fn defaults_follow_the_interval() {
        let s = MonitorSettings::new(Duration::from_secs(10));
        assert_eq!(s.window, 10, "at least 10 probes");
        assert_eq!(s.loss_timeout, Duration::from_secs(2));
        let s = MonitorSettings::new(Duration::from_millis(200));
        assert_eq!(s.window, 120, "at most 120 probes");
        assert_eq!(
            s.loss_timeout,
            Duration::from_millis(800),
            "at most 4 intervals"
        );
        let s = MonitorSettings::new(Duration::ZERO);
        assert_eq!(s.interval, Duration::from_millis(100));
    }

    #[test]
    fn first_reply_makes_it_up_at_once() {
        let mut sim = Sim::new(settings_1s());
        assert_eq!(sim.mon.state(), GatewayState::Pending);
        sim.run(Duration::from_millis(500), |_, _| Some(3 * MS));
        assert_eq!(sim.log.len(), 1);
        assert_eq!(sim.log[0].0, 3 * MS, "no hold-down from pending");
        assert_eq!(sim.log[0].1, GatewayState::Up);
        assert_eq!(sim.log[0].2, "0% loss, rtt 3.0 ms");
    }

    #[test]
    fn dead_from_the_start_is_down_after_three_losses() {
        let mut sim = Sim::new(settings_1s());
        sim.run(Duration::from_secs(10), |_, _| None);
        // Probes at 0, 1, 2 s are lost at 2, 3, 4 s.
        assert_eq!(sim.states(), [GatewayState::Down]);
        assert_eq!(sim.log[0].0, Duration::from_secs(4));
        assert_eq!(sim.log[0].2, "100% loss (3 lost in a row)");
    }

    #[test]
    fn outage_goes_down_after_the_hold_down_and_comes_back() {
        let mut sim = Sim::new(settings_1s());
        // Answered for 20 s, nothing from 20 s to 40 s, answered again.
        let outage = Duration::from_secs(20)..Duration::from_secs(40);
        sim.run(Duration::from_secs(70), |_, at| {
            (!outage.contains(&at)).then_some(10 * MS)
        });
        assert_eq!(
            sim.states(),
            [GatewayState::Up, GatewayState::Down, GatewayState::Up]
        );
        // Probes sent at 20, 21, 22 s are lost at 22, 23, 24 s: the raw
        // verdict turns at 24 s and holds until 29 s.
        assert_eq!(sim.log[1].0, Duration::from_secs(29));
        assert!(sim.log[1].2.contains("lost in a row"), "{:?}", sim.log[1]);
        // The probes at 40 and 41 s are answered at 40.01 and 41.01 s: up
        // after the hold-down, at 46.01 s, though the window still holds
        // 20 losses in 60 probes.
        assert_eq!(sim.log[2].0, Duration::from_millis(46_010));
        assert!(
            sim.log[2]
                .2
                .ends_with("replies in a row, 43% loss, rtt 10.0 ms"),
            "{:?}",
            sim.log[2]
        );
        let st = sim.mon.stats();
        assert!(st.loss_percent > 20.0, "{st:?}");
        assert_eq!(sim.mon.state(), GatewayState::Up);
    }

    #[test]
    fn a_reauthentication_gap_does_not_flap() {
        let mut sim = Sim::new(settings_1s());
        // The SA is gone for 3.5 s: probes at 20..=23 s are lost (4 in a
        // row, the raw verdict turns down), answered again from 24 s, well
        // inside the 5 s hold-down.
        let gap = Duration::from_secs(20)..Duration::from_millis(23_500);
        sim.run(Duration::from_secs(60), |_, at| {
            (!gap.contains(&at)).then_some(5 * MS)
        });
        assert_eq!(sim.states(), [GatewayState::Up], "{:?}", sim.log);
        assert_eq!(sim.mon.pending_change(), None);
    }

    #[test]
    fn recovery_is_cancelled_by_a_loss_during_the_hold_down() {
        let mut s = settings_1s();
        s.hold_down = Duration::from_secs(3);
        let mut sim = Sim::new(s);
        // Down from the start; answers at 10 and 11 s (raw up at 11 s),
        // lost at 12 s (lost at 14 s, before 14.005 s? no: raw down again
        // when the probe of 12 s is lost at 14 s < 11.005 + 3 s).
        sim.run(Duration::from_secs(30), |seq, at| {
            let _ = seq;
            let s = at.as_secs();
            (s == 10 || s == 11 || s >= 20).then_some(5 * MS)
        });
        assert_eq!(sim.states(), [GatewayState::Down, GatewayState::Up]);
        // Up only after the second run: answered at 20.005 and 21.005 s,
        // held 3 s.
        assert_eq!(sim.log[1].0, Duration::from_millis(24_005));
    }

    #[test]
    fn steady_loss_over_the_threshold_is_down() {
        let mut sim = Sim::new(settings_1s());
        // Every fourth probe lost (25% >= 20%), never 3 in a row.
        sim.run(Duration::from_secs(60), |seq, _| {
            (seq % 4 != 0).then_some(5 * MS)
        });
        assert_eq!(sim.states(), [GatewayState::Up, GatewayState::Down]);
        let (_, _, reason) = &sim.log[1];
        assert!(reason.contains("% loss ("), "{reason}");
        // Down for loss, it comes back when the window shows less than 20%
        // (hysteresis like dpinger's), not after two replies in a row.
        sim.run(Duration::from_secs(150), |_, at| {
            (at >= Duration::from_secs(60)).then_some(5 * MS)
        });
        assert_eq!(
            sim.states(),
            [GatewayState::Up, GatewayState::Down, GatewayState::Up]
        );
        let up_at = sim.log[2].0;
        assert!(up_at > Duration::from_secs(75), "{:?}", sim.log);
        // 10% loss stays up.
        let mut sim = Sim::new(settings_1s());
        sim.run(Duration::from_secs(60), |seq, _| {
            (seq % 10 != 0).then_some(5 * MS)
        });
        assert_eq!(sim.states(), [GatewayState::Up]);
    }

    #[test]
    fn high_latency_is_down() {
        let mut sim = Sim::new(settings_1s());
        sim.run(Duration::from_secs(10), |_, _| Some(5 * MS));
        // The average over the probes since up reaches 500 ms with the
        // 25th slow reply (at about 35.7 s), down 5 s later.
        sim.run(Duration::from_secs(60), |_, _| Some(700 * MS));
        assert_eq!(sim.states(), [GatewayState::Up, GatewayState::Down]);
        assert!(sim.log[1].2.starts_with("high latency"), "{:?}", sim.log[1]);
    }

    #[test]
    fn late_duplicate_and_unknown_replies_are_ignored() {
        let now = Instant::now();
        let mut m = Monitor::new(settings_1s(), now);
        let seq = m.poll_probe(now).unwrap();
        assert_eq!(m.poll_probe(now), None, "one probe per interval");
        m.on_reply(now + 2 * MS, seq.wrapping_add(7));
        assert_eq!(m.stats().samples, 0);
        m.on_reply(now + 2 * MS, seq);
        m.on_reply(now + 3 * MS, seq);
        let st = m.stats();
        assert_eq!((st.samples, st.received, st.sent), (1, 1, 1));
        // Lost at 2 s; its reply at 2.5 s does not count.
        let t1 = now + Duration::from_secs(1);
        let seq = m.poll_probe(t1).unwrap();
        m.handle_timeout(t1 + Duration::from_secs(2));
        m.on_reply(t1 + Duration::from_millis(2500), seq);
        let st = m.stats();
        assert_eq!((st.samples, st.received), (2, 1));
        assert_eq!(st.loss_percent, 50.0);
    }

    #[test]
    fn rtt_average_and_stddev() {
        let now = Instant::now();
        let mut m = Monitor::new(settings_1s(), now);
        for (i, rtt) in [10u64, 20, 30].into_iter().enumerate() {
            let t = now + Duration::from_secs(i as u64);
            let seq = m.poll_probe(t).unwrap();
            m.on_reply(t + Duration::from_millis(rtt), seq);
        }
        let st = m.stats();
        assert_eq!(st.rtt_avg, Some(Duration::from_millis(20)));
        // Population stddev of 10, 20, 30 ms: sqrt(200/3) ms = 8.165 ms.
        let sd = st.rtt_stddev.unwrap().as_secs_f64() * 1e3;
        assert!((sd - 8.165).abs() < 0.001, "{sd}");
        assert_eq!(st.loss_percent, 0.0);
    }

    #[test]
    fn failed_sends_count_as_lost() {
        let mut sim = Sim::new(settings_1s());
        let now = sim.now;
        for i in 0..3u64 {
            let t = now + Duration::from_secs(i);
            let seq = sim.mon.poll_probe(t).unwrap();
            sim.mon.on_send_failed(t, seq);
        }
        let t = sim.mon.poll_transition().unwrap();
        assert_eq!(t.to, GatewayState::Down);
        assert_eq!(
            t.at,
            now + Duration::from_secs(2),
            "no waiting for a timeout"
        );
    }

    #[test]
    fn wakes_once_per_event_and_never_spins() {
        let mut sim = Sim::new(settings_1s());
        sim.run(Duration::from_secs(100), |_, _| Some(5 * MS));
        // 100 probes, 100 replies: about 200 wake-ups, not thousands.
        assert!(sim.wakeups <= 202, "{} wake-ups", sim.wakeups);
        let mut sim = Sim::new(settings_1s());
        sim.run(Duration::from_secs(100), |_, _| None);
        assert!(sim.wakeups <= 202, "{} wake-ups", sim.wakeups);
    }
}
