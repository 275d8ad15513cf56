//! RADIUS packets (RFC 2865 §3, §5): the codec, the authenticators, the
//! Message-Authenticator (RFC 3579 §3.2), EAP-Message fragments (RFC 3579
//! §3.1) and the MS-MPPE keys (RFC 2548 §2.4.2/§2.4.3).
//!
//! Every packet comes from the network: lengths are checked, nothing
//! panics; a response is believed only once its authenticator (and its
//! Message-Authenticator, which RFC 3579 §3.2 requires with EAP) matches.

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use zeroize::Zeroizing;

/// Packet codes (RFC 2865 §3, RFC 2866 §3, RFC 5176 §2.3).
pub mod code {
    /// Access-Request.
    pub const ACCESS_REQUEST: u8 = 1;
    /// Access-Accept.
    pub const ACCESS_ACCEPT: u8 = 2;
    /// Access-Reject.
    pub const ACCESS_REJECT: u8 = 3;
    /// Accounting-Request.
    pub const ACCOUNTING_REQUEST: u8 = 4;
    /// Accounting-Response.
    pub const ACCOUNTING_RESPONSE: u8 = 5;
    /// Access-Challenge.
    pub const ACCESS_CHALLENGE: u8 = 11;
    /// Disconnect-Request (RFC 5176).
    pub const DISCONNECT_REQUEST: u8 = 40;
    /// Disconnect-ACK.
    pub const DISCONNECT_ACK: u8 = 41;
    /// Disconnect-NAK.
    pub const DISCONNECT_NAK: u8 = 42;
}

/// Attribute types (RFC 2865 §5, RFC 2866 §5, RFC 2869 §5, RFC 3162,
/// RFC 3579, RFC 5176).
pub mod attr {
    /// User-Name.
    pub const USER_NAME: u8 = 1;
    /// NAS-IP-Address.
    pub const NAS_IP_ADDRESS: u8 = 4;
    /// NAS-Port.
    pub const NAS_PORT: u8 = 5;
    /// Service-Type.
    pub const SERVICE_TYPE: u8 = 6;
    /// Framed-IP-Address.
    pub const FRAMED_IP_ADDRESS: u8 = 8;
    /// Reply-Message.
    pub const REPLY_MESSAGE: u8 = 18;
    /// State.
    pub const STATE: u8 = 24;
    /// Class.
    pub const CLASS: u8 = 25;
    /// Vendor-Specific.
    pub const VENDOR_SPECIFIC: u8 = 26;
    /// Session-Timeout.
    pub const SESSION_TIMEOUT: u8 = 27;
    /// Called-Station-Id.
    pub const CALLED_STATION_ID: u8 = 30;
    /// Calling-Station-Id.
    pub const CALLING_STATION_ID: u8 = 31;
    /// NAS-Identifier.
    pub const NAS_IDENTIFIER: u8 = 32;
    /// Acct-Status-Type.
    pub const ACCT_STATUS_TYPE: u8 = 40;
    /// Acct-Delay-Time.
    pub const ACCT_DELAY_TIME: u8 = 41;
    /// Acct-Input-Octets.
    pub const ACCT_INPUT_OCTETS: u8 = 42;
    /// Acct-Output-Octets.
    pub const ACCT_OUTPUT_OCTETS: u8 = 43;
    /// Acct-Session-Id.
    pub const ACCT_SESSION_ID: u8 = 44;
    /// Acct-Authentic.
    pub const ACCT_AUTHENTIC: u8 = 45;
    /// Acct-Session-Time.
    pub const ACCT_SESSION_TIME: u8 = 46;
    /// Acct-Input-Packets.
    pub const ACCT_INPUT_PACKETS: u8 = 47;
    /// Acct-Output-Packets.
    pub const ACCT_OUTPUT_PACKETS: u8 = 48;
    /// Acct-Terminate-Cause.
    pub const ACCT_TERMINATE_CAUSE: u8 = 49;
    /// Acct-Input-Gigawords (RFC 2869 §5.1).
    pub const ACCT_INPUT_GIGAWORDS: u8 = 52;
    /// Acct-Output-Gigawords.
    pub const ACCT_OUTPUT_GIGAWORDS: u8 = 53;
    /// Event-Timestamp.
    pub const EVENT_TIMESTAMP: u8 = 55;
    /// NAS-Port-Type.
    pub const NAS_PORT_TYPE: u8 = 61;
    /// EAP-Message (RFC 3579 §3.1).
    pub const EAP_MESSAGE: u8 = 79;
    /// Message-Authenticator (RFC 3579 §3.2).
    pub const MESSAGE_AUTHENTICATOR: u8 = 80;
    /// Framed-Pool (RFC 2869 §5.18).
    pub const FRAMED_POOL: u8 = 88;
    /// NAS-IPv6-Address (RFC 3162).
    pub const NAS_IPV6_ADDRESS: u8 = 95;
    /// Error-Cause (RFC 5176 §3.5).
    pub const ERROR_CAUSE: u8 = 101;
    /// Framed-IPv6-Address (RFC 6911).
    pub const FRAMED_IPV6_ADDRESS: u8 = 168;
}

