//! The root tree: mmdebstrap installs the Debian packages, an overlay adds our binaries, units
//! and configuration, and every time in it is clamped to `SOURCE_DATE_EPOCH`. Also the manifest
//! written beside the image.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result, bail};

use super::sha256;
use super::spec::Spec;
use crate::cmd;

/// The root tree and what the build took out of it.
#[derive(Debug)]
pub(crate) struct Tree {
    /// The root file system, `/boot` emptied.
    pub(crate) dir: PathBuf,
    pub(crate) kernel: PathBuf,
    pub(crate) initrd: PathBuf,
    /// Every package in the image with its version, sorted by name.
    pub(crate) packages: Vec<(String, String)>,
    /// Our daemons as installed (stripped): name and sha256.
    pub(crate) binaries: Vec<(String, String)>,
}

/// Build-host tools whose output lands in the image (the boot loader and EFI stub are copied
/// in as they are); their versions go into the manifest.
const HOST_TOOLS: &[&str] = &[
    "mmdebstrap",
    "erofs-utils",
    "cryptsetup-bin",
    "systemd-boot-efi",
    "binutils",
    "dosfstools",
    "mtools",
    "fdisk",
];

pub(crate) fn build(
    root: &Path,
    spec: &Spec,
    binaries: &[PathBuf],
    epoch: i64,
    work: &Path,
) -> Result<Tree> {
    let stage = work.join("stage");
    let installed = stage_overlay(root, spec, binaries, &stage)?;
    let dir = work.join("root");
    let dracut = spec.dir.join("dracut.conf");
    let mut units = vec!["systemd-networkd.service".to_owned()];
    units.extend(spec.units.iter().cloned());

    let mut mm = Command::new("mmdebstrap");
    mm.env("SOURCE_DATE_EPOCH", epoch.to_string())
        .env("TZ", "UTC")
        .env("LC_ALL", "C.UTF-8")
        .args(["--mode=root", "--variant=minbase", "--quiet"])
        .arg(format!("--include={}", spec.packages.join(",")));
    // No documentation, manuals or translations on an appliance nobody logs in to; copyright
    // files stay.
    for opt in [
        "path-exclude=/usr/share/doc/*",
        "path-include=/usr/share/doc/*/copyright",
        "path-exclude=/usr/share/man/*",
        "path-exclude=/usr/share/locale/*",
        "path-exclude=/usr/share/info/*",
    ] {
        mm.arg(format!("--dpkgopt={opt}"));
    }
    // Before any package: the kernel's postinst builds the initrd with this configuration.
    mm.arg(format!(
        "--setup-hook=mkdir -p \"$1/etc/dracut.conf.d\" && cp {} \"$1/etc/dracut.conf.d/10-appliance.conf\"",
        quote(&dracut)
    ));
    for hook in [
        // A machine-id is made at each boot (the root is read-only): no two appliances share one.
        ": > \"$1/etc/machine-id\"; rm -f \"$1/var/lib/dbus/machine-id\"".to_owned(),
        format!("sync-in {} /", quote(&stage)),
        format!("systemctl --root=\"$1\" enable {}", units.join(" ")),
        // Caches and backups that differ from build to build and serve nothing at run time.
        "rm -rf \"$1\"/var/cache/apt/* \"$1\"/var/lib/apt/lists/* \"$1\"/var/cache/debconf/*-old \"$1\"/var/lib/dpkg/*-old \"$1\"/var/cache/ldconfig/aux-cache".to_owned(),
        format!("copy-out /boot {}", quote(work)),
        "rm -rf \"$1\"/boot/*".to_owned(),
    ] {
        mm.arg(format!("--customize-hook={hook}"));
    }
    mm.arg(&spec.suite).arg(&dir).args(&spec.sources);
    cmd::run(&mut mm).context("mmdebstrap could not make the root tree")?;

    // mmdebstrap clamps what dpkg unpacks; the hooks' own files are clamped here.
    cmd::run(Command::new("sh").arg("-c").arg(format!(
        "find {} -newermt @{epoch} -print0 | xargs -0r touch --no-dereference --date=@{epoch}",
        quote(&dir)
    )))?;

    let boot = work.join("boot");
    let kernel = only_file(&boot, "vmlinuz-")?;
    let initrd = only_file(&boot, "initrd.img-")?;
    let packages = dpkg_list(Some(&dir), None)?;
    Ok(Tree {
        dir,
        kernel,
        initrd,
        packages,
        binaries: installed,
    })
}

