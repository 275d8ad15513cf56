//! VICI messages: a tree of sections, key/values and lists
//! (strongSwan's `src/libcharon/plugins/vici/README.md`, "Message format").
//!
//! A message is a sequence of elements, each an 8-bit type:
//!
//! | type | element | followed by |
//! | --- | --- | --- |
//! | 1 | `SECTION_START` | name (8-bit length + bytes) |
//! | 2 | `SECTION_END` | – |
//! | 3 | `KEY_VALUE` | name, value (16-bit big-endian length + bytes) |
//! | 4 | `LIST_START` | name |
//! | 5 | `LIST_ITEM` | value |
//! | 6 | `LIST_END` | – |
//!
//! [`Message::parse`] accepts exactly what [`Message::emit`] can produce, so
//! `emit(parse(b)) == b` for every accepted `b` and
//! `parse(emit(m)) == m` for every emittable `m`. Rules enforced:
//!
//! * sections are balanced and nest at most [`MAX_DEPTH`] deep;
//! * lists are not nested, contain only `LIST_ITEM`s and are closed;
//!   `LIST_ITEM`/`LIST_END` appear only inside a list;
//! * names are 1–255 bytes of UTF-8 (the README says ASCII; strongSwan
//!   itself passes whatever bytes it gets, we insist on text);
//! * values are raw bytes of at most 65535 bytes;
//! * nothing follows the last element (an unknown element type or a
//!   truncated element is an error).
//!
//! Duplicate names within a section are kept in order (strongSwan does not
//! reject them either); the accessors return the first.

use std::fmt;

/// How deeply sections may nest (the root is depth 0). strongSwan's own
/// messages nest at most 5 deep (`list-conn`: conn → children → child →
/// …); the limit only bounds recursion on hostile input.
pub const MAX_DEPTH: usize = 32;

/// Longest element name (8-bit length).
pub const MAX_NAME_LEN: usize = u8::MAX as usize;

/// Longest value (16-bit length).
pub const MAX_VALUE_LEN: usize = u16::MAX as usize;

/// Element type `SECTION_START`.
pub const SECTION_START: u8 = 1;
/// Element type `SECTION_END`.
pub const SECTION_END: u8 = 2;
/// Element type `KEY_VALUE`.
pub const KEY_VALUE: u8 = 3;
/// Element type `LIST_START`.
pub const LIST_START: u8 = 4;
/// Element type `LIST_ITEM`.
pub const LIST_ITEM: u8 = 5;
/// Element type `LIST_END`.
pub const LIST_END: u8 = 6;

/// Why bytes are not a valid message or packet.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[error("{kind} at offset {offset}")]
pub struct DecodeError {
    /// Byte offset (within the message or packet) where the problem is.
    pub offset: usize,
    /// What is wrong.
    pub kind: DecodeErrorKind,
}

/// What is wrong with a message or packet.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum DecodeErrorKind {
    /// The data ends inside an element or packet header.
    #[error("truncated")]
    Truncated,
    /// An element type outside 1..=6.
    #[error("unknown element type {0}")]
    UnknownElement(u8),
    /// A name of length zero.
    #[error("empty name")]
    EmptyName,
    /// A name that is not UTF-8.
    #[error("name is not UTF-8")]
    NameNotUtf8,
    /// `SECTION_END` without an open section.
    #[error("SECTION_END without open section")]
    UnbalancedSectionEnd,
    /// The message ends with sections still open.
    #[error("{0} section(s) not closed")]
    UnclosedSection(usize),
    /// Sections nested deeper than [`MAX_DEPTH`].
    #[error("sections nested deeper than {MAX_DEPTH}")]
    TooDeep,
    /// `LIST_ITEM` outside a list.
    #[error("LIST_ITEM outside a list")]
    ListItemOutsideList,
    /// `LIST_END` outside a list.
    #[error("LIST_END outside a list")]
    ListEndOutsideList,
    /// Something other than `LIST_ITEM`/`LIST_END` inside a list.
    #[error("element type {0} inside a list")]
    ElementInList(u8),
    /// The message ends inside a list.
    #[error("list not closed")]
    UnclosedList,
    /// A packet type outside 0..=7.
    #[error("unknown packet type {0}")]
    UnknownPacketType(u8),
    /// An empty packet (no type byte).
    #[error("empty packet")]
    EmptyPacket,
    /// Bytes after a packet that carries no message.
    #[error("{0} trailing byte(s)")]
    TrailingBytes(usize),
}

