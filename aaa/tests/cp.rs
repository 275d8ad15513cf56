//! Configuration payloads from pools: a client's request, the reply the
//! gateway builds from its lease and the pool's attributes, read back as
//! vtid the client reads it, property tests, and Wireshark as the oracle
//! of what we emit (a CFG_REPLY in an IKE_AUTH response dissected by
//! tshark, field by field).

use std::net::{IpAddr, SocketAddrV4};
use std::path::Path;
use std::process::Command;

use aaa::cp::{self, CpReply};
use aaa::Pools;
use ike::wire::*;
use proptest::prelude::*;

const POOLS: &str = "\
pools {
  rw4 {
    addrs = 10.9.0.0/24
    dns = 10.9.0.53, 2001:db8:9::53
    nbns = 10.9.0.54
    subnet = 10.1.0.0/16, 2001:db8:1::/48
    split_include = 10.2.0.0/16
  }
  rw6 {
    addrs = 2001:db8:9::100-2001:db8:9::1ff
  }
}
";

fn pools() -> Pools {
    let l = config::load_str(POOLS, "p.conf").unwrap();
    let mut p = Pools::new();
    assert!(p.sync_file(&l.config.pools).is_empty());
    p
}

fn names() -> Vec<String> {
    vec!["rw4".into(), "rw6".into()]
}

/// The gateway's side for one client: request → leases → reply.
fn serve(p: &mut Pools, req: &CpPayload, id: &str) -> (Vec<IpAddr>, CpPayload) {
    let r = cp::parse_request(req).unwrap();
    let vips: Vec<IpAddr> = r
        .requested()
        .into_iter()
        .filter_map(|want| p.acquire(&names(), id, want, None).map(|a| a.addr))
        .collect();
    let attrs: Vec<config::PoolAttr> = p.attributes(&names(), &vips).cloned().collect();
    (vips.clone(), cp::build_reply(&vips, &attrs))
}

#[test]
fn request_lease_reply_and_back() {
    let mut p = pools();
    // vtid as client with vips = 0.0.0.0, ::
    let req = cp::build_request(&["0.0.0.0".parse().unwrap(), "::".parse().unwrap()]);
    let (vips, reply) = serve(&mut p, &req, "alice");
    assert_eq!(
        vips,
        vec![
            "10.9.0.1".parse::<IpAddr>().unwrap(),
            "2001:db8:9::100".parse().unwrap()
        ]
    );
    let got: CpReply = cp::parse_reply(&reply).unwrap();
    assert_eq!(
        got.vips,
        vec![
            ("10.9.0.1".parse().unwrap(), 32),
            ("2001:db8:9::100".parse().unwrap(), 64)
        ]
    );
    assert_eq!(
        got.dns,
        vec![
            "10.9.0.53".parse::<IpAddr>().unwrap(),
            "2001:db8:9::53".parse().unwrap()
        ]
    );
    assert_eq!(got.nbns, vec!["10.9.0.54".parse::<IpAddr>().unwrap()]);
    assert_eq!(
        got.subnets,
        vec![
            ("10.1.0.0".parse().unwrap(), 16),
            ("2001:db8:1::".parse().unwrap(), 48)
        ]
    );
    // The Unity split include travels as strongSwan's vici plugin writes
    // it: address and netmask.
    assert_eq!(
        got.other,
        vec![CfgAttr {
            ty: cp::private::UNITY_SPLIT_INCLUDE,
            value: vec![10, 2, 0, 0, 255, 255, 0, 0]
        }]
    );
    // The same client asking for its address again gets it (stable
    // leases); asking for a specific one it does not hold gets another.
    p.release(&names(), vips[0], "alice", None);
    let again = CpPayload {
        cfg_type: CfgType::REQUEST,
        attributes: vec![CfgAttr {
            ty: CfgAttrType::INTERNAL_IP4_ADDRESS,
            value: vec![10, 9, 0, 1],
        }],
    };
    assert_eq!(serve(&mut p, &again, "alice").0, vec![vips[0]]);
}

#[test]
fn malformed_attributes_are_errors() {
    let one = |ty: CfgAttrType, value: Vec<u8>| CpPayload {
        cfg_type: CfgType::REPLY,
        attributes: vec![CfgAttr { ty, value }],
    };
    assert!(cp::parse_request(&one(CfgAttrType::INTERNAL_IP4_ADDRESS, vec![1, 2, 3])).is_err());
    assert!(cp::parse_request(&one(CfgAttrType::INTERNAL_IP6_ADDRESS, vec![0; 16])).is_err());
    // Prefix length over 128.
    let mut v = vec![0u8; 16];
    v.push(129);
    assert!(cp::parse_request(&one(CfgAttrType::INTERNAL_IP6_ADDRESS, v)).is_err());
    assert!(cp::parse_reply(&one(CfgAttrType::INTERNAL_IP4_ADDRESS, vec![])).is_err());
    assert!(cp::parse_reply(&one(CfgAttrType::INTERNAL_IP6_DNS, vec![0; 17])).is_err());
    let e = cp::parse_reply(&one(
        CfgAttrType::INTERNAL_IP4_SUBNET,
        vec![10, 0, 0, 0, 255, 0, 255, 0],
    ))
    .unwrap_err();
    assert!(e.to_string().contains("contiguous netmask"), "{e}");
}

