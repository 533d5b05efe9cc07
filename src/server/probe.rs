//! `/probe?target=host:port`: probe once, now, and answer with that target's series only — the
//! multi-target exporter pattern, so Prometheus's own service discovery (and its `hashmod`
//! sharding) can drive the probing.
//!
//! Bounded three ways: the target must be on the `probe_allow` list (the exporter connects on
//! behalf of whoever can reach it, so `/probe` is off until a list is configured), the probe
//! takes one of the scheduler's concurrency permits, and the request line and body are capped.

use std::sync::{Arc, RwLock};

use hyper::StatusCode;
use prometheus_client::registry::Registry;
use tokio::sync::Semaphore;

use crate::config::{OnDemandRequest, OnDemandSpec, Refusal};
use crate::metrics::{self, ExporterMetrics, Format, SnapshotCollector};
use crate::probe::Prober;
use crate::state::State;

/// The longest query string accepted.
pub const MAX_QUERY: usize = 4096;
/// The largest request body accepted (a `/probe` request needs none).
pub const MAX_BODY: usize = 4096;

/// The `/probe` handler's view of the running exporter.
pub struct OnDemand {
    current: RwLock<Option<(Arc<OnDemandSpec>, Arc<Prober>)>>,
    permits: Arc<Semaphore>,
    metrics: Arc<ExporterMetrics>,
}

/// An answer: status, content type and body.
pub struct Answer {
    /// `200` with series, or the error status (`400`, `403`, `414`, `503`).
    pub status: StatusCode,
    /// The content type of the exposition format asked for, or `text/plain` for an error.
    pub content_type: &'static str,
    /// The target's series, or one line saying what is wrong.
    pub body: String,
}

impl Answer {
    fn text(status: StatusCode, message: impl Into<String>) -> Answer {
        let mut body = message.into();
        body.push('\n');
        Answer {
            status,
            content_type: "text/plain; charset=utf-8",
            body,
        }
    }
}

impl OnDemand {
    /// Probes under `permits` (the scheduler's), counting probes in `metrics`.
    pub fn new(permits: Arc<Semaphore>, metrics: Arc<ExporterMetrics>) -> OnDemand {
        OnDemand {
            current: RwLock::new(None),
            permits,
            metrics,
        }
    }

    /// Puts the settings and prober of a newly applied configuration in force.
    pub fn set(&self, spec: OnDemandSpec, prober: Arc<Prober>) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some((Arc::new(spec), prober));
    }

    /// Answers one `/probe` request with query string `query`.
    pub async fn answer(&self, query: Option<&str>, format: Format) -> Answer {
        let query = query.unwrap_or("");
        if query.len() > MAX_QUERY {
            return Answer::text(
                StatusCode::URI_TOO_LONG,
                format!("the query string is over {MAX_QUERY} bytes"),
            );
        }
        let params = match parse_query(query) {
            Ok(p) => p,
            Err(message) => return Answer::text(StatusCode::BAD_REQUEST, message),
        };
        let Some((spec, prober)) = self
            .current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        else {
            return Answer::text(StatusCode::SERVICE_UNAVAILABLE, "not started yet");
        };
        let get = |key: &str| {
            params
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        let request = OnDemandRequest {
            target: get("target").unwrap_or(""),
            module: get("module"),
            server_name: get("server_name"),
            starttls: get("starttls"),
        };
        let target = match spec.target(&request) {
            Ok(t) => Arc::new(t),
            Err(Refusal::BadRequest(m)) => return Answer::text(StatusCode::BAD_REQUEST, m),
            Err(Refusal::Forbidden(m)) => return Answer::text(StatusCode::FORBIDDEN, m),
        };
        // Wait for a slot no longer than the probe itself may take.
        let permit = match tokio::time::timeout(
            target.timeout,
            self.permits.clone().acquire_owned(),
        )
        .await
        {
            Ok(Ok(permit)) => permit,
            _ => {
                return Answer::text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "every probe slot is busy (defaults.concurrency); try again later",
                )
            }
        };
        let results = prober.probe_all(&target).await;
        drop(permit);
        for result in &results {
            self.metrics.record_probe(&target, result);
        }
        let state = Arc::new(State::new());
        state.store(target, results);
        let mut registry = Registry::default();
        registry.register_collector(Box::new(SnapshotCollector { state }));
        Answer {
            status: StatusCode::OK,
            content_type: format.content_type(),
            body: metrics::render(&registry, format),
        }
    }
}

/// The parameters `/probe` knows.
const KNOWN: [&str; 4] = ["target", "module", "server_name", "starttls"];

/// Splits and percent-decodes an `application/x-www-form-urlencoded` query; unknown and repeated
/// parameters are errors, so a typo (`servername=`) is not silently ignored.
fn parse_query(query: &str) -> Result<Vec<(String, String)>, String> {
    let mut params: Vec<(String, String)> = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = decode(key)?;
        let value = decode(value)?;
        if !KNOWN.contains(&key.as_str()) {
            return Err(format!(
                "unknown parameter {key:?}; /probe takes {}",
                KNOWN.join(", ")
            ));
        }
        if params.iter().any(|(k, _)| *k == key) {
            return Err(format!("parameter {key:?} is given twice"));
        }
        params.push((key, value));
    }
    Ok(params)
}

/// Percent-decoding, with `+` as a space.
fn decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("{text:?}: a % is not followed by two hex digits"))?;
                out.push(hex);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| format!("{text:?} does not decode to UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_decode_and_refuse_surprises() {
        let p = parse_query("target=%5B%3A%3A1%5D%3A443&server_name=a+b&module=").unwrap();
        assert_eq!(
            p,
            vec![
                ("target".into(), "[::1]:443".into()),
                ("server_name".into(), "a b".into()),
                ("module".into(), "".into())
            ]
        );
        assert!(parse_query("").unwrap().is_empty());
        assert!(parse_query("servername=x").unwrap_err().contains("unknown"));
        assert!(parse_query("target=a:1&target=b:1")
            .unwrap_err()
            .contains("twice"));
        assert!(parse_query("target=%zz").unwrap_err().contains("hex"));
        assert!(parse_query("target=%ff").unwrap_err().contains("UTF-8"));
    }
}
