//! A bounded flood of bogus IKE_SA_INIT requests from spoofed IPv4
//! sources (raw socket, `IP_HDRINCL`), for the flood test against vtid and
//! `interop/bench-flood` against vtid and charon (binary `ikeflood`).
//!
//! Each request offers one proposal (encryption, PRF, integrity and one KE
//! method from a list that mixes MODP, ECP and Curve25519 groups) and a KE
//! payload of a group and a length drawn from a [`Mix`]: the right length
//! with random bytes (a MODP value in range, a random ECP point that is not
//! on the curve, a Curve25519 value that is valid), one byte, one byte too
//! many, or the group the proposal does not name. Every source address is
//! drawn from a prefix and every source port at random, so per-address
//! limits never trigger; nothing is ever answered.
//!
//! Replies are counted when the spoofed prefix is routed locally in the
//! flooding namespace (`ip route add local PREFIX dev lo`): a raw UDP
//! socket sees them, and each is classified by its first notify (COOKIE,
//! INVALID_KE_PAYLOAD, NO_PROPOSAL_CHOSEN, INVALID_SYNTAX, other) or as a
//! full IKE_SA_INIT response (an SA payload: the responder did the key
//! exchange).
//!
//! Every flood is bounded by a count and a duration; the caller picks
//! addresses inside namespaces it made.

use std::fs;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use ike::proposal::parse_ike_proposals;
use ike::wire::{
    DhGroup, ExchangeType, Flags, Header, KePayload, Message, NoncePayload, NotifyType, Payload,
    PayloadBody, PayloadType, SaPayload,
};
use nix::sys::socket::{
    self, AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType, SockaddrIn,
};

/// What kind of requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mix {
    /// Only requests with a KE of the right group and length (random
    /// bytes): each costs a key generation and, unless the value is
    /// refused, a Diffie-Hellman.
    Valid,
    /// Every variant: right length, one byte, one byte too many, the
    /// other group, an empty KE.
    Any,
}

/// One flood.
#[derive(Clone, Debug)]
pub struct Spec {
    /// The responder (UDP port 500 or 4500; at 4500 the non-ESP marker is
    /// added).
    pub target: SocketAddrV4,
    /// Source addresses are drawn from this prefix.
    pub spoof: (Ipv4Addr, u8),
    /// Requests per second (0: as fast as the socket takes them).
    pub rate: u32,
    /// Stop after this long.
    pub duration: Duration,
    /// Stop after this many requests.
    pub count: u64,
    /// Seed of the (deterministic) choices.
    pub seed: u64,
    /// What to send.
    pub mix: Mix,
    /// The proposals to draw from (swanctl syntax, one KE method each).
    pub proposals: Vec<String>,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            target: SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 500),
            spoof: (Ipv4Addr::new(203, 0, 113, 0), 24),
            rate: 2000,
            duration: Duration::from_secs(10),
            count: 100_000,
            seed: 1,
            mix: Mix::Any,
            proposals: DEFAULT_PROPOSALS.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// Groups of every family, MODP-4096 included (in vtid's and strongSwan's
/// default proposals).
pub const DEFAULT_PROPOSALS: &[&str] = &[
    "aes128gcm16-prfsha256-modp4096",
    "aes256-sha256-modp3072",
    "aes128gcm16-prfsha256-ecp256",
    "aes256gcm16-prfsha384-ecp384",
    "chacha20poly1305-prfsha256-x25519",
    "aes256-sha256-modp2048",
];

/// What a flood did and what came back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Requests sent.
    pub sent: u64,
    /// Sends that failed.
    pub send_errors: u64,
    /// Replies seen (from the target's port).
    pub replies: u64,
    /// Replies with a COOKIE notify.
    pub cookies: u64,
    /// Replies with INVALID_KE_PAYLOAD.
    pub invalid_ke: u64,
    /// Replies with NO_PROPOSAL_CHOSEN.
    pub no_proposal: u64,
    /// Replies with INVALID_SYNTAX.
    pub invalid_syntax: u64,
    /// Full IKE_SA_INIT responses (the responder did the key exchange).
    pub sa: u64,
    /// Anything else.
    pub other: u64,
    /// How long it ran.
    pub elapsed: Duration,
}

impl Report {
    /// One line: `sent=N replies=N cookie=N ...`.
    pub fn line(&self) -> String {
        format!(
            "sent={} send_errors={} replies={} cookie={} invalid_ke={} no_proposal={} invalid_syntax={} sa={} other={} seconds={:.1}",
            self.sent,
            self.send_errors,
            self.replies,
            self.cookies,
            self.invalid_ke,
            self.no_proposal,
            self.invalid_syntax,
            self.sa,
            self.other,
            self.elapsed.as_secs_f64()
        )
    }
}

