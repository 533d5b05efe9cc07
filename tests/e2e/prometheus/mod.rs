//! Issue 5's end-to-end check with the real monitoring stack: in-test TLS servers (healthy,
//! expiring in 3 days, invalid, unreachable), the exporter probing them every second, a real
//! Prometheus scraping it with the shipped `deploy/prometheus/alerts.yml` (its `for:` shortened
//! by text substitution) and `deploy/prometheus/compat-rules.yml`, a real Alertmanager, and the
//! test's own webhook receiver at the end.
//!
//! It checks what an operator relies on: the scrape is up, `promtool check metrics` finds
//! nothing beyond the findings accepted in [`lint::ACCEPTED`], every rule loads and evaluates, every dashboard query evaluates
//! (and returns data where this setup has any), the expected alerts arrive at the webhook with
//! their rendered annotations, the healthy target raises none, and the compatibility rules
//! record the peers' series names with the values and labels docs/migrating.md describes. It
//! runs once per metrics level (`minimal`, the `default`, `full`): every alert fires at each,
//! and the dashboards' queries answer at each (with data where the level writes the series).

mod api;
mod compat;
mod lint;
mod webhook;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::pki::{self, Ca, Leaf, LeafSpec};
use crate::support::ports::free_loopback_addr;
use crate::support::process::{require, Service};
use crate::support::tls_server::{self, Server};
use crate::support::{get, write, Harness};
use api::QueryResult;
use webhook::{Delivered, Webhook};

/// The scrape job's name; the exporter-health alerts match `job=~".*cert.*exporter.*"`.
const JOB: &str = "cert-expiry-exporter";
/// Every alert's `for:` in the test's copy of the rules: long enough to go through pending.
const SHORT_FOR: &str = "2s";
/// How long the alerts may take to reach the webhook.
const ALERT_LIMIT: Duration = Duration::from_secs(60);
/// How long the first probes and the first scrape may take.
const START_LIMIT: Duration = Duration::from_secs(30);

/// An alert the setup must raise.
#[derive(Debug)]
struct Expected {
    alertname: &'static str,
    target: &'static str,
    /// A further label the alert must carry, with its value.
    label: Option<(&'static str, &'static str)>,
}

impl Expected {
    /// Whether `alert` is this one.
    fn matches(&self, alert: &Delivered) -> bool {
        alert.label("alertname") == self.alertname
            && alert.label("target") == self.target
            && self.label.is_none_or(|(k, v)| alert.label(k) == v)
    }
}

/// Every alert the setup must raise; no other alert about a target may fire.
const EXPECTED_ALERTS: &[Expected] = &[
    Expected {
        alertname: "CertificateExpiring",
        target: "expiring",
        label: None,
    },
    Expected {
        alertname: "CertificateHostnameMismatch",
        target: "invalid",
        label: None,
    },
    Expected {
        alertname: "CertificateChainInvalid",
        target: "invalid",
        label: Some(("reason", "self_signed")),
    },
    Expected {
        alertname: "CertificateProbeFailing",
        target: "unreachable",
        label: None,
    },
    // A leaf critical by the lifetime-relative threshold (under a sixth of its lifetime left)
    // is always past a third too: the renewal is overdue as well.
    Expected {
        alertname: "CertificateRenewalOverdue",
        target: "expiring",
        label: None,
    },
];

/// Metrics this setup has no data for (revocation needs OCSP/CRL URLs, weak-crypto and
/// legacy-protocol series come from checks these servers do not trigger): dashboard queries
/// on them must evaluate, but may return nothing.
const NO_DATA_HERE: &[&str] = &[
    "cert_revoked",
    "cert_ocsp_stapled",
    "cert_ocsp_next_update_timestamp_seconds",
    "cert_revocation_error_info",
    "cert_crl_stale",
    "cert_crl_next_update_timestamp_seconds",
    "cert_weak_crypto_info",
    // Only for a publicly trusted leaf short of SCTs; these servers' CAs are private.
    "cert_ct_policy_error_info",
    // Only for targets with `acme_directory:` (ACME Renewal Information); none here.
    "cert_renewal_window_start_timestamp_seconds",
    "cert_renewal_window_end_timestamp_seconds",
    "cert_renewal_explanation_info",
    "cert_renewal_info_error_info",
    // Only for targets with `dane: true` (TLSA records; docs/dns-checks.md); none here.
    "cert_dane_match",
    "cert_dane_dnssec_validated",
    "cert_dane_records",
    "cert_dane_error_info",
    // Present (0) for every endpoint, but panels filter on `== 1`: no server here speaks TLS 1.0.
    "cert_legacy_protocol_enabled",
    // Skew is measured from the Date header of OCSP/CRL/caIssuers answers; none happen here.
    "cert_exporter_clock_skew_seconds",
];

