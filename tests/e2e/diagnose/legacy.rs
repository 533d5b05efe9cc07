//! Legacy protocols against real servers: openssl s_server speaking only TLS 1.0, one still
//! accepting TLS 1.0 and 1.1 next to 1.2, and a modern rustls server refusing both.

use std::time::Duration;

use crate::support::pki::{self, Ca, LeafSpec};
use crate::support::tls_server;
use crate::support::{write, Harness, Metrics};

use crate::support::binary::{check_json, check_text};
use crate::support::openssl::{s_server, SServer};
use crate::support::pki::write_key;
use crate::support::server::Task;

const WAIT: Duration = Duration::from_secs(20);

/// A root (written as `ca.pem`) and a leaf for `legacy.test`, with openssl serving it.
struct LegacyServer {
    dir: tempfile::TempDir,
    server: SServer,
}

impl LegacyServer {
    async fn start(extra: &[&str]) -> LegacyServer {
        let dir = tempfile::tempdir().unwrap();
        let root = Ca::root("Legacy Test Root");
        let leaf = root.leaf(&LeafSpec::new("legacy.test", 30));
        write(dir.path(), "ca.pem", &root.pem());
        let cert = write(dir.path(), "leaf.pem", &pki::pem_of(&leaf.der));
        let key = write_key(dir.path(), "leaf.key", &leaf.key);
        let server = s_server(dir.path(), &cert, &key, extra).await;
        LegacyServer { dir, server }
    }

    fn ca(&self) -> String {
        self.dir.path().join("ca.pem").display().to_string()
    }
}

async fn probe(server: &LegacyServer, extra_yaml: &str) -> (Harness, Metrics) {
    let yaml = format!(
        "defaults:\n  metrics:\n    level: full\n  interval: 1s\n  timeout: 5s\ntargets:\n  - name: t\n    address: {}\n    server_name: legacy.test\n    ca_file: {}\n{extra_yaml}",
        server.server.addr,
        server.ca()
    );
    let h = Harness::start(&yaml).await;
    let m = h.wait_for_probes(&["t"], WAIT).await;
    (h, m)
}

fn legacy(m: &Metrics, version: &str) -> Option<f64> {
    m.get(
        "cert_legacy_protocol_enabled",
        &[("target", "t"), ("version", version)],
    )
}

#[tokio::test]
async fn tls10_only_server_is_measured_from_the_legacy_handshake() {
    let server = LegacyServer::start(&["-tls1"]).await;
    let (h, m) = probe(&server, "").await;
    let t = [("target", "t")];
    // The chain was read (over TLS 1.0) and judged; modern clients still cannot connect.
    assert_eq!(m.value("cert_probe_success", &t), 1.0, "{}", m.text);
    assert_eq!(
        m.reasons("cert_probe_error_info", "t"),
        ["protocol_version"]
    );
    assert_eq!(
        m.value(
            "cert_tls_version_info",
            &[("target", "t"), ("version", "TLS 1.0")]
        ),
        1.0
    );
    let cipher = m.find("cert_tls_cipher_info", &t);
    assert!(
        cipher[0].labels["cipher"].ends_with("_CBC_SHA"),
        "{cipher:?}"
    );
    assert_eq!(m.value("cert_chain_valid", &t), 1.0, "{}", m.text);
    let days = m.value("cert_days_to_expiry", &t);
    assert!((29.9..30.1).contains(&days), "{days}");
    let subject = &m.find("cert_info", &[("target", "t"), ("position", "0")])[0].labels["subject"];
    assert_eq!(subject, "CN=legacy.test");
    assert_eq!(legacy(&m, "TLS 1.0"), Some(1.0));
    assert_eq!(legacy(&m, "TLS 1.1"), Some(0.0));
    assert!(m
        .get(
            "cert_probe_duration_seconds",
            &[("target", "t"), ("phase", "legacy")]
        )
        .is_some());
    h.stop().await;

    // check: broken (modern clients cannot connect), with the facts in the report.
    let addr = server.server.addr.to_string();
    let ca = server.ca();
    let args = ["--server-name", "legacy.test", "--ca-file", &ca, &addr];
    let run = check_text(&args).await;
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    for line in [
        "  protocol    TLS 1.0 TLS_",
        "  legacy      TLS 1.0 accepted, TLS 1.1 refused\n",
        "    [0] CN=legacy.test\n",
        "    ✘ broken     the server speaks only TLS 1.0 (no TLS 1.2 or 1.3): modern clients cannot connect; its certificate was read over TLS 1.0\n",
        "                 → enable TLS 1.2 and TLS 1.3 on the server, then switch the old versions off\n",
        "    ! attention  the server still accepts TLS 1.0\n",
        "    ✔ ok         the chain is valid for legacy.test and leads to a private CA (ca_file)\n",
        "  result      BROKEN\n",
    ] {
        assert!(run.stdout.contains(line), "missing {line:?} in:\n{}", run.stdout);
    }
    let (code, doc) = check_json(&args).await;
    assert_eq!(code, 2);
    let r = &doc["results"][0];
    assert_eq!(r["tls"]["version"], "TLS 1.0");
    assert_eq!(r["probe_error"]["reason"], "protocol_version");
    assert_eq!(r["legacy_protocols"]["TLS 1.0"], true);
    assert_eq!(r["legacy_protocols"]["TLS 1.1"], false);
    assert_eq!(r["chain_valid"], true);
    assert_eq!(r["certificates"][0]["subject"], "CN=legacy.test");
}

