//! The authenticator (the gateway's side, RFC 3748 §2 "authenticator";
//! the IKE responder of RFC 7296 §2.16).

use std::time::Instant;

use rand_core::CryptoRngCore;
use tracing::{info, warn};
use zeroize::Zeroizing;

use super::mschapv2::{self, opcode};
use super::{
    ct_eq, md5_build, md5_parse, md5_response, type_data, typed, types, EapPayload, EapSecret,
    FailureLimiter, Method, Msk,
};

/// Where the authenticator finds users' secrets (`secrets { eap-NAME {
/// id, secret } }`).
pub trait EapSecrets {
    /// The secret of `identity`, as the client named itself.
    fn secret(&self, identity: &[u8]) -> Option<EapSecret>;
}

impl<F: Fn(&[u8]) -> Option<EapSecret>> EapSecrets for F {
    fn secret(&self, identity: &[u8]) -> Option<EapSecret> {
        self(identity)
    }
}

/// What the authenticator does next.
#[derive(Debug)]
pub enum ServerStep {
    /// Send this Request and wait for the peer's Response.
    Request(EapPayload),
    /// The peer is authenticated: send `message` (EAP-Success).
    Success {
        /// The EAP-Success to send.
        message: EapPayload,
        /// Who authenticated (the EAP identity).
        identity: Vec<u8>,
        /// By which method.
        method: Method,
        /// Its MSK, if the method makes one (RFC 7296 §2.16: the AUTH
        /// payloads are then computed with it).
        msk: Option<Msk>,
    },
    /// Authentication failed: send `message` (EAP-Failure); the IKE SA
    /// ends with AUTHENTICATION_FAILED.
    Failure {
        /// The EAP-Failure to send.
        message: EapPayload,
        /// The identity the peer claimed, if it got that far.
        identity: Option<Vec<u8>>,
        /// Why, for the log (never a secret).
        reason: String,
    },
    /// The Response is not for the outstanding Request (its Identifier
    /// differs, RFC 3748 §4.1): ignore it and keep waiting.
    Discard(String),
}

/// What the authenticator needs from its surroundings for one step.
pub struct ServerEnv<'a> {
    /// The users' secrets.
    pub secrets: &'a dyn EapSecrets,
    /// Failed attempts per identity.
    pub limiter: &'a mut FailureLimiter,
    /// Randomness for challenges.
    pub rng: &'a mut dyn CryptoRngCore,
    /// The time, for the limiter.
    pub now: Instant,
}

impl std::fmt::Debug for ServerEnv<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerEnv")
            .field("limiter", &self.limiter)
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
enum State {
    Start,
    Identity,
    Md5 { challenge: [u8; 16] },
    MsChapChallenge { challenge: [u8; 16], ms_id: u8 },
    MsChapSuccess { msk: Msk },
    Done,
}

/// One EAP conversation, from the authenticator's side: EAP-Identity
/// (unless the IKE identity is used), then the first of the configured
/// methods the peer accepts (a legacy Nak, RFC 3748 §5.3.1, moves to the
/// next), then EAP-Success or EAP-Failure.
///
/// A wrong password ends the conversation with EAP-Failure at once (no
/// MS-CHAPv2 retry, as strongSwan after its retries; RFC 2759 §10), and
/// counts against the identity in the [`FailureLimiter`]; a locked
/// identity is refused before it is challenged. An unknown user is
/// challenged like a known one and fails the same way, so that the
/// answers tell an attacker nothing about which users exist.
#[derive(Debug)]
pub struct Authenticator {
    methods: Vec<Method>,
    tried: Vec<Method>,
    identity: Option<Vec<u8>>,
    name: Vec<u8>,
    /// The Identifier of the outstanding Request.
    id: u8,
    state: State,
}

/// The longest identity accepted (RADIUS's User-Name holds 253 octets,
/// RFC 2865 §5.1; IKE identities are longer only for DNs).
const MAX_IDENTITY: usize = 1024;

fn printable(b: &[u8]) -> String {
    b.escape_ascii().to_string()
}

