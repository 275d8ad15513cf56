//! Kernel data-plane backends: what an IKE daemon's "install this CHILD SA"
//! becomes in the kernel.
//!
//! * [`xfrm`] — Linux XFRM netlink: SAs, policies (`if_id` policies for
//!   routed children, traffic-selector policies for policy-based ones), IKE
//!   socket bypass and UDP encapsulation, expire/acquire events.
//! * [`pfkey`](mod@pfkey) — PF_KEY v2 for FreeBSD `if_ipsec(4)`: SAs with
//!   SA2 reqids, SPD entries only for policy-based children, the tunnel
//!   endpoints of the interface.
//! * [`routes`] — which interface carries each routed prefix where the
//!   kernel's routes have no preference metric (FreeBSD).
//!
//! Both take a [`ChildSpec`]: a daemon-neutral description of one CHILD SA
//! (this crate does not depend on the IKE engine; the daemon converts its
//! `ChildInstall` into a `ChildSpec`). Keys are zeroized on drop and never
//! printed.
#![forbid(unsafe_code)]

mod op;
pub mod pfkey;
pub mod routes;
mod table;
/// Linux only (the crate's platform boundary is in `lib.rs`).
#[cfg(target_os = "linux")]
pub mod xfrm;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use zeroize::Zeroizing;

use crate::wire::Redacted;

pub use self::op::SaOp;

/// A kernel notification the daemon acts on (XFRM's `XFRM_MSG_EXPIRE` /
/// `ACQUIRE`, PF_KEY's `SADB_EXPIRE` / `SADB_ACQUIRE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelEvent {
    /// An SA reached a soft or hard limit.
    Expire {
        /// The SA's SPI.
        spi: u32,
        /// Its destination.
        dst: Option<IpAddr>,
        /// Hard (the kernel deleted it) or soft (rekey).
        hard: bool,
    },
    /// Traffic hit a policy without an SA.
    Acquire {
        /// The policy's reqid (its first template / request).
        reqid: u32,
        /// The packet's (or policy's) source.
        src: Option<IpAddr>,
        /// Destination.
        dst: Option<IpAddr>,
    },
}

/// The ESP encryption transform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cipher {
    /// AES-CBC with a 128/192/256-bit key (needs an [`Auth`]).
    AesCbc {
        /// Key bits.
        key_bits: u16,
    },
    /// AES-GCM with a 16-byte ICV (RFC 4106); the key carries a 4-byte salt.
    AesGcm16 {
        /// Key bits, without the salt.
        key_bits: u16,
    },
    /// ChaCha20-Poly1305 (RFC 7634); 32-byte key plus 4-byte salt.
    ChaCha20Poly1305,
    /// 3DES-EDE-CBC (RFC 2451), 24-byte key (needs an [`Auth`]). Legacy.
    TripleDes,
    /// Camellia-CBC (RFC 4312) with a 128/192/256-bit key (needs an
    /// [`Auth`]).
    CamelliaCbc {
        /// Key bits.
        key_bits: u16,
    },
    /// AES-CCM (RFC 4309); the key carries a 3-byte salt.
    AesCcm {
        /// Key bits, without the salt.
        key_bits: u16,
        /// ICV bytes: 8, 12 or 16.
        icv: u8,
    },
}

impl Cipher {
    /// Whether the cipher authenticates itself (no [`Auth`]).
    pub fn is_aead(self) -> bool {
        matches!(
            self,
            Cipher::AesGcm16 { .. } | Cipher::ChaCha20Poly1305 | Cipher::AesCcm { .. }
        )
    }
}

/// The ESP integrity transform (none for AEAD ciphers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// HMAC-SHA1-96.
    HmacSha1_96,
    /// HMAC-SHA2-256-128.
    HmacSha256_128,
    /// HMAC-SHA2-384-192.
    HmacSha384_192,
    /// HMAC-SHA2-512-256.
    HmacSha512_256,
    /// HMAC-MD5-96 (RFC 2403). Legacy.
    HmacMd5_96,
    /// HMAC-SHA2-256 truncated to 96 bits (strongSwan's `sha256_96`).
    HmacSha256_96,
    /// AES-XCBC-MAC-96 (RFC 3566).
    AesXcbc96,
    /// AES-CMAC-96 (RFC 4494).
    AesCmac96,
}

