use std::time::Duration;

use crate::testkit::{self, attachment, new_case};
use crate::{
    Actor, AgentId, Body, CaseId, ChangedField, Channel, Direction, EventKind, Expect, Language,
    NewMessage, Note, Priority, QueueKind, ScanVerdict, SearchQuery, StatMetric, Status,
    Visibility, WriteError,
};

fn message(direction: Direction, visibility: Visibility, body: &str) -> NewMessage {
    NewMessage {
        direction,
        channel: Channel::Email,
        author: match direction {
            Direction::In => Actor::Citizen,
            Direction::Out => Actor::Agent(AgentId::new("ana").unwrap()),
        },
        visibility,
        language: Language::new("ro").unwrap(),
        body: Body::new(body).unwrap(),
        attachments: Vec::new(),
    }
}

fn drain_kinds(t: &testkit::TestStore) -> Vec<EventKind> {
    let events = t.store.outbox_claim(100, Duration::from_secs(60)).unwrap();
    for e in &events {
        t.store.outbox_done(e.id).unwrap();
    }
    events.into_iter().map(|e| e.kind).collect()
}

fn agent() -> Actor {
    Actor::Agent(AgentId::new("ana").unwrap())
}

#[test]
fn messages_are_stored_indexed_and_announced() {
    let t = testkit::store();
    let case = t.store.create_case(&new_case("cerere")).unwrap().case_id;
    drain_kinds(&t);
    t.clock.advance_ms(5000);
    let note = t
        .store
        .add_message(
            case,
            &message(Direction::Out, Visibility::Internal, "verificat la poliție"),
            Expect::Any,
        )
        .unwrap();
    let reply = t
        .store
        .add_message(
            case,
            &message(
                Direction::Out,
                Visibility::External,
                "Vă rugăm trimiteți actul",
            ),
            Expect::Any,
        )
        .unwrap();
    assert!(note < reply);
    assert_eq!(
        drain_kinds(&t),
        vec![EventKind::MessageAdded, EventKind::MessageAdded]
    );
    assert_eq!(
        t.store
            .messages(case, Some(Visibility::External))
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        t.store
            .messages(case, Some(Visibility::Internal))
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        t.store.search(&SearchQuery::recent("politie")).unwrap()[0].message,
        note
    );
    assert_eq!(
        t.store.case(case).unwrap().unwrap().updated_at.unix_ms(),
        testkit::T0 + 5000
    );

    let err = t
        .store
        .add_message(
            case,
            &message(Direction::In, Visibility::Internal, "x"),
            Expect::Any,
        )
        .unwrap_err();
    assert!(matches!(err, WriteError::Invalid(_)));
    let err = t
        .store
        .add_message(
            CaseId::from_raw(999),
            &message(Direction::In, Visibility::External, "x"),
            Expect::Any,
        )
        .unwrap_err();
    assert!(matches!(err, WriteError::NoSuchCase(_)));
}

#[test]
fn a_citizen_reply_brings_a_waiting_case_back() {
    let t = testkit::store();
    let case = t.store.create_case(&new_case("cerere")).unwrap().case_id;
    t.store
        .change_status(case, Status::WaitingCitizen, &agent(), None, Expect::Any)
        .unwrap();
    let paris = testkit::consulate("RO-PAR");
    assert_eq!(
        t.store
            .queue_counts(Some(&paris), crate::Sensitivities::ALL)
            .unwrap()
            .get(QueueKind::WaitingCitizen),
        1
    );
    t.store
        .add_message(
            case,
            &message(Direction::In, Visibility::External, "am trimis actele"),
            Expect::Any,
        )
        .unwrap();
    assert_eq!(
        t.store.case(case).unwrap().unwrap().status,
        Status::InProgress
    );
    let history = t.store.status_history(case).unwrap();
    let last = history.last().unwrap();
    assert_eq!(
        (last.from, last.to, &last.actor),
        (
            Some(Status::WaitingCitizen),
            Status::InProgress,
            &Actor::System
        )
    );
    assert_eq!(
        t.store
            .queue_counts(Some(&paris), crate::Sensitivities::ALL)
            .unwrap()
            .get(QueueKind::WaitingCitizen),
        0
    );
    assert_eq!(t.store.check_counters().unwrap(), vec![]);
}

#[test]
fn a_message_whose_attachment_fails_leaves_nothing() {
    let t = testkit::store();
    let case = t.store.create_case(&new_case("cerere")).unwrap().case_id;
    let events = t.store.outbox_len().unwrap();
    let mut msg = message(Direction::In, Visibility::External, "atașez documentul rar");
    msg.attachments = vec![crate::NewAttachment {
        size: u64::MAX,
        ..attachment(b"x")
    }];
    assert!(t.store.add_message(case, &msg, Expect::Any).is_err());
    assert_eq!(t.store.messages(case, None).unwrap().len(), 1);
    assert!(
        t.store
            .search(&SearchQuery::recent("documentul"))
            .unwrap()
            .is_empty()
    );
    assert_eq!(t.store.outbox_len().unwrap(), events);
}

