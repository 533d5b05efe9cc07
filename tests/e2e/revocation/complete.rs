//! Issue 14's "revocation, completed": OCSP requests by GET, seen in the access log of a real
//! nginx (Debian `nginx-light`) in front of a real `openssl ocsp`, as a CDN would stand in
//! front of a CA's responder; POST for a request too long for GET and after a refused GET;
//! delegated responder certificates with and without `id-pkix-ocsp-nocheck`; the responders of
//! intermediates; the nonce; and a leaf whose missing intermediate came from caIssuers.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SerialNumber,
};
use rustls::pki_types::CertificateDer;
use time::OffsetDateTime;

use super::http::{HttpServer, Route};
use super::responder::{Entry, OcspFiles};
use super::{crl, errors, fetches, leaf, probe, revoked, serve, World, GOOD, REVOKED};
use crate::support::binary::check_json;
use crate::support::issuer::IssuerServer;
use crate::support::pki::{aia_extension, Ca, LeafSpec};
use crate::support::ports::free_port;
use crate::support::process::{read_log, require, spawn_nginx, Daemon};
use crate::support::tls_server::{self, TlsOptions};
use crate::support::Harness;

const WAIT: Duration = Duration::from_secs(20);
/// A third serial the responders know as good, so that no two targets share a cached answer.
const ALSO_GOOD: u64 = 0x3003;

/// nginx in front of OCSP responders, one `server` per entry of `servers` (its `location`
/// blocks), each on a free port, logging `port method uri status` per request.
struct Front {
    ports: Vec<u16>,
    log: PathBuf,
    _dir: tempfile::TempDir,
    _daemon: Daemon,
}

impl Front {
    fn start(servers: &[String]) -> Front {
        let nginx = require("nginx", "nginx-light");
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path().display().to_string();
        let ports: Vec<u16> = servers.iter().map(|_| free_port()).collect();
        let mut blocks = String::new();
        for (port, locations) in ports.iter().zip(servers) {
            blocks.push_str(&format!(
                "    server {{\n        listen 127.0.0.1:{port};\n        {locations}\n    }}\n"
            ));
        }
        let config = format!(
            "master_process off;
pid {d}/nginx.pid;
error_log stderr info;
events {{ worker_connections 64; }}
http {{
    log_format methods '$server_port $request_method $request_uri $status';
    access_log {d}/access.log methods;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
{blocks}}}
"
        );
        let config_path = crate::support::write(dir.path(), "nginx.conf", &config);
        let daemon = spawn_nginx(
            &nginx,
            &config_path,
            &d,
            &dir.path().join("nginx.log"),
            &ports,
        );
        Front {
            ports,
            log: dir.path().join("access.log"),
            _dir: dir,
            _daemon: daemon,
        }
    }

