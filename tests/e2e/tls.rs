//! Issue 2's probe cases: one real TLS server per case, asserted on the scraped `/metrics`.

use std::time::Duration;

use rustls::pki_types::CertificateDer;
use time::OffsetDateTime;

use crate::support::pki::{self, Ca, LeafSpec};
use crate::support::tls_server::{self, TlsOptions};
use crate::support::{Harness, Metrics};

const WAIT: Duration = Duration::from_secs(20);

/// A root and intermediate, with the root written as the exporter's `ca_file`.
struct Pki {
    inter: Ca,
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Pki {
        let root = Ca::root("Test Root");
        let inter = root.intermediate("Test Intermediate");
        let dir = root.in_temp_dir();
        Pki { inter, dir }
    }

    /// Serves a leaf from `spec` with the intermediate (or `extra` chain) after it.
    async fn serve(
        &self,
        spec: &LeafSpec,
        send_intermediate: bool,
        opts: TlsOptions,
    ) -> tls_server::Server {
        let leaf = self.inter.leaf(spec);
        let mut chain = vec![leaf.der.clone()];
        if send_intermediate {
            chain.push(self.inter.der.clone());
        }
        tls_server::tls(chain, leaf.private_key(), opts).await
    }
}

/// Starts an exporter probing one target `t` with the PKI's root as `ca_file`.
async fn probe_one(pki: Pki, target_yaml: &str) -> (Harness, Metrics) {
    let yaml = format!(
        "defaults:\n  metrics:\n    level: full\n  interval: 1s\n  timeout: 3s\n  ca_file: {{dir}}/ca.pem\ntargets:\n  - name: t\n{target_yaml}"
    );
    let h = Harness::start_in(pki.dir, &yaml).await;
    let m = h.wait_for_probes(&["t"], WAIT).await;
    (h, m)
}

/// Serves a leaf made from `spec` (with the intermediate after it when `send_intermediate`) and
/// probes it by address with SNI `shop.test`.
async fn probe_served(
    spec: &LeafSpec,
    send_intermediate: bool,
    opts: TlsOptions,
) -> (Harness, Metrics, tls_server::Server) {
    let pki = Pki::new();
    let server = pki.serve(spec, send_intermediate, opts).await;
    let (h, m) = probe_one(
        pki,
        &format!("    address: {}\n    server_name: shop.test\n", server.addr),
    )
    .await;
    (h, m, server)
}

/// Serves `chain` with `key` and probes it by address with SNI `shop.test`.
async fn probe_chain(
    pki: Pki,
    chain: Vec<CertificateDer<'static>>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
) -> (Harness, Metrics, tls_server::Server) {
    let server = tls_server::tls(chain, key, TlsOptions::default()).await;
    let (h, m) = probe_one(
        pki,
        &format!("    address: {}\n    server_name: shop.test\n", server.addr),
    )
    .await;
    (h, m, server)
}

fn days_from_now(days: i64) -> OffsetDateTime {
    OffsetDateTime::now_utc() + time::Duration::days(days)
}

