//! Property tests of the codec: generated messages round-trip; arbitrary
//! bytes never panic the parsers, and whatever parses re-emits identically.

use proptest::prelude::*;
use vici::message::MAX_DEPTH;
use vici::{Element, Item, Message, Packet};

fn name() -> impl Strategy<Value = String> {
    // 1..=60 chars of any Unicode is at most 240 bytes (limit 255).
    prop_oneof![
        "[a-z][a-z0-9_-]{0,15}",
        proptest::string::string_regex(".{1,60}").unwrap(),
    ]
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..40),
        "[ -~]{0,40}".prop_map(String::into_bytes),
    ]
}

fn message() -> impl Strategy<Value = Message> {
    let leaf = prop_oneof![
        value().prop_map(Element::Value),
        proptest::collection::vec(value(), 0..5).prop_map(Element::List),
    ];
    let element = leaf.prop_recursive(6, 64, 6, |inner| {
        proptest::collection::vec((name(), inner), 0..6).prop_map(|items| {
            Element::Section(Message {
                items: items
                    .into_iter()
                    .map(|(name, value)| Item { name, value })
                    .collect(),
            })
        })
    });
    proptest::collection::vec((name(), element), 0..8).prop_map(|items| Message {
        items: items
            .into_iter()
            .map(|(name, value)| Item { name, value })
            .collect(),
    })
}

/// Bytes biased towards valid element types and short lengths, so the
/// parser gets deep before failing.
fn elementish() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![
            3 => 0u8..8,
            2 => Just(1u8),
            1 => any::<u8>(),
            1 => "[a-z]{1,3}".prop_map(|s| s.as_bytes()[0]),
        ],
        0..200,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn message_round_trips(m in message()) {
        let bytes = m.to_bytes().unwrap();
        let parsed = Message::parse(&bytes).unwrap();
        prop_assert_eq!(&parsed, &m);
        prop_assert_eq!(parsed.to_bytes().unwrap(), bytes);
    }

    #[test]
    fn packet_round_trips(m in message(), n in "[a-z-]{0,20}", ty in 0u8..8) {
        let p = match ty {
            0 => Packet::CmdRequest { command: n, message: m },
            1 => Packet::CmdResponse(m),
            2 => Packet::CmdUnknown,
            3 => Packet::EventRegister(n),
            4 => Packet::EventUnregister(n),
            5 => Packet::EventConfirm,
            6 => Packet::EventUnknown,
            _ => Packet::Event { name: n, message: m },
        };
        let frame = p.to_frame().unwrap();
        prop_assert_eq!(Packet::parse(&frame[4..]).unwrap(), p);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(m) = Message::parse(&bytes) {
            prop_assert_eq!(m.to_bytes().unwrap(), bytes.clone());
        }
        if let Ok(p) = Packet::parse(&bytes) {
            let mut again = Vec::new();
            p.emit(&mut again).unwrap();
            prop_assert_eq!(again, bytes);
        }
    }

    #[test]
    fn elementish_bytes_never_panic(bytes in elementish()) {
        if let Ok(m) = Message::parse(&bytes) {
            prop_assert_eq!(m.to_bytes().unwrap(), bytes.clone());
        }
        let mut packet = vec![0, 1, b'x'];
        packet.extend_from_slice(&bytes);
        if let Ok(p) = Packet::parse(&packet) {
            let mut again = Vec::new();
            p.emit(&mut again).unwrap();
            prop_assert_eq!(again, packet);
        }
    }

    /// Nesting beyond MAX_DEPTH is rejected, never a stack overflow.
    #[test]
    fn deep_nesting_is_bounded(depth in 0usize..2000) {
        let mut bytes = Vec::new();
        for _ in 0..depth {
            bytes.extend_from_slice(&[1, 1, b's']);
        }
        bytes.extend(std::iter::repeat_n(2u8, depth));
        let r = Message::parse(&bytes);
        prop_assert_eq!(r.is_ok(), depth <= MAX_DEPTH);
    }
}
