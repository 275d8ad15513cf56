//! XFRM netlink parser: no panics on any input (the first two bytes pick the
//! message type so every body shape is reached), and parse∘emit∘parse is
//! the identity on whatever parses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pfkey::netlink::NlMsg;
use pfkey::xfrm::XfrmMessage;

fuzz_target!(|data: &[u8]| {
    let _ = NlMsg::parse_all(data);
    if data.len() < 2 {
        return;
    }
    let msg_type = 0x10 + u16::from(data[0] % 0x20);
    let m = NlMsg {
        msg_type,
        flags: u16::from(data[1]),
        seq: 0,
        pid: 0,
        payload: data[2..].to_vec(),
    };
    if let Ok(x) = XfrmMessage::from_nlmsg(&m) {
        if let Ok(bytes) = x.emit() {
            let again = XfrmMessage::parse(&bytes).expect("re-parse of emitted message");
            assert_eq!(again, x);
        }
    }
});
