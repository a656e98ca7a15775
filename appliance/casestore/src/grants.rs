//! Break-glass grants: a staff member's time-limited access to one case outside their reach,
//! with the reason they gave.
//!
//! The store keeps the grants; whether one may be made (who, how long, how good a reason) is
//! the `access` crate's decision, and the audit entry is the console's. Grants are never
//! deleted, only revoked, so supervisors can always see who broke the glass, on what, why and
//! until when.

use rusqlite::{OptionalExtension as _, Row, params};

use crate::error::{DbError, DbResult as _, InvalidValue, ReadError, WriteError};
use crate::model::{AgentId, CaseId, CaseNumber, GrantId, Note, Timestamp};
use crate::read::decode;
use crate::store::Store;

/// A break-glass grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub id: GrantId,
    /// Who broke the glass.
    pub staff: AgentId,
    /// On what.
    pub case: CaseId,
    pub case_no: CaseNumber,
    /// Why, in their words.
    pub reason: Note,
    pub granted_at: Timestamp,
    /// Until when, unless revoked earlier.
    pub expires_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

impl Grant {
    /// Whether the grant opens the case at `now`.
    pub fn is_active(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.granted_at <= now && now < self.expires_at
    }
}

/// Why a grant could not be made or revoked. A failed change left nothing behind.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    #[error("no staff account {0}")]
    NoSuchStaff(AgentId),
    #[error("the account {0} is disabled")]
    StaffDisabled(AgentId),
    #[error("no case {0}")]
    NoSuchCase(CaseId),
    #[error("no break-glass grant {0}")]
    NoSuchGrant(GrantId),
    #[error("break-glass grant {0} was already revoked")]
    AlreadyRevoked(GrantId),
    /// Bad input (e.g. an expiry not after the grant), or the database.
    #[error(transparent)]
    Write(#[from] WriteError),
}

impl From<DbError> for GrantError {
    fn from(error: DbError) -> Self {
        Self::Write(error.into())
    }
}

impl From<ReadError> for GrantError {
    fn from(error: ReadError) -> Self {
        Self::Write(error.into())
    }
}

/// The columns [`grant_row`] reads; `g` is `break_glass`, `c` is `cases`.
const GRANT_COLUMNS: &str = "g.id, g.staff, g.case_id, c.year, c.seq, g.reason, g.granted_at, \
     g.expires_at, g.revoked_at";

fn grant_row(r: &Row<'_>) -> Result<Grant, ReadError> {
    let case = CaseId::from_raw(r.get(2).db()?);
    Ok(Grant {
        id: GrantId::from_raw(r.get(0).db()?),
        staff: decode::text(r.get(1).db()?, AgentId::new)?,
        case,
        case_no: CaseNumber::new(r.get(3).db()?, r.get(4).db()?)
            .map_err(|e| ReadError::Corrupt(format!("case {case}: {e}")))?,
        reason: decode::text(r.get(5).db()?, Note::new)?,
        granted_at: decode::time(r.get(6).db()?),
        expires_at: decode::time(r.get(7).db()?),
        revoked_at: decode::opt_time(r.get(8).db()?),
    })
}

impl Store {
    /// Records that `staff` broke the glass on `case` at `now`, giving `reason`, until
    /// `expires_at`. The account must exist and be enabled, the case must exist, and the
    /// grant must end after it starts.
    pub fn grant_break_glass(
        &self,
        staff: &AgentId,
        case: CaseId,
        reason: &Note,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<GrantId, GrantError> {
        if expires_at <= now {
            return Err(WriteError::from(InvalidValue {
                what: "break-glass grant",
                reason: "expires before it starts",
            })
            .into());
        }
        self.write(|tx| {
            let disabled: Option<i64> = tx
                .sql
                .prepare_cached("SELECT disabled FROM staff WHERE id = ?1")
                .db()?
                .query_row([staff.as_str()], |r| r.get(0))
                .optional()
                .db()?;
            match disabled {
                None => return Err(GrantError::NoSuchStaff(staff.clone())),
                Some(0) => {}
                Some(_) => return Err(GrantError::StaffDisabled(staff.clone())),
            }
            let exists = tx
                .sql
                .prepare_cached("SELECT 1 FROM cases WHERE id = ?1")
                .db()?
                .exists([case.get()])
                .db()?;
            if !exists {
                return Err(GrantError::NoSuchCase(case));
            }
            tx.sql
                .prepare_cached(
                    "INSERT INTO break_glass (staff, case_id, reason, granted_at, expires_at)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .db()?
                .execute(params![
                    staff.as_str(),
                    case.get(),
                    reason.as_str(),
                    now.unix_ms(),
                    expires_at.unix_ms()
                ])
                .db()?;
            Ok(GrantId::from_raw(tx.sql.last_insert_rowid()))
        })
    }

    /// The grant that opens `case` to `staff` at `now`, if any; of several, the one that lasts
    /// longest.
    pub fn active_grant(
        &self,
        staff: &AgentId,
        case: CaseId,
        now: Timestamp,
    ) -> Result<Option<Grant>, ReadError> {
        self.read(|conn| {
            let sql = format!(
                "SELECT {GRANT_COLUMNS} FROM break_glass g JOIN cases c ON c.id = g.case_id
                 WHERE g.staff = ?1 AND g.case_id = ?2 AND g.expires_at > ?3
                   AND g.granted_at <= ?3 AND g.revoked_at IS NULL
                 ORDER BY g.expires_at DESC, g.id DESC LIMIT 1"
            );
            let mut stmt = conn.prepare_cached(&sql).db()?;
            let mut rows = stmt
                .query(params![staff.as_str(), case.get(), now.unix_ms()])
                .db()?;
            rows.next().db()?.map(grant_row).transpose()
        })
    }

    /// Every grant made at or after `since`, newest first: the supervisors' review.
    pub fn grants_since(&self, since: Timestamp) -> Result<Vec<Grant>, ReadError> {
        self.read(|conn| {
            let sql = format!(
                "SELECT {GRANT_COLUMNS} FROM break_glass g JOIN cases c ON c.id = g.case_id
                 WHERE g.granted_at >= ?1 ORDER BY g.granted_at DESC, g.id DESC"
            );
            let mut stmt = conn.prepare_cached(&sql).db()?;
            let mut rows = stmt.query([since.unix_ms()]).db()?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().db()? {
                out.push(grant_row(row)?);
            }
            Ok(out)
        })
    }

    /// Ends grant `id` at `now`, before it would expire. The grant stays in the record.
    pub fn revoke_grant(&self, id: GrantId, now: Timestamp) -> Result<(), GrantError> {
        self.write(|tx| {
            let revoked: Option<Option<i64>> = tx
                .sql
                .prepare_cached("SELECT revoked_at FROM break_glass WHERE id = ?1")
                .db()?
                .query_row([id.get()], |r| r.get(0))
                .optional()
                .db()?;
            match revoked {
                None => return Err(GrantError::NoSuchGrant(id)),
                Some(Some(_)) => return Err(GrantError::AlreadyRevoked(id)),
                Some(None) => {}
            }
            tx.sql
                .prepare_cached("UPDATE break_glass SET revoked_at = ?2 WHERE id = ?1")
                .db()?
                .execute(params![id.get(), now.unix_ms()])
                .db()?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests;
