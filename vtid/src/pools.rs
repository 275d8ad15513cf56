//! Virtual IP pools in the daemon: the file's `pools { }` and those
//! loaded over VICI, with their leases ([`aaa::Pools`]), and strongSwan's
//! VICI commands for them (`load-pool`, `unload-pool`, `get-pools`, as
//! the vici plugin's `vici_attribute.c` answers them), so that
//! `swanctl --load-pools` and `swanctl --list-pools --leases` work.
//!
//! The file's pools are synchronised on start and on every reload: a pool
//! whose addresses are unchanged keeps its leases, and one with online
//! leases is never replaced or dropped under its clients.

use aaa::{Loaded, Pools, Source};
use tracing::{info, warn};
use vici::Message;

use crate::daemon::Daemon;

/// The `get-pools` reply: a section per pool (or only `filter`) with
/// `base`, `size`, `online`, `offline` and, if `leases`, a `leases`
/// section numbering each lease's `address`, `identity` and `status`
/// (`online`/`offline`).
pub fn get_pools_message(pools: &Pools, leases: bool, filter: Option<&str>) -> Message {
    let mut m = Message::new();
    for p in pools.iter() {
        if filter.is_some_and(|f| f != p.name()) {
            continue;
        }
        let base = match p.base() {
            Some(b) => b.to_string(),
            None => p.config().addrs.to_string(),
        };
        let mut s = Message::new()
            .with_value("base", base)
            .with_value("size", p.size().to_string())
            .with_value("online", p.online().to_string())
            .with_value("offline", p.offline().to_string());
        if leases {
            let mut l = Message::new();
            for (i, lease) in p.leases().into_iter().enumerate() {
                l.push_section(
                    i.to_string(),
                    Message::new()
                        .with_value("address", lease.addr.to_string())
                        .with_value("identity", lease.identity.as_bytes())
                        .with_value("status", if lease.online { "online" } else { "offline" }),
                );
            }
            s.push_section("leases", l);
        }
        m.push_section(p.name(), s);
    }
    m
}

fn reply(err: Option<String>) -> Message {
    match err {
        None => Message::new().with_value("success", "yes"),
        Some(e) => Message::new()
            .with_value("success", "no")
            .with_value("errmsg", e),
    }
}

impl Daemon {
    /// Makes the pools the file's (start, reload), logging what could
    /// not be done.
    pub(crate) fn sync_file_pools(&mut self) {
        for note in self.pools.sync_file(&self.file_cfg.pools) {
            warn!(target: "vtid::config", "{note}");
        }
    }

    /// `load-pool`: each pool of the request, until one fails (as
    /// strongSwan's vici plugin: the reply names the failure).
    pub(crate) fn ctl_load_pool(&mut self, req: &Message) -> Message {
        let mut warnings = Vec::new();
        let pools = match vici::pools_from_load_pool(req, &mut warnings) {
            Ok(p) => p,
            Err(e) => return reply(Some(e.to_string())),
        };
        for w in &warnings {
            warn!(target: "vtid::config", "{w}");
        }
        if pools.is_empty() {
            return reply(Some("parsing request failed".into()));
        }
        for p in pools {
            let name = p.name.clone();
            let addrs = p.addrs.to_string();
            match self.pools.load(p, Source::Vici) {
                Ok(how) => {
                    let (base, size) = self
                        .pools
                        .get(&name)
                        .map(|p| (p.base().map_or(addrs.clone(), |b| b.to_string()), p.size()))
                        .unwrap_or_default();
                    let what = match how {
                        Loaded::Added => "added",
                        Loaded::Updated => "updated",
                        Loaded::Replaced => "replaced",
                    };
                    info!(target: "vtid::config", "{what} vici pool {name}: {base}, {size} entries");
                }
                Err(e) => {
                    warn!(target: "vtid::config", "loading vici pool {name} failed: {e}");
                    return reply(Some(e.to_string()));
                }
            }
        }
        reply(None)
    }

    /// `unload-pool` (`name`).
    pub(crate) fn ctl_unload_pool(&mut self, req: &Message) -> Message {
        let Some(name) = req.str("name") else {
            return reply(Some("missing pool name to unload".into()));
        };
        match self.pools.unload(name) {
            Ok(()) => {
                info!(target: "vtid::config", "unloaded vici pool {name}");
                reply(None)
            }
            Err(e) => reply(Some(e.to_string())),
        }
    }

    /// `get-pools` (`leases = yes`, `name`).
    pub(crate) fn ctl_get_pools(&self, req: &Message) -> Message {
        let leases = matches!(req.str("leases"), Some("yes" | "1" | "true"));
        get_pools_message(&self.pools, leases, req.str("name"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_pools_shape() {
        let mut pools = Pools::new();
        let p = config::load_str(
            "pools {\n rw { addrs = 10.9.0.0/24 }\n cfg { addrs = %config }\n}\n",
            "t.conf",
        )
        .unwrap()
        .config
        .pools;
        assert!(pools.sync_file(&p).is_empty());
        let names = vec!["rw".to_string()];
        let a = pools
            .acquire(
                &names,
                "alice@example.org",
                "0.0.0.0".parse().unwrap(),
                None,
            )
            .unwrap();
        pools.acquire(&names, "bob", "0.0.0.0".parse().unwrap(), None);
        assert!(pools.release(&names, a.addr, "alice@example.org", None));
        let m = get_pools_message(&pools, true, None);
        assert_eq!(m.find_str("rw.base"), Some("10.9.0.1"));
        assert_eq!(m.find_str("rw.size"), Some("254"));
        assert_eq!(m.find_str("rw.online"), Some("1"));
        assert_eq!(m.find_str("rw.offline"), Some("1"));
        assert_eq!(m.find_str("rw.leases.0.address"), Some("10.9.0.1"));
        assert_eq!(
            m.find_str("rw.leases.0.identity"),
            Some("alice@example.org")
        );
        assert_eq!(m.find_str("rw.leases.0.status"), Some("offline"));
        assert_eq!(m.find_str("rw.leases.1.status"), Some("online"));
        assert_eq!(m.find_str("cfg.base"), Some("%config"));
        assert_eq!(m.find_str("cfg.size"), Some("0"));
        let m = get_pools_message(&pools, false, Some("cfg"));
        assert!(m.section("rw").is_none());
        assert!(m.find_str("cfg.leases.0.address").is_none());
    }
}