#[test]
fn status_changes_are_checked_recorded_and_counted() {
    let t = testkit::store();
    let case = t.store.create_case(&new_case("cerere")).unwrap().case_id;
    drain_kinds(&t);
    let why = Note::new("documente complete").unwrap();
    t.store
        .change_status(case, Status::Resolved, &agent(), Some(&why), Expect::Any)
        .unwrap();
    t.store
        .change_status(case, Status::Closed, &agent(), None, Expect::Any)
        .unwrap();
    let err = t
        .store
        .change_status(case, Status::Resolved, &agent(), None, Expect::Any)
        .unwrap_err();
    assert!(matches!(
        err,
        WriteError::InvalidTransition {
            from: Status::Closed,
            to: Status::Resolved
        }
    ));
    assert_eq!(
        drain_kinds(&t),
        vec![EventKind::StatusChanged, EventKind::StatusChanged]
    );
    let history = t.store.status_history(case).unwrap();
    assert_eq!(
        history.iter().map(|h| h.to).collect::<Vec<_>>(),
        vec![Status::New, Status::Resolved, Status::Closed]
    );
    assert_eq!(history[1].note.as_ref(), Some(&why));
    let paris = testkit::consulate("RO-PAR");
    assert_eq!(
        t.store
            .queue_counts(Some(&paris), crate::Sensitivities::ALL)
            .unwrap()
            .get(QueueKind::Open),
        0
    );
    let counts = t
        .store
        .status_counts(&paris, crate::Sensitivities::ALL)
        .unwrap();
    assert_eq!(counts.len(), 1);
    assert_eq!((counts[0].status, counts[0].n), (Status::Closed, 1));
}

#[test]
fn assignment_moves_the_case_between_queues() {
    let t = testkit::store();
    let case = t.store.create_case(&new_case("cerere")).unwrap().case_id;
    let ana = AgentId::new("ana").unwrap();
    let paris = testkit::consulate("RO-PAR");
    t.store
        .assign(case, Some(&ana), &agent(), Expect::Any)
        .unwrap();
    let counts = t
        .store
        .queue_counts(Some(&paris), crate::Sensitivities::ALL)
        .unwrap();
    assert_eq!(
        (
            counts.get(QueueKind::Unassigned),
            counts.get(QueueKind::Assigned)
        ),
        (0, 1)
    );
    assert_eq!(counts.by_agent.get(&ana), Some(&1));
    assert!(matches!(
        t.store.assign(case, Some(&ana), &agent(), Expect::Any),
        Err(WriteError::Unchanged(_))
    ));
    let bob = AgentId::new("bob").unwrap();
    t.store
        .assign(case, Some(&bob), &agent(), Expect::Any)
        .unwrap();
    let counts = t
        .store
        .queue_counts(Some(&paris), crate::Sensitivities::ALL)
        .unwrap();
    assert_eq!(
        (counts.by_agent.get(&ana), counts.by_agent.get(&bob)),
        (None, Some(&1))
    );
    t.store.assign(case, None, &agent(), Expect::Any).unwrap();
    assert_eq!(
        t.store
            .queue_counts(Some(&paris), crate::Sensitivities::ALL)
            .unwrap()
            .get(QueueKind::Unassigned),
        1
    );
    assert_eq!(t.store.check_counters().unwrap(), vec![]);
}

#[test]
fn raising_to_p1_pages_once_and_lowering_is_explicit() {
    let t = testkit::store();
    let case = t.store.create_case(&new_case("cerere")).unwrap().case_id;
    drain_kinds(&t);
    let why = Note::new("spitalizat").unwrap();
    t.store
        .change_priority(case, Priority::P1, &agent(), &why, Expect::Any)
        .unwrap();
    assert_eq!(
        drain_kinds(&t),
        vec![EventKind::PriorityChanged, EventKind::CaseEmergency]
    );
    t.store
        .change_priority(case, Priority::P0, &agent(), &why, Expect::Any)
        .unwrap();
    assert_eq!(
        drain_kinds(&t),
        vec![EventKind::PriorityChanged],
        "already an emergency"
    );
    assert!(matches!(
        t.store
            .change_priority(case, Priority::P0, &agent(), &why, Expect::Any),
        Err(WriteError::Unchanged(_))
    ));
    let paris = testkit::consulate("RO-PAR");
    assert_eq!(
        t.store
            .queue_counts(Some(&paris), crate::Sensitivities::ALL)
            .unwrap()
            .get(QueueKind::Emergency),
        1
    );
    t.store
        .change_priority(case, Priority::P3, &agent(), &why, Expect::Any)
        .unwrap();
    assert_eq!(
        t.store
            .queue_counts(Some(&paris), crate::Sensitivities::ALL)
            .unwrap()
            .get(QueueKind::Emergency),
        0
    );
    assert_eq!(t.store.check_counters().unwrap(), vec![]);
}

