//! The `cert-expiry-exporter` binary: parses flags and hands over to [`app`] (the exporter) or
//! [`check`] (the `check` subcommand).

use std::process::ExitCode;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches};

use cert_expiry_exporter::cli::{Cli, Command, LogLevel};
use cert_expiry_exporter::{app, check, logging};

/// jemalloc rather than glibc's malloc. Measured side by side (docs/performance.md §7, §8): at
/// 10,000 targets 52–53 MiB under 16 concurrent scrapes against 62 MiB and 47.6 MiB once probing
/// settles against 58.4; at 100,000 targets 289 MiB against 349 after the first round; 1.308 M
/// instructions per probe against 1.320 M. glibc keeps what it freed in per-thread arenas (the
/// configuration's load, the first round) and lays the later state and the renders on top;
/// `MALLOC_ARENA_MAX=2` helped at 10,000 targets only.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let matches = match Cli::command().try_get_matches() {
        Ok(matches) => matches,
        // `check` gives 2 a meaning of its own (broken), so its usage errors exit with 3.
        Err(e) if e.use_stderr() && std::env::args().any(|a| a == "check") => {
            let _ = e.print();
            return ExitCode::from(check::EXIT_UNUSABLE);
        }
        Err(e) => e.exit(),
    };
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let given = |id: &str| matches.value_source(id) == Some(ValueSource::CommandLine);
    if let Some(Command::Check(args)) = &cli.command {
        let mut args = args.clone();
        // `--config.file x check` means the same as `check --config.file x`.
        if args.config_file.is_none() && given("config_file") {
            args.config_file = Some(cli.config_file.clone());
        }
        // The report already says what went wrong; log lines only when asked for.
        let level = if given("log_level") {
            cli.log_level
        } else {
            LogLevel::Error
        };
        logging::init(level, cli.log_format);
        return ExitCode::from(check::run(&args));
    }
    logging::init(cli.log_level, cli.log_format);

    let loaded = match app::load(&cli.config_file) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("invalid configuration: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(web) = &cli.web_config_file {
        if let Err(e) = cert_expiry_exporter::server::web_config::WebConfig::load(web) {
            eprintln!("invalid web configuration: {e}");
            return ExitCode::FAILURE;
        }
    }
    if cli.check_config {
        let from_files = match cert_expiry_exporter::inventory::check_files(&loaded.config) {
            Ok(count) => count,
            Err(e) => {
                eprintln!("invalid target file: {e}");
                return ExitCode::FAILURE;
            }
        };
        println!(
            "{}: valid, {} targets",
            cli.config_file.display(),
            loaded.config.targets.len() + from_files
        );
        return ExitCode::SUCCESS;
    }

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let web = app::WebSettings {
            listen: cli.listen_address,
            config_file: cli.web_config_file.clone(),
        };
        let shard = cli.shard.unwrap_or_default();
        match app::Exporter::start_sharded(&cli.config_file, loaded, web, shard).await {
            Ok(exporter) => match exporter.run_until_signal().await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("signal handling failed: {e}");
                    ExitCode::FAILURE
                }
            },
            Err(e) => {
                eprintln!("cannot listen on {}: {e}", cli.listen_address);
                ExitCode::FAILURE
            }
        }
    })
}
