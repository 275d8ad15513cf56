//! What the engine hands back: datagrams, events and data-plane actions.

use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::crypto::{Encr, Integ, SecretBytes};
use crate::engine::config::Mode;
use crate::engine::ts::Ts;

/// Our handle of an IKE SA: our own SPI of it, as a number.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IkeSaId(pub u64);

impl fmt::Debug for IkeSaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Display for IkeSaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// A datagram to send.
///
/// When `nat_t` is set the daemon sends it from its NAT-T socket and puts
/// the four-byte non-ESP marker in front (RFC 3948 §2.2); `data` is the IKE
/// message alone. A NAT keepalive (`data` = `[0xff]`) has `nat_t` set and
/// gets no marker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// Our address and port to send from.
    pub local: SocketAddr,
    /// Where to.
    pub remote: SocketAddr,
    /// Whether the NAT-T socket (with the non-ESP marker) is used.
    pub nat_t: bool,
    /// The IKE message (or a NAT keepalive: the single octet 0xff).
    pub data: Vec<u8>,
}

/// A received datagram, as the daemon hands it over.
#[derive(Clone, Copy, Debug)]
pub struct Datagram<'a> {
    /// The address and port it was sent to (ours).
    pub local: SocketAddr,
    /// Who sent it.
    pub remote: SocketAddr,
    /// Whether it came in on the NAT-T socket (the daemon already removed the
    /// non-ESP marker).
    pub nat_t: bool,
    /// The IKE message.
    pub data: &'a [u8],
}

/// One direction of a CHILD SA as the data plane installs it.
#[derive(Clone, Debug)]
pub struct SaKeys {
    /// The SPI in the ESP header of this direction's packets.
    pub spi: u32,
    /// The encryption transform.
    pub encr: Encr,
    /// The integrity transform (none for AEAD).
    pub integ: Option<Integ>,
    /// Encryption key (with the 4-byte salt for AEAD).
    pub encr_key: SecretBytes,
    /// Integrity key (empty for AEAD).
    pub integ_key: SecretBytes,
}

/// The SK payload keys of one IKE SA, for a key log (Wireshark's
/// `ikev2_decryption_table`) that an operator asked for. `Debug` shows no
/// key; the keys zeroize on drop.
#[derive(Clone, Debug)]
pub struct IkeSecrets {
    /// Our handle.
    pub id: IkeSaId,
    /// The connection's name.
    pub conn: String,
    /// Initiator's SPI.
    pub spi_i: [u8; 8],
    /// Responder's SPI.
    pub spi_r: [u8; 8],
    /// Encryption.
    pub encr: Encr,
    /// Integrity (none for AEAD).
    pub integ: Option<Integ>,
    /// SK_ei (with the salt for AEAD).
    pub sk_ei: SecretBytes,
    /// SK_er.
    pub sk_er: SecretBytes,
    /// SK_ai (empty for AEAD).
    pub sk_ai: SecretBytes,
    /// SK_ar.
    pub sk_ar: SecretBytes,
}

/// Limits the data plane enforces on a CHILD SA by volume (the engine keeps
/// the time-based ones).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VolumeLimits {
    /// Soft bytes: report [`crate::engine::Endpoint::child_expired`] (soft).
    pub rekey_bytes: u64,
    /// Hard bytes: report hard expiry and stop using the SA.
    pub life_bytes: u64,
    /// Soft packets.
    pub rekey_packets: u64,
    /// Hard packets.
    pub life_packets: u64,
}

