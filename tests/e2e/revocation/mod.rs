//! Issue 3's revocation cases: real TLS servers, a real `openssl ocsp` responder, CRLs made with
//! rcgen and served over real HTTP, the real exporter; every assertion is on scraped `/metrics`.

mod complete;
mod faults;
mod http;
mod responder;

use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CrlDistributionPoint,
    DnType, ExtendedKeyUsagePurpose, IsCa, KeyIdMethod, KeyPair, KeyUsagePurpose,
    RevokedCertParams, SerialNumber,
};
use rustls::pki_types::CertificateDer;
use time::OffsetDateTime;

use crate::support::pki::{Ca, Leaf, LeafSpec};
use crate::support::tls_server::{self, TlsOptions};
use crate::support::{Harness, Metrics};
use http::{HttpServer, Route};
use responder::{Entry, OcspFiles};

const WAIT: Duration = Duration::from_secs(20);
const GOOD: u64 = 0x1001;
const REVOKED: u64 = 0x2002;

/// A root that the exporter trusts (written as `ca_file` into the harness directory).
struct World {
    root: Ca,
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let root = Ca::root("Revocation Root");
        let dir = root.in_temp_dir();
        World { root, dir }
    }
}

/// A leaf for `shop.test` with `serial`, signed by `ca`, naming the given responder and CRL.
fn leaf(ca: &Ca, serial: u64, ocsp_url: Option<String>, crl_url: Option<String>) -> Leaf {
    let mut spec = LeafSpec::new("shop.test", 30);
    spec.serial = Some(serial);
    spec.ocsp_url = ocsp_url;
    spec.crl_url = crl_url;
    ca.leaf(&spec)
}

/// An intermediate CA under `parent` whose own revocation is in the CRL at `crl_url`.
fn intermediate_with_crl(parent: &Ca, cn: &str, serial: u64, crl_url: &str) -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.serial_number = Some(SerialNumber::from(serial));
    params.crl_distribution_points = vec![CrlDistributionPoint {
        uris: vec![crl_url.to_string()],
    }];
    let now = OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(10);
    params.not_after = now + time::Duration::days(1000);
    parent.sign_ca(params)
}

/// A delegated OCSP responder certificate of `ca` (OCSPSigning extended key usage).
fn responder_cert(ca: &Ca) -> (CertificateDer<'static>, KeyPair) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "Test OCSP Responder");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::OcspSigning];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let key = KeyPair::generate().unwrap();
    let der = params.signed_by(&key, &ca.issuer()).unwrap().der().clone();
    (der, key)
}

/// A CRL of `ca` listing `revoked`, valid from `this_update` to `next_update` days from now.
fn crl(ca: &Ca, revoked: &[u64], this_update: i64, next_update: i64) -> Vec<u8> {
    let now = OffsetDateTime::now_utc();
    CertificateRevocationListParams {
        this_update: now + time::Duration::days(this_update),
        next_update: now + time::Duration::days(next_update),
        crl_number: SerialNumber::from(1u64),
        issuing_distribution_point: None,
        revoked_certs: revoked
            .iter()
            .map(|s| RevokedCertParams {
                serial_number: SerialNumber::from(*s),
                revocation_time: now - time::Duration::days(1),
                reason_code: Some(rcgen::RevocationReason::KeyCompromise),
                invalidity_date: None,
            })
            .collect(),
        key_identifier_method: KeyIdMethod::Sha256,
    }
    .signed_by(&ca.issuer())
    .unwrap()
    .der()
    .to_vec()
}

/// Serves `leaf` (plus `extra` certificates after it) over TLS.
async fn serve(leaf: &Leaf, extra: &[&Ca], opts: TlsOptions) -> tls_server::Server {
    let mut chain = vec![leaf.der.clone()];
    chain.extend(extra.iter().map(|ca| ca.der.clone()));
    tls_server::tls(chain, leaf.private_key(), opts).await
}

