use std::collections::HashMap;

use proptest::prelude::*;

use crate::testkit::{self, new_case};
use crate::{
    Actor, AgentId, Body, CaseId, Channel, Direction, Language, NewMessage, Note, Priority,
    QueueKind, Status, Visibility, WriteError,
};

const CONSULATES: [&str; 3] = ["RO-PAR", "RO-LON", "RO-MAD"];
const AGENTS: [&str; 2] = ["ana", "bob"];

#[derive(Debug, Clone)]
enum Op {
    Create {
        consulate: usize,
        priority: usize,
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
    Reply {
        case: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..3usize, 0..5usize, any::<bool>()).prop_map(|(consulate, priority, triage)| Op::Create { consulate, priority, triage }),
        3 => (any::<usize>(), 0..7usize).prop_map(|(case, to)| Op::Status { case, to }),
        2 => (any::<usize>(), proptest::option::of(0..2usize)).prop_map(|(case, agent)| Op::Assign { case, agent }),
        2 => (any::<usize>(), 0..5usize).prop_map(|(case, to)| Op::Priority { case, to }),
        1 => any::<usize>().prop_map(|case| Op::Reply { case }),
    ]
}

/// What the test believes about each case, updated only when the store says `Ok`.
#[derive(Debug, Clone)]
struct Believed {
    consulate: &'static str,
    status: Status,
    priority: Priority,
    assignee: Option<&'static str>,
}

fn run(ops: &[Op]) {
    let t = testkit::store();
    let mut cases: Vec<(CaseId, Believed)> = Vec::new();
    let actor = Actor::Agent(AgentId::new("sup").unwrap());
    let why = Note::new("test").unwrap();
    for op in ops {
        t.clock.advance_ms(1);
        let pick = |i: usize| (!cases.is_empty()).then(|| i % cases.len());
        let result = match *op {
            Op::Create {
                consulate,
                priority,
                triage,
            } => {
                let mut new = new_case("cerere");
                new.consulate = testkit::consulate(CONSULATES[consulate]);
                new.priority = Priority::ALL[priority];
                new.needs_triage = triage;
                let id = t.store.create_case(&new).unwrap().case_id;
                let status = if triage { Status::Triage } else { Status::New };
                cases.push((
                    id,
                    Believed {
                        consulate: CONSULATES[consulate],
                        status,
                        priority: new.priority,
                        assignee: None,
                    },
                ));
                Ok(())
            }
            Op::Status { case, to } => match pick(case) {
                None => continue,
                Some(i) => {
                    let to = Status::ALL[to];
                    let r = t.store.change_status(cases[i].0, to, &actor, None);
                    if r.is_ok() {
                        cases[i].1.status = to;
                    }
                    r
                }
            },
            Op::Assign { case, agent } => match pick(case) {
                None => continue,
                Some(i) => {
                    let agent = agent.map(|a| AGENTS[a]);
                    let id = agent.map(|a| AgentId::new(a).unwrap());
                    let r = t.store.assign(cases[i].0, id.as_ref(), &actor);
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
                    let r = t.store.change_priority(cases[i].0, to, &actor, &why);
                    if r.is_ok() {
                        cases[i].1.priority = to;
                    }
                    r
                }
            },
            Op::Reply { case } => match pick(case) {
                None => continue,
                Some(i) => {
                    let msg = NewMessage {
                        direction: Direction::In,
                        channel: Channel::Email,
                        author: Actor::Citizen,
                        visibility: Visibility::External,
                        language: Language::new("ro").unwrap(),
                        body: Body::new("răspuns").unwrap(),
                        attachments: Vec::new(),
                    };
                    t.store.add_message(cases[i].0, &msg).map(|_| {
                        if cases[i].1.status == Status::WaitingCitizen {
                            cases[i].1.status = Status::InProgress;
                        }
                    })
                }
            },
        };
        match result {
            Ok(()) | Err(WriteError::InvalidTransition { .. } | WriteError::Unchanged(_)) => {}
            Err(e) => panic!("{op:?}: {e}"),
        }
    }

    // 1. The store's own recount, in SQL, agrees with the counters it kept.
    assert_eq!(t.store.check_counters().unwrap(), vec![]);
    // 2. The counters agree with what the test believes happened.
    for consulate in CONSULATES {
        let mine: Vec<&Believed> = cases
            .iter()
            .map(|(_, b)| b)
            .filter(|b| b.consulate == consulate)
            .collect();
        let counts = t
            .store
            .queue_counts(&testkit::consulate(consulate))
            .unwrap();
        let open = |b: &&Believed| !matches!(b.status, Status::Resolved | Status::Closed);
        let n = |f: &dyn Fn(&&Believed) -> bool| mine.iter().filter(|b| f(b)).count() as u64;
        assert_eq!(counts.get(QueueKind::Open), n(&|b| open(b)));
        assert_eq!(
            counts.get(QueueKind::Unassigned),
            n(&|b| open(b) && b.assignee.is_none())
        );
        assert_eq!(
            counts.get(QueueKind::Emergency),
            n(&|b| open(b) && b.priority <= Priority::P1)
        );
        assert_eq!(
            counts.get(QueueKind::Triage),
            n(&|b| b.status == Status::Triage)
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
            assert_eq!(got, want, "{consulate} {agent}");
        }
        let mut by_status: HashMap<(Status, Priority), u64> = HashMap::new();
        for b in &mine {
            *by_status.entry((b.status, b.priority)).or_default() += 1;
        }
        let stored: HashMap<_, _> = t
            .store
            .status_counts(&testkit::consulate(consulate))
            .unwrap()
            .into_iter()
            .map(|s| ((s.status, s.priority), s.n))
            .collect();
        assert_eq!(stored, by_status, "{consulate}");
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
    let found: Vec<String> = t
        .store
        .check_counters()
        .unwrap()
        .into_iter()
        .map(|m| m.what)
        .collect();
    assert_eq!(
        found,
        vec![
            "queue_counts RO-PAR/open/".to_owned(),
            "queue_entries missing unassigned/RO-PAR/ case 1".to_owned()
        ]
    );
}
