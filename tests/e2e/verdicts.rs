//! Issue 11's chain verdicts, against real TLS servers: every dimension judged on its own,
//! self-signed named as such, the trust anchor part of the verdict (its dates, its usability,
//! its notAfter exported), keys no rustls client accepts, unparseable certificates, and
//! key-rollover chains webpki cannot build.

use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyUsagePurpose,
};
use rustls::pki_types::CertificateDer;
use time::OffsetDateTime;

use crate::support::binary::check_text;
use crate::support::openssl::{self, s_server};
use crate::support::pki::{pem_of, Ca, Leaf, LeafSpec};
use crate::support::tls_server::{self, TlsOptions};
use crate::support::{write, Harness, Metrics};

const WAIT: Duration = Duration::from_secs(20);

fn days_from_now(days: i64) -> OffsetDateTime {
    OffsetDateTime::now_utc() + time::Duration::days(days)
}

/// CA parameters (as the support PKI's), with chosen dates and basicConstraints.
fn ca_params(cn: &str, is_ca: IsCa, from: i64, to: i64) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("no names");
    params.distinguished_name.push(DnType::CommonName, cn);
    params.is_ca = is_ca;
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = days_from_now(from);
    params.not_after = days_from_now(to);
    params
}

/// A self-signed root made from `params`.
fn root_from(params: CertificateParams) -> Ca {
    Ca::self_signed(params)
}

/// A CA signed by `issuer`, with its own key.
fn signed_ca(params: CertificateParams, issuer: &Ca) -> Ca {
    issuer.sign_ca(params)
}

/// Serves `chain` (leaf first) with `key` in-process.
async fn serve(chain: Vec<CertificateDer<'static>>, leaf: &Leaf) -> tls_server::Server {
    tls_server::tls(chain, leaf.private_key(), TlsOptions::default()).await
}

/// Probes each `(name, address, ca_file)` with SNI `shop.test`, every second.
async fn probe(targets: &[(&str, String, Option<String>)]) -> (Harness, Metrics) {
    let mut yaml = String::from("defaults:\n  interval: 1s\n  timeout: 3s\ntargets:\n");
    for (name, addr, ca) in targets {
        yaml.push_str(&format!(
            "  - name: {name}\n    address: {addr}\n    server_name: shop.test\n"
        ));
        if let Some(ca) = ca {
            yaml.push_str(&format!("    ca_file: {ca}\n"));
        }
    }
    let h = Harness::start(&yaml).await;
    let names: Vec<&str> = targets.iter().map(|t| t.0).collect();
    let m = h.wait_for_probes(&names, WAIT).await;
    (h, m)
}

/// Writes `ca`'s certificate to `dir/file` and returns the path as text.
fn ca_file(dir: &tempfile::TempDir, file: &str, ca: &Ca) -> String {
    write(dir.path(), file, &ca.pem()).display().to_string()
}

#[tokio::test]
async fn openssl_self_signed_certificate_is_self_signed() {
    // What `openssl req -x509` makes: a CA:TRUE self-signed certificate.
    let dir = tempfile::tempdir().unwrap();
    openssl::run(
        dir.path(),
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
            "-days",
            "30",
            "-subj",
            "/CN=shop.test",
            "-addext",
            "subjectAltName=DNS:shop.test",
        ],
    )
    .await;
    let cert = dir.path().join("cert.pem");
    let text = std::fs::read_to_string(&cert).unwrap();
    let der = rustls_pemfile::certs(&mut text.as_bytes())
        .next()
        .unwrap()
        .unwrap();
    let (_, parsed) = x509_parser::parse_x509_certificate(&der).unwrap();
    assert!(parsed.is_ca(), "openssl req -x509 makes CA:TRUE");

    let server = s_server(dir.path(), &cert, &dir.path().join("key.pem"), &[]).await;
    let pinned = cert.display().to_string();
    let (h, m) = probe(&[
        ("untrusted", server.addr.to_string(), None),
        ("pinned", server.addr.to_string(), Some(pinned.clone())),
    ])
    .await;
    assert_eq!(
        m.reasons("cert_chain_error_info", "untrusted"),
        ["self_signed"],
        "{}",
        m.text
    );
    // Trusted as its own anchor, it is still a CA certificate used as a server's: rustls
    // clients refuse that (OpenSSL and Go would not), so it stays invalid, for its purpose.
    assert_eq!(
        m.reasons("cert_chain_error_info", "pinned"),
        ["invalid_purpose"],
        "{}",
        m.text
    );
    h.stop().await;

    let addr = server.addr.to_string();
    let run = check_text(&["--server-name", "shop.test", &addr]).await;
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("self_signed") || run.stdout.contains("self-signed"),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout
            .contains("reissue it as a TLS server certificate"),
        "{}",
        run.stdout
    );
}

