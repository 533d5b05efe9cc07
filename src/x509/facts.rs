//! What one certificate says about itself: names, dates, key, signature, where its issuer,
//! OCSP responder and CRLs live. Pure parsing; no network, no trust decisions.

use std::sync::Arc;

use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
use x509_parser::oid_registry::{
    OID_PKIX_ACCESS_DESCRIPTOR_CA_ISSUERS, OID_PKIX_ACCESS_DESCRIPTOR_OCSP,
};
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;

/// The facts of one certificate, as exported in `cert_info` and the timestamp series.
///
/// Holds no DER: snapshots of thousands of targets keep only these small strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFacts {
    /// Subject distinguished name, RFC 4514 style (`CN=shop.example.com, O=Shop`).
    pub subject: String,
    /// Issuer distinguished name, same style.
    pub issuer: String,
    /// The attributes of the subject that `subject_fields` can make labels of.
    pub subject_fields: super::dn::DnValues,
    /// The attributes of the issuer that `issuer_fields` can make labels of.
    pub issuer_fields: super::dn::DnValues,
    /// Serial number as lowercase hex without separators.
    pub serial: String,
    /// notBefore as Unix seconds.
    pub not_before: i64,
    /// notAfter as Unix seconds.
    pub not_after: i64,
    /// SHA-256 of the DER encoding, lowercase hex.
    pub sha256_fingerprint: String,
    /// `RSA`, `EC`, `Ed25519`, `Ed448`, `DSA` or `unknown`.
    pub key_algorithm: &'static str,
    /// Key size in bits (modulus for RSA, curve order for EC).
    pub key_bits: u32,
    /// Signature algorithm short name, e.g. `sha256WithRSAEncryption`, `ecdsa-with-SHA256`.
    pub signature_algorithm: String,
    /// DNS names from the subjectAltName extension.
    pub dns_names: Vec<String>,
    /// IP addresses from the subjectAltName extension.
    pub ip_addresses: Vec<String>,
    /// Whether basicConstraints marks it as a CA.
    pub is_ca: bool,
    /// Subject equals issuer (a root or a self-signed leaf; the signature is checked elsewhere).
    pub self_issued: bool,
    /// OCSP responder URLs from authorityInfoAccess.
    pub ocsp_urls: Vec<String>,
    /// caIssuers URLs from authorityInfoAccess (where the issuer certificate can be fetched).
    pub ca_issuer_urls: Vec<String>,
    /// CRL distribution point URLs.
    pub crl_urls: Vec<String>,
    /// Profile rules it breaks that no client enforces (for `check`, never the verdict).
    pub lints: Vec<super::lint::Lint>,
    /// Why no rustls client accepts this certificate's key (too short, or a kind rustls has no
    /// verifier for), when it does not; see [`refused_key`].
    pub refused_key: Option<String>,
    /// An encoding that parses here but that strict parsers (Go's crypto/x509) refuse, such
    /// as name constraints with no subtrees or an empty authorityInfoAccess; see
    /// [`encoding_problem`].
    pub encoding_problem: Option<String>,
    /// The SCTs embedded in the certificate's SCT list extension (at most
    /// [`super::ct::MAX_SCTS`]; none when it has no such extension or the list does not parse).
    pub scts: Vec<super::ct::Sct>,
}

/// A certificate that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "malformed certificate: {}", self.0)
    }
}

impl std::error::Error for ParseError {}

impl CertFacts {
    /// Parses DER and extracts the facts.
    pub fn from_der(der: &[u8]) -> Result<Arc<CertFacts>, ParseError> {
        let (rest, cert) = X509Certificate::from_der(der).map_err(|e| ParseError(e.to_string()))?;
        if !rest.is_empty() {
            return Err(ParseError(format!(
                "{} bytes after the certificate",
                rest.len()
            )));
        }
        Ok(Arc::new(CertFacts::from_parsed(&cert, der)))
    }

