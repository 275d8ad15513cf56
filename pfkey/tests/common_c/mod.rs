//! Shared helper: compile and run a C program against the system headers.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

/// Compiles `src` with `cc` and runs it; returns its stdout lines as
/// `key -> value` (first word -> rest). Panics with a pointer to
/// `pfkey/DEPS.txt` if the compiler or headers are missing.
pub fn run_c(name: &str, src: &str) -> HashMap<String, String> {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "pfkey-layout-{}-{}",
        name,
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let c = dir.join(format!("{name}.c"));
    let exe = dir.join(name);
    std::fs::write(&c, src).unwrap();
    let out = Command::new("cc")
        .arg("-std=gnu11")
        .arg("-Wall")
        .arg("-o")
        .arg(&exe)
        .arg(&c)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `cc` ({e}): install the packages in pfkey/DEPS.txt (gcc, linux-libc-dev)")
        });
    assert!(
        out.status.success(),
        "C layout program failed to compile (packages in pfkey/DEPS.txt installed?):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = Command::new(&exe).output().unwrap();
    assert!(run.status.success());
    let _ = std::fs::remove_dir_all(&dir);
    String::from_utf8(run.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// C prelude with the headers and a hex dumper.
pub const PRELUDE: &str = r#"
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <linux/pfkeyv2.h>
#include <linux/ipsec.h>
#include <linux/xfrm.h>
static void dump(const char *name, const void *p, size_t n) {
    const unsigned char *b = p;
    printf("%s ", name);
    for (size_t i = 0; i < n; i++) printf("%02x", b[i]);
    printf("\n");
}
"#;
