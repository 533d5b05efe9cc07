//! `resolve: all`: one name with three loopback addresses (127.0.0.1, 127.0.0.2, ::1), each
//! serving its own certificate on the same port; every address gets its own series with an
//! `address` label. The name comes from entries this test adds to `/etc/hosts` (the resolver
//! reads it first, and each exporter builds a new resolver) and removes afterwards.

use std::net::SocketAddr;

use tokio::net::TcpListener;

use super::dialogue_servers::serve_on;
use super::{Certs, WAIT};
use crate::support::pki::LeafSpec;
use crate::support::server::Server;

/// A name no other test or system uses.
const NAME: &str = "places-resolve-all.cert-exporter.test";
const HOSTS: &str = "/etc/hosts";

/// This test's lines in `/etc/hosts`, added idempotently and removed on drop. The file is
/// rewritten in place (not replaced) because it is often a bind mount in containers.
struct HostsEntries {
    lines: Vec<String>,
}

impl HostsEntries {
    fn add(ips: &[&str]) -> HostsEntries {
        let lines: Vec<String> = ips
            .iter()
            .map(|ip| format!("{ip} {NAME} # added by cert-expiry-exporter's e2e tests"))
            .collect();
        let current = std::fs::read_to_string(HOSTS).unwrap_or_default();
        let mut text = current.clone();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        for line in &lines {
            if !current.lines().any(|l| l == line) {
                text.push_str(line);
                text.push('\n');
            }
        }
        std::fs::write(HOSTS, text).unwrap_or_else(|e| {
            panic!("cannot add {NAME} to {HOSTS} ({e}); this test needs to run as root, as CI does")
        });
        HostsEntries { lines }
    }
}

impl Drop for HostsEntries {
    fn drop(&mut self) {
        if let Ok(current) = std::fs::read_to_string(HOSTS) {
            let kept: String = current
                .lines()
                .filter(|l| !self.lines.iter().any(|ours| ours == l))
                .map(|l| format!("{l}\n"))
                .collect();
            let _ = std::fs::write(HOSTS, kept);
        }
    }
}

/// Binds the same free port on every one of `ips`.
async fn same_port_on(ips: &[&str]) -> Vec<TcpListener> {
    for _ in 0..50 {
        let first = TcpListener::bind(format!("{}:0", ips[0]))
            .await
            .expect("bind");
        let port = first.local_addr().unwrap().port();
        let mut listeners = vec![first];
        for ip in &ips[1..] {
            let addr: SocketAddr = format!("{ip}:{port}").parse().unwrap();
            match TcpListener::bind(addr).await {
                Ok(l) => listeners.push(l),
                Err(_) => break,
            }
        }
        if listeners.len() == ips.len() {
            return listeners;
        }
    }
    panic!("no port free on all of {ips:?}");
}

#[tokio::test]
async fn every_address_is_probed_and_labelled() {
    let ips = ["127.0.0.1", "127.0.0.2", "[::1]"];
    let _hosts = HostsEntries::add(&["127.0.0.1", "127.0.0.2", "::1"]);
    let certs = Certs::new();
    let listeners = same_port_on(&ips).await;
    let port = listeners[0].local_addr().unwrap().port();
    let mut servers: Vec<Server> = Vec::new();
    for (i, listener) in listeners.into_iter().enumerate() {
        let mut spec = LeafSpec::new(NAME, 20 + 10 * i as i64);
        spec.serial = Some(1001 + i as u64);
        let (chain, key) = certs.chain(&spec);
        servers.push(serve_on(
            listener,
            chain,
            key,
            |p| async move { Ok((p, true)) },
        ));
    }

    let targets = format!(
        "  - name: all\n    address: {NAME}:{port}\n    resolve: all\n\
         \x20 - name: first\n    address: {NAME}:{port}\n\
         \x20 - name: unresolvable\n    address: no-such-host.invalid:443\n    resolve: all\n"
    );
    let h = super::exporter(certs, "5s", &targets).await;
    let m = h
        .wait_until(WAIT, |m| {
            m.find("cert_probe_timestamp_seconds", &[("target", "all")])
                .len()
                == 3
                && ["first", "unresolvable"].iter().all(|t| {
                    !m.find("cert_probe_timestamp_seconds", &[("target", t)])
                        .is_empty()
                })
        })
        .await;

    let expected = [
        (format!("127.0.0.1:{port}"), "1001", 20.0),
        (format!("127.0.0.2:{port}"), "1002", 30.0),
        (format!("[::1]:{port}"), "1003", 40.0),
    ];
    for (address, serial, days) in &expected {
        let at = [("target", "all"), ("address", address.as_str())];
        assert_eq!(
            m.value("cert_probe_success", &at),
            1.0,
            "{address}:\n{}",
            m.text
        );
        assert_eq!(m.value("cert_chain_valid", &at), 1.0, "{address}");
        let left = m.value("cert_days_to_expiry", &at);
        assert!(
            (days - 0.1..days + 0.1).contains(&left),
            "{address}: {left}"
        );
        let leaf = m.find(
            "cert_info",
            &[("target", "all"), ("address", address), ("position", "0")],
        );
        assert_eq!(leaf.len(), 1, "{address}");
        assert!(
            leaf[0].labels["serial"].ends_with(&format!("{:x}", serial.parse::<u64>().unwrap())),
            "{address}: {:?}",
            leaf[0].labels
        );
        assert!(m
            .get(
                "cert_probe_duration_seconds",
                &[
                    ("target", "all"),
                    ("address", address),
                    ("phase", "handshake")
                ]
            )
            .is_some());
    }
    // Every series of the target carries the label.
    assert!(m
        .samples
        .iter()
        .filter(|s| s.labels.get("target").map(String::as_str) == Some("all"))
        .all(|s| s.labels.contains_key("address")));

    // `first` (the default) probes one address and adds no label.
    let first = m.find("cert_probe_success", &[("target", "first")]);
    assert_eq!(first.len(), 1);
    assert!(!first[0].labels.contains_key("address"), "{first:?}");
    assert_eq!(first[0].value, 1.0);

    // A name that does not resolve: one result, no address to label it with.
    let failed = m.find("cert_probe_error_info", &[("target", "unresolvable")]);
    assert_eq!(failed.len(), 1, "{}", m.text);
    assert_eq!(failed[0].labels["reason"], "dns");
    assert!(!failed[0].labels.contains_key("address"));
    h.stop().await;
    drop(servers);
}
