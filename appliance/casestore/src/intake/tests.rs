use serde_json::Value;

use crate::testkit::{self, T0, attachment, keyed, new_case, person};
use crate::{
    Channel, ConsulateId, EventKind, ImportedCase, NewRequester, Priority, QueueKind, Relationship,
    Role, SearchQuery, Status, Timestamp, Visibility, WriteError,
};

#[test]
fn a_new_case_is_written_whole() {
    let t = testkit::store();
    let mut new = new_case("Am pierdut pașaportul la Paris.");
    new.requester = Some(NewRequester {
        person: person("Popescu", "Ion"),
        relationship: Relationship::Parent,
    });
    new.attachments = vec![attachment(b"%PDF-1.7 scan")];
    let created = t.store.create_case(&new).unwrap();
    assert_eq!(created.case_no.to_string(), "CSC-2026-0000001");
    assert!(!created.is_duplicate());

    let case = t.store.case(created.case_id).unwrap().unwrap();
    assert_eq!(
        (case.status, case.priority, case.assignee.as_ref()),
        (Status::New, Priority::P3, None)
    );
    assert_eq!(case.created_at, Timestamp::from_unix_ms(T0));
    let persons = t.store.persons(created.case_id).unwrap();
    assert_eq!(
        persons
            .iter()
            .map(|p| (p.role, p.relationship))
            .collect::<Vec<_>>(),
        vec![
            (Role::Subject, Relationship::Myself),
            (Role::Requester, Relationship::Parent)
        ]
    );
    let messages = t.store.messages(created.case_id, None).unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].visibility, Visibility::External);
    let attachments = t.store.attachments(created.case_id).unwrap();
    assert_eq!(attachments.len(), 1);
    assert_eq!(attachments[0].message, Some(messages[0].id));
    assert_eq!(t.store.status_history(created.case_id).unwrap().len(), 1);
    assert_eq!(
        t.store
            .search(&SearchQuery::recent("pasaportul"))
            .unwrap()
            .len(),
        1
    );
    let counts = t
        .store
        .queue_counts(
            Some(&testkit::consulate("RO-PAR")),
            crate::Sensitivities::ALL,
        )
        .unwrap();
    assert_eq!(
        (
            counts.get(QueueKind::Open),
            counts.get(QueueKind::Unassigned)
        ),
        (1, 1)
    );

    let events = t
        .store
        .outbox_claim(10, std::time::Duration::from_secs(60))
        .unwrap();
    assert_eq!(
        events.iter().map(|e| e.kind).collect::<Vec<_>>(),
        vec![EventKind::CaseCreated]
    );
    assert_eq!(events[0].detail["case_no"], Value::from("CSC-2026-0000001"));
    assert_eq!(events[0].detail["consulate"], Value::from("RO-PAR"));
}

#[test]
fn urgent_cases_page_the_duty_officer_and_triage_cases_start_in_triage() {
    let t = testkit::store();
    let mut new = new_case("Fiul meu a fost arestat.");
    new.priority = Priority::P1;
    new.needs_triage = true;
    let created = t.store.create_case(&new).unwrap();
    assert_eq!(
        t.store.case(created.case_id).unwrap().unwrap().status,
        Status::Triage
    );
    let kinds: Vec<_> = t
        .store
        .outbox_claim(10, std::time::Duration::from_secs(60))
        .unwrap()
        .iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        vec![EventKind::CaseCreated, EventKind::CaseEmergency]
    );
    let counts = t
        .store
        .queue_counts(
            Some(&testkit::consulate("RO-PAR")),
            crate::Sensitivities::ALL,
        )
        .unwrap();
    assert_eq!(
        (
            counts.get(QueueKind::Emergency),
            counts.get(QueueKind::Triage)
        ),
        (1, 1)
    );
}

