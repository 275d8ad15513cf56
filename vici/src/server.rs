//! The VICI server: a Unix socket, one task per client, commands dispatched
//! to a [`Handler`], event registration and broadcast.
//!
//! # Per client
//!
//! Each client gets a task that reads packets and a bounded outbound queue
//! ([`ServerConfig::queue_len`] packets) drained by a writer in the same
//! task. Everything sent to a client goes through that queue, so streamed
//! events and the final response keep their order.
//!
//! * `CMD_REQUEST`: the message is parsed and handed to
//!   [`Handler::command`]; its result becomes `CMD_RESPONSE`, `CMD_UNKNOWN`
//!   ([`CommandError::Unknown`]) or a `CMD_RESPONSE` with `success = no` and
//!   `errmsg` ([`CommandError::Failed`], or a malformed request message).
//!   As in VICI, one command runs at a time per connection.
//! * `EVENT_REGISTER`/`EVENT_UNREGISTER`: `EVENT_CONFIRM` if
//!   [`Handler::offers_event`] says so, else `EVENT_UNKNOWN`.
//! * Any other packet type, a malformed packet header, a length prefix over
//!   [`MAX_PACKET_SIZE`](crate::MAX_PACKET_SIZE), a packet not completed
//!   within [`ServerConfig::packet_timeout`]: the connection is closed.
//!
//! # Slow clients
//!
//! Broadcasts ([`EventBroadcaster::raise`]) never wait: if a registered
//! client's queue is full, that client is dropped (and logged). A command's
//! own stream ([`EventSink::send`]) waits for room in its client's queue
//! for at most [`ServerConfig::write_timeout`], then drops the client; so
//! does a write to the socket that does not finish in that time. A client
//! that stops reading therefore blocks only its own command, and only for a
//! bounded time.
//!
//! # Cancellation
//!
//! The reader reads at most one packet ahead of the command being run, so
//! the end of a connection is seen while a command runs: the command's
//! future is then dropped (handlers must be cancel-safe). End of stream
//! counts as gone, so a client that half-closes right after a request may
//! get no reply (libvici, davici and the Python bindings never do that).

use std::collections::{HashMap, HashSet};
use std::fs;
use std::future::Future;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

use crate::io::read_frame;
use crate::message::{EncodeError, Message};
use crate::packet::{frame, Header, PacketType};
use zeroize::Zeroize;

/// The socket mode [`Server::bind_default`] uses: owner read/write only.
pub const DEFAULT_SOCKET_MODE: u32 = 0o600;

/// The events strongSwan's charon offers that vtid will raise; what
/// [`Handler::offers_event`] accepts by default.
pub const STANDARD_EVENTS: &[&str] = &[
    "log",
    "control-log",
    "ike-updown",
    "ike-rekey",
    "child-updown",
    "child-rekey",
    "list-sa",
    "list-conn",
    "list-policy",
    "list-cert",
    "list-authority",
];

/// Owner of the socket file.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Owner {
    /// User ID.
    pub uid: u32,
    /// Group ID.
    pub gid: u32,
}

impl Owner {
    /// root:root (gid 0 is `root` on Linux, `wheel` on FreeBSD).
    pub const ROOT: Owner = Owner { uid: 0, gid: 0 };
}

/// Limits of the server.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Clients connected at once; further connections are closed at once.
    pub max_clients: usize,
    /// Packets queued for one client before it counts as not reading.
    pub queue_len: usize,
    /// Time for the rest of a packet once its first byte arrived.
    pub packet_timeout: Duration,
    /// Time for one write to a client, and for room in its queue for a
    /// command's streamed event or response.
    pub write_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            max_clients: 128,
            queue_len: 256,
            packet_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
        }
    }
}

/// Why a command produced no normal response.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum CommandError {
    /// The command is not known: answered with `CMD_UNKNOWN`.
    #[error("unknown command")]
    Unknown,
    /// The command failed: answered with `success = no`, `errmsg`.
    #[error("{0}")]
    Failed(String),
}

/// What the daemon does with commands; one instance serves all clients.
pub trait Handler: Send + Sync + 'static {
    /// Runs `command` for one client. Events for that client (`control-log`
    /// during `initiate`, `list-sa` during `list-sas`, ...) go through
    /// `events` while the command runs; the returned message is the
    /// `CMD_RESPONSE`. The future is dropped if the client disconnects.
    fn command(
        &self,
        command: &str,
        request: Message,
        events: &EventSink,
    ) -> impl Future<Output = Result<Message, CommandError>> + Send;

    /// Whether clients may register for event `name`.
    fn offers_event(&self, name: &str) -> bool {
        STANDARD_EVENTS.contains(&name)
    }
}

/// A `success = no`, `errmsg = ...` message, strongSwan's error reply.
pub fn error_reply(errmsg: &str) -> Message {
    Message::new()
        .with_value("success", "no")
        .with_value("errmsg", errmsg)
}

