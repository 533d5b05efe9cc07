//! URL targets: certificates downloaded over HTTP(S) — a CA bundle, a published intermediate,
//! a CRL — reported as if read from a file ([`super::files::judge_bytes`]).
//!
//! The download uses the revocation HTTP client (same proxies, same clock-skew observations;
//! counted in `cert_revocation_fetches_total{source="url"}`), is capped at [`MAX_URL_BYTES`]
//! and bounded by the target's timeout. The body is kept per URL with its `ETag` and
//! `Last-Modified`, so every later probe is a conditional GET and a `304 Not Modified` reuses
//! the copy held (shared by every target naming the URL, across reloads, dropped after a day
//! unused). A failed download is the probe's failure: no stale copy stands in for it.

use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use tokio::time::Instant;

use super::files;
use super::{Phase, ProbeFailure, ProbeReason, ProbeResult};
use crate::clock::unix_now;
use crate::config::{CertUrl, Target};
use crate::fetch::http::FetchError;
use crate::fetch::{Cache, FetchReason, Fetcher, Got, Stored, Validators};
use crate::x509::TrustStore;

/// The most bytes a URL target's body may have: a CA bundle of 150 roots is about 220 KiB of
/// PEM, a large CRL a few MiB.
pub const MAX_URL_BYTES: u64 = 4 * 1024 * 1024;

/// The bodies held per URL, with their validators.
#[derive(Debug, Default)]
pub struct UrlCache {
    by_url: Cache<String, Arc<(Bytes, Validators)>>,
}

/// Downloads `source` (conditionally when a copy is held) and reports its certificates or CRL.
pub async fn probe(
    target: &Target,
    source: &CertUrl,
    fetcher: Option<&Fetcher>,
    cache: &UrlCache,
    trust: Arc<TrustStore>,
) -> ProbeResult {
    let started = Instant::now();
    let deadline = started + target.timeout;
    let fetched = match fetcher {
        Some(fetcher) => fetch(fetcher, cache, &source.url, deadline).await,
        None => Err(ProbeFailure::new(
            ProbeReason::UrlUnreachable,
            "no HTTP client in this prober".to_string(),
        )),
    };
    let fetch_time = started.elapsed();
    let mut result = match fetched {
        Ok(body) => {
            let url = source.url.clone();
            let judged =
                tokio::task::spawn_blocking(move || files::judge_bytes(&body, &url, &trust)).await;
            judged.unwrap_or_else(|e| {
                let mut r = ProbeResult::new();
                r.failure = Some(ProbeFailure::new(
                    ProbeReason::FileMalformed,
                    format!("{}: decoding failed: {e}", source.url),
                ));
                r
            })
        }
        Err(failure) => {
            let mut r = ProbeResult::new();
            r.failure = Some(failure);
            r
        }
    };
    result.phases.push((Phase::Fetch, fetch_time));
    result.phases.push((Phase::Total, started.elapsed()));
    result.finished_at = SystemTime::now();
    result
}

/// The body of `url`: downloaded, or the held copy after a `304`.
async fn fetch(
    fetcher: &Fetcher,
    cache: &UrlCache,
    url: &str,
    deadline: Instant,
) -> Result<Bytes, ProbeFailure> {
    let now = unix_now();
    let key = url.to_string();
    let stored = cache
        .by_url
        .get(&key, now, |held| async move {
            let validators = held.as_ref().map(|h| &h.value.1);
            let got = fetcher
                .get(url, validators, MAX_URL_BYTES, deadline, "url")
                .await?;
            let value = match (got, held) {
                (Got::Body(body, validators), _) => Arc::new((body, validators)),
                (Got::NotModified, Some(held)) => held.value,
                (Got::NotModified, None) => {
                    return Err(FetchError::new(
                        FetchReason::HttpStatus,
                        format!("{url}: 304 Not Modified to an unconditional GET"),
                    ))
                }
            };
            // Asked again at every probe, conditionally: a held copy is never used unasked.
            Ok(Stored {
                value,
                fresh_until: now,
                usable_until: None,
            })
        })
        .await
        .map_err(fetch_failure)?;
    Ok(stored.0.clone())
}

/// A download failure as the probe's reason.
fn fetch_failure(e: FetchError) -> ProbeFailure {
    let reason = match e.reason {
        FetchReason::HttpStatus => ProbeReason::UrlHttpStatus,
        FetchReason::TooLarge => ProbeReason::UrlTooLarge,
        FetchReason::Timeout => ProbeReason::Timeout,
        FetchReason::RedirectLoop | FetchReason::UnsupportedUrl | FetchReason::Unreachable => {
            ProbeReason::UrlUnreachable
        }
    };
    ProbeFailure::new(reason, e.detail)
}
