//! End-to-end tests: real TLS servers, the real exporter, assertions on scraped `/metrics`.

mod support;

mod cli;
mod http;
mod revocation;
mod tls;
