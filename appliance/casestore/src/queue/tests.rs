use super::*;
use crate::Sensitivities;
use crate::testkit::{self, new_case};
use crate::{Actor, CaseId, Sensitivity, Status};

/// 40 cases at RO-PAR with mixed priority, type, language and channel (some assigned to
/// `ana`, some closed) and 5 at RO-LON.
fn fixture() -> (testkit::TestStore, Vec<Case>) {
    let t = testkit::store();
    let ana = AgentId::new("ana").unwrap();
    let mut ids = Vec::new();
    for i in 0..45u32 {
        t.clock.advance_ms(if i % 7 == 0 { 0 } else { 1000 }); // some share a timestamp
        let mut new = new_case("cerere");
        new.priority = Priority::ALL[(i * 3 % 5) as usize];
        new.case_type.code = TypeCode::new(["A1.1", "C1", "D1"][(i % 3) as usize]).unwrap();
        new.language = Language::new(["ro", "en", "fr"][(i % 3 + i / 3) as usize % 3]).unwrap();
        new.channel = [Channel::Web, Channel::Email, Channel::Phone][(i % 2) as usize];
        new.sensitivity = Sensitivity::ALL[(i % 4).min(2) as usize];
        if i >= 40 {
            new.consulate = testkit::consulate("RO-LON");
        }
        let id = t.store.create_case(&new).unwrap().case_id;
        if i % 5 == 0 {
            t.store
                .assign(id, Some(&ana), &Actor::System, crate::Expect::Any)
                .unwrap();
        }
        if i % 11 == 0 {
            t.store
                .change_status(id, Status::Closed, &Actor::System, None, crate::Expect::Any)
                .unwrap();
        }
        ids.push(id);
    }
    let cases = ids
        .iter()
        .map(|id| t.store.case(*id).unwrap().unwrap())
        .collect();
    (t, cases)
}

fn all_pages(t: &testkit::TestStore, mut query: QueueQuery) -> Vec<CaseId> {
    let mut out = Vec::new();
    loop {
        let page = t.store.queue(&query).unwrap();
        assert!(page.cases.len() <= usize::from(query.page_size.get()));
        out.extend(page.cases.iter().map(|c| c.id));
        match page.next {
            Some(cursor) => query.after = Some(cursor.to_string().parse().unwrap()),
            None => return out,
        }
    }
}

fn expected(cases: &[Case], sort: QueueSort, keep: impl Fn(&Case) -> bool) -> Vec<CaseId> {
    expected_at(cases, Some("RO-PAR"), sort, keep)
}

/// The cases of `consulate` (`None`: all) that `keep` accepts, in `sort` order.
fn expected_at(
    cases: &[Case],
    consulate: Option<&str>,
    sort: QueueSort,
    keep: impl Fn(&Case) -> bool,
) -> Vec<CaseId> {
    let mut v: Vec<&Case> = cases
        .iter()
        .filter(|c| consulate.is_none_or(|at| c.consulate.as_str() == at) && keep(c))
        .collect();
    // In age order the urgent (P0, P1) come first all the same.
    let urgent_first = |c: &Case| c.priority.rank() > 1;
    match sort {
        QueueSort::Urgency => v.sort_by_key(|c| (c.priority, c.created_at, c.id)),
        QueueSort::Oldest => v.sort_by_key(|c| (urgent_first(c), c.created_at, c.id)),
        QueueSort::Newest => {
            v.sort_by_key(|c| (urgent_first(c), std::cmp::Reverse((c.created_at, c.id))))
        }
    }
    v.into_iter().map(|c| c.id).collect()
}

#[test]
fn pages_walk_every_queue_once_in_order() {
    let (t, cases) = fixture();
    for sort in [QueueSort::Urgency, QueueSort::Oldest, QueueSort::Newest] {
        for queue in [QueueKind::Open, QueueKind::Unassigned, QueueKind::Emergency] {
            let query = QueueQuery {
                sort,
                page_size: PageSize::new(7).unwrap(),
                ..QueueQuery::first(Some(testkit::consulate("RO-PAR")), queue)
            };
            let want = expected(&cases, sort, |c| {
                queue.contains(c.status, c.priority, c.assignee.is_some())
            });
            assert!(!want.is_empty());
            assert_eq!(all_pages(&t, query), want, "{queue:?} {sort:?}");
        }
    }
}