    /// Extracts the facts from an already parsed certificate.
    pub fn from_parsed(cert: &X509Certificate<'_>, der: &[u8]) -> CertFacts {
        let (key_algorithm, key_bits) = key_description(cert);
        let mut facts = CertFacts {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            subject_fields: super::dn::DnValues::of(cert.subject()),
            issuer_fields: super::dn::DnValues::of(cert.issuer()),
            serial: hex::encode(trim_leading_zeros(cert.raw_serial())),
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
            sha256_fingerprint: hex::encode(aws_lc_rs::digest::digest(
                &aws_lc_rs::digest::SHA256,
                der,
            )),
            key_algorithm,
            key_bits,
            signature_algorithm: algorithm_name(&cert.signature_algorithm.algorithm),
            dns_names: Vec::new(),
            ip_addresses: Vec::new(),
            is_ca: cert.is_ca(),
            self_issued: cert.subject().as_raw() == cert.issuer().as_raw(),
            ocsp_urls: Vec::new(),
            ca_issuer_urls: Vec::new(),
            crl_urls: Vec::new(),
            lints: super::lint::lint(cert),
            refused_key: None,
            encoding_problem: encoding_problem(cert),
            scts: Vec::new(),
        };
        facts.refused_key = refused_key(facts.key_algorithm, facts.key_bits, cert);
        for ext in cert.extensions() {
            match ext.parsed_extension() {
                ParsedExtension::SubjectAlternativeName(san) => {
                    for name in &san.general_names {
                        match name {
                            GeneralName::DNSName(dns) => facts.dns_names.push(dns.to_string()),
                            GeneralName::IPAddress(raw) => {
                                if let Some(ip) = ip_from_bytes(raw) {
                                    facts.ip_addresses.push(ip.to_string());
                                }
                            }
                            _ => {}
                        }
                    }
                }
                ParsedExtension::AuthorityInfoAccess(aia) => {
                    for desc in aia.iter() {
                        let GeneralName::URI(uri) = &desc.access_location else {
                            continue;
                        };
                        if desc.access_method == OID_PKIX_ACCESS_DESCRIPTOR_OCSP {
                            facts.ocsp_urls.push(uri.to_string());
                        } else if desc.access_method == OID_PKIX_ACCESS_DESCRIPTOR_CA_ISSUERS {
                            facts.ca_issuer_urls.push(uri.to_string());
                        }
                    }
                }
                ParsedExtension::CRLDistributionPoints(points) => {
                    for point in points.iter() {
                        if let Some(DistributionPointName::FullName(names)) =
                            &point.distribution_point
                        {
                            for name in names {
                                if let GeneralName::URI(uri) = name {
                                    facts.crl_urls.push(uri.to_string());
                                }
                            }
                        }
                    }
                }
                ParsedExtension::SCT(list) => {
                    facts.scts = list
                        .iter()
                        .take(super::ct::MAX_SCTS)
                        .map(|s| super::ct::Sct {
                            log_id: *s.id.key_id,
                            timestamp_ms: s.timestamp,
                        })
                        .collect();
                }
                _ => {}
            }
        }
        facts
    }

    /// Seconds of validity the certificate was issued with.
    pub fn lifetime_seconds(&self) -> i64 {
        self.not_after - self.not_before
    }

    /// Facts for tests, without parsing a certificate: `subject` issued by `issuer` (self-issued
    /// when they are equal), valid from the epoch to `not_after`, an EC P-256 key signed with
    /// ECDSA-SHA256, serial 01, no names, no URLs, no problems; tests change what they need.
    #[cfg(test)]
    pub(crate) fn example(subject: &str, issuer: &str, not_after: i64) -> CertFacts {
        CertFacts {
            subject: subject.into(),
            issuer: issuer.into(),
            subject_fields: super::dn::DnValues::from_test_name(subject),
            issuer_fields: super::dn::DnValues::from_test_name(issuer),
            serial: "01".into(),
            not_before: 0,
            not_after,
            sha256_fingerprint: String::new(),
            key_algorithm: "EC",
            key_bits: 256,
            signature_algorithm: "ecdsa-with-SHA256".into(),
            dns_names: Vec::new(),
            ip_addresses: Vec::new(),
            is_ca: false,
            self_issued: subject == issuer,
            ocsp_urls: Vec::new(),
            ca_issuer_urls: Vec::new(),
            crl_urls: Vec::new(),
            lints: Vec::new(),
            refused_key: None,
            encoding_problem: None,
            scts: Vec::new(),
        }
    }
}

/// Why no rustls client (rustls-webpki with aws-lc-rs, the TLS handshake with the same
/// provider) can use this key: RSA outside 2048–8192 bits, EC on a curve other than P-256,
/// P-384 and P-521, DSA, Ed448. Keys of a kind not named here (ML-DSA, RSASSA-PSS keys) are
/// left to webpki's own verdict.
pub fn refused_key(algorithm: &str, bits: u32, cert: &X509Certificate<'_>) -> Option<String> {
    match algorithm {
        "RSA" if bits < 2048 => Some(format!(
            "RSA key of {bits} bits: rustls accepts 2048 to 8192"
        )),
        "RSA" if bits > 8192 => Some(format!(
            "RSA key of {bits} bits: rustls accepts 2048 to 8192"
        )),
        "EC" => {
            let curve = cert
                .public_key()
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|oid| oid.to_id_string());
            match curve.as_deref() {
                Some("1.2.840.10045.3.1.7") | Some("1.3.132.0.34") | Some("1.3.132.0.35") => None,
                Some(other) => Some(format!(
                    "EC key on curve {} ({bits} bits): rustls accepts P-256, P-384 and P-521",
                    curve_name(other)
                )),
                None => Some(
                    "EC key without a named curve: rustls accepts P-256, P-384 and P-521"
                        .to_string(),
                ),
            }
        }
        "DSA" => Some("DSA key: no TLS client verifies DSA any more".to_string()),
        "Ed448" => Some("Ed448 key: rustls has no Ed448 verifier".to_string()),
        _ => None,
    }
}

fn curve_name(oid: &str) -> &str {
    match oid {
        "1.2.840.10045.3.1.1" => "P-192",
        "1.3.132.0.33" => "P-224",
        "1.3.132.0.10" => "secp256k1",
        other => other,
    }
}

