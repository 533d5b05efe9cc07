//! ACME Renewal Information (RFC 9773) against a real HTTP server: Debian's nginx serves an
//! ACME directory and renewal-information documents as static files (with a `Retry-After`
//! header), the test rewrites them, and the exporter probes in-process TLS servers whose
//! leaves have an authorityKeyIdentifier and known serials.

use std::path::Path;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, KeyUsagePurpose, SerialNumber};

use crate::support::harness::Harness;
use crate::support::pki::{Ca, Leaf};
use crate::support::process::{require, spawn_nginx, Daemon};
use crate::support::{tls_server, write};

/// Seconds the renewal-information answers ask to be left alone.
const RETRY_AFTER: u32 = 10;

/// Starts nginx on a free loopback port serving `www`, renewal-information answers with
/// `Retry-After`; its access log is `run/access.log`.
pub(crate) fn nginx(run: &Path, www: &Path) -> (Daemon, u16) {
    let nginx = require("nginx", "nginx-light");
    let port = crate::support::ports::free_port();
    let dir = run.display();
    let config = format!(
        "master_process off;
pid {dir}/nginx.pid;
error_log stderr info;
events {{ worker_connections 64; }}
http {{
    default_type application/json;
    access_log {dir}/access.log;
    server {{
        listen 127.0.0.1:{port};
        root {www};
        location /acme/renewal-info/ {{
            add_header Retry-After {RETRY_AFTER} always;
        }}
    }}
}}
",
        www = www.display()
    );
    let config_path = write(run, "nginx.conf", &config);
    let daemon = spawn_nginx(
        &nginx,
        &config_path,
        &dir.to_string(),
        &run.join("nginx.log"),
        &[port],
    );
    (daemon, port)
}

/// A leaf for shop.test with an authorityKeyIdentifier and the serial `serial` (DER content
/// octets, as written).
fn leaf_with_serial(ca: &Ca, serial: &[u8]) -> Leaf {
    let mut params = CertificateParams::new(vec!["shop.test".to_string()]).expect("names");
    params
        .distinguished_name
        .push(DnType::CommonName, "shop.test");
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(89);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.serial_number = Some(SerialNumber::from_slice(serial));
    params.use_authority_key_identifier_extension = true;
    ca.sign_leaf(&params)
}

/// The CA's subjectKeyIdentifier: what its leaves' authorityKeyIdentifier carries.
pub(crate) fn subject_key_id(ca: &Ca) -> Vec<u8> {
    let (_, cert) = x509_parser::parse_x509_certificate(&ca.der).expect("CA parses");
    cert.extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
            _ => None,
        })
        .expect("the test CA has a subjectKeyIdentifier")
}

fn window_json(start: &str, end: &str, explanation: Option<&str>) -> String {
    let explanation = explanation
        .map(|u| format!(",\"explanationURL\":\"{u}\""))
        .unwrap_or_default();
    format!("{{\"suggestedWindow\":{{\"start\":\"{start}\",\"end\":\"{end}\"}}{explanation}}}")
}

/// Requests in the access log whose path starts with `path`.
pub(crate) fn requests(run: &Path, path: &str) -> usize {
    let log = std::fs::read_to_string(run.join("access.log")).unwrap_or_default();
    log.lines()
        .filter(|l| l.contains(&format!("\"GET {path}")))
        .count()
}

