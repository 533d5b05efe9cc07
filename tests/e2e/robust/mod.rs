//! Issue 7: the exporter holds up under bad input, faults and load, and lets no one in.
//!
//! Every hostile case runs next to a healthy target in the same exporter, and the healthy one
//! must keep being probed and reported ([`assert_healthy_stays_fresh`]): a bad target may only
//! ever cost itself.

mod binary;
mod config_table;
mod dns;
mod files;
mod fuzz_replay;
mod hostile_servers;
mod http_limits;
mod properties;

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::support::pki::{Ca, LeafSpec};
use crate::support::tls_server::{self, TlsOptions};
use crate::support::{Harness, Metrics};

/// How long any condition may take to come true.
pub const WAIT: Duration = Duration::from_secs(30);

/// A valid TLS server for `healthy.test`, signed by `root` (the exporter's `ca_file`).
pub async fn healthy_server(root: &Ca) -> tls_server::Server {
    let leaf = root.leaf(&LeafSpec::new("healthy.test", 90));
    tls_server::tls(
        vec![leaf.der.clone()],
        leaf.private_key(),
        TlsOptions::default(),
    )
    .await
}

/// The YAML entry of the healthy target for `server`.
pub fn healthy_target(server: &tls_server::Server) -> String {
    format!(
        "  - name: healthy\n    address: {}\n    server_name: healthy.test\n",
        server.addr
    )
}

/// Waits until the healthy target has been probed at least twice more, successfully and with a
/// valid chain, and returns the last scrape. Its interval must be 1 s.
pub async fn assert_healthy_stays_fresh(h: &Harness) -> Metrics {
    let ts = |m: &Metrics| m.get("cert_probe_timestamp_seconds", &[("target", "healthy")]);
    let first = h.wait_until(WAIT, |m| ts(m).is_some()).await;
    let start = ts(&first).unwrap_or_default();
    let m = h
        .wait_until(WAIT, |m| ts(m).is_some_and(|t| t >= start + 2.0))
        .await;
    assert_eq!(
        m.value("cert_probe_success", &[("target", "healthy")]),
        1.0,
        "{}",
        m.text
    );
    assert_eq!(
        m.value("cert_chain_valid", &[("target", "healthy")]),
        1.0,
        "{}",
        m.text
    );
    assert!(m.reasons("cert_probe_error_info", "healthy").is_empty());
    m
}

/// Waits until every target in `names` has been probed again after the first scrape that saw
/// it, so that the assertions read a steady state rather than a first probe.
pub async fn wait_probed_twice(h: &Harness, names: &[&str]) -> Metrics {
    let first = h
        .wait_until(WAIT, |m| {
            names.iter().all(|t| {
                m.get("cert_probe_timestamp_seconds", &[("target", t)])
                    .is_some()
            })
        })
        .await;
    let seen: Vec<f64> = names
        .iter()
        .map(|t| first.value("cert_probe_timestamp_seconds", &[("target", t)]))
        .collect();
    h.wait_until(WAIT, |m| {
        names.iter().zip(&seen).all(|(t, before)| {
            m.get("cert_probe_timestamp_seconds", &[("target", t)])
                .is_some_and(|now| now > *before)
        })
    })
    .await
}

/// A TCP server whose every connection is handled by `behaviour`; stops when dropped.
pub struct RawServer {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RawServer {
    /// Listens on a free loopback port.
    pub async fn start<F, Fut>(behaviour: F) -> RawServer
    where
        F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        RawServer::on(listener, behaviour)
    }

    /// Serves on `listener` (to reopen a port that was closed).
    pub fn on<F, Fut>(listener: TcpListener, behaviour: F) -> RawServer
    where
        F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let addr = listener.local_addr().expect("addr");
        let behaviour = std::sync::Arc::new(behaviour);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let behaviour = behaviour.clone();
                tokio::spawn(async move { behaviour(stream).await });
            }
        });
        RawServer { addr, task }
    }
}
