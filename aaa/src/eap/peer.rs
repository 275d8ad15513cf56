//! The peer (vtid as a client, RFC 3748 §2 "peer"; the IKE initiator of
//! RFC 7296 §2.16).

use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use super::mschapv2::{self, opcode};
use super::tls::{TlsPeer, TlsPeerConfig, TlsStep};
use super::{
    ct_eq, md5_build, md5_parse, md5_response, type_data, typed, types, EapPayload, EapSecret,
    Method, Msk,
};

/// What the peer does next.
#[derive(Debug)]
pub enum PeerStep {
    /// Send this Response.
    Respond(EapPayload),
    /// The server said EAP-Success after a method that finished (and, for
    /// MS-CHAPv2, proved it knows the password too).
    Success {
        /// The method.
        method: Method,
        /// Its MSK, if it makes one.
        msk: Option<Msk>,
    },
    /// The conversation failed (EAP-Failure, an MS-CHAPv2 Failure, a
    /// server that did not prove itself, or a malformed Request).
    Failure(String),
}

#[derive(Debug)]
enum State {
    /// Nothing finished yet.
    Running,
    /// EAP-MD5 answered: a Success now is the server's word.
    Md5Done,
    /// MS-CHAPv2 Response sent: the server must prove the password.
    MsChapResponded {
        auth: [u8; 20],
        msk: Msk,
    },
    /// The server proved it: waiting for EAP-Success.
    MsChapDone {
        msk: Msk,
    },
    Ended,
}

/// One EAP conversation from the peer's side: answers EAP-Identity and
/// Notification, Naks methods it is not configured for (legacy Nak, RFC
/// 3748 §5.3.1), runs EAP-MD5 or EAP-MSCHAPv2, and accepts EAP-Success
/// only once the method has finished (RFC 3748 §7.2 on spoofed Success;
/// for MS-CHAPv2 only after the server's authenticator response
/// matched, RFC 2759 §5).
#[derive(Debug)]
pub struct Peer {
    identity: Vec<u8>,
    secret: EapSecret,
    methods: Vec<Method>,
    state: State,
    tls: Option<TlsPeer>,
}

impl Peer {
    /// A peer that is `identity` with `secret`, willing to run `methods`.
    pub fn new(identity: Vec<u8>, secret: EapSecret, methods: Vec<Method>) -> Peer {
        Peer {
            identity,
            secret,
            methods,
            state: State::Running,
            tls: None,
        }
    }

    /// Adds EAP-TLS (RFC 5216) with `cfg`, preferred over the password
    /// methods in a Nak.
    pub fn with_tls(mut self, cfg: TlsPeerConfig) -> Peer {
        self.tls = Some(TlsPeer::new(cfg));
        self.methods.retain(|m| *m != Method::Tls);
        self.methods.insert(0, Method::Tls);
        self
    }

    /// Answers the server's packet.
    pub fn process(&mut self, req: &EapPayload, rng: &mut dyn CryptoRngCore) -> PeerStep {
        match req.code {
            EapPayload::SUCCESS => {
                if let Some(t) = self.tls.as_mut().filter(|t| t.done()) {
                    self.state = State::Ended;
                    return PeerStep::Success {
                        method: Method::Tls,
                        msk: t.take_msk(),
                    };
                }
                return match std::mem::replace(&mut self.state, State::Ended) {
                    State::Md5Done => PeerStep::Success {
                        method: Method::Md5,
                        msk: None,
                    },
                    State::MsChapDone { msk } => PeerStep::Success {
                        method: Method::MsChapV2,
                        msk: Some(msk),
                    },
                    _ => PeerStep::Failure(
                        "server sent EAP-Success before the method finished".into(),
                    ),
                };
            }
            EapPayload::FAILURE => {
                self.state = State::Ended;
                return PeerStep::Failure("server sent EAP-Failure".into());
            }
            EapPayload::REQUEST => {}
            c => return self.fail(format!("server sent EAP Code {c}")),
        }
        if matches!(self.state, State::Ended) {
            return self.fail("EAP Request after the conversation ended".into());
        }
        let Some(ty) = req.eap_type() else {
            return self.fail("EAP Request without a Type".into());
        };
        let td = type_data(req);
        let id = req.identifier;
        match ty {
            types::IDENTITY => self.respond(id, types::IDENTITY, self.identity.clone()),
            // RFC 3748 §5.2: a Notification is answered with an empty one.
            types::NOTIFICATION => self.respond(id, types::NOTIFICATION, Vec::new()),
            types::MD5 if self.methods.contains(&Method::Md5) => self.md5(id, td),
            types::MSCHAPV2 if self.methods.contains(&Method::MsChapV2) => self.mschap(id, td, rng),
            types::TLS if self.tls.is_some() => {
                let Some(t) = self.tls.as_mut() else {
                    return self.fail("EAP-TLS not configured".into());
                };
                match t.process(id, td) {
                    TlsStep::Respond(r) => PeerStep::Respond(r),
                    TlsStep::Failed(why) => self.fail(why),
                }
            }
            types::NAK | types::EXPANDED => {
                self.fail(format!("server sent a Request of EAP Type {ty}"))
            }
            _ => {
                // Legacy Nak with the Types we would run (0: none).
                let mut wanted: Vec<u8> = self.methods.iter().map(|m| m.eap_type()).collect();
                if wanted.is_empty() {
                    wanted.push(0);
                }
                self.respond(id, types::NAK, wanted)
            }
        }
    }

