//! PostgreSQL: the 8-byte SSLRequest (length 8, code 80877103), answered by one byte: `S` to
//! start TLS, `N` when the server has SSL off. Exactly one byte is read, so nothing the server
//! might send after it can be mistaken for part of the TLS session.

use tokio::io::{AsyncRead, AsyncWrite};

use super::Dialogue;
use crate::probe::reason::ProbeFailure;

/// Int32 length 8, Int32 request code 80877103 (1234 << 16 | 5679).
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// Sends the SSLRequest and reads the server's one-byte answer.
pub(super) async fn negotiate<S>(d: &mut Dialogue<S>) -> Result<(), ProbeFailure>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    d.send(&SSL_REQUEST).await?;
    let answer = d.read_exact(1).await?;
    match answer[0] {
        b'S' => Ok(()),
        b'N' => Err(d.unsupported("the server answered N: it has SSL turned off")),
        b'E' => Err(d.failure("the server answered the SSLRequest with an error message")),
        other => Err(d.failure(format_args!(
            "unexpected answer byte 0x{other:02x} to the SSLRequest"
        ))),
    }
}