#[tokio::test]
async fn tls12_server_still_accepting_tls11_needs_attention() {
    let server = LegacyServer::start(&["-no_tls1_3"]).await;
    let (h, m) = probe(&server, "").await;
    let t = [("target", "t")];
    assert_eq!(m.value("cert_probe_success", &t), 1.0);
    assert!(
        m.reasons("cert_probe_error_info", "t").is_empty(),
        "{}",
        m.text
    );
    assert_eq!(
        m.value(
            "cert_tls_version_info",
            &[("target", "t"), ("version", "TLS 1.2")]
        ),
        1.0
    );
    assert_eq!(legacy(&m, "TLS 1.0"), Some(1.0));
    assert_eq!(legacy(&m, "TLS 1.1"), Some(1.0));
    h.stop().await;

    let addr = server.server.addr.to_string();
    let ca = server.ca();
    let run = check_text(&["--server-name", "legacy.test", "--ca-file", &ca, &addr]).await;
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("  protocol    TLS 1.2 "),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("    ! attention  the server still accepts TLS 1.0 and TLS 1.1\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("  result      NEEDS ATTENTION\n"),
        "{}",
        run.stdout
    );
}

#[tokio::test]
async fn modern_server_refuses_both_and_the_check_can_be_switched_off() {
    let root = Ca::root("Modern Root");
    let leaf = root.leaf(&LeafSpec::new("modern.test", 60));
    let server = tls_server::serve_leaf(&leaf).await;
    let dir = root.in_temp_dir();
    let yaml = format!(
        "defaults:\n  metrics:\n    level: full\n  interval: 1s\n  timeout: 5s\n  ca_file: {{dir}}/ca.pem\ntargets:\n  - name: t\n    address: {addr}\n    server_name: modern.test\n  - name: off\n    address: {addr}\n    server_name: modern.test\n    legacy_protocols: false\n",
        addr = server.addr
    );
    let h = Harness::start_in(dir, &yaml).await;
    let m = h.wait_for_probes(&["t", "off"], WAIT).await;
    assert_eq!(legacy(&m, "TLS 1.0"), Some(0.0), "{}", m.text);
    assert_eq!(legacy(&m, "TLS 1.1"), Some(0.0));
    assert!(m
        .find("cert_legacy_protocol_enabled", &[("target", "off")])
        .is_empty());
    assert!(m
        .get(
            "cert_probe_duration_seconds",
            &[("target", "off"), ("phase", "legacy")]
        )
        .is_none());
    assert_eq!(m.value("cert_chain_valid", &[("target", "t")]), 1.0);
    h.stop().await;
}

#[tokio::test]
async fn tls10_only_server_without_the_check_has_no_chain() {
    let server = LegacyServer::start(&["-tls1"]).await;
    let (h, m) = probe(&server, "    legacy_protocols: false\n").await;
    let t = [("target", "t")];
    assert_eq!(m.value("cert_probe_success", &t), 0.0, "{}", m.text);
    assert_eq!(
        m.reasons("cert_probe_error_info", "t"),
        ["protocol_version"]
    );
    assert!(m.get("cert_days_to_expiry", &t).is_none());
    assert!(m.find("cert_legacy_protocol_enabled", &t).is_empty());
    h.stop().await;
}

