//! Bad and slow clients harm only themselves; every wait is bounded.

mod common;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::time::timeout;
use vici::{Client, ClientError, Message, Packet, ServerConfig, MAX_PACKET_SIZE};

async fn raw(path: &Path) -> UnixStream {
    timeout(WAIT, UnixStream::connect(path))
        .await
        .unwrap()
        .unwrap()
}

async fn client(path: &Path) -> Client {
    timeout(WAIT, Client::connect(path)).await.unwrap().unwrap()
}

/// A well-behaved client still gets its version.
async fn assert_alive(path: &Path) {
    let mut c = client(path).await;
    let r = timeout(WAIT, c.request("version", &Message::new()))
        .await
        .expect("version timed out")
        .unwrap();
    assert_eq!(r.str("daemon"), Some("vtid"));
}

/// Reads until the server closes; returns what it sent.
async fn read_until_closed(s: &mut UnixStream) -> Vec<u8> {
    let mut buf = Vec::new();
    timeout(WAIT, s.read_to_end(&mut buf))
        .await
        .expect("server did not close the connection")
        .unwrap_or_default();
    buf
}

fn frame(packet: &[u8]) -> Vec<u8> {
    let mut f = (packet.len() as u32).to_be_bytes().to_vec();
    f.extend_from_slice(packet);
    f
}

/// Reads one packet.
async fn read_packet(s: &mut UnixStream) -> Packet {
    let mut len = [0u8; 4];
    timeout(WAIT, s.read_exact(&mut len))
        .await
        .unwrap()
        .unwrap();
    let mut body = vec![0; u32::from_be_bytes(len) as usize];
    timeout(WAIT, s.read_exact(&mut body))
        .await
        .unwrap()
        .unwrap();
    Packet::parse(&body).unwrap()
}

#[tokio::test]
async fn oversized_length_prefix_closes() {
    let srv = start("oversized").await;
    let mut bad = raw(&srv.path).await;
    bad.write_all(&((MAX_PACKET_SIZE as u32 + 1).to_be_bytes()))
        .await
        .unwrap();
    bad.write_all(&[0, 7]).await.unwrap();
    assert!(read_until_closed(&mut bad).await.is_empty());
    let mut bad = raw(&srv.path).await;
    bad.write_all(&u32::MAX.to_be_bytes()).await.unwrap();
    assert!(read_until_closed(&mut bad).await.is_empty());
    assert_alive(&srv.path).await;
}

/// A request of exactly 512 KiB is fine.
#[tokio::test]
async fn maximum_size_request_is_served() {
    let srv = start("maxsize").await;
    let head = [&[0u8, 4][..], b"echo"].concat();
    let mut packet = head.clone();
    let mut i = 0;
    while packet.len() < MAX_PACKET_SIZE {
        let name = format!("{i:05}");
        let overhead = 1 + 1 + name.len() + 2;
        let room = MAX_PACKET_SIZE - packet.len();
        // Leave either nothing or enough for one more element.
        let mut len = (room - overhead).min(60_000);
        let after = room - overhead - len;
        if after > 0 && after <= overhead {
            len -= overhead + 1;
        }
        packet.push(3);
        packet.push(name.len() as u8);
        packet.extend_from_slice(name.as_bytes());
        packet.extend_from_slice(&(len as u16).to_be_bytes());
        packet.extend(std::iter::repeat_n(b'x', len));
        i += 1;
    }
    assert_eq!(packet.len(), MAX_PACKET_SIZE);
    let mut s = raw(&srv.path).await;
    s.write_all(&frame(&packet)).await.unwrap();
    match read_packet(&mut s).await {
        Packet::CmdResponse(m) => assert_eq!(m.str("items"), Some(i.to_string().as_str())),
        p => panic!("{p:?}"),
    }
}

