//! The credential store: trusted CA certificates, other certificates,
//! CRLs, private and raw public keys; and trust chain verification as
//! strongSwan's credential manager, x509, constraints and revocation
//! plugins do it.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use ike::crypto::sig::{PrivateKey, PublicKey};
use ike::wire::Identification;

use crate::cert::{ku, AltName, Certificate, Crl, Subtree};
use crate::dn;

/// strongSwan's MAX_TRUST_PATH_LEN: certificates in a chain at most.
pub const MAX_PATH_LEN: usize = 7;

/// CRL URIs tracked at most (from CA certificates, authorities and the
/// distribution points of verified chains); more are not fetched.
pub const MAX_CRL_URIS: usize = 256;

/// `revocation` of an authentication round (swanctl.conf).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Revocation {
    /// Fail unless every certificate's status is known good from a fresh
    /// CRL.
    Strict,
    /// Fail when a CRL could be had (a URI is known) but none valid is
    /// available, or the certificate is revoked.
    IfUri,
    /// Fail only for revoked certificates (strongSwan's default).
    #[default]
    Relaxed,
}

/// Revocation status of one certificate (strongSwan's `cert_validation_t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// A valid, fresh CRL of its issuer does not list it.
    Good,
    /// Only a CRL past its nextUpdate is available, not listing it.
    Stale,
    /// A CRL URI is known but no valid CRL is available.
    Failed,
    /// No CRL and no URI to get one from.
    Skipped,
}

/// Why a certificate chain is not trusted. Messages name the certificate.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TrustError {
    /// The certificate is outside its validity period.
    #[error("certificate \"{subject}\" is not valid now ({why})")]
    Expired {
        /// The certificate's subject.
        subject: String,
        /// Not yet valid or expired, with the dates.
        why: String,
    },
    /// No issuer was found that chains to a trusted CA.
    #[error("no trusted issuer found for \"{subject}\" (issuer \"{issuer}\")")]
    NoIssuer {
        /// The certificate's subject.
        subject: String,
        /// Its issuer.
        issuer: String,
    },
    /// An issuer is not a CA (basicConstraints).
    #[error("issuer certificate \"{0}\" is not a CA")]
    NotCa(String),
    /// pathLenConstraint violated.
    #[error("path length constraint of \"{ca}\" ({len}) violated by {below} CA(s) below it")]
    PathLen {
        /// The constraining CA.
        ca: String,
        /// Its pathLenConstraint.
        len: u32,
        /// CA certificates found below it.
        below: usize,
    },
    /// nameConstraints violated.
    #[error("name constraints of \"{ca}\" forbid {name}")]
    NameConstraint {
        /// The constraining CA.
        ca: String,
        /// The forbidden name.
        name: String,
    },
    /// The chain does not contain one of the configured `cacerts`.
    #[error("the chain of \"{0}\" does not contain a required CA certificate (cacerts)")]
    NotRequiredCa(String),
    /// A certificate in the chain is revoked.
    #[error("certificate \"{subject}\" was revoked (reason {reason})")]
    Revoked {
        /// The certificate's subject.
        subject: String,
        /// CRLReason.
        reason: u8,
    },
    /// The revocation status could not be established as policy requires.
    #[error("revocation status of \"{subject}\" is {status:?}, and revocation = {policy:?}")]
    Revocation {
        /// The certificate's subject.
        subject: String,
        /// What is known.
        status: Status,
        /// The configured policy.
        policy: Revocation,
    },
    /// An unknown critical extension.
    #[error("certificate \"{subject}\" has an unsupported critical extension {oid}")]
    Critical {
        /// The certificate's subject.
        subject: String,
        /// The extension.
        oid: String,
    },
    /// The chain is longer than [`MAX_PATH_LEN`].
    #[error("certificate chain of \"{0}\" is too long")]
    TooLong(String),
    /// The revocation status depends on CRLs being fetched now (only when
    /// [`VerifyOptions::wait_for_fetch`] is set): ask again once the
    /// fetches are done.
    #[error("waiting for the CRL(s) at {}", .0.join(", "))]
    Pending(Vec<String>),
    /// The key of the certificate may not sign IKE messages.
    #[error("certificate \"{0}\" has a keyUsage without digitalSignature or nonRepudiation")]
    KeyUsage(String),
}

