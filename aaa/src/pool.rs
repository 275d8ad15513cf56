//! Virtual IP pools and their leases: which client holds which address.
//!
//! The behaviour is strongSwan's (`src/libcharon/attributes/mem_pool.c`
//! and the vici plugin's `vici_attribute.c`), with constant-time
//! bookkeeping so that thousands of clients cost nothing per lookup:
//!
//! * A lease belongs to an **identity** (the client's EAP identity if it
//!   used EAP, else its IKE identity). While an IKE SA uses the address the
//!   lease is *online*; when the last one releases it, it goes *offline*
//!   but stays the identity's: the same client gets the same address back.
//! * [`Pools::acquire`] tries, over the connection's pools in order, first
//!   an **existing** lease of the identity (an online one only when the
//!   same peer address holds it — make-before-break reauthentication —,
//!   else an offline one), then a **new** address never handed out, then
//!   **reassigns** the offline lease that went offline first (least
//!   recently used) from another identity. A full pool gives nothing.
//! * A pool is replaced by a load of the same name when its addresses are
//!   unchanged (leases kept, attributes replaced) or when it has no online
//!   lease; it is never unloaded while a lease is online.
//!
//! Lookups (`identity → leases`, `address → lease`) are hash maps;
//! reassignment takes the oldest offline lease from an ordered map
//! (O(log n)). Memory grows with the leases handed out, not with the
//! size of the pool (a /8 costs nothing until used).

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use config::values::AddrFamily;
use config::{Pool, PoolAddrs, PoolAttr, PoolSpan};

/// Where a pool was defined.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Source {
    /// The configuration file (replaced on reload).
    File,
    /// VICI `load-pool` (`swanctl --load-pools`).
    Vici,
}

/// Why a pool cannot be loaded or unloaded. Messages are the ones
/// strongSwan's vici plugin answers with, where it has one.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum PoolError {
    /// Unloading a pool that is not there.
    #[error("{0} not found")]
    NotFound(String),
    /// Replacing or unloading a pool that has online leases.
    #[error("vici pool {name} has {online} online leases, unable to {what}")]
    Online {
        /// The pool.
        name: String,
        /// How many leases are online.
        online: u32,
        /// `replace` or `unload`.
        what: &'static str,
    },
    /// Two pools would share an address.
    #[error("pool '{name}' ({addrs}) shares addresses with pool '{other}' ({other_addrs})")]
    Overlap {
        /// The pool being loaded.
        name: String,
        /// Its addresses.
        addrs: String,
        /// The pool already loaded.
        other: String,
        /// Its addresses.
        other_addrs: String,
    },
    /// Over VICI, a pool the configuration file defines.
    #[error("pool '{0}' is defined in the configuration file; change it there")]
    FromFile(String),
    /// The pool's addresses are invalid.
    #[error("invalid addrs value: {0}")]
    Addrs(String),
}

/// One lease: an address and its owner.
#[derive(Debug)]
struct Lease {
    owner: Arc<str>,
    /// One entry per IKE SA using the address (the peer it came from);
    /// empty when offline.
    holders: Vec<Option<SocketAddr>>,
    /// When it went offline (key into `offline`).
    offline_seq: Option<u64>,
}

/// What [`Pools::acquire`] gave.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Acquired {
    /// The pool it came from.
    pub pool: String,
    /// The address.
    pub addr: IpAddr,
}

/// One lease as listed (`get-pools` with `leases`).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct LeaseInfo {
    /// The address.
    pub addr: IpAddr,
    /// Who it belongs to.
    pub identity: String,
    /// Whether an IKE SA uses it now.
    pub online: bool,
}

/// A pool with its leases.
#[derive(Debug)]
pub struct LeasePool {
    pool: Pool,
    span: Option<PoolSpan>,
    source: Source,
    /// Removed from the file while leases were online: no new leases,
    /// dropped when the last goes offline.
    retired: bool,
    /// Indices below this were handed out at least once.
    next_unused: u32,
    leases: HashMap<u32, Lease>,
    by_id: HashMap<Arc<str>, Vec<u32>>,
    /// Offline leases by the order they went offline.
    offline: BTreeMap<u64, u32>,
    seq: u64,
    online: u32,
}

impl LeasePool {
    /// A pool without leases.
    pub fn new(pool: Pool, source: Source) -> Result<LeasePool, PoolError> {
        let span = pool.addrs.span().map_err(PoolError::Addrs)?;
        Ok(LeasePool {
            pool,
            span,
            source,
            retired: false,
            next_unused: 0,
            leases: HashMap::new(),
            by_id: HashMap::new(),
            offline: BTreeMap::new(),
            seq: 0,
            online: 0,
        })
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.pool.name
    }

    /// Its configuration.
    pub fn config(&self) -> &Pool {
        &self.pool
    }

