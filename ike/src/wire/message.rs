//! Whole IKE messages (RFC 7296 §3).

use super::error::WireError;
use super::header::Header;
use super::payload::{
    check_payload_chain, emit_payload_chain, parse_payload_chain, payload_chain_len, Payload,
    PayloadBody,
};
use super::registry::PayloadType;

/// An IKE message: header and payloads (RFC 7296 §3).
///
/// The header's `next_payload` and `length` are outputs of emission:
/// [`Message::emit`] writes the first payload's type and the real length,
/// whatever the fields hold. [`Message::new`] and
/// [`Message::sync_header`] set them so that a constructed message equals
/// the one parsed back from its emission.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The IKE header.
    pub header: Header,
    /// The payloads in order. An SK or SKF payload, if any, is last.
    pub payloads: Vec<Payload>,
}

impl Message {
    /// A message with `header.next_payload` and `header.length` made
    /// consistent with `payloads`.
    pub fn new(header: Header, payloads: Vec<Payload>) -> Message {
        let mut m = Message { header, payloads };
        m.sync_header();
        m
    }

    /// Sets `header.next_payload` and `header.length` from the payloads.
    ///
    /// # Panics
    /// If the message is longer than `u32::MAX` octets.
    pub fn sync_header(&mut self) {
        self.header.next_payload = self.payloads.first().map_or(PayloadType::NONE, Payload::ty);
        self.header.length = self.length_u32();
    }

    fn length_u32(&self) -> u32 {
        match u32::try_from(self.buffer_len()) {
            Ok(n) => n,
            Err(_) => panic!("IKE message longer than 2^32 - 1 octets"),
        }
    }

    /// Parses one datagram (after any non-ESP marker).
    ///
    /// Rules, in order:
    /// 1. at least the 28-octet header, else [`WireError::Truncated`];
    /// 2. Major Version 2, else [`WireError::InvalidMajorVersion`]
    ///    (§1.5, §2.5 — checked before anything else, since another
    ///    version's payloads need not parse);
    /// 3. the header's Length equals the datagram length, else
    ///    [`WireError::LengthMismatch`]. Equality, not "at least": over UDP
    ///    one datagram carries exactly one message (§2, §3.1), and octets
    ///    beyond Length would be covered by no integrity check; the TCP
    ///    framing of RFC 9329 also delivers exactly one message;
    /// 4. the payload chain, by [`parse_payload_chain`].
    pub fn parse(datagram: &[u8]) -> Result<Message, WireError> {
        let header = Header::parse(datagram)?;
        if header.major != Header::IKEV2_MAJOR {
            return Err(WireError::InvalidMajorVersion {
                major: header.major,
            });
        }
        if usize::try_from(header.length).ok() != Some(datagram.len()) {
            return Err(WireError::LengthMismatch {
                header: header.length,
                datagram: datagram.len(),
            });
        }
        let rest = datagram.get(Header::LEN..).unwrap_or_default();
        let payloads = parse_payload_chain(header.next_payload, rest)?;
        Ok(Message { header, payloads })
    }

    /// Encoded size.
    pub fn buffer_len(&self) -> usize {
        Header::LEN + payload_chain_len(&self.payloads)
    }

    /// Whether [`Message::emit`] can encode it: the payloads pass
    /// [`check_payload_chain`] and the whole fits the header's 32-bit
    /// Length.
    pub fn check(&self) -> Result<(), WireError> {
        check_payload_chain(&self.payloads)?;
        if u32::try_from(self.buffer_len()).is_err() {
            return Err(WireError::TooLarge {
                part: super::error::Part::Header,
                detail: "message longer than 2^32 - 1 octets",
            });
        }
        Ok(())
    }

    /// [`Message::emit`] after [`Message::check`]: never panics. What the
    /// engine uses for everything it sends.
    pub fn try_emit(&self) -> Result<Vec<u8>, WireError> {
        self.check()?;
        Ok(self.emit())
    }

    /// Encodes the message.
    ///
    /// # Panics
    /// As [`emit_payload_chain`]: an SK/SKF payload that is not last, or a
    /// payload breaking a size limit. Parsed messages never do.
    pub fn emit(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.buffer_len());
        self.emit_into(&mut out);
        out
    }

    /// Appends the encoded message to `out`.
    ///
    /// # Panics
    /// As [`Message::emit`].
    pub fn emit_into(&self, out: &mut Vec<u8>) {
        let mut header = self.header;
        header.next_payload = self.payloads.first().map_or(PayloadType::NONE, Payload::ty);
        header.length = self.length_u32();
        header.emit_into(out);
        emit_payload_chain(&self.payloads, out);
    }

    /// The last payload when it is SK or SKF.
    pub fn encrypted(&self) -> Option<&Payload> {
        self.payloads
            .last()
            .filter(|p| matches!(p.body, PayloadBody::Sk(_) | PayloadBody::Skf(_)))
    }

    /// Offset of the SK/SKF body (IV || ciphertext || ICV) in the emitted
    /// message, or `None` when the message has no SK/SKF payload.
    ///
    /// Since SK/SKF is last (§3.14), everything before this offset is the
    /// AEAD associated data of RFC 5282 §5.1 / RFC 7383 §2.5.3: the IKE
    /// header, the SK generic header, and for SKF also the Fragment Number
    /// and Total Fragments. Every octet of a datagram is kept by
    /// [`Message::parse`] in some field or length, so a parsed message
    /// emits to exactly the datagram's length and this offset also applies
    /// to the datagram it was parsed from (see [`Message::split_encrypted`]).
    ///
    /// To send: build the message with an SK body of the final size
    /// (IV + padded plaintext + ICV), emit it, then fill
    /// `out[offset..]` using `out[..offset]` as AAD.
    pub fn sk_body_offset(&self) -> Option<usize> {
        let last = self.encrypted()?;
        let body_len = match &last.body {
            PayloadBody::Sk(sk) => sk.body.len(),
            PayloadBody::Skf(skf) => skf.body.len(),
            _ => return None,
        };
        Some(self.buffer_len() - body_len)
    }

    /// Splits `datagram`, which this message was parsed from, into
    /// (associated data, SK/SKF body); `None` without SK/SKF or when the
    /// datagram is not this message's length.
    pub fn split_encrypted<'a>(&self, datagram: &'a [u8]) -> Option<(&'a [u8], &'a [u8])> {
        if datagram.len() != self.buffer_len() {
            return None;
        }
        datagram.split_at_checked(self.sk_body_offset()?)
    }
}
