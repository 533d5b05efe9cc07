//! Reading a server's plaintext answer to a legacy ClientHello: records into handshake
//! messages, then the ServerHello's version and suite and the Certificate message's chain.
//!
//! Before TLS 1.3 everything up to ServerHelloDone travels unencrypted, so no cryptography is
//! needed. The framing is the only subtle part: one handshake message may span several records
//! (a long chain), and one record may carry several messages (ServerHello, Certificate and
//! ServerHelloDone together). [`Parser`] is fed raw bytes as they arrive and yields whole
//! messages and alerts, within hard caps, so it is tested without sockets.

use rustls_pki_types::CertificateDer;
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::probe::starttls::quote;
use crate::probe::TlsVersion;
use crate::x509::chain::MAX_CHAIN;

/// The most bytes read from one server for one answer. A chain of [`MAX_CHAIN`] ordinary
/// certificates fits many times over; a server sending more is not answering a hello.
pub const MAX_ANSWER: usize = 256 * 1024;
/// The largest record plaintext TLS 1.0/1.1 allows (2^14), plus the expansion allowed for
/// compressed or encrypted records, which a correct server never sends here.
const MAX_RECORD: usize = 16_384 + 2_048;

const ALERT: u8 = 21;
const HANDSHAKE: u8 = 22;

/// Something complete the server sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A handshake message: its type and body.
    Message(u8, Vec<u8>),
    /// An alert: level and description.
    Alert(u8, u8),
}

/// Turns the byte stream into records and the records into handshake messages.
#[derive(Debug, Default)]
pub struct Parser {
    /// Bytes not yet making a whole record.
    raw: Vec<u8>,
    /// Handshake bytes not yet making a whole message.
    handshake: Vec<u8>,
    /// Everything fed so far.
    total: usize,
    /// Why the bytes stopped making sense, once they did.
    broken: Option<String>,
}

/// What one [`Parser::feed`] gave: the events completed, and, when the bytes stopped making
/// sense, why. Events before the first bad record are kept: a server often sends its alert and
/// a plain-text complaint in one write (vsftpd's `500 OOPS: ... no shared cipher`, MariaDB's
/// error packet), and the alert is the answer.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Fed {
    pub events: Vec<Event>,
    pub error: Option<String>,
}

impl Parser {
    /// Takes the next bytes from the server and returns what they complete. After an error
    /// the parser stays broken: later bytes only repeat it.
    pub fn feed(&mut self, bytes: &[u8]) -> Fed {
        let mut fed = Fed::default();
        if let Some(error) = &self.broken {
            fed.error = Some(error.clone());
            return fed;
        }
        self.total += bytes.len();
        if self.total > MAX_ANSWER {
            fed.error = Some(format!("the server sent over {MAX_ANSWER} bytes"));
        } else {
            self.raw.extend_from_slice(bytes);
            fed.error = self.records(&mut fed.events).err();
        }
        self.broken.clone_from(&fed.error);
        fed
    }

    /// The bytes not yet making a whole record: after an error, what the server sent from the
    /// first bad record on.
    pub fn rest(&self) -> &[u8] {
        &self.raw
    }

    /// Takes every whole record out of the raw buffer, pushing the events they complete.
    fn records(&mut self, events: &mut Vec<Event>) -> Result<(), String> {
        while self.raw.len() >= 5 {
            let kind = self.raw[0];
            let major = self.raw[1];
            let len = u16::from_be_bytes([self.raw[3], self.raw[4]]) as usize;
            if !(20..=23).contains(&kind) || major != 3 {
                return Err(format!(
                    "not a TLS record (starts with {:02x?})",
                    &self.raw[..5]
                ));
            }
            if len > MAX_RECORD {
                return Err(format!("a {len}-byte record, over the TLS limit"));
            }
            if self.raw.len() < 5 + len {
                break;
            }
            let fragment: Vec<u8> = self.raw.drain(..5 + len).skip(5).collect();
            match kind {
                HANDSHAKE => {
                    self.handshake.extend_from_slice(&fragment);
                    self.take_messages(events);
                }
                ALERT => {
                    // An alert is two bytes; only the first matters to us.
                    if fragment.len() >= 2 {
                        events.push(Event::Alert(fragment[0], fragment[1]));
                    } else {
                        return Err("a truncated alert".into());
                    }
                }
                other => return Err(format!("record type {other} before the handshake was over")),
            }
        }
        Ok(())
    }

