//! The DNS-check series per target: whether the name's CAA records still allow the CA that
//! issued the served leaf ([`crate::probe::caa`]), and, for targets with an ACME directory,
//! where the CA's CAA identities came from. Written only for targets with `caa: true`.

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
    Ok(())
}
