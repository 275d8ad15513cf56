//! The XFRM netlink socket and the start-up probe for kernel ESP.

use std::net::{IpAddr, Ipv4Addr};

use nix::errno::Errno;

use super::{
    Algo, AlgoAuth, Attr, Body, LifetimeCfg, Mark, MsgType, Selector, UserpolicyId, UserpolicyInfo,
    UsersaId, UsersaInfo, UserspiInfo, XfrmId, XfrmMessage, AF_INET, IPPROTO_AH, IPPROTO_COMP,
    IPPROTO_ESP,
};
use crate::netlink::{
    NetlinkError, NetlinkSocket, NlMsg, NETLINK_XFRM, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL,
};

/// Errors of XFRM requests.
#[derive(Debug, thiserror::Error)]
pub enum XfrmError {
    /// NEWSA/UPDSA for ESP failed because the kernel has no ESP type
    /// (`EPROTONOSUPPORT`, extack "Requested type not found").
    #[error(
        "kernel has no ESP support (esp4/esp6 modules): {op:?} failed with {errno}{}",
        message.as_ref().map(|m| format!(" \"{m}\"")).unwrap_or_default()
    )]
    NoEsp {
        /// The request.
        op: MsgType,
        /// The errno.
        errno: Errno,
        /// The kernel's extended-ack message.
        message: Option<String>,
    },
    /// Same for AH or IPComp.
    #[error("kernel has no support for IP protocol {proto} (ah4/ah6 or ipcomp modules): {op:?} failed with {errno}")]
    NoXfrmType {
        /// `IPPROTO_AH` or `IPPROTO_COMP`.
        proto: u8,
        /// The request.
        op: MsgType,
        /// The errno.
        errno: Errno,
    },
    /// The kernel refused or the socket failed.
    #[error("XFRM {op:?}: {source}")]
    Netlink {
        /// The request.
        op: MsgType,
        /// What went wrong.
        #[source]
        source: NetlinkError,
    },
    /// Opening the socket failed.
    #[error("cannot open NETLINK_XFRM socket: {0}")]
    Open(#[source] std::io::Error),
    /// The kernel's reply was not what the request expects.
    #[error("XFRM {op:?}: unexpected reply: {detail}")]
    Unexpected {
        /// The request.
        op: MsgType,
        /// What came back.
        detail: String,
    },
}

impl XfrmError {
    /// The kernel's errno, if the kernel refused.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            XfrmError::NoEsp { errno, .. } | XfrmError::NoXfrmType { errno, .. } => Some(*errno),
            XfrmError::Netlink { source, .. } => source.errno(),
            _ => None,
        }
    }
    /// True for "no such SA/policy" (`ENOENT`, or `ESRCH` from DELSA).
    pub fn is_not_found(&self) -> bool {
        matches!(self.errno(), Some(Errno::ENOENT | Errno::ESRCH))
    }
}

/// Maps a failed NEWSA/UPDSA to the missing-protocol errors. The kernel's
/// `__xfrm_init_state` fails with `EPROTONOSUPPORT` and "Requested type not
/// found" when `xfrm_get_type()` finds no `esp4`/`esp6` (or AH, IPComp).
pub fn map_sa_error(op: MsgType, proto: u8, e: NetlinkError) -> XfrmError {
    if e.errno() == Some(Errno::EPROTONOSUPPORT) {
        let message = e.message().map(str::to_owned);
        let is_type = message
            .as_deref()
            .is_none_or(|m| m.contains("Requested type not found"));
        if is_type {
            match proto {
                IPPROTO_ESP => {
                    return XfrmError::NoEsp {
                        op,
                        errno: Errno::EPROTONOSUPPORT,
                        message,
                    }
                }
                IPPROTO_AH | IPPROTO_COMP => {
                    return XfrmError::NoXfrmType {
                        proto,
                        op,
                        errno: Errno::EPROTONOSUPPORT,
                    }
                }
                _ => {}
            }
        }
    }
    XfrmError::Netlink { op, source: e }
}

/// An open `NETLINK_XFRM` socket.
#[derive(Debug)]
pub struct XfrmSocket {
    nl: NetlinkSocket,
}

impl XfrmSocket {
    /// Opens a socket for requests.
    pub fn open() -> Result<XfrmSocket, XfrmError> {
        Self::open_groups(&[])
    }

    /// Opens a socket subscribed to `groups` (e.g. [`super::group::ACQUIRE`],
    /// [`super::group::EXPIRE`]); read them with [`XfrmSocket::next_event`].
    pub fn open_groups(groups: &[u32]) -> Result<XfrmSocket, XfrmError> {
        let mut mask = 0u32;
        for g in groups {
            if (1..=32).contains(g) {
                mask |= 1 << (g - 1);
            }
        }
        let nl = NetlinkSocket::open(NETLINK_XFRM, mask).map_err(XfrmError::Open)?;
        Ok(XfrmSocket { nl })
    }

    /// The underlying netlink socket (timeouts, port id).
    pub fn netlink(&self) -> &NetlinkSocket {
        &self.nl
    }

