//! HTTPS from real Apache httpd (Debian `apache2`, mod_ssl) and HAProxy (Debian `haproxy`),
//! each serving a leaf and its intermediate on a free loopback port, with its configuration,
//! pid file and logs in a temp dir and the server in the foreground.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use super::{assert_serves_the_chain, check_config, exporter, Certs, Terminating, WAIT};
use crate::support::pki::pem_of;
use crate::support::ports::free_port;
use crate::support::process::{is_root, require, Daemon};
use crate::support::write;

/// Where Debian's `apache2` installs its modules.
const APACHE_MODULES: &str = "/usr/lib/apache2/modules";

/// An HTTPS target for the exporter's `targets:`.
fn https_target(name: &str, port: u16) -> String {
    format!("  - name: {name}\n    address: 127.0.0.1:{port}\n    server_name: web.test\n")
}

/// Checks `name` with `check` and then with the exporter: the chain valid over TLS 1.3, 59–60
/// days to expiry, no legacy TLS (both servers refuse TLS 1.0 and 1.1 by default).
async fn assert_https(certs: Certs, name: &str, port: u16, daemon: &Terminating) {
    let target = https_target(name, port);
    let (code, results) = check_config(certs.dir.path(), "10s", &target).await;
    let r = &results[name];
    assert_eq!(r["status"], "ok", "{r:#}\n{}", daemon.0.log_text());
    assert_eq!(r["chain_valid"], true, "{r:#}");
    assert_eq!(r["tls"]["version"], "TLS 1.3", "{r:#}");
    assert_eq!(code, 0);

    let h = exporter(certs, "10s", &target).await;
    let m = h.wait_for_probes(&[name], WAIT).await;
    assert!(
        m.reasons("cert_probe_error_info", name).is_empty(),
        "{}\n{}'s log:\n{}",
        m.text,
        daemon.0.name,
        daemon.0.log_text()
    );
    assert_serves_the_chain(&m, name, "web.test", &["connect", "handshake"]);
    h.stop().await;
}

#[tokio::test]
async fn apache_httpd_with_mod_ssl() {
    let apache = require("apache2", "apache2");
    let modules = Path::new(APACHE_MODULES);
    assert!(
        modules.join("mod_ssl.so").is_file(),
        "{APACHE_MODULES}/mod_ssl.so is missing: this test needs the Debian package apache2 (bash scripts/test.sh installs it)"
    );
    let run_dir = tempfile::tempdir().unwrap();
    let dir = run_dir.path();
    let certs = Certs::new();
    let (chain, key) = certs.write_pem(dir, "web.test");
    let docs = dir.join("htdocs");
    std::fs::create_dir(&docs).unwrap();
    write(&docs, "index.html", "ok\n");
    let port = free_port();
    let d = dir.display();
    let m = modules.display();
    // As root, Apache's children run as www-data; as anyone else, as themselves.
    let user = match is_root() {
        true => "User www-data\nGroup www-data\n",
        false => "",
    };
    if is_root() {
        let chmod = Command::new("chmod").arg("0755").arg(dir).status().unwrap();
        assert!(chmod.success());
    }
    let config = format!(
        "ServerRoot {d}
ServerName web.test
Listen 127.0.0.1:{port}
PidFile {d}/httpd.pid
DefaultRuntimeDir {d}
ErrorLog /dev/stderr
LogLevel warn
{user}LoadModule mpm_event_module {m}/mod_mpm_event.so
LoadModule authz_core_module {m}/mod_authz_core.so
LoadModule socache_shmcb_module {m}/mod_socache_shmcb.so
LoadModule ssl_module {m}/mod_ssl.so
SSLSessionCache shmcb:{d}/ssl_scache(512000)
DocumentRoot {docs}
<VirtualHost 127.0.0.1:{port}>
    ServerName web.test
    SSLEngine on
    # The leaf, then the intermediate (Apache 2.4.8 and later read the chain from this file).
    SSLCertificateFile {chain}
    SSLCertificateKeyFile {key}
</VirtualHost>
",
        docs = docs.display()
    );
    let config_path = write(dir, "httpd.conf", &config);
    let mut command = Command::new(apache);
    command.arg("-f").arg(&config_path).arg("-DFOREGROUND");
    let mut daemon = Terminating(Daemon::spawn("apache2", command, &dir.join("apache.log")));
    daemon
        .0
        .wait_listening(SocketAddr::from(([127, 0, 0, 1], port)));
    assert_https(certs, "apache", port, &daemon).await;
    drop(daemon);
}

#[tokio::test]
async fn haproxy_tls_frontend() {
    let haproxy = require("haproxy", "haproxy");
    let run_dir = tempfile::tempdir().unwrap();
    let dir = run_dir.path();
    let certs = Certs::new();
    // HAProxy takes the leaf, the intermediate and the key from one PEM file.
    let leaf = certs
        .inter
        .leaf(&crate::support::pki::LeafSpec::new("web.test", 60));
    let pem = format!(
        "{}{}{}",
        pem_of(&leaf.der),
        pem_of(&certs.inter.der),
        leaf.key.serialize_pem()
    );
    let crt = write(dir, "web.pem", &pem);
    let port = free_port();
    let config = format!(
        "global
    log stderr format short local0
defaults
    mode http
    log global
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend web
    bind 127.0.0.1:{port} ssl crt {crt}
    http-request return status 200 content-type text/plain string ok
",
        crt = crt.display()
    );
    let config_path = write(dir, "haproxy.cfg", &config);
    let mut command = Command::new(haproxy);
    command.arg("-f").arg(&config_path).arg("-db");
    let mut daemon = Terminating(Daemon::spawn("haproxy", command, &dir.join("haproxy.log")));
    daemon
        .0
        .wait_listening(SocketAddr::from(([127, 0, 0, 1], port)));
    assert_https(certs, "haproxy", port, &daemon).await;
    drop(daemon);
}
