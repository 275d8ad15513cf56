//! Wireshark as an oracle for `ike::wire`: messages of every exchange type,
//! together carrying every payload kind, are emitted by our codec, written
//! to a pcap as IPv4/UDP port 500, and dissected by tshark. The test fails
//! on any malformed packet or expert warning/error, and checks that tshark
//! saw the exchange types, payload types, ID types, TS types and notify
//! types we meant, so it cannot pass by dissecting nothing.
//!
//! The payloads are written in plaintext (no SK around them), which is
//! legal for a dissector; SK and SKF travel in messages of their own since
//! they must be the last payload.
//!
//! Needs `tshark` (Debian: `apt-get install tshark`); without it the test
//! fails rather than skips.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::Command;

use ike::wire::*;
use vtid_tests::pcap::PcapWriter;

const CERT_DER: &[u8] = include_bytes!("../data/oracle-cert.der");

/// DER of the Name "CN=vtid".
const DN_VTID: &[u8] = &[
    0x30, 0x0f, 0x31, 0x0d, 0x30, 0x0b, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x04, b'v', b't', b'i',
    b'd',
];

const SPI_I: [u8; 8] = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88];
const SPI_R: [u8; 8] = [0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01];

fn p(body: PayloadBody) -> Payload {
    Payload::new(body)
}

fn header(exchange: ExchangeType, response: bool, message_id: u32, spi_r: [u8; 8]) -> Header {
    Header {
        spi_i: SPI_I,
        spi_r,
        major: 2,
        minor: 0,
        exchange,
        flags: Flags {
            initiator: !response,
            response,
            ..Flags::default()
        },
        message_id,
        ..Header::default()
    }
}

fn ike_proposal(num: u8, encr: EncrId, key_bits: u16, integ: Option<IntegId>) -> Proposal {
    let mut transforms = vec![Transform::with_key_length(
        TransformType::ENCR,
        encr.0,
        key_bits,
    )];
    transforms.push(Transform::new(TransformType::PRF, PrfId::HMAC_SHA2_256.0));
    if let Some(i) = integ {
        transforms.push(Transform::new(TransformType::INTEG, i.0));
    }
    transforms.push(Transform::new(TransformType::KE, DhGroup::CURVE25519.0));
    transforms.push(Transform::new(TransformType::KE, DhGroup::ECP256.0));
    Proposal {
        num,
        protocol: ProtocolId::IKE,
        spi: Vec::new(),
        transforms,
    }
}

fn esp_proposal(num: u8, spi: u32, aead: bool) -> Proposal {
    let transforms = if aead {
        vec![
            Transform::with_key_length(TransformType::ENCR, EncrId::AES_GCM_16.0, 256),
            Transform::new(TransformType::ESN, EsnId::NO_ESN.0),
        ]
    } else {
        vec![
            Transform::with_key_length(TransformType::ENCR, EncrId::AES_CBC.0, 128),
            Transform::new(TransformType::INTEG, IntegId::HMAC_SHA2_256_128.0),
            Transform::new(TransformType::ESN, EsnId::ESN.0),
            Transform::new(TransformType::ESN, EsnId::NO_ESN.0),
        ]
    };
    Proposal {
        num,
        protocol: ProtocolId::ESP,
        spi: spi.to_be_bytes().to_vec(),
        transforms,
    }
}

fn sa(proposals: Vec<Proposal>) -> Payload {
    p(PayloadBody::Sa(SaPayload { proposals }))
}

fn ke(n: u8) -> Payload {
    p(PayloadBody::Ke(KePayload {
        group: DhGroup::CURVE25519,
        data: vec![n; 32],
    }))
}

fn nonce(n: u8) -> Payload {
    p(PayloadBody::Nonce(NoncePayload { data: vec![n; 32] }))
}

fn notify(ty: NotifyType, data: Vec<u8>) -> Payload {
    p(PayloadBody::Notify(NotifyPayload::new(ty, data)))
}

fn notify_spi(ty: NotifyType, protocol: ProtocolId, spi: u32, data: Vec<u8>) -> Payload {
    p(PayloadBody::Notify(NotifyPayload {
        protocol,
        spi: spi.to_be_bytes().to_vec(),
        ty,
        data,
    }))
}

