//! The `cert-expiry-exporter` binary: parses flags and hands over to [`app`].

use std::process::ExitCode;

use clap::Parser;

use cert_expiry_exporter::{app, cli::Cli, logging};

fn main() -> ExitCode {
    let cli = Cli::parse();
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