#[test]
fn attachments_and_verdicts() {
    let t = testkit::store();
    let a = t.store.create_case(&new_case("a")).unwrap().case_id;
    let b = t.store.create_case(&new_case("b")).unwrap().case_id;
    let b_message = t.store.messages(b, None).unwrap()[0].id;
    let err = t
        .store
        .add_attachment(a, Some(b_message), &attachment(b"x"), Expect::Any)
        .unwrap_err();
    assert!(
        matches!(err, WriteError::NotFound { .. }),
        "another case's message"
    );
    let id = t
        .store
        .add_attachment(a, None, &attachment(b"scan"), Expect::Any)
        .unwrap();
    t.store
        .add_attachment(b, Some(b_message), &attachment(b"scan"), Expect::Any)
        .unwrap();
    assert_eq!(
        t.store
            .attachment_refs(&crate::Sha256::of(b"scan"))
            .unwrap(),
        2
    );
    drain_kinds(&t);
    t.store.set_scan_verdict(id, ScanVerdict::Infected).unwrap();
    assert!(matches!(
        t.store.set_scan_verdict(id, ScanVerdict::Infected),
        Err(WriteError::Unchanged(_))
    ));
    assert_eq!(drain_kinds(&t), vec![EventKind::AttachmentScanned]);
    let stored = t.store.attachments(a).unwrap();
    assert_eq!(
        (stored[0].verdict, stored[0].verdict_at.is_some()),
        (ScanVerdict::Infected, true)
    );
}

#[test]
fn the_first_agent_reply_and_the_first_resolution_are_timed_once() {
    let t = testkit::store();
    let case = t.store.create_case(&new_case("cerere")).unwrap().case_id;
    let day = crate::Timestamp::from_unix_ms(testkit::T0);
    let stats = |m| {
        t.store
            .response_stats(
                Some(&testkit::consulate("RO-PAR")),
                crate::Sensitivities::ALL,
                m,
                day,
                day,
            )
            .unwrap()
    };
    t.clock.advance_ms(60_000);
    // Neither an internal note, nor the citizen, nor the system answers the citizen.
    t.store
        .add_message(
            case,
            &message(Direction::Out, Visibility::Internal, "notă"),
            Expect::Any,
        )
        .unwrap();
    t.store
        .add_message(
            case,
            &message(Direction::In, Visibility::External, "încă aștept"),
            Expect::Any,
        )
        .unwrap();
    let mut automatic = message(Direction::Out, Visibility::External, "Am primit cererea.");
    automatic.author = Actor::System;
    t.store.add_message(case, &automatic, Expect::Any).unwrap();
    assert_eq!(t.store.case(case).unwrap().unwrap().first_response_at, None);
    assert_eq!(stats(StatMetric::FirstResponse).count, 0);

    t.clock.advance_ms(4 * 60_000);
    let reply = message(Direction::Out, Visibility::External, "Vă sunăm azi.");
    t.store.add_message(case, &reply, Expect::Any).unwrap();
    t.clock.advance_ms(60_000);
    t.store.add_message(case, &reply, Expect::Any).unwrap();
    let answered = t.store.case(case).unwrap().unwrap();
    assert_eq!(
        answered.first_response_at.map(|t| t.unix_ms()),
        Some(testkit::T0 + 5 * 60_000)
    );
    let first = stats(StatMetric::FirstResponse);
    assert_eq!(first.count, 1, "the second reply is not a first response");
    let median = first.median_ms.unwrap();
    assert!((5 * 60_000..=5 * 75_000).contains(&median), "{median}");

    t.clock.advance_ms(3_600_000);
    t.store
        .change_status(case, Status::Resolved, &agent(), None, Expect::Any)
        .unwrap();
    t.clock.advance_ms(60_000);
    for to in [Status::Closed, Status::InProgress, Status::Resolved] {
        t.store
            .change_status(case, to, &agent(), None, Expect::Any)
            .unwrap();
    }
    let resolved = t.store.case(case).unwrap().unwrap();
    assert_eq!(
        resolved.resolved_at.map(|t| t.unix_ms()),
        Some(testkit::T0 + 6 * 60_000 + 3_600_000),
        "the first resolution counts, not the later ones"
    );
    assert_eq!(stats(StatMetric::Resolution).count, 1);
    assert_eq!(t.store.check_counters().unwrap(), vec![]);
}

#[test]
fn priority_and_assignee_changes_are_logged_with_who_and_why() {
    let t = testkit::store();
    let case = t.store.create_case(&new_case("cerere")).unwrap().case_id;
    let why = Note::new("internat în spital").unwrap();
    t.store
        .change_priority(case, Priority::P1, &agent(), &why, Expect::Any)
        .unwrap();
    let bob = AgentId::new("bob").unwrap();
    t.store
        .assign(case, Some(&bob), &agent(), Expect::Any)
        .unwrap();
    let log = t.store.changes(case).unwrap();
    let seen: Vec<_> = log
        .iter()
        .map(|c| (c.field, c.from.as_deref(), c.to.as_deref(), c.note.as_ref()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (ChangedField::Priority, Some("P3"), Some("P1"), Some(&why)),
            (ChangedField::Assignee, None, Some("bob"), None),
        ]
    );
    assert!(log.iter().all(|c| c.actor == agent()));
}
