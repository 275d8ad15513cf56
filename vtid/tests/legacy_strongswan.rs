//! ROOT / NETWORK-NAMESPACE TESTS (issue 15 §3): the legacy algorithms
//! that older peers still negotiate, against a real strongSwan charon
//! (kernel-libipsec, ESP in userspace) configured for them, in the routed
//! lab of `vtilab` (ha — ga (vtid, ipsec7) — inet — gb (charon) — hb).
//! For each suite the IKE SA and the CHILD SA come up with exactly that
//! suite on charon's side and LAN traffic crosses the tunnel both ways, so
//! vtid's SK payload, key derivation and ESP agree with strongSwan's.

mod common;
mod vtilab;

use vtid_tests::strongswan::{Charon, ChildState, SiteToSite, PLUGINS};
use vtilab::*;

/// One case: vtid's and charon's IKE and ESP proposals, who initiates,
/// and the fragments charon's listing must show for the IKE and CHILD SA.
struct Case {
    tag: &'static str,
    vtid_ike: &'static str,
    vtid_esp: &'static str,
    charon_ike: &'static str,
    charon_esp: &'static str,
    vtid_initiates: bool,
    ike_has: &'static [&'static str],
    esp_has: &'static [&'static str],
}

fn run(c: &Case) {
    let s = site(c.tag);
    s.gb.add_addr("lo", "10.6.106.2/32").unwrap();
    let conf = SiteToSite {
        local_addrs: GB_WAN,
        remote_addrs: GA_WAN,
        local_id: "sun.example.org",
        remote_id: "moon.example.org",
        local_ts: "10.2.0.0/24,10.6.106.2/32",
        remote_ts: "10.1.0.0/24,10.6.106.1/32",
        proposals: c.charon_ike,
        esp_proposals: c.charon_esp,
        psk: "vtid-vti-lab-psk-not-secret",
        ..SiteToSite::default()
    }
    .swanctl_conf();
    // The MACs and AEADs beyond the lab's default plugin list.
    let extra = format!("load = {PLUGINS} xcbc cmac ccm md5");
    let ch =
        Charon::start_with(&s.gb, "sun", &conf, None, &extra).unwrap_or_else(|e| panic!("{e}"));
    ch.load_all().unwrap_or_else(|e| panic!("{e}"));
    let mut a = Conf::side(true);
    a.proposals = c.vtid_ike.into();
    a.interfaces = ipsec7(true, "");
    let mut child = Child::new("vti", 7, "0.0.0.0/0", "0.0.0.0/0");
    child.esp = c.vtid_esp.into();
    if c.vtid_initiates {
        child.start_action = "start".into();
    }
    a.children.push(child);
    let mut va = start_vtid(&s, &s.ga, "vtid-a", &a);
    if !c.vtid_initiates {
        ch.initiate("net")
            .unwrap_or_else(|e| panic!("{e}\n{}", ch.log_tail(40)));
    }
    let up = va.wait_for(&["CHILD_SA vti{", " up: "], T);
    let sa = ch
        .wait_established("lab", "net", T)
        .unwrap_or_else(|e| panic!("{e}\n{}", ch.log_tail(60)));
    let chd = sa.child("net").expect("child net");
    eprintln!(
        "== {}: charon IKE {} / CHILD {}\nvtid: {up}",
        c.tag, sa.proposal, chd.proposal
    );
    assert_eq!(chd.state, ChildState::Installed);
    for f in c.ike_has {
        assert!(
            sa.proposal.replace('-', "_").contains(f),
            "{}: IKE {} lacks {f}",
            c.tag,
            sa.proposal
        );
    }
    for f in c.esp_has {
        assert!(
            chd.proposal.replace('-', "_").contains(f),
            "{}: ESP {} lacks {f}",
            c.tag,
            chd.proposal
        );
    }
    // (charon writes key sizes with a dash, AES_CBC-256, vtid with _.)
    // Each legacy algorithm was warned about at load.
    assert!(
        va.log().contains("weak legacy algorithm configured"),
        "{}",
        va.log()
    );
    // LAN to LAN and back through the tunnel, and across the transit net.
    ping_ok(&s.ha, HB, None);
    ping_ok(&s.hb, HA, None);
    ping_ok(&s.ga, TB, Some(TA));
    let before = chd.bytes_in;
    ping_ok(&s.ha, HB, None);
    let again = ch.list_sas().unwrap();
    let bytes_in = again[0].child("net").map_or(0, |c| c.bytes_in);
    assert!(
        bytes_in > before,
        "charon decrypted vtid's ESP ({before} -> {bytes_in} bytes)"
    );
}

/// Windows' built-in IKEv2 client offers 3DES/SHA1/MODP-1024 by default;
/// vtid, configured with a modern proposal first and that one as the
/// fallback, negotiates it with a strongSwan that only has it.
#[test]
fn legacy_3des_sha1_modp1024_windows_default() {
    run(&Case {
        tag: "lg-3des",
        vtid_ike: "aes256-sha256-modp2048,3des-sha1-modp1024",
        vtid_esp: "aes256-sha256,3des-sha1",
        charon_ike: "3des-sha1-modp1024",
        charon_esp: "3des-sha1",
        vtid_initiates: true,
        ike_has: &["3DES_CBC", "HMAC_SHA1_96", "PRF_HMAC_SHA1", "MODP_1024"],
        esp_has: &["3DES_CBC", "HMAC_SHA1_96"],
    });
}

