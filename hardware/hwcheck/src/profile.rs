//! Hardware profiles: strict TOML, one file per supported model.

use serde::Deserialize;

/// What a profile says about an optional part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Need {
    Required,
    Optional,
}

/// Which daemon the hardware runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Gateway,
    Hub,
}

/// One supported hardware model.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub name: String,
    pub description: String,
    pub role: Role,
    pub min_cpus: u32,
    pub min_memory_mib: u64,
    pub min_storage_gib: u64,
    pub min_nics: u32,
    pub tpm2: Need,
    pub watchdog: Need,
    pub serial_console: Need,
}

/// A profile file that does not parse; the message names the file and the key.
#[derive(Debug, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct ProfileError {
    pub origin: String,
    pub message: String,
}

/// Parses one profile.
pub fn parse(text: &str, origin: &str) -> Result<Profile, ProfileError> {
    toml::from_str(text).map_err(|e| ProfileError {
        origin: origin.to_owned(),
        message: e.message().to_owned(),
    })
}

const BUILTIN: &[(&str, &str)] = &[
    (
        "embassy-small.toml",
        include_str!("../../profiles/embassy-small.toml"),
    ),
    (
        "hub-server.toml",
        include_str!("../../profiles/hub-server.toml"),
    ),
    (
        "qemu-dev.toml",
        include_str!("../../profiles/qemu-dev.toml"),
    ),
];

/// The profiles shipped with this build.
pub fn builtin() -> Result<Vec<Profile>, ProfileError> {
    BUILTIN
        .iter()
        .map(|(origin, text)| parse(text, origin))
        .collect()
}
