//! The IKE sockets: UDP on the IKE port and the NAT-T port, IPv4 and IPv6.
//!
//! # Wildcard sockets with packet info
//!
//! vtid binds `0.0.0.0` and `::` (IPv6-only) on both ports and learns the
//! local address of every datagram from `IP_PKTINFO` / `IPV6_RECVPKTINFO`;
//! on send it puts our address back into an `IP_PKTINFO` / `IPV6_PKTINFO`
//! control message, so replies leave from the address the peer used. This
//! is what charon's socket-default plugin does, and it is the right fit for
//! a firewall: WAN addresses come and go (DHCP, CARP VIPs) without a
//! rebind, connections with `local_addrs = %any` work, and the engine still
//! sees the real local address (NAT detection hashes it and it picks the
//! connection by it). Binding per configured `local_addrs` instead would
//! need rebinding on every address and config change and cannot serve
//! `%any`. (IPv4 on FreeBSD: `IP_RECVDSTADDR`/`IP_SENDSRCADDR` instead of
//! `IP_PKTINFO`, chosen in [`crate::platform`].)
//!
//! On the NAT-T socket (RFC 3948 §2.2): four zero octets start an IKE
//! message (the marker is stripped), a single 0xFF is a NAT keepalive
//! (dropped), anything else is ESP-in-UDP for the data plane.
//!
//! # Two lanes to the engine
//!
//! Each socket has its own receive thread, so the kernel's queue is drained
//! while the engine task computes (a Diffie-Hellman of a large MODP group
//! takes milliseconds). What it reads goes to the engine task on one of two
//! bounded lanes ([`IkeQueue`], also used by the userspace data plane for
//! the IKE it receives on its NAT-T socket):
//!
//! - **init**: IKE_SA_INIT requests (RFC 7296 §1.2: exchange type 34, the
//!   R flag clear, responder SPI zero), which anybody can send from any
//!   address and which cost a key exchange; and datagrams too short to be
//!   an IKE header.
//! - **established**: everything else, i.e. messages for IKE SAs that
//!   exist (responses to our IKE_SA_INIT, IKE_AUTH, CREATE_CHILD_SA,
//!   INFORMATIONAL: DPD, rekeys, deletes), which the engine routes by SPI
//!   and drops cheaply when it knows none.
//!
//! The engine task always drains the established lane (and its timers and
//! control requests) before it takes the next IKE_SA_INIT, so a flood of
//! IKE_SA_INITs cannot delay DPD, rekeys or deletes by more than one
//! IKE_SA_INIT's work. When a lane is full its datagram is dropped and
//! counted; the init lane is the smaller one ([`INIT_LANE`]), so a flood
//! sheds IKE_SA_INITs, never messages of established SAs.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nix::sys::socket::{
    self, sockopt, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag,
    SockType, SockaddrIn, SockaddrIn6, SockaddrStorage,
};
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::dataplane::EspSink;

/// The non-ESP marker (RFC 3948 §2.2).
pub const NON_ESP_MARKER: [u8; 4] = [0; 4];

/// One bound UDP socket.
#[derive(Debug)]
pub struct Socket {
    sock: UdpSocket,
    /// The address it is bound to.
    pub bound: SocketAddr,
    /// Whether it is a NAT-T socket.
    pub nat_t: bool,
}

/// A received IKE datagram for the engine task.
#[derive(Debug)]
pub struct Inbound {
    /// Our address (from packet info) and port.
    pub local: SocketAddr,
    /// The sender.
    pub remote: SocketAddr,
    /// Whether it came on the NAT-T port (marker removed).
    pub nat_t: bool,
    /// The IKE message.
    pub data: Vec<u8>,
}

/// Receive-side counters.
#[derive(Debug, Default)]
pub struct NetStats {
    /// IKE datagrams handed to the engine.
    pub ike: AtomicU64,
    /// NAT keepalives received.
    pub keepalives: AtomicU64,
    /// ESP-in-UDP datagrams handed to the data plane.
    pub esp: AtomicU64,
    /// Datagrams too short to be anything (dropped).
    pub runts: AtomicU64,
    /// Datagrams for established IKE SAs dropped because their lane was
    /// full.
    pub overflow: AtomicU64,
    /// IKE_SA_INIT requests dropped because the init lane was full (a
    /// flood, or more new peers than the engine keeps up with).
    pub init_overflow: AtomicU64,
    /// Receive errors.
    pub errors: AtomicU64,
}

