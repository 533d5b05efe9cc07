//! HTTP CONNECT through a real proxy (Debian `tinyproxy`, started by the test with Basic
//! authentication and a `ConnectPort` allow-list): a TLS server and an SMTP STARTTLS server
//! reached through it, and the proxy refusing (wrong password, forbidden port) or absent.

use std::net::SocketAddr;
use std::process::Command;

use super::dialogue_servers as servers;
use super::{assert_probed_cleanly, exporter, Certs, WAIT};
use crate::support::pki::LeafSpec;
use crate::support::ports::free_port;
use crate::support::process::{require, Daemon};
use crate::support::tls_server::{self, TlsOptions};

#[tokio::test]
async fn probes_through_tinyproxy_and_its_refusals() {
    let tinyproxy = require("tinyproxy", "tinyproxy");
    let certs = Certs::new();
    let (chain, key) = certs.chain(&LeafSpec::new("svc.test", 50));
    let tls = tls_server::tls(chain, key, TlsOptions::default()).await;
    let (chain, key) = certs.chain(&LeafSpec::new("svc.test", 50));
    let smtp = servers::smtp(chain, key, true, "220 Ready to start TLS\r\n").await;
    let forbidden = crate::support::ports::closed_port().await;

    let run = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = format!(
        "Port {port}\nListen 127.0.0.1\nTimeout 10\nMaxClients 20\nLogLevel Info\n\
         Allow 127.0.0.1\nBasicAuth prober s3cret\n\
         ConnectPort {}\nConnectPort {}\n",
        tls.addr.port(),
        smtp.addr.port()
    );
    let config_path = super::write(run.path(), "tinyproxy.conf", &config);
    let mut command = Command::new(tinyproxy);
    command.arg("-d").arg("-c").arg(&config_path);
    let mut daemon = Daemon::spawn("tinyproxy", command, &run.path().join("tinyproxy.log"));
    daemon.wait_listening(SocketAddr::from(([127, 0, 0, 1], port)));

    let good = format!("http://prober:s3cret@127.0.0.1:{port}");
    let bad = format!("http://prober:wrong@127.0.0.1:{port}");
    let absent = crate::support::ports::closed_port().await;
    let targets = format!(
        "  - name: through\n    address: {tls}\n    server_name: svc.test\n    proxy_url: {good}\n\
         \x20 - name: starttls_through\n    address: {smtp}\n    server_name: svc.test\n    starttls: smtp\n    proxy_url: {good}\n\
         \x20 - name: wrong_password\n    address: {tls}\n    server_name: svc.test\n    proxy_url: {bad}\n\
         \x20 - name: forbidden_port\n    address: {forbidden}\n    server_name: svc.test\n    proxy_url: {good}\n\
         \x20 - name: no_proxy\n    address: {tls}\n    server_name: svc.test\n    proxy_url: http://{absent}\n",
        tls = tls.addr,
        smtp = smtp.addr,
    );
    let h = exporter(certs, "5s", &targets).await;
    let names = [
        "through",
        "starttls_through",
        "wrong_password",
        "forbidden_port",
        "no_proxy",
    ];
    let m = h.wait_for_probes(&names, WAIT).await;
    assert_probed_cleanly(&m, "through", &["dns", "connect", "handshake"]);
    assert_probed_cleanly(
        &m,
        "starttls_through",
        &["dns", "connect", "starttls", "handshake"],
    );
    for refused in ["wrong_password", "forbidden_port"] {
        assert_eq!(
            m.reasons("cert_probe_error_info", refused),
            ["proxy_refused"],
            "{refused}:\n{}",
            m.text
        );
        assert!(m.get("cert_chain_valid", &[("target", refused)]).is_none());
    }
    assert_eq!(
        m.reasons("cert_probe_error_info", "no_proxy"),
        ["proxy_connect"]
    );
    h.stop().await;
    drop(daemon);
}