#[test]
fn pages_across_every_consulate_and_only_the_sensitivities_asked_for() {
    let (t, cases) = fixture();
    let everyday = Sensitivities::only(Sensitivity::Normal).with(Sensitivity::Sensitive);
    for consulate in [Some("RO-PAR"), None] {
        for set in [
            Sensitivities::ALL,
            everyday,
            Sensitivities::only(Sensitivity::Restricted),
        ] {
            for sort in [QueueSort::Urgency, QueueSort::Oldest, QueueSort::Newest] {
                for queue in [QueueKind::Open, QueueKind::Unassigned, QueueKind::Emergency] {
                    let query = QueueQuery {
                        sort,
                        sensitivities: set,
                        page_size: PageSize::new(6).unwrap(),
                        ..QueueQuery::first(consulate.map(testkit::consulate), queue)
                    };
                    let want = expected_at(&cases, consulate, sort, |c| {
                        set.contains(c.sensitivity)
                            && queue.contains(c.status, c.priority, c.assignee.is_some())
                    });
                    assert!(!want.is_empty(), "{consulate:?} {set:?} {queue:?}");
                    assert_eq!(
                        all_pages(&t, query),
                        want,
                        "{consulate:?} {set:?} {queue:?} {sort:?}"
                    );
                    let counted = t
                        .store
                        .queue_counts(consulate.map(testkit::consulate).as_ref(), set)
                        .unwrap()
                        .get(queue);
                    assert_eq!(
                        counted,
                        want.len() as u64,
                        "{consulate:?} {set:?} {queue:?}"
                    );
                }
            }
        }
    }
    let nothing = QueueQuery {
        sensitivities: Sensitivities::NONE,
        ..QueueQuery::first(None, QueueKind::Open)
    };
    assert!(t.store.queue(&nothing).unwrap().cases.is_empty());
}

#[test]
fn filters_narrow_the_page() {
    let (t, cases) = fixture();
    let base = QueueQuery::first(Some(testkit::consulate("RO-PAR")), QueueKind::Open);
    let open = |c: &Case| c.status.is_open();
    // A time some cases share, with older and newer ones on either side.
    let cutoff = cases[14].created_at;
    type Keep = Box<dyn Fn(&Case) -> bool>;
    let filters: Vec<(QueueFilter, Keep)> = vec![
        (
            QueueFilter {
                priority: Some(Priority::P2),
                ..Default::default()
            },
            Box::new(|c: &Case| c.priority == Priority::P2),
        ),
        (
            QueueFilter {
                case_type: Some(TypeCode::new("C1").unwrap()),
                ..Default::default()
            },
            Box::new(|c: &Case| c.case_type.code.as_str() == "C1"),
        ),
        (
            QueueFilter {
                language: Some(Language::new("en").unwrap()),
                ..Default::default()
            },
            Box::new(|c: &Case| c.language.as_str() == "en"),
        ),
        (
            QueueFilter {
                channel: Some(Channel::Email),
                ..Default::default()
            },
            Box::new(|c: &Case| c.channel == Channel::Email),
        ),
        (
            QueueFilter {
                language: Some(Language::new("ro").unwrap()),
                channel: Some(Channel::Web),
                ..Default::default()
            },
            Box::new(|c: &Case| c.language.as_str() == "ro" && c.channel == Channel::Web),
        ),
        (
            QueueFilter {
                created_before: Some(cutoff),
                ..Default::default()
            },
            Box::new(move |c: &Case| c.created_at <= cutoff),
        ),
        (
            QueueFilter {
                priority: Some(Priority::P2),
                created_before: Some(cutoff),
                ..Default::default()
            },
            Box::new(move |c: &Case| c.priority == Priority::P2 && c.created_at <= cutoff),
        ),
    ];
    for (filter, keep) in filters {
        for sort in [QueueSort::Urgency, QueueSort::Oldest, QueueSort::Newest] {
            let query = QueueQuery {
                filter: filter.clone(),
                sort,
                page_size: PageSize::new(3).unwrap(),
                ..base.clone()
            };
            let want = expected(&cases, sort, |c| open(c) && keep(c));
            assert!(!want.is_empty(), "{filter:?}");
            assert_eq!(all_pages(&t, query), want, "{filter:?} {sort:?}");
        }
    }
}

#[test]
fn an_agents_own_queue() {
    let (t, cases) = fixture();
    let ana = AgentId::new("ana").unwrap();
    let mine = QueueQuery {
        agent: Some(ana.clone()),
        ..QueueQuery::first(Some(testkit::consulate("RO-PAR")), QueueKind::Assigned)
    };
    let want = expected(&cases, QueueSort::Urgency, |c| {
        c.status.is_open() && c.assignee.as_ref() == Some(&ana)
    });
    assert_eq!(all_pages(&t, mine), want);
    let no_agent = QueueQuery::first(Some(testkit::consulate("RO-PAR")), QueueKind::Assigned);
    assert!(matches!(
        t.store.queue(&no_agent),
        Err(ReadError::Invalid(_))
    ));
    let stray = QueueQuery {
        agent: Some(ana),
        ..QueueQuery::first(Some(testkit::consulate("RO-PAR")), QueueKind::Open)
    };
    assert!(matches!(t.store.queue(&stray), Err(ReadError::Invalid(_))));
}

