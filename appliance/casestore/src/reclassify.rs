//! Reclassifying a case: its type in the taxonomy and its sensitivity. Both move the case's
//! queue rows (which carry the type code and the sensitivity) and counters, are logged with
//! who did it and why, and announce themselves, in one transaction.

use rusqlite::params;
use serde_json::json;

use crate::error::{DbResult as _, WriteError};
use crate::model::{
    Actor, CaseId, CaseType, ChangedField, EventKind, Expect, Note, Sensitivity, TypeCode,
};
use crate::store::Store;

impl Store {
    /// Gives a case another type (code, subtype, taxonomy version and family), e.g. when
    /// triage finds the citizen chose the wrong form.
    pub fn change_type(
        &self,
        case: CaseId,
        to: &CaseType,
        actor: &Actor,
        reason: &Note,
        expect: Expect,
    ) -> Result<(), WriteError> {
        self.write(|tx| {
            let state = tx.case_state(case)?;
            state.expect(expect)?;
            state.not_merged()?;
            let from: (String, Option<String>, u32, String) = tx
                .sql
                .prepare_cached(
                    "SELECT type_code, subtype_code, taxonomy_version, family FROM cases
                     WHERE id = ?1",
                )
                .db()?
                .query_row([case.get()], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .db()?;
            let unchanged = from.0 == to.code.as_str()
                && from.1.as_deref() == to.subtype.as_ref().map(TypeCode::as_str)
                && from.2 == to.taxonomy_version
                && from.3 == to.family.code();
            if unchanged {
                return Err(WriteError::Unchanged("the case already has that type"));
            }
            let mut shape = state.shape.clone();
            shape.type_code = to.code.as_str().to_owned();
            let state = tx.reshape(&state, shape)?;
            tx.sql
                .prepare_cached(
                    "UPDATE cases SET subtype_code = ?2, taxonomy_version = ?3, family = ?4
                     WHERE id = ?1",
                )
                .db()?
                .execute(params![
                    case.get(),
                    to.subtype.as_ref().map(TypeCode::as_str),
                    to.taxonomy_version,
                    to.family.code()
                ])
                .db()?;
            tx.change(
                case,
                ChangedField::Type,
                Some(&from.0),
                Some(to.code.as_str()),
                actor,
                Some(reason),
            )?;
            let extra = json!({
                "from": from.0, "to": to.code.as_str(), "family": to.family.code(),
                "actor": actor.code(), "reason": reason.as_str(),
            });
            tx.event(EventKind::TypeChanged, &state, extra)?;
            Ok(())
        })
    }

    /// Sets who may see a case. Its queue rows and counters move with it, so readers limited
    /// to other sensitivities stop (or start) seeing it at once.
    pub fn change_sensitivity(
        &self,
        case: CaseId,
        to: Sensitivity,
        actor: &Actor,
        reason: &Note,
        expect: Expect,
    ) -> Result<(), WriteError> {
        self.write(|tx| {
            let state = tx.case_state(case)?;
            state.expect(expect)?;
            state.not_merged()?;
            let from = state.shape.sensitivity;
            if from == to {
                return Err(WriteError::Unchanged(
                    "the case already has that sensitivity",
                ));
            }
            let mut shape = state.shape.clone();
            shape.sensitivity = to;
            let state = tx.reshape(&state, shape)?;
            tx.move_times(&state, from);
            tx.change(
                case,
                ChangedField::Sensitivity,
                Some(from.code()),
                Some(to.code()),
                actor,
                Some(reason),
            )?;
            let extra = json!({
                "from": from.code(), "to": to.code(), "actor": actor.code(),
                "reason": reason.as_str(),
            });
            tx.event(EventKind::SensitivityChanged, &state, extra)?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests;
