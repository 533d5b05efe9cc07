//! Several certificates behind one endpoint: a real nginx (Debian `nginx-light`) serving an
//! RSA, an ECDSA and an Ed25519 certificate on one port, each leaf expiring on another day,
//! picks by the client's signature schemes. Every leaf is reported, each chain's series with
//! its `key_type`; beside it, an nginx with one certificate keeps its series without the label.

use std::net::SocketAddr;
use std::process::Command;

use super::{assert_probed_cleanly, exporter, Certs, WAIT};
use crate::support::binary::{check_json, check_text};
use crate::support::pki::{pem_of, LeafSpec};
use crate::support::ports::free_port;
use crate::support::process::{require, spawn_nginx, Daemon};
use crate::support::tls_server;
use crate::support::write;

/// Days each leaf has left, by key type (and the algorithm rcgen makes its key with).
const LEAVES: [(&str, &rcgen::SignatureAlgorithm, i64); 3] = [
    ("rsa", &rcgen::PKCS_RSA_SHA256, 20),
    ("ecdsa", &rcgen::PKCS_ECDSA_P256_SHA256, 60),
    ("ed25519", &rcgen::PKCS_ED25519, 90),
];

#[tokio::test]
async fn every_certificate_nginx_serves_on_one_port_is_reported_by_key_type() {
    let nginx = require("nginx", "nginx-light");
    let certs = Certs::new();
    let run = tempfile::tempdir().unwrap();
    let dir = run.path().display().to_string();
    let mut pairs = String::new();
    for (_, chain, key) in write_leaves(&certs, run.path()) {
        pairs.push_str(&format!(
            "        ssl_certificate {chain};\n        ssl_certificate_key {key};\n"
        ));
    }
    let (single_chain, single_key) = certs.write_pem(run.path(), "single.test");
    let [dual, single] = [free_port(), free_port()];
    let config = format!(
        "master_process off;
pid {dir}/nginx.pid;
error_log stderr info;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{dual} ssl;
        server_name dual.test;
{pairs}        location / {{ return 200 \"dual\\n\"; }}
    }}
    server {{
        listen 127.0.0.1:{single} ssl;
        server_name single.test;
        ssl_certificate {single_chain};
        ssl_certificate_key {single_key};
        location / {{ return 200 \"single\\n\"; }}
    }}
}}
"
    );
    let config_path = write(run.path(), "nginx.conf", &config);
    let start = |log: &str| {
        spawn_nginx(
            &nginx,
            &config_path,
            &dir,
            &run.path().join(log),
            &[dual, single],
        )
    };
    let daemon = start("nginx.log");
    // The RSA leaf renewed later, for 45 days.
    let renewed = certs.inter.leaf(&LeafSpec {
        alg: &rcgen::PKCS_RSA_SHA256,
        ..LeafSpec::new("dual.test", 45)
    });
    let renewed_chain = format!("{}{}", pem_of(&renewed.der), pem_of(&certs.inter.der));
    let renewed_key = key_pem(&renewed.key);

    // `check` shows each leaf as a result of its own, with its key type and days left.
    let ca = certs.dir.path().join("ca.pem");
    let check_config = write(
        run.path(),
        "check.yaml",
        &format!(
            "defaults:\n  timeout: 5s\n  ca_file: {}\ntargets:\n  - name: dual\n    address: 127.0.0.1:{dual}\n    server_name: dual.test\n",
            ca.display()
        ),
    );
    let check_config = check_config.display().to_string();
    let (code, doc) = check_json(&["--config.file", &check_config]).await;
    assert_eq!(code, 1, "the RSA leaf's 20 days need attention: {doc:#}");
    let results = doc["results"].as_array().unwrap();
    let mut shown: Vec<(String, i64)> = results
        .iter()
        .map(|r| {
            let days = r["expiry"]["days_left"].as_f64().unwrap().round() as i64;
            (r["key_type"].as_str().unwrap().to_string(), days)
        })
        .collect();
    shown.sort();
    assert_eq!(
        shown,
        [
            ("ecdsa".into(), 60),
            ("ed25519".into(), 90),
            ("rsa".into(), 20)
        ],
        "{doc:#}"
    );
    let text = check_text(&["--config.file", &check_config]).await;
    assert!(
        text.stdout.contains("dual  key_type rsa  → 127.0.0.1:"),
        "{}",
        text.stdout
    );

    let targets = format!(
        "  - name: dual\n    address: 127.0.0.1:{dual}\n    server_name: dual.test\n\
         \x20 - name: single\n    address: 127.0.0.1:{single}\n    server_name: single.test\n"
    );
    let h = exporter(certs, "5s", &targets).await;
    let m = h.wait_for_probes(&["dual", "single"], WAIT).await;
    assert_probed_cleanly(&m, "single", &["connect", "handshake"]);
    assert_every_leaf(&m, "dual", &LEAVES);

    // One certificate: its series as ever, no key_type anywhere, no look failed.
    let single_series: Vec<_> = m
        .samples
        .iter()
        .filter(|s| s.labels.get("target").map(String::as_str) == Some("single"))
        .collect();
    assert!(single_series.len() > 5, "{}", m.text);
    for s in single_series {
        assert!(!s.labels.contains_key("key_type"), "{s:?}");
    }
    let left = m.value("cert_days_to_expiry", &[("target", "single")]);
    assert!((left - 60.0).abs() < 0.5, "{left}");
    assert_eq!(m.find("cert_leaf_discovery_error_info", &[]).len(), 0);

    // The RSA certificate is renewed and nginx restarted: the next probes see the new leaf,
    // not the one the look for other leaves found an hour's cache ago.
    drop(daemon);
    write(run.path(), "rsa-chain.pem", &renewed_chain);
    write(run.path(), "rsa-key.pem", &renewed_key);
    let daemon = start("nginx-renewed.log");
    let rsa = [("target", "dual"), ("key_type", "rsa")];
    let m = h
        .wait_until(WAIT, |m| {
            m.get("cert_days_to_expiry", &rsa)
                .is_some_and(|left| (left - 45.0).abs() < 0.5)
        })
        .await;
    assert_every_leaf(
        &m,
        "dual",
        &[LEAVES[1], LEAVES[2], ("rsa", &rcgen::PKCS_RSA_SHA256, 45)],
    );
    h.stop().await;
    drop(daemon);
}

