//! The userspace ESP data plane: SA tables and the packet path between
//! the TUN interfaces and the ESP sockets.
//!
//! # How the daemon drives it
//!
//! ```text
//! let dp = Dataplane::start(cfg, sink)?;   // in the daemon's netns
//! // IKE on 4500: the data plane owns the socket; IKE datagrams (marker
//! // stripped) arrive through `sink` as DataplaneEvent::Ike, the daemon
//! // sends IKE on 4500 with dp.send_ike_nat_t(Some(local), remote, msg).
//! // Its port-500 sockets get the bypass mark: vti::dataplane::mark_socket.
//! // The daemon converts the engine's actions once into backend-neutral
//! // `pfkey::backend::SaOp`s (ChildSpec installs), as for the kernels:
//! dp.apply(&SaOp::Install { spec, outbound_active: true })?;
//! // DataplaneEvent::Expired{spi_in, hard} -> endpoint.child_expired(now, spi_in, hard)
//! // DataplaneEvent::Activity{spi_in, at}  -> endpoint.child_activity(at, spi_in)
//! ```
//!
//! # Threads
//!
//! Two packet threads with blocking-style I/O (poll + non-blocking drain),
//! fixed buffers, no allocation per packet:
//! - `vti-out`: reads the TUNs, picks the SA, seals, sends (UDP/4500 or
//!   raw ESP);
//! - `vti-in`: receives on UDP/4500 and raw ESP, opens, checks the traffic
//!   selectors, writes into the TUN of the SA's reqid.
//!
//! The outbound and inbound tables have one mutex each, so the two
//! directions never wait on each other's crypto; control operations
//! (`apply`) take both briefly.
//!
//! # Bypass (own traffic never enters a TUN)
//!
//! Every data-plane socket carries `SO_MARK = mark`; [`mark_socket`] does
//! the same for the daemon's sockets. Routes vtid installs live in a
//! dedicated table `table`, and three rules per family decide:
//!
//! ```text
//! prio P    fwmark M/M       lookup main                       (own packets: underlay only)
//! prio P+1  not fwmark M/M   lookup main suppress_prefixlength 0 (specific main routes first)
//! prio P+2  not fwmark M/M   lookup T                          (then the tunnel routes)
//!                            (main's default route after that, prio 32766)
//! ```
//!
//! So a `0.0.0.0/0`/`::/0` route into a TUN (in T) never catches the
//! marked ESP/IKE packets, and LAN/underlay routes in main keep working.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{self, sockopt, SockaddrIn, SockaddrIn6};
use pfkey::backend::{Auth, ChildSpec, Cipher, SaOp, TsRange};

use crate::esp::overhead::{max_inner_len, OuterFamily};
use crate::esp::selector::{flow_allowed, Flow, TrafficSelector};
use crate::esp::udp::{classify, UdpPayload, NON_ESP_MARKER};
use crate::esp::{
    self, ConfigError, Counters, Encryption, InboundSa, Integrity, Lifetime, OutboundSa, SaEvent,
    SaKeys, SaOptions, Suite, HEADROOM, TAILROOM,
};
use crate::icmp::{build_error, IcmpError};
use crate::iface::{Prefix, Tun, TunSpec, DEFAULT_SHARED_NAME};
use crate::netlink::{Netlink, RouteSpec, RuleSpec};
use crate::offload::{complete_checksum, Coalescer, Segmenter, VnetHdr, VNET_HDR_LEN};
use crate::{mss, sys};

mod outbound;

/// Largest IP packet.
const MAX_PACKET: usize = 65535;
/// Packets drained from one fd before polling again.
const BATCH: usize = 64;
/// How often a thread looks at the stop flag.
const POLL_MS: u16 = 100;
/// Activity is reported at most this often per SA.
const ACTIVITY_EVERY: Duration = Duration::from_secs(1);
/// ICMP errors per second per data plane.
const ICMP_PER_SEC: u32 = 100;

/// Settings of the data plane.
#[derive(Debug, Clone)]
pub struct DataplaneConfig {
    /// The routed interfaces (`ipsecN`).
    pub interfaces: Vec<config::Interface>,
    /// Name of the shared TUN for policy-based children; `None`: none
    /// (children whose reqid names no interface are then refused).
    pub shared_tun: Option<String>,
    /// MTU of the shared TUN.
    pub shared_mtu: u32,
    /// Route the remote selectors of policy-based SAs into the shared TUN
    /// (strongSwan's `charon.install_routes`, default yes). With `false`
    /// the operator routes that traffic; routed interfaces' own routes are
    /// installed either way.
    pub install_routes: bool,
    /// Firewall mark of vtid's own packets (SO_MARK).
    pub mark: u32,
    /// Routing table for the routes vtid installs.
    pub table: u32,
    /// Priority of the first of the three bypass rules.
    pub rule_priority: u32,
    /// Interface group of the TUNs (for firewall rules).
    pub ifgroup: u32,
    /// Path MTU towards peers; `None`: ask the kernel (the underlay
    /// route's MTU, learned PMTU included) when an SA is installed.
    pub path_mtu: Option<u32>,
    /// NAT-T port to bind (4500); 0: no ESP-in-UDP socket.
    pub nat_t_port: u16,
    /// Bind the NAT-T port on IPv4.
    pub nat_t_v4: bool,
    /// Bind the NAT-T port on IPv6.
    pub nat_t_v6: bool,
    /// Open raw ESP (IP protocol 50) sockets for SAs without UDP
    /// encapsulation.
    pub plain_esp: bool,
    /// Packet threads per direction (0: one per CPU, at most
    /// [`MAX_AUTO_THREADS`]). Outbound, each interface is read by one
    /// thread (interface i by thread i mod n, never more threads than
    /// interfaces); inbound, each thread has its own NAT-T socket per
    /// family and the kernel spreads peers over them (SO_REUSEPORT hashes
    /// the peer's address and port), so the packets of one SA, and so of
    /// every flow in it, stay on one thread and in order.
    pub threads: usize,
    /// Open the TUNs with IFF_VNET_HDR and TSO/USO/checksum offloads:
    /// large TCP/UDP segments are read whole and split here, inbound TCP
    /// segments of a flow are coalesced into one write (see
    /// [`crate::offload`]).
    pub offload: bool,
    /// The most routes (remote prefixes) one policy-based CHILD SA may get
    /// into the shared TUN (`vtid.max_policies_per_child`); a child whose
    /// remote selectors split into more is refused at install, before any
    /// of it is installed: a peer's ranges can split into thousands of
    /// prefixes.
    pub max_routes_per_child: usize,
}

impl Default for DataplaneConfig {
    fn default() -> Self {
        DataplaneConfig {
            interfaces: Vec::new(),
            shared_tun: Some(DEFAULT_SHARED_NAME.to_owned()),
            shared_mtu: config::DEFAULT_MTU,
            install_routes: true,
            mark: 0x7674,
            table: 0x7674,
            rule_priority: 100,
            ifgroup: 0x7674,
            path_mtu: None,
            nat_t_port: esp::udp::NAT_T_PORT,
            nat_t_v4: true,
            nat_t_v6: true,
            plain_esp: true,
            offload: true,
            threads: 0,
            max_routes_per_child: 1024,
        }
    }
}

/// What the data plane reports to the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataplaneEvent {
    /// An IKE message arrived on the NAT-T socket (non-ESP marker removed):
    /// hand it to `Endpoint::handle_datagram` with `nat_t: true`.
    Ike {
        /// Our address it was sent to.
        local: SocketAddr,
        /// The sender.
        remote: SocketAddr,
        /// The IKE message.
        data: Vec<u8>,
    },
    /// A volume limit (soft: rekey; hard: the SA stopped) or the sequence
    /// number space ran out: `Endpoint::child_expired(now, spi_in, hard)`.
    Expired {
        /// Inbound SPI of the CHILD SA.
        spi_in: u32,
        /// Hard limit.
        hard: bool,
    },
    /// ESP arrived on the SA (at most once a second per SA):
    /// `Endpoint::child_activity(at, spi_in)`.
    Activity {
        /// Inbound SPI.
        spi_in: u32,
        /// When.
        at: Instant,
    },
}

