//! Secret bytes: redacted in `Debug`, wiped on drop.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroize;

/// Secret key material (a PSK, ...). `Debug` prints `Secret(<redacted>)`;
/// the bytes are overwritten with zeros when dropped.
///
/// Serde serializes the real bytes (a sequence of u8) so that a model can be
/// handed to another process; do not serialize into logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Wraps bytes.
    pub fn new(bytes: Vec<u8>) -> Secret {
        Secret(bytes)
    }

    /// The secret bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Decodes a secret as swanctl's `load_secret` does: `0x` + hex, `0s` +
    /// base64 (prefixes in any case), else the string's bytes. The error
    /// never contains the value.
    pub fn parse(value: &str) -> Result<Secret, String> {
        let lower = value.get(..2).map(str::to_ascii_lowercase);
        match lower.as_deref() {
            Some("0x") => decode_hex(&value[2..])
                .map(Secret)
                .ok_or_else(|| "expected hex digits after 0x".into()),
            Some("0s") => decode_base64(&value[2..])
                .map(Secret)
                .ok_or_else(|| "expected base64 after 0s".into()),
            _ => Ok(Secret(value.as_bytes().to_vec())),
        }
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
        Vec::<u8>::deserialize(d).map(Secret)
    }
}

/// Hex like libstrongswan's `chunk_from_hex`: `:` and blanks between bytes
/// are skipped, an odd number of digits gets a leading zero.
fn decode_hex(s: &str) -> Option<Vec<u8>> {
    let mut digits: Vec<u8> = Vec::with_capacity(s.len());
    for c in s.chars() {
        match c {
            ':' | ' ' => {}
            c => digits.push(c.to_digit(16)? as u8),
        }
    }
    if digits.len() % 2 == 1 {
        digits.insert(0, 0);
    }
    let out = digits.chunks(2).map(|p| (p[0] << 4) | p[1]).collect();
    digits.zeroize();
    Some(out)
}

fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    let mut padding = false;
    for c in s.chars() {
        let v = match c {
            'A'..='Z' => c as u32 - 'A' as u32,
            'a'..='z' => c as u32 - 'a' as u32 + 26,
            '0'..='9' => c as u32 - '0' as u32 + 52,
            '+' | '-' => 62,
            '/' | '_' => 63,
            '=' => {
                padding = true;
                continue;
            }
            ' ' | '\n' | '\t' | '\r' => continue,
            _ => return None,
        };
        if padding {
            return None;
        }
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    acc.zeroize();
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(Secret::parse("abc").unwrap().expose(), b"abc");
        assert_eq!(Secret::parse("0x0102ff").unwrap().expose(), &[1, 2, 255]);
        assert_eq!(Secret::parse("0X01:02").unwrap().expose(), &[1, 2]);
        assert_eq!(Secret::parse("0x123").unwrap().expose(), &[1, 0x23]);
        assert_eq!(Secret::parse("0sc2VjcmV0").unwrap().expose(), b"secret");
        assert_eq!(
            Secret::parse("0Sc2VjcmV0cw==").unwrap().expose(),
            b"secrets"
        );
        assert!(Secret::parse("0xzz").is_err());
        assert!(Secret::parse("0s!!").is_err());
    }

    #[test]
    fn debug_redacts() {
        let s = Secret::parse("hunter2").unwrap();
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
    }
}
