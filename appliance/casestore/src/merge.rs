//! Merging a duplicate case into another, and undoing it. Never automatic: an agent asks,
//! with a reason, and can take it back.
//!
//! A merge moves the source to status `merged` (which leaves every queue, its counters
//! following) and clears its assignee; the `merges` row remembers both, so the un-merge gives
//! them back and with them exactly the queue rows the case had (while merged, a case's status,
//! assignee, priority, type and sensitivity cannot change, see
//! [`WriteError::CaseMerged`]). The target's timeline shows the source's items while the merge
//! stands. An undone merge stays on record. Merges do not chain: a merged case cannot be merged
//! again nor receive merges, and a case that has others merged into it cannot be merged.

use rusqlite::{OptionalExtension as _, Row, params};
use serde_json::json;

use crate::error::{DbResult as _, MergeRefusal, ReadError, WriteError};
use crate::model::{
    Actor, AgentId, CaseId, EventKind, Expect, Merge, MergeId, Note, Status, Undone,
};
use crate::read::{decode, rows};
use crate::store::Store;

/// The columns [`merge_row`] reads.
pub(crate) const MERGE_COLUMNS: &str = "id, source, into_case, at, actor, reason, prior_status, \
     prior_assignee, undone_at, undone_by, undo_reason";

impl Store {
    /// Merges `source` into `into`; see the module documentation. `expect_source` and
    /// `expect_into` are the versions the agent saw of each.
    pub fn merge(
        &self,
        source: CaseId,
        into: CaseId,
        actor: &Actor,
        reason: &Note,
        expect_source: Expect,
        expect_into: Expect,
    ) -> Result<MergeId, WriteError> {
        if source == into {
            return Err(MergeRefusal::IntoItself.into());
        }
        self.write(|tx| {
            let from = tx.case_state(source)?;
            from.expect(expect_source)?;
            let target = tx.case_state(into)?;
            target.expect(expect_into)?;
            if from.shape.status == Status::Merged {
                return Err(MergeRefusal::SourceMerged(source).into());
            }
            if target.shape.status == Status::Merged {
                return Err(MergeRefusal::TargetMerged(into).into());
            }
            let receives: Option<i64> = tx
                .sql
                .prepare_cached(
                    "SELECT id FROM merges WHERE into_case = ?1 AND undone_at IS NULL LIMIT 1",
                )
                .db()?
                .query_row([source.get()], |r| r.get(0))
                .optional()
                .db()?;
            if receives.is_some() {
                return Err(MergeRefusal::SourceHasMerges(source).into());
            }
            tx.sql
                .prepare_cached(
                    "INSERT INTO merges (source, into_case, at, actor, reason, prior_status,
                     prior_assignee) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .db()?
                .execute(params![
                    source.get(),
                    into.get(),
                    tx.now.unix_ms(),
                    actor.code(),
                    reason.as_str(),
                    from.shape.status.code(),
                    from.shape.assignee
                ])
                .db()?;
            let id = MergeId::from_raw(tx.sql.last_insert_rowid());
            let mut shape = from.shape.clone();
            shape.status = Status::Merged;
            shape.assignee = None;
            let merged = tx.reshape(&from, shape)?;
            tx.history(
                source,
                Some(from.shape.status),
                Status::Merged,
                actor,
                Some(reason),
            )?;
            tx.touch(into)?;
            let extra = |other: &crate::write::CaseState| {
                json!({ "merge_id": id.get(), "source": from.case_no.to_string(),
                        "into": other.case_no.to_string(), "actor": actor.code(),
                        "reason": reason.as_str() })
            };
            tx.event(EventKind::Merged, &merged, extra(&target))?;
            tx.event(EventKind::Merged, &target, extra(&target))?;
            Ok(id)
        })
    }

