//! Log set-up: logfmt by default (as Prometheus and its exporters log), JSON on request.

use clap::ValueEnum;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::prelude::*;

/// `--log.level` values (defined here, re-exported by `cli`, so logging needs nothing above it).
// The variants' words are `//` comments: clap would print doc comments as per-value help, and
// `--help` is kept as it was.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogLevel {
    // As info, plus one line per probe and why HTTP client connections ended.
    Debug,
    // As warn, plus start-up, reloads, target files loaded and shutdown.
    Info,
    // As error, plus one line per failed probe and other problems the exporter runs on through.
    Warn,
    // Only a rejected reload or target file, or a /metrics page that failed to encode.
    Error,
}

/// `--log.format` values (variants commented with `//`, as for [`LogLevel`]).
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    // Pairs of key=value, as Prometheus and its exporters log.
    Logfmt,
    // One JSON object per line, the event's fields flattened into it.
    Json,
}

/// Installs the global subscriber, writing to standard error.
pub fn init(level: LogLevel, format: LogFormat) {
    let filter = match level {
        LogLevel::Debug => LevelFilter::DEBUG,
        LogLevel::Info => LevelFilter::INFO,
        LogLevel::Warn => LevelFilter::WARN,
        LogLevel::Error => LevelFilter::ERROR,
    };
    // Our own lines at the chosen level; dependencies' chatter only from warn up.
    let targets = tracing_subscriber::filter::Targets::new()
        .with_default(filter.min(LevelFilter::WARN))
        .with_target(env!("CARGO_CRATE_NAME"), filter);
    let registry = tracing_subscriber::registry().with(targets);
    let _ = match format {
        LogFormat::Logfmt => registry
            .with(
                tracing_logfmt::builder()
                    .layer()
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
}
