//! X.509 certificates (RFC 5280) and CRLs (RFC 5280 §5), parsed once with
//! `x509-parser` into owned values the trust store works with.

use std::fmt;
use std::net::IpAddr;

use der::asn1::{AnyRef, BitStringRef};
use der::{Decode, Encode};
use ike::crypto::sig::{PublicKey, SignatureScheme};
use ike::wire::Identification;
use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::revocation_list::CertificateRevocationList;

use crate::dn;

/// A certificate or CRL that could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

/// The outer SIGNED{} structure of certificates and CRLs (RFC 5280 §4.1,
/// §5.1): the signed bytes, the algorithm and the signature value.
#[derive(der::Sequence)]
struct Signed<'a> {
    tbs: AnyRef<'a>,
    alg: spki::AlgorithmIdentifierOwned,
    sig: BitStringRef<'a>,
}

struct SignedParts {
    tbs: Vec<u8>,
    scheme: Result<SignatureScheme, String>,
    sig: Vec<u8>,
}

fn signed_parts(der: &[u8], what: &str) -> Result<SignedParts, ParseError> {
    let s = Signed::from_der(der).map_err(|e| ParseError(format!("{what}: {e}")))?;
    let tbs = s
        .tbs
        .to_der()
        .map_err(|e| ParseError(format!("{what}: {e}")))?;
    let sig = s
        .sig
        .as_bytes()
        .ok_or_else(|| ParseError(format!("{what}: signature with unused bits")))?
        .to_vec();
    Ok(SignedParts {
        tbs,
        scheme: SignatureScheme::from_ai(&s.alg).map_err(|e| e.to_string()),
        sig,
    })
}

/// A subjectAltName entry vtid uses for identities (RFC 5280 §4.2.1.6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AltName {
    /// dNSName.
    Dns(String),
    /// rfc822Name.
    Email(String),
    /// iPAddress.
    Ip(IpAddr),
    /// directoryName (DER).
    Dn(Vec<u8>),
    /// uniformResourceIdentifier.
    Uri(String),
}

impl fmt::Display for AltName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AltName::Dns(s) | AltName::Email(s) | AltName::Uri(s) => f.write_str(s),
            AltName::Ip(a) => write!(f, "{a}"),
            AltName::Dn(d) => f.write_str(&dn::to_string(d)),
        }
    }
}

/// A name constraint subtree base (RFC 5280 §4.2.1.10).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subtree {
    /// dNSName: the name itself and every name below it.
    Dns(String),
    /// rfc822Name: a mailbox, a host (`example.org`) or a domain
    /// (`.example.org`).
    Email(String),
    /// iPAddress: address and mask.
    Ip(Vec<u8>, Vec<u8>),
    /// directoryName: DNs starting with these RDNs.
    Dn(Vec<u8>),
    /// A form vtid does not check (kept to refuse names it cannot check
    /// against a permitted list).
    Other,
}

/// nameConstraints of a CA.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NameConstraints {
    /// permittedSubtrees.
    pub permitted: Vec<Subtree>,
    /// excludedSubtrees.
    pub excluded: Vec<Subtree>,
}

/// keyUsage bits (RFC 5280 §4.2.1.3), as x509-parser numbers them.
pub mod ku {
    /// digitalSignature.
    pub const DIGITAL_SIGNATURE: u16 = 1 << 0;
    /// nonRepudiation (contentCommitment).
    pub const NON_REPUDIATION: u16 = 1 << 1;
    /// keyCertSign.
    pub const KEY_CERT_SIGN: u16 = 1 << 5;
    /// cRLSign.
    pub const CRL_SIGN: u16 = 1 << 6;
}

