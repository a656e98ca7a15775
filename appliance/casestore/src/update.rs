//! Changes to an existing case: messages, status, assignment, priority, attachments. Each is
//! one transaction that also moves the case's queue rows and counters, bumps its version and
//! queues an event. Each takes an [`Expect`]: the version the caller saw, or `Any`.
//!
//! The first external message an agent sends sets the case's `first_response_at`, and the
//! first move to resolved or closed its `resolved_at`; each adds one to the response-time
//! histogram in the same transaction (stats.rs).

use rusqlite::{OptionalExtension as _, params};
use serde_json::json;

use crate::error::{DbResult as _, WriteError};
use crate::model::{
    Actor, AgentId, AttachmentId, CaseId, ChangedField, Direction, EventKind, Expect, MessageId,
    NewAttachment, NewMessage, Note, Priority, ScanVerdict, Sha256, StatMetric, Status, Visibility,
};
use crate::store::{Store, Tx};
use crate::write::MessageRow;

impl Store {
    /// Adds a message (and its attachments' metadata) to a case. A reply from outside to a
    /// case waiting for the citizen puts it back `in_progress`, and so does an agent's first
    /// answer to a `new` or `triage` case. A message never reopens a
    /// resolved or closed case: whether a late reply belongs to the old case or starts a new,
    /// linked one is the channel's decision (threading fails closed).
    pub fn add_message(
        &self,
        case: CaseId,
        msg: &NewMessage,
        expect: Expect,
    ) -> Result<MessageId, WriteError> {
        if msg.direction == Direction::In && msg.visibility == Visibility::Internal {
            return Err(crate::InvalidValue {
                what: "message",
                reason: "from outside cannot be internal",
            }
            .into());
        }
        self.write(|tx| add_message_in(tx, case, msg, expect))
    }

    /// Moves a case to status `to` (see [`Status::can_become`]), with an optional note.
    pub fn change_status(
        &self,
        case: CaseId,
        to: Status,
        actor: &Actor,
        note: Option<&Note>,
        expect: Expect,
    ) -> Result<(), WriteError> {
        self.write(|tx| {
            let state = tx.case_state(case)?;
            state.expect(expect)?;
            let from = state.shape.status;
            if !from.can_become(to) {
                return Err(WriteError::InvalidTransition { from, to });
            }
            if to.is_resolution() && state.resolved_at.is_none() {
                tx.set_time(&state, StatMetric::Resolution)?;
            }
            let mut shape = state.shape.clone();
            shape.status = to;
            let state = tx.reshape(&state, shape)?;
            tx.history(case, Some(from), to, actor, note)?;
            let extra = json!({ "from": from.code(), "to": to.code(), "actor": actor.code() });
            tx.event(EventKind::StatusChanged, &state, extra)?;
            Ok(())
        })
    }

    /// Gives a case to `assignee`, or back to the unassigned queue with `None`.
    pub fn assign(
        &self,
        case: CaseId,
        assignee: Option<&AgentId>,
        actor: &Actor,
        expect: Expect,
    ) -> Result<(), WriteError> {
        self.write(|tx| {
            let state = tx.case_state(case)?;
            state.expect(expect)?;
            state.not_merged()?;
            let to = assignee.map(|a| a.as_str().to_owned());
            if state.shape.assignee == to {
                return Err(WriteError::Unchanged("the case already has that assignee"));
            }
            let from = state.shape.assignee.clone();
            let mut shape = state.shape.clone();
            shape.assignee = to.clone();
            let state = tx.reshape(&state, shape)?;
            tx.change(
                case,
                ChangedField::Assignee,
                from.as_deref(),
                to.as_deref(),
                actor,
                None,
            )?;
            let extra = json!({ "from": from, "to": to, "actor": actor.code() });
            tx.event(EventKind::Assigned, &state, extra)?;
            Ok(())
        })
    }

    /// Sets a case's priority. Entering P0/P1 also queues `case.emergency`. Nothing in the
    /// store lowers a priority by itself: this is the only way, and it names who did it and
    /// why, in the change log and the event.
    pub fn change_priority(
        &self,
        case: CaseId,
        to: Priority,
        actor: &Actor,
        reason: &Note,
        expect: Expect,
    ) -> Result<(), WriteError> {
        self.write(|tx| {
            let state = tx.case_state(case)?;
            state.expect(expect)?;
            state.not_merged()?;
            let from = state.shape.priority;
            if from == to {
                return Err(WriteError::Unchanged("the case already has that priority"));
            }
            let mut shape = state.shape.clone();
            shape.priority = to;
            let state = tx.reshape(&state, shape)?;
            tx.change(
                case,
                ChangedField::Priority,
                Some(from.code()),
                Some(to.code()),
                actor,
                Some(reason),
            )?;
            let extra = json!({
                "from": from.code(), "to": to.code(), "actor": actor.code(), "reason": reason.as_str(),
            });
            tx.event(EventKind::PriorityChanged, &state, extra)?;
            if to.is_emergency() && !from.is_emergency() {
                tx.event(EventKind::CaseEmergency, &state, json!({ "reason": "priority" }))?;
            }
            Ok(())
        })
    }

