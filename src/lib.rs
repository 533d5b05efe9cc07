#![deny(missing_docs)]
//! cert-expiry-exporter: probes TLS endpoints on a schedule and serves certificate expiry, chain
//! validity and revocation to Prometheus.
//!
//! The flow: [`config`] ▶ `scheduler` ▶ [`probe`] (resolve ▶ connect ▶ handshake ▶ judge with
//! [`x509`] and [`revocation`]) ▶ `state` ◀ `metrics` (rendered at scrape time) ◀ [`server`].
//!
//! The layers, lowest first; a module imports only from layers below it (`scripts/check-layers.py`
//! checks it, and `docs/architecture.md` says what each holds): foundation ([`clock`],
//! `capped_read`, `tls_provider`, [`shard`], `systemd`, [`logging`], `failure`; [`cli`] holds
//! the flags) ▶ [`x509`] ▶ [`config`] ▶ `fetch` ▶ [`revocation`] ▶ [`probe`] ▶ `state` ▶
//! `metrics` ▶ `scheduler`, [`inventory`] ▶ [`server`], [`check`] ▶ [`app`] (wiring only).
//!
//! The public modules are what the binary, the tests, the fuzz targets and the examples use; the
//! layers only the crate itself uses are private.

pub mod app;
mod capped_read;
pub mod check;
pub mod cli;
pub mod clock;
pub mod config;
mod failure;
mod fetch;
pub mod inventory;
pub mod logging;
mod metrics;
pub mod probe;
pub mod revocation;
mod scheduler;
pub mod server;
pub mod shard;
mod state;
mod systemd;
mod tls_provider;
pub mod x509;
