//! The renewal-information series (RFC 9773; [`crate::probe::renewal`]): the window the CA
//! suggests renewing the leaf in, its explanation page, and why the window is not known.
//!
//! Only targets with an ACME directory (`acme_directory:`) have these series, and a family is
//! written only when some target has a sample in it, so a configuration without ACME
//! directories pages exactly as before.

use std::sync::Arc;

use prometheus_client::encoding::DescriptorEncoder;

use super::{base_labels, family};
use crate::probe::renewal::RenewalWindow;
use crate::state::Snapshot;

/// Writes the per-target renewal families.
pub fn encode_target_series(
    e: &mut DescriptorEncoder,
    s: &[Arc<Snapshot>],
) -> Result<(), std::fmt::Error> {
    let outcomes = || {
        s.iter()
            .flat_map(|snap| &snap.results)
            .filter_map(|r| r.renewal.as_ref())
    };
    if outcomes().any(|o| o.window.is_ok()) {
        family(
            e,
            s,
            "cert_renewal_window_start_timestamp_seconds",
            "Start of the leaf's renewal window suggested by the CA (ACME Renewal Information, RFC 9773)",
            |snap, r, out| {
                if let Some(w) = window(r) {
                    out.push((base_labels(snap, r), w.start as f64));
                }
            },
        )?;
        family(
            e,
            s,
            "cert_renewal_window_end_timestamp_seconds",
            "End of the leaf's renewal window suggested by the CA (ACME Renewal Information, RFC 9773)",
            |snap, r, out| {
                if let Some(w) = window(r) {
                    out.push((base_labels(snap, r), w.end as f64));
                }
            },
        )?;
    }
    if outcomes().any(|o| o.window.as_ref().is_ok_and(|w| w.explanation_url.is_some())) {
        family(
            e,
            s,
            "cert_renewal_explanation_info",
            "1 while the CA's renewal information explains its window, with the page in explanation_url",
            |snap, r, out| {
                if let Some(url) = window(r).and_then(|w| w.explanation_url.as_deref()) {
                    let mut l = base_labels(snap, r);
                    l.push(("explanation_url", url));
                    out.push((l, 1.0));
                }
            },
        )?;
    }
    if outcomes().any(|o| o.window.is_err()) {
        family(
            e,
            s,
            "cert_renewal_info_error_info",
            "1 while the renewal window could not be learnt from the ACME directory, by reason",
            |snap, r, out| {
                if let Some(Err(error)) = r.renewal.as_ref().map(|o| &o.window) {
                    let mut l = base_labels(snap, r);
                    l.push(("reason", error.reason.as_str()));
                    out.push((l, 1.0));
                }
            },
        )?;
    }
    Ok(())
}

fn window(r: &crate::probe::ProbeResult) -> Option<&RenewalWindow> {
    r.renewal.as_ref().and_then(|o| o.window.as_ref().ok())
}
