//! MS-CHAPv2 (RFC 2759) and its EAP framing.
//!
//! The computations are RFC 2759 §8 (NtPasswordHash, ChallengeHash,
//! ChallengeResponse, GenerateAuthenticatorResponse) and RFC 3079 §3.4
//! (GetMasterKey, GetAsymmetricStartKey); the MSK is MasterReceiveKey ||
//! MasterSendKey (the authenticator's, as RADIUS's MS-MPPE-Recv-Key and
//! MS-MPPE-Send-Key carry them, RFC 2548 §2.4) padded with 32 zero
//! octets to 64, as strongSwan's eap-mschapv2 plugin and Windows make it.
//!
//! The EAP framing (draft-kamath-pppext-eap-mschapv2-02 §2): after the
//! EAP Type, OpCode, MS-CHAPv2-ID and MS-Length (the EAP Length minus 5)
//! for Challenge, Response and the server's Success/Failure; the peer's
//! Success and Failure responses are the OpCode alone.

use des::cipher::{BlockEncrypt, KeyInit};
use md4::{Digest as _, Md4};
use sha1::Sha1;
use zeroize::Zeroizing;

use super::{EapSecret, Msk};

/// OpCodes (draft-kamath §2).
pub mod opcode {
    /// Challenge (server → peer).
    pub const CHALLENGE: u8 = 1;
    /// Response (peer → server).
    pub const RESPONSE: u8 = 2;
    /// Success (both ways).
    pub const SUCCESS: u8 = 3;
    /// Failure (both ways).
    pub const FAILURE: u8 = 4;
}

/// Length of the authenticator and peer challenges.
pub const CHALLENGE_LEN: usize = 16;
/// Value-Size of a Response: Peer-Challenge (16), Reserved (8),
/// NT-Response (24), Flags (1) (RFC 2759 §4).
pub const RESPONSE_LEN: usize = 49;

/// NtPasswordHash (RFC 2759 §8.3): MD4 of the password in UTF-16LE. The
/// password's bytes are taken as UTF-8 and encoded as UTF-16 (ASCII
/// passwords give the same as strongSwan's byte-wise widening).
pub fn nt_password_hash(password: &[u8]) -> Zeroizing<[u8; 16]> {
    let mut unicode = Zeroizing::new(Vec::with_capacity(password.len().saturating_mul(2)));
    match std::str::from_utf8(password) {
        Ok(s) => {
            for u in s.encode_utf16() {
                unicode.extend_from_slice(&u.to_le_bytes());
            }
        }
        Err(_) => {
            for b in password {
                unicode.extend_from_slice(&[*b, 0]);
            }
        }
    }
    Zeroizing::new(Md4::digest(&*unicode).into())
}

/// The NT hash of a secret.
pub fn nt_hash(secret: &EapSecret) -> Zeroizing<[u8; 16]> {
    match secret {
        EapSecret::Password(p) => nt_password_hash(p),
        EapSecret::NtHash(h) => h.clone(),
    }
}

/// HashNtPasswordHash (RFC 2759 §8.4).
pub fn hash_nt_password_hash(hash: &[u8; 16]) -> Zeroizing<[u8; 16]> {
    Zeroizing::new(Md4::digest(hash).into())
}

/// The user name without a `DOMAIN\` prefix (RFC 2759 §8.2: "the
/// user name ... without any domain prefix").
pub fn strip_domain(name: &[u8]) -> &[u8] {
    match name.iter().position(|&b| b == b'\\') {
        Some(i) => name.get(i.saturating_add(1)..).unwrap_or_default(),
        None => name,
    }
}

/// ChallengeHash (RFC 2759 §8.2): the first 8 octets of SHA-1 over
/// PeerChallenge || AuthenticatorChallenge || UserName.
pub fn challenge_hash(peer: &[u8; 16], authenticator: &[u8; 16], user: &[u8]) -> [u8; 8] {
    let mut h = Sha1::new();
    h.update(peer);
    h.update(authenticator);
    h.update(strip_domain(user));
    let d = h.finalize();
    let mut out = [0u8; 8];
    out.iter_mut().zip(d.iter()).for_each(|(o, b)| *o = *b);
    out
}

