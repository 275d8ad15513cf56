//! EAP conversations between vtid's authenticator and peer (both sides
//! sans I/O), and what a malicious peer or server can do to them.

use std::time::{Duration, Instant};

use aaa::eap::{
    self, mschapv2, Authenticator, EapPayload, EapSecret, FailureLimiter, LimiterConfig, Method,
    Peer, PeerStep, ServerEnv, ServerStep,
};
use proptest::prelude::*;
use rand_core::OsRng;

fn users(id: &[u8]) -> Option<EapSecret> {
    match id {
        b"alice" => Some(EapSecret::password(b"alice-pw")),
        b"carol" => Some(EapSecret::NtHash(zeroize::Zeroizing::new(
            *mschapv2::nt_password_hash(b"carol-pw"),
        ))),
        _ => None,
    }
}

struct Run {
    server: ServerStep,
    peer: Option<PeerStep>,
    rounds: usize,
}

/// Runs a whole conversation; returns the last steps of both sides.
fn converse(
    methods: Vec<Method>,
    ask_identity: bool,
    peer: &mut Peer,
    peer_id: &[u8],
    limiter: &mut FailureLimiter,
    now: Instant,
) -> Run {
    let secrets = users;
    let mut rng = OsRng;
    let mut env = ServerEnv {
        secrets: &secrets,
        limiter,
        rng: &mut rng,
        now,
    };
    let mut auth = Authenticator::new(methods, (!ask_identity).then(|| peer_id.to_vec()), 200);
    let mut step = auth.start(&mut env);
    let mut last_peer = None;
    for rounds in 0..10 {
        let msg = match &step {
            ServerStep::Request(m) => m.clone(),
            ServerStep::Success { message, .. } | ServerStep::Failure { message, .. } => {
                // The peer sees the final message too.
                let p = peer.process(message, &mut OsRng);
                return Run {
                    server: step,
                    peer: Some(p),
                    rounds,
                };
            }
            ServerStep::Discard(why) => panic!("discard: {why}"),
        };
        // Through the wire encoding and back, as RADIUS would carry it.
        let msg = eap::decode(&eap::encode(&msg).unwrap()).unwrap();
        match peer.process(&msg, &mut OsRng) {
            PeerStep::Respond(r) => {
                let r = eap::decode(&eap::encode(&r).unwrap()).unwrap();
                step = auth.process(&r, &mut env);
            }
            other => {
                last_peer = Some(other);
                break;
            }
        }
    }
    Run {
        server: step,
        peer: last_peer,
        rounds: 10,
    }
}

fn ok(run: &Run) -> (&[u8], Method, Option<&[u8]>) {
    let ServerStep::Success {
        identity,
        method,
        msk,
        message,
    } = &run.server
    else {
        panic!("server: {:?}", run.server);
    };
    assert_eq!(message.code, EapPayload::SUCCESS);
    (identity, *method, msk.as_ref().map(|m| m.expose()))
}

#[test]
fn mschapv2_both_sides_agree_on_the_msk() {
    let mut limiter = FailureLimiter::default();
    for (who, pw) in [(&b"alice"[..], &b"alice-pw"[..]), (b"carol", b"carol-pw")] {
        for ask in [true, false] {
            let mut peer = Peer::new(
                who.to_vec(),
                EapSecret::password(pw),
                vec![Method::MsChapV2],
            );
            let run = converse(
                vec![Method::MsChapV2],
                ask,
                &mut peer,
                who,
                &mut limiter,
                Instant::now(),
            );
            let (id, method, msk) = ok(&run);
            assert_eq!(id, who);
            assert_eq!(method, Method::MsChapV2);
            let msk = msk.unwrap();
            assert_eq!(msk.len(), 64);
            let Some(PeerStep::Success {
                method: Method::MsChapV2,
                msk: Some(peer_msk),
            }) = &run.peer
            else {
                panic!("peer: {:?}", run.peer);
            };
            assert_eq!(peer_msk.expose(), msk);
            // Identity (if asked), Challenge, Success/ack.
            assert_eq!(run.rounds, if ask { 3 } else { 2 });
        }
    }
}

#[test]
fn md5_works_and_makes_no_msk() {
    let mut limiter = FailureLimiter::default();
    let mut peer = Peer::new(
        b"alice".to_vec(),
        EapSecret::password(b"alice-pw"),
        vec![Method::Md5],
    );
    let run = converse(
        vec![Method::Md5],
        true,
        &mut peer,
        b"alice",
        &mut limiter,
        Instant::now(),
    );
    assert_eq!(ok(&run), (&b"alice"[..], Method::Md5, None));
    assert!(matches!(
        run.peer,
        Some(PeerStep::Success {
            method: Method::Md5,
            msk: None
        })
    ));
    // EAP-MD5 needs the password: an NT hash cannot answer it.
    let mut peer = Peer::new(
        b"carol".to_vec(),
        EapSecret::password(b"x"),
        vec![Method::Md5],
    );
    let run = converse(
        vec![Method::Md5],
        true,
        &mut peer,
        b"carol",
        &mut limiter,
        Instant::now(),
    );
    assert!(matches!(run.server, ServerStep::Failure { .. }));
}

