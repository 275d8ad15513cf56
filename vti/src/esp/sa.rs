//! Outbound and inbound ESP SAs: sequence numbers, anti-replay, lifetimes,
//! counters, and the in-place encapsulate/decapsulate.
#![forbid(unsafe_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::crypto::{Engine, SaKeys};
use super::replay::{ReplayVerdict, ReplayWindow, DEFAULT_REPLAY_WINDOW, MAX_REPLAY_WINDOW};
use super::suite::Suite;
use super::{
    ConfigError, EspError, ESP_HEADER_LEN, HEADROOM, NEXT_HEADER_IPV4, NEXT_HEADER_IPV6,
    NEXT_HEADER_NONE,
};

/// Byte, packet and time limits of an SA (RFC 4301 §4.4.2.1). `None` means
/// unlimited. Soft limits ask for a rekey once; hard limits stop the SA.
/// Bytes are inner (plaintext) packet bytes. A hard limit is checked before
/// a packet is processed, so the byte count can overshoot it by at most one
/// packet; the packet that reaches a hard limit still goes through and
/// raises [`SaEvent::Expired`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Lifetime {
    /// Soft byte limit.
    pub soft_bytes: Option<u64>,
    /// Hard byte limit.
    pub hard_bytes: Option<u64>,
    /// Soft packet limit.
    pub soft_packets: Option<u64>,
    /// Hard packet limit.
    pub hard_packets: Option<u64>,
    /// Soft time limit from SA creation (checked against the `now` given to
    /// each call and to `check_time`).
    pub soft_time: Option<Duration>,
    /// Hard time limit from SA creation.
    pub hard_time: Option<Duration>,
}

/// Options of an SA beyond suite and keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaOptions {
    /// Extended (64-bit) sequence numbers, RFC 4303 §2.2.1.
    pub esn: bool,
    /// Anti-replay window in packets (inbound only); 0 disables.
    pub replay_window: u32,
    /// Lifetimes.
    pub lifetime: Lifetime,
    /// Outbound: raise [`RekeyReason::SequenceNumber`] once the sequence
    /// number reaches this value. `None`: at 15/16 of the space
    /// (0xF000_0000 without ESN).
    pub seq_rekey_at: Option<u64>,
}

impl Default for SaOptions {
    fn default() -> Self {
        SaOptions {
            esn: false,
            replay_window: DEFAULT_REPLAY_WINDOW,
            lifetime: Lifetime::default(),
            seq_rekey_at: None,
        }
    }
}

/// Which limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitKind {
    /// Byte count.
    Bytes,
    /// Packet count.
    Packets,
    /// Age.
    Time,
}

/// Why a rekey is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RekeyReason {
    /// A soft lifetime was reached.
    Soft(LimitKind),
    /// The outbound sequence number is nearing exhaustion.
    SequenceNumber,
}

/// Something the IKE engine should act on. Each is reported once per SA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SaEvent {
    /// Rekey this SA soon.
    RekeyWanted(RekeyReason),
    /// A hard limit was reached: the SA refuses further packets.
    Expired(LimitKind),
}

/// Per-SA statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Packets sealed or delivered.
    pub packets: u64,
    /// Inner (plaintext) bytes sealed or delivered.
    pub bytes: u64,
    /// Inbound packets refused by the anti-replay window.
    pub replay_drops: u64,
    /// Inbound packets whose ICV did not verify.
    pub auth_failures: u64,
    /// Authenticated inbound packets with bad padding.
    pub padding_errors: u64,
    /// Everything else: truncated, unknown next header, malformed inner
    /// packet, expired SA, exhausted sequence numbers, small buffers.
    pub other_errors: u64,
}

const EV_HARD_BYTES: u8 = 1 << 0;
const EV_HARD_PACKETS: u8 = 1 << 1;
const EV_HARD_TIME: u8 = 1 << 2;
const EV_SOFT_BYTES: u8 = 1 << 3;
const EV_SOFT_PACKETS: u8 = 1 << 4;
const EV_SOFT_TIME: u8 = 1 << 5;
const EV_SEQ: u8 = 1 << 6;

