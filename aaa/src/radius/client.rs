//! The RADIUS client's transactions, sans I/O: requests to the
//! configured servers, retransmission (RFC 2865 §2.4 leaves timers to the
//! client; RFC 5080 §2.2.1 keeps the Identifier and authenticator of a
//! retransmission), failover to the next server when one does not answer
//! (RFC 2865 §2.6: a client may use several servers), and the check that
//! a reply comes from the server asked, with its secret.
//!
//! The daemon owns the UDP socket and the clock: it sends what
//! [`RadiusClient::poll_transmit`] gives, feeds datagrams to
//! [`RadiusClient::handle_datagram`] and calls
//! [`RadiusClient::handle_timeout`] at [`RadiusClient::poll_timeout`].

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand_core::CryptoRngCore;
use tracing::{info, warn};
use zeroize::Zeroizing;

use super::packet::{attr, code, verify_response, Packet, RadiusError};

/// One RADIUS server (strongswan.conf's `eap-radius.servers.NAME`).
#[derive(Clone)]
pub struct Server {
    /// Its name, for the log.
    pub name: String,
    /// Where Access-Requests go (`address`, `auth_port`).
    pub auth: SocketAddr,
    /// Where Accounting-Requests go (`address`, `acct_port`).
    pub acct: SocketAddr,
    /// The shared secret.
    pub secret: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("name", &self.name)
            .field("auth", &self.auth)
            .field("acct", &self.acct)
            .finish_non_exhaustive()
    }
}

/// Timers of the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timers {
    /// Wait before the first retransmission (doubling after each).
    pub timeout: Duration,
    /// Retransmissions to one server before the next is tried.
    pub retries: u32,
    /// How long a server that did not answer is skipped.
    pub dead_time: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            timeout: Duration::from_secs(2),
            retries: 2,
            dead_time: Duration::from_secs(60),
        }
    }
}

/// Which port a request goes to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// Access-Request.
    Auth,
    /// Accounting-Request.
    Acct,
}

/// A request's handle.
pub type Handle = u64;

/// A datagram to send.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Transmit {
    /// Destination.
    pub to: SocketAddr,
    /// The packet.
    pub data: Vec<u8>,
}

/// How a request ended.
#[derive(Debug)]
pub enum Reply {
    /// The server's verified reply, and the Request Authenticator (MPPE
    /// keys are encrypted with it) and the server's secret.
    Answer {
        /// The reply.
        packet: Packet,
        /// The request's authenticator.
        request_auth: [u8; 16],
        /// The server that answered.
        server: usize,
    },
    /// No server answered.
    Timeout,
}

#[derive(Debug)]
struct Pending {
    kind: Kind,
    /// The request, before sealing (to re-seal it for another server).
    template: Packet,
    server: usize,
    identifier: u8,
    request_auth: [u8; 16],
    data: Vec<u8>,
    sent: u32,
    deadline: Instant,
    /// Servers tried for it.
    tried: Vec<usize>,
}

/// The client: several servers, tried in order, skipping those that
/// recently did not answer.
#[derive(Debug)]
pub struct RadiusClient {
    servers: Vec<Server>,
    timers: Timers,
    dead_until: Vec<Option<Instant>>,
    next_id: Vec<u8>,
    pending: HashMap<Handle, Pending>,
    next_handle: Handle,
    out: VecDeque<Transmit>,
}

impl RadiusClient {
    /// A client of `servers` (in order of preference).
    pub fn new(servers: Vec<Server>, timers: Timers) -> RadiusClient {
        let n = servers.len();
        RadiusClient {
            servers,
            timers,
            dead_until: vec![None; n],
            next_id: vec![0; n],
            pending: HashMap::new(),
            next_handle: 0,
            out: VecDeque::new(),
        }
    }

    /// The servers.
    pub fn servers(&self) -> &[Server] {
        &self.servers
    }