#[tokio::test]
async fn valid_chain_reports_every_fact() {
    let pki = Pki::new();
    let server = pki
        .serve(&LeafSpec::new("shop.test", 30), true, TlsOptions::default())
        .await;
    let (h, m) = probe_one(
        pki,
        &format!(
            "    address: {}\n    server_name: shop.test\n    labels: {{team: payments}}\n",
            server.addr
        ),
    )
    .await;
    let t = [("target", "t")];
    assert_eq!(m.value("cert_probe_success", &t), 1.0);
    assert_eq!(m.value("cert_chain_valid", &t), 1.0);
    assert!(m.reasons("cert_chain_error_info", "t").is_empty());
    assert!(m.reasons("cert_probe_error_info", "t").is_empty());
    let days = m.value("cert_days_to_expiry", &t);
    assert!((29.9..30.1).contains(&days), "days to expiry {days}");
    let expiry = m.value("cert_expiry_timestamp_seconds", &t);
    let leaf_not_after = m.value(
        "cert_not_after_timestamp_seconds",
        &[("target", "t"), ("position", "0")],
    );
    assert_eq!(expiry, leaf_not_after);
    assert!(m
        .get(
            "cert_not_after_timestamp_seconds",
            &[("target", "t"), ("position", "1")]
        )
        .is_some());
    assert!(m
        .get(
            "cert_not_before_timestamp_seconds",
            &[("target", "t"), ("position", "0")]
        )
        .is_some());
    let info = m.find("cert_info", &[("target", "t"), ("position", "0")]);
    assert_eq!(info.len(), 1);
    let l = &info[0].labels;
    assert_eq!(l["subject"], "CN=shop.test");
    assert!(l["issuer"].contains("CN=Test Intermediate"), "{l:?}");
    assert_eq!(l["key_algorithm"], "EC");
    assert_eq!(l["key_bits"], "256");
    assert_eq!(l["signature_algorithm"], "ecdsa-with-SHA256");
    assert_eq!(l["dns_names"], "shop.test");
    assert_eq!(l["sha256_fingerprint"].len(), 64);
    assert_eq!(l["team"], "payments");
    assert_eq!(
        m.value(
            "cert_tls_version_info",
            &[("target", "t"), ("version", "TLS 1.3")]
        ),
        1.0
    );
    let cipher = m.find("cert_tls_cipher_info", &t);
    assert_eq!(cipher.len(), 1);
    assert!(
        cipher[0].labels["cipher"].starts_with("TLS13_"),
        "{cipher:?}"
    );
    assert!(!cipher[0].labels["group"].is_empty(), "{cipher:?}");
    for phase in ["dns", "connect", "handshake", "total"] {
        assert!(
            m.get(
                "cert_probe_duration_seconds",
                &[("target", "t"), ("phase", phase)]
            )
            .is_some(),
            "{phase}"
        );
    }
    drop(server);
    h.stop().await;
}

#[tokio::test]
async fn expired_leaf_still_reports_expiry_and_trust() {
    let spec = LeafSpec::new("shop.test", 0).valid(days_from_now(-100), days_from_now(-10));
    let (h, m, _server) = probe_served(&spec, true, TlsOptions::default()).await;
    assert_eq!(m.value("cert_chain_valid", &[("target", "t")]), 0.0);
    // Only the dates are wrong: trust and name are still judged, and pass.
    assert_eq!(m.reasons("cert_chain_error_info", "t"), ["expired"]);
    let days = m.value("cert_days_to_expiry", &[("target", "t")]);
    assert!((-10.1..-9.9).contains(&days), "{days}");
    assert_eq!(m.value("cert_probe_success", &[("target", "t")]), 1.0);
    h.stop().await;
}

#[tokio::test]
async fn not_yet_valid_leaf() {
    let spec = LeafSpec::new("shop.test", 0).valid(days_from_now(5), days_from_now(95));
    let (h, m, _server) = probe_served(&spec, true, TlsOptions::default()).await;
    assert_eq!(m.reasons("cert_chain_error_info", "t"), ["not_yet_valid"]);
    assert_eq!(m.value("cert_chain_valid", &[("target", "t")]), 0.0);
    h.stop().await;
}

#[tokio::test]
async fn hostname_not_covered() {
    let (h, m, _server) = probe_served(
        &LeafSpec::new("other.test", 30),
        true,
        TlsOptions::default(),
    )
    .await;
    assert_eq!(
        m.reasons("cert_chain_error_info", "t"),
        ["hostname_mismatch"]
    );
    h.stop().await;
}

#[tokio::test]
async fn expired_and_misnamed_reports_both() {
    let spec = LeafSpec::new("other.test", 0).valid(days_from_now(-100), days_from_now(-1));
    let (h, m, _server) = probe_served(&spec, true, TlsOptions::default()).await;
    assert_eq!(
        m.reasons("cert_chain_error_info", "t"),
        ["expired", "hostname_mismatch"]
    );
    h.stop().await;
}