/// Why a message or packet cannot be encoded.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum EncodeError {
    /// An element name that is empty or longer than 255 bytes.
    #[error("invalid element name {0:?} (must be 1-255 bytes)")]
    BadName(String),
    /// A packet name (command or event) longer than 255 bytes.
    #[error("packet name too long ({0} bytes, at most 255)")]
    PacketNameTooLong(usize),
    /// A value longer than 65535 bytes.
    #[error("value of {name:?} too long ({len} bytes, at most 65535)")]
    ValueTooLong {
        /// The key or list name.
        name: String,
        /// Its length.
        len: usize,
    },
    /// Sections nested deeper than [`MAX_DEPTH`].
    #[error("sections nested deeper than {MAX_DEPTH}")]
    TooDeep,
    /// The packet would exceed [`crate::MAX_PACKET_SIZE`].
    #[error("packet too large ({0} bytes, at most {max})", max = crate::MAX_PACKET_SIZE)]
    TooLarge(usize),
}

/// One named entry of a section.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Item {
    /// The key, list or section name.
    pub name: String,
    /// What it holds.
    pub value: Element,
}

/// What an [`Item`] holds.
#[derive(Clone, PartialEq, Eq)]
pub enum Element {
    /// `KEY_VALUE`: a raw value (strongSwan sends text; numbers as decimal
    /// strings).
    Value(Vec<u8>),
    /// `LIST_START` … `LIST_END`: list items.
    List(Vec<Vec<u8>>),
    /// `SECTION_START` … `SECTION_END`: a subsection.
    Section(Message),
}

/// A message, or a section of one: ordered items.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Message {
    /// Key/values, lists and subsections in wire order.
    pub items: Vec<Item>,
}

/// Keys whose values `Debug` never prints: PSKs (`load-shared`'s `data`),
/// private keys (`load-key`'s `data`), PINs.
fn is_secret_key(name: &str) -> bool {
    matches!(name, "data" | "secret" | "pin" | "password")
}

struct Bytes<'a>(&'a [u8]);

impl fmt::Debug for Bytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match std::str::from_utf8(self.0) {
            Ok(s) => fmt::Debug::fmt(s, f),
            Err(_) => {
                f.write_str("0x")?;
                for b in self.0 {
                    write!(f, "{b:02x}")?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Debug for Element {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Element::Value(v) => Bytes(v).fmt(f),
            Element::List(items) => f
                .debug_list()
                .entries(items.iter().map(|i| Bytes(i)))
                .finish(),
            Element::Section(m) => m.fmt(f),
        }
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for item in &self.items {
            match &item.value {
                Element::Value(_) | Element::List(_) if is_secret_key(&item.name) => {
                    map.entry(&item.name, &format_args!("<redacted>"))
                }
                v => map.entry(&item.name, v),
            };
        }
        map.finish()
    }
}

impl Message {
    /// An empty message.
    pub fn new() -> Message {
        Message::default()
    }

    /// Whether there are no items.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Appends a key/value.
    pub fn push_value(&mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) {
        self.items.push(Item {
            name: name.into(),
            value: Element::Value(value.into()),
        });
    }

    /// Appends a list.
    pub fn push_list<I, V>(&mut self, name: impl Into<String>, items: I)
    where
        I: IntoIterator<Item = V>,
        V: Into<Vec<u8>>,
    {
        self.items.push(Item {
            name: name.into(),
            value: Element::List(items.into_iter().map(Into::into).collect()),
        });
    }

    /// Appends a subsection.
    pub fn push_section(&mut self, name: impl Into<String>, section: Message) {
        self.items.push(Item {
            name: name.into(),
            value: Element::Section(section),
        });
    }

