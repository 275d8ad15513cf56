//! The PF_KEY v2 backend for FreeBSD `if_ipsec(4)` (pfSense's route-based
//! IPsec).
//!
//! # What one CHILD SA becomes
//!
//! * Routed children: the `ipsecN` interface (reqid R) owns the policies:
//!   `if_ipsec` installs its own SPs for its tunnel endpoints and picks SAs
//!   by reqid R and those endpoints. So the backend first makes sure the
//!   interface's tunnel is `local → remote` of the SA ([`Tunnels`]; created
//!   at the first SA, re-set when the peer's address changes — `if_ipsec`
//!   ignores SAs whose addresses differ from its endpoints, so the tunnel is
//!   moved before the SAs are), then adds the two SAs. No SPD entries.
//! * Policy-based children: the same two SAs, plus `SADB_X_SPDADD` per
//!   direction and selector pair with one `ipsecrequest` (ESP, tunnel,
//!   level `unique`, reqid R, tunnel endpoints). FreeBSD has no `fwd`
//!   policies. `unique` reqids must be ≤ 0x3fff (`IPSEC_MANUAL_REQID_MAX`).
//! * SAs: `SADB_ADD` (the engine chose the SPIs; no `GETSPI`) with
//!   `SADB_EXT_SA`, `SADB_X_EXT_SA2` (mode tunnel, reqid R), the keys
//!   (AEAD: key with salt), `SADB_X_EXT_NAT_T_TYPE/SPORT/DPORT` when UDP
//!   encapsulated, the replay window (FreeBSD's `sadb_sa_replay` counts
//!   bytes; windows over 2040 packets add `SADB_X_EXT_SA_REPLAY`), hard and
//!   soft byte lifetimes. PF_KEY lifetimes have no packet counts: packet
//!   limits are not enforced by this backend.
//! * Make-before-break as in the XFRM backend: the outbound SA is added
//!   only when the child's outbound half is active and deleted by
//!   `RemoveOutbound`; FreeBSD then uses the newest SA of the reqid.
//! * Delete: `SADB_DELETE` of both SAs; the policy-based child's SPD
//!   entries go with the reqid's last SA (`SADB_X_SPDDELETE`).
//!
//! The socket is behind [`Transport`] and the interface calls behind
//! [`Tunnels`], so the exact message sequences are tested on Linux with
//! fakes ([`RecordingTransport`], [`RecordingTunnels`]); the real ones
//! (`PfKeySocket`, `crate::freebsd::IfIpsec`) need FreeBSD.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};

use super::table::{ChildTable, ReqidShared, SaKernel};
use super::{selector_pairs, Auth, ChildSpec, Cipher, Dir, KernelEvent, SaKeys};
use crate::pfkey::{
    ipsec_dir, ipsec_level, ipsec_mode, ipsec_policy, Address, AddressKind, Flavor, IpsecRequest,
    Key, Lifetime, LifetimeKind, Message, MsgType, NatT, PfKeyError, PfKeySocket, Policy, SaSpec,
    SaType, UDP_ENCAP_ESPINUDP,
};

/// `SADB_AALG_SHA1HMAC`.
pub const SADB_AALG_SHA1HMAC: u8 = 3;
/// `SADB_X_AALG_SHA2_256`.
pub const SADB_X_AALG_SHA2_256: u8 = 5;
/// `SADB_X_AALG_SHA2_384`.
pub const SADB_X_AALG_SHA2_384: u8 = 6;
/// `SADB_X_AALG_SHA2_512`.
pub const SADB_X_AALG_SHA2_512: u8 = 7;
/// `SADB_X_EALG_AES` (AES-CBC).
pub const SADB_X_EALG_AES: u8 = 12;
/// `SADB_X_EALG_AESGCM16`.
pub const SADB_X_EALG_AESGCM16: u8 = 20;
/// `SADB_X_EALG_CHACHA20POLY1305` (FreeBSD 14 `sys/net/pfkeyv2.h`).
pub const SADB_X_EALG_CHACHA20POLY1305: u8 = 15;
/// `SADB_AALG_MD5HMAC` (FreeBSD `sys/net/pfkeyv2.h`).
pub const SADB_AALG_MD5HMAC: u8 = 2;
/// `SADB_X_AALG_AES_XCBC_MAC`.
pub const SADB_X_AALG_AES_XCBC_MAC: u8 = 9;
/// `SADB_EALG_3DESCBC`.
pub const SADB_EALG_3DESCBC: u8 = 3;
/// `SADB_X_EALG_CAMELLIACBC`.
pub const SADB_X_EALG_CAMELLIACBC: u8 = 22;
/// `SADB_X_SAFLAGS_ESN` (FreeBSD).
pub const SADB_X_SAFLAGS_ESN: u32 = 0x400;
/// `IPSEC_MANUAL_REQID_MAX`: the largest reqid a `unique` request takes.
pub const IPSEC_MANUAL_REQID_MAX: u32 = 0x3fff;

