//! Issue 11's handshake failures, each against a real tokio-rustls server: leaves rustls cannot
//! parse (`malformed_certificate`, with the parser's words, never blamed on the key) and
//! certificate messages over rustls's 64 KiB limit (`certificate_too_large`).

use std::time::Duration;

use rcgen::{CertificateParams, CustomExtension, DnType, ExtendedKeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::support::binary::check_text;
use crate::support::openssl;
use crate::support::pki::{Ca, Leaf};
use crate::support::tls_server::{self, TlsOptions};
use crate::support::{write, Harness, Metrics};

const WAIT: Duration = Duration::from_secs(20);

/// A leaf for `shop.test` signed by `ca`, after `edit` has changed its parameters.
fn leaf_with(ca: &Ca, edit: impl FnOnce(&mut CertificateParams)) -> Leaf {
    let mut params = CertificateParams::new(vec!["shop.test".to_string()]).expect("names");
    params
        .distinguished_name
        .push(DnType::CommonName, "shop.test");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    edit(&mut params);
    ca.sign_leaf(&params)
}

/// Probes every `(target, server)` with SNI `shop.test` and `ca` as `ca_file`, once each.
async fn probe_all(ca: &Ca, servers: &[(&str, std::net::SocketAddr)]) -> (Harness, Metrics) {
    let dir = ca.in_temp_dir();
    let mut yaml = "defaults:\n  metrics:\n    certificates: all\n  interval: 1s\n  timeout: 5s\n  ca_file: {dir}/ca.pem\n  revocation: {ocsp: false, crl: false}\n  legacy_protocols: false\ntargets:\n".to_string();
    for (name, addr) in servers {
        yaml.push_str(&format!(
            "  - name: {name}\n    address: {addr}\n    server_name: shop.test\n"
        ));
    }
    let h = Harness::start_in(dir, &yaml).await;
    let names: Vec<&str> = servers.iter().map(|(n, _)| *n).collect();
    let m = h.wait_for_probes(&names, WAIT).await;
    (h, m)
}

/// A v1 certificate (no extensions at all) for `shop.test`, made by `openssl x509 -req`
/// without `-extfile`, signed by a root it also makes; returns (root, leaf, leaf key), DER.
async fn openssl_v1_leaf(dir: &std::path::Path) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut root = vec!["req", "-x509"];
    root.extend(ec);
    root.extend([
        "-keyout",
        "root.key",
        "-out",
        "root.pem",
        "-days",
        "30",
        "-subj",
        "/CN=V1 Root",
    ]);
    openssl::run(dir, &root).await;
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend([
        "-keyout",
        "v1.key",
        "-out",
        "v1.csr",
        "-subj",
        "/CN=shop.test",
    ]);
    openssl::run(dir, &csr).await;
    openssl::run(
        dir,
        &[
            "x509", "-req", "-in", "v1.csr", "-CA", "root.pem", "-CAkey", "root.key", "-days",
            "30", "-outform", "DER", "-out", "v1.der",
        ],
    )
    .await;
    openssl::run(
        dir,
        &[
            "x509", "-in", "root.pem", "-outform", "DER", "-out", "root.der",
        ],
    )
    .await;
    openssl::run(
        dir,
        &[
            "pkcs8", "-topk8", "-nocrypt", "-in", "v1.key", "-outform", "DER", "-out", "v1.p8",
        ],
    )
    .await;
    let read = |name: &str| std::fs::read(dir.join(name)).expect(name);
    let leaf = read("v1.der");
    // TBSCertificate starts right after the outer SEQUENCE header: a v1 certificate has no
    // `[0] version` there (OpenSSL 3.2 and later make v3 only; say so rather than pass).
    let tbs = &leaf[4..];
    assert_ne!(
        tbs.get(4),
        Some(&0xa0),
        "this openssl made a v3 certificate, not v1"
    );
    (read("root.der"), leaf, read("v1.p8"))
}

