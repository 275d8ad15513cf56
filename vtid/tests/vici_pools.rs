//! Virtual IP pools over VICI with the real strongSwan `swanctl`
//! (Debian's 5.9.8): `--load-pools`, `--list-pools [--leases]` against a
//! running vtid with pools in its file and pools loaded over VICI, reload
//! keeping them; and the `get-pools` reply with leases as swanctl prints
//! it.
// Linux only: the daemon on Linux (record data plane) and Debian's swanctl.
#![cfg(target_os = "linux")]

mod common;

use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{free_port, scratch, Vtid};

const SWANCTL: &str = "/usr/sbin/swanctl";
const T: Duration = Duration::from_secs(15);

fn wait_socket(p: &Path) {
    let deadline = Instant::now() + T;
    while UnixStream::connect(p).is_err() {
        assert!(Instant::now() < deadline, "no socket at {}", p.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn swanctl(sock: &Path, args: &[&str]) -> Output {
    let out = Command::new(SWANCTL)
        .args(args)
        .args(["--uri", &format!("unix://{}", sock.display())])
        .output()
        .expect("run swanctl (apt-get install strongswan-swanctl)");
    eprintln!(
        "$ swanctl {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// swanctl's `--list-pools` line: name, base, online / offline / size.
fn row(name: &str, base: &str, counts: &str) -> String {
    format!("{name:<20} {base:<30} {counts:>16}")
}

#[test]
fn swanctl_loads_lists_and_unloads_pools() {
    let dir = scratch("vici-pools");
    let (p, n) = (free_port(), free_port());
    let file = |pools: &str| {
        format!("vtid {{\n  port = {p}\n  port_nat_t = {n}\n}}\npools {{\n{pools}}}\n")
    };
    let mut gw = Vtid::start(
        &dir,
        "gw",
        &file("  office {\n    addrs = 10.9.0.0/24\n    dns = 10.9.0.53\n  }\n"),
        &[],
        &[],
    );
    let sock = dir.join("gw.vici");
    wait_socket(&sock);

    let (out, _) = text(&swanctl(&sock, &["--list-pools"]));
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [row("office", "10.9.0.1", "0 / 0 / 254")]
    );

    // swanctl --load-pools: two pools from its own file; it also asks to
    // unload every pool the daemon has that its file lacks, which vtid
    // refuses for the pool of its own file.
    let conf = dir.join("swanctl.conf");
    std::fs::write(
        &conf,
        "pools {\n  rw {\n    addrs = 10.10.0.0/24\n    dns = 10.10.0.53, 2001:db8:10::53\n    \
         split_include = 10.1.0.0/16\n  }\n  rw6 {\n    addrs = 2001:db8:10::100-2001:db8:10::1ff\n  }\n}\n",
    )
    .unwrap();
    let o = swanctl(&sock, &["--load-pools", "--file", conf.to_str().unwrap()]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(out.contains("loaded pool 'rw'"), "{out}");
    assert!(out.contains("loaded pool 'rw6'"), "{out}");
    assert!(
        out.contains("successfully loaded 2 pools, 0 unloaded"),
        "{out}"
    );
    assert!(
        err.contains(
            "unloading pool 'office' failed: pool 'office' is defined in the configuration \
             file; change it there"
        ),
        "{err}"
    );
    gw.wait_for(&["added vici pool rw: 10.10.0.1, 254 entries"], T);
    gw.wait_for(&["added vici pool rw6: 2001:db8:10::100, 256 entries"], T);

    let (out, _) = text(&swanctl(&sock, &["--list-pools", "--leases"]));
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort();
    let mut want = vec![
        row("office", "10.9.0.1", "0 / 0 / 254"),
        row("rw", "10.10.0.1", "0 / 0 / 254"),
        row("rw6", "2001:db8:10::100", "0 / 0 / 256"),
    ];
    want.sort();
    assert_eq!(lines, want);
    let (out, _) = text(&swanctl(&sock, &["--list-pools", "--name", "rw6"]));
    assert_eq!(out.lines().count(), 1, "{out}");

    // A pool overlapping one that is loaded: refused with the reason.
    std::fs::write(
        &conf,
        "pools {\n  rw {\n    addrs = 10.10.0.0/24\n  }\n  rw6 {\n    addrs = 2001:db8:10::100-2001:db8:10::1ff\n  }\n  \
         bad {\n    addrs = 10.9.0.128/25\n  }\n}\n",
    )
    .unwrap();
    let o = swanctl(&sock, &["--load-pools", "--file", conf.to_str().unwrap()]);
    let (out, err) = text(&o);
    assert!(!o.status.success(), "{out}{err}");
    assert!(
        err.contains(
            "loading pool 'bad' failed: pool 'bad' (10.9.0.128/25) shares addresses with pool \
             'office' (10.9.0.0/24)"
        ),
        "{err}"
    );
    // A bad attribute: refused, as charon refuses it.
    std::fs::write(
        &conf,
        "pools {\n  w {\n    addrs = 10.20.0.0/24\n    wins = 1.2.3.4\n  }\n}\n",
    )
    .unwrap();
    let (_, err) = text(&swanctl(
        &sock,
        &["--load-pools", "--file", conf.to_str().unwrap()],
    ));
    assert!(err.contains("loading pool 'w' failed:"), "{err}");
    assert!(
        err.contains("'pools.w.wins': not a pool attribute"),
        "{err}"
    );
    // ...and the VICI pools that file lacks are gone, the file's stays.
    assert!(
        err.contains("loaded 0 of 1 pools, 1 failed to load, 2 unloaded"),
        "{err}"
    );
    std::fs::write(&conf, "connections { }\n").unwrap();
    let (out, _) = text(&swanctl(
        &sock,
        &["--load-pools", "--file", conf.to_str().unwrap()],
    ));
    assert!(out.contains("no pools found, 0 unloaded"), "{out}");
    let (out, _) = text(&swanctl(&sock, &["--list-pools"]));
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [row("office", "10.9.0.1", "0 / 0 / 254")]
    );

    // SIGHUP with another pool in the file.
    std::fs::write(
        &gw.conf_path,
        file("  office {\n    addrs = 10.9.0.0/24\n  }\n  lab {\n    addrs = 10.30.0.10-10.30.0.19\n  }\n"),
    )
    .unwrap();
    let mark = gw.log().len();
    gw.signal("HUP");
    let deadline = Instant::now() + T;
    loop {
        let (out, _) = text(&swanctl(&sock, &["--list-pools"]));
        if out.contains("lab") {
            assert!(
                out.contains(&row("lab", "10.30.0.10", "0 / 0 / 10")),
                "{out}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "reload did not add the pool");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(gw.log()[mark..].contains("reloaded"), "{}", gw.log());
}

/// A VICI server whose `get-pools` is vtid's own reply built from a real
/// lease manager with leases in it: what swanctl prints for leases.
struct PoolsOnly(aaa::Pools);

impl vici::Handler for PoolsOnly {
    async fn command(
        &self,
        command: &str,
        request: vici::Message,
        _events: &vici::EventSink,
    ) -> Result<vici::Message, vici::CommandError> {
        match command {
            "get-pools" => Ok(vtid::pools::get_pools_message(
                &self.0,
                request.str("leases") == Some("yes"),
                request.str("name"),
            )),
            _ => Err(vici::CommandError::Unknown),
        }
    }
}

#[test]
fn swanctl_prints_leases() {
    let dir = scratch("vici-leases");
    let mut pools = aaa::Pools::new();
    let cfg = config::load_str("pools {\n rw { addrs = 10.9.0.0/24 }\n}\n", "l.conf")
        .unwrap()
        .config;
    assert!(pools.sync_file(&cfg.pools).is_empty());
    let names = ["rw".to_string()];
    let any = "0.0.0.0".parse().unwrap();
    let a = pools
        .acquire(&names, "carol@example.org", any, None)
        .unwrap();
    pools
        .acquire(&names, "dave@example.org", any, None)
        .unwrap();
    assert!(pools.release(&names, a.addr, "carol@example.org", None));
    let sock = dir.join("leases.vici");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(vici::Server::bind(&sock, 0o600, None)).unwrap();
    rt.spawn(server.serve_until(PoolsOnly(pools), std::future::pending()));
    wait_socket(&sock);
    let (out, _) = text(&swanctl(&sock, &["--list-pools", "--leases"]));
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            row("rw", "10.9.0.1", "1 / 1 / 254"),
            format!("  {:<30} {:<8} 'carol@example.org'", "10.9.0.1", "offline"),
            format!("  {:<30} {:<8} 'dave@example.org'", "10.9.0.2", "online"),
        ]
    );
}
