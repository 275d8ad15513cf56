//! rtnetlink management of Linux xfrm interfaces
//! (`ip link add NAME type xfrm dev DEV if_id N`) and of legacy VTIs
//! (`ip link add NAME type vti key K local L remote R`).
#![forbid(unsafe_code)]

use nix::errno::Errno;

use crate::netlink::{
    put_attr, NetlinkError, NetlinkSocket, NETLINK_ROUTE, NLA_F_NESTED, NLM_F_CREATE, NLM_F_EXCL,
};
use crate::wire::Put;

/// `RTM_NEWLINK`.
pub const RTM_NEWLINK: u16 = 16;
/// `RTM_DELLINK`.
pub const RTM_DELLINK: u16 = 17;
/// `IFLA_IFNAME`.
pub const IFLA_IFNAME: u16 = 3;
/// `IFLA_LINKINFO`.
pub const IFLA_LINKINFO: u16 = 18;
/// `IFLA_INFO_KIND`.
pub const IFLA_INFO_KIND: u16 = 1;
/// `IFLA_INFO_DATA`.
pub const IFLA_INFO_DATA: u16 = 2;
/// `IFLA_XFRM_LINK` (underlying device ifindex).
pub const IFLA_XFRM_LINK: u16 = 1;
/// `IFLA_XFRM_IF_ID`.
pub const IFLA_XFRM_IF_ID: u16 = 2;
/// `sizeof(struct ifinfomsg)`.
pub const IFINFOMSG_LEN: usize = 16;

/// Errors of link requests.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// `RTM_NEWLINK` of kind `xfrm` failed with `EOPNOTSUPP` ("Unknown device
    /// type").
    #[error(
        "kernel has no xfrm interfaces (xfrm_interface module): RTM_NEWLINK kind \"xfrm\" \
         failed with {errno}{}",
        message.as_ref().map(|m| format!(" \"{m}\"")).unwrap_or_default()
    )]
    NoXfrmInterface {
        /// The errno.
        errno: Errno,
        /// The kernel's extended-ack message.
        message: Option<String>,
    },
    /// `RTM_NEWLINK` of kind `vti`/`vti6` failed with `EOPNOTSUPP`.
    #[error(
        "kernel has no VTI ({} module): RTM_NEWLINK kind \"{kind}\" failed with {errno}{}",
        if *kind == "vti6" { "ip6_vti" } else { "ip_vti" },
        message.as_ref().map(|m| format!(" \"{m}\"")).unwrap_or_default()
    )]
    NoVti {
        /// `"vti"` or `"vti6"`.
        kind: &'static str,
        /// The errno.
        errno: Errno,
        /// The kernel's extended-ack message.
        message: Option<String>,
    },
    /// VTI endpoints of different families.
    #[error("VTI endpoints of different families: {0} -> {1}")]
    BadEndpoints(std::net::IpAddr, std::net::IpAddr),
    /// An interface name longer than 15 bytes or containing NUL.
    #[error("invalid interface name {0:?}")]
    BadName(String),
    /// Opening the socket failed.
    #[error("cannot open NETLINK_ROUTE socket: {0}")]
    Open(#[source] std::io::Error),
    /// The kernel refused.
    #[error("rtnetlink: {0}")]
    Netlink(#[from] NetlinkError),
}

fn ifname_attr(out: &mut Vec<u8>, name: &str) -> Result<(), LinkError> {
    if name.is_empty() || name.len() > 15 || name.as_bytes().contains(&0) {
        return Err(LinkError::BadName(name.to_owned()));
    }
    let mut n = name.as_bytes().to_vec();
    n.push(0);
    put_attr(out, IFLA_IFNAME, &n).map_err(NetlinkError::Parse)?;
    Ok(())
}

fn ifinfomsg(out: &mut Vec<u8>) {
    out.put_u8(0); // ifi_family AF_UNSPEC
    out.put_u8(0);
    out.put_u16(0); // ifi_type
    out.put_i32(0); // ifi_index
    out.put_u32(0); // ifi_flags
    out.put_u32(0); // ifi_change
}

/// The `RTM_NEWLINK` payload creating xfrm interface `name` with `if_id`,
/// optionally tied to the device with ifindex `link`.
pub fn new_xfrm_link_payload(
    name: &str,
    if_id: u32,
    link: Option<u32>,
) -> Result<Vec<u8>, LinkError> {
    let mut p = Vec::new();
    ifinfomsg(&mut p);
    ifname_attr(&mut p, name)?;
    let mut data = Vec::new();
    if let Some(l) = link {
        put_attr(&mut data, IFLA_XFRM_LINK, &l.to_ne_bytes()).map_err(NetlinkError::Parse)?;
    }
    put_attr(&mut data, IFLA_XFRM_IF_ID, &if_id.to_ne_bytes()).map_err(NetlinkError::Parse)?;
    let mut info = Vec::new();
    put_attr(&mut info, IFLA_INFO_KIND, b"xfrm").map_err(NetlinkError::Parse)?;
    put_attr(&mut info, IFLA_INFO_DATA | NLA_F_NESTED, &data).map_err(NetlinkError::Parse)?;
    put_attr(&mut p, IFLA_LINKINFO | NLA_F_NESTED, &info).map_err(NetlinkError::Parse)?;
    Ok(p)
}

/// Creates xfrm interface `name` with `if_id` (0 is not allowed by the
/// kernel), optionally on the device with ifindex `link`. The interface is
/// left down.
pub fn create_xfrm_interface(name: &str, if_id: u32, link: Option<u32>) -> Result<(), LinkError> {
    let payload = new_xfrm_link_payload(name, if_id, link)?;
    let mut s = NetlinkSocket::open(NETLINK_ROUTE, 0).map_err(LinkError::Open)?;
    match s.request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &payload) {
        Ok(_) => Ok(()),
        Err(e) if e.errno() == Some(Errno::EOPNOTSUPP) => Err(LinkError::NoXfrmInterface {
            errno: Errno::EOPNOTSUPP,
            message: e.message().map(str::to_owned),
        }),
        Err(e) => Err(e.into()),
    }
}

