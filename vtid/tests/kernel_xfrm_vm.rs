//! The XFRM backend on a real kernel with ESP, in the test command: boots
//! Debian's kernel (linux-image-amd64) under virtme-ng with software
//! emulation (`interop/kernel-xfrm`; this lab's own kernel has no ESP, no
//! xfrm interfaces and no VTI) and runs, in one boot:
//!
//! - `vtid`: two vtids (`--dataplane xfrm`) in two namespaces bring up a
//!   routed CHILD SA over xfrm interfaces `ipsec7` (if_id 7); ping crosses
//!   it;
//! - `strongswan`: vtid against strongSwan's charon with kernel-netlink,
//!   each with its own xfrm interface; ping crosses;
//! - `vti`: vtid ↔ vtid with `xfrm_interface_type = vti` (legacy VTI,
//!   SAs and policies with marks); ping crosses.
//!
//! Each mode must print `RESULT: PASS (mode)`. The packages and virtme-ng
//! come from `interop/deps` (CI runs it first). When the VM cannot boot
//! (no KVM-less qemu, no kernel image, no vng) the test fails and says
//! why: it never passes without the kernel having carried the traffic.
//! Bounded: the VM gets `VM_TIMEOUT` seconds (default 900; a boot takes
//! about 3.5 minutes of emulation on an idle 2-core machine).

#![cfg(target_os = "linux")]

use std::process::Command;

#[test]
fn xfrm_backend_on_a_debian_kernel_in_a_vm() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "needs root: boots a VM and creates network namespaces in it"
    );
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let script = root.join("interop/kernel-xfrm");
    let work = std::env::temp_dir().join(format!("vtid-kernel-xfrm-{}", std::process::id()));
    let modes = "vtid strongswan vti";
    // The VM's own bound, and a little more for building and cleaning up.
    let vm_timeout: u64 = std::env::var("VM_TIMEOUT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(900);
    let out = Command::new("timeout")
        .arg((vm_timeout + 300).to_string())
        .arg(&script)
        .env("VTID", env!("CARGO_BIN_EXE_vtid"))
        .env("W", &work)
        .env("MODES", modes)
        .output()
        .expect("run interop/kernel-xfrm");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let result = std::fs::read_to_string(work.join("result.txt")).unwrap_or_default();
    let vm_log = std::fs::read_to_string(work.join("vm.log")).unwrap_or_default();
    let passed = out.status.success();
    if passed {
        let _ = std::fs::remove_dir_all(&work);
    }
    let report = format!(
        "interop/kernel-xfrm exit {:?} (logs kept in {})\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n--- vm.log\n{vm_log}",
        out.status.code(),
        work.display()
    );
    for m in modes.split(' ') {
        assert!(
            result.contains(&format!("RESULT: PASS ({m})")),
            "mode {m} did not pass in the VM\n{report}"
        );
    }
    assert!(!result.contains("RESULT: FAIL"), "{report}");
    assert!(passed, "{report}");
}
