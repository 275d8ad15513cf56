//! What the engine needs to know about its peers: the daemon converts the
//! swanctl.conf model (or a VICI `load-conn`) into these.

use std::net::IpAddr;
use std::time::Duration;

use crate::crypto::SecretBytes;
use crate::wire::{Identification, Proposal};

/// Daemon-wide settings, named after strongswan.conf's `charon.*` keys.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// `charon.retransmit_timeout`: the first retransmission after this long.
    pub retransmit_timeout: Duration,
    /// `charon.retransmit_base`: each retransmission waits this much longer.
    pub retransmit_base: f64,
    /// `charon.retransmit_tries`: retransmissions before giving up.
    pub retransmit_tries: u32,
    /// `charon.cookie_threshold`: half-open IKE SAs, or IKE_SA_INIT
    /// requests within a second (failed ones too), beyond which IKE_SA_INIT
    /// requests must carry a COOKIE (RFC 7296 §2.6). 0 disables cookies.
    pub cookie_threshold: usize,
    /// `charon.init_limit_half_open`: half-open IKE SAs beyond which new
    /// IKE_SA_INIT requests are dropped. 0 is no limit.
    pub init_limit_half_open: usize,
    /// `charon.block_threshold`: half-open IKE SAs from one peer address
    /// beyond which its IKE_SA_INIT requests are dropped. 0 is no limit.
    pub block_threshold: usize,
    /// `charon.ikesa_limit`: IKE SAs beyond which new IKE_SA_INIT requests
    /// are dropped. 0 is no limit.
    pub ikesa_limit: usize,
    /// `charon.max_packet`: the largest IKE message accepted, as one
    /// datagram or reassembled from fragments (RFC 7383 §2.6).
    pub max_packet: usize,
    /// Fragments one message may have (strongSwan's `MAX_FRAGMENTS`).
    pub max_fragments: u16,
    /// How long a partly reassembled message is kept.
    pub fragment_timeout: Duration,
    /// Bytes of partly reassembled messages all IKE SAs together may hold.
    pub max_reassembly_total: usize,
    /// CHILD SAs one IKE SA may hold (rekeyed ones waiting for removal
    /// included); the peer's CREATE_CHILD_SA beyond it gets
    /// NO_ADDITIONAL_SAS (RFC 7296 §1.3).
    pub child_sa_limit: usize,
    /// `charon.keep_alive`: NAT keepalive interval (RFC 3948 §2.3).
    pub keep_alive: Duration,
    /// `charon.delete_rekeyed_delay`: how long the inbound half of a rekeyed
    /// CHILD SA is kept for packets in flight.
    pub delete_rekeyed_delay: Duration,
    /// `charon.make_before_break`: reauthenticate by building the new IKE SA
    /// before deleting the old one.
    pub make_before_break: bool,
    /// `charon.fragment_size`: largest IKE datagram before fragmenting
    /// (RFC 7383), IP and UDP headers included.
    pub fragment_size: usize,
    /// `charon.port`: the IKE port.
    pub port: u16,
    /// `charon.port_nat_t`: the NAT-T port (RFC 3948), with non-ESP marker.
    pub port_nat_t: u16,
    /// Whether the data plane can carry transport mode.
    pub transport_mode_supported: bool,
    /// Seconds a half-open responder IKE SA lives.
    pub half_open_timeout: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            retransmit_timeout: Duration::from_secs(4),
            retransmit_base: 1.8,
            retransmit_tries: 5,
            cookie_threshold: 30,
            init_limit_half_open: 1000,
            block_threshold: 5,
            ikesa_limit: 10_000,
            max_packet: 10_000,
            max_fragments: 255,
            fragment_timeout: Duration::from_secs(10),
            max_reassembly_total: 4 * 1024 * 1024,
            child_sa_limit: 256,
            keep_alive: Duration::from_secs(20),
            delete_rekeyed_delay: Duration::from_secs(5),
            make_before_break: true,
            fragment_size: 1280,
            port: 500,
            port_nat_t: 4500,
            transport_mode_supported: false,
            half_open_timeout: Duration::from_secs(30),
        }
    }
}

