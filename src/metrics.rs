//! `/metrics`: the exporter's own metrics and the per-target series rendered from snapshots.
//!
//! Per-target series are not kept in metric objects: a [`SnapshotCollector`] walks the current
//! snapshots at scrape time. That makes a removed target's series vanish at once, makes
//! `cert_days_to_expiry` exact at the moment of the scrape, and costs no memory per series.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::SystemTime;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

pub mod diagnostics;

use crate::config::Target;
use crate::probe::{Instance, ProbeResult};
use crate::state::{Snapshot, State};
use crate::x509::bundle;

/// Seconds in a day, for `cert_days_to_expiry`.
const DAY: f64 = 86_400.0;

/// The exporter's own metrics, updated as things happen.
#[derive(Debug, Default)]
pub struct ExporterMetrics {
    /// `cert_exporter_targets`: targets in the running configuration.
    pub targets: Gauge,
    /// `cert_exporter_probes_total{result}`: probes finished, by `success`/`failure`.
    pub probes: Family<Vec<(&'static str, &'static str)>, Counter>,
    /// `cert_exporter_config_last_reload_successful`.
    pub reload_ok: Gauge,
    /// `cert_exporter_config_last_reload_success_timestamp_seconds`.
    pub reload_timestamp: Gauge<f64, std::sync::atomic::AtomicU64>,
}

impl ExporterMetrics {
    /// Counts a finished probe.
    pub fn record_probe(&self, _target: &Target, result: &ProbeResult) {
        let outcome = if result.failure.is_none() {
            "success"
        } else {
            "failure"
        };
        self.probes.get_or_create(&vec![("result", outcome)]).inc();
    }

    /// Records the outcome of a configuration (re)load.
    pub fn record_reload(&self, ok: bool) {
        self.reload_ok.set(ok as i64);
        if ok {
            self.reload_timestamp.set(unix_seconds(SystemTime::now()));
        }
    }
}