    /// Builder form of [`Message::push_value`].
    pub fn with_value(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> Message {
        self.push_value(name, value);
        self
    }

    /// Builder form of [`Message::push_list`].
    pub fn with_list<I, V>(mut self, name: impl Into<String>, items: I) -> Message
    where
        I: IntoIterator<Item = V>,
        V: Into<Vec<u8>>,
    {
        self.push_list(name, items);
        self
    }

    /// Builder form of [`Message::push_section`].
    pub fn with_section(mut self, name: impl Into<String>, section: Message) -> Message {
        self.push_section(name, section);
        self
    }

    /// The first item named `name`.
    pub fn get(&self, name: &str) -> Option<&Element> {
        self.items.iter().find(|i| i.name == name).map(|i| &i.value)
    }

    /// Overwrites with zeros the values (and list items) of every key that
    /// holds a secret (`data`, `secret`, `pin`, `password`), at any depth:
    /// for a request once its secret is copied into a type that wipes it
    /// on drop (`load-shared`, `load-key`), so that no copy is left in
    /// freed memory.
    pub fn zeroize_secrets(&mut self) {
        use zeroize::Zeroize;
        for item in &mut self.items {
            let secret = is_secret_key(&item.name);
            match &mut item.value {
                Element::Value(v) if secret => v.zeroize(),
                Element::List(l) if secret => l.iter_mut().for_each(Zeroize::zeroize),
                Element::Section(m) => m.zeroize_secrets(),
                _ => {}
            }
        }
    }

    /// The raw value of key `name`.
    pub fn value(&self, name: &str) -> Option<&[u8]> {
        match self.get(name)? {
            Element::Value(v) => Some(v),
            _ => None,
        }
    }

    /// The value of key `name` if it is UTF-8.
    pub fn str(&self, name: &str) -> Option<&str> {
        std::str::from_utf8(self.value(name)?).ok()
    }

    /// The items of list `name`.
    pub fn list(&self, name: &str) -> Option<&[Vec<u8>]> {
        match self.get(name)? {
            Element::List(v) => Some(v),
            _ => None,
        }
    }

    /// Subsection `name`.
    pub fn section(&self, name: &str) -> Option<&Message> {
        match self.get(name)? {
            Element::Section(m) => Some(m),
            _ => None,
        }
    }

    /// The UTF-8 value at a dotted path such as `conn.children.net.mode`
    /// (sections, then a key), like libvici's `vici_find_str`.
    pub fn find_str(&self, path: &str) -> Option<&str> {
        let (sections, key) = match path.rsplit_once('.') {
            Some((s, k)) => (Some(s), k),
            None => (None, path),
        };
        let mut m = self;
        if let Some(s) = sections {
            for part in s.split('.') {
                m = m.section(part)?;
            }
        }
        m.str(key)
    }

    /// Parses a message (the whole of `data`).
    pub fn parse(data: &[u8]) -> Result<Message, DecodeError> {
        parse_at(data, 0)
    }

    /// Appends the encoding of this message to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.emit_at(out, 0)
    }

    /// The encoding of this message.
    pub fn to_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::new();
        self.emit(&mut out)?;
        Ok(out)
    }

    fn emit_at(&self, out: &mut Vec<u8>, depth: usize) -> Result<(), EncodeError> {
        for item in &self.items {
            match &item.value {
                Element::Value(v) => {
                    out.push(KEY_VALUE);
                    emit_name(out, &item.name)?;
                    emit_value(out, &item.name, v)?;
                }
                Element::List(items) => {
                    out.push(LIST_START);
                    emit_name(out, &item.name)?;
                    for v in items {
                        out.push(LIST_ITEM);
                        emit_value(out, &item.name, v)?;
                    }
                    out.push(LIST_END);
                }
                Element::Section(m) => {
                    if depth + 1 > MAX_DEPTH {
                        return Err(EncodeError::TooDeep);
                    }
                    out.push(SECTION_START);
                    emit_name(out, &item.name)?;
                    m.emit_at(out, depth + 1)?;
                    out.push(SECTION_END);
                }
            }
        }
        Ok(())
    }
}

fn emit_name(out: &mut Vec<u8>, name: &str) -> Result<(), EncodeError> {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(EncodeError::BadName(name.into()));
    }
    out.push(name.len() as u8);
    out.extend_from_slice(name.as_bytes());
    Ok(())
}

fn emit_value(out: &mut Vec<u8>, name: &str, v: &[u8]) -> Result<(), EncodeError> {
    if v.len() > MAX_VALUE_LEN {
        return Err(EncodeError::ValueTooLong {
            name: name.into(),
            len: v.len(),
        });
    }
    out.extend_from_slice(&(v.len() as u16).to_be_bytes());
    out.extend_from_slice(v);
    Ok(())
}