fn event_of(bit: u8) -> SaEvent {
    match bit {
        EV_HARD_BYTES => SaEvent::Expired(LimitKind::Bytes),
        EV_HARD_PACKETS => SaEvent::Expired(LimitKind::Packets),
        EV_HARD_TIME => SaEvent::Expired(LimitKind::Time),
        EV_SOFT_BYTES => SaEvent::RekeyWanted(RekeyReason::Soft(LimitKind::Bytes)),
        EV_SOFT_PACKETS => SaEvent::RekeyWanted(RekeyReason::Soft(LimitKind::Packets)),
        EV_SOFT_TIME => SaEvent::RekeyWanted(RekeyReason::Soft(LimitKind::Time)),
        _ => SaEvent::RekeyWanted(RekeyReason::SequenceNumber),
    }
}

/// Lifetimes, counters and events shared by both directions.
#[derive(Debug)]
struct Life {
    limits: Lifetime,
    soft_deadline: Option<Instant>,
    hard_deadline: Option<Instant>,
    counters: Counters,
    last_used: Option<Instant>,
    expired: Option<LimitKind>,
    raised: u8,
    pending: u8,
}

impl Life {
    fn new(limits: Lifetime, now: Instant) -> Life {
        Life {
            limits,
            soft_deadline: limits.soft_time.and_then(|d| now.checked_add(d)),
            hard_deadline: limits.hard_time.and_then(|d| now.checked_add(d)),
            counters: Counters::default(),
            last_used: None,
            expired: None,
            raised: 0,
            pending: 0,
        }
    }

    fn raise(&mut self, bit: u8) {
        if self.raised & bit == 0 {
            self.raised |= bit;
            self.pending |= bit;
        }
    }

    fn expire(&mut self, kind: LimitKind, bit: u8) {
        if self.expired.is_none() {
            self.expired = Some(kind);
        }
        self.raise(bit);
    }

    fn take_event(&mut self) -> Option<SaEvent> {
        if self.pending == 0 {
            return None;
        }
        let bit = 1u8 << self.pending.trailing_zeros();
        self.pending &= !bit;
        Some(event_of(bit))
    }

    fn check_time(&mut self, now: Instant) {
        if self.hard_deadline.is_some_and(|d| now >= d) {
            self.expire(LimitKind::Time, EV_HARD_TIME);
        }
        if self.soft_deadline.is_some_and(|d| now >= d) {
            self.raise(EV_SOFT_TIME);
        }
    }

    fn check_counts(&mut self) {
        let c = self.counters;
        let l = self.limits;
        if l.hard_packets.is_some_and(|h| c.packets >= h) {
            self.expire(LimitKind::Packets, EV_HARD_PACKETS);
        }
        if l.hard_bytes.is_some_and(|h| c.bytes >= h) {
            self.expire(LimitKind::Bytes, EV_HARD_BYTES);
        }
        if l.soft_packets.is_some_and(|s| c.packets >= s) {
            self.raise(EV_SOFT_PACKETS);
        }
        if l.soft_bytes.is_some_and(|s| c.bytes >= s) {
            self.raise(EV_SOFT_BYTES);
        }
    }

    /// May a packet be processed now?
    fn usable(&mut self, now: Instant) -> Result<(), EspError> {
        self.check_time(now);
        match self.expired {
            Some(kind) => Err(EspError::Expired(kind)),
            None => Ok(()),
        }
    }

    fn account(&mut self, bytes: usize, now: Instant) {
        self.account_n(1, bytes as u64, now);
    }

    fn account_n(&mut self, packets: u64, bytes: u64, now: Instant) {
        self.counters.packets = self.counters.packets.saturating_add(packets);
        self.counters.bytes = self.counters.bytes.saturating_add(bytes);
        self.last_used = Some(now);
        self.check_counts();
    }

    /// Count a failure and pass it on.
    fn fail(&mut self, e: EspError) -> EspError {
        let c = &mut self.counters;
        let slot = match e {
            EspError::Replayed { .. } | EspError::TooOld { .. } => &mut c.replay_drops,
            EspError::AuthenticationFailed => &mut c.auth_failures,
            EspError::BadPadding => &mut c.padding_errors,
            _ => &mut c.other_errors,
        };
        *slot = slot.saturating_add(1);
        e
    }
}

