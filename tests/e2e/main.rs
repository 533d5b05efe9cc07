//! End-to-end tests: real TLS servers, the real exporter, assertions on scraped `/metrics`.

mod support;

mod caa_acme;
mod cli;
mod diagnose;
mod dns;
mod dns_checks;
mod files;
mod formats;
mod handshake;
mod http;
mod kubernetes;
mod labels;
mod limbo;
mod logging;
mod places;
mod prometheus;
mod renewal;
mod revocation;
mod robust;
mod startup;
mod tls;
mod verdicts;
mod web;

mod on_demand;
mod target_files;
