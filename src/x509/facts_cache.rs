//! Parsed certificate facts, shared by every result that holds the same certificate.
//!
//! Thousands of targets behind one wildcard or SAN certificate send the same DER at every probe.
//! Parsing it (x509-parser, two distinguished names formatted, a SHA-256, the key decoded) each
//! time costs CPU, and keeping one [`CertFacts`] per target costs memory, for facts that are the
//! same. So facts are looked up by the SHA-256 of the DER, and every snapshot holding that
//! certificate shares one `Arc`. The map holds only weak references: a certificate no snapshot
//! holds any more (replaced after a renewal, its target removed) is dropped, and its entry is
//! swept once the map has grown to twice the size it had after the last sweep.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use super::facts::{CertFacts, ParseError};

/// The SHA-256 of a certificate's DER.
type Digest = [u8; 32];

/// Facts by DER digest, weakly held.
struct Cache {
    entries: HashMap<Digest, Weak<CertFacts>>,
    /// Sweep dead entries when `entries` grows past this.
    sweep_at: usize,
}

/// The fewest entries before the first sweep.
const MIN_SWEEP: usize = 1024;

fn cache() -> &'static Mutex<Cache> {
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    CACHE.get_or_init(|| {
        Mutex::new(Cache {
            entries: HashMap::new(),
            sweep_at: MIN_SWEEP,
        })
    })
}

/// The facts of `der`: shared with every other holder of the same certificate, parsed only when
/// no one holds them. A certificate that does not parse is not cached (it is rare, and the
/// error is cheap to find again).
pub fn facts(der: &[u8]) -> Result<Arc<CertFacts>, ParseError> {
    let digest: Digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der)
        .as_ref()
        .try_into()
        .expect("SHA-256 is 32 bytes");
    if let Some(facts) = lock().entries.get(&digest).and_then(Weak::upgrade) {
        return Ok(facts);
    }
    // Parse outside the lock; two probes racing on a new certificate both parse, one wins.
    let parsed = CertFacts::from_der(der)?;
    let mut cache = lock();
    let facts = match cache.entries.get(&digest).and_then(Weak::upgrade) {
        Some(existing) => existing,
        None => {
            cache.entries.insert(digest, Arc::downgrade(&parsed));
            parsed
        }
    };
    if cache.entries.len() >= cache.sweep_at {
        cache.entries.retain(|_, weak| weak.strong_count() > 0);
        cache.sweep_at = (cache.entries.len() * 2).max(MIN_SWEEP);
    }
    Ok(facts)
}

fn lock() -> std::sync::MutexGuard<'static, Cache> {
    cache().lock().unwrap_or_else(|e| e.into_inner())
}

/// How many certificates the cache holds entries for (live or not yet swept), for tests.
pub fn len() -> usize {
    lock().entries.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn der(name: &str) -> Vec<u8> {
        let key = rcgen::KeyPair::generate().unwrap();
        rcgen::CertificateParams::new(vec![name.to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap()
            .der()
            .to_vec()
    }

    #[test]
    fn one_certificate_one_shared_copy() {
        let a = der("a.example");
        let first = facts(&a).unwrap();
        let second = facts(&a).unwrap();
        assert!(Arc::ptr_eq(&first, &second));
        assert_eq!(first.dns_names, vec!["a.example"]);
        let other = facts(&der("b.example")).unwrap();
        assert!(!Arc::ptr_eq(&first, &other));
        assert!(facts(b"not a certificate").is_err());
    }

    #[test]
    fn dropped_facts_are_parsed_again_and_swept() {
        let a = der("swept.example");
        let weak = Arc::downgrade(&facts(&a).unwrap());
        assert!(weak.upgrade().is_none(), "nobody holds them: dropped");
        assert_eq!(facts(&a).unwrap().dns_names, vec!["swept.example"]);
        // Churn through many certificates held by no one: the map does not grow without bound.
        let many: Vec<Vec<u8>> = (0..MIN_SWEEP + 10)
            .map(|i| der(&format!("c{i}.example")))
            .collect();
        for d in &many {
            facts(d).unwrap();
        }
        assert!(len() <= MIN_SWEEP + 64, "{} entries", len());
    }
}