macro_rules! common_accessors {
    () => {
        /// The SPI.
        pub fn spi(&self) -> u32 {
            self.spi
        }

        /// The transform suite.
        pub fn suite(&self) -> Suite {
            self.suite
        }

        /// Whether extended sequence numbers are in use.
        pub fn esn(&self) -> bool {
            self.esn
        }

        /// Statistics.
        pub fn counters(&self) -> &Counters {
            &self.life.counters
        }

        /// When a packet last went through successfully (the `now` of that
        /// call); `None` if never.
        pub fn last_used(&self) -> Option<Instant> {
            self.life.last_used
        }

        /// The hard limit that stopped this SA, if any.
        pub fn expired(&self) -> Option<LimitKind> {
            self.life.expired
        }

        /// True once any soft limit or the sequence-number threshold was
        /// reached (stays true; the event itself is reported once).
        pub fn rekey_wanted(&self) -> bool {
            self.life.raised & (EV_SOFT_BYTES | EV_SOFT_PACKETS | EV_SOFT_TIME | EV_SEQ) != 0
        }

        /// The next not yet reported event, if any (hard limits first).
        /// Events are also handed out with each sealed/opened packet; call
        /// this to drain the rest, or after a refused packet.
        pub fn take_event(&mut self) -> Option<SaEvent> {
            self.life.take_event()
        }

        /// Check the time lifetimes against `now` (for the engine's timer):
        /// returns the next pending event, if any.
        pub fn check_time(&mut self, now: Instant) -> Option<SaEvent> {
            self.life.check_time(now);
            self.life.take_event()
        }
    };
}

/// A successfully sealed packet.
#[derive(Debug)]
pub struct Sealed<'a> {
    /// The ESP packet (SPI .. ICV), a sub-slice of the caller's buffer:
    /// the payload of IP protocol 50, or of UDP/4500.
    pub packet: &'a [u8],
    /// Its 64-bit sequence number.
    pub seq: u64,
    /// An event raised by this packet, if any.
    pub event: Option<SaEvent>,
}

/// The decrypted inner packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inner<'a> {
    /// An IPv4 packet (Next Header 4), trimmed to its Total Length.
    Ipv4(&'a [u8]),
    /// An IPv6 packet (Next Header 41), trimmed to its Payload Length.
    Ipv6(&'a [u8]),
    /// A dummy packet (Next Header 59, RFC 4303 §2.6): discard it.
    Dummy,
}

/// A successfully opened packet.
#[derive(Debug)]
pub struct Opened<'a> {
    /// The inner packet, a sub-slice of the caller's buffer.
    pub inner: Inner<'a>,
    /// The packet's 64-bit (ESN-inferred) sequence number.
    pub seq: u64,
    /// An event raised by this packet, if any.
    pub event: Option<SaEvent>,
}

impl<'a> Opened<'a> {
    /// The inner IP packet, `None` for a dummy.
    pub fn packet(&self) -> Option<&'a [u8]> {
        match self.inner {
            Inner::Ipv4(p) | Inner::Ipv6(p) => Some(p),
            Inner::Dummy => None,
        }
    }
}

fn check_spi(spi: u32) -> Result<(), ConfigError> {
    if spi < 256 {
        Err(ConfigError::ReservedSpi(spi))
    } else {
        Ok(())
    }
}

/// The sending half of a Child SA: sequence numbers, lifetimes and
/// counters, and its [`Sealer`].
///
/// [`OutboundSa::encapsulate`] numbers and seals one packet. To seal on
/// several threads, the owner of the SA numbers packets with
/// [`OutboundSa::reserve`] (in the order they are to be sent) and hands
/// them with their sequence numbers to any thread holding the
/// [`OutboundSa::sealer`]; sending them in sequence-number order is then
/// the caller's job (RFC 4303 §3.3.3 numbers packets as they are sent, and
/// a peer's anti-replay window tolerates only a little reordering).
#[derive(Debug)]
pub struct OutboundSa {
    spi: u32,
    suite: Suite,
    esn: bool,
    sealer: Arc<Sealer>,
    /// Last sequence number sent (0 before the first packet).
    seq: u64,
    seq_rekey_at: u64,
    life: Life,
}

/// The keys of an outbound SA and the ESP framing: seals a packet with a
/// sequence number [`OutboundSa::reserve`] gave it. Shared (`Arc`) by the
/// threads sealing for the SA; it holds no mutable state.
#[derive(Debug)]
pub struct Sealer {
    spi: u32,
    suite: Suite,
    esn: bool,
    engine: Engine,
}

