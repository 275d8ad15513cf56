//! Throughput of two userspace ESP data planes in namespaces (the test
//! lab): `cargo run --release -p vti --example iperf_lab` as root. Prints
//! iperf3's summary for TCP LAN to LAN. A measurement, not a test.
//!
//! Environment: `ENCAP=no` plain ESP (IP protocol 50; default `yes`, ESP
//! in UDP), `ALG=gcm128|cbc256|chacha` (default gcm128), `STREAMS=N`
//! (iperf3 -P, default 1), `SECS=N` (default 5), `THREADS=N` (packet
//! threads per direction, default 0: one per CPU), `OFFLOAD=no` (TUN
//! offloads off).

#[cfg(target_os = "linux")]
#[path = "../tests/lab/mod.rs"]
mod lab;

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("iperf_lab measures the userspace data plane in Linux network namespaces");
    std::process::exit(2);
}

#[cfg(target_os = "linux")]
fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

#[cfg(target_os = "linux")]
fn main() {
    let encap = env("ENCAP", "yes") != "no";
    let alg = match env("ALG", "gcm128").as_str() {
        "cbc256" => lab::Alg::Cbc256Sha256,
        "chacha" => lab::Alg::ChaCha,
        _ => lab::Alg::Gcm128,
    };
    let streams = env("STREAMS", "1");
    let secs = env("SECS", "5");
    let threads: usize = env("THREADS", "0").parse().unwrap_or(0);
    let offload = env("OFFLOAD", "yes") != "no";
    let lab = lab::Lab::new("bench", 1500);
    let (mut lc, mut rc) = lab::configs(&["10.2.0.0/24"], &["10.1.0.0/24"]);
    for c in [&mut lc, &mut rc] {
        c.threads = threads;
        c.offload = offload;
    }
    let (left, _le) = lab.gl.dataplane(lc);
    let (right, _re) = lab.gr.dataplane(rc);
    let mut child = lab::Child::routed(7, alg, 0xc000_9001, 0xc000_9002);
    child.encap = encap;
    right.apply(&child.right(true)).unwrap();
    left.apply(&child.left(true)).unwrap();
    lab.hl.must_ping(&["-c", "1"], "10.2.0.2");
    let mut server = lab.hr.spawn(&["iperf3", "-s", "-1", "-B", "10.2.0.2"]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    println!(
        "{} {alg:?}, {streams} stream(s), {secs} s, threads {:?}",
        if encap { "ESP in UDP" } else { "plain ESP" },
        left.threads()
    );
    let t0 = thread_cpu();
    let w0 = std::time::Instant::now();
    let out = lab
        .hl
        .exec(&["iperf3", "-c", "10.2.0.2", "-t", &secs, "-P", &streams]);
    let wall = w0.elapsed().as_secs_f64();
    let t1 = thread_cpu();
    let _ = server.kill();
    let _ = server.wait();
    println!("{}", String::from_utf8_lossy(&out.stdout));
    // CPU of the data planes' threads (both gateways), by kind, in cores.
    let mut by: std::collections::BTreeMap<String, f64> = Default::default();
    for (name, t) in &t1 {
        let before = t0.iter().find(|(n, _)| n == name).map_or(0.0, |x| x.1);
        let comm = name.split('#').next().unwrap_or("");
        let kind: String = comm.trim_end_matches(|c: char| c.is_ascii_digit()).into();
        *by.entry(kind).or_default() += (t - before) / wall;
    }
    println!("threads' CPU in cores (both gateways): {by:?}");
    println!("{:#?}", left.interface_stats());
    println!("{:#?}", right.interface_stats());
    println!(
        "left: unknown SPI {} overflow {}; right: unknown SPI {} overflow {}",
        left.unknown_spi_drops(),
        left.socket_overflow_drops(),
        right.unknown_spi_drops(),
        right.socket_overflow_drops()
    );
}

#[cfg(target_os = "linux")]
/// (thread name#tid, CPU seconds) of every thread of
/// this process, from /proc/self/task/*/stat (utime + stime).
fn thread_cpu() -> Vec<(String, f64)> {
    let hz = 100.0; // USER_HZ on Linux
    let mut v = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return v;
    };
    for e in dir.flatten() {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        let (Some(a), Some(b)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = format!("{}#{}", &stat[a + 1..b], e.file_name().to_string_lossy());
        let f: Vec<&str> = stat[b + 2..].split(' ').collect();
        let t = |k: usize| f.get(k).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
        // Fields 14 and 15 (utime, stime), 1-based from pid.
        v.push((name, (t(11) + t(12)) / hz));
    }
    v
}
