//! The endpoint: routes datagrams to IKE SAs by SPI, answers what needs no
//! state (cookies, errors for unknown SAs), and drives the timers.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand_core::CryptoRngCore;
use tracing::{debug, error, info, warn};

use crate::engine::config::{AddrMatch, ChildConfig, EngineConfig, PeerConfig, SharedKey};
use crate::engine::guard::{InitGuard, InitRequest, Verdict};
use crate::engine::ike_sa::{Ctx, IkeSa, Note, State, Task};
use crate::engine::ratelimit::{suppressed_note, LogLimiter};
use crate::engine::types::{Action, Datagram, Event, Failure, IkeInfo, IkeSaId, Transmit};
use crate::wire::{
    ExchangeType, Flags, Header, Message, NotifyPayload, NotifyType, Payload, PayloadBody,
    PayloadType,
};

/// Counters for `stats` and the control socket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Datagrams that did not parse.
    pub malformed: u64,
    /// Datagrams for IKE SAs we do not have.
    pub unknown_spi: u64,
    /// IKE_SA_INIT requests answered with a COOKIE.
    pub cookies_sent: u64,
    /// IKE_SA_INIT requests dropped by `block_threshold`,
    /// `init_limit_half_open` or `ikesa_limit`.
    pub init_dropped: u64,
    /// Log lines about unauthenticated peers suppressed by the rate limit.
    pub warnings_suppressed: u64,
    /// IKE SAs deleted because handling them panicked (a bug, contained).
    pub internal_errors: u64,
    /// Datagrams longer than `max_packet`, dropped.
    pub oversized: u64,
    /// Octets all IKE SAs hold in partly reassembled messages now.
    pub reassembly_bytes: usize,
    /// IKE SAs currently half-open (responder).
    pub half_open: usize,
    /// IKE SAs in total.
    pub ike_sas: usize,
    /// IKE_SA_INIT requests received (new ones and retransmissions, before
    /// the cookie and limit checks).
    pub init_received: u64,
    /// Requests we sent again because their response did not come
    /// (RFC 7296 §2.1).
    pub retransmits: u64,
    /// Responses we sent again because the peer retransmitted the request
    /// (§2.1).
    pub responses_resent: u64,
    /// IKE SAs deleted because a liveness check (DPD, §1.4) went
    /// unanswered.
    pub dpd_timeouts: u64,
}

/// The IKE endpoint of a daemon: every IKE SA, by our SPI.
///
/// See the [module documentation](super) for how to drive it.
pub struct Endpoint {
    cfg: EngineConfig,
    rng: Box<dyn CryptoRngCore + Send>,
    peers: Vec<Arc<PeerConfig>>,
    keys: Vec<SharedKey>,
    sas: HashMap<u64, IkeSa>,
    /// Cookies, limits and the half-open responder SAs (RFC 7296 §2.6).
    guard: InitGuard,
    /// Rate limit for log lines unauthenticated peers cause.
    prelog: LogLimiter,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    actions: VecDeque<Action>,
    next_unique: u32,
    stats: Stats,
    /// Where we send from when initiating: our address per family.
    local_v4: Option<SocketAddr>,
    local_v6: Option<SocketAddr>,
    /// Restarts waiting for their time.
    pending_restarts: Vec<(Instant, String, Option<String>, u32)>,
    /// Certificates, keys and trust for public-key authentication.
    creds: Option<Arc<dyn crate::engine::auth::Credentials>>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("peers", &self.peers.len())
            .field("sas", &self.sas.len())
            .finish_non_exhaustive()
    }
}

