//! The HTTP side: formats, compression, health, readiness, reload, removal of series.

use std::time::Duration;

use crate::support::{get, request, Harness, Metrics};

#[tokio::test]
async fn endpoints_answer() {
    let addr = crate::support::ports::closed_port().await;
    let h = Harness::start(&format!(
        "defaults: {{interval: 1s, timeout: 1s}}\ntargets:\n  - name: a\n    address: {addr}\n"
    ))
    .await;
    assert_eq!(get(h.addr(), "/-/healthy", &[]).await.status, 200);
    let index = get(h.addr(), "/", &[]).await;
    assert_eq!(index.status, 200);
    assert!(index.body.contains("/metrics") || index.body.contains("href=\"metrics\""));
    assert_eq!(get(h.addr(), "/nope", &[]).await.status, 404);
    assert_eq!(get(h.addr(), "/-/reload", &[]).await.status, 405);
    h.wait_for_probes(&["a"], Duration::from_secs(10)).await;
    assert_eq!(get(h.addr(), "/-/ready", &[]).await.status, 200);
    h.stop().await;
}

#[tokio::test]
async fn text_openmetrics_and_gzip() {
    let addr = crate::support::ports::closed_port().await;
    let h = Harness::start(&format!(
        "defaults: {{interval: 1s, timeout: 1s}}\ntargets:\n  - name: a\n    address: {addr}\n"
    ))
    .await;
    h.wait_for_probes(&["a"], Duration::from_secs(10)).await;

    let text = get(h.addr(), "/metrics", &[]).await;
    assert_eq!(
        text.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert!(!text.body.contains("# EOF"));
    assert!(text
        .body
        .contains("# TYPE cert_exporter_probes_total counter"));
    assert!(text.body.contains("cert_exporter_build_info{version=\""));

    let om = get(
        h.addr(),
        "/metrics",
        &[(
            "Accept",
            "application/openmetrics-text;version=1.0.0,text/plain;q=0.5",
        )],
    )
    .await;
    assert!(om
        .header("content-type")
        .unwrap()
        .starts_with("application/openmetrics-text"));
    assert!(om.body.trim_end().ends_with("# EOF"));

    let gz = get(h.addr(), "/metrics", &[("Accept-Encoding", "gzip")]).await;
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    let mut plain = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(gz.raw_body.as_slice()),
        &mut plain,
    )
    .unwrap();
    assert!(plain.contains("cert_probe_success{target=\"a\"}"));
    h.stop().await;
}

#[tokio::test]
async fn reload_adds_removes_and_keeps_the_old_config_on_error() {
    let addr = crate::support::ports::closed_port().await;
    let h = Harness::start(&format!(
        "defaults: {{interval: 1s, timeout: 1s}}\ntargets:\n  - name: a\n    address: {addr}\n  - name: b\n    address: {addr}\n"
    ))
    .await;
    h.wait_for_probes(&["a", "b"], Duration::from_secs(10))
        .await;

    // b removed, c added, a unchanged.
    std::fs::write(&h.config_path, format!(
        "defaults: {{interval: 1s, timeout: 1s}}\ntargets:\n  - name: a\n    address: {addr}\n  - name: c\n    address: {addr}\n"
    )).unwrap();
    assert_eq!(
        request(h.addr(), "POST", "/-/reload", &[]).await.status,
        200
    );
    let m = h
        .wait_for_probes(&["a", "c"], Duration::from_secs(10))
        .await;
    assert!(
        m.find("cert_probe_success", &[("target", "b")]).is_empty(),
        "b must lose its series"
    );
    assert_eq!(
        m.value("cert_exporter_config_last_reload_successful", &[]),
        1.0
    );
    assert_eq!(m.value("cert_exporter_targets", &[]), 2.0);

    // A broken config is refused and the running one stays.
    std::fs::write(&h.config_path, "targets: [oops\n").unwrap();
    let r = request(h.addr(), "POST", "/-/reload", &[]).await;
    assert_eq!(r.status, 500);
    assert!(r.body.contains("line"), "{}", r.body);
    let m: Metrics = h.scrape().await;
    assert_eq!(
        m.value("cert_exporter_config_last_reload_successful", &[]),
        0.0
    );
    assert!(m.get("cert_probe_success", &[("target", "a")]).is_some());
    assert!(m.get("cert_probe_success", &[("target", "c")]).is_some());
    h.stop().await;
}
