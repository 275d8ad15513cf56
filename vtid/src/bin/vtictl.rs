//! `vtictl`: vtid's command-line client over the VICI control socket.
//! See `USAGE` (and `vtid/README-control.md`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use serde_json::{json, Map, Value};
use vici::{Client, ClientError, Element, Message};

const USAGE: &str = "usage: vtictl [--socket PATH] [--json] [--timeout SECS] COMMAND [OPTIONS]

Manages a running vtid over its VICI control socket (the same socket
strongSwan's swanctl talks to).

Commands:
  version                          daemon name, version and system
  stats                            uptime, IKE_SA counts, counters
  reload-settings                  re-read the vtid { } section (log levels)
  initiate --child NAME | --ike NAME
                                   bring a CHILD_SA (or a connection) up and
                                   print its log until it is up or failed
  terminate --child NAME | --ike NAME | --child-id N | --ike-id N [--force]
                                   delete SAs and wait for the peer's answer
  rekey --child NAME | --ike NAME | --child-id N | --ike-id N
                                   rekey SAs now
  list-sas [--ike NAME]            IKE_SAs and CHILD_SAs (table)
  list-conns [--ike NAME]          loaded connections
  load-all [--file F]              load the connections and secrets of a
                                   swanctl.conf-syntax file; unload what an
                                   earlier load had that F no longer has
  load-conns [--file F]            the same for connections only
  unload-conn NAME                 remove a connection loaded over VICI
                                   (and delete its SAs)
  certs                            loaded certificates and CRLs: subject,
                                   issuer, validity, key, private key held
  interfaces                       route-based interfaces: reqid, addresses,
                                   state, the SA carrying them, counters
  gateways                         gateway monitoring per interface
  keylog --file DIR | --off        write Wireshark's ikev2_decryption_table and
                                   esp_sa in DIR for current IKE_SAs and new SAs
                                   (insecure: debugging only)
  check [--file F] [--strongswan-conf F] [--dataplane KIND]
                                   validate a configuration without a daemon
                                   (default /etc/vtid/vtid.conf, FreeBSD
                                   /usr/local/etc/swanctl/swanctl.conf): every problem
                                   with file:line:col, every reason a connection
                                   or child would not load; exit 1 on errors

Options:
  --socket PATH   the control socket (default /run/vtid.vici, else the unit's
                  /run/vtid/vtid.vici; also $VTICTL_SOCKET)
  --json          print one JSON document instead of tables
  --timeout SECS  give up after SECS (initiate/terminate: passed to vtid)
  --file F        for load-all/load-conns (default /etc/swanctl/swanctl.conf, FreeBSD
                  /usr/local/etc/swanctl/swanctl.conf)

Exit status:
  0  the command succeeded
  1  the command failed (vtid answered with an error, or initiate/terminate
     did not complete)
  2  usage error (unknown command or option, unreadable --file)
  3  cannot connect to the control socket (vtid not running, permission)";

/// Standard output and error without `println!`'s panic: `vtictl
/// list-sas | head` closes the pipe under us, and a write then fails with
/// EPIPE (Rust ignores SIGPIPE). [`say!`] writes a line to stdout; once the
/// reader is gone it writes nothing more and the command runs to its end
/// (its exit status says how *it* went). Any other write error (a full
/// disk behind `>`) is kept and makes the exit status 1 ([`out::finish`]).
/// [`complain!`] writes to stderr and ignores errors: there is nowhere
/// left to report them.
mod out {
    use std::fmt;
    use std::io::{self, Write};
    use std::sync::Mutex;

    /// The first write error on stdout.
    static ERROR: Mutex<Option<io::Error>> = Mutex::new(None);

    fn failed() -> bool {
        ERROR.lock().map_or(true, |e| e.is_some())
    }

    fn keep(e: io::Error) {
        if let Ok(mut slot) = ERROR.lock() {
            slot.get_or_insert(e);
        }
    }

    /// Writes one line to stdout.
    pub fn line(args: fmt::Arguments<'_>) {
        if failed() {
            return;
        }
        let mut o = io::stdout().lock();
        if let Err(e) = o.write_fmt(args).and_then(|()| o.write_all(b"\n")) {
            keep(e);
        }
    }

    /// Writes one line to stderr, ignoring errors.
    pub fn err_line(args: fmt::Arguments<'_>) {
        let mut e = io::stderr().lock();
        let _ = e.write_fmt(args).and_then(|()| e.write_all(b"\n"));
    }

    /// Flushes stdout; the error a write met, unless it was a closed pipe
    /// (the reader had what it wanted).
    pub fn finish() -> Option<io::Error> {
        if let Err(e) = io::stdout().lock().flush() {
            keep(e);
        }
        let e = ERROR.lock().ok()?.take()?;
        (e.kind() != io::ErrorKind::BrokenPipe).then_some(e)
    }
}

/// `println!` that survives a closed pipe (see [`out`]).
macro_rules! say {
    ($($arg:tt)*) => { out::line(format_args!($($arg)*)) };
}

/// `eprintln!` that never panics (see [`out`]).
macro_rules! complain {
    ($($arg:tt)*) => { out::err_line(format_args!($($arg)*)) };
}

/// Exit codes (documented in `USAGE`).
const EXIT_FAILED: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_CONNECT: u8 = 3;

#[derive(Debug)]
enum Fail {
    Usage(String),
    Connect(String),
    Failed(String),
}

impl From<ClientError> for Fail {
    fn from(e: ClientError) -> Fail {
        match e {
            ClientError::Io(_) | ClientError::Closed => {
                Fail::Connect(format!("control socket: {e}"))
            }
            ClientError::UnknownCommand(c) => Fail::Failed(format!(
                "vtid does not know the command '{c}' (is this vtid, and new enough?)"
            )),
            e => Fail::Failed(e.to_string()),
        }
    }
}

#[derive(Debug, Default)]
struct Args {
    socket: Option<PathBuf>,
    json: bool,
    timeout: Option<u64>,
    command: String,
    opts: Vec<(String, Option<String>)>,
    positional: Vec<String>,
}

const FLAGS: &[&str] = &["--force", "--reauth", "--json", "--noblock", "--off"];

fn parse_args(args: &[String]) -> Result<Args, Fail> {
    let mut a = Args::default();
    let mut it = args.iter().peekable();
    while let Some(arg) = it.next() {
        let (key, inline) = match arg.split_once('=') {
            Some((k, v)) if k.starts_with("--") => (k.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Result<String, Fail> {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or_else(|| Fail::Usage(format!("{name} needs a value")))
        };
        match key.as_str() {
            "-h" | "--help" => return Err(Fail::Usage(String::new())),
            "--socket" | "-s" => a.socket = Some(PathBuf::from(value("--socket")?)),
            "--json" | "-j" => a.json = true,
            "--timeout" => {
                let v = value("--timeout")?;
                a.timeout = Some(
                    v.parse()
                        .map_err(|_| Fail::Usage(format!("--timeout {v}: not a number")))?,
                );
            }
            k if k.starts_with("--") => {
                if FLAGS.contains(&k) {
                    a.opts.push((k.to_string(), None));
                } else {
                    let v = value(k)?;
                    a.opts.push((k.to_string(), Some(v)));
                }
            }
            _ if a.command.is_empty() => a.command = arg.clone(),
            _ => a.positional.push(arg.clone()),
        }
    }
    if a.command.is_empty() {
        return Err(Fail::Usage("no command given".into()));
    }
    Ok(a)
}

impl Args {
    fn opt(&self, name: &str) -> Option<&str> {
        self.opts
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.as_deref())
    }

    fn flag(&self, name: &str) -> bool {
        self.opts.iter().any(|(k, _)| k == name)
    }

    /// Rejects options the command does not take.
    fn only(&self, allowed: &[&str], positional: usize) -> Result<(), Fail> {
        for (k, _) in &self.opts {
            if !allowed.contains(&k.as_str()) {
                return Err(Fail::Usage(format!("{}: unknown option {k}", self.command)));
            }
        }
        if self.positional.len() > positional {
            return Err(Fail::Usage(format!(
                "{}: unexpected argument '{}'",
                self.command, self.positional[positional]
            )));
        }
        Ok(())
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            complain!("vtictl: cannot start the runtime: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let r = match parse_args(&args) {
        Ok(a) => rt.block_on(run(a)),
        Err(e) => Err(e),
    };
    let code = match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fail::Usage(m)) if m.is_empty() => {
            say!("{USAGE}");
            ExitCode::SUCCESS
        }
        Err(Fail::Usage(m)) => {
            complain!("vtictl: {m}\n\n{USAGE}");
            ExitCode::from(EXIT_USAGE)
        }
        Err(Fail::Connect(m)) => {
            complain!("vtictl: {m}");
            ExitCode::from(EXIT_CONNECT)
        }
        Err(Fail::Failed(m)) => {
            complain!("vtictl: {m}");
            ExitCode::from(EXIT_FAILED)
        }
    };
    match out::finish() {
        Some(e) => {
            complain!("vtictl: cannot write the output: {e}");
            ExitCode::from(EXIT_FAILED)
        }
        None => code,
    }
}

/// `vtictl check`: the same check as `vtid --check`, run here (no daemon,
/// no socket, no root).
fn check(a: &Args) -> Result<(), Fail> {
    let file = PathBuf::from(a.opt("--file").unwrap_or(config::paths::DEFAULT_CONFIG));
    let transport = match a.opt("--dataplane") {
        None | Some("auto") | Some("userspace") | Some("record") => false,
        Some("xfrm") | Some("pfkey") => true,
        Some(o) => {
            return Err(Fail::Usage(format!(
                "--dataplane {o}: expected auto, userspace, xfrm, pfkey or record"
            )))
        }
    };
    let r = vtid::check::check(
        &file,
        a.opt("--strongswan-conf").map(Path::new),
        &vtid::convert::SystemEnv,
        transport,
    );
    for l in &r.lines {
        say!("{l}");
    }
    if r.ok() {
        Ok(())
    } else {
        Err(Fail::Failed(format!(
            "{}: {} error(s)",
            file.display(),
            r.errors
        )))
    }
}

fn socket_path(a: &Args) -> PathBuf {
    a.socket
        .clone()
        .or_else(|| std::env::var_os("VTICTL_SOCKET").map(PathBuf::from))
        .unwrap_or_else(default_socket)
}

/// vtid's default socket of this system, else (Linux) `/run/vtid/vtid.vici`
/// where the systemd unit puts it (/run is read-only to the service).
fn default_socket() -> PathBuf {
    let plain = PathBuf::from(config::paths::vici_socket_path());
    let unit = PathBuf::from("/run/vtid/vtid.vici");
    if !plain.exists() && unit.exists() {
        unit
    } else {
        plain
    }
}

async fn run(a: Args) -> Result<(), Fail> {
    // Check the command and its options before connecting.
    let known = [
        "version",
        "stats",
        "reload-settings",
        "initiate",
        "terminate",
        "rekey",
        "list-sas",
        "list-conns",
        "load-all",
        "load-conns",
        "unload-conn",
        "interfaces",
        "gateways",
        "certs",
        "check",
        "keylog",
    ];
    if !known.contains(&a.command.as_str()) {
        return Err(Fail::Usage(format!("unknown command '{}'", a.command)));
    }
    if a.command == "check" {
        a.only(&["--file", "--strongswan-conf", "--dataplane"], 0)?;
        return check(&a);
    }
    let sel = ["--child", "--ike", "--child-id", "--ike-id"];
    match a.command.as_str() {
        "initiate" => a.only(&["--child", "--ike"], 0)?,
        "terminate" => a.only(&[&sel[..], &["--force"]].concat(), 0)?,
        "rekey" => a.only(&[&sel[..], &["--reauth"]].concat(), 0)?,
        "list-sas" => a.only(&["--ike", "--ike-id", "--noblock"], 0)?,
        "list-conns" => a.only(&["--ike"], 0)?,
        "load-all" | "load-conns" => a.only(&["--file"], 0)?,
        "keylog" => {
            a.only(&["--file", "--off"], 0)?;
            if a.opt("--file").is_some() == a.flag("--off") {
                return Err(Fail::Usage("keylog: give --file DIR or --off".into()));
            }
        }
        "unload-conn" => {
            a.only(&[], 1)?;
            if a.positional.is_empty() {
                return Err(Fail::Usage("unload-conn NAME: name missing".into()));
            }
        }
        _ => a.only(&[], 0)?,
    }
    if matches!(a.command.as_str(), "initiate" | "terminate" | "rekey")
        && !sel.iter().any(|s| a.opt(s).is_some())
    {
        return Err(Fail::Usage(format!(
            "{}: one of --child, --ike{} is required",
            a.command,
            if a.command == "initiate" {
                ""
            } else {
                ", --child-id, --ike-id"
            }
        )));
    }
    // Read a --file before connecting: a bad file is a usage error.
    let file = if matches!(a.command.as_str(), "load-all" | "load-conns") {
        Some(read_conf(Path::new(
            a.opt("--file").unwrap_or(config::paths::SWANCTL_CONF),
        ))?)
    } else {
        None
    };
    let path = socket_path(&a);
    let mut c = Client::connect(&path)
        .await
        .map_err(|e| Fail::Connect(format!("cannot connect to {}: {e}", path.display())))?;
    let work = dispatch(&a, &mut c, file);
    match a.timeout {
        Some(t) if !matches!(a.command.as_str(), "initiate" | "terminate") => {
            tokio::time::timeout(Duration::from_secs(t) + Duration::from_millis(500), work)
                .await
                .map_err(|_| Fail::Failed(format!("no answer within {t}s")))?
        }
        _ => work.await,
    }
}

async fn dispatch(a: &Args, c: &mut Client, file: Option<config::Section>) -> Result<(), Fail> {
    match a.command.as_str() {
        "version" => {
            let r = checked(c.request("version", &Message::new()).await?)?;
            if a.json {
                return print_json(&to_json(&r));
            }
            say!(
                "{} {} ({}, {}, {})",
                r.str("daemon").unwrap_or("?"),
                r.str("version").unwrap_or("?"),
                r.str("sysname").unwrap_or("?"),
                r.str("release").unwrap_or("?"),
                r.str("machine").unwrap_or("?")
            );
            Ok(())
        }
        "stats" => {
            let r = checked(c.request("stats", &Message::new()).await?)?;
            if a.json {
                return print_json(&to_json(&r));
            }
            let f = |p: &str| r.find_str(p).unwrap_or("-").to_string();
            say!(
                "uptime:              {}, since {}",
                f("uptime.running"),
                f("uptime.since")
            );
            say!(
                "IKE_SAs:             {} total, {} half-open",
                f("ikesas.total"),
                f("ikesas.half-open")
            );
            if let Some(v) = r.section("vtid") {
                for it in &v.items {
                    if let Element::Value(val) = &it.value {
                        say!(
                            "{:<20} {}",
                            format!("{}:", it.name),
                            String::from_utf8_lossy(val)
                        );
                    }
                }
            }
            if let Some(p) = r.list("plugins") {
                let p: Vec<String> = p
                    .iter()
                    .map(|x| String::from_utf8_lossy(x).into_owned())
                    .collect();
                say!("plugins:             {}", p.join(" "));
            }
            Ok(())
        }
        "reload-settings" => {
            let r = checked(c.request("reload-settings", &Message::new()).await?)?;
            if a.json {
                return print_json(&to_json(&r));
            }
            say!("reload-settings completed successfully");
            for n in r.list("not-applied").unwrap_or_default() {
                say!("not applied: {}", String::from_utf8_lossy(n));
            }
            Ok(())
        }
        "initiate" | "terminate" | "rekey" => control(a, c).await,
        "list-sas" => list_sas(a, c).await,
        "list-conns" => list_conns(a, c).await,
        "load-all" | "load-conns" => load(a, c, &file.expect("file read for load commands")).await,
        "unload-conn" => {
            let name = &a.positional[0];
            checked(
                c.request(
                    "unload-conn",
                    &Message::new().with_value("name", name.as_str()),
                )
                .await?,
            )?;
            if a.json {
                return print_json(&json!({"success": true, "unloaded": name}));
            }
            say!("unloaded connection '{name}'");
            Ok(())
        }
        "interfaces" => interfaces(a, c).await,
        "gateways" => gateways(a, c).await,
        "certs" => certs(a, c).await,
        "keylog" => {
            let mut req = Message::new();
            match a.opt("--file") {
                Some(f) => {
                    // vtid writes there: make the path absolute here.
                    let p = std::path::absolute(f)
                        .map_err(|e| Fail::Usage(format!("--file {f}: {e}")))?;
                    req.push_value("file", p.display().to_string());
                }
                None => req.push_value("off", "yes"),
            }
            let r = checked(c.request("vtid-keylog", &req).await?)?;
            let dir = r.str("file").unwrap_or("").to_string();
            if a.json {
                return print_json(&json!({"success": true, "file": dir}));
            }
            if dir.is_empty() {
                say!("key log off");
            } else {
                say!(
                    "writing IKE and ESP keys to {dir}/ikev2_decryption_table and {dir}/esp_sa \
                     (WIRESHARK_CONFIG_DIR={dir} tshark ...); anyone who can read them decrypts \
                     the traffic"
                );
            }
            Ok(())
        }
        _ => unreachable!("checked in run"),
    }
}

/// A reply's `success = no` as a failure.
fn checked(r: Message) -> Result<Message, Fail> {
    if r.str("success") == Some("no") {
        return Err(Fail::Failed(
            r.str("errmsg").unwrap_or("command failed").to_string(),
        ));
    }
    Ok(r)
}

async fn control(a: &Args, c: &mut Client) -> Result<(), Fail> {
    let mut req = Message::new();
    for k in ["--child", "--ike", "--child-id", "--ike-id"] {
        if let Some(v) = a.opt(k) {
            req.push_value(&k[2..], v);
        }
    }
    if a.flag("--force") {
        req.push_value("force", "yes");
    }
    if a.flag("--reauth") {
        req.push_value("reauth", "yes");
    }
    if a.command != "rekey" {
        if let Some(t) = a.timeout {
            req.push_value("timeout", (t * 1000).to_string());
        }
        c.register("control-log").await?;
    }
    let json = a.json;
    let mut log = Vec::new();
    let r = c
        .request_streaming(&a.command, &req, |name, m| {
            if name == "control-log" {
                let line = format!(
                    "[{}] {}",
                    m.str("group").unwrap_or("?"),
                    m.str("msg").unwrap_or("")
                );
                if !json {
                    say!("{line}");
                }
                log.push(line);
            }
        })
        .await?;
    let ok = r.str("success") != Some("no");
    if json {
        let mut v = to_json(&r);
        if let Value::Object(o) = &mut v {
            o.insert("success".into(), Value::Bool(ok));
            o.insert("log".into(), json!(log));
        }
        print_json(&v)?;
        return if ok {
            Ok(())
        } else {
            Err(Fail::Failed(format!("{} failed", a.command)))
        };
    }
    if !ok {
        return Err(Fail::Failed(format!(
            "{} failed: {}",
            a.command,
            r.str("errmsg").unwrap_or("")
        )));
    }
    say!("{} completed successfully", a.command);
    Ok(())
}

/// Collects the events `event` streamed during `command`.
async fn collect(
    c: &mut Client,
    event: &str,
    command: &str,
    req: &Message,
) -> Result<Vec<(String, Message)>, Fail> {
    c.register(event).await?;
    let mut out = Vec::new();
    let r = c
        .request_streaming(command, req, |name, m| {
            if name == event {
                for it in m.items {
                    if let Element::Section(s) = it.value {
                        out.push((it.name, s));
                    }
                }
            }
        })
        .await?;
    checked(r)?;
    Ok(out)
}

async fn list_sas(a: &Args, c: &mut Client) -> Result<(), Fail> {
    let mut req = Message::new();
    if let Some(v) = a.opt("--ike") {
        req.push_value("ike", v);
    }
    if let Some(v) = a.opt("--ike-id") {
        req.push_value("ike-id", v);
    }
    let sas = collect(c, "list-sa", "list-sas", &req).await?;
    if a.json {
        return print_json(&named_array(&sas));
    }
    let mut ike = Table::new(&["IKE_SA", "#", "STATE", "LOCAL", "REMOTE", "PROPOSAL", "UP"]);
    let mut child = Table::new(&[
        "CHILD_SA", "#", "IKE#", "REQID", "STATE", "SPI-IN", "SPI-OUT", "IN", "OUT", "TS",
    ]);
    for (name, m) in &sas {
        let s = |k: &str| m.str(k).unwrap_or("").to_string();
        let mut prop = s("encr-alg");
        if let Some(k) = m.str("encr-keysize") {
            prop = format!("{prop}-{k}");
        }
        for k in ["integ-alg", "prf-alg", "dh-group"] {
            if let Some(v) = m.str(k) {
                prop = format!("{prop}/{v}");
            }
        }
        ike.row(vec![
            name.clone(),
            s("uniqueid"),
            s("state"),
            format!("{}@{}[{}]", s("local-id"), s("local-host"), s("local-port")),
            format!(
                "{}@{}[{}]",
                s("remote-id"),
                s("remote-host"),
                s("remote-port")
            ),
            prop,
            m.str("established")
                .map_or_else(|| "-".into(), |e| format!("{e}s")),
        ]);
        if let Some(ch) = m.section("child-sas") {
            for it in &ch.items {
                let Element::Section(cm) = &it.value else {
                    continue;
                };
                let t = |k: &str| cm.str(k).unwrap_or("").to_string();
                let list = |k: &str| joined(cm, k);
                child.row(vec![
                    t("name"),
                    t("uniqueid"),
                    s("uniqueid"),
                    t("reqid"),
                    t("state"),
                    t("spi-in"),
                    t("spi-out"),
                    format!("{}B/{}p", t("bytes-in"), t("packets-in")),
                    format!("{}B/{}p", t("bytes-out"), t("packets-out")),
                    format!("{} === {}", list("local-ts"), list("remote-ts")),
                ]);
            }
        }
    }
    if sas.is_empty() {
        say!("no IKE_SAs");
        return Ok(());
    }
    ike.print();
    if !child.rows.is_empty() {
        say!("");
        child.print();
    }
    Ok(())
}

async fn list_conns(a: &Args, c: &mut Client) -> Result<(), Fail> {
    let mut req = Message::new();
    if let Some(v) = a.opt("--ike") {
        req.push_value("ike", v);
    }
    let conns = collect(c, "list-conn", "list-conns", &req).await?;
    if a.json {
        return print_json(&named_array(&conns));
    }
    if conns.is_empty() {
        say!("no connections loaded");
        return Ok(());
    }
    let mut t = Table::new(&[
        "CONNECTION",
        "LOCAL",
        "REMOTE",
        "LOCAL-ID",
        "REMOTE-ID",
        "CHILD",
        "REQID",
        "TS",
    ]);
    for (name, m) in &conns {
        let join = |k: &str| joined(m, k);
        let id = |side: &str| {
            m.items
                .iter()
                .filter(|i| i.name.starts_with(side))
                .find_map(|i| match &i.value {
                    Element::Section(s) => s.str("id").map(str::to_owned),
                    _ => None,
                })
                .unwrap_or_default()
        };
        let mut first = true;
        let children = m.section("children").cloned().unwrap_or_default();
        for it in &children.items {
            let Element::Section(cm) = &it.value else {
                continue;
            };
            let l = |k: &str| joined(cm, k);
            let (n, la, ra, li, ri) = if first {
                (
                    name.clone(),
                    join("local_addrs"),
                    join("remote_addrs"),
                    id("local"),
                    id("remote"),
                )
            } else {
                Default::default()
            };
            first = false;
            t.row(vec![
                n,
                la,
                ra,
                li,
                ri,
                it.name.clone(),
                cm.str("reqid").unwrap_or("").into(),
                format!("{} === {}", l("local-ts"), l("remote-ts")),
            ]);
        }
        if first {
            t.row(vec![
                name.clone(),
                join("local_addrs"),
                join("remote_addrs"),
                id("local"),
                id("remote"),
                "-".into(),
                "".into(),
                "".into(),
            ]);
        }
    }
    t.print();
    Ok(())
}

async fn certs(a: &Args, c: &mut Client) -> Result<(), Fail> {
    c.register("list-cert").await?;
    let mut items: Vec<Message> = Vec::new();
    let r = c
        .request_streaming("list-certs", &Message::new(), |name, m| {
            if name == "list-cert" {
                items.push(m);
            }
        })
        .await?;
    checked(r)?;
    let fmt_t = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0).map_or_else(
            || t.to_string(),
            |d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        )
    };
    let mut rows = Vec::new();
    for m in &items {
        let data = m.value("data").unwrap_or_default();
        let ty = m.str("type").unwrap_or("");
        let row = if ty == "X509_CRL" {
            match pki::Crl::from_der(data) {
                Ok(crl) => vec![
                    "CRL".to_string(),
                    pki::dn::to_string(&crl.issuer),
                    format!("{} revoked", crl.revoked.len()),
                    crl.next_update.map_or("-".into(), fmt_t),
                    String::new(),
                    String::new(),
                ],
                Err(e) => vec![
                    "CRL".into(),
                    format!("(unreadable: {e})"),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                ],
            }
        } else {
            match pki::Certificate::from_der(data) {
                Ok(cert) => vec![
                    if m.str("flag") == Some("CA") {
                        "CA".into()
                    } else {
                        "X509".into()
                    },
                    cert.subject_string(),
                    cert.issuer_string(),
                    fmt_t(cert.not_after),
                    format!("{} {}", cert.public_key.key_type(), cert.public_key.bits()),
                    if m.str("has_privkey") == Some("yes") {
                        "yes".into()
                    } else {
                        "no".into()
                    },
                ],
                Err(e) => vec![
                    ty.to_string(),
                    format!("(unreadable: {e})"),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                ],
            }
        };
        rows.push(row);
    }
    let heads = [
        "TYPE",
        "SUBJECT",
        "ISSUER",
        "NOT AFTER",
        "KEY",
        "PRIVATE KEY",
    ];
    if a.json {
        let v = Value::Array(
            rows.iter()
                .map(|r| {
                    Value::Object(
                        heads
                            .iter()
                            .zip(r)
                            .map(|(h, c)| {
                                (
                                    h.to_ascii_lowercase().replace(' ', "-"),
                                    Value::String(c.clone()),
                                )
                            })
                            .collect(),
                    )
                })
                .collect(),
        );
        return print_json(&v);
    }
    if rows.is_empty() {
        say!("no certificates loaded");
        return Ok(());
    }
    let mut t = Table::new(&heads);
    for r in rows {
        t.row(r);
    }
    t.print();
    Ok(())
}