    /// Moves every complete handshake message out of the handshake buffer.
    fn take_messages(&mut self, events: &mut Vec<Event>) {
        while self.handshake.len() >= 4 {
            let len =
                u32::from_be_bytes([0, self.handshake[1], self.handshake[2], self.handshake[3]])
                    as usize;
            if self.handshake.len() < 4 + len {
                break;
            }
            let kind = self.handshake[0];
            let body: Vec<u8> = self.handshake.drain(..4 + len).skip(4).collect();
            events.push(Event::Message(kind, body));
        }
    }
}

/// The fields of a ServerHello the check needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerHello {
    /// The version the server chose (0x0301 = TLS 1.0, …).
    pub version: u16,
    /// The cipher suite it chose.
    pub cipher_suite: u16,
}

/// Parses a ServerHello body: version, random, session id, cipher suite (the rest is not
/// needed).
pub fn server_hello(body: &[u8]) -> Result<ServerHello, String> {
    let short = || "a ServerHello too short to hold its fields".to_string();
    let version = u16::from_be_bytes([
        *body.first().ok_or_else(short)?,
        *body.get(1).ok_or_else(short)?,
    ]);
    let sid_len = *body.get(34).ok_or_else(short)? as usize;
    let at = 35 + sid_len;
    let suite = body.get(at..at + 2).ok_or_else(short)?;
    Ok(ServerHello {
        version,
        cipher_suite: u16::from_be_bytes([suite[0], suite[1]]),
    })
}

/// Parses a Certificate message body: a 3-byte list length, then each certificate as a 3-byte
/// length and its DER. At most [`MAX_CHAIN`] certificates are kept.
pub fn certificates(body: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let u24 = |b: &[u8]| u32::from_be_bytes([0, b[0], b[1], b[2]]) as usize;
    if body.len() < 3 || u24(body) != body.len() - 3 {
        return Err("a Certificate message whose list length does not match".into());
    }
    let mut rest = &body[3..];
    let mut chain = Vec::new();
    while !rest.is_empty() {
        if rest.len() < 3 || u24(rest) > rest.len() - 3 {
            return Err("a certificate entry running past its message".into());
        }
        let len = u24(rest);
        if chain.len() < MAX_CHAIN {
            chain.push(CertificateDer::from(rest[3..3 + len].to_vec()));
        }
        rest = &rest[3 + len..];
    }
    Ok(chain)
}

/// What the server answered to a hello offering `offered`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// It chose the offered version. `chain` is empty when no Certificate message came (an
    /// anonymous suite, or the server hung up after its ServerHello).
    Accepted {
        /// The suite the ServerHello chose, by its IANA number.
        cipher_suite: u16,
        /// The Certificate message's certificates as sent, leaf first, at most [`MAX_CHAIN`].
        chain: Vec<CertificateDer<'static>>,
    },
    /// It will not speak the offered version: an alert, another version, or hanging up.
    Refused(String),
}

/// Names of the alerts servers send to refuse an old version.
fn alert_name(description: u8) -> String {
    match description {
        40 => "handshake_failure".into(),
        47 => "illegal_parameter".into(),
        70 => "protocol_version".into(),
        71 => "insufficient_security".into(),
        80 => "internal_error".into(),
        112 => "unrecognized_name".into(),
        other => format!("alert {other}"),
    }
}

