//! `vtid --config PATH [--vici PATH] [--dataplane KIND] [--log-level L]`:
//! runs in the foreground, logs to stderr. `vtid --check --config PATH`
//! validates a configuration and exits.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use vtid::daemon::{Daemon, DataplaneKind, Options};
use vtid::logging::LogHandle;

const USAGE: &str = "usage: vtid --config PATH [--strongswan-conf PATH] [--vici PATH] [--dataplane KIND] [--log-level LEVEL]
       vtid --check --config PATH [--strongswan-conf PATH] [--dataplane KIND]

  --config PATH      swanctl.conf-syntax configuration (connections, secrets, vtid { });
                     default /etc/vtid/vtid.conf, on FreeBSD (pfSense)
                     /usr/local/etc/swanctl/swanctl.conf
  --strongswan-conf PATH
                     a strongswan.conf whose charon { } section sets the daemon
                     settings (install_routes, retransmit_*, make_before_break,
                     log levels, ...); vtid { } overrides it
  --check            load and validate the configuration, print every problem with
                     file:line:col and every reason a connection or child would not
                     load, and exit (0: no error, 1: errors); starts nothing, needs
                     no root
  --vici PATH        VICI control socket (default: vtid.vici.socket, else /run/vtid.vici;
                     on FreeBSD charon's /var/run/charon.vici, where pfSense looks)
  --dataplane KIND   data plane backend (default: vtid.dataplane, else auto):
                       auto       kernel ESP when vtid has a backend for this kernel
                                  and the kernel has ESP, else userspace
                       userspace  vtid's ESP over TUN (ipsecN interfaces, shared vtid0)
                       xfrm       Linux kernel ESP (XFRM) with xfrm interfaces or
                                  legacy VTIs; needs a kernel with ESP
                       pfkey      PF_KEY v2 with if_ipsec; FreeBSD builds only
                       record     keep a table of SAs, carry no traffic
  --log-level LEVEL  -1..4 as charon, a tracing level (info, debug, ...) or EnvFilter
                     directives; replaces vtid.log.default (RUST_LOG overrides everything)

Signals: SIGHUP reloads the configuration, SIGUSR1 logs counters and SAs,
SIGTERM/SIGINT delete every IKE_SA and exit.";

/// Writes to stdout; a closed pipe (`vtid --help | head`) is not an error
/// worth a panic.
fn out(text: &str) {
    let mut o = std::io::stdout().lock();
    let _ = writeln!(o, "{text}");
    let _ = o.flush();
}

/// What the command line asks for.
enum Run {
    Daemon(Options),
    Check(Options),
}

fn parse_args(args: &[String]) -> Result<Run, String> {
    let mut config = None;
    let mut check = false;
    let mut strongswan_conf = None;
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
            "--strongswan-conf" => {
                strongswan_conf = Some(PathBuf::from(value("--strongswan-conf")?))
            }
            "--check" => check = true,
            "--dataplane" => {
                let v = value("--dataplane")?;
                dataplane = Some(DataplaneKind::parse(&v).ok_or_else(|| {
                    format!("--dataplane {v}: expected auto, userspace, xfrm, pfkey or record")
                })?)
            }
            "--log-level" => log_level = Some(value("--log-level")?),
            "-h" | "--help" => return Err(String::new()),
            "-V" | "--version" => {
                out(&format!("vtid {}", env!("CARGO_PKG_VERSION")));
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    let opts = Options {
        config: config.unwrap_or_else(|| PathBuf::from(config::paths::DEFAULT_CONFIG)),
        strongswan_conf,
        vici,
        dataplane,
        log_level,
    };
    Ok(if check {
        Run::Check(opts)
    } else {
        Run::Daemon(opts)
    })
}

/// `vtid --check`: the kernel backends carry transport mode, the userspace
/// data plane does not; without `--dataplane xfrm|pfkey` the check assumes
/// the userspace one (it probes no kernel: it touches nothing).
fn run_check(opts: &Options) -> ExitCode {
    let transport = matches!(
        opts.dataplane,
        Some(DataplaneKind::Xfrm) | Some(DataplaneKind::Pfkey)
    );
    let r = vtid::check::check(
        &opts.config,
        opts.strongswan_conf.as_deref(),
        &vtid::convert::SystemEnv,
        transport,
    );
    for l in &r.lines {
        out(l);
    }
    if r.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = match parse_args(&args) {
        Ok(Run::Daemon(o)) => o,
        Ok(Run::Check(o)) => return run_check(&o),
        Err(e) => {
            if e.is_empty() {
                out(USAGE);
                return ExitCode::SUCCESS;
            }
            let _ = writeln!(std::io::stderr(), "vtid: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    // Before any thread: taken out of the environment our children inherit.
    let notify_socket = vtid::notify::take_notify_socket();
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
            Ok((d, lanes)) => (d.with_notifier(notify_socket.as_deref()), lanes),
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