async fn interfaces(a: &Args, c: &mut Client) -> Result<(), Fail> {
    let r = checked(c.request("vtid-list-interfaces", &Message::new()).await?)?;
    let list = sections(r.section("interfaces"));
    if a.json {
        return print_json(&named_array(&list));
    }
    if list.is_empty() {
        say!("no interfaces configured");
        return Ok(());
    }
    let mut t = Table::new(&[
        "INTERFACE",
        "REQID",
        "STATE",
        "ADDRESSES",
        "PEER",
        "SA",
        "IN",
        "OUT",
    ]);
    for (name, m) in &list {
        let l = |k: &str| joined(m, k);
        let s = |k: &str| m.str(k).unwrap_or("").to_string();
        let sa = m.section("sa").map_or_else(
            || "-".to_string(),
            |sa| {
                format!(
                    "{}/{} {}_i {}_o",
                    sa.str("conn").unwrap_or(""),
                    sa.str("child").unwrap_or(""),
                    sa.str("spi-in").unwrap_or(""),
                    sa.str("spi-out").unwrap_or("")
                )
            },
        );
        t.row(vec![
            name.clone(),
            s("reqid"),
            s("state"),
            l("local-addrs"),
            l("remote-addrs"),
            sa,
            format!("{}B/{}p", s("bytes-in"), s("packets-in")),
            format!("{}B/{}p", s("bytes-out"), s("packets-out")),
        ]);
    }
    t.print();
    Ok(())
}

