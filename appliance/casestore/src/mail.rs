//! What the e-mail channel keeps in the store: which Message-IDs belong to which case (so a
//! mail is taken in once, and replies thread), the e-mail contact points of a case with their
//! verification and deliverability, the tracking code an acknowledgement still has to tell,
//! the Message-ID an outgoing event keeps across retries, automatic answers per address, and
//! the outbox events given up after the last retry (dead letters).
//!
//! Each change is one transaction with everything it implies: a mail that opens a case records
//! its Message-ID with the case; a bounce marks the contact point and adds the internal note
//! that tells the agent; a sent mail leaves the outbox together with its Message-ID being
//! recorded and the tracking code being forgotten.

use rusqlite::{Connection, OptionalExtension as _, params};

use crate::error::{DbResult as _, ReadError, WriteError};
use crate::intake::{CaseCreated, insert_live};
use crate::model::{
    Actor, Body, CaseId, Channel, ContactId, Direction, EventKind, Expect, LinkKind, MessageId,
    NewCase, NewMessage, Note, OutboxId, Timestamp, Verification, Visibility,
};
use crate::read::{decode, rows};
use crate::relations::link_in;
use crate::store::{Store, Tx};
use crate::update::add_message_in;
use crate::write::normalized_contact;

/// The longest Message-ID kept (RFC 5322 sets no limit; real ones are far shorter).
pub const MAX_MAIL_ID_BYTES: usize = 512;

/// The longest error text kept with a dead letter.
const MAX_ERROR_CHARS: usize = 1000;

/// A Message-ID as the e-mail channel records it: without angle brackets or surrounding
/// space, 1–512 bytes, no whitespace or control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MailId(String);

impl MailId {
    /// Accepts `<id>` or `id`.
    pub fn new(raw: &str) -> Result<Self, crate::InvalidValue> {
        let bad = |reason| crate::InvalidValue {
            what: "message-id",
            reason,
        };
        let s = raw.trim();
        let s = s
            .strip_prefix('<')
            .and_then(|s| s.strip_suffix('>'))
            .unwrap_or(s);
        if s.is_empty() {
            return Err(bad("is empty"));
        }
        if s.len() > MAX_MAIL_ID_BYTES {
            return Err(bad("is too long"));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("contains a space or a control character"));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for MailId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{}>", self.0)
    }
}

/// Where a recorded Message-ID belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailRef {
    pub case: CaseId,
    /// The case message it became (`None` for a bounce, or an outgoing mail).
    pub message: Option<MessageId>,
    pub direction: Direction,
}

/// What became of a mail given to [`Store::open_mail_case`] or [`Store::append_mail`].
#[derive(Debug, Clone)]
pub enum MailOutcome {
    /// A new case.
    Opened(CaseCreated),
    /// A new message of an existing case.
    Appended { case: CaseId, message: MessageId },
    /// The Message-ID was taken in before: nothing was written.
    Duplicate(MailRef),
}

impl MailOutcome {
    pub fn case(&self) -> CaseId {
        match self {
            MailOutcome::Opened(c) => c.case_id,
            MailOutcome::Appended { case, .. } => *case,
            MailOutcome::Duplicate(r) => r.case,
        }
    }
}

/// How a new case opened by mail is to be announced and explained.
#[derive(Debug, Clone)]
pub struct MailCase<'a> {
    pub mail_id: &'a MailId,
    /// Keep the tracking code until the acknowledgement carrying it is sent. `false` when no
    /// automatic answer may go out (auto-submitted, list or bulk mail, a null sender).
    pub acknowledge: bool,
    /// A case this mail referred to without being allowed to join it (a stranger's reply, a
    /// reply to a closed case): the new case is linked to it (`related`).
    pub related_to: Option<CaseId>,
    /// Internal notes for the agent, added to the new case after the citizen's message (why
    /// it was not threaded, which attachments were refused).
    pub notes: &'a [Note],
}

/// An e-mail contact point of a case's subject or requester.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailContact {
    pub contact: ContactId,
    /// As entered.
    pub address: String,
    /// ASCII-lower-cased, trimmed: what addresses are compared in.
    pub normalized: String,
    pub verification: Verification,
    /// When a bounce said mail to it cannot be delivered.
    pub undeliverable_at: Option<Timestamp>,
}

/// An outbox event given up after its last retry.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    pub id: i64,
    pub kind: EventKind,
    pub case: CaseId,
    pub detail: serde_json::Value,
    pub created_at: Timestamp,
    pub attempts: u32,
    pub last_error: String,
    pub dead_at: Timestamp,
}