/// How a chain is verified.
#[derive(Clone, Debug, Default)]
pub struct VerifyOptions {
    /// Now, seconds since the Unix epoch.
    pub now: i64,
    /// The revocation policy.
    pub revocation: Revocation,
    /// `cacerts` of the round: when not empty, the chain must contain one
    /// of these (DER); they are trusted for this verification.
    pub cacerts: Vec<Vec<u8>>,
    /// A CRL fetcher runs: when a certificate's CRL is missing or stale and
    /// one of its URIs has never been tried or is being fetched, answer
    /// [`TrustError::Pending`] instead of deciding without it (strongSwan
    /// fetches CRLs while it verifies; vtid's engine waits for the peer's
    /// retransmission instead of blocking).
    pub wait_for_fetch: bool,
}

/// A verified chain: the end entity first, the trust anchor last, and the
/// revocation status of each certificate below the anchor.
#[derive(Clone, Debug)]
pub struct Chain {
    /// The certificates.
    pub certs: Vec<Arc<Certificate>>,
    /// Status of `certs[i]` for each i below the anchor.
    pub status: Vec<Status>,
}

/// A CA section of swanctl.conf's `authorities` (or VICI
/// `load-authority`).
#[derive(Clone, Debug)]
pub struct Authority {
    /// The section name.
    pub name: String,
    /// The CA certificate.
    pub cert: Arc<Certificate>,
    /// `crl_uris`.
    pub crl_uris: Vec<String>,
}

/// Where a private key came from (for listing and unloading).
#[derive(Debug)]
pub struct KeyEntry {
    /// The key.
    pub key: Arc<PrivateKey>,
    /// strongSwan's key identifier: SHA-1 of the public key (hex).
    pub id: String,
}

/// A CRL URI the store could use, and what fetching it gave.
#[derive(Clone, Debug, Default)]
pub struct CrlUriState {
    /// When a fetch was last tried (seconds since the epoch).
    pub last_attempt: Option<i64>,
    /// The last error.
    pub error: Option<String>,
    /// nextUpdate of the CRL the last successful fetch gave (None: never
    /// fetched, or a CRL without nextUpdate).
    pub next_update: Option<i64>,
    /// A fetch is under way.
    pub in_flight: bool,
    /// The newest CRL fetched from this URI (kept apart from the CRLs of
    /// files and VICI, so a forged or replayed answer never displaces
    /// those; its signature is checked whenever it is used).
    pub crl: Option<Arc<Crl>>,
}

impl CrlUriState {
    /// Whether verification should wait for this URI: a fetch is under way
    /// or it was never tried.
    pub fn awaited(&self) -> bool {
        self.in_flight || self.last_attempt.is_none()
    }
}

/// Trusted CAs, other certificates, CRLs and keys.
#[derive(Default)]
pub struct Store {
    cas: Vec<Arc<Certificate>>,
    certs: Vec<Arc<Certificate>>,
    crls: Vec<Arc<Crl>>,
    keys: Vec<KeyEntry>,
    pubkeys: Vec<Arc<PublicKey>>,
    authorities: Vec<Authority>,
    crl_uris: BTreeMap<String, CrlUriState>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("cas", &self.cas.len())
            .field("certs", &self.certs.len())
            .field("crls", &self.crls.len())
            .field("keys", &self.keys.len())
            .field("pubkeys", &self.pubkeys.len())
            .finish()
    }
}

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn fmt_time(t: i64) -> String {
    x509_parser::time::ASN1Time::from_timestamp(t)
        .map(|a| a.to_string())
        .unwrap_or_else(|_| t.to_string())
}

impl Store {
    /// An empty store.
    pub fn new() -> Self {
        Store::default()
    }

    /// Adds a trusted CA certificate (`x509ca/`, `cacerts`, `authorities`,
    /// VICI `load-cert` with flag CA). Returns false when it was there.
    pub fn add_ca(&mut self, c: Certificate) -> bool {
        if self.cas.iter().any(|x| **x == c) {
            return false;
        }
        self.note_uris(&c);
        self.cas.push(Arc::new(c));
        true
    }

