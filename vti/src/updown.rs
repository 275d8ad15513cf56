//! strongSwan-compatible `updown` hooks.
//!
//! A child's `updown = /path/script args` runs when the CHILD SA comes up
//! and goes down, exactly as strongSwan's `updown` plugin runs it
//! (`src/libcharon/plugins/updown/updown_listener.c`, 5.9.8 to 6.0):
//!
//! - once per pair of traffic selectors (local × remote), in the order of
//!   `child_sa.c`'s policy enumerator: both lists sorted like
//!   `traffic_selector_cmp` (IPv4 first, lower start first, larger range
//!   first, lower protocol, lower start port, larger port range), local
//!   outer, remote inner; pairs of different families, or of two different
//!   non-zero protocols, are skipped ([`ts_pairs`]);
//! - through `/bin/sh -c "2>&1 <updown>"` with an environment of exactly
//!   `PATH` (the daemon's) and the `PLUTO_*` variables ([`environment`]),
//!   stdout and stderr logged line by line as `updown: <line>`.
//!
//! Unlike strongSwan, which waits for the script in the thread that
//! raised the event, [`UpdownRunner`] runs scripts in tokio tasks: calls
//! for one reqid run one after the other in submission order (a `down`
//! never overtakes its `up`), different reqids run side by side, and a
//! script that outlives [`UpdownSettings::timeout`] is killed with its
//! whole process group and logged.
//!
//! vtid adds two variables for routed children: `VTID_INTERFACE`
//! (`ipsec7`) and `VTID_GATEWAY` (`IPSEC7_VTIV4` or `IPSEC7_VTIV6`, the
//! gateway of the pair's family, when there is one).

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ike::engine::Ts;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::{mpsc, oneshot};
use tokio::task::{JoinHandle, JoinSet};

use crate::gateway::{gateway_name, Family};

/// Up or down.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verb {
    /// The CHILD SA was installed.
    Up,
    /// It was deleted.
    Down,
}

/// The IPsec protocol of the CHILD SA (`PLUTO_PROTO`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum IpsecProto {
    /// `esp`.
    #[default]
    Esp,
    /// `ah`.
    Ah,
}

/// An XFRM mark: `PLUTO_MARK_IN`/`OUT` print it as `value/0xmask`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    /// The value; 0 means no mark (no variable, like strongSwan).
    pub value: u32,
    /// The mask.
    pub mask: u32,
}

/// The VTI a routed child belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Routed {
    /// `ipsec7` (`VTID_INTERFACE`).
    pub interface: String,
    /// Its IPv4 gateway's name, if it has one (`VTID_GATEWAY` of IPv4 pairs).
    pub gateway_v4: Option<String>,
    /// Its IPv6 gateway's name (`VTID_GATEWAY` of IPv6 pairs).
    pub gateway_v6: Option<String>,
}

impl Routed {
    /// From the interface's configuration (the gateways that
    /// [`crate::gateway::GatewaySpec::for_interface`] creates).
    pub fn from_interface(iface: &config::Interface) -> Routed {
        let gw = |fam: Family| {
            iface
                .remote_addrs
                .iter()
                .any(|a| Family::of(*a) == fam)
                .then(|| gateway_name(&iface.name, fam))
        };
        Routed {
            interface: iface.name.clone(),
            gateway_v4: gw(Family::V4),
            gateway_v6: gw(Family::V6),
        }
    }
}