/// Writes a leaf for `dual.test` per entry of [`LEAVES`] into `dir`, each with the
/// intermediate after it: (key type, chain path, key path), the key as OpenSSL reads it.
fn write_leaves(certs: &Certs, dir: &std::path::Path) -> Vec<(&'static str, String, String)> {
    LEAVES
        .iter()
        .map(|&(key_type, alg, days)| {
            let leaf = certs.inter.leaf(&LeafSpec {
                alg,
                ..LeafSpec::new("dual.test", days)
            });
            let chain = format!("{}{}", pem_of(&leaf.der), pem_of(&certs.inter.der));
            let chain = write(dir, &format!("{key_type}-chain.pem"), &chain);
            let key = write(dir, &format!("{key_type}-key.pem"), &key_pem(&leaf.key));
            (
                key_type,
                chain.display().to_string(),
                key.display().to_string(),
            )
        })
        .collect()
}

/// Target `t` reports exactly the leaves of `leaves`, each with its key_type, the days it has
/// left and a valid chain; its per-target series once; no look for another leaf failed.
fn assert_every_leaf(
    m: &crate::support::Metrics,
    t: &str,
    leaves: &[(&str, &rcgen::SignatureAlgorithm, i64)],
) {
    for &(key_type, _, days) in leaves {
        let labels = [("target", t), ("key_type", key_type)];
        let left = m.value("cert_days_to_expiry", &labels);
        assert!(
            (left - days as f64).abs() < 0.5,
            "{t} {key_type}: {left} days left, not {days}:\n{}",
            m.text
        );
        assert_eq!(m.value("cert_chain_valid", &labels), 1.0, "{t} {key_type}");
        let leaf = m.find(
            "cert_info",
            &[("target", t), ("key_type", key_type), ("position", "0")],
        );
        assert_eq!(leaf.len(), 1, "{t} {key_type}:\n{}", m.text);
        assert_eq!(leaf[0].labels["subject"], "CN=dual.test");
    }
    // No chain without the label, none of another type.
    assert_eq!(
        m.find("cert_days_to_expiry", &[("target", t)]).len(),
        leaves.len(),
        "{}",
        m.text
    );
    assert_eq!(
        m.find("cert_leaf_discovery_error_info", &[("target", t)])
            .len(),
        0,
        "{}",
        m.text
    );
    assert_eq!(m.reasons("cert_probe_error_info", t), Vec::<String>::new());
    // Per target, not per chain: one probe, one success, one version; the look timed.
    assert_eq!(m.value("cert_probe_success", &[("target", t)]), 1.0);
    let phase = [("target", t), ("phase", "leaves")];
    assert!(
        m.get("cert_probe_duration_seconds", &phase).is_some(),
        "{}",
        m.text
    );
    assert_eq!(m.find("cert_tls_version_info", &[("target", t)]).len(), 1);
}

