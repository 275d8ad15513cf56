//! The negotiated algorithms of one SA, from a selected proposal.

use super::{CryptoError, Encr, Integ, KeyExchange, Prf};
use crate::wire::{DhGroup, EsnId, IntegId, PrfId, Proposal, ProtocolId, Transform, TransformType};

/// The algorithms of a selected proposal (exactly one transform per type),
/// with the key lengths derivation needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Suite {
    /// IKE or ESP.
    pub protocol: ProtocolId,
    /// Encryption (with its key length).
    pub encr: Encr,
    /// PRF: always present for IKE, absent for ESP.
    pub prf: Option<Prf>,
    /// Integrity: present iff `encr` is not an AEAD.
    pub integ: Option<Integ>,
    /// Key exchange method (absent, or NONE, in an ESP proposal without
    /// PFS).
    pub ke: Option<DhGroup>,
    /// ESP only: extended sequence numbers.
    pub esn: Option<bool>,
}

fn single(p: &Proposal, ty: TransformType) -> Result<Option<&Transform>, CryptoError> {
    let mut it = p.transforms.iter().filter(|t| t.ty == ty);
    let first = it.next();
    if it.next().is_some() {
        return Err(CryptoError::BadProposal(
            "a selected proposal has exactly one transform of each type",
        ));
    }
    Ok(first)
}

impl Suite {
    /// The suite of a selected (single-choice) IKE or ESP proposal.
    pub fn from_proposal(p: &Proposal) -> Result<Self, CryptoError> {
        if p.protocol != ProtocolId::IKE && p.protocol != ProtocolId::ESP {
            return Err(CryptoError::BadProposal(
                "only IKE and ESP proposals are supported",
            ));
        }
        let is_ike = p.protocol == ProtocolId::IKE;
        let encr = match single(p, TransformType::ENCR)? {
            Some(t) => Encr::from_transform(t)?,
            None => return Err(CryptoError::BadProposal("no encryption transform")),
        };
        let prf = match single(p, TransformType::PRF)? {
            Some(t) if is_ike => Some(Prf::from_id(PrfId(t.id))?),
            Some(_) => return Err(CryptoError::BadProposal("PRF transform in an ESP proposal")),
            None if is_ike => {
                return Err(CryptoError::BadProposal(
                    "no PRF transform in an IKE proposal",
                ))
            }
            None => None,
        };
        let integ = match single(p, TransformType::INTEG)? {
            Some(t) => Integ::from_id(IntegId(t.id))?,
            None => None,
        };
        match (encr.is_aead(), integ) {
            (true, Some(_)) => {
                return Err(CryptoError::BadProposal(
                    "AEAD encryption with an integrity transform (RFC 7296 §3.3)",
                ))
            }
            (false, None) => {
                return Err(CryptoError::BadProposal(
                    "AES-CBC without an integrity transform",
                ))
            }
            _ => {}
        }
        let ke = match single(p, TransformType::KE)? {
            Some(t) if t.id == DhGroup::NONE.0 => None,
            Some(t) => {
                let g = DhGroup(t.id);
                if !KeyExchange::is_supported(g) {
                    return Err(CryptoError::UnsupportedGroup(g));
                }
                Some(g)
            }
            None => None,
        };
        if is_ike && ke.is_none() {
            return Err(CryptoError::BadProposal(
                "no key exchange method in an IKE proposal",
            ));
        }
        let esn = match single(p, TransformType::ESN)? {
            Some(_) if is_ike => {
                return Err(CryptoError::BadProposal("ESN transform in an IKE proposal"))
            }
            Some(t) => match EsnId(t.id) {
                EsnId::NO_ESN => Some(false),
                EsnId::ESN => Some(true),
                _ => {
                    return Err(CryptoError::UnsupportedTransform {
                        ty: TransformType::ESN,
                        id: t.id,
                        detail: None,
                    })
                }
            },
            None if is_ike => None,
            None => Some(false),
        };
        if is_ike {
            if let Encr::AesGcm16 { key_bits: 192 } = encr {
                return Err(CryptoError::UnsupportedTransform {
                    ty: TransformType::ENCR,
                    id: encr.id().0,
                    detail: Some("AES-GCM-16 with a 192-bit key is not supported for IKE"),
                });
            }
        }
        Ok(Suite {
            protocol: p.protocol,
            encr,
            prf,
            integ,
            ke,
            esn,
        })
    }

    /// SK_e* / ESP encryption key length (with the AEAD salt).
    pub fn encr_key_len(&self) -> usize {
        self.encr.key_len()
    }

    /// SK_a* / ESP integrity key length (0 for AEAD).
    pub fn integ_key_len(&self) -> usize {
        self.integ.map_or(0, Integ::key_len)
    }

    /// SK_d, SK_pi, SK_pr length (0 without a PRF).
    pub fn prf_key_len(&self) -> usize {
        self.prf.map_or(0, Prf::key_len)
    }

    /// Total IKE SA keying material: SK_d | SK_ai | SK_ar | SK_ei | SK_er |
    /// SK_pi | SK_pr.
    pub fn ike_keymat_len(&self) -> usize {
        3 * self.prf_key_len() + 2 * self.integ_key_len() + 2 * self.encr_key_len()
    }

    /// Total CHILD SA (ESP) keying material: encr_i | integ_i | encr_r |
    /// integ_r.
    pub fn child_keymat_len(&self) -> usize {
        2 * (self.encr_key_len() + self.integ_key_len())
    }
}
