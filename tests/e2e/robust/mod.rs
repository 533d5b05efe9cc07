//! Issue 7: the exporter holds up under bad input, faults and load, and lets no one in.
//!
//! Every hostile case runs next to a healthy target in the same exporter, and the healthy one
//! must keep being probed and reported ([`assert_healthy_stays_fresh`]): a bad target may only
//! ever cost itself.

mod binary;
mod config_table;
mod dns;
mod files;
mod fuzz_replay;
mod hostile_servers;
mod http_limits;
mod properties;

use std::time::Duration;

use crate::support::pki::{Ca, LeafSpec};
use crate::support::tls_server;
use crate::support::{Harness, Metrics};

/// How long any condition may take to come true.
pub const WAIT: Duration = Duration::from_secs(30);

/// A valid TLS server for `healthy.test`, signed by `root` (the exporter's `ca_file`).
pub async fn healthy_server(root: &Ca) -> tls_server::Server {
    let leaf = root.leaf(&LeafSpec::new("healthy.test", 90));
    tls_server::serve_leaf(&leaf).await
}

/// The YAML entry of the healthy target for `server`.
pub fn healthy_target(server: &tls_server::Server) -> String {
    format!(
        "  - name: healthy\n    address: {}\n    server_name: healthy.test\n",
        server.addr
    )
}

/// Waits until the healthy target has been probed at least twice more, successfully and with a
/// valid chain, and returns the last scrape. Its interval must be 1 s.
pub async fn assert_healthy_stays_fresh(h: &Harness) -> Metrics {
    let ts = |m: &Metrics| m.get("cert_probe_timestamp_seconds", &[("target", "healthy")]);
    let first = h.wait_until(WAIT, |m| ts(m).is_some()).await;
    let start = ts(&first).unwrap_or_default();
    let m = h
        .wait_until(WAIT, |m| ts(m).is_some_and(|t| t >= start + 2.0))
        .await;
    assert_eq!(
        m.value("cert_probe_success", &[("target", "healthy")]),
        1.0,
        "{}",
        m.text
    );
    assert_eq!(
        m.value("cert_chain_valid", &[("target", "healthy")]),
        1.0,
        "{}",
        m.text
    );
    assert!(m.reasons("cert_probe_error_info", "healthy").is_empty());
    m
}

/// The `reason`s of `cert_probe_error_info` of `target`, sorted.
pub fn reasons(m: &Metrics, target: &str) -> Vec<String> {
    m.reasons("cert_probe_error_info", target)
}
