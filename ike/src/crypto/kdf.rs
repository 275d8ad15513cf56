//! Key derivation (RFC 7296 §2.13, §2.14, §2.17, §2.18).
//!
//! The HMAC PRFs take keys of any length, so SKEYSEED = prf(Ni | Nr, g^ir)
//! uses the nonce concatenation as the key as is. For the PRFs with a fixed
//! key size (AES-XCBC, AES-CMAC: 128 bits) §2.14 takes half the key from
//! each nonce: the first 64 bits of Ni and of Nr.

use super::{CryptoError, Prf, SecretBytes, SkCipher, Suite};

/// SKEYSEED = prf(Ni | Nr, g^ir) (RFC 7296 §2.14).
pub fn skeyseed(prf: Prf, ni: &[u8], nr: &[u8], g_ir: &[u8]) -> SecretBytes {
    let (ni, nr) = if prf.fixed_key() {
        let half = prf.key_len() / 2;
        (&ni[..ni.len().min(half)], &nr[..nr.len().min(half)])
    } else {
        (ni, nr)
    };
    let mut key = Vec::with_capacity(ni.len() + nr.len());
    key.extend_from_slice(ni);
    key.extend_from_slice(nr);
    SecretBytes::new(prf.compute(&key, g_ir))
}

/// SKEYSEED of a rekeyed IKE SA = prf(SK_d (old), g^ir (new) | Ni | Nr)
/// (RFC 7296 §2.18), computed with the PRF of the *old* IKE SA. Ni and Nr
/// are the nonces of the CREATE_CHILD_SA exchange.
pub fn rekey_skeyseed(
    old_prf: Prf,
    old_sk_d: &[u8],
    g_ir_new: &[u8],
    ni: &[u8],
    nr: &[u8],
) -> SecretBytes {
    SecretBytes::new(old_prf.compute_parts(old_sk_d, &[g_ir_new, ni, nr]))
}

/// The seven IKE SA keys (RFC 7296 §2.14). Zeroized on drop; `Debug` shows
/// only lengths. SK_ai/SK_ar are empty for AEAD suites, whose SK_ei/SK_er
/// include the 4-byte salt.
#[derive(Clone, Debug)]
pub struct IkeKeys {
    /// Derives CHILD SA keys and the next SKEYSEED.
    pub sk_d: SecretBytes,
    /// Integrity key, initiator to responder.
    pub sk_ai: SecretBytes,
    /// Integrity key, responder to initiator.
    pub sk_ar: SecretBytes,
    /// Encryption key (with salt for AEAD), initiator to responder.
    pub sk_ei: SecretBytes,
    /// Encryption key (with salt for AEAD), responder to initiator.
    pub sk_er: SecretBytes,
    /// Key for the initiator's AUTH payload (§2.15).
    pub sk_pi: SecretBytes,
    /// Key for the responder's AUTH payload (§2.15).
    pub sk_pr: SecretBytes,
}

impl IkeKeys {
    /// {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr}
    ///     = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr)   (RFC 7296 §2.14)
    ///
    /// For a rekeyed IKE SA (§2.18) pass the SKEYSEED from
    /// [`rekey_skeyseed`], the new SA's suite, the CREATE_CHILD_SA nonces and
    /// the new SPIs.
    pub fn derive(
        suite: &Suite,
        skeyseed: &[u8],
        ni: &[u8],
        nr: &[u8],
        spi_i: &[u8],
        spi_r: &[u8],
    ) -> Result<Self, CryptoError> {
        let prf = suite
            .prf
            .ok_or(CryptoError::BadProposal("IKE suite without a PRF"))?;
        let mut seed = Vec::with_capacity(ni.len() + nr.len() + spi_i.len() + spi_r.len());
        for part in [ni, nr, spi_i, spi_r] {
            seed.extend_from_slice(part);
        }
        let keymat = prf.prf_plus(skeyseed, &seed, suite.ike_keymat_len())?;
        let mut rest = keymat.as_bytes();
        let mut take = |n: usize| {
            let (k, r) = rest.split_at(n);
            rest = r;
            SecretBytes::from_slice(k)
        };
        let (p, a, e) = (
            suite.prf_key_len(),
            suite.integ_key_len(),
            suite.encr_key_len(),
        );
        Ok(IkeKeys {
            sk_d: take(p),
            sk_ai: take(a),
            sk_ar: take(a),
            sk_ei: take(e),
            sk_er: take(e),
            sk_pi: take(p),
            sk_pr: take(p),
        })
    }