/// xorshift64*: deterministic choices, no dependency.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeded (0 is replaced).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    /// The next 64 bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A value below `n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }
}

/// The public value length of a group (RFC 7296 §3.4, RFC 5903 §7,
/// RFC 8031 §2), `None` for groups this tool does not offer.
pub fn ke_len(g: DhGroup) -> Option<usize> {
    Some(match g {
        DhGroup::MODP2048 => 256,
        DhGroup::MODP3072 => 384,
        DhGroup::MODP4096 => 512,
        DhGroup::ECP256 => 64,
        DhGroup::ECP384 => 96,
        DhGroup::CURVE25519 => 32,
        _ => return None,
    })
}

/// One bogus IKE_SA_INIT request (without IP/UDP headers).
pub fn request(rng: &mut Rng, proposals: &[(ike::wire::Proposal, DhGroup)], mix: Mix) -> Vec<u8> {
    let (mut prop, group) = proposals[rng.below(proposals.len() as u64) as usize].clone();
    prop.num = 1;
    let len = ke_len(group).unwrap_or(256);
    let (ke_group, ke_data) = match mix {
        Mix::Valid => (group, valid_value(rng, group, len)),
        Mix::Any => match rng.below(5) {
            0 | 1 => (group, valid_value(rng, group, len)),
            2 => (group, rng.bytes(1)),
            3 => (group, rng.bytes(len + 1)),
            _ => {
                // The KE of another group than the proposal's.
                let other = proposals[rng.below(proposals.len() as u64) as usize].1;
                let l = ke_len(other).unwrap_or(32);
                (other, rng.bytes(l))
            }
        },
    };
    let mut spi_i = [0u8; 8];
    spi_i.copy_from_slice(&rng.bytes(8));
    if spi_i == [0; 8] {
        spi_i[0] = 1;
    }
    let header = Header {
        spi_i,
        spi_r: [0; 8],
        next_payload: PayloadType::NONE,
        major: Header::IKEV2_MAJOR,
        minor: 0,
        exchange: ExchangeType::IKE_SA_INIT,
        flags: Flags {
            initiator: true,
            version: false,
            response: false,
            reserved: 0,
        },
        message_id: 0,
        length: 0,
    };
    Message::new(
        header,
        vec![
            Payload::new(PayloadBody::Sa(SaPayload {
                proposals: vec![prop],
            })),
            Payload::new(PayloadBody::Ke(KePayload {
                group: ke_group,
                data: ke_data,
            })),
            Payload::new(PayloadBody::Nonce(NoncePayload {
                data: rng.bytes(32),
            })),
        ],
    )
    .emit()
}

/// A value of the right length: for MODP below the prime (whose top bits
/// are all ones) and above 1 (RFC 6989 §2.1), random otherwise.
fn valid_value(rng: &mut Rng, group: DhGroup, len: usize) -> Vec<u8> {
    let mut v = rng.bytes(len);
    if matches!(
        group,
        DhGroup::MODP2048 | DhGroup::MODP3072 | DhGroup::MODP4096
    ) {
        if let Some(b) = v.first_mut() {
            *b &= 0x7f;
            *b |= 0x01;
        }
    }
    v
}

/// The proposals of a spec with their KE method.
pub fn parse_proposals(list: &[String]) -> Result<Vec<(ike::wire::Proposal, DhGroup)>, String> {
    let mut v = Vec::new();
    for s in list {
        for p in parse_ike_proposals(s).map_err(|e| format!("{s}: {e}"))? {
            let g = p
                .transforms
                .iter()
                .find(|t| t.ty == ike::wire::TransformType::KE)
                .map(|t| DhGroup(t.id))
                .ok_or_else(|| format!("{s}: no KE method"))?;
            v.push((p, g));
        }
    }
    if v.is_empty() {
        return Err("no proposals".into());
    }
    Ok(v)
}

/// The raw sockets of a flood: one to send (IP_HDRINCL), one to count
/// replies. Made in the current network namespace, or in `netns` (a
/// `/run/netns/NAME` path) by a helper thread.
#[derive(Debug)]
pub struct Sockets {
    send: OwnedFd,
    recv: OwnedFd,
}

