//! `cert_exporter_target_file_last_load_successful{file}` and `cert_exporter_target_file_targets{file}`:
//! whether each target file loaded, and how many targets it contributes. The inventory, which
//! reads the target files, hands over what it found; nothing here looks at the files.

use std::sync::{Arc, Mutex};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::labels::{encode_sample, LabelLimit};

/// One target file as the series report it.
#[derive(Debug, Clone)]
pub struct TargetFileLoad {
    /// The `file` label: the file's path.
    pub file: String,
    /// Whether its last read loaded.
    pub loaded: bool,
    /// The targets it holds now (the last version that loaded).
    pub targets: usize,
}

/// Every target file, as of the inventory's last refresh.
#[derive(Debug, Default)]
pub struct FileReport {
    rows: Mutex<Vec<TargetFileLoad>>,
}

impl FileReport {
    /// Takes the state of every file after a refresh.
    pub fn set(&self, files: impl IntoIterator<Item = TargetFileLoad>) {
        let rows = files.into_iter().collect();
        *self.rows.lock().unwrap_or_else(|e| e.into_inner()) = rows;
    }
}

/// Registers the target-file series, their `file` labels capped at `limit`.
pub fn register(registry: &mut Registry, report: Arc<FileReport>, limit: Arc<LabelLimit>) {
    registry.register_collector(Box::new(FileCollector { report, limit }));
}

#[derive(Debug)]
struct FileCollector {
    report: Arc<FileReport>,
    limit: Arc<LabelLimit>,
}

impl Collector for FileCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let rows = self
            .report
            .rows
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let limit = self.limit.get();
        let mut family = encoder.encode_descriptor(
            "cert_exporter_target_file_last_load_successful",
            "1 when the last read of the target file loaded; 0 while it is broken (its previous targets are kept)",
            None,
            MetricType::Gauge,
        )?;
        for row in &rows {
            let labels = [("file", row.file.as_str())];
            encode_sample(&mut family, &labels, limit, row.loaded as i64)?;
        }
        let mut family = encoder.encode_descriptor(
            "cert_exporter_target_file_targets",
            "Targets the target file contributes now, before sharding",
            None,
            MetricType::Gauge,
        )?;
        for row in &rows {
            let labels = [("file", row.file.as_str())];
            encode_sample(&mut family, &labels, limit, row.targets as i64)?;
        }
        Ok(())
    }
}