#[tokio::test]
async fn renewal_windows_follow_the_ca_honour_retry_after_and_fail_on_their_own() {
    let run = tempfile::tempdir().expect("tempdir");
    let www = run.path().join("www");
    std::fs::create_dir_all(www.join("acme/renewal-info")).expect("mkdir");
    let (daemon, port) = nginx(run.path(), &www);
    let base = format!("http://127.0.0.1:{port}");
    write(
        &www.join("acme"),
        "directory",
        &format!(
            "{{\"newNonce\":\"{base}/acme/new-nonce\",\"renewalInfo\":\"{base}/acme/renewal-info\"}}"
        ),
    );
    write(
        &www.join("acme"),
        "old-directory",
        &format!("{{\"newNonce\":\"{base}/acme/new-nonce\"}}"),
    );

    let ca = Ca::root("ARI Test CA");
    let key_id = URL_SAFE_NO_PAD.encode(subject_key_id(&ca));
    // The RFC 9773 example's serial, 0x87654321: its DER INTEGER needs a leading zero.
    let good = leaf_with_serial(&ca, &[0x00, 0x87, 0x65, 0x43, 0x21]);
    let good_id = format!("{key_id}.AIdlQyE");
    let missing = leaf_with_serial(&ca, &[0x02]);
    let broken = leaf_with_serial(&ca, &[0x03]);
    let broken_id = format!("{key_id}.Aw");
    let info = www.join("acme/renewal-info");
    write(
        &info,
        &good_id,
        &window_json(
            "2030-01-02T00:00:00Z",
            "2030-01-04T00:00:00Z",
            Some("https://acme.example/why"),
        ),
    );
    write(&info, &broken_id, "{\"suggestedWindow\": not json");

    let servers = [
        ("good", tls_server::serve_leaf(&good).await, "directory"),
        (
            "missing",
            tls_server::serve_leaf(&missing).await,
            "directory",
        ),
        ("broken", tls_server::serve_leaf(&broken).await, "directory"),
        (
            "old_ca",
            tls_server::serve_leaf(&good).await,
            "old-directory",
        ),
    ];
    let dir = ca.in_temp_dir();
    let mut yaml = String::from(
        "defaults:\n  interval: 1s\n  timeout: 5s\n  metrics: {phases: all}\n  ca_file: {dir}/ca.pem\n  revocation: {ocsp: false, crl: false}\ntargets:\n",
    );
    for (name, server, directory) in &servers {
        yaml.push_str(&format!(
            "  - name: {name}\n    address: {}\n    server_name: shop.test\n    acme_directory: {base}/acme/{directory}\n",
            server.addr
        ));
    }
    yaml.push_str(&format!(
        "  - name: no_acme\n    address: {}\n    server_name: shop.test\n",
        servers[0].1.addr
    ));
    let h = Harness::start_in(dir, &yaml).await;

    let start_a = 1_893_542_400.0; // 2030-01-02T00:00:00Z
    let m = h
        .wait_until(Duration::from_secs(30), |m| {
            m.get(
                "cert_renewal_window_start_timestamp_seconds",
                &[("target", "good")],
            ) == Some(start_a)
                && ["missing", "broken", "old_ca"]
                    .iter()
                    .all(|t| !m.reasons("cert_renewal_info_error_info", t).is_empty())
                && m.get("cert_probe_timestamp_seconds", &[("target", "no_acme")])
                    .is_some()
        })
        .await;
    assert_eq!(
        m.value(
            "cert_renewal_window_end_timestamp_seconds",
            &[("target", "good")]
        ),
        start_a + 2.0 * 86_400.0
    );
    let explained = m.find("cert_renewal_explanation_info", &[("target", "good")]);
    assert_eq!(explained.len(), 1, "{}", m.text);
    assert_eq!(
        explained[0].labels["explanation_url"],
        "https://acme.example/why"
    );
    assert_eq!(
        m.reasons("cert_renewal_info_error_info", "missing"),
        ["http_status"]
    );
    assert_eq!(
        m.reasons("cert_renewal_info_error_info", "broken"),
        ["bad_json"]
    );
    assert_eq!(
        m.reasons("cert_renewal_info_error_info", "old_ca"),
        ["no_renewal_info"]
    );
    // The renewal lookup never touches the chain's verdict; a target without a directory has
    // no renewal series at all.
    for t in ["good", "missing", "broken", "old_ca", "no_acme"] {
        assert_eq!(m.value("cert_chain_valid", &[("target", t)]), 1.0, "{t}");
    }
    assert!(m
        .find(
            "cert_renewal_window_start_timestamp_seconds",
            &[("target", "no_acme")]
        )
        .is_empty());
    assert!(m
        .reasons("cert_renewal_info_error_info", "no_acme")
        .is_empty());
    // The lookup's own phase, only where it ran.
    let phase = |t| [("target", t), ("phase", "renewal_info")];
    assert!(m
        .get("cert_probe_duration_seconds", &phase("good"))
        .is_some());
    assert!(m
        .get("cert_probe_duration_seconds", &phase("no_acme"))
        .is_none());

    // The CA moves the window earlier (it wants the certificate replaced): seen once the
    // answer's Retry-After has passed, and not asked for before.
    write(
        &info,
        &good_id,
        &window_json("2029-06-01T00:00:00Z", "2029-06-02T00:00:00Z", None),
    );
    let start_b = 1_874_966_400.0; // 2029-06-01T00:00:00Z
    let m = h
        .wait_until(Duration::from_secs(u64::from(RETRY_AFTER) * 4), |m| {
            m.get(
                "cert_renewal_window_start_timestamp_seconds",
                &[("target", "good")],
            ) == Some(start_b)
        })
        .await;
    assert!(
        m.find("cert_renewal_explanation_info", &[]).is_empty(),
        "{}",
        m.text
    );
    // Two requests for the good leaf's answer in all (the first, and one after Retry-After),
    // while the 404, which is no answer and never kept, was asked again at every probe.
    let good_requests = requests(run.path(), &format!("/acme/renewal-info/{good_id}"));
    let missing_requests = requests(run.path(), &format!("/acme/renewal-info/{key_id}.Ag"));
    let broken_requests = requests(run.path(), &format!("/acme/renewal-info/{broken_id}"));
    let log = std::fs::read_to_string(run.path().join("access.log")).expect("access log");
    assert_eq!(good_requests, 2, "{log}");
    assert!(
        missing_requests > 2 * good_requests,
        "the failing lookup should be asked at each probe, not {missing_requests} times: {log}"
    );
    // An answer that does not parse is an answer: kept as its Retry-After says too.
    assert!((1..=2).contains(&broken_requests), "{log}");
    // The directories were read once each: kept a day, or an hour without renewalInfo.
    assert_eq!(requests(run.path(), "/acme/directory"), 1, "{log}");
    assert_eq!(requests(run.path(), "/acme/old-directory"), 1, "{log}");
    h.stop().await;
    drop(daemon);
}
