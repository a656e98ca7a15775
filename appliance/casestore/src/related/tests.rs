use super::{BY_CONTACT, BY_IDENTIFIER};
use crate::testkit::{self, agent, new_case, note, person};
use crate::{
    CaseId, ContactKind, ContactValue, Expect, IdKind, MatchedOn, NewCase, NewContact,
    NewRequester, PersonIdentifier, Relationship, Status, Verification,
};

fn contact(kind: ContactKind, value: &str) -> NewContact {
    NewContact {
        kind,
        value: ContactValue::new(value).unwrap(),
        verification: Verification::Unverified,
    }
}

fn id(kind: IdKind, value: &str) -> PersonIdentifier {
    PersonIdentifier::new(kind, value).unwrap()
}

/// A case whose subject has these contacts and identity numbers.
fn case_of(
    t: &testkit::TestStore,
    contacts: Vec<NewContact>,
    ids: Vec<PersonIdentifier>,
) -> CaseId {
    let mut new: NewCase = new_case("cerere");
    new.subject.contacts = contacts;
    new.subject.identifiers = ids;
    t.store.create_case(&new).unwrap().case_id
}

fn matches(t: &testkit::TestStore, case: CaseId, limit: usize) -> Vec<(CaseId, MatchedOn)> {
    t.store
        .related_cases(case, limit)
        .unwrap()
        .into_iter()
        .map(|r| (r.case, r.matched_on))
        .collect()
}

#[test]
fn cases_sharing_an_identity_number_or_a_contact_are_suggested_strongest_first() {
    let t = testkit::store();
    let cnp = "2900517400010";
    let mine = case_of(
        &t,
        vec![
            contact(ContactKind::Email, "Ioana.Pop@Example.org"),
            contact(ContactKind::Phone, "+40 (712) 345-678"),
        ],
        vec![id(IdKind::Cnp, cnp), id(IdKind::Passport, "05 123456")],
    );
    let same_phone = case_of(
        &t,
        vec![contact(ContactKind::Phone, "+40-712-345-678")],
        vec![],
    );
    let same_email = case_of(
        &t,
        vec![contact(ContactKind::Email, " ioana.pop@example.ORG")],
        vec![],
    );
    let same_cnp = case_of(&t, vec![], vec![id(IdKind::Cnp, cnp)]);
    let same_passport = case_of(&t, vec![], vec![id(IdKind::Passport, "05123456")]);
    // Sharing several things is one suggestion, under the strongest.
    let everything = case_of(
        &t,
        vec![
            contact(ContactKind::Phone, "+40 712 345 678"),
            contact(ContactKind::Email, "ioana.pop@example.org"),
        ],
        vec![id(IdKind::Cnp, cnp)],
    );
    // Phones match on their digits: 0040… is not +40….
    let _other_prefix = case_of(
        &t,
        vec![contact(ContactKind::Phone, "0040 712 345 678")],
        vec![],
    );
    let _stranger = case_of(
        &t,
        vec![contact(ContactKind::Email, "alt@example.org")],
        vec![id(IdKind::Cnp, "1900517400011")],
    );
    // A requester writing for someone else counts too.
    let mut by_mother = new_case("pentru fiica mea");
    by_mother.requester = Some(NewRequester {
        person: crate::NewPerson {
            contacts: vec![contact(ContactKind::Email, "IOANA.POP@example.org")],
            ..person("Pop", "Maria")
        },
        relationship: Relationship::Parent,
    });
    let requested = t.store.create_case(&by_mother).unwrap().case_id;

    assert_eq!(
        matches(&t, mine, 20),
        vec![
            (everything, MatchedOn::Cnp),
            (same_cnp, MatchedOn::Cnp),
            (same_passport, MatchedOn::Passport),
            (requested, MatchedOn::Email),
            (same_email, MatchedOn::Email),
            (same_phone, MatchedOn::Phone),
        ]
    );
    assert_eq!(
        matches(&t, mine, 2),
        vec![(everything, MatchedOn::Cnp), (same_cnp, MatchedOn::Cnp)]
    );
    let found = t.store.related_cases(same_phone, 20).unwrap();
    assert!(found.iter().any(|r| r.case == mine));
    assert_eq!(
        found[0].case_no,
        t.store.case(found[0].case).unwrap().unwrap().case_no
    );
    assert!(matches(&t, CaseId::from_raw(999), 20).is_empty());
}

#[test]
fn suggestions_show_the_other_cases_state_and_never_act() {
    let t = testkit::store();
    let cnp = "2900517400010";
    let a = case_of(&t, vec![], vec![id(IdKind::Cnp, cnp)]);
    let b = case_of(&t, vec![], vec![id(IdKind::Cnp, cnp)]);
    t.store
        .change_status(b, Status::Closed, &agent("ana"), None, Expect::Any)
        .unwrap();
    let related = t.store.related_cases(a, 10).unwrap();
    assert_eq!(related.len(), 1);
    assert_eq!(related[0].status, Status::Closed);
    assert!(t.store.merges_of(a).unwrap().is_empty());
    assert!(t.store.links(a).unwrap().is_empty());
    // Merged or not, the suggestion is still there with what it now is.
    t.store
        .merge(
            a,
            b,
            &agent("ana"),
            &note("aceeași persoană"),
            Expect::Any,
            Expect::Any,
        )
        .unwrap();
    assert_eq!(
        t.store.related_cases(b, 10).unwrap()[0].status,
        Status::Merged
    );
}

#[test]
fn each_look_up_is_one_walk_of_an_index() {
    let t = testkit::store();
    case_of(
        &t,
        vec![contact(ContactKind::Email, "a@example.org")],
        vec![],
    );
    t.store.optimize().unwrap();
    let conn = rusqlite::Connection::open(t.store.path()).unwrap();
    for (sql, index) in [
        (BY_IDENTIFIER, "person_identifiers_value"),
        (BY_CONTACT, "contact_points_normalized"),
    ] {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let plan: Vec<String> = stmt
            .query_map(rusqlite::params!["email", "a@example.org", 10], |r| {
                r.get(3)
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let plan = plan.join("\n");
        assert!(plan.contains(index), "{plan}");
        assert!(
            !plan.contains("SCAN") && !plan.contains("TEMP B-TREE"),
            "{plan}"
        );
    }
}
