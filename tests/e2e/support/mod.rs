//! Shared test support, one place for every helper the end-to-end tests use: the exporter
//! in-process ([`Harness`]), HTTP and `/metrics` parsing, certificates ([`pki`], [`openssl`]),
//! servers that stop when dropped ([`server`], [`tls_server`], [`issuer`]), system programs
//! ([`process`]), the real binary ([`binary`]), free ports ([`ports`]) and waits ([`wait`]).

#![allow(dead_code)]

pub mod binary;
pub mod harness;
pub mod http;
pub mod issuer;
pub mod metrics;
pub mod openssl;
pub mod pki;
pub mod ports;
pub mod process;
pub mod server;
pub mod tls_server;
pub mod wait;

use std::path::{Path, PathBuf};

pub use harness::Harness;
pub use http::{get, request};
pub use metrics::{Metrics, Sample};

/// Writes `text` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}
