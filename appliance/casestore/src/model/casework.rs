//! Values of the agents' case work: version checks, sensitivity sets, identity numbers, merges,
//! the change log, the timeline, related cases and response statistics.

use std::fmt;

use super::{
    Actor, AgentId, Attachment, CaseId, CaseNumber, ChangedField, IdKind, Link, MatchedOn, MergeId,
    Message, Note, Referral, Sensitivity, Status, StatusChange, Timestamp,
};
use crate::error::InvalidValue;

/// What a change expects the case's version to be: the version the agent's screen was built
/// from, so that two agents editing one case cannot overwrite each other unawares.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Expect {
    /// Whatever it is now (system actions, and changes that cannot conflict).
    #[default]
    Any,
    /// Exactly this [`Case::version`](crate::Case::version); otherwise the change is refused
    /// with [`WriteError::Conflict`](crate::WriteError::Conflict) and writes nothing.
    Version(u64),
}

/// A set of sensitivities: what a reader may see. The default is all three.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sensitivities(u8);

impl Sensitivities {
    pub const ALL: Self = Self(0b111);
    pub const NONE: Self = Self(0);

    fn bit(s: Sensitivity) -> u8 {
        match s {
            Sensitivity::Normal => 1,
            Sensitivity::Sensitive => 2,
            Sensitivity::Restricted => 4,
        }
    }

    /// All three.
    pub fn all() -> Self {
        Self::ALL
    }

    /// The sensitivities listed.
    pub fn of(list: &[Sensitivity]) -> Self {
        list.iter().copied().collect()
    }

    /// Just `s`.
    pub fn only(s: Sensitivity) -> Self {
        Self(Self::bit(s))
    }

    pub fn with(self, s: Sensitivity) -> Self {
        Self(self.0 | Self::bit(s))
    }

    pub fn without(self, s: Sensitivity) -> Self {
        Self(self.0 & !Self::bit(s))
    }

    pub fn contains(self, s: Sensitivity) -> bool {
        self.0 & Self::bit(s) != 0
    }