/// Microsoft's vendor number and its MPPE key attributes (RFC 2548).
pub mod ms {
    /// Vendor-Id of Microsoft.
    pub const VENDOR: u32 = 311;
    /// MS-MPPE-Send-Key (RFC 2548 §2.4.2).
    pub const MPPE_SEND_KEY: u8 = 16;
    /// MS-MPPE-Recv-Key (RFC 2548 §2.4.3).
    pub const MPPE_RECV_KEY: u8 = 17;
}

/// The largest RADIUS packet (RFC 2865 §3).
pub const MAX_PACKET: usize = 4096;
/// The largest attribute value.
pub const MAX_VALUE: usize = 253;

/// Why a RADIUS packet was refused.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum RadiusError {
    /// Not a RADIUS packet (RFC 2865 §3).
    #[error("malformed RADIUS packet: {0}")]
    Malformed(&'static str),
    /// Its authenticator or Message-Authenticator does not match: not
    /// from the server (or not with our secret).
    #[error("RADIUS packet not authentic: {0} (wrong shared secret or forged)")]
    NotAuthentic(&'static str),
    /// Too large to send.
    #[error("RADIUS packet over {MAX_PACKET} octets")]
    TooLarge,
}

/// One RADIUS packet.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Packet {
    /// Code.
    pub code: u8,
    /// Identifier.
    pub identifier: u8,
    /// Authenticator (Request or Response Authenticator).
    pub authenticator: [u8; 16],
    /// Attributes in order: (Type, Value).
    pub attrs: Vec<(u8, Vec<u8>)>,
}

type HmacMd5 = Hmac<Md5>;

impl Packet {
    /// A packet without attributes.
    pub fn new(code: u8, identifier: u8) -> Packet {
        Packet {
            code,
            identifier,
            ..Packet::default()
        }
    }

    /// Decodes a packet (RFC 2865 §3): Length from 20 to 4096, octets
    /// after it ignored, attributes filling the rest exactly, each at
    /// least 2 octets long.
    pub fn decode(raw: &[u8]) -> Result<Packet, RadiusError> {
        let [code, identifier, l1, l2, rest @ ..] = raw else {
            return Err(RadiusError::Malformed("shorter than its header"));
        };
        let len = usize::from(u16::from_be_bytes([*l1, *l2]));
        if !(20..=MAX_PACKET).contains(&len) {
            return Err(RadiusError::Malformed("Length outside 20..4096"));
        }
        let body = raw.get(20..len).ok_or(RadiusError::Malformed(
            "Length past the end of the datagram",
        ))?;
        let mut authenticator = [0u8; 16];
        authenticator.copy_from_slice(
            rest.get(..16)
                .ok_or(RadiusError::Malformed("shorter than its header"))?,
        );
        let mut attrs = Vec::new();
        let mut at = body;
        while !at.is_empty() {
            let [ty, alen, tail @ ..] = at else {
                return Err(RadiusError::Malformed("truncated attribute"));
            };
            let vlen = usize::from(*alen)
                .checked_sub(2)
                .ok_or(RadiusError::Malformed("attribute Length below 2"))?;
            let value = tail.get(..vlen).ok_or(RadiusError::Malformed(
                "attribute past the end of the packet",
            ))?;
            attrs.push((*ty, value.to_vec()));
            at = tail.get(vlen..).unwrap_or_default();
        }
        Ok(Packet {
            code: *code,
            identifier: *identifier,
            authenticator,
            attrs,
        })
    }