/// An X.509 certificate.
#[derive(Clone)]
pub struct Certificate {
    der: Vec<u8>,
    tbs: Vec<u8>,
    scheme: Result<SignatureScheme, String>,
    sig: Vec<u8>,
    /// Subject DN (DER).
    pub subject: Vec<u8>,
    /// Issuer DN (DER).
    pub issuer: Vec<u8>,
    /// Serial number octets (as encoded, sign octet stripped).
    pub serial: Vec<u8>,
    /// notBefore, seconds since the Unix epoch.
    pub not_before: i64,
    /// notAfter, seconds since the Unix epoch.
    pub not_after: i64,
    /// The subject's public key.
    pub public_key: PublicKey,
    /// X.509 version (1, 2 or 3).
    pub version: u32,
    /// basicConstraints cA.
    pub is_ca: bool,
    /// basicConstraints pathLenConstraint.
    pub path_len: Option<u32>,
    /// keyUsage bits, if the extension is present.
    pub key_usage: Option<u16>,
    /// extendedKeyUsage serverAuth.
    pub server_auth: bool,
    /// extendedKeyUsage clientAuth.
    pub client_auth: bool,
    /// extendedKeyUsage iKEIntermediate (1.3.6.1.5.5.8.2.2, RFC 4945 §5.1.3.12).
    pub ike_intermediate: bool,
    /// subjectAltName entries.
    pub alt_names: Vec<AltName>,
    /// subjectKeyIdentifier.
    pub subject_key_id: Option<Vec<u8>>,
    /// authorityKeyIdentifier keyIdentifier.
    pub authority_key_id: Option<Vec<u8>>,
    /// crlDistributionPoints URIs.
    pub crl_uris: Vec<String>,
    /// nameConstraints.
    pub name_constraints: Option<NameConstraints>,
    /// An unknown critical extension (RFC 5280 §4.2: such a certificate
    /// must be rejected).
    pub unknown_critical: Option<String>,
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Certificate(\"{}\")", dn::to_string(&self.subject))
    }
}

impl PartialEq for Certificate {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}

const IKE_INTERMEDIATE: &str = "1.3.6.1.5.5.8.2.2";

fn serial_bytes(raw: &[u8]) -> Vec<u8> {
    let mut s = raw;
    while s.len() > 1 && s.first() == Some(&0) {
        s = &s[1..];
    }
    s.to_vec()
}

fn subtree(g: &GeneralName<'_>) -> Subtree {
    match g {
        GeneralName::DNSName(s) => Subtree::Dns(s.to_ascii_lowercase()),
        GeneralName::RFC822Name(s) => Subtree::Email(s.to_ascii_lowercase()),
        GeneralName::IPAddress(b) if b.len() == 8 || b.len() == 32 => {
            let (a, m) = b.split_at(b.len() / 2);
            Subtree::Ip(a.to_vec(), m.to_vec())
        }
        GeneralName::DirectoryName(n) => Subtree::Dn(n.as_raw().to_vec()),
        _ => Subtree::Other,
    }
}

