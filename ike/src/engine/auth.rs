//! IKE_AUTH authentication (RFC 7296 §2.15, §3.6–§3.8; RFC 7427):
//! pre-shared keys and digital signatures, CERT and CERTREQ payloads.
//!
//! The engine knows no X.509: certificates, keys and trust live behind the
//! [`Credentials`] trait, which the daemon implements (crate `pki`). This
//! module turns an authentication round's configuration into AUTH, CERT and
//! CERTREQ payloads, and checks the peer's. `ike_sa.rs` calls it at three
//! points (our AUTH, the peer's AUTH, what the peer told us in
//! IKE_SA_INIT), so the task-built engine can move it into an `ike_auth`
//! task as it is.

use std::fmt;
use std::sync::Arc;

use crate::crypto::sig::{
    decode_digital_signature, encode_digital_signature, verify_classic, HashAlgorithm, KeyType,
    PrivateKey, PublicKey, SignatureScheme,
};
use crate::crypto::{psk_auth, verify_psk_auth, Prf};
use crate::wire::{
    AuthMethod, AuthPayload, CertEncoding, CertPayload, CertReqPayload, Identification, NotifyType,
    Payload, PayloadBody,
};

/// How one side authenticates (swanctl `auth`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AuthClass {
    /// `psk`: a pre-shared key (AUTH method 2).
    #[default]
    Psk,
    /// `pubkey`, `rsa`, `ecdsa`, `ed25519`, ...: a signature (methods 1,
    /// 9–11 or 14).
    PubKey,
}

/// Key families of strongSwan's `auth` keyword.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyFamily {
    /// `rsa` (and `rsa/pss`).
    Rsa,
    /// `ecdsa`.
    Ecdsa,
    /// `ed25519`.
    Ed25519,
    /// `ed448`.
    Ed448,
}

impl KeyFamily {
    fn of(k: KeyType) -> KeyFamily {
        match k {
            KeyType::Rsa => KeyFamily::Rsa,
            KeyType::EcdsaP256 | KeyType::EcdsaP384 | KeyType::EcdsaP521 => KeyFamily::Ecdsa,
            KeyType::Ed25519 => KeyFamily::Ed25519,
            KeyType::Ed448 => KeyFamily::Ed448,
        }
    }
}

/// The signature constraints of an `auth` value such as `rsa/pss-sha256`,
/// `ecdsa-384`, `pubkey-sha256-sha512` (strongSwan's `auth` syntax in
/// swanctl.conf(5)): key families (empty: any), minimum key size, hash
/// algorithms (empty: any) and whether RSA must use PSS.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SigConstraints {
    /// Allowed key families; empty allows any.
    pub families: Vec<KeyFamily>,
    /// Minimum key size in bits (`rsa-2048`, `ecdsa-384`).
    pub min_bits: Option<usize>,
    /// Allowed hash algorithms; empty allows any.
    pub hashes: Vec<HashAlgorithm>,
    /// `rsa/pss`: RSA signatures must be RSASSA-PSS.
    pub pss: bool,
}

impl SigConstraints {
    /// Whether a key may be used.
    pub fn allows_key(&self, k: &PublicKey) -> bool {
        (self.families.is_empty() || self.families.contains(&KeyFamily::of(k.key_type())))
            && self.min_bits.is_none_or(|b| k.bits() >= b)
    }

    /// Whether a signature scheme may be used.
    pub fn allows_scheme(&self, s: SignatureScheme) -> bool {
        (self.hashes.is_empty() || self.hashes.contains(&s.hash()))
            && (!self.pss || !s.fits(KeyType::Rsa) || s.is_pss())
    }
}

/// `send_cert` of a connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SendCert {
    /// Always send our certificate.
    Always,
    /// Only when the peer sent a CERTREQ (strongSwan's default).
    #[default]
    IfAsked,
    /// Never.
    Never,
}

/// `revocation` of a remote round.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Revocation {
    /// Fail unless the status is known good.
    Strict,
    /// Fail when a CRL could have been had but was not.
    IfUri,
    /// Fail only for revoked certificates.
    #[default]
    Relaxed,
}

