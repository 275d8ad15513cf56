//! The TUN interfaces: one `ipsecN` per configured [`config::Interface`]
//! and one shared TUN (`vtid0` by default) for policy-based children.
//!
//! An interface is created (or adopted, when it exists already) at start-up
//! with its addresses and MTU, administratively up, with **no carrier**
//! until a CHILD SA of its reqid is installed (TUNSETCARRIER). Interfaces
//! vtid created are non-persistent TUNs: closing the file removes them.
//! Adopted ones stay; their carrier goes off when the file closes (the
//! kernel does that when the last queue detaches).
#![forbid(unsafe_code)]

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::netlink::Netlink;
use crate::offload::VNET_HDR_LEN;
use crate::sys;

/// Default name of the shared TUN for policy-based children.
pub const DEFAULT_SHARED_NAME: &str = "vtid0";

/// A prefix: address (host bits may be set) and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Prefix {
    /// Address.
    pub addr: IpAddr,
    /// Prefix length.
    pub len: u8,
}

impl Prefix {
    /// The network address (host bits cleared).
    pub fn network(&self) -> IpAddr {
        match self.addr {
            IpAddr::V4(a) => {
                let m = u32::MAX
                    .checked_shl(32 - u32::from(self.len.min(32)))
                    .unwrap_or(0);
                IpAddr::V4((u32::from(a) & m).into())
            }
            IpAddr::V6(a) => {
                let m = u128::MAX
                    .checked_shl(128 - u32::from(self.len.min(128)))
                    .unwrap_or(0);
                IpAddr::V6((u128::from(a) & m).into())
            }
        }
    }
}

impl From<config::IpNet> for Prefix {
    fn from(n: config::IpNet) -> Prefix {
        Prefix {
            addr: n.addr,
            len: n.prefix,
        }
    }
}

/// What one TUN interface should look like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunSpec {
    /// Interface name (`ipsecN`, or the shared TUN's name).
    pub name: String,
    /// The reqid of routed children; `None` for the shared TUN.
    pub reqid: Option<u32>,
    /// Our addresses on it (transit addresses), with prefix lengths.
    pub local_addrs: Vec<Prefix>,
    /// The peer's transit addresses: the automatic gateway of `routes`.
    pub remote_addrs: Vec<IpAddr>,
    /// Prefixes routed into the interface while an SA is up.
    pub routes: Vec<Prefix>,
    /// Metric of those routes (`config::Interface::route_metric`; 0 for
    /// the shared TUN's per-SA routes).
    pub route_metric: u32,
    /// MTU (never changed by negotiation).
    pub mtu: u32,
    /// Clamp the MSS of TCP SYNs crossing it.
    pub mss_clamp: bool,
}

impl TunSpec {
    /// The spec of a configured routed interface.
    pub fn from_config(i: &config::Interface) -> TunSpec {
        TunSpec {
            name: i.name.clone(),
            reqid: Some(i.reqid),
            local_addrs: i.local_addrs.iter().copied().map(Prefix::from).collect(),
            remote_addrs: i.remote_addrs.clone(),
            routes: i.routes.iter().copied().map(Prefix::from).collect(),
            route_metric: i.route_metric,
            mtu: i.mtu.max(config::MIN_MTU),
            mss_clamp: i.mss_clamp,
        }
    }

    /// The shared TUN for policy-based children.
    pub fn shared(name: &str, mtu: u32) -> TunSpec {
        TunSpec {
            name: name.to_owned(),
            reqid: None,
            local_addrs: Vec::new(),
            remote_addrs: Vec::new(),
            routes: Vec::new(),
            route_metric: 0,
            mtu,
            mss_clamp: false,
        }
    }

    /// The automatic gateway of a family: the first remote transit address
    /// of that family.
    pub fn gateway(&self, v6: bool) -> Option<IpAddr> {
        self.remote_addrs
            .iter()
            .copied()
            .find(|a| a.is_ipv6() == v6)
    }
}

/// An open TUN interface.
#[derive(Debug)]
pub struct Tun {
    spec: TunSpec,
    file: File,
    index: u32,
    created: bool,
    carrier: AtomicBool,
    vnet: bool,
    offloads: u32,
}

const ZERO_VNET_HDR: [u8; VNET_HDR_LEN] = [0; VNET_HDR_LEN];