macro_rules! ctx {
    ($self:ident, $now:expr, $notes:ident, $inuse:ident) => {
        Ctx {
            now: $now,
            cfg: &$self.cfg,
            rng: &mut *$self.rng,
            transmits: &mut $self.transmits,
            events: &mut $self.events,
            actions: &mut $self.actions,
            stats: &mut $self.stats,
            keys: &$self.keys,
            peers: &$self.peers,
            next_unique: &mut $self.next_unique,
            spi_in_use: &mut $inuse,
            notes: &mut $notes,
            prelog: &mut $self.prelog,
            reassembly_elsewhere: &|| $self.sas.values().map(IkeSa::reassembly_bytes).sum(),
            has_contact: &|conn, local, remote, ip| {
                $self
                    .sas
                    .values()
                    .any(|s| s.is_contact(conn, local, remote, ip))
            },
            creds: $self.creds.as_deref(),
        }
    };
}

impl Endpoint {
    /// A new endpoint with no connections.
    pub fn new(cfg: EngineConfig, mut rng: Box<dyn CryptoRngCore + Send>) -> Self {
        let mut secret = [0u8; 32];
        rng.fill_bytes(&mut secret);
        Endpoint {
            cfg,
            rng,
            peers: Vec::new(),
            keys: Vec::new(),
            sas: HashMap::new(),
            guard: InitGuard::new(&secret),
            prelog: LogLimiter::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            actions: VecDeque::new(),
            next_unique: 0,
            stats: Stats::default(),
            local_v4: None,
            local_v6: None,
            pending_restarts: Vec::new(),
            creds: None,
        }
    }

    /// The addresses we initiate from (the daemon's bound sockets).
    pub fn set_local_addrs(&mut self, v4: Option<SocketAddr>, v6: Option<SocketAddr>) {
        self.local_v4 = v4;
        self.local_v6 = v6;
    }

    /// Sets the credentials (certificates, private keys, trusted CAs) that
    /// public-key authentication uses; kept across [`Endpoint::load`].
    pub fn set_credentials(&mut self, creds: Arc<dyn crate::engine::auth::Credentials>) {
        self.creds = Some(creds);
    }

    /// Replaces the connections and shared keys. IKE SAs of connections that
    /// are gone are deleted; the others keep running with the new settings
    /// from their next exchange on.
    pub fn load(&mut self, now: Instant, peers: Vec<PeerConfig>, keys: Vec<SharedKey>) {
        let peers: Vec<Arc<PeerConfig>> = peers.into_iter().map(Arc::new).collect();
        self.keys = keys;
        let gone: Vec<u64> = self
            .sas
            .iter()
            .filter(|(_, sa)| !peers.iter().any(|p| p.name == sa.peer.name))
            .map(|(k, _)| *k)
            .collect();
        for sa in self.sas.values_mut() {
            if let Some(p) = peers.iter().find(|p| p.name == sa.peer.name) {
                sa.peer = p.at_address(sa.local.ip());
            }
        }
        self.peers = peers;
        for k in gone {
            self.with_sa(now, k, |sa, ctx| {
                info!(conn = %sa.peer.name, "connection removed, deleting its IKE_SA");
                sa.terminate(ctx);
            });
        }
    }

    /// Replaces the remote addresses of connection `conn` (the daemon
    /// resolves the DNS names of `remote_addrs` before each initiation and
    /// hands the result here: the engine does no I/O). IKE SAs already up
    /// keep the configuration they were set up with. Returns whether the
    /// connection exists.
    pub fn set_remote_addrs(&mut self, conn: &str, addrs: Vec<AddrMatch>) -> bool {
        let Some(p) = self.peers.iter_mut().find(|p| p.name == conn) else {
            return false;
        };
        if p.remote_addrs != addrs {
            let mut n = PeerConfig::clone(p);
            n.remote_addrs = addrs;
            *p = Arc::new(n);
        }
        true
    }

    /// The loaded connections.
    pub fn peers(&self) -> &[Arc<PeerConfig>] {
        &self.peers
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        Stats {
            half_open: self.guard.half_open.count(),
            ike_sas: self.sas.len(),
            warnings_suppressed: self.prelog.total_suppressed(),
            reassembly_bytes: self.sas.values().map(IkeSa::reassembly_bytes).sum(),
            ..self.stats
        }
    }