/// One authentication round of a connection (`local` or `remote`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthConfig {
    /// PSK or signature.
    pub class: AuthClass,
    /// Signature constraints from the `auth` value.
    pub constraints: SigConstraints,
    /// `certs`: certificates (DER), the end entity of each candidate chain.
    pub certs: Vec<Vec<u8>>,
    /// `cacerts`: CA certificates (DER) the peer's chain must contain.
    pub cacerts: Vec<Vec<u8>>,
    /// `pubkeys`: raw public keys (SubjectPublicKeyInfo DER).
    pub pubkeys: Vec<Vec<u8>>,
    /// `revocation` (remote rounds).
    pub revocation: Revocation,
}

impl AuthConfig {
    /// Parses strongSwan's `auth` value: `psk`, or `pubkey` / `rsa` /
    /// `rsa/pss` / `ecdsa` / `ed25519` / `ed448` followed by `-`-separated
    /// hash names (`sha256`, `sha384`, `sha512`, `identity`) and key sizes;
    /// an `ike:` prefix (constraints on IKE signatures only) is accepted.
    pub fn parse_auth(s: &str) -> Result<(AuthClass, SigConstraints), String> {
        let t = s.trim().to_ascii_lowercase();
        if t == "psk" {
            return Ok((AuthClass::Psk, SigConstraints::default()));
        }
        let body = t.strip_prefix("ike:").unwrap_or(&t);
        let mut parts = body.split('-');
        let head = parts.next().unwrap_or_default();
        let mut c = SigConstraints::default();
        match head {
            "pubkey" => {}
            "rsa" => c.families.push(KeyFamily::Rsa),
            "rsa/pss" => {
                c.families.push(KeyFamily::Rsa);
                c.pss = true;
            }
            "ecdsa" => c.families.push(KeyFamily::Ecdsa),
            "ed25519" => c.families.push(KeyFamily::Ed25519),
            "ed448" => c.families.push(KeyFamily::Ed448),
            _ => {
                return Err(format!(
                    "auth = {s}: vtid authenticates with psk or public keys (pubkey, rsa, rsa/pss, \
                     ecdsa, ed25519); EAP, XAuth and {head} are not supported"
                ))
            }
        }
        for p in parts {
            let h = match p {
                "sha1" => HashAlgorithm::SHA1,
                "sha256" | "sha2_256" => HashAlgorithm::SHA2_256,
                "sha384" | "sha2_384" => HashAlgorithm::SHA2_384,
                "sha512" | "sha2_512" => HashAlgorithm::SHA2_512,
                "identity" => HashAlgorithm::IDENTITY,
                n if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
                    c.min_bits = n.parse().ok();
                    continue;
                }
                other => return Err(format!("auth = {s}: unknown constraint '{other}'")),
            };
            c.hashes.push(h);
        }
        Ok((AuthClass::PubKey, c))
    }
}

/// Our key and the certificates to send with it.
#[derive(Clone, Debug)]
pub struct LocalCredential {
    /// The private key.
    pub key: Arc<PrivateKey>,
    /// The end-entity certificate first, then intermediate CA certificates
    /// (DER); empty for a raw public key.
    pub certs: Vec<Vec<u8>>,
    /// For logs: the certificate's subject or the key's description.
    pub name: String,
}

/// A peer's public key that credentials vouch for.
#[derive(Clone, Debug)]
pub struct PeerKey {
    /// The key.
    pub key: PublicKey,
    /// For logs: the certificate's subject and its chain.
    pub name: String,
}

/// Why a peer's credentials are not (yet) accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VerifyError {
    /// The peer is not authenticated; the message says why.
    Failed(String),
    /// The answer needs something being fetched now (a CRL). The engine
    /// drops the message unanswered, as if it were lost, and decides when
    /// the peer retransmits it (RFC 7296 §2.1): the daemon never blocks
    /// on a fetch, and a peer is never accepted or refused for want of a
    /// CRL that is on its way.
    Pending(String),
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::Failed(s) | VerifyError::Pending(s) => f.write_str(s),
        }
    }
}

impl From<String> for VerifyError {
    fn from(s: String) -> Self {
        VerifyError::Failed(s)
    }
}