/// Starts an exporter on `world` probing one target `t` at `addr`, with `extra` YAML under the
/// target, and waits for its first probe.
async fn probe(world: World, addr: std::net::SocketAddr, extra: &str) -> (Harness, Metrics) {
    let yaml = format!(
        "defaults:\n  metrics:\n    level: full\n  interval: 1s\n  timeout: 3s\n  ca_file: {{dir}}/ca.pem\ntargets:\n  - name: t\n    address: {addr}\n    server_name: shop.test\n{extra}"
    );
    let h = Harness::start_in(world.dir, &yaml).await;
    let m = h.wait_for_probes(&["t"], WAIT).await;
    (h, m)
}

fn revoked(m: &Metrics, source: &str) -> Option<f64> {
    m.get("cert_revoked", &[("target", "t"), ("source", source)])
}

/// The `reason`s of `cert_revocation_error_info` for one source.
fn errors(m: &Metrics, source: &str) -> Vec<String> {
    m.reasons_where(
        "cert_revocation_error_info",
        &[("target", "t"), ("source", source)],
    )
}

fn fetches(m: &Metrics, source: &str, result: &str) -> f64 {
    m.get(
        "cert_revocation_fetches_total",
        &[("source", source), ("result", result)],
    )
    .unwrap_or(0.0)
}

/// The chain is still judged and its expiry reported, whatever revocation said.
fn assert_chain_reported(m: &Metrics) {
    assert_eq!(m.value("cert_probe_success", &[("target", "t")]), 1.0);
    let days = m.value("cert_days_to_expiry", &[("target", "t")]);
    assert!((29.0..31.0).contains(&days), "days to expiry {days}");
}

#[tokio::test]
async fn good_everywhere_with_delegated_responder_and_intermediate_crl() {
    let world = World::new();
    let crls = HttpServer::start().await;
    let inter = intermediate_with_crl(
        &world.root,
        "Revocation Intermediate",
        0x77,
        &crls.url("/root.crl"),
    );
    let (signer, signer_key) = responder_cert(&inter);
    let files = OcspFiles::new(&inter.der, &signer, &signer_key, &[Entry::good(GOOD)]);
    let responder = files.serve().await;
    let leaf = leaf(
        &inter,
        GOOD,
        Some(responder.url.clone()),
        Some(crls.url("/inter.crl")),
    );
    crls.set("/inter.crl", Route::crl(crl(&inter, &[REVOKED], -1, 7)));
    crls.set("/root.crl", Route::crl(crl(&world.root, &[0x78], -1, 7)));
    let server = serve(&leaf, &[&inter], TlsOptions::default()).await;
    let (h, m) = probe(world, server.addr, "").await;

    assert_chain_reported(&m);
    assert_eq!(m.value("cert_chain_valid", &[("target", "t")]), 1.0);
    assert_eq!(revoked(&m, "ocsp"), Some(0.0), "{}", m.text);
    assert_eq!(revoked(&m, "crl"), Some(0.0), "{}", m.text);
    assert_eq!(revoked(&m, "ocsp_stapled"), None);
    assert!(
        m.find("cert_revocation_error_info", &[]).is_empty(),
        "{}",
        m.text
    );
    assert_eq!(m.value("cert_ocsp_stapled", &[("target", "t")]), 0.0);
    // openssl was told -nmin 60: nextUpdate is an hour ahead.
    let next = m.value(
        "cert_ocsp_next_update_timestamp_seconds",
        &[("target", "t"), ("source", "ocsp")],
    );
    let now = cert_expiry_exporter::clock::unix_now() as f64;
    assert!(
        (now + 3000.0..now + 3700.0).contains(&next),
        "{next} vs {now}"
    );
    // Both CRLs were read: the leaf's (from the intermediate) and the intermediate's (root).
    for path in ["/inter.crl", "/root.crl"] {
        let url = crls.url(path);
        assert_eq!(crls.requests(path), 1, "{path}");
        assert_eq!(m.value("cert_crl_stale", &[("url", &url)]), 0.0);
        let next = m.value("cert_crl_next_update_timestamp_seconds", &[("url", &url)]);
        assert!((now + 6.0 * 86_400.0..now + 8.0 * 86_400.0).contains(&next));
    }
    assert!(
        m.get(
            "cert_probe_duration_seconds",
            &[("target", "t"), ("phase", "revocation")]
        )
        .is_some(),
        "{}",
        m.text
    );
    drop(server);
    h.stop().await;
}

