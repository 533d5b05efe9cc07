//! The CAA check against real name servers: an authoritative knotd serving the test zone
//! `test.` on a loopback port, and a recursive unbound in front of it, both started here with
//! their state in a temp dir; the exporter asks unbound, named in its configuration
//! (`dns.name_servers`).
//!
//! unbound stubs `test.` to knotd, and `broken.` to knotd too, which does not serve it and
//! refuses: unbound answers SERVFAIL, as for any zone whose servers fail.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::support::pki::{Ca, LeafSpec};
use crate::support::ports::free_udp_and_tcp_port;
use crate::support::process::{require, Daemon};
use crate::support::tls_server;
use crate::support::wait::probed_twice;
use crate::support::{write, Harness};

/// The test zone, `test.`; every CAA case has a name of its own.
const ZONE: &str = "$ORIGIN test.\n$TTL 60\n\
@ IN SOA ns.test. hostmaster.test. 1 3600 900 86400 60\n\
@ IN NS ns.test.\n\
ns IN A 127.0.0.1\n\
allowed IN CAA 0 issue \"ca.example\"\n\
allowed IN CAA 0 iodef \"mailto:caa@example.com\"\n\
allowed IN CAA 0 issue \"other-ca.example\"\n\
parent IN CAA 0 issue \"other-ca.example\"\n\
account IN CAA 0 issue \"ca.example; accounturi=https://ca.example/acct/1\"\n\
forbidden IN CAA 0 issue \"other-ca.example\"\n\
forbidden IN CAA 128 issuewild \";\"\n\
alias IN CNAME target.elsewhere\n\
target.elsewhere IN CAA 0 issue \"ca.example\"\n\
wild IN CAA 0 issue \"ca.example\"\n\
wild IN CAA 0 issuewild \"other-ca.example\"\n\
critical IN CAA 128 tbs \"unknown\"\n\
critical IN CAA 0 issue \"ca.example\"\n";

/// knotd and unbound, stopped on drop.
pub(crate) struct NameServers {
    /// Where unbound answers: what the exporter asks.
    pub(crate) resolver: SocketAddr,
    _unbound: Daemon,
    _knot: Daemon,
    _dir: tempfile::TempDir,
}

pub(crate) fn start_name_servers() -> NameServers {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    write(dir.path(), "test.zone", ZONE);
    let knot_port = free_udp_and_tcp_port();
    let knot_conf = write(
        dir.path(),
        "knot.conf",
        &format!(
            "server:\n    rundir: \"{d}\"\n    listen: 127.0.0.1@{knot_port}\n\
             database:\n    storage: \"{d}\"\nlog:\n  - target: stderr\n    any: info\n\
             zone:\n  - domain: test.\n    file: \"{d}/test.zone\"\n"
        ),
    );
    let mut command = Command::new(require("knotd", "knot"));
    command.arg("-c").arg(&knot_conf);
    let mut knot = Daemon::spawn("knotd", command, &dir.path().join("knot.log"));
    let knot_addr = SocketAddr::from(([127, 0, 0, 1], knot_port));
    knot.wait_listening(knot_addr);

    let port = free_udp_and_tcp_port();
    let unbound_conf = write(
        dir.path(),
        "unbound.conf",
        &format!(
            "server:\n  interface: 127.0.0.1\n  port: {port}\n  do-ip6: no\n  do-daemonize: no\n  \
             username: \"\"\n  chroot: \"\"\n  directory: \"{d}\"\n  pidfile: \"\"\n  \
             use-syslog: no\n  logfile: \"\"\n  verbosity: 1\n  do-not-query-localhost: no\n  \
             module-config: \"iterator\"\n  local-zone: \"test.\" nodefault\n\
             stub-zone:\n  name: \"test.\"\n  stub-addr: 127.0.0.1@{knot_port}\n\
             stub-zone:\n  name: \"broken.\"\n  stub-addr: 127.0.0.1@{knot_port}\n\
             remote-control:\n  control-enable: no\n"
        ),
    );
    let mut command = Command::new(require("unbound", "unbound"));
    command.arg("-c").arg(&unbound_conf);
    let mut unbound = Daemon::spawn("unbound", command, &dir.path().join("unbound.log"));
    let resolver = SocketAddr::from(([127, 0, 0, 1], port));
    unbound.wait_listening(resolver);
    NameServers {
        resolver,
        _unbound: unbound,
        _knot: knot,
        _dir: dir,
    }
}

