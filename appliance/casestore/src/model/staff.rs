//! Values of staff accounts, break-glass grants and the knowledge base. The two secrets never
//! show in `Debug` output, so an account can be logged without leaking them.

use std::fmt;

use super::id;
use super::text::text;
use crate::error::InvalidValue;

id!(
    /// A break-glass grant.
    GrantId
);
id!(
    /// A knowledge-base article in one language.
    ArticleId
);

fn invalid(what: &'static str, reason: &'static str) -> InvalidValue {
    InvalidValue { what, reason }
}

/// An argon2id password hash in PHC string form (`$argon2id$v=19$m=…$salt$hash`), made by the
/// sign-in code. The store never hashes and never sees a password; it refuses anything that
/// does not look like an argon2id PHC string, so a plaintext password cannot be stored by
/// mistake.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    const MAX_LEN: usize = 512;

    pub fn new(phc: impl Into<String>) -> Result<Self, InvalidValue> {
        let phc = phc.into();
        let what = "password hash";
        if !phc.starts_with("$argon2id$") {
            return Err(invalid(what, "is not an argon2id PHC string"));
        }
        if phc.len() > Self::MAX_LEN {
            return Err(invalid(what, "is too long"));
        }
        if !phc.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(invalid(what, "has a character outside the PHC alphabet"));
        }
        Ok(Self(phc))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

/// A TOTP shared secret as the sign-in code keeps it (raw, or sealed by it): 16 to 256 bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

impl TotpSecret {
    /// RFC 4226 asks for at least 128 bits.
    const MIN_LEN: usize = 16;
    const MAX_LEN: usize = 256;

    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, InvalidValue> {
        let bytes = bytes.into();
        if bytes.len() < Self::MIN_LEN {
            return Err(invalid("totp secret", "is shorter than 16 bytes"));
        }
        if bytes.len() > Self::MAX_LEN {
            return Err(invalid("totp secret", "is longer than 256 bytes"));
        }
        Ok(Self(bytes))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

/// Lowercase ASCII letters and digits in runs joined by single `sep` characters.
fn lower_words(s: &str, max: usize, sep: u8) -> Result<(), &'static str> {
    if s.is_empty() {
        return Err("is empty");
    }
    if s.len() > max {
        return Err("is too long");
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == sep)
    {
        return Err("has a character other than a-z, 0-9 and the separator");
    }
    if s.split(char::from(sep)).any(str::is_empty) {
        return Err("has an empty word");
    }
    Ok(())
}

text!(
    /// An article's name in URLs, shared by its translations, e.g. `passport-lost-abroad`.
    Slug,
    "article slug",
    |s| lower_words(s, 128, b'-')
);

text!(
    /// What an article is about, e.g. `passport` or `civil_status`.
    Topic,
    "article topic",
    |s| lower_words(s, 64, b'_')
);

text!(
    /// An article's title: one line of up to 200 characters.
    Title,
    "article title",
    |s| {
        if s.trim().is_empty() {
            Err("is empty")
        } else if s.chars().count() > 200 {
            Err("is too long")
        } else if s.chars().any(char::is_control) {
            Err("contains a control character")
        } else {
            Ok(())
        }
    }
);

/// An ISO 3166-1 alpha-2 country code, kept in capitals (`fr` becomes `FR`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CountryCode(String);

impl CountryCode {
    pub fn new(code: &str) -> Result<Self, InvalidValue> {
        if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(invalid("country code", "is not two letters"));
        }
        Ok(Self(code.to_ascii_uppercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests;