    /// Where it was defined.
    pub fn source(&self) -> Source {
        self.source
    }

    /// The first address handed out (strongSwan's "base"); `None` for a
    /// `%config` pool.
    pub fn base(&self) -> Option<IpAddr> {
        self.span.map(|s| s.first)
    }

    /// How many addresses it has (0 for `%config`).
    pub fn size(&self) -> u32 {
        self.span.map_or(0, |s| s.size)
    }

    /// Leases in use by an IKE SA.
    pub fn online(&self) -> u32 {
        self.online
    }

    /// Leases kept for identities that are not connected.
    pub fn offline(&self) -> u32 {
        u32::try_from(self.offline.len()).unwrap_or(u32::MAX)
    }

    /// Whether it was removed from the configuration file and waits for
    /// its online leases to end.
    pub fn is_retired(&self) -> bool {
        self.retired
    }

    /// Every lease, by address.
    pub fn leases(&self) -> Vec<LeaseInfo> {
        let Some(span) = self.span else {
            return Vec::new();
        };
        let mut idx: Vec<u32> = self.leases.keys().copied().collect();
        idx.sort_unstable();
        idx.into_iter()
            .filter_map(|i| {
                let l = self.leases.get(&i)?;
                Some(LeaseInfo {
                    addr: span.addr(i)?,
                    identity: l.owner.to_string(),
                    online: !l.holders.is_empty(),
                })
            })
            .collect()
    }

    /// The lease of `addr`, if it is one of this pool's leases: (owner,
    /// online).
    pub fn lease(&self, addr: IpAddr) -> Option<(&str, bool)> {
        let i = self.span?.index(addr)?;
        self.leases
            .get(&i)
            .map(|l| (&*l.owner, !l.holders.is_empty()))
    }

    /// Whether `addr` is one of this pool's addresses.
    pub fn contains(&self, addr: IpAddr) -> bool {
        self.span.and_then(|s| s.index(addr)).is_some()
    }

    fn family_ok(&self, requested: IpAddr) -> bool {
        match (&self.pool.addrs, self.span) {
            (_, Some(s)) => s.first.is_ipv4() == requested.is_ipv4(),
            (PoolAddrs::Config(Some(AddrFamily::V4)), None) => requested.is_ipv4(),
            (PoolAddrs::Config(Some(AddrFamily::V6)), None) => requested.is_ipv6(),
            (_, None) => true,
        }
    }

    fn addr(&self, i: u32) -> Option<IpAddr> {
        self.span?.addr(i)
    }

    /// A lease of `id` already: an online one held from the same `peer`
    /// (make-before-break reauthentication: it gets a second holder) that
    /// matches `requested` unless that is unspecified, else an offline one
    /// (the requested one if it is among them).
    fn existing(
        &mut self,
        id: &str,
        requested: IpAddr,
        peer: Option<SocketAddr>,
    ) -> Option<IpAddr> {
        let span = self.span?;
        let mine = self.by_id.get(id)?;
        let wanted = (!requested.is_unspecified())
            .then(|| span.index(requested))
            .flatten();
        if peer.is_some() {
            let found = mine.iter().copied().find(|i| {
                self.leases.get(i).is_some_and(|l| {
                    l.holders.contains(&peer) && (requested.is_unspecified() || wanted == Some(*i))
                })
            });
            if let Some(i) = found {
                if let Some(l) = self.leases.get_mut(&i) {
                    l.holders.push(peer);
                }
                return self.addr(i);
            }
        }
        let offline = |i: &u32| self.leases.get(i).is_some_and(|l| l.offline_seq.is_some());
        let pick = mine
            .iter()
            .copied()
            .filter(offline)
            .find(|i| Some(*i) == wanted)
            .or_else(|| mine.iter().copied().find(offline))?;
        self.bring_online(pick, peer);
        self.addr(pick)
    }

    fn bring_online(&mut self, i: u32, peer: Option<SocketAddr>) {
        if let Some(l) = self.leases.get_mut(&i) {
            if let Some(seq) = l.offline_seq.take() {
                self.offline.remove(&seq);
            }
            if l.holders.is_empty() {
                self.online = self.online.saturating_add(1);
            }
            l.holders.push(peer);
        }
    }

    /// An address never handed out.
    fn new_lease(&mut self, id: &str, peer: Option<SocketAddr>) -> Option<IpAddr> {
        let span = self.span?;
        if self.retired || self.next_unused >= span.size {
            return None;
        }
        let i = self.next_unused;
        self.next_unused = i.saturating_add(1);
        let owner = self.owner_key(id);
        self.leases.insert(
            i,
            Lease {
                owner: owner.clone(),
                holders: vec![peer],
                offline_seq: None,
            },
        );
        self.by_id.entry(owner).or_default().push(i);
        self.online = self.online.saturating_add(1);
        self.addr(i)
    }

