//! Mutual TLS at probe time: the server's verdict on the client certificate a target presents.
//!
//! The certificate and key themselves are a [`crate::x509::client_identity::ClientIdentity`],
//! loaded with the configuration.
//!
//! In TLS 1.3 the client's certificate travels in its last flight, after which the client
//! considers the handshake done: a server that refuses the certificate (or its absence) says so
//! only afterwards, with an alert. [`await_verdict`] waits briefly for that answer.

use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;
use tokio_rustls::client::TlsStream;

/// How long to wait, at most, for a TLS 1.3 server's verdict on the client certificate. Servers
/// answer within a round trip (session tickets when they accept, an alert when they refuse); the
/// cap only matters for a server that accepts and then stays silent.
pub const VERDICT_WAIT: Duration = Duration::from_secs(1);

/// After a TLS 1.3 handshake in which the server asked for a client certificate, waits for the
/// server's first word: session tickets, data or a close mean it accepted; an alert means it
/// refused (the error is returned for classification). Bounded by [`VERDICT_WAIT`] and `deadline`.
pub async fn await_verdict<S>(stream: &mut TlsStream<S>, deadline: Instant) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let until = deadline.min(Instant::now() + VERDICT_WAIT);
    match tokio::time::timeout_at(until, first_word(stream)).await {
        Ok(verdict) => verdict,
        Err(_) => Ok(()),
    }
}

/// Resolves as soon as the server has said anything: session tickets (which carry no
/// application data, so a plain read would not return for them), data, a close or an alert.
/// Driven by the socket's readiness: each time bytes arrive, the stream is polled once, rustls
/// processes every record read, and the ticket count is looked at right after — no timer.
fn first_word<'a, S>(
    stream: &'a mut TlsStream<S>,
) -> impl std::future::Future<Output = std::io::Result<()>> + 'a
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut byte = [0u8; 1];
    std::future::poll_fn(move |cx| {
        let mut buf = ReadBuf::new(&mut byte);
        // A pending read leaves records already read in the rustls buffer, and has registered
        // the socket's waker.
        match Pin::new(&mut *stream).poll_read(cx, &mut buf) {
            Poll::Ready(read) => Poll::Ready(read),
            Poll::Pending if stream.get_ref().1.tls13_tickets_received() > 0 => Poll::Ready(Ok(())),
            Poll::Pending => Poll::Pending,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::sync::Arc;

    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
    use rustls::server::WebPkiClientVerifier;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

    /// A root and a leaf for `a.test` signed by it: (root DER, leaf DER, leaf key).
    fn pki() -> (Vec<u8>, Vec<u8>, PrivateKeyDer<'static>) {
        let root_key = KeyPair::generate().unwrap();
        let mut root = CertificateParams::new(Vec::<String>::new()).unwrap();
        root.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let root_der = root.self_signed(&root_key).unwrap().der().to_vec();
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["a.test".to_string()])
            .unwrap()
            .signed_by(&leaf_key, &Issuer::from_params(&root, &root_key))
            .unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        (root_der, leaf.der().to_vec(), key)
    }

    /// Moves what `server` has to send into `pipe`.
    async fn flush(server: &mut rustls::ServerConnection, pipe: &mut DuplexStream) {
        let mut out = Vec::new();
        while server.wants_write() {
            server.write_tls(&mut out).unwrap();
        }
        pipe.write_all(&out).await.unwrap();
    }

    /// Polls `future` once.
    async fn poll_once<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
        std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *future).poll(cx))).await
    }

    /// A TLS 1.3 server that asks for a client certificate (and accepts none) sends its
    /// session tickets only after the client is done. The test hands them over by hand, after
    /// the wait has started and found nothing: the wait must end on the very next poll, woken
    /// by the bytes. A wait that looks at the ticket count on a timer is still pending then.
    #[tokio::test]
    async fn the_wait_ends_when_the_tickets_arrive_not_on_a_tick() {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let (root, leaf, key) = pki();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(root.into()).unwrap();
        let roots = Arc::new(roots);
        let verifier = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
            .allow_unauthenticated()
            .build()
            .unwrap();
        let server_config = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(vec![leaf.into()], key)
            .unwrap();
        let mut server = rustls::ServerConnection::new(Arc::new(server_config)).unwrap();
        let client_config = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let (client_io, mut pipe) = tokio::io::duplex(1 << 16);
        let connect = tokio_rustls::TlsConnector::from(Arc::new(client_config))
            .connect(ServerName::try_from("a.test").unwrap(), client_io);
        // The server's side, driven by hand until the client's Finished is in; what it has to
        // say then (the tickets) stays in its buffer.
        let serve = async {
            let mut buf = vec![0u8; 1 << 16];
            while server.is_handshaking() {
                let n = pipe.read(&mut buf).await.unwrap();
                assert_ne!(n, 0, "the client hung up during the handshake");
                let mut bytes = &buf[..n];
                while !bytes.is_empty() {
                    server.read_tls(&mut bytes).unwrap();
                }
                server.process_new_packets().unwrap();
                if server.is_handshaking() {
                    flush(&mut server, &mut pipe).await;
                }
            }
        };
        let (client, ()) = tokio::join!(connect, serve);
        let mut client = client.unwrap();
        assert!(server.wants_write(), "the server has tickets to send");

        let deadline = Instant::now() + Duration::from_secs(30);
        let mut wait = Box::pin(await_verdict(&mut client, deadline));
        assert!(poll_once(&mut wait).await.is_pending(), "nothing sent yet");
        flush(&mut server, &mut pipe).await;
        match poll_once(&mut wait).await {
            Poll::Ready(verdict) => verdict.unwrap(),
            Poll::Pending => panic!("the tickets arrived but the wait did not end"),
        }
        drop(wait);
        assert!(client.get_ref().1.tls13_tickets_received() > 0);
    }
}
