//! The fleet's persistent state: one JSON document, replaced atomically under an exclusive
//! file lock, so hub instances sharing a state directory never lose each other's changes.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// Lifecycle of an appliance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplianceState {
    /// Created by the NOC; waiting for its enrollment code.
    Pending,
    /// Enrolled; holds a certificate.
    Active,
    /// Revoked: refused at every handshake and stream.
    Revoked,
}

impl ApplianceState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Revoked => "revoked",
        }
    }
}

/// The hub's record of one appliance. Certificates are built from this, never from a CSR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Appliance {
    pub mission: String,
    pub appliance: String,
    pub state: ApplianceState,
    pub created: i64,
    pub enrolled_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// Hex serial and expiry of every certificate issued and not yet expired.
    pub certificates: Vec<IssuedCert>,
    pub last_seen: Option<i64>,
    pub remote: Option<String>,
    pub software: Option<String>,
}

/// A certificate issued to an appliance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedCert {
    pub serial: String,
    pub not_after: i64,
}

/// A one-time enrollment code. The secret is kept because SPAKE2 needs it on both sides; the
/// file is mode 0600 and the code dies on first use, expiry or its fifth failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Code {
    pub id: String,
    pub secret: String,
    pub mission: String,
    pub appliance: String,
    pub created: i64,
    pub expires: i64,
    pub attempts: u32,
    pub used: bool,
    /// Set for a NOC operator's code; the appliance fields are then empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
}

/// The whole document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    pub appliances: BTreeMap<String, Appliance>,
    pub codes: BTreeMap<String, Code>,
    pub crl_number: u64,
}

/// Why the state could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot access fleet state {path}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("fleet state {path} is corrupt")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("cannot lock fleet state")]
    Lock(#[source] nix::Error),
}

/// The file and its lock.
#[derive(Debug)]
pub(crate) struct Store {
    path: PathBuf,
    lock: PathBuf,
}

impl Store {
    pub(crate) fn new(dir: &Path) -> Result<Self, StateError> {
        std::fs::create_dir_all(dir).map_err(|source| StateError::Io {
            path: dir.to_owned(),
            source,
        })?;
        Ok(Self {
            path: dir.join("fleet.json"),
            lock: dir.join("fleet.lock"),
        })
    }

    /// The file's modification time, to notice another instance's writes.
    pub(crate) fn modified(&self) -> Option<SystemTime> {
        std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .ok()
    }

    pub(crate) fn load(&self) -> Result<State, StateError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| StateError::Corrupt {
                path: self.path.clone(),
                source,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(source) => Err(StateError::Io {
                path: self.path.clone(),
                source,
            }),
        }
    }

    /// Reads the latest state, applies `change`, and writes it back durably, all under the
    /// exclusive lock. Returns the new state and what `change` returned.
    pub(crate) fn update<T>(
        &self,
        change: impl FnOnce(&mut State) -> T,
    ) -> Result<(State, T), StateError> {
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&self.lock)
            .map_err(|source| StateError::Io {
                path: self.lock.clone(),
                source,
            })?;
        let _guard = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, e)| StateError::Lock(e))?;
        let mut state = self.load()?;
        let out = change(&mut state);
        self.write(&state)?;
        Ok((state, out))
    }

    fn write(&self, state: &State) -> Result<(), StateError> {
        let io = |source| StateError::Io {
            path: self.path.clone(),
            source,
        };
        let tmp = self.path.with_extension("json.tmp");
        let bytes = serde_json::to_vec_pretty(state).map_err(|source| StateError::Corrupt {
            path: self.path.clone(),
            source,
        })?;
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io)?;
        file.write_all(&bytes).map_err(io)?;
        file.sync_all().map_err(io)?;
        std::fs::rename(&tmp, &self.path).map_err(io)?;
        if let Some(dir) = self.path.parent() {
            File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
        }
        Ok(())
    }
}

/// Seconds since the epoch.
pub(crate) fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