    /// Adds an end-entity or intermediate certificate (`x509/`), not
    /// trusted by itself.
    pub fn add_cert(&mut self, c: Certificate) -> bool {
        if self.certs.iter().any(|x| **x == c) {
            return false;
        }
        self.certs.push(Arc::new(c));
        true
    }

    /// Adds a CRL, replacing an older one of the same issuer. Its
    /// signature is checked when it is used, not here.
    pub fn add_crl(&mut self, crl: Crl) -> bool {
        if let Some(i) = self.crls.iter().position(|x| {
            dn::matches(&x.issuer, &crl.issuer, false).is_some()
                && x.authority_key_id == crl.authority_key_id
        }) {
            if !crl.is_newer_than(&self.crls[i]) && self.crls[i].der() == crl.der() {
                return false;
            }
            if crl.is_newer_than(&self.crls[i]) {
                self.crls[i] = Arc::new(crl);
                return true;
            }
            return false;
        }
        self.crls.push(Arc::new(crl));
        true
    }

    /// Adds a private key. Returns its key identifier (hex SHA-1 of the
    /// public key, as strongSwan's `get-keys`).
    pub fn add_key(&mut self, key: PrivateKey) -> String {
        let id = hex(&key.public_key().key_id());
        if !self.keys.iter().any(|k| k.id == id) {
            self.keys.push(KeyEntry {
                key: Arc::new(key),
                id: id.clone(),
            });
        }
        id
    }

    /// Removes a private key by identifier.
    pub fn remove_key(&mut self, id: &str) -> bool {
        let n = self.keys.len();
        self.keys.retain(|k| !k.id.eq_ignore_ascii_case(id));
        self.keys.len() != n
    }

    /// Adds a raw public key (`pubkey/`).
    pub fn add_pubkey(&mut self, k: PublicKey) {
        if !self.pubkeys.iter().any(|x| **x == k) {
            self.pubkeys.push(Arc::new(k));
        }
    }

    /// Adds (or replaces) an authority; its certificate becomes trusted.
    pub fn add_authority(&mut self, a: Authority) {
        for u in &a.crl_uris {
            self.crl_uris.entry(u.clone()).or_default();
        }
        if !self.cas.contains(&a.cert) {
            self.note_uris(&a.cert);
            self.cas.push(a.cert.clone());
        }
        self.authorities.retain(|x| x.name != a.name);
        self.authorities.push(a);
    }

    /// Removes an authority by name (its certificate stays if loaded
    /// otherwise too).
    pub fn remove_authority(&mut self, name: &str) -> bool {
        let n = self.authorities.len();
        self.authorities.retain(|x| x.name != name);
        self.authorities.len() != n
    }

    /// Removes every certificate and CRL (VICI `flush-certs`), keeping
    /// authorities' certificates.
    pub fn flush_certs(&mut self) {
        self.certs.clear();
        self.crls.clear();
        let keep: Vec<Arc<Certificate>> = self.authorities.iter().map(|a| a.cert.clone()).collect();
        self.cas.retain(|c| keep.contains(c));
    }

    fn note_uris(&mut self, c: &Certificate) {
        for u in &c.crl_uris {
            self.crl_uris.entry(u.clone()).or_default();
        }
    }

    /// Trusted CA certificates.
    pub fn cas(&self) -> &[Arc<Certificate>] {
        &self.cas
    }

    /// Other certificates.
    pub fn certs(&self) -> &[Arc<Certificate>] {
        &self.certs
    }

    /// CRLs.
    pub fn crls(&self) -> &[Arc<Crl>] {
        &self.crls
    }

    /// Private keys.
    pub fn keys(&self) -> &[KeyEntry] {
        &self.keys
    }

    /// Raw public keys.
    pub fn pubkeys(&self) -> &[Arc<PublicKey>] {
        &self.pubkeys
    }

    /// Authorities.
    pub fn authorities(&self) -> &[Authority] {
        &self.authorities
    }

    /// The private key for a public key.
    pub fn private_key_for(&self, public: &PublicKey) -> Option<Arc<PrivateKey>> {
        self.keys
            .iter()
            .find(|k| k.key.public_key() == public)
            .map(|k| k.key.clone())
    }

