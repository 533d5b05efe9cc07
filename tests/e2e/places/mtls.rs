//! Mutual TLS: a server that requires a client certificate, probed with one (the handshake
//! completes), without one (the server's chain is still reported, reason `client_cert_required`)
//! and with one the server does not trust (`client_cert_rejected`), in TLS 1.2 and TLS 1.3.
//!
//! A TLS 1.3 server refuses the client's certificate after the client has finished its side of
//! the handshake; on loopback the refusal often arrives while the handshake is still being read,
//! over a real network it arrives after. A relay that delays the server's bytes reproduces the
//! latter.

use std::net::SocketAddr;
use std::time::Duration;

use crate::support::server::Task;
use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose};
use rustls::SupportedProtocolVersion;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::{assert_probed_cleanly, exporter, Certs, WAIT};
use crate::support::pki::{pem_of, Ca, LeafSpec};
use crate::support::tls_server::{self, TlsOptions};
use crate::support::write;

/// A client certificate issued by `ca`, written as `{name}.crt` and `{name}.key` into `dir`.
fn client_identity(ca: &Ca, dir: &std::path::Path, name: &str) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client = ca.sign_leaf(&params);
    write(dir, &format!("{name}.crt"), &pem_of(&client.der));
    write(dir, &format!("{name}.key"), &client.key.serialize_pem());
}

/// Relays connections to `upstream`, holding each chunk the server sends for `lag` (a link with
/// latency, one way). Stops when the handle is dropped.
async fn laggy_relay(upstream: SocketAddr, lag: Duration) -> (SocketAddr, Task) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = Task::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(server) = TcpStream::connect(upstream).await else {
                    return;
                };
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                let up = tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
                });
                let mut chunk = vec![0u8; 16 * 1024];
                while let Ok(n) = server_read.read(&mut chunk).await {
                    if n == 0 {
                        break;
                    }
                    tokio::time::sleep(lag).await;
                    if client_write.write_all(&chunk[..n]).await.is_err() {
                        break;
                    }
                }
                up.abort();
            });
        }
    });
    (addr, task)
}

#[tokio::test]
async fn servers_requiring_a_client_certificate() {
    let certs = Certs::new();
    let client_root = Ca::root("Client Root");
    let stranger = Ca::root("Stranger Root");
    client_identity(&client_root, certs.dir.path(), "trusted");
    client_identity(&stranger, certs.dir.path(), "untrusted");

    let mut servers = Vec::new();
    let mut targets = String::new();
    let versions: [(&str, &'static SupportedProtocolVersion); 2] = [
        ("tls12", &rustls::version::TLS12),
        ("tls13", &rustls::version::TLS13),
    ];
    for (version, protocol) in versions {
        let (chain, key) = certs.chain(&LeafSpec::new("svc.test", 30));
        let opts = TlsOptions {
            versions: vec![protocol],
            client_ca: Some(client_root.der.clone()),
            ..Default::default()
        };
        let server = tls_server::tls(chain, key, opts).await;
        let addr = server.addr;
        servers.push(server);
        targets.push_str(&format!(
            "  - name: {version}_with\n    address: {addr}\n    server_name: svc.test\n\
             \x20   client_cert: {{dir}}/trusted.crt\n    client_key: {{dir}}/trusted.key\n\
             \x20 - name: {version}_without\n    address: {addr}\n    server_name: svc.test\n\
             \x20 - name: {version}_untrusted\n    address: {addr}\n    server_name: svc.test\n\
             \x20   client_cert: {{dir}}/untrusted.crt\n    client_key: {{dir}}/untrusted.key\n"
        ));
    }
    // The TLS 1.3 server again, 150 ms away.
    let (far, relay) = laggy_relay(servers[1].addr, Duration::from_millis(150)).await;
    targets.push_str(&format!(
        "  - name: far_with\n    address: {far}\n    server_name: svc.test\n\
         \x20   client_cert: {{dir}}/trusted.crt\n    client_key: {{dir}}/trusted.key\n\
         \x20 - name: far_without\n    address: {far}\n    server_name: svc.test\n"
    ));
    let h = exporter(certs, "5s", &targets).await;
    let names = [
        "tls12_with",
        "tls12_without",
        "tls12_untrusted",
        "tls13_with",
        "tls13_without",
        "tls13_untrusted",
        "far_with",
        "far_without",
    ];
    let m = h.wait_for_probes(&names, WAIT).await;
    for version in ["tls12", "tls13"] {
        let with = format!("{version}_with");
        assert_probed_cleanly(&m, &with, &["handshake"]);
        assert_eq!(
            m.value("cert_client_cert_requested", &[("target", &with)]),
            1.0
        );
        let wanted = if version == "tls12" {
            "TLS 1.2"
        } else {
            "TLS 1.3"
        };
        assert_eq!(
            m.value(
                "cert_tls_version_info",
                &[("target", &with), ("version", wanted)]
            ),
            1.0
        );
        for (suffix, reason) in [
            ("without", "client_cert_required"),
            ("untrusted", "client_cert_rejected"),
        ] {
            let t = format!("{version}_{suffix}");
            assert_eq!(
                m.reasons("cert_probe_error_info", &t),
                [reason],
                "{t}:\n{}",
                m.text
            );
            // The server's chain was read and judged all the same.
            assert_eq!(m.value("cert_chain_valid", &[("target", &t)]), 1.0, "{t}");
            assert_eq!(m.value("cert_probe_success", &[("target", &t)]), 1.0, "{t}");
            assert!(m.get("cert_days_to_expiry", &[("target", &t)]).is_some());
            assert_eq!(
                m.value("cert_client_cert_requested", &[("target", &t)]),
                1.0
            );
        }
    }
    assert_probed_cleanly(&m, "far_with", &["handshake"]);
    assert_eq!(
        m.reasons("cert_probe_error_info", "far_without"),
        ["client_cert_required"],
        "{}",
        m.text
    );
    assert_eq!(
        m.value("cert_chain_valid", &[("target", "far_without")]),
        1.0
    );
    h.stop().await;
    drop(relay);
    drop(servers);
}
