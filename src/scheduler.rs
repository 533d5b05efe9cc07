//! Runs every target's probe at its interval, within a global concurrency limit.
//!
//! Each target has its own task, so a slow or dead target only ever delays itself; a
//! [`Semaphore`] caps the probes in flight, and a dead target holds its permit for at most its
//! timeout. First probes are spread at random over the first interval so that a restart does
//! not send every handshake at once. [`Scheduler::apply`] reconciles the running tasks with a
//! new configuration: unchanged targets keep running (and keep their state), changed ones
//! restart, removed ones stop and lose their series.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::config::{Config, Target};
use crate::metrics::ExporterMetrics;
use crate::probe::Prober;
use crate::state::State;

/// The running probe tasks.
#[derive(Debug)]
pub struct Scheduler {
    state: Arc<State>,
    metrics: Arc<ExporterMetrics>,
    permits: Arc<Semaphore>,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    concurrency: usize,
    tasks: HashMap<String, Running>,
}

#[derive(Debug)]
struct Running {
    target: Arc<Target>,
    handle: JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

impl Scheduler {
    pub fn new(state: Arc<State>, metrics: Arc<ExporterMetrics>) -> Scheduler {
        Scheduler {
            state,
            metrics,
            permits: Arc::new(Semaphore::new(0)),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// The permits that bound probes in flight, shared with on-demand probes.
    pub fn permits(&self) -> Arc<Semaphore> {
        self.permits.clone()
    }

    /// Makes the running tasks match `config`; must be called within a tokio runtime.
    pub fn apply(&self, config: &Config, prober: Arc<Prober>) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        self.resize(&mut inner, config.concurrency);

        let wanted: HashMap<&str, &Arc<Target>> = config
            .targets
            .iter()
            .map(|t| (t.name.as_str(), t))
            .collect();
        let stale: Vec<String> = inner
            .tasks
            .iter()
            .filter(|(name, running)| wanted.get(name.as_str()) != Some(&&running.target))
            .map(|(name, _)| name.clone())
            .collect();
        for name in stale {
            inner.tasks.remove(&name);
            self.state.remove(&name);
        }
        for target in &config.targets {
            if inner.tasks.contains_key(&target.name) {
                continue;
            }
            let first_delay = spread(target.interval);
            self.state.expect(
                &target.name,
                Instant::now() + first_delay + target.longest_probe(),
            );
            let handle = tokio::spawn(run_target(
                target.clone(),
                prober.clone(),
                self.state.clone(),
                self.metrics.clone(),
                self.permits.clone(),
                first_delay,
            ));
            inner.tasks.insert(
                target.name.clone(),
                Running {
                    target: target.clone(),
                    handle,
                },
            );
        }
        self.metrics.targets.set(inner.tasks.len() as i64);
    }

    /// Stops every task (on shutdown).
    pub fn stop(&self) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.tasks.clear();
        self.permits.close();
    }

    /// Adjusts the permits to a new concurrency limit.
    fn resize(&self, inner: &mut Inner, concurrency: usize) {
        if concurrency > inner.concurrency {
            self.permits.add_permits(concurrency - inner.concurrency);
        } else if concurrency < inner.concurrency {
            // Permits held by running probes come back later and are then forgotten as well.
            let excess = inner.concurrency - concurrency;
            let forgotten = self.permits.forget_permits(excess);
            if forgotten < excess {
                let permits = self.permits.clone();
                let rest = (excess - forgotten) as u32;
                tokio::spawn(async move {
                    if let Ok(p) = permits.acquire_many(rest).await {
                        p.forget();
                    }
                });
            }
        }
        inner.concurrency = concurrency;
    }
}

/// A random delay in `[0, interval)`, capped at ten minutes so very long intervals still
/// produce data soon after start.
fn spread(interval: Duration) -> Duration {
    let span = interval.min(Duration::from_secs(600));
    span.mul_f64(fastrand::f64())
}

/// One line per failed probe at warn, one per probe at debug.
fn log_probe(target: &Target, result: &crate::probe::ProbeResult) {
    let total = result
        .phases
        .iter()
        .find(|(p, _)| *p == crate::probe::Phase::Total)
        .map(|(_, d)| d.as_secs_f64())
        .unwrap_or_default();
    let instance = result
        .instance
        .as_ref()
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    let chain_errors: Vec<&str> = result
        .chain
        .as_ref()
        .map(|c| c.errors.iter().map(|e| e.as_str()).collect())
        .unwrap_or_default();
    // webpki's (and the parsers') words for an invalid chain, e.g. for `invalid`.
    let chain_detail = result
        .chain
        .as_ref()
        .filter(|c| !c.is_valid())
        .and_then(|c| c.detail.as_deref())
        .unwrap_or("");
    match &result.failure {
        Some(failure) => tracing::warn!(
            target_name = %target.name,
            instance,
            reason = failure.reason,
            error = %failure.detail,
            duration_seconds = total,
            "probe failed"
        ),
        None => tracing::debug!(
            target_name = %target.name,
            instance,
            chain_errors = ?chain_errors,
            chain_detail,
            duration_seconds = total,
            "probe finished"
        ),
    }
}

/// Probes one target forever at its interval.
async fn run_target(
    target: Arc<Target>,
    prober: Arc<Prober>,
    state: Arc<State>,
    metrics: Arc<ExporterMetrics>,
    permits: Arc<Semaphore>,
    first_delay: Duration,
) {
    let mut next = Instant::now() + first_delay;
    loop {
        tokio::time::sleep_until(next).await;
        let Ok(permit) = permits.acquire().await else {
            return; // the scheduler is shutting down
        };
        // Boxed, so that an idle target's task is a few hundred bytes rather than the size of
        // the largest probe state machine: ten thousand waiting tasks stay cheap.
        let results = Box::pin(prober.probe_all(&target)).await;
        drop(permit);
        for result in &results {
            metrics.record_probe(&target, result);
            log_probe(&target, result);
        }
        state.store(target.clone(), results);
        // Keep the cadence from the scheduled start; after a stall, start again from now
        // rather than firing the missed probes in a burst.
        next += target.interval;
        let now = Instant::now();
        if next < now {
            next = now;
        }
    }
}