#[tokio::test]
async fn truncated_packets_close() {
    let srv = start("truncated").await;
    // Ends inside the packet.
    let mut bad = raw(&srv.path).await;
    bad.write_all(&100u32.to_be_bytes()).await.unwrap();
    bad.write_all(&[0, 7, b'v', b'e']).await.unwrap();
    bad.shutdown().await.unwrap();
    assert!(read_until_closed(&mut bad).await.is_empty());
    // Stalls inside the packet (and inside the length prefix): closed
    // after the packet timeout, while others are served meanwhile.
    let mut stall = raw(&srv.path).await;
    stall.write_all(&100u32.to_be_bytes()).await.unwrap();
    stall.write_all(&[0, 7, b'v']).await.unwrap();
    let mut stall2 = raw(&srv.path).await;
    stall2.write_all(&[0, 0]).await.unwrap();
    assert_alive(&srv.path).await;
    assert!(read_until_closed(&mut stall).await.is_empty());
    assert!(read_until_closed(&mut stall2).await.is_empty());
    // A truncated message inside a complete packet gets an error reply.
    let mut s = raw(&srv.path).await;
    s.write_all(&frame(&[
        0, 4, b'e', b'c', b'h', b'o', 3, 1, b'k', 0, 9, b'x',
    ]))
    .await
    .unwrap();
    match read_packet(&mut s).await {
        Packet::CmdResponse(m) => {
            assert_eq!(m.str("success"), Some("no"));
            assert!(m.str("errmsg").unwrap().contains("truncated"), "{m:?}");
        }
        p => panic!("{p:?}"),
    }
    assert_alive(&srv.path).await;
}

#[tokio::test]
async fn mistyped_elements_get_error_replies() {
    let srv = start("mistyped").await;
    let mut s = raw(&srv.path).await;
    let cases: &[(&[u8], &str)] = &[
        (&[5, 0, 1, b'x'], "LIST_ITEM outside a list"),
        (&[6], "LIST_END outside a list"),
        (&[2], "SECTION_END without open section"),
        (&[1, 1, b's'], "section(s) not closed"),
        (
            &[4, 1, b'l', 3, 1, b'k', 0, 0, 6],
            "element type 3 inside a list",
        ),
        (&[9], "unknown element type 9"),
        (&[3, 0, 0, 0], "empty name"),
    ];
    for (body, why) in cases {
        let mut packet = vec![0, 4];
        packet.extend_from_slice(b"echo");
        packet.extend_from_slice(body);
        s.write_all(&frame(&packet)).await.unwrap();
        match read_packet(&mut s).await {
            Packet::CmdResponse(m) => {
                assert_eq!(m.str("success"), Some("no"));
                let err = m.str("errmsg").unwrap();
                assert!(err.contains(why), "{err} vs {why}");
            }
            p => panic!("{p:?}"),
        }
    }
    // The same connection still works.
    s.write_all(&frame(b"\0\x07version")).await.unwrap();
    assert!(
        matches!(read_packet(&mut s).await, Packet::CmdResponse(m) if m.str("daemon") == Some("vtid"))
    );
    assert_alive(&srv.path).await;
}

#[tokio::test]
async fn bad_packet_types_close() {
    let srv = start("packet-types").await;
    for packet in [
        &[][..],                      // empty packet
        &[8],                         // unknown type
        &[0xff, 1, 2],                // unknown type
        &[1],                         // CMD_RESPONSE from a client
        &[5],                         // EVENT_CONFIRM from a client
        &[7, 3, b'l', b'o', b'g'],    // EVENT from a client
        &[0, 9, b'a'],                // name runs past the end
        &[3, 3, b'l', b'o', b'g', 0], // trailing byte after a registration
        &[3, 1, 0xff],                // name not UTF-8
    ] {
        let mut s = raw(&srv.path).await;
        s.write_all(&frame(packet)).await.unwrap();
        assert!(read_until_closed(&mut s).await.is_empty(), "{packet:?}");
    }
    assert_alive(&srv.path).await;
}

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[tokio::test]
async fn random_bytes_never_hurt_others() {
    let srv = start("random").await;
    let mut rng = Rng(0x5eed_1234_abcd_9876);
    let mut good = client(&srv.path).await;
    for round in 0..200 {
        let mut s = raw(&srv.path).await;
        let len = (rng.next() % 64) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if round % 2 == 0 && len > 0 {
            // A plausible length prefix so the packet layer is reached.
            let body = (rng.next() % 40) as usize;
            bytes = frame(&bytes[..body.min(len)]);
            // Mostly small types and lengths, to get past the first checks.
            if bytes.len() > 4 {
                bytes[4] %= 8;
            }
        }
        s.write_all(&bytes).await.unwrap_or_default();
        let _ = s.shutdown().await;
        read_until_closed(&mut s).await;
        if round % 20 == 0 {
            let r = timeout(WAIT, good.request("version", &Message::new()))
                .await
                .expect("good client starved")
                .unwrap();
            assert_eq!(r.str("daemon"), Some("vtid"));
        }
    }
    assert_alive(&srv.path).await;
}

