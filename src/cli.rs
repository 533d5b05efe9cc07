//! Command-line flags, named as every Prometheus exporter names them.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, ValueEnum};

/// The default listen address. Prometheus's exporter port range 9100–9999 is fully allocated,
/// so the port sits outside it, clear of blackbox_exporter (9115), ssl_exporter (9219) and
/// x509-certificate-exporter (9793), which operators often run alongside during a migration.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:10443";

/// Probes TLS endpoints and certificate files; serves what it found for Prometheus.
#[derive(Debug, Parser)]
#[command(name = "cert-expiry-exporter", version, about)]
pub struct Cli {
    /// The YAML configuration file.
    #[arg(long = "config.file", default_value = "config.yaml")]
    pub config_file: PathBuf,

    /// Address to serve /metrics on (`host:port`, or `:port` for every IPv4 address).
    #[arg(long = "web.listen-address", default_value = DEFAULT_LISTEN, value_parser = parse_listen)]
    pub listen_address: SocketAddr,

    /// TLS and basic-auth settings for the endpoint (exporter-toolkit web config format).
    #[arg(long = "web.config.file")]
    pub web_config_file: Option<PathBuf>,

    /// Validate the configuration file and exit (0 valid, 1 invalid).
    #[arg(long = "check-config")]
    pub check_config: bool,

    /// Least severe log level written.
    #[arg(long = "log.level", value_enum, default_value_t = LogLevel::Info)]
    pub log_level: LogLevel,

    /// Log line format.
    #[arg(long = "log.format", value_enum, default_value_t = LogFormat::Logfmt)]
    pub log_format: LogFormat,

    /// Probe only shard INDEX of COUNT of the targets (INDEX may be a StatefulSet pod name
    /// ending in -<ordinal>); run COUNT replicas with the same configuration to split the list.
    #[arg(long = "shard", value_name = "INDEX/COUNT", value_parser = crate::shard::Shard::parse)]
    pub shard: Option<crate::shard::Shard>,
}

/// Accepts `ip:port`, `[ipv6]:port` and the Go exporters' `:port` shorthand.
fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    let full = match text.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => text.to_string(),
    };
    full.parse()
        .map_err(|_| format!("{text:?} is not host:port, [ipv6]:port or :port"))
}

/// `--log.level` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

/// `--log.format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Logfmt,
    Json,
}
