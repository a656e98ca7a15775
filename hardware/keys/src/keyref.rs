//! Key references: how configuration names a key without containing it.
//!
//! Two forms are accepted:
//! - `pkcs11:token=<label>;object=<label>[;module=/abs/path.so](;pin-source=file:/abs/path |
//!   ;pin-env=NAME)`, a subset of RFC 7512 (values are percent-decoded; the RFC's `?query&form`
//!   and `module-path` spelling are accepted too);
//! - `keystore:<dir>/<role>.key`, a key of the [`SoftwareStore`](crate::SoftwareStore).
//!
//! A PIN is never written in configuration: `pin-value` is refused.

use std::fmt;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use zeroize::Zeroizing;

use crate::KeyRole;

/// The PKCS#11 module used when a reference names none: Debian's SoftHSM2.
pub const DEFAULT_PKCS11_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// Where a key lives, as written in configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRef {
    /// A private key object in a PKCS#11 token.
    Pkcs11(Pkcs11Ref),
    /// A key file of the software key store.
    Keystore(KeystoreRef),
}

/// `pkcs11:` reference: which module, token and object, and where the user PIN comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pkcs11Ref {
    /// Absolute path of the PKCS#11 module (`module=`), [`DEFAULT_PKCS11_MODULE`] by default.
    pub module: PathBuf,
    /// `CKA_LABEL` of the token (`token=`).
    pub token: String,
    /// `CKA_LABEL` of the private key object (`object=`).
    pub object: String,
    /// Where the user PIN is read from.
    pub pin: PinSource,
}

/// `keystore:` reference: the store directory and the role whose key file is named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeystoreRef {
    /// The key store directory.
    pub dir: PathBuf,
    /// The role named by the file, `<dir>/<role>.key`.
    pub role: KeyRole,
}

/// Where a PKCS#11 user PIN is read from; the PIN itself is never configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinSource {
    /// `pin-source=file:/abs/path`: the file's content, without a trailing newline.
    File(PathBuf),
    /// `pin-env=NAME`: the value of the environment variable `NAME`.
    Env(String),
}

/// Why a key reference was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyRefError {
    #[error("a key reference starts with `pkcs11:` or `keystore:`")]
    UnknownScheme,
    #[error(
        "`pin-value` would put the PIN in the configuration; use `pin-source=file:/path` or \
         `pin-env=NAME`"
    )]
    InlinePin,
    #[error("the pkcs11 key reference lacks `{0}`")]
    MissingAttribute(&'static str),
    #[error("pkcs11 attribute `{0}` is given twice")]
    DuplicateAttribute(String),
    #[error("unknown pkcs11 attribute `{0}`")]
    UnknownAttribute(String),
    #[error("pkcs11 attribute `{0}` is not of the form name=value with a non-empty value")]
    Malformed(String),
    #[error("bad percent-encoding in pkcs11 attribute `{0}`")]
    BadPercentEncoding(String),
    #[error("give the PIN with `pin-source` or `pin-env`, not both")]
    ConflictingPin,
    #[error("the pkcs11 key reference needs `pin-source=file:/path` or `pin-env=NAME`")]
    MissingPin,
    #[error("`pin-source` must be a `file:` URI with an absolute path, not `{0}`")]
    BadPinSource(String),
    #[error("`pin-env` must be an environment variable name, not `{0}`")]
    BadPinEnv(String),
    #[error("`module` must be an absolute path, not `{0}`")]
    RelativeModule(String),
    #[error("only private keys sign: `type={0}` is not `private`")]
    NotPrivate(String),
    #[error("a keystore reference is `keystore:<dir>/<role>.key`, not `{0}`")]
    BadKeystorePath(String),
    #[error("unknown key role `{0}`")]
    UnknownRole(String),
}

/// Why a PIN could not be read from its [`PinSource`].
#[derive(Debug, thiserror::Error)]
pub enum PinError {
    #[error("cannot read the PIN file {path}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("PIN file {path} is readable by other users (mode {mode:o}); chmod o-rwx")]
    WorldReadable { path: PathBuf, mode: u32 },
    #[error("environment variable {0} (pin-env) is not set or not UTF-8")]
    EnvMissing(String),
    #[error("the PIN from {0} is empty or not UTF-8")]
    Invalid(String),
}

impl FromStr for KeyRef {
    type Err = KeyRefError;

    fn from_str(s: &str) -> Result<Self, KeyRefError> {
        if let Some(rest) = s.strip_prefix("pkcs11:") {
            parse_pkcs11(rest).map(KeyRef::Pkcs11)
        } else if let Some(rest) = s.strip_prefix("keystore:") {
            parse_keystore(rest).map(KeyRef::Keystore)
        } else {
            Err(KeyRefError::UnknownScheme)
        }
    }
}

