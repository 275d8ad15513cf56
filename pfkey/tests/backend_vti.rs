//! Legacy VTI mode of the XFRM backend (`xfrm_interface_type = vti`): the
//! `RTM_NEWLINK` of `type vti`/`vti6` checked byte for byte against what
//! iproute2 sends, the SA and policy attributes with `XFRMA_MARK` instead of
//! `XFRMA_IF_ID`, and (root, in a throwaway namespace) VTI creation: on a
//! kernel without `ip_vti` (CI) it must fail with the typed
//! [`LinkError::NoVti`]; on one with it, the interface must show up as `ip
//! -d link` describes a VTI and accept new endpoints.
// Linux only: Linux rtnetlink VTIs and XFRM (the FreeBSD build check compiles the portable tests).
#![cfg(target_os = "linux")]

mod common_netns;

use std::net::{IpAddr, SocketAddr};
use std::process::Command;

use pfkey::backend::xfrm::{policies_bound, sa_delete_attrs, sa_message_bound, vti_mark, Binding};
use pfkey::backend::{ChildSpec, Cipher, Dir, Limits, SaKeys, TsRange};
use pfkey::link::{
    change_vti_interface, create_vti_interface, delete_link, new_vti_link_payload, vti_available,
    LinkError, VtiParams,
};
use pfkey::xfrm::{attr, Attr, Body, Mark, MsgType, XfrmMessage};
use zeroize::Zeroizing;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn ip_addr(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The message after its 16-byte `nlmsghdr`, as `strace -e trace=sendmsg
/// -e write=3` showed it for iproute2 6.1.0's `ip link add vtitest type vti
/// key 7 local 192.0.2.1 remote 192.0.2.2` (and the `vti6` one below).
const IP_LINK_ADD_VTI: &str = "
    00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00
    0c 00 03 00 76 74 69 74  65 73 74 00 38 00 12 00
    07 00 01 00 76 74 69 00  2c 00 02 00 08 00 02 00
    00 00 00 07 08 00 03 00  00 00 00 07 08 00 04 00
    c0 00 02 01 08 00 05 00  c0 00 02 02 08 00 06 00
    00 00 00 00";

/// `ip link add vtitest6 type vti6 key 7 local 2001:db8::1 remote
/// 2001:db8::2`.
const IP_LINK_ADD_VTI6: &str = "
    00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00
    0d 00 03 00 76 74 69 74  65 73 74 36 00 00 00 00
    50 00 12 00 08 00 01 00  76 74 69 36 44 00 02 00
    08 00 02 00 00 00 00 07  08 00 03 00 00 00 00 07
    14 00 04 00 20 01 0d b8  00 00 00 00 00 00 00 00
    00 00 00 01 14 00 05 00  20 01 0d b8 00 00 00 00
    00 00 00 00 00 00 00 02  08 00 06 00 00 00 00 00";

#[test]
fn vti_link_request_is_what_ip_link_add_type_vti_sends() {
    let p = VtiParams {
        key: 7,
        local: ip_addr("192.0.2.1"),
        remote: ip_addr("192.0.2.2"),
        link: None,
    };
    assert_eq!(p.kind(), "vti");
    assert_eq!(
        new_vti_link_payload("vtitest", &p).unwrap(),
        hex(IP_LINK_ADD_VTI)
    );
    let p6 = VtiParams {
        key: 7,
        local: ip_addr("2001:db8::1"),
        remote: ip_addr("2001:db8::2"),
        link: None,
    };
    assert_eq!(p6.kind(), "vti6");
    assert_eq!(
        new_vti_link_payload("vtitest6", &p6).unwrap(),
        hex(IP_LINK_ADD_VTI6)
    );
    // Keys go big-endian (iproute2's tnl_parse_key; the kernel's
    // nla_get_be32, mark = be32_to_cpu(i_key)).
    let big = new_vti_link_payload(
        "v",
        &VtiParams {
            key: 0x0102_0304,
            ..p
        },
    )
    .unwrap();
    assert!(big.windows(8).any(|w| w == [8, 0, 2, 0, 1, 2, 3, 4]));
    let mixed = VtiParams {
        remote: ip_addr("2001:db8::2"),
        ..p
    };
    assert!(matches!(
        new_vti_link_payload("v", &mixed),
        Err(LinkError::BadEndpoints(..))
    ));
    assert!(matches!(
        new_vti_link_payload("a-name-too-long-for-linux", &p),
        Err(LinkError::BadName(_))
    ));
}

fn keys(spi: u32) -> SaKeys {
    SaKeys {
        spi,
        cipher: Cipher::AesGcm16 { key_bits: 128 },
        auth: None,
        enc_key: Zeroizing::new(vec![0x11; 20]),
        auth_key: Zeroizing::new(Vec::new()),
    }
}

fn spec() -> ChildSpec {
    let any = |v6| TsRange::any(v6);
    ChildSpec {
        reqid: 7,
        local: "192.0.2.1:500".parse::<SocketAddr>().unwrap(),
        remote: "192.0.2.2:500".parse::<SocketAddr>().unwrap(),
        encap: false,
        tunnel: true,
        esn: false,
        replay_window: 32,
        inbound: keys(0xc000_0001),
        outbound: keys(0xc000_0002),
        local_ts: vec![any(false)],
        remote_ts: vec![any(false)],
        limits: Limits::default(),
        routed: true,
        if_id: (0, 0),
        selector_limit: 0,
    }
}

/// `(type, payload)` of each attribute of a NEWSA.
fn attr_bytes(info: pfkey::xfrm::UsersaInfo, attrs: Vec<Attr>) -> Vec<(u16, Vec<u8>)> {
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
    out
}

#[test]
fn vti_mode_marks_states_and_policies_instead_of_if_id() {
    let s = spec();
    let mark = Mark {
        v: 7,
        m: 0xffff_ffff,
    };
    assert_eq!(vti_mark(7), mark);
    // struct xfrm_mark { __u32 v; __u32 m; } in host order.
    let mut want = 7u32.to_ne_bytes().to_vec();
    want.extend_from_slice(&u32::MAX.to_ne_bytes());
    for dir in [Dir::In, Dir::Out] {
        let (info, attrs) = sa_message_bound(&s, dir, Binding::Mark).unwrap();
        assert!(attrs.contains(&Attr::Mark(mark)), "{dir:?}: {attrs:?}");
        assert!(!attrs.iter().any(|a| matches!(a, Attr::IfId(_))));
        let bytes = attr_bytes(info, attrs);
        assert!(bytes.contains(&(attr::MARK, want.clone())), "{bytes:?}");
        assert!(!bytes.iter().any(|(t, _)| *t == attr::IF_ID));
        // The default binding is unchanged: if_id, no mark.
        let (_, a) = sa_message_bound(&s, dir, Binding::IfId).unwrap();
        assert!(a.contains(&Attr::IfId(7)));
        assert!(!a.iter().any(|a| matches!(a, Attr::Mark(_))));
        // DELSA must repeat the mark to find the state.
        assert_eq!(
            sa_delete_attrs(&s, dir, Binding::Mark),
            vec![Attr::Mark(mark)]
        );
        assert!(sa_delete_attrs(&s, dir, Binding::IfId).is_empty());
    }
    let pols = policies_bound(&s, Binding::Mark).unwrap();
    assert_eq!(
        pols.len(),
        3,
        "in/out/fwd × the negotiated selectors (IPv4 only here)"
    );
    for p in &pols {
        assert!(p.attrs.contains(&Attr::Mark(mark)));
        assert!(!p.attrs.iter().any(|a| matches!(a, Attr::IfId(_))));
        assert_eq!(p.id().1, vec![Attr::Mark(mark)], "DELPOLICY repeats it");
    }
    // A configured interface id is the mark (and the VTI key).
    let mut s2 = spec();
    s2.if_id = (42, 42);
    let (_, a) = sa_message_bound(&s2, Dir::Out, Binding::Mark).unwrap();
    assert!(a.contains(&Attr::Mark(vti_mark(42))));
    // Policy-based children have no interface: no mark either.
    let mut pb = spec();
    pb.routed = false;
    for p in policies_bound(&pb, Binding::Mark).unwrap() {
        assert!(!p.attrs.iter().any(|a| matches!(a, Attr::Mark(_))));
    }
}

// ---------------------------------------------------------------------------
// In a namespace (root)

const ENV: &str = "VTID_PFKEY_VTI_NETNS";
fn run_in_netns(inner: &str) {
    common_netns::run_in_netns(ENV, "vtid-vti", inner);
}

fn in_test_netns() -> bool {
    common_netns::in_test_netns(ENV)
}

#[test]
fn netns_vti_creation_fails_typed_without_ip_vti() {
    run_in_netns("inner_vti_creation_fails_typed_without_ip_vti");
}

#[test]
#[ignore = "runs inside a namespace made by netns_vti_creation_fails_typed_without_ip_vti"]
fn inner_vti_creation_fails_typed_without_ip_vti() {
    assert!(in_test_netns(), "not inside the test namespace");
    let p = VtiParams {
        key: 7,
        local: ip_addr("192.0.2.1"),
        remote: ip_addr("192.0.2.2"),
        link: None,
    };
    match create_vti_interface("ipsec7", &p) {
        Err(e @ LinkError::NoVti { .. }) => {
            println!("{e}");
            assert!(
                e.to_string()
                    .starts_with("kernel has no VTI (ip_vti module)"),
                "{e}"
            );
            assert!(matches!(e, LinkError::NoVti { kind: "vti", .. }));
            assert!(!vti_available().unwrap());
        }
        Err(e) => panic!("unexpected error: {e}"),
        Ok(()) => {
            // A kernel with ip_vti: the interface is the VTI `ip` describes.
            let show = |n: &str| {
                let o = Command::new("ip")
                    .args(["-d", "link", "show", n])
                    .output()
                    .unwrap();
                String::from_utf8_lossy(&o.stdout).into_owned()
            };
            let t = show("ipsec7");
            println!("{t}");
            assert!(t.contains("vti remote 192.0.2.2 local 192.0.2.1"), "{t}");
            assert!(
                t.contains("ikey 0.0.0.7") && t.contains("okey 0.0.0.7"),
                "{t}"
            );
            let moved = VtiParams {
                remote: ip_addr("198.51.100.9"),
                ..p
            };
            change_vti_interface("ipsec7", &moved).unwrap();
            assert!(show("ipsec7").contains("remote 198.51.100.9"));
            assert!(vti_available().unwrap());
            delete_link("ipsec7").unwrap();
        }
    }
}
