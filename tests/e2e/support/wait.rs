//! Waits on the exporter's own clock: a test that reads a steady state (a cache, a counter, an
//! unchanged series) must first see probes that came after the one it started from. Each wait
//! scrapes `/metrics` until `cert_probe_timestamp_seconds` moves, and panics with the last
//! scrape after its limit.

use std::time::Duration;

use super::harness::Harness;
use super::metrics::Metrics;

/// The probe timestamp of `target`, if it has been probed.
fn probed_at(m: &Metrics, target: &str) -> Option<f64> {
    m.get("cert_probe_timestamp_seconds", &[("target", target)])
}

/// Scrapes until `target` has a result, then until it has been probed `n` more times; each
/// step may take up to `limit`.
pub async fn probed_again(h: &Harness, target: &str, n: usize, limit: Duration) -> Metrics {
    let mut m = h
        .wait_until(limit, |m| probed_at(m, target).is_some())
        .await;
    for _ in 0..n {
        let before = probed_at(&m, target);
        m = h.wait_until(limit, |m| probed_at(m, target) > before).await;
    }
    m
}

/// Waits until every target in `names` has been probed again after the first scrape that saw
/// it, so that the assertions read a steady state rather than a first probe.
pub async fn probed_twice(h: &Harness, names: &[&str], limit: Duration) -> Metrics {
    let first = h
        .wait_until(limit, |m| names.iter().all(|t| probed_at(m, t).is_some()))
        .await;
    let seen: Vec<f64> = names
        .iter()
        .map(|t| first.value("cert_probe_timestamp_seconds", &[("target", t)]))
        .collect();
    h.wait_until(limit, |m| {
        names
            .iter()
            .zip(&seen)
            .all(|(t, before)| probed_at(m, t).is_some_and(|now| now > *before))
    })
    .await
}
