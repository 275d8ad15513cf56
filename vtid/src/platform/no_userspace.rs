//! The userspace data plane does not exist on this system (it needs Linux
//! TUN offloads and rtnetlink; see [`crate::platform`]). This uninhabited
//! type stands in for it so that the daemon's "if the userspace backend
//! runs, also do X" code compiles unchanged: no value of it can exist, and
//! every method is an empty `match` the compiler proves unreachable.

use crate::dataplane::DataplaneError;
use crate::net::Sockets;

/// No userspace backend on this system.
#[derive(Debug)]
pub enum UserspaceBackend {}

impl UserspaceBackend {
    /// Unreachable: there is no value.
    pub fn refresh_path_mtu(&self) -> usize {
        match *self {}
    }

    /// Unreachable: there is no value.
    pub fn stats_lines(&self) -> Vec<String> {
        match *self {}
    }

    /// Unreachable: there is no value.
    pub fn mark_sockets(&self, _sockets: &Sockets) -> Result<(), DataplaneError> {
        match *self {}
    }
}