fn auth(method: AuthMethod, n: u8) -> Payload {
    p(PayloadBody::Auth(AuthPayload {
        method,
        data: vec![n; 32],
    }))
}

fn ts_v4_v6() -> TsPayload {
    TsPayload {
        selectors: vec![
            TrafficSelector::Ipv4 {
                ip_proto: 0,
                start_port: 0,
                end_port: 65535,
                start: Ipv4Addr::new(10, 1, 0, 0),
                end: Ipv4Addr::new(10, 1, 255, 255),
            },
            TrafficSelector::Ipv6 {
                ip_proto: 6,
                start_port: 443,
                end_port: 443,
                start: "2001:db8::".parse().unwrap(),
                end: "2001:db8::ffff".parse().unwrap(),
            },
        ],
    }
}

fn cfg(ty: CfgAttrType, value: Vec<u8>) -> CfgAttr {
    CfgAttr { ty, value }
}

/// The messages: (source is initiator?, message).
fn messages() -> Vec<(bool, Message)> {
    use ExchangeType as X;
    let init_req = Message::new(
        header(X::IKE_SA_INIT, false, 0, [0; 8]),
        vec![
            sa(vec![
                ike_proposal(1, EncrId::AES_GCM_16, 256, None),
                ike_proposal(2, EncrId::AES_CBC, 128, Some(IntegId::HMAC_SHA2_256_128)),
                ike_proposal(3, EncrId::AES_CBC, 256, Some(IntegId::HMAC_SHA2_512_256)),
            ]),
            ke(0x01),
            nonce(0x02),
            notify(NotifyType::NAT_DETECTION_SOURCE_IP, vec![0x5a; 20]),
            notify(NotifyType::NAT_DETECTION_DESTINATION_IP, vec![0xa5; 20]),
            notify(NotifyType::IKEV2_FRAGMENTATION_SUPPORTED, vec![]),
            notify(
                NotifyType::SIGNATURE_HASH_ALGORITHMS,
                vec![0, 2, 0, 3, 0, 4],
            ),
            p(PayloadBody::VendorId(b"vtid-oracle-vendor-id".to_vec())),
        ],
    );
    let init_resp = Message::new(
        header(X::IKE_SA_INIT, true, 0, SPI_R),
        vec![
            sa(vec![ike_proposal(1, EncrId::AES_GCM_16, 256, None)]),
            ke(0x03),
            nonce(0x04),
            p(PayloadBody::CertReq(CertReqPayload {
                encoding: CertEncoding::X509_SIGNATURE,
                data: vec![0x42; 40],
            })),
            notify(NotifyType::MULTIPLE_AUTH_SUPPORTED, vec![]),
        ],
    );
    let auth_req = Message::new(
        header(X::IKE_AUTH, false, 1, SPI_R),
        vec![
            p(PayloadBody::IdI(Identification::Fqdn(
                b"initiator.example.org".to_vec(),
            ))),
            p(PayloadBody::Cert(CertPayload {
                encoding: CertEncoding::X509_SIGNATURE,
                data: CERT_DER.to_vec(),
            })),
            p(PayloadBody::CertReq(CertReqPayload {
                encoding: CertEncoding::X509_SIGNATURE,
                data: vec![0x24; 20],
            })),
            notify(NotifyType::INITIAL_CONTACT, vec![]),
            p(PayloadBody::IdR(Identification::DerAsn1Dn(
                DN_VTID.to_vec(),
            ))),
            auth(AuthMethod::SHARED_KEY_MIC, 0x05),
            p(PayloadBody::Cp(CpPayload {
                cfg_type: CfgType::REQUEST,
                attributes: vec![
                    cfg(CfgAttrType::INTERNAL_IP4_ADDRESS, vec![]),
                    cfg(CfgAttrType::INTERNAL_IP4_DNS, vec![]),
                    cfg(CfgAttrType::INTERNAL_IP6_ADDRESS, vec![]),
                ],
            })),
            sa(vec![
                esp_proposal(1, 0xc0ffee01, true),
                esp_proposal(2, 0xc0ffee01, false),
            ]),
            p(PayloadBody::TsI(ts_v4_v6())),
            p(PayloadBody::TsR(ts_v4_v6())),
            notify(NotifyType::ESP_TFC_PADDING_NOT_SUPPORTED, vec![]),
        ],
    );
    let mut ip6_addr = "2001:db8::5".parse::<Ipv6Addr>().unwrap().octets().to_vec();
    ip6_addr.push(64);
    let auth_resp = Message::new(
        header(X::IKE_AUTH, true, 1, SPI_R),
        vec![
            p(PayloadBody::IdR(Identification::Ipv4(Ipv4Addr::new(
                192, 0, 2, 2,
            )))),
            auth(AuthMethod::RSA_SIG, 0x06),
            p(PayloadBody::Cp(CpPayload {
                cfg_type: CfgType::REPLY,
                attributes: vec![
                    cfg(CfgAttrType::INTERNAL_IP4_ADDRESS, vec![10, 9, 0, 5]),
                    cfg(CfgAttrType::INTERNAL_IP4_DNS, vec![10, 9, 0, 1]),
                    cfg(CfgAttrType::INTERNAL_IP6_ADDRESS, ip6_addr),
                ],
            })),
            sa(vec![esp_proposal(1, 0xbeef0002, true)]),
            p(PayloadBody::TsI(ts_v4_v6())),
            p(PayloadBody::TsR(ts_v4_v6())),
        ],
    );
    // A second IKE_AUTH round with EAP and the remaining ID types.
    let mut eap_identity = vec![1];
    eap_identity.extend_from_slice(b"user@example.org");
    let eap_req = Message::new(
        header(X::IKE_AUTH, false, 2, SPI_R),
        vec![
            p(PayloadBody::IdI(Identification::Rfc822(
                b"user@example.org".to_vec(),
            ))),
            p(PayloadBody::IdR(Identification::Ipv6(
                "2001:db8::2".parse().unwrap(),
            ))),
            p(PayloadBody::IdI(Identification::KeyId(vec![0x6b; 12]))),
            p(PayloadBody::Eap(EapPayload {
                code: EapPayload::RESPONSE,
                identifier: 7,
                data: eap_identity,
            })),
        ],
    );
    let eap_resp = Message::new(
        header(X::IKE_AUTH, true, 2, SPI_R),
        vec![p(PayloadBody::Eap(EapPayload {
            code: EapPayload::SUCCESS,
            identifier: 7,
            data: vec![],
        }))],
    );
    let child_req = Message::new(
        header(X::CREATE_CHILD_SA, false, 3, SPI_R),
        vec![
            notify_spi(NotifyType::REKEY_SA, ProtocolId::ESP, 0xc0ffee01, vec![]),
            sa(vec![esp_proposal(1, 0xc0ffee03, true)]),
            nonce(0x07),
            ke(0x08),
            p(PayloadBody::TsI(ts_v4_v6())),
            p(PayloadBody::TsR(ts_v4_v6())),
        ],
    );
    let child_resp = Message::new(
        header(X::CREATE_CHILD_SA, true, 3, SPI_R),
        vec![
            sa(vec![esp_proposal(1, 0xbeef0004, true)]),
            nonce(0x09),
            ke(0x0a),
            p(PayloadBody::TsI(ts_v4_v6())),
            p(PayloadBody::TsR(ts_v4_v6())),
            notify(NotifyType::ADDITIONAL_TS_POSSIBLE, vec![]),
        ],
    );
    let info_req = Message::new(
        header(X::INFORMATIONAL, false, 4, SPI_R),
        vec![
            p(PayloadBody::Delete(DeletePayload {
                protocol: ProtocolId::ESP,
                spi_size: 4,
                spis: vec![vec![0xc0, 0xff, 0xee, 0x01], vec![0xc0, 0xff, 0xee, 0x03]],
            })),
            p(PayloadBody::Delete(DeletePayload {
                protocol: ProtocolId::IKE,
                spi_size: 0,
                spis: vec![],
            })),
            notify_spi(
                NotifyType::CHILD_SA_NOT_FOUND,
                ProtocolId::ESP,
                0xdeadbeef,
                vec![],
            ),
            notify(NotifyType::AUTH_LIFETIME, 3600u32.to_be_bytes().to_vec()),
        ],
    );
    let info_resp = Message::new(header(X::INFORMATIONAL, true, 4, SPI_R), vec![]);
    let sk_req = Message::new(
        header(X::INFORMATIONAL, false, 5, SPI_R),
        vec![p(PayloadBody::Sk(SkPayload {
            first: PayloadType::DELETE,
            body: (0..64).collect(),
        }))],
    );
    let skf_req = Message::new(
        header(X::IKE_AUTH, false, 6, SPI_R),
        vec![p(PayloadBody::Skf(SkfPayload {
            first: PayloadType::IDI,
            fragment_number: 1,
            total_fragments: 2,
            body: (0..80).collect(),
        }))],
    );
    vec![
        (true, init_req),
        (false, init_resp),
        (true, auth_req),
        (false, auth_resp),
        (true, eap_req),
        (false, eap_resp),
        (true, child_req),
        (false, child_resp),
        (true, info_req),
        (false, info_resp),
        (true, sk_req),
        (true, skf_req),
    ]
}

