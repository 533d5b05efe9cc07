//! The answer caches: OCSP answers per (issuer, serial), CRLs per URL and caIssuers
//! certificates per URL, shared by every probe and kept across configuration reloads.
//!
//! Each key has a [`Slot`]: the current value with the moment it stops being fresh, and a
//! refresh lock so that when many targets need the same CRL at once only one download happens
//! and the others wait for it (single flight). An answer is fresh until shortly before its
//! nextUpdate (see [`fresh_until`]); after that the next use refreshes it — conditionally for
//! CRLs. When a refresh fails while the held answer has not yet passed its nextUpdate, the held
//! answer is still used, as it is still authoritative. Slots unused for a day are dropped, so
//! a CRL no target names any more does not stay in memory or in `/metrics`.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

/// How long an answer without a nextUpdate is reused (an OCSP responder leaving it out says
/// newer information is always available; asking every probe would hammer it).
pub const NO_NEXT_UPDATE_TTL: i64 = 3600;
/// The most an answer is refreshed ahead of its nextUpdate.
pub const MAX_REFRESH_AHEAD: i64 = 3600;
/// The least time an answer is reused after it was fetched, so an answer close to its
/// nextUpdate is not fetched again on every probe.
pub const MIN_REUSE: i64 = 60;
/// Slots unused for this long are dropped.
pub const IDLE_EVICTION: i64 = 24 * 3600;

/// Until when (Unix seconds) an answer fetched at `fetched_at` is fresh: a tenth of its
/// thisUpdate–nextUpdate window (at most an hour) before nextUpdate, but at least
/// [`MIN_REUSE`] after the fetch. An answer already past its nextUpdate is never fresh, so
/// every use asks again (a stale CRL is re-requested conditionally at each probe until the CA
/// publishes a new one).
pub fn fresh_until(fetched_at: i64, this_update: i64, next_update: Option<i64>) -> i64 {
    match next_update {
        None => fetched_at + NO_NEXT_UPDATE_TTL,
        Some(next) if next <= fetched_at => fetched_at,
        Some(next) => {
            let ahead = ((next - this_update).max(0) / 10).min(MAX_REFRESH_AHEAD);
            (next - ahead).max(fetched_at + MIN_REUSE).min(next)
        }
    }
}

/// A cached value with its timing.
#[derive(Debug, Clone)]
pub struct Stored<V> {
    pub value: V,
    /// Unix seconds; before this the value is used without asking.
    pub fresh_until: i64,
    /// Unix seconds; until this the value may stand in when a refresh fails (its nextUpdate).
    pub usable_until: Option<i64>,
}

/// One key's entry: its value and the lock that serialises refreshes.
#[derive(Debug)]
pub struct Slot<V> {
    value: Mutex<Option<Stored<V>>>,
    refresh: tokio::sync::Mutex<()>,
    last_used: AtomicI64,
}

impl<V: Clone> Slot<V> {
    fn new(now: i64) -> Slot<V> {
        Slot {
            value: Mutex::new(None),
            refresh: tokio::sync::Mutex::new(()),
            last_used: AtomicI64::new(now),
        }
    }

    /// The value held now, if any.
    pub fn current(&self) -> Option<Stored<V>> {
        self.value.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn store(&self, stored: Stored<V>) {
        *self.value.lock().unwrap_or_else(|e| e.into_inner()) = Some(stored);
    }
}

/// A map of slots.
#[derive(Debug)]
pub struct Cache<K, V> {
    slots: Mutex<HashMap<K, Arc<Slot<V>>>>,
}

impl<K, V> Default for Cache<K, V> {
    fn default() -> Self {
        Cache {
            slots: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash + Clone, V: Clone> Cache<K, V> {
    /// The slot of `key`, made when new (and then idle slots are dropped).
    fn slot(&self, key: &K, now: i64) -> Arc<Slot<V>> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = slots.get(key) {
            slot.last_used.store(now, Ordering::Relaxed);
            return slot.clone();
        }
        slots.retain(|_, slot| now - slot.last_used.load(Ordering::Relaxed) < IDLE_EVICTION);
        let slot = Arc::new(Slot::new(now));
        slots.insert(key.clone(), slot.clone());
        slot
    }

    /// The value for `key`: the held one while fresh, else whatever `refresh` makes of the held
    /// one (it gets the held value, for conditional requests). Only one refresh per key runs at
    /// a time; callers arriving meanwhile wait and then use its result. The caller bounds the
    /// whole lookup with its deadline.
    pub async fn get<E, F, Fut>(&self, key: &K, now: i64, refresh: F) -> Result<V, E>
    where
        F: FnOnce(Option<Stored<V>>) -> Fut,
        Fut: Future<Output = Result<Stored<V>, E>>,
    {
        let slot = self.slot(key, now);
        if let Some(held) = slot.current().filter(|s| s.fresh_until > now) {
            return Ok(held.value);
        }
        let _refreshing = slot.refresh.lock().await;
        let held = slot.current();
        if let Some(held) = held.as_ref().filter(|s| s.fresh_until > now) {
            return Ok(held.value.clone());
        }
        match refresh(held.clone()).await {
            Ok(stored) => {
                let value = stored.value.clone();
                slot.store(stored);
                Ok(value)
            }
            Err(e) => match held.filter(|s| s.usable_until.is_some_and(|until| until > now)) {
                Some(held) => Ok(held.value),
                None => Err(e),
            },
        }
    }

    /// Every key with its held value, for `/metrics`.
    pub fn entries(&self) -> Vec<(K, V)> {
        let slots: Vec<(K, Arc<Slot<V>>)> = self
            .slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, s)| (k.clone(), s.clone()))
            .collect();
        slots
            .into_iter()
            .filter_map(|(k, s)| s.current().map(|stored| (k, stored.value)))
            .collect()
    }

