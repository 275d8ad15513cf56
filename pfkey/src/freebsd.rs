//! FreeBSD only: `if_ipsec(4)` interfaces (what `ifconfig ipsecN create
//! reqid R`, `tunnel L R`, `inet A B`, `mtu M`, `up` and `destroy` do),
//! the IKE sockets' `UDP_ENCAP` and IPsec bypass options, and routes
//! through the routing socket (`route add|delete|get`, messages from
//! [`crate::freebsd_route`]).
//!
//! Written from FreeBSD's `sbin/ifconfig/ifipsec.c` (reqids through
//! `ifr_data` pointing at a `uint32_t`), `sbin/ifconfig/ifconfig.c`
//! (`SIOCSIFPHYADDR`/`SIOCSIFPHYADDR_IN6` for `tunnel`), `af_inet.c` and
//! `af_inet6.c` (`SIOCAIFADDR`/`SIOCAIFADDR_IN6`), `sys/net/if_ipsec.c`,
//! `sys/netinet/udp_usrreq.c` (`UDP_ENCAP`) and `sys/netipsec/ipsec_pcb.c`
//! (`IP_IPSEC_POLICY`). The structures and request codes are in
//! [`crate::freebsd_abi`], checked against FreeBSD's headers; the calls
//! themselves have not run on a FreeBSD kernel from this project (see the
//! README's FreeBSD section).
#![forbid(unsafe_code)]

use std::io;
use std::net::IpAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::libc;

use crate::freebsd_abi::{
    self as abi, if_name, if_name_str, IfReq, In6AliasReq, InAliasReq, PhyAddr,
};
use crate::pfkey::ipsec_dir;
use crate::sys::freebsd as sys;

fn ctl_socket() -> io::Result<OwnedFd> {
    crate::sys::socket(libc::AF_INET, libc::SOCK_DGRAM, 0)
}

/// Whether interface `name` exists.
pub fn exists(name: &str) -> bool {
    nix::net::if_::if_nametoindex(name).is_ok()
}

/// Creates an `if_ipsec` interface (`name` like `ipsec7`) with `reqid`;
/// returns the name the kernel gave it. The tunnel endpoints come later
/// ([`set_tunnel`]): `if_ipsec` takes no SA before it has them.
pub fn create_ipsec(name: &str, reqid: u32) -> io::Result<String> {
    let s = ctl_socket()?;
    let mut req = IfReq::new(if_name(name)?);
    sys::ioctl(s.as_fd(), abi::SIOCIFCREATE2, &mut req)?;
    let created = if_name_str(&req.name);
    let mut r = reqid;
    if let Err(e) = sys::ifreq_u32(s.as_fd(), abi::IPSECSREQID, req.name, &mut r) {
        let _ = destroy(&created);
        return Err(e);
    }
    Ok(created)
}

/// Sets the tunnel endpoints of `if_ipsec` interface `name` (`ifconfig
/// NAME tunnel LOCAL REMOTE`; IPv4 or IPv6, both of one family). The
/// interface uses only SAs between exactly these addresses.
pub fn set_tunnel(name: &str, local: IpAddr, remote: IpAddr) -> io::Result<()> {
    let s = ctl_socket()?;
    match PhyAddr::new(if_name(name)?, local, remote)? {
        PhyAddr::V4(mut r) => sys::ioctl(s.as_fd(), abi::SIOCSIFPHYADDR, &mut r),
        PhyAddr::V6(mut r) => sys::ioctl(s.as_fd(), abi::SIOCSIFPHYADDR_IN6, &mut r),
    }
}

/// The reqid of `if_ipsec` interface `name` (`IPSECGREQID`): how vtid
/// adopts an interface pfSense made.
pub fn reqid(name: &str) -> io::Result<u32> {
    let s = ctl_socket()?;
    let mut r = 0u32;
    sys::ifreq_u32(s.as_fd(), abi::IPSECGREQID, if_name(name)?, &mut r)?;
    Ok(r)
}

/// Adds address `addr/prefix` to `name`, point-to-point to `peer` if given
/// (`ifconfig NAME inet ADDR/PREFIX PEER alias`).
pub fn add_address(name: &str, addr: IpAddr, prefix: u8, peer: Option<IpAddr>) -> io::Result<()> {
    let n = if_name(name)?;
    match addr {
        IpAddr::V4(a) => {
            let p = match peer {
                Some(IpAddr::V4(p)) => Some(p),
                _ => None,
            };
            let s = ctl_socket()?;
            let mut r = InAliasReq::address(n, a, prefix, p);
            sys::ioctl(s.as_fd(), abi::SIOCAIFADDR, &mut r)
        }
        IpAddr::V6(a) => {
            let p = match peer {
                Some(IpAddr::V6(p)) => Some(p),
                _ => None,
            };
            let s = crate::sys::socket(libc::AF_INET6, libc::SOCK_DGRAM, 0)?;
            let mut r = In6AliasReq::address(n, a, prefix, p);
            sys::ioctl(s.as_fd(), abi::SIOCAIFADDR_IN6, &mut r)
        }
    }
}

/// Sets the MTU of `name`.
pub fn set_mtu(name: &str, mtu: u32) -> io::Result<()> {
    let s = ctl_socket()?;
    let mut r = IfReq::new(if_name(name)?);
    r.set_int(i32::try_from(mtu).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?);
    sys::ioctl(s.as_fd(), abi::SIOCSIFMTU, &mut r)
}

