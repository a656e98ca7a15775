//! The `hubd` binary: parse arguments, load the configuration (exit 78 naming the key when it
//! is wrong), run until SIGTERM, then drain.

use std::path::PathBuf;

use clap::Parser;

/// Hub daemon: terminates embassy tunnels (QUIC + mutual TLS) and routes their services.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Configuration file.
    #[arg(long, default_value = "/etc/legatura/hubd.toml")]
    config: PathBuf,
    /// Check the configuration and exit.
    #[arg(long)]
    check: bool,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    daemon::logging::init();
    let config = hubd::Config::load(&args.config).unwrap_or_else(|e| e.exit());
    if args.check {
        return std::process::ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(error) => {
            tracing::error!(%error, "cannot start the runtime");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(hubd::run(config, async {
        daemon::shutdown_signal().await;
    }));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "hubd failed");
            std::process::ExitCode::FAILURE
        }
    }
}
