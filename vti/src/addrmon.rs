//! The local address monitor: which addresses this host can use for IKE
//! and ESP, and when that changes — what MOBIKE (RFC 4555 §3.5: a host
//! whose addresses change updates its IKE SA with UPDATE_SA_ADDRESSES)
//! and a gateway whose WAN address moves (DHCP, a failover between
//! uplinks) need to hear.
//!
//! * [`AddrTracker`] (portable, sans I/O): the set of usable addresses,
//!   fed with kernel address messages or whole dumps, giving
//!   [`AddrEvent`]s for what appeared and what went. An address is
//!   usable unless it is tentative (IPv6 duplicate address detection not
//!   finished, RFC 4862 §5.4), failed DAD, is a loopback or an IPv6
//!   link-local one (neither reaches a peer).
//! * `AddrMonitor` (Linux): an rtnetlink socket subscribed to the IPv4
//!   and IPv6 address groups, an initial dump, and a dump again every
//!   `resync` (netlink multicast can drop messages when its buffer
//!   overflows) so the set converges whatever was lost; events go to a
//!   tokio channel the daemon reads.

use std::collections::BTreeMap;
use std::net::IpAddr;

/// A change in the usable local addresses.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum AddrEvent {
    /// `addr` on interface `ifindex` became usable.
    Added {
        /// The address.
        addr: IpAddr,
        /// Its interface.
        ifindex: u32,
    },
    /// `addr` on `ifindex` is gone (or no longer usable).
    Removed {
        /// The address.
        addr: IpAddr,
        /// Its interface.
        ifindex: u32,
    },
}

/// One address as the kernel reports it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct KernelAddr {
    /// The address.
    pub addr: IpAddr,
    /// Its interface.
    pub ifindex: u32,
    /// IFA_F_TENTATIVE: IPv6 DAD still running.
    pub tentative: bool,
    /// IFA_F_DADFAILED.
    pub dad_failed: bool,
}

impl KernelAddr {
    /// Whether IKE can use it.
    pub fn usable(&self) -> bool {
        if self.tentative || self.dad_failed || self.addr.is_loopback() {
            return false;
        }
        match self.addr {
            IpAddr::V6(a) => (a.segments()[0] & 0xffc0) != 0xfe80,
            IpAddr::V4(_) => true,
        }
    }
}

/// The usable local addresses.
#[derive(Clone, Debug, Default)]
pub struct AddrTracker {
    addrs: BTreeMap<(IpAddr, u32), ()>,
}

impl AddrTracker {
    /// No addresses yet.
    pub fn new() -> AddrTracker {
        AddrTracker::default()
    }

    /// The usable addresses, sorted.
    pub fn addresses(&self) -> Vec<(IpAddr, u32)> {
        self.addrs.keys().copied().collect()
    }

    /// Whether `addr` is usable on some interface.
    pub fn contains(&self, addr: IpAddr) -> bool {
        self.addrs.keys().any(|(a, _)| *a == addr)
    }

    /// RTM_NEWADDR: added, or its flags changed (a tentative address
    /// becomes usable when DAD ends; one that fails DAD goes).
    pub fn new_addr(&mut self, a: KernelAddr) -> Option<AddrEvent> {
        let key = (a.addr, a.ifindex);
        if a.usable() {
            self.addrs
                .insert(key, ())
                .is_none()
                .then_some(AddrEvent::Added {
                    addr: a.addr,
                    ifindex: a.ifindex,
                })
        } else {
            self.del(key)
        }
    }

    /// RTM_DELADDR.
    pub fn del_addr(&mut self, addr: IpAddr, ifindex: u32) -> Option<AddrEvent> {
        self.del((addr, ifindex))
    }

    fn del(&mut self, key: (IpAddr, u32)) -> Option<AddrEvent> {
        self.addrs.remove(&key).map(|()| AddrEvent::Removed {
            addr: key.0,
            ifindex: key.1,
        })
    }