/// Errors of the PF_KEY backend.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The kernel refused, or the socket failed.
    #[error(transparent)]
    PfKey(#[from] PfKeyError),
    /// Setting up the `if_ipsec` interface failed.
    #[error("if_ipsec {name}: {source}")]
    Tunnel {
        /// The interface.
        name: String,
        /// What failed.
        #[source]
        source: io::Error,
    },
    /// Something PF_KEY (or this backend) cannot express.
    #[error("{0}")]
    Unsupported(String),
    /// An action for an SA this backend does not hold.
    #[error("unknown CHILD SA: {0}")]
    Unknown(String),
}

/// Sends a request and returns the kernel's reply.
pub trait Transport: std::fmt::Debug + Send {
    /// One request/reply exchange.
    fn request(&mut self, msg: Message) -> Result<Message, PfKeyError>;
}

impl Transport for PfKeySocket {
    fn request(&mut self, msg: Message) -> Result<Message, PfKeyError> {
        PfKeySocket::request(self, msg)
    }
}

/// The `if_ipsec` interface calls.
pub trait Tunnels: std::fmt::Debug + Send {
    /// Makes interface `name` exist with `reqid` and tunnel `local → remote`
    /// (create it, or re-set the endpoints of an existing one).
    fn set_tunnel(
        &mut self,
        name: &str,
        reqid: u32,
        local: IpAddr,
        remote: IpAddr,
    ) -> io::Result<()>;
}

/// The event in an unsolicited kernel message, if it is one the daemon
/// acts on. As FreeBSD's `sys/netipsec/key.c` builds them:
///
/// * `SADB_EXPIRE` (`key_expire`): `SADB_EXT_SA` (the SPI), `SADB_X_EXT_SA2`,
///   `SADB_EXT_LIFETIME_CURRENT`, then `SADB_EXT_LIFETIME_HARD` for a hard
///   expiry (the SA is gone) or `SADB_EXT_LIFETIME_SOFT` for a soft one
///   (rekey), and the SA's `ADDRESS_SRC`/`DST`.
/// * `SADB_ACQUIRE` (`key_acquire`): the SA index's `ADDRESS_SRC`/`DST`,
///   `SADB_X_EXT_SA2` carrying the policy's reqid, `SADB_X_EXT_POLICY`
///   and the proposal; the reqid falls back to the policy's first request.
///
/// Replies to our own requests (a non-zero `sadb_msg_pid` that is ours)
/// never get here: [`PfKeySocket::request`] keeps them.
pub fn parse_event(m: &Message) -> Option<KernelEvent> {
    let ip = |k: AddressKind| m.address(k).map(|a| a.addr.ip());
    match m.msg_type {
        MsgType::EXPIRE if m.errno == 0 => Some(KernelEvent::Expire {
            spi: m.sa()?.spi,
            dst: ip(AddressKind::Dst),
            hard: m.lifetime(LifetimeKind::Hard).is_some(),
        }),
        MsgType::ACQUIRE if m.errno == 0 => Some(KernelEvent::Acquire {
            reqid: m
                .sa2()
                .map(|s| s.reqid)
                .filter(|&r| r != 0)
                .or_else(|| m.policy()?.requests.first().map(|q| q.reqid))
                .unwrap_or(0),
            src: ip(AddressKind::Src),
            dst: ip(AddressKind::Dst),
        }),
        _ => None,
    }
}

