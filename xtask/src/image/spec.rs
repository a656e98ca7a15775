//! `os-image/image.toml` and `os-image/packages.txt`: what the image is made of, as data.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use serde::Deserialize;

use super::Role;

/// The parsed recipe for one role.
#[derive(Debug)]
pub(crate) struct Spec {
    pub(crate) role: Role,
    pub(crate) suite: String,
    pub(crate) sources: Vec<String>,
    pub(crate) cmdline: String,
    pub(crate) ids: Ids,
    pub(crate) disk: Disk,
    pub(crate) packages: Vec<String>,
    /// Our programs installed in `/usr/bin`, by binary name (cargo finds the package).
    pub(crate) binaries: Vec<String>,
    /// Unit files of `os-image/systemd/` installed and enabled.
    pub(crate) units: Vec<String>,
    /// `os-image/`.
    pub(crate) dir: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    suite: String,
    sources: Vec<String>,
    cmdline: String,
    ids: Ids,
    disk: Disk,
    roles: BTreeMap<String, RoleFile>,
}

/// Fixed identifiers: GUIDs, the FAT serial, the erofs and verity UUIDs.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Ids {
    pub(crate) disk: String,
    pub(crate) esp: String,
    pub(crate) esp_serial: String,
    pub(crate) erofs: String,
    pub(crate) verity: String,
    pub(crate) root_b: String,
    pub(crate) verity_b: String,
    pub(crate) state: String,
}

/// Partition sizes in MiB.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Disk {
    pub(crate) esp_mib: u64,
    pub(crate) root_mib: u64,
    pub(crate) verity_mib: u64,
    pub(crate) state_mib: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleFile {
    binaries: Vec<String>,
    units: Vec<String>,
}

impl Spec {
    pub(crate) fn load(root: &Path, role: Role) -> Result<Spec> {
        let dir = root.join("os-image");
        let path = dir.join("image.toml");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let file: File = toml::from_str(&text).with_context(|| format!("in {}", path.display()))?;
        let Some(role_file) = file.roles.get(role.name()) else {
            bail!("{}: no [roles.{}]", path.display(), role.name());
        };
        let list = dir.join("packages.txt");
        let packages = std::fs::read_to_string(&list)
            .with_context(|| format!("reading {}", list.display()))?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_owned)
            .collect();
        Ok(Spec {
            role,
            suite: file.suite,
            sources: file.sources,
            cmdline: file.cmdline,
            ids: file.ids,
            disk: file.disk,
            packages,
            binaries: role_file.binaries.clone(),
            units: role_file.units.clone(),
            dir,
        })
    }

    /// The overlay every role gets, and the role's own.
    pub(crate) fn overlays(&self) -> [PathBuf; 2] {
        [
            self.dir.join("rootfs"),
            self.dir.join("roles").join(self.role.name()),
        ]
    }
}
