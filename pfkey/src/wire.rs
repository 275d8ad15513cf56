//! Bounds-checked byte reader and a little writer. Kernel structures use host
//! byte order except where noted (SPIs, ports and addresses are big-endian).
#![forbid(unsafe_code)]

use crate::error::ParseError;

#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8], what: &'static str) -> Self {
        Reader { buf, pos: 0, what }
    }
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }
    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], ParseError> {
        if self.remaining() < n {
            return Err(ParseError::Truncated {
                what: self.what,
                need: self.pos.saturating_add(n),
                have: self.buf.len(),
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let s = &self.buf[self.pos..];
        self.pos = self.buf.len();
        s
    }
    pub(crate) fn skip(&mut self, n: usize) -> Result<(), ParseError> {
        self.bytes(n).map(|_| ())
    }
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], ParseError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.bytes(N)?);
        Ok(a)
    }
    pub(crate) fn u8(&mut self) -> Result<u8, ParseError> {
        Ok(self.bytes(1)?[0])
    }
    pub(crate) fn u16(&mut self) -> Result<u16, ParseError> {
        Ok(u16::from_ne_bytes(self.array()?))
    }
    pub(crate) fn u16_be(&mut self) -> Result<u16, ParseError> {
        Ok(u16::from_be_bytes(self.array()?))
    }
    pub(crate) fn u32(&mut self) -> Result<u32, ParseError> {
        Ok(u32::from_ne_bytes(self.array()?))
    }
    pub(crate) fn u32_be(&mut self) -> Result<u32, ParseError> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    // Only the netlink codecs (Linux) read signed integers.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub(crate) fn i32(&mut self) -> Result<i32, ParseError> {
        Ok(i32::from_ne_bytes(self.array()?))
    }
    pub(crate) fn u64(&mut self) -> Result<u64, ParseError> {
        Ok(u64::from_ne_bytes(self.array()?))
    }
}

/// Appends host-order integers; `pad_to` aligns with zero bytes.
pub(crate) trait Put {
    fn put_u8(&mut self, v: u8);
    fn put_u16(&mut self, v: u16);
    fn put_u16_be(&mut self, v: u16);
    fn put_u32(&mut self, v: u32);
    fn put_u32_be(&mut self, v: u32);
    // Only the netlink codecs (Linux) write signed integers.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    fn put_i32(&mut self, v: i32);
    fn put_u64(&mut self, v: u64);
    fn put_zeros(&mut self, n: usize);
    fn pad_to(&mut self, align: usize);
}

impl Put for Vec<u8> {
    fn put_u8(&mut self, v: u8) {
        self.push(v);
    }
    fn put_u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_ne_bytes());
    }
    fn put_u16_be(&mut self, v: u16) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_ne_bytes());
    }
    fn put_u32_be(&mut self, v: u32) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_i32(&mut self, v: i32) {
        self.extend_from_slice(&v.to_ne_bytes());
    }
    fn put_u64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_ne_bytes());
    }
    fn put_zeros(&mut self, n: usize) {
        self.resize(self.len() + n, 0);
    }
    fn pad_to(&mut self, align: usize) {
        let r = self.len() % align;
        if r != 0 {
            self.put_zeros(align - r);
        }
    }
}

/// A `Debug` helper printing only the length of secret bytes.
pub(crate) struct Redacted(pub usize);

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<redacted {} bytes>", self.0)
    }
}
