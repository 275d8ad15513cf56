//! The Linux XFRM backend: CHILD SAs as XFRM states and policies.
//!
//! # What one CHILD SA becomes
//!
//! * Two states (`XFRM_MSG_NEWSA`): inbound `remote → local` with our SPI,
//!   outbound `local → remote` with the peer's. Algorithms as strongSwan's
//!   kernel-netlink names them ([`algorithms`]), reqid, mode,
//!   `XFRMA_ENCAP` (ESP-in-UDP, RFC 3948) with the state's own ports,
//!   replay window or `XFRMA_REPLAY_ESN_VAL` (ESN, or windows over 32),
//!   soft/hard byte and packet limits (time limits stay with the IKE
//!   engine, which rekeys and deletes), `XFRMA_IF_ID` where the child has an
//!   interface id. Tunnel-mode states carry `XFRM_STATE_AF_UNSPEC` so one
//!   state serves IPv4 and IPv6 inner traffic.
//! * SPIs: the IKE engine chooses our inbound SPI itself (it must put it in
//!   the CREATE_CHILD_SA message before the keys exist), so the states are
//!   installed with `NEWSA` and that SPI; no `ALLOCSPI` round trip. A
//!   collision with an SPI another daemon holds fails the install with
//!   `EEXIST` (the engine then tears the child down). The SPI space is
//!   2^32 and the engine draws at random, so this is rare.
//! * Policies, shared by all CHILD SAs of a reqid and removed with the last:
//!   one policy per direction (`in`/`out`/`fwd`) and traffic-selector pair
//!   (address ranges split into prefixes, at most
//!   [`ChildSpec::selector_limit`] pairs), template with the reqid and the
//!   tunnel endpoints. Routed children's carry the `if_id` too — they only
//!   match traffic routed through the xfrm interface with that `if_id`,
//!   never the host's other traffic — and their selectors are the
//!   negotiated ones (as strongSwan installs them), so the kernel drops
//!   decrypted packets from inner sources the peer did not negotiate.
//!   Policies are written with
//!   `XFRM_MSG_UPDPOLICY` (create or replace), so a rekey or an address
//!   change rewrites them in place.
//! * Make-before-break: the kernel sends on the newest valid outbound state
//!   of the template's reqid (and `if_id`). So the outbound state is
//!   installed only when the child's outbound half is active — at `Install`
//!   if `outbound_active`, else at `ActivateOutbound` — and
//!   `RemoveOutbound` deletes it. The inbound state is there from `Install`
//!   until `Delete`. Which state sends is therefore exactly the engine's
//!   choice, not the kernel's tie-break.
//! * Address change (NAT mapping, MOBIKE-like updates): both states are
//!   deleted and re-added with the new endpoints and encapsulation (the
//!   keys are kept here for that), then the policies' templates are
//!   rewritten. `XFRM_MSG_MIGRATE` would keep the sequence numbers, but it
//!   needs `CONFIG_XFRM_MIGRATE` and the policies to migrate in the same
//!   call; delete+add is what strongSwan's kernel-netlink does too
//!   (`update_sa`).
//!
//! The IKE sockets must not be caught by these policies: [`bypass_socket`]
//! gives a socket per-socket `XFRM_POLICY_ALLOW` policies (in and out), and
//! [`udp_encap_socket`] makes the NAT-T socket an ESP-in-UDP decapsulator
//! (`UDP_ENCAP_ESPINUDP`): ESP arriving on port 4500 goes to the kernel's
//! ESP input, IKE (with the non-ESP marker) still reaches the daemon.
#![forbid(unsafe_code)]

use std::io;
use std::net::IpAddr;
use std::os::fd::BorrowedFd;

use zeroize::Zeroizing;

use super::table::{ChildTable, Installed, ReqidShared, SaKernel};
use super::{selector_pairs, Auth, ChildSpec, Cipher, Dir, SaKeys};
use crate::xfrm::{
    family_of, mode, policy, state_flags, Algo, AlgoAead, AlgoAuth, Attr, Body, EncapTmpl,
    LifetimeCfg, Mark, MsgType, ReplayStateEsn, Selector, UserTmpl, UserpolicyId, UserpolicyInfo,
    UsersaId, UsersaInfo, XfrmError, XfrmId, XfrmMessage, XfrmSocket, IPPROTO_ESP,
    UDP_ENCAP_ESPINUDP, XFRM_INF,
};