impl Sealer {
    /// The SPI.
    pub fn spi(&self) -> u32 {
        self.spi
    }

    /// Seal the inner IP packet at `buf[HEADROOM..HEADROOM + inner_len]` in
    /// place into an ESP packet with sequence number `seq` (from
    /// [`OutboundSa::reserve`]). `buf` needs [`TAILROOM`](super::TAILROOM)
    /// bytes (or the suite's exact need) after the inner packet. Returns
    /// where the ESP packet is in `buf`.
    pub fn seal(
        &self,
        buf: &mut [u8],
        inner_len: usize,
        seq: u64,
    ) -> Result<std::ops::Range<usize>, EspError> {
        let suite = self.suite;
        let iv_len = suite.iv_len();
        let icv_len = suite.icv_len();
        let align = suite.align();
        let first = *buf.get(HEADROOM).ok_or(EspError::BufferTooSmall {
            needed: HEADROOM + 1,
            have: buf.len(),
        })?;
        let next_header = match first >> 4 {
            4 => NEXT_HEADER_IPV4,
            6 => NEXT_HEADER_IPV6,
            _ => return Err(EspError::NotIp),
        };
        if inner_len == 0 {
            return Err(EspError::NotIp);
        }
        if inner_len > buf.len() - HEADROOM {
            return Err(EspError::BufferTooSmall {
                needed: HEADROOM.saturating_add(inner_len),
                have: buf.len(),
            });
        }
        // RFC 4303 §2.4: pad so that payload + pad + 2 is a multiple of the
        // alignment.
        let pad = (align - (inner_len + 2) % align) % align;
        let payload_len = inner_len + pad + 2;
        let start = HEADROOM - ESP_HEADER_LEN - iv_len;
        let end = HEADROOM + payload_len + icv_len;
        if end > buf.len() {
            return Err(EspError::BufferTooSmall {
                needed: end,
                have: buf.len(),
            });
        }
        let esp = &mut buf[start..end];
        esp[..4].copy_from_slice(&self.spi.to_be_bytes());
        esp[4..8].copy_from_slice(&(seq as u32).to_be_bytes());
        let trailer = ESP_HEADER_LEN + iv_len + inner_len;
        for (i, b) in esp[trailer..trailer + pad].iter_mut().enumerate() {
            *b = (i + 1) as u8;
        }
        esp[trailer + pad] = pad as u8;
        esp[trailer + pad + 1] = next_header;
        self.engine
            .seal(esp, seq, self.esn)
            .map_err(|_| EspError::CryptoFailure)?;
        Ok(start..end)
    }
}

impl OutboundSa {
    /// A new outbound SA. `now` starts the time lifetimes.
    pub fn new(
        spi: u32,
        suite: Suite,
        keys: SaKeys<'_>,
        options: &SaOptions,
        now: Instant,
    ) -> Result<OutboundSa, ConfigError> {
        check_spi(spi)?;
        let engine = Engine::new(suite, keys)?;
        let max = if options.esn {
            u64::MAX
        } else {
            u64::from(u32::MAX)
        };
        Ok(OutboundSa {
            spi,
            suite,
            esn: options.esn,
            sealer: Arc::new(Sealer {
                spi,
                suite,
                esn: options.esn,
                engine,
            }),
            seq: 0,
            seq_rekey_at: options.seq_rekey_at.unwrap_or(max - max / 16),
            life: Life::new(options.lifetime, now),
        })
    }

    common_accessors!();

    /// The last sequence number sent (0 before the first packet).
    pub fn last_seq(&self) -> u64 {
        self.seq
    }

    /// Continue numbering after `seq` (e.g. after an HA failover synced the
    /// counter). The next packet gets `seq + 1`.
    pub fn set_last_seq(&mut self, seq: u64) {
        self.seq = seq;
    }

    /// The SA's sealer, for sealing packets numbered by
    /// [`OutboundSa::reserve`] on other threads.
    pub fn sealer(&self) -> &Arc<Sealer> {
        &self.sealer
    }

