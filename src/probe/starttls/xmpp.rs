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
    if open.name != "stream" || open.kind != Kind::Start {
        return Err(d.failure(format_args!(
            "expected the server's stream header, got {}",
            quote(open.text.as_bytes())
        )));
    }
    let features = next_tag(d).await?;
    match (features.name.as_str(), features.kind) {
        ("features", Kind::Empty) => {
            return Err(d.unsupported("the stream features are empty"));
        }
        ("features", Kind::Start) => {}
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

/// The failure for an unexpected tag; a stream error or `<failure/>` says so.
fn unexpected<S>(d: &Dialogue<S>, expected: &str, got: &Tag) -> ProbeFailure
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let what = match got.name.as_str() {
        "error" => "a stream error",
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
        let raw = d.read_until(MAX_LINE, "an XML tag", split_tag).await?;
        if let Some(tag) = parse_tag(&raw) {
            return Ok(tag);
        }
    }
}

/// Finds the first complete `<...>` in `buf` (a `>` inside quotes does not end it); returns the
/// bytes consumed (text before it included) and the tag's text.
fn split_tag(buf: &[u8]) -> Option<(usize, String)> {
    let start = buf.iter().position(|&b| b == b'<')?;
    let mut quote: Option<u8> = None;
    for (i, &b) in buf.iter().enumerate().skip(start + 1) {
        match (quote, b) {
            (Some(q), _) if b == q => quote = None,
            (Some(_), _) => {}
            (None, b'\'' | b'"') => quote = Some(b),
            (None, b'>') => {
                let text = String::from_utf8_lossy(&buf[start..=i]).into_owned();
                return Some((i + 1, text));
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
    })
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
        let (used, text) = split_tag(buf).unwrap();
        assert_eq!(text, "<stream:features>");
        let tag = parse_tag(&text).unwrap();
        assert_eq!((tag.name.as_str(), tag.kind), ("features", Kind::Start));
        let (_, text) = split_tag(&buf[used..]).unwrap();
        assert_eq!(text, "<starttls xmlns='a>b'>");
        let tag = parse_tag("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>").unwrap();
        assert_eq!((tag.name.as_str(), tag.kind), ("proceed", Kind::Empty));
        assert_eq!(parse_tag("</stream:features>").unwrap().kind, Kind::End);
        assert!(parse_tag("<?xml version='1.0'?>").is_none());
        assert!(split_tag(b"<unfinished").is_none());
    }

    #[test]
    fn the_domain_cannot_break_out_of_its_attribute() {
        assert_eq!(escape("a'b<c>&\""), "a&apos;b&lt;c&gt;&amp;&quot;");
    }
}