    fn owner_key(&self, id: &str) -> Arc<str> {
        self.by_id
            .get_key_value(id)
            .map(|(k, _)| k.clone())
            .unwrap_or_else(|| Arc::from(id))
    }

    /// The lease that went offline first, taken from its owner.
    fn reassign(&mut self, id: &str, peer: Option<SocketAddr>) -> Option<IpAddr> {
        if self.retired {
            return None;
        }
        let (_, i) = self.offline.pop_first()?;
        let owner = self.owner_key(id);
        let l = self.leases.get_mut(&i)?;
        let old = std::mem::replace(&mut l.owner, owner.clone());
        l.offline_seq = None;
        l.holders = vec![peer];
        self.online = self.online.saturating_add(1);
        if let Some(v) = self.by_id.get_mut(&old) {
            v.retain(|&x| x != i);
            if v.is_empty() {
                self.by_id.remove(&old);
            }
        }
        self.by_id.entry(owner).or_default().push(i);
        self.addr(i)
    }

    /// Gives `addr` back for `id`: one holder less (the one from `peer`
    /// if it holds it, else the first); offline when none is left. `false`
    /// when `addr` is not an online lease of `id`.
    pub fn release(&mut self, addr: IpAddr, id: &str, peer: Option<SocketAddr>) -> bool {
        let Some(i) = self.span.and_then(|s| s.index(addr)) else {
            return false;
        };
        let Some(l) = self.leases.get_mut(&i) else {
            return false;
        };
        if *l.owner != *id || l.holders.is_empty() {
            return false;
        }
        let at = l.holders.iter().position(|h| *h == peer).unwrap_or(0);
        l.holders.remove(at);
        if l.holders.is_empty() {
            self.online = self.online.saturating_sub(1);
            let seq = self.seq;
            self.seq = seq.wrapping_add(1);
            l.offline_seq = Some(seq);
            self.offline.insert(seq, i);
        }
        true
    }

    /// Same addresses (the leases can be kept)?
    fn same_addrs(&self, other: &LeasePool) -> bool {
        self.span == other.span && (self.span.is_some() || self.pool.addrs == other.pool.addrs)
    }
}

/// Every loaded pool: the file's and those loaded over VICI.
#[derive(Debug, Default)]
pub struct Pools {
    pools: Vec<LeasePool>,
}

/// What [`Pools::load`] did.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Loaded {
    /// A new pool.
    Added,
    /// Same addresses: leases kept, attributes replaced.
    Updated,
    /// Other addresses, no online lease: the old pool and its offline
    /// leases are gone.
    Replaced,
}

impl Pools {
    /// No pools.
    pub fn new() -> Pools {
        Pools::default()
    }

    /// Every pool, in load order.
    pub fn iter(&self) -> impl Iterator<Item = &LeasePool> {
        self.pools.iter()
    }

    /// A pool by name.
    pub fn get(&self, name: &str) -> Option<&LeasePool> {
        self.pools.iter().find(|p| p.name() == name)
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.pools.iter().position(|p| p.name() == name)
    }

    /// Loads `pool` (from `source`), merging with a loaded pool of the
    /// same name as strongSwan's `merge_pool` does (see [`Loaded`]); two
    /// pools never share an address, and VICI cannot change a pool of the
    /// file.
    pub fn load(&mut self, pool: Pool, source: Source) -> Result<Loaded, PoolError> {
        let mut new = LeasePool::new(pool, source)?;
        if let Some(span) = new.span {
            if let Some(o) = self
                .pools
                .iter()
                .find(|o| o.name() != new.name() && o.span.is_some_and(|s| s.overlaps(&span)))
            {
                return Err(PoolError::Overlap {
                    name: new.name().into(),
                    addrs: new.pool.addrs.to_string(),
                    other: o.name().into(),
                    other_addrs: o.pool.addrs.to_string(),
                });
            }
        }
        let Some(at) = self.position(new.name()) else {
            self.pools.push(new);
            return Ok(Loaded::Added);
        };
        let old = &mut self.pools[at];
        if old.source == Source::File && source == Source::Vici {
            return Err(PoolError::FromFile(new.name().into()));
        }
        if old.same_addrs(&new) {
            old.pool = new.pool;
            old.source = source;
            old.retired = false;
            return Ok(Loaded::Updated);
        }
        if old.online > 0 {
            return Err(PoolError::Online {
                name: new.name().into(),
                online: old.online,
                what: "replace",
            });
        }
        new.source = source;
        self.pools[at] = new;
        Ok(Loaded::Replaced)
    }

    /// Unloads a pool loaded over VICI that has no online lease.
    pub fn unload(&mut self, name: &str) -> Result<(), PoolError> {
        let Some(at) = self.position(name) else {
            return Err(PoolError::NotFound(name.into()));
        };
        let p = &self.pools[at];
        if p.source == Source::File {
            return Err(PoolError::FromFile(name.into()));
        }
        if p.online > 0 {
            return Err(PoolError::Online {
                name: name.into(),
                online: p.online,
                what: "unload",
            });
        }
        self.pools.remove(at);
        Ok(())
    }

