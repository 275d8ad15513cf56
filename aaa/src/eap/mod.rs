//! EAP (RFC 3748) as IKEv2 carries it (RFC 7296 §2.16), sans I/O: the
//! authenticator's side ([`Authenticator`]: the gateway asks a client who
//! it is and checks its password) and the peer's ([`Peer`]: vtid as a
//! client), over the methods vtid has:
//!
//! * Identity (RFC 3748 §5.1);
//! * MD5-Challenge (RFC 3748 §5.4, the CHAP computation of RFC 1994 §4.1;
//!   no key: IKEv2 then signs with SK_pi/SK_pr, RFC 7296 §2.16);
//! * MS-CHAPv2 ([`mschapv2`]: RFC 2759, framed as
//!   draft-kamath-pppext-eap-mschapv2-02 and strongSwan do; the MSK from
//!   RFC 3079's MPPE keys);
//! * TLS ([`tls`]: RFC 5216 over rustls, TLS 1.2; the peer's side only —
//!   the authenticator does not offer it yet).
//!
//! Messages are [`ike::wire::EapPayload`] (the one EAP type of the
//! project); [`decode`] and [`encode`] turn them into and from the raw
//! octets RADIUS carries in EAP-Message attributes.
//!
//! Every octet comes from the other side, authenticated by nothing yet:
//! every length is checked, nothing panics, and a message that does not
//! fit the conversation is discarded ([`ServerStep::Discard`]) or ends
//! it. Failed passwords are counted per identity by [`FailureLimiter`]
//! (RFC 2759 §10: the authenticator SHOULD limit retries).

mod limiter;
pub mod mschapv2;
mod peer;
mod server;
pub mod tls;

use std::fmt;

pub use ike::wire::EapPayload;
pub use limiter::{FailureLimiter, LimiterConfig};
pub use peer::{Peer, PeerStep};
pub use server::{Authenticator, EapSecrets, SecretTable, ServerEnv, ServerStep};

use zeroize::Zeroizing;

/// EAP method types (IANA "Method Types", RFC 3748 §5).
pub mod types {
    /// Identity (RFC 3748 §5.1).
    pub const IDENTITY: u8 = 1;
    /// Notification (RFC 3748 §5.2).
    pub const NOTIFICATION: u8 = 2;
    /// Legacy Nak (RFC 3748 §5.3.1), in Responses only.
    pub const NAK: u8 = 3;
    /// MD5-Challenge (RFC 3748 §5.4).
    pub const MD5: u8 = 4;
    /// EAP-TLS (RFC 5216).
    pub const TLS: u8 = 13;
    /// EAP-MSCHAPv2 (draft-kamath-pppext-eap-mschapv2).
    pub const MSCHAPV2: u8 = 26;
    /// Expanded Types (RFC 3748 §5.7).
    pub const EXPANDED: u8 = 254;
}

/// An EAP method vtid runs itself.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Method {
    /// EAP-MD5 (`auth = eap-md5`).
    Md5,
    /// EAP-MSCHAPv2 (`auth = eap-mschapv2`).
    MsChapV2,
    /// EAP-TLS (`auth = eap-tls`; RFC 5216): the peer's side only.
    Tls,
}

impl Method {
    /// The EAP Type.
    pub fn eap_type(self) -> u8 {
        match self {
            Method::Md5 => types::MD5,
            Method::MsChapV2 => types::MSCHAPV2,
            Method::Tls => types::TLS,
        }
    }

    /// The method of an EAP Type, if vtid has it.
    pub fn from_type(t: u8) -> Option<Method> {
        match t {
            types::MD5 => Some(Method::Md5),
            types::MSCHAPV2 => Some(Method::MsChapV2),
            types::TLS => Some(Method::Tls),
            _ => None,
        }
    }

