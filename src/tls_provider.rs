//! The TLS crypto provider: aws-lc-rs, made once and shared by everything that speaks or
//! loads TLS — the probe's client handshakes, the client identities loaded with the
//! configuration (their private keys), and the web server behind `--web.config.file`.

use std::sync::{Arc, OnceLock};

use rustls::crypto::CryptoProvider;

/// The aws-lc-rs provider, made once. Built explicitly rather than installed process-wide so that
/// no other crate's choice of provider can make `ClientConfig::builder()` ambiguous.
pub fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .clone()
}
