//! Verdicts remembered per distinct chain, so that a chain seen before is not verified again.
//!
//! Thousands of targets behind one certificate send the same chain at every probe, and its
//! verdict (the path webpki builds, its two or more signature checks, the anchor and hostname
//! dimensions) is the same every time: it depends on the certificates, the server name, the
//! purpose, the trust store and the moment, and on the moment only through comparisons with
//! the notBefore and notAfter of the chain's certificates and of the store's anchors. So a
//! verdict is kept with the span of moments around the one it was reached at in which none of
//! those dates is crossed, and reused for any moment inside that span; outside it, the chain
//! is judged afresh. The handshake signature is still verified at every probe (rustls does it
//! in the handshake). Each [`TrustStore`](crate::x509::TrustStore) holds its own cache, so a
//! reload with other anchors starts empty.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::ChainReport;
use crate::x509::facts::CertFacts;

/// The most verdicts one store keeps; past it, the cache is emptied and fills again.
const MAX_ENTRIES: usize = 4096;

/// What a verdict was reached on, besides the trust store that holds the cache.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Key {
    /// The certificates, by the address of their shared facts ([`crate::x509::facts_cache`]
    /// gives one `Arc` per DER; the entry holds them, so an address is never reused while it
    /// is in the cache).
    certs: Vec<usize>,
    server_name: Option<String>,
    any_purpose: bool,
}

impl Key {
    pub(super) fn new(
        certs: &[Arc<CertFacts>],
        server_name: Option<&str>,
        any_purpose: bool,
    ) -> Key {
        Key {
            certs: certs.iter().map(|f| Arc::as_ptr(f) as usize).collect(),
            server_name: server_name.map(str::to_string),
            any_purpose,
        }
    }
}

#[derive(Debug)]
struct Entry {
    report: ChainReport,
    /// The verdict holds for moments in `from..until`.
    from: i64,
    until: i64,
}

/// The verdicts of one trust store.
#[derive(Debug, Default)]
pub struct VerdictCache {
    entries: Mutex<HashMap<Key, Entry>>,
}

impl VerdictCache {
    /// The verdict for `key` at `now`, if one reached at a moment in the same span is kept.
    pub(super) fn get(&self, key: &Key, now: i64) -> Option<ChainReport> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = entries.get(key)?;
        (entry.from <= now && now < entry.until).then(|| entry.report.clone())
    }

    /// Keeps `report`, reached at `now`, for the moments between the nearest of `dates`
    /// (notBefore and notAfter, in Unix seconds) around `now`.
    pub(super) fn put(
        &self,
        key: Key,
        report: &ChainReport,
        now: i64,
        dates: impl Iterator<Item = (i64, i64)>,
    ) {
        // A verdict changes when `now < not_before` or `now > not_after` changes: at
        // not_before and at not_after + 1.
        let (mut from, mut until) = (i64::MIN, i64::MAX);
        for (not_before, not_after) in dates {
            for edge in [not_before, not_after.saturating_add(1)] {
                if edge <= now {
                    from = from.max(edge);
                } else {
                    until = until.min(edge);
                }
            }
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&key) {
            entries.clear();
        }
        entries.insert(
            key,
            Entry {
                report: report.clone(),
                from,
                until,
            },
        );
    }

    /// How many verdicts are kept, for tests.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}