    /// Number of keys held (for tests of what the cache keeps).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.slots.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn freshness_ends_before_next_update() {
        // A week-long CRL fetched at its start: refreshed an hour before nextUpdate.
        assert_eq!(fresh_until(0, 0, Some(7 * 86_400)), 7 * 86_400 - 3600);
        // A 100-second answer: a tenth of the window ahead, but reused at least a minute.
        assert_eq!(fresh_until(0, 0, Some(1000)), 900);
        assert_eq!(fresh_until(950, 0, Some(1000)), 1000);
        assert_eq!(fresh_until(900, 0, Some(1000)), 960);
        // Past nextUpdate: never fresh. No nextUpdate: an hour.
        assert_eq!(fresh_until(2000, 0, Some(1000)), 2000);
        assert_eq!(fresh_until(10, 0, None), 10 + 3600);
    }

    fn stored(value: u32, fresh_until: i64, usable_until: Option<i64>) -> Stored<u32> {
        Stored {
            value,
            fresh_until,
            usable_until,
        }
    }

    #[tokio::test]
    async fn fresh_values_are_reused_and_stale_ones_refreshed() {
        let cache: Cache<&str, u32> = Cache::default();
        let calls = AtomicUsize::new(0);
        let refresh = |v: u32| {
            let calls = &calls;
            move |_held: Option<Stored<u32>>| async move {
                calls.fetch_add(1, Ordering::SeqCst);
                Ok::<_, String>(stored(v, 100, Some(200)))
            }
        };
        assert_eq!(cache.get(&"k", 0, refresh(1)).await, Ok(1));
        assert_eq!(cache.get(&"k", 50, refresh(2)).await, Ok(1));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(cache.get(&"k", 100, refresh(3)).await, Ok(3));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(cache.entries(), vec![("k", 3)]);
    }

    #[tokio::test]
    async fn a_failed_refresh_falls_back_only_while_usable() {
        let cache: Cache<&str, u32> = Cache::default();
        let ok = |_h: Option<Stored<u32>>| async { Ok::<_, String>(stored(1, 100, Some(200))) };
        let fail = |held: Option<Stored<u32>>| async move {
            assert!(held.is_some(), "the refresh sees the held value");
            Err::<Stored<u32>, _>("down".to_string())
        };
        cache.get(&"k", 0, ok).await.unwrap();
        assert_eq!(cache.get(&"k", 150, fail).await, Ok(1));
        assert_eq!(cache.get(&"k", 250, fail).await, Err("down".to_string()));
    }

    #[tokio::test]
    async fn concurrent_misses_refresh_once() {
        let cache: Arc<Cache<&str, u32>> = Arc::default();
        let calls = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let cache = cache.clone();
            let calls = calls.clone();
            tasks.push(tokio::spawn(async move {
                cache
                    .get(&"k", 0, |_| async move {
                        calls.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        Ok::<_, String>(stored(7, 100, None))
                    })
                    .await
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), Ok(7));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn idle_slots_are_dropped() {
        let cache: Cache<u32, u32> = Cache::default();
        let ok = |_h: Option<Stored<u32>>| async { Ok::<_, String>(stored(1, 10, None)) };
        cache.get(&1, 0, ok).await.unwrap();
        cache.get(&2, IDLE_EVICTION + 1, ok).await.unwrap();
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.entries(), vec![(2, 1)]);
    }
}
