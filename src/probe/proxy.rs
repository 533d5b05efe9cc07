//! HTTP CONNECT proxies: the probe connects to the proxy, asks it to open a tunnel to the
//! target's `host:port` (so the proxy resolves the name, as it would for any client behind it),
//! and runs the rest of the probe — STARTTLS, handshake — through that tunnel.
//!
//! The proxy's answer is read one byte at a time up to the blank line: the target may speak first
//! (an SMTP greeting), and its bytes must stay in the socket for the next stage. The answer is
//! bounded to [`MAX_ANSWER`] bytes.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::reason::{ProbeFailure, ProbeReason};
use crate::config::{Address, ProxyUrl};

/// The most bytes of the proxy's answer (status line and headers) that are read.
pub const MAX_ANSWER: usize = 16 * 1024;

/// Asks the proxy at the other end of `stream` for a tunnel to `target`. On success the stream
/// carries the target's bytes.
pub async fn open_tunnel<S>(
    stream: &mut S,
    proxy: &ProxyUrl,
    target: &Address,
) -> Result<(), ProbeFailure>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    if let Some(c) = &proxy.credentials {
        let token = base64(format!("{}:{}", c.user, c.password).as_bytes());
        request.push_str(&format!("Proxy-Authorization: Basic {token}\r\n"));
    }
    request.push_str("\r\n");
    let unreachable = |e: std::io::Error| {
        ProbeFailure::new(
            ProbeReason::ProxyConnect,
            format!("talking to proxy {}: {e}", proxy.address),
        )
    };
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(unreachable)?;
    stream.flush().await.map_err(unreachable)?;

    let answer = read_answer(stream).await.map_err(|e| match e {
        AnswerError::Io(e) => unreachable(e),
        AnswerError::Closed(got) => ProbeFailure::new(
            ProbeReason::ProxyRefused,
            format!(
                "proxy {} closed the connection without answering CONNECT {target} ({} bytes)",
                proxy.address,
                got.len()
            ),
        ),
        AnswerError::TooLong => ProbeFailure::new(
            ProbeReason::ProxyRefused,
            format!(
                "proxy {}: answer to CONNECT longer than {MAX_ANSWER} bytes",
                proxy.address
            ),
        ),
    })?;
    let status_line = answer.lines().next().unwrap_or("");
    let status = status_line
        .strip_prefix("HTTP/1.")
        .and_then(|rest| rest.get(2..5))
        .and_then(|code| code.parse::<u16>().ok());
    match status {
        Some(200..=299) => Ok(()),
        _ => Err(ProbeFailure::new(
            ProbeReason::ProxyRefused,
            format!(
                "proxy {} answered CONNECT {target} with {:?}",
                proxy.address,
                status_line.chars().take(200).collect::<String>()
            ),
        )),
    }
}

/// Why no complete answer to CONNECT was read.
enum AnswerError {
    /// The connection failed.
    Io(std::io::Error),
    /// The proxy closed the connection after sending these bytes.
    Closed(Vec<u8>),
    /// The answer exceeded [`MAX_ANSWER`].
    TooLong,
}

/// Reads the status line and headers, up to and including the blank line, and no further.
async fn read_answer<S>(stream: &mut S) -> Result<String, AnswerError>
where
    S: AsyncRead + Unpin,
{
    let mut answer = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    while !answer.ends_with(b"\r\n\r\n") && !answer.ends_with(b"\n\n") {
        if answer.len() >= MAX_ANSWER {
            return Err(AnswerError::TooLong);
        }
        match stream.read(&mut byte).await {
            Ok(0) => return Err(AnswerError::Closed(answer)),
            Ok(_) => answer.push(byte[0]),
            Err(e) => return Err(AnswerError::Io(e)),
        }
    }
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

/// Standard base64 with padding (RFC 4648), for the Basic credentials.
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("Aladdin:open sesame", "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[tokio::test]
    async fn the_answer_is_read_up_to_the_blank_line_only() {
        let (mut client, mut server) = tokio::io::duplex(4096);
        server
            .write_all(b"HTTP/1.1 200 Connection established\r\nVia: x\r\n\r\n220 greeting\r\n")
            .await
            .unwrap();
        let answer = read_answer(&mut client).await.ok().unwrap();
        assert!(answer.ends_with("Via: x\r\n\r\n"));
        let mut rest = [0u8; 14];
        client.read_exact(&mut rest).await.unwrap();
        assert_eq!(&rest, b"220 greeting\r\n");
    }
}