    /// Encodes the packet as it is (authenticator included).
    pub fn encode(&self) -> Result<Vec<u8>, RadiusError> {
        let mut out = Vec::with_capacity(64);
        out.push(self.code);
        out.push(self.identifier);
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&self.authenticator);
        for (ty, v) in &self.attrs {
            let l = u8::try_from(v.len().saturating_add(2)).map_err(|_| RadiusError::TooLarge)?;
            out.push(*ty);
            out.push(l);
            out.extend_from_slice(v);
        }
        if out.len() > MAX_PACKET {
            return Err(RadiusError::TooLarge);
        }
        let l = u16::try_from(out.len()).map_err(|_| RadiusError::TooLarge)?;
        out.get_mut(2..4)
            .ok_or(RadiusError::TooLarge)?
            .copy_from_slice(&l.to_be_bytes());
        Ok(out)
    }

    /// Adds an attribute.
    pub fn add(&mut self, ty: u8, value: impl Into<Vec<u8>>) {
        self.attrs.push((ty, value.into()));
    }

    /// Adds a 32-bit integer attribute.
    pub fn add_u32(&mut self, ty: u8, v: u32) {
        self.add(ty, v.to_be_bytes().to_vec());
    }

    /// The first value of `ty`.
    pub fn get(&self, ty: u8) -> Option<&[u8]> {
        self.attrs
            .iter()
            .find(|(t, _)| *t == ty)
            .map(|(_, v)| v.as_slice())
    }

    /// Every value of `ty`, in order.
    pub fn all(&self, ty: u8) -> impl Iterator<Item = &[u8]> {
        self.attrs
            .iter()
            .filter(move |(t, _)| *t == ty)
            .map(|(_, v)| v.as_slice())
    }

    /// A 32-bit integer attribute.
    pub fn get_u32(&self, ty: u8) -> Option<u32> {
        let v: [u8; 4] = self.get(ty)?.try_into().ok()?;
        Some(u32::from_be_bytes(v))
    }

    /// Adds `eap` as EAP-Message attributes of at most 253 octets each
    /// (RFC 3579 §3.1).
    pub fn add_eap_message(&mut self, eap: &[u8]) {
        for chunk in eap.chunks(MAX_VALUE) {
            self.add(attr::EAP_MESSAGE, chunk.to_vec());
        }
    }

    /// The EAP packet of the EAP-Message attributes, concatenated in order
    /// (RFC 3579 §3.1).
    pub fn eap_message(&self) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        let mut any = false;
        for v in self.all(attr::EAP_MESSAGE) {
            any = true;
            out.extend_from_slice(v);
        }
        any.then_some(out)
    }

    /// The values of a vendor's sub-attribute in Vendor-Specific
    /// attributes (RFC 2865 §5.26, with the suggested format: Vendor-Type,
    /// Vendor-Length, value).
    pub fn vendor(&self, vendor: u32, ty: u8) -> impl Iterator<Item = &[u8]> {
        self.all(attr::VENDOR_SPECIFIC).flat_map(move |v| {
            let mut found = Vec::new();
            if let [a, b, c, d, body @ ..] = v {
                let mut rest: &[u8] = body;
                if u32::from_be_bytes([*a, *b, *c, *d]) == vendor {
                    while let [t, l, tail @ ..] = rest {
                        let Some(vlen) = usize::from(*l).checked_sub(2) else {
                            break;
                        };
                        let Some(value) = tail.get(..vlen) else {
                            break;
                        };
                        if *t == ty {
                            found.push(value);
                        }
                        rest = tail.get(vlen..).unwrap_or_default();
                    }
                }
            }
            found
        })
    }

    /// Encodes a request whose Request Authenticator is random
    /// (Access-Request, RFC 2865 §3), with a Message-Authenticator (RFC
    /// 3579 §3.2: HMAC-MD5 over the packet with the attribute zeroed).
    pub fn seal_access_request(
        &mut self,
        random: [u8; 16],
        secret: &[u8],
    ) -> Result<Vec<u8>, RadiusError> {
        self.authenticator = random;
        self.set_message_authenticator(secret)?;
        self.encode()
    }

    /// Encodes a request whose Request Authenticator is the MD5 of the
    /// packet with zeros in its place and the secret (Accounting-Request,
    /// RFC 2866 §3; Disconnect-Request, RFC 5176 §3.5).
    pub fn seal_accounting(&mut self, secret: &[u8]) -> Result<Vec<u8>, RadiusError> {
        self.authenticator = [0; 16];
        self.seal_with(secret)
    }

    /// Encodes a response to a request with `request_auth` (RFC 2865 §3:
    /// MD5 over Code, Identifier, Length, the Request Authenticator, the
    /// attributes and the secret), with a Message-Authenticator if
    /// `with_ma`.
    pub fn seal_response(
        &mut self,
        request_auth: &[u8; 16],
        secret: &[u8],
        with_ma: bool,
    ) -> Result<Vec<u8>, RadiusError> {
        self.authenticator = *request_auth;
        if with_ma {
            self.set_message_authenticator(secret)?;
        }
        self.seal_with(secret)
    }

    fn seal_with(&mut self, secret: &[u8]) -> Result<Vec<u8>, RadiusError> {
        let raw = self.encode()?;
        let mut h = Md5::new();
        h.update(&raw);
        h.update(secret);
        self.authenticator = h.finalize().into();
        self.encode()
    }

    fn set_message_authenticator(&mut self, secret: &[u8]) -> Result<(), RadiusError> {
        self.attrs
            .retain(|(t, _)| *t != attr::MESSAGE_AUTHENTICATOR);
        self.attrs.push((attr::MESSAGE_AUTHENTICATOR, vec![0; 16]));
        let raw = self.encode()?;
        let mac = hmac_md5(secret, &raw);
        if let Some((_, v)) = self.attrs.last_mut() {
            *v = mac.to_vec();
        }
        Ok(())
    }
}