#[tokio::test]
async fn self_signed_leaf() {
    let pki = Pki::new();
    let leaf = pki::self_signed_leaf("shop.test");
    let (h, m, _server) = probe_chain(pki, vec![leaf.der.clone()], leaf.private_key()).await;
    assert_eq!(m.reasons("cert_chain_error_info", "t"), ["self_signed"]);
    assert!(m.get("cert_days_to_expiry", &[("target", "t")]).is_some());
    h.stop().await;
}

#[tokio::test]
async fn leaf_without_its_intermediate() {
    let (h, m, _server) = probe_served(
        &LeafSpec::new("shop.test", 30),
        false,
        TlsOptions::default(),
    )
    .await;
    assert_eq!(m.reasons("cert_chain_error_info", "t"), ["unknown_issuer"]);
    let days = m.value("cert_days_to_expiry", &[("target", "t")]);
    assert!((29.9..30.1).contains(&days), "{days}");
    h.stop().await;
}

#[tokio::test]
async fn untrusted_root_is_unknown_issuer() {
    let pki = Pki::new();
    let stranger = Ca::root("Stranger Root");
    let leaf = stranger.leaf(&LeafSpec::new("shop.test", 30));
    let (h, m, _server) = probe_chain(pki, vec![leaf.der.clone()], leaf.private_key()).await;
    assert_eq!(m.reasons("cert_chain_error_info", "t"), ["unknown_issuer"]);
    h.stop().await;
}

#[tokio::test]
async fn extra_expired_root_does_not_drag_expiry_down() {
    let pki = Pki::new();
    // An old, expired self-signed root the server still sends after the real chain.
    let mut old = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    old.distinguished_name
        .push(rcgen::DnType::CommonName, "Old Root");
    old.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    old.not_before = days_from_now(-4000);
    old.not_after = days_from_now(-30);
    let old_key = rcgen::KeyPair::generate().unwrap();
    let old_root: CertificateDer<'static> = old.self_signed(&old_key).unwrap().der().clone();
    let leaf = pki.inter.leaf(&LeafSpec::new("shop.test", 30));
    let chain = vec![leaf.der.clone(), pki.inter.der.clone(), old_root];
    let (h, m, _server) = probe_chain(pki, chain, leaf.private_key()).await;
    assert_eq!(m.value("cert_chain_valid", &[("target", "t")]), 1.0);
    let days = m.value("cert_days_to_expiry", &[("target", "t")]);
    assert!((29.9..30.1).contains(&days), "{days}");
    // The old root is still listed, at its position.
    assert!(m
        .get(
            "cert_not_after_timestamp_seconds",
            &[("target", "t"), ("position", "2")]
        )
        .is_some());
    h.stop().await;
}

#[tokio::test]
async fn tls12_only_server() {
    let opts = TlsOptions {
        versions: vec![&rustls::version::TLS12],
        ..Default::default()
    };
    let (h, m, _server) = probe_served(&LeafSpec::new("shop.test", 30), true, opts).await;
    assert_eq!(
        m.value(
            "cert_tls_version_info",
            &[("target", "t"), ("version", "TLS 1.2")]
        ),
        1.0
    );
    assert_eq!(m.value("cert_chain_valid", &[("target", "t")]), 1.0);
    let cipher = m.find("cert_tls_cipher_info", &[("target", "t")]);
    assert!(
        cipher[0].labels["cipher"].starts_with("TLS_ECDHE_"),
        "{cipher:?}"
    );
    h.stop().await;
}

#[tokio::test]
async fn tls13_only_server() {
    let opts = TlsOptions {
        versions: vec![&rustls::version::TLS13],
        ..Default::default()
    };
    let (h, m, _server) = probe_served(&LeafSpec::new("shop.test", 30), true, opts).await;
    assert_eq!(
        m.value(
            "cert_tls_version_info",
            &[("target", "t"), ("version", "TLS 1.3")]
        ),
        1.0
    );
    h.stop().await;
}