async fn gateways(a: &Args, c: &mut Client) -> Result<(), Fail> {
    let r = checked(c.request("vtid-list-gateways", &Message::new()).await?)?;
    let list = sections(r.section("gateways"));
    if a.json {
        return print_json(&named_array(&list));
    }
    if list.is_empty() {
        say!("no gateways");
    } else {
        let mut t = Table::new(&[
            "NAME",
            "INTERFACE",
            "GATEWAY",
            "MONITOR",
            "STATUS",
            "LOSS",
            "LATENCY",
        ]);
        for (name, m) in &list {
            let s = |k: &str| m.str(k).unwrap_or("-").to_string();
            t.row(vec![
                name.clone(),
                s("interface"),
                s("gateway"),
                s("monitor"),
                s("status"),
                s("loss"),
                s("latency"),
            ]);
        }
        t.print();
    }
    if let Some(n) = r.str("note") {
        say!("\n({n})");
    }
    Ok(())
}

/// A VICI list as text, its items joined by commas.
fn joined(m: &Message, key: &str) -> String {
    m.list(key)
        .unwrap_or_default()
        .iter()
        .map(|x| String::from_utf8_lossy(x).into_owned())
        .collect::<Vec<_>>()
        .join(",")
}

fn sections(m: Option<&Message>) -> Vec<(String, Message)> {
    m.map(|m| {
        m.items
            .iter()
            .filter_map(|i| match &i.value {
                Element::Section(s) => Some((i.name.clone(), s.clone())),
                _ => None,
            })
            .collect()
    })
    .unwrap_or_default()
}