type Frame = Arc<[u8]>;

struct Slot {
    tx: mpsc::Sender<Frame>,
    events: HashSet<String>,
    kill: Arc<Notify>,
}

#[derive(Default)]
struct Shared {
    clients: Mutex<HashMap<u64, Slot>>,
    next_id: AtomicU64,
}

impl Shared {
    fn clients(&self) -> MutexGuard<'_, HashMap<u64, Slot>> {
        // A panic elsewhere must not take the server down with it.
        self.clients.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Raises events to every client registered for them (`ike-updown`,
/// `child-rekey`, `log`, ...). Cheap to clone.
#[derive(Clone)]
pub struct EventBroadcaster {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for EventBroadcaster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventBroadcaster")
            .field("clients", &self.shared.clients().len())
            .finish()
    }
}

impl EventBroadcaster {
    /// Queues event `name` for each registered client, without waiting;
    /// a client whose queue is full is dropped. Returns how many clients it
    /// was queued for.
    pub fn raise(&self, name: &str, message: &Message) -> Result<usize, EncodeError> {
        let frame: Frame = frame(PacketType::Event, Some(name), Some(message))?.into();
        let mut delivered = 0;
        self.shared.clients().retain(|id, slot| {
            if !slot.events.contains(name) {
                return true;
            }
            match slot.tx.try_send(frame.clone()) {
                Ok(()) => {
                    delivered += 1;
                    true
                }
                Err(mpsc::error::TrySendError::Full(_)) => {
                    warn!(
                        client = id,
                        event = name,
                        "vici client not reading, dropping it"
                    );
                    slot.kill.notify_one();
                    false
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            }
        });
        Ok(delivered)
    }

    /// How many clients are registered for `name`.
    pub fn registered(&self, name: &str) -> usize {
        self.shared
            .clients()
            .values()
            .filter(|s| s.events.contains(name))
            .count()
    }
}

/// Why [`EventSink::send`] failed; the command should give up.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The event cannot be encoded.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// The client is gone.
    #[error("client disconnected")]
    Disconnected,
    /// The client did not read in time and has been dropped.
    #[error("client not reading; dropped")]
    Timeout,
}

/// Sends events to the client whose command is running.
pub struct EventSink {
    id: u64,
    shared: Arc<Shared>,
    tx: mpsc::Sender<Frame>,
    kill: Arc<Notify>,
    timeout: Duration,
}

impl std::fmt::Debug for EventSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventSink")
            .field("client", &self.id)
            .finish()
    }
}

impl EventSink {
    /// The client's ID (unique while the server runs; used in logs).
    pub fn client_id(&self) -> u64 {
        self.id
    }

    /// Whether the client registered for `name` (strongSwan streams only
    /// to registered clients; a handler may skip building the messages).
    pub fn is_registered(&self, name: &str) -> bool {
        self.shared
            .clients()
            .get(&self.id)
            .is_some_and(|s| s.events.contains(name))
    }

    /// Sends event `name` to this client if it registered for it (returns
    /// whether it did), waiting for room in its queue at most the server's
    /// `write_timeout`.
    pub async fn send(&self, name: &str, message: &Message) -> Result<bool, SinkError> {
        if !self.is_registered(name) {
            return Ok(false);
        }
        let frame: Frame = frame(PacketType::Event, Some(name), Some(message))?.into();
        self.enqueue(frame).await.map(|()| true)
    }

    async fn enqueue(&self, frame: Frame) -> Result<(), SinkError> {
        match tokio::time::timeout(self.timeout, self.tx.send(frame)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(SinkError::Disconnected),
            Err(_) => {
                warn!(client = self.id, "vici client not reading, dropping it");
                self.kill.notify_one();
                Err(SinkError::Timeout)
            }
        }
    }
}

/// A bound VICI socket, ready to [`serve`](Server::serve).
pub struct Server {
    listener: UnixListener,
    path: PathBuf,
    ino: (u64, u64),
    config: ServerConfig,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("path", &self.path)
            .field("config", &self.config)
            .finish()
    }
}

static BIND_COUNTER: AtomicU64 = AtomicU64::new(0);

impl Server {
    /// Binds with [`DEFAULT_SOCKET_MODE`] (0600) and owner root:root.
    pub async fn bind_default(path: impl AsRef<Path>) -> io::Result<Server> {
        Server::bind(path, DEFAULT_SOCKET_MODE, Some(Owner::ROOT)).await
    }