    fn local_for(&self, remote: SocketAddr) -> SocketAddr {
        let pick = if remote.is_ipv4() {
            self.local_v4
        } else {
            self.local_v6
        };
        let mut l = pick.unwrap_or_else(|| {
            if remote.is_ipv4() {
                SocketAddr::from(([0, 0, 0, 0], self.cfg.port))
            } else {
                SocketAddr::from(([0u16; 8], self.cfg.port))
            }
        });
        l.set_port(self.cfg.port);
        l
    }

    /// Initiates connection `conn`, with its child `child` (or its first
    /// child) in IKE_AUTH; further children follow in CREATE_CHILD_SA.
    /// An IKE SA that is already up gets only the CHILD SA.
    pub fn initiate(
        &mut self,
        now: Instant,
        conn: &str,
        child: Option<&str>,
    ) -> Result<IkeSaId, Failure> {
        self.initiate_attempt(now, conn, child, 1)
    }

    fn initiate_attempt(
        &mut self,
        now: Instant,
        conn: &str,
        child: Option<&str>,
        attempt: u32,
    ) -> Result<IkeSaId, Failure> {
        let peer = self
            .peers
            .iter()
            .find(|p| p.name == conn)
            .cloned()
            .ok_or_else(|| Failure::Local(format!("no connection named '{conn}'")))?;
        let child_cfg: Option<ChildConfig> = match child {
            Some(name) => Some(
                peer.children
                    .iter()
                    .find(|c| c.name == name)
                    .cloned()
                    .ok_or_else(|| {
                        Failure::Local(format!("connection '{conn}' has no child '{name}'"))
                    })?,
            ),
            None => peer.children.first().cloned(),
        };
        // Reuse an established IKE SA (not for reauthentication).
        if attempt == 1 {
            if let Some(key) = self
                .sas
                .iter()
                .find(|(_, s)| s.peer.name == conn && s.state == State::Established)
                .map(|(k, _)| *k)
            {
                if let Some(c) = child_cfg {
                    self.with_sa(now, key, |sa, ctx| {
                        sa.queue(ctx, Task::CreateChild(Box::new(c)))
                    });
                }
                return Ok(IkeSaId(key));
            }
            // One still connecting: the child follows once it is up.
            if let Some((key, sa)) = self.sas.iter_mut().find(|(_, s)| {
                s.peer.name == conn
                    && s.initiator
                    && matches!(s.state, State::InitSent | State::AuthSent)
            }) {
                if let Some(c) = child_cfg {
                    if sa.first_child_name() != Some(c.name.as_str())
                        && !sa.extra_children.iter().any(|x| x.name == c.name)
                    {
                        sa.extra_children.push(c);
                    }
                }
                return Ok(IkeSaId(*key));
            }
        }
        let remote_ip = peer
            .remote_addrs
            .iter()
            .find_map(|a| a.host())
            .ok_or_else(|| {
                Failure::Local(format!(
                    "connection '{conn}' has no concrete remote address to initiate to"
                ))
            })?;
        let remote = SocketAddr::new(remote_ip, peer.remote_port);
        // A concrete local address of the connection wins over the default.
        let local = peer
            .local_addrs
            .iter()
            .filter_map(|a| a.host())
            .find(|a| a.is_ipv4() == remote.is_ipv4())
            .map(|a| SocketAddr::new(a, self.cfg.port))
            .unwrap_or_else(|| self.local_for(remote));
        let mut notes = Vec::new();
        let sas = &self.sas;
        let mut inuse = |spi: u32| sas.values().any(|s| s.has_spi_in(spi));
        let mut ctx = ctx!(self, now, notes, inuse);
        let sa = IkeSa::initiate(&mut ctx, peer, child_cfg, local, remote, attempt)?;
        let id = sa.id;
        self.sas.insert(id.0, sa);
        self.process_notes(now, notes);
        Ok(id)
    }