    /// Number `packets` packets of `bytes` inner bytes in all, to be sealed
    /// with the [`sealer`](OutboundSa::sealer) and sent in order: returns
    /// the first sequence number (they run up from it). Counts them as sent
    /// (lifetimes, counters) and raises events as
    /// [`encapsulate`](OutboundSa::encapsulate) does; take them with
    /// [`take_event`](OutboundSa::take_event). Refuses when the SA has
    /// expired or the sequence numbers would run out (RFC 4303 §3.3.3: they
    /// never cycle).
    pub fn reserve(&mut self, packets: u64, bytes: u64, now: Instant) -> Result<u64, EspError> {
        match self.reserve_inner(packets, bytes, now) {
            Ok(first) => Ok(first),
            Err(e) => Err(self.life.fail(e)),
        }
    }

    fn reserve_inner(&mut self, packets: u64, bytes: u64, now: Instant) -> Result<u64, EspError> {
        self.life.usable(now)?;
        let max = if self.esn {
            u64::MAX
        } else {
            u64::from(u32::MAX)
        };
        let last = self
            .seq
            .checked_add(packets)
            .filter(|&l| l <= max && packets > 0)
            .ok_or(EspError::SequenceExhausted)?;
        let first = self.seq + 1;
        self.seq = last;
        if last >= self.seq_rekey_at {
            self.life.raise(EV_SEQ);
        }
        self.life.account_n(packets, bytes, now);
        Ok(first)
    }

    /// Seal the inner IP packet at `buf[HEADROOM..HEADROOM + inner_len]` in
    /// place into an ESP packet. `buf` needs [`TAILROOM`](super::TAILROOM)
    /// bytes (or the suite's exact need) after the inner packet. Returns the
    /// ESP packet as a sub-slice of `buf`.
    pub fn encapsulate<'a>(
        &mut self,
        buf: &'a mut [u8],
        inner_len: usize,
        now: Instant,
    ) -> Result<Sealed<'a>, EspError> {
        match self.encapsulate_inner(buf, inner_len, now) {
            Ok((range, seq)) => Ok(Sealed {
                packet: &buf[range],
                seq,
                event: self.life.take_event(),
            }),
            Err(e) => Err(self.life.fail(e)),
        }
    }

    fn encapsulate_inner(
        &mut self,
        buf: &mut [u8],
        inner_len: usize,
        now: Instant,
    ) -> Result<(std::ops::Range<usize>, u64), EspError> {
        // The SA's own state first: a dead SA says so whatever the packet.
        self.life.usable(now)?;
        let max = if self.esn {
            u64::MAX
        } else {
            u64::from(u32::MAX)
        };
        if self.seq >= max {
            return Err(EspError::SequenceExhausted);
        }
        let seq = self.seq + 1;
        let range = self.sealer.seal(buf, inner_len, seq)?;
        self.seq = seq;
        if seq >= self.seq_rekey_at {
            self.life.raise(EV_SEQ);
        }
        self.life.account(inner_len, now);
        Ok((range, seq))
    }
}

/// The receiving half of a Child SA.
#[derive(Debug)]
pub struct InboundSa {
    spi: u32,
    suite: Suite,
    esn: bool,
    engine: Engine,
    window: ReplayWindow,
    life: Life,
}

impl InboundSa {
    /// A new inbound SA. `now` starts the time lifetimes.
    pub fn new(
        spi: u32,
        suite: Suite,
        keys: SaKeys<'_>,
        options: &SaOptions,
        now: Instant,
    ) -> Result<InboundSa, ConfigError> {
        check_spi(spi)?;
        if options.replay_window > MAX_REPLAY_WINDOW {
            return Err(ConfigError::ReplayWindowTooLarge(options.replay_window));
        }
        let engine = Engine::new(suite, keys)?;
        Ok(InboundSa {
            spi,
            suite,
            esn: options.esn,
            engine,
            window: ReplayWindow::new(options.replay_window),
            life: Life::new(options.lifetime, now),
        })
    }

    common_accessors!();

    /// The anti-replay state.
    pub fn replay_window(&self) -> &ReplayWindow {
        &self.window
    }

    /// Restart anti-replay at `highest` (e.g. after an HA failover): every
    /// sequence number up to it counts as received.
    pub fn resume_replay(&mut self, highest: u64) {
        self.window.resume(highest);
    }