#[tokio::test]
async fn silent_listener_times_out_within_its_budget() {
    let pki = Pki::new();
    let server = tls_server::silent().await;
    let yaml = format!(
        "defaults:\n  metrics:\n    level: full\n  interval: 1s\n  timeout: 1s\n  ca_file: {{dir}}/ca.pem\ntargets:\n  - name: t\n    address: {}\n",
        server.addr
    );
    let h = Harness::start_in(pki.dir, &yaml).await;
    let m = h.wait_for_probes(&["t"], WAIT).await;
    assert_eq!(m.reasons("cert_probe_error_info", "t"), ["timeout"]);
    assert_eq!(m.value("cert_probe_success", &[("target", "t")]), 0.0);
    let total = m.value(
        "cert_probe_duration_seconds",
        &[("target", "t"), ("phase", "total")],
    );
    assert!((0.9..1.5).contains(&total), "a 1s timeout took {total}s");
    assert!(m.get("cert_chain_valid", &[("target", "t")]).is_none());
    h.stop().await;
}

#[tokio::test]
async fn closed_port_is_refused() {
    let pki = Pki::new();
    let addr = crate::support::ports::closed_port().await;
    let (h, m) = probe_one(pki, &format!("    address: {addr}\n")).await;
    assert_eq!(m.reasons("cert_probe_error_info", "t"), ["connect_refused"]);
    assert_eq!(m.value("cert_probe_success", &[("target", "t")]), 0.0);
    h.stop().await;
}

#[tokio::test]
async fn unresolvable_name_is_a_dns_failure() {
    let pki = Pki::new();
    let (h, m) = probe_one(pki, "    address: no-such-host.invalid:443\n").await;
    assert_eq!(m.reasons("cert_probe_error_info", "t"), ["dns"]);
    assert!(m
        .get(
            "cert_probe_duration_seconds",
            &[("target", "t"), ("phase", "connect")]
        )
        .is_none());
    h.stop().await;
}

#[tokio::test]
async fn ip_address_with_server_name_sends_sni() {
    let pki = Pki::new();
    // This server only answers the SNI "shop.test": a probe without SNI would fail.
    let opts = TlsOptions {
        only_sni: Some("shop.test".into()),
        ..Default::default()
    };
    let server = pki.serve(&LeafSpec::new("shop.test", 30), true, opts).await;
    let (h, m) = probe_one(
        pki,
        &format!(
            "    address: 127.0.0.1:{}\n    server_name: shop.test\n",
            server.addr.port()
        ),
    )
    .await;
    assert_eq!(
        m.value("cert_chain_valid", &[("target", "t")]),
        1.0,
        "{}",
        m.text
    );
    h.stop().await;
}

#[tokio::test]
async fn chain_is_kept_when_the_handshake_fails_afterwards() {
    let pki = Pki::new();
    // TLS 1.2 server demanding a client certificate: the handshake fails after the server's
    // certificate arrived, and the chain must still be reported.
    let client_ca = Ca::root("Client Root");
    let opts = TlsOptions {
        versions: vec![&rustls::version::TLS12],
        client_ca: Some(client_ca.der.clone()),
        ..Default::default()
    };
    let server = pki.serve(&LeafSpec::new("shop.test", 30), true, opts).await;
    let (h, m) = probe_one(
        pki,
        &format!("    address: {}\n    server_name: shop.test\n", server.addr),
    )
    .await;
    assert_eq!(
        m.reasons("cert_probe_error_info", "t"),
        ["client_cert_required"]
    );
    assert_eq!(m.value("cert_chain_valid", &[("target", "t")]), 1.0);
    assert_eq!(
        m.value("cert_client_cert_requested", &[("target", "t")]),
        1.0
    );
    assert!(m.get("cert_days_to_expiry", &[("target", "t")]).is_some());
    h.stop().await;
}