proptest! {
    /// Whatever attributes a peer sends, both readers return without
    /// panicking.
    #[test]
    fn readers_never_panic(attrs in proptest::collection::vec(
        (0u16..40, proptest::collection::vec(any::<u8>(), 0..24)), 0..12)) {
        let cp = CpPayload {
            cfg_type: CfgType::REQUEST,
            attributes: attrs.into_iter().map(|(t, value)| CfgAttr { ty: CfgAttrType(t), value }).collect(),
        };
        let _ = cp::parse_request(&cp);
        let _ = cp::parse_reply(&cp);
    }

    /// A reply built for any addresses reads back as those addresses.
    #[test]
    fn replies_round_trip(v4 in any::<[u8; 4]>(), v6 in any::<[u8; 16]>(),
                          dns in any::<[u8; 4]>(), prefix in 0u8..=32) {
        let vips = [IpAddr::from(v4), IpAddr::from(v6)];
        let attrs = [
            config::PoolAttr { kind: config::AttrKind::Dns, value: config::AttrValue::Addr(IpAddr::from(dns)) },
            config::PoolAttr { kind: config::AttrKind::Subnet, value: config::AttrValue::Net(IpAddr::from(dns), prefix) },
        ];
        let r = cp::parse_reply(&cp::build_reply(&vips, &attrs)).unwrap();
        prop_assert_eq!(r.vips, vec![(vips[0], 32), (vips[1], 64)]);
        prop_assert_eq!(r.dns, vec![IpAddr::from(dns)]);
        prop_assert_eq!(r.subnets, vec![(IpAddr::from(dns), prefix)]);
    }
}

fn tshark(args: &[&str]) -> String {
    let out = Command::new("tshark")
        .args(["-n"])
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run tshark (install Debian's tshark; this test does not skip): {e}")
        });
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Wireshark reads our CFG_REPLY as we meant it: no malformed packet or
/// expert warning, and the fields hold the lease and the pool's values.
#[test]
fn tshark_dissects_the_reply() {
    let mut p = pools();
    let req = cp::build_request(&["0.0.0.0".parse().unwrap(), "::".parse().unwrap()]);
    let (_, reply) = serve(&mut p, &req, "bob");
    let mk = |cp: CpPayload, response: bool| {
        let header = Header {
            spi_i: [1; 8],
            spi_r: [2; 8],
            major: 2,
            minor: 0,
            exchange: ExchangeType::IKE_AUTH,
            flags: Flags {
                initiator: !response,
                response,
                ..Flags::default()
            },
            message_id: 1,
            ..Header::default()
        };
        Message::new(header, vec![Payload::new(PayloadBody::Cp(cp))]).emit()
    };
    let a: SocketAddrV4 = "192.0.2.1:500".parse().unwrap();
    let b: SocketAddrV4 = "192.0.2.2:500".parse().unwrap();
    let mut w = vtid_tests::pcap::PcapWriter::new();
    w.add_udp(a, b, &mk(req, false));
    w.add_udp(b, a, &mk(reply, true));
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("aaa-cp.pcap");
    w.write_to(&path).unwrap();
    let path_s = path.to_str().unwrap();
    let bad = tshark(&[
        "-r",
        path_s,
        "-Y",
        "_ws.malformed || _ws.expert.severity >= 0x600000",
        "-V",
    ]);
    assert!(bad.trim().is_empty(), "tshark complains:\n{bad}");
    let fields = tshark(&[
        "-r",
        path_s,
        "-Y",
        "isakmp.cfg.type == 2",
        "-T",
        "fields",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=,",
        "-e",
        "isakmp.cfg.attr.internal_ip4_address",
        "-e",
        "isakmp.cfg.attr.internal_ip6_address",
        "-e",
        "isakmp.cfg.attr.internal_ip6_address.prefix",
        "-e",
        "isakmp.cfg.attr.internal_ip4_dns",
        "-e",
        "isakmp.cfg.attr.internal_ip6_dns",
        "-e",
        "isakmp.cfg.attr.internal_ip4_subnet_ip",
        "-e",
        "isakmp.cfg.attr.internal_ip4_subnet_netmask",
        "-e",
        "isakmp.cfg.attr.internal_ip6_subnet_ip",
        "-e",
        "isakmp.cfg.attr.internal_ip6_subnet_prefix",
        "-e",
        "isakmp.cfg.attr.type",
    ]);
    let row: Vec<&str> = fields.trim_end().split('\t').collect();
    assert_eq!(
        &row[..9],
        &[
            "10.9.0.1",
            "2001:db8:9::100",
            "64",
            "10.9.0.53",
            "2001:db8:9::53",
            "10.1.0.0",
            "255.255.0.0",
            "2001:db8:1::",
            "48"
        ],
        "{fields}"
    );
    // Every attribute type we sent, in order (Unity's 28676 included).
    assert_eq!(row[9], "1,8,3,10,4,13,15,28676", "{fields}");
}
