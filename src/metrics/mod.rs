//! `/metrics`: every family the exporter serves, registered in one place ([`registry`]).
//!
//! Per-target series are not kept in metric objects: a [`SnapshotCollector`] walks the current
//! snapshots at scrape time. That makes a removed target's series vanish at once, makes
//! `cert_days_to_expiry` exact at the moment of the scrape, and costs no memory per series.
//!
//! One file per concern: [`exporter`] (targets, probes, reloads, build), then, per target,
//! [`probe`], [`chain`], [`tls`], [`revocation`] and [`diagnostics`], each of the last two
//! also with process-wide series (HTTP requests to CA servers, cached CRLs, clock skew), and
//! [`target_files`]. This file holds what they share (`family`, `base_labels`), the one
//! registry, and rendering the page.

use std::sync::Arc;
use std::time::SystemTime;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

pub mod chain;
pub mod diagnostics;
pub mod exporter;
pub mod probe;
pub mod revocation;
pub mod target_files;
pub mod tls;

#[cfg(test)]
mod tests;

pub use exporter::ExporterMetrics;

use crate::probe::{Instance, ProbeResult};
use crate::revocation::Revocation;
use crate::state::{Snapshot, State};
use target_files::FileReport;

/// Builds the registry served on `/metrics`: every family the exporter serves, in the order the
/// page lists them. (Prometheus-client writes the registered metrics first, then the
/// collectors, each in the order registered.)
pub fn registry(
    state: Arc<State>,
    exporter: Arc<ExporterMetrics>,
    revocation: Arc<Revocation>,
    target_files: Arc<FileReport>,
) -> Registry {
    let mut registry = Registry::default();
    exporter::register(&mut registry, exporter);
    registry.register_collector(Box::new(SnapshotCollector { state }));
    diagnostics::register(&mut registry, &revocation);
    revocation::register(&mut registry, revocation);
    target_files::register(&mut registry, target_files);
    registry
}

/// The output formats `/metrics` can serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4.
    Text,
    /// OpenMetrics 1.0 text.
    OpenMetrics,
}

impl Format {
    /// The `Content-Type` header for this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }

    /// Picks the format from an `Accept` header: OpenMetrics when the scraper lists it.
    pub fn from_accept(accept: Option<&str>) -> Format {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Text,
        }
    }
}

/// Renders the registry in `format`.
pub fn render(registry: &Registry, format: Format) -> String {
    // Sized from the last render, so a large page is not copied over and over as it grows
    // (with ten thousand targets the page is tens of MiB, and each doubling holds two copies).
    let mut out = String::with_capacity(render_size_hint());
    encode(&mut out, registry, format);
    LAST_RENDER_SIZE.store(out.len(), std::sync::atomic::Ordering::Relaxed);
    out
}

/// Renders the registry in `format` straight into a gzip stream. Only the compressed bytes are
/// held, a tenth or less of the page, which is what keeps a scrape of thousands of targets
/// cheap in memory (Prometheus always accepts gzip).
pub fn render_gzip(registry: &Registry, format: Format) -> Vec<u8> {
    let mut out = GzipWriter {
        encoder: flate2::write::GzEncoder::new(
            Vec::with_capacity(render_size_hint() / 8),
            flate2::Compression::fast(),
        ),
        written: 0,
    };
    encode(&mut out, registry, format);
    LAST_RENDER_SIZE.store(out.written, std::sync::atomic::Ordering::Relaxed);
    // Writing into a Vec cannot fail.
    out.encoder.finish().unwrap_or_default()
}

/// The size of the last page rendered, plus an eighth for growth.
static LAST_RENDER_SIZE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn render_size_hint() -> usize {
    let last = LAST_RENDER_SIZE.load(std::sync::atomic::Ordering::Relaxed);
    (last + last / 8).max(64 * 1024)
}

/// Encodes into any text sink.
fn encode(out: &mut impl std::fmt::Write, registry: &Registry, format: Format) {
    let result = match format {
        Format::Text => prometheus_client::encoding::prometheus_text::encode(out, registry),
        Format::OpenMetrics => prometheus_client::encoding::text::encode(out, registry),
    };
    // Writing to a String or a Vec cannot fail; a collector error would be a bug worth seeing.
    if let Err(e) = result {
        tracing::error!(error = %e, "encoding /metrics failed");
    }
}

/// A `fmt::Write` that compresses what is written.
struct GzipWriter {
    encoder: flate2::write::GzEncoder<Vec<u8>>,
    /// Uncompressed bytes written.
    written: usize,
}

impl std::fmt::Write for GzipWriter {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        use std::io::Write as _;
        self.written += s.len();
        self.encoder
            .write_all(s.as_bytes())
            .map_err(|_| std::fmt::Error)
    }
}

/// Renders every target's snapshot at scrape time.
#[derive(Debug)]
pub struct SnapshotCollector {
    pub state: Arc<State>,
}

/// One row of labels: the target's own, then those of the series.
pub(crate) type Labels<'a> = Vec<(&'a str, &'a str)>;

/// The labels every series of a result carries: `target`, the target's own labels, and the
/// instance label (`address` or `file`) when there is one.
pub(crate) fn base_labels<'a>(snapshot: &'a Snapshot, result: &'a ProbeResult) -> Labels<'a> {
    let mut labels = Vec::with_capacity(4 + snapshot.target.labels.len());
    labels.push(("target", snapshot.target.name.as_str()));
    if let Some(instance) = &result.instance {
        labels.push((instance_label(instance), instance.value()));
    }
    for (k, v) in &snapshot.target.labels {
        labels.push((k.as_str(), v.as_str()));
    }
    labels
}

/// The name of the label that tells the results of one target apart.
pub fn instance_label(instance: &Instance) -> &'static str {
    match instance {
        Instance::Address(_) => "address",
        Instance::File(_) => "file",
    }
}

/// Writes one metric family: its descriptor, then one sample per `(labels, value)` the closure
/// yields for each result of each snapshot.
pub(crate) fn family<F>(
    encoder: &mut DescriptorEncoder,
    snapshots: &[Arc<Snapshot>],
    name: &str,
    help: &str,
    mut samples: F,
) -> Result<(), std::fmt::Error>
where
    F: for<'a> FnMut(&'a Snapshot, &'a ProbeResult, &mut Vec<(Labels<'a>, f64)>),
{
    let mut rows = Vec::new();
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for snapshot in snapshots {
        for result in &snapshot.results {
            rows.clear();
            samples(snapshot, result, &mut rows);
            for (labels, value) in rows.drain(..) {
                ConstGauge::new(value).encode(family.encode_family(&labels)?)?;
            }
        }
    }
    Ok(())
}

impl Collector for SnapshotCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let snapshots = self.state.snapshots();
        let e = &mut encoder;
        let s = snapshots.as_slice();
        // In this order: the page lists the families as they are written.
        probe::encode_target_series(e, s)?;
        chain::encode_target_series(e, s)?;
        tls::encode_target_series(e, s)?;
        revocation::encode_target_series(e, s)?;
        diagnostics::encode_target_series(e, s)?;
        Ok(())
    }
}

/// Seconds since the Unix epoch as a float (negative before 1970).
pub fn unix_seconds(t: SystemTime) -> f64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}
