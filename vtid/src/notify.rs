//! Service manager notifications: systemd's `sd_notify` protocol
//! (`NOTIFY_SOCKET`, sd_notify(3)), written here rather than linked from
//! libsystemd: one datagram of `KEY=VALUE` lines to a Unix socket named by
//! the environment, a path or, with a leading `@`, an abstract name.
//!
//! vtid sends `READY=1` once its IKE sockets are bound, its data plane and
//! interfaces are up and its control socket listens; `RELOADING=1` then
//! `READY=1` around a SIGHUP reload; `STOPPING=1` on SIGTERM/SIGINT; and a
//! `STATUS=` line with each. Without `NOTIFY_SOCKET` nothing is sent.

use std::io;
use std::os::unix::net::{SocketAddr, UnixDatagram};

use tracing::warn;

/// Where notifications go.
#[derive(Debug)]
pub struct Notifier {
    sock: UnixDatagram,
    addr: SocketAddr,
    name: String,
}

/// Reads `NOTIFY_SOCKET` and removes it from the environment, so programs
/// vtid starts (updown scripts) do not inherit it. Call before any thread
/// starts.
pub fn take_notify_socket() -> Option<String> {
    let v = std::env::var("NOTIFY_SOCKET")
        .ok()
        .filter(|s| !s.is_empty())?;
    std::env::remove_var("NOTIFY_SOCKET");
    Some(v)
}

fn address(name: &str) -> io::Result<SocketAddr> {
    if let Some(abs) = name.strip_prefix('@') {
        #[cfg(target_os = "linux")]
        {
            use std::os::linux::net::SocketAddrExt;
            return SocketAddr::from_abstract_name(abs.as_bytes());
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = abs;
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "abstract socket names exist on Linux only",
            ));
        }
    }
    if !name.starts_with('/') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "NOTIFY_SOCKET must be an absolute path or start with '@'",
        ));
    }
    SocketAddr::from_pathname(name)
}

impl Notifier {
    /// A notifier for socket `name` (a `NOTIFY_SOCKET` value).
    pub fn new(name: &str) -> io::Result<Notifier> {
        Ok(Notifier {
            sock: UnixDatagram::unbound()?,
            addr: address(name)?,
            name: name.to_string(),
        })
    }

    /// Sends `state` (newline-separated `KEY=VALUE` lines). A failure is
    /// logged: the service manager may time the start out, vtid goes on.
    pub fn send(&self, state: &str) {
        if let Err(e) = self.sock.send_to_addr(state.as_bytes(), &self.addr) {
            warn!(
                "cannot notify the service manager at {} ({}): {e}",
                self.name,
                state.lines().next().unwrap_or("")
            );
        }
    }

    /// `READY=1` with our pid and a status line.
    pub fn ready(&self, status: &str) {
        self.send(&format!(
            "READY=1\nMAINPID={}\nSTATUS={}",
            std::process::id(),
            one_line(status)
        ));
    }

    /// `RELOADING=1` with a status line.
    pub fn reloading(&self, status: &str) {
        self.send(&format!("RELOADING=1\nSTATUS={}", one_line(status)));
    }

    /// `STOPPING=1` with a status line.
    pub fn stopping(&self, status: &str) {
        self.send(&format!("STOPPING=1\nSTATUS={}", one_line(status)));
    }
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_and_abstract_names() {
        let dir = std::env::temp_dir().join(format!("vtid-notify-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let p = dir.join("n.sock");
        let _ = std::fs::remove_file(&p);
        let rx = UnixDatagram::bind(&p).unwrap();
        Notifier::new(p.to_str().unwrap())
            .unwrap()
            .ready("up\nsecond line");
        let mut buf = [0u8; 512];
        let n = rx.recv(&mut buf).unwrap();
        let got = std::str::from_utf8(&buf[..n]).unwrap();
        assert_eq!(
            got,
            format!(
                "READY=1\nMAINPID={}\nSTATUS=up second line",
                std::process::id()
            )
        );
        #[cfg(target_os = "linux")]
        {
            use std::os::linux::net::SocketAddrExt;
            let name = format!("vtid-notify-test-{}", std::process::id());
            let rx =
                UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap())
                    .unwrap();
            Notifier::new(&format!("@{name}")).unwrap().stopping("bye");
            let n = rx.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], b"STOPPING=1\nSTATUS=bye");
        }
        assert!(Notifier::new("relative/path").is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
