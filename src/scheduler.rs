//! Runs every target's probe at its interval, within a global concurrency limit.
//!
//! Each target has its own task, so a slow or dead target only ever delays itself; a
//! [`Semaphore`] caps the probes in flight, and a dead target holds its permit for at most its
//! timeout. A new target (at start, or added by a reload or a target file) is probed at once, so
//! that `/metrics` is complete within one timeout of a start rather than one interval; the
//! semaphore turns that burst into at most `concurrency` probes at a time. After its first probe a
//! target moves to its own slot in the interval (a stable hash of its name), so later probes are
//! spread evenly instead of every target coming back at start + interval. [`Scheduler::apply`]
//! reconciles the running tasks with a new configuration: unchanged targets keep running (and
//! keep their state), changed ones restart, removed ones stop and lose their series.

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
    /// Where every target's slot in its interval is counted from.
    origin: Instant,
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
            origin: Instant::now(),
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
        for name in &stale {
            inner.tasks.remove(name);
        }
        let added: Vec<String> = config
            .targets
            .iter()
            .filter(|t| !inner.tasks.contains_key(&t.name))
            .map(|t| t.name.clone())
            .collect();
        // Before any new task runs, so that its first result cannot precede its pending entry.
        self.state.retarget(&stale, &added);
        for target in &config.targets {
            if inner.tasks.contains_key(&target.name) {
                continue;
            }
            let handle = tokio::spawn(run_target(
                target.clone(),
                prober.clone(),
                self.state.clone(),
                self.metrics.clone(),
                self.permits.clone(),
                self.origin,
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

/// Where in its interval `name` is probed, as a fraction in `[0, 1)`: a stable hash of the name
/// (FNV-1a, then a 64-bit finaliser so that names differing in one character land far apart), so
/// a target keeps its slot across reloads and the slots of many targets are spread evenly.
fn phase(name: &str) -> f64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    // splitmix64's finaliser.
    hash ^= hash >> 30;
    hash = hash.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash ^= hash >> 27;
    hash = hash.wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^= hash >> 31;
    (hash >> 11) as f64 / (1u64 << 53) as f64
}

/// The first moment at or after `earliest` that is `phase` of the way into an interval counted
/// from `origin`: the second probe of a target, which from then on keeps that cadence.
fn next_slot(origin: Instant, interval: Duration, phase: f64, earliest: Instant) -> Instant {
    let period = interval.as_nanos();
    if period == 0 {
        return earliest;
    }
    let offset = interval.mul_f64(phase.clamp(0.0, 1.0)).as_nanos() % period;
    let since = earliest.saturating_duration_since(origin).as_nanos();
    let at = if since <= offset {
        offset
    } else {
        offset + (since - offset).div_ceil(period) * period
    };
    u64::try_from(at)
        .ok()
        .and_then(|nanos| origin.checked_add(Duration::from_nanos(nanos)))
        .unwrap_or_else(|| later(earliest, interval))
}

/// One line per failed probe at warn, one per probe at debug.
fn log_probe(target: &Target, result: &crate::probe::ProbeResult) {
    let total = result
        .phases
        .get(crate::probe::Phase::Total)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default();
    let instance = result.instance.as_ref().map(|i| i.value()).unwrap_or("");
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
            reason = failure.reason.as_str(),
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

/// `at + by`, or a moment about a century on when that is past what an `Instant` holds (an
/// interval of a million years is valid configuration and must not panic).
fn later(at: Instant, by: Duration) -> Instant {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 86_400);
    at.checked_add(by)
        .or_else(|| at.checked_add(CENTURY))
        .unwrap_or(at)
}

/// Probes one target forever: at once, then at its slot at least half an interval later (so the
/// second probe comes between half an interval and one and a half after the first), then every
/// interval.
async fn run_target(
    target: Arc<Target>,
    prober: Arc<Prober>,
    state: Arc<State>,
    metrics: Arc<ExporterMetrics>,
    permits: Arc<Semaphore>,
    origin: Instant,
) {
    if let crate::config::TargetKind::Kubernetes(_) = target.kind {
        // Watched, not polled: every change is stored as its watch event arrives.
        state.first_probe_started(&target.name, later(Instant::now(), target.longest_probe()));
        let publish = |results| state.store(target.clone(), results);
        // Boxed like the probe below: unboxed, the watch's state machine (kilobytes) would be
        // part of every target's task, polled or watched (2.7 KB per task at 10,000 targets).
        Box::pin(prober.watch_kubernetes(&target, &publish)).await;
        return;
    }
    let mut next = Instant::now();
    let mut first = true;
    loop {
        tokio::time::sleep_until(next).await;
        let Ok(permit) = permits.acquire().await else {
            return; // the scheduler is shutting down
        };
        let started = Instant::now();
        if first {
            // Readiness waits for this probe's result, or at most until its timeout passes.
            state.first_probe_started(&target.name, later(started, target.longest_probe()));
        }
        // Boxed, so that an idle target's task is a few hundred bytes rather than the size of
        // the largest probe state machine: ten thousand waiting tasks stay cheap.
        let results = Box::pin(prober.probe_all(&target)).await;
        drop(permit);
        for result in &results {
            metrics.record_probe(&target, result);
            log_probe(&target, result);
        }
        state.store(target.clone(), results);
        if first {
            // Off the start burst and onto this target's own slot in the interval.
            first = false;
            next = next_slot(
                origin,
                target.interval,
                phase(&target.name),
                later(started, target.interval / 2),
            );
        } else {
            // Keep the cadence from the scheduled start; after a stall, start again from now
            // rather than firing the missed probes in a burst.
            next = later(next, target.interval);
        }
        let now = Instant::now();
        if next < now {
            next = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What every target's task holds between probes, which a hundred thousand targets pay
    /// a hundred thousand times: the probe and the Kubernetes watch are boxed, so the task is
    /// its loop's own few variables, not the largest state machine under it. Printed, so the
    /// figure is on record (`cargo test --lib scheduler::tests -- --nocapture`).
    #[test]
    fn an_idle_target_task_is_small() {
        let config = Config::parse("targets:\n  - address: 127.0.0.1:443\n").unwrap();
        let trust = crate::x509::TrustStores::load(std::iter::empty()).unwrap();
        let resolver = crate::probe::Resolver::with_name_servers(&[]);
        let task = run_target(
            config.targets[0].clone(),
            Arc::new(Prober::new(resolver, trust)),
            Arc::new(State::default()),
            Arc::new(ExporterMetrics::default()),
            Arc::new(Semaphore::new(1)),
            Instant::now(),
        );
        let size = std::mem::size_of_val(&task);
        println!("run_target future: {size} bytes");
        // 2.7 KB with the watch unboxed, 10,000 tasks 27 MB (docs/performance.md §7).
        assert!(size <= 512, "a target's task holds {size} bytes");
    }

    #[test]
    fn phases_are_stable_and_even() {
        assert_eq!(phase("shop"), phase("shop"));
        assert_ne!(phase("t1"), phase("t2"));
        // Names as an inventory generates them: ten equal buckets get about a tenth each.
        let mut buckets = [0usize; 10];
        for i in 0..2000 {
            let p = phase(&format!("t{i}"));
            assert!((0.0..1.0).contains(&p), "{p}");
            buckets[(p * 10.0) as usize] += 1;
        }
        for (i, n) in buckets.iter().enumerate() {
            assert!(
                (140..=260).contains(n),
                "bucket {i} holds {n} of 2000: {buckets:?}"
            );
        }
    }

    #[test]
    fn the_second_probe_is_at_the_slot_half_an_interval_on_or_later() {
        let origin = Instant::now();
        let interval = Duration::from_secs(100);
        let at = |earliest_s: u64, phase: f64| {
            next_slot(
                origin,
                interval,
                phase,
                origin + Duration::from_secs(earliest_s),
            )
            .duration_since(origin)
            .as_secs_f64()
        };
        // Probed at once at 0, earliest next at 50 s: slot 30 s is in the next interval.
        assert_eq!(at(50, 0.3), 130.0);
        assert_eq!(at(50, 0.7), 70.0);
        assert_eq!(at(50, 0.5), 50.0);
        assert_eq!(at(50, 0.0), 100.0);
        // Later on (a target added by a reload at 1,000 s, earliest next at 1,050 s).
        assert_eq!(at(1050, 0.3), 1130.0);
        assert_eq!(at(1050, 0.9), 1090.0);
        // Degenerate inputs do not panic.
        let _ = next_slot(origin, Duration::ZERO, 0.5, origin);
        let _ = next_slot(origin, Duration::from_secs(u64::MAX / 4), 0.99, origin);
    }
}
