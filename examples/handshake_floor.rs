//! The floor the exporter's per-probe CPU is measured against: a bare rustls client doing full
//! handshakes with complete certificate verification (rustls-webpki), one after another, with
//! nothing else around them — no scheduler, no chain analysis, no metrics.
//!
//! ```text
//! cargo run --release --example handshake_floor -- ADDR SERVER_NAME CA_PEM [COUNT] [--probe-suites]
//! ```
//!
//! Prints the process's user+system CPU per handshake (getrusage), which is what
//! `scripts/bench.sh` compares the exporter and blackbox_exporter with. Session resumption is
//! off, as in the exporter, so every handshake is a full one. rustls's default cipher suites
//! are offered (AES-256-GCM-SHA384 first); `--probe-suites` offers them in the exporter's order
//! instead (suites on SHA-256 first), to show what that order alone is worth.

use std::io::Write;
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::client::Resumption;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, RootCertStore};

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes into the struct we hand it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let probe_suites = args.iter().any(|a| a == "--probe-suites");
    let args: Vec<&String> = args.iter().filter(|a| *a != "--probe-suites").collect();
    if args.len() < 4 {
        eprintln!(
            "usage: {} ADDR SERVER_NAME CA_PEM [COUNT] [--probe-suites]",
            args[0]
        );
        std::process::exit(2);
    }
    let (addr, server_name, ca) = (args[1], args[2].clone(), args[3]);
    let count: u32 = args.get(4).map(|c| c.parse()).transpose()?.unwrap_or(2000);

    let mut roots = RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut std::fs::read(ca)?.as_slice()) {
        roots.add(cert?)?;
    }
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    if probe_suites {
        // As the exporter's probe_provider(): SHA-256 suites first, every suite kept.
        provider.cipher_suites.sort_by_key(|s| {
            let hash = match s {
                rustls::SupportedCipherSuite::Tls13(s) => s.common.hash_provider.algorithm(),
                rustls::SupportedCipherSuite::Tls12(s) => s.common.hash_provider.algorithm(),
            };
            hash != rustls::crypto::hash::HashAlgorithm::SHA256
        });
    }
    let provider = Arc::new(provider);
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(rustls::ALL_VERSIONS)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.resumption = Resumption::disabled();
    let config = Arc::new(config);
    let name = ServerName::try_from(server_name)?;

    let handshake = || -> Result<(), Box<dyn std::error::Error>> {
        let mut sock = TcpStream::connect(addr)?;
        sock.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut conn = ClientConnection::new(config.clone(), name.clone())?;
        while conn.is_handshaking() {
            conn.complete_io(&mut sock)?;
        }
        conn.send_close_notify();
        let _ = conn.write_tls(&mut sock);
        let _ = sock.flush();
        Ok(())
    };
    // Warm up (page in code, fill allocator caches), then measure.
    for _ in 0..50 {
        handshake()?;
    }
    let (cpu, wall) = (cpu_seconds(), Instant::now());
    for _ in 0..count {
        handshake()?;
    }
    let cpu = cpu_seconds() - cpu;
    let wall = wall.elapsed().as_secs_f64();
    println!(
        "handshakes={count} cpu_seconds={cpu:.3} cpu_ms_per_handshake={:.4} wall_seconds={wall:.2} suites={}",
        cpu * 1000.0 / f64::from(count),
        if probe_suites { "probe" } else { "default" }
    );
    Ok(())
}
