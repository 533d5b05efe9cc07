//! The fuzz entry points: each feeds arbitrary bytes to one of the exporter's parsers of
//! untrusted input — what a server, a responder, a CRL host, a file on disk or an operator's
//! YAML may hand it — and must return without panicking, whatever the bytes.
//!
//! Used twice: by the libFuzzer binaries in `fuzz_targets/` (`cargo +nightly fuzz run NAME`,
//! see `scripts/fuzz.sh`), and by the main test suite, which replays `seeds/` and
//! `regressions/` through the very same functions on stable (`tests/e2e/fuzz_replay.rs`).

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use cert_expiry_exporter::config::Config;
use cert_expiry_exporter::probe::files::formats::{self, Format};
use cert_expiry_exporter::probe::files::kubeconfig;
use cert_expiry_exporter::revocation::crl::Crl;
use cert_expiry_exporter::revocation::issuer::Issuer;
use cert_expiry_exporter::revocation::ocsp::{self, CertRef};
use cert_expiry_exporter::x509::{self, bundle, CertFacts, TrustStore};
use rustls_pki_types::{CertificateDer, TrustAnchor};
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

/// A fixed moment (2027-01-15) so that a finding replays the same way on any day.
pub const NOW: i64 = 1_800_000_000;

/// The CA that issued the seed leaf, signed the seed OCSP response and the seed CRL, so that
/// mutations of the seeds get past the issuer checks to the signature checks.
const ISSUER_DER: &[u8] = include_bytes!("../seeds/ocsp_issuer.der");

/// The serial of the seed leaf (0x1001), which the seed OCSP response is about.
const SERIAL: &[u8] = &[0x10, 0x01];

/// At most this many certificates are taken from one input: more only repeats the same code.
const MAX_CHAIN: usize = 64;

/// The seed CA as an [`Issuer`], parsed once.
fn issuer() -> &'static Issuer {
    static ISSUER: OnceLock<Issuer> = OnceLock::new();
    ISSUER.get_or_init(|| {
        let (_, cert) = X509Certificate::from_der(ISSUER_DER).expect("the seed CA parses");
        Issuer::from_cert(&cert)
    })
}

/// A served chain: the input split into DER elements, each parsed for its facts, then judged
/// for a server name and as a file chain, with the last element as the only trust anchor.
pub fn cert_chain(data: &[u8]) {
    let chain: Vec<CertificateDer<'static>> = split_der(data)
        .into_iter()
        .map(|der| CertificateDer::from(der.to_vec()))
        .collect();
    if chain.is_empty() {
        return;
    }
    let facts: Vec<Arc<CertFacts>> = chain
        .iter()
        .filter_map(|der| CertFacts::from_der(der).ok())
        .collect();
    let _ = bundle::is_chain(&facts);
    let anchors: Vec<TrustAnchor<'static>> = chain
        .last()
        .and_then(|der| webpki::anchor_from_trusted_cert(der).ok())
        .map(|anchor| anchor.to_owned())
        .into_iter()
        .collect();
    let trust = TrustStore::from_anchors(anchors);
    let _ = x509::analyse(&chain, "fuzz.test", &trust, NOW);
    let _ = x509::analyse_file_chain(&chain, &trust, NOW);
}

/// An OCSP response about the seed leaf, verified against the seed CA.
pub fn ocsp_response(data: &[u8]) {
    let cert = CertRef {
        serial: SERIAL,
        issuer: issuer(),
    };
    let _ = ocsp::verify_response(data, &cert, NOW);
}

/// A CRL (DER or PEM), parsed, then checked against the seed CA and asked about a serial.
pub fn crl(data: &[u8]) {
    if let Ok(crl) = Crl::parse(Bytes::copy_from_slice(data)) {
        let _ = crl.verify(issuer());
        let _ = crl.lists(SERIAL);
        let _ = crl.is_stale(NOW);
        let _ = crl.size();
    }
}

/// The configuration loader, on the input as YAML text.
pub fn config(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Config::parse(text);
    }
}

/// A certificate file: its format told from the content, then decoded in every format (a
/// file may claim one format and be another), with a password and without.
pub fn file_formats(data: &[u8]) {
    if let Ok(format) = formats::detect(data) {
        let _ = formats::decode(data, format, Some("fuzz"), 1024);
    }
    for format in [
        Format::Pem,
        Format::Der,
        Format::Pkcs12,
        Format::Jks,
        Format::Jceks,
    ] {
        let _ = formats::decode(data, format, None, 4);
    }
    let _ = formats::decode(data, Format::Jks, Some("changeit"), 4);
    let _ = formats::crl(data);
    let _ = kubeconfig::entries(data);
}

/// Splits `data` into consecutive DER elements by their outer length; a tail that does not
/// parse as one is the last element, as it is.
fn split_der(mut data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while !data.is_empty() && out.len() < MAX_CHAIN {
        let len = der_element_len(data).unwrap_or(data.len()).min(data.len());
        let (element, rest) = data.split_at(len);
        out.push(element);
        data = rest;
    }
    out
}

/// The length of the DER element at the start of `data` (header and contents).
fn der_element_len(data: &[u8]) -> Option<usize> {
    let first = *data.get(1)?;
    if first < 0x80 {
        return Some(2 + usize::from(first));
    }
    let count = usize::from(first & 0x7f);
    if count == 0 || count > 4 {
        return None;
    }
    let bytes = data.get(2..2 + count)?;
    let len = bytes
        .iter()
        .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
    Some(2 + count + len)
}