    /// Undoes merge `merge`: the source gets back its status, assignee and queue rows; the
    /// merge stays on record, marked undone.
    pub fn unmerge(
        &self,
        merge: MergeId,
        actor: &Actor,
        reason: &Note,
        expect_source: Expect,
        expect_into: Expect,
    ) -> Result<(), WriteError> {
        self.write(|tx| {
            let sql = format!("SELECT {MERGE_COLUMNS} FROM merges WHERE id = ?1");
            let found = rows(&tx.sql, &sql, merge.get(), merge_row)?.pop();
            let Some(record) = found else {
                return Err(WriteError::NotFound {
                    what: "merge",
                    id: merge.get(),
                });
            };
            if record.undone.is_some() {
                return Err(MergeRefusal::AlreadyUndone(merge).into());
            }
            let source = tx.case_state(record.source)?;
            source.expect(expect_source)?;
            let target = tx.case_state(record.into)?;
            target.expect(expect_into)?;
            if source.shape.status != Status::Merged {
                return Err(WriteError::Corrupt(format!(
                    "merge {merge} stands but case {} is {}",
                    record.source, source.shape.status
                )));
            }
            tx.sql
                .prepare_cached(
                    "UPDATE merges SET undone_at = ?2, undone_by = ?3, undo_reason = ?4
                     WHERE id = ?1",
                )
                .db()?
                .execute(params![
                    merge.get(),
                    tx.now.unix_ms(),
                    actor.code(),
                    reason.as_str()
                ])
                .db()?;
            let mut shape = source.shape.clone();
            shape.status = record.prior_status;
            shape.assignee = record
                .prior_assignee
                .as_ref()
                .map(|a| a.as_str().to_owned());
            let restored = tx.reshape(&source, shape)?;
            tx.history(
                record.source,
                Some(Status::Merged),
                record.prior_status,
                actor,
                Some(reason),
            )?;
            tx.touch(record.into)?;
            let extra = json!({ "merge_id": merge.get(), "source": source.case_no.to_string(),
                                "into": target.case_no.to_string(), "actor": actor.code(),
                                "reason": reason.as_str() });
            tx.event(EventKind::Unmerged, &restored, extra.clone())?;
            tx.event(EventKind::Unmerged, &target, extra)?;
            Ok(())
        })
    }

    /// Every merge `case` took part in, as source or target, current or undone, oldest first.
    pub fn merges_of(&self, case: CaseId) -> Result<Vec<Merge>, ReadError> {
        self.read(|conn| merges_of(conn, case))
    }
}

/// [`Store::merges_of`] on an open connection.
pub(crate) fn merges_of(
    conn: &rusqlite::Connection,
    case: CaseId,
) -> Result<Vec<Merge>, ReadError> {
    let sql = format!(
        "SELECT {MERGE_COLUMNS} FROM merges WHERE source = ?1
         UNION
         SELECT {MERGE_COLUMNS} FROM merges WHERE into_case = ?1
         ORDER BY 1"
    );
    rows(conn, &sql, case.get(), merge_row)
}

/// A merge from a row whose columns are [`MERGE_COLUMNS`].
pub(crate) fn merge_row(r: &Row<'_>) -> Result<Merge, ReadError> {
    let actor: String = r.get(4).db()?;
    let prior_status: String = r.get(6).db()?;
    let undone_at: Option<i64> = r.get(8).db()?;
    let undone_by: Option<String> = r.get(9).db()?;
    let undo_reason: Option<String> = r.get(10).db()?;
    let undone = match (undone_at, undone_by, undo_reason) {
        (Some(at), Some(by), Some(why)) => Some(Undone {
            at: decode::time(at),
            actor: decode::actor(&by)?,
            reason: decode::text(why, Note::new)?,
        }),
        (None, None, None) => None,
        _ => return Err(ReadError::Corrupt("a half-undone merge".to_owned())),
    };
    Ok(Merge {
        id: MergeId::from_raw(r.get(0).db()?),
        source: CaseId::from_raw(r.get(1).db()?),
        into: CaseId::from_raw(r.get(2).db()?),
        at: decode::time(r.get(3).db()?),
        actor: decode::actor(&actor)?,
        reason: decode::text(r.get(5).db()?, Note::new)?,
        prior_status: decode::status(&prior_status)?,
        prior_assignee: decode::opt_text(r.get(7).db()?, AgentId::new)?,
        undone,
    })
}

#[cfg(test)]
mod tests;
