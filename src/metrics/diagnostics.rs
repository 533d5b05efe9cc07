//! The diagnostic series: legacy protocols, weak cryptography and the looking for other leaves
//! per target (rendered from
//! snapshots, called from [`super::SnapshotCollector`]), and the process-wide clock skew and
//! caIssuers download counter.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::chain::position;
use super::labels::encode_sample;
use super::{base_labels, chain_labels, chains, family};
use crate::clock::ClockSkew;
use crate::revocation::Revocation;
use crate::state::Snapshot;
use crate::x509::weak;

/// Registers the process-wide diagnostic series, which live with the HTTP client that
/// observes them (the revocation checker's, shared across reloads).
pub fn register(registry: &mut Registry, revocation: &Arc<Revocation>) {
    registry.register(
        "cert_aia_fetches",
        "caIssuers downloads of missing intermediates actually sent, by result",
        revocation.http().issuer_fetches.clone(),
    );
    registry.register_collector(Box::new(ClockCollector {
        clock: revocation.http().clock.clone(),
    }));
}

/// Writes the per-target diagnostic families.
pub fn encode_target_series(
    e: &mut DescriptorEncoder,
    s: &[Arc<Snapshot>],
) -> Result<(), std::fmt::Error> {
    family(
        e,
        s,
        "cert_legacy_protocol_enabled",
        "1 when the server still completes a hello in this deprecated TLS version, 0 when it refuses it",
        |snap, r, out| {
            // A refused version is a detail; an accepted one is always written.
            let details = snap.target.metrics.details;
            let enabled = r.legacy.iter().flat_map(|l| &l.enabled);
            for (version, enabled) in enabled.filter(|(_, on)| *on || details) {
                let mut l = base_labels(snap, r);
                l.push(("version", version.as_str()));
                out.push((l, *enabled as u8 as f64));
            }
        },
    )?;
    family(
        e,
        s,
        "cert_weak_crypto_info",
        "1 per weakness of a certificate sent: a SHA-1 or MD5 signature, a short key, or a public leaf issued for too long",
        |snap, r, out| {
            for v in chains(r) {
                for (i, weakness) in weak::of_chain(v.chain) {
                    let mut l = chain_labels(snap, r, &v);
                    l.push(("position", position(i)));
                    l.push(("reason", weakness.as_str()));
                    out.push((l, 1.0));
                }
            }
        },
    )?;
    family(
        e,
        s,
        "cert_leaf_discovery_error_info",
        "1 while the handshake offering only one key type's signature schemes, which looks for another certificate of the server, failed, by key type and reason",
        |snap, r, out| {
            for (key_type, failure) in r.leaves.iter().flat_map(|l| &l.failures) {
                let mut l = base_labels(snap, r);
                l.push(("key_type", key_type.as_str()));
                l.push(("reason", failure.reason.as_str()));
                out.push((l, 1.0));
            }
        },
    )?;
    Ok(())
}

/// Renders `cert_exporter_clock_skew_seconds` from the latest observation, absent before one.
#[derive(Debug)]
struct ClockCollector {
    clock: Arc<ClockSkew>,
}

impl Collector for ClockCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut gauge = encoder.encode_descriptor(
            "cert_exporter_clock_skew_seconds",
            "Local clock minus a CA server's (HTTP Date + Age of the latest OCSP, CRL or caIssuers response); positive when the local clock is ahead",
            None,
            MetricType::Gauge,
        )?;
        if let Some(seen) = self.clock.latest() {
            encode_sample(&mut gauge, &[], usize::MAX, seen.skew_seconds)?;
        }
        Ok(())
    }
}
