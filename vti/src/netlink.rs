//! Interfaces, addresses, routes and rules through rtnetlink.
//!
//! rtnetlink is async; the data plane is not. [`Netlink`] owns one thread
//! with a current-thread tokio runtime and the rtnetlink connection, and
//! runs each request there, blocking the caller until it is answered. So a
//! caller inside the daemon's own tokio runtime never nests runtimes, and
//! the netlink socket stays in the network namespace of the thread that
//! created the [`Netlink`] (a file descriptor keeps its namespace).

use std::fmt;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::mpsc;
use std::thread::JoinHandle;

use futures_util::TryStreamExt;
use netlink_packet_route::address::{AddressAttribute, AddressFlags};
use netlink_packet_route::route::RouteMessage;
use netlink_packet_route::rule::{RuleAction, RuleAttribute, RuleFlags, RuleMessage};
use netlink_packet_route::AddressFamily;
use rtnetlink::{Handle, LinkUnspec, RouteMessageBuilder};

type Job = Box<dyn FnOnce(&tokio::runtime::Runtime, &Handle) + Send>;

/// A route the data plane installs: `dst/prefix dev IF [via gw] table T
/// [src hint] metric M onlink`.
///
/// The kernel identifies a route by table, prefix, TOS and metric (IPv4:
/// `fib_table_insert`/`fib_find_alias`; IPv6: `fib6_add_rt2node`), so an
/// added route with `NLM_F_REPLACE` replaces the one with the same metric
/// whatever its interface, and routes with different metrics coexist (the
/// lowest wins). Hence `metric` is sent on add and on delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RouteSpec {
    /// Destination prefix (host bits cleared).
    pub dst: IpAddr,
    /// Prefix length.
    pub prefix: u8,
    /// Output interface index.
    pub ifindex: u32,
    /// Gateway (the interface's remote transit address), if any.
    pub gateway: Option<IpAddr>,
    /// Preferred source address.
    pub src: Option<IpAddr>,
    /// Routing table.
    pub table: u32,
    /// Metric (`RTA_PRIORITY`). Linux stores an IPv6 route of metric 0
    /// with metric 1024 (IP6_RT_PRIO_USER); an IPv4 one keeps 0. On
    /// delete, 0 matches any metric (`fib_nh_match`, `ip6_route_del`).
    pub metric: u32,
}

/// A policy-routing rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleSpec {
    /// IPv6 (else IPv4).
    pub v6: bool,
    /// Priority.
    pub priority: u32,
    /// Match this firewall mark (with mask = mark).
    pub fwmark: Option<u32>,
    /// Invert the match (`not`).
    pub invert: bool,
    /// Table to look up.
    pub table: u32,
    /// `suppress_prefixlength N`.
    pub suppress_prefixlen: Option<u32>,
}

/// The rtnetlink worker thread.
pub struct Netlink {
    tx: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for Netlink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Netlink").finish_non_exhaustive()
    }
}

fn nl_err(e: rtnetlink::Error) -> io::Error {
    match e {
        rtnetlink::Error::NetlinkError(m) => match m.code {
            Some(c) => io::Error::from_raw_os_error(-c.get()),
            None => io::Error::other("netlink error without code"),
        },
        other => io::Error::other(other.to_string()),
    }
}

fn is_errno(e: &io::Error, errno: nix::errno::Errno) -> bool {
    e.raw_os_error() == Some(errno as i32)
}

impl Netlink {
    /// Open a netlink connection in the calling thread's network namespace.
    pub fn new() -> io::Result<Netlink> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()?;
        // The socket is opened here, in the caller's thread (and netns);
        // registering it needs the runtime's reactor.
        let (conn, handle, _) = {
            let _guard = rt.enter();
            rtnetlink::new_connection()?
        };
        let (tx, rx) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("vti-netlink".into())
            .spawn(move || {
                rt.spawn(conn);
                while let Ok(job) = rx.recv() {
                    job(&rt, &handle);
                }
            })?;
        Ok(Netlink {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    fn run<T, F>(&self, f: F) -> io::Result<T>
    where
        T: Send + 'static,
        F: for<'h> FnOnce(&'h Handle) -> Pin<Box<dyn Future<Output = io::Result<T>> + 'h>>
            + Send
            + 'static,
    {
        let (rtx, rrx) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |rt, h| {
            let r = rt.block_on(f(h));
            let _ = rtx.send(r);
        });
        self.tx
            .as_ref()
            .ok_or_else(|| io::Error::other("netlink closed"))?
            .send(job)
            .map_err(|_| io::Error::other("netlink thread gone"))?;
        rrx.recv()
            .map_err(|_| io::Error::other("netlink thread gone"))?
    }

