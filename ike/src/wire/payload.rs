//! Payloads (RFC 7296 §3.2–§3.16, RFC 7383 §2.5) and payload chains.

use super::error::{fits16, fits8, Part, WireError};
use super::ident::Identification;
use super::reader::{len16, len8, Reader};
use super::registry::{
    AuthMethod, CertEncoding, CfgAttrType, CfgType, DhGroup, NotifyType, PayloadType, ProtocolId,
};
use super::sa::SaPayload;
use super::ts::TsPayload;

/// The critical bit of the generic payload header (§3.2).
const CRITICAL: u8 = 0x80;

/// One payload: the generic header's critical bit and a typed body
/// (RFC 7296 §3.2). Next Payload and Payload Length are not stored: they
/// follow from the payload's position in its chain and from its body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payload {
    /// The C bit. RFC 7296 §3.2 says to send it as zero for the payloads it
    /// defines; it is kept as received so that messages re-emit exactly.
    pub critical: bool,
    /// The payload's contents.
    pub body: PayloadBody,
}

impl From<PayloadBody> for Payload {
    fn from(body: PayloadBody) -> Self {
        Payload::new(body)
    }
}

/// The body of a payload, by type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PayloadBody {
    /// Security Association (§3.3).
    Sa(SaPayload),
    /// Key Exchange (§3.4).
    Ke(KePayload),
    /// Identification — Initiator (§3.5).
    IdI(Identification),
    /// Identification — Responder (§3.5).
    IdR(Identification),
    /// Certificate (§3.6).
    Cert(CertPayload),
    /// Certificate Request (§3.7).
    CertReq(CertReqPayload),
    /// Authentication (§3.8).
    Auth(AuthPayload),
    /// Nonce (§3.9).
    Nonce(NoncePayload),
    /// Notify (§3.10).
    Notify(NotifyPayload),
    /// Delete (§3.11).
    Delete(DeletePayload),
    /// Vendor ID (§3.12): opaque octets.
    VendorId(Vec<u8>),
    /// Traffic Selector — Initiator (§3.13).
    TsI(TsPayload),
    /// Traffic Selector — Responder (§3.13).
    TsR(TsPayload),
    /// Encrypted and Authenticated (§3.14). Always the last payload.
    Sk(SkPayload),
    /// Configuration (§3.15).
    Cp(CpPayload),
    /// Extensible Authentication (§3.16).
    Eap(EapPayload),
    /// Encrypted and Authenticated Fragment (RFC 7383 §2.5). Always last.
    Skf(SkfPayload),
    /// A non-critical payload of a type this codec does not parse (§2.5:
    /// skipped by the engine, but kept so that the message re-emits
    /// exactly). Its `ty` must not be a type that has a variant above, nor
    /// NONE.
    Unknown {
        /// The payload type.
        ty: PayloadType,
        /// The payload body, raw.
        data: Vec<u8>,
    },
}

/// Key Exchange payload body (§3.4).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct KePayload {
    /// Diffie-Hellman Group Num / Key Exchange Method.
    pub group: DhGroup,
    /// Key Exchange Data.
    pub data: Vec<u8>,
}

/// Certificate payload body (§3.6).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct CertPayload {
    /// Cert Encoding.
    pub encoding: CertEncoding,
    /// Certificate Data.
    pub data: Vec<u8>,
}

/// Certificate Request payload body (§3.7).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct CertReqPayload {
    /// Cert Encoding.
    pub encoding: CertEncoding,
    /// Certification Authority: for X.509, concatenated 20-octet SHA-1
    /// hashes of trusted CAs' public keys.
    pub data: Vec<u8>,
}

impl CertReqPayload {
    /// The 20-octet CA key hashes of an X.509 request (§3.7), or `None`
    /// when the data is not a multiple of 20 octets.
    pub fn ca_hashes(&self) -> Option<impl Iterator<Item = &[u8]>> {
        (self.data.len() % 20 == 0).then(|| self.data.chunks_exact(20))
    }
}

