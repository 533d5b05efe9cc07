//! The revocation series: per target (rendered from snapshots, called from
//! [`super::SnapshotCollector`]), per cached CRL (rendered from the cache), and the
//! fetch counter.

use std::sync::Arc;
use std::time::SystemTime;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::labels::{encode_sample, LabelLimit};
use super::{base_labels, chain_labels, chains, family, unix_seconds, Labels};
use crate::probe::ProbeResult;
use crate::revocation::{Revocation, SourceReport};
use crate::state::Snapshot;

/// Registers the process-wide revocation series: per cached CRL, and
/// `cert_revocation_fetches_total`; the `url` labels capped at `limit`.
pub fn register(registry: &mut Registry, revocation: Arc<Revocation>, limit: Arc<LabelLimit>) {
    registry.register(
        "cert_revocation_fetches",
        "OCSP and CRL requests actually sent, by source and result",
        revocation.fetches().clone(),
    );
    registry.register_collector(Box::new(CrlCollector { revocation, limit }));
}

/// Writes the per-target revocation families.
pub fn encode_target_series(
    e: &mut DescriptorEncoder,
    s: &[Arc<Snapshot>],
) -> Result<(), std::fmt::Error> {
    family(
        e,
        s,
        "cert_revoked",
        "1 when a source verified that a certificate of the path is revoked, 0 when it verified it is not",
        |snap, r, out| {
            for (v, source) in sources(r) {
                // "Not revoked" is a detail; "revoked" is always written.
                let shown = source
                    .revoked
                    .filter(|&revoked| revoked || snap.target.metrics.details);
                if let Some(revoked) = shown {
                    let mut l = with_key_type(base_labels(snap, r), v);
                    l.push(("source", source.source.as_str()));
                    out.push((l, revoked as u8 as f64));
                }
            }
        },
    )?;
    family(
        e,
        s,
        "cert_ocsp_stapled",
        "1 when the server stapled an OCSP response to the handshake",
        |snap, r, out| {
            if !snap.target.metrics.details {
                return;
            }
            for v in chains(r) {
                if let Some(rev) = v.revocation {
                    out.push((chain_labels(snap, r, &v), rev.stapled as u8 as f64));
                }
            }
        },
    )?;
    family(
        e,
        s,
        "cert_revocation_error_info",
        "1 while a revocation source failed, by source and reason",
        |snap, r, out| {
            for (v, source) in sources(r) {
                let mut seen = Vec::new();
                for error in &source.errors {
                    if seen.contains(&error.reason) {
                        continue;
                    }
                    seen.push(error.reason);
                    let mut l = with_key_type(base_labels(snap, r), v);
                    l.push(("source", source.source.as_str()));
                    l.push(("reason", error.reason.as_str()));
                    out.push((l, 1.0));
                }
            }
        },
    )?;
    family(
        e,
        s,
        "cert_ocsp_next_update_timestamp_seconds",
        "nextUpdate of the OCSP answer used, by source",
        |snap, r, out| {
            if !snap.target.metrics.details {
                return;
            }
            for (v, source) in sources(r) {
                if let Some(next) = source.next_update {
                    let mut l = with_key_type(base_labels(snap, r), v);
                    l.push(("source", source.source.as_str()));
                    out.push((l, next as f64));
                }
            }
        },
    )?;
    Ok(())
}

/// What every source said of every chain of `r`, with the chain's `key_type`.
fn sources(r: &ProbeResult) -> impl Iterator<Item = (Option<&'static str>, &SourceReport)> {
    chains(r).flat_map(|v| {
        v.revocation
            .into_iter()
            .flat_map(|rev| &rev.sources)
            .map(move |source| (v.key_type, source))
    })
}

/// `labels` with the chain's `key_type`, when it has one.
fn with_key_type<'a>(mut labels: Labels<'a>, key_type: Option<&'static str>) -> Labels<'a> {
    if let Some(key_type) = key_type {
        labels.push(("key_type", key_type));
    }
    labels
}

/// Renders the cached CRLs at scrape time.
#[derive(Debug)]
struct CrlCollector {
    revocation: Arc<Revocation>,
    limit: Arc<LabelLimit>,
}

impl Collector for CrlCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut crls = self.revocation.cached_crls();
        crls.sort_by(|a, b| a.0.cmp(&b.0));
        let now = unix_seconds(SystemTime::now());
        let limit = self.limit.get();
        let mut next_update = encoder.encode_descriptor(
            "cert_crl_next_update_timestamp_seconds",
            "nextUpdate of each cached CRL, by URL",
            None,
            MetricType::Gauge,
        )?;
        for (url, copy) in &crls {
            if let Some(next) = copy.crl.next_update {
                encode_sample(
                    &mut next_update,
                    &[("url", url.as_str())],
                    limit,
                    next as f64,
                )?;
            }
        }
        let mut stale = encoder.encode_descriptor(
            "cert_crl_stale",
            "1 when a cached CRL is past its nextUpdate, by URL",
            None,
            MetricType::Gauge,
        )?;
        for (url, copy) in &crls {
            let is_stale = copy.crl.next_update.is_some_and(|next| (next as f64) < now);
            encode_sample(
                &mut stale,
                &[("url", url.as_str())],
                limit,
                is_stale as u8 as f64,
            )?;
        }
        Ok(())
    }
}
