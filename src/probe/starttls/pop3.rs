//! POP3 (RFC 2595): greeting `+OK`, `CAPA` whose list must name `STLS`, then `STLS` answered by
//! `+OK`. A server without `CAPA` (RFC 2449 came later) is asked `STLS` directly.

use tokio::io::{AsyncRead, AsyncWrite};

use super::{quote, Dialogue, MAX_REPLY_LINES};
use crate::probe::reason::ProbeFailure;

/// Runs the POP3 dialogue up to the server's `+OK` to `STLS`.
pub(super) async fn negotiate<S>(d: &mut Dialogue<S>) -> Result<(), ProbeFailure>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let greeting = d.read_line().await?;
    if !greeting.starts_with("+OK") {
        return Err(d.failure(format_args!("greeting {}", quote(greeting.as_bytes()))));
    }
    d.send(b"CAPA\r\n").await?;
    let answer = d.read_line().await?;
    // Some(true/false) when the server listed its capabilities, None when it has no CAPA.
    let listed = if answer.starts_with("+OK") {
        let mut stls = false;
        let mut lines = 0;
        loop {
            let line = d.read_line().await?;
            if line == "." {
                break;
            }
            lines += 1;
            if lines > MAX_REPLY_LINES {
                return Err(d.failure(format_args!(
                    "a CAPA list of more than {MAX_REPLY_LINES} lines"
                )));
            }
            stls |= line
                .split_whitespace()
                .next()
                .is_some_and(|k| k.eq_ignore_ascii_case("STLS"));
        }
        Some(stls)
    } else if answer.starts_with("-ERR") {
        None
    } else {
        return Err(d.failure(format_args!("CAPA answered {}", quote(answer.as_bytes()))));
    };
    if listed == Some(false) {
        return Err(d.unsupported("the CAPA list does not name STLS"));
    }
    d.send(b"STLS\r\n").await?;
    let answer = d.read_line().await?;
    if answer.starts_with("+OK") {
        Ok(())
    } else if listed.is_none() && answer.starts_with("-ERR") {
        Err(d.unsupported(format_args!(
            "no CAPA, and STLS answered {}",
            quote(answer.as_bytes())
        )))
    } else {
        Err(d.failure(format_args!("STLS answered {}", quote(answer.as_bytes()))))
    }
}
