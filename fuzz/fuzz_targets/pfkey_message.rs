//! PF_KEY v2 parser: no panics on any input, in both flavours, and
//! parse∘emit∘parse is the identity on whatever parses. The same bytes
//! also go to FreeBSD's routing-socket parser (`pfkey::freebsd_route`,
//! the other kernel socket of the FreeBSD data plane): no panics, and what
//! parses stays within its buffer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pfkey::pfkey::{Flavor, Message};

fuzz_target!(|data: &[u8]| {
    for flavor in [Flavor::Linux, Flavor::FreeBsd] {
        if let Ok(msg) = Message::parse(data, flavor) {
            if let Ok(bytes) = msg.emit(flavor) {
                let again = Message::parse(&bytes, flavor).expect("re-parse of emitted message");
                assert_eq!(again, msg);
                assert_eq!(again.emit(flavor).expect("re-emit"), bytes);
            }
        }
    }
    if let Ok(m) = pfkey::freebsd_route::parse(data) {
        assert!(usize::from(m.hdr.msglen) <= data.len());
        assert!(usize::from(m.hdr.msglen) >= pfkey::freebsd_route::RT_MSGHDR_LEN);
    }
});