/// A sent mail, as [`Store::mail_sent`] records it.
#[derive(Debug, Clone)]
pub struct SentMail<'a> {
    pub mail_id: &'a MailId,
    /// The recipient, when the mail was an automatic answer (counted for its rate limit).
    pub automatic_to: Option<&'a str>,
}

fn mail_ref(sql: &Connection, mail_id: &MailId) -> Result<Option<MailRef>, ReadError> {
    let row: Option<(i64, Option<i64>, String)> = sql
        .prepare_cached(
            "SELECT case_id, message_id, direction FROM mail_messages WHERE mail_id = ?1",
        )
        .db()?
        .query_row([mail_id.as_str()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()
        .db()?;
    row.map(|(case, message, direction)| {
        Ok(MailRef {
            case: CaseId::from_raw(case),
            message: message.map(MessageId::from_raw),
            direction: decode::code("direction", &direction, Direction::from_code)?,
        })
    })
    .transpose()
}

fn record(
    tx: &Tx<'_>,
    mail_id: &MailId,
    case: CaseId,
    message: Option<MessageId>,
    direction: Direction,
) -> Result<(), WriteError> {
    tx.sql
        .prepare_cached(
            "INSERT INTO mail_messages (mail_id, case_id, message_id, direction, at)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
        )
        .db()?
        .execute(params![
            mail_id.as_str(),
            case.get(),
            message.map(MessageId::get),
            direction.code(),
            tx.now.unix_ms()
        ])
        .db()?;
    Ok(())
}

/// Adds an internal note by the system to `case`, on the e-mail channel.
fn note(tx: &mut Tx<'_>, case: CaseId, text: &Note) -> Result<MessageId, WriteError> {
    let state = tx.case_state(case)?;
    let language = crate::Language::new(state.shape.language.clone())?;
    let msg = NewMessage {
        direction: Direction::Out,
        channel: Channel::Email,
        author: Actor::System,
        visibility: Visibility::Internal,
        language,
        body: Body::new(text.as_str())?,
        attachments: Vec::new(),
    };
    add_message_in(tx, case, &msg, Expect::Any)
}

impl Store {
    /// The case a Message-ID taken in or sent belongs to.
    pub fn mail_lookup(&self, mail_id: &MailId) -> Result<Option<MailRef>, ReadError> {
        self.read(|conn| mail_ref(conn, mail_id))
    }

    /// Opens a case from a mail, in one transaction: the case (as [`Store::create_case`]),
    /// the Message-ID, the tracking code kept for the acknowledgement, the link to a case the
    /// mail referred to, and the agent's notes. A Message-ID seen before writes nothing.
    pub fn open_mail_case(
        &self,
        new: &NewCase,
        mail: &MailCase<'_>,
    ) -> Result<MailOutcome, WriteError> {
        self.write(|tx| {
            if let Some(seen) = mail_ref(&tx.sql, mail.mail_id)? {
                return Ok(MailOutcome::Duplicate(seen));
            }
            let created = insert_live(tx, new)?;
            let Some(code) = &created.tracking_code else {
                // The idempotency key was seen under another Message-ID: the same mail.
                let case = created.case_id;
                return Ok(MailOutcome::Duplicate(MailRef {
                    case,
                    message: None,
                    direction: Direction::In,
                }));
            };
            let first: Option<i64> = tx
                .sql
                .prepare_cached("SELECT min(id) FROM messages WHERE case_id = ?1")
                .db()?
                .query_row([created.case_id.get()], |r| r.get(0))
                .db()?;
            record(
                tx,
                mail.mail_id,
                created.case_id,
                first.map(MessageId::from_raw),
                Direction::In,
            )?;
            if mail.acknowledge {
                tx.sql
                    .prepare_cached(
                        "INSERT INTO mail_ack_codes (case_id, code, created_at) VALUES (?1, ?2, ?3)",
                    )
                    .db()?
                    .execute(params![created.case_id.get(), code.as_str(), tx.now.unix_ms()])
                    .db()?;
            }
            if let Some(other) = mail.related_to {
                link_in(tx, created.case_id, other, LinkKind::Related, &Actor::System)?;
            }
            for text in mail.notes {
                note(tx, created.case_id, text)?;
            }
            Ok(MailOutcome::Opened(created))
        })
    }

    /// Adds a mail to an existing case (the caller checked that the sender may), in one
    /// transaction with its Message-ID and the agent's notes. A Message-ID seen before writes
    /// nothing.
    pub fn append_mail(
        &self,
        case: CaseId,
        msg: &NewMessage,
        mail_id: &MailId,
        notes: &[Note],
    ) -> Result<MailOutcome, WriteError> {
        if msg.direction != Direction::In || msg.visibility != Visibility::External {
            return Err(crate::InvalidValue {
                what: "mail",
                reason: "taken in must be an external message from outside",
            }
            .into());
        }
        self.write(|tx| {
            if let Some(seen) = mail_ref(&tx.sql, mail_id)? {
                return Ok(MailOutcome::Duplicate(seen));
            }
            let message = add_message_in(tx, case, msg, Expect::Any)?;
            record(tx, mail_id, case, Some(message), Direction::In)?;
            for text in notes {
                note(tx, case, text)?;
            }
            Ok(MailOutcome::Appended { case, message })
        })
    }

    /// The Message-IDs of a case's mail, in and out, oldest first: the last `limit` of them
    /// (what an outgoing mail's `References` lists).
    pub fn mail_thread(
        &self,
        case: CaseId,
        limit: usize,
    ) -> Result<Vec<(MailId, Direction)>, ReadError> {
        self.read(|conn| {
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let mut stmt = conn
                .prepare_cached(
                    "SELECT mail_id, direction FROM (
                         SELECT mail_id, direction, at FROM mail_messages WHERE case_id = ?1
                         ORDER BY at DESC, mail_id DESC LIMIT ?2)
                     ORDER BY at, mail_id",
                )
                .db()?;
            let mut out = Vec::new();
            let mut found = stmt.query(params![case.get(), limit]).db()?;
            while let Some(r) = found.next().db()? {
                let id: String = r.get(0).db()?;
                let direction: String = r.get(1).db()?;
                out.push((
                    decode::text(id, |s| MailId::new(&s))?,
                    decode::code("direction", &direction, Direction::from_code)?,
                ));
            }
            Ok(out)
        })
    }

    /// The e-mail contact points of the case's subject and requester, subject first.
    pub fn mail_contacts(&self, case: CaseId) -> Result<Vec<MailContact>, ReadError> {
        self.read(|conn| {
            let sql = "SELECT c.id, c.value, c.normalized, c.verification, c.undeliverable_at
                       FROM persons p JOIN contact_points c ON c.person_id = p.id
                       WHERE p.case_id = ?1 AND c.kind = 'email' AND c.normalized IS NOT NULL
                       ORDER BY p.role = 'requester', p.id, c.id";
            rows(conn, sql, case.get(), |r| {
                let verification: String = r.get(3).db()?;
                Ok(MailContact {
                    contact: ContactId::from_raw(r.get(0).db()?),
                    address: r.get(1).db()?,
                    normalized: r.get(2).db()?,
                    verification: decode::code(
                        "verification",
                        &verification,
                        Verification::from_code,
                    )?,
                    undeliverable_at: decode::opt_time(r.get(4).db()?),
                })
            })
        })
    }

    /// Whether `address` is a verified e-mail contact of the case: the one test a reply must
    /// pass to be added to it.
    pub fn is_verified_sender(&self, case: CaseId, address: &str) -> Result<bool, ReadError> {
        let Some(wanted) = normalized_contact(crate::ContactKind::Email, address) else {
            return Ok(false);
        };
        Ok(self
            .mail_contacts(case)?
            .iter()
            .any(|c| c.normalized == wanted && c.verification == Verification::Verified))
    }

    /// A bounce: marks the case's e-mail contact points with `address` undeliverable, records
    /// the bounce's Message-ID, and adds `note` for the agent, in one transaction. Returns how
    /// many contact points were marked (0 if the case has none with that address: the note is
    /// still added). A bounce seen before writes nothing and returns 0.
    pub fn mark_undeliverable(
        &self,
        case: CaseId,
        address: &str,
        bounce_id: &MailId,
        reason: &Note,
    ) -> Result<usize, WriteError> {
        let wanted = normalized_contact(crate::ContactKind::Email, address).unwrap_or_default();
        self.write(|tx| {
            if mail_ref(&tx.sql, bounce_id)?.is_some() {
                return Ok(0);
            }
            tx.case_state(case)?;
            let marked = tx
                .sql
                .prepare_cached(
                    "UPDATE contact_points SET undeliverable_at = ?3, undeliverable_reason = ?4,
                            updated_at = ?3
                     WHERE kind = 'email' AND normalized = ?2
                       AND person_id IN (SELECT id FROM persons WHERE case_id = ?1)",
                )
                .db()?
                .execute(params![
                    case.get(),
                    wanted,
                    tx.now.unix_ms(),
                    reason.as_str()
                ])
                .db()?;
            record(tx, bounce_id, case, None, Direction::In)?;
            note(tx, case, reason)?;
            Ok(marked)
        })
    }

    /// The tracking code an acknowledgement of `case` still has to tell, if any.
    pub fn mail_ack_code(&self, case: CaseId) -> Result<Option<String>, ReadError> {
        self.read(|conn| {
            conn.prepare_cached("SELECT code FROM mail_ack_codes WHERE case_id = ?1")
                .db()?
                .query_row([case.get()], |r| r.get(0))
                .optional()
                .db()
                .map_err(ReadError::from)
        })
    }

    /// The Message-ID of outbox event `event`'s mail: `fresh` the first time, the same one on
    /// every retry after.
    pub fn mail_pending_id(&self, event: OutboxId, fresh: &MailId) -> Result<MailId, WriteError> {
        self.write(|tx| {
            tx.sql
                .prepare_cached(
                    // A row older than the event is left from an earlier event with the
                    // same (reused) id: it is replaced.
                    "INSERT INTO mail_pending (outbox_id, mail_id, created_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (outbox_id) DO UPDATE SET mail_id = excluded.mail_id,
                         created_at = excluded.created_at
                     WHERE mail_pending.created_at <
                           (SELECT o.created_at FROM outbox o WHERE o.id = excluded.outbox_id)",
                )
                .db()?
                .execute(params![event.get(), fresh.as_str(), tx.now.unix_ms()])
                .db()?;
            let id: String = tx
                .sql
                .prepare_cached("SELECT mail_id FROM mail_pending WHERE outbox_id = ?1")
                .db()?
                .query_row([event.get()], |r| r.get(0))
                .db()?;
            MailId::new(&id).map_err(|e| WriteError::Corrupt(e.to_string()))
        })
    }

    /// The relay accepted event `event`'s mail (or there was nothing to send, with `None`):
    /// the event leaves the outbox, and in the same transaction the Message-ID joins the
    /// case's thread, the case's kept tracking code is forgotten once an acknowledgement
    /// went out, and an automatic answer is counted against its recipient.
    pub fn mail_sent(
        &self,
        event: OutboxId,
        case: CaseId,
        sent: Option<&SentMail<'_>>,
    ) -> Result<(), WriteError> {
        self.write(|tx| {
            let kind: Option<String> = tx
                .sql
                .prepare_cached("DELETE FROM outbox WHERE id = ?1 RETURNING kind")
                .db()?
                .query_row([event.get()], |r| r.get(0))
                .optional()
                .db()?;
            let Some(kind) = kind else {
                return Err(WriteError::NotFound {
                    what: "outbox event",
                    id: event.get(),
                });
            };
            forget_pending(tx, event, case, &kind)?;
            if let Some(sent) = sent {
                record(tx, sent.mail_id, case, None, Direction::Out)?;
                if let Some(to) = sent.automatic_to {
                    let to = normalized_contact(crate::ContactKind::Email, to).unwrap_or_default();
                    tx.sql
                        .prepare_cached(
                            "INSERT INTO mail_auto_replies (address, at) VALUES (?1, ?2)",
                        )
                        .db()?
                        .execute(params![to, tx.now.unix_ms()])
                        .db()?;
                    // Counts older than a day answer no question; keep the table small.
                    tx.sql
                        .prepare_cached(
                            "DELETE FROM mail_auto_replies WHERE address = ?1 AND at < ?2",
                        )
                        .db()?
                        .execute(params![to, tx.now.unix_ms() - 86_400_000])
                        .db()?;
                }
            }
            Ok(())
        })
    }

    /// Automatic answers sent to `address` since `since`.
    pub fn auto_replies_since(&self, address: &str, since: Timestamp) -> Result<u64, ReadError> {
        let address = normalized_contact(crate::ContactKind::Email, address).unwrap_or_default();
        self.read(|conn| {
            let n: i64 = conn
                .prepare_cached(
                    "SELECT count(*) FROM mail_auto_replies WHERE address = ?1 AND at >= ?2",
                )
                .db()?
                .query_row(params![address, since.unix_ms()], |r| r.get(0))
                .db()?;
            decode::count(n)
        })
    }

    /// Gives an event up after its last retry: it leaves the outbox for the dead letters, and
    /// `note` (why) is added to its case for the agent, in one transaction.
    pub fn outbox_dead_letter(
        &self,
        event: OutboxId,
        error: &str,
        note_text: &Note,
    ) -> Result<(), WriteError> {
        let error: String = error.chars().take(MAX_ERROR_CHARS).collect();
        self.write(|tx| {
            let row: Option<(String, i64, String, i64, i64)> = tx
                .sql
                .prepare_cached(
                    "SELECT kind, case_id, detail, created_at, attempts FROM outbox WHERE id = ?1",
                )
                .db()?
                .query_row([event.get()], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })
                .optional()
                .db()?;
            let Some((kind, case, detail, created_at, attempts)) = row else {
                return Err(WriteError::NotFound {
                    what: "outbox event",
                    id: event.get(),
                });
            };
            tx.sql
                .prepare_cached(
                    "INSERT INTO outbox_dead (outbox_id, kind, case_id, detail, created_at,
                     attempts, last_error, dead_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )
                .db()?
                .execute(params![
                    event.get(),
                    kind,
                    case,
                    detail,
                    created_at,
                    attempts + 1,
                    error,
                    tx.now.unix_ms()
                ])
                .db()?;
            let case = CaseId::from_raw(case);
            forget_pending(tx, event, case, &kind)?;
            // The note's own event is written while this one still holds its id, so the id is
            // not handed out again at once (SQLite reuses the largest rowid once it is gone).
            note(tx, case, note_text)?;
            tx.sql
                .prepare_cached("DELETE FROM outbox WHERE id = ?1")
                .db()?
                .execute([event.get()])
                .db()?;
            Ok(())
        })
    }

    /// Dead letters, newest first: of one case, or of all with `None`; at most `limit`.
    pub fn dead_letters(
        &self,
        case: Option<CaseId>,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, ReadError> {
        self.read(|conn| {
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let mut stmt = conn
                .prepare_cached(
                    "SELECT id, kind, case_id, detail, created_at, attempts, last_error, dead_at
                     FROM outbox_dead WHERE ?1 IS NULL OR case_id = ?1
                     ORDER BY id DESC LIMIT ?2",
                )
                .db()?;
            let mut found = stmt.query(params![case.map(CaseId::get), limit]).db()?;
            let mut out = Vec::new();
            while let Some(r) = found.next().db()? {
                let kind: String = r.get(1).db()?;
                let detail: String = r.get(3).db()?;
                out.push(DeadLetter {
                    id: r.get(0).db()?,
                    kind: decode::code("event kind", &kind, EventKind::from_code)?,
                    case: CaseId::from_raw(r.get(2).db()?),
                    detail: serde_json::from_str(&detail)
                        .map_err(|e| ReadError::Corrupt(format!("dead letter detail: {e}")))?,
                    created_at: decode::time(r.get(4).db()?),
                    attempts: u32::try_from(r.get::<_, i64>(5).db()?).unwrap_or(u32::MAX),
                    last_error: r.get(6).db()?,
                    dead_at: decode::time(r.get(7).db()?),
                });
            }
            Ok(out)
        })
    }

    /// Puts a dead letter back into the outbox, due now, with its attempts reset (a person
    /// fixed the cause). Returns the new event's id.
    pub fn requeue_dead_letter(&self, id: i64) -> Result<OutboxId, WriteError> {
        self.write(|tx| {
            let row: Option<(String, i64, String, i64)> = tx
                .sql
                .prepare_cached(
                    "DELETE FROM outbox_dead WHERE id = ?1 RETURNING kind, case_id, detail, created_at",
                )
                .db()?
                .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .optional()
                .db()?;
            let Some((kind, case, detail, created_at)) = row else {
                return Err(WriteError::NotFound {
                    what: "dead letter",
                    id,
                });
            };
            tx.sql
                .prepare_cached(
                    "INSERT INTO outbox (kind, case_id, detail, created_at, available_at)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .db()?
                .execute(params![kind, case, detail, created_at, tx.now.unix_ms()])
                .db()?;
            Ok(OutboxId::from_raw(tx.sql.last_insert_rowid()))
        })
    }
}

/// An event is finished: its kept Message-ID goes, and so does the case's kept tracking code
/// once its acknowledgement (the `case.created` event) is finished either way.
fn forget_pending(
    tx: &Tx<'_>,
    event: OutboxId,
    case: CaseId,
    kind: &str,
) -> Result<(), WriteError> {
    tx.sql
        .prepare_cached("DELETE FROM mail_pending WHERE outbox_id = ?1")
        .db()?
        .execute([event.get()])
        .db()?;
    if kind == EventKind::CaseCreated.code() {
        tx.sql
            .prepare_cached("DELETE FROM mail_ack_codes WHERE case_id = ?1")
            .db()?
            .execute([case.get()])
            .db()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
