//! Profile rules a certificate breaks that no major TLS client enforces.
//!
//! RFC 5280 and the CA/Browser Forum's Baseline Requirements ask more of a certificate than
//! browsers, OpenSSL, Go or rustls check: a common name that is also in the subjectAltName, an
//! extendedKeyUsage on every leaf, serial numbers of at most 20 octets. A
//! certificate breaking them still works everywhere today, so they are not chain failures (a red
//! dashboard for a working service is a false alarm); the `check` command reports them, as the
//! kind of thing a CA or the next client release may stop accepting.

use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{GeneralName, ParsedExtension};

/// A profile rule the certificate breaks. `as_str` is the finding's code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Lint {
    /// The subject's common name is neither a DNS name nor an IP address of the subjectAltName
    /// (clients ignore the common name; the CA/B Forum requires it to repeat a SAN entry).
    CommonNameNotInSan,
    /// A leaf without extendedKeyUsage (the Baseline Requirements require serverAuth).
    NoExtendedKeyUsage,
    /// A serial number longer than 20 octets (RFC 5280, 4.1.2.2).
    SerialTooLong,
    /// A serial number of zero or below (RFC 5280, 4.1.2.2: a positive integer).
    SerialNotPositive,
    /// A CA whose basicConstraints is not marked critical (RFC 5280, 4.2.1.9).
    BasicConstraintsNotCritical,
    /// An empty subject with a subjectAltName that is not marked critical (RFC 5280, 4.2.1.6).
    SanNotCriticalWithEmptySubject,
}

impl Lint {
    /// The finding's code.
    pub fn as_str(self) -> &'static str {
        match self {
            Lint::CommonNameNotInSan => "lint_common_name_not_in_san",
            Lint::NoExtendedKeyUsage => "lint_no_extended_key_usage",
            Lint::SerialTooLong => "lint_serial_too_long",
            Lint::SerialNotPositive => "lint_serial_not_positive",
            Lint::BasicConstraintsNotCritical => "lint_basic_constraints_not_critical",
            Lint::SanNotCriticalWithEmptySubject => "lint_san_not_critical_with_empty_subject",
        }
    }

    /// What the rule is, for a person.
    pub fn describe(self) -> &'static str {
        match self {
            Lint::CommonNameNotInSan => "its common name is not among its subjectAltName entries",
            Lint::NoExtendedKeyUsage => "it has no extendedKeyUsage (serverAuth is expected)",
            Lint::SerialTooLong => "its serial number is longer than 20 octets",
            Lint::SerialNotPositive => "its serial number is not a positive integer",
            Lint::BasicConstraintsNotCritical => {
                "it is a CA whose basicConstraints is not marked critical"
            }
            Lint::SanNotCriticalWithEmptySubject => {
                "its subject is empty and its subjectAltName is not marked critical"
            }
        }
    }
}

impl Lint {
    /// Whether the rule concerns end-entity certificates only (a CA's common name is a name
    /// for people, and CAs need no extendedKeyUsage).
    pub fn leaf_only(self) -> bool {
        matches!(self, Lint::CommonNameNotInSan | Lint::NoExtendedKeyUsage)
    }
}

