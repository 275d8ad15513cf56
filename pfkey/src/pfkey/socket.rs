//! The `PF_KEY` socket: `socket(PF_KEY, SOCK_RAW, PF_KEY_V2)`.
//!
//! Requests get a fresh `sadb_msg_seq` and our `sadb_msg_pid` (the process
//! id, as both kernels expect); [`PfKeySocket::request`] returns the reply
//! with the same type, sequence number and pid, and queues anything else
//! (ACQUIREs, EXPIREs, other daemons' broadcasts) for
//! [`PfKeySocket::next_event`].

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::libc;
use nix::sys::socket::{self, sockopt, MsgFlags};
use nix::sys::time::TimeVal;

use super::{Flavor, Message, MsgType, PF_KEY_V2};
use crate::error::ParseError;

/// `PF_KEY` / `AF_KEY`: 15 on Linux, 27 (`pseudo_AF_KEY`) on the BSDs.
#[cfg(target_os = "linux")]
pub const PF_KEY: i32 = 15;
/// `PF_KEY` / `AF_KEY`: 15 on Linux, 27 (`pseudo_AF_KEY`) on the BSDs.
#[cfg(not(target_os = "linux"))]
pub const PF_KEY: i32 = 27;

/// Biggest datagram we read; SPD/SAD dumps come one entry per message.
const RECV_BUF: usize = 64 * 1024;

