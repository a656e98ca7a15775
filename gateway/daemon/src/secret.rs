//! Small secrets kept on disk with mode 0600: created on first start, read on every start.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use rand::RngCore;

/// Why a secret could not be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot read or create {path}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} must hold exactly 32 bytes")]
    Length { path: String },
    #[error("{path} is readable by others (mode {mode:o}); fix with chmod 600")]
    Permissions { path: String, mode: u32 },
}

/// Reads the 32-byte secret at `path`, creating it (mode 0600, in a new file) if absent.
pub fn load_or_create(path: &Path) -> Result<[u8; 32], SecretError> {
    let name = path.display().to_string();
    let io = |source| SecretError::Io {
        path: name.clone(),
        source,
    };
    match std::fs::read(path) {
        Ok(bytes) => {
            let mode = std::fs::metadata(path).map_err(io)?.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(SecretError::Permissions { path: name, mode });
            }
            bytes
                .try_into()
                .map_err(|_| SecretError::Length { path: name })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(io)?;
            }
            let mut secret = [0u8; 32];
            rand::thread_rng().fill_bytes(&mut secret);
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(io)?;
            file.write_all(&secret).map_err(io)?;
            file.sync_all().map_err(io)?;
            Ok(secret)
        }
        Err(e) => Err(io(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_private_and_stable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state/reset.key");
        let first = load_or_create(&path).expect("created");
        assert_eq!(
            std::fs::metadata(&path)
                .expect("exists")
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
        assert_eq!(load_or_create(&path).expect("read back"), first);
    }

    #[test]
    fn refuses_a_world_readable_or_truncated_secret() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("k");
        std::fs::write(&path, [0u8; 32]).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(matches!(
            load_or_create(&path),
            Err(SecretError::Permissions { .. })
        ));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        std::fs::write(&path, [0u8; 5]).expect("write");
        assert!(matches!(
            load_or_create(&path),
            Err(SecretError::Length { .. })
        ));
    }
}
