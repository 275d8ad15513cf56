//! The updown hook with real scripts: verbs, environment, timeout, order.
//!
//! Expected values are what strongSwan 5.9.8's updown plugin would set,
//! read from `src/libcharon/plugins/updown/updown_listener.c`
//! (`invoke_once`, `get_port`, `push_vip_env`, `push_dns_env`), the TS pair
//! order from `src/libcharon/sa/child_sa.c` (`policy_enumerate`, sorted
//! with `traffic_selector_cmp`) and subnets from
//! `src/libstrongswan/selectors/traffic_selector.c` (`to_subnet`,
//! `calc_netbits`).

use std::collections::BTreeMap;
use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ike::engine::Ts;
use tokio::sync::mpsc;
use vti::updown::{
    Mark, Routed, RunOutcome, UpdownContext, UpdownReport, UpdownRunner, UpdownSettings, Verb,
};

fn ts(a: &str, b: &str, proto: u8, ports: (u16, u16)) -> Ts {
    Ts {
        proto,
        start_port: ports.0,
        end_port: ports.1,
        start: a.parse().unwrap(),
        end: b.parse().unwrap(),
    }
}
const ANY: (u16, u16) = (0, 65535);

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vtid-updown-{}-{tag}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

/// A script that dumps its environment to `<dir>/<n>-<verb>.env`.
fn dump_script(dir: &Path) -> String {
    let s = dir.join("dump.sh");
    fs::write(
        &s,
        "#!/bin/sh\nd=\"$1\"\nn=$(ls \"$d\" | grep -c '\\.env$')\n\
         env > \"$d/$(printf %03d \"$n\")-$PLUTO_VERB.env\"\n\
         echo \"called $PLUTO_VERB $PLUTO_MY_CLIENT $PLUTO_PEER_CLIENT\"\necho oops >&2\nexit 0\n",
    )
    .unwrap();
    // Run via "sh path arg", as a user's `updown = ...` line with an argument.
    format!("sh {} {}", s.display(), dir.display())
}