    fn respond(&mut self, id: u8, ty: u8, td: Vec<u8>) -> PeerStep {
        PeerStep::Respond(typed(EapPayload::RESPONSE, id, ty, &td))
    }

    fn fail(&mut self, why: String) -> PeerStep {
        self.state = State::Ended;
        PeerStep::Failure(why)
    }

    fn md5(&mut self, id: u8, td: &[u8]) -> PeerStep {
        let Some((challenge, _name)) = md5_parse(td) else {
            return self.fail("malformed EAP-MD5 Request".into());
        };
        let EapSecret::Password(p) = &self.secret else {
            return self.fail("EAP-MD5 needs the password, not its NT hash".into());
        };
        let value = Zeroizing::new(md5_response(id, p, challenge));
        let td = md5_build(&*value, &self.identity);
        self.state = State::Md5Done;
        self.respond(id, types::MD5, td)
    }

    fn mschap(&mut self, id: u8, td: &[u8], rng: &mut dyn CryptoRngCore) -> PeerStep {
        match mschapv2::split(td) {
            Some((opcode::CHALLENGE, Some((ms_id, body)))) => {
                let challenge = match body.split_first() {
                    Some((&16, rest)) => rest.get(..16).and_then(|c| <[u8; 16]>::try_from(c).ok()),
                    _ => None,
                };
                let Some(challenge) = challenge else {
                    return self.fail("malformed EAP-MSCHAPv2 Challenge".into());
                };
                let mut peer_challenge = [0u8; 16];
                rng.fill_bytes(&mut peer_challenge);
                let ph = mschapv2::nt_hash(&self.secret);
                let nt = mschapv2::nt_response(&challenge, &peer_challenge, &self.identity, &ph);
                let auth = mschapv2::authenticator_response(
                    &ph,
                    &nt,
                    &peer_challenge,
                    &challenge,
                    &self.identity,
                );
                let msk = mschapv2::msk(&ph, &nt);
                self.state = State::MsChapResponded { auth, msk };
                let mut body = Vec::with_capacity(50usize.saturating_add(self.identity.len()));
                body.push(49);
                body.extend_from_slice(&peer_challenge);
                body.extend_from_slice(&[0u8; 8]);
                body.extend_from_slice(&nt);
                body.push(0);
                body.extend_from_slice(&self.identity);
                let td = mschapv2::build(opcode::RESPONSE, ms_id, &body);
                self.respond(id, types::MSCHAPV2, td)
            }
            Some((opcode::SUCCESS, Some((_, msg)))) => {
                let State::MsChapResponded { auth, .. } = &self.state else {
                    return self.fail("MS-CHAPv2 Success before our Response".into());
                };
                // "S=<40 hex digits>", then optionally " M=<message>".
                let proof = msg
                    .split(|&b| b == b' ')
                    .find_map(|t| t.strip_prefix(b"S="))
                    .filter(|h| h.len() == 40)
                    .and_then(mschapv2::unhex);
                if !proof.is_some_and(|p| ct_eq(&p, auth)) {
                    return self.fail(
                        "the server's MS-CHAPv2 authenticator response is wrong: it does not \
                         know the password"
                            .into(),
                    );
                }
                let State::MsChapResponded { msk, .. } =
                    std::mem::replace(&mut self.state, State::Ended)
                else {
                    return self.fail("MS-CHAPv2 state lost".into());
                };
                self.state = State::MsChapDone { msk };
                self.respond(id, types::MSCHAPV2, vec![opcode::SUCCESS])
            }
            Some((opcode::FAILURE, Some((_, msg)))) => self.fail(format!(
                "server refused our MS-CHAPv2 password: {}",
                msg.escape_ascii()
            )),
            _ => self.fail("malformed or unexpected EAP-MSCHAPv2 Request".into()),
        }
    }
}