/// HAProxy (Debian `haproxy`) picks among the certificates of one `bind` line by the client's
/// signature schemes too (`crt` given once per certificate, each file holding chain and key).
#[tokio::test]
async fn every_certificate_haproxy_serves_on_one_port_is_reported_by_key_type() {
    let haproxy = require("haproxy", "haproxy");
    let certs = Certs::new();
    let run = tempfile::tempdir().unwrap();
    let mut crts = String::new();
    for (key_type, chain, key) in write_leaves(&certs, run.path()) {
        let both = format!(
            "{}{}",
            std::fs::read_to_string(&chain).unwrap(),
            std::fs::read_to_string(&key).unwrap()
        );
        let path = write(run.path(), &format!("{key_type}.pem"), &both);
        crts.push_str(&format!(" crt {}", path.display()));
    }
    let port = free_port();
    let nowhere = free_port();
    let config = format!(
        "global
  log stderr local0
defaults
  mode tcp
  timeout connect 5s
  timeout client 5s
  timeout server 5s
frontend dual
  bind 127.0.0.1:{port} ssl{crts}
  default_backend nowhere
backend nowhere
  server none 127.0.0.1:{nowhere}
"
    );
    let config_path = write(run.path(), "haproxy.cfg", &config);
    let mut command = Command::new(haproxy);
    command.arg("-f").arg(&config_path).arg("-db");
    let mut daemon = Daemon::spawn("haproxy", command, &run.path().join("haproxy.log"));
    daemon.wait_listening(SocketAddr::from(([127, 0, 0, 1], port)));

    let targets =
        format!("  - name: dual\n    address: 127.0.0.1:{port}\n    server_name: dual.test\n");
    let h = exporter(certs, "5s", &targets).await;
    let m = h.wait_for_probes(&["dual"], WAIT).await;
    assert_every_leaf(&m, "dual", &LEAVES);
    h.stop().await;
    drop(daemon);
}