/// One direction of a CHILD SA.
#[derive(Clone, PartialEq, Eq)]
pub struct SaKeys {
    /// The SPI in this direction's ESP headers (host order).
    pub spi: u32,
    /// Encryption.
    pub cipher: Cipher,
    /// Integrity (`None` for AEAD).
    pub auth: Option<Auth>,
    /// Encryption key (AEAD: key || 4-byte salt).
    pub enc_key: Zeroizing<Vec<u8>>,
    /// Integrity key (empty for AEAD).
    pub auth_key: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for SaKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SaKeys")
            .field("spi", &format_args!("{:08x}", self.spi))
            .field("cipher", &self.cipher)
            .field("auth", &self.auth)
            .field("enc_key", &Redacted(self.enc_key.len()))
            .field("auth_key", &Redacted(self.auth_key.len()))
            .finish()
    }
}

/// A traffic selector: an address range, protocol and port range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TsRange {
    /// IP protocol, 0 for any.
    pub proto: u8,
    /// First port.
    pub start_port: u16,
    /// Last port.
    pub end_port: u16,
    /// First address.
    pub start: IpAddr,
    /// Last address (same family).
    pub end: IpAddr,
}

impl TsRange {
    /// Every address of `start`'s family, any protocol and port.
    pub fn any(v6: bool) -> TsRange {
        let (start, end) = if v6 {
            (
                IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                IpAddr::V6(Ipv6Addr::from(u128::MAX)),
            )
        } else {
            (
                IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                IpAddr::V4(Ipv4Addr::BROADCAST),
            )
        };
        TsRange {
            proto: 0,
            start_port: 0,
            end_port: 65535,
            start,
            end,
        }
    }

    /// The port as a kernel selector takes it: `Some((port, mask))` for a
    /// single port, `(0, 0)` for any; `None` for a range that is neither
    /// (the kernel selectors only know one port or all).
    pub fn port_selector(&self) -> Option<(u16, u16)> {
        if self.start_port == 0 && self.end_port == 65535 {
            Some((0, 0))
        } else if self.start_port == self.end_port {
            Some((self.start_port, 0xffff))
        } else {
            None
        }
    }

    /// The address range as prefixes (at most 2×bits of them).
    pub fn prefixes(&self) -> Vec<(IpAddr, u8)> {
        range_to_prefixes(self.start, self.end)
    }
}

/// Splits the address range `start..=end` into the fewest prefixes. An
/// empty or mixed-family range gives none.
pub fn range_to_prefixes(start: IpAddr, end: IpAddr) -> Vec<(IpAddr, u8)> {
    let (v6, bits, mut lo, hi) = match (start, end) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (
            false,
            32u32,
            u128::from(u32::from(a)),
            u128::from(u32::from(b)),
        ),
        (IpAddr::V6(a), IpAddr::V6(b)) => (true, 128u32, u128::from(a), u128::from(b)),
        _ => return Vec::new(),
    };
    let mut out = Vec::new();
    if lo > hi {
        return out;
    }
    loop {
        // The biggest block starting at `lo` that stays within `hi`.
        let mut size = if lo == 0 {
            bits
        } else {
            lo.trailing_zeros().min(bits)
        };
        while size > 0 {
            let last = if size >= 128 {
                u128::MAX
            } else {
                lo | ((1u128 << size) - 1)
            };
            if last <= hi {
                break;
            }
            size -= 1;
        }
        let addr = if v6 {
            IpAddr::V6(Ipv6Addr::from(lo))
        } else {
            IpAddr::V4(Ipv4Addr::from(lo as u32))
        };
        out.push((addr, (bits - size) as u8));
        let last = if size >= 128 {
            u128::MAX
        } else {
            lo | ((1u128 << size) - 1)
        };
        if last >= hi {
            break;
        }
        lo = last + 1;
    }
    out
}