/// The rules `cert` breaks, in [`Lint`] order. Facts are shared between positions, so the
/// leaf-only rules ([`Lint::leaf_only`]) are asked of every certificate that is not a CA, and
/// whoever reports them keeps them for the leaf position.
pub fn lint(cert: &X509Certificate<'_>) -> Vec<Lint> {
    let mut found = Vec::new();
    let mut san_names: Option<(bool, Vec<String>)> = None;
    let mut has_eku = false;
    let mut basic_constraints_critical = None;
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(san) => {
                let names = san
                    .general_names
                    .iter()
                    .filter_map(|name| match name {
                        GeneralName::DNSName(dns) => Some(dns.to_ascii_lowercase()),
                        GeneralName::IPAddress(raw) => ip_text(raw),
                        _ => None,
                    })
                    .collect();
                san_names = Some((ext.critical, names));
            }
            ParsedExtension::ExtendedKeyUsage(_) => has_eku = true,
            ParsedExtension::BasicConstraints(bc) if bc.ca => {
                basic_constraints_critical = Some(ext.critical)
            }
            _ => {}
        }
    }
    let subject_empty = cert.subject().as_raw().len() <= 2;
    if !cert.is_ca() {
        let names = san_names.as_ref().map(|(_, n)| n.as_slice()).unwrap_or(&[]);
        let cn_outside = cert
            .subject()
            .iter_common_name()
            .filter_map(|cn| cn.as_str().ok())
            .any(|cn| !names.contains(&cn.to_ascii_lowercase()));
        if cn_outside {
            found.push(Lint::CommonNameNotInSan);
        }
        if !has_eku {
            found.push(Lint::NoExtendedKeyUsage);
        }
    }
    let serial = cert.raw_serial();
    let significant = serial.iter().skip_while(|b| **b == 0).count();
    if significant > 20 {
        found.push(Lint::SerialTooLong);
    }
    if significant == 0 || serial.first().is_some_and(|b| b & 0x80 != 0) {
        found.push(Lint::SerialNotPositive);
    }
    if basic_constraints_critical == Some(false) {
        found.push(Lint::BasicConstraintsNotCritical);
    }
    if subject_empty && san_names.as_ref().is_some_and(|(critical, _)| !critical) {
        found.push(Lint::SanNotCriticalWithEmptySubject);
    }
    found
}

fn ip_text(raw: &[u8]) -> Option<String> {
    let ip = match raw.len() {
        4 => std::net::IpAddr::from(<[u8; 4]>::try_from(raw).ok()?),
        16 => std::net::IpAddr::from(<[u8; 16]>::try_from(raw).ok()?),
        _ => return None,
    };
    Some(ip.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::FromDer;

    fn lints_of(params: rcgen::CertificateParams) -> Vec<Lint> {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let (_, parsed) = X509Certificate::from_der(cert.der()).unwrap();
        lint(&parsed)
    }

    fn leaf_params() -> rcgen::CertificateParams {
        let mut params = rcgen::CertificateParams::new(vec!["shop.example".to_string()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "shop.example");
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        params.serial_number = Some(rcgen::SerialNumber::from_slice(&[0x01, 0x02]));
        params
    }

    #[test]
    fn a_well_formed_self_signed_leaf_breaks_no_leaf_rule() {
        assert_eq!(lints_of(leaf_params()), vec![]);
    }

    #[test]
    fn common_name_outside_the_san_and_missing_eku_are_found() {
        let mut params = leaf_params();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "other.example");
        params.extended_key_usages.clear();
        assert_eq!(
            lints_of(params),
            vec![Lint::CommonNameNotInSan, Lint::NoExtendedKeyUsage]
        );
    }

    #[test]
    fn serial_numbers_are_checked_for_size_and_sign() {
        let mut long = leaf_params();
        long.serial_number = Some(rcgen::SerialNumber::from_slice(&[0x11; 21]));
        assert_eq!(lints_of(long), vec![Lint::SerialTooLong]);
        let mut zero = leaf_params();
        zero.serial_number = Some(rcgen::SerialNumber::from_slice(&[0]));
        assert_eq!(lints_of(zero), vec![Lint::SerialNotPositive]);
    }

    #[test]
    fn every_code_is_distinct() {
        let all = [
            Lint::CommonNameNotInSan,
            Lint::NoExtendedKeyUsage,
            Lint::SerialTooLong,
            Lint::SerialNotPositive,
            Lint::BasicConstraintsNotCritical,
            Lint::SanNotCriticalWithEmptySubject,
        ];
        let codes: std::collections::BTreeSet<_> = all.iter().map(|l| l.as_str()).collect();
        assert_eq!(codes.len(), all.len());
    }
}