/// Brings `name` up (`IFF_UP`, keeping its other flags).
pub fn set_up(name: &str) -> io::Result<()> {
    let s = ctl_socket()?;
    let mut r = IfReq::new(if_name(name)?);
    sys::ioctl(s.as_fd(), abi::SIOCGIFFLAGS, &mut r)?;
    let f = r.flags() | abi::IFF_UP;
    r.set_flags(f);
    sys::ioctl(s.as_fd(), abi::SIOCSIFFLAGS, &mut r)
}

/// Destroys interface `name`.
pub fn destroy(name: &str) -> io::Result<()> {
    let s = ctl_socket()?;
    let mut r = IfReq::new(if_name(name)?);
    sys::ioctl(s.as_fd(), abi::SIOCIFDESTROY, &mut r)
}

/// `UDP_ENCAP_ESPINUDP` on the NAT-T socket: the kernel takes the ESP in
/// UDP arriving there (RFC 3948) and hands only IKE (non-ESP marker) and
/// keepalives to the daemon.
pub fn udp_encap_socket(fd: BorrowedFd<'_>) -> io::Result<()> {
    crate::sys::setsockopt_int(
        fd,
        abi::IPPROTO_UDP,
        abi::UDP_ENCAP,
        abi::UDP_ENCAP_ESPINUDP,
    )
}

/// Per-socket IPsec bypass in both directions (`IP_IPSEC_POLICY` /
/// `IPV6_IPSEC_POLICY` "in bypass" and "out bypass"), so IKE itself is
/// never caught by a policy-based child's SPD entry. Needs root
/// (`PRIV_NETINET_IPSEC`).
pub fn bypass_socket(fd: BorrowedFd<'_>, v6: bool) -> io::Result<()> {
    let (level, opt) = if v6 {
        (abi::IPPROTO_IPV6, abi::IPV6_IPSEC_POLICY)
    } else {
        (abi::IPPROTO_IP, abi::IP_IPSEC_POLICY)
    };
    for dir in [ipsec_dir::INBOUND, ipsec_dir::OUTBOUND] {
        crate::sys::setsockopt_bytes(fd, level, opt, &abi::bypass_policy(dir))?;
    }
    Ok(())
}

/// The routing socket's sequence numbers (`rtm_seq`), one per message.
static ROUTE_SEQ: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

fn route_socket() -> io::Result<OwnedFd> {
    crate::sys::socket(
        crate::freebsd_route::PF_ROUTE,
        libc::SOCK_RAW,
        libc::AF_UNSPEC,
    )
}

/// Adds (`add`) or deletes route `r` through the routing socket (what
/// `route add|delete -net DST/LEN GW` does; messages from
/// [`crate::freebsd_route`]). The kernel's answer is the `write(2)`
/// result: `EEXIST` (already there), `ESRCH` (no such route),
/// `ENETUNREACH` (no interface for the next hop).
pub fn route_change(add: bool, r: &crate::freebsd_route::Route) -> io::Result<()> {
    let seq = ROUTE_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let msg = crate::freebsd_route::route_message(add, r, seq.wrapping_add(1))
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let s = route_socket()?;
    // As route(8): this socket reads nothing (every routing socket gets a
    // copy of every change).
    let _ = nix::sys::socket::shutdown(s.as_raw_fd(), nix::sys::socket::Shutdown::Read);
    let n = nix::unistd::write(&s, &msg)?;
    if n != msg.len() {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            format!("routing socket took {n} of {} bytes", msg.len()),
        ));
    }
    Ok(())
}

/// The route the kernel uses for `dst` (`route -n get DST`): the reply
/// to an `RTM_GET`, with the destination, gateway, netmask and interface
/// (`RTAX_IFP`) it found. Waits at most 2 s for the reply.
pub fn route_get(dst: IpAddr) -> io::Result<crate::freebsd_route::RtMsg> {
    use nix::sys::socket::{self, sockopt, MsgFlags};
    let seq = ROUTE_SEQ
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        .wrapping_add(1);
    let s = route_socket()?;
    socket::setsockopt(
        &s,
        sockopt::ReceiveTimeout,
        &nix::sys::time::TimeVal::new(2, 0),
    )?;
    let msg = crate::freebsd_route::get_message(dst, seq);
    nix::unistd::write(&s, &msg)?;
    let pid = i32::try_from(std::process::id()).unwrap_or(0);
    let mut buf = [0u8; 2048];
    // Other processes' route changes arrive on this socket too; ours is
    // the RTM_GET with our seq and pid. Bounded: a reply or the timeout.
    for _ in 0..256 {
        let n = socket::recv(s.as_raw_fd(), &mut buf, MsgFlags::empty())?;
        let Ok(m) = crate::freebsd_route::parse(buf.get(..n).unwrap_or(&[])) else {
            continue;
        };
        if m.hdr.msg_type == crate::freebsd_route::RTM_GET && m.hdr.seq == seq && m.hdr.pid == pid {
            if m.hdr.errno != 0 {
                return Err(io::Error::from_raw_os_error(m.hdr.errno));
            }
            return Ok(m);
        }
    }
    Err(io::Error::new(
        io::ErrorKind::TimedOut,
        "no RTM_GET reply among 256 routing messages",
    ))
}

/// The real `if_ipsec` calls behind the PF_KEY backend's
/// [`Tunnels`](crate::backend::pfkey::Tunnels): create the interface with
/// its reqid if it does not exist, then set its tunnel endpoints (IPv4 or
/// IPv6).
#[derive(Debug, Default)]
pub struct IfIpsec;

impl crate::backend::pfkey::Tunnels for IfIpsec {
    fn set_tunnel(
        &mut self,
        name: &str,
        reqid: u32,
        local: IpAddr,
        remote: IpAddr,
    ) -> io::Result<()> {
        if !exists(name) {
            create_ipsec(name, reqid)?;
        }
        set_tunnel(name, local, remote)
    }
}
