//! The CA's CAA identities from its ACME directory's `meta.caaIdentities` (RFC 8555 §7.1.1),
//! against the real servers the two halves are tested with on their own: Debian's nginx
//! serving ACME directories as static files (as in `renewal.rs`), and knotd behind unbound
//! serving the CAA test zone (as in `dns_checks.rs`), whose `allowed.test` set names
//! `ca.example` and `other-ca.example`.
//!
//! Two CAs: the tests' usual one, whose organisation no table knows, and one that calls itself
//! "Let's Encrypt", whose table identity (`letsencrypt.org`) `allowed.test` does not name.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, KeyUsagePurpose, SerialNumber};

use crate::dns_checks::start_name_servers;
use crate::renewal::{nginx, requests, subject_key_id};
use crate::support::harness::Harness;
use crate::support::pki::{Ca, Leaf};
use crate::support::{tls_server, write};

/// A leaf for allowed.test with an authorityKeyIdentifier (so the renewal lookup reads the
/// directory too) and the one-byte serial `serial`.
fn leaf(ca: &Ca, serial: u8) -> Leaf {
    let mut params = CertificateParams::new(vec!["allowed.test".to_string()]).expect("names");
    params
        .distinguished_name
        .push(DnType::CommonName, "allowed.test");
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(89);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.serial_number = Some(SerialNumber::from_slice(&[serial]));
    params.use_authority_key_identifier_extension = true;
    ca.sign_leaf(&params)
}

/// A root whose organisation is the built-in table's "Let's Encrypt".
fn lets_encrypt_lookalike() -> Ca {
    Ca::root_of("Test Lookalike R1", "Let's Encrypt")
}

