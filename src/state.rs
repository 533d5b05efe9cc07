//! The latest snapshot of every target: written by the scheduler after each probe, read by the
//! collector at scrape time. Probes never wait for scrapes: a snapshot is swapped in whole, and a
//! scrape clones the `Arc`s it needs under a short read lock.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

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
    /// Targets not yet probed once, with the moment their first probe's timeout passes.
    first_deadlines: RwLock<HashMap<String, Instant>>,
}

impl State {
    pub fn new() -> State {
        State::default()
    }

    /// Records the results of a probe of `target`.
    pub fn store(&self, target: Arc<Target>, results: Vec<ProbeResult>) {
        let name = target.name.clone();
        self.first_deadlines
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&name);
        self.snapshots
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name, Arc::new(Snapshot { target, results }));
    }

    /// Forgets a target: its series disappear from the next scrape.
    pub fn remove(&self, name: &str) {
        self.snapshots
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
        self.first_deadlines
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
    }

    /// Notes that `name` will have been probed (or timed out) by `deadline`, for readiness.
    pub fn expect(&self, name: &str, deadline: Instant) {
        self.first_deadlines
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_string(), deadline);
    }

    /// Ready once every target has been probed once or its first probe's timeout has passed.
    pub fn is_ready(&self) -> bool {
        let now = Instant::now();
        self.first_deadlines
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .all(|deadline| *deadline <= now)
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