/// A 7-octet key with odd-parity bits inserted into 8 (RFC 2759 §8.6,
/// the example in §9.3).
pub fn des_key(raw: &[u8; 7]) -> [u8; 8] {
    let mut k = [0u8; 8];
    let bits = u64::from_be_bytes([0, raw[0], raw[1], raw[2], raw[3], raw[4], raw[5], raw[6]]);
    for (i, out) in k.iter_mut().enumerate() {
        let shift = 49u32.saturating_sub(7u32.saturating_mul(i as u32));
        let seven = ((bits >> shift) & 0x7f) as u8;
        let b = seven << 1;
        *out = b | u8::from(b.count_ones() % 2 == 0);
    }
    k
}

/// ChallengeResponse (RFC 2759 §8.5): the challenge DES-encrypted under
/// the three keys made from the zero-padded password hash.
pub fn challenge_response(challenge: &[u8; 8], password_hash: &[u8; 16]) -> [u8; 24] {
    let mut z = Zeroizing::new([0u8; 21]);
    for (d, s) in z.iter_mut().zip(password_hash) {
        *d = *s;
    }
    let mut out = [0u8; 24];
    for (raw, dst) in z.chunks_exact(7).zip(out.chunks_exact_mut(8)) {
        let mut k = Zeroizing::new([0u8; 7]);
        k.iter_mut().zip(raw).for_each(|(d, s)| *d = *s);
        let key = Zeroizing::new(des_key(&k));
        let cipher = des::Des::new(&(*key).into());
        let mut block = (*challenge).into();
        cipher.encrypt_block(&mut block);
        dst.iter_mut().zip(block.iter()).for_each(|(d, s)| *d = *s);
    }
    out
}

/// GenerateNTResponse (RFC 2759 §8.1).
pub fn nt_response(
    authenticator: &[u8; 16],
    peer: &[u8; 16],
    user: &[u8],
    password_hash: &[u8; 16],
) -> [u8; 24] {
    challenge_response(&challenge_hash(peer, authenticator, user), password_hash)
}

const MAGIC1: &[u8] = b"Magic server to client signing constant";
const MAGIC2: &[u8] = b"Pad to make it do more than one iteration";

/// GenerateAuthenticatorResponse (RFC 2759 §8.7): the 20 octets of the
/// `S=` string.
pub fn authenticator_response(
    password_hash: &[u8; 16],
    nt_response: &[u8; 24],
    peer: &[u8; 16],
    authenticator: &[u8; 16],
    user: &[u8],
) -> [u8; 20] {
    let hh = hash_nt_password_hash(password_hash);
    let mut h = Sha1::new();
    h.update(*hh);
    h.update(nt_response);
    h.update(MAGIC1);
    let digest = h.finalize();
    let mut h = Sha1::new();
    h.update(digest);
    h.update(challenge_hash(peer, authenticator, user));
    h.update(MAGIC2);
    h.finalize().into()
}

/// `S=` and 40 upper-case hex digits (RFC 2759 §5).
pub fn auth_string(resp: &[u8; 20]) -> String {
    let mut s = String::with_capacity(42);
    s.push_str("S=");
    s.push_str(&hex_upper(resp));
    s
}

pub(crate) fn hex_upper(b: &[u8]) -> String {
    const D: &[u8; 16] = b"0123456789ABCDEF";
    let mut s = String::with_capacity(b.len().saturating_mul(2));
    for x in b {
        s.push(char::from(D[usize::from(x >> 4)]));
        s.push(char::from(D[usize::from(x & 15)]));
    }
    s
}

pub(crate) fn unhex(s: &[u8]) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    let nib = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    s.chunks(2)
        .map(|p| match p {
            [a, b] => Some(nib(*a)? << 4 | nib(*b)?),
            _ => None,
        })
        .collect()
}

const KEY_MAGIC1: &[u8] = b"This is the MPPE Master Key";
const KEY_MAGIC2: &[u8] =
    b"On the client side, this is the send key; on the server side, it is the receive key.";
const KEY_MAGIC3: &[u8] =
    b"On the client side, this is the receive key; on the server side, it is the send key.";