    /// Deletes an IKE SA (with a DELETE to the peer).
    pub fn terminate_ike(&mut self, now: Instant, id: IkeSaId) -> Result<(), Failure> {
        if !self.sas.contains_key(&id.0) {
            return Err(Failure::Local(format!("no IKE_SA {id}")));
        }
        self.with_sa(now, id.0, |sa, ctx| sa.terminate(ctx));
        Ok(())
    }

    /// Deletes every IKE SA of a connection.
    pub fn terminate_conn(&mut self, now: Instant, conn: &str) -> usize {
        let ids: Vec<u64> = self
            .sas
            .iter()
            .filter(|(_, s)| s.peer.name == conn)
            .map(|(k, _)| *k)
            .collect();
        for k in &ids {
            self.with_sa(now, *k, |sa, ctx| sa.terminate(ctx));
        }
        ids.len()
    }

    /// Deletes a CHILD SA by our inbound SPI.
    pub fn terminate_child(&mut self, now: Instant, spi_in: u32) -> Result<(), Failure> {
        let key = self.sa_of_child(spi_in)?;
        self.with_sa(now, key, |sa, ctx| sa.queue(ctx, Task::DeleteChild(spi_in)));
        Ok(())
    }

    /// Rekeys an IKE SA now.
    pub fn rekey_ike(&mut self, now: Instant, id: IkeSaId) -> Result<(), Failure> {
        if !self.sas.contains_key(&id.0) {
            return Err(Failure::Local(format!("no IKE_SA {id}")));
        }
        self.with_sa(now, id.0, |sa, ctx| sa.queue(ctx, Task::RekeyIke));
        Ok(())
    }

    /// Rekeys a CHILD SA now, by our inbound SPI.
    pub fn rekey_child(&mut self, now: Instant, spi_in: u32) -> Result<(), Failure> {
        let key = self.sa_of_child(spi_in)?;
        self.with_sa(now, key, |sa, ctx| sa.queue(ctx, Task::RekeyChild(spi_in)));
        Ok(())
    }

    fn sa_of_child(&self, spi_in: u32) -> Result<u64, Failure> {
        self.sas
            .iter()
            .find(|(_, s)| s.has_spi_in(spi_in))
            .map(|(k, _)| *k)
            .ok_or_else(|| Failure::Local(format!("no CHILD_SA with SPI {spi_in:08x}")))
    }

    /// Deletes every IKE SA (shutdown).
    pub fn shutdown(&mut self, now: Instant) {
        let keys: Vec<u64> = self.sas.keys().copied().collect();
        for k in keys {
            self.with_sa(now, k, |sa, ctx| sa.terminate(ctx));
        }
    }

    /// ESP arrived on the CHILD SA with this inbound SPI: the peer lives.
    pub fn child_activity(&mut self, now: Instant, spi_in: u32) {
        if let Ok(k) = self.sa_of_child(spi_in) {
            self.with_sa(now, k, |sa, ctx| sa.esp_activity(ctx, spi_in));
        }
    }

    /// The data plane's byte/packet limit of a CHILD SA ran out: soft
    /// starts a rekey, hard deletes it.
    pub fn child_expired(&mut self, now: Instant, spi_in: u32, hard: bool) {
        if let Ok(k) = self.sa_of_child(spi_in) {
            self.with_sa(now, k, |sa, ctx| sa.child_expired(ctx, spi_in, hard));
        }
    }

    /// Every IKE SA, for listings.
    pub fn ike_sas(&self) -> Vec<IkeInfo> {
        let mut v: Vec<IkeInfo> = self
            .sas
            .values()
            .filter(|s| s.state != State::Dead)
            .map(IkeSa::info)
            .collect();
        v.sort_by_key(|i| i.unique_id);
        v
    }

    /// One IKE SA by our handle (found under its id or, for an SA a rekey
    /// created, among all).
    pub fn ike_sa(&self, id: IkeSaId) -> Option<IkeInfo> {
        self.sas
            .get(&id.0)
            .filter(|s| s.id == id)
            .or_else(|| self.sas.values().find(|s| s.id == id))
            .filter(|s| s.state != State::Dead)
            .map(IkeSa::info)
    }

