//! A minimal netlink transport shared by [`crate::xfrm`] and [`crate::link`]:
//! `nlmsghdr` framing, `nlattr` attributes, and a socket that matches
//! replies to requests by sequence number, turns `NLMSG_ERROR` into typed
//! errors (with the kernel's extended-ack message), and queues multicast
//! notifications.
//!
//! Hand-written rather than taken from `netlink-packet-*`: those crates'
//! XFRM support is thin, and the daemon needs exactly the byte layouts that
//! the layout tests pin against the C headers.
#![forbid(unsafe_code)]

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::libc;
use nix::sys::socket::{self, sockopt, MsgFlags, NetlinkAddr};
use nix::sys::time::TimeVal;

use crate::error::ParseError;
use crate::wire::{Put, Reader};

/// `sizeof(struct nlmsghdr)`.
pub const NLMSG_HDRLEN: usize = 16;
/// `NLMSG_NOOP`.
pub const NLMSG_NOOP: u16 = 1;
/// `NLMSG_ERROR`.
pub const NLMSG_ERROR: u16 = 2;
/// `NLMSG_DONE`.
pub const NLMSG_DONE: u16 = 3;
/// `NLM_F_REQUEST`.
pub const NLM_F_REQUEST: u16 = 0x1;
/// `NLM_F_MULTI`.
pub const NLM_F_MULTI: u16 = 0x2;
/// `NLM_F_ACK`.
pub const NLM_F_ACK: u16 = 0x4;
/// `NLM_F_DUMP` (`NLM_F_ROOT | NLM_F_MATCH`).
pub const NLM_F_DUMP: u16 = 0x300;
/// `NLM_F_REPLACE`.
pub const NLM_F_REPLACE: u16 = 0x100;
/// `NLM_F_EXCL`.
pub const NLM_F_EXCL: u16 = 0x200;
/// `NLM_F_CREATE`.
pub const NLM_F_CREATE: u16 = 0x400;
/// `NLM_F_CAPPED` (in `NLMSG_ERROR`: the request payload is not echoed).
pub const NLM_F_CAPPED: u16 = 0x100;
/// `NLM_F_ACK_TLVS` (in `NLMSG_ERROR`: extended-ack attributes follow).
pub const NLM_F_ACK_TLVS: u16 = 0x200;
/// `NLMSGERR_ATTR_MSG`.
const NLMSGERR_ATTR_MSG: u16 = 1;
/// `NLA_F_NESTED`.
pub const NLA_F_NESTED: u16 = 0x8000;
/// `NLA_TYPE_MASK`.
pub const NLA_TYPE_MASK: u16 = 0x3fff;
/// `SOL_NETLINK`.
const SOL_NETLINK: i32 = 270;
/// `NETLINK_CAP_ACK`.
const NETLINK_CAP_ACK: i32 = 10;
/// `NETLINK_EXT_ACK`.
const NETLINK_EXT_ACK: i32 = 11;
/// `NETLINK_ROUTE`.
pub const NETLINK_ROUTE: i32 = 0;
/// `NETLINK_XFRM`.
pub const NETLINK_XFRM: i32 = 6;

const RECV_BUF: usize = 64 * 1024;

/// One netlink message: header fields and payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NlMsg {
    /// `nlmsg_type`.
    pub msg_type: u16,
    /// `nlmsg_flags`.
    pub flags: u16,
    /// `nlmsg_seq`.
    pub seq: u32,
    /// `nlmsg_pid` (port id).
    pub pid: u32,
    /// Everything after the header, without trailing alignment.
    pub payload: Vec<u8>,
}

impl NlMsg {
    /// Encodes header and payload, padded to 4 bytes.
    pub fn emit(&self) -> Result<Vec<u8>, ParseError> {
        let len = u32::try_from(NLMSG_HDRLEN + self.payload.len())
            .map_err(|_| ParseError::invalid("nlmsghdr", "message too long"))?;
        let mut out = Vec::with_capacity(len as usize + 3);
        out.put_u32(len);
        out.put_u16(self.msg_type);
        out.put_u16(self.flags);
        out.put_u32(self.seq);
        out.put_u32(self.pid);
        out.extend_from_slice(&self.payload);
        out.pad_to(4);
        Ok(out)
    }

