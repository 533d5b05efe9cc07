//! Real TLS servers for the probe to talk to: tokio-rustls in-process, one per test case, plus
//! a listener that never speaks ([`silent`]). Closed ports are in [`super::ports`].

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, SupportedProtocolVersion};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use super::pki::{Ca, Leaf, LeafSpec};

pub use super::server::Server;

/// How a TLS server should behave.
pub struct TlsOptions {
    pub versions: Vec<&'static SupportedProtocolVersion>,
    pub ocsp: Vec<u8>,
    /// When set, client certificates signed by this root are required.
    pub client_ca: Option<CertificateDer<'static>>,
    /// When set, only this SNI gets the certificate; others fail the handshake.
    pub only_sni: Option<String>,
    pub bind: &'static str,
}

impl Default for TlsOptions {
    fn default() -> Self {
        TlsOptions {
            versions: vec![&rustls::version::TLS13, &rustls::version::TLS12],
            ocsp: Vec::new(),
            client_ca: None,
            only_sni: None,
            bind: "127.0.0.1:0",
        }
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// The rustls server configuration for a chain and key.
pub fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    opts: &TlsOptions,
) -> ServerConfig {
    let builder = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&opts.versions)
        .expect("versions");
    let builder = match &opts.client_ca {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            roots.add(ca.clone()).expect("client ca");
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                .build()
                .expect("client verifier");
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    match &opts.only_sni {
        None => builder
            .with_single_cert_with_ocsp(chain, key, opts.ocsp.clone())
            .expect("server cert"),
        Some(name) => {
            let signing = provider()
                .key_provider
                .load_private_key(key)
                .expect("signing key");
            let certified = rustls::sign::CertifiedKey::new(chain, signing);
            let mut resolver = rustls::server::ResolvesServerCertUsingSni::new();
            resolver.add(name, certified).expect("sni name");
            builder.with_cert_resolver(Arc::new(resolver))
        }
    }
}

/// A TLS server for `shop.test` signed by a new root named `root_cn`, and a temp dir holding
/// that root as `ca.pem` and an empty `targets/` (the start of the startup and target-file
/// tests).
pub async fn shop_server(root_cn: &str) -> (Server, tempfile::TempDir) {
    let root = Ca::root(root_cn);
    let leaf = root.leaf(&LeafSpec::new("shop.test", 30));
    let dir = tempfile::tempdir().unwrap();
    super::write(dir.path(), "ca.pem", &root.pem());
    std::fs::create_dir(dir.path().join("targets")).unwrap();
    (serve_leaf(&leaf).await, dir)
}

/// Serves `leaf` alone (no intermediates) with the default options.
pub async fn serve_leaf(leaf: &Leaf) -> Server {
    tls(
        vec![leaf.der.clone()],
        leaf.private_key(),
        TlsOptions::default(),
    )
    .await
}

/// Serves TLS with `chain` and `key`: completes handshakes, answers one line, closes.
pub async fn tls(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    opts: TlsOptions,
) -> Server {
    serve(Arc::new(server_config(chain, key, &opts)), opts.bind).await
}

/// Serves `chain` exactly as given, even a leaf rustls cannot parse (an unknown critical
/// extension, a v1 certificate, bad DER): `server_config` would refuse it, since it compares the
/// leaf's key with `key`. The handshake is signed with `key` all the same.
pub async fn tls_as_is(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    opts: TlsOptions,
) -> Server {
    #[derive(Debug)]
    struct AsIs(Arc<rustls::sign::CertifiedKey>);
    impl rustls::server::ResolvesServerCert for AsIs {
        fn resolve(
            &self,
            _hello: rustls::server::ClientHello<'_>,
        ) -> Option<Arc<rustls::sign::CertifiedKey>> {
            Some(self.0.clone())
        }
    }
    let signing = provider()
        .key_provider
        .load_private_key(key)
        .expect("signing key");
    let certified = Arc::new(rustls::sign::CertifiedKey::new(chain, signing));
    let config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&opts.versions)
        .expect("versions")
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(AsIs(certified)));
    serve(Arc::new(config), opts.bind).await
}

/// Completes the TLS handshake on `stream`, says one line, and waits up to 5 s for the client
/// to close: what every in-test TLS server does once a connection is TLS.
pub async fn greet(acceptor: &TlsAcceptor, stream: TcpStream) {
    if let Ok(mut tls) = acceptor.accept(stream).await {
        let _ = tls.write_all(b"hello\n").await;
        let mut buf = [0u8; 64];
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), tls.read(&mut buf)).await;
    }
}

/// Accepts TLS with `config` on `bind`: completes handshakes, answers one line, closes.
async fn serve(config: Arc<ServerConfig>, bind: &str) -> Server {
    let listener = TcpListener::bind(bind).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let acceptor = TlsAcceptor::from(config);
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move { greet(&acceptor, stream).await });
        }
    });
    Server::from_task(addr, task)
}

/// Accepts connections and never says a word (holds them open).
pub async fn silent() -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    Server::from_task(addr, task)
}
