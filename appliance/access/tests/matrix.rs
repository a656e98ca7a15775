#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The authorization matrix: every role × where the staff member sits × whose case it is ×
//! sensitivity × who holds it × every case action × break-glass grant state, checked against
//! `expected`, a second statement of the rules written plainly from the issue text and sharing
//! no code with the crate. Then the queue-scope property: a list never shows what `Read` refuses.

use access::{CaseAction, CaseFacts, Decision, DenyReason, GrantFacts, Policy, Staff};
use casestore::{AgentId, ConsulateId, Sensitivity, StaffRole, Timestamp};

const CENTRAL: &str = "ro-ccscrs";
const PARIS: &str = "ro-emb-paris";
const BERLIN: &str = "ro-emb-berlin";

const ROLES: [StaffRole; 5] = [
    StaffRole::Operator,
    StaffRole::Officer,
    StaffRole::Consul,
    StaffRole::Supervisor,
    StaffRole::Administrator,
];
const SENSITIVITIES: [Sensitivity; 3] = [
    Sensitivity::Normal,
    Sensitivity::Sensitive,
    Sensitivity::Restricted,
];
const ACTIONS: [CaseAction; 15] = [
    CaseAction::Read,
    CaseAction::Claim,
    CaseAction::Assign,
    CaseAction::ChangeType,
    CaseAction::ChangePriority,
    CaseAction::ChangeSensitivity,
    CaseAction::ChangeStatus,
    CaseAction::Reply,
    CaseAction::Note,
    CaseAction::RequestDocuments,
    CaseAction::Refer,
    CaseAction::Link,
    CaseAction::Merge,
    CaseAction::Unmerge,
    CaseAction::Close,
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Holder {
    Me,
    Colleague,
    Nobody,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Grant {
    None,
    Active,
    Expired,
    /// Expiring at exactly `now`: already expired.
    EndsNow,
}

fn id(s: &str) -> ConsulateId {
    ConsulateId::new(s).unwrap()
}

fn agent(s: &str) -> AgentId {
    AgentId::new(s).unwrap()
}

fn staff(role: StaffRole, home: &str) -> Staff {
    Staff {
        id: agent("me"),
        role,
        consulate: id(home),
    }
}

fn case(consulate: &str, sensitivity: Sensitivity, holder: Holder) -> CaseFacts {
    CaseFacts {
        consulate: id(consulate),
        sensitivity,
        assignee: match holder {
            Holder::Me => Some(agent("me")),
            Holder::Colleague => Some(agent("colleague")),
            Holder::Nobody => None,
        },
    }
}

const NOW: i64 = 1_750_000_000_000;

fn grant(g: Grant) -> Option<GrantFacts> {
    let at = |ms| {
        Some(GrantFacts {
            expires_at: Timestamp::from_unix_ms(ms),
        })
    };
    match g {
        Grant::None => None,
        Grant::Active => at(NOW + 3_600_000),
        Grant::Expired => at(NOW - 1),
        Grant::EndsNow => at(NOW),
    }
}

/// May the role read the case with no grant? The issue's rules, one role at a time.
fn expected_read(
    role: StaffRole,
    home: &str,
    owner: &str,
    s: Sensitivity,
    holder: Holder,
) -> Result<(), DenyReason> {
    let mine = holder == Holder::Me;
    match role {
        StaffRole::Administrator => Err(DenyReason::SeparationOfDuties),
        StaffRole::Operator => {
            if mine || s == Sensitivity::Normal {
                Ok(())
            } else {
                Err(DenyReason::Sensitivity)
            }
        }
        StaffRole::Officer => {
            if mine {
                Ok(())
            } else if owner != home {
                Err(DenyReason::OutsideConsulate)
            } else if s == Sensitivity::Restricted {
                Err(DenyReason::Sensitivity)
            } else {
                Ok(())
            }
        }
        StaffRole::Consul => {
            if mine || owner == home {
                Ok(())
            } else {
                Err(DenyReason::OutsideConsulate)
            }
        }
        StaffRole::Supervisor => {
            if mine || s != Sensitivity::Restricted {
                Ok(())
            } else {
                Err(DenyReason::Sensitivity)
            }
        }
    }
}

/// The whole expected decision.
#[allow(clippy::too_many_arguments)]
fn expected(
    role: StaffRole,
    home: &str,
    owner: &str,
    s: Sensitivity,
    holder: Holder,
    action: CaseAction,
    g: Grant,
) -> Decision {
    if let Err(why) = expected_read(role, home, owner, s, holder) {
        // Outside reach: only a consul's grant can help, and only for the gentle actions.
        if role != StaffRole::Consul || g == Grant::None {
            return Decision::Deny(why);
        }
        if g == Grant::Expired || g == Grant::EndsNow {
            return Decision::Deny(DenyReason::GrantExpired);
        }
        let gentle = action == CaseAction::Read
            || action == CaseAction::Note
            || action == CaseAction::Reply
            || action == CaseAction::RequestDocuments
            || action == CaseAction::Refer
            || action == CaseAction::Link;
        if !gentle {
            return Decision::Deny(DenyReason::NotThroughBreakGlass);
        }
        return Decision::Allow {
            audit: true,
            via_break_glass: true,
        };
    }
    let refused = match action {
        CaseAction::Claim if holder != Holder::Nobody => Some(DenyReason::AlreadyAssigned),
        CaseAction::Assign => match role {
            StaffRole::Supervisor => None,
            StaffRole::Consul if owner == home => None,
            StaffRole::Consul => Some(DenyReason::OutsideConsulate),
            StaffRole::Operator if holder == Holder::Nobody => None,
            StaffRole::Operator => Some(DenyReason::AlreadyAssigned),
            _ => Some(DenyReason::Role),
        },
        CaseAction::ChangeSensitivity => {
            if role == StaffRole::Consul || role == StaffRole::Supervisor {
                None
            } else {
                Some(DenyReason::Role)
            }
        }
        CaseAction::Merge | CaseAction::Unmerge => {
            if role == StaffRole::Operator {
                Some(DenyReason::Role)
            } else {
                None
            }
        }
        _ => None,
    };
    if let Some(why) = refused {
        return Decision::Deny(why);
    }
    let audit = action != CaseAction::Read || s == Sensitivity::Restricted;
    Decision::Allow {
        audit,
        via_break_glass: false,
    }
}

#[test]
fn every_combination_agrees_with_the_plain_rules() {
    assert_eq!(
        ACTIONS.len(),
        CaseAction::ALL.len(),
        "a new action is missing here"
    );
    let policy = Policy::new(id(CENTRAL));
    let now = Timestamp::from_unix_ms(NOW);
    let (mut checked, mut allowed, mut via_glass) = (0, 0, 0);
    let mut wrong = Vec::new();
    for role in ROLES {
        // A mission's staff (own = Paris, other = Berlin, central) and central staff
        // (own = central, other = Paris and Berlin).
        for home in [PARIS, CENTRAL] {
            for owner in [PARIS, BERLIN, CENTRAL] {
                for s in SENSITIVITIES {
                    for holder in [Holder::Me, Holder::Colleague, Holder::Nobody] {
                        for action in ACTIONS {
                            for g in [Grant::None, Grant::Active, Grant::Expired, Grant::EndsNow] {
                                let got = policy.decide(
                                    &staff(role, home),
                                    &case(owner, s, holder),
                                    action,
                                    grant(g).as_ref(),
                                    now,
                                );
                                let want = expected(role, home, owner, s, holder, action, g);
                                if got != want {
                                    wrong.push(format!(
                                        "{role} of {home}, case of {owner} {s} held by {holder:?}, \
                                         {action}, grant {g:?}: got {got:?}, want {want:?}"
                                    ));
                                }
                                checked += 1;
                                allowed += usize::from(got.is_allowed());
                                via_glass += usize::from(got.via_break_glass());
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert_eq!(checked, 5 * 2 * 3 * 3 * 3 * 15 * 4);
    eprintln!(
        "authorization matrix: {checked} combinations, {allowed} allowed, {via_glass} via break-glass"
    );
}

#[test]
fn lists_never_show_what_read_refuses() {
    let policy = Policy::new(id(CENTRAL));
    let now = Timestamp::from_unix_ms(NOW);
    let mut checked = 0;
    for role in ROLES {
        for home in [PARIS, CENTRAL] {
            let me = staff(role, home);
            let scope = policy.queue_scope(&me);
            for owner in [PARIS, BERLIN, CENTRAL] {
                for s in SENSITIVITIES {
                    for holder in [Holder::Me, Holder::Colleague, Holder::Nobody] {
                        let c = case(owner, s, holder);
                        let readable = policy
                            .decide(&me, &c, CaseAction::Read, None, now)
                            .is_allowed();
                        let in_shared_queue =
                            scope.as_ref().is_some_and(|q| q.admits(&c.consulate, s));
                        let in_my_queue = scope.is_some() && holder == Holder::Me;
                        assert_eq!(
                            in_shared_queue || in_my_queue,
                            readable,
                            "{role} of {home}, case of {owner} {s} held by {holder:?}"
                        );
                        checked += 1;
                    }
                }
            }
        }
    }
    assert_eq!(checked, 5 * 2 * 3 * 3 * 3);
}

#[test]
fn queue_scopes_follow_the_reach_table() {
    let policy = Policy::new(id(CENTRAL));
    let scope = |role, home| policy.queue_scope(&staff(role, home));
    use Sensitivity::{Normal, Restricted, Sensitive};

    let officer = scope(StaffRole::Officer, PARIS).unwrap();
    assert_eq!(officer.consulate, Some(id(PARIS)));
    assert_eq!(officer.sensitivities, [Normal, Sensitive]);

    let consul = scope(StaffRole::Consul, PARIS).unwrap();
    assert_eq!(consul.consulate, Some(id(PARIS)));
    assert_eq!(consul.sensitivities, [Normal, Sensitive, Restricted]);

    let operator = scope(StaffRole::Operator, CENTRAL).unwrap();
    assert_eq!(operator.consulate, None);
    assert_eq!(operator.sensitivities, [Normal]);

    let supervisor = scope(StaffRole::Supervisor, CENTRAL).unwrap();
    assert_eq!(supervisor.consulate, None);
    assert_eq!(supervisor.sensitivities, [Normal, Sensitive]);

    assert_eq!(scope(StaffRole::Administrator, CENTRAL), None);
}

#[test]
fn the_issue_examples_hold() {
    let policy = Policy::new(id(CENTRAL));
    let now = Timestamp::from_unix_ms(NOW);
    let read = |who: &Staff, c: &CaseFacts| policy.decide(who, c, CaseAction::Read, None, now);

    // An officer sees the cases of their consulate, not another's.
    let officer = staff(StaffRole::Officer, PARIS);
    assert!(
        read(
            &officer,
            &case(PARIS, Sensitivity::Sensitive, Holder::Nobody)
        )
        .is_allowed()
    );
    assert_eq!(
        read(&officer, &case(BERLIN, Sensitivity::Normal, Holder::Nobody)),
        Decision::Deny(DenyReason::OutsideConsulate)
    );
    // The 24/7 centre sees intake everywhere, restricted cases only when assigned, and such a
    // read is audited.
    let operator = staff(StaffRole::Operator, CENTRAL);
    assert!(
        read(
            &operator,
            &case(BERLIN, Sensitivity::Normal, Holder::Nobody)
        )
        .is_allowed()
    );
    assert!(
        !read(
            &operator,
            &case(BERLIN, Sensitivity::Restricted, Holder::Nobody)
        )
        .is_allowed()
    );
    assert_eq!(
        read(
            &operator,
            &case(BERLIN, Sensitivity::Restricted, Holder::Me)
        ),
        Decision::Allow {
            audit: true,
            via_break_glass: false
        }
    );
    // A plain read of a normal case is not audited; a note is.
    let normal = case(PARIS, Sensitivity::Normal, Holder::Nobody);
    assert!(!read(&officer, &normal).must_audit());
    assert!(
        policy
            .decide(&officer, &normal, CaseAction::Note, None, now)
            .must_audit()
    );
    // Administrators see nothing, even a case someone assigned to them.
    let admin = staff(StaffRole::Administrator, CENTRAL);
    assert_eq!(
        read(&admin, &case(CENTRAL, Sensitivity::Normal, Holder::Me)),
        Decision::Deny(DenyReason::SeparationOfDuties)
    );
}