/// Human name of a wire version.
pub fn version_name(version: u16) -> String {
    match (version, TlsVersion::from_wire(version)) {
        (_, Some(known)) => known.as_str().into(),
        (0x0300, None) => "SSL 3.0".into(),
        (other, None) => format!("version 0x{other:04x}"),
    }
}

/// Reads the server's answer to a hello offering `offered` from `stream`. Errors are answers
/// that tell nothing: not TLS, malformed, or a read failure other than the server hanging up.
/// The caller bounds the whole read with the probe's deadline.
pub async fn read<S>(stream: &mut S, offered: u16) -> Result<Answer, String>
where
    S: AsyncRead + Unpin,
{
    let mut parser = Parser::default();
    let mut accepted: Option<u16> = None;
    // Small: the parser keeps what it needs, and the usual answer (a refusal) is one alert.
    // Every probe in flight holds two of these during its first check.
    let mut buf = vec![0u8; 2048];
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(n) => n,
            // A reset is how many servers refuse a hello they dislike.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset && accepted.is_none() => 0,
            Err(e) => return Err(format!("reading the answer: {e}")),
        };
        if n == 0 {
            return Ok(match accepted {
                Some(cipher_suite) => Answer::Accepted {
                    cipher_suite,
                    chain: Vec::new(),
                },
                None => Answer::Refused("closed the connection without a ServerHello".into()),
            });
        }
        let fed = parser.feed(&buf[..n]);
        for event in fed.events {
            match (event, accepted) {
                (Event::Alert(_, description), None) => {
                    let mut why = format!("answered with the alert {}", alert_name(description));
                    if fed.error.is_some() {
                        why.push_str(", then ");
                        why.push_str(&quote(parser.rest()));
                    }
                    return Ok(Answer::Refused(why));
                }
                (Event::Alert(..), Some(cipher_suite)) => {
                    return Ok(Answer::Accepted {
                        cipher_suite,
                        chain: Vec::new(),
                    })
                }
                (Event::Message(2, body), None) => {
                    let hello = server_hello(&body)?;
                    if hello.version != offered {
                        return Ok(Answer::Refused(format!(
                            "answered with {} instead",
                            version_name(hello.version)
                        )));
                    }
                    accepted = Some(hello.cipher_suite);
                }
                // HelloRequest may come at any time and means nothing here.
                (Event::Message(0, _), _) => {}
                (Event::Message(kind, _), None) => {
                    return Err(format!("handshake message {kind} before the ServerHello"))
                }
                (Event::Message(11, body), Some(cipher_suite)) => {
                    return Ok(Answer::Accepted {
                        cipher_suite,
                        chain: certificates(&body)?,
                    })
                }
                // ServerKeyExchange, CertificateRequest or ServerHelloDone before any
                // Certificate: an anonymous suite, no chain to read.
                (Event::Message(12..=14, _), Some(cipher_suite)) => {
                    return Ok(Answer::Accepted {
                        cipher_suite,
                        chain: Vec::new(),
                    })
                }
                (Event::Message(..), Some(_)) => {}
            }
        }
        if let Some(error) = fed.error {
            return match accepted {
                // The server chose the version before the bytes went bad.
                Some(cipher_suite) => Ok(Answer::Accepted {
                    cipher_suite,
                    chain: Vec::new(),
                }),
                None => Err(error),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: u8, fragment: &[u8]) -> Vec<u8> {
        let mut r = vec![kind, 3, 1];
        r.extend_from_slice(&(fragment.len() as u16).to_be_bytes());
        r.extend_from_slice(fragment);
        r
    }

    fn message(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![kind];
        m.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        m.extend_from_slice(body);
        m
    }

    fn hello_body(version: u16, suite: u16) -> Vec<u8> {
        let mut b = version.to_be_bytes().to_vec();
        b.extend([7u8; 32]);
        b.push(4);
        b.extend([1, 2, 3, 4]);
        b.extend_from_slice(&suite.to_be_bytes());
        b.push(0);
        b
    }

    fn certificate_body(certs: &[&[u8]]) -> Vec<u8> {
        let mut list = Vec::new();
        for c in certs {
            list.extend_from_slice(&(c.len() as u32).to_be_bytes()[1..]);
            list.extend_from_slice(c);
        }
        let mut body = (list.len() as u32).to_be_bytes()[1..].to_vec();
        body.extend(list);
        body
    }

    /// A whole answer: ServerHello, Certificate and ServerHelloDone in one record.
    fn answer(version: u16, certs: &[&[u8]]) -> Vec<u8> {
        let mut flight = message(2, &hello_body(version, 0xc013));
        flight.extend(message(11, &certificate_body(certs)));
        flight.extend(message(14, &[]));
        record(22, &flight)
    }

    async fn read_all(bytes: Vec<u8>, offered: u16, chunk: usize) -> Result<Answer, String> {
        // Delivered in `chunk`-byte reads, so messages and records arrive in pieces.
        let mut mock = tokio_test_reader(bytes, chunk);
        read(&mut mock, offered).await
    }

    /// An in-memory reader that hands out at most `chunk` bytes per read.
    fn tokio_test_reader(bytes: Vec<u8>, chunk: usize) -> impl AsyncRead + Unpin {
        struct Chunked(std::io::Cursor<Vec<u8>>, usize);
        impl AsyncRead for Chunked {
            fn poll_read(
                mut self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
                buf: &mut tokio::io::ReadBuf<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                let limit = self.1.min(buf.remaining());
                let mut tmp = vec![0u8; limit];
                let n = std::io::Read::read(&mut self.0, &mut tmp)?;
                buf.put_slice(&tmp[..n]);
                std::task::Poll::Ready(Ok(()))
            }
        }
        Chunked(std::io::Cursor::new(bytes), chunk)
    }

    #[tokio::test]
    async fn one_record_with_every_message() {
        let got = read_all(answer(0x0301, &[b"leaf", b"inter"]), 0x0301, 8192).await;
        assert_eq!(
            got,
            Ok(Answer::Accepted {
                cipher_suite: 0xc013,
                chain: vec![
                    CertificateDer::from(b"leaf".to_vec()),
                    CertificateDer::from(b"inter".to_vec())
                ],
            })
        );
    }

    #[tokio::test]
    async fn messages_split_over_records_and_reads() {
        // A 40 KB certificate spans three records; reads deliver 7 bytes at a time.
        let big = vec![0x42u8; 40_000];
        let mut flight = message(2, &hello_body(0x0302, 0x002f));
        flight.extend(message(11, &certificate_body(&[&big])));
        let mut bytes = Vec::new();
        for piece in flight.chunks(16_384) {
            bytes.extend(record(22, piece));
        }
        let got = read_all(bytes, 0x0302, 7).await.unwrap();
        match got {
            Answer::Accepted {
                cipher_suite,
                chain,
            } => {
                assert_eq!(cipher_suite, 0x002f);
                assert_eq!(chain.len(), 1);
                assert_eq!(chain[0].as_ref(), big.as_slice());
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn refusals_are_told_apart() {
        let alert = record(21, &[2, 70]);
        assert_eq!(
            read_all(alert, 0x0301, 100).await,
            Ok(Answer::Refused(
                "answered with the alert protocol_version".into()
            ))
        );
        assert_eq!(
            read_all(answer(0x0303, &[b"x"]), 0x0302, 100).await,
            Ok(Answer::Refused("answered with TLS 1.2 instead".into()))
        );
        assert!(matches!(
            read_all(Vec::new(), 0x0301, 100).await,
            Ok(Answer::Refused(_))
        ));
        // Hanging up after agreeing still means the version is spoken.
        let hello_only = record(22, &message(2, &hello_body(0x0301, 0x0035)));
        assert_eq!(
            read_all(hello_only, 0x0301, 100).await,
            Ok(Answer::Accepted {
                cipher_suite: 0x0035,
                chain: Vec::new()
            })
        );
    }

    /// What vsftpd 3.0.3 (Debian 12) sent to the legacy TLS 1.0 hello, in one read: a
    /// handshake_failure alert, then its plain-text complaint.
    const VSFTPD_REFUSAL: &[u8] = b"\x15\x03\x01\x00\x02\x02\x28500 OOPS: error:0A0000C1:SSL routines::no shared cipher\r\n500 OOPS: priv_sock_get_cmd\r\n";
    /// What MariaDB 10.11 (Debian 12) sent after the SSLRequest and the TLS 1.0 hello, in one
    /// read: a protocol_version alert, then an error packet (1043, Bad handshake) whose first
    /// byte, its length, looks like a handshake record.
    const MARIADB_REFUSAL: &[u8] =
        b"\x15\x03\x01\x00\x02\x02\x46\x16\x00\x00\x02\xff\x13\x04#08S01Bad handshake";

    #[tokio::test]
    async fn an_alert_followed_by_plain_text_is_the_refusal() {
        for (bytes, alert, text) in [
            (VSFTPD_REFUSAL, "handshake_failure", "500 OOPS"),
            (MARIADB_REFUSAL, "protocol_version", "Bad handshake"),
        ] {
            // In one read, and byte by byte (the alert alone first, then the text).
            for chunk in [8192, 1] {
                let Ok(Answer::Refused(why)) = read_all(bytes.to_vec(), 0x0301, chunk).await else {
                    panic!("{alert}, read {chunk} at a time: not a refusal");
                };
                assert!(why.contains(alert), "{why}");
                if chunk == 8192 {
                    assert!(why.contains(text), "{why}");
                }
            }
        }
        // The parser keeps the events before the first bad record, and stays broken.
        let mut parser = Parser::default();
        let fed = parser.feed(VSFTPD_REFUSAL);
        assert_eq!(fed.events, [Event::Alert(2, 40)]);
        assert!(fed.error.unwrap().contains("not a TLS record"));
        assert!(parser.rest().starts_with(b"500 OOPS"));
        let again = parser.feed(&record(21, &[2, 70]));
        assert!(
            again.events.is_empty() && again.error.is_some(),
            "{again:?}"
        );
        // A ServerHello in the offered version, then garbage: the version was chosen.
        let mut bytes = record(22, &message(2, &hello_body(0x0301, 0x002f)));
        bytes.extend_from_slice(b"garbage after the hello");
        assert_eq!(
            read_all(bytes, 0x0301, 8192).await,
            Ok(Answer::Accepted {
                cipher_suite: 0x002f,
                chain: Vec::new()
            })
        );
    }

    #[tokio::test]
    async fn garbage_and_oversize_are_errors() {
        let http = b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec();
        assert!(read_all(http, 0x0301, 100).await.is_err());
        let huge_record = vec![22, 3, 1, 0xff, 0xff];
        assert!(read_all(huge_record, 0x0301, 100).await.is_err());
        // Endless handshake bytes that never complete a message stop at the cap.
        let mut endless = Vec::new();
        let mut first = vec![2u8, 0xff, 0xff, 0xff];
        first.resize(16_000, 0);
        endless.extend(record(22, &first));
        for _ in 0..(MAX_ANSWER / 16_000 + 1) {
            endless.extend(record(22, &[0u8; 16_000]));
        }
        let e = read_all(endless, 0x0301, 4096).await.unwrap_err();
        assert!(e.contains("bytes"), "{e}");
        // A Certificate message whose lengths lie.
        let mut flight = message(2, &hello_body(0x0301, 0x002f));
        flight.extend(message(11, &[0, 0, 9, 0, 0, 20, 1, 2, 3, 4, 5, 6]));
        assert!(read_all(record(22, &flight), 0x0301, 100).await.is_err());
        // A ServerHello cut short.
        let short = record(22, &message(2, &[3, 1, 0]));
        assert!(read_all(short, 0x0301, 100).await.is_err());
    }
}
