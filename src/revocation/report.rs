//! The verdict aggregation: what each source said ([`SourceReport`]), what they say together
//! ([`RevocationReport`]), and what that does to the chain's verdict ([`apply`]). Pure: the
//! checking that asks the sources is in the parent module.

use crate::x509::{ChainError, ChainReport};

use super::ocsp::{NonceCheck, OcspAnswer, OcspStatus, Signer};
use super::{RevocationError, RevocationReason, Source};

/// Something a source's verified answers show that is worth telling but changes no verdict:
/// `check` explains it; no series carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevocationNote {
    /// The OCSP answer about `subject` was signed by a delegated responder certificate
    /// (OCSPSigning, issued by the CA). `nocheck` when that certificate carries
    /// `id-pkix-ocsp-nocheck`; without it RFC 6960 §4.2.2.2.1 leaves checking the responder's
    /// own revocation to the client, which is not done: the answer is used all the same.
    DelegatedResponder {
        /// The subject of the certificate the answer is about.
        subject: String,
        /// Whether the responder certificate carries `id-pkix-ocsp-nocheck`.
        nocheck: bool,
    },
    /// A nonce was sent about `subject` and the responder answered without one (a pre-signed
    /// answer): accepted, but not proven fresh.
    NonceNotEchoed {
        /// The subject of the certificate the answer is about.
        subject: String,
    },
}

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
    /// What the verified answers show beyond the verdict (who signed them, a nonce not echoed).
    pub notes: Vec<RevocationNote>,
}

impl SourceReport {
    pub(super) fn new(source: Source) -> SourceReport {
        SourceReport {
            source,
            revoked: None,
            next_update: None,
            errors: Vec::new(),
            notes: Vec::new(),
        }
    }
}

/// The revocation facts of one probe.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RevocationReport {
    /// Whether the server stapled an OCSP response (whatever it said).
    pub stapled: bool,
    /// One entry per source that applied: stapled when a response was stapled, OCSP when a path
    /// certificate names a responder, CRL when a path certificate names a distribution point
    /// (and the source is switched on).
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

/// What an OCSP source was asked about one certificate and what came of it.
pub(super) struct OcspOutcome<'a> {
    /// The certificate's subject, for notes.
    pub(super) subject: &'a str,
    /// Whether it is the leaf: errors about an intermediate name it.
    pub(super) leaf: bool,
    pub(super) outcome: Result<OcspAnswer, RevocationError>,
}

