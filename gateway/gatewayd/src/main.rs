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
    // The tunnel's last warning shows in `/status` (`last_error`), for the LAN status page.
    daemon::logging::init_with(Some(gatewayd::TunnelWarnings));
    let config = gatewayd::Config::load(&args.config).unwrap_or_else(|e| e.exit());
    if args.check {
        return std::process::ExitCode::SUCCESS;
    }
    if let Some(Command::Enroll { code }) = args.command {
        return enroll_now(&config, &code);
    }
    daemon::run_until_signal("gatewayd", |stop| {
        gatewayd::run_with(config, gatewayd::Sandboxing::FromConfig, stop)
    })
}

/// `gatewayd enroll CODE`: one enrollment, its outcome in words for the person at the embassy.
fn enroll_now(config: &gatewayd::Config, code: &str) -> std::process::ExitCode {
    let outcome = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|rt| {
            rt.block_on(gatewayd::enroll::enroll(config, code))
                .map_err(|e| e.to_string())
        });
    match outcome {
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
    }
}

#[allow(clippy::print_stderr)]
fn say(text: &str) {
    eprintln!("{text}");
}