/// Records the transport's requests and answers each with itself (what a
/// kernel's successful reply to ADD/DELETE/SPDADD looks like, near enough).
#[derive(Debug, Default)]
pub struct RecordingTransport {
    /// The requests in order.
    pub sent: Vec<Message>,
}

impl Transport for RecordingTransport {
    fn request(&mut self, msg: Message) -> Result<Message, PfKeyError> {
        self.sent.push(msg.clone());
        Ok(msg)
    }
}

/// Records `set_tunnel` calls.
#[derive(Debug, Default)]
pub struct RecordingTunnels {
    /// `(name, reqid, local, remote)` in order.
    pub calls: Vec<(String, u32, IpAddr, IpAddr)>,
}

impl Tunnels for RecordingTunnels {
    fn set_tunnel(
        &mut self,
        name: &str,
        reqid: u32,
        local: IpAddr,
        remote: IpAddr,
    ) -> io::Result<()> {
        self.calls.push((name.to_owned(), reqid, local, remote));
        Ok(())
    }
}

/// `(sadb_sa_auth, sadb_sa_encrypt, encryption key, auth key)` of one
/// direction. FreeBSD AES-GCM: `SADB_X_EALG_AESGCM16`, no auth algorithm
/// (the kernel derives GMAC from the key length), key = key || salt;
/// ChaCha20-Poly1305 (FreeBSD 14 and later): `SADB_X_EALG_CHACHA20POLY1305`,
/// no auth algorithm, key = 32-byte key || 4-byte salt.
pub fn algorithms(k: &SaKeys) -> Result<(u8, u8, Key, Option<Key>), Error> {
    let key = |d: &[u8]| Key::new(d).map_err(|e| Error::Unsupported(e.to_string()));
    match (k.cipher, k.auth) {
        (Cipher::AesGcm16 { key_bits }, None) => {
            if k.enc_key.len() != usize::from(key_bits) / 8 + 4 {
                return Err(Error::Unsupported(format!(
                    "AES-GCM-{key_bits}: key with salt has {} bytes",
                    k.enc_key.len()
                )));
            }
            Ok((0, SADB_X_EALG_AESGCM16, key(&k.enc_key)?, None))
        }
        (c @ (Cipher::AesCbc { .. } | Cipher::TripleDes | Cipher::CamelliaCbc { .. }), Some(a)) => {
            let aalg = match a {
                Auth::HmacSha1_96 => SADB_AALG_SHA1HMAC,
                Auth::HmacSha256_128 => SADB_X_AALG_SHA2_256,
                Auth::HmacSha384_192 => SADB_X_AALG_SHA2_384,
                Auth::HmacSha512_256 => SADB_X_AALG_SHA2_512,
                Auth::HmacMd5_96 => SADB_AALG_MD5HMAC,
                Auth::AesXcbc96 => SADB_X_AALG_AES_XCBC_MAC,
                Auth::HmacSha256_96 | Auth::AesCmac96 => {
                    return Err(Error::Unsupported(format!(
                        "integrity {a:?}: FreeBSD's PF_KEY has no such algorithm"
                    )))
                }
            };
            let ealg = match c {
                Cipher::TripleDes => SADB_EALG_3DESCBC,
                Cipher::CamelliaCbc { .. } => SADB_X_EALG_CAMELLIACBC,
                _ => SADB_X_EALG_AES,
            };
            Ok((aalg, ealg, key(&k.enc_key)?, Some(key(&k.auth_key)?)))
        }
        // FreeBSD 14 `sys/netipsec/xform_esp.c` `esp_init`: the key is
        // the 32-byte ChaCha20 key followed by the 4-byte salt (RFC 7634
        // §2: nonce = salt || IV; `SAV_ISCHACHA` subtracts 4 bytes as for
        // GCM), and the kernel sets the Poly1305 tag itself
        // (`alg_auth = SADB_X_AALG_CHACHA20POLY1305`), so no auth
        // algorithm or key is sent; `enc_xform_chacha20_poly1305` takes
        // exactly 32 key bytes.
        (Cipher::ChaCha20Poly1305, None) => {
            if k.enc_key.len() != 32 + 4 {
                return Err(Error::Unsupported(format!(
                    "ChaCha20-Poly1305: key with salt has {} bytes, want 36",
                    k.enc_key.len()
                )));
            }
            Ok((0, SADB_X_EALG_CHACHA20POLY1305, key(&k.enc_key)?, None))
        }
        (c, a) => Err(Error::Unsupported(format!(
            "cipher {c:?} with integrity {a:?}"
        ))),
    }
}

