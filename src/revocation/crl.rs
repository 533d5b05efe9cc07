//! Certificate revocation lists (RFC 5280 §5), the pure part: parsing, signature verification
//! against the issuer, and serial lookup. No networking.
//!
//! A parsed [`Crl`] keeps its revoked serials in a set (one lookup per certificate, however
//! many targets share the CRL) and its DER (to verify the signature against each distinct
//! issuer key asking, which in practice is one). CRLs whose meaning this reader cannot take in
//! are refused as `unsupported` rather than misread: delta CRLs, indirect CRLs, CRLs partitioned
//! by reason, and any other critical extension.

use std::collections::HashSet;

use bytes::Bytes;
use x509_parser::extensions::ParsedExtension;
use x509_parser::oid_registry::{
    OID_X509_EXT_AUTHORITY_KEY_IDENTIFIER, OID_X509_EXT_CRL_NUMBER,
    OID_X509_EXT_ISSUER_DISTRIBUTION_POINT,
};
use x509_parser::prelude::FromDer;
use x509_parser::revocation_list::CertificateRevocationList;

use super::issuer::Issuer;
use super::ocsp::trim_zeros;
use super::reason::RevocationReason;
use crate::failure::{Failure, Reason};

/// Why a CRL is unusable; the label is that of the [`RevocationReason`] it widens into.
pub type CrlError = Failure<CrlReason>;

/// The fixed reason of a [`CrlError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CrlReason {
    /// Not a CRL, or bad PEM around it.
    Malformed,
    /// A delta, indirect or partitioned CRL, or one with an unknown critical extension.
    Unsupported,
    /// Not issued by the certificate's issuer.
    WrongIssuer,
    /// The signature does not verify with the issuer's key.
    BadSignature,
}

impl Reason for CrlReason {
    fn as_str(self) -> &'static str {
        RevocationReason::from(self).as_str()
    }
}

/// A parsed CRL: who issued it, when, and which serials it lists.
#[derive(Debug, Clone)]
pub struct Crl {
    /// The issuer `Name` (DER), which must be the certificate's issuer.
    pub issuer_name: Vec<u8>,
    /// Unix seconds.
    pub this_update: i64,
    /// Unix seconds; `None` when the CRL does not say (it then never goes stale by date).
    pub next_update: Option<i64>,
    /// Serials listed, without leading zero bytes.
    revoked: HashSet<Box<[u8]>>,
    /// The CRL as received (DER), for signature checks.
    der: Bytes,
}

impl Crl {
    /// Parses a CRL served as DER (as RFC 5280 says) or, leniently, as PEM.
    pub fn parse(body: Bytes) -> Result<Crl, CrlError> {
        let der = if body.starts_with(b"-----BEGIN") {
            pem_crl(&body)?
        } else {
            body
        };
        let (rest, crl) = CertificateRevocationList::from_der(&der)
            .map_err(|e| CrlError::new(CrlReason::Malformed, format!("not a CRL: {e}")))?;
        if !rest.is_empty() {
            return Err(CrlError::new(
                CrlReason::Malformed,
                format!("{} bytes after the CRL", rest.len()),
            ));
        }
        check_extensions(&crl)?;
        let mut revoked = HashSet::new();
        for entry in crl.iter_revoked_certificates() {
            if entry.extensions().iter().any(|e| e.critical) {
                return Err(CrlError::new(
                    CrlReason::Unsupported,
                    "an entry has a critical extension (an indirect CRL?)",
                ));
            }
            revoked.insert(Box::from(trim_zeros(entry.raw_serial())));
        }
        Ok(Crl {
            issuer_name: crl.issuer().as_raw().to_vec(),
            this_update: crl.last_update().timestamp(),
            next_update: crl.next_update().map(|t| t.timestamp()),
            revoked,
            der,
        })
    }

