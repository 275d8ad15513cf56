//! X.509 credentials for vtid (issue 14): certificates and CRLs
//! ([`cert`]), distinguished names in strongSwan's syntax ([`dn`]), the
//! credential store and trust chain verification ([`store`]).
//!
//! Everything here works on bytes and a time given by the caller; reading
//! the swanctl folders and fetching CRLs over HTTP are done by the daemon.
#![forbid(unsafe_code)]

pub mod cert;
pub mod creds;
pub mod dn;
pub mod fetch;
pub mod store;
#[doc(hidden)]
pub mod testpki;

pub use cert::{AltName, Certificate, Crl, ParseError};
pub use creds::{system_clock, SharedStore};
pub use store::{
    id_matches, id_string, Authority, Chain, Revocation, Status, Store, TrustError, VerifyOptions,
};