fn tshark() -> Command {
    let mut c = Command::new("tshark");
    // No name resolution; verify the IPv4 header checksums we computed.
    c.args(["-n", "-o", "ip.check_checksum:TRUE"]);
    c
}

fn run(mut c: Command) -> String {
    let out = match c.output() {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("tshark is not installed or not in PATH: install it (Debian: `apt-get install tshark`) — this test does not skip")
        }
        Err(e) => panic!("cannot run tshark: {e}"),
    };
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "tshark failed ({}): {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        stdout
    );
    stdout
}

fn write_pcap(name: &str, datagrams: &[(bool, Vec<u8>)]) -> PathBuf {
    let ini: SocketAddrV4 = "192.0.2.1:500".parse().unwrap();
    let resp: SocketAddrV4 = "192.0.2.2:500".parse().unwrap();
    let mut w = PcapWriter::new();
    for (from_initiator, d) in datagrams {
        if *from_initiator {
            w.add_udp(ini, resp, d);
        } else {
            w.add_udp(resp, ini, d);
        }
    }
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    w.write_to(&path).unwrap();
    path
}

/// Frames tshark marks malformed or with an expert item of severity
/// warning or error, with the full dissection of those frames.
fn problems(pcap: &Path) -> Vec<String> {
    let mut c = tshark();
    c.arg("-r").arg(pcap);
    // Expert severities: chat 0x200000, note 0x400000, warn 0x600000,
    // error 0x800000.
    c.args([
        "-Y",
        "_ws.malformed || _ws.expert.severity >= 0x600000",
        "-V",
    ]);
    let out = run(c);
    if out.trim().is_empty() {
        Vec::new()
    } else {
        vec![out]
    }
}