/// A cursor over untrusted bytes; `base` is added to offsets in errors.
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8], base: usize) -> Reader<'a> {
        Reader { data, pos: 0, base }
    }

    pub(crate) fn offset(&self) -> usize {
        self.base + self.pos
    }

    pub(crate) fn rest(&self) -> &'a [u8] {
        &self.data[self.pos..]
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    pub(crate) fn err(&self, at: usize, kind: DecodeErrorKind) -> DecodeError {
        DecodeError {
            offset: self.base + at,
            kind,
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        match self.data.get(self.pos..self.pos.saturating_add(n)) {
            Some(s) if s.len() == n => {
                self.pos += n;
                Ok(s)
            }
            _ => Err(self.err(self.pos, DecodeErrorKind::Truncated)),
        }
    }

    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    /// An 8-bit-length-prefixed UTF-8 string; `allow_empty` for packet
    /// names.
    pub(crate) fn name(&mut self, allow_empty: bool) -> Result<&'a str, DecodeError> {
        let at = self.pos;
        let len = self.u8()? as usize;
        if len == 0 && !allow_empty {
            return Err(self.err(at, DecodeErrorKind::EmptyName));
        }
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes).map_err(|_| self.err(at, DecodeErrorKind::NameNotUtf8))
    }

    fn value(&mut self) -> Result<&'a [u8], DecodeError> {
        let hi = self.u8()? as usize;
        let lo = self.u8()? as usize;
        self.take(hi << 8 | lo)
    }
}