/// A minimal SMTP front: greeting, EHLO offering STARTTLS, `220` to STARTTLS, then the raw
/// connection is handed to `backend` (a TLS server), so the TLS part is the real openssl.
/// Counts the connections it accepts.
async fn smtp_front(
    backend: std::net::SocketAddr,
) -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
    Task,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    async fn line(stream: &mut tokio::net::TcpStream) -> Option<String> {
        let mut bytes = Vec::new();
        let mut one = [0u8; 1];
        while !bytes.ends_with(b"\n") {
            if stream.read(&mut one).await.ok()? == 0 {
                return None;
            }
            bytes.push(one[0]);
        }
        Some(String::from_utf8_lossy(&bytes).to_string())
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = accepted.clone();
    let task = Task::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                client.write_all(b"220 mail.test ESMTP\r\n").await.ok()?;
                line(&mut client).await.filter(|l| l.starts_with("EHLO"))?;
                client
                    .write_all(b"250-mail.test\r\n250 STARTTLS\r\n")
                    .await
                    .ok()?;
                line(&mut client)
                    .await
                    .filter(|l| l.starts_with("STARTTLS"))?;
                client
                    .write_all(b"220 2.0.0 Ready to start TLS\r\n")
                    .await
                    .ok()?;
                let mut server = tokio::net::TcpStream::connect(backend).await.ok()?;
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                Some(())
            });
        }
    });
    (addr, accepted, task)
}

#[tokio::test]
async fn legacy_check_speaks_starttls_first() {
    let server = LegacyServer::start(&["-tls1"]).await;
    let (front, _, task) = smtp_front(server.server.addr).await;
    let yaml = format!(
        "defaults:\n  metrics:\n    level: full\n  interval: 1s\n  timeout: 5s\ntargets:\n  - name: t\n    address: {front}\n    server_name: legacy.test\n    starttls: smtp\n    ca_file: {}\n",
        server.ca()
    );
    let h = Harness::start(&yaml).await;
    let m = h.wait_for_probes(&["t"], WAIT).await;
    assert_eq!(legacy(&m, "TLS 1.0"), Some(1.0), "{}", m.text);
    assert_eq!(legacy(&m, "TLS 1.1"), Some(0.0));
    assert_eq!(m.value("cert_chain_valid", &[("target", "t")]), 1.0);
    assert_eq!(
        m.reasons("cert_probe_error_info", "t"),
        ["protocol_version"]
    );
    h.stop().await;
    drop(task);
}

#[tokio::test]
async fn answers_are_kept_between_probes() {
    // A server whose handshake succeeds: its legacy answers are reused for an hour, so after
    // the first probe each probe makes one connection, not six (with the leaf discovery's).
    let server = LegacyServer::start(&["-no_tls1_3"]).await;
    let (front, accepted, task) = smtp_front(server.server.addr).await;
    let yaml = format!(
        "defaults:\n  metrics:\n    level: full\n  interval: 1s\n  timeout: 5s\ntargets:\n  - name: t\n    address: {front}\n    server_name: legacy.test\n    starttls: smtp\n    ca_file: {}\n",
        server.ca()
    );
    let h = Harness::start(&yaml).await;
    let m = h
        .wait_until(WAIT, |m| {
            m.get("cert_exporter_probes_total", &[("result", "success")])
                .is_some_and(|n| n >= 4.0)
        })
        .await;
    let probes = m.value("cert_exporter_probes_total", &[("result", "success")]) as usize;
    let connections = accepted.load(std::sync::atomic::Ordering::SeqCst);
    // Every probe's own connection, the two legacy ones once, the three that look for other
    // leaves (probe::leaves, cached alike) once, and perhaps a probe in flight.
    assert!(
        (probes + 5..=probes + 6).contains(&connections),
        "{connections} connections for {probes} probes"
    );
    assert_eq!(legacy(&m, "TLS 1.0"), Some(1.0), "{}", m.text);
    assert_eq!(legacy(&m, "TLS 1.1"), Some(1.0));
    h.stop().await;
    drop(task);
}
