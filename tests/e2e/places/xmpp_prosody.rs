//! XMPP STARTTLS against a real Prosody (Debian `prosody`) with one virtual host, `chat.test`,
//! whose certificate is set; config, data and pid file in a temp dir, c2s on a free loopback
//! port, run in the foreground (`prosody --config FILE -F`). `server_name` is the XMPP domain:
//! asked for a domain it does not host, Prosody ends the stream with `host-unknown`. A second
//! host, `plain.test`, has TLS switched off (`modules_disabled = { "tls" }`): its stream
//! features offer no `<starttls/>`.

use std::net::SocketAddr;
use std::process::Command;

use super::{assert_served_over_tls13, check, exporter, Certs, WAIT};
use crate::support::ports::free_port;
use crate::support::process::{is_root, require, Daemon};

const PACKAGES: &str = "prosody";

#[tokio::test]
async fn xmpp_starttls_through_prosody_an_unknown_host_and_one_without_tls() {
    let prosody = require("prosody", PACKAGES);
    let certs = Certs::new();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (chain, key) = certs.write_pem(dir, "chat.test");
    let data = dir.join("data");
    std::fs::create_dir(&data).unwrap();
    let port = free_port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    // Prosody refuses to run as root unless told it may; only c2s listens.
    let root = if is_root() {
        "run_as_root = true\n"
    } else {
        ""
    };
    let config = format!(
        "{root}pidfile = \"{dir}/prosody.pid\"\ndata_path = \"{data}\"\ncertificates = \"{dir}\"\n\
         log = {{ info = \"*console\" }}\n\
         modules_enabled = {{ \"tls\"; \"saslauth\"; \"disco\" }}\nmodules_disabled = {{ \"s2s\" }}\n\
         c2s_ports = {{ {port} }}\nc2s_interfaces = {{ \"127.0.0.1\" }}\n\
         s2s_ports = {{ }}\ncomponent_ports = {{ }}\nhttp_ports = {{ }}\nhttps_ports = {{ }}\n\
         c2s_direct_tls_ports = {{ }}\nlegacy_ssl_ports = {{ }}\n\
         c2s_require_encryption = true\n\
         VirtualHost \"chat.test\"\n  ssl = {{ certificate = \"{chain}\"; key = \"{key}\" }}\n\
         VirtualHost \"plain.test\"\n  modules_disabled = {{ \"tls\" }}\n",
        dir = dir.display(),
        data = data.display(),
    );
    let config_path = super::write(dir, "prosody.cfg.lua", &config);
    let mut command = Command::new(prosody);
    command.arg("--config").arg(&config_path).arg("-F");
    let mut daemon = Daemon::spawn("prosody", command, &dir.join("prosody.log"));
    daemon.wait_listening(addr);

    let ca = certs.dir.path().join("ca.pem");
    let report = check(&ca, "xmpp", "chat.test", addr).await;
    let unknown = check(&ca, "xmpp", "other.test", addr).await;
    assert_eq!(unknown.code, 2, "{}", unknown.stdout);
    assert!(
        unknown.stdout.contains("host-unknown")
            && unknown
                .stdout
                .contains("This server does not serve other.test"),
        "{}",
        unknown.stdout
    );
    assert!(
        unknown
            .stdout
            .contains("set server_name to a domain the server hosts"),
        "{}",
        unknown.stdout
    );
    assert!(
        !unknown.stdout.contains("implicit-TLS"),
        "{}",
        unknown.stdout
    );

    let targets = format!(
        "  - name: chat\n    address: {addr}\n    server_name: chat.test\n    starttls: xmpp\n\
         \x20 - name: stranger\n    address: {addr}\n    server_name: other.test\n    starttls: xmpp\n\
         \x20 - name: plain\n    address: {addr}\n    server_name: plain.test\n    starttls: xmpp\n"
    );
    let h = exporter(certs, "5s", &targets).await;
    let m = h
        .wait_for_probes(&["chat", "stranger", "plain"], WAIT)
        .await;
    assert_served_over_tls13(&m, "chat", &report);
    let leaf = m.find("cert_info", &[("target", "chat"), ("position", "0")]);
    assert_eq!(leaf[0].labels["subject"], "CN=chat.test");
    assert_eq!(
        m.reasons("cert_probe_error_info", "stranger"),
        ["starttls_refused"],
        "{}",
        m.text
    );
    assert_eq!(
        m.value("cert_probe_success", &[("target", "stranger")]),
        0.0
    );
    h.stop().await;
    drop(daemon);
}