/// Matchers only a `kubernetes:` target's series satisfy (its watches, its Secret keys;
/// docs/kubernetes.md): this setup has no such target, so the dashboard queries with them must
/// evaluate, but may return nothing.
const KUBERNETES_ONLY: &[&str] = &["watch!=\"\"", "secret_name!=\"\""];

/// What the default level leaves out for these servers (docs/metrics.md#levels), on top of
/// [`NO_DATA_HERE`]: the dashboards' panels on them are empty until a target opts in.
const NOT_AT_DEFAULT: &[&str] = &[
    "cert_probe_duration_seconds",
    "cert_info",
    "cert_tls_cipher_info",
    "cert_client_cert_requested",
];

/// What `minimal` leaves out on top of the default's omissions.
const NOT_AT_MINIMAL: &[&str] = &["cert_tls_version_info"];

#[tokio::test]
async fn prometheus_and_alertmanager_alert_on_what_the_exporter_reports() {
    let no_data: Vec<&str> = [NO_DATA_HERE, NOT_AT_DEFAULT].concat();
    alert_and_chart_at("default", &no_data).await;
}

#[tokio::test]
async fn alerts_fire_and_dashboards_answer_at_the_minimal_level() {
    let no_data: Vec<&str> = [NO_DATA_HERE, NOT_AT_DEFAULT, NOT_AT_MINIMAL].concat();
    alert_and_chart_at("minimal", &no_data).await;
}

#[tokio::test]
async fn alerts_fire_and_dashboards_answer_at_the_full_level() {
    alert_and_chart_at("full", NO_DATA_HERE).await;
}

/// The whole stack with every target at metrics level `level`; dashboard queries on the
/// metrics in `no_data` must evaluate but may return nothing.
async fn alert_and_chart_at(level: &str, no_data: &[&str]) {
    let prometheus_bin = require("prometheus", "prometheus");
    let promtool = require("promtool", "prometheus");
    let alertmanager_bin = require("prometheus-alertmanager", "prometheus-alertmanager");

    let (servers, dir) = TestServers::start().await;
    let exporter = Harness::start_in(dir, &servers.exporter_config(level)).await;
    exporter
        .wait_for_probes(
            &["healthy", "expiring", "invalid", "unreachable"],
            START_LIMIT,
        )
        .await;

    let exposition = get(exporter.addr(), "/metrics", &[]).await.body;
    let findings = lint::unexpected_findings(&promtool, &exposition).await;
    assert!(
        findings.is_empty(),
        "promtool check metrics found problems in the exporter's /metrics:\n{}",
        findings.join("\n")
    );

    let work = tempfile::tempdir().expect("tempdir");
    let webhook = Webhook::start().await;
    let mut alertmanager = start_alertmanager(&alertmanager_bin, work.path(), &webhook);
    alertmanager.wait_ready().await;
    let (rules, alert_rule_count) = rules_with_short_for();
    write(work.path(), "alerts.yml", &rules);
    let (compat_rules, compat_rule_count) = compat::rules();
    write(work.path(), "compat-rules.yml", &compat_rules);
    let rule_count = alert_rule_count + compat_rule_count;
    let mut prometheus = start_prometheus(
        &prometheus_bin,
        work.path(),
        exporter.addr(),
        alertmanager.addr,
    );
    prometheus.wait_ready().await;

    wait_for_scrape_up(&prometheus).await;
    let delivered = wait_for_alerts(&prometheus, &alertmanager, &webhook).await;
    check_delivered(&delivered);
    check_healthy_is_quiet(&prometheus, &delivered).await;
    check_rules_evaluate(&prometheus, rule_count).await;
    check_dashboard_queries(&prometheus, no_data).await;
    // The compatibility check covers every peer series, `probe_ssl_last_chain_info` and the
    // notBefore ones included, which read series only `full` writes (docs/migrating.md says
    // which of our series each needs; their promtool tests cover the fallbacks).
    if level == "full" {
        compat::check(prometheus.addr).await;
    }

    exporter.stop().await;
}