/// One pair of a child's selectors as the kernels' selectors take it (XFRM
/// `xfrm_selector`, PF_KEY SPD addresses): one address family, one
/// protocol (0: any), one port or all on each side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SelectorPair<'a> {
    /// Our selector.
    pub(crate) local: &'a TsRange,
    /// The peer's selector.
    pub(crate) remote: &'a TsRange,
    /// The protocol both admit (0: any).
    pub(crate) proto: u8,
    /// Our port as [`TsRange::port_selector`] gives it.
    pub(crate) local_port: (u16, u16),
    /// The peer's port.
    pub(crate) remote_port: (u16, u16),
}

impl SelectorPair<'_> {
    /// Every `(local prefix, remote prefix)` the two address ranges split
    /// into ([`TsRange::prefixes`]), local-major.
    pub(crate) fn prefix_pairs(&self) -> Vec<((IpAddr, u8), (IpAddr, u8))> {
        let remote = self.remote.prefixes();
        self.local
            .prefixes()
            .into_iter()
            .flat_map(|la| remote.iter().map(move |ra| (la, *ra)))
            .collect()
    }
}

/// The default of [`ChildSpec::selector_limit`]: `(local prefix, remote
/// prefix)` pairs one CHILD SA may install (config
/// `vtid.max_policies_per_child`).
pub const DEFAULT_SELECTOR_LIMIT: u32 = 1024;

/// How many `(local prefix, remote prefix)` pairs the selectors of a child
/// split into ([`SelectorPair::prefix_pairs`] over the pairs of the same
/// family and a common protocol), counted without building them and
/// saturating: the number of XFRM policies per direction or PF_KEY SPD
/// entries per direction it would install. Ranges split into up to 2×bits
/// prefixes each and a peer may send up to 255 selectors per side, so
/// this is how a hostile selector set is refused before it costs memory.
pub fn selector_pair_count(local_ts: &[TsRange], remote_ts: &[TsRange]) -> u64 {
    let count = |t: &TsRange| t.prefixes().len() as u64;
    let remote: Vec<(&TsRange, u64)> = remote_ts.iter().map(|r| (r, count(r))).collect();
    let mut total = 0u64;
    for l in local_ts {
        let nl = count(l);
        for (r, nr) in &remote {
            if l.start.is_ipv4() != r.start.is_ipv4()
                || (l.proto != 0 && r.proto != 0 && l.proto != r.proto)
            {
                continue;
            }
            total = total.saturating_add(nl.saturating_mul(*nr));
        }
    }
    total
}

/// A child whose selectors split into more prefix pairs than its
/// [`ChildSpec::selector_limit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManySelectors {
    /// The child's reqid.
    pub reqid: u32,
    /// Its prefix pairs.
    pub pairs: u64,
    /// The limit.
    pub limit: u32,
}

impl fmt::Display for TooManySelectors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the traffic selectors of the CHILD_SA with reqid {} split into {} (local prefix, \
             remote prefix) pairs, more than max_policies_per_child = {}; refused",
            self.reqid, self.pairs, self.limit
        )
    }
}

impl std::error::Error for TooManySelectors {}

/// A pair of selectors with a port range that is neither one port nor all,
/// which no kernel selector expresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PortRanges<'a>(pub(crate) &'a TsRange, pub(crate) &'a TsRange);

impl fmt::Display for PortRanges<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (l, r) = (self.0, self.1);
        write!(
            f,
            "port ranges {}-{} / {}-{}",
            l.start_port, l.end_port, r.start_port, r.end_port
        )
    }
}

