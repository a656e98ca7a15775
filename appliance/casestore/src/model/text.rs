//! Validated text values. Each type checks its value once, at construction, so every operation
//! that takes one can trust it and the database never holds a value the API would refuse.

use std::fmt;

use crate::error::InvalidValue;

/// Declares a `String` newtype whose constructor applies `$check` to the value.
macro_rules! text {
    ($(#[$meta:meta])* $name:ident, $what:literal, $check:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Checks `value`, naming what is wrong with it.
            pub fn new(value: impl Into<String>) -> Result<Self, InvalidValue> {
                let value = value.into();
                let check: fn(&str) -> Result<(), &'static str> = $check;
                match check(&value) {
                    Ok(()) => Ok(Self(value)),
                    Err(reason) => Err(InvalidValue { what: $what, reason }),
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}
// For the text values declared beside their records in the other model modules.
pub(crate) use text;

/// The longest message body, in bytes (a long e-mail; attachments travel separately).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

fn ascii_code(s: &str, max: usize, extra: &[u8]) -> Result<(), &'static str> {
    if s.is_empty() {
        return Err("is empty");
    }
    if s.len() > max {
        return Err("is too long");
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || extra.contains(&b))
    {
        return Err("has a character outside the allowed set");
    }
    Ok(())
}

fn human_text(s: &str, max_chars: usize) -> Result<(), &'static str> {
    if s.trim().is_empty() {
        return Err("is empty");
    }
    if s.chars().count() > max_chars {
        return Err("is too long");
    }
    if s.chars().any(char::is_control) {
        return Err("contains a control character");
    }
    Ok(())
}

text!(
    /// An owning consulate (a tenant), e.g. `RO-PAR`.
    ConsulateId,
    "consulate id",
    |s| ascii_code(s, 32, b"-_.")
);

text!(
    /// A staff member's stable identifier.
    AgentId,
    "agent id",
    |s| ascii_code(s, 64, b"-_.@")
);

text!(
    /// A taxonomy code such as `C1` or `A1.3`.
    TypeCode,
    "type code",
    |s| ascii_code(s, 16, b"._-")
);

text!(
    /// A BCP 47 language tag such as `ro` or `en-GB`.
    Language,
    "language tag",
    |s| {
        ascii_code(s, 16, b"-")?;
        let primary = s.split('-').next().unwrap_or_default();
        if !(2..=3).contains(&primary.len()) || !primary.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err("does not start with a 2–3 letter language");
        }
        Ok(())
    }
);

text!(
    /// What makes a submission unique to its channel (portal form token, e-mail Message-ID,
    /// provider message id). The same key twice yields one case.
    IdempotencyKey,
    "idempotency key",
    |s| {
        if s.is_empty() {
            Err("is empty")
        } else if s.len() > 512 {
            Err("is too long")
        } else if s.chars().any(char::is_control) {
            Err("contains a control character")
        } else {
            Ok(())
        }
    }
);

text!(
    /// A person's family or given names.
    Name,
    "name",
    |s| human_text(s, 200)
);

text!(
    /// A short free text: a reason, a referral body's name, an outcome.
    Note,
    "note",
    |s| human_text(s, 2000)
);

text!(
    /// An e-mail address, phone number or IM handle.
    ContactValue,
    "contact value",
    |s| human_text(s, 320)
);

text!(
    /// A message body: any text up to [`MAX_BODY_BYTES`], without NUL.
    Body,
    "message body",
    |s| {
        if s.trim().is_empty() {
            Err("is empty")
        } else if s.len() > MAX_BODY_BYTES {
            Err("is too long")
        } else if s.contains('\0') {
            Err("contains NUL")
        } else {
            Ok(())
        }
    }
);

text!(
    /// A media type as sniffed from the bytes, e.g. `application/pdf`.
    MediaType,
    "media type",
    |s| {
        ascii_code(s, 127, b"/.+-")?;
        if s.bytes().filter(|b| *b == b'/').count() != 1 || s.starts_with('/') || s.ends_with('/')
        {
            return Err("is not type/subtype");
        }
        Ok(())
    }
);

text!(
    /// A date of birth, `YYYY-MM-DD`.
    BirthDate,
    "date of birth",
    |s| {
        let b = s.as_bytes();
        let shape = b.len() == 10
            && b[4] == b'-'
            && b[7] == b'-'
            && b.iter()
                .enumerate()
                .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
        if !shape {
            return Err("is not YYYY-MM-DD");
        }
        let num = |r: std::ops::Range<usize>| s[r].parse::<u8>().unwrap_or(0);
        let month = num(5..7);
        let day = num(8..10);
        if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
            return Err("is not a calendar date");
        }
        Ok(())
    }
);

/// An attachment's original file name, made safe to show and to put in a header: no directory
/// part, no control characters, no leading dots, at most 200 characters. Construction never
/// fails; a name with nothing left becomes `file`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileName(String);

impl FileName {
    pub fn sanitize(original: &str) -> Self {
        let base = original.rsplit(['/', '\\']).next().unwrap_or_default();
        let cleaned: String = base
            .chars()
            .filter(|c| {
                !c.is_control() && !matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
            })
            .take(200)
            .collect();
        let cleaned = cleaned.trim().trim_start_matches('.').trim();
        if cleaned.is_empty() {
            Self("file".to_owned())
        } else {
            Self(cleaned.to_owned())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