impl NetStats {
    /// One line for logs.
    pub fn summary(&self) -> String {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        format!(
            "ike={} keepalives={} esp={} runts={} overflow={} init_overflow={} recv_errors={}",
            g(&self.ike),
            g(&self.keepalives),
            g(&self.esp),
            g(&self.runts),
            g(&self.overflow),
            g(&self.init_overflow),
            g(&self.errors)
        )
    }
}

fn bind_udp(addr: SocketAddr) -> io::Result<std::net::UdpSocket> {
    let fam = if addr.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    };
    let fd = socket::socket(
        fam,
        SockType::Datagram,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    if addr.is_ipv4() {
        crate::platform::enable_v4_pktinfo(&fd)?;
    } else {
        socket::setsockopt(&fd, sockopt::Ipv6V6Only, &true)?;
        socket::setsockopt(&fd, sockopt::Ipv6RecvPacketInfo, &true)?;
    }
    socket::bind(fd.as_raw_fd(), &SockaddrStorage::from(addr))?;
    Ok(std::net::UdpSocket::from(fd))
}

fn to_std(a: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = a.as_sockaddr_in() {
        return Some(SocketAddr::V4(SocketAddrV4::from(*v4)));
    }
    a.as_sockaddr_in6()
        .map(|v6| SocketAddr::V6(SocketAddrV6::from(*v6)))
}

impl std::os::fd::AsFd for Socket {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

impl Socket {
    /// Binds `addr` with packet info enabled.
    pub fn bind(addr: SocketAddr, nat_t: bool) -> io::Result<Socket> {
        let std = bind_udp(addr)?;
        let bound = std.local_addr()?;
        Ok(Socket {
            sock: UdpSocket::from_std(std)?,
            bound,
            nat_t,
        })
    }

    /// Receives one datagram: (length, sender, our address).
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr, IpAddr)> {
        self.sock
            .async_io(Interest::READABLE, || self.recv_now(buf))
            .await
    }

    /// Receives one datagram if one is queued (`WouldBlock` otherwise):
    /// (length, sender, our address from packet info).
    fn recv_now(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr, IpAddr)> {
        let fd = self.sock.as_raw_fd();
        let mut iov = [IoSliceMut::new(buf)];
        let mut cmsg = nix::cmsg_space!(crate::platform::V4PktInfo, libc::in6_pktinfo);
        let msg =
            socket::recvmsg::<SockaddrStorage>(fd, &mut iov, Some(&mut cmsg), MsgFlags::empty())
                .map_err(io::Error::from)?;
        let mut local = self.bound.ip();
        for c in msg.cmsgs().map_err(io::Error::from)? {
            if let Some(a) = crate::platform::v4_local(&c) {
                local = IpAddr::V4(a);
            }
            if let ControlMessageOwned::Ipv6PacketInfo(pi) = c {
                local = IpAddr::V6(Ipv6Addr::from(pi.ipi6_addr.s6_addr));
            }
        }
        let from = msg
            .address
            .as_ref()
            .and_then(to_std)
            .ok_or_else(|| io::Error::other("datagram without a source address"))?;
        Ok((msg.bytes, from, local))
    }

