//! Servers that send what no sane server sends: absurd dates, thousands of names, a 50-certificate
//! chain, a 1 MiB certificate message, garbage, a handshake cut off halfway, bytes trickled one at
//! a time. Each target reports a reason (or its odd facts); none panics, none outlasts its
//! timeout, and a healthy target in the same exporter stays fresh.

use std::time::Duration;

use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{assert_healthy_stays_fresh, healthy_server, healthy_target, reasons, WAIT};
use crate::support::pki::{Ca, LeafSpec};
use crate::support::server::Server;
use crate::support::tls_server::{self, TlsOptions};
use crate::support::wait::probed_twice;
use crate::support::Harness;

/// The probe timeout of every hostile target.
const TIMEOUT_SECONDS: f64 = 2.0;

/// Reads the client's first TLS record (its ClientHello), so that answers come after it.
async fn read_client_hello(stream: &mut TcpStream) -> bool {
    let mut header = [0u8; 5];
    if stream.read_exact(&mut header).await.is_err() {
        return false;
    }
    let len = u16::from_be_bytes([header[3], header[4]]) as usize;
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).await.is_ok()
}

/// A TLS 1.2 ServerHello record choosing ECDHE-ECDSA-AES128-GCM-SHA256, no extensions: what a
/// real server says first, so the client goes on to wait for the certificates.
fn server_hello() -> Vec<u8> {
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&[0x5a; 32]); // random
    body.push(0); // no session id
    body.extend_from_slice(&[0xc0, 0x2b]); // TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
    body.push(0); // no compression
    let mut handshake = vec![0x02, 0, 0, body.len() as u8];
    handshake.extend(body);
    record(0x16, &handshake)
}

/// One TLS record of `kind` (0x16: handshake) holding `payload` (at most 16 KiB).
fn record(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut r = vec![kind, 0x03, 0x03];
    r.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    r.extend_from_slice(payload);
    r
}

/// After the ServerHello, a Certificate handshake message of 1 MiB, in 16 KiB records.
async fn huge_certificate_message(mut stream: TcpStream) {
    if !read_client_hello(&mut stream).await {
        return;
    }
    let _ = stream.write_all(&server_hello()).await;
    let size = 1 << 20;
    let mut message = vec![0x0b, (size >> 16) as u8, (size >> 8) as u8, size as u8];
    message.resize(4 + size, 0x30);
    for chunk in message.chunks(16 * 1024) {
        if stream.write_all(&record(0x16, chunk)).await.is_err() {
            return;
        }
    }
    let _ = stream.read(&mut [0u8; 64]).await;
}

