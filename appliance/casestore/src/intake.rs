//! New cases: [`Store::create_case`] for live intake and [`Store::bulk_import`] for loading
//! many cases at once.
//!
//! One new case is one transaction: the idempotency check, the next case number of the year
//! (after the year's last case), the header with the sealed tracking code, the persons and contact points, the
//! opening status-history entry, the first message and its search row, the attachment rows,
//! the queue rows and counter deltas, and the `case.created` event (plus `case.emergency` for
//! P0/P1). A repeated idempotency key returns the first case and writes nothing.

use rusqlite::{OptionalExtension as _, params};
use serde_json::json;

use crate::counters::{self, Shape};
use crate::error::{DbResult as _, WriteError};
use crate::model::{
    AgentId, CaseId, CaseNumber, Direction, EventKind, NewCase, Relationship, Role, Status,
    Timestamp, Visibility,
};
use crate::store::{Store, Tx};
use crate::tracking::{self, TrackingCode};
use crate::write::{CaseState, MessageRow};

/// The outcome of [`Store::create_case`].
#[derive(Debug, Clone)]
pub struct CaseCreated {
    pub case_id: CaseId,
    pub case_no: CaseNumber,
    /// The citizen's tracking code, shown once. `None` when the idempotency key had been seen
    /// before: the first case is returned, and its code cannot be shown again because only a
    /// keyed hash of it is stored.
    pub tracking_code: Option<TrackingCode>,
}

impl CaseCreated {
    /// Whether this was a repeat of an earlier submission (nothing was written).
    pub fn is_duplicate(&self) -> bool {
        self.tracking_code.is_none()
    }
}

/// A case for [`Store::bulk_import`], with the time it was received and where it stands now
/// in the system it comes from.
#[derive(Debug, Clone)]
pub struct ImportedCase {
    pub received_at: Timestamp,
    pub case: NewCase,
    /// Its current status (`needs_triage` is ignored).
    pub status: Status,
    pub assignee: Option<AgentId>,
}

/// How a case arrives.
#[derive(Debug, Clone, Copy)]
enum Arrival<'a> {
    /// Through a channel, now: starts `new` or `triage`, announces itself.
    Live,
    /// From another system: keeps its status and assignee, announces nothing.
    Imported {
        status: Status,
        assignee: Option<&'a AgentId>,
    },
}

impl Store {
    /// Creates a case with its first message and attachment metadata, in one transaction.
    pub fn create_case(&self, new: &NewCase) -> Result<CaseCreated, WriteError> {
        self.write(|tx| insert_case(tx, new, Arrival::Live))
    }

    /// Loads a batch of cases in **one** transaction: all of them or none. Meant for migrating
    /// from an older system and for benchmarks, where one commit per case would be the
    /// bottleneck. Each case is written as by [`Store::create_case`] (numbers, tracking codes,
    /// search rows, queue rows, counters, idempotency) at its own `received_at`, with the
    /// status and assignee it has in the old system, except that no outbox events are queued:
    /// an imported case is not news to anyone. It holds the write lock for the whole batch, so
    /// keep batches to about 10,000 cases on a live store.
    pub fn bulk_import(&self, batch: &[ImportedCase]) -> Result<Vec<CaseCreated>, WriteError> {
        self.write(|tx| {
            let mut out = Vec::with_capacity(batch.len());
            for item in batch {
                tx.now = item.received_at;
                let arrival = Arrival::Imported {
                    status: item.status,
                    assignee: item.assignee.as_ref(),
                };
                out.push(insert_case(tx, &item.case, arrival)?);
            }
            Ok(out)
        })
    }
}

/// The year's next case number.
pub(crate) const NEXT_SEQ: &str = "SELECT coalesce(max(seq), 0) + 1 FROM cases WHERE year = ?1";

/// [`Store::create_case`] inside a transaction some other operation (the e-mail channel) has
/// open.
pub(crate) fn insert_live(tx: &mut Tx<'_>, new: &NewCase) -> Result<CaseCreated, WriteError> {
    insert_case(tx, new, Arrival::Live)
}