#[test]
fn numbers_count_per_year() {
    let t = testkit::store();
    assert_eq!(
        t.store
            .create_case(&new_case("a"))
            .unwrap()
            .case_no
            .to_string(),
        "CSC-2026-0000001"
    );
    assert_eq!(
        t.store
            .create_case(&new_case("b"))
            .unwrap()
            .case_no
            .to_string(),
        "CSC-2026-0000002"
    );
    t.clock.advance_ms(366 * 86_400_000);
    assert_eq!(
        t.store
            .create_case(&new_case("c"))
            .unwrap()
            .case_no
            .to_string(),
        "CSC-2027-0000001"
    );
}

#[test]
fn a_repeated_idempotency_key_returns_the_first_case_and_writes_nothing() {
    let t = testkit::store();
    let first = t
        .store
        .create_case(&keyed(new_case("cerere"), "form-7f3a"))
        .unwrap();
    let events = t.store.outbox_len().unwrap();
    let again = t
        .store
        .create_case(&keyed(new_case("cerere, din nou"), "form-7f3a"))
        .unwrap();
    assert!(again.is_duplicate());
    assert_eq!(
        (again.case_id, again.case_no),
        (first.case_id, first.case_no)
    );
    assert_eq!(t.store.case_count().unwrap(), 1);
    assert_eq!(t.store.outbox_len().unwrap(), events);
    assert!(
        t.store
            .search(&SearchQuery::recent("din nou"))
            .unwrap()
            .is_empty()
    );
    // The same key on another channel is another submission.
    let mut by_mail = keyed(new_case("cerere"), "form-7f3a");
    by_mail.channel = Channel::Email;
    assert!(!t.store.create_case(&by_mail).unwrap().is_duplicate());
    assert_eq!(t.store.check_counters().unwrap(), vec![]);
}

#[test]
fn the_tracking_code_opens_its_case_only() {
    let t = testkit::store();
    let a = t.store.create_case(&new_case("a")).unwrap();
    let b = t.store.create_case(&new_case("b")).unwrap();
    let code_a = a.tracking_code.clone().unwrap();
    assert_eq!(
        t.store.verify_tracking(a.case_no, code_a.as_str()).unwrap(),
        Some(a.case_id)
    );
    assert_eq!(
        t.store.verify_tracking(b.case_no, code_a.as_str()).unwrap(),
        None
    );
    let missing = crate::CaseNumber::new(2026, 999).unwrap();
    assert_eq!(
        t.store.verify_tracking(missing, code_a.as_str()).unwrap(),
        None
    );
    assert_eq!(t.store.case_id(a.case_no).unwrap(), Some(a.case_id));
}

#[test]
fn a_refused_case_leaves_nothing() {
    let t = testkit::store();
    let mut bad = new_case("cerere");
    bad.requester = Some(NewRequester {
        person: person("X", "Y"),
        relationship: Relationship::Myself,
    });
    assert!(matches!(
        t.store.create_case(&bad),
        Err(WriteError::Invalid(_))
    ));
    let mut huge = new_case("cerere");
    huge.attachments = vec![crate::NewAttachment {
        size: u64::MAX,
        ..attachment(b"x")
    }];
    assert!(matches!(
        t.store.create_case(&huge),
        Err(WriteError::Invalid(_))
    ));
    assert_eq!(t.store.case_count().unwrap(), 0);
    assert_eq!(t.store.outbox_len().unwrap(), 0);
    assert!(
        t.store
            .search(&SearchQuery::recent("cerere"))
            .unwrap()
            .is_empty()
    );
    // The failed attempts used no case number.
    assert_eq!(
        t.store.create_case(&new_case("ok")).unwrap().case_no.seq(),
        1
    );
}

#[test]
fn an_exhausted_year_refuses_new_cases() {
    let t = testkit::store();
    let last = t.store.create_case(&new_case("a")).unwrap();
    let conn = rusqlite::Connection::open(t.store.path()).unwrap();
    conn.execute(
        "UPDATE cases SET seq = 9999999 WHERE id = ?1",
        [last.case_id.get()],
    )
    .unwrap();
    let err = t.store.create_case(&new_case("b")).unwrap_err();
    assert!(
        matches!(err, WriteError::SequenceExhausted { year: 2026 }),
        "{err}"
    );
}

