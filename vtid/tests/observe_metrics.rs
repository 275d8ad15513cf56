//! The metrics endpoint scraped by the real Prometheus server (Debian's
//! `prometheus`), everything inside a network namespace of the test's: two
//! vtids (moon initiates `lab`, sun answers) and Prometheus scraping moon
//! every second; the values Prometheus stored are checked against what
//! `vtictl --json` says.

mod common;

use std::fs;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::moon_sun::moon_sun;
use common::{require_root, Vtid};
use vtid_tests::netns::Lab;

const T: Duration = Duration::from_secs(60);
const VTICTL: &str = env!("CARGO_BIN_EXE_vtictl");

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `promtool query instant` in the namespace: (labels, value) per series.
fn query(ns: &str, expr: &str) -> Vec<(String, f64)> {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "promtool", "query", "instant"])
        .args(["http://127.0.0.1:9090", expr])
        .output()
        .expect("promtool (Debian package prometheus)");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (labels, rest) = l.split_once(" => ")?;
            let v = rest.split_whitespace().next()?.parse().ok()?;
            Some((labels.to_string(), v))
        })
        .collect()
}

/// Waits until `expr` has a series whose labels contain `label` with value
/// `want`.
fn wait_value(ns: &str, expr: &str, label: &str, want: f64) -> String {
    let deadline = Instant::now() + T;
    loop {
        let got = query(ns, expr);
        if let Some((l, _)) = got.iter().find(|(l, v)| l.contains(label) && *v == want) {
            return l.clone();
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus: {expr} never had {label} = {want} within {T:?}; last {got:?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn prometheus_scrapes_vtid() {
    require_root();
    assert!(
        vtid_tests::netns::which("prometheus").is_some(),
        "prometheus is needed (interop/deps installs the Debian package) — this test does not skip"
    );
    let mut lab = Lab::new("metrics").unwrap_or_else(|e| panic!("{e}"));
    let ns = lab.add_ns("m").unwrap();
    let nsname = ns.name().to_string();
    let prefix = ["ip", "netns", "exec", nsname.as_str()];
    let mut ms = moon_sun("metrics");
    let port = 9574;
    let vx = format!("metrics {{\n listen = 127.0.0.1:{port}\n sa_series = yes\n }}\n");
    ms.moon_conf.vtid_extra = Box::leak(vx.into_boxed_str());
    ms.moon_conf.start_action = "start";
    let dir = ms.dir.clone();
    let mut sun = Vtid::start(&dir, "sun", &ms.sun_conf.render(), &prefix, &[]);
    sun.wait_for(&["listening on UDP 0.0.0.0:"], T);
    let mut moon = Vtid::start(&dir, "moon", &ms.moon_conf.render(), &prefix, &[]);
    moon.wait_for(&["metrics: serving http://127.0.0.1:"], T);
    moon.wait_for(&["CHILD_SA net{", "up:"], T);

    let prom = dir.join("prometheus.yml");
    fs::write(
        &prom,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
             scrape_configs:\n  - job_name: vtid\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
        ),
    )
    .unwrap();
    let log = fs::File::create(dir.join("prometheus.log")).unwrap();
    let _prom = Killed(
        Command::new("ip")
            .args(["netns", "exec", &nsname, "prometheus"])
            .arg(format!("--config.file={}", prom.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .args(["--web.listen-address=127.0.0.1:9090"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    // The scrape works (up = 1) and reads what vtictl says.
    wait_value(&nsname, "up", "job=\"vtid\"", 1.0);
    let vtictl = |args: &[&str]| -> serde_json::Value {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &nsname, VTICTL, "--socket"])
            .arg(dir.join("moon.vici"))
            .arg("--json")
            .args(args);
        let out = c.output().unwrap();
        assert!(out.status.success(), "vtictl {args:?}: {out:?}");
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let stats = vtictl(&["stats"]);
    let total: f64 = stats["ikesas"]["total"].as_str().unwrap().parse().unwrap();
    wait_value(&nsname, "sum(vtid_ike_sas)", "", total);
    wait_value(&nsname, "vtid_ike_sas", "state=\"ESTABLISHED\"", 1.0);
    let sas = vtictl(&["list-sas"]);
    let children = sas[0]["child-sas"].as_object().unwrap();
    wait_value(
        &nsname,
        "vtid_connection_child_sas",
        "conn=\"lab\"",
        children.len() as f64,
    );
    wait_value(
        &nsname,
        "vtid_ike_sa_established_total",
        "conn=\"lab\"",
        1.0,
    );
    let cookies: f64 = stats["vtid"]["cookies-sent"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    wait_value(&nsname, "vtid_ike_cookies_sent_total", "", cookies);
    // The engine's and the data plane's daemon-wide counters (moon
    // initiated: it received no IKE_SA_INIT).
    for (key, metric) in [
        ("ike-sa-init-received", "vtid_ike_sa_init_received_total"),
        ("retransmits", "vtid_ike_retransmits_total"),
        ("responses-resent", "vtid_ike_responses_resent_total"),
        ("dpd-timeouts", "vtid_ike_dpd_timeouts_total"),
        ("esp-unknown-spi", "vtid_esp_unknown_spi_drops_total"),
    ] {
        let v: f64 = stats["vtid"][key].as_str().unwrap().parse().unwrap();
        wait_value(&nsname, metric, "", v);
    }
    // The per-SA series (sa_series = yes) name the IKE SA's unique id.
    let uid = sas[0]["uniqueid"].as_str().unwrap();
    wait_value(&nsname, "count(vtid_ike_sa_established_seconds)", "", 1.0);
    let got = query(&nsname, "vtid_ike_sa_established_seconds");
    assert!(
        got.iter()
            .any(|(l, _)| l.contains(&format!("uniqueid=\"{uid}\""))),
        "{got:?} vs vtictl uniqueid {uid}"
    );
    // A CHILD SA rekey shows up as a counter and a new child unique id.
    let v = vtictl(&["rekey", "--child", "net"]);
    assert_eq!(v["success"], true);
    moon.wait_for(&["CHILD_SA net", "rekeyed"], T);
    wait_value(&nsname, "vtid_child_sa_rekeys_total", "conn=\"lab\"", 1.0);
    let deadline = Instant::now() + T;
    loop {
        let sas = vtictl(&["list-sas"]);
        let ids: Vec<String> = sas[0]["child-sas"]
            .as_object()
            .unwrap()
            .values()
            .map(|c| c["uniqueid"].as_str().unwrap().to_string())
            .collect();
        let got = query(&nsname, "vtid_child_sa_bytes_total{direction=\"in\"}");
        let mut seen: Vec<String> = got
            .iter()
            .filter_map(|(l, _)| {
                let i = l.find("uniqueid=\"")? + 10;
                Some(l[i..].split('"').next()?.to_string())
            })
            .collect();
        seen.sort();
        let mut want = ids.clone();
        want.sort();
        if seen == want {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "per-CHILD SA series {seen:?}, vtictl {want:?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    moon.signal("TERM");
    let _ = moon.wait_exit(T);
    sun.signal("TERM");
    let _ = sun.wait_exit(T);
}