fn insert_case(
    tx: &mut Tx<'_>,
    new: &NewCase,
    arrival: Arrival<'_>,
) -> Result<CaseCreated, WriteError> {
    if new
        .requester
        .as_ref()
        .is_some_and(|r| r.relationship == Relationship::Myself)
    {
        return Err(crate::InvalidValue {
            what: "requester",
            reason: "must be someone other than the subject (relationship `self`)",
        }
        .into());
    }
    let key = new
        .idempotency_key
        .as_ref()
        .map(|k| format!("{}:{}", new.channel.code(), k.as_str()));
    if let Some(key) = &key {
        let seen: Option<i64> = tx
            .sql
            .prepare_cached("SELECT case_id FROM idempotency WHERE key = ?1")
            .db()?
            .query_row([key], |r| r.get(0))
            .optional()
            .db()?;
        if let Some(seen) = seen {
            let first = tx.case_state(CaseId::from_raw(seen))?;
            return Ok(CaseCreated {
                case_id: first.id,
                case_no: first.case_no,
                tracking_code: None,
            });
        }
    }

    let year = tx.now.year();
    // The next number of the year, from the end of the year's range in the index of
    // UNIQUE (year, seq); cases are never deleted, so no number is given twice.
    let seq: i64 = tx
        .sql
        .prepare_cached(NEXT_SEQ)
        .db()?
        .query_row([year], |r| r.get(0))
        .db()?;
    if seq > i64::from(CaseNumber::MAX_SEQ) {
        return Err(WriteError::SequenceExhausted { year });
    }
    let case_no = CaseNumber::new(i64::from(year), seq)?;
    let (code, sealed) = tracking::generate(tx.rng).map_err(|_| WriteError::Randomness)?;
    let (status, assignee) = match arrival {
        Arrival::Live if new.needs_triage => (Status::Triage, None),
        Arrival::Live => (Status::New, None),
        Arrival::Imported { status, assignee } => (status, assignee.map(|a| a.as_str().to_owned())),
    };
    let at = tx.now.unix_ms();
    let t = &new.case_type;
    tx.sql
        .prepare_cached(
            "INSERT INTO cases (year, seq, tracking_salt, tracking_tag, type_code, subtype_code,
             taxonomy_version, family, priority, sensitivity, status, consulate, assignee,
             channel, language, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?16)",
        )
        .db()?
        .execute(params![
            year,
            seq,
            &sealed.salt[..],
            &sealed.tag[..],
            t.code.as_str(),
            t.subtype.as_ref().map(|s| s.as_str()),
            t.taxonomy_version,
            t.family.code(),
            new.priority.rank(),
            new.sensitivity.code(),
            status.code(),
            new.consulate.as_str(),
            assignee,
            new.channel.code(),
            new.language.as_str(),
            at
        ])
        .db()?;
    let id = CaseId::from_raw(tx.sql.last_insert_rowid());
    if let Some(key) = &key {
        tx.sql
            .prepare_cached("INSERT INTO idempotency (key, case_id) VALUES (?1, ?2)")
            .db()?
            .execute(params![key, id.get()])
            .db()?;
    }
    tx.opening_history(id, status, &new.author)?;
    tx.person(id, Role::Subject, Relationship::Myself, &new.subject)?;
    if let Some(requester) = &new.requester {
        tx.person(
            id,
            Role::Requester,
            requester.relationship,
            &requester.person,
        )?;
    }
    let message = tx.message(
        id,
        &MessageRow {
            direction: Direction::In,
            channel: new.channel,
            author: &new.author,
            visibility: Visibility::External,
            language: &new.language,
            body: &new.body,
            consulate: new.consulate.as_str(),
        },
    )?;
    for attachment in &new.attachments {
        tx.attachment(id, Some(message), attachment)?;
    }
    let state = CaseState {
        id,
        case_no,
        shape: Shape {
            consulate: new.consulate.as_str().to_owned(),
            status,
            priority: new.priority,
            assignee,
            created_at: at,
            type_code: t.code.as_str().to_owned(),
            language: new.language.as_str().to_owned(),
            channel: new.channel.code().to_owned(),
            sensitivity: new.sensitivity,
        },
        version: 1,
        first_response_at: None,
        resolved_at: None,
    };
    counters::apply(tx, id, None, &state.shape)?;
    if matches!(arrival, Arrival::Live) {
        let extra = json!({
            "channel": new.channel.code(),
            "language": new.language.as_str(),
            "sensitivity": new.sensitivity.code(),
            "message_id": message.get(),
        });
        tx.event(EventKind::CaseCreated, &state, extra)?;
        if new.priority.is_emergency() {
            tx.event(
                EventKind::CaseEmergency,
                &state,
                json!({ "reason": "intake" }),
            )?;
        }
    }
    Ok(CaseCreated {
        case_id: id,
        case_no,
        tracking_code: Some(code),
    })
}

#[cfg(test)]
mod tests;