    /// CRL URIs known (from CA certificates' and peers' distribution points
    /// and `authorities { crl_uris }`), with the state of their fetches.
    pub fn crl_uris(&self) -> &BTreeMap<String, CrlUriState> {
        &self.crl_uris
    }

    /// Records a URI to fetch (a distribution point of a verified chain).
    /// Beyond [`MAX_CRL_URIS`] new URIs are ignored.
    pub fn want_crl_uri(&mut self, uri: &str) {
        if self.crl_uris.len() < MAX_CRL_URIS || self.crl_uris.contains_key(uri) {
            self.crl_uris.entry(uri.to_string()).or_default();
        } else {
            tracing::warn!("more than {MAX_CRL_URIS} CRL URIs are known; {uri} is not fetched");
        }
    }

    /// Marks a fetch of `uri` as started (it is not due again until
    /// [`Store::crl_fetched`]).
    pub fn crl_fetch_started(&mut self, uri: &str) {
        if let Some(st) = self.crl_uris.get_mut(uri) {
            st.in_flight = true;
        }
    }

    /// Records the outcome of a fetch. A CRL is refused when a trusted CA
    /// by its issuer name does not verify its signature (a forged answer),
    /// or when it is older than the one this URI gave before (a replayed
    /// one, which would bring revoked certificates back). Returns the
    /// error recorded, if any.
    pub fn crl_fetched(
        &mut self,
        uri: &str,
        now: i64,
        result: Result<Crl, String>,
    ) -> Option<String> {
        // Ok((crl, whether its signature was checked against a known CA)).
        let checked = result.and_then(|crl| {
            let issuers: Vec<&Arc<Certificate>> = self
                .cas
                .iter()
                .chain(self.certs.iter())
                .filter(|c| dn::matches(&c.subject, &crl.issuer, false).is_some())
                .collect();
            if issuers.is_empty() {
                return Ok((crl, false));
            }
            if !issuers.iter().any(|c| crl.is_signed_by(&c.public_key)) {
                return Err(format!(
                    "the CRL of \"{}\" is not signed by that CA",
                    dn::to_string(&crl.issuer)
                ));
            }
            Ok((crl, true))
        });
        let Some(st) = self.crl_uris.get_mut(uri) else {
            return Some("URI not tracked".into());
        };
        st.last_attempt = Some(now);
        st.in_flight = false;
        match checked {
            Ok((crl, verified)) => {
                // Only a CRL whose signature was checked can be refused as
                // a replay: an unverifiable one (issuer not held here; it
                // is checked when used) never blocks the next real one.
                if let (Some(old), true) = (&st.crl, verified) {
                    if old.is_newer_than(&crl) {
                        let e = "the CRL fetched is older than the one fetched before \
                                 (cRLNumber/thisUpdate); kept the newer"
                            .to_string();
                        st.error = Some(e.clone());
                        return Some(e);
                    }
                }
                st.error = None;
                st.next_update = crl.next_update;
                st.crl = Some(Arc::new(crl));
                None
            }
            Err(e) => {
                st.error = Some(e.clone());
                Some(e)
            }
        }
    }

    /// CRLs fetched from URIs.
    pub fn fetched_crls(&self) -> impl Iterator<Item = &Arc<Crl>> {
        self.crl_uris.values().filter_map(|st| st.crl.as_ref())
    }

    /// Takes over what `old` fetched (its URIs' states and CRLs), after a
    /// reload built this store anew.
    pub fn carry_fetched(&mut self, old: &Store) {
        for (u, st) in &old.crl_uris {
            let tried = st.last_attempt.is_some() || st.in_flight;
            if tried && (self.crl_uris.len() < MAX_CRL_URIS || self.crl_uris.contains_key(u)) {
                self.crl_uris.insert(u.clone(), st.clone());
            }
        }
    }

