//! Linux XFRM netlink (`NETLINK_XFRM`) message codec.
//!
//! The structures follow `<linux/xfrm.h>` with the natural C alignment of a
//! 64-bit Linux target (the `u64` lifetime fields make `xfrm_usersa_info` 224
//! bytes and `xfrm_userpolicy_info` 168 bytes; 32-bit x86 userspace famously
//! disagrees and is not supported). Integers are host order except SPIs,
//! ports and addresses, which are big-endian on the wire and host order in
//! these Reprs. [`layout`] lists every size and offset; the layout tests
//! compare them with `sizeof`/`offsetof` from the C header.
//!
//! Hand-written rather than built on `netlink-packet-xfrm`: that crate's
//! coverage of XFRM attributes (ESN, IF_ID, SET_MARK, extra flags) is thin,
//! and a few hundred lines pinned by layout tests are easier to trust.
#![forbid(unsafe_code)]

pub mod socket;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use zeroize::Zeroizing;

use crate::error::ParseError;
use crate::netlink::{parse_attrs, put_attr, NlMsg, NLA_TYPE_MASK};
use crate::wire::{Put, Reader, Redacted};

pub use socket::{xfrm_esp_available, XfrmError, XfrmSocket};

/// `AF_INET`.
pub const AF_INET: u16 = 2;
/// `AF_INET6` (Linux).
pub const AF_INET6: u16 = 10;
/// `XFRM_INF`: no limit.
pub const XFRM_INF: u64 = u64::MAX;
/// `IPPROTO_ESP`.
pub const IPPROTO_ESP: u8 = 50;
/// `IPPROTO_AH`.
pub const IPPROTO_AH: u8 = 51;
/// `IPPROTO_COMP`.
pub const IPPROTO_COMP: u8 = 108;
/// `UDP_ENCAP_ESPINUDP`.
pub const UDP_ENCAP_ESPINUDP: u16 = 2;

/// `XFRM_MODE_*`.
pub mod mode {
    /// `XFRM_MODE_TRANSPORT`.
    pub const TRANSPORT: u8 = 0;
    /// `XFRM_MODE_TUNNEL`.
    pub const TUNNEL: u8 = 1;
    /// `XFRM_MODE_BEET`.
    pub const BEET: u8 = 4;
}

/// `XFRM_POLICY_*` directions and actions.
pub mod policy {
    /// `XFRM_POLICY_IN`.
    pub const IN: u8 = 0;
    /// `XFRM_POLICY_OUT`.
    pub const OUT: u8 = 1;
    /// `XFRM_POLICY_FWD`.
    pub const FWD: u8 = 2;
    /// `XFRM_POLICY_ALLOW`.
    pub const ALLOW: u8 = 0;
    /// `XFRM_POLICY_BLOCK`.
    pub const BLOCK: u8 = 1;
}

/// `XFRM_STATE_*` flags of `xfrm_usersa_info.flags`.
pub mod state_flags {
    /// `XFRM_STATE_NOECN`.
    pub const NOECN: u8 = 1;
    /// `XFRM_STATE_DECAP_DSCP`.
    pub const DECAP_DSCP: u8 = 2;
    /// `XFRM_STATE_NOPMTUDISC`.
    pub const NOPMTUDISC: u8 = 4;
    /// `XFRM_STATE_WILDRECV`.
    pub const WILDRECV: u8 = 8;
    /// `XFRM_STATE_ICMP`.
    pub const ICMP: u8 = 16;
    /// `XFRM_STATE_AF_UNSPEC`.
    pub const AF_UNSPEC: u8 = 32;
    /// `XFRM_STATE_ALIGN4`.
    pub const ALIGN4: u8 = 64;
    /// `XFRM_STATE_ESN`.
    pub const ESN: u8 = 128;
}

/// `XFRMNLGRP_*` multicast groups (subscribe with bit `group - 1`).
pub mod group {
    /// `XFRMNLGRP_ACQUIRE`.
    pub const ACQUIRE: u32 = 1;
    /// `XFRMNLGRP_EXPIRE` (SA and policy expiry).
    pub const EXPIRE: u32 = 2;
    /// `XFRMNLGRP_SA`.
    pub const SA: u32 = 3;
    /// `XFRMNLGRP_POLICY`.
    pub const POLICY: u32 = 4;
    /// `XFRMNLGRP_MAPPING`.
    pub const MAPPING: u32 = 8;
}

/// `XFRM_MSG_*` message types.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct MsgType(pub u16);

impl MsgType {
    /// `XFRM_MSG_NEWSA`.
    pub const NEWSA: MsgType = MsgType(0x10);
    /// `XFRM_MSG_DELSA`.
    pub const DELSA: MsgType = MsgType(0x11);
    /// `XFRM_MSG_GETSA`.
    pub const GETSA: MsgType = MsgType(0x12);
    /// `XFRM_MSG_NEWPOLICY`.
    pub const NEWPOLICY: MsgType = MsgType(0x13);
    /// `XFRM_MSG_DELPOLICY`.
    pub const DELPOLICY: MsgType = MsgType(0x14);
    /// `XFRM_MSG_GETPOLICY`.
    pub const GETPOLICY: MsgType = MsgType(0x15);
    /// `XFRM_MSG_ALLOCSPI`.
    pub const ALLOCSPI: MsgType = MsgType(0x16);
    /// `XFRM_MSG_ACQUIRE`.
    pub const ACQUIRE: MsgType = MsgType(0x17);
    /// `XFRM_MSG_EXPIRE`.
    pub const EXPIRE: MsgType = MsgType(0x18);
    /// `XFRM_MSG_UPDPOLICY`.
    pub const UPDPOLICY: MsgType = MsgType(0x19);
    /// `XFRM_MSG_UPDSA`.
    pub const UPDSA: MsgType = MsgType(0x1a);
    /// `XFRM_MSG_POLEXPIRE`.
    pub const POLEXPIRE: MsgType = MsgType(0x1b);
    /// `XFRM_MSG_FLUSHSA`.
    pub const FLUSHSA: MsgType = MsgType(0x1c);
    /// `XFRM_MSG_FLUSHPOLICY`.
    pub const FLUSHPOLICY: MsgType = MsgType(0x1d);

    fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x10 => "NEWSA",
            0x11 => "DELSA",
            0x12 => "GETSA",
            0x13 => "NEWPOLICY",
            0x14 => "DELPOLICY",
            0x15 => "GETPOLICY",
            0x16 => "ALLOCSPI",
            0x17 => "ACQUIRE",
            0x18 => "EXPIRE",
            0x19 => "UPDPOLICY",
            0x1a => "UPDSA",
            0x1b => "POLEXPIRE",
            0x1c => "FLUSHSA",
            0x1d => "FLUSHPOLICY",
            _ => return None,
        })
    }
}

impl fmt::Debug for MsgType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "XFRM_MSG_{n}"),
            None => write!(f, "MsgType({})", self.0),
        }
    }
}

