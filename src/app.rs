//! Wiring: configuration ▶ scheduler ▶ state ◀ collector ◀ HTTP server, plus reload and shutdown.
//!
//! Kept out of `main.rs` so the tests start the very same exporter in-process.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::ConfigError;
use crate::inventory::{ApplyFn, Inventory};
use crate::metrics::{self, ExporterMetrics};
use crate::probe::{DiagnosticCaches, Resolver};
use crate::revocation::Revocation;
use crate::scheduler::Scheduler;
use crate::server::probe::OnDemand;
use crate::server::web_config::WebConfig;
use crate::server::{self, Endpoints, WebSecurity};
use crate::shard::Shard;
use crate::state::State;

pub use crate::config::Loaded;

/// Reads the config file and the files it names. Any error leaves nothing changed.
pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
    Loaded::load(path)
}

/// The running exporter.
pub struct Exporter {
    /// Where `/metrics` is served.
    pub local_addr: SocketAddr,
    scheduler: Arc<Scheduler>,
    reloader: Arc<Reloader>,
    shutdown: CancellationToken,
    server: JoinHandle<()>,
}

/// Re-reads the configuration and applies it; shared by SIGHUP and `POST /-/reload`.
struct Reloader {
    path: PathBuf,
    /// `--web.config.file`, re-read with the configuration.
    web_config: Option<PathBuf>,
    /// Set once the HTTP endpoints exist, to swap their TLS and users on reload.
    endpoints: std::sync::OnceLock<Arc<Endpoints>>,
    /// Combines the configuration with the target files and hands the result to the scheduler.
    inventory: Arc<Inventory>,
    metrics: Arc<ExporterMetrics>,
    /// Serialises reloads so two at once cannot interleave their diffs.
    lock: Mutex<()>,
}

impl Reloader {
    fn reload(&self) -> Result<(), String> {
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let loaded = load(&self.path)
            .map_err(|e| e.to_string())
            .and_then(|loaded| {
                let web = self
                    .web_config
                    .as_deref()
                    .map(WebConfig::load)
                    .transpose()?;
                Ok((loaded, web))
            });
        match loaded {
            Ok((loaded, web)) => {
                if let (Some(web), Some(endpoints)) = (web, self.endpoints.get()) {
                    endpoints.set_security(WebSecurity::from(web));
                }
                let targets = loaded.config.targets.len();
                self.inventory.apply_main(loaded);
                self.metrics.record_reload(true);
                tracing::info!(targets, "configuration reloaded");
                Ok(())
            }
            Err(e) => {
                self.metrics.record_reload(false);
                tracing::error!(error = %e, "configuration reload failed; keeping the running configuration");
                Err(e)
            }
        }
    }
}

/// How the HTTP side is set up.
#[derive(Debug, Clone)]
pub struct WebSettings {
    /// Address to listen on (port 0 picks a free one).
    pub listen: SocketAddr,
    /// `--web.config.file`: TLS and basic auth.
    pub config_file: Option<PathBuf>,
}

impl Exporter {
    /// Starts probing `loaded` (read from `config_path`) and serving plain HTTP on `listen`.
    pub async fn start(
        config_path: &Path,
        loaded: Loaded,
        listen: SocketAddr,
    ) -> std::io::Result<Exporter> {
        let web = WebSettings {
            listen,
            config_file: None,
        };
        Exporter::start_with(config_path, loaded, web).await
    }

    /// Starts probing `loaded` and serving as `web` says.
    pub async fn start_with(
        config_path: &Path,
        loaded: Loaded,
        web: WebSettings,
    ) -> std::io::Result<Exporter> {
        Exporter::start_sharded(config_path, loaded, web, Shard::ALL).await
    }

    /// Starts probing the targets of `loaded` (and its target files) that `shard` owns, and
    /// serving as `web` says.
    pub async fn start_sharded(
        config_path: &Path,
        loaded: Loaded,
        web: WebSettings,
        shard: Shard,
    ) -> std::io::Result<Exporter> {
        Exporter::start_configured(config_path, loaded, web, shard, Resolver::from_system()).await
    }

