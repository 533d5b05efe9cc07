//! The DNS-check series per target: whether the name's CAA records still allow the CA that
//! issued the served leaf ([`crate::probe::caa`]), and, for targets with an ACME directory,
//! where the CA's CAA identities came from, written only for targets with `caa: true`;
//! whether its TLSA records match the served chain and were DNSSEC-validated
//! ([`crate::probe::dane`]), written only for targets with `dane: true`.

use std::sync::Arc;

use prometheus_client::encoding::DescriptorEncoder;

use super::{base_labels, family};
use crate::failure::Reason;
use crate::state::Snapshot;

/// Writes the per-target DNS-check families.
pub fn encode_target_series(
    e: &mut DescriptorEncoder,
    s: &[Arc<Snapshot>],
) -> Result<(), std::fmt::Error> {
    family(
        e,
        s,
        "cert_caa_issuer_allowed",
        "1 when the name's CAA records (or their absence) let the CA that issued the served leaf issue the next one, 0 when they refuse it; absent when the check has no answer",
        |snap, r, out| {
            if let Some(Ok(verdict)) = r.caa.as_ref().map(|c| &c.outcome) {
                out.push((base_labels(snap, r), verdict.allowed() as u8 as f64));
            }
        },
    )?;
    family(
        e,
        s,
        "cert_caa_error_info",
        "1 while the CAA check has no answer, by reason (a lookup's timeout or SERVFAIL, an unknown CA identity)",
        |snap, r, out| {
            if let Some(Err(failure)) = r.caa.as_ref().map(|c| &c.outcome) {
                let mut l = base_labels(snap, r);
                l.push(("reason", failure.reason.as_str()));
                out.push((l, 1.0));
            }
        },
    )?;
    family(
        e,
        s,
        "cert_caa_identity_info",
        "1 for a CAA-checked target with an ACME directory: where the CA's CAA identities came from (identity_source: config, acme_directory, builtin, none) and, when the directory was asked and gave none, why (directory_reason)",
        |snap, r, out| {
            let Some(caa) = r.caa.as_ref() else {
                return;
            };
            let Some(directory) = caa.directory.as_deref() else {
                return;
            };
            let mut l = base_labels(snap, r);
            l.push(("identity_source", caa.identity_source.as_str()));
            l.push((
                "directory_reason",
                directory.fallback.as_ref().map_or("", |f| f.reason.as_str()),
            ));
            out.push((l, 1.0));
        },
    )?;
    // Written only when some target has a sample, so a configuration without `dane: true`
    // pages exactly as before.
    let outcomes = || {
        s.iter()
            .flat_map(|snap| &snap.results)
            .filter_map(|r| r.dane.as_ref().map(|d| &d.outcome))
    };
    if outcomes().any(|o| o.is_ok()) {
        family(
            e,
            s,
            "cert_dane_match",
            "1 when a usable TLSA record (usage 2 or 3) matches the served chain, 0 when none does; absent when the lookup found no records or failed",
            |snap, r, out| {
                if let Some(Ok(answer)) = r.dane.as_ref().map(|d| &d.outcome) {
                    let matched = answer.verdict.matched.is_some();
                    out.push((base_labels(snap, r), matched as u8 as f64));
                }
            },
        )?;
        family(
            e,
            s,
            "cert_dane_dnssec_validated",
            "1 when the resolver set the AD bit on the TLSA answer (the records were DNSSEC-validated), 0 when it did not (senders ignore unsigned TLSA records)",
            |snap, r, out| {
                if let Some(Ok(answer)) = r.dane.as_ref().map(|d| &d.outcome) {
                    out.push((base_labels(snap, r), answer.validated as u8 as f64));
                }
            },
        )?;
        family(
            e,
            s,
            "cert_dane_records",
            "The TLSA records found, by whether they are usable (usage 2 or 3, a known selector and matching type)",
            |snap, r, out| {
                if let Some(Ok(answer)) = r.dane.as_ref().map(|d| &d.outcome) {
                    for (usable, count) in [
                        ("true", answer.verdict.usable),
                        ("false", answer.verdict.unusable),
                    ] {
                        let mut l = base_labels(snap, r);
                        l.push(("usable", usable));
                        out.push((l, count as f64));
                    }
                }
            },
        )?;
    }
    if outcomes().any(|o| o.is_err()) {
        family(
            e,
            s,
            "cert_dane_error_info",
            "1 while the DANE check has no verdict, by reason (a lookup's timeout, SERVFAIL or NXDOMAIN, no TLSA records, a malformed answer)",
            |snap, r, out| {
                if let Some(Err(failure)) = r.dane.as_ref().map(|d| &d.outcome) {
                    let mut l = base_labels(snap, r);
                    l.push(("reason", failure.reason.as_str()));
                    out.push((l, 1.0));
                }
            },
        )?;
    }
    Ok(())
}
