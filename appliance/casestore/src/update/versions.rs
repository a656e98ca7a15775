//! Optimistic concurrency: every change bumps the case's version once, and a change made
//! against a version the case has left is refused whole.

use crate::testkit::{self, agent, attachment, message, new_case, note};
use crate::{
    AgentId, CaseId, CaseType, Direction, Expect, Family, LinkKind, NewReferral, Priority,
    ScanVerdict, Sensitivity, Status, TypeCode, Visibility, WriteError,
};

/// One change, made against the version the case has at that point.
type Step<'a> = Box<dyn Fn() -> Result<(), WriteError> + 'a>;

fn version(t: &testkit::TestStore, case: CaseId) -> u64 {
    t.store.case(case).unwrap().unwrap().version
}

/// Everything a failed change could have left behind.
fn footprint(t: &testkit::TestStore, case: CaseId) -> (crate::Case, usize, usize, u64, usize) {
    (
        t.store.case(case).unwrap().unwrap(),
        t.store.messages(case, None).unwrap().len(),
        t.store.status_history(case).unwrap().len(),
        t.store.outbox_len().unwrap(),
        t.store.changes(case).unwrap().len(),
    )
}

#[test]
fn every_change_bumps_the_version_once() {
    let t = testkit::store();
    let a = t.store.create_case(&new_case("a")).unwrap().case_id;
    let b = t.store.create_case(&new_case("b")).unwrap().case_id;
    assert_eq!(version(&t, a), 1);
    let ana = AgentId::new("ana").unwrap();
    let why = note("motiv");
    let steps: Vec<(&str, Step<'_>)> = vec![
        (
            "message",
            Box::new(|| {
                let m = message(Direction::Out, Visibility::Internal, "notă");
                t.store.add_message(a, &m, Expect::Version(1)).map(drop)
            }),
        ),
        (
            "status",
            Box::new(|| {
                let to = Status::WaitingCitizen;
                t.store
                    .change_status(a, to, &agent("ana"), None, Expect::Version(2))
            }),
        ),
        (
            // The reply moves the case back to in_progress too: still one transaction.
            "citizen reply",
            Box::new(|| {
                let m = message(Direction::In, Visibility::External, "am trimis");
                t.store.add_message(a, &m, Expect::Version(3)).map(drop)
            }),
        ),
        (
            "assign",
            Box::new(|| {
                t.store
                    .assign(a, Some(&ana), &agent("sup"), Expect::Version(4))
            }),
        ),
        (
            "priority",
            Box::new(|| {
                t.store
                    .change_priority(a, Priority::P1, &agent("ana"), &why, Expect::Version(5))
            }),
        ),
        (
            "type",
            Box::new(|| {
                let to = CaseType {
                    code: TypeCode::new("C1").unwrap(),
                    subtype: None,
                    taxonomy_version: 1,
                    family: Family::Protection,
                };
                t.store
                    .change_type(a, &to, &agent("ana"), &why, Expect::Version(6))
            }),
        ),
        (
            "sensitivity",
            Box::new(|| {
                t.store.change_sensitivity(
                    a,
                    Sensitivity::Restricted,
                    &agent("ana"),
                    &why,
                    Expect::Version(7),
                )
            }),
        ),
        (
            "attachment",
            Box::new(|| {
                t.store
                    .add_attachment(a, None, &attachment(b"x"), Expect::Version(8))
                    .map(drop)
            }),
        ),
        (
            "link",
            Box::new(|| {
                t.store
                    .link_cases(a, b, LinkKind::Related, &agent("ana"), Expect::Version(9))
            }),
        ),
        (
            "referral",
            Box::new(|| {
                let r = NewReferral {
                    body: note("Poliția"),
                    sent_at: None,
                    due_at: None,
                };
                t.store
                    .add_referral(a, &r, &agent("ana"), Expect::Version(10))
                    .map(drop)
            }),
        ),
    ];
    for (i, (what, step)) in steps.iter().enumerate() {
        step().unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(version(&t, a), i as u64 + 2, "{what}");
    }
    assert_eq!(version(&t, b), 2, "the other end of the link changed too");
    // Changes that take no expectation still count.
    let file = t.store.attachments(a).unwrap()[0].id;
    t.store.set_scan_verdict(file, ScanVerdict::Clean).unwrap();
    assert_eq!(version(&t, a), 12);
    assert_eq!(t.store.check_counters().unwrap(), vec![]);
}

#[test]
fn a_stale_version_is_refused_and_writes_nothing() {
    let t = testkit::store();
    let a = t.store.create_case(&new_case("a")).unwrap().case_id;
    let b = t.store.create_case(&new_case("b")).unwrap().case_id;
    let ana = AgentId::new("ana").unwrap();
    // Someone else got there first.
    t.store
        .assign(a, Some(&ana), &agent("bob"), Expect::Version(1))
        .unwrap();
    let before = footprint(&t, a);
    let stale = Expect::Version(1);
    let why = note("motiv");
    let attempts: Vec<(&str, Result<(), WriteError>)> = vec![
        (
            "message",
            t.store
                .add_message(
                    a,
                    &message(Direction::Out, Visibility::External, "x"),
                    stale,
                )
                .map(drop),
        ),
        (
            "status",
            t.store
                .change_status(a, Status::Resolved, &agent("ana"), None, stale),
        ),
        ("assign", t.store.assign(a, None, &agent("ana"), stale)),
        (
            "priority",
            t.store
                .change_priority(a, Priority::P0, &agent("ana"), &why, stale),
        ),
        (
            "sensitivity",
            t.store
                .change_sensitivity(a, Sensitivity::Sensitive, &agent("ana"), &why, stale),
        ),
        (
            "attachment",
            t.store
                .add_attachment(a, None, &attachment(b"y"), stale)
                .map(drop),
        ),
        (
            "link",
            t.store
                .link_cases(a, b, LinkKind::Related, &agent("ana"), stale),
        ),
        (
            "merge",
            t.store
                .merge(a, b, &agent("ana"), &why, stale, Expect::Any)
                .map(drop),
        ),
        (
            "merge target",
            t.store
                .merge(b, a, &agent("ana"), &why, Expect::Any, stale)
                .map(drop),
        ),
    ];
    for (what, result) in attempts {
        match result {
            Err(WriteError::Conflict {
                case,
                expected: 1,
                current: 2,
            }) if case == a => {}
            other => panic!("{what}: {other:?}"),
        }
    }
    assert_eq!(
        footprint(&t, a),
        before,
        "nothing of a refused change remains"
    );
    assert!(t.store.links(b).unwrap().is_empty());
    assert!(t.store.merges_of(b).unwrap().is_empty());
    assert_eq!(t.store.case(b).unwrap().unwrap().version, 1);
    // With the version it has now, the same change goes through.
    t.store
        .change_status(a, Status::Resolved, &agent("ana"), None, Expect::Version(2))
        .unwrap();
}