/// Sizes and offsets of the `<linux/xfrm.h>` structures as this codec lays
/// them out; checked against the C header by the layout tests.
pub mod layout {
    /// `(struct, size)`.
    pub const SIZES: &[(&str, usize)] = &[
        ("xfrm_address_t", 16),
        ("struct xfrm_selector", SELECTOR),
        ("struct xfrm_id", ID),
        ("struct xfrm_lifetime_cfg", LIFETIME_CFG),
        ("struct xfrm_lifetime_cur", LIFETIME_CUR),
        ("struct xfrm_stats", STATS),
        ("struct xfrm_usersa_info", USERSA_INFO),
        ("struct xfrm_usersa_id", USERSA_ID),
        ("struct xfrm_userspi_info", USERSPI_INFO),
        ("struct xfrm_userpolicy_info", USERPOLICY_INFO),
        ("struct xfrm_userpolicy_id", USERPOLICY_ID),
        ("struct xfrm_user_tmpl", USER_TMPL),
        ("struct xfrm_user_expire", USER_EXPIRE),
        ("struct xfrm_user_polexpire", USER_POLEXPIRE),
        ("struct xfrm_user_acquire", USER_ACQUIRE),
        ("struct xfrm_usersa_flush", USERSA_FLUSH),
        ("struct xfrm_encap_tmpl", ENCAP_TMPL),
        ("struct xfrm_mark", MARK),
        ("struct xfrm_algo", ALGO),
        ("struct xfrm_algo_auth", ALGO_AUTH),
        ("struct xfrm_algo_aead", ALGO_AEAD),
        ("struct xfrm_replay_state", REPLAY_STATE),
        ("struct xfrm_replay_state_esn", REPLAY_STATE_ESN),
    ];
    /// `sizeof(struct xfrm_selector)`.
    pub const SELECTOR: usize = 56;
    /// `sizeof(struct xfrm_id)`.
    pub const ID: usize = 24;
    /// `sizeof(struct xfrm_lifetime_cfg)`.
    pub const LIFETIME_CFG: usize = 64;
    /// `sizeof(struct xfrm_lifetime_cur)`.
    pub const LIFETIME_CUR: usize = 32;
    /// `sizeof(struct xfrm_stats)`.
    pub const STATS: usize = 12;
    /// `sizeof(struct xfrm_usersa_info)`.
    pub const USERSA_INFO: usize = 224;
    /// `sizeof(struct xfrm_usersa_id)`.
    pub const USERSA_ID: usize = 24;
    /// `sizeof(struct xfrm_userspi_info)`.
    pub const USERSPI_INFO: usize = 232;
    /// `sizeof(struct xfrm_userpolicy_info)`.
    pub const USERPOLICY_INFO: usize = 168;
    /// `sizeof(struct xfrm_userpolicy_id)`.
    pub const USERPOLICY_ID: usize = 64;
    /// `sizeof(struct xfrm_user_tmpl)`.
    pub const USER_TMPL: usize = 64;
    /// `sizeof(struct xfrm_user_expire)`.
    pub const USER_EXPIRE: usize = 232;
    /// `sizeof(struct xfrm_user_polexpire)`.
    pub const USER_POLEXPIRE: usize = 176;
    /// `sizeof(struct xfrm_user_acquire)`.
    pub const USER_ACQUIRE: usize = 280;
    /// `sizeof(struct xfrm_usersa_flush)`.
    pub const USERSA_FLUSH: usize = 1;
    /// `sizeof(struct xfrm_encap_tmpl)`.
    pub const ENCAP_TMPL: usize = 24;
    /// `sizeof(struct xfrm_mark)`.
    pub const MARK: usize = 8;
    /// `sizeof(struct xfrm_algo)` (key follows).
    pub const ALGO: usize = 68;
    /// `sizeof(struct xfrm_algo_auth)` (key follows).
    pub const ALGO_AUTH: usize = 72;
    /// `sizeof(struct xfrm_algo_aead)` (key follows).
    pub const ALGO_AEAD: usize = 72;
    /// `sizeof(struct xfrm_replay_state)`.
    pub const REPLAY_STATE: usize = 12;
    /// `sizeof(struct xfrm_replay_state_esn)` (bitmap follows).
    pub const REPLAY_STATE_ESN: usize = 24;

    /// `(struct, field path, offset)`.
    pub const OFFSETS: &[(&str, &str, usize)] = &[
        ("struct xfrm_selector", "daddr", 0),
        ("struct xfrm_selector", "saddr", 16),
        ("struct xfrm_selector", "dport", 32),
        ("struct xfrm_selector", "dport_mask", 34),
        ("struct xfrm_selector", "sport", 36),
        ("struct xfrm_selector", "sport_mask", 38),
        ("struct xfrm_selector", "family", 40),
        ("struct xfrm_selector", "prefixlen_d", 42),
        ("struct xfrm_selector", "prefixlen_s", 43),
        ("struct xfrm_selector", "proto", 44),
        ("struct xfrm_selector", "ifindex", 48),
        ("struct xfrm_selector", "user", 52),
        ("struct xfrm_id", "daddr", 0),
        ("struct xfrm_id", "spi", 16),
        ("struct xfrm_id", "proto", 20),
        ("struct xfrm_lifetime_cfg", "soft_byte_limit", 0),
        ("struct xfrm_lifetime_cfg", "hard_byte_limit", 8),
        ("struct xfrm_lifetime_cfg", "soft_packet_limit", 16),
        ("struct xfrm_lifetime_cfg", "hard_packet_limit", 24),
        ("struct xfrm_lifetime_cfg", "soft_add_expires_seconds", 32),
        ("struct xfrm_lifetime_cfg", "hard_add_expires_seconds", 40),
        ("struct xfrm_lifetime_cfg", "soft_use_expires_seconds", 48),
        ("struct xfrm_lifetime_cfg", "hard_use_expires_seconds", 56),
        ("struct xfrm_lifetime_cur", "bytes", 0),
        ("struct xfrm_lifetime_cur", "packets", 8),
        ("struct xfrm_lifetime_cur", "add_time", 16),
        ("struct xfrm_lifetime_cur", "use_time", 24),
        ("struct xfrm_stats", "replay_window", 0),
        ("struct xfrm_stats", "replay", 4),
        ("struct xfrm_stats", "integrity_failed", 8),
        ("struct xfrm_usersa_info", "sel", 0),
        ("struct xfrm_usersa_info", "id", 56),
        ("struct xfrm_usersa_info", "saddr", 80),
        ("struct xfrm_usersa_info", "lft", 96),
        ("struct xfrm_usersa_info", "curlft", 160),
        ("struct xfrm_usersa_info", "stats", 192),
        ("struct xfrm_usersa_info", "seq", 204),
        ("struct xfrm_usersa_info", "reqid", 208),
        ("struct xfrm_usersa_info", "family", 212),
        ("struct xfrm_usersa_info", "mode", 214),
        ("struct xfrm_usersa_info", "replay_window", 215),
        ("struct xfrm_usersa_info", "flags", 216),
        ("struct xfrm_usersa_id", "daddr", 0),
        ("struct xfrm_usersa_id", "spi", 16),
        ("struct xfrm_usersa_id", "family", 20),
        ("struct xfrm_usersa_id", "proto", 22),
        ("struct xfrm_userspi_info", "info", 0),
        ("struct xfrm_userspi_info", "min", 224),
        ("struct xfrm_userspi_info", "max", 228),
        ("struct xfrm_userpolicy_info", "sel", 0),
        ("struct xfrm_userpolicy_info", "lft", 56),
        ("struct xfrm_userpolicy_info", "curlft", 120),
        ("struct xfrm_userpolicy_info", "priority", 152),
        ("struct xfrm_userpolicy_info", "index", 156),
        ("struct xfrm_userpolicy_info", "dir", 160),
        ("struct xfrm_userpolicy_info", "action", 161),
        ("struct xfrm_userpolicy_info", "flags", 162),
        ("struct xfrm_userpolicy_info", "share", 163),
        ("struct xfrm_userpolicy_id", "sel", 0),
        ("struct xfrm_userpolicy_id", "index", 56),
        ("struct xfrm_userpolicy_id", "dir", 60),
        ("struct xfrm_user_tmpl", "id", 0),
        ("struct xfrm_user_tmpl", "family", 24),
        ("struct xfrm_user_tmpl", "saddr", 28),
        ("struct xfrm_user_tmpl", "reqid", 44),
        ("struct xfrm_user_tmpl", "mode", 48),
        ("struct xfrm_user_tmpl", "share", 49),
        ("struct xfrm_user_tmpl", "optional", 50),
        ("struct xfrm_user_tmpl", "aalgos", 52),
        ("struct xfrm_user_tmpl", "ealgos", 56),
        ("struct xfrm_user_tmpl", "calgos", 60),
        ("struct xfrm_user_expire", "state", 0),
        ("struct xfrm_user_expire", "hard", 224),
        ("struct xfrm_user_polexpire", "pol", 0),
        ("struct xfrm_user_polexpire", "hard", 168),
        ("struct xfrm_user_acquire", "id", 0),
        ("struct xfrm_user_acquire", "saddr", 24),
        ("struct xfrm_user_acquire", "sel", 40),
        ("struct xfrm_user_acquire", "policy", 96),
        ("struct xfrm_user_acquire", "aalgos", 264),
        ("struct xfrm_user_acquire", "ealgos", 268),
        ("struct xfrm_user_acquire", "calgos", 272),
        ("struct xfrm_user_acquire", "seq", 276),
        ("struct xfrm_encap_tmpl", "encap_type", 0),
        ("struct xfrm_encap_tmpl", "encap_sport", 2),
        ("struct xfrm_encap_tmpl", "encap_dport", 4),
        ("struct xfrm_encap_tmpl", "encap_oa", 8),
        ("struct xfrm_mark", "v", 0),
        ("struct xfrm_mark", "m", 4),
        ("struct xfrm_algo", "alg_name", 0),
        ("struct xfrm_algo", "alg_key_len", 64),
        ("struct xfrm_algo", "alg_key", 68),
        ("struct xfrm_algo_auth", "alg_key_len", 64),
        ("struct xfrm_algo_auth", "alg_trunc_len", 68),
        ("struct xfrm_algo_auth", "alg_key", 72),
        ("struct xfrm_algo_aead", "alg_key_len", 64),
        ("struct xfrm_algo_aead", "alg_icv_len", 68),
        ("struct xfrm_algo_aead", "alg_key", 72),
        ("struct xfrm_replay_state", "oseq", 0),
        ("struct xfrm_replay_state", "seq", 4),
        ("struct xfrm_replay_state", "bitmap", 8),
        ("struct xfrm_replay_state_esn", "bmp_len", 0),
        ("struct xfrm_replay_state_esn", "oseq", 4),
        ("struct xfrm_replay_state_esn", "seq", 8),
        ("struct xfrm_replay_state_esn", "oseq_hi", 12),
        ("struct xfrm_replay_state_esn", "seq_hi", 16),
        ("struct xfrm_replay_state_esn", "replay_window", 20),
        ("struct xfrm_replay_state_esn", "bmp", 24),
    ];
}

