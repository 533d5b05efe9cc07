//! In-test servers that speak a protocol's plain-text dialogue, then hand the socket to
//! tokio-rustls — only for misbehaviour real servers do not show on demand (a refusal after
//! offering STARTTLS, endless lines, the wrong protocol). FTP, LDAP, MySQL and XMPP are tested
//! against real vsftpd, slapd, MariaDB and Prosody (`ftp_vsftpd.rs`, `ldap_slapd.rs`,
//! `mysql_mariadb.rs`, `xmpp_prosody.rs`), whose tests also cover "TLS not offered"; the
//! in-test servers for those four protocols were removed.

use std::future::Future;
use std::io;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::support::server::Server;
use crate::support::tls_server::{greet, server_config, TlsOptions};

/// The plain-text side of a connection: buffered reads, writes. The client only sends its TLS
/// ClientHello after the server's last plain-text word, so nothing is lost in the buffer when the
/// script hands the socket over.
pub type Plain = BufReader<TcpStream>;

/// Serves `script` on every connection; when it returns `Ok(true)` the connection continues as
/// TLS with `chain` and `key`, and the server says one line and closes.
pub async fn serve<F, Fut>(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    script: F,
) -> Server
where
    F: Fn(Plain) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = io::Result<(Plain, bool)>> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    serve_on(listener, chain, key, script)
}

/// Like [`serve`], on a listener the caller bound.
pub fn serve_on<F, Fut>(
    listener: TcpListener,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    script: F,
) -> Server
where
    F: Fn(Plain) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = io::Result<(Plain, bool)>> + Send + 'static,
{
    let config = Arc::new(server_config(chain, key, &TlsOptions::default()));
    let acceptor = TlsAcceptor::from(config);
    let addr = listener.local_addr().expect("addr");
    let script = Arc::new(script);
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let script = script.clone();
            tokio::spawn(async move {
                let Ok((plain, upgrade)) = script(BufReader::new(stream)).await else {
                    return;
                };
                if !upgrade {
                    return;
                }
                assert!(plain.buffer().is_empty(), "client sent data before TLS");
                greet(&acceptor, plain.into_inner()).await;
            });
        }
    });
    Server::from_task(addr, task)
}

/// Reads one line, without its line end.
pub async fn line(plain: &mut Plain) -> io::Result<String> {
    let mut text = String::new();
    plain.read_line(&mut text).await?;
    Ok(text.trim_end_matches(['\r', '\n']).to_string())
}

/// Writes `text` as it is.
pub async fn say(plain: &mut Plain, text: &str) -> io::Result<()> {
    plain.get_mut().write_all(text.as_bytes()).await
}

/// SMTP with a multi-line greeting and capability list; `offer` decides whether STARTTLS is in
/// the list, `answer` is the reply to STARTTLS.
pub async fn smtp(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    offer: bool,
    answer: &'static str,
) -> Server {
    serve(chain, key, move |mut p| async move {
        say(
            &mut p,
            "220-mx.test ESMTP\r\n220-This server keeps logs.\r\n220 Go ahead\r\n",
        )
        .await?;
        let ehlo = line(&mut p).await?;
        assert!(ehlo.starts_with("EHLO "), "{ehlo}");
        let tls = if offer { "250-STARTTLS\r\n" } else { "" };
        say(
            &mut p,
            &format!("250-mx.test greets you\r\n250-PIPELINING\r\n{tls}250-SIZE 10240000\r\n250 8BITMIME\r\n"),
        )
        .await?;
        let command = line(&mut p).await?;
        if command != "STARTTLS" {
            say(&mut p, "221 bye\r\n").await?;
            return Ok((p, false));
        }
        say(&mut p, answer).await?;
        Ok((p, answer.starts_with("220")))
    })
    .await
}

/// PostgreSQL with SSL off: answers the SSLRequest with `N`.
pub async fn postgres_without_ssl(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Server {
    serve(chain, key, |mut p| async move {
        let mut request = [0u8; 8];
        p.read_exact(&mut request).await?;
        assert_eq!(request, [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
        p.get_mut().write_all(b"N").await?;
        let mut rest = Vec::new();
        let _ = p.read_to_end(&mut rest).await;
        Ok((p, false))
    })
    .await
}

/// A "server" whose greeting is one endless line: the probe must give up on size, not time.
pub async fn endless_line(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Server {
    serve(chain, key, |mut p| async move {
        let chunk = vec![b'a'; 8192];
        say(&mut p, "220-").await?;
        // Until the probe hangs up (bounded, so a broken probe cannot keep this busy forever).
        for _ in 0..10_000 {
            if p.get_mut().write_all(&chunk).await.is_err() {
                break;
            }
        }
        Ok((p, false))
    })
    .await
}
