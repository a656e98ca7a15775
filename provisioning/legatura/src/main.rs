//! `legatura`, the operator CLI. `legatura up` runs the whole platform on this machine with
//! embedded defaults: a hub and one enrolled embassy gateway, with a development CA.

mod up;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Legătura: the consular contact centre platform.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a hub and one embassy gateway on this machine until Ctrl-C.
    Up {
        /// Where keys, certificates, configuration and state live.
        #[arg(long, default_value = "legatura-data")]
        data: PathBuf,
        /// Use five consecutive ports from here instead of the defaults (4433/udp, 9100, 9180,
        /// 9101, 8080).
        #[arg(long)]
        port_base: Option<u16>,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    daemon::logging::init();
    let result = match cli.command {
        Command::Up { data, port_base } => up::run(&data, up::Ports::new(port_base)),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("legatura: {error:#}");
            }
            std::process::ExitCode::FAILURE
        }
    }
}
