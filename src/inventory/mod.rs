//! Which targets this exporter probes: the main configuration's, plus those of the target files,
//! less those another shard owns.
//!
//! The main file changes on reload ([`Inventory::apply_main`]); target files change whenever an
//! inventory system rewrites them, and are polled ([`Inventory::watch`]). Either way the combined
//! list and the prober for it are handed to an [`ApplyFn`]: `app` wires it to the scheduler,
//! which keeps unchanged targets running, and to the `/probe` handler. The inventory itself
//! knows neither (they sit beside and above it).

pub mod files;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::config::{Config, Loaded};
use crate::metrics::target_files::{FileReport, TargetFileLoad};
use crate::probe::{DiagnosticCaches, Prober, Resolver};
use crate::revocation::Revocation;
use crate::shard::Shard;
use files::Files;

/// How often the target files are polled while none are configured (a reload may add some).
const IDLE_POLL: Duration = Duration::from_secs(5);

/// Reads every target file of `config` once (for `--check-config`): the number of targets they
/// hold, or the first error.
pub fn check_files(config: &Config) -> Result<usize, String> {
    let Some(spec) = &config.target_files else {
        return Ok(0);
    };
    let main: HashSet<&str> = config.targets.iter().map(|t| t.name.as_str()).collect();
    let owner = |name: &str| {
        main.contains(name)
            .then(|| "the main configuration".to_string())
    };
    let mut read = Files::new();
    files::refresh(spec, &mut read, true, &owner);
    match read.values().find_map(|f| f.error.clone()) {
        Some(error) => Err(error),
        None => Ok(read.values().map(|f| f.targets.len()).sum()),
    }
}

/// Puts a combined, sharded configuration in force with the prober for its targets.
pub type ApplyFn = Box<dyn Fn(&Config, Arc<Prober>) + Send + Sync>;

/// The combined target list and what it takes to probe it.
pub struct Inventory {
    shard: Shard,
    /// The resolver for configurations that name no `dns.name_servers`.
    resolver: Resolver,
    /// The resolver of the configuration's `dns.name_servers`, kept (with its cache of
    /// answers) while a reload names the same servers.
    configured: Mutex<Option<(Vec<std::net::SocketAddr>, Resolver)>>,
    revocation: Arc<Revocation>,
    /// The legacy-protocol and caIssuers caches, kept across reloads like the revocation ones.
    caches: Arc<DiagnosticCaches>,
    /// Called with each combined list.
    apply: ApplyFn,
    state: Mutex<Sources>,
    /// What `cert_exporter_target_file_*` report, refreshed at each change.
    pub file_report: Arc<FileReport>,
}

/// The sources of targets.
struct Sources {
    main: Loaded,
    files: Files,
}

impl Inventory {
    /// Starts with `main` (and its target files, read now) in force.
    pub fn start(
        main: Loaded,
        shard: Shard,
        resolver: Resolver,
        revocation: Arc<Revocation>,
        caches: Arc<DiagnosticCaches>,
        apply: ApplyFn,
    ) -> Arc<Inventory> {
        let inventory = Arc::new(Inventory {
            shard,
            resolver,
            configured: Mutex::new(None),
            revocation,
            caches,
            apply,
            state: Mutex::new(Sources {
                main,
                files: Files::new(),
            }),
            file_report: Arc::default(),
        });
        inventory.refresh(true);
        inventory
    }

    /// The resolver for a configuration naming `servers`: the one given at start when none,
    /// else one asking them, the same one (and cache) as long as the servers do not change.
    fn resolver_for(&self, servers: &[std::net::SocketAddr]) -> Resolver {
        if servers.is_empty() {
            return self.resolver.clone();
        }
        let mut configured = self.configured.lock().unwrap_or_else(|e| e.into_inner());
        match configured.as_ref() {
            Some((same, resolver)) if same.as_slice() == servers => resolver.clone(),
            _ => {
                let resolver = Resolver::for_config(&self.resolver, servers);
                *configured = Some((servers.to_vec(), resolver.clone()));
                resolver
            }
        }
    }

    /// Puts a newly loaded main configuration in force; target files are read again, as the
    /// defaults they inherit may have changed.
    pub fn apply_main(&self, main: Loaded) {
        self.lock().main = main;
        self.refresh(true);
    }

    /// Polls the target files until `stop`, applying any change.
    pub async fn watch(self: Arc<Inventory>, stop: CancellationToken) {
        loop {
            let every = self
                .lock()
                .main
                .config
                .target_files
                .as_ref()
                .map_or(IDLE_POLL, |spec| spec.refresh);
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
            // Globbing and reading are blocking file-system work.
            let me = self.clone();
            let _ = tokio::task::spawn_blocking(move || me.refresh(false)).await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Sources> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Re-reads changed target files (all with `force`) and applies the combined list when
    /// anything changed (always with `force`).
    fn refresh(&self, force: bool) {
        let mut sources = self.lock();
        let Sources { main, files } = &mut *sources;
        let changed = match &main.config.target_files {
            Some(spec) => {
                let main_names: HashSet<&str> = main
                    .config
                    .targets
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect();
                let owner = |name: &str| {
                    main_names
                        .contains(name)
                        .then(|| "the main configuration".to_string())
                };
                files::refresh(spec, files, force, &owner)
            }
            None => {
                let had = !files.is_empty();
                files.clear();
                had
            }
        };
        if changed || force {
            self.apply(&mut sources);
        }
    }

    /// Hands the combined, sharded list and its prober to [`ApplyFn`].
    fn apply(&self, sources: &mut Sources) {
        let Sources { main, files } = sources;
        let mut trust = main.trust.clone();
        let mut names: HashSet<String> =
            main.config.targets.iter().map(|t| t.name.clone()).collect();
        let mut targets = main.config.targets.clone();
        for (path, state) in files.iter_mut() {
            // Kept targets of a rejected file may clash with a name the main file took since.
            if let Some(clash) = state
                .targets
                .iter()
                .find(|t| names.contains(&t.target.name))
            {
                state.error.get_or_insert_with(|| {
                    format!(
                        "{}: {}: name: {:?} is already a target elsewhere",
                        path.display(),
                        clash.at,
                        clash.target.name
                    )
                });
                continue;
            }
            names.extend(state.targets.iter().map(|t| t.target.name.clone()));
            targets.extend(state.targets.iter().map(|t| t.target.clone()));
            trust.extend(&state.trust);
        }
        let all = targets.len();
        targets.retain(|t| self.shard.owns(&t.name));
        let config = Config {
            targets,
            ..main.config.clone()
        };
        let prober = Arc::new(
            Prober::new(self.resolver_for(&main.config.name_servers), trust)
                .with_revocation(self.revocation.clone())
                .with_caches(self.caches.clone()),
        );
        (self.apply)(&config, prober);
        self.file_report
            .set(files.iter().map(|(path, state)| TargetFileLoad {
                file: path.display().to_string(),
                loaded: state.error.is_none(),
                targets: state.targets.len(),
            }));
        tracing::debug!(targets = all, in_shard = config.targets.len(), shard = %self.shard, "targets applied");
    }
}