fn lifetime(bytes: u64) -> Option<Lifetime> {
    (bytes != 0).then_some(Lifetime {
        allocations: 0,
        bytes,
        addtime: 0,
        usetime: 0,
    })
}

/// The `SADB_ADD` spec of one direction.
pub fn sa_spec(spec: &ChildSpec, dir: Dir) -> Result<SaSpec, Error> {
    let (src, dst) = spec.endpoints(dir);
    let k = spec.keys(dir);
    let (auth, encrypt, enc_key, auth_key) = algorithms(k)?;
    Ok(SaSpec {
        satype: SaType::ESP,
        spi: k.spi,
        auth,
        encrypt,
        flags: if spec.esn { SADB_X_SAFLAGS_ESN } else { 0 },
        replay_window: spec.replay_window,
        mode: if spec.tunnel {
            ipsec_mode::TUNNEL
        } else {
            ipsec_mode::TRANSPORT
        },
        reqid: spec.reqid,
        src: Address::host(src.ip()),
        dst: Address::host(dst.ip()),
        auth_key,
        enc_key: Some(enc_key),
        hard: lifetime(spec.limits.hard_bytes),
        soft: lifetime(spec.limits.soft_bytes),
        natt: spec.encap.then_some(NatT {
            encap_type: UDP_ENCAP_ESPINUDP,
            sport: src.port(),
            dport: dst.port(),
            oai: None,
            oar: None,
        }),
    })
}

/// The `SADB_DELETE` of one direction.
pub fn delete_message(spec: &ChildSpec, dir: Dir) -> Message {
    let (src, dst) = spec.endpoints(dir);
    Message::delete(
        SaType::ESP,
        spec.keys(dir).spi,
        Address::host(src.ip()),
        Address::host(dst.ip()),
    )
}

/// One SPD entry: selector source, destination, policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpdEntry {
    /// Selector source.
    pub src: Address,
    /// Selector destination.
    pub dst: Address,
    /// Direction and request.
    pub policy: Policy,
}

fn request(spec: &ChildSpec, dir: Dir) -> IpsecRequest {
    let (src, dst) = spec.endpoints(dir);
    IpsecRequest {
        proto: crate::pfkey::IPPROTO_ESP,
        mode: if spec.tunnel {
            ipsec_mode::TUNNEL
        } else {
            ipsec_mode::TRANSPORT
        },
        level: ipsec_level::UNIQUE,
        reqid: spec.reqid,
        endpoints: spec
            .tunnel
            .then_some((SocketAddr::new(src.ip(), 0), SocketAddr::new(dst.ip(), 0))),
    }
}

