//! Break-glass: a consul's time-limited, reasoned, audited access to a case outside their
//! reach. This module says whether a grant may be made; [`crate::Policy::decide`] says what an
//! active grant allows.

use std::time::Duration;

use casestore::{StaffRole, Timestamp};

use crate::{CaseFacts, DenyReason, Policy, Staff};

/// The longest a grant may last.
pub const MAX_BREAK_GLASS: Duration = Duration::from_secs(4 * 60 * 60);

/// The duration the console offers unless the consul asks for another.
pub const DEFAULT_BREAK_GLASS: Duration = Duration::from_secs(60 * 60);

/// The shortest reason accepted, in characters after trimming: long enough that "x" or "urgent"
/// is refused and a supervisor reading the log learns something.
pub const MIN_REASON_CHARS: usize = 10;

/// The longest reason accepted, in characters, so the audit log stays bounded.
pub const MAX_REASON_CHARS: usize = 1000;

impl Policy {
    /// Whether `staff` may open a break-glass grant on `case` for `duration`, giving `reason`.
    ///
    /// Checked in this order, the first failure named: the role (consuls only), the need (the
    /// case must be outside their reach), the reason, the duration.
    pub fn may_break_glass(
        &self,
        staff: &Staff,
        case: &CaseFacts,
        reason: &str,
        duration: Duration,
    ) -> Result<(), DenyReason> {
        if staff.role != StaffRole::Consul {
            return Err(DenyReason::Role);
        }
        if self.reaches(staff, case).is_ok() {
            return Err(DenyReason::NotNeeded);
        }
        let chars = reason.trim().chars().count();
        if chars < MIN_REASON_CHARS {
            return Err(DenyReason::ReasonTooShort);
        }
        if chars > MAX_REASON_CHARS {
            return Err(DenyReason::ReasonTooLong);
        }
        if duration.is_zero() {
            return Err(DenyReason::NoDuration);
        }
        if duration > MAX_BREAK_GLASS {
            return Err(DenyReason::TooLong);
        }
        Ok(())
    }
}

/// When a grant made at `now` for `duration` expires (saturating; the duration is checked by
/// [`Policy::may_break_glass`] first).
pub fn grant_expiry(now: Timestamp, duration: Duration) -> Timestamp {
    let ms = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
    now.plus_ms(ms)
}
