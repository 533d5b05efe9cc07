//! Issue 4's ways of reaching a target: STARTTLS against real nginx, Postfix, Dovecot,
//! PostgreSQL, vsftpd, slapd, MariaDB and Prosody (in-test servers only for misbehaviour real
//! ones do not show), HTTPS from real Apache httpd and HAProxy, every resolved address, HTTP
//! CONNECT proxies (tinyproxy) and mutual TLS. Assertions are on the scraped `/metrics`, and for
//! the real daemons on `check` too.

mod addresses;
mod apache_haproxy;
mod dialogue_servers;
mod dovecot;
mod dual;
mod ftp_vsftpd;
mod ldap_slapd;
mod mail;
mod mtls;
mod mysql_mariadb;
mod postfix;
mod postgres;
mod proxy;
mod starttls;
mod xmpp_prosody;

use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::support::pki::{pem_of, Ca, LeafSpec};
use crate::support::{write, Harness, Metrics};

/// How long a test waits for its first probes; generous for a loaded 2-core CI machine.
const WAIT: Duration = Duration::from_secs(30);

/// A root and intermediate, the root written to `ca.pem` in a temp dir for the exporter's
/// `ca_file`, and one leaf for the name the servers answer to.
pub struct Certs {
    pub inter: Ca,
    pub dir: tempfile::TempDir,
}

impl Certs {
    pub fn new() -> Certs {
        let root = Ca::root("Places Root");
        let inter = root.intermediate("Places Intermediate");
        let dir = root.in_temp_dir();
        Certs { inter, dir }
    }

    /// A leaf for `spec` with the intermediate after it, and its key.
    pub fn chain(&self, spec: &LeafSpec) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let leaf = self.inter.leaf(spec);
        (
            vec![leaf.der.clone(), self.inter.der.clone()],
            leaf.private_key(),
        )
    }

    /// Writes a leaf for `name` (chain, then key) as PEM files into `dir` for system servers;
    /// returns (chain path, key path).
    pub fn write_pem(&self, dir: &std::path::Path, name: &str) -> (String, String) {
        let leaf = self.inter.leaf(&LeafSpec::new(name, 60));
        let chain = format!("{}{}", pem_of(&leaf.der), pem_of(&self.inter.der));
        let chain_path = write(dir, "server-chain.pem", &chain);
        let key_path = write(dir, "server-key.pem", &leaf.key.serialize_pem());
        (
            chain_path.display().to_string(),
            key_path.display().to_string(),
        )
    }
}

/// Runs `check` (the real binary) on one STARTTLS endpoint, trusting the root in `ca` (the
/// `ca.pem` of [`Certs::dir`], or of the harness's dir once the exporter has it), with a 10 s
/// timeout.
pub async fn check(
    ca: &std::path::Path,
    protocol: &str,
    server_name: &str,
    addr: std::net::SocketAddr,
) -> crate::support::binary::Run {
    let ca = ca.display().to_string();
    crate::support::binary::check_text(&[
        "--starttls",
        protocol,
        "--server-name",
        server_name,
        "--ca-file",
        &ca,
        "--timeout",
        "10s",
        &addr.to_string(),
    ])
    .await
}

/// Asserts what every real daemon here shows when it works: the chain of [`Certs::write_pem`]
/// (60 days) valid over TLS 1.3 on /metrics, and `check` saying it is fine over TLS 1.3.
pub fn assert_served_over_tls13(m: &Metrics, t: &str, check: &crate::support::binary::Run) {
    assert_probed_cleanly(m, t, &["connect", "starttls", "handshake"]);
    // A figure for the log, not an assertion: servers that ask for a client certificate
    // (vsftpd, MariaDB) used to add a 25 ms polling slice here.
    let handshake = m.value(
        "cert_probe_duration_seconds",
        &[("target", t), ("phase", "handshake")],
    );
    eprintln!("{t}: handshake phase {:.1} ms", handshake * 1000.0);
    let days = m.value("cert_days_to_expiry", &[("target", t)]);
    assert!((59.9..60.1).contains(&days), "{t}: {days} days");
    assert_eq!(
        m.value(
            "cert_tls_version_info",
            &[("target", t), ("version", "TLS 1.3")]
        ),
        1.0,
        "{t}:\n{}",
        m.text
    );
    assert_eq!(
        check.code, 0,
        "{t}: check exited {}:\n{}{}",
        check.code, check.stdout, check.stderr
    );
    assert!(
        check.stdout.contains("protocol    TLS 1.3"),
        "{t}:\n{}",
        check.stdout
    );
}

