//! `cargo xtask fuzz`: cargo-fuzz targets kept beside each parser, in `<area>/<crate>/fuzz/`.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};

use crate::cmd;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Fuzz target to run, e.g. `stream_header`; see `--list`.
    #[arg(required_unless_present = "list", conflicts_with = "list")]
    target: Option<String>,
    /// Stop after this many seconds.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// List the fuzz targets and where they live, then exit.
    #[arg(long)]
    list: bool,
    /// Extra libFuzzer flags, after `--` (e.g. `-- -max_len=256 -jobs=2`).
    #[arg(last = true)]
    libfuzzer_args: Vec<String>,
}

/// One `fuzz_targets/<name>.rs` of a cargo-fuzz crate.
struct FuzzTarget {
    name: String,
    /// The cargo-fuzz crate, e.g. `gateway/tunnel-proto/fuzz`, relative to the root.
    dir: PathBuf,
}

pub(crate) fn run(root: &Path, args: &Args) -> Result<()> {
    let targets = discover(root)?;
    let Some(wanted) = args.target.as_deref() else {
        for target in &targets {
            println!("{:<24} {}", target.name, target.dir.display());
        }
        return Ok(());
    };
    let Some(target) = targets.iter().find(|t| t.name == wanted) else {
        let names: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
        bail!(
            "no fuzz target `{wanted}`; known targets: {}",
            names.join(", ")
        );
    };
    cmd::ensure_cargo_plugin("fuzz", "cargo-fuzz")?;
    // cargo-fuzz needs `-Zsanitizer`; RUSTC_BOOTSTRAP lets the pinned stable toolchain accept it,
    // so fuzzing needs no second toolchain.
    cmd::run(
        cmd::cargo()
            .current_dir(root.join(&target.dir))
            .env("RUSTC_BOOTSTRAP", "1")
            .args(["fuzz", "run", &target.name, "--"])
            .arg(format!("-max_total_time={}", args.seconds))
            .args(&args.libfuzzer_args),
    )
}

/// Every target of every `<area>/<crate>/fuzz/` crate, sorted by name.
fn discover(root: &Path) -> Result<Vec<FuzzTarget>> {
    let mut targets = Vec::new();
    for area in read_dirs(root)? {
        for krate in read_dirs(&area)? {
            let fuzz_dir = krate.join("fuzz");
            let Ok(entries) = std::fs::read_dir(fuzz_dir.join("fuzz_targets")) else {
                continue;
            };
            let dir = fuzz_dir
                .strip_prefix(root)
                .unwrap_or(&fuzz_dir)
                .to_path_buf();
            for entry in entries {
                let path = entry?.path();
                if path.extension().is_some_and(|e| e == "rs")
                    && let Some(stem) = path.file_stem()
                {
                    targets.push(FuzzTarget {
                        name: stem.to_string_lossy().into_owned(),
                        dir: dir.clone(),
                    });
                }
            }
        }
    }
    if targets.is_empty() {
        bail!("no fuzz targets found (looked for <area>/<crate>/fuzz/fuzz_targets/*.rs)");
    }
    targets.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(targets)
}

/// The subdirectories of `dir`, skipping hidden ones and `target`.
fn read_dirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if entry.file_type()?.is_dir() && !name.starts_with('.') && name != "target" {
            dirs.push(entry.path());
        }
    }
    Ok(dirs)
}
