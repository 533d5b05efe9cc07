//! Mutual TLS at probe time: the server's verdict on the client certificate a target presents.
//!
//! The certificate and key themselves are a [`crate::x509::client_identity::ClientIdentity`],
//! loaded with the configuration.
//!
//! In TLS 1.3 the client's certificate travels in its last flight, after which the client
//! considers the handshake done: a server that refuses the certificate (or its absence) says so
//! only afterwards, with an alert. [`await_verdict`] waits briefly for that answer.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::time::Instant;
use tokio_rustls::client::TlsStream;

/// How long to wait, at most, for a TLS 1.3 server's verdict on the client certificate. Servers
/// answer within a round trip (session tickets when they accept, an alert when they refuse); the
/// cap only matters for a server that accepts and then stays silent.
pub const VERDICT_WAIT: Duration = Duration::from_secs(1);

/// How often the wait checks whether session tickets arrived (they carry no application data,
/// so a read does not return for them).
const TICKET_POLL: Duration = Duration::from_millis(25);

/// After a TLS 1.3 handshake in which the server asked for a client certificate, waits for the
/// server's first word: session tickets, data or a close mean it accepted; an alert means it
/// refused (the error is returned for classification). Bounded by [`VERDICT_WAIT`] and `deadline`.
pub async fn await_verdict<S>(stream: &mut TlsStream<S>, deadline: Instant) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let until = deadline.min(Instant::now() + VERDICT_WAIT);
    let mut byte = [0u8; 1];
    loop {
        if stream.get_ref().1.tls13_tickets_received() > 0 {
            return Ok(());
        }
        let slice_end = until.min(Instant::now() + TICKET_POLL);
        // Dropping a pending read is safe: records already read stay in the rustls buffer.
        match tokio::time::timeout_at(slice_end, stream.read(&mut byte)).await {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(e)) => return Err(e),
            Err(_) if Instant::now() >= until => return Ok(()),
            Err(_) => continue,
        }
    }
}