/// Errors of the XFRM backend.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The kernel refused (or has no ESP: [`XfrmError::NoEsp`]).
    #[error(transparent)]
    Xfrm(#[from] XfrmError),
    /// Something the kernel's structures cannot express.
    #[error("{0}")]
    Unsupported(String),
    /// An action for an SA this backend does not hold.
    #[error("unknown CHILD SA: {0}")]
    Unknown(String),
}

impl Error {
    /// True when the kernel has no ESP.
    pub fn is_no_esp(&self) -> bool {
        matches!(self, Error::Xfrm(XfrmError::NoEsp { .. }))
    }
}

/// How routed children's states and policies are tied to their interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Binding {
    /// `XFRMA_IF_ID` (xfrm interfaces, Linux ≥ 4.19).
    #[default]
    IfId,
    /// `XFRMA_MARK` value = the interface id (the VTI's ikey/okey), mask
    /// `0xffffffff`: legacy VTI (`ip_vti`/`ip6_vti`).
    Mark,
}

/// The mark a legacy VTI of interface id `if_id` uses as ikey/okey and the
/// SAs and policies carry: the id itself (by default the reqid).
pub fn vti_mark(if_id: u32) -> Mark {
    Mark {
        v: if_id,
        m: u32::MAX,
    }
}

/// Rewrites attributes for `binding`: with [`Binding::Mark`] every
/// `XFRMA_IF_ID` becomes `XFRMA_MARK` ([`vti_mark`]).
pub fn bind(attrs: &mut [Attr], binding: Binding) {
    if binding == Binding::Mark {
        for a in attrs.iter_mut() {
            if let Attr::IfId(v) = *a {
                *a = Attr::Mark(vti_mark(v));
            }
        }
    }
}

/// [`sa_message`] with the interface binding of `binding`.
pub fn sa_message_bound(
    spec: &ChildSpec,
    dir: Dir,
    binding: Binding,
) -> Result<(UsersaInfo, Vec<Attr>), Error> {
    let (sa, mut attrs) = sa_message(spec, dir)?;
    bind(&mut attrs, binding);
    Ok((sa, attrs))
}

/// [`policies`] with the interface binding of `binding`.
pub fn policies_bound(spec: &ChildSpec, binding: Binding) -> Result<Vec<PolicySpec>, Error> {
    let mut list = policies(spec)?;
    for p in &mut list {
        bind(&mut p.attrs, binding);
    }
    Ok(list)
}

/// The attributes `XFRM_MSG_DELSA` must repeat to find a state: its
/// `XFRMA_MARK`, if it has one (the kernel's lookup matches marks).
pub fn sa_delete_attrs(spec: &ChildSpec, dir: Dir, binding: Binding) -> Vec<Attr> {
    let if_id = spec.if_id_of(dir);
    if binding == Binding::Mark && if_id != 0 {
        vec![Attr::Mark(vti_mark(if_id))]
    } else {
        Vec::new()
    }
}

/// Policy priority base (lower value = preferred); more specific selectors
/// get a lower value, as in strongSwan.
pub const PRIORITY_BASE: u32 = 200_000;