/// A target block for `server_name` on `port`, with `extra` lines.
fn target(name: &str, port: u16, server_name: &str, extra: &str) -> String {
    format!(
        "  - name: {name}\n    address: 127.0.0.1:{port}\n    server_name: {server_name}\n    caa: true\n{extra}"
    )
}

/// The exporter's configuration: asking `name_server` (`dns.name_servers`), `targets`.
fn config(name_server: SocketAddr, ca: &Path, targets: &str) -> String {
    format!(
        "dns:\n  name_servers: [\"{name_server}\"]\ndefaults:\n  interval: 1s\n  timeout: 5s\n  ca_file: {}\n  legacy_protocols: false\n  \
         revocation: {{ocsp: false, crl: false}}\ntargets:\n{targets}",
        ca.display()
    )
}

#[tokio::test]
async fn caa_records_allow_or_refuse_the_leafs_ca_without_touching_the_tls_verdict() {
    let dns = start_name_servers();
    let root = Ca::root("CAA Test Root");
    let names = [
        "allowed.test",
        "www.parent.test",
        "account.test",
        "forbidden.test",
        "nocaa.test",
        "alias.test",
        "*.wild.test",
        "critical.test",
        "x.broken",
    ];
    let leaf = root.leaf(&LeafSpec::new("allowed.test", 90).names(&names));
    let server = tls_server::serve_leaf(&leaf).await;
    let dir = root.in_temp_dir();
    let port = server.addr.port();
    let id = "    caa_identity: ca.example\n";
    let targets = [
        target("allowed", port, "allowed.test", id),
        target("parent", port, "www.parent.test", id),
        target("account", port, "account.test", id),
        target("forbidden", port, "forbidden.test", id),
        target("nocaa", port, "nocaa.test", id),
        target("alias", port, "alias.test", id),
        target("wild", port, "www.wild.test", id),
        target("critical", port, "critical.test", id),
        target("servfail", port, "x.broken", id),
        // The test CA's organisation is in no table: where CAA restricts, there is no answer.
        target("unknown", port, "allowed.test", ""),
        // ... where nothing restricts, none is needed.
        target("unknown_nocaa", port, "nocaa.test", ""),
        // Off: no series.
        "  - name: off\n    address: 127.0.0.1:{port}\n    server_name: allowed.test\n"
            .replace("{port}", &port.to_string()),
    ]
    .concat();
    let yaml = config(dns.resolver, &dir.path().join("ca.pem"), &targets);
    let h = Harness::start_in(dir, &yaml).await;
    let all = [
        "allowed",
        "parent",
        "account",
        "forbidden",
        "nocaa",
        "alias",
        "wild",
        "critical",
        "servfail",
        "unknown",
        "unknown_nocaa",
        "off",
    ];
    let m = probed_twice(&h, &all, Duration::from_secs(60)).await;
    let allowed = |t: &str| m.get("cert_caa_issuer_allowed", &[("target", t)]);
    let error =
        |t: &str, reason: &str| m.get("cert_caa_error_info", &[("target", t), ("reason", reason)]);
    // One of two issue properties names the CA.
    assert_eq!(allowed("allowed"), Some(1.0), "{}", m.text);
    // www.parent.test has no CAA set: parent.test's is the relevant one, and names another CA.
    assert_eq!(allowed("parent"), Some(0.0), "{}", m.text);
    // Parameters (an RFC 8657 account binding) do not hide the issuer domain.
    assert_eq!(allowed("account"), Some(1.0), "{}", m.text);
    // Other CAs only; the critical issuewild ";" does not matter for a plain name.
    assert_eq!(allowed("forbidden"), Some(0.0), "{}", m.text);
    // No CAA from nocaa.test up to test.: every CA may issue.
    assert_eq!(allowed("nocaa"), Some(1.0), "{}", m.text);
    // The alias's target has the set.
    assert_eq!(allowed("alias"), Some(1.0), "{}", m.text);
    // The leaf covers www.wild.test by *.wild.test: issuewild names another CA.
    assert_eq!(allowed("wild"), Some(0.0), "{}", m.text);
    // An unknown critical property forbids every CA.
    assert_eq!(allowed("critical"), Some(0.0), "{}", m.text);
    assert_eq!(allowed("servfail"), None, "{}", m.text);
    assert_eq!(error("servfail", "dns_servfail"), Some(1.0), "{}", m.text);
    assert_eq!(allowed("unknown"), None, "{}", m.text);
    assert_eq!(
        error("unknown", "unknown_identity"),
        Some(1.0),
        "{}",
        m.text
    );
    assert_eq!(allowed("unknown_nocaa"), Some(1.0), "{}", m.text);
    assert_eq!(allowed("off"), None, "{}", m.text);
    assert!(!m.text.contains("target=\"off\",reason"), "{}", m.text);
    for t in all {
        // Never part of the TLS verdict.
        assert_eq!(
            m.value("cert_chain_valid", &[("target", t)]),
            1.0,
            "{t}: {}",
            m.text
        );
        assert_eq!(m.value("cert_probe_success", &[("target", t)]), 1.0);
    }
    h.stop().await;
}