impl Authenticator {
    /// A conversation offering `methods` in order. `identity`: the
    /// peer's identity if it is already known (`eap_id` is the IKE
    /// identity); `None` asks with EAP-Identity first. `first_id`: the
    /// first Identifier (random, RFC 3748 §4.1 recommends an unpredictable
    /// start).
    pub fn new(methods: Vec<Method>, identity: Option<Vec<u8>>, first_id: u8) -> Authenticator {
        // EAP-TLS is run by the peer only (see the module docs): the
        // authenticator never offers it.
        let methods = methods.into_iter().filter(|m| *m != Method::Tls).collect();
        Authenticator {
            methods,
            tried: Vec::new(),
            identity,
            name: b"vtid".to_vec(),
            id: first_id,
            state: State::Start,
        }
    }

    /// The identity the peer gave (or was given).
    pub fn identity(&self) -> Option<&[u8]> {
        self.identity.as_deref()
    }

    /// The first Request.
    pub fn start(&mut self, env: &mut ServerEnv<'_>) -> ServerStep {
        if !matches!(self.state, State::Start) {
            return self.fail(self.id, "start called twice".into());
        }
        match &self.identity {
            None => {
                self.state = State::Identity;
                ServerStep::Request(typed(EapPayload::REQUEST, self.id, types::IDENTITY, &[]))
            }
            Some(id) => {
                let id = id.clone();
                self.after_identity(id, env)
            }
        }
    }

    /// The peer's Response to the outstanding Request. A success clears
    /// the identity's failures in the limiter.
    pub fn process(&mut self, resp: &EapPayload, env: &mut ServerEnv<'_>) -> ServerStep {
        let step = self.step(resp, env);
        if let ServerStep::Success { identity, .. } = &step {
            env.limiter.succeeded(identity);
        }
        step
    }

    fn step(&mut self, resp: &EapPayload, env: &mut ServerEnv<'_>) -> ServerStep {
        if resp.code != EapPayload::RESPONSE {
            return self.fail(
                resp.identifier,
                format!("peer sent EAP Code {} instead of a Response", resp.code),
            );
        }
        if resp.identifier != self.id {
            return ServerStep::Discard(format!(
                "EAP Response with Identifier {} while {} is outstanding",
                resp.identifier, self.id
            ));
        }
        let Some(ty) = resp.eap_type() else {
            return self.fail(resp.identifier, "EAP Response without a Type".into());
        };
        let td = type_data(resp);
        match std::mem::replace(&mut self.state, State::Done) {
            State::Identity if ty == types::IDENTITY => {
                if td.is_empty() || td.len() > MAX_IDENTITY {
                    return self.fail(
                        resp.identifier,
                        format!("EAP-Identity of {} octets", td.len()),
                    );
                }
                self.identity = Some(td.to_vec());
                self.after_identity(td.to_vec(), env)
            }
            State::Md5 { .. } | State::MsChapChallenge { .. } if ty == types::NAK => {
                self.nak(td, env)
            }
            State::Md5 { challenge } if ty == types::MD5 => {
                self.md5_response(resp, &challenge, env)
            }
            State::MsChapChallenge { challenge, ms_id } if ty == types::MSCHAPV2 => {
                self.mschap_response(resp, &challenge, ms_id, env)
            }
            State::MsChapSuccess { msk } if ty == types::MSCHAPV2 => match td.first() {
                Some(&opcode::SUCCESS) => {
                    self.succeed(resp.identifier, Method::MsChapV2, Some(msk))
                }
                _ => self.fail(
                    resp.identifier,
                    "peer did not accept our MS-CHAPv2 Success (authenticator response)".into(),
                ),
            },
            State::Done | State::Start => self.fail(
                resp.identifier,
                "EAP Response after the conversation ended".into(),
            ),
            _ => self.fail(
                resp.identifier,
                format!("EAP Response of Type {ty} does not answer our Request"),
            ),
        }
    }

    fn after_identity(&mut self, identity: Vec<u8>, env: &mut ServerEnv<'_>) -> ServerStep {
        if let Err(until) = env.limiter.check(&identity, env.now) {
            let secs = until.saturating_duration_since(env.now).as_secs();
            warn!(
                identity = %printable(&identity),
                "EAP authentication refused: too many failed attempts, locked for {secs} s more"
            );
            return self.fail(
                self.id,
                format!(
                    "identity '{}' is locked for {secs} s after failed attempts",
                    printable(&identity)
                ),
            );
        }
        match self.methods.first().copied() {
            Some(m) => self.request(m, env),
            None => self.fail(self.id, "no EAP method configured".into()),
        }
    }