/// Everything the data plane needs to install one CHILD SA.
#[derive(Clone, Debug)]
pub struct ChildInstall {
    /// The IKE SA it belongs to.
    pub ike_sa: IkeSaId,
    /// The connection's name.
    pub conn: String,
    /// The child configuration's name.
    pub child: String,
    /// The reqid: routed children go to the interface with this reqid.
    pub reqid: u32,
    /// Our IKE endpoint (the outer source of outbound ESP).
    pub local: SocketAddr,
    /// The peer's IKE endpoint (the outer destination).
    pub remote: SocketAddr,
    /// Whether ESP goes in UDP (RFC 3948): to `remote` from our NAT-T port.
    pub encap: bool,
    /// Tunnel or transport.
    pub mode: Mode,
    /// Extended sequence numbers.
    pub esn: bool,
    /// Anti-replay window in packets.
    pub replay_window: u32,
    /// Inbound: packets we receive carry our SPI.
    pub inbound: SaKeys,
    /// Outbound: packets we send carry the peer's SPI.
    pub outbound: SaKeys,
    /// Our side's traffic selectors.
    pub local_ts: Vec<Ts>,
    /// The peer's side's traffic selectors.
    pub remote_ts: Vec<Ts>,
    /// Volume limits.
    pub limits: VolumeLimits,
    /// `if_id_in`/`if_id_out`, for kernel backends.
    pub if_id: (u32, u32),
    /// Whether outbound traffic may use this SA at once. A rekeying
    /// responder installs the new SA inbound-only first and switches with
    /// [`Action::ActivateOutbound`] (make-before-break).
    pub outbound_active: bool,
}

/// Data-plane actions (STYLE.md §3: one interface to every backend).
#[derive(Clone, Debug)]
pub enum Action {
    /// Install a CHILD SA (both directions).
    Install(Box<ChildInstall>),
    /// Start sending on the SA with this outbound SPI (and so stop sending on
    /// older SAs of the same reqid).
    ActivateOutbound {
        /// The reqid.
        reqid: u32,
        /// The SA's outbound SPI.
        spi_out: u32,
    },
    /// Stop sending on the SA with this outbound SPI; its inbound half stays
    /// until [`Action::Delete`].
    RemoveOutbound {
        /// The reqid.
        reqid: u32,
        /// Outbound SPI.
        spi_out: u32,
    },
    /// Remove a CHILD SA entirely.
    Delete {
        /// The reqid.
        reqid: u32,
        /// Our inbound SPI.
        spi_in: u32,
        /// The outbound SPI.
        spi_out: u32,
    },
    /// The peer's address or port changed (NAT mapping change): move the
    /// CHILD SAs of this IKE SA.
    UpdateAddress {
        /// The IKE SA.
        ike_sa: IkeSaId,
        /// Inbound SPIs of its CHILD SAs now (some may have been installed
        /// by an IKE SA it replaced in a rekey).
        spis_in: Vec<u32>,
        /// Our endpoint now.
        local: SocketAddr,
        /// The peer's endpoint now.
        remote: SocketAddr,
        /// Whether ESP is UDP-encapsulated now.
        encap: bool,
    },
}

/// A summary of a CHILD SA, for events and listings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChildInfo {
    /// Its unique id within the daemon (like strongSwan's `uniqueid`).
    pub unique_id: u32,
    /// The child configuration's name.
    pub name: String,
    /// The reqid.
    pub reqid: u32,
    /// State, strongSwan's names: INSTALLED, REKEYING, REKEYED, DELETING.
    pub state: &'static str,
    /// Our inbound SPI.
    pub spi_in: u32,
    /// Outbound SPI.
    pub spi_out: u32,
    /// The negotiated proposal as strongSwan prints it.
    pub proposal: String,
    /// Whether ESP is in UDP.
    pub encap: bool,
    /// Whether ESN is in use.
    pub esn: bool,
    /// Our traffic selectors.
    pub local_ts: Vec<Ts>,
    /// The peer's.
    pub remote_ts: Vec<Ts>,
    /// When installed.
    pub installed_at: Instant,
    /// When a rekey is due, if ever.
    pub rekey_at: Option<Instant>,
    /// When it expires, if ever.
    pub expires_at: Option<Instant>,
}