/// The key as PEM that OpenSSL reads. aws-lc writes an Ed25519 key as a PKCS#8 v2 document
/// (RFC 5958, with the public key), which OpenSSL 3 refuses; the v1 form holds the seed only.
fn key_pem(key: &rcgen::KeyPair) -> String {
    let der = key.serialize_der();
    // v2: SEQUENCE { 1, {Ed25519}, OCTET STRING { OCTET STRING seed }, [1] public key }.
    const HEAD: [u8; 16] = [
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    if key.algorithm() != &rcgen::PKCS_ED25519 {
        return key.serialize_pem();
    }
    assert_eq!(&der[5..16], &HEAD[5..16], "an Ed25519 PKCS#8 document");
    let mut v1 = HEAD.to_vec();
    v1.extend_from_slice(&der[16..48]);
    pem::encode(&pem::Pem::new("PRIVATE KEY", v1))
}

/// A server that takes one connection and then none (a connection limit, a port closed between
/// two connections: nothing a real daemon can be made to do on cue): the handshakes that look
/// for other leaves fail to connect. Each is a reason of its own, per key type; the probe's
/// own result stands, with no key_type, since only one leaf is known.
#[tokio::test]
async fn a_failed_look_for_other_leaves_is_a_reason_and_the_main_result_stands() {
    let certs = Certs::new();
    let (chain, key) = certs.chain(&LeafSpec::new("once.test", 30));
    let config = std::sync::Arc::new(tls_server::server_config(
        chain,
        key,
        &tls_server::TlsOptions::default(),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        // Later connections are refused: the port closes once the first one is in.
        drop(listener);
        tls_server::greet(&tokio_rustls::TlsAcceptor::from(config), stream).await;
    });
    let yaml = format!(
        "defaults:\n  metrics:\n    level: full\n  timeout: 5s\n  ca_file: {{dir}}/ca.pem\n\
         targets:\n  - name: once\n    address: {addr}\n    server_name: once.test\n    interval: 1h\n"
    );
    let h = crate::support::Harness::start_in(certs.dir, &yaml).await;
    let m = h.wait_for_probes(&["once"], WAIT).await;
    assert_probed_cleanly(&m, "once", &["connect", "handshake"]);
    let left = m.value("cert_days_to_expiry", &[("target", "once")]);
    assert!((left - 30.0).abs() < 0.5, "{left}");
    for key_type in ["rsa", "ecdsa", "ed25519"] {
        let labels = [("target", "once"), ("key_type", key_type)];
        assert_eq!(
            m.reasons_where("cert_leaf_discovery_error_info", &labels),
            ["connect_refused"],
            "{key_type}:\n{}",
            m.text
        );
    }
    assert!(
        m.samples
            .iter()
            .all(|s| s.name == "cert_leaf_discovery_error_info"
                || !s.labels.contains_key("key_type")),
        "{}",
        m.text
    );
    h.stop().await;
    server.abort();
}

/// Apache (Debian `apache2`, `mod_ssl`) with one `SSLCertificateFile`/`SSLCertificateKeyFile`
/// pair per certificate in a virtual host picks by the client's signature schemes as well.
#[tokio::test]
async fn every_certificate_apache_serves_on_one_port_is_reported_by_key_type() {
    let apache = require("apache2", "apache2");
    let modules = std::path::Path::new("/usr/lib/apache2/modules");
    let certs = Certs::new();
    let run = tempfile::tempdir().unwrap();
    // Run as root (CI), Apache gives its worker to `nobody`, who must reach its runtime files.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(run.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let dir = run.path().display().to_string();
    let mut pairs = String::new();
    for (_, chain, key) in write_leaves(&certs, run.path()) {
        pairs.push_str(&format!(
            "  SSLCertificateFile {chain}\n  SSLCertificateKeyFile {key}\n"
        ));
    }
    let port = free_port();
    let user = if crate::support::process::is_root() {
        "User nobody\nGroup nogroup\n"
    } else {
        ""
    };
    let module = |name: &str| format!("{}/mod_{name}.so", modules.display());
    let config = format!(
        "ServerRoot {dir}
DefaultRuntimeDir {dir}
PidFile {dir}/apache.pid
ErrorLog {dir}/apache-error.log
LogLevel warn
Listen 127.0.0.1:{port}
LoadModule mpm_event_module {}
LoadModule authz_core_module {}
LoadModule ssl_module {}
{user}ServerName dual.test
<VirtualHost 127.0.0.1:{port}>
  ServerName dual.test
  SSLEngine on
{pairs}</VirtualHost>
",
        module("mpm_event"),
        module("authz_core"),
        module("ssl"),
    );
    let config_path = write(run.path(), "httpd.conf", &config);
    let mut command = Command::new(apache);
    // -X: one process in the foreground, so killing it leaves no worker behind.
    command.arg("-f").arg(&config_path).arg("-X");
    let mut daemon = Daemon::spawn("apache2", command, &run.path().join("apache.log"));
    daemon.wait_listening(SocketAddr::from(([127, 0, 0, 1], port)));

    let targets =
        format!("  - name: dual\n    address: 127.0.0.1:{port}\n    server_name: dual.test\n");
    let h = exporter(certs, "5s", &targets).await;
    let m = h.wait_for_probes(&["dual"], WAIT).await;
    assert_every_leaf(&m, "dual", &LEAVES);
    h.stop().await;
    drop(daemon);
}
