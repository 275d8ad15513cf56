//! The moon/sun loopback pair: two vtids on 127.0.0.1, each on its own
//! free IKE and NAT-T ports, with the PSK connection `lab` and its child
//! `net` (moon 10.1.0.0/24 <-> sun 10.2.0.0/24). sun is the responder;
//! what moon's file holds and how it starts is each test's own.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use super::{free_port, scratch, Conn, Vtid};

/// The pair's configuration, before anything runs.
#[derive(Debug, Clone)]
pub struct MoonSun {
    /// The scratch directory (configs, logs, sockets).
    pub dir: PathBuf,
    /// moon's `(port, port_nat_t)`.
    pub moon_ports: (u16, u16),
    /// sun's `(port, port_nat_t)`.
    pub sun_ports: (u16, u16),
    /// sun: the responder, `sun.example.org`, its selectors 10.2.0.0/24 ===
    /// 10.1.0.0/24, remote moon's port.
    pub sun_conf: Conn<'static>,
    /// moon: `moon.example.org` towards sun's port, the defaults otherwise
    /// (`start_action = none`).
    pub moon_conf: Conn<'static>,
}

/// A fresh scratch directory `tag`, four free ports and both connections.
pub fn moon_sun(tag: &str) -> MoonSun {
    let dir = scratch(tag);
    let (mp, mn, sp, sn) = (free_port(), free_port(), free_port(), free_port());
    let sun_conf = Conn {
        port: sp,
        port_nat_t: sn,
        local_addrs: "127.0.0.1",
        remote_addrs: "127.0.0.1",
        remote_port: mp,
        local_id: "sun.example.org",
        remote_id: "moon.example.org",
        local_ts: "10.2.0.0/24",
        remote_ts: "10.1.0.0/24",
        ..Conn::default()
    };
    let moon_conf = Conn {
        port: mp,
        port_nat_t: mn,
        local_addrs: "127.0.0.1",
        remote_addrs: "127.0.0.1",
        remote_port: sp,
        ..Conn::default()
    };
    MoonSun {
        dir,
        moon_ports: (mp, mn),
        sun_ports: (sp, sn),
        sun_conf,
        moon_conf,
    }
}

impl MoonSun {
    /// Starts sun from [`MoonSun::sun_conf`] and waits (up to `timeout`)
    /// until it listens on its NAT-T port.
    pub fn start_sun(&self, timeout: Duration) -> Vtid {
        let mut sun = Vtid::start(&self.dir, "sun", &self.sun_conf.render(), &[], &[]);
        sun.wait_for(
            &[&format!("listening on UDP 0.0.0.0:{}", self.sun_ports.1)],
            timeout,
        );
        sun
    }
}