// ---------------------------------------------------------------------------
// Structures

/// `xfrm_address_t`: 16 bytes, IPv4 in the first 4.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct XfrmAddress(pub [u8; 16]);

impl XfrmAddress {
    /// The address as `family` (`AF_INET` or `AF_INET6`) reads it.
    pub fn to_ip(&self, family: u16) -> Option<IpAddr> {
        match family {
            AF_INET => {
                let mut a = [0u8; 4];
                a.copy_from_slice(&self.0[..4]);
                Some(IpAddr::V4(Ipv4Addr::from(a)))
            }
            AF_INET6 => Some(IpAddr::V6(Ipv6Addr::from(self.0))),
            _ => None,
        }
    }
    fn parse(r: &mut Reader<'_>) -> Result<Self, ParseError> {
        Ok(XfrmAddress(r.array()?))
    }
    fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }
}

impl From<IpAddr> for XfrmAddress {
    fn from(ip: IpAddr) -> Self {
        let mut a = [0u8; 16];
        match ip {
            IpAddr::V4(v4) => a[..4].copy_from_slice(&v4.octets()),
            IpAddr::V6(v6) => a = v6.octets(),
        }
        XfrmAddress(a)
    }
}

impl fmt::Debug for XfrmAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0[4..].iter().all(|&b| b == 0) {
            write!(
                f,
                "{}",
                Ipv4Addr::new(self.0[0], self.0[1], self.0[2], self.0[3])
            )
        } else {
            write!(f, "{}", Ipv6Addr::from(self.0))
        }
    }
}

/// The family (`AF_INET`/`AF_INET6`) of an address.
pub fn family_of(ip: &IpAddr) -> u16 {
    if ip.is_ipv4() {
        AF_INET
    } else {
        AF_INET6
    }
}

/// `struct xfrm_selector`. Ports in host order here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct Selector {
    pub daddr: XfrmAddress,
    pub saddr: XfrmAddress,
    pub dport: u16,
    pub dport_mask: u16,
    pub sport: u16,
    pub sport_mask: u16,
    pub family: u16,
    pub prefixlen_d: u8,
    pub prefixlen_s: u8,
    pub proto: u8,
    pub ifindex: i32,
    pub user: u32,
}

impl Selector {
    /// A selector for traffic `src/sp → dst/dp`, any protocol and port.
    pub fn new(src: IpAddr, src_prefix: u8, dst: IpAddr, dst_prefix: u8) -> Selector {
        Selector {
            daddr: dst.into(),
            saddr: src.into(),
            family: family_of(&dst),
            prefixlen_d: dst_prefix,
            prefixlen_s: src_prefix,
            ..Selector::default()
        }
    }
    fn parse(r: &mut Reader<'_>) -> Result<Self, ParseError> {
        let s = Selector {
            daddr: XfrmAddress::parse(r)?,
            saddr: XfrmAddress::parse(r)?,
            dport: r.u16_be()?,
            dport_mask: r.u16_be()?,
            sport: r.u16_be()?,
            sport_mask: r.u16_be()?,
            family: r.u16()?,
            prefixlen_d: r.u8()?,
            prefixlen_s: r.u8()?,
            proto: r.u8()?,
            ifindex: {
                r.skip(3)?;
                r.i32()?
            },
            user: r.u32()?,
        };
        Ok(s)
    }
    fn emit(&self, out: &mut Vec<u8>) {
        self.daddr.emit(out);
        self.saddr.emit(out);
        out.put_u16_be(self.dport);
        out.put_u16_be(self.dport_mask);
        out.put_u16_be(self.sport);
        out.put_u16_be(self.sport_mask);
        out.put_u16(self.family);
        out.put_u8(self.prefixlen_d);
        out.put_u8(self.prefixlen_s);
        out.put_u8(self.proto);
        out.put_zeros(3);
        out.put_i32(self.ifindex);
        out.put_u32(self.user);
    }
}

/// `struct xfrm_id`. SPI in host order here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct XfrmId {
    pub daddr: XfrmAddress,
    pub spi: u32,
    pub proto: u8,
}

impl XfrmId {
    fn parse(r: &mut Reader<'_>) -> Result<Self, ParseError> {
        let id = XfrmId {
            daddr: XfrmAddress::parse(r)?,
            spi: r.u32_be()?,
            proto: r.u8()?,
        };
        r.skip(3)?;
        Ok(id)
    }
    fn emit(&self, out: &mut Vec<u8>) {
        self.daddr.emit(out);
        out.put_u32_be(self.spi);
        out.put_u8(self.proto);
        out.put_zeros(3);
    }
}

