//! A VICI client (for vtid's own CLI and for tests).
//!
//! One request at a time (VICI has no request IDs). Events that arrive
//! while waiting for a response or a registration confirmation are either
//! handed to the caller's callback ([`Client::request_streaming`]) or
//! queued for [`Client::next_event`]. No call has a timeout of its own:
//! wrap them in `tokio::time::timeout`.

use std::collections::VecDeque;
use std::io;
use std::path::Path;

use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;

use crate::io::{read_frame, FrameError};
use crate::message::{DecodeError, EncodeError, Message};
use crate::packet::{frame, Packet, PacketType};

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Reading or writing the socket failed.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// The server sent a bad packet.
    #[error("bad packet from server: {0}")]
    Decode(#[from] DecodeError),
    /// Reading a packet failed (oversized, truncated).
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The request cannot be encoded.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// The server closed the connection.
    #[error("server closed the connection")]
    Closed,
    /// `CMD_UNKNOWN`.
    #[error("unknown command '{0}'")]
    UnknownCommand(String),
    /// `EVENT_UNKNOWN`.
    #[error("unknown event '{0}'")]
    UnknownEvent(String),
    /// A packet type that does not fit (e.g. `EVENT_CONFIRM` for a command).
    #[error("unexpected {0:?} packet")]
    Unexpected(PacketType),
}

/// A connection to a VICI server.
#[derive(Debug)]
pub struct Client {
    stream: UnixStream,
    events: VecDeque<(String, Message)>,
}

impl Client {
    /// Connects to the socket at `path`.
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<Client> {
        Ok(Client {
            stream: UnixStream::connect(path).await?,
            events: VecDeque::new(),
        })
    }

    async fn send(
        &mut self,
        ty: PacketType,
        name: Option<&str>,
        message: Option<&Message>,
    ) -> Result<(), ClientError> {
        let f = frame(ty, name, message)?;
        self.stream.write_all(&f).await?;
        Ok(())
    }

    /// The next packet that is not an event; events go to `on_event`.
    async fn reply(
        &mut self,
        on_event: &mut dyn FnMut(&str, Message),
    ) -> Result<Packet, ClientError> {
        loop {
            let bytes = read_frame(&mut self.stream, None)
                .await?
                .ok_or(ClientError::Closed)?;
            match Packet::parse(&bytes)? {
                Packet::Event { name, message } => on_event(&name, message),
                p => return Ok(p),
            }
        }
    }

    /// Runs `command`; events arriving meanwhile are queued for
    /// [`Client::next_event`].
    pub async fn request(
        &mut self,
        command: &str,
        message: &Message,
    ) -> Result<Message, ClientError> {
        let mut queued = Vec::new();
        let r = self
            .request_streaming(command, message, |n, m| queued.push((n.to_owned(), m)))
            .await;
        self.events.extend(queued);
        r
    }

    /// Runs `command`, passing each event that arrives before the response
    /// (the command's stream, e.g. `list-sa`, and broadcasts) to `on_event`.
    pub async fn request_streaming(
        &mut self,
        command: &str,
        message: &Message,
        mut on_event: impl FnMut(&str, Message),
    ) -> Result<Message, ClientError> {
        self.send(PacketType::CmdRequest, Some(command), Some(message))
            .await?;
        match self.reply(&mut on_event).await? {
            Packet::CmdResponse(m) => Ok(m),
            Packet::CmdUnknown => Err(ClientError::UnknownCommand(command.into())),
            p => Err(ClientError::Unexpected(p.packet_type())),
        }
    }

    async fn registration(&mut self, ty: PacketType, event: &str) -> Result<(), ClientError> {
        self.send(ty, Some(event), None).await?;
        let mut queued = Vec::new();
        let r = self
            .reply(&mut |n: &str, m| queued.push((n.to_owned(), m)))
            .await;
        self.events.extend(queued);
        match r? {
            Packet::EventConfirm => Ok(()),
            Packet::EventUnknown => Err(ClientError::UnknownEvent(event.into())),
            p => Err(ClientError::Unexpected(p.packet_type())),
        }
    }

    /// Registers for event `event`.
    pub async fn register(&mut self, event: &str) -> Result<(), ClientError> {
        self.registration(PacketType::EventRegister, event).await
    }

    /// Unregisters from event `event`.
    pub async fn unregister(&mut self, event: &str) -> Result<(), ClientError> {
        self.registration(PacketType::EventUnregister, event).await
    }

    /// The next event (queued or read from the socket).
    pub async fn next_event(&mut self) -> Result<(String, Message), ClientError> {
        if let Some(e) = self.events.pop_front() {
            return Ok(e);
        }
        let bytes = read_frame(&mut self.stream, None)
            .await?
            .ok_or(ClientError::Closed)?;
        match Packet::parse(&bytes)? {
            Packet::Event { name, message } => Ok((name, message)),
            p => Err(ClientError::Unexpected(p.packet_type())),
        }
    }
}
