//! The TLS handshake, done so that the served chain is kept whatever happens.
//!
//! A normal rustls client aborts on an invalid certificate, and the chain is lost with it. Here a
//! [`Capture`] stands in as the certificate verifier: it records the chain and any stapled OCSP
//! response, and lets the handshake go on, so that an expired, self-signed or misnamed chain is
//! still read and judged afterwards on its own terms (see [`crate::x509::chain`]). The server's
//! handshake signature is still verified for real: a server that cannot prove it holds the key,
//! or whose key rustls refuses, fails the handshake, but its chain has been captured by then.
//! Checking that signature is also where rustls parses the leaf: a leaf it cannot parse fails
//! as [`ProbeReason::MalformedCertificate`], not as a key problem. A chain over rustls's 64 KiB limit for
//! one handshake message fails as [`ProbeReason::CertificateTooLarge`]; over TLS 1.2, where it travels
//! unencrypted, a [`Recorder`] under the handshake lets it be read all the same.
//!
//! Session resumption is off, so every probe sees the certificates; a fresh [`Capture`] is made
//! per probe, so no probe sees another's chain.

use std::sync::{Arc, Mutex, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, Resumption};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::reason::{ProbeFailure, ProbeReason};
use super::result::{TlsSession, TlsVersion};

/// The largest handshake message rustls accepts (its `MAX_HANDSHAKE_SIZE`, 64 KiB - 1). TLS
/// allows 16 MiB; rustls caps it against denial of service, and it is not configurable.
pub const MAX_HANDSHAKE_MESSAGE: usize = 0xffff;

use crate::tls_provider::{probe_provider, provider};

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
    /// The signature schemes offered in the hello (its `signature_algorithms`), when not every
    /// one the provider verifies: how a server with several certificates is made to show
    /// another ([`super::leaves`]).
    offered: Option<Vec<SignatureScheme>>,
}

impl Capture {
    fn new(
        client_cert: Option<Arc<rustls::sign::CertifiedKey>>,
        offered: Option<&[SignatureScheme]>,
    ) -> Arc<Capture> {
        Arc::new(Capture {
            captured: Mutex::new(Captured::default()),
            algorithms: provider().signature_verification_algorithms,
            client_cert,
            offered: offered.map(<[SignatureScheme]>::to_vec),
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
        let all = self.algorithms.supported_schemes();
        match &self.offered {
            Some(offered) => all.into_iter().filter(|s| offered.contains(s)).collect(),
            None => all,
        }
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
        let mut config = ClientConfig::builder_with_provider(probe_provider())
            .with_protocol_versions(rustls::ALL_VERSIONS)
            .expect("aws-lc-rs supports TLS 1.2 and 1.3")
            .dangerous()
            .with_custom_certificate_verifier(Capture::new(None, None))
            .with_no_client_auth();
        config.resumption = Resumption::disabled();
        config
    })
}

/// The outcome of a handshake: the stream when it completed, and what was captured either way.
pub struct Handshake<S> {
    /// The stream once the handshake completed (kept open to hear the server's verdict on a
    /// client certificate), or why it failed.
    pub stream: Result<TlsStream<Recorder<S>>, ProbeFailure>,
    /// The chain and stapled OCSP response as sent, kept even when the handshake failed so
    /// that a refused chain can still be judged and reported.
    pub captured: Captured,
}

/// Runs a TLS handshake over `io` for `server_name` (SNI is not sent for IP literals). A
/// TLS 1.2 chain over rustls's limit is read past it, until `deadline`.
pub async fn handshake<S>(
    io: S,
    server_name: &str,
    client_cert: Option<Arc<rustls::sign::CertifiedKey>>,
    deadline: tokio::time::Instant,
) -> Handshake<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    handshake_offering(io, server_name, client_cert, deadline, None).await
}