#[tokio::test]
async fn unknown_command_and_event() {
    let srv = start("unknown").await;
    let mut c = client(&srv.path).await;
    let r = timeout(WAIT, c.request("no-such-command", &Message::new()))
        .await
        .unwrap();
    assert!(matches!(r, Err(ClientError::UnknownCommand(n)) if n == "no-such-command"));
    let r = timeout(WAIT, c.register("no-such-event")).await.unwrap();
    assert!(matches!(r, Err(ClientError::UnknownEvent(_))));
    timeout(WAIT, c.register("ike-updown"))
        .await
        .unwrap()
        .unwrap();
    timeout(WAIT, c.unregister("ike-updown"))
        .await
        .unwrap()
        .unwrap();
    // And at the packet level: CMD_UNKNOWN, EVENT_UNKNOWN.
    let mut s = raw(&srv.path).await;
    s.write_all(&frame(b"\0\x04nope")).await.unwrap();
    assert_eq!(read_packet(&mut s).await, Packet::CmdUnknown);
    s.write_all(&frame(b"\x03\x04nope")).await.unwrap();
    assert_eq!(read_packet(&mut s).await, Packet::EventUnknown);
    s.write_all(&frame(b"\x03\x03log")).await.unwrap();
    assert_eq!(read_packet(&mut s).await, Packet::EventConfirm);
}