// ---------------------------------------------------------------------
// load-all / load-conns: a swanctl.conf-syntax file → load-conn,
// load-shared, and unloading what is no longer there.

fn read_conf(path: &Path) -> Result<config::Section, Fail> {
    let mut warnings = Vec::new();
    let root = config::settings::parse_file(path, &mut warnings)
        .and_then(|r| r.resolve_references(&mut warnings))
        .map_err(|e| Fail::Usage(format!("{}: {e}", path.display())))?;
    for w in warnings {
        complain!("{w}");
    }
    Ok(root)
}

fn section_message(s: &config::Section) -> Message {
    let mut m = Message::new();
    for kv in &s.settings {
        m.push_value(kv.key.clone(), kv.value.clone().unwrap_or_default());
    }
    for sub in &s.sections {
        m.push_section(sub.name.clone(), section_message(sub));
    }
    m
}

async fn load(a: &Args, c: &mut Client, root: &config::Section) -> Result<(), Fail> {
    let mut report = Map::new();
    let mut failed = Vec::new();
    let all = a.command == "load-all";
    if all {
        let mut loaded = Vec::new();
        let secrets: Vec<&config::Section> = root
            .section("secrets")
            .map(|s| s.sections.iter().collect())
            .unwrap_or_default();
        for s in secrets {
            let ty = ["eap", "xauth", "ike", "ppk"]
                .into_iter()
                .find(|p| s.name.starts_with(p));
            let Some(ty) = ty else {
                complain!(
                    "secrets.{}: not a shared secret vtid loads; skipped",
                    s.name
                );
                continue;
            };
            let Some(value) = s.value("secret") else {
                failed.push(format!("secrets.{}: no 'secret'", s.name));
                continue;
            };
            let secret = config::Secret::parse(value)
                .map_err(|e| Fail::Usage(format!("secrets.{}: {e}", s.name)))?;
            let owners: Vec<String> = s
                .settings
                .iter()
                .filter(|kv| kv.key.starts_with("id"))
                .filter_map(|kv| kv.value.clone())
                .collect();
            let req = Message::new()
                .with_value("id", s.name.as_str())
                .with_value("type", ty)
                .with_value("data", secret.expose())
                .with_list("owners", owners);
            match checked(c.request("load-shared", &req).await?) {
                Ok(_) => {
                    loaded.push(s.name.clone());
                    if !a.json {
                        say!("loaded {ty} secret '{}'", s.name);
                    }
                }
                Err(Fail::Failed(e)) => failed.push(format!("secret '{}': {e}", s.name)),
                Err(e) => return Err(e),
            }
        }
        let have = c.request("get-shared", &Message::new()).await?;
        let mut unloaded = Vec::new();
        for id in have.list("keys").unwrap_or_default() {
            let id = String::from_utf8_lossy(id).into_owned();
            if !loaded.contains(&id) {
                checked(
                    c.request(
                        "unload-shared",
                        &Message::new().with_value("id", id.as_str()),
                    )
                    .await?,
                )?;
                unloaded.push(id);
            }
        }
        report.insert("secrets-loaded".into(), json!(loaded));
        report.insert("secrets-unloaded".into(), json!(unloaded));
    }
    let conns: Vec<&config::Section> = root
        .section("connections")
        .map(|s| s.sections.iter().collect())
        .unwrap_or_default();
    let mut loaded = Vec::new();
    for s in conns {
        let req = Message::new().with_section(s.name.clone(), section_message(s));
        match checked(c.request("load-conn", &req).await?) {
            Ok(_) => {
                loaded.push(s.name.clone());
                if !a.json {
                    say!("loaded connection '{}'", s.name);
                }
            }
            Err(Fail::Failed(e)) => failed.push(format!("connection '{}': {e}", s.name)),
            Err(e) => return Err(e),
        }
    }
    let have = c.request("get-conns", &Message::new()).await?;
    let mut unloaded = Vec::new();
    for n in have.list("conns").unwrap_or_default() {
        let n = String::from_utf8_lossy(n).into_owned();
        if !loaded.contains(&n) && !failed.iter().any(|f| f.contains(&format!("'{n}'"))) {
            checked(
                c.request(
                    "unload-conn",
                    &Message::new().with_value("name", n.as_str()),
                )
                .await?,
            )?;
            if !a.json {
                say!("unloaded connection '{n}'");
            }
            unloaded.push(n);
        }
    }
    report.insert("conns-loaded".into(), json!(loaded));
    report.insert("conns-unloaded".into(), json!(unloaded));
    report.insert("errors".into(), json!(failed));
    report.insert("success".into(), Value::Bool(failed.is_empty()));
    if a.json {
        print_json(&Value::Object(report))?;
    } else {
        say!(
            "loaded {} connection(s), unloaded {}",
            loaded.len(),
            unloaded.len()
        );
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Fail::Failed(failed.join("\n")))
    }
}

