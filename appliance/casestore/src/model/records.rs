//! What operations take (`New*`) and what reads return.

use super::{
    Actor, AgentId, AttachmentId, BirthDate, Body, CaseId, CaseNumber, Channel, ConsulateId,
    ContactId, ContactKind, ContactValue, Direction, Family, FileName, IdempotencyKey, Language,
    LinkKind, MediaType, MessageId, Name, Note, PersonId, PersonIdentifier, Priority, ReferralId,
    Relationship, Role, ScanVerdict, Sensitivity, Sha256, Status, Timestamp, TypeCode,
    Verification, Visibility,
};

/// A case's classification in the consular taxonomy, as of one version of the taxonomy file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseType {
    pub code: TypeCode,
    pub subtype: Option<TypeCode>,
    pub taxonomy_version: u32,
    pub family: Family,
}

/// A new case as received on a channel. The first message is the citizen's request.
#[derive(Debug, Clone)]
pub struct NewCase {
    /// A repeat of a key already seen returns the first case and creates nothing.
    pub idempotency_key: Option<IdempotencyKey>,
    pub case_type: CaseType,
    pub priority: Priority,
    pub sensitivity: Sensitivity,
    pub consulate: ConsulateId,
    pub channel: Channel,
    pub language: Language,
    /// The classifier was unsure: the case starts in `triage` rather than `new`.
    pub needs_triage: bool,
    /// The citizen concerned.
    pub subject: NewPerson,
    /// Who asked, when not the subject (a relative, a lawyer, an NGO, an authority).
    pub requester: Option<NewRequester>,
    /// Who wrote the first message: the citizen, or an agent taking a call.
    pub author: Actor,
    pub body: Body,
    /// Metadata of files already stored in the [`AttachmentStore`](crate::AttachmentStore).
    pub attachments: Vec<NewAttachment>,
}

/// A person as entered at intake.
#[derive(Debug, Clone)]
pub struct NewPerson {
    pub family_name: Name,
    pub given_names: Name,
    pub birth_date: Option<BirthDate>,
    pub contacts: Vec<NewContact>,
    /// CNP and passport numbers, kept to suggest related cases.
    pub identifiers: Vec<PersonIdentifier>,
}

/// A requester distinct from the subject. `relationship` is never `Myself`.
#[derive(Debug, Clone)]
pub struct NewRequester {
    pub person: NewPerson,
    pub relationship: Relationship,
}

#[derive(Debug, Clone)]
pub struct NewContact {
    pub kind: ContactKind,
    pub value: ContactValue,
    pub verification: Verification,
}

/// A message added to an existing case.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub direction: Direction,
    pub channel: Channel,
    pub author: Actor,
    pub visibility: Visibility,
    pub language: Language,
    pub body: Body,
    pub attachments: Vec<NewAttachment>,
}

/// Metadata of a stored file. The scan verdict starts `pending` unless already known.
#[derive(Debug, Clone)]
pub struct NewAttachment {
    pub sha256: Sha256,
    pub size: u64,
    pub media_type: MediaType,
    pub file_name: FileName,
    pub verdict: ScanVerdict,
}

/// A referral to an external body (police, hospital, ANITP, population records, …).
#[derive(Debug, Clone)]
pub struct NewReferral {
    pub body: Note,
    pub sent_at: Option<Timestamp>,
    pub due_at: Option<Timestamp>,
}

/// A case header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    pub id: CaseId,
    pub case_no: CaseNumber,
    pub case_type: CaseType,
    pub priority: Priority,
    pub sensitivity: Sensitivity,
    pub status: Status,
    pub consulate: ConsulateId,
    pub assignee: Option<AgentId>,
    pub channel: Channel,
    pub language: Language,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// 1 when created, one more for every transaction that changed the case or anything of
    /// it; what [`Expect::Version`](crate::Expect::Version) compares with.
    pub version: u64,
    /// When an agent first sent the citizen an external message.
    pub first_response_at: Option<Timestamp>,
    /// When the case first moved to resolved or closed (`None` for a case imported already
    /// resolved: when that happened is not known).
    pub resolved_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: PersonId,
    pub role: Role,
    pub relationship: Relationship,
    pub family_name: Name,
    pub given_names: Name,
    pub birth_date: Option<BirthDate>,
    pub contacts: Vec<ContactPoint>,
    pub identifiers: Vec<PersonIdentifier>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactPoint {
    pub id: ContactId,
    pub kind: ContactKind,
    pub value: ContactValue,
    pub verification: Verification,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: MessageId,
    pub at: Timestamp,
    pub direction: Direction,
    pub channel: Channel,
    pub author: Actor,
    pub visibility: Visibility,
    pub language: Language,
    pub body: Body,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub id: AttachmentId,
    pub message: Option<MessageId>,
    pub sha256: Sha256,
    pub size: u64,
    pub media_type: MediaType,
    pub file_name: FileName,
    pub verdict: ScanVerdict,
    pub verdict_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

/// One entry of a case's status history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    pub at: Timestamp,
    /// `None` for the entry that opened the case.
    pub from: Option<Status>,
    pub to: Status,
    pub actor: Actor,
    pub note: Option<Note>,
}

/// A typed link between two cases, seen from one of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub kind: LinkKind,
    /// `true` when this case is the link's source (`this` *kind* `other`).
    pub outgoing: bool,
    pub other: CaseId,
    pub at: Timestamp,
    pub actor: Actor,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referral {
    pub id: ReferralId,
    pub body: Note,
    /// Who recorded it (`None` for referrals recorded before the store kept that).
    pub actor: Option<Actor>,
    /// When it was recorded.
    pub recorded_at: Timestamp,
    pub sent_at: Option<Timestamp>,
    pub acknowledged_at: Option<Timestamp>,
    pub due_at: Option<Timestamp>,
    pub outcome: Option<Note>,
    pub outcome_at: Option<Timestamp>,
}