/// A summary of an IKE SA, for events and listings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IkeInfo {
    /// Our handle.
    pub id: IkeSaId,
    /// Unique id (like strongSwan's).
    pub unique_id: u32,
    /// The connection's name.
    pub conn: String,
    /// strongSwan's state names: CONNECTING, ESTABLISHED, REKEYING, DELETING.
    pub state: &'static str,
    /// Whether we initiated it.
    pub initiator: bool,
    /// Initiator's SPI.
    pub spi_i: [u8; 8],
    /// Responder's SPI.
    pub spi_r: [u8; 8],
    /// Our endpoint.
    pub local: SocketAddr,
    /// The peer's endpoint.
    pub remote: SocketAddr,
    /// Our identity, as text.
    pub local_id: String,
    /// The peer's identity, as text (once known).
    pub remote_id: String,
    /// The negotiated proposal, strongSwan style.
    pub proposal: String,
    /// NAT found on our side.
    pub nat_local: bool,
    /// NAT found on the peer's side.
    pub nat_remote: bool,
    /// When established.
    pub established_at: Option<Instant>,
    /// When a rekey is due.
    pub rekey_at: Option<Instant>,
    /// When a reauthentication is due.
    pub reauth_at: Option<Instant>,
    /// The CHILD SAs.
    pub children: Vec<ChildInfo>,
}

/// Why an SA went away or could not be set up. Split by who is at fault
/// (STYLE.md §5).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// The peer sent something malformed.
    #[error("peer sent a malformed message: {0}")]
    Malformed(String),
    /// The peer broke the protocol.
    #[error("peer broke the protocol: {0}")]
    Protocol(String),
    /// The peer offered nothing we accept, or accepted nothing we offered.
    #[error("no proposal chosen: {0}")]
    NoProposal(String),
    /// Traffic selectors could not be agreed.
    #[error("traffic selectors unacceptable: {0}")]
    TsUnacceptable(String),
    /// Authentication failed (either direction).
    #[error("authentication failed: {0}")]
    AuthFailed(String),
    /// The peer answered with an error notification.
    #[error("peer refused: {0}")]
    PeerError(String),
    /// The peer stopped answering.
    #[error("peer did not answer: {0}")]
    Timeout(String),
    /// Our own configuration or state.
    #[error("local error: {0}")]
    Local(String),
    /// Deleted by the peer.
    #[error("deleted by the peer")]
    DeletedByPeer,
    /// Deleted on our request.
    #[error("deleted locally")]
    DeletedLocally,
    /// Replaced by a rekeyed or newer SA.
    #[error("replaced")]
    Replaced,
    /// Its lifetime ran out.
    #[error("expired")]
    Expired,
}

/// Events for the daemon (logs, the control socket's event streams).
#[derive(Clone, Debug)]
pub enum Event {
    /// An IKE SA was established.
    IkeUp(Box<IkeInfo>),
    /// An IKE SA is gone (or failed to come up).
    IkeDown {
        /// Which.
        id: IkeSaId,
        /// The connection.
        conn: String,
        /// Why.
        reason: Failure,
    },
    /// An IKE SA was rekeyed into a new one.
    IkeRekeyed {
        /// The old one.
        old: IkeSaId,
        /// The new one.
        new: IkeSaId,
    },
    /// A CHILD SA was installed.
    ChildUp {
        /// Its IKE SA.
        ike: IkeSaId,
        /// The connection.
        conn: String,
        /// The CHILD SA.
        child: Box<ChildInfo>,
    },
    /// A CHILD SA is gone (or failed to come up).
    ChildDown {
        /// Its IKE SA.
        ike: IkeSaId,
        /// The connection.
        conn: String,
        /// The child configuration's name.
        child: String,
        /// SPIs (0 when it never got any).
        spi_in: u32,
        /// Outbound SPI.
        spi_out: u32,
        /// Why.
        reason: Failure,
    },
    /// A CHILD SA was rekeyed.
    ChildRekeyed {
        /// Its IKE SA.
        ike: IkeSaId,
        /// The child configuration's name.
        child: String,
        /// Old inbound SPI.
        old_spi_in: u32,
        /// New inbound SPI.
        new_spi_in: u32,
    },
}

/// Retransmission schedule (strongSwan's): try `n` waits
/// `timeout × base^n`.
pub(crate) fn retransmit_delay(timeout: Duration, base: f64, n: u32) -> Duration {
    let factor = base.powi(n as i32);
    Duration::from_secs_f64((timeout.as_secs_f64() * factor).min(3600.0))
}
