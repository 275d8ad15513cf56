//! Security Association payload (RFC 7296 §3.3): proposals, transforms and
//! transform attributes.

use super::error::{fits16, fits8};
use super::error::{Part, WireError};
use super::reader::{len16, len8, Reader};
use super::registry::{PayloadType, ProtocolId, TransformAttrType, TransformType};

/// The SA payload body: one or more proposals (RFC 7296 §3.3).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SaPayload {
    /// Proposals in order of preference; numbered from 1 (§3.3.1).
    pub proposals: Vec<Proposal>,
}

/// One Proposal substructure (RFC 7296 §3.3.1).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Proposal {
    /// Proposal Num: 1 for the first, increasing by one (§3.3.1).
    pub num: u8,
    /// IKE, AH or ESP.
    pub protocol: ProtocolId,
    /// The sender's SPI: empty in an initial IKE_SA_INIT, 8 bytes for an IKE
    /// SA rekey, 4 bytes for ESP and AH.
    pub spi: Vec<u8>,
    /// Transforms; several of one type mean "any of these" (§3.3.6).
    pub transforms: Vec<Transform>,
}

/// One Transform substructure (RFC 7296 §3.3.2).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Transform {
    /// ENCR, PRF, INTEG, KE or ESN.
    pub ty: TransformType,
    /// The Transform ID; its registry depends on `ty`.
    pub id: u16,
    /// Attributes, of which RFC 7296 defines only Key Length (§3.3.5).
    pub attributes: Vec<TransformAttr>,
}

/// A transform attribute (RFC 7296 §3.3.5): TV when the AF bit is set,
/// TLV otherwise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransformAttr {
    /// Attribute Format bit set: a two-byte value.
    Tv {
        /// Attribute type (without the AF bit).
        ty: TransformAttrType,
        /// The value.
        value: u16,
    },
    /// Attribute Format bit clear: a length and a variable value.
    Tlv {
        /// Attribute type (without the AF bit).
        ty: TransformAttrType,
        /// The value.
        value: Vec<u8>,
    },
}

impl Transform {
    /// A transform without attributes.
    pub fn new(ty: TransformType, id: u16) -> Self {
        Transform {
            ty,
            id,
            attributes: Vec::new(),
        }
    }

    /// A transform with a Key Length attribute (§3.3.5), as AES needs.
    pub fn with_key_length(ty: TransformType, id: u16, bits: u16) -> Self {
        Transform {
            ty,
            id,
            attributes: vec![TransformAttr::Tv {
                ty: TransformAttrType::KEY_LENGTH,
                value: bits,
            }],
        }
    }

    /// The Key Length attribute in bits, if present (§3.3.5).
    pub fn key_length(&self) -> Option<u16> {
        self.attributes.iter().find_map(|a| match a {
            TransformAttr::Tv { ty, value } if *ty == TransformAttrType::KEY_LENGTH => Some(*value),
            _ => None,
        })
    }
}

// ---------------------------------------------------------------------------
// Codec (RFC 7296 §3.3).

/// Last Substruc value of a proposal followed by another (§3.3.1).
const MORE_PROPOSALS: u8 = 2;
/// Last Substruc value of a transform followed by another (§3.3.2).
const MORE_TRANSFORMS: u8 = 3;
/// The Attribute Format bit: TV when set (§3.3.5).
const AF: u16 = 0x8000;

/// Splits the next substructure (Last Substruc, RESERVED, Length, ...) off
/// `r`: checks that its Length is at least `min` and fits, and that Last
/// Substruc is 0 exactly when nothing follows and `more` otherwise.
fn substructure<'a>(
    r: &mut Reader<'a>,
    part: Part,
    min: usize,
    more: u8,
) -> Result<&'a [u8], WireError> {
    let mut peek = Reader::new(r.peek(), part);
    let last = peek.u8()?;
    let _reserved = peek.u8()?;
    let len = usize::from(peek.u16()?);
    if len < min {
        return Err(WireError::BadLength {
            part,
            detail: "length below the fixed part",
        });
    }
    if len > r.remaining() {
        return Err(WireError::BadLength {
            part,
            detail: "length overruns the enclosing structure",
        });
    }
    let whole = r.take(len)?;
    let expect = if r.is_empty() { 0 } else { more };
    if last != expect {
        return Err(WireError::BadValue {
            part,
            detail: if last == 0 || last == more {
                "Last Substruc disagrees with the length"
            } else {
                "Last Substruc is neither 0 nor the 'more' value"
            },
        });
    }
    Ok(whole)
}

impl SaPayload {
    /// Parses the body of an SA payload (after the generic header),
    /// checking that lengths, Last Substruc fields and transform counts
    /// are consistent (§3.3: "an implementation MUST check that the total
    /// Payload Length is consistent with the payload's internal lengths and
    /// counts"). An empty body gives no proposals; whether that is
    /// acceptable is for the proposal logic to say.
    pub fn parse(body: &[u8]) -> Result<SaPayload, WireError> {
        let mut r = Reader::new(body, Part::Payload(PayloadType::SA));
        let mut proposals = Vec::new();
        while !r.is_empty() {
            let bytes = substructure(&mut r, Part::Proposal, 8, MORE_PROPOSALS)?;
            proposals.push(Proposal::parse(bytes)?);
        }
        Ok(SaPayload { proposals })
    }

    /// Encoded size of the body.
    pub fn buffer_len(&self) -> usize {
        self.proposals.iter().map(Proposal::buffer_len).sum()
    }

    /// Whether [`SaPayload::emit_into`] can encode it (the limits below).
    pub fn check(&self) -> Result<(), WireError> {
        self.proposals.iter().try_for_each(Proposal::check)
    }

