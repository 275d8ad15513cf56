//! EAP-TLS (RFC 5216), the peer's side: rustls runs the TLS 1.2
//! handshake (mutual: the peer presents its certificate), this module
//! frames it in EAP-TLS packets (Flags, optional TLS Message Length,
//! fragments acknowledged with empty packets, RFC 5216 §2.1.5) and
//! exports the MSK (RFC 5216 §2.3: the first 64 octets of TLS-PRF(master
//! secret, "client EAP encryption", client.random || server.random), which
//! is RFC 5705's exporter without context).
//!
//! TLS 1.3 (RFC 9190) is not offered: its end of handshake is signalled
//! differently, and strongSwan's and FreeRADIUS's defaults for EAP-TLS
//! are TLS 1.2.

use std::fmt;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore};

use super::{typed, types, EapPayload, Msk};

/// EAP-TLS Flags (RFC 5216 §3.1).
pub mod flags {
    /// Length included.
    pub const L: u8 = 0x80;
    /// More fragments.
    pub const M: u8 = 0x40;
    /// EAP-TLS Start.
    pub const S: u8 = 0x20;
}

/// Largest TLS data in one EAP-TLS packet we send (strongSwan's
/// `fragment_size` default is 1024).
pub const FRAGMENT: usize = 1024;

/// Largest TLS message accepted in fragments (a certificate chain).
pub const MAX_MESSAGE: usize = 64 * 1024;

/// What the peer needs for EAP-TLS: the CAs it trusts for the server's
/// certificate, the name that certificate must carry, and its own
/// certificate chain and key.
#[derive(Clone)]
pub struct TlsPeerConfig {
    config: Arc<ClientConfig>,
    server_name: ServerName<'static>,
}

impl fmt::Debug for TlsPeerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsPeerConfig")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

impl TlsPeerConfig {
    /// A configuration trusting `cas` (DER) for a server named
    /// `server_name` (a DNS name or an IP address in its certificate),
    /// authenticating with `chain` (DER, leaf first) and `key` (PKCS#8,
    /// PKCS#1 or SEC1 DER).
    pub fn new(
        cas: &[Vec<u8>],
        server_name: &str,
        chain: Vec<Vec<u8>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<TlsPeerConfig, String> {
        let mut roots = RootCertStore::empty();
        for ca in cas {
            roots
                .add(CertificateDer::from(ca.clone()))
                .map_err(|e| format!("CA certificate: {e}"))?;
        }
        // ring's classical groups: EAP-TLS servers (FreeRADIUS, strongSwan)
        // negotiate TLS 1.2 with ECDHE; post-quantum groups are TLS 1.3 only.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS12])
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain.into_iter().map(CertificateDer::from).collect(), key)
            .map_err(|e| format!("client certificate or key: {e}"))?;
        let server_name = ServerName::try_from(server_name.to_string())
            .map_err(|e| format!("server name '{server_name}': {e}"))?;
        Ok(TlsPeerConfig {
            config: Arc::new(config),
            server_name,
        })
    }
}

/// What an EAP-TLS Request led to.
#[derive(Debug)]
pub(crate) enum TlsStep {
    /// Send this Response.
    Respond(EapPayload),
    /// The handshake failed.
    Failed(String),
}

/// One EAP-TLS conversation, the peer's side.
pub(crate) struct TlsPeer {
    cfg: TlsPeerConfig,
    conn: Option<ClientConnection>,
    /// Fragments of the server's message so far, and its announced length.
    inbuf: Vec<u8>,
    announced: Option<usize>,
    /// Our message still to send, and how much of it went.
    out: Vec<u8>,
    sent: usize,
    msk: Option<Msk>,
}

impl fmt::Debug for TlsPeer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsPeer")
            .field("started", &self.conn.is_some())
            .field("done", &self.msk.is_some())
            .finish_non_exhaustive()
    }
}

impl TlsPeer {
    pub(crate) fn new(cfg: TlsPeerConfig) -> TlsPeer {
        TlsPeer {
            cfg,
            conn: None,
            inbuf: Vec::new(),
            announced: None,
            out: Vec::new(),
            sent: 0,
            msk: None,
        }
    }

    /// The MSK once the handshake is complete.
    pub(crate) fn take_msk(&mut self) -> Option<Msk> {
        self.msk.take()
    }

    pub(crate) fn done(&self) -> bool {
        self.msk.is_some()
    }

    fn response(&self, id: u8, flags: u8, data: &[u8]) -> TlsStep {
        let mut td = Vec::with_capacity(data.len().saturating_add(5));
        td.push(flags);
        if flags & flags::L != 0 {
            td.extend_from_slice(
                &u32::try_from(self.out.len())
                    .unwrap_or(u32::MAX)
                    .to_be_bytes(),
            );
        }
        td.extend_from_slice(data);
        TlsStep::Respond(typed(EapPayload::RESPONSE, id, types::TLS, &td))
    }

