use std::time::Duration;

use crate::testkit::{self, new_case, note};
use crate::{
    Channel, ContactKind, ContactValue, Direction, EventKind, LinkKind, MailCase, MailId,
    MailOutcome, NewContact, SentMail, Status, Timestamp, Verification, Visibility, WriteError,
};

fn mail_case(body: &str, address: &str, verification: Verification) -> crate::NewCase {
    let mut case = new_case(body);
    case.channel = Channel::Email;
    case.subject.contacts.push(NewContact {
        kind: ContactKind::Email,
        value: ContactValue::new(address).unwrap(),
        verification,
    });
    case
}

fn id(s: &str) -> MailId {
    MailId::new(s).unwrap()
}

fn opened(outcome: MailOutcome) -> crate::CaseCreated {
    match outcome {
        MailOutcome::Opened(c) => c,
        other => panic!("expected a new case, got {other:?}"),
    }
}

#[test]
fn message_ids_are_trimmed_and_checked() {
    assert_eq!(id(" <a.b@c> ").as_str(), "a.b@c");
    assert_eq!(id("<a.b@c>").to_string(), "<a.b@c>");
    assert!(MailId::new("<>").is_err());
    assert!(MailId::new("a b@c").is_err());
    assert!(MailId::new(&"x".repeat(513)).is_err());
}

#[test]
fn a_mail_opens_one_case_however_often_it_arrives() {
    let t = testkit::store();
    let mid = id("<1@citizen.example>");
    let new = mail_case(
        "Am pierdut pașaportul",
        "Ana@Example.org",
        Verification::Verified,
    );
    let mail = MailCase {
        mail_id: &mid,
        acknowledge: true,
        related_to: None,
        notes: &[note("attachment virus.exe refused")],
    };
    let first = opened(t.store.open_mail_case(&new, &mail).unwrap());
    let code = first.tracking_code.clone().unwrap();
    assert_eq!(
        t.store.mail_ack_code(first.case_id).unwrap().as_deref(),
        Some(code.as_str())
    );
    match t.store.open_mail_case(&new, &mail).unwrap() {
        MailOutcome::Duplicate(r) => {
            assert_eq!((r.case, r.direction), (first.case_id, Direction::In));
            assert!(r.message.is_some());
        }
        other => panic!("{other:?}"),
    }
    let messages = t.store.messages(first.case_id, None).unwrap();
    assert_eq!(messages.len(), 2, "the citizen's mail and the agent's note");
    assert_eq!(messages[1].visibility, Visibility::Internal);
    assert_eq!(
        t.store.mail_lookup(&mid).unwrap().unwrap().case,
        first.case_id
    );
    assert!(
        t.store
            .is_verified_sender(first.case_id, " ana@example.ORG")
            .unwrap()
    );
    assert!(
        !t.store
            .is_verified_sender(first.case_id, "eve@example.org")
            .unwrap()
    );
    t.store.check_counters().unwrap();
}

#[test]
fn replies_join_the_case_once_and_unverified_senders_get_a_linked_case() {
    let t = testkit::store();
    let first_id = id("<1@x>");
    let first = opened(
        t.store
            .open_mail_case(
                &mail_case("cerere", "ana@example.org", Verification::Verified),
                &MailCase {
                    mail_id: &first_id,
                    acknowledge: false,
                    related_to: None,
                    notes: &[],
                },
            )
            .unwrap(),
    );
    assert_eq!(t.store.mail_ack_code(first.case_id).unwrap(), None);
    let reply_id = id("<2@x>");
    let reply = testkit::message(Direction::In, Visibility::External, "răspuns");
    let appended = t
        .store
        .append_mail(first.case_id, &reply, &reply_id, &[])
        .unwrap();
    assert!(matches!(appended, MailOutcome::Appended { case, .. } if case == first.case_id));
    assert!(matches!(
        t.store
            .append_mail(first.case_id, &reply, &reply_id, &[])
            .unwrap(),
        MailOutcome::Duplicate(_)
    ));
    assert_eq!(t.store.messages(first.case_id, None).unwrap().len(), 2);

    let stranger_id = id("<3@evil>");
    let why = note("the sender is not a verified contact of the case");
    let stranger = opened(
        t.store
            .open_mail_case(
                &mail_case("eu sunt Ana", "eve@evil.example", Verification::Pending),
                &MailCase {
                    mail_id: &stranger_id,
                    acknowledge: true,
                    related_to: Some(first.case_id),
                    notes: std::slice::from_ref(&why),
                },
            )
            .unwrap(),
    );
    let links = t.store.links(stranger.case_id).unwrap();
    assert_eq!(links.len(), 1);
    assert_eq!(
        (links[0].kind, links[0].other, links[0].outgoing),
        (LinkKind::Related, first.case_id, true)
    );
    assert_eq!(t.store.messages(first.case_id, None).unwrap().len(), 2);

    let thread = t.store.mail_thread(first.case_id, 10).unwrap();
    assert_eq!(
        thread,
        vec![(first_id.clone(), Direction::In), (reply_id, Direction::In)]
    );
    assert_eq!(t.store.mail_thread(first.case_id, 1).unwrap().len(), 1);

    // A reply to a case waiting for the citizen puts it back in progress.
    t.store
        .change_status(
            first.case_id,
            Status::WaitingCitizen,
            &testkit::agent("ana"),
            None,
            crate::Expect::Any,
        )
        .unwrap();
    t.store
        .append_mail(first.case_id, &reply, &id("<4@x>"), &[])
        .unwrap();
    assert_eq!(
        t.store.case(first.case_id).unwrap().unwrap().status,
        Status::InProgress
    );
    t.store.check_counters().unwrap();
}