    /// Whether a URI is due at `now`: never tried, failed at least `retry`
    /// seconds ago, or fetched but its CRL is past its nextUpdate (tried
    /// again at most every `retry` seconds); never while a fetch runs.
    fn uri_due(st: &CrlUriState, now: i64, retry: i64) -> bool {
        if st.in_flight {
            return false;
        }
        let Some(last) = st.last_attempt else {
            return true;
        };
        let waited = now.saturating_sub(last) >= retry;
        if st.error.is_some() {
            return waited;
        }
        st.next_update.is_some_and(|n| n < now) && waited
    }

    /// URIs to fetch at `now` (see [`Store::crl_uris`]' states): never
    /// tried, failed more than `retry` seconds ago, or whose CRL is past
    /// its nextUpdate.
    pub fn crl_uris_due(&self, now: i64, retry: i64) -> Vec<String> {
        self.crl_uris
            .iter()
            .filter(|(_, st)| Self::uri_due(st, now, retry))
            .map(|(u, _)| u.clone())
            .collect()
    }

    /// When the next URI falls due (seconds since the epoch), if any is
    /// not due now.
    pub fn crl_next_due(&self, retry: i64) -> Option<i64> {
        self.crl_uris
            .values()
            .filter(|st| !st.in_flight)
            .filter_map(|st| {
                let last = st.last_attempt?;
                let again = last.saturating_add(retry);
                if st.error.is_some() {
                    return Some(again);
                }
                st.next_update.map(|n| n.saturating_add(1).max(again))
            })
            .min()
    }

    /// SHA-1 hashes of the trusted CAs' public keys: the CERTREQ
    /// Certification Authority field (RFC 7296 §3.7).
    pub fn ca_key_hashes(&self) -> Vec<[u8; 20]> {
        self.cas.iter().map(|c| c.public_key.spki_sha1()).collect()
    }

    /// Finds the certificate whose public key is `k`.
    pub fn cert_for_key(&self, k: &PublicKey) -> Option<Arc<Certificate>> {
        self.certs
            .iter()
            .chain(self.cas.iter())
            .find(|c| &c.public_key == k)
            .cloned()
    }