/// What the daemon knows of a CHILD SA when it comes up or goes down; the
/// updown environment is made from it. Field docs name the variable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdownContext {
    /// The child's `updown` command line (run by `/bin/sh -c`).
    pub updown: String,
    /// `PLUTO_CONNECTION`: strongSwan puts the **child's** name here (the
    /// child_cfg's), not the connection's.
    pub child_name: String,
    /// `PLUTO_REQID`; also the key that orders calls.
    pub reqid: u32,
    /// `PLUTO_PROTO`.
    pub proto: IpsecProto,
    /// `PLUTO_UNIQUEID`: the unique id of the **IKE SA**.
    pub ike_unique_id: u32,
    /// `PLUTO_ME`: our IKE address.
    pub me: IpAddr,
    /// `PLUTO_PEER` (address) and `PLUTO_UDP_ENC` (port, with `nat`).
    pub peer: SocketAddr,
    /// `PLUTO_MY_ID`, formatted as strongSwan prints identities (`%Y`).
    pub my_id: String,
    /// `PLUTO_PEER_ID`, likewise.
    pub peer_id: String,
    /// Our traffic selectors.
    pub local_ts: Vec<Ts>,
    /// The peer's.
    pub remote_ts: Vec<Ts>,
    /// A NAT was detected (strongSwan's COND_NAT_ANY): sets `PLUTO_UDP_ENC`
    /// to the peer's port.
    pub nat: bool,
    /// `PLUTO_XAUTH_ID`: the peer's EAP/XAuth identity, if it used one.
    pub xauth_id: Option<String>,
    /// Virtual IPs we got (`PLUTO_MY_SOURCEIP`, `PLUTO_MY_SOURCEIP4_n`, ...).
    pub my_vips: Vec<IpAddr>,
    /// Virtual IPs we handed out (`PLUTO_PEER_SOURCEIP...`).
    pub peer_vips: Vec<IpAddr>,
    /// DNS servers received (`PLUTO_DNS4_n`, `PLUTO_DNS6_n`).
    pub dns: Vec<IpAddr>,
    /// `PLUTO_MARK_IN`.
    pub mark_in: Option<Mark>,
    /// `PLUTO_MARK_OUT`.
    pub mark_out: Option<Mark>,
    /// `PLUTO_IF_ID_IN` (0: none).
    pub if_id_in: u32,
    /// `PLUTO_IF_ID_OUT` (0: none).
    pub if_id_out: u32,
    /// `PLUTO_IPCOMP=1`.
    pub ipcomp: bool,
    /// `PLUTO_HOST_ACCESS=1`.
    pub host_access: bool,
    /// `PLUTO_INTERFACE` for an `up`: strongSwan uses the interface of its
    /// route to the peer. `None`: the interface that holds `me`
    /// ([`interface_of`]). A `down` uses what its `up` used (strongSwan
    /// caches it per reqid), `unknown` if nothing.
    pub interface: Option<String>,
    /// The VTI of a routed child (`VTID_INTERFACE`, `VTID_GATEWAY`).
    pub routed: Option<Routed>,
}

impl UpdownContext {
    /// A context from the engine's install action; the rest (ids, VIPs,
    /// marks, ...) the daemon sets on the result.
    pub fn from_child_install(
        ci: &ike::engine::ChildInstall,
        ike_unique_id: u32,
        my_id: impl Into<String>,
        peer_id: impl Into<String>,
        updown: impl Into<String>,
    ) -> UpdownContext {
        UpdownContext {
            updown: updown.into(),
            child_name: ci.child.clone(),
            reqid: ci.reqid,
            proto: IpsecProto::Esp,
            ike_unique_id,
            me: ci.local.ip(),
            peer: ci.remote,
            my_id: my_id.into(),
            peer_id: peer_id.into(),
            local_ts: ci.local_ts.clone(),
            remote_ts: ci.remote_ts.clone(),
            nat: ci.encap,
            xauth_id: None,
            my_vips: Vec::new(),
            peer_vips: Vec::new(),
            dns: Vec::new(),
            mark_in: None,
            mark_out: None,
            if_id_in: ci.if_id.0,
            if_id_out: ci.if_id.1,
            ipcomp: false,
            host_access: false,
            interface: None,
            routed: None,
        }
    }
}

/// One script run: the verb and the environment for one TS pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invocation {
    /// `PLUTO_VERB`, e.g. `up-client-v6`.
    pub verb: String,
    /// The environment, in strongSwan's order.
    pub env: Vec<(String, String)>,
}

impl Invocation {
    /// A variable's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn ts_key(
    t: &Ts,
) -> (
    u8,
    u128,
    std::cmp::Reverse<u128>,
    u8,
    u16,
    std::cmp::Reverse<u16>,
) {
    let n = |a: IpAddr| match a {
        IpAddr::V4(v) => u128::from(u32::from(v)),
        IpAddr::V6(v) => u128::from(v),
    };
    (
        u8::from(!t.start.is_ipv4()),
        n(t.start),
        std::cmp::Reverse(n(t.end)),
        t.proto,
        t.start_port,
        std::cmp::Reverse(t.end_port),
    )
}

