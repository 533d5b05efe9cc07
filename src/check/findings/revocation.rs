//! Revocation sources that could not answer, and OCSP stapling.

use super::{Finding, Severity};
use crate::probe::ProbeResult;

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
