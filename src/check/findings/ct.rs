//! Certificate Transparency: a publicly trusted leaf that browsers refuse for want of SCTs.

use super::{which, Finding, Severity};
use crate::x509::ct::{self, CtShortfall};
use crate::x509::ChainReport;

/// The finding for `report`'s leaf when CT applies to it and it falls short, else `None`.
pub(super) fn finding(report: &ChainReport) -> Option<Finding> {
    let verdict = ct::judge(report)?;
    let shortfall = verdict.shortfall?;
    let leaf = report.certs.first()?;
    let who = which(0, leaf);
    let message = match shortfall {
        CtShortfall::NoScts => format!(
            "{who} chains to a public root but carries no SCT (embedded or in the stapled OCSP \
             response): Chrome and Safari refuse it"
        ),
        CtShortfall::TooFewLogs => format!(
            "{who} chains to a public root but has embedded SCTs from {} distinct logs ({} \
             required for its lifetime) and stapled OCSP SCTs from {} ({} required): Chrome \
             and Safari refuse it",
            verdict.embedded_logs,
            verdict.required_embedded,
            verdict.delivered_logs,
            ct::REQUIRED_DELIVERED
        ),
    };
    Some(
        Finding::new(Severity::Broken, shortfall.as_str(), message).advice(
            "reissue it from the CA with SCTs embedded (every public CA logs by default: a \
             certificate without them was issued from a non-logging profile or altered), or \
             staple an OCSP response carrying them; SCTs sent only in the TLS extension are \
             not seen by this exporter",
        ),
    )
}
