//! The agents' credentials file: one HA1 per agent, never a password.
//!
//! ```toml
//! # Mode 0600. ha1_md5 = MD5("username:realm:password"), lower-case hex.
//! realm = "legatura"
//! [[agent]]
//! username = "agent1"
//! ha1_md5 = "…"
//! ha1_sha256 = "…"   # optional, for RFC 8760 clients
//! extension = "101"  # optional
//! staff = "op.ionescu"  # optional: the console account that answers this phone
//! ```
//!
//! An HA1 is not the password, but it is as good as the password *for this realm*: whoever
//! holds it can answer any challenge we send. So the file is a secret like a key (mode 0600,
//! referenced from hubd.toml, never inlined there), while the password itself exists only on
//! the agent's phone. Changing the realm invalidates every HA1, which is why the file names
//! the realm it was computed for and a mismatch refuses to start.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde::Deserialize;
use sip::digest::{Algorithm, ha1};

use crate::registrar::Account;

/// Why the credentials file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("cannot read {path}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is readable by others (mode {mode:o}); fix with chmod 600")]
    Permissions { path: String, mode: u32 },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    realm: String,
    #[serde(default, rename = "agent")]
    agents: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    username: String,
    ha1_md5: String,
    ha1_sha256: Option<String>,
    extension: Option<String>,
    staff: Option<String>,
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Reads the file, checking its mode and that it was made for `realm`.
pub fn load(path: &Path, realm: &str) -> Result<Vec<Account>, CredentialsError> {
    let name = path.display().to_string();
    let io = |source| CredentialsError::Io {
        path: name.clone(),
        source,
    };
    let mode = std::fs::metadata(path).map_err(io)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(CredentialsError::Permissions { path: name, mode });
    }
    let text = std::fs::read_to_string(path).map_err(io)?;
    parse(&text, realm).map_err(|message| CredentialsError::Invalid {
        path: name,
        message,
    })
}

/// Parses the file's text (pure, for tests).
pub fn parse(text: &str, realm: &str) -> Result<Vec<Account>, String> {
    let file: File = toml::from_str(text).map_err(|e| e.message().to_owned())?;
    if file.realm != realm {
        return Err(format!(
            "made for realm {:?}, but the bridge's realm is {realm:?}: every HA1 must be recomputed",
            file.realm
        ));
    }
    let mut accounts: Vec<Account> = Vec::new();
    for entry in file.agents {
        if entry.username.is_empty()
            || !entry
                .username
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        {
            return Err(format!(
                "agent {:?}: username must be [A-Za-z0-9._-]+",
                entry.username
            ));
        }
        if !is_hex(&entry.ha1_md5, 32) {
            return Err(format!(
                "agent {}: ha1_md5 must be 32 lower-case hex digits",
                entry.username
            ));
        }
        if entry.ha1_sha256.as_deref().is_some_and(|h| !is_hex(h, 64)) {
            return Err(format!(
                "agent {}: ha1_sha256 must be 64 lower-case hex digits",
                entry.username
            ));
        }
        if accounts.iter().any(|a| {
            a.username == entry.username
                || (entry.extension.is_some() && a.extension == entry.extension)
        }) {
            return Err(format!(
                "agent {}: duplicate username or extension",
                entry.username
            ));
        }
        accounts.push(Account {
            username: entry.username,
            ha1_md5: entry.ha1_md5,
            ha1_sha256: entry.ha1_sha256,
            extension: entry.extension,
            staff: entry.staff,
        });
    }
    Ok(accounts)
}

/// An agent to write into a new credentials file (the password is hashed, then dropped).
#[derive(Debug, Clone)]
pub struct NewAgent<'a> {
    pub username: &'a str,
    pub password: &'a str,
    pub extension: Option<&'a str>,
    /// The console account that answers this phone.
    pub staff: Option<&'a str>,
}

/// A fresh password for a demo or new account: 16 random hex digits.
pub fn random_password() -> String {
    hex::encode(rand::random::<[u8; 8]>())
}

/// The text of a credentials file for `agents`.
pub fn render(realm: &str, agents: &[NewAgent<'_>]) -> String {
    let mut out = format!(
        "# SIP agents of the telephony bridge. Mode 0600: an HA1 answers any challenge of this\n\
         # realm. ha1_md5 = MD5(\"username:realm:password\").\nrealm = \"{realm}\"\n"
    );
    for agent in agents {
        out.push_str(&format!(
            "\n[[agent]]\nusername = \"{}\"\nha1_md5 = \"{}\"\nha1_sha256 = \"{}\"\n",
            agent.username,
            ha1(Algorithm::Md5, agent.username, realm, agent.password),
            ha1(Algorithm::Sha256, agent.username, realm, agent.password),
        ));
        if let Some(ext) = agent.extension {
            out.push_str(&format!("extension = \"{ext}\"\n"));
        }
        if let Some(staff) = agent.staff {
            out.push_str(&format!("staff = \"{staff}\"\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendered_file_loads_back() {
        let text = render(
            "legatura",
            &[NewAgent {
                username: "agent1",
                password: "pw",
                extension: Some("101"),
                staff: Some("op.ionescu"),
            }],
        );
        let accounts = parse(&text, "legatura").expect("parses");
        assert_eq!(
            accounts[0].ha1_md5,
            ha1(Algorithm::Md5, "agent1", "legatura", "pw")
        );
        assert_eq!(accounts[0].extension.as_deref(), Some("101"));
        assert_eq!(accounts[0].staff.as_deref(), Some("op.ionescu"));
        assert!(!text.contains("pw\""), "the password is not written");
        assert!(
            parse(&text, "other")
                .expect_err("realm")
                .contains("recomputed")
        );
    }

    #[test]
    fn bad_entries_are_named() {
        let bad = "realm = \"r\"\n[[agent]]\nusername = \"a b\"\nha1_md5 = \"00\"\n";
        assert!(parse(bad, "r").expect_err("bad").contains("username"));
        let short = "realm = \"r\"\n[[agent]]\nusername = \"a\"\nha1_md5 = \"00\"\n";
        assert!(parse(short, "r").expect_err("bad").contains("ha1_md5"));
        let typo = "realm = \"r\"\n[[agent]]\nusername = \"a\"\nha1 = \"00\"\n";
        assert!(parse(typo, "r").is_err());
    }

    #[test]
    fn world_readable_file_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("agents.toml");
        std::fs::write(&path, render("r", &[])).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(matches!(
            load(&path, "r"),
            Err(CredentialsError::Permissions { .. })
        ));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        assert!(load(&path, "r").expect("loads").is_empty());
    }
}
