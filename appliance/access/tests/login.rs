#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Login paths: an account comes in through its own mission's appliances or the central
//! network, and a session is bound to the path's key.

use access::{AccessPath, LoginDenied, Policy, Staff};
use casestore::{AgentId, ConsulateId, StaffRole};

const CENTRAL: &str = "ro-ccscrs";

fn policy() -> Policy {
    Policy::new(ConsulateId::new(CENTRAL).unwrap())
}

fn account(role: StaffRole, consulate: &str) -> Staff {
    Staff {
        id: AgentId::new("someone").unwrap(),
        role,
        consulate: ConsulateId::new(consulate).unwrap(),
    }
}

fn appliance(mission: &str, name: &str) -> AccessPath {
    AccessPath::Appliance {
        mission: mission.to_owned(),
        appliance: name.to_owned(),
    }
}

#[test]
fn a_paris_account_logs_in_through_paris_or_the_centre_only() {
    let p = policy();
    let officer = account(StaffRole::Officer, "ro-emb-paris");
    assert_eq!(
        p.may_log_in(&officer, &appliance("ro-emb-paris", "PAR-01")),
        Ok(())
    );
    assert_eq!(p.may_log_in(&officer, &AccessPath::Central), Ok(()));
    let berlin = appliance("ro-emb-berlin", "BER-01");
    let refused = p.may_log_in(&officer, &berlin);
    assert_eq!(
        refused,
        Err(LoginDenied::OtherMission {
            consulate: "ro-emb-paris".to_owned(),
            path: berlin,
        })
    );
    assert_eq!(
        refused.unwrap_err().to_string(),
        "an account of ro-emb-paris may not log in through appliance BER-01 of mission ro-emb-berlin"
    );
}

#[test]
fn mission_ids_are_compared_exactly() {
    let officer = account(StaffRole::Consul, "ro-emb-paris");
    for mission in ["RO-EMB-PARIS", "ro-emb-paris ", "ro-emb-pari", ""] {
        assert!(
            policy()
                .may_log_in(&officer, &appliance(mission, "PAR-01"))
                .is_err(),
            "{mission:?}"
        );
    }
}

#[test]
fn central_staff_log_in_only_through_the_central_network() {
    let p = policy();
    for role in StaffRole::ALL.iter().copied() {
        let staff = account(role, CENTRAL);
        assert_eq!(p.may_log_in(&staff, &AccessPath::Central), Ok(()), "{role}");
        for path in [
            appliance("ro-emb-paris", "PAR-01"),
            // An appliance claiming the centre's own id does not make it the central network.
            appliance(CENTRAL, "HQ-01"),
        ] {
            assert_eq!(
                p.may_log_in(&staff, &path),
                Err(LoginDenied::CentralOnly { path: path.clone() }),
                "{role} through {path}"
            );
        }
    }
}

#[test]
fn a_path_has_a_stable_key_and_a_readable_name() {
    let paris = appliance("ro-emb-paris", "PAR-01");
    assert_eq!(AccessPath::Central.key(), "central");
    assert_eq!(paris.key(), "appliance:ro-emb-paris/PAR-01");
    assert_eq!(AccessPath::Central.to_string(), "the central network");
    assert_eq!(
        paris.to_string(),
        "appliance PAR-01 of mission ro-emb-paris"
    );

    for path in [
        AccessPath::Central,
        paris.clone(),
        appliance("ro-emb-paris", "PAR-02"),
    ] {
        assert_eq!(AccessPath::from_key(&path.key()), Some(path));
    }
    // Two appliances of one mission are two paths: a session from one is not valid on the other.
    assert_ne!(paris.key(), appliance("ro-emb-paris", "PAR-02").key());
    for junk in [
        "",
        "Central",
        "appliance:",
        "appliance:ro-emb-paris",
        "appliance:/PAR-01",
        "appliance:ro-emb-paris/",
    ] {
        assert_eq!(AccessPath::from_key(junk), None, "{junk:?}");
    }
}
