//! The installed-CHILD-SA bookkeeping both kernel backends share.
//!
//! [`ChildTable`] holds the CHILD SAs a backend installed, keyed by their
//! inbound SPI, and whether each one's outbound SA is in the kernel.
//! [`ReqidShared`] holds what all CHILD SAs of one reqid share (XFRM
//! policies, PF_KEY SPD entries) and how many of them use it. The
//! kernel-specific parts — the messages that add or delete one direction's
//! SA — come from the backend through [`SaKernel`].
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::net::SocketAddr;

use super::{ChildSpec, Dir};

/// How a backend adds and deletes one direction of a CHILD SA in its
/// kernel.
pub(crate) trait SaKernel {
    /// The backend's error.
    type Error;
    /// Adds the SA of direction `dir`.
    fn add_sa(&mut self, spec: &ChildSpec, dir: Dir) -> Result<(), Self::Error>;
    /// Deletes the SA of direction `dir`; one the kernel no longer has is
    /// not an error.
    fn del_sa(&mut self, spec: &ChildSpec, dir: Dir) -> Result<(), Self::Error>;
    /// The error for an action on a CHILD SA the table does not hold.
    fn unknown(what: String) -> Self::Error;
}

/// One installed CHILD SA.
#[derive(Debug, Clone)]
pub(crate) struct Installed {
    /// What was installed (with the current endpoints).
    pub(crate) spec: ChildSpec,
    /// Whether its outbound SA is in the kernel (its inbound SA always is).
    pub(crate) outbound_installed: bool,
}

impl Installed {
    /// The directions whose SAs are in the kernel: inbound, and outbound
    /// when it is active.
    pub(crate) fn installed_dirs(&self) -> impl Iterator<Item = Dir> {
        [(Dir::In, true), (Dir::Out, self.outbound_installed)]
            .into_iter()
            .filter(|(_, installed)| *installed)
            .map(|(d, _)| d)
    }

    /// Deletes its SAs from the kernel; returns the directions that failed
    /// and why (the others are still deleted).
    pub(crate) fn delete_sas<K: SaKernel>(&self, kernel: &mut K) -> Vec<(Dir, K::Error)> {
        self.installed_dirs()
            .filter_map(|d| kernel.del_sa(&self.spec, d).err().map(|e| (d, e)))
            .collect()
    }

    /// Its spec moved to new outer endpoints (same SPIs, keys, selectors).
    pub(crate) fn moved(&self, local: SocketAddr, remote: SocketAddr, encap: bool) -> ChildSpec {
        let mut spec = self.spec.clone();
        spec.local = local;
        spec.remote = remote;
        spec.encap = encap;
        spec
    }

    /// Replaces its SAs in the kernel by those of `new` (delete, then add,
    /// direction by direction), for an address change. Stops at the first
    /// error.
    pub(crate) fn readdress_sas<K: SaKernel>(
        &self,
        kernel: &mut K,
        new: &ChildSpec,
    ) -> Result<(), K::Error> {
        for d in self.installed_dirs() {
            kernel.del_sa(&self.spec, d)?;
            kernel.add_sa(new, d)?;
        }
        Ok(())
    }
}

/// The CHILD SAs a backend installed, by inbound SPI, with the state of
/// their outbound halves.
///
/// It implements make-before-break (RFC 7296 §2.8, rekeying CHILD SAs):
/// during a rekey the old and the new CHILD SA of a reqid are installed
/// side by side, both receiving, while only the one the IKE engine chose
/// sends. The kernels (XFRM, FreeBSD's IPsec) send on the newest outbound
/// SA of a reqid, so the table lets a CHILD SA be installed inbound-only
/// and adds its outbound SA only at [`ChildTable::activate_outbound`];
/// [`ChildTable::remove_outbound`] deletes it again, and the inbound SA
/// stays until [`ChildTable::remove`]. Outbound lookups go by
/// `(reqid, outbound SPI)`: the SPI the peer chose is only unique together
/// with the SA's destination (RFC 4301 §4.1), so the reqid names the
/// child's tunnel as well.
#[derive(Debug, Clone, Default)]
pub(crate) struct ChildTable {
    children: HashMap<u32, Installed>,
}