/// The SPD entries of a policy-based child (none for routed children:
/// `if_ipsec` has its own). Port ranges other than one port or all are
/// refused, as for XFRM.
pub fn spd_entries(spec: &ChildSpec) -> Result<Vec<SpdEntry>, Error> {
    if spec.routed {
        return Ok(Vec::new());
    }
    if spec.reqid > IPSEC_MANUAL_REQID_MAX {
        return Err(Error::Unsupported(format!(
            "reqid {} above IPSEC_MANUAL_REQID_MAX (0x3fff) for a policy-based child",
            spec.reqid
        )));
    }
    spec.check_selector_limit()
        .map_err(|e| Error::Unsupported(e.to_string()))?;
    let mut out = Vec::new();
    let pairs = selector_pairs(&spec.local_ts, &spec.remote_ts)
        .map_err(|e| Error::Unsupported(format!("{e}: SPD selectors take one port or all")))?;
    for p in pairs {
        let (proto, lp, rp) = (p.proto, p.local_port, p.remote_port);
        for (la, ra) in p.prefix_pairs() {
            let addr = |ip: IpAddr, len: u8, port: u16| Address {
                proto: if proto == 0 { 255 } else { proto },
                prefixlen: len,
                addr: SocketAddr::new(ip, port),
            };
            for (dir, pdir) in [
                (Dir::Out, ipsec_dir::OUTBOUND),
                (Dir::In, ipsec_dir::INBOUND),
            ] {
                let (s, d) = match dir {
                    Dir::Out => (addr(la.0, la.1, lp.0), addr(ra.0, ra.1, rp.0)),
                    Dir::In => (addr(ra.0, ra.1, rp.0), addr(la.0, la.1, lp.0)),
                };
                out.push(SpdEntry {
                    src: s,
                    dst: d,
                    policy: Policy {
                        policy_type: ipsec_policy::IPSEC,
                        dir: pdir,
                        scope: 0,
                        id: 0,
                        priority: 0,
                        requests: vec![request(spec, dir)],
                    },
                });
            }
        }
    }
    Ok(out)
}

/// The transport and the message flavor: how one direction's SA is added
/// and deleted.
#[derive(Debug)]
struct Kernel<T: Transport> {
    transport: T,
    flavor: Flavor,
}

impl<T: Transport> SaKernel for Kernel<T> {
    type Error = Error;

    fn add_sa(&mut self, spec: &ChildSpec, dir: Dir) -> Result<(), Error> {
        let m = Message::add(&sa_spec(spec, dir)?, self.flavor);
        self.transport.request(m)?;
        Ok(())
    }

    fn del_sa(&mut self, spec: &ChildSpec, dir: Dir) -> Result<(), Error> {
        match self.transport.request(delete_message(spec, dir)) {
            Err(PfKeyError::Kernel {
                errno: nix::errno::Errno::ESRCH,
                ..
            }) => Ok(()),
            r => r.map(|_| ()).map_err(Error::from),
        }
    }

    fn unknown(what: String) -> Error {
        Error::Unknown(what)
    }
}

/// The PF_KEY backend: a transport, the `if_ipsec` calls, the interface
/// names by reqid, and what it installed.
#[derive(Debug)]
pub struct PfKeyBackend<T: Transport, U: Tunnels> {
    kernel: Kernel<T>,
    tunnels: U,
    interfaces: HashMap<u32, String>,
    tunnel_of: HashMap<u32, (IpAddr, IpAddr)>,
    children: ChildTable,
    /// SPD entries of each policy-based reqid and how many CHILD SAs use
    /// them.
    spd: ReqidShared<Vec<SpdEntry>>,
}

impl<T: Transport, U: Tunnels> PfKeyBackend<T, U> {
    /// A backend; `interfaces` maps reqids to `if_ipsec` names.
    pub fn new(transport: T, tunnels: U, flavor: Flavor, interfaces: HashMap<u32, String>) -> Self {
        PfKeyBackend {
            kernel: Kernel { transport, flavor },
            tunnels,
            interfaces,
            tunnel_of: HashMap::new(),
            children: ChildTable::new(),
            spd: ReqidShared::new(),
        }
    }

    /// The transport (tests read the recording).
    pub fn transport(&self) -> &T {
        &self.kernel.transport
    }

    /// The tunnel calls (tests read the recording).
    pub fn tunnels(&self) -> &U {
        &self.tunnels
    }

    fn ensure_tunnel(&mut self, spec: &ChildSpec) -> Result<(), Error> {
        let Some(name) = self.interfaces.get(&spec.reqid).cloned() else {
            return Ok(());
        };
        let want = (spec.local.ip(), spec.remote.ip());
        if self.tunnel_of.get(&spec.reqid) == Some(&want) {
            return Ok(());
        }
        self.tunnels
            .set_tunnel(&name, spec.reqid, want.0, want.1)
            .map_err(|source| Error::Tunnel { name, source })?;
        self.tunnel_of.insert(spec.reqid, want);
        Ok(())
    }

