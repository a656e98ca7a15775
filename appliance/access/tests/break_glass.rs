#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Break-glass requests: who, for which case, with what reason, for how long; and a grant's
//! life from the moment it is made to the moment it runs out.

use std::time::Duration;

use access::{
    CaseAction, CaseFacts, DEFAULT_BREAK_GLASS, Decision, DenyReason, GrantFacts, MAX_BREAK_GLASS,
    Policy, Staff, grant_expiry,
};
use casestore::{AgentId, ConsulateId, Sensitivity, StaffRole, Timestamp};

const REASON: &str = "Detainee's family called the Paris section after hours";

fn id(s: &str) -> ConsulateId {
    ConsulateId::new(s).unwrap()
}

fn policy() -> Policy {
    Policy::new(id("ro-ccscrs"))
}

fn paris(role: StaffRole) -> Staff {
    Staff {
        id: AgentId::new("consul.paris").unwrap(),
        role,
        consulate: id("ro-emb-paris"),
    }
}

fn case(consulate: &str, sensitivity: Sensitivity) -> CaseFacts {
    CaseFacts {
        consulate: id(consulate),
        sensitivity,
        assignee: None,
    }
}

fn berlin_restricted() -> CaseFacts {
    case("ro-emb-berlin", Sensitivity::Restricted)
}

#[test]
fn a_consul_may_break_glass_into_another_consulates_case() {
    let consul = paris(StaffRole::Consul);
    let p = policy();
    assert_eq!(
        p.may_break_glass(&consul, &berlin_restricted(), REASON, DEFAULT_BREAK_GLASS),
        Ok(())
    );
    // A case of the central centre is outside a mission consul's reach too.
    assert_eq!(
        p.may_break_glass(
            &consul,
            &case("ro-ccscrs", Sensitivity::Normal),
            REASON,
            MAX_BREAK_GLASS
        ),
        Ok(())
    );
}

#[test]
fn only_a_consul_may_break_glass() {
    for role in [
        StaffRole::Operator,
        StaffRole::Officer,
        StaffRole::Supervisor,
        StaffRole::Administrator,
    ] {
        assert_eq!(
            policy().may_break_glass(
                &paris(role),
                &berlin_restricted(),
                REASON,
                DEFAULT_BREAK_GLASS
            ),
            Err(DenyReason::Role),
            "{role}"
        );
    }
}

#[test]
fn break_glass_into_a_case_already_in_reach_is_refused() {
    let consul = paris(StaffRole::Consul);
    let own = case("ro-emb-paris", Sensitivity::Restricted);
    assert_eq!(
        policy().may_break_glass(&consul, &own, REASON, DEFAULT_BREAK_GLASS),
        Err(DenyReason::NotNeeded)
    );
    // A Berlin case assigned to the consul is already readable.
    let mut assigned = berlin_restricted();
    assigned.assignee = Some(consul.id.clone());
    assert_eq!(
        policy().may_break_glass(&consul, &assigned, REASON, DEFAULT_BREAK_GLASS),
        Err(DenyReason::NotNeeded)
    );
}

#[test]
fn the_reason_needs_ten_characters_after_trimming() {
    let consul = paris(StaffRole::Consul);
    let try_reason = |reason: &str| {
        policy().may_break_glass(&consul, &berlin_restricted(), reason, DEFAULT_BREAK_GLASS)
    };
    assert_eq!(try_reason(""), Err(DenyReason::ReasonTooShort));
    assert_eq!(try_reason("urgent"), Err(DenyReason::ReasonTooShort));
    // Padding does not count.
    assert_eq!(
        try_reason("   123456789   \n"),
        Err(DenyReason::ReasonTooShort)
    );
    assert_eq!(try_reason("  1234567890  "), Ok(()));
    // Characters, not bytes: nine Romanian letters are 18 bytes and still too short.
    assert_eq!(try_reason("ăîșțâăîșț"), Err(DenyReason::ReasonTooShort));
    assert_eq!(try_reason("ăîșțâăîșțâ"), Ok(()));
    assert_eq!(try_reason(&"a".repeat(1000)), Ok(()));
    assert_eq!(
        try_reason(&"a".repeat(1001)),
        Err(DenyReason::ReasonTooLong)
    );
}

