//! HTTP basic authentication against bcrypt hashes.
//!
//! bcrypt is slow on purpose (tens of milliseconds at cost 10), and Prometheus sends the same
//! credentials on every scrape; so a successful check is remembered by a SHA-256 of the user,
//! password and hash (never the password itself), and only new credentials pay for bcrypt.
//! Unknown users are checked against a dummy hash so that the answer takes as long as for a
//! known user: response time does not reveal which user names exist.

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

use base64::Engine as _;

/// How many verified credential digests are remembered.
const CACHE_LIMIT: usize = 1024;

/// Checks `Authorization` headers.
#[derive(Debug, Default)]
pub struct BasicAuth {
    users: BTreeMap<String, String>,
    /// A hash of a random password at the configured users' cost, so refusing an unknown user
    /// costs as much as checking a known one.
    dummy_hash: String,
    verified: Mutex<HashSet<[u8; 32]>>,
}

impl BasicAuth {
    /// Checks against `users` (name to bcrypt hash). Slow unless `users` is empty: it hashes
    /// the dummy password once, at the cost of the users' hashes.
    pub fn new(users: BTreeMap<String, String>) -> BasicAuth {
        let cost = users
            .values()
            .find_map(|h| h.parse::<bcrypt::HashParts>().ok())
            .map(|p| p.get_cost())
            .unwrap_or(bcrypt::DEFAULT_COST);
        let random = format!("{:x}{:x}", fastrand::u64(..), fastrand::u64(..));
        let dummy_hash = if users.is_empty() {
            String::new()
        } else {
            bcrypt::hash(random, cost).unwrap_or_default()
        };
        BasicAuth {
            users,
            dummy_hash,
            verified: Mutex::new(HashSet::new()),
        }
    }

    /// Whether any user is configured (otherwise every request passes).
    pub fn enabled(&self) -> bool {
        !self.users.is_empty()
    }

    /// Whether the `Authorization` header value carries valid credentials.
    pub fn check(&self, header: Option<&str>) -> bool {
        if !self.enabled() {
            return true;
        }
        let Some((user, password)) = header.and_then(parse_basic) else {
            return false;
        };
        let (hash, known) = match self.users.get(&user) {
            Some(hash) => (hash.as_str(), true),
            None => (self.dummy_hash.as_str(), false),
        };
        let digest = credential_digest(&user, &password, hash);
        if known && self.cache().contains(&digest) {
            return true;
        }
        let ok = bcrypt::verify(&password, hash).unwrap_or(false) && known;
        if ok {
            let mut cache = self.cache();
            if cache.len() >= CACHE_LIMIT {
                cache.clear();
            }
            cache.insert(digest);
        }
        ok
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashSet<[u8; 32]>> {
        self.verified.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Splits `Basic base64(user:password)`.
fn parse_basic(header: &str) -> Option<(String, String)> {
    let (scheme, value) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// SHA-256 over the length-prefixed user, password and hash.
fn credential_digest(user: &str, password: &str, hash: &str) -> [u8; 32] {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for part in [user, password, hash] {
        ctx.update(&(part.len() as u64).to_be_bytes());
        ctx.update(part.as_bytes());
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> BasicAuth {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        BasicAuth::new(BTreeMap::from([("prom".to_string(), hash)]))
    }

    fn header(user: &str, pass: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
        )
    }

    #[test]
    fn right_wrong_and_missing_credentials() {
        let a = auth();
        assert!(a.check(Some(&header("prom", "s3cret"))));
        assert!(a.check(Some(&header("prom", "s3cret"))), "cached answer");
        assert!(!a.check(Some(&header("prom", "wrong"))));
        assert!(!a.check(Some(&header("nobody", "s3cret"))));
        assert!(!a.check(None));
        assert!(!a.check(Some("Bearer abc")));
        assert!(!a.check(Some("Basic !!!")));
    }

    #[test]
    fn dummy_hash_matches_the_users_cost() {
        let a = auth();
        let parts: bcrypt::HashParts = a.dummy_hash.parse().unwrap();
        assert_eq!(parts.get_cost(), 4);
    }

    #[test]
    fn no_users_means_open() {
        assert!(BasicAuth::default().check(None));
    }
}
