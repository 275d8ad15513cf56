//! The control socket: strongSwan's VICI protocol inside the daemon, so the
//! real `swanctl` (and pfSense, which drives it) and `vtictl` manage vtid.
//!
//! # Shape
//!
//! The [`vici::Server`] runs one task per client. The engine lives in the
//! daemon's event-loop task, so the [`Control`] handler never touches it
//! directly: it sends a [`Job`] (a closure over the [`Daemon`]) on a
//! bounded channel and awaits the closure's result on a oneshot. A job is
//! short (a listing, a call into the engine); waiting for an SA to come up
//! happens in the client's task, on two broadcast channels the loop feeds:
//! the engine's [`Event`]s ([`Hub`]) and the log lines that pass the log
//! filter ([`crate::logging::LogLine`]). A slow or stuck client therefore
//! never blocks the loop: the loop only ever `try_send`s to the
//! broadcasts, and the VICI server drops clients that do not read.
//!
//! # Commands
//!
//! strongSwan's (`src/libcharon/plugins/vici/README.md`) with its field
//! names: `version`, `stats`, `reload-settings`, `initiate`, `terminate`,
//! `rekey`, `list-sas`, `list-conns`, `get-conns`, `load-conn`,
//! `unload-conn`, `load-shared`, `unload-shared`, `get-shared`,
//! `clear-creds`, `load-pool`, `unload-pool`, `get-pools` (in
//! [`crate::pools`]), and the empty answers swanctl needs for what vtid
//! does not have (`get-keys`, `get-authorities`, ...). vtid's own:
//! `vtid-list-interfaces` and `vtid-list-gateways` (see
//! `vtid/README-control.md`).
//!
//! # Connections loaded over VICI
//!
//! They live next to the file's: the engine runs the file's connections
//! plus the VICI-loaded ones, converted by the same [`crate::convert`]. A
//! SIGHUP re-reads the file and keeps what VICI loaded; `get-conns`,
//! `unload-conn` and `get-shared` see only what VICI loaded (as in charon,
//! where they see only the vici plugin's own). A name can belong to one
//! side only: `load-conn` of a name the file defines is refused, and a
//! file connection whose name VICI holds is skipped with a warning.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use config::{Connection, Secret, SecretKind, SharedSecret};
use ike::engine::{AddrMatch, Event, Failure, IkeInfo, IkeSaId, PeerConfig, TsSpec};
use ike::wire::Identification;
use tokio::sync::{broadcast, mpsc, oneshot};
use tracing::{debug, info, warn};
use vici::{CommandError, EventBroadcaster, EventSink, Handler, Message, Owner, Server};

use crate::daemon::Daemon;
use crate::dataplane::{SaCounters, SaEntry};
use crate::logging::{LogHandle, LogLine};

/// Work for the event loop: runs on the [`Daemon`], in its task.
pub type Job = Box<dyn FnOnce(&mut Daemon) + Send>;

/// The event loop's side of the control socket.
#[derive(Debug)]
pub struct Hub {
    events: broadcast::Sender<Event>,
    vici: Option<EventBroadcaster>,
    /// Last known state of IKE SAs, for `ike-updown` down events.
    infos: HashMap<IkeSaId, IkeInfo>,
    started: (Instant, SystemTime),
}

impl Hub {
    /// What the hub last knew of an IKE SA (for log lines about an SA
    /// that is going away).
    pub(crate) fn known_ike(&self, id: IkeSaId) -> Option<&IkeInfo> {
        self.infos.get(&id)
    }
}

impl Default for Hub {
    fn default() -> Hub {
        Hub::new()
    }
}

impl Hub {
    /// A hub with no listeners.
    pub fn new() -> Hub {
        Hub {
            events: broadcast::channel(1024).0,
            vici: None,
            infos: HashMap::new(),
            started: (Instant::now(), SystemTime::now()),
        }
    }
}

/// Connections and secrets loaded over VICI.
#[derive(Debug, Default, Clone)]
pub struct ViciLoaded {
    /// By name, in load order.
    pub conns: Vec<Connection>,
    /// Shared secrets, by their `id` (the `name`).
    pub secrets: Vec<SharedSecret>,
    /// Certificates, CRLs, keys and authorities.
    pub creds: crate::creds::ViciCreds,
}

impl ViciLoaded {
    /// `file` with the VICI-loaded connections and secrets added; file
    /// connections whose name VICI holds are left out (noted).
    pub fn merge(&self, file: &config::Config, notes: &mut Vec<String>) -> config::Config {
        let mut cfg = file.clone();
        cfg.connections.retain(|c| {
            let taken = self.conns.iter().any(|v| v.name == c.name);
            if taken {
                notes.push(format!(
                    "connection '{}' of the configuration file is skipped: a connection of \
                     that name was loaded over VICI (unload it to use the file's)",
                    c.name
                ));
            }
            !taken
        });
        cfg.connections.extend(self.conns.iter().cloned());
        cfg.secrets.extend(self.secrets.iter().cloned());
        cfg
    }
}

/// Stops the control socket.
#[derive(Debug)]
pub struct ServerHandle {
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl ServerHandle {
    /// Closes every client and removes the socket.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), &mut self.task).await;
    }
}

fn resolve_owner(cfg: &config::Vici) -> std::io::Result<Owner> {
    use nix::unistd::{getegid, geteuid, Group, User};
    let bad = |what: &str, v: &str| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("vtid.vici.{what} = {v}: no such {what}"),
        )
    };
    let uid = match &cfg.owner {
        None => geteuid().as_raw(),
        Some(o) => match o.parse::<u32>() {
            Ok(n) => n,
            Err(_) => User::from_name(o)
                .ok()
                .flatten()
                .ok_or_else(|| bad("owner", o))?
                .uid
                .as_raw(),
        },
    };
    let gid = match &cfg.group {
        None => getegid().as_raw(),
        Some(g) => match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => Group::from_name(g)
                .ok()
                .flatten()
                .ok_or_else(|| bad("group", g))?
                .gid
                .as_raw(),
        },
    };
    Ok(Owner { uid, gid })
}

/// Binds the socket at `path` (mode and owner from `cfg`) and serves it
/// in a task of its own.
pub async fn serve(
    path: &Path,
    cfg: &config::Vici,
    jobs: mpsc::Sender<Job>,
    hub: &mut Hub,
    log: &LogHandle,
) -> std::io::Result<ServerHandle> {
    let owner = resolve_owner(cfg)?;
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() && !dir.exists() {
            std::fs::create_dir_all(dir)?;
        }
    }
    let server = Server::bind(path, cfg.mode, Some(owner)).await?;
    hub.vici = Some(server.broadcaster());
    let handler = Control {
        jobs,
        events: hub.events.clone(),
        log: log.tap(),
    };
    // The `log` event: every line that passes the filter, to the clients
    // registered for it.
    let bc = server.broadcaster();
    let mut lines = log.subscribe();
    let forward = async move {
        loop {
            match lines.recv().await {
                Ok(l) => {
                    if bc.registered("log") > 0 {
                        let _ = bc.raise("log", &log_message(&l));
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    };
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        tokio::select! {
            r = server.serve_until(handler, async { let _ = stop_rx.await; }) => {
                if let Err(e) = r {
                    warn!(target: "vtid::control", "VICI server stopped: {e}");
                }
            }
            () = forward => {}
        }
    });
    Ok(ServerHandle {
        stop: Some(stop_tx),
        task,
    })
}

fn log_message(l: &LogLine) -> Message {
    let mut m = Message::new()
        .with_value("group", l.group)
        .with_value("level", l.charon_level().to_string())
        .with_value("thread", "0");
    if let Some(c) = &l.conn {
        m.push_value("ikesa-name", c.as_bytes());
    }
    m.push_value("msg", l.message.as_bytes());
    m
}

/// The VICI command handler.
#[derive(Debug)]
pub struct Control {
    jobs: mpsc::Sender<Job>,
    events: broadcast::Sender<Event>,
    log: broadcast::Sender<Arc<LogLine>>,
}

fn failed(s: impl Into<String>) -> CommandError {
    CommandError::Failed(s.into())
}

fn success() -> Message {
    Message::new().with_value("success", "yes")
}

fn int_arg(req: &Message, key: &str) -> Result<Option<i64>, CommandError> {
    match req.str(key) {
        None => Ok(None),
        Some(s) => s
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| failed(format!("'{key}' must be a number, not '{s}'"))),
    }
}

fn yes(req: &Message, key: &str) -> bool {
    matches!(req.str(key), Some("yes" | "1" | "true"))
}

/// What `terminate` waits for.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Target {
    Ike(IkeSaId),
    Child { ike: IkeSaId, spi_in: u32 },
}