impl Certificate {
    /// Reads a certificate from DER.
    pub fn from_der(der: &[u8]) -> Result<Certificate, ParseError> {
        let parts = signed_parts(der, "certificate")?;
        let (rest, x) =
            X509Certificate::from_der(der).map_err(|e| ParseError(format!("certificate: {e}")))?;
        if !rest.is_empty() {
            return Err(ParseError("certificate: trailing data".into()));
        }
        let tbs = &x.tbs_certificate;
        if tbs.signature != x.signature_algorithm {
            return Err(ParseError(
                "certificate: the signature algorithms inside and outside the signed part differ \
                 (RFC 5280 §4.1.1.2)"
                    .into(),
            ));
        }
        let public_key = PublicKey::from_spki_der(tbs.subject_pki.raw)
            .map_err(|e| ParseError(format!("certificate public key: {e}")))?;
        let mut c = Certificate {
            der: der.to_vec(),
            tbs: parts.tbs,
            scheme: parts.scheme,
            sig: parts.sig,
            subject: tbs.subject.as_raw().to_vec(),
            issuer: tbs.issuer.as_raw().to_vec(),
            serial: serial_bytes(tbs.raw_serial()),
            not_before: tbs.validity.not_before.timestamp(),
            not_after: tbs.validity.not_after.timestamp(),
            public_key,
            version: tbs.version.0 + 1,
            is_ca: false,
            path_len: None,
            key_usage: None,
            server_auth: false,
            client_auth: false,
            ike_intermediate: false,
            alt_names: Vec::new(),
            subject_key_id: None,
            authority_key_id: None,
            crl_uris: Vec::new(),
            name_constraints: None,
            unknown_critical: None,
        };
        for ext in tbs.extensions() {
            match ext.parsed_extension() {
                ParsedExtension::BasicConstraints(b) => {
                    c.is_ca = b.ca;
                    c.path_len = b.path_len_constraint;
                }
                ParsedExtension::KeyUsage(k) => c.key_usage = Some(k.flags),
                ParsedExtension::ExtendedKeyUsage(e) => {
                    c.server_auth = e.server_auth;
                    c.client_auth = e.client_auth;
                    c.ike_intermediate =
                        e.other.iter().any(|o| o.to_id_string() == IKE_INTERMEDIATE);
                }
                ParsedExtension::SubjectAlternativeName(san) => {
                    for g in &san.general_names {
                        let a = match g {
                            GeneralName::DNSName(s) => AltName::Dns(s.to_string()),
                            GeneralName::RFC822Name(s) => AltName::Email(s.to_string()),
                            GeneralName::URI(s) => AltName::Uri(s.to_string()),
                            GeneralName::DirectoryName(n) => AltName::Dn(n.as_raw().to_vec()),
                            GeneralName::IPAddress(b) => match b.len() {
                                4 => {
                                    let o: [u8; 4] = [b[0], b[1], b[2], b[3]];
                                    AltName::Ip(IpAddr::from(o))
                                }
                                16 => {
                                    let mut o = [0u8; 16];
                                    o.copy_from_slice(b);
                                    AltName::Ip(IpAddr::from(o))
                                }
                                _ => continue,
                            },
                            _ => continue,
                        };
                        c.alt_names.push(a);
                    }
                }
                ParsedExtension::SubjectKeyIdentifier(k) => c.subject_key_id = Some(k.0.to_vec()),
                ParsedExtension::AuthorityKeyIdentifier(a) => {
                    c.authority_key_id = a.key_identifier.as_ref().map(|k| k.0.to_vec());
                }
                ParsedExtension::CRLDistributionPoints(p) => {
                    for dp in &p.points {
                        if let Some(DistributionPointName::FullName(names)) = &dp.distribution_point
                        {
                            for n in names {
                                if let GeneralName::URI(u) = n {
                                    c.crl_uris.push(u.to_string());
                                }
                            }
                        }
                    }
                }
                ParsedExtension::NameConstraints(nc) => {
                    let conv = |v: &Option<Vec<x509_parser::extensions::GeneralSubtree<'_>>>| {
                        v.as_ref()
                            .map(|v| v.iter().map(|s| subtree(&s.base)).collect())
                            .unwrap_or_default()
                    };
                    c.name_constraints = Some(NameConstraints {
                        permitted: conv(&nc.permitted_subtrees),
                        excluded: conv(&nc.excluded_subtrees),
                    });
                }
                ParsedExtension::ParseError { error } => {
                    return Err(ParseError(format!(
                        "certificate extension {}: {error}",
                        ext.oid.to_id_string()
                    )));
                }
                ParsedExtension::UnsupportedExtension { .. } if ext.critical => {
                    c.unknown_critical = Some(ext.oid.to_id_string());
                }
                _ => {}
            }
        }
        // A version 1 certificate has no basicConstraints; a self-signed one
        // is a root (strongSwan's x509 plugin treats it as a CA).
        if c.version == 1 && c.subject == c.issuer {
            c.is_ca = true;
        }
        Ok(c)
    }

    /// Reads a certificate file: PEM (`CERTIFICATE`) or DER.
    pub fn from_file_bytes(data: &[u8]) -> Result<Certificate, ParseError> {
        match pem_block(data, "CERTIFICATE")? {
            Some(der) => Certificate::from_der(&der),
            None => Certificate::from_der(data),
        }
    }

    /// The DER encoding.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The subject DN as strongSwan prints it.
    pub fn subject_string(&self) -> String {
        dn::to_string(&self.subject)
    }

    /// The issuer DN as strongSwan prints it.
    pub fn issuer_string(&self) -> String {
        dn::to_string(&self.issuer)
    }

    /// The serial number in strongSwan's `%#B` form (`01:02:...`).
    pub fn serial_string(&self) -> String {
        colon_hex(&self.serial)
    }

    /// Whether the certificate claims to be issued by itself.
    pub fn is_self_issued(&self) -> bool {
        dn::matches(&self.subject, &self.issuer, false).is_some()
    }

    /// Whether `issuer_key` made this certificate's signature.
    pub fn is_signed_by(&self, issuer_key: &PublicKey) -> bool {
        match &self.scheme {
            Ok(s) => issuer_key.verify(*s, &self.tbs, &self.sig),
            Err(_) => false,
        }
    }

    /// The signature algorithm, or why it is not supported.
    pub fn signature_scheme(&self) -> Result<SignatureScheme, String> {
        self.scheme.clone()
    }

    /// Whether the certificate is valid at `now` (seconds since the epoch).
    pub fn valid_at(&self, now: i64) -> bool {
        self.not_before <= now && now <= self.not_after
    }

    /// Whether the key may make IKE signatures: without keyUsage any use
    /// is allowed; with it, digitalSignature or nonRepudiation must be set
    /// (RFC 4945 §5.1.3.2, as strongSwan's x509 plugin).
    pub fn may_sign_ike(&self) -> bool {
        self.key_usage
            .is_none_or(|k| k & (ku::DIGITAL_SIGNATURE | ku::NON_REPUDIATION) != 0)
    }

    /// Whether the certificate carries `id` (RFC 4945 §3.1, strongSwan's
    /// `has_subject`): the subject DN, a subjectAltName of the same type
    /// (DNS names and emails ignoring case), or (ID_KEY_ID) the
    /// subjectKeyIdentifier or the SHA-1 of the public key.
    pub fn has_identity(&self, id: &Identification) -> bool {
        match id {
            Identification::DerAsn1Dn(d) => {
                dn::matches(d, &self.subject, false).is_some()
                    || self
                        .alt_names
                        .iter()
                        .any(|a| matches!(a, AltName::Dn(x) if dn::matches(d, x, false).is_some()))
            }
            Identification::Fqdn(f) => self
                .alt_names
                .iter()
                .any(|a| matches!(a, AltName::Dns(s) if s.as_bytes().eq_ignore_ascii_case(f))),
            Identification::Rfc822(e) => self
                .alt_names
                .iter()
                .any(|a| matches!(a, AltName::Email(s) if s.as_bytes().eq_ignore_ascii_case(e))),
            Identification::Ipv4(a) => self.alt_names.contains(&AltName::Ip(IpAddr::V4(*a))),
            Identification::Ipv6(a) => self.alt_names.contains(&AltName::Ip(IpAddr::V6(*a))),
            Identification::KeyId(k) => {
                self.subject_key_id.as_deref() == Some(k.as_slice())
                    || self.public_key.key_id().as_slice() == k.as_slice()
                    || self.public_key.spki_sha1().as_slice() == k.as_slice()
            }
            Identification::Other { .. } => false,
        }
    }

    /// The identity strongSwan uses for `local.id` when `certs` is set and
    /// `id` is not: the subject DN.
    pub fn subject_identity(&self) -> Identification {
        Identification::DerAsn1Dn(self.subject.clone())
    }
}

