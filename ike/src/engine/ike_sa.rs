//! One IKE SA and its CHILD SAs: the exchanges of RFC 7296 as small steps
//! (STYLE.md §3). Requests we initiate are queued as [`Task`]s and run one at
//! a time (a window of one, §2.3); requests from the peer are answered as
//! they come, with the last response cached for retransmissions (§2.1).

use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand_core::CryptoRngCore;
use tracing::{debug, error, info, warn};

use crate::crypto::{
    check_peer_public, rekey_skeyseed, signed_octets, ChildKeys, IkeKeys, KeyExchange, Prf,
    SecretBytes, SkCipher, Suite,
};
use crate::engine::auth::{self, AuthClass};
use crate::engine::config::{
    find_psk, ChildConfig, EngineConfig, Mode, PeerAction, PeerConfig, SharedKey, TsSpec,
};
use crate::engine::lifetime;
use crate::engine::natd::natd_hash;
use crate::engine::ratelimit::{bounded_list, suppressed_note, LogLimiter};
use crate::engine::ts::{self, Ts};
use crate::engine::types::{
    retransmit_delay, Action, ChildInfo, ChildInstall, Event, Failure, IkeInfo, IkeSaId, SaKeys,
    Transmit, VolumeLimits,
};
use crate::proposal::{proposal_name, select, Preference, SelectOptions};
use crate::wire::{
    check_payload_chain, parse_payload_chain, try_emit_payload_chain, AuthPayload, DeletePayload,
    DhGroup, ExchangeType, Flags, Header, Identification, KePayload, Message, NoncePayload,
    NotifyPayload, NotifyType, Payload, PayloadBody, PayloadType, Proposal, ProtocolId, SaPayload,
    SkPayload, SkfPayload, TransformType, TsPayload,
};

/// Our nonce length: 32 octets, at least half the PRF key size of every PRF
/// we negotiate (RFC 7296 §2.10).
const NONCE_LEN: usize = 32;

/// How long an IKE SA replaced by the peer's rekey waits for the peer's
/// DELETE before deleting itself (strongSwan's delete_ike_sa_job after an
/// IKE rekey as responder: 90 s).
const REKEYED_IKE_SA_TIMEOUT: Duration = Duration::from_secs(90);

/// Traffic selectors one TS payload can carry (the Number of TSs is one
/// octet, RFC 7296 §3.13).
const MAX_TS: usize = 255;

/// Everything a step may touch outside its IKE SA.
pub(crate) struct Ctx<'a> {
    pub now: Instant,
    pub cfg: &'a EngineConfig,
    pub rng: &'a mut (dyn CryptoRngCore + Send),
    pub transmits: &'a mut VecDeque<Transmit>,
    pub events: &'a mut VecDeque<Event>,
    pub actions: &'a mut VecDeque<Action>,
    /// The endpoint's counters (retransmits, DPD timeouts).
    pub stats: &'a mut crate::engine::Stats,
    pub keys: &'a [SharedKey],
    pub peers: &'a [Arc<PeerConfig>],
    pub next_unique: &'a mut u32,
    pub spi_in_use: &'a mut dyn FnMut(u32) -> bool,
    /// Follow-ups only the endpoint can do.
    pub notes: &'a mut Vec<Note>,
    /// Octets of partly reassembled messages the other IKE SAs hold.
    pub reassembly_elsewhere: &'a dyn Fn() -> usize,
    /// Rate limit for log lines about unauthenticated peers.
    pub prelog: &'a mut LogLimiter,
    /// Whether another IKE SA with this peer is up (strongSwan's
    /// `has_contact`): connection, our identity, the peer's identity (if
    /// configured) and its address.
    pub has_contact: &'a HasContact<'a>,
    /// Certificates, keys and trust (public-key authentication).
    pub creds: Option<&'a dyn crate::engine::auth::Credentials>,
}

/// See [`Ctx::has_contact`].
pub(crate) type HasContact<'a> =
    dyn Fn(&str, &Identification, Option<&Identification>, IpAddr) -> bool + 'a;

/// Logs at `$lvl` through the context's rate limit: for what an
/// unauthenticated peer can trigger once per datagram.
macro_rules! limited {
    ($ctx:expr, $lvl:ident, $($arg:tt)+) => {
        if let Some(n) = $ctx.prelog.allow($ctx.now) {
            tracing::$lvl!("{}{}", format_args!($($arg)+), suppressed_note(n));
        }
    };
}

impl Ctx<'_> {
    fn unique(&mut self) -> u32 {
        *self.next_unique += 1;
        *self.next_unique
    }

    fn random(&mut self, n: usize) -> Vec<u8> {
        let mut v = vec![0u8; n];
        self.rng.fill_bytes(&mut v);
        v
    }

    fn ike_spi(&mut self) -> [u8; 8] {
        loop {
            let mut s = [0u8; 8];
            self.rng.fill_bytes(&mut s);
            if s != [0; 8] {
                return s;
            }
        }
    }

    /// A fresh inbound ESP SPI (RFC 4303 §2.1: 1–255 are reserved).
    fn esp_spi(&mut self) -> u32 {
        loop {
            let v = self.rng.next_u32();
            if v >= 0x100 && !(self.spi_in_use)(v) {
                return v;
            }
        }
    }

    /// A random duration in `0..=max`.
    fn jitter(&mut self, max: Duration) -> Duration {
        if max.is_zero() {
            return Duration::ZERO;
        }
        let ms = max.as_millis().min(u128::from(u64::MAX)) as u64;
        Duration::from_millis(self.rng.next_u64() % (ms + 1))
    }
}

/// Follow-ups for the endpoint.
#[derive(Debug)]
pub(crate) enum Note {
    /// A new IKE SA from a rekey, to be routed by its SPI.
    Spawned(Box<IkeSa>),
    /// The peer sent INITIAL_CONTACT in this SA's IKE_AUTH (RFC 7296
    /// §2.4): other IKE SAs between the same identities are stale.
    InitialContact(IkeSaId),
    /// Establish this connection again (keyingtries, dpd/close_action).
    Restart {
        conn: String,
        child: Option<String>,
        attempt: u32,
    },
    /// Move CHILD SAs from one IKE SA to another (IKE SA rekey, §2.8).
    AdoptChildren { from: IkeSaId, to: IkeSaId },
    /// The same with the children already taken from a dying IKE SA.
    MoveChildren { to: IkeSaId, children: Vec<ChildSa> },
    /// Delete the IKE SA our rekey created: it lost a collision (§2.8.2).
    DeleteRedundantIke(IkeSaId),
    /// Reauthenticate: build a new IKE SA with these children, then delete
    /// this one (make-before-break).
    Reauth {
        old: IkeSaId,
        children: Vec<ChildConfig>,
    },
    /// A responder IKE SA was authenticated: apply `unique`.
    Authenticated(IkeSaId),
}

/// Where an IKE SA stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    /// Initiator: IKE_SA_INIT sent.
    InitSent,
    /// Initiator: IKE_AUTH sent.
    AuthSent,
    /// Responder: IKE_SA_INIT answered, waiting for IKE_AUTH.
    HalfOpen,
    /// Established.
    Established,
    /// Replaced by a rekeyed IKE SA; kept until its deletion.
    Rekeyed,
    /// DELETE sent or being sent.
    Deleting,
    /// Gone; the endpoint removes it.
    Dead,
}

/// A request we want to make.
#[derive(Clone, Debug)]
pub(crate) enum Task {
    CreateChild(Box<ChildConfig>),
    /// A CREATE_CHILD_SA that re-establishes a lost CHILD SA.
    Recreate(Box<ChildConfig>),
    RekeyChild(u32),
    RekeyIke,
    DeleteChild(u32),
    DeleteIke,
    Dpd,
}

/// A CHILD SA being negotiated by us.
#[derive(Debug)]
struct PendingChild {
    cfg: ChildConfig,
    spi_in: u32,
    nonce: Vec<u8>,
    ke: Option<KeyExchange>,
    local_ts: Vec<Ts>,
    remote_ts: Vec<Ts>,
    proposals: Vec<Proposal>,
    /// For a rekey, the inbound SPI of the SA being replaced.
    rekeys: Option<u32>,
    /// Whether it re-establishes a CHILD SA that was lost (hard expiry, a
    /// failed rekey): retried until it works while the IKE SA lives.
    reestablish: bool,
}

/// A lost CHILD SA to establish again, and when.
#[derive(Debug)]
struct Recreate {
    cfg: ChildConfig,
    at: Instant,
    attempt: u32,
}

/// The request in flight.
#[derive(Debug)]
enum Req {
    Init,
    Auth(Option<Box<PendingChild>>),
    CreateChild(Box<PendingChild>),
    RekeyIke {
        spi: [u8; 8],
        nonce: Vec<u8>,
        ke: KeyExchange,
        proposals: Vec<Proposal>,
    },
    Delete {
        ike: bool,
        spis: Vec<u32>,
    },
    Dpd,
}

#[derive(Debug)]
struct Active {
    req: Req,
    msg_id: u32,
    packets: Vec<Vec<u8>>,
    tries: u32,
    next: Instant,
}

/// A CHILD SA.
#[derive(Debug)]
pub(crate) struct ChildSa {
    unique_id: u32,
    cfg: ChildConfig,
    state: ChildState,
    pub(crate) spi_in: u32,
    pub(crate) spi_out: u32,
    proposal: Proposal,
    esn: bool,
    encap: bool,
    local_ts: Vec<Ts>,
    remote_ts: Vec<Ts>,
    installed_at: Instant,
    rekey_at: Option<Instant>,
    expire_at: Option<Instant>,
    /// Nonces of the exchange that made it (for rekey collisions, §2.8.1).
    nonces: (Vec<u8>, Vec<u8>),
    /// Whether we initiated the exchange that created it.
    created_by_us: bool,
    outbound_active: bool,
    /// When a replaced SA is finally removed.
    remove_at: Option<Instant>,
    /// Whether the data plane holds it (an expired SA leaves at once, its
    /// record stays until the peer has its DELETE).
    in_dataplane: bool,
    /// Whether it reached its hard lifetime.
    expired: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ChildState {
    Installed,
    Rekeying,
    Rekeyed,
    Deleting,
}

impl ChildState {
    fn name(self) -> &'static str {
        match self {
            ChildState::Installed => "INSTALLED",
            ChildState::Rekeying => "REKEYING",
            ChildState::Rekeyed => "REKEYED",
            ChildState::Deleting => "DELETING",
        }
    }
}

/// A response we sent, kept for retransmitted requests (RFC 7296 §2.1).
#[derive(Debug)]
struct Cached {
    msg_id: u32,
    request_hash: [u8; 32],
    packets: Vec<Vec<u8>>,
}

/// Fragments being reassembled (RFC 7383 §2.6): one message at a time,
/// at most `max_fragments` of them and `max_packet` octets in all, for at
/// most `fragment_timeout`.
#[derive(Debug)]
struct Reassembly {
    msg_id: u32,
    total: u16,
    first: PayloadType,
    parts: BTreeMap<u16, Vec<u8>>,
    /// Octets held in `parts`.
    bytes: usize,
    started: Instant,
}

/// One IKE SA.
pub(crate) struct IkeSa {
    pub(crate) id: IkeSaId,
    pub(crate) unique_id: u32,
    /// Original initiator of this IKE SA (§2.2).
    pub(crate) initiator: bool,
    pub(crate) spi_i: [u8; 8],
    pub(crate) spi_r: [u8; 8],
    pub(crate) peer: Arc<PeerConfig>,
    pub(crate) local: SocketAddr,
    pub(crate) remote: SocketAddr,
    pub(crate) state: State,
    nat_t: bool,
    nat_local: bool,
    nat_remote: bool,
    frag: bool,
    suite: Option<Suite>,
    proposal: Option<Proposal>,
    keys: Option<IkeKeys>,
    out: Option<SkCipher>,
    inb: Option<SkCipher>,
    ni: Vec<u8>,
    nr: Vec<u8>,
    ke: Option<KeyExchange>,
    cookie: Option<Vec<u8>>,
    init_request: Vec<u8>,
    init_response: Vec<u8>,
    pub(crate) remote_id: Option<Identification>,
    next_out: u32,
    next_in: u32,
    active: Option<Active>,
    queue: VecDeque<Task>,
    cached: Option<Cached>,
    reassembly: Option<Reassembly>,
    /// The message ID of a fragmented message refused for its size.
    refused_fragmented: Option<u32>,
    pub(crate) children: Vec<ChildSa>,
    /// Lost CHILD SAs waiting to be established again.
    recreate: Vec<Recreate>,
    /// When this SA, replaced by a rekey the peer made, is deleted if the
    /// peer never deletes it (strongSwan: 90 s).
    reap_at: Option<Instant>,
    /// The child to set up in IKE_AUTH (initiator).
    first_child: Option<ChildConfig>,
    created_at: Instant,
    established_at: Option<Instant>,
    rekey_at: Option<Instant>,
    reauth_at: Option<Instant>,
    expire_at: Option<Instant>,
    last_rx: Instant,
    last_esp: Option<Instant>,
    next_keepalive: Option<Instant>,
    /// Which connection attempt this is (keyingtries).
    pub(crate) attempt: u32,
    /// Nonces of the exchange that created this SA by rekeying (§2.8.2).
    rekey_nonces: Option<(Vec<u8>, Vec<u8>)>,
    /// A rekey of this SA by the peer that we answered while our own was
    /// in flight: the new SA's id and the lowest nonce of that exchange.
    peer_rekey: Option<(IkeSaId, Vec<u8>)>,
    /// INITIAL_CONTACT received in IKE_AUTH.
    pub(crate) initial_contact: bool,
    pub(crate) half_open: bool,
    /// The IKE SA this one reauthenticates, deleted once this one carries
    /// all the children.
    pub(crate) replaces: Option<IkeSaId>,
    /// Children to create after IKE_AUTH (reauthentication).
    pub(crate) extra_children: Vec<ChildConfig>,
    /// The peer's SIGNATURE_HASH_ALGORITHMS and CERTREQs.
    announced: auth::PeerAnnounced,
}

impl std::fmt::Debug for IkeSa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IkeSa")
            .field("id", &self.id)
            .field("conn", &self.peer.name)
            .field("state", &self.state)
            .field("initiator", &self.initiator)
            .field("remote", &self.remote)
            .finish_non_exhaustive()
    }
}

fn notify(ty: NotifyType, data: Vec<u8>) -> Payload {
    Payload::new(PayloadBody::Notify(NotifyPayload::new(ty, data)))
}

fn find_notify(payloads: &[Payload], ty: NotifyType) -> Option<&NotifyPayload> {
    payloads.iter().find_map(|p| match &p.body {
        PayloadBody::Notify(n) if n.ty == ty => Some(n),
        _ => None,
    })
}

fn error_notify(payloads: &[Payload]) -> Option<&NotifyPayload> {
    payloads.iter().find_map(|p| match &p.body {
        PayloadBody::Notify(n) if n.ty.is_error() => Some(n),
        _ => None,
    })
}

fn find_sa(payloads: &[Payload]) -> Option<&SaPayload> {
    payloads.iter().find_map(|p| match &p.body {
        PayloadBody::Sa(s) => Some(s),
        _ => None,
    })
}

fn find_idi(payloads: &[Payload]) -> Option<Identification> {
    payloads.iter().find_map(|p| match &p.body {
        PayloadBody::IdI(i) => Some(i.clone()),
        _ => None,
    })
}

fn find_idr(payloads: &[Payload]) -> Option<Identification> {
    payloads.iter().find_map(|p| match &p.body {
        PayloadBody::IdR(i) => Some(i.clone()),
        _ => None,
    })
}

fn find_auth(payloads: &[Payload]) -> Option<AuthPayload> {
    payloads.iter().find_map(|p| match &p.body {
        PayloadBody::Auth(a) => Some(a.clone()),
        _ => None,
    })
}

fn find_ke(payloads: &[Payload]) -> Option<&KePayload> {
    payloads.iter().find_map(|p| match &p.body {
        PayloadBody::Ke(k) => Some(k),
        _ => None,
    })
}

fn find_nonce(payloads: &[Payload]) -> Option<&[u8]> {
    payloads.iter().find_map(|p| match &p.body {
        PayloadBody::Nonce(n) => Some(n.data.as_slice()),
        _ => None,
    })
}

fn find_ts(payloads: &[Payload]) -> Option<(Vec<Ts>, Vec<Ts>)> {
    let tsi = payloads.iter().find_map(|p| match &p.body {
        PayloadBody::TsI(t) => Some(t),
        _ => None,
    })?;
    let tsr = payloads.iter().find_map(|p| match &p.body {
        PayloadBody::TsR(t) => Some(t),
        _ => None,
    })?;
    let conv = |t: &TsPayload| t.selectors.iter().filter_map(Ts::from_wire).collect();
    Some((conv(tsi), conv(tsr)))
}

fn ts_payloads(tsi: &[Ts], tsr: &[Ts]) -> [Payload; 2] {
    let w = |v: &[Ts]| TsPayload {
        selectors: v.iter().map(Ts::to_wire).collect(),
    };
    [
        Payload::new(PayloadBody::TsI(w(tsi))),
        Payload::new(PayloadBody::TsR(w(tsr))),
    ]
}

fn sa_payload(proposals: Vec<Proposal>) -> Payload {
    Payload::new(PayloadBody::Sa(SaPayload { proposals }))
}

fn with_spi(proposals: &[Proposal], spi: &[u8]) -> Vec<Proposal> {
    proposals
        .iter()
        .map(|p| Proposal {
            spi: spi.to_vec(),
            ..p.clone()
        })
        .collect()
}

fn spi_u32(spi: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(spi.try_into().ok()?))
}

/// The proposals limited to those whose KE transform is `group` (so a
/// responder prefers the group the initiator already sent a KE for).
fn restrict_ke(offered: &[Proposal], group: DhGroup) -> Vec<Proposal> {
    offered
        .iter()
        .filter(|p| {
            p.transforms
                .iter()
                .any(|t| t.ty == TransformType::KE && t.id == group.0)
        })
        .map(|p| Proposal {
            transforms: p
                .transforms
                .iter()
                .filter(|t| t.ty != TransformType::KE || t.id == group.0)
                .cloned()
                .collect(),
            ..p.clone()
        })
        .collect()
}

fn ke_of(p: &Proposal) -> Option<DhGroup> {
    p.transforms
        .iter()
        .find(|t| t.ty == TransformType::KE && t.id != 0)
        .map(|t| DhGroup(t.id))
}

/// A human-readable identity, as strongSwan prints it. The text of an FQDN
/// or RFC 822 identity is the peer's: every byte outside printable ASCII
/// (a NUL, a newline, an escape, non-ASCII) becomes `?`, as strongSwan's
/// `identification_printf_hook` does (`chunk_printable(.., '?')`), so an
/// identity can neither forge log lines nor break an updown script's
/// environment.
pub(crate) fn id_string(id: &Identification) -> String {
    match id {
        Identification::Ipv4(a) => a.to_string(),
        Identification::Ipv6(a) => a.to_string(),
        Identification::Fqdn(d) | Identification::Rfc822(d) => printable(d),
        Identification::KeyId(d) => format!("@#{}", hex(d)),
        Identification::DerAsn1Dn(d) => {
            crate::wire::dn_to_string(d).unwrap_or_else(|| format!("dn:{}", hex(d)))
        }
        Identification::Other { ty, data } => format!("{ty}:{}", hex(data)),
    }
}