/// The TLS servers the exporter probes, and a port where nothing listens.
struct TestServers {
    healthy: Server,
    expiring: Server,
    invalid: Server,
    unreachable: SocketAddr,
}

impl TestServers {
    /// Starts the servers; the directory returned holds `ca.pem`, the root the exporter trusts.
    async fn start() -> (TestServers, tempfile::TempDir) {
        let root = Ca::root("E2E Prometheus Root");
        let dir = root.in_temp_dir();
        let servers = TestServers {
            healthy: serve(root.leaf(&LeafSpec::new("healthy.test", 90))).await,
            // A 90-day leaf with 3 days left: critical whatever the lifetime rule (a 4-day one
            // with 3 days left would be three quarters fresh, and rightly quiet).
            expiring: serve(root.leaf(&LeafSpec::new("expiring.test", 3).valid(
                time::OffsetDateTime::now_utc() - time::Duration::days(87),
                time::OffsetDateTime::now_utc() + time::Duration::days(3),
            )))
            .await,
            // Self-signed, and for another name than the one asked for: two chain reasons.
            invalid: serve(pki::self_signed_leaf("other.test")).await,
            unreachable: crate::support::ports::closed_port().await,
        };
        (servers, dir)
    }

    /// The exporter's configuration: every target probed every second, at metrics `level`.
    fn exporter_config(&self, level: &str) -> String {
        format!(
            "defaults:\n  metrics:\n    level: {level}\n  interval: 1s\n  timeout: 2s\n  ca_file: {{dir}}/ca.pem\ntargets:\n\
             \x20 - name: healthy\n    address: {}\n    server_name: healthy.test\n\
             \x20 - name: expiring\n    address: {}\n    server_name: expiring.test\n\
             \x20 - name: invalid\n    address: {}\n    server_name: invalid.test\n\
             \x20 - name: unreachable\n    address: {}\n",
            self.healthy.addr, self.expiring.addr, self.invalid.addr, self.unreachable
        )
    }
}

/// Serves `leaf` alone (its issuer, if any, is the trusted root).
async fn serve(leaf: Leaf) -> Server {
    tls_server::serve_leaf(&leaf).await
}