#[test]
fn bulk_import_is_all_or_nothing_and_queues_no_events() {
    let t = testkit::store();
    let batch: Vec<_> = (0..50)
        .map(|i| ImportedCase {
            received_at: Timestamp::from_unix_ms(T0 - 1000 * i),
            case: keyed(new_case("import"), &format!("legacy-{i}")),
            status: if i % 2 == 0 {
                Status::Closed
            } else {
                Status::InProgress
            },
            assignee: (i % 3 == 0).then(|| crate::AgentId::new("ana").unwrap()),
        })
        .collect();
    let created = t.store.bulk_import(&batch).unwrap();
    assert_eq!(created.len(), 50);
    assert_eq!(created[49].case_no.seq(), 50);
    assert_eq!(
        t.store
            .case(created[49].case_id)
            .unwrap()
            .unwrap()
            .created_at,
        batch[49].received_at
    );
    assert_eq!(t.store.outbox_len().unwrap(), 0);
    let counts = t
        .store
        .queue_counts(
            Some(&ConsulateId::new("RO-PAR").unwrap()),
            crate::Sensitivities::ALL,
        )
        .unwrap();
    assert_eq!(
        counts.get(QueueKind::Open),
        25,
        "the closed half sits in no queue"
    );
    assert_eq!(
        counts.get(QueueKind::Assigned),
        8,
        "odd multiples of 3 below 50"
    );
    let imported = t.store.case(created[3].case_id).unwrap().unwrap();
    assert_eq!(imported.status, Status::InProgress);
    assert_eq!(
        imported.assignee.map(|a| a.to_string()),
        Some("ana".to_owned())
    );
    assert_eq!(t.store.check_counters().unwrap(), vec![]);
    // Importing the same keys again creates nothing.
    assert!(
        t.store
            .bulk_import(&batch[..5])
            .unwrap()
            .iter()
            .all(|c| c.is_duplicate())
    );

    let mut broken = batch.clone();
    for (i, item) in broken.iter_mut().enumerate() {
        item.case.idempotency_key = None;
        if i == 30 {
            item.case.requester = Some(NewRequester {
                person: person("X", "Y"),
                relationship: Relationship::Myself,
            });
        }
    }
    assert!(t.store.bulk_import(&broken).is_err());
    assert_eq!(
        t.store.case_count().unwrap(),
        50,
        "the failed batch left nothing"
    );
}

#[test]
fn concurrent_intake_numbers_every_case_once() {
    fn shared<T: Send + Sync>(_: &T) {}
    let t = testkit::store();
    shared(&t.store);
    std::thread::scope(|s| {
        for thread in 0..4 {
            let store = &t.store;
            s.spawn(move || {
                for i in 0..25 {
                    let new = keyed(new_case("cerere"), &format!("t{thread}-{i}"));
                    store.create_case(&new).unwrap();
                    // Readers run meanwhile on their own connections.
                    store
                        .queue_counts(
                            Some(&testkit::consulate("RO-PAR")),
                            crate::Sensitivities::ALL,
                        )
                        .unwrap();
                }
            });
        }
    });
    let counts = t
        .store
        .queue_counts(
            Some(&testkit::consulate("RO-PAR")),
            crate::Sensitivities::ALL,
        )
        .unwrap();
    assert_eq!(counts.get(QueueKind::Open), 100);
    let numbers: std::collections::BTreeSet<u32> = (1..=100)
        .map(|seq| {
            let no = crate::CaseNumber::new(2026, seq).unwrap();
            assert!(t.store.case_id(no).unwrap().is_some(), "{no} missing");
            no.seq()
        })
        .collect();
    assert_eq!(numbers.len(), 100);
    assert_eq!(t.store.check_counters().unwrap(), vec![]);
}