/// GetMasterKey (RFC 3079 §3.4).
pub fn master_key(password_hash: &[u8; 16], nt_response: &[u8; 24]) -> Zeroizing<[u8; 16]> {
    let hh = hash_nt_password_hash(password_hash);
    let mut h = Sha1::new();
    h.update(*hh);
    h.update(nt_response);
    h.update(KEY_MAGIC1);
    let d = Zeroizing::new(h.finalize());
    let mut out = Zeroizing::new([0u8; 16]);
    out.iter_mut().zip(d.iter()).for_each(|(o, b)| *o = *b);
    out
}

/// GetAsymmetricStartKey (RFC 3079 §3.4) for 128-bit keys, from the
/// server's side: its send key (`send`) or its receive key.
pub fn server_start_key(master: &[u8; 16], send: bool) -> Zeroizing<[u8; 16]> {
    let mut h = Sha1::new();
    h.update(master);
    h.update([0u8; 40]);
    h.update(if send { KEY_MAGIC3 } else { KEY_MAGIC2 });
    h.update([0xf2u8; 40]);
    let d = Zeroizing::new(h.finalize());
    let mut out = Zeroizing::new([0u8; 16]);
    out.iter_mut().zip(d.iter()).for_each(|(o, b)| *o = *b);
    out
}

/// The EAP-MSCHAPv2 MSK: MasterReceiveKey || MasterSendKey || 32 zeros.
pub fn msk(password_hash: &[u8; 16], nt_response: &[u8; 24]) -> Msk {
    let mk = master_key(password_hash, nt_response);
    let mut v = Vec::with_capacity(64);
    v.extend_from_slice(&*server_start_key(&mk, false));
    v.extend_from_slice(&*server_start_key(&mk, true));
    v.resize(64, 0);
    Msk::new(v)
}

/// The fields of a Response (RFC 2759 §4), parsed from the EAP Type-Data
/// after the OpCode/ID/MS-Length header.
pub(crate) struct Response<'a> {
    pub peer_challenge: [u8; 16],
    pub nt_response: [u8; 24],
    pub name: &'a [u8],
}

/// OpCode, and MS-CHAPv2-ID with the body unless the message is short.
pub(crate) type Split<'a> = (u8, Option<(u8, &'a [u8])>);

/// Splits an EAP-MSCHAPv2 Type-Data into OpCode, MS-CHAPv2-ID and the
/// rest (after MS-Length, checked against the data's length), or just
/// the OpCode for the peer's short Success/Failure.
pub(crate) fn split(td: &[u8]) -> Option<Split<'_>> {
    let (&op, rest) = td.split_first()?;
    if rest.is_empty() {
        return Some((op, None));
    }
    let [id, l1, l2, body @ ..] = rest else {
        return None;
    };
    // MS-Length is the EAP Length minus 5: the OpCode, ID, MS-Length and
    // the body. Some implementations get it wrong; it is only checked to
    // be no longer than the data.
    let ms_len = usize::from(u16::from_be_bytes([*l1, *l2]));
    if ms_len > td.len() {
        return None;
    }
    Some((op, Some((*id, body))))
}

pub(crate) fn parse_response(body: &[u8]) -> Option<Response<'_>> {
    let (&size, rest) = body.split_first()?;
    if usize::from(size) != RESPONSE_LEN {
        return None;
    }
    let v = rest.get(..RESPONSE_LEN)?;
    let name = rest.get(RESPONSE_LEN..)?;
    let mut peer_challenge = [0u8; 16];
    peer_challenge.copy_from_slice(v.get(..16)?);
    let mut nt_response = [0u8; 24];
    nt_response.copy_from_slice(v.get(24..48)?);
    Some(Response {
        peer_challenge,
        nt_response,
        name,
    })
}