/// [`handshake`], offering only those of the provider's signature schemes that are in
/// `offered` (every one when `None`): a server with an RSA and an ECDSA certificate picks
/// the one the client's schemes allow.
pub async fn handshake_offering<S>(
    io: S,
    server_name: &str,
    client_cert: Option<Arc<rustls::sign::CertifiedKey>>,
    deadline: tokio::time::Instant,
    offered: Option<&[SignatureScheme]>,
) -> Handshake<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let capture = Capture::new(client_cert, offered);
    let mut config = base_config().clone();
    config.dangerous().set_certificate_verifier(capture.clone());
    config.client_auth_cert_resolver = capture.clone();
    let name = match ServerName::try_from(server_name.to_string()) {
        Ok(name) => name,
        Err(_) => {
            return Handshake {
                stream: Err(ProbeFailure::new(
                    ProbeReason::TlsHandshake,
                    format!("{server_name:?} is not a valid server name"),
                )),
                captured: Captured::default(),
            }
        }
    };
    let result = TlsConnector::from(Arc::new(config))
        .connect(name, Recorder::new(io))
        .into_fallible()
        .await;
    let mut captured = capture.take();
    let stream = match result {
        Ok(mut stream) => {
            stream.get_mut().0.stop();
            Ok(stream)
        }
        Err((e, mut io)) => {
            let mut failure = classify(&e, &captured);
            if failure.reason == ProbeReason::CertificateTooLarge && captured.chain.is_empty() {
                if let Some(chain) = oversized::read_tls12_chain(&mut io, deadline).await {
                    captured.chain = chain;
                    failure.detail.push_str(
                        "; the chain was read past the limit all the same (TLS 1.2 sends it \
                         unencrypted), but rustls clients cannot connect",
                    );
                }
            }
            Err(failure)
        }
    };
    Handshake { stream, captured }
}

/// Describes the negotiated session of a completed handshake.
pub fn session<S>(stream: &TlsStream<S>) -> TlsSession {
    let (_, conn) = stream.get_ref();
    let version = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => TlsVersion::Tls13,
        Some(rustls::ProtocolVersion::TLSv1_2) => TlsVersion::Tls12,
        _ => TlsVersion::Unknown,
    };
    TlsSession {
        version,
        // rustls's names as its `Debug` writes them, without a copy per probe.
        cipher: conn
            .negotiated_cipher_suite()
            .map(|s| match s.suite().as_str() {
                Some(name) => name.into(),
                None => format!("{:?}", s.suite()).into(),
            })
            .unwrap_or_default(),
        group: conn
            .negotiated_key_exchange_group()
            .map(|g| match g.name().as_str() {
                Some(name) => name.into(),
                None => format!("{:?}", g.name()).into(),
            })
            .unwrap_or_default(),
    }
}

/// Turns a handshake error (or an alert read right after it) into a reason label.
pub(super) fn classify(e: &std::io::Error, captured: &Captured) -> ProbeFailure {
    use rustls::{AlertDescription as A, Error as E, PeerIncompatible as P};
    let detail = format!("TLS handshake: {e}");
    // Errors that are not rustls's own (closed or reset connections) are plain handshake failures.
    let Some(tls) = e.get_ref().and_then(|inner| inner.downcast_ref::<E>()) else {
        return ProbeFailure::new(ProbeReason::TlsHandshake, detail);
    };
    let reason = match tls {
        E::AlertReceived(A::ProtocolVersion) => ProbeReason::ProtocolVersion,
        E::PeerIncompatible(
            P::ServerDoesNotSupportTls12Or13 | P::ServerTlsVersionIsDisabledByOurConfig,
        ) => ProbeReason::ProtocolVersion,
        E::AlertReceived(A::CertificateRequired) => ProbeReason::ClientCertRequired,
        E::AlertReceived(alert)
            if captured.client_cert_requested && refuses_client_cert(*alert) =>
        {
            if captured.client_cert_presented {
                ProbeReason::ClientCertRejected
            } else {
                ProbeReason::ClientCertRequired
            }
        }
        E::InvalidMessage(rustls::InvalidMessage::HandshakePayloadTooLarge) => return too_large(),
        // The leaf is parsed only to check the handshake signature with its key: when that
        // parse fails, the certificate is at fault, not the key (webpki says why).
        E::InvalidCertificate(_) => match unparseable_leaf(captured) {
            Some(why) => {
                return ProbeFailure::new(
                    ProbeReason::MalformedCertificate,
                    format!("rustls cannot parse the server's certificate: {why}"),
                )
            }
            None => ProbeReason::TlsServerSignature,
        },
        E::PeerMisbehaved(rustls::PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme) => {
            ProbeReason::TlsServerSignature
        }
        _ => ProbeReason::TlsHandshake,
    };
    ProbeFailure::new(reason, detail)
}