#[test]
fn a_bounce_marks_the_contact_once_and_tells_the_agent() {
    let t = testkit::store();
    let created = opened(
        t.store
            .open_mail_case(
                &mail_case("cerere", "ana@example.org", Verification::Verified),
                &MailCase {
                    mail_id: &id("<1@x>"),
                    acknowledge: true,
                    related_to: None,
                    notes: &[],
                },
            )
            .unwrap(),
    );
    let bounce = id("<dsn-1@relay>");
    let reason = note("mail to ana@example.org cannot be delivered: 5.1.1 user unknown");
    assert_eq!(
        t.store
            .mark_undeliverable(created.case_id, "ANA@example.org", &bounce, &reason)
            .unwrap(),
        1
    );
    assert_eq!(
        t.store
            .mark_undeliverable(created.case_id, "ANA@example.org", &bounce, &reason)
            .unwrap(),
        0,
        "the same bounce twice"
    );
    let contacts = t.store.mail_contacts(created.case_id).unwrap();
    assert_eq!(contacts.len(), 1);
    assert!(contacts[0].undeliverable_at.is_some());
    let notes: Vec<_> = t
        .store
        .messages(created.case_id, Some(Visibility::Internal))
        .unwrap();
    assert_eq!(notes.len(), 1);
    assert!(notes[0].body.as_str().contains("5.1.1"));
}

#[test]
fn a_sent_mail_leaves_the_outbox_with_its_id_and_forgets_the_code() {
    let t = testkit::store();
    let created = opened(
        t.store
            .open_mail_case(
                &mail_case("cerere", "ana@example.org", Verification::Verified),
                &MailCase {
                    mail_id: &id("<1@x>"),
                    acknowledge: true,
                    related_to: None,
                    notes: &[],
                },
            )
            .unwrap(),
    );
    let events = t.store.outbox_claim(10, Duration::from_secs(30)).unwrap();
    let ack = events
        .iter()
        .find(|e| e.kind == EventKind::CaseCreated)
        .unwrap();
    let mid = t.store.mail_pending_id(ack.id, &id("<out-1@hub>")).unwrap();
    assert_eq!(mid.as_str(), "out-1@hub");
    assert_eq!(
        t.store.mail_pending_id(ack.id, &id("<out-2@hub>")).unwrap(),
        mid,
        "a retry keeps the first id"
    );
    let since = Timestamp::from_unix_ms(testkit::T0 - 1);
    assert_eq!(
        t.store
            .auto_replies_since("ana@example.org", since)
            .unwrap(),
        0
    );
    t.store
        .mail_sent(
            ack.id,
            created.case_id,
            Some(&SentMail {
                mail_id: &mid,
                automatic_to: Some("Ana@Example.org"),
            }),
        )
        .unwrap();
    assert_eq!(
        t.store
            .auto_replies_since("ana@example.org", since)
            .unwrap(),
        1
    );
    assert_eq!(t.store.mail_ack_code(created.case_id).unwrap(), None);
    assert_eq!(
        t.store.mail_lookup(&mid).unwrap().unwrap().direction,
        Direction::Out
    );
    assert!(matches!(
        t.store.mail_sent(ack.id, created.case_id, None),
        Err(WriteError::NotFound { .. })
    ));
}

#[test]
fn dead_letters_leave_the_outbox_show_in_the_case_and_can_be_requeued() {
    let t = testkit::store();
    let created = t.store.create_case(&new_case("cerere")).unwrap();
    let events = t.store.outbox_claim(10, Duration::from_secs(30)).unwrap();
    let event = &events[0];
    t.store
        .outbox_dead_letter(
            event.id,
            "relay refused: 554 no",
            &note("the acknowledgement could not be sent: 554 no"),
        )
        .unwrap();
    assert_eq!(
        t.store.outbox_len().unwrap(),
        1,
        "only the note's own event"
    );
    let dead = t.store.dead_letters(Some(created.case_id), 10).unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(
        (dead[0].kind, dead[0].attempts),
        (EventKind::CaseCreated, 1)
    );
    assert_eq!(t.store.dead_letters(None, 10).unwrap(), dead);
    let notes = t
        .store
        .messages(created.case_id, Some(Visibility::Internal))
        .unwrap();
    assert!(notes[0].body.as_str().contains("554"));
    assert!(matches!(
        t.store.outbox_dead_letter(event.id, "again", &note("x")),
        Err(WriteError::NotFound { .. })
    ));

    let back = t.store.requeue_dead_letter(dead[0].id).unwrap();
    assert!(t.store.dead_letters(None, 10).unwrap().is_empty());
    let again = t.store.outbox_claim(10, Duration::from_secs(30)).unwrap();
    let requeued = again.iter().find(|e| e.id == back).unwrap();
    assert_eq!(
        (requeued.kind, requeued.attempts),
        (EventKind::CaseCreated, 0)
    );
}

#[test]
fn migration_6_keeps_existing_contacts_deliverable() {
    let t = testkit::store();
    let created = t
        .store
        .create_case(&mail_case("x", "ion@example.org", Verification::Unverified))
        .unwrap();
    let contacts = t.store.mail_contacts(created.case_id).unwrap();
    assert_eq!(contacts[0].undeliverable_at, None);
    assert_eq!(contacts[0].normalized, "ion@example.org");
}
