//! Security Association payload (RFC 7296 §3.3): proposals, transforms and
//! transform attributes.

use super::registry::{ProtocolId, TransformAttrType, TransformType};

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