/// Lines of `-z expert,warn`: the warnings and errors tshark collected.
fn expert_summary(pcap: &Path) -> String {
    let mut c = tshark();
    c.arg("-r").arg(pcap).args(["-q", "-z", "expert,warn"]);
    run(c)
}

/// One tab-separated row per frame with the given fields (multiple values
/// comma-separated).
fn fields(pcap: &Path, names: &[&str]) -> Vec<Vec<String>> {
    let mut c = tshark();
    c.arg("-r")
        .arg(pcap)
        .args(["-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,"]);
    for n in names {
        c.args(["-e", n]);
    }
    run(c)
        .lines()
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}

fn nums(s: &str) -> Vec<u32> {
    s.split(',')
        .filter(|x| !x.is_empty())
        .map(|x| x.parse().unwrap())
        .collect()
}

/// Payload types of a message in wire order as tshark lists them: an SA
/// payload (33) is followed by its substructures, 2 for each proposal and 3
/// for each of its transforms.
fn payload_types(m: &Message) -> Vec<u32> {
    let mut v = Vec::new();
    for p in &m.payloads {
        v.push(u32::from(p.ty().0));
        if let PayloadBody::Sa(sa) = &p.body {
            for prop in &sa.proposals {
                v.push(2);
                v.extend(prop.transforms.iter().map(|_| 3));
            }
        }
    }
    v
}