/// OCSP answers as a source report, over the certificates asked about (the leaf alone for the
/// stapled source; the leaf and the intermediates that name a responder for `ocsp`), the way
/// [`crl_report`] does: revoked when any verified answer says so; not revoked only when every
/// certificate asked about got a verified `good`. `unknown` is an error, not a verdict. The
/// nextUpdate is the earliest of the answers'.
pub(super) fn ocsp_report(source: Source, outcomes: Vec<OcspOutcome<'_>>) -> SourceReport {
    let mut report = SourceReport::new(source);
    let mut verdicts = Vec::with_capacity(outcomes.len());
    for OcspOutcome {
        subject,
        leaf,
        outcome,
    } in outcomes
    {
        let about = |e: RevocationError| {
            if leaf || e.detail.contains(subject) {
                e
            } else {
                RevocationError::new(e.reason, format!("intermediate {subject:?}: {}", e.detail))
            }
        };
        let answer = match outcome {
            Ok(answer) => answer,
            Err(e) => {
                report.errors.push(about(e));
                verdicts.push(None);
                continue;
            }
        };
        if let Some(next) = answer.next_update {
            report.next_update = Some(report.next_update.map_or(next, |n: i64| n.min(next)));
        }
        if let Signer::Delegated { nocheck } = answer.signer {
            report.notes.push(RevocationNote::DelegatedResponder {
                subject: subject.to_string(),
                nocheck,
            });
        }
        if answer.nonce == NonceCheck::NotEchoed {
            report.notes.push(RevocationNote::NonceNotEchoed {
                subject: subject.to_string(),
            });
        }
        verdicts.push(match answer.status {
            OcspStatus::Good => Some(false),
            OcspStatus::Revoked { .. } => Some(true),
            OcspStatus::Unknown => {
                report.errors.push(about(RevocationError::new(
                    RevocationReason::UnknownStatus,
                    "the responder does not know the certificate",
                )));
                None
            }
        });
    }
    report.revoked = if verdicts.contains(&Some(true)) {
        Some(true)
    } else if !verdicts.is_empty() && verdicts.iter().all(|v| *v == Some(false)) {
        Some(false)
    } else {
        None
    };
    report
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

    fn answer(status: OcspStatus, next_update: i64) -> OcspAnswer {
        OcspAnswer {
            status,
            this_update: 0,
            next_update: Some(next_update),
            signer: Signer::Issuer,
            nonce: NonceCheck::NotSent,
        }
    }

    fn leaf(outcome: Result<OcspAnswer, RevocationError>) -> OcspOutcome<'static> {
        OcspOutcome {
            subject: "CN=leaf",
            leaf: true,
            outcome,
        }
    }

    fn intermediate(outcome: Result<OcspAnswer, RevocationError>) -> OcspOutcome<'static> {
        OcspOutcome {
            subject: "CN=Intermediate",
            leaf: false,
            outcome,
        }
    }

    #[test]
    fn unknown_is_an_error_and_not_a_verdict() {
        let one = |status| ocsp_report(Source::Ocsp, vec![leaf(Ok(answer(status, 10)))]);
        let r = one(OcspStatus::Unknown);
        assert_eq!(r.revoked, None);
        assert_eq!(r.errors[0].reason.as_str(), "unknown_status");
        assert_eq!(r.next_update, Some(10));
        assert_eq!(one(OcspStatus::Revoked { at: 5 }).revoked, Some(true));
        assert_eq!(one(OcspStatus::Good).revoked, Some(false));
    }

    #[test]
    fn intermediates_answer_like_crls_do() {
        let good = |n| Ok(answer(OcspStatus::Good, n));
        let r = ocsp_report(Source::Ocsp, vec![leaf(good(30)), intermediate(good(20))]);
        assert_eq!((r.revoked, r.next_update), (Some(false), Some(20)));
        assert!(r.errors.is_empty() && r.notes.is_empty());
        // A revoked intermediate revokes the path, whatever the leaf's answer.
        let r = ocsp_report(
            Source::Ocsp,
            vec![
                leaf(Err(RevocationError::new(TIMEOUT, "slow"))),
                intermediate(Ok(answer(OcspStatus::Revoked { at: 1 }, 20))),
            ],
        );
        assert_eq!(r.revoked, Some(true));
        // An intermediate without an answer leaves "not revoked" unproven, and is named.
        let r = ocsp_report(
            Source::Ocsp,
            vec![
                leaf(good(30)),
                intermediate(Err(RevocationError::new(TIMEOUT, "slow"))),
            ],
        );
        assert_eq!(r.revoked, None);
        assert_eq!(r.errors[0].detail, "intermediate \"CN=Intermediate\": slow");
    }

    #[test]
    fn delegated_responders_and_unechoed_nonces_are_noted() {
        let mut a = answer(OcspStatus::Good, 10);
        a.signer = Signer::Delegated { nocheck: false };
        a.nonce = NonceCheck::NotEchoed;
        let r = ocsp_report(Source::Ocsp, vec![leaf(Ok(a))]);
        assert_eq!(r.revoked, Some(false));
        assert_eq!(
            r.notes,
            [
                RevocationNote::DelegatedResponder {
                    subject: "CN=leaf".into(),
                    nocheck: false
                },
                RevocationNote::NonceNotEchoed {
                    subject: "CN=leaf".into()
                }
            ]
        );
    }
}
