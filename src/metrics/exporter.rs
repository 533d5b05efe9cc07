//! The exporter's own series: how many targets it runs, the probes it finished, how the last
//! configuration load went, and which build is running.

use std::sync::Arc;
use std::time::SystemTime;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::labels::encode_sample;
use super::unix_seconds;
use crate::config::Target;
use crate::config::DEFAULT_LABEL_VALUE_LENGTH_LIMIT;
use crate::probe::ProbeResult;

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
    /// The cap on the label values of the series that belong to no target, as the running
    /// configuration's `defaults.metrics` says.
    pub label_limit: Arc<super::LabelLimit>,
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

/// Registers the exporter's own series.
pub fn register(registry: &mut Registry, exporter: Arc<ExporterMetrics>) {
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
        encode_sample(&mut family, &labels, DEFAULT_LABEL_VALUE_LENGTH_LIMIT, 1i64)
    }
}
