//! The IKE header (RFC 7296 §3.1).

use super::error::{Part, WireError};
use super::reader::Reader;
use super::registry::{ExchangeType, PayloadType};

/// The header's Flags octet (RFC 7296 §3.1).
///
/// The three defined bits are booleans; every other bit is kept in
/// `reserved` (bit positions unchanged) so that a parsed header re-emits
/// byte for byte. They MUST be sent as zero and ignored on receipt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Flags {
    /// I (bit 3, 0x08): set by the original initiator of the IKE SA.
    pub initiator: bool,
    /// V (bit 4, 0x10): the sender can speak a higher major version.
    pub version: bool,
    /// R (bit 5, 0x20): this message is a response.
    pub response: bool,
    /// The other bits (mask 0xC7) as received.
    pub reserved: u8,
}

impl Flags {
    /// The Initiator bit.
    pub const I: u8 = 0x08;
    /// The Version bit.
    pub const V: u8 = 0x10;
    /// The Response bit.
    pub const R: u8 = 0x20;
    /// The bits that are not I, V or R.
    pub const RESERVED_MASK: u8 = !(Self::I | Self::V | Self::R);

    /// Decodes the octet.
    pub fn from_byte(b: u8) -> Flags {
        Flags {
            initiator: b & Self::I != 0,
            version: b & Self::V != 0,
            response: b & Self::R != 0,
            reserved: b & Self::RESERVED_MASK,
        }
    }

    /// Encodes the octet (reserved bits outside the mask are dropped).
    pub fn to_byte(self) -> u8 {
        (self.reserved & Self::RESERVED_MASK)
            | if self.initiator { Self::I } else { 0 }
            | if self.version { Self::V } else { 0 }
            | if self.response { Self::R } else { 0 }
    }
}

/// The IKE header (RFC 7296 §3.1), 28 octets.
///
/// SPIs are kept as `[u8; 8]`: they are opaque octet strings on the wire
/// and in the key derivation (§2.14), so no byte order question arises.
///
/// [`Header::parse`] checks only that 28 octets are there, so that the
/// engine can read the SPIs and Message ID of any message it must answer
/// (e.g. with INVALID_MAJOR_VERSION). The version and length rules are
/// applied by [`Message::parse`](super::Message::parse).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Header {
    /// IKE SA Initiator's SPI.
    pub spi_i: [u8; 8],
    /// IKE SA Responder's SPI (zero in the first IKE_SA_INIT request).
    pub spi_r: [u8; 8],
    /// Type of the first payload. [`Message::emit`](super::Message::emit)
    /// writes the type of its first payload here instead.
    pub next_payload: PayloadType,
    /// Major version (4 bits); 2 for IKEv2.
    pub major: u8,
    /// Minor version (4 bits); 0 for RFC 7296.
    pub minor: u8,
    /// Exchange type.
    pub exchange: ExchangeType,
    /// Flags.
    pub flags: Flags,
    /// Message ID.
    pub message_id: u32,
    /// Length of the whole message in octets.
    /// [`Message::emit`](super::Message::emit) writes the real length here.
    pub length: u32,
}

impl Header {
    /// Encoded size.
    pub const LEN: usize = 28;
    /// The major version this codec speaks.
    pub const IKEV2_MAJOR: u8 = 2;

    /// Reads the first 28 octets of `bytes` (anything after is ignored).
    pub fn parse(bytes: &[u8]) -> Result<Header, WireError> {
        let mut r = Reader::new(bytes, Part::Header);
        let spi_i = r.array()?;
        let spi_r = r.array()?;
        let next_payload = PayloadType(r.u8()?);
        let version = r.u8()?;
        let exchange = ExchangeType(r.u8()?);
        let flags = Flags::from_byte(r.u8()?);
        let message_id = r.u32()?;
        let length = r.u32()?;
        Ok(Header {
            spi_i,
            spi_r,
            next_payload,
            major: version >> 4,
            minor: version & 0x0f,
            exchange,
            flags,
            message_id,
            length,
        })
    }

    /// Appends the 28 octets, exactly as the fields say (versions are
    /// truncated to 4 bits each).
    pub fn emit_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.spi_i);
        out.extend_from_slice(&self.spi_r);
        out.push(self.next_payload.0);
        out.push((self.major << 4) | (self.minor & 0x0f));
        out.push(self.exchange.0);
        out.push(self.flags.to_byte());
        out.extend_from_slice(&self.message_id.to_be_bytes());
        out.extend_from_slice(&self.length.to_be_bytes());
    }

    /// Is this a response (R flag)?
    pub fn is_response(&self) -> bool {
        self.flags.response
    }
}
