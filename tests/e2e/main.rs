//! End-to-end tests: real TLS servers, the real exporter, assertions on scraped `/metrics`.

mod support;

mod cli;
mod files;
mod http;
mod places;
mod revocation;
mod robust;
mod tls;
mod web;
