//! Strict TOML configuration files.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;

/// `sysexits.h` EX_CONFIG: what a daemon exits with when its configuration is unusable.
pub const EX_CONFIG: i32 = 78;

/// A configuration that cannot be used. Displays as one line naming the file, the line and
/// the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct ConfigError {
    pub origin: String,
    pub message: String,
}

impl ConfigError {
    /// An error about `key` found after parsing (a semantic check).
    pub fn invalid(origin: impl Into<String>, key: &str, why: impl std::fmt::Display) -> Self {
        Self {
            origin: origin.into(),
            message: format!("invalid `{key}`: {why}"),
        }
    }

    /// Prints the error as one line and exits with [`EX_CONFIG`].
    pub fn exit(&self) -> ! {
        #[allow(clippy::print_stderr)]
        {
            eprintln!("config error: {self}");
        }
        std::process::exit(EX_CONFIG)
    }
}

/// Parses TOML text; `origin` names it in errors (usually the file path).
pub fn parse<T: DeserializeOwned>(text: &str, origin: &str) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| {
        let line = e.span().map(|span| {
            text.as_bytes()[..span.start.min(text.len())]
                .iter()
                .filter(|b| **b == b'\n')
                .count()
                + 1
        });
        let message = e.message().replace('\n', " ");
        ConfigError {
            origin: origin.to_owned(),
            message: match line {
                Some(line) => format!("line {line}: {message}"),
                None => message,
            },
        }
    })
}

/// Reads a configuration file; returns its text and its name for error messages.
pub fn read(path: &Path) -> Result<(String, String), ConfigError> {
    let origin = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => Ok((text, origin)),
        Err(e) => Err(ConfigError {
            origin,
            message: format!("cannot read: {e}"),
        }),
    }
}

/// Reads and parses a TOML file.
pub fn load<T: DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let (text, origin) = read(path)?;
    parse(&text, &origin)
}

/// Resolves `path` against the directory of the configuration file, so a config can name its
/// certificates relative to itself.
pub fn relative_to(config: &Path, path: &Path) -> PathBuf {
    match config.parent() {
        Some(dir) if path.is_relative() => dir.join(path),
        _ => path.to_owned(),
    }
}

/// The `[transport]` table both daemons accept.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TransportSection {
    /// Keepalive interval on a quiet connection.
    #[serde(with = "humantime_serde")]
    pub keepalive: Duration,
    /// A connection silent for this long is dead.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// Receive window per stream, in bytes.
    pub stream_window: u32,
    /// Receive window per connection, in bytes.
    pub connection_window: u32,
    /// Concurrent streams a peer may open.
    pub max_streams: u32,
}

impl Default for TransportSection {
    fn default() -> Self {
        let t = tunnel::TransportSettings::default();
        Self {
            keepalive: t.keepalive,
            idle_timeout: t.idle_timeout,
            stream_window: t.stream_window,
            connection_window: t.connection_window,
            max_streams: t.max_streams,
        }
    }
}

impl TransportSection {
    /// Checks the values make sense together.
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        if self.keepalive.is_zero() || self.keepalive >= self.idle_timeout {
            return Err(ConfigError::invalid(
                origin,
                "transport.keepalive",
                "must be above zero and below transport.idle_timeout",
            ));
        }
        if self.max_streams < 1 {
            return Err(ConfigError::invalid(
                origin,
                "transport.max_streams",
                "must be at least 1",
            ));
        }
        if self.stream_window < 65_536 || self.connection_window < self.stream_window {
            return Err(ConfigError::invalid(
                origin,
                "transport.connection_window",
                "windows must be ≥ 64 KiB and the connection window ≥ the stream window",
            ));
        }
        Ok(())
    }

    /// The tunnel's settings.
    pub fn settings(&self) -> tunnel::TransportSettings {
        tunnel::TransportSettings {
            keepalive: self.keepalive,
            idle_timeout: self.idle_timeout,
            stream_window: self.stream_window,
            connection_window: self.connection_window,
            max_streams: self.max_streams,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        name: String,
        #[serde(default)]
        transport: TransportSection,
    }

    #[test]
    fn unknown_key_is_one_line_naming_line_and_key() {
        let err = parse::<Sample>(
            "name = \"x\"\n\n[transport]\nkeeplive = \"5s\"\n",
            "gw.toml",
        )
        .expect_err("typo");
        let line = err.to_string();
        assert!(!line.contains('\n'), "{line}");
        assert!(
            line.starts_with("gw.toml: line 4: unknown field `keeplive`"),
            "{line}"
        );
    }

    #[test]
    fn bad_duration_names_the_key() {
        let err = parse::<Sample>(
            "name = \"x\"\n[transport]\nkeepalive = \"soon\"\n",
            "gw.toml",
        )
        .expect_err("bad value");
        assert!(err.to_string().contains("line 3"), "{err}");
    }

    #[test]
    fn missing_file_is_a_config_error() {
        let err = load::<Sample>(Path::new("/nonexistent/gw.toml")).expect_err("missing");
        assert_eq!(err.origin, "/nonexistent/gw.toml");
        assert!(err.message.starts_with("cannot read"), "{err}");
    }

    #[test]
    fn transport_defaults_are_valid_and_nonsense_is_not() {
        let s: Sample = parse("name = \"x\"\n", "t").expect("defaults");
        assert!(s.transport.validate("t").is_ok());
        let s: Sample =
            parse("name = \"x\"\n[transport]\nkeepalive = \"40s\"\n", "t").expect("parses");
        assert!(
            s.transport
                .validate("t")
                .expect_err("keepalive ≥ idle")
                .to_string()
                .contains("transport.keepalive")
        );
    }

    #[test]
    fn relative_paths_follow_the_config_file() {
        assert_eq!(
            relative_to(Path::new("/etc/l/gw.toml"), Path::new("ca.pem")),
            PathBuf::from("/etc/l/ca.pem")
        );
        assert_eq!(
            relative_to(Path::new("/etc/l/gw.toml"), Path::new("/x/ca.pem")),
            PathBuf::from("/x/ca.pem")
        );
    }
}
