//! vtid's RADIUS client and EAP peer against a real FreeRADIUS (Debian
//! `freeradius` 3.2), started in the foreground in a namespace of its own:
//! EAP-MSCHAPv2 (after a Nak of FreeRADIUS's default EAP-MD5) with the
//! MSK from the MS-MPPE keys equal to the one our peer derives, EAP-MD5, a
//! wrong password rejected, Framed-IP-Address / Framed-Pool / Class,
//! accounting Start / Interim / Stop with byte counts as FreeRADIUS's
//! detail file records them, failover from a server that does not answer,
//! and Disconnect-Requests from FreeRADIUS's `radclient` (RFC 5176).
//!
//! Needs root (namespaces) and `freeradius`, `radclient` (interop/deps.txt).

use std::fs;
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

use aaa::eap::tls::TlsPeerConfig;
use aaa::eap::{EapPayload, EapSecret, Method, Peer, PeerStep};
use aaa::radius::packet::{attr, code, Packet};
use aaa::radius::{
    accounting_request, AcctSession, AcctStatus, Counters, Disconnect, EapRadius, Kind,
    RadiusClient, RadiusStep, Reply, Server, Timers,
};
use rand_core::OsRng;
use rustls::pki_types::PrivateKeyDer;
use vtid_tests::netns::{self, Lab, Ns};
use zeroize::Zeroizing;

const SECRET: &str = "radius-s3cret";
const DAE_SECRET: &str = "dae-s3cret";

/// A CA, the server's certificate (radius.example.org) and a client's
/// (alice), P-256, made with openssl; plus a client certificate of a CA
/// FreeRADIUS does not trust. Keys as PKCS#8 DER for rustls too.
const MAKE_CERTS: &str = r#"
set -e
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null
        openssl pkcs8 -topk8 -nocrypt -in "$1.key" -outform DER -out "$1.key.der"; }
ca() { key "$1"
       openssl req -x509 -new -key "$1.key" -subj "/CN=$1" -days 2 -out "$1.pem" \
         -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
       openssl x509 -in "$1.pem" -outform DER -out "$1.der"; }
leaf() { key "$1"
         openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr" 2>/dev/null
         printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=%s\nsubjectAltName=DNS:%s\n' "$4" "$2" > "$1.ext"
         openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -CAcreateserial -days 2 \
           -extfile "$1.ext" -out "$1.pem" 2>/dev/null
         openssl x509 -in "$1.pem" -outform DER -out "$1.der"; }
ca ca
ca rogue
leaf server radius.example.org ca serverAuth
leaf alice alice ca clientAuth
leaf mallory mallory rogue clientAuth
"#;

