//! The authorization matrix over HTTP: every role × whose case it is × sensitivity × who holds
//! it × every case action, sent to the console as a browser would, against what the policy
//! decides for the same facts. A case the agent may not read answers exactly like a missing
//! one; an action the agent may not take on a readable case is refused; an allowed one is done.
//! (`access/tests/matrix.rs` checks the policy itself against the plain rules.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/harness.rs"]
mod support;

use access::{CaseAction, CaseFacts, Policy, Staff};
use casestore::{
    Actor, AgentId, ConsulateId, Expect, Note, Priority, Sensitivity, StaffRole, Timestamp,
};
use support::{BERLIN, CENTRAL, Case, Env, PARIS, Route, Session, unix_now};

const ROLES: [(StaffRole, &str); 5] = [
    (StaffRole::Operator, CENTRAL),
    (StaffRole::Officer, PARIS),
    (StaffRole::Consul, PARIS),
    (StaffRole::Supervisor, CENTRAL),
    (StaffRole::Administrator, CENTRAL),
];

/// Each action's path and a form that succeeds when the action is allowed.
const ACTIONS: [(CaseAction, &str); 14] = [
    (CaseAction::Claim, "claim"),
    (CaseAction::Assign, "assign"),
    (CaseAction::ChangeType, "type"),
    (CaseAction::ChangePriority, "priority"),
    (CaseAction::ChangeSensitivity, "sensitivity"),
    (CaseAction::ChangeStatus, "status"),
    (CaseAction::Reply, "reply"),
    (CaseAction::Note, "note"),
    (CaseAction::RequestDocuments, "request-documents"),
    (CaseAction::Refer, "refer"),
    (CaseAction::Link, "link"),
    (CaseAction::Merge, "merge"),
    (CaseAction::Unmerge, "unmerge"),
    (CaseAction::Close, "close"),
];

const COLLEAGUE: &str = "col.vera";
/// Whom cases are handed to: never their holder, so every allowed hand-over changes something.
const OTHER: &str = "col.ion";

fn facts(env: &Env, case: Case) -> CaseFacts {
    let now = env.case_now(case);
    CaseFacts {
        consulate: now.consulate,
        sensitivity: now.sensitivity,
        assignee: now.assignee,
    }
}

