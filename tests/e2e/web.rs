//! `--web.config.file`: the endpoint over TLS with basic auth, and what it refuses.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use cert_expiry_exporter::app::{self, Exporter, WebSettings};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::pki::{Ca, LeafSpec};
use crate::support::write;

/// An exporter serving HTTPS with user `prom` / password `s3cret`.
struct Secured {
    exporter: Exporter,
    ca: CertificateDer<'static>,
    _dir: tempfile::TempDir,
}

async fn secured(min_version: &str) -> Secured {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::root("Web Root");
    let leaf = ca.leaf(&LeafSpec::new("localhost", 30).names(&["localhost", "127.0.0.1"]));
    write(
        dir.path(),
        "tls.crt",
        &crate::support::pki::pem_of(&leaf.der),
    );
    write(dir.path(), "tls.key", &leaf.key.serialize_pem());
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    let web = write(
        dir.path(),
        "web.yaml",
        &format!(
            "tls_server_config:\n  cert_file: {d}/tls.crt\n  key_file: {d}/tls.key\n  min_version: {min_version}\nbasic_auth_users:\n  prom: '{hash}'\n",
            d = dir.path().display()
        ),
    );
    let closed = crate::support::ports::closed_port().await;
    let config = write(
        dir.path(),
        "config.yaml",
        &format!("defaults: {{interval: 1s, timeout: 1s}}\ntargets:\n  - name: a\n    address: {closed}\n"),
    );
    let loaded = app::load(&config).unwrap();
    let settings = WebSettings {
        listen: "127.0.0.1:0".parse().unwrap(),
        config_file: Some(web),
    };
    let exporter = Exporter::start_with(&config, loaded, settings)
        .await
        .unwrap();
    Secured {
        exporter,
        ca: ca.der.clone(),
        _dir: dir,
    }
}

/// GET `path` over TLS trusting `ca`; returns the status line's code and the body.
async fn https_get(
    addr: SocketAddr,
    ca: &CertificateDer<'static>,
    path: &str,
    auth: Option<(&str, &str)>,
) -> (u16, String) {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    if let Some((u, p)) = auth {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
        req.push_str(&format!("Authorization: Basic {token}\r\n"));
    }
    req.push_str("\r\n");
    tls.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let _ = tls.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

#[tokio::test]
async fn basic_auth_over_tls() {
    let s = secured("TLS12").await;
    let addr = s.exporter.local_addr;
    let (status, body) = https_get(addr, &s.ca, "/metrics", Some(("prom", "s3cret"))).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("cert_exporter_build_info"));
    let (status, body) = https_get(addr, &s.ca, "/metrics", Some(("prom", "wrong"))).await;
    assert_eq!(status, 401);
    assert!(
        body.to_ascii_lowercase()
            .contains("www-authenticate: basic"),
        "{body}"
    );
    assert_eq!(
        https_get(addr, &s.ca, "/metrics", Some(("nobody", "s3cret")))
            .await
            .0,
        401
    );
    assert_eq!(https_get(addr, &s.ca, "/metrics", None).await.0, 401);
    assert_eq!(https_get(addr, &s.ca, "/-/healthy", None).await.0, 401);
    s.exporter.shutdown().await;
}

#[tokio::test]
async fn plain_http_to_a_tls_listener_gets_no_metrics() {
    let s = secured("TLS12").await;
    let mut tcp = tokio::net::TcpStream::connect(s.exporter.local_addr)
        .await
        .unwrap();
    tcp.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut raw)).await;
    let text = String::from_utf8_lossy(&raw);
    assert!(
        !text.contains("cert_exporter"),
        "plain HTTP must not be served: {text}"
    );
    assert!(!text.starts_with("HTTP/1.1 200"), "{text}");
    s.exporter.shutdown().await;
}

/// Runs `openssl s_client` offering only `version`; true when a session was established.
/// Async, because the exporter under test runs on this same runtime.
async fn openssl_handshake(addr: SocketAddr, version_flag: &str) -> (bool, String) {
    let child = crate::support::openssl::tokio_command()
        .args([
            "s_client",
            "-connect",
            &addr.to_string(),
            version_flag,
            "-cipher",
            "DEFAULT@SECLEVEL=0",
            "-brief",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the openssl binary is needed (Debian package openssl)");
    let out = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("openssl s_client did not finish")
        .expect("openssl s_client output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (
        text.contains("CONNECTION ESTABLISHED") || text.contains("Protocol version:"),
        text,
    )
}

#[tokio::test]
async fn tls_listener_refuses_tls10_and_tls11() {
    let s = secured("TLS12").await;
    let addr = s.exporter.local_addr;
    let (ok12, text12) = openssl_handshake(addr, "-tls1_2").await;
    assert!(ok12, "TLS 1.2 must work, as a control: {text12}");
    for flag in ["-tls1", "-tls1_1"] {
        let (ok, text) = openssl_handshake(addr, flag).await;
        assert!(!ok, "{flag} must be refused: {text}");
        assert!(
            text.contains("alert") || text.contains("version"),
            "{flag}: {text}"
        );
    }
    s.exporter.shutdown().await;
}

#[tokio::test]
async fn min_version_tls13_refuses_tls12() {
    let s = secured("TLS13").await;
    let addr = s.exporter.local_addr;
    assert!(!openssl_handshake(addr, "-tls1_2").await.0);
    assert!(openssl_handshake(addr, "-tls1_3").await.0);
    s.exporter.shutdown().await;
}

#[tokio::test]
async fn broken_web_config_is_refused_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "tls_server_config:\n  cert_file: /nonexistent.crt\n  key_file: /nonexistent.key\n",
            "cert_file",
        ),
        ("basic_auth_users:\n  prom: plaintext\n", "bcrypt"),
        (
            "tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS10\n",
            "min_version",
        ),
        (
            "tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: [x]\n",
            "cipher_suites",
        ),
    ];
    for (yaml, needle) in cases {
        let path = write(dir.path(), "web.yaml", yaml);
        let err = cert_expiry_exporter::server::web_config::WebConfig::load(&path).unwrap_err();
        assert!(
            err.contains("web.yaml") && err.contains(needle),
            "{yaml:?} gave {err}"
        );
    }
}
