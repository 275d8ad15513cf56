//! The Internet checksum (RFC 1071) for everything the data plane builds or
//! rewrites: IPv4 headers, ICMP/ICMPv6 errors, TCP/UDP segments split from
//! or coalesced into offloaded packets, gateway probes.
#![forbid(unsafe_code)]

/// Adds the 16-bit big-endian words of `data` to `acc` (an odd last byte is
/// padded with a zero byte, RFC 1071 §4.1). Not folded.
pub fn sum_words(data: &[u8], mut acc: u64) -> u64 {
    // 32-bit big-endian words at a time: `hi·2^16 + lo` ≡ `hi + lo` in
    // one's-complement arithmetic (2^16 ≡ 1 mod 2^16 − 1), so the folded
    // sum is the same as over 16-bit words (RFC 1071 §2(B)), with half the
    // additions; a u64 cannot overflow below 2^32 words.
    let mut quads = data.chunks_exact(4);
    for c in &mut quads {
        acc += u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
    }
    let mut pairs = quads.remainder().chunks_exact(2);
    for c in &mut pairs {
        acc += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [b] = pairs.remainder() {
        acc += u64::from(*b) << 8;
    }
    acc
}

/// Folds a one's-complement accumulator to 16 bits (not complemented).
pub fn fold(mut acc: u64) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// The Internet checksum (RFC 1071) of `data` seeded with `initial` (an
/// unfolded or folded partial sum): the one's complement of the folded
/// one's-complement sum. The value to store in a checksum field that was
/// zero (or held the seed) while summing.
pub fn checksum(data: &[u8], initial: u32) -> u16 {
    !fold(sum_words(data, u64::from(initial)))
}

/// The folded, *not* complemented, one's-complement sum of the TCP/UDP
/// pseudo-header (RFC 9293 §3.1 for IPv4, RFC 8200 §8.1 for IPv6; RFC 768):
/// source and destination address (both 4 or both 16 bytes), protocol and
/// L4 length. This is what the checksum field of a `CHECKSUM_PARTIAL`
/// packet holds, and a seed for [`checksum`].
pub fn pseudo_header_sum(src: &[u8], dst: &[u8], proto: u8, l4_len: u32) -> u16 {
    let acc = sum_words(dst, sum_words(src, 0))
        + u64::from(proto)
        + u64::from(l4_len >> 16)
        + u64::from(l4_len & 0xffff);
    fold(acc)
}