#[tokio::test]
async fn revoked_in_ocsp_and_crl_with_the_ca_as_responder_and_anchor_as_issuer() {
    let world = World::new();
    let crls = HttpServer::start().await;
    let mut files = OcspFiles::by_ca(
        &world.root,
        &[Entry {
            serial: REVOKED,
            revoked: true,
        }],
    );
    files.by_key = true;
    let responder = files.serve().await;
    // Issued by the root itself; the server sends the leaf alone, so the issuer whose name and
    // key check the answers is the trust anchor.
    let leaf = leaf(
        &world.root,
        REVOKED,
        Some(responder.url.clone()),
        Some(crls.url("/root.crl")),
    );
    crls.set("/root.crl", Route::crl(crl(&world.root, &[REVOKED], -1, 7)));
    let server = serve(&leaf, &[], TlsOptions::default()).await;
    let (h, m) = probe(world, server.addr, "").await;

    assert_chain_reported(&m);
    assert_eq!(revoked(&m, "ocsp"), Some(1.0), "{}", m.text);
    assert_eq!(revoked(&m, "crl"), Some(1.0), "{}", m.text);
    assert_eq!(m.value("cert_chain_valid", &[("target", "t")]), 0.0);
    assert_eq!(m.reasons("cert_chain_error_info", "t"), ["revoked"]);
    assert!(
        m.find("cert_revocation_error_info", &[]).is_empty(),
        "{}",
        m.text
    );
    drop(server);
    h.stop().await;
}

#[tokio::test]
async fn an_intermediate_revoked_by_its_root_revokes_the_chain() {
    let world = World::new();
    let crls = HttpServer::start().await;
    let inter = intermediate_with_crl(
        &world.root,
        "Revoked Intermediate",
        0x99,
        &crls.url("/root.crl"),
    );
    let leaf = leaf(&inter, GOOD, None, Some(crls.url("/inter.crl")));
    crls.set("/inter.crl", Route::crl(crl(&inter, &[], -1, 7)));
    crls.set("/root.crl", Route::crl(crl(&world.root, &[0x99], -1, 7)));
    let server = serve(&leaf, &[&inter], TlsOptions::default()).await;
    let (h, m) = probe(world, server.addr, "").await;

    assert_eq!(revoked(&m, "crl"), Some(1.0), "{}", m.text);
    assert_eq!(m.reasons("cert_chain_error_info", "t"), ["revoked"]);
    assert_eq!(revoked(&m, "ocsp"), None, "no responder named");
    h.stop().await;
}

