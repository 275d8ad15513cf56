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

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use nix::sys::socket::{
    self, sockopt, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag,
    SockType, SockaddrIn, SockaddrIn6, SockaddrStorage,
};
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::{debug, warn};

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
    /// Datagrams dropped because the engine task was busy.
    pub overflow: AtomicU64,
    /// Receive errors.
    pub errors: AtomicU64,
}

impl NetStats {
    /// One line for logs.
    pub fn summary(&self) -> String {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        format!(
            "ike={} keepalives={} esp={} runts={} overflow={} recv_errors={}",
            g(&self.ike),
            g(&self.keepalives),
            g(&self.esp),
            g(&self.runts),
            g(&self.overflow),
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
        let fd = self.sock.as_raw_fd();
        let fallback = self.bound.ip();
        self.sock
            .async_io(Interest::READABLE, || {
                let mut iov = [IoSliceMut::new(&mut *buf)];
                let mut cmsg = nix::cmsg_space!(crate::platform::V4PktInfo, libc::in6_pktinfo);
                let msg = socket::recvmsg::<SockaddrStorage>(
                    fd,
                    &mut iov,
                    Some(&mut cmsg),
                    MsgFlags::empty(),
                )
                .map_err(io::Error::from)?;
                let mut local = fallback;
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
            })
            .await
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

    /// Starts a receive task per socket: IKE goes to `ike`, ESP-in-UDP to
    /// `esp`.
    pub fn spawn_receivers(
        &self,
        ike: mpsc::Sender<Inbound>,
        esp: Arc<dyn EspSink>,
        stats: Arc<NetStats>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        self.list
            .iter()
            .map(|s| {
                let s = s.clone();
                let (ike, esp, stats) = (ike.clone(), esp.clone(), stats.clone());
                tokio::spawn(async move { receive_loop(s, ike, esp, stats).await })
            })
            .collect()
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

async fn receive_loop(
    s: Arc<Socket>,
    ike: mpsc::Sender<Inbound>,
    esp: Arc<dyn EspSink>,
    stats: Arc<NetStats>,
) {
    let mut buf = vec![0u8; 65536];
    loop {
        let (n, remote, local_ip) = match s.recv(&mut buf).await {
            Ok(r) => r,
            Err(e) => {
                stats.errors.fetch_add(1, Ordering::Relaxed);
                debug!(target: "vtid::net", "receive on {}: {e}", s.bound);
                // Errors like ICMP unreachable reports; do not spin.
                tokio::task::yield_now().await;
                continue;
            }
        };
        let local = SocketAddr::new(local_ip, s.bound.port());
        match classify(&buf[..n], s.nat_t) {
            Classified::Ike(d) => {
                stats.ike.fetch_add(1, Ordering::Relaxed);
                let msg = Inbound {
                    local,
                    remote,
                    nat_t: s.nat_t,
                    data: d.to_vec(),
                };
                match ike.try_send(msg) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        stats.overflow.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => return,
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