/// Parses a message that starts at offset `base` of a packet.
pub(crate) fn parse_at(data: &[u8], base: usize) -> Result<Message, DecodeError> {
    use DecodeErrorKind as K;
    let mut r = Reader::new(data, base);
    // Open sections: their names and the parent's items so far.
    let mut stack: Vec<(String, Message)> = Vec::new();
    let mut current = Message::new();
    while !r.is_empty() {
        let at = r.pos;
        match r.u8()? {
            SECTION_START => {
                let name = r.name(false)?.to_owned();
                if stack.len() >= MAX_DEPTH {
                    return Err(r.err(at, K::TooDeep));
                }
                stack.push((name, std::mem::take(&mut current)));
            }
            SECTION_END => {
                let (name, mut parent) = stack
                    .pop()
                    .ok_or_else(|| r.err(at, K::UnbalancedSectionEnd))?;
                parent.push_section(name, current);
                current = parent;
            }
            KEY_VALUE => {
                let name = r.name(false)?;
                let value = r.value()?;
                current.push_value(name, value);
            }
            LIST_START => {
                let name = r.name(false)?;
                let mut items = Vec::new();
                loop {
                    if r.is_empty() {
                        return Err(r.err(r.pos, K::UnclosedList));
                    }
                    let at = r.pos;
                    match r.u8()? {
                        LIST_ITEM => items.push(r.value()?.to_vec()),
                        LIST_END => break,
                        other => return Err(r.err(at, K::ElementInList(other))),
                    }
                }
                current.push_list(name, items);
            }
            LIST_ITEM => return Err(r.err(at, K::ListItemOutsideList)),
            LIST_END => return Err(r.err(at, K::ListEndOutsideList)),
            other => return Err(r.err(at, K::UnknownElement(other))),
        }
    }
    if !stack.is_empty() {
        return Err(r.err(r.pos, K::UnclosedSection(stack.len())));
    }
    Ok(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The encoding example of strongSwan's vici README.
    const README_EXAMPLE: &[u8] = &[
        3, 4, b'k', b'e', b'y', b'1', 0, 6, b'v', b'a', b'l', b'u', b'e', b'1', //
        1, 8, b's', b'e', b'c', b't', b'i', b'o', b'n', b'1', //
        1, 11, b's', b'u', b'b', b'-', b's', b'e', b'c', b't', b'i', b'o', b'n', //
        3, 4, b'k', b'e', b'y', b'2', 0, 6, b'v', b'a', b'l', b'u', b'e', b'2', //
        2,    //
        4, 5, b'l', b'i', b's', b't', b'1', //
        5, 0, 5, b'i', b't', b'e', b'm', b'1', //
        5, 0, 5, b'i', b't', b'e', b'm', b'2', //
        6,    //
        2,
    ];

    #[test]
    fn readme_example() {
        let m = Message::parse(README_EXAMPLE).unwrap();
        let expected = Message::new().with_value("key1", "value1").with_section(
            "section1",
            Message::new()
                .with_section("sub-section", Message::new().with_value("key2", "value2"))
                .with_list("list1", ["item1", "item2"]),
        );
        assert_eq!(m, expected);
        assert_eq!(m.to_bytes().unwrap(), README_EXAMPLE);
        assert_eq!(m.find_str("section1.sub-section.key2"), Some("value2"));
        assert_eq!(m.find_str("key1"), Some("value1"));
        assert_eq!(m.find_str("section1.nope.key2"), None);
    }

    fn kind(data: &[u8]) -> DecodeErrorKind {
        Message::parse(data).unwrap_err().kind
    }

    #[test]
    fn rejects_malformed() {
        use DecodeErrorKind as K;
        assert_eq!(kind(&[5, 0, 1, b'x']), K::ListItemOutsideList);
        assert_eq!(kind(&[6]), K::ListEndOutsideList);
        assert_eq!(kind(&[2]), K::UnbalancedSectionEnd);
        assert_eq!(kind(&[1, 1, b's']), K::UnclosedSection(1));
        assert_eq!(kind(&[4, 1, b'l']), K::UnclosedList);
        assert_eq!(
            kind(&[4, 1, b'l', 3, 1, b'k', 0, 0, 6]),
            K::ElementInList(3)
        );
        assert_eq!(kind(&[4, 1, b'l', 4, 1, b'm', 6, 6]), K::ElementInList(4));
        assert_eq!(kind(&[3, 0, 0, 0]), K::EmptyName);
        assert_eq!(kind(&[3, 1, 0xff, 0, 0]), K::NameNotUtf8);
        assert_eq!(kind(&[3, 1, b'k', 0, 5, b'a']), K::Truncated);
        assert_eq!(kind(&[3, 1, b'k', 0]), K::Truncated);
        assert_eq!(kind(&[3, 9, b'k']), K::Truncated);
        assert_eq!(kind(&[0]), K::UnknownElement(0));
        assert_eq!(kind(&[3, 1, b'k', 0, 0, 7]), K::UnknownElement(7));
        let deep: Vec<u8> = std::iter::repeat_n([1u8, 1, b's'], MAX_DEPTH + 1)
            .flatten()
            .collect();
        assert_eq!(kind(&deep), K::TooDeep);
        let ok: Vec<u8> = std::iter::repeat_n([1u8, 1, b's'], MAX_DEPTH)
            .flatten()
            .chain(std::iter::repeat_n(2, MAX_DEPTH))
            .collect();
        let m = Message::parse(&ok).unwrap();
        assert_eq!(m.to_bytes().unwrap(), ok);
    }

    #[test]
    fn error_offsets() {
        let e = Message::parse(&[3, 1, b'k', 0, 0, 5, 0, 0]).unwrap_err();
        assert_eq!(e.offset, 5);
        assert_eq!(e.to_string(), "LIST_ITEM outside a list at offset 5");
    }

    #[test]
    fn emit_rejects_what_cannot_be_encoded() {
        assert!(matches!(
            Message::new().with_value("", "x").to_bytes(),
            Err(EncodeError::BadName(_))
        ));
        assert!(matches!(
            Message::new().with_value("k".repeat(256), "x").to_bytes(),
            Err(EncodeError::BadName(_))
        ));
        assert!(matches!(
            Message::new().with_value("k", vec![0; 65536]).to_bytes(),
            Err(EncodeError::ValueTooLong { len: 65536, .. })
        ));
        assert!(Message::new()
            .with_value("k", vec![0; 65535])
            .to_bytes()
            .is_ok());
        let mut deep = Message::new();
        for _ in 0..=MAX_DEPTH {
            deep = Message::new().with_section("s", deep);
        }
        assert_eq!(deep.to_bytes(), Err(EncodeError::TooDeep));
    }

    #[test]
    fn debug_redacts_secrets() {
        let m = Message::new()
            .with_value("type", "IKE")
            .with_value("data", "hunter2")
            .with_list("owners", ["a"])
            .with_value("bin", vec![0xff, 0]);
        let s = format!("{m:?}");
        assert!(!s.contains("hunter2"), "{s}");
        assert!(s.contains("<redacted>"), "{s}");
        assert!(s.contains("0xff00"), "{s}");
    }
}
