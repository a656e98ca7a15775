//! `cargo xtask image --check`: two builds from clean in two directories must be the same
//! bytes. On a difference, diffoscope says where, part by part (the UKI, the hash tree, the
//! root, then the disk), so the first differing stage is named.

use std::path::Path;
use std::process::Command;

use anyhow::{Result, bail};

use super::spec::Spec;
use super::{
    Built, Role, build, build_cached, default_dir, release_binaries, sha256, source_date_epoch,
};
use crate::cmd;

/// The outcome of two builds.
#[derive(Debug)]
pub(crate) struct Checked {
    /// The first build, in `target/image/<role>` (reused by later `cargo xtask image`).
    pub(crate) first: Built,
    pub(crate) reproducible: bool,
}

/// Builds into `target/image/<role>` and `target/image/<role>-check`; fails on a difference
/// after showing diffoscope's report.
pub(crate) fn run(root: &Path, role: Role) -> Result<Checked> {
    let checked = compare(root, role)?;
    if !checked.reproducible {
        bail!("the two builds differ (diffoscope's report above); both are kept for inspection");
    }
    Ok(checked)
}

/// Like [`run`], but a difference is a result, not an error (the benchmark records it).
pub(crate) fn compare(root: &Path, role: Role) -> Result<Checked> {
    let first_dir = default_dir(root, role);
    let second_dir = first_dir.with_file_name(format!("{}-check", role.name()));
    let first = build_cached(root, role, &first_dir, true)?;
    let spec = Spec::load(root, role)?;
    let binaries = release_binaries(root, &spec)?;
    let second = build(
        root,
        &spec,
        &binaries,
        source_date_epoch(root)?,
        &second_dir,
    )?;
    say!("image: first  {} {}", first.sha256, first.disk.display());
    say!("image: second {} {}", second.sha256, second.disk.display());
    let reproducible = first.sha256 == second.sha256;
    if reproducible {
        say!("image: reproducible: both builds are {}", first.sha256);
        std::fs::remove_dir_all(&second_dir)?;
    } else {
        explain(&first_dir, &second_dir)?;
    }
    Ok(Checked {
        first,
        reproducible,
    })
}

/// Runs diffoscope on the first part that differs, smallest first.
fn explain(a: &Path, b: &Path) -> Result<()> {
    for part in ["legatura.efi", "root.verity", "root.erofs", "disk.raw"] {
        let (x, y) = (a.join(part), b.join(part));
        if sha256(&x)? == sha256(&y)? {
            say!("image: {part} is identical");
            continue;
        }
        say!("image: {part} differs; diffoscope:");
        let out = cmd::capture(
            Command::new("diffoscope")
                .args(["--text", "-", "--max-report-size", "2000000"])
                .arg(&x)
                .arg(&y),
        )?;
        println!("{}", out.stdout);
        if !out.stderr.trim().is_empty() {
            eprintln!("{}", out.stderr);
        }
        return Ok(());
    }
    Ok(())
}