/// Copies the overlays, the stripped daemons, their units and the sysctl drop-ins into
/// `stage`, laid out as in the image; returns each daemon's name and installed sha256.
fn stage_overlay(
    root: &Path,
    spec: &Spec,
    binaries: &[PathBuf],
    stage: &Path,
) -> Result<Vec<(String, String)>> {
    std::fs::create_dir_all(stage)?;
    for overlay in spec.overlays() {
        if overlay.is_dir() {
            cmd::run(
                Command::new("cp")
                    .arg("-a")
                    .arg(overlay.join("."))
                    .arg(stage),
            )?;
        }
    }
    let bin = stage.join("usr/bin");
    let units = stage.join("usr/lib/systemd/system");
    let sysctl = stage.join("usr/lib/sysctl.d");
    for dir in [&bin, &units, &sysctl] {
        std::fs::create_dir_all(dir)?;
    }
    let mut installed = Vec::new();
    for (name, path) in spec.binaries.iter().zip(binaries) {
        let dest = bin.join(name);
        cmd::run(
            Command::new("strip")
                .arg("--strip-all")
                .arg("-o")
                .arg(&dest)
                .arg(path),
        )?;
        installed.push((name.clone(), sha256(&dest)?));
    }
    for unit in &spec.units {
        std::fs::copy(root.join("os-image/systemd").join(unit), units.join(unit))
            .with_context(|| format!("copying unit {unit}"))?;
    }
    for entry in std::fs::read_dir(root.join("os-image/sysctl.d"))? {
        let path = entry?.path();
        if let Some(name) = path.file_name() {
            std::fs::copy(&path, sysctl.join(name))?;
        }
    }
    Ok(installed)
}

/// The one file in `dir` whose name starts with `prefix`.
fn only_file(dir: &Path, prefix: &str) -> Result<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
        })
        .collect();
    if found.len() != 1 {
        bail!(
            "expected one {prefix}* in {}, found {found:?}",
            dir.display()
        );
    }
    Ok(found.remove(0))
}

/// `dpkg-query -W`: of the tree at `root`, or of the build host for `only` these packages.
fn dpkg_list(root: Option<&Path>, only: Option<&[&str]>) -> Result<Vec<(String, String)>> {
    let mut q = Command::new("dpkg-query");
    if let Some(root) = root {
        q.arg(format!(
            "--admindir={}",
            root.join("var/lib/dpkg").display()
        ));
    }
    q.args(["-W", "-f=${Package}\t${Version}\n"]);
    if let Some(only) = only {
        q.args(only);
    }
    let text = cmd::stdout_of(&mut q)?;
    let mut list: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .filter(|(_, v)| !v.is_empty())
        .map(|(p, v)| (p.to_owned(), v.to_owned()))
        .collect();
    list.sort();
    Ok(list)
}

/// `manifest.json`: what the image is, for the NOC to compare with its own build.
pub(crate) fn manifest(
    spec: &Spec,
    tree: &Tree,
    roothash: &str,
    epoch: i64,
    disk_sha256: &str,
    disk_bytes: u64,
) -> Result<String> {
    let pairs = |list: &[(String, String)]| -> serde_json::Map<String, serde_json::Value> {
        list.iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect()
    };
    let host = dpkg_list(None, Some(HOST_TOOLS))?;
    let value = serde_json::json!({
        "role": spec.role.name(),
        "suite": spec.suite,
        "sources": spec.sources,
        "source_date_epoch": epoch,
        "disk": { "file": "disk.raw", "sha256": disk_sha256, "bytes": disk_bytes },
        "roothash": roothash,
        "binaries": pairs(&tree.binaries),
        "packages": pairs(&tree.packages),
        "build_tools": pairs(&host),
    });
    let mut text = serde_json::to_string_pretty(&value)?;
    text.push('\n');
    Ok(text)
}

/// `path` in single quotes for a hook's shell.
fn quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', "'\\''"))
}