#[test]
fn nak_moves_to_a_method_both_have() {
    let mut limiter = FailureLimiter::default();
    let mut peer = Peer::new(
        b"alice".to_vec(),
        EapSecret::password(b"alice-pw"),
        vec![Method::Md5],
    );
    let run = converse(
        vec![Method::MsChapV2, Method::Md5],
        true,
        &mut peer,
        b"alice",
        &mut limiter,
        Instant::now(),
    );
    assert_eq!(ok(&run).1, Method::Md5);
    // No method in common: failure, not a loop.
    let mut peer = Peer::new(
        b"alice".to_vec(),
        EapSecret::password(b"alice-pw"),
        vec![Method::Md5],
    );
    let run = converse(
        vec![Method::MsChapV2],
        true,
        &mut peer,
        b"alice",
        &mut limiter,
        Instant::now(),
    );
    let ServerStep::Failure { reason, .. } = &run.server else {
        panic!("{:?}", run.server);
    };
    assert!(reason.contains("none of which is configured"), "{reason}");
}

#[test]
fn wrong_passwords_fail_and_lock_the_identity_only() {
    let mut limiter = FailureLimiter::new(LimiterConfig {
        max_failures: 3,
        lock: Duration::from_secs(30),
        ..LimiterConfig::default()
    });
    let t0 = Instant::now();
    for method in [Method::MsChapV2, Method::Md5, Method::MsChapV2] {
        let mut peer = Peer::new(
            b"alice".to_vec(),
            EapSecret::password(b"guess"),
            vec![method],
        );
        let run = converse(vec![method], true, &mut peer, b"alice", &mut limiter, t0);
        let ServerStep::Failure {
            reason,
            identity,
            message,
        } = &run.server
        else {
            panic!("{:?}", run.server);
        };
        assert_eq!(message.code, EapPayload::FAILURE);
        assert_eq!(identity.as_deref(), Some(&b"alice"[..]));
        assert!(reason.contains("wrong password"), "{reason}");
        assert!(matches!(run.peer, Some(PeerStep::Failure(_))));
    }
    // Locked: even the right password is refused, without a challenge.
    let mut peer = Peer::new(
        b"alice".to_vec(),
        EapSecret::password(b"alice-pw"),
        vec![Method::MsChapV2],
    );
    let run = converse(
        vec![Method::MsChapV2],
        true,
        &mut peer,
        b"alice",
        &mut limiter,
        t0 + Duration::from_secs(29),
    );
    let ServerStep::Failure { reason, .. } = &run.server else {
        panic!("{:?}", run.server);
    };
    assert!(reason.contains("locked"), "{reason}");
    assert_eq!(run.rounds, 1);
    // Another user is not affected.
    let mut peer = Peer::new(
        b"carol".to_vec(),
        EapSecret::password(b"carol-pw"),
        vec![Method::MsChapV2],
    );
    let run = converse(
        vec![Method::MsChapV2],
        true,
        &mut peer,
        b"carol",
        &mut limiter,
        t0,
    );
    ok(&run);
    // After the lock, the right password works and clears the count.
    let mut peer = Peer::new(
        b"alice".to_vec(),
        EapSecret::password(b"alice-pw"),
        vec![Method::MsChapV2],
    );
    let run = converse(
        vec![Method::MsChapV2],
        true,
        &mut peer,
        b"alice",
        &mut limiter,
        t0 + Duration::from_secs(31),
    );
    ok(&run);
    assert!(limiter.check(b"alice", t0).is_ok());
}

#[test]
fn unknown_users_are_challenged_like_known_ones() {
    let mut limiter = FailureLimiter::default();
    let mut peer = Peer::new(
        b"mallory".to_vec(),
        EapSecret::password(b"x"),
        vec![Method::MsChapV2],
    );
    let run = converse(
        vec![Method::MsChapV2],
        true,
        &mut peer,
        b"mallory",
        &mut limiter,
        Instant::now(),
    );
    let ServerStep::Failure { reason, .. } = &run.server else {
        panic!("{:?}", run.server);
    };
    assert!(
        reason.contains("wrong password or unknown user"),
        "{reason}"
    );
    assert_eq!(run.rounds, 2, "identity and challenge before the failure");
}

