use crate::testkit::{self, new_case};
use crate::{
    Actor, CaseId, ContactKind, ContactValue, LinkKind, NewContact, NewReferral, Note, Timestamp,
    Verification, WriteError,
};

#[test]
fn contact_points_are_added_and_verified() {
    let t = testkit::store();
    let case = t.store.create_case(&new_case("cerere")).unwrap().case_id;
    let subject = t.store.persons(case).unwrap()[0].id;
    let contact = NewContact {
        kind: ContactKind::Email,
        value: ContactValue::new("ana@example.ro").unwrap(),
        verification: Verification::Pending,
    };
    let id = t.store.add_contact_point(subject, &contact).unwrap();
    t.store
        .set_contact_verification(id, Verification::Verified)
        .unwrap();
    let persons = t.store.persons(case).unwrap();
    assert_eq!(persons[0].contacts[0].verification, Verification::Verified);
    let err = t
        .store
        .add_contact_point(crate::PersonId::from_raw(99), &contact)
        .unwrap_err();
    assert!(matches!(err, WriteError::NotFound { what: "person", .. }));
}

#[test]
fn links_are_typed_seen_from_both_ends_and_never_loops() {
    let t = testkit::store();
    let a = t.store.create_case(&new_case("a")).unwrap().case_id;
    let b = t.store.create_case(&new_case("b")).unwrap().case_id;
    t.store
        .link_cases(
            b,
            a,
            LinkKind::DuplicateOf,
            &Actor::System,
            crate::Expect::Any,
        )
        .unwrap();
    assert!(matches!(
        t.store.link_cases(
            b,
            a,
            LinkKind::DuplicateOf,
            &Actor::System,
            crate::Expect::Any
        ),
        Err(WriteError::Unchanged(_))
    ));
    t.store
        .link_cases(
            b,
            a,
            LinkKind::SameFamily,
            &Actor::System,
            crate::Expect::Any,
        )
        .unwrap();
    assert!(matches!(
        t.store
            .link_cases(a, a, LinkKind::Related, &Actor::System, crate::Expect::Any),
        Err(WriteError::Invalid(_))
    ));
    assert!(matches!(
        t.store.link_cases(
            a,
            CaseId::from_raw(99),
            LinkKind::Related,
            &Actor::System,
            crate::Expect::Any
        ),
        Err(WriteError::NoSuchCase(_))
    ));
    let from_a = t.store.links(a).unwrap();
    assert_eq!(from_a.len(), 2);
    assert!(from_a.iter().all(|l| !l.outgoing && l.other == b));
    let from_b = t.store.links(b).unwrap();
    assert!(from_b.iter().all(|l| l.outgoing && l.other == a));
}

#[test]
fn referrals_track_sent_acknowledged_due_and_outcome() {
    let t = testkit::store();
    let case = t.store.create_case(&new_case("cerere")).unwrap().case_id;
    let sent = Timestamp::from_unix_ms(testkit::T0);
    let due = sent.plus_ms(2 * 86_400_000);
    let id = t
        .store
        .add_referral(
            case,
            &NewReferral {
                body: Note::new("Poliția din Lyon").unwrap(),
                sent_at: Some(sent),
                due_at: Some(due),
            },
            &crate::Actor::System,
            crate::Expect::Any,
        )
        .unwrap();
    t.store
        .referral_acknowledged(id, sent.plus_ms(3_600_000))
        .unwrap();
    t.clock.advance_ms(86_400_000);
    t.store
        .referral_outcome(id, &Note::new("persoana a fost găsită").unwrap())
        .unwrap();
    let r = &t.store.referrals(case).unwrap()[0];
    assert_eq!((r.sent_at, r.due_at), (Some(sent), Some(due)));
    assert_eq!(r.acknowledged_at, Some(sent.plus_ms(3_600_000)));
    assert_eq!(
        r.outcome.as_ref().map(Note::as_str),
        Some("persoana a fost găsită")
    );
    assert_eq!(r.outcome_at, Some(sent.plus_ms(86_400_000)));
    let err = t
        .store
        .referral_acknowledged(crate::ReferralId::from_raw(42), sent)
        .unwrap_err();
    assert!(matches!(
        err,
        WriteError::NotFound {
            what: "referral",
            ..
        }
    ));
}
