//! What webpki's one ranked error means for the chain: the reason it maps to, and, where the
//! error hides more than it says (an unknown issuer that is really a self-signed leaf, a "bad"
//! signature that is a weak key or a path webpki cannot build), the reason that is true.

use rustls_pki_types::{CertificateDer, TrustAnchor};

use super::{ChainError, ChainReport, Details};
use crate::x509::facts::CertFacts;
use crate::x509::trust::TrustStore;

/// The reason for a path webpki did not build (dates and anchors aside).
pub(super) fn classify(
    e: &webpki::Error,
    report: &ChainReport,
    chain: &[CertificateDer<'_>],
    trust: &TrustStore,
    leaf_anchor: &Option<TrustAnchor<'_>>,
    details: &mut Details,
) -> ChainError {
    use webpki::Error as E;
    let self_signed = is_self_signed(&report.certs[0], &chain[0]);
    details.push(format!("{e:?}"));
    match webpki_reason(e) {
        ChainError::UnknownIssuer if self_signed => ChainError::SelfSigned,
        // A CA certificate as the leaf: webpki refuses it before looking for an issuer. For a
        // self-signed one (what `openssl req -x509` makes) the trust question is whether it is
        // itself an anchor: if not, it is self-signed; if so, rustls clients still refuse a
        // CA certificate as a server's.
        ChainError::InvalidPurpose if matches!(e, E::CaUsedAsEndEntity) && self_signed => {
            let pinned = leaf_anchor.as_ref().is_some_and(|a| {
                trust.has_anchor(a.subject.as_ref(), a.subject_public_key_info.as_ref())
            });
            if pinned {
                ChainError::InvalidPurpose
            } else {
                ChainError::SelfSigned
            }
        }
        ChainError::BadSignature | ChainError::UnsupportedSignatureAlgorithm
            if matches!(
                e,
                E::InvalidSignatureForPublicKey
                    | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_)
            ) =>
        {
            match crate::x509::signatures::walk(chain, &report.certs, trust) {
                crate::x509::signatures::Walk::Verified(n) => {
                    details.push(format!(
                        "every signature verifies along {n} certificates to a trust anchor, \
                         but rustls-webpki cannot build this path"
                    ));
                    ChainError::PathNotBuilt
                }
                crate::x509::signatures::Walk::WeakKey(why) => {
                    details.push(why);
                    ChainError::WeakKey
                }
                crate::x509::signatures::Walk::Bad(why) => {
                    details.push(why);
                    ChainError::BadSignature
                }
                crate::x509::signatures::Walk::NoPath => webpki_reason(e),
            }
        }
        reason => reason,
    }
}

pub(super) fn is_date_error(e: &webpki::Error) -> bool {
    matches!(
        e,
        webpki::Error::CertExpired { .. } | webpki::Error::CertNotValidYet { .. }
    )
}

pub(super) fn is_eku_error(e: &webpki::Error) -> bool {
    matches!(
        e,
        webpki::Error::RequiredEkuNotFoundContext(_) | webpki::Error::EmptyEkuExtension
    )
}

/// A self-issued leaf whose signature verifies with its own key.
pub(super) fn is_self_signed(facts: &CertFacts, der: &CertificateDer<'_>) -> bool {
    use x509_parser::prelude::FromDer;
    facts.self_issued
        && x509_parser::certificate::X509Certificate::from_der(der)
            .map(|(_, c)| c.verify_signature(None).is_ok())
            .unwrap_or(false)
}

/// Maps webpki's path error to our reason.
pub(super) fn webpki_reason(e: &webpki::Error) -> ChainError {
    use webpki::Error as E;
    match e {
        E::CertExpired { .. } => ChainError::Expired,
        E::CertNotValidYet { .. } => ChainError::NotYetValid,
        E::UnknownIssuer => ChainError::UnknownIssuer,
        E::InvalidSignatureForPublicKey => ChainError::BadSignature,
        E::UnsupportedSignatureAlgorithmContext(_)
        | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_)
        | E::SignatureAlgorithmMismatch => ChainError::UnsupportedSignatureAlgorithm,
        E::RequiredEkuNotFoundContext(_)
        | E::EmptyEkuExtension
        | E::CaUsedAsEndEntity
        | E::EndEntityUsedAsCa => ChainError::InvalidPurpose,
        E::NameConstraintViolation | E::PathLenConstraintViolated => {
            ChainError::ConstraintViolation
        }
        E::CertRevoked => ChainError::Revoked,
        // Whatever webpki cannot parse, in any certificate of the path: one reason.
        E::BadDer
        | E::BadDerTime
        | E::TrailingData(_)
        | E::MalformedExtensions
        | E::UnsupportedCriticalExtension
        | E::UnsupportedCertVersion
        | E::ExtensionValueInvalid
        | E::InvalidSerialNumber
        | E::InvalidCertValidity
        | E::MalformedNameConstraint
        | E::MalformedDnsIdentifier
        | E::InvalidNetworkMaskConstraint => ChainError::Malformed,
        _ => ChainError::Invalid,
    }
}