    /// Makes the file's pools `file` (on start and reload): each is loaded
    /// as [`Pools::load`] does; a file pool no longer in the file goes, or,
    /// while it has online leases, stays without handing out new ones
    /// until the last is released. Returns what the operator should be
    /// told (a pool that could not be loaded or replaced, and why).
    pub fn sync_file(&mut self, file: &[Pool]) -> Vec<String> {
        let mut notes = Vec::new();
        for p in file {
            if self
                .get(&p.name)
                .is_some_and(|old| old.source == Source::Vici)
            {
                notes.push(format!(
                    "{} of the configuration file is skipped: a pool of that name was loaded \
                     over VICI (unload it to use the file's)",
                    p.describe()
                ));
                continue;
            }
            if let Err(e) = self.load(p.clone(), Source::File) {
                notes.push(format!("{} not loaded: {e}", p.describe()));
            }
        }
        self.pools.retain_mut(|p| {
            if p.source != Source::File || file.iter().any(|f| f.name == p.name()) {
                return true;
            }
            if p.online == 0 {
                return false;
            }
            if !p.retired {
                notes.push(format!(
                    "pool '{}' was removed from the configuration file but has {} online \
                     leases; it hands out no new address and goes when they end",
                    p.name(),
                    p.online
                ));
            }
            p.retired = true;
            true
        });
        notes
    }

    /// An address for `id` from the first of `names` that has one, as
    /// strongSwan's vici plugin looks: an existing lease in any of the
    /// pools, then a new address in any, then a reassigned offline lease
    /// in any. `requested` is what the client asked for (`0.0.0.0` or
    /// `::` for any; its family chooses the pools); `peer` is the
    /// client's IKE address. A `%config` pool gives the requested address
    /// itself (not an unspecified one) and keeps no lease.
    pub fn acquire(
        &mut self,
        names: &[String],
        id: &str,
        requested: IpAddr,
        peer: Option<SocketAddr>,
    ) -> Option<Acquired> {
        type Step = fn(&mut LeasePool, &str, IpAddr, Option<SocketAddr>) -> Option<IpAddr>;
        let steps: [Step; 3] = [
            |p, id, req, peer| p.existing(id, req, peer),
            |p, id, req, peer| {
                if p.span.is_none() {
                    // %config: echo the request.
                    return (!req.is_unspecified()).then_some(req);
                }
                p.new_lease(id, peer)
            },
            |p, id, _, peer| p.reassign(id, peer),
        ];
        for step in steps {
            for name in names {
                let Some(at) = self.position(name) else {
                    continue;
                };
                let p = &mut self.pools[at];
                if !p.family_ok(requested) {
                    continue;
                }
                if let Some(addr) = step(p, id, requested, peer) {
                    return Some(Acquired {
                        pool: name.clone(),
                        addr,
                    });
                }
            }
        }
        None
    }

    /// Gives back `addr` of `id` (see [`LeasePool::release`]) to whichever
    /// of `names` holds it; `false` if none does (an address of a
    /// `%config` pool, or one that was not leased to `id`).
    pub fn release(
        &mut self,
        names: &[String],
        addr: IpAddr,
        id: &str,
        peer: Option<SocketAddr>,
    ) -> bool {
        let mut found = false;
        for name in names {
            if let Some(at) = self.position(name) {
                if self.pools[at].release(addr, id, peer) {
                    found = true;
                    break;
                }
            }
        }
        // A retired pool goes with its last online lease.
        self.pools.retain(|p| !(p.retired && p.online == 0));
        found
    }

    /// The attributes of `names` that go with `vips`, the virtual IPs a
    /// client was given: those of each pool one of them comes from (as
    /// strongSwan's vici plugin hands them out), and of `%config` pools
    /// when the client has any virtual IP.
    pub fn attributes<'a>(
        &'a self,
        names: &'a [String],
        vips: &'a [IpAddr],
    ) -> impl Iterator<Item = &'a PoolAttr> + 'a {
        names
            .iter()
            .filter_map(|n| self.get(n))
            .filter(move |p| match p.span {
                Some(_) => vips.iter().any(|v| p.contains(*v)),
                None => !vips.is_empty(),
            })
            .flat_map(|p| p.pool.attrs.iter())
    }

    /// The pool and lease of `addr`: (pool, owner, online).
    pub fn lease_of(&self, addr: IpAddr) -> Option<(&str, &str, bool)> {
        self.pools.iter().find_map(|p| {
            p.lease(addr)
                .map(|(owner, online)| (p.name(), owner, online))
        })
    }
}