#[tokio::test]
async fn unparseable_leaves_are_malformed_not_weak_keys() {
    let ca = Ca::root("Malformed Test Root");
    // 1.3.6.1.4.1.55555.1, critical, that no client knows.
    let unknown_critical = leaf_with(&ca, |p| {
        let mut ext = CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 55555, 1], vec![5, 0]);
        ext.set_criticality(true);
        p.custom_extensions.push(ext);
    });
    // A second subjectAltName (2.5.29.17) beside the one rcgen writes.
    let duplicate = leaf_with(&ca, |p| {
        let name = b"shop.test";
        let mut san = vec![0x30, name.len() as u8 + 2, 0x82, name.len() as u8];
        san.extend_from_slice(name);
        p.custom_extensions
            .push(CustomExtension::from_oid_content(&[2, 5, 29, 17], san));
    });
    // A good certificate with a byte after its DER.
    let good = leaf_with(&ca, |_| {});
    let mut trailing = good.der.to_vec();
    trailing.push(0);
    let served = [
        (
            "unknown_critical",
            unknown_critical.der.clone(),
            unknown_critical.private_key(),
        ),
        (
            "duplicate_extension",
            duplicate.der.clone(),
            duplicate.private_key(),
        ),
        (
            "trailing_data",
            CertificateDer::from(trailing),
            good.private_key(),
        ),
    ];
    let mut servers = Vec::new();
    for (name, der, key) in served {
        servers.push((
            name,
            tls_server::tls_as_is(vec![der], key, TlsOptions::default()).await,
        ));
    }
    // The v1 certificate, from openssl, over TLS 1.2 (a different signature path in rustls).
    let v1_dir = tempfile::tempdir().unwrap();
    let (_v1_root, v1_leaf, v1_key) = openssl_v1_leaf(v1_dir.path()).await;
    let tls12 = TlsOptions {
        versions: vec![&rustls::version::TLS12],
        ..Default::default()
    };
    servers.push((
        "v1_certificate",
        tls_server::tls_as_is(
            vec![CertificateDer::from(v1_leaf)],
            PrivateKeyDer::try_from(v1_key).expect("pkcs8 key"),
            tls12,
        )
        .await,
    ));
    let targets: Vec<(&str, std::net::SocketAddr)> =
        servers.iter().map(|(n, s)| (*n, s.addr)).collect();
    let (h, m) = probe_all(&ca, &targets).await;
    for (name, _) in &targets {
        assert_eq!(
            m.reasons("cert_probe_error_info", name),
            ["malformed_certificate"],
            "{name}: {}",
            m.text
        );
    }
    h.stop().await;

    // `check` gives the parser's words and advice about the certificate, not the key.
    let dir = tempfile::tempdir().unwrap();
    let ca_pem = write(dir.path(), "ca.pem", &ca.pem());
    let addr = servers[0].1.addr.to_string();
    let run = check_text(&[
        "--server-name",
        "shop.test",
        "--ca-file",
        &ca_pem.display().to_string(),
        &addr,
    ])
    .await;
    assert!(
        run.stdout
            .contains("✘ broken     rustls cannot parse the server's certificate")
            && run.stdout.contains("UnsupportedCriticalExtension"),
        "{}{}",
        run.stdout,
        run.stderr
    );
    assert!(
        run.stdout.contains("→ reissue the certificate as X.509 v3"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("RSA 2048"), "{}", run.stdout);
}

/// A leaf for `shop.test` with `extra` more names, of about 40 bytes each.
fn leaf_with_names(ca: &Ca, extra: usize) -> Leaf {
    leaf_with(ca, |p| {
        for i in 0..extra {
            p.subject_alt_names.push(rcgen::SanType::DnsName(
                format!("host-{i:05}.a-rather-long-zone-name.test")
                    .try_into()
                    .unwrap(),
            ));
        }
    })
}

#[tokio::test]
async fn certificate_messages_over_64_kib_are_named() {
    let ca = Ca::root("Large Test Root");
    // webpki parses no DER value over 65,535 bytes, so no single certificate can be the
    // problem: a leaf of 1,400 names (~58 KB) and a second certificate of 300 more (~13 KB)
    // make a certificate message of ~71 KB, over the 65,535-byte limit.
    let leaf = leaf_with_names(&ca, 1400);
    let filler = leaf_with_names(&ca, 300);
    assert!(leaf.der.len() < 64_000, "{}", leaf.der.len());
    assert!(leaf.der.len() + filler.der.len() > 70_000);
    let large = vec![leaf.der.clone(), filler.der.clone()];
    let tls12 = TlsOptions {
        versions: vec![&rustls::version::TLS12],
        ..Default::default()
    };
    let tls13 = TlsOptions {
        versions: vec![&rustls::version::TLS13],
        ..Default::default()
    };
    let s13 = tls_server::tls(large.clone(), leaf.private_key(), tls13).await;
    let s12 = tls_server::tls(large, leaf.private_key(), tls12).await;
    // The leaf alone fits: the limit is the message's, not a number of names.
    let fits = tls_server::serve_leaf(&leaf).await;
    let (h, m) = probe_all(
        &ca,
        &[
            ("large13", s13.addr),
            ("large12", s12.addr),
            ("fits", fits.addr),
        ],
    )
    .await;
    for t in ["large13", "large12"] {
        assert_eq!(
            m.reasons("cert_probe_error_info", t),
            ["certificate_too_large"],
            "{t}: {}",
            m.text
        );
    }
    // TLS 1.3 encrypts the Certificate message: refused unread, nothing to report.
    assert_eq!(m.value("cert_probe_success", &[("target", "large13")]), 0.0);
    assert!(m
        .get("cert_chain_valid", &[("target", "large13")])
        .is_none());
    // TLS 1.2 sends it in the clear: read past the limit, the chain is judged and reported.
    assert_eq!(m.value("cert_probe_success", &[("target", "large12")]), 1.0);
    assert_eq!(m.value("cert_chain_valid", &[("target", "large12")]), 1.0);
    for position in ["0", "1"] {
        assert!(
            m.get(
                "cert_not_after_timestamp_seconds",
                &[("target", "large12"), ("position", position)]
            )
            .is_some(),
            "{position}: {}",
            m.text
        );
    }
    let days = m.value("cert_days_to_expiry", &[("target", "large12")]);
    assert!(days > 0.0, "{days}");
    assert!(
        m.reasons("cert_probe_error_info", "fits").is_empty(),
        "{}",
        m.text
    );
    assert_eq!(m.value("cert_chain_valid", &[("target", "fits")]), 1.0);
    h.stop().await;

    let dir = tempfile::tempdir().unwrap();
    let ca_pem = write(dir.path(), "ca.pem", &ca.pem());
    let run = check_text(&[
        "--server-name",
        "shop.test",
        "--ca-file",
        &ca_pem.display().to_string(),
        &s13.addr.to_string(),
    ])
    .await;
    assert!(
        run.stdout.contains("65,535 bytes")
            && run
                .stdout
                .contains("→ send a smaller chain: leave the root out"),
        "{}{}",
        run.stdout,
        run.stderr
    );
}
