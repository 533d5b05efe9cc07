//! Command-line flags, named as every Prometheus exporter names them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

pub use crate::logging::{LogFormat, LogLevel};

/// The default listen address. Prometheus's exporter port range 9100–9999 is fully allocated,
/// so the port sits outside it, clear of blackbox_exporter (9115), ssl_exporter (9219) and
/// x509-certificate-exporter (9793), which operators often run alongside during a migration.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:10443";

/// Probes TLS endpoints and certificate files; serves what it found for Prometheus.
///
/// Without a subcommand it runs the exporter (the flags below); `check` probes once and
/// explains what it found.
#[derive(Debug, Parser)]
#[command(name = "cert-expiry-exporter", version, about)]
pub struct Cli {
    /// What to do instead of running the exporter.
    #[command(subcommand)]
    pub command: Option<Command>,

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

/// Subcommands; the exporter itself runs when none is given, so existing command lines keep
/// working.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Probe targets once and explain what is wrong in plain words. Exit status: 0 all fine,
    /// 1 something needs attention, 2 something is broken, 3 the check could not run.
    Check(CheckArgs),
}

/// `check`'s arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {
    /// Endpoints as `host:port`; with --config.file, names of configured targets (or
    /// endpoints). Without any, every configured target.
    pub targets: Vec<String>,

    /// Check the targets of this configuration file (endpoints given as arguments are
    /// checked with the options below, not the file's defaults).
    #[arg(long = "config.file")]
    pub config_file: Option<PathBuf>,

    /// Speak this protocol's STARTTLS dialogue before the handshake.
    #[arg(long, value_parser = ["smtp", "imap", "pop3", "ftp", "ldap", "postgres", "mysql", "xmpp"])]
    pub starttls: Option<String>,

    /// SNI and the name the certificate must cover (default: the host of the endpoint).
    #[arg(long = "server-name")]
    pub server_name: Option<String>,

    /// Extra trust anchors (PEM), added to the system store.
    #[arg(long = "ca-file")]
    pub ca_file: Option<PathBuf>,

    /// Report format.
    #[arg(long, value_enum, default_value_t = CheckOutput::Text)]
    pub output: CheckOutput,

    /// A certificate expiring within this many days needs attention (exit 1).
    #[arg(long = "warn-days", default_value_t = 28.0)]
    pub warn_days: f64,

    /// Budget for each probe (default: the configured one, else 10s).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub timeout: Option<Duration>,
}

/// `check --output` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckOutput {
    /// A report for people: colour on a terminal, plain when piped.
    Text,
    /// The same facts as one JSON document, for scripts.
    Json,
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