    /// Receives one datagram from a plain thread, waiting up to `wait`
    /// (`Ok(None)` when nothing came). The socket stays non-blocking for
    /// the runtime's sends.
    fn recv_blocking(
        &self,
        buf: &mut [u8],
        wait: Duration,
    ) -> io::Result<Option<(usize, SocketAddr, IpAddr)>> {
        match self.recv_now(buf) {
            Ok(r) => return Ok(Some(r)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        let mut fds = [nix::poll::PollFd::new(
            self.sock.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let ms = u16::try_from(wait.as_millis()).unwrap_or(u16::MAX);
        match nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(ms)) {
            Ok(0) => Ok(None),
            Ok(_) => match self.recv_now(buf) {
                Ok(r) => Ok(Some(r)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
                Err(e) => Err(e),
            },
            Err(nix::errno::Errno::EINTR) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Sends `parts` (concatenated) to `to`, from our address `from` unless
    /// it is unspecified.
    pub async fn send(&self, parts: &[&[u8]], from: IpAddr, to: SocketAddr) -> io::Result<()> {
        let fd = self.sock.as_raw_fd();
        self.sock
            .async_io(Interest::WRITABLE, || {
                let iov: Vec<IoSlice<'_>> = parts.iter().map(|p| IoSlice::new(p)).collect();
                let r = match (from, to) {
                    (IpAddr::V4(src), SocketAddr::V4(dst)) => {
                        let pi = crate::platform::V4Src::new(src);
                        let cm = [pi.cmsg()];
                        let cmsgs: &[ControlMessage<'_>] =
                            if src.is_unspecified() { &[] } else { &cm };
                        socket::sendmsg(
                            fd,
                            &iov,
                            cmsgs,
                            MsgFlags::empty(),
                            Some(&SockaddrIn::from(dst)),
                        )
                    }
                    (IpAddr::V6(src), SocketAddr::V6(dst)) => {
                        let pi = libc::in6_pktinfo {
                            ipi6_addr: libc::in6_addr {
                                s6_addr: src.octets(),
                            },
                            ipi6_ifindex: 0,
                        };
                        let cm = [ControlMessage::Ipv6PacketInfo(&pi)];
                        let cmsgs: &[ControlMessage<'_>] =
                            if src.is_unspecified() { &[] } else { &cm };
                        socket::sendmsg(
                            fd,
                            &iov,
                            cmsgs,
                            MsgFlags::empty(),
                            Some(&SockaddrIn6::from(dst)),
                        )
                    }
                    _ => {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidInput,
                            format!("address families differ: from {from} to {to}"),
                        ))
                    }
                };
                r.map(|_| ()).map_err(io::Error::from)
            })
            .await
    }
}

/// The daemon's sockets.
#[derive(Debug, Default)]
pub struct Sockets {
    /// Every bound socket.
    pub list: Vec<Arc<Socket>>,
}

impl Sockets {
    /// Binds the IKE and NAT-T ports on `0.0.0.0` and `::`. IPv4 must work;
    /// IPv6 failing (no IPv6 on the host) is a warning.
    /// With `port_nat_t` `None` only the IKE port is bound (the data plane
    /// owns the NAT-T port).
    pub fn bind(port: u16, port_nat_t: Option<u16>) -> io::Result<Sockets> {
        let mut list = Vec::new();
        let ports: Vec<(u16, bool)> = std::iter::once((port, false))
            .chain(port_nat_t.map(|p| (p, true)))
            .collect();
        for (p, nat_t) in ports {
            let v4 = SocketAddr::from((Ipv4Addr::UNSPECIFIED, p));
            list.push(Arc::new(Socket::bind(v4, nat_t).map_err(|e| {
                io::Error::new(e.kind(), format!("cannot bind UDP {v4}: {e}"))
            })?));
            let v6 = SocketAddr::from((Ipv6Addr::UNSPECIFIED, p));
            match Socket::bind(v6, nat_t) {
                Ok(s) => list.push(Arc::new(s)),
                Err(e) => {
                    warn!(target: "vtid::net", "cannot bind UDP {v6}: {e}; IKE over IPv6 disabled on port {p}")
                }
            }
        }
        Ok(Sockets { list })
    }

    /// The socket to send from: by family of `to` and NAT-T or not.
    pub fn pick(&self, to: SocketAddr, nat_t: bool) -> Option<&Arc<Socket>> {
        self.list
            .iter()
            .find(|s| s.nat_t == nat_t && s.bound.is_ipv4() == to.is_ipv4())
    }

    /// Starts a receive thread per socket: IKE goes to `ike` (by lane),
    /// ESP-in-UDP to `esp`. A thread each, not a task: the engine task
    /// shares the runtime's thread and may compute for milliseconds, and
    /// the kernel's queue must be drained meanwhile (or it overflows and
    /// drops DPD and deletes with the flood).
    pub fn spawn_receivers(
        &self,
        ike: IkeQueue,
        esp: Arc<dyn EspSink>,
    ) -> io::Result<Vec<std::thread::JoinHandle<()>>> {
        self.list
            .iter()
            .map(|s| {
                let s = s.clone();
                let (ike, esp) = (ike.clone(), esp.clone());
                std::thread::Builder::new()
                    .name(format!("vtid-rx-{}", s.bound.port()))
                    .spawn(move || receive_loop(&s, &ike, &*esp))
            })
            .collect()
    }
}

/// Capacity of the established lane (datagrams).
pub const ESTABLISHED_LANE: usize = 1024;
/// Capacity of the init lane (datagrams). Small: an IKE_SA_INIT that waits
/// behind more than this many others is answered too late to matter (the
/// initiator retransmits), and every one queued costs a key exchange.
pub const INIT_LANE: usize = 128;

/// Which lane a datagram takes to the engine task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    /// Messages of IKE SAs that exist (or claim to: the engine checks).
    Established,
    /// IKE_SA_INIT requests, and datagrams too short for an IKE header.
    Init,
}

/// The lane of an IKE message (without the non-ESP marker): IKE_SA_INIT
/// requests, those with exchange type 34, the Response flag clear and a
/// zero responder SPI (RFC 7296 §3.1, §1.2), take the init lane.
pub fn lane_of(msg: &[u8]) -> Lane {
    // SPIi (8) SPIr (8) next payload, version, exchange type, flags,
    // message ID (4), length (4).
    const IKE_SA_INIT: u8 = 34;
    const RESPONSE: u8 = 0x20;
    let (Some(spi_r), Some(&exchange), Some(&flags)) = (msg.get(8..16), msg.get(18), msg.get(19))
    else {
        return Lane::Init;
    };
    if msg.len() < 28 {
        return Lane::Init;
    }
    if exchange == IKE_SA_INIT && flags & RESPONSE == 0 && spi_r.iter().all(|&b| b == 0) {
        Lane::Init
    } else {
        Lane::Established
    }
}

/// The sending side of the two lanes to the engine task: the sockets'
/// receive threads and the userspace data plane's NAT-T path push into
/// it. Cheap to clone; never blocks.
#[derive(Clone, Debug)]
pub struct IkeQueue {
    established: mpsc::Sender<Inbound>,
    init: mpsc::Sender<Inbound>,
    stats: Arc<NetStats>,
}

/// The engine task's side of the lanes.
#[derive(Debug)]
pub struct IkeLanes {
    /// Messages of established IKE SAs: always served first.
    pub established: mpsc::Receiver<Inbound>,
    /// IKE_SA_INIT requests: served when nothing else waits.
    pub init: mpsc::Receiver<Inbound>,
}

/// What [`IkeQueue::push`] did with a datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pushed {
    /// Queued on its lane.
    Queued(Lane),
    /// Dropped: its lane was full (counted).
    Dropped(Lane),
    /// The engine task is gone.
    Closed,
}

impl IkeQueue {
    /// Two lanes of [`ESTABLISHED_LANE`] and [`INIT_LANE`] datagrams,
    /// counting into `stats`.
    pub fn new(stats: Arc<NetStats>) -> (IkeQueue, IkeLanes) {
        Self::with_capacity(stats, ESTABLISHED_LANE, INIT_LANE)
    }

    /// Two lanes of the given capacities.
    pub fn with_capacity(
        stats: Arc<NetStats>,
        established: usize,
        init: usize,
    ) -> (IkeQueue, IkeLanes) {
        let (etx, erx) = mpsc::channel(established.max(1));
        let (itx, irx) = mpsc::channel(init.max(1));
        (
            IkeQueue {
                established: etx,
                init: itx,
                stats,
            },
            IkeLanes {
                established: erx,
                init: irx,
            },
        )
    }

    /// Queues one IKE message on its lane; drops it (counted) when the
    /// lane is full.
    pub fn push(&self, msg: Inbound) -> Pushed {
        self.stats.ike.fetch_add(1, Ordering::Relaxed);
        let lane = lane_of(&msg.data);
        let (tx, drops) = match lane {
            Lane::Established => (&self.established, &self.stats.overflow),
            Lane::Init => (&self.init, &self.stats.init_overflow),
        };
        match tx.try_send(msg) {
            Ok(()) => Pushed::Queued(lane),
            Err(mpsc::error::TrySendError::Full(_)) => {
                drops.fetch_add(1, Ordering::Relaxed);
                Pushed::Dropped(lane)
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Pushed::Closed,
        }
    }

    /// The counters it adds to.
    pub fn stats(&self) -> &Arc<NetStats> {
        &self.stats
    }

    /// Whether the engine task is gone.
    pub fn is_closed(&self) -> bool {
        self.established.is_closed()
    }
}

/// What a datagram on a socket is.
#[derive(Debug, PartialEq, Eq)]
pub enum Classified<'a> {
    /// IKE (marker removed on NAT-T).
    Ike(&'a [u8]),
    /// NAT keepalive.
    Keepalive,
    /// ESP in UDP.
    Esp(&'a [u8]),
    /// Too short to be anything.
    Runt,
}

/// Classifies a datagram (RFC 3948 §2.2).
pub fn classify(data: &[u8], nat_t: bool) -> Classified<'_> {
    if !nat_t {
        return Classified::Ike(data);
    }
    if data == [0xff] {
        return Classified::Keepalive;
    }
    if data.len() < 4 {
        return Classified::Runt;
    }
    if data[..4] == NON_ESP_MARKER {
        Classified::Ike(&data[4..])
    } else {
        Classified::Esp(data)
    }
}

fn receive_loop(s: &Socket, ike: &IkeQueue, esp: &dyn EspSink) {
    let stats = ike.stats().clone();
    let mut buf = vec![0u8; 65536];
    let mut errors = 0u64;
    loop {
        let (n, remote, local_ip) = match s.recv_blocking(&mut buf, Duration::from_millis(500)) {
            Ok(Some(r)) => r,
            Ok(None) => {
                if ike.is_closed() {
                    return;
                }
                continue;
            }
            Err(e) => {
                stats.errors.fetch_add(1, Ordering::Relaxed);
                errors += 1;
                // ICMP errors reported on the socket and the like: logged
                // at debug, except a persistent failure, once in a while.
                if errors % 10_000 == 1 {
                    info!(target: "vtid::net", "receive on {}: {e} ({errors} receive errors so far)", s.bound);
                } else {
                    debug!(target: "vtid::net", "receive on {}: {e}", s.bound);
                }
                if !matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionRefused | io::ErrorKind::Interrupted
                ) {
                    // Do not spin on an error that does not go away.
                    std::thread::sleep(Duration::from_millis(1));
                }
                continue;
            }
        };
        let local = SocketAddr::new(local_ip, s.bound.port());
        match classify(&buf[..n], s.nat_t) {
            Classified::Ike(d) => {
                let msg = Inbound {
                    local,
                    remote,
                    nat_t: s.nat_t,
                    data: d.to_vec(),
                };
                if ike.push(msg) == Pushed::Closed {
                    return;
                }
            }
            Classified::Keepalive => {
                stats.keepalives.fetch_add(1, Ordering::Relaxed);
            }
            Classified::Esp(d) => {
                stats.esp.fetch_add(1, Ordering::Relaxed);
                esp.esp_in(local, remote, d);
            }
            Classified::Runt => {
                stats.runts.fetch_add(1, Ordering::Relaxed);
                debug!(target: "vtid::net", %remote, "dropping a {n}-byte datagram on the NAT-T port");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_nat_t() {
        assert_eq!(classify(&[0xff], true), Classified::Keepalive);
        assert_eq!(
            classify(&[0, 0, 0, 0, 1, 2], true),
            Classified::Ike(&[1, 2])
        );
        assert_eq!(classify(&[0, 0, 1], true), Classified::Runt);
        assert_eq!(
            classify(&[1, 2, 3, 4, 5], true),
            Classified::Esp(&[1, 2, 3, 4, 5])
        );
        assert_eq!(classify(&[0xff], false), Classified::Ike(&[0xff]));
    }

    /// An IKE header (RFC 7296 §3.1) with the given SPIs, exchange and
    /// flags, and `extra` bytes of body.
    fn header(spi_i: u8, spi_r: u8, exchange: u8, flags: u8, extra: usize) -> Vec<u8> {
        let mut h = vec![spi_i; 8];
        h.extend_from_slice(&[spi_r; 8]);
        h.extend_from_slice(&[33, 0x20, exchange, flags, 0, 0, 0, 0]);
        h.extend_from_slice(&(28 + extra as u32).to_be_bytes());
        h.resize(28 + extra, 0);
        h
    }

    #[test]
    fn only_ike_sa_init_requests_take_the_init_lane() {
        // IKE_SA_INIT request (I flag), also with a COOKIE round.
        assert_eq!(lane_of(&header(1, 0, 34, 0x08, 100)), Lane::Init);
        // Its response, and everything with a responder SPI.
        assert_eq!(lane_of(&header(1, 2, 34, 0x20, 100)), Lane::Established);
        assert_eq!(lane_of(&header(1, 2, 34, 0x08, 100)), Lane::Established);
        // IKE_AUTH, CREATE_CHILD_SA, INFORMATIONAL both ways.
        for ex in [35, 36, 37] {
            for flags in [0x08, 0x20, 0x00, 0x28] {
                assert_eq!(lane_of(&header(1, 2, ex, flags, 60)), Lane::Established);
            }
        }
        // A response flagged IKE_SA_INIT with a zero SPIr (error notify
        // to our initiation) is for an SA of ours.
        assert_eq!(lane_of(&header(1, 0, 34, 0x20, 40)), Lane::Established);
        // Too short for a header.
        assert_eq!(lane_of(&[0; 27]), Lane::Init);
        assert_eq!(lane_of(&[]), Lane::Init);
    }

    fn inbound(data: Vec<u8>) -> Inbound {
        Inbound {
            local: "192.0.2.1:500".parse().unwrap(),
            remote: "198.51.100.7:500".parse().unwrap(),
            nat_t: false,
            data,
        }
    }

    #[tokio::test]
    async fn a_full_init_lane_never_drops_established_messages() {
        let stats = Arc::new(NetStats::default());
        let (q, mut lanes) = IkeQueue::with_capacity(stats.clone(), 8, 4);
        // A flood: far more IKE_SA_INITs than the init lane holds ...
        for _ in 0..100 {
            q.push(inbound(header(9, 0, 34, 0x08, 200)));
        }
        // ... does not keep DPD (INFORMATIONAL) out.
        for _ in 0..8 {
            assert_eq!(
                q.push(inbound(header(1, 2, 37, 0x08, 40))),
                Pushed::Queued(Lane::Established)
            );
        }
        assert_eq!(
            q.push(inbound(header(1, 2, 37, 0x08, 40))),
            Pushed::Dropped(Lane::Established)
        );
        assert_eq!(stats.init_overflow.load(Ordering::Relaxed), 96);
        assert_eq!(stats.overflow.load(Ordering::Relaxed), 1);
        assert_eq!(stats.ike.load(Ordering::Relaxed), 109);
        assert_eq!(lanes.established.len(), 8);
        assert_eq!(lanes.init.len(), 4);
        lanes.init.close();
        drop(lanes);
        assert_eq!(q.push(inbound(header(1, 2, 37, 0x08, 40))), Pushed::Closed);
    }

    #[test]
    fn receive_thread_drains_the_socket_while_nobody_polls_the_lanes() {
        // The engine task busy (nobody receives from the lanes): the
        // receive thread keeps reading, sheds IKE_SA_INITs beyond the init
        // lane and still queues the established SA's message that comes
        // after them.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _g = rt.enter();
        let sockets = Sockets {
            list: vec![Arc::new(
                Socket::bind("127.0.0.1:0".parse().unwrap(), false).unwrap(),
            )],
        };
        let to = sockets.list[0].bound;
        let stats = Arc::new(NetStats::default());
        let (q, mut lanes) = IkeQueue::with_capacity(stats.clone(), 16, 4);
        #[derive(Debug)]
        struct NoEsp;
        impl EspSink for NoEsp {
            fn esp_in(&self, _: SocketAddr, _: SocketAddr, _: &[u8]) {}
        }
        sockets.spawn_receivers(q, Arc::new(NoEsp)).unwrap();
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        // Few enough for the kernel's default receive buffer.
        for _ in 0..60 {
            tx.send_to(&header(9, 0, 34, 0x08, 300), to).unwrap();
        }
        tx.send_to(&header(1, 2, 37, 0x08, 40), to).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while stats.ike.load(Ordering::Relaxed) < 61 {
            assert!(
                std::time::Instant::now() < deadline,
                "receive thread stalled: {}",
                stats.summary()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(lanes.init.len(), 4);
        assert_eq!(stats.init_overflow.load(Ordering::Relaxed), 56);
        let m = lanes.established.try_recv().expect("the INFORMATIONAL");
        assert_eq!(lane_of(&m.data), Lane::Established);
    }

    #[tokio::test]
    async fn pktinfo_round_trip_on_loopback() {
        let a = Socket::bind("0.0.0.0:0".parse().unwrap(), false).unwrap();
        let b = Socket::bind("0.0.0.0:0".parse().unwrap(), false).unwrap();
        let to = SocketAddr::from(([127, 0, 0, 1], b.bound.port()));
        a.send(&[b"he", b"llo"], "127.0.0.1".parse().unwrap(), to)
            .await
            .unwrap();
        let mut buf = [0u8; 64];
        let (n, from, local) = b.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"hello");
        assert_eq!(from, SocketAddr::from(([127, 0, 0, 1], a.bound.port())));
        assert_eq!(local, "127.0.0.1".parse::<IpAddr>().unwrap());
    }
}