    /// A whole dump: what it lacks is removed, what is new is added
    /// (removals first, so a consumer never sees both an old and a new
    /// address it would have to choose between).
    pub fn resync(&mut self, dump: &[KernelAddr]) -> Vec<AddrEvent> {
        let now: BTreeMap<(IpAddr, u32), ()> = dump
            .iter()
            .filter(|a| a.usable())
            .map(|a| ((a.addr, a.ifindex), ()))
            .collect();
        let mut ev: Vec<AddrEvent> = self
            .addrs
            .keys()
            .filter(|k| !now.contains_key(k))
            .map(|k| AddrEvent::Removed {
                addr: k.0,
                ifindex: k.1,
            })
            .collect();
        ev.extend(
            now.keys()
                .filter(|k| !self.addrs.contains_key(k))
                .map(|k| AddrEvent::Added {
                    addr: k.0,
                    ifindex: k.1,
                }),
        );
        self.addrs = now;
        ev
    }
}

#[cfg(target_os = "linux")]
pub use linux::AddrMonitor;

#[cfg(target_os = "linux")]
mod linux {
    use std::io;
    use std::net::IpAddr;
    use std::time::Duration;

    use futures_util::{StreamExt, TryStreamExt};
    use netlink_packet_route::address::{
        AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage,
    };
    use netlink_packet_route::RouteNetlinkMessage;
    use rtnetlink::packet_core::NetlinkPayload;
    use rtnetlink::sys::{AsyncSocket, SocketAddr};
    use tokio::sync::mpsc;
    use tracing::{debug, warn};

    use super::{AddrEvent, AddrTracker, KernelAddr};

    const GROUPS: u32 =
        rtnetlink::constants::RTMGRP_IPV4_IFADDR | rtnetlink::constants::RTMGRP_IPV6_IFADDR;

    /// The kernel's view of one address message.
    fn kernel_addr(m: &AddressMessage) -> Option<KernelAddr> {
        let mut address = None;
        let mut local = None;
        let mut flags = None;
        for a in &m.attributes {
            match a {
                AddressAttribute::Address(ip) => address = Some(*ip),
                AddressAttribute::Local(ip) => local = Some(*ip),
                AddressAttribute::Flags(f) => flags = Some(*f),
                _ => {}
            }
        }
        // IPv4: IFA_LOCAL is ours (IFA_ADDRESS the peer's on a
        // point-to-point link); IPv6 has IFA_ADDRESS (IFA_LOCAL only with
        // a peer).
        let addr: IpAddr = local.or(address)?;
        let (tentative, dad_failed) = match flags {
            Some(f) => (
                f.contains(AddressFlags::Tentative),
                f.contains(AddressFlags::Dadfailed),
            ),
            None => (
                m.header.flags.contains(AddressHeaderFlags::Tentative),
                m.header.flags.contains(AddressHeaderFlags::Dadfailed),
            ),
        };
        Some(KernelAddr {
            addr,
            ifindex: m.header.index,
            tentative,
            dad_failed,
        })
    }

    /// Follows the local addresses of the network namespace it was
    /// started in, on a thread of its own; stops when dropped (or when
    /// the receiver is dropped).
    #[derive(Debug)]
    pub struct AddrMonitor {
        stop: Option<tokio::sync::oneshot::Sender<()>>,
        thread: Option<std::thread::JoinHandle<()>>,
    }