/// Hex octets joined by `:` (strongSwan's `%#B`).
pub fn colon_hex(d: &[u8]) -> String {
    d.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The DER of the first PEM block labelled `label` in `data`; `None` when
/// `data` is not PEM at all.
pub(crate) fn pem_block(data: &[u8], label: &str) -> Result<Option<Vec<u8>>, ParseError> {
    let Ok(text) = std::str::from_utf8(data) else {
        return Ok(None);
    };
    let begin = format!("-----BEGIN {label}-----");
    let Some(start) = text.find(&begin) else {
        if text.contains("-----BEGIN ") {
            return Err(ParseError(format!("no PEM block '{label}'")));
        }
        return Ok(None);
    };
    der::pem::decode_vec(&text.as_bytes()[start..])
        .map(|(_, d)| Some(d))
        .map_err(|e| ParseError(format!("PEM: {e}")))
}

/// All PEM blocks labelled `label` (certificate bundles).
pub fn pem_blocks(data: &[u8], label: &str) -> Result<Vec<Vec<u8>>, ParseError> {
    let Ok(text) = std::str::from_utf8(data) else {
        return Ok(Vec::new());
    };
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(s) = rest.find(&begin) {
        let tail = &rest[s..];
        let Some(e) = tail.find(&end) else {
            return Err(ParseError(format!("unterminated PEM block '{label}'")));
        };
        let block = &tail[..e + end.len()];
        let (_, d) =
            der::pem::decode_vec(block.as_bytes()).map_err(|e| ParseError(format!("PEM: {e}")))?;
        out.push(d);
        rest = &tail[e + end.len()..];
    }
    Ok(out)
}

/// A revoked certificate entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revoked {
    /// Serial number octets.
    pub serial: Vec<u8>,
    /// revocationDate, seconds since the epoch.
    pub date: i64,
    /// CRLReason (RFC 5280 §5.3.1), 0 (unspecified) when absent.
    pub reason: u8,
}

