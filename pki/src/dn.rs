//! Distinguished names in strongSwan's string syntax
//! (`"C=CH, O=Lab, CN=gw.example.org"`), their DER form (the ID_DER_ASN1_DN
//! identity of RFC 7296 §3.5 and RFC 4945 §3.1.5) and strongSwan's matching
//! with `*` wildcards.
//!
//! Parsing and encoding go through the `der` crate, printing and comparing
//! through `x509-parser`; nothing here reads ASN.1 by hand.

use der::asn1::{Any, ObjectIdentifier, SetOfVec};
use der::{Decode, Encode, Tag};
use x509_parser::prelude::{FromDer, X509Name};

/// Attribute names strongSwan knows, first the name it prints (shared with
/// the engine, which prints DN identities).
use ike::wire::DN_ATTRIBUTES as NAMES;

const EMAIL: &str = "1.2.840.113549.1.9.1";

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, der::Sequence, der::ValueOrd)]
struct Atv {
    oid: ObjectIdentifier,
    value: Any,
}

/// Whether `s` fits ASN.1 PrintableString (X.680 §41.4).
fn printable(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(&b))
}

/// Parses strongSwan's DN syntax into DER: RDNs separated by `,` (or
/// `/`, when the string starts with `/`), each `NAME=value` with the
/// names strongSwan knows or a dotted OID; several attributes in one RDN
/// joined by `+`. Values are PrintableString when they fit, UTF8String
/// otherwise, IA5String for `E=` (as strongSwan's `atodn`). Leading and
/// trailing blanks of a value are dropped; `\,` escapes a separator.
pub fn parse(s: &str) -> Result<Vec<u8>, String> {
    let s = s.trim();
    let (sep, body) = match s.strip_prefix('/') {
        Some(rest) => ('/', rest),
        None => (',', s),
    };
    let mut rdns: Vec<SetOfVec<Atv>> = Vec::new();
    for rdn in split_escaped(body, sep) {
        let mut set = SetOfVec::new();
        for atv in split_escaped(&rdn, '+') {
            let (name, value) = atv
                .split_once('=')
                .ok_or_else(|| format!("'{}' in DN '{s}' is not NAME=value", atv.trim()))?;
            let name = name.trim();
            let value = value.trim();
            let oid = NAMES
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, o)| *o)
                .map(ObjectIdentifier::new_unwrap)
                .or_else(|| ObjectIdentifier::new(name).ok())
                .ok_or_else(|| format!("unknown attribute '{name}' in DN '{s}'"))?;
            let tag = if oid.to_string() == EMAIL {
                Tag::Ia5String
            } else if printable(value) {
                Tag::PrintableString
            } else {
                Tag::Utf8String
            };
            let value = Any::new(tag, value.as_bytes()).map_err(|e| format!("DN '{s}': {e}"))?;
            set.insert(Atv { oid, value })
                .map_err(|e| format!("DN '{s}': {e}"))?;
        }
        rdns.push(set);
    }
    if rdns.is_empty() {
        return Err(format!("'{s}' is an empty DN"));
    }
    rdns.to_der().map_err(|e| format!("DN '{s}': {e}"))
}

fn split_escaped(s: &str, sep: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                cur.push(n);
            }
        } else if c == sep {
            if !cur.trim().is_empty() {
                out.push(std::mem::take(&mut cur));
            } else {
                cur.clear();
            }
        } else {
            cur.push(c);
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur);
    }
    out
}

/// Whether `s` looks like a DN (strongSwan tries a DN when an identity
/// contains `=`).
pub fn looks_like_dn(s: &str) -> bool {
    s.contains('=')
}

/// One attribute: (OID, value bytes, whether the value is a string type).
type Attr = (String, Vec<u8>, bool);

fn attributes(der: &[u8]) -> Option<Vec<Vec<Attr>>> {
    let (rest, name) = X509Name::from_der(der).ok()?;
    if !rest.is_empty() {
        return None;
    }
    Some(
        name.iter_rdn()
            .map(|rdn| {
                rdn.iter()
                    .map(|a| {
                        let v = a.attr_value();
                        let is_str = matches!(v.tag().0, 12 | 19 | 20 | 22 | 26 | 28 | 30);
                        (a.attr_type().to_id_string(), v.data.to_vec(), is_str)
                    })
                    .collect()
            })
            .collect(),
    )
}

/// Prints a DER DN as strongSwan does: `C=CH, O=Lab, CN=gw`, every byte of
/// a value outside printable ASCII as `?` ([`ike::wire::dn_to_string`]).
/// Undecodable input prints as hex.
pub fn to_string(der: &[u8]) -> String {
    ike::wire::dn_to_string(der).unwrap_or_else(|| format!("(invalid DN {})", hex_of(der)))
}