    fn request(&mut self, msg: &XfrmMessage, flags: u16) -> Result<Vec<XfrmMessage>, NetlinkError> {
        let payload = msg.payload()?;
        let replies = self.nl.request(msg.msg_type.0, flags, &payload)?;
        let mut out = Vec::with_capacity(replies.len());
        for r in &replies {
            out.push(XfrmMessage::from_nlmsg(r)?);
        }
        Ok(out)
    }

    fn ack(&mut self, msg: XfrmMessage, flags: u16) -> Result<(), XfrmError> {
        let op = msg.msg_type;
        self.request(&msg, flags)
            .map(|_| ())
            .map_err(|source| XfrmError::Netlink { op, source })
    }

    fn sa_write(
        &mut self,
        op: MsgType,
        sa: &UsersaInfo,
        attrs: Vec<Attr>,
    ) -> Result<(), XfrmError> {
        let flags = if op == MsgType::NEWSA {
            NLM_F_CREATE | NLM_F_EXCL
        } else {
            0
        };
        let msg = XfrmMessage::new(op, Body::SaInfo(*sa), attrs);
        self.request(&msg, flags)
            .map(|_| ())
            .map_err(|e| map_sa_error(op, sa.id.proto, e))
    }

    /// `XFRM_MSG_NEWSA`: install an SA (`attrs`: algorithms, encap, if_id,
    /// mark, ESN replay state ...).
    pub fn new_sa(&mut self, sa: &UsersaInfo, attrs: Vec<Attr>) -> Result<(), XfrmError> {
        self.sa_write(MsgType::NEWSA, sa, attrs)
    }

    /// `XFRM_MSG_UPDSA`: complete a larval SA (from ALLOCSPI) or update one.
    pub fn update_sa(&mut self, sa: &UsersaInfo, attrs: Vec<Attr>) -> Result<(), XfrmError> {
        self.sa_write(MsgType::UPDSA, sa, attrs)
    }

    /// `XFRM_MSG_DELSA`.
    pub fn delete_sa(&mut self, id: &UsersaId, attrs: Vec<Attr>) -> Result<(), XfrmError> {
        self.ack(XfrmMessage::new(MsgType::DELSA, Body::SaId(*id), attrs), 0)
    }

    fn single(&mut self, msg: XfrmMessage) -> Result<XfrmMessage, XfrmError> {
        let op = msg.msg_type;
        let mut v = self
            .request(&msg, 0)
            .map_err(|source| XfrmError::Netlink { op, source })?;
        if v.len() != 1 {
            return Err(XfrmError::Unexpected {
                op,
                detail: format!("{} replies", v.len()),
            });
        }
        Ok(v.remove(0))
    }

    /// `XFRM_MSG_GETSA`: the SA (a NEWSA-shaped message).
    pub fn get_sa(&mut self, id: &UsersaId, attrs: Vec<Attr>) -> Result<XfrmMessage, XfrmError> {
        self.single(XfrmMessage::new(MsgType::GETSA, Body::SaId(*id), attrs))
    }

    /// `XFRM_MSG_GETSA` dump of every SA.
    pub fn dump_sa(&mut self) -> Result<Vec<XfrmMessage>, XfrmError> {
        let msg = XfrmMessage::new(MsgType::GETSA, Body::Empty, Vec::new());
        self.request(&msg, NLM_F_DUMP)
            .map_err(|source| XfrmError::Netlink {
                op: MsgType::GETSA,
                source,
            })
    }

    /// `XFRM_MSG_ALLOCSPI`: reserve an SPI in `[min, max]`; returns the
    /// larval SA (state `ACQ`) the kernel created.
    pub fn alloc_spi(
        &mut self,
        spi: &UserspiInfo,
        attrs: Vec<Attr>,
    ) -> Result<UsersaInfo, XfrmError> {
        let reply = self.single(XfrmMessage::new(
            MsgType::ALLOCSPI,
            Body::SpiInfo(*spi),
            attrs,
        ))?;
        match reply.body {
            Body::SaInfo(s) => Ok(s),
            other => Err(XfrmError::Unexpected {
                op: MsgType::ALLOCSPI,
                detail: format!("{:?} with {:?}", reply.msg_type, other),
            }),
        }
    }

    /// `XFRM_MSG_NEWPOLICY` (`attrs`: `Tmpl`, `IfId`, `Mark` ...).
    pub fn new_policy(&mut self, p: &UserpolicyInfo, attrs: Vec<Attr>) -> Result<(), XfrmError> {
        self.ack(
            XfrmMessage::new(MsgType::NEWPOLICY, Body::PolicyInfo(*p), attrs),
            NLM_F_CREATE | NLM_F_EXCL,
        )
    }

    /// `XFRM_MSG_UPDPOLICY`: create or replace.
    pub fn update_policy(&mut self, p: &UserpolicyInfo, attrs: Vec<Attr>) -> Result<(), XfrmError> {
        self.ack(
            XfrmMessage::new(MsgType::UPDPOLICY, Body::PolicyInfo(*p), attrs),
            0,
        )
    }