/// The TS pairs strongSwan calls the script for, in its order (see the
/// module documentation).
pub fn ts_pairs(local: &[Ts], remote: &[Ts]) -> Vec<(Ts, Ts)> {
    let mut l = local.to_vec();
    let mut r = remote.to_vec();
    l.sort_by_key(ts_key);
    r.sort_by_key(ts_key);
    let mut out = Vec::new();
    for a in &l {
        for b in &r {
            if a.start.is_ipv4() != b.start.is_ipv4() {
                continue;
            }
            if a.proto != 0 && b.proto != 0 && a.proto != b.proto {
                continue;
            }
            out.push((*a, *b));
        }
    }
    out
}

/// A TS as a subnet, as strongSwan's `to_subnet`: the prefix is the bits
/// `start` and `end` share, the network `start` cut to it. The flag says
/// whether that is exact; a range that is no subnet becomes the next
/// larger one (10.1.5.1-10.1.5.9 → 10.1.5.0/28).
pub fn ts_to_subnet(ts: &Ts) -> (IpAddr, u8, bool) {
    let (s, e, bits) = match (ts.start, ts.end) {
        (IpAddr::V4(s), IpAddr::V4(e)) => (
            u128::from(u32::from(s)) << 96,
            u128::from(u32::from(e)) << 96,
            32,
        ),
        (IpAddr::V6(s), IpAddr::V6(e)) => (u128::from(s), u128::from(e), 128),
        // Mixed families cannot come from the engine; treat as the start.
        (s, _) => return (s, if s.is_ipv4() { 32 } else { 128 }, false),
    };
    let prefix = ((s ^ e).leading_zeros()).min(bits) as u8;
    let host_mask = u128::MAX.checked_shr(u32::from(prefix)).unwrap_or(0);
    let exact = s & host_mask == 0 && e & host_mask == host_mask >> (128 - bits) << (128 - bits);
    let net = s & !host_mask;
    let addr = if bits == 32 {
        IpAddr::V4(((net >> 96) as u32).into())
    } else {
        IpAddr::V6(net.into())
    };
    (addr, prefix, exact)
}

fn is_host(ts: &Ts, me: IpAddr) -> bool {
    ts.start == me && ts.end == me
}

/// strongSwan's `%H` of an address: `%any`/`%any6` for the unspecified one.
fn fmt_host(a: IpAddr) -> String {
    match a {
        IpAddr::V4(v) if v.is_unspecified() => "%any".into(),
        IpAddr::V6(v) if v.is_unspecified() => "%any6".into(),
        a => a.to_string(),
    }
}

/// `PLUTO_MY_PORT`/`PLUTO_PEER_PORT` (updown_listener.c `get_port`): for
/// ICMP/ICMPv6 the type (local) and code (peer) of the larger start port;
/// otherwise the port, `from:to` for a real range, the start port for a
/// single port or any (0-65535 prints `0`).
fn port_var(me: &Ts, other: &Ts, local: bool) -> String {
    if matches!(me.proto.max(other.proto), 1 | 58) {
        let port = me.start_port.max(other.start_port);
        return if local { port >> 8 } else { port & 0xff }.to_string();
    }
    let t = if local { me } else { other };
    if t.start_port == t.end_port || (t.start_port == 0 && t.end_port == 65535) {
        t.start_port.to_string()
    } else {
        format!("{}:{}", t.start_port, t.end_port)
    }
}

/// The invocations for `verb`, one per TS pair, with `PLUTO_INTERFACE` =
/// `iface` (or `unknown`) and `PATH` = `path`.
pub fn environment(
    verb: Verb,
    ctx: &UpdownContext,
    iface: Option<&str>,
    path: &str,
) -> Vec<Invocation> {
    ts_pairs(&ctx.local_ts, &ctx.remote_ts)
        .into_iter()
        .map(|(my, other)| invocation(verb, ctx, iface, path, &my, &other))
        .collect()
}