impl Sockets {
    /// Raw sockets in this namespace.
    pub fn here() -> Result<Sockets, String> {
        let send = socket::socket(
            AddressFamily::Inet,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::Raw,
        )
        .map_err(|e| format!("raw socket (IPPROTO_RAW): {e}; needs root"))?;
        let recv = socket::socket(
            AddressFamily::Inet,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::Udp,
        )
        .map_err(|e| format!("raw socket (IPPROTO_UDP): {e}"))?;
        let tv = nix::sys::time::TimeVal::new(0, 100_000);
        socket::setsockopt(&recv, socket::sockopt::ReceiveTimeout, &tv)
            .map_err(|e| format!("SO_RCVTIMEO: {e}"))?;
        // Large enough not to lose the replies to a burst.
        let _ = socket::setsockopt(&recv, socket::sockopt::RcvBuf, &(4 << 20));
        Ok(Sockets { send, recv })
    }

    /// Raw sockets in the named network namespace.
    pub fn in_netns(name: &str) -> Result<Sockets, String> {
        let path = format!("/run/netns/{name}");
        thread::spawn(move || -> Result<Sockets, String> {
            let f = fs::File::open(&path).map_err(|e| format!("{path}: {e}"))?;
            crate::netns::enter(&f).map_err(|e| format!("setns {path}: {e}"))?;
            Sockets::here()
        })
        .join()
        .map_err(|_| "setns thread panicked".to_string())?
    }
}

/// An IPv4 + UDP datagram around `payload` (checksums: the kernel fills
/// the IP header's; UDP's is optional over IPv4, RFC 768, and left zero).
pub fn udp4(src: SocketAddrV4, dst: SocketAddrV4, payload: &[u8]) -> Vec<u8> {
    let total = 28 + payload.len();
    let mut p = Vec::with_capacity(total);
    p.extend_from_slice(&[0x45, 0]);
    p.extend_from_slice(&(total as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0]);
    p.extend_from_slice(&src.ip().octets());
    p.extend_from_slice(&dst.ip().octets());
    p.extend_from_slice(&src.port().to_be_bytes());
    p.extend_from_slice(&dst.port().to_be_bytes());
    p.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(payload);
    p
}

/// Counts one reply (an IPv4 packet as a raw socket returns it) from
/// `from`.
fn count_reply(pkt: &[u8], from: SocketAddrV4, r: &mut Report) {
    let Some(&vihl) = pkt.first() else { return };
    let ihl = usize::from(vihl & 0x0f) * 4;
    let (Some(src), Some(udp)) = (pkt.get(12..16), pkt.get(ihl..ihl + 8)) else {
        return;
    };
    if src != from.ip().octets() || u16::from_be_bytes([udp[0], udp[1]]) != from.port() {
        return;
    }
    let mut ike = &pkt[ihl + 8..];
    if from.port() != 500 {
        match ike.strip_prefix(&[0u8, 0, 0, 0][..]) {
            Some(rest) => ike = rest,
            None => return,
        }
    }
    r.replies += 1;
    let Ok(m) = Message::parse(ike) else {
        r.other += 1;
        return;
    };
    if m.payloads
        .iter()
        .any(|p| matches!(p.body, PayloadBody::Sa(_)))
    {
        r.sa += 1;
        return;
    }
    let first = m.payloads.iter().find_map(|p| match &p.body {
        PayloadBody::Notify(n) => Some(n.ty),
        _ => None,
    });
    match first {
        Some(t) if t == NotifyType::COOKIE => r.cookies += 1,
        Some(t) if t == NotifyType::INVALID_KE_PAYLOAD => r.invalid_ke += 1,
        Some(t) if t == NotifyType::NO_PROPOSAL_CHOSEN => r.no_proposal += 1,
        Some(t) if t == NotifyType::INVALID_SYNTAX => r.invalid_syntax += 1,
        _ => r.other += 1,
    }
}

