//! The TLS handshake, done so that the served chain is kept whatever happens.
//!
//! A normal rustls client aborts on an invalid certificate, and the chain is lost with it. Here a
//! [`Capture`] stands in as the certificate verifier: it records the chain and any stapled OCSP
//! response, and lets the handshake go on, so that an expired, self-signed or misnamed chain is
//! still read and judged afterwards on its own terms (see [`crate::x509::chain`]). The server's
//! handshake signature is still verified for real: a server that cannot prove it holds the key,
//! or whose key rustls refuses, fails the handshake, but its chain has been captured by then.
//! Checking that signature is also where rustls parses the leaf: a leaf it cannot parse fails
//! as [`MALFORMED_CERTIFICATE`], not as a key problem. A chain over rustls's 64 KiB limit for
//! one handshake message is refused unread ([`CERTIFICATE_TOO_LARGE`]).
//!
//! Session resumption is off, so every probe sees the certificates; a fresh [`Capture`] is made
//! per probe, so no probe sees another's chain.

use std::sync::{Arc, Mutex, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, Resumption};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::result::{ProbeFailure, TlsSession};

/// `cert_probe_error_info` reason: the server's handshake signature, or its key, was refused
/// (an RSA key under 2048 bits, a signature that does not verify, an unadvertised scheme).
pub const TLS_SERVER_SIGNATURE: &str = "tls_server_signature";
/// `cert_probe_error_info` reason: rustls cannot parse the leaf the server sent (an unknown
/// critical extension, an extension given twice, a v1 certificate, bad DER), so the
/// handshake signature cannot be checked against its key. The detail gives webpki's error.
pub const MALFORMED_CERTIFICATE: &str = "malformed_certificate";
/// `cert_probe_error_info` reason: a handshake message, in practice the server's Certificate
/// message (the whole chain), is over [`MAX_HANDSHAKE_MESSAGE`] bytes; rustls refuses it
/// unread, so no chain is reported.
pub const CERTIFICATE_TOO_LARGE: &str = "certificate_too_large";

/// The largest handshake message rustls accepts (its `MAX_HANDSHAKE_SIZE`, 64 KiB - 1). TLS
/// allows 16 MiB; rustls caps it against denial of service, and it is not configurable.
pub const MAX_HANDSHAKE_MESSAGE: usize = 0xffff;

/// The aws-lc-rs provider, made once. Built explicitly rather than installed process-wide so that
/// no other crate's choice of provider can make `ClientConfig::builder()` ambiguous.
pub fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .clone()
}

/// What the server showed during one handshake.
#[derive(Debug, Default)]
pub struct Captured {
    /// The certificates as sent, leaf first. Empty when none arrived.
    pub chain: Vec<CertificateDer<'static>>,
    /// The stapled OCSP response, empty when none was stapled.
    pub ocsp_response: Vec<u8>,
    /// Whether the server sent a CertificateRequest.
    pub client_cert_requested: bool,
    /// Whether a client certificate was sent in answer to it.
    pub client_cert_presented: bool,
}

/// Per-probe verifier and client-certificate resolver that records instead of judging.
#[derive(Debug)]
pub struct Capture {
    captured: Mutex<Captured>,
    algorithms: WebPkiSupportedAlgorithms,
    /// The client certificate to present when asked (mutual TLS), if the target has one.
    client_cert: Option<Arc<rustls::sign::CertifiedKey>>,
}

impl Capture {
    fn new(client_cert: Option<Arc<rustls::sign::CertifiedKey>>) -> Arc<Capture> {
        Arc::new(Capture {
            captured: Mutex::new(Captured::default()),
            algorithms: provider().signature_verification_algorithms,
            client_cert,
        })
    }