fn hmac_md5(key: &[u8], data: &[u8]) -> [u8; 16] {
    // HMAC takes keys of any length.
    let Ok(mut m) = HmacMd5::new_from_slice(key) else {
        return [0; 16];
    };
    m.update(data);
    m.finalize().into_bytes().into()
}

/// `raw` with its Authenticator replaced by `auth` and every
/// Message-Authenticator value zeroed, for the checks.
fn with_auth_and_zero_ma(raw: &[u8], p: &Packet, auth: &[u8; 16]) -> Option<Vec<u8>> {
    let mut q = p.clone();
    q.authenticator = *auth;
    for (t, v) in &mut q.attrs {
        if *t == attr::MESSAGE_AUTHENTICATOR {
            v.iter_mut().for_each(|b| *b = 0);
        }
    }
    let out = q.encode().ok()?;
    // Re-encoding gives back the same octets up to Length.
    (out.len() <= raw.len()).then_some(out)
}

fn check_ma(
    raw: &[u8],
    p: &Packet,
    auth: &[u8; 16],
    secret: &[u8],
    required: bool,
) -> Result<(), RadiusError> {
    let mut mas = p.all(attr::MESSAGE_AUTHENTICATOR);
    let Some(ma) = mas.next() else {
        return if required {
            Err(RadiusError::NotAuthentic("Message-Authenticator missing"))
        } else {
            Ok(())
        };
    };
    if mas.next().is_some() || ma.len() != 16 {
        return Err(RadiusError::Malformed("bad Message-Authenticator"));
    }
    let zeroed =
        with_auth_and_zero_ma(raw, p, auth).ok_or(RadiusError::Malformed("does not re-encode"))?;
    if !crate::eap::ct_eq(&hmac_md5(secret, &zeroed), ma) {
        return Err(RadiusError::NotAuthentic("Message-Authenticator mismatch"));
    }
    Ok(())
}

/// Decodes and checks a response to a request with `request_auth` and
/// `identifier`: its Response Authenticator (RFC 2865 §3) and its
/// Message-Authenticator (RFC 3579 §3.2; required when it carries an
/// EAP-Message, or when `require_ma`).
pub fn verify_response(
    raw: &[u8],
    identifier: u8,
    request_auth: &[u8; 16],
    secret: &[u8],
    require_ma: bool,
) -> Result<Packet, RadiusError> {
    let p = Packet::decode(raw)?;
    if p.identifier != identifier {
        return Err(RadiusError::NotAuthentic(
            "Identifier of no outstanding request",
        ));
    }
    let mut q = p.clone();
    q.authenticator = *request_auth;
    let body = q.encode()?;
    let mut h = Md5::new();
    h.update(&body);
    h.update(secret);
    let expected: [u8; 16] = h.finalize().into();
    if !crate::eap::ct_eq(&expected, &p.authenticator) {
        return Err(RadiusError::NotAuthentic("Response Authenticator mismatch"));
    }
    let need = require_ma || p.get(attr::EAP_MESSAGE).is_some();
    check_ma(raw, &p, request_auth, secret, need)?;
    Ok(p)
}

