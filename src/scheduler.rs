//! Runs every target's probe at its interval, within a global concurrency limit.
//!
//! One task keeps a queue of when each target is due, ordered by time; when the earliest is due
//! it takes a permit of the [`Semaphore`] that caps the probes in flight and starts that probe
//! as a task of its own, so a slow or dead target only ever delays itself, and holds its permit
//! for at most its timeout. An idle target is an entry in the queue and one in the map of
//! targets (about a hundred bytes), not a task with its timer: a hundred thousand targets stay
//! cheap. A new target (at start, or added by a reload or a target file) is probed at once, so
//! that `/metrics` is complete within one timeout of a start rather than one interval; the
//! semaphore turns that burst into at most `concurrency` probes at a time, started in the order
//! the targets were added. After its first probe a target moves to its own slot in the interval
//! (a stable hash of its name), so later probes are spread evenly instead of every target coming
//! back at start + interval. [`Scheduler::apply`] reconciles the targets with a new
//! configuration: unchanged targets keep running (and keep their state), changed ones restart,
//! removed ones stop (a probe in flight is cancelled and never stored) and lose their series.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};
use tokio::task::{AbortHandle, JoinHandle};
use tokio::time::Instant;

use crate::config::{Config, Target};
use crate::metrics::ExporterMetrics;
use crate::probe::Prober;
use crate::state::State;

/// The scheduled targets.
#[derive(Debug)]
pub struct Scheduler {
    shared: Arc<Shared>,
}

/// What the queue's task, the probes and [`Scheduler::apply`] share.
#[derive(Debug)]
struct Shared {
    state: Arc<State>,
    metrics: Arc<ExporterMetrics>,
    permits: Arc<Semaphore>,
    /// Where every target's slot in its interval is counted from.
    origin: Instant,
    /// Told when the queue gets an entry that may be due earlier than the one waited for.
    wake: Notify,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    concurrency: usize,
    targets: HashMap<String, Entry>,
    /// When each target that is not being probed is due next; every target is either here or
    /// being probed, never both.
    queue: BinaryHeap<Reverse<Due>>,
    /// Numbers entries (targets and queue entries) so that a removed target's leftovers are
    /// told from a new target of the same name, and equal times keep the order of insertion.
    counter: u64,
    /// The queue's task, started by the first [`Scheduler::apply`].
    runner: Option<JoinHandle<()>>,
    stopped: bool,
}

/// One scheduled target.
#[derive(Debug)]
struct Entry {
    target: Arc<Target>,
    /// The prober it was added with (a reload that keeps a target keeps its probe as it was).
    prober: Arc<Prober>,
    /// Tells this target from an earlier or later one of the same name.
    generation: u64,
    /// The probe in flight, if any.
    probe: Option<AbortHandle>,
}

impl Drop for Entry {
    fn drop(&mut self) {
        if let Some(probe) = &self.probe {
            probe.abort();
        }
    }
}