/// The XFRM algorithm attributes of one direction's keys: the names and
/// key/ICV/truncation lengths `linux/xfrm.h` and the crypto API expect.
///
/// | IKE transform | attribute | name | key bits | ICV / trunc |
/// |---|---|---|---|---|
/// | ENCR_AES_GCM_16 | `XFRMA_ALG_AEAD` | `rfc4106(gcm(aes))` | (key+4 salt)×8 | 128 |
/// | ENCR_CHACHA20_POLY1305 | `XFRMA_ALG_AEAD` | `rfc7539esp(chacha20,poly1305)` | (32+4)×8 | 128 |
/// | ENCR_AES_CBC | `XFRMA_ALG_CRYPT` | `cbc(aes)` | key×8 | — |
/// | AUTH_HMAC_SHA1_96 | `XFRMA_ALG_AUTH_TRUNC` | `hmac(sha1)` | 160 | 96 |
/// | AUTH_HMAC_SHA2_256_128 | `XFRMA_ALG_AUTH_TRUNC` | `hmac(sha256)` | 256 | 128 |
/// | AUTH_HMAC_SHA2_384_192 | `XFRMA_ALG_AUTH_TRUNC` | `hmac(sha384)` | 384 | 192 |
/// | AUTH_HMAC_SHA2_512_256 | `XFRMA_ALG_AUTH_TRUNC` | `hmac(sha512)` | 512 | 256 |
/// | ENCR_3DES | `XFRMA_ALG_CRYPT` | `cbc(des3_ede)` | 192 | — |
/// | ENCR_CAMELLIA_CBC | `XFRMA_ALG_CRYPT` | `cbc(camellia)` | key×8 | — |
/// | ENCR_AES_CCM_8/12/16 | `XFRMA_ALG_AEAD` | `rfc4309(ccm(aes))` | (key+3 salt)×8 | 64/96/128 |
/// | AUTH_HMAC_MD5_96 | `XFRMA_ALG_AUTH_TRUNC` | `hmac(md5)` | 128 | 96 |
/// | AUTH_AES_XCBC_96 | `XFRMA_ALG_AUTH_TRUNC` | `xcbc(aes)` | 128 | 96 |
/// | AUTH_AES_CMAC_96 | `XFRMA_ALG_AUTH_TRUNC` | `cmac(aes)` | 128 | 96 |
/// | strongSwan's HMAC_SHA2_256_96 | `XFRMA_ALG_AUTH_TRUNC` | `hmac(sha256)` | 256 | 96 |
///
/// (The names are the kernel crypto API's, as `net/xfrm/xfrm_algo.c` lists
/// them and strongSwan's kernel-netlink uses them.)
pub fn algorithms(k: &SaKeys) -> Result<Vec<Attr>, Error> {
    let bits = |len: usize| -> Result<u32, Error> {
        u32::try_from(len * 8).map_err(|_| Error::Unsupported("key too long".into()))
    };
    let key = |v: &Zeroizing<Vec<u8>>| Zeroizing::new(v.to_vec());
    let mut out = Vec::new();
    match k.cipher {
        Cipher::AesGcm16 { key_bits } => {
            let want = usize::from(key_bits) / 8 + 4;
            if k.enc_key.len() != want {
                return Err(Error::Unsupported(format!(
                    "AES-GCM-{key_bits}: key with salt must be {want} bytes, got {}",
                    k.enc_key.len()
                )));
            }
            out.push(Attr::AlgAead(AlgoAead {
                name: "rfc4106(gcm(aes))".into(),
                key_bits: bits(k.enc_key.len())?,
                icv_bits: 128,
                key: key(&k.enc_key),
            }));
        }
        Cipher::ChaCha20Poly1305 => {
            if k.enc_key.len() != 36 {
                return Err(Error::Unsupported(format!(
                    "ChaCha20-Poly1305: key with salt must be 36 bytes, got {}",
                    k.enc_key.len()
                )));
            }
            out.push(Attr::AlgAead(AlgoAead {
                name: "rfc7539esp(chacha20,poly1305)".into(),
                key_bits: 288,
                icv_bits: 128,
                key: key(&k.enc_key),
            }));
        }
        Cipher::AesCcm { key_bits, icv } => {
            let want = usize::from(key_bits) / 8 + 3;
            if k.enc_key.len() != want || !matches!(icv, 8 | 12 | 16) {
                return Err(Error::Unsupported(format!(
                    "AES-CCM-{icv}-{key_bits}: key with salt must be {want} bytes, got {}",
                    k.enc_key.len()
                )));
            }
            out.push(Attr::AlgAead(AlgoAead {
                name: "rfc4309(ccm(aes))".into(),
                key_bits: bits(k.enc_key.len())?,
                icv_bits: u32::from(icv) * 8,
                key: key(&k.enc_key),
            }));
        }
        Cipher::AesCbc { key_bits } | Cipher::CamelliaCbc { key_bits } => {
            let name = if matches!(k.cipher, Cipher::AesCbc { .. }) {
                "cbc(aes)"
            } else {
                "cbc(camellia)"
            };
            if k.enc_key.len() != usize::from(key_bits) / 8 {
                return Err(Error::Unsupported(format!(
                    "{name}-{key_bits}: key must be {} bytes, got {}",
                    key_bits / 8,
                    k.enc_key.len()
                )));
            }
            out.push(Attr::AlgCrypt(Algo {
                name: name.into(),
                key_bits: bits(k.enc_key.len())?,
                key: key(&k.enc_key),
            }));
        }
        Cipher::TripleDes => {
            if k.enc_key.len() != 24 {
                return Err(Error::Unsupported(format!(
                    "3DES: key must be 24 bytes, got {}",
                    k.enc_key.len()
                )));
            }
            out.push(Attr::AlgCrypt(Algo {
                name: "cbc(des3_ede)".into(),
                key_bits: 192,
                key: key(&k.enc_key),
            }));
        }
    }
    match (k.cipher, k.auth) {
        (c, None) if !c.is_aead() => {
            return Err(Error::Unsupported(format!(
                "{c:?} without an integrity algorithm"
            )))
        }
        (c, Some(a)) if !c.is_aead() => {
            let (name, key_len, trunc) = auth_params(a);
            if k.auth_key.len() != key_len {
                return Err(Error::Unsupported(format!(
                    "{name}: key must be {key_len} bytes, got {}",
                    k.auth_key.len()
                )));
            }
            out.push(Attr::AlgAuthTrunc(AlgoAuth {
                name: name.into(),
                key_bits: bits(key_len)?,
                trunc_bits: trunc,
                key: key(&k.auth_key),
            }));
        }
        (_, Some(a)) => {
            return Err(Error::Unsupported(format!(
                "an AEAD cipher with integrity algorithm {a:?}"
            )))
        }
        (_, None) => {}
    }
    Ok(out)
}