    /// Records a stored file against a case, optionally tied to one of its messages.
    pub fn add_attachment(
        &self,
        case: CaseId,
        message: Option<MessageId>,
        attachment: &NewAttachment,
        expect: Expect,
    ) -> Result<AttachmentId, WriteError> {
        self.write(|tx| {
            let state = tx.case_state(case)?;
            state.expect(expect)?;
            if let Some(message) = message {
                let owner: Option<i64> = tx
                    .sql
                    .prepare_cached("SELECT case_id FROM messages WHERE id = ?1")
                    .db()?
                    .query_row([message.get()], |r| r.get(0))
                    .optional()
                    .db()?;
                if owner != Some(case.get()) {
                    return Err(WriteError::NotFound {
                        what: "message of this case",
                        id: message.get(),
                    });
                }
            }
            let id = tx.attachment(case, message, attachment)?;
            tx.touch(case)?;
            let extra = json!({ "attachment_id": id.get(), "sha256": attachment.sha256.to_hex() });
            tx.event(EventKind::AttachmentAdded, &state, extra)?;
            Ok(id)
        })
    }

    /// Records the antivirus verdict on an attachment.
    pub fn set_scan_verdict(
        &self,
        attachment: AttachmentId,
        verdict: ScanVerdict,
    ) -> Result<(), WriteError> {
        self.write(|tx| {
            let row: Option<(i64, String, Vec<u8>)> = tx
                .sql
                .prepare_cached("SELECT case_id, verdict, sha256 FROM attachments WHERE id = ?1")
                .db()?
                .query_row([attachment.get()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()
                .db()?;
            let Some((case, old, sha)) = row else {
                return Err(WriteError::NotFound { what: "attachment", id: attachment.get() });
            };
            if old == verdict.code() {
                return Err(WriteError::Unchanged("the attachment already has that verdict"));
            }
            tx.sql
                .prepare_cached("UPDATE attachments SET verdict = ?2, verdict_at = ?3 WHERE id = ?1")
                .db()?
                .execute(params![attachment.get(), verdict.code(), tx.now.unix_ms()])
                .db()?;
            let case = CaseId::from_raw(case);
            let state = tx.case_state(case)?;
            tx.touch(case)?;
            let sha = <[u8; 32]>::try_from(sha.as_slice())
                .map(|b| Sha256(b).to_hex())
                .unwrap_or_default();
            let extra = json!({ "attachment_id": attachment.get(), "verdict": verdict.code(), "sha256": sha });
            tx.event(EventKind::AttachmentScanned, &state, extra)?;
            Ok(())
        })
    }
}

/// [`Store::add_message`] inside a transaction some other operation (the e-mail channel's
/// threading) has open.
pub(crate) fn add_message_in(
    tx: &mut Tx<'_>,
    case: CaseId,
    msg: &NewMessage,
    expect: Expect,
) -> Result<MessageId, WriteError> {
    let mut state = tx.case_state(case)?;
    state.expect(expect)?;
    let row = MessageRow {
        direction: msg.direction,
        channel: msg.channel,
        author: &msg.author,
        visibility: msg.visibility,
        language: &msg.language,
        body: &msg.body,
        consulate: &state.shape.consulate,
    };
    let id = tx.message(case, &row)?;
    for attachment in &msg.attachments {
        tx.attachment(case, Some(id), attachment)?;
    }
    let first_response = msg.direction == Direction::Out
        && msg.visibility == Visibility::External
        && matches!(msg.author, Actor::Agent(_))
        && state.first_response_at.is_none();
    if first_response {
        tx.set_time(&state, StatMetric::FirstResponse)?;
    }
    let answered = msg.direction == Direction::Out
        && msg.visibility == Visibility::External
        && matches!(msg.author, Actor::Agent(_))
        && matches!(state.shape.status, Status::New | Status::Triage);
    if msg.direction == Direction::In && state.shape.status == Status::WaitingCitizen {
        let mut shape = state.shape.clone();
        shape.status = Status::InProgress;
        state = tx.reshape(&state, shape)?;
        let note = Note::new("the citizen replied")?;
        tx.history(
            case,
            Some(Status::WaitingCitizen),
            Status::InProgress,
            &Actor::System,
            Some(&note),
        )?;
    } else if answered {
        // An agent's answer to the citizen means someone is on it: the citizen's status page
        // and the queues stop saying it waits to be picked up.
        let from = state.shape.status;
        let mut shape = state.shape.clone();
        shape.status = Status::InProgress;
        state = tx.reshape(&state, shape)?;
        let note = Note::new("answered the citizen")?;
        tx.history(
            case,
            Some(from),
            Status::InProgress,
            &msg.author,
            Some(&note),
        )?;
    } else {
        tx.touch(case)?;
    }
    let extra = json!({
        "message_id": id.get(),
        "direction": msg.direction.code(),
        "visibility": msg.visibility.code(),
        "channel": msg.channel.code(),
        "attachments": msg.attachments.len(),
    });
    tx.event(EventKind::MessageAdded, &state, extra)?;
    Ok(id)
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod versions;