/// pfSense's mobile default `aes256-sha256-modp2048,aes256-sha1-modp1024`
/// on vtid; an old client (charon) initiates with the legacy half.
#[test]
fn legacy_pfsense_mobile_default_modp1024_half() {
    run(&Case {
        tag: "lg-pfs",
        vtid_ike: "aes256-sha256-modp2048,aes256-sha1-modp1024",
        vtid_esp: "aes256-sha256,aes256-sha1",
        charon_ike: "aes256-sha1-modp1024",
        charon_esp: "aes256-sha1",
        vtid_initiates: false,
        ike_has: &["AES_CBC_256", "HMAC_SHA1_96", "MODP_1024"],
        esp_has: &["AES_CBC_256", "HMAC_SHA1_96"],
    });
}

/// HMAC-MD5 (integrity and PRF), MODP-1536, 3DES/MD5 ESP.
#[test]
fn legacy_md5_modp1536() {
    run(&Case {
        tag: "lg-md5",
        vtid_ike: "aes128-md5-modp1536",
        vtid_esp: "3des-md5",
        charon_ike: "aes128-md5-modp1536",
        charon_esp: "3des-md5",
        vtid_initiates: false,
        ike_has: &["HMAC_MD5_96", "PRF_HMAC_MD5", "MODP_1536"],
        esp_has: &["3DES_CBC", "HMAC_MD5_96"],
    });
}

/// AES-XCBC (integrity and PRF, RFC 7296 §2.14's nonce halves) with the
/// RFC 5114 2048/256 group; AES-XCBC-96 ESP.
#[test]
fn legacy_aesxcbc_modp2048s256() {
    run(&Case {
        tag: "lg-xcbc",
        vtid_ike: "aes128-aesxcbc-modp2048s256",
        vtid_esp: "aes128-aesxcbc",
        charon_ike: "aes128-aesxcbc-modp2048s256",
        charon_esp: "aes128-aesxcbc",
        vtid_initiates: true,
        ike_has: &["AES_XCBC_96", "PRF_AES128_XCBC", "MODP_2048_256"],
        esp_has: &["AES_CBC_128", "AES_XCBC_96"],
    });
}

/// AES-CMAC (integrity and PRF) with the RFC 5114 1024/160 group.
#[test]
fn legacy_aescmac_modp1024s160() {
    run(&Case {
        tag: "lg-cmac",
        vtid_ike: "aes256-aescmac-modp1024s160",
        vtid_esp: "aes192-aescmac",
        charon_ike: "aes256-aescmac-modp1024s160",
        charon_esp: "aes192-aescmac",
        vtid_initiates: false,
        ike_has: &["AES_CMAC_96", "PRF_AES128_CMAC", "MODP_1024_160"],
        esp_has: &["AES_CBC_192", "AES_CMAC_96"],
    });
}

/// AES-CCM in the SK payload (RFC 5282) and in ESP (RFC 4309), with the
/// RFC 5114 2048/224 group.
#[test]
fn legacy_aes_ccm_modp2048s224() {
    run(&Case {
        tag: "lg-ccm",
        vtid_ike: "aes128ccm16-prfsha256-modp2048s224",
        vtid_esp: "aes256ccm8",
        charon_ike: "aes128ccm16-prfsha256-modp2048s224",
        charon_esp: "aes256ccm8",
        vtid_initiates: true,
        ike_has: &["AES_CCM_16_128", "MODP_2048_224"],
        esp_has: &["AES_CCM_8_256"],
    });
}

/// AES-CCM-12 in IKE with the AES-CMAC PRF, Camellia-CBC in ESP.
#[test]
fn legacy_ccm12_ike_camellia_esp() {
    run(&Case {
        tag: "lg-cam",
        vtid_ike: "aes192ccm12-prfaescmac-ecp256",
        vtid_esp: "camellia128-sha256",
        charon_ike: "aes192ccm12-prfaescmac-ecp256",
        charon_esp: "camellia128-sha256",
        vtid_initiates: false,
        ike_has: &["AES_CCM_12_192", "PRF_AES128_CMAC"],
        esp_has: &["CAMELLIA_CBC_128", "HMAC_SHA2_256_128"],
    });
}

/// Camellia in the SK payload with the HMAC-MD5 PRF. (strongSwan's
/// private HMAC-SHA2-256-96 is refused by charon's IKE key derivation and
/// by its kernel-libipsec; vtid's `sha256_96` is checked against the
/// kernel's XFRM names and in the ESP round trips instead.)
#[test]
fn legacy_camellia_ike_prfmd5() {
    run(&Case {
        tag: "lg-camike",
        vtid_ike: "camellia256-sha256-prfmd5-ecp384",
        vtid_esp: "aes128ccm12",
        charon_ike: "camellia256-sha256-prfmd5-ecp384",
        charon_esp: "aes128ccm12",
        vtid_initiates: true,
        ike_has: &["CAMELLIA_CBC_256", "HMAC_SHA2_256_128", "PRF_HMAC_MD5"],
        esp_has: &["AES_CCM_12_128"],
    });
}
