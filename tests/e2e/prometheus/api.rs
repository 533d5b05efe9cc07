//! Talking to the real Prometheus (its HTTP API) and to the dashboard script.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use crate::support::get;

/// How long the dashboard script may run.
const TOOL_LIMIT: Duration = Duration::from_secs(30);

/// The outcome of one PromQL instant query.
#[derive(Debug)]
pub enum QueryResult {
    /// The query evaluated: its result as returned (`data.result`).
    Data(Vec<Value>),
    /// Prometheus refused it: the error message.
    Error(String),
}

/// Runs `query` through `GET /api/v1/query` on the Prometheus at `addr`.
pub async fn query(addr: SocketAddr, query: &str) -> QueryResult {
    let path = format!("/api/v1/query?query={}", percent_encode(query));
    let response = get(addr, &path, &[]).await;
    let body: Value = match serde_json::from_str(&response.body) {
        Ok(body) => body,
        Err(e) => {
            return QueryResult::Error(format!(
                "HTTP {} with a body that is not JSON ({e}): {}",
                response.status, response.body
            ))
        }
    };
    if body["status"] != "success" {
        return QueryResult::Error(format!("HTTP {}: {}", response.status, body["error"]));
    }
    match body["data"]["result"].as_array() {
        Some(result) => QueryResult::Data(result.clone()),
        // Scalars and strings: `[time, value]`, which counts as data.
        None => QueryResult::Data(vec![body["data"]["result"].clone()]),
    }
}

/// The series `query` returns; panics when the query fails.
pub async fn series(addr: SocketAddr, promql: &str) -> Vec<Value> {
    match query(addr, promql).await {
        QueryResult::Data(series) => series,
        QueryResult::Error(e) => panic!("query {promql:?} failed: {e}"),
    }
}

/// A GET path's JSON document from the Prometheus API (`/api/v1/rules`, `/api/v1/targets`).
pub async fn document(addr: SocketAddr, path: &str) -> Value {
    let response = get(addr, path, &[]).await;
    serde_json::from_str(&response.body)
        .unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {}", response.body))
}

/// Percent-encodes everything but RFC 3986's unreserved characters, for a query string.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// One dashboard query, as `scripts/check-dashboards.py --annotate --variables` prints it.
#[derive(Debug)]
pub struct DashboardQuery {
    /// `file / panel / refId`, to name it in a failure.
    pub place: String,
    /// The PromQL with the template variables replaced by match-all values.
    pub promql: String,
}

/// Every panel and variable query of the dashboards under `dashboards/`.
pub async fn dashboard_queries() -> Vec<DashboardQuery> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/check-dashboards.py");
    let child = tokio::process::Command::new("python3")
        .args([script, "--annotate", "--variables"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run python3 {script} (Debian package python3): {e}"));
    let out = tokio::time::timeout(TOOL_LIMIT, child.wait_with_output())
        .await
        .expect("check-dashboards.py did not finish")
        .expect("check-dashboards.py output");
    assert!(
        out.status.success(),
        "check-dashboards.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.splitn(4, '\t').collect();
            assert_eq!(fields.len(), 4, "unexpected --annotate line: {line:?}");
            DashboardQuery {
                place: fields[..3].join(" / "),
                promql: fields[3].to_string(),
            }
        })
        .collect()
}

/// The exporter metric names (`cert_…`) a PromQL expression mentions.
pub fn metric_names(promql: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let bytes = promql.as_bytes();
    let mut i = 0;
    while let Some(found) = promql[i..].find("cert_") {
        let start = i + found;
        let preceded_by_word = start > 0 && is_name_byte(bytes[start - 1]);
        let mut end = start;
        while end < bytes.len() && is_name_byte(bytes[end]) {
            end += 1;
        }
        if !preceded_by_word {
            names.push(&promql[start..end]);
        }
        i = end;
    }
    names
}

/// Whether `b` may be part of a metric name (recording rules add `:`).
fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b':'
}
