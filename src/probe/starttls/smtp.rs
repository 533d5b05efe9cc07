//! SMTP (RFC 3207): greeting `220`, `EHLO`, a `250` capability list that must name `STARTTLS`,
//! then `STARTTLS` answered by `220`. Greetings and capability lists may span many lines.

use tokio::io::{AsyncRead, AsyncWrite};

use super::Dialogue;
use crate::probe::reason::ProbeFailure;

/// Runs the SMTP dialogue up to the server's `220` to `STARTTLS`, introducing the probe as
/// `ehlo_name` (a domain or an address literal: RFC 5321 §4.1.1.1 allows nothing else, and
/// servers enforcing it refuse a bare word).
pub(super) async fn negotiate<S>(d: &mut Dialogue<S>, ehlo_name: &str) -> Result<(), ProbeFailure>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let greeting = d.read_reply().await?;
    if greeting.code != 220 {
        return Err(d.failure(format_args!("greeting {greeting}")));
    }
    d.send(format!("EHLO {ehlo_name}\r\n").as_bytes()).await?;
    let ehlo = d.read_reply().await?;
    if ehlo.code != 250 {
        return Err(d.failure(format_args!("EHLO answered {ehlo}")));
    }
    // The first line is the server's name; each following line starts with a keyword.
    let offered = ehlo.texts().skip(1).any(|line| {
        line.split_whitespace()
            .next()
            .is_some_and(|keyword| keyword.eq_ignore_ascii_case("STARTTLS"))
    });
    if !offered {
        return Err(d.unsupported("the EHLO answer does not list STARTTLS"));
    }
    d.send(b"STARTTLS\r\n").await?;
    let answer = d.read_reply().await?;
    if answer.code != 220 {
        return Err(d.failure(format_args!("STARTTLS answered {answer}")));
    }
    Ok(())
}