/// The connection under a handshake: it passes everything through and keeps a copy of what
/// the server sent (up to [`oversized::MAX_RECORDED`] bytes) until the handshake is over, so
/// that a TLS 1.2 Certificate message rustls refuses as too large can still be read.
pub struct Recorder<S> {
    inner: S,
    seen: Option<Vec<u8>>,
}

impl<S> Recorder<S> {
    fn new(inner: S) -> Recorder<S> {
        Recorder {
            inner,
            seen: Some(Vec::new()),
        }
    }

    /// Stops recording and frees the copy.
    fn stop(&mut self) {
        self.seen = None;
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Recorder<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        let poll = std::pin::Pin::new(&mut this.inner).poll_read(cx, buf);
        if let (std::task::Poll::Ready(Ok(())), Some(seen)) = (&poll, &mut this.seen) {
            let new = &buf.filled()[before..];
            if seen.len() + new.len() > oversized::MAX_RECORDED {
                this.seen = None;
            } else {
                seen.extend_from_slice(new);
            }
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Recorder<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Reading a TLS 1.2 Certificate message that rustls refused as too large, from the bytes the
/// [`Recorder`] kept and what the server sends after them. TLS 1.2 sends the ServerHello and
/// the Certificate message unencrypted; TLS 1.3 encrypts the Certificate, and nothing can be
/// read there.
mod oversized {
    use rustls::pki_types::CertificateDer;
    use tokio::io::{AsyncRead, AsyncReadExt};

    use super::Recorder;

    /// Most bytes of the server's first flight recorded during a handshake. rustls gives up
    /// on the first record of an oversized message, so far less than this is needed.
    pub const MAX_RECORDED: usize = 128 * 1024;
    /// The largest Certificate message read past rustls's limit: 256 KiB is thousands of
    /// names; more, and a hostile server could make every probe in flight hold megabytes.
    pub const MAX_MESSAGE: usize = 256 * 1024;
    /// Most bytes read from the server in all to recover a chain: the message, its record
    /// headers and the ServerHello before it.
    pub const MAX_READ: usize = MAX_MESSAGE + 16 * 1024;

    /// What the bytes so far say about a Certificate message.
    #[derive(Debug, PartialEq)]
    pub enum Scan {
        /// The chain it holds, leaf first.
        Found(Vec<CertificateDer<'static>>),
        /// Not all of it has arrived yet.
        NeedMore,
        /// There is none to read: encrypted (TLS 1.3), malformed, or the flight ended.
        Hopeless,
    }

    /// Reads on from where rustls stopped until the Certificate message is whole (at most
    /// [`MAX_READ`] bytes, until `deadline`), and returns its chain.
    pub async fn read_tls12_chain<S: AsyncRead + Unpin>(
        io: &mut Recorder<S>,
        deadline: tokio::time::Instant,
    ) -> Option<Vec<CertificateDer<'static>>> {
        let mut bytes = io.seen.take()?;
        // Stop a little before the probe's own deadline, so that the probe reports this
        // failure rather than a timeout.
        let until = deadline.checked_sub(std::time::Duration::from_millis(100))?;
        let inner = &mut io.inner;
        let read = async move {
            let mut chunk = vec![0u8; 64 * 1024];
            loop {
                match scan(&bytes) {
                    Scan::Found(chain) => return Some(chain),
                    Scan::Hopeless => return None,
                    Scan::NeedMore if bytes.len() >= MAX_READ => return None,
                    Scan::NeedMore => {}
                }
                let n = inner.read(&mut chunk).await.ok()?;
                if n == 0 {
                    return None;
                }
                bytes.extend_from_slice(&chunk[..n]);
            }
        };
        tokio::time::timeout_at(until, read).await.ok().flatten()
    }

    /// Looks for a TLS 1.2 Certificate message in the server's bytes: the handshake messages
    /// of its plaintext handshake records, up to the first record of another type.
    pub fn scan(bytes: &[u8]) -> Scan {
        let mut handshake = Vec::new();
        let mut rest = bytes;
        let mut ended = false;
        while rest.len() >= 5 {
            let length = usize::from(u16::from_be_bytes([rest[3], rest[4]]));
            if rest[0] != 22 {
                // ChangeCipherSpec, an alert, encrypted data: no plaintext Certificate follows.
                ended = true;
                break;
            }
            let Some(body) = rest.get(5..5 + length) else {
                break;
            };
            handshake.extend_from_slice(body);
            rest = &rest[5 + length..];
        }
        let mut messages = handshake.as_slice();
        loop {
            if messages.len() < 4 {
                return if ended {
                    Scan::Hopeless
                } else {
                    Scan::NeedMore
                };
            }
            let length = u24(&messages[1..4]);
            if length > MAX_MESSAGE {
                return Scan::Hopeless;
            }
            let Some(body) = messages.get(4..4 + length) else {
                return if ended {
                    Scan::Hopeless
                } else {
                    Scan::NeedMore
                };
            };
            match messages[0] {
                // Certificate
                11 => return certificate_list(body).map_or(Scan::Hopeless, Scan::Found),
                // ServerHello (and HelloRequest): a Certificate may follow.
                0 | 2 => messages = &messages[4 + length..],
                // Anything else comes after where the Certificate would have been.
                _ => return Scan::Hopeless,
            }
        }
    }

    /// The certificates of a TLS 1.2 Certificate message body: a 24-bit length, then each
    /// certificate with a 24-bit length. `None` when the lengths do not add up or it is empty.
    fn certificate_list(body: &[u8]) -> Option<Vec<CertificateDer<'static>>> {
        let list = body.get(3..)?;
        if u24(body.get(..3)?) != list.len() {
            return None;
        }
        let mut rest = list;
        let mut chain = Vec::new();
        while !rest.is_empty() {
            let length = u24(rest.get(..3)?);
            chain.push(CertificateDer::from(rest.get(3..3 + length)?.to_vec()));
            rest = &rest[3 + length..];
        }
        (!chain.is_empty()).then_some(chain)
    }

    fn u24(b: &[u8]) -> usize {
        (usize::from(b[0]) << 16) | (usize::from(b[1]) << 8) | usize::from(b[2])
    }
}

/// A handshake message over rustls's limit.
fn too_large() -> ProbeFailure {
    ProbeFailure::new(
        ProbeReason::CertificateTooLarge,
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
        assert_eq!(f.reason, ProbeReason::CertificateTooLarge);
        assert!(f.detail.contains("65,535 bytes"), "{}", f.detail);
    }

    #[test]
    fn a_certificate_error_is_malformed_only_when_the_leaf_does_not_parse() {
        let bad_encoding = || io(rustls::CertificateError::BadEncoding.into());
        // A leaf that is not DER at all: the parser's words, not the key's.
        let f = classify(&bad_encoding(), &with_leaf(&[0x30, 0x03, 0x02, 0x01]));
        assert_eq!(f.reason, ProbeReason::MalformedCertificate);
        assert!(f.detail.contains("(not valid DER)"), "{}", f.detail);
        // No leaf captured, or a leaf that parses: the signature or key was refused.
        let f = classify(&bad_encoding(), &Captured::default());
        assert_eq!(f.reason, ProbeReason::TlsServerSignature);
        let key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec!["a.test".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let bad_signature = io(rustls::CertificateError::BadSignature.into());
        let f = classify(&bad_signature, &with_leaf(leaf.der()));
        assert_eq!(f.reason, ProbeReason::TlsServerSignature);
    }

    /// A TLS record of `kind` holding `body`.
    fn record(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut r = vec![kind, 3, 3, (body.len() >> 8) as u8, body.len() as u8];
        r.extend_from_slice(body);
        r
    }

    /// A handshake message of `kind` holding `body`.
    fn message(kind: u8, body: &[u8]) -> Vec<u8> {
        let n = body.len();
        let mut m = vec![kind, (n >> 16) as u8, (n >> 8) as u8, n as u8];
        m.extend_from_slice(body);
        m
    }

    /// A TLS 1.2 Certificate message body holding `certs`.
    fn certificate_body(certs: &[&[u8]]) -> Vec<u8> {
        let mut list = Vec::new();
        for c in certs {
            let n = c.len();
            list.extend([(n >> 16) as u8, (n >> 8) as u8, n as u8]);
            list.extend_from_slice(c);
        }
        let n = list.len();
        let mut body = vec![(n >> 16) as u8, (n >> 8) as u8, n as u8];
        body.extend(list);
        body
    }

    #[test]
    fn a_tls12_certificate_message_is_found_across_records() {
        use oversized::{scan, Scan};
        let mut flight = message(2, &[0u8; 40]);
        flight.extend(message(11, &certificate_body(&[b"leaf", b"intermediate"])));
        flight.extend(message(14, &[]));
        // Split into records of 7 bytes: every prefix needs more, the whole finds it.
        let bytes: Vec<u8> = flight.chunks(7).flat_map(|c| record(22, c)).collect();
        for cut in 0..bytes.len() - 5 {
            if let Scan::Found(chain) = scan(&bytes[..cut]) {
                // Found only once the Certificate message is whole.
                assert_eq!(chain.len(), 2, "cut at {cut}");
            }
        }
        let Scan::Found(chain) = scan(&bytes) else {
            panic!("not found");
        };
        assert_eq!(chain[0].as_ref(), b"leaf");
        assert_eq!(chain[1].as_ref(), b"intermediate");
        assert_eq!(scan(&bytes[..20]), Scan::NeedMore);
    }

    #[test]
    fn no_chain_is_read_from_what_is_not_a_plaintext_certificate_message() {
        use oversized::{scan, Scan};
        let hello = message(2, &[0u8; 40]);
        // TLS 1.3: after the ServerHello, ChangeCipherSpec and encrypted records.
        let mut tls13 = record(22, &hello);
        tls13.extend(record(20, &[1]));
        tls13.extend(record(23, &[0u8; 100]));
        assert_eq!(scan(&tls13), Scan::Hopeless);
        // Lengths that do not add up, an empty list, a message out of place.
        let mut bad_list = certificate_body(&[b"leaf"]);
        bad_list[2] += 1;
        for body in [
            message(11, &bad_list),
            message(11, &certificate_body(&[])),
            message(14, &[]),
        ] {
            let mut flight = hello.clone();
            flight.extend(body);
            assert_eq!(scan(&record(22, &flight)), Scan::Hopeless);
        }
        // Random bytes never panic, whatever they claim.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..2000 {
            let len = (seed % 300) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    // Mostly handshake records and messages, to get past the first checks.
                    match seed % 4 {
                        0 => 22,
                        1 => 11,
                        2 => 0,
                        _ => (seed >> 8) as u8,
                    }
                })
                .collect();
            let _ = scan(&bytes);
        }
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(65_535), "65,535");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }
}