/// An address pattern of `local_addrs`/`remote_addrs`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AddrMatch {
    /// `%any`: every address.
    Any,
    /// `%any4`.
    Any4,
    /// `%any6`.
    Any6,
    /// One address (DNS names are resolved by the daemon into these).
    Addr(IpAddr),
    /// A subnet.
    Net(IpAddr, u8),
    /// An inclusive range.
    Range(IpAddr, IpAddr),
}

impl AddrMatch {
    /// Whether `a` matches, and how specifically (higher is better, as
    /// strongSwan ranks configs by address match quality).
    pub fn matches(&self, a: IpAddr) -> Option<u8> {
        use crate::engine::ts::ip_to_u128;
        match *self {
            AddrMatch::Any => Some(1),
            AddrMatch::Any4 => a.is_ipv4().then_some(1),
            AddrMatch::Any6 => a.is_ipv6().then_some(1),
            AddrMatch::Addr(x) => (canon(x) == canon(a)).then_some(4),
            AddrMatch::Net(net, len) => {
                let (n, a) = (canon(net), canon(a));
                if n.is_ipv4() != a.is_ipv4() {
                    return None;
                }
                let bits = if n.is_ipv4() { 32 } else { 128 };
                let len = u32::from(len).min(bits);
                let shift = bits - len;
                let mask = if shift >= 128 { 0 } else { u128::MAX << shift };
                ((ip_to_u128(n) & mask) == (ip_to_u128(a) & mask)).then_some(3)
            }
            AddrMatch::Range(s, e) => {
                let (s, e, a) = (canon(s), canon(e), canon(a));
                if s.is_ipv4() != a.is_ipv4() {
                    return None;
                }
                (ip_to_u128(s) <= ip_to_u128(a) && ip_to_u128(a) <= ip_to_u128(e)).then_some(2)
            }
        }
    }

    /// A concrete address to send to, for an initiator.
    pub fn host(&self) -> Option<IpAddr> {
        match *self {
            AddrMatch::Addr(a) => Some(a),
            _ => None,
        }
    }
}

fn canon(a: IpAddr) -> IpAddr {
    match a {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(a, IpAddr::V4),
        v4 => v4,
    }
}

/// How a traffic selector is configured (swanctl `local_ts`/`remote_ts`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TsSpec {
    /// `dynamic`: the IKE endpoint's own address (or virtual IP).
    Dynamic,
    /// A range with protocol and ports.
    Range(crate::engine::ts::Ts),
}

/// CHILD SA mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    /// Tunnel mode.
    #[default]
    Tunnel,
    /// Transport mode (USE_TRANSPORT_MODE, RFC 7296 §1.3.1).
    Transport,
}

/// What to do when the peer is found dead or closes the SA (swanctl
/// `dpd_action`/`close_action`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PeerAction {
    /// Nothing: the SAs are gone.
    #[default]
    Clear,
    /// Initiate again at once.
    Restart,
    /// Install a trap (acquire on traffic); the userspace data plane
    /// treats it as `Clear` until traffic-triggered initiation exists.
    Trap,
}

/// `unique` of a connection (strongSwan's uniqueness policy).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Unique {
    /// Never replace.
    #[default]
    No,
    /// Only act on INITIAL_CONTACT.
    Never,
    /// Replace the old IKE SA with the new one.
    Replace,
    /// Keep the old one, refuse the new one.
    Keep,
}

/// A CHILD SA configuration.
#[derive(Clone, Debug)]
pub struct ChildConfig {
    /// Its name.
    pub name: String,
    /// Our side's traffic selectors.
    pub local_ts: Vec<TsSpec>,
    /// The peer's side's traffic selectors.
    pub remote_ts: Vec<TsSpec>,
    /// ESP proposals; a KE transform in them is the PFS group, used in
    /// CREATE_CHILD_SA only (RFC 7296 §1.2).
    pub esp_proposals: Vec<Proposal>,
    /// Tunnel or transport.
    pub mode: Mode,
    /// The reqid its SAs are installed with (the daemon resolves 0 into an
    /// allocated one before the engine sees it).
    pub reqid: u32,
    /// Rekey after this long (0: never).
    pub rekey_time: Duration,
    /// Hard lifetime (0: none).
    pub life_time: Duration,
    /// Up to this much earlier than `rekey_time`, at random.
    pub rand_time: Duration,
    /// Soft byte limit, given to the data plane.
    pub rekey_bytes: u64,
    /// Hard byte limit.
    pub life_bytes: u64,
    /// Soft packet limit.
    pub rekey_packets: u64,
    /// Hard packet limit.
    pub life_packets: u64,
    /// Anti-replay window in packets.
    pub replay_window: u32,
    /// `dpd_action` for this child.
    pub dpd_action: PeerAction,
    /// `close_action` for this child.
    pub close_action: PeerAction,
    /// `if_id_in`.
    pub if_id_in: u32,
    /// `if_id_out`.
    pub if_id_out: u32,
}

