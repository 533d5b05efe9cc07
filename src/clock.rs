//! The exporter's own clock, checked against the servers it talks to.
//!
//! Expiry maths is only as good as the local clock: a host five days behind reports five days
//! too many before expiry, and an OCSP answer from its "future" is refused. Every HTTP response
//! the exporter receives from a CA's service (OCSP responder, CRL distribution point, caIssuers
//! URL) carries a `Date` header, written by the origin when it generated the response; a cache
//! in between adds `Age`, the seconds the response waited there. So the remote time at arrival
//! is about `Date + Age` (plus half a second, as `Date` is truncated to the second), and the
//! skew is the local time at arrival minus that. The latest observation is exported as
//! `cert_exporter_clock_skew_seconds` (positive: the local clock is ahead).
//!
//! Why not OCSP's signed producedAt: CAs and CDNs serve pre-signed responses produced hours
//! before they are fetched, so it only bounds the clock from one side. The `Date` header is not
//! signed, but it comes from the CAs' own infrastructure and is what tools such as htpdate
//! rely on; one odd server is outvoted by the next fetch, and the alert waits before firing.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// Where "now" comes from when a chain is judged: the system clock, or a fixed moment.
///
/// A fixed moment is for test vectors that are only meaningful at their own validation time
/// (x509-limbo's cases carry one): the probe then runs for real, over a real connection, and
/// only the moment its dates are judged at is chosen. Timeouts and caches keep the real clock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Clock {
    /// The system clock.
    #[default]
    System,
    /// This Unix time, always.
    Fixed(i64),
}

impl Clock {
    /// Seconds since the Unix epoch, by this clock.
    pub fn unix_now(self) -> i64 {
        match self {
            Clock::System => SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or(Duration::ZERO)
                .as_secs() as i64,
            Clock::Fixed(t) => t,
        }
    }
}

/// Seconds since the Unix epoch, now, by the system clock.
pub fn unix_now() -> i64 {
    Clock::System.unix_now()
}

/// One comparison of the local clock with a server's.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// Local time minus remote time, in seconds (positive: the local clock is ahead).
    pub skew_seconds: f64,
    /// When the response arrived (local clock).
    pub observed_at: SystemTime,
}

/// The latest observation, shared by everything that fetches over HTTP.
#[derive(Debug, Default)]
pub struct ClockSkew {
    latest: Mutex<Option<Observation>>,
}

impl ClockSkew {
    /// Records what a response's `Date` and `Age` headers say, received at `received_at`.
    /// Headers that are missing or do not parse are ignored.
    pub fn observe(&self, date: Option<&str>, age: Option<&str>, received_at: SystemTime) {
        if let Some(skew_seconds) = skew_from_http(date, age, received_at) {
            *self.latest.lock().unwrap_or_else(|e| e.into_inner()) = Some(Observation {
                skew_seconds,
                observed_at: received_at,
            });
        }
    }

    /// Records the `Date` and `Age` of response headers just received.
    pub fn observe_headers(&self, headers: &reqwest::header::HeaderMap) {
        let get = |name| headers.get(name).and_then(|v| v.to_str().ok());
        self.observe(
            get(reqwest::header::DATE),
            get(reqwest::header::AGE),
            SystemTime::now(),
        );
    }

    /// The latest observation, if any response carried a usable `Date`.
    pub fn latest(&self) -> Option<Observation> {
        self.latest
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Local minus remote time from an HTTP `Date` (IMF-fixdate or the obsolete forms) and an
/// optional `Age` (seconds spent in caches), for a response received at `received_at`.
pub fn skew_from_http(
    date: Option<&str>,
    age: Option<&str>,
    received_at: SystemTime,
) -> Option<f64> {
    let generated = httpdate::parse_http_date(date?.trim()).ok()?;
    let age = age
        .and_then(|a| a.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::ZERO);
    // `Date` is truncated to the second: the server's time was within the following second.
    let remote = generated + age + Duration::from_millis(500);
    Some(match received_at.duration_since(remote) {
        Ok(ahead) => ahead.as_secs_f64(),
        Err(behind) => -behind.duration().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(unix: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(unix)
    }

    // 1994-11-06T08:49:37Z, the example of RFC 9110.
    const EXAMPLE: u64 = 784_111_777;

    #[test]
    fn date_header_gives_the_skew_both_ways() {
        let date = Some("Sun, 06 Nov 1994 08:49:37 GMT");
        let ahead = skew_from_http(date, None, at(EXAMPLE + 3600)).unwrap();
        assert!((ahead - 3599.5).abs() < 1e-6, "{ahead}");
        let behind = skew_from_http(date, None, at(EXAMPLE - 120)).unwrap();
        assert!((behind + 120.5).abs() < 1e-6, "{behind}");
    }

    #[test]
    fn age_counts_as_time_spent_in_caches() {
        let skew = skew_from_http(
            Some("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(" 600 "),
            at(EXAMPLE + 600),
        )
        .unwrap();
        assert!(skew.abs() < 1.0, "{skew}");
    }

    #[test]
    fn unusable_headers_are_ignored() {
        assert_eq!(skew_from_http(None, None, at(EXAMPLE)), None);
        assert_eq!(skew_from_http(Some("yesterday"), None, at(EXAMPLE)), None);
        let clock = ClockSkew::default();
        clock.observe(Some("not a date"), None, at(EXAMPLE));
        assert_eq!(clock.latest(), None);
        clock.observe(
            Some("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some("x"),
            at(EXAMPLE + 10),
        );
        let seen = clock.latest().unwrap();
        assert!((seen.skew_seconds - 9.5).abs() < 1e-6);
        assert_eq!(seen.observed_at, at(EXAMPLE + 10));
    }
}
