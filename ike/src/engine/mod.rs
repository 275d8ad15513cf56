//! The IKEv2 engine: IKE and CHILD SAs as a sans-I/O state machine
//! (STYLE.md §1, after quinn-proto).
//!
//! # Driving it
//!
//! ```text
//! let mut ep = Endpoint::new(EngineConfig::default(), Box::new(OsRng));
//! ep.load(now, peers, keys);
//! ep.initiate(now, "conn", None)?;
//! loop {
//!     while let Some(t) = ep.poll_transmit() { /* send t.data from t.local to t.remote */ }
//!     while let Some(a) = ep.poll_action() { /* data plane: install/delete CHILD SAs */ }
//!     while let Some(e) = ep.poll_event() { /* log, control socket */ }
//!     // wait for a datagram or ep.poll_timeout(), then
//!     ep.handle_datagram(now, Datagram { .. });   // or
//!     ep.handle_timeout(now);
//! }
//! ```
//!
//! The engine never reads a clock, opens a socket or spawns a task: every
//! input carries `now`, and every output is queued for the caller. Two
//! endpoints in one test, on a virtual clock with seeded randomness, run
//! whole handshakes, retransmissions, rekeys and collisions in milliseconds.

pub mod auth;
pub mod config;
mod endpoint;
mod guard;
mod ike_sa;
mod lifetime;
mod natd;
mod ratelimit;
pub mod ts;
mod types;

pub use auth::{
    AuthClass, AuthConfig, Credentials, KeyFamily, LocalCredential, PeerKey, Revocation, SendCert,
    SigConstraints, VerifyError,
};
pub use config::{
    find_psk, AddrMatch, ChildConfig, EngineConfig, Mode, PeerAction, PeerConfig, SharedKey,
    TsSpec, Unique,
};
pub use endpoint::{Endpoint, Stats};
pub use ts::Ts;
pub use types::{
    Action, ChildInfo, ChildInstall, Datagram, Event, Failure, IkeInfo, IkeSaId, IkeSecrets,
    SaKeys, Transmit, VolumeLimits,
};
