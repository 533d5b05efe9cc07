//! Splitting one target list over several exporters with no coordination (`--shard I/N`).
//!
//! Every replica reads the same configuration and keeps only the targets whose name lands in its
//! shard. The shard of a name is the jump consistent hash (Lamping and Veach, 2014) of a stable
//! 64-bit hash of the name: the first eight bytes, big-endian, of its SHA-256. Both halves are
//! deliberate. SHA-256 gives every replica, on every platform and every release, the same
//! answer (Rust's `DefaultHasher` is randomised per process and would scatter targets
//! differently in each replica). Jump hashing moves only about `1/(N+1)` of the targets when the
//! replica count grows from `N` to `N+1`, so scaling out re-probes few targets elsewhere, where a
//! plain `hash % N` would move almost all of them.

use std::fmt;

/// This exporter's share of the targets: shard `index` of `count` (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This replica's shard, 0-based and below `count`.
    pub index: u32,
    /// How many replicas share the list; 1 keeps every target.
    pub count: u32,
}

impl Shard {
    /// Every target: one shard of one.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Parses `I/N`, where `I` is a number or ends in `-<ordinal>` (a StatefulSet pod name such
    /// as `cert-expiry-exporter-shard-3`), and `0 <= I < N`.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let (index, count) = text.rsplit_once('/').ok_or_else(|| {
            format!("{text:?}: expected INDEX/COUNT, such as 0/3 or a pod name like exporter-2/3")
        })?;
        let count: u32 = count
            .trim()
            .parse()
            .map_err(|_| format!("{text:?}: the shard count {count:?} is not a whole number"))?;
        if count == 0 {
            return Err(format!("{text:?}: the shard count must be at least 1"));
        }
        let index = index.trim();
        // A pod name: the ordinal after the last dash.
        let ordinal = index
            .rsplit_once('-')
            .filter(|(name, _)| !name.is_empty())
            .map_or(index, |(_, tail)| tail);
        let index: u32 = ordinal.parse().map_err(|_| {
            format!("{text:?}: the shard index {index:?} is neither a number nor a name ending in -<ordinal>")
        })?;
        if index >= count {
            return Err(format!(
                "{text:?}: the shard index must be below the count (0 to {})",
                count - 1
            ));
        }
        Ok(Shard { index, count })
    }

    /// Whether the target named `name` is this shard's.
    pub fn owns(&self, name: &str) -> bool {
        self.count <= 1 || shard_of(name, self.count) == self.index
    }
}

impl Default for Shard {
    fn default() -> Shard {
        Shard::ALL
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The shard (0..`count`) that owns the target named `name`.
pub fn shard_of(name: &str, count: u32) -> u32 {
    jump_hash(stable_hash(name), count)
}

/// The first eight bytes of SHA-256 of `name`, big-endian: the same on every machine.
pub fn stable_hash(name: &str) -> u64 {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, name.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest.as_ref()[..8]);
    u64::from_be_bytes(first)
}

/// Jump consistent hash: maps `key` to a bucket in `0..buckets` so that growing the bucket
/// count by one moves only `1/(buckets+1)` of the keys, all of them into the new bucket.
pub fn jump_hash(mut key: u64, buckets: u32) -> u32 {
    let buckets = i64::from(buckets.max(1));
    let (mut b, mut j) = (-1i64, 0i64);
    while j < buckets {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        j = ((b + 1) as f64 * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    b as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| format!("host-{i}.example.com:443"))
            .collect()
    }

    #[test]
    fn parses_numbers_and_pod_names() {
        assert_eq!(Shard::parse("2/5"), Ok(Shard { index: 2, count: 5 }));
        assert_eq!(
            Shard::parse("cert-expiry-exporter-shard-3/5"),
            Ok(Shard { index: 3, count: 5 })
        );
        assert_eq!(Shard::parse("0/1"), Ok(Shard::ALL));
        for bad in ["", "3", "5/5", "1/0", "a/3", "x-/3", "1/three", "-1/3"] {
            assert!(Shard::parse(bad).is_err(), "{bad:?} accepted");
        }
        let err = Shard::parse("5/5").unwrap_err();
        assert!(err.contains("below the count"), "{err}");
    }

    #[test]
    fn the_hash_is_stable_across_releases() {
        // Pinned values, computed independently (Python's hashlib and the paper's algorithm): a
        // change here would reshuffle every sharded deployment on upgrade.
        assert_eq!(stable_hash("shop.example.com:443"), 0x0ed9_7144_0d49_03ea);
        assert_eq!(stable_hash("a"), 0xca97_8112_ca1b_bdca);
        let shards = |name: &str| [2, 3, 5, 10, 100].map(|n| shard_of(name, n));
        assert_eq!(shards("shop.example.com:443"), [0, 2, 4, 7, 37]);
        assert_eq!(shards("mx.example.com:25"), [1, 1, 4, 7, 28]);
        assert_eq!(shards("a"), [1, 1, 1, 1, 50]);
    }

    #[test]
    fn every_target_is_in_exactly_one_shard() {
        let names = names(10_000);
        for count in 1..=8u32 {
            let shards: Vec<Shard> = (0..count).map(|index| Shard { index, count }).collect();
            let mut sizes = vec![0usize; count as usize];
            for name in &names {
                let owners: Vec<&Shard> = shards.iter().filter(|s| s.owns(name)).collect();
                assert_eq!(owners.len(), 1, "{name} owned by {owners:?} of {count}");
                sizes[owners[0].index as usize] += 1;
            }
            // Balanced within 10% of the fair share.
            let fair = names.len() / count as usize;
            for size in sizes {
                assert!(
                    size.abs_diff(fair) * 10 <= fair,
                    "{count} shards: {size} vs {fair}"
                );
            }
        }
    }

    #[test]
    fn growing_by_one_moves_about_one_in_n_plus_one() {
        let names = names(10_000);
        for count in 1..=8u32 {
            let moved: Vec<&String> = names
                .iter()
                .filter(|n| shard_of(n, count) != shard_of(n, count + 1))
                .collect();
            // Every moved target moves into the new shard, none between old ones.
            assert!(moved.iter().all(|n| shard_of(n, count + 1) == count));
            let expected = names.len() as f64 / f64::from(count + 1);
            let off = (moved.len() as f64 - expected).abs() / expected;
            assert!(
                off < 0.1,
                "{count}->{}: {} moved, expected about {expected:.0}",
                count + 1,
                moved.len()
            );
        }
    }
}
