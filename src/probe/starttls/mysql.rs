//! MySQL and MariaDB: the server speaks first with its initial handshake packet; when its
//! capability flags include CLIENT_SSL the client answers with an SSLRequest packet (the first
//! 32 bytes of a handshake response) and both start TLS. Packets are a 3-byte little-endian
//! length, a sequence number and the payload.

use tokio::io::{AsyncRead, AsyncWrite};

use super::{quote, Dialogue, MAX_LINE};
use crate::probe::reason::ProbeFailure;

/// Capability flags (the protocol's CLIENT_* constants) sent in the SSLRequest; CLIENT_SSL is
/// also what the server's greeting must have.
const CLIENT_LONG_PASSWORD: u32 = 0x0000_0001;
const CLIENT_PROTOCOL_41: u32 = 0x0000_0200;
const CLIENT_SSL: u32 = 0x0000_0800;
const CLIENT_SECURE_CONNECTION: u32 = 0x0000_8000;
const CLIENT_PLUGIN_AUTH: u32 = 0x0008_0000;
/// utf8mb4_general_ci, used when the server names no character set.
const DEFAULT_CHARSET: u8 = 45;

/// What the initial handshake packet tells.
#[derive(Debug, PartialEq, Eq)]
struct Greeting {
    server_version: String,
    capabilities: u32,
    charset: Option<u8>,
}

/// Reads the server's initial handshake and, when it offers TLS, sends the SSLRequest.
pub(super) async fn negotiate<S>(d: &mut Dialogue<S>) -> Result<(), ProbeFailure>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let head = d.read_exact(4).await?;
    let length = u32::from_le_bytes([head[0], head[1], head[2], 0]) as usize;
    let sequence = head[3];
    if length > MAX_LINE {
        return Err(d.failure(format_args!(
            "an initial packet of {length} bytes (more than {MAX_LINE}); is this MySQL?"
        )));
    }
    let payload = d.read_exact(length).await?;
    if let Some(error) = ErrorPacket::parse(&payload) {
        return Err(d.refused(format_args!(
            "the server sent error {} instead of its greeting: {}",
            error.code,
            quote(&error.message)
        )));
    }
    let greeting = parse_greeting(&payload).map_err(|e| d.failure(e))?;
    if greeting.capabilities & CLIENT_SSL == 0 {
        return Err(d.unsupported(format_args!(
            "server {} does not offer TLS (no CLIENT_SSL capability)",
            quote(greeting.server_version.as_bytes())
        )));
    }
    d.send(&ssl_request(sequence.wrapping_add(1), greeting.charset))
        .await
}

/// An error packet, which a server sends instead of its greeting when it refuses the client
/// before any handshake: 1130 (this host is not allowed to connect), 1040 (too many
/// connections), 1129 (host blocked after too many errors), …
#[derive(Debug, PartialEq, Eq)]
struct ErrorPacket {
    code: u16,
    message: Vec<u8>,
}

impl ErrorPacket {
    /// Reads `0xff`, the code (2 bytes, little-endian), then the message, after a
    /// `#` and a five-character SQLSTATE when there is one (servers send none before the
    /// handshake); `None` when `payload` is not an error packet.
    fn parse(payload: &[u8]) -> Option<ErrorPacket> {
        if payload.first() != Some(&0xff) {
            return None;
        }
        let code = payload
            .get(1..3)
            .map_or(0, |c| u16::from_le_bytes([c[0], c[1]]));
        let mut message = payload.get(3..).unwrap_or_default();
        if message.first() == Some(&b'#') {
            message = message.get(6..).unwrap_or_default();
        }
        Some(ErrorPacket {
            code,
            message: message.to_vec(),
        })
    }
}

