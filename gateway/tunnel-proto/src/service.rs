//! Service names: the key both ends use to agree on what a stream or flow is for.

use std::fmt;

/// Longest service name, in bytes.
pub const MAX_SERVICE_NAME: usize = 63;

/// A validated service name: 1–63 bytes of `[a-z0-9._-]`, starting with a letter or digit.
///
/// Kept this narrow so that names are safe in logs, metric labels and file names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceName(String);

/// The service name broke the rules of [`ServiceName`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid service name {0:?}: use 1-63 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit"
)]
pub struct InvalidServiceName(pub String);

impl ServiceName {
    /// Validates `name`.
    pub fn new(name: &str) -> Result<Self, InvalidServiceName> {
        Self::from_bytes(name.as_bytes()).ok_or_else(|| InvalidServiceName(name.to_owned()))
    }

    /// Validates raw bytes from the wire.
    pub(crate) fn from_bytes(raw: &[u8]) -> Option<Self> {
        let ok_char = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(b);
        let first_ok = raw
            .first()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if !first_ok || raw.len() > MAX_SERVICE_NAME || !raw.iter().all(ok_char) {
            return None;
        }
        // Every byte is ASCII, so this cannot fail; map it anyway rather than unwrap.
        std::str::from_utf8(raw).ok().map(|s| Self(s.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.0.len() as u8);
        out.extend_from_slice(self.0.as_bytes());
    }
}

impl fmt::Display for ServiceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for ServiceName {
    type Err = InvalidServiceName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_names() {
        for ok in ["console", "sip", "a", "status-page", "x.y_z", "9lives"] {
            assert!(ServiceName::new(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_names_unsafe_for_logs_and_labels() {
        let long = "a".repeat(64);
        for bad in [
            "",
            "Console",
            "-x",
            ".x",
            "a b",
            "a/b",
            "é",
            "a\n",
            long.as_str(),
        ] {
            assert!(ServiceName::new(bad).is_err(), "{bad:?}");
        }
    }
}