fn invocation(
    verb: Verb,
    ctx: &UpdownContext,
    iface: Option<&str>,
    path: &str,
    my: &Ts,
    other: &Ts,
) -> Invocation {
    let mut env: Vec<(String, String)> = Vec::with_capacity(40);
    let mut push = |k: &str, v: String| env.push((k.to_string(), v));
    push("PATH", path.to_string());
    push("PLUTO_VERSION", "1.1".into());
    let host = is_host(my, ctx.me);
    let v6 = if host {
        ctx.me.is_ipv6()
    } else {
        my.start.is_ipv6()
    };
    let verb_s = format!(
        "{}{}{}",
        match verb {
            Verb::Up => "up",
            Verb::Down => "down",
        },
        if host { "-host" } else { "-client" },
        if v6 { "-v6" } else { "" }
    );
    push("PLUTO_VERB", verb_s.clone());
    push("PLUTO_CONNECTION", ctx.child_name.clone());
    push("PLUTO_INTERFACE", iface.unwrap_or("unknown").to_string());
    push("PLUTO_REQID", ctx.reqid.to_string());
    push(
        "PLUTO_PROTO",
        match ctx.proto {
            IpsecProto::Esp => "esp",
            IpsecProto::Ah => "ah",
        }
        .into(),
    );
    push("PLUTO_UNIQUEID", ctx.ike_unique_id.to_string());
    push("PLUTO_ME", fmt_host(ctx.me));
    push("PLUTO_MY_ID", printable(&ctx.my_id));
    let (net, mask, exact) = ts_to_subnet(my);
    if !exact {
        tracing::info!(
            "updown approximates local TS {}-{} by next larger subnet {net}/{mask}",
            my.start,
            my.end
        );
    }
    push("PLUTO_MY_CLIENT", format!("{net}/{mask}"));
    push("PLUTO_MY_PORT", port_var(my, other, true));
    push("PLUTO_MY_PROTOCOL", my.proto.to_string());
    push("PLUTO_PEER", fmt_host(ctx.peer.ip()));
    push("PLUTO_PEER_ID", printable(&ctx.peer_id));
    let (net, mask, exact) = ts_to_subnet(other);
    if !exact {
        tracing::info!(
            "updown approximates remote TS {}-{} by next larger subnet {net}/{mask}",
            other.start,
            other.end
        );
    }
    push("PLUTO_PEER_CLIENT", format!("{net}/{mask}"));
    push("PLUTO_PEER_PORT", port_var(my, other, false));
    push("PLUTO_PEER_PROTOCOL", other.proto.to_string());
    if let Some(x) = &ctx.xauth_id {
        push("PLUTO_XAUTH_ID", printable(x));
    }
    for (side, vips) in [("MY", &ctx.my_vips), ("PEER", &ctx.peer_vips)] {
        let (mut v4, mut v6) = (0, 0);
        for (i, vip) in vips.iter().enumerate() {
            if i == 0 {
                push(&format!("PLUTO_{side}_SOURCEIP"), fmt_host(*vip));
            }
            let (fam, n) = if vip.is_ipv4() {
                v4 += 1;
                (4, v4)
            } else {
                v6 += 1;
                (6, v6)
            };
            push(&format!("PLUTO_{side}_SOURCEIP{fam}_{n}"), fmt_host(*vip));
        }
    }
    for (k, m) in [
        ("PLUTO_MARK_IN", ctx.mark_in),
        ("PLUTO_MARK_OUT", ctx.mark_out),
    ] {
        if let Some(m) = m.filter(|m| m.value != 0) {
            push(k, format!("{}/0x{:08x}", m.value, m.mask));
        }
    }
    if ctx.if_id_in != 0 {
        push("PLUTO_IF_ID_IN", ctx.if_id_in.to_string());
    }
    if ctx.if_id_out != 0 {
        push("PLUTO_IF_ID_OUT", ctx.if_id_out.to_string());
    }
    if ctx.nat {
        push("PLUTO_UDP_ENC", ctx.peer.port().to_string());
    }
    if ctx.ipcomp {
        push("PLUTO_IPCOMP", "1".into());
    }
    let (mut d4, mut d6) = (0, 0);
    for d in &ctx.dns {
        if d.is_ipv4() {
            d4 += 1;
            push(&format!("PLUTO_DNS4_{d4}"), fmt_host(*d));
        } else {
            d6 += 1;
            push(&format!("PLUTO_DNS6_{d6}"), fmt_host(*d));
        }
    }
    if ctx.host_access {
        push("PLUTO_HOST_ACCESS", "1".into());
    }
    if let Some(r) = &ctx.routed {
        push("VTID_INTERFACE", r.interface.clone());
        let gw = if my.start.is_ipv4() {
            &r.gateway_v4
        } else {
            &r.gateway_v6
        };
        if let Some(g) = gw {
            push("VTID_GATEWAY", g.clone());
        }
    }
    Invocation { verb: verb_s, env }
}

