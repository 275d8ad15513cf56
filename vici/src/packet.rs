//! VICI packets and their framing (strongSwan's vici README, "Transport
//! protocol" and "Packet layer").
//!
//! On the stream each packet is prefixed by its length as a 32-bit
//! big-endian number, at most [`MAX_PACKET_SIZE`]. A packet is a type byte,
//! for named types an 8-bit-length-prefixed name, and for the types that
//! carry one, a [`Message`] filling the rest.

use crate::message::{parse_at, DecodeError, DecodeErrorKind, EncodeError, Message, Reader};

/// Largest packet (without the length prefix): strongSwan's
/// `VICI_MESSAGE_SIZE_MAX`, 512 KiB. A longer length prefix is an error and
/// closes the connection.
pub const MAX_PACKET_SIZE: usize = 512 * 1024;

/// The packet types.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[repr(u8)]
pub enum PacketType {
    /// A named request message (client → server).
    CmdRequest = 0,
    /// An unnamed response message.
    CmdResponse = 1,
    /// The unnamed answer to an unknown command.
    CmdUnknown = 2,
    /// A named event registration (client → server).
    EventRegister = 3,
    /// A named event deregistration (client → server).
    EventUnregister = 4,
    /// Unnamed: (de)registration succeeded.
    EventConfirm = 5,
    /// Unnamed: (de)registration failed, no such event.
    EventUnknown = 6,
    /// A named event message (server → client).
    Event = 7,
}

impl PacketType {
    /// The type for a wire value.
    pub fn from_u8(b: u8) -> Option<PacketType> {
        Some(match b {
            0 => PacketType::CmdRequest,
            1 => PacketType::CmdResponse,
            2 => PacketType::CmdUnknown,
            3 => PacketType::EventRegister,
            4 => PacketType::EventUnregister,
            5 => PacketType::EventConfirm,
            6 => PacketType::EventUnknown,
            7 => PacketType::Event,
            _ => return None,
        })
    }

    /// Whether a name follows the type byte.
    pub fn is_named(self) -> bool {
        matches!(
            self,
            PacketType::CmdRequest
                | PacketType::EventRegister
                | PacketType::EventUnregister
                | PacketType::Event
        )
    }

    /// Whether a message follows (the type byte and the name).
    pub fn has_message(self) -> bool {
        matches!(
            self,
            PacketType::CmdRequest | PacketType::CmdResponse | PacketType::Event
        )
    }
}

/// A packet.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Packet {
    /// `CMD_REQUEST`: run `command` with `message` as arguments.
    CmdRequest {
        /// The command name, e.g. `version`.
        command: String,
        /// Its arguments.
        message: Message,
    },
    /// `CMD_RESPONSE`.
    CmdResponse(Message),
    /// `CMD_UNKNOWN`.
    CmdUnknown,
    /// `EVENT_REGISTER` for an event name.
    EventRegister(String),
    /// `EVENT_UNREGISTER` for an event name.
    EventUnregister(String),
    /// `EVENT_CONFIRM`.
    EventConfirm,
    /// `EVENT_UNKNOWN`.
    EventUnknown,
    /// `EVENT`.
    Event {
        /// The event name, e.g. `ike-updown`.
        name: String,
        /// The event data.
        message: Message,
    },
}

/// A packet split into type, name and (unparsed) message bytes, so that a
/// server can tell a bad request message (answerable with an error
/// response) from a bad packet (only closing helps).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Header<'a> {
    /// The packet type.
    pub packet_type: PacketType,
    /// The name, for named types (may be empty).
    pub name: Option<&'a str>,
    /// The bytes after type and name (empty for types without a message;
    /// [`Header::parse`] rejects trailing bytes there).
    pub body: &'a [u8],
    /// Offset of `body` within the packet.
    pub body_offset: usize,
}

impl<'a> Header<'a> {
    /// Splits a packet (without length prefix).
    pub fn parse(packet: &'a [u8]) -> Result<Header<'a>, DecodeError> {
        let mut r = Reader::new(packet, 0);
        if r.is_empty() {
            return Err(r.err(0, DecodeErrorKind::EmptyPacket));
        }
        let b = r.u8()?;
        let packet_type = PacketType::from_u8(b)
            .ok_or_else(|| r.err(0, DecodeErrorKind::UnknownPacketType(b)))?;
        let name = if packet_type.is_named() {
            Some(r.name(true)?)
        } else {
            None
        };
        let body_offset = r.offset();
        let body = r.rest();
        if !packet_type.has_message() && !body.is_empty() {
            return Err(r.err(body_offset, DecodeErrorKind::TrailingBytes(body.len())));
        }
        Ok(Header {
            packet_type,
            name,
            body,
            body_offset,
        })
    }

    /// Parses the message of a packet type that has one.
    pub fn message(&self) -> Result<Message, DecodeError> {
        parse_at(self.body, self.body_offset)
    }
}

impl Packet {
    /// The packet's type.
    pub fn packet_type(&self) -> PacketType {
        match self {
            Packet::CmdRequest { .. } => PacketType::CmdRequest,
            Packet::CmdResponse(_) => PacketType::CmdResponse,
            Packet::CmdUnknown => PacketType::CmdUnknown,
            Packet::EventRegister(_) => PacketType::EventRegister,
            Packet::EventUnregister(_) => PacketType::EventUnregister,
            Packet::EventConfirm => PacketType::EventConfirm,
            Packet::EventUnknown => PacketType::EventUnknown,
            Packet::Event { .. } => PacketType::Event,
        }
    }

