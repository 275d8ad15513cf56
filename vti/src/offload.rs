//! TUN offloads for the userspace data plane: `IFF_VNET_HDR` with
//! `TUNSETOFFLOAD(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_USO4 |
//! TUN_F_USO6)`.
//!
//! - Outbound, a TUN read returns a [`VnetHdr`] followed by a possibly
//!   huge (up to 64 KiB) TCP or UDP "GSO" packet whose checksum is only
//!   partial. [`Segmenter`] splits it into MTU-sized IP packets with
//!   complete headers and checksums, which the data plane then seals one by
//!   one; [`complete_checksum`] finishes a single `CHECKSUM_PARTIAL` packet.
//! - Inbound, [`Coalescer`] joins in-order TCP segments of one flow into one
//!   super-packet with a GSO [`VnetHdr`] (GRO in userspace), so that one TUN
//!   write carries many segments.
//!
//! Sources: the virtio specification v1.2 §5.1.6 ("Device Operation",
//! the `virtio_net_hdr` layout and the meaning of `NEEDS_CSUM`,
//! `csum_start`, `csum_offset`, `gso_size`, `hdr_len`); Linux
//! `include/uapi/linux/virtio_net.h` (constants) and
//! `include/linux/virtio_net.h` (`virtio_net_hdr_to_skb`: how the kernel
//! validates a header on a TUN write); RFC 791 (IPv4 header), RFC 8200
//! (IPv6 header), RFC 9293 (TCP, formerly RFC 793), RFC 768 (UDP), RFC 1071
//! (the Internet checksum). The coalescing rules follow the ones of Linux's
//! `tcp_gro_receive` and of wireguard-go's `tun/tcp_offload_linux.go`
//! (facts only, no code taken).
//!
//! Nothing here allocates per packet: [`Segmenter`] writes into the
//! caller's buffer and [`Coalescer`] allocates its one buffer in
//! [`Coalescer::new`].
//!
//! Byte order of the header: the kernel reads the 16-bit fields of
//! `virtio_net_hdr` from a TUN in the virtio byte order, which for a TUN
//! without `TUNSETVNETLE`/`TUNSETVNETBE` is the host's native order (legacy
//! virtio; `tun_is_little_endian()` is true on little-endian hosts, and on
//! big-endian hosts only `TUNSETVNETLE` switches it). The data plane sets
//! neither ioctl, so [`VnetHdr`] uses native-endian fields.
#![forbid(unsafe_code)]

/// Size of `struct virtio_net_hdr` (no `num_buffers`), virtio §5.1.6.
pub const VNET_HDR_LEN: usize = 10;
/// `flags`: the checksum from `csum_start` is partial; the 16 bits at
/// `csum_start + csum_offset` hold the pseudo-header sum to seed it with.
pub const VIRTIO_NET_HDR_F_NEEDS_CSUM: u8 = 1;
/// `gso_type`: not a GSO packet.
pub const VIRTIO_NET_HDR_GSO_NONE: u8 = 0;
/// `gso_type`: TCP over IPv4 segmentation (TSO4).
pub const VIRTIO_NET_HDR_GSO_TCPV4: u8 = 1;
/// `gso_type`: UDP segmentation (USO), IPv4 or IPv6.
pub const VIRTIO_NET_HDR_GSO_UDP_L4: u8 = 5;
/// `gso_type`: TCP over IPv6 segmentation (TSO6).
pub const VIRTIO_NET_HDR_GSO_TCPV6: u8 = 4;
/// `gso_type` bit: the TCP stream uses ECN (CWR set on the first segment).
pub const VIRTIO_NET_HDR_GSO_ECN: u8 = 0x80;

/// The largest IP packet either direction handles (IPv4 total length,
/// and the coalescer's buffer).
const MAX_IP_LEN: usize = 65535;

const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;

const TCP_FIN: u8 = 0x01;
const TCP_PSH: u8 = 0x08;
const TCP_ACK: u8 = 0x10;
const TCP_CWR: u8 = 0x80;

/// `struct virtio_net_hdr` (virtio §5.1.6; Linux
/// `include/uapi/linux/virtio_net.h`), fields in native byte order (see the
/// module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VnetHdr {
    /// `VIRTIO_NET_HDR_F_*`.
    pub flags: u8,
    /// `VIRTIO_NET_HDR_GSO_*`, possibly with [`VIRTIO_NET_HDR_GSO_ECN`].
    pub gso_type: u8,
    /// Length of the headers (IP + L4); a hint the segmenter does not trust.
    pub hdr_len: u16,
    /// Payload bytes per segment.
    pub gso_size: u16,
    /// Where checksumming starts (the L4 header).
    pub csum_start: u16,
    /// Offset of the checksum field from `csum_start` (16 TCP, 6 UDP).
    pub csum_offset: u16,
}

impl VnetHdr {
    /// Parses the first [`VNET_HDR_LEN`] bytes of `b`; `None` if shorter.
    pub fn parse(b: &[u8]) -> Option<VnetHdr> {
        let b = b.get(..VNET_HDR_LEN)?;
        let u = |i: usize| u16::from_ne_bytes([b[i], b[i + 1]]);
        Some(VnetHdr {
            flags: b[0],
            gso_type: b[1],
            hdr_len: u(2),
            gso_size: u(4),
            csum_start: u(6),
            csum_offset: u(8),
        })
    }

    /// Writes the header into the first [`VNET_HDR_LEN`] bytes of `out`.
    /// `out.len() >= VNET_HDR_LEN` is the caller's contract; a shorter
    /// `out` is left untouched (no panic).
    pub fn write(&self, out: &mut [u8]) {
        let Some(o) = out.get_mut(..VNET_HDR_LEN) else {
            return;
        };
        o[0] = self.flags;
        o[1] = self.gso_type;
        o[2..4].copy_from_slice(&self.hdr_len.to_ne_bytes());
        o[4..6].copy_from_slice(&self.gso_size.to_ne_bytes());
        o[6..8].copy_from_slice(&self.csum_start.to_ne_bytes());
        o[8..10].copy_from_slice(&self.csum_offset.to_ne_bytes());
    }

    /// Whether this is a GSO packet (`gso_type` without the ECN bit is not
    /// `GSO_NONE`).
    pub fn is_gso(&self) -> bool {
        self.gso_type & !VIRTIO_NET_HDR_GSO_ECN != VIRTIO_NET_HDR_GSO_NONE
    }

    /// Whether `NEEDS_CSUM` is set.
    pub fn needs_csum(&self) -> bool {
        self.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM != 0
    }
}

/// Why a packet from the TUN cannot be segmented or checksummed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OffloadError {
    /// The packet or header is inconsistent (the text says how).
    #[error("malformed offload packet: {0}")]
    Malformed(&'static str),
    /// A `gso_type` this module does not implement (e.g. legacy UFO = 3).
    #[error("unsupported virtio_net_hdr gso_type {0:#04x}")]
    UnsupportedGsoType(u8),
}

use OffloadError::Malformed;

pub use crate::checksum::{checksum, pseudo_header_sum};
use crate::checksum::{copy_and_sum, fold, sum_words};

fn be16(b: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([b[i], b[i + 1]])
}