fn parse_pkcs11(rest: &str) -> Result<Pkcs11Ref, KeyRefError> {
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let attributes = path
        .split(';')
        .chain(query.split('&').filter(|_| !query.is_empty()));
    let (mut token, mut object, mut module) = (None, None, None);
    let (mut pin_file, mut pin_env, mut kind) = (None, None, None);
    for attribute in attributes {
        let (name, raw) = attribute
            .split_once('=')
            .filter(|(_, v)| !v.is_empty())
            .ok_or_else(|| KeyRefError::Malformed(attribute.to_owned()))?;
        let value =
            percent_decode(raw).ok_or_else(|| KeyRefError::BadPercentEncoding(name.into()))?;
        let slot = match name {
            "token" => &mut token,
            "object" => &mut object,
            "module" | "module-path" => &mut module,
            "pin-source" => &mut pin_file,
            "pin-env" => &mut pin_env,
            "type" => &mut kind,
            "pin-value" => return Err(KeyRefError::InlinePin),
            _ => return Err(KeyRefError::UnknownAttribute(name.to_owned())),
        };
        if slot.replace(value).is_some() {
            return Err(KeyRefError::DuplicateAttribute(name.to_owned()));
        }
    }
    if let Some(kind) = kind.filter(|k| k != "private") {
        return Err(KeyRefError::NotPrivate(kind));
    }
    let module = PathBuf::from(module.unwrap_or_else(|| DEFAULT_PKCS11_MODULE.to_owned()));
    if !module.is_absolute() {
        return Err(KeyRefError::RelativeModule(module.display().to_string()));
    }
    let pin = match (pin_file, pin_env) {
        (Some(_), Some(_)) => return Err(KeyRefError::ConflictingPin),
        (None, None) => return Err(KeyRefError::MissingPin),
        (Some(uri), None) => PinSource::File(parse_file_uri(&uri)?),
        (None, Some(name)) => {
            let valid = name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && !name.starts_with(|c: char| c.is_ascii_digit());
            if !valid {
                return Err(KeyRefError::BadPinEnv(name));
            }
            PinSource::Env(name)
        }
    };
    Ok(Pkcs11Ref {
        module,
        token: token.ok_or(KeyRefError::MissingAttribute("token"))?,
        object: object.ok_or(KeyRefError::MissingAttribute("object"))?,
        pin,
    })
}

/// `file:/abs` or `file:///abs` (RFC 8089 with an empty authority) to `/abs`.
fn parse_file_uri(uri: &str) -> Result<PathBuf, KeyRefError> {
    let path = uri
        .strip_prefix("file://")
        .or_else(|| uri.strip_prefix("file:"))
        .filter(|p| p.starts_with('/'))
        .ok_or_else(|| KeyRefError::BadPinSource(uri.to_owned()))?;
    Ok(PathBuf::from(path))
}

fn parse_keystore(rest: &str) -> Result<KeystoreRef, KeyRefError> {
    let bad = || KeyRefError::BadKeystorePath(rest.to_owned());
    let path = Path::new(rest);
    let file = path.file_name().and_then(|f| f.to_str()).ok_or_else(bad)?;
    let role_name = file.strip_suffix(".key").ok_or_else(bad)?;
    let role =
        KeyRole::from_name(role_name).ok_or_else(|| KeyRefError::UnknownRole(role_name.into()))?;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .ok_or_else(bad)?;
    Ok(KeystoreRef {
        dir: dir.to_path_buf(),
        role,
    })
}

/// Decodes `%XX` escapes; `None` for a broken escape or a result that is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hi = char::from(bytes.next()?).to_digit(16)?;
            let lo = char::from(bytes.next()?).to_digit(16)?;
            out.push(u8::try_from(hi * 16 + lo).ok()?);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).ok()
}

/// Writes `s` escaping everything but RFC 3986 unreserved characters and `/`.
fn percent_encode(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            write!(f, "{}", char::from(b))?;
        } else {
            write!(f, "%{b:02X}")?;
        }
    }
    Ok(())
}

impl fmt::Display for KeyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyRef::Pkcs11(r) => {
                f.write_str("pkcs11:token=")?;
                percent_encode(f, &r.token)?;
                f.write_str(";object=")?;
                percent_encode(f, &r.object)?;
                f.write_str(";module=")?;
                percent_encode(f, &r.module.to_string_lossy())?;
                match &r.pin {
                    PinSource::File(path) => {
                        f.write_str(";pin-source=file:")?;
                        percent_encode(f, &path.to_string_lossy())
                    }
                    PinSource::Env(name) => write!(f, ";pin-env={name}"),
                }
            }
            KeyRef::Keystore(r) => write!(f, "keystore:{}/{}.key", r.dir.display(), r.role),
        }
    }
}

impl PinSource {
    /// Reads the PIN. A PIN file must not be accessible to other users; one trailing newline
    /// (`\n` or `\r\n`) is dropped.
    pub fn read(&self) -> Result<Zeroizing<String>, PinError> {
        let pin = match self {
            PinSource::File(path) => {
                let io = |source| PinError::Io {
                    path: path.clone(),
                    source,
                };
                let mode = std::fs::metadata(path).map_err(io)?.permissions().mode();
                if mode & 0o007 != 0 {
                    return Err(PinError::WorldReadable {
                        path: path.clone(),
                        mode: mode & 0o7777,
                    });
                }
                let bytes = Zeroizing::new(std::fs::read(path).map_err(io)?);
                let text = std::str::from_utf8(&bytes)
                    .map_err(|_| PinError::Invalid(path.display().to_string()))?;
                let text = text.strip_suffix('\n').unwrap_or(text);
                Zeroizing::new(text.strip_suffix('\r').unwrap_or(text).to_owned())
            }
            PinSource::Env(name) => {
                Zeroizing::new(std::env::var(name).map_err(|_| PinError::EnvMissing(name.clone()))?)
            }
        };
        if pin.is_empty() {
            return Err(PinError::Invalid(self.to_string()));
        }
        Ok(pin)
    }
}

impl fmt::Display for PinSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PinSource::File(path) => write!(f, "PIN file {}", path.display()),
            PinSource::Env(name) => write!(f, "environment variable {name}"),
        }
    }
}

#[cfg(test)]
mod tests;