/// Type-Data for OpCode `op` with an MS-CHAPv2 header.
pub(crate) fn build(op: u8, ms_id: u8, body: &[u8]) -> Vec<u8> {
    // EAP header (4) + Type (1) + OpCode..MS-Length (4) + body, minus 5.
    let ms_len = u16::try_from(body.len().saturating_add(4)).unwrap_or(u16::MAX);
    let mut td = Vec::with_capacity(body.len().saturating_add(4));
    td.push(op);
    td.push(ms_id);
    td.extend_from_slice(&ms_len.to_be_bytes());
    td.extend_from_slice(body);
    td
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    /// RFC 2759 §9.2 "Hash Example" and RFC 3079 §3.5.3 (its 128-bit
    /// sample: MasterKey and the server's SendStartKey128).
    #[test]
    fn rfc2759_and_rfc3079_vectors() {
        let user = b"User";
        let auth: [u8; 16] = h("5B 5D 7C 7D 7B 3F 2F 3E 3C 2C 60 21 32 26 26 28")
            .try_into()
            .unwrap();
        let peer: [u8; 16] = h("21 40 23 24 25 5E 26 2A 28 29 5F 2B 3A 33 7C 7E")
            .try_into()
            .unwrap();
        assert_eq!(
            challenge_hash(&peer, &auth, user).to_vec(),
            h("D0 2E 43 86 BC E9 12 26")
        );
        let ph = nt_password_hash(b"clientPass");
        assert_eq!(
            ph.to_vec(),
            h("44 EB BA 8D 53 12 B8 D6 11 47 44 11 F5 69 89 AE")
        );
        assert_eq!(
            hash_nt_password_hash(&ph).to_vec(),
            h("41 C0 0C 58 4B D2 D9 1C 40 17 A2 A1 2F A5 9F 3F")
        );
        let nt = nt_response(&auth, &peer, user, &ph);
        assert_eq!(
            nt.to_vec(),
            h("82 30 9E CD 8D 70 8B 5E A0 8F AA 39 81 CD 83 54 42 33 11 4A 3D 85 D6 DF")
        );
        assert_eq!(
            auth_string(&authenticator_response(&ph, &nt, &peer, &auth, user)),
            "S=407A5589115FD0D6209F510FE9C04566932CDA56"
        );
        // A domain prefix is not part of the challenge hash (§8.2).
        assert_eq!(nt_response(&auth, &peer, b"DOM\\User", &ph), nt);
        let mk = master_key(&ph, &nt);
        assert_eq!(
            mk.to_vec(),
            h("FD EC E3 71 7A 8C 83 8C B3 88 E5 27 AE 3C DD 31")
        );
        assert_eq!(
            server_start_key(&mk, true).to_vec(),
            h("8B 7C DC 14 9B 99 3A 1B A1 18 CB 15 3F 56 DC CB")
        );
        let m = msk(&ph, &nt);
        assert_eq!(m.expose().len(), 64);
        assert_eq!(
            m.expose()[16..32],
            h("8B 7C DC 14 9B 99 3A 1B A1 18 CB 15 3F 56 DC CB")
        );
        assert_eq!(m.expose()[..16], *server_start_key(&mk, false));
        assert!(m.expose()[32..].iter().all(|&b| b == 0));
    }

    /// RFC 2759 §9.3 "Example of DES Key Generation" (password "MyPw").
    #[test]
    fn rfc2759_des_key_example() {
        let ph = nt_password_hash(b"MyPw");
        assert_eq!(
            ph.to_vec(),
            h("FC 15 6A F7 ED CD 6C 0E DD E3 33 7D 42 7F 4E AC")
        );
        let k1: [u8; 7] = ph[..7].try_into().unwrap();
        let k2: [u8; 7] = ph[7..14].try_into().unwrap();
        assert_eq!(des_key(&k1).to_vec(), h("FD 0B 5B 5E 7F 6E 34 D9"));
        assert_eq!(des_key(&k2).to_vec(), h("0E 6E 79 67 37 EA 08 FE"));
    }

    #[test]
    fn framing_is_bounded() {
        assert_eq!(split(&[3]), Some((3, None)));
        assert_eq!(split(&[1, 9]), None);
        assert_eq!(split(&[1, 9, 0]), None);
        assert_eq!(split(&[1, 9, 0, 4]), Some((1, Some((9, &[][..])))));
        assert_eq!(split(&[1, 9, 0, 200]), None);
        assert!(parse_response(&[49; 10]).is_none());
        assert!(parse_response(&[]).is_none());
        let mut r = vec![49u8];
        r.extend([7u8; 49]);
        r.extend(b"bob");
        let p = parse_response(&r).unwrap();
        assert_eq!(p.name, b"bob");
        assert_eq!(unhex(b"0aFF").unwrap(), vec![10, 255]);
        assert!(unhex(b"0g").is_none());
        assert!(unhex(b"0").is_none());
    }
}