fn be32(b: &[u8], i: usize) -> u32 {
    u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

fn put16(b: &mut [u8], i: usize, v: u16) {
    b[i..i + 2].copy_from_slice(&v.to_be_bytes());
}

/// Recomputes the IPv4 header checksum (RFC 791 §3.1) of `ip[..ihl]`.
fn ipv4_header_checksum(ip: &mut [u8], ihl: usize) {
    put16(ip, 10, 0);
    let c = checksum(&ip[..ihl], 0);
    put16(ip, 10, c);
}

/// The pseudo-header sum for the IP packet `ip` whose L4 header starts at
/// `l4` and runs to `ip.len()`; the version decides the address offsets.
fn pseudo_for(ip: &[u8], v6: bool, proto: u8, l4: usize) -> u16 {
    let l4_len = (ip.len() - l4) as u32;
    if v6 {
        pseudo_header_sum(&ip[8..24], &ip[24..40], proto, l4_len)
    } else {
        pseudo_header_sum(&ip[12..16], &ip[16..20], proto, l4_len)
    }
}

/// Completes a `CHECKSUM_PARTIAL` packet in place (virtio §5.1.6.2: the
/// device "must" checksum from `csum_start` to the end and store the result
/// at `csum_start + csum_offset`): the checksum over `pkt[csum_start..]`
/// seeded by what the checksum field already holds (the pseudo-header sum
/// the kernel put there). Does nothing if `NEEDS_CSUM` is not set. A result
/// of 0 is stored as 0xffff (as Linux's `skb_checksum_help` does; both are
/// the same one's-complement value, and RFC 768 requires it for UDP).
pub fn complete_checksum(hdr: &VnetHdr, pkt: &mut [u8]) -> Result<(), OffloadError> {
    if !hdr.needs_csum() {
        return Ok(());
    }
    let start = usize::from(hdr.csum_start);
    let field = start + usize::from(hdr.csum_offset);
    if field + 2 > pkt.len() {
        return Err(Malformed(
            "csum_start + csum_offset past the end of the packet",
        ));
    }
    let c = match checksum(&pkt[start..], 0) {
        0 => 0xffff,
        c => c,
    };
    put16(pkt, field, c);
    Ok(())
}

// ---------------------------------------------------------------------------
// Segmentation (outbound)

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Yield the packet unchanged.
    Pass,
    /// Yield the packet with its checksum completed.
    Csum,
    /// TSO: TCP segments.
    Tcp,
    /// USO: UDP datagrams.
    Udp,
}

/// Splits one packet read from a TUN (the bytes after its [`VnetHdr`]) into
/// IP packets, writing each into a caller's buffer (no allocation).
///
/// - Non-GSO without `NEEDS_CSUM`: the packet unchanged.
/// - Non-GSO with `NEEDS_CSUM`: the packet with its checksum completed
///   ([`complete_checksum`]).
/// - `TCPV4`/`TCPV6` (ECN bit tolerated): TCP segments of at most
///   `gso_size` payload bytes. Per segment: IPv4 total length, identification
///   (the original plus the segment index, wrapping) and header checksum
///   (RFC 791); IPv6 payload length (RFC 8200); TCP sequence number advanced
///   by the payload offset, FIN and PSH only on the last segment, CWR only
///   on the first (as Linux's `tcp_gso_segment`), and the full TCP checksum
///   (RFC 9293 §3.1) computed from scratch.
/// - `UDP_L4`: UDP datagrams, each with its own length and full checksum
///   (0 sent as 0xffff, RFC 768), IPv4 identification incremented.
///
/// The header length is not taken from `hdr_len` but computed as
/// `csum_start` + the TCP data offset (or + 8 for UDP), after checking that
/// `csum_start` is the IP header length (IHL×4 for IPv4, options allowed;
/// 40 for IPv6, extension headers rejected) and `csum_offset` is 16 (TCP) or
/// 6 (UDP). `NEEDS_CSUM` is not required for GSO packets: every checksum is
/// computed from scratch. The GSO packet's own IPv4 total length / IPv6
/// payload length is not checked against the read length (the read length
/// rules; the field is rewritten per segment). IPv4 fragments are
/// rejected.
#[derive(Debug, Clone)]
pub struct Segmenter<'a> {
    pkt: &'a [u8],
    hdr: VnetHdr,
    mode: Mode,
    v6: bool,
    /// IP header length = L4 offset.
    l4: usize,
    /// IP + L4 header length.
    hdr_len: usize,
    gso_size: usize,
    count: usize,
    next: usize,
}