impl From<&str> for VerifyError {
    fn from(s: &str) -> Self {
        VerifyError::Failed(s.to_string())
    }
}

/// Certificates, keys and trust, as the daemon holds them (implemented by
/// crate `pki`). Errors are messages for the log, naming what is missing or
/// untrusted.
pub trait Credentials: Send + Sync + fmt::Debug {
    /// Our key and certificates for a local round. `certreq` holds the CA
    /// key hashes the peer asked for (RFC 7296 §3.7), to choose among
    /// several `certs`.
    fn local(&self, auth: &AuthConfig, certreq: &[[u8; 20]]) -> Result<LocalCredential, String>;

    /// The trusted key of a peer that identified as `id` and sent `certs`
    /// (DER, as received, the end entity first): chain, validity,
    /// revocation and identity checked as the remote round requires.
    /// [`VerifyError::Pending`] when the answer waits for a fetch.
    fn verify_peer(
        &self,
        auth: &AuthConfig,
        id: &Identification,
        certs: &[Vec<u8>],
    ) -> Result<PeerKey, VerifyError>;

    /// SHA-1 hashes of the trusted CAs' public keys for our CERTREQ.
    fn ca_hashes(&self, auth: &AuthConfig) -> Vec<[u8; 20]>;

    /// Whether the peer's identity matches a configured remote identity,
    /// with strongSwan's wildcards (`CN=*`, `*.example.org`).
    fn id_matches(&self, pattern: &Identification, id: &Identification) -> bool {
        pattern == id
    }

    /// Whether a configured identity holds wildcards (then it is not sent
    /// as IDr, as strongSwan does not).
    fn has_wildcards(&self, id: &Identification) -> bool {
        let _ = id;
        false
    }
}

/// What the peer announced that matters for authentication.
#[derive(Clone, Debug, Default)]
pub(crate) struct PeerAnnounced {
    /// SIGNATURE_HASH_ALGORITHMS (RFC 7427 §4), if sent.
    pub hashes: Option<Vec<HashAlgorithm>>,
    /// CA hashes of its CERTREQ payloads, if any was sent.
    pub certreq: Option<Vec<[u8; 20]>>,
}