/// `struct xfrm_lifetime_cfg`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct LifetimeCfg {
    pub soft_byte_limit: u64,
    pub hard_byte_limit: u64,
    pub soft_packet_limit: u64,
    pub hard_packet_limit: u64,
    pub soft_add_expires_seconds: u64,
    pub hard_add_expires_seconds: u64,
    pub soft_use_expires_seconds: u64,
    pub hard_use_expires_seconds: u64,
}

impl LifetimeCfg {
    /// No byte or packet limits, no timeouts (what `ip xfrm` sends).
    pub fn infinite() -> LifetimeCfg {
        LifetimeCfg {
            soft_byte_limit: XFRM_INF,
            hard_byte_limit: XFRM_INF,
            soft_packet_limit: XFRM_INF,
            hard_packet_limit: XFRM_INF,
            ..LifetimeCfg::default()
        }
    }
    fn parse(r: &mut Reader<'_>) -> Result<Self, ParseError> {
        Ok(LifetimeCfg {
            soft_byte_limit: r.u64()?,
            hard_byte_limit: r.u64()?,
            soft_packet_limit: r.u64()?,
            hard_packet_limit: r.u64()?,
            soft_add_expires_seconds: r.u64()?,
            hard_add_expires_seconds: r.u64()?,
            soft_use_expires_seconds: r.u64()?,
            hard_use_expires_seconds: r.u64()?,
        })
    }
    fn emit(&self, out: &mut Vec<u8>) {
        for v in [
            self.soft_byte_limit,
            self.hard_byte_limit,
            self.soft_packet_limit,
            self.hard_packet_limit,
            self.soft_add_expires_seconds,
            self.hard_add_expires_seconds,
            self.soft_use_expires_seconds,
            self.hard_use_expires_seconds,
        ] {
            out.put_u64(v);
        }
    }
}

/// `struct xfrm_lifetime_cur`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct LifetimeCur {
    pub bytes: u64,
    pub packets: u64,
    pub add_time: u64,
    pub use_time: u64,
}

impl LifetimeCur {
    fn parse(r: &mut Reader<'_>) -> Result<Self, ParseError> {
        Ok(LifetimeCur {
            bytes: r.u64()?,
            packets: r.u64()?,
            add_time: r.u64()?,
            use_time: r.u64()?,
        })
    }
    fn emit(&self, out: &mut Vec<u8>) {
        out.put_u64(self.bytes);
        out.put_u64(self.packets);
        out.put_u64(self.add_time);
        out.put_u64(self.use_time);
    }
}

/// `struct xfrm_stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct Stats {
    pub replay_window: u32,
    pub replay: u32,
    pub integrity_failed: u32,
}

/// `struct xfrm_usersa_info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct UsersaInfo {
    pub sel: Selector,
    pub id: XfrmId,
    pub saddr: XfrmAddress,
    pub lft: LifetimeCfg,
    pub curlft: LifetimeCur,
    pub stats: Stats,
    pub seq: u32,
    pub reqid: u32,
    pub family: u16,
    pub mode: u8,
    pub replay_window: u8,
    pub flags: u8,
}

impl UsersaInfo {
    fn parse(r: &mut Reader<'_>) -> Result<Self, ParseError> {
        let v = UsersaInfo {
            sel: Selector::parse(r)?,
            id: XfrmId::parse(r)?,
            saddr: XfrmAddress::parse(r)?,
            lft: LifetimeCfg::parse(r)?,
            curlft: LifetimeCur::parse(r)?,
            stats: Stats {
                replay_window: r.u32()?,
                replay: r.u32()?,
                integrity_failed: r.u32()?,
            },
            seq: r.u32()?,
            reqid: r.u32()?,
            family: r.u16()?,
            mode: r.u8()?,
            replay_window: r.u8()?,
            flags: r.u8()?,
        };
        r.skip(7)?;
        Ok(v)
    }
    fn emit(&self, out: &mut Vec<u8>) {
        self.sel.emit(out);
        self.id.emit(out);
        self.saddr.emit(out);
        self.lft.emit(out);
        self.curlft.emit(out);
        out.put_u32(self.stats.replay_window);
        out.put_u32(self.stats.replay);
        out.put_u32(self.stats.integrity_failed);
        out.put_u32(self.seq);
        out.put_u32(self.reqid);
        out.put_u16(self.family);
        out.put_u8(self.mode);
        out.put_u8(self.replay_window);
        out.put_u8(self.flags);
        out.put_zeros(7);
    }
}

/// `struct xfrm_usersa_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct UsersaId {
    pub daddr: XfrmAddress,
    pub spi: u32,
    pub family: u16,
    pub proto: u8,
}

impl UsersaId {
    fn parse(r: &mut Reader<'_>) -> Result<Self, ParseError> {
        let v = UsersaId {
            daddr: XfrmAddress::parse(r)?,
            spi: r.u32_be()?,
            family: r.u16()?,
            proto: r.u8()?,
        };
        r.skip(1)?;
        Ok(v)
    }
    fn emit(&self, out: &mut Vec<u8>) {
        self.daddr.emit(out);
        out.put_u32_be(self.spi);
        out.put_u16(self.family);
        out.put_u8(self.proto);
        out.put_u8(0);
    }
}

/// `struct xfrm_userspi_info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct UserspiInfo {
    pub info: UsersaInfo,
    pub min: u32,
    pub max: u32,
}

/// `struct xfrm_userpolicy_info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct UserpolicyInfo {
    pub sel: Selector,
    pub lft: LifetimeCfg,
    pub curlft: LifetimeCur,
    pub priority: u32,
    pub index: u32,
    pub dir: u8,
    pub action: u8,
    pub flags: u8,
    pub share: u8,
}

impl UserpolicyInfo {
    fn parse(r: &mut Reader<'_>) -> Result<Self, ParseError> {
        let v = UserpolicyInfo {
            sel: Selector::parse(r)?,
            lft: LifetimeCfg::parse(r)?,
            curlft: LifetimeCur::parse(r)?,
            priority: r.u32()?,
            index: r.u32()?,
            dir: r.u8()?,
            action: r.u8()?,
            flags: r.u8()?,
            share: r.u8()?,
        };
        r.skip(4)?;
        Ok(v)
    }
    fn emit(&self, out: &mut Vec<u8>) {
        self.sel.emit(out);
        self.lft.emit(out);
        self.curlft.emit(out);
        out.put_u32(self.priority);
        out.put_u32(self.index);
        out.put_u8(self.dir);
        out.put_u8(self.action);
        out.put_u8(self.flags);
        out.put_u8(self.share);
        out.put_zeros(4);
    }
}

/// `struct xfrm_userpolicy_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct UserpolicyId {
    pub sel: Selector,
    pub index: u32,
    pub dir: u8,
}

impl UserpolicyId {
    fn parse(r: &mut Reader<'_>) -> Result<Self, ParseError> {
        let v = UserpolicyId {
            sel: Selector::parse(r)?,
            index: r.u32()?,
            dir: r.u8()?,
        };
        r.skip(3)?;
        Ok(v)
    }
    fn emit(&self, out: &mut Vec<u8>) {
        self.sel.emit(out);
        out.put_u32(self.index);
        out.put_u8(self.dir);
        out.put_zeros(3);
    }
}

/// `struct xfrm_user_tmpl`: one template of a policy (`XFRMA_TMPL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct UserTmpl {
    pub id: XfrmId,
    pub family: u16,
    pub saddr: XfrmAddress,
    pub reqid: u32,
    pub mode: u8,
    pub share: u8,
    pub optional: u8,
    pub aalgos: u32,
    pub ealgos: u32,
    pub calgos: u32,
}

