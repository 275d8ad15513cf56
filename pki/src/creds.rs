//! The engine's view of the store: [`ike::engine::Credentials`] over a
//! shared [`Store`], with the wall clock for certificate validity (the
//! engine itself only knows a monotonic `now`).

use std::sync::{Arc, Mutex, MutexGuard};

use ike::engine::{
    AuthConfig, Credentials, LocalCredential, PeerKey, Revocation as EngineRevocation, VerifyError,
};
use ike::wire::Identification;

use crate::cert::Certificate;
use crate::store::{id_matches, Revocation, Store, TrustError, VerifyOptions, MAX_PATH_LEN};

/// Seconds since the Unix epoch.
pub type Clock = Box<dyn Fn() -> i64 + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Box::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    })
}

/// Called when verification wants a CRL fetched.
pub type Waker = Box<dyn Fn() + Send + Sync>;

/// A store shared by the engine, the control socket and the CRL fetcher.
pub struct SharedStore {
    store: Mutex<Store>,
    clock: Clock,
    /// The CRL fetcher's wake-up, once one runs.
    fetcher: Mutex<Option<Waker>>,
}

impl std::fmt::Debug for SharedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedStore").finish_non_exhaustive()
    }
}

impl SharedStore {
    /// Wraps a store, with a clock.
    pub fn new(store: Store, clock: Clock) -> Arc<SharedStore> {
        Arc::new(SharedStore {
            store: Mutex::new(store),
            clock,
            fetcher: Mutex::new(None),
        })
    }

    /// Attaches a CRL fetcher: from now on verification waits for CRLs
    /// being fetched ([`VerifyError::Pending`]) and calls `wake` when it
    /// records URIs to fetch.
    pub fn attach_fetcher(&self, wake: Waker) {
        *self.fetcher.lock().unwrap_or_else(|p| p.into_inner()) = Some(wake);
    }

