//! Fuzzes `ike::wire::Message::parse`; a message that parses must survive
//! emit -> parse unchanged, emit to the datagram's length, and split at its
//! SK/SKF body offset. Also runs the bytes after the header through
//! `parse_payload_chain` as if they were decrypted SK contents.
#![no_main]

use ike::wire::{emit_payload_chain, parse_payload_chain, Message, PayloadType};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Message::parse(data) {
        let out = m.emit();
        assert_eq!(out.len(), data.len(), "emitted length differs");
        let again = Message::parse(&out).expect("re-parse of emitted message failed");
        assert_eq!(again, m, "emit -> parse changed the message");
        if m.sk_body_offset().is_some() {
            assert!(m.split_encrypted(data).is_some());
        }
    }
    if let Some((&first, rest)) = data.split_first() {
        if let Ok(chain) = parse_payload_chain(PayloadType(first), rest) {
            let mut out = Vec::new();
            emit_payload_chain(&chain, &mut out);
            assert_eq!(out.len(), rest.len());
            assert_eq!(parse_payload_chain(PayloadType(first), &out).as_ref(), Ok(&chain));
        }
    }
});