    /// Takes what was recorded.
    pub fn take(&self) -> Captured {
        std::mem::take(&mut *self.captured.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl ServerCertVerifier for Capture {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut captured = self.captured.lock().unwrap_or_else(|e| e.into_inner());
        captured.chain = std::iter::once(end_entity)
            .chain(intermediates)
            .map(|c| c.clone().into_owned())
            .collect();
        captured.ocsp_response = ocsp_response.to_vec();
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

impl ResolvesClientCert for Capture {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        let mut captured = self.captured.lock().unwrap_or_else(|e| e.into_inner());
        captured.client_cert_requested = true;
        captured.client_cert_presented = self.client_cert.is_some();
        self.client_cert.clone()
    }

    fn has_certs(&self) -> bool {
        self.client_cert.is_some()
    }
}

/// The client configuration every probe starts from (cloned, then given its own [`Capture`]).
fn base_config() -> &'static ClientConfig {
    static BASE: OnceLock<ClientConfig> = OnceLock::new();
    BASE.get_or_init(|| {
        let mut config = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(rustls::ALL_VERSIONS)
            .expect("aws-lc-rs supports TLS 1.2 and 1.3")
            .dangerous()
            .with_custom_certificate_verifier(Capture::new(None))
            .with_no_client_auth();
        config.resumption = Resumption::disabled();
        config
    })
}

/// The outcome of a handshake: the stream when it completed, and what was captured either way.
pub struct Handshake<S> {
    pub stream: Result<TlsStream<S>, ProbeFailure>,
    pub captured: Captured,
}

/// Runs a TLS handshake over `io` for `server_name` (SNI is not sent for IP literals).
pub async fn handshake<S>(
    io: S,
    server_name: &str,
    client_cert: Option<Arc<rustls::sign::CertifiedKey>>,
) -> Handshake<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let capture = Capture::new(client_cert);
    let mut config = base_config().clone();
    config.dangerous().set_certificate_verifier(capture.clone());
    config.client_auth_cert_resolver = capture.clone();
    let name = match ServerName::try_from(server_name.to_string()) {
        Ok(name) => name,
        Err(_) => {
            return Handshake {
                stream: Err(ProbeFailure::new(
                    "tls_handshake",
                    format!("{server_name:?} is not a valid server name"),
                )),
                captured: Captured::default(),
            }
        }
    };
    let result = TlsConnector::from(Arc::new(config)).connect(name, io).await;
    let captured = capture.take();
    Handshake {
        stream: result.map_err(|e| classify(&e, &captured)),
        captured,
    }
}

/// Describes the negotiated session of a completed handshake.
pub fn session<S>(stream: &TlsStream<S>) -> TlsSession {
    let (_, conn) = stream.get_ref();
    let version = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLS 1.3",
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLS 1.2",
        _ => "unknown",
    };
    TlsSession {
        version,
        cipher: conn
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()))
            .unwrap_or_default(),
        group: conn
            .negotiated_key_exchange_group()
            .map(|g| format!("{:?}", g.name()))
            .unwrap_or_default(),
    }
}

/// Turns a handshake error (or an alert read right after it) into a reason label.
pub(super) fn classify(e: &std::io::Error, captured: &Captured) -> ProbeFailure {
    use rustls::{AlertDescription as A, Error as E, PeerIncompatible as P};
    let detail = format!("TLS handshake: {e}");
    // Errors that are not rustls's own (closed or reset connections) are plain handshake failures.
    let Some(tls) = e.get_ref().and_then(|inner| inner.downcast_ref::<E>()) else {
        return ProbeFailure::new("tls_handshake", detail);
    };
    let reason = match tls {
        E::AlertReceived(A::ProtocolVersion) => "protocol_version",
        E::PeerIncompatible(
            P::ServerDoesNotSupportTls12Or13 | P::ServerTlsVersionIsDisabledByOurConfig,
        ) => "protocol_version",
        E::AlertReceived(A::CertificateRequired) => "client_cert_required",
        E::AlertReceived(alert)
            if captured.client_cert_requested && refuses_client_cert(*alert) =>
        {
            if captured.client_cert_presented {
                "client_cert_rejected"
            } else {
                "client_cert_required"
            }
        }
        E::InvalidMessage(rustls::InvalidMessage::HandshakePayloadTooLarge) => return too_large(),
        // The leaf is parsed only to check the handshake signature with its key: when that
        // parse fails, the certificate is at fault, not the key (webpki says why).
        E::InvalidCertificate(_) => match unparseable_leaf(captured) {
            Some(why) => {
                return ProbeFailure::new(
                    MALFORMED_CERTIFICATE,
                    format!("rustls cannot parse the server's certificate: {why}"),
                )
            }
            None => TLS_SERVER_SIGNATURE,
        },
        E::PeerMisbehaved(rustls::PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme) => {
            TLS_SERVER_SIGNATURE
        }
        _ => "tls_handshake",
    };
    ProbeFailure::new(reason, detail)
}

