//! The real strongSwan `swanctl` (Debian's 5.9.8) against our server.
//!
//! Fixtures: what swanctl sends is recorded through a proxy and kept in
//! `tests/fixtures/` (one packet per file, without the 4-byte length
//! prefix). Re-create them with
//! `VICI_WRITE_FIXTURES=1 cargo test -p vici --test swanctl`.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use common::*;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use vici::{Element, Message, Packet};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn test_conf() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/load-conns.conf")
}

#[tokio::test]
async fn version_daemon() {
    let srv = start("version").await;
    let out = swanctl(&srv.path, &["--version", "--daemon"]).await;
    assert!(out.status.success());
    let line = stdout(&out);
    // swanctl 5.9 prints "strongSwan %s %s (%s, %s, %s)" with version,
    // daemon, sysname, release, machine.
    let expected = format!(
        "strongSwan {} vtid (Linux, {}, {})",
        env!("CARGO_PKG_VERSION"),
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap()
            .trim(),
        std::env::consts::ARCH
    );
    assert_eq!(line.trim(), expected);
    let cmds = srv.handler.commands();
    assert_eq!(cmds, vec![("version".to_owned(), Message::new())]);
}

#[tokio::test]
async fn initiate_streams_control_log() {
    let srv = start("initiate").await;
    let out = swanctl(
        &srv.path,
        &["--initiate", "--child", "net", "--timeout", "5"],
    )
    .await;
    assert!(out.status.success());
    let text = stdout(&out);
    let mut expected: Vec<String> = INITIATE_LOG
        .iter()
        .map(|(g, m)| format!("[{g}] {m}"))
        .collect();
    expected.push("initiate completed successfully".into());
    assert_eq!(text.lines().collect::<Vec<_>>(), expected);

    let cmds = srv.handler.commands();
    assert_eq!(cmds.len(), 1);
    let (name, req) = &cmds[0];
    assert_eq!(name, "initiate");
    assert_eq!(req.str("child"), Some("net"));
    assert_eq!(req.str("timeout"), Some("5000"));

    // A failing command: errmsg printed, non-zero exit.
    let out = swanctl(&srv.path, &["--initiate", "--child", "fail"]).await;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("initiate failed: CHILD_SA 'fail' not found"),
        "{err}"
    );
}

#[tokio::test]
async fn list_sas_streams_list_sa() {
    let srv = start("list-sas").await;
    let out = swanctl(&srv.path, &["--list-sas"]).await;
    assert!(out.status.success());
    let text = stdout(&out);
    for line in [
        "gw: #1, ESTABLISHED, IKEv2, 0123456789abcdef_i* fedcba9876543210_r",
        "  local  'gw-a' @ 192.0.2.1[500]",
        "  remote 'gw-b' @ 192.0.2.2[500]",
        "  AES_CBC-256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/CURVE_25519",
        "  established 100s ago, rekeying in 13000s",
        "  net: #1, reqid 7, INSTALLED, TUNNEL, ESP:AES_GCM_16-256",
        "    local  10.1.0.0/16",
        "    remote 10.2.0.0/16",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    assert_eq!(srv.handler.commands()[0].0, "list-sas");
}

#[tokio::test]
async fn unknown_command_fails_cleanly() {
    let srv = start("unknown").await;
    // We do not offer "stats": CMD_UNKNOWN.
    let out = swanctl(&srv.path, &["--stats"]).await;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("stats request failed"), "{err}");
    // The server is still fine.
    let out = swanctl(&srv.path, &["--version", "--daemon"]).await;
    assert!(stdout(&out).contains(" vtid ("));
}

fn list(m: &Message, key: &str) -> Vec<String> {
    m.list(key)
        .unwrap_or_else(|| panic!("no list {key} in {m:?}"))
        .iter()
        .map(|v| String::from_utf8(v.clone()).unwrap())
        .collect()
}

