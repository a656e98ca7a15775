use std::collections::HashMap;

use proptest::prelude::*;

use crate::testkit::{self, new_case};
use crate::{
    Actor, AgentId, Body, CaseId, Channel, ConsulateId, Direction, Expect, Language, MergeId,
    NewMessage, Note, Priority, QueueKind, Sensitivities, Sensitivity, StatMetric, Status,
    Timestamp, Visibility, WriteError,
};

const CONSULATES: [&str; 3] = ["RO-PAR", "RO-LON", "RO-MAD"];
const AGENTS: [&str; 2] = ["ana", "bob"];

#[derive(Debug, Clone)]
enum Op {
    Create {
        consulate: usize,
        priority: usize,
        sensitivity: usize,
        triage: bool,
    },
    Status {
        case: usize,
        to: usize,
    },
    Assign {
        case: usize,
        agent: Option<usize>,
    },
    Priority {
        case: usize,
        to: usize,
    },
    Sensitivity {
        case: usize,
        to: usize,
    },
    Reply {
        case: usize,
        by_agent: bool,
    },
    Merge {
        source: usize,
        into: usize,
    },
    Unmerge {
        merge: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..3usize, 0..5usize, 0..3usize, any::<bool>()).prop_map(
            |(consulate, priority, sensitivity, triage)| Op::Create { consulate, priority, sensitivity, triage }
        ),
        3 => (any::<usize>(), 0..Status::ALL.len()).prop_map(|(case, to)| Op::Status { case, to }),
        2 => (any::<usize>(), proptest::option::of(0..2usize)).prop_map(|(case, agent)| Op::Assign { case, agent }),
        2 => (any::<usize>(), 0..5usize).prop_map(|(case, to)| Op::Priority { case, to }),
        1 => (any::<usize>(), 0..3usize).prop_map(|(case, to)| Op::Sensitivity { case, to }),
        2 => (any::<usize>(), any::<bool>()).prop_map(|(case, by_agent)| Op::Reply { case, by_agent }),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(source, into)| Op::Merge { source, into }),
        1 => any::<usize>().prop_map(|merge| Op::Unmerge { merge }),
    ]
}

/// What the test believes about each case, updated only when the store says `Ok`.
#[derive(Debug, Clone)]
struct Believed {
    consulate: &'static str,
    status: Status,
    priority: Priority,
    sensitivity: Sensitivity,
    assignee: Option<&'static str>,
    answered: bool,
    resolved: bool,
}

