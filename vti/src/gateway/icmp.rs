//! ICMP/ICMPv6 echo sockets for the gateway monitor.
//!
//! **Raw sockets** (`SOCK_RAW`, `IPPROTO_ICMP`/`IPPROTO_ICMPV6`) first: vtid
//! runs as root (it configures interfaces and SAs), and unprivileged ping
//! sockets depend on `net.ipv4.ping_group_range`, which is `1 0` (nobody)
//! on most systems and per network namespace; a daemon should not widen a
//! system-wide sysctl to monitor its tunnels. When a raw socket is refused
//! (EPERM/EACCES: not root, no CAP_NET_RAW) a ping socket (`SOCK_DGRAM`) is
//! tried, which works where the group range allows it.
//!
//! Every socket is bound to the VTI (`SO_BINDTODEVICE` on Linux; see the
//! crate's `platform` module for FreeBSD) and, when the
//! interface has a transit address of the family, to that source address,
//! so probes leave through the tunnel from the transit address like
//! dpinger's (`-B`). No `unsafe`: nix wraps every call.
//!
//! A raw socket sees every ICMP packet of its namespace, so replies are
//! matched on the source, the identifier, and a per-socket token in the
//! payload.

use std::io;
use std::net::{IpAddr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};

use nix::errno::Errno;
use nix::sys::socket::{
    bind, recvfrom, sendto, socket, AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType,
    SockaddrIn, SockaddrIn6, SockaddrLike, SockaddrStorage,
};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

const ECHO_REQUEST_V4: u8 = 8;
const ECHO_REPLY_V4: u8 = 0;
const ECHO_REQUEST_V6: u8 = 128;
const ECHO_REPLY_V6: u8 = 129;
/// Payload: "vtidgw" + 2 spare bytes + an 8-byte per-socket token.
const MAGIC: &[u8; 8] = b"vtidgw\0\0";
const PAYLOAD_LEN: usize = 16;

/// Which kind of socket carries the probes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketKind {
    /// `SOCK_RAW`: we choose the identifier and (IPv4) the checksum.
    Raw,
    /// `SOCK_DGRAM` ping socket: the kernel sets identifier and checksum
    /// and delivers only our replies.
    Ping,
}