/// Extensions strict parsers (Go's crypto/x509) decode and refuse when they are broken: key
/// and subject key identifiers, keyUsage, subjectAltName, basicConstraints, nameConstraints,
/// CRL distribution points, certificatePolicies, extKeyUsage, authorityInfoAccess.
const STRICTLY_PARSED: &[&str] = &[
    "2.5.29.14",
    "2.5.29.15",
    "2.5.29.17",
    "2.5.29.19",
    "2.5.29.30",
    "2.5.29.31",
    "2.5.29.32",
    "2.5.29.35",
    "2.5.29.37",
    "1.3.6.1.5.5.7.1.1",
];

/// Encodings x509-parser reads but strict parsers refuse (Go's crypto/x509 fails to parse
/// the certificate, and CA/Browser Forum rules forbid them): a nameConstraints extension with
/// neither permitted nor excluded subtrees, an authorityInfoAccess without an access
/// description, one of those extensions whose contents do not parse.
pub fn encoding_problem(cert: &X509Certificate<'_>) -> Option<String> {
    for ext in cert.extensions() {
        let oid = ext.oid.to_id_string();
        match ext.parsed_extension() {
            ParsedExtension::NameConstraints(nc) => {
                let empty = |s: &Option<Vec<_>>| s.as_ref().is_none_or(|v| v.is_empty());
                if empty(&nc.permitted_subtrees) && empty(&nc.excluded_subtrees) {
                    return Some(
                        "nameConstraints with neither permitted nor excluded subtrees (RFC 5280 4.2.1.10)"
                            .to_string(),
                    );
                }
            }
            ParsedExtension::AuthorityInfoAccess(aia) if aia.accessdescs.is_empty() => {
                return Some(
                    "authorityInfoAccess without an access description (RFC 5280 4.2.2.1)"
                        .to_string(),
                );
            }
            // Only the extensions Go's parser reads (and refuses when broken); a bad SCT
            // list or an odd policy qualifier no client looks into is not a failure.
            ParsedExtension::ParseError { error } if STRICTLY_PARSED.contains(&oid.as_str()) => {
                return Some(format!("extension {oid} does not parse: {error}"));
            }
            _ => {}
        }
    }
    None
}

/// Drops the sign-padding zero bytes DER puts in front of serials with the top bit set.
fn trim_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(bytes.len().saturating_sub(1));
    &bytes[first..]
}

fn ip_from_bytes(raw: &[u8]) -> Option<std::net::IpAddr> {
    match raw.len() {
        4 => Some(std::net::IpAddr::from(<[u8; 4]>::try_from(raw).ok()?)),
        16 => Some(std::net::IpAddr::from(<[u8; 16]>::try_from(raw).ok()?)),
        _ => None,
    }
}

/// Names an OID by its registered short name, falling back to dotted form.
fn algorithm_name(oid: &x509_parser::der_parser::oid::Oid<'_>) -> String {
    x509_parser::objects::oid2sn(oid, x509_parser::objects::oid_registry())
        .map(str::to_string)
        .unwrap_or_else(|_| oid.to_id_string())
}

/// The key's algorithm family and size in bits.
fn key_description(cert: &X509Certificate<'_>) -> (&'static str, u32) {
    let spki = cert.public_key();
    let oid = spki.algorithm.algorithm.to_id_string();
    match oid.as_str() {
        "1.3.101.112" => return ("Ed25519", 256),
        "1.3.101.113" => return ("Ed448", 456),
        _ => {}
    }
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => ("RSA", rsa_bits(rsa.modulus)),
        Ok(PublicKey::EC(point)) => ("EC", ec_bits(&spki.algorithm, point.key_size())),
        Ok(PublicKey::DSA(_)) => ("DSA", 0),
        _ => ("unknown", 0),
    }
}

/// Bits in an RSA modulus, ignoring DER's leading zero bytes.
fn rsa_bits(modulus: &[u8]) -> u32 {
    let m = trim_leading_zeros(modulus);
    match m.first() {
        Some(first) => (m.len() as u32 - 1) * 8 + (8 - first.leading_zeros()),
        None => 0,
    }
}

/// Curve size from the named-curve parameter; the point length is only a fallback.
fn ec_bits(alg: &x509_parser::x509::AlgorithmIdentifier<'_>, point_bits: usize) -> u32 {
    let curve = alg
        .parameters
        .as_ref()
        .and_then(|p| p.as_oid().ok())
        .map(|oid| oid.to_id_string());
    match curve.as_deref() {
        Some("1.2.840.10045.3.1.7") => 256, // P-256
        Some("1.3.132.0.34") => 384,        // P-384
        Some("1.3.132.0.35") => 521,        // P-521
        Some("1.3.132.0.10") => 256,        // secp256k1
        Some("1.2.840.10045.3.1.1") => 192, // P-192
        Some("1.3.132.0.33") => 224,        // P-224
        // An uncompressed point holds two coordinates plus a format byte.
        _ => (point_bits.saturating_sub(8) / 2) as u32,
    }
}
