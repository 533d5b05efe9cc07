//! STARTTLS: the plain-text dialogue that turns a mail, directory, database or chat connection
//! into a TLS one, before the usual handshake ([`super::tls::handshake`]).
//!
//! One file per protocol, each a short script over a [`Dialogue`]: the shared, bounded reader.
//! Every read is limited in size — one line at most [`MAX_LINE`] bytes, the whole dialogue at most
//! [`MAX_DIALOGUE`] — so a hostile or confused server cannot make the probe buffer without end;
//! the caller runs the dialogue under the probe's deadline, so it cannot take longer either.
//!
//! Three reasons come out of here: `starttls_unsupported` when the server plainly does not offer
//! TLS (no STARTTLS capability, `N` to an SSLRequest, …), `starttls_refused` when it refuses this
//! client in its protocol's own words (an XMPP stream error, a MySQL error packet), and
//! `starttls` for anything unexpected, with what the server said in the detail.

mod ftp;
mod imap;
mod ldap;
mod mysql;
mod pop3;
mod postgres;
mod smtp;
mod xmpp;

use std::fmt;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::reason::{ProbeFailure, ProbeReason};
use crate::config::Starttls;

/// The longest line (or XML tag, or binary message) accepted from the server.
pub const MAX_LINE: usize = 4096;
/// The most bytes accepted from the server over the whole dialogue.
pub const MAX_DIALOGUE: usize = 64 * 1024;
/// The most lines accepted in one multi-line reply.
const MAX_REPLY_LINES: usize = 256;
/// How much of a server's words go into a failure's detail.
const MAX_QUOTE: usize = 200;

/// Runs `protocol`'s upgrade dialogue on `stream` and returns the stream, ready for the TLS
/// handshake. `server_name` is the domain XMPP's stream header names.
pub async fn upgrade<S>(protocol: Starttls, stream: S, server_name: &str) -> Result<S, ProbeFailure>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut dialogue = Dialogue::new(stream, protocol);
    match protocol {
        Starttls::Smtp => smtp::negotiate(&mut dialogue).await?,
        Starttls::Imap => imap::negotiate(&mut dialogue).await?,
        Starttls::Pop3 => pop3::negotiate(&mut dialogue).await?,
        Starttls::Ftp => ftp::negotiate(&mut dialogue).await?,
        Starttls::Ldap => ldap::negotiate(&mut dialogue).await?,
        Starttls::Postgres => postgres::negotiate(&mut dialogue).await?,
        Starttls::Mysql => mysql::negotiate(&mut dialogue).await?,
        Starttls::Xmpp => xmpp::negotiate(&mut dialogue, server_name).await?,
    }
    dialogue.into_stream()
}

/// A connection during the plain-text part: a bounded read buffer over the stream, and the
/// protocol's name for messages.
pub struct Dialogue<S> {
    stream: S,
    protocol: Starttls,
    /// Bytes read but not yet consumed.
    buf: Vec<u8>,
    /// Bytes read so far, against [`MAX_DIALOGUE`].
    received: usize,
}