    /// The name swanctl.conf uses after `eap-`.
    pub fn name(self) -> &'static str {
        match self {
            Method::Md5 => "md5",
            Method::MsChapV2 => "mschapv2",
            Method::Tls => "tls",
        }
    }

    /// The method of a swanctl.conf name (`md5`, `mschapv2`).
    pub fn from_name(name: &str) -> Option<Method> {
        match name {
            "md5" => Some(Method::Md5),
            "mschapv2" => Some(Method::MsChapV2),
            "tls" => Some(Method::Tls),
            _ => None,
        }
    }

    /// Whether it derives an MSK (RFC 7296 §2.16: the AUTH payloads are
    /// then computed with it).
    pub fn has_msk(self) -> bool {
        matches!(self, Method::MsChapV2 | Method::Tls)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EAP-{}", self.name().to_ascii_uppercase())
    }
}

/// The Master Session Key an EAP method exports (RFC 3748 §7.10), 64
/// octets for the methods here. Wiped on drop, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Msk(Zeroizing<Vec<u8>>);

impl Msk {
    /// Wraps key bytes.
    pub fn new(bytes: Vec<u8>) -> Msk {
        Msk(Zeroizing::new(bytes))
    }

    /// The key.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Msk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Msk(<{} octets redacted>)", self.0.len())
    }
}

/// An EAP user's secret as `secrets { eap-NAME { id, secret } }` or
/// `ntlm-NAME` gives it.
#[derive(Clone)]
pub enum EapSecret {
    /// The password itself (EAP-MD5 needs it; MS-CHAPv2 hashes it).
    Password(Zeroizing<Vec<u8>>),
    /// The NT hash, MD4 of the UTF-16LE password (MS-CHAPv2 only;
    /// strongSwan's `ntlm` secrets).
    NtHash(Zeroizing<[u8; 16]>),
}

impl EapSecret {
    /// A password.
    pub fn password(p: &[u8]) -> EapSecret {
        EapSecret::Password(Zeroizing::new(p.to_vec()))
    }
}

impl fmt::Debug for EapSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EapSecret::Password(_) => f.write_str("EapSecret::Password(<redacted>)"),
            EapSecret::NtHash(_) => f.write_str("EapSecret::NtHash(<redacted>)"),
        }
    }
}

/// Why an EAP message could not be read or an exchange ended.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum EapError {
    /// The octets are not an EAP packet (RFC 3748 §4).
    #[error("malformed EAP packet: {0}")]
    Malformed(&'static str),
    /// The other side sent something the conversation does not allow.
    #[error("EAP protocol violation by the {who}: {what}")]
    Protocol {
        /// `peer` or `server`.
        who: &'static str,
        /// What it did.
        what: String,
    },
}

/// Decodes one EAP packet from raw octets (RFC 3748 §4: Code,
/// Identifier, Length, Data). Octets after Length are link-layer padding
/// and ignored (§4.1); a Length under 4 or past the end is an error, as
/// are Request/Response packets without a Type.
pub fn decode(raw: &[u8]) -> Result<EapPayload, EapError> {
    let (&code, rest) = raw
        .split_first()
        .ok_or(EapError::Malformed("empty packet"))?;
    let (&identifier, rest) = rest
        .split_first()
        .ok_or(EapError::Malformed("shorter than its header"))?;
    let len = match rest {
        [a, b, ..] => usize::from(u16::from_be_bytes([*a, *b])),
        _ => return Err(EapError::Malformed("shorter than its header")),
    };
    if len < 4 {
        return Err(EapError::Malformed("Length below 4"));
    }
    let data = raw
        .get(4..len)
        .ok_or(EapError::Malformed("Length past the end of the packet"))?;
    if !(1..=4).contains(&code) {
        return Err(EapError::Malformed("unknown Code"));
    }
    if matches!(code, EapPayload::REQUEST | EapPayload::RESPONSE) && data.is_empty() {
        return Err(EapError::Malformed("Request or Response without a Type"));
    }
    Ok(EapPayload {
        code,
        identifier,
        data: data.to_vec(),
    })
}

