//! The XFRM backend: algorithm/attribute mapping of every ESP suite checked
//! against bytes a C program builds with `<linux/xfrm.h>`'s structures and
//! names, and (as root, in a throwaway network namespace) the policies of a
//! routed and a policy-based child installed in the kernel and read back
//! with `ip xfrm policy`, and the SA install failing with the typed
//! "no ESP" error where the kernel lacks ESP.
// Linux only: Linux XFRM (the FreeBSD build check compiles the portable tests).
#![cfg(target_os = "linux")]

mod common_c;
mod common_netns;

use std::net::{IpAddr, SocketAddr};
use std::process::Command;

use pfkey::backend::xfrm::{policies, sa_message, XfrmBackend};
use pfkey::backend::{Auth, ChildSpec, Cipher, Dir, Limits, SaKeys, TsRange};
use pfkey::xfrm::{attr, state_flags, Attr, Body, MsgType, XfrmError, XfrmMessage};
use zeroize::Zeroizing;

fn key(len: usize, base: u8) -> Zeroizing<Vec<u8>> {
    Zeroizing::new((0..len).map(|i| base.wrapping_add(i as u8)).collect())
}

fn keys(spi: u32, cipher: Cipher, auth: Option<Auth>) -> SaKeys {
    let enc_len = match cipher {
        Cipher::AesCbc { key_bits } => usize::from(key_bits) / 8,
        Cipher::AesGcm16 { key_bits } => usize::from(key_bits) / 8 + 4,
        Cipher::ChaCha20Poly1305 => 36,
        Cipher::TripleDes => 24,
        Cipher::CamelliaCbc { key_bits } => usize::from(key_bits) / 8,
        Cipher::AesCcm { key_bits, .. } => usize::from(key_bits) / 8 + 3,
    };
    let auth_len = match auth {
        None => 0,
        Some(Auth::HmacSha1_96) => 20,
        Some(Auth::HmacSha256_128) => 32,
        Some(Auth::HmacSha384_192) => 48,
        Some(Auth::HmacSha512_256) => 64,
        Some(Auth::HmacMd5_96 | Auth::AesXcbc96 | Auth::AesCmac96) => 16,
        Some(Auth::HmacSha256_96) => 32,
    };
    SaKeys {
        spi,
        cipher,
        auth,
        enc_key: key(enc_len, 0x10),
        auth_key: key(auth_len, 0x80),
    }
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn ts(a: &str, b: &str) -> TsRange {
    TsRange {
        proto: 0,
        start_port: 0,
        end_port: 65535,
        start: a.parse().unwrap(),
        end: b.parse().unwrap(),
    }
}

fn spec(cipher: Cipher, auth: Option<Auth>, routed: bool) -> ChildSpec {
    ChildSpec {
        reqid: 7,
        local: sa("192.0.2.1:4500"),
        remote: sa("198.51.100.2:4501"),
        encap: true,
        tunnel: true,
        esn: false,
        replay_window: 32,
        inbound: keys(0xc000_0001, cipher, auth),
        outbound: keys(0xc000_0002, cipher, auth),
        local_ts: vec![ts("10.1.0.0", "10.1.255.255")],
        remote_ts: vec![ts("10.2.0.0", "10.2.0.255")],
        limits: Limits::default(),
        routed,
        if_id: (0, 0),
        selector_limit: 0,
    }
}

/// `(attribute type, payload)` of every attribute of the NEWSA of `dir`.
fn sa_attr_bytes(s: &ChildSpec, dir: Dir) -> (Vec<u8>, Vec<(u16, Vec<u8>)>) {
    let (info, attrs) = sa_message(s, dir).unwrap();
    let fixed = XfrmMessage::new(MsgType::NEWSA, Body::SaInfo(info), vec![])
        .payload()
        .unwrap();
    let p = XfrmMessage::new(MsgType::NEWSA, Body::SaInfo(info), attrs)
        .payload()
        .unwrap();
    let mut out = Vec::new();
    let mut off = fixed.len().div_ceil(4) * 4;
    while off + 4 <= p.len() {
        let len = u16::from_ne_bytes([p[off], p[off + 1]]) as usize;
        let ty = u16::from_ne_bytes([p[off + 2], p[off + 3]]);
        out.push((ty, p[off + 4..off + len].to_vec()));
        off += len.div_ceil(4) * 4;
    }
    (fixed, out)
}

const C_ATTRS: &str = r#"
static void key(unsigned char *p, int n, int base) { for (int i = 0; i < n; i++) p[i] = (unsigned char)(base + i); }
static void aead_icv(const char *tag, const char *name, int keylen, int icv) {
    unsigned char buf[sizeof(struct xfrm_algo_aead) + 64];
    memset(buf, 0, sizeof buf);
    struct xfrm_algo_aead *a = (void *)buf;
    strcpy(a->alg_name, name);
    a->alg_key_len = keylen * 8;
    a->alg_icv_len = icv;
    key((unsigned char *)a->alg_key, keylen, 0x10);
    printf("type.%s %d\n", tag, XFRMA_ALG_AEAD);
    dump(tag, buf, sizeof(struct xfrm_algo_aead) + keylen);
}
static void aead(const char *tag, const char *name, int keylen) { aead_icv(tag, name, keylen, 128); }
static void crypt(const char *tag, const char *name, int keylen) {
    unsigned char buf[sizeof(struct xfrm_algo) + 64];
    memset(buf, 0, sizeof buf);
    struct xfrm_algo *a = (void *)buf;
    strcpy(a->alg_name, name);
    a->alg_key_len = keylen * 8;
    key((unsigned char *)a->alg_key, keylen, 0x10);
    printf("type.%s %d\n", tag, XFRMA_ALG_CRYPT);
    dump(tag, buf, sizeof(struct xfrm_algo) + keylen);
}
static void auth(const char *tag, const char *name, int keylen, int trunc) {
    unsigned char buf[sizeof(struct xfrm_algo_auth) + 64];
    memset(buf, 0, sizeof buf);
    struct xfrm_algo_auth *a = (void *)buf;
    strcpy(a->alg_name, name);
    a->alg_key_len = keylen * 8;
    a->alg_trunc_len = trunc;
    key((unsigned char *)a->alg_key, keylen, 0x80);
    printf("type.%s %d\n", tag, XFRMA_ALG_AUTH_TRUNC);
    dump(tag, buf, sizeof(struct xfrm_algo_auth) + keylen);
}
int main(void) {
    aead("gcm128", "rfc4106(gcm(aes))", 16 + 4);
    aead("gcm256", "rfc4106(gcm(aes))", 32 + 4);
    aead("chacha", "rfc7539esp(chacha20,poly1305)", 32 + 4);
    crypt("cbc128", "cbc(aes)", 16);
    crypt("cbc256", "cbc(aes)", 32);
    auth("sha1", "hmac(sha1)", 20, 96);
    auth("sha256", "hmac(sha256)", 32, 128);
    auth("sha384", "hmac(sha384)", 48, 192);
    auth("sha512", "hmac(sha512)", 64, 256);
    /* The legacy transforms (issue 15 §3). */
    aead_icv("ccm8_128", "rfc4309(ccm(aes))", 16 + 3, 64);
    aead_icv("ccm12_256", "rfc4309(ccm(aes))", 32 + 3, 96);
    aead_icv("ccm16_192", "rfc4309(ccm(aes))", 24 + 3, 128);
    crypt("des3", "cbc(des3_ede)", 24);
    crypt("camellia192", "cbc(camellia)", 24);
    auth("md5", "hmac(md5)", 16, 96);
    auth("sha256_96", "hmac(sha256)", 32, 96);
    auth("xcbc", "xcbc(aes)", 16, 96);
    auth("cmac", "cmac(aes)", 16, 96);
    struct xfrm_encap_tmpl e;
    memset(&e, 0, sizeof e);
    e.encap_type = UDP_ENCAP_ESPINUDP;
    e.encap_sport = htons(4501);
    e.encap_dport = htons(4500);
    printf("type.encap_in %d\n", XFRMA_ENCAP);
    dump("encap_in", &e, sizeof e);
    e.encap_sport = htons(4500);
    e.encap_dport = htons(4501);
    dump("encap_out", &e, sizeof e);
    __u32 if_id = 7;
    printf("type.if_id %d\n", XFRMA_IF_ID);
    dump("if_id", &if_id, sizeof if_id);
    unsigned char rb[sizeof(struct xfrm_replay_state_esn) + 8 * 4];
    memset(rb, 0, sizeof rb);
    struct xfrm_replay_state_esn *r = (void *)rb;
    r->bmp_len = 8;
    r->replay_window = 256;
    printf("type.esn %d\n", XFRMA_REPLAY_ESN_VAL);
    dump("esn", rb, sizeof rb);
    printf("flag.esn %d\n", XFRM_STATE_ESN);
    printf("flag.af_unspec %d\n", XFRM_STATE_AF_UNSPEC);
    printf("udp_encap_espinudp %d\n", UDP_ENCAP_ESPINUDP);
    return 0;
}
"#;

#[test]
fn every_suite_maps_to_the_attributes_linux_xfrm_h_describes() {
    let mut src = String::from(common_c::PRELUDE);
    src.push_str("#include <linux/udp.h>\n");
    src.push_str(C_ATTRS);
    let c = common_c::run_c("xfrm_backend_attrs", &src);
    let hex = |k: &str| {
        c.get(k)
            .unwrap_or_else(|| panic!("C printed no {k}"))
            .clone()
    };
    let ty = |k: &str| -> u16 { c[&format!("type.{k}")].parse().unwrap() };
    let suites: &[(Cipher, Option<Auth>, &[&str])] = &[
        (Cipher::AesGcm16 { key_bits: 128 }, None, &["gcm128"]),
        (Cipher::AesGcm16 { key_bits: 256 }, None, &["gcm256"]),
        (Cipher::ChaCha20Poly1305, None, &["chacha"]),
        (
            Cipher::AesCbc { key_bits: 128 },
            Some(Auth::HmacSha1_96),
            &["cbc128", "sha1"],
        ),
        (
            Cipher::AesCbc { key_bits: 256 },
            Some(Auth::HmacSha256_128),
            &["cbc256", "sha256"],
        ),
        (
            Cipher::AesCbc { key_bits: 256 },
            Some(Auth::HmacSha384_192),
            &["cbc256", "sha384"],
        ),
        (
            Cipher::AesCbc { key_bits: 128 },
            Some(Auth::HmacSha512_256),
            &["cbc128", "sha512"],
        ),
        (
            Cipher::AesCcm {
                key_bits: 128,
                icv: 8,
            },
            None,
            &["ccm8_128"],
        ),
        (
            Cipher::AesCcm {
                key_bits: 256,
                icv: 12,
            },
            None,
            &["ccm12_256"],
        ),
        (
            Cipher::AesCcm {
                key_bits: 192,
                icv: 16,
            },
            None,
            &["ccm16_192"],
        ),
        (Cipher::TripleDes, Some(Auth::HmacMd5_96), &["des3", "md5"]),
        (
            Cipher::TripleDes,
            Some(Auth::HmacSha1_96),
            &["des3", "sha1"],
        ),
        (
            Cipher::CamelliaCbc { key_bits: 192 },
            Some(Auth::HmacSha256_96),
            &["camellia192", "sha256_96"],
        ),
        (
            Cipher::AesCbc { key_bits: 128 },
            Some(Auth::AesXcbc96),
            &["cbc128", "xcbc"],
        ),
        (
            Cipher::AesCbc { key_bits: 256 },
            Some(Auth::AesCmac96),
            &["cbc256", "cmac"],
        ),
    ];
    for (cipher, auth, tags) in suites {
        let s = spec(*cipher, *auth, true);
        for dir in [Dir::In, Dir::Out] {
            let (fixed, attrs) = sa_attr_bytes(&s, dir);
            let alg: Vec<&(u16, Vec<u8>)> = attrs
                .iter()
                .filter(|(t, _)| {
                    [attr::ALG_AEAD, attr::ALG_CRYPT, attr::ALG_AUTH_TRUNC].contains(t)
                })
                .collect();
            assert_eq!(
                alg.len(),
                tags.len(),
                "{cipher:?}/{auth:?}: algorithm attributes"
            );
            for ((t, payload), tag) in alg.iter().zip(tags.iter()) {
                assert_eq!(*t, ty(tag), "{tag}: attribute type");
                assert_eq!(hex::encode(payload), hex(tag), "{tag}: attribute bytes");
            }
            // ESP-in-UDP with the SA's own ports.
            let enc = attrs.iter().find(|(t, _)| *t == ty("encap_in")).unwrap();
            let want = if dir == Dir::In {
                "encap_in"
            } else {
                "encap_out"
            };
            assert_eq!(hex::encode(&enc.1), hex(want), "{want}");
            // Routed: if_id = reqid.
            let id = attrs.iter().find(|(t, _)| *t == ty("if_id")).unwrap();
            assert_eq!(hex::encode(&id.1), hex("if_id"));
            // Tunnel mode states serve both inner families.
            let flags = fixed[216];
            let af_unspec: u8 = c["flag.af_unspec"].parse().unwrap();
            assert_eq!(flags & af_unspec, af_unspec);
            assert_eq!(fixed[215], 32, "replay_window in xfrm_usersa_info");
        }
    }
    // ESN (or a window over 32): XFRMA_REPLAY_ESN_VAL and XFRM_STATE_ESN.
    let mut s = spec(Cipher::AesGcm16 { key_bits: 128 }, None, false);
    s.esn = true;
    s.replay_window = 256;
    let (fixed, attrs) = sa_attr_bytes(&s, Dir::In);
    let esn = attrs.iter().find(|(t, _)| *t == ty("esn")).unwrap();
    assert_eq!(hex::encode(&esn.1), hex("esn"));
    let flag: u8 = c["flag.esn"].parse().unwrap();
    assert_eq!(fixed[216] & flag, flag);
    assert_eq!(state_flags::ESN, flag);
    assert_eq!(fixed[215], 0, "replay_window field unused with ESN");
    // Policy-based without if_id: no XFRMA_IF_ID.
    assert!(!attrs.iter().any(|(t, _)| *t == ty("if_id")));
}

#[test]
fn wrong_key_lengths_and_aead_with_integrity_are_refused() {
    let mut s = spec(Cipher::AesGcm16 { key_bits: 128 }, None, true);
    s.inbound.enc_key = key(16, 0); // salt missing
    assert!(sa_message(&s, Dir::In).is_err());
    let s = spec(
        Cipher::AesGcm16 { key_bits: 128 },
        Some(Auth::HmacSha256_128),
        true,
    );
    assert!(sa_message(&s, Dir::In).is_err());
    let s = spec(Cipher::AesCbc { key_bits: 128 }, None, true);
    assert!(sa_message(&s, Dir::In).is_err());
}

#[test]
fn limits_map_to_lifetimes_and_zero_means_infinite() {
    let mut s = spec(Cipher::AesGcm16 { key_bits: 128 }, None, true);
    s.limits = Limits {
        soft_bytes: 1000,
        hard_bytes: 2000,
        soft_packets: 0,
        hard_packets: 40,
    };
    let (info, _) = sa_message(&s, Dir::Out).unwrap();
    assert_eq!(info.lft.soft_byte_limit, 1000);
    assert_eq!(info.lft.hard_byte_limit, 2000);
    assert_eq!(info.lft.soft_packet_limit, u64::MAX);
    assert_eq!(info.lft.hard_packet_limit, 40);
    assert_eq!(info.lft.hard_add_expires_seconds, 0);
    assert_eq!(info.reqid, 7);
    assert_eq!(info.id.spi, 0xc000_0002);
}

#[test]
fn routed_children_get_if_id_policies_and_policy_based_ones_ts_policies() {
    // Routed with the default selectors (0.0.0.0/0, ::/0 both sides):
    // in/out/fwd for IPv4 and IPv6, any selector, with the if_id.
    let mut any = spec(Cipher::AesGcm16 { key_bits: 128 }, None, true);
    any.local_ts = vec![TsRange::any(false), TsRange::any(true)];
    any.remote_ts = any.local_ts.clone();
    let routed = policies(&any).unwrap();
    assert_eq!(routed.len(), 6, "in/out/fwd for IPv4 and IPv6");
    for p in &routed {
        assert_eq!(p.info.sel.prefixlen_d, 0);
        assert!(p.attrs.contains(&Attr::IfId(7)));
    }
    // Routed, narrowed by the peer to 10.1.0.0/16 === 10.2.0.0/24: the
    // negotiated selectors with the if_id (as strongSwan installs them),
    // so the kernel's inbound check refuses other inner sources; no IPv6
    // policy (nothing IPv6 was negotiated).
    let narrowed = policies(&spec(Cipher::AesGcm16 { key_bits: 128 }, None, true)).unwrap();
    assert_eq!(narrowed.len(), 3);
    for p in &narrowed {
        assert!(p.attrs.contains(&Attr::IfId(7)), "{p:?}");
        let (src, dst) = (p.info.sel.saddr, p.info.sel.daddr);
        let (sl, dl) = (p.info.sel.prefixlen_s, p.info.sel.prefixlen_d);
        let (ours, theirs) = (
            (pfkey::xfrm::XfrmAddress::from(ip("10.1.0.0")), 16),
            (pfkey::xfrm::XfrmAddress::from(ip("10.2.0.0")), 24),
        );
        if p.dir_name() == "out" {
            assert_eq!(((src, sl), (dst, dl)), (ours, theirs));
        } else {
            assert_eq!(((src, sl), (dst, dl)), (theirs, ours), "{}", p.dir_name());
        }
    }
    // A selector set beyond the child's limit is refused before anything
    // is built: 10.0.0.1-10.0.0.6 is four prefixes, 4 × 4 pairs > 15.
    let mut big = spec(Cipher::AesGcm16 { key_bits: 128 }, None, true);
    big.local_ts = vec![ts("10.0.0.1", "10.0.0.6")];
    big.remote_ts = vec![ts("10.9.0.1", "10.9.0.6")];
    big.selector_limit = 16;
    assert_eq!(policies(&big).unwrap().len(), 48);
    big.selector_limit = 15;
    let e = policies(&big).unwrap_err().to_string();
    assert!(
        e.contains("16") && e.contains("max_policies_per_child = 15"),
        "{e}"
    );
    let mut s = spec(Cipher::AesGcm16 { key_bits: 128 }, None, false);
    s.remote_ts = vec![ts("10.2.0.0", "10.2.0.255"), ts("10.3.0.1", "10.3.0.2")];
    let pb = policies(&s).unwrap();
    // 10.3.0.1-10.3.0.2 is two /32s: 1 + 2 remote prefixes × 3 directions.
    assert_eq!(pb.len(), 9);
    assert!(pb
        .iter()
        .all(|p| !p.attrs.iter().any(|a| matches!(a, Attr::IfId(_)))));
    s.local_ts[0].start_port = 10;
    s.local_ts[0].end_port = 20;
    assert!(
        policies(&s).is_err(),
        "port ranges are refused, not widened"
    );
}

// ---------------------------------------------------------------------------
// In a namespace (root)

const ENV: &str = "VTID_PFKEY_BACKEND_NETNS";
fn run_in_netns(inner: &str) {
    common_netns::run_in_netns(ENV, "vtid-xbk", inner);
}

fn in_test_netns() -> bool {
    common_netns::in_test_netns(ENV)
}

fn ip_cmd(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().expect("ip");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn netns_backend_installs_routed_and_policy_based_policies() {
    run_in_netns("inner_backend_installs_routed_and_policy_based_policies");
}

#[test]
#[ignore = "runs inside a namespace made by netns_backend_installs_routed_and_policy_based_policies"]
fn inner_backend_installs_routed_and_policy_based_policies() {
    assert!(in_test_netns(), "not inside the test namespace");
    let mut be = XfrmBackend::open().unwrap();
    let routed = spec(Cipher::AesGcm16 { key_bits: 128 }, None, true);
    let mut pb = spec(
        Cipher::AesCbc { key_bits: 256 },
        Some(Auth::HmacSha256_128),
        false,
    );
    pb.reqid = 9;
    pb.inbound.spi = 0xc000_0011;
    pb.outbound.spi = 0xc000_0012;
    let r = be.install_policies(&routed).unwrap();
    let p = be.install_policies(&pb).unwrap();
    assert_eq!((r.len(), p.len()), (3, 3));
    let text = ip_cmd(&["xfrm", "policy"]);
    println!("{text}");
    // Routed: the negotiated selectors with if_id 7, template reqid 7
    // between the tunnel endpoints; the in and fwd policies admit only
    // the peer's 10.2.0.0/24 as inner source.
    assert_eq!(text.matches("if_id 0x7").count(), 3, "three if_id policies");
    assert!(!text.contains("src 0.0.0.0/0 dst 0.0.0.0/0"), "{text}");
    let inbound: Vec<&str> = text
        .split("\nsrc ")
        .filter(|p| p.contains("if_id 0x7") && !p.contains("dir out"))
        .collect();
    assert_eq!(inbound.len(), 2, "{text}");
    assert!(
        inbound.iter().all(|p| p
            .trim_start_matches("src ")
            .starts_with("10.2.0.0/24 dst 10.1.0.0/16")),
        "{inbound:#?}"
    );
    assert!(text.contains("tmpl src 192.0.2.1 dst 198.51.100.2"));
    assert!(text.contains("tmpl src 198.51.100.2 dst 192.0.2.1"));
    assert!(text.contains("reqid 7 mode tunnel"));
    // Policy-based: the same selectors in all three directions, reqid 9,
    // no if_id (in and fwd of both children: four).
    assert!(text.contains("src 10.1.0.0/16 dst 10.2.0.0/24"));
    assert_eq!(text.matches("src 10.2.0.0/24 dst 10.1.0.0/16").count(), 4);
    assert!(text.contains("dir out"));
    assert!(text.contains("dir fwd"));
    assert!(text.contains("reqid 9 mode tunnel"));
    let n = text.lines().filter(|l| l.starts_with("src ")).count();
    assert_eq!(n, 6);

    // The SAs: kernel ESP is missing here (or present on a full kernel).
    match be.install(pb.clone(), true) {
        Err(e) if e.is_no_esp() => {
            println!("kernel has no ESP: {e}");
            assert!(matches!(
                e,
                pfkey::backend::xfrm::Error::Xfrm(XfrmError::NoEsp { .. })
            ));
            assert!(e.to_string().contains("no ESP support"), "{e}");
        }
        Err(e) => panic!("unexpected error: {e}"),
        Ok(()) => {
            println!("kernel has ESP: SAs installed");
            let st = ip_cmd(&["xfrm", "state"]);
            assert!(st.contains("spi 0xc0000011"));
            assert!(st.contains("spi 0xc0000012"));
            assert!(be.delete(0xc000_0011));
        }
    }
    // Policies stay until their reqid's last SA goes; clear() removes what
    // the backend installed through install(); the bare install_policies
    // calls above are removed by hand here.
    for l in r.iter().chain(p.iter()) {
        let (id, attrs) = l.id();
        // With kernel ESP, install/delete of `pb` above already removed
        // reqid 9's policies.
        match pfkey::xfrm::XfrmSocket::open()
            .unwrap()
            .delete_policy(&id, attrs)
        {
            Err(e) if e.is_not_found() => {}
            r => r.unwrap(),
        }
    }
    assert_eq!(ip_cmd(&["xfrm", "policy"]).trim(), "");
    let _ = IpAddr::from([0u8; 4]);
}

#[test]
fn netns_ike_socket_bypass_and_udp_encap() {
    run_in_netns("inner_ike_socket_bypass_and_udp_encap");
}

#[test]
#[ignore = "runs inside a namespace made by netns_ike_socket_bypass_and_udp_encap"]
fn inner_ike_socket_bypass_and_udp_encap() {
    use std::os::fd::AsFd;
    assert!(in_test_netns(), "not inside the test namespace");
    // Loopback has disable_xfrm set: use a veth pair for a real lookup.
    ip_cmd(&["link", "add", "xa", "type", "veth", "peer", "name", "xb"]);
    ip_cmd(&["addr", "add", "192.0.2.10/24", "dev", "xa"]);
    ip_cmd(&["link", "set", "xa", "up"]);
    ip_cmd(&["link", "set", "xb", "up"]);
    let s4 = std::net::UdpSocket::bind("192.0.2.10:0").unwrap();
    pfkey::backend::xfrm::bypass_socket(s4.as_fd(), false).unwrap();
    pfkey::backend::xfrm::udp_encap_socket(s4.as_fd()).unwrap();
    let s6 = std::net::UdpSocket::bind("[::]:0").unwrap();
    pfkey::backend::xfrm::bypass_socket(s6.as_fd(), true).unwrap();
    // A block-everything output policy: the bypassed socket still sends,
    // an ordinary one is refused (EPERM from the policy lookup).
    ip_cmd(&[
        "xfrm",
        "policy",
        "add",
        "src",
        "0.0.0.0/0",
        "dst",
        "0.0.0.0/0",
        "dir",
        "out",
        "action",
        "block",
    ]);
    let to: std::net::SocketAddr = "192.0.2.20:4500".parse().unwrap();
    s4.send_to(b"\0\0\0\0ike", to)
        .expect("bypassed socket sends despite the block policy");
    let plain = std::net::UdpSocket::bind("192.0.2.10:0").unwrap();
    let e = plain
        .send_to(b"x", to)
        .expect_err("unbypassed socket is blocked");
    println!("unbypassed socket: {e}");
    ip_cmd(&["xfrm", "policy", "flush"]);
}
