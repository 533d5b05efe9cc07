//! XMPP (RFC 6120 §5): the client opens a stream to the server's domain, the server answers with
//! its stream header and `<stream:features>`, which must hold
//! `<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`; the client sends `<starttls/>` and the
//! server says `<proceed/>`.
//!
//! Only tags matter here, so the XML is read tag by tag (text between tags is skipped), each tag
//! at most [`MAX_LINE`] bytes, with the dialogue's overall bound.

use tokio::io::{AsyncRead, AsyncWrite};

use super::{quote, Dialogue, MAX_LINE};
use crate::probe::reason::ProbeFailure;

/// The client's request to start TLS.
const STARTTLS: &[u8] = b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";

/// One XML tag as read.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Tag {
    /// The local name, without any namespace prefix (`features` for `<stream:features>`).
    name: String,
    kind: Kind,
    /// The tag as sent, for messages.
    text: String,
    /// The character data between the previous tag and this one, trimmed (the `<text>` of a
    /// stream error ends up before its `</text>`).
    before: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `<name ...>`
    Start,
    /// `</name>`
    End,
    /// `<name/>`
    Empty,
}

/// Opens the stream to `domain`, checks its features offer STARTTLS, and asks to proceed.
pub(super) async fn negotiate<S>(d: &mut Dialogue<S>, domain: &str) -> Result<(), ProbeFailure>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let header = format!(
        "<?xml version='1.0'?><stream:stream to='{}' version='1.0' xml:lang='en' \
         xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>",
        escape(domain)
    );
    d.send(header.as_bytes()).await?;

    let open = next_tag(d).await?;
    if let Some(refusal) = stream_error(d, &open).await {
        return Err(refusal);
    }
    if open.name != "stream" || open.kind != Kind::Start {
        return Err(d.failure(format_args!(
            "expected the server's stream header, got {}",
            quote(open.text.as_bytes())
        )));
    }
    let features = next_tag(d).await?;
    if let Some(refusal) = stream_error(d, &features).await {
        return Err(refusal);
    }
    match (features.name.as_str(), features.kind) {
        ("features", Kind::Empty) => {
            return Err(d.unsupported("the stream features are empty"));
        }
        ("features", Kind::Start) => {}
        // The server closed the stream without features.
        ("stream", Kind::End) => {
            return Err(d.unsupported("the server closed the stream without offering features"));
        }
        _ => return Err(unexpected(d, "the stream features", &features)),
    }
    let mut offered = false;
    loop {
        let tag = next_tag(d).await?;
        if tag.name == "features" && tag.kind == Kind::End {
            break;
        }
        offered |= tag.name == "starttls" && tag.kind != Kind::End;
    }
    if !offered {
        return Err(d.unsupported("the stream features do not include <starttls/>"));
    }

    d.send(STARTTLS).await?;
    let answer = next_tag(d).await?;
    if let Some(refusal) = stream_error(d, &answer).await {
        return Err(refusal);
    }
    if answer.name != "proceed" || answer.kind == Kind::End {
        return Err(unexpected(d, "<proceed/>", &answer));
    }
    if answer.kind == Kind::Start {
        let end = next_tag(d).await?;
        if end.name != "proceed" || end.kind != Kind::End {
            return Err(unexpected(d, "</proceed>", &end));
        }
    }
    Ok(())
}

/// The most tags read inside one `<stream:error>`: a condition, a text, an application
/// condition, with room to spare.
const MAX_ERROR_TAGS: usize = 16;

/// When `tag` opens a stream error (RFC 6120 §4.9), reads it to `</stream:error>` and returns
/// the `starttls_refused` failure naming its defined condition and text; `None` for any other
/// tag. A stream error that does not end within [`MAX_ERROR_TAGS`] tags (or the dialogue's byte
/// bounds) is reported with what was read of it.
async fn stream_error<S>(d: &mut Dialogue<S>, tag: &Tag) -> Option<ProbeFailure>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if tag.name != "error" || tag.kind == Kind::End {
        return None;
    }
    let mut condition: Option<String> = None;
    let mut text: Option<String> = None;
    if tag.kind == Kind::Start {
        for _ in 0..MAX_ERROR_TAGS {
            let Ok(inner) = next_tag(d).await else {
                break;
            };
            match (inner.name.as_str(), inner.kind) {
                ("error", Kind::End) => break,
                ("text", Kind::End) => text = Some(unescape(&inner.before)),
                ("text", _) => {}
                (name, Kind::Start | Kind::Empty) if condition.is_none() => {
                    condition = Some(name.to_string());
                }
                _ => {}
            }
        }
    }
    let mut detail = format!(
        "the server ended the stream with the error {}",
        condition.as_deref().unwrap_or("(no condition given)")
    );
    if let Some(text) = text.filter(|t| !t.is_empty()) {
        detail.push_str(": ");
        detail.push_str(&quote(text.as_bytes()));
    }
    if condition.as_deref() == Some("host-unknown") {
        detail.push_str(" (server_name is the XMPP domain the stream asks for)");
    }
    Some(d.refused(detail))
}

/// The failure for an unexpected tag; `<failure/>` says it is a refusal.
fn unexpected<S>(d: &Dialogue<S>, expected: &str, got: &Tag) -> ProbeFailure
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let what = match got.name.as_str() {
        "failure" => "a refusal",
        _ => "something else",
    };
    d.failure(format_args!(
        "expected {expected}, got {what}: {}",
        quote(got.text.as_bytes())
    ))
}

/// Reads the next tag, skipping text, the XML declaration and comments.
async fn next_tag<S>(d: &mut Dialogue<S>) -> Result<Tag, ProbeFailure>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        let (before, raw) = d.read_until(MAX_LINE, "an XML tag", split_tag).await?;
        if let Some(mut tag) = parse_tag(&raw) {
            tag.before = before;
            return Ok(tag);
        }
    }
}