    /// Checks that `issuer` issued this CRL: same name, and its key verifies the signature.
    pub fn verify(&self, issuer: &Issuer) -> Result<(), CrlError> {
        if self.issuer_name != issuer.name_der {
            return Err(CrlError::new(
                CrlReason::WrongIssuer,
                "the CRL is issued by another name than the certificate's issuer",
            ));
        }
        let spki = issuer
            .spki()
            .map_err(|e| CrlError::new(CrlReason::BadSignature, e))?;
        let (_, crl) = CertificateRevocationList::from_der(&self.der)
            .map_err(|e| CrlError::new(CrlReason::Malformed, format!("not a CRL: {e}")))?;
        crl.verify_signature(&spki).map_err(|e| {
            CrlError::new(
                CrlReason::BadSignature,
                format!("the CRL signature does not verify with the issuer's key: {e}"),
            )
        })
    }

    /// Whether the CRL lists `serial` (INTEGER contents; leading zero bytes are ignored).
    pub fn lists(&self, serial: &[u8]) -> bool {
        self.revoked.contains(trim_zeros(serial))
    }

    /// Whether the CRL is past its nextUpdate at Unix time `now`.
    pub fn is_stale(&self, now: i64) -> bool {
        self.next_update.is_some_and(|next| next < now)
    }

    /// Size of the CRL as received, in bytes.
    pub fn size(&self) -> usize {
        self.der.len()
    }
}

/// The DER of the first `X509 CRL` block of a PEM text.
fn pem_crl(body: &[u8]) -> Result<Bytes, CrlError> {
    let mut reader = body;
    loop {
        match rustls_pemfile::read_one(&mut reader) {
            Ok(Some(rustls_pemfile::Item::Crl(der))) => return Ok(Bytes::from(der.to_vec())),
            Ok(Some(_)) => continue,
            Ok(None) => {
                return Err(CrlError::new(
                    CrlReason::Malformed,
                    "PEM without an X509 CRL block",
                ))
            }
            Err(e) => {
                return Err(CrlError::new(
                    CrlReason::Malformed,
                    format!("bad PEM: {e:?}"),
                ))
            }
        }
    }
}

