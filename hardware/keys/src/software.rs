//! The software key store: the embedded default when no HSM is configured.
//!
//! A directory holds one P-256 key per role, `<dir>/<role>.key`, each sealed with AES-256-GCM
//! under a 32-byte master key kept in a separate file (`<dir>/master-key` unless given;
//! created on first use; a TPM will seal it later). See [`format`] for the file layout.
//!
//! Invariants: every file is created mode 0600 and published atomically (temp file, fsync, link);
//! a file readable by group or others is refused; a key file opens only for the role written in
//! its authenticated header; decrypted PKCS#8 bytes are zeroized once ring has parsed them.

mod format;

use std::fmt;
use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom as _, SystemRandom};
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _};
use zeroize::Zeroizing;

pub use format::FormatError;

use crate::{KeyRole, SignError, Signer};

/// Name of the master key file inside the store directory, unless another path is given.
pub const MASTER_KEY_FILE: &str = "master-key";
const MASTER_KEY_LEN: usize = 32;

/// Why the software key store could not open, create or load a key.
#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    #[error("key store I/O on {path}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is accessible to group or others (mode {mode:o}); key files must be 0600")]
    Permissions { path: PathBuf, mode: u32 },
    #[error("master key {path} is not {MASTER_KEY_LEN} bytes")]
    BadMasterKey { path: PathBuf },
    #[error("no {role} key in the key store ({path} does not exist)")]
    NotFound { role: KeyRole, path: PathBuf },
    #[error("a {role} key already exists at {path}; refusing to overwrite it")]
    AlreadyExists { role: KeyRole, path: PathBuf },
    #[error("key file {path} is malformed: {reason}")]
    Malformed { path: PathBuf, reason: FormatError },
    #[error("key file {path} holds the {found} key, not the {requested} key (renamed or copied?)")]
    RoleMismatch {
        path: PathBuf,
        found: KeyRole,
        requested: KeyRole,
    },
    #[error("key file {path} does not decrypt: wrong master key, or the file was altered")]
    Decrypt { path: PathBuf },
    #[error("key file {path} holds no usable P-256 key: {reason}")]
    BadKey { path: PathBuf, reason: String },
    #[error("the system random number generator failed")]
    Rng,
}

/// A directory of encrypted P-256 keys, one per [`KeyRole`].
pub struct SoftwareStore {
    dir: PathBuf,
    master: LessSafeKey,
    rng: SystemRandom,
}

impl fmt::Debug for SoftwareStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SoftwareStore")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl SoftwareStore {
    /// Opens (creating if needed, mode 0700) the store at `dir`, with its master key at
    /// `dir/`[`MASTER_KEY_FILE`], created on first use.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, KeyStoreError> {
        let dir = dir.as_ref();
        Self::open_with_master_key(dir, dir.join(MASTER_KEY_FILE))
    }

    /// Opens the store at `dir` with the master key at `master_key`, created there on first use.
    pub fn open_with_master_key(
        dir: impl AsRef<Path>,
        master_key: impl AsRef<Path>,
    ) -> Result<Self, KeyStoreError> {
        let dir = dir.as_ref().to_path_buf();
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|source| KeyStoreError::Io {
                path: dir.clone(),
                source,
            })?;
        let rng = SystemRandom::new();
        let bytes = load_or_create_master_key(master_key.as_ref(), &rng)?;
        let key =
            UnboundKey::new(&AES_256_GCM, &bytes[..]).map_err(|_| KeyStoreError::BadMasterKey {
                path: master_key.as_ref().into(),
            })?;
        Ok(Self {
            dir,
            master: LessSafeKey::new(key),
            rng,
        })
    }

    /// Where the key of `role` is stored.
    pub fn key_path(&self, role: KeyRole) -> PathBuf {
        self.dir.join(format!("{}.key", role.name()))
    }

    /// Generates a new P-256 key for `role`, stores it encrypted, and returns its signer.
    /// Refuses to replace an existing key.
    pub fn generate(&self, role: KeyRole) -> Result<Arc<dyn Signer>, KeyStoreError> {
        let path = self.key_path(role);
        if path.exists() {
            return Err(KeyStoreError::AlreadyExists { role, path });
        }
        // ring's `pkcs8::Document` cannot be wiped from outside; it is dropped at the end of
        // this function, and every copy this crate makes is zeroized.
        let document = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &self.rng)
            .map_err(|_| KeyStoreError::Rng)?;
        let signer = SoftwareSigner::new(role, document.as_ref(), &self.rng).map_err(|reason| {
            KeyStoreError::BadKey {
                path: path.clone(),
                reason,
            }
        })?;

        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| KeyStoreError::Rng)?;
        let header = format::header(role, &nonce);
        let mut sealed = Zeroizing::new(document.as_ref().to_vec());
        self.master
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&header[..]),
                &mut *sealed,
            )
            .map_err(|_| KeyStoreError::Rng)?;
        let mut file = header;
        file.extend_from_slice(&sealed);
        match write_new_file(&path, &file, &self.rng) {
            Err(KeyStoreError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::AlreadyExists =>
            {
                Err(KeyStoreError::AlreadyExists { role, path })
            }
            other => other.map(|()| Arc::new(signer) as Arc<dyn Signer>),
        }
    }

    /// Loads the key of `role`. The file must be 0600, name `role` in its header, and decrypt
    /// under this store's master key.
    pub fn signer(&self, role: KeyRole) -> Result<Arc<dyn Signer>, KeyStoreError> {
        let path = self.key_path(role);
        let bytes = match read_private_file(&path, format::MAX_FILE_LEN) {
            Err(KeyStoreError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                return Err(KeyStoreError::NotFound { role, path });
            }
            other => other?,
        };
        let file = format::parse(&bytes).map_err(|reason| KeyStoreError::Malformed {
            path: path.clone(),
            reason,
        })?;
        if file.role != role {
            return Err(KeyStoreError::RoleMismatch {
                path,
                found: file.role,
                requested: role,
            });
        }
        let mut buffer = Zeroizing::new(file.sealed.to_vec());
        let pkcs8 = self
            .master
            .open_in_place(
                Nonce::assume_unique_for_key(file.nonce),
                Aad::from(file.aad),
                &mut buffer,
            )
            .map_err(|_| KeyStoreError::Decrypt { path: path.clone() })?;
        let signer = SoftwareSigner::new(role, pkcs8, &self.rng)
            .map_err(|reason| KeyStoreError::BadKey { path, reason })?;
        Ok(Arc::new(signer))
    }
}

