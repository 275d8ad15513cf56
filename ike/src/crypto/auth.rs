//! AUTH payload inputs (RFC 7296 §2.15).

use super::secret::ct_eq;
use super::Prf;

/// The key pad of the shared-key AUTH computation (RFC 7296 §2.15).
pub const KEY_PAD: &[u8] = b"Key Pad for IKEv2";

/// The octets a peer signs or MACs (RFC 7296 §2.15):
///
/// ```text
/// InitiatorSignedOctets = RealMessage1 | NonceRData | MACedIDForI
/// MACedIDForI = prf(SK_pi, RestOfInitIDPayload)
/// ```
///
/// and the same for the responder with RealMessage2, NonceIData, SK_pr and
/// IDr. `message` is the whole first message the signer sent (IKE header
/// included), `peer_nonce` the other side's Nonce Data, `sk_p` SK_pi or
/// SK_pr, and `id_body` the signer's ID payload body from the ID Type byte
/// on (without the 4-byte generic payload header).
pub fn signed_octets(
    prf: Prf,
    message: &[u8],
    peer_nonce: &[u8],
    sk_p: &[u8],
    id_body: &[u8],
) -> Vec<u8> {
    let maced_id = prf.compute(sk_p, id_body);
    let mut out = Vec::with_capacity(message.len() + peer_nonce.len() + maced_id.len());
    out.extend_from_slice(message);
    out.extend_from_slice(peer_nonce);
    out.extend_from_slice(&maced_id);
    out
}

/// Shared-key AUTH data: prf(prf(Shared Secret, "Key Pad for IKEv2"),
/// <SignedOctets>) (RFC 7296 §2.15).
pub fn psk_auth(prf: Prf, psk: &[u8], signed_octets: &[u8]) -> Vec<u8> {
    let mut k = prf.compute(psk, KEY_PAD);
    let out = prf.compute(&k, signed_octets);
    zeroize::Zeroize::zeroize(&mut k);
    out
}

/// Checks a received shared-key AUTH value in constant time.
pub fn verify_psk_auth(prf: Prf, psk: &[u8], signed_octets: &[u8], received: &[u8]) -> bool {
    ct_eq(&psk_auth(prf, psk, signed_octets), received)
}