/// A resolver that never answers: the lookup's own timeout is the reason, not the probe's.
#[tokio::test]
async fn a_silent_name_server_is_a_timeout_reason_and_the_probe_still_succeeds() {
    // A bound UDP socket that never answers (no real server can be made to stay silent).
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let root = Ca::root("CAA Timeout Root");
    let leaf = root.leaf(&LeafSpec::new("allowed.test", 90));
    let server = tls_server::serve_leaf(&leaf).await;
    let dir = root.in_temp_dir();
    let yaml = config(
        silent.local_addr().unwrap(),
        &dir.path().join("ca.pem"),
        &target("t", server.addr.port(), "allowed.test", ""),
    )
    .replace("timeout: 5s", "timeout: 10s");
    let h = Harness::start_in(dir, &yaml).await;
    let m = h
        .wait_until(Duration::from_secs(60), |m| {
            m.get(
                "cert_caa_error_info",
                &[("target", "t"), ("reason", "dns_timeout")],
            )
            .is_some()
        })
        .await;
    assert_eq!(m.get("cert_caa_issuer_allowed", &[("target", "t")]), None);
    assert_eq!(m.value("cert_probe_success", &[("target", "t")]), 1.0);
    assert_eq!(m.value("cert_chain_valid", &[("target", "t")]), 1.0);
    h.stop().await;
}

/// `check` reads `dns.name_servers` too, and says what to add, with exit status 1 (attention):
/// the chain is fine, the next renewal is not.
#[tokio::test]
async fn check_names_the_refusing_record_set_and_the_record_to_add() {
    let dns = start_name_servers();
    let root = Ca::root("CAA Check Root");
    let leaf = root
        .leaf(&LeafSpec::new("www.parent.test", 90).names(&["www.parent.test", "allowed.test"]));
    let server = tls_server::serve_leaf(&leaf).await;
    let dir = root.in_temp_dir();
    let port = server.addr.port();
    let id = "    caa_identity: ca.example\n";
    let yaml = config(
        dns.resolver,
        &dir.path().join("ca.pem"),
        &[
            target("parent", port, "www.parent.test", id),
            target("allowed", port, "allowed.test", id),
        ]
        .concat(),
    );
    let path = write(dir.path(), "config.yaml", &yaml);
    let path = path.display().to_string();
    let (code, doc) = crate::support::binary::check_json(&["--config.file", &path, "parent"]).await;
    assert_eq!(code, 1, "{doc:#}");
    let findings = doc["results"][0]["findings"].as_array().unwrap();
    let caa = findings
        .iter()
        .find(|f| f["code"] == "caa_refused")
        .unwrap_or_else(|| panic!("{doc:#}"));
    assert!(
        caa["message"].as_str().unwrap().contains("parent.test"),
        "{doc:#}"
    );
    assert!(
        caa["advice"]
            .as_str()
            .unwrap()
            .contains("parent.test. CAA 0 issue \"ca.example\""),
        "{doc:#}"
    );
    let (code, doc) =
        crate::support::binary::check_json(&["--config.file", &path, "allowed"]).await;
    assert_eq!(code, 0, "{doc:#}");
    let findings = doc["results"][0]["findings"].as_array().unwrap();
    assert!(
        findings.iter().any(|f| f["code"] == "caa_allowed"),
        "{doc:#}"
    );
}
