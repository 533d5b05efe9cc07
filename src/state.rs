//! The latest snapshot of every target: written by the scheduler after each probe, read by the
//! collector at scrape time. Probes never wait for scrapes: a snapshot is swapped in whole, and a
//! scrape clones the `Arc`s it needs under a short read lock.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};

use tokio::time::Instant;

use crate::config::Target;
use crate::probe::ProbeResult;

/// What is known about one target: its configuration and the results of its last probe
/// (one per address or file; usually exactly one).
#[derive(Debug)]
pub struct Snapshot {
    pub target: Arc<Target>,
    pub results: Vec<ProbeResult>,
}

/// All snapshots, keyed by target name (so `/metrics` is sorted and stable).
#[derive(Debug, Default)]
pub struct State {
    snapshots: RwLock<BTreeMap<String, Arc<Snapshot>>>,
    /// What `/-/ready` answers from.
    readiness: Mutex<Startup>,
}

/// Which targets the exporter still waits for before it is ready. Kept as counts beside the
/// map, so that a result or a `/-/ready` costs the same with a hundred thousand targets pending
/// as with ten (counting the map at every result made the first round quadratic).
#[derive(Debug, Default)]
struct Startup {
    /// Set once every target had its first result; never cleared (see [`State::readiness`]).
    ready: bool,
    /// Targets without a first result: `None` while the first probe waits for its slot, then
    /// the moment its timeout passes.
    pending: HashMap<String, Option<Instant>>,
    /// How many of `pending` wait for their slot (`None`).
    unstarted: usize,
    /// The timeouts of started first probes that are still ahead (how many end at each moment);
    /// those at or before `passed` are no longer here.
    running: BTreeMap<Instant, usize>,
    /// The sum of `running`.
    running_count: usize,
    /// Every timeout up to this moment has been let go from `running`.
    passed: Option<Instant>,
}

impl Startup {
    /// Targets still waiting at `now`; latches readiness when there are none.
    fn waiting(&mut self, now: Instant) -> usize {
        if self.ready {
            return 0;
        }
        while let Some((&deadline, &count)) = self.running.first_key_value() {
            if deadline > now {
                break;
            }
            self.running.pop_first();
            self.running_count -= count;
        }
        self.passed = Some(self.passed.map_or(now, |p| p.max(now)));
        let waiting = self.unstarted + self.running_count;
        if waiting == 0 {
            self.ready = true;
            // Freed, not cleared: a cleared map keeps its table (tens of bytes per target).
            self.pending = HashMap::new();
            self.running = BTreeMap::new();
        }
        waiting
    }

    /// Whether a first probe with this timeout is still counted in `running`.
    fn counted(&self, deadline: Instant) -> bool {
        self.passed.is_none_or(|p| deadline > p)
    }

    /// Takes an entry that left `pending` (or was replaced) out of the counts.
    fn forget(&mut self, entry: Option<Instant>) {
        match entry {
            None => self.unstarted -= 1,
            Some(deadline) if self.counted(deadline) => {
                if let Some(count) = self.running.get_mut(&deadline) {
                    *count -= 1;
                    if *count == 0 {
                        self.running.remove(&deadline);
                    }
                    self.running_count -= 1;
                }
            }
            Some(_) => {}
        }
    }

    /// `name` has its first result, or is gone; true when it was pending.
    fn remove(&mut self, name: &str) -> bool {
        match self.pending.remove(name) {
            Some(entry) => {
                self.forget(entry);
                true
            }
            None => false,
        }
    }

    /// `name` waits for its first probe.
    fn add(&mut self, name: String) {
        if let Some(old) = self.pending.insert(name, None) {
            self.forget(old);
        }
        self.unstarted += 1;
    }

    /// The first probe of `name` started and ends by `deadline`.
    fn start(&mut self, name: &str, deadline: Instant) {
        let Some(entry) = self.pending.get_mut(name) else {
            return;
        };
        let old = entry.replace(deadline);
        self.forget(old);
        if self.counted(deadline) {
            *self.running.entry(deadline).or_default() += 1;
            self.running_count += 1;
        }
    }
}

/// What `/-/ready` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    /// Every target had its first result (or its first probe ran out of time) at least once.
    Ready,
    /// This many targets have neither a first result nor a first probe past its timeout.
    Waiting(usize),
}

impl State {
    pub fn new() -> State {
        State::default()
    }