    /// The next fragment of our message.
    fn next_fragment(&mut self, id: u8) -> TlsStep {
        let rest = self.out.get(self.sent..).unwrap_or_default();
        let n = rest.len().min(FRAGMENT);
        let chunk = rest.get(..n).unwrap_or_default().to_vec();
        let first = self.sent == 0;
        self.sent = self.sent.saturating_add(n);
        let more = self.sent < self.out.len();
        let mut f = 0;
        if more {
            f |= flags::M;
        }
        if first && more {
            f |= flags::L;
        }
        let step = self.response(id, f, &chunk);
        if !more {
            self.out.clear();
            self.sent = 0;
        }
        step
    }

    /// An EAP-TLS Request's Type-Data (after the Type octet).
    pub(crate) fn process(&mut self, id: u8, td: &[u8]) -> TlsStep {
        let Some((&fl, mut rest)) = td.split_first() else {
            return TlsStep::Failed("EAP-TLS Request without Flags".into());
        };
        if fl & flags::S != 0 {
            if self.conn.is_some() {
                return TlsStep::Failed("EAP-TLS Start in the middle of the handshake".into());
            }
            let conn = match ClientConnection::new(
                self.cfg.config.clone(),
                self.cfg.server_name.clone(),
            ) {
                Ok(c) => c,
                Err(e) => return TlsStep::Failed(format!("TLS: {e}")),
            };
            self.conn = Some(conn);
            return self.flush(id);
        }
        if self.conn.is_none() {
            return TlsStep::Failed("EAP-TLS Request before Start".into());
        }
        // The server acknowledges a fragment of ours with an empty Request.
        if !self.out.is_empty() && self.sent > 0 {
            if !rest.is_empty() {
                return TlsStep::Failed(
                    "EAP-TLS data while our fragments were being acknowledged".into(),
                );
            }
            return self.next_fragment(id);
        }
        if fl & flags::L != 0 {
            let Some((len, tail)) = rest.split_first_chunk::<4>() else {
                return TlsStep::Failed("EAP-TLS Length flag without a length".into());
            };
            let len = usize::try_from(u32::from_be_bytes(*len)).unwrap_or(usize::MAX);
            if len > MAX_MESSAGE {
                return TlsStep::Failed(format!("EAP-TLS message of {len} octets announced"));
            }
            if self.announced.is_none() {
                self.announced = Some(len);
            }
            rest = tail;
        }
        if self.inbuf.len().saturating_add(rest.len()) > MAX_MESSAGE {
            return TlsStep::Failed("EAP-TLS message too long".into());
        }
        self.inbuf.extend_from_slice(rest);
        if fl & flags::M != 0 {
            // Acknowledge and wait for the next fragment.
            return self.response(id, 0, &[]);
        }
        if let Some(n) = self.announced.take() {
            if n != self.inbuf.len() {
                return TlsStep::Failed(format!(
                    "EAP-TLS message of {} octets, {n} announced",
                    self.inbuf.len()
                ));
            }
        }
        let data = std::mem::take(&mut self.inbuf);
        let Some(conn) = self.conn.as_mut() else {
            return TlsStep::Failed("EAP-TLS state lost".into());
        };
        let mut rd: &[u8] = &data;
        while !rd.is_empty() {
            match conn.read_tls(&mut rd) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => return TlsStep::Failed(format!("TLS: {e}")),
            }
            if let Err(e) = conn.process_new_packets() {
                return TlsStep::Failed(format!("TLS handshake with the server failed: {e}"));
            }
        }
        if !conn.is_handshaking() && self.msk.is_none() {
            let mut km = zeroize::Zeroizing::new([0u8; 128]);
            if let Err(e) = conn.export_keying_material(&mut *km, b"client EAP encryption", None) {
                return TlsStep::Failed(format!("TLS key export: {e}"));
            }
            self.msk = Some(Msk::new(km.get(..64).unwrap_or_default().to_vec()));
        }
        self.flush(id)
    }

    /// Sends what rustls has to say (fragmented), or an empty
    /// acknowledgement.
    fn flush(&mut self, id: u8) -> TlsStep {
        let Some(conn) = self.conn.as_mut() else {
            return TlsStep::Failed("EAP-TLS state lost".into());
        };
        let mut out = Vec::new();
        while conn.wants_write() {
            if let Err(e) = conn.write_tls(&mut out) {
                return TlsStep::Failed(format!("TLS: {e}"));
            }
        }
        if out.is_empty() {
            return self.response(id, 0, &[]);
        }
        self.out = out;
        self.sent = 0;
        self.next_fragment(id)
    }
}