/// An echo socket towards one monitor address.
#[derive(Debug)]
pub struct EchoSocket {
    fd: AsyncFd<OwnedFd>,
    kind: SocketKind,
    target: IpAddr,
    ident: u16,
    token: [u8; 8],
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl EchoSocket {
    /// Opens a socket to probe `target` through `device` from `source`
    /// (which, when given, must be of `target`'s family). Needs a tokio
    /// runtime (the socket registers with its reactor).
    pub fn open(target: IpAddr, source: Option<IpAddr>, device: &str) -> io::Result<EchoSocket> {
        let (family, proto) = match target {
            IpAddr::V4(_) => (AddressFamily::Inet, SockProtocol::Icmp),
            IpAddr::V6(_) => (AddressFamily::Inet6, SockProtocol::IcmpV6),
        };
        let flags = SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC;
        let (fd, kind) = match socket(family, SockType::Raw, flags, proto) {
            Ok(fd) => (fd, SocketKind::Raw),
            Err(Errno::EPERM | Errno::EACCES) => (
                socket(family, SockType::Datagram, flags, proto)?,
                SocketKind::Ping,
            ),
            Err(e) => return Err(e.into()),
        };
        if !device.is_empty() {
            crate::platform::bind_to_device(&fd, device)?;
        }
        if let Some(src) = source {
            bind_to(&fd, src)?;
        } else if kind == SocketKind::Ping {
            // A ping socket gets its identifier when bound.
            bind_to(
                &fd,
                match target {
                    IpAddr::V4(_) => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
                    IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
                },
            )?;
        }
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let ident = (std::process::id() as u16) ^ (n as u16).rotate_left(8);
        let mut token = [0u8; 8];
        token[..4].copy_from_slice(&nanos.to_be_bytes());
        token[4..].copy_from_slice(&(n ^ std::process::id()).to_be_bytes());
        // tokio deprecates `with_interest` because a generic `T: AsRawFd`
        // may close its fd while registered; an `OwnedFd` that only the
        // `AsyncFd` holds cannot, so this use is sound (the non-deprecated
        // replacement is an `unsafe fn` with exactly that precondition).
        #[allow(deprecated)]
        let fd = AsyncFd::with_interest(fd, Interest::READABLE)?;
        Ok(EchoSocket {
            fd,
            kind,
            target,
            ident,
            token,
        })
    }

    /// The kind of socket in use.
    pub fn kind(&self) -> SocketKind {
        self.kind
    }

    /// Sends an echo request with sequence number `seq` (does not block).
    pub fn send(&self, seq: u16) -> io::Result<()> {
        let mut pkt = [0u8; 8 + PAYLOAD_LEN];
        pkt[0] = match self.target {
            IpAddr::V4(_) => ECHO_REQUEST_V4,
            IpAddr::V6(_) => ECHO_REQUEST_V6,
        };
        pkt[4..6].copy_from_slice(&self.ident.to_be_bytes());
        pkt[6..8].copy_from_slice(&seq.to_be_bytes());
        pkt[8..16].copy_from_slice(MAGIC);
        pkt[16..24].copy_from_slice(&self.token);
        // ICMPv6: the kernel always computes the checksum on raw and ping
        // sockets (RFC 3542 §3.1); ping sockets compute the ICMP one too.
        if self.kind == SocketKind::Raw && self.target.is_ipv4() {
            let c = checksum(&pkt);
            pkt[2..4].copy_from_slice(&c.to_be_bytes());
        }
        let fd = self.fd.get_ref().as_raw_fd();
        let n = match self.target {
            IpAddr::V4(a) => sendto(
                fd,
                &pkt,
                &SockaddrIn::from(SocketAddrV4::new(a, 0)),
                MsgFlags::empty(),
            )?,
            IpAddr::V6(a) => sendto(
                fd,
                &pkt,
                &SockaddrIn6::from(SocketAddrV6::new(a, 0, 0, 0)),
                MsgFlags::empty(),
            )?,
        };
        if n != pkt.len() {
            return Err(io::Error::other("short ICMP send"));
        }
        Ok(())
    }

    /// Waits for the next echo reply of ours and returns its sequence
    /// number; everything else on the socket is skipped.
    pub async fn recv(&self) -> io::Result<u16> {
        let mut buf = [0u8; 1500];
        loop {
            let mut guard = self.fd.readable().await?;
            let r = guard.try_io(|fd| {
                recvfrom::<SockaddrStorage>(fd.get_ref().as_raw_fd(), &mut buf)
                    .map_err(io::Error::from)
            });
            let (n, from) = match r {
                Ok(Ok(v)) => v,
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            };
            let from = from.and_then(|a| sockaddr_ip(&a));
            if from != Some(self.target) {
                continue;
            }
            if let Some(seq) = self.parse_reply(&buf[..n]) {
                return Ok(seq);
            }
        }
    }

    fn parse_reply(&self, pkt: &[u8]) -> Option<u16> {
        let icmp = match (self.target, self.kind) {
            // IPv4 raw sockets receive the IP header too.
            (IpAddr::V4(_), SocketKind::Raw) => {
                let ihl = usize::from(*pkt.first()? & 0x0f) * 4;
                if pkt.first()? >> 4 != 4 || ihl < 20 {
                    return None;
                }
                pkt.get(ihl..)?
            }
            _ => pkt,
        };
        let want = if self.target.is_ipv4() {
            ECHO_REPLY_V4
        } else {
            ECHO_REPLY_V6
        };
        if icmp.len() < 8 + PAYLOAD_LEN || icmp[0] != want || icmp[1] != 0 {
            return None;
        }
        // A ping socket's identifier is the kernel's; it filters for us.
        if self.kind == SocketKind::Raw && icmp[4..6] != self.ident.to_be_bytes() {
            return None;
        }
        if &icmp[8..16] != MAGIC || icmp[16..24] != self.token {
            return None;
        }
        Some(u16::from_be_bytes([icmp[6], icmp[7]]))
    }
}

fn bind_to(fd: &OwnedFd, addr: IpAddr) -> io::Result<()> {
    let raw = fd.as_raw_fd();
    match addr {
        IpAddr::V4(a) => bind(raw, &SockaddrIn::from(SocketAddrV4::new(a, 0)))?,
        IpAddr::V6(a) => bind(raw, &SockaddrIn6::from(SocketAddrV6::new(a, 0, 0, 0)))?,
    }
    Ok(())
}

fn sockaddr_ip(a: &SockaddrStorage) -> Option<IpAddr> {
    match a.family()? {
        AddressFamily::Inet => Some(SocketAddr::V4(SocketAddrV4::from(*a.as_sockaddr_in()?)).ip()),
        AddressFamily::Inet6 => {
            Some(SocketAddr::V6(SocketAddrV6::from(*a.as_sockaddr_in6()?)).ip())
        }
        _ => None,
    }
}

/// The Internet checksum (RFC 1071).
pub(crate) fn checksum(data: &[u8]) -> u16 {
    crate::checksum::checksum(data, 0)
}

#[cfg(test)]
mod tests {
    use super::checksum;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (one's
        // complement), so the checksum is !ddf2 = 220d.
        assert_eq!(
            checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            0x220d
        );
        // A packet with its checksum in place sums to zero.
        let mut p = [8u8, 0, 0, 0, 0x12, 0x34, 0, 1, b'x'];
        let c = checksum(&p);
        p[2..4].copy_from_slice(&c.to_be_bytes());
        assert_eq!(checksum(&p), 0);
    }
}