/// Authentication payload body (§3.8).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct AuthPayload {
    /// Auth Method.
    pub method: AuthMethod,
    /// Authentication Data.
    pub data: Vec<u8>,
}

/// Nonce payload body (§3.9).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct NoncePayload {
    /// Nonce Data. The codec accepts any length; see
    /// [`NoncePayload::length_ok`].
    pub data: Vec<u8>,
}

impl NoncePayload {
    /// Smallest nonce RFC 7296 §2.10/§3.9 allows.
    pub const MIN_LEN: usize = 16;
    /// Largest nonce RFC 7296 §3.9 allows.
    pub const MAX_LEN: usize = 256;

    /// §3.9: "The size of the Nonce Data MUST be between 16 and 256 octets,
    /// inclusive." A semantic rule, left to the engine.
    pub fn length_ok(&self) -> bool {
        (Self::MIN_LEN..=Self::MAX_LEN).contains(&self.data.len())
    }
}

/// Notify payload body (§3.10).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct NotifyPayload {
    /// Protocol ID: NONE (0) unless the SPI field is used.
    pub protocol: ProtocolId,
    /// SPI (its length is the SPI Size); at most 255 octets.
    pub spi: Vec<u8>,
    /// Notify Message Type.
    pub ty: NotifyType,
    /// Notification Data.
    pub data: Vec<u8>,
}

impl NotifyPayload {
    /// A notification about the IKE SA: no protocol, no SPI.
    pub fn new(ty: NotifyType, data: Vec<u8>) -> Self {
        NotifyPayload {
            protocol: ProtocolId::NONE,
            spi: Vec::new(),
            ty,
            data,
        }
    }
}

/// Delete payload body (§3.11).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct DeletePayload {
    /// Protocol ID: IKE, AH or ESP.
    pub protocol: ProtocolId,
    /// SPI Size: 0 for IKE, 4 for AH and ESP. Kept explicitly because a
    /// Delete with no SPIs still carries it.
    pub spi_size: u8,
    /// The SPIs, each exactly `spi_size` octets; at most 65535 of them, and
    /// none when `spi_size` is 0.
    pub spis: Vec<Vec<u8>>,
}

/// Encrypted and Authenticated payload (§3.14).
///
/// The generic header's Next Payload field of an SK payload holds the type
/// of the first payload inside it, kept here as `first`. The AEAD
/// associated data is everything in the datagram before `body`: see
/// [`Message::sk_body_offset`](super::Message::sk_body_offset).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct SkPayload {
    /// Type of the first inner payload.
    pub first: PayloadType,
    /// Initialization Vector || Encrypted IKE Payloads (with padding and
    /// Pad Length) || Integrity Checksum Data, opaque to the codec.
    pub body: Vec<u8>,
}

/// Encrypted and Authenticated Fragment payload (RFC 7383 §2.5).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct SkfPayload {
    /// Type of the first inner payload in fragment 1; NONE in the others.
    pub first: PayloadType,
    /// Fragment Number, from 1.
    pub fragment_number: u16,
    /// Total Fragments, at least `fragment_number`.
    pub total_fragments: u16,
    /// IV || encrypted content || ICV, opaque to the codec.
    pub body: Vec<u8>,
}

/// Configuration payload body (§3.15).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct CpPayload {
    /// CFG Type.
    pub cfg_type: CfgType,
    /// Configuration attributes, in order.
    pub attributes: Vec<CfgAttr>,
}

/// A configuration attribute (§3.15.1). The value is raw: an
/// INTERNAL_IP4_ADDRESS request, for instance, may be empty.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct CfgAttr {
    /// Attribute Type (15 bits; the top bit is reserved and sent as 0).
    pub ty: CfgAttrType,
    /// Value.
    pub value: Vec<u8>,
}

/// EAP payload body (§3.16): one EAP message (RFC 3748 §4), kept raw
/// except for its header. The EAP Length field is derived from `data`, and
/// checked on parse against the payload length.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct EapPayload {
    /// Code: 1 Request, 2 Response, 3 Success, 4 Failure.
    pub code: u8,
    /// Identifier.
    pub identifier: u8,
    /// Everything after the EAP Length field (Type and Type-Data for
    /// Request and Response; normally empty for Success and Failure).
    pub data: Vec<u8>,
}