impl Control {
    async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Daemon) -> R + Send + 'static,
    ) -> Result<R, CommandError> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |d| {
            let _ = tx.send(f(d));
        });
        let gone = || failed("the daemon is shutting down");
        self.jobs.send(job).await.map_err(|_| gone())?;
        rx.await.map_err(|_| gone())
    }

    async fn initiate(&self, req: Message, sink: &EventSink) -> Result<Message, CommandError> {
        let child = req.str("child").map(str::to_owned);
        let ike = req.str("ike").map(str::to_owned);
        if child.is_none() && ike.is_none() {
            return Err(failed("missing configuration name"));
        }
        let timeout = int_arg(&req, "timeout")?.unwrap_or(0);
        let loglevel = int_arg(&req, "loglevel")?.unwrap_or(1);
        let mut logs = self.log.subscribe();
        let mut events = self.events.subscribe();
        // DNS names of remote_addrs are resolved at each initiation.
        let (i, c) = (ike.clone(), child.clone());
        if let Some((conn, specs)) = self
            .call(move |d| d.dns_for(i.as_deref(), c.as_deref()))
            .await?
        {
            let resolved = crate::daemon::resolve_names(&specs).await;
            self.call(move |d| d.apply_resolved(&conn, &specs, &resolved))
                .await?;
        }
        let (mut id, conn, child) = self
            .call(move |d| d.ctl_initiate(ike.as_deref(), child.as_deref()))
            .await??;
        let what = match &child {
            Some(c) => format!("CHILD_SA '{c}'"),
            None => format!("IKE_SA '{conn}'"),
        };
        if timeout < 0 {
            return Ok(success());
        }
        let deadline = (timeout > 0)
            .then(|| tokio::time::Instant::now() + Duration::from_millis(timeout as u64));
        let conns = BTreeSet::from([conn.clone()]);
        let outcome: Result<(), String> = loop {
            tokio::select! {
                biased;
                l = logs.recv() => {
                    if let Ok(l) = l {
                        send_log(sink, &l, &conns, loglevel).await?;
                    }
                }
                e = events.recv() => {
                    let e = match e {
                        Ok(e) => e,
                        Err(broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(broadcast::error::RecvError::Closed) => break Err("the daemon is shutting down".into()),
                    };
                    match e {
                        Event::IkeRekeyed { old, new } if old == id => id = new,
                        Event::IkeUp(i) if i.id == id && child.is_none() => break Ok(()),
                        Event::ChildUp { ike, child: c, .. } if ike == id && Some(&c.name) == child.as_ref() => break Ok(()),
                        Event::ChildDown { ike, child: c, reason, .. }
                            if ike == id && Some(&c) == child.as_ref() && reason != Failure::Replaced =>
                        {
                            break Err(format!("establishing {what} failed: {reason}"));
                        }
                        Event::IkeDown { id: i, reason, .. } if i == id => {
                            break Err(format!("establishing {what} failed: {reason}"));
                        }
                        _ => {}
                    }
                }
                () = sleep_until(deadline) => {
                    break Err(format!("{what} not established after {timeout}ms"));
                }
            }
        };
        // Lines logged before the event that ended the wait.
        while let Ok(l) = logs.try_recv() {
            send_log(sink, &l, &conns, loglevel).await?;
        }
        outcome.map(|()| success()).map_err(failed)
    }

    async fn terminate(&self, req: Message, sink: &EventSink) -> Result<Message, CommandError> {
        let sel = Selector::from(&req)?;
        if sel.is_empty() {
            return Err(failed("missing terminate selector"));
        }
        let timeout = int_arg(&req, "timeout")?.unwrap_or(0);
        let loglevel = int_arg(&req, "loglevel")?.unwrap_or(1);
        let force = yes(&req, "force");
        let mut logs = self.log.subscribe();
        let mut events = self.events.subscribe();
        let (targets, conns) = self.call(move |d| d.ctl_terminate(&sel, force)).await?;
        if targets.is_empty() {
            return Err(failed("no matching SAs to terminate found"));
        }
        let matches = targets.len();
        let mut left: Vec<Target> = targets;
        if timeout >= 0 {
            let deadline = (timeout > 0)
                .then(|| tokio::time::Instant::now() + Duration::from_millis(timeout as u64));
            while !left.is_empty() {
                tokio::select! {
                    biased;
                    l = logs.recv() => {
                        if let Ok(l) = l {
                            send_log(sink, &l, &conns, loglevel).await?;
                        }
                    }
                    e = events.recv() => match e {
                        Ok(Event::IkeDown { id, .. }) => left.retain(|t| match t {
                            Target::Ike(i) => *i != id,
                            Target::Child { ike, .. } => *ike != id,
                        }),
                        Ok(Event::ChildDown { spi_in, .. }) => {
                            left.retain(|t| !matches!(t, Target::Child { spi_in: s, .. } if *s == spi_in))
                        }
                        Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                        Err(broadcast::error::RecvError::Closed) => break,
                    },
                    () = sleep_until(deadline) => break,
                }
            }
            while let Ok(l) = logs.try_recv() {
                send_log(sink, &l, &conns, loglevel).await?;
            }
        }
        let terminated = matches - left.len();
        if timeout >= 0 && !left.is_empty() {
            return Ok(Message::new()
                .with_value("success", "no")
                .with_value("matches", matches.to_string())
                .with_value("terminated", terminated.to_string())
                .with_value(
                    "errmsg",
                    format!("terminating {} SA(s) timed out", left.len()),
                ));
        }
        Ok(success()
            .with_value("matches", matches.to_string())
            .with_value("terminated", terminated.to_string()))
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

async fn send_log(
    sink: &EventSink,
    l: &LogLine,
    conns: &BTreeSet<String>,
    loglevel: i64,
) -> Result<(), CommandError> {
    let mine = l.conn.as_ref().is_some_and(|c| conns.contains(c));
    if !mine || i64::from(l.charon_level()) > loglevel {
        return Ok(());
    }
    sink.send("control-log", &log_message(l))
        .await
        .map(|_| ())
        .map_err(|e| failed(e.to_string()))
}

/// `ike`/`ike-id`/`child`/`child-id` of `terminate` and `rekey`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Selector {
    ike: Option<String>,
    ike_id: Option<u32>,
    child: Option<String>,
    child_id: Option<u32>,
}

impl Selector {
    fn from(req: &Message) -> Result<Selector, CommandError> {
        let id = |k: &str| -> Result<Option<u32>, CommandError> {
            int_arg(req, k)?
                .map(|v| u32::try_from(v).map_err(|_| failed(format!("bad '{k}'"))))
                .transpose()
        };
        Ok(Selector {
            ike: req.str("ike").map(str::to_owned),
            ike_id: id("ike-id")?,
            child: req.str("child").map(str::to_owned),
            child_id: id("child-id")?,
        })
    }

    fn is_empty(&self) -> bool {
        self.ike.is_none()
            && self.ike_id.is_none()
            && self.child.is_none()
            && self.child_id.is_none()
    }

    fn for_children(&self) -> bool {
        self.child.is_some() || self.child_id.is_some()
    }

    fn ike_matches(&self, i: &IkeInfo) -> bool {
        self.ike.as_ref().is_none_or(|n| *n == i.conn)
            && self.ike_id.is_none_or(|u| u == i.unique_id)
    }
}

impl Handler for Control {
    async fn command(
        &self,
        command: &str,
        request: Message,
        events: &EventSink,
    ) -> Result<Message, CommandError> {
        debug!(target: "vtid::control", client = events.client_id(), command, "vici command");
        match command {
            "version" => Ok(vici::version_reply("vtid", env!("CARGO_PKG_VERSION"))),
            "stats" => self.call(|d| d.ctl_stats()).await,
            "reload-settings" => self.call(|d| d.ctl_reload_settings()).await?,
            "initiate" => self.initiate(request, events).await,
            "terminate" => self.terminate(request, events).await,
            "rekey" => {
                let sel = Selector::from(&request)?;
                if sel.is_empty() {
                    return Err(failed("missing rekey selector"));
                }
                let reauth = yes(&request, "reauth");
                let n = self.call(move |d| d.ctl_rekey(&sel, reauth)).await??;
                Ok(success().with_value("matches", n.to_string()))
            }
            "list-sas" => {
                let ike = request.str("ike").map(str::to_owned);
                let ike_id = int_arg(&request, "ike-id")?.map(|v| v as u32);
                let list = self
                    .call(move |d| d.ctl_list_sas(ike.as_deref(), ike_id))
                    .await?;
                for m in list {
                    events
                        .send("list-sa", &m)
                        .await
                        .map_err(|e| failed(e.to_string()))?;
                }
                Ok(Message::new())
            }
            "list-conns" => {
                let ike = request.str("ike").map(str::to_owned);
                let list = self.call(move |d| d.ctl_list_conns(ike.as_deref())).await?;
                for m in list {
                    events
                        .send("list-conn", &m)
                        .await
                        .map_err(|e| failed(e.to_string()))?;
                }
                Ok(Message::new())
            }
            "get-conns" => {
                let names = self
                    .call(|d| {
                        d.vici
                            .conns
                            .iter()
                            .map(|c| c.name.clone())
                            .collect::<Vec<_>>()
                    })
                    .await?;
                Ok(Message::new().with_list("conns", names))
            }
            "load-conn" => {
                let mut warnings = Vec::new();
                let conns = vici::connections_from_load_conn(&request, &mut warnings)
                    .map_err(|e| failed(e.to_string()))?;
                if conns.is_empty() {
                    return Err(failed("missing connection section"));
                }
                let warnings: Vec<String> = warnings.iter().map(|w| w.to_string()).collect();
                self.call(move |d| d.ctl_load_conns(conns, warnings))
                    .await??;
                Ok(success())
            }
            "unload-conn" => {
                let name = request
                    .str("name")
                    .ok_or_else(|| failed("missing connection name to unload"))?
                    .to_owned();
                self.call(move |d| d.ctl_unload_conn(&name)).await??;
                Ok(success())
            }
            "load-shared" => {
                let mut request = request;
                let secret = shared_from(&request);
                // The secret now lives in a Secret (wiped on drop) only.
                request.zeroize_secrets();
                let secret = secret?;
                self.call(move |d| d.ctl_load_shared(secret)).await??;
                Ok(success())
            }
            "unload-shared" => {
                let id = request
                    .str("id")
                    .ok_or_else(|| failed("unique identifier 'id' missing"))?
                    .to_owned();
                self.call(move |d| d.ctl_unload_shared(&id)).await??;
                Ok(success())
            }
            "get-shared" => {
                let ids = self
                    .call(|d| {
                        d.vici
                            .secrets
                            .iter()
                            .map(|s| s.name.clone())
                            .collect::<Vec<_>>()
                    })
                    .await?;
                Ok(Message::new().with_list("keys", ids))
            }
            "clear-creds" => {
                self.call(|d| d.ctl_clear_creds()).await??;
                Ok(success())
            }
            "load-cert" => {
                let ty = request.str("type").unwrap_or("X509").to_ascii_uppercase();
                let ca = request
                    .str("flag")
                    .is_some_and(|f| f.eq_ignore_ascii_case("CA"));
                let data = request
                    .value("data")
                    .ok_or_else(|| failed("certificate data missing"))?
                    .to_vec();
                self.call(move |d| d.ctl_load_cert(&ty, ca, data)).await??;
                Ok(success())
            }
            "load-key" => {
                let data = ike::crypto::SecretBytes::new(
                    request
                        .value("data")
                        .ok_or_else(|| failed("key data missing"))?
                        .to_vec(),
                );
                let id = self.call(move |d| d.ctl_load_key(data)).await??;
                Ok(success().with_value("id", id))
            }
            "unload-key" => {
                let id = request
                    .str("id")
                    .ok_or_else(|| failed("key id missing"))?
                    .to_owned();
                self.call(move |d| d.ctl_unload_key(&id)).await??;
                Ok(success())
            }
            "get-keys" => {
                let ids = self
                    .call(|d| {
                        d.creds
                            .lock()
                            .keys()
                            .iter()
                            .map(|k| k.id.clone())
                            .collect::<Vec<_>>()
                    })
                    .await?;
                Ok(Message::new().with_list("keys", ids))
            }
            "load-authority" => {
                let (name, sec) = request
                    .items
                    .iter()
                    .find_map(|i| match &i.value {
                        vici::message::Element::Section(m) => Some((i.name.clone(), m.clone())),
                        _ => None,
                    })
                    .ok_or_else(|| failed("missing authority section"))?;
                let cacert = sec
                    .value("cacert")
                    .ok_or_else(|| failed(format!("authority '{name}' has no cacert")))?
                    .to_vec();
                let uris: Vec<String> = sec
                    .list("crl_uris")
                    .unwrap_or_default()
                    .iter()
                    .map(|u| String::from_utf8_lossy(u).into_owned())
                    .collect();
                self.call(move |d| d.ctl_load_authority(name, cacert, uris))
                    .await??;
                Ok(success())
            }
            "unload-authority" => {
                let name = request
                    .str("name")
                    .ok_or_else(|| failed("missing authority name"))?
                    .to_owned();
                self.call(move |d| d.ctl_unload_authority(&name)).await??;
                Ok(success())
            }
            "get-authorities" => {
                let names = self
                    .call(|d| {
                        d.creds
                            .lock()
                            .authorities()
                            .iter()
                            .map(|a| a.name.clone())
                            .collect::<Vec<_>>()
                    })
                    .await?;
                Ok(Message::new().with_list("authorities", names))
            }
            "list-certs" => {
                let ty = request.str("type").map(str::to_ascii_uppercase);
                let flag = request.str("flag").map(str::to_ascii_uppercase);
                let list = self.call(|d| d.ctl_list_certs()).await?;
                for m in list.into_iter().filter(|m| {
                    ty.as_deref()
                        .is_none_or(|t| t == "ANY" || m.str("type") == Some(t))
                        && flag
                            .as_deref()
                            .is_none_or(|f| f == "ANY" || m.str("flag") == Some(f))
                }) {
                    events
                        .send("list-cert", &m)
                        .await
                        .map_err(|e| failed(e.to_string()))?;
                }
                Ok(Message::new())
            }
            "list-authorities" => {
                let name = request.str("name").map(str::to_owned);
                let list = self
                    .call(move |d| d.ctl_list_authorities(name.as_deref()))
                    .await?;
                for m in list {
                    events
                        .send("list-authority", &m)
                        .await
                        .map_err(|e| failed(e.to_string()))?;
                }
                Ok(Message::new())
            }
            "flush-certs" => {
                self.call(|d| d.ctl_flush_certs()).await?;
                Ok(success())
            }
            // What swanctl asks for that vtid does not have: nothing loaded.
            "load-pool" => Ok(self.call(move |d| d.ctl_load_pool(&request)).await?),
            "unload-pool" => Ok(self.call(move |d| d.ctl_unload_pool(&request)).await?),
            "get-pools" => Ok(self.call(move |d| d.ctl_get_pools(&request)).await?),
            "get-certs" | "list-pols" => Ok(Message::new()),
            "vtid-list-interfaces" => self.call(|d| d.ctl_interfaces()).await,
            "vtid-list-gateways" => self.call(|d| d.ctl_gateways()).await,
            "vtid-keylog" => {
                let file = request.str("file").map(str::to_string);
                if file.is_none() && !yes(&request, "off") {
                    return Err(failed("vtid-keylog needs file = DIR or off = yes"));
                }
                self.call(move |d| d.set_keylog(file.as_deref()))
                    .await?
                    .map(|dir| {
                        let mut m = success();
                        if let Some(dir) = dir {
                            m.push_value("file", dir);
                        }
                        m
                    })
                    .map_err(failed)
            }
            _ => Err(CommandError::Unknown),
        }
    }
}

fn shared_from(req: &Message) -> Result<SharedSecret, CommandError> {
    let ty = req
        .str("type")
        .ok_or_else(|| failed("shared key type missing"))?;
    let kind = match ty.to_ascii_lowercase().as_str() {
        "ike" => SecretKind::Ike,
        "eap" => SecretKind::Eap,
        "xauth" => SecretKind::Xauth,
        "ntlm" => SecretKind::Ntlm,
        "ppk" => SecretKind::Ppk,
        _ => return Err(failed(format!("invalid shared key type '{ty}'"))),
    };
    let data = req
        .value("data")
        .ok_or_else(|| failed("shared key data missing"))?;
    let ids: Vec<String> = req
        .list("owners")
        .unwrap_or_default()
        .iter()
        .map(|o| String::from_utf8_lossy(o).into_owned())
        .collect();
    let name = match req.str("id") {
        Some(id) => id.to_owned(),
        // charon makes an id from the owners when none is given.
        None => format!("{}-{}", ty.to_ascii_lowercase(), ids.join(",")),
    };
    Ok(SharedSecret {
        name,
        kind,
        ids,
        secret: Secret::new(data.to_vec()),
    })
}

// ---------------------------------------------------------------------
// The daemon's side: these run in the event loop.

impl Daemon {
    /// Engine events → the waiting commands and the VICI event streams.
    pub(crate) fn hub_event(&mut self, e: &Event) {
        if self.hub.events.receiver_count() > 0 {
            let _ = self.hub.events.send(e.clone());
        }
        let Some(bc) = self.hub.vici.clone() else {
            return;
        };
        let wanted = ["ike-updown", "child-updown", "ike-rekey", "child-rekey"]
            .iter()
            .any(|n| bc.registered(n) > 0);
        if !wanted {
            self.hub.infos.clear();
            return;
        }
        let now = Instant::now();
        let mut infos = std::mem::take(&mut self.hub.infos);
        let before: HashMap<IkeSaId, IkeInfo> = infos.clone();
        // Refresh the cache of SA states (a down SA keeps its last state).
        let current = self.ep.ike_sas();
        prune_gone_half_open(&mut infos, &current);
        for i in current {
            infos.insert(i.id, i);
        }
        let sas = self.dp.sas();
        let counters = self.dp.counters();
        let fake: BTreeSet<String> = self
            .ep
            .peers()
            .iter()
            .filter(|p| p.encap)
            .map(|p| p.name.clone())
            .collect();
        let msg = |i: &IkeInfo, only: Option<u32>| -> Message {
            ike_message(i, now, fake.contains(&i.conn), &sas, &counters, only)
        };
        self.hub_raise(
            e,
            &mut infos,
            &before,
            &msg,
            &|name: &str, m: Message| {
                let _ = bc.raise(name, &m);
            },
            now,
            &sas,
            &counters,
        );
        self.hub.infos = infos;
    }

    #[allow(clippy::too_many_arguments)]
    fn hub_raise(
        &self,
        e: &Event,
        infos: &mut HashMap<IkeSaId, IkeInfo>,
        before: &HashMap<IkeSaId, IkeInfo>,
        msg: &dyn Fn(&IkeInfo, Option<u32>) -> Message,
        raise: &dyn Fn(&str, Message),
        now: Instant,
        sas: &[SaEntry],
        counters: &[SaCounters],
    ) {
        match e {
            Event::IkeUp(i) => {
                let info = infos.get(&i.id).cloned().unwrap_or((**i).clone());
                let mut m = Message::new().with_value("up", "yes");
                m.push_section(info.conn.clone(), msg(&info, None));
                raise("ike-updown", m);
            }
            Event::IkeDown { id, conn, .. } => {
                let mut m = Message::new();
                match infos.remove(id).or_else(|| before.get(id).cloned()) {
                    Some(mut info) => {
                        info.state = "DESTROYING";
                        // Its CHILD_SAs went down before it (child-updown).
                        info.children.clear();
                        m.push_section(conn.clone(), msg(&info, None));
                    }
                    None => m.push_section(
                        conn.clone(),
                        Message::new().with_value("state", "DESTROYING"),
                    ),
                }
                raise("ike-updown", m);
            }
            Event::IkeRekeyed { old, new } => {
                if let (Some(o), Some(n)) = (before.get(old).or(infos.get(old)), infos.get(new)) {
                    let inner = Message::new()
                        .with_section("old", msg(o, None))
                        .with_section("new", msg(n, None));
                    raise(
                        "ike-rekey",
                        Message::new().with_section(n.conn.clone(), inner),
                    );
                }
                infos.remove(old);
            }
            Event::ChildUp { ike, conn, child } => {
                if let Some(info) = infos.get(ike) {
                    let mut m = Message::new().with_value("up", "yes");
                    m.push_section(conn.clone(), msg(info, Some(child.unique_id)));
                    raise("child-updown", m);
                }
            }
            Event::ChildDown {
                ike,
                conn,
                child,
                spi_in,
                spi_out,
                ..
            } => {
                let info = before.get(ike).or(infos.get(ike)).cloned();
                let mut ikem = match &info {
                    Some(i) => {
                        let mut i = i.clone();
                        i.children.clear();
                        msg(&i, None)
                    }
                    None => Message::new(),
                };
                // The child as it was (from the cache), else what we know.
                let old = info
                    .as_ref()
                    .and_then(|i| i.children.iter().find(|c| c.spi_in == *spi_in).cloned());
                let mut children = Message::new();
                let cm = match old {
                    Some(mut c) => {
                        c.state = "DELETED";
                        child_message(&c, now, sas, counters)
                    }
                    None => Message::new()
                        .with_value("name", child.as_str())
                        .with_value("state", "DELETED")
                        .with_value("spi-in", format!("{spi_in:08x}"))
                        .with_value("spi-out", format!("{spi_out:08x}")),
                };
                children.push_section(format!("{child}-{spi_in:08x}"), cm);
                strip_child_sas(&mut ikem);
                ikem.push_section("child-sas", children);
                raise(
                    "child-updown",
                    Message::new().with_section(conn.clone(), ikem),
                );
            }
            Event::ChildRekeyed {
                ike,
                child,
                old_spi_in,
                new_spi_in,
            } => {
                let Some(info) = infos.get(ike).cloned() else {
                    return;
                };
                let old = before
                    .get(ike)
                    .and_then(|i| i.children.iter().find(|c| c.spi_in == *old_spi_in).cloned());
                let new = info
                    .children
                    .iter()
                    .find(|c| c.spi_in == *new_spi_in)
                    .cloned();
                let mut pair = Message::new();
                if let Some(o) = old {
                    pair.push_section("old", child_message(&o, now, sas, counters));
                }
                if let Some(n) = new {
                    pair.push_section("new", child_message(&n, now, sas, counters));
                }
                let mut i = info.clone();
                i.children.clear();
                let mut ikem = msg(&i, None);
                strip_child_sas(&mut ikem);
                ikem.push_section(
                    "child-sas",
                    Message::new().with_section(child.clone(), pair),
                );
                raise(
                    "child-rekey",
                    Message::new().with_section(info.conn.clone(), ikem),
                );
            }
        }
    }

    fn ike_message(
        &self,
        i: &IkeInfo,
        now: Instant,
        sas: &[SaEntry],
        counters: &[SaCounters],
        only: Option<u32>,
    ) -> Message {
        let fake = self
            .ep
            .peers()
            .iter()
            .find(|p| p.name == i.conn)
            .is_some_and(|p| p.encap);
        ike_message(i, now, fake, sas, counters, only)
    }

    pub(crate) fn ctl_initiate(
        &mut self,
        ike: Option<&str>,
        child: Option<&str>,
    ) -> Result<(IkeSaId, String, Option<String>), CommandError> {
        let conn = match (ike, child) {
            (Some(c), _) => c.to_owned(),
            (None, Some(ch)) => self
                .ep
                .peers()
                .iter()
                .find(|p| p.children.iter().any(|c| c.name == ch))
                .map(|p| p.name.clone())
                .ok_or_else(|| failed(format!("CHILD_SA config '{ch}' not found")))?,
            (None, None) => return Err(failed("missing configuration name")),
        };
        let Some(peer) = self.ep.peers().iter().find(|p| p.name == conn).cloned() else {
            return Err(failed(format!("IKE_SA config '{conn}' not found")));
        };
        let child = match child {
            Some(c) if !peer.children.iter().any(|x| x.name == c) => {
                return Err(failed(format!("CHILD_SA config '{c}' not found")))
            }
            Some(c) => Some(c.to_owned()),
            // vtid always brings a child up with IKE_AUTH: the first one.
            None => None,
        };
        self.set_source(&conn);
        let first = peer.children.first().map(|c| c.name.clone());
        let id = self
            .ep
            .initiate(Instant::now(), &conn, child.as_deref().or(first.as_deref()))
            .map_err(|e| failed(format!("initiating '{conn}' failed: {e}")))?;
        info!(target: "vtid::control", conn = %conn, "initiate {conn}/{} over VICI (IKE_SA {id})", child.as_deref().or(first.as_deref()).unwrap_or("-"));
        Ok((id, conn, child))
    }

    fn ctl_terminate(&mut self, sel: &Selector, force: bool) -> (Vec<Target>, BTreeSet<String>) {
        let now = Instant::now();
        let mut targets = Vec::new();
        let mut conns = BTreeSet::new();
        for i in self.ep.ike_sas() {
            if !sel.ike_matches(&i) {
                continue;
            }
            if sel.for_children() {
                for c in &i.children {
                    let ok = sel.child.as_ref().is_none_or(|n| *n == c.name)
                        && sel.child_id.is_none_or(|u| u == c.unique_id);
                    if ok && self.ep.terminate_child(now, c.spi_in).is_ok() {
                        conns.insert(i.conn.clone());
                        targets.push(Target::Child {
                            ike: i.id,
                            spi_in: c.spi_in,
                        });
                    }
                }
            } else if self.ep.terminate_ike(now, i.id).is_ok() {
                conns.insert(i.conn.clone());
                targets.push(Target::Ike(i.id));
            }
        }
        if force && !targets.is_empty() {
            debug!(target: "vtid::control", "terminate: 'force' is accepted; vtid sends the DELETE and gives up after its retransmissions");
        }
        (targets, conns)
    }

    fn ctl_rekey(&mut self, sel: &Selector, reauth: bool) -> Result<usize, CommandError> {
        if reauth {
            return Err(failed(
                "reauthentication on request is not supported by vtid yet (it reauthenticates on reauth_time)",
            ));
        }
        let now = Instant::now();
        let mut n = 0;
        for i in self.ep.ike_sas() {
            if !sel.ike_matches(&i) {
                continue;
            }
            if sel.for_children() {
                for c in &i.children {
                    let ok = sel.child.as_ref().is_none_or(|x| *x == c.name)
                        && sel.child_id.is_none_or(|u| u == c.unique_id)
                        && c.state == "INSTALLED";
                    if ok && self.ep.rekey_child(now, c.spi_in).is_ok() {
                        n += 1;
                    }
                }
            } else if self.ep.rekey_ike(now, i.id).is_ok() {
                n += 1;
            }
        }
        if n == 0 {
            return Err(failed("no matching SAs to rekey found"));
        }
        Ok(n)
    }

    fn ctl_list_sas(&self, ike: Option<&str>, ike_id: Option<u32>) -> Vec<Message> {
        let now = Instant::now();
        let sas = self.dp.sas();
        let counters = self.dp.counters();
        self.ep
            .ike_sas()
            .iter()
            .filter(|i| ike.is_none_or(|n| n == i.conn) && ike_id.is_none_or(|u| u == i.unique_id))
            .map(|i| {
                Message::new().with_section(
                    i.conn.clone(),
                    self.ike_message(i, now, &sas, &counters, None),
                )
            })
            .collect()
    }

    pub(crate) fn merged(&self) -> config::Config {
        self.vici.merge(&self.file_cfg, &mut Vec::new())
    }

    fn ctl_list_conns(&self, ike: Option<&str>) -> Vec<Message> {
        let cfg = self.merged();
        self.ep
            .peers()
            .iter()
            .filter(|p| ike.is_none_or(|n| n == p.name))
            .map(|p| {
                Message::new().with_section(
                    p.name.clone(),
                    conn_message(p, cfg.connections.iter().find(|c| c.name == p.name)),
                )
            })
            .collect()
    }

    fn ctl_load_conns(
        &mut self,
        conns: Vec<Connection>,
        parse_warnings: Vec<String>,
    ) -> Result<(), CommandError> {
        for c in &conns {
            if self.file_cfg.connections.iter().any(|f| f.name == c.name) {
                return Err(failed(format!(
                    "connection '{}' is defined in {}; it cannot be replaced over VICI",
                    c.name,
                    self.opts.config.display()
                )));
            }
        }
        for w in &parse_warnings {
            warn!(target: "vtid::convert", "vici load-conn: {w}");
        }
        let previous = self.vici.conns.clone();
        for c in &conns {
            match self.vici.conns.iter_mut().find(|x| x.name == c.name) {
                Some(slot) => *slot = c.clone(),
                None => self.vici.conns.push(c.clone()),
            }
        }
        let conv = match self.convert_merged() {
            Ok(c) => c,
            Err(e) => {
                self.vici.conns = previous;
                return Err(failed(e));
            }
        };
        for c in &conns {
            if !conv.peers.iter().any(|p| p.name == c.name) {
                let why: Vec<String> = conv
                    .warnings
                    .iter()
                    .filter(|w| w.conn.as_deref() == Some(c.name.as_str()))
                    .map(|w| w.message.clone())
                    .collect();
                self.vici.conns = previous;
                return Err(failed(if why.is_empty() {
                    format!("connection '{}' cannot be loaded", c.name)
                } else {
                    why.join("; ")
                }));
            }
        }
        let names: Vec<&str> = conns.iter().map(|c| c.name.as_str()).collect();
        info!(target: "vtid::control", "loaded connection(s) {} over VICI", names.join(", "));
        self.install(conv);
        Ok(())
    }

    fn ctl_unload_conn(&mut self, name: &str) -> Result<(), CommandError> {
        let Some(pos) = self.vici.conns.iter().position(|c| c.name == name) else {
            return Err(failed(format!("connection '{name}' not found")));
        };
        let removed = self.vici.conns.remove(pos);
        match self.convert_merged() {
            Ok(conv) => {
                // The engine deletes the SAs of connections that are gone.
                self.install(conv);
                info!(target: "vtid::control", "unloaded connection {name} over VICI");
                Ok(())
            }
            Err(e) => {
                self.vici.conns.insert(pos, removed);
                Err(failed(e))
            }
        }
    }

    fn reapply_creds(&mut self, previous: Vec<SharedSecret>) -> Result<(), CommandError> {
        match self.convert_merged() {
            Ok(conv) => {
                self.install(conv);
                Ok(())
            }
            Err(e) => {
                self.vici.secrets = previous;
                Err(failed(e))
            }
        }
    }

    fn ctl_load_shared(&mut self, secret: SharedSecret) -> Result<(), CommandError> {
        // Never log the secret itself.
        info!(target: "vtid::control", "loaded {:?} shared secret '{}' for {} identit(ies) over VICI", secret.kind, secret.name, secret.ids.len());
        let previous = self.vici.secrets.clone();
        self.vici.secrets.retain(|s| s.name != secret.name);
        self.vici.secrets.push(secret);
        self.reapply_creds(previous)
    }

    fn ctl_unload_shared(&mut self, id: &str) -> Result<(), CommandError> {
        let previous = self.vici.secrets.clone();
        self.vici.secrets.retain(|s| s.name != id);
        if self.vici.secrets.len() == previous.len() {
            return Err(failed(format!("shared secret '{id}' not found")));
        }
        info!(target: "vtid::control", "unloaded shared secret '{id}' over VICI");
        self.reapply_creds(previous)
    }

    fn ctl_load_cert(&mut self, ty: &str, ca: bool, data: Vec<u8>) -> Result<(), CommandError> {
        match ty {
            "X509" => {
                let c = pki::Certificate::from_file_bytes(&data)
                    .map_err(|e| failed(format!("parsing certificate failed: {e}")))?;
                info!(target: "vtid::control", "loaded certificate '{}'{} over VICI", c.subject_string(), if ca { " as CA" } else { "" });
                self.vici.creds.certs.push((c.der().to_vec(), ca));
                let mut s = self.creds.lock();
                if ca {
                    s.add_ca(c);
                } else {
                    s.add_cert(c);
                }
                Ok(())
            }
            "X509_CRL" => {
                let c = pki::Crl::from_file_bytes(&data)
                    .map_err(|e| failed(format!("parsing CRL failed: {e}")))?;
                info!(target: "vtid::control", "loaded CRL of '{}' over VICI", pki::dn::to_string(&c.issuer));
                self.vici.creds.crls.push(c.der().to_vec());
                self.creds.lock().add_crl(c);
                Ok(())
            }
            other => Err(failed(format!(
                "certificate type {other} is not supported by vtid (X509, X509_CRL)"
            ))),
        }
    }

    fn ctl_load_key(&mut self, data: ike::crypto::SecretBytes) -> Result<String, CommandError> {
        let k = ike::crypto::sig::PrivateKey::from_file_bytes(data.as_bytes(), &[])
            .map_err(|e| failed(format!("loading private key failed: {e}")))?;
        let ty = k.key_type();
        let id = self.creds.lock().add_key(k);
        info!(target: "vtid::control", "loaded {ty} private key {id} over VICI");
        self.vici.creds.keys.retain(|(i, _)| *i != id);
        self.vici.creds.keys.push((id.clone(), data));
        Ok(id)
    }

    fn ctl_unload_key(&mut self, id: &str) -> Result<(), CommandError> {
        self.vici
            .creds
            .keys
            .retain(|(i, _)| !i.eq_ignore_ascii_case(id));
        if !self.creds.lock().remove_key(id) {
            return Err(failed(format!("key '{id}' not found")));
        }
        info!(target: "vtid::control", "unloaded private key {id}");
        Ok(())
    }

    fn ctl_load_authority(
        &mut self,
        name: String,
        cacert: Vec<u8>,
        uris: Vec<String>,
    ) -> Result<(), CommandError> {
        let c = pki::Certificate::from_file_bytes(&cacert)
            .map_err(|e| failed(format!("authority '{name}': cacert: {e}")))?;
        info!(target: "vtid::control", "loaded authority '{name}' ('{}', {} CRL URI(s))", c.subject_string(), uris.len());
        self.vici.creds.authorities.retain(|(n, _, _)| *n != name);
        self.vici
            .creds
            .authorities
            .push((name.clone(), c.der().to_vec(), uris.clone()));
        self.creds.lock().add_authority(pki::Authority {
            name,
            cert: Arc::new(c),
            crl_uris: uris,
        });
        Ok(())
    }

    fn ctl_unload_authority(&mut self, name: &str) -> Result<(), CommandError> {
        self.vici.creds.authorities.retain(|(n, _, _)| n != name);
        if !self.creds.lock().remove_authority(name) {
            return Err(failed(format!("authority '{name}' not found")));
        }
        Ok(())
    }

    /// `list-cert` events: each certificate and CRL, as strongSwan's VICI
    /// plugin sends them (type, flag, has_privkey, DER data).
    pub(crate) fn ctl_list_certs(&self) -> Vec<Message> {
        let s = self.creds.lock();
        let mut out = Vec::new();
        for (c, ca) in s
            .cas()
            .iter()
            .map(|c| (c, true))
            .chain(s.certs().iter().map(|c| (c, false)))
        {
            let mut m = Message::new()
                .with_value("type", "X509")
                .with_value("flag", if ca && c.is_ca { "CA" } else { "NONE" });
            if s.private_key_for(&c.public_key).is_some() {
                m = m.with_value("has_privkey", "yes");
            }
            out.push(m.with_value("data", c.der().to_vec()));
        }
        for crl in s.crls() {
            out.push(
                Message::new()
                    .with_value("type", "X509_CRL")
                    .with_value("flag", "NONE")
                    .with_value("data", crl.der().to_vec()),
            );
        }
        out
    }

    /// `list-authority` events.
    pub(crate) fn ctl_list_authorities(&self, name: Option<&str>) -> Vec<Message> {
        let s = self.creds.lock();
        s.authorities()
            .iter()
            .filter(|a| name.is_none_or(|n| n == a.name))
            .map(|a| {
                Message::new().with_section(
                    &a.name,
                    Message::new()
                        .with_value("cacert", a.cert.subject_string())
                        .with_list("crl_uris", a.crl_uris.clone())
                        .with_list("ocsp_uris", Vec::<Vec<u8>>::new()),
                )
            })
            .collect()
    }

    fn ctl_flush_certs(&mut self) {
        self.vici.creds.certs.clear();
        self.vici.creds.crls.clear();
        self.creds.lock().flush_certs();
    }

    fn ctl_clear_creds(&mut self) -> Result<(), CommandError> {
        // strongSwan's clear-creds: everything loaded over VICI.
        self.vici.creds = Default::default();
        crate::creds::reload(&self.creds, &self.file_cfg, &self.vici.creds);
        let previous = std::mem::take(&mut self.vici.secrets);
        info!(target: "vtid::control", "cleared {} shared secret(s) loaded over VICI", previous.len());
        self.reapply_creds(previous)
    }

    fn ctl_stats(&self) -> Message {
        let s = self.ep.stats();
        let esp = self.dp.esp_drops();
        let load = |c: &std::sync::atomic::AtomicU64| {
            c.load(std::sync::atomic::Ordering::Relaxed).to_string()
        };
        let (since_i, since_t) = self.hub.started;
        let running = since_i.elapsed().as_secs();
        let mut plugins = vec![
            "vici".to_string(),
            format!("dataplane-{}", self.dp.name()),
            "psk".to_string(),
            "nat-t".to_string(),
            "ikev2-fragmentation".to_string(),
        ];
        plugins.sort();
        Message::new()
            .with_section(
                "uptime",
                Message::new()
                    .with_value("running", time_delta(running))
                    .with_value("since", format_time(since_t)),
            )
            // One event-loop task does all IKE work (tokio current-thread).
            .with_section(
                "workers",
                Message::new()
                    .with_value("total", "1")
                    .with_value("idle", "0")
                    .with_section(
                        "active",
                        Message::new()
                            .with_value("critical", "0")
                            .with_value("high", "0")
                            .with_value("medium", "1")
                            .with_value("low", "0"),
                    ),
            )
            .with_section(
                "queues",
                Message::new()
                    .with_value("critical", "0")
                    .with_value("high", "0")
                    .with_value("medium", self.jobs_queued().to_string())
                    .with_value("low", "0"),
            )
            .with_value(
                "scheduled",
                u8::from(self.ep.poll_timeout().is_some()).to_string(),
            )
            .with_section(
                "ikesas",
                Message::new()
                    .with_value("total", s.ike_sas.to_string())
                    .with_value("half-open", s.half_open.to_string()),
            )
            .with_list("plugins", plugins)
            .with_section(
                "vtid",
                Message::new()
                    .with_value("dataplane", self.dp.name())
                    .with_value("connections", self.ep.peers().len().to_string())
                    .with_value("child-sas-installed", self.dp.sas().len().to_string())
                    .with_value("malformed", s.malformed.to_string())
                    .with_value("unknown-spi", s.unknown_spi.to_string())
                    .with_value("cookies-sent", s.cookies_sent.to_string())
                    .with_value("init-dropped", s.init_dropped.to_string())
                    .with_value("ike-sa-init-received", s.init_received.to_string())
                    .with_value("retransmits", s.retransmits.to_string())
                    .with_value("responses-resent", s.responses_resent.to_string())
                    .with_value("dpd-timeouts", s.dpd_timeouts.to_string())
                    .with_value("ike-overflow", load(&self.net_stats.overflow))
                    .with_value("ike-init-overflow", load(&self.net_stats.init_overflow))
                    .with_value("esp-unknown-spi", esp.unknown_spi.to_string())
                    .with_value("esp-socket-overflow", esp.socket_overflow.to_string())
                    .with_value("send-errors", self.send_errors.to_string()),
            )
    }

    fn ctl_reload_settings(&mut self) -> Result<Message, CommandError> {
        let loaded = config::load_files(&self.opts.config, self.opts.strongswan_conf.as_deref())
            .map_err(|e| {
                failed(format!(
                    "reloading {} failed: {e}",
                    self.opts.config.display()
                ))
            })?;
        let d = &loaded.config.daemon;
        self.log.apply(d, false);
        let mut not_applied = Vec::new();
        let mut w = Vec::new();
        let engine = crate::convert::engine_config(d, &mut w);
        if format!("{engine:?}") != format!("{:?}", self.engine_cfg) {
            not_applied.push(
                "vtid { } engine settings (port, port_nat_t, retransmit_*, cookie_threshold, \
                 init_limit_half_open, keep_alive, ...) take effect after a restart"
                    .to_string(),
            );
        }
        if d.vici != self.file_cfg.daemon.vici {
            not_applied
                .push("vtid.vici (socket, mode, owner, group) takes effect after a restart".into());
        }
        if d.dataplane != self.file_cfg.daemon.dataplane {
            not_applied.push("vtid.dataplane takes effect after a restart".into());
        }
        if d.reqid_base != self.file_cfg.daemon.reqid_base {
            not_applied.push("vtid.reqid_base takes effect after a restart".into());
        }
        self.file_cfg.daemon.log = d.log.clone();
        self.file_cfg.daemon.filelog = d.filelog.clone();
        self.file_cfg.daemon.syslog = d.syslog.clone();
        info!(target: "vtid::control", "reload-settings: log levels applied{}", if not_applied.is_empty() { String::new() } else { format!("; not applied live: {}", not_applied.join("; ")) });
        for n in &not_applied {
            warn!(target: "vtid::control", "reload-settings: {n}");
        }
        let mut m = success().with_list("applied", ["log"]);
        if !not_applied.is_empty() {
            m.push_list("not-applied", not_applied);
        }
        Ok(m)
    }

    fn ctl_interfaces(&self) -> Message {
        let now = Instant::now();
        let sas = self.dp.sas();
        let counters = self.dp.counters();
        let drops = self.dp.interface_counters();
        let mut out = Message::new();
        let interfaces = &self.merged().interfaces;
        for iface in interfaces {
            let mine = sas_of(interfaces, iface, &sas);
            let carrying = mine
                .iter()
                .find(|e| e.outbound_active)
                .or_else(|| mine.last())
                .copied();
            let mut m = Message::new()
                .with_value("reqid", iface.reqid.to_string())
                .with_value("state", if carrying.is_some() { "up" } else { "down" })
                .with_list(
                    "local-addrs",
                    iface
                        .local_addrs
                        .iter()
                        .map(|a| format!("{}/{}", a.addr, a.prefix)),
                )
                .with_list(
                    "remote-addrs",
                    iface.remote_addrs.iter().map(IpAddr::to_string),
                )
                .with_list(
                    "routes",
                    iface
                        .routes
                        .iter()
                        .map(|a| format!("{}/{}", a.addr, a.prefix)),
                )
                .with_value("route-metric", iface.route_metric.to_string())
                .with_value("mtu", iface.mtu.to_string())
                .with_value("sas-installed", mine.len().to_string());
            if let Some(d) = &iface.description {
                m.push_value("description", d.as_bytes());
            }
            let sum = sum_counters(&mine, &counters);
            m.push_value("bytes-in", sum.bytes_in.to_string());
            m.push_value("packets-in", sum.packets_in.to_string());
            m.push_value("bytes-out", sum.bytes_out.to_string());
            m.push_value("packets-out", sum.packets_out.to_string());
            m.push_value("replay-drops", sum.replay_drops.to_string());
            m.push_value("auth-failures", sum.auth_failures.to_string());
            m.push_value("selector-violations", sum.ts_violations.to_string());
            if let Some(d) = drops.iter().find(|d| d.name == iface.name) {
                m.push_value("no-sa-drops", d.no_sa_drops.to_string());
                m.push_value("too-big", d.too_big.to_string());
                m.push_value("malformed", d.malformed.to_string());
                m.push_value("send-errors", d.send_errors.to_string());
                m.push_value("tun-write-errors", d.tun_write_errors.to_string());
            }
            if let Some(e) = carrying {
                let mut sa = Message::new()
                    .with_value("conn", e.conn.as_str())
                    .with_value("child", e.child.as_str())
                    .with_value("spi-in", format!("{:08x}", e.spi_in))
                    .with_value("spi-out", format!("{:08x}", e.spi_out))
                    .with_value("suite", e.suite.as_str())
                    .with_value("local-host", e.local.to_string())
                    .with_value("remote-host", e.remote.to_string())
                    .with_value("encap", if e.encap { "yes" } else { "no" });
                if let Some(c) = counters.iter().find(|c| c.spi_in == e.spi_in) {
                    if let Some(t) = c.last_in {
                        sa.push_value(
                            "use-in",
                            now.saturating_duration_since(t).as_secs().to_string(),
                        );
                    }
                }
                m.push_section("sa", sa);
            }
            out.push_section(iface.name.clone(), m);
        }
        Message::new()
            .with_value("dataplane", self.dp.name())
            .with_section("interfaces", out)
    }

    /// `vtid-list-gateways`: every automatic gateway (one per interface and
    /// family), with its monitor's state, loss and latency.
    fn ctl_gateways(&self) -> Message {
        let mut out = Message::new();
        let running = self.gateways();
        for g in &running {
            let mut m = Message::new()
                .with_value("interface", g.interface.as_str())
                .with_value("gateway", g.gateway.to_string())
                .with_value(
                    "monitor",
                    g.monitor
                        .map_or_else(|| "off".to_string(), |a| a.to_string()),
                )
                .with_value("status", g.state.to_string())
                .with_value("loss", format!("{:.0}%", g.loss_percent))
                .with_value("sent", g.sent.to_string())
                .with_value("received", g.received.to_string())
                .with_value("reason", g.reason.as_str());
            if let Some(r) = g.rtt_avg {
                m.push_value("latency", format!("{:.1}ms", r.as_secs_f64() * 1000.0));
            }
            if let Some(r) = g.rtt_stddev {
                m.push_value("stddev", format!("{:.1}ms", r.as_secs_f64() * 1000.0));
            }
            if let Ok(d) = g.last_change.duration_since(std::time::UNIX_EPOCH) {
                m.push_value("since", d.as_secs().to_string());
            }
            if let Some(e) = &g.error {
                m.push_value("error", e.as_str());
            }
            out.push_section(g.name.clone(), m);
        }
        let mut reply = Message::new();
        if running.is_empty() && !self.merged().interfaces.is_empty() {
            reply.push_value(
                "note",
                format!(
                    "gateway monitoring runs with the userspace data plane; this daemon uses '{}'",
                    self.dp.name()
                ),
            );
        }
        reply.push_section("gateways", out);
        reply
    }

    fn jobs_queued(&self) -> usize {
        self.jobs_len()
    }
}

fn strip_child_sas(m: &mut Message) {
    m.items.retain(|i| i.name != "child-sas");
}

// ---------------------------------------------------------------------
// Message builders (strongSwan's field names and formats).

/// The algorithms of a proposal name like `AES_GCM_16_128/PRF_HMAC_SHA2_256/ECP_256`.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Algs {
    pub encr: Option<String>,
    pub encr_keysize: Option<String>,
    pub integ: Option<String>,
    pub prf: Option<String>,
    pub dh: Option<String>,
    pub esn: bool,
}