impl UserTmpl {
    fn parse(r: &mut Reader<'_>) -> Result<Self, ParseError> {
        let id = XfrmId::parse(r)?;
        let family = r.u16()?;
        r.skip(2)?;
        let v = UserTmpl {
            id,
            family,
            saddr: XfrmAddress::parse(r)?,
            reqid: r.u32()?,
            mode: r.u8()?,
            share: r.u8()?,
            optional: r.u8()?,
            aalgos: {
                r.skip(1)?;
                r.u32()?
            },
            ealgos: r.u32()?,
            calgos: r.u32()?,
        };
        Ok(v)
    }
    fn emit(&self, out: &mut Vec<u8>) {
        self.id.emit(out);
        out.put_u16(self.family);
        out.put_u16(0);
        self.saddr.emit(out);
        out.put_u32(self.reqid);
        out.put_u8(self.mode);
        out.put_u8(self.share);
        out.put_u8(self.optional);
        out.put_u8(0);
        out.put_u32(self.aalgos);
        out.put_u32(self.ealgos);
        out.put_u32(self.calgos);
    }
}

/// `struct xfrm_user_expire`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UserExpire {
    /// The expiring SA.
    pub state: UsersaInfo,
    /// 1 for a hard expiry.
    pub hard: u8,
}

/// `struct xfrm_user_polexpire`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UserPolexpire {
    /// The expiring policy.
    pub pol: UserpolicyInfo,
    /// 1 for a hard expiry.
    pub hard: u8,
}

/// `struct xfrm_user_acquire`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct UserAcquire {
    pub id: XfrmId,
    pub saddr: XfrmAddress,
    pub sel: Selector,
    pub policy: UserpolicyInfo,
    pub aalgos: u32,
    pub ealgos: u32,
    pub calgos: u32,
    pub seq: u32,
}

/// `struct xfrm_encap_tmpl` (`XFRMA_ENCAP`). Ports in host order here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct EncapTmpl {
    pub encap_type: u16,
    pub sport: u16,
    pub dport: u16,
    pub oa: XfrmAddress,
}

/// `struct xfrm_mark`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct Mark {
    pub v: u32,
    pub m: u32,
}

/// `struct xfrm_replay_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct ReplayState {
    pub oseq: u32,
    pub seq: u32,
    pub bitmap: u32,
}

/// `struct xfrm_replay_state_esn` and its bitmap (`bmp_len` = `bmp.len()`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct ReplayStateEsn {
    pub oseq: u32,
    pub seq: u32,
    pub oseq_hi: u32,
    pub seq_hi: u32,
    pub replay_window: u32,
    pub bmp: Vec<u32>,
}

impl ReplayStateEsn {
    /// Fresh state for a window of `packets` (bitmap sized to fit).
    pub fn with_window(packets: u32) -> ReplayStateEsn {
        ReplayStateEsn {
            replay_window: packets,
            bmp: vec![0; packets.div_ceil(32) as usize],
            ..ReplayStateEsn::default()
        }
    }
}

fn put_name(out: &mut Vec<u8>, name: &str) -> Result<(), ParseError> {
    if name.len() > 63 || name.as_bytes().contains(&0) {
        return Err(ParseError::invalid(
            "alg_name",
            format!("{name:?}: at most 63 bytes, no NUL"),
        ));
    }
    out.extend_from_slice(name.as_bytes());
    out.put_zeros(64 - name.len());
    Ok(())
}

fn parse_name(r: &mut Reader<'_>) -> Result<String, ParseError> {
    let raw = r.bytes(64)?;
    let end = raw.iter().position(|&b| b == 0).unwrap_or(64);
    String::from_utf8(raw[..end].to_vec()).map_err(|_| ParseError::invalid("alg_name", "not UTF-8"))
}

fn key_bytes(r: &mut Reader<'_>, bits: u32) -> Result<Zeroizing<Vec<u8>>, ParseError> {
    let n = bits.div_ceil(8) as usize;
    Ok(Zeroizing::new(r.bytes(n)?.to_vec()))
}

fn check_key(what: &'static str, bits: u32, key: &[u8]) -> Result<(), ParseError> {
    if bits.div_ceil(8) as usize != key.len() {
        return Err(ParseError::invalid(
            what,
            format!(
                "{bits} key bits need {} bytes, have {}",
                bits.div_ceil(8),
                key.len()
            ),
        ));
    }
    Ok(())
}

/// `struct xfrm_algo` and its key (`XFRMA_ALG_CRYPT`, `XFRMA_ALG_AUTH`,
/// `XFRMA_ALG_COMP`). The key is zeroized on drop and redacted in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Algo {
    /// Crypto API name, e.g. `cbc(aes)`.
    pub name: String,
    /// Key length in bits.
    pub key_bits: u32,
    /// `ceil(key_bits / 8)` bytes.
    pub key: Zeroizing<Vec<u8>>,
}

/// `struct xfrm_algo_auth` and its key (`XFRMA_ALG_AUTH_TRUNC`).
#[derive(Clone, PartialEq, Eq)]
pub struct AlgoAuth {
    /// Crypto API name, e.g. `hmac(sha256)`.
    pub name: String,
    /// Key length in bits.
    pub key_bits: u32,
    /// ICV truncation length in bits.
    pub trunc_bits: u32,
    /// `ceil(key_bits / 8)` bytes.
    pub key: Zeroizing<Vec<u8>>,
}

/// `struct xfrm_algo_aead` and its key (`XFRMA_ALG_AEAD`); the key includes
/// the salt (e.g. 160 bits for `rfc4106(gcm(aes))` with AES-128).
#[derive(Clone, PartialEq, Eq)]
pub struct AlgoAead {
    /// Crypto API name, e.g. `rfc4106(gcm(aes))`.
    pub name: String,
    /// Key length in bits.
    pub key_bits: u32,
    /// ICV length in bits.
    pub icv_bits: u32,
    /// `ceil(key_bits / 8)` bytes.
    pub key: Zeroizing<Vec<u8>>,
}

macro_rules! redacted_debug {
    ($t:ident { $($f:ident),* }) => {
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($t))
                    $(.field(stringify!($f), &self.$f))*
                    .field("key", &Redacted(self.key.len()))
                    .finish()
            }
        }
    };
}
redacted_debug!(Algo { name, key_bits });
redacted_debug!(AlgoAuth {
    name,
    key_bits,
    trunc_bits
});
redacted_debug!(AlgoAead {
    name,
    key_bits,
    icv_bits
});

/// `XFRMA_*` attribute numbers.
pub mod attr {
    /// `XFRMA_ALG_AUTH`.
    pub const ALG_AUTH: u16 = 1;
    /// `XFRMA_ALG_CRYPT`.
    pub const ALG_CRYPT: u16 = 2;
    /// `XFRMA_ALG_COMP`.
    pub const ALG_COMP: u16 = 3;
    /// `XFRMA_ENCAP`.
    pub const ENCAP: u16 = 4;
    /// `XFRMA_TMPL`.
    pub const TMPL: u16 = 5;
    /// `XFRMA_SA`.
    pub const SA: u16 = 6;
    /// `XFRMA_POLICY`.
    pub const POLICY: u16 = 7;
    /// `XFRMA_LTIME_VAL`.
    pub const LTIME_VAL: u16 = 9;
    /// `XFRMA_REPLAY_VAL`.
    pub const REPLAY_VAL: u16 = 10;
    /// `XFRMA_SRCADDR`.
    pub const SRCADDR: u16 = 13;
    /// `XFRMA_LASTUSED`.
    pub const LASTUSED: u16 = 15;
    /// `XFRMA_POLICY_TYPE`.
    pub const POLICY_TYPE: u16 = 16;
    /// `XFRMA_ALG_AEAD`.
    pub const ALG_AEAD: u16 = 18;
    /// `XFRMA_ALG_AUTH_TRUNC`.
    pub const ALG_AUTH_TRUNC: u16 = 20;
    /// `XFRMA_MARK`.
    pub const MARK: u16 = 21;
    /// `XFRMA_TFCPAD`.
    pub const TFCPAD: u16 = 22;
    /// `XFRMA_REPLAY_ESN_VAL`.
    pub const REPLAY_ESN_VAL: u16 = 23;
    /// `XFRMA_SA_EXTRA_FLAGS`.
    pub const SA_EXTRA_FLAGS: u16 = 24;
    /// `XFRMA_PROTO`.
    pub const PROTO: u16 = 25;
    /// `XFRMA_SET_MARK`.
    pub const SET_MARK: u16 = 29;
    /// `XFRMA_SET_MARK_MASK`.
    pub const SET_MARK_MASK: u16 = 30;
    /// `XFRMA_IF_ID`.
    pub const IF_ID: u16 = 31;
}