#[tokio::test]
async fn stapled_good_and_stapled_revoked() {
    let world = World::new();
    let files = OcspFiles::by_ca(
        &world.root,
        &[
            Entry::good(GOOD),
            Entry {
                serial: REVOKED,
                revoked: true,
            },
        ],
    );
    // Leaves without AIA or CDP: the stapled answer is the only source.
    let good = leaf(&world.root, GOOD, None, None);
    let bad = leaf(&world.root, REVOKED, None, None);
    let staple = |leaf: &Leaf| TlsOptions {
        ocsp: files.response_for(&leaf.der),
        ..TlsOptions::default()
    };
    let good_server = serve(&good, &[], staple(&good)).await;
    let bad_server = serve(&bad, &[], staple(&bad)).await;
    // A server stapling an answer about another certificate.
    let mixed_server = serve(&bad, &[], staple(&good)).await;
    let yaml = format!(
        "defaults:\n  metrics:\n    level: full\n  interval: 1s\n  timeout: 3s\n  ca_file: {{dir}}/ca.pem\ntargets:\n  - name: good\n    address: {}\n    server_name: shop.test\n  - name: bad\n    address: {}\n    server_name: shop.test\n  - name: mixed\n    address: {}\n    server_name: shop.test\n",
        good_server.addr, bad_server.addr, mixed_server.addr
    );
    let h = Harness::start_in(world.dir, &yaml).await;
    let m = h.wait_for_probes(&["good", "bad", "mixed"], WAIT).await;

    let src = |t: &'static str| [("target", t), ("source", "ocsp_stapled")];
    assert_eq!(m.value("cert_ocsp_stapled", &[("target", "good")]), 1.0);
    assert_eq!(m.value("cert_ocsp_stapled", &[("target", "bad")]), 1.0);
    assert_eq!(m.get("cert_revoked", &src("good")), Some(0.0), "{}", m.text);
    assert_eq!(m.get("cert_revoked", &src("bad")), Some(1.0), "{}", m.text);
    assert_eq!(m.value("cert_chain_valid", &[("target", "good")]), 1.0);
    assert_eq!(m.value("cert_chain_valid", &[("target", "bad")]), 0.0);
    assert_eq!(m.reasons("cert_chain_error_info", "bad"), ["revoked"]);
    assert!(m
        .get("cert_ocsp_next_update_timestamp_seconds", &src("good"))
        .is_some());
    for t in ["good", "bad"] {
        for source in ["ocsp", "crl"] {
            assert!(
                m.find("cert_revoked", &[("target", t), ("source", source)])
                    .is_empty(),
                "{t} {source}"
            );
        }
    }
    for t in ["good", "bad"] {
        let errors = m.find("cert_revocation_error_info", &[("target", t)]);
        assert!(errors.is_empty(), "{t}: {errors:?}");
    }
    let mixed: Vec<&str> = m
        .find("cert_revocation_error_info", &src("mixed"))
        .iter()
        .map(|s| s.labels["reason"].as_str())
        .collect();
    assert_eq!(mixed, ["no_matching_response"], "{}", m.text);
    assert!(m.get("cert_revoked", &src("mixed")).is_none());
    assert_eq!(m.value("cert_chain_valid", &[("target", "mixed")]), 1.0);
    h.stop().await;
}

#[tokio::test]
async fn responder_down() {
    let world = World::new();
    let closed = crate::support::ports::closed_port().await;
    let leaf = leaf(&world.root, GOOD, Some(format!("http://{closed}/")), None);
    let server = serve(&leaf, &[], TlsOptions::default()).await;
    let (h, m) = probe(world, server.addr, "").await;

    assert_eq!(errors(&m, "ocsp"), ["unreachable"], "{}", m.text);
    assert_eq!(
        revoked(&m, "ocsp"),
        None,
        "a failed check is never \"good\""
    );
    // Not revoked as far as anyone could verify: the chain stays valid, expiry is reported.
    assert_eq!(m.value("cert_chain_valid", &[("target", "t")]), 1.0);
    assert_chain_reported(&m);
    assert_eq!(fetches(&m, "ocsp", "failure"), 1.0);
    h.stop().await;
}

#[tokio::test]
async fn a_silent_responder_costs_the_budget_and_hides_nothing() {
    let world = World::new();
    let silent = tls_server::silent().await;
    let leaf = leaf(
        &world.root,
        GOOD,
        Some(format!("http://{}/", silent.addr)),
        None,
    );
    let server = serve(&leaf, &[], TlsOptions::default()).await;
    let yaml = format!(
        "defaults:\n  metrics:\n    level: full\n  interval: 2s\n  timeout: 1s\n  ca_file: {{dir}}/ca.pem\ntargets:\n  - name: t\n    address: {}\n    server_name: shop.test\n",
        server.addr
    );
    let h = Harness::start_in(world.dir, &yaml).await;
    let m = h.wait_for_probes(&["t"], WAIT).await;

    assert_eq!(errors(&m, "ocsp"), ["timeout"], "{}", m.text);
    assert_chain_reported(&m);
    assert_eq!(m.value("cert_chain_valid", &[("target", "t")]), 1.0);
    let spent = m.value(
        "cert_probe_duration_seconds",
        &[("target", "t"), ("phase", "revocation")],
    );
    // It waited for its budget, and no longer than that (plus scheduling slack).
    assert!((0.9..5.0).contains(&spent), "revocation took {spent} s");
    h.stop().await;
}

