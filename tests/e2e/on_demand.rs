//! `/probe?target=…`: on-demand probes of real in-process TLS servers, bounded by the allow-list,
//! the shared concurrency limit and request limits.

use std::time::{Duration, Instant};

use crate::support::pki::{Ca, LeafSpec};
use crate::support::tls_server::{self, TlsOptions};
use crate::support::{get, request, Harness, Metrics};

/// A server for `shop.test` behind a private root, which is written to `{dir}/ca.pem`.
async fn shop_server() -> (tls_server::Server, tempfile::TempDir) {
    let root = Ca::root("Probe Root");
    let inter = root.intermediate("Probe Intermediate");
    let leaf = inter.leaf(&LeafSpec::new("shop.test", 30));
    let dir = root.in_temp_dir();
    let server = tls_server::tls(
        vec![leaf.der.clone(), inter.der.clone()],
        leaf.private_key(),
        TlsOptions::default(),
    )
    .await;
    (server, dir)
}

const CONFIG: &str = "defaults:\n  ca_file: {dir}/ca.pem\n  timeout: 5s\nprobe_allow: ['127.0.0.0/8', '*.allowed.test:443']\nmodules:\n  quick: {timeout: 1s}\n  shop: {server_name: shop.test}\n";

#[tokio::test]
async fn probe_returns_that_targets_series_only() {
    let (server, dir) = shop_server().await;
    let yaml = format!(
        "{CONFIG}targets:\n  - name: scheduled\n    address: 127.0.0.1:1\n    interval: 1h\n"
    );
    let h = Harness::start_in(dir, &yaml).await;
    let target = server.addr.to_string();
    let r = get(
        h.addr(),
        &format!("/probe?target={target}&server_name=shop.test"),
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let m = Metrics::parse(&r.body);
    let t = [("target", target.as_str())];
    assert_eq!(m.value("cert_probe_success", &t), 1.0);
    assert_eq!(m.value("cert_chain_valid", &t), 1.0, "{}", m.text);
    let days = m.value("cert_days_to_expiry", &t);
    assert!((29.9..30.1).contains(&days), "{days}");
    // Only this target: no scheduled target's series, no exporter-wide series.
    assert!(
        m.samples
            .iter()
            .all(|s| s.labels.get("target") == Some(&target)),
        "{}",
        m.text
    );
    assert!(!m.text.contains("cert_exporter_"), "{}", m.text);

    // The module's server name is used when the request gives none; without it the
    // IP literal is the name, which the certificate does not cover.
    let r = get(
        h.addr(),
        &format!("/probe?module=shop&target={target}"),
        &[],
    )
    .await;
    assert_eq!(Metrics::parse(&r.body).value("cert_chain_valid", &t), 1.0);
    let r = get(h.addr(), &format!("/probe?target={target}"), &[]).await;
    let m = Metrics::parse(&r.body);
    assert_eq!(
        m.reasons("cert_chain_error_info", &target),
        vec!["hostname_mismatch"]
    );

    // On-demand probes count in the exporter's own probe counter.
    let scraped = h.scrape().await;
    assert!(scraped.value("cert_exporter_probes_total", &[("result", "success")]) >= 3.0);
    h.stop().await;
}

#[tokio::test]
async fn a_module_sets_the_timeout() {
    let (_server, dir) = shop_server().await;
    let silent = tls_server::silent().await;
    let h = Harness::start_in(dir, CONFIG).await;
    let started = Instant::now();
    let r = get(
        h.addr(),
        &format!("/probe?target={}&module=quick", silent.addr),
        &[],
    )
    .await;
    let took = started.elapsed();
    assert_eq!(r.status, 200, "{}", r.body);
    let target = silent.addr.to_string();
    let m = Metrics::parse(&r.body);
    assert_eq!(
        m.value("cert_probe_success", &[("target", target.as_str())]),
        0.0
    );
    assert_eq!(m.reasons("cert_probe_error_info", &target), vec!["timeout"]);
    assert!(
        took < Duration::from_secs(4),
        "the 1s module timeout took {took:?}"
    );
    h.stop().await;
}

#[tokio::test]
async fn bad_requests_and_refused_targets() {
    let (_server, dir) = shop_server().await;
    let h = Harness::start_in(dir, CONFIG).await;
    for (query, status, says) in [
        ("", 400, "target"),
        ("target=nope", 400, "port"),
        ("target=127.0.0.1:443&module=nope", 400, "quick"),
        ("target=127.0.0.1:443&starttls=smtps", 400, "smtp"),
        (
            "target=127.0.0.1:443&servername=x",
            400,
            "unknown parameter",
        ),
        ("target=127.0.0.1:443&target=127.0.0.2:443", 400, "twice"),
        (
            "target=127.0.0.1:443&server_name=bad%20name",
            400,
            "not a DNS name",
        ),
        (
            "target=127.0.0.1:443&server_name=%5B::1%5D",
            400,
            "without brackets",
        ),
        ("target=10.1.2.3:443", 403, "probe_allow"),
        ("target=shop.allowed.test:8443", 403, "probe_allow"),
        ("target=example.com:443", 403, "probe_allow"),
    ] {
        let r = get(h.addr(), &format!("/probe?{query}"), &[]).await;
        assert_eq!(r.status, status, "{query}: {}", r.body);
        assert!(r.body.contains(says), "{query}: {}", r.body);
    }
    let long = format!("/probe?target={}", "a".repeat(5000));
    assert_eq!(get(h.addr(), &long, &[]).await.status, 414);
    h.stop().await;
}

#[tokio::test]
async fn a_request_body_is_refused_when_large() {
    let (server, dir) = shop_server().await;
    let h = Harness::start_in(dir, CONFIG).await;
    let body = "x".repeat(64 * 1024);
    let length = body.len().to_string();
    let mut stream = tokio::net::TcpStream::connect(h.addr()).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let head = format!(
        "GET /probe?target={} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {length}\r\n\r\n",
        server.addr
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let _ = stream.write_all(body.as_bytes()).await;
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    h.stop().await;
}

#[tokio::test]
async fn off_unless_an_allow_list_is_configured() {
    let (server, dir) = shop_server().await;
    let yaml = format!(
        "defaults:\n  ca_file: {{dir}}/ca.pem\ntargets:\n  - address: {}\n    interval: 1h\n",
        server.addr
    );
    let h = Harness::start_in(dir, &yaml).await;
    let r = get(h.addr(), &format!("/probe?target={}", server.addr), &[]).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("off"), "{}", r.body);
    // The endpoint is a GET; other methods are not routed to it.
    let r = request(h.addr(), "POST", "/probe?target=127.0.0.1:1", &[]).await;
    assert_eq!(r.status, 404);
    h.stop().await;
}

#[tokio::test]
async fn probes_share_the_concurrency_limit() {
    let (_server, dir) = shop_server().await;
    let silent = tls_server::silent().await;
    // One slot, held by a scheduled probe of a silent server for its 20s timeout.
    let yaml = format!(
        "defaults:\n  ca_file: {{dir}}/ca.pem\n  concurrency: 1\nprobe_allow: ['127.0.0.0/8']\nmodules:\n  quick: {{timeout: 1s}}\ntargets:\n  - name: hog\n    address: {}\n    interval: 100ms\n    timeout: 20s\n",
        silent.addr
    );
    let h = Harness::start_in(dir, &yaml).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let r = get(
        h.addr(),
        &format!("/probe?target={}&module=quick", silent.addr),
        &[],
    )
    .await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.body.contains("busy"), "{}", r.body);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900),
        "gave up after {took:?}, before its 1s timeout"
    );
    h.stop().await;
}
