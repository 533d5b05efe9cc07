//! TLS 1.0 and 1.1: what the legacy-protocol check found.

use super::{Finding, Severity};
use crate::probe::legacy::{LegacyReport, LegacyVersion};

/// What the legacy-protocol check found.
pub(super) fn findings(legacy: &LegacyReport, findings: &mut Vec<Finding>) {
    let accepted: Vec<&str> = LegacyVersion::ALL
        .iter()
        .filter(|v| legacy.speaks(**v) == Some(true))
        .map(|v| v.as_str())
        .collect();
    let refused: Vec<&str> = LegacyVersion::ALL
        .iter()
        .filter(|v| legacy.speaks(**v) == Some(false))
        .map(|v| v.as_str())
        .collect();
    if !accepted.is_empty() {
        findings.push(
            Finding::new(
                Severity::Attention,
                "legacy_protocol",
                format!("the server still accepts {}", accepted.join(" and ")),
            )
            .advice(
                "switch TLS 1.0 and 1.1 off (nginx: ssl_protocols TLSv1.2 TLSv1.3; Apache: \
                 SSLProtocol -all +TLSv1.2 +TLSv1.3), after checking no old client needs them",
            ),
        );
    }
    if !refused.is_empty() {
        findings.push(Finding::new(
            Severity::Ok,
            "legacy_protocol",
            format!("the server refuses {}", refused.join(" and ")),
        ));
    }
    for (version, why) in &legacy.inconclusive {
        findings.push(Finding::new(
            Severity::Note,
            "legacy_protocol",
            format!(
                "could not tell whether the server accepts {}: {why}",
                version.as_str()
            ),
        ));
    }
}
