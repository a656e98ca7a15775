//! `cargo xtask test` and `cargo xtask ci`: the steps CI runs, in order.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::{cmd, deps, tidy};

/// Installs deps, builds every binary, then runs every test with `LEGATURA_BIN_DIR` pointing
/// at the binaries, so system tests exercise the real `hubd`, `gatewayd`, ….
pub(crate) fn test(root: &Path, cargo_test_args: &[String]) -> Result<()> {
    deps::ensure()?;
    cmd::run(cmd::cargo().args(["build", "--workspace", "--bins"]))?;
    let bin_dir = target_dir(root).join("debug");
    cmd::run(
        cmd::cargo()
            .args(["test", "--workspace", "--no-fail-fast"])
            .args(cargo_test_args)
            .env("LEGATURA_BIN_DIR", &bin_dir),
    )
}

/// Where cargo puts build output: `$CARGO_TARGET_DIR`, else `<workspace root>/target`.
fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        // A relative CARGO_TARGET_DIR is relative to where cargo runs, which is `root`.
        Some(dir) if !dir.is_empty() => root.join(dir),
        _ => root.join("target"),
    }
}

/// One step of `cargo xtask ci`.
struct Step {
    name: &'static str,
    run: fn(&Path) -> Result<()>,
}

/// The CI steps, cheapest first so that a formatting slip fails in seconds, not minutes.
const STEPS: &[Step] = &[
    Step {
        name: "fmt",
        run: |_| cmd::run(cmd::cargo().args(["fmt", "--all", "--", "--check"])),
    },
    Step {
        name: "tidy",
        run: tidy::run,
    },
    Step {
        name: "clippy",
        run: |_| {
            cmd::run(cmd::cargo().args([
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]))
        },
    },
    Step {
        name: "deny",
        run: |_| {
            cmd::ensure_cargo_plugin("deny", "cargo-deny")?;
            // `advisories` is left out: its database is fetched from GitHub, which this network
            // cannot reach. See deny.toml.
            cmd::run(cmd::cargo().args(["deny", "check", "bans", "licenses", "sources"]))
        },
    },
    Step {
        name: "docs",
        run: |_| {
            cmd::run(
                cmd::cargo()
                    .args(["doc", "--workspace", "--no-deps"])
                    .env("RUSTDOCFLAGS", "-D warnings"),
            )
        },
    },
    Step {
        name: "test",
        run: |root| test(root, &[]),
    },
];

enum Outcome {
    Passed(Duration),
    Failed(Duration),
    Skipped,
}

/// Runs [`STEPS`] in order, stopping at the first failure unless `keep_going`, and ends with a
/// one-line summary per step.
pub(crate) fn ci(root: &Path, keep_going: bool) -> Result<()> {
    let mut outcomes = Vec::with_capacity(STEPS.len());
    let mut failed = Vec::new();
    for step in STEPS {
        if !failed.is_empty() && !keep_going {
            outcomes.push(Outcome::Skipped);
            continue;
        }
        say!("ci: {} …", step.name);
        let started = Instant::now();
        let result = (step.run)(root);
        let took = started.elapsed();
        match result {
            Ok(()) => {
                say!("ci: {} ok ({:.1}s)", step.name, took.as_secs_f64());
                outcomes.push(Outcome::Passed(took));
            }
            Err(error) => {
                say!(
                    "ci: {} FAILED ({:.1}s): {error:#}",
                    step.name,
                    took.as_secs_f64()
                );
                failed.push(step.name);
                outcomes.push(Outcome::Failed(took));
            }
        }
    }
    say!("ci summary:");
    for (step, outcome) in STEPS.iter().zip(&outcomes) {
        match outcome {
            Outcome::Passed(took) => {
                say!("  {:<7} ok      {:>7.1}s", step.name, took.as_secs_f64())
            }
            Outcome::Failed(took) => {
                say!("  {:<7} FAILED  {:>7.1}s", step.name, took.as_secs_f64())
            }
            Outcome::Skipped => say!("  {:<7} skipped", step.name),
        }
    }
    if !failed.is_empty() {
        bail!("ci failed: {}", failed.join(", "));
    }
    Ok(())
}