impl ChildTable {
    /// An empty table.
    pub(crate) fn new() -> ChildTable {
        ChildTable::default()
    }

    /// Records an installed CHILD SA under its inbound SPI; returns the
    /// record it replaces.
    pub(crate) fn insert(
        &mut self,
        spec: ChildSpec,
        outbound_installed: bool,
    ) -> Option<Installed> {
        self.children.insert(
            spec.inbound.spi,
            Installed {
                spec,
                outbound_installed,
            },
        )
    }

    /// The CHILD SA with this inbound SPI.
    pub(crate) fn get(&self, spi_in: u32) -> Option<&Installed> {
        self.children.get(&spi_in)
    }

    /// Takes the CHILD SA with this inbound SPI out of the table (its SAs
    /// stay in the kernel: see [`Installed::delete_sas`]).
    pub(crate) fn remove(&mut self, spi_in: u32) -> Option<Installed> {
        self.children.remove(&spi_in)
    }

    /// Replaces the spec of a held CHILD SA (after an address change).
    pub(crate) fn set_spec(&mut self, spi_in: u32, spec: ChildSpec) {
        if let Some(c) = self.children.get_mut(&spi_in) {
            c.spec = spec;
        }
    }

    /// The inbound SPI of the CHILD SA of `reqid` that sends with
    /// `spi_out`.
    pub(crate) fn find_out(&self, reqid: u32, spi_out: u32) -> Option<u32> {
        self.children
            .iter()
            .find(|(_, c)| c.spec.reqid == reqid && c.spec.outbound.spi == spi_out)
            .map(|(k, _)| *k)
    }

    /// The inbound SPI of the CHILD SA owning SA `spi` (either direction).
    pub(crate) fn spi_in_of(&self, spi: u32) -> Option<u32> {
        if self.children.contains_key(&spi) {
            return Some(spi);
        }
        self.children
            .iter()
            .find(|(_, c)| c.spec.outbound.spi == spi)
            .map(|(k, _)| *k)
    }

    /// The held CHILD SAs' inbound SPIs.
    pub(crate) fn spis(&self) -> Vec<u32> {
        self.children.keys().copied().collect()
    }

    /// Starts sending on the CHILD SA of `reqid` with outbound SPI
    /// `spi_out`: adds its outbound SA unless it is in already. An unknown
    /// one is an error ([`SaKernel::unknown`]).
    pub(crate) fn activate_outbound<K: SaKernel>(
        &mut self,
        kernel: &mut K,
        reqid: u32,
        spi_out: u32,
    ) -> Result<(), K::Error> {
        let k = self
            .find_out(reqid, spi_out)
            .ok_or_else(|| K::unknown(format!("reqid {reqid} spi_out {spi_out:08x}")))?;
        let c = self.children.get_mut(&k).expect("found above");
        if !c.outbound_installed {
            kernel.add_sa(&c.spec, Dir::Out)?;
            c.outbound_installed = true;
        }
        Ok(())
    }

    /// Stops sending on it: deletes its outbound SA if it is in (the
    /// inbound one stays). An unknown one is nothing to do.
    pub(crate) fn remove_outbound<K: SaKernel>(
        &mut self,
        kernel: &mut K,
        reqid: u32,
        spi_out: u32,
    ) -> Result<(), K::Error> {
        let Some(k) = self.find_out(reqid, spi_out) else {
            return Ok(());
        };
        let c = self.children.get_mut(&k).expect("found above");
        if c.outbound_installed {
            kernel.del_sa(&c.spec, Dir::Out)?;
            c.outbound_installed = false;
        }
        Ok(())
    }
}

/// What all CHILD SAs of one reqid share in the kernel — XFRM policies,
/// PF_KEY SPD entries (the SPD of RFC 4301 §4.4.1, whose entries name the
/// SAs they use by reqid) — and how many CHILD SAs use it. A rekeyed CHILD
/// SA keeps its reqid (RFC 7296 §2.8), so the policies outlive each single
/// SA and go with the reqid's last one.
#[derive(Debug, Clone)]
pub(crate) struct ReqidShared<T> {
    sets: HashMap<u32, (T, usize)>,
}

impl<T> Default for ReqidShared<T> {
    fn default() -> Self {
        ReqidShared {
            sets: HashMap::new(),
        }
    }
}