/// An identity for the environment: every character outside printable
/// ASCII becomes `?`, as strongSwan prints identities (`%Y`,
/// `chunk_printable`). The peer chooses its identity (and an EAP/XAuth
/// name): a NUL would make the script's spawn fail (the `down` of a tunnel
/// never runs), a newline would split a line the script logs.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if (' '..='~').contains(&c) { c } else { '?' })
        .collect()
}

/// The interface that holds `addr` (getifaddrs), e.g. for `PLUTO_INTERFACE`.
pub fn interface_of(addr: IpAddr) -> Option<String> {
    use nix::sys::socket::SockaddrLike;
    let addrs = nix::ifaddrs::getifaddrs().ok()?;
    for ifa in addrs {
        let Some(a) = ifa.address else { continue };
        let ip = match a.family() {
            Some(nix::sys::socket::AddressFamily::Inet) => a
                .as_sockaddr_in()
                .map(|s| IpAddr::V4(std::net::SocketAddrV4::from(*s).ip().to_owned())),
            Some(nix::sys::socket::AddressFamily::Inet6) => a
                .as_sockaddr_in6()
                .map(|s| IpAddr::V6(std::net::SocketAddrV6::from(*s).ip().to_owned())),
            _ => None,
        };
        if ip == Some(addr) {
            return Some(ifa.interface_name);
        }
    }
    None
}

/// Limits of script runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdownSettings {
    /// A run still going after this is killed (SIGKILL to its process
    /// group). Default 30 s: scripts add routes and firewall rules in
    /// milliseconds, and a reqid's later calls wait for this one.
    pub timeout: Duration,
    /// Output lines kept per run in the [`UpdownReport`] (all are logged).
    pub max_report_lines: usize,
    /// `PATH` for the script; default the daemon's, else
    /// `/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`.
    pub path: String,
}

impl Default for UpdownSettings {
    fn default() -> UpdownSettings {
        UpdownSettings {
            timeout: Duration::from_secs(30),
            max_report_lines: 100,
            path: std::env::var("PATH").unwrap_or_else(|_| {
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()
            }),
        }
    }
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunOutcome {
    /// Exited with this status (0 = success).
    Exited(i32),
    /// Killed by a signal it did not get from us.
    Signaled(i32),
    /// Over the timeout: killed.
    TimedOut,
    /// `/bin/sh` could not be started.
    SpawnFailed(String),
}

/// One finished run (for tests and the control socket).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdownReport {
    /// The child's reqid.
    pub reqid: u32,
    /// `PLUTO_VERB`.
    pub verb: String,
    /// `PLUTO_MY_CLIENT` and `PLUTO_PEER_CLIENT` of the pair.
    pub clients: (String, String),
    /// How it ended.
    pub outcome: RunOutcome,
    /// Its output (stdout and stderr), at most `max_report_lines` lines.
    pub output: Vec<String>,
    /// How long it ran.
    pub elapsed: Duration,
}

enum Msg {
    Run(Verb, Box<UpdownContext>),
    Idle(oneshot::Sender<()>),
}