/// Streaming with our own client, and broadcasts to registered clients
/// only.
#[tokio::test]
async fn streaming_and_broadcast() {
    let srv = start("stream").await;
    let mut c = client(&srv.path).await;
    // Not registered: the command's stream is not sent (as in charon).
    let mut got = Vec::new();
    let r = timeout(
        WAIT,
        c.request_streaming(
            "initiate",
            &Message::new().with_value("child", "net"),
            |n, m| got.push((n.to_owned(), m)),
        ),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(r.str("success"), Some("yes"));
    assert!(got.is_empty());
    timeout(WAIT, c.register("control-log"))
        .await
        .unwrap()
        .unwrap();
    let r = timeout(
        WAIT,
        c.request_streaming(
            "initiate",
            &Message::new().with_value("child", "net"),
            |n, m| got.push((n.to_owned(), m)),
        ),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(r.str("success"), Some("yes"));
    let msgs: Vec<&str> = got.iter().map(|(_, m)| m.str("msg").unwrap()).collect();
    let want: Vec<&str> = INITIATE_LOG.iter().map(|(_, m)| *m).collect();
    assert_eq!(msgs, want);
    assert!(got.iter().all(|(n, _)| n == "control-log"));

    // Broadcast: only the registered client gets it.
    let mut other = client(&srv.path).await;
    timeout(WAIT, c.register("ike-updown"))
        .await
        .unwrap()
        .unwrap();
    let ev = Message::new()
        .with_value("up", "yes")
        .with_section("gw", Message::new().with_value("state", "ESTABLISHED"));
    assert_eq!(srv.broadcaster.raise("ike-updown", &ev).unwrap(), 1);
    let (name, m) = timeout(WAIT, c.next_event()).await.unwrap().unwrap();
    assert_eq!((name.as_str(), &m), ("ike-updown", &ev));
    // An event arriving during a request is queued for next_event.
    assert_eq!(srv.broadcaster.raise("ike-updown", &ev).unwrap(), 1);
    let r = timeout(WAIT, c.request("version", &Message::new()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.str("daemon"), Some("vtid"));
    let (name, _) = timeout(WAIT, c.next_event()).await.unwrap().unwrap();
    assert_eq!(name, "ike-updown");
    let r = timeout(WAIT, other.request("version", &Message::new()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.str("daemon"), Some("vtid"));
}

/// A client that floods requests and never reads is dropped; another client
/// keeps getting answers throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_that_never_reads_does_not_block_others() {
    let srv = start("flood").await;
    let mut flood = raw(&srv.path).await;
    let request = frame(b"\0\x07version");
    let flooding = tokio::spawn(async move {
        let many: Vec<u8> = request.repeat(1000);
        // Write until the server stops reading from us or drops us.
        for _ in 0..1000 {
            match timeout(Duration::from_secs(5), flood.write_all(&many)).await {
                Ok(Ok(())) => {}
                _ => break,
            }
        }
        flood
    });
    for _ in 0..20 {
        assert_alive(&srv.path).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut flood = timeout(WAIT * 2, flooding).await.unwrap().unwrap();
    // The server dropped the flooder: reading ends (after what was sent).
    let mut sink = vec![0u8; 1 << 16];
    let closed = timeout(WAIT, async {
        loop {
            match flood.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "flooding client was not dropped");
    assert_alive(&srv.path).await;
}

/// Broadcasts to a registered client that does not read: dropped once its
/// queue overflows, while a reading client gets every event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_overflow_drops_only_the_slow_client() {
    let srv = start_with(
        "overflow",
        ServerConfig {
            queue_len: 8,
            ..test_config()
        },
    )
    .await;
    let mut slow = client(&srv.path).await;
    timeout(WAIT, slow.register("log")).await.unwrap().unwrap();
    let mut fast = client(&srv.path).await;
    timeout(WAIT, fast.register("log")).await.unwrap().unwrap();
    assert_eq!(srv.broadcaster.registered("log"), 2);
    let ev = Message::new()
        .with_value("group", "IKE")
        .with_value("level", "1")
        .with_value("msg", "x".repeat(1000));
    let mut sent = 0;
    for _ in 0..2000 {
        for _ in 0..4 {
            srv.broadcaster.raise("log", &ev).unwrap();
            sent += 1;
        }
        for _ in 0..4 {
            let (name, _) = timeout(WAIT, fast.next_event()).await.unwrap().unwrap();
            assert_eq!(name, "log");
        }
        if srv.broadcaster.registered("log") == 1 {
            break;
        }
    }
    assert_eq!(
        srv.broadcaster.registered("log"),
        1,
        "slow client not dropped after {sent} events"
    );
    // The fast one still works, and so does everyone else.
    let r = timeout(WAIT, fast.request("version", &Message::new()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.str("daemon"), Some("vtid"));
    assert_alive(&srv.path).await;
    drop(slow);
}

/// A command that never finishes is cancelled when its client leaves, and
/// blocks nobody else.
#[tokio::test]
async fn hanging_command_blocks_only_its_client() {
    let srv = start("hang").await;
    let mut c = client(&srv.path).await;
    let r = timeout(
        Duration::from_millis(300),
        c.request("hang", &Message::new()),
    )
    .await;
    assert!(r.is_err());
    assert_alive(&srv.path).await;
    assert_eq!(srv.handler.cancelled.load(Ordering::SeqCst), 0);
    drop(c);
    timeout(WAIT, async {
        while srv.handler.cancelled.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("command of a departed client not cancelled");
    assert_alive(&srv.path).await;
}

#[tokio::test]
async fn too_many_clients_are_refused() {
    let srv = start_with(
        "max-clients",
        ServerConfig {
            max_clients: 2,
            ..test_config()
        },
    )
    .await;
    let mut a = client(&srv.path).await;
    let mut b = client(&srv.path).await;
    for c in [&mut a, &mut b] {
        timeout(WAIT, c.request("version", &Message::new()))
            .await
            .unwrap()
            .unwrap();
    }
    let mut third = raw(&srv.path).await;
    assert!(read_until_closed(&mut third).await.is_empty());
    drop(a);
    // A slot frees up once a client leaves.
    let ok = timeout(WAIT, async {
        loop {
            let mut c = client(&srv.path).await;
            if let Ok(r) = c.request("version", &Message::new()).await {
                break r;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    assert_eq!(ok.str("daemon"), Some("vtid"));
}

#[tokio::test]
async fn bind_refuses_live_socket_and_replaces_stale_one() {
    let srv = start("bind").await;
    let e = vici::Server::bind_default(&srv.path).await.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse);
    // A stale socket (nobody listening) is replaced.
    let dir = TempDir::new("bind-stale");
    let path = dir.join("stale.vici");
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    let server = vici::Server::bind_default(&path).await.unwrap();
    let task = tokio::spawn(server.serve(DemoHandler::default()));
    assert_alive(&path).await;
    task.abort();
    // A regular file is never replaced.
    let file = dir.join("file");
    std::fs::write(&file, b"keep").unwrap();
    let e = vici::Server::bind_default(&file).await.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
    assert_eq!(std::fs::read(&file).unwrap(), b"keep");
    // No temporary directories are left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().starts_with(".vici-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test]
async fn shutdown_removes_socket() {
    let dir = TempDir::new("shutdown");
    let path = dir.join("s.vici");
    let server = vici::Server::bind_default(&path).await.unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.serve_until(DemoHandler::default(), async {
        let _ = rx.await;
    }));
    assert_alive(&path).await;
    tx.send(()).unwrap();
    timeout(WAIT, task).await.unwrap().unwrap().unwrap();
    assert!(!path.exists());
}