fn env<'a>(
    limiter: &'a mut FailureLimiter,
    rng: &'a mut OsRng,
    secrets: &'a dyn eap::EapSecrets,
) -> ServerEnv<'a> {
    ServerEnv {
        secrets,
        limiter,
        rng,
        now: Instant::now(),
    }
}

#[test]
fn a_peer_cannot_use_another_users_password() {
    // EAP identity alice, MS-CHAPv2 name carol with carol's password.
    let mut limiter = FailureLimiter::default();
    let mut rng = OsRng;
    let secrets = users;
    let mut e = env(&mut limiter, &mut rng, &secrets);
    let mut auth = Authenticator::new(vec![Method::MsChapV2], Some(b"alice".to_vec()), 1);
    let ServerStep::Request(challenge) = auth.start(&mut e) else {
        panic!()
    };
    let mut carol = Peer::new(
        b"carol".to_vec(),
        EapSecret::password(b"carol-pw"),
        vec![Method::MsChapV2],
    );
    let PeerStep::Respond(r) = carol.process(&challenge, &mut OsRng) else {
        panic!()
    };
    let ServerStep::Failure { reason, .. } = auth.process(&r, &mut e) else {
        panic!()
    };
    assert!(reason.contains("is not the EAP identity"), "{reason}");
}

#[test]
fn responses_with_other_identifiers_are_discarded() {
    let mut limiter = FailureLimiter::default();
    let mut rng = OsRng;
    let secrets = users;
    let mut e = env(&mut limiter, &mut rng, &secrets);
    let mut auth = Authenticator::new(vec![Method::MsChapV2], None, 7);
    let ServerStep::Request(req) = auth.start(&mut e) else {
        panic!()
    };
    assert_eq!(req.identifier, 7);
    let stale = EapPayload {
        code: EapPayload::RESPONSE,
        identifier: 6,
        data: b"\x01alice".to_vec(),
    };
    assert!(matches!(
        auth.process(&stale, &mut e),
        ServerStep::Discard(_)
    ));
    let good = EapPayload {
        identifier: 7,
        ..stale
    };
    let ServerStep::Request(ch) = auth.process(&good, &mut e) else {
        panic!()
    };
    assert_eq!(ch.identifier, 8);
    assert_eq!(ch.eap_type(), Some(eap::types::MSCHAPV2));
}

#[test]
fn the_peer_refuses_a_server_that_does_not_know_the_password() {
    // A rogue gateway sends a Challenge, then a made-up Success, or an
    // EAP-Success straight away: the peer must not accept either.
    let mut peer = Peer::new(
        b"alice".to_vec(),
        EapSecret::password(b"alice-pw"),
        vec![Method::MsChapV2],
    );
    let mut body = vec![16u8];
    body.extend([0x11; 16]);
    body.extend(b"rogue");
    let ch = EapPayload {
        code: EapPayload::REQUEST,
        identifier: 1,
        data: [vec![26], mschapv2_build(1, 1, &body)].concat(),
    };
    assert!(matches!(
        peer.process(&ch, &mut OsRng),
        PeerStep::Respond(_)
    ));
    let fake = format!("S={} M=hi", "A".repeat(40));
    let succ = EapPayload {
        code: EapPayload::REQUEST,
        identifier: 2,
        data: [vec![26], mschapv2_build(3, 1, fake.as_bytes())].concat(),
    };
    let PeerStep::Failure(why) = peer.process(&succ, &mut OsRng) else {
        panic!()
    };
    assert!(why.contains("does not know the password"), "{why}");

    let mut peer = Peer::new(
        b"alice".to_vec(),
        EapSecret::password(b"alice-pw"),
        vec![Method::MsChapV2],
    );
    let early = EapPayload {
        code: EapPayload::SUCCESS,
        identifier: 1,
        data: vec![],
    };
    let PeerStep::Failure(why) = peer.process(&early, &mut OsRng) else {
        panic!()
    };
    assert!(why.contains("before the method finished"), "{why}");
}

fn mschapv2_build(op: u8, id: u8, body: &[u8]) -> Vec<u8> {
    let len = (body.len() + 4) as u16;
    let mut v = vec![op, id];
    v.extend(len.to_be_bytes());
    v.extend(body);
    v
}

#[test]
fn the_peer_naks_what_it_does_not_run_and_answers_identity() {
    let mut peer = Peer::new(
        b"alice".to_vec(),
        EapSecret::password(b"alice-pw"),
        vec![Method::MsChapV2],
    );
    let id_req = EapPayload {
        code: EapPayload::REQUEST,
        identifier: 3,
        data: vec![1],
    };
    let PeerStep::Respond(r) = peer.process(&id_req, &mut OsRng) else {
        panic!()
    };
    assert_eq!(eap::encode(&r).unwrap(), b"\x02\x03\x00\x0a\x01alice");
    let tls = EapPayload {
        code: EapPayload::REQUEST,
        identifier: 4,
        data: vec![13, 0x20],
    };
    let PeerStep::Respond(r) = peer.process(&tls, &mut OsRng) else {
        panic!()
    };
    assert_eq!(eap::encode(&r).unwrap(), b"\x02\x04\x00\x06\x03\x1a");
}

