//! PF_KEY v2 parser: no panics on any input, in both flavours, and
//! parse∘emit∘parse is the identity on whatever parses.
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
});