/// Finds the first complete `<...>` in `buf` (a `>` inside quotes does not end it); returns the
/// bytes consumed (text before it included), that text trimmed, and the tag's text.
fn split_tag(buf: &[u8]) -> Option<(usize, (String, String))> {
    let start = buf.iter().position(|&b| b == b'<')?;
    let mut quote: Option<u8> = None;
    for (i, &b) in buf.iter().enumerate().skip(start + 1) {
        match (quote, b) {
            (Some(q), _) if b == q => quote = None,
            (Some(_), _) => {}
            (None, b'\'' | b'"') => quote = Some(b),
            (None, b'>') => {
                let before = String::from_utf8_lossy(&buf[..start]).trim().to_string();
                let text = String::from_utf8_lossy(&buf[start..=i]).into_owned();
                return Some((i + 1, (before, text)));
            }
            (None, _) => {}
        }
    }
    None
}

/// Makes a [`Tag`] of `<...>` text; `None` for declarations, processing instructions and
/// comments.
fn parse_tag(text: &str) -> Option<Tag> {
    let inner = text.strip_prefix('<')?.strip_suffix('>')?;
    if inner.starts_with('?') || inner.starts_with('!') {
        return None;
    }
    let (kind, inner) = if let Some(rest) = inner.strip_prefix('/') {
        (Kind::End, rest)
    } else if let Some(rest) = inner.strip_suffix('/') {
        (Kind::Empty, rest)
    } else {
        (Kind::Start, inner)
    };
    let qualified = inner.split_whitespace().next().unwrap_or("");
    let name = qualified
        .rsplit(':')
        .next()
        .unwrap_or(qualified)
        .to_string();
    Some(Tag {
        name,
        kind,
        text: text.to_string(),
        before: String::new(),
    })
}

/// Replaces XML's predefined entities in character data (others are left as sent).
fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&apos;", "'")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// Escapes a value for a single-quoted XML attribute.
fn escape(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&apos;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_split_and_named() {
        let buf = b"  <stream:features><starttls xmlns='a>b'><required/></starttls>";
        let (used, (_, text)) = split_tag(buf).unwrap();
        assert_eq!(text, "<stream:features>");
        let tag = parse_tag(&text).unwrap();
        assert_eq!((tag.name.as_str(), tag.kind), ("features", Kind::Start));
        let (_, (_, text)) = split_tag(&buf[used..]).unwrap();
        assert_eq!(text, "<starttls xmlns='a>b'>");
        let tag = parse_tag("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>").unwrap();
        assert_eq!((tag.name.as_str(), tag.kind), ("proceed", Kind::Empty));
        assert_eq!(parse_tag("</stream:features>").unwrap().kind, Kind::End);
        assert!(parse_tag("<?xml version='1.0'?>").is_none());
        assert!(split_tag(b"<unfinished").is_none());
    }

    /// Runs the dialogue against a server that says `server_says` and hangs up.
    async fn dialogue(server_says: &str) -> ProbeFailure {
        use tokio::io::AsyncWriteExt;
        let (client, mut server) = tokio::io::duplex(1 << 16);
        server.write_all(server_says.as_bytes()).await.unwrap();
        // Done talking, still listening (the client's header must not fail to send).
        server.shutdown().await.unwrap();
        let mut d = Dialogue::new(client, crate::config::Starttls::Xmpp);
        let e = negotiate(&mut d, "other.test").await.unwrap_err();
        drop(server);
        e
    }

    #[tokio::test]
    async fn a_stream_error_is_read_to_its_end_and_named() {
        // What Prosody 0.12 answers to a stream for a domain it does not host.
        let prosody = "<?xml version='1.0'?><stream:stream from='other.test' version='1.0' \
            xmlns:stream='http://etherx.jabber.org/streams' xml:lang='en' id='1' \
            xmlns='jabber:client'><stream:error><host-unknown \
            xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text \
            xmlns='urn:ietf:params:xml:ns:xmpp-streams'>This server does not serve \
            other.test</text></stream:error></stream:stream>";
        let e = dialogue(prosody).await;
        assert_eq!(e.reason.as_str(), "starttls_refused", "{e:?}");
        assert!(
            e.detail.contains("host-unknown")
                && e.detail.contains("This server does not serve other.test"),
            "{e:?}"
        );
        // A condition without text, after the features; entities in the text.
        let e = dialogue(
            "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'><stream:error>\
             <policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>",
        )
        .await;
        assert!(e.detail.contains("the error policy-violation"), "{e:?}");
        assert!(!e.detail.contains(": \""), "{e:?}");
        let e = dialogue(
            "<stream:stream><stream:error><conflict/><text>a &lt;b&gt; &amp; c</text>\
             </stream:error>",
        )
        .await;
        assert!(e.detail.contains("\"a <b> & c\""), "{e:?}");
        // One that never ends: what was read of it, within the bound.
        let mut endless = String::from("<stream:stream><stream:error><system-shutdown/>");
        endless.push_str(&"<x/>".repeat(MAX_ERROR_TAGS * 2));
        let e = dialogue(&endless).await;
        assert_eq!(e.reason.as_str(), "starttls_refused");
        assert!(e.detail.contains("system-shutdown"), "{e:?}");
        // A stream closed without features offers no TLS.
        let e = dialogue("<stream:stream></stream:stream>").await;
        assert_eq!(e.reason.as_str(), "starttls_unsupported");
    }

    #[test]
    fn the_domain_cannot_break_out_of_its_attribute() {
        assert_eq!(escape("a'b<c>&\""), "a&apos;b&lt;c&gt;&amp;&quot;");
    }
}