/// Where events go. Called from the packet threads: keep it short (push
/// into a channel).
pub type Sink = Arc<dyn Fn(DataplaneEvent) + Send + Sync>;

/// Errors of the data plane's control operations.
#[derive(Debug, thiserror::Error)]
pub enum DataplaneError {
    /// A system call or netlink request failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The SA cannot be carried by this data plane.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The keys do not fit the transforms.
    #[error("bad SA: {0}")]
    Sa(#[from] ConfigError),
    /// An inbound SA with this SPI exists already.
    #[error("inbound SPI {0:#010x} already installed")]
    DuplicateSpi(u32),
}

/// Statistics of one CHILD SA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaStats {
    /// reqid.
    pub reqid: u32,
    /// Interface it is bound to.
    pub interface: String,
    /// Inbound SPI.
    pub spi_in: u32,
    /// Outbound SPI.
    pub spi_out: u32,
    /// Whether outbound traffic may use it.
    pub outbound_active: bool,
    /// Inbound counters (packets/bytes delivered, replay drops, auth
    /// failures...).
    pub inbound: Counters,
    /// Outbound counters.
    pub outbound: Counters,
    /// Inbound packets outside the SA's traffic selectors.
    pub ts_violations: u64,
    /// Last inbound packet.
    pub last_in: Option<Instant>,
    /// Last outbound packet.
    pub last_out: Option<Instant>,
}

/// Statistics of one interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceStats {
    /// Name.
    pub name: String,
    /// reqid (`None` for the shared TUN).
    pub reqid: Option<u32>,
    /// Carrier on (some SA installed).
    pub carrier: bool,
    /// Packets read from it that no SA matched (dropped).
    pub no_sa_drops: u64,
    /// Packets too big for the path with DF set (dropped, ICMP sent).
    pub too_big: u64,
    /// ICMP errors written back into it.
    pub icmp_sent: u64,
    /// ICMP errors suppressed by the rate limit.
    pub icmp_rate_limited: u64,
    /// Unparseable packets read from it.
    pub malformed: u64,
    /// SYNs whose MSS was clamped (both directions).
    pub mss_clamped: u64,
    /// Send errors on the ESP sockets.
    pub send_errors: u64,
    /// Packets the interface refused (TUN write errors: queue full,
    /// interface down).
    pub tun_write_errors: u64,
    /// Offloaded (GSO) packets read from the interface and split here.
    pub gso_reads: u64,
    /// Coalesced TCP super-packets written into the interface.
    pub gro_writes: u64,
}

#[derive(Debug, Default)]
struct SlotStats {
    no_sa: AtomicU64,
    too_big: AtomicU64,
    icmp_sent: AtomicU64,
    icmp_limited: AtomicU64,
    malformed: AtomicU64,
    mss: AtomicU64,
    send_errors: AtomicU64,
    tun_write_errors: AtomicU64,
    gso_reads: AtomicU64,
    gro_writes: AtomicU64,
}