#[tokio::test]
async fn responder_answering_garbage() {
    let world = World::new();
    let junk = HttpServer::start().await;
    junk.set(
        "/",
        Route::ocsp(b"<html><body>502 Bad Gateway</body></html>".to_vec()),
    );
    let leaf = leaf(&world.root, GOOD, Some(junk.url("/")), None);
    let server = serve(&leaf, &[], TlsOptions::default()).await;
    let (h, m) = probe(world, server.addr, "").await;

    assert_eq!(errors(&m, "ocsp"), ["malformed"], "{}", m.text);
    assert_eq!(revoked(&m, "ocsp"), None);
    assert_eq!(junk.requests("/"), 1);
    assert_eq!(fetches(&m, "ocsp", "success"), 1.0);
    h.stop().await;
}

#[tokio::test]
async fn responder_error_status_is_not_an_answer() {
    let world = World::new();
    let http = HttpServer::start().await;
    http.set(
        "/",
        Route {
            status: 503,
            ..Route::ocsp(Vec::new())
        },
    );
    let leaf = leaf(&world.root, GOOD, Some(http.url("/")), None);
    let server = serve(&leaf, &[], TlsOptions::default()).await;
    let (h, m) = probe(world, server.addr, "").await;
    assert_eq!(errors(&m, "ocsp"), ["http_status"], "{}", m.text);
    h.stop().await;
}

#[tokio::test]
async fn response_signed_by_the_wrong_key() {
    let world = World::new();
    let answering = |signer: &CertificateDer<'_>, key: &KeyPair| {
        OcspFiles::new(&world.root.der, signer, key, &[Entry::good(GOOD)])
    };
    // Signed under the issuer's very name, with another key: only the signature tells.
    let impostor = Ca::root("Revocation Root");
    // Signed as another CA altogether.
    let stranger = Ca::root("Stranger CA");
    // Signed by a certificate of the issuer that lacks the OCSPSigning usage.
    let (no_eku, no_eku_key) = {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "Not A Responder");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate().unwrap();
        let der = params
            .signed_by(&key, &world.root.issuer())
            .unwrap()
            .der()
            .clone();
        (der, key)
    };
    let files = [
        ("impostor", answering(&impostor.der, &impostor.key)),
        ("stranger", answering(&stranger.der, &stranger.key)),
        ("no_eku", answering(&no_eku, &no_eku_key)),
    ];
    let mut responders = Vec::new();
    let mut servers = Vec::new();
    let mut yaml =
        "defaults:\n  metrics:\n    level: full\n  interval: 1s\n  timeout: 3s\n  ca_file: {dir}/ca.pem\ntargets:\n".to_string();
    for (name, files) in &files {
        let responder = files.serve().await;
        let leaf = leaf(&world.root, GOOD, Some(responder.url.clone()), None);
        let server = serve(&leaf, &[], TlsOptions::default()).await;
        yaml.push_str(&format!(
            "  - name: {name}\n    address: {}\n    server_name: shop.test\n",
            server.addr
        ));
        responders.push(responder);
        servers.push(server);
    }
    let h = Harness::start_in(world.dir, &yaml).await;
    let m = h
        .wait_for_probes(&["impostor", "stranger", "no_eku"], WAIT)
        .await;

    for (t, _) in &files {
        let l = [("target", *t), ("source", "ocsp")];
        assert!(m.find("cert_revoked", &l).is_empty(), "{t}: {}", m.text);
        let reasons: Vec<&str> = m
            .find("cert_revocation_error_info", &l)
            .iter()
            .map(|s| s.labels["reason"].as_str())
            .collect();
        assert_eq!(reasons, ["bad_signature"], "{t}: {}", m.text);
        assert_eq!(m.value("cert_chain_valid", &[("target", t)]), 1.0);
    }
    h.stop().await;
}

