//! The small value types every part of intake speaks: type codes, priority classes, families,
//! sensitivity classes and localised texts.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The languages every localised text must have: the portal's two required languages.
pub const REQUIRED_LANGUAGES: &[&str] = &["ro", "en"];

/// A taxonomy code such as `A1.1`, `C6` or `F`: a group letter `A`–`F`, then optionally a
/// number, then optionally `.` and a sub-number (each at most two digits).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TypeCode(String);

/// Why a string is not a [`TypeCode`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a taxonomy code (expected a letter A-F, then e.g. `1` or `1.1`)")]
pub struct InvalidTypeCode(pub String);

impl InvalidTypeCode {
    /// Keeps at most 16 characters of the rejected input: enough to recognise a typo in a data
    /// file, too little to echo a whole untrusted form field into a log.
    fn of(s: &str) -> Self {
        Self(s.chars().take(16).collect())
    }
}

impl TypeCode {
    /// Parses a code, rejecting anything but the exact canonical form (no spaces, upper case).
    pub fn parse(s: &str) -> Result<Self, InvalidTypeCode> {
        let mut chars = s.chars();
        let Some(letter) = chars.next() else {
            return Err(InvalidTypeCode::of(s));
        };
        if !('A'..='F').contains(&letter) {
            return Err(InvalidTypeCode::of(s));
        }
        let rest = chars.as_str();
        if !rest.is_empty() {
            let mut parts = rest.split('.');
            let major = parts.next().unwrap_or_default();
            let minor = parts.next();
            if parts.next().is_some() || !is_small_number(major) {
                return Err(InvalidTypeCode::of(s));
            }
            if let Some(minor) = minor
                && !is_small_number(minor)
            {
                return Err(InvalidTypeCode::of(s));
            }
        }
        Ok(Self(s.to_owned()))
    }

    /// The group letter: `A` services, `B` assistance, `C` protection, `D` information,
    /// `E` complaints, `F` crisis.
    pub fn group(&self) -> char {
        self.0.chars().next().unwrap_or('?')
    }

    /// The code as written, e.g. `A1.1`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_small_number(s: &str) -> bool {
    (1..=2).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

impl TryFrom<String> for TypeCode {
    type Error = InvalidTypeCode;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<TypeCode> for String {
    fn from(code: TypeCode) -> Self {
        code.0
    }
}

impl fmt::Display for TypeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A priority class. The order is urgency: `P0 < P1 < … < P4`, so the more urgent of two is
/// their `min`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Priority {
    /// Life at risk now: acknowledgement in minutes, authority hand-off.
    P0,
    /// Protection, urgent: contact within 24 h.
    P1,
    /// Time-critical document: about two working days.
    P2,
    /// Standard service: the legal or operational deadline.
    P3,
    /// Information.
    P4,
}

impl Priority {
    /// All classes, most urgent first.
    pub const ALL: [Priority; 5] = [Self::P0, Self::P1, Self::P2, Self::P3, Self::P4];

    /// The more urgent of `self` and `other`.
    pub fn most_urgent(self, other: Priority) -> Priority {
        self.min(other)
    }

    /// `P0` … `P4`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::P0 => "P0",
            Self::P1 => "P1",
            Self::P2 => "P2",
            Self::P3 => "P3",
            Self::P4 => "P4",
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The family of a case type; the first three follow the definitions of Law 62/2019.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// Consular services (documents).
    Service,
    /// Consular assistance (non-emergency).
    Assistance,
    /// Consular protection: life, health, liberty, safety.
    Protection,
    /// Information.
    Info,
    /// Complaints, petitions, feedback.
    Complaint,
    /// A mass event handled by the crisis cell.
    Crisis,
}

/// Who may read a case. The order is strictness: `Normal < Sensitive < Restricted`, so the
/// stricter of two is their `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sensitivity {
    /// Any agent of the owning consulate.
    Normal,
    /// Health, death, missing persons, family matters.
    Sensitive,
    /// Detention, minors, sexual violence, trafficking: named officers only, reads audited.
    Restricted,
}

/// A text in several languages, keyed by a lowercase language code (`ro`, `en`, …). Every
/// loaded text has at least [`REQUIRED_LANGUAGES`]; more languages are data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Localized(BTreeMap<String, String>);

impl Localized {
    /// The text in `lang`, else in English, else in Romanian.
    pub fn get(&self, lang: &str) -> &str {
        self.0
            .get(lang)
            .or_else(|| self.0.get("en"))
            .or_else(|| self.0.get("ro"))
            .map_or("", String::as_str)
    }

    /// The languages this text is written in.
    pub fn languages(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// Checks the required languages are present, the language codes are well-formed and no
    /// text is blank; the error says which.
    pub(crate) fn check(&self) -> Result<(), String> {
        for lang in REQUIRED_LANGUAGES {
            if !self.0.contains_key(*lang) {
                return Err(format!("missing the `{lang}` text"));
            }
        }
        for (lang, text) in &self.0 {
            if !is_language_code(lang) {
                return Err(format!(
                    "`{lang}` is not a language code (2-3 lowercase letters)"
                ));
            }
            if text.trim().is_empty() {
                return Err(format!("the `{lang}` text is empty"));
            }
        }
        Ok(())
    }
}

fn is_language_code(s: &str) -> bool {
    (2..=3).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_lowercase())
}

/// Parses a data file, naming the key of the first error: `(line, "path.to.key: message")`,
/// the line 1-based (0 when `toml` gives no position).
pub(crate) fn parse_toml<T: serde::de::DeserializeOwned>(
    source: &str,
) -> Result<T, (usize, String)> {
    serde_path_to_error::deserialize(toml::Deserializer::new(source)).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.inner();
        let line = inner.span().map_or(0, |span| {
            let end = span.start.min(source.len());
            source.as_bytes()[..end]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1
        });
        let message = inner.message().trim();
        if path.is_empty() || path == "." {
            (line, message.to_owned())
        } else {
            (line, format!("{path}: {message}"))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_codes_parse_only_in_canonical_form() {
        for good in ["A1.1", "A3.6", "B6", "C9", "D4", "E", "F", "A12.34"] {
            assert_eq!(
                TypeCode::parse(good).map(|c| c.to_string()),
                Ok(good.into())
            );
        }
        for bad in [
            "", "G1", "a1.1", "A1.", "A.1", "A1.1.1", "A123", " A1", "C1 ", "Ă1", "A1.x",
        ] {
            assert_eq!(TypeCode::parse(bad), Err(InvalidTypeCode(bad.into())));
        }
    }

    #[test]
    fn priority_order_is_urgency() {
        assert!(Priority::P0 < Priority::P4);
        assert_eq!(Priority::P3.most_urgent(Priority::P1), Priority::P1);
        assert_eq!(Priority::P0.most_urgent(Priority::P2), Priority::P0);
        assert!(Sensitivity::Restricted > Sensitivity::Normal);
    }

    #[test]
    fn localized_falls_back_to_english() {
        let text: Localized =
            toml::from_str::<BTreeMap<String, Localized>>("t = { ro = \"Salut\", en = \"Hello\" }")
                .ok()
                .and_then(|mut m| m.remove("t"))
                .unwrap_or_else(|| Localized(BTreeMap::new()));
        assert_eq!(text.get("ro"), "Salut");
        assert_eq!(text.get("fr"), "Hello");
        assert_eq!(text.check(), Ok(()));
    }
}