impl<'a> Segmenter<'a> {
    /// Validates `hdr` against `pkt` (the IP packet after the header).
    pub fn new(hdr: VnetHdr, pkt: &'a [u8]) -> Result<Segmenter<'a>, OffloadError> {
        let mut s = Segmenter {
            pkt,
            hdr,
            mode: Mode::Pass,
            v6: false,
            l4: 0,
            hdr_len: 0,
            gso_size: 0,
            count: 1,
            next: 0,
        };
        if !hdr.is_gso() {
            if hdr.needs_csum() {
                let field = usize::from(hdr.csum_start) + usize::from(hdr.csum_offset);
                if field + 2 > pkt.len() {
                    return Err(Malformed(
                        "csum_start + csum_offset past the end of the packet",
                    ));
                }
                s.mode = Mode::Csum;
            }
            return Ok(s);
        }
        let (proto, v6_only) = match hdr.gso_type & !VIRTIO_NET_HDR_GSO_ECN {
            VIRTIO_NET_HDR_GSO_TCPV4 => (PROTO_TCP, Some(false)),
            VIRTIO_NET_HDR_GSO_TCPV6 => (PROTO_TCP, Some(true)),
            VIRTIO_NET_HDR_GSO_UDP_L4 => (PROTO_UDP, None),
            t => return Err(OffloadError::UnsupportedGsoType(t)),
        };
        if hdr.gso_size == 0 {
            return Err(Malformed("gso_size is 0"));
        }
        let (v6, l4, ip_proto) = match pkt.first().map(|b| b >> 4) {
            Some(4) => {
                if pkt.len() < 20 {
                    return Err(Malformed("truncated IPv4 header"));
                }
                let ihl = usize::from(pkt[0] & 0xf) * 4;
                if ihl < 20 || ihl > pkt.len() {
                    return Err(Malformed("bad IPv4 header length"));
                }
                if be16(pkt, 6) & 0x3fff != 0 {
                    return Err(Malformed("IPv4 fragment"));
                }
                (false, ihl, pkt[9])
            }
            Some(6) => {
                if pkt.len() < 40 {
                    return Err(Malformed("truncated IPv6 header"));
                }
                (true, 40, pkt[6])
            }
            _ => return Err(Malformed("not an IPv4 or IPv6 packet")),
        };
        if v6_only.is_some_and(|want| want != v6) {
            return Err(Malformed("IP version does not match the GSO type"));
        }
        if ip_proto != proto {
            if v6 {
                return Err(Malformed(
                    "IPv6 next header is not the GSO type's protocol (extension headers are not supported)",
                ));
            }
            return Err(Malformed("IPv4 protocol does not match the GSO type"));
        }
        if usize::from(hdr.csum_start) != l4 {
            return Err(Malformed("csum_start is not the IP header length"));
        }
        let (want_off, l4_hdr) = if proto == PROTO_TCP {
            if pkt.len() < l4 + 20 {
                return Err(Malformed("truncated TCP header"));
            }
            let doff = usize::from(pkt[l4 + 12] >> 4) * 4;
            if doff < 20 {
                return Err(Malformed("TCP data offset below 5"));
            }
            (16, doff)
        } else {
            (6, 8)
        };
        if hdr.csum_offset != want_off {
            return Err(Malformed("csum_offset does not match the protocol"));
        }
        let hdr_len = l4 + l4_hdr;
        if hdr_len > pkt.len() {
            return Err(Malformed("L4 header past the end of the packet"));
        }
        let gso_size = usize::from(hdr.gso_size);
        if hdr_len + gso_size > MAX_IP_LEN {
            return Err(Malformed("headers + gso_size exceed 65535"));
        }
        let payload = pkt.len() - hdr_len;
        s.mode = if proto == PROTO_TCP {
            Mode::Tcp
        } else {
            Mode::Udp
        };
        s.v6 = v6;
        s.l4 = l4;
        s.hdr_len = hdr_len;
        s.gso_size = gso_size;
        s.count = payload.div_ceil(gso_size).max(1);
        Ok(s)
    }

    /// Number of packets it yields in total.
    pub fn count(&self) -> usize {
        self.count
    }

    /// The largest packet it yields: IP + L4 headers + `gso_size` for a GSO
    /// packet (the last may be shorter), the packet itself otherwise.
    pub fn max_len(&self) -> usize {
        match self.mode {
            Mode::Tcp | Mode::Udp => (self.hdr_len + self.gso_size).min(self.pkt.len()),
            Mode::Pass | Mode::Csum => self.pkt.len(),
        }
    }

    /// The IP + L4 header bytes every yielded packet repeats (0 when it
    /// yields the packet itself).
    pub fn header_len(&self) -> usize {
        match self.mode {
            Mode::Tcp | Mode::Udp => self.hdr_len,
            Mode::Pass | Mode::Csum => 0,
        }
    }

    /// Writes the next IP packet into `out` and returns its length; `None`
    /// when all were yielded. Also `None`, without advancing (a retry with a
    /// bigger buffer yields the same packet), when `out` is too small for
    /// it: at most `hdr_len + gso_size` bytes for a GSO packet, the whole
    /// packet otherwise; the data plane's 64 KiB buffers always suffice.
    pub fn next_into(&mut self, out: &mut [u8]) -> Option<usize> {
        if self.next >= self.count {
            return None;
        }
        let n = match self.mode {
            Mode::Pass | Mode::Csum => {
                let o = out.get_mut(..self.pkt.len())?;
                o.copy_from_slice(self.pkt);
                if self.mode == Mode::Csum {
                    // Bounds were checked in `new`.
                    complete_checksum(&self.hdr, o).ok()?;
                }
                self.pkt.len()
            }
            Mode::Tcp | Mode::Udp => self.segment(out)?,
        };
        self.next += 1;
        Some(n)
    }

    /// Builds segment `self.next` into `out`.
    fn segment(&self, out: &mut [u8]) -> Option<usize> {
        let (pkt, l4, hl, i) = (self.pkt, self.l4, self.hdr_len, self.next);
        let start = hl + i * self.gso_size;
        let end = (start + self.gso_size).min(pkt.len());
        let plen = end.saturating_sub(start);
        let len = hl + plen;
        let o = out.get_mut(..len)?;
        o[..hl].copy_from_slice(&pkt[..hl]);
        // The payload is copied and summed in one pass; the headers are
        // summed below, once rewritten (hl is even for TCP and UDP).
        let payload_sum = copy_and_sum(&mut o[hl..], &pkt[start.min(end)..end], 0);
        let offset = (i * self.gso_size) as u32;
        let first = i == 0;
        let last = i + 1 == self.count;
        // IP header.
        if self.v6 {
            put16(o, 4, (len - 40) as u16);
        } else {
            put16(o, 2, len as u16);
            let id = be16(pkt, 4).wrapping_add(i as u16);
            put16(o, 4, id);
            ipv4_header_checksum(o, l4);
        }
        // L4 header.
        let (proto, csum_at) = if self.mode == Mode::Tcp {
            let seq = be32(pkt, l4 + 4).wrapping_add(offset);
            o[l4 + 4..l4 + 8].copy_from_slice(&seq.to_be_bytes());
            if !last {
                o[l4 + 13] &= !(TCP_FIN | TCP_PSH);
            }
            if !first {
                o[l4 + 13] &= !TCP_CWR;
            }
            (PROTO_TCP, l4 + 16)
        } else {
            put16(o, l4 + 4, (len - l4) as u16);
            (PROTO_UDP, l4 + 6)
        };
        put16(o, csum_at, 0);
        let seed = pseudo_for(o, self.v6, proto, l4);
        let mut c = !fold(sum_words(&o[l4..hl], payload_sum + u64::from(seed)));
        if proto == PROTO_UDP && c == 0 {
            c = 0xffff;
        }
        put16(o, csum_at, c);
        Some(len)
    }
}

// ---------------------------------------------------------------------------
// Coalescing (inbound)

/// A TCP segment that may take part in coalescing, as parsed by
/// [`parse_tcp`].
#[derive(Debug, Clone, Copy)]
struct TcpSeg {
    v6: bool,
    /// IP header length.
    l4: usize,
    /// IP + TCP header length.
    hdr_len: usize,
    seq: u32,
    flags: u8,
    payload: usize,
}

/// Parses `pkt` as a TCP segment eligible for coalescing: IPv4 without
/// options (IHL 5), not a fragment, total length equal to the packet, or
/// IPv6 with TCP as the first next header and the payload length matching;
/// a valid data offset; a non-empty payload (pure ACKs are never
/// coalesced); flags exactly ACK or ACK|PSH (no SYN, FIN, RST, URG, ECE,
/// CWR, as in Linux's `tcp_gro_receive` which flushes on them).
fn parse_tcp(pkt: &[u8]) -> Option<TcpSeg> {
    let (v6, l4) = match pkt.first()? >> 4 {
        4 => {
            if pkt.len() < 40 || pkt[0] & 0xf != 5 || pkt[9] != PROTO_TCP {
                return None;
            }
            if usize::from(be16(pkt, 2)) != pkt.len() || be16(pkt, 6) & 0x3fff != 0 {
                return None;
            }
            (false, 20)
        }
        6 => {
            if pkt.len() < 60 || pkt[6] != PROTO_TCP {
                return None;
            }
            if usize::from(be16(pkt, 4)) + 40 != pkt.len() {
                return None;
            }
            (true, 40)
        }
        _ => return None,
    };
    if pkt.len() > MAX_IP_LEN {
        return None;
    }
    let doff = usize::from(pkt[l4 + 12] >> 4) * 4;
    let hdr_len = l4 + doff;
    if doff < 20 || hdr_len >= pkt.len() {
        return None;
    }
    let flags = pkt[l4 + 13];
    if flags != TCP_ACK && flags != TCP_ACK | TCP_PSH {
        return None;
    }
    Some(TcpSeg {
        v6,
        l4,
        hdr_len,
        seq: be32(pkt, l4 + 4),
        flags,
        payload: pkt.len() - hdr_len,
    })
}

/// Coalesces inbound TCP segments of one flow (GRO in userspace) into one
/// super-packet for a single TUN write. Owns one buffer of
/// `VNET_HDR_LEN + 65535` bytes, allocated once in [`Coalescer::new`].
///
/// A segment joins the pending one when (as Linux's `tcp_gro_receive` and
/// wireguard-go's `tcpPacketsCanCoalesce`):
/// - both are TCP over the same IP version: IPv4 without options and not
///   fragmented, or IPv6 with TCP directly after the fixed header;
/// - the IP headers agree on addresses, TOS / traffic class (and, for
///   IPv6, the flow label), TTL / hop limit, and the IPv4 DF flag. The IPv4
///   identification is *not* compared: Linux does not require consecutive
///   ids for DF packets either, and the segments the kernel cuts the
///   super-packet back into get consecutive ids from the first one;
/// - the TCP headers agree on ports, acknowledgment number, data offset,
///   window, urgent pointer and every option byte (timestamps included),
///   i.e. everything but sequence number, checksum and the PSH flag; Linux
///   compares the window too (it is in `tcp_flag_word`), which wireguard-go
///   does not; keeping it makes resegmentation lossless;
/// - its sequence number is the pending one's plus the payload so far;
/// - flags are ACK, or ACK|PSH on the segment that ends the super-packet;
/// - its payload is non-empty and at most the first segment's (the
///   `gso_size`); a shorter one ends the super-packet;
/// - the super-packet stays within 65535 bytes of IP packet.
#[derive(Clone)]
pub struct Coalescer {
    /// `VNET_HDR_LEN` bytes of header space, then the IP packet.
    buf: Box<[u8]>,
    /// Length of the pending IP packet; 0 when empty.
    len: usize,
    /// Segments in it.
    segs: usize,
    first: Option<TcpSeg>,
    next_seq: u32,
    /// Nothing may be appended any more (PSH, or a short segment).
    closed: bool,
    /// The last appended segment carried PSH.
    psh: bool,
}

impl std::fmt::Debug for Coalescer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coalescer")
            .field("len", &self.len)
            .field("segs", &self.segs)
            .field("next_seq", &self.next_seq)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl Default for Coalescer {
    fn default() -> Self {
        Self::new()
    }
}

impl Coalescer {
    /// A coalescer with its buffer (`VNET_HDR_LEN + 65535` bytes).
    pub fn new() -> Coalescer {
        Coalescer {
            buf: vec![0u8; VNET_HDR_LEN + MAX_IP_LEN].into_boxed_slice(),
            len: 0,
            segs: 0,
            first: None,
            next_seq: 0,
            closed: false,
            psh: false,
        }
    }