    pub fn is_all(self) -> bool {
        self == Self::ALL
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The members, in [`Sensitivity::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Sensitivity> {
        Sensitivity::ALL
            .iter()
            .copied()
            .filter(move |s| self.contains(*s))
    }
}

impl Default for Sensitivities {
    fn default() -> Self {
        Self::ALL
    }
}

impl FromIterator<Sensitivity> for Sensitivities {
    fn from_iter<I: IntoIterator<Item = Sensitivity>>(iter: I) -> Self {
        iter.into_iter().fold(Self::NONE, Self::with)
    }
}

impl fmt::Debug for Sensitivities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// An identity document number of a person, normalised (spaces dropped, letters upper-cased)
/// and format-checked: a CNP is 13 digits, a passport number 6–9 letters A–Z and digits with at
/// least one digit (ICAO 9303). Whether the number is genuine is for `intake` to check; the
/// store keeps it to find related cases. `Debug` masks it, so it never lands in a log.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PersonIdentifier {
    kind: IdKind,
    value: String,
}

impl PersonIdentifier {
    pub fn new(kind: IdKind, value: &str) -> Result<Self, InvalidValue> {
        let value: String = value
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let bad = |reason| InvalidValue {
            what: "identity number",
            reason,
        };
        match kind {
            IdKind::Cnp if value.len() != 13 || !value.bytes().all(|b| b.is_ascii_digit()) => {
                return Err(bad("is not a 13-digit CNP"));
            }
            IdKind::Passport
                if !(6..=9).contains(&value.len())
                    || !value
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
                    || !value.bytes().any(|b| b.is_ascii_digit()) =>
            {
                return Err(bad("is not a passport number (6–9 letters and digits)"));
            }
            _ => {}
        }
        Ok(Self { kind, value })
    }

    pub fn kind(&self) -> IdKind {
        self.kind
    }

    /// The full number. Show it masked ([`PersonIdentifier::masked`]) unless the reader's
    /// task needs it.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// All but the last two characters hidden (`***********56`).
    pub fn masked(&self) -> String {
        let n = self.value.chars().count();
        self.value
            .chars()
            .enumerate()
            .map(|(i, c)| if i + 2 < n { '*' } else { c })
            .collect()
    }
}

impl fmt::Debug for PersonIdentifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PersonIdentifier({}: {})", self.kind, self.masked())
    }
}

/// One merge of a case (`source`) into another (`into`), current or undone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merge {
    pub id: MergeId,
    pub source: CaseId,
    pub into: CaseId,
    pub at: Timestamp,
    pub actor: Actor,
    pub reason: Note,
    /// The source's status and assignee before the merge, given back by the un-merge.
    pub prior_status: Status,
    pub prior_assignee: Option<AgentId>,
    /// `Some` once un-merged; the merge stays on record.
    pub undone: Option<Undone>,
}

/// Who undid a merge, when and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undone {
    pub at: Timestamp,
    pub actor: Actor,
    pub reason: Note,
}

/// A change of a header field other than the status (which has its own history), with who
/// made it and why. Values are the stored codes: `P1`, a type code, `restricted`, an agent id
/// (`None`: no assignee).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldChange {
    pub at: Timestamp,
    pub field: ChangedField,
    pub from: Option<String>,
    pub to: Option<String>,
    pub actor: Actor,
    pub note: Option<Note>,
}

/// One entry of a case's timeline. `case` is the case the entry belongs to: the case asked
/// about, or a case merged into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimelineItem {
    Message {
        case: CaseId,
        message: Message,
    },
    StatusChange {
        case: CaseId,
        change: StatusChange,
    },
    /// Priority, type, sensitivity or assignee changed.
    FieldChange {
        case: CaseId,
        change: FieldChange,
    },
    /// An attachment with its current scan verdict.
    Attachment {
        case: CaseId,
        attachment: Attachment,
    },
    /// A referral (placed at the time it was recorded) with its current state.
    Referral {
        case: CaseId,
        referral: Referral,
    },
    Link {
        case: CaseId,
        link: Link,
    },
    /// `merge.source` was merged into `merge.into`.
    Merge {
        case: CaseId,
        merge: Merge,
    },
    /// The merge was undone (placed at `merge.undone`).
    Unmerge {
        case: CaseId,
        merge: Merge,
    },
}

impl TimelineItem {
    /// When it happened.
    pub fn at(&self) -> Timestamp {
        match self {
            TimelineItem::Message { message, .. } => message.at,
            TimelineItem::StatusChange { change, .. } => change.at,
            TimelineItem::FieldChange { change, .. } => change.at,
            TimelineItem::Attachment { attachment, .. } => attachment.created_at,
            TimelineItem::Referral { referral, .. } => referral.recorded_at,
            TimelineItem::Link { link, .. } => link.at,
            TimelineItem::Merge { merge, .. } => merge.at,
            TimelineItem::Unmerge { merge, .. } => merge.undone.as_ref().map_or(merge.at, |u| u.at),
        }
    }

    /// The case it came from.
    pub fn case(&self) -> CaseId {
        match self {
            TimelineItem::Message { case, .. }
            | TimelineItem::StatusChange { case, .. }
            | TimelineItem::FieldChange { case, .. }
            | TimelineItem::Attachment { case, .. }
            | TimelineItem::Referral { case, .. }
            | TimelineItem::Link { case, .. }
            | TimelineItem::Merge { case, .. }
            | TimelineItem::Unmerge { case, .. } => *case,
        }
    }
}

/// Another case that may concern the same person; a suggestion, never acted on by the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelatedCase {
    pub case: CaseId,
    pub case_no: CaseNumber,
    pub status: Status,
    /// The strongest thing the two cases share (identity numbers before contact points).
    pub matched_on: MatchedOn,
}

/// Response or resolution times over a period, from the histogram counters. Percentiles are
/// the upper bound of the bucket they fall in (a slight overestimate, never an underestimate,
/// except in the last, open-ended bucket, which reports its lower bound).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub count: u64,
    /// `None` when `count` is 0.
    pub median_ms: Option<i64>,
    pub p90_ms: Option<i64>,
}