impl Tun {
    /// Create (or adopt) the interface in the calling thread's network
    /// namespace: attach a TUN queue, carrier off, addresses, MTU, interface
    /// group `group`, up.
    ///
    /// With `offload`, the queue is opened with IFF_VNET_HDR and asks for
    /// checksum, TSO4/TSO6 and (Linux 6.2+) USO4/USO6 offloads, so the
    /// kernel hands over whole 64 KiB TCP/UDP segments ([`Tun::read`]
    /// returns them behind a virtio_net_hdr) and accepts coalesced ones
    /// ([`Tun::write_vnet`]). A kernel that refuses falls back to fewer
    /// offloads, or none.
    pub fn open(nl: &Netlink, spec: TunSpec, group: u32, offload: bool) -> io::Result<Tun> {
        let existed = nl.link_index(&spec.name)?.is_some();
        let opened = if offload {
            sys::open_tun(&spec.name, true)
                .map(|f| (f, true))
                .or_else(|_| sys::open_tun(&spec.name, false).map(|f| (f, false)))
        } else {
            sys::open_tun(&spec.name, false).map(|f| (f, false))
        };
        let (file, vnet) = opened.map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "cannot attach TUN {} ({}): {e}",
                    spec.name,
                    if existed {
                        "it exists; is it a free persistent TUN?"
                    } else {
                        "create"
                    }
                ),
            )
        })?;
        let mut offloads = 0;
        if vnet {
            let tso = sys::TUN_F_CSUM | sys::TUN_F_TSO4 | sys::TUN_F_TSO6;
            for flags in [
                tso | sys::TUN_F_USO4 | sys::TUN_F_USO6,
                tso,
                sys::TUN_F_CSUM,
            ] {
                if sys::set_offload(file.as_fd(), flags).is_ok() {
                    offloads = flags;
                    break;
                }
            }
        }
        sys::set_carrier(file.as_fd(), false)?;
        let index = nl
            .link_index(&spec.name)?
            .ok_or_else(|| io::Error::other(format!("{} vanished", spec.name)))?;
        nl.link_up(index, spec.mtu, group)?;
        for a in &spec.local_addrs {
            nl.addr_add(index, a.addr, a.len)?;
        }
        Ok(Tun {
            spec,
            file,
            index,
            created: !existed,
            carrier: AtomicBool::new(false),
            vnet,
            offloads,
        })
    }

    /// The spec it was opened with.
    pub fn spec(&self) -> &TunSpec {
        &self.spec
    }

    /// Interface name.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// Interface index.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// Whether vtid created it (else it was adopted and is never
    /// destroyed).
    pub fn created(&self) -> bool {
        self.created
    }

    /// Whether the carrier is on.
    pub fn carrier(&self) -> bool {
        self.carrier.load(Ordering::Relaxed)
    }

    /// Switch the carrier.
    pub fn set_carrier(&self, on: bool) -> io::Result<()> {
        sys::set_carrier(self.file.as_fd(), on)?;
        self.carrier.store(on, Ordering::Relaxed);
        Ok(())
    }

    /// Whether every read and write carries a virtio_net_hdr
    /// ([`VNET_HDR_LEN`] bytes) in front of the packet.
    pub fn vnet_hdr(&self) -> bool {
        self.vnet
    }

    /// The `TUN_F_*` offloads the kernel accepted (0: none).
    pub fn offloads(&self) -> u32 {
        self.offloads
    }

    /// Read one packet (blocks unless the fd polled readable): behind a
    /// virtio_net_hdr when [`Tun::vnet_hdr`].
    pub fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&self.file).read(buf)
    }

    /// Read one packet into `bufs` in turn (readv), as [`Tun::read`]: a
    /// packet larger than the first buffer continues in the second.
    pub fn read_vectored(&self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
        (&self.file).read_vectored(bufs)
    }

    /// Write one IP packet into the interface (with an all-zero
    /// virtio_net_hdr in front when the queue has one: no offload).
    pub fn write(&self, packet: &[u8]) -> io::Result<usize> {
        if !self.vnet {
            return (&self.file).write(packet);
        }
        let iov = [io::IoSlice::new(&ZERO_VNET_HDR), io::IoSlice::new(packet)];
        let n = (&self.file).write_vectored(&iov)?;
        Ok(n.saturating_sub(VNET_HDR_LEN))
    }

    /// Write bytes that start with their own virtio_net_hdr (a coalesced
    /// TCP super-packet). Only for queues with [`Tun::vnet_hdr`].
    pub fn write_vnet(&self, bytes: &[u8]) -> io::Result<usize> {
        if !self.vnet {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "TUN queue has no virtio_net_hdr",
            ));
        }
        (&self.file).write(bytes)
    }

    /// The file descriptor, for poll.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }

    /// A source address for ICMP errors about packets read from this
    /// interface: the peer's transit address of the family (the "next-hop
    /// router" that cannot forward), if configured.
    pub fn icmp_source(&self, v6: bool) -> Option<IpAddr> {
        self.spec.gateway(v6)
    }
}