    /// Like [`Exporter::start_with`], resolving names with `resolver` instead of the system's
    /// configuration (tests point it at a name server of their own: [`Resolver::with_name_servers`]).
    pub async fn start_with_resolver(
        config_path: &Path,
        loaded: Loaded,
        web: WebSettings,
        resolver: Resolver,
    ) -> std::io::Result<Exporter> {
        Exporter::start_configured(config_path, loaded, web, Shard::ALL, resolver).await
    }

    /// Starts the exporter with every choice explicit: the shard it owns and the resolver.
    async fn start_configured(
        config_path: &Path,
        loaded: Loaded,
        web: WebSettings,
        shard: Shard,
        resolver: Resolver,
    ) -> std::io::Result<Exporter> {
        let security = match &web.config_file {
            Some(path) => WebSecurity::from(WebConfig::load(path).map_err(std::io::Error::other)?),
            None => WebSecurity::default(),
        };
        let listener = TcpListener::bind(web.listen).await?;
        let local_addr = listener.local_addr()?;
        let state = Arc::new(State::new());
        let exporter_metrics = Arc::new(ExporterMetrics::default());
        let scheduler = Arc::new(Scheduler::new(state.clone(), exporter_metrics.clone()));
        let revocation = Arc::new(Revocation::new().map_err(std::io::Error::other)?);
        let caches = Arc::new(DiagnosticCaches::default());
        let on_demand = Arc::new(OnDemand::new(scheduler.permits(), exporter_metrics.clone()));
        let target_count = loaded.config.targets.len();
        // What the inventory computes is put in force here: the scheduler's targets and the
        // settings `/probe` answers with.
        let apply: ApplyFn = {
            let scheduler = scheduler.clone();
            let on_demand = on_demand.clone();
            let label_limit = exporter_metrics.label_limit.clone();
            Box::new(move |config, prober| {
                label_limit.set(config.label_value_length_limit);
                scheduler.apply(config, prober.clone());
                on_demand.set(config.on_demand.clone(), prober);
            })
        };
        let inventory =
            Inventory::start(loaded, shard, resolver, revocation.clone(), caches, apply);
        exporter_metrics.record_reload(true);
        let shutdown = CancellationToken::new();
        tokio::spawn(inventory.clone().watch(shutdown.clone()));

        let reloader = Arc::new(Reloader {
            path: config_path.to_path_buf(),
            web_config: web.config_file.clone(),
            endpoints: std::sync::OnceLock::new(),
            inventory: inventory.clone(),
            metrics: exporter_metrics.clone(),
            lock: Mutex::new(()),
        });
        let reload_fn = {
            let reloader = reloader.clone();
            Arc::new(move || reloader.reload())
        };
        let registry = metrics::registry(
            state.clone(),
            exporter_metrics,
            revocation,
            inventory.file_report.clone(),
        );
        let endpoints = Arc::new(Endpoints {
            registry,
            state,
            reload: reload_fn,
            web: std::sync::RwLock::new(Arc::new(security)),
            on_demand,
        });
        let _ = reloader.endpoints.set(endpoints.clone());
        let server = tokio::spawn(server::serve(listener, endpoints, shutdown.clone()));
        tracing::info!(address = %local_addr, targets = target_count, %shard, tls = web.config_file.is_some(), "listening");
        Ok(Exporter {
            local_addr,
            scheduler,
            reloader,
            shutdown,
            server,
        })
    }

    /// Re-reads the configuration file (as SIGHUP does).
    pub fn reload(&self) -> Result<(), String> {
        self.reloader.reload()
    }

    /// Stops probing and serving; in-flight probes are cancelled, open scrapes finish.
    pub async fn shutdown(self) {
        self.scheduler.stop();
        self.shutdown.cancel();
        let _ = self.server.await;
    }

    /// Runs until SIGTERM or SIGINT, reloading on SIGHUP.
    pub async fn run_until_signal(self) -> std::io::Result<()> {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let mut hup = signal(SignalKind::hangup())?;
        crate::systemd::ready();
        crate::systemd::spawn_watchdog();
        loop {
            tokio::select! {
                _ = term.recv() => break,
                _ = int.recv() => break,
                _ = hup.recv() => { let _ = self.reload(); }
            }
        }
        tracing::info!("shutting down");
        crate::systemd::stopping();
        self.shutdown().await;
        Ok(())
    }
}