/// Builds the registry served on `/metrics`.
pub fn registry(state: Arc<State>, exporter: Arc<ExporterMetrics>) -> Registry {
    let mut registry = Registry::default();
    registry.register(
        "cert_exporter_targets",
        "Targets in the running configuration",
        exporter.targets.clone(),
    );
    registry.register(
        "cert_exporter_probes",
        "Probes finished, by result",
        exporter.probes.clone(),
    );
    registry.register(
        "cert_exporter_config_last_reload_successful",
        "1 when the last configuration load succeeded",
        exporter.reload_ok.clone(),
    );
    registry.register(
        "cert_exporter_config_last_reload_success_timestamp_seconds",
        "When the configuration was last loaded successfully",
        exporter.reload_timestamp.clone(),
    );
    registry.register_collector(Box::new(BuildInfo));
    registry.register_collector(Box::new(SnapshotCollector { state }));
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

/// `cert_exporter_build_info{version, revision}`.
#[derive(Debug)]
struct BuildInfo;

impl Collector for BuildInfo {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let labels = [
            ("version", env!("CARGO_PKG_VERSION")),
            (
                "revision",
                option_env!("CERT_EXPORTER_REVISION").unwrap_or("unknown"),
            ),
        ];
        let mut family = encoder.encode_descriptor(
            "cert_exporter_build_info",
            "Version and git revision of the running exporter",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(1).encode(family.encode_family(&labels)?)
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
        let now = unix_seconds(SystemTime::now());
        // Whole seconds, as certificates' dates are, for telling lapsed bundle certificates.
        let at = now.floor() as i64;
        let e = &mut encoder;
        let s = snapshots.as_slice();

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
                for (phase, d) in &r.phases {
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
        family(
            e,
            s,
            "cert_chain_valid",
            "1 when the served chain verifies for the server name now",
            |snap, r, out| {
                if let Some(chain) = r.chain.as_ref().filter(|c| c.judged) {
                    out.push((base_labels(snap, r), chain.is_valid() as u8 as f64));
                }
            },
        )?;
        family(
            e,
            s,
            "cert_chain_error_info",
            "1 per reason the served chain is invalid",
            |snap, r, out| {
                if let Some(chain) = r.chain.as_ref().filter(|c| c.judged) {
                    for reason in &chain.errors {
                        let mut l = base_labels(snap, r);
                        l.push(("reason", reason.as_str()));
                        out.push((l, 1.0));
                    }
                }
            },
        )?;
        family(
            e,
            s,
            "cert_days_to_expiry",
            "Days until the first certificate of the served path expires (negative once expired); \
             for a bundle file, the next of its certificates to expire",
            |snap, r, out| {
                if let Some(expiry) = r.chain.as_ref().and_then(|c| bundle::expiry_at(c, at)) {
                    out.push((base_labels(snap, r), (expiry as f64 - now) / DAY));
                }
            },
        )?;
        family(
            e,
            s,
            "cert_expiry_timestamp_seconds",
            "When the first certificate of the served path expires; for a bundle file, the next \
             of its certificates to expire",
            |snap, r, out| {
                if let Some(expiry) = r.chain.as_ref().and_then(|c| bundle::expiry_at(c, at)) {
                    out.push((base_labels(snap, r), expiry as f64));
                }
            },
        )?;
        family(
            e,
            s,
            "cert_bundle_expired_certificates",
            "Certificates of a bundle file already past their notAfter (left out of its expiry)",
            |snap, r, out| {
                if let Some(chain) = r.chain.as_ref().filter(|c| !c.judged) {
                    let n = bundle::expired(&chain.certs, at);
                    out.push((base_labels(snap, r), n as f64));
                }
            },
        )?;
        family(
            e,
            s,
            "cert_anchor_not_after_timestamp_seconds",
            "notAfter of the trust anchor the served path ends at",
            |snap, r, out| {
                if let Some(anchor) = r.chain.as_ref().and_then(|c| c.anchor.as_ref()) {
                    let mut l = base_labels(snap, r);
                    l.push(("subject", anchor.subject.as_str()));
                    out.push((l, anchor.not_after as f64));
                }
            },
        )?;
        family(
            e,
            s,
            "cert_not_after_timestamp_seconds",
            "notAfter of every certificate the server sent",
            |snap, r, out| {
                per_cert(snap, r, out, |c| c.not_after as f64);
            },
        )?;
        family(
            e,
            s,
            "cert_not_before_timestamp_seconds",
            "notBefore of every certificate the server sent",
            |snap, r, out| {
                per_cert(snap, r, out, |c| c.not_before as f64);
            },
        )?;
        cert_info(e, s)?;
        family(
            e,
            s,
            "cert_tls_version_info",
            "Negotiated TLS version",
            |snap, r, out| {
                if let Some(tls) = &r.tls {
                    let mut l = base_labels(snap, r);
                    l.push(("version", tls.version.as_str()));
                    out.push((l, 1.0));
                }
            },
        )?;
        family(
            e,
            s,
            "cert_tls_cipher_info",
            "Negotiated cipher suite and key-exchange group",
            |snap, r, out| {
                if let Some(tls) = &r.tls {
                    let mut l = base_labels(snap, r);
                    l.push(("cipher", tls.cipher.as_str()));
                    l.push(("group", tls.group.as_str()));
                    out.push((l, 1.0));
                }
            },
        )?;
        family(
            e,
            s,
            "cert_client_cert_requested",
            "1 when the server asked for a client certificate",
            |snap, r, out| {
                // Only where a server was reached: a certificate file has no server to ask.
                if r.chain.is_some() && r.peer.is_some() {
                    out.push((base_labels(snap, r), r.client_cert_requested as u8 as f64));
                }
            },
        )?;

        // Revocation (cert_revoked, cert_ocsp_stapled, cert_revocation_error_info,
        // cert_ocsp_next_update_timestamp_seconds): see src/revocation/metrics.rs.
        crate::revocation::metrics::encode_target_series(e, s)?;

        // Diagnostics (cert_legacy_protocol_enabled, cert_weak_crypto_info): see
        // src/metrics/diagnostics.rs.
        diagnostics::encode_target_series(e, s)?;
        Ok(())
    }
}

/// One sample per certificate sent, labelled by position, subject, issuer and serial.
fn per_cert<'a>(
    snap: &'a Snapshot,
    r: &'a ProbeResult,
    out: &mut Vec<(Labels<'a>, f64)>,
    value: impl Fn(&crate::x509::CertFacts) -> f64,
) {
    let Some(chain) = &r.chain else { return };
    for (i, cert) in chain.certs.iter().enumerate() {
        let mut l = base_labels(snap, r);
        l.push(("position", position(i)));
        l.push(("subject", cert.subject.as_str()));
        l.push(("issuer", cert.issuer.as_str()));
        l.push(("serial", cert.serial.as_str()));
        out.push((l, value(cert)));
    }
}

/// The `position` label value for index `i`, preformatted once so samples borrow rather than
/// allocate. Chains are capped at [`crate::x509::chain::MAX_CHAIN`] certificates, certificate
/// files at [`crate::x509::bundle::MAX_BUNDLE`].
pub(crate) fn position(i: usize) -> &'static str {
    static POSITIONS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let all = POSITIONS.get_or_init(|| {
        (0..crate::x509::chain::MAX_CHAIN.max(crate::x509::bundle::MAX_BUNDLE))
            .map(|i| i.to_string())
            .collect()
    });
    all.get(i).map(String::as_str).unwrap_or("overflow")
}

/// `cert_info`: every fact of every certificate sent, as labels (value 1). Written apart from
/// [`family`] because two labels are formatted per sample and must outlive the label set.
fn cert_info(
    e: &mut DescriptorEncoder,
    snapshots: &[Arc<Snapshot>],
) -> Result<(), std::fmt::Error> {
    let mut family = e.encode_descriptor(
        "cert_info",
        "Facts of every certificate the server sent (value 1)",
        None,
        MetricType::Gauge,
    )?;
    let mut bits = String::new();
    let mut names = String::new();
    for snap in snapshots {
        for r in &snap.results {
            let Some(chain) = &r.chain else { continue };
            for (i, cert) in chain.certs.iter().enumerate() {
                bits.clear();
                let _ = write!(bits, "{}", cert.key_bits);
                names.clear();
                names.push_str(&cert.dns_names.join(","));
                let mut l = base_labels(snap, r);
                l.push(("position", position(i)));
                l.push(("subject", cert.subject.as_str()));
                l.push(("issuer", cert.issuer.as_str()));
                l.push(("serial", cert.serial.as_str()));
                l.push(("sha256_fingerprint", cert.sha256_fingerprint.as_str()));
                l.push(("key_algorithm", cert.key_algorithm));
                l.push(("key_bits", bits.as_str()));
                l.push(("signature_algorithm", cert.signature_algorithm.as_str()));
                l.push(("dns_names", names.as_str()));
                ConstGauge::new(1).encode(family.encode_family(&l)?)?;
            }
        }
    }
    Ok(())
}

/// Seconds since the Unix epoch as a float (negative before 1970).
pub fn unix_seconds(t: SystemTime) -> f64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}