    /// Appends the body.
    ///
    /// # Panics
    /// If a proposal has more than 255 transforms or an SPI longer than
    /// 255 octets, or a structure exceeds 65535 octets (what
    /// [`SaPayload::check`] refuses).
    pub fn emit_into(&self, out: &mut Vec<u8>) {
        let n = self.proposals.len();
        for (i, p) in self.proposals.iter().enumerate() {
            p.emit_into(out, i + 1 == n);
        }
    }
}

impl Proposal {
    fn parse(bytes: &[u8]) -> Result<Proposal, WireError> {
        let mut r = Reader::new(bytes, Part::Proposal);
        r.take(4)?; // Last Substruc, RESERVED, Proposal Length: checked by `substructure`.
        let num = r.u8()?;
        let protocol = ProtocolId(r.u8()?);
        let spi_size = usize::from(r.u8()?);
        let count = usize::from(r.u8()?);
        let spi = r.take(spi_size)?.to_vec();
        let mut transforms = Vec::new();
        while !r.is_empty() {
            let t = substructure(&mut r, Part::Transform, 8, MORE_TRANSFORMS)?;
            transforms.push(Transform::parse(t)?);
        }
        if transforms.len() != count {
            return Err(WireError::BadValue {
                part: Part::Proposal,
                detail: "Num Transforms disagrees with the transforms present",
            });
        }
        Ok(Proposal {
            num,
            protocol,
            spi,
            transforms,
        })
    }

    fn buffer_len(&self) -> usize {
        8 + self.spi.len()
            + self
                .transforms
                .iter()
                .map(Transform::buffer_len)
                .sum::<usize>()
    }

    fn check(&self) -> Result<(), WireError> {
        fits16(
            self.buffer_len(),
            Part::Proposal,
            "proposal longer than 65535 octets",
        )?;
        fits8(self.spi.len(), Part::Proposal, "SPI longer than 255 octets")?;
        fits8(
            self.transforms.len(),
            Part::Proposal,
            "more than 255 transforms",
        )?;
        self.transforms.iter().try_for_each(Transform::check)
    }

    fn emit_into(&self, out: &mut Vec<u8>, last: bool) {
        out.push(if last { 0 } else { MORE_PROPOSALS });
        out.push(0);
        out.extend_from_slice(&len16(self.buffer_len(), "proposal").to_be_bytes());
        out.push(self.num);
        out.push(self.protocol.0);
        out.push(len8(self.spi.len(), "proposal SPI size"));
        out.push(len8(self.transforms.len(), "proposal transform count"));
        out.extend_from_slice(&self.spi);
        let n = self.transforms.len();
        for (i, t) in self.transforms.iter().enumerate() {
            t.emit_into(out, i + 1 == n);
        }
    }
}

impl Transform {
    fn parse(bytes: &[u8]) -> Result<Transform, WireError> {
        let mut r = Reader::new(bytes, Part::Transform);
        r.take(4)?; // checked by `substructure`
        let ty = TransformType(r.u8()?);
        let _reserved = r.u8()?;
        let id = r.u16()?;
        let mut a = Reader::new(r.rest(), Part::TransformAttr);
        let mut attributes = Vec::new();
        while !a.is_empty() {
            let t = a.u16()?;
            let ty = TransformAttrType(t & !AF);
            if t & AF != 0 {
                attributes.push(TransformAttr::Tv {
                    ty,
                    value: a.u16()?,
                });
            } else {
                let len = usize::from(a.u16()?);
                attributes.push(TransformAttr::Tlv {
                    ty,
                    value: a.take(len)?.to_vec(),
                });
            }
        }
        Ok(Transform { ty, id, attributes })
    }

    fn buffer_len(&self) -> usize {
        8 + self
            .attributes
            .iter()
            .map(TransformAttr::buffer_len)
            .sum::<usize>()
    }

    fn check(&self) -> Result<(), WireError> {
        fits16(
            self.buffer_len(),
            Part::Transform,
            "transform longer than 65535 octets",
        )?;
        for a in &self.attributes {
            if let TransformAttr::Tlv { value, .. } = a {
                fits16(
                    value.len(),
                    Part::TransformAttr,
                    "attribute value over 65535 octets",
                )?;
            }
        }
        Ok(())
    }

    fn emit_into(&self, out: &mut Vec<u8>, last: bool) {
        out.push(if last { 0 } else { MORE_TRANSFORMS });
        out.push(0);
        out.extend_from_slice(&len16(self.buffer_len(), "transform").to_be_bytes());
        out.push(self.ty.0);
        out.push(0);
        out.extend_from_slice(&self.id.to_be_bytes());
        for a in &self.attributes {
            a.emit_into(out);
        }
    }
}

impl TransformAttr {
    fn buffer_len(&self) -> usize {
        match self {
            TransformAttr::Tv { .. } => 4,
            TransformAttr::Tlv { value, .. } => 4 + value.len(),
        }
    }

    /// The attribute type's top bit is the AF bit: only the low 15 bits of
    /// `ty` are emitted.
    fn emit_into(&self, out: &mut Vec<u8>) {
        match self {
            TransformAttr::Tv { ty, value } => {
                out.extend_from_slice(&(AF | ty.0).to_be_bytes());
                out.extend_from_slice(&value.to_be_bytes());
            }
            TransformAttr::Tlv { ty, value } => {
                out.extend_from_slice(&(ty.0 & !AF).to_be_bytes());
                out.extend_from_slice(&len16(value.len(), "transform attribute").to_be_bytes());
                out.extend_from_slice(value);
            }
        }
    }
}