fn write_config(dir: &Path) {
    fs::create_dir_all(dir.join("acct")).unwrap();
    fs::create_dir_all(dir.join("certs")).unwrap();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(MAKE_CERTS)
        .current_dir(dir.join("certs"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let d = dir.display();
    fs::write(
        dir.join("radiusd.conf"),
        format!(
            r#"
prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = /var
sbindir = /usr/sbin
logdir = {d}
raddbdir = {d}
radacctdir = {d}/acct
name = freeradius
confdir = {d}
modconfdir = {d}
run_dir = {d}
db_dir = {d}
libdir = /usr/lib/freeradius
dictdir = /usr/share/freeradius
pidfile = {d}/radiusd.pid
max_request_time = 30
cleanup_delay = 2
max_requests = 1024
hostname_lookups = no
log {{
    destination = stdout
    colourise = no
    auth = yes
}}
security {{
    allow_core_dumps = no
    max_attributes = 200
    reject_delay = 0
    status_server = no
}}
thread pool {{
    start_servers = 1
    max_servers = 2
    min_spare_servers = 1
    max_spare_servers = 2
}}
client vtid {{
    ipaddr = 127.0.0.1
    secret = {SECRET}
    require_message_authenticator = yes
}}
modules {{
    eap {{
        default_eap_type = md5
        timer_expire = 60
        ignore_unknown_eap_types = no
        md5 {{
        }}
        mschapv2 {{
        }}
        tls-config tls-common {{
            private_key_file = {d}/certs/server.key
            certificate_file = {d}/certs/server.pem
            ca_file = {d}/certs/ca.pem
            cipher_list = "DEFAULT"
            ecdh_curve = "prime256v1"
            tls_min_version = "1.2"
            tls_max_version = "1.2"
            fragment_size = 1024
            cache {{
                enable = no
            }}
        }}
        tls {{
            tls = tls-common
        }}
    }}
    mschap {{
    }}
    files {{
        filename = {d}/users
    }}
    detail {{
        filename = {d}/acct/detail
        permissions = 0600
        header = "%t"
    }}
}}
server default {{
    listen {{
        type = auth
        ipaddr = 127.0.0.1
        port = 1812
    }}
    listen {{
        type = acct
        ipaddr = 127.0.0.1
        port = 1813
    }}
    authorize {{
        files
        eap
    }}
    authenticate {{
        Auth-Type MS-CHAP {{
            mschap
        }}
        eap
    }}
    preacct {{
    }}
    accounting {{
        detail
    }}
    post-auth {{
    }}
}}
"#
        ),
    )
    .unwrap();
    fs::write(
        dir.join("users"),
        "alice\tCleartext-Password := \"alice-pw\"\n\
         \tFramed-IP-Address = 10.3.0.7,\n\
         \tFramed-Pool = \"rw\",\n\
         \tClass = \"gold\"\n",
    )
    .unwrap();
}

fn start_freeradius(lab: &mut Lab) -> (Ns, netns::Proc) {
    netns::require_root_and_tools(&["freeradius", "radclient", "openssl"]).unwrap();
    let ns = lab.add_ns("radius").unwrap();
    let dir = ns.workdir().join("raddb");
    write_config(&dir);
    let dir_s = dir.display().to_string();
    let mut fr = ns
        .spawn("freeradius", &["freeradius", "-X", "-d", &dir_s])
        .unwrap();
    let r = netns::wait_until(Duration::from_secs(30), "FreeRADIUS ready", || {
        fr.log().contains("Ready to process requests") || !fr.is_running()
    });
    if r.is_err() || !fr.is_running() {
        panic!("FreeRADIUS did not start:\n{}", fr.log());
    }
    (ns, fr)
}

/// Runs `f` in a thread inside `ns` (its sockets are the namespace's).
fn in_ns<T: Send + 'static>(ns: &Ns, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/run/netns/{}", ns.name());
    std::thread::spawn(move || {
        let file = fs::File::open(&path).unwrap();
        netns::enter(&file).unwrap();
        f()
    })
    .join()
    .unwrap()
}

fn server(name: &str, addr: &str) -> Server {
    let ip: std::net::IpAddr = addr.parse().unwrap();
    Server {
        name: name.into(),
        auth: SocketAddr::new(ip, 1812),
        acct: SocketAddr::new(ip, 1813),
        secret: Zeroizing::new(SECRET.as_bytes().to_vec()),
    }
}

/// Sends `p` and pumps the socket until its reply or its timeout.
fn exchange(c: &mut RadiusClient, sock: &UdpSocket, kind: Kind, p: Packet) -> Reply {
    let h = c.send(kind, p, Instant::now(), &mut OsRng);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut buf = [0u8; 4096];
    loop {
        while let Some(t) = c.poll_transmit() {
            sock.send_to(&t.data, t.to).unwrap();
        }
        let now = Instant::now();
        assert!(now < deadline, "no answer within 20 s");
        let wait = c
            .poll_timeout()
            .map_or(Duration::from_millis(100), |t| {
                t.saturating_duration_since(now)
            })
            .max(Duration::from_millis(1));
        sock.set_read_timeout(Some(wait)).unwrap();
        match sock.recv_from(&mut buf) {
            Ok((n, from)) => match c.handle_datagram(from, &buf[..n]) {
                Ok((got, r)) if got == h => return r,
                Ok(_) => {}
                Err(e) => eprintln!("dropped a datagram from {from}: {e}"),
            },
            Err(_) => {
                if c.handle_timeout(Instant::now(), &mut OsRng).contains(&h) {
                    return Reply::Timeout;
                }
            }
        }
    }
}

struct Outcome {
    accepted: bool,
    peer: PeerStep,
    info: Option<aaa::radius::AcceptInfo>,
    rounds: usize,
    /// The server that answered last.
    server: usize,
}

/// One EAP conversation: our peer ↔ EAP-RADIUS ↔ FreeRADIUS.
fn authenticate(
    c: &mut RadiusClient,
    sock: &UdpSocket,
    user: &str,
    pw: &str,
    m: Method,
) -> Outcome {
    let peer = Peer::new(
        user.as_bytes().to_vec(),
        EapSecret::password(pw.as_bytes()),
        vec![m],
    );
    run_peer(c, sock, user, peer, 10)
}

/// One conversation of `peer` through EAP-RADIUS, at most `max_rounds`.
fn run_peer(
    c: &mut RadiusClient,
    sock: &UdpSocket,
    user: &str,
    mut peer: Peer,
    max_rounds: usize,
) -> Outcome {
    let mut relay = EapRadius::new(
        user.as_bytes().to_vec(),
        b"vtid-test".to_vec(),
        Some("192.0.2.9[4500]".into()),
    );
    // The gateway's EAP-Identity request (strongSwan's eap_identity).
    let id_req = EapPayload {
        code: EapPayload::REQUEST,
        identifier: 0,
        data: vec![1],
    };
    let PeerStep::Respond(mut resp) = peer.process(&id_req, &mut OsRng) else {
        panic!("peer did not answer EAP-Identity")
    };
    let mut last_server;
    for rounds in 1..max_rounds {
        let req = relay.request(&resp).unwrap();
        let Reply::Answer {
            packet,
            request_auth,
            server,
        } = exchange(c, sock, Kind::Auth, req)
        else {
            panic!("no RADIUS server answered");
        };
        last_server = server;
        let secret = c.secret(server).unwrap().to_vec();
        match relay.reply(&packet, &request_auth, &secret).unwrap() {
            RadiusStep::Challenge(eap) => match peer.process(&eap, &mut OsRng) {
                PeerStep::Respond(r) => resp = r,
                other => {
                    return Outcome {
                        accepted: false,
                        peer: other,
                        info: None,
                        rounds,
                        server: last_server,
                    }
                }
            },
            RadiusStep::Accept { eap, info } => {
                return Outcome {
                    accepted: true,
                    peer: peer.process(&eap, &mut OsRng),
                    info: Some(info),
                    rounds,
                    server: last_server,
                }
            }
            RadiusStep::Reject { eap, .. } => {
                return Outcome {
                    accepted: false,
                    peer: peer.process(&eap, &mut OsRng),
                    info: None,
                    rounds,
                    server: last_server,
                }
            }
        }
    }
    panic!("EAP did not finish in {max_rounds} rounds");
}

#[test]
fn eap_accounting_failover_and_disconnect_with_freeradius() {
    let mut lab = Lab::new("freeradius").unwrap();
    let (ns, fr) = start_freeradius(&mut lab);
    let detail = ns.workdir().join("raddb/acct/detail");
    let log = fr.log_path().to_path_buf();
    let result = in_ns(&ns, move || {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        // Failover: the first server (127.0.0.2) does not answer.
        let mut c = RadiusClient::new(
            vec![server("dead", "127.0.0.2"), server("fr", "127.0.0.1")],
            Timers {
                timeout: Duration::from_millis(300),
                retries: 1,
                dead_time: Duration::from_secs(60),
            },
        );

        // EAP-MSCHAPv2: FreeRADIUS starts with EAP-MD5, our peer Naks it.
        let o = authenticate(&mut c, &sock, "alice", "alice-pw", Method::MsChapV2);
        assert!(o.accepted);
        // The first server never answers: the replies are the second's.
        assert_eq!(o.server, 1, "reply from the dead server");
        let PeerStep::Success {
            method: Method::MsChapV2,
            msk: Some(peer_msk),
        } = &o.peer
        else {
            panic!("peer: {:?}", o.peer)
        };
        let info = o.info.unwrap();
        let radius_msk = info
            .msk
            .as_ref()
            .expect("MS-MPPE keys in the Access-Accept");
        let n = radius_msk.expose().len();
        eprintln!("MSK from the MS-MPPE keys: {n} octets");
        assert!(n >= 32, "MSK of {n} octets");
        // MasterReceiveKey || MasterSendKey (each padded by FreeRADIUS or
        // not): the first 16 octets of each half are ours.
        let half = n / 2;
        assert_eq!(radius_msk.expose()[..16], peer_msk.expose()[..16]);
        assert_eq!(
            radius_msk.expose()[half..half + 16],
            peer_msk.expose()[16..32]
        );
        assert_eq!(
            info.framed_ip,
            vec!["10.3.0.7".parse::<std::net::IpAddr>().unwrap()]
        );
        assert_eq!(info.pools(true), vec!["rw".to_string(), "gold".to_string()]);
        assert!(
            o.rounds >= 4,
            "identity, md5 nak, challenge, success: {}",
            o.rounds
        );

        // EAP-MD5: no keys.
        let o = authenticate(&mut c, &sock, "alice", "alice-pw", Method::Md5);
        assert!(o.accepted);
        assert!(matches!(
            o.peer,
            PeerStep::Success {
                method: Method::Md5,
                msk: None
            }
        ));
        assert!(o.info.unwrap().msk.is_none());

        // Wrong passwords are rejected, by both methods.
        for m in [Method::MsChapV2, Method::Md5] {
            let o = authenticate(&mut c, &sock, "alice", "wrong", m);
            assert!(!o.accepted, "{m}");
            assert!(matches!(o.peer, PeerStep::Failure(_)), "{m}: {:?}", o.peer);
        }

        // Accounting: Start, Interim, Stop with more than 4 GiB in.
        let s = AcctSession {
            session_id: "vtid-1-0001".into(),
            user: b"alice".to_vec(),
            framed_ip: vec!["10.3.0.7".parse().unwrap()],
            class: vec![b"gold".to_vec()],
            calling_station: Some("192.0.2.9[4500]".into()),
        };
        for (status, bytes_in, cause) in [
            (AcctStatus::Start, 0, None),
            (AcctStatus::Interim, 1000, None),
            (AcctStatus::Stop, (5u64 << 32) + 7, Some(1)),
        ] {
            let counters = Counters {
                bytes_in,
                bytes_out: 4242,
                packets_in: 11,
                packets_out: 12,
            };
            let p = accounting_request(status, &s, counters, 61, cause, b"vtid-test");
            let Reply::Answer { packet, .. } = exchange(&mut c, &sock, Kind::Acct, p) else {
                panic!("no Accounting-Response");
            };
            assert_eq!(packet.code, code::ACCOUNTING_RESPONSE);
        }

        // Disconnect-Request (RFC 5176) from radclient to our listener.
        let dae = UdpSocket::bind("127.0.0.1:3799").unwrap();
        dae.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        for secret in [DAE_SECRET, "not-the-secret"] {
            let child = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!(
                    "echo 'User-Name = \"alice\", Framed-IP-Address = 10.3.0.7' | \
                     radclient -x -r 1 -t 2 127.0.0.1:3799 disconnect '{secret}'"
                ))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let (n, from) = dae.recv_from(&mut buf).unwrap();
            match Disconnect::parse(&buf[..n], DAE_SECRET.as_bytes()) {
                Ok(d) => {
                    assert_eq!(d.user.as_deref(), Some(&b"alice"[..]));
                    assert_eq!(d.framed_ip, Some("10.3.0.7".parse().unwrap()));
                    assert!(d.identifies_a_session());
                    let reply = d.reply(Ok(()), DAE_SECRET.as_bytes()).unwrap();
                    dae.send_to(&reply, from).unwrap();
                    got.push("parsed");
                }
                Err(e) => got.push(if e.to_string().contains("not authentic") {
                    "refused"
                } else {
                    "other"
                }),
            }
            let out = child.wait_with_output().unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            if secret == DAE_SECRET {
                assert!(text.contains("Received Disconnect-ACK"), "{text}");
                assert!(out.status.success(), "{text}");
            } else {
                assert!(!out.status.success(), "{text}");
            }
            // radclient's retransmissions of the refused request.
            while dae
                .set_read_timeout(Some(Duration::from_millis(50)))
                .is_ok()
                && dae.recv_from(&mut buf).is_ok()
            {}
            dae.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        }
        got
    });
    assert_eq!(result, vec!["parsed", "refused"]);

    let text = fs::read_to_string(&detail).unwrap_or_else(|e| {
        panic!(
            "{}: {e}\n{}",
            detail.display(),
            fs::read_to_string(&log).unwrap_or_default()
        )
    });
    for want in [
        "Acct-Status-Type = Start",
        "Acct-Status-Type = Interim-Update",
        "Acct-Status-Type = Stop",
        "Acct-Input-Octets = 7",
        "Acct-Input-Gigawords = 5",
        "Acct-Output-Octets = 4242",
        "Acct-Session-Time = 61",
        "Acct-Terminate-Cause = User-Request",
        "Acct-Session-Id = \"vtid-1-0001\"",
        "Framed-IP-Address = 10.3.0.7",
        "Class = 0x676f6c64",
    ] {
        assert!(text.contains(want), "detail lacks {want:?}:\n{text}");
    }
    drop(fr);
}