/// `(crypto API name, key bytes, truncation bits)` of an HMAC.
pub fn auth_params(a: Auth) -> (&'static str, usize, u32) {
    match a {
        Auth::HmacSha1_96 => ("hmac(sha1)", 20, 96),
        Auth::HmacSha256_128 => ("hmac(sha256)", 32, 128),
        Auth::HmacSha384_192 => ("hmac(sha384)", 48, 192),
        Auth::HmacSha512_256 => ("hmac(sha512)", 64, 256),
        Auth::HmacMd5_96 => ("hmac(md5)", 16, 96),
        Auth::HmacSha256_96 => ("hmac(sha256)", 32, 96),
        Auth::AesXcbc96 => ("xcbc(aes)", 16, 96),
        Auth::AesCmac96 => ("cmac(aes)", 16, 96),
    }
}

fn limit(v: u64) -> u64 {
    if v == 0 {
        XFRM_INF
    } else {
        v
    }
}

/// The `XFRM_MSG_NEWSA` of one direction: the fixed part and attributes.
pub fn sa_message(spec: &ChildSpec, dir: Dir) -> Result<(UsersaInfo, Vec<Attr>), Error> {
    let (src, dst) = spec.endpoints(dir);
    if src.is_ipv4() != dst.is_ipv4() {
        return Err(Error::Unsupported(format!(
            "SA endpoints of different families: {src} → {dst}"
        )));
    }
    let keys = spec.keys(dir);
    let mut lft = LifetimeCfg::infinite();
    lft.soft_byte_limit = limit(spec.limits.soft_bytes);
    lft.hard_byte_limit = limit(spec.limits.hard_bytes);
    lft.soft_packet_limit = limit(spec.limits.soft_packets);
    lft.hard_packet_limit = limit(spec.limits.hard_packets);
    let mut sa = UsersaInfo {
        sel: Selector::default(),
        id: XfrmId {
            daddr: dst.ip().into(),
            spi: keys.spi,
            proto: IPPROTO_ESP,
        },
        saddr: src.ip().into(),
        lft,
        reqid: spec.reqid,
        family: family_of(&dst.ip()),
        mode: if spec.tunnel {
            mode::TUNNEL
        } else {
            mode::TRANSPORT
        },
        ..UsersaInfo::default()
    };
    if spec.tunnel {
        sa.flags |= state_flags::AF_UNSPEC;
    } else if let (Some(l), Some(r)) = (spec.local_ts.first(), spec.remote_ts.first()) {
        // Transport mode: the state covers the hosts' own traffic.
        let (s, d) = match dir {
            Dir::Out => (l, r),
            Dir::In => (r, l),
        };
        sa.sel = Selector::new(s.start, host_len(s.start), d.start, host_len(d.start));
    }
    let mut attrs = algorithms(keys)?;
    if spec.esn || spec.replay_window > 32 {
        if spec.esn {
            sa.flags |= state_flags::ESN;
        }
        attrs.push(Attr::ReplayEsnVal(ReplayStateEsn::with_window(
            spec.replay_window,
        )));
    } else {
        sa.replay_window = spec.replay_window as u8;
    }
    if spec.encap {
        attrs.push(Attr::Encap(EncapTmpl {
            encap_type: UDP_ENCAP_ESPINUDP,
            sport: src.port(),
            dport: dst.port(),
            oa: Default::default(),
        }));
    }
    let if_id = spec.if_id_of(dir);
    if if_id != 0 {
        attrs.push(Attr::IfId(if_id));
    }
    Ok((sa, attrs))
}

