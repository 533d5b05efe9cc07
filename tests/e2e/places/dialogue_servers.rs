//! In-test servers that speak a protocol's plain-text dialogue, then hand the socket to
//! tokio-rustls — for the protocols Debian has no quick server for (FTP, LDAP, MySQL, XMPP) and
//! for misbehaviour real servers do not show on demand (no STARTTLS, endless lines).

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

/// FTP with a multi-line greeting and `AUTH TLS` answered by 234.
pub async fn ftp(chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> Server {
    serve(chain, key, |mut p| async move {
        say(
            &mut p,
            "220-Welcome to the test FTP service.\r\n Files are kept for 30 days.\r\n220 Ready\r\n",
        )
        .await?;
        let command = line(&mut p).await?;
        if command != "AUTH TLS" {
            say(&mut p, "500 unknown\r\n").await?;
            return Ok((p, false));
        }
        say(&mut p, "234 AUTH TLS successful\r\n").await?;
        Ok((p, true))
    })
    .await
}

/// LDAP answering the StartTLS extended operation with `result_code`; it parses the request as
/// a server would (messageID, ExtendedRequest, requestName) before answering.
pub async fn ldap(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    result_code: u8,
) -> Server {
    serve(chain, key, move |mut p| async move {
        let mut head = [0u8; 2];
        p.read_exact(&mut head).await?;
        assert_eq!(head[0], 0x30, "LDAPMessage is a SEQUENCE");
        let mut body = vec![0u8; head[1] as usize];
        p.read_exact(&mut body).await?;
        // messageID 1, then [APPLICATION 23] holding [0] requestName
        assert_eq!(&body[..3], &[0x02, 0x01, 0x01], "messageID 1");
        assert_eq!(body[3], 0x77, "ExtendedRequest");
        assert_eq!(body[5], 0x80, "requestName");
        assert_eq!(&body[7..], b"1.3.6.1.4.1.1466.20037");
        let diagnostic: &[u8] = if result_code == 0 {
            b""
        } else {
            b"unsupported extended operation"
        };
        let mut op = vec![
            0x0a,
            0x01,
            result_code,
            0x04,
            0x00,
            0x04,
            diagnostic.len() as u8,
        ];
        op.extend_from_slice(diagnostic);
        if result_code == 0 {
            op.push(0x8a);
            op.push(22);
            op.extend_from_slice(b"1.3.6.1.4.1.1466.20037");
        }
        let mut message = vec![0x02, 0x01, 0x01, 0x78, op.len() as u8];
        message.extend(op);
        let mut packet = vec![0x30, message.len() as u8];
        packet.extend(message);
        p.get_mut().write_all(&packet).await?;
        Ok((p, result_code == 0))
    })
    .await
}

/// MySQL 8 initial handshake, with or without the CLIENT_SSL capability; expects the 32-byte
/// SSLRequest with sequence number 1 and CLIENT_SSL set.
pub async fn mysql(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    offer_ssl: bool,
) -> Server {
    serve(chain, key, move |mut p| async move {
        let capabilities: u32 = 0x0000_a20f | if offer_ssl { 0x0800 } else { 0 } | 0x0008_0000;
        let mut payload = vec![10];
        payload.extend_from_slice(b"8.0.36-test\0");
        payload.extend_from_slice(&42u32.to_le_bytes());
        payload.extend_from_slice(b"12345678\0");
        payload.extend_from_slice(&(capabilities as u16).to_le_bytes());
        payload.push(255);
        payload.extend_from_slice(&2u16.to_le_bytes());
        payload.extend_from_slice(&((capabilities >> 16) as u16).to_le_bytes());
        payload.push(21);
        payload.extend_from_slice(&[0; 10]);
        payload.extend_from_slice(b"901234567890\0mysql_native_password\0");
        let mut packet = (payload.len() as u32).to_le_bytes()[..3].to_vec();
        packet.push(0);
        packet.extend(payload);
        p.get_mut().write_all(&packet).await?;
        if !offer_ssl {
            // The probe gives up without answering; wait for it to hang up.
            let mut rest = Vec::new();
            let _ = p.read_to_end(&mut rest).await;
            return Ok((p, false));
        }
        // The client starts TLS right after the SSLRequest, without waiting: read exactly
        // its 36 bytes from the socket so the ClientHello stays there for the TLS acceptor.
        let mut request = [0u8; 36];
        p.get_mut().read_exact(&mut request).await?;
        assert_eq!(&request[..4], &[32, 0, 0, 1], "SSLRequest header");
        let flags = u32::from_le_bytes([request[4], request[5], request[6], request[7]]);
        assert_ne!(flags & 0x0800, 0, "CLIENT_SSL");
        Ok((p, true))
    })
    .await
}

/// XMPP: checks the stream header names `domain`, offers STARTTLS among other features (or not)
/// and proceeds.
pub async fn xmpp(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    domain: &'static str,
    offer: bool,
) -> Server {
    serve(chain, key, move |mut p| async move {
        let header = read_to(&mut p, b"'http://etherx.jabber.org/streams'>").await?;
        assert!(header.contains(&format!("to='{domain}'")), "{header}");
        let starttls = if offer {
            "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>"
        } else {
            ""
        };
        say(
            &mut p,
            &format!(
                "<?xml version='1.0'?><stream:stream from='{domain}' id='s1' version='1.0' \
                 xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>\n\
                 <stream:features>{starttls}<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\
                 <mechanism>PLAIN</mechanism></mechanisms></stream:features>"
            ),
        )
        .await?;
        if !offer {
            let mut rest = Vec::new();
            let _ = p.read_to_end(&mut rest).await;
            return Ok((p, false));
        }
        let request = read_to(&mut p, b"/>").await?;
        assert!(
            request.contains("urn:ietf:params:xml:ns:xmpp-tls"),
            "{request}"
        );
        say(&mut p, "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>").await?;
        Ok((p, true))
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

/// Reads until `end` has been seen; returns what was read.
async fn read_to(p: &mut Plain, end: &[u8]) -> io::Result<String> {
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(end) {
        if p.read(&mut byte).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        got.push(byte[0]);
    }
    Ok(String::from_utf8_lossy(&got).into_owned())
}