/// Errors of the PF_KEY socket.
#[derive(Debug, thiserror::Error)]
pub enum PfKeyError {
    /// `socket(PF_KEY, ...)` failed with `EAFNOSUPPORT`.
    #[error(
        "this kernel has no PF_KEY (AF_KEY) support: socket(PF_KEY, SOCK_RAW, PF_KEY_V2) \
         failed with EAFNOSUPPORT (Linux: CONFIG_NET_KEY / af_key module; FreeBSD: \
         options IPSEC / ipsec.ko)"
    )]
    NoPfKey,
    /// Socket I/O failed.
    #[error("PF_KEY socket: {0}")]
    Io(#[from] io::Error),
    /// A message could not be encoded or decoded.
    #[error("PF_KEY message: {0}")]
    Codec(#[from] ParseError),
    /// The kernel answered with `sadb_msg_errno` set.
    #[error("kernel rejected {msg_type:?}: {errno}")]
    Kernel {
        /// The request type.
        msg_type: MsgType,
        /// The kernel's errno.
        errno: Errno,
    },
    /// No reply before the receive timeout.
    #[error("no PF_KEY reply to {msg_type:?} (seq {seq}) before the timeout")]
    Timeout {
        /// The request type.
        msg_type: MsgType,
        /// Its sequence number.
        seq: u32,
    },
}

/// An open PF_KEY v2 socket.
#[derive(Debug)]
pub struct PfKeySocket {
    fd: OwnedFd,
    flavor: Flavor,
    seq: u32,
    pid: u32,
    pending: VecDeque<Message>,
}

impl PfKeySocket {
    /// Opens a PF_KEY v2 socket speaking `flavor` (normally
    /// [`Flavor::native`]), with a 5-second receive timeout.
    pub fn open(flavor: Flavor) -> Result<PfKeySocket, PfKeyError> {
        let fd = match crate::sys::socket(PF_KEY, libc::SOCK_RAW, i32::from(PF_KEY_V2)) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::EAFNOSUPPORT) => {
                return Err(PfKeyError::NoPfKey)
            }
            Err(e) => return Err(PfKeyError::Io(e)),
        };
        let s = PfKeySocket {
            fd,
            flavor,
            seq: 0,
            pid: std::process::id(),
            pending: VecDeque::new(),
        };
        s.set_timeout(Some(Duration::from_secs(5)))?;
        Ok(s)
    }

    /// Sets (or clears) the receive timeout.
    pub fn set_timeout(&self, t: Option<Duration>) -> Result<(), PfKeyError> {
        let tv = match t {
            Some(d) => TimeVal::new(d.as_secs() as _, d.subsec_micros() as _),
            None => TimeVal::new(0, 0),
        };
        socket::setsockopt(&self.fd, sockopt::ReceiveTimeout, &tv)
            .map_err(|e| PfKeyError::Io(e.into()))
    }

    /// The flavour this socket encodes with.
    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    /// Sends `msg` after giving it the next sequence number and our pid;
    /// returns the sequence number.
    pub fn send(&mut self, msg: &mut Message) -> Result<u32, PfKeyError> {
        self.seq = self.seq.wrapping_add(1).max(1);
        msg.seq = self.seq;
        msg.pid = self.pid;
        let bytes = msg.emit(self.flavor)?;
        tracing::trace!(msg_type = ?msg.msg_type, seq = msg.seq, len = bytes.len(), "pfkey send");
        socket::send(self.fd.as_fd().as_raw_fd(), &bytes, MsgFlags::empty())
            .map_err(|e| PfKeyError::Io(e.into()))?;
        Ok(msg.seq)
    }

    /// Receives one message from the kernel (not the pending queue).
    pub fn recv(&mut self) -> Result<Message, PfKeyError> {
        let mut buf = vec![0u8; RECV_BUF];
        let n = socket::recv(self.fd.as_fd().as_raw_fd(), &mut buf, MsgFlags::empty())
            .map_err(|e| PfKeyError::Io(e.into()))?;
        Ok(Message::parse(&buf[..n], self.flavor)?)
    }

    fn is_reply(&self, m: &Message, msg_type: MsgType, seq: u32) -> bool {
        m.msg_type == msg_type && m.seq == seq && m.pid == self.pid
    }

    /// Sends `msg` and waits for its reply; a reply with `sadb_msg_errno`
    /// set becomes [`PfKeyError::Kernel`].
    pub fn request(&mut self, mut msg: Message) -> Result<Message, PfKeyError> {
        let seq = self.send(&mut msg)?;
        loop {
            let m = match self.recv() {
                Err(PfKeyError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Err(PfKeyError::Timeout {
                        msg_type: msg.msg_type,
                        seq,
                    })
                }
                r => r?,
            };
            if self.is_reply(&m, msg.msg_type, seq) {
                if let Some(errno) = m.error() {
                    return Err(PfKeyError::Kernel {
                        msg_type: msg.msg_type,
                        errno,
                    });
                }
                return Ok(m);
            }
            self.pending.push_back(m);
        }
    }

    /// Sends a `SADB_DUMP` or `SADB_X_SPDDUMP` and collects the replies. Both
    /// kernels number dump replies down to a final `sadb_msg_seq` of 0, so
    /// replies are matched by type and pid and the one with seq 0 ends the
    /// dump. An empty database answers with a single reply carrying
    /// `ENOENT`, returned as an empty list.
    pub fn dump(&mut self, mut msg: Message) -> Result<Vec<Message>, PfKeyError> {
        let seq = self.send(&mut msg)?;
        let mut out = Vec::new();
        loop {
            let m = match self.recv() {
                Err(PfKeyError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Err(PfKeyError::Timeout {
                        msg_type: msg.msg_type,
                        seq,
                    })
                }
                r => r?,
            };
            if m.msg_type != msg.msg_type || m.pid != self.pid {
                self.pending.push_back(m);
                continue;
            }
            match m.error() {
                Some(Errno::ENOENT) => return Ok(out),
                Some(errno) => {
                    return Err(PfKeyError::Kernel {
                        msg_type: msg.msg_type,
                        errno,
                    })
                }
                None => {}
            }
            let last = m.seq == 0;
            out.push(m);
            if last {
                return Ok(out);
            }
        }
    }

    /// The next unsolicited message (ACQUIRE, EXPIRE, ...): queued ones
    /// first, then from the socket.
    pub fn next_event(&mut self) -> Result<Message, PfKeyError> {
        match self.pending.pop_front() {
            Some(m) => Ok(m),
            None => self.recv(),
        }
    }
}