/// Runs one flood to its end (count or duration), then waits `linger` for
/// late replies.
pub fn run(spec: &Spec, sockets: &Sockets, linger: Duration) -> Result<Report, String> {
    let proposals = parse_proposals(&spec.proposals)?;
    let done = Arc::new(AtomicBool::new(false));
    let sent_total = Arc::new(AtomicU64::new(0));
    let recv_fd = sockets.recv.try_clone().map_err(|e| format!("dup: {e}"))?;
    let target = spec.target;
    let counter = {
        let done = done.clone();
        thread::spawn(move || {
            let mut r = Report::default();
            let mut buf = vec![0u8; 65536];
            let mut stop_at: Option<Instant> = None;
            loop {
                if done.load(Ordering::Relaxed) {
                    let t = *stop_at.get_or_insert_with(|| Instant::now() + linger);
                    if Instant::now() >= t {
                        return r;
                    }
                }
                match socket::recv(recv_fd.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                    Ok(n) => count_reply(&buf[..n], target, &mut r),
                    Err(_) => continue,
                }
            }
        })
    };
    let mut rng = Rng::new(spec.seed);
    let (net, plen) = spec.spoof;
    let host_bits = 32 - u32::from(plen.min(32));
    let base = u32::from(net) & !(u32::MAX.checked_shr(u32::from(plen.min(32))).unwrap_or(0));
    let dst = SockaddrIn::from(spec.target);
    let start = Instant::now();
    let mut report = Report::default();
    let nat_t = spec.target.port() != 500;
    while report.sent + report.send_errors < spec.count && start.elapsed() < spec.duration {
        // Pace: where the rate says we should be by now.
        if spec.rate > 0 {
            let due = (start.elapsed().as_secs_f64() * f64::from(spec.rate)) as u64;
            if report.sent + report.send_errors >= due {
                thread::sleep(Duration::from_micros(500));
                continue;
            }
        }
        let host = if host_bits == 0 {
            0
        } else {
            // Neither the network nor the broadcast address.
            let span = (1u64 << host_bits).saturating_sub(2).max(1);
            1 + rng.below(span) as u32
        };
        let src = SocketAddrV4::new(Ipv4Addr::from(base | host), 1024 + rng.below(64_000) as u16);
        let mut ike = request(&mut rng, &proposals, spec.mix);
        if nat_t {
            ike.splice(0..0, [0u8; 4]);
        }
        let pkt = udp4(src, spec.target, &ike);
        match socket::sendto(sockets.send.as_raw_fd(), &pkt, &dst, MsgFlags::empty()) {
            Ok(_) => report.sent += 1,
            Err(_) => report.send_errors += 1,
        }
        sent_total.store(report.sent, Ordering::Relaxed);
    }
    report.elapsed = start.elapsed();
    done.store(true, Ordering::Relaxed);
    let got = counter
        .join()
        .map_err(|_| "reply counter panicked".to_string())?;
    Ok(Report {
        sent: report.sent,
        send_errors: report.send_errors,
        elapsed: report.elapsed,
        ..got
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_and_mix_groups_and_lengths() {
        let props = parse_proposals(
            &DEFAULT_PROPOSALS
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>(),
        )
        .unwrap();
        let mut rng = Rng::new(7);
        let mut lens = std::collections::BTreeSet::new();
        let mut groups = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let m = Message::parse(&request(&mut rng, &props, Mix::Any)).unwrap();
            assert_eq!(m.header.exchange, ExchangeType::IKE_SA_INIT);
            assert!(m.header.flags.initiator && !m.header.flags.response);
            let ke = m
                .payloads
                .iter()
                .find_map(|p| match &p.body {
                    PayloadBody::Ke(k) => Some(k.clone()),
                    _ => None,
                })
                .unwrap();
            lens.insert(ke.data.len());
            groups.insert(ke.group.0);
        }
        assert!(groups.len() >= 5, "{groups:?}");
        assert!(lens.contains(&1) && lens.contains(&512) && lens.contains(&513));
        for _ in 0..50 {
            let m = Message::parse(&request(&mut rng, &props, Mix::Valid)).unwrap();
            let ke = m
                .payloads
                .iter()
                .find_map(|p| match &p.body {
                    PayloadBody::Ke(k) => Some(k.clone()),
                    _ => None,
                })
                .unwrap();
            assert_eq!(Some(ke.data.len()), ke_len(ke.group));
        }
    }

    #[test]
    fn udp_header_and_reply_classification() {
        let from = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 500);
        let to = SocketAddrV4::new(Ipv4Addr::new(203, 0, 113, 9), 40000);
        let mut h = Header {
            spi_i: [1; 8],
            spi_r: [0; 8],
            next_payload: PayloadType::NONE,
            major: Header::IKEV2_MAJOR,
            minor: 0,
            exchange: ExchangeType::IKE_SA_INIT,
            flags: Flags {
                initiator: false,
                version: false,
                response: true,
                reserved: 0,
            },
            message_id: 0,
            length: 0,
        };
        h.flags.response = true;
        let cookie = Message::new(
            h,
            vec![Payload::new(PayloadBody::Notify(
                ike::wire::NotifyPayload::new(NotifyType::COOKIE, vec![9; 20]),
            ))],
        )
        .emit();
        let pkt = udp4(from, to, &cookie);
        assert_eq!(pkt.len(), 28 + cookie.len());
        let mut r = Report::default();
        count_reply(&pkt, from, &mut r);
        // From another address: not counted.
        count_reply(
            &udp4(
                SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 9), 500),
                to,
                &cookie,
            ),
            from,
            &mut r,
        );
        assert_eq!((r.replies, r.cookies), (1, 1));
    }
}
