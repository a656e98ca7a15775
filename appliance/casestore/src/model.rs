//! The case model: identifiers, timestamps, case numbers, and the values operations take and
//! return. Nothing here knows about SQL.

mod casework;
mod codes;
mod records;
mod staff;
mod text;

use std::fmt;
use std::str::FromStr;

pub use casework::{
    Expect, FieldChange, Merge, PersonIdentifier, RelatedCase, Sensitivities, Stats, TimelineItem,
    Undone,
};
pub use codes::{
    ChangedField, Channel, ContactKind, Direction, EventKind, Family, IdKind, LinkKind, MatchedOn,
    Priority, QueueKind, Relationship, Role, ScanVerdict, Sensitivity, StaffRole, StatMetric,
    Status, Verification, Visibility,
};
pub use records::{
    Attachment, Case, CaseType, ContactPoint, Link, Message, NewAttachment, NewCase, NewContact,
    NewMessage, NewPerson, NewReferral, NewRequester, Person, Referral, StatusChange,
};
pub use staff::{ArticleId, CountryCode, GrantId, PasswordHash, Slug, Title, Topic, TotpSecret};
pub use text::{
    AgentId, BirthDate, Body, ConsulateId, ContactValue, FileName, IdempotencyKey, Language,
    MAX_BODY_BYTES, MediaType, Name, Note, TypeCode,
};

use crate::error::InvalidValue;

/// Declares an opaque row identifier.
macro_rules! id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(i64);

        impl $name {
            /// The number behind the id, for logs and URLs.
            pub fn get(self) -> i64 {
                self.0
            }

            /// The id with number `n`; whether it names anything is for the store to say.
            pub fn from_raw(n: i64) -> Self {
                Self(n)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}
// For the ids declared beside their records in the submodules.
pub(crate) use id;

id!(
    /// A case's internal id (the public name is its [`CaseNumber`]).
    CaseId
);
id!(
    /// A message of a case.
    MessageId
);
id!(
    /// A person attached to a case (subject or requester).
    PersonId
);
id!(
    /// A contact point of a person.
    ContactId
);
id!(
    /// An attachment's metadata row.
    AttachmentId
);
id!(
    /// A referral to an external body.
    ReferralId
);
id!(
    /// An outbox event.
    OutboxId
);
id!(
    /// A merge of one case into another.
    MergeId
);

/// A moment in UTC, in milliseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(i64);

impl Timestamp {
    pub fn from_unix_ms(ms: i64) -> Self {
        Self(ms)
    }

    pub fn unix_ms(self) -> i64 {
        self.0
    }

    /// This moment plus `ms` milliseconds (saturating).
    pub fn plus_ms(self, ms: i64) -> Self {
        Self(self.0.saturating_add(ms))
    }

    /// The UTC calendar year, which numbers the case sequence.
    pub fn year(self) -> i32 {
        let seconds = self.0.div_euclid(1000);
        time::OffsetDateTime::from_unix_timestamp(seconds)
            .map(|t| t.year())
            .unwrap_or(if seconds < 0 { -9999 } else { 9999 })
    }
}

/// The public case number, `CSC-YYYY-NNNNNNN`: the year the case was opened (UTC) and its
/// place in that year's sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CaseNumber {
    year: u16,
    seq: u32,
}

impl CaseNumber {
    /// The largest sequence number a year can hold.
    pub const MAX_SEQ: u32 = 9_999_999;

    pub fn new(year: i64, seq: i64) -> Result<Self, InvalidValue> {
        let invalid = |reason| InvalidValue {
            what: "case number",
            reason,
        };
        let year = u16::try_from(year)
            .ok()
            .filter(|y| (2000..=9999).contains(y))
            .ok_or(invalid("year is outside 2000–9999"))?;
        let seq = u32::try_from(seq)
            .ok()
            .filter(|s| (1..=Self::MAX_SEQ).contains(s))
            .ok_or(invalid("sequence is outside 1–9999999"))?;
        Ok(Self { year, seq })
    }

    pub fn year(self) -> u16 {
        self.year
    }

    pub fn seq(self) -> u32 {
        self.seq
    }
}

impl fmt::Display for CaseNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CSC-{:04}-{:07}", self.year, self.seq)
    }
}

impl FromStr for CaseNumber {
    type Err = InvalidValue;

    /// Parses exactly `CSC-YYYY-NNNNNNN` (case-insensitive prefix, surrounding spaces ignored).
    fn from_str(s: &str) -> Result<Self, InvalidValue> {
        let bad = InvalidValue {
            what: "case number",
            reason: "is not CSC-YYYY-NNNNNNN",
        };
        let s = s.trim();
        let (prefix, rest) = s.split_at_checked(4).ok_or(bad.clone())?;
        let (year, seq) = rest.split_once('-').ok_or(bad.clone())?;
        let digits = |d: &str, n: usize| d.len() == n && d.bytes().all(|b| b.is_ascii_digit());
        if !prefix.eq_ignore_ascii_case("CSC-") || !digits(year, 4) || !digits(seq, 7) {
            return Err(bad);
        }
        Self::new(
            year.parse().map_err(|_| bad.clone())?,
            seq.parse().map_err(|_| bad)?,
        )
    }
}

/// A SHA-256 digest, shown as lowercase hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256(pub [u8; 32]);

impl Sha256 {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
        let mut out = [0; 32];
        out.copy_from_slice(digest.as_ref());
        Self(out)
    }

    pub fn to_hex(self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Parses 64 hex digits.
    pub fn from_hex(hex: &str) -> Result<Self, InvalidValue> {
        let bad = InvalidValue {
            what: "sha-256",
            reason: "is not 64 hex digits",
        };
        if hex.len() != 64 || !hex.is_ascii() {
            return Err(bad);
        }
        let mut out = [0; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad.clone())?;
        }
        Ok(Self(out))
    }
}

impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256({})", self.to_hex())
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Who did something: the citizen, the system (classifier, timers), or a staff member.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Actor {
    Citizen,
    System,
    Agent(AgentId),
}

impl Actor {
    /// `citizen`, `system` or `agent:<id>`: the stored form.
    pub fn code(&self) -> String {
        match self {
            Actor::Citizen => "citizen".to_owned(),
            Actor::System => "system".to_owned(),
            Actor::Agent(id) => format!("agent:{id}"),
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "citizen" => Some(Actor::Citizen),
            "system" => Some(Actor::System),
            _ => AgentId::new(code.strip_prefix("agent:")?)
                .ok()
                .map(Actor::Agent),
        }
    }
}

#[cfg(test)]
mod tests;