#[tokio::test]
async fn crl_signed_by_the_wrong_key() {
    let world = World::new();
    // Same name as the root, different key.
    let impostor = Ca::root("Revocation Root");
    let crls = HttpServer::start().await;
    let leaf = leaf(&world.root, GOOD, None, Some(crls.url("/root.crl")));
    crls.set("/root.crl", Route::crl(crl(&impostor, &[], -1, 7)));
    let server = serve(&leaf, &[], TlsOptions::default()).await;
    let (h, m) = probe(world, server.addr, "").await;

    assert_eq!(errors(&m, "crl"), ["bad_signature"], "{}", m.text);
    assert_eq!(revoked(&m, "crl"), None);
    assert_eq!(m.value("cert_chain_valid", &[("target", "t")]), 1.0);
    h.stop().await;
}

#[tokio::test]
async fn crl_past_next_update_is_stale_and_asked_again_conditionally() {
    let world = World::new();
    let crls = HttpServer::start().await;
    let leaf = leaf(&world.root, GOOD, None, Some(crls.url("/root.crl")));
    crls.set("/root.crl", Route::crl(crl(&world.root, &[], -3, -1)));
    let server = serve(&leaf, &[], TlsOptions::default()).await;
    let (h, m) = probe(world, server.addr, "").await;

    assert_eq!(errors(&m, "crl"), ["stale"], "{}", m.text);
    assert_eq!(
        revoked(&m, "crl"),
        None,
        "\"not listed\" in an old CRL proves nothing"
    );
    let url = crls.url("/root.crl");
    assert_eq!(m.value("cert_crl_stale", &[("url", &url)]), 1.0);
    // A stale CRL is asked for again at each probe, with If-None-Match: the server says 304.
    let m = h
        .wait_until(WAIT, |m| fetches(m, "crl", "not_modified") >= 2.0)
        .await;
    assert!(crls.conditional("/root.crl") >= 2);
    assert_eq!(fetches(&m, "crl", "success"), 1.0, "{}", m.text);
    assert_eq!(errors(&m, "crl"), ["stale"]);
    drop(server);
    h.stop().await;
}

#[tokio::test]
async fn crl_larger_than_the_cap() {
    let world = World::new();
    let crls = HttpServer::start().await;
    let many: Vec<u64> = (0x10_0000..0x10_0000 + 200).collect();
    let big = crl(&world.root, &many, -1, 7);
    assert!(big.len() > 4096, "{}", big.len());
    crls.set("/sized.crl", Route::crl(big.clone()));
    crls.set(
        "/chunked.crl",
        Route {
            chunked: true,
            ..Route::crl(big)
        },
    );
    let sized = leaf(&world.root, GOOD, None, Some(crls.url("/sized.crl")));
    let chunked = leaf(&world.root, GOOD, None, Some(crls.url("/chunked.crl")));
    let s1 = serve(&sized, &[], TlsOptions::default()).await;
    let s2 = serve(&chunked, &[], TlsOptions::default()).await;
    let yaml = format!(
        "defaults:\n  metrics:\n    level: full\n  interval: 1s\n  timeout: 3s\n  ca_file: {{dir}}/ca.pem\n  revocation: {{crl_max_bytes: 4KiB}}\ntargets:\n  - name: sized\n    address: {}\n    server_name: shop.test\n  - name: chunked\n    address: {}\n    server_name: shop.test\n",
        s1.addr, s2.addr
    );
    let h = Harness::start_in(world.dir, &yaml).await;
    let m = h.wait_for_probes(&["sized", "chunked"], WAIT).await;
    for t in ["sized", "chunked"] {
        let l = [("target", t), ("source", "crl")];
        let reasons: Vec<&str> = m
            .find("cert_revocation_error_info", &l)
            .iter()
            .map(|s| s.labels["reason"].as_str())
            .collect();
        assert_eq!(reasons, ["too_large"], "{t}: {}", m.text);
        assert!(m.find("cert_revoked", &l).is_empty());
    }
    h.stop().await;
}