/// Refuses CRLs carrying a critical extension this reader does not act on, or an issuing
/// distribution point that narrows or redirects what the CRL covers.
fn check_extensions(crl: &CertificateRevocationList<'_>) -> Result<(), CrlError> {
    for ext in crl.extensions() {
        if let ParsedExtension::IssuingDistributionPoint(idp) = ext.parsed_extension() {
            if idp.indirect_crl {
                return Err(CrlError::new(
                    CrlReason::Unsupported,
                    "indirect CRLs are not supported",
                ));
            }
            if idp.only_some_reasons.is_some() {
                return Err(CrlError::new(
                    CrlReason::Unsupported,
                    "CRLs covering only some revocation reasons are not supported",
                ));
            }
            if idp.only_contains_attribute_certs {
                return Err(CrlError::new(
                    CrlReason::Unsupported,
                    "the CRL covers attribute certificates only",
                ));
            }
            continue;
        }
        let known = ext.oid == OID_X509_EXT_CRL_NUMBER
            || ext.oid == OID_X509_EXT_AUTHORITY_KEY_IDENTIFIER
            || ext.oid == OID_X509_EXT_ISSUER_DISTRIBUTION_POINT;
        if ext.critical && !known {
            return Err(CrlError::new(
                CrlReason::Unsupported,
                format!(
                    "critical extension {} is not supported (a delta CRL?)",
                    ext.oid.to_id_string()
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{
        BasicConstraints, CertificateParams, CertificateRevocationListParams, IsCa,
        Issuer as RcIssuer, KeyIdMethod, KeyPair, RevokedCertParams, SerialNumber,
    };
    use time::{Duration, OffsetDateTime};

    struct TestCa {
        params: CertificateParams,
        key: KeyPair,
    }

    impl TestCa {
        fn new(cn: &str) -> TestCa {
            let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, cn);
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            TestCa {
                params,
                key: KeyPair::generate().expect("key"),
            }
        }

        fn issuer(&self) -> Issuer {
            let cert = self.params.self_signed(&self.key).expect("self-signed");
            let (_, parsed) =
                x509_parser::certificate::X509Certificate::from_der(cert.der()).expect("parse");
            Issuer::from_cert(&parsed)
        }

        fn crl(&self, serials: &[u64], next_update_days: i64) -> Bytes {
            let now = OffsetDateTime::now_utc();
            let params = CertificateRevocationListParams {
                this_update: now - Duration::days(2),
                next_update: now + Duration::days(next_update_days),
                crl_number: SerialNumber::from(7u64),
                issuing_distribution_point: None,
                revoked_certs: serials
                    .iter()
                    .map(|s| RevokedCertParams {
                        serial_number: SerialNumber::from(*s),
                        revocation_time: now - Duration::days(1),
                        reason_code: None,
                        invalidity_date: None,
                    })
                    .collect(),
                key_identifier_method: KeyIdMethod::Sha256,
            };
            let issuer = RcIssuer::from_params(&self.params, &self.key);
            Bytes::from(params.signed_by(&issuer).expect("crl").der().to_vec())
        }
    }

    #[test]
    fn lists_verifies_and_dates() {
        let ca = TestCa::new("CRL Test CA");
        let crl = Crl::parse(ca.crl(&[0x1001, 0x80], 7)).expect("parses");
        assert!(crl.lists(&[0x10, 0x01]));
        assert!(crl.lists(&[0x00, 0x80]), "leading zero ignored");
        assert!(!crl.lists(&[0x10, 0x02]));
        crl.verify(&ca.issuer()).expect("verifies with its issuer");
        let now = OffsetDateTime::now_utc().unix_timestamp();
        assert!(!crl.is_stale(now));
        assert!(crl.is_stale(now + 8 * 86_400));
        assert!(crl.this_update < now);
    }

    #[test]
    fn another_key_under_the_same_name_is_a_bad_signature() {
        let ca = TestCa::new("CRL Test CA");
        let impostor = TestCa::new("CRL Test CA");
        let crl = Crl::parse(impostor.crl(&[1], 7)).expect("parses");
        assert_eq!(
            crl.verify(&ca.issuer()).unwrap_err().reason.as_str(),
            "bad_signature"
        );
        let other = TestCa::new("Another CA");
        assert_eq!(
            crl.verify(&other.issuer()).unwrap_err().reason.as_str(),
            "wrong_issuer"
        );
    }

    #[test]
    fn pem_is_accepted() {
        let ca = TestCa::new("CRL Test CA");
        let der = ca.crl(&[5], 7);
        let pem = pem::encode(&pem::Pem::new("X509 CRL", der.to_vec()));
        let crl = Crl::parse(Bytes::from(pem)).expect("PEM parses");
        assert!(crl.lists(&[5]));
        assert_eq!(crl.size(), der.len());
    }

    #[test]
    fn garbage_truncated_and_wrong_types_are_malformed() {
        let ca = TestCa::new("CRL Test CA");
        let der = ca.crl(&[1, 2, 3], 7);
        for bad in [
            Bytes::from_static(b""),
            Bytes::from_static(b"garbage"),
            Bytes::from_static(b"<html>404</html>"),
            Bytes::from_static(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
            Bytes::from_static(&[0x30, 0x80, 0, 0]),
            // A certificate is not a CRL.
            Bytes::from(
                rcgen::generate_simple_self_signed(vec!["a.test".into()])
                    .expect("cert")
                    .cert
                    .der()
                    .to_vec(),
            ),
        ] {
            let e = Crl::parse(bad.clone()).expect_err("must be refused");
            assert_eq!(e.reason.as_str(), "malformed", "{bad:?}: {e}");
        }
        for len in 0..der.len() {
            let e = Crl::parse(der.slice(..len)).expect_err("truncated");
            assert_eq!(e.reason.as_str(), "malformed", "{len}: {e}");
        }
        let mut trailing = der.to_vec();
        trailing.push(0);
        assert_eq!(
            Crl::parse(Bytes::from(trailing))
                .unwrap_err()
                .reason
                .as_str(),
            "malformed"
        );
    }
}
