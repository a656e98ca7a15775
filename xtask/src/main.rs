//! Repository automation for Legătura, run as `cargo xtask <command>` from anywhere in the tree.
//!
//! Every check the project relies on is a subcommand here, so `.ci/run` and a developer at a
//! terminal run the same code. xtask only orchestrates: it shells out to cargo, apt-get and
//! cargo plugins, and never links a project crate, so a broken crate cannot break the tooling
//! that reports on it.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool reports on the terminal; all progress goes through `say!`"
)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::{Parser, Subcommand};

/// Prints one progress line to stderr, prefixed so it stands out among cargo's own output.
macro_rules! say {
    ($($arg:tt)*) => {
        eprintln!("xtask: {}", format_args!($($arg)*))
    };
}

mod bench;
mod cmd;
mod deps;
mod fuzz;
mod image;
mod metadata;
mod pipeline;
mod tidy;

/// Repository automation for Legătura.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Install the Debian packages the tests and benchmarks need (only the missing ones).
    Deps,
    /// Install deps, build every binary, run every test. Arguments after `--` go to `cargo test`.
    Test {
        /// Extra arguments for `cargo test`, e.g. `-- -p tunnel-proto` or `-- -- --nocapture`.
        #[arg(last = true)]
        cargo_test_args: Vec<String>,
    },
    /// Everything CI checks: fmt, tidy, clippy, cargo-deny, docs, then `test`.
    Ci {
        /// Run the remaining steps after one fails, to see every failure in one go.
        #[arg(long)]
        keep_going: bool,
    },
    /// Check repository invariants that neither rustc nor clippy can see.
    Tidy,
    /// Run a cargo-fuzz target (needs cargo-fuzz; installed on first use).
    Fuzz(fuzz::Args),
    /// Run a benchmark program; it prints ratios against a baseline measured in the same run.
    Bench(bench::Args),
    /// Build the appliance OS image into target/image (docs/image.md); `--check` builds twice.
    Image(image::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            say!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<()> {
    let root = workspace_root();
    // Every path below is relative to the workspace root, wherever xtask was started from.
    std::env::set_current_dir(&root)
        .with_context(|| format!("cannot change to workspace root {}", root.display()))?;
    match command {
        Command::Deps => deps::ensure(),
        Command::Test { cargo_test_args } => pipeline::test(&root, &cargo_test_args),
        Command::Ci { keep_going } => pipeline::ci(&root, keep_going),
        Command::Tidy => tidy::run(&root),
        Command::Fuzz(args) => fuzz::run(&root, &args),
        // The image benchmark is xtask's own: it builds images and runs a system test.
        Command::Bench(args) if args.name() == Some("image") => image::bench(&root),
        Command::Bench(args) => bench::run(&args),
        Command::Image(args) => image::run(&root, &args),
    }
}

/// The directory holding the workspace `Cargo.toml`: xtask lives one level below it.
fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}
