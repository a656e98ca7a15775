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
    daemon::run_until_signal("hubd", |stop| {
        hubd::run_with(config, hubd::Sandboxing::FromConfig, stop)
    })
}