#[tokio::test]
async fn every_dimension_is_judged_on_its_own() {
    // A client-only leaf from a root nobody trusts: both the purpose and the trust are wrong.
    let stranger = Ca::root("Stranger Root");
    let mut params = CertificateParams::new(vec!["shop.test".to_string()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "shop.test");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let leaf = stranger.sign_leaf(&params);
    let server = serve(vec![leaf.der.clone()], &leaf).await;
    let (h, m) = probe(&[("t", server.addr.to_string(), None)]).await;
    assert_eq!(
        m.reasons("cert_chain_error_info", "t"),
        ["invalid_purpose", "unknown_issuer"],
        "{}",
        m.text
    );
    h.stop().await;
}

#[tokio::test]
async fn expired_anchor_makes_the_chain_invalid_and_its_not_after_is_exported() {
    let dir = tempfile::tempdir().unwrap();
    let expired = root_from(ca_params(
        "Expired Root",
        IsCa::Ca(BasicConstraints::Unconstrained),
        -800,
        -2,
    ));
    let future = root_from(ca_params(
        "Future Root",
        IsCa::Ca(BasicConstraints::Unconstrained),
        5,
        800,
    ));
    let good = Ca::root("Good Root");
    let spec = LeafSpec::new("shop.test", 30);
    let mut servers = Vec::new();
    let mut targets = Vec::new();
    for (name, root) in [("expired", &expired), ("future", &future), ("good", &good)] {
        let leaf = root.leaf(&spec);
        let server = serve(vec![leaf.der.clone()], &leaf).await;
        targets.push((
            name,
            server.addr.to_string(),
            Some(ca_file(&dir, &format!("{name}.pem"), root)),
        ));
        servers.push(server);
    }
    let (h, m) = probe(&targets).await;
    assert_eq!(
        m.reasons("cert_chain_error_info", "expired"),
        ["anchor_expired"],
        "{}",
        m.text
    );
    assert_eq!(m.value("cert_chain_valid", &[("target", "expired")]), 0.0);
    assert_eq!(
        m.reasons("cert_chain_error_info", "future"),
        ["anchor_not_yet_valid"]
    );
    assert_eq!(m.value("cert_chain_valid", &[("target", "good")]), 1.0);
    // The anchor's notAfter is a series of its own, for a rule that warns before it lapses;
    // it is not the chain's expiry (the leaf's 30 days).
    for (name, root) in [("expired", &expired), ("good", &good)] {
        let anchor = m.value(
            "cert_anchor_not_after_timestamp_seconds",
            &[("target", name)],
        );
        assert_eq!(
            anchor,
            root.params.not_after.unix_timestamp() as f64,
            "{name}"
        );
        let days = m.value("cert_days_to_expiry", &[("target", name)]);
        assert!((29.9..30.1).contains(&days), "{name}: {days}");
    }
    let sample = &m.find(
        "cert_anchor_not_after_timestamp_seconds",
        &[("target", "good")],
    )[0];
    assert!(
        sample.labels["subject"].contains("CN=Good Root"),
        "{sample:?}"
    );
    h.stop().await;
}

#[tokio::test]
async fn anchors_strict_clients_refuse_make_the_chain_invalid() {
    let dir = tempfile::tempdir().unwrap();
    // A root without basicConstraints, and one with an extension nobody knows, marked critical.
    let no_bc = root_from(ca_params("No BC Root", IsCa::NoCa, -30, 3650));
    let mut params = ca_params(
        "Critical Root",
        IsCa::Ca(BasicConstraints::Unconstrained),
        -30,
        3650,
    );
    let mut unknown =
        CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 55738, 666, 1], vec![0x05, 0x00]);
    unknown.set_criticality(true);
    params.custom_extensions.push(unknown);
    let critical = root_from(params);
    let spec = LeafSpec::new("shop.test", 30);
    let mut servers = Vec::new();
    let mut targets = Vec::new();
    for (name, root) in [("no_bc", &no_bc), ("critical", &critical)] {
        let leaf = root.leaf(&spec);
        let server = serve(vec![leaf.der.clone()], &leaf).await;
        targets.push((
            name,
            server.addr.to_string(),
            Some(ca_file(&dir, &format!("{name}.pem"), root)),
        ));
        servers.push(server);
    }
    let (h, m) = probe(&targets).await;
    for (name, _) in &targets.iter().map(|t| (t.0, ())).collect::<Vec<_>>() {
        assert_eq!(
            m.reasons("cert_chain_error_info", name),
            ["anchor_unusable"],
            "{name}: {}",
            m.text
        );
    }
    h.stop().await;
}