pub(crate) fn split_proposal(p: &str) -> Algs {
    let mut a = Algs::default();
    for (n, part) in p.split('/').filter(|s| !s.is_empty()).enumerate() {
        if n == 0 {
            match part.rsplit_once('_') {
                Some((alg, bits)) if bits.parse::<u32>().is_ok_and(|b| b >= 64) => {
                    a.encr = Some(alg.to_string());
                    a.encr_keysize = Some(bits.to_string());
                }
                _ => a.encr = Some(part.to_string()),
            }
        } else if part.starts_with("PRF_") {
            a.prf = Some(part.to_string());
        } else if part.starts_with("HMAC_")
            || part.starts_with("AES_XCBC")
            || part.starts_with("AES_CMAC")
        {
            a.integ = Some(part.to_string());
        } else if part == "EXT_SEQ" {
            a.esn = true;
        } else if part == "NO_EXT_SEQ" {
        } else {
            a.dh = Some(part.to_string());
        }
    }
    a
}

fn hexs(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn hex8(b: &[u8; 8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn secs_since(now: Instant, t: Instant) -> String {
    now.saturating_duration_since(t).as_secs().to_string()
}

fn secs_until(now: Instant, t: Instant) -> String {
    t.saturating_duration_since(now).as_secs().to_string()
}

fn push_algs(m: &mut Message, a: &Algs) {
    if let Some(e) = &a.encr {
        m.push_value("encr-alg", e.as_bytes());
    }
    if let Some(k) = &a.encr_keysize {
        m.push_value("encr-keysize", k.as_bytes());
    }
    if let Some(i) = &a.integ {
        m.push_value("integ-alg", i.as_bytes());
    }
    if let Some(p) = &a.prf {
        m.push_value("prf-alg", p.as_bytes());
    }
    if let Some(d) = &a.dh {
        m.push_value("dh-group", d.as_bytes());
    }
}

/// One IKE SA as `list-sa` shows it; `only` limits `child-sas` to one
/// CHILD SA (for `child-updown`).
pub(crate) fn ike_message(
    i: &IkeInfo,
    now: Instant,
    nat_fake: bool,
    sas: &[SaEntry],
    counters: &[SaCounters],
    only: Option<u32>,
) -> Message {
    let mut m = Message::new()
        .with_value("uniqueid", i.unique_id.to_string())
        .with_value("version", "2")
        .with_value("state", i.state)
        .with_value("local-host", i.local.ip().to_string())
        .with_value("local-port", i.local.port().to_string())
        .with_value("local-id", i.local_id.as_str())
        .with_value("remote-host", i.remote.ip().to_string())
        .with_value("remote-port", i.remote.port().to_string())
        .with_value("remote-id", i.remote_id.as_str());
    // charon adds these flags only when set.
    if i.initiator {
        m.push_value("initiator", "yes");
    }
    m.push_value("initiator-spi", hex8(&i.spi_i));
    m.push_value("responder-spi", hex8(&i.spi_r));
    if i.nat_local {
        m.push_value("nat-local", "yes");
    }
    if i.nat_remote {
        m.push_value("nat-remote", "yes");
    }
    if nat_fake {
        m.push_value("nat-fake", "yes");
    }
    if i.nat_local || i.nat_remote || nat_fake {
        m.push_value("nat-any", "yes");
    }
    push_algs(&mut m, &split_proposal(&i.proposal));
    if let Some(t) = i.established_at {
        m.push_value("established", secs_since(now, t));
    }
    if let Some(t) = i.rekey_at {
        m.push_value("rekey-time", secs_until(now, t));
    }
    if let Some(t) = i.reauth_at {
        m.push_value("reauth-time", secs_until(now, t));
    }
    let mut children = Message::new();
    for c in &i.children {
        if only.is_some_and(|u| u != c.unique_id) {
            continue;
        }
        children.push_section(
            format!("{}-{}", c.name, c.unique_id),
            child_message(c, now, sas, counters),
        );
    }
    m.push_section("child-sas", children);
    m
}

/// The SAs interface `iface` carries: bound by reqid or by if_id, as the
/// data planes decide ([`config::interface_for`]).
pub(crate) fn sas_of<'a>(
    interfaces: &[config::Interface],
    iface: &config::Interface,
    sas: &'a [SaEntry],
) -> Vec<&'a SaEntry> {
    sas.iter()
        .filter(|e| {
            config::interface_for(interfaces, e.reqid, e.if_id)
                .is_some_and(|i| i.reqid == iface.reqid)
        })
        .collect()
}

/// The traffic and drop counters of `sas`, summed.
pub(crate) fn sum_counters(sas: &[&SaEntry], counters: &[SaCounters]) -> SaCounters {
    let mut sum = SaCounters::default();
    for e in sas {
        if let Some(c) = counters.iter().find(|c| c.spi_in == e.spi_in) {
            sum.add(c);
        }
    }
    sum
}

pub(crate) fn child_message(
    c: &ike::engine::ChildInfo,
    now: Instant,
    sas: &[SaEntry],
    counters: &[SaCounters],
) -> Message {
    let entry = sas.iter().find(|e| e.spi_in == c.spi_in);
    let mode = match entry.map(|e| e.mode) {
        Some(ike::engine::Mode::Transport) => "TRANSPORT",
        _ => "TUNNEL",
    };
    let mut m = Message::new()
        .with_value("name", c.name.as_str())
        .with_value("uniqueid", c.unique_id.to_string())
        .with_value("reqid", c.reqid.to_string())
        .with_value("state", c.state)
        .with_value("mode", mode)
        .with_value("protocol", "ESP");
    if c.encap {
        m.push_value("encap", "yes");
    }
    m.push_value("spi-in", format!("{:08x}", c.spi_in));
    m.push_value("spi-out", format!("{:08x}", c.spi_out));
    let a = split_proposal(&c.proposal);
    push_algs(&mut m, &a);
    if c.esn || a.esn {
        m.push_value("esn", "1");
    }
    let k = counters
        .iter()
        .find(|k| k.spi_in == c.spi_in)
        .cloned()
        .unwrap_or_default();
    m.push_value("bytes-in", k.bytes_in.to_string());
    m.push_value("packets-in", k.packets_in.to_string());
    if let Some(t) = k.last_in {
        m.push_value("use-in", secs_since(now, t));
    }
    m.push_value("bytes-out", k.bytes_out.to_string());
    m.push_value("packets-out", k.packets_out.to_string());
    if let Some(t) = k.last_out {
        m.push_value("use-out", secs_since(now, t));
    }
    // vtid's own (swanctl shows none of them): inbound ESP this SA dropped.
    m.push_value("replay-drops", k.replay_drops.to_string());
    m.push_value("auth-failures", k.auth_failures.to_string());
    m.push_value("selector-violations", k.ts_violations.to_string());
    if let Some(t) = c.rekey_at {
        m.push_value("rekey-time", secs_until(now, t));
    }
    if let Some(t) = c.expires_at {
        m.push_value("life-time", secs_until(now, t));
    }
    m.push_value("install-time", secs_since(now, c.installed_at));
    m.push_list("local-ts", c.local_ts.iter().map(|t| t.to_string()));
    m.push_list("remote-ts", c.remote_ts.iter().map(|t| t.to_string()));
    m
}

fn addr_text(a: &AddrMatch) -> String {
    match a {
        AddrMatch::Any => "%any".into(),
        AddrMatch::Any4 => "%any4".into(),
        AddrMatch::Any6 => "%any6".into(),
        AddrMatch::Addr(a) => a.to_string(),
        AddrMatch::Net(a, l) => format!("{a}/{l}"),
        AddrMatch::Range(a, b) => format!("{a}-{b}"),
    }
}

fn id_text(id: &Identification) -> String {
    match id {
        Identification::Ipv4(a) => a.to_string(),
        Identification::Ipv6(a) => a.to_string(),
        Identification::Fqdn(d) | Identification::Rfc822(d) => String::from_utf8_lossy(d).into(),
        Identification::KeyId(d) => format!("@#{}", hexs(d)),
        Identification::DerAsn1Dn(d) => format!("asn1dn:#{}", hexs(d)),
        Identification::Other { ty, data } => format!("{ty}:#{}", hexs(data)),
    }
}

fn ts_text(t: &TsSpec) -> String {
    match t {
        TsSpec::Dynamic => "dynamic".into(),
        TsSpec::Range(t) => t.to_string(),
    }
}

fn action_text(a: ike::engine::PeerAction) -> &'static str {
    match a {
        ike::engine::PeerAction::Clear => "clear",
        ike::engine::PeerAction::Restart => "restart",
        ike::engine::PeerAction::Trap => "trap",
    }
}