    /// The SK payload keys of every IKE SA that has them, for a key log
    /// the operator asked for (`vtid { keylog }`); never for logging.
    pub fn ike_sa_secrets(&self) -> Vec<crate::engine::types::IkeSecrets> {
        self.sas
            .values()
            .filter(|s| s.state != State::Dead)
            .filter_map(IkeSa::secrets)
            .collect()
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The next data-plane action.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When [`Endpoint::handle_timeout`] wants to run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut t: Option<Instant> = self
            .sas
            .values()
            .filter_map(|s| s.poll_timeout(&self.cfg))
            .min();
        for (at, ..) in &self.pending_restarts {
            t = Some(t.map_or(*at, |x| x.min(*at)));
        }
        if let Some(c) = self.guard.poll_timeout() {
            t = Some(t.map_or(c, |x| x.min(c)));
        }
        t
    }

    /// Runs the timers that are due.
    pub fn handle_timeout(&mut self, now: Instant) {
        let keys: Vec<u64> = self
            .sas
            .iter()
            .filter(|(_, s)| s.poll_timeout(&self.cfg).is_some_and(|t| t <= now))
            .map(|(k, _)| *k)
            .collect();
        for k in keys {
            self.with_sa(now, k, |sa, ctx| sa.handle_timeout(ctx));
        }
        let rng = &mut self.rng;
        self.guard.handle_timeout(now, || {
            let mut s = [0u8; 32];
            rng.fill_bytes(&mut s);
            s
        });
        let due: Vec<_> = self
            .pending_restarts
            .iter()
            .filter(|r| r.0 <= now)
            .cloned()
            .collect();
        self.pending_restarts.retain(|r| r.0 > now);
        for (_, conn, child, attempt) in due {
            if let Err(e) = self.initiate_attempt(now, &conn, child.as_deref(), attempt) {
                warn!(%conn, "restarting failed: {e}");
            }
        }
    }

    /// Processes one received IKE datagram.
    pub fn handle_datagram(&mut self, now: Instant, d: Datagram<'_>) {
        // strongSwan's max_packet: nothing longer is read at all.
        if d.data.len() > self.cfg.max_packet {
            self.stats.oversized += 1;
            debug!(remote = %d.remote, "dropping a {}-byte datagram (max_packet {})", d.data.len(), self.cfg.max_packet);
            return;
        }
        let header = match Header::parse(d.data) {
            Ok(h) => h,
            Err(e) => {
                self.stats.malformed += 1;
                debug!(remote = %d.remote, "dropping datagram: {e}");
                return;
            }
        };
        let msg = match Message::parse(d.data) {
            Ok(m) => m,
            Err(e) => {
                self.stats.malformed += 1;
                // §2.21.1: answer only IKE_SA_INIT requests about an
                // unsupported major version or critical payload, without
                // creating state; everything else is dropped.
                if !header.flags.response && header.exchange == ExchangeType::IKE_SA_INIT {
                    let ty = e.notify_type();
                    if ty == NotifyType::INVALID_MAJOR_VERSION
                        || ty == NotifyType::UNSUPPORTED_CRITICAL_PAYLOAD
                    {
                        self.reply_stateless(&d, &header, ty, e.notify_data());
                    }
                }
                debug!(remote = %d.remote, "dropping malformed message: {e}");
                return;
            }
        };
        let our_spi = if header.flags.initiator {
            header.spi_r
        } else {
            header.spi_i
        };
        if header.exchange == ExchangeType::IKE_SA_INIT
            && !header.flags.response
            && header.spi_r == [0; 8]
        {
            return self.on_init_request(now, &d, &msg);
        }
        let key = u64::from_be_bytes(our_spi);
        if !self.sas.contains_key(&key) {
            self.stats.unknown_spi += 1;
            debug!(remote = %d.remote, spi = %format!("{key:016x}"), "dropping message for an unknown IKE_SA");
            return;
        }
        self.with_sa(now, key, |sa, ctx| {
            sa.handle(ctx, &msg, d.data, d.remote, d.local, d.nat_t)
        });
    }