#[test]
fn page_sizes_and_cursors_are_bounded_and_checked() {
    assert!(PageSize::new(0).is_err() && PageSize::new(201).is_err());
    assert_eq!(PageSize::new(200).unwrap().get(), 200);
    let cursor = QueueCursor {
        sort: QueueSort::Newest,
        priority: 2,
        created_at: 1_772_355_600_000,
        case_id: 42,
    };
    assert_eq!(cursor.to_string().parse::<QueueCursor>().unwrap(), cursor);
    for bad in [
        "", "x1.2.3", "u9.1.1", "u1.2", "u1.2.3.4", "u1.a.3", "u-1.2.3",
    ] {
        assert!(bad.parse::<QueueCursor>().is_err(), "{bad:?}");
    }
    let (t, _) = fixture();
    let query = QueueQuery {
        after: Some(cursor),
        ..QueueQuery::first(Some(testkit::consulate("RO-PAR")), QueueKind::Open)
    };
    assert!(
        matches!(t.store.queue(&query), Err(ReadError::Invalid(_))),
        "a cursor of another sort"
    );
}

#[test]
fn page_plans_use_an_index_range_and_never_sort() {
    let (t, _) = fixture();
    t.store.optimize().unwrap(); // with planner statistics, as in production
    let conn = rusqlite::Connection::open(t.store.path()).unwrap();
    let cursor = |sort, priority| QueueCursor {
        sort,
        priority,
        created_at: 5,
        case_id: 9,
    };
    let everyday = Sensitivities::only(Sensitivity::Normal).with(Sensitivity::Sensitive);
    let places = [Some(testkit::consulate("RO-PAR")), None];
    for (consulate, set) in places
        .iter()
        .flat_map(|c| [(c, Sensitivities::ALL), (c, everyday)])
    {
        for sort in [QueueSort::Urgency, QueueSort::Oldest, QueueSort::Newest] {
            for filter in [
                QueueFilter::default(),
                QueueFilter {
                    priority: Some(Priority::P1),
                    ..Default::default()
                },
                QueueFilter {
                    language: Some(Language::new("ro").unwrap()),
                    channel: Some(Channel::Web),
                    ..Default::default()
                },
            ] {
                // A cursor among the urgent (P1) and one past them (P3).
                for after in [None, Some(cursor(sort, 1)), Some(cursor(sort, 3))] {
                    let query = QueueQuery {
                        sort,
                        filter: filter.clone(),
                        after,
                        sensitivities: set,
                        ..QueueQuery::first(consulate.clone(), QueueKind::Unassigned)
                    };
                    let (statements, args) = page_sql(&query).unwrap();
                    let mut plan = Vec::new();
                    for sql in &statements {
                        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
                        plan.extend(
                            stmt.query_map(rusqlite::params_from_iter(args.iter()), |r| {
                                r.get::<_, String>(3)
                            })
                            .unwrap()
                            .map(Result::unwrap),
                        );
                    }
                    let plan = plan.join("\n");
                    assert!(!plan.contains("TEMP B-TREE"), "{sort:?} {filter:?}\n{plan}");
                    assert!(
                        plan.contains("SEARCH q USING"),
                        "{sort:?} {filter:?}\n{plan}"
                    );
                    if consulate.is_none() {
                        assert!(plan.contains("queue_entries_all"), "{sort:?}\n{plan}");
                    }
                    // Age orders merge the per-priority runs of the urgency order, one
                    // range per priority; the age-order indexes are gone (migration 9).
                    let merged = sort != QueueSort::Urgency && filter.priority.is_none();
                    assert_eq!(
                        plan.contains("MERGE (UNION ALL)"),
                        merged,
                        "{sort:?}\n{plan}"
                    );
                    // Urgent first: P0 and P1, then P2–P4, unless the cursor is past them.
                    let past_urgent = after.is_some_and(|c| c.priority > 1);
                    let ranges = plan.matches("SEARCH q USING").count();
                    let want = match (merged, past_urgent) {
                        (false, _) => 1,
                        (true, false) => 5,
                        (true, true) => 3,
                    };
                    assert_eq!(ranges, want, "{sort:?} {after:?}\n{plan}");
                    assert!(!plan.contains("_age"), "{sort:?}\n{plan}");
                }
            }
        }
    }
}
