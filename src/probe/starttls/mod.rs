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
use std::net::IpAddr;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use super::reason::{ProbeFailure, ProbeReason};
use crate::config::{HeloName, Starttls, Target};

/// The longest line (or XML tag, or binary message) accepted from the server.
pub const MAX_LINE: usize = 4096;
/// The most bytes accepted from the server over the whole dialogue.
pub const MAX_DIALOGUE: usize = 64 * 1024;
/// The most lines accepted in one multi-line reply.
const MAX_REPLY_LINES: usize = 256;
/// How much of a server's words go into a failure's detail.
const MAX_QUOTE: usize = 200;

/// What the probe says about itself and the server in a dialogue.
#[derive(Debug, Clone, Copy)]
pub struct Names<'a> {
    /// The domain XMPP's stream header names (the target's `server_name`).
    pub server_name: &'a str,
    /// The `EHLO` name configured for SMTP (`smtp_helo_name`); when `None`, the address literal
    /// of `local`.
    pub helo_name: Option<&'a HeloName>,
    /// The local address of the connection.
    pub local: IpAddr,
}

impl Names<'_> {
    /// What the probe of `target` says over `stream`: its server name, its `smtp_helo_name`,
    /// and the stream's local address (unspecified when the socket cannot tell).
    pub fn of<'a>(target: &'a Target, stream: &tokio::net::TcpStream) -> Names<'a> {
        Names {
            server_name: &target.server_name,
            helo_name: target.reach.smtp_helo_name.as_deref(),
            local: stream
                .local_addr()
                .map(|a| a.ip())
                .unwrap_or(IpAddr::from([0, 0, 0, 0])),
        }
    }

    /// The `EHLO` argument: the configured name, or the local address as an RFC 5321 address
    /// literal (`[192.0.2.1]`, `[IPv6:2001:db8::1]`), which every server accepts as a client's
    /// name where a bare word is refused (Postfix's `reject_non_fqdn_helo_hostname`).
    pub fn ehlo_name(&self) -> String {
        match (self.helo_name, self.local.to_canonical()) {
            (Some(name), _) => name.as_str().to_string(),
            (None, IpAddr::V4(ip)) => format!("[{ip}]"),
            (None, IpAddr::V6(ip)) => format!("[IPv6:{ip}]"),
        }
    }
}

/// How far a dialogue that ran out of time had got: what `check` advises depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stall {
    /// The server sent nothing at all: a port that waits for the client to speak first (an
    /// implicit-TLS port waiting for a ClientHello), or a server that is stuck.
    Silent,
    /// The server had begun a greeting or an answer and not finished it: a server that delays
    /// the end of its greeting on purpose (Postfix's postscreen), or a slow one.
    Unfinished,
    /// The server had finished every reply, then did not answer the probe's last request.
    Unanswered,
}

/// A failed dialogue: the failure, and when it ran out of time, how far it had got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpgradeFailure {
    /// Why the dialogue failed, with what the server said.
    pub failure: ProbeFailure,
    /// For `starttls_timeout`: how far the dialogue had got.
    pub stall: Option<Stall>,
}

impl From<ProbeFailure> for UpgradeFailure {
    fn from(failure: ProbeFailure) -> UpgradeFailure {
        UpgradeFailure {
            failure,
            stall: None,
        }
    }
}

/// Runs `protocol`'s upgrade dialogue on `stream` until `deadline` and returns the stream,
/// ready for the TLS handshake. When time runs out the failure is `starttls_timeout`, quoting
/// what the server had sent of an unfinished reply.
pub async fn upgrade<S>(
    protocol: Starttls,
    stream: S,
    names: Names<'_>,
    deadline: Instant,
) -> Result<S, UpgradeFailure>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut dialogue = Dialogue::new(stream, protocol);
    match tokio::time::timeout_at(deadline, negotiate(&mut dialogue, names)).await {
        Ok(Ok(())) => Ok(dialogue.into_stream()?),
        Ok(Err(failure)) => Err(failure.into()),
        Err(_) => Err(dialogue.stalled()),
    }
}