proptest! {
    /// Whatever a peer sends, the authenticator answers without
    /// panicking, in any state.
    #[test]
    fn authenticator_survives_any_response(
        msgs in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..80), 1..6),
        md5 in any::<bool>(),
    ) {
        let mut limiter = FailureLimiter::default();
        let mut rng = OsRng;
        let secrets = users;
        let mut e = env(&mut limiter, &mut rng, &secrets);
        let m = if md5 { Method::Md5 } else { Method::MsChapV2 };
        let mut auth = Authenticator::new(vec![m, Method::Md5], None, 0);
        let _ = auth.start(&mut e);
        for (i, raw) in msgs.iter().enumerate() {
            // Mostly well-framed, with the expected identifier, so the
            // method code is reached.
            let mut data = raw.clone();
            if let Some(t) = data.first_mut() {
                *t = [1, 3, 4, 26][usize::from(*t) % 4];
            }
            let p = EapPayload { code: 2, identifier: i as u8, data };
            let _ = auth.process(&p, &mut e);
            if let Ok(p) = eap::decode(raw) {
                let _ = auth.process(&p, &mut e);
            }
        }
    }

    /// Whatever a server sends, the peer answers without panicking.
    #[test]
    fn peer_survives_any_request(
        msgs in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..80), 1..6),
    ) {
        let mut peer = Peer::new(b"alice".to_vec(), EapSecret::password(b"pw"),
            vec![Method::MsChapV2, Method::Md5]);
        for raw in &msgs {
            let mut data = raw.clone();
            if let Some(t) = data.first_mut() {
                *t = [1, 2, 4, 26, 13][usize::from(*t) % 5];
            }
            let code = raw.get(1).map_or(1, |c| c % 5);
            let _ = peer.process(&EapPayload { code, identifier: 1, data }, &mut OsRng);
            if let Ok(p) = eap::decode(raw) {
                let _ = peer.process(&p, &mut OsRng);
            }
        }
    }

    /// decode(encode(p)) == p for every well-formed packet.
    #[test]
    fn codec_round_trips(code in 1u8..=4, identifier in any::<u8>(),
                         data in proptest::collection::vec(any::<u8>(), 1..300)) {
        let p = EapPayload { code, identifier, data };
        prop_assert_eq!(eap::decode(&eap::encode(&p).unwrap()).unwrap(), p);
    }
}

#[test]
fn secrets_from_the_configuration() {
    let text = "\
secrets {
  eap-alice {
    id = alice
    id-2 = alice@example.org
    secret = alice-pw
  }
  ntlm-carol {
    id = carol
    secret = 0x8846f7eaee8fb117ad06bdd830b7586c
  }
  ntlm-bad {
    id = dave
    secret = 0x1234
  }
  ike-gw {
    id = gw
    secret = not-eap
  }
}
";
    let l = config::load_str(text, "s.conf").unwrap();
    let t = eap::SecretTable::new(&l.config.secrets);
    assert_eq!(t.len(), 3);
    use eap::EapSecrets;
    assert!(
        matches!(t.secret(b"alice"), Some(EapSecret::Password(p)) if p.as_slice() == b"alice-pw")
    );
    assert!(t.secret(b"alice@example.org").is_some());
    assert!(t.secret(b"gw").is_none(), "IKE secrets are not EAP secrets");
    assert!(t.secret(b"dave").is_none(), "a bad NT hash is skipped");
    // The NT hash of "password" (a well-known value) authenticates carol.
    let mut limiter = FailureLimiter::default();
    let mut rng = OsRng;
    let mut e = ServerEnv {
        secrets: &t,
        limiter: &mut limiter,
        rng: &mut rng,
        now: Instant::now(),
    };
    let mut auth = Authenticator::new(vec![Method::MsChapV2], Some(b"carol".to_vec()), 9);
    let mut peer = Peer::new(
        b"carol".to_vec(),
        EapSecret::password(b"password"),
        vec![Method::MsChapV2],
    );
    let mut step = auth.start(&mut e);
    for _ in 0..4 {
        let ServerStep::Request(r) = &step else { break };
        let PeerStep::Respond(resp) = peer.process(r, &mut OsRng) else {
            panic!()
        };
        step = auth.process(&resp, &mut e);
    }
    assert!(matches!(step, ServerStep::Success { .. }), "{step:?}");
}
