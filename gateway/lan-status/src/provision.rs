//! What `gateway-provision` last said: the status file it writes under `/run/legatura` each
//! time it runs (before gatewayd starts), read with a size limit and never trusted to be well
//! formed.

use std::io::Read as _;
use std::path::Path;

use serde::Deserialize;

/// The status file is a few hundred bytes; anything larger is not ours.
pub const MAX_FILE: u64 = 16 * 1024;

/// Where provisioning stands, as its status file says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// No hub address or CA among the boot credentials and none kept from an earlier boot.
    NotConfigured,
    /// A boot credential is malformed (the hub address, the server name or the CA).
    BadCredential,
    /// The state partition is full and the appliance is not enrolled: the code is kept unused.
    StateFull,
    /// Configured, not enrolled, and no enrollment code was given.
    NoCode,
    /// The code was handed to gatewayd, which enrols with it.
    Enrolling,
    /// The appliance holds its certificate; gatewayd brings the tunnel up.
    Enrolled,
    /// Enrolled, but the state partition is full: the certificate cannot be renewed.
    EnrolledStateFull,
}

impl State {
    /// The name in the status file and in `/status.json`.
    pub fn name(self) -> &'static str {
        match self {
            Self::NotConfigured => "not-configured",
            Self::BadCredential => "bad-credential",
            Self::StateFull => "state-full",
            Self::NoCode => "no-code",
            Self::Enrolling => "enrolling",
            Self::Enrolled => "enrolled",
            Self::EnrolledStateFull => "enrolled-state-full",
        }
    }

    /// Whether provisioning stopped gatewayd from starting (its unit retries every 10 s).
    pub fn blocks_gatewayd(self) -> bool {
        matches!(
            self,
            Self::NotConfigured | Self::BadCredential | Self::StateFull
        )
    }
}

/// One status file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Said {
    pub state: State,
    /// The line provisioning printed on the console, without its `legatura: ` prefix.
    pub message: String,
    /// When it was written, in seconds since the epoch (the box's clock).
    #[serde(default)]
    pub at_unix: Option<u64>,
}

impl Said {
    /// Parses a status document.
    pub fn parse(bytes: &[u8]) -> Result<Said, String> {
        serde_json::from_slice(bytes).map_err(|e| format!("not a provisioning status ({e})"))
    }
}

/// The status file as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provision {
    /// No file: provisioning has not run since this boot.
    Missing,
    /// A file that could not be read or is not a status document: why.
    Unreadable(String),
    Said(Said),
}

impl Provision {
    /// Reads `path`, at most [`MAX_FILE`] bytes of it.
    pub fn read(path: &Path) -> Provision {
        let file = match std::fs::File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Provision::Missing,
            Err(e) => return Provision::Unreadable(format!("cannot open {}: {e}", path.display())),
        };
        let mut bytes = Vec::new();
        if let Err(e) = file.take(MAX_FILE + 1).read_to_end(&mut bytes) {
            return Provision::Unreadable(format!("cannot read {}: {e}", path.display()));
        }
        if bytes.len() as u64 > MAX_FILE {
            return Provision::Unreadable(format!(
                "{} is larger than {MAX_FILE} bytes",
                path.display()
            ));
        }
        match Said::parse(&bytes) {
            Ok(said) => Provision::Said(said),
            Err(why) => Provision::Unreadable(format!("{}: {why}", path.display())),
        }
    }
}

#[cfg(test)]
mod tests;