/// An SSH banner where a ServerHello belongs (a port mix-up).
async fn ssh_banner(mut stream: TcpStream) {
    let _ = read_client_hello(&mut stream).await;
    let _ = stream
        .write_all(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")
        .await;
    let _ = stream.read(&mut [0u8; 64]).await;
}

/// Bytes that are no protocol at all, not even a TLS record header.
async fn random_garbage(mut stream: TcpStream) {
    let _ = read_client_hello(&mut stream).await;
    let junk: Vec<u8> = (0..4096).map(|_| fastrand::u8(..)).collect();
    let _ = stream.write_all(&junk).await;
    let _ = stream.read(&mut [0u8; 64]).await;
}

/// Half a ServerHello, then the connection closes.
async fn close_mid_handshake(mut stream: TcpStream) {
    if read_client_hello(&mut stream).await {
        let hello = server_hello();
        let _ = stream.write_all(&hello[..hello.len() / 2]).await;
    }
    let _ = stream.shutdown().await;
}

/// A ServerHello and then a Certificate message, one byte every 200 ms: never done in time.
async fn trickle(mut stream: TcpStream) {
    if !read_client_hello(&mut stream).await {
        return;
    }
    let mut bytes = server_hello();
    bytes.extend(record(0x16, &[0x0b, 0x00, 0x3f, 0xfc]));
    bytes.resize(bytes.len() + 16 * 1024, 0x30);
    for b in bytes {
        if stream.write_all(&[b]).await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A leaf valid from `from` to `to`, served with the root as its only issuer.
async fn serve_dated(root: &Ca, name: &str, from: i64, to: i64) -> tls_server::Server {
    let at = |t| OffsetDateTime::from_unix_timestamp(t).expect("a representable date");
    let leaf = root.leaf(&LeafSpec::new(name, 1).valid(at(from), at(to)));
    tls_server::serve_leaf(&leaf).await
}

/// A leaf under a chain of `depth` intermediates, all sent.
async fn serve_long_chain(root: &Ca, depth: usize) -> tls_server::Server {
    let mut cas = vec![root.intermediate("Deep 1")];
    for i in 2..=depth {
        let next = cas.last().expect("one").intermediate(&format!("Deep {i}"));
        cas.push(next);
    }
    let leaf = cas
        .last()
        .expect("one")
        .leaf(&LeafSpec::new("deep.test", 30));
    let mut chain = vec![leaf.der.clone()];
    chain.extend(cas.iter().rev().map(|ca| ca.der.clone()));
    tls_server::tls(chain, leaf.private_key(), TlsOptions::default()).await
}

#[tokio::test]
async fn hostile_servers_cost_only_themselves() {
    let root = Ca::root("Hostile Root");
    let dir = root.in_temp_dir();

    // 9999-12-31T23:59:59Z, the last moment X.509 can say; 1950 to the last second of 1969.
    let far_future = serve_dated(&root, "future.test", 0, 253_402_300_799).await;
    let before_epoch = serve_dated(&root, "past.test", -631_152_000, -1).await;
    let names: Vec<String> = (0..2000).map(|i| format!("host-{i}.many.test")).collect();
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let many = root.leaf(&LeafSpec::new("x", 30).names(&name_refs));
    let many_sans = tls_server::serve_leaf(&many).await;
    let long_chain = serve_long_chain(&root, 49).await;
    let huge = Server::raw(huge_certificate_message).await;
    let ssh = Server::raw(ssh_banner).await;
    let garbage = Server::raw(random_garbage).await;
    let cut = Server::raw(close_mid_handshake).await;
    let slow = Server::raw(trickle).await;
    let healthy = healthy_server(&root).await;

    let mut yaml = format!(
        "defaults:\n  metrics:\n    level: full\n  interval: 1s\n  timeout: {TIMEOUT_SECONDS}s\n  ca_file: {{dir}}/ca.pem\n  revocation: {{ocsp: false, crl: false}}\ntargets:\n"
    );
    let targets = [
        ("far_future", far_future.addr, "future.test"),
        ("before_epoch", before_epoch.addr, "past.test"),
        ("many_sans", many_sans.addr, "host-1999.many.test"),
        ("long_chain", long_chain.addr, "deep.test"),
        ("huge_certificate", huge.addr, "huge.test"),
        ("ssh_banner", ssh.addr, "ssh.test"),
        ("garbage", garbage.addr, "garbage.test"),
        ("mid_close", cut.addr, "cut.test"),
        ("trickle", slow.addr, "slow.test"),
    ];
    for (name, addr, sni) in &targets {
        yaml.push_str(&format!(
            "  - name: {name}\n    address: {addr}\n    server_name: {sni}\n"
        ));
    }
    yaml.push_str(&healthy_target(&healthy));
    let h = Harness::start_in(dir, &yaml).await;
    let names: Vec<&str> = targets.iter().map(|(n, ..)| *n).collect();
    let m = probed_twice(&h, &names, WAIT).await;

    // Absurd dates are facts like any other: exported as they are.
    assert!(reasons(&m, "far_future").is_empty(), "{}", m.text);
    assert_eq!(
        m.value("cert_chain_valid", &[("target", "far_future")]),
        1.0
    );
    assert_eq!(
        m.value("cert_expiry_timestamp_seconds", &[("target", "far_future")]),
        253_402_300_799.0
    );
    assert!(m.value("cert_days_to_expiry", &[("target", "far_future")]) > 2_900_000.0);
    assert_eq!(
        m.value(
            "cert_not_before_timestamp_seconds",
            &[("target", "before_epoch"), ("position", "0")]
        ),
        -631_152_000.0
    );
    assert_eq!(
        m.value(
            "cert_expiry_timestamp_seconds",
            &[("target", "before_epoch")]
        ),
        -1.0
    );
    assert!(m.value("cert_days_to_expiry", &[("target", "before_epoch")]) < -20_000.0);
    // webpki cannot represent a time before 1970 and refuses such a certificate as malformed,
    // as every rustls client would; our own dates are exact all the same.
    assert_eq!(
        m.reasons("cert_chain_error_info", "before_epoch"),
        ["expired", "malformed_certificate"]
    );

    // Two thousand names: all in the facts, and the last one is matched; the label that lists
    // them is cut at the default cap on label values (1,024 bytes), ending in the marker and
    // the digest of the whole list, so the page stays bounded.
    assert_eq!(m.value("cert_chain_valid", &[("target", "many_sans")]), 1.0);
    let info = m.find("cert_info", &[("target", "many_sans")]);
    assert_eq!(info.len(), 1);
    let names = &info[0].labels["dns_names"];
    assert!(names.len() <= 1024, "{} bytes", names.len());
    assert!(names.starts_with("host-0.many.test,"), "{names}");
    let (_, digest) = names.rsplit_once('…').expect("the cut marker");
    assert_eq!(digest.len(), 8, "{names}");

    // Fifty certificates: every one reported by position, and the path judged.
    let positions = m.find(
        "cert_not_after_timestamp_seconds",
        &[("target", "long_chain")],
    );
    assert_eq!(positions.len(), 50, "{}", m.text);
    assert_eq!(
        m.value("cert_probe_success", &[("target", "long_chain")]),
        1.0
    );
    assert!(reasons(&m, "long_chain").is_empty(), "{}", m.text);
    // webpki builds paths of at most six intermediates; a longer one is refused by every
    // rustls client, and reported as `invalid` (the log line says "maximum path depth").
    assert_eq!(
        m.value("cert_chain_valid", &[("target", "long_chain")]),
        0.0
    );
    assert_eq!(
        m.reasons("cert_chain_error_info", "long_chain"),
        ["invalid"]
    );

    // What is not TLS fails the handshake, fast; what is too slow fails at the timeout. A
    // certificate message over rustls's 64 KiB limit is named for what it is.
    for (t, reason) in [
        ("huge_certificate", "certificate_too_large"),
        ("ssh_banner", "tls_handshake"),
        ("garbage", "tls_handshake"),
        ("mid_close", "tls_handshake"),
    ] {
        assert_eq!(reasons(&m, t), [reason], "{t}: {}", m.text);
        assert_eq!(m.value("cert_probe_success", &[("target", t)]), 0.0);
        let total = m.value(
            "cert_probe_duration_seconds",
            &[("target", t), ("phase", "total")],
        );
        assert!(total < 1.0, "{t} took {total} s to fail");
    }
    assert_eq!(reasons(&m, "trickle"), ["timeout"], "{}", m.text);
    let total = m.value(
        "cert_probe_duration_seconds",
        &[("target", "trickle"), ("phase", "total")],
    );
    assert!(
        (TIMEOUT_SECONDS - 0.1..TIMEOUT_SECONDS + 1.0).contains(&total),
        "a trickling server held the probe {total} s with a {TIMEOUT_SECONDS} s timeout"
    );

    assert_healthy_stays_fresh(&h).await;
    h.stop().await;
}
