//! The CRL file series: for each CRL a file target reads (`probe::files`, a CRL in PEM or
//! DER), when it was issued, when it goes stale and whether it has, labelled with its issuer,
//! so an internal CA's CRL publishing is watched like a certificate. (CRLs downloaded to check
//! revocation have series of their own, by URL, in [`super::revocation`].)
//!
//! The families are written only while some target has read a CRL file, so a configuration
//! without one serves the page it always did.

use std::sync::Arc;
use std::time::SystemTime;

use prometheus_client::encoding::DescriptorEncoder;

use super::{base_labels, family, unix_seconds};
use crate::state::Snapshot;

/// Writes the CRL file families, `cert_crl_file_stale` as of this moment.
pub fn encode_target_series(
    e: &mut DescriptorEncoder,
    s: &[Arc<Snapshot>],
) -> Result<(), std::fmt::Error> {
    if !s
        .iter()
        .any(|snap| snap.results.iter().any(|r| r.crl.is_some()))
    {
        return Ok(());
    }
    let now = unix_seconds(SystemTime::now());
    family(
        e,
        s,
        "cert_crl_file_this_update_timestamp_seconds",
        "thisUpdate of the CRL in a certificate file: when its issuer published it",
        |snap, r, out| {
            if let Some(crl) = &r.crl {
                let mut l = base_labels(snap, r);
                l.push(("issuer", crl.issuer.as_str()));
                out.push((l, crl.this_update as f64));
            }
        },
    )?;
    family(
        e,
        s,
        "cert_crl_file_next_update_timestamp_seconds",
        "nextUpdate of the CRL in a certificate file: when it goes stale unless a newer one replaces it",
        |snap, r, out| {
            if let Some((crl, next)) = r.crl.as_ref().and_then(|c| Some((c, c.next_update?))) {
                let mut l = base_labels(snap, r);
                l.push(("issuer", crl.issuer.as_str()));
                out.push((l, next as f64));
            }
        },
    )?;
    family(
        e,
        s,
        "cert_crl_file_stale",
        "1 when the CRL in a certificate file is past its nextUpdate",
        |snap, r, out| {
            if let Some(crl) = &r.crl {
                let stale = crl.next_update.is_some_and(|next| (next as f64) < now);
                let mut l = base_labels(snap, r);
                l.push(("issuer", crl.issuer.as_str()));
                out.push((l, stale as u8 as f64));
            }
        },
    )?;
    Ok(())
}