    /// Splits a datagram into messages.
    pub fn parse_all(buf: &[u8]) -> Result<Vec<NlMsg>, ParseError> {
        let mut out = Vec::new();
        let mut pos = 0;
        while buf.len() - pos >= NLMSG_HDRLEN {
            let mut r = Reader::new(&buf[pos..], "nlmsghdr");
            let len = r.u32()? as usize;
            if len < NLMSG_HDRLEN || len > buf.len() - pos {
                return Err(ParseError::invalid(
                    "nlmsghdr",
                    format!("nlmsg_len {len} at offset {pos}, datagram {}", buf.len()),
                ));
            }
            let msg_type = r.u16()?;
            let flags = r.u16()?;
            let seq = r.u32()?;
            let pid = r.u32()?;
            out.push(NlMsg {
                msg_type,
                flags,
                seq,
                pid,
                payload: buf[pos + NLMSG_HDRLEN..pos + len].to_vec(),
            });
            pos += len.div_ceil(4) * 4;
            if pos >= buf.len() {
                break;
            }
        }
        Ok(out)
    }
}

/// Appends an attribute (`nlattr` + data, padded to 4).
pub fn put_attr(out: &mut Vec<u8>, kind: u16, data: &[u8]) -> Result<(), ParseError> {
    let len = u16::try_from(4 + data.len())
        .map_err(|_| ParseError::invalid("nlattr", "attribute longer than 65535 bytes"))?;
    out.put_u16(len);
    out.put_u16(kind);
    out.extend_from_slice(data);
    out.pad_to(4);
    Ok(())
}

/// Splits an attribute area into `(nla_type, payload)` pairs. Trailing bytes
/// shorter than an attribute header are ignored.
pub fn parse_attrs(buf: &[u8]) -> Result<Vec<(u16, &[u8])>, ParseError> {
    let mut out = Vec::new();
    let mut pos = 0;
    while buf.len().saturating_sub(pos) >= 4 {
        let mut r = Reader::new(&buf[pos..], "nlattr");
        let len = usize::from(r.u16()?);
        let kind = r.u16()?;
        if len < 4 || len > buf.len() - pos {
            return Err(ParseError::invalid(
                "nlattr",
                format!("nla_len {len} at offset {pos}, area {}", buf.len()),
            ));
        }
        out.push((kind, &buf[pos + 4..pos + len]));
        pos += len.div_ceil(4) * 4;
    }
    Ok(out)
}

/// Errors of a netlink request.
#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    /// Socket I/O failed.
    #[error("netlink socket: {0}")]
    Io(#[from] io::Error),
    /// A reply could not be decoded.
    #[error("netlink message: {0}")]
    Parse(#[from] ParseError),
    /// The kernel answered with an error.
    #[error("kernel returned {errno}{}", message.as_ref().map(|m| format!(" ({m})")).unwrap_or_default())]
    Kernel {
        /// The errno.
        errno: Errno,
        /// The extended-ack message, if the kernel gave one.
        message: Option<String>,
    },
    /// No reply before the receive timeout.
    #[error("no netlink reply to seq {0} before the timeout")]
    Timeout(u32),
}

impl NetlinkError {
    /// The kernel's errno, if this is a kernel error.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            NetlinkError::Kernel { errno, .. } => Some(*errno),
            _ => None,
        }
    }
    /// The kernel's extended-ack message, if any.
    pub fn message(&self) -> Option<&str> {
        match self {
            NetlinkError::Kernel { message, .. } => message.as_deref(),
            _ => None,
        }
    }
}

/// Decodes an `NLMSG_ERROR` payload: `Ok(())` for an ack, the error
/// otherwise.
pub fn parse_error(msg: &NlMsg) -> Result<Result<(), NetlinkError>, ParseError> {
    let mut r = Reader::new(&msg.payload, "nlmsgerr");
    let err = r.i32()?;
    if err == 0 {
        return Ok(Ok(()));
    }
    let mut message = None;
    if msg.flags & NLM_F_ACK_TLVS != 0 {
        // The original header, then its payload unless capped.
        let orig_len = r.u32()? as usize;
        r.skip(NLMSG_HDRLEN - 4)?;
        if msg.flags & NLM_F_CAPPED == 0 {
            r.skip(orig_len.saturating_sub(NLMSG_HDRLEN).div_ceil(4) * 4)?;
        }
        for (kind, data) in parse_attrs(r.rest())? {
            if kind & NLA_TYPE_MASK == NLMSGERR_ATTR_MSG {
                let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
                message = Some(String::from_utf8_lossy(&data[..end]).into_owned());
            }
        }
    }
    Ok(Err(NetlinkError::Kernel {
        errno: Errno::from_raw(err.saturating_neg()),
        message,
    }))
}

/// A netlink socket bound to an automatic port id.
#[derive(Debug)]
pub struct NetlinkSocket {
    fd: OwnedFd,
    seq: u32,
    port: u32,
    pending: VecDeque<NlMsg>,
}

