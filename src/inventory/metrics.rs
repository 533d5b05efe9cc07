//! `cert_exporter_target_file_last_load_successful{file}` and `cert_exporter_target_file_targets{file}`:
//! whether each target file loaded, and how many targets it contributes.

use std::sync::{Arc, Mutex};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::files::Files;

/// Per target file: its path, whether its last read loaded, and the targets it holds now.
#[derive(Debug, Default)]
pub struct FileReport {
    rows: Mutex<Vec<(String, bool, usize)>>,
}

impl FileReport {
    /// Takes the state of every file after a refresh.
    pub fn set(&self, files: &Files) {
        let rows = files
            .iter()
            .map(|(path, state)| {
                (
                    path.display().to_string(),
                    state.error.is_none(),
                    state.targets.len(),
                )
            })
            .collect();
        *self.rows.lock().unwrap_or_else(|e| e.into_inner()) = rows;
    }
}

/// Registers the target-file series.
pub fn register(registry: &mut Registry, report: Arc<FileReport>) {
    registry.register_collector(Box::new(FileCollector { report }));
}

#[derive(Debug)]
struct FileCollector {
    report: Arc<FileReport>,
}

impl Collector for FileCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let rows = self
            .report
            .rows
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut family = encoder.encode_descriptor(
            "cert_exporter_target_file_last_load_successful",
            "1 when the last read of the target file loaded; 0 while it is broken (its previous targets are kept)",
            None,
            MetricType::Gauge,
        )?;
        for (file, ok, _) in &rows {
            ConstGauge::new(*ok as i64)
                .encode(family.encode_family(&[("file", file.as_str())])?)?;
        }
        let mut family = encoder.encode_descriptor(
            "cert_exporter_target_file_targets",
            "Targets the target file contributes now, before sharding",
            None,
            MetricType::Gauge,
        )?;
        for (file, _, count) in &rows {
            ConstGauge::new(*count as i64)
                .encode(family.encode_family(&[("file", file.as_str())])?)?;
        }
        Ok(())
    }
}
