//! Judging a served certificate chain, one dimension at a time.
//!
//! rustls-webpki answers "is this chain valid?" with one ranked error, and checks the hostname only
//! after the path succeeded. Operators need every reason that applies, so this module asks each
//! question separately: are the dates of every certificate in the path good *now*; does a path to
//! a trust anchor exist (asked at a moment when the dates are good, so that expiry does not hide
//! an unknown issuer); does the leaf cover the server name; are the signatures acceptable.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;

use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use webpki::{EndEntityCert, ExtendedKeyUsageValidator, KeyPurposeIdIter, KeyUsage};

use super::facts::CertFacts;
use super::trust::TrustStore;

/// The most certificates of one chain that are analysed and reported; a server sending more is
/// misconfigured or hostile, and the rest would only bloat `/metrics`.
pub const MAX_CHAIN: usize = 64;

/// Why a chain is not valid. The `as_str` values are the `reason` label of `cert_chain_error_info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChainError {
    /// A certificate of the path is past its notAfter.
    Expired,
    /// A certificate of the path is before its notBefore.
    NotYetValid,
    /// No path to a trust anchor, and the leaf is not self-signed.
    UnknownIssuer,
    /// The leaf signed itself and is not a trust anchor.
    SelfSigned,
    /// The path would be complete with the intermediate the server did not send.
    MissingIntermediate,
    /// The leaf does not cover the server name.
    HostnameMismatch,
    /// A signature in the path uses an algorithm (or key) verifiers reject.
    UnsupportedSignatureAlgorithm,
    /// A signature in the path does not verify.
    BadSignature,
    /// The leaf may not be used for TLS servers (extendedKeyUsage), or a CA is used as a leaf.
    InvalidPurpose,
    /// Name or path-length constraints of a CA forbid this path.
    ConstraintViolation,
    /// A certificate of the path is revoked.
    Revoked,
    /// A certificate could not be parsed.
    Malformed,
    /// The path failed for a reason not listed above (the log line has webpki's words).
    Invalid,
}

impl ChainError {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ChainError::Expired => "expired",
            ChainError::NotYetValid => "not_yet_valid",
            ChainError::UnknownIssuer => "unknown_issuer",
            ChainError::SelfSigned => "self_signed",
            ChainError::MissingIntermediate => "missing_intermediate",
            ChainError::HostnameMismatch => "hostname_mismatch",
            ChainError::UnsupportedSignatureAlgorithm => "unsupported_signature_algorithm",
            ChainError::BadSignature => "bad_signature",
            ChainError::InvalidPurpose => "invalid_purpose",
            ChainError::ConstraintViolation => "constraint_violation",
            ChainError::Revoked => "revoked",
            ChainError::Malformed => "malformed_certificate",
            ChainError::Invalid => "invalid",
        }
    }
}

/// The verdict on a served chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// Facts of each certificate as the server sent it (index = `position`, 0 = leaf).
    pub certs: Vec<Arc<CertFacts>>,
    /// Which sent certificates belong to the path from the leaf (extra ones, such as an old root
    /// the server still sends, do not count for expiry).
    pub in_path: Vec<bool>,
    /// Every reason that applies; empty when the chain is valid.
    pub errors: BTreeSet<ChainError>,
    /// The earliest notAfter of the path's certificates (Unix seconds).
    pub expiry: Option<i64>,
    /// Whether the path ends at an anchor from a `ca_file` rather than the system store.
    pub private_anchor: bool,
    /// webpki's own words for the path failure, for logs.
    pub detail: Option<String>,
    /// Whether the certificates were judged as a chain (always, for a served chain). False for
    /// a file holding a bundle of unrelated certificates ([`super::bundle`]): their facts are
    /// reported, but there is no path, no verdict and `errors` stays empty.
    pub judged: bool,
    /// Whether a path to a trust anchor exists (then `private_anchor` says which kind), with
    /// an intermediate fetched from the leaf's caIssuers URL when the server left it out
    /// ([`super::missing`]). Tells a publicly trusted leaf for [`super::weak`].
    pub anchored: bool,
}

