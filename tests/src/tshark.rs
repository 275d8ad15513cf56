//! Running `tshark` on a pcap for the tests: field extraction and the
//! "malformed or expert warning/error" query. A missing tshark is a test
//! failure with an install hint, never a skip.

use std::path::Path;
use std::process::Command;

/// How to get tshark, for failure messages.
pub const INSTALL_HINT: &str = "tshark is not installed or not in PATH: install it with \
     `sudo interop/deps` (or Debian: `apt-get install tshark`) — this test does not skip";

/// `tshark -n -r PCAP` plus `-o` preferences (`name:value`, e.g.
/// `uat:ikev2_decryption_table:...`).
pub fn command(pcap: &Path, prefs: &[String]) -> Command {
    let mut c = Command::new("tshark");
    c.arg("-n").arg("-r").arg(pcap);
    c.args(["-o", "ip.check_checksum:TRUE"]);
    for p in prefs {
        c.arg("-o").arg(p);
    }
    c
}

/// Runs `c` and returns stdout; panics (with [`INSTALL_HINT`] if tshark is
/// missing) when it cannot run or exits unsuccessfully.
pub fn run(mut c: Command) -> String {
    let out = match c.output() {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!("{INSTALL_HINT}"),
        Err(e) => panic!("cannot run tshark: {e}"),
    };
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "tshark failed ({}): {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        stdout
    );
    stdout
}

/// One row per frame, one column per field in `names`; multiple
/// occurrences of a field are joined with `,`.
pub fn fields(pcap: &Path, prefs: &[String], names: &[&str]) -> Vec<Vec<String>> {
    let mut c = command(pcap, prefs);
    c.args(["-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,"]);
    for n in names {
        c.args(["-e", n]);
    }
    run(c)
        .lines()
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}

/// The full dissection (`-V`) of frames that are malformed or carry an
/// expert item of severity warning (0x600000) or error (0x800000); empty
/// when there are none.
pub fn problems(pcap: &Path, prefs: &[String]) -> String {
    let mut c = command(pcap, prefs);
    c.args([
        "-Y",
        "_ws.malformed || _ws.expert.severity >= 0x600000",
        "-V",
    ]);
    run(c).trim().to_string()
}

/// The `ikev2_decryption_table` UAT preference for one IKE SA, from a
/// line `SPIi,SPIr,SK_ei,SK_er,"encr",SK_ai,SK_ar,"integ"` as vtid's key
/// log writes it (`vtid::keylog::ikev2_line`: the one writer of that
/// format) or a fixture holds it.
pub fn ikev2_uat(line: &str) -> String {
    format!("uat:ikev2_decryption_table:{line}")
}