#[tokio::test]
async fn load_conns_matches_config_crate() {
    let srv = start("load-conns").await;
    let conf = test_conf();
    let out = swanctl(
        &srv.path,
        &["--load-conns", "--file", conf.to_str().unwrap()],
    )
    .await;
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.contains("loaded connection 'gw-gw'"), "{text}");
    assert!(text.contains("loaded connection 'site-b'"), "{text}");
    assert!(
        text.contains("successfully loaded 2 connections, 1 unloaded"),
        "{text}"
    );

    let cmds = srv.handler.commands();
    let names: Vec<&str> = cmds.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["get-conns", "load-conn", "load-conn", "unload-conn"]
    );
    assert_eq!(cmds[3].1.str("name"), Some("stale"));

    // The structure swanctl sends: one section per connection, list keys as
    // lists, auth rounds and children as subsections.
    let gw = cmds[1].1.section("gw-gw").expect("gw-gw section");
    assert_eq!(cmds[1].1.items.len(), 1);
    assert_eq!(list(gw, "local_addrs"), ["192.168.0.1"]);
    assert_eq!(
        list(gw, "remote_addrs"),
        ["moon.strongswan.org", "192.168.0.2"]
    );
    assert_eq!(
        list(gw, "proposals"),
        ["aes128-sha256-x25519", "aes256gcm16-prfsha384-ecp384"]
    );
    assert_eq!(gw.str("version"), Some("2"));
    assert_eq!(gw.str("dpd_delay"), Some("30s"));
    assert_eq!(gw.find_str("local.auth"), Some("psk"));
    assert_eq!(gw.find_str("remote.id"), Some("moon.strongswan.org"));
    let nn = gw.section("children").unwrap().section("net-net").unwrap();
    assert_eq!(list(nn, "local_ts"), ["10.2.0.0/16", "10.3.0.0/16"]);
    assert_eq!(
        list(nn, "esp_proposals"),
        ["aes128gcm128-x25519", "aes256gcm16"]
    );
    assert_eq!(
        nn.str("updown"),
        Some("/usr/local/libexec/ipsec/_updown iptables")
    );
    let order: Vec<&str> = gw.items.iter().map(|i| i.name.as_str()).collect();
    assert!(
        matches!(gw.get("children"), Some(Element::Section(_))),
        "{order:?}"
    );
    let site_b = cmds[2].1.section("site-b").unwrap();
    assert_eq!(site_b.find_str("remote.id"), Some("site-b.example.net"));

    // Same connections as the config crate loading the file.
    let text = std::fs::read_to_string(&conf).unwrap();
    let loaded = config::load_str(&text, conf.to_str().unwrap()).unwrap();
    let mut from_vici = Vec::new();
    for (_, msg) in cmds.iter().filter(|(n, _)| n == "load-conn") {
        let mut warnings = Vec::new();
        from_vici.extend(vici::connections_from_load_conn(msg, &mut warnings).unwrap());
        assert!(warnings.is_empty(), "{warnings:?}");
    }
    assert_eq!(from_vici, loaded.config.connections);
}

/// Non-root users cannot connect to the default 0600 root socket.
#[tokio::test]
async fn nobody_cannot_connect() {
    let srv = start("perm").await;
    let md = std::fs::metadata(&srv.path).unwrap();
    use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
    assert!(md.file_type().is_socket());
    assert_eq!(md.permissions().mode() & 0o7777, 0o600);
    assert_eq!((md.uid(), md.gid()), (0, 0));

    let nobody = [
        "setpriv",
        "--reuid=nobody",
        "--regid=nogroup",
        "--clear-groups",
    ];
    let out = swanctl_as(&nobody, &srv.path, &["--version", "--daemon"]).await;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Permission denied"), "{err}");
    assert!(srv.handler.commands().is_empty());

    // Control: the same user can connect to a 0666 socket, so the refusal
    // above came from the socket's mode.
    let dir = TempDir::new("perm-open");
    let path = dir.join("open.vici");
    let server = vici::Server::bind(&path, 0o666, None).await.unwrap();
    let task = tokio::spawn(server.serve(DemoHandler::default()));
    let out = swanctl_as(&nobody, &path, &["--version", "--daemon"]).await;
    assert!(stdout(&out).contains(" vtid ("), "{out:?}");
    task.abort();
}

/// Forwards connections from `listen` to `upstream`, recording each packet
/// a client sends.
async fn recording_proxy(
    listen: PathBuf,
    upstream: PathBuf,
) -> (tokio::task::JoinHandle<()>, Arc<Mutex<Vec<Vec<u8>>>>) {
    let listener = UnixListener::bind(&listen).unwrap();
    let recorded = Arc::new(Mutex::new(Vec::new()));
    let rec = recorded.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((client, _)) = listener.accept().await else {
                return;
            };
            let server = UnixStream::connect(&upstream).await.unwrap();
            let rec = rec.clone();
            tokio::spawn(async move {
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let up = async {
                    loop {
                        let mut len = [0u8; 4];
                        if cr.read_exact(&mut len).await.is_err() {
                            break;
                        }
                        let mut body = vec![0; u32::from_be_bytes(len) as usize];
                        cr.read_exact(&mut body).await.unwrap();
                        sw.write_all(&len).await.unwrap();
                        sw.write_all(&body).await.unwrap();
                        rec.lock().unwrap().push(body);
                    }
                    let _ = sw.shutdown().await;
                };
                let down = tokio::io::copy(&mut sr, &mut cw);
                let _ = tokio::join!(up, down);
            });
        }
    });
    (task, recorded)
}