    fn url(&self, server: usize, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.ports[server])
    }

    /// The logged requests to `server` as (method, uri, status), once there are at least
    /// `expected` (nginx writes a line as a request ends; waits at most 10 s).
    fn requests(&self, server: usize, expected: usize) -> Vec<(String, String, u16)> {
        let port = self.ports[server].to_string();
        let started = Instant::now();
        loop {
            let lines: Vec<(String, String, u16)> = read_log(&self.log)
                .lines()
                .filter_map(|l| {
                    let mut f = l.split(' ');
                    let (p, method, uri, status) = (f.next()?, f.next()?, f.next()?, f.next()?);
                    if p != port {
                        return None;
                    }
                    Some((method.to_string(), uri.to_string(), status.parse().ok()?))
                })
                .collect();
            if lines.len() >= expected || started.elapsed() > Duration::from_secs(10) {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A delegated OCSP responder certificate of `ca` (OCSPSigning), with or without
/// `id-pkix-ocsp-nocheck`.
fn delegated(ca: &Ca, cn: &str, nocheck: bool) -> (CertificateDer<'static>, KeyPair) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::OcspSigning];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    if nocheck {
        // id-pkix-ocsp-nocheck 1.3.6.1.5.5.7.48.1.5, value NULL.
        params
            .custom_extensions
            .push(CustomExtension::from_oid_content(
                &[1, 3, 6, 1, 5, 5, 7, 48, 1, 5],
                vec![0x05, 0x00],
            ));
    }
    let key = KeyPair::generate().unwrap();
    let der = params.signed_by(&key, &ca.issuer()).unwrap().der().clone();
    (der, key)
}

/// An intermediate CA under `parent` with `serial`, naming the OCSP responder at `ocsp_url`.
fn intermediate_with_ocsp(parent: &Ca, cn: &str, serial: u64, ocsp_url: &str) -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.serial_number = Some(SerialNumber::from(serial));
    params
        .custom_extensions
        .push(aia_extension(Some(ocsp_url), None));
    let now = OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(10);
    params.not_after = now + time::Duration::days(1000);
    parent.sign_ca(params)
}

/// The JSON report of `check` about the server at `addr`, trusting `ca`.
async fn check(ca: &str, addr: SocketAddr) -> serde_json::Value {
    let addr = addr.to_string();
    let (_, doc) = check_json(&["--server-name", "shop.test", "--ca-file", ca, &addr]).await;
    doc["results"][0].clone()
}

/// The notes of the `ocsp` source in a `check` result.
fn ocsp_notes(result: &serde_json::Value) -> Vec<serde_json::Value> {
    result["revocation"]["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .find(|s| s["source"] == "ocsp")
        .map(|s| s["notes"].as_array().expect("notes").clone())
        .unwrap_or_default()
}

fn codes(result: &serde_json::Value) -> Vec<String> {
    result["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["code"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn ocsp_goes_by_get_through_nginx_to_openssl_and_by_post_when_too_long() {
    let world = World::new();
    let (nocheck, nocheck_key) = delegated(&world.root, "Responder With nocheck", true);
    let (plain, plain_key) = delegated(&world.root, "Responder Without nocheck", false);
    let entries = || {
        vec![
            Entry::good(GOOD),
            Entry::good(ALSO_GOOD),
            Entry {
                serial: REVOKED,
                revoked: true,
            },
        ]
    };
    let with_files = OcspFiles::new(&world.root.der, &nocheck, &nocheck_key, &entries());
    let without_files = OcspFiles::new(&world.root.der, &plain, &plain_key, &entries());
    let with = with_files.serve().await;
    let without = without_files.serve().await;
    // A responder path long enough that no request fits in 255 bytes of URL.
    let long = format!("/{}/", "l".repeat(200));
    let front = Front::start(&[
        format!(
            "location / {{ proxy_pass http://127.0.0.1:{}; }}\n        location {long} {{ proxy_pass http://127.0.0.1:{}/; }}",
            with.port, with.port
        ),
        format!("location / {{ proxy_pass http://127.0.0.1:{}; }}", without.port),
    ]);
    let by_nocheck = leaf(&world.root, GOOD, Some(front.url(0, "/")), None);
    let by_plain = leaf(&world.root, REVOKED, Some(front.url(1, "/")), None);
    let by_post = leaf(&world.root, ALSO_GOOD, Some(front.url(0, &long)), None);
    let servers = [
        serve(&by_nocheck, &[], TlsOptions::default()).await,
        serve(&by_plain, &[], TlsOptions::default()).await,
        serve(&by_post, &[], TlsOptions::default()).await,
    ];
    let ca = world.dir.path().join("ca.pem").display().to_string();
    let mut yaml = "defaults:\n  metrics:\n    level: full\n  interval: 1s\n  timeout: 3s\n  ca_file: {dir}/ca.pem\ntargets:\n".to_string();
    for (name, server) in ["nocheck", "plain", "long"].iter().zip(&servers) {
        yaml.push_str(&format!(
            "  - name: {name}\n    address: {}\n    server_name: shop.test\n",
            server.addr
        ));
    }
    let h = Harness::start_in(world.dir, &yaml).await;
    let m = h.wait_for_probes(&["nocheck", "plain", "long"], WAIT).await;

    let ocsp = |t: &'static str| m.get("cert_revoked", &[("target", t), ("source", "ocsp")]);
    assert_eq!(ocsp("nocheck"), Some(0.0), "{}", m.text);
    assert_eq!(ocsp("plain"), Some(1.0), "{}", m.text);
    assert_eq!(ocsp("long"), Some(0.0), "{}", m.text);
    assert!(
        m.find("cert_revocation_error_info", &[]).is_empty(),
        "{}",
        m.text
    );
    assert_eq!(m.reasons("cert_chain_error_info", "plain"), ["revoked"]);
    // One request per certificate, none refused, none sent twice.
    assert_eq!(fetches(&m, "ocsp", "success"), 3.0, "{}", m.text);
    assert_eq!(fetches(&m, "ocsp", "failure"), 0.0, "{}", m.text);

    // What nginx saw: a GET carrying the encoded request for each short URL, a POST to the
    // long one.
    let first = front.requests(0, 2);
    let gets: Vec<_> = first.iter().filter(|(m, _, _)| m == "GET").collect();
    let posts: Vec<_> = first.iter().filter(|(m, _, _)| m == "POST").collect();
    assert_eq!(gets.len(), 1, "{first:?}");
    assert!(gets[0].1.starts_with("/M"), "{first:?}");
    assert!(gets[0].1.len() + front.url(0, "").len() <= 255, "{first:?}");
    assert_eq!(gets[0].2, 200, "{first:?}");
    assert_eq!(posts.len(), 1, "{first:?}");
    assert_eq!((posts[0].1.as_str(), posts[0].2), (long.as_str(), 200));
    let second = front.requests(1, 1);
    assert_eq!(second.len(), 1, "{second:?}");
    assert_eq!(
        (second[0].0.as_str(), second[0].2),
        ("GET", 200),
        "{second:?}"
    );

    // check explains who signed: the nocheck responder is fine, the other is used unchecked.
    let result = check(&ca, servers[0].addr).await;
    assert_eq!(
        ocsp_notes(&result),
        [
            serde_json::json!({"note": "delegated_responder", "subject": "CN=shop.test", "nocheck": true})
        ],
        "{result:#}"
    );
    assert!(codes(&result).contains(&"ocsp_delegated_responder".to_string()));
    let result = check(&ca, servers[1].addr).await;
    assert_eq!(
        ocsp_notes(&result),
        [
            serde_json::json!({"note": "delegated_responder", "subject": "CN=shop.test", "nocheck": false})
        ],
        "{result:#}"
    );
    assert!(
        codes(&result).contains(&"ocsp_responder_unchecked".to_string()),
        "{result:#}"
    );
    drop(servers);
    h.stop().await;
}

#[tokio::test]
async fn a_responder_that_refuses_get_is_asked_again_by_post() {
    let world = World::new();
    let files = OcspFiles::by_ca(&world.root, &[Entry::good(GOOD)]);
    let http = HttpServer::start().await;
    let leaf = leaf(&world.root, GOOD, Some(http.url("/ocsp")), None);
    // Answers POSTs to /ocsp with openssl's answer; the GET, to /ocsp/<request>, gets a 404,
    // as from a responder or front that takes no GET.
    http.set("/ocsp", Route::ocsp(files.response_for(&leaf.der)));
    let server = serve(&leaf, &[], TlsOptions::default()).await;
    let (h, m) = probe(world, server.addr, "").await;

    assert_eq!(revoked(&m, "ocsp"), Some(0.0), "{}", m.text);
    assert!(errors(&m, "ocsp").is_empty(), "{}", m.text);
    assert_eq!(http.requests("/ocsp"), 1, "one POST");
    assert_eq!(http.total(), 2, "one refused GET, then the POST");
    assert_eq!(fetches(&m, "ocsp", "failure"), 1.0, "{}", m.text);
    assert_eq!(fetches(&m, "ocsp", "success"), 1.0, "{}", m.text);
    drop(server);
    h.stop().await;
}

#[tokio::test]
async fn intermediates_with_a_responder_are_asked_good_and_revoked() {
    let world = World::new();
    // The root's responder answers for the intermediates.
    let root_files = OcspFiles::by_ca(
        &world.root,
        &[
            Entry::good(0x77),
            Entry {
                serial: 0x99,
                revoked: true,
            },
        ],
    );
    let root_responder = root_files.serve().await;
    let good = intermediate_with_ocsp(&world.root, "Good Intermediate", 0x77, &root_responder.url);
    let bad = intermediate_with_ocsp(
        &world.root,
        "Revoked Intermediate",
        0x99,
        &root_responder.url,
    );
    // Each intermediate's responder says its leaf is good.
    let good_files = OcspFiles::by_ca(&good, &[Entry::good(GOOD)]);
    let bad_files = OcspFiles::by_ca(&bad, &[Entry::good(GOOD)]);
    let (good_responder, bad_responder) = (good_files.serve().await, bad_files.serve().await);
    let good_leaf = leaf(&good, GOOD, Some(good_responder.url.clone()), None);
    let bad_leaf = leaf(&bad, GOOD, Some(bad_responder.url.clone()), None);
    let good_server = serve(&good_leaf, &[&good], TlsOptions::default()).await;
    let bad_server = serve(&bad_leaf, &[&bad], TlsOptions::default()).await;
    // The healthy one at the default metrics level: no series for what is as it should be.
    let yaml = format!(
        "defaults:\n  interval: 1s\n  timeout: 3s\n  ca_file: {{dir}}/ca.pem\ntargets:\n  - name: good\n    address: {}\n    server_name: shop.test\n  - name: bad\n    address: {}\n    server_name: shop.test\n    metrics: {{level: full}}\n",
        good_server.addr, bad_server.addr
    );
    let h = Harness::start_in(world.dir, &yaml).await;
    let m = h.wait_for_probes(&["good", "bad"], WAIT).await;

    assert_eq!(m.value("cert_chain_valid", &[("target", "good")]), 1.0);
    assert!(
        m.find("cert_revoked", &[("target", "good")]).is_empty(),
        "{}",
        m.text
    );
    assert!(
        m.find("cert_revocation_error_info", &[]).is_empty(),
        "{}",
        m.text
    );
    assert_eq!(
        m.get("cert_revoked", &[("target", "bad"), ("source", "ocsp")]),
        Some(1.0),
        "the leaf is good, its intermediate is revoked: {}",
        m.text
    );
    assert_eq!(m.value("cert_chain_valid", &[("target", "bad")]), 0.0);
    assert_eq!(m.reasons("cert_chain_error_info", "bad"), ["revoked"]);
    // Two leaves and two intermediates, each asked once.
    assert_eq!(fetches(&m, "ocsp", "success"), 4.0, "{}", m.text);
    drop((good_server, bad_server));
    h.stop().await;
}

#[tokio::test]
async fn a_nonce_is_echoed_by_openssl_and_a_replayed_answer_is_refused() {
    let world = World::new();
    let files = OcspFiles::by_ca(&world.root, &[Entry::good(GOOD), Entry::good(ALSO_GOOD)]);
    let responder = files.serve().await;
    let echoing = leaf(&world.root, GOOD, Some(responder.url.clone()), None);
    // Canned answers about another leaf: one to a request with openssl's own nonce (a replay to
    // anyone else), one pre-signed without a nonce.
    let http = HttpServer::start().await;
    let canned = leaf(&world.root, ALSO_GOOD, Some(http.url("/replayed")), None);
    let presigned = leaf(&world.root, ALSO_GOOD, Some(http.url("/presigned")), None);
    http.set(
        "/replayed",
        Route::ocsp(files.response_with_nonce_for(&canned.der)),
    );
    http.set(
        "/presigned",
        Route::ocsp(files.response_for(&presigned.der)),
    );
    let servers = [
        serve(&echoing, &[], TlsOptions::default()).await,
        serve(&canned, &[], TlsOptions::default()).await,
        serve(&presigned, &[], TlsOptions::default()).await,
    ];
    let mut yaml = "defaults:\n  metrics:\n    level: full\n  interval: 1s\n  timeout: 3s\n  ca_file: {dir}/ca.pem\n  revocation: {ocsp_nonce: true}\ntargets:\n".to_string();
    for (name, server) in ["echoing", "replayed", "presigned"].iter().zip(&servers) {
        yaml.push_str(&format!(
            "  - name: {name}\n    address: {}\n    server_name: shop.test\n",
            server.addr
        ));
    }
    let h = Harness::start_in(world.dir, &yaml).await;
    let m = h
        .wait_for_probes(&["echoing", "replayed", "presigned"], WAIT)
        .await;
    let ocsp = |m: &crate::support::Metrics, t: &'static str| {
        m.get("cert_revoked", &[("target", t), ("source", "ocsp")])
    };
    assert_eq!(ocsp(&m, "echoing"), Some(0.0), "{}", m.text);
    assert_eq!(ocsp(&m, "presigned"), Some(0.0), "{}", m.text);
    assert_eq!(ocsp(&m, "replayed"), None, "{}", m.text);
    let reasons = m.reasons_where(
        "cert_revocation_error_info",
        &[("target", "replayed"), ("source", "ocsp")],
    );
    assert_eq!(reasons, ["nonce_mismatch"], "{}", m.text);
    for t in ["echoing", "presigned"] {
        assert!(
            m.find("cert_revocation_error_info", &[("target", t)])
                .is_empty(),
            "{t}: {}",
            m.text
        );
    }
    // Nonce requests are POSTed and never answered from the cache: a request per probe.
    let m = h
        .wait_until(WAIT, |m| {
            m.get("cert_exporter_probes_total", &[("result", "success")])
                .unwrap_or(0.0)
                >= 9.0
        })
        .await;
    assert!(http.requests("/presigned") >= 2, "{}", m.text);
    assert!(http.requests("/replayed") >= 2, "{}", m.text);
    // Only POSTs: a GET would have gone to /presigned/<request>.
    assert_eq!(
        http.total(),
        http.requests("/presigned") + http.requests("/replayed")
    );

    // check, with the configuration: the echoed answer has nothing to add, the pre-signed one
    // was not proven fresh.
    let config = h.config_path.display().to_string();
    for (name, notes) in [
        ("echoing", vec![]),
        (
            "presigned",
            vec![serde_json::json!({"note": "nonce_not_echoed", "subject": "CN=shop.test"})],
        ),
    ] {
        let (_, doc) = check_json(&["--config.file", &config, name]).await;
        let result = &doc["results"][0];
        assert_eq!(ocsp_notes(result), notes, "{name}: {result:#}");
    }
    drop(servers);
    h.stop().await;
}

#[tokio::test]
async fn the_intermediate_from_caissuers_verifies_the_leafs_ocsp_and_crl_answers() {
    let world = World::new();
    let inter = world.root.intermediate("AIA Intermediate");
    let issuers = IssuerServer::start(Duration::ZERO).await;
    issuers.set("/inter.der", "application/pkix-cert", inter.der.to_vec());
    let files = OcspFiles::by_ca(&inter, &[Entry::good(GOOD)]);
    let responder = files.serve().await;
    let crls = HttpServer::start().await;
    crls.set("/inter.crl", Route::crl(crl(&inter, &[REVOKED], -1, 7)));
    let mut spec = LeafSpec::new("shop.test", 30);
    spec.serial = Some(GOOD);
    spec.ocsp_url = Some(responder.url.clone());
    spec.crl_url = Some(crls.url("/inter.crl"));
    spec.ca_issuers_url = Some(issuers.url("/inter.der"));
    let leaf = inter.leaf(&spec);
    // The server sends the leaf alone.
    let server = tls_server::serve_leaf(&leaf).await;
    let (h, m) = probe(world, server.addr, "").await;

    assert_eq!(
        m.reasons("cert_chain_error_info", "t"),
        ["missing_intermediate"],
        "{}",
        m.text
    );
    assert_eq!(revoked(&m, "ocsp"), Some(0.0), "{}", m.text);
    assert_eq!(revoked(&m, "crl"), Some(0.0), "{}", m.text);
    assert!(errors(&m, "ocsp").is_empty(), "{}", m.text);
    assert!(errors(&m, "crl").is_empty(), "{}", m.text);
    assert_eq!(issuers.hits("/inter.der"), 1);
    drop(server);
    h.stop().await;
}
