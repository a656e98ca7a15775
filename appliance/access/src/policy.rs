//! The policy: the tables of `reach.rs` applied to one staff member and one case.

use casestore::{AgentId, ConsulateId, Sensitivity, StaffRole, Timestamp};

use crate::reach::{Needs, Tenancy, needs, reach};
use crate::{CaseAction, Decision, DenyReason, QueueScope, StaffAction};

/// The staff member asking, as the session knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staff {
    pub id: AgentId,
    pub role: StaffRole,
    /// The consulate the account belongs to (the central centre's id for central staff).
    pub consulate: ConsulateId,
}

/// What the rules need to know about a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseFacts {
    /// The owning consulate.
    pub consulate: ConsulateId,
    pub sensitivity: Sensitivity,
    pub assignee: Option<AgentId>,
}

/// A break-glass grant the staff member holds for the case being decided. The caller looks it
/// up for exactly this staff member and this case; the policy checks only the time and the
/// role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrantFacts {
    pub expires_at: Timestamp,
}

impl GrantFacts {
    /// A grant is active strictly before its expiry.
    pub fn is_active(&self, now: Timestamp) -> bool {
        now < self.expires_at
    }
}

/// The attribute rules, for one deployment: the only thing that varies is which consulate id
/// is the central contact centre.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    central: ConsulateId,
}

impl Policy {
    /// `central` is the consulate id of the central contact centre (`ro-ccscrs` in the demo
    /// data).
    pub fn new(central: ConsulateId) -> Self {
        Self { central }
    }

    pub fn central(&self) -> &ConsulateId {
        &self.central
    }

    /// Whether the staff member belongs to the central contact centre.
    pub fn is_central(&self, staff: &Staff) -> bool {
        staff.consulate == self.central
    }

    /// Whether `staff` may take `action` on `case` at `now`, holding `grant` if any.
    ///
    /// A grant matters only for a consul and only for a case outside their reach; for a case
    /// within reach it is ignored and the decision is the ordinary one. Merge, unmerge and link
    /// involve two cases: the caller asks for each and proceeds only if both are allowed.
    pub fn decide(
        &self,
        staff: &Staff,
        case: &CaseFacts,
        action: CaseAction,
        grant: Option<&GrantFacts>,
        now: Timestamp,
    ) -> Decision {
        if let Err(out_of_reach) = self.reaches(staff, case) {
            return match grant {
                Some(grant) if staff.role == StaffRole::Consul => {
                    if !grant.is_active(now) {
                        Decision::Deny(DenyReason::GrantExpired)
                    } else if !action.allowed_through_break_glass() {
                        Decision::Deny(DenyReason::NotThroughBreakGlass)
                    } else {
                        Decision::Allow {
                            audit: true,
                            via_break_glass: true,
                        }
                    }
                }
                _ => Decision::Deny(out_of_reach),
            };
        }
        let refused = match needs(action, staff.role) {
            Needs::Reach => None,
            Needs::OwnConsulate => {
                (case.consulate != staff.consulate).then_some(DenyReason::OutsideConsulate)
            }
            Needs::Unassigned => case
                .assignee
                .is_some()
                .then_some(DenyReason::AlreadyAssigned),
            Needs::Never => Some(DenyReason::Role),
        };
        match refused {
            Some(reason) => Decision::Deny(reason),
            None => Decision::Allow {
                audit: action != CaseAction::Read || case.sensitivity == Sensitivity::Restricted,
                via_break_glass: false,
            },
        }
    }

    /// Whether `staff` reaches `case` without break-glass, and if not, why.
    pub fn reaches(&self, staff: &Staff, case: &CaseFacts) -> Result<(), DenyReason> {
        let reach = reach(staff.role);
        if reach.tenancy == Tenancy::Nothing {
            return Err(DenyReason::SeparationOfDuties);
        }
        if reach.assigned && case.assignee.as_ref() == Some(&staff.id) {
            return Ok(());
        }
        if reach.tenancy == Tenancy::Own && case.consulate != staff.consulate {
            return Err(DenyReason::OutsideConsulate);
        }
        if !reach.sensitivities.contains(&case.sensitivity) {
            return Err(DenyReason::Sensitivity);
        }
        Ok(())
    }

    /// Whether `staff` may take a console-wide action.
    pub fn may(&self, staff: &Staff, action: StaffAction) -> bool {
        use StaffAction as A;
        use StaffRole as R;
        let roles: &[StaffRole] = match action {
            A::ViewQueues => &[R::Operator, R::Officer, R::Consul, R::Supervisor],
            A::ViewDashboard | A::ExportCsv | A::ViewBreakGlassLog => &[R::Consul, R::Supervisor],
            A::ManageStaff => &[R::Administrator],
            A::EditKnowledge => &[R::Consul, R::Supervisor, R::Administrator],
            A::ReadKnowledge => R::ALL,
            A::BreakGlass => &[R::Consul],
            A::UsePhone => &[R::Operator, R::Officer, R::Consul, R::Supervisor],
            A::SuperviseCalls => &[R::Consul, R::Supervisor],
        };
        roles.contains(&staff.role)
    }

    /// What `staff`'s queues and counts may show, or `None` for a role that sees no queue.
    pub fn queue_scope(&self, staff: &Staff) -> Option<QueueScope> {
        let reach = reach(staff.role);
        let consulate = match reach.tenancy {
            Tenancy::Nothing => return None,
            Tenancy::Own => Some(staff.consulate.clone()),
            Tenancy::All => None,
        };
        Some(QueueScope {
            consulate,
            sensitivities: reach.sensitivities.to_vec(),
        })
    }

    /// Whose cases `staff`'s dashboard and CSV exports cover: `None` for no dashboard at all,
    /// `Some(None)` for every consulate, `Some(Some(c))` for consulate `c` only.
    ///
    /// This narrows by consulate only. Figures must still leave out the sensitivities the
    /// staff member's [`QueueScope`] does not list (a supervisor's restricted cases), since a
    /// case they may not read must not show even in a count.
    pub fn dashboard_scope(&self, staff: &Staff) -> Option<Option<ConsulateId>> {
        match staff.role {
            StaffRole::Supervisor => Some(None),
            StaffRole::Consul => Some(Some(staff.consulate.clone())),
            StaffRole::Operator | StaffRole::Officer | StaffRole::Administrator => None,
        }
    }
}
