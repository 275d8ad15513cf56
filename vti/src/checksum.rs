//! The Internet checksum (RFC 1071) for everything the data plane builds or
//! rewrites: IPv4 headers, ICMP/ICMPv6 errors, TCP/UDP segments split from
//! or coalesced into offloaded packets, gateway probes.
#![forbid(unsafe_code)]

/// Adds the 16-bit big-endian words of `data` to `acc` (an odd last byte is
/// padded with a zero byte, RFC 1071 §4.1). Not folded (but reduced below
/// 2^17 before it is added, so the accumulator cannot overflow).
pub fn sum_words(data: &[u8], acc: u64) -> u64 {
    acc + u64::from(native_sum(data).to_be())
}

/// Copies `src` into `dst` (same length; the shorter one decides) and
/// returns what [`sum_words`] would for the copied bytes, in one pass over
/// them: a segment built from an offloaded read is copied and summed at
/// once instead of copied, then read again.
pub fn copy_and_sum(dst: &mut [u8], src: &[u8], acc: u64) -> u64 {
    let n = dst.len().min(src.len());
    let (dst, src) = (&mut dst[..n], &src[..n]);
    let mut lo = 0u64;
    let mut hi = 0u64;
    let mut d8 = dst.chunks_exact_mut(8);
    let mut s8 = src.chunks_exact(8);
    for (d, s) in (&mut d8).zip(&mut s8) {
        let w = u64::from_ne_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]]);
        d.copy_from_slice(&w.to_ne_bytes());
        lo += w & 0xffff_ffff;
        hi += w >> 32;
    }
    let tail = s8.remainder();
    d8.into_remainder().copy_from_slice(tail);
    // The tail starts at an offset that is a multiple of 8 (even), so its
    // words line up with the ones above.
    let t = u64::from(native_sum(tail));
    acc + u64::from(fold_native(lo + (hi & 0xffff_ffff) + (hi >> 32) + t).to_be())
}

/// The one's-complement sum of `data` taken as native-endian 16-bit words,
/// folded to 16 bits. RFC 1071 §2(B): the sum is independent of byte order
/// up to swapping the two bytes of the result, so summing native words (8
/// bytes at a time) and swapping once at the end gives the big-endian sum;
/// an odd last byte is the first (big-endian: high) byte of a word padded
/// with zero.
fn native_sum(data: &[u8]) -> u16 {
    // Two 32-bit halves of every 64-bit word, in two accumulators each
    // growing by < 2^32 per word: no overflow below 2^32 words.
    let mut lo = 0u64;
    let mut hi = 0u64;
    let mut c8 = data.chunks_exact(8);
    for c in &mut c8 {
        let w = u64::from_ne_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        lo += w & 0xffff_ffff;
        hi += w >> 32;
    }
    let mut acc = lo + (hi & 0xffff_ffff) + (hi >> 32);
    let mut c2 = c8.remainder().chunks_exact(2);
    for c in &mut c2 {
        acc += u64::from(u16::from_ne_bytes([c[0], c[1]]));
    }
    if let [b] = c2.remainder() {
        acc += u64::from(u16::from_ne_bytes([*b, 0]));
    }
    fold_native(acc)
}

/// Folds a native-word accumulator to 16 bits (end-around carry).
fn fold_native(mut acc: u64) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
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

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 1071 §3 literally: 16-bit big-endian words, odd byte padded.
    fn reference(data: &[u8], mut acc: u64) -> u64 {
        let mut it = data.chunks(2);
        for c in &mut it {
            acc += u64::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
        }
        acc
    }

    proptest::proptest! {
        #[test]
        fn sums_match_rfc_1071(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..3000), seed in 0u64..1 << 40) {
            proptest::prop_assert_eq!(fold(sum_words(&data, seed)), fold(reference(&data, seed)));
            let mut dst = vec![0u8; data.len()];
            let s = copy_and_sum(&mut dst, &data, seed);
            proptest::prop_assert_eq!(&dst, &data);
            proptest::prop_assert_eq!(fold(s), fold(reference(&data, seed)));
        }
    }

    #[test]
    fn rfc_1071_example() {
        // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2.
        let d = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum_words(&d, 0)), 0xddf2);
        assert_eq!(checksum(&d, 0), !0xddf2);
        let mut o = [0u8; 8];
        assert_eq!(fold(copy_and_sum(&mut o, &d, 0)), 0xddf2);
        // An odd byte pads on the right: 01 -> 0100.
        assert_eq!(fold(sum_words(&[1], 0)), 0x0100);
    }
}