impl PeerAnnounced {
    /// Records the notifies and CERTREQs of a message.
    pub fn learn(&mut self, p: &[Payload]) {
        for x in p {
            match &x.body {
                PayloadBody::Notify(n) if n.ty == NotifyType::SIGNATURE_HASH_ALGORITHMS => {
                    self.hashes = Some(HashAlgorithm::decode_list(&n.data));
                }
                PayloadBody::CertReq(c) if c.encoding == CertEncoding::X509_SIGNATURE => {
                    let list = self.certreq.get_or_insert_with(Vec::new);
                    for h in c.data.chunks_exact(20) {
                        let mut a = [0u8; 20];
                        a.copy_from_slice(h);
                        if !list.contains(&a) {
                            list.push(a);
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

/// The SIGNATURE_HASH_ALGORITHMS notify we send (RFC 7427 §4).
pub(crate) fn hash_algorithms_notify() -> Payload {
    Payload::new(PayloadBody::Notify(crate::wire::NotifyPayload::new(
        NotifyType::SIGNATURE_HASH_ALGORITHMS,
        HashAlgorithm::encode_list(&HashAlgorithm::SUPPORTED),
    )))
}

/// A CERTREQ payload for X.509 with these CA hashes (RFC 7296 §3.7), or
/// nothing when there are none.
pub(crate) fn certreq_payload(hashes: &[[u8; 20]]) -> Option<Payload> {
    if hashes.is_empty() {
        return None;
    }
    Some(Payload::new(PayloadBody::CertReq(CertReqPayload {
        encoding: CertEncoding::X509_SIGNATURE,
        data: hashes.concat(),
    })))
}

/// The signature scheme for method 14: the key's preferred scheme whose
/// hash the peer supports and the constraints allow (strongSwan's order:
/// SHA-256, -384, -512 for RSA; the curve's hash for ECDSA; Identity for
/// EdDSA).
fn choose_scheme(
    key: KeyType,
    bits: usize,
    peer: &[HashAlgorithm],
    c: &SigConstraints,
) -> Option<SignatureScheme> {
    let pss = |h: HashAlgorithm| match h {
        HashAlgorithm::SHA2_256 => SignatureScheme::RsaPssSha256(32),
        HashAlgorithm::SHA2_384 => SignatureScheme::RsaPssSha384(48),
        _ => SignatureScheme::RsaPssSha512(64),
    };
    let candidates: Vec<SignatureScheme> = match key {
        KeyType::Rsa => {
            let hashes = [
                HashAlgorithm::SHA2_256,
                HashAlgorithm::SHA2_384,
                HashAlgorithm::SHA2_512,
            ];
            // PSS needs emLen >= hLen + sLen + 2 (RFC 8017 §9.1.1).
            let fits = |h: HashAlgorithm| {
                let hl = match h {
                    HashAlgorithm::SHA2_256 => 32,
                    HashAlgorithm::SHA2_384 => 48,
                    _ => 64,
                };
                bits.div_ceil(8) >= 2 * hl + 2
            };
            if c.pss {
                hashes.into_iter().filter(|h| fits(*h)).map(pss).collect()
            } else {
                hashes
                    .into_iter()
                    .map(|h| match h {
                        HashAlgorithm::SHA2_256 => SignatureScheme::RsaPkcs1Sha256,
                        HashAlgorithm::SHA2_384 => SignatureScheme::RsaPkcs1Sha384,
                        _ => SignatureScheme::RsaPkcs1Sha512,
                    })
                    .collect()
            }
        }
        KeyType::EcdsaP256 => vec![SignatureScheme::EcdsaSha256],
        KeyType::EcdsaP384 => vec![SignatureScheme::EcdsaSha384],
        KeyType::EcdsaP521 => vec![SignatureScheme::EcdsaSha512],
        KeyType::Ed25519 => vec![SignatureScheme::Ed25519],
        KeyType::Ed448 => vec![],
    };
    candidates
        .into_iter()
        .find(|s| peer.contains(&s.hash()) && c.allows_scheme(*s))
}

/// Our AUTH payload and the CERT payloads to send before it.
///
/// `psk` is the key the caller found for a PSK round. For a signature round
/// RFC 7427 (method 14) is used when the peer announced
/// SIGNATURE_HASH_ALGORITHMS with a hash we can use, else the classic
/// method of the key (1 for RSA, 9–11 for ECDSA, RFC 7296 §3.8); Ed25519
/// and `rsa/pss` need RFC 7427. Certificates go out when `send_cert` says
/// so (`ifasked`: the peer sent a CERTREQ).
pub(crate) fn build_auth(
    creds: Option<&dyn Credentials>,
    cfg: &AuthConfig,
    send_cert: SendCert,
    psk: Option<&[u8]>,
    prf: Prf,
    octets: &[u8],
    peer: &PeerAnnounced,
) -> Result<(Vec<Payload>, AuthPayload), String> {
    if cfg.class == AuthClass::Psk {
        let psk = psk.ok_or("no pre-shared key")?;
        return Ok((
            Vec::new(),
            AuthPayload {
                method: AuthMethod::SHARED_KEY_MIC,
                data: psk_auth(prf, psk, octets),
            },
        ));
    }
    let creds = creds.ok_or("no credentials are loaded")?;
    let certreq = peer.certreq.clone().unwrap_or_default();
    let local = creds.local(cfg, &certreq)?;
    let public = local.key.public_key();
    if !cfg.constraints.allows_key(public) {
        return Err(format!(
            "our key ({}, {} bits) does not satisfy the configured auth constraints",
            public.key_type(),
            public.bits()
        ));
    }
    let scheme = peer
        .hashes
        .as_deref()
        .and_then(|h| choose_scheme(public.key_type(), public.bits(), h, &cfg.constraints));
    let auth = match scheme {
        Some(s) => {
            let sig = local.key.sign(s, octets).map_err(|e| e.to_string())?;
            AuthPayload {
                method: AuthMethod::DIGITAL_SIGNATURE,
                data: encode_digital_signature(s, &sig),
            }
        }
        None => {
            if cfg.constraints.pss || !cfg.constraints.hashes.is_empty() {
                return Err(
                    "the configured signature constraints need RFC 7427 (SIGNATURE_HASH_ALGORITHMS \
                     with a matching hash), which the peer did not offer"
                        .into(),
                );
            }
            let (method, data) = local.key.sign_classic(octets).map_err(|e| e.to_string())?;
            AuthPayload { method, data }
        }
    };
    let send = match send_cert {
        SendCert::Always => true,
        SendCert::IfAsked => peer.certreq.is_some(),
        SendCert::Never => false,
    };
    let certs = if send {
        local
            .certs
            .into_iter()
            .map(|data| {
                Payload::new(PayloadBody::Cert(CertPayload {
                    encoding: CertEncoding::X509_SIGNATURE,
                    data,
                }))
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok((certs, auth))
}

/// The X.509 certificates of a message's CERT payloads, in order (RFC 7296
/// §3.6: the first holds the key that signed AUTH). Other encodings are
/// skipped.
pub(crate) fn received_certs(p: &[Payload]) -> Vec<Vec<u8>> {
    p.iter()
        .filter_map(|x| match &x.body {
            PayloadBody::Cert(c) if c.encoding == CertEncoding::X509_SIGNATURE => {
                Some(c.data.clone())
            }
            _ => None,
        })
        .collect()
}

/// Checks the peer's AUTH payload (in `p`) for a round configured as `cfg`;
/// returns what authenticated the peer, for the log. `psk` is the key the
/// caller found for a PSK round.
pub(crate) fn verify_auth(
    creds: Option<&dyn Credentials>,
    cfg: &AuthConfig,
    psk: Option<&[u8]>,
    prf: Prf,
    octets: &[u8],
    id: &Identification,
    p: &[Payload],
) -> Result<String, VerifyError> {
    let auth = p
        .iter()
        .find_map(|x| match &x.body {
            PayloadBody::Auth(a) => Some(a),
            _ => None,
        })
        .ok_or("no AUTH payload")?;
    match cfg.class {
        AuthClass::Psk => {
            if auth.method != AuthMethod::SHARED_KEY_MIC {
                return Err(format!(
                    "peer uses AUTH method {}, but the connection expects a pre-shared key",
                    auth.method
                )
                .into());
            }
            let psk = psk.ok_or(VerifyError::from("no pre-shared key"))?;
            if !verify_psk_auth(prf, psk, octets, &auth.data) {
                return Err("pre-shared key authentication failed (wrong PSK?)".into());
            }
            Ok("pre-shared key".into())
        }
        AuthClass::PubKey => {
            let creds = creds.ok_or("no credentials are loaded")?;
            let certs = received_certs(p);
            let peer = creds.verify_peer(cfg, id, &certs)?;
            if !cfg.constraints.allows_key(&peer.key) {
                return Err(format!(
                    "the peer's key ({}, {} bits) does not satisfy the configured auth constraints",
                    peer.key.key_type(),
                    peer.key.bits()
                )
                .into());
            }
            let ok = match auth.method {
                AuthMethod::DIGITAL_SIGNATURE => {
                    let (scheme, sig) =
                        decode_digital_signature(&auth.data).map_err(|e| e.to_string())?;
                    if !cfg.constraints.allows_scheme(scheme) {
                        return Err(format!(
                            "signature scheme {scheme} is not allowed by the configured auth constraints"
                        ).into());
                    }
                    if scheme.hash() == HashAlgorithm::SHA1 {
                        return Err(
                            format!("signature scheme {scheme} with SHA-1 is refused").into()
                        );
                    }
                    peer.key.verify(scheme, octets, sig)
                }
                AuthMethod::RSA_SIG
                | AuthMethod::ECDSA_256
                | AuthMethod::ECDSA_384
                | AuthMethod::ECDSA_521 => {
                    if cfg.constraints.pss || !cfg.constraints.hashes.is_empty() {
                        return Err(format!(
                            "peer uses classic AUTH method {}, but the configured constraints need RFC 7427",
                            auth.method
                        ).into());
                    }
                    verify_classic(&peer.key, auth.method, octets, &auth.data)
                }
                m => {
                    return Err(format!(
                        "peer uses AUTH method {m}, but the connection expects a signature"
                    )
                    .into())
                }
            };
            if !ok {
                return Err(format!(
                    "signature of {} does not verify (AUTH method {})",
                    peer.name, auth.method
                )
                .into());
            }
            Ok(format!(
                "{} signature of {}",
                peer.key.key_type(),
                peer.name
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_keywords_like_strongswan() {
        let (c, k) = AuthConfig::parse_auth("pubkey").unwrap();
        assert_eq!(c, AuthClass::PubKey);
        assert_eq!(k, SigConstraints::default());
        let (_, k) = AuthConfig::parse_auth("rsa/pss-sha384-sha512").unwrap();
        assert!(k.pss);
        assert_eq!(k.families, vec![KeyFamily::Rsa]);
        assert_eq!(
            k.hashes,
            vec![HashAlgorithm::SHA2_384, HashAlgorithm::SHA2_512]
        );
        let (_, k) = AuthConfig::parse_auth("ecdsa-384").unwrap();
        assert_eq!(k.min_bits, Some(384));
        let (_, k) = AuthConfig::parse_auth("ike:ed25519").unwrap();
        assert_eq!(k.families, vec![KeyFamily::Ed25519]);
        assert_eq!(AuthConfig::parse_auth("PSK").unwrap().0, AuthClass::Psk);
        assert!(AuthConfig::parse_auth("eap-md5").is_err());
        assert!(AuthConfig::parse_auth("rsa-md5").is_err());
    }

    #[test]
    fn scheme_choice_follows_peer_hashes_and_constraints() {
        let all = HashAlgorithm::SUPPORTED;
        let none = SigConstraints::default();
        assert_eq!(
            choose_scheme(KeyType::Rsa, 2048, &all, &none),
            Some(SignatureScheme::RsaPkcs1Sha256)
        );
        let pss = SigConstraints {
            pss: true,
            ..Default::default()
        };
        assert_eq!(
            choose_scheme(KeyType::Rsa, 2048, &all, &pss),
            Some(SignatureScheme::RsaPssSha256(32))
        );
        assert_eq!(
            choose_scheme(KeyType::Rsa, 2048, &[HashAlgorithm::SHA2_512], &none),
            Some(SignatureScheme::RsaPkcs1Sha512)
        );
        assert_eq!(
            choose_scheme(KeyType::EcdsaP384, 384, &all, &none),
            Some(SignatureScheme::EcdsaSha384)
        );
        assert_eq!(
            choose_scheme(KeyType::EcdsaP384, 384, &[HashAlgorithm::SHA2_256], &none),
            None
        );
        assert_eq!(
            choose_scheme(KeyType::Ed25519, 256, &all, &none),
            Some(SignatureScheme::Ed25519)
        );
        assert_eq!(choose_scheme(KeyType::Ed25519, 256, &all[..3], &none), None);
        let only384 = SigConstraints {
            hashes: vec![HashAlgorithm::SHA2_384],
            ..Default::default()
        };
        assert_eq!(
            choose_scheme(KeyType::Rsa, 2048, &all, &only384),
            Some(SignatureScheme::RsaPkcs1Sha384)
        );
    }

    #[test]
    fn peer_announcements_are_collected() {
        let mut a = PeerAnnounced::default();
        a.learn(&[
            hash_algorithms_notify(),
            certreq_payload(&[[1; 20], [2; 20]]).unwrap(),
            // A truncated hash is ignored, a repeated one kept once.
            Payload::new(PayloadBody::CertReq(CertReqPayload {
                encoding: CertEncoding::X509_SIGNATURE,
                data: [[2u8; 20].as_slice(), &[3; 7]].concat(),
            })),
        ]);
        assert_eq!(a.hashes.as_deref(), Some(&HashAlgorithm::SUPPORTED[..]));
        assert_eq!(a.certreq, Some(vec![[1; 20], [2; 20]]));
        assert!(certreq_payload(&[]).is_none());
    }
}
