//! `deploy/prometheus/compat-rules.yml` on the exporter's real output: the peers' series names
//! come out with the values and labels docs/migrating.md promises (its promtool tests use
//! hand-written input; this checks the label formats the exporter really writes).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::api;

/// How long the compatibility rules may take to record their first results.
const RECORD_LIMIT: Duration = Duration::from_secs(30);

/// The shipped compatibility rules, verbatim, and how many rules they hold.
pub fn rules() -> (String, usize) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/prometheus/compat-rules.yml"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let records = text
        .lines()
        .filter(|l| l.trim_start().starts_with("- record:"))
        .count();
    assert!(records > 0, "{path} holds no recording rule");
    (text, records)
}

/// The series `promql` returns once it returns `count` of them (the rules run every second).
async fn recorded(prometheus: SocketAddr, promql: &str, count: usize) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let series = api::series(prometheus, promql).await;
        if series.len() == count {
            return series;
        }
        assert!(
            start.elapsed() < RECORD_LIMIT,
            "{promql}: {} series after {RECORD_LIMIT:?}, expected {count}: {series:?}",
            series.len()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The value of the one series `promql` returns.
async fn value(prometheus: SocketAddr, promql: &str) -> f64 {
    let series = recorded(prometheus, promql, 1).await;
    let text = series[0]["value"][1].as_str().unwrap_or_default();
    text.parse()
        .unwrap_or_else(|e| panic!("{promql}: value {text:?}: {e}"))
}

/// Checks the recorded peer series for the four targets of the end-to-end setup: `healthy`
/// and `expiring` (valid chains), `invalid` (self-signed, wrong name) and `unreachable`.
pub async fn check(prometheus: SocketAddr) {
    // blackbox_exporter's probe_success: a valid chain and no probe error.
    for (target, want) in [
        ("healthy", 1.0),
        ("expiring", 1.0),
        ("invalid", 0.0),
        ("unreachable", 0.0),
    ] {
        for name in ["probe_success", "ssl_probe_success"] {
            let got = value(prometheus, &format!("{name}{{target=\"{target}\"}}")).await;
            assert_eq!(got, want, "{name} of {target}");
        }
    }

    // Expiry: our path's earliest notAfter, also for the invalid chain (blackbox_exporter
    // would have none); the leaf's own notAfter here, as the chain is one leaf under the root.
    for target in ["healthy", "expiring", "invalid"] {
        let ours = value(
            prometheus,
            &format!("cert_expiry_timestamp_seconds{{target=\"{target}\"}}"),
        )
        .await;
        for name in [
            "probe_ssl_earliest_cert_expiry",
            "probe_ssl_last_chain_expiry_timestamp_seconds",
            "ssl_verified_cert_not_after",
        ] {
            let got = value(prometheus, &format!("{name}{{target=\"{target}\"}}")).await;
            assert_eq!(got, ours, "{name} of {target}");
        }
    }
    // Three series: none for the unreachable target, which has no chain.
    recorded(prometheus, "probe_ssl_earliest_cert_expiry", 3).await;

    // ssl_exporter's cn and issuer_cn, cut from the DNs the exporter writes.
    let leaf = recorded(
        prometheus,
        "ssl_cert_not_after{target=\"healthy\",position=\"0\"}",
        1,
    )
    .await;
    let labels = &leaf[0]["metric"];
    assert_eq!(labels["cn"], "healthy.test", "cn from {labels}");
    assert_eq!(
        labels["issuer_cn"], "E2E Prometheus Root",
        "issuer_cn from {labels}"
    );

    // blackbox_exporter's leaf facts and Go's cipher-suite names.
    let info = recorded(
        prometheus,
        "probe_ssl_last_chain_info{target=\"healthy\"}",
        1,
    )
    .await;
    let labels = &info[0]["metric"];
    for name in ["fingerprint_sha256", "serialnumber", "subjectalternative"] {
        assert!(
            labels[name].as_str().is_some_and(|v| !v.is_empty()),
            "probe_ssl_last_chain_info has no {name}: {labels}"
        );
    }
    assert_eq!(labels["subjectalternative"], "healthy.test", "{labels}");
    let cipher = recorded(prometheus, "probe_tls_cipher_info{target=\"healthy\"}", 1).await;
    let name = cipher[0]["metric"]["cipher"].as_str().unwrap_or_default();
    assert!(
        name.starts_with("TLS_") && !name.starts_with("TLS13_"),
        "probe_tls_cipher_info cipher {name:?}"
    );
    let version = recorded(prometheus, "probe_tls_version_info{target=\"healthy\"}", 1).await;
    assert_eq!(version[0]["metric"]["version"], "TLS 1.3", "{version:?}");
}
