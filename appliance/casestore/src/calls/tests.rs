use crate::testkit::{self, T0, agent, new_case, note};
use crate::{
    CallLegRecord, Channel, ContactKind, ContactValue, Expect, NewCall, NewContact, Status,
    TimelineItem, Timestamp, Verification, Visibility,
};

fn with_phone(body: &str, phone: &str) -> crate::NewCase {
    let mut case = new_case(body);
    case.subject.contacts.push(NewContact {
        kind: ContactKind::Phone,
        value: ContactValue::new(phone.to_owned()).unwrap(),
        verification: Verification::Unverified,
    });
    case
}

fn at(s: i64) -> Timestamp {
    Timestamp::from_unix_ms(T0 + s * 1000)
}

fn call(call_ref: &str) -> NewCall {
    NewCall {
        call_ref: call_ref.to_owned(),
        caller: "33612345678".to_owned(),
        called: "200".to_owned(),
        queue: Some("ro".to_owned()),
        language: Some("ro".to_owned()),
        emergency: false,
        digits: "1".to_owned(),
        started_at: at(0),
        answered_at: Some(at(30)),
        ended_at: at(150),
        outcome: "completed".to_owned(),
        ended_by: Some("caller".to_owned()),
        legs: vec![
            CallLegRecord {
                agent: "agent2".to_owned(),
                offered_at: at(5),
                answered_at: None,
                ended_at: Some(at(25)),
                outcome: "no_answer".to_owned(),
            },
            CallLegRecord {
                agent: "agent1".to_owned(),
                offered_at: at(25),
                answered_at: Some(at(30)),
                ended_at: Some(at(150)),
                outcome: "completed".to_owned(),
            },
        ],
    }
}

#[test]
fn a_callers_open_cases_are_found_by_their_number_in_any_notation() {
    let t = testkit::store();
    let older = t
        .store
        .create_case(&with_phone("pașaport", "+33 6 12 34 56 78"))
        .unwrap();
    let newer = t
        .store
        .create_case(&with_phone("act de naștere", "0033-612345678"))
        .unwrap();
    t.store
        .create_case(&with_phone("altceva", "+40 700 000 000"))
        .unwrap();
    let closed = t
        .store
        .create_case(&with_phone("vechi", "33612345678"))
        .unwrap();
    t.store
        .change_status(
            closed.case_id,
            Status::Closed,
            &agent("ana"),
            Some(&note("gata")),
            Expect::Any,
        )
        .unwrap();

    let found = t.store.phone_cases("+33612345678").unwrap();
    let ids: Vec<_> = found.iter().map(|c| c.case).collect();
    // "0033…" has two more digits, so it is another number; the closed case is left out.
    assert_eq!(ids, [older.case_id]);
    assert_eq!(found[0].case_no, older.case_no);
    assert_eq!(
        t.store.phone_cases("0033 612 345 678").unwrap()[0].case,
        newer.case_id
    );
    assert!(t.store.phone_cases("").unwrap().is_empty());
    assert!(t.store.phone_cases("anonymous").unwrap().is_empty());
}

#[test]
fn a_call_record_is_stored_once_with_its_legs_and_shows_in_the_timeline() {
    let t = testkit::store();
    let case = t
        .store
        .create_case(&with_phone("pașaport", "+33 6 12 34 56 78"))
        .unwrap()
        .case_id;
    let version = t.store.case(case).unwrap().unwrap().version;
    let id = t.store.record_call(case, &call("abc@trunk#1")).unwrap();
    assert_eq!(t.store.record_call(case, &call("abc@trunk#1")).unwrap(), id);

    let calls = t.store.calls(case).unwrap();
    assert_eq!(calls.len(), 1, "the second hand-over stored nothing");
    let stored = &calls[0].call;
    assert_eq!(stored, &call("abc@trunk#1"));
    assert_eq!(stored.wait_ms(), 30_000);
    assert_eq!(stored.talk_ms(), Some(120_000));
    assert_eq!(stored.legs[0].outcome, "no_answer");
    assert!(t.store.case(case).unwrap().unwrap().version > version);

    let notes: Vec<_> = t
        .store
        .timeline(case)
        .unwrap()
        .into_iter()
        .filter_map(|item| match item {
            TimelineItem::Message { message, .. } if message.channel == Channel::Phone => {
                Some(message)
            }
            _ => None,
        })
        .collect();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].visibility, Visibility::Internal);
    let text = notes[0].body.to_string();
    assert!(text.contains("33612345678"), "{text}");
    assert!(text.contains("queue ro"), "{text}");
    assert!(text.contains("completed by agent1"), "{text}");
    assert!(text.contains("waited 30 s, talked 120 s"), "{text}");
    assert!(text.contains("not answered by agent2"), "{text}");
    assert!(text.contains("keys 1"), "{text}");
}

#[test]
fn a_call_for_an_unknown_case_is_refused_and_leaves_nothing() {
    let t = testkit::store();
    let case = t.store.create_case(&new_case("x")).unwrap().case_id;
    let missing = crate::CaseId::from_raw(case.get() + 100);
    assert!(t.store.record_call(missing, &call("lost")).is_err());
    assert!(
        t.store.record_call(case, &call("lost")).is_ok(),
        "the key was not taken"
    );
}
