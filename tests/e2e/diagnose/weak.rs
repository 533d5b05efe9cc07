//! Weak cryptography served for real: a SHA-1-signed leaf and an RSA-1024 leaf (made and
//! served by openssl), and an 800-day leaf from a private CA, which is not flagged.

use std::time::Duration;

use time::OffsetDateTime;

use crate::support::pki::{Ca, LeafSpec};
use crate::support::tls_server;
use crate::support::{write, Harness, Metrics};

use crate::support::binary::{check_json, check_text};
use crate::support::openssl::{s_server, OpensslCa};

const WAIT: Duration = Duration::from_secs(20);

async fn probe_one(addr: std::net::SocketAddr, name: &str, ca: &str) -> (Harness, Metrics) {
    let yaml = format!(
        "defaults:\n  metrics:\n    level: full\n  interval: 1s\n  timeout: 5s\ntargets:\n  - name: t\n    address: {addr}\n    server_name: {name}\n    ca_file: {ca}\n"
    );
    let h = Harness::start(&yaml).await;
    let m = h.wait_for_probes(&["t"], WAIT).await;
    (h, m)
}

fn weak_reasons(m: &Metrics) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = m
        .find("cert_weak_crypto_info", &[("target", "t")])
        .iter()
        .map(|s| (s.labels["position"].clone(), s.labels["reason"].clone()))
        .collect();
    found.sort();
    found
}

#[tokio::test]
async fn sha1_signed_leaf_is_flagged_and_breaks_the_chain() {
    let ca = OpensslCa::new().await;
    let (cert, key) = ca.leaf("sha1", "weak.test", 2048, "sha1").await;
    let server = s_server(ca.dir.path(), &cert, &key, &[]).await;
    let ca_pem = ca.path("ca.pem").display().to_string();
    let (h, m) = probe_one(server.addr, "weak.test", &ca_pem).await;
    assert_eq!(
        weak_reasons(&m),
        [("0".to_string(), "sha1_signature".to_string())],
        "{}",
        m.text
    );
    let info = &m.find("cert_info", &[("target", "t"), ("position", "0")])[0];
    assert_eq!(info.labels["signature_algorithm"], "sha1WithRSAEncryption");
    assert_eq!(
        m.reasons("cert_chain_error_info", "t"),
        ["unsupported_signature_algorithm"]
    );
    h.stop().await;

    let addr = server.addr.to_string();
    let args = ["--server-name", "weak.test", "--ca-file", &ca_pem, &addr];
    let run = check_text(&args).await;
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    for line in [
        "        key      RSA 2048 bits, signed with sha1WithRSAEncryption\n",
        "    ! attention  the leaf (CN=weak.test) is signed with SHA-1 (sha1WithRSAEncryption)\n",
        "                 → reissue it signed with SHA-256 or better\n",
        "    ✘ broken     a signature in the chain uses an algorithm or key modern clients reject",
    ] {
        assert!(
            run.stdout.contains(line),
            "missing {line:?} in:\n{}",
            run.stdout
        );
    }
    let (code, doc) = check_json(&args).await;
    assert_eq!(code, 2);
    let r = &doc["results"][0];
    assert_eq!(r["certificates"][0]["weaknesses"][0], "sha1_signature");
    assert_eq!(r["chain_errors"][0], "unsupported_signature_algorithm");
    assert!(r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["code"] == "sha1_signature" && f["severity"] == "attention"));
}

#[tokio::test]
async fn rsa_1024_leaf_is_flagged_even_when_the_handshake_is_refused() {
    let ca = OpensslCa::new().await;
    let (cert, key) = ca.leaf("rsa1024", "short.test", 1024, "sha256").await;
    let server = s_server(ca.dir.path(), &cert, &key, &["-no_tls1", "-no_tls1_1"]).await;
    let ca_pem = ca.path("ca.pem").display().to_string();
    let (h, m) = probe_one(server.addr, "short.test", &ca_pem).await;
    assert_eq!(
        weak_reasons(&m),
        [("0".to_string(), "rsa_key_lt_2048".to_string())],
        "{}",
        m.text
    );
    let info = &m.find("cert_info", &[("target", "t"), ("position", "0")])[0];
    assert_eq!(info.labels["key_bits"], "1024");
    // rustls refuses the handshake signature of a 1024-bit key; the chain was still read.
    assert_eq!(
        m.reasons("cert_probe_error_info", "t"),
        ["tls_server_signature"]
    );
    assert_eq!(m.value("cert_probe_success", &[("target", "t")]), 1.0);
    // No rustls client accepts the key: the chain is not valid either (issue 11).
    assert_eq!(
        m.reasons("cert_chain_error_info", "t"),
        ["weak_key"],
        "{}",
        m.text
    );
    assert_eq!(m.value("cert_chain_valid", &[("target", "t")]), 0.0);
    h.stop().await;

    let addr = server.addr.to_string();
    let run = check_text(&["--server-name", "short.test", "--ca-file", &ca_pem, &addr]).await;
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("    ! attention  the leaf (CN=short.test) has an RSA key of 1024 bits\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(
            "    ✘ broken     modern clients refuse the server's key or handshake signature"
        ),
        "{}",
        run.stdout
    );
}

#[tokio::test]
async fn long_lived_leaf_from_a_private_ca_is_not_flagged() {
    let root = Ca::root("Private Root");
    let now = OffsetDateTime::now_utc();
    let spec = LeafSpec::new("long.test", 0).valid(
        now - time::Duration::days(1),
        now + time::Duration::days(799),
    );
    let leaf = root.leaf(&spec);
    let server = tls_server::serve_leaf(&leaf).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = write(dir.path(), "ca.pem", &root.pem())
        .display()
        .to_string();
    let (h, m) = probe_one(server.addr, "long.test", &ca).await;
    assert_eq!(
        m.value("cert_chain_valid", &[("target", "t")]),
        1.0,
        "{}",
        m.text
    );
    assert!(weak_reasons(&m).is_empty(), "{}", m.text);
    h.stop().await;

    let addr = server.addr.to_string();
    let (code, doc) = check_json(&["--server-name", "long.test", "--ca-file", &ca, &addr]).await;
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(doc["status"], "ok");
    let r = &doc["results"][0];
    assert_eq!(r["certificates"][0]["weaknesses"], serde_json::json!([]));
    assert_eq!(r["legacy_protocols"]["TLS 1.0"], false);
    let days = r["expiry"]["days_left"].as_f64().unwrap();
    assert!((798.9..799.1).contains(&days), "{days}");
}
