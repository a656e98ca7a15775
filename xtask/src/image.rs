//! `cargo xtask image`: the appliance OS image, built reproducibly from Debian packages and our
//! release binaries, without mounting anything (docs/image.md).
//!
//! The pipeline: mmdebstrap makes the root tree ([`rootfs`]); mkfs.erofs makes it a read-only
//! file system and veritysetup its dm-verity hash tree ([`disk`]); systemd's EFI stub, the
//! kernel, the initrd and a command line carrying the root hash become one unified kernel image
//! ([`uki`]); mkfs.fat and mtools make the ESP with systemd-boot; sfdisk lays out the GPT (ESP,
//! slots A and B, the state partition) and dd fills it. Every identifier is fixed in
//! `os-image/image.toml` or derived from the content, every time is `SOURCE_DATE_EPOCH` (the
//! last commit's), so the same inputs give the same bytes; `--check` proves it with two builds.
//!
//! A build is reused when its inputs (the files of `os-image/`, the binaries, this program, the
//! epoch) are unchanged, so the system test and CI build it once.

mod bench;
mod check;
mod disk;
mod rootfs;
mod spec;
mod uki;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};

use crate::cmd;
pub(crate) use bench::bench;
use spec::Spec;

/// Which daemon the appliance runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Role {
    /// The embassy appliance: gatewayd, enrolled from its boot credentials.
    Gateway,
    /// A hub host: hubd (its configuration is provisioned separately).
    Hub,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Gateway => "gateway",
            Role::Hub => "hub",
        }
    }
}

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Build twice from clean in two directories and fail unless both images are the same
    /// bytes (diffoscope shows the difference).
    #[arg(long)]
    check: bool,
    /// Which appliance.
    #[arg(long, value_enum, default_value = "gateway")]
    role: Role,
    /// Rebuild even when the inputs are unchanged.
    #[arg(long)]
    force: bool,
}

/// A finished image.
#[derive(Debug)]
pub(crate) struct Built {
    pub(crate) disk: PathBuf,
    pub(crate) sha256: String,
    pub(crate) bytes: u64,
    /// Seconds the build took; `None` when an earlier build was reused.
    pub(crate) build_s: Option<f64>,
}

pub(crate) fn run(root: &Path, args: &Args) -> Result<()> {
    crate::deps::ensure()?;
    if args.check {
        return check::run(root, args.role).map(|_| ());
    }
    let out = default_dir(root, args.role);
    let built = build_cached(root, args.role, &out, args.force)?;
    report(&built);
    Ok(())
}

/// `<cargo's target directory>/image/<role>`.
pub(crate) fn default_dir(root: &Path, role: Role) -> PathBuf {
    target_dir(root).join("image").join(role.name())
}

/// `$CARGO_TARGET_DIR` (relative to the workspace) or `target`.
fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .filter(|d| !d.is_empty())
        .map_or_else(|| root.join("target"), |d| root.join(d))
}

fn report(built: &Built) {
    println!("image: {}", built.disk.display());
    println!("size:  {:.1} MiB", built.bytes as f64 / 1_048_576.0);
    println!("sha256: {}", built.sha256);
    match built.build_s {
        Some(s) => println!("built in {s:.0} s"),
        None => println!("inputs unchanged: reused"),
    }
}

/// Builds the release binaries, then the image into `out` unless `out` already holds an image
/// of exactly these inputs.
pub(crate) fn build_cached(root: &Path, role: Role, out: &Path, force: bool) -> Result<Built> {
    require_root()?;
    let spec = Spec::load(root, role)?;
    let binaries = release_binaries(root, &spec)?;
    let epoch = source_date_epoch(root)?;
    let key = inputs_digest(root, role, &binaries, epoch)?;
    let stamp = out.join("inputs.sha256");
    let disk = out.join("disk.raw");
    if !force && disk.is_file() && std::fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == key) {
        say!("image: inputs unchanged, reusing {}", disk.display());
        return Ok(Built {
            sha256: sha256(&disk)?,
            bytes: std::fs::metadata(&disk)?.len(),
            disk,
            build_s: None,
        });
    }
    let built = build(root, &spec, &binaries, epoch, out)?;
    std::fs::write(&stamp, format!("{key}\n"))
        .with_context(|| format!("writing {}", stamp.display()))?;
    Ok(built)
}