/// Starts an exporter with the certificates' root as `ca_file`, a 1s interval and `timeout`,
/// and `targets_yaml` (a list of targets, indented as under `targets:`).
pub async fn exporter(certs: Certs, timeout: &str, targets_yaml: &str) -> Harness {
    let yaml = format!(
        "defaults:\n  metrics:\n    level: full\n  interval: 1s\n  timeout: {timeout}\n  ca_file: {{dir}}/ca.pem\ntargets:\n{targets_yaml}"
    );
    Harness::start_in(certs.dir, &yaml).await
}

/// Asserts that target `t` was probed end to end: a valid chain, no probe error, and every
/// phase in `phases` timed.
pub fn assert_probed_cleanly(m: &Metrics, t: &str, phases: &[&str]) {
    let target = [("target", t)];
    assert_eq!(
        m.reasons("cert_probe_error_info", t),
        Vec::<String>::new(),
        "probe errors for {t}:\n{}",
        m.text
    );
    assert_eq!(m.value("cert_probe_success", &target), 1.0, "{t}");
    assert_eq!(m.value("cert_chain_valid", &target), 1.0, "{}", m.text);
    for phase in phases {
        assert!(
            m.get(
                "cert_probe_duration_seconds",
                &[("target", t), ("phase", phase)]
            )
            .is_some(),
            "{t}: no {phase} phase in\n{}",
            m.text
        );
    }
}

/// Asserts that target `t` got the leaf `Certs::write_pem` made for `cn` over TLS 1.3, probed
/// through `phases`: a valid two-level chain and 59 to 60 days to expiry.
pub fn assert_serves_the_chain(m: &Metrics, t: &str, cn: &str, phases: &[&str]) {
    assert_probed_cleanly(m, t, phases);
    let target = [("target", t)];
    let leaf = m.find("cert_info", &[("target", t), ("position", "0")]);
    assert_eq!(leaf[0].labels["subject"], format!("CN={cn}"), "{t}");
    let inter = m.find("cert_info", &[("target", t), ("position", "1")]);
    assert!(
        inter[0].labels["subject"].contains("CN=Places Intermediate"),
        "{t}: {:?}",
        inter[0].labels
    );
    let days = m.value("cert_days_to_expiry", &target);
    assert!((59.0..=60.0).contains(&days), "{t}: {days} days to expiry");
    assert_eq!(
        m.value(
            "cert_tls_version_info",
            &[("target", t), ("version", "TLS 1.3")]
        ),
        1.0,
        "{t}:\n{}",
        m.text
    );
}

/// Runs `check --output json` on `targets_yaml` (a list of targets, indented as under
/// `targets:`) with `timeout` and `dir/ca.pem` (the certificates' root, see [`Certs`]) as
/// `ca_file`; returns the exit code and
/// the results by target name.
pub async fn check_config(
    dir: &std::path::Path,
    timeout: &str,
    targets_yaml: &str,
) -> (i32, std::collections::BTreeMap<String, serde_json::Value>) {
    let yaml = format!(
        "defaults:\n  timeout: {timeout}\n  ca_file: {}/ca.pem\ntargets:\n{targets_yaml}",
        dir.display()
    );
    let config = write(dir, "check.yaml", &yaml).display().to_string();
    let (code, doc) = crate::support::binary::check_json(&["--config.file", &config]).await;
    let results = doc["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results in {doc:#}"))
        .iter()
        .map(|r| (r["target"].as_str().unwrap_or("").to_string(), r.clone()))
        .collect();
    (code, results)
}

/// The advice of `result`'s finding `code`.
pub fn advice_of<'a>(result: &'a serde_json::Value, code: &str) -> &'a str {
    result["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["code"] == code)
        .and_then(|f| f["advice"].as_str())
        .unwrap_or_else(|| panic!("no {code} finding with advice in {result:#}"))
}

/// A daemon with a master process (Postfix, Dovecot, Apache, HAProxy), asked to stop with
/// SIGTERM when dropped so that it takes its children down too, also when a test fails.
pub struct Terminating(pub crate::support::process::Daemon);

impl Drop for Terminating {
    fn drop(&mut self) {
        self.0.terminate();
    }
}