/// One connection as `list-conn` shows it: the engine's (converted)
/// settings; identities as configured.
pub(crate) fn conn_message(p: &PeerConfig, conf: Option<&Connection>) -> Message {
    let unique = match p.unique {
        ike::engine::Unique::No => "UNIQUE_NO",
        ike::engine::Unique::Never => "UNIQUE_NEVER",
        ike::engine::Unique::Replace => "UNIQUE_REPLACE",
        ike::engine::Unique::Keep => "UNIQUE_KEEP",
    };
    let mut m = Message::new()
        .with_list("local_addrs", p.local_addrs.iter().map(addr_text))
        .with_list("remote_addrs", p.remote_addrs.iter().map(addr_text))
        .with_value("version", "IKEv2")
        .with_value("reauth_time", p.reauth_time.as_secs().to_string())
        .with_value("rekey_time", p.rekey_time.as_secs().to_string())
        .with_value("unique", unique)
        .with_value("dpd_delay", p.dpd_delay.as_secs().to_string());
    if p.encap {
        m.push_value("encap", "yes");
    }
    let local_id = conf
        .and_then(|c| c.local.first())
        .and_then(|a| a.id.clone())
        .unwrap_or_else(|| {
            if p.local_id_from_address {
                "%any".into()
            } else {
                id_text(&p.local_id)
            }
        });
    let remote_id = p
        .remote_id
        .as_ref()
        .map(id_text)
        .unwrap_or_else(|| "%any".into());
    m.push_section(
        "local-1",
        Message::new()
            .with_value("class", "pre-shared key")
            .with_value("id", local_id),
    );
    m.push_section(
        "remote-1",
        Message::new()
            .with_value("class", "pre-shared key")
            .with_value("id", remote_id),
    );
    let mut children = Message::new();
    for c in &p.children {
        let mode = match c.mode {
            ike::engine::Mode::Tunnel => "TUNNEL",
            ike::engine::Mode::Transport => "TRANSPORT",
        };
        let cm = Message::new()
            .with_value("mode", mode)
            .with_value("rekey_time", c.rekey_time.as_secs().to_string())
            .with_value("rekey_bytes", c.rekey_bytes.to_string())
            .with_value("rekey_packets", c.rekey_packets.to_string())
            .with_value("dpd_action", action_text(c.dpd_action))
            .with_value("close_action", action_text(c.close_action))
            .with_value("reqid", c.reqid.to_string())
            .with_list("local-ts", c.local_ts.iter().map(ts_text))
            .with_list("remote-ts", c.remote_ts.iter().map(ts_text));
        children.push_section(c.name.clone(), cm);
    }
    m.push_section("children", children);
    m
}