#[tokio::test]
async fn unparseable_leaf_is_malformed_certificate() {
    // A leaf with an unknown critical extension: x509-parser reads it, webpki (and so every
    // rustls client) refuses to. rustls will not serve it, so openssl s_server does.
    let root = Ca::root("Malformed Root");
    let dir = tempfile::tempdir().unwrap();
    let ca = ca_file(&dir, "ca.pem", &root);
    let mut params = CertificateParams::new(vec!["shop.test".to_string()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "shop.test");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let mut unknown =
        CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 55738, 666, 2], vec![0x05, 0x00]);
    unknown.set_criticality(true);
    params.custom_extensions.push(unknown);
    let Leaf { der, key } = root.sign_leaf(&params);
    let cert = write(dir.path(), "leaf.pem", &pem_of(&der));
    let key_path = write(dir.path(), "leaf.key", &key.serialize_pem());
    let server = s_server(dir.path(), &cert, &key_path, &[]).await;
    let (h, m) = probe(&[("t", server.addr.to_string(), Some(ca))]).await;
    assert_eq!(
        m.reasons("cert_chain_error_info", "t"),
        ["malformed_certificate"],
        "{}",
        m.text
    );
    h.stop().await;
}

#[tokio::test]
async fn key_rollover_chain_is_not_called_a_bad_signature() {
    // root -> ICA (pathlen 1, key 1) -> ICA again (self-issued: key 2 signed by key 1,
    // pathlen 1) -> ICA2 (pathlen 0) -> leaf. RFC 5280 exempts the self-issued certificate
    // from path length; webpki does not, and reports a signature error from the paths it
    // tried. Every signature verifies: the chain is not "bad_signature".
    let dir = tempfile::tempdir().unwrap();
    let root = Ca::root("Rollover Root");
    // A CA valid from a month ago for about eight years, with a path-length constraint.
    let ca = |name: &str, pathlen: u8, issuer: &Ca| {
        signed_ca(
            ca_params(
                name,
                IsCa::Ca(BasicConstraints::Constrained(pathlen)),
                -30,
                3000,
            ),
            issuer,
        )
    };
    let ica = ca("Rollover ICA", 1, &root);
    let ica_rolled = ca("Rollover ICA", 1, &ica);
    let ica2 = ca("Rollover ICA2", 0, &ica_rolled);
    let leaf = ica2.leaf(&LeafSpec::new("shop.test", 30));
    let chain = vec![
        leaf.der.clone(),
        ica2.der.clone(),
        ica_rolled.der.clone(),
        ica.der.clone(),
    ];
    let server = serve(chain, &leaf).await;
    let (h, m) = probe(&[(
        "t",
        server.addr.to_string(),
        Some(ca_file(&dir, "ca.pem", &root)),
    )])
    .await;
    assert_eq!(
        m.reasons("cert_chain_error_info", "t"),
        ["path_not_built"],
        "{}",
        m.text
    );
    h.stop().await;
}
