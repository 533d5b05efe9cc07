//! LDAP StartTLS against a real OpenLDAP slapd (Debian `slapd`), its TLS certificate set
//! through cn=config: the test `slapadd`s a config LDIF into a temp `slapd.d` and runs
//! `slapd -F` in the foreground (`-d 0`) on a free loopback port. No database is needed: the
//! StartTLS extended operation comes before any bind or search.
//!
//! slapd is also given the root after the intermediate, as some servers are, so `check` shows
//! that a root the server sends is the trust anchor, not a stray certificate. A second slapd
//! without a certificate answers StartTLS with resultCode 2: TLS not offered.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use super::{assert_served_over_tls13, check, exporter, Certs, WAIT};
use crate::support::ports::free_port;
use crate::support::process::{require, run, Daemon};

const PACKAGES: &str = "slapd ldap-utils";

/// A minimal cn=config: the TLS certificate and key; TLS 1.2 at least, as a GnuTLS priority
/// string (Debian's slapd is built on GnuTLS: by default it accepts TLS 1.0 and 1.1, `check`
/// says so, and `olcTLSProtocolMin: 3.3` did not change that); and the frontend and config
/// databases slapd needs to start (the config database readable by no one).
/// Without `tls`, slapd has no certificate and answers StartTLS with resultCode 2.
fn config_ldif(dir: &Path, tls: Option<(&str, &str)>) -> String {
    let tls = match tls {
        Some((chain, key)) => format!(
            "olcTLSCertificateFile: {chain}\nolcTLSCertificateKeyFile: {key}\n\
             olcTLSCipherSuite: NORMAL:-VERS-TLS1.0:-VERS-TLS1.1\n"
        ),
        None => String::new(),
    };
    let dir = dir.display();
    format!(
        "dn: cn=config\nobjectClass: olcGlobal\ncn: config\n\
         olcPidFile: {dir}/slapd.pid\nolcArgsFile: {dir}/slapd.args\n{tls}\n\
         dn: cn=schema,cn=config\nobjectClass: olcSchemaConfig\ncn: schema\n\n\
         dn: olcDatabase={{-1}}frontend,cn=config\nobjectClass: olcDatabaseConfig\n\
         objectClass: olcFrontendConfig\nolcDatabase: {{-1}}frontend\n\n\
         dn: olcDatabase={{0}}config,cn=config\nobjectClass: olcDatabaseConfig\n\
         olcDatabase: {{0}}config\nolcAccess: {{0}}to * by * none\n"
    )
}

/// `slapadd`s the config into `dir/slapd.d` and starts slapd on a free loopback port; returns
/// it and its address.
fn start(dir: &Path, tls: Option<(&str, &str)>) -> (Daemon, SocketAddr) {
    let slapd = require("slapd", PACKAGES);
    let slapadd = require("slapadd", PACKAGES);
    let ldif = super::write(dir, "config.ldif", &config_ldif(dir, tls));
    let config_dir = dir.join("slapd.d");
    std::fs::create_dir(&config_dir).unwrap();
    run("slapadd", &mut {
        let mut c = Command::new(&slapadd);
        c.args(["-n", "0", "-F"])
            .arg(&config_dir)
            .arg("-l")
            .arg(&ldif);
        c
    });
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let mut command = Command::new(slapd);
    command
        .arg("-F")
        .arg(&config_dir)
        .args(["-h", &format!("ldap://{addr}/"), "-d", "0"]);
    let mut daemon = Daemon::spawn("slapd", command, &dir.join("slapd.log"));
    daemon.wait_listening(addr);
    (daemon, addr)
}

#[tokio::test]
async fn ldap_starttls_through_slapd_and_one_without_tls() {
    let certs = Certs::new();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (chain, key) = certs.write_pem(dir, "ldap.test");
    // The root too, after the intermediate.
    let root = std::fs::read_to_string(certs.dir.path().join("ca.pem")).unwrap();
    let mut served = std::fs::read_to_string(&chain).unwrap();
    served.push_str(&root);
    std::fs::write(&chain, served).unwrap();
    let (daemon, addr) = start(dir, Some((&chain, &key)));
    let plain_dir = tempfile::tempdir().unwrap();
    let (plain_daemon, plain) = start(plain_dir.path(), None);

    let report = check(&certs.dir.path().join("ca.pem"), "ldap", "ldap.test", addr).await;
    assert!(
        report
            .stdout
            .contains("chain       as sent by the server, 3 certificates"),
        "{}",
        report.stdout
    );
    assert!(
        report
            .stdout
            .contains("legacy      TLS 1.0 refused, TLS 1.1 refused"),
        "{}",
        report.stdout
    );
    assert!(
        report
            .stdout
            .contains("[2] CN=Places Root, O=cert-expiry-exporter tests  (the trust anchor)\n"),
        "{}",
        report.stdout
    );
    assert!(
        !report.stdout.contains("not part of the path"),
        "{}",
        report.stdout
    );
    let targets = format!(
        "  - name: ldap\n    address: {addr}\n    server_name: ldap.test\n    starttls: ldap\n\
         \x20 - name: plain\n    address: {plain}\n    server_name: ldap.test\n    starttls: ldap\n"
    );
    let h = exporter(certs, "5s", &targets).await;
    let m = h.wait_for_probes(&["ldap", "plain"], WAIT).await;
    assert_served_over_tls13(&m, "ldap", &report);
    let leaf = m.find("cert_info", &[("target", "ldap"), ("position", "0")]);
    assert_eq!(leaf[0].labels["subject"], "CN=ldap.test");
    assert_eq!(
        m.reasons("cert_probe_error_info", "plain"),
        ["starttls_unsupported"],
        "{}",
        m.text
    );
    h.stop().await;
    drop((daemon, plain_daemon));
}
