//! Default locations, per system (the crate's only platform-dependent
//! values). Linux: strongSwan's Debian layout for the configuration, vtid's
//! own control socket. FreeBSD: pfSense's layout (and the strongSwan
//! port's), so vtid takes charon's place there: pfSense writes
//! `/usr/local/etc/swanctl/swanctl.conf` (with `conf.d/*.conf` includes and
//! the `x509`, `x509ca`, `private` ... folders beside it) and its status
//! pages run `swanctl`, which talks to `/var/run/charon.vici` unless told
//! otherwise.

/// The swanctl directory: `swanctl.conf`, `conf.d/`, `x509/`, `x509ca/`,
/// `x509crl/`, `private/`, `rsa/`, `ecdsa/`, `pkcs8/`, `pkcs12/`.
#[cfg(not(target_os = "freebsd"))]
pub const SWANCTL_DIR: &str = "/etc/swanctl";
/// The swanctl directory: `swanctl.conf`, `conf.d/`, `x509/`, `x509ca/`,
/// `x509crl/`, `private/`, `rsa/`, `ecdsa/`, `pkcs8/`, `pkcs12/`.
#[cfg(target_os = "freebsd")]
pub const SWANCTL_DIR: &str = "/usr/local/etc/swanctl";

/// The configuration file `vtid` and `vtictl load-all` read by default.
#[cfg(not(target_os = "freebsd"))]
pub const SWANCTL_CONF: &str = "/etc/swanctl/swanctl.conf";
/// The configuration file `vtid` and `vtictl load-all` read by default.
#[cfg(target_os = "freebsd")]
pub const SWANCTL_CONF: &str = "/usr/local/etc/swanctl/swanctl.conf";

/// The file `vtid` (and `vtictl check`) read without `--config`: vtid's
/// own on Linux (connections, secrets and `vtid { }`).
#[cfg(not(target_os = "freebsd"))]
pub const DEFAULT_CONFIG: &str = "/etc/vtid/vtid.conf";
/// The file `vtid` (and `vtictl check`) read without `--config`: on
/// FreeBSD pfSense's generated `swanctl.conf`.
#[cfg(target_os = "freebsd")]
pub const DEFAULT_CONFIG: &str = SWANCTL_CONF;

/// The default VICI socket (`vtid.vici.socket`), as a `unix://` URI.
#[cfg(not(target_os = "freebsd"))]
pub const VICI_SOCKET: &str = "unix:///run/vtid.vici";
/// The default VICI socket (`vtid.vici.socket`), as a `unix://` URI:
/// charon's, where pfSense's pages and `swanctl` look for it.
#[cfg(target_os = "freebsd")]
pub const VICI_SOCKET: &str = "unix:///var/run/charon.vici";

/// The local syslog socket `syslog { }` sends to unless `socket` says
/// otherwise: what the C library's `syslog(3)` uses (glibc `_PATH_LOG`
/// `/dev/log`).
#[cfg(not(target_os = "freebsd"))]
pub const SYSLOG_SOCKET: &str = "/dev/log";
/// The local syslog socket `syslog { }` sends to unless `socket` says
/// otherwise: FreeBSD's `_PATH_LOG` (`<syslog.h>`), where `syslogd`
/// listens (`/dev/log` does not exist there; pfSense's syslogd listens here
/// too).
#[cfg(target_os = "freebsd")]
pub const SYSLOG_SOCKET: &str = "/var/run/log";

/// [`VICI_SOCKET`] as a path.
pub fn vici_socket_path() -> &'static str {
    VICI_SOCKET.trim_start_matches("unix://")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_of_this_system() {
        assert!(SWANCTL_CONF.starts_with(SWANCTL_DIR));
        assert!(SWANCTL_CONF.ends_with("/swanctl.conf"));
        assert!(vici_socket_path().starts_with('/'));
        if cfg!(target_os = "freebsd") {
            assert_eq!(SWANCTL_CONF, "/usr/local/etc/swanctl/swanctl.conf");
            assert_eq!(DEFAULT_CONFIG, SWANCTL_CONF);
            assert_eq!(vici_socket_path(), "/var/run/charon.vici");
            assert_eq!(SYSLOG_SOCKET, "/var/run/log");
        } else {
            assert_eq!(SWANCTL_CONF, "/etc/swanctl/swanctl.conf");
            assert_eq!(DEFAULT_CONFIG, "/etc/vtid/vtid.conf");
            assert_eq!(vici_socket_path(), "/run/vtid.vici");
            assert_eq!(SYSLOG_SOCKET, "/dev/log");
        }
    }
}
