//! `/metrics`: every family the exporter serves, registered in one place ([`registry`]).
//!
//! Per-target series are not kept in metric objects: a [`SnapshotCollector`] walks the current
//! snapshots at scrape time. That makes a removed target's series vanish at once, makes
//! `cert_days_to_expiry` exact at the moment of the scrape, and costs no memory per series.
//!
//! One file per concern: [`exporter`] (targets, probes, reloads, build), then, per target,
//! [`probe`], [`chain`], [`tls`], [`revocation`], [`diagnostics`], [`ct`] (Certificate
//! Transparency), [`crl_files`] (CRLs read by file targets) and [`dns`] (the CAA check),
//! each of [`revocation`] and [`diagnostics`]
//! also with process-wide series (HTTP requests to CA servers, cached CRLs, clock skew), and
//! [`target_files`]. This file holds what they share (`family`, `base_labels`), the one
//! registry, and rendering the page; [`labels`] the label controls every sample goes through
//! (the cap on value length, subject and issuer fields, the `file` path).

use std::sync::Arc;
use std::time::SystemTime;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

pub mod chain;
pub mod crl_files;
pub mod ct;
pub mod diagnostics;
pub mod dns;
pub mod exporter;
pub mod labels;
pub mod probe;
pub mod renewal;
pub mod revocation;
pub mod target_files;
pub mod tls;

#[cfg(test)]
mod tests;

pub use exporter::ExporterMetrics;
pub use labels::LabelLimit;

use crate::probe::{Instance, ProbeResult};
use crate::revocation::{Revocation, RevocationReport};
use crate::state::{Snapshot, State};
use crate::x509::ChainReport;
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
    let limit = exporter.label_limit.clone();
    exporter::register(&mut registry, exporter);
    registry.register_collector(Box::new(SnapshotCollector { state }));
    diagnostics::register(&mut registry, &revocation);
    revocation::register(&mut registry, revocation, limit.clone());
    target_files::register(&mut registry, target_files, limit);
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

    /// Picks the format from an `Accept` header as client_golang's
    /// `expfmt.NegotiateIncludingOpenMetrics` does: the media ranges in order of quality
    /// (highest first; equal ones in the order listed), and the first that names a format we
    /// serve wins — `application/openmetrics-text` with no version, `0.0.1` or `1.0.0`, or
    /// `text/plain` with no version or `0.0.4`. Anything else (`*/*`, protobuf, a text version
    /// we do not write, no header at all) gets the classic text format. A range with `q=0` is a
    /// refusal and never picked.
    pub fn from_accept(accept: Option<&str>) -> Format {
        let Some(accept) = accept else {
            return Format::Text;
        };
        let mut offers: Vec<(f32, Format)> = Vec::new();
        for range in accept.split(',') {
            let mut fields = range.split(';').map(str::trim);
            let media = fields.next().unwrap_or("").to_ascii_lowercase();
            let (mut version, mut quality) = ("", 1.0f32);
            for param in fields {
                let (key, value) = param.split_once('=').unwrap_or((param, ""));
                let value = value.trim().trim_matches('"');
                match key.trim().to_ascii_lowercase().as_str() {
                    "version" => version = value,
                    "q" => quality = value.parse().unwrap_or(0.0),
                    _ => {}
                }
            }
            let format = match (media.as_str(), version) {
                ("application/openmetrics-text", "" | "0.0.1" | "1.0.0") => Format::OpenMetrics,
                ("text/plain", "" | "0.0.4") => Format::Text,
                _ => continue,
            };
            if quality > 0.0 {
                offers.push((quality, format));
            }
        }
        // A stable sort: of equal qualities the one listed first wins.
        offers.sort_by(|a, b| b.0.total_cmp(&a.0));
        offers.first().map_or(Format::Text, |&(_, format)| format)
    }
}