impl EapPayload {
    /// EAP Request (RFC 3748 §4).
    pub const REQUEST: u8 = 1;
    /// EAP Response.
    pub const RESPONSE: u8 = 2;
    /// EAP Success.
    pub const SUCCESS: u8 = 3;
    /// EAP Failure.
    pub const FAILURE: u8 = 4;

    /// The EAP Type of a Request or Response.
    pub fn eap_type(&self) -> Option<u8> {
        match self.code {
            Self::REQUEST | Self::RESPONSE => self.data.first().copied(),
            _ => None,
        }
    }
}

impl Payload {
    /// A payload with the critical bit clear.
    pub fn new(body: PayloadBody) -> Self {
        Payload {
            critical: false,
            body,
        }
    }

    /// The payload type.
    pub fn ty(&self) -> PayloadType {
        self.body.ty()
    }

    /// Encoded size including the 4-octet generic header.
    pub fn buffer_len(&self) -> usize {
        4 + self.body.buffer_len()
    }

    /// Whether [`Payload::emit_into`] can encode it: the Payload Length
    /// (with the 4-octet header) within 16 bits, and every count, size and
    /// length of the body within its field. A payload that passes never
    /// makes emission panic (`wire_proptest` checks both ways).
    pub fn check(&self) -> Result<(), WireError> {
        let part = Part::Payload(self.ty());
        fits16(self.buffer_len(), part, "payload longer than 65535 octets")?;
        match &self.body {
            PayloadBody::Sa(sa) => sa.check(),
            PayloadBody::TsI(ts) | PayloadBody::TsR(ts) => ts.check(self.ty()),
            PayloadBody::Notify(n) => fits8(n.spi.len(), part, "SPI longer than 255 octets"),
            PayloadBody::Delete(d) => {
                fits16(d.spis.len(), part, "more than 65535 SPIs")?;
                if d.spis.iter().any(|s| s.len() != usize::from(d.spi_size)) {
                    return Err(WireError::BadValue {
                        part,
                        detail: "an SPI whose length is not the SPI Size",
                    });
                }
                Ok(())
            }
            PayloadBody::Cp(cp) => cp.attributes.iter().try_for_each(|a| {
                fits16(a.value.len(), Part::CfgAttr, "attribute over 65535 octets")
            }),
            PayloadBody::Eap(e) => fits16(4 + e.data.len(), part, "EAP message over 65535 octets"),
            _ => Ok(()),
        }
    }

    /// Appends the generic header, with `next` as Next Payload (SK and SKF
    /// write their `first` instead), and the body.
    ///
    /// # Panics
    /// If the payload is longer than 65535 octets, or a count or size does
    /// not fit its field (see the body types).
    pub fn emit_into(&self, next: PayloadType, out: &mut Vec<u8>) {
        let next = match &self.body {
            PayloadBody::Sk(sk) => sk.first,
            PayloadBody::Skf(skf) => skf.first,
            _ => next,
        };
        out.push(next.0);
        out.push(if self.critical { CRITICAL } else { 0 });
        out.extend_from_slice(&len16(self.buffer_len(), "payload").to_be_bytes());
        self.body.emit_into(out);
    }
}

impl PayloadBody {
    /// The payload type.
    pub fn ty(&self) -> PayloadType {
        match self {
            PayloadBody::Sa(_) => PayloadType::SA,
            PayloadBody::Ke(_) => PayloadType::KE,
            PayloadBody::IdI(_) => PayloadType::IDI,
            PayloadBody::IdR(_) => PayloadType::IDR,
            PayloadBody::Cert(_) => PayloadType::CERT,
            PayloadBody::CertReq(_) => PayloadType::CERTREQ,
            PayloadBody::Auth(_) => PayloadType::AUTH,
            PayloadBody::Nonce(_) => PayloadType::NONCE,
            PayloadBody::Notify(_) => PayloadType::NOTIFY,
            PayloadBody::Delete(_) => PayloadType::DELETE,
            PayloadBody::VendorId(_) => PayloadType::VENDOR_ID,
            PayloadBody::TsI(_) => PayloadType::TSI,
            PayloadBody::TsR(_) => PayloadType::TSR,
            PayloadBody::Sk(_) => PayloadType::SK,
            PayloadBody::Cp(_) => PayloadType::CP,
            PayloadBody::Eap(_) => PayloadType::EAP,
            PayloadBody::Skf(_) => PayloadType::SKF,
            PayloadBody::Unknown { ty, .. } => *ty,
        }
    }