/// Decodes and checks a request whose authenticator is computed as an
/// Accounting-Request's (Disconnect-Request, RFC 5176 §3.5), and its
/// Message-Authenticator if it has one (RFC 5176 §3.4: computed with the
/// authenticator field zeroed... as the request's own MD5 covers it, the
/// check uses zeros).
pub fn verify_request(raw: &[u8], secret: &[u8]) -> Result<Packet, RadiusError> {
    let p = Packet::decode(raw)?;
    let mut q = p.clone();
    q.authenticator = [0; 16];
    let body = q.encode()?;
    let mut h = Md5::new();
    h.update(&body);
    h.update(secret);
    let expected: [u8; 16] = h.finalize().into();
    if !crate::eap::ct_eq(&expected, &p.authenticator) {
        return Err(RadiusError::NotAuthentic("Request Authenticator mismatch"));
    }
    check_ma(raw, &p, &[0; 16], secret, false)?;
    Ok(p)
}

/// Decrypts an MS-MPPE-Send-Key or -Recv-Key value (RFC 2548 §2.4.2):
/// Salt (2 octets, high bit set), then the key-length octet, the key and
/// padding, encrypted as b(1) = MD5(secret || Request Authenticator ||
/// Salt), c(i) = p(i) xor b(i), b(i) = MD5(secret || c(i-1)).
pub fn decrypt_mppe_key(
    value: &[u8],
    secret: &[u8],
    request_auth: &[u8; 16],
) -> Option<Zeroizing<Vec<u8>>> {
    let (salt, cipher) = value.split_at_checked(2)?;
    if cipher.is_empty() || cipher.len() % 16 != 0 || salt.first()? & 0x80 == 0 {
        return None;
    }
    let mut plain = Zeroizing::new(Vec::with_capacity(cipher.len()));
    let mut prev: &[u8] = &[];
    for (i, block) in cipher.chunks(16).enumerate() {
        let mut h = Md5::new();
        h.update(secret);
        if i == 0 {
            h.update(request_auth);
            h.update(salt);
        } else {
            h.update(prev);
        }
        let b = h.finalize();
        plain.extend(block.iter().zip(b.iter()).map(|(c, k)| c ^ k));
        prev = block;
    }
    let (&len, rest) = plain.split_first()?;
    let key = rest.get(..usize::from(len))?;
    Some(Zeroizing::new(key.to_vec()))
}

