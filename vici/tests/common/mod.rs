//! Shared by the integration tests: a demo handler, unique socket paths,
//! running the real swanctl with a timeout.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use vici::{CommandError, EventSink, Handler, Message, Server, ServerConfig};

/// Bound on every wait in these tests.
pub const WAIT: Duration = Duration::from_secs(20);

pub const SWANCTL: &str = "/usr/sbin/swanctl";

/// The log lines the demo handler streams during `initiate`.
pub const INITIATE_LOG: &[(&str, &str)] = &[
    ("IKE", "initiating IKE_SA gw[1] to 192.0.2.2"),
    (
        "ENC",
        "generating IKE_SA_INIT request 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) ]",
    ),
    (
        "IKE",
        "IKE_SA gw[1] established between 192.0.2.1[gw-a]...192.0.2.2[gw-b]",
    ),
    (
        "CHD",
        "CHILD_SA net{1} established with SPIs c1a2b3c4_i c5d6e7f8_o",
    ),
];

/// A test directory, removed on drop; unique per test and process.
#[derive(Debug)]
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "vici-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What the demo handler saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// Every command with its request, in order.
    pub commands: Vec<(String, Message)>,
}

/// A stand-in for vtid's daemon handler.
#[derive(Clone, Debug, Default)]
pub struct DemoHandler {
    pub seen: Arc<Mutex<Seen>>,
    /// How many `hang` commands were dropped (cancelled).
    pub cancelled: Arc<std::sync::atomic::AtomicUsize>,
}

struct CountOnDrop(Arc<std::sync::atomic::AtomicUsize>);

impl Drop for CountOnDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl DemoHandler {
    pub fn commands(&self) -> Vec<(String, Message)> {
        self.seen.lock().unwrap().commands.clone()
    }
}

/// One IKE_SA as charon's `list-sa` event has it.
pub fn list_sa_event() -> Message {
    let child = Message::new()
        .with_value("name", "net")
        .with_value("uniqueid", "1")
        .with_value("reqid", "7")
        .with_value("state", "INSTALLED")
        .with_value("mode", "TUNNEL")
        .with_value("protocol", "ESP")
        .with_value("spi-in", "c1a2b3c4")
        .with_value("spi-out", "c5d6e7f8")
        .with_value("encr-alg", "AES_GCM_16")
        .with_value("encr-keysize", "256")
        .with_value("bytes-in", "1234")
        .with_value("packets-in", "10")
        .with_value("bytes-out", "5678")
        .with_value("packets-out", "12")
        .with_value("install-time", "42")
        .with_value("rekey-time", "3000")
        .with_value("life-time", "3500")
        .with_list("local-ts", ["10.1.0.0/16"])
        .with_list("remote-ts", ["10.2.0.0/16"]);
    let ike = Message::new()
        .with_value("uniqueid", "1")
        .with_value("version", "2")
        .with_value("state", "ESTABLISHED")
        .with_value("local-host", "192.0.2.1")
        .with_value("local-port", "500")
        .with_value("local-id", "gw-a")
        .with_value("remote-host", "192.0.2.2")
        .with_value("remote-port", "500")
        .with_value("remote-id", "gw-b")
        .with_value("initiator", "yes")
        .with_value("initiator-spi", "0123456789abcdef")
        .with_value("responder-spi", "fedcba9876543210")
        .with_value("encr-alg", "AES_CBC")
        .with_value("encr-keysize", "256")
        .with_value("integ-alg", "HMAC_SHA2_256_128")
        .with_value("prf-alg", "PRF_HMAC_SHA2_256")
        .with_value("dh-group", "CURVE_25519")
        .with_value("established", "100")
        .with_value("rekey-time", "13000")
        .with_section("child-sas", Message::new().with_section("net-1", child));
    Message::new().with_section("gw", ike)
}

fn ok() -> Message {
    Message::new().with_value("success", "yes")
}

impl Handler for DemoHandler {
    async fn command(
        &self,
        command: &str,
        request: Message,
        events: &EventSink,
    ) -> Result<Message, CommandError> {
        self.seen
            .lock()
            .unwrap()
            .commands
            .push((command.to_owned(), request.clone()));
        match command {
            "version" => Ok(vici::version_reply("vtid", env!("CARGO_PKG_VERSION"))),
            "initiate" => {
                let child = request.str("child").unwrap_or("?").to_owned();
                for (group, msg) in INITIATE_LOG {
                    let ev = Message::new()
                        .with_value("group", *group)
                        .with_value("level", "1")
                        .with_value("ikesa-name", "gw")
                        .with_value("ikesa-uniqueid", "1")
                        .with_value("msg", *msg);
                    events
                        .send("control-log", &ev)
                        .await
                        .map_err(|e| CommandError::Failed(e.to_string()))?;
                }
                if child == "fail" {
                    return Err(CommandError::Failed("CHILD_SA 'fail' not found".into()));
                }
                Ok(ok())
            }
            "list-sas" => {
                events
                    .send("list-sa", &list_sa_event())
                    .await
                    .map_err(|e| CommandError::Failed(e.to_string()))?;
                Ok(Message::new())
            }
            "get-conns" => Ok(Message::new().with_list("conns", ["stale"])),
            "load-conn" | "unload-conn" => Ok(ok()),
            // Echoes the size of what it got (for size-limit tests).
            "echo" => Ok(Message::new().with_value("items", request.items.len().to_string())),
            // Never answers (cancelled when its client goes away).
            "hang" => {
                let _guard = CountOnDrop(self.cancelled.clone());
                std::future::pending::<()>().await;
                Ok(ok())
            }
            _ => Err(CommandError::Unknown),
        }
    }
}

/// A running demo server; dropping it stops the server.
#[derive(Debug)]
pub struct Running {
    pub dir: TempDir,
    pub path: PathBuf,
    pub handler: DemoHandler,
    pub broadcaster: vici::EventBroadcaster,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub fn test_config() -> ServerConfig {
    ServerConfig {
        max_clients: 64,
        queue_len: 16,
        packet_timeout: Duration::from_millis(500),
        write_timeout: Duration::from_secs(1),
    }
}

pub async fn start(tag: &str) -> Running {
    start_with(tag, test_config()).await
}

pub async fn start_with(tag: &str, config: ServerConfig) -> Running {
    let dir = TempDir::new(tag);
    let path = dir.join("charon.vici");
    let server = Server::bind_default(&path)
        .await
        .unwrap()
        .with_config(config);
    let broadcaster = server.broadcaster();
    let handler = DemoHandler::default();
    let task = tokio::spawn(server.serve(handler.clone()));
    Running {
        dir,
        path,
        handler,
        broadcaster,
        task,
    }
}

/// Runs `swanctl ARGS --uri unix://PATH` (optionally via a prefix such as
/// setpriv) with a timeout.
pub async fn swanctl_as(prefix: &[&str], path: &Path, args: &[&str]) -> Output {
    let uri = format!("unix://{}", path.display());
    let mut argv: Vec<&str> = prefix.to_vec();
    argv.push(SWANCTL);
    argv.extend_from_slice(args);
    argv.extend_from_slice(&["--uri", &uri]);
    let out = tokio::time::timeout(
        WAIT,
        tokio::process::Command::new(argv[0])
            .args(&argv[1..])
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .unwrap_or_else(|_| panic!("swanctl {args:?} did not finish within {WAIT:?}"))
    .expect("running swanctl");
    eprintln!(
        "$ {}\n{}{}(status {})",
        argv.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        out.status
    );
    out
}

pub async fn swanctl(path: &Path, args: &[&str]) -> Output {
    swanctl_as(&[], path, args).await
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