#[tokio::test]
async fn no_aia_and_no_cdp_means_no_revocation_series() {
    let world = World::new();
    let leaf = leaf(&world.root, GOOD, None, None);
    let server = serve(&leaf, &[], TlsOptions::default()).await;
    let (h, m) = probe(world, server.addr, "").await;

    assert_eq!(m.value("cert_chain_valid", &[("target", "t")]), 1.0);
    assert_eq!(m.value("cert_ocsp_stapled", &[("target", "t")]), 0.0);
    for name in [
        "cert_revoked",
        "cert_revocation_error_info",
        "cert_ocsp_next_update_timestamp_seconds",
        "cert_crl_next_update_timestamp_seconds",
        "cert_crl_stale",
        "cert_revocation_fetches_total",
    ] {
        assert!(m.find(name, &[]).is_empty(), "{name}: {}", m.text);
    }
    h.stop().await;
}

#[tokio::test]
async fn switched_off_sources_are_not_asked() {
    let world = World::new();
    let http = HttpServer::start().await;
    http.set("/root.crl", Route::crl(crl(&world.root, &[], -1, 7)));
    let leaf = leaf(
        &world.root,
        GOOD,
        Some(http.url("/ocsp")),
        Some(http.url("/root.crl")),
    );
    let server = serve(&leaf, &[], TlsOptions::default()).await;
    let (h, m) = probe(
        world,
        server.addr,
        "    revocation: {ocsp: false, crl: false}\n",
    )
    .await;
    assert!(m.find("cert_revoked", &[]).is_empty(), "{}", m.text);
    assert!(m.find("cert_revocation_error_info", &[]).is_empty());
    assert_eq!(http.total(), 0);
    h.stop().await;
}

#[tokio::test]
async fn answers_are_cached_between_probes() {
    let world = World::new();
    let files = OcspFiles::by_ca(&world.root, &[Entry::good(GOOD)]);
    let http = HttpServer::start().await;
    let leaf = leaf(
        &world.root,
        GOOD,
        Some(http.url("/ocsp")),
        Some(http.url("/root.crl")),
    );
    // The responder's answer (nextUpdate in an hour), served by the counting server.
    http.set("/ocsp", Route::ocsp(files.response_for(&leaf.der)));
    http.set("/root.crl", Route::crl(crl(&world.root, &[], -1, 7)));
    let server = serve(&leaf, &[], TlsOptions::default()).await;
    let (h, _) = probe(world, server.addr, "").await;

    // Probed every second: wait for at least four probes.
    let m = h
        .wait_until(WAIT, |m| {
            m.get("cert_exporter_probes_total", &[("result", "success")])
                .unwrap_or(0.0)
                >= 4.0
        })
        .await;
    assert_eq!(revoked(&m, "ocsp"), Some(0.0), "{}", m.text);
    assert_eq!(revoked(&m, "crl"), Some(0.0), "{}", m.text);
    assert_eq!(fetches(&m, "ocsp", "success"), 1.0, "{}", m.text);
    assert_eq!(fetches(&m, "crl", "success"), 1.0, "{}", m.text);
    assert_eq!(fetches(&m, "crl", "not_modified"), 0.0);
    assert_eq!(http.requests("/ocsp"), 1);
    assert_eq!(http.requests("/root.crl"), 1);

    // A reload that changes the target restarts its task with a new prober; the caches stay.
    let yaml = std::fs::read_to_string(&h.config_path).unwrap();
    std::fs::write(&h.config_path, format!("{yaml}    labels: {{team: web}}\n")).unwrap();
    h.exporter.as_ref().unwrap().reload().expect("reload");
    let m = h
        .wait_until(WAIT, |m| {
            m.find("cert_probe_success", &[("target", "t"), ("team", "web")])
                .len()
                == 1
                && m.get("cert_exporter_probes_total", &[("result", "success")])
                    .unwrap_or(0.0)
                    >= 6.0
        })
        .await;
    assert_eq!(
        m.value("cert_revoked", &[("target", "t"), ("source", "crl")]),
        0.0
    );
    assert_eq!(fetches(&m, "ocsp", "success"), 1.0, "{}", m.text);
    assert_eq!(fetches(&m, "crl", "success"), 1.0, "{}", m.text);
    assert_eq!(http.requests("/ocsp"), 1);
    assert_eq!(http.requests("/root.crl"), 1);
    h.stop().await;
}