fn host_len(a: IpAddr) -> u8 {
    if a.is_ipv4() {
        32
    } else {
        128
    }
}

/// The `XFRM_MSG_DELSA` id of one direction.
pub fn sa_id(spec: &ChildSpec, dir: Dir) -> UsersaId {
    let (_, dst) = spec.endpoints(dir);
    UsersaId {
        daddr: dst.ip().into(),
        spi: spec.keys(dir).spi,
        family: family_of(&dst.ip()),
        proto: IPPROTO_ESP,
    }
}

/// One policy: fixed part and attributes (template, if_id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySpec {
    /// `xfrm_userpolicy_info`.
    pub info: UserpolicyInfo,
    /// `XFRMA_TMPL` and `XFRMA_IF_ID`.
    pub attrs: Vec<Attr>,
}

impl PolicySpec {
    /// The `XFRM_MSG_DELPOLICY` id and the attributes it must repeat
    /// (`XFRMA_IF_ID`).
    pub fn id(&self) -> (UserpolicyId, Vec<Attr>) {
        let attrs = self
            .attrs
            .iter()
            .filter(|a| matches!(a, Attr::IfId(_) | Attr::Mark(_)))
            .cloned()
            .collect();
        (
            UserpolicyId {
                sel: self.info.sel,
                index: 0,
                dir: self.info.dir,
            },
            attrs,
        )
    }

    /// `ip xfrm policy`'s direction word.
    pub fn dir_name(&self) -> &'static str {
        match self.info.dir {
            policy::IN => "in",
            policy::OUT => "out",
            _ => "fwd",
        }
    }
}

fn tmpl(spec: &ChildSpec, dir: Dir) -> UserTmpl {
    let (src, dst) = spec.endpoints(dir);
    UserTmpl {
        id: XfrmId {
            daddr: dst.ip().into(),
            spi: 0,
            proto: IPPROTO_ESP,
        },
        family: family_of(&dst.ip()),
        saddr: src.ip().into(),
        reqid: spec.reqid,
        mode: if spec.tunnel {
            mode::TUNNEL
        } else {
            mode::TRANSPORT
        },
        share: 0,
        optional: 0,
        aalgos: u32::MAX,
        ealgos: u32::MAX,
        calgos: u32::MAX,
    }
}

fn policy(spec: &ChildSpec, sel: Selector, xdir: u8, priority: u32) -> PolicySpec {
    let d = if xdir == policy::OUT {
        Dir::Out
    } else {
        Dir::In
    };
    let mut attrs = vec![Attr::Tmpl(vec![tmpl(spec, d)])];
    let if_id = spec.if_id_of(d);
    if if_id != 0 {
        attrs.push(Attr::IfId(if_id));
    }
    PolicySpec {
        info: UserpolicyInfo {
            sel,
            lft: LifetimeCfg::infinite(),
            priority,
            dir: xdir,
            action: policy::ALLOW,
            ..UserpolicyInfo::default()
        },
        attrs,
    }
}