    /// Does this codec parse payloads of type `ty` into a typed variant?
    /// Other types become [`PayloadBody::Unknown`] (or, when critical, an
    /// UNSUPPORTED_CRITICAL_PAYLOAD error).
    pub fn is_known(ty: PayloadType) -> bool {
        matches!(
            ty,
            PayloadType::SA
                | PayloadType::KE
                | PayloadType::IDI
                | PayloadType::IDR
                | PayloadType::CERT
                | PayloadType::CERTREQ
                | PayloadType::AUTH
                | PayloadType::NONCE
                | PayloadType::NOTIFY
                | PayloadType::DELETE
                | PayloadType::VENDOR_ID
                | PayloadType::TSI
                | PayloadType::TSR
                | PayloadType::SK
                | PayloadType::CP
                | PayloadType::EAP
                | PayloadType::SKF
        )
    }

    /// Parses the body of a payload of type `ty` whose generic header had
    /// Next Payload `next` and critical bit `critical`.
    fn parse(
        ty: PayloadType,
        next: PayloadType,
        critical: bool,
        body: &[u8],
    ) -> Result<PayloadBody, WireError> {
        let part = Part::Payload(ty);
        let mut r = Reader::new(body, part);
        Ok(match ty {
            PayloadType::SA => PayloadBody::Sa(SaPayload::parse(body)?),
            // §3.4: DH Group Num, RESERVED (2), Key Exchange Data.
            PayloadType::KE => {
                let group = DhGroup(r.u16()?);
                let _reserved = r.take(2)?;
                PayloadBody::Ke(KePayload {
                    group,
                    data: r.rest().to_vec(),
                })
            }
            PayloadType::IDI => PayloadBody::IdI(Identification::parse(body, ty)?),
            PayloadType::IDR => PayloadBody::IdR(Identification::parse(body, ty)?),
            // §3.6 / §3.7: Cert Encoding, data.
            PayloadType::CERT => PayloadBody::Cert(CertPayload {
                encoding: CertEncoding(r.u8()?),
                data: r.rest().to_vec(),
            }),
            PayloadType::CERTREQ => PayloadBody::CertReq(CertReqPayload {
                encoding: CertEncoding(r.u8()?),
                data: r.rest().to_vec(),
            }),
            // §3.8: Auth Method, RESERVED (3), data.
            PayloadType::AUTH => {
                let method = AuthMethod(r.u8()?);
                let _reserved = r.take(3)?;
                PayloadBody::Auth(AuthPayload {
                    method,
                    data: r.rest().to_vec(),
                })
            }
            PayloadType::NONCE => PayloadBody::Nonce(NoncePayload {
                data: body.to_vec(),
            }),
            // §3.10: Protocol ID, SPI Size, Notify Message Type, SPI, data.
            PayloadType::NOTIFY => {
                let protocol = ProtocolId(r.u8()?);
                let spi_size = usize::from(r.u8()?);
                let nty = NotifyType(r.u16()?);
                let spi = r.take(spi_size)?.to_vec();
                PayloadBody::Notify(NotifyPayload {
                    protocol,
                    spi,
                    ty: nty,
                    data: r.rest().to_vec(),
                })
            }
            // §3.11: Protocol ID, SPI Size, Num of SPIs, SPIs.
            PayloadType::DELETE => {
                let protocol = ProtocolId(r.u8()?);
                let spi_size = r.u8()?;
                let count = r.u16()?;
                // At most 65535 * 255: no overflow in usize.
                let want = usize::from(count) * usize::from(spi_size);
                if r.remaining() != want {
                    return Err(WireError::BadLength {
                        part,
                        detail: "Num of SPIs times SPI Size is not the payload length",
                    });
                }
                if spi_size == 0 && count != 0 {
                    return Err(WireError::BadValue {
                        part,
                        detail: "SPIs counted but SPI Size is 0",
                    });
                }
                let spis = r
                    .rest()
                    .chunks_exact(usize::from(spi_size).max(1))
                    .map(<[u8]>::to_vec)
                    .collect();
                PayloadBody::Delete(DeletePayload {
                    protocol,
                    spi_size,
                    spis,
                })
            }
            PayloadType::VENDOR_ID => PayloadBody::VendorId(body.to_vec()),
            PayloadType::TSI => PayloadBody::TsI(TsPayload::parse(body, ty)?),
            PayloadType::TSR => PayloadBody::TsR(TsPayload::parse(body, ty)?),
            PayloadType::SK => PayloadBody::Sk(SkPayload {
                first: next,
                body: body.to_vec(),
            }),
            // §3.15: CFG Type, RESERVED (3), attributes.
            PayloadType::CP => {
                let cfg_type = CfgType(r.u8()?);
                let _reserved = r.take(3)?;
                let mut a = Reader::new(r.rest(), Part::CfgAttr);
                let mut attributes = Vec::new();
                while !a.is_empty() {
                    let t = a.u16()? & 0x7fff;
                    let len = usize::from(a.u16()?);
                    attributes.push(CfgAttr {
                        ty: CfgAttrType(t),
                        value: a.take(len)?.to_vec(),
                    });
                }
                PayloadBody::Cp(CpPayload {
                    cfg_type,
                    attributes,
                })
            }
            // §3.16 and RFC 3748 §4: Code, Identifier, Length, data; the EAP
            // Length must be the whole payload body.
            PayloadType::EAP => {
                let code = r.u8()?;
                let identifier = r.u8()?;
                let len = usize::from(r.u16()?);
                if len != body.len() {
                    return Err(WireError::BadLength {
                        part,
                        detail: "EAP Length is not the payload body length",
                    });
                }
                PayloadBody::Eap(EapPayload {
                    code,
                    identifier,
                    data: r.rest().to_vec(),
                })
            }
            // RFC 7383 §2.5: Fragment Number, Total Fragments, body.
            PayloadType::SKF => {
                let fragment_number = r.u16()?;
                let total_fragments = r.u16()?;
                if fragment_number == 0 || fragment_number > total_fragments {
                    return Err(WireError::BadValue {
                        part,
                        detail: "Fragment Number is 0 or above Total Fragments",
                    });
                }
                if fragment_number != 1 && next != PayloadType::NONE {
                    return Err(WireError::BadValue {
                        part,
                        detail: "Next Payload set in a fragment other than the first",
                    });
                }
                PayloadBody::Skf(SkfPayload {
                    first: next,
                    fragment_number,
                    total_fragments,
                    body: r.rest().to_vec(),
                })
            }
            // §2.5, §3.2: unknown critical payload rejects the message.
            ty if critical => return Err(WireError::UnsupportedCriticalPayload { ty }),
            ty => PayloadBody::Unknown {
                ty,
                data: body.to_vec(),
            },
        })
    }