/// Runs updown scripts in the background (see the module documentation).
/// Dropping it lets queued runs finish; [`UpdownRunner::shutdown`] waits
/// for them.
#[derive(Debug)]
pub struct UpdownRunner {
    tx: mpsc::UnboundedSender<Msg>,
    task: JoinHandle<()>,
}

impl UpdownRunner {
    /// A runner (inside a tokio runtime); `reports`, if given, receives a
    /// report of every run.
    pub fn spawn(
        settings: UpdownSettings,
        reports: Option<mpsc::UnboundedSender<UpdownReport>>,
    ) -> UpdownRunner {
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(dispatch(settings, rx, reports));
        UpdownRunner { tx, task }
    }

    /// Queues the calls for a child going up or down; returns at once.
    /// Calls for the same reqid run in the order they were submitted.
    pub fn submit(&self, verb: Verb, ctx: UpdownContext) {
        if self.tx.send(Msg::Run(verb, Box::new(ctx))).is_err() {
            tracing::warn!("updown runner is gone; script not run");
        }
    }

    /// Waits until nothing is queued or running.
    pub async fn idle(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Idle(tx)).is_ok() {
            let _ = rx.await;
        }
    }

    /// Runs what is queued, then stops.
    pub async fn shutdown(self) {
        drop(self.tx);
        let _ = self.task.await;
    }
}

type IfaceCache = Arc<Mutex<HashMap<u32, Vec<String>>>>;

async fn dispatch(
    settings: UpdownSettings,
    mut rx: mpsc::UnboundedReceiver<Msg>,
    reports: Option<mpsc::UnboundedSender<UpdownReport>>,
) {
    let settings = Arc::new(settings);
    let cache: IfaceCache = Arc::default();
    let mut queues: HashMap<u32, VecDeque<(Verb, Box<UpdownContext>)>> = HashMap::new();
    let mut running: JoinSet<u32> = JoinSet::new();
    let mut busy: std::collections::HashSet<u32> = Default::default();
    let mut idle_waiters: Vec<oneshot::Sender<()>> = Vec::new();
    let mut open = true;
    loop {
        // Start the head of every queue whose reqid is not busy.
        let ready: Vec<u32> = queues
            .iter()
            .filter(|(k, q)| !q.is_empty() && !busy.contains(k))
            .map(|(k, _)| *k)
            .collect();
        for key in ready {
            let Some((verb, ctx)) = queues.get_mut(&key).and_then(VecDeque::pop_front) else {
                continue;
            };
            busy.insert(key);
            let (s, c, r) = (settings.clone(), cache.clone(), reports.clone());
            running.spawn(async move {
                run_child(&s, &c, r.as_ref(), verb, &ctx).await;
                key
            });
        }
        queues.retain(|_, q| !q.is_empty());
        if busy.is_empty() && queues.is_empty() {
            for w in idle_waiters.drain(..) {
                let _ = w.send(());
            }
            if !open {
                return;
            }
        }
        tokio::select! {
            m = rx.recv(), if open => match m {
                Some(Msg::Run(verb, ctx)) => {
                    queues.entry(ctx.reqid).or_default().push_back((verb, ctx));
                }
                Some(Msg::Idle(w)) => idle_waiters.push(w),
                None => open = false,
            },
            Some(done) = running.join_next(), if !running.is_empty() => {
                match done {
                    Ok(key) => { busy.remove(&key); }
                    Err(e) => {
                        // A panicking run: forget every busy key it may hold.
                        tracing::error!("updown task failed: {e}");
                        busy.clear();
                    }
                }
            }
        }
    }
}

