//! A minimal classic-libpcap writer for IPv4/UDP datagrams, so that tests
//! can hand what vtid emits to Wireshark.
//!
//! File format: the libpcap global header (magic 0xa1b2c3d4, written
//! little-endian, version 2.4) with LINKTYPE_RAW (101): every record is a
//! bare IPv4 packet. IPv4 and UDP headers are built here; the IPv4 header
//! checksum is computed (RFC 791), the UDP checksum is 0 ("none", allowed
//! for IPv4 by RFC 768).

use std::io;
use std::net::SocketAddrV4;
use std::path::Path;

/// LINKTYPE_RAW: packets begin with an IPv4 or IPv6 header.
pub const LINKTYPE_RAW: u32 = 101;

/// Accumulates a pcap file in memory.
#[derive(Debug, Clone)]
pub struct PcapWriter {
    buf: Vec<u8>,
    records: u32,
}

impl Default for PcapWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl PcapWriter {
    /// An empty capture (global header only).
    pub fn new() -> Self {
        let mut buf = Vec::with_capacity(4096);
        buf.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes()); // magic, microsecond timestamps
        buf.extend_from_slice(&2u16.to_le_bytes()); // version major
        buf.extend_from_slice(&4u16.to_le_bytes()); // version minor
        buf.extend_from_slice(&0i32.to_le_bytes()); // thiszone
        buf.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
        buf.extend_from_slice(&65535u32.to_le_bytes()); // snaplen
        buf.extend_from_slice(&LINKTYPE_RAW.to_le_bytes());
        PcapWriter { buf, records: 0 }
    }

    /// Appends one record holding `packet` (a raw IPv4 packet), stamped one
    /// second after the previous one.
    ///
    /// # Panics
    /// If the packet is longer than the 65535-octet snap length.
    pub fn add_packet(&mut self, packet: &[u8]) {
        let len = u32::try_from(packet.len())
            .ok()
            .filter(|&l| l <= 65535)
            .expect("packet longer than the snap length");
        self.records += 1;
        self.buf
            .extend_from_slice(&(1_700_000_000 + self.records).to_le_bytes()); // ts_sec
        self.buf.extend_from_slice(&0u32.to_le_bytes()); // ts_usec
        self.buf.extend_from_slice(&len.to_le_bytes()); // incl_len
        self.buf.extend_from_slice(&len.to_le_bytes()); // orig_len
        self.buf.extend_from_slice(packet);
    }

    /// Appends an IPv4/UDP datagram carrying `payload`.
    pub fn add_udp(&mut self, src: SocketAddrV4, dst: SocketAddrV4, payload: &[u8]) {
        self.add_packet(&ipv4_udp(src, dst, payload));
    }

    /// Number of records so far.
    pub fn len(&self) -> usize {
        self.records as usize
    }

    /// Whether no record was added.
    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// The file contents.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Writes the file.
    pub fn write_to(&self, path: &Path) -> io::Result<()> {
        std::fs::write(path, &self.buf)
    }
}

/// The Internet checksum (RFC 1071) of `data`.
pub fn internet_checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An IPv4 packet (20-octet header, TTL 64, DF, protocol UDP) holding a
/// UDP datagram (checksum 0) with `payload`.
///
/// # Panics
/// If the packet would exceed 65535 octets.
pub fn ipv4_udp(src: SocketAddrV4, dst: SocketAddrV4, payload: &[u8]) -> Vec<u8> {
    let udp_len = u16::try_from(8 + payload.len()).expect("UDP datagram too long");
    let total = u16::try_from(20 + usize::from(udp_len)).expect("IPv4 packet too long");
    let mut p = Vec::with_capacity(usize::from(total));
    p.extend_from_slice(&[0x45, 0x00]); // version 4, IHL 5; DSCP/ECN 0
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&0u16.to_be_bytes()); // identification
    p.extend_from_slice(&0x4000u16.to_be_bytes()); // DF, fragment offset 0
    p.extend_from_slice(&[64, 17]); // TTL, protocol UDP
    p.extend_from_slice(&[0, 0]); // checksum, filled below
    p.extend_from_slice(&src.ip().octets());
    p.extend_from_slice(&dst.ip().octets());
    let ck = internet_checksum(&p[..20]);
    p[10..12].copy_from_slice(&ck.to_be_bytes());
    p.extend_from_slice(&src.port().to_be_bytes());
    p.extend_from_slice(&dst.port().to_be_bytes());
    p.extend_from_slice(&udp_len.to_be_bytes());
    p.extend_from_slice(&0u16.to_be_bytes()); // no UDP checksum
    p.extend_from_slice(payload);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_of_a_known_header() {
        // The classic example header (checksum field zeroed): 0xb861.
        let h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(internet_checksum(&h), 0xb861);
    }

    #[test]
    fn packet_checksums_to_zero() {
        let p = ipv4_udp(
            "192.0.2.1:500".parse().unwrap(),
            "198.51.100.2:500".parse().unwrap(),
            b"hello",
        );
        assert_eq!(p.len(), 33);
        assert_eq!(internet_checksum(&p[..20]), 0);
        assert_eq!(&p[24..26], &13u16.to_be_bytes());
    }

    #[test]
    fn global_header_and_records() {
        let mut w = PcapWriter::new();
        assert_eq!(w.as_bytes().len(), 24);
        w.add_packet(&[0x45; 20]);
        assert_eq!(w.len(), 1);
        assert_eq!(w.as_bytes().len(), 24 + 16 + 20);
    }
}