    /// Offers a full IP packet. Returns true if it was absorbed: appended
    /// to the pending super-packet, or, with nothing pending, a TCP segment
    /// that may start one (the rules are in the [type docs](Coalescer)).
    /// Returns false if it cannot join what is pending or cannot be
    /// coalesced at all: the caller then [`take`](Self::take)s and writes
    /// the pending bytes and offers the packet again; a packet that still
    /// returns false with nothing pending is written on its own behind a
    /// zero [`VnetHdr`].
    pub fn push(&mut self, pkt: &[u8]) -> bool {
        let Some(seg) = parse_tcp(pkt) else {
            return false;
        };
        let Some(first) = self.first else {
            self.buf[VNET_HDR_LEN..VNET_HDR_LEN + pkt.len()].copy_from_slice(pkt);
            self.len = pkt.len();
            self.segs = 1;
            self.first = Some(seg);
            self.next_seq = seg.seq.wrapping_add(seg.payload as u32);
            self.psh = seg.flags & TCP_PSH != 0;
            self.closed = self.psh;
            return true;
        };
        if self.closed
            || seg.v6 != first.v6
            || seg.hdr_len != first.hdr_len
            || seg.seq != self.next_seq
            || seg.payload > first.payload
            || self.len + seg.payload > MAX_IP_LEN
        {
            return false;
        }
        let head = &self.buf[VNET_HDR_LEN..VNET_HDR_LEN + first.hdr_len];
        let ip_same = if seg.v6 {
            // Version, traffic class, flow label; next header, hop limit;
            // addresses.
            head[..4] == pkt[..4] && head[6..40] == pkt[6..40]
        } else {
            // Version/IHL, TOS; DF (MF and offset are 0); TTL, protocol;
            // addresses.
            head[..2] == pkt[..2]
                && head[6] & 0x40 == pkt[6] & 0x40
                && head[8..10] == pkt[8..10]
                && head[12..20] == pkt[12..20]
        };
        let l4 = first.l4;
        // Ports; ack; data offset (+ reserved bits); window, urgent
        // pointer and options. The flags byte (13) was checked by
        // `parse_tcp`; the sequence number above.
        let tcp_same = head[l4..l4 + 4] == pkt[l4..l4 + 4]
            && head[l4 + 8..l4 + 13] == pkt[l4 + 8..l4 + 13]
            && head[l4 + 14..l4 + 16] == pkt[l4 + 14..l4 + 16]
            && head[l4 + 18..first.hdr_len] == pkt[l4 + 18..first.hdr_len];
        if !ip_same || !tcp_same {
            return false;
        }
        let at = VNET_HDR_LEN + self.len;
        self.buf[at..at + seg.payload].copy_from_slice(&pkt[seg.hdr_len..]);
        self.len += seg.payload;
        self.segs += 1;
        self.next_seq = self.next_seq.wrapping_add(seg.payload as u32);
        self.psh = seg.flags & TCP_PSH != 0;
        self.closed = self.psh || seg.payload < first.payload;
        true
    }

    /// Whether a packet is pending.
    pub fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    /// Number of segments pending (0 when empty).
    pub fn segments(&self) -> usize {
        self.segs
    }

