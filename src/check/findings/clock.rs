//! The machine running the check: its clock against the CA servers'.

use super::{Finding, Severity};

/// A finding about the machine running the check: its clock against the CAs' servers.
pub fn clock_finding(skew_seconds: Option<f64>) -> Option<Finding> {
    let skew = skew_seconds?;
    let (direction, amount) = if skew >= 0.0 {
        ("ahead of", skew)
    } else {
        ("behind", -skew)
    };
    let said = if amount < 1.0 {
        "this machine's clock agrees with the CA servers' to the second (HTTP Date of their answers)"
            .to_string()
    } else {
        format!(
            "this machine's clock is {} {direction} the CA servers' (HTTP Date of their answers)",
            humantime::format_duration(std::time::Duration::from_secs(amount.round() as u64))
        )
    };
    Some(if amount > 300.0 {
        Finding::new(Severity::Attention, "clock_skew", said).advice(
            "fix time synchronisation (NTP, chrony, systemd-timesyncd): expiry and \
             revocation answers are judged against this clock",
        )
    } else {
        Finding::new(Severity::Ok, "clock_skew", said)
    })
}
