//! The MySQL protocol's SSLRequest against a real MariaDB (Debian `mariadb-server`), in a data
//! directory made for the test by `mariadb-install-db`, on a free loopback port and a socket in
//! the temp dir, with `--ssl-cert`/`--ssl-key`/`--ssl-ca` (so it asks TLS clients for a
//! certificate, and accepts none).
//!
//! With `--skip-name-resolve` a connection from 127.0.0.1 is allowed only if some account's
//! host is `127.0.0.1`: the test first removes the one `mariadb-install-db` makes, so the server
//! refuses the exporter with error 1130 before its greeting (`starttls_refused`), then creates
//! the account without rights operators create for the exporter (docs/probes.md), and the same
//! server lets the probe through: the SSLRequest comes before authentication. Restarted with
//! `--skip-ssl`, its greeting lacks CLIENT_SSL: TLS not offered.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use super::{assert_served_over_tls13, check, exporter, Certs, WAIT};
use crate::support::ports::free_port;
use crate::support::process::{is_root, require, run, Daemon};
use crate::support::wait::probed_again;

const PACKAGES: &str = "mariadb-server mariadb-client";

/// Runs `sql` as root over the server's socket. The server opens its TCP port (what the test
/// waited for) a moment before its socket, so a refused socket is retried for up to 30 s.
fn sql(client: &Path, socket: &Path, sql: &str) {
    let command = || {
        let mut c = Command::new(client);
        c.arg("--no-defaults")
            .arg(format!("--socket={}", socket.display()))
            .args(["--user=root", "-e", sql]);
        c
    };
    for _ in 0..150 {
        let out = command().output().expect("run mariadb");
        let refused = String::from_utf8_lossy(&out.stderr).contains("ERROR 2002");
        if out.status.success() {
            return;
        }
        if !refused {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // Not refused (or still refused after 30 s): once more, to fail with the output.
    run(&format!("mariadb -e {sql:?}"), &mut command());
}

#[tokio::test]
async fn mysql_ssl_request_through_mariadb_refused_allowed_and_without_tls() {
    let install_db = require("mariadb-install-db", PACKAGES);
    let mariadbd = require("mariadbd", PACKAGES);
    let client = require("mariadb", PACKAGES);
    let certs = Certs::new();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (chain, key) = certs.write_pem(dir, "db.test");
    let ca = certs.dir.path().join("ca.pem");
    let data = dir.join("data");
    let socket = dir.join("mysqld.sock");
    // As root the server runs as root (`--user=root`); root's account gets an empty password
    // rather than the OS-user check, so the test's client logs in as any user.
    let user: &[&str] = if is_root() { &["--user=root"] } else { &[] };
    run("mariadb-install-db", &mut {
        let mut c = Command::new(install_db);
        c.arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .args(user)
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"]);
        c
    });
    let start = |ssl: &[String]| {
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let mut command = Command::new(&mariadbd);
        command
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .args(user)
            .arg(format!("--port={}", addr.port()))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--socket={}", socket.display()))
            .arg(format!("--pid-file={}", dir.join("mariadbd.pid").display()))
            .args(ssl)
            .args(["--skip-name-resolve", "--innodb-buffer-pool-size=16M"]);
        let mut daemon = Daemon::spawn("mariadbd", command, &dir.join("mariadbd.log"));
        daemon.wait_listening(addr);
        (daemon, addr)
    };
    let (daemon, addr) = start(&[
        format!("--ssl-cert={chain}"),
        format!("--ssl-key={key}"),
        format!("--ssl-ca={}", ca.display()),
    ]);
    sql(&client, &socket, "DROP USER IF EXISTS 'root'@'127.0.0.1'");

    // Refused: no account for 127.0.0.1.
    let refused = check(&ca, "mysql", "db.test", addr).await;
    assert_eq!(refused.code, 2, "{}", refused.stdout);
    assert!(
        refused
            .stdout
            .contains("the server refused the connection before TLS"),
        "{}",
        refused.stdout
    );
    assert!(
        refused.stdout.contains("error 1130")
            && refused
                .stdout
                .contains("Host '127.0.0.1' is not allowed to connect"),
        "{}",
        refused.stdout
    );
    assert!(
        refused.stdout.contains("an account with no rights"),
        "{}",
        refused.stdout
    );
    assert!(
        !refused.stdout.contains("implicit-TLS"),
        "{}",
        refused.stdout
    );
    let targets = format!(
        "  - name: db\n    address: {addr}\n    server_name: db.test\n    starttls: mysql\n"
    );
    let h = exporter(certs, "5s", &targets).await;
    let m = h.wait_for_probes(&["db"], WAIT).await;
    assert_eq!(
        m.reasons("cert_probe_error_info", "db"),
        ["starttls_refused"],
        "{}",
        m.text
    );
    assert!(m.get("cert_chain_valid", &[("target", "db")]).is_none());

    // The account the exporter needs: no rights, no password, locked; its host is enough.
    sql(
        &client,
        &socket,
        "CREATE USER 'cert-expiry-exporter'@'127.0.0.1' ACCOUNT LOCK",
    );
    let m = probed_again(&h, "db", 1, WAIT).await;
    let allowed = check(&h.path("ca.pem"), "mysql", "db.test", addr).await;
    assert_served_over_tls13(&m, "db", &allowed);
    let leaf = m.find("cert_info", &[("target", "db"), ("position", "0")]);
    assert_eq!(leaf[0].labels["subject"], "CN=db.test");
    // MariaDB answers the legacy TLS 1.0 hello with an alert and an error packet together.
    assert_eq!(
        m.get(
            "cert_legacy_protocol_enabled",
            &[("target", "db"), ("version", "TLS 1.0")]
        ),
        Some(0.0),
        "{}",
        m.text
    );
    h.stop().await;
    drop(daemon);

    // The same server restarted with `--skip-ssl`: its greeting has no CLIENT_SSL.
    let (daemon, addr) = start(&["--skip-ssl".to_string()]);
    let targets = format!(
        "  - name: plain\n    address: {addr}\n    server_name: db.test\n    starttls: mysql\n"
    );
    let h = exporter(Certs::new(), "5s", &targets).await;
    let m = h.wait_for_probes(&["plain"], WAIT).await;
    assert_eq!(
        m.reasons("cert_probe_error_info", "plain"),
        ["starttls_unsupported"],
        "{}",
        m.text
    );
    h.stop().await;
    drop(daemon);
}
