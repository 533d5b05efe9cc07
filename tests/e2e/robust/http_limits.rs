//! The HTTP endpoint against clients that misbehave, each a raw TCP client: headers too large,
//! too many headers, a client that trickles its headers (slow loris), an oversized body on
//! `/-/reload`, and hundreds of idle connections. The endpoint answers or closes each within its
//! limits, keeps serving scrapes, and the probes go on.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use cert_expiry_exporter::server::MAX_CONNECTIONS;

use super::{assert_healthy_stays_fresh, healthy_server, healthy_target};
use crate::support::pki::Ca;
use crate::support::{get, Harness};

/// The server's header read timeout (src/server/mod.rs), and the slack allowed over it.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
const SLACK: Duration = Duration::from_secs(3);

/// An exporter with one healthy target.
async fn exporter() -> (Harness, crate::support::tls_server::Server) {
    let root = Ca::root("Limits Root");
    let dir = root.in_temp_dir();
    let server = healthy_server(&root).await;
    let yaml = format!(
        "defaults:\n  interval: 1s\n  timeout: 2s\n  ca_file: {{dir}}/ca.pem\ntargets:\n{}",
        healthy_target(&server)
    );
    (Harness::start_in(dir, &yaml).await, server)
}

/// Writes `request` (tolerating the server closing early) and reads until the server closes,
/// which must happen within `limit`. Returns the status code of the answer, if one came.
async fn exchange(addr: SocketAddr, request: &[u8], limit: Duration) -> Option<u16> {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let _ = stream.write_all(request).await;
    let mut raw = Vec::new();
    let ended = tokio::time::timeout(limit, stream.read_to_end(&mut raw)).await;
    assert!(
        ended.is_ok(),
        "the server neither answered nor closed within {limit:?}"
    );
    String::from_utf8_lossy(&raw)
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
}

/// A scrape still works.
async fn scrape_ok(h: &Harness) {
    let r = get(h.addr(), "/metrics", &[]).await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("cert_exporter_targets"));
}

#[tokio::test]
async fn oversized_headers_and_too_many_headers_are_refused() {
    let (h, _server) = exporter().await;
    let long_header = format!(
        "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Padding: {}\r\n\r\n",
        "a".repeat(200 * 1024)
    );
    let long_path = format!(
        "GET /{} HTTP/1.1\r\nHost: x\r\n\r\n",
        "a".repeat(200 * 1024)
    );
    let mut many = String::from("GET /metrics HTTP/1.1\r\nHost: x\r\n");
    for i in 0..500 {
        many.push_str(&format!("X-H{i}: v\r\n"));
    }
    many.push_str("\r\n");
    for (what, request) in [
        ("a 200 KiB header", long_header),
        ("a 200 KiB path", long_path),
        ("500 headers", many),
    ] {
        let status = exchange(h.addr(), request.as_bytes(), Duration::from_secs(5)).await;
        assert!(
            matches!(status, None | Some(400) | Some(414) | Some(431)),
            "{what}: answered {status:?}"
        );
        scrape_ok(&h).await;
    }
    h.stop().await;
}

#[tokio::test]
async fn a_slow_loris_is_cut_off_at_the_header_timeout() {
    let (h, _server) = exporter().await;
    let mut stream = TcpStream::connect(h.addr()).await.expect("connect");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    // One header byte every half second: never a complete request head.
    let cut_off = loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if stream.write_all(b"X").await.is_err() {
            break started.elapsed();
        }
        let mut buf = [0u8; 256];
        match tokio::time::timeout(Duration::from_millis(1), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break started.elapsed(),
            Ok(Ok(_)) => break started.elapsed(), // an error answer; closed next
            Err(_) => {}
        }
        assert!(
            started.elapsed() < HEADER_TIMEOUT + SLACK,
            "a trickling client still connected after {:?}",
            started.elapsed()
        );
        // Meanwhile other clients are served.
        if started.elapsed().as_secs() % 3 == 0 {
            scrape_ok(&h).await;
        }
    };
    assert!(
        cut_off >= HEADER_TIMEOUT - SLACK,
        "cut off after {cut_off:?}"
    );
    println!("slow loris cut off after {:.1} s", cut_off.as_secs_f64());
    assert_healthy_stays_fresh(&h).await;
    h.stop().await;
}

#[tokio::test]
async fn reload_refuses_a_body_over_64_kib_and_reloads_nothing() {
    let (h, _server) = exporter().await;
    let reloads = |m: &crate::support::Metrics| {
        m.value(
            "cert_exporter_config_last_reload_success_timestamp_seconds",
            &[],
        )
    };
    let before = reloads(&h.scrape().await);
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let body = vec![b'x'; 100 * 1024];
    let mut request = format!(
        "POST /-/reload HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    let status = exchange(h.addr(), &request, Duration::from_secs(5)).await;
    assert_eq!(status, Some(413));
    assert_eq!(reloads(&h.scrape().await), before, "nothing was reloaded");

    // Just under the limit is drained, and the reload happens.
    let body = vec![b'x'; 60 * 1024];
    let mut request = format!(
        "POST /-/reload HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    let status = exchange(h.addr(), &request, Duration::from_secs(5)).await;
    assert_eq!(status, Some(200));
    assert!(reloads(&h.scrape().await) > before);
    h.stop().await;
}

#[tokio::test]
async fn idle_connections_are_capped_and_reaped() {
    let (h, _server) = exporter().await;
    let probes = |m: &crate::support::Metrics| {
        m.get("cert_exporter_probes_total", &[("result", "success")])
            .unwrap_or(0.0)
    };
    let before = probes(&h.wait_until(super::WAIT, |m| probes(m) >= 1.0).await);
    let extra = 88;
    let mut idle = Vec::new();
    for _ in 0..MAX_CONNECTIONS + extra {
        idle.push(TcpStream::connect(h.addr()).await.expect("connect"));
    }
    let opened = Instant::now();
    // Past the cap, connections are closed at once: count those that are.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut closed_at_once = 0;
    for stream in &mut idle {
        let mut buf = [0u8; 16];
        if let Ok(Ok(0)) | Ok(Err(_)) =
            tokio::time::timeout(Duration::from_millis(1), stream.read(&mut buf)).await
        {
            closed_at_once += 1;
        }
    }
    assert!(
        closed_at_once >= extra,
        "{closed_at_once} of {} idle connections closed at once; at least {extra} should be",
        idle.len()
    );

    // Idle ones are closed at the header timeout.
    for stream in &mut idle {
        let mut buf = [0u8; 16];
        let left = (HEADER_TIMEOUT + SLACK).saturating_sub(opened.elapsed());
        let outcome = tokio::time::timeout(left, stream.read(&mut buf)).await;
        assert!(
            matches!(outcome, Ok(Ok(0)) | Ok(Err(_))),
            "an idle connection still open after {:?}",
            opened.elapsed()
        );
    }
    let held = opened.elapsed();
    drop(idle);
    // Then scrapes are served again, and the probes went on all along (every second).
    scrape_ok(&h).await;
    let m = h.scrape().await;
    assert!(
        probes(&m) >= before + held.as_secs_f64() - 3.0,
        "{} probes before, {} after {held:?} of idle connections",
        before,
        probes(&m)
    );
    println!(
        "{} idle connections: {closed_at_once} closed at once, the rest after {:.1} s",
        MAX_CONNECTIONS + extra,
        held.as_secs_f64()
    );
    assert_healthy_stays_fresh(&h).await;
    h.stop().await;
}