/// `d` with every byte outside printable ASCII (0x20..=0x7e) replaced by
/// `?` (strongSwan's `chunk_printable`).
pub(crate) fn printable(d: &[u8]) -> String {
    d.iter()
        .map(|&b| {
            if (0x20..=0x7e).contains(&b) {
                char::from(b)
            } else {
                '?'
            }
        })
        .collect()
}

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn request_hash(data: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Resolves the configured selectors of one side: `dynamic` is the IKE
/// endpoint's own address.
fn resolve_ts(specs: &[TsSpec], host: SocketAddr) -> Vec<Ts> {
    specs
        .iter()
        .map(|s| match s {
            TsSpec::Dynamic => Ts::host(host.ip()),
            TsSpec::Range(t) => *t,
        })
        .collect()
}

impl IkeSa {
    fn blank(
        ctx: &mut Ctx<'_>,
        peer: Arc<PeerConfig>,
        initiator: bool,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Self {
        let unique_id = ctx.unique();
        IkeSa {
            id: IkeSaId(0),
            unique_id,
            initiator,
            spi_i: [0; 8],
            spi_r: [0; 8],
            peer: peer.at_address(local.ip()),
            local,
            remote,
            state: State::InitSent,
            nat_t: false,
            nat_local: false,
            nat_remote: false,
            frag: false,
            suite: None,
            proposal: None,
            keys: None,
            out: None,
            inb: None,
            ni: Vec::new(),
            nr: Vec::new(),
            ke: None,
            cookie: None,
            init_request: Vec::new(),
            init_response: Vec::new(),
            remote_id: None,
            next_out: 0,
            next_in: 0,
            active: None,
            queue: VecDeque::new(),
            cached: None,
            reassembly: None,
            refused_fragmented: None,
            children: Vec::new(),
            recreate: Vec::new(),
            reap_at: None,
            first_child: None,
            created_at: ctx.now,
            established_at: None,
            rekey_at: None,
            reauth_at: None,
            expire_at: None,
            last_rx: ctx.now,
            last_esp: None,
            next_keepalive: None,
            attempt: 1,
            rekey_nonces: None,
            peer_rekey: None,
            initial_contact: false,
            half_open: false,
            replaces: None,
            extra_children: Vec::new(),
            announced: auth::PeerAnnounced::default(),
        }
    }

    fn our_spi(&self) -> [u8; 8] {
        if self.initiator {
            self.spi_i
        } else {
            self.spi_r
        }
    }

    fn conn(&self) -> &str {
        &self.peer.name
    }

    fn header(&self, exchange: ExchangeType, response: bool, message_id: u32) -> Header {
        Header {
            spi_i: self.spi_i,
            spi_r: self.spi_r,
            next_payload: PayloadType::NONE,
            major: Header::IKEV2_MAJOR,
            minor: 0,
            exchange,
            flags: Flags {
                initiator: self.initiator,
                version: false,
                response,
                reserved: 0,
            },
            message_id,
            length: 0,
        }
    }

    /// Our port for IKE now.
    fn send(&self, ctx: &mut Ctx<'_>, packets: &[Vec<u8>]) {
        for p in packets {
            ctx.transmits.push_back(Transmit {
                local: self.local,
                remote: self.remote,
                nat_t: self.nat_t,
                data: p.clone(),
            });
        }
    }

    // ------------------------------------------------------------------
    // Initiator: IKE_SA_INIT
    // ------------------------------------------------------------------

    /// A new IKE SA as initiator; sends IKE_SA_INIT.
    pub(crate) fn initiate(
        ctx: &mut Ctx<'_>,
        peer: Arc<PeerConfig>,
        child: Option<ChildConfig>,
        local: SocketAddr,
        remote: SocketAddr,
        attempt: u32,
    ) -> Result<IkeSa, Failure> {
        let group = *peer
            .ke_groups()
            .first()
            .ok_or_else(|| Failure::Local(format!("{}: no key exchange group", peer.name)))?;
        if peer.local_id_at(local.ip()).is_none() {
            return Err(Failure::Local(format!(
                "{}: no local.id and no local address to use as identity (no route to {})",
                peer.name,
                remote.ip()
            )));
        }
        let mut sa = IkeSa::blank(ctx, peer, true, local, remote);
        sa.attempt = attempt;
        sa.spi_i = ctx.ike_spi();
        sa.id = IkeSaId(u64::from_be_bytes(sa.spi_i));
        sa.ni = ctx.random(NONCE_LEN);
        sa.ke = Some(
            KeyExchange::generate(group, ctx.rng)
                .map_err(|e| Failure::Local(format!("key exchange: {e}")))?,
        );
        sa.first_child = child;
        info!(conn = %sa.conn(), %remote, "initiating IKE_SA {}[{}]", sa.conn(), sa.unique_id);
        sa.send_init(ctx);
        Ok(sa)
    }

    fn init_payloads(&self, ctx: &mut Ctx<'_>) -> Vec<Payload> {
        let mut p = Vec::new();
        if let Some(c) = &self.cookie {
            p.push(notify(NotifyType::COOKIE, c.clone()));
        }
        let ke = self.ke.as_ref().expect("initiator has a key exchange");
        p.push(sa_payload(self.peer.proposals.clone()));
        p.push(Payload::new(PayloadBody::Ke(KePayload {
            group: ke.group(),
            data: ke.public_value().to_vec(),
        })));
        p.push(Payload::new(PayloadBody::Nonce(NoncePayload {
            data: self.ni.clone(),
        })));
        p.extend(self.natd_payloads(ctx));
        if self.peer.fragmentation {
            p.push(notify(NotifyType::IKEV2_FRAGMENTATION_SUPPORTED, vec![]));
        }
        // RFC 7427 §4.
        p.push(auth::hash_algorithms_notify());
        p
    }

    /// NAT_DETECTION_SOURCE_IP / DESTINATION_IP (RFC 7296 §2.23). With
    /// `encap = yes` the source hash is random, so the peer sees a NAT and
    /// both sides encapsulate.
    fn natd_payloads(&self, ctx: &mut Ctx<'_>) -> [Payload; 2] {
        let src = if self.peer.encap {
            ctx.random(20)
        } else {
            natd_hash(&self.spi_i, &self.spi_r, self.local)
        };
        let dst = natd_hash(&self.spi_i, &self.spi_r, self.remote);
        [
            notify(NotifyType::NAT_DETECTION_SOURCE_IP, src),
            notify(NotifyType::NAT_DETECTION_DESTINATION_IP, dst),
        ]
    }

    fn send_init(&mut self, ctx: &mut Ctx<'_>) {
        let payloads = self.init_payloads(ctx);
        let msg = Message::new(self.header(ExchangeType::IKE_SA_INIT, false, 0), payloads);
        let bytes = match msg.try_emit() {
            Ok(b) => b,
            Err(e) => {
                return self.fail(
                    ctx,
                    Failure::Local(format!("cannot encode IKE_SA_INIT: {e}")),
                )
            }
        };
        self.init_request = bytes.clone();
        self.state = State::InitSent;
        self.next_out = 0;
        self.start_request(ctx, Req::Init, 0, vec![bytes]);
    }

    fn start_request(&mut self, ctx: &mut Ctx<'_>, req: Req, msg_id: u32, packets: Vec<Vec<u8>>) {
        self.send(ctx, &packets);
        self.active = Some(Active {
            req,
            msg_id,
            packets,
            tries: 0,
            next: ctx.now
                + retransmit_delay(ctx.cfg.retransmit_timeout, ctx.cfg.retransmit_base, 0),
        });
    }

    /// Processes the IKE_SA_INIT response (RFC 7296 §1.2, §2.6, §1.3).
    fn on_init_response(&mut self, ctx: &mut Ctx<'_>, msg: &Message, raw: &[u8]) {
        let p = &msg.payloads;
        if let Some(n) = find_notify(p, NotifyType::COOKIE) {
            if self.cookie.is_some() && self.cookie.as_deref() == Some(&n.data[..]) {
                return self.fail(ctx, Failure::Protocol("repeated COOKIE".into()));
            }
            debug!(conn = %self.conn(), "received COOKIE, retrying IKE_SA_INIT");
            self.cookie = Some(n.data.clone());
            self.active = None;
            return self.send_init(ctx);
        }
        if let Some(n) = find_notify(p, NotifyType::INVALID_KE_PAYLOAD) {
            let wanted = n
                .data
                .get(..2)
                .map(|d| DhGroup(u16::from_be_bytes([d[0], d[1]])));
            let ours = self.peer.ke_groups();
            let current = self.ke.as_ref().map(KeyExchange::group);
            match wanted {
                Some(g) if ours.contains(&g) && Some(g) != current => {
                    info!(conn = %self.conn(), "peer didn't accept DH group {:?}, it requested {g}", current);
                    match KeyExchange::generate(g, ctx.rng) {
                        Ok(ke) => self.ke = Some(ke),
                        Err(e) => return self.fail(ctx, Failure::Local(e.to_string())),
                    }
                    self.active = None;
                    return self.send_init(ctx);
                }
                _ => {
                    return self.fail(
                        ctx,
                        Failure::NoProposal(format!(
                            "peer requested key exchange group {wanted:?}, which is not configured"
                        )),
                    )
                }
            }
        }
        if let Some(n) = error_notify(p) {
            let f = if n.ty == NotifyType::NO_PROPOSAL_CHOSEN {
                Failure::NoProposal(format!(
                    "peer accepted none of our IKE proposals: {}",
                    self.peer
                        .proposals
                        .iter()
                        .map(proposal_name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            } else {
                Failure::PeerError(format!("{} in IKE_SA_INIT response", n.ty))
            };
            return self.fail(ctx, f);
        }
        let (Some(sa), Some(ke), Some(nr)) = (find_sa(p), find_ke(p), find_nonce(p)) else {
            return self.fail(
                ctx,
                Failure::Protocol("IKE_SA_INIT response lacks SA, KE or Nonce".into()),
            );
        };
        if !(16..=256).contains(&nr.len()) {
            return self.fail(ctx, Failure::Protocol("nonce length out of range".into()));
        }
        // The responder must have chosen one of our proposals (§3.3.6).
        let chosen = match sa.proposals.as_slice() {
            [one] => one.clone(),
            _ => return self.fail(ctx, Failure::Protocol("SA must hold one proposal".into())),
        };
        if select(
            &self.peer.proposals,
            std::slice::from_ref(&chosen),
            SelectOptions::default(),
        )
        .is_err()
        {
            return self.fail(
                ctx,
                Failure::Protocol(format!(
                    "responder chose a proposal we did not offer: {}",
                    proposal_name(&chosen)
                )),
            );
        }
        let suite = match Suite::from_proposal(&chosen) {
            Ok(s) => s,
            Err(e) => return self.fail(ctx, Failure::Protocol(e.to_string())),
        };
        let our_ke = self.ke.take().expect("initiator KE");
        if Some(ke.group) != suite.ke || ke.group != our_ke.group() {
            return self.fail(
                ctx,
                Failure::Protocol("KE group differs from the selected proposal".into()),
            );
        }
        let g_ir = match our_ke.agree(&ke.data) {
            Ok(s) => s,
            Err(e) => return self.fail(ctx, Failure::Protocol(e.to_string())),
        };
        self.spi_r = msg.header.spi_r;
        self.nr = nr.to_vec();
        self.init_response = raw.to_vec();
        if let Err(f) = self.derive_keys(&suite, g_ir.as_bytes()) {
            return self.fail(ctx, f);
        }
        self.proposal = Some(chosen);
        self.suite = Some(suite);
        self.frag = self.peer.fragmentation
            && find_notify(p, NotifyType::IKEV2_FRAGMENTATION_SUPPORTED).is_some();
        self.detect_nat(ctx, p);
        self.announced.learn(p);
        self.active = None;
        self.next_out = 1;
        self.next_in = 0;
        self.send_auth(ctx);
    }

    fn derive_keys(&mut self, suite: &Suite, g_ir: &[u8]) -> Result<(), Failure> {
        let keys =
            IkeKeys::from_shared_secret(suite, g_ir, &self.ni, &self.nr, &self.spi_i, &self.spi_r)
                .map_err(|e| Failure::Local(format!("key derivation: {e}")))?;
        self.install_keys(suite, keys)
    }

    /// The SK payload keys, once derived (for a key log).
    pub(crate) fn secrets(&self) -> Option<crate::engine::types::IkeSecrets> {
        let (keys, suite) = (self.keys.as_ref()?, self.suite.as_ref()?);
        Some(crate::engine::types::IkeSecrets {
            id: self.id,
            conn: self.peer.name.clone(),
            spi_i: self.spi_i,
            spi_r: self.spi_r,
            encr: suite.encr,
            integ: suite.integ,
            sk_ei: keys.sk_ei.clone(),
            sk_er: keys.sk_er.clone(),
            sk_ai: keys.sk_ai.clone(),
            sk_ar: keys.sk_ar.clone(),
        })
    }

    fn install_keys(&mut self, suite: &Suite, keys: IkeKeys) -> Result<(), Failure> {
        let (out, inb) = keys
            .sk_ciphers(suite, self.initiator)
            .map_err(|e| Failure::Local(format!("SK ciphers: {e}")))?;
        self.out = Some(out);
        self.inb = Some(inb);
        self.keys = Some(keys);
        Ok(())
    }

    /// Evaluates NAT_DETECTION_* of an IKE_SA_INIT message (§2.23) and
    /// floats to the NAT-T port if a NAT is on the path.
    fn detect_nat(&mut self, ctx: &mut Ctx<'_>, p: &[Payload]) {
        let src = find_notify(p, NotifyType::NAT_DETECTION_SOURCE_IP);
        let dst = find_notify(p, NotifyType::NAT_DETECTION_DESTINATION_IP);
        let (Some(src), Some(dst)) = (src, dst) else {
            return;
        };
        // The hashes cover the SPIs as in the header of the message that
        // carried them (§2.23): SPIr is zero in the IKE_SA_INIT request.
        let spi_r = if self.initiator { self.spi_r } else { [0; 8] };
        let remote_hash = natd_hash(&self.spi_i, &spi_r, self.remote);
        let local_hash = natd_hash(&self.spi_i, &spi_r, self.local);
        self.nat_remote = src.data != remote_hash;
        self.nat_local = dst.data != local_hash || self.peer.encap;
        if self.nat_local || self.nat_remote {
            info!(
                conn = %self.conn(),
                "NAT detected: local {}, remote {}", self.nat_local, self.nat_remote
            );
            if self.initiator {
                self.float(ctx);
            }
        }
    }

    /// Switches to the NAT-T port (RFC 7296 §2.23).
    fn float(&mut self, ctx: &mut Ctx<'_>) {
        if self.nat_t {
            return;
        }
        self.nat_t = true;
        self.local.set_port(ctx.cfg.port_nat_t);
        if self.remote.port() == ctx.cfg.port {
            self.remote.set_port(ctx.cfg.port_nat_t);
        }
        if self.nat_local {
            self.next_keepalive = Some(ctx.now + ctx.cfg.keep_alive);
        }
    }

    // ------------------------------------------------------------------
    // Encrypted messages
    // ------------------------------------------------------------------

    /// Seals `payloads` into one SK message, or into SKF fragments when it
    /// would exceed the fragment size and fragmentation was negotiated
    /// (RFC 7383 §2.5). Fails, without panicking, on payloads the codec
    /// cannot encode ([`Message::check`]) or a cipher failure.
    fn seal(
        &self,
        ctx: &mut Ctx<'_>,
        exchange: ExchangeType,
        response: bool,
        msg_id: u32,
        payloads: &[Payload],
    ) -> Result<Vec<Vec<u8>>, String> {
        let cipher = self.out.as_ref().ok_or("no keys yet")?;
        let mut inner = Vec::new();
        let first = try_emit_payload_chain(payloads, &mut inner).map_err(|e| e.to_string())?;
        let header = self.header(exchange, response, msg_id);
        let overhead =
            if self.remote.is_ipv4() { 20 } else { 40 } + 8 + if self.nat_t { 4 } else { 0 };
        let max = ctx.cfg.fragment_size.saturating_sub(overhead);
        let whole = Header::LEN + 4 + cipher.sealed_len(inner.len());
        if !self.frag || whole <= max {
            return Ok(vec![self.seal_one(ctx, header, first, &inner, None)?]);
        }
        // Largest plaintext chunk whose SKF message fits.
        let room = max.saturating_sub(Header::LEN + 8);
        let mut chunk = room;
        while chunk > 1 && cipher.sealed_len(chunk) > room {
            chunk -= 1;
        }
        let chunk = chunk.max(1);
        let total = inner.len().div_ceil(chunk);
        let Ok(total16) = u16::try_from(total) else {
            return Ok(vec![self.seal_one(ctx, header, first, &inner, None)?]);
        };
        let mut out = Vec::with_capacity(total);
        for (i, part) in inner.chunks(chunk).enumerate() {
            let num = u16::try_from(i + 1).unwrap_or(total16);
            let f = if num == 1 { first } else { PayloadType::NONE };
            out.push(self.seal_one(ctx, header, f, part, Some((num, total16)))?);
        }
        Ok(out)
    }

    fn seal_one(
        &self,
        ctx: &mut Ctx<'_>,
        header: Header,
        first: PayloadType,
        plain: &[u8],
        frag: Option<(u16, u16)>,
    ) -> Result<Vec<u8>, String> {
        let cipher = self.out.as_ref().ok_or("no keys yet")?;
        let len = cipher.sealed_len(plain.len());
        let body = vec![0u8; len];
        let payload = match frag {
            None => PayloadBody::Sk(SkPayload { first, body }),
            Some((n, t)) => PayloadBody::Skf(SkfPayload {
                first,
                fragment_number: n,
                total_fragments: t,
                body,
            }),
        };
        let msg = Message::new(header, vec![Payload::new(payload)]);
        let mut out = msg.try_emit().map_err(|e| e.to_string())?;
        let off = out
            .len()
            .checked_sub(len)
            .ok_or("SK body longer than the message")?;
        let (aad, body) = out.split_at_mut(off);
        let sealed = cipher
            .seal(aad, plain, ctx.rng)
            .map_err(|e| e.to_string())?;
        if sealed.len() != body.len() {
            return Err("sealed length differs from the SK body".into());
        }
        body.copy_from_slice(&sealed);
        Ok(out)
    }

    /// Sends a request we make with the next message ID; `false` (logged)
    /// when it cannot be encoded.
    fn send_request(
        &mut self,
        ctx: &mut Ctx<'_>,
        exchange: ExchangeType,
        payloads: &[Payload],
        req: Req,
    ) -> bool {
        let id = self.next_out;
        match self.seal(ctx, exchange, false, id, payloads) {
            Ok(packets) => {
                self.next_out = id.wrapping_add(1);
                self.start_request(ctx, req, id, packets);
                true
            }
            Err(e) => {
                error!(conn = %self.conn(), "cannot encode our {exchange} request: {e}");
                false
            }
        }
    }

    /// Sends (and caches, §2.1) our response to request `id`; a response
    /// that cannot be encoded is logged and not sent.
    fn respond(
        &mut self,
        ctx: &mut Ctx<'_>,
        exchange: ExchangeType,
        id: u32,
        request: &[u8],
        payloads: &[Payload],
    ) {
        match self.seal(ctx, exchange, true, id, payloads) {
            Ok(packets) => self.cache_and_send(ctx, id, request, packets),
            Err(e) => error!(conn = %self.conn(), "cannot encode our {exchange} response: {e}"),
        }
    }

    /// Decrypts an SK message or collects an SKF fragment. Returns the inner
    /// payloads once the message is complete. Failures to authenticate are
    /// silently dropped (RFC 7296 §2.21.2 / RFC 7383 §2.6.1).
    fn open(&mut self, ctx: &mut Ctx<'_>, msg: &Message, raw: &[u8]) -> Option<Vec<Payload>> {
        let cipher = self.inb.as_ref()?;
        let (aad, body) = msg.split_encrypted(raw)?;
        let plain = match cipher.open(aad, body) {
            Ok(p) => p,
            Err(e) => {
                debug!(conn = %self.conn(), "dropping message: {e}");
                return None;
            }
        };
        match &msg.encrypted()?.body {
            PayloadBody::Sk(sk) => match parse_payload_chain(sk.first, &plain) {
                Ok(p) => Some(p),
                Err(e) => {
                    warn!(conn = %self.conn(), "malformed encrypted payloads: {e}");
                    None
                }
            },
            PayloadBody::Skf(f) => self.reassemble(ctx, msg.header.message_id, f, plain),
            _ => None,
        }
    }

    /// Adds an authenticated fragment (RFC 7383 §2.6) and returns the
    /// message once complete. Bounded: more than `max_fragments`, more
    /// than `max_packet` octets for the message, or more than
    /// `max_reassembly_total` octets held by all IKE SAs drop the partial
    /// message; so does `fragment_timeout` (see [`IkeSa::handle_timeout`]).
    fn reassemble(
        &mut self,
        ctx: &mut Ctx<'_>,
        msg_id: u32,
        f: &SkfPayload,
        plain: Vec<u8>,
    ) -> Option<Vec<Payload>> {
        // A message refused once stays refused: its later fragments would
        // only build another partial copy that cannot complete.
        if self.refused_fragmented == Some(msg_id) {
            return None;
        }
        if f.total_fragments > ctx.cfg.max_fragments {
            limited!(
                ctx,
                warn,
                "{}: message {msg_id} in {} fragments, more than {}; dropped",
                self.conn(),
                f.total_fragments,
                ctx.cfg.max_fragments
            );
            self.reassembly = None;
            self.refused_fragmented = Some(msg_id);
            return None;
        }
        match &self.reassembly {
            // §2.6.2: more fragments than before is a retransmission in
            // smaller pieces: start over; fewer is stale: ignore it.
            Some(r) if r.msg_id == msg_id && f.total_fragments < r.total => return None,
            Some(r) if r.msg_id == msg_id && f.total_fragments == r.total => {}
            _ => {
                self.reassembly = Some(Reassembly {
                    msg_id,
                    total: f.total_fragments,
                    first: PayloadType::NONE,
                    parts: BTreeMap::new(),
                    bytes: 0,
                    started: ctx.now,
                })
            }
        }
        let r = self.reassembly.as_mut()?;
        if r.parts.contains_key(&f.fragment_number) {
            return None;
        }
        let bytes = r.bytes.saturating_add(plain.len());
        let overall = (ctx.reassembly_elsewhere)().saturating_add(bytes);
        if bytes > ctx.cfg.max_packet || overall > ctx.cfg.max_reassembly_total {
            let limit = if bytes > ctx.cfg.max_packet {
                "max_packet"
            } else {
                "the reassembly memory of all IKE SAs"
            };
            limited!(
                ctx,
                warn,
                "{}: fragmented message {msg_id} exceeds {limit}; dropped",
                self.conn()
            );
            self.reassembly = None;
            self.refused_fragmented = Some(msg_id);
            return None;
        }
        if f.fragment_number == 1 {
            r.first = f.first;
        }
        r.bytes = bytes;
        r.parts.insert(f.fragment_number, plain);
        if r.parts.len() < usize::from(r.total) {
            return None;
        }
        let r = self.reassembly.take()?;
        let mut all = Vec::with_capacity(r.bytes);
        for part in r.parts.into_values() {
            all.extend_from_slice(&part);
        }
        match parse_payload_chain(r.first, &all) {
            Ok(p) => Some(p),
            Err(e) => {
                warn!(conn = %self.conn(), "malformed reassembled payloads: {e}");
                None
            }
        }
    }

    /// Octets this SA holds in a partly reassembled message.
    pub(crate) fn reassembly_bytes(&self) -> usize {
        self.reassembly.as_ref().map_or(0, |r| r.bytes)
    }

    // ------------------------------------------------------------------
    // IKE_AUTH
    // ------------------------------------------------------------------

    fn prf(&self) -> Prf {
        self.suite.and_then(|s| s.prf).unwrap_or(Prf::HmacSha256)
    }

    /// The octets the AUTH payload of one side covers (RFC 7296 §2.15):
    /// the initiator's are its IKE_SA_INIT request, Nr and prf(SK_pi, IDi');
    /// the responder's its IKE_SA_INIT response, Ni and prf(SK_pr, IDr').
    fn auth_octets(&self, of_initiator: bool, id: &Identification) -> Vec<u8> {
        let keys = self.keys.as_ref().expect("keys before IKE_AUTH");
        let (message, nonce, sk_p) = if of_initiator {
            (&self.init_request, &self.nr, &keys.sk_pi)
        } else {
            (&self.init_response, &self.ni, &keys.sk_pr)
        };
        signed_octets(self.prf(), message, nonce, sk_p.as_bytes(), &id.to_body())
    }

    /// The PSK for `remote`: a copy that is zeroized when dropped.
    fn psk(&self, ctx: &Ctx<'_>, remote: &Identification) -> Option<SecretBytes> {
        find_psk(ctx.keys, &self.peer.local_id, remote).cloned()
    }

    /// The responder's CERTREQ in IKE_SA_INIT (RFC 7296 §1.2): our CAs,
    /// when a connection matching the peer's address wants its certificate.
    fn init_certreq(&self, ctx: &Ctx<'_>) -> Option<Payload> {
        let creds = ctx.creds?;
        let cfg = ctx.peers.iter().find(|c| {
            c.remote_auth.class == AuthClass::PubKey
                && c.send_certreq
                && c.remote_addrs
                    .iter()
                    .any(|m| m.matches(self.remote.ip()).is_some())
        })?;
        auth::certreq_payload(&creds.ca_hashes(&cfg.remote_auth))
    }

    fn pending_child(
        &self,
        ctx: &mut Ctx<'_>,
        mut cfg: ChildConfig,
        pfs: bool,
    ) -> Result<PendingChild, Failure> {
        if cfg.mode == Mode::Transport && !ctx.cfg.transport_mode_supported {
            warn!(
                conn = %self.conn(),
                child = %cfg.name,
                "the data plane cannot carry transport mode; requesting tunnel mode"
            );
            cfg.mode = Mode::Tunnel;
        }
        let ke = match (pfs, cfg.pfs_group()) {
            (true, Some(g)) => {
                Some(KeyExchange::generate(g, ctx.rng).map_err(|e| Failure::Local(e.to_string()))?)
            }
            _ => None,
        };
        let spi_in = ctx.esp_spi();
        let proposals = if pfs {
            cfg.esp_proposals.clone()
        } else {
            // RFC 7296 §1.2: no KE transforms for the IKE_AUTH child.
            cfg.esp_proposals
                .iter()
                .map(crate::proposal::strip_ke)
                .collect()
        };
        Ok(PendingChild {
            local_ts: resolve_ts(&cfg.local_ts, self.local),
            remote_ts: resolve_ts(&cfg.remote_ts, self.remote),
            nonce: ctx.random(NONCE_LEN),
            cfg,
            spi_in,
            ke,
            proposals,
            rekeys: None,
            reestablish: false,
        })
    }

    /// The child requested in IKE_AUTH, while connecting.
    pub(crate) fn first_child_name(&self) -> Option<&str> {
        self.first_child.as_ref().map(|c| c.name.as_str())
    }

    fn child_request_payloads(&self, c: &PendingChild) -> Vec<Payload> {
        let mut p = Vec::new();
        if c.cfg.mode == Mode::Transport {
            p.push(notify(NotifyType::USE_TRANSPORT_MODE, vec![]));
        }
        p.push(sa_payload(with_spi(&c.proposals, &c.spi_in.to_be_bytes())));
        let [tsi, tsr] = ts_payloads(&c.local_ts, &c.remote_ts);
        p.push(tsi);
        p.push(tsr);
        p
    }

    fn send_auth(&mut self, ctx: &mut Ctx<'_>) {
        let psk = if self.peer.local_auth.class == AuthClass::Psk {
            // strongSwan's lookup: the key for both identities; without a
            // configured remote identity, any key that names ours.
            let local = &self.peer.local_id;
            let Some(psk) = (match &self.peer.remote_id {
                Some(r) => find_psk(ctx.keys, local, r),
                None => ctx
                    .keys
                    .iter()
                    .find(|k| k.ids.is_empty() || k.ids.contains(local))
                    .map(|k| &k.secret),
            })
            .cloned() else {
                return self.fail(
                    ctx,
                    Failure::Local(format!(
                        "no shared key found for '{}' - '{}'",
                        id_string(&self.peer.local_id),
                        self.peer
                            .remote_id
                            .as_ref()
                            .map_or("%any".into(), id_string)
                    )),
                );
            };
            Some(psk)
        } else {
            None
        };
        let octets = self.auth_octets(true, &self.peer.local_id);
        let (certs, auth) = match auth::build_auth(
            ctx.creds,
            &self.peer.local_auth,
            self.peer.send_cert,
            psk.as_ref().map(SecretBytes::as_bytes),
            self.prf(),
            &octets,
            &self.announced,
        ) {
            Ok(x) => x,
            Err(e) => {
                return self.fail(
                    ctx,
                    Failure::Local(format!(
                        "cannot authenticate as '{}': {e}",
                        id_string(&self.peer.local_id)
                    )),
                )
            }
        };
        let mut p = vec![Payload::new(PayloadBody::IdI(self.peer.local_id.clone()))];
        p.extend(certs);
        // RFC 7296 §2.4: INITIAL_CONTACT only when no other IKE SA with the
        // peer exists; the peer deletes every other one it has with us.
        let contact = (ctx.has_contact)(
            &self.peer.name,
            &self.peer.local_id,
            self.peer.remote_id.as_ref(),
            self.remote.ip(),
        );
        if !contact && !self.peer.name.is_empty() {
            p.push(notify(NotifyType::INITIAL_CONTACT, vec![]));
        }
        if self.peer.remote_auth.class == AuthClass::PubKey && self.peer.send_certreq {
            if let Some(creds) = ctx.creds {
                p.extend(auth::certreq_payload(
                    &creds.ca_hashes(&self.peer.remote_auth),
                ));
            }
        }
        if let Some(r) = &self.peer.remote_id {
            if !ctx.creds.is_some_and(|c| c.has_wildcards(r)) {
                p.push(Payload::new(PayloadBody::IdR(r.clone())));
            }
        }
        p.push(Payload::new(PayloadBody::Auth(auth)));
        let child = match self.first_child.take() {
            Some(cfg) => match self.pending_child(ctx, cfg, false) {
                Ok(c) => Some(Box::new(c)),
                Err(f) => return self.fail(ctx, f),
            },
            None => None,
        };
        if let Some(c) = &child {
            p.extend(self.child_request_payloads(c));
        }
        let packets = match self.seal(ctx, ExchangeType::IKE_AUTH, false, 1, &p) {
            Ok(x) => x,
            Err(e) => {
                return self.fail(ctx, Failure::Local(format!("cannot encode IKE_AUTH: {e}")))
            }
        };
        self.state = State::AuthSent;
        self.next_out = 2;
        self.start_request(ctx, Req::Auth(child), 1, packets);
    }

    /// Processes the IKE_AUTH response; `active` is our request (its
    /// child, and what stays outstanding when the decision is deferred).
    fn on_auth_response(&mut self, ctx: &mut Ctx<'_>, p: Vec<Payload>, active: Active) {
        if let Some(n) = find_notify(&p, NotifyType::AUTHENTICATION_FAILED) {
            let _ = n;
            return self.fail(
                ctx,
                Failure::AuthFailed(
                    "peer refused our authentication (AUTHENTICATION_FAILED)".into(),
                ),
            );
        }
        let idr = find_idr(&p);
        let auth = find_auth(&p);
        let (Some(idr), Some(_)) = (idr, auth) else {
            if let Some(n) = error_notify(&p) {
                return self.fail(
                    ctx,
                    Failure::PeerError(format!("{} in IKE_AUTH response", n.ty)),
                );
            }
            return self.fail(
                ctx,
                Failure::Protocol("IKE_AUTH response lacks IDr or AUTH".into()),
            );
        };
        if let Some(want) = &self.peer.remote_id {
            let ok = match ctx.creds {
                Some(c) => c.id_matches(want, &idr),
                None => *want == idr,
            };
            if !ok {
                return self.refuse_responder(
                    ctx,
                    format!(
                        "peer identified as '{}', expected '{}'",
                        id_string(&idr),
                        id_string(want)
                    ),
                );
            }
        }
        let psk = if self.peer.remote_auth.class == AuthClass::Psk {
            let Some(psk) = self.psk(ctx, &idr) else {
                return self
                    .refuse_responder(ctx, format!("no shared key for '{}'", id_string(&idr)));
            };
            Some(psk)
        } else {
            None
        };
        let octets = self.auth_octets(false, &idr);
        match auth::verify_auth(
            ctx.creds,
            &self.peer.remote_auth,
            psk.as_ref().map(SecretBytes::as_bytes),
            self.prf(),
            &octets,
            &idr,
            &p,
        ) {
            Ok(how) => {
                info!(conn = %self.conn(), "authentication of '{}' with {how} successful", id_string(&idr))
            }
            Err(auth::VerifyError::Pending(why)) => {
                // Decided when our retransmission brings the response
                // again; until then the request stays outstanding.
                debug!(conn = %self.conn(), "authentication of '{}' deferred: {why}; the response is dropped until the next retransmission", id_string(&idr));
                self.active = Some(active);
                return;
            }
            Err(e) => {
                return self.refuse_responder(
                    ctx,
                    format!("authentication of '{}' failed: {e}", id_string(&idr)),
                )
            }
        }
        let child = match active.req {
            Req::Auth(child) => child,
            _ => None,
        };
        self.remote_id = Some(idr);
        self.established(ctx);
        if let Some(c) = child {
            self.finish_child_as_initiator(ctx, *c, &p, None);
        }
        for c in std::mem::take(&mut self.extra_children) {
            self.queue.push_back(Task::CreateChild(Box::new(c)));
        }
        self.run_queue(ctx);
    }

    fn established(&mut self, ctx: &mut Ctx<'_>) {
        self.state = State::Established;
        self.half_open = false;
        self.established_at = Some(ctx.now);
        let peer = self.peer.clone();
        (self.rekey_at, self.reauth_at, self.expire_at) = lifetime::ike_schedule(
            ctx.now,
            peer.rekey_time,
            peer.reauth_time,
            peer.over_time,
            peer.rand_time,
            |max| ctx.jitter(max),
        );
        info!(
            conn = %self.conn(),
            "IKE_SA {}[{}] established between {}[{}]...{}[{}]",
            self.conn(),
            self.unique_id,
            self.local,
            id_string(&peer.local_id),
            self.remote,
            self.remote_id.as_ref().map_or(String::new(), id_string)
        );
        ctx.events.push_back(Event::IkeUp(Box::new(self.info())));
    }

    /// Completes a CHILD SA we requested, from the response payloads.
    fn finish_child_as_initiator(
        &mut self,
        ctx: &mut Ctx<'_>,
        c: PendingChild,
        p: &[Payload],
        ke_secret: Option<SecretBytes>,
    ) {
        let fail = |sa: &mut IkeSa, ctx: &mut Ctx<'_>, reason: Failure| {
            warn!(conn = %sa.conn(), child = %c.cfg.name, "CHILD_SA failed: {reason}");
            ctx.events.push_back(Event::ChildDown {
                ike: sa.id,
                conn: sa.peer.name.clone(),
                child: c.cfg.name.clone(),
                spi_in: 0,
                spi_out: 0,
                reason,
            });
        };
        if let Some(n) = error_notify(p) {
            let reason = match n.ty {
                NotifyType::NO_PROPOSAL_CHOSEN => Failure::NoProposal(format!(
                    "peer accepted none of our ESP proposals: {}",
                    c.proposals
                        .iter()
                        .map(proposal_name)
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
                NotifyType::TS_UNACCEPTABLE => Failure::TsUnacceptable(format!(
                    "peer refused {} === {}",
                    ts::list(&c.local_ts),
                    ts::list(&c.remote_ts)
                )),
                t => Failure::PeerError(format!("{t} for CHILD_SA")),
            };
            return fail(self, ctx, reason);
        }
        let Some(sa) = find_sa(p) else {
            return fail(
                self,
                ctx,
                Failure::Protocol("no SA payload for the CHILD_SA".into()),
            );
        };
        let chosen = match sa.proposals.as_slice() {
            [one] => one.clone(),
            _ => {
                return fail(
                    self,
                    ctx,
                    Failure::Protocol("SA must hold one proposal".into()),
                )
            }
        };
        let opts = SelectOptions {
            prefer: Preference::Configured,
            ignore_ke: c.ke.is_none(),
        };
        if select(&c.proposals, std::slice::from_ref(&chosen), opts).is_err() {
            return fail(
                self,
                ctx,
                Failure::Protocol(format!(
                    "peer chose an ESP proposal we did not offer: {}",
                    proposal_name(&chosen)
                )),
            );
        }
        let Some(spi_out) = spi_u32(&chosen.spi) else {
            return fail(
                self,
                ctx,
                Failure::Protocol("ESP SPI must be 4 octets".into()),
            );
        };
        let Some((tsi, tsr)) = find_ts(p) else {
            return fail(
                self,
                ctx,
                Failure::Protocol("no traffic selectors in response".into()),
            );
        };
        // The responder may answer a transport mode request in tunnel mode,
        // never the other way round (RFC 7296 §1.3.1).
        let responder_transport = find_notify(p, NotifyType::USE_TRANSPORT_MODE).is_some();
        if responder_transport && c.cfg.mode != Mode::Transport {
            return fail(
                self,
                ctx,
                Failure::Protocol(
                    "responder chose transport mode; we asked for tunnel mode".into(),
                ),
            );
        }
        let transport = responder_transport;
        // Transport mode across a NAT: the selectors of a NATed side name
        // the NAT's address (§2.23.1, strongSwan's get_transport_nat_ts).
        let (tsi, tsr) = if transport {
            (
                if self.nat_local {
                    ts::transport_nat(&tsi, self.local.ip())
                } else {
                    tsi
                },
                if self.nat_remote {
                    ts::transport_nat(&tsr, self.remote.ip())
                } else {
                    tsr
                },
            )
        } else {
            (tsi, tsr)
        };
        if tsi.is_empty()
            || tsr.is_empty()
            || !ts::all_within(&tsi, &c.local_ts)
            || !ts::all_within(&tsr, &c.remote_ts)
        {
            return fail(
                self,
                ctx,
                Failure::TsUnacceptable(format!(
                    "responder returned {} === {}, not within what we proposed",
                    ts::list(&tsi),
                    ts::list(&tsr)
                )),
            );
        }
        for (fam, ours, got) in [("IPv4", true, &tsi), ("IPv6", false, &tsi)] {
            if c.local_ts.iter().any(|t| t.is_ipv4() == ours)
                && !got.iter().any(|t| t.is_ipv4() == ours)
            {
                info!(conn = %self.conn(), child = %c.cfg.name, "peer narrowed the {fam} traffic selectors away");
            }
        }
        // The IKE_AUTH child uses the IKE_SA_INIT nonces; a CREATE_CHILD_SA
        // child those of its own exchange (RFC 7296 §2.17).
        let nonces = match find_nonce(p) {
            Some(nr) => (c.nonce.clone(), nr.to_vec()),
            None => (self.ni.clone(), self.nr.clone()),
        };
        let mut c = c;
        c.cfg.mode = if transport {
            Mode::Transport
        } else {
            Mode::Tunnel
        };
        c.local_ts = tsi;
        c.remote_ts = tsr;
        self.install_child(ctx, c, chosen, spi_out, nonces, ke_secret, true);
    }

    /// Derives keys and installs a CHILD SA (either role).
    #[allow(clippy::too_many_arguments)]
    fn install_child(
        &mut self,
        ctx: &mut Ctx<'_>,
        c: PendingChild,
        chosen: Proposal,
        spi_out: u32,
        nonces: (Vec<u8>, Vec<u8>),
        g_ir: Option<SecretBytes>,
        we_initiated: bool,
    ) {
        let suite = match Suite::from_proposal(&crate::proposal::strip_ke(&chosen)) {
            Ok(s) => s,
            Err(e) => {
                warn!("unusable ESP proposal: {e}");
                return;
            }
        };
        let keys = self.keys.as_ref().expect("IKE keys");
        let ck = match ChildKeys::derive(
            self.prf(),
            keys.sk_d.as_bytes(),
            g_ir.as_ref().map(SecretBytes::as_bytes),
            &nonces.0,
            &nonces.1,
            &suite,
        ) {
            Ok(k) => k,
            Err(e) => {
                warn!("CHILD_SA key derivation failed: {e}");
                return;
            }
        };
        let (out_e, out_a, in_e, in_a) = if we_initiated {
            (
                ck.encr_i.clone(),
                ck.integ_i.clone(),
                ck.encr_r.clone(),
                ck.integ_r.clone(),
            )
        } else {
            (
                ck.encr_r.clone(),
                ck.integ_r.clone(),
                ck.encr_i.clone(),
                ck.integ_i.clone(),
            )
        };
        let esn = suite.esn.unwrap_or(false);
        let encap = self.nat_local || self.nat_remote || self.peer.encap;
        let cfg = c.cfg;
        // Rekey always before the hard expiry, whatever the times say.
        let (rekey_at, expire_at) = lifetime::schedule(
            ctx.now,
            cfg.rekey_time,
            cfg.life_time,
            cfg.rand_time,
            |max| ctx.jitter(max),
        );
        // A re-established child is back: no more retries for it.
        self.recreate.retain(|r| r.cfg.name != cfg.name);
        // A rekeying responder keeps sending on the old SA until the
        // initiator deletes it or traffic arrives on the new one.
        let outbound_active = we_initiated || c.rekeys.is_none();
        let child = ChildSa {
            unique_id: ctx.unique(),
            state: ChildState::Installed,
            spi_in: c.spi_in,
            spi_out,
            proposal: chosen.clone(),
            esn,
            encap,
            local_ts: c.local_ts,
            remote_ts: c.remote_ts,
            installed_at: ctx.now,
            rekey_at,
            expire_at,
            nonces: nonces.clone(),
            created_by_us: we_initiated,
            outbound_active,
            remove_at: None,
            in_dataplane: true,
            expired: false,
            cfg,
        };
        let sa_keys = |spi, e: crate::crypto::SecretBytes, a: crate::crypto::SecretBytes| SaKeys {
            spi,
            encr: suite.encr,
            integ: suite.integ,
            encr_key: e,
            integ_key: a,
        };
        ctx.actions
            .push_back(Action::Install(Box::new(ChildInstall {
                ike_sa: self.id,
                conn: self.peer.name.clone(),
                child: child.cfg.name.clone(),
                reqid: child.cfg.reqid,
                local: self.local_esp(ctx.cfg),
                remote: self.remote,
                encap,
                mode: child.cfg.mode,
                esn,
                replay_window: child.cfg.replay_window,
                inbound: sa_keys(child.spi_in, in_e, in_a),
                outbound: sa_keys(spi_out, out_e, out_a),
                local_ts: child.local_ts.clone(),
                remote_ts: child.remote_ts.clone(),
                limits: VolumeLimits {
                    rekey_bytes: child.cfg.rekey_bytes,
                    life_bytes: child.cfg.life_bytes,
                    rekey_packets: child.cfg.rekey_packets,
                    life_packets: child.cfg.life_packets,
                },
                if_id: (child.cfg.if_id_in, child.cfg.if_id_out),
                outbound_active,
            })));
        info!(
            conn = %self.conn(),
            "CHILD_SA {}{{{}}} established with SPIs {:08x}_i {:08x}_o and TS {} === {}",
            child.cfg.name,
            child.unique_id,
            child.spi_in,
            child.spi_out,
            ts::list(&child.local_ts),
            ts::list(&child.remote_ts)
        );
        let rekeys = c.rekeys;
        let info = self.child_info(&child);
        self.children.push(child);
        match rekeys {
            Some(old) => {
                ctx.events.push_back(Event::ChildRekeyed {
                    ike: self.id,
                    child: info.name.clone(),
                    old_spi_in: old,
                    new_spi_in: info.spi_in,
                });
                ctx.events.push_back(Event::ChildUp {
                    ike: self.id,
                    conn: self.peer.name.clone(),
                    child: Box::new(info),
                });
            }
            None => ctx.events.push_back(Event::ChildUp {
                ike: self.id,
                conn: self.peer.name.clone(),
                child: Box::new(info),
            }),
        }
    }

    /// The outer source of our ESP: with UDP encapsulation, the NAT-T port.
    fn local_esp(&self, cfg: &EngineConfig) -> SocketAddr {
        let mut l = self.local;
        if self.nat_local || self.nat_remote || self.peer.encap {
            l.set_port(cfg.port_nat_t);
        }
        l
    }

    // ------------------------------------------------------------------
    // Responder: IKE_SA_INIT and IKE_AUTH
    // ------------------------------------------------------------------

    /// Answers an IKE_SA_INIT request (RFC 7296 §1.2). Returns the new
    /// half-open SA, or `None` when the request was answered with an error.
    pub(crate) fn respond_init(
        ctx: &mut Ctx<'_>,
        peer: Arc<PeerConfig>,
        msg: &Message,
        raw: &[u8],
        local: SocketAddr,
        remote: SocketAddr,
        nat_t: bool,
    ) -> Option<IkeSa> {
        let p = &msg.payloads;
        let reply_error = |ctx: &mut Ctx<'_>, ty: NotifyType, data: Vec<u8>| {
            let mut h = msg.header;
            h.flags = Flags {
                initiator: false,
                version: false,
                response: true,
                reserved: 0,
            };
            h.spi_r = [0; 8];
            let m = Message::new(h, vec![notify(ty, data)]);
            if let Ok(data) = m.try_emit() {
                ctx.transmits.push_back(Transmit {
                    local,
                    remote,
                    nat_t,
                    data,
                });
            }
        };
        // Everything that can refuse the request comes before any key is
        // generated: a refused request costs no key generation.
        let (Some(sa), Some(ke), Some(ni)) = (find_sa(p), find_ke(p), find_nonce(p)) else {
            limited!(
                ctx,
                warn,
                "IKE_SA_INIT request from {remote} lacks SA, KE or Nonce; sending INVALID_SYNTAX"
            );
            reply_error(ctx, NotifyType::INVALID_SYNTAX, vec![]);
            return None;
        };
        if !(16..=256).contains(&ni.len()) {
            limited!(ctx, warn, "IKE_SA_INIT request from {remote} has a {}-octet nonce (RFC 7296 §2.10: 16 to 256); sending INVALID_SYNTAX", ni.len());
            reply_error(ctx, NotifyType::INVALID_SYNTAX, vec![]);
            return None;
        }
        // Prefer a proposal with the group the initiator already sent.
        let with_group = restrict_ke(&sa.proposals, ke.group);
        let chosen = select(&peer.proposals, &with_group, SelectOptions::default())
            .or_else(|_| select(&peer.proposals, &sa.proposals, SelectOptions::default()));
        let chosen = match chosen {
            Ok(c) => c,
            Err(_) => {
                limited!(
                    ctx,
                    warn,
                    "received proposals {} from {remote} unacceptable, configured {} for '{}'; sending NO_PROPOSAL_CHOSEN",
                    bounded_list(sa.proposals.iter().map(proposal_name), 4, 400),
                    bounded_list(peer.proposals.iter().map(proposal_name), 4, 400),
                    peer.name
                );
                reply_error(ctx, NotifyType::NO_PROPOSAL_CHOSEN, vec![]);
                return None;
            }
        };
        let group = ke_of(&chosen).unwrap_or(DhGroup::NONE);
        if group != ke.group {
            limited!(
                ctx,
                info,
                "peer sent KE of group {}, requesting {group} (from {remote})",
                ke.group
            );
            reply_error(
                ctx,
                NotifyType::INVALID_KE_PAYLOAD,
                group.0.to_be_bytes().to_vec(),
            );
            return None;
        }
        if let Err(e) = check_peer_public(group, &ke.data) {
            limited!(
                ctx,
                warn,
                "invalid KE payload from {remote}: {e}; sending INVALID_SYNTAX"
            );
            reply_error(ctx, NotifyType::INVALID_SYNTAX, vec![]);
            return None;
        }
        let suite = match Suite::from_proposal(&chosen) {
            Ok(s) => s,
            Err(e) => {
                warn!("selected an unusable proposal: {e}");
                reply_error(ctx, NotifyType::NO_PROPOSAL_CHOSEN, vec![]);
                return None;
            }
        };
        let our_ke = match KeyExchange::generate(group, ctx.rng) {
            Ok(k) => k,
            Err(e) => {
                warn!("key exchange: {e}");
                reply_error(ctx, NotifyType::NO_PROPOSAL_CHOSEN, vec![]);
                return None;
            }
        };
        let g_ir = match our_ke.agree(&ke.data) {
            Ok(s) => s,
            Err(e) => {
                limited!(
                    ctx,
                    warn,
                    "invalid KE payload from {remote}: {e}; sending INVALID_SYNTAX"
                );
                reply_error(ctx, NotifyType::INVALID_SYNTAX, vec![]);
                return None;
            }
        };
        let mut s = IkeSa::blank(ctx, peer, false, local, remote);
        s.spi_i = msg.header.spi_i;
        // The request's NAT_DETECTION_* hash the SPIs of its header, where
        // SPIr is still zero (RFC 7296 §2.23), so check them before ours is
        // chosen.
        s.detect_nat(ctx, p);
        s.spi_r = ctx.ike_spi();
        s.id = IkeSaId(u64::from_be_bytes(s.spi_r));
        s.ni = ni.to_vec();
        s.nr = ctx.random(NONCE_LEN);
        s.init_request = raw.to_vec();
        s.nat_t = nat_t;
        s.half_open = true;
        s.state = State::HalfOpen;
        if let Err(f) = s.derive_keys(&suite, g_ir.as_bytes()) {
            warn!("{f}");
            return None;
        }
        s.suite = Some(suite);
        s.frag = s.peer.fragmentation
            && find_notify(p, NotifyType::IKEV2_FRAGMENTATION_SUPPORTED).is_some();
        let mut out = vec![
            sa_payload(vec![chosen.clone()]),
            Payload::new(PayloadBody::Ke(KePayload {
                group,
                data: our_ke.public_value().to_vec(),
            })),
            Payload::new(PayloadBody::Nonce(NoncePayload { data: s.nr.clone() })),
        ];
        out.extend(s.natd_payloads(ctx));
        if s.frag {
            out.push(notify(NotifyType::IKEV2_FRAGMENTATION_SUPPORTED, vec![]));
        }
        out.push(auth::hash_algorithms_notify());
        s.announced.learn(p);
        out.extend(s.init_certreq(ctx));
        s.proposal = Some(chosen);
        let m = Message::new(s.header(ExchangeType::IKE_SA_INIT, true, 0), out);
        let bytes = match m.try_emit() {
            Ok(b) => b,
            Err(e) => {
                error!(%remote, "cannot encode our IKE_SA_INIT response: {e}");
                return None;
            }
        };
        s.init_response = bytes.clone();
        s.cached = Some(Cached {
            msg_id: 0,
            request_hash: request_hash(raw),
            packets: vec![bytes.clone()],
        });
        s.next_in = 1;
        s.send(ctx, &[bytes]);
        debug!(conn = %s.conn(), %remote, "answered IKE_SA_INIT, selected {}", proposal_name(s.proposal.as_ref().expect("set")));
        Some(s)
    }

    /// Processes IKE_AUTH as responder (RFC 7296 §1.2, §2.15).
    fn on_auth_request(&mut self, ctx: &mut Ctx<'_>, msg_id: u32, p: Vec<Payload>) {
        let idi = find_idi(&p);
        let idr = find_idr(&p);
        let auth = find_auth(&p);
        let (Some(idi), Some(_)) = (idi, auth) else {
            return self.auth_failed(
                ctx,
                msg_id,
                "IKE_AUTH request lacks IDi or AUTH (EAP is not supported)".into(),
            );
        };
        // Pick the connection by identities among those matching by
        // address (strongSwan's order: addresses first, then IDs).
        let candidates: Vec<Arc<PeerConfig>> = ctx
            .peers
            .iter()
            .filter(|c| {
                c.remote_addrs
                    .iter()
                    .any(|m| m.matches(self.remote.ip()).is_some())
                    && c.local_addrs
                        .iter()
                        .any(|m| m.matches(self.local.ip()).is_some())
            })
            .filter(|c| {
                c.remote_id.as_ref().is_none_or(|r| match ctx.creds {
                    Some(creds) => creds.id_matches(r, &idi),
                    None => *r == idi,
                })
            })
            .filter(|c| {
                idr.as_ref()
                    .is_none_or(|r| c.local_id_at(self.local.ip()).as_ref() == Some(r))
            })
            // The IKE proposal was negotiated with the connection matched
            // by address: one chosen now by identity must accept it too
            // (strongSwan ignores candidates without a matching proposal).
            .filter(|c| {
                let ok = self.proposal.as_ref().is_none_or(|chosen| {
                    select(&c.proposals, std::slice::from_ref(chosen), SelectOptions::default())
                        .is_ok()
                });
                if !ok {
                    info!(
                        conn = %c.name,
                        "connection '{}' matches '{}' but not the negotiated IKE proposal {}; not used",
                        c.name,
                        id_string(&idi),
                        self.proposal.as_ref().map(proposal_name).unwrap_or_default()
                    );
                }
                ok
            })
            .cloned()
            .collect();
        let chosen = candidates
            .iter()
            .find(|c| c.remote_id.is_some())
            .or_else(|| candidates.first())
            .cloned();
        let Some(peer) = chosen else {
            return self.auth_failed(
                ctx,
                msg_id,
                format!(
                    "no connection matches '{}' - '{}' from {}",
                    idr.as_ref().map_or("%any".into(), id_string),
                    id_string(&idi),
                    self.remote
                ),
            );
        };
        self.peer = peer.at_address(self.local.ip());
        self.announced.learn(&p);
        let psk = if self.peer.remote_auth.class == AuthClass::Psk
            || self.peer.local_auth.class == AuthClass::Psk
        {
            let Some(psk) = self.psk(ctx, &idi) else {
                return self.auth_failed(
                    ctx,
                    msg_id,
                    format!(
                        "no shared key found for '{}' - '{}'",
                        id_string(&self.peer.local_id),
                        id_string(&idi)
                    ),
                );
            };
            Some(psk)
        } else {
            None
        };
        let octets = self.auth_octets(true, &idi);
        match auth::verify_auth(
            ctx.creds,
            &self.peer.remote_auth,
            psk.as_ref().map(SecretBytes::as_bytes),
            self.prf(),
            &octets,
            &idi,
            &p,
        ) {
            Ok(how) => {
                info!(conn = %self.conn(), "authentication of '{}' with {how} successful", id_string(&idi))
            }
            Err(auth::VerifyError::Pending(why)) => {
                // Unanswered, as if lost: the initiator's retransmission of
                // this request is processed anew (the message ID window has
                // not moved).
                debug!(conn = %self.conn(), "authentication of '{}' deferred: {why}; the request stays unanswered until it is retransmitted", id_string(&idi));
                return;
            }
            Err(e) => {
                return self.auth_failed(
                    ctx,
                    msg_id,
                    format!("authentication of '{}' failed: {e}", id_string(&idi)),
                )
            }
        }
        self.remote_id = Some(idi);
        self.initial_contact = find_notify(&p, NotifyType::INITIAL_CONTACT).is_some();
        let my_id = self.peer.local_id.clone();
        let octets = self.auth_octets(false, &my_id);
        let (certs, my_auth) = match auth::build_auth(
            ctx.creds,
            &self.peer.local_auth,
            self.peer.send_cert,
            psk.as_ref().map(SecretBytes::as_bytes),
            self.prf(),
            &octets,
            &self.announced,
        ) {
            Ok(x) => x,
            Err(e) => {
                return self.auth_failed(
                    ctx,
                    msg_id,
                    format!("cannot authenticate as '{}': {e}", id_string(&my_id)),
                )
            }
        };
        let mut out = vec![Payload::new(PayloadBody::IdR(my_id))];
        out.extend(certs);
        out.push(Payload::new(PayloadBody::Auth(my_auth)));
        self.established(ctx);
        if self.initial_contact {
            ctx.notes.push(Note::InitialContact(self.id));
        }
        ctx.notes.push(Note::Authenticated(self.id));
        let (ni, nr) = (self.ni.clone(), self.nr.clone());
        if find_sa(&p).is_some() {
            match self.respond_child(ctx, &p, None, true, (ni, nr)) {
                Ok(x) => out.extend(x),
                Err(n) => out.push(n),
            }
        }
        self.respond(ctx, ExchangeType::IKE_AUTH, msg_id, &[], &out);
    }

    /// The responder authenticated itself wrongly: tell it in an
    /// INFORMATIONAL with AUTHENTICATION_FAILED (RFC 7296 §2.21.2), so it
    /// removes what it installed, and give up.
    fn refuse_responder(&mut self, ctx: &mut Ctx<'_>, why: String) {
        warn!(conn = %self.conn(), remote = %self.remote, "authentication failed: {why}; sending AUTHENTICATION_FAILED");
        let id = self.next_out;
        let refusal = [notify(NotifyType::AUTHENTICATION_FAILED, vec![])];
        if let Ok(packets) = self.seal(ctx, ExchangeType::INFORMATIONAL, false, id, &refusal) {
            self.send(ctx, &packets);
        }
        self.die(ctx, Failure::AuthFailed(why));
    }

    fn auth_failed(&mut self, ctx: &mut Ctx<'_>, msg_id: u32, why: String) {
        warn!(conn = %self.conn(), remote = %self.remote, "authentication failed: {why}; sending AUTHENTICATION_FAILED");
        let refusal = [notify(NotifyType::AUTHENTICATION_FAILED, vec![])];
        if let Ok(packets) = self.seal(ctx, ExchangeType::IKE_AUTH, true, msg_id, &refusal) {
            self.send(ctx, &packets);
        }
        self.die(ctx, Failure::AuthFailed(why));
    }

    /// Builds the responder's CHILD SA payloads, installing the SA, or the
    /// error notify to send (RFC 7296 §1.3.1, §2.9).
    fn respond_child(
        &mut self,
        ctx: &mut Ctx<'_>,
        p: &[Payload],
        rekeys: Option<u32>,
        first: bool,
        nonces: (Vec<u8>, Vec<u8>),
    ) -> Result<Vec<Payload>, Payload> {
        let sa = find_sa(p).ok_or_else(|| notify(NotifyType::INVALID_SYNTAX, vec![]))?;
        let Some((tsi, tsr)) = find_ts(p) else {
            return Err(notify(NotifyType::TS_UNACCEPTABLE, vec![]));
        };
        let wants_transport = find_notify(p, NotifyType::USE_TRANSPORT_MODE).is_some();
        // In transport mode the selectors of a NATed side name its private
        // address; the SA carries the address seen across the NAT
        // (strongSwan's get_transport_nat_ts, RFC 7296 §2.23.1). Never in
        // tunnel mode: there `dynamic` is the peer's IKE address and
        // nothing else, whatever NAT the peer claims.
        let nat_ts = |tsi: &[Ts], tsr: &[Ts]| {
            let i = if self.nat_remote {
                ts::transport_nat(tsi, self.remote.ip())
            } else {
                tsi.to_vec()
            };
            let r = if self.nat_local {
                ts::transport_nat(tsr, self.local.ip())
            } else {
                tsr.to_vec()
            };
            (i, r)
        };
        let (sel_tsi, sel_tsr) = if wants_transport {
            nat_ts(&tsi, &tsr)
        } else {
            (tsi.clone(), tsr.clone())
        };
        // The child config: for a rekey the existing one; otherwise, among
        // those whose selectors intersect the request, the best match
        // (strongSwan's select_child_cfg: selectors equal to the offer beat
        // ones that contain it, which beat mere intersections; the first
        // on a tie). So a /32 child is not swallowed by a 0.0.0.0/0 one
        // listed before it.
        let cfg = match rekeys.and_then(|spi| self.children.iter().find(|c| c.spi_in == spi)) {
            Some(c) => Some(c.cfg.clone()),
            None => {
                let mut best: Option<(u32, &ChildConfig)> = None;
                for c in &self.peer.children {
                    let l = resolve_ts(&c.local_ts, self.local);
                    let r = resolve_ts(&c.remote_ts, self.remote);
                    if !ts::intersects(&sel_tsr, &l) || !ts::intersects(&sel_tsi, &r) {
                        continue;
                    }
                    let score = ts::match_score(&sel_tsr, &l) + ts::match_score(&sel_tsi, &r);
                    if best.is_none_or(|(b, _)| score > b) {
                        best = Some((score, c));
                    }
                }
                best.map(|(_, c)| c.clone())
            }
        };
        let Some(mut cfg) = cfg else {
            limited!(
                ctx,
                warn,
                "{}: no CHILD_SA config matches {} === {}; sending TS_UNACCEPTABLE",
                self.conn(),
                bounded_list(&tsr, 8, 300),
                bounded_list(&tsi, 8, 300)
            );
            return Err(notify(NotifyType::TS_UNACCEPTABLE, vec![]));
        };
        // Transport mode only when the peer asks, the config says so, the
        // data plane can, and the selectors are host to host (§1.3.1);
        // else tunnel mode (and the response says nothing).
        let transport = wants_transport
            && cfg.mode == Mode::Transport
            && ctx.cfg.transport_mode_supported
            && ts::all_hosts(&sel_tsi)
            && ts::all_hosts(&sel_tsr);
        if wants_transport && !transport {
            debug!("peer asked for transport mode; using tunnel mode");
        }
        cfg.mode = if transport {
            Mode::Transport
        } else {
            Mode::Tunnel
        };
        let (tsi, tsr) = if transport {
            (sel_tsi, sel_tsr)
        } else {
            (tsi, tsr)
        };
        let l = resolve_ts(&cfg.local_ts, self.local);
        let r = resolve_ts(&cfg.remote_ts, self.remote);
        // §3.13: a TS payload holds at most 255 selectors; narrowing a
        // hostile offer could make more.
        let (Some(new_tsr), Some(new_tsi)) = (
            ts::narrow_bounded(&tsr, &l, MAX_TS),
            ts::narrow_bounded(&tsi, &r, MAX_TS),
        ) else {
            limited!(
                ctx,
                warn,
                "{}: narrowing {} === {} gives more than {MAX_TS} traffic selectors; sending TS_UNACCEPTABLE",
                self.conn(),
                bounded_list(&tsr, 4, 200),
                bounded_list(&tsi, 4, 200)
            );
            return Err(notify(NotifyType::TS_UNACCEPTABLE, vec![]));
        };
        if new_tsi.is_empty() || new_tsr.is_empty() {
            return Err(notify(NotifyType::TS_UNACCEPTABLE, vec![]));
        }
        for (fam, v4) in [("IPv4", true), ("IPv6", false)] {
            if (tsi.iter().any(|t| t.is_ipv4() == v4) && !new_tsi.iter().any(|t| t.is_ipv4() == v4))
                || (tsr.iter().any(|t| t.is_ipv4() == v4)
                    && !new_tsr.iter().any(|t| t.is_ipv4() == v4))
            {
                info!(conn = %self.conn(), child = %cfg.name, "narrowed the {fam} traffic selectors away");
            }
        }
        let pfs = !first;
        let opts = SelectOptions {
            prefer: Preference::Configured,
            ignore_ke: first,
        };
        let ours = if first {
            cfg.esp_proposals
                .iter()
                .map(crate::proposal::strip_ke)
                .collect::<Vec<_>>()
        } else {
            cfg.esp_proposals.clone()
        };
        let peer_ke = find_ke(p);
        let offered = match peer_ke {
            Some(k) if pfs => {
                let r = restrict_ke(&sa.proposals, k.group);
                if r.is_empty() {
                    sa.proposals.clone()
                } else {
                    r
                }
            }
            _ => sa.proposals.clone(),
        };
        if first {
            warn_pfs_mismatch(self.conn(), &cfg, &sa.proposals);
        }
        let chosen = select(&ours, &offered, opts)
            .or_else(|_| select(&ours, &sa.proposals, opts))
            .map_err(|_| {
                warn!(
                    conn = %self.conn(),
                    "received ESP proposals {} unacceptable, configured {}; sending NO_PROPOSAL_CHOSEN",
                    sa.proposals.iter().map(proposal_name).collect::<Vec<_>>().join(", "),
                    ours.iter().map(proposal_name).collect::<Vec<_>>().join(", ")
                );
                notify(NotifyType::NO_PROPOSAL_CHOSEN, vec![])
            })?;
        let Some(spi_out) = spi_u32(&chosen.spi) else {
            return Err(notify(NotifyType::INVALID_SYNTAX, vec![]));
        };
        let mut g_ir = None;
        let mut ke_out = None;
        if pfs {
            if let Some(group) = ke_of(&chosen) {
                match peer_ke {
                    Some(k) if k.group == group => {
                        let ke = KeyExchange::generate(group, ctx.rng)
                            .map_err(|_| notify(NotifyType::NO_PROPOSAL_CHOSEN, vec![]))?;
                        let s = ke
                            .agree(&k.data)
                            .map_err(|_| notify(NotifyType::INVALID_SYNTAX, vec![]))?;
                        g_ir = Some(s);
                        ke_out = Some(Payload::new(PayloadBody::Ke(KePayload {
                            group,
                            data: ke.public_value().to_vec(),
                        })));
                    }
                    _ => {
                        return Err(notify(
                            NotifyType::INVALID_KE_PAYLOAD,
                            group.0.to_be_bytes().to_vec(),
                        ));
                    }
                }
            }
        }
        let spi_in = ctx.esp_spi();
        let mut reply_sa = chosen.clone();
        reply_sa.spi = spi_in.to_be_bytes().to_vec();
        let mut out = Vec::new();
        let nr = if first {
            Vec::new()
        } else {
            ctx.random(NONCE_LEN)
        };
        let mut nonces = nonces;
        if !first {
            nonces.1 = nr.clone();
            out.push(sa_payload(vec![reply_sa]));
            out.push(Payload::new(PayloadBody::Nonce(NoncePayload { data: nr })));
            if let Some(k) = ke_out {
                out.push(k);
            }
        } else {
            out.push(sa_payload(vec![reply_sa]));
        }
        let [a, b] = ts_payloads(&new_tsi, &new_tsr);
        out.push(a);
        out.push(b);
        if cfg.mode == Mode::Transport {
            out.push(notify(NotifyType::USE_TRANSPORT_MODE, vec![]));
        }
        // Install only what the response can carry.
        if let Err(e) = check_payload_chain(&out) {
            limited!(
                ctx,
                warn,
                "{}: CHILD_SA response cannot be encoded ({e}); sending TS_UNACCEPTABLE",
                self.conn()
            );
            return Err(notify(NotifyType::TS_UNACCEPTABLE, vec![]));
        }
        let pending = PendingChild {
            cfg,
            spi_in,
            nonce: Vec::new(),
            ke: None,
            local_ts: new_tsr,
            remote_ts: new_tsi,
            proposals: Vec::new(),
            rekeys,
            reestablish: false,
        };
        self.install_child(ctx, pending, chosen, spi_out, nonces, g_ir, false);
        Ok(out)
    }

    fn cache_and_send(
        &mut self,
        ctx: &mut Ctx<'_>,
        msg_id: u32,
        request: &[u8],
        packets: Vec<Vec<u8>>,
    ) {
        self.send(ctx, &packets);
        self.cached = Some(Cached {
            msg_id,
            request_hash: request_hash(request),
            packets,
        });
        self.next_in = msg_id.wrapping_add(1);
    }

    // ------------------------------------------------------------------
    // Dispatch
    // ------------------------------------------------------------------

    /// Handles a datagram routed to this SA.
    pub(crate) fn handle(
        &mut self,
        ctx: &mut Ctx<'_>,
        msg: &Message,
        raw: &[u8],
        from: SocketAddr,
        local: SocketAddr,
        nat_t: bool,
    ) {
        if self.state == State::Dead {
            return;
        }
        let id = msg.header.message_id;
        if msg.header.flags.response {
            self.handle_response(ctx, msg, raw, from);
        } else {
            self.handle_request(ctx, msg, raw, id, from, local, nat_t);
        }
    }

    fn handle_response(&mut self, ctx: &mut Ctx<'_>, msg: &Message, raw: &[u8], from: SocketAddr) {
        let Some(active) = &self.active else {
            debug!(conn = %self.conn(), "dropping unexpected response");
            return;
        };
        if msg.header.message_id != active.msg_id {
            debug!(conn = %self.conn(), id = msg.header.message_id, "dropping response with an unexpected message ID");
            return;
        }
        if msg.header.exchange == ExchangeType::IKE_SA_INIT {
            if self.state != State::InitSent {
                return;
            }
            self.last_rx = ctx.now;
            return self.on_init_response(ctx, msg, raw);
        }
        let Some(p) = self.open(ctx, msg, raw) else {
            return;
        };
        self.last_rx = ctx.now;
        self.update_remote(ctx, from);
        let active = self.active.take().expect("checked");
        match active.req {
            Req::Init => {}
            Req::Auth(_) => self.on_auth_response(ctx, p, active),
            Req::CreateChild(c) => self.on_create_child_response(ctx, *c, p),
            Req::RekeyIke {
                spi,
                nonce,
                ke,
                proposals,
            } => self.on_rekey_ike_response(ctx, spi, nonce, ke, proposals, p),
            Req::Delete { ike, spis } => {
                if ike {
                    self.die(ctx, Failure::DeletedLocally);
                    return;
                }
                for spi in spis {
                    self.deleted_with_peer(ctx, spi);
                }
                self.run_queue(ctx);
            }
            Req::Dpd => self.run_queue(ctx),
        }
    }

    /// After an authenticated message from a new address (NAT mapping
    /// change), follow the peer (RFC 7296 §2.23).
    fn update_remote(&mut self, ctx: &mut Ctx<'_>, from: SocketAddr) {
        if from == self.remote || self.state != State::Established {
            return;
        }
        if !(self.nat_remote || self.nat_t) {
            return;
        }
        info!(conn = %self.conn(), "peer moved from {} to {from}", self.remote);
        self.remote = from;
        ctx.actions.push_back(Action::UpdateAddress {
            ike_sa: self.id,
            spis_in: self.children.iter().map(|c| c.spi_in).collect(),
            local: self.local_esp(ctx.cfg),
            remote: self.remote,
            encap: self.nat_local || self.nat_remote || self.peer.encap,
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn handle_request(
        &mut self,
        ctx: &mut Ctx<'_>,
        msg: &Message,
        raw: &[u8],
        id: u32,
        from: SocketAddr,
        local: SocketAddr,
        nat_t: bool,
    ) {
        // A retransmission of the last request: resend the cached response
        // (RFC 7296 §2.1), once it authenticates as the same request.
        if let Some(c) = &self.cached {
            if c.msg_id == id && id.wrapping_add(1) == self.next_in {
                if msg.header.exchange == ExchangeType::IKE_SA_INIT {
                    if c.request_hash == request_hash(raw) {
                        ctx.stats.responses_resent += 1;
                        self.send(ctx, &c.packets.clone());
                    }
                    return;
                }
                if msg.encrypted().is_some()
                    && matches!(msg.encrypted().map(|p| &p.body), Some(PayloadBody::Skf(_)))
                {
                    // A fragment of a retransmitted request: answer once per
                    // retransmission (on fragment 1).
                    if let Some(PayloadBody::Skf(f)) = msg.encrypted().map(|p| &p.body) {
                        if f.fragment_number != 1 {
                            return;
                        }
                    }
                }
                if let Some(inb) = &self.inb {
                    if let Some((aad, body)) = msg.split_encrypted(raw) {
                        if inb.open(aad, body).is_ok() {
                            debug!(conn = %self.conn(), id, "retransmitting response");
                            ctx.stats.responses_resent += 1;
                            let pk = c.packets.clone();
                            self.send(ctx, &pk);
                        }
                    }
                }
                return;
            }
        }
        if id != self.next_in {
            debug!(conn = %self.conn(), id, expected = self.next_in, "dropping request outside the window");
            return;
        }
        if msg.header.exchange == ExchangeType::IKE_SA_INIT {
            return;
        }
        let Some(p) = self.open(ctx, msg, raw) else {
            return;
        };
        self.last_rx = ctx.now;
        // The responder of a NATed initiator learns its NAT-T address from
        // the first message on port 4500 (RFC 7296 §2.23).
        if nat_t && !self.nat_t {
            self.nat_t = true;
            // A socket bound to the wildcard may not know the address the
            // datagram was sent to; keep the one IKE_SA_INIT came to then.
            if local.ip().is_unspecified() {
                self.local.set_port(local.port());
            } else {
                self.local = local;
            }
        }
        if from != self.remote {
            if self.state == State::HalfOpen {
                self.remote = from;
            } else {
                self.update_remote(ctx, from);
            }
        }
        match msg.header.exchange {
            ExchangeType::IKE_AUTH if self.state == State::HalfOpen && id == 1 => {
                self.on_auth_request(ctx, id, p);
            }
            ExchangeType::CREATE_CHILD_SA if self.is_usable() => {
                let out = self.on_create_child_request(ctx, &p);
                self.respond(ctx, ExchangeType::CREATE_CHILD_SA, id, raw, &out);
            }
            ExchangeType::INFORMATIONAL if self.state != State::HalfOpen => {
                // RFC 7296 §2.21.2: an initiator that cannot authenticate
                // us says so in an INFORMATIONAL; the IKE SA is gone.
                if find_notify(&p, NotifyType::AUTHENTICATION_FAILED).is_some() {
                    self.respond(ctx, ExchangeType::INFORMATIONAL, id, raw, &[]);
                    return self.fail(
                        ctx,
                        Failure::AuthFailed(
                            "peer refused our authentication (AUTHENTICATION_FAILED)".into(),
                        ),
                    );
                }
                let (out, kill) = self.on_informational(ctx, &p);
                self.respond(ctx, ExchangeType::INFORMATIONAL, id, raw, &out);
                if kill {
                    self.die(ctx, Failure::DeletedByPeer);
                }
            }
            ex => {
                debug!(conn = %self.conn(), "unexpected {ex} request in state {:?}", self.state);
                self.respond(
                    ctx,
                    ex,
                    id,
                    raw,
                    &[notify(NotifyType::INVALID_SYNTAX, vec![])],
                );
            }
        }
    }

    fn is_usable(&self) -> bool {
        matches!(
            self.state,
            State::Established | State::Deleting | State::Rekeyed
        )
    }

    // ------------------------------------------------------------------
    // CREATE_CHILD_SA
    // ------------------------------------------------------------------

    fn on_create_child_request(&mut self, ctx: &mut Ctx<'_>, p: &[Payload]) -> Vec<Payload> {
        let tmp_fail = || vec![notify(NotifyType::TEMPORARY_FAILURE, vec![])];
        if self.state != State::Established {
            // §2.25.2: rekeying an IKE SA that is being closed or replaced.
            return tmp_fail();
        }
        let Some(sa) = find_sa(p) else {
            return vec![notify(NotifyType::INVALID_SYNTAX, vec![])];
        };
        let Some(ni) = find_nonce(p).map(<[u8]>::to_vec) else {
            return vec![notify(NotifyType::INVALID_SYNTAX, vec![])];
        };
        // RFC 7296 §2.10: 16 to 256 octets, in CREATE_CHILD_SA as in
        // IKE_SA_INIT.
        if !(16..=256).contains(&ni.len()) {
            warn!(conn = %self.conn(), "CREATE_CHILD_SA request with a {}-octet nonce; sending INVALID_SYNTAX", ni.len());
            return vec![notify(NotifyType::INVALID_SYNTAX, vec![])];
        }
        if sa.proposals.first().map(|x| x.protocol) == Some(ProtocolId::IKE) {
            return self.respond_rekey_ike(ctx, p, ni);
        }
        if matches!(
            self.active.as_ref().map(|a| &a.req),
            Some(Req::RekeyIke { .. })
        ) {
            // §2.25.2: a CHILD SA request while we rekey the IKE SA.
            return tmp_fail();
        }
        let rekeys = match find_notify(p, NotifyType::REKEY_SA) {
            Some(n) => {
                let Some(spi) = spi_u32(&n.spi) else {
                    return vec![notify(NotifyType::INVALID_SYNTAX, vec![])];
                };
                // The peer names the SA by its inbound SPI: our outbound.
                // One deleted already, whose inbound half only waits for
                // packets in flight, is not found (as strongSwan's
                // CHILD_DELETED state).
                match self
                    .children
                    .iter()
                    .find(|c| c.spi_out == spi && c.remove_at.is_none())
                {
                    None => {
                        let mut n = NotifyPayload::new(NotifyType::CHILD_SA_NOT_FOUND, vec![]);
                        n.protocol = ProtocolId::ESP;
                        n.spi = spi.to_be_bytes().to_vec();
                        return vec![Payload::new(PayloadBody::Notify(n))];
                    }
                    Some(c) if c.state == ChildState::Deleting => return tmp_fail(),
                    Some(c) => Some(c.spi_in),
                }
            }
            None => None,
        };
        // A bounded number of CHILD SAs per IKE SA (a rekey may go beyond
        // for a while: its old SA leaves soon).
        let limit = ctx.cfg.child_sa_limit;
        let held = self.children.len();
        if (rekeys.is_none() && held >= limit) || held >= limit.saturating_mul(2) {
            warn!(conn = %self.conn(), "peer asks for a CHILD_SA beyond the {limit} this IKE_SA may hold; sending NO_ADDITIONAL_SAS");
            return vec![notify(NotifyType::NO_ADDITIONAL_SAS, vec![])];
        }
        match self.respond_child(ctx, p, rekeys, false, (ni, Vec::new())) {
            Ok(out) => {
                if let Some(old) = rekeys {
                    if let Some(c) = self.children.iter_mut().find(|c| c.spi_in == old) {
                        if c.state == ChildState::Rekeying {
                            debug!("CHILD_SA rekey collision: peer rekeyed it too (§2.8.1)");
                        } else {
                            c.state = ChildState::Rekeyed;
                        }
                    }
                }
                out
            }
            Err(n) => vec![n],
        }
    }

    fn on_create_child_response(&mut self, ctx: &mut Ctx<'_>, c: PendingChild, p: Vec<Payload>) {
        // INVALID_KE_PAYLOAD: retry with the group the peer wants (§1.3).
        if let Some(n) = find_notify(&p, NotifyType::INVALID_KE_PAYLOAD) {
            let g = n
                .data
                .get(..2)
                .map(|d| DhGroup(u16::from_be_bytes([d[0], d[1]])));
            let configured: Vec<DhGroup> = c
                .proposals
                .iter()
                .flat_map(|p| p.transforms.iter())
                .filter(|t| t.ty == TransformType::KE && t.id != 0)
                .map(|t| DhGroup(t.id))
                .collect();
            if let Some(g) = g.filter(|g| {
                configured.contains(g) && c.ke.as_ref().map(KeyExchange::group) != Some(*g)
            }) {
                info!(conn = %self.conn(), "peer wants PFS group {g}, retrying");
                let mut c = c;
                match KeyExchange::generate(g, ctx.rng) {
                    Ok(k) => c.ke = Some(k),
                    Err(e) => return warn!("{e}"),
                }
                return self.send_create_child(ctx, c);
            }
        }
        let rekeys = c.rekeys;
        let again = c.reestablish.then(|| c.cfg.clone());
        let created = self.create_child_response(ctx, c, &p);
        match (created, rekeys) {
            (true, Some(old)) => {
                let new_spi = self.children.last().map(|c| c.spi_in).unwrap_or(0);
                self.complete_child_rekey(ctx, old, new_spi);
            }
            (true, None) => {}
            // RFC 7296 §1.3.3: the peer does not know the SA we rekey: it
            // is established anew (strongSwan's force-reestablish).
            (false, Some(old)) if find_notify(&p, NotifyType::CHILD_SA_NOT_FOUND).is_some() => {
                let cfg = self
                    .children
                    .iter()
                    .find(|x| x.spi_in == old && x.state == ChildState::Rekeying)
                    .map(|x| x.cfg.clone());
                if let Some(cfg) = cfg {
                    info!(conn = %self.conn(), "peer does not know CHILD_SA {old:08x}; establishing it anew");
                    self.remove_child(ctx, old, Failure::PeerError("CHILD_SA_NOT_FOUND".into()));
                    self.queue.push_front(Task::Recreate(Box::new(cfg)));
                }
            }
            (false, Some(old)) => {
                let temporary = find_notify(&p, NotifyType::TEMPORARY_FAILURE).is_some();
                // (a retired SA, replaced by the peer's rekey meanwhile,
                // stays retired: rekey_failed only touches REKEYING ones)
                self.rekey_failed(ctx, old, temporary);
            }
            (false, None) => {
                if let Some(cfg) = again {
                    self.schedule_recreate(ctx, cfg);
                }
            }
        }
        self.run_queue(ctx);
    }

    /// Installs the CHILD SA of a CREATE_CHILD_SA response, if the peer
    /// agreed and the response is sound; `false` otherwise (logged, and
    /// for a new CHILD SA a ChildDown event).
    fn create_child_response(&mut self, ctx: &mut Ctx<'_>, c: PendingChild, p: &[Payload]) -> bool {
        if find_notify(p, NotifyType::TEMPORARY_FAILURE).is_some()
            || find_notify(p, NotifyType::CHILD_SA_NOT_FOUND).is_some()
        {
            if c.rekeys.is_none() {
                self.finish_child_as_initiator(ctx, c, p, None);
            }
            return false;
        }
        if error_notify(p).is_some() {
            self.finish_child_as_initiator(ctx, c, p, None);
            return false;
        }
        // RFC 7296 §2.10: nonces are 16 to 256 octets.
        if find_nonce(p).is_some_and(|n| !(16..=256).contains(&n.len())) {
            warn!(conn = %self.conn(), "CREATE_CHILD_SA response with a nonce of the wrong length");
            return false;
        }
        let g_ir = match (&c.ke, find_ke(p)) {
            (Some(ours), Some(theirs)) if theirs.group == ours.group() => {
                match ours.agree(&theirs.data) {
                    Ok(s) => Some(s),
                    Err(e) => {
                        warn!(conn = %self.conn(), "bad KE in CREATE_CHILD_SA response: {e}");
                        return false;
                    }
                }
            }
            (Some(_), _) => {
                warn!(conn = %self.conn(), "CREATE_CHILD_SA response lacks the PFS KE payload");
                return false;
            }
            _ => None,
        };
        let before = self.children.len();
        self.finish_child_as_initiator(ctx, c, p, g_ir);
        self.children.len() > before
    }

    /// After our rekey of `old` created `new`: resolve a collision (§2.8.1)
    /// and delete the loser.
    fn complete_child_rekey(&mut self, ctx: &mut Ctx<'_>, old: u32, new: u32) {
        let Some(old_idx) = self.children.iter().position(|c| c.spi_in == old) else {
            // The old SA is gone already: the peer won a collision, deleted
            // it, and we retired our copy before this response arrived. If
            // its replacement is here, ours is the redundant one (§2.8.1).
            let name = self
                .children
                .iter()
                .find(|c| c.spi_in == new)
                .map(|c| c.cfg.name.clone());
            let theirs = self
                .children
                .iter()
                .find(|c| {
                    !c.created_by_us
                        && Some(&c.cfg.name) == name.as_ref()
                        && c.spi_in != new
                        && c.state == ChildState::Installed
                })
                .map(|c| c.spi_in);
            match theirs {
                Some(t) => {
                    info!(conn = %self.conn(), "CHILD_SA rekey collision lost (the peer deleted the old SA first), deleting redundant {new:08x}");
                    self.reactivate(ctx, t);
                    self.queue.push_front(Task::DeleteChild(new));
                }
                None => self.activate(ctx, new),
            }
            return;
        };
        let old_cfg = self.children[old_idx].cfg.name.clone();
        // Did the peer rekey the same SA meanwhile? Its new SA is one we
        // did not create, with the same config, installed after ours began.
        let ours = self
            .children
            .iter()
            .find(|c| c.spi_in == new)
            .map(|c| min_nonce(&c.nonces));
        let theirs = self
            .children
            .iter()
            .filter(|c| {
                !c.created_by_us
                    && c.cfg.name == old_cfg
                    && c.spi_in != old
                    && c.state == ChildState::Installed
            })
            .filter(|c| c.installed_at >= self.children[old_idx].installed_at)
            .max_by_key(|c| c.installed_at)
            .map(|c| (c.spi_in, min_nonce(&c.nonces)));
        if let (Some(ours), Some((their_spi, theirs))) = (ours, theirs) {
            if ours < theirs {
                // Ours holds the lowest nonce: it is redundant, we delete it;
                // the peer deletes the old one.
                info!(conn = %self.conn(), "CHILD_SA rekey collision lost, deleting redundant {new:08x}");
                self.set_child_state(old, ChildState::Rekeyed);
                // Like a rekey responder, go on sending on the old SA until
                // the winner shows it has installed its SA (ESP arrives on
                // it, or it deletes the old one): our answer to its request
                // may still be on its way, and ESP on its SA would meet an
                // unknown SPI there.
                let _ = their_spi;
                if let Some(c) = self.children.iter_mut().find(|c| c.spi_in == new) {
                    c.state = ChildState::Deleting;
                    if c.outbound_active {
                        c.outbound_active = false;
                        ctx.actions.push_back(Action::RemoveOutbound {
                            reqid: c.cfg.reqid,
                            spi_out: c.spi_out,
                        });
                    }
                }
                if let Some(c) = self.children.iter_mut().find(|c| c.spi_in == old) {
                    c.outbound_active = true;
                    ctx.actions.push_back(Action::ActivateOutbound {
                        reqid: c.cfg.reqid,
                        spi_out: c.spi_out,
                    });
                }
                self.queue.push_front(Task::DeleteChild(new));
                return;
            }
            info!(conn = %self.conn(), "CHILD_SA rekey collision won");
            self.set_child_state(their_spi, ChildState::Rekeyed);
        }
        self.set_child_state(old, ChildState::Rekeyed);
        self.activate(ctx, new);
        self.queue.push_front(Task::DeleteChild(old));
    }

    fn set_child_state(&mut self, spi_in: u32, s: ChildState) {
        if let Some(c) = self.children.iter_mut().find(|c| c.spi_in == spi_in) {
            c.state = s;
        }
    }

    /// Makes `spi_in` the outbound SA of its reqid again even if we think
    /// it is: installing our own new SA (active) switched the data plane's
    /// one outbound SA per reqid away from it.
    fn reactivate(&mut self, ctx: &mut Ctx<'_>, spi_in: u32) {
        let Some(reqid) = self
            .children
            .iter()
            .find(|c| c.spi_in == spi_in)
            .map(|c| c.cfg.reqid)
        else {
            return;
        };
        for c in self.children.iter_mut().filter(|c| c.cfg.reqid == reqid) {
            c.outbound_active = false;
        }
        self.activate(ctx, spi_in);
    }

    fn activate(&mut self, ctx: &mut Ctx<'_>, spi_in: u32) {
        if let Some(c) = self.children.iter_mut().find(|c| c.spi_in == spi_in) {
            if !c.outbound_active {
                c.outbound_active = true;
                ctx.actions.push_back(Action::ActivateOutbound {
                    reqid: c.cfg.reqid,
                    spi_out: c.spi_out,
                });
            }
        }
    }

    fn send_create_child(&mut self, ctx: &mut Ctx<'_>, c: PendingChild) {
        let mut p = Vec::new();
        if let Some(old) = c.rekeys {
            if let Some(ch) = self.children.iter().find(|x| x.spi_in == old) {
                let mut n = NotifyPayload::new(NotifyType::REKEY_SA, vec![]);
                n.protocol = ProtocolId::ESP;
                n.spi = ch.spi_in.to_be_bytes().to_vec();
                p.push(Payload::new(PayloadBody::Notify(n)));
            }
        }
        p.push(sa_payload(with_spi(&c.proposals, &c.spi_in.to_be_bytes())));
        p.push(Payload::new(PayloadBody::Nonce(NoncePayload {
            data: c.nonce.clone(),
        })));
        if let Some(ke) = &c.ke {
            p.push(Payload::new(PayloadBody::Ke(KePayload {
                group: ke.group(),
                data: ke.public_value().to_vec(),
            })));
        }
        let [a, b] = ts_payloads(&c.local_ts, &c.remote_ts);
        p.push(a);
        p.push(b);
        if c.cfg.mode == Mode::Transport {
            p.push(notify(NotifyType::USE_TRANSPORT_MODE, vec![]));
        }
        let name = c.cfg.name.clone();
        if !self.send_request(
            ctx,
            ExchangeType::CREATE_CHILD_SA,
            &p,
            Req::CreateChild(Box::new(c)),
        ) {
            ctx.events.push_back(Event::ChildDown {
                ike: self.id,
                conn: self.peer.name.clone(),
                child: name,
                spi_in: 0,
                spi_out: 0,
                reason: Failure::Local("the CREATE_CHILD_SA request cannot be encoded".into()),
            });
        }
    }

    // ------------------------------------------------------------------
    // IKE SA rekey (§1.3.2, §2.18)
    // ------------------------------------------------------------------

    fn send_rekey_ike(&mut self, ctx: &mut Ctx<'_>) {
        let spi = ctx.ike_spi();
        let group = self.suite.and_then(|s| s.ke).unwrap_or(DhGroup::ECP256);
        let ke = match KeyExchange::generate(group, ctx.rng) {
            Ok(k) => k,
            Err(e) => return warn!("{e}"),
        };
        let nonce = ctx.random(NONCE_LEN);
        // Prefer the current suite, then the rest of the configuration.
        let mut proposals = Vec::new();
        if let Some(cur) = &self.proposal {
            proposals.push(Proposal {
                num: 1,
                ..cur.clone()
            });
        }
        for p in &self.peer.proposals {
            proposals.push(Proposal {
                num: (proposals.len() + 1) as u8,
                ..p.clone()
            });
        }
        proposals.truncate(255);
        let proposals = with_spi(&proposals, &spi);
        let p = vec![
            sa_payload(proposals.clone()),
            Payload::new(PayloadBody::Nonce(NoncePayload {
                data: nonce.clone(),
            })),
            Payload::new(PayloadBody::Ke(KePayload {
                group,
                data: ke.public_value().to_vec(),
            })),
        ];
        info!(conn = %self.conn(), "rekeying IKE_SA {}[{}]", self.conn(), self.unique_id);
        let req = Req::RekeyIke {
            spi,
            nonce,
            ke,
            proposals,
        };
        self.send_request(ctx, ExchangeType::CREATE_CHILD_SA, &p, req);
    }

    fn respond_rekey_ike(&mut self, ctx: &mut Ctx<'_>, p: &[Payload], ni: Vec<u8>) -> Vec<Payload> {
        if self
            .children
            .iter()
            .any(|c| c.state == ChildState::Rekeying)
            || matches!(
                self.active.as_ref().map(|a| &a.req),
                Some(Req::CreateChild(_) | Req::Delete { .. })
            )
        {
            return vec![notify(NotifyType::TEMPORARY_FAILURE, vec![])];
        }
        let sa = find_sa(p).expect("checked");
        let Some(ke) = find_ke(p) else {
            return vec![notify(NotifyType::INVALID_SYNTAX, vec![])];
        };
        let with_group = restrict_ke(&sa.proposals, ke.group);
        let chosen = match select(&self.peer.proposals, &with_group, SelectOptions::default())
            .or_else(|_| {
                select(
                    &self.peer.proposals,
                    &sa.proposals,
                    SelectOptions::default(),
                )
            }) {
            Ok(c) => c,
            Err(_) => return vec![notify(NotifyType::NO_PROPOSAL_CHOSEN, vec![])],
        };
        let group = ke_of(&chosen).unwrap_or(DhGroup::NONE);
        if group != ke.group {
            return vec![notify(
                NotifyType::INVALID_KE_PAYLOAD,
                group.0.to_be_bytes().to_vec(),
            )];
        }
        let Ok(peer_spi) = <[u8; 8]>::try_from(chosen.spi.as_slice()) else {
            return vec![notify(NotifyType::INVALID_SYNTAX, vec![])];
        };
        let Ok(our_ke) = KeyExchange::generate(group, ctx.rng) else {
            return vec![notify(NotifyType::NO_PROPOSAL_CHOSEN, vec![])];
        };
        let Ok(g_ir) = our_ke.agree(&ke.data) else {
            return vec![notify(NotifyType::INVALID_SYNTAX, vec![])];
        };
        let nr = ctx.random(NONCE_LEN);
        let spi = ctx.ike_spi();
        let Some(new) = self.spawn_rekeyed(
            ctx,
            &chosen,
            false,
            peer_spi,
            spi,
            &ni,
            &nr,
            g_ir.as_bytes(),
        ) else {
            return vec![notify(NotifyType::NO_PROPOSAL_CHOSEN, vec![])];
        };
        let new_id = new.id;
        ctx.notes.push(Note::Spawned(Box::new(new)));
        // A collision (§2.8.2)? Remember the peer's exchange's lowest nonce.
        if matches!(
            self.active.as_ref().map(|a| &a.req),
            Some(Req::RekeyIke { .. })
        ) {
            debug!(conn = %self.conn(), "IKE_SA rekey collision: peer rekeyed it too (§2.8.2)");
            self.peer_rekey = Some((new_id, ni.clone().min(nr.clone())));
        } else {
            self.mark_rekeyed(ctx.now);
            ctx.notes.push(Note::AdoptChildren {
                from: self.id,
                to: new_id,
            });
        }
        let mut reply = chosen.clone();
        reply.spi = spi.to_vec();
        vec![
            sa_payload(vec![reply]),
            Payload::new(PayloadBody::Nonce(NoncePayload { data: nr })),
            Payload::new(PayloadBody::Ke(KePayload {
                group,
                data: our_ke.public_value().to_vec(),
            })),
        ]
    }

    /// The IKE SA that replaces this one (RFC 7296 §2.18).
    #[allow(clippy::too_many_arguments)]
    fn spawn_rekeyed(
        &mut self,
        ctx: &mut Ctx<'_>,
        chosen: &Proposal,
        we_initiated: bool,
        their_spi: [u8; 8],
        our_spi: [u8; 8],
        ni: &[u8],
        nr: &[u8],
        g_ir: &[u8],
    ) -> Option<IkeSa> {
        let suite = Suite::from_proposal(&Proposal {
            spi: vec![],
            ..chosen.clone()
        })
        .ok()?;
        let old_keys = self.keys.as_ref()?;
        let seed = rekey_skeyseed(self.prf(), old_keys.sk_d.as_bytes(), g_ir, ni, nr);
        let (spi_i, spi_r) = if we_initiated {
            (our_spi, their_spi)
        } else {
            (their_spi, our_spi)
        };
        let keys = IkeKeys::derive(&suite, seed.as_bytes(), ni, nr, &spi_i, &spi_r).ok()?;
        let mut new = IkeSa::blank(
            ctx,
            self.peer.clone(),
            we_initiated,
            self.local,
            self.remote,
        );
        new.spi_i = spi_i;
        new.spi_r = spi_r;
        new.id = IkeSaId(u64::from_be_bytes(our_spi));
        new.nat_t = self.nat_t;
        new.nat_local = self.nat_local;
        new.nat_remote = self.nat_remote;
        new.frag = self.frag;
        new.remote_id = self.remote_id.clone();
        new.ni = ni.to_vec();
        new.nr = nr.to_vec();
        new.proposal = Some(Proposal {
            spi: vec![],
            ..chosen.clone()
        });
        new.suite = Some(suite);
        new.install_keys(&suite, keys).ok()?;
        new.rekey_nonces = Some((ni.to_vec(), nr.to_vec()));
        new.next_keepalive = self.next_keepalive;
        new.state = State::Established;
        new.established_at = Some(ctx.now);
        let peer = new.peer.clone();
        (new.rekey_at, _, new.expire_at) = lifetime::ike_schedule(
            ctx.now,
            peer.rekey_time,
            peer.reauth_time,
            peer.over_time,
            peer.rand_time,
            |max| ctx.jitter(max),
        );
        // Reauthentication stays due when it was (a rekey does not
        // authenticate anew).
        new.reauth_at = self.reauth_at;
        ctx.events.push_back(Event::IkeRekeyed {
            old: self.id,
            new: new.id,
        });
        info!(
            conn = %self.conn(),
            "IKE_SA {}[{}] rekeyed into [{}] ({})",
            self.conn(),
            self.unique_id,
            new.unique_id,
            proposal_name(chosen)
        );
        Some(new)
    }

    #[allow(clippy::too_many_arguments)]
    fn on_rekey_ike_response(
        &mut self,
        ctx: &mut Ctx<'_>,
        spi: [u8; 8],
        nonce: Vec<u8>,
        ke: KeyExchange,
        proposals: Vec<Proposal>,
        p: Vec<Payload>,
    ) {
        if let Some(n) = find_notify(&p, NotifyType::INVALID_KE_PAYLOAD) {
            if let Some(d) = n.data.get(..2) {
                let g = DhGroup(u16::from_be_bytes([d[0], d[1]]));
                if self.peer.ke_groups().contains(&g) && g != ke.group() {
                    if let Some(s) = &mut self.suite {
                        s.ke = Some(g);
                    }
                    return self.send_rekey_ike(ctx);
                }
            }
        }
        if let Some(n) = error_notify(&p) {
            info!(conn = %self.conn(), "IKE_SA rekey refused: {}", n.ty);
            self.peer_rekey = None;
            self.ike_rekey_failed(ctx, n.ty == NotifyType::TEMPORARY_FAILURE);
            return self.run_queue(ctx);
        }
        let (Some(sa), Some(nr), Some(theirs)) = (find_sa(&p), find_nonce(&p), find_ke(&p)) else {
            warn!("IKE_SA rekey response incomplete");
            self.ike_rekey_failed(ctx, false);
            return self.run_queue(ctx);
        };
        if !(16..=256).contains(&nr.len()) {
            warn!(conn = %self.conn(), "IKE_SA rekey response with a {}-octet nonce (RFC 7296 §2.10)", nr.len());
            self.ike_rekey_failed(ctx, false);
            return self.run_queue(ctx);
        }
        let Some(chosen) = sa.proposals.first().cloned() else {
            return self.run_queue(ctx);
        };
        if select(
            &proposals,
            std::slice::from_ref(&chosen),
            SelectOptions::default(),
        )
        .is_err()
        {
            warn!("peer chose an IKE proposal we did not offer in the rekey");
            self.ike_rekey_failed(ctx, false);
            return self.run_queue(ctx);
        }
        let Ok(peer_spi) = <[u8; 8]>::try_from(chosen.spi.as_slice()) else {
            return self.run_queue(ctx);
        };
        let Ok(g_ir) = ke.agree(&theirs.data) else {
            warn!("bad KE in IKE_SA rekey response");
            self.ike_rekey_failed(ctx, false);
            return self.run_queue(ctx);
        };
        let nr = nr.to_vec();
        let Some(new) = self.spawn_rekeyed(
            ctx,
            &chosen,
            true,
            peer_spi,
            spi,
            &nonce,
            &nr,
            g_ir.as_bytes(),
        ) else {
            return self.run_queue(ctx);
        };
        let new_id = new.id;
        ctx.notes.push(Note::Spawned(Box::new(new)));
        // Collision (§2.8.2): the new SA with the lowest nonce is redundant
        // and deleted by whoever created it.
        if let Some((their_new, their_min)) = self.peer_rekey.take() {
            let our_min = nonce.min(nr);
            if our_min < their_min {
                info!(conn = %self.conn(), "IKE_SA rekey collision lost, deleting our redundant SA");
                ctx.notes.push(Note::AdoptChildren {
                    from: self.id,
                    to: their_new,
                });
                ctx.notes.push(Note::DeleteRedundantIke(new_id));
                self.mark_rekeyed(ctx.now);
                return;
            }
            info!(conn = %self.conn(), "IKE_SA rekey collision won");
        }
        ctx.notes.push(Note::AdoptChildren {
            from: self.id,
            to: new_id,
        });
        // Delete the old IKE SA (§1.3.2) - the children moved already.
        self.mark_rekeyed(ctx.now);
        self.queue.clear();
        self.queue.push_back(Task::DeleteIke);
        self.run_queue(ctx);
    }

    // ------------------------------------------------------------------
    // INFORMATIONAL
    // ------------------------------------------------------------------

    /// Answers an INFORMATIONAL request; returns the response payloads and
    /// whether the IKE SA is to be deleted (§1.4).
    fn on_informational(&mut self, ctx: &mut Ctx<'_>, p: &[Payload]) -> (Vec<Payload>, bool) {
        let mut out = Vec::new();
        let mut kill = false;
        let mut ours = Vec::new();
        for d in p.iter().filter_map(|x| match &x.body {
            PayloadBody::Delete(d) => Some(d),
            _ => None,
        }) {
            if d.protocol == ProtocolId::IKE {
                info!(conn = %self.conn(), "received DELETE for IKE_SA {}[{}]", self.conn(), self.unique_id);
                kill = true;
                // A collision seen from our side only (§2.8.2): we answered
                // the peer's rekey of this SA while ours was in flight, and
                // the peer completed and deletes the old SA. Its new SA
                // replaces this one: the children move there.
                if let Some((their_new, _)) = self.peer_rekey.take() {
                    if matches!(
                        self.active.as_ref().map(|a| &a.req),
                        Some(Req::RekeyIke { .. })
                    ) {
                        info!(conn = %self.conn(), "the peer's IKE_SA rekey completed first, moving to its new SA");
                        ctx.notes.push(Note::MoveChildren {
                            to: their_new,
                            children: std::mem::take(&mut self.children),
                        });
                        self.mark_rekeyed(ctx.now);
                    }
                }
                continue;
            }
            for spi in d.spis.iter().filter_map(|s| spi_u32(s)) {
                let Some(c) = self.children.iter().find(|c| c.spi_out == spi) else {
                    continue;
                };
                let spi_in = c.spi_in;
                let state = c.state;
                let name = c.cfg.name.clone();
                // §1.4.1: answer with the other half, unless we are
                // deleting it ourselves already.
                let deleting_ourselves = matches!(
                    self.active.as_ref().map(|a| &a.req),
                    Some(Req::Delete { spis, .. }) if spis.contains(&spi_in)
                );
                if !deleting_ourselves {
                    ours.push(spi_in.to_be_bytes().to_vec());
                }
                // A collision seen from our side only: we are rekeying
                // this SA, answered the peer's rekey of it, and the peer
                // completed and deletes the old SA before our request got
                // through (it will refuse ours with CHILD_SA_NOT_FOUND).
                // The peer's new SA replaces it, as after a plain rekey.
                let replaced_by_peer = state == ChildState::Rekeying && {
                    let since = c.installed_at;
                    self.children.iter().any(|x| {
                        !x.created_by_us
                            && x.cfg.name == name
                            && x.spi_in != spi_in
                            && x.state == ChildState::Installed
                            && x.installed_at >= since
                    })
                };
                if state == ChildState::Rekeyed || replaced_by_peer {
                    // The initiator of a rekey deleted the old SA: switch
                    // to the newest SA of that config (make-before-break).
                    let newest = self
                        .children
                        .iter()
                        .filter(|x| {
                            x.cfg.name == name
                                && x.spi_in != spi_in
                                && x.state == ChildState::Installed
                        })
                        .max_by_key(|x| x.installed_at)
                        .map(|x| x.spi_in);
                    if let Some(n) = newest {
                        self.activate(ctx, n);
                    }
                    self.retire_child(ctx, spi_in);
                } else {
                    info!(conn = %self.conn(), "received DELETE for CHILD_SA {name} with SPI {spi:08x}");
                    let action = self
                        .children
                        .iter()
                        .find(|c| c.spi_in == spi_in)
                        .map(|c| c.cfg.close_action);
                    self.remove_child(ctx, spi_in, Failure::DeletedByPeer);
                    if action == Some(PeerAction::Restart) {
                        let cfg = self.peer.children.iter().find(|c| c.name == name).cloned();
                        if let Some(cfg) = cfg {
                            self.queue.push_back(Task::CreateChild(Box::new(cfg)));
                        }
                    }
                }
            }
        }
        if !ours.is_empty() {
            out.push(Payload::new(PayloadBody::Delete(DeletePayload {
                protocol: ProtocolId::ESP,
                spi_size: 4,
                spis: ours,
            })));
        }
        if !kill {
            self.run_queue(ctx);
        }
        (out, kill)
    }

    /// A replaced SA: stop sending at once, keep receiving for
    /// `delete_rekeyed_delay` (packets in flight), then remove.
    fn retire_child(&mut self, ctx: &mut Ctx<'_>, spi_in: u32) {
        let delay = ctx.cfg.delete_rekeyed_delay;
        if let Some(c) = self.children.iter_mut().find(|c| c.spi_in == spi_in) {
            c.state = ChildState::Rekeyed;
            c.rekey_at = None;
            if c.outbound_active {
                c.outbound_active = false;
                ctx.actions.push_back(Action::RemoveOutbound {
                    reqid: c.cfg.reqid,
                    spi_out: c.spi_out,
                });
            }
            c.remove_at = Some(ctx.now + delay);
        }
    }

    /// The peer answered our DELETE of CHILD SA `spi_in`. A replaced
    /// (rekeyed) one keeps its inbound half for `delete_rekeyed_delay`, as
    /// strongSwan does: the peer may have sealed packets on it just before
    /// it switched to the new SA, and they are still on their way. Any
    /// other goes at once.
    fn deleted_with_peer(&mut self, ctx: &mut Ctx<'_>, spi_in: u32) {
        let delay = ctx.cfg.delete_rekeyed_delay;
        match self.children.iter_mut().find(|c| c.spi_in == spi_in) {
            Some(c) if c.state == ChildState::Rekeyed && c.in_dataplane && !delay.is_zero() => {
                c.remove_at.get_or_insert(ctx.now + delay);
            }
            _ => self.remove_child(ctx, spi_in, Failure::DeletedLocally),
        }
    }

    fn remove_child(&mut self, ctx: &mut Ctx<'_>, spi_in: u32, reason: Failure) {
        let Some(i) = self.children.iter().position(|c| c.spi_in == spi_in) else {
            return;
        };
        let c = self.children.remove(i);
        if c.in_dataplane {
            ctx.actions.push_back(Action::Delete {
                reqid: c.cfg.reqid,
                spi_in: c.spi_in,
                spi_out: c.spi_out,
            });
        }
        if c.state == ChildState::Rekeyed {
            return;
        }
        ctx.events.push_back(Event::ChildDown {
            ike: self.id,
            conn: self.peer.name.clone(),
            child: c.cfg.name.clone(),
            spi_in: c.spi_in,
            spi_out: c.spi_out,
            reason: if c.expired { Failure::Expired } else { reason },
        });
    }

    /// A CHILD SA reached its hard lifetime (time, or volume as the data
    /// plane reports). It leaves the data plane at once. A replaced one
    /// just goes (its replacement takes over sending if it had not yet);
    /// any other is deleted with the peer and, as strongSwan does after a
    /// hard expiry, established again with its configuration, so a routed
    /// interface does not stay down while the IKE SA lives.
    fn expire_child(&mut self, ctx: &mut Ctx<'_>, spi_in: u32) {
        let Some(c) = self.children.iter_mut().find(|c| c.spi_in == spi_in) else {
            return;
        };
        c.expire_at = None;
        c.rekey_at = None;
        if c.state == ChildState::Rekeyed {
            let (name, active) = (c.cfg.name.clone(), c.outbound_active);
            self.remove_child(ctx, spi_in, Failure::Replaced);
            if active {
                if let Some(n) = self.newest_installed(&name) {
                    self.activate(ctx, n);
                }
            }
            return;
        }
        if !c.in_dataplane {
            return;
        }
        warn!(
            conn = %self.peer.name,
            "CHILD_SA {}{{{}}} with SPIs {:08x}_i {:08x}_o expired before it was rekeyed",
            c.cfg.name,
            c.unique_id,
            c.spi_in,
            c.spi_out
        );
        c.in_dataplane = false;
        c.expired = true;
        c.outbound_active = false;
        c.state = ChildState::Deleting;
        ctx.actions.push_back(Action::Delete {
            reqid: c.cfg.reqid,
            spi_in: c.spi_in,
            spi_out: c.spi_out,
        });
        let cfg = c.cfg.clone();
        self.queue.push_back(Task::DeleteChild(spi_in));
        if self.state == State::Established {
            self.queue.push_back(Task::Recreate(Box::new(cfg)));
        }
        self.run_queue(ctx);
    }

    /// The newest INSTALLED CHILD SA of child config `name`.
    fn newest_installed(&self, name: &str) -> Option<u32> {
        self.children
            .iter()
            .filter(|x| x.cfg.name == name && x.state == ChildState::Installed)
            .max_by_key(|x| x.installed_at)
            .map(|x| x.spi_in)
    }

    /// Our rekey of `old` did not happen: the old SA stays and is rekeyed
    /// again later (strongSwan's retry interval; after TEMPORARY_FAILURE
    /// sooner), always before its hard expiry.
    fn rekey_failed(&mut self, ctx: &mut Ctx<'_>, old: u32, temporary: bool) {
        let retry = if temporary {
            Duration::from_secs(2) + ctx_jitter_small(ctx)
        } else {
            lifetime::RETRY_INTERVAL - ctx.jitter(lifetime::RETRY_JITTER)
        };
        let now = ctx.now;
        if let Some(ch) = self
            .children
            .iter_mut()
            .find(|x| x.spi_in == old && x.state == ChildState::Rekeying)
        {
            ch.state = ChildState::Installed;
            ch.rekey_at = Some(lifetime::retry_at(
                now,
                retry,
                ch.expire_at,
                ch.installed_at,
            ));
            info!(conn = %self.peer.name, "CHILD_SA rekey of {old:08x} failed; trying again in {:?}", ch.rekey_at.map(|t| t.saturating_duration_since(now)).unwrap_or_default());
        }
    }

    /// Our IKE SA rekey did not happen: try again later (sooner after
    /// TEMPORARY_FAILURE), before the hard expiry.
    fn ike_rekey_failed(&mut self, ctx: &mut Ctx<'_>, temporary: bool) {
        let retry = if temporary {
            Duration::from_secs(2) + ctx_jitter_small(ctx)
        } else {
            lifetime::RETRY_INTERVAL - ctx.jitter(lifetime::RETRY_JITTER)
        };
        let since = self.established_at.unwrap_or(ctx.now);
        self.rekey_at = Some(lifetime::retry_at(ctx.now, retry, self.expire_at, since));
    }

    /// A re-establishment of child `cfg` failed: try again later, with
    /// back-off (5 s doubling to 2 min), while the IKE SA lives.
    fn schedule_recreate(&mut self, ctx: &mut Ctx<'_>, cfg: ChildConfig) {
        let attempt = self
            .recreate
            .iter()
            .find(|r| r.cfg.name == cfg.name)
            .map_or(0, |r| r.attempt.saturating_add(1));
        self.recreate.retain(|r| r.cfg.name != cfg.name);
        let backoff = Duration::from_secs(5)
            .saturating_mul(1u32 << attempt.min(5))
            .min(Duration::from_secs(120));
        let at = ctx.now + backoff + ctx_jitter_small(ctx);
        info!(conn = %self.peer.name, child = %cfg.name, "CHILD_SA {} could not be established again; next attempt in {backoff:?}", cfg.name);
        self.recreate.push(Recreate { cfg, at, attempt });
    }

    // ------------------------------------------------------------------
    // Tasks, timers, teardown
    // ------------------------------------------------------------------

    /// Queues a request.
    pub(crate) fn queue(&mut self, ctx: &mut Ctx<'_>, task: Task) {
        self.queue.push_back(task);
        self.run_queue(ctx);
    }

    /// Starts the next queued request if none is in flight.
    fn run_queue(&mut self, ctx: &mut Ctx<'_>) {
        while self.active.is_none()
            && matches!(
                self.state,
                State::Established | State::Rekeyed | State::Deleting
            )
        {
            let Some(task) = self.queue.pop_front() else {
                if self.state == State::Established {
                    if let Some(old) = self.replaces.take() {
                        info!(conn = %self.conn(), "reauthentication complete, deleting the old IKE_SA");
                        ctx.notes.push(Note::DeleteRedundantIke(old));
                    }
                }
                return;
            };
            if self.state != State::Established
                && !matches!(task, Task::DeleteIke | Task::DeleteChild(_))
            {
                continue;
            }
            match task {
                Task::CreateChild(cfg) => match self.pending_child(ctx, *cfg, true) {
                    Ok(c) => self.send_create_child(ctx, c),
                    Err(f) => warn!("{f}"),
                },
                Task::Recreate(cfg) => {
                    // Lost meanwhile its reason (the config is gone, or an
                    // SA of it is up again)?
                    let name = cfg.name.clone();
                    let up = self
                        .children
                        .iter()
                        .any(|c| c.cfg.name == name && c.state == ChildState::Installed);
                    let cfg = self.peer.children.iter().find(|c| c.name == name).cloned();
                    match cfg {
                        Some(cfg) if !up => match self.pending_child(ctx, cfg, true) {
                            Ok(mut c) => {
                                info!(conn = %self.conn(), child = %name, "establishing CHILD_SA {name} again");
                                c.reestablish = true;
                                self.send_create_child(ctx, c);
                            }
                            Err(f) => warn!("{f}"),
                        },
                        _ => self.recreate.retain(|r| r.cfg.name != name),
                    }
                }
                Task::RekeyChild(spi) => {
                    let Some(ch) = self
                        .children
                        .iter_mut()
                        .find(|c| c.spi_in == spi && c.state == ChildState::Installed)
                    else {
                        continue;
                    };
                    ch.state = ChildState::Rekeying;
                    let mut cfg = ch.cfg.clone();
                    // Rekey the selectors that were negotiated.
                    cfg.local_ts = ch.local_ts.iter().map(|t| TsSpec::Range(*t)).collect();
                    cfg.remote_ts = ch.remote_ts.iter().map(|t| TsSpec::Range(*t)).collect();
                    match self.pending_child(ctx, cfg, true) {
                        Ok(mut c) => {
                            c.rekeys = Some(spi);
                            info!(conn = %self.conn(), "rekeying CHILD_SA with SPI {spi:08x}");
                            self.send_create_child(ctx, c);
                        }
                        Err(f) => warn!("{f}"),
                    }
                }
                Task::RekeyIke => {
                    if self
                        .children
                        .iter()
                        .any(|c| c.state == ChildState::Rekeying)
                    {
                        self.rekey_at = Some(ctx.now + Duration::from_secs(1));
                        continue;
                    }
                    self.send_rekey_ike(ctx);
                }
                Task::DeleteChild(spi) => {
                    let Some(ch) = self.children.iter_mut().find(|c| c.spi_in == spi) else {
                        continue;
                    };
                    if ch.state != ChildState::Rekeyed {
                        ch.state = ChildState::Deleting;
                    }
                    let p = vec![Payload::new(PayloadBody::Delete(DeletePayload {
                        protocol: ProtocolId::ESP,
                        spi_size: 4,
                        spis: vec![spi.to_be_bytes().to_vec()],
                    }))];
                    let req = Req::Delete {
                        ike: false,
                        spis: vec![spi],
                    };
                    if !self.send_request(ctx, ExchangeType::INFORMATIONAL, &p, req) {
                        self.remove_child(ctx, spi, Failure::DeletedLocally);
                    }
                }
                Task::DeleteIke => {
                    let p = vec![Payload::new(PayloadBody::Delete(DeletePayload {
                        protocol: ProtocolId::IKE,
                        spi_size: 0,
                        spis: vec![],
                    }))];
                    if self.state != State::Rekeyed {
                        self.state = State::Deleting;
                    }
                    info!(conn = %self.conn(), "deleting IKE_SA {}[{}]", self.conn(), self.unique_id);
                    let req = Req::Delete {
                        ike: true,
                        spis: vec![],
                    };
                    if !self.send_request(ctx, ExchangeType::INFORMATIONAL, &p, req) {
                        return self.die(ctx, Failure::DeletedLocally);
                    }
                }
                Task::Dpd => {
                    self.send_request(ctx, ExchangeType::INFORMATIONAL, &[], Req::Dpd);
                }
            }
        }
    }

    /// The peer's ESP arrived on a CHILD SA: it is alive (DPD is skipped),
    /// and a responder's new SA may carry traffic.
    pub(crate) fn esp_activity(&mut self, ctx: &mut Ctx<'_>, spi_in: u32) {
        self.last_esp = Some(ctx.now);
        let Some(c) = self.children.iter().find(|c| c.spi_in == spi_in) else {
            return;
        };
        if !c.outbound_active && c.state == ChildState::Installed {
            // strongSwan 5.9 switches when traffic arrives on the new SA.
            let name = c.cfg.name.clone();
            self.activate(ctx, spi_in);
            let olds: Vec<u32> = self
                .children
                .iter()
                .filter(|x| {
                    x.cfg.name == name
                        && x.spi_in != spi_in
                        && x.state == ChildState::Rekeyed
                        && x.outbound_active
                })
                .map(|x| x.spi_in)
                .collect();
            for o in olds {
                if let Some(x) = self.children.iter_mut().find(|x| x.spi_in == o) {
                    x.outbound_active = false;
                    ctx.actions.push_back(Action::RemoveOutbound {
                        reqid: x.cfg.reqid,
                        spi_out: x.spi_out,
                    });
                }
            }
        }
    }

    /// A data-plane lifetime ran out on a CHILD SA.
    pub(crate) fn child_expired(&mut self, ctx: &mut Ctx<'_>, spi_in: u32, hard: bool) {
        let Some(c) = self.children.iter().find(|c| c.spi_in == spi_in) else {
            return;
        };
        if hard {
            self.expire_child(ctx, spi_in);
        } else if c.state == ChildState::Installed {
            self.queue(ctx, Task::RekeyChild(spi_in));
        }
    }

    /// Ends the SA: data plane cleaned, events out.
    pub(crate) fn die(&mut self, ctx: &mut Ctx<'_>, reason: Failure) {
        if self.state == State::Dead {
            return;
        }
        let was_up = self.established_at.is_some();
        let rekeyed = self.state == State::Rekeyed;
        self.state = State::Dead;
        self.active = None;
        let spis: Vec<u32> = self.children.iter().map(|c| c.spi_in).collect();
        let restart: Vec<String> = self
            .children
            .iter()
            .filter(|c| {
                c.state != ChildState::Rekeyed
                    && matches!(
                        (&reason, c.cfg.dpd_action, c.cfg.close_action),
                        (Failure::Timeout(_), PeerAction::Restart, _)
                            | (Failure::DeletedByPeer, _, PeerAction::Restart)
                    )
            })
            .map(|c| c.cfg.name.clone())
            .collect();
        for spi in spis {
            self.remove_child(ctx, spi, reason.clone());
        }
        if rekeyed {
            debug!(conn = %self.conn(), "rekeyed IKE_SA {}[{}] deleted", self.conn(), self.unique_id);
            return;
        }
        if was_up || self.initiator {
            ctx.events.push_back(Event::IkeDown {
                id: self.id,
                conn: self.peer.name.clone(),
                reason: reason.clone(),
            });
        }
        if !was_up {
            warn!(conn = %self.conn(), "establishing IKE_SA failed: {reason}");
        }
        for child in restart {
            ctx.notes.push(Note::Restart {
                conn: self.peer.name.clone(),
                child: Some(child),
                attempt: 1,
            });
        }
        if !was_up && self.initiator && matches!(reason, Failure::Timeout(_)) {
            let tries = self.peer.keyingtries;
            if tries == 0 || self.attempt < tries {
                info!(conn = %self.conn(), "peer not responding, trying again ({}/{})", self.attempt + 1, if tries == 0 { "inf".to_string() } else { tries.to_string() });
                ctx.notes.push(Note::Restart {
                    conn: self.peer.name.clone(),
                    child: self.first_child.as_ref().map(|c| c.name.clone()),
                    attempt: self.attempt + 1,
                });
            }
        }
    }

    fn fail(&mut self, ctx: &mut Ctx<'_>, f: Failure) {
        warn!(conn = %self.conn(), "{f}");
        self.die(ctx, f);
    }

    /// The next instant something is due.
    pub(crate) fn poll_timeout(&self, cfg: &EngineConfig) -> Option<Instant> {
        if self.state == State::Dead {
            return None;
        }
        let mut t: Vec<Instant> = Vec::new();
        if let Some(a) = &self.active {
            t.push(a.next);
        }
        if self.half_open {
            t.push(self.created_at + cfg.half_open_timeout);
        }
        if let Some(r) = &self.reassembly {
            t.push(r.started + cfg.fragment_timeout);
        }
        if self.state == State::Established {
            t.extend(self.rekey_at);
            t.extend(self.reauth_at);
            t.extend(self.expire_at);
            t.extend(self.next_keepalive);
            if !self.peer.dpd_delay.is_zero() && self.active.is_none() {
                t.push(self.last_alive() + self.peer.dpd_delay);
            }
            for c in &self.children {
                if c.state == ChildState::Installed {
                    t.extend(c.rekey_at);
                }
                t.extend(c.expire_at);
                t.extend(c.remove_at);
            }
            t.extend(self.recreate.iter().map(|r| r.at));
        }
        if self.state == State::Rekeyed {
            for c in &self.children {
                t.extend(c.remove_at);
            }
            t.extend(self.reap_at);
        }
        t.into_iter().min()
    }

    fn last_alive(&self) -> Instant {
        match self.last_esp {
            Some(e) if e > self.last_rx => e,
            _ => self.last_rx,
        }
    }

    /// Runs whatever is due.
    pub(crate) fn handle_timeout(&mut self, ctx: &mut Ctx<'_>) {
        let now = ctx.now;
        if self.state == State::Dead {
            return;
        }
        let conn = self.peer.name.clone();
        if let Some(a) = &mut self.active {
            if a.next <= now {
                if a.tries >= ctx.cfg.retransmit_tries {
                    let what = format!("{:?}", a.req)
                        .split([' ', '(', '{'])
                        .next()
                        .unwrap_or("")
                        .to_string();
                    let f = Failure::Timeout(format!(
                        "no response to {what} request after {} retransmits",
                        a.tries
                    ));
                    warn!(%conn, "giving up after {} retransmits", a.tries);
                    if matches!(a.req, Req::Dpd) {
                        ctx.stats.dpd_timeouts += 1;
                    }
                    return self.die(ctx, f);
                }
                a.tries += 1;
                a.next = now
                    + retransmit_delay(
                        ctx.cfg.retransmit_timeout,
                        ctx.cfg.retransmit_base,
                        a.tries,
                    );
                debug!(%conn, "retransmit {} of request with message ID {}", a.tries, a.msg_id);
                ctx.stats.retransmits += 1;
                let packets = a.packets.clone();
                self.send(ctx, &packets);
            }
        }
        if self
            .reassembly
            .as_ref()
            .is_some_and(|r| now >= r.started + ctx.cfg.fragment_timeout)
        {
            debug!(conn = %self.conn(), "dropping a message whose fragments did not all arrive in {:?}", ctx.cfg.fragment_timeout);
            self.reassembly = None;
        }
        if self.half_open && now >= self.created_at + ctx.cfg.half_open_timeout {
            debug!(conn = %self.conn(), "half-open IKE_SA timed out");
            return self.die(ctx, Failure::Timeout("IKE_AUTH never arrived".into()));
        }
        // Replaced CHILD SAs whose grace period is over.
        let done: Vec<u32> = self
            .children
            .iter()
            .filter(|c| c.remove_at.is_some_and(|t| t <= now))
            .map(|c| c.spi_in)
            .collect();
        for spi in done {
            self.remove_child(ctx, spi, Failure::Replaced);
        }
        if self.state == State::Rekeyed && self.reap_at.is_some_and(|t| t <= now) {
            self.reap_at = None;
            info!(conn = %self.conn(), "rekeyed IKE_SA {}[{}] was not deleted by the peer; deleting it", self.conn(), self.unique_id);
            self.terminate(ctx);
            return;
        }
        if self.state != State::Established {
            return;
        }
        if self.expire_at.is_some_and(|t| t <= now) {
            warn!(conn = %self.conn(), "IKE_SA lifetime expired");
            self.expire_at = None;
            self.queue(ctx, Task::DeleteIke);
            return;
        }
        if self.reauth_at.is_some_and(|t| t <= now) {
            self.reauth_at = None;
            // Reauthenticate by making a new IKE SA (make-before-break):
            // the endpoint starts it; INITIAL_CONTACT is not sent then.
            let mut children: Vec<ChildConfig> = Vec::new();
            for c in &self.children {
                if c.state != ChildState::Rekeyed && !children.iter().any(|x| x.name == c.cfg.name)
                {
                    children.push(c.cfg.clone());
                }
            }
            info!(conn = %self.conn(), "reauthenticating IKE_SA {}[{}]", self.conn(), self.unique_id);
            ctx.notes.push(Note::Reauth {
                old: self.id,
                children,
            });
        }
        if self.rekey_at.is_some_and(|t| t <= now) {
            self.rekey_at = None;
            self.queue(ctx, Task::RekeyIke);
        }
        let due: Vec<(u32, bool)> = self
            .children
            .iter()
            .filter_map(|c| {
                if c.expire_at.is_some_and(|t| t <= now) {
                    Some((c.spi_in, true))
                } else if c.state == ChildState::Installed && c.rekey_at.is_some_and(|t| t <= now) {
                    Some((c.spi_in, false))
                } else {
                    None
                }
            })
            .collect();
        for (spi, hard) in due {
            if hard {
                self.expire_child(ctx, spi);
            } else {
                if let Some(c) = self.children.iter_mut().find(|c| c.spi_in == spi) {
                    c.rekey_at = None;
                }
                self.queue(ctx, Task::RekeyChild(spi));
            }
        }
        // Lost CHILD SAs whose next attempt is due.
        let due: Vec<ChildConfig> = self
            .recreate
            .iter_mut()
            .filter(|r| r.at <= now)
            .map(|r| {
                r.at = now + Duration::from_secs(3600);
                r.cfg.clone()
            })
            .collect();
        for cfg in due {
            self.queue(ctx, Task::Recreate(Box::new(cfg)));
        }
        if let Some(k) = self.next_keepalive {
            if k <= now {
                // RFC 3948 §2.3: a single 0xFF octet on the NAT-T port,
                // from the NAT-T socket (the daemon adds no marker to it):
                // it must refresh the NAT mapping the IKE and ESP traffic
                // uses.
                ctx.transmits.push_back(Transmit {
                    local: self.local,
                    remote: self.remote,
                    nat_t: true,
                    data: vec![0xff],
                });
                self.next_keepalive = Some(now + ctx.cfg.keep_alive);
            }
        }
        let dpd = self.peer.dpd_delay;
        if !dpd.is_zero() && self.active.is_none() && self.last_alive() + dpd <= now {
            debug!(conn = %self.conn(), "sending DPD request");
            self.last_rx = now;
            self.queue(ctx, Task::Dpd);
        }
    }

    /// A summary for listings and events.
    pub(crate) fn info(&self) -> IkeInfo {
        IkeInfo {
            id: self.id,
            unique_id: self.unique_id,
            conn: self.peer.name.clone(),
            state: match self.state {
                State::InitSent | State::AuthSent | State::HalfOpen => "CONNECTING",
                State::Established => {
                    if matches!(
                        self.active.as_ref().map(|a| &a.req),
                        Some(Req::RekeyIke { .. })
                    ) {
                        "REKEYING"
                    } else {
                        "ESTABLISHED"
                    }
                }
                State::Rekeyed => "REKEYED",
                State::Deleting => "DELETING",
                State::Dead => "DESTROYING",
            },
            initiator: self.initiator,
            spi_i: self.spi_i,
            spi_r: self.spi_r,
            local: self.local,
            remote: self.remote,
            local_id: id_string(&self.peer.local_id),
            remote_id: self.remote_id.as_ref().map_or_else(String::new, id_string),
            proposal: self
                .proposal
                .as_ref()
                .map_or_else(String::new, proposal_name),
            nat_local: self.nat_local,
            nat_remote: self.nat_remote,
            established_at: self.established_at,
            rekey_at: self.rekey_at,
            reauth_at: self.reauth_at,
            children: self.children.iter().map(|c| self.child_info(c)).collect(),
        }
    }

    fn child_info(&self, c: &ChildSa) -> ChildInfo {
        ChildInfo {
            unique_id: c.unique_id,
            name: c.cfg.name.clone(),
            reqid: c.cfg.reqid,
            state: c.state.name(),
            spi_in: c.spi_in,
            spi_out: c.spi_out,
            proposal: proposal_name(&c.proposal),
            encap: c.encap,
            esn: c.esn,
            local_ts: c.local_ts.clone(),
            remote_ts: c.remote_ts.clone(),
            installed_at: c.installed_at,
            rekey_at: if c.state == ChildState::Installed {
                c.rekey_at
            } else {
                None
            },
            expires_at: c.expire_at,
        }
    }

    /// Hands this SA's CHILD SAs to `to` (after an IKE SA rekey).
    pub(crate) fn take_children(&mut self) -> Vec<ChildSa> {
        std::mem::take(&mut self.children)
    }

    /// Takes over CHILD SAs of the IKE SA this one replaced (§2.8). The
    /// data plane keeps them under their SPIs; address updates name them.
    pub(crate) fn adopt_children(&mut self, now: Instant, mut children: Vec<ChildSa>) {
        // A rekey the old IKE SA had queued (its timer already cleared) or
        // in flight dies with the old SA's queue: do it again here, at
        // once, or the child runs into its hard lifetime.
        for c in &mut children {
            let lost = match c.state {
                ChildState::Rekeying => true,
                ChildState::Installed => c.rekey_at.is_none() && !c.cfg.rekey_time.is_zero(),
                _ => false,
            };
            if lost {
                debug!(conn = %self.peer.name, "CHILD_SA {:08x}: rekey moved to the new IKE_SA", c.spi_in);
                c.state = ChildState::Installed;
                c.rekey_at = Some(now);
            }
        }
        self.children.extend(children);
    }

    /// Data-plane deletions for CHILD SAs whose IKE SA vanished before it
    /// could take them over.
    pub(crate) fn orphaned(children: Vec<ChildSa>) -> impl Iterator<Item = Action> {
        children.into_iter().map(|c| Action::Delete {
            reqid: c.cfg.reqid,
            spi_in: c.spi_in,
            spi_out: c.spi_out,
        })
    }

    /// This IKE SA was replaced by a rekey (§2.18). The rekey's initiator
    /// deletes it; if that DELETE never comes, it is deleted after
    /// [`REKEYED_IKE_SA_TIMEOUT`] (strongSwan does the same after 90 s).
    fn mark_rekeyed(&mut self, now: Instant) {
        self.state = State::Rekeyed;
        self.reap_at.get_or_insert(now + REKEYED_IKE_SA_TIMEOUT);
    }

    /// Our SPI, as the endpoint routes by.
    pub(crate) fn route_spi(&self) -> u64 {
        u64::from_be_bytes(self.our_spi())
    }

    /// Deletes this SA with a DELETE to the peer.
    pub(crate) fn terminate(&mut self, ctx: &mut Ctx<'_>) {
        match self.state {
            State::Established | State::Rekeyed => {
                self.queue.clear();
                self.active = None;
                self.queue(ctx, Task::DeleteIke);
            }
            State::Deleting | State::Dead => {}
            _ => self.die(ctx, Failure::DeletedLocally),
        }
    }

    /// Whether the SA lives between these identities (INITIAL_CONTACT).
    pub(crate) fn same_peer(&self, other: &IkeSa) -> bool {
        self.id != other.id
            && self.peer.name == other.peer.name
            && self.remote_id.is_some()
            && self.remote_id == other.remote_id
            && self.state != State::Dead
    }

    /// Whether this SA is an established one with the peer described
    /// (see [`Ctx::has_contact`]): the same identities, or without a
    /// configured peer identity the same connection and peer address.
    pub(crate) fn is_contact(
        &self,
        conn: &str,
        local_id: &Identification,
        remote_id: Option<&Identification>,
        remote: IpAddr,
    ) -> bool {
        matches!(self.state, State::Established | State::Rekeyed)
            && self.peer.local_id == *local_id
            && match remote_id {
                Some(r) => self.remote_id.as_ref() == Some(r),
                None => self.peer.name == conn && self.remote.ip() == remote,
            }
    }

    /// Whether this SA was established before `t` (INITIAL_CONTACT only
    /// clears SAs older than the IKE SA that carried it).
    pub(crate) fn established_before(&self, t: Instant) -> bool {
        self.established_at.is_some_and(|e| e < t)
    }

    /// When this SA was created (its IKE_SA_INIT).
    pub(crate) fn created_at(&self) -> Instant {
        self.created_at
    }

    /// Whether an inbound SPI belongs to this SA.
    pub(crate) fn has_spi_in(&self, spi: u32) -> bool {
        self.children.iter().any(|c| c.spi_in == spi)
    }
}

/// The KE groups an ESP proposal list offers for rekeys (NONE included).
fn pfs_groups(proposals: &[Proposal]) -> Vec<DhGroup> {
    let mut v: Vec<DhGroup> = proposals
        .iter()
        .flat_map(|p| p.transforms.iter())
        .filter(|t| t.ty == TransformType::KE)
        .map(|t| DhGroup(t.id))
        .collect();
    v.sort();
    v.dedup();
    v
}

/// The KE transforms of the IKE_AUTH child's proposals are ignored
/// (RFC 7296 §1.2), but when a peer sends them they say what it will do at
/// the first rekey: a PFS mismatch is logged now, at set-up, rather than
/// discovered when that rekey fails an hour later.
fn warn_pfs_mismatch(conn: &str, cfg: &ChildConfig, offered: &[Proposal]) {
    if let Some(why) = pfs_mismatch(&cfg.esp_proposals, offered) {
        warn!(%conn, child = %cfg.name, "PFS mismatch: {why}; the first rekey of this CHILD_SA will fail");
    }
}

/// Why our ESP proposals and the KE transforms a peer sent in IKE_AUTH
/// cannot agree at a rekey, if they cannot.
fn pfs_mismatch(ours: &[Proposal], offered: &[Proposal]) -> Option<String> {
    let theirs = pfs_groups(offered);
    if theirs.is_empty() {
        return None;
    }
    let ours = pfs_groups(ours);
    let compatible = if ours.is_empty() {
        theirs.contains(&DhGroup::NONE)
    } else {
        ours.iter().any(|g| theirs.contains(g))
    };
    (!compatible).then(|| {
        format!(
            "the peer proposes key exchange {theirs:?} for CHILD_SA rekeys, we are configured with {}",
            if ours.is_empty() { "no PFS".to_string() } else { format!("{ours:?}") }
        )
    })
}

fn min_nonce(n: &(Vec<u8>, Vec<u8>)) -> Vec<u8> {
    n.0.clone().min(n.1.clone())
}

fn ctx_jitter_small(ctx: &mut Ctx<'_>) -> Duration {
    ctx.jitter(Duration::from_secs(2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proposal::parse_esp_proposals;

    /// RFC 7296 §1.2: KE transforms in the IKE_AUTH child's proposals are
    /// ignored for that child, but reveal a PFS mismatch early.
    #[test]
    fn pfs_mismatch_is_seen_at_set_up() {
        let p = |s| parse_esp_proposals(s).unwrap();
        assert!(pfs_mismatch(&p("aes128gcm16"), &p("aes128gcm16-ecp256")).is_some());
        assert!(pfs_mismatch(&p("aes128gcm16-modp2048"), &p("aes128gcm16-ecp256")).is_some());
        assert!(
            pfs_mismatch(&p("aes128gcm16-ecp256"), &p("aes128gcm16-ecp256-modp2048")).is_none()
        );
        // No KE transforms sent: nothing to compare.
        assert!(pfs_mismatch(&p("aes128gcm16-ecp256"), &p("aes128gcm16")).is_none());
    }

    /// A peer's identity is printed with non-printable bytes as `?`
    /// (strongSwan's `%Y`): no NUL, newline or escape reaches a log line
    /// or an updown variable.
    #[test]
    fn identities_print_without_control_bytes() {
        let evil = b"sun.example.org\n2026-12-04T00:00:00Z  INFO forged\0\x1b[31m\xff".to_vec();
        let s = id_string(&Identification::Fqdn(evil.clone()));
        assert_eq!(
            s,
            "sun.example.org?2026-12-04T00:00:00Z  INFO forged??[31m?"
        );
        assert_eq!(id_string(&Identification::Rfc822(evil)), s);
        assert!(s.bytes().all(|b| (0x20..=0x7e).contains(&b)));
        // Printable identities are unchanged; binary ones were hex already.
        assert_eq!(
            id_string(&Identification::Fqdn(b"gw-b.example.org".to_vec())),
            "gw-b.example.org"
        );
        assert_eq!(id_string(&Identification::KeyId(vec![0, 10])), "@#000a");
    }
}