/// `deploy/prometheus/alerts.yml` with every alert's `for:` set to [`SHORT_FOR`] and every
/// group's own `interval:` (the hourly history of CertificateRolledBack) set to the global 1s,
/// so the test sees alerts fire and every rule evaluate within seconds while the shipped file
/// stays the single source; also the
/// number of rules (recording and alerting) it holds. Panics if the substitution does not
/// reach every alert, e.g. because the file's layout changed.
fn rules_with_short_for() -> (String, usize) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/prometheus/alerts.yml");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut alerts = 0;
    let mut records = 0;
    let mut shortened = 0;
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        if trimmed.starts_with("- alert:") {
            alerts += 1;
        } else if trimmed.starts_with("- record:") {
            records += 1;
        }
        if trimmed.starts_with("interval:") {
            out.push_str(&format!("{indent}interval: 1s\n"));
            continue;
        }
        match trimmed.strip_prefix("for:") {
            Some(value) if !value.trim().is_empty() && !value.trim().contains(' ') => {
                shortened += 1;
                out.push_str(&format!("{indent}for: {SHORT_FOR}\n"));
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    assert!(alerts > 0, "{path} holds no alert");
    assert_eq!(
        shortened, alerts,
        "{path}: {alerts} alerts but {shortened} `for:` lines rewritten"
    );
    (out, alerts + records)
}

/// Starts Alertmanager without clustering, grouping quickly and sending to `webhook`.
fn start_alertmanager(binary: &Path, work: &Path, webhook: &Webhook) -> Service {
    let addr = free_loopback_addr();
    let config = format!(
        "route:\n  receiver: test-webhook\n  group_by: [alertname, target]\n  group_wait: 1s\n  \
         group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: test-webhook\n    \
         webhook_configs:\n      - url: {}\n        send_resolved: false\n",
        webhook.url()
    );
    let config_path = write(work, "alertmanager.yml", &config);
    let args = vec![
        format!("--config.file={}", config_path.display()),
        format!("--storage.path={}", work.join("alertmanager").display()),
        format!("--web.listen-address={addr}"),
        "--cluster.listen-address=".to_string(),
    ];
    Service::spawn(
        "alertmanager",
        binary,
        &args,
        addr,
        &work.join("alertmanager.log"),
    )
}

/// Starts Prometheus scraping and evaluating every second, with the rules in
/// `work/alerts.yml` and `work/compat-rules.yml`, alerting to `alertmanager`.
fn start_prometheus(
    binary: &Path,
    work: &Path,
    exporter: SocketAddr,
    alertmanager: SocketAddr,
) -> Service {
    let addr = free_loopback_addr();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
         rule_files:\n  - {rules}\n  - {compat}\n\
         alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{alertmanager}']\n\
         scrape_configs:\n  - job_name: {JOB}\n    static_configs:\n      - targets: ['{exporter}']\n",
        rules = work.join("alerts.yml").display(),
        compat = work.join("compat-rules.yml").display(),
    );
    let config_path = write(work, "prometheus.yml", &config);
    let args = vec![
        format!("--config.file={}", config_path.display()),
        format!("--storage.tsdb.path={}", work.join("prometheus").display()),
        format!("--web.listen-address={addr}"),
    ];
    Service::spawn(
        "prometheus",
        binary,
        &args,
        addr,
        &work.join("prometheus.log"),
    )
}

