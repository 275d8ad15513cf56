//! A bounds-checked cursor over untrusted bytes and a few emit helpers.
//!
//! Every read returns `Result`; nothing here indexes or slices without a
//! check, so a parser built on it cannot panic on any input.

use super::error::{Part, WireError};

/// A cursor over a byte slice; reads fail with [`WireError::Truncated`]
/// naming `part` instead of panicking.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    part: Part,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8], part: Part) -> Self {
        Reader { buf, part }
    }

    /// Bytes not yet read.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// The unread bytes, without consuming them.
    pub(crate) fn peek(&self) -> &'a [u8] {
        self.buf
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Takes the next `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        match self.buf.split_at_checked(n) {
            Some((head, tail)) => {
                self.buf = tail;
                Ok(head)
            }
            None => Err(WireError::Truncated {
                part: self.part,
                needed: n,
                available: self.buf.len(),
            }),
        }
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16, WireError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, WireError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// Takes everything left.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.buf)
    }
}

/// Converts an emitted length to its 16-bit field.
///
/// # Panics
/// When `n` does not fit: the representation being emitted violates a
/// documented size limit. Parsed values never do.
pub(crate) fn len16(n: usize, what: &str) -> u16 {
    match u16::try_from(n) {
        Ok(v) => v,
        Err(_) => panic!("{what}: length {n} does not fit its 16-bit field"),
    }
}

/// Converts an emitted count or size to its 8-bit field (see [`len16`]).
pub(crate) fn len8(n: usize, what: &str) -> u8 {
    match u8::try_from(n) {
        Ok(v) => v,
        Err(_) => panic!("{what}: {n} does not fit its 8-bit field"),
    }
}
