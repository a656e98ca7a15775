//! The workspace's own packages, from `cargo metadata --no-deps`.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use serde::Deserialize;

use crate::cmd;

/// The parts of `cargo metadata` output xtask uses.
#[derive(Debug, Deserialize)]
pub(crate) struct Metadata {
    /// Only workspace members, since it is read with `--no-deps`.
    pub(crate) packages: Vec<Package>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Package {
    pub(crate) name: String,
    pub(crate) manifest_path: PathBuf,
    pub(crate) dependencies: Vec<Dependency>,
    pub(crate) targets: Vec<Target>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Dependency {
    pub(crate) name: String,
    /// `None` for a normal dependency, else `"dev"` or `"build"`.
    pub(crate) kind: Option<String>,
    /// The dependency's directory, for a path dependency.
    pub(crate) path: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Target {
    pub(crate) name: String,
    /// `lib`, `bin`, `test`, `bench`, `example`, `custom-build`, …
    pub(crate) kind: Vec<String>,
    pub(crate) src_path: PathBuf,
}

impl Metadata {
    /// Reads the workspace's packages.
    pub(crate) fn load() -> Result<Self> {
        let json =
            cmd::stdout_of(cmd::cargo().args(["metadata", "--format-version", "1", "--no-deps"]))?;
        serde_json::from_str(&json).context("cannot parse `cargo metadata` output")
    }

    /// The workspace member named `name`.
    pub(crate) fn package(&self, name: &str) -> Option<&Package> {
        self.packages.iter().find(|p| p.name == name)
    }

    /// The workspace member that builds the binary `bin`.
    pub(crate) fn package_of_bin(&self, bin: &str) -> Option<&Package> {
        self.packages.iter().find(|p| {
            p.targets
                .iter()
                .any(|t| t.name == bin && t.kind.iter().any(|k| k == "bin"))
        })
    }

    /// The workspace member whose directory is `dir`.
    pub(crate) fn package_in(&self, dir: &Path) -> Option<&Package> {
        self.packages.iter().find(|p| p.dir() == dir)
    }
}

impl Package {
    /// The directory holding the package's `Cargo.toml`.
    pub(crate) fn dir(&self) -> &Path {
        self.manifest_path.parent().unwrap_or(&self.manifest_path)
    }
}