    fn issuer_candidates<'a>(
        &'a self,
        c: &'a Certificate,
        extra_trusted: &'a [Arc<Certificate>],
        untrusted: &'a [Arc<Certificate>],
    ) -> impl Iterator<Item = (Arc<Certificate>, bool)> + 'a {
        let matches = move |x: &Certificate| {
            dn::matches(&x.subject, &c.issuer, false).is_some()
                && match (&c.authority_key_id, &x.subject_key_id) {
                    (Some(a), Some(s)) => a == s,
                    _ => true,
                }
        };
        self.cas
            .iter()
            .chain(extra_trusted.iter())
            .filter(move |x| matches(x))
            .map(|x| (x.clone(), true))
            .chain(
                untrusted
                    .iter()
                    .chain(self.certs.iter())
                    .filter(move |x| matches(x))
                    .map(|x| (x.clone(), false)),
            )
    }

    /// Verifies that `ee` chains to a trusted CA, with `received`
    /// (certificates of the peer's CERT payloads) as possible
    /// intermediates: validity, signatures, basic constraints, path length,
    /// name constraints, `cacerts`, and revocation per `opts.revocation`.
    /// URIs of missing CRLs are recorded for fetching.
    pub fn verify(
        &mut self,
        ee: &Arc<Certificate>,
        received: &[Arc<Certificate>],
        opts: &VerifyOptions,
    ) -> Result<Chain, TrustError> {
        let extra: Vec<Arc<Certificate>> = opts
            .cacerts
            .iter()
            .filter_map(|d| Certificate::from_der(d).ok())
            .map(Arc::new)
            .collect();
        let chain = self.build_chain(ee, received, &extra, opts.now)?;
        check_constraints(&chain)?;
        if !extra.is_empty()
            && !chain.iter().skip(1).any(|c| extra.contains(c))
            && !extra.contains(ee)
        {
            return Err(TrustError::NotRequiredCa(ee.subject_string()));
        }
        // Every certificate's status first: a revoked one fails whatever
        // else is unknown.
        let mut status = Vec::new();
        let mut awaited: Vec<String> = Vec::new();
        for pair in chain.windows(2) {
            let [c, issuer] = pair else { continue };
            let (st, uris) = self.revocation_status(c, issuer, opts.now)?;
            if opts.wait_for_fetch && matches!(st, Status::Failed | Status::Stale) {
                for u in uris {
                    if self.crl_uris.get(&u).is_some_and(CrlUriState::awaited)
                        && !awaited.contains(&u)
                    {
                        awaited.push(u);
                    }
                }
            }
            status.push(st);
        }
        if !awaited.is_empty() {
            return Err(TrustError::Pending(awaited));
        }
        for (c, st) in chain.iter().zip(status.iter()) {
            let ok = match opts.revocation {
                Revocation::Strict => *st == Status::Good,
                Revocation::IfUri => matches!(st, Status::Good | Status::Skipped),
                Revocation::Relaxed => true,
            };
            if !ok {
                return Err(TrustError::Revocation {
                    subject: c.subject_string(),
                    status: *st,
                    policy: opts.revocation,
                });
            }
        }
        Ok(Chain {
            certs: chain,
            status,
        })
    }

    fn build_chain(
        &self,
        ee: &Arc<Certificate>,
        received: &[Arc<Certificate>],
        extra: &[Arc<Certificate>],
        now: i64,
    ) -> Result<Vec<Arc<Certificate>>, TrustError> {
        check_cert(ee, now)?;
        let mut chain = vec![ee.clone()];
        // A certificate trusted as such (a pinned peer certificate or a
        // self-signed one in x509ca) needs no issuer.
        if self.cas.iter().chain(extra.iter()).any(|c| c == ee) {
            return Ok(chain);
        }
        let mut current = ee.clone();
        loop {
            if chain.len() >= MAX_PATH_LEN {
                return Err(TrustError::TooLong(ee.subject_string()));
            }
            let mut next = None;
            for (cand, trusted) in self.issuer_candidates(&current, extra, received) {
                if chain.contains(&cand) && !trusted {
                    continue;
                }
                if !current.is_signed_by(&cand.public_key) {
                    continue;
                }
                next = Some((cand, trusted));
                break;
            }
            let Some((issuer, trusted)) = next else {
                return Err(TrustError::NoIssuer {
                    subject: current.subject_string(),
                    issuer: current.issuer_string(),
                });
            };
            if !issuer.is_ca {
                return Err(TrustError::NotCa(issuer.subject_string()));
            }
            check_cert(&issuer, now)?;
            chain.push(issuer.clone());
            if trusted {
                return Ok(chain);
            }
            current = issuer;
        }
    }

    /// The revocation status of `c` issued by `issuer` (RFC 5280 §6.3),
    /// from the CRLs of files, VICI and fetches; and the URIs its CRL can
    /// be fetched from (recorded for the fetcher) when none fresh is held.
    pub fn revocation_status(
        &mut self,
        c: &Certificate,
        issuer: &Certificate,
        now: i64,
    ) -> Result<(Status, Vec<String>), TrustError> {
        let mut best: Option<Arc<Crl>> = None;
        let fetched: Vec<Arc<Crl>> = self.fetched_crls().cloned().collect();
        for crl in self.crls.iter().chain(fetched.iter()) {
            if dn::matches(&crl.issuer, &issuer.subject, false).is_none() {
                continue;
            }
            if let (Some(a), Some(s)) = (&crl.authority_key_id, &issuer.subject_key_id) {
                if a != s {
                    continue;
                }
            }
            // A CA with keyUsage must allow cRLSign (RFC 5280 §4.2.1.3).
            if issuer.key_usage.is_some_and(|k| k & ku::CRL_SIGN == 0) {
                continue;
            }
            if !crl.is_signed_by(&issuer.public_key) {
                tracing::warn!(
                    issuer = %issuer.subject_string(),
                    "CRL signature does not verify; CRL ignored"
                );
                continue;
            }
            if best.as_ref().is_none_or(|b| crl.is_newer_than(b)) {
                best = Some(crl.clone());
            }
        }
        let mut uris: Vec<String> = c.crl_uris.clone();
        for a in &self.authorities {
            if *a.cert == *issuer {
                uris.extend(a.crl_uris.iter().cloned());
            }
        }
        if let Some(crl) = best {
            if let Some(r) = crl.revoked(&c.serial) {
                return Err(TrustError::Revoked {
                    subject: c.subject_string(),
                    reason: r.reason,
                });
            }
            if !crl.is_stale(now) {
                return Ok((Status::Good, Vec::new()));
            }
            for u in &uris {
                self.want_crl_uri(u);
            }
            return Ok((Status::Stale, uris));
        }
        if uris.is_empty() {
            return Ok((Status::Skipped, uris));
        }
        for u in &uris {
            self.want_crl_uri(u);
        }
        Ok((Status::Failed, uris))
    }
}