    /// Parses a packet (without the length prefix).
    pub fn parse(packet: &[u8]) -> Result<Packet, DecodeError> {
        let h = Header::parse(packet)?;
        let name = || h.name.unwrap_or_default().to_owned();
        Ok(match h.packet_type {
            PacketType::CmdRequest => Packet::CmdRequest {
                command: name(),
                message: h.message()?,
            },
            PacketType::CmdResponse => Packet::CmdResponse(h.message()?),
            PacketType::CmdUnknown => Packet::CmdUnknown,
            PacketType::EventRegister => Packet::EventRegister(name()),
            PacketType::EventUnregister => Packet::EventUnregister(name()),
            PacketType::EventConfirm => Packet::EventConfirm,
            PacketType::EventUnknown => Packet::EventUnknown,
            PacketType::Event => Packet::Event {
                name: name(),
                message: h.message()?,
            },
        })
    }

    /// The name and message this packet carries.
    fn parts(&self) -> (Option<&str>, Option<&Message>) {
        match self {
            Packet::CmdRequest { command, message } => (Some(command), Some(message)),
            Packet::CmdResponse(m) => (None, Some(m)),
            Packet::EventRegister(n) | Packet::EventUnregister(n) => (Some(n), None),
            Packet::Event { name, message } => (Some(name), Some(message)),
            Packet::CmdUnknown | Packet::EventConfirm | Packet::EventUnknown => (None, None),
        }
    }

    /// Appends the packet (without length prefix) to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let (name, message) = self.parts();
        emit_parts(out, self.packet_type(), name, message)
    }

    /// The packet with its length prefix, ready to write; fails if longer
    /// than [`MAX_PACKET_SIZE`].
    pub fn to_frame(&self) -> Result<Vec<u8>, EncodeError> {
        let (name, message) = self.parts();
        frame(self.packet_type(), name, message)
    }
}

fn emit_parts(
    out: &mut Vec<u8>,
    packet_type: PacketType,
    name: Option<&str>,
    message: Option<&Message>,
) -> Result<(), EncodeError> {
    out.push(packet_type as u8);
    if let Some(name) = name {
        if name.len() > u8::MAX as usize {
            return Err(EncodeError::PacketNameTooLong(name.len()));
        }
        out.push(name.len() as u8);
        out.extend_from_slice(name.as_bytes());
    }
    if let Some(m) = message {
        m.emit(out)?;
    }
    Ok(())
}

/// A length-prefixed packet from borrowed parts (no cloning of the
/// message for events sent to many clients or requests).
pub(crate) fn frame(
    packet_type: PacketType,
    name: Option<&str>,
    message: Option<&Message>,
) -> Result<Vec<u8>, EncodeError> {
    let mut out = vec![0; 4];
    emit_parts(&mut out, packet_type, name, message)?;
    let len = out.len() - 4;
    if len > MAX_PACKET_SIZE {
        return Err(EncodeError::TooLarge(len));
    }
    out[..4].copy_from_slice(&(len as u32).to_be_bytes());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_round_trip() {
        let m = Message::new().with_value("k", "v");
        for p in [
            Packet::CmdRequest {
                command: "version".into(),
                message: Message::new(),
            },
            Packet::CmdRequest {
                command: "initiate".into(),
                message: m.clone(),
            },
            Packet::CmdResponse(m.clone()),
            Packet::CmdUnknown,
            Packet::EventRegister("log".into()),
            Packet::EventUnregister("log".into()),
            Packet::EventConfirm,
            Packet::EventUnknown,
            Packet::Event {
                name: "ike-updown".into(),
                message: m.clone(),
            },
        ] {
            let frame = p.to_frame().unwrap();
            let len = u32::from_be_bytes(frame[..4].try_into().unwrap()) as usize;
            assert_eq!(len, frame.len() - 4);
            assert_eq!(Packet::parse(&frame[4..]).unwrap(), p);
        }
        assert_eq!(
            Packet::CmdRequest {
                command: "version".into(),
                message: Message::new()
            }
            .to_frame()
            .unwrap(),
            b"\0\0\0\x09\0\x07version"
        );
    }

    #[test]
    fn rejects_bad_packets() {
        use DecodeErrorKind as K;
        let kind = |b: &[u8]| Packet::parse(b).unwrap_err().kind;
        assert_eq!(kind(&[]), K::EmptyPacket);
        assert_eq!(kind(&[8]), K::UnknownPacketType(8));
        assert_eq!(kind(&[0]), K::Truncated);
        assert_eq!(kind(&[0, 5, b'a']), K::Truncated);
        assert_eq!(kind(&[3, 1, 0xc3]), K::NameNotUtf8);
        assert_eq!(kind(&[2, 0]), K::TrailingBytes(1));
        assert_eq!(kind(&[3, 1, b'x', 0]), K::TrailingBytes(1));
        let e = Packet::parse(&[0, 1, b'x', 5, 0, 0]).unwrap_err();
        assert_eq!((e.offset, e.kind), (3, K::ListItemOutsideList));
    }

    #[test]
    fn frame_size_limit() {
        // Eight values of 65535 bytes plus overhead exceed 512 KiB.
        let mut m = Message::new();
        for i in 0..8 {
            m.push_value(format!("k{i}"), vec![b'x'; 65535]);
        }
        let p = Packet::CmdResponse(m);
        assert!(matches!(p.to_frame(), Err(EncodeError::TooLarge(_))));
    }
}
