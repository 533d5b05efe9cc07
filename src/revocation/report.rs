//! The verdict aggregation: what each source said ([`SourceReport`]), what they say together
//! ([`RevocationReport`]), and what that does to the chain's verdict ([`apply`]). Pure: the
//! checking that asks the sources is in the parent module.

use crate::x509::{ChainError, ChainReport};

use super::ocsp::{OcspAnswer, OcspStatus};
use super::{RevocationError, RevocationReason, Source};

/// What one source said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceReport {
    /// Which source this is: the `source` label.
    pub source: Source,
    /// `Some(true)` revoked, `Some(false)` not revoked, both verified; `None` when the source
    /// gave no verified answer (then `errors` says why).
    pub revoked: Option<bool>,
    /// nextUpdate of the OCSP answer used (Unix seconds); `None` for CRLs (they are reported
    /// per URL) and for answers without one.
    pub next_update: Option<i64>,
    /// Every failure of this source (several when several CRLs failed differently).
    pub errors: Vec<RevocationError>,
}

impl SourceReport {
    pub(super) fn new(source: Source) -> SourceReport {
        SourceReport {
            source,
            revoked: None,
            next_update: None,
            errors: Vec::new(),
        }
    }

    pub(super) fn failed(source: Source, error: RevocationError) -> SourceReport {
        SourceReport {
            errors: vec![error],
            ..SourceReport::new(source)
        }
    }
}

/// The revocation facts of one probe.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RevocationReport {
    /// Whether the server stapled an OCSP response (whatever it said).
    pub stapled: bool,
    /// One entry per source that applied: stapled when a response was stapled, OCSP when the
    /// leaf names a responder, CRL when a path certificate names a distribution point (and the
    /// source is switched on).
    pub sources: Vec<SourceReport>,
}

impl RevocationReport {
    /// Whether any source verified that a path certificate is revoked.
    pub fn revoked(&self) -> bool {
        self.sources.iter().any(|s| s.revoked == Some(true))
    }
}

/// One certificate's CRL outcome.
pub(super) struct CrlVerdict {
    pub(super) revoked: Option<bool>,
    pub(super) errors: Vec<RevocationError>,
}

impl CrlVerdict {
    pub(super) fn error(e: RevocationError) -> CrlVerdict {
        CrlVerdict {
            revoked: None,
            errors: vec![e],
        }
    }
}

/// The CRL source over all path certificates: revoked when any verified list names one of
/// them; not revoked only when every certificate with distribution points got a verified,
/// current answer.
pub(super) fn crl_report(verdicts: Vec<CrlVerdict>) -> SourceReport {
    let mut report = SourceReport::new(Source::Crl);
    let any_revoked = verdicts.iter().any(|v| v.revoked == Some(true));
    let all_answered = verdicts.iter().all(|v| v.revoked.is_some());
    report.revoked = if any_revoked {
        Some(true)
    } else if all_answered {
        Some(false)
    } else {
        None
    };
    for verdict in verdicts {
        report.errors.extend(verdict.errors);
    }
    report
}

/// An OCSP answer as a source report: `unknown` is an error, not a verdict.
pub(super) fn ocsp_report(
    source: Source,
    outcome: Result<OcspAnswer, RevocationError>,
) -> SourceReport {
    match outcome {
        Err(e) => SourceReport::failed(source, e),
        Ok(answer) => {
            let mut report = SourceReport::new(source);
            report.next_update = answer.next_update;
            match answer.status {
                OcspStatus::Good => report.revoked = Some(false),
                OcspStatus::Revoked { .. } => report.revoked = Some(true),
                OcspStatus::Unknown => report.errors.push(RevocationError::new(
                    RevocationReason::UnknownStatus,
                    "the responder does not know the certificate",
                )),
            }
            report
        }
    }
}

/// Adds the revocation verdict to the chain's: a verified revocation makes the chain invalid.
pub fn apply(report: &RevocationReport, chain: &mut ChainReport) {
    if report.revoked() {
        chain.errors.insert(ChainError::Revoked);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: RevocationReason = RevocationReason::Fetch(crate::fetch::FetchReason::Timeout);

    fn verdict(revoked: Option<bool>, reasons: &[RevocationReason]) -> CrlVerdict {
        CrlVerdict {
            revoked,
            errors: reasons
                .iter()
                .map(|r| RevocationError::new(*r, "test"))
                .collect(),
        }
    }

    #[test]
    fn crl_source_needs_every_certificate_answered_unless_one_is_revoked() {
        let r = crl_report(vec![verdict(Some(false), &[]), verdict(Some(false), &[])]);
        assert_eq!((r.revoked, r.errors.len()), (Some(false), 0));
        let r = crl_report(vec![verdict(Some(false), &[]), verdict(None, &[TIMEOUT])]);
        assert_eq!((r.revoked, r.errors.len()), (None, 1));
        let r = crl_report(vec![
            verdict(Some(true), &[RevocationReason::Stale]),
            verdict(None, &[TIMEOUT]),
        ]);
        assert_eq!((r.revoked, r.errors.len()), (Some(true), 2));
    }

    #[test]
    fn unknown_is_an_error_and_not_a_verdict() {
        let answer = |status| OcspAnswer {
            status,
            this_update: 0,
            next_update: Some(10),
        };
        let r = ocsp_report(Source::Ocsp, Ok(answer(OcspStatus::Unknown)));
        assert_eq!(r.revoked, None);
        assert_eq!(r.errors[0].reason.as_str(), "unknown_status");
        assert_eq!(r.next_update, Some(10));
        let r = ocsp_report(Source::Ocsp, Ok(answer(OcspStatus::Revoked { at: 5 })));
        assert_eq!(r.revoked, Some(true));
        let r = ocsp_report(Source::Ocsp, Ok(answer(OcspStatus::Good)));
        assert_eq!(r.revoked, Some(false));
    }
}
