//! The IKEv2 message codec (RFC 7296 §3, RFC 7383 §2.5).
//!
//! One symmetric codec in the style of smoltcp's `Repr`s: every structure
//! has a typed representation with `parse` (from untrusted bytes, returning
//! a [`WireError`] that maps to the notification to send, §2.21) and
//! `buffer_len`/`emit_into`. Parsing never panics, whatever the input:
//! every read is bounds-checked and no arithmetic on input can overflow.
//! Emission is infallible for any value a parse produced; it panics only on
//! hand-built values that break a documented size limit (e.g. a 256-octet
//! SPI or 256 traffic selectors). Values built from what a peer sent can
//! break them (narrowing multiplies selectors), so every representation
//! has a `check` that finds such a value before emission, and
//! [`Message::try_emit`] / [`try_emit_payload_chain`] never panic: the
//! engine emits only through them.
//!
//! Round trips: for every message `m` that parses, `parse(emit(m)) == m`;
//! and `emit(parse(b)) == b` for every `b` whose RESERVED fields are zero
//! (RESERVED fields are ignored on receipt and sent as zero, §3.2; header
//! flag bits and critical bits are kept).
//!
//! Entry points: [`Message::parse`] / [`Message::emit`] for datagrams;
//! [`parse_payload_chain`] / [`emit_payload_chain`] for the plaintext of an
//! SK payload; [`Message::sk_body_offset`] / [`Message::split_encrypted`]
//! for the AEAD associated data.

mod dn;
mod error;
mod header;
mod ident;
mod message;
mod payload;
mod reader;
pub mod registry;
pub mod sa;
mod ts;

pub use dn::{dn_to_string, DN_ATTRIBUTES};
pub use error::{Part, WireError};
pub use header::{Flags, Header};
pub use ident::Identification;
pub use message::Message;
pub use payload::{
    check_payload_chain, emit_payload_chain, parse_payload_chain, payload_chain_len,
    try_emit_payload_chain, AuthPayload, CertPayload, CertReqPayload, CfgAttr, CpPayload,
    DeletePayload, EapPayload, KePayload, NoncePayload, NotifyPayload, Payload, PayloadBody,
    SkPayload, SkfPayload,
};
pub use registry::*;
pub use sa::*;
pub use ts::{TrafficSelector, TsPayload};
