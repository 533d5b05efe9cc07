//! cert-expiry-exporter: probes TLS endpoints on a schedule and serves certificate expiry, chain
//! validity and revocation to Prometheus.
//!
//! The flow, one module per stage:
//! [`config`] ▶ [`scheduler`] ▶ [`probe`] (resolve ▶ connect ▶ handshake) ▶ [`x509`] (facts and
//! verdict) ▶ [`state`] ◀ [`metrics`] (rendered at scrape time) ◀ [`server`].

pub mod app;
pub mod capped_read;
pub mod check;
pub mod cli;
pub mod clock;
pub mod config;
pub mod failure;
pub mod fetch;
pub mod inventory;
pub mod logging;
pub mod metrics;
pub mod probe;
pub mod revocation;
pub mod scheduler;
pub mod server;
pub mod shard;
pub mod state;
pub mod systemd;
pub mod tls_provider;
pub mod x509;
