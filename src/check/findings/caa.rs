//! CAA: whether the name's records still let the leaf's CA issue the next certificate.

use super::{Finding, Severity};
use crate::failure::Reason;
use crate::probe::caa::{CaaReason, CaaReport, CaaVerdict, DirectoryNote};

/// What the CAA check found (targets with `caa: true`).
pub(super) fn findings(caa: &CaaReport, findings: &mut Vec<Finding>) {
    let at = caa.found_at.as_deref().unwrap_or(&caa.name);
    let property = if caa.wildcard {
        "issuewild (or issue)"
    } else {
        "issue"
    };
    let identities = identities(caa);
    let finding = match &caa.outcome {
        Ok(CaaVerdict::NoRecords) => Finding::new(
            Severity::Ok,
            "caa_allowed",
            format!("no CAA records for {} or a parent: any CA may issue", caa.name),
        ),
        Ok(CaaVerdict::Unrestricted) => Finding::new(
            Severity::Ok,
            "caa_allowed",
            format!("the CAA records of {at} have no {property} property: any CA may issue"),
        ),
        Ok(CaaVerdict::Listed) => Finding::new(
            Severity::Ok,
            "caa_allowed",
            format!("the CAA records of {at} allow the leaf's CA ({identities})"),
        ),
        Ok(CaaVerdict::NotListed) => Finding::new(
            Severity::Attention,
            "caa_refused",
            format!(
                "the CAA records of {at} do not allow the leaf's CA ({identities}): the next renewal will be refused"
            ),
        )
        .advice(format!(
            "add `{at}. CAA 0 {} \"{}\"` (or switch to a CA the records name) before the \
             certificate is due for renewal",
            if caa.wildcard { "issuewild" } else { "issue" },
            caa.identities.first().map_or("", String::as_str),
        )),
        Ok(CaaVerdict::UnknownCritical(tag)) => Finding::new(
            Severity::Attention,
            "caa_refused",
            format!(
                "the CAA records of {at} have a critical property {tag:?} no CA is required to know: CAs must refuse to issue"
            ),
        )
        .advice("remove the property or clear its critical flag (flags 0)"),
        Err(failure) => {
            let advice = match failure.reason {
                CaaReason::UnknownIdentity => {
                    "set caa_identity: to the issuer domain the CA documents for CAA (its CP/CPS, \
                     section 4.2, or its ACME directory's meta.caaIdentities), e.g. letsencrypt.org"
                }
                CaaReason::DnsTimeout | CaaReason::DnsServfail | CaaReason::DnsFailed => {
                    "a CA whose CAA lookup fails must refuse to issue: check the zone's name \
                     servers and DNSSEC signatures (dig CAA)"
                }
            };
            Finding::new(
                Severity::Note,
                "caa_unknown",
                format!(
                    "could not check CAA ({}): {}",
                    failure.reason.as_str(),
                    failure.detail
                ),
            )
            .advice(advice)
        }
    };
    findings.push(finding);
}

/// The CA's identities and where they came from, with why the ACME directory gave none
/// when it was asked.
fn identities(caa: &CaaReport) -> String {
    let mut out = format!(
        "{}, {}",
        caa.identities.join(", "),
        caa.identity_source.words()
    );
    if let Some(DirectoryNote {
        url,
        fallback: Some(f),
    }) = caa.directory.as_deref()
    {
        out.push_str(&format!(
            "; the ACME directory {url} gave none ({}): {}",
            f.reason.as_str(),
            f.detail
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failure::Failure;
    use crate::probe::caa::{DirectoryFallback, IdentitySource};

    fn report(outcome: Result<CaaVerdict, Failure<CaaReason>>) -> CaaReport {
        CaaReport {
            name: "www.example.com".into(),
            found_at: Some("example.com".into()),
            wildcard: false,
            identities: vec!["letsencrypt.org".into()],
            identity_source: IdentitySource::Builtin,
            directory: None,
            outcome,
        }
    }

    fn one(r: &CaaReport) -> Finding {
        let mut out = Vec::new();
        findings(r, &mut out);
        assert_eq!(out.len(), 1);
        out.remove(0)
    }

    #[test]
    fn a_refusing_set_needs_attention_with_the_record_to_add() {
        let f = one(&report(Ok(CaaVerdict::NotListed)));
        assert_eq!((f.severity, f.code), (Severity::Attention, "caa_refused"));
        assert!(
            f.message.contains("next renewal will be refused"),
            "{}",
            f.message
        );
        let advice = f.advice.unwrap();
        assert!(
            advice.contains("example.com. CAA 0 issue \"letsencrypt.org\""),
            "{advice}"
        );
        let f = one(&report(Ok(CaaVerdict::UnknownCritical("tbs".into()))));
        assert_eq!(f.severity, Severity::Attention);
    }

    #[test]
    fn allowed_is_ok_and_no_answer_is_a_note() {
        for v in [
            CaaVerdict::Listed,
            CaaVerdict::NoRecords,
            CaaVerdict::Unrestricted,
        ] {
            let f = one(&report(Ok(v)));
            assert_eq!((f.severity, f.code), (Severity::Ok, "caa_allowed"));
        }
        let f = one(&report(Ok(CaaVerdict::Listed)));
        assert!(
            f.message
                .contains("(letsencrypt.org, from the built-in table)"),
            "{}",
            f.message
        );
        let f = one(&report(Err(Failure::new(CaaReason::UnknownIdentity, "x"))));
        assert_eq!((f.severity, f.code), (Severity::Note, "caa_unknown"));
        assert!(f.advice.unwrap().contains("caa_identity"));
        let f = one(&report(Err(Failure::new(
            CaaReason::DnsServfail,
            "SERVFAIL",
        ))));
        assert!(f.message.contains("dns_servfail"), "{}", f.message);
    }

    #[test]
    fn the_finding_names_where_the_identity_came_from() {
        let mut r = report(Ok(CaaVerdict::Listed));
        r.identities = vec!["acme-ca.test".into()];
        r.identity_source = IdentitySource::AcmeDirectory;
        r.directory = Some(Box::new(DirectoryNote {
            url: "https://acme.test/dir".into(),
            fallback: None,
        }));
        let f = one(&r);
        assert!(
            f.message
                .contains("(acme-ca.test, from the ACME directory's meta.caaIdentities)"),
            "{}",
            f.message
        );
        // A directory that gave none: the table's identity, and why not the directory's.
        let mut r = report(Ok(CaaVerdict::NotListed));
        r.directory = Some(Box::new(DirectoryNote {
            url: "https://acme.test/dir".into(),
            fallback: Some(Failure::new(
                DirectoryFallback::NoCaaIdentities,
                "no meta.caaIdentities",
            )),
        }));
        let f = one(&r);
        assert!(
            f.message.contains(
                "letsencrypt.org, from the built-in table; the ACME directory https://acme.test/dir gave none (no_caa_identities)"
            ),
            "{}",
            f.message
        );
        r.identity_source = IdentitySource::Config;
        r.directory = None;
        assert!(one(&r).message.contains("from caa_identity"));
    }
}