/// A queue entry: `target` (of `generation`) is due at `at`.
#[derive(Debug)]
struct Due {
    at: Instant,
    /// Ties at one moment go in the order the entries were queued.
    seq: u64,
    generation: u64,
    first: bool,
    target: Arc<Target>,
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Due {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

impl Inner {
    fn next_number(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    fn push(&mut self, at: Instant, generation: u64, first: bool, target: Arc<Target>) {
        let seq = self.next_number();
        self.queue.push(Reverse(Due {
            at,
            seq,
            generation,
            first,
            target,
        }));
    }

    /// Whether `name` is still the target of `generation`.
    fn current(&self, name: &str, generation: u64) -> Option<&Entry> {
        self.targets
            .get(name)
            .filter(|entry| entry.generation == generation)
    }
}

impl Scheduler {
    pub fn new(state: Arc<State>, metrics: Arc<ExporterMetrics>) -> Scheduler {
        Scheduler {
            shared: Arc::new(Shared {
                state,
                metrics,
                permits: Arc::new(Semaphore::new(0)),
                origin: Instant::now(),
                wake: Notify::new(),
                inner: Mutex::new(Inner::default()),
            }),
        }
    }

    /// The permits that bound probes in flight, shared with on-demand probes.
    pub fn permits(&self) -> Arc<Semaphore> {
        self.shared.permits.clone()
    }

    /// Makes the scheduled targets match `config`; must be called within a tokio runtime.
    pub fn apply(&self, config: &Config, prober: Arc<Prober>) {
        let shared = &self.shared;
        let mut inner = shared.lock();
        if inner.stopped {
            return;
        }
        shared.resize(&mut inner, config.concurrency);

        let wanted: HashMap<&str, &Arc<Target>> = config
            .targets
            .iter()
            .map(|t| (t.name.as_str(), t))
            .collect();
        let stale: Vec<String> = inner
            .targets
            .iter()
            .filter(|(name, entry)| wanted.get(name.as_str()) != Some(&&entry.target))
            .map(|(name, _)| name.clone())
            .collect();
        for name in &stale {
            // Cancels its probe in flight; its queue entry is passed over when it comes up.
            inner.targets.remove(name);
        }
        let added: Vec<String> = config
            .targets
            .iter()
            .filter(|t| !inner.targets.contains_key(&t.name))
            .map(|t| t.name.clone())
            .collect();
        // Before any new target is probed (a probe stores under this lock, too), so that its
        // first result cannot precede its pending entry.
        shared.state.retarget(&stale, &added);
        let now = Instant::now();
        for target in &config.targets {
            if inner.targets.contains_key(&target.name) {
                continue;
            }
            let generation = inner.next_number();
            inner.targets.insert(
                target.name.clone(),
                Entry {
                    target: target.clone(),
                    prober: prober.clone(),
                    generation,
                    probe: None,
                },
            );
            inner.push(now, generation, true, target.clone());
        }
        // Leftovers of removed targets would otherwise wait in the queue until they come up.
        if !stale.is_empty() {
            let queue = std::mem::take(&mut inner.queue);
            let kept: BinaryHeap<_> = queue
                .into_iter()
                .filter(|Reverse(due)| inner.current(&due.target.name, due.generation).is_some())
                .collect();
            inner.queue = kept;
        }
        shared.metrics.targets.set(inner.targets.len() as i64);
        if inner.runner.is_none() {
            inner.runner = Some(tokio::spawn(run_queue(shared.clone())));
        }
        drop(inner);
        shared.wake.notify_one();
    }

    /// Stops every probe and the queue (on shutdown).
    pub fn stop(&self) {
        let mut inner = self.shared.lock();
        inner.stopped = true;
        inner.targets.clear();
        inner.queue.clear();
        if let Some(runner) = inner.runner.take() {
            runner.abort();
        }
        self.shared.permits.close();
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
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

/// The queue's task: waits until the earliest entry is due, takes a permit, and starts that
/// target's probe; forever, until the scheduler stops.
async fn run_queue(shared: Arc<Shared>) {
    loop {
        let earliest = shared.lock().queue.peek().map(|Reverse(due)| due.at);
        match earliest {
            None => shared.wake.notified().await,
            Some(at) if at > Instant::now() => {
                tokio::select! {
                    _ = tokio::time::sleep_until(at) => {}
                    _ = shared.wake.notified() => {}
                }
            }
            Some(_) => {
                // Waits for a slot of the concurrency limit; whatever is earliest once it is
                // free goes next (a reload may have queued an earlier target meanwhile).
                let Ok(permit) = shared.permits.clone().acquire_owned().await else {
                    return; // the scheduler is shutting down
                };
                let mut inner = shared.lock();
                // The entry waited for may have been dropped by a reload meanwhile.
                if inner
                    .queue
                    .peek()
                    .is_none_or(|Reverse(due)| due.at > Instant::now())
                {
                    continue;
                }
                let Some(Reverse(due)) = inner.queue.pop() else {
                    continue;
                };
                let Some(entry) = inner.current(&due.target.name, due.generation) else {
                    continue; // removed or changed since it was queued
                };
                let prober = entry.prober.clone();
                let name = due.target.name.clone();
                // The probe stores its result under this lock, so it cannot end before its
                // handle is noted here.
                let probe = tokio::spawn(run_probe(shared.clone(), prober, due, permit));
                if let Some(entry) = inner.targets.get_mut(&name) {
                    entry.probe = Some(probe.abort_handle());
                }
            }
        }
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
        .iter()
        .find(|(p, _)| *p == crate::probe::Phase::Total)
        .map(|(_, d)| d.as_secs_f64())
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

/// One probe of `due.target`, with its permit: stores the result and queues the next probe (at
/// once, then at its slot at least half an interval later, so the second probe comes between
/// half an interval and one and a half after the first, then every interval), unless the target
/// was removed or changed meanwhile.
async fn run_probe(
    shared: Arc<Shared>,
    prober: Arc<Prober>,
    due: Due,
    permit: tokio::sync::OwnedSemaphorePermit,
) {
    let target = due.target;
    let started = Instant::now();
    if due.first {
        // Readiness waits for this probe's result, or at most until its timeout passes.
        shared
            .state
            .first_probe_started(&target.name, later(started, target.longest_probe()));
    }
    let results = prober.probe_all(&target).await;
    drop(permit);
    for result in &results {
        shared.metrics.record_probe(&target, result);
        log_probe(&target, result);
    }
    let next = if due.first {
        // Off the start burst and onto this target's own slot in the interval.
        next_slot(
            shared.origin,
            target.interval,
            phase(&target.name),
            later(started, target.interval / 2),
        )
    } else {
        // Keep the cadence from the scheduled start; after a stall, start again from now
        // rather than firing the missed probes in a burst.
        later(due.at, target.interval)
    };
    let next = next.max(Instant::now());
    let mut inner = shared.lock();
    match inner.targets.get_mut(&target.name) {
        Some(entry) if entry.generation == due.generation => entry.probe = None,
        _ => return, // removed or changed: its series are gone and stay gone
    }
    shared.state.store(target.clone(), results);
    inner.push(next, due.generation, false, target);
    drop(inner);
    shared.wake.notify_one();
}

#[cfg(test)]
mod tests {
    use super::*;

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