    fn has_fetcher(&self) -> bool {
        self.fetcher
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    fn wake_fetcher(&self) {
        if let Some(w) = &*self.fetcher.lock().unwrap_or_else(|p| p.into_inner()) {
            w();
        }
    }

    /// Locks the store (a panic elsewhere while holding it does not make
    /// the credentials unusable).
    pub fn lock(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Now, by the store's clock.
    pub fn now(&self) -> i64 {
        (self.clock)()
    }
}

/// Intermediate CA certificates above `ee` that the store holds, up to
/// (without) the self-signed root; and the CA key hashes of the whole
/// chain, root included.
fn chain_to_send(store: &Store, ee: &Certificate) -> (Vec<Arc<Certificate>>, Vec<[u8; 20]>) {
    let mut out: Vec<Arc<Certificate>> = Vec::new();
    let mut hashes = Vec::new();
    let mut current = Arc::new(ee.clone());
    for _ in 0..MAX_PATH_LEN {
        if current.is_self_issued() {
            break;
        }
        let issuer = store
            .cas()
            .iter()
            .chain(store.certs().iter())
            .find(|c| {
                c.is_ca
                    && crate::dn::matches(&c.subject, &current.issuer, false).is_some()
                    && current.is_signed_by(&c.public_key)
            })
            .cloned();
        let Some(issuer) = issuer else { break };
        hashes.push(issuer.public_key.spki_sha1());
        if issuer.is_self_issued() {
            break;
        }
        out.push(issuer.clone());
        current = issuer;
    }
    (out, hashes)
}

impl Credentials for SharedStore {
    fn local(&self, auth: &AuthConfig, certreq: &[[u8; 20]]) -> Result<LocalCredential, String> {
        let store = self.lock();
        let mut candidates = Vec::new();
        let mut why = Vec::new();
        for der in &auth.certs {
            let ee = match Certificate::from_der(der) {
                Ok(c) => c,
                Err(e) => {
                    why.push(format!("a configured certificate is unreadable: {e}"));
                    continue;
                }
            };
            let Some(key) = store.private_key_for(&ee.public_key) else {
                why.push(format!(
                    "no private key found for certificate \"{}\"",
                    ee.subject_string()
                ));
                continue;
            };
            let (inter, hashes) = chain_to_send(&store, &ee);
            let mut certs = vec![ee.der().to_vec()];
            certs.extend(inter.iter().map(|c| c.der().to_vec()));
            let asked = hashes.iter().any(|h| certreq.contains(h));
            candidates.push((
                asked,
                LocalCredential {
                    key,
                    certs,
                    name: format!("\"{}\"", ee.subject_string()),
                },
            ));
        }
        if auth.certs.is_empty() {
            for der in &auth.pubkeys {
                let Ok(pk) = ike::crypto::sig::PublicKey::from_spki_der(der) else {
                    continue;
                };
                if let Some(key) = store.private_key_for(&pk) {
                    candidates.push((
                        false,
                        LocalCredential {
                            key,
                            certs: Vec::new(),
                            name: format!("raw {} key", pk.key_type()),
                        },
                    ));
                } else {
                    why.push(format!(
                        "no private key found for the raw {} public key",
                        pk.key_type()
                    ));
                }
            }
        }
        if let Some(i) = candidates.iter().position(|(asked, _)| *asked) {
            return Ok(candidates.swap_remove(i).1);
        }
        if let Some((_, c)) = candidates.into_iter().next() {
            return Ok(c);
        }
        if auth.certs.is_empty() && auth.pubkeys.is_empty() {
            return Err("no certificate is configured (local certs)".into());
        }
        Err(why.join("; "))
    }

    fn verify_peer(
        &self,
        auth: &AuthConfig,
        id: &Identification,
        certs: &[Vec<u8>],
    ) -> Result<PeerKey, VerifyError> {
        let now = self.now();
        let wait_for_fetch = self.has_fetcher();
        let mut store = self.lock();
        let mut parsed = Vec::new();
        for (i, der) in certs.iter().enumerate() {
            match Certificate::from_der(der) {
                Ok(c) => parsed.push(Arc::new(c)),
                // An unreadable end-entity certificate fails; an unreadable
                // extra one is just not a candidate intermediate.
                Err(e) if i == 0 => {
                    return Err(format!("the peer's certificate is malformed: {e}").into())
                }
                Err(_) => {}
            }
        }
        if !auth.pubkeys.is_empty() {
            // Raw public keys (`pubkeys`): the peer's key must be one of them.
            let keys: Vec<ike::crypto::sig::PublicKey> = auth
                .pubkeys
                .iter()
                .filter_map(|d| ike::crypto::sig::PublicKey::from_spki_der(d).ok())
                .collect();
            let key = match parsed.first() {
                Some(ee) => keys
                    .into_iter()
                    .find(|k| *k == ee.public_key)
                    .ok_or("the peer's certificate key is not one of the configured pubkeys")?,
                None => keys.into_iter().next().ok_or("no usable pubkeys")?,
            };
            return Ok(PeerKey {
                name: format!("raw {} key", key.key_type()),
                key,
            });
        }
        let pinned: Vec<Arc<Certificate>> = auth
            .certs
            .iter()
            .filter_map(|d| Certificate::from_der(d).ok())
            .map(Arc::new)
            .collect();
        let ee = match parsed.first() {
            Some(ee) => ee.clone(),
            // No CERT payload: a certificate we hold for this identity.
            None => pinned
                .iter()
                .chain(store.certs().iter())
                .find(|c| c.has_identity(id))
                .cloned()
                .ok_or_else(|| {
                    format!(
                        "the peer sent no certificate and none is loaded for '{}'",
                        crate::store::id_string(id)
                    )
                })?,
        };
        if !pinned.is_empty() && !pinned.contains(&ee) {
            return Err(format!(
                "certificate \"{}\" is not one of the configured remote certs",
                ee.subject_string()
            )
            .into());
        }
        let mut cacerts = auth.cacerts.clone();
        cacerts.extend(pinned.iter().map(|c| c.der().to_vec()));
        let opts = VerifyOptions {
            now,
            revocation: match auth.revocation {
                EngineRevocation::Strict => Revocation::Strict,
                EngineRevocation::IfUri => Revocation::IfUri,
                EngineRevocation::Relaxed => Revocation::Relaxed,
            },
            cacerts,
            wait_for_fetch,
        };
        let rest: Vec<Arc<Certificate>> = parsed.iter().skip(1).cloned().collect();
        let due = store.crl_uris_due(now, i64::MAX).len();
        let verified = store.verify(&ee, &rest, &opts);
        let wanted = store.crl_uris_due(now, i64::MAX).len() > due;
        drop(store);
        if wanted || matches!(verified, Err(TrustError::Pending(_))) {
            self.wake_fetcher();
        }
        let chain = verified.map_err(|e| match e {
            TrustError::Pending(_) => VerifyError::Pending(e.to_string()),
            e => VerifyError::Failed(e.to_string()),
        })?;
        if !ee.has_identity(id) {
            return Err(format!(
                "certificate \"{}\" does not confirm the identity '{}'",
                ee.subject_string(),
                crate::store::id_string(id)
            )
            .into());
        }
        if !ee.may_sign_ike() {
            return Err(TrustError::KeyUsage(ee.subject_string()).to_string().into());
        }
        let path = chain
            .certs
            .iter()
            .map(|c| format!("\"{}\"", c.subject_string()))
            .collect::<Vec<_>>()
            .join(" <- ");
        Ok(PeerKey {
            key: ee.public_key.clone(),
            name: path,
        })
    }

    fn ca_hashes(&self, auth: &AuthConfig) -> Vec<[u8; 20]> {
        if !auth.cacerts.is_empty() {
            return auth
                .cacerts
                .iter()
                .filter_map(|d| Certificate::from_der(d).ok())
                .map(|c| c.public_key.spki_sha1())
                .collect();
        }
        self.lock().ca_key_hashes()
    }

    fn id_matches(&self, pattern: &Identification, id: &Identification) -> bool {
        id_matches(pattern, id)
    }

    fn has_wildcards(&self, id: &Identification) -> bool {
        match id {
            Identification::Fqdn(d) | Identification::Rfc822(d) => d.first() == Some(&b'*'),
            Identification::DerAsn1Dn(d) => crate::dn::has_wildcards(d),
            _ => false,
        }
    }
}
