//! FTP `AUTH TLS` against a real vsftpd (Debian `vsftpd`) with `ssl_enable=YES`, run in the
//! foreground on a free loopback port with its config, chroot dir and certificates in a temp
//! dir. vsftpd asks every TLS client for a certificate (and accepts none), and answers the
//! legacy check's TLS 1.0 hello with an alert and `500 OOPS: ... no shared cipher` in one write.
//! A second vsftpd with `ssl_enable=NO` answers `AUTH TLS` with `530`: TLS not offered.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use super::{assert_served_over_tls13, check, exporter, Certs, WAIT};
use crate::support::ports::free_port;
use crate::support::process::{is_root, require, Daemon};

const PACKAGES: &str = "vsftpd";

/// Starts vsftpd in `dir` (its config, chroot dir and logs there) on a free loopback port,
/// with TLS when `tls` has a chain and key file; returns it and its address.
fn start(dir: &Path, tls: Option<(&str, &str)>) -> (Daemon, SocketAddr) {
    let vsftpd = require("vsftpd", PACKAGES);
    // vsftpd chroots its unprivileged helper into an empty directory.
    let empty = dir.join("empty");
    std::fs::create_dir(&empty).unwrap();
    let port = free_port();
    // As root it drops to `nopriv_user` (nobody, present everywhere); otherwise it stays the
    // launching user. The seccomp sandbox is off: containers often refuse its prctl.
    let privileges = if is_root() {
        "nopriv_user=nobody\nftp_username=nobody\n"
    } else {
        "run_as_launching_user=YES\n"
    };
    let ssl = match tls {
        Some((chain, key)) => {
            format!("ssl_enable=YES\nrsa_cert_file={chain}\nrsa_private_key_file={key}\n")
        }
        None => "ssl_enable=NO\n".to_string(),
    };
    let config = format!(
        "listen=YES\nlisten_address=127.0.0.1\nlisten_port={port}\nbackground=NO\n{ssl}\
         secure_chroot_dir={empty}\nanonymous_enable=YES\nanon_root={empty}\nlocal_enable=NO\n\
         seccomp_sandbox=NO\nvsftpd_log_file={log}\n{privileges}",
        empty = empty.display(),
        log = dir.join("transfers.log").display(),
    );
    // vsftpd refuses a config file others own; this one is the test's own.
    let config_path = super::write(dir, "vsftpd.conf", &config);
    let mut command = Command::new(vsftpd);
    command.arg(&config_path);
    let mut daemon = Daemon::spawn("vsftpd", command, &dir.join("vsftpd.log"));
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    daemon.wait_listening(addr);
    (daemon, addr)
}

#[tokio::test]
async fn ftp_auth_tls_through_vsftpd_and_one_without_tls() {
    let certs = Certs::new();
    let run = tempfile::tempdir().unwrap();
    let (chain, key) = certs.write_pem(run.path(), "ftp.test");
    let (daemon, addr) = start(run.path(), Some((&chain, &key)));
    let plain_dir = tempfile::tempdir().unwrap();
    let (plain_daemon, plain) = start(plain_dir.path(), None);

    let report = check(&certs.dir.path().join("ca.pem"), "ftp", "ftp.test", addr).await;
    // The legacy check is on by default: TLS 1.0 refused, whether vsftpd's alert and its
    // `500 OOPS` complaint come in one read or two.
    assert!(
        report.stdout.contains("TLS 1.0 refused"),
        "{}",
        report.stdout
    );
    let targets = format!(
        "  - name: ftp\n    address: {addr}\n    server_name: ftp.test\n    starttls: ftp\n\
         \x20 - name: plain\n    address: {plain}\n    server_name: ftp.test\n    starttls: ftp\n"
    );
    let h = exporter(certs, "5s", &targets).await;
    let m = h.wait_for_probes(&["ftp", "plain"], WAIT).await;
    assert_served_over_tls13(&m, "ftp", &report);
    let leaf = m.find("cert_info", &[("target", "ftp"), ("position", "0")]);
    assert_eq!(leaf[0].labels["subject"], "CN=ftp.test");
    for version in ["TLS 1.0", "TLS 1.1"] {
        assert_eq!(
            m.get(
                "cert_legacy_protocol_enabled",
                &[("target", "ftp"), ("version", version)]
            ),
            Some(0.0),
            "{version}:\n{}",
            m.text
        );
    }
    assert_eq!(
        m.reasons("cert_probe_error_info", "plain"),
        ["starttls_unsupported"],
        "{}",
        m.text
    );
    h.stop().await;
    drop((daemon, plain_daemon));
}
