//! What the telephony bridge keeps in the store: the open cases a caller's number belongs to
//! (a phone contact point, compared in normalised form), and each call's detail record with
//! its case — the caller's leg in `calls`, every offer to an agent in `call_legs` — together
//! with an internal note that shows the call in the case's timeline, in one transaction.

use rusqlite::{Connection, OptionalExtension as _, params};

use crate::error::{DbResult as _, ReadError, WriteError};
use crate::model::{
    Actor, Body, CaseId, CaseNumber, Channel, ContactKind, Direction, Expect, Language, NewMessage,
    Status, Timestamp, Visibility,
};
use crate::read::{decode, rows};
use crate::store::{Store, Tx};
use crate::update::add_message_in;
use crate::write::normalized_contact;

/// The most open cases one number look-up returns.
const MAX_PHONE_CASES: usize = 20;

/// The longest text kept in a call's free-form columns (numbers, queue names, digits).
const MAX_FIELD_CHARS: usize = 200;

/// An open case whose subject or requester has the caller's number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneCase {
    pub case: CaseId,
    pub case_no: CaseNumber,
    pub status: Status,
}

/// One offer of a call to an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallLegRecord {
    pub agent: String,
    pub offered_at: Timestamp,
    pub answered_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    pub outcome: String,
}

/// A finished call, as the bridge hands it over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCall {
    /// The bridge's key for the call; a second record with the same key is not stored.
    pub call_ref: String,
    pub caller: String,
    pub called: String,
    pub queue: Option<String>,
    pub language: Option<String>,
    pub emergency: bool,
    pub digits: String,
    pub started_at: Timestamp,
    pub answered_at: Option<Timestamp>,
    pub ended_at: Timestamp,
    /// `completed`, `cancelled`, `no_agent`, `no_answer`, `rejected`, `unreachable`,
    /// `queue_full`.
    pub outcome: String,
    /// `caller` or `agent`.
    pub ended_by: Option<String>,
    pub legs: Vec<CallLegRecord>,
}

impl NewCall {
    /// Milliseconds from the start to the answer (or the end, unanswered).
    pub fn wait_ms(&self) -> i64 {
        let until = self.answered_at.unwrap_or(self.ended_at);
        (until.unix_ms() - self.started_at.unix_ms()).max(0)
    }

    /// Milliseconds from the answer to the end.
    pub fn talk_ms(&self) -> Option<i64> {
        let answered = self.answered_at?;
        Some((self.ended_at.unix_ms() - answered.unix_ms()).max(0))
    }

    /// The line shown in the timeline.
    fn summary(&self) -> String {
        let mut s = format!("Phone call from {}", self.caller);
        if let Some(q) = &self.queue {
            s.push_str(&format!(", queue {q}"));
        }
        if self.emergency {
            s.push_str(" (emergency)");
        }
        s.push_str(&format!(": {}", self.outcome.replace('_', " ")));
        let agent = self.legs.iter().find(|l| l.answered_at.is_some());
        if let Some(a) = agent {
            s.push_str(&format!(" by {}", a.agent));
        }
        s.push_str(&format!(", waited {} s", self.wait_ms() / 1000));
        if let Some(talk) = self.talk_ms() {
            s.push_str(&format!(", talked {} s", talk / 1000));
        }
        let missed: Vec<&str> = self
            .legs
            .iter()
            .filter(|l| l.answered_at.is_none())
            .map(|l| l.agent.as_str())
            .collect();
        if !missed.is_empty() {
            s.push_str(&format!(", not answered by {}", missed.join(", ")));
        }
        if !self.digits.is_empty() {
            s.push_str(&format!(", keys {}", self.digits));
        }
        s.push('.');
        s
    }
}

/// A stored call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCall {
    pub id: i64,
    pub case: CaseId,
    pub call: NewCall,
}

fn clip(s: &str) -> String {
    s.chars().take(MAX_FIELD_CHARS).collect()
}

fn opt_ms(t: Option<Timestamp>) -> Option<i64> {
    t.map(Timestamp::unix_ms)
}

impl Store {
    /// Open cases (newest first, at most 20) with a person whose phone contact point is
    /// `number`, compared as digits only.
    pub fn phone_cases(&self, number: &str) -> Result<Vec<PhoneCase>, ReadError> {
        let Some(digits) = normalized_contact(ContactKind::Phone, number) else {
            return Ok(Vec::new());
        };
        self.read(|conn| phone_cases(conn, &digits))
    }

