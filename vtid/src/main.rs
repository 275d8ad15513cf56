//! `vtid --config PATH [--vici PATH] [--dataplane KIND] [--log-level L]`:
//! runs in the foreground, logs to stderr.

use std::path::PathBuf;
use std::process::ExitCode;

use vtid::daemon::{Daemon, DataplaneKind, Options};
use vtid::logging::LogHandle;

const USAGE: &str = "usage: vtid --config PATH [--vici PATH] [--dataplane KIND] [--log-level LEVEL]

  --config PATH      swanctl.conf-syntax configuration (connections, secrets, vtid { })
  --vici PATH        VICI control socket (default: vtid.vici.socket, else /run/vtid.vici)
  --dataplane KIND   data plane backend (default: vtid.dataplane, else auto):
                       auto       kernel ESP when vtid has a backend for it, else userspace
                       userspace  vtid's ESP over TUN (ipsecN interfaces, shared vtid0)
                       xfrm       Linux kernel ESP with xfrm interfaces (not in this build)
                       pfkey      FreeBSD PF_KEY with if_ipsec (not in this build)
                       record     keep a table of SAs, carry no traffic
  --log-level LEVEL  -1..4 as charon, a tracing level (info, debug, ...) or EnvFilter
                     directives; replaces vtid.log.default (RUST_LOG overrides everything)

Signals: SIGHUP reloads the configuration, SIGUSR1 logs counters and SAs,
SIGTERM/SIGINT delete every IKE_SA and exit.";

fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut config = None;
    let mut vici = None;
    let mut dataplane = None;
    let mut log_level = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let (key, inline) = match a.split_once('=') {
            Some((k, v)) if k.starts_with("--") => (k, Some(v.to_string())),
            _ => (a.as_str(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match key {
            "--config" | "-c" => config = Some(PathBuf::from(value("--config")?)),
            "--vici" => vici = Some(PathBuf::from(value("--vici")?)),
            "--dataplane" => {
                let v = value("--dataplane")?;
                dataplane = Some(DataplaneKind::parse(&v).ok_or_else(|| {
                    format!("--dataplane {v}: expected auto, userspace, xfrm, pfkey or record")
                })?)
            }
            "--log-level" => log_level = Some(value("--log-level")?),
            "-h" | "--help" => return Err(String::new()),
            "-V" | "--version" => {
                println!("vtid {}", env!("CARGO_PKG_VERSION"));
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    Ok(Options {
        config: config.ok_or("--config PATH is required")?,
        vici,
        dataplane,
        log_level,
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = match parse_args(&args) {
        Ok(o) => o,
        Err(e) => {
            if e.is_empty() {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            eprintln!("vtid: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let log = LogHandle::init(opts.log_level.as_deref());
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("vtid: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        let (daemon, lanes) = match Daemon::start(opts, log) {
            Ok(d) => d,
            Err(e) => {
                tracing::error!("cannot start: {e}");
                return ExitCode::FAILURE;
            }
        };
        match daemon.run(lanes).await {
            Ok(()) => {
                tracing::info!("vtid exits");
                ExitCode::SUCCESS
            }
            Err(e) => {
                tracing::error!("{e}");
                ExitCode::FAILURE
            }
        }
    })
}