/// One `XFRMA_*` attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attr {
    /// `XFRMA_ALG_AUTH` (untruncated HMAC; prefer `AlgAuthTrunc`).
    AlgAuth(Algo),
    /// `XFRMA_ALG_CRYPT`.
    AlgCrypt(Algo),
    /// `XFRMA_ALG_COMP`.
    AlgComp(Algo),
    /// `XFRMA_ENCAP`: UDP encapsulation.
    Encap(EncapTmpl),
    /// `XFRMA_TMPL`: a policy's templates.
    Tmpl(Vec<UserTmpl>),
    /// `XFRMA_SA` (in DELSA notifications).
    Sa(UsersaInfo),
    /// `XFRMA_POLICY` (in DELPOLICY notifications).
    Policy(UserpolicyInfo),
    /// `XFRMA_LTIME_VAL`.
    LifetimeVal(LifetimeCur),
    /// `XFRMA_REPLAY_VAL`.
    ReplayVal(ReplayState),
    /// `XFRMA_SRCADDR`.
    SrcAddr(XfrmAddress),
    /// `XFRMA_LASTUSED`.
    LastUsed(u64),
    /// `XFRMA_POLICY_TYPE` (`struct xfrm_userpolicy_type`'s `type`).
    PolicyType(u8),
    /// `XFRMA_ALG_AEAD`.
    AlgAead(AlgoAead),
    /// `XFRMA_ALG_AUTH_TRUNC`.
    AlgAuthTrunc(AlgoAuth),
    /// `XFRMA_MARK`.
    Mark(Mark),
    /// `XFRMA_TFCPAD`.
    TfcPad(u32),
    /// `XFRMA_REPLAY_ESN_VAL`.
    ReplayEsnVal(ReplayStateEsn),
    /// `XFRMA_SA_EXTRA_FLAGS` (`XFRM_SA_XFLAG_*`).
    SaExtraFlags(u32),
    /// `XFRMA_PROTO` (dump filter).
    Proto(u8),
    /// `XFRMA_SET_MARK` (output mark).
    SetMark(u32),
    /// `XFRMA_SET_MARK_MASK`.
    SetMarkMask(u32),
    /// `XFRMA_IF_ID`: binds an SA or policy to an xfrm interface.
    IfId(u32),
    /// Anything else (type including any `NLA_F_*` bits, payload).
    Other(u16, Vec<u8>),
}

fn fixed<'a>(data: &'a [u8], need: usize, what: &'static str) -> Result<Reader<'a>, ParseError> {
    if data.len() < need {
        return Err(ParseError::Truncated {
            what,
            need,
            have: data.len(),
        });
    }
    Ok(Reader::new(data, what))
}

impl Attr {
    fn parse(kind: u16, data: &[u8]) -> Result<Attr, ParseError> {
        if kind & !NLA_TYPE_MASK != 0 {
            return Ok(Attr::Other(kind, data.to_vec()));
        }
        let a = match kind {
            attr::ALG_AUTH | attr::ALG_CRYPT | attr::ALG_COMP => {
                let mut r = fixed(data, layout::ALGO, "xfrm_algo")?;
                let name = parse_name(&mut r)?;
                let key_bits = r.u32()?;
                let key = key_bytes(&mut r, key_bits)?;
                let a = Algo {
                    name,
                    key_bits,
                    key,
                };
                match kind {
                    attr::ALG_AUTH => Attr::AlgAuth(a),
                    attr::ALG_CRYPT => Attr::AlgCrypt(a),
                    _ => Attr::AlgComp(a),
                }
            }
            attr::ALG_AUTH_TRUNC | attr::ALG_AEAD => {
                let mut r = fixed(data, layout::ALGO_AUTH, "xfrm_algo_auth")?;
                let name = parse_name(&mut r)?;
                let key_bits = r.u32()?;
                let second = r.u32()?;
                let key = key_bytes(&mut r, key_bits)?;
                if kind == attr::ALG_AEAD {
                    Attr::AlgAead(AlgoAead {
                        name,
                        key_bits,
                        icv_bits: second,
                        key,
                    })
                } else {
                    Attr::AlgAuthTrunc(AlgoAuth {
                        name,
                        key_bits,
                        trunc_bits: second,
                        key,
                    })
                }
            }
            attr::ENCAP => {
                let mut r = fixed(data, layout::ENCAP_TMPL, "xfrm_encap_tmpl")?;
                let encap_type = r.u16()?;
                let sport = r.u16_be()?;
                let dport = r.u16_be()?;
                r.skip(2)?;
                Attr::Encap(EncapTmpl {
                    encap_type,
                    sport,
                    dport,
                    oa: XfrmAddress::parse(&mut r)?,
                })
            }
            attr::TMPL => {
                let mut r = Reader::new(data, "xfrm_user_tmpl");
                let mut v = Vec::new();
                while r.remaining() >= layout::USER_TMPL {
                    v.push(UserTmpl::parse(&mut r)?);
                }
                Attr::Tmpl(v)
            }
            attr::SA => Attr::Sa(UsersaInfo::parse(&mut fixed(
                data,
                layout::USERSA_INFO,
                "xfrm_usersa_info",
            )?)?),
            attr::POLICY => Attr::Policy(UserpolicyInfo::parse(&mut fixed(
                data,
                layout::USERPOLICY_INFO,
                "xfrm_userpolicy_info",
            )?)?),
            attr::LTIME_VAL => Attr::LifetimeVal(LifetimeCur::parse(&mut fixed(
                data,
                layout::LIFETIME_CUR,
                "xfrm_lifetime_cur",
            )?)?),
            attr::REPLAY_VAL => {
                let mut r = fixed(data, layout::REPLAY_STATE, "xfrm_replay_state")?;
                Attr::ReplayVal(ReplayState {
                    oseq: r.u32()?,
                    seq: r.u32()?,
                    bitmap: r.u32()?,
                })
            }
            attr::SRCADDR => {
                Attr::SrcAddr(XfrmAddress::parse(&mut fixed(data, 16, "xfrm_address_t")?)?)
            }
            attr::LASTUSED => Attr::LastUsed(fixed(data, 8, "XFRMA_LASTUSED")?.u64()?),
            attr::POLICY_TYPE => Attr::PolicyType(fixed(data, 4, "xfrm_userpolicy_type")?.u8()?),
            attr::MARK => {
                let mut r = fixed(data, layout::MARK, "xfrm_mark")?;
                Attr::Mark(Mark {
                    v: r.u32()?,
                    m: r.u32()?,
                })
            }
            attr::REPLAY_ESN_VAL => {
                let mut r = fixed(data, layout::REPLAY_STATE_ESN, "xfrm_replay_state_esn")?;
                let bmp_len = r.u32()? as usize;
                let mut v = ReplayStateEsn {
                    oseq: r.u32()?,
                    seq: r.u32()?,
                    oseq_hi: r.u32()?,
                    seq_hi: r.u32()?,
                    replay_window: r.u32()?,
                    bmp: Vec::new(),
                };
                if bmp_len > r.remaining() / 4 {
                    return Err(ParseError::Truncated {
                        what: "xfrm_replay_state_esn bitmap",
                        need: layout::REPLAY_STATE_ESN + bmp_len.saturating_mul(4),
                        have: data.len(),
                    });
                }
                for _ in 0..bmp_len {
                    v.bmp.push(r.u32()?);
                }
                Attr::ReplayEsnVal(v)
            }
            attr::TFCPAD
            | attr::SA_EXTRA_FLAGS
            | attr::SET_MARK
            | attr::SET_MARK_MASK
            | attr::IF_ID => {
                let v = fixed(data, 4, "u32 attribute")?.u32()?;
                match kind {
                    attr::TFCPAD => Attr::TfcPad(v),
                    attr::SA_EXTRA_FLAGS => Attr::SaExtraFlags(v),
                    attr::SET_MARK => Attr::SetMark(v),
                    attr::SET_MARK_MASK => Attr::SetMarkMask(v),
                    _ => Attr::IfId(v),
                }
            }
            attr::PROTO => Attr::Proto(fixed(data, 1, "XFRMA_PROTO")?.u8()?),
            _ => Attr::Other(kind, data.to_vec()),
        };
        Ok(a)
    }