// ---------------------------------------------------------------------
// Output.

/// A VICI message as JSON: sections → objects, lists → arrays of strings,
/// values → strings.
fn to_json(m: &Message) -> Value {
    let mut o = Map::new();
    for it in &m.items {
        let v = match &it.value {
            Element::Value(v) => Value::String(String::from_utf8_lossy(v).into_owned()),
            Element::List(l) => Value::Array(
                l.iter()
                    .map(|x| Value::String(String::from_utf8_lossy(x).into_owned()))
                    .collect(),
            ),
            Element::Section(s) => to_json(s),
        };
        o.insert(it.name.clone(), v);
    }
    Value::Object(o)
}

/// `[{"name": NAME, ...fields}]`.
fn named_array(list: &[(String, Message)]) -> Value {
    Value::Array(
        list.iter()
            .map(|(n, m)| {
                let mut v = to_json(m);
                if let Value::Object(o) = &mut v {
                    o.insert("name".into(), Value::String(n.clone()));
                }
                v
            })
            .collect(),
    )
}

fn print_json(v: &Value) -> Result<(), Fail> {
    let s = serde_json::to_string_pretty(v).map_err(|e| Fail::Failed(e.to_string()))?;
    say!("{s}");
    Ok(())
}

struct Table {
    head: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(head: &[&str]) -> Table {
        Table {
            head: head.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    fn row(&mut self, r: Vec<String>) {
        self.rows.push(r);
    }

    fn print(&self) {
        let mut w: Vec<usize> = self.head.iter().map(String::len).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate() {
                w[i] = w[i].max(c.chars().count());
            }
        }
        let line = |cells: &[String]| {
            let mut s = String::new();
            for (i, c) in cells.iter().enumerate() {
                if i + 1 == cells.len() {
                    s.push_str(c);
                } else {
                    s.push_str(&format!("{c:<width$}  ", width = w[i]));
                }
            }
            say!("{}", s.trim_end());
        };
        line(&self.head);
        for r in &self.rows {
            line(r);
        }
    }
}