/// Encrypts an MPPE key as [`decrypt_mppe_key`] reads it (for tests and a
/// server side).
pub fn encrypt_mppe_key(
    key: &[u8],
    secret: &[u8],
    request_auth: &[u8; 16],
    salt: [u8; 2],
) -> Option<Vec<u8>> {
    let mut plain = Zeroizing::new(Vec::with_capacity(key.len().saturating_add(16)));
    plain.push(u8::try_from(key.len()).ok()?);
    plain.extend_from_slice(key);
    while plain.len() % 16 != 0 {
        plain.push(0);
    }
    let salt = [salt[0] | 0x80, salt[1]];
    let mut out = salt.to_vec();
    for (i, block) in plain.chunks(16).enumerate() {
        let mut h = Md5::new();
        h.update(secret);
        if i == 0 {
            h.update(request_auth);
            h.update(salt);
        } else {
            let start = out.len().checked_sub(16)?;
            h.update(out.get(start..)?);
        }
        let b = h.finalize();
        let c: Vec<u8> = block.iter().zip(b.iter()).map(|(p, k)| p ^ k).collect();
        out.extend_from_slice(&c);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 2865 §7.1: the Access-Request and Access-Accept of the
    /// example (secret "xyzzy5461").
    #[test]
    fn rfc2865_example_response_authenticator() {
        let req = hex::decode(
            "010000380f403f9473978057bd83d5cb98f4227a01066e656d6f02120dbe708d93d413ce3196e43f7\
             82a0aee0406c0a80110050600000003",
        )
        .unwrap();
        let p = Packet::decode(&req).unwrap();
        assert_eq!(p.encode().unwrap(), req);
        assert_eq!(p.get(attr::USER_NAME), Some(&b"nemo"[..]));
        assert_eq!(p.get_u32(attr::NAS_PORT), Some(3));
        let resp = hex::decode(
            "0200002686fe220e7624ba2a1005f6bf9b55e0b2060600000001\
             0f06000000000e06c0a80103",
        )
        .unwrap();
        let r = verify_response(&resp, 0, &p.authenticator, b"xyzzy5461", false).unwrap();
        assert_eq!(r.code, code::ACCESS_ACCEPT);
        // And we compute the same authenticator.
        let mut mine = Packet::new(code::ACCESS_ACCEPT, 0);
        mine.attrs = r.attrs.clone();
        assert_eq!(
            mine.seal_response(&p.authenticator, b"xyzzy5461", false)
                .unwrap(),
            resp
        );
        // A wrong secret, identifier or request authenticator fails.
        assert!(verify_response(&resp, 0, &p.authenticator, b"xyzzy5462", false).is_err());
        assert!(verify_response(&resp, 1, &p.authenticator, b"xyzzy5461", false).is_err());
        assert!(verify_response(&resp, 0, &[0; 16], b"xyzzy5461", false).is_err());
        // Message-Authenticator required but absent.
        assert!(verify_response(&resp, 0, &p.authenticator, b"xyzzy5461", true).is_err());
    }

    #[test]
    fn message_authenticator_round_trip_and_tamper() {
        let mut req = Packet::new(code::ACCESS_REQUEST, 9);
        req.add(attr::USER_NAME, b"alice".to_vec());
        req.add_eap_message(&[2u8; 600]);
        let raw = req.seal_access_request([7; 16], b"s3cret").unwrap();
        let back = Packet::decode(&raw).unwrap();
        assert_eq!(back.all(attr::EAP_MESSAGE).count(), 3);
        assert_eq!(back.eap_message().unwrap(), vec![2u8; 600]);
        // The server's reply with EAP needs a Message-Authenticator.
        let mut reply = Packet::new(code::ACCESS_CHALLENGE, 9);
        reply.add_eap_message(&[1, 1, 0, 5, 4]);
        let good = reply.seal_response(&[7; 16], b"s3cret", true).unwrap();
        assert!(verify_response(&good, 9, &[7; 16], b"s3cret", false).is_ok());
        let mut bad = reply.clone();
        bad.attrs.retain(|(t, _)| *t != attr::MESSAGE_AUTHENTICATOR);
        let bad = bad.seal_response(&[7; 16], b"s3cret", false).unwrap();
        assert_eq!(
            verify_response(&bad, 9, &[7; 16], b"s3cret", false),
            Err(RadiusError::NotAuthentic("Message-Authenticator missing"))
        );
        let mut flipped = good.clone();
        let n = flipped.len() - 1;
        flipped[n] ^= 1;
        assert!(verify_response(&flipped, 9, &[7; 16], b"s3cret", false).is_err());
    }

    #[test]
    fn accounting_and_disconnect_authenticators() {
        let mut d = Packet::new(code::DISCONNECT_REQUEST, 3);
        d.add(attr::USER_NAME, b"alice".to_vec());
        let raw = d.seal_accounting(b"k").unwrap();
        assert!(verify_request(&raw, b"k").is_ok());
        assert!(verify_request(&raw, b"j").is_err());
    }

    #[test]
    fn mppe_keys_round_trip() {
        let key = [0x5au8; 32];
        let enc = encrypt_mppe_key(&key, b"sec", &[3; 16], [0x12, 0x34]).unwrap();
        assert_eq!(enc.len(), 2 + 48);
        assert_eq!(
            decrypt_mppe_key(&enc, b"sec", &[3; 16]).unwrap().as_slice(),
            &key
        );
        assert_ne!(
            decrypt_mppe_key(&enc, b"sed", &[3; 16]).map(|k| k.to_vec()),
            Some(key.to_vec())
        );
        assert!(decrypt_mppe_key(&[0x80, 0, 1], b"s", &[0; 16]).is_none());
        assert!(decrypt_mppe_key(&[], b"s", &[0; 16]).is_none());
    }

    #[test]
    fn decode_rejects_bad_lengths() {
        assert!(Packet::decode(&[1, 0, 0]).is_err());
        let mut p = vec![1u8, 0, 0, 19];
        p.extend([0; 16]);
        assert!(Packet::decode(&p).is_err());
        let mut p = vec![1u8, 0, 0, 22];
        p.extend([0; 16]);
        p.extend([1, 1]);
        assert!(Packet::decode(&p).is_err());
        let mut p = vec![1u8, 0, 0, 23];
        p.extend([0; 16]);
        p.extend([1, 5, 0]);
        assert!(Packet::decode(&p).is_err());
        let mut p = vec![1u8, 0, 0, 20];
        p.extend([0; 16]);
        p.extend([9, 9, 9]);
        assert_eq!(Packet::decode(&p).unwrap().attrs.len(), 0);
    }
}
