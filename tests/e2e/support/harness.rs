//! The exporter started in-process on a temporary config, scraped over real HTTP.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use cert_expiry_exporter::app::{self, Exporter, WebSettings};
use cert_expiry_exporter::probe::Resolver;

use super::http::get;
use super::metrics::Metrics;

/// An exporter running on a temporary config, stopped when dropped with its directory.
pub struct Harness {
    pub exporter: Option<Exporter>,
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
}

impl Harness {
    /// Writes `yaml` (with `{dir}` replaced by the temp dir) and starts an exporter on it.
    pub async fn start(yaml: &str) -> Harness {
        let dir = tempfile::tempdir().expect("tempdir");
        Harness::start_in(dir, yaml).await
    }

    /// Like [`Harness::start`], in a directory prepared by the caller (CA files and the like).
    pub async fn start_in(dir: tempfile::TempDir, yaml: &str) -> Harness {
        Harness::launch(dir, yaml, None).await
    }

    /// Like [`Harness::start_in`], resolving names with `resolver` (a hosts file, test name
    /// servers) instead of the system's.
    pub async fn start_with_resolver(
        dir: tempfile::TempDir,
        yaml: &str,
        resolver: Resolver,
    ) -> Harness {
        Harness::launch(dir, yaml, Some(resolver)).await
    }

    /// Writes `yaml` (with `{dir}` replaced) as `dir/config.yaml`, loads it and starts an
    /// exporter on a free loopback port.
    async fn launch(dir: tempfile::TempDir, yaml: &str, resolver: Option<Resolver>) -> Harness {
        let config_path = dir.path().join("config.yaml");
        let yaml = yaml.replace("{dir}", &dir.path().display().to_string());
        std::fs::write(&config_path, yaml).expect("write config");
        let loaded = app::load(&config_path).unwrap_or_else(|e| panic!("config: {e}"));
        let listen = "127.0.0.1:0".parse().unwrap();
        let exporter = match resolver {
            None => Exporter::start(&config_path, loaded, listen).await,
            Some(resolver) => {
                let web = WebSettings {
                    listen,
                    config_file: None,
                };
                Exporter::start_with_resolver(&config_path, loaded, web, resolver).await
            }
        }
        .expect("start exporter");
        Harness {
            exporter: Some(exporter),
            dir,
            config_path,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.exporter.as_ref().expect("running").local_addr
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Scrapes `/metrics` (text format).
    pub async fn scrape(&self) -> Metrics {
        Metrics::parse(&get(self.addr(), "/metrics", &[]).await.body)
    }

    /// Scrapes until every named target has been probed `probes` times, or panics after `limit`.
    pub async fn wait_for_probes(&self, targets: &[&str], limit: Duration) -> Metrics {
        let probed = |m: &Metrics| {
            targets.iter().all(|t| {
                m.get("cert_probe_timestamp_seconds", &[("target", t)])
                    .is_some()
            })
        };
        self.poll(limit, probed, || format!("targets {targets:?} not probed"))
            .await
    }

    /// Scrapes until `check` holds, or panics after `limit`.
    pub async fn wait_until(&self, limit: Duration, check: impl Fn(&Metrics) -> bool) -> Metrics {
        self.poll(limit, check, || "condition not met".to_string())
            .await
    }

    /// Scrapes every 50 ms until `check` holds; after `limit`, panics saying `what` failed,
    /// with the last scrape.
    async fn poll(
        &self,
        limit: Duration,
        check: impl Fn(&Metrics) -> bool,
        what: impl Fn() -> String,
    ) -> Metrics {
        let start = Instant::now();
        loop {
            let m = self.scrape().await;
            if check(&m) {
                return m;
            }
            if start.elapsed() > limit {
                panic!("{} within {limit:?}; last scrape:\n{}", what(), m.text);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn stop(mut self) {
        if let Some(e) = self.exporter.take() {
            e.shutdown().await;
        }
    }
}
