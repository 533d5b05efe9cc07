//! The chain's verdict, its expiry and the profile rules its certificates break.

use super::{chain_errors, days_text, which, Finding, Severity, DAY};
use crate::check::format_utc;
use crate::config::Target;
use crate::probe::ProbeResult;
use crate::x509::{CertFacts, ChainReport};

/// The chain's verdict and expiry.
pub(super) fn findings(
    target: &Target,
    result: &ProbeResult,
    chain: &ChainReport,
    now: i64,
    warn_days: f64,
    findings: &mut Vec<Finding>,
) {
    use Severity::*;
    let path: Vec<(usize, &CertFacts)> = chain
        .certs
        .iter()
        .enumerate()
        .filter(|(i, _)| chain.in_path.get(*i).copied().unwrap_or(false))
        .map(|(i, c)| (i, c.as_ref()))
        .collect();
    for error in &chain.errors {
        findings.push(chain_errors::finding(
            *error, target, result, chain, &path, now,
        ));
    }

    if chain.judged && chain.is_valid() {
        let anchor = if chain.private_anchor {
            "a private CA (ca_file)"
        } else {
            "the system's trusted roots"
        };
        let name = if target.server_name.is_empty() {
            String::new()
        } else {
            format!(" for {}", target.server_name)
        };
        findings.push(Finding::new(
            Ok,
            "chain_valid",
            format!("the chain is valid{name} and leads to {anchor}"),
        ));
    }

    // Expiry, when not already expired.
    if let Some(expiry) = chain.expiry {
        let days = (expiry - now) as f64 / DAY;
        if days >= 0.0 {
            // The path's certificates first; a bundle (no path) counts all of its own.
            let first = path
                .iter()
                .copied()
                .find(|(_, c)| c.not_after == expiry)
                .or_else(|| {
                    chain
                        .certs
                        .iter()
                        .enumerate()
                        .map(|(i, c)| (i, c.as_ref()))
                        .find(|(_, c)| c.not_after == expiry)
                })
                .map(|(i, c)| which(i, c))
                .unwrap_or_else(|| "a certificate".into());
            let (left, date) = (days_text(days), format_utc(expiry));
            findings.push(if days <= warn_days {
                Finding::new(
                    Attention,
                    "expiring_soon",
                    format!("{first} expires in {left}, on {date}"),
                )
                .advice("renew it and deploy the new certificate before then")
            } else {
                Finding::new(
                    Ok,
                    "expiry",
                    format!("{first} is valid for {left} more, until {date}"),
                )
            });
        }
    }

    // Profile rules no client enforces: worth telling the CA, never a failure.
    for (i, cert) in &path {
        for lint in cert.lints.iter().filter(|l| *i == 0 || !l.leaf_only()) {
            findings.push(
                Finding::new(
                    Note,
                    lint.as_str(),
                    format!(
                        "{} breaks a profile rule: {}",
                        which(*i, cert),
                        lint.describe()
                    ),
                )
                .advice(
                    "clients accept it today; mention it to whoever issues the certificate, \
                     as CAs and stricter clients may refuse it later",
                ),
            );
        }
    }
}
