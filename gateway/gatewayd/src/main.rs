//! The `gatewayd` binary: parse arguments, load the configuration (exit 78 naming the key when
//! it is wrong), run.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Embassy gateway daemon: tunnels local services to the Legătura hub over QUIC with mutual TLS.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Configuration file.
    #[arg(long, default_value = "/etc/legatura/gatewayd.toml")]
    config: PathBuf,
    /// Check the configuration and exit.
    #[arg(long)]
    check: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Enrol this appliance with the one-time code from the NOC, then exit.
    Enroll {
        /// The code, e.g. K7QF-2M9X-HT4A-W8RC-J.
        code: String,
    },
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    daemon::logging::init();
    let config = gatewayd::Config::load(&args.config).unwrap_or_else(|e| e.exit());
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
    if let Some(Command::Enroll { code }) = args.command {
        return match runtime.block_on(gatewayd::enroll::enroll(&config, &code)) {
            Ok(enrolled) => {
                say(&format!(
                    "enrolled as {}/{}; start the daemon to bring the tunnel up",
                    enrolled.mission, enrolled.appliance
                ));
                std::process::ExitCode::SUCCESS
            }
            Err(error) => {
                say(&format!("enrollment failed: {error}"));
                std::process::ExitCode::FAILURE
            }
        };
    }
    let result = runtime.block_on(gatewayd::run(config, async {
        daemon::shutdown_signal().await;
    }));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "gatewayd failed");
            std::process::ExitCode::FAILURE
        }
    }
}

#[allow(clippy::print_stderr)]
fn say(text: &str) {
    eprintln!("{text}");
}
