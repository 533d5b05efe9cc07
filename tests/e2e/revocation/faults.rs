//! Issue 7's revocation faults: answers that are truncated, of the wrong type, enormous,
//! redirecting in a loop or trickling in; and a CRL host and OCSP responder that are down, come
//! back and go again. Each target reports its reason, keeps its chain's facts and its schedule,
//! and a healthy target in the same exporter stays fresh.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::http::{HttpServer, Route};
use super::responder::{Entry, OcspFiles};
use super::{crl, leaf, serve, World, GOOD};
use crate::robust::{assert_healthy_stays_fresh, healthy_server, healthy_target};
use crate::support::server::Server;
use crate::support::tls_server::TlsOptions;
use crate::support::wait::{probed_again, probed_twice};
use crate::support::{Harness, Metrics};

const WAIT: Duration = Duration::from_secs(30);

/// The `reason`s of `cert_revocation_error_info` of `target` for `source`, sorted.
fn errors_of(m: &Metrics, target: &str, source: &str) -> Vec<String> {
    m.reasons_where(
        "cert_revocation_error_info",
        &[("target", target), ("source", source)],
    )
}

/// Reads one HTTP request (head and `Content-Length` body); false when the client went away.
async fn read_request(stream: &mut TcpStream) -> bool {
    let mut buf = Vec::new();
    let head_end = loop {
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut have = buf.len() - head_end - 4;
    while have < length {
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => have += n,
        }
    }
    true
}

