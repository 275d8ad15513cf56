//! Which interface carries each routed prefix when the kernel's routes
//! have no preference metric.
//!
//! Linux orders routes to one prefix by `RTA_PRIORITY`, so every
//! interface whose CHILD SA is up can install its `routes` with its
//! `route_metric` and the kernel uses the lowest (failover). FreeBSD's
//! routes have no such value (`rmx_weight` is a multipath share, see
//! [`crate::freebsd_route`]), so the daemon decides: [`PreferredRoutes`]
//! keeps, per prefix, the interfaces that are up and want it, and answers
//! each change with the route operations that keep exactly the preferred
//! one installed — lowest metric, then lowest interface name. A failover
//! deletes the old route before adding the new one (a kernel without
//! multipath refuses a second route to the same prefix).
#![forbid(unsafe_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// A prefix: network address and length.
pub type Prefix = (IpAddr, u8);

/// One route operation for the kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteChange {
    /// Install `prefix` through `iface`.
    Add {
        /// The prefix.
        prefix: Prefix,
        /// The interface.
        iface: String,
    },
    /// Remove the route of `prefix` through `iface`.
    Delete {
        /// The prefix.
        prefix: Prefix,
        /// The interface.
        iface: String,
    },
}

/// The routed prefixes of the interfaces that are up, and which interface
/// each one is installed through. See the module documentation.
#[derive(Debug, Default, Clone)]
pub struct PreferredRoutes {
    /// prefix → `(metric, interface)` of every interface up that routes it.
    candidates: BTreeMap<Prefix, BTreeSet<(u32, String)>>,
    /// prefix → the interface it is installed through.
    installed: BTreeMap<Prefix, String>,
    /// interface → the `(metric, prefixes)` it registered when it came up.
    up: BTreeMap<String, (u32, Vec<Prefix>)>,
}

impl PreferredRoutes {
    /// An empty table.
    pub fn new() -> PreferredRoutes {
        PreferredRoutes::default()
    }

    /// Interface `iface` is up (its first CHILD SA is installed) and routes
    /// `prefixes` with `metric`. Calling it again for an interface already
    /// up changes nothing.
    pub fn up(&mut self, iface: &str, metric: u32, prefixes: &[Prefix]) -> Vec<RouteChange> {
        if self.up.contains_key(iface) {
            return Vec::new();
        }
        let mut ps: Vec<Prefix> = prefixes.to_vec();
        ps.sort();
        ps.dedup();
        for p in &ps {
            self.candidates
                .entry(*p)
                .or_default()
                .insert((metric, iface.to_owned()));
        }
        self.up.insert(iface.to_owned(), (metric, ps.clone()));
        self.settle(&ps)
    }

    /// Interface `iface` is down (its last CHILD SA is gone).
    pub fn down(&mut self, iface: &str) -> Vec<RouteChange> {
        let Some((metric, ps)) = self.up.remove(iface) else {
            return Vec::new();
        };
        for p in &ps {
            if let Some(c) = self.candidates.get_mut(p) {
                c.remove(&(metric, iface.to_owned()));
                if c.is_empty() {
                    self.candidates.remove(p);
                }
            }
        }
        self.settle(&ps)
    }

    /// Every route to remove at shutdown (and forgets them all).
    pub fn clear(&mut self) -> Vec<RouteChange> {
        let out = std::mem::take(&mut self.installed)
            .into_iter()
            .map(|(prefix, iface)| RouteChange::Delete { prefix, iface })
            .collect();
        self.candidates.clear();
        self.up.clear();
        out
    }

    /// The interface `prefix` is installed through, if any.
    pub fn installed(&self, prefix: &Prefix) -> Option<&str> {
        self.installed.get(prefix).map(String::as_str)
    }

    /// All installed routes, by prefix.
    pub fn routes(&self) -> impl Iterator<Item = (&Prefix, &str)> {
        self.installed.iter().map(|(p, i)| (p, i.as_str()))
    }

    fn settle(&mut self, prefixes: &[Prefix]) -> Vec<RouteChange> {
        let mut out = Vec::new();
        for p in prefixes {
            let best = self
                .candidates
                .get(p)
                .and_then(|c| c.first())
                .map(|(_, i)| i.clone());
            let now = self.installed.get(p).cloned();
            if best == now {
                continue;
            }
            if let Some(old) = now {
                out.push(RouteChange::Delete {
                    prefix: *p,
                    iface: old,
                });
                self.installed.remove(p);
            }
            if let Some(new) = best {
                out.push(RouteChange::Add {
                    prefix: *p,
                    iface: new.clone(),
                });
                self.installed.insert(*p, new);
            }
        }
        out
    }
}