    /// Stores a finished call with `case`, and a note in its timeline, in one transaction.
    /// Returns the call's id, or the first one's if `call_ref` was stored before.
    pub fn record_call(&self, case: CaseId, call: &NewCall) -> Result<i64, WriteError> {
        self.write(|tx| {
            let seen: Option<i64> = tx
                .sql
                .prepare_cached("SELECT id FROM calls WHERE call_ref = ?1")
                .db()?
                .query_row([clip(&call.call_ref)], |r| r.get(0))
                .optional()
                .db()?;
            if let Some(id) = seen {
                return Ok(id);
            }
            let message = note(tx, case, call)?;
            tx.sql
                .prepare_cached(
                    "INSERT INTO calls (case_id, call_ref, caller, called, queue, language,
                         emergency, digits, started_at, answered_at, ended_at, outcome, ended_by,
                         message_id)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                )
                .db()?
                .execute(params![
                    case.get(),
                    clip(&call.call_ref),
                    clip(&call.caller),
                    clip(&call.called),
                    call.queue.as_deref().map(clip),
                    call.language.as_deref().map(clip),
                    call.emergency,
                    clip(&call.digits),
                    call.started_at.unix_ms(),
                    opt_ms(call.answered_at),
                    call.ended_at.unix_ms(),
                    clip(&call.outcome),
                    call.ended_by
                        .as_deref()
                        .filter(|b| *b == "caller" || *b == "agent"),
                    message.get(),
                ])
                .db()?;
            let id = tx.sql.last_insert_rowid();
            let mut leg = tx
                .sql
                .prepare_cached(
                    "INSERT INTO call_legs (call_id, seq, agent, offered_at, answered_at,
                         ended_at, outcome) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .db()?;
            for (seq, l) in call.legs.iter().enumerate() {
                leg.execute(params![
                    id,
                    i64::try_from(seq).unwrap_or(i64::MAX),
                    clip(&l.agent),
                    l.offered_at.unix_ms(),
                    opt_ms(l.answered_at),
                    opt_ms(l.ended_at),
                    clip(&l.outcome),
                ])
                .db()?;
            }
            Ok(id)
        })
    }

    /// The calls of `case`, oldest first, with their agents' legs.
    pub fn calls(&self, case: CaseId) -> Result<Vec<StoredCall>, ReadError> {
        self.read(|conn| {
            let sql = "SELECT id, call_ref, caller, called, queue, language, emergency, digits,
                              started_at, answered_at, ended_at, outcome, ended_by
                       FROM calls WHERE case_id = ?1 ORDER BY started_at, id";
            let mut calls = rows(conn, sql, case.get(), |r| {
                Ok(StoredCall {
                    id: r.get(0).db()?,
                    case,
                    call: NewCall {
                        call_ref: r.get(1).db()?,
                        caller: r.get(2).db()?,
                        called: r.get(3).db()?,
                        queue: r.get(4).db()?,
                        language: r.get(5).db()?,
                        emergency: r.get(6).db()?,
                        digits: r.get(7).db()?,
                        started_at: decode::time(r.get(8).db()?),
                        answered_at: decode::opt_time(r.get(9).db()?),
                        ended_at: decode::time(r.get(10).db()?),
                        outcome: r.get(11).db()?,
                        ended_by: r.get(12).db()?,
                        legs: Vec::new(),
                    },
                })
            })?;
            let sql = "SELECT agent, offered_at, answered_at, ended_at, outcome
                       FROM call_legs WHERE call_id = ?1 ORDER BY seq";
            for c in &mut calls {
                c.call.legs = rows(conn, sql, c.id, |r| {
                    Ok(CallLegRecord {
                        agent: r.get(0).db()?,
                        offered_at: decode::time(r.get(1).db()?),
                        answered_at: decode::opt_time(r.get(2).db()?),
                        ended_at: decode::opt_time(r.get(3).db()?),
                        outcome: r.get(4).db()?,
                    })
                })?;
            }
            Ok(calls)
        })
    }
}

fn phone_cases(conn: &Connection, digits: &str) -> Result<Vec<PhoneCase>, ReadError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT DISTINCT c.id, c.year, c.seq, c.status
             FROM contact_points p JOIN persons s ON s.id = p.person_id
             JOIN cases c ON c.id = s.case_id
             WHERE p.kind = 'phone' AND p.normalized = ?1
               AND c.status NOT IN ('resolved', 'closed', 'merged')
             ORDER BY c.id DESC LIMIT ?2",
        )
        .db()?;
    let limit = i64::try_from(MAX_PHONE_CASES).unwrap_or(i64::MAX);
    let mut found = stmt.query(params![digits, limit]).db()?;
    let mut out = Vec::new();
    while let Some(r) = found.next().db()? {
        let id = CaseId::from_raw(r.get(0).db()?);
        let status: String = r.get(3).db()?;
        out.push(PhoneCase {
            case: id,
            case_no: CaseNumber::new(r.get(1).db()?, r.get(2).db()?)
                .map_err(|e| ReadError::Corrupt(format!("case {id}: {e}")))?,
            status: decode::status(&status)?,
        });
    }
    Ok(out)
}

/// The call's line in the timeline: an internal note by the system on the phone channel.
fn note(tx: &mut Tx<'_>, case: CaseId, call: &NewCall) -> Result<crate::MessageId, WriteError> {
    let state = tx.case_state(case)?;
    let language = Language::new(state.shape.language.clone())?;
    let msg = NewMessage {
        direction: Direction::In,
        channel: Channel::Phone,
        author: Actor::System,
        visibility: Visibility::Internal,
        language,
        body: Body::new(call.summary())?,
        attachments: Vec::new(),
    };
    add_message_in(tx, case, &msg, Expect::Any)
}

#[cfg(test)]
mod tests;