    impl AddrMonitor {
        /// Starts monitoring (in the calling thread's network namespace):
        /// the first events are the addresses there now; then changes as
        /// they happen, and whatever a dump every `resync` finds different.
        pub fn start(
            resync: Duration,
        ) -> io::Result<(AddrMonitor, mpsc::UnboundedReceiver<AddrEvent>)> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .enable_time()
                .build()?;
            // Opened here, in the caller's namespace.
            let (mut conn, handle, mut messages) = {
                let _guard = rt.enter();
                rtnetlink::new_connection()?
            };
            conn.socket_mut()
                .socket_mut()
                .bind(&SocketAddr::new(0, GROUPS))?;
            let (tx, rx) = mpsc::unbounded_channel();
            let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
            let resync = resync.max(Duration::from_millis(100));
            let thread = std::thread::Builder::new()
                .name("vti-addrmon".into())
                .spawn(move || {
                    rt.block_on(async move {
                        tokio::spawn(conn);
                        let mut tracker = AddrTracker::new();
                        let mut tick = tokio::time::interval(resync);
                        loop {
                            tokio::select! {
                                _ = &mut stop_rx => break,
                                _ = tick.tick() => {
                                    match dump(&handle).await {
                                        Ok(all) => {
                                            for e in tracker.resync(&all) {
                                                if tx.send(e).is_err() {
                                                    return;
                                                }
                                            }
                                        }
                                        Err(e) => warn!("address dump failed: {e}"),
                                    }
                                }
                                m = messages.next() => {
                                    let Some((msg, _)) = m else {
                                        warn!("address monitor: netlink connection closed");
                                        break;
                                    };
                                    let ev = match msg.payload {
                                        NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewAddress(a)) => {
                                            kernel_addr(&a).and_then(|k| tracker.new_addr(k))
                                        }
                                        NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelAddress(a)) => {
                                            kernel_addr(&a).and_then(|k| tracker.del_addr(k.addr, k.ifindex))
                                        }
                                        _ => None,
                                    };
                                    if let Some(e) = ev {
                                        debug!(?e, "local address change");
                                        if tx.send(e).is_err() {
                                            break;
                                        }
                                    }
                                }
                            }
                        }
                    });
                })?;
            Ok((
                AddrMonitor {
                    stop: Some(stop_tx),
                    thread: Some(thread),
                },
                rx,
            ))
        }
    }

    async fn dump(h: &rtnetlink::Handle) -> io::Result<Vec<KernelAddr>> {
        let mut out = Vec::new();
        let mut s = h.address().get().execute();
        while let Some(m) = s
            .try_next()
            .await
            .map_err(|e| io::Error::other(e.to_string()))?
        {
            if let Some(k) = kernel_addr(&m) {
                out.push(k);
            }
        }
        Ok(out)
    }

    impl Drop for AddrMonitor {
        fn drop(&mut self) {
            if let Some(s) = self.stop.take() {
                let _ = s.send(());
            }
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(a: &str, i: u32, tentative: bool) -> KernelAddr {
        KernelAddr {
            addr: a.parse().unwrap(),
            ifindex: i,
            tentative,
            dad_failed: false,
        }
    }

    #[test]
    fn tentative_link_local_and_loopback_are_not_usable() {
        let mut t = AddrTracker::new();
        assert_eq!(t.new_addr(k("127.0.0.1", 1, false)), None);
        assert_eq!(t.new_addr(k("::1", 1, false)), None);
        assert_eq!(t.new_addr(k("fe80::1", 2, false)), None);
        assert_eq!(t.new_addr(k("2001:db8::1", 2, true)), None);
        // DAD done: the same address again without the flag.
        assert_eq!(
            t.new_addr(k("2001:db8::1", 2, false)),
            Some(AddrEvent::Added {
                addr: "2001:db8::1".parse().unwrap(),
                ifindex: 2
            })
        );
        // A repeat is no news.
        assert_eq!(t.new_addr(k("2001:db8::1", 2, false)), None);
        // DAD failed later (or flags changed to unusable): gone.
        let mut failed = k("2001:db8::1", 2, false);
        failed.dad_failed = true;
        assert!(matches!(
            t.new_addr(failed),
            Some(AddrEvent::Removed { .. })
        ));
        assert!(t.addresses().is_empty());
    }

    #[test]
    fn resync_reports_the_difference_removals_first() {
        let mut t = AddrTracker::new();
        t.new_addr(k("192.0.2.1", 2, false));
        t.new_addr(k("198.51.100.1", 3, false));
        let ev = t.resync(&[k("198.51.100.1", 3, false), k("203.0.113.1", 3, false)]);
        assert_eq!(
            ev,
            vec![
                AddrEvent::Removed {
                    addr: "192.0.2.1".parse().unwrap(),
                    ifindex: 2
                },
                AddrEvent::Added {
                    addr: "203.0.113.1".parse().unwrap(),
                    ifindex: 3
                },
            ]
        );
        assert!(t.contains("203.0.113.1".parse().unwrap()));
        assert!(t
            .resync(&[k("198.51.100.1", 3, false), k("203.0.113.1", 3, false)])
            .is_empty());
        // The same address on two interfaces is two entries.
        assert!(t.new_addr(k("203.0.113.1", 4, false)).is_some());
        assert!(t.del_addr("203.0.113.1".parse().unwrap(), 3).is_some());
        assert!(t.contains("203.0.113.1".parse().unwrap()));
    }
}