impl<S> Dialogue<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    /// Starts a dialogue on a freshly connected stream.
    pub fn new(stream: S, protocol: Starttls) -> Dialogue<S> {
        Dialogue {
            stream,
            protocol,
            buf: Vec::new(),
            received: 0,
        }
    }

    /// A `starttls` failure: the server said something unexpected.
    pub fn failure(&self, detail: impl fmt::Display) -> ProbeFailure {
        ProbeFailure::new(
            ProbeReason::Starttls,
            format!("{} STARTTLS: {detail}", self.name()),
        )
    }

    /// A `starttls_unsupported` failure: the server does not offer TLS.
    pub fn unsupported(&self, detail: impl fmt::Display) -> ProbeFailure {
        ProbeFailure::new(
            ProbeReason::StarttlsUnsupported,
            format!("{} STARTTLS: {detail}", self.name()),
        )
    }

    /// A `starttls_refused` failure: the server refused this client in words of its protocol
    /// (an XMPP stream error, a MySQL error packet).
    pub fn refused(&self, detail: impl fmt::Display) -> ProbeFailure {
        ProbeFailure::new(
            ProbeReason::StarttlsRefused,
            format!("{} STARTTLS: {detail}", self.name()),
        )
    }

    fn name(&self) -> &'static str {
        match self.protocol {
            Starttls::Smtp => "SMTP",
            Starttls::Imap => "IMAP",
            Starttls::Pop3 => "POP3",
            Starttls::Ftp => "FTP",
            Starttls::Ldap => "LDAP",
            Starttls::Postgres => "PostgreSQL",
            Starttls::Mysql => "MySQL",
            Starttls::Xmpp => "XMPP",
        }
    }

    /// Sends `bytes` to the server.
    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), ProbeFailure> {
        self.stream
            .write_all(bytes)
            .await
            .map_err(|e| self.failure(format_args!("sending: {e}")))?;
        self.stream
            .flush()
            .await
            .map_err(|e| self.failure(format_args!("sending: {e}")))
    }

    /// Reads more of the server's bytes into the buffer, within [`MAX_DIALOGUE`].
    async fn fill(&mut self) -> Result<(), ProbeFailure> {
        let room = MAX_DIALOGUE.saturating_sub(self.received);
        if room == 0 {
            return Err(self.failure(format_args!(
                "the server sent more than {MAX_DIALOGUE} bytes without finishing the dialogue"
            )));
        }
        let mut chunk = [0u8; 2048];
        let want = room.min(chunk.len());
        let n = self
            .stream
            .read(&mut chunk[..want])
            .await
            .map_err(|e| self.failure(format_args!("reading: {e}")))?;
        if n == 0 {
            return Err(self.failure(match self.buf.is_empty() {
                true => "the server closed the connection".to_string(),
                false => format!(
                    "the server closed the connection after {}",
                    quote(&self.buf)
                ),
            }));
        }
        self.received += n;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    /// Reads one line, without its `\r\n` (or `\n`); at most [`MAX_LINE`] bytes.
    pub async fn read_line(&mut self) -> Result<String, ProbeFailure> {
        loop {
            if let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=end).collect();
                let line = line.strip_suffix(b"\n").unwrap_or(&line);
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                return Ok(String::from_utf8_lossy(line).into_owned());
            }
            if self.buf.len() > MAX_LINE {
                return Err(self.failure(format_args!(
                    "the server sent a line longer than {MAX_LINE} bytes: {}",
                    quote(&self.buf)
                )));
            }
            self.fill().await?;
        }
    }

    /// Reads exactly `n` bytes (`n` at most [`MAX_LINE`] unless the caller checked it).
    pub async fn read_exact(&mut self, n: usize) -> Result<Vec<u8>, ProbeFailure> {
        while self.buf.len() < n {
            self.fill().await?;
        }
        Ok(self.buf.drain(..n).collect())
    }

    /// Reads until `parse` finds something complete at the start of the buffer: it returns how
    /// many bytes that took and what it found, or `None` to read more. At most `limit` bytes are
    /// buffered while waiting.
    pub async fn read_until<T>(
        &mut self,
        limit: usize,
        what: &str,
        mut parse: impl FnMut(&[u8]) -> Option<(usize, T)>,
    ) -> Result<T, ProbeFailure> {
        loop {
            if let Some((used, found)) = parse(&self.buf) {
                self.buf.drain(..used);
                return Ok(found);
            }
            if self.buf.len() > limit {
                return Err(self.failure(format_args!(
                    "{what} longer than {limit} bytes: {}",
                    quote(&self.buf)
                )));
            }
            self.fill().await?;
        }
    }

    /// Reads a numbered reply as SMTP and FTP send them: `250-first`, `250-more`, `250 last`
    /// (FTP also allows unnumbered lines in between).
    pub async fn read_reply(&mut self) -> Result<Reply, ProbeFailure> {
        let first = self.read_line().await?;
        let Some(code) = reply_code(&first) else {
            return Err(self.failure(format_args!(
                "expected a numbered reply, got {}",
                quote(first.as_bytes())
            )));
        };
        let mut more = first.as_bytes().get(3) == Some(&b'-');
        let mut reply = Reply {
            code,
            lines: vec![first],
        };
        let prefix = format!("{code} ");
        while more {
            if reply.lines.len() >= MAX_REPLY_LINES {
                return Err(
                    self.failure(format_args!("a reply of more than {MAX_REPLY_LINES} lines"))
                );
            }
            let line = self.read_line().await?;
            more = !is_last_line(&line, &prefix);
            reply.lines.push(line);
        }
        Ok(reply)
    }

    /// Hands the stream over for the handshake. Bytes the server sent after agreeing to start
    /// TLS would be read as if they were part of the TLS session (the STARTTLS injection flaw),
    /// so they are an error rather than silently dropped.
    pub fn into_stream(self) -> Result<S, ProbeFailure> {
        if !self.buf.is_empty() {
            return Err(self.failure(format_args!(
                "the server sent {} bytes after agreeing to start TLS: {}",
                self.buf.len(),
                quote(&self.buf)
            )));
        }
        Ok(self.stream)
    }
}