    /// `XFRM_MSG_DELPOLICY` by selector and direction (or index); `attrs`
    /// must repeat the policy's `IfId`/`Mark` to find it.
    pub fn delete_policy(&mut self, id: &UserpolicyId, attrs: Vec<Attr>) -> Result<(), XfrmError> {
        self.ack(
            XfrmMessage::new(MsgType::DELPOLICY, Body::PolicyId(*id), attrs),
            0,
        )
    }

    /// `XFRM_MSG_GETPOLICY`: the policy (a NEWPOLICY-shaped message).
    pub fn get_policy(
        &mut self,
        id: &UserpolicyId,
        attrs: Vec<Attr>,
    ) -> Result<XfrmMessage, XfrmError> {
        self.single(XfrmMessage::new(
            MsgType::GETPOLICY,
            Body::PolicyId(*id),
            attrs,
        ))
    }

    /// `XFRM_MSG_GETPOLICY` dump of every policy.
    pub fn dump_policy(&mut self) -> Result<Vec<XfrmMessage>, XfrmError> {
        let msg = XfrmMessage::new(MsgType::GETPOLICY, Body::Empty, Vec::new());
        self.request(&msg, NLM_F_DUMP)
            .map_err(|source| XfrmError::Netlink {
                op: MsgType::GETPOLICY,
                source,
            })
    }

    /// `XFRM_MSG_FLUSHSA` of `proto` (0: every protocol).
    pub fn flush_sa(&mut self, proto: u8) -> Result<(), XfrmError> {
        self.ack(
            XfrmMessage::new(MsgType::FLUSHSA, Body::FlushSa(proto), Vec::new()),
            0,
        )
    }

    /// `XFRM_MSG_FLUSHPOLICY` (main policy type).
    pub fn flush_policy(&mut self) -> Result<(), XfrmError> {
        self.ack(
            XfrmMessage::new(MsgType::FLUSHPOLICY, Body::Empty, Vec::new()),
            0,
        )
    }

    /// The next multicast notification (ACQUIRE, EXPIRE, POLEXPIRE ...).
    pub fn next_event(&mut self) -> Result<XfrmMessage, XfrmError> {
        let m: NlMsg = self.nl.next_event().map_err(|source| XfrmError::Netlink {
            op: MsgType(0),
            source,
        })?;
        XfrmMessage::from_nlmsg(&m).map_err(|e| XfrmError::Netlink {
            op: MsgType(m.msg_type),
            source: NetlinkError::Parse(e),
        })
    }
}

/// Whether the running kernel can carry ESP (`--dataplane auto` falls back to
/// userspace ESP when it cannot).
///
/// Side effect, kept minimal: the probe installs one ESP SA in the caller's
/// network namespace (SPI in `0xc0000000..`, TEST-NET-1 addresses
/// 192.0.2.1 → 192.0.2.2, an `XFRMA_MARK` that no packet carries, hard
/// lifetime 2 s) and deletes it at once. `Ok(false)` means the kernel said
/// "Requested type not found" (no `esp4`); other failures (no permission,
/// `cbc(aes)` missing from the crypto API) are errors, because they say
/// nothing about ESP.
pub fn xfrm_esp_available() -> Result<bool, XfrmError> {
    let mut s = XfrmSocket::open()?;
    let spi = 0xc000_0000 | (std::process::id() & 0x0fff_ffff);
    let src = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    let dst = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
    let mut lft = LifetimeCfg::infinite();
    lft.hard_add_expires_seconds = 2;
    let sa = UsersaInfo {
        sel: Selector::default(),
        id: XfrmId {
            daddr: dst.into(),
            spi,
            proto: IPPROTO_ESP,
        },
        saddr: src.into(),
        lft,
        family: AF_INET,
        mode: super::mode::TRANSPORT,
        ..UsersaInfo::default()
    };
    let mark = Mark {
        v: 0x7674_6964, // "vtid"
        m: 0xffff_ffff,
    };
    let attrs = vec![
        Attr::AlgCrypt(Algo {
            name: "cbc(aes)".into(),
            key_bits: 128,
            key: vec![0u8; 16].into(),
        }),
        Attr::AlgAuthTrunc(AlgoAuth {
            name: "hmac(sha256)".into(),
            key_bits: 256,
            trunc_bits: 128,
            key: vec![0u8; 32].into(),
        }),
        Attr::Mark(mark),
    ];
    match s.new_sa(&sa, attrs) {
        Ok(()) => {
            let id = UsersaId {
                daddr: dst.into(),
                spi,
                family: AF_INET,
                proto: IPPROTO_ESP,
            };
            if let Err(e) = s.delete_sa(&id, vec![Attr::Mark(mark)]) {
                tracing::warn!("ESP probe SA 0x{spi:08x} not deleted ({e}); it expires in 2 s");
            }
            Ok(true)
        }
        Err(XfrmError::NoEsp { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}