#[tokio::test]
async fn the_acme_directory_names_the_cas_caa_identity_and_a_directory_without_one_falls_back() {
    let dns = start_name_servers(&crate::dns_checks::Zones::default());
    let run = tempfile::tempdir().expect("tempdir");
    let www = run.path().join("www");
    std::fs::create_dir_all(www.join("acme/renewal-info")).expect("mkdir");
    let (daemon, port) = nginx(run.path(), &www);
    let base = format!("http://127.0.0.1:{port}");
    let acme = www.join("acme");
    write(
        &acme,
        "with-ids",
        &format!(
            "{{\"newNonce\":\"{base}/acme/new-nonce\",\"renewalInfo\":\"{base}/acme/renewal-info\",\
             \"meta\":{{\"termsOfService\":\"{base}/tos\",\"caaIdentities\":[\"CA.example\"]}}}}"
        ),
    );
    write(
        &acme,
        "without-ids",
        &format!(
            "{{\"newNonce\":\"{base}/acme/new-nonce\",\"meta\":{{\"termsOfService\":\"{base}/tos\"}}}}"
        ),
    );
    write(
        &acme,
        "bad-ids",
        "{\"meta\":{\"caaIdentities\":\"ca.example\"}}",
    );
    write(&acme, "broken", "{\"meta\": not json");
    // acme/gone is not there: a 404.

    let ca = Ca::root("CAA Directory Test Root");
    let lookalike = lets_encrypt_lookalike();
    let plain = tls_server::serve_leaf(&leaf(&ca, 0x11)).await;
    let le = tls_server::serve_leaf(&leaf(&lookalike, 0x12)).await;
    // The plain leaf's renewal window, from the same directory read as its CAA identity.
    let cert_id = format!("{}.EQ", URL_SAFE_NO_PAD.encode(subject_key_id(&ca)));
    write(
        &acme.join("renewal-info"),
        &cert_id,
        "{\"suggestedWindow\":{\"start\":\"2030-01-02T00:00:00Z\",\"end\":\"2030-01-04T00:00:00Z\"}}",
    );

    // The trust and the configuration stay in `run`, for `check` after the exporter stopped.
    write(
        run.path(),
        "ca.pem",
        &format!("{}{}", ca.pem(), lookalike.pem()),
    );
    let target = |name: &str, server: &tls_server::Server, directory: &str, extra: &str| {
        let directory = if directory.is_empty() {
            String::new()
        } else {
            format!("    acme_directory: {base}/acme/{directory}\n")
        };
        format!(
            "  - name: {name}\n    address: {}\n    server_name: allowed.test\n{directory}{extra}",
            server.addr
        )
    };
    let targets = [
        target("directory", &plain, "with-ids", ""),
        target("caa_only", &plain, "", ""),
        target("without_ids", &plain, "without-ids", ""),
        target("bad_ids", &plain, "bad-ids", ""),
        target("broken", &plain, "broken", ""),
        target("gone", &plain, "gone", ""),
        target(
            "configured",
            &plain,
            "with-ids",
            "    caa_identity: third-ca.example\n",
        ),
        target("le_directory", &le, "with-ids", ""),
        target("le_fallback", &le, "without-ids", ""),
        target("le_caa_only", &le, "", ""),
    ]
    .concat();
    // One probe per target (the interval is an hour), so the access log counts one probe's
    // reads.
    let yaml = format!(
        "dns:\n  name_servers: [\"{}\"]\ndefaults:\n  interval: 1h\n  timeout: 5s\n  ca_file: {}\n  \
         legacy_protocols: false\n  caa: true\n  revocation: {{ocsp: false, crl: false}}\ntargets:\n{targets}",
        dns.resolver,
        run.path().join("ca.pem").display()
    );
    let config_path = write(run.path(), "config.yaml", &yaml);
    let h = Harness::start_in(tempfile::tempdir().expect("tempdir"), &yaml).await;
    let all = [
        "directory",
        "caa_only",
        "without_ids",
        "bad_ids",
        "broken",
        "gone",
        "configured",
        "le_directory",
        "le_fallback",
        "le_caa_only",
    ];
    let m = h
        .wait_until(Duration::from_secs(60), |m| {
            all.iter().all(|t| {
                m.get("cert_caa_issuer_allowed", &[("target", t)]).is_some()
                    || !m.reasons("cert_caa_error_info", t).is_empty()
            }) && m
                .get(
                    "cert_renewal_window_start_timestamp_seconds",
                    &[("target", "directory")],
                )
                .is_some()
        })
        .await;
    let allowed = |t: &str| m.get("cert_caa_issuer_allowed", &[("target", t)]);
    let errors = |t: &str| m.reasons("cert_caa_error_info", t);
    let source = |t: &str| -> Option<(String, String)> {
        let found = m.find("cert_caa_identity_info", &[("target", t)]);
        assert!(found.len() <= 1, "{t}: {}", m.text);
        found.first().map(|s| {
            (
                s.labels["identity_source"].clone(),
                s.labels["directory_reason"].clone(),
            )
        })
    };
    let from = |s: &str, r: &str| Some((s.to_string(), r.to_string()));

    // The directory names ca.example, which allowed.test lists: no table knows the test CA.
    assert_eq!(allowed("directory"), Some(1.0), "{}", m.text);
    assert_eq!(
        source("directory"),
        from("acme_directory", ""),
        "{}",
        m.text
    );
    // The same read gave the renewal window.
    assert_eq!(
        m.value(
            "cert_renewal_window_start_timestamp_seconds",
            &[("target", "directory")]
        ),
        1_893_542_400.0
    );
    // Without a directory, as before: no identity, no answer, and no identity series.
    assert_eq!(errors("caa_only"), ["unknown_identity"], "{}", m.text);
    assert_eq!(source("caa_only"), None, "{}", m.text);
    // Directories that give none fall back to the table (which does not know the test CA),
    // each with its reason.
    for (t, reason) in [
        ("without_ids", "no_caa_identities"),
        ("bad_ids", "bad_caa_identities"),
        ("broken", "bad_directory"),
        ("gone", "http_status"),
    ] {
        assert_eq!(allowed(t), None, "{t}: {}", m.text);
        assert_eq!(errors(t), ["unknown_identity"], "{t}: {}", m.text);
        assert_eq!(source(t), from("none", reason), "{t}: {}", m.text);
    }
    // The renewal lookup says the same of the directories it could not read.
    assert_eq!(
        m.reasons("cert_renewal_info_error_info", "broken"),
        ["bad_directory"]
    );
    assert_eq!(
        m.reasons("cert_renewal_info_error_info", "gone"),
        ["http_status"]
    );
    // caa_identity comes first: third-ca.example is not listed, whatever the directory says.
    assert_eq!(allowed("configured"), Some(0.0), "{}", m.text);
    assert_eq!(source("configured"), from("config", ""), "{}", m.text);
    // The lookalike's table identity, letsencrypt.org, is not listed; its directory's is.
    assert_eq!(allowed("le_directory"), Some(1.0), "{}", m.text);
    assert_eq!(
        source("le_directory"),
        from("acme_directory", ""),
        "{}",
        m.text
    );
    assert_eq!(allowed("le_fallback"), Some(0.0), "{}", m.text);
    assert_eq!(
        source("le_fallback"),
        from("builtin", "no_caa_identities"),
        "{}",
        m.text
    );
    assert_eq!(allowed("le_caa_only"), Some(0.0), "{}", m.text);
    assert_eq!(source("le_caa_only"), None, "{}", m.text);
    for t in all {
        // Never part of the TLS verdict.
        assert_eq!(m.value("cert_chain_valid", &[("target", t)]), 1.0, "{t}");
    }
    // Each directory was read once in the probe, shared by the renewal lookup and the CAA
    // check and by the targets naming it; the 404, which is not kept, once too.
    let log = std::fs::read_to_string(run.path().join("access.log")).expect("access log");
    for directory in ["with-ids", "without-ids", "bad-ids", "broken", "gone"] {
        assert_eq!(
            requests(run.path(), &format!("/acme/{directory} ")),
            1,
            "{directory}: {log}"
        );
    }
    h.stop().await;

    // `check` names where the identity came from, and why the directory gave none.
    let path = config_path.display().to_string();
    let caa_finding = |doc: &serde_json::Value| -> String {
        let findings = doc["results"][0]["findings"].as_array().expect("findings");
        findings
            .iter()
            .find(|f| f["code"].as_str().is_some_and(|c| c.starts_with("caa_")))
            .unwrap_or_else(|| panic!("{doc:#}"))["message"]
            .as_str()
            .expect("message")
            .to_string()
    };
    let (_, doc) = crate::support::binary::check_json(&["--config.file", &path, "directory"]).await;
    let message = caa_finding(&doc);
    assert!(
        message.contains("(ca.example, from the ACME directory's meta.caaIdentities)"),
        "{message}"
    );
    let (_, doc) =
        crate::support::binary::check_json(&["--config.file", &path, "le_fallback"]).await;
    let message = caa_finding(&doc);
    assert!(
        message.contains("letsencrypt.org, from the built-in table; the ACME directory")
            && message.contains("(no_caa_identities)"),
        "{message}"
    );
    let (_, doc) = crate::support::binary::check_json(&["--config.file", &path, "broken"]).await;
    let message = caa_finding(&doc);
    assert!(
        message.contains("unknown_identity") && message.contains("bad_directory"),
        "{message}"
    );
    drop(daemon);
}
