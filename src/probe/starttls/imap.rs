//! IMAP (RFC 3501): greeting `* OK`, `CAPABILITY` whose answer must name `STARTTLS`, then
//! `STARTTLS` answered by a tagged `OK`. Untagged lines may come before any tagged answer.

use tokio::io::{AsyncRead, AsyncWrite};

use super::{quote, Dialogue};
use crate::probe::reason::ProbeFailure;

/// Runs the IMAP dialogue up to the server's tagged `OK` to `STARTTLS`.
pub(super) async fn negotiate<S>(d: &mut Dialogue<S>) -> Result<(), ProbeFailure>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let greeting = d.read_line().await?;
    if !starts_with_ignore_case(&greeting, "* OK") {
        // `* PREAUTH` forbids STARTTLS, `* BYE` refuses the connection.
        return Err(d.failure(format_args!("greeting {}", quote(greeting.as_bytes()))));
    }
    d.send(b"c1 CAPABILITY\r\n").await?;
    let (status, untagged) = tagged_answer(d, "c1").await?;
    if !starts_with_ignore_case(&status, "c1 OK") {
        return Err(d.failure(format_args!(
            "CAPABILITY answered {}",
            quote(status.as_bytes())
        )));
    }
    let offered = untagged
        .iter()
        .filter(|l| starts_with_ignore_case(l, "* CAPABILITY "))
        .flat_map(|l| l.split_whitespace().skip(2))
        .any(|cap| cap.eq_ignore_ascii_case("STARTTLS"));
    if !offered {
        return Err(d.unsupported("the CAPABILITY answer does not name STARTTLS"));
    }
    d.send(b"c2 STARTTLS\r\n").await?;
    let (status, _) = tagged_answer(d, "c2").await?;
    if !starts_with_ignore_case(&status, "c2 OK") {
        return Err(d.failure(format_args!(
            "STARTTLS answered {}",
            quote(status.as_bytes())
        )));
    }
    Ok(())
}

/// Reads untagged lines until the one tagged `tag`; returns it and the untagged ones.
async fn tagged_answer<S>(
    d: &mut Dialogue<S>,
    tag: &str,
) -> Result<(String, Vec<String>), ProbeFailure>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let prefix = format!("{tag} ");
    let mut untagged = Vec::new();
    loop {
        let line = d.read_line().await?;
        if starts_with_ignore_case(&line, &prefix) {
            return Ok((line, untagged));
        }
        if !line.starts_with("* ") {
            return Err(d.failure(format_args!(
                "expected an answer tagged {tag}, got {}",
                quote(line.as_bytes())
            )));
        }
        // Each line was bounded by the reader, and the dialogue's total is bounded too.
        untagged.push(line);
    }
}

/// IMAP keywords and tags are case-insensitive.
fn starts_with_ignore_case(line: &str, prefix: &str) -> bool {
    line.get(..prefix.len())
        .is_some_and(|start| start.eq_ignore_ascii_case(prefix))
}