/// A certificate revocation list (RFC 5280 §5).
#[derive(Clone)]
pub struct Crl {
    der: Vec<u8>,
    tbs: Vec<u8>,
    scheme: Result<SignatureScheme, String>,
    sig: Vec<u8>,
    /// Issuer DN (DER).
    pub issuer: Vec<u8>,
    /// thisUpdate.
    pub this_update: i64,
    /// nextUpdate, if present.
    pub next_update: Option<i64>,
    /// Revoked certificates.
    pub revoked: Vec<Revoked>,
    /// authorityKeyIdentifier keyIdentifier.
    pub authority_key_id: Option<Vec<u8>>,
    /// cRLNumber octets.
    pub number: Option<Vec<u8>>,
}

impl fmt::Debug for Crl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Crl(\"{}\", {} revoked)",
            dn::to_string(&self.issuer),
            self.revoked.len()
        )
    }
}

impl Crl {
    /// Reads a CRL from DER.
    pub fn from_der(der: &[u8]) -> Result<Crl, ParseError> {
        let parts = signed_parts(der, "CRL")?;
        let (rest, c) = CertificateRevocationList::from_der(der)
            .map_err(|e| ParseError(format!("CRL: {e}")))?;
        if !rest.is_empty() {
            return Err(ParseError("CRL: trailing data".into()));
        }
        let tbs = &c.tbs_cert_list;
        let mut crl = Crl {
            der: der.to_vec(),
            tbs: parts.tbs,
            scheme: parts.scheme,
            sig: parts.sig,
            issuer: tbs.issuer.as_raw().to_vec(),
            this_update: tbs.this_update.timestamp(),
            next_update: tbs.next_update.map(|t| t.timestamp()),
            revoked: Vec::new(),
            authority_key_id: None,
            number: c.crl_number().map(|n| n.to_bytes_be()),
        };
        for r in c.iter_revoked_certificates() {
            crl.revoked.push(Revoked {
                serial: serial_bytes(r.raw_serial()),
                date: r.revocation_date.timestamp(),
                reason: r.reason_code().map_or(0, |(_, c)| c.0),
            });
        }
        for ext in tbs.extensions() {
            match ext.parsed_extension() {
                ParsedExtension::AuthorityKeyIdentifier(a) => {
                    crl.authority_key_id = a.key_identifier.as_ref().map(|k| k.0.to_vec());
                }
                ParsedExtension::UnsupportedExtension { .. } if ext.critical => {
                    return Err(ParseError(format!(
                        "CRL: unsupported critical extension {} (delta or indirect CRLs are \
                         not supported)",
                        ext.oid.to_id_string()
                    )));
                }
                _ => {}
            }
        }
        Ok(crl)
    }

    /// Reads a CRL file: PEM (`X509 CRL`) or DER.
    pub fn from_file_bytes(data: &[u8]) -> Result<Crl, ParseError> {
        match pem_block(data, "X509 CRL")? {
            Some(der) => Crl::from_der(&der),
            None => Crl::from_der(data),
        }
    }

    /// The DER encoding.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// Whether `issuer_key` made this CRL's signature.
    pub fn is_signed_by(&self, issuer_key: &PublicKey) -> bool {
        match &self.scheme {
            Ok(s) => issuer_key.verify(*s, &self.tbs, &self.sig),
            Err(_) => false,
        }
    }

    /// Whether the CRL is past its nextUpdate at `now` (a CRL without
    /// nextUpdate never goes stale).
    pub fn is_stale(&self, now: i64) -> bool {
        self.next_update.is_some_and(|n| n < now)
    }

    /// The entry for `serial`, if revoked.
    pub fn revoked(&self, serial: &[u8]) -> Option<&Revoked> {
        self.revoked.iter().find(|r| r.serial == serial)
    }

    /// Whether this CRL is newer than `other` (by cRLNumber, else
    /// thisUpdate).
    pub fn is_newer_than(&self, other: &Crl) -> bool {
        match (&self.number, &other.number) {
            (Some(a), Some(b)) => {
                let (a, b) = (serial_bytes(a), serial_bytes(b));
                (a.len(), &a) > (b.len(), &b)
            }
            _ => self.this_update > other.this_update,
        }
    }
}
