//! Printing an ID_DER_ASN1_DN (RFC 7296 §3.5; the Name of RFC 5280
//! §4.1.2.4) as strongSwan does (`identification.c`, `dntoa`):
//! `C=CH, O=Lab, CN=gw.example.org`, the values of a multi-valued RDN
//! joined by ` + `, values that are not strings as `#hex`. The values are
//! the peer's: every byte outside printable ASCII becomes `?`
//! (strongSwan's `chunk_printable`), so a DN cannot forge log lines.

use der::asn1::{Any, ObjectIdentifier, SetOfVec};
use der::{Decode, Tagged};

/// Attribute names strongSwan knows (libstrongswan `identification.c`,
/// `x501rdns`) and their OIDs; the first name of an OID is the one printed.
pub const DN_ATTRIBUTES: &[(&str, &str)] = &[
    ("ND", "2.5.4.54"),
    ("UID", "0.9.2342.19200300.100.1.1"),
    ("DC", "0.9.2342.19200300.100.1.25"),
    ("CN", "2.5.4.3"),
    ("S", "2.5.4.4"),
    ("SN", "2.5.4.5"),
    ("serialNumber", "2.5.4.5"),
    ("C", "2.5.4.6"),
    ("L", "2.5.4.7"),
    ("ST", "2.5.4.8"),
    ("STREET", "2.5.4.9"),
    ("O", "2.5.4.10"),
    ("OU", "2.5.4.11"),
    ("T", "2.5.4.12"),
    ("D", "2.5.4.13"),
    ("postalAddress", "2.5.4.16"),
    ("postalCode", "2.5.4.17"),
    ("N", "2.5.4.41"),
    ("G", "2.5.4.42"),
    ("I", "2.5.4.43"),
    ("dnQualifier", "2.5.4.46"),
    ("dmdName", "2.5.4.54"),
    ("pseudonym", "2.5.4.65"),
    ("ID", "2.5.4.45"),
    ("EN", "2.16.840.1.113730.3.1.3"),
    ("employeeNumber", "2.16.840.1.113730.3.1.3"),
    ("E", "1.2.840.113549.1.9.1"),
    ("Email", "1.2.840.113549.1.9.1"),
    ("emailAddress", "1.2.840.113549.1.9.1"),
    ("UN", "1.2.840.113549.1.9.2"),
    ("unstructuredName", "1.2.840.113549.1.9.2"),
    ("UA", "1.2.840.113549.1.9.8"),
    ("unstructuredAddress", "1.2.840.113549.1.9.8"),
    ("TCGID", "1.3.6.1.4.1.2.3.5.1"),
];

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, der::Sequence, der::ValueOrd)]
struct Atv {
    oid: ObjectIdentifier,
    value: Any,
}

/// Tags of the ASN.1 string types a DN value may use (X.680): UTF8String,
/// PrintableString, TeletexString, IA5String, VisibleString,
/// UniversalString, BMPString.
const STRING_TAGS: [u8; 7] = [12, 19, 20, 22, 26, 28, 30];

fn printable_into(out: &mut String, d: &[u8]) {
    out.extend(d.iter().map(|&b| {
        if (0x20..=0x7e).contains(&b) {
            char::from(b)
        } else {
            '?'
        }
    }));
}

/// `der` as strongSwan prints a DN, or None when it is not a DER Name.
pub fn dn_to_string(der: &[u8]) -> Option<String> {
    let rdns = Vec::<SetOfVec<Atv>>::from_der(der).ok()?;
    let mut out = String::new();
    for rdn in &rdns {
        for (i, atv) in rdn.iter().enumerate() {
            if !out.is_empty() {
                out.push_str(if i == 0 { ", " } else { " + " });
            }
            let oid = atv.oid.to_string();
            match DN_ATTRIBUTES.iter().find(|(_, o)| *o == oid) {
                Some((name, _)) => out.push_str(name),
                None => out.push_str(&oid),
            }
            out.push('=');
            let value = atv.value.value();
            if STRING_TAGS.contains(&u8::from(atv.value.tag())) {
                printable_into(&mut out, value);
            } else {
                out.push('#');
                for b in value {
                    out.push_str(&format!("{b:02x}"));
                }
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_print_as_strongswan_does() {
        // The subject of `openssl req -subj "/C=CH/O=vtid test/CN=moon.example.org"`
        // (PrintableString C, UTF8String O and CN), cut from its DER.
        let der = hex::decode(
            "303c310b300906035504061302434831123010060355040a0c0976746964207465737431193017\
             06035504030c106d6f6f6e2e6578616d706c652e6f7267",
        )
        .unwrap();
        assert_eq!(
            dn_to_string(&der).unwrap(),
            "C=CH, O=vtid test, CN=moon.example.org"
        );
        // A control character in a value (a forged log line) and an
        // unknown OID with a non-string value.
        let evil =
            hex::decode("301b310d300b06035504030c0461620a63310a30080603550409020105").unwrap();
        assert_eq!(dn_to_string(&evil).unwrap(), "CN=ab?c, STREET=#05");
        assert_eq!(dn_to_string(b"\x30\x03\x31\x01"), None);
        assert_eq!(dn_to_string(b""), None);
        assert_eq!(dn_to_string(&[der.as_slice(), &[0]].concat()), None);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(d in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = dn_to_string(&d);
        }
    }
}