impl<T> ReqidShared<T> {
    /// An empty table.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// The shared set of `reqid`.
    pub(crate) fn get(&self, reqid: u32) -> Option<&T> {
        self.sets.get(&reqid).map(|(t, _)| t)
    }

    /// How many CHILD SAs use `reqid`'s set.
    pub(crate) fn users(&self, reqid: u32) -> usize {
        self.sets.get(&reqid).map_or(0, |(_, n)| *n)
    }

    /// One more CHILD SA uses `reqid`'s set, which is now `set`.
    pub(crate) fn acquire(&mut self, reqid: u32, set: T) {
        let users = self.users(reqid);
        self.sets.insert(reqid, (set, users + 1));
    }

    /// One more CHILD SA uses `reqid`'s set as it is; false (and nothing
    /// changes) when `reqid` has none yet.
    pub(crate) fn add_user(&mut self, reqid: u32) -> bool {
        match self.sets.get_mut(&reqid) {
            Some((_, n)) => {
                *n += 1;
                true
            }
            None => false,
        }
    }

    /// Replaces `reqid`'s set, keeping its users; returns the old one (if
    /// there is none, nothing changes and `set` is dropped).
    pub(crate) fn replace(&mut self, reqid: u32, set: T) -> Option<T> {
        self.sets
            .get_mut(&reqid)
            .map(|(old, _)| std::mem::replace(old, set))
    }

