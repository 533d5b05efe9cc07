//! Revocation sources that could not answer, and OCSP stapling.

use super::{Finding, Severity};
use crate::probe::ProbeResult;
use crate::revocation::RevocationNote;

/// Revocation sources that could not answer, and the stapling state. A verified revocation is
/// the chain's `revoked` finding.
pub(super) fn findings(result: &ProbeResult, findings: &mut Vec<Finding>) {
    let Some(revocation) = &result.revocation else {
        return;
    };
    let good: Vec<&str> = revocation
        .sources
        .iter()
        .filter(|s| s.revoked == Some(false))
        .map(|s| s.source.as_str())
        .collect();
    if !good.is_empty() {
        findings.push(Finding::new(
            Severity::Ok,
            "not_revoked",
            format!("not revoked according to {}", good.join(", ")),
        ));
    }
    for source in &revocation.sources {
        for error in &source.errors {
            findings.push(Finding::new(
                Severity::Note,
                "revocation_check_failed",
                format!(
                    "{} gave no usable answer: {} ({})",
                    source.source.as_str(),
                    error.reason,
                    error.detail
                ),
            ));
        }
    }
    for source in &revocation.sources {
        for note in &source.notes {
            match note {
                RevocationNote::DelegatedResponder {
                    subject,
                    nocheck: true,
                } => findings.push(Finding::new(
                    Severity::Ok,
                    "ocsp_delegated_responder",
                    format!(
                        "{}: the answer about {subject} is signed by a delegated responder certificate of the CA that carries id-pkix-ocsp-nocheck",
                        source.source.as_str()
                    ),
                )),
                RevocationNote::DelegatedResponder {
                    subject,
                    nocheck: false,
                } => findings.push(
                    Finding::new(
                        Severity::Note,
                        "ocsp_responder_unchecked",
                        format!(
                            "{}: the answer about {subject} is signed by a delegated responder certificate without id-pkix-ocsp-nocheck; its own revocation is not checked, and the answer is used as the CA's",
                            source.source.as_str()
                        ),
                    )
                    .advice("a CA's delegated OCSP responder certificates should carry id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1); without it a client that does not check the responder certificate relies on its being short-lived"),
                ),
                RevocationNote::NonceNotEchoed { subject } => findings.push(Finding::new(
                    Severity::Note,
                    "ocsp_nonce_not_echoed",
                    format!(
                        "{}: the answer about {subject} carries no nonce: a pre-signed answer, current by its own dates but not proven fresh",
                        source.source.as_str()
                    ),
                )),
            }
        }
    }
    let leaf_has_ocsp = result
        .chain
        .as_ref()
        .and_then(|c| c.certs.first())
        .is_some_and(|leaf| !leaf.ocsp_urls.is_empty());
    if !revocation.stapled && leaf_has_ocsp {
        findings.push(
            Finding::new(
                Severity::Note,
                "ocsp_not_stapled",
                "the server does not staple an OCSP response",
            )
            .advice(
                "enable OCSP stapling (nginx: ssl_stapling on;) so clients need not ask the CA",
            ),
        );
    }
}