fn sel_of(
    src: (IpAddr, u8),
    sport: (u16, u16),
    dst: (IpAddr, u8),
    dport: (u16, u16),
    proto: u8,
) -> Selector {
    let mut s = Selector::new(src.0, src.1, dst.0, dst.1);
    s.sport = sport.0;
    s.sport_mask = sport.1;
    s.dport = dport.0;
    s.dport_mask = dport.1;
    s.proto = proto;
    s
}

/// The policies of a child: `out` for local→remote and `in`+`fwd` for
/// remote→local, per selector pair of the same family, the ranges split
/// into prefixes, each with the template of the child's reqid. Routed
/// children's carry their interface id too, so they only match traffic
/// through that xfrm interface; their selectors are the negotiated ones
/// (`0.0.0.0/0`, `::/0` unless the peer narrowed them), as strongSwan's
/// kernel-netlink installs them: the kernel's inbound policy check then
/// drops decrypted packets whose inner addresses are outside what was
/// negotiated (RFC 4301 §5.2), where any/any policies let a peer inject
/// any inner source. Refused beyond [`ChildSpec::selector_limit`] pairs
/// before anything is built.
pub fn policies(spec: &ChildSpec) -> Result<Vec<PolicySpec>, Error> {
    let mut out = Vec::new();
    spec.check_selector_limit()
        .map_err(|e| Error::Unsupported(e.to_string()))?;
    let pairs = selector_pairs(&spec.local_ts, &spec.remote_ts)
        .map_err(|e| Error::Unsupported(format!("{e}: kernel selectors take one port or all")))?;
    for p in pairs {
        let (proto, lp, rp) = (p.proto, p.local_port, p.remote_port);
        for (la, ra) in p.prefix_pairs() {
            let spec_bits = u32::from(la.1)
                + u32::from(ra.1)
                + if proto != 0 { 1 } else { 0 }
                + u32::from(lp.1 != 0)
                + u32::from(rp.1 != 0);
            let prio = PRIORITY_BASE - spec_bits * 10;
            let o = sel_of(la, lp, ra, rp, proto);
            let i = sel_of(ra, rp, la, lp, proto);
            out.push(policy(spec, o, policy::OUT, prio));
            out.push(policy(spec, i, policy::IN, prio));
            out.push(policy(spec, i, policy::FWD, prio));
        }
    }
    Ok(out)
}

/// The XFRM request socket and the interface binding: how one direction's
/// state is added and deleted.
#[derive(Debug)]
struct Kernel {
    sock: XfrmSocket,
    binding: Binding,
}

impl SaKernel for Kernel {
    type Error = Error;

    fn add_sa(&mut self, spec: &ChildSpec, dir: Dir) -> Result<(), Error> {
        let (sa, attrs) = sa_message_bound(spec, dir, self.binding)?;
        self.sock.new_sa(&sa, attrs)?;
        Ok(())
    }

    fn del_sa(&mut self, spec: &ChildSpec, dir: Dir) -> Result<(), Error> {
        let attrs = sa_delete_attrs(spec, dir, self.binding);
        match self.sock.delete_sa(&sa_id(spec, dir), attrs) {
            Err(e) if e.is_not_found() => Ok(()),
            r => r.map_err(Error::from),
        }
    }

    fn unknown(what: String) -> Error {
        Error::Unknown(what)
    }
}

/// The XFRM backend's kernel state: a request socket and what it
/// installed.
#[derive(Debug)]
pub struct XfrmBackend {
    kernel: Kernel,
    children: ChildTable,
    /// Policies of each reqid and how many CHILD SAs use them.
    policies: ReqidShared<Vec<PolicySpec>>,
}

impl XfrmBackend {
    /// Opens the request socket in the caller's network namespace.
    pub fn open() -> Result<XfrmBackend, Error> {
        Ok(XfrmBackend {
            kernel: Kernel {
                sock: XfrmSocket::open()?,
                binding: Binding::IfId,
            },
            children: ChildTable::new(),
            policies: ReqidShared::new(),
        })
    }

    /// Chooses how routed children are tied to their interface (before
    /// anything is installed): `if_id` (default) or VTI marks.
    pub fn set_binding(&mut self, binding: Binding) {
        self.kernel.binding = binding;
    }