    /// Encoded size of the body (without the generic header).
    pub fn buffer_len(&self) -> usize {
        match self {
            PayloadBody::Sa(sa) => sa.buffer_len(),
            PayloadBody::Ke(ke) => 4 + ke.data.len(),
            PayloadBody::IdI(id) | PayloadBody::IdR(id) => id.buffer_len(),
            PayloadBody::Cert(c) => 1 + c.data.len(),
            PayloadBody::CertReq(c) => 1 + c.data.len(),
            PayloadBody::Auth(a) => 4 + a.data.len(),
            PayloadBody::Nonce(n) => n.data.len(),
            PayloadBody::Notify(n) => 4 + n.spi.len() + n.data.len(),
            PayloadBody::Delete(d) => 4 + d.spis.iter().map(Vec::len).sum::<usize>(),
            PayloadBody::VendorId(v) => v.len(),
            PayloadBody::TsI(ts) | PayloadBody::TsR(ts) => ts.buffer_len(),
            PayloadBody::Sk(sk) => sk.body.len(),
            PayloadBody::Cp(cp) => {
                4 + cp
                    .attributes
                    .iter()
                    .map(|a| 4 + a.value.len())
                    .sum::<usize>()
            }
            PayloadBody::Eap(e) => 4 + e.data.len(),
            PayloadBody::Skf(f) => 4 + f.body.len(),
            PayloadBody::Unknown { data, .. } => data.len(),
        }
    }

