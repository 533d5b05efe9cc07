//! Loopback ports for servers a test starts itself or tells the exporter about. Each is free
//! when returned and released again, so the program being started can bind it.

use std::net::{SocketAddr, TcpListener, UdpSocket};

/// A loopback address nothing listens on right now.
pub fn free_loopback_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
}

/// A loopback TCP port nothing listens on right now.
pub fn free_port() -> u16 {
    free_loopback_addr().port()
}

/// A loopback port free for both UDP and TCP (a name server listens on both).
pub fn free_udp_and_tcp_port() -> u16 {
    let udp = UdpSocket::bind("127.0.0.1:0").expect("a free loopback UDP port");
    let port = udp.local_addr().expect("addr").port();
    match TcpListener::bind(("127.0.0.1", port)) {
        Ok(_) => port,
        Err(_) => free_udp_and_tcp_port(),
    }
}

/// An address on which nothing listens (bound and closed again, from the test's runtime).
pub async fn closed_port() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    listener.local_addr().expect("addr")
    // dropped here: the port is closed again
}