    /// The interface binding in use.
    pub fn binding(&self) -> Binding {
        self.kernel.binding
    }

    /// Writes (creates or replaces) the policies of `spec`'s reqid, without
    /// counting a user; [`XfrmBackend::install`] does this itself.
    pub fn install_policies(&mut self, spec: &ChildSpec) -> Result<Vec<PolicySpec>, Error> {
        let list = policies_bound(spec, self.kernel.binding)?;
        for p in &list {
            self.kernel.sock.update_policy(&p.info, p.attrs.clone())?;
        }
        // Policies of the old set that the new one no longer has.
        if let Some(old) = self.policies.get(spec.reqid) {
            let stale: Vec<PolicySpec> = old
                .iter()
                .filter(|o| !list.iter().any(|n| n.id() == o.id()))
                .cloned()
                .collect();
            for p in stale {
                self.remove_policy(&p);
            }
        }
        Ok(list)
    }

    fn remove_policy(&mut self, p: &PolicySpec) {
        let (id, attrs) = p.id();
        if let Err(e) = self.kernel.sock.delete_policy(&id, attrs) {
            if !e.is_not_found() {
                tracing::warn!("XFRM policy {} not deleted: {e}", p.dir_name());
            }
        }
    }

    /// Installs a CHILD SA: the inbound state, the outbound state if
    /// `outbound_active`, and the reqid's policies.
    pub fn install(&mut self, spec: ChildSpec, outbound_active: bool) -> Result<(), Error> {
        if let Some(old) = self.children.remove(spec.inbound.spi) {
            // A re-install of the same SPI: replace.
            self.remove_child(old);
        }
        self.kernel.add_sa(&spec, Dir::In)?;
        if outbound_active {
            if let Err(e) = self.kernel.add_sa(&spec, Dir::Out) {
                let _ = self.kernel.del_sa(&spec, Dir::In);
                return Err(e);
            }
        }
        let list = match self.install_policies(&spec) {
            Ok(l) => l,
            Err(e) => {
                let _ = self.kernel.del_sa(&spec, Dir::In);
                if outbound_active {
                    let _ = self.kernel.del_sa(&spec, Dir::Out);
                }
                return Err(e);
            }
        };
        self.policies.acquire(spec.reqid, list);
        self.children.insert(spec, outbound_active);
        Ok(())
    }

    /// Starts sending on the SA with this outbound SPI: installs its
    /// outbound state (the kernel then prefers it as the newest).
    pub fn activate_outbound(&mut self, reqid: u32, spi_out: u32) -> Result<(), Error> {
        self.children
            .activate_outbound(&mut self.kernel, reqid, spi_out)
    }

    /// Stops sending on it: deletes its outbound state.
    pub fn remove_outbound(&mut self, reqid: u32, spi_out: u32) -> Result<(), Error> {
        self.children
            .remove_outbound(&mut self.kernel, reqid, spi_out)
    }

    fn remove_child(&mut self, c: Installed) {
        for (d, e) in c.delete_sas(&mut self.kernel) {
            tracing::warn!("XFRM state {:08x} not deleted: {e}", c.spec.keys(d).spi);
        }
        if let Some(list) = self.policies.release(c.spec.reqid) {
            for pol in &list {
                self.remove_policy(pol);
            }
        }
    }

    /// Deletes a CHILD SA (both states; the reqid's policies with its last
    /// SA). Returns whether it was known.
    pub fn delete(&mut self, spi_in: u32) -> bool {
        match self.children.remove(spi_in) {
            Some(c) => {
                self.remove_child(c);
                true
            }
            None => false,
        }
    }

    /// Moves a CHILD SA to new endpoints: its states are deleted and added
    /// again (same SPIs and keys), then the policies' templates rewritten.
    pub fn update_address(
        &mut self,
        spi_in: u32,
        local: std::net::SocketAddr,
        remote: std::net::SocketAddr,
        encap: bool,
    ) -> Result<(), Error> {
        let Some(c) = self.children.get(spi_in).cloned() else {
            return Err(Error::Unknown(format!("spi_in {spi_in:08x}")));
        };
        let spec = c.moved(local, remote, encap);
        c.readdress_sas(&mut self.kernel, &spec)?;
        let list = self.install_policies(&spec)?;
        self.policies.replace(spec.reqid, list);
        self.children.set_spec(spi_in, spec);
        Ok(())
    }

