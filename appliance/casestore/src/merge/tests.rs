use std::time::Duration;

use rusqlite::Connection;

use crate::testkit::{self, agent, message, new_case, note};
use crate::{
    AgentId, CaseId, Direction, EventKind, Expect, MergeId, MergeRefusal, Priority, QueueKind,
    Sensitivities, Sensitivity, Status, Visibility, WriteError,
};

/// The case's queue rows exactly as stored.
fn queue_rows(t: &testkit::TestStore, case: CaseId) -> Vec<Vec<String>> {
    let conn = Connection::open(t.store.path()).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT queue, consulate, agent, priority, created_at, type_code, language, channel,
                    sensitivity FROM queue_entries WHERE case_id = ?1 ORDER BY queue",
        )
        .unwrap();
    stmt.query_map([case.get()], |r| {
        (0..9)
            .map(|i| {
                r.get::<_, rusqlite::types::Value>(i)
                    .map(|v| format!("{v:?}"))
            })
            .collect()
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

fn events(t: &testkit::TestStore) -> Vec<(EventKind, CaseId)> {
    let claimed = t.store.outbox_claim(100, Duration::from_secs(60)).unwrap();
    for e in &claimed {
        t.store.outbox_done(e.id).unwrap();
    }
    claimed.into_iter().map(|e| (e.kind, e.case)).collect()
}

/// A duplicate (urgent, restricted, assigned to ana, in progress) and the case it repeats.
fn pair(t: &testkit::TestStore) -> (CaseId, CaseId) {
    let into = t.store.create_case(&new_case("fiul meu")).unwrap().case_id;
    let mut dup = new_case("fiul meu, din nou");
    dup.priority = Priority::P1;
    dup.sensitivity = Sensitivity::Restricted;
    let source = t.store.create_case(&dup).unwrap().case_id;
    let ana = AgentId::new("ana").unwrap();
    t.store
        .assign(source, Some(&ana), &agent("sup"), Expect::Any)
        .unwrap();
    t.store
        .change_status(source, Status::InProgress, &agent("ana"), None, Expect::Any)
        .unwrap();
    events(t);
    (source, into)
}

#[test]
fn a_merge_takes_the_source_out_of_every_queue_and_the_unmerge_puts_it_back_exactly() {
    let t = testkit::store();
    let (source, into) = pair(&t);
    let paris = testkit::consulate("RO-PAR");
    let rows_before = queue_rows(&t, source);
    let counts_before = t
        .store
        .queue_counts(Some(&paris), Sensitivities::ALL)
        .unwrap();
    assert_eq!(rows_before.len(), 3, "open, emergency, ana's own");

    t.clock.advance_ms(1000);
    let why = note("aceeași persoană, același incident");
    let id = t
        .store
        .merge(
            source,
            into,
            &agent("ana"),
            &why,
            Expect::Version(3),
            Expect::Version(1),
        )
        .unwrap();
    let merged = t.store.case(source).unwrap().unwrap();
    assert_eq!((merged.status, merged.assignee), (Status::Merged, None));
    assert!(queue_rows(&t, source).is_empty());
    let counts = t
        .store
        .queue_counts(Some(&paris), Sensitivities::ALL)
        .unwrap();
    assert_eq!(counts.get(QueueKind::Open), 1, "only the target is open");
    assert_eq!(counts.get(QueueKind::Emergency), 0);
    assert!(counts.by_agent.is_empty());
    assert_eq!(t.store.case(into).unwrap().unwrap().version, 2);
    let history = t.store.status_history(source).unwrap();
    let last = history.last().unwrap();
    assert_eq!(
        (last.from, last.to, last.note.as_ref()),
        (Some(Status::InProgress), Status::Merged, Some(&why))
    );
    assert_eq!(
        events(&t),
        vec![(EventKind::Merged, source), (EventKind::Merged, into)]
    );
    let record = &t.store.merges_of(into).unwrap()[0];
    assert_eq!(t.store.merges_of(source).unwrap(), vec![record.clone()]);
    assert_eq!(
        (record.id, record.source, record.into, record.prior_status),
        (id, source, into, Status::InProgress)
    );
    assert_eq!(record.prior_assignee, Some(AgentId::new("ana").unwrap()));
    assert_eq!(t.store.check_counters().unwrap(), vec![]);

    t.clock.advance_ms(1000);
    let oops = note("nu era aceeași persoană");
    t.store
        .unmerge(id, &agent("sup"), &oops, Expect::Any, Expect::Any)
        .unwrap();
    assert_eq!(queue_rows(&t, source), rows_before);
    assert_eq!(
        t.store
            .queue_counts(Some(&paris), Sensitivities::ALL)
            .unwrap(),
        counts_before
    );
    let restored = t.store.case(source).unwrap().unwrap();
    assert_eq!(restored.status, Status::InProgress);
    assert_eq!(restored.assignee, Some(AgentId::new("ana").unwrap()));
    let kept = &t.store.merges_of(source).unwrap()[0];
    let undone = kept
        .undone
        .as_ref()
        .expect("the merge stays, marked undone");
    assert_eq!((&undone.actor, &undone.reason), (&agent("sup"), &oops));
    let last = t.store.status_history(source).unwrap().pop().unwrap();
    assert_eq!(
        (last.from, last.to),
        (Some(Status::Merged), Status::InProgress)
    );
    assert_eq!(
        events(&t),
        vec![(EventKind::Unmerged, source), (EventKind::Unmerged, into)]
    );
    assert_eq!(t.store.check_counters().unwrap(), vec![]);
    // Undone, it can be merged again.
    t.store
        .merge(source, into, &agent("ana"), &why, Expect::Any, Expect::Any)
        .unwrap();
}

#[test]
fn merges_into_itself_of_merged_cases_and_chains_are_refused() {
    let t = testkit::store();
    let (source, into) = pair(&t);
    let third = t.store.create_case(&new_case("alta")).unwrap().case_id;
    let why = note("duplicat");
    let merge = |s, i| {
        t.store
            .merge(s, i, &agent("ana"), &why, Expect::Any, Expect::Any)
    };
    let refused = |r: Result<MergeId, WriteError>| match r {
        Err(WriteError::Merge(refusal)) => refusal,
        other => panic!("{other:?}"),
    };
    assert_eq!(refused(merge(into, into)), MergeRefusal::IntoItself);
    let id = merge(source, into).unwrap();
    assert_eq!(
        refused(merge(source, third)),
        MergeRefusal::SourceMerged(source)
    );
    assert_eq!(
        refused(merge(third, source)),
        MergeRefusal::TargetMerged(source)
    );
    assert_eq!(
        refused(merge(into, third)),
        MergeRefusal::SourceHasMerges(into)
    );
    // The refusals said why in words an agent can act on.
    assert!(
        WriteError::from(MergeRefusal::SourceHasMerges(into))
            .to_string()
            .contains("do not chain")
    );
    t.store
        .unmerge(id, &agent("ana"), &why, Expect::Any, Expect::Any)
        .unwrap();
    let again = t
        .store
        .unmerge(id, &agent("ana"), &why, Expect::Any, Expect::Any);
    assert!(matches!(
        again,
        Err(WriteError::Merge(MergeRefusal::AlreadyUndone(m))) if m == id
    ));
    let missing = t.store.unmerge(
        MergeId::from_raw(99),
        &agent("ana"),
        &why,
        Expect::Any,
        Expect::Any,
    );
    assert!(matches!(
        missing,
        Err(WriteError::NotFound { what: "merge", .. })
    ));
    assert_eq!(t.store.merges_of(into).unwrap().len(), 1);
    assert_eq!(t.store.check_counters().unwrap(), vec![]);
}

#[test]
fn a_merged_case_keeps_taking_messages_but_nothing_else_moves_it() {
    let t = testkit::store();
    let (source, into) = pair(&t);
    let why = note("duplicat");
    t.store
        .merge(source, into, &agent("ana"), &why, Expect::Any, Expect::Any)
        .unwrap();
    // A citizen replying to the old thread is not lost.
    let late = message(Direction::In, Visibility::External, "mai am o întrebare");
    t.store.add_message(source, &late, Expect::Any).unwrap();
    let ana = AgentId::new("ana").unwrap();
    let refusals = [
        t.store
            .assign(source, Some(&ana), &agent("ana"), Expect::Any),
        t.store
            .change_priority(source, Priority::P0, &agent("ana"), &why, Expect::Any),
        t.store.change_sensitivity(
            source,
            Sensitivity::Normal,
            &agent("ana"),
            &why,
            Expect::Any,
        ),
    ];
    for r in refusals {
        assert!(
            matches!(r, Err(WriteError::CaseMerged(c)) if c == source),
            "{r:?}"
        );
    }
    for to in [Status::InProgress, Status::Closed] {
        let r = t
            .store
            .change_status(source, to, &agent("ana"), None, Expect::Any);
        assert!(
            matches!(r, Err(WriteError::InvalidTransition { .. })),
            "{r:?}"
        );
    }
    let r = t
        .store
        .change_status(into, Status::Merged, &agent("ana"), None, Expect::Any);
    assert!(
        matches!(r, Err(WriteError::InvalidTransition { .. })),
        "only a merge makes a case merged"
    );
    assert_eq!(t.store.check_counters().unwrap(), vec![]);
}
