//! strongSwan's VICI (Versatile IKE Control Interface) protocol, so that
//! the real `swanctl` (and pfSense, which drives it) can manage vtid.
//!
//! * [`Message`]: the section/key/list tree with a symmetric
//!   [`parse`](Message::parse)/[`emit`](Message::emit) codec that rejects
//!   malformed input and never panics.
//! * [`Packet`]: the packet layer and its 32-bit length framing, at most
//!   [`MAX_PACKET_SIZE`] (512 KiB) per packet.
//! * [`Server`]: the Unix socket (mode 0600, root-owned by default), one
//!   task per client, commands dispatched to a [`Handler`] which can stream
//!   events to its client through an [`EventSink`]; event registration and
//!   broadcast through an [`EventBroadcaster`]; bounded queues and
//!   timeouts so a bad or slow client harms only itself.
//! * [`Client`]: requests, registrations and event streams.
//! * [`to_config_section`] / [`connections_from_load_conn`]: `load-conn`
//!   messages → the config crate's tree and typed connections;
//!   [`pools_from_load_pool`] likewise for `load-pool`.
//!
//! The protocol is specified in strongSwan's
//! `src/libcharon/plugins/vici/README.md`.
#![forbid(unsafe_code)]

mod client;
mod convert;
mod io;
pub mod message;
pub mod packet;
mod server;

pub use client::{Client, ClientError};
pub use convert::{
    connections_from_load_conn, pools_from_load_pool, to_config_section, vici_location,
    ConvertError,
};
pub use io::FrameError;
pub use message::{DecodeError, DecodeErrorKind, Element, EncodeError, Item, Message};
pub use packet::{Header, Packet, PacketType, MAX_PACKET_SIZE};
pub use server::{
    error_reply, version_reply, CommandError, EventBroadcaster, EventSink, Handler, Owner, Server,
    ServerConfig, SinkError, DEFAULT_SOCKET_MODE, STANDARD_EVENTS,
};
