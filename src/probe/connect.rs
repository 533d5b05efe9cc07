//! TCP connection with the probe's deadline.

use std::io::ErrorKind;
use std::net::SocketAddr;

use tokio::net::TcpStream;
use tokio::time::Instant;

use super::reason::{ProbeFailure, ProbeReason};

/// Connects to the first address that answers, in order, all within `deadline`.
/// Returns the stream and the address used; on failure, the last address's reason.
pub async fn connect(
    addrs: &[SocketAddr],
    deadline: Instant,
) -> Result<(TcpStream, SocketAddr), ProbeFailure> {
    let mut last = ProbeFailure::new(ProbeReason::Connect, "no address to connect to");
    for &addr in addrs {
        match tokio::time::timeout_at(deadline, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                // Handshake messages are small and latency-bound; do not wait for Nagle.
                let _ = stream.set_nodelay(true);
                return Ok((stream, addr));
            }
            Ok(Err(e)) => last = classify(addr, &e),
            Err(_) => {
                return Err(ProbeFailure::new(
                    ProbeReason::ConnectTimeout,
                    format!("connecting to {addr}: no answer before the timeout"),
                ))
            }
        }
    }
    Err(last)
}

fn classify(addr: SocketAddr, e: &std::io::Error) -> ProbeFailure {
    let reason = match e.kind() {
        ErrorKind::ConnectionRefused => ProbeReason::ConnectRefused,
        ErrorKind::TimedOut => ProbeReason::ConnectTimeout,
        ErrorKind::HostUnreachable
        | ErrorKind::NetworkUnreachable
        | ErrorKind::AddrNotAvailable => ProbeReason::ConnectUnreachable,
        _ => ProbeReason::Connect,
    };
    ProbeFailure::new(reason, format!("connecting to {addr}: {e}"))
}