    fn emit(&self, out: &mut Vec<u8>) -> Result<(), ParseError> {
        let mut d = Vec::new();
        let kind = match self {
            Attr::AlgAuth(a) | Attr::AlgCrypt(a) | Attr::AlgComp(a) => {
                check_key("xfrm_algo", a.key_bits, &a.key)?;
                put_name(&mut d, &a.name)?;
                d.put_u32(a.key_bits);
                d.extend_from_slice(&a.key);
                match self {
                    Attr::AlgAuth(_) => attr::ALG_AUTH,
                    Attr::AlgCrypt(_) => attr::ALG_CRYPT,
                    _ => attr::ALG_COMP,
                }
            }
            Attr::AlgAuthTrunc(a) => {
                check_key("xfrm_algo_auth", a.key_bits, &a.key)?;
                put_name(&mut d, &a.name)?;
                d.put_u32(a.key_bits);
                d.put_u32(a.trunc_bits);
                d.extend_from_slice(&a.key);
                attr::ALG_AUTH_TRUNC
            }
            Attr::AlgAead(a) => {
                check_key("xfrm_algo_aead", a.key_bits, &a.key)?;
                put_name(&mut d, &a.name)?;
                d.put_u32(a.key_bits);
                d.put_u32(a.icv_bits);
                d.extend_from_slice(&a.key);
                attr::ALG_AEAD
            }
            Attr::Encap(e) => {
                d.put_u16(e.encap_type);
                d.put_u16_be(e.sport);
                d.put_u16_be(e.dport);
                d.put_u16(0);
                e.oa.emit(&mut d);
                attr::ENCAP
            }
            Attr::Tmpl(v) => {
                for t in v {
                    t.emit(&mut d);
                }
                attr::TMPL
            }
            Attr::Sa(s) => {
                s.emit(&mut d);
                attr::SA
            }
            Attr::Policy(p) => {
                p.emit(&mut d);
                attr::POLICY
            }
            Attr::LifetimeVal(l) => {
                l.emit(&mut d);
                attr::LTIME_VAL
            }
            Attr::ReplayVal(r) => {
                d.put_u32(r.oseq);
                d.put_u32(r.seq);
                d.put_u32(r.bitmap);
                attr::REPLAY_VAL
            }
            Attr::SrcAddr(a) => {
                a.emit(&mut d);
                attr::SRCADDR
            }
            Attr::LastUsed(v) => {
                d.put_u64(*v);
                attr::LASTUSED
            }
            Attr::PolicyType(t) => {
                d.put_u8(*t);
                d.put_zeros(3);
                attr::POLICY_TYPE
            }
            Attr::Mark(m) => {
                d.put_u32(m.v);
                d.put_u32(m.m);
                attr::MARK
            }
            Attr::ReplayEsnVal(e) => {
                let n = u32::try_from(e.bmp.len())
                    .map_err(|_| ParseError::invalid("xfrm_replay_state_esn", "bitmap too long"))?;
                d.put_u32(n);
                d.put_u32(e.oseq);
                d.put_u32(e.seq);
                d.put_u32(e.oseq_hi);
                d.put_u32(e.seq_hi);
                d.put_u32(e.replay_window);
                for w in &e.bmp {
                    d.put_u32(*w);
                }
                attr::REPLAY_ESN_VAL
            }
            Attr::TfcPad(v) => {
                d.put_u32(*v);
                attr::TFCPAD
            }
            Attr::SaExtraFlags(v) => {
                d.put_u32(*v);
                attr::SA_EXTRA_FLAGS
            }
            Attr::SetMark(v) => {
                d.put_u32(*v);
                attr::SET_MARK
            }
            Attr::SetMarkMask(v) => {
                d.put_u32(*v);
                attr::SET_MARK_MASK
            }
            Attr::IfId(v) => {
                d.put_u32(*v);
                attr::IF_ID
            }
            Attr::Proto(p) => {
                d.put_u8(*p);
                attr::PROTO
            }
            Attr::Other(k, data) => {
                d.extend_from_slice(data);
                *k
            }
        };
        put_attr(out, kind, &d)
    }
}

/// The fixed part of an XFRM message; which one follows the header depends
/// on the message type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// NEWSA, UPDSA (and GETSA replies).
    SaInfo(UsersaInfo),
    /// DELSA, GETSA.
    SaId(UsersaId),
    /// ALLOCSPI.
    SpiInfo(UserspiInfo),
    /// NEWPOLICY, UPDPOLICY (and GETPOLICY replies).
    PolicyInfo(UserpolicyInfo),
    /// DELPOLICY, GETPOLICY.
    PolicyId(UserpolicyId),
    /// EXPIRE.
    Expire(UserExpire),
    /// POLEXPIRE.
    PolExpire(UserPolexpire),
    /// ACQUIRE.
    Acquire(UserAcquire),
    /// FLUSHSA (`struct xfrm_usersa_flush`: the protocol, 0 for all).
    FlushSa(u8),
    /// No fixed part: FLUSHPOLICY, and GETSA/GETPOLICY dump requests.
    Empty,
    /// A message type this codec does not know: the whole payload.
    Raw(Vec<u8>),
}

/// An XFRM netlink message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XfrmMessage {
    /// `nlmsg_type`.
    pub msg_type: MsgType,
    /// `nlmsg_flags`.
    pub flags: u16,
    /// `nlmsg_seq`.
    pub seq: u32,
    /// `nlmsg_pid`.
    pub pid: u32,
    /// Fixed part.
    pub body: Body,
    /// Attributes (empty for [`Body::Raw`]).
    pub attrs: Vec<Attr>,
}

impl XfrmMessage {
    /// A request with the given body and attributes (seq/pid filled in by
    /// the socket).
    pub fn new(msg_type: MsgType, body: Body, attrs: Vec<Attr>) -> XfrmMessage {
        XfrmMessage {
            msg_type,
            flags: 0,
            seq: 0,
            pid: 0,
            body,
            attrs,
        }
    }

