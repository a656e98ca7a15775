//! The answer to "may this staff member do this?", and why not.

/// What [`crate::Policy::decide`] answers for one action on one case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead.
    Allow {
        /// The action must be written to the audit log before it is acknowledged: every change,
        /// every read of a restricted case, everything done through break-glass.
        audit: bool,
        /// The case is outside the staff member's reach and only an active break-glass grant
        /// lets them in; the audit entry must say so, and supervisors see it in the break-glass
        /// log.
        via_break_glass: bool,
    },
    /// Refused. When `Read` is refused, the console answers exactly as for a case that does not
    /// exist; the reason is for logs, never for the screen.
    Deny(DenyReason),
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow { .. })
    }

    /// Whether an allowed action must be audited (false for a refusal: what to record about
    /// refusals is the caller's choice).
    pub fn must_audit(&self) -> bool {
        matches!(self, Decision::Allow { audit: true, .. })
    }

    /// Whether the action was allowed only through a break-glass grant.
    pub fn via_break_glass(&self) -> bool {
        matches!(
            self,
            Decision::Allow {
                via_break_glass: true,
                ..
            }
        )
    }

    /// The reason for a refusal.
    pub fn deny_reason(&self) -> Option<DenyReason> {
        match self {
            Decision::Allow { .. } => None,
            Decision::Deny(reason) => Some(*reason),
        }
    }
}

/// Why an action on a case, or a break-glass request, was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum DenyReason {
    /// Administrators manage staff and the knowledge base and see no case at all.
    #[error("administrators have no access to cases (separation of duties)")]
    SeparationOfDuties,
    /// The case belongs to another consulate than the one the staff member's role covers.
    #[error("the case belongs to another consulate")]
    OutsideConsulate,
    /// The case's sensitivity is above what the role sees unless the case is assigned to them.
    #[error("the case's sensitivity is above what this role may see")]
    Sensitivity,
    /// The role may read the case but not take this action on it.
    #[error("this role may not take this action")]
    Role,
    /// An operator may assign only cases nobody holds yet (first-line dispatch).
    #[error("the case is already assigned; only a consul or a supervisor may reassign it")]
    AlreadyAssigned,
    /// The break-glass grant that opened this case has run out.
    #[error("the break-glass grant has expired")]
    GrantExpired,
    /// Break-glass lets a consul read, note, reply, request documents, refer and link; nothing
    /// else.
    #[error("break-glass access does not allow this action")]
    NotThroughBreakGlass,
    /// Break-glass is asked for a case the consul can already reach.
    #[error("the case is already within reach; break-glass is not needed")]
    NotNeeded,
    /// The break-glass reason is shorter than [`crate::MIN_REASON_CHARS`] once trimmed.
    #[error("the reason is too short: say why, in at least 10 characters")]
    ReasonTooShort,
    /// The break-glass reason is longer than [`crate::MAX_REASON_CHARS`].
    #[error("the reason is too long: at most 1000 characters")]
    ReasonTooLong,
    /// The break-glass duration is longer than [`crate::MAX_BREAK_GLASS`].
    #[error("break-glass access lasts at most 4 hours")]
    TooLong,
    /// The break-glass duration is zero.
    #[error("break-glass access needs a duration")]
    NoDuration,
}