fn tls_peer(certs: &Path, who: &str, server_name: &str) -> Peer {
    let read = |n: &str| fs::read(certs.join(n)).unwrap();
    let cfg = TlsPeerConfig::new(
        &[read("ca.der")],
        server_name,
        vec![read(&format!("{who}.der"))],
        PrivateKeyDer::Pkcs8(read(&format!("{who}.key.der")).into()),
    )
    .unwrap();
    Peer::new(
        who.as_bytes().to_vec(),
        EapSecret::password(b"unused"),
        vec![],
    )
    .with_tls(cfg)
}

/// EAP-TLS (RFC 5216) with FreeRADIUS as the server: our peer Naks
/// FreeRADIUS's default EAP-MD5, runs TLS 1.2 over EAP-TLS fragments
/// (the server's certificate flight is fragmented at 1024 octets), and
/// its MSK equals the one FreeRADIUS sends as MS-MPPE keys. A client
/// certificate of an untrusted CA is rejected by the server; a server
/// name that is not in the server's certificate is refused by our peer.
#[test]
fn eap_tls_with_freeradius() {
    let mut lab = Lab::new("freeradius-tls").unwrap();
    let (ns, fr) = start_freeradius(&mut lab);
    let certs = ns.workdir().join("raddb/certs");
    let log = fr.log_path().to_path_buf();
    in_ns(&ns, move || {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut c = RadiusClient::new(vec![server("fr", "127.0.0.1")], Timers::default());
        let o = run_peer(
            &mut c,
            &sock,
            "alice",
            tls_peer(&certs, "alice", "radius.example.org"),
            30,
        );
        assert!(
            o.accepted,
            "{:?}\n{}",
            o.peer,
            fs::read_to_string(&log).unwrap_or_default()
        );
        let PeerStep::Success {
            method: Method::Tls,
            msk: Some(msk),
        } = &o.peer
        else {
            panic!("peer: {:?}", o.peer)
        };
        let radius = o.info.unwrap().msk.expect("MS-MPPE keys");
        assert_eq!(msk.expose().len(), 64);
        assert_eq!(
            radius.expose(),
            msk.expose(),
            "MSK differs from FreeRADIUS's"
        );
        assert!(o.rounds >= 5, "{} rounds", o.rounds);

        // An untrusted client certificate: FreeRADIUS refuses it.
        let o = run_peer(
            &mut c,
            &sock,
            "mallory",
            tls_peer(&certs, "mallory", "radius.example.org"),
            30,
        );
        assert!(!o.accepted);
        assert!(matches!(o.peer, PeerStep::Failure(_)), "{:?}", o.peer);
        // The wrong server name: our peer refuses the server.
        let o = run_peer(
            &mut c,
            &sock,
            "alice",
            tls_peer(&certs, "alice", "vpn.example.org"),
            30,
        );
        assert!(!o.accepted);
        let PeerStep::Failure(why) = &o.peer else {
            panic!("{:?}", o.peer)
        };
        assert!(
            why.contains("TLS handshake with the server failed"),
            "{why}"
        );
    });
    drop(fr);
}