    /// Records the results of a probe of `target`.
    pub fn store(&self, target: Arc<Target>, results: Vec<ProbeResult>) {
        let name = target.name.clone();
        {
            let mut startup = self.startup();
            if startup.remove(&name) {
                startup.waiting(Instant::now());
            }
        }
        self.snapshots
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name, Arc::new(Snapshot { target, results }));
    }

    /// Applies a change of the target list at once: the `removed` targets are forgotten (their
    /// series disappear from the next scrape) and the `added` ones (a name may be in both, for a
    /// target whose settings changed) wait for their first probe. One step, so that readiness is
    /// never judged on a list with the removed targets gone and the added ones not there yet.
    pub fn retarget(&self, removed: &[String], added: &[String]) {
        {
            let mut startup = self.startup();
            for name in removed {
                startup.remove(name);
            }
            // Once ready, an exporter stays ready: see `readiness`.
            if !startup.ready {
                for name in added {
                    startup.add(name.clone());
                }
            }
        }
        let mut snapshots = self.snapshots.write().unwrap_or_else(|e| e.into_inner());
        for name in removed {
            snapshots.remove(name);
        }
    }

    /// Notes that the first probe of `name` has started and will have a result by `deadline`
    /// (its longest possible duration): after that, it no longer holds readiness back.
    pub fn first_probe_started(&self, name: &str, deadline: Instant) {
        self.startup().start(name, deadline);
    }

    /// Ready once every target has had its first result, or its first probe has run out of
    /// time; targets whose first probe still waits for a slot of the concurrency limit hold it
    /// back. Once ready, the exporter stays ready: targets added by a reload or a target file are
    /// probed at once but do not take a serving exporter out of rotation.
    pub fn readiness(&self) -> Readiness {
        match self.startup().waiting(Instant::now()) {
            0 => Readiness::Ready,
            n => Readiness::Waiting(n),
        }
    }

    fn startup(&self) -> std::sync::MutexGuard<'_, Startup> {
        self.readiness.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current snapshots, in target-name order.
    pub fn snapshots(&self) -> Vec<Arc<Snapshot>> {
        self.snapshots
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// The snapshot of one target.
    pub fn get(&self, name: &str) -> Option<Arc<Snapshot>> {
        self.snapshots
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn target(name: &str) -> Arc<Target> {
        let config = crate::config::Config::parse(&format!(
            "targets:\n  - name: {name}\n    address: 127.0.0.1:1\n"
        ))
        .expect("config");
        config.targets[0].clone()
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn ready_once_every_target_has_a_result_or_ran_out_of_time() {
        let state = State::new();
        state.retarget(&[], &names(&["a", "b", "c"]));
        assert_eq!(state.readiness(), Readiness::Waiting(3));
        state.store(target("a"), Vec::new());
        assert_eq!(state.readiness(), Readiness::Waiting(2));
        // b's first probe started and its timeout has passed; c still waits for a slot.
        state.first_probe_started("b", Instant::now() - Duration::from_millis(1));
        assert_eq!(state.readiness(), Readiness::Waiting(1));
        // A first probe that started but has time left still counts.
        state.first_probe_started("c", Instant::now() + Duration::from_secs(3600));
        assert_eq!(state.readiness(), Readiness::Waiting(1));
        state.store(target("c"), Vec::new());
        assert_eq!(state.readiness(), Readiness::Ready);
    }

    #[test]
    fn stays_ready_when_a_reload_adds_targets() {
        let state = State::new();
        state.retarget(&[], &names(&["a"]));
        state.store(target("a"), Vec::new());
        assert_eq!(state.readiness(), Readiness::Ready);
        state.retarget(&names(&["a"]), &names(&["a", "b"]));
        assert_eq!(state.readiness(), Readiness::Ready);
        assert!(state.get("a").is_none(), "a changed: its old series go");
    }

    #[test]
    fn before_ready_a_reload_swaps_the_pending_targets() {
        let state = State::new();
        state.retarget(&[], &names(&["a", "b"]));
        // a changed (removed and added again), b removed, c added: all in one step.
        state.retarget(&names(&["a", "b"]), &names(&["a", "c"]));
        assert_eq!(state.readiness(), Readiness::Waiting(2));
        state.store(target("a"), Vec::new());
        state.store(target("c"), Vec::new());
        assert_eq!(state.readiness(), Readiness::Ready);
    }

    /// The counts against counting the map, as readiness was first judged, over a random run
    /// of adds, starts (timeouts behind and ahead of the clock), results and removals.
    #[test]
    fn counts_agree_with_counting_the_map() {
        let base = Instant::now();
        let at = |ms: u64| base + Duration::from_millis(ms);
        let mut rng = fastrand::Rng::with_seed(13);
        for _run in 0..50 {
            let mut startup = Startup::default();
            let mut model: HashMap<String, Option<Instant>> = HashMap::new();
            for i in 0..20 {
                startup.add(format!("t{i}"));
                model.insert(format!("t{i}"), None);
            }
            let mut clock = 0u64;
            let mut steps_before_ready = 0;
            for _step in 0..400 {
                let name = format!("t{}", rng.u8(..20));
                match rng.u8(..4) {
                    0 => {
                        if !startup.ready {
                            startup.add(name.clone());
                            model.insert(name, None);
                        }
                    }
                    1 => {
                        // Some timeouts are already behind the clock when the probe starts.
                        let deadline = at((clock + rng.u64(..40)).saturating_sub(10));
                        startup.start(&name, deadline);
                        if let Some(entry) = model.get_mut(&name) {
                            *entry = Some(deadline);
                        }
                    }
                    _ => {
                        assert_eq!(startup.remove(&name), model.remove(&name).is_some());
                    }
                }
                clock += rng.u64(..5);
                let now = at(clock);
                let expected = if startup.ready {
                    0
                } else {
                    model.values().filter(|d| d.is_none_or(|d| d > now)).count()
                };
                assert_eq!(startup.waiting(now), expected, "at {clock} ms");
                if startup.ready {
                    model.clear();
                } else {
                    steps_before_ready += 1;
                }
            }
            assert!(
                steps_before_ready > 10,
                "the run judged readiness a few times at least"
            );
        }
    }

    #[test]
    fn no_targets_is_ready() {
        assert_eq!(State::new().readiness(), Readiness::Ready);
    }
}