    /// Appends the body (without the generic header).
    ///
    /// # Panics
    /// If a count, size or length does not fit its field, or a Delete SPI
    /// is not `spi_size` octets long.
    pub fn emit_into(&self, out: &mut Vec<u8>) {
        match self {
            PayloadBody::Sa(sa) => sa.emit_into(out),
            PayloadBody::Ke(ke) => {
                out.extend_from_slice(&ke.group.0.to_be_bytes());
                out.extend_from_slice(&[0; 2]);
                out.extend_from_slice(&ke.data);
            }
            PayloadBody::IdI(id) | PayloadBody::IdR(id) => id.emit_into(out),
            PayloadBody::Cert(c) => {
                out.push(c.encoding.0);
                out.extend_from_slice(&c.data);
            }
            PayloadBody::CertReq(c) => {
                out.push(c.encoding.0);
                out.extend_from_slice(&c.data);
            }
            PayloadBody::Auth(a) => {
                out.push(a.method.0);
                out.extend_from_slice(&[0; 3]);
                out.extend_from_slice(&a.data);
            }
            PayloadBody::Nonce(n) => out.extend_from_slice(&n.data),
            PayloadBody::Notify(n) => {
                out.push(n.protocol.0);
                out.push(len8(n.spi.len(), "notify SPI size"));
                out.extend_from_slice(&n.ty.0.to_be_bytes());
                out.extend_from_slice(&n.spi);
                out.extend_from_slice(&n.data);
            }
            PayloadBody::Delete(d) => {
                out.push(d.protocol.0);
                out.push(d.spi_size);
                out.extend_from_slice(&len16(d.spis.len(), "delete SPI count").to_be_bytes());
                for spi in &d.spis {
                    assert_eq!(
                        spi.len(),
                        usize::from(d.spi_size),
                        "delete payload SPI of the wrong size"
                    );
                    out.extend_from_slice(spi);
                }
            }
            PayloadBody::VendorId(v) => out.extend_from_slice(v),
            PayloadBody::TsI(ts) | PayloadBody::TsR(ts) => ts.emit_into(out),
            PayloadBody::Sk(sk) => out.extend_from_slice(&sk.body),
            PayloadBody::Cp(cp) => {
                out.push(cp.cfg_type.0);
                out.extend_from_slice(&[0; 3]);
                for a in &cp.attributes {
                    out.extend_from_slice(&(a.ty.0 & 0x7fff).to_be_bytes());
                    out.extend_from_slice(&len16(a.value.len(), "config attribute").to_be_bytes());
                    out.extend_from_slice(&a.value);
                }
            }
            PayloadBody::Eap(e) => {
                out.push(e.code);
                out.push(e.identifier);
                out.extend_from_slice(&len16(4 + e.data.len(), "EAP message").to_be_bytes());
                out.extend_from_slice(&e.data);
            }
            PayloadBody::Skf(f) => {
                out.extend_from_slice(&f.fragment_number.to_be_bytes());
                out.extend_from_slice(&f.total_fragments.to_be_bytes());
                out.extend_from_slice(&f.body);
            }
            PayloadBody::Unknown { data, .. } => out.extend_from_slice(data),
        }
    }
}

/// Is `ty` one of the payloads that must come last (SK, SKF)?
fn is_encrypted(ty: PayloadType) -> bool {
    ty == PayloadType::SK || ty == PayloadType::SKF
}