#[test]
fn forged_replies_are_dropped() {
    // Without a namespace: a reply that does not carry the server's
    // secret is never believed, whatever it says.
    let mut c = RadiusClient::new(vec![server("s", "127.0.0.1")], Timers::default());
    let mut p = Packet::new(code::ACCESS_REQUEST, 0);
    p.add(attr::USER_NAME, b"alice".to_vec());
    let h = c.send(Kind::Auth, p, Instant::now(), &mut OsRng);
    let t = c.poll_transmit().unwrap();
    let req = Packet::decode(&t.data).unwrap();
    let mut accept = Packet::new(code::ACCESS_ACCEPT, req.identifier);
    accept.add_eap_message(&[3, 0, 0, 4]);
    let forged = accept
        .seal_response(&req.authenticator, b"guessed", true)
        .unwrap();
    let from: SocketAddr = "127.0.0.1:1812".parse().unwrap();
    assert!(c.handle_datagram(from, &forged).is_err());
    // From another address, even with the right secret.
    let real = accept
        .seal_response(&req.authenticator, SECRET.as_bytes(), true)
        .unwrap();
    assert!(c
        .handle_datagram("127.0.0.1:1999".parse().unwrap(), &real)
        .is_err());
    let (got, _) = c.handle_datagram(from, &real).unwrap();
    assert_eq!(got, h);
    // A second copy is no longer a reply to anything.
    assert!(c.handle_datagram(from, &real).is_err());
}