fn inc(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

#[derive(Debug)]
struct OutEntry {
    reqid: u32,
    spi_in: u32,
    serial: u64,
    active: bool,
    sa: OutboundSa,
    local_ts: Vec<TrafficSelector>,
    remote_ts: Vec<TrafficSelector>,
    remote: SocketAddr,
    /// Our address to send from (IP_PKTINFO), so a multi-homed host uses
    /// the address the peer knows; `None`: the kernel's choice.
    local: Option<IpAddr>,
    encap: bool,
    max_inner: usize,
}

#[derive(Debug)]
struct InEntry {
    reqid: u32,
    slot: usize,
    spi_out: u32,
    sa: InboundSa,
    local_ts: Vec<TrafficSelector>,
    remote_ts: Vec<TrafficSelector>,
    ts_violations: u64,
    reported: Option<Instant>,
}

/// Outbound SAs, one lock per interface: the outbound threads own
/// disjoint sets of interfaces, so they never wait on each other.
#[derive(Debug)]
struct OutTable {
    slots: Vec<Mutex<Vec<OutEntry>>>,
    /// Install/activation order: the newest matching SA carries a packet.
    serial: AtomicU64,
}

impl OutTable {
    fn next_serial(&self) -> u64 {
        self.serial.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Run `f` on every outbound SA (each interface's lock in turn).
    fn for_each(&self, mut f: impl FnMut(&mut OutEntry)) {
        for slot in &self.slots {
            lock(slot).iter_mut().for_each(&mut f);
        }
    }

    /// Run `f` on the outbound SA `spi_out` of `reqid`, if installed.
    fn for_sa(&self, reqid: u32, spi_out: u32, mut f: impl FnMut(&mut OutEntry)) {
        self.for_each(|e| {
            if e.reqid == reqid && e.sa.spi() == spi_out {
                f(e);
            }
        });
    }
}

/// Inbound SAs by SPI: the map is read-locked by the packet threads (and
/// write-locked only to install or delete), each SA has its own lock, so
/// inbound threads opening packets of different SAs run in parallel.
#[derive(Debug, Default)]
struct InTable {
    sas: HashMap<u32, Mutex<InEntry>>,
}

#[derive(Debug, Default)]
struct Control {
    /// SAs installed per slot (Install .. Delete).
    installed: Vec<usize>,
    /// Route reference counts.
    routes: HashMap<RouteSpec, usize>,
    /// Routes held by each SA (shared TUN), by inbound SPI.
    sa_routes: HashMap<u32, Vec<RouteSpec>>,
}

/// The data plane's sockets. With several inbound threads, each has its
/// own NAT-T socket per family (SO_REUSEPORT: the kernel hashes a peer's
/// address and port to one of them, so one peer's packets always reach
/// the same thread, in order) and its own raw ESP socket per family (a
/// raw socket gets a copy of every ESP packet; a filter on each keeps the
/// SPIs of its thread's share, so one SA's packets always reach the same
/// thread, in order).
#[derive(Debug, Default)]
struct Sockets {
    udp4: Vec<Arc<UdpSocket>>,
    udp6: Vec<Arc<UdpSocket>>,
    /// Raw ESP sockets, one per inbound thread (each takes the SPIs of
    /// its share, [`sys::attach_spi_filter`]); the first also sends.
    raw4: Vec<OwnedFd>,
    raw6: Vec<OwnedFd>,
}

impl Sockets {
    /// The NAT-T socket of a family that thread `t` sends on.
    fn udp(&self, v6: bool, t: usize) -> Option<&Arc<UdpSocket>> {
        let v = if v6 { &self.udp6 } else { &self.udp4 };
        (!v.is_empty()).then(|| &v[t % v.len()])
    }
}

struct Shared {
    cfg: DataplaneConfig,
    nl: Netlink,
    tuns: Vec<Tun>,
    stats: Vec<SlotStats>,
    slot_of_reqid: HashMap<u32, usize>,
    shared_slot: Option<usize>,
    sockets: Sockets,
    out: OutTable,
    /// Readers, seal workers and in-order senders of the outbound path.
    pipe: outbound::Pipeline,
    inb: RwLock<InTable>,
    ctl: Mutex<Control>,
    sink: Sink,
    stop: AtomicBool,
    unknown_spi: AtomicU64,
    /// ICMP errors written back into the TUNs, all threads together.
    icmp_limit: Mutex<RateLimit>,
    /// Datagrams the kernel dropped because a data-plane socket's receive
    /// queue was full (SO_RXQ_OVFL), per socket (4 × thread + 2 × raw +
    /// IPv6).
    rx_overflow: Vec<AtomicU64>,
    rules: Vec<RuleSpec>,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("tuns", &self.tuns)
            .field("sockets", &self.sockets)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking packet thread must not take the control plane down.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn read<T>(m: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(m: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(|p| p.into_inner())
}

/// Set `SO_MARK` on a socket of the daemon (its UDP/500 socket, say) so
/// its packets bypass the tunnel routes.
pub fn mark_socket(sock: BorrowedFd<'_>, mark: u32) -> io::Result<()> {
    socket::setsockopt(&sock, sockopt::Mark, &mark).map_err(io::Error::from)
}

/// The userspace ESP data plane. See the module documentation.
#[derive(Debug)]
pub struct Dataplane {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
    outbound_threads: usize,
    inbound_threads: usize,
}

/// Packet threads per direction for `DataplaneConfig::threads` (0: one per
/// CPU, at most [`MAX_AUTO_THREADS`]).
fn thread_count(configured: usize) -> usize {
    if configured > 0 {
        return configured.min(MAX_THREADS);
    }
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(MAX_AUTO_THREADS)
}

/// The most packet threads per direction `threads = 0` picks.
pub const MAX_AUTO_THREADS: usize = 4;
/// The most packet threads per direction.
pub const MAX_THREADS: usize = 64;

fn suite_of(cipher: Cipher, auth: Option<Auth>) -> Result<Suite, DataplaneError> {
    let e = match cipher {
        Cipher::AesCbc { key_bits: 128 } => Encryption::AesCbc128,
        Cipher::AesCbc { key_bits: 192 } => Encryption::AesCbc192,
        Cipher::AesCbc { key_bits: 256 } => Encryption::AesCbc256,
        Cipher::AesGcm16 { key_bits: 128 } => Encryption::AesGcm16_128,
        Cipher::AesGcm16 { key_bits: 256 } => Encryption::AesGcm16_256,
        Cipher::ChaCha20Poly1305 => Encryption::ChaCha20Poly1305,
        Cipher::TripleDes => Encryption::TripleDesCbc,
        Cipher::CamelliaCbc { key_bits: 128 } => Encryption::CamelliaCbc128,
        Cipher::CamelliaCbc { key_bits: 192 } => Encryption::CamelliaCbc192,
        Cipher::CamelliaCbc { key_bits: 256 } => Encryption::CamelliaCbc256,
        Cipher::AesCcm { key_bits, icv } => match (key_bits, icv) {
            (128, 8) => Encryption::AesCcm8_128,
            (192, 8) => Encryption::AesCcm8_192,
            (256, 8) => Encryption::AesCcm8_256,
            (128, 12) => Encryption::AesCcm12_128,
            (192, 12) => Encryption::AesCcm12_192,
            (256, 12) => Encryption::AesCcm12_256,
            (128, 16) => Encryption::AesCcm16_128,
            (192, 16) => Encryption::AesCcm16_192,
            (256, 16) => Encryption::AesCcm16_256,
            _ => return Err(DataplaneError::Unsupported(format!("{cipher:?}"))),
        },
        other => return Err(DataplaneError::Unsupported(format!("{other:?}"))),
    };
    let i = auth.map(|i| match i {
        Auth::HmacSha1_96 => Integrity::HmacSha1_96,
        Auth::HmacSha256_128 => Integrity::HmacSha256_128,
        Auth::HmacSha384_192 => Integrity::HmacSha384_192,
        Auth::HmacSha512_256 => Integrity::HmacSha512_256,
        Auth::HmacMd5_96 => Integrity::HmacMd5_96,
        Auth::HmacSha256_96 => Integrity::HmacSha256_96,
        Auth::AesXcbc96 => Integrity::AesXcbc96,
        Auth::AesCmac96 => Integrity::AesCmac96,
    });
    Ok(Suite::new(e, i)?)
}

fn ts_of(t: &TsRange) -> TrafficSelector {
    TrafficSelector {
        start_addr: t.start,
        end_addr: t.end,
        protocol: t.proto,
        start_port: t.start_port,
        end_port: t.end_port,
    }
}

/// `Some(a)` unless `a` is the unspecified address.
fn specified(a: IpAddr) -> Option<IpAddr> {
    (!a.is_unspecified()).then_some(a)
}

fn nonzero(v: u64) -> Option<u64> {
    (v != 0).then_some(v)
}

/// Split an address range into prefixes (for routes of traffic
/// selectors): at most 2×bits of them (62 for IPv4, 254 for IPv6).
fn range_prefixes(start: IpAddr, end: IpAddr) -> Vec<(IpAddr, u8)> {
    let (v6, mut s, e) = match (start, end) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            (false, u128::from(u32::from(a)), u128::from(u32::from(b)))
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => (true, u128::from(a), u128::from(b)),
        _ => return Vec::new(),
    };
    let bits: u32 = if v6 { 128 } else { 32 };
    let mut out = Vec::new();
    while s <= e {
        // Largest aligned block starting at s that stays within e.
        let mut size_bits = if s == 0 {
            bits
        } else {
            s.trailing_zeros().min(bits)
        };
        loop {
            let last = if size_bits >= 128 {
                u128::MAX
            } else {
                s + ((1u128 << size_bits) - 1)
            };
            if last <= e {
                break;
            }
            size_bits -= 1;
        }
        let ip = if v6 {
            IpAddr::V6(Ipv6Addr::from(s))
        } else {
            IpAddr::V4(Ipv4Addr::from(s as u32))
        };
        out.push((ip, (bits - size_bits) as u8));
        if size_bits >= bits {
            break;
        }
        let next = s.checked_add(1u128 << size_bits);
        match next {
            Some(n) if n > s => s = n,
            _ => break,
        }
        if !v6 && s > u128::from(u32::MAX) {
            break;
        }
    }
    out
}

fn probe_path_mtu(remote: SocketAddr, mark: u32) -> Option<u32> {
    let bind: SocketAddr = if remote.is_ipv6() {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    };
    let s = UdpSocket::bind(bind).ok()?;
    mark_socket(s.as_fd(), mark).ok()?;
    let mut to = remote;
    if to.port() == 0 {
        to.set_port(esp::udp::NAT_T_PORT);
    }
    s.connect(to).ok()?;
    if remote.is_ipv6() {
        sys::ipv6_path_mtu(s.as_fd()).ok()
    } else {
        socket::getsockopt(&s, sockopt::IpMtu)
            .ok()
            .map(|v| v.max(0) as u32)
    }
}

/// SO_RCVBUF/SO_SNDBUF of the NAT-T sockets.
const SOCKET_BUFFER: usize = 4 << 20;

fn udp_socket(v6: bool, port: u16, mark: u32, reuse_port: bool) -> io::Result<UdpSocket> {
    use socket::{AddressFamily, SockFlag, SockType};
    let fam = if v6 {
        AddressFamily::Inet6
    } else {
        AddressFamily::Inet
    };
    let fd = socket::socket(fam, SockType::Datagram, SockFlag::SOCK_CLOEXEC, None)?;
    socket::setsockopt(&fd, sockopt::Mark, &mark)?;
    if reuse_port {
        // One socket per inbound thread on the same port; the kernel
        // picks one by a hash of the peer's address and port.
        socket::setsockopt(&fd, sockopt::ReusePort, &true)?;
    }
    if v6 {
        socket::setsockopt(&fd, sockopt::Ipv6V6Only, &true)?;
        socket::setsockopt(&fd, sockopt::Ipv6RecvPacketInfo, &true)?;
        socket::bind(
            std::os::fd::AsRawFd::as_raw_fd(&fd),
            &SockaddrIn6::from(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, port, 0, 0)),
        )?;
    } else {
        socket::setsockopt(&fd, sockopt::Ipv4PacketInfo, &true)?;
        socket::bind(
            std::os::fd::AsRawFd::as_raw_fd(&fd),
            &SockaddrIn::from(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port)),
        )?;
    }
    sys::set_pmtudisc_dont(fd.as_fd(), v6)?;
    // UDP_GRO (Linux 5.0+): a peer's UDP_SEGMENT runs arrive as one
    // datagram with the segment size in a cmsg; best effort.
    let _ = socket::setsockopt(&fd, sockopt::UdpGroSegment, &true);
    // Drop counts of the receive queue in every recvmsg (SO_RXQ_OVFL).
    let _ = socket::setsockopt(&fd, sockopt::RxqOvfl, &1);
    // Room for bursts while vti-in is busy (the default ~200 KB drops
    // under one fast TCP stream); FORCE needs CAP_NET_ADMIN, else capped
    // at rmem_max/wmem_max. Best effort.
    if socket::setsockopt(&fd, sockopt::RcvBufForce, &SOCKET_BUFFER).is_err() {
        let _ = socket::setsockopt(&fd, sockopt::RcvBuf, &SOCKET_BUFFER);
    }
    if socket::setsockopt(&fd, sockopt::SndBufForce, &SOCKET_BUFFER).is_err() {
        let _ = socket::setsockopt(&fd, sockopt::SndBuf, &SOCKET_BUFFER);
    }
    let s = UdpSocket::from(fd);
    s.set_nonblocking(true)?;
    Ok(s)
}

/// A raw ESP socket of inbound thread `thread` of `threads` (it receives
/// the SPIs of that thread's share).
fn raw_socket(v6: bool, mark: u32, thread: usize, threads: usize) -> io::Result<OwnedFd> {
    let fd = sys::raw_esp_socket(v6)?;
    if threads > 1 {
        sys::attach_spi_filter(fd.as_fd(), v6, thread as u32, threads as u32)?;
    }
    socket::setsockopt(&fd, sockopt::Mark, &mark)?;
    sys::set_pmtudisc_dont(fd.as_fd(), v6)?;
    // As for the NAT-T sockets: drop counts, and room for bursts (plain
    // ESP arrives one datagram per packet).
    let _ = socket::setsockopt(&fd, sockopt::RxqOvfl, &1);
    if socket::setsockopt(&fd, sockopt::RcvBufForce, &SOCKET_BUFFER).is_err() {
        let _ = socket::setsockopt(&fd, sockopt::RcvBuf, &SOCKET_BUFFER);
    }
    if socket::setsockopt(&fd, sockopt::SndBufForce, &SOCKET_BUFFER).is_err() {
        let _ = socket::setsockopt(&fd, sockopt::SndBuf, &SOCKET_BUFFER);
    }
    nix::fcntl::fcntl(
        std::os::fd::AsRawFd::as_raw_fd(&fd),
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    )?;
    Ok(fd)
}

fn bypass_rules(cfg: &DataplaneConfig) -> Vec<RuleSpec> {
    const MAIN: u32 = 254;
    let mut v = Vec::new();
    for v6 in [false, true] {
        let p = cfg.rule_priority;
        v.push(RuleSpec {
            v6,
            priority: p,
            fwmark: Some(cfg.mark),
            invert: false,
            table: MAIN,
            suppress_prefixlen: None,
        });
        v.push(RuleSpec {
            v6,
            priority: p + 1,
            fwmark: Some(cfg.mark),
            invert: true,
            table: MAIN,
            suppress_prefixlen: Some(0),
        });
        v.push(RuleSpec {
            v6,
            priority: p + 2,
            fwmark: Some(cfg.mark),
            invert: true,
            table: cfg.table,
            suppress_prefixlen: None,
        });
    }
    v
}

impl Dataplane {
    /// Create the interfaces, sockets and bypass rules in the calling
    /// thread's network namespace and start the packet threads.
    pub fn start(cfg: DataplaneConfig, sink: Sink) -> Result<Dataplane, DataplaneError> {
        let nl = Netlink::new()?;
        let mut tuns = Vec::new();
        let mut slot_of_reqid = HashMap::new();
        for i in &cfg.interfaces {
            let t = Tun::open(&nl, TunSpec::from_config(i), cfg.ifgroup, cfg.offload)?;
            slot_of_reqid.insert(i.reqid, tuns.len());
            tuns.push(t);
        }
        let shared_slot = match &cfg.shared_tun {
            Some(name) => {
                tuns.push(Tun::open(
                    &nl,
                    TunSpec::shared(name, cfg.shared_mtu),
                    cfg.ifgroup,
                    cfg.offload,
                )?);
                Some(tuns.len() - 1)
            }
            None => None,
        };
        for t in &tuns {
            nix::fcntl::fcntl(
                std::os::fd::AsRawFd::as_raw_fd(&t.fd()),
                nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
            )
            .map_err(io::Error::from)?;
        }
        let threads = thread_count(cfg.threads);
        let mut sockets = Sockets::default();
        if cfg.nat_t_port != 0 {
            let reuse = threads > 1;
            for _ in 0..threads {
                if cfg.nat_t_v4 {
                    let s = udp_socket(false, cfg.nat_t_port, cfg.mark, reuse)?;
                    sockets.udp4.push(Arc::new(s));
                }
                if cfg.nat_t_v6 {
                    let s = udp_socket(true, cfg.nat_t_port, cfg.mark, reuse)?;
                    sockets.udp6.push(Arc::new(s));
                }
            }
        }
        if cfg.plain_esp {
            for t in 0..threads {
                sockets.raw4.push(raw_socket(false, cfg.mark, t, threads)?);
                sockets.raw6.push(raw_socket(true, cfg.mark, t, threads)?);
            }
        }
        let rules = bypass_rules(&cfg);
        for r in &rules {
            nl.rule_add(*r)?;
        }
        let n = tuns.len();
        // Outbound: interface i is read by lane (reader) i % lanes, sealed
        // by any seal worker and sent in order; inbound: thread t reads
        // its own NAT-T and raw ESP sockets. No packet of a flow, and no
        // SA's sequence numbers, ever change order.
        let lanes = threads.min(n.max(1));
        let lane_slots: Vec<Vec<usize>> = (0..lanes)
            .map(|t| (0..n).filter(|i| i % lanes == t).collect())
            .collect();
        let caps: Vec<usize> = lane_slots
            .iter()
            .map(|slots| {
                slots
                    .iter()
                    .map(|&s| tuns[s].spec().mtu as usize)
                    .max()
                    .unwrap_or(1500)
                    .clamp(1280, MAX_PACKET)
            })
            .collect();
        let workers = if threads > 1 { threads } else { 0 };
        let shared = Arc::new(Shared {
            stats: (0..n).map(|_| SlotStats::default()).collect(),
            out: OutTable {
                slots: (0..n).map(|_| Mutex::new(Vec::new())).collect(),
                serial: AtomicU64::new(0),
            },
            pipe: outbound::Pipeline::new(&caps, workers),
            inb: RwLock::new(InTable::default()),
            ctl: Mutex::new(Control {
                installed: vec![0; n],
                ..Control::default()
            }),
            cfg,
            nl,
            tuns,
            slot_of_reqid,
            shared_slot,
            sockets,
            sink,
            stop: AtomicBool::new(false),
            unknown_spi: AtomicU64::new(0),
            rx_overflow: (0..4 * threads).map(|_| AtomicU64::new(0)).collect(),
            icmp_limit: Mutex::new(RateLimit {
                start: Instant::now(),
                count: 0,
            }),
            rules,
        });
        let mut handles = Vec::new();
        let mut spawn = |name: String, f: Box<dyn FnOnce() + Send>| -> io::Result<()> {
            handles.push(std::thread::Builder::new().name(name).spawn(f)?);
            Ok(())
        };
        for (t, slots) in lane_slots.into_iter().enumerate() {
            let s = shared.clone();
            spawn(
                format!("vti-out{t}"),
                Box::new(move || outbound::reader_loop(&s, t, &slots)),
            )?;
        }
        for t in 0..workers {
            let s = shared.clone();
            spawn(
                format!("vti-seal{t}"),
                Box::new(move || outbound::seal_loop(&s)),
            )?;
        }
        for t in 0..threads {
            let s = shared.clone();
            spawn(format!("vti-in{t}"), Box::new(move || inbound_loop(&s, t)))?;
        }
        Ok(Dataplane {
            shared,
            threads: handles,
            outbound_threads: lanes,
            inbound_threads: threads,
        })
    }

    /// The firewall mark of the data plane's packets.
    pub fn mark(&self) -> u32 {
        self.shared.cfg.mark
    }

    /// The NAT-T socket of a family, to send IKE from (with the non-ESP
    /// marker in front; [`Dataplane::send_ike_nat_t`] does that).
    pub fn nat_t_socket(&self, v6: bool) -> Option<Arc<UdpSocket>> {
        self.shared.sockets.udp(v6, 0).cloned()
    }

    /// Packet threads: (outbound readers, inbound).
    pub fn threads(&self) -> (usize, usize) {
        (self.outbound_threads, self.inbound_threads)
    }

    /// Seal workers of the outbound path (0: the readers seal and send).
    pub fn seal_threads(&self) -> usize {
        self.shared.pipe.workers()
    }

    /// Send an IKE message (or a NAT keepalive, 0xff, sent as is) on the
    /// NAT-T port to `remote`, from our address `local` (the IKE SA's, so a
    /// host with several addresses keeps using the one the peer knows, as
    /// ESP does; RFC 7296 §2.11 ties the SA to its addresses) unless it is
    /// `None` or unspecified (then the kernel picks).
    pub fn send_ike_nat_t(
        &self,
        local: Option<IpAddr>,
        remote: SocketAddr,
        msg: &[u8],
    ) -> io::Result<()> {
        let sock = self
            .nat_t_socket(remote.is_ipv6())
            .ok_or_else(|| io::Error::other("no NAT-T socket of that family"))?;
        let marker: &[u8] = if msg == esp::udp::NAT_KEEPALIVE {
            &[]
        } else {
            &NON_ESP_MARKER
        };
        send_with_source(sock.as_fd(), &[marker, msg], local, remote)
    }

    /// Carries out one change to the installed SAs (the daemon converts
    /// the engine's actions into these, as for the kernel backends).
    pub fn apply(&self, op: &SaOp) -> Result<(), DataplaneError> {
        let sh = &*self.shared;
        match op {
            SaOp::Install {
                spec,
                outbound_active,
            } => self.install(spec, *outbound_active),
            SaOp::ActivateOutbound { reqid, spi_out } => {
                let _ctl = lock(&sh.ctl);
                let serial = sh.out.next_serial();
                sh.out.for_sa(*reqid, *spi_out, |e| {
                    e.active = true;
                    e.serial = serial;
                });
                Ok(())
            }
            SaOp::RemoveOutbound { reqid, spi_out } => {
                let _ctl = lock(&sh.ctl);
                sh.out.for_sa(*reqid, *spi_out, |e| e.active = false);
                Ok(())
            }
            SaOp::Delete {
                reqid,
                spi_in,
                spi_out,
            } => self.delete(*reqid, *spi_in, *spi_out),
            SaOp::Update {
                spi_in,
                local,
                remote,
                encap,
            } => {
                let pmtu = self.path_mtu(*remote);
                let _ctl = lock(&sh.ctl);
                sh.out.for_each(|e| {
                    if e.spi_in == *spi_in {
                        e.remote = *remote;
                        e.local = specified(local.ip());
                        e.encap = *encap;
                        e.max_inner = max_inner(pmtu, e.sa.suite(), *encap, remote);
                    }
                });
                Ok(())
            }
        }
    }

    /// Ask the kernel again for the path MTU towards every peer with an
    /// SA (a changed underlay MTU, a learned PMTU) and update the largest
    /// inner packet each SA takes before packets with DF set get an ICMP
    /// "fragmentation needed" / "packet too big" (RFC 4301 §8.2). The
    /// interfaces' own MTU never changes (issue 4: OSPF and live TCP break
    /// when it moves). Returns how many SAs changed; the daemon calls it
    /// periodically.
    pub fn refresh_path_mtu(&self) -> usize {
        let sh = &*self.shared;
        let mut remotes: Vec<SocketAddr> = Vec::new();
        sh.out.for_each(|e| {
            if !remotes.contains(&e.remote) {
                remotes.push(e.remote);
            }
        });
        let mtus: Vec<(SocketAddr, u32)> =
            remotes.into_iter().map(|r| (r, self.path_mtu(r))).collect();
        let _ctl = lock(&sh.ctl);
        let mut changed = 0;
        sh.out.for_each(|e| {
            if let Some((_, pmtu)) = mtus.iter().find(|(r, _)| *r == e.remote) {
                let m = max_inner(*pmtu, e.sa.suite(), e.encap, &e.remote);
                if m != e.max_inner {
                    e.max_inner = m;
                    changed += 1;
                }
            }
        });
        changed
    }

    /// The configured path MTU, or the kernel's for `remote` (asked from
    /// the data plane's namespace with the bypass mark), or 1500.
    fn path_mtu(&self, remote: SocketAddr) -> u32 {
        let sh = &*self.shared;
        let mark = sh.cfg.mark;
        sh.cfg
            .path_mtu
            .or_else(|| {
                sh.nl
                    .in_thread(move || probe_path_mtu(remote, mark))
                    .ok()
                    .flatten()
            })
            .unwrap_or(1500)
    }

    /// The TUN of a CHILD SA: its interface by `config::interface_for`
    /// (reqid, else if_id_in, else if_id_out), else the shared TUN.
    fn slot_of(&self, reqid: u32, if_id: (u32, u32)) -> Option<usize> {
        let sh = &*self.shared;
        let ifaces = &sh.cfg.interfaces;
        config::interface_for(ifaces, reqid, if_id)
            .and_then(|i| sh.slot_of_reqid.get(&i.reqid).copied())
            .or(sh.shared_slot)
    }

    fn install(&self, ci: &ChildSpec, outbound_active: bool) -> Result<(), DataplaneError> {
        let sh = &*self.shared;
        if !ci.tunnel {
            return Err(DataplaneError::Unsupported(
                "transport mode (the userspace data plane carries tunnel mode only)".into(),
            ));
        }
        let slot = self.slot_of(ci.reqid, ci.if_id).ok_or_else(|| {
            DataplaneError::Unsupported(format!(
                "reqid {} (if_id {}/{}) names no interface and there is no shared TUN",
                ci.reqid, ci.if_id.0, ci.if_id.1
            ))
        })?;
        if Some(slot) == sh.shared_slot && sh.cfg.install_routes {
            let routes: usize = ci
                .remote_ts
                .iter()
                .map(|t| range_prefixes(t.start, t.end).len())
                .sum();
            if routes > sh.cfg.max_routes_per_child {
                return Err(DataplaneError::Unsupported(format!(
                    "the remote traffic selectors of the CHILD_SA with reqid {} split into \
                     {routes} routes, more than max_policies_per_child = {}; refused",
                    ci.reqid, sh.cfg.max_routes_per_child
                )));
            }
        }
        let now = Instant::now();
        let l = ci.limits;
        let opts = SaOptions {
            esn: ci.esn,
            replay_window: ci.replay_window,
            lifetime: Lifetime {
                soft_bytes: nonzero(l.soft_bytes),
                hard_bytes: nonzero(l.hard_bytes),
                soft_packets: nonzero(l.soft_packets),
                hard_packets: nonzero(l.hard_packets),
                soft_time: None,
                hard_time: None,
            },
            seq_rekey_at: None,
        };
        let keys = |k: &pfkey::backend::SaKeys| -> Result<(Suite, u32), DataplaneError> {
            Ok((suite_of(k.cipher, k.auth)?, k.spi))
        };
        let (suite_in, spi_in) = keys(&ci.inbound)?;
        let (suite_out, spi_out) = keys(&ci.outbound)?;
        let inbound = InboundSa::new(
            spi_in,
            suite_in,
            SaKeys {
                encryption: &ci.inbound.enc_key,
                integrity: &ci.inbound.auth_key,
            },
            &opts,
            now,
        )?;
        let outbound = OutboundSa::new(
            spi_out,
            suite_out,
            SaKeys {
                encryption: &ci.outbound.enc_key,
                integrity: &ci.outbound.auth_key,
            },
            &opts,
            now,
        )?;
        if ci.encap && sh.sockets.udp(ci.remote.is_ipv6(), 0).is_none() {
            return Err(DataplaneError::Unsupported("no NAT-T socket".into()));
        }
        if !ci.encap && sh.sockets.raw4.is_empty() {
            return Err(DataplaneError::Unsupported("no raw ESP socket".into()));
        }
        let local_ts: Vec<_> = ci.local_ts.iter().map(ts_of).collect();
        let remote_ts: Vec<_> = ci.remote_ts.iter().map(ts_of).collect();
        let pmtu = self.path_mtu(ci.remote);
        let max_inner = max_inner(pmtu, suite_out, ci.encap, &ci.remote);

        let mut ctl = lock(&sh.ctl);
        {
            let mut inb = write(&sh.inb);
            if inb.sas.contains_key(&spi_in) {
                return Err(DataplaneError::DuplicateSpi(spi_in));
            }
            inb.sas.insert(
                spi_in,
                Mutex::new(InEntry {
                    reqid: ci.reqid,
                    slot,
                    spi_out,
                    sa: inbound,
                    local_ts: local_ts.clone(),
                    remote_ts: remote_ts.clone(),
                    ts_violations: 0,
                    reported: None,
                }),
            );
        }
        {
            let serial = sh.out.next_serial();
            lock(&sh.out.slots[slot]).push(OutEntry {
                reqid: ci.reqid,
                spi_in,
                serial,
                active: outbound_active,
                sa: outbound,
                local_ts,
                remote_ts,
                remote: ci.remote,
                local: specified(ci.local.ip()),
                encap: ci.encap,
                max_inner,
            });
        }
        let tun = &sh.tuns[slot];
        if Some(slot) == sh.shared_slot && sh.cfg.install_routes {
            // Routes for the peer's selectors, with our local selector's
            // address as source hint when it is one of ours.
            let ours = sh.nl.addresses().unwrap_or_default();
            let mut held = Vec::new();
            for rts in &ci.remote_ts {
                let src = ci
                    .local_ts
                    .iter()
                    .filter(|l| l.start.is_ipv4() == rts.start.is_ipv4())
                    .find_map(|l| ours.iter().copied().find(|a| ts_of(l).contains_addr(*a)));
                for (dst, prefix) in range_prefixes(rts.start, rts.end) {
                    let r = RouteSpec {
                        dst,
                        prefix,
                        ifindex: tun.index(),
                        gateway: None,
                        src,
                        table: sh.cfg.table,
                        metric: tun.spec().route_metric,
                    };
                    hold_route(&sh.nl, &mut ctl, r)?;
                    held.push(r);
                }
            }
            ctl.sa_routes.insert(spi_in, held);
        }
        ctl.installed[slot] += 1;
        if ctl.installed[slot] == 1 {
            tun.set_carrier(true)?;
            for r in interface_routes(tun, sh.cfg.table) {
                hold_route(&sh.nl, &mut ctl, r)?;
            }
        }
        Ok(())
    }

    fn delete(&self, reqid: u32, spi_in: u32, spi_out: u32) -> Result<(), DataplaneError> {
        let sh = &*self.shared;
        let mut ctl = lock(&sh.ctl);
        let removed_in = write(&sh.inb)
            .sas
            .remove(&spi_in)
            .map(|m| m.into_inner().unwrap_or_else(|p| p.into_inner()));
        for v in &sh.out.slots {
            lock(v).retain(|e| !(e.reqid == reqid && e.sa.spi() == spi_out && e.spi_in == spi_in));
        }
        let Some(entry) = removed_in else {
            return Ok(());
        };
        let slot = entry.slot;
        if let Some(held) = ctl.sa_routes.remove(&spi_in) {
            for r in held {
                release_route(&sh.nl, &mut ctl, r)?;
            }
        }
        ctl.installed[slot] = ctl.installed[slot].saturating_sub(1);
        if ctl.installed[slot] == 0 {
            let tun = &sh.tuns[slot];
            for r in interface_routes(tun, sh.cfg.table) {
                release_route(&sh.nl, &mut ctl, r)?;
            }
            tun.set_carrier(false)?;
        }
        Ok(())
    }

    /// Statistics of every installed CHILD SA.
    pub fn sa_stats(&self) -> Vec<SaStats> {
        let sh = &*self.shared;
        let inb = read(&sh.inb);
        let mut v: Vec<SaStats> = inb
            .sas
            .iter()
            .map(|(spi_in, e)| {
                let e = lock(e);
                let out = lock(&sh.out.slots[e.slot]);
                let o = out
                    .iter()
                    .find(|o| o.spi_in == *spi_in && o.sa.spi() == e.spi_out);
                SaStats {
                    reqid: e.reqid,
                    interface: sh.tuns[e.slot].name().to_owned(),
                    spi_in: *spi_in,
                    spi_out: e.spi_out,
                    outbound_active: o.is_some_and(|o| o.active),
                    inbound: *e.sa.counters(),
                    outbound: o.map(|o| *o.sa.counters()).unwrap_or_default(),
                    ts_violations: e.ts_violations,
                    last_in: e.sa.last_used(),
                    last_out: o.and_then(|o| o.sa.last_used()),
                }
            })
            .collect();
        v.sort_by_key(|s| (s.reqid, s.spi_in));
        v
    }

    /// Statistics of every interface.
    pub fn interface_stats(&self) -> Vec<InterfaceStats> {
        let sh = &*self.shared;
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        sh.tuns
            .iter()
            .zip(&sh.stats)
            .map(|(t, s)| InterfaceStats {
                name: t.name().to_owned(),
                reqid: t.spec().reqid,
                carrier: t.carrier(),
                no_sa_drops: g(&s.no_sa),
                too_big: g(&s.too_big),
                icmp_sent: g(&s.icmp_sent),
                icmp_rate_limited: g(&s.icmp_limited),
                malformed: g(&s.malformed),
                mss_clamped: g(&s.mss),
                send_errors: g(&s.send_errors),
                tun_write_errors: g(&s.tun_write_errors),
                gso_reads: g(&s.gso_reads),
                gro_writes: g(&s.gro_writes),
            })
            .collect()
    }

    /// Inbound ESP packets whose SPI no SA has.
    pub fn unknown_spi_drops(&self) -> u64 {
        self.shared.unknown_spi.load(Ordering::Relaxed)
    }

    /// Datagrams dropped by the kernel because a data-plane socket's
    /// receive queue was full (`SO_RXQ_OVFL`): the receive thread could
    /// not keep up.
    pub fn socket_overflow_drops(&self) -> u64 {
        self.shared
            .rx_overflow
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }

    /// The interfaces, in configuration order, the shared TUN last.
    pub fn interfaces(&self) -> impl Iterator<Item = &Tun> {
        self.shared.tuns.iter()
    }
}

impl Drop for Dataplane {
    fn drop(&mut self) {
        let sh = &*self.shared;
        sh.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        // Withdraw routes (those of adopted interfaces would outlive us),
        // carrier off, rules away. Created TUNs vanish with their file.
        let mut ctl = lock(&sh.ctl);
        for (r, _) in std::mem::take(&mut ctl.routes) {
            let _ = sh.nl.route_del(r);
        }
        for t in &sh.tuns {
            let _ = t.set_carrier(false);
        }
        for r in &sh.rules {
            let _ = sh.nl.rule_del(*r);
        }
    }
}

fn max_inner(pmtu: u32, suite: Suite, encap: bool, remote: &SocketAddr) -> usize {
    let fam = if remote.is_ipv6() {
        OuterFamily::V6
    } else {
        OuterFamily::V4
    };
    max_inner_len(pmtu as usize, suite, encap, fam)
}

/// The routes of a routed interface while it has an SA: its `routes`, via
/// the remote transit address of the family, with its `route_metric`, so
/// that two interfaces routing the same prefix coexist in `table` and the
/// kernel prefers the lower metric (failover when one's SA goes).
fn interface_routes(tun: &Tun, table: u32) -> Vec<RouteSpec> {
    let spec = tun.spec();
    spec.routes
        .iter()
        .map(|p: &Prefix| RouteSpec {
            dst: p.network(),
            prefix: p.len,
            ifindex: tun.index(),
            gateway: spec.gateway(p.addr.is_ipv6()),
            src: None,
            table,
            metric: spec.route_metric,
        })
        .collect()
}

fn hold_route(nl: &Netlink, ctl: &mut Control, r: RouteSpec) -> io::Result<()> {
    let n = ctl.routes.entry(r).or_insert(0);
    if *n == 0 {
        nl.route_add(r)?;
    }
    *n += 1;
    Ok(())
}

fn release_route(nl: &Netlink, ctl: &mut Control, r: RouteSpec) -> io::Result<()> {
    if let Some(n) = ctl.routes.get_mut(&r) {
        *n -= 1;
        if *n == 0 {
            ctl.routes.remove(&r);
            nl.route_del(r)?;
        }
    }
    Ok(())
}

fn emit(sh: &Shared, spi_in: u32, ev: Option<SaEvent>) {
    if let Some(ev) = ev {
        let hard = matches!(ev, SaEvent::Expired(_));
        (sh.sink)(DataplaneEvent::Expired { spi_in, hard });
    }
}

/// A simple per-second budget for ICMP errors.
#[derive(Debug)]
struct RateLimit {
    start: Instant,
    count: u32,
}

impl RateLimit {
    fn allow(&mut self, now: Instant) -> bool {
        if now.duration_since(self.start) >= Duration::from_secs(1) {
            self.start = now;
            self.count = 0;
        }
        self.count += 1;
        self.count <= ICMP_PER_SEC
    }
}

fn send_icmp(
    sh: &Shared,
    slot: usize,
    orig: &[u8],
    kind: IcmpError,
    scratch: &mut [u8],
    now: Instant,
) {
    let st = &sh.stats[slot];
    if !lock(&sh.icmp_limit).allow(now) {
        inc(&st.icmp_limited);
        return;
    }
    let tun = &sh.tuns[slot];
    let v6 = orig.first().is_some_and(|b| b >> 4 == 6);
    if let Some(n) = build_error(orig, kind, tun.icmp_source(v6), scratch) {
        if tun.write(&scratch[..n]).is_ok() {
            inc(&st.icmp_sent);
        }
    }
}

#[derive(Clone, Copy)]
enum Source {
    Udp(bool),
    Raw(bool),
}

/// Inbound thread `thread`: reads its NAT-T sockets (and, the first one,
/// the raw ESP sockets).
fn inbound_loop(sh: &Shared, thread: usize) {
    let mut rx = RecvBatch::new();
    // One TCP coalescer per TUN with offloads (its buffer is allocated
    // here, once).
    let mut gro: Vec<Option<Coalescer>> = sh
        .tuns
        .iter()
        .map(|t| t.vnet_hdr().then(Coalescer::new))
        .collect();
    let mut sources: Vec<(Source, BorrowedFd<'_>)> = Vec::new();
    if let Some(s) = sh.sockets.udp4.get(thread) {
        sources.push((Source::Udp(false), s.as_fd()));
    }
    if let Some(s) = sh.sockets.udp6.get(thread) {
        sources.push((Source::Udp(true), s.as_fd()));
    }
    if let Some(s) = sh.sockets.raw4.get(thread) {
        sources.push((Source::Raw(false), s.as_fd()));
    }
    if let Some(s) = sh.sockets.raw6.get(thread) {
        sources.push((Source::Raw(true), s.as_fd()));
    }
    let mut fds: Vec<PollFd<'_>> = sources
        .iter()
        .map(|(_, fd)| PollFd::new(*fd, PollFlags::POLLIN))
        .collect();
    while !sh.stop.load(Ordering::Relaxed) {
        match poll(&mut fds, PollTimeout::from(POLL_MS)) {
            Ok(0) => continue,
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        }
        for (k, (src, fd)) in sources.iter().enumerate() {
            if !fds[k]
                .revents()
                .is_some_and(|r| r.contains(PollFlags::POLLIN))
            {
                continue;
            }
            for _ in 0..BATCH {
                // Up to RECV_BATCH datagrams (each possibly a UDP_GRO
                // train) or raw ESP packets per system call.
                let got = rx.recv(*fd);
                let (v6, raw) = match *src {
                    Source::Udp(v6) => (v6, false),
                    Source::Raw(v6) => (v6, true),
                };
                for k in 0..got {
                    let d = rx.meta[k];
                    if let Some(d) = d.overflow {
                        // The socket's running total.
                        sh.rx_overflow[4 * thread + 2 * usize::from(raw) + usize::from(v6)]
                            .store(u64::from(d), Ordering::Relaxed);
                    }
                    let data = &mut rx.bufs[k][..d.len];
                    if !raw {
                        let Some(from) = d.from else { continue };
                        udp_datagram(sh, v6, data, &d, from, &mut gro);
                        continue;
                    }
                    // IPv4 raw sockets deliver the IP header too.
                    let off = if v6 {
                        0
                    } else {
                        usize::from(data.first().map_or(0, |b| b & 0xf)) * 4
                    };
                    if let Some(esp_pkt) = data.get_mut(off..) {
                        if !esp_pkt.is_empty() {
                            esp_packet(sh, esp_pkt, Instant::now(), &mut gro);
                        }
                    }
                }
                if got < RECV_BATCH {
                    break;
                }
            }
            // Nothing waits in a coalescer while the thread sleeps in poll.
            flush_gro(sh, &mut gro);
        }
    }
}

/// Write every pending coalesced super-packet into its TUN.
fn flush_gro(sh: &Shared, gro: &mut [Option<Coalescer>]) {
    for (slot, c) in gro.iter_mut().enumerate() {
        if let Some(c) = c {
            write_gro(sh, slot, c);
        }
    }
}

/// Write what `c` holds (if anything) into the TUN of `slot`, counting a
/// coalesced write.
fn write_gro(sh: &Shared, slot: usize, c: &mut Coalescer) {
    let st = &sh.stats[slot];
    let coalesced = c.segments() > 1;
    let Some(bytes) = c.take() else {
        return;
    };
    match sh.tuns[slot].write_vnet(bytes) {
        Ok(_) if coalesced => inc(&st.gro_writes),
        Ok(_) => {}
        Err(_) => inc(&st.tun_write_errors),
    }
}

/// Deliver one decrypted inner packet into the TUN of `slot`: through its
/// coalescer when the TUN has offloads (TCP segments of one flow become
/// one write), else with one write.
fn deliver_inner(sh: &Shared, slot: usize, p: &[u8], gro: &mut [Option<Coalescer>]) {
    if let Some(c) = gro.get_mut(slot).and_then(Option::as_mut) {
        if c.push(p) {
            return;
        }
        write_gro(sh, slot, c);
        if c.push(p) {
            return;
        }
    }
    if sh.tuns[slot].write(p).is_err() {
        inc(&sh.stats[slot].tun_write_errors);
    }
}

/// Datagrams per `recvmmsg`.
const RECV_BATCH: usize = 16;

/// What `recvmmsg` said about one datagram.
#[derive(Debug, Clone, Copy, Default)]
struct RecvMeta {
    len: usize,
    from: Option<SocketAddr>,
    /// Our address it was sent to (IP_PKTINFO).
    local: Option<IpAddr>,
    /// UDP_GRO segment size.
    gso: Option<usize>,
    /// SO_RXQ_OVFL: the socket's drop count.
    overflow: Option<u32>,
}

/// Buffers and headers for `recvmmsg`, allocated once per inbound
/// thread.
struct RecvBatch {
    bufs: [Vec<u8>; RECV_BATCH],
    mmsg: sys::RecvMmsg,
    meta: [RecvMeta; RECV_BATCH],
}

impl RecvBatch {
    fn new() -> RecvBatch {
        RecvBatch {
            bufs: std::array::from_fn(|_| vec![0u8; MAX_PACKET + 64]),
            mmsg: sys::RecvMmsg::new(RECV_BATCH),
            meta: [RecvMeta::default(); RECV_BATCH],
        }
    }

    /// Receive what is queued (non-blocking), up to [`RECV_BATCH`]
    /// datagrams into `bufs`, their details into `meta`; how many.
    fn recv(&mut self, fd: BorrowedFd<'_>) -> usize {
        use nix::libc;
        let Ok(n) = self.mmsg.recv(fd, &mut self.bufs) else {
            return 0;
        };
        for (i, meta) in self.meta.iter_mut().enumerate().take(n) {
            let mut d = RecvMeta {
                len: self.mmsg.len(i),
                from: self.mmsg.from(i),
                ..RecvMeta::default()
            };
            for (level, ty, data) in sys::control_messages(self.mmsg.control(i)) {
                match (level, ty) {
                    // struct in_pktinfo { ifindex; spec_dst; addr }
                    (libc::IPPROTO_IP, libc::IP_PKTINFO) if data.len() >= 12 => {
                        let a: [u8; 4] = data[8..12].try_into().unwrap_or_default();
                        d.local = Some(IpAddr::V4(Ipv4Addr::from(a)));
                    }
                    // struct in6_pktinfo { addr; ifindex } (RFC 3542 §6)
                    (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO) if data.len() >= 16 => {
                        let a: [u8; 16] = data[..16].try_into().unwrap_or_default();
                        d.local = Some(IpAddr::V6(Ipv6Addr::from(a)));
                    }
                    (libc::SOL_UDP, libc::UDP_GRO) if data.len() >= 4 => {
                        let g = i32::from_ne_bytes(data[..4].try_into().unwrap_or_default());
                        d.gso = usize::try_from(g).ok();
                    }
                    (libc::SOL_SOCKET, libc::SO_RXQ_OVFL) if data.len() >= 4 => {
                        d.overflow =
                            Some(u32::from_ne_bytes(data[..4].try_into().unwrap_or_default()));
                    }
                    _ => {}
                }
            }
            *meta = d;
        }
        n
    }
}

/// One datagram from a NAT-T socket: ESP packets (several if UDP_GRO
/// coalesced a train of them) are opened, IKE goes up to the daemon.
fn udp_datagram(
    sh: &Shared,
    v6: bool,
    data: &mut [u8],
    d: &RecvMeta,
    from: SocketAddr,
    gro: &mut [Option<Coalescer>],
) {
    let n = data.len();
    // A UDP_GRO datagram holds segments of `gso` bytes (the last may be
    // shorter), each one ESP packet.
    let seg = d.gso.filter(|&g| g > 0 && g < n).unwrap_or(n);
    let mut off = 0;
    while off < n {
        let end = (off + seg).min(n);
        let pkt = &mut data[off..end];
        off = end;
        match classify(pkt) {
            UdpPayload::Esp(_) => esp_packet(sh, pkt, Instant::now(), gro),
            UdpPayload::Ike(m) => {
                let unspec = if v6 {
                    IpAddr::V6(Ipv6Addr::UNSPECIFIED)
                } else {
                    IpAddr::V4(Ipv4Addr::UNSPECIFIED)
                };
                (sh.sink)(DataplaneEvent::Ike {
                    local: SocketAddr::new(d.local.unwrap_or(unspec), sh.cfg.nat_t_port),
                    remote: from,
                    data: m.to_vec(),
                });
            }
            UdpPayload::Keepalive | UdpPayload::Invalid => {}
        }
    }
}

/// One ESP packet (SPI .. ICV) received from the network.
fn esp_packet(sh: &Shared, esp_pkt: &mut [u8], now: Instant, gro: &mut [Option<Coalescer>]) {
    let Some(spi) = esp::spi_of(esp_pkt) else {
        return;
    };
    let Some(opened) = open_esp(sh, spi, esp_pkt, now) else {
        inc(&sh.unknown_spi);
        return;
    };
    if opened.activity {
        (sh.sink)(DataplaneEvent::Activity {
            spi_in: spi,
            at: now,
        });
    }
    emit(sh, spi, opened.event);
    if let Some((slot, r)) = opened.deliver {
        let tun = &sh.tuns[slot];
        let p = &mut esp_pkt[r];
        if tun.spec().mss_clamp && mss::clamp(p, tun.spec().mtu) {
            inc(&sh.stats[slot].mss);
        }
        deliver_inner(sh, slot, p, gro);
    }
}

/// What opening one ESP packet gave.
struct Opened {
    /// The inner packet's TUN slot and range, if it is to be delivered.
    deliver: Option<(usize, std::ops::Range<usize>)>,
    /// Time to tell the engine the SA is in use.
    activity: bool,
    /// A lifetime event of the SA.
    event: Option<SaEvent>,
}

/// Open `esp_pkt` with the SA of `spi` (under the inbound table's read
/// lock and the SA's own lock only). `None`: no SA has that SPI.
fn open_esp(sh: &Shared, spi: u32, esp_pkt: &mut [u8], now: Instant) -> Option<Opened> {
    let base = esp_pkt.as_ptr() as usize;
    let inb = read(&sh.inb);
    let mut e = lock(inb.sas.get(&spi)?);
    let (range, event) = match e.sa.decapsulate(esp_pkt, now) {
        Ok(o) => {
            let r = o.packet().map(|p| {
                let start = p.as_ptr() as usize - base;
                start..start + p.len()
            });
            (r, o.event)
        }
        Err(_) => {
            return Some(Opened {
                deliver: None,
                activity: false,
                event: e.sa.take_event(),
            });
        }
    };
    let activity = e
        .reported
        .is_none_or(|t| now.duration_since(t) >= ACTIVITY_EVERY);
    if activity {
        e.reported = Some(now);
    }
    let mut deliver = None;
    if let Some(r) = range {
        // RFC 4301 §5.2 step 4: the inner packet must match the SA's
        // selectors (source in the peer's, destination in ours).
        match Flow::parse(&esp_pkt[r.clone()]) {
            Ok(f) if flow_allowed(&f, &e.remote_ts, &e.local_ts) => deliver = Some((e.slot, r)),
            _ => e.ts_violations += 1,
        }
    }
    Some(Opened {
        deliver,
        activity,
        event,
    })
}

/// One datagram, `parts` concatenated, to `remote` from our address
/// `local` (IP_PKTINFO / IPV6_PKTINFO, RFC 3542 §6.1) unless it is `None`,
/// unspecified or of the other family.
fn send_with_source(
    fd: BorrowedFd<'_>,
    parts: &[&[u8]],
    local: Option<IpAddr>,
    remote: SocketAddr,
) -> io::Result<()> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let iov: Vec<io::IoSlice<'_>> = parts.iter().map(|p| io::IoSlice::new(p)).collect();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&fd);
    let local = local.filter(|l| !l.is_unspecified());
    let r = match (local, remote) {
        (Some(IpAddr::V4(src)), SocketAddr::V4(dst)) => {
            let pi = nix::libc::in_pktinfo {
                ipi_ifindex: 0,
                ipi_spec_dst: nix::libc::in_addr {
                    s_addr: u32::from(src).to_be(),
                },
                ipi_addr: nix::libc::in_addr { s_addr: 0 },
            };
            sendmsg(
                fd,
                &iov,
                &[ControlMessage::Ipv4PacketInfo(&pi)],
                MsgFlags::empty(),
                Some(&SockaddrIn::from(dst)),
            )
        }
        (Some(IpAddr::V6(src)), SocketAddr::V6(dst)) => {
            let pi = nix::libc::in6_pktinfo {
                ipi6_addr: nix::libc::in6_addr {
                    s6_addr: src.octets(),
                },
                ipi6_ifindex: 0,
            };
            sendmsg(
                fd,
                &iov,
                &[ControlMessage::Ipv6PacketInfo(&pi)],
                MsgFlags::empty(),
                Some(&SockaddrIn6::from(dst)),
            )
        }
        (_, SocketAddr::V4(dst)) => sendmsg(
            fd,
            &iov,
            &[],
            MsgFlags::empty(),
            Some(&SockaddrIn::from(dst)),
        ),
        (_, SocketAddr::V6(dst)) => sendmsg(
            fd,
            &iov,
            &[],
            MsgFlags::empty(),
            Some(&SockaddrIn6::from(dst)),
        ),
    };
    r.map(drop).map_err(io::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_to_prefixes() {
        let p = |a: &str, b: &str| {
            range_prefixes(a.parse().unwrap(), b.parse().unwrap())
                .into_iter()
                .map(|(ip, l)| format!("{ip}/{l}"))
                .collect::<Vec<_>>()
        };
        assert_eq!(p("10.3.0.0", "10.3.0.255"), ["10.3.0.0/24"]);
        assert_eq!(p("0.0.0.0", "255.255.255.255"), ["0.0.0.0/0"]);
        assert_eq!(p("10.0.0.1", "10.0.0.2"), ["10.0.0.1/32", "10.0.0.2/32"]);
        assert_eq!(p("10.0.0.0", "10.0.0.2"), ["10.0.0.0/31", "10.0.0.2/32"]);
        assert_eq!(p("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), ["::/0"]);
        assert_eq!(p("2001:db8::", "2001:db8::ffff"), ["2001:db8::/112"]);
    }
}
