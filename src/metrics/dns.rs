//! The DNS-check series per target: whether the name's CAA records still allow the CA that
//! issued the served leaf ([`crate::probe::caa`]). Written only for targets with `caa: true`.

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
    Ok(())
}