fn check_cert(c: &Certificate, now: i64) -> Result<(), TrustError> {
    if now < c.not_before {
        return Err(TrustError::Expired {
            subject: c.subject_string(),
            why: format!("not valid before {}", fmt_time(c.not_before)),
        });
    }
    if now > c.not_after {
        return Err(TrustError::Expired {
            subject: c.subject_string(),
            why: format!("expired at {}", fmt_time(c.not_after)),
        });
    }
    if let Some(oid) = &c.unknown_critical {
        return Err(TrustError::Critical {
            subject: c.subject_string(),
            oid: oid.clone(),
        });
    }
    Ok(())
}

/// pathLenConstraint (RFC 5280 §4.2.1.9) and nameConstraints (§4.2.1.10)
/// over a built chain (end entity first).
fn check_constraints(chain: &[Arc<Certificate>]) -> Result<(), TrustError> {
    for (i, ca) in chain.iter().enumerate().skip(1) {
        if let Some(len) = ca.path_len {
            // CA certificates between this one and the end entity, not
            // counting self-issued ones.
            let below = chain[1..i].iter().filter(|c| !c.is_self_issued()).count();
            if below > len as usize {
                return Err(TrustError::PathLen {
                    ca: ca.subject_string(),
                    len,
                    below,
                });
            }
        }
        if let Some(nc) = &ca.name_constraints {
            for (j, c) in chain[..i].iter().enumerate() {
                // Self-issued intermediates are exempt (§4.2.1.10), the end
                // entity never is.
                if j > 0 && c.is_self_issued() {
                    continue;
                }
                check_names(ca, nc, c)?;
            }
        }
    }
    Ok(())
}