/// Runs one child event: every TS pair in order.
async fn run_child(
    settings: &UpdownSettings,
    cache: &IfaceCache,
    reports: Option<&mpsc::UnboundedSender<UpdownReport>>,
    verb: Verb,
    ctx: &UpdownContext,
) {
    let pairs = ts_pairs(&ctx.local_ts, &ctx.remote_ts);
    for (my, other) in pairs {
        // strongSwan looks the interface up (and caches it under the reqid)
        // for each pair of an up, and takes one cached entry per pair of a
        // down.
        let iface = match verb {
            Verb::Up => {
                let i = ctx.interface.clone().or_else(|| interface_of(ctx.me));
                if let Some(i) = &i {
                    cache
                        .lock()
                        .expect("cache lock")
                        .entry(ctx.reqid)
                        .or_default()
                        .push(i.clone());
                }
                i
            }
            Verb::Down => {
                let mut c = cache.lock().expect("cache lock");
                let i = c.get_mut(&ctx.reqid).and_then(Vec::pop);
                if c.get(&ctx.reqid).is_some_and(Vec::is_empty) {
                    c.remove(&ctx.reqid);
                }
                i
            }
        };
        let inv = invocation(verb, ctx, iface.as_deref(), &settings.path, &my, &other);
        let report = run_script(settings, ctx, &inv).await;
        if let Some(r) = reports {
            let _ = r.send(report);
        }
    }
}

async fn run_script(
    settings: &UpdownSettings,
    ctx: &UpdownContext,
    inv: &Invocation,
) -> UpdownReport {
    let start = tokio::time::Instant::now();
    let clients = (
        inv.get("PLUTO_MY_CLIENT").unwrap_or_default().to_string(),
        inv.get("PLUTO_PEER_CLIENT").unwrap_or_default().to_string(),
    );
    let mut report = UpdownReport {
        reqid: ctx.reqid,
        verb: inv.verb.clone(),
        clients,
        outcome: RunOutcome::Exited(0),
        output: Vec::new(),
        elapsed: Duration::ZERO,
    };
    tracing::debug!(
        "running updown script: {} ({} {} === {})",
        ctx.updown,
        inv.verb,
        report.clients.0,
        report.clients.1
    );
    let mut cmd = tokio::process::Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(format!("2>&1 {}", ctx.updown))
        .env_clear()
        .envs(inv.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so a timeout kills what it started too.
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("could not execute updown script '{}': {e}", ctx.updown);
            report.outcome = RunOutcome::SpawnFailed(e.to_string());
            return report;
        }
    };
    let lines: Arc<Mutex<Vec<String>>> = Arc::default();
    let max = settings.max_report_lines;
    let mut readers = JoinSet::new();
    if let Some(out) = child.stdout.take() {
        readers.spawn(log_lines(out, lines.clone(), max));
    }
    if let Some(err) = child.stderr.take() {
        readers.spawn(log_lines(err, lines.clone(), max));
    }
    let pid = child.id();
    report.outcome = match tokio::time::timeout(settings.timeout, child.wait()).await {
        Ok(Ok(st)) => {
            use std::os::unix::process::ExitStatusExt;
            match (st.code(), st.signal()) {
                (Some(c), _) => RunOutcome::Exited(c),
                (None, Some(s)) => RunOutcome::Signaled(s),
                (None, None) => RunOutcome::Exited(-1),
            }
        }
        Ok(Err(e)) => RunOutcome::SpawnFailed(format!("wait: {e}")),
        Err(_) => {
            if let Some(pid) = pid {
                let pg = nix::unistd::Pid::from_raw(pid as i32);
                let _ = nix::sys::signal::killpg(pg, nix::sys::signal::Signal::SIGKILL);
            }
            let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
            RunOutcome::TimedOut
        }
    };
    // Whatever escaped the process group may hold the pipes: bounded.
    let drained = tokio::time::timeout(Duration::from_secs(2), async {
        while readers.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        readers.abort_all();
    }
    report.output = std::mem::take(&mut *lines.lock().expect("lines lock"));
    report.elapsed = start.elapsed();
    match &report.outcome {
        RunOutcome::Exited(0) => {}
        RunOutcome::Exited(c) => tracing::warn!(
            "updown script '{}' ({}) exited with status {c}",
            ctx.updown,
            inv.verb
        ),
        RunOutcome::Signaled(s) => tracing::warn!(
            "updown script '{}' ({}) killed by signal {s}",
            ctx.updown,
            inv.verb
        ),
        RunOutcome::TimedOut => tracing::warn!(
            "updown script '{}' ({}) still running after {:?}: killed",
            ctx.updown,
            inv.verb,
            settings.timeout
        ),
        RunOutcome::SpawnFailed(_) => {}
    }
    report
}

