//! The tables: what each role reaches without break-glass, and what each case action needs
//! beyond reaching the case. Every case decision and every queue scope reads these two
//! functions, so a rule is changed here or nowhere.

use casestore::{ConsulateId, Sensitivity, StaffRole};

use crate::CaseAction;

/// Which consulates' cases a role reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tenancy {
    /// None at all.
    Nothing,
    /// Those of the staff member's own consulate.
    Own,
    /// Every consulate's.
    All,
}

/// What a role may read without break-glass: the cases of `tenancy` whose sensitivity is one of
/// `sensitivities`, plus, when `assigned` is true, every case assigned to the staff member.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reach {
    pub(crate) tenancy: Tenancy,
    pub(crate) sensitivities: &'static [Sensitivity],
    pub(crate) assigned: bool,
}

const NONE: &[Sensitivity] = &[];
const NORMAL: &[Sensitivity] = &[Sensitivity::Normal];
const UP_TO_SENSITIVE: &[Sensitivity] = &[Sensitivity::Normal, Sensitivity::Sensitive];
const EVERY: &[Sensitivity] = &[
    Sensitivity::Normal,
    Sensitivity::Sensitive,
    Sensitivity::Restricted,
];

/// The reach table (see the crate docs).
pub(crate) fn reach(role: StaffRole) -> Reach {
    let reach = |tenancy, sensitivities, assigned| Reach {
        tenancy,
        sensitivities,
        assigned,
    };
    match role {
        StaffRole::Operator => reach(Tenancy::All, NORMAL, true),
        StaffRole::Officer => reach(Tenancy::Own, UP_TO_SENSITIVE, true),
        StaffRole::Consul => reach(Tenancy::Own, EVERY, true),
        StaffRole::Supervisor => reach(Tenancy::All, UP_TO_SENSITIVE, true),
        StaffRole::Administrator => reach(Tenancy::Nothing, NONE, false),
    }
}

/// What a role needs, beyond reaching the case, to take an action on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Needs {
    /// Reaching the case is enough.
    Reach,
    /// The case must also belong to the staff member's own consulate.
    OwnConsulate,
    /// The case must also be unassigned.
    Unassigned,
    /// The role never takes this action.
    Never,
}

/// The action table (see the crate docs).
pub(crate) fn needs(action: CaseAction, role: StaffRole) -> Needs {
    use CaseAction as A;
    use StaffRole as R;
    match action {
        // Taking a colleague's case is a reassignment (Assign), for those who dispatch work.
        A::Claim => Needs::Unassigned,
        A::Read
        | A::Reply
        | A::Note
        | A::RequestDocuments
        | A::Refer
        | A::Link
        | A::ChangeStatus
        | A::Close
        | A::ChangeType
        | A::ChangePriority => Needs::Reach,
        A::Assign => match role {
            R::Supervisor => Needs::Reach,
            R::Consul => Needs::OwnConsulate,
            // First-line dispatch: the centre hands out new work but does not take it away.
            R::Operator => Needs::Unassigned,
            R::Officer | R::Administrator => Needs::Never,
        },
        A::ChangeSensitivity => match role {
            R::Consul | R::Supervisor => Needs::Reach,
            R::Operator | R::Officer | R::Administrator => Needs::Never,
        },
        A::Merge | A::Unmerge => match role {
            R::Officer | R::Consul | R::Supervisor => Needs::Reach,
            R::Operator | R::Administrator => Needs::Never,
        },
    }
}

/// What a staff member's queues, pages and counts may show, so that no list ever shows a case
/// [`crate::Policy::decide`] would refuse to open.
///
/// The "assigned to me" queue shows every case assigned to the staff member: assignment alone
/// makes a case readable. Every other queue shows exactly the cases [`QueueScope::admits`],
/// whoever holds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueScope {
    /// The consulate whose cases are visible; `None` means every consulate.
    pub consulate: Option<ConsulateId>,
    /// The sensitivities visible in every queue, least sensitive first.
    pub sensitivities: Vec<Sensitivity>,
}

impl QueueScope {
    /// Whether a case of `consulate` with `sensitivity` belongs in a queue other than "assigned
    /// to me".
    pub fn admits(&self, consulate: &ConsulateId, sensitivity: Sensitivity) -> bool {
        self.consulate.as_ref().is_none_or(|c| c == consulate)
            && self.sensitivities.contains(&sensitivity)
    }
}