/// Deletes interface `name`.
pub fn delete_link(name: &str) -> Result<(), LinkError> {
    let mut p = Vec::new();
    ifinfomsg(&mut p);
    ifname_attr(&mut p, name)?;
    let mut s = NetlinkSocket::open(NETLINK_ROUTE, 0).map_err(LinkError::Open)?;
    s.request(RTM_DELLINK, 0, &p)?;
    Ok(())
}

/// Whether the kernel can create xfrm interfaces. Side effect: creates and
/// deletes a down interface `vtidprobeNNNNN` (pid-derived) in the caller's
/// network namespace. `Ok(false)` when the kernel lacks the
/// `xfrm_interface` module.
pub fn xfrm_interfaces_available() -> Result<bool, LinkError> {
    let name = format!("vtidprb{}", std::process::id() % 100_000_000);
    match create_xfrm_interface(&name, 0x7674_6964, None) {
        Ok(()) => {
            if let Err(e) = delete_link(&name) {
                tracing::warn!("xfrm interface probe {name} not deleted: {e}");
            }
            Ok(true)
        }
        Err(LinkError::NoXfrmInterface { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// `IFLA_VTI_LINK` (underlying device ifindex; `linux/if_tunnel.h`).
pub const IFLA_VTI_LINK: u16 = 1;
/// `IFLA_VTI_IKEY` (`__be32`; the input mark).
pub const IFLA_VTI_IKEY: u16 = 2;
/// `IFLA_VTI_OKEY` (`__be32`; the output mark).
pub const IFLA_VTI_OKEY: u16 = 3;
/// `IFLA_VTI_LOCAL` (`in_addr` / `in6_addr`).
pub const IFLA_VTI_LOCAL: u16 = 4;
/// `IFLA_VTI_REMOTE`.
pub const IFLA_VTI_REMOTE: u16 = 5;
/// `IFLA_VTI_FWMARK`.
pub const IFLA_VTI_FWMARK: u16 = 6;

/// The definition of a legacy VTI (`ip link add NAME type vti|vti6 key K
/// local L remote R`): the kernel marks traffic through it with `key`, and
/// the SAs and policies carrying that mark are the tunnel's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VtiParams {
    /// ikey = okey (host order; sent big-endian, as `ip` does).
    pub key: u32,
    /// Local tunnel endpoint; its family picks `vti` or `vti6`.
    pub local: std::net::IpAddr,
    /// Remote tunnel endpoint (the peer).
    pub remote: std::net::IpAddr,
    /// Underlying device ifindex, if tied to one.
    pub link: Option<u32>,
}

impl VtiParams {
    /// `"vti"` for IPv4 endpoints, `"vti6"` for IPv6.
    pub fn kind(&self) -> &'static str {
        if self.local.is_ipv4() {
            "vti"
        } else {
            "vti6"
        }
    }
}

fn ip_bytes(a: std::net::IpAddr) -> Vec<u8> {
    match a {
        std::net::IpAddr::V4(a) => a.octets().to_vec(),
        std::net::IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// The `RTM_NEWLINK` payload (`ifinfomsg` and attributes) defining VTI
/// `name`: the bytes iproute2's `ip link add NAME type vti key K local L
/// remote R` sends (nests without `NLA_F_NESTED`, keys big-endian, fwmark
/// 0), used both to create and to change (new endpoints) the interface.
pub fn new_vti_link_payload(name: &str, p: &VtiParams) -> Result<Vec<u8>, LinkError> {
    if p.local.is_ipv4() != p.remote.is_ipv4() {
        return Err(LinkError::BadEndpoints(p.local, p.remote));
    }
    let mut out = Vec::new();
    ifinfomsg(&mut out);
    ifname_attr(&mut out, name)?;
    let mut data = Vec::new();
    let e = NetlinkError::Parse;
    put_attr(&mut data, IFLA_VTI_IKEY, &p.key.to_be_bytes()).map_err(e)?;
    put_attr(&mut data, IFLA_VTI_OKEY, &p.key.to_be_bytes()).map_err(e)?;
    put_attr(&mut data, IFLA_VTI_LOCAL, &ip_bytes(p.local)).map_err(e)?;
    put_attr(&mut data, IFLA_VTI_REMOTE, &ip_bytes(p.remote)).map_err(e)?;
    put_attr(&mut data, IFLA_VTI_FWMARK, &0u32.to_ne_bytes()).map_err(e)?;
    if let Some(l) = p.link {
        put_attr(&mut data, IFLA_VTI_LINK, &l.to_ne_bytes()).map_err(e)?;
    }
    let mut info = Vec::new();
    put_attr(&mut info, IFLA_INFO_KIND, p.kind().as_bytes()).map_err(e)?;
    put_attr(&mut info, IFLA_INFO_DATA, &data).map_err(e)?;
    put_attr(&mut out, IFLA_LINKINFO, &info).map_err(e)?;
    Ok(out)
}

fn vti_request(name: &str, p: &VtiParams, flags: u16) -> Result<(), LinkError> {
    let payload = new_vti_link_payload(name, p)?;
    let mut s = NetlinkSocket::open(NETLINK_ROUTE, 0).map_err(LinkError::Open)?;
    match s.request(RTM_NEWLINK, flags, &payload) {
        Ok(_) => Ok(()),
        Err(e) if e.errno() == Some(Errno::EOPNOTSUPP) => Err(LinkError::NoVti {
            kind: p.kind(),
            errno: Errno::EOPNOTSUPP,
            message: e.message().map(str::to_owned),
        }),
        Err(e) => Err(e.into()),
    }
}

/// Creates legacy VTI `name` (`type vti`/`vti6`, ikey = okey = `p.key`);
/// left down. [`LinkError::NoVti`] when the kernel has no `ip_vti` /
/// `ip6_vti`.
pub fn create_vti_interface(name: &str, p: &VtiParams) -> Result<(), LinkError> {
    vti_request(name, p, NLM_F_CREATE | NLM_F_EXCL)
}

/// Re-defines existing VTI `name` (new endpoints after the peer moved):
/// `ip link change NAME type vti …`. The family cannot change this way.
pub fn change_vti_interface(name: &str, p: &VtiParams) -> Result<(), LinkError> {
    vti_request(name, p, 0)
}

/// Whether the kernel can create IPv4 VTIs. Side effect: creates and
/// deletes a down VTI `vtivprbNNNNN` (127.0.0.1 → 127.0.0.2, key
/// 0x76746964) in the caller's network namespace. `Ok(false)` without the
/// `ip_vti` module.
pub fn vti_available() -> Result<bool, LinkError> {
    let name = format!("vtivp{}", std::process::id() % 100_000_000);
    let p = VtiParams {
        key: 0x7674_6964,
        local: std::net::Ipv4Addr::new(127, 0, 0, 1).into(),
        remote: std::net::Ipv4Addr::new(127, 0, 0, 2).into(),
        link: None,
    };
    match create_vti_interface(&name, &p) {
        Ok(()) => {
            if let Err(e) = delete_link(&name) {
                tracing::warn!("VTI probe {name} not deleted: {e}");
            }
            Ok(true)
        }
        Err(LinkError::NoVti { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}
