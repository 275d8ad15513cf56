//! TUN offloads: arbitrary bytes as a `virtio_net_hdr` + packet never panic
//! the segmenter, every packet it yields fits its buffer and within 64 KiB,
//! and the same bytes (whole, and cut into pieces by the first byte)
//! pushed through the coalescer never panic; a coalesced super-packet
//! segments again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vti::offload::{complete_checksum, Coalescer, Segmenter, VnetHdr, VNET_HDR_LEN};

fuzz_target!(|data: &[u8]| {
    let Some(hdr) = VnetHdr::parse(data) else {
        return;
    };
    let pkt = &data[VNET_HDR_LEN..];
    let mut copy = pkt.to_vec();
    let _ = complete_checksum(&hdr, &mut copy);
    let mut out = vec![0u8; 65536];
    if let Ok(mut s) = Segmenter::new(hdr, pkt) {
        let mut n = 0;
        while let Some(len) = s.next_into(&mut out) {
            assert!(len <= out.len());
            n += 1;
        }
        assert!(n <= s.count());
    }
    let mut c = Coalescer::new();
    let pieces = usize::from(data[0] % 8) + 1;
    let step = pkt.len() / pieces + 1;
    for p in std::iter::once(pkt).chain(pkt.chunks(step)) {
        if !c.push(p) {
            if let Some(b) = c.take() {
                check_written(b);
            }
            let _ = c.push(p);
        }
    }
    if let Some(b) = c.take() {
        check_written(b);
    }
});

fn check_written(b: &[u8]) {
    assert!(b.len() <= VNET_HDR_LEN + 65535);
    let hdr = VnetHdr::parse(b).expect("header");
    if hdr.is_gso() {
        let mut s = Segmenter::new(hdr, &b[VNET_HDR_LEN..]).expect("coalesced packet segments");
        let mut out = vec![0u8; 65536];
        while s.next_into(&mut out).is_some() {}
    }
}