enum Name<'a> {
    Dn(&'a [u8]),
    Dns(&'a str),
    Email(&'a str),
    Ip(IpAddr),
}

fn name_string(n: &Name<'_>) -> String {
    match n {
        Name::Dn(d) => format!("DN \"{}\"", dn::to_string(d)),
        Name::Dns(s) => format!("DNS name {s}"),
        Name::Email(s) => format!("email {s}"),
        Name::Ip(a) => format!("address {a}"),
    }
}

fn check_names(
    ca: &Certificate,
    nc: &crate::cert::NameConstraints,
    c: &Certificate,
) -> Result<(), TrustError> {
    let mut names: Vec<Name<'_>> = Vec::new();
    if dn::is_valid(&c.subject) && c.subject.len() > 2 {
        names.push(Name::Dn(&c.subject));
    }
    for a in &c.alt_names {
        match a {
            AltName::Dns(s) => names.push(Name::Dns(s)),
            AltName::Email(s) => names.push(Name::Email(s)),
            AltName::Ip(ip) => names.push(Name::Ip(*ip)),
            AltName::Dn(d) => names.push(Name::Dn(d)),
            AltName::Uri(_) => {}
        }
    }
    for n in &names {
        let same_form = |s: &Subtree| {
            matches!(
                (s, n),
                (Subtree::Dn(_), Name::Dn(_))
                    | (Subtree::Dns(_), Name::Dns(_))
                    | (Subtree::Email(_), Name::Email(_))
                    | (Subtree::Ip(..), Name::Ip(_))
            )
        };
        if nc.excluded.iter().any(|s| same_form(s) && within(s, n)) {
            return Err(TrustError::NameConstraint {
                ca: ca.subject_string(),
                name: name_string(n),
            });
        }
        let permitted: Vec<&Subtree> = nc.permitted.iter().filter(|s| same_form(s)).collect();
        if !permitted.is_empty() && !permitted.iter().any(|s| within(s, n)) {
            return Err(TrustError::NameConstraint {
                ca: ca.subject_string(),
                name: name_string(n),
            });
        }
    }
    Ok(())
}

fn dns_within(base: &str, name: &str) -> bool {
    let base = base.trim_start_matches('.').to_ascii_lowercase();
    let name = name.to_ascii_lowercase();
    base.is_empty() || name == base || name.ends_with(&format!(".{base}"))
}

fn within(s: &Subtree, n: &Name<'_>) -> bool {
    match (s, n) {
        (Subtree::Dns(b), Name::Dns(d)) => dns_within(b, d),
        (Subtree::Email(b), Name::Email(e)) => {
            let e = e.to_ascii_lowercase();
            if b.contains('@') {
                *b == e
            } else if b.starts_with('.') {
                e.rsplit_once('@')
                    .is_some_and(|(_, h)| dns_within(b, h) && h != &b[1..])
            } else {
                e.rsplit_once('@').is_some_and(|(_, h)| h == b)
            }
        }
        (Subtree::Ip(addr, mask), Name::Ip(ip)) => {
            let o: Vec<u8> = match ip {
                IpAddr::V4(a) => a.octets().to_vec(),
                IpAddr::V6(a) => a.octets().to_vec(),
            };
            o.len() == addr.len()
                && o.iter()
                    .zip(addr.iter().zip(mask.iter()))
                    .all(|(x, (a, m))| x & m == a & m)
        }
        (Subtree::Dn(b), Name::Dn(d)) => dn_prefix(b, d),
        _ => false,
    }
}

/// Whether DN `d` starts with the RDNs of `base` (RFC 5280 §4.2.1.10).
fn dn_prefix(base: &[u8], d: &[u8]) -> bool {
    use x509_parser::prelude::{FromDer, X509Name};
    let (Ok((_, b)), Ok((_, n))) = (X509Name::from_der(base), X509Name::from_der(d)) else {
        return false;
    };
    let b: Vec<_> = b.iter_rdn().collect();
    let n: Vec<_> = n.iter_rdn().collect();
    if b.len() > n.len() {
        return false;
    }
    b.iter().zip(n.iter()).all(|(x, y)| {
        let xs: Vec<_> = x.iter().collect();
        let ys: Vec<_> = y.iter().collect();
        xs.len() == ys.len()
            && xs.iter().zip(ys.iter()).all(|(p, q)| {
                p.attr_type() == q.attr_type()
                    && p.attr_value()
                        .data
                        .eq_ignore_ascii_case(q.attr_value().data)
            })
    })
}

/// An identity as strongSwan prints it (a DN in its string syntax).
pub fn id_string(id: &Identification) -> String {
    match id {
        Identification::DerAsn1Dn(d) => dn::to_string(d),
        Identification::Fqdn(f) | Identification::Rfc822(f) => {
            String::from_utf8_lossy(f).into_owned()
        }
        Identification::Ipv4(a) => a.to_string(),
        Identification::Ipv6(a) => a.to_string(),
        Identification::KeyId(k) => format!("#{}", hex(k)),
        Identification::Other { ty, data } => format!("{ty}:#{}", hex(data)),
    }
}

/// Whether the peer's identity `id` matches a configured `remote.id`
/// `pattern` as strongSwan's `matches()`: equal, `%any` (None), a DN with
/// `*` RDN values, or an FQDN/email pattern starting with `*` that matches
/// as a suffix (`*.example.org`, `*@example.org`).
pub fn id_matches(pattern: &Identification, id: &Identification) -> bool {
    match (pattern, id) {
        (Identification::DerAsn1Dn(p), Identification::DerAsn1Dn(d)) => {
            dn::matches(p, d, true).is_some()
        }
        (Identification::Fqdn(p), Identification::Fqdn(d))
        | (Identification::Rfc822(p), Identification::Rfc822(d)) => {
            if let Some(suffix) = p.strip_prefix(b"*") {
                d.len() >= suffix.len() && d[d.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
            } else {
                p.eq_ignore_ascii_case(d)
            }
        }
        _ => pattern == id,
    }
}

#[cfg(test)]
mod tests;