    /// Decodes a netlink message's payload per its type.
    pub fn from_nlmsg(m: &NlMsg) -> Result<XfrmMessage, ParseError> {
        let t = MsgType(m.msg_type);
        let p = &m.payload;
        let (body, used) = match t {
            MsgType::NEWSA | MsgType::UPDSA => {
                let mut r = fixed(p, layout::USERSA_INFO, "xfrm_usersa_info")?;
                (
                    Body::SaInfo(UsersaInfo::parse(&mut r)?),
                    layout::USERSA_INFO,
                )
            }
            MsgType::GETSA | MsgType::GETPOLICY | MsgType::FLUSHPOLICY if p.is_empty() => {
                (Body::Empty, 0)
            }
            MsgType::FLUSHPOLICY => (Body::Empty, 0),
            MsgType::DELSA | MsgType::GETSA => {
                let mut r = fixed(p, layout::USERSA_ID, "xfrm_usersa_id")?;
                (Body::SaId(UsersaId::parse(&mut r)?), layout::USERSA_ID)
            }
            MsgType::ALLOCSPI => {
                let mut r = fixed(p, layout::USERSPI_INFO, "xfrm_userspi_info")?;
                let info = UsersaInfo::parse(&mut r)?;
                let min = r.u32()?;
                let max = r.u32()?;
                (
                    Body::SpiInfo(UserspiInfo { info, min, max }),
                    layout::USERSPI_INFO,
                )
            }
            MsgType::NEWPOLICY | MsgType::UPDPOLICY => {
                let mut r = fixed(p, layout::USERPOLICY_INFO, "xfrm_userpolicy_info")?;
                (
                    Body::PolicyInfo(UserpolicyInfo::parse(&mut r)?),
                    layout::USERPOLICY_INFO,
                )
            }
            MsgType::DELPOLICY | MsgType::GETPOLICY => {
                let mut r = fixed(p, layout::USERPOLICY_ID, "xfrm_userpolicy_id")?;
                (
                    Body::PolicyId(UserpolicyId::parse(&mut r)?),
                    layout::USERPOLICY_ID,
                )
            }
            MsgType::EXPIRE => {
                let mut r = fixed(p, layout::USER_EXPIRE, "xfrm_user_expire")?;
                let state = UsersaInfo::parse(&mut r)?;
                let hard = r.u8()?;
                (
                    Body::Expire(UserExpire { state, hard }),
                    layout::USER_EXPIRE,
                )
            }
            MsgType::POLEXPIRE => {
                let mut r = fixed(p, layout::USER_POLEXPIRE, "xfrm_user_polexpire")?;
                let pol = UserpolicyInfo::parse(&mut r)?;
                let hard = r.u8()?;
                (
                    Body::PolExpire(UserPolexpire { pol, hard }),
                    layout::USER_POLEXPIRE,
                )
            }
            MsgType::ACQUIRE => {
                let mut r = fixed(p, layout::USER_ACQUIRE, "xfrm_user_acquire")?;
                let a = UserAcquire {
                    id: XfrmId::parse(&mut r)?,
                    saddr: XfrmAddress::parse(&mut r)?,
                    sel: Selector::parse(&mut r)?,
                    policy: UserpolicyInfo::parse(&mut r)?,
                    aalgos: r.u32()?,
                    ealgos: r.u32()?,
                    calgos: r.u32()?,
                    seq: r.u32()?,
                };
                (Body::Acquire(a), layout::USER_ACQUIRE)
            }
            MsgType::FLUSHSA => {
                let mut r = fixed(p, layout::USERSA_FLUSH, "xfrm_usersa_flush")?;
                (Body::FlushSa(r.u8()?), layout::USERSA_FLUSH)
            }
            _ => {
                return Ok(XfrmMessage {
                    msg_type: t,
                    flags: m.flags,
                    seq: m.seq,
                    pid: m.pid,
                    body: Body::Raw(p.clone()),
                    attrs: Vec::new(),
                })
            }
        };
        let start = used.div_ceil(4) * 4;
        let mut attrs = Vec::new();
        if start < p.len() {
            for (kind, data) in parse_attrs(&p[start..])? {
                attrs.push(Attr::parse(kind, data)?);
            }
        }
        Ok(XfrmMessage {
            msg_type: t,
            flags: m.flags,
            seq: m.seq,
            pid: m.pid,
            body,
            attrs,
        })
    }

    /// Decodes one complete netlink message (header included).
    pub fn parse(buf: &[u8]) -> Result<XfrmMessage, ParseError> {
        let msgs = NlMsg::parse_all(buf)?;
        let m = msgs.first().ok_or(ParseError::Truncated {
            what: "nlmsghdr",
            need: crate::netlink::NLMSG_HDRLEN,
            have: buf.len(),
        })?;
        XfrmMessage::from_nlmsg(m)
    }

    /// The payload (fixed part, padding, attributes).
    pub fn payload(&self) -> Result<Vec<u8>, ParseError> {
        let mut out = Vec::with_capacity(512);
        match &self.body {
            Body::SaInfo(s) => s.emit(&mut out),
            Body::SaId(s) => s.emit(&mut out),
            Body::SpiInfo(s) => {
                s.info.emit(&mut out);
                out.put_u32(s.min);
                out.put_u32(s.max);
            }
            Body::PolicyInfo(p) => p.emit(&mut out),
            Body::PolicyId(p) => p.emit(&mut out),
            Body::Expire(e) => {
                e.state.emit(&mut out);
                out.put_u8(e.hard);
                out.put_zeros(layout::USER_EXPIRE - layout::USERSA_INFO - 1);
            }
            Body::PolExpire(e) => {
                e.pol.emit(&mut out);
                out.put_u8(e.hard);
                out.put_zeros(layout::USER_POLEXPIRE - layout::USERPOLICY_INFO - 1);
            }
            Body::Acquire(a) => {
                a.id.emit(&mut out);
                a.saddr.emit(&mut out);
                a.sel.emit(&mut out);
                a.policy.emit(&mut out);
                out.put_u32(a.aalgos);
                out.put_u32(a.ealgos);
                out.put_u32(a.calgos);
                out.put_u32(a.seq);
            }
            Body::FlushSa(p) => out.put_u8(*p),
            Body::Empty => {}
            Body::Raw(r) => {
                if !self.attrs.is_empty() {
                    return Err(ParseError::invalid(
                        "xfrm message",
                        "raw body cannot carry typed attributes",
                    ));
                }
                out.extend_from_slice(r);
                return Ok(out);
            }
        }
        if !self.attrs.is_empty() {
            out.pad_to(4);
        }
        for a in &self.attrs {
            a.emit(&mut out)?;
        }
        Ok(out)
    }

    /// Encodes the whole netlink message.
    pub fn emit(&self) -> Result<Vec<u8>, ParseError> {
        NlMsg {
            msg_type: self.msg_type.0,
            flags: self.flags,
            seq: self.seq,
            pid: self.pid,
            payload: self.payload()?,
        }
        .emit()
    }

    /// The first `XFRMA_TMPL` list.
    pub fn templates(&self) -> &[UserTmpl] {
        self.attrs
            .iter()
            .find_map(|a| match a {
                Attr::Tmpl(t) => Some(t.as_slice()),
                _ => None,
            })
            .unwrap_or(&[])
    }

    /// The `XFRMA_IF_ID`, if present.
    pub fn if_id(&self) -> Option<u32> {
        self.attrs.iter().find_map(|a| match a {
            Attr::IfId(v) => Some(*v),
            _ => None,
        })
    }

    /// The `XFRMA_MARK`, if present.
    pub fn mark(&self) -> Option<Mark> {
        self.attrs.iter().find_map(|a| match a {
            Attr::Mark(m) => Some(*m),
            _ => None,
        })
    }
}
