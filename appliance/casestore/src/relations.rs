//! Contact points, links between cases and referrals to external bodies. Each change is one
//! transaction with its event, like every other change to a case.

use rusqlite::{OptionalExtension as _, params};
use serde_json::json;

use crate::error::{DbResult as _, WriteError};
use crate::model::{
    Actor, CaseId, ContactId, EventKind, Expect, LinkKind, NewContact, NewReferral, Note, PersonId,
    ReferralId, Timestamp, Verification,
};
use crate::store::{Store, Tx};

impl Store {
    /// Adds a contact point to a person.
    pub fn add_contact_point(
        &self,
        person: PersonId,
        contact: &NewContact,
    ) -> Result<ContactId, WriteError> {
        self.write(|tx| {
            let case = case_of(
                tx,
                "person",
                "SELECT case_id FROM persons WHERE id = ?1",
                person.get(),
            )?;
            let id = tx.contact(person, contact)?;
            let state = tx.case_state(case)?;
            tx.touch(case)?;
            let extra = json!({ "contact_id": id.get(), "kind": contact.kind.code(),
                                "verification": contact.verification.code() });
            tx.event(EventKind::ContactChanged, &state, extra)?;
            Ok(id)
        })
    }

    /// Records how far a contact point has been verified.
    pub fn set_contact_verification(
        &self,
        contact: ContactId,
        verification: Verification,
    ) -> Result<(), WriteError> {
        self.write(|tx| {
            let case = case_of(
                tx,
                "contact point",
                "SELECT p.case_id FROM contact_points c JOIN persons p ON p.id = c.person_id
                 WHERE c.id = ?1",
                contact.get(),
            )?;
            tx.sql
                .prepare_cached(
                    "UPDATE contact_points SET verification = ?2, updated_at = ?3 WHERE id = ?1",
                )
                .db()?
                .execute(params![
                    contact.get(),
                    verification.code(),
                    tx.now.unix_ms()
                ])
                .db()?;
            let state = tx.case_state(case)?;
            tx.touch(case)?;
            let extra = json!({ "contact_id": contact.get(), "verification": verification.code() });
            tx.event(EventKind::ContactChanged, &state, extra)?;
            Ok(())
        })
    }

    /// Links `from` to `to` (`from` *kind* `to`, e.g. `from` duplicate-of `to`). Linking a
    /// case to itself, or the same link twice, is refused. `expect` is checked against `from`,
    /// the case the agent is working on; both cases' versions grow.
    pub fn link_cases(
        &self,
        from: CaseId,
        to: CaseId,
        kind: LinkKind,
        actor: &Actor,
        expect: Expect,
    ) -> Result<(), WriteError> {
        if from == to {
            return Err(crate::InvalidValue {
                what: "link",
                reason: "joins a case to itself",
            }
            .into());
        }
        self.write(|tx| {
            tx.case_state(from)?.expect(expect)?;
            link_in(tx, from, to, kind, actor)
        })
    }

    /// Records a referral of a case to an external body, made by `actor`.
    pub fn add_referral(
        &self,
        case: CaseId,
        referral: &NewReferral,
        actor: &Actor,
        expect: Expect,
    ) -> Result<ReferralId, WriteError> {
        self.write(|tx| {
            let state = tx.case_state(case)?;
            state.expect(expect)?;
            tx.sql
                .prepare_cached(
                    "INSERT INTO referrals (case_id, body, sent_at, due_at, recorded_at, actor)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .db()?
                .execute(params![
                    case.get(),
                    referral.body.as_str(),
                    referral.sent_at.map(Timestamp::unix_ms),
                    referral.due_at.map(Timestamp::unix_ms),
                    tx.now.unix_ms(),
                    actor.code()
                ])
                .db()?;
            let id = ReferralId::from_raw(tx.sql.last_insert_rowid());
            tx.touch(case)?;
            let extra = json!({ "referral_id": id.get(), "change": "added", "body": referral.body.as_str(),
                                "due_at": referral.due_at.map(Timestamp::unix_ms),
                                "actor": actor.code() });
            tx.event(EventKind::ReferralChanged, &state, extra)?;
            Ok(id)
        })
    }

    /// Records that the external body acknowledged the referral at `at`.
    pub fn referral_acknowledged(
        &self,
        referral: ReferralId,
        at: Timestamp,
    ) -> Result<(), WriteError> {
        self.update_referral(
            referral,
            "acknowledged",
            "acknowledged_at = ?2",
            params![referral.get(), at.unix_ms()],
        )
    }

    /// Records the referral's outcome (now).
    pub fn referral_outcome(&self, referral: ReferralId, outcome: &Note) -> Result<(), WriteError> {
        let now = self.options.clock.now().unix_ms();
        self.update_referral(
            referral,
            "outcome",
            "outcome = ?2, outcome_at = ?3",
            params![referral.get(), outcome.as_str(), now],
        )
    }

    fn update_referral(
        &self,
        referral: ReferralId,
        change: &'static str,
        set: &str,
        values: &[&dyn rusqlite::ToSql],
    ) -> Result<(), WriteError> {
        self.write(|tx| {
            let case = case_of(
                tx,
                "referral",
                "SELECT case_id FROM referrals WHERE id = ?1",
                referral.get(),
            )?;
            tx.sql
                .prepare_cached(&format!("UPDATE referrals SET {set} WHERE id = ?1"))
                .db()?
                .execute(values)
                .db()?;
            let state = tx.case_state(case)?;
            tx.touch(case)?;
            tx.event(
                EventKind::ReferralChanged,
                &state,
                json!({ "referral_id": referral.get(), "change": change }),
            )?;
            Ok(())
        })
    }
}

/// The case that row `id` belongs to, by `sql`; `NotFound` naming `what` otherwise.
fn case_of(tx: &Tx<'_>, what: &'static str, sql: &str, id: i64) -> Result<CaseId, WriteError> {
    let case: Option<i64> = tx
        .sql
        .prepare_cached(sql)
        .db()?
        .query_row([id], |r| r.get(0))
        .optional()
        .db()?;
    case.map(CaseId::from_raw)
        .ok_or(WriteError::NotFound { what, id })
}

/// Links `from` to `to` inside an open transaction (see [`Store::link_cases`]).
pub(crate) fn link_in(
    tx: &mut Tx<'_>,
    from: CaseId,
    to: CaseId,
    kind: LinkKind,
    actor: &Actor,
) -> Result<(), WriteError> {
    if from == to {
        return Err(crate::InvalidValue {
            what: "link",
            reason: "joins a case to itself",
        }
        .into());
    }
    let state = tx.case_state(from)?;
    let other = tx.case_state(to)?;
    let added = tx
        .sql
        .prepare_cached(
            "INSERT INTO case_links (from_case, to_case, kind, at, actor)
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
        )
        .db()?
        .execute(params![
            from.get(),
            to.get(),
            kind.code(),
            tx.now.unix_ms(),
            actor.code()
        ])
        .db()?;
    if added == 0 {
        return Err(WriteError::Unchanged(
            "the cases are already linked that way",
        ));
    }
    tx.touch(from)?;
    tx.touch(to)?;
    let extra = json!({ "kind": kind.code(), "to_case_no": other.case_no.to_string(), "actor": actor.code() });
    tx.event(EventKind::Linked, &state, extra)?;
    Ok(())
}

#[cfg(test)]
mod tests;