#[test]
fn a_grant_lasts_at_most_four_hours() {
    let consul = paris(StaffRole::Consul);
    let try_for = |d| policy().may_break_glass(&consul, &berlin_restricted(), REASON, d);
    assert_eq!(MAX_BREAK_GLASS, Duration::from_secs(4 * 3600));
    assert_eq!(DEFAULT_BREAK_GLASS, Duration::from_secs(3600));
    assert_eq!(try_for(MAX_BREAK_GLASS), Ok(()));
    assert_eq!(
        try_for(MAX_BREAK_GLASS + Duration::from_millis(1)),
        Err(DenyReason::TooLong)
    );
    assert_eq!(
        try_for(Duration::from_secs(24 * 3600)),
        Err(DenyReason::TooLong)
    );
    assert_eq!(try_for(Duration::ZERO), Err(DenyReason::NoDuration));
}

#[test]
fn a_grant_opens_the_case_for_its_duration_and_no_longer() {
    let p = policy();
    let consul = paris(StaffRole::Consul);
    let target = berlin_restricted();
    let made = Timestamp::from_unix_ms(1_750_000_000_000);
    let grant = GrantFacts {
        expires_at: grant_expiry(made, DEFAULT_BREAK_GLASS),
    };
    assert_eq!(grant.expires_at.unix_ms() - made.unix_ms(), 3_600_000);

    let read_at = |now: Timestamp| p.decide(&consul, &target, CaseAction::Read, Some(&grant), now);
    let through_glass = Decision::Allow {
        audit: true,
        via_break_glass: true,
    };
    // Without the grant the case is out of reach.
    assert_eq!(
        p.decide(&consul, &target, CaseAction::Read, None, made),
        Decision::Deny(DenyReason::OutsideConsulate)
    );
    assert_eq!(read_at(made), through_glass);
    assert_eq!(read_at(grant.expires_at.plus_ms(-1)), through_glass);
    assert_eq!(
        read_at(grant.expires_at),
        Decision::Deny(DenyReason::GrantExpired)
    );

    // While it lasts: notes yes, taking the case over no.
    let during = made.plus_ms(60_000);
    let act = |a| p.decide(&consul, &target, a, Some(&grant), during);
    assert_eq!(act(CaseAction::Note), through_glass);
    assert_eq!(
        act(CaseAction::Claim),
        Decision::Deny(DenyReason::NotThroughBreakGlass)
    );
    assert_eq!(
        act(CaseAction::ChangeSensitivity),
        Decision::Deny(DenyReason::NotThroughBreakGlass)
    );
}

#[test]
fn a_grant_changes_nothing_for_a_case_in_reach_or_for_other_roles() {
    let p = policy();
    let now = Timestamp::from_unix_ms(1_750_000_000_000);
    let grant = GrantFacts {
        expires_at: now.plus_ms(3_600_000),
    };
    // In reach: the ordinary decision, not marked as break-glass.
    let own = case("ro-emb-paris", Sensitivity::Normal);
    let consul = paris(StaffRole::Consul);
    assert_eq!(
        p.decide(&consul, &own, CaseAction::Read, Some(&grant), now),
        Decision::Allow {
            audit: false,
            via_break_glass: false
        }
    );
    // An officer holding a grant (which should never happen) gets nothing from it.
    let officer = paris(StaffRole::Officer);
    assert_eq!(
        p.decide(
            &officer,
            &berlin_restricted(),
            CaseAction::Read,
            Some(&grant),
            now
        ),
        Decision::Deny(DenyReason::OutsideConsulate)
    );
}
