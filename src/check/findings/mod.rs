//! From facts to verdicts: every finding of one probe result, in plain words, each with what to
//! do about it. Pure: the same [`ProbeResult`] the exporter serves as metrics goes in, a list
//! of [`Finding`]s comes out, and the worst severity decides `check`'s exit status.

mod caa;
mod chain;
mod chain_errors;
mod clock;
mod ct;
mod dane;
mod legacy;
mod probe;
mod renewal;
mod revocation;
#[cfg(test)]
mod tests;
mod weak;

use crate::config::Target;
use crate::probe::ProbeResult;
use crate::x509::{self, CertFacts};

pub use clock::clock_finding;

/// How much a finding matters; ordered from harmless to broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Something that is as it should be.
    Ok,
    /// Worth knowing, nothing to fix on the server (a revocation source that did not answer).
    Note,
    /// Works today, should be fixed: expiring soon, weak crypto, legacy protocols.
    Attention,
    /// Clients fail: invalid, revoked, expired, unreachable.
    Broken,
}

impl Severity {
    /// The word used in reports and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Ok => "ok",
            Severity::Note => "note",
            Severity::Attention => "attention",
            Severity::Broken => "broken",
        }
    }

    /// `check`'s exit status for this severity: 0 fine, 1 attention, 2 broken.
    pub fn exit_code(self) -> u8 {
        match self {
            Severity::Ok | Severity::Note => 0,
            Severity::Attention => 1,
            Severity::Broken => 2,
        }
    }
}

/// One verdict in plain words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// How much it matters; the worst decides the exit status.
    pub severity: Severity,
    /// A fixed code for scripts: the metric's reason where there is one (`expired`,
    /// `missing_intermediate`, `sha1_signature`, …).
    pub code: &'static str,
    /// What is the case.
    pub message: String,
    /// What to do about it, when anything.
    pub advice: Option<String>,
}

impl Finding {
    fn new(severity: Severity, code: &'static str, message: impl Into<String>) -> Finding {
        Finding {
            severity,
            code,
            message: message.into(),
            advice: None,
        }
    }

    fn advice(mut self, advice: impl Into<String>) -> Finding {
        self.advice = Some(advice.into());
        self
    }
}

/// The worst severity among `findings` (`Ok` when there are none).
pub fn worst(findings: &[Finding]) -> Severity {
    findings
        .iter()
        .map(|f| f.severity)
        .max()
        .unwrap_or(Severity::Ok)
}

/// Seconds in a day.
const DAY: f64 = 86_400.0;

/// Every finding of `result`, a probe of `target` judged at `now` (Unix seconds); a path
/// certificate expiring within `warn_days` needs attention. Worst first.
pub fn assess(target: &Target, result: &ProbeResult, now: i64, warn_days: f64) -> Vec<Finding> {
    let mut findings = Vec::new();
    if let Some(failure) = &result.failure {
        findings.push(probe::finding(
            target,
            result,
            failure.reason,
            &failure.detail,
        ));
    }
    if let Some(chain) = &result.chain {
        chain::findings(target, result, chain, now, warn_days, &mut findings);
        for (position, weakness) in x509::weak::of_chain(chain) {
            findings.push(weak::finding(&chain.certs[position], position, weakness));
        }
        findings.extend(ct::finding(chain));
    }
    if let Some(legacy) = &result.legacy {
        legacy::findings(legacy, &mut findings);
    }
    revocation::findings(result, &mut findings);
    if let Some(report) = &result.caa {
        caa::findings(report, &mut findings);
    }
    if let Some(report) = &result.dane {
        let smtp = target.reach.starttls == Some(crate::config::Starttls::Smtp)
            || target.address().is_some_and(|a| a.port == 25);
        dane::findings(report, smtp, &mut findings);
    }
    for (key_type, failure) in result.leaves.iter().flat_map(|l| &l.failures) {
        let f = Finding::new(
            Severity::Note,
            "leaf_discovery_failed",
            format!(
                "could not look for a {} certificate ({}): {}",
                key_type.as_str(),
                failure.reason.as_str(),
                failure.detail
            ),
        );
        findings.push(f.advice(
            "the handshake offering only these signature schemes did not complete; a server \
             with several certificates may give some clients one that is not shown here",
        ));
    }
    renewal::findings(result, now, &mut findings);
    // Worst first; the order within a severity is the order of the checks.
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    findings
}

/// "the leaf (CN=…)" or "certificate 2 (CN=…)".
fn which(position: usize, cert: &CertFacts) -> String {
    if position == 0 {
        format!("the leaf ({})", cert.subject)
    } else {
        format!("certificate {position} ({})", cert.subject)
    }
}

/// "3 days", "1 day" (rounded to the nearest day), or "4.5 hours" under a day.
fn days_text(days: f64) -> String {
    if days < 1.0 {
        format!("{:.1} hours", days * 24.0)
    } else if days.round() == 1.0 {
        "1 day".to_string()
    } else {
        format!("{} days", days.round())
    }
}
