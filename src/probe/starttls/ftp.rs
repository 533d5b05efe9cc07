//! FTP (RFC 4217): greeting `220`, then `AUTH TLS` answered by `234`. A permanent refusal (any
//! `5xx`: not implemented, not configured, login first) means the server does not offer TLS.

use tokio::io::{AsyncRead, AsyncWrite};

use super::Dialogue;
use crate::probe::reason::ProbeFailure;

/// Runs the FTP dialogue up to the server's `234`.
pub(super) async fn negotiate<S>(d: &mut Dialogue<S>) -> Result<(), ProbeFailure>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut greeting = d.read_reply().await?;
    // 120: "ready in nnn minutes", followed by the real greeting.
    if greeting.code == 120 {
        greeting = d.read_reply().await?;
    }
    if greeting.code != 220 {
        return Err(d.failure(format_args!("greeting {greeting}")));
    }
    d.send(b"AUTH TLS\r\n").await?;
    let answer = d.read_reply().await?;
    match answer.code {
        234 => Ok(()),
        500..=599 => Err(d.unsupported(format_args!("AUTH TLS answered {answer}"))),
        _ => Err(d.failure(format_args!("AUTH TLS answered {answer}"))),
    }
}