/// Records what swanctl sends for each command we test; checks it against
/// (or writes) the fixtures.
#[tokio::test]
async fn swanctl_packets_match_fixtures() {
    let srv = start("record").await;
    let proxy_path = srv.dir.join("proxy.vici");
    let (proxy, recorded) = recording_proxy(proxy_path.clone(), srv.path.clone()).await;
    let conf = test_conf();
    let runs: [(&str, Vec<&str>); 4] = [
        ("version", vec!["--version", "--daemon"]),
        (
            "initiate",
            vec!["--initiate", "--child", "net", "--timeout", "5"],
        ),
        ("list-sas", vec!["--list-sas"]),
        (
            "load-conns",
            vec!["--load-conns", "--file", conf.to_str().unwrap()],
        ),
    ];
    let write = std::env::var_os("VICI_WRITE_FIXTURES").is_some();
    let version = stdout(&swanctl(&srv.path, &["--version"]).await);
    let same_swanctl = version.contains("5.9.8");
    for (tag, args) in runs {
        recorded.lock().unwrap().clear();
        let out = swanctl(&proxy_path, &args).await;
        assert!(out.status.success(), "{tag}");
        let packets = recorded.lock().unwrap().clone();
        assert!(!packets.is_empty());
        for (i, p) in packets.iter().enumerate() {
            // What the real swanctl sends parses and re-emits byte for byte.
            let parsed = Packet::parse(p).unwrap_or_else(|e| panic!("{tag} #{i}: {e}"));
            let mut again = Vec::new();
            parsed.emit(&mut again).unwrap();
            assert_eq!(&again, p, "{tag} #{i}");
            let file = fixtures_dir().join(format!("swanctl-5.9.8-{tag}-{i}.bin"));
            if write {
                std::fs::create_dir_all(fixtures_dir()).unwrap();
                std::fs::write(&file, p).unwrap();
            } else if same_swanctl {
                let want =
                    std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
                assert_eq!(
                    p,
                    &want,
                    "{} differs from what swanctl sends",
                    file.display()
                );
            }
        }
    }
    proxy.abort();
}

/// The fixtures parse and re-emit byte for byte, and hold what we expect.
#[test]
fn fixtures_round_trip() {
    let mut n = 0;
    let mut seen = Vec::new();
    for e in std::fs::read_dir(fixtures_dir()).unwrap() {
        let path = e.unwrap().path();
        if path.extension().and_then(|s| s.to_str()) != Some("bin") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let p = Packet::parse(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut again = Vec::new();
        p.emit(&mut again).unwrap();
        assert_eq!(again, bytes, "{}", path.display());
        seen.push(match p {
            Packet::CmdRequest { command, .. } => format!("cmd {command}"),
            Packet::EventRegister(e) => format!("register {e}"),
            other => format!("{other:?}"),
        });
        n += 1;
    }
    seen.sort();
    seen.dedup();
    for want in [
        "cmd version",
        "cmd initiate",
        "cmd list-sas",
        "cmd get-conns",
        "cmd load-conn",
        "cmd unload-conn",
        "register control-log",
        "register list-sa",
    ] {
        assert!(
            seen.iter().any(|s| s == want),
            "no fixture for {want}: {seen:?}"
        );
    }
    assert!(n >= 8);
}

/// `swanctl --monitor-sa` registers for `ike-updown` and `child-updown` and
/// prints what the daemon broadcasts.
#[tokio::test]
async fn monitor_sa_prints_broadcasts() {
    let srv = start("monitor").await;
    let uri = format!("unix://{}", srv.path.display());
    // Line-buffered, so we can wait for the output before stopping it.
    let mut child = tokio::process::Command::new("stdbuf")
        .args(["-oL", SWANCTL, "--monitor-sa", "--uri", &uri])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    tokio::time::timeout(WAIT, async {
        while srv.broadcaster.registered("child-updown") == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("swanctl --monitor-sa did not register");
    assert_eq!(srv.broadcaster.registered("ike-updown"), 1);
    let mut ev = list_sa_event();
    ev.items.insert(
        0,
        vici::Item {
            name: "up".into(),
            value: Element::Value(b"yes".to_vec()),
        },
    );
    assert_eq!(srv.broadcaster.raise("ike-updown", &ev).unwrap(), 1);
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut text = String::new();
    tokio::time::timeout(WAIT, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            text.push_str(&line);
            text.push('\n');
            if line.starts_with("    remote ") {
                break;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("swanctl printed no SA; got:\n{text}"));
    // Stop it as a user would (Ctrl-C).
    let pid = nix::unistd::Pid::from_raw(child.id().unwrap() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let out = tokio::time::timeout(WAIT, child.wait_with_output())
        .await
        .expect("swanctl --monitor-sa did not exit on SIGINT")
        .unwrap();
    eprintln!("{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success());
    assert!(
        text.contains("gw: #1, ESTABLISHED, IKEv2, 0123456789abcdef_i* fedcba9876543210_r"),
        "{text}"
    );
    assert!(text.contains("  net: #1, reqid 7, INSTALLED, TUNNEL, ESP:AES_GCM_16-256"));
}
