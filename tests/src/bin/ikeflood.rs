//! `ikeflood`: a bounded flood of bogus IKE_SA_INIT requests from spoofed
//! IPv4 sources ([`vtid_tests::flood`]), for `interop/bench-flood`.
//!
//! ```text
//! ikeflood --target 192.0.2.1 [--port 500] [--spoof 203.0.113.0/24] \
//!          [--rate 2000] [--seconds 10] [--count 100000] [--seed 1] \
//!          [--mix any|valid] [--proposal aes128gcm16-prfsha256-modp4096 ...] \
//!          [--linger-ms 1000]
//! ```
//!
//! Run it as root inside the namespace that floods. Replies are counted
//! when the spoofed prefix is routed locally there (`ip route add local
//! 203.0.113.0/24 dev lo`). Prints one line: `ikeflood: sent=N replies=N
//! cookie=N invalid_ke=N no_proposal=N invalid_syntax=N sa=N other=N
//! seconds=S`.

#[cfg(target_os = "linux")]
use std::net::{Ipv4Addr, SocketAddrV4};
#[cfg(target_os = "linux")]
use std::time::Duration;

#[cfg(target_os = "linux")]
use vtid_tests::flood::{run, Mix, Sockets, Spec};

#[cfg(target_os = "linux")]
fn parse() -> Result<(Spec, Duration), String> {
    let mut s = Spec::default();
    let mut target: Option<Ipv4Addr> = None;
    let mut port = 500u16;
    let mut linger = Duration::from_millis(1000);
    let mut proposals = Vec::new();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(k) = it.next() {
        let mut v = || it.next().cloned().ok_or(format!("{k} needs a value"));
        let num = |x: String| x.parse::<u64>().map_err(|e| format!("{k}: {e}"));
        match k.as_str() {
            "--target" => target = Some(v()?.parse().map_err(|e| format!("--target: {e}"))?),
            "--port" => port = v()?.parse().map_err(|e| format!("--port: {e}"))?,
            "--spoof" => {
                let x = v()?;
                let (a, l) = x.split_once('/').ok_or("--spoof: ADDR/LEN")?;
                s.spoof = (
                    a.parse().map_err(|e| format!("--spoof: {e}"))?,
                    l.parse().map_err(|e| format!("--spoof: {e}"))?,
                );
            }
            "--rate" => s.rate = u32::try_from(num(v()?)?).map_err(|e| e.to_string())?,
            "--seconds" => s.duration = Duration::from_secs(num(v()?)?),
            "--count" => s.count = num(v()?)?,
            "--seed" => s.seed = num(v()?)?,
            "--mix" => {
                s.mix = match v()?.as_str() {
                    "any" => Mix::Any,
                    "valid" => Mix::Valid,
                    o => return Err(format!("--mix {o}: any or valid")),
                }
            }
            "--proposal" => proposals.push(v()?),
            "--linger-ms" => linger = Duration::from_millis(num(v()?)?),
            o => return Err(format!("unknown argument {o}")),
        }
    }
    s.target = SocketAddrV4::new(target.ok_or("--target is required")?, port);
    if !proposals.is_empty() {
        s.proposals = proposals;
    }
    Ok((s, linger))
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("ikeflood: raw sockets in network namespaces: Linux only");
    std::process::exit(2);
}

#[cfg(target_os = "linux")]
fn main() {
    let (spec, linger) = match parse() {
        Ok(x) => x,
        Err(e) => {
            eprintln!("ikeflood: {e}");
            std::process::exit(2);
        }
    };
    let report = Sockets::here().and_then(|sk| run(&spec, &sk, linger));
    match report {
        Ok(r) => println!("ikeflood: {}", r.line()),
        Err(e) => {
            eprintln!("ikeflood: {e}");
            std::process::exit(1);
        }
    }
}
