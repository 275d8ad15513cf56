//! `ikeload`: an IKEv2 handshake load generator on `ike::engine::Endpoint`
//! (sans-I/O: one process, one socket pair, many IKE SAs).
//!
//! ```text
//! ikeload --target 192.0.2.2 --local 192.0.2.1 --count 1000 --inflight 16 \
//!         [--ike aes128gcm16-prfsha256-ecp256] [--esp aes128gcm16] \
//!         [--psk SECRET] [--remote-id sun.example.org] [--timeout 120] \
//!         [--hold-file PATH]
//! ```
//!
//! Connection `c<i>` has its own identity `c<i>.load.example` (so the
//! INITIAL_CONTACT every first IKE_AUTH carries never makes the responder
//! drop the others) and one CHILD SA 10.1.0.0/24 === 10.2.0.0/24. `K`
//! handshakes (IKE_SA_INIT + IKE_AUTH with the CHILD SA) are kept in flight
//! until `N` completed or failed. With `--hold-file` the SAs stay up
//! (`holding` is printed) until that file exists, then every IKE SA is
//! deleted. Output lines start with `ikeload:`; exit status 0 when every
//! handshake completed.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use ike::crypto::SecretBytes;
use ike::engine::{
    AddrMatch, ChildConfig, Datagram, Endpoint, EngineConfig, Event, PeerConfig, SharedKey, Ts,
    TsSpec,
};
use ike::proposal::{parse_esp_proposals, parse_ike_proposals};
use ike::wire::Identification;