    fn request(&mut self, m: Method, env: &mut ServerEnv<'_>) -> ServerStep {
        self.tried.push(m);
        self.id = self.id.wrapping_add(1);
        let mut challenge = [0u8; 16];
        env.rng.fill_bytes(&mut challenge);
        match m {
            Method::Md5 => {
                self.state = State::Md5 { challenge };
                ServerStep::Request(typed(
                    EapPayload::REQUEST,
                    self.id,
                    types::MD5,
                    &md5_build(&challenge, &self.name),
                ))
            }
            Method::MsChapV2 => {
                let ms_id = self.id;
                self.state = State::MsChapChallenge { challenge, ms_id };
                let mut body = Vec::with_capacity(17usize.saturating_add(self.name.len()));
                body.push(16);
                body.extend_from_slice(&challenge);
                body.extend_from_slice(&self.name);
                ServerStep::Request(typed(
                    EapPayload::REQUEST,
                    self.id,
                    types::MSCHAPV2,
                    &mschapv2::build(opcode::CHALLENGE, ms_id, &body),
                ))
            }
            Method::Tls => self.fail(
                self.id,
                "EAP-TLS is not offered by vtid's authenticator".into(),
            ),
        }
    }

    /// A legacy Nak (RFC 3748 §5.3.1): the peer lists the Types it wants.
    fn nak(&mut self, wanted: &[u8], env: &mut ServerEnv<'_>) -> ServerStep {
        let next = wanted.iter().find_map(|&t| {
            Method::from_type(t).filter(|m| self.methods.contains(m) && !self.tried.contains(m))
        });
        match next {
            Some(m) => {
                info!("EAP peer asked for {m} instead");
                self.request(m, env)
            }
            None => {
                self.fail(
                    self.id,
                    format!(
                    "peer refused {} and wants EAP Types {wanted:?}, none of which is configured",
                    self.tried.last().map_or_else(String::new, |m| m.to_string()),
                ),
                )
            }
        }
    }

    fn lookup(&self, env: &ServerEnv<'_>) -> Option<EapSecret> {
        env.secrets.secret(self.identity.as_deref()?)
    }

    fn md5_response(
        &mut self,
        resp: &EapPayload,
        challenge: &[u8; 16],
        env: &mut ServerEnv<'_>,
    ) -> ServerStep {
        let Some((value, _name)) = md5_parse(type_data(resp)) else {
            return self.fail(resp.identifier, "malformed EAP-MD5 Response".into());
        };
        let ok = match self.lookup(env) {
            Some(EapSecret::Password(p)) => {
                let expected = Zeroizing::new(md5_response(resp.identifier, &p, challenge));
                ct_eq(value, &*expected)
            }
            _ => false,
        };
        if ok {
            self.succeed(resp.identifier, Method::Md5, None)
        } else {
            self.wrong_password(resp.identifier, Method::Md5, env)
        }
    }

    fn mschap_response(
        &mut self,
        resp: &EapPayload,
        challenge: &[u8; 16],
        ms_id: u8,
        env: &mut ServerEnv<'_>,
    ) -> ServerStep {
        let td = type_data(resp);
        let parsed = match mschapv2::split(td) {
            Some((opcode::RESPONSE, Some((id, body)))) if id == ms_id => {
                mschapv2::parse_response(body)
            }
            _ => None,
        };
        let Some(r) = parsed else {
            return self.fail(
                resp.identifier,
                "malformed EAP-MSCHAPv2 Response (or wrong MS-CHAPv2-ID)".into(),
            );
        };
        // The name the hash covers must be the identity the peer gave:
        // a client cannot authenticate as one user with another's
        // password.
        if Some(r.name) != self.identity.as_deref() {
            return self.fail(
                resp.identifier,
                format!(
                    "EAP-MSCHAPv2 name '{}' is not the EAP identity '{}'",
                    printable(r.name),
                    printable(self.identity.as_deref().unwrap_or_default())
                ),
            );
        }
        let Some(secret) = self.lookup(env) else {
            return self.wrong_password(resp.identifier, Method::MsChapV2, env);
        };
        let ph = mschapv2::nt_hash(&secret);
        let expected = Zeroizing::new(mschapv2::nt_response(
            challenge,
            &r.peer_challenge,
            r.name,
            &ph,
        ));
        if !ct_eq(&r.nt_response, &*expected) {
            return self.wrong_password(resp.identifier, Method::MsChapV2, env);
        }
        let auth =
            mschapv2::authenticator_response(&ph, &expected, &r.peer_challenge, challenge, r.name);
        let msk = mschapv2::msk(&ph, &expected);
        self.state = State::MsChapSuccess { msk };
        self.id = self.id.wrapping_add(1);
        let mut msg = mschapv2::auth_string(&auth).into_bytes();
        msg.extend_from_slice(b" M=Welcome to vtid");
        ServerStep::Request(typed(
            EapPayload::REQUEST,
            self.id,
            types::MSCHAPV2,
            &mschapv2::build(opcode::SUCCESS, ms_id, &msg),
        ))
    }

