//! Fixtures for the unit tests: a store in a temporary directory on a manual clock, and
//! ready-made cases.

use std::sync::Arc;

use crate::{
    Actor, Body, CaseType, Channel, ConsulateId, Family, FileName, IdempotencyKey, Language,
    ManualClock, MediaType, Name, NewAttachment, NewCase, NewPerson, Options, Priority,
    ScanVerdict, Sensitivity, Sha256, Store, Timestamp, TypeCode,
};

/// 2026-03-01T09:00:00Z.
pub(crate) const T0: i64 = 1_772_355_600_000;

pub(crate) struct TestStore {
    pub(crate) store: Store,
    pub(crate) clock: Arc<ManualClock>,
    pub(crate) dir: tempfile::TempDir,
}

/// Default options on a manual clock at [`T0`].
pub(crate) fn options() -> Options {
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_ms(T0)));
    Options {
        clock,
        ..Options::default()
    }
}

pub(crate) fn store() -> TestStore {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_ms(T0)));
    let options = Options {
        clock: clock.clone(),
        ..Options::default()
    };
    let store = Store::open(dir.path().join("cases.db"), options).expect("open");
    TestStore { store, clock, dir }
}

pub(crate) fn consulate(id: &str) -> ConsulateId {
    ConsulateId::new(id).expect("consulate")
}

pub(crate) fn person(family: &str, given: &str) -> NewPerson {
    NewPerson {
        family_name: Name::new(family).expect("name"),
        given_names: Name::new(given).expect("name"),
        birth_date: None,
        contacts: Vec::new(),
        identifiers: Vec::new(),
    }
}

pub(crate) fn attachment(bytes: &[u8]) -> NewAttachment {
    NewAttachment {
        sha256: Sha256::of(bytes),
        size: bytes.len() as u64,
        media_type: MediaType::new("application/pdf").expect("media type"),
        file_name: FileName::sanitize("pasaport.pdf"),
        verdict: ScanVerdict::Pending,
    }
}

/// A P3 passport request at RO-PAR, by web, in Romanian.
pub(crate) fn new_case(body: &str) -> NewCase {
    NewCase {
        idempotency_key: None,
        case_type: CaseType {
            code: TypeCode::new("A1.1").expect("type"),
            subtype: None,
            taxonomy_version: 1,
            family: Family::Service,
        },
        priority: Priority::P3,
        sensitivity: Sensitivity::Normal,
        consulate: consulate("RO-PAR"),
        channel: Channel::Web,
        language: Language::new("ro").expect("language"),
        needs_triage: false,
        subject: person("Popescu", "Ana"),
        requester: None,
        author: Actor::Citizen,
        body: Body::new(body).expect("body"),
        attachments: Vec::new(),
    }
}

pub(crate) fn keyed(mut case: NewCase, key: &str) -> NewCase {
    case.idempotency_key = Some(IdempotencyKey::new(key).expect("key"));
    case
}

/// Agent `id` as an actor.
pub(crate) fn agent(id: &str) -> Actor {
    Actor::Agent(crate::AgentId::new(id).expect("agent id"))
}

/// A message to add to a case: from the citizen (`In`, external) or from agent `ana`
/// (`Out`, with the visibility given).
pub(crate) fn message(
    direction: crate::Direction,
    visibility: crate::Visibility,
    body: &str,
) -> crate::NewMessage {
    crate::NewMessage {
        direction,
        channel: Channel::Email,
        author: match direction {
            crate::Direction::In => Actor::Citizen,
            crate::Direction::Out => agent("ana"),
        },
        visibility,
        language: Language::new("ro").expect("language"),
        body: Body::new(body).expect("body"),
        attachments: Vec::new(),
    }
}

/// A note.
pub(crate) fn note(text: &str) -> crate::Note {
    crate::Note::new(text).expect("note")
}
