//! Identification payloads IDi and IDr (RFC 7296 §3.5).

use std::borrow::Cow;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::error::{Part, WireError};
use super::reader::Reader;
use super::registry::{IdType, PayloadType};

/// The body of an IDi or IDr payload (RFC 7296 §3.5).
///
/// The string and DER forms keep the octets exactly as received (no UTF-8
/// or ASN.1 check here), so emission is byte-exact. Types without a variant
/// of their own are kept in [`Identification::Other`]; an `Other` carrying
/// one of the typed ID types emits correctly but parses back as the typed
/// variant.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Identification {
    /// ID_IPV4_ADDR: exactly four octets.
    Ipv4(Ipv4Addr),
    /// ID_IPV6_ADDR: exactly sixteen octets.
    Ipv6(Ipv6Addr),
    /// ID_FQDN: a fully qualified domain name, no terminator.
    Fqdn(Vec<u8>),
    /// ID_RFC822_ADDR: an email-style address, no terminator.
    Rfc822(Vec<u8>),
    /// ID_DER_ASN1_DN: a DER-encoded X.500 Distinguished Name.
    DerAsn1Dn(Vec<u8>),
    /// ID_KEY_ID: opaque octets.
    KeyId(Vec<u8>),
    /// Any other ID Type (DER_ASN1_GN, FC_NAME, NULL, unassigned, ...).
    Other {
        /// The ID Type.
        ty: IdType,
        /// The Identification Data.
        data: Vec<u8>,
    },
}

impl Identification {
    /// The ID Type.
    pub fn ty(&self) -> IdType {
        match self {
            Identification::Ipv4(_) => IdType::IPV4_ADDR,
            Identification::Ipv6(_) => IdType::IPV6_ADDR,
            Identification::Fqdn(_) => IdType::FQDN,
            Identification::Rfc822(_) => IdType::RFC822_ADDR,
            Identification::DerAsn1Dn(_) => IdType::DER_ASN1_DN,
            Identification::KeyId(_) => IdType::KEY_ID,
            Identification::Other { ty, .. } => *ty,
        }
    }

    /// The Identification Data octets.
    pub fn data(&self) -> Cow<'_, [u8]> {
        match self {
            Identification::Ipv4(a) => Cow::Owned(a.octets().to_vec()),
            Identification::Ipv6(a) => Cow::Owned(a.octets().to_vec()),
            Identification::Fqdn(d)
            | Identification::Rfc822(d)
            | Identification::DerAsn1Dn(d)
            | Identification::KeyId(d)
            | Identification::Other { data: d, .. } => Cow::Borrowed(d),
        }
    }

    /// Parses a payload body (ID Type, RESERVED, data). A wrong-sized
    /// IPv4/IPv6 address is a syntax error.
    pub fn parse(body: &[u8], payload: PayloadType) -> Result<Identification, WireError> {
        let part = Part::Payload(payload);
        let mut r = Reader::new(body, part);
        let ty = IdType(r.u8()?);
        let _reserved = r.take(3)?;
        let data = r.rest();
        let bad_len = WireError::BadLength {
            part,
            detail: "address identity of the wrong size",
        };
        Ok(match ty {
            IdType::IPV4_ADDR => {
                let a: [u8; 4] = data.try_into().map_err(|_| bad_len)?;
                Identification::Ipv4(a.into())
            }
            IdType::IPV6_ADDR => {
                let a: [u8; 16] = data.try_into().map_err(|_| bad_len)?;
                Identification::Ipv6(a.into())
            }
            IdType::FQDN => Identification::Fqdn(data.to_vec()),
            IdType::RFC822_ADDR => Identification::Rfc822(data.to_vec()),
            IdType::DER_ASN1_DN => Identification::DerAsn1Dn(data.to_vec()),
            IdType::KEY_ID => Identification::KeyId(data.to_vec()),
            ty => Identification::Other {
                ty,
                data: data.to_vec(),
            },
        })
    }

    /// Encoded size of the body.
    pub fn buffer_len(&self) -> usize {
        4 + self.data().len()
    }

    /// Appends the body: what RFC 7296 §2.15 calls RestOfInitIDPayload /
    /// RestOfRespIDPayload and signs in the AUTH payload.
    pub fn emit_into(&self, out: &mut Vec<u8>) {
        out.push(self.ty().0);
        out.extend_from_slice(&[0; 3]);
        out.extend_from_slice(&self.data());
    }

    /// The body as a new vector (see [`Identification::emit_into`]).
    pub fn to_body(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.buffer_len());
        self.emit_into(&mut v);
        v
    }
}