    /// Verify and decrypt the ESP packet `packet` (SPI .. ICV) in place.
    /// The replay window is checked before the ICV and updated only after
    /// it verified. Returns the inner packet as a sub-slice of `packet`.
    pub fn decapsulate<'a>(
        &mut self,
        packet: &'a mut [u8],
        now: Instant,
    ) -> Result<Opened<'a>, EspError> {
        match self.decapsulate_inner(packet, now) {
            Ok((next_header, range, seq)) => {
                let packet: &'a [u8] = packet;
                let data = &packet[range];
                let inner = match next_header {
                    NEXT_HEADER_IPV4 => Inner::Ipv4(data),
                    NEXT_HEADER_IPV6 => Inner::Ipv6(data),
                    _ => Inner::Dummy,
                };
                Ok(Opened {
                    inner,
                    seq,
                    event: self.life.take_event(),
                })
            }
            Err(e) => Err(self.life.fail(e)),
        }
    }

    fn decapsulate_inner(
        &mut self,
        packet: &mut [u8],
        now: Instant,
    ) -> Result<(u8, std::ops::Range<usize>, u64), EspError> {
        let suite = self.suite;
        let len = packet.len();
        let iv_len = suite.iv_len();
        let icv_len = suite.icv_len();
        let align = suite.align();
        let overhead = ESP_HEADER_LEN + iv_len + icv_len;
        // At least the 2 trailer bytes, and for CBC whole blocks.
        let min_payload = if align > 4 { align } else { 2 };
        if len < overhead + min_payload || (align > 4 && (len - overhead) % align != 0) {
            return Err(EspError::Truncated { len });
        }
        self.life.usable(now)?;

        let seq_lo = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
        let seq = if self.esn {
            self.window.infer_esn(seq_lo)
        } else {
            u64::from(seq_lo)
        };
        self.window.check(seq).map_err(|v| match v {
            ReplayVerdict::Replayed => EspError::Replayed { seq },
            ReplayVerdict::TooOld => EspError::TooOld { seq },
        })?;
        self.engine
            .open(packet, seq, self.esn)
            .map_err(|_| EspError::AuthenticationFailed)?;
        // Authentic: only now may the window move.
        self.window.update(seq);
        self.life.last_used = Some(now);

        let pt_start = ESP_HEADER_LEN + iv_len;
        let pt = &packet[pt_start..len - icv_len];
        let n = pt.len();
        let pad_len = usize::from(pt[n - 2]);
        let next_header = pt[n - 1];
        if pad_len + 2 > n {
            return Err(EspError::BadPadding);
        }
        let data_len = n - 2 - pad_len;
        // RFC 4303 §2.4: the padding bytes are 1, 2, 3, ...
        let pad_ok = pt[data_len..n - 2]
            .iter()
            .enumerate()
            .all(|(i, &b)| usize::from(b) == i + 1);
        if !pad_ok {
            return Err(EspError::BadPadding);
        }
        let data = &pt[..data_len];
        let inner_len = match next_header {
            NEXT_HEADER_IPV4 => ipv4_len(data)?,
            NEXT_HEADER_IPV6 => ipv6_len(data)?,
            NEXT_HEADER_NONE => 0,
            other => return Err(EspError::UnknownNextHeader(other)),
        };
        self.life.account(inner_len, now);
        Ok((next_header, pt_start..pt_start + inner_len, seq))
    }
}

/// Length of the IPv4 packet at the start of `data` (anything after it is
/// TFC padding, RFC 4303 §2.7).
fn ipv4_len(data: &[u8]) -> Result<usize, EspError> {
    if data.len() < 20 || data[0] >> 4 != 4 {
        return Err(EspError::MalformedInner);
    }
    let ihl = usize::from(data[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([data[2], data[3]]));
    if ihl < 20 || total < ihl || total > data.len() {
        return Err(EspError::MalformedInner);
    }
    Ok(total)
}

/// Length of the IPv6 packet at the start of `data`.
fn ipv6_len(data: &[u8]) -> Result<usize, EspError> {
    if data.len() < 40 || data[0] >> 4 != 6 {
        return Err(EspError::MalformedInner);
    }
    let total = 40 + usize::from(u16::from_be_bytes([data[4], data[5]]));
    if total > data.len() {
        return Err(EspError::MalformedInner);
    }
    Ok(total)
}
