//! The TLS crypto provider: aws-lc-rs, made once and shared by everything that speaks or
//! loads TLS — the probe's client handshakes, the client identities loaded with the
//! configuration (their private keys), and the web server behind `--web.config.file`.

use std::sync::{Arc, OnceLock};

use rustls::crypto::hash::HashAlgorithm;
use rustls::crypto::CryptoProvider;
use rustls::SupportedCipherSuite;

/// The aws-lc-rs provider, made once. Built explicitly rather than installed process-wide so that
/// no other crate's choice of provider can make `ClientConfig::builder()` ambiguous.
pub fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .clone()
}

/// The provider the probe's handshakes use: [`provider`] with the suites on SHA-256 offered
/// before those on SHA-384 (AES-128-GCM and ChaCha20-Poly1305 before AES-256-GCM, in TLS 1.3
/// and 1.2 alike). A monitoring handshake protects no data, and SHA-384 (SHA-512's rounds, which
/// have no hardware support on common x86 CPUs) was 7 % of a probe's CPU in its key schedule.
/// Every suite stays offered, so a server that only has AES-256 still connects.
pub fn probe_provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| {
            let mut provider = provider().as_ref().clone();
            provider
                .cipher_suites
                .sort_by_key(|suite| hash(suite) != HashAlgorithm::SHA256);
            Arc::new(provider)
        })
        .clone()
}

/// The hash of a suite's key schedule (TLS 1.3) or PRF (TLS 1.2).
fn hash(suite: &SupportedCipherSuite) -> HashAlgorithm {
    match suite {
        SupportedCipherSuite::Tls13(s) => s.common.hash_provider.algorithm(),
        SupportedCipherSuite::Tls12(s) => s.common.hash_provider.algorithm(),
    }
}