    fn wrong_password(
        &mut self,
        identifier: u8,
        method: Method,
        env: &mut ServerEnv<'_>,
    ) -> ServerStep {
        let identity = self.identity.clone().unwrap_or_default();
        let locked = env.limiter.failed(&identity, env.now);
        warn!(
            identity = %printable(&identity),
            "{method} authentication failed: wrong password or unknown user{}",
            match locked {
                Some(u) => format!(
                    "; locked for {} s after repeated failures",
                    u.saturating_duration_since(env.now).as_secs()
                ),
                None => String::new(),
            }
        );
        self.fail(
            identifier,
            format!(
                "{method}: wrong password or unknown user '{}'",
                printable(&identity)
            ),
        )
    }

    fn succeed(&mut self, identifier: u8, method: Method, msk: Option<Msk>) -> ServerStep {
        self.state = State::Done;
        let identity = self.identity.clone().unwrap_or_default();
        ServerStep::Success {
            message: EapPayload {
                code: EapPayload::SUCCESS,
                identifier,
                data: Vec::new(),
            },
            identity,
            method,
            msk,
        }
    }

    fn fail(&mut self, identifier: u8, reason: String) -> ServerStep {
        self.state = State::Done;
        ServerStep::Failure {
            message: EapPayload {
                code: EapPayload::FAILURE,
                identifier,
                data: Vec::new(),
            },
            identity: self.identity.clone(),
            reason,
        }
    }
}

/// The users' secrets of `secrets { eap-NAME { id, secret } }` (passwords)
/// and `ntlm-NAME` (NT hashes, 16 octets), looked up as strongSwan does: a
/// secret naming the identity among its `id`s, else one without any `id`
/// (it applies to everyone). Built from the configuration on start and
/// reload.
#[derive(Debug, Default)]
pub struct SecretTable {
    by_id: std::collections::HashMap<Vec<u8>, EapSecret>,
    any: Option<EapSecret>,
}

impl SecretTable {
    /// The EAP and NTLM secrets of `secrets` (others are skipped); an
    /// NTLM secret that is not 16 octets is skipped with a warning.
    pub fn new(secrets: &[config::SharedSecret]) -> SecretTable {
        let mut t = SecretTable::default();
        for s in secrets {
            let secret = match s.kind {
                config::SecretKind::Eap => EapSecret::password(s.secret.expose()),
                config::SecretKind::Ntlm => match <[u8; 16]>::try_from(s.secret.expose()) {
                    Ok(h) => EapSecret::NtHash(Zeroizing::new(h)),
                    Err(_) => {
                        warn!(
                            "secret '{}': an NT hash is 16 octets (0x + 32 hex digits); skipped",
                            s.name
                        );
                        continue;
                    }
                },
                _ => continue,
            };
            if s.ids.is_empty() {
                t.any.get_or_insert(secret);
                continue;
            }
            for id in &s.ids {
                t.by_id
                    .entry(id.as_bytes().to_vec())
                    .or_insert_with(|| secret.clone());
            }
        }
        t
    }

    /// How many identities have their own secret.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether there is no secret at all.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty() && self.any.is_none()
    }
}

impl EapSecrets for SecretTable {
    fn secret(&self, identity: &[u8]) -> Option<EapSecret> {
        self.by_id.get(identity).or(self.any.as_ref()).cloned()
    }
}