fn hex_of(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares two DER DNs as strongSwan does (`compare_dn`): byte-equal, or
/// the same attributes in the same order with values equal ignoring ASCII
/// case for string types (whatever string type each side used). A value of
/// exactly `*` in `pattern` matches any value when `wildcards` is set;
/// the number of wildcards used is returned.
pub fn matches(pattern: &[u8], dn: &[u8], wildcards: bool) -> Option<usize> {
    if pattern == dn {
        return Some(0);
    }
    let p = attributes(pattern)?;
    let d = attributes(dn)?;
    let p: Vec<&Attr> = p.iter().flatten().collect();
    let d: Vec<&Attr> = d.iter().flatten().collect();
    if p.len() != d.len() {
        return None;
    }
    let mut wc = 0;
    for ((po, pv, ps), (dox, dv, ds)) in p.into_iter().zip(d) {
        if po != dox {
            return None;
        }
        if wildcards && *ps && pv.as_slice() == b"*" {
            wc += 1;
            continue;
        }
        let equal = if *ps && *ds {
            pv.eq_ignore_ascii_case(dv)
        } else {
            pv == dv
        };
        if !equal {
            return None;
        }
    }
    Some(wc)
}

/// Whether a DN has an attribute whose value is exactly `*`.
pub fn has_wildcards(der: &[u8]) -> bool {
    attributes(der).is_some_and(|r| {
        r.iter()
            .flatten()
            .any(|(_, v, s)| *s && v.as_slice() == b"*")
    })
}

/// Whether a DER blob is a well-formed Name.
pub fn is_valid(der: &[u8]) -> bool {
    attributes(der).is_some() && Vec::<SetOfVec<Atv>>::from_der(der).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strongswan_syntax_round_trips() {
        let d = parse("C=CH, O=strongSwan Project, CN=moon.strongswan.org").unwrap();
        assert_eq!(
            to_string(&d),
            "C=CH, O=strongSwan Project, CN=moon.strongswan.org"
        );
        let s = parse("/C=CH/O=Lab/CN=gw").unwrap();
        assert_eq!(to_string(&s), "C=CH, O=Lab, CN=gw");
        let e = parse("C=CH, E=gw@example.org, OU=a\\,b").unwrap();
        assert_eq!(to_string(&e), "C=CH, E=gw@example.org, OU=a,b");
        let oid = parse("2.5.4.3=x").unwrap();
        assert_eq!(to_string(&oid), "CN=x");
        assert!(parse("").is_err());
        assert!(parse("XX=1").is_err());
        assert!(parse("CN").is_err());
    }

    /// The DER of `C=CH, O=Lab, CN=gw` as OpenSSL encodes it
    /// (`openssl req -subj /C=CH/O=Lab/CN=gw`: UTF8String values, C as
    /// PrintableString) matches the PrintableString form strongSwan's
    /// syntax yields.
    #[test]
    fn string_types_and_case_do_not_matter() {
        let openssl = hex::decode(
            "302a310b3009060355040613024348310c300a060355040a0c034c6162310d300b06035504030c04\
             47772d41",
        )
        .unwrap();
        assert_eq!(to_string(&openssl), "C=CH, O=Lab, CN=Gw-A");
        let ours = parse("C=CH, O=lab, CN=gw-a").unwrap();
        assert_eq!(matches(&ours, &openssl, false), Some(0));
        let other = parse("C=CH, O=Lab, CN=gw-b").unwrap();
        assert_eq!(matches(&other, &openssl, false), None);
        let shorter = parse("C=CH, O=Lab").unwrap();
        assert_eq!(matches(&shorter, &openssl, true), None);
        let reordered = parse("O=Lab, C=CH, CN=gw-a").unwrap();
        assert_eq!(matches(&reordered, &openssl, true), None);
    }

    #[test]
    fn wildcards_match_any_value_only_when_allowed() {
        let dn = parse("C=CH, O=Lab, CN=gw-a.example.org").unwrap();
        let pat = parse("C=CH, O=Lab, CN=*").unwrap();
        assert_eq!(matches(&pat, &dn, true), Some(1));
        assert_eq!(matches(&pat, &dn, false), None);
        let pat2 = parse("C=*, O=*, CN=*").unwrap();
        assert_eq!(matches(&pat2, &dn, true), Some(3));
        let wrong = parse("C=CH, O=Other, CN=*").unwrap();
        assert_eq!(matches(&wrong, &dn, true), None);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in ".{0,80}", b in proptest::collection::vec(proptest::num::u8::ANY, 0..120)) {
            let _ = parse(&s);
            let _ = to_string(&b);
            let _ = matches(&b, &b, true);
            let _ = is_valid(&b);
        }
    }
}