    /// Run `f` on the netlink thread, in the data plane's network
    /// namespace (e.g. to open a probe socket there).
    pub fn in_thread<T, F>(&self, f: F) -> io::Result<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        self.run(move |_| Box::pin(async move { Ok(f()) }))
    }

    /// The index of interface `name`, `None` if it does not exist.
    pub fn link_index(&self, name: &str) -> io::Result<Option<u32>> {
        let name = name.to_owned();
        self.run(move |h| {
            Box::pin(async move {
                let mut s = h.link().get().match_name(name).execute();
                match s.try_next().await {
                    Ok(Some(m)) => Ok(Some(m.header.index)),
                    Ok(None) => Ok(None),
                    Err(e) => {
                        let e = nl_err(e);
                        if is_errno(&e, nix::errno::Errno::ENODEV) {
                            Ok(None)
                        } else {
                            Err(e)
                        }
                    }
                }
            })
        })
    }

    /// Set the MTU and interface group and bring the link up.
    pub fn link_up(&self, index: u32, mtu: u32, group: u32) -> io::Result<()> {
        self.run(move |h| {
            Box::pin(async move {
                let msg = LinkUnspec::new_with_index(index)
                    .mtu(mtu)
                    .link_group(group)
                    .up()
                    .build();
                h.link().set(msg).execute().await.map_err(nl_err)
            })
        })
    }

    /// Delete a link.
    pub fn link_del(&self, index: u32) -> io::Result<()> {
        self.run(move |h| {
            Box::pin(async move { h.link().del(index).execute().await.map_err(nl_err) })
        })
    }

    /// Add an address (IPv6 without duplicate address detection: a TUN
    /// has no neighbours), replacing an identical one.
    pub fn addr_add(&self, index: u32, addr: IpAddr, prefix: u8) -> io::Result<()> {
        self.run(move |h| {
            Box::pin(async move {
                let mut req = h.address().add(index, addr, prefix).replace();
                if addr.is_ipv6() {
                    req.message_mut()
                        .attributes
                        .push(AddressAttribute::Flags(AddressFlags::Nodad));
                }
                req.execute().await.map_err(nl_err)
            })
        })
    }

    /// Every address configured on any interface.
    pub fn addresses(&self) -> io::Result<Vec<IpAddr>> {
        self.run(move |h| {
            Box::pin(async move {
                let mut out = Vec::new();
                let mut s = h.address().get().execute();
                while let Some(m) = s.try_next().await.map_err(nl_err)? {
                    for a in m.attributes {
                        if let AddressAttribute::Address(ip) = a {
                            out.push(ip);
                        }
                    }
                }
                Ok(out)
            })
        })
    }

    fn route_message(r: &RouteSpec) -> RouteMessage {
        match r.dst {
            IpAddr::V4(d) => {
                let mut b = RouteMessageBuilder::<std::net::Ipv4Addr>::new()
                    .destination_prefix(d, r.prefix)
                    .output_interface(r.ifindex)
                    .table_id(r.table)
                    .priority(r.metric);
                if let Some(IpAddr::V4(g)) = r.gateway {
                    b = b.gateway(g).onlink();
                }
                if let Some(IpAddr::V4(s)) = r.src {
                    b = b.pref_source(s);
                }
                b.build()
            }
            IpAddr::V6(d) => {
                let mut b = RouteMessageBuilder::<std::net::Ipv6Addr>::new()
                    .destination_prefix(d, r.prefix)
                    .output_interface(r.ifindex)
                    .table_id(r.table)
                    .priority(r.metric);
                if let Some(IpAddr::V6(g)) = r.gateway {
                    b = b.gateway(g).onlink();
                }
                if let Some(IpAddr::V6(s)) = r.src {
                    b = b.pref_source(s);
                }
                b.build()
            }
        }
    }

    /// Add a route, replacing one with the same table, prefix and metric
    /// (see [`RouteSpec`]).
    pub fn route_add(&self, r: RouteSpec) -> io::Result<()> {
        let msg = Self::route_message(&r);
        self.run(move |h| {
            Box::pin(async move { h.route().add(msg).replace().execute().await.map_err(nl_err) })
        })
    }

    /// Delete a route; a route already gone is not an error.
    pub fn route_del(&self, r: RouteSpec) -> io::Result<()> {
        let msg = Self::route_message(&r);
        let res = self.run(move |h| {
            Box::pin(async move { h.route().del(msg).execute().await.map_err(nl_err) })
        });
        match res {
            Err(e) if is_errno(&e, nix::errno::Errno::ESRCH) => Ok(()),
            other => other,
        }
    }

    fn rule_message(r: &RuleSpec) -> RuleMessage {
        let mut m = RuleMessage::default();
        m.header.family = if r.v6 {
            AddressFamily::Inet6
        } else {
            AddressFamily::Inet
        };
        m.header.action = RuleAction::ToTable;
        if r.table < 256 {
            m.header.table = r.table as u8;
        } else {
            m.header.table = 252; // RT_TABLE_COMPAT: the attribute holds it
        }
        if r.invert {
            m.header.flags |= RuleFlags::Invert;
        }
        m.attributes.push(RuleAttribute::Table(r.table));
        m.attributes.push(RuleAttribute::Priority(r.priority));
        if let Some(mark) = r.fwmark {
            m.attributes.push(RuleAttribute::FwMark(mark));
            m.attributes.push(RuleAttribute::FwMask(mark));
        }
        if let Some(n) = r.suppress_prefixlen {
            m.attributes.push(RuleAttribute::SuppressPrefixLen(n));
        }
        m
    }

    /// Add a rule. An identical rule already there (EEXIST) is fine.
    pub fn rule_add(&self, r: RuleSpec) -> io::Result<()> {
        let msg = Self::rule_message(&r);
        let res = self.run(move |h| {
            Box::pin(async move {
                let mut req = h.rule().add();
                *req.message_mut() = msg;
                req.execute().await.map_err(nl_err)
            })
        });
        match res {
            Err(e) if is_errno(&e, nix::errno::Errno::EEXIST) => Ok(()),
            other => other,
        }
    }

    /// Delete a rule; a rule already gone is not an error.
    pub fn rule_del(&self, r: RuleSpec) -> io::Result<()> {
        let msg = Self::rule_message(&r);
        let res = self.run(move |h| {
            Box::pin(async move { h.rule().del(msg).execute().await.map_err(nl_err) })
        });
        match res {
            Err(e)
                if is_errno(&e, nix::errno::Errno::ENOENT)
                    || is_errno(&e, nix::errno::Errno::ESRCH) =>
            {
                Ok(())
            }
            other => other,
        }
    }
}

impl Drop for Netlink {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
