//! The CA's renewal window (ACME Renewal Information, RFC 9773), for targets with
//! `acme_directory:`: when to renew, whether the CA asks for it early, whether it was missed.

use std::time::{Duration, SystemTime};

use super::{days_text, Finding, Severity, DAY};
use crate::probe::renewal::RenewalWindow;
use crate::probe::ProbeResult;

/// What the renewal-information lookup said about the leaf, judged at `now`.
pub(super) fn findings(result: &ProbeResult, now: i64, findings: &mut Vec<Finding>) {
    let Some(outcome) = &result.renewal else {
        return;
    };
    let window = match &outcome.window {
        Ok(window) => window,
        Err(e) => {
            findings.push(
                Finding::new(
                    Severity::Note,
                    e.reason.as_str(),
                    format!(
                        "the renewal window could not be learnt from {}: {}",
                        outcome.directory, e.detail
                    ),
                )
                .advice(
                    "check that acme_directory names the directory of the CA that issued the \
                     leaf and that the exporter reaches it; the TLS verdict is not affected",
                ),
            );
            return;
        }
    };
    let leaf = result.chain.as_ref().and_then(|c| c.certs.first());
    let span = format!("{} to {}", time(window.start), time(window.end));
    let explained = window
        .explanation_url
        .as_deref()
        .map(|u| format!(" (the CA explains: {u})"))
        .unwrap_or_default();
    if let Some(leaf) = leaf.filter(|l| window.is_early(l.not_before, l.not_after)) {
        let natural = RenewalWindow::natural_point(leaf.not_before, leaf.not_after);
        findings.push(
            Finding::new(
                Severity::Attention,
                "renewal_requested_early",
                format!(
                    "the CA asks for the leaf to be replaced early: its renewal window is {span}, \
                     {} before the natural renewal point{explained}",
                    days_text((natural - window.start) as f64 / DAY)
                ),
            )
            .advice(
                "a CA moves the window this early when it is going to revoke the certificate: \
                 renew and deploy it now (with a new key if the key may be compromised)",
            ),
        );
    } else if window.is_missed(now) {
        findings.push(
            Finding::new(
                Severity::Attention,
                "renewal_window_missed",
                format!(
                    "the CA's renewal window ({span}) opened {} ago and the certificate was not \
                     replaced{explained}",
                    days_text((now - window.start) as f64 / DAY)
                ),
            )
            .advice(
                "check the ACME client's renewal job and logs, and that the new certificate \
                 was deployed and the server reloaded",
            ),
        );
    } else if window.start <= now {
        findings.push(Finding::new(
            Severity::Ok,
            "renewal_window",
            format!("the CA's renewal window is open: {span}{explained}"),
        ));
    } else {
        findings.push(Finding::new(
            Severity::Ok,
            "renewal_window",
            format!("the CA suggests renewing from {span}{explained}"),
        ));
    }
}

/// An RFC 3339 time to the second.
fn time(unix: i64) -> String {
    let at = match u64::try_from(unix) {
        Ok(secs) => SystemTime::UNIX_EPOCH + Duration::from_secs(secs),
        Err(_) => SystemTime::UNIX_EPOCH,
    };
    humantime::format_rfc3339_seconds(at).to_string()
}