    /// One CHILD SA of `reqid` is gone; returns the set when that was its
    /// last user (the caller removes it from the kernel).
    pub(crate) fn release(&mut self, reqid: u32) -> Option<T> {
        let last = match self.sets.get_mut(&reqid) {
            Some((_, n)) => {
                *n = n.saturating_sub(1);
                *n == 0
            }
            None => false,
        };
        if last {
            self.sets.remove(&reqid).map(|(t, _)| t)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Cipher, Limits, SaKeys, TsRange};
    use super::*;
    use zeroize::Zeroizing;

    /// Records the kernel calls; fails the ones listed in `fail`.
    #[derive(Debug, Default)]
    struct Fake {
        calls: Vec<(&'static str, u32, Dir)>,
        fail: Vec<(&'static str, Dir)>,
    }

    impl SaKernel for Fake {
        type Error = String;
        fn add_sa(&mut self, spec: &ChildSpec, dir: Dir) -> Result<(), String> {
            self.calls.push(("add", spec.keys(dir).spi, dir));
            if self.fail.contains(&("add", dir)) {
                return Err(format!("add {dir:?}"));
            }
            Ok(())
        }
        fn del_sa(&mut self, spec: &ChildSpec, dir: Dir) -> Result<(), String> {
            self.calls.push(("del", spec.keys(dir).spi, dir));
            if self.fail.contains(&("del", dir)) {
                return Err(format!("del {dir:?}"));
            }
            Ok(())
        }
        fn unknown(what: String) -> String {
            format!("unknown {what}")
        }
    }

    fn keys(spi: u32) -> SaKeys {
        SaKeys {
            spi,
            cipher: Cipher::AesGcm16 { key_bits: 128 },
            auth: None,
            enc_key: Zeroizing::new(vec![0; 20]),
            auth_key: Zeroizing::new(Vec::new()),
        }
    }

    fn spec(reqid: u32, spi_in: u32, spi_out: u32) -> ChildSpec {
        ChildSpec {
            reqid,
            local: "192.0.2.1:500".parse().unwrap(),
            remote: "192.0.2.2:500".parse().unwrap(),
            encap: false,
            tunnel: true,
            esn: false,
            replay_window: 32,
            inbound: keys(spi_in),
            outbound: keys(spi_out),
            local_ts: vec![TsRange::any(false)],
            remote_ts: vec![TsRange::any(false)],
            limits: Limits::default(),
            routed: true,
            if_id: (0, 0),
            selector_limit: 0,
        }
    }

    #[test]
    fn insert_get_remove_and_lookups() {
        let mut t = ChildTable::new();
        assert!(t.insert(spec(1, 0x100, 0x200), true).is_none());
        assert!(t.insert(spec(1, 0x101, 0x201), false).is_none());
        assert!(t.insert(spec(2, 0x300, 0x200), true).is_none());
        let mut spis = t.spis();
        spis.sort();
        assert_eq!(spis, vec![0x100, 0x101, 0x300]);
        assert!(t.get(0x100).unwrap().outbound_installed);
        assert!(!t.get(0x101).unwrap().outbound_installed);
        // Outbound lookups need the reqid: SPI 0x200 is in both reqids.
        assert_eq!(t.find_out(1, 0x200), Some(0x100));
        assert_eq!(t.find_out(2, 0x200), Some(0x300));
        assert_eq!(t.find_out(1, 0x201), Some(0x101));
        assert_eq!(t.find_out(2, 0x201), None);
        assert_eq!(t.find_out(1, 0x100), None, "an inbound SPI is not outbound");
        assert_eq!(t.spi_in_of(0x101), Some(0x101));
        assert_eq!(t.spi_in_of(0x201), Some(0x101));
        assert_eq!(t.spi_in_of(0x999), None);
        // Re-inserting an SPI returns the record it replaces.
        let old = t.insert(spec(1, 0x101, 0x202), true).unwrap();
        assert_eq!(old.spec.outbound.spi, 0x201);
        assert_eq!(t.find_out(1, 0x201), None);
        assert_eq!(t.find_out(1, 0x202), Some(0x101));
        let gone = t.remove(0x100).unwrap();
        assert_eq!(gone.spec.inbound.spi, 0x100);
        assert!(t.get(0x100).is_none());
        assert!(t.remove(0x100).is_none());
        assert_eq!(t.find_out(1, 0x200), None);
    }

    #[test]
    fn make_before_break_rekey() {
        let mut t = ChildTable::new();
        let mut k = Fake::default();
        // The old child sends; the new one is installed inbound-only.
        t.insert(spec(7, 0x10, 0x20), true);
        t.insert(spec(7, 0x11, 0x21), false);
        assert_eq!(
            t.get(0x11).unwrap().installed_dirs().collect::<Vec<_>>(),
            vec![Dir::In]
        );
        // The engine switches: the new one's outbound SA goes in, the old
        // one's out; activating twice adds once.
        t.activate_outbound(&mut k, 7, 0x21).unwrap();
        t.activate_outbound(&mut k, 7, 0x21).unwrap();
        t.remove_outbound(&mut k, 7, 0x20).unwrap();
        t.remove_outbound(&mut k, 7, 0x20).unwrap();
        assert_eq!(
            k.calls,
            vec![("add", 0x21, Dir::Out), ("del", 0x20, Dir::Out)]
        );
        assert!(t.get(0x11).unwrap().outbound_installed);
        assert!(!t.get(0x10).unwrap().outbound_installed);
        assert_eq!(
            t.get(0x10).unwrap().installed_dirs().collect::<Vec<_>>(),
            vec![Dir::In]
        );
        assert_eq!(
            t.get(0x11).unwrap().installed_dirs().collect::<Vec<_>>(),
            vec![Dir::In, Dir::Out]
        );
        // Deleting the old child deletes only its inbound SA.
        k.calls.clear();
        let old = t.remove(0x10).unwrap();
        assert!(old.delete_sas(&mut k).is_empty());
        assert_eq!(k.calls, vec![("del", 0x10, Dir::In)]);
        // The new one has both.
        k.calls.clear();
        let new = t.remove(0x11).unwrap();
        assert!(new.delete_sas(&mut k).is_empty());
        assert_eq!(
            k.calls,
            vec![("del", 0x11, Dir::In), ("del", 0x21, Dir::Out)]
        );
        assert!(t.spis().is_empty());
    }

    #[test]
    fn unknown_and_failing_kernel_calls() {
        let mut t = ChildTable::new();
        let mut k = Fake::default();
        assert_eq!(
            t.activate_outbound(&mut k, 1, 0xab),
            Err("unknown reqid 1 spi_out 000000ab".to_owned())
        );
        assert_eq!(t.remove_outbound(&mut k, 1, 0xab), Ok(()));
        t.insert(spec(1, 0x1, 0xab), false);
        // Wrong reqid: unknown.
        assert!(t.activate_outbound(&mut k, 2, 0xab).is_err());
        // A failed add leaves the outbound half not installed.
        k.fail.push(("add", Dir::Out));
        assert_eq!(
            t.activate_outbound(&mut k, 1, 0xab),
            Err("add Out".to_owned())
        );
        assert!(!t.get(0x1).unwrap().outbound_installed);
        k.fail.clear();
        t.activate_outbound(&mut k, 1, 0xab).unwrap();
        assert!(t.get(0x1).unwrap().outbound_installed);
        // A failed delete leaves it installed.
        k.fail.push(("del", Dir::Out));
        assert!(t.remove_outbound(&mut k, 1, 0xab).is_err());
        assert!(t.get(0x1).unwrap().outbound_installed);
        // delete_sas goes on past a failure and reports it.
        k.calls.clear();
        let errs = t.get(0x1).unwrap().delete_sas(&mut k);
        assert_eq!(errs, vec![(Dir::Out, "del Out".to_owned())]);
        assert_eq!(
            k.calls,
            vec![("del", 0x1, Dir::In), ("del", 0xab, Dir::Out)]
        );
    }

    #[test]
    fn readdress_moves_installed_halves_only() {
        let mut t = ChildTable::new();
        let mut k = Fake::default();
        t.insert(spec(3, 0x5, 0x6), false);
        let c = t.get(0x5).unwrap().clone();
        let local: SocketAddr = "198.51.100.1:4500".parse().unwrap();
        let remote: SocketAddr = "203.0.113.9:4500".parse().unwrap();
        let new = c.moved(local, remote, true);
        assert_eq!((new.local, new.remote, new.encap), (local, remote, true));
        assert_eq!(new.inbound, c.spec.inbound);
        assert_eq!(new.outbound, c.spec.outbound);
        c.readdress_sas(&mut k, &new).unwrap();
        assert_eq!(k.calls, vec![("del", 0x5, Dir::In), ("add", 0x5, Dir::In)]);
        t.set_spec(0x5, new.clone());
        assert_eq!(t.get(0x5).unwrap().spec, new);
        // Setting the spec of an unknown SPI adds nothing.
        t.set_spec(0x77, new);
        assert!(t.get(0x77).is_none());
        // With the outbound half in, both move; an error stops it.
        k.calls.clear();
        k.fail.push(("add", Dir::In));
        let mut both = c.clone();
        both.outbound_installed = true;
        assert_eq!(
            both.readdress_sas(&mut k, &both.spec.clone()),
            Err("add In".to_owned())
        );
        assert_eq!(k.calls, vec![("del", 0x5, Dir::In), ("add", 0x5, Dir::In)]);
        k.fail.clear();
        k.calls.clear();
        both.readdress_sas(&mut k, &both.spec.clone()).unwrap();
        assert_eq!(k.calls.len(), 4);
        assert_eq!(k.calls[3], ("add", 0x6, Dir::Out));
    }

    #[test]
    fn reqid_sets_go_with_their_last_user() {
        let mut s: ReqidShared<Vec<&str>> = ReqidShared::new();
        assert_eq!(s.users(9), 0);
        assert!(s.get(9).is_none());
        assert_eq!(s.release(9), None, "releasing an unknown reqid");
        s.acquire(9, vec!["a"]);
        s.acquire(9, vec!["b"]);
        s.acquire(4, vec!["x"]);
        assert_eq!(s.users(9), 2);
        assert_eq!(s.get(9), Some(&vec!["b"]), "acquire replaces the set");
        assert!(!s.add_user(5), "no set for reqid 5");
        assert_eq!(s.users(5), 0);
        assert!(s.add_user(9));
        assert_eq!(s.users(9), 3);
        assert_eq!(s.get(9), Some(&vec!["b"]), "add_user keeps the set");
        assert_eq!(s.release(9), None);
        assert_eq!(s.replace(9, vec!["c"]), Some(vec!["b"]));
        assert_eq!(s.users(9), 2, "replace keeps the users");
        assert_eq!(s.replace(5, vec!["z"]), None);
        assert!(s.get(5).is_none(), "replace adds no set");
        assert_eq!(s.release(9), None);
        assert_eq!(s.users(9), 1);
        assert_eq!(s.release(9), Some(vec!["c"]));
        assert!(s.get(9).is_none());
        assert_eq!(s.release(9), None);
        assert_eq!(s.get(4), Some(&vec!["x"]), "other reqids untouched");
    }
}