/// charon's `%V`: "17 seconds", "5 minutes", "3 hours", "2 days".
pub(crate) fn time_delta(secs: u64) -> String {
    let (n, unit) = if secs >= 86_400 * 2 {
        (secs / 86_400, "day")
    } else if secs >= 3600 * 2 {
        (secs / 3600, "hour")
    } else if secs >= 60 * 2 {
        (secs / 60, "minute")
    } else {
        (secs, "second")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// charon's `%T` (`Mar 05 12:00:01 2024`), in UTC.
pub(crate) fn format_time(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{} {:02} {:02}:{:02}:{:02} {}",
        MONTHS[(m - 1) as usize],
        d,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        y
    )
}

/// Drops from the hub's cache the SAs that are gone without an `IkeDown`
/// to come: the engine reports none for a half-open responder SA that
/// fails (charon raises no `ike-updown` for those either), so without this
/// every failed attempt of an unauthenticated peer would stay cached for
/// as long as a VICI client listens. Established SAs and our own attempts
/// stay until their `IkeDown`.
fn prune_gone_half_open(infos: &mut HashMap<IkeSaId, IkeInfo>, current: &[IkeInfo]) {
    infos.retain(|id, i| {
        i.established_at.is_some() || i.initiator || current.iter().any(|c| c.id == *id)
    });
}

#[cfg(test)]
mod tests {

    /// A failed half-open responder SA (no IkeDown comes) leaves the
    /// cache; established SAs and our own attempts wait for their IkeDown.
    #[test]
    fn hub_cache_forgets_failed_half_open_responders() {
        use ike::engine::{Endpoint, EngineConfig, PeerConfig};
        use ike::proposal::parse_ike_proposals;
        let mut ep = Endpoint::new(EngineConfig::default(), Box::new(rand_core::OsRng));
        ep.set_local_addrs(Some("192.0.2.1:500".parse().unwrap()), None);
        let mut p = PeerConfig::new(
            "gw",
            Identification::Fqdn(b"a".to_vec()),
            parse_ike_proposals("aes128gcm16-prfsha256-ecp256").unwrap(),
        );
        p.remote_addrs = vec![AddrMatch::Addr("192.0.2.2".parse().unwrap())];
        ep.load(Instant::now(), vec![p], vec![]);
        ep.initiate(Instant::now(), "gw", None).unwrap();
        let ours = ep.ike_sas().remove(0);
        assert!(ours.initiator && ours.established_at.is_none());
        let mut half_open = ours.clone();
        half_open.id = IkeSaId(1000);
        half_open.initiator = false;
        let mut up = half_open.clone();
        up.id = IkeSaId(1001);
        up.established_at = Some(Instant::now());
        let mut infos: HashMap<IkeSaId, IkeInfo> = [&ours, &half_open, &up]
            .into_iter()
            .map(|i| (i.id, i.clone()))
            .collect();
        prune_gone_half_open(&mut infos, std::slice::from_ref(&half_open));
        assert_eq!(infos.len(), 3, "all still there or awaiting IkeDown");
        prune_gone_half_open(&mut infos, &[]);
        let mut left: Vec<IkeSaId> = infos.keys().copied().collect();
        left.sort_by_key(|i| i.0);
        let mut want = vec![ours.id, up.id];
        want.sort_by_key(|i| i.0);
        assert_eq!(left, want);
    }
    use super::*;

    #[test]
    fn proposals_split_like_charon_reports_them() {
        let a = split_proposal("AES_GCM_16_128/PRF_HMAC_SHA2_256/ECP_256");
        assert_eq!(a.encr.as_deref(), Some("AES_GCM_16"));
        assert_eq!(a.encr_keysize.as_deref(), Some("128"));
        assert_eq!(a.prf.as_deref(), Some("PRF_HMAC_SHA2_256"));
        assert_eq!(a.dh.as_deref(), Some("ECP_256"));
        assert_eq!(a.integ, None);
        let a = split_proposal("AES_CBC_256/HMAC_SHA2_256_128/NO_EXT_SEQ");
        assert_eq!(a.encr.as_deref(), Some("AES_CBC"));
        assert_eq!(a.encr_keysize.as_deref(), Some("256"));
        assert_eq!(a.integ.as_deref(), Some("HMAC_SHA2_256_128"));
        assert!(!a.esn);
        let a = split_proposal("CHACHA20_POLY1305/EXT_SEQ");
        assert_eq!(a.encr.as_deref(), Some("CHACHA20_POLY1305"));
        assert_eq!(a.encr_keysize, None);
        assert!(a.esn);
    }

    #[test]
    fn times_format_like_charon() {
        assert_eq!(time_delta(1), "1 second");
        assert_eq!(time_delta(119), "119 seconds");
        assert_eq!(time_delta(300), "5 minutes");
        assert_eq!(time_delta(3 * 86_400), "3 days");
        let t = UNIX_EPOCH + Duration::from_secs(1_709_640_001);
        assert_eq!(format_time(t), "Mar 05 12:00:01 2024");
    }
}
