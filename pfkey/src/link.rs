//! rtnetlink management of Linux xfrm interfaces
//! (`ip link add NAME type xfrm dev DEV if_id N`).
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
