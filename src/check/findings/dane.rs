//! DANE: whether the name's TLSA records match the served chain, and whether they were
//! DNSSEC-validated (without that, senders ignore them).

use super::{Finding, Severity};
use crate::failure::Reason;
use crate::probe::dane::{DaneReason, DaneReport};

/// What the DANE check found (targets with `dane: true`); `smtp` when the target speaks SMTP,
/// whose validating senders refuse to deliver over a mismatch (RFC 7672 §2.2).
pub(super) fn findings(dane: &DaneReport, smtp: bool, findings: &mut Vec<Finding>) {
    let name = &dane.name;
    let publish = dane
        .leaf_record
        .as_ref()
        .map(|r| format!("{name}. IN TLSA {r}"));
    let finding = match &dane.outcome {
        Ok(answer) => match (&answer.verdict.matched, answer.validated) {
            (Some(m), true) => Finding::new(
                Severity::Ok,
                "dane_match",
                format!(
                    "the DNSSEC-validated TLSA record {name} {} matches the served {}",
                    m.record,
                    if m.position == 0 {
                        "leaf".to_string()
                    } else {
                        format!("chain (certificate {})", m.position)
                    }
                ),
            ),
            (Some(m), false) => Finding::new(
                Severity::Attention,
                "dane_unsigned",
                format!(
                    "the TLSA record {name} {} matches, but the answer was not DNSSEC-validated (no AD bit): senders ignore DANE without DNSSEC",
                    m.record
                ),
            )
            .advice(
                "sign the zone (and publish its DS in the parent), and ask a validating resolver \
                 (dns.name_servers) on a trusted path",
            ),
            (None, validated) => {
                let records = answer.records.join("; ");
                let unusable = match answer.verdict.unusable {
                    0 => String::new(),
                    n => format!(", {n} of them unusable (PKIX usages or unknown numbers)"),
                };
                // A DANE-TA record whose certificate was sent, but does not anchor the leaf
                // for this name: say so, or the operator sees a matching hash and no match.
                let refused = match &answer.verdict.ta_refused {
                    Some((m, why)) => format!(
                        "; {} matches the sent certificate {}, but it is not the leaf's trust anchor: {why}",
                        m.record, m.position
                    ),
                    None => String::new(),
                };
                let who = if !validated {
                    "once the zone is signed, validating clients will refuse the connection"
                } else if smtp {
                    "validating senders refuse to deliver mail to this server"
                } else {
                    "DANE-validating clients refuse the connection"
                };
                Finding::new(
                    if validated {
                        Severity::Broken
                    } else {
                        Severity::Attention
                    },
                    "dane_mismatch",
                    format!(
                        "no usable TLSA record of {name} matches the served chain ({records}{unusable}{refused}): {who}"
                    ),
                )
                .advice(match &publish {
                    Some(record) => format!(
                        "publish `{record}` (the served leaf's key) next to the old records; keep \
                         the old ones until the new chain is served and the records' TTL has \
                         passed. At the next renewal, publish the new key's record before \
                         switching certificates (or keep the key: a `3 1 1` record survives a \
                         renewal with the same key)"
                    ),
                    None => "publish a `3 1 1` record of the served leaf's key".to_string(),
                })
            }
        },
        Err(failure) => {
            let (severity, code, advice) = match failure.reason {
                DaneReason::NoRecords | DaneReason::DnsNxdomain => (
                    Severity::Note,
                    "dane_no_records",
                    match &publish {
                        Some(record) => format!(
                            "dane: true is set but there are no TLSA records; to use DANE, publish \
                             `{record}` in a signed zone"
                        ),
                        None => "publish TLSA records in a signed zone, or set dane: false".into(),
                    },
                ),
                DaneReason::DnsServfail => (
                    Severity::Attention,
                    "dane_unknown",
                    "a SERVFAIL is usually a broken DNSSEC signature: validating senders defer \
                     mail while the TLSA lookup fails; check the zone with `delv` or `dig +dnssec`"
                        .into(),
                ),
                DaneReason::DnsTimeout | DaneReason::DnsMalformed | DaneReason::DnsFailed => (
                    Severity::Note,
                    "dane_unknown",
                    "check the resolver (dns.name_servers or /etc/resolv.conf) and the zone's \
                     name servers (dig TLSA)"
                        .into(),
                ),
            };
            Finding::new(
                severity,
                code,
                format!(
                    "could not check DANE at {name} ({}): {}",
                    failure.reason.as_str(),
                    failure.detail
                ),
            )
            .advice(advice)
        }
    };
    findings.push(finding);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failure::Failure;
    use crate::probe::dane::DaneVerdict;
    use crate::x509::dane::{DaneMatch, Matched};

    fn report(matched: bool, validated: bool) -> DaneReport {
        DaneReport {
            name: "_25._tcp.mx.example.com".into(),
            leaf_record: Some("3 1 1 abcd".into()),
            outcome: Ok(DaneVerdict {
                validated,
                records: vec!["3 1 1 0123".into()],
                verdict: DaneMatch {
                    usable: 1,
                    unusable: 0,
                    matched: matched.then(|| Matched {
                        record: "3 1 1 0123".into(),
                        position: 0,
                    }),
                    ta_refused: None,
                },
            }),
        }
    }

    fn one(r: &DaneReport, smtp: bool) -> Finding {
        let mut out = Vec::new();
        findings(r, smtp, &mut out);
        assert_eq!(out.len(), 1);
        out.remove(0)
    }

    #[test]
    fn a_validated_mismatch_is_broken_with_the_record_to_publish() {
        let f = one(&report(false, true), true);
        assert_eq!((f.severity, f.code), (Severity::Broken, "dane_mismatch"));
        assert!(f.message.contains("refuse to deliver"), "{}", f.message);
        let advice = f.advice.unwrap();
        assert!(
            advice.contains("`_25._tcp.mx.example.com. IN TLSA 3 1 1 abcd`"),
            "{advice}"
        );
        assert!(advice.contains("before"), "{advice}");
        let f = one(&report(false, false), false);
        assert_eq!((f.severity, f.code), (Severity::Attention, "dane_mismatch"));
    }

    #[test]
    fn a_match_is_ok_only_when_validated() {
        let f = one(&report(true, true), true);
        assert_eq!((f.severity, f.code), (Severity::Ok, "dane_match"));
        let f = one(&report(true, false), true);
        assert_eq!((f.severity, f.code), (Severity::Attention, "dane_unsigned"));
        assert!(f.message.contains("ignore"), "{}", f.message);
    }

    #[test]
    fn no_answer_says_why() {
        let mut r = report(true, true);
        r.outcome = Err(Failure::new(DaneReason::NoRecords, "none"));
        let f = one(&r, true);
        assert_eq!((f.severity, f.code), (Severity::Note, "dane_no_records"));
        assert!(f.advice.unwrap().contains("3 1 1 abcd"));
        r.outcome = Err(Failure::new(DaneReason::DnsServfail, "SERVFAIL"));
        let f = one(&r, true);
        assert_eq!((f.severity, f.code), (Severity::Attention, "dane_unknown"));
        assert!(f.message.contains("dns_servfail"), "{}", f.message);
    }
}