impl ChildConfig {
    /// A tunnel-mode child with strongSwan's defaults.
    pub fn new(name: &str, esp_proposals: Vec<Proposal>) -> Self {
        ChildConfig {
            name: name.to_string(),
            local_ts: vec![TsSpec::Dynamic],
            remote_ts: vec![TsSpec::Dynamic],
            esp_proposals,
            mode: Mode::Tunnel,
            reqid: 1,
            rekey_time: Duration::from_secs(3600),
            life_time: Duration::from_secs(3960),
            rand_time: Duration::from_secs(360),
            rekey_bytes: 0,
            life_bytes: 0,
            rekey_packets: 0,
            life_packets: 0,
            replay_window: 32,
            dpd_action: PeerAction::Clear,
            close_action: PeerAction::Clear,
            if_id_in: 0,
            if_id_out: 0,
        }
    }

    /// The configured PFS group: the KE transform of the first ESP proposal
    /// that has one.
    pub fn pfs_group(&self) -> Option<crate::wire::DhGroup> {
        self.esp_proposals.iter().find_map(|p| {
            p.transforms
                .iter()
                .find(|t| t.ty == crate::wire::TransformType::KE && t.id != 0)
                .map(|t| crate::wire::DhGroup(t.id))
        })
    }
}

/// One connection (swanctl `connections.NAME`).
#[derive(Clone, Debug)]
pub struct PeerConfig {
    /// Its name.
    pub name: String,
    /// Which of our addresses it may use.
    pub local_addrs: Vec<AddrMatch>,
    /// Which peer addresses it accepts; the first concrete one is where an
    /// initiator sends to.
    pub remote_addrs: Vec<AddrMatch>,
    /// The peer's IKE port.
    pub remote_port: u16,
    /// IKE proposals.
    pub proposals: Vec<Proposal>,
    /// Our identity. Ignored when [`PeerConfig::local_id_from_address`] is
    /// set: each IKE SA then uses the address it runs on.
    pub local_id: Identification,
    /// No `local.id` configured: like strongSwan, each IKE SA identifies
    /// itself by the IKE address it uses when it is set up (ID_IPV4_ADDR /
    /// ID_IPV6_ADDR, RFC 7296 §3.5), so an address that changes, or one
    /// unknown at load, gives the identity in use then. See
    /// [`PeerConfig::local_id_at`].
    pub local_id_from_address: bool,
    /// The identity the peer must prove; `None` accepts any.
    pub remote_id: Option<Identification>,
    /// How we authenticate (`local` round).
    pub local_auth: crate::engine::auth::AuthConfig,
    /// How the peer must authenticate (`remote` round).
    pub remote_auth: crate::engine::auth::AuthConfig,
    /// `send_cert`.
    pub send_cert: crate::engine::auth::SendCert,
    /// `send_certreq`: ask for the peer's certificate with our CAs' key
    /// hashes (RFC 7296 §3.7).
    pub send_certreq: bool,
    /// `encap = yes`: force UDP encapsulation by faking NAT detection
    /// (RFC 7296 §2.23).
    pub encap: bool,
    /// Whether IKE fragmentation (RFC 7383) is announced and used.
    pub fragmentation: bool,
    /// Liveness check interval (0: off).
    pub dpd_delay: Duration,
    /// IKE SA rekey time (0: never).
    pub rekey_time: Duration,
    /// IKE SA reauthentication time (0: never); vtid reauthenticates by
    /// making a new IKE SA.
    pub reauth_time: Duration,
    /// Hard IKE SA lifetime beyond rekey/reauth.
    pub over_time: Duration,
    /// Randomisation of rekey/reauth.
    pub rand_time: Duration,
    /// Attempts to establish before giving up (0: forever).
    pub keyingtries: u32,
    /// Uniqueness policy.
    pub unique: Unique,
    /// CHILD SA configurations.
    pub children: Vec<ChildConfig>,
}

