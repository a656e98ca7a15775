use super::*;
use crate::staff::tests::new_staff;
use crate::testkit::{self, T0, new_case};

const HOUR: i64 = 60 * 60 * 1000;

fn at(offset_ms: i64) -> Timestamp {
    Timestamp::from_unix_ms(T0 + offset_ms)
}

fn agent(id: &str) -> AgentId {
    AgentId::new(id).unwrap()
}

fn note(text: &str) -> Note {
    Note::new(text).unwrap()
}

/// A store with consul `ion`, officer `ana` and two cases.
fn setup() -> (testkit::TestStore, CaseId, CaseId) {
    let t = testkit::store();
    t.store.create_staff(&new_staff("ion")).unwrap();
    t.store.create_staff(&new_staff("ana")).unwrap();
    let first = t
        .store
        .create_case(&new_case("pașaport pierdut"))
        .unwrap()
        .case_id;
    let second = t
        .store
        .create_case(&new_case("arestat la Lyon"))
        .unwrap()
        .case_id;
    (t, first, second)
}

#[test]
fn a_grant_opens_one_case_to_one_person_until_it_expires() {
    let (t, case, other) = setup();
    let ion = agent("ion");
    let reason = note("the detainee's mother called the 24/7 line");
    let id = t
        .store
        .grant_break_glass(&ion, case, &reason, at(0), at(HOUR))
        .unwrap();

    for (when, open) in [(-1, false), (0, true), (HOUR - 1, true), (HOUR, false)] {
        let found = t.store.active_grant(&ion, case, at(when)).unwrap();
        assert_eq!(found.is_some(), open, "at +{when} ms");
        if let Some(grant) = found {
            assert_eq!((grant.id, grant.case, &grant.reason), (id, case, &reason));
            assert!(grant.is_active(at(when)));
        }
    }
    assert_eq!(
        t.store.active_grant(&agent("ana"), case, at(1)).unwrap(),
        None,
        "only ion"
    );
    assert_eq!(
        t.store.active_grant(&ion, other, at(1)).unwrap(),
        None,
        "only that case"
    );
}

#[test]
fn supervisors_see_who_broke_the_glass_on_what_why_and_until_when() {
    let (t, case, other) = setup();
    let early = t
        .store
        .grant_break_glass(
            &agent("ion"),
            case,
            &note("family enquiry"),
            at(0),
            at(HOUR),
        )
        .unwrap();
    let late = t
        .store
        .grant_break_glass(
            &agent("ana"),
            other,
            &note("duty night"),
            at(2 * HOUR),
            at(3 * HOUR),
        )
        .unwrap();

    let all = t.store.grants_since(at(0)).unwrap();
    assert_eq!(
        all.iter().map(|g| g.id).collect::<Vec<_>>(),
        vec![late, early],
        "newest first"
    );
    let first = &all[1];
    assert_eq!(first.staff, agent("ion"));
    assert_eq!(first.case_no.to_string(), "CSC-2026-0000001");
    assert_eq!(first.reason.as_str(), "family enquiry");
    assert_eq!(
        (first.granted_at, first.expires_at, first.revoked_at),
        (at(0), at(HOUR), None)
    );
    assert_eq!(all[0].case_no.to_string(), "CSC-2026-0000002");

    let recent = t.store.grants_since(at(1)).unwrap();
    assert_eq!(recent.iter().map(|g| g.id).collect::<Vec<_>>(), vec![late]);
    assert!(t.store.grants_since(at(2 * HOUR + 1)).unwrap().is_empty());
}

#[test]
fn a_revoked_grant_closes_the_case_but_stays_on_record() {
    let (t, case, _) = setup();
    let ion = agent("ion");
    let id = t
        .store
        .grant_break_glass(&ion, case, &note("urgent call"), at(0), at(HOUR))
        .unwrap();
    t.store.revoke_grant(id, at(10)).unwrap();
    assert_eq!(t.store.active_grant(&ion, case, at(11)).unwrap(), None);
    let kept = t.store.grants_since(at(0)).unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].revoked_at, Some(at(10)));
    assert!(!kept[0].is_active(at(11)));

    let again = t.store.revoke_grant(id, at(20)).unwrap_err();
    assert!(
        matches!(again, GrantError::AlreadyRevoked(g) if g == id),
        "{again}"
    );
    assert_eq!(
        t.store.grants_since(at(0)).unwrap()[0].revoked_at,
        Some(at(10))
    );
    let missing = t
        .store
        .revoke_grant(GrantId::from_raw(999), at(20))
        .unwrap_err();
    assert!(matches!(missing, GrantError::NoSuchGrant(_)), "{missing}");
}

#[test]
fn of_several_grants_the_longest_lasting_one_answers() {
    let (t, case, _) = setup();
    let ion = agent("ion");
    let short = t
        .store
        .grant_break_glass(&ion, case, &note("first look"), at(0), at(HOUR))
        .unwrap();
    let long = t
        .store
        .grant_break_glass(&ion, case, &note("still needed"), at(10), at(4 * HOUR))
        .unwrap();
    assert_eq!(
        t.store
            .active_grant(&ion, case, at(20))
            .unwrap()
            .map(|g| g.id),
        Some(long)
    );
    t.store.revoke_grant(long, at(30)).unwrap();
    assert_eq!(
        t.store
            .active_grant(&ion, case, at(40))
            .unwrap()
            .map(|g| g.id),
        Some(short)
    );
}

#[test]
fn a_grant_needs_an_enabled_account_a_case_a_future_expiry_and_a_reason() {
    let (t, case, _) = setup();
    let reason = note("urgent call");
    let err = t
        .store
        .grant_break_glass(&agent("nobody"), case, &reason, at(0), at(HOUR))
        .unwrap_err();
    assert!(matches!(err, GrantError::NoSuchStaff(_)), "{err}");

    t.store.set_disabled(&agent("ana"), true).unwrap();
    let err = t
        .store
        .grant_break_glass(&agent("ana"), case, &reason, at(0), at(HOUR))
        .unwrap_err();
    assert!(matches!(err, GrantError::StaffDisabled(_)), "{err}");

    let err = t
        .store
        .grant_break_glass(
            &agent("ion"),
            CaseId::from_raw(999),
            &reason,
            at(0),
            at(HOUR),
        )
        .unwrap_err();
    assert!(matches!(err, GrantError::NoSuchCase(_)), "{err}");

    for expiry in [at(0), at(-1)] {
        let err = t
            .store
            .grant_break_glass(&agent("ion"), case, &reason, at(0), expiry)
            .unwrap_err();
        assert!(
            matches!(err, GrantError::Write(WriteError::Invalid(_))),
            "{err}"
        );
    }
    assert!(
        Note::new("   ").is_err(),
        "a blank reason cannot even be written down"
    );
    assert!(
        t.store.grants_since(at(-HOUR)).unwrap().is_empty(),
        "nothing was recorded"
    );
}
