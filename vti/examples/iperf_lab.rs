//! Throughput of two userspace ESP data planes in namespaces (the test
//! lab): `cargo run --release -p vti --example iperf_lab` as root. Prints
//! iperf3's summary for one TCP stream LAN to LAN over AES-GCM-16-128 in
//! UDP. A measurement, not a test.

#[cfg(target_os = "linux")]
#[path = "../tests/lab/mod.rs"]
mod lab;

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("iperf_lab measures the userspace data plane in Linux network namespaces");
    std::process::exit(2);
}

#[cfg(target_os = "linux")]
fn main() {
    let lab = lab::Lab::new("bench", 1500);
    let (lc, rc) = lab::configs(&["10.2.0.0/24"], &["10.1.0.0/24"]);
    let (left, _le) = lab.gl.dataplane(lc);
    let (right, _re) = lab.gr.dataplane(rc);
    let child = lab::Child::routed(7, lab::Alg::Gcm128, 0xc000_9001, 0xc000_9002);
    right.apply(&child.right(true)).unwrap();
    left.apply(&child.left(true)).unwrap();
    lab.hl.must_ping(&["-c", "1"], "10.2.0.2");
    let mut server = lab.hr.spawn(&["iperf3", "-s", "-1", "-B", "10.2.0.2"]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let out = lab.hl.exec(&["iperf3", "-c", "10.2.0.2", "-t", "5"]);
    let _ = server.kill();
    let _ = server.wait();
    println!("{}", String::from_utf8_lossy(&out.stdout));
    println!("{:#?}", left.interface_stats());
}
