//! The first seconds after a start or a reload: every target is probed at once (not spread over
//! its first interval), and `/-/ready` says 503, with how many targets are pending, until every
//! target has its first result or its first probe's timeout has passed.
//!
//! The intervals are ten minutes. Before the first probes were immediate they were spread at
//! random over that interval, so that several targets all reporting within the generous `WAIT`
//! below was a matter of luck (about one chance in 10^5 for five targets).

use std::time::{Duration, Instant};

use crate::support::tls_server;
use crate::support::{get, request, write, Harness, Metrics};

/// Far more than a few loopback probes need, far less than the ten-minute interval.
const WAIT: Duration = Duration::from_secs(60);

/// Healthy targets (one TLS server, several names) in each test.
const WEB: [&str; 5] = ["web0", "web1", "web2", "web3", "web4"];

fn web_targets(addr: &str, names: &[&str]) -> String {
    names
        .iter()
        .map(|name| format!("  - name: {name}\n    address: {addr}\n    server_name: shop.test\n"))
        .collect()
}

const DEFAULTS: &str = "defaults:\n  interval: 10m\n  timeout: 3s\n  ca_file: {dir}/ca.pem\n";

/// Polls `/-/ready` until it answers 200, or panics after `WAIT` with the last answer.
async fn wait_ready(h: &Harness) {
    let start = Instant::now();
    loop {
        let r = get(h.addr(), "/-/ready", &[]).await;
        if r.status == 200 {
            assert_eq!(r.body, "Ready.\n");
            return;
        }
        assert_eq!(r.status, 503, "{}", r.body);
        assert!(
            start.elapsed() < WAIT,
            "not ready within {WAIT:?}: {}",
            r.body
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn healthy(m: &Metrics, names: &[&str]) {
    for name in names {
        assert_eq!(
            m.value("cert_probe_success", &[("target", name)]),
            1.0,
            "{name}:\n{}",
            m.text
        );
        assert_eq!(m.value("cert_chain_valid", &[("target", name)]), 1.0);
    }
}

#[tokio::test]
async fn every_target_is_probed_at_start_and_ready_waits_for_the_last() {
    let (server, dir) = tls_server::shop_server("Startup Root").await;
    let silent = tls_server::silent().await;
    let closed = crate::support::ports::closed_port().await;
    // `dead` accepts and never answers: its first probe holds readiness for its 10 s timeout,
    // then counts as done (with reason `timeout`). `closed` is refused at once.
    let yaml = format!(
        "{DEFAULTS}targets:\n{}  - name: dead\n    address: {}\n    timeout: 10s\n  - name: closed\n    address: {closed}\n",
        web_targets(&server.addr.to_string(), &WEB),
        silent.addr,
    );
    let h = Harness::start_in(dir, &yaml).await;

    let r = get(h.addr(), "/-/ready", &[]).await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(
        r.body.starts_with("Not ready: ") && r.body.contains(" pending"),
        "{}",
        r.body
    );

    let mut all: Vec<&str> = WEB.to_vec();
    all.push("closed");
    let m = h.wait_for_probes(&all, WAIT).await;
    healthy(&m, &WEB);
    assert_eq!(m.value("cert_probe_success", &[("target", "closed")]), 0.0);

    wait_ready(&h).await;
    let m = h.scrape().await;
    assert_eq!(
        m.reasons("cert_probe_error_info", "dead"),
        vec!["timeout".to_string()],
        "{}",
        m.text
    );
    h.stop().await;
}

#[tokio::test]
async fn the_body_counts_the_pending_targets() {
    let silent = tls_server::silent().await;
    // Three targets whose first probes cannot finish for a minute: all three stay pending.
    let yaml = format!(
        "defaults:\n  interval: 10m\n  timeout: 60s\ntargets:\n{}",
        (0..3)
            .map(|i| format!("  - name: dead{i}\n    address: {}\n", silent.addr))
            .collect::<String>()
    );
    let h = Harness::start(&yaml).await;
    let r = get(h.addr(), "/-/ready", &[]).await;
    assert_eq!(r.status, 503);
    assert!(r.body.contains("3 targets pending"), "{}", r.body);
    h.stop().await;
}

#[tokio::test]
async fn targets_added_by_a_reload_are_probed_at_once_and_ready_stays_200() {
    let (server, dir) = tls_server::shop_server("Startup Root").await;
    let silent = tls_server::silent().await;
    let addr = server.addr.to_string();
    let h = Harness::start_in(
        dir,
        &format!("{DEFAULTS}targets:\n{}", web_targets(&addr, &["first"])),
    )
    .await;
    h.wait_for_probes(&["first"], WAIT).await;
    wait_ready(&h).await;

    // Five new targets and one that never answers (its first probe runs for a minute).
    let yaml = format!(
        "{DEFAULTS}targets:\n{}  - name: dead\n    address: {}\n    timeout: 60s\n",
        web_targets(&addr, &[&["first"][..], &WEB[..]].concat()),
        silent.addr,
    );
    std::fs::write(
        &h.config_path,
        yaml.replace("{dir}", &h.dir.path().display().to_string()),
    )
    .unwrap();
    assert_eq!(
        request(h.addr(), "POST", "/-/reload", &[]).await.status,
        200
    );
    // A serving exporter stays in rotation while the new targets get their first results.
    assert_eq!(get(h.addr(), "/-/ready", &[]).await.status, 200);
    let m = h.wait_for_probes(&WEB, WAIT).await;
    healthy(&m, &WEB);
    h.stop().await;
}

#[tokio::test]
async fn targets_from_a_target_file_are_probed_at_once() {
    let (server, dir) = tls_server::shop_server("Startup Root").await;
    let addr = server.addr.to_string();
    let yaml = format!(
        "{DEFAULTS}target_files: [targets/*.yaml]\ntarget_files_refresh_interval: 200ms\ntargets:\n{}",
        web_targets(&addr, &["main"])
    );
    let h = Harness::start_in(dir, &yaml).await;
    h.wait_for_probes(&["main"], WAIT).await;
    write(
        &h.path("targets"),
        "a.yaml",
        &format!("targets:\n{}", web_targets(&addr, &WEB)),
    );
    let m = h.wait_for_probes(&WEB, WAIT).await;
    healthy(&m, &WEB);
    h.stop().await;
}