    /// Installs a CHILD SA: tunnel endpoints (routed), inbound SA, outbound
    /// SA if active, SPD entries (policy-based).
    pub fn install(&mut self, spec: ChildSpec, outbound_active: bool) -> Result<(), Error> {
        let routed = self.interfaces.contains_key(&spec.reqid);
        let mut spec = spec;
        spec.routed = routed;
        let entries = spd_entries(&spec)?;
        self.ensure_tunnel(&spec)?;
        self.kernel.add_sa(&spec, Dir::In)?;
        if outbound_active {
            self.kernel.add_sa(&spec, Dir::Out)?;
        }
        // The SPD entries go in with the reqid's first CHILD SA; later ones
        // share them as they are (what the kernel holds is what the last
        // delete removes).
        if !self.spd.add_user(spec.reqid) {
            for e in &entries {
                self.kernel
                    .transport
                    .request(Message::spd_add(e.src, e.dst, e.policy.clone()))?;
            }
            self.spd.acquire(spec.reqid, entries);
        }
        self.children.insert(spec, outbound_active);
        Ok(())
    }

    /// Adds the outbound SA of a child installed inbound-only.
    pub fn activate_outbound(&mut self, reqid: u32, spi_out: u32) -> Result<(), Error> {
        self.children
            .activate_outbound(&mut self.kernel, reqid, spi_out)
    }

    /// Deletes the outbound SA (the inbound one stays until `delete`).
    pub fn remove_outbound(&mut self, reqid: u32, spi_out: u32) -> Result<(), Error> {
        self.children
            .remove_outbound(&mut self.kernel, reqid, spi_out)
    }

    /// Deletes a CHILD SA; the SPD entries go with the reqid's last SA.
    pub fn delete(&mut self, spi_in: u32) -> Result<(), Error> {
        let c = self
            .children
            .remove(spi_in)
            .ok_or_else(|| Error::Unknown(format!("spi_in {spi_in:08x}")))?;
        let mut first_err = c
            .delete_sas(&mut self.kernel)
            .into_iter()
            .next()
            .map(|(_, e)| e);
        if let Some(entries) = self.spd.release(c.spec.reqid) {
            for e in entries {
                if let Err(e) = self
                    .kernel
                    .transport
                    .request(Message::spd_delete(e.src, e.dst, e.policy))
                {
                    first_err.get_or_insert(e.into());
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// The peer (or we) moved: re-set the interface's tunnel first, then
    /// replace the child's SAs (delete + add, same SPIs and keys) and, for a
    /// policy-based child, its SPD entries' tunnel endpoints.
    pub fn update_address(
        &mut self,
        spi_in: u32,
        local: SocketAddr,
        remote: SocketAddr,
        encap: bool,
    ) -> Result<(), Error> {
        let c = self
            .children
            .get(spi_in)
            .cloned()
            .ok_or_else(|| Error::Unknown(format!("spi_in {spi_in:08x}")))?;
        let spec = c.moved(local, remote, encap);
        self.ensure_tunnel(&spec)?;
        c.readdress_sas(&mut self.kernel, &spec)?;
        if !spec.routed {
            let entries = spd_entries(&spec)?;
            if let Some(old) = self.spd.replace(spec.reqid, entries.clone()) {
                for e in old {
                    let _ = self
                        .kernel
                        .transport
                        .request(Message::spd_delete(e.src, e.dst, e.policy));
                }
                for e in &entries {
                    self.kernel.transport.request(Message::spd_add(
                        e.src,
                        e.dst,
                        e.policy.clone(),
                    ))?;
                }
            }
        }
        self.children.set_spec(spi_in, spec);
        Ok(())
    }

    /// The installed children's inbound SPIs.
    pub fn spis(&self) -> Vec<u32> {
        self.children.spis()
    }

    /// The inbound SPI of the child owning SA `spi` (either direction):
    /// what an `SADB_EXPIRE` names.
    pub fn spi_in_of(&self, spi: u32) -> Option<u32> {
        self.children.spi_in_of(spi)
    }

    /// The SPD entries installed for policy-based `reqid` (none for routed
    /// children).
    pub fn spd_of(&self, reqid: u32) -> &[SpdEntry] {
        self.spd.get(reqid).map_or(&[], Vec::as_slice)
    }
}