/// One full build from clean into `out`.
pub(crate) fn build(
    root: &Path,
    spec: &Spec,
    binaries: &[PathBuf],
    epoch: i64,
    out: &Path,
) -> Result<Built> {
    let started = Instant::now();
    if out.exists() {
        std::fs::remove_dir_all(out).with_context(|| format!("clearing {}", out.display()))?;
    }
    let work = out.join("work");
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;

    let tree = rootfs::build(root, spec, binaries, epoch, &work)?;
    let root_fs = disk::root_fs(spec, &tree.dir, epoch, out)?;
    let efi = uki::build(spec, &tree, &root_fs.roothash, epoch, &work, out)?;
    let disk_path = out.join("disk.raw");
    disk::assemble(spec, &root_fs, &efi, epoch, &work, &disk_path)?;

    let sha = sha256(&disk_path)?;
    let bytes = std::fs::metadata(&disk_path)?.len();
    let manifest = rootfs::manifest(spec, &tree, &root_fs.roothash, epoch, &sha, bytes)?;
    let manifest_path = out.join("manifest.json");
    std::fs::write(&manifest_path, manifest)
        .with_context(|| format!("writing {}", manifest_path.display()))?;
    // The tree and the intermediate files are big; the image, its parts and the manifest stay.
    std::fs::remove_dir_all(&work).with_context(|| format!("removing {}", work.display()))?;
    Ok(Built {
        disk: disk_path,
        sha256: sha,
        bytes,
        build_s: Some(started.elapsed().as_secs_f64()),
    })
}

/// `cargo build --release` of the role's binaries, each in the workspace package that has it;
/// their paths in `target/release`.
fn release_binaries(root: &Path, spec: &Spec) -> Result<Vec<PathBuf>> {
    let metadata = crate::metadata::Metadata::load()?;
    let mut build = cmd::cargo();
    build.args(["build", "--release", "--locked"]);
    for name in &spec.binaries {
        let package = metadata
            .package_of_bin(name)
            .with_context(|| format!("os-image/image.toml: no workspace package builds {name}"))?;
        build.args(["-p", &package.name, "--bin", name]);
    }
    cmd::run(&mut build)?;
    let dir = target_dir(root).join("release");
    Ok(spec.binaries.iter().map(|b| dir.join(b)).collect())
}

/// `SOURCE_DATE_EPOCH` from the environment, else the last commit's time.
fn source_date_epoch(root: &Path) -> Result<i64> {
    let text = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) => v,
        Err(_) => cmd::stdout_of(
            Command::new("git")
                .args(["log", "-1", "--format=%ct"])
                .current_dir(root),
        )?,
    };
    text.trim()
        .parse()
        .with_context(|| format!("SOURCE_DATE_EPOCH {text:?} is not a number of seconds"))
}

/// What decides the image's bytes: every file of `os-image/`, the binaries, this program (the
/// pipeline), the epoch and the role. The Debian archive is not in it: the manifest records
/// what the archive gave.
fn inputs_digest(root: &Path, role: Role, binaries: &[PathBuf], epoch: i64) -> Result<String> {
    let mut files = Vec::new();
    list_files(&root.join("os-image"), &mut files)?;
    files.sort();
    files.extend(binaries.iter().cloned());
    files.push(std::env::current_exe().context("locating the xtask binary")?);
    let mut lines = format!("role {}\nepoch {epoch}\n", role.name());
    for file in &files {
        lines.push_str(&format!("{} {}\n", sha256(file)?, file.display()));
    }
    let list = std::env::temp_dir().join(format!("legatura-image-inputs-{}", std::process::id()));
    std::fs::write(&list, lines)?;
    let digest = sha256(&list);
    let _ = std::fs::remove_file(&list);
    digest
}

fn list_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            list_files(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// The sha256 of a file, in hex.
pub(crate) fn sha256(path: &Path) -> Result<String> {
    let out = cmd::stdout_of(Command::new("sha256sum").arg(path))?;
    out.split_whitespace()
        .next()
        .map(str::to_owned)
        .with_context(|| format!("sha256sum printed nothing for {}", path.display()))
}

/// mmdebstrap's root mode and chroot need root; say so before anything else happens.
fn require_root() -> Result<()> {
    let uid = cmd::stdout_of(Command::new("id").arg("-u"))?;
    if uid.trim() != "0" {
        bail!("building the image needs root (mmdebstrap --mode=root); run it as root");
    }
    Ok(())
}