/// The protocol's script.
async fn negotiate<S>(dialogue: &mut Dialogue<S>, names: Names<'_>) -> Result<(), ProbeFailure>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match dialogue.protocol {
        Starttls::Smtp => smtp::negotiate(dialogue, &names.ehlo_name()).await,
        Starttls::Imap => imap::negotiate(dialogue).await,
        Starttls::Pop3 => pop3::negotiate(dialogue).await,
        Starttls::Ftp => ftp::negotiate(dialogue).await,
        Starttls::Ldap => ldap::negotiate(dialogue).await,
        Starttls::Postgres => postgres::negotiate(dialogue).await,
        Starttls::Mysql => mysql::negotiate(dialogue).await,
        Starttls::Xmpp => xmpp::negotiate(dialogue, names.server_name).await,
    }
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
    /// What the server sent towards its next reply, since the probe last spoke (at most
    /// [`MAX_LINE`] bytes): an unfinished reply, quoted when time runs out.
    heard: Vec<u8>,
    /// The first line of what the probe last sent, when it is text (at most [`MAX_QUOTE`]).
    last_sent: Option<String>,
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
            heard: Vec::new(),
            last_sent: None,
        }
    }

    /// The `starttls_timeout` failure for where the dialogue stood when time ran out.
    fn stalled(&self) -> UpgradeFailure {
        let name = self.name();
        let (stall, detail) = if self.received == 0 {
            (
                Stall::Silent,
                format!("{name} STARTTLS: the server sent nothing before the probe timeout"),
            )
        } else if !self.heard.is_empty() {
            let what = match &self.last_sent {
                None => "greeting".to_string(),
                Some(command) => format!("answer to {command:?}"),
            };
            (
                Stall::Unfinished,
                format!(
                    "{name} STARTTLS: the server's {what} was unfinished at the probe timeout; \
                     it had sent {}",
                    quote(&self.heard)
                ),
            )
        } else {
            let what = match &self.last_sent {
                None => "the probe's request".to_string(),
                Some(command) => format!("{command:?}"),
            };
            (
                Stall::Unanswered,
                format!("{name} STARTTLS: no answer to {what} before the probe timeout"),
            )
        };
        UpgradeFailure {
            failure: ProbeFailure::new(ProbeReason::StarttlsTimeout, detail),
            stall: Some(stall),
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
        // What is buffered but unread is the start of the answer to this.
        self.heard = self.buf[..self.buf.len().min(MAX_LINE)].to_vec();
        let first_line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
        let first_line = first_line.strip_suffix(b"\r").unwrap_or(first_line);
        self.last_sent = (first_line.iter().all(|b| (0x20..0x7f).contains(b))
            && !first_line.is_empty())
        .then(|| {
            String::from_utf8_lossy(&first_line[..first_line.len().min(MAX_QUOTE)]).into_owned()
        });
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
        let keep = MAX_LINE.saturating_sub(self.heard.len()).min(n);
        self.heard.extend_from_slice(&chunk[..keep]);
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
        let e = upgrade(Starttls::Smtp, client, names(), later())
            .await
            .err()
            .unwrap()
            .failure;
        assert_eq!(e.reason.as_str(), "starttls");
        assert!(e.detail.contains("after agreeing"), "{e:?}");
        // Without them, the stream is handed over.
        let (client, mut server) = tokio::io::duplex(1 << 16);
        server
            .write_all(b"220 mx\r\n250-mx\r\n250 STARTTLS\r\n220 go ahead\r\n")
            .await
            .unwrap();
        assert!(upgrade(Starttls::Smtp, client, names(), later())
            .await
            .is_ok());
    }

    fn names() -> Names<'static> {
        Names {
            server_name: "mx.test",
            helo_name: None,
            local: IpAddr::from([127, 0, 0, 1]),
        }
    }

    /// A deadline no test reaches.
    fn later() -> Instant {
        Instant::now() + std::time::Duration::from_secs(3600)
    }

    #[test]
    fn ehlo_names_the_local_address_as_a_literal_unless_configured() {
        let at = |ip: &str| {
            Names {
                local: ip.parse().unwrap(),
                ..names()
            }
            .ehlo_name()
        };
        assert_eq!(at("192.0.2.1"), "[192.0.2.1]");
        assert_eq!(at("::1"), "[IPv6:::1]");
        assert_eq!(at("2001:db8::7"), "[IPv6:2001:db8::7]");
        // A v4 connection on a dual-stack socket is still a v4 client.
        assert_eq!(at("::ffff:192.0.2.1"), "[192.0.2.1]");
        let configured = HeloName::parse("prober.example.net").unwrap();
        let n = Names {
            helo_name: Some(&configured),
            ..names()
        };
        assert_eq!(n.ehlo_name(), "prober.example.net");
    }

    #[tokio::test]
    async fn the_ehlo_carries_the_name() {
        let (client, mut server) = tokio::io::duplex(1 << 16);
        server
            .write_all(b"220 mx\r\n250-mx\r\n250 STARTTLS\r\n220 go ahead\r\n")
            .await
            .unwrap();
        upgrade(Starttls::Smtp, client, names(), later())
            .await
            .unwrap();
        let mut said = vec![0; 64];
        let n = server.read(&mut said).await.unwrap();
        assert!(
            said[..n].starts_with(b"EHLO [127.0.0.1]\r\nSTARTTLS\r\n"),
            "{:?}",
            String::from_utf8_lossy(&said[..n])
        );
    }

    /// Runs an SMTP dialogue whose deadline has passed against a server that said `server_says`
    /// and keeps the connection open.
    async fn stalled_after(server_says: &[u8]) -> UpgradeFailure {
        let (client, mut server) = tokio::io::duplex(1 << 16);
        server.write_all(server_says).await.unwrap();
        let e = upgrade(Starttls::Smtp, client, names(), Instant::now())
            .await
            .err()
            .unwrap();
        drop(server);
        e
    }

    #[tokio::test]
    async fn a_timeout_says_how_far_the_dialogue_got() {
        // Postfix's postscreen: the first greeting line at once, the last after its greet wait.
        let e = stalled_after(b"220-mx.test ESMTP\r\n").await;
        assert_eq!(e.stall, Some(Stall::Unfinished));
        assert_eq!(e.failure.reason.as_str(), "starttls_timeout");
        assert_eq!(
            e.failure.detail,
            r#"SMTP STARTTLS: the server's greeting was unfinished at the probe timeout; it had sent "220-mx.test ESMTP\r\n""#
        );
        let e = stalled_after(b"220 mx\r\n250-mx\r\n").await;
        assert_eq!(e.stall, Some(Stall::Unfinished));
        assert!(
            e.failure.detail.contains(r#"answer to "EHLO [127.0.0.1]""#),
            "{e:?}"
        );
        assert!(
            e.failure.detail.contains(r#"it had sent "250-mx\r\n""#),
            "{e:?}"
        );
        let e = stalled_after(b"220 mx\r\n").await;
        assert_eq!(e.stall, Some(Stall::Unanswered));
        assert_eq!(
            e.failure.detail,
            r#"SMTP STARTTLS: no answer to "EHLO [127.0.0.1]" before the probe timeout"#
        );
        let e = stalled_after(b"").await;
        assert_eq!(e.stall, Some(Stall::Silent));
        assert_eq!(
            e.failure.detail,
            "SMTP STARTTLS: the server sent nothing before the probe timeout"
        );
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
