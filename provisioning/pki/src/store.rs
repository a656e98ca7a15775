use std::ffi::OsString;
use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rcgen::{CertificateParams, KeyPair, PKCS_ECDSA_P256_SHA256};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer};

use crate::{Ca, Issued};

const PRIVATE_MODE: u32 = 0o600;
const PUBLIC_MODE: u32 = 0o644;

/// Why a CA or a certificate could not be saved or loaded.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot write {}", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error("cannot read {}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("{} holds no PEM {label}", path.display())]
    Pem {
        path: PathBuf,
        label: &'static str,
        source: rustls_pki_types::pem::Error,
    },
    #[error("{} is not a usable ECDSA P-256 CA certificate", path.display())]
    Certificate { path: PathBuf, reason: &'static str },
    #[error("{} is not a PKCS#8 ECDSA P-256 key", path.display())]
    Key {
        path: PathBuf,
        source: Option<rcgen::Error>,
    },
    #[error("this CA's key lives in a key backend and cannot be written to a file")]
    RemoteKey,
    #[error("key {} does not belong to certificate {}", key.display(), cert.display())]
    KeyMismatch { cert: PathBuf, key: PathBuf },
}

impl Ca {
    /// Writes the certificate (mode 0644) and the key (mode 0600), each atomically. The key is
    /// written first, so a certificate on disk always has its key beside it.
    pub fn save(&self, cert_path: &Path, key_path: &Path) -> Result<(), StoreError> {
        if self.is_remote() {
            return Err(StoreError::RemoteKey);
        }
        save_pair(
            cert_path,
            self.cert_pem().as_bytes(),
            key_path,
            self.key.serialize_pem().as_bytes(),
        )
    }

    /// Reads a CA written by [`Ca::save`] (or any single-name, P-256, `CA:true` certificate with
    /// its PKCS#8 key) and checks that the key belongs to the certificate.
    pub fn load(cert_path: &Path, key_path: &Path) -> Result<Ca, StoreError> {
        let cert_der = CertificateDer::from_pem_slice(&read(cert_path)?).map_err(|source| {
            StoreError::Pem {
                path: cert_path.to_owned(),
                label: "CERTIFICATE",
                source,
            }
        })?;
        let key_der = PrivatePkcs8KeyDer::from_pem_slice(&read(key_path)?).map_err(|source| {
            StoreError::Pem {
                path: key_path.to_owned(),
                label: "PRIVATE KEY",
                source,
            }
        })?;
        let bad_key = |source| StoreError::Key {
            path: key_path.to_owned(),
            source,
        };
        let key = KeyPair::try_from(&key_der).map_err(|e| bad_key(Some(e)))?;
        if key.algorithm() != &PKCS_ECDSA_P256_SHA256 {
            return Err(bad_key(None));
        }
        let bad_cert = |reason| StoreError::Certificate {
            path: cert_path.to_owned(),
            reason,
        };

        let (rest, parsed) =
            x509_parser::parse_x509_certificate(&cert_der).map_err(|_| bad_cert("malformed"))?;
        if !rest.is_empty() {
            return Err(bad_cert("trailing data"));
        }
        if !parsed.is_ca() {
            return Err(bad_cert("not CA:true"));
        }
        if parsed.public_key().raw != key.public_key_der().as_slice() {
            return Err(StoreError::KeyMismatch {
                cert: cert_path.to_owned(),
                key: key_path.to_owned(),
            });
        }
        // rcgen panics on an empty RDN and refuses multi-valued ones; neither is ours to sign as.
        if parsed.subject().iter().any(|rdn| rdn.iter().count() != 1) {
            return Err(bad_cert("subject has an empty or multi-valued RDN"));
        }
        let params = CertificateParams::from_ca_cert_der(&cert_der)
            .map_err(|_| bad_cert("rcgen cannot read it"))?;
        let issuer = params
            .self_signed(&key)
            .map_err(|_| bad_cert("rcgen cannot re-encode it"))?;
        // Leaves name their issuer by these bytes and TLS stacks compare them exactly, so the
        // name rcgen re-encodes must be the very name in the file.
        let (_, reencoded) = x509_parser::parse_x509_certificate(issuer.der())
            .map_err(|_| bad_cert("rcgen cannot re-encode it"))?;
        if reencoded.subject().as_raw() != parsed.subject().as_raw() {
            return Err(bad_cert("rcgen cannot reproduce its subject name exactly"));
        }
        Ok(Ca {
            cert_der,
            issuer,
            key,
        })
    }
}

impl Issued {
    /// Writes the certificate (mode 0644) and the key (mode 0600), each atomically, key first.
    pub fn save(&self, cert_path: &Path, key_path: &Path) -> Result<(), StoreError> {
        save_pair(
            cert_path,
            self.cert_pem.as_bytes(),
            key_path,
            self.key_pem.as_bytes(),
        )
    }
}

fn save_pair(cert_path: &Path, cert: &[u8], key_path: &Path, key: &[u8]) -> Result<(), StoreError> {
    write_private(key_path, key).map_err(|source| StoreError::Write {
        path: key_path.to_owned(),
        source,
    })?;
    write_public(cert_path, cert).map_err(|source| StoreError::Write {
        path: cert_path.to_owned(),
        source,
    })
}

fn read(path: &Path) -> Result<Vec<u8>, StoreError> {
    fs::read(path).map_err(|source| StoreError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Replaces `path` with `bytes`, mode 0600. The data goes to a new file in the same directory,
/// created with mode 0600 (so it is never readable by others, not even for a moment) and
/// renamed over `path` once synced; a reader sees the old file or the new one, never a part.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), io::Error> {
    // The umask can only narrow 0600, so the mode is not set again: nothing widens it.
    write_atomic(path, bytes, PRIVATE_MODE, false)
}

/// Replaces `path` with `bytes`, mode 0644 whatever the umask, atomically as [`write_private`].
pub fn write_public(path: &Path, bytes: &[u8]) -> Result<(), io::Error> {
    write_atomic(path, bytes, PUBLIC_MODE, true)
}

fn write_atomic(path: &Path, bytes: &[u8], mode: u32, exact_mode: bool) -> Result<(), io::Error> {
    let file_name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path does not name a file"))?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let (tmp_path, mut file) = create_temp(dir, file_name, mode)?;
    let written = (|| {
        file.write_all(bytes)?;
        if exact_mode {
            file.set_permissions(Permissions::from_mode(mode))?;
        }
        file.sync_all()?;
        fs::rename(&tmp_path, path)
    })();
    if let Err(error) = written {
        // Best effort: the temporary file is ours and useless now; the original error matters.
        let _ = fs::remove_file(&tmp_path);
        return Err(error);
    }
    // Make the rename itself durable.
    File::open(dir)?.sync_all()
}

/// A new file `.<name>.<pid>.<n>.tmp` in `dir`, created exclusively with `mode`.
fn create_temp(dir: &Path, file_name: &std::ffi::OsStr, mode: u32) -> io::Result<(PathBuf, File)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut attempts = 0;
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut name = OsString::from(".");
        name.push(file_name);
        name.push(format!(".{}.{n}.tmp", std::process::id()));
        let tmp_path = dir.join(name);
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp_path)
        {
            Ok(file) => return Ok((tmp_path, file)),
            // A leftover from a crashed process that had the same pid; try the next name.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempts < 16 => attempts += 1,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests;