    /// The inbound SPI of the child owning state `spi` (either direction).
    pub fn spi_in_of(&self, spi: u32) -> Option<u32> {
        self.children.spi_in_of(spi)
    }

    /// The inbound interface id of an installed child (its VTI key in
    /// [`Binding::Mark`] mode).
    pub fn if_id_of(&self, spi_in: u32) -> Option<u32> {
        self.children.get(spi_in).map(|c| c.spec.if_id_of(Dir::In))
    }

    /// The installed children's inbound SPIs.
    pub fn spis(&self) -> Vec<u32> {
        self.children.spis()
    }

    /// Removes every state and policy this backend installed.
    pub fn clear(&mut self) {
        for s in self.children.spis() {
            self.delete(s);
        }
    }
}

impl Drop for XfrmBackend {
    fn drop(&mut self) {
        self.clear();
    }
}

pub use super::KernelEvent;

/// The event in a notification, if it is one of ours.
pub fn parse_event(m: &XfrmMessage) -> Option<KernelEvent> {
    match &m.body {
        Body::Expire(e) if m.msg_type == MsgType::EXPIRE => Some(KernelEvent::Expire {
            spi: e.state.id.spi,
            dst: e.state.id.daddr.to_ip(e.state.family),
            hard: e.hard != 0,
        }),
        Body::Acquire(a) if m.msg_type == MsgType::ACQUIRE => Some(KernelEvent::Acquire {
            reqid: m.templates().first().map_or(0, |t| t.reqid),
            src: a.sel.saddr.to_ip(a.sel.family),
            dst: a.sel.daddr.to_ip(a.sel.family),
        }),
        _ => None,
    }
}

/// `IP_XFRM_POLICY` (`linux/in.h`).
pub const IP_XFRM_POLICY: i32 = 17;
/// `IPV6_XFRM_POLICY` (`linux/in6.h`).
pub const IPV6_XFRM_POLICY: i32 = 35;
/// `UDP_ENCAP` (`linux/udp.h`).
pub const UDP_ENCAP: i32 = 100;

/// The per-socket bypass policy of one direction, as `IP_XFRM_POLICY`
/// takes it: a bare `xfrm_userpolicy_info` with action ALLOW.
pub fn bypass_policy_bytes(v6: bool, dir: u8) -> Vec<u8> {
    let info = UserpolicyInfo {
        sel: Selector {
            family: if v6 {
                crate::xfrm::AF_INET6
            } else {
                crate::xfrm::AF_INET
            },
            ..Selector::default()
        },
        lft: LifetimeCfg::infinite(),
        dir,
        action: policy::ALLOW,
        ..UserpolicyInfo::default()
    };
    XfrmMessage::new(MsgType::NEWPOLICY, Body::PolicyInfo(info), Vec::new())
        .payload()
        .unwrap_or_default()
}

/// Gives an IKE socket per-socket bypass policies (in and out), so its
/// packets never match an XFRM policy (strongSwan's `bypass_socket`).
pub fn bypass_socket(fd: BorrowedFd<'_>, v6: bool) -> io::Result<()> {
    let (level, name) = if v6 {
        (nix::libc::IPPROTO_IPV6, IPV6_XFRM_POLICY)
    } else {
        (nix::libc::IPPROTO_IP, IP_XFRM_POLICY)
    };
    for dir in [policy::IN, policy::OUT] {
        crate::sys::setsockopt_bytes(fd, level, name, &bypass_policy_bytes(v6, dir))?;
    }
    Ok(())
}

/// Makes a UDP socket decapsulate ESP-in-UDP in the kernel
/// (`UDP_ENCAP_ESPINUDP`): the NAT-T socket.
pub fn udp_encap_socket(fd: BorrowedFd<'_>) -> io::Result<()> {
    crate::sys::setsockopt_int(
        fd,
        nix::libc::IPPROTO_UDP,
        UDP_ENCAP,
        i32::from(UDP_ENCAP_ESPINUDP),
    )
}