/// Encodes an EAP packet (RFC 3748 §4); `None` if it is longer than the
/// Length field can say.
pub fn encode(p: &EapPayload) -> Option<Vec<u8>> {
    let len = u16::try_from(p.data.len().checked_add(4)?).ok()?;
    let mut out = Vec::with_capacity(usize::from(len));
    out.push(p.code);
    out.push(p.identifier);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&p.data);
    Some(out)
}

/// A Request or Response of `ty` with `type_data`.
pub(crate) fn typed(code: u8, identifier: u8, ty: u8, type_data: &[u8]) -> EapPayload {
    let mut data = Vec::with_capacity(type_data.len().saturating_add(1));
    data.push(ty);
    data.extend_from_slice(type_data);
    EapPayload {
        code,
        identifier,
        data,
    }
}

/// The Type-Data of a Request or Response (after the Type octet).
pub(crate) fn type_data(p: &EapPayload) -> &[u8] {
    p.data.get(1..).unwrap_or_default()
}

/// The EAP-MD5 Value for `identifier`, `secret` and `challenge` (RFC 1994
/// §4.1: MD5 over Identifier || secret || Challenge; RFC 3748 §5.4).
pub fn md5_response(identifier: u8, secret: &[u8], challenge: &[u8]) -> [u8; 16] {
    use md5::{Digest, Md5};
    let mut h = Md5::new();
    h.update([identifier]);
    h.update(secret);
    h.update(challenge);
    h.finalize().into()
}

/// An EAP-MD5 Request/Response's Type-Data: Value-Size, Value, Name (RFC
/// 1994 §4.1). `None` if Value-Size points past the end.
pub(crate) fn md5_parse(td: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&size, rest) = td.split_first()?;
    let value = rest.get(..usize::from(size))?;
    let name = rest.get(usize::from(size)..)?;
    Some((value, name))
}

/// Builds EAP-MD5 Type-Data.
pub(crate) fn md5_build(value: &[u8], name: &[u8]) -> Vec<u8> {
    let mut td = Vec::with_capacity(value.len().saturating_add(name.len()).saturating_add(1));
    td.push(u8::try_from(value.len()).unwrap_or(u8::MAX));
    td.extend_from_slice(value.get(..255).unwrap_or(value));
    td.extend_from_slice(name);
    td
}

/// Constant-time equality of two byte strings (of public lengths).
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_checks_lengths() {
        assert_eq!(
            decode(&[1, 7, 0, 5, 1]).unwrap(),
            EapPayload {
                code: 1,
                identifier: 7,
                data: vec![1]
            }
        );
        // Padding past Length is ignored (RFC 3748 §4.1).
        assert_eq!(decode(&[3, 7, 0, 4, 0, 0]).unwrap().data, Vec::<u8>::new());
        assert!(decode(&[]).is_err());
        assert!(decode(&[1, 7, 0]).is_err());
        assert!(decode(&[1, 7, 0, 3]).is_err());
        assert!(decode(&[1, 7, 0, 9, 1]).is_err());
        assert!(decode(&[9, 7, 0, 4]).is_err());
        assert!(decode(&[2, 7, 0, 4]).is_err());
        let p = decode(&[2, 9, 0, 6, 1, b'x']).unwrap();
        assert_eq!(encode(&p).unwrap(), vec![2, 9, 0, 6, 1, b'x']);
        let big = EapPayload {
            code: 1,
            identifier: 0,
            data: vec![0; 65532],
        };
        assert!(encode(&big).is_none());
    }

    #[test]
    fn md5_type_data_never_reads_past_the_end() {
        assert_eq!(
            md5_parse(&[2, 1, 2, b'n']),
            Some((&[1u8, 2][..], &b"n"[..]))
        );
        assert_eq!(md5_parse(&[3, 1, 2]), None);
        assert_eq!(md5_parse(&[]), None);
        assert_eq!(md5_parse(&[0]), Some((&[][..], &[][..])));
    }

    #[test]
    fn msk_and_secrets_are_not_printed() {
        let m = Msk::new(vec![0xab; 64]);
        assert_eq!(format!("{m:?}"), "Msk(<64 octets redacted>)");
        let s = EapSecret::password(b"hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