/// The pairs of `local_ts` × `remote_ts` that can carry traffic, in order:
/// pairs of different families or protocols are passed over. A pair with
/// a port range that is neither one port nor all is an error: the kernels'
/// selectors cannot express it.
pub(crate) fn selector_pairs<'a>(
    local_ts: &'a [TsRange],
    remote_ts: &'a [TsRange],
) -> Result<Vec<SelectorPair<'a>>, PortRanges<'a>> {
    let mut out = Vec::new();
    for l in local_ts {
        for r in remote_ts {
            if l.start.is_ipv4() != r.start.is_ipv4() {
                continue;
            }
            let proto = match (l.proto, r.proto) {
                (0, p) | (p, 0) => p,
                (a, b) if a == b => a,
                _ => continue,
            };
            let (Some(local_port), Some(remote_port)) = (l.port_selector(), r.port_selector())
            else {
                return Err(PortRanges(l, r));
            };
            out.push(SelectorPair {
                local: l,
                remote: r,
                proto,
                local_port,
                remote_port,
            });
        }
    }
    Ok(out)
}

/// Volume limits (0: none). Time limits stay with the IKE engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Limits {
    /// Soft bytes (rekey).
    pub soft_bytes: u64,
    /// Hard bytes.
    pub hard_bytes: u64,
    /// Soft packets.
    pub soft_packets: u64,
    /// Hard packets.
    pub hard_packets: u64,
}

/// One CHILD SA to install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildSpec {
    /// reqid: the interface's reqid for routed children.
    pub reqid: u32,
    /// Our outer endpoint (the port matters with `encap`).
    pub local: SocketAddr,
    /// The peer's outer endpoint.
    pub remote: SocketAddr,
    /// ESP in UDP (RFC 3948) between `local` and `remote`.
    pub encap: bool,
    /// Tunnel (else transport) mode.
    pub tunnel: bool,
    /// Extended sequence numbers.
    pub esn: bool,
    /// Anti-replay window in packets.
    pub replay_window: u32,
    /// What we receive (our SPI).
    pub inbound: SaKeys,
    /// What we send (the peer's SPI).
    pub outbound: SaKeys,
    /// Our selectors.
    pub local_ts: Vec<TsRange>,
    /// The peer's selectors.
    pub remote_ts: Vec<TsRange>,
    /// Volume limits.
    pub limits: Limits,
    /// Routed: the reqid names an interface (`ipsecN`); the kernel
    /// interface carries the traffic and its own policies.
    pub routed: bool,
    /// XFRM interface ids `(in, out)` (0: none). Routed children default to
    /// the reqid.
    pub if_id: (u32, u32),
    /// The most `(local prefix, remote prefix)` pairs its selectors may
    /// split into ([`selector_pair_count`]); beyond it the install is
    /// refused. 0: [`DEFAULT_SELECTOR_LIMIT`].
    pub selector_limit: u32,
}

/// Which half of a CHILD SA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dir {
    /// Peer → us: `src = remote`, `dst = local`, our SPI.
    In,
    /// Us → peer: `src = local`, `dst = remote`, the peer's SPI.
    Out,
}

impl ChildSpec {
    /// Whether its selectors stay within [`ChildSpec::selector_limit`];
    /// the count of prefix pairs if so.
    pub fn check_selector_limit(&self) -> Result<u64, TooManySelectors> {
        let limit = if self.selector_limit == 0 {
            DEFAULT_SELECTOR_LIMIT
        } else {
            self.selector_limit
        };
        let pairs = selector_pair_count(&self.local_ts, &self.remote_ts);
        if pairs > u64::from(limit) {
            Err(TooManySelectors {
                reqid: self.reqid,
                pairs,
                limit,
            })
        } else {
            Ok(pairs)
        }
    }