/// A merge the test made: the merge, the source's index, and what it had before.
type Made = (MergeId, usize, Status, Option<&'static str>);

fn reply(by_agent: bool) -> NewMessage {
    NewMessage {
        direction: if by_agent {
            Direction::Out
        } else {
            Direction::In
        },
        channel: Channel::Email,
        author: if by_agent {
            Actor::Agent(AgentId::new("ana").unwrap())
        } else {
            Actor::Citizen
        },
        visibility: Visibility::External,
        language: Language::new("ro").unwrap(),
        body: Body::new("răspuns").unwrap(),
        attachments: Vec::new(),
    }
}

fn run(ops: &[Op]) {
    let t = testkit::store();
    let mut cases: Vec<(CaseId, Believed)> = Vec::new();
    let mut merges: Vec<Made> = Vec::new();
    let actor = Actor::Agent(AgentId::new("sup").unwrap());
    let why = Note::new("test").unwrap();
    for op in ops {
        t.clock.advance_ms(1);
        let pick = |i: usize| (!cases.is_empty()).then(|| i % cases.len());
        let result = match *op {
            Op::Create {
                consulate,
                priority,
                sensitivity,
                triage,
            } => {
                let mut new = new_case("cerere");
                new.consulate = testkit::consulate(CONSULATES[consulate]);
                new.priority = Priority::ALL[priority];
                new.sensitivity = Sensitivity::ALL[sensitivity];
                new.needs_triage = triage;
                let id = t.store.create_case(&new).unwrap().case_id;
                let status = if triage { Status::Triage } else { Status::New };
                cases.push((
                    id,
                    Believed {
                        consulate: CONSULATES[consulate],
                        status,
                        priority: new.priority,
                        sensitivity: new.sensitivity,
                        assignee: None,
                        answered: false,
                        resolved: false,
                    },
                ));
                Ok(())
            }
            Op::Status { case, to } => match pick(case) {
                None => continue,
                Some(i) => {
                    let to = Status::ALL[to];
                    let r = t
                        .store
                        .change_status(cases[i].0, to, &actor, None, Expect::Any);
                    if r.is_ok() {
                        cases[i].1.status = to;
                        cases[i].1.resolved |= matches!(to, Status::Resolved | Status::Closed);
                    }
                    r
                }
            },
            Op::Assign { case, agent } => match pick(case) {
                None => continue,
                Some(i) => {
                    let agent = agent.map(|a| AGENTS[a]);
                    let id = agent.map(|a| AgentId::new(a).unwrap());
                    let r = t.store.assign(cases[i].0, id.as_ref(), &actor, Expect::Any);
                    if r.is_ok() {
                        cases[i].1.assignee = agent;
                    }
                    r
                }
            },
            Op::Priority { case, to } => match pick(case) {
                None => continue,
                Some(i) => {
                    let to = Priority::ALL[to];
                    let r = t
                        .store
                        .change_priority(cases[i].0, to, &actor, &why, Expect::Any);
                    if r.is_ok() {
                        cases[i].1.priority = to;
                    }
                    r
                }
            },
            Op::Sensitivity { case, to } => match pick(case) {
                None => continue,
                Some(i) => {
                    let to = Sensitivity::ALL[to];
                    let r = t
                        .store
                        .change_sensitivity(cases[i].0, to, &actor, &why, Expect::Any);
                    if r.is_ok() {
                        cases[i].1.sensitivity = to;
                    }
                    r
                }
            },
            Op::Reply { case, by_agent } => match pick(case) {
                None => continue,
                Some(i) => t
                    .store
                    .add_message(cases[i].0, &reply(by_agent), Expect::Any)
                    .map(|_| {
                        let b = &mut cases[i].1;
                        if !by_agent && b.status == Status::WaitingCitizen {
                            b.status = Status::InProgress;
                        }
                        if by_agent && matches!(b.status, Status::New | Status::Triage) {
                            b.status = Status::InProgress;
                        }
                        b.answered |= by_agent;
                    }),
            },
            Op::Merge { source, into } => match (pick(source), pick(into)) {
                (Some(s), Some(i)) => {
                    let r = t.store.merge(
                        cases[s].0,
                        cases[i].0,
                        &actor,
                        &why,
                        Expect::Any,
                        Expect::Any,
                    );
                    r.map(|id| {
                        let b = &mut cases[s].1;
                        merges.push((id, s, b.status, b.assignee));
                        b.status = Status::Merged;
                        b.assignee = None;
                    })
                }
                _ => continue,
            },
            Op::Unmerge { merge } => {
                if merges.is_empty() {
                    continue;
                }
                let (id, s, status, assignee) = merges[merge % merges.len()];
                let r = t.store.unmerge(id, &actor, &why, Expect::Any, Expect::Any);
                r.map(|()| {
                    cases[s].1.status = status;
                    cases[s].1.assignee = assignee;
                })
            }
        };
        match result {
            Ok(())
            | Err(
                WriteError::InvalidTransition { .. }
                | WriteError::Unchanged(_)
                | WriteError::CaseMerged(_)
                | WriteError::Merge(_),
            ) => {}
            Err(e) => panic!("{op:?}: {e}"),
        }
    }

    // 1. The store's own recount, in SQL, agrees with the counters it kept.
    assert_eq!(t.store.check_counters().unwrap(), vec![]);
    // 2. The counters agree with what the test believes happened, for every consulate and
    //    all of them, and every set of sensitivities a reader may be allowed.
    let sets: Vec<Sensitivities> = (0..8u8)
        .map(|bits| {
            Sensitivity::ALL
                .iter()
                .enumerate()
                .filter(|(i, _)| bits & (1 << i) != 0)
                .map(|(_, s)| *s)
                .collect()
        })
        .collect();
    let places = CONSULATES.iter().map(|c| Some(*c)).chain([None]);
    for consulate in places {
        let id = consulate.map(testkit::consulate);
        for &set in &sets {
            check_counts(&t, &cases, consulate, id.as_ref(), set);
        }
    }
    // 3. Status counters, per consulate, for every set of sensitivities a reader may be
    //    allowed.
    for consulate in CONSULATES {
        for &set in &sets {
            let mut by_status: HashMap<(Status, Priority), u64> = HashMap::new();
            for (_, b) in cases
                .iter()
                .filter(|(_, b)| b.consulate == consulate && set.contains(b.sensitivity))
            {
                *by_status.entry((b.status, b.priority)).or_default() += 1;
            }
            let stored: HashMap<_, _> = t
                .store
                .status_counts(&testkit::consulate(consulate), set)
                .unwrap()
                .into_iter()
                .map(|s| ((s.status, s.priority), s.n))
                .collect();
            assert_eq!(stored, by_status, "{consulate} {set:?}");
        }
    }
    // 4. Every first response and resolution was counted once.
    let (from, to) = (
        Timestamp::from_unix_ms(testkit::T0),
        crate::Clock::now(&*t.clock),
    );
    let stats = |m| {
        t.store
            .response_stats(None, Sensitivities::ALL, m, from, to)
            .unwrap()
            .count
    };
    let believed = |f: fn(&Believed) -> bool| cases.iter().filter(|(_, b)| f(b)).count() as u64;
    assert_eq!(stats(StatMetric::FirstResponse), believed(|b| b.answered));
    assert_eq!(stats(StatMetric::Resolution), believed(|b| b.resolved));
}

fn check_counts(
    t: &testkit::TestStore,
    cases: &[(CaseId, Believed)],
    consulate: Option<&str>,
    id: Option<&ConsulateId>,
    set: Sensitivities,
) {
    let mine: Vec<&Believed> = cases
        .iter()
        .map(|(_, b)| b)
        .filter(|b| consulate.is_none_or(|c| b.consulate == c) && set.contains(b.sensitivity))
        .collect();
    let counts = t.store.queue_counts(id, set).unwrap();
    let open = |b: &&Believed| b.status.is_open();
    let n = |f: &dyn Fn(&&Believed) -> bool| mine.iter().filter(|b| f(b)).count() as u64;
    let at = format!("{consulate:?} {set:?}");
    assert_eq!(counts.get(QueueKind::Open), n(&|b| open(b)), "{at}");
    assert_eq!(
        counts.get(QueueKind::Unassigned),
        n(&|b| open(b) && b.assignee.is_none()),
        "{at}"
    );
    assert_eq!(
        counts.get(QueueKind::Emergency),
        n(&|b| open(b) && b.priority <= Priority::P1),
        "{at}"
    );
    let unacknowledged = n(&|b| open(b) && b.priority <= Priority::P1 && b.assignee.is_none());
    assert_eq!(
        counts.get(QueueKind::UnassignedEmergency),
        unacknowledged,
        "{at}"
    );
    assert_eq!(
        t.store.unacknowledged_emergencies(id, set).unwrap(),
        unacknowledged
    );
    assert_eq!(
        counts.get(QueueKind::Triage),
        n(&|b| b.status == Status::Triage),
        "{at}"
    );
    assert_eq!(
        counts.get(QueueKind::WaitingCitizen),
        n(&|b| b.status == Status::WaitingCitizen)
    );
    assert_eq!(
        counts.get(QueueKind::Referred),
        n(&|b| b.status == Status::Referred)
    );
    for agent in AGENTS {
        let want = n(&|b| open(b) && b.assignee == Some(agent));
        let got = counts
            .by_agent
            .get(&AgentId::new(agent).unwrap())
            .copied()
            .unwrap_or(0);
        assert_eq!(got, want, "{at} {agent}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn counters_match_a_recount_after_any_sequence(ops in proptest::collection::vec(op(), 1..60)) {
        run(&ops);
    }
}

#[test]
fn a_counter_changed_behind_the_stores_back_is_found() {
    let t = testkit::store();
    t.store.create_case(&new_case("cerere")).unwrap();
    let conn = rusqlite::Connection::open(t.store.path()).unwrap();
    conn.execute("UPDATE queue_counts SET n = n + 1 WHERE queue = 'open'", [])
        .unwrap();
    conn.execute("DELETE FROM queue_entries WHERE queue = 'unassigned'", [])
        .unwrap();
    // The total stays right, only the sensitivity it is counted under is wrong.
    conn.execute(
        "UPDATE status_counts SET sensitivity = 'restricted' WHERE consulate = 'RO-PAR'",
        [],
    )
    .unwrap();
    let mut found: Vec<(String, i64, i64)> = t
        .store
        .check_counters()
        .unwrap()
        .into_iter()
        .map(|m| (m.what, m.stored, m.recounted))
        .collect();
    found.sort();
    let p = new_case("cerere").priority.rank();
    assert_eq!(
        found,
        vec![
            ("queue_counts RO-PAR/open//normal".to_owned(), 2, 1),
            (
                "queue_entries missing unassigned/RO-PAR/ case 1".to_owned(),
                0,
                1
            ),
            (format!("status_counts RO-PAR/new/P{p}/normal"), 0, 1),
            (format!("status_counts RO-PAR/new/P{p}/restricted"), 1, 0),
        ]
    );
}