#[test]
fn tshark_dissects_every_payload_cleanly() {
    let msgs = messages();
    let datagrams: Vec<(bool, Vec<u8>)> = msgs
        .iter()
        .map(|(i, m)| {
            let d = m.emit();
            // Our own parser agrees, first.
            assert_eq!(&Message::parse(&d).unwrap(), m);
            (*i, d)
        })
        .collect();
    let pcap = write_pcap("ike_oracle.pcap", &datagrams);

    let bad = problems(&pcap);
    assert!(
        bad.is_empty(),
        "tshark reports malformed packets or expert warnings/errors:\n{}\n{}",
        expert_summary(&pcap),
        bad.join("\n")
    );
    let summary = expert_summary(&pcap);
    assert!(
        !summary.contains("Errors (") && !summary.contains("Warnings ("),
        "tshark expert summary:\n{summary}"
    );

    // tshark decoded what we meant, frame by frame.
    let rows = fields(
        &pcap,
        &[
            "isakmp.exchangetype",
            "isakmp.typepayload",
            "isakmp.length",
            "isakmp.flag_r",
            "isakmp.id.type",
            "isakmp.ts.type",
            "isakmp.notify.msgtype",
            "isakmp.cert.encoding",
            "isakmp.auth.method",
            "isakmp.delete.protoid",
            "isakmp.frag.number",
        ],
    );
    assert_eq!(rows.len(), msgs.len(), "tshark frame count");
    let mut all_payloads = BTreeSet::new();
    let mut exchanges = BTreeSet::new();
    let mut id_types = BTreeSet::new();
    let mut ts_types = BTreeSet::new();
    let mut notify_types = BTreeSet::new();
    for (row, (_, m)) in rows.iter().zip(&msgs) {
        let f = |i: usize| row.get(i).map(String::as_str).unwrap_or("");
        assert_eq!(
            nums(f(0)),
            vec![u32::from(m.header.exchange.0)],
            "exchange type: {row:?}"
        );
        assert_eq!(
            nums(f(1)),
            payload_types(m),
            "payload types of {:?}: {row:?}",
            m.header.exchange
        );
        assert_eq!(nums(f(2)), vec![m.header.length], "length: {row:?}");
        let r = f(3);
        assert!(
            r == if m.header.flags.response { "1" } else { "0" }
                || r == if m.header.flags.response {
                    "True"
                } else {
                    "False"
                },
            "response flag: {row:?}"
        );
        exchanges.insert((m.header.exchange.0, m.header.flags.response));
        all_payloads.extend(nums(f(1)));
        id_types.extend(nums(f(4)));
        ts_types.extend(nums(f(5)));
        notify_types.extend(nums(f(6)));
    }
    let want: BTreeSet<u32> = [
        2, 3, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 53,
    ]
    .into();
    assert_eq!(all_payloads, want, "payload kinds tshark saw");
    for x in [34u8, 35, 36, 37] {
        assert!(
            exchanges.contains(&(x, false)) && exchanges.contains(&(x, true)),
            "exchange {x}"
        );
    }
    assert_eq!(id_types, [1, 2, 3, 5, 9, 11].into(), "ID types");
    assert_eq!(ts_types, [7, 8].into(), "TS types");
    for n in [16388u32, 16389, 16430, 16431, 16384, 16393, 44, 16403] {
        assert!(
            notify_types.contains(&n),
            "notify {n} not seen: {notify_types:?}"
        );
    }
    let joined = |i: usize| {
        rows.iter()
            .map(|r| r.get(i).cloned().unwrap_or_default())
            .collect::<Vec<_>>()
            .join(",")
    };
    assert!(nums(&joined(7)).contains(&4), "CERT encoding");
    assert!(
        nums(&joined(8)).contains(&2) && nums(&joined(8)).contains(&1),
        "AUTH methods"
    );
    let del = nums(&joined(9));
    assert!(
        del.contains(&1) && del.contains(&3),
        "Delete IKE and ESP: {del:?}"
    );
    assert_eq!(nums(&joined(10)), vec![1], "SKF fragment number");
}

/// The oracle must catch a broken length: corrupt one payload length in a
/// message and expect tshark to complain.
#[test]
fn tshark_oracle_catches_a_bad_length() {
    let (_, m) = messages().into_iter().nth(2).unwrap(); // IKE_AUTH request
    let mut d = m.emit();
    // First payload (IDi) Payload Length, at offset 28 + 2: make it 1 too long.
    let len = u16::from_be_bytes([d[30], d[31]]) + 1;
    d[30..32].copy_from_slice(&len.to_be_bytes());
    assert!(Message::parse(&d).is_err());
    let pcap = write_pcap("ike_oracle_bad.pcap", &[(true, d)]);
    assert!(
        !problems(&pcap).is_empty(),
        "tshark did not flag a corrupted payload length: the oracle is blind"
    );
}