    /// The keys of one direction.
    pub fn keys(&self, d: Dir) -> &SaKeys {
        match d {
            Dir::In => &self.inbound,
            Dir::Out => &self.outbound,
        }
    }
    /// `(src, dst)` of one direction's SA.
    pub fn endpoints(&self, d: Dir) -> (SocketAddr, SocketAddr) {
        match d {
            Dir::In => (self.remote, self.local),
            Dir::Out => (self.local, self.remote),
        }
    }
    /// The interface id of one direction (0: none).
    pub fn if_id_of(&self, d: Dir) -> u32 {
        let v = match d {
            Dir::In => self.if_id.0,
            Dir::Out => self.if_id.1,
        };
        if v == 0 && self.routed {
            self.reqid
        } else {
            v
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ranges_split_into_prefixes() {
        assert_eq!(
            range_to_prefixes(ip("10.0.0.0"), ip("10.0.0.255")),
            vec![(ip("10.0.0.0"), 24)]
        );
        assert_eq!(
            range_to_prefixes(ip("0.0.0.0"), ip("255.255.255.255")),
            vec![(ip("0.0.0.0"), 0)]
        );
        assert_eq!(
            range_to_prefixes(ip("::"), ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")),
            vec![(ip("::"), 0)]
        );
        assert_eq!(
            range_to_prefixes(ip("10.0.0.1"), ip("10.0.0.6")),
            vec![
                (ip("10.0.0.1"), 32),
                (ip("10.0.0.2"), 31),
                (ip("10.0.0.4"), 31),
                (ip("10.0.0.6"), 32)
            ]
        );
        assert_eq!(
            range_to_prefixes(ip("192.0.2.7"), ip("192.0.2.7")),
            vec![(ip("192.0.2.7"), 32)]
        );
        assert!(range_to_prefixes(ip("10.0.0.2"), ip("10.0.0.1")).is_empty());
        assert!(range_to_prefixes(ip("10.0.0.2"), ip("::1")).is_empty());
    }

    fn ts(proto: u8, ports: (u16, u16), start: &str, end: &str) -> TsRange {
        TsRange {
            proto,
            start_port: ports.0,
            end_port: ports.1,
            start: ip(start),
            end: ip(end),
        }
    }

    #[test]
    fn selector_pairs_match_family_and_protocol() {
        let l4 = ts(0, (0, 65535), "10.1.0.0", "10.1.0.255");
        let l6 = ts(17, (500, 500), "fd01::", "fd01::ff");
        let r4 = ts(6, (0, 65535), "10.2.0.0", "10.2.0.255");
        let r6 = ts(6, (0, 65535), "fd02::", "fd02::ff");
        let r6u = ts(0, (0, 65535), "fd02::", "fd02::ff");
        let local = [l4, l6];
        let remote = [r4, r6, r6u];
        let pairs = selector_pairs(&local, &remote).unwrap();
        // l4×r4 (proto from r4), l6×r6u (proto from l6); l6×r6 (17 vs 6)
        // and the mixed families are passed over.
        assert_eq!(pairs.len(), 2);
        assert_eq!((pairs[0].local, pairs[0].remote), (&l4, &r4));
        assert_eq!(pairs[0].proto, 6);
        assert_eq!(
            (pairs[0].local_port, pairs[0].remote_port),
            ((0, 0), (0, 0))
        );
        assert_eq!((pairs[1].local, pairs[1].remote), (&l6, &r6u));
        assert_eq!(pairs[1].proto, 17);
        assert_eq!(pairs[1].local_port, (500, 0xffff));
        // Prefix pairs, local-major.
        let wide = ts(0, (0, 65535), "10.0.0.1", "10.0.0.2");
        let one = [wide];
        let two = selector_pairs(&one, &one).unwrap();
        assert_eq!(
            two[0].prefix_pairs(),
            vec![
                ((ip("10.0.0.1"), 32), (ip("10.0.0.1"), 32)),
                ((ip("10.0.0.1"), 32), (ip("10.0.0.2"), 32)),
                ((ip("10.0.0.2"), 32), (ip("10.0.0.1"), 32)),
                ((ip("10.0.0.2"), 32), (ip("10.0.0.2"), 32)),
            ]
        );
        // A port range in a pair that counts is an error; in one passed
        // over it is not.
        let bad = ts(6, (1000, 2000), "10.2.0.0", "10.2.0.255");
        assert_eq!(selector_pairs(&local, &[bad]), Err(PortRanges(&l4, &bad)));
        assert_eq!(
            PortRanges(&l4, &bad).to_string(),
            "port ranges 0-65535 / 1000-2000"
        );
        assert!(selector_pairs(&[l6], &[bad]).unwrap().is_empty());
    }

    fn arb_ts() -> impl proptest::strategy::Strategy<Value = TsRange> {
        use proptest::prelude::*;
        (
            any::<bool>(),
            any::<u32>(),
            0u32..5000,
            prop_oneof![Just(0u8), Just(6), Just(17)],
        )
            .prop_map(|(v6, a, span, proto)| {
                let (start, end) = if v6 {
                    let s = u128::from(a) << 64;
                    (
                        IpAddr::V6(Ipv6Addr::from(s)),
                        IpAddr::V6(Ipv6Addr::from(s + u128::from(span))),
                    )
                } else {
                    let s = a.min(u32::MAX - span);
                    (
                        IpAddr::V4(Ipv4Addr::from(s)),
                        IpAddr::V4(Ipv4Addr::from(s + span)),
                    )
                };
                TsRange {
                    proto,
                    start_port: 0,
                    end_port: 65535,
                    start,
                    end,
                }
            })
    }

    proptest::proptest! {
        /// The count the limit checks is the number of prefix pairs the
        /// backends build.
        #[test]
        fn selector_pair_count_is_what_the_backends_build(
            local in proptest::collection::vec(arb_ts(), 0..4),
            remote in proptest::collection::vec(arb_ts(), 0..4),
        ) {
            let built: usize = selector_pairs(&local, &remote)
                .unwrap()
                .iter()
                .map(|p| p.prefix_pairs().len())
                .sum();
            proptest::prop_assert_eq!(selector_pair_count(&local, &remote), built as u64);
        }
    }

    #[test]
    fn selector_limit_both_ends_and_a_hostile_set() {
        // 10.0.0.1-10.0.0.6: 4 prefixes; × 4 = 16 pairs.
        let odd = ts(0, (0, 65535), "10.0.0.1", "10.0.0.6");
        let spec_of = |limit: u32, n: usize| ChildSpec {
            reqid: 7,
            local: "192.0.2.1:500".parse().unwrap(),
            remote: "192.0.2.2:500".parse().unwrap(),
            encap: false,
            tunnel: true,
            esn: false,
            replay_window: 32,
            inbound: keys(),
            outbound: keys(),
            local_ts: vec![odd; n],
            remote_ts: vec![odd],
            limits: Limits::default(),
            routed: false,
            if_id: (0, 0),
            selector_limit: limit,
        };
        assert_eq!(spec_of(16, 1).check_selector_limit(), Ok(16));
        let e = spec_of(15, 1).check_selector_limit().unwrap_err();
        assert_eq!((e.pairs, e.limit, e.reqid), (16, 15, 7));
        assert!(e.to_string().contains("max_policies_per_child = 15"), "{e}");
        assert_eq!(spec_of(1, 0).check_selector_limit(), Ok(0));
        // 0: the default.
        assert_eq!(spec_of(0, 64).check_selector_limit(), Ok(1024));
        assert!(spec_of(0, 65).check_selector_limit().is_err());
        // What a peer can send: 255 selectors a side, each the worst range
        // (0.0.0.1-255.255.255.254: 62 prefixes): counted, not built.
        let worst = ts(0, (0, 65535), "0.0.0.1", "255.255.255.254");
        assert_eq!(worst.prefixes().len(), 62);
        let many = vec![worst; 255];
        assert_eq!(selector_pair_count(&many, &many), 255 * 255 * 62 * 62);
        let v6 = ts(
            0,
            (0, 65535),
            "::1",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe",
        );
        assert_eq!(v6.prefixes().len(), 254);
        let many6 = vec![v6; 255];
        assert_eq!(selector_pair_count(&many6, &many6), 255 * 255 * 254 * 254);
    }

    fn keys() -> SaKeys {
        SaKeys {
            spi: 0x1000,
            cipher: Cipher::AesGcm16 { key_bits: 128 },
            auth: None,
            enc_key: Zeroizing::new(vec![0; 20]),
            auth_key: Zeroizing::new(Vec::new()),
        }
    }
}