/// Renders the registry in `format` into one string (`/probe` answers and tests; `/metrics`
/// streams the page with [`render_chunks`] instead).
pub fn render(registry: &Registry, format: Format) -> String {
    let mut out = String::new();
    if let Err(e) = encode(&mut out, registry, format) {
        // Writing to a String cannot fail; a collector error would be a bug worth seeing.
        tracing::error!(error = %e, "encoding /metrics failed");
    }
    out
}

/// The size of the pieces [`render_chunks`] hands on for `/metrics`.
pub const CHUNK: usize = 64 * 1024;

/// How a streamed render ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenderEnd {
    /// The whole page was handed on.
    Complete,
    /// `send` refused a piece (the scraper went away or was too slow); the page is cut short.
    Refused,
    /// Encoding failed (a bug: a collector returned an error); the page is cut short.
    Failed,
}

/// Renders the registry in `format` — gzip-compressed when `gzip` — and hands it to `send` in
/// pieces of about `chunk` bytes as it is encoded, so no more than a piece (and the gzip
/// state) is held here whatever the size of the page; the pieces put together are exactly
/// what [`render`] returns (gzipped, a gzip stream of it). Stops at the first piece `send`
/// returns `false` for.
pub fn render_chunks(
    registry: &Registry,
    format: Format,
    gzip: bool,
    chunk: usize,
    send: &mut dyn FnMut(Vec<u8>) -> bool,
) -> RenderEnd {
    let chunk = chunk.max(1);
    // Room for a piece and one more write of the encoder (it writes 4 KiB at a time), so the
    // buffer is not grown while it fills.
    let capacity = chunk + 8 * 1024;
    let mut sink = ChunkSink {
        plain: Vec::with_capacity(if gzip { 0 } else { capacity }),
        gzip: gzip.then(|| {
            flate2::write::GzEncoder::new(Vec::with_capacity(capacity), flate2::Compression::fast())
        }),
        chunk,
        capacity,
        send,
        refused: false,
    };
    if let Err(e) = encode(&mut sink, registry, format) {
        if sink.refused {
            return RenderEnd::Refused;
        }
        tracing::error!(error = %e, "encoding /metrics failed");
        return RenderEnd::Failed;
    }
    let rest = match sink.gzip.take() {
        // Writing into a Vec cannot fail.
        Some(encoder) => encoder.finish().unwrap_or_default(),
        None => std::mem::take(&mut sink.plain),
    };
    if !rest.is_empty() && !(sink.send)(rest) {
        return RenderEnd::Refused;
    }
    RenderEnd::Complete
}

/// Encodes into any text sink.
fn encode(
    out: &mut impl std::fmt::Write,
    registry: &Registry,
    format: Format,
) -> Result<(), std::fmt::Error> {
    match format {
        Format::Text => prometheus_client::encoding::prometheus_text::encode(out, registry),
        Format::OpenMetrics => prometheus_client::encoding::text::encode(out, registry),
    }
}

/// A `fmt::Write` that gathers what is written (compressed, with gzip) and hands it on in
/// pieces.
struct ChunkSink<'a> {
    /// The piece being filled, without gzip.
    plain: Vec<u8>,
    /// The compressor; its output Vec is the piece being filled.
    gzip: Option<flate2::write::GzEncoder<Vec<u8>>>,
    chunk: usize,
    capacity: usize,
    send: &'a mut dyn FnMut(Vec<u8>) -> bool,
    /// `send` said no: the error that stops the encoder is not a failure.
    refused: bool,
}

impl std::fmt::Write for ChunkSink<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let piece = match &mut self.gzip {
            Some(encoder) => {
                use std::io::Write as _;
                encoder
                    .write_all(s.as_bytes())
                    .map_err(|_| std::fmt::Error)?;
                encoder.get_mut()
            }
            None => {
                self.plain.extend_from_slice(s.as_bytes());
                &mut self.plain
            }
        };
        if piece.len() >= self.chunk {
            let full = std::mem::replace(piece, Vec::with_capacity(self.capacity));
            if !(self.send)(full) {
                self.refused = true;
                return Err(std::fmt::Error);
            }
        }
        Ok(())
    }
}