    /// Creates the socket at `path` with permission bits `mode` and, if
    /// given, `owner`. Must run inside a tokio runtime.
    ///
    /// No client can connect before mode and owner are set: the socket is
    /// bound inside a fresh directory of mode 0700 next to `path`, chmod-ed
    /// and chown-ed there, then renamed onto `path` (atomic, and replaces a
    /// stale socket). The process umask is not touched (it is process-wide,
    /// other threads may be creating files). A socket at `path` that still
    /// accepts connections (another daemon) is an `AddrInUse` error, a
    /// non-socket there an `AlreadyExists` error.
    pub async fn bind(
        path: impl AsRef<Path>,
        mode: u32,
        owner: Option<Owner>,
    ) -> io::Result<Server> {
        let path = path.as_ref().to_path_buf();
        match fs::symlink_metadata(&path) {
            Ok(md) => {
                use std::os::unix::fs::FileTypeExt;
                if !md.file_type().is_socket() {
                    return Err(io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        format!("{} exists and is not a socket", path.display()),
                    ));
                }
                if std::os::unix::net::UnixStream::connect(&path).is_ok() {
                    return Err(io::Error::new(
                        io::ErrorKind::AddrInUse,
                        format!("another process is listening on {}", path.display()),
                    ));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let tmpdir = parent.join(format!(
            ".vici-{}-{}",
            std::process::id(),
            BIND_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        fs::DirBuilder::new().mode(0o700).create(&tmpdir)?;
        let tmp = tmpdir.join("s");
        let bound = (|| {
            let l = std::os::unix::net::UnixListener::bind(&tmp)?;
            fs::set_permissions(&tmp, fs::Permissions::from_mode(mode))?;
            if let Some(o) = owner {
                std::os::unix::fs::chown(&tmp, Some(o.uid), Some(o.gid))?;
            }
            fs::rename(&tmp, &path)?;
            Ok::<_, io::Error>(l)
        })();
        let _ = fs::remove_file(&tmp);
        let _ = fs::remove_dir(&tmpdir);
        let l = bound?;
        l.set_nonblocking(true)?;
        let md = fs::symlink_metadata(&path)?;
        let listener = UnixListener::from_std(l)?;
        info!(path = %path.display(), mode = format_args!("{mode:o}"), "vici socket bound");
        Ok(Server {
            listener,
            path,
            ino: (md.dev(), md.ino()),
            config: ServerConfig::default(),
            shared: Arc::default(),
        })
    }

    /// Replaces the limits.
    pub fn with_config(mut self, config: ServerConfig) -> Server {
        self.config = config;
        self
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A handle to raise events to registered clients.
    pub fn broadcaster(&self) -> EventBroadcaster {
        EventBroadcaster {
            shared: self.shared.clone(),
        }
    }

    /// Serves clients forever (until the future is dropped, which closes
    /// every client).
    pub async fn serve<H: Handler>(self, handler: H) -> io::Result<()> {
        self.serve_until(handler, std::future::pending()).await
    }

    /// Serves clients until `shutdown` completes; then closes every client
    /// and removes the socket file (if it is still ours).
    pub async fn serve_until<H: Handler>(
        self,
        handler: H,
        shutdown: impl Future<Output = ()>,
    ) -> io::Result<()> {
        let handler = Arc::new(handler);
        let mut tasks = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        if tasks.len() >= self.config.max_clients {
                            warn!(max = self.config.max_clients, "too many vici clients, refusing one");
                            continue;
                        }
                        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
                        tasks.spawn(client_task(
                            stream,
                            id,
                            self.shared.clone(),
                            handler.clone(),
                            self.config.clone(),
                        ));
                    }
                    Err(e) => {
                        // EMFILE and the like: do not spin.
                        warn!(error = %e, "vici accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
            }
        }
        tasks.shutdown().await;
        if let Ok(md) = fs::symlink_metadata(&self.path) {
            if (md.dev(), md.ino()) == self.ino {
                let _ = fs::remove_file(&self.path);
            }
        }
        Ok(())
    }
}

/// Why a connection is closed.
#[derive(Debug)]
struct Close(String);

async fn client_task<H: Handler>(
    stream: UnixStream,
    id: u64,
    shared: Arc<Shared>,
    handler: Arc<H>,
    config: ServerConfig,
) {
    if let Ok(cred) = stream.peer_cred() {
        debug!(client = id, uid = cred.uid(), pid = ?cred.pid(), "vici client connected");
    }
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<Frame>(config.queue_len.max(1));
    let kill = Arc::new(Notify::new());
    shared.clients().insert(
        id,
        Slot {
            tx: tx.clone(),
            events: HashSet::new(),
            kill: kill.clone(),
        },
    );
    let sink = EventSink {
        id,
        shared: shared.clone(),
        tx,
        kill: kill.clone(),
        timeout: config.write_timeout,
    };
    let write_timeout = config.write_timeout;
    let writer = async move {
        while let Some(frame) = rx.recv().await {
            match tokio::time::timeout(write_timeout, wr.write_all(&frame)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    debug!(client = id, error = %e, "vici write failed");
                    return;
                }
                Err(_) => {
                    warn!(client = id, "vici client not reading, dropping it");
                    return;
                }
            }
        }
    };
    tokio::pin!(writer);
    // The reader runs ahead of the dispatcher by at most one packet, so
    // that the end of the connection is noticed while a command runs.
    let (ftx, mut frx) = mpsc::channel::<Vec<u8>>(1);
    let gone = Notify::new();
    let reader = async {
        loop {
            match read_frame(&mut rd, Some(config.packet_timeout)).await {
                Ok(Some(p)) => {
                    if ftx.send(p).await.is_err() {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    info!(client = id, error = %e, "closing vici connection");
                    break;
                }
            }
        }
        drop(ftx);
        gone.notify_one();
        // Nothing more to read; the dispatcher finishes the rest.
        std::future::pending::<()>().await;
    };
    let dispatcher = async {
        while let Some(mut packet) = frx.recv().await {
            let r = tokio::select! {
                r = handle_packet(&packet, &*handler, &sink) => r,
                () = gone.notified() => {
                    packet.zeroize();
                    debug!(client = id, "vici client left during a command, cancelling it");
                    return;
                }
            };
            // A request may carry a secret (load-shared, load-key): the
            // wire copy is wiped once handled.
            packet.zeroize();
            if let Err(Close(why)) = r {
                info!(client = id, reason = %why, "closing vici connection");
                return;
            }
        }
    };
    let dispatcher_done = tokio::select! {
        () = &mut writer => false,
        () = reader => false,
        () = dispatcher => true,
        () = kill.notified() => false,
    };
    shared.clients().remove(&id);
    drop(sink);
    if dispatcher_done {
        // Flush what is queued (e.g. the reply to a last request).
        let _ = tokio::time::timeout(config.write_timeout, writer).await;
    }
    debug!(client = id, "vici client gone");
}

async fn handle_packet<H: Handler>(
    packet: &[u8],
    handler: &H,
    sink: &EventSink,
) -> Result<(), Close> {
    let header = Header::parse(packet).map_err(|e| Close(format!("malformed packet: {e}")))?;
    let name = header.name.unwrap_or_default();
    let reply = match header.packet_type {
        PacketType::CmdRequest => {
            let (ty, msg) = match header.message() {
                Err(e) => {
                    debug!(client = sink.id, command = name, error = %e, "malformed vici request");
                    (
                        PacketType::CmdResponse,
                        Some(error_reply(&format!("malformed request message: {e}"))),
                    )
                }
                Ok(request) => match handler.command(name, request, sink).await {
                    Ok(m) => (PacketType::CmdResponse, Some(m)),
                    Err(CommandError::Unknown) => (PacketType::CmdUnknown, None),
                    Err(CommandError::Failed(e)) => {
                        (PacketType::CmdResponse, Some(error_reply(&e)))
                    }
                },
            };
            match frame(ty, None, msg.as_ref()) {
                Ok(f) => f,
                Err(e) => {
                    warn!(command = name, error = %e, "vici response cannot be encoded");
                    frame(
                        PacketType::CmdResponse,
                        None,
                        Some(&error_reply(&format!("response cannot be encoded: {e}"))),
                    )
                    .map_err(|e| Close(e.to_string()))?
                }
            }
        }
        PacketType::EventRegister | PacketType::EventUnregister => {
            let register = header.packet_type == PacketType::EventRegister;
            let ok = handler.offers_event(name);
            if ok {
                let mut clients = sink.shared.clients();
                if let Some(slot) = clients.get_mut(&sink.id) {
                    if register {
                        slot.events.insert(name.to_owned());
                    } else {
                        slot.events.remove(name);
                    }
                }
            }
            debug!(
                client = sink.id,
                event = name,
                register,
                ok,
                "vici event registration"
            );
            let ty = if ok {
                PacketType::EventConfirm
            } else {
                PacketType::EventUnknown
            };
            frame(ty, None, None).map_err(|e| Close(e.to_string()))?
        }
        other => {
            return Err(Close(format!(
                "unexpected packet type {other:?} from client"
            )))
        }
    };
    sink.enqueue(reply.into())
        .await
        .map_err(|e| Close(e.to_string()))
}

/// The reply to `version` as charon gives it: `daemon`, `version`, and the
/// `sysname`, `release` and `machine` of uname(2).
pub fn version_reply(daemon: &str, version: &str) -> Message {
    let mut m = Message::new()
        .with_value("daemon", daemon)
        .with_value("version", version);
    if let Ok(u) = nix::sys::utsname::uname() {
        m.push_value("sysname", u.sysname().to_string_lossy().as_bytes());
        m.push_value("release", u.release().to_string_lossy().as_bytes());
        m.push_value("machine", u.machine().to_string_lossy().as_bytes());
    }
    m
}