impl PeerConfig {
    /// A connection with strongSwan's defaults.
    pub fn new(name: &str, local_id: Identification, proposals: Vec<Proposal>) -> Self {
        PeerConfig {
            name: name.to_string(),
            local_addrs: vec![AddrMatch::Any],
            remote_addrs: vec![AddrMatch::Any],
            remote_port: 500,
            proposals,
            local_id,
            local_id_from_address: false,
            remote_id: None,
            local_auth: Default::default(),
            remote_auth: Default::default(),
            send_cert: Default::default(),
            send_certreq: true,
            encap: false,
            fragmentation: true,
            dpd_delay: Duration::ZERO,
            rekey_time: Duration::from_secs(4 * 3600),
            reauth_time: Duration::ZERO,
            over_time: Duration::from_secs(1440),
            rand_time: Duration::from_secs(1440),
            keyingtries: 1,
            unique: Unique::No,
            children: Vec::new(),
        }
    }

    /// Our identity on an IKE SA that uses our address `local`: the
    /// configured one, or with [`PeerConfig::local_id_from_address`] the
    /// address itself (`None` when it is unspecified, so there is no
    /// identity to offer).
    pub fn local_id_at(&self, local: IpAddr) -> Option<Identification> {
        if !self.local_id_from_address {
            return Some(self.local_id.clone());
        }
        match local {
            IpAddr::V4(a) if !a.is_unspecified() => Some(Identification::Ipv4(a)),
            IpAddr::V6(a) if !a.is_unspecified() => match a.to_ipv4_mapped() {
                Some(v4) => Some(Identification::Ipv4(v4)),
                None => Some(Identification::Ipv6(a)),
            },
            _ => None,
        }
    }

    /// This connection as one IKE SA on our address `local` runs it: with
    /// [`PeerConfig::local_id_from_address`], `local_id` becomes that
    /// address (unchanged when it is unspecified).
    pub fn at_address(self: &std::sync::Arc<Self>, local: IpAddr) -> std::sync::Arc<PeerConfig> {
        match self.local_id_at(local) {
            Some(id) if self.local_id_from_address && id != self.local_id => {
                let mut p = PeerConfig::clone(self);
                p.local_id = id;
                std::sync::Arc::new(p)
            }
            _ => self.clone(),
        }
    }

    /// The configured key exchange groups, in order of preference.
    pub fn ke_groups(&self) -> Vec<crate::wire::DhGroup> {
        let mut out = Vec::new();
        for p in &self.proposals {
            for t in &p.transforms {
                if t.ty == crate::wire::TransformType::KE {
                    let g = crate::wire::DhGroup(t.id);
                    if !out.contains(&g) {
                        out.push(g);
                    }
                }
            }
        }
        out
    }
}

/// A pre-shared key and the identities it is for (swanctl `secrets.ike*`).
#[derive(Clone, Debug)]
pub struct SharedKey {
    /// Identities it belongs to; empty matches any.
    pub ids: Vec<Identification>,
    /// The key.
    pub secret: SecretBytes,
}

/// Finds the PSK for a pair of identities as strongSwan does: the key whose
/// ids match both scores best, then one matching either, then one with no
/// ids.
pub fn find_psk<'a>(
    keys: &'a [SharedKey],
    local: &Identification,
    remote: &Identification,
) -> Option<&'a SecretBytes> {
    let mut best: Option<(u8, &SecretBytes)> = None;
    for k in keys {
        let score = if k.ids.is_empty() {
            1
        } else {
            let l = k.ids.contains(local);
            let r = k.ids.contains(remote);
            match (l, r) {
                (true, true) => 4,
                (false, true) => 3,
                (true, false) => 2,
                _ => continue,
            }
        };
        if best.is_none_or(|(s, _)| score > s) {
            best = Some((score, &k.secret));
        }
    }
    best.map(|(_, s)| s)
}