    /// SKEYSEED and the keys of a new IKE SA from IKE_SA_INIT.
    pub fn from_shared_secret(
        suite: &Suite,
        g_ir: &[u8],
        ni: &[u8],
        nr: &[u8],
        spi_i: &[u8],
        spi_r: &[u8],
    ) -> Result<Self, CryptoError> {
        let prf = suite
            .prf
            .ok_or(CryptoError::BadProposal("IKE suite without a PRF"))?;
        let seed = skeyseed(prf, ni, nr, g_ir);
        Self::derive(suite, seed.as_bytes(), ni, nr, spi_i, spi_r)
    }

    /// The SK payload ciphers `(outbound, inbound)` for our role: the
    /// initiator sends with SK_ei/SK_ai and receives with SK_er/SK_ar.
    pub fn sk_ciphers(
        &self,
        suite: &Suite,
        we_are_initiator: bool,
    ) -> Result<(SkCipher, SkCipher), CryptoError> {
        let i = SkCipher::new(
            suite.encr,
            suite.integ,
            self.sk_ei.as_bytes(),
            self.sk_ai.as_bytes(),
        )?;
        let r = SkCipher::new(
            suite.encr,
            suite.integ,
            self.sk_er.as_bytes(),
            self.sk_ar.as_bytes(),
        )?;
        Ok(if we_are_initiator { (i, r) } else { (r, i) })
    }
}

/// The keys of one CHILD SA (ESP): `*_i` protect traffic from the initiator
/// of the exchange that created it, `*_r` the other way (RFC 7296 §2.17).
#[derive(Clone, Debug)]
pub struct ChildKeys {
    /// Encryption key (with salt for AEAD), initiator to responder.
    pub encr_i: SecretBytes,
    /// Integrity key, initiator to responder (empty for AEAD).
    pub integ_i: SecretBytes,
    /// Encryption key (with salt for AEAD), responder to initiator.
    pub encr_r: SecretBytes,
    /// Integrity key, responder to initiator (empty for AEAD).
    pub integ_r: SecretBytes,
}

impl ChildKeys {
    /// KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr) (RFC 7296 §2.17), split
    /// as encr_i | integ_i | encr_r | integ_r for the ESP suite `esp`.
    /// `prf` is the IKE SA's PRF; `g_ir_new` is the PFS shared secret of a
    /// CREATE_CHILD_SA with KE payloads.
    pub fn derive(
        prf: Prf,
        sk_d: &[u8],
        g_ir_new: Option<&[u8]>,
        ni: &[u8],
        nr: &[u8],
        esp: &Suite,
    ) -> Result<Self, CryptoError> {
        let mut seed = Vec::new();
        if let Some(g) = g_ir_new {
            seed.extend_from_slice(g);
        }
        seed.extend_from_slice(ni);
        seed.extend_from_slice(nr);
        let keymat = prf.prf_plus(sk_d, &seed, esp.child_keymat_len())?;
        let (e, a) = (esp.encr_key_len(), esp.integ_key_len());
        let k = keymat.as_bytes();
        Ok(ChildKeys {
            encr_i: SecretBytes::from_slice(&k[..e]),
            integ_i: SecretBytes::from_slice(&k[e..e + a]),
            encr_r: SecretBytes::from_slice(&k[e + a..2 * e + a]),
            integ_r: SecretBytes::from_slice(&k[2 * e + a..]),
        })
    }
}
