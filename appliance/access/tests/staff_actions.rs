#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Console-wide actions and the dashboard's scope, against the table in the issue.

use access::{Policy, Staff, StaffAction};
use casestore::{AgentId, ConsulateId, StaffRole};

fn id(s: &str) -> ConsulateId {
    ConsulateId::new(s).unwrap()
}

fn staff(role: StaffRole) -> Staff {
    Staff {
        id: AgentId::new("someone").unwrap(),
        role,
        consulate: id("ro-emb-paris"),
    }
}

/// The table, written out row by row: Operator, Officer, Consul, Supervisor,
/// Administrator.
fn expected(action: StaffAction) -> [bool; 5] {
    match action {
        StaffAction::ViewQueues => [true, true, true, true, false],
        StaffAction::ViewDashboard => [false, false, true, true, false],
        StaffAction::ExportCsv => [false, false, true, true, false],
        StaffAction::ViewBreakGlassLog => [false, false, true, true, false],
        StaffAction::ManageStaff => [false, false, false, false, true],
        StaffAction::EditKnowledge => [false, false, true, true, true],
        StaffAction::ReadKnowledge => [true, true, true, true, true],
        StaffAction::BreakGlass => [false, false, true, false, false],
        StaffAction::UsePhone => [true, true, true, true, false],
        StaffAction::SuperviseCalls => [false, false, true, true, false],
    }
}

const ROLES: [StaffRole; 5] = [
    StaffRole::Operator,
    StaffRole::Officer,
    StaffRole::Consul,
    StaffRole::Supervisor,
    StaffRole::Administrator,
];

#[test]
fn every_role_and_console_action_agrees_with_the_table() {
    let policy = Policy::new(id("ro-ccscrs"));
    let mut checked = 0;
    for &action in StaffAction::ALL {
        for (role, want) in ROLES.into_iter().zip(expected(action)) {
            assert_eq!(policy.may(&staff(role), action), want, "{role} {action}");
            checked += 1;
        }
    }
    assert_eq!(checked, 10 * 5);
}

#[test]
fn the_dashboard_covers_the_consuls_consulate_or_everything_for_a_supervisor() {
    let policy = Policy::new(id("ro-ccscrs"));
    assert_eq!(
        policy.dashboard_scope(&staff(StaffRole::Consul)),
        Some(Some(id("ro-emb-paris")))
    );
    assert_eq!(
        policy.dashboard_scope(&staff(StaffRole::Supervisor)),
        Some(None)
    );
    for role in ROLES {
        assert_eq!(
            policy.dashboard_scope(&staff(role)).is_some(),
            policy.may(&staff(role), StaffAction::ViewDashboard),
            "{role}"
        );
        // The phone queues' supervision is narrowed by the same scope.
        assert_eq!(
            policy.dashboard_scope(&staff(role)).is_some(),
            policy.may(&staff(role), StaffAction::SuperviseCalls),
            "{role}"
        );
    }
}