impl ChainReport {
    /// True when no reason applies.
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Analyses `chain` (leaf first, as sent) for `server_name` at time `now` (Unix seconds).
pub fn analyse(
    chain: &[CertificateDer<'_>],
    server_name: &str,
    trust: &TrustStore,
    now: i64,
) -> ChainReport {
    judge(chain, Some(server_name), Purpose::TlsServer, trust, now)
}

/// Analyses a chain read from a file (leaf first): dates, trust and signatures as for a served
/// chain, but no hostname (a file has no server name) and any purpose (a file may hold a
/// client or signing certificate as well as a server's).
pub fn analyse_file_chain(
    chain: &[CertificateDer<'_>],
    trust: &TrustStore,
    now: i64,
) -> ChainReport {
    judge(chain, None, Purpose::Any, trust, now)
}

/// What the leaf must be good for.
#[derive(Debug, Clone, Copy)]
enum Purpose {
    /// A TLS server (extendedKeyUsage serverAuth, when the extension is present).
    TlsServer,
    /// Anything: extendedKeyUsage is not judged.
    Any,
}

impl ExtendedKeyUsageValidator for Purpose {
    fn validate(&self, iter: KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        match self {
            Purpose::TlsServer => KeyUsage::server_auth().validate(iter),
            Purpose::Any => Ok(()),
        }
    }
}

/// The analysis behind [`analyse`] and [`analyse_file_chain`]: the hostname dimension is
/// skipped when `server_name` is `None`.
fn judge(
    chain: &[CertificateDer<'_>],
    server_name: Option<&str>,
    purpose: Purpose,
    trust: &TrustStore,
    now: i64,
) -> ChainReport {
    let chain = &chain[..chain.len().min(MAX_CHAIN)];
    let mut report = ChainReport {
        certs: Vec::with_capacity(chain.len()),
        in_path: vec![false; chain.len()],
        errors: BTreeSet::new(),
        expiry: None,
        private_anchor: false,
        detail: None,
        judged: true,
        anchored: false,
    };
    for der in chain {
        match super::facts_cache::facts(der) {
            Ok(facts) => report.certs.push(facts),
            Err(e) => {
                report.errors.insert(ChainError::Malformed);
                report.detail = Some(e.to_string());
                // Keep positions aligned with what was sent: stop at the first unparsable one.
                report.in_path.truncate(report.certs.len());
                break;
            }
        }
    }
    if report.certs.is_empty() {
        return report;
    }

    // 1. Which sent certificates form the path, judged by names alone (signatures come later).
    let name_path = name_chained_path(&report.certs);

    // 2. Trust: ask webpki now; if only dates are wrong, ask again at a moment inside every
    //    path certificate's validity, so an expired chain still tells whether it is trusted.
    let leaf_der = &chain[0];
    let intermediates: Vec<CertificateDer<'_>> = chain[1..report.certs.len()]
        .iter()
        .map(|c| CertificateDer::from(c.as_ref()))
        .collect();
    let verdict = match EndEntityCert::try_from(leaf_der) {
        Err(e) => Err(e),
        Ok(leaf) => {
            let at = |t: i64| {
                leaf.verify_for_usage(
                    webpki::ALL_VERIFICATION_ALGS,
                    trust.anchors(),
                    &intermediates,
                    UnixTime::since_unix_epoch(std::time::Duration::from_secs(t.max(0) as u64)),
                    purpose,
                    None,
                    None,
                )
                .map(|path| {
                    let used: Vec<Vec<u8>> = path
                        .intermediate_certificates()
                        .map(|c| c.der().as_ref().to_vec())
                        .collect();
                    (used, trust.is_private(path.anchor()))
                })
            };
            match at(now) {
                Err(e) if is_date_error(&e) => match moment_inside(&report.certs, &name_path) {
                    Some(t) => at(t),
                    None => Err(e),
                },
                other => other,
            }
        }
    };

    // 3. The path positions, from webpki when it built one, else from names.
    report.in_path[0] = true;
    match &verdict {
        Ok((used, private)) => {
            report.private_anchor = *private;
            report.anchored = true;
            for (i, der) in chain.iter().enumerate().take(report.certs.len()).skip(1) {
                if used.iter().any(|u| u.as_slice() == der.as_ref()) {
                    report.in_path[i] = true;
                }
            }
        }
        Err(e) => {
            for &i in &name_path {
                report.in_path[i] = true;
            }
            report.detail = Some(format!("{e:?}"));
            let reason = match webpki_reason(e) {
                ChainError::UnknownIssuer if is_self_signed(&report.certs[0], leaf_der) => {
                    ChainError::SelfSigned
                }
                reason => reason,
            };
            if !matches!(reason, ChainError::Expired | ChainError::NotYetValid) {
                report.errors.insert(reason);
            }
        }
    }

    // 4. Dates of every path certificate, now.
    for (facts, _) in report
        .certs
        .iter()
        .zip(&report.in_path)
        .filter(|(_, p)| **p)
    {
        if now > facts.not_after {
            report.errors.insert(ChainError::Expired);
        }
        if now < facts.not_before {
            report.errors.insert(ChainError::NotYetValid);
        }
    }
    report.expiry = report
        .certs
        .iter()
        .zip(&report.in_path)
        .filter(|(_, p)| **p)
        .map(|(f, _)| f.not_after)
        .min();

    // 5. Hostname, whatever the path said (files have none to check).
    if let (Some(server_name), Ok(leaf)) = (server_name, EndEntityCert::try_from(leaf_der)) {
        if !covers_name(&leaf, server_name) {
            report.errors.insert(ChainError::HostnameMismatch);
        }
    }
    report
}

/// Whether the leaf covers `server_name` (a DNS name or an IP literal).
fn covers_name(leaf: &EndEntityCert<'_>, server_name: &str) -> bool {
    let name = match server_name.parse::<IpAddr>() {
        Ok(ip) => ServerName::IpAddress(ip.into()),
        Err(_) => match ServerName::try_from(server_name) {
            Ok(name) => name,
            Err(_) => return false,
        },
    };
    leaf.verify_is_valid_for_subject_name(&name).is_ok()
}

/// Positions of the path built by following issuer names from the leaf through the sent
/// certificates, stopping at a self-issued certificate (a root) or when no issuer was sent.
/// Roots are left out: they are the client's to hold, and an old root a server still sends
/// must not count as the chain's expiry.
fn name_chained_path(certs: &[Arc<CertFacts>]) -> Vec<usize> {
    let mut path = vec![0];
    let mut current = 0;
    while !certs[current].self_issued {
        let next = (1..certs.len()).find(|&i| {
            !path.contains(&i) && certs[i].subject == certs[current].issuer && !certs[i].self_issued
        });
        match next {
            Some(i) => {
                path.push(i);
                current = i;
            }
            None => break,
        }
    }
    path
}

/// A Unix time inside every path certificate's validity, if one exists.
fn moment_inside(certs: &[Arc<CertFacts>], path: &[usize]) -> Option<i64> {
    let start = path.iter().map(|&i| certs[i].not_before).max()?;
    let end = path.iter().map(|&i| certs[i].not_after).min()?;
    (start <= end).then_some(start + (end - start) / 2)
}

fn is_date_error(e: &webpki::Error) -> bool {
    matches!(
        e,
        webpki::Error::CertExpired { .. } | webpki::Error::CertNotValidYet { .. }
    )
}

/// A self-issued leaf whose signature verifies with its own key.
fn is_self_signed(facts: &CertFacts, der: &CertificateDer<'_>) -> bool {
    use x509_parser::prelude::FromDer;
    facts.self_issued
        && x509_parser::certificate::X509Certificate::from_der(der)
            .map(|(_, c)| c.verify_signature(None).is_ok())
            .unwrap_or(false)
}

/// Maps webpki's path error to our reason.
fn webpki_reason(e: &webpki::Error) -> ChainError {
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
        E::BadDer | E::BadDerTime | E::TrailingData(_) | E::MalformedExtensions => {
            ChainError::Malformed
        }
        _ => ChainError::Invalid,
    }
}