/// A handshake message over rustls's limit.
fn too_large() -> ProbeFailure {
    ProbeFailure::new(
        CERTIFICATE_TOO_LARGE,
        format!(
            "the server's certificate message (its whole chain) is over {} bytes (64 KiB), \
             the most rustls accepts in one handshake message; the chain cannot be read",
            thousands(MAX_HANDSHAKE_MESSAGE)
        ),
    )
}

/// `65535` as `65,535`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Why webpki cannot parse the captured leaf (the same parse rustls does before checking the
/// handshake signature), or `None` when it parses.
fn unparseable_leaf(captured: &Captured) -> Option<String> {
    let leaf = captured.chain.first()?;
    let error = webpki::EndEntityCert::try_from(leaf).err()?;
    use webpki::Error as W;
    let gloss = match &error {
        W::UnsupportedCriticalExtension => "an extension marked critical that rustls does not know",
        W::UnsupportedCertVersion => "only X.509 v3 certificates are accepted",
        W::ExtensionValueInvalid => "an extension is given twice or its value does not parse",
        W::BadDer | W::BadDerTime | W::TrailingData(_) => "not valid DER",
        _ => "",
    };
    Some(if gloss.is_empty() {
        error.to_string()
    } else {
        format!("{error} ({gloss})")
    })
}

/// Alerts a server sends when it will not take the client certificate it asked for (or its
/// absence).
fn refuses_client_cert(alert: rustls::AlertDescription) -> bool {
    use rustls::AlertDescription as A;
    matches!(
        alert,
        A::HandshakeFailure
            | A::BadCertificate
            | A::UnsupportedCertificate
            | A::CertificateRevoked
            | A::CertificateExpired
            | A::CertificateUnknown
            | A::UnknownCA
            | A::AccessDenied
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error as tokio-rustls returns it: the rustls error inside an `io::Error`.
    fn io(e: rustls::Error) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::InvalidData, e)
    }

    fn with_leaf(der: &[u8]) -> Captured {
        Captured {
            chain: vec![CertificateDer::from(der.to_vec())],
            ..Captured::default()
        }
    }

    #[test]
    fn an_oversized_handshake_message_is_certificate_too_large() {
        let e = io(rustls::Error::InvalidMessage(
            rustls::InvalidMessage::HandshakePayloadTooLarge,
        ));
        let f = classify(&e, &Captured::default());
        assert_eq!(f.reason, CERTIFICATE_TOO_LARGE);
        assert!(f.detail.contains("65,535 bytes"), "{}", f.detail);
    }

    #[test]
    fn a_certificate_error_is_malformed_only_when_the_leaf_does_not_parse() {
        let bad_encoding = || io(rustls::CertificateError::BadEncoding.into());
        // A leaf that is not DER at all: the parser's words, not the key's.
        let f = classify(&bad_encoding(), &with_leaf(&[0x30, 0x03, 0x02, 0x01]));
        assert_eq!(f.reason, MALFORMED_CERTIFICATE);
        assert!(f.detail.contains("(not valid DER)"), "{}", f.detail);
        // No leaf captured, or a leaf that parses: the signature or key was refused.
        let f = classify(&bad_encoding(), &Captured::default());
        assert_eq!(f.reason, TLS_SERVER_SIGNATURE);
        let key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec!["a.test".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let bad_signature = io(rustls::CertificateError::BadSignature.into());
        let f = classify(&bad_signature, &with_leaf(leaf.der()));
        assert_eq!(f.reason, TLS_SERVER_SIGNATURE);
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(65_535), "65,535");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }
}