impl NetlinkSocket {
    /// Opens a `protocol` socket (e.g. [`NETLINK_XFRM`]) subscribed to the
    /// multicast `groups` bitmask (bit `n-1` for group `n`), with extended
    /// acks on and a 5-second receive timeout.
    pub fn open(protocol: i32, groups: u32) -> io::Result<NetlinkSocket> {
        let fd = crate::sys::socket(libc::AF_NETLINK, libc::SOCK_RAW, protocol)?;
        socket::bind(fd.as_raw_fd(), &NetlinkAddr::new(0, groups)).map_err(io::Error::from)?;
        let addr: NetlinkAddr = socket::getsockname(fd.as_raw_fd()).map_err(io::Error::from)?;
        // Best effort: older kernels lack these options.
        let _ = crate::sys::setsockopt_int(fd.as_fd(), SOL_NETLINK, NETLINK_EXT_ACK, 1);
        let _ = crate::sys::setsockopt_int(fd.as_fd(), SOL_NETLINK, NETLINK_CAP_ACK, 1);
        let s = NetlinkSocket {
            fd,
            seq: 0,
            port: addr.pid(),
            pending: VecDeque::new(),
        };
        s.set_timeout(Some(Duration::from_secs(5)))?;
        Ok(s)
    }

    /// Sets (or clears) the receive timeout.
    pub fn set_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        let tv = match t {
            Some(d) => TimeVal::new(d.as_secs() as _, d.subsec_micros() as _),
            None => TimeVal::new(0, 0),
        };
        socket::setsockopt(&self.fd, sockopt::ReceiveTimeout, &tv).map_err(io::Error::from)
    }

    /// Our port id.
    pub fn port(&self) -> u32 {
        self.port
    }

    /// Sends one message with a fresh sequence number; returns it.
    pub fn send(&mut self, msg_type: u16, flags: u16, payload: &[u8]) -> Result<u32, NetlinkError> {
        self.seq = self.seq.wrapping_add(1).max(1);
        let m = NlMsg {
            msg_type,
            flags,
            seq: self.seq,
            pid: 0,
            payload: payload.to_vec(),
        };
        let bytes = m.emit()?;
        socket::send(self.fd.as_raw_fd(), &bytes, MsgFlags::empty()).map_err(io::Error::from)?;
        Ok(self.seq)
    }

    /// Receives one datagram's messages from the socket.
    pub fn recv(&mut self) -> Result<Vec<NlMsg>, NetlinkError> {
        let mut buf = vec![0u8; RECV_BUF];
        let n = match socket::recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::empty()) {
            Ok(n) => n,
            Err(Errno::EAGAIN) => {
                return Err(NetlinkError::Io(io::Error::from(io::ErrorKind::WouldBlock)))
            }
            Err(e) => return Err(NetlinkError::Io(e.into())),
        };
        Ok(NlMsg::parse_all(&buf[..n])?)
    }

    /// Sends a request and collects its replies: for a plain request (sent
    /// with `NLM_F_ACK`) until the ack, for a dump (`NLM_F_DUMP` in `flags`)
    /// until `NLMSG_DONE`. Messages with other sequence numbers are queued
    /// for [`NetlinkSocket::next_event`].
    pub fn request(
        &mut self,
        msg_type: u16,
        flags: u16,
        payload: &[u8],
    ) -> Result<Vec<NlMsg>, NetlinkError> {
        let dump = flags & NLM_F_DUMP == NLM_F_DUMP;
        let flags = NLM_F_REQUEST | flags | if dump { 0 } else { NLM_F_ACK };
        let seq = self.send(msg_type, flags, payload)?;
        let mut replies = Vec::new();
        loop {
            let batch = match self.recv() {
                Err(NetlinkError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Err(NetlinkError::Timeout(seq))
                }
                r => r?,
            };
            for m in batch {
                if m.seq != seq || m.pid != self.port {
                    self.pending.push_back(m);
                    continue;
                }
                match m.msg_type {
                    NLMSG_ERROR => {
                        parse_error(&m)??;
                        return Ok(replies);
                    }
                    NLMSG_DONE => {
                        let mut r = Reader::new(&m.payload, "NLMSG_DONE");
                        if let Ok(e) = r.i32() {
                            if e < 0 {
                                return Err(NetlinkError::Kernel {
                                    errno: Errno::from_raw(e.saturating_neg()),
                                    message: None,
                                });
                            }
                        }
                        return Ok(replies);
                    }
                    NLMSG_NOOP => {}
                    _ => replies.push(m),
                }
            }
        }
    }

    /// The next unsolicited message (multicast notification): queued ones
    /// first, then from the socket.
    pub fn next_event(&mut self) -> Result<NlMsg, NetlinkError> {
        loop {
            if let Some(m) = self.pending.pop_front() {
                return Ok(m);
            }
            let batch = self.recv()?;
            self.pending.extend(batch);
        }
    }
}
