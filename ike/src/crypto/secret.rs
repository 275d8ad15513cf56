//! Byte strings holding key material: zeroized on drop, redacted in Debug.

use core::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Secret bytes (keys, shared secrets, SKEYSEED, ...).
///
/// The buffer is zeroized when the value is dropped, and `Debug` prints only
/// `[redacted]` with the length. There is deliberately no `PartialEq`: use
/// [`SecretBytes::ct_eq`], which does not stop at the first differing byte.
#[derive(Clone, Default, Zeroize, ZeroizeOnDrop)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    /// Takes ownership of `bytes`.
    pub fn new(bytes: Vec<u8>) -> Self {
        SecretBytes(bytes)
    }

    /// Copies `bytes`.
    pub fn from_slice(bytes: &[u8]) -> Self {
        SecretBytes(bytes.to_vec())
    }

    /// The secret bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when empty (e.g. SK_ai for an AEAD suite).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Compares with `other` without an early exit on the first difference.
    pub fn ct_eq(&self, other: &[u8]) -> bool {
        ct_eq(&self.0, other)
    }
}

impl AsRef<[u8]> for SecretBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[redacted; {} bytes]", self.0.len())
    }
}

/// Equality of two byte strings whose running time depends only on their
/// lengths (lengths are not secret: ICV and AUTH lengths are fixed by the
/// negotiated transforms).
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // Keep the optimizer from turning the fold into an early exit.
    core::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = SecretBytes::from_slice(&[0x41; 16]);
        let d = format!("{s:?}");
        assert_eq!(d, "[redacted; 16 bytes]");
        assert!(!d.contains("41"));
    }

    #[test]
    fn ct_eq_works() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
        assert!(ct_eq(b"", b""));
    }
}