    fn put_back(&mut self, sa: IkeSa) {
        if sa.state == State::Dead || !sa.half_open {
            self.guard.half_open.remove(sa.id.0);
        }
        if sa.state == State::Dead {
            return;
        }
        self.sas.insert(sa.route_spi(), sa);
    }

    fn reply_stateless(&mut self, d: &Datagram<'_>, h: &Header, ty: NotifyType, data: Vec<u8>) {
        let mut h = *h;
        h.flags = Flags {
            initiator: false,
            version: false,
            response: true,
            reserved: 0,
        };
        h.major = Header::IKEV2_MAJOR;
        h.minor = 0;
        let m = Message::new(
            h,
            vec![Payload::new(PayloadBody::Notify(NotifyPayload::new(
                ty, data,
            )))],
        );
        if let Ok(data) = m.try_emit() {
            self.transmits.push_back(Transmit {
                local: d.local,
                remote: d.remote,
                nat_t: d.nat_t,
                data,
            });
        }
    }

    /// An IKE_SA_INIT request (RFC 7296 §1.2): a retransmission is
    /// answered from its half-open SA; a new one passes the cookie and limit
    /// checks ([`InitGuard`]) before anything is spent on it.
    fn on_init_request(&mut self, now: Instant, d: &Datagram<'_>, msg: &Message) {
        self.stats.init_received += 1;
        let spi_i = msg.header.spi_i;
        // A retransmission of an IKE_SA_INIT we answered (§2.1).
        if let Some(k) = self.guard.half_open.lookup(spi_i, d.remote) {
            if self.sas.contains_key(&k) {
                self.with_sa(now, k, |sa, ctx| {
                    sa.handle(ctx, msg, d.data, d.remote, d.local, d.nat_t)
                });
                return;
            }
        }
        let ni = msg
            .payloads
            .iter()
            .find_map(|p| match &p.body {
                PayloadBody::Nonce(n) => Some(n.data.as_slice()),
                _ => None,
            })
            .unwrap_or_default();
        // §2.6: the COOKIE notify is the first payload.
        let cookie = msg.payloads.first().and_then(|p| match &p.body {
            PayloadBody::Notify(n) if n.ty == NotifyType::COOKIE => Some(n.data.as_slice()),
            _ => None,
        });
        let req = InitRequest {
            remote: d.remote,
            spi_i,
            ni,
            cookie,
        };
        match self.guard.check(&self.cfg, now, &req, self.sas.len()) {
            Verdict::Admit => {}
            Verdict::SendCookie => {
                self.stats.cookies_sent += 1;
                let c = self.guard.make_cookie(now, &req);
                debug!(remote = %d.remote, "sending COOKIE");
                self.reply_stateless(d, &msg.header, NotifyType::COOKIE, c);
                return;
            }
            Verdict::Drop(limit) => {
                self.stats.init_dropped += 1;
                if let Some(n) = self.prelog.allow(now) {
                    info!(
                        "ignoring IKE_SA setup from {}: {limit} reached{}",
                        d.remote,
                        suppressed_note(n)
                    );
                }
                return;
            }
        }
        // The connection by addresses (strongSwan: best address match).
        let peer = self
            .peers
            .iter()
            .filter_map(|p| {
                let r = p
                    .remote_addrs
                    .iter()
                    .filter_map(|m| m.matches(d.remote.ip()))
                    .max()?;
                let l = p
                    .local_addrs
                    .iter()
                    .filter_map(|m| m.matches(d.local.ip()))
                    .max()?;
                Some((r + l, p.clone()))
            })
            .max_by_key(|(s, _)| *s)
            .map(|(_, p)| p);
        let Some(peer) = peer else {
            if let Some(n) = self.prelog.allow(now) {
                info!(
                    "no IKE config found for {}...{}, sending NO_PROPOSAL_CHOSEN{}",
                    d.local.ip(),
                    d.remote.ip(),
                    suppressed_note(n)
                );
            }
            self.reply_stateless(d, &msg.header, NotifyType::NO_PROPOSAL_CHOSEN, vec![]);
            return;
        };
        let mut notes = Vec::new();
        let sas = &self.sas;
        let mut inuse = |spi: u32| sas.values().any(|s| s.has_spi_in(spi));
        let mut ctx = ctx!(self, now, notes, inuse);
        let answered = contain(|| {
            IkeSa::respond_init(&mut ctx, peer, msg, d.data, d.local, d.remote, d.nat_t)
        });
        match answered {
            Ok(Some(sa)) => {
                self.guard.half_open.insert(spi_i, d.remote, sa.id.0);
                self.sas.insert(sa.id.0, sa);
            }
            Ok(None) => {}
            Err(why) => {
                error!(remote = %d.remote, "internal error answering IKE_SA_INIT: {why}");
                return;
            }
        }
        self.process_notes(now, notes);
    }