/// Parses a chain of payloads starting with one of type `first` that fills
/// `bytes` exactly: the payloads of a message after its header, or the
/// decrypted contents of an SK payload (without padding and Pad Length)
/// with `first` taken from [`SkPayload::first`].
///
/// Rules (RFC 7296 §3.2, §2.5, §3.14): every Payload Length is at least 4
/// and within `bytes`; an unknown payload with the critical bit fails with
/// [`WireError::UnsupportedCriticalPayload`], one without is kept as
/// [`PayloadBody::Unknown`]; an SK or SKF payload ends the chain and must
/// end `bytes` ([`WireError::EncryptedNotLast`]); bytes after the payload
/// whose Next Payload is NONE are an error.
pub fn parse_payload_chain(first: PayloadType, bytes: &[u8]) -> Result<Vec<Payload>, WireError> {
    let mut r = Reader::new(bytes, Part::PayloadHeader);
    let mut ty = first;
    let mut payloads = Vec::new();
    while ty != PayloadType::NONE {
        let mut hdr = Reader::new(r.peek(), Part::PayloadHeader);
        let next = PayloadType(hdr.u8()?);
        let critical = hdr.u8()? & CRITICAL != 0;
        let len = usize::from(hdr.u16()?);
        if len < 4 {
            return Err(WireError::BadLength {
                part: Part::PayloadHeader,
                detail: "Payload Length below 4",
            });
        }
        if len > r.remaining() {
            return Err(WireError::BadLength {
                part: Part::PayloadHeader,
                detail: "Payload Length overruns the message",
            });
        }
        let mut whole = Reader::new(r.take(len)?, Part::PayloadHeader);
        whole.take(4)?;
        let body = PayloadBody::parse(ty, next, critical, whole.rest())?;
        payloads.push(Payload { critical, body });
        if is_encrypted(ty) {
            if !r.is_empty() {
                return Err(WireError::EncryptedNotLast { ty });
            }
            return Ok(payloads);
        }
        ty = next;
    }
    if !r.is_empty() {
        return Err(WireError::BadLength {
            part: Part::PayloadHeader,
            detail: "bytes after the last payload",
        });
    }
    Ok(payloads)
}

/// Encoded size of a payload chain.
pub fn payload_chain_len(payloads: &[Payload]) -> usize {
    payloads.iter().map(Payload::buffer_len).sum()
}

/// Whether [`emit_payload_chain`] can encode `payloads`: each passes
/// [`Payload::check`] and an SK or SKF payload, if any, is last (§3.14).
pub fn check_payload_chain(payloads: &[Payload]) -> Result<(), WireError> {
    for (i, p) in payloads.iter().enumerate() {
        p.check()?;
        if is_encrypted(p.ty()) && i + 1 != payloads.len() {
            return Err(WireError::EncryptedNotLast { ty: p.ty() });
        }
    }
    Ok(())
}

/// [`emit_payload_chain`] after [`check_payload_chain`]: never panics.
pub fn try_emit_payload_chain(
    payloads: &[Payload],
    out: &mut Vec<u8>,
) -> Result<PayloadType, WireError> {
    check_payload_chain(payloads)?;
    Ok(emit_payload_chain(payloads, out))
}

/// Appends a chain of payloads, linking their Next Payload fields, and
/// returns the type of the first (NONE for an empty chain): what goes in
/// the IKE header, or in the SK payload's Next Payload for an inner chain.
///
/// # Panics
/// If an SK or SKF payload is not the last one (§3.14), or a payload
/// violates a size limit of its type.
pub fn emit_payload_chain(payloads: &[Payload], out: &mut Vec<u8>) -> PayloadType {
    for (i, p) in payloads.iter().enumerate() {
        let next = match payloads.get(i + 1) {
            Some(n) => {
                assert!(
                    !is_encrypted(p.ty()),
                    "an SK/SKF payload must be the last payload (RFC 7296 §3.14)"
                );
                n.ty()
            }
            None => PayloadType::NONE,
        };
        p.emit_into(next, out);
    }
    payloads.first().map_or(PayloadType::NONE, Payload::ty)
}