/// Parses a protocol-10 initial handshake.
fn parse_greeting(payload: &[u8]) -> Result<Greeting, String> {
    match payload.first() {
        Some(10) => {}
        Some(v) => return Err(format!("unsupported handshake protocol version {v}")),
        None => return Err("an empty initial packet".into()),
    }
    let rest = &payload[1..];
    let nul = rest
        .iter()
        .position(|&b| b == 0)
        .ok_or("the server version is not terminated")?;
    let server_version = String::from_utf8_lossy(&rest[..nul]).into_owned();
    // connection id (4), auth-plugin-data part 1 (8), filler (1), capabilities low (2)
    let after = &rest[nul + 1..];
    let low = after
        .get(13..15)
        .ok_or("the initial packet ends before its capability flags")?;
    let mut capabilities = u16::from_le_bytes([low[0], low[1]]) as u32;
    // character set (1), status flags (2), capabilities high (2): optional in old servers
    let charset = after.get(15).copied();
    if let Some(high) = after.get(18..20) {
        capabilities |= (u16::from_le_bytes([high[0], high[1]]) as u32) << 16;
    }
    Ok(Greeting {
        server_version,
        capabilities,
        charset,
    })
}

/// The SSLRequest packet: capabilities, max packet size, character set, 23 zero bytes.
fn ssl_request(sequence: u8, charset: Option<u8>) -> Vec<u8> {
    let flags = CLIENT_LONG_PASSWORD
        | CLIENT_PROTOCOL_41
        | CLIENT_SSL
        | CLIENT_SECURE_CONNECTION
        | CLIENT_PLUGIN_AUTH;
    let mut payload = Vec::with_capacity(32);
    payload.extend_from_slice(&flags.to_le_bytes());
    payload.extend_from_slice(&(16u32 << 20).to_le_bytes());
    payload.push(charset.unwrap_or(DEFAULT_CHARSET));
    payload.extend_from_slice(&[0; 23]);
    let mut packet = Vec::with_capacity(36);
    packet.extend_from_slice(&(payload.len() as u32).to_le_bytes()[..3]);
    packet.push(sequence);
    packet.extend(payload);
    packet
}

#[cfg(test)]
mod tests {
    use super::*;

    fn greeting(capabilities: u32) -> Vec<u8> {
        let mut p = vec![10];
        p.extend_from_slice(b"8.0.36\0");
        p.extend_from_slice(&7u32.to_le_bytes());
        p.extend_from_slice(b"abcdefgh\0");
        p.extend_from_slice(&(capabilities as u16).to_le_bytes());
        p.push(33);
        p.extend_from_slice(&2u16.to_le_bytes());
        p.extend_from_slice(&((capabilities >> 16) as u16).to_le_bytes());
        p
    }

    #[test]
    fn capabilities_and_errors() {
        let g = parse_greeting(&greeting(CLIENT_SSL | CLIENT_PLUGIN_AUTH)).unwrap();
        assert_eq!(g.server_version, "8.0.36");
        assert_eq!(g.capabilities, CLIENT_SSL | CLIENT_PLUGIN_AUTH);
        assert_eq!(g.charset, Some(33));
    }

    #[test]
    fn error_packets_before_the_greeting() {
        // As MariaDB 10.11 sends it to a host no account allows (no SQLSTATE before the
        // handshake).
        let refused = b"\xffj\x04Host '127.0.0.1' is not allowed to connect to this MariaDB server";
        assert_eq!(
            ErrorPacket::parse(refused),
            Some(ErrorPacket {
                code: 1130,
                message: refused[3..].to_vec()
            })
        );
        let e = ErrorPacket::parse(b"\xff\x69\x04#HY000Host is blocked").unwrap();
        assert_eq!(
            (e.code, e.message.as_slice()),
            (1129, &b"Host is blocked"[..])
        );
        assert_eq!(
            ErrorPacket::parse(b"\xff"),
            Some(ErrorPacket {
                code: 0,
                message: Vec::new()
            })
        );
        assert!(ErrorPacket::parse(&greeting(CLIENT_SSL)).is_none());
    }

    #[test]
    fn ssl_request_is_32_bytes_after_the_header() {
        let p = ssl_request(1, None);
        assert_eq!(&p[..4], &[32, 0, 0, 1]);
        assert_eq!(p.len(), 36);
        let flags = u32::from_le_bytes([p[4], p[5], p[6], p[7]]);
        assert_ne!(flags & CLIENT_SSL, 0);
    }
}