/// Answers every request with a redirect to itself (307 keeps an OCSP POST a POST).
async fn redirect_to_self(mut stream: TcpStream) {
    let Ok(me) = stream.local_addr() else { return };
    while read_request(&mut stream).await {
        let reply = format!(
            "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://{me}/again\r\nContent-Length: 0\r\n\r\n"
        );
        if stream.write_all(reply.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Promises 100,000 bytes and sends one every 200 ms.
async fn trickle_body(mut stream: TcpStream) {
    if !read_request(&mut stream).await {
        return;
    }
    let head = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n";
    if stream.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    for _ in 0..100_000 {
        if stream.write_all(&[0x30]).await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn hostile_revocation_answers_cost_only_their_source() {
    let world = World::new();
    let http = HttpServer::start().await;
    let redirect = Server::raw(redirect_to_self).await;
    let slow = Server::raw(trickle_body).await;
    let files = OcspFiles::by_ca(&world.root, &[Entry::good(GOOD)]);
    let good_crl = crl(&world.root, &[], -1, 7);
    let slow_url = |path: &str| format!("http://{}{path}", slow.addr);
    let loop_url = |path: &str| format!("http://{}{path}", redirect.addr);

    // Each case: a target name, its leaf's OCSP URL and CRL URL.
    let cases: Vec<(&str, Option<String>, Option<String>)> = vec![
        ("ocsp_truncated", Some(http.url("/truncated.ocsp")), None),
        ("ocsp_wrong_type", Some(http.url("/a-crl.ocsp")), None),
        ("ocsp_enormous", Some(http.url("/enormous.ocsp")), None),
        (
            "ocsp_enormous_chunked",
            Some(http.url("/chunked.ocsp")),
            None,
        ),
        ("ocsp_redirect_loop", Some(loop_url("/ocsp")), None),
        ("ocsp_trickle", Some(slow_url("/ocsp")), None),
        ("crl_truncated", None, Some(http.url("/truncated.crl"))),
        ("crl_wrong_type", None, Some(http.url("/a-certificate.crl"))),
        ("crl_redirect_loop", None, Some(loop_url("/root.crl"))),
        ("crl_trickle", None, Some(slow_url("/root.crl"))),
    ];
    let mut servers = Vec::new();
    let mut yaml =
        "defaults:\n  metrics:\n    level: full\n  interval: 1s\n  timeout: 2s\n  ca_file: {dir}/ca.pem\ntargets:\n".to_string();
    for (i, (name, ocsp_url, crl_url)) in cases.iter().enumerate() {
        // A serial of its own: OCSP answers are cached (and fetched once) per issuer and serial.
        let serial = GOOD + 1 + i as u64;
        let leaf = leaf(&world.root, serial, ocsp_url.clone(), crl_url.clone());
        if *name == "ocsp_truncated" {
            let full = files.response_for(&leaf.der);
            http.set(
                "/truncated.ocsp",
                Route::ocsp(full[..full.len() / 2].to_vec()),
            );
        }
        let server = serve(&leaf, &[], TlsOptions::default()).await;
        yaml.push_str(&format!(
            "  - name: {name}\n    address: {}\n    server_name: shop.test\n",
            server.addr
        ));
        servers.push(server);
    }
    http.set("/a-crl.ocsp", Route::ocsp(good_crl.clone()));
    http.set("/enormous.ocsp", Route::ocsp(vec![0x30; 1 << 20]));
    http.set(
        "/chunked.ocsp",
        Route {
            chunked: true,
            ..Route::ocsp(vec![0x30; 1 << 20])
        },
    );
    http.set(
        "/truncated.crl",
        Route::crl(good_crl[..good_crl.len() - 10].to_vec()),
    );
    http.set("/a-certificate.crl", Route::crl(world.root.der.to_vec()));
    let healthy = healthy_server(&world.root).await;
    yaml.push_str(&healthy_target(&healthy));

    let h = Harness::start_in(world.dir, &yaml).await;
    let names: Vec<&str> = cases.iter().map(|(n, ..)| *n).collect();
    let m = probed_twice(&h, &names, WAIT).await;

    let expected = [
        ("ocsp_truncated", "ocsp", "malformed"),
        ("ocsp_wrong_type", "ocsp", "malformed"),
        ("ocsp_enormous", "ocsp", "too_large"),
        ("ocsp_enormous_chunked", "ocsp", "too_large"),
        ("ocsp_redirect_loop", "ocsp", "redirect_loop"),
        ("ocsp_trickle", "ocsp", "timeout"),
        ("crl_truncated", "crl", "malformed"),
        ("crl_wrong_type", "crl", "malformed"),
        ("crl_redirect_loop", "crl", "redirect_loop"),
        ("crl_trickle", "crl", "timeout"),
    ];
    for (target, source, reason) in expected {
        assert_eq!(
            errors_of(&m, target, source),
            [reason],
            "{target}: {}",
            m.text
        );
        let l = [("target", target), ("source", source)];
        assert!(m.find("cert_revoked", &l).is_empty(), "{target}");
        // The chain is still judged and reported, whatever revocation said.
        assert_eq!(m.value("cert_chain_valid", &[("target", target)]), 1.0);
        assert_eq!(m.value("cert_probe_success", &[("target", target)]), 1.0);
    }
    // A trickle costs the revocation budget (the timeout, 2 s), not more.
    for target in ["ocsp_trickle", "crl_trickle"] {
        let spent = m.value(
            "cert_probe_duration_seconds",
            &[("target", target), ("phase", "revocation")],
        );
        assert!((1.9..3.0).contains(&spent), "{target}: {spent} s");
    }
    // The redirect loop was followed a bounded number of times per probe, not forever.
    assert_healthy_stays_fresh(&h).await;
    drop(servers);
    h.stop().await;
}

#[tokio::test]
async fn responder_and_crl_host_down_then_back_then_down_again() {
    let world = World::new();
    // A port with nothing on it now, where the server will come back.
    let port: SocketAddr = crate::support::ports::closed_port().await;
    let url = |path: &str| format!("http://{port}{path}");
    let files = OcspFiles::by_ca(&world.root, &[Entry::good(GOOD)]);
    let ocsp_leaf = leaf(&world.root, GOOD, Some(url("/ocsp")), None);
    let crl_leaf = leaf(&world.root, GOOD, None, Some(url("/root.crl")));
    let ocsp_server = serve(&ocsp_leaf, &[], TlsOptions::default()).await;
    let crl_server = serve(&crl_leaf, &[], TlsOptions::default()).await;
    let yaml = format!(
        "defaults:\n  metrics:\n    level: full\n  interval: 1s\n  timeout: 2s\n  ca_file: {{dir}}/ca.pem\ntargets:\n  - name: ocsp\n    address: {}\n    server_name: shop.test\n  - name: crl\n    address: {}\n    server_name: shop.test\n",
        ocsp_server.addr, crl_server.addr
    );
    let h = Harness::start_in(world.dir, &yaml).await;

    // Down: every probe reports it, on schedule, and the chain is still valid.
    for target in ["ocsp", "crl"] {
        let m = probed_again(&h, target, 2, WAIT).await;
        assert_eq!(errors_of(&m, target, target), ["unreachable"], "{}", m.text);
        assert_eq!(m.value("cert_chain_valid", &[("target", target)]), 1.0);
    }

    // Back on the same port: the next probes get verified answers.
    let http = HttpServer::start_at(port).await;
    http.set("/ocsp", Route::ocsp(files.response_for(&ocsp_leaf.der)));
    http.set("/root.crl", Route::crl(crl(&world.root, &[], -1, 7)));
    let revoked = |m: &Metrics, t: &str| m.get("cert_revoked", &[("target", t), ("source", t)]);
    let m = h
        .wait_until(WAIT, |m| {
            revoked(m, "ocsp") == Some(0.0) && revoked(m, "crl") == Some(0.0)
        })
        .await;
    assert!(errors_of(&m, "ocsp", "ocsp").is_empty(), "{}", m.text);
    assert!(errors_of(&m, "crl", "crl").is_empty(), "{}", m.text);

    // Down again: the answers in hand are fresh until their nextUpdate, so probes go on using
    // them without asking (and without an error).
    // The canned server takes no GET (its OCSP route is /ocsp itself): one refused GET, then
    // the POST.
    let asked = (
        http.requests("/ocsp"),
        http.requests("/root.crl"),
        http.total(),
    );
    drop(http);
    for target in ["ocsp", "crl"] {
        let m = probed_again(&h, target, 2, WAIT).await;
        assert_eq!(revoked(&m, target), Some(0.0), "{}", m.text);
        assert!(errors_of(&m, target, target).is_empty(), "{}", m.text);
    }
    assert_eq!(
        asked,
        (1, 1, 3),
        "one OCSP answer and one CRL download in all"
    );
    h.stop().await;
}