/// Waits until Prometheus has scraped the exporter successfully: `up{job=…} == 1`.
async fn wait_for_scrape_up(prometheus: &Service) {
    let promql = format!("up{{job=\"{JOB}\"}}");
    let start = Instant::now();
    loop {
        let series = api::series(prometheus.addr, &promql).await;
        if series.len() == 1 && series[0]["value"][1] == "1" {
            return;
        }
        if start.elapsed() > START_LIMIT {
            let targets = api::document(prometheus.addr, "/api/v1/targets").await;
            panic!(
                "{promql} is not 1 after {START_LIMIT:?}: {series:?}\ntargets: {targets}\nprometheus log:\n{}",
                prometheus.log_text()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Waits until every alert of [`EXPECTED_ALERTS`] has reached the webhook; returns everything
/// delivered by then.
async fn wait_for_alerts(
    prometheus: &Service,
    alertmanager: &Service,
    webhook: &Webhook,
) -> Vec<Delivered> {
    let start = Instant::now();
    loop {
        let delivered = webhook.alerts();
        if EXPECTED_ALERTS
            .iter()
            .all(|e| delivered.iter().any(|a| e.matches(a)))
        {
            return delivered;
        }
        if start.elapsed() > ALERT_LIMIT {
            let active = api::document(prometheus.addr, "/api/v1/alerts").await;
            panic!(
                "not every expected alert reached the webhook within {ALERT_LIMIT:?}\n\
                 expected: {EXPECTED_ALERTS:?}\ndelivered: {:#?}\nPrometheus alerts: {active}\n\
                 prometheus log:\n{}\nalertmanager log:\n{}",
                summary(&delivered),
                prometheus.log_text(),
                alertmanager.log_text()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// (alertname, target, reason) of each delivered alert, for messages.
fn summary(delivered: &[Delivered]) -> BTreeSet<(String, String, String)> {
    delivered
        .iter()
        .map(|a| {
            (
                a.label("alertname").to_string(),
                a.label("target").to_string(),
                a.label("reason").to_string(),
            )
        })
        .collect()
}

/// The delivered alerts are the expected ones, carry the rule's labels and rendered
/// annotations, and nothing else fired about a target.
fn check_delivered(delivered: &[Delivered]) {
    let unexpected: Vec<_> = delivered
        .iter()
        .filter(|a| !a.label("target").is_empty())
        .filter(|a| !EXPECTED_ALERTS.iter().any(|e| e.matches(a)))
        .collect();
    assert!(
        unexpected.is_empty(),
        "alerts nobody expected reached the webhook: {:#?}",
        summary(&unexpected.into_iter().cloned().collect::<Vec<_>>())
    );
    for alert in delivered {
        assert_eq!(alert.status, "firing", "{alert:?}");
        assert_eq!(alert.label("job"), JOB, "{alert:?}");
        let name = alert.label("alertname");
        let runbook = alert.annotation("runbook_url");
        assert!(
            runbook.ends_with(&format!("docs/runbooks.md#alert-{}", name.to_lowercase())),
            "{name}: runbook_url {runbook:?}"
        );
    }
    let expiring = delivered
        .iter()
        .find(|a| EXPECTED_ALERTS[0].matches(a))
        .expect("CertificateExpiring was delivered");
    assert_eq!(expiring.label("severity"), "critical");
    let summary = expiring.annotation("summary");
    // The template renders the value: the 3-day certificate has just under 3 days left.
    assert!(
        summary.starts_with("Certificate of expiring expires in 2.9")
            || summary.starts_with("Certificate of expiring expires in 3"),
        "CertificateExpiring summary: {summary:?}"
    );
}

/// The healthy target raised nothing: no delivered alert, and no pending or firing one.
async fn check_healthy_is_quiet(prometheus: &Service, delivered: &[Delivered]) {
    let noisy: Vec<_> = delivered
        .iter()
        .filter(|a| a.label("target") == "healthy")
        .cloned()
        .collect();
    assert!(
        noisy.is_empty(),
        "the healthy target raised alerts: {:#?}",
        summary(&noisy)
    );
    let pending = api::series(prometheus.addr, "ALERTS{target=\"healthy\"}").await;
    assert!(
        pending.is_empty(),
        "the healthy target has pending or firing alerts: {pending:?}"
    );
}

/// Every rule of the shipped file loaded and its last evaluation succeeded.
async fn check_rules_evaluate(prometheus: &Service, rule_count: usize) {
    let rules = api::document(prometheus.addr, "/api/v1/rules").await;
    let groups = rules["data"]["groups"]
        .as_array()
        .unwrap_or_else(|| panic!("no rule groups: {rules}"));
    let all: Vec<_> = groups
        .iter()
        .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
        .collect();
    assert_eq!(all.len(), rule_count, "rules loaded: {rules}");
    let unhealthy: Vec<_> = all
        .iter()
        .filter(|r| r["health"] != "ok")
        .map(|r| format!("{}: {} {}", r["name"], r["health"], r["lastError"]))
        .collect();
    assert!(unhealthy.is_empty(), "rules not evaluating: {unhealthy:#?}");
}

/// Every dashboard query evaluates without error, and those about metrics this setup
/// produces return data.
async fn check_dashboard_queries(prometheus: &Service, no_data: &[&str]) {
    let queries = api::dashboard_queries().await;
    let mut failures = Vec::new();
    let mut with_data_expected = 0;
    for q in &queries {
        let expect_data = !api::metric_names(&q.promql)
            .iter()
            .any(|name| no_data.contains(name))
            && !KUBERNETES_ONLY.iter().any(|m| q.promql.contains(m));
        with_data_expected += expect_data as usize;
        match api::query(prometheus.addr, &q.promql).await {
            QueryResult::Error(e) => failures.push(format!("{}: {e}\n    {}", q.place, q.promql)),
            QueryResult::Data(series) if series.is_empty() && expect_data => {
                failures.push(format!("{}: no data\n    {}", q.place, q.promql))
            }
            QueryResult::Data(_) => {}
        }
    }
    assert!(
        with_data_expected * 2 > queries.len(),
        "only {with_data_expected} of {} dashboard queries are about metrics with data here",
        queries.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} dashboard queries failed:\n{}",
        failures.len(),
        queries.len(),
        failures.join("\n")
    );
}