    /// Requests outstanding.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// The first server not skipped (and not in `tried`).
    fn pick(&self, now: Instant, tried: &[usize]) -> Option<usize> {
        let alive = |i: &usize| {
            !tried.contains(i)
                && self
                    .dead_until
                    .get(*i)
                    .is_none_or(|d| d.is_none_or(|d| now >= d))
        };
        (0..self.servers.len()).find(alive)
    }

    /// An Identifier not used by another outstanding request to `server`
    /// (RFC 2865 §3: at most 256 outstanding per server and port).
    fn identifier(&mut self, server: usize, kind: Kind) -> Option<u8> {
        for _ in 0..256 {
            let slot = self.next_id.get_mut(server)?;
            let id = *slot;
            *slot = id.wrapping_add(1);
            let busy = self
                .pending
                .values()
                .any(|p| p.server == server && p.kind == kind && p.identifier == id);
            if !busy {
                return Some(id);
            }
        }
        None
    }

    /// Sends `packet` (Code and attributes; Identifier and authenticator
    /// are set here) to the first live server. Access-Requests get a
    /// random authenticator and a Message-Authenticator (RFC 3579 §3.2),
    /// Accounting-Requests the MD5 one (RFC 2866 §3).
    pub fn send(
        &mut self,
        kind: Kind,
        packet: Packet,
        now: Instant,
        rng: &mut dyn CryptoRngCore,
    ) -> Handle {
        let h = self.next_handle;
        self.next_handle = h.wrapping_add(1);
        let p = Pending {
            kind,
            template: packet,
            server: 0,
            identifier: 0,
            request_auth: [0; 16],
            data: Vec::new(),
            sent: 0,
            deadline: now,
            tried: Vec::new(),
        };
        self.pending.insert(h, p);
        // A request no server can take times out at once (at the next
        // handle_timeout).
        self.dispatch(h, now, rng);
        h
    }

    /// (Re)seals request `h` for the next server to try; `false` if none
    /// is left.
    fn dispatch(&mut self, h: Handle, now: Instant, rng: &mut dyn CryptoRngCore) -> bool {
        let Some(tried) = self.pending.get(&h).map(|p| p.tried.clone()) else {
            return false;
        };
        let Some(server) = self.pick(now, &tried) else {
            return false;
        };
        let Some(kind) = self.pending.get(&h).map(|p| p.kind) else {
            return false;
        };
        let Some(identifier) = self.identifier(server, kind) else {
            return false;
        };
        let Some(srv) = self.servers.get(server) else {
            return false;
        };
        let secret = srv.secret.clone();
        let to = match kind {
            Kind::Auth => srv.auth,
            Kind::Acct => srv.acct,
        };
        let Some(p) = self.pending.get_mut(&h) else {
            return false;
        };
        let mut pkt = p.template.clone();
        pkt.identifier = identifier;
        let sealed = match kind {
            Kind::Auth => {
                let mut auth = [0u8; 16];
                rng.fill_bytes(&mut auth);
                pkt.seal_access_request(auth, &secret)
            }
            Kind::Acct => pkt.seal_accounting(&secret),
        };
        let Ok(data) = sealed else {
            warn!("RADIUS request too large to send");
            return false;
        };
        p.server = server;
        p.identifier = identifier;
        p.request_auth = pkt.authenticator;
        p.data = data.clone();
        p.sent = 1;
        p.deadline = now.checked_add(self.timers.timeout).unwrap_or(now);
        p.tried.push(server);
        self.out.push_back(Transmit { to, data });
        true
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }

    /// When [`RadiusClient::handle_timeout`] is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.pending.values().map(|p| p.deadline).min()
    }

    /// Retransmits what is due, fails over to the next server after
    /// `retries`, and returns the requests no server answered.
    pub fn handle_timeout(&mut self, now: Instant, rng: &mut dyn CryptoRngCore) -> Vec<Handle> {
        let due: Vec<Handle> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(h, _)| *h)
            .collect();
        let mut failed = Vec::new();
        for h in due {
            let Some(p) = self.pending.get_mut(&h) else {
                continue;
            };
            if p.sent > 0 && p.sent <= self.timers.retries {
                // Same Identifier and authenticator (RFC 5080 §2.2.1).
                let shift = p.sent.min(6);
                let wait = self.timers.timeout.saturating_mul(1u32 << shift);
                p.sent = p.sent.saturating_add(1);
                p.deadline = now.checked_add(wait).unwrap_or(now);
                let srv = self.servers.get(p.server);
                if let Some(srv) = srv {
                    let to = match p.kind {
                        Kind::Auth => srv.auth,
                        Kind::Acct => srv.acct,
                    };
                    self.out.push_back(Transmit {
                        to,
                        data: p.data.clone(),
                    });
                }
                continue;
            }
            if p.sent > 0 {
                let server = p.server;
                if let Some(d) = self.dead_until.get_mut(server) {
                    *d = now.checked_add(self.timers.dead_time);
                }
                if let Some(s) = self.servers.get(server) {
                    warn!(
                        "RADIUS server '{}' ({}) did not answer; trying the next",
                        s.name, s.auth
                    );
                }
            }
            if !self.dispatch(h, now, rng) {
                self.pending.remove(&h);
                failed.push(h);
            }
        }
        failed
    }

    /// A datagram from `from`: the reply of one outstanding request if it
    /// is authentic (from that request's server, its Identifier, its
    /// Response Authenticator and Message-Authenticator). Anything else is
    /// dropped with the reason.
    pub fn handle_datagram(
        &mut self,
        from: SocketAddr,
        data: &[u8],
    ) -> Result<(Handle, Reply), RadiusError> {
        let id = *data.get(1).ok_or(RadiusError::Malformed("too short"))?;
        let candidates: Vec<Handle> = self
            .pending
            .iter()
            .filter(|(_, p)| {
                p.identifier == id
                    && self.servers.get(p.server).is_some_and(|s| {
                        from == match p.kind {
                            Kind::Auth => s.auth,
                            Kind::Acct => s.acct,
                        }
                    })
            })
            .map(|(h, _)| *h)
            .collect();
        let mut last = RadiusError::NotAuthentic("not a reply to an outstanding request");
        for h in candidates {
            let Some(p) = self.pending.get(&h) else {
                continue;
            };
            let Some(srv) = self.servers.get(p.server) else {
                continue;
            };
            match verify_response(
                data,
                p.identifier,
                &p.request_auth,
                &srv.secret,
                p.kind == Kind::Auth,
            ) {
                Ok(packet) => {
                    let ok = match p.kind {
                        Kind::Auth => matches!(
                            packet.code,
                            code::ACCESS_ACCEPT | code::ACCESS_REJECT | code::ACCESS_CHALLENGE
                        ),
                        Kind::Acct => packet.code == code::ACCOUNTING_RESPONSE,
                    };
                    if !ok {
                        last = RadiusError::Malformed("reply Code does not answer the request");
                        continue;
                    }
                    if let Some(d) = self.dead_until.get_mut(p.server) {
                        if d.is_some() {
                            info!("RADIUS server '{}' answers again", srv.name);
                        }
                        *d = None;
                    }
                    let request_auth = p.request_auth;
                    let server = p.server;
                    self.pending.remove(&h);
                    return Ok((
                        h,
                        Reply::Answer {
                            packet,
                            request_auth,
                            server,
                        },
                    ));
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// The secret of server `i` (to decrypt MPPE keys of its replies).
    pub fn secret(&self, i: usize) -> Option<&[u8]> {
        self.servers.get(i).map(|s| s.secret.as_slice())
    }
}

/// Attributes every request of the NAS carries: NAS-Identifier and
/// NAS-Port-Type Virtual (5), Service-Type Framed (2), as strongSwan's
/// eap-radius sends them.
pub fn nas_attributes(p: &mut Packet, nas_identifier: &[u8]) {
    p.add(attr::NAS_IDENTIFIER, nas_identifier.to_vec());
    p.add_u32(attr::NAS_PORT_TYPE, 5);
    p.add_u32(attr::SERVICE_TYPE, 2);
}