fn read_dumps(dir: &Path) -> Vec<BTreeMap<String, String>> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "env"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| {
            fs::read_to_string(f)
                .unwrap()
                .lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// Only PLUTO_*, VTID_* and PATH: what we set (the shell adds PWD).
fn ours(env: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    env.iter()
        .filter(|(k, _)| k.starts_with("PLUTO_") || k.starts_with("VTID_") || *k == "PATH")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn expect(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn v4_child(updown: String) -> UpdownContext {
    UpdownContext {
        updown,
        child_name: "net4".into(),
        reqid: 4,
        proto: Default::default(),
        ike_unique_id: 12,
        me: "192.0.2.1".parse().unwrap(),
        peer: "192.0.2.2:4500".parse().unwrap(),
        my_id: "moon.example.org".into(),
        peer_id: "C=CH, O=strongSwan, CN=sun".into(),
        // Unsorted on purpose: strongSwan sorts.
        local_ts: vec![
            ts("192.0.2.1", "192.0.2.1", 0, ANY),
            ts("10.1.0.0", "10.1.0.255", 0, ANY),
        ],
        remote_ts: vec![
            ts("10.3.0.1", "10.3.0.9", 17, (500, 600)),
            ts("10.2.0.0", "10.2.255.255", 6, (443, 443)),
        ],
        nat: true,
        xauth_id: None,
        my_vips: vec![],
        peer_vips: vec![],
        dns: vec![],
        mark_in: None,
        mark_out: Some(Mark {
            value: 0,
            mask: 0xffffffff,
        }), // value 0: not set
        if_id_in: 0,
        if_id_out: 0,
        ipcomp: false,
        host_access: false,
        interface: None, // 192.0.2.1 is on no interface here: "unknown"
        routed: None,
    }
}

fn v6_child(updown: String) -> UpdownContext {
    UpdownContext {
        updown,
        child_name: "net6".into(),
        reqid: 6,
        proto: Default::default(),
        ike_unique_id: 13,
        me: "2001:db8::1".parse().unwrap(),
        peer: "[2001:db8::2]:500".parse().unwrap(),
        my_id: "2001:db8::1".into(),
        peer_id: "carol@example.org".into(),
        local_ts: vec![
            ts(
                "2001:db8:1:5::",
                "2001:db8:1:5:ffff:ffff:ffff:ffff",
                58,
                (0x8000, 0x8000),
            ),
            ts(
                "2001:db8:1::",
                "2001:db8:1:ffff:ffff:ffff:ffff:ffff",
                0,
                ANY,
            ),
        ],
        remote_ts: vec![
            ts(
                "2001:db8:2::",
                "2001:db8:2:ffff:ffff:ffff:ffff:ffff",
                0,
                ANY,
            ),
            ts("2001:db8:3::10", "2001:db8:3::2f", 0, ANY),
        ],
        nat: false,
        xauth_id: Some("carol".into()),
        my_vips: vec!["10.9.0.1".parse().unwrap(), "fd00::1".parse().unwrap()],
        peer_vips: vec![],
        dns: vec![
            "fd00::53".parse().unwrap(),
            "10.9.0.53".parse().unwrap(),
            "10.9.0.54".parse().unwrap(),
        ],
        mark_in: Some(Mark {
            value: 42,
            mask: 0xffffffff,
        }),
        mark_out: Some(Mark {
            value: 7,
            mask: 0xff,
        }),
        if_id_in: 7,
        if_id_out: 7,
        ipcomp: true,
        host_access: true,
        interface: Some("eth9".into()),
        routed: Some(Routed {
            interface: "ipsec7".into(),
            gateway_v4: Some("IPSEC7_VTIV4".into()),
            gateway_v6: Some("IPSEC7_VTIV6".into()),
        }),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn collect(rx: &mut mpsc::UnboundedReceiver<UpdownReport>) -> Vec<UpdownReport> {
    let mut v = Vec::new();
    while let Ok(r) = rx.try_recv() {
        v.push(r);
    }
    v
}

#[test]
fn verbs_and_environment_like_strongswan() {
    let d4 = tmpdir("v4");
    let d6 = tmpdir("v6");
    let path = "/usr/sbin:/usr/bin:/sbin:/bin".to_string();
    runtime().block_on(async {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let settings = UpdownSettings {
            path: path.clone(),
            ..Default::default()
        };
        let r = UpdownRunner::spawn(settings, Some(tx));
        r.submit(Verb::Up, v4_child(dump_script(&d4)));
        r.submit(Verb::Up, v6_child(dump_script(&d6)));
        let mut down6 = v6_child(dump_script(&d6));
        down6.interface = None; // down uses what up cached
        r.submit(Verb::Down, v4_child(dump_script(&d4)));
        r.submit(Verb::Down, down6);
        tokio::time::timeout(Duration::from_secs(30), r.idle())
            .await
            .expect("scripts did not finish");
        let reports = collect(&mut rx).await;
        assert_eq!(reports.len(), 16, "4 pairs × up/down × 2 children");
        for rep in &reports {
            assert_eq!(rep.outcome, RunOutcome::Exited(0), "{rep:?}");
            assert!(
                rep.output.contains(&"oops".to_string()),
                "stderr captured: {rep:?}"
            );
            assert!(rep.output[0].starts_with("called "), "{rep:?}");
        }
        r.shutdown().await;
    });

    // IPv4: (10.1.0.0/24 × 10.2.0.0/16 tcp/443), (10.1.0.0/24 × 10.3.0.1-9
    // udp/500-600 → 10.3.0.0/28), then the host TS 192.0.2.1 = PLUTO_ME:
    // "-host".
    let dumps = read_dumps(&d4);
    assert_eq!(dumps.len(), 8);
    let verbs: Vec<&str> = dumps.iter().map(|e| e["PLUTO_VERB"].as_str()).collect();
    assert_eq!(
        verbs,
        [
            "up-client",
            "up-client",
            "up-host",
            "up-host",
            "down-client",
            "down-client",
            "down-host",
            "down-host"
        ]
    );
    let common4 = [
        ("PATH", path.as_str()),
        ("PLUTO_VERSION", "1.1"),
        ("PLUTO_CONNECTION", "net4"),
        ("PLUTO_INTERFACE", "unknown"),
        ("PLUTO_REQID", "4"),
        ("PLUTO_PROTO", "esp"),
        ("PLUTO_UNIQUEID", "12"),
        ("PLUTO_ME", "192.0.2.1"),
        ("PLUTO_MY_ID", "moon.example.org"),
        ("PLUTO_MY_PORT", "0"),
        ("PLUTO_MY_PROTOCOL", "0"),
        ("PLUTO_PEER", "192.0.2.2"),
        ("PLUTO_PEER_ID", "C=CH, O=strongSwan, CN=sun"),
        ("PLUTO_UDP_ENC", "4500"),
    ];
    let pair4 = [
        ("10.1.0.0/24", "10.2.0.0/16", "443", "6"),
        ("10.1.0.0/24", "10.3.0.0/28", "500:600", "17"),
        ("192.0.2.1/32", "10.2.0.0/16", "443", "6"),
        ("192.0.2.1/32", "10.3.0.0/28", "500:600", "17"),
    ];
    for (i, env) in dumps.iter().enumerate() {
        let (my, peer, pport, pproto) = pair4[i % 4];
        let mut want = expect(&common4);
        want.insert("PLUTO_VERB".into(), verbs[i].into());
        for (k, v) in [
            ("PLUTO_MY_CLIENT", my),
            ("PLUTO_PEER_CLIENT", peer),
            ("PLUTO_PEER_PORT", pport),
            ("PLUTO_PEER_PROTOCOL", pproto),
        ] {
            want.insert(k.into(), v.into());
        }
        assert_eq!(ours(env), want, "IPv4 invocation {i}");
        assert!(
            !env.contains_key("HOME") && !env.contains_key("CARGO"),
            "env leaked: {env:?}"
        );
    }

    // IPv6: local sorted 2001:db8:1::/48 (any) before 2001:db8:1:5::/64
    // (ICMPv6 echo request: port 0x8000 → type 128, code 0); remote
    // 2001:db8:2::/48 before 2001:db8:3::10-2f (→ 2001:db8:3::/122).
    let dumps = read_dumps(&d6);
    assert_eq!(dumps.len(), 8);
    let verbs: Vec<&str> = dumps.iter().map(|e| e["PLUTO_VERB"].as_str()).collect();
    assert_eq!(
        verbs,
        [
            "up-client-v6",
            "up-client-v6",
            "up-client-v6",
            "up-client-v6",
            "down-client-v6",
            "down-client-v6",
            "down-client-v6",
            "down-client-v6"
        ]
    );
    let common6 = [
        ("PATH", path.as_str()),
        ("PLUTO_VERSION", "1.1"),
        ("PLUTO_CONNECTION", "net6"),
        ("PLUTO_INTERFACE", "eth9"),
        ("PLUTO_REQID", "6"),
        ("PLUTO_PROTO", "esp"),
        ("PLUTO_UNIQUEID", "13"),
        ("PLUTO_ME", "2001:db8::1"),
        ("PLUTO_MY_ID", "2001:db8::1"),
        ("PLUTO_PEER", "2001:db8::2"),
        ("PLUTO_PEER_ID", "carol@example.org"),
        ("PLUTO_PEER_PROTOCOL", "0"),
        ("PLUTO_XAUTH_ID", "carol"),
        ("PLUTO_MY_SOURCEIP", "10.9.0.1"),
        ("PLUTO_MY_SOURCEIP4_1", "10.9.0.1"),
        ("PLUTO_MY_SOURCEIP6_1", "fd00::1"),
        ("PLUTO_MARK_IN", "42/0xffffffff"),
        ("PLUTO_MARK_OUT", "7/0x000000ff"),
        ("PLUTO_IF_ID_IN", "7"),
        ("PLUTO_IF_ID_OUT", "7"),
        ("PLUTO_IPCOMP", "1"),
        ("PLUTO_DNS4_1", "10.9.0.53"),
        ("PLUTO_DNS4_2", "10.9.0.54"),
        ("PLUTO_DNS6_1", "fd00::53"),
        ("PLUTO_HOST_ACCESS", "1"),
        ("VTID_INTERFACE", "ipsec7"),
        ("VTID_GATEWAY", "IPSEC7_VTIV6"),
    ];
    let pair6 = [
        ("2001:db8:1::/48", "2001:db8:2::/48", "0", "0", "0"),
        ("2001:db8:1::/48", "2001:db8:3::/122", "0", "0", "0"),
        ("2001:db8:1:5::/64", "2001:db8:2::/48", "128", "0", "58"),
        ("2001:db8:1:5::/64", "2001:db8:3::/122", "128", "0", "58"),
    ];
    for (i, env) in dumps.iter().enumerate() {
        let (my, peer, myport, peerport, myproto) = pair6[i % 4];
        let mut want = expect(&common6);
        want.insert("PLUTO_VERB".into(), verbs[i].into());
        for (k, v) in [
            ("PLUTO_MY_CLIENT", my),
            ("PLUTO_PEER_CLIENT", peer),
            ("PLUTO_MY_PORT", myport),
            ("PLUTO_PEER_PORT", peerport),
            ("PLUTO_MY_PROTOCOL", myproto),
        ] {
            want.insert(k.into(), v.into());
        }
        assert_eq!(ours(env), want, "IPv6 invocation {i}");
        assert!(
            !env.contains_key("PLUTO_UDP_ENC"),
            "no NAT, no PLUTO_UDP_ENC"
        );
    }
    let _ = fs::remove_dir_all(&d4);
    let _ = fs::remove_dir_all(&d6);
}

#[test]
fn a_hanging_script_is_killed_and_others_go_on() {
    let d = tmpdir("hang");
    runtime().block_on(async {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let settings = UpdownSettings {
            timeout: Duration::from_millis(500),
            ..Default::default()
        };
        let r = UpdownRunner::spawn(settings, Some(tx));
        // A script that hangs, with a background child holding its stdout.
        let mut hang = v4_child("echo started; sleep 60 & sleep 60".into());
        hang.local_ts.truncate(1);
        hang.remote_ts.truncate(1);
        let t0 = Instant::now();
        r.submit(Verb::Up, hang);
        // Another child (another reqid) is not held up by it.
        let mut other = v6_child(dump_script(&d));
        other.local_ts.truncate(1);
        other.remote_ts.truncate(1);
        r.submit(Verb::Up, other);
        let mut exit3 = v6_child("echo failing; exit 3".into());
        exit3.reqid = 99;
        exit3.local_ts.truncate(1);
        exit3.remote_ts.truncate(1);
        r.submit(Verb::Up, exit3);
        tokio::time::timeout(Duration::from_secs(20), r.idle())
            .await
            .expect("the runner did not get idle");
        let took = t0.elapsed();
        let reps = collect(&mut rx).await;
        assert_eq!(reps.len(), 3, "{reps:#?}");
        // The others finished first.
        assert_eq!(reps[2].reqid, 4, "{reps:#?}");
        let hung = &reps[2];
        assert_eq!(hung.outcome, RunOutcome::TimedOut);
        assert_eq!(hung.output, ["started"]);
        assert!(hung.elapsed >= Duration::from_millis(500), "{hung:?}");
        // The background `sleep 60 &` holds the output pipe: had it
        // survived (only `sh` killed), draining would wait out its 2 s
        // bound. So the whole process group died.
        assert!(took < Duration::from_millis(1800), "kill took {took:?}");
        let failing = reps.iter().find(|r| r.reqid == 99).unwrap();
        assert_eq!(failing.outcome, RunOutcome::Exited(3));
        assert_eq!(failing.output, ["failing"]);
        r.shutdown().await;
    });
    let _ = fs::remove_dir_all(&d);
}

#[test]
fn down_never_overtakes_up() {
    let d = tmpdir("order");
    let log = d.join("order.log");
    runtime().block_on(async {
        let r = UpdownRunner::spawn(UpdownSettings::default(), None);
        // up is slow, down is fast: submitted back to back, down must
        // still run after up has finished, for every one of 5 rounds.
        // (strongSwan runs "2>&1 <updown>", so the line must be a simple
        // command, not `case ...`: a script file.)
        let path = d.join("order.sh");
        fs::write(
            &path,
            format!(
                "case $PLUTO_VERB in up*) sleep 0.2; echo \"up $PLUTO_UNIQUEID\" >> {l};; \
                 down*) echo \"down $PLUTO_UNIQUEID\" >> {l};; esac\n",
                l = log.display()
            ),
        )
        .unwrap();
        let script = format!("sh {}", path.display());
        for round in 0..5u32 {
            let mut c = v4_child(script.clone());
            c.local_ts.truncate(1);
            c.remote_ts.truncate(1);
            c.ike_unique_id = round;
            r.submit(Verb::Up, c.clone());
            r.submit(Verb::Down, c);
        }
        tokio::time::timeout(Duration::from_secs(30), r.idle())
            .await
            .expect("not idle");
        r.shutdown().await;
    });
    let got = fs::read_to_string(&log).unwrap();
    let want: String = (0..5).map(|i| format!("up {i}\ndown {i}\n")).collect();
    assert_eq!(got, want);
    let _ = fs::remove_dir_all(&d);
}

#[test]
fn routed_info_from_the_interface() {
    let iface = config::Interface {
        name: "ipsec7".into(),
        reqid: 7,
        local_addrs: vec![],
        remote_addrs: vec!["10.6.106.2".parse::<IpAddr>().unwrap()],
        routes: vec![],
        mtu: 1400,
        monitor: config::Monitor::Gateway,
        monitor_interval: Duration::from_secs(10),
        mss_clamp: false,
        route_metric: 1,
        description: None,
        location: None,
    };
    let r = Routed::from_interface(&iface);
    assert_eq!(r.interface, "ipsec7");
    assert_eq!(r.gateway_v4.as_deref(), Some("IPSEC7_VTIV4"));
    assert_eq!(r.gateway_v6, None);
}

/// A peer identity with a NUL and a newline (and an XAuth name with an
/// escape): the scripts still run, with `?` in their place, as strongSwan
/// prints identities.
#[test]
fn identities_with_control_bytes_are_escaped() {
    let d = tmpdir("evil-id");
    runtime().block_on(async {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let settings = UpdownSettings {
            path: "/usr/sbin:/usr/bin:/sbin:/bin".into(),
            ..Default::default()
        };
        let r = UpdownRunner::spawn(settings, Some(tx));
        let mut c = v4_child(dump_script(&d));
        c.local_ts.truncate(1);
        c.remote_ts.truncate(1);
        c.peer_id = "sun\0.example.org\nPLUTO_VERB=down-client".into();
        c.xauth_id = Some("carol\u{1b}[2J\u{e9}".into());
        r.submit(Verb::Up, c.clone());
        r.submit(Verb::Down, c);
        tokio::time::timeout(Duration::from_secs(30), r.idle())
            .await
            .expect("scripts did not finish");
        let reports = collect(&mut rx).await;
        assert_eq!(reports.len(), 2, "{reports:?}");
        for rep in &reports {
            assert_eq!(rep.outcome, RunOutcome::Exited(0), "{rep:?}");
        }
        r.shutdown().await;
    });
    let dumps = read_dumps(&d);
    assert_eq!(dumps.len(), 2);
    for e in &dumps {
        assert_eq!(
            e["PLUTO_PEER_ID"],
            "sun?.example.org?PLUTO_VERB=down-client"
        );
        assert_eq!(e["PLUTO_XAUTH_ID"], "carol?[2J?");
    }
    assert_eq!(dumps[0]["PLUTO_VERB"], "up-host");
}