/// Renders every target's snapshot at scrape time.
#[derive(Debug)]
pub struct SnapshotCollector {
    pub state: Arc<State>,
}

/// One row of labels: the target's own, then those of the series.
pub(crate) type Labels<'a> = Vec<(&'a str, &'a str)>;

/// The labels every series of a result carries: `target`, the target's own labels, the
/// instance label (`address` or `file`) when there is one — the `file` label shaped as the
/// target's `file_path` or `trim_path_prefix` says — and the file's entry (`kubeconfig_cluster`,
/// `kubeconfig_user`) when the result is about one.
pub(crate) fn base_labels<'a>(snapshot: &'a Snapshot, result: &'a ProbeResult) -> Labels<'a> {
    let target = &snapshot.target;
    let mut labels = Vec::with_capacity(4 + target.labels.len());
    labels.push(("target", target.name.as_str()));
    match (result.instance.as_deref(), target.cert_files()) {
        (Some(Instance::File(path)), Some(files)) => {
            labels.push((
                "file",
                target.metrics.file_label.apply(&files.pattern, path),
            ));
        }
        (Some(Instance::KubeKey(key)), _) => labels.extend(key.labels()),
        (Some(instance), _) => labels.push((instance_label(instance), instance.value())),
        (None, _) => {}
    }
    if let Some(entry) = &result.entry {
        labels.push((entry.label, entry.name.as_str()));
    }
    for (k, v) in target.labels.iter() {
        labels.push((k.as_str(), v.as_str()));
    }
    labels
}

/// One chain a result reports: the one the probe's handshake got, or another leaf the server
/// offers to clients with other signature schemes ([`crate::probe::leaves`]).
pub(crate) struct ChainView<'a> {
    /// The `key_type` label, only when the server offers more than one leaf.
    pub key_type: Option<&'static str>,
    pub chain: &'a ChainReport,
    pub revocation: Option<&'a RevocationReport>,
}

/// Every chain of `r`, the main one first: the per-chain families write one series per chain.
pub(crate) fn chains(r: &ProbeResult) -> impl Iterator<Item = ChainView<'_>> {
    let several = r.leaves.as_ref().filter(|l| l.several());
    let main = r.chain.as_ref().map(|chain| ChainView {
        key_type: several.map(|l| l.main.as_str()),
        chain,
        revocation: r.revocation.as_ref(),
    });
    let others = several
        .into_iter()
        .flat_map(|l| &l.others)
        .map(|o| ChainView {
            key_type: Some(o.key_type.as_str()),
            chain: &o.chain,
            revocation: o.revocation.as_ref(),
        });
    main.into_iter().chain(others)
}

/// [`base_labels`] and, for a server that offers several leaves, the chain's `key_type`.
pub(crate) fn chain_labels<'a>(
    snapshot: &'a Snapshot,
    result: &'a ProbeResult,
    view: &ChainView<'a>,
) -> Labels<'a> {
    let mut labels = base_labels(snapshot, result);
    if let Some(key_type) = view.key_type {
        labels.push(("key_type", key_type));
    }
    labels
}

/// The name of the label that tells the results of one target apart.
pub fn instance_label(instance: &Instance) -> &'static str {
    match instance {
        Instance::Address(_) => "address",
        Instance::File(_) => "file",
        // On /metrics a key has three labels (`KubeKey::labels`); this one names it elsewhere.
        Instance::KubeKey(key) => key.kind.as_str(),
        Instance::KubeWatch(_) => "watch",
    }
}

/// Writes one metric family: its descriptor, then one sample per `(labels, value)` the closure
/// yields for each result of each snapshot, its label values capped at the target's
/// `label_value_length_limit`.
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
            let limit = snapshot.target.metrics.label_value_length_limit;
            for (labels, value) in rows.drain(..) {
                labels::encode_sample(&mut family, &labels, limit, value)?;
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
        ct::encode_target_series(e, s)?;
        crl_files::encode_target_series(e, s)?;
        renewal::encode_target_series(e, s)?;
        dns::encode_target_series(e, s)?;
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