struct Args {
    target: IpAddr,
    local: IpAddr,
    count: usize,
    inflight: usize,
    ike: String,
    esp: String,
    psk: String,
    remote_id: String,
    timeout: Duration,
    hold_file: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        target: "192.0.2.2".parse().unwrap(),
        local: "192.0.2.1".parse().unwrap(),
        count: 1000,
        inflight: 16,
        ike: "aes128gcm16-prfsha256-ecp256".into(),
        esp: "aes128gcm16".into(),
        psk: "vtid-bench-psk-not-secret".into(),
        remote_id: "sun.example.org".into(),
        timeout: Duration::from_secs(120),
        hold_file: None,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(k) = it.next() {
        let mut v = || it.next().cloned().ok_or(format!("{k} needs a value"));
        match k.as_str() {
            "--target" => a.target = v()?.parse().map_err(|e| format!("--target: {e}"))?,
            "--local" => a.local = v()?.parse().map_err(|e| format!("--local: {e}"))?,
            "--count" => a.count = v()?.parse().map_err(|e| format!("--count: {e}"))?,
            "--inflight" => a.inflight = v()?.parse().map_err(|e| format!("--inflight: {e}"))?,
            "--ike" => a.ike = v()?,
            "--esp" => a.esp = v()?,
            "--psk" => a.psk = v()?,
            "--remote-id" => a.remote_id = v()?,
            "--timeout" => {
                a.timeout =
                    Duration::from_secs(v()?.parse().map_err(|e| format!("--timeout: {e}"))?)
            }
            "--hold-file" => a.hold_file = Some(PathBuf::from(v()?)),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

/// What the receive threads hand over: (socket's local address, peer,
/// NAT-T socket, IKE message).
type Rx = (SocketAddr, SocketAddr, bool, Vec<u8>);

fn spawn_receiver(sock: UdpSocket, nat_t: bool, tx: mpsc::Sender<Rx>) {
    thread::spawn(move || {
        let local = sock.local_addr().expect("bound");
        let mut buf = vec![0u8; 65536];
        loop {
            let Ok((n, from)) = sock.recv_from(&mut buf) else {
                return;
            };
            let d = &buf[..n];
            let ike = if nat_t {
                // keepalives and ESP are not ours to handle
                match d.strip_prefix(&[0, 0, 0, 0]) {
                    Some(rest) => rest,
                    None => continue,
                }
            } else {
                d
            };
            if tx.send((local, from, nat_t, ike.to_vec())).is_err() {
                return;
            }
        }
    });
}

struct Load {
    ep: Endpoint,
    sock500: UdpSocket,
    sock4500: UdpSocket,
    rx: mpsc::Receiver<Rx>,
    established: usize,
    failed: usize,
    send_errors: usize,
}

impl Load {
    fn flush(&mut self) {
        while let Some(t) = self.ep.poll_transmit() {
            let r = if t.nat_t {
                let mut m = Vec::with_capacity(t.data.len() + 4);
                if t.data != [0xff] {
                    m.extend_from_slice(&[0, 0, 0, 0]);
                }
                m.extend_from_slice(&t.data);
                self.sock4500.send_to(&m, t.remote)
            } else {
                self.sock500.send_to(&t.data, t.remote)
            };
            if r.is_err() {
                self.send_errors += 1;
            }
        }
        // the data plane: nothing to install
        while self.ep.poll_action().is_some() {}
    }

    /// One step: waits for a datagram or the next timer (at most `max`).
    fn step(&mut self, max: Duration) -> Vec<Event> {
        self.flush();
        let now = Instant::now();
        let wait = self
            .ep
            .poll_timeout()
            .map_or(max, |t| t.saturating_duration_since(now).min(max));
        match self.rx.recv_timeout(wait) {
            Ok((local, remote, nat_t, data)) => {
                self.ep.handle_datagram(
                    Instant::now(),
                    Datagram {
                        local,
                        remote,
                        nat_t,
                        data: &data,
                    },
                );
                // take whatever else is queued before the next flush
                while let Ok((local, remote, nat_t, data)) = self.rx.try_recv() {
                    self.ep.handle_datagram(
                        Instant::now(),
                        Datagram {
                            local,
                            remote,
                            nat_t,
                            data: &data,
                        },
                    );
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => self.ep.handle_timeout(Instant::now()),
            Err(mpsc::RecvTimeoutError::Disconnected) => {}
        }
        self.flush();
        let mut ev = Vec::new();
        while let Some(e) = self.ep.poll_event() {
            ev.push(e);
        }
        ev
    }
}

fn main() {
    let a = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("ikeload: {e}");
            std::process::exit(2);
        }
    };
    let ike = parse_ike_proposals(&a.ike).expect("IKE proposal");
    let esp = parse_esp_proposals(&a.esp).expect("ESP proposal");
    let peers: Vec<PeerConfig> = (0..a.count)
        .map(|i| {
            let mut p = PeerConfig::new(
                &format!("c{i}"),
                Identification::Fqdn(format!("c{i}.load.example").into_bytes()),
                ike.clone(),
            );
            p.remote_addrs = vec![AddrMatch::Addr(a.target)];
            p.remote_id = Some(Identification::Fqdn(a.remote_id.clone().into_bytes()));
            let mut c = ChildConfig::new("net", esp.clone());
            c.local_ts = vec![TsSpec::Range(Ts::subnet("10.1.0.0".parse().unwrap(), 24))];
            c.remote_ts = vec![TsSpec::Range(Ts::subnet("10.2.0.0".parse().unwrap(), 24))];
            p.children = vec![c];
            p
        })
        .collect();
    let keys = vec![SharedKey {
        ids: vec![],
        secret: SecretBytes::from_slice(a.psk.as_bytes()),
    }];
    let cfg = EngineConfig {
        retransmit_timeout: Duration::from_secs(2),
        retransmit_tries: 3,
        ..EngineConfig::default()
    };
    let mut ep = Endpoint::new(cfg, Box::new(rand_core::OsRng));
    ep.set_local_addrs(Some(SocketAddr::new(a.local, 500)), None);
    ep.load(Instant::now(), peers, keys);
    let sock500 = UdpSocket::bind(SocketAddr::new(a.local, 500)).expect("bind port 500");
    let sock4500 = UdpSocket::bind(SocketAddr::new(a.local, 4500)).expect("bind port 4500");
    let (tx, rx) = mpsc::channel();
    spawn_receiver(sock500.try_clone().unwrap(), false, tx.clone());
    spawn_receiver(sock4500.try_clone().unwrap(), true, tx);
    let mut l = Load {
        ep,
        sock500,
        sock4500,
        rx,
        established: 0,
        failed: 0,
        send_errors: 0,
    };

    let start = Instant::now();
    let deadline = start + a.timeout;
    let mut next = 0usize;
    let mut active = 0usize;
    while l.established + l.failed < a.count && Instant::now() < deadline {
        while active < a.inflight && next < a.count {
            let name = format!("c{next}");
            if l.ep.initiate(Instant::now(), &name, Some("net")).is_err() {
                l.failed += 1;
            } else {
                active += 1;
            }
            next += 1;
        }
        let events = l.step(Duration::from_millis(200));
        let child_up: Vec<&str> = events
            .iter()
            .filter_map(|e| match e {
                Event::ChildUp { conn, .. } => Some(conn.as_str()),
                _ => None,
            })
            .collect();
        // an IKE SA up without its CHILD SA (refused in IKE_AUTH) failed
        let childless = events
            .iter()
            .filter(|e| matches!(e, Event::IkeUp(i) if !child_up.contains(&i.conn.as_str())))
            .count();
        l.failed += childless;
        active = active.saturating_sub(childless);
        for e in events {
            match e {
                Event::ChildUp { .. } => {
                    l.established += 1;
                    active -= 1;
                }
                Event::IkeDown { .. } => {
                    // a handshake that failed (established SAs are never
                    // deleted during the run)
                    l.failed += 1;
                    active = active.saturating_sub(1);
                }
                _ => {}
            }
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "ikeload: established={} failed={} elapsed={elapsed:.3}s rate={:.1}/s send_errors={}",
        l.established,
        l.failed,
        l.established as f64 / elapsed,
        l.send_errors
    );
    if let Some(f) = &a.hold_file {
        println!(
            "ikeload: holding {} IKE SAs until {} exists",
            l.ep.ike_sas().len(),
            f.display()
        );
        let until = Instant::now() + Duration::from_secs(600);
        while !f.exists() && Instant::now() < until {
            l.step(Duration::from_millis(100));
        }
    }
    l.ep.shutdown(Instant::now());
    let until = Instant::now() + Duration::from_secs(30);
    while !l.ep.ike_sas().is_empty() && Instant::now() < until {
        l.step(Duration::from_millis(100));
    }
    println!("ikeload: deleted, {} IKE SAs left", l.ep.ike_sas().len());
    std::process::exit(if l.established == a.count { 0 } else { 1 });
}