/// The fields that make `action` succeed on a P3, new, unlinked case.
fn form(
    action: CaseAction,
    sensitivity: Sensitivity,
    anchor: &str,
    merge: &str,
) -> Vec<(String, String)> {
    let pairs: Vec<(&str, &str)> = match action {
        CaseAction::Claim => vec![],
        CaseAction::Assign => vec![("assignee", OTHER)],
        CaseAction::ChangeType => vec![("case_type", "D1"), ("reason", "reclassified")],
        CaseAction::ChangePriority => vec![("priority", "p2"), ("reason", "sooner")],
        CaseAction::ChangeSensitivity => vec![
            (
                "sensitivity",
                if sensitivity == Sensitivity::Sensitive {
                    "restricted"
                } else {
                    "sensitive"
                },
            ),
            ("reason", "reviewed"),
        ],
        CaseAction::ChangeStatus => vec![("status", "in_progress")],
        CaseAction::Reply | CaseAction::Note | CaseAction::RequestDocuments => {
            vec![("body", "Text.")]
        }
        CaseAction::Refer => vec![("referral_body", "Prefectura"), ("due_days", "7")],
        CaseAction::Link => vec![("other", anchor), ("link_kind", "related")],
        CaseAction::Merge => vec![("other", anchor), ("reason", "the same request")],
        CaseAction::Unmerge => vec![("merge_id", merge), ("reason", "not the same")],
        CaseAction::Close => vec![("outcome", "assisted")],
        CaseAction::Read => vec![],
    };
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// One signed-in staff member and the case their links and merges point at.
struct Agent {
    session: Session,
    staff: Staff,
    anchor: String,
}

/// A fresh case with these facts (and, for an un-merge, a twin merged into it).
struct Setup {
    case: Case,
    merge: String,
    twin: Option<CaseFacts>,
}

fn set_up(
    env: &Env,
    consulate: &str,
    sensitivity: Sensitivity,
    holder: Option<&AgentId>,
    merged: bool,
) -> Setup {
    let new = |text| {
        let case = env.case_with(consulate, sensitivity, Priority::P3, text);
        if let Some(a) = holder {
            env.store
                .assign(case.id, Some(a), &Actor::System, Expect::Any)
                .unwrap();
        }
        case
    };
    let case = new("Cerere.");
    if !merged {
        return Setup {
            case,
            merge: String::new(),
            twin: None,
        };
    }
    let twin = new("Twin.");
    let id = env
        .store
        .merge(
            twin.id,
            case.id,
            &Actor::System,
            &Note::new("set-up").unwrap(),
            Expect::Any,
            Expect::Any,
        )
        .unwrap();
    Setup {
        case,
        merge: id.get().to_string(),
        twin: Some(facts(env, twin)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_consulate_sensitivity_holder_and_action_over_http() {
    let env = Env::start().await;
    let policy = Policy::new(ConsulateId::new(CENTRAL).unwrap());
    let now = Timestamp::from_unix_ms(i64::try_from(unix_now()).unwrap() * 1000);
    env.account(COLLEAGUE, StaffRole::Officer, PARIS);
    env.account(OTHER, StaffRole::Officer, PARIS);
    let (mut checked, mut allowed) = (0, 0);
    let mut wrong = Vec::new();
    for (n, (role, home)) in ROLES.into_iter().enumerate() {
        let me = format!("agent{n}");
        let account = env.account(&me, role, home);
        let route = if home == CENTRAL {
            Route::Central
        } else {
            Route::paris()
        };
        // A case every role that may link or merge can read: the target of those actions.
        let anchor_at = if home == CENTRAL { BERLIN } else { PARIS };
        let agent = Agent {
            session: env.login(&account, &route).await,
            staff: Staff {
                id: AgentId::new(&me).unwrap(),
                role,
                consulate: ConsulateId::new(home).unwrap(),
            },
            anchor: env
                .case_with(anchor_at, Sensitivity::Normal, Priority::P3, "Anchor.")
                .number
                .to_string(),
        };
        let decide = |facts: &CaseFacts, action| {
            policy
                .decide(&agent.staff, facts, action, None, now)
                .is_allowed()
        };
        for consulate in [PARIS, BERLIN] {
            for sensitivity in Sensitivity::ALL.iter().copied() {
                for holder in [None, Some(me.as_str()), Some(COLLEAGUE)] {
                    let holder = holder.map(|h| AgentId::new(h).unwrap());
                    for (action, path) in ACTIONS {
                        let setup = set_up(
                            &env,
                            consulate,
                            sensitivity,
                            holder.as_ref(),
                            action == CaseAction::Unmerge,
                        );
                        let facts_now = facts(&env, setup.case);
                        // The case on the page is asked first; then the other case of a
                        // merge, where one the agent may not read is as missing.
                        let readable = decide(&facts_now, CaseAction::Read);
                        let want = if !readable {
                            404
                        } else if !decide(&facts_now, action) {
                            403
                        } else {
                            match &setup.twin {
                                Some(t) if !decide(t, CaseAction::Read) => 404,
                                Some(t) if !decide(t, action) => 403,
                                _ => 303,
                            }
                        };
                        let (read, got) =
                            attempt(&env, &agent, &setup, sensitivity, action, path).await;
                        let read_ok = if readable {
                            read.status == 200
                        } else {
                            read.status == 404
                                && read.body == missing_page(&agent, setup.case).await
                        };
                        checked += 1;
                        allowed += usize::from(want == 303);
                        if got != want || !read_ok {
                            wrong.push(format!(
                                "{role:?} of {home} on a {sensitivity:?} {consulate} case held by \
                                 {holder:?}: {path} answered {got} (read {}), the policy says {want}",
                                read.status
                            ));
                        }
                    }
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {checked} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    // Both sides of the matrix are exercised.
    assert_eq!(checked, 5 * 2 * 3 * 3 * 14);
    assert!(
        allowed > 100 && allowed < checked - 100,
        "{allowed} of {checked} allowed"
    );
}

/// The 404 page of a case number nobody has.
async fn missing_page(agent: &Agent, case: Case) -> String {
    let path = format!("/cases/CSC-{:04}-9999999", case.number.year());
    agent.session.get(&path).await.body
}

/// Opens the case page, then posts the action's form; the page and the post's status.
async fn attempt(
    env: &Env,
    agent: &Agent,
    setup: &Setup,
    sensitivity: Sensitivity,
    action: CaseAction,
    path: &str,
) -> (support::http::Response, u16) {
    let case = setup.case;
    let page = agent.session.get(&case.url()).await;
    let mut fields = vec![("version".to_owned(), env.case_now(case).version.to_string())];
    fields.extend(form(action, sensitivity, &agent.anchor, &setup.merge));
    let fields: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let got = agent
        .session
        .post(&format!("{}/{path}", case.url()), &fields)
        .await;
    (page, got.status.as_u16())
}