async fn log_lines(r: impl AsyncRead + Unpin, keep: Arc<Mutex<Vec<String>>>, max: usize) {
    let mut lines = BufReader::new(r).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        tracing::info!("updown: {line}");
        let mut k = keep.lock().expect("lines lock");
        if k.len() < max {
            k.push(line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(a: &str, b: &str) -> Ts {
        Ts {
            proto: 0,
            start_port: 0,
            end_port: 65535,
            start: a.parse().unwrap(),
            end: b.parse().unwrap(),
        }
    }

    #[test]
    fn subnets_like_strongswan_to_subnet() {
        let s = |a, b| {
            let (n, m, e) = ts_to_subnet(&range(a, b));
            (format!("{n}/{m}"), e)
        };
        assert_eq!(s("10.1.0.0", "10.1.0.255"), ("10.1.0.0/24".into(), true));
        assert_eq!(s("192.0.2.1", "192.0.2.1"), ("192.0.2.1/32".into(), true));
        assert_eq!(s("0.0.0.0", "255.255.255.255"), ("0.0.0.0/0".into(), true));
        // Not a subnet: the common prefix, from "start" (calc_netbits).
        assert_eq!(s("10.1.5.1", "10.1.5.9"), ("10.1.5.0/28".into(), false));
        assert_eq!(s("10.0.0.0", "10.0.1.254"), ("10.0.0.0/23".into(), false));
        assert_eq!(
            s("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
            ("::/0".into(), true)
        );
        assert_eq!(
            s("2001:db8:3::10", "2001:db8:3::2f"),
            ("2001:db8:3::/122".into(), false)
        );
        assert_eq!(
            s("2001:db8:1::", "2001:db8:1:ffff:ffff:ffff:ffff:ffff"),
            ("2001:db8:1::/48".into(), true)
        );
    }

    #[test]
    fn ports_like_get_port() {
        let mut icmp = range("10.0.0.0", "10.0.0.255");
        icmp.proto = 1;
        icmp.start_port = 0x0800; // echo request, code 0
        icmp.end_port = 0x0800;
        let any = range("10.1.0.0", "10.1.0.255");
        assert_eq!(port_var(&icmp, &any, true), "8");
        assert_eq!(port_var(&icmp, &any, false), "0");
        let mut tcp = any;
        tcp.proto = 6;
        tcp.start_port = 8000;
        tcp.end_port = 8080;
        assert_eq!(port_var(&any, &tcp, false), "8000:8080");
        assert_eq!(port_var(&any, &tcp, true), "0");
        tcp.end_port = 8000;
        assert_eq!(port_var(&tcp, &any, true), "8000");
    }

    #[test]
    fn pairs_sorted_and_filtered_like_the_policy_enumerator() {
        let mut udp = range("10.9.0.0", "10.9.0.255");
        udp.proto = 17;
        let mut tcp = range("10.8.0.0", "10.8.0.255");
        tcp.proto = 6;
        let v6 = range("2001:db8::", "2001:db8::ffff");
        let local = vec![v6, udp, range("10.0.0.0", "10.255.255.255")];
        let remote = vec![tcp, range("10.0.0.0", "10.0.0.255")];
        let p = ts_pairs(&local, &remote);
        let names: Vec<(String, String)> = p
            .iter()
            .map(|(a, b)| {
                (
                    format!("{}/{}", a.start, a.proto),
                    format!("{}/{}", b.start, b.proto),
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                // 10.0.0.0/8 (any) × both; 10.9/24 udp × 10.0.0/24 only
                // (udp ≠ tcp); the IPv6 one pairs with nothing.
                ("10.0.0.0/0".into(), "10.0.0.0/0".into()),
                ("10.0.0.0/0".into(), "10.8.0.0/6".into()),
                ("10.9.0.0/17".into(), "10.0.0.0/0".into()),
            ]
        );
    }

    #[test]
    fn loopback_interface_is_found() {
        assert_eq!(
            interface_of("127.0.0.1".parse().unwrap()).as_deref(),
            Some("lo")
        );
        assert_eq!(interface_of("192.0.2.254".parse().unwrap()), None);
    }
}
