//! An IKE proposal with an AEAD cipher and an integrity keyword takes its
//! PRF from that keyword, as strongSwan's `check_proposal()` (proposal.c)
//! does before it drops the integrity algorithms of AEAD proposals: pfSense
//! and OPNsense write `aes256gcm16-sha256-modp2048` for IKE.

use ike::proposal::parse_ike_proposals;
use ike::wire::TransformType;

#[test]
fn aead_with_an_integrity_keyword_gets_that_prf() {
    for (text, prf) in [
        ("aes256gcm16-sha256-modp2048", 5u16),
        ("aes256gcm16-sha384-ecp384", 6),
        ("aes128gcm16-sha512-ecp256", 7),
    ] {
        let p = parse_ike_proposals(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let t = &p[0].transforms;
        let of = |ty| {
            t.iter()
                .filter(|x| x.ty == ty)
                .map(|x| x.id)
                .collect::<Vec<_>>()
        };
        assert_eq!(of(TransformType::PRF), vec![prf], "{text}");
        assert!(
            of(TransformType::INTEG).is_empty(),
            "{text}: AEAD has no integrity"
        );
        assert_eq!(of(TransformType::ENCR).len(), 1, "{text}");
        assert_eq!(of(TransformType::KE).len(), 1, "{text}");
    }
    // Without any integrity or PRF keyword it is still refused, as
    // strongSwan refuses it.
    assert!(parse_ike_proposals("aes128gcm16-ecp256").is_err());
}