/// A numbered (SMTP/FTP) reply: its code and every line as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit code of the first line.
    pub code: u16,
    /// Every line, code included, without line ends.
    pub lines: Vec<String>,
}

impl Reply {
    /// The text of each line after the code and its separator.
    pub fn texts(&self) -> impl Iterator<Item = &str> {
        self.lines.iter().map(|l| match reply_code(l) {
            Some(_) => l.get(4..).unwrap_or(""),
            None => l.as_str(),
        })
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let last = self.lines.last().map_or("", String::as_str);
        f.write_str(&quote(last.as_bytes()))
    }
}

/// The three-digit code at the start of a reply line.
fn reply_code(line: &str) -> Option<u16> {
    let digits = line.get(..3)?;
    let next = line.as_bytes().get(3);
    if digits.bytes().all(|b| b.is_ascii_digit()) && matches!(next, None | Some(b' ' | b'-')) {
        digits.parse().ok()
    } else {
        None
    }
}

/// Whether `line` ends a multi-line reply whose last line starts with `prefix` (`"250 "`).
fn is_last_line(line: &str, prefix: &str) -> bool {
    line.starts_with(prefix) || line == prefix.trim_end()
}

/// Server bytes for a message: lossy UTF-8, escaped, cut at [`MAX_QUOTE`] characters.
pub fn quote(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut cut: String = text.chars().take(MAX_QUOTE).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    format!("{cut:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn reply_from(server_says: &[u8]) -> Result<Reply, ProbeFailure> {
        let (client, mut server) = tokio::io::duplex(1 << 16);
        server.write_all(server_says).await.unwrap();
        drop(server);
        Dialogue::new(client, Starttls::Smtp).read_reply().await
    }

    #[tokio::test]
    async fn multi_line_replies_end_at_the_code_and_a_space() {
        let r = reply_from(b"250-mx.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n")
            .await
            .unwrap();
        assert_eq!(r.code, 250);
        assert_eq!(
            r.texts().collect::<Vec<_>>(),
            ["mx.test", "PIPELINING", "STARTTLS"]
        );
        // FTP style: unnumbered lines in between.
        let r = reply_from(b"220-Welcome\r\n to the\r\n 220 not yet\r\n220 ready\r\n")
            .await
            .unwrap();
        assert_eq!(r.lines.len(), 4);
        let r = reply_from(b"220\r\n").await.unwrap();
        assert_eq!(r.code, 220);
    }

    #[tokio::test]
    async fn bytes_after_the_go_ahead_are_refused_not_dropped() {
        let (client, mut server) = tokio::io::duplex(1 << 16);
        // A server (or a man in the middle) that answers in advance and slips in extra bytes.
        server
            .write_all(b"220 mx\r\n250-mx\r\n250 STARTTLS\r\n220 go ahead\r\nEXTRA")
            .await
            .unwrap();
        let e = upgrade(Starttls::Smtp, client, "mx.test")
            .await
            .err()
            .unwrap();
        assert_eq!(e.reason.as_str(), "starttls");
        assert!(e.detail.contains("after agreeing"), "{e:?}");
        // Without them, the stream is handed over.
        let (client, mut server) = tokio::io::duplex(1 << 16);
        server
            .write_all(b"220 mx\r\n250-mx\r\n250 STARTTLS\r\n220 go ahead\r\n")
            .await
            .unwrap();
        assert!(upgrade(Starttls::Smtp, client, "mx.test").await.is_ok());
    }

    #[tokio::test]
    async fn garbage_and_endless_lines_fail_with_what_was_said() {
        let e = reply_from(b"HTTP/1.1 400 Bad Request\r\n")
            .await
            .unwrap_err();
        assert_eq!(e.reason.as_str(), "starttls");
        assert!(e.detail.contains("HTTP/1.1 400"), "{e:?}");
        let e = reply_from(&vec![b'a'; MAX_LINE + 10]).await.unwrap_err();
        assert!(e.detail.contains("longer than"), "{e:?}");
        let e = reply_from(b"220-never ends\r\n").await.unwrap_err();
        assert!(e.detail.contains("closed"), "{e:?}");
    }
}
