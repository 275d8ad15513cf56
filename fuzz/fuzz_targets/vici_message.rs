//! VICI codec: packets and messages from untrusted bytes never panic, and
//! whatever parses re-emits byte for byte.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = vici::Message::parse(data) {
        let again = m.to_bytes().expect("a parsed message re-emits");
        assert_eq!(again, data);
    }
    if let Ok(p) = vici::Packet::parse(data) {
        let mut again = Vec::new();
        p.emit(&mut again).expect("a parsed packet re-emits");
        assert_eq!(again, data);
        if data.len() <= vici::MAX_PACKET_SIZE {
            let frame = p.to_frame().expect("a parsed packet frames");
            assert_eq!(&frame[4..], data);
        }
    }
});
