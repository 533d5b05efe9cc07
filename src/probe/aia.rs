//! Fetching a missing intermediate from the leaf's authorityInfoAccess caIssuers URL, to tell
//! `missing_intermediate` from `unknown_issuer` ([`crate::x509::missing`] does the judging).
//!
//! Only when the path does not build (`unknown_issuer`) and the leaf names a caIssuers URL. The
//! download uses the revocation HTTP client (same proxies, same clock-skew observations,
//! counted in `cert_aia_fetches_total`), is capped at [`MAX_ISSUER_BYTES`] and bounded by the
//! deadline it is given. Intermediates live for years, so a download is kept per URL for
//! [`KEEP`] (shared by every target, across reloads); a URL that fails is asked again at the
//! next probe that needs it. When the fetched certificate is itself not issued by an anchor,
//! its own caIssuers URL is followed, up to [`MAX_DEPTH`] downloads in all.

use std::sync::Arc;

use rustls_pki_types::CertificateDer;
use tokio::time::Instant;

use crate::fetch::{Cache, Fetcher, Stored};
use crate::x509::{missing, CertFacts, ChainReport, TrustStore};

/// The most bytes one caIssuers download may have: a certificate is 1–2 KiB, a PKCS#7 bundle
/// of a few a little more.
pub const MAX_ISSUER_BYTES: u64 = 64 * 1024;
/// How many caIssuers downloads one chain may take (leaf's issuer, its issuer, …).
pub const MAX_DEPTH: usize = 3;
/// How long a downloaded issuer is reused, in seconds.
pub const KEEP: i64 = 24 * 3600;

/// Downloaded issuers per URL.
#[derive(Debug, Default)]
pub struct IssuerCache {
    by_url: Cache<String, Arc<Vec<CertificateDer<'static>>>>,
}

/// A path completed by downloads: the verdict of the served chain plus the downloads, and the
/// downloaded certificates (issuers for the revocation check of what the server sent).
#[derive(Debug, Clone)]
pub struct Completion {
    /// The verdict of the served chain completed with the downloads.
    pub report: ChainReport,
    /// Every certificate downloaded on the way.
    pub issuers: Vec<CertificateDer<'static>>,
}

/// What the search for a missing intermediate found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AiaOutcome {
    /// The URLs the completing certificates came from; empty when the path was not completed.
    pub completed_from: Vec<String>,
    /// The last download or decoding failure, if any.
    pub error: Option<String>,
}

/// Looks for the intermediates `chain` lacks by following caIssuers URLs from its leaf. The
/// completed verdict and the downloads come back when the served chain plus the downloads
/// reach an anchor of `trust`.
pub async fn find_missing(
    cache: &IssuerCache,
    http: &Fetcher,
    chain: &[CertificateDer<'_>],
    report: &ChainReport,
    trust: &TrustStore,
    deadline: Instant,
) -> (Option<Completion>, AiaOutcome) {
    let mut outcome = AiaOutcome {
        completed_from: Vec::new(),
        error: None,
    };
    let Some(leaf) = report.certs.first() else {
        return (None, outcome);
    };
    let mut urls = leaf.ca_issuer_urls.clone();
    let mut fetched: Vec<CertificateDer<'static>> = Vec::new();
    let mut used = Vec::new();
    for _ in 0..MAX_DEPTH {
        let mut got = None;
        for url in urls.iter().filter(|u| is_http(u)) {
            match download(cache, http, url, deadline).await {
                Ok(certs) => {
                    got = Some(certs);
                    used.push(url.clone());
                    break;
                }
                Err(e) => outcome.error = Some(e),
            }
        }
        let Some(certs) = got else {
            if outcome.error.is_none() {
                outcome.error = Some(format!("no http(s) caIssuers URL among {urls:?}"));
            }
            break;
        };
        fetched.extend(certs.iter().cloned());
        let now = crate::clock::unix_now();
        if let Some(report) = missing::complete(chain, &fetched, trust, now) {
            outcome.completed_from = used;
            let issuers = fetched;
            return (Some(Completion { report, issuers }), outcome);
        }
        // The download may itself lack its issuer: climb one more level.
        urls = certs
            .iter()
            .filter_map(|der| CertFacts::from_der(der).ok())
            .filter(|facts| !facts.self_issued)
            .flat_map(|facts| facts.ca_issuer_urls.clone())
            .collect();
        if urls.is_empty() {
            break;
        }
    }
    (None, outcome)
}

/// The certificates at `url`: cached while fresh, else downloaded and decoded.
async fn download(
    cache: &IssuerCache,
    http: &Fetcher,
    url: &str,
    deadline: Instant,
) -> Result<Arc<Vec<CertificateDer<'static>>>, String> {
    let now = crate::clock::unix_now();
    cache
        .by_url
        .get(&url.to_string(), now, |_held| async move {
            let body = http
                .get_issuer(url, MAX_ISSUER_BYTES, deadline)
                .await
                .map_err(|e| e.detail)?;
            let certs = missing::decode_issuers(&body).map_err(|e| format!("{url}: {e}"))?;
            Ok::<_, String>(Stored {
                value: Arc::new(certs),
                fresh_until: now + KEEP,
                usable_until: None,
            })
        })
        .await
}

fn is_http(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}
