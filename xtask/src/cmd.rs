//! Running external programs: echo the command line, then fail with it if the program fails.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::process::Command;

use anyhow::{Context as _, Result, bail};

/// A `cargo` command using the same cargo that runs xtask, so the pinned toolchain applies.
pub(crate) fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Runs `command` with inherited stdio; an error names the command and its exit status.
pub(crate) fn run(command: &mut Command) -> Result<()> {
    let line = display(command);
    say!("$ {line}");
    let status = command
        .status()
        .with_context(|| format!("cannot start `{line}`"))?;
    if !status.success() {
        bail!("`{line}` failed ({status})");
    }
    Ok(())
}

/// What a captured program printed and how it ended.
#[derive(Debug)]
pub(crate) struct Captured {
    pub(crate) success: bool,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// Runs `command` quietly and returns its output whatever its exit status; only a program
/// that cannot be started is an error.
pub(crate) fn capture(command: &mut Command) -> Result<Captured> {
    let line = display(command);
    let output = command
        .output()
        .with_context(|| format!("cannot start `{line}`"))?;
    Ok(Captured {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

/// Like [`capture`], but a non-zero exit is an error carrying the program's stderr.
pub(crate) fn stdout_of(command: &mut Command) -> Result<String> {
    let out = capture(command)?;
    if !out.success {
        bail!("`{}` failed:\n{}", display(command), out.stderr.trim_end());
    }
    Ok(out.stdout)
}

/// Makes sure `cargo <subcommand>` exists, installing `krate` with `cargo install --locked`
/// when it does not.
pub(crate) fn ensure_cargo_plugin(subcommand: &str, krate: &str) -> Result<()> {
    let probe = capture(cargo().args([subcommand, "--version"]));
    if probe.is_ok_and(|out| out.success) {
        return Ok(());
    }
    say!("`cargo {subcommand}` is not installed; installing {krate} (takes a few minutes once)");
    run(cargo().args(["install", "--locked", krate]))
        .with_context(|| format!("cannot install {krate}; install it by hand and retry"))
}

/// The command as a shell-like line, with the environment variables it sets in front.
fn display(command: &Command) -> String {
    let mut line = String::new();
    for (key, value) in command.get_envs() {
        if let Some(value) = value {
            let _ = write!(
                line,
                "{}={} ",
                key.to_string_lossy(),
                value.to_string_lossy()
            );
        }
    }
    // Show `cargo`, not the toolchain's full path to it.
    let program = command.get_program();
    let program = if program == std::env::var_os("CARGO").unwrap_or_default() {
        OsStr::new("cargo")
    } else {
        program
    };
    line.push_str(&program.to_string_lossy());
    for arg in command.get_args() {
        line.push(' ');
        line.push_str(&arg.to_string_lossy());
    }
    if let Some(dir) = command.get_current_dir() {
        let _ = write!(line, "  (in {})", dir.display());
    }
    line
}
