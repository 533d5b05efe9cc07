//! A server that does not send its intermediate, with the intermediate published at the
//! leaf's caIssuers URL by an HTTP server whose clock runs an hour behind: the reason turns
//! from `unknown_issuer` into `missing_intermediate`, and the exporter reports its own clock
//! an hour ahead.

use std::time::Duration;

use crate::support::pki::{self, Ca, LeafSpec};
use crate::support::tls_server;
use crate::support::Harness;

use crate::support::binary::{check_json, check_text};
use crate::support::issuer::IssuerServer;

const WAIT: Duration = Duration::from_secs(20);
const HOUR: Duration = Duration::from_secs(3600);

/// A root (as `ca.pem` in `dir`), an intermediate published by `issuers` at `path`, and a
/// server sending only the leaf, whose caIssuers URL points there.
struct Setup {
    dir: tempfile::TempDir,
    issuers: IssuerServer,
    server: tls_server::Server,
    url: String,
}

async fn setup(path: &str, publish: impl FnOnce(&IssuerServer, &Ca)) -> Setup {
    let root = Ca::root("AIA Test Root");
    let inter = root.intermediate("AIA Test Intermediate");
    let issuers = IssuerServer::start(HOUR).await;
    let url = issuers.url(path);
    let mut spec = LeafSpec::new("aia.test", 45);
    spec.ca_issuers_url = Some(url.clone());
    let leaf = inter.leaf(&spec);
    publish(&issuers, &inter);
    let server = tls_server::serve_leaf(&leaf).await;
    let dir = root.in_temp_dir();
    Setup {
        dir,
        issuers,
        server,
        url,
    }
}

fn yaml(addr: std::net::SocketAddr) -> String {
    format!(
        "defaults:\n  metrics:\n    level: full\n  interval: 1s\n  timeout: 5s\n  ca_file: {{dir}}/ca.pem\ntargets:\n  - name: t\n    address: {addr}\n    server_name: aia.test\n"
    )
}

#[tokio::test]
async fn intermediate_found_at_the_caissuers_url_is_reported_missing() {
    let s = setup("/inter.der", |issuers, inter| {
        issuers.set("/inter.der", "application/pkix-cert", inter.der.to_vec())
    })
    .await;
    let ca = s.dir.path().join("ca.pem").display().to_string();
    let addr = s.server.addr.to_string();
    let h = Harness::start_in(s.dir, &yaml(s.server.addr)).await;
    let m = h.wait_for_probes(&["t"], WAIT).await;
    let t = [("target", "t")];
    assert_eq!(
        m.reasons("cert_chain_error_info", "t"),
        ["missing_intermediate"],
        "{}",
        m.text
    );
    assert_eq!(m.value("cert_chain_valid", &t), 0.0);
    assert_eq!(m.value("cert_probe_success", &t), 1.0);
    // The fetched intermediate is not reported as sent.
    assert!(m
        .find("cert_info", &[("target", "t"), ("position", "1")])
        .is_empty());
    assert!(m
        .get(
            "cert_probe_duration_seconds",
            &[("target", "t"), ("phase", "aia")]
        )
        .is_some());
    assert!(m.value("cert_aia_fetches_total", &[("result", "success")]) >= 1.0);
    // The issuer server's Date runs an hour behind: this clock is an hour ahead of it.
    let skew = m.value("cert_exporter_clock_skew_seconds", &[]);
    assert!((3590.0..3610.0).contains(&skew), "skew {skew}");
    // Downloads are cached per URL: later probes do not fetch again.
    let m = h
        .wait_until(WAIT, |m| {
            m.get("cert_exporter_probes_total", &[("result", "success")])
                .is_some_and(|n| n >= 3.0)
        })
        .await;
    assert_eq!(
        m.reasons("cert_chain_error_info", "t"),
        ["missing_intermediate"]
    );
    assert_eq!(s.issuers.hits("/inter.der"), 1);

    // check (while the harness still holds ca.pem): its own process, so its own download.
    let args = ["--server-name", "aia.test", "--ca-file", &ca, &addr];
    let run = check_text(&args).await;
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    let said = format!(
        "    ✘ broken     the server does not send its intermediate certificate: the chain is complete only with the issuer published at {}; browsers may cope, curl, Java, Go and most apps fail\n                 → configure the full chain (leaf + intermediates, e.g. fullchain.pem) on the server\n",
        s.url
    );
    assert!(
        run.stdout.contains(&said),
        "missing {said:?} in:\n{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("clock\n    ! attention  this machine's clock is 1h "),
        "{}",
        run.stdout
    );
    let (code, doc) = check_json(&args).await;
    assert_eq!(code, 2);
    let r = &doc["results"][0];
    assert_eq!(
        r["chain_errors"],
        serde_json::json!(["missing_intermediate"])
    );
    assert_eq!(r["missing_intermediate_from"], serde_json::json!([s.url]));
    assert_eq!(r["chain_valid"], false);
    let skew = doc["clock_skew_seconds"].as_f64().unwrap();
    assert!((3590.0..3610.0).contains(&skew), "skew {skew}");
    assert_eq!(doc["clock"]["severity"], "attention");
    h.stop().await;
}

#[tokio::test]
async fn intermediate_served_as_pem_counts_too() {
    let s = setup("/inter.pem", |issuers, inter| {
        issuers.set(
            "/inter.pem",
            "application/x-pem-file",
            pki::pem_of(&inter.der).into_bytes(),
        )
    })
    .await;
    let h = Harness::start_in(s.dir, &yaml(s.server.addr)).await;
    let m = h.wait_for_probes(&["t"], WAIT).await;
    assert_eq!(
        m.reasons("cert_chain_error_info", "t"),
        ["missing_intermediate"],
        "{}",
        m.text
    );
    h.stop().await;
}

#[tokio::test]
async fn caissuers_url_that_fails_leaves_unknown_issuer() {
    let s = setup("/gone.der", |_, _| {}).await;
    let h = Harness::start_in(s.dir, &yaml(s.server.addr)).await;
    let m = h.wait_for_probes(&["t"], WAIT).await;
    assert_eq!(
        m.reasons("cert_chain_error_info", "t"),
        ["unknown_issuer"],
        "{}",
        m.text
    );
    assert!(m.value("cert_aia_fetches_total", &[("result", "failure")]) >= 1.0);
    assert!(s.issuers.hits("/gone.der") >= 1);
    h.stop().await;
}
