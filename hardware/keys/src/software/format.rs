//! The key file format of the software store, version 1:
//!
//! ```text
//! magic     4 bytes   "LGK1"
//! version   1 byte    1
//! role_len  1 byte    1..=32
//! role      role_len  KeyRole::name(), UTF-8
//! nonce     12 bytes  AES-256-GCM nonce, fresh per file
//! sealed    rest      AES-256-GCM(master key, nonce, aad = every header byte above)(PKCS#8) ‖ tag
//! ```
//!
//! The whole header is the AAD, so the role (and the version) cannot be edited without the file
//! failing to decrypt; the plaintext role lets a renamed file be named in the error.

use ring::aead::{AES_256_GCM, NONCE_LEN};

use crate::KeyRole;

const MAGIC: [u8; 4] = *b"LGK1";
const VERSION: u8 = 1;
const MAX_ROLE_LEN: usize = 32;
/// A P-256 PKCS#8 document is ~140 bytes; anything much larger is not a key file.
pub(super) const MAX_FILE_LEN: usize = 4096;

/// What is wrong with a key file's framing (before any decryption).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("file too short")]
    Truncated,
    #[error("file larger than {MAX_FILE_LEN} bytes")]
    TooLong,
    #[error("not a Legătura key file (bad magic)")]
    BadMagic,
    #[error("unsupported key file version {0}")]
    UnsupportedVersion(u8),
    #[error("unknown role `{0}` in header")]
    UnknownRole(String),
}

/// A parsed key file: borrowed views into the file's bytes.
#[derive(Debug)]
pub(super) struct KeyFile<'a> {
    pub(super) role: KeyRole,
    pub(super) nonce: [u8; NONCE_LEN],
    /// The header bytes, authenticated as AAD.
    pub(super) aad: &'a [u8],
    /// Ciphertext followed by the GCM tag.
    pub(super) sealed: &'a [u8],
}

/// The header (and AAD) of a key file for `role` sealed under `nonce`.
pub(super) fn header(role: KeyRole, nonce: &[u8; NONCE_LEN]) -> Vec<u8> {
    let name = role.name().as_bytes();
    let mut out = Vec::with_capacity(MAGIC.len() + 2 + name.len() + NONCE_LEN);
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    // Role names are short constants (`KeyRole::name`), far below MAX_ROLE_LEN.
    out.push(name.len() as u8);
    out.extend_from_slice(name);
    out.extend_from_slice(nonce);
    out
}

/// Splits a key file into header fields and sealed payload; never panics on any input.
pub(super) fn parse(file: &[u8]) -> Result<KeyFile<'_>, FormatError> {
    if file.len() > MAX_FILE_LEN {
        return Err(FormatError::TooLong);
    }
    let [m0, m1, m2, m3, version, role_len, rest @ ..] = file else {
        return Err(FormatError::Truncated);
    };
    if [*m0, *m1, *m2, *m3] != MAGIC {
        return Err(FormatError::BadMagic);
    }
    if *version != VERSION {
        return Err(FormatError::UnsupportedVersion(*version));
    }
    let role_len = usize::from(*role_len);
    if role_len == 0 || role_len > MAX_ROLE_LEN || rest.len() < role_len + NONCE_LEN {
        return Err(FormatError::Truncated);
    }
    let (role, rest) = rest.split_at(role_len);
    let (nonce, sealed) = rest.split_at(NONCE_LEN);
    let role = std::str::from_utf8(role)
        .ok()
        .and_then(KeyRole::from_name)
        .ok_or_else(|| FormatError::UnknownRole(String::from_utf8_lossy(role).into_owned()))?;
    if sealed.len() <= AES_256_GCM.tag_len() {
        return Err(FormatError::Truncated);
    }
    let mut nonce_bytes = [0u8; NONCE_LEN];
    nonce_bytes.copy_from_slice(nonce);
    let header_len = file.len() - sealed.len();
    Ok(KeyFile {
        role,
        nonce: nonce_bytes,
        aad: &file[..header_len],
        sealed,
    })
}