    /// The pending bytes, [`VnetHdr`] included (ready for one TUN write),
    /// and resets; `None` if empty. A single pending packet is returned
    /// unchanged behind a zero header. Otherwise the super-packet has the
    /// first segment's headers with IPv4 total length and header checksum
    /// (or IPv6 payload length) updated, PSH if the last segment had it,
    /// and in the TCP checksum field the pseudo-header sum over its length,
    /// behind a header with `NEEDS_CSUM`, `csum_start` = IP header length,
    /// `csum_offset` = 16, `gso_type` `TCPV4`/`TCPV6`, `gso_size` = the
    /// first segment's payload length and `hdr_len` = IP + TCP header
    /// length: what Linux's `virtio_net_hdr_to_skb` turns into a
    /// `CHECKSUM_PARTIAL` GSO skb.
    pub fn take(&mut self) -> Option<&[u8]> {
        let first = self.first.take()?;
        let len = self.len;
        let segs = self.segs;
        self.len = 0;
        self.segs = 0;
        self.closed = false;
        let (hbuf, ip) = self.buf.split_at_mut(VNET_HDR_LEN);
        let ip = &mut ip[..len];
        if segs <= 1 {
            VnetHdr::default().write(hbuf);
            return Some(&self.buf[..VNET_HDR_LEN + len]);
        }
        let l4 = first.l4;
        let gso_type = if first.v6 {
            put16(ip, 4, (len - 40) as u16);
            VIRTIO_NET_HDR_GSO_TCPV6
        } else {
            put16(ip, 2, len as u16);
            ipv4_header_checksum(ip, 20);
            VIRTIO_NET_HDR_GSO_TCPV4
        };
        if self.psh {
            ip[l4 + 13] |= TCP_PSH;
        }
        let seed = pseudo_for(ip, first.v6, PROTO_TCP, l4);
        put16(ip, l4 + 16, seed);
        VnetHdr {
            flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
            gso_type,
            hdr_len: first.hdr_len as u16,
            gso_size: first.payload as u16,
            csum_start: l4 as u16,
            csum_offset: 16,
        }
        .write(hbuf);
        Some(&self.buf[..VNET_HDR_LEN + len])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SRC4: [u8; 4] = [10, 0, 0, 1];
    const DST4: [u8; 4] = [10, 0, 0, 2];
    const SRC6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const DST6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
    const TS_OPTS: [u8; 12] = [1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9];
    const SYN: u8 = 0x02;
    const URG: u8 = 0x20;

    /// Independent RFC 1071 sum: 32-bit accumulator over the
    /// concatenation of `parts`, folded at the end (not complemented).
    fn sum_all(parts: &[&[u8]]) -> u16 {
        let bytes: Vec<u8> = parts.concat();
        let mut acc: u32 = 0;
        let mut i = 0;
        while i < bytes.len() {
            let hi = u32::from(bytes[i]) << 8;
            let lo = bytes.get(i + 1).map_or(0, |b| u32::from(*b));
            acc += hi | lo;
            i += 2;
        }
        while acc > 0xffff {
            acc = (acc >> 16) + (acc & 0xffff);
        }
        acc as u16
    }

    fn pseudo(ip: &[u8], proto: u8) -> Vec<u8> {
        let (v6, l4) = if ip[0] >> 4 == 6 {
            (true, 40)
        } else {
            (false, usize::from(ip[0] & 0xf) * 4)
        };
        let len = (ip.len() - l4) as u32;
        let mut p = Vec::new();
        if v6 {
            p.extend_from_slice(&ip[8..40]);
            p.extend_from_slice(&len.to_be_bytes());
            p.extend_from_slice(&[0, 0, 0, proto]);
        } else {
            p.extend_from_slice(&ip[12..20]);
            p.extend_from_slice(&[0, proto]);
            p.extend_from_slice(&(len as u16).to_be_bytes());
        }
        p
    }

    /// Asserts that `ip` is a well-formed IPv4/IPv6 TCP or UDP packet with
    /// correct lengths and checksums.
    fn verify(ip: &[u8]) {
        let (l4, proto) = if ip[0] >> 4 == 6 {
            assert_eq!(
                usize::from(be16(ip, 4)) + 40,
                ip.len(),
                "IPv6 payload length"
            );
            (40, ip[6])
        } else {
            let ihl = usize::from(ip[0] & 0xf) * 4;
            assert_eq!(usize::from(be16(ip, 2)), ip.len(), "IPv4 total length");
            assert_eq!(sum_all(&[&ip[..ihl]]), 0xffff, "IPv4 header checksum");
            (ihl, ip[9])
        };
        if proto == PROTO_UDP {
            assert_eq!(usize::from(be16(ip, l4 + 4)), ip.len() - l4, "UDP length");
            assert_ne!(be16(ip, l4 + 6), 0, "UDP checksum present");
        }
        let ph = pseudo(ip, proto);
        assert_eq!(sum_all(&[&ph, &ip[l4..]]), 0xffff, "L4 checksum");
    }

    /// Fills in the IPv4 header checksum and the L4 checksum (test-side
    /// code, independent of the module's).
    fn fill_checksums(ip: &mut [u8]) {
        let (l4, proto) = if ip[0] >> 4 == 6 {
            (40, ip[6])
        } else {
            let ihl = usize::from(ip[0] & 0xf) * 4;
            ip[10..12].fill(0);
            let c = !sum_all(&[&ip[..ihl]]);
            ip[10..12].copy_from_slice(&c.to_be_bytes());
            (ihl, ip[9])
        };
        let at = l4 + if proto == PROTO_TCP { 16 } else { 6 };
        ip[at..at + 2].fill(0);
        let ph = pseudo(ip, proto);
        let mut c = !sum_all(&[&ph, &ip[l4..]]);
        if c == 0 && proto == PROTO_UDP {
            c = 0xffff;
        }
        ip[at..at + 2].copy_from_slice(&c.to_be_bytes());
    }

    fn ip_header(v6: bool, proto: u8, id: u16, l4_len: usize, v4_opts: &[u8]) -> Vec<u8> {
        if v6 {
            let mut h = vec![0x60, 0x00, 0x00, 0x00];
            h.extend_from_slice(&(l4_len as u16).to_be_bytes());
            h.extend_from_slice(&[proto, 64]);
            h.extend_from_slice(&SRC6);
            h.extend_from_slice(&DST6);
            h
        } else {
            let ihl = 20 + v4_opts.len();
            let mut h = vec![0x40 | (ihl / 4) as u8, 0];
            h.extend_from_slice(&((ihl + l4_len) as u16).to_be_bytes());
            h.extend_from_slice(&id.to_be_bytes());
            h.extend_from_slice(&[0x40, 0, 64, proto, 0, 0]);
            h.extend_from_slice(&SRC4);
            h.extend_from_slice(&DST4);
            h.extend_from_slice(v4_opts);
            h
        }
    }

    fn tcp_header(seq: u32, flags: u8, opts: &[u8]) -> Vec<u8> {
        let mut t = vec![0x9c, 0x40, 0x01, 0xbb];
        t.extend_from_slice(&seq.to_be_bytes());
        t.extend_from_slice(&0x0102_0304u32.to_be_bytes());
        t.push((((20 + opts.len()) / 4) as u8) << 4);
        t.push(flags);
        t.extend_from_slice(&[0x20, 0x00, 0, 0, 0, 0]);
        t.extend_from_slice(opts);
        t
    }

    /// A TCP segment with valid checksums.
    fn tcp(v6: bool, id: u16, seq: u32, flags: u8, opts: &[u8], payload: &[u8]) -> Vec<u8> {
        let t = tcp_header(seq, flags, opts);
        let mut p = ip_header(v6, PROTO_TCP, id, t.len() + payload.len(), &[]);
        p.extend_from_slice(&t);
        p.extend_from_slice(payload);
        fill_checksums(&mut p);
        p
    }

    /// A UDP datagram with valid checksums.
    fn udp(v6: bool, id: u16, payload: &[u8]) -> Vec<u8> {
        let mut p = ip_header(v6, PROTO_UDP, id, 8 + payload.len(), &[]);
        p.extend_from_slice(&[0x13, 0x88, 0x11, 0x94]);
        p.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        p.extend_from_slice(&[0, 0]);
        p.extend_from_slice(payload);
        fill_checksums(&mut p);
        p
    }

    fn pattern(n: usize, salt: usize) -> Vec<u8> {
        (0..n).map(|i| ((i * 7 + salt) % 251) as u8).collect()
    }

    /// Turns a full packet into what a TUN read with offloads returns: the
    /// L4 checksum field holds the pseudo-header sum (CHECKSUM_PARTIAL).
    fn as_gso(mut ip: Vec<u8>, gso_type: u8, gso_size: u16) -> (VnetHdr, Vec<u8>) {
        let (l4, proto) = if ip[0] >> 4 == 6 {
            (40, ip[6])
        } else {
            (usize::from(ip[0] & 0xf) * 4, ip[9])
        };
        let (off, l4h) = if proto == PROTO_TCP {
            (16, usize::from(ip[l4 + 12] >> 4) * 4)
        } else {
            (6, 8)
        };
        let ph = sum_all(&[&pseudo(&ip, proto)]);
        ip[l4 + off..l4 + off + 2].copy_from_slice(&ph.to_be_bytes());
        let hdr = VnetHdr {
            flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
            gso_type,
            hdr_len: (l4 + l4h) as u16,
            gso_size,
            csum_start: l4 as u16,
            csum_offset: off as u16,
        };
        (hdr, ip)
    }

    fn split(hdr: VnetHdr, pkt: &[u8]) -> Vec<Vec<u8>> {
        let mut s = Segmenter::new(hdr, pkt).expect("segmenter");
        let mut out = vec![0u8; 65536];
        let mut v = Vec::new();
        while let Some(n) = s.next_into(&mut out) {
            v.push(out[..n].to_vec());
        }
        assert_eq!(v.len(), s.count(), "count matches the packets yielded");
        v
    }

    #[test]
    fn vnet_hdr_parse_write() {
        let h = VnetHdr {
            flags: 1,
            gso_type: 0x81,
            hdr_len: 0x1234,
            gso_size: 1360,
            csum_start: 20,
            csum_offset: 16,
        };
        let mut b = [0u8; VNET_HDR_LEN];
        h.write(&mut b);
        assert_eq!(&b[2..4], &0x1234u16.to_ne_bytes());
        assert_eq!(VnetHdr::parse(&b), Some(h));
        assert!(h.is_gso());
        assert!(!VnetHdr {
            gso_type: VIRTIO_NET_HDR_GSO_ECN,
            ..h
        }
        .is_gso());
        assert_eq!(VnetHdr::parse(&b[..9]), None);
        let mut short = [0xaau8; 9];
        h.write(&mut short);
        assert_eq!(short, [0xaa; 9], "short buffer left untouched");
    }

    fn check_tso(v6: bool) {
        let payload = pattern(10_000, 3);
        let flags = TCP_ACK | TCP_PSH | TCP_FIN | TCP_CWR;
        let orig = tcp(v6, 0xfffe, 0xffff_f000, flags, &TS_OPTS, &payload);
        let ty = if v6 {
            VIRTIO_NET_HDR_GSO_TCPV6
        } else {
            VIRTIO_NET_HDR_GSO_TCPV4
        };
        let (hdr, pkt) = as_gso(orig, ty | VIRTIO_NET_HDR_GSO_ECN, 1360);
        let segs = split(hdr, &pkt);
        assert_eq!(segs.len(), 8);
        let l4 = if v6 { 40 } else { 20 };
        let hl = l4 + 32;
        for (i, s) in segs.iter().enumerate() {
            verify(s);
            let plen = if i == 7 { 10_000 - 7 * 1360 } else { 1360 };
            assert_eq!(s.len(), hl + plen, "segment {i} length");
            assert_eq!(
                &s[hl..],
                &payload[i * 1360..i * 1360 + plen],
                "segment {i} payload"
            );
            assert_eq!(&s[l4 + 20..hl], &TS_OPTS, "options copied");
            assert_eq!(
                be32(s, l4 + 4),
                0xffff_f000u32.wrapping_add((i * 1360) as u32),
                "seq"
            );
            assert_eq!(be32(s, l4 + 8), 0x0102_0304, "ack");
            let f = s[l4 + 13];
            let mut want = TCP_ACK;
            if i == 0 {
                want |= TCP_CWR;
            }
            if i == 7 {
                want |= TCP_PSH | TCP_FIN;
            }
            assert_eq!(f, want, "segment {i} flags");
            if !v6 {
                assert_eq!(be16(s, 4), 0xfffeu16.wrapping_add(i as u16), "IPv4 id");
            }
        }
    }

    #[test]
    fn tso_split_v4() {
        check_tso(false);
    }

    #[test]
    fn tso_split_v6() {
        check_tso(true);
    }

    #[test]
    fn tso_split_v4_with_ip_options() {
        let payload = pattern(3000, 1);
        let t = tcp_header(1000, TCP_ACK, &[]);
        // Two NOPs, EOL padding: IHL 6.
        let mut p = ip_header(false, PROTO_TCP, 7, t.len() + payload.len(), &[1, 1, 1, 0]);
        p.extend_from_slice(&t);
        p.extend_from_slice(&payload);
        fill_checksums(&mut p);
        let (hdr, pkt) = as_gso(p, VIRTIO_NET_HDR_GSO_TCPV4, 1000);
        assert_eq!(hdr.csum_start, 24);
        let segs = split(hdr, &pkt);
        assert_eq!(segs.len(), 3);
        for s in &segs {
            verify(s);
            assert_eq!(s.len(), 24 + 20 + 1000);
        }
    }

    fn check_uso(v6: bool) {
        let payload = pattern(5000, 9);
        let (hdr, pkt) = as_gso(udp(v6, 100, &payload), VIRTIO_NET_HDR_GSO_UDP_L4, 1200);
        let segs = split(hdr, &pkt);
        assert_eq!(segs.len(), 5);
        let l4 = if v6 { 40 } else { 20 };
        for (i, s) in segs.iter().enumerate() {
            verify(s);
            let plen = if i == 4 { 200 } else { 1200 };
            assert_eq!(s.len(), l4 + 8 + plen);
            assert_eq!(&s[l4 + 8..], &payload[i * 1200..i * 1200 + plen]);
            assert_eq!(&s[l4..l4 + 4], &[0x13, 0x88, 0x11, 0x94], "ports");
            if !v6 {
                assert_eq!(be16(s, 4), 100 + i as u16, "IPv4 id");
            }
        }
    }

    #[test]
    fn uso_split_v4() {
        check_uso(false);
    }

    #[test]
    fn uso_split_v6() {
        check_uso(true);
    }

    #[test]
    fn udp_zero_checksum_sent_as_ffff() {
        // Search for a one-byte payload whose UDP checksum computes to 0.
        let mut found = false;
        for b in 0..=255u8 {
            for c in 0..=255u8 {
                let (hdr, pkt) = as_gso(udp(false, 1, &[b, c, 0, 0]), VIRTIO_NET_HDR_GSO_UDP_L4, 2);
                let segs = split(hdr, &pkt);
                for s in &segs {
                    verify(s);
                    if be16(s, 26) == 0xffff {
                        found = true;
                    }
                }
            }
        }
        assert!(found, "some segment hit the 0 → 0xffff case");
    }

    #[test]
    fn complete_checksum_non_gso() {
        for v6 in [false, true] {
            let orig = tcp(v6, 5, 77, TCP_ACK | TCP_PSH, &[], &pattern(333, 0));
            let (mut hdr, pkt) = as_gso(orig.clone(), VIRTIO_NET_HDR_GSO_NONE, 0);
            hdr.gso_size = 0;
            let mut m = pkt.clone();
            complete_checksum(&hdr, &mut m).unwrap();
            assert_eq!(m, orig, "checksum completed to the original");
            let segs = split(hdr, &pkt);
            assert_eq!(segs, vec![orig.clone()]);
            // Without NEEDS_CSUM: unchanged.
            let segs = split(VnetHdr::default(), &pkt);
            assert_eq!(segs, vec![pkt.clone()]);
            // UDP too.
            let orig = udp(v6, 1, &pattern(101, 4));
            let (hdr, mut m) = as_gso(orig.clone(), VIRTIO_NET_HDR_GSO_NONE, 0);
            complete_checksum(&hdr, &mut m).unwrap();
            assert_eq!(m, orig);
        }
        let hdr = VnetHdr {
            flags: 1,
            csum_start: 20,
            csum_offset: 16,
            ..VnetHdr::default()
        };
        assert!(complete_checksum(&hdr, &mut [0u8; 37]).is_err());
        assert!(complete_checksum(&hdr, &mut [0u8; 38]).is_ok());
        assert!(Segmenter::new(hdr, &[0u8; 37]).is_err());
    }

    #[test]
    fn next_into_small_buffer_does_not_advance() {
        let (hdr, pkt) = as_gso(tcp(false, 1, 1, TCP_ACK, &[], &pattern(3000, 0)), 1, 1000);
        let mut s = Segmenter::new(hdr, &pkt).unwrap();
        assert_eq!(s.next_into(&mut [0u8; 100]), None);
        let mut out = [0u8; 2000];
        assert_eq!(s.next_into(&mut out), Some(1040));
        assert_eq!(be32(&out, 24), 1, "still the first segment");
    }

    #[test]
    fn malformed_inputs() {
        let (hdr, pkt) = as_gso(
            tcp(false, 1, 1, TCP_ACK, &TS_OPTS, &pattern(3000, 0)),
            1,
            1000,
        );
        assert!(Segmenter::new(hdr, &pkt).is_ok());
        let err = |h: VnetHdr, p: &[u8]| Segmenter::new(h, p).unwrap_err();
        // Truncated: inside the IP header, inside the TCP header, inside
        // the options.
        for n in [0, 1, 19, 20, 39, 40, 51] {
            assert!(
                matches!(err(hdr, &pkt[..n]), Malformed(_)),
                "truncated to {n}"
            );
        }
        assert_eq!(
            err(VnetHdr { gso_size: 0, ..hdr }, &pkt),
            Malformed("gso_size is 0")
        );
        let e = err(
            VnetHdr {
                csum_start: 60000,
                ..hdr
            },
            &pkt,
        );
        assert_eq!(e, Malformed("csum_start is not the IP header length"));
        let e = err(
            VnetHdr {
                csum_offset: 6,
                ..hdr
            },
            &pkt,
        );
        assert_eq!(e, Malformed("csum_offset does not match the protocol"));
        // Wrong protocol for the GSO type.
        let e = err(
            VnetHdr {
                gso_type: VIRTIO_NET_HDR_GSO_UDP_L4,
                csum_offset: 6,
                ..hdr
            },
            &pkt,
        );
        assert_eq!(e, Malformed("IPv4 protocol does not match the GSO type"));
        let e = err(
            VnetHdr {
                gso_type: VIRTIO_NET_HDR_GSO_TCPV6,
                ..hdr
            },
            &pkt,
        );
        assert_eq!(e, Malformed("IP version does not match the GSO type"));
        assert_eq!(
            err(VnetHdr { gso_type: 3, ..hdr }, &pkt),
            OffloadError::UnsupportedGsoType(3)
        );
        // Data offset below 5, or past the end.
        let mut p = pkt.clone();
        p[32] = 0x40;
        assert!(Segmenter::new(hdr, &p).is_err());
        p[32] = 0xf0;
        assert!(Segmenter::new(hdr, &p[..70]).is_err());
        // Fragment.
        let mut p = pkt.clone();
        p[6] |= 0x20;
        assert_eq!(err(hdr, &p), Malformed("IPv4 fragment"));
        // IPv6 with an extension header (hop-by-hop) before TCP.
        let (h6, mut p6) = as_gso(tcp(true, 0, 1, TCP_ACK, &[], &pattern(3000, 0)), 4, 1000);
        assert!(Segmenter::new(h6, &p6).is_ok());
        p6[6] = 0;
        assert!(Segmenter::new(h6, &p6).is_err());
        // Not IP.
        let mut p = pkt.clone();
        p[0] = 0x55;
        assert!(Segmenter::new(hdr, &p).is_err());
        // gso_size too large for the IPv4 total length.
        assert!(Segmenter::new(
            VnetHdr {
                gso_size: 65535,
                ..hdr
            },
            &pkt
        )
        .is_err());
    }

    // -- Coalescer ------------------------------------------------------

    /// `n` consecutive segments of one flow, `size` bytes each (the last
    /// `last` bytes), ids consecutive, PSH on the last if `psh`.
    fn stream(v6: bool, n: usize, size: usize, last: usize, psh: bool) -> Vec<Vec<u8>> {
        let mut seq = 0xffff_ff00u32;
        (0..n)
            .map(|i| {
                let plen = if i + 1 == n { last } else { size };
                let flags = if psh && i + 1 == n {
                    TCP_ACK | TCP_PSH
                } else {
                    TCP_ACK
                };
                let p = tcp(
                    v6,
                    0xfffe_u16.wrapping_add(i as u16),
                    seq,
                    flags,
                    &TS_OPTS,
                    &pattern(plen, i),
                );
                seq = seq.wrapping_add(plen as u32);
                p
            })
            .collect()
    }

    fn coalesce_round_trip(v6: bool, n: usize, size: usize, last: usize, psh: bool) {
        let segs = stream(v6, n, size, last, psh);
        let mut c = Coalescer::new();
        for s in &segs {
            assert!(c.push(s), "segment absorbed");
        }
        assert_eq!(c.segments(), n);
        let out = c.take().unwrap().to_vec();
        assert!(c.is_empty());
        assert!(c.take().is_none());
        let hdr = VnetHdr::parse(&out).unwrap();
        let l4 = if v6 { 40 } else { 20 };
        assert_eq!(hdr.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
        let want_ty = if v6 {
            VIRTIO_NET_HDR_GSO_TCPV6
        } else {
            VIRTIO_NET_HDR_GSO_TCPV4
        };
        assert_eq!(hdr.gso_type, want_ty);
        assert_eq!(usize::from(hdr.gso_size), size);
        assert_eq!(usize::from(hdr.hdr_len), l4 + 32);
        assert_eq!((hdr.csum_start, hdr.csum_offset), (l4 as u16, 16));
        let sp = &out[VNET_HDR_LEN..];
        assert_eq!(sp.len(), l4 + 32 + (n - 1) * size + last);
        // What Linux's virtio_net_hdr_to_skb needs to take it as GSO: the
        // checksum field inside, and more payload than one gso_size.
        assert!(usize::from(hdr.csum_start + hdr.csum_offset) + 2 <= sp.len());
        assert!(sp.len() - usize::from(hdr.hdr_len) > usize::from(hdr.gso_size));
        if v6 {
            assert_eq!(usize::from(be16(sp, 4)), sp.len() - 40);
        } else {
            assert_eq!(usize::from(be16(sp, 2)), sp.len());
            assert_eq!(sum_all(&[&sp[..20]]), 0xffff, "IPv4 header checksum");
        }
        // The checksum field holds the pseudo-header sum: completing it
        // gives a valid checksum over the whole super-packet.
        assert_eq!(be16(sp, l4 + 16), sum_all(&[&pseudo(sp, PROTO_TCP)]));
        let mut full = sp.to_vec();
        complete_checksum(&hdr, &mut full).unwrap();
        verify(&full);
        // Round trip: segmenting gives back the originals byte for byte
        // (their ids were consecutive).
        assert_eq!(split(hdr, sp), segs);
    }

    #[test]
    fn coalesce_round_trip_v4() {
        coalesce_round_trip(false, 5, 1360, 1360, false);
        coalesce_round_trip(false, 7, 1000, 300, true);
        coalesce_round_trip(false, 2, 1, 1, true);
    }

    #[test]
    fn coalesce_round_trip_v6() {
        coalesce_round_trip(true, 5, 1360, 1360, false);
        coalesce_round_trip(true, 4, 1200, 17, false);
    }

    #[test]
    fn coalesce_up_to_64k() {
        // 65535 - 20 - 32 = 65483 payload bytes: 48 segments of 1360 = 65280.
        let segs = stream(false, 49, 1360, 1360, false);
        let mut c = Coalescer::new();
        for s in &segs[..48] {
            assert!(c.push(s));
        }
        assert!(!c.push(&segs[48]), "would exceed 65535");
        let n = c.take().unwrap().len();
        assert_eq!(n, VNET_HDR_LEN + 52 + 48 * 1360);
        assert!(c.push(&segs[48]), "starts a new one");
    }

    #[test]
    fn single_pending_is_unchanged() {
        let segs = stream(false, 1, 1000, 1000, true);
        let mut c = Coalescer::new();
        assert!(c.push(&segs[0]));
        let out = c.take().unwrap();
        assert_eq!(VnetHdr::parse(out), Some(VnetHdr::default()));
        assert_eq!(&out[VNET_HDR_LEN..], &segs[0][..]);
    }

    #[test]
    fn psh_first_closes() {
        let s = stream(false, 2, 1000, 1000, false);
        let mut a = s[0].clone();
        a[33] |= TCP_PSH;
        fill_checksums(&mut a);
        let mut c = Coalescer::new();
        assert!(c.push(&a), "a PSH segment may start a super-packet");
        assert!(!c.push(&s[1]), "but nothing may follow it");
        let out = c.take().unwrap();
        assert_eq!(&out[VNET_HDR_LEN..], &a[..], "single, unchanged");
    }

    #[test]
    fn oversized_ipv6_not_coalesced() {
        // IPv6 payload length 65535: 65575 bytes, more than the buffer.
        let payload = pattern(65535 - 20, 0);
        let p = tcp(true, 0, 1, TCP_ACK, &[], &payload);
        assert_eq!(p.len(), 65575);
        let mut c = Coalescer::new();
        assert!(!c.push(&p));
        assert!(c.is_empty());
    }

    /// Whether `b` joins a pending `a`.
    fn joins(a: &[u8], b: &[u8]) -> bool {
        let mut c = Coalescer::new();
        assert!(c.push(a), "first packet starts a super-packet");
        c.push(b)
    }

    #[test]
    fn not_coalesced() {
        for v6 in [false, true] {
            let s = stream(v6, 2, 1000, 1000, false);
            assert!(joins(&s[0], &s[1]), "baseline");
            let l4 = if v6 { 40 } else { 20 };
            // Non-consecutive sequence number (a gap, and a retransmit).
            for seq in [1000u32, 1001, 0, 999] {
                let mut b = s[1].clone();
                b[l4 + 4..l4 + 8].copy_from_slice(&0xffff_ff00u32.wrapping_add(seq).to_be_bytes());
                fill_checksums(&mut b);
                assert_eq!(joins(&s[0], &b), seq == 1000, "seq +{seq}");
            }
            // Differing flags.
            for f in [
                SYN | TCP_ACK,
                TCP_FIN | TCP_ACK,
                0x04 | TCP_ACK,
                URG | TCP_ACK,
                0x40 | TCP_ACK,
                TCP_CWR | TCP_ACK,
                0,
            ] {
                let mut b = s[1].clone();
                b[l4 + 13] = f;
                fill_checksums(&mut b);
                assert!(!joins(&s[0], &b), "flags {f:#x}");
            }
            // PSH then another.
            let p = stream(v6, 3, 1000, 1000, false);
            let mut b = p[1].clone();
            b[l4 + 13] |= TCP_PSH;
            fill_checksums(&mut b);
            let mut c = Coalescer::new();
            assert!(c.push(&p[0]) && c.push(&b), "PSH may end it");
            assert!(!c.push(&p[2]), "nothing after PSH");
            // Shorter then another.
            let sh = stream(v6, 3, 1000, 1000, false);
            let mut seq = 0xffff_ff00u32;
            let a = tcp(v6, 0, seq, TCP_ACK, &TS_OPTS, &pattern(1000, 0));
            seq = seq.wrapping_add(1000);
            let b = tcp(v6, 1, seq, TCP_ACK, &TS_OPTS, &pattern(500, 0));
            seq = seq.wrapping_add(500);
            let d = tcp(v6, 2, seq, TCP_ACK, &TS_OPTS, &pattern(500, 0));
            let mut c = Coalescer::new();
            assert!(c.push(&a) && c.push(&b));
            assert!(!c.push(&d), "nothing after a short segment");
            // Longer than the first.
            let b = tcp(
                v6,
                1,
                0xffff_ff00u32.wrapping_add(1000),
                TCP_ACK,
                &TS_OPTS,
                &pattern(1001, 0),
            );
            assert!(!joins(&sh[0], &b), "longer than gso_size");
            // Pure ACK: neither starts nor joins.
            let ack = tcp(
                v6,
                1,
                0xffff_ff00u32.wrapping_add(1000),
                TCP_ACK,
                &TS_OPTS,
                &[],
            );
            assert!(!joins(&s[0], &ack));
            assert!(!Coalescer::new().push(&ack));
            // UDP.
            let u = udp(v6, 1, &pattern(100, 0));
            assert!(!joins(&s[0], &u));
            assert!(!Coalescer::new().push(&u));
            // Different flow: port, address, ack, options, window, TTL, TOS.
            let fields: &[(usize, u8)] = &[
                (l4 + 1, 0x41),
                (l4 + 3, 0xbc),
                (l4 + 11, 5),
                (l4 + 14, 0x30),
                (l4 + 27, 8),
                (if v6 { 39 } else { 19 }, 3),
                (if v6 { 23 } else { 15 }, 3),
                (if v6 { 7 } else { 8 }, 63),
                (1, 0x04),
            ];
            for &(at, v) in fields {
                let mut b = s[1].clone();
                b[at] = v;
                fill_checksums(&mut b);
                assert!(!joins(&s[0], &b), "byte {at} differs");
            }
            // Different option length.
            let b = tcp(
                v6,
                1,
                0xffff_ff00u32.wrapping_add(1000),
                TCP_ACK,
                &[1, 1, 1, 1],
                &pattern(1000, 0),
            );
            assert!(!joins(&s[0], &b), "options differ in length");
        }
        // IPv4 specific: DF differs, options, fragment, total length off.
        let s = stream(false, 2, 1000, 1000, false);
        let mut b = s[1].clone();
        b[6] = 0;
        fill_checksums(&mut b);
        assert!(!joins(&s[0], &b), "DF differs");
        let mut b = s[1].clone();
        b[6] = 0x20;
        fill_checksums(&mut b);
        assert!(!Coalescer::new().push(&b), "fragment");
        assert!(
            !Coalescer::new().push(&s[1][..s[1].len() - 1]),
            "total length mismatch"
        );
        // IPv4 id not consecutive: still coalesced (documented choice).
        let mut b = s[1].clone();
        b[4] = 0x12;
        fill_checksums(&mut b);
        assert!(joins(&s[0], &b), "ids need not be consecutive");
        // Different IP version.
        let s6 = stream(true, 2, 1000, 1000, false);
        assert!(!joins(&s[0], &s6[1]));
    }

    #[test]
    fn caller_flow() {
        // The data plane's loop: a stream, a UDP packet, another stream.
        let a = stream(false, 3, 1000, 1000, false);
        let u = udp(false, 9, &pattern(50, 0));
        let b = stream(true, 2, 800, 100, false);
        let mut writes: Vec<Vec<u8>> = Vec::new();
        let mut c = Coalescer::new();
        for p in a.iter().chain(std::iter::once(&u)).chain(b.iter()) {
            if !c.push(p) {
                if let Some(w) = c.take() {
                    writes.push(w.to_vec());
                }
                if !c.push(p) {
                    let mut w = vec![0u8; VNET_HDR_LEN];
                    w.extend_from_slice(p);
                    writes.push(w);
                }
            }
        }
        if let Some(w) = c.take() {
            writes.push(w.to_vec());
        }
        assert_eq!(writes.len(), 3);
        assert_eq!(
            VnetHdr::parse(&writes[0]).unwrap().gso_type,
            VIRTIO_NET_HDR_GSO_TCPV4
        );
        assert_eq!(&writes[1][VNET_HDR_LEN..], &u[..]);
        assert_eq!(
            VnetHdr::parse(&writes[2]).unwrap().gso_type,
            VIRTIO_NET_HDR_GSO_TCPV6
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The word-at-a-time sum equals RFC 1071's 16-bit definition.
        #[test]
        fn checksum_is_rfc1071(data in proptest::collection::vec(any::<u8>(), 0..3000), seed in any::<u16>()) {
            let mut acc = u64::from(seed);
            for c in data.chunks(2) {
                acc += u64::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
            }
            while acc >> 16 != 0 {
                acc = (acc & 0xffff) + (acc >> 16);
            }
            prop_assert_eq!(checksum(&data, u32::from(seed)), !(acc as u16));
        }

        /// Random lengths, sizes and flags: every segment verifies and the
        /// payloads reassemble to the original.
        #[test]
        fn split_verifies(
            v6 in any::<bool>(),
            is_udp in any::<bool>(),
            plen in 0usize..9000,
            gso in 64u16..1500,
            flags in any::<u8>(),
            seq in any::<u32>(),
            id in any::<u16>(),
            nopts in 0usize..10,
        ) {
            let payload = pattern(plen, plen);
            let (pkt, ty) = if is_udp {
                (udp(v6, id, &payload), VIRTIO_NET_HDR_GSO_UDP_L4)
            } else {
                let opts = vec![1u8; nopts * 4];
                let ty = if v6 { VIRTIO_NET_HDR_GSO_TCPV6 } else { VIRTIO_NET_HDR_GSO_TCPV4 };
                (tcp(v6, id, seq, flags, &opts, &payload), ty)
            };
            let (hdr, gp) = as_gso(pkt.clone(), ty, gso);
            let segs = split(hdr, &gp);
            prop_assert_eq!(segs.len(), plen.div_ceil(usize::from(gso)).max(1));
            let mut joined = Vec::new();
            for s in &segs {
                verify(s);
                let hl = usize::from(hdr.hdr_len);
                prop_assert!(s.len() - hl <= usize::from(gso));
                joined.extend_from_slice(&s[hl..]);
            }
            prop_assert_eq!(joined, payload);
            if segs.len() == 1 && !is_udp {
                // One segment keeps every flag: it is the original packet.
                prop_assert_eq!(&segs[0], &pkt);
            }
        }

        /// Coalescing any in-order stream and segmenting the result gives
        /// back the original segments byte for byte.
        #[test]
        fn coalesce_then_split_round_trips(
            v6 in any::<bool>(),
            n in 2usize..20,
            size in 1usize..1500,
            last_frac in 1usize..=100,
            psh in any::<bool>(),
        ) {
            let last = (size * last_frac).div_ceil(100);
            coalesce_round_trip(v6, n, size, last, psh);
        }

        /// Arbitrary header and bytes never panic the segmenter.
        #[test]
        fn segmenter_never_panics(
            hdr in any::<[u8; VNET_HDR_LEN]>(),
            pkt in proptest::collection::vec(any::<u8>(), 0..300),
            out_len in 0usize..400,
        ) {
            let h = VnetHdr::parse(&hdr).unwrap();
            let mut m = pkt.clone();
            let _ = complete_checksum(&h, &mut m);
            if let Ok(mut s) = Segmenter::new(h, &pkt) {
                let mut out = vec![0u8; out_len];
                let mut n = 0;
                while s.next_into(&mut out).is_some() {
                    n += 1;
                }
                prop_assert!(n <= s.count());
            }
        }

        /// Mutations of a valid GSO packet and its header never panic, and
        /// whatever is yielded is within bounds.
        #[test]
        fn mutated_gso_never_panics(
            v6 in any::<bool>(),
            is_udp in any::<bool>(),
            muts in proptest::collection::vec((any::<u16>(), any::<u8>()), 1..6),
            hmut in proptest::option::of((0usize..VNET_HDR_LEN, any::<u8>())),
            cut in proptest::option::of(any::<u16>()),
        ) {
            let payload = pattern(2000, 0);
            let (pkt, ty) = if is_udp {
                (udp(v6, 1, &payload), VIRTIO_NET_HDR_GSO_UDP_L4)
            } else {
                (tcp(v6, 1, 1, TCP_ACK, &TS_OPTS, &payload), if v6 { 4 } else { 1 })
            };
            let (hdr, mut gp) = as_gso(pkt, ty, 700);
            for (at, v) in muts {
                let n = gp.len();
                gp[usize::from(at) % n] = v;
            }
            if let Some(c) = cut {
                gp.truncate(usize::from(c) % (gp.len() + 1));
            }
            let mut hb = [0u8; VNET_HDR_LEN];
            hdr.write(&mut hb);
            if let Some((i, v)) = hmut {
                hb[i] = v;
            }
            let h = VnetHdr::parse(&hb).unwrap();
            if let Ok(mut s) = Segmenter::new(h, &gp) {
                let mut out = vec![0u8; 65536];
                while let Some(n) = s.next_into(&mut out) {
                    prop_assert!(n <= 65535);
                }
            }
            let mut c = Coalescer::new();
            let _ = c.push(&gp);
            let _ = c.take();
        }

        /// Arbitrary packets and mutated segments into the coalescer never
        /// panic; whatever it emits is within 64 KiB and, when coalesced,
        /// segments back into verifiable packets.
        #[test]
        fn coalescer_never_panics(
            v6 in any::<bool>(),
            n in 1usize..6,
            muts in proptest::collection::vec((any::<u8>(), any::<u16>(), any::<u8>()), 0..4),
            junk in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..120), 0..4),
        ) {
            let mut segs = stream(v6, n, 500, 200, false);
            for (which, at, v) in muts {
                let s = &mut segs[usize::from(which) % n];
                let l = s.len();
                s[usize::from(at) % l] = v;
            }
            let mut c = Coalescer::new();
            let mut out = Vec::new();
            for p in segs.iter().chain(junk.iter()) {
                if !c.push(p) {
                    if let Some(b) = c.take() {
                        out.push(b.to_vec());
                    }
                    let _ = c.push(p);
                }
            }
            if let Some(b) = c.take() {
                out.push(b.to_vec());
            }
            for b in out {
                prop_assert!(b.len() <= VNET_HDR_LEN + 65535);
                let h = VnetHdr::parse(&b).unwrap();
                if h.is_gso() {
                    let parts = split(h, &b[VNET_HDR_LEN..]);
                    prop_assert!(parts.len() >= 2);
                }
            }
        }
    }
}
