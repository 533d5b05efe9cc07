//! The probe series: whether the last probe of each result got a chain, why it failed, how
//! long it took (every phase, or the total, as the target's `metrics:` level says) and when it
//! finished.

use std::sync::Arc;

use prometheus_client::encoding::DescriptorEncoder;

use super::{base_labels, family, unix_seconds};
use crate::config::Phases;
use crate::probe::result::Phase;
use crate::state::Snapshot;

/// Writes the per-target probe families.
pub fn encode_target_series(
    e: &mut DescriptorEncoder,
    s: &[Arc<Snapshot>],
) -> Result<(), std::fmt::Error> {
    family(
        e,
        s,
        "cert_probe_success",
        "1 when the last probe got a certificate chain",
        |snap, r, out| {
            out.push((base_labels(snap, r), r.success() as u8 as f64));
        },
    )?;
    family(
        e,
        s,
        "cert_probe_error_info",
        "1 while the last probe hit a network or TLS failure, by reason",
        |snap, r, out| {
            if let Some(f) = &r.failure {
                let mut l = base_labels(snap, r);
                l.push(("reason", f.reason.as_str()));
                out.push((l, 1.0));
            }
        },
    )?;
    family(
        e,
        s,
        "cert_probe_duration_seconds",
        "Duration of each phase of the last probe",
        |snap, r, out| {
            let phases = snap.target.metrics.phases;
            let written = |phase: &Phase| match phases {
                Phases::None => false,
                Phases::Total => *phase == Phase::Total,
                Phases::All => true,
            };
            for (phase, d) in r.phases.iter().filter(|(p, _)| written(p)) {
                let mut l = base_labels(snap, r);
                l.push(("phase", phase.as_str()));
                out.push((l, d.as_secs_f64()));
            }
        },
    )?;
    family(
        e,
        s,
        "cert_probe_timestamp_seconds",
        "When the last probe finished",
        |snap, r, out| {
            out.push((base_labels(snap, r), unix_seconds(r.finished_at)));
        },
    )?;
    Ok(())
}