    /// Runs `f` on one SA with a context, then puts it back and handles its
    /// follow-ups. A panic in `f` (a bug: nothing a peer sends should
    /// cause one) is contained: that IKE SA is deleted locally with its
    /// CHILD SAs, every other SA goes on.
    fn with_sa(&mut self, now: Instant, key: u64, f: impl FnOnce(&mut IkeSa, &mut Ctx<'_>)) {
        let Some(mut sa) = self.sas.remove(&key) else {
            return;
        };
        let mut notes = Vec::new();
        let outcome = {
            let sas = &self.sas;
            let spis: Vec<u32> = sa.children.iter().map(|c| c.spi_in).collect();
            let mut inuse =
                |spi: u32| spis.contains(&spi) || sas.values().any(|s| s.has_spi_in(spi));
            let mut ctx = ctx!(self, now, notes, inuse);
            contain(|| f(&mut sa, &mut ctx))
        };
        match outcome {
            Ok(()) => {
                self.put_back(sa);
                self.process_notes(now, notes);
            }
            Err(why) => self.bury(sa, &why),
        }
    }

    /// Drops an IKE SA whose handling panicked: its CHILD SAs leave the
    /// data plane and the daemon hears it is down; its state is not trusted
    /// for anything more (not even a DELETE to the peer, whose DPD or
    /// retransmissions find out).
    fn bury(&mut self, mut sa: IkeSa, why: &str) {
        error!(
            conn = %sa.peer.name,
            "internal error in IKE_SA {}[{}] ({}): {why}; deleting it locally, other SAs are not affected",
            sa.peer.name,
            sa.unique_id,
            sa.id
        );
        self.guard.half_open.remove(sa.id.0);
        self.stats.internal_errors += 1;
        self.actions.extend(IkeSa::orphaned(sa.take_children()));
        self.events.push_back(Event::IkeDown {
            id: sa.id,
            conn: sa.peer.name.clone(),
            reason: Failure::Local(format!("internal error: {why}")),
        });
    }

    fn process_notes(&mut self, now: Instant, notes: Vec<Note>) {
        for n in notes {
            match n {
                Note::Spawned(sa) => {
                    let sa = *sa;
                    self.sas.insert(sa.route_spi(), sa);
                }
                Note::AdoptChildren { from, to } => {
                    let children = self
                        .sas
                        .get_mut(&from.0)
                        .map(IkeSa::take_children)
                        .unwrap_or_default();
                    match self.sas.get_mut(&to.0) {
                        Some(target) => target.adopt_children(now, children),
                        None => self.actions.extend(IkeSa::orphaned(children)),
                    }
                }
                Note::MoveChildren { to, children } => match self.sas.get_mut(&to.0) {
                    Some(target) => target.adopt_children(now, children),
                    // The IKE SA they were to move to is gone: remove them
                    // from the data plane rather than leak them.
                    None => self.actions.extend(IkeSa::orphaned(children)),
                },
                Note::Reauth { old, children } => {
                    let conn = match self.sas.get(&old.0) {
                        Some(sa) => sa.peer.name.clone(),
                        None => continue,
                    };
                    let first = children.first().map(|c| c.name.clone());
                    match self.initiate_attempt(now, &conn, first.as_deref(), 2) {
                        Ok(id) => {
                            if let Some(new) = self.sas.get_mut(&id.0) {
                                new.replaces = Some(old);
                                new.extra_children = children.into_iter().skip(1).collect();
                            }
                        }
                        Err(e) => warn!(%conn, "reauthentication failed: {e}"),
                    }
                }
                Note::Authenticated(id) => {
                    // `unique` (strongSwan's uniqueness policy) between IKE
                    // SAs of one connection and one remote identity.
                    let Some(new) = self.sas.get(&id.0) else {
                        continue;
                    };
                    let policy = new.peer.unique;
                    let others: Vec<u64> = self
                        .sas
                        .iter()
                        .filter(|(_, s)| s.same_peer(new) && s.replaces.is_none())
                        .map(|(k, _)| *k)
                        .collect();
                    if others.is_empty() {
                        continue;
                    }
                    match policy {
                        crate::engine::config::Unique::Replace => {
                            for k in others {
                                info!("unique=replace: deleting duplicate IKE_SA {k:016x}");
                                self.with_sa(now, k, |sa, ctx| sa.terminate(ctx));
                            }
                        }
                        crate::engine::config::Unique::Keep => {
                            info!("unique=keep: deleting the new duplicate IKE_SA {id}");
                            self.with_sa(now, id.0, |sa, ctx| sa.terminate(ctx));
                        }
                        _ => {}
                    }
                }
                Note::DeleteRedundantIke(id) => {
                    self.with_sa(now, id.0, |sa, ctx| sa.terminate(ctx));
                }
                Note::InitialContact(id) => {
                    // RFC 7296 §2.4: the peer lost its state; delete our
                    // other IKE SAs with it, without notifying it. Only
                    // those established before the IKE SA that carried
                    // INITIAL_CONTACT began: one that came up meanwhile
                    // (simultaneous initiations) the peer has too, and
                    // deleting it silently would leave the peer holding an
                    // SA we no longer have.
                    let stale: Vec<u64> = match self.sas.get(&id.0) {
                        Some(new) => self
                            .sas
                            .iter()
                            .filter(|(_, s)| {
                                s.same_peer(new) && s.established_before(new.created_at())
                            })
                            .map(|(k, _)| *k)
                            .collect(),
                        None => Vec::new(),
                    };
                    for k in stale {
                        info!("INITIAL_CONTACT: deleting stale IKE_SA {k:016x}");
                        self.with_sa(now, k, |sa, ctx| sa.die(ctx, Failure::Replaced));
                    }
                }
                Note::Restart {
                    conn,
                    child,
                    attempt,
                } => {
                    // Retry with back-off for keyingtries (strongSwan retries at once
                    // after the retransmits are exhausted; a short pause avoids a tight
                    // loop against an unreachable peer).
                    let delay = if attempt > 1 {
                        Duration::from_secs(1)
                    } else {
                        Duration::ZERO
                    };
                    if delay.is_zero() {
                        if let Err(e) = self.initiate_attempt(now, &conn, child.as_deref(), attempt)
                        {
                            warn!(%conn, "restart failed: {e}");
                        }
                    } else {
                        self.pending_restarts
                            .push((now + delay, conn, child, attempt));
                    }
                }
            }
        }
        self.sas.retain(|_, s| s.state != State::Dead);
        let _ = PayloadType::NONE;
    }
}

/// Runs `f`, turning a panic into its message: the last resort that keeps
/// one IKE SA's bug from taking every tunnel down. Not a substitute for
/// fixing the panic (the fuzz targets look for them).
fn contain<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|e| {
        e.downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| e.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".into())
    })
}