fn load_or_create_master_key(
    path: &Path,
    rng: &SystemRandom,
) -> Result<Zeroizing<Vec<u8>>, KeyStoreError> {
    if !path.exists() {
        let mut fresh = Zeroizing::new(vec![0u8; MASTER_KEY_LEN]);
        rng.fill(&mut fresh).map_err(|_| KeyStoreError::Rng)?;
        match write_new_file(path, &fresh, rng) {
            // Another process created it first: use theirs, so both agree.
            Err(KeyStoreError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::AlreadyExists => {}
            other => other?,
        }
    }
    let bytes = read_private_file(path, MASTER_KEY_LEN + 1)?;
    if bytes.len() != MASTER_KEY_LEN {
        return Err(KeyStoreError::BadMasterKey { path: path.into() });
    }
    Ok(bytes)
}

/// Reads at most `limit` bytes of a file that must not be accessible to group or others.
fn read_private_file(path: &Path, limit: usize) -> Result<Zeroizing<Vec<u8>>, KeyStoreError> {
    let io = |source| KeyStoreError::Io {
        path: path.into(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let mode = file.metadata().map_err(io)?.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(KeyStoreError::Permissions {
            path: path.into(),
            mode: mode & 0o7777,
        });
    }
    let mut bytes = Zeroizing::new(Vec::new());
    file.take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() > limit {
        return Err(KeyStoreError::Malformed {
            path: path.into(),
            reason: FormatError::TooLong,
        });
    }
    Ok(bytes)
}

/// Publishes `contents` at `path` atomically and only if nothing is there yet: a mode-0600 temp
/// file in the same directory is written and fsynced, then hard-linked into place (`link(2)`
/// fails with `AlreadyExists` where `rename(2)` would silently replace), then the directory is
/// fsynced. A reader never sees a partial file and an existing key is never overwritten.
fn write_new_file(path: &Path, contents: &[u8], rng: &SystemRandom) -> Result<(), KeyStoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut suffix = [0u8; 8];
    rng.fill(&mut suffix).map_err(|_| KeyStoreError::Rng)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.{:016x}.tmp", u64::from_le_bytes(suffix)));
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        std::fs::hard_link(&temp, path)
    })();
    // The temp name is ours alone; removing it cannot lose data, whatever happened above.
    let _ = std::fs::remove_file(&temp);
    written.map_err(|source| KeyStoreError::Io {
        path: path.into(),
        source,
    })?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| KeyStoreError::Io {
            path: dir.into(),
            source,
        })
}

/// A software key loaded into ring.
struct SoftwareSigner {
    role: KeyRole,
    key: EcdsaKeyPair,
    rng: SystemRandom,
}

impl SoftwareSigner {
    fn new(role: KeyRole, pkcs8: &[u8], rng: &SystemRandom) -> Result<Self, String> {
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8, rng)
            .map_err(|e| e.to_string())?;
        Ok(Self {
            role,
            key,
            rng: rng.clone(),
        })
    }
}

impl fmt::Debug for SoftwareSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SoftwareSigner")
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl Signer for SoftwareSigner {
    fn role(&self) -> KeyRole {
        self.role
    }

    fn public_key(&self) -> &[u8] {
        self.key.public_key().as_ref()
    }

    fn sign(&self, role: KeyRole, message: &[u8]) -> Result<Vec<u8>, SignError> {
        if role != self.role {
            return Err(SignError::WrongRole {
                key: self.role,
                requested: role,
            });
        }
        let signature = self
            .key
            .sign(&self.rng, message)
            .map_err(|_| SignError::Failed("ring could not sign".into()))?;
        Ok(signature.as_ref().to_vec())
    }
}

#[cfg(test)]
mod tests;
