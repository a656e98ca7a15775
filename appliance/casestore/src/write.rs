//! Row writers shared by the operations. Each runs inside the caller's [`Tx`], so whatever an
//! operation writes (case, message, search row, attachment rows, history, queue rows, outbox
//! event) commits or rolls back together.

use rusqlite::{OptionalExtension as _, params};
use serde_json::{Value, json};

use crate::counters::Shape;
use crate::error::{DbError, DbResult as _, WriteError};
use crate::model::{
    Actor, AttachmentId, Body, CaseId, CaseNumber, ChangedField, Channel, ContactId, ContactKind,
    Direction, EventKind, Expect, Language, MessageId, NewAttachment, NewContact, NewPerson, Note,
    PersonId, Relationship, Role, Sensitivity, StatMetric, Status, Timestamp, Visibility,
};
use crate::read::decode;
use crate::search;
use crate::store::Tx;

/// What a write needs to know about the case it changes.
#[derive(Debug, Clone)]
pub(crate) struct CaseState {
    pub(crate) id: CaseId,
    pub(crate) case_no: CaseNumber,
    pub(crate) shape: Shape,
    /// As read at the start of the transaction (before this transaction's bump).
    pub(crate) version: u64,
    pub(crate) first_response_at: Option<i64>,
    pub(crate) resolved_at: Option<i64>,
}

impl CaseState {
    /// Refuses the change if the caller saw another version of the case.
    pub(crate) fn expect(&self, expect: Expect) -> Result<(), WriteError> {
        match expect {
            Expect::Version(v) if v != self.version => Err(WriteError::Conflict {
                case: self.id,
                expected: v,
                current: self.version,
            }),
            _ => Ok(()),
        }
    }

    /// Refuses a change that only an open-for-work case may take while it is merged.
    pub(crate) fn not_merged(&self) -> Result<(), WriteError> {
        if self.shape.status == Status::Merged {
            return Err(WriteError::CaseMerged(self.id));
        }
        Ok(())
    }
}

/// A message about to be written.
#[derive(Debug)]
pub(crate) struct MessageRow<'a> {
    pub(crate) direction: Direction,
    pub(crate) channel: Channel,
    pub(crate) author: &'a Actor,
    pub(crate) visibility: Visibility,
    pub(crate) language: &'a Language,
    pub(crate) body: &'a Body,
    /// The owning consulate, for the search index's scope column.
    pub(crate) consulate: &'a str,
}

impl Tx<'_> {
    /// The current state of case `id`, or `NoSuchCase`.
    pub(crate) fn case_state(&self, id: CaseId) -> Result<CaseState, WriteError> {
        let mut stmt = self
            .sql
            .prepare_cached(
                "SELECT year, seq, consulate, status, priority, assignee, created_at, type_code,
                        language, channel, sensitivity, version, first_response_at, resolved_at
                 FROM cases WHERE id = ?1",
            )
            .db()?;
        let row = stmt
            .query_row([id.get()], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, String>(7)?,
                    r.get::<_, String>(8)?,
                    r.get::<_, String>(9)?,
                    r.get::<_, String>(10)?,
                    r.get::<_, i64>(11)?,
                    r.get::<_, Option<i64>>(12)?,
                    r.get::<_, Option<i64>>(13)?,
                ))
            })
            .optional()
            .db()?;
        let Some((
            year,
            seq,
            consulate,
            status,
            priority,
            assignee,
            created_at,
            ty,
            lang,
            ch,
            sens,
            version,
            first_response_at,
            resolved_at,
        )) = row
        else {
            return Err(WriteError::NoSuchCase(id));
        };
        let sensitivity = decode::code("sensitivity", &sens, Sensitivity::from_code)?;
        let version = u64::try_from(version)
            .map_err(|_| WriteError::Corrupt(format!("case {id}: version {version}")))?;
        Ok(CaseState {
            id,
            case_no: CaseNumber::new(year, seq)
                .map_err(|e| WriteError::Corrupt(format!("case {id}: {e}")))?,
            shape: Shape {
                consulate,
                status: decode::status(&status)?,
                priority: decode::priority(priority)?,
                assignee,
                created_at,
                type_code: ty,
                language: lang,
                channel: ch,
                sensitivity,
            },
            version,
            first_response_at,
            resolved_at,
        })
    }

    /// 1 the first time this transaction changes `case`, 0 after: what its version grows by.
    fn bump(&mut self, case: CaseId) -> i64 {
        i64::from(self.deltas.first_change(case))
    }

    /// Writes the case's new shape to its header, bumps `updated_at` and the version, and
    /// moves its queue rows and counters.
    pub(crate) fn reshape(&mut self, case: &CaseState, new: Shape) -> Result<CaseState, DbError> {
        let bump = self.bump(case.id);
        self.sql
            .prepare_cached(
                "UPDATE cases SET status = ?2, priority = ?3, assignee = ?4, sensitivity = ?5,
                        type_code = ?6, updated_at = ?7, version = version + ?8
                 WHERE id = ?1",
            )
            .db()?
            .execute(params![
                case.id.get(),
                new.status.code(),
                new.priority.rank(),
                new.assignee,
                new.sensitivity.code(),
                new.type_code,
                self.now.unix_ms(),
                bump
            ])
            .db()?;
        crate::counters::apply(self, case.id, Some(&case.shape), &new)?;
        Ok(CaseState {
            shape: new,
            ..case.clone()
        })
    }

    /// Bumps the case's `updated_at` and (once per transaction) its version: something of it
    /// changed.
    pub(crate) fn touch(&mut self, case: CaseId) -> Result<(), DbError> {
        let bump = self.bump(case);
        self.sql
            .prepare_cached(
                "UPDATE cases SET updated_at = ?2, version = version + ?3 WHERE id = ?1",
            )
            .db()?
            .execute(params![case.get(), self.now.unix_ms(), bump])
            .db()?;
        Ok(())
    }

    /// Records now as the case's first response or resolution and counts its duration in the
    /// histogram. The caller has checked that the time was not set yet, and touches or
    /// reshapes the case in the same transaction.
    pub(crate) fn set_time(&mut self, case: &CaseState, metric: StatMetric) -> Result<(), DbError> {
        let column = match metric {
            StatMetric::FirstResponse => "first_response_at",
            StatMetric::Resolution => "resolved_at",
        };
        self.sql
            .prepare_cached(&format!("UPDATE cases SET {column} = ?2 WHERE id = ?1"))
            .db()?
            .execute(params![case.id.get(), self.now.unix_ms()])
            .db()?;
        let now = self.now;
        self.deltas.histogram(
            (&case.shape.consulate, case.shape.sensitivity),
            metric,
            case.shape.created_at,
            now,
            1,
        );
        Ok(())
    }

    /// Moves the case's counted times (first response, resolution) from the histogram of
    /// sensitivity `from` to that of its present one, after a change of sensitivity.
    pub(crate) fn move_times(&mut self, case: &CaseState, from: Sensitivity) {
        let times = [
            (StatMetric::FirstResponse, case.first_response_at),
            (StatMetric::Resolution, case.resolved_at),
        ];
        for (metric, at) in times {
            let Some(at) = at.map(Timestamp::from_unix_ms) else {
                continue;
            };
            let consulate = case.shape.consulate.as_str();
            let created_at = case.shape.created_at;
            self.deltas
                .histogram((consulate, from), metric, created_at, at, -1);
            self.deltas.histogram(
                (consulate, case.shape.sensitivity),
                metric,
                created_at,
                at,
                1,
            );
        }
    }

    /// Appends to the case's change log (header fields other than the status).
    pub(crate) fn change(
        &mut self,
        case: CaseId,
        field: ChangedField,
        from: Option<&str>,
        to: Option<&str>,
        actor: &Actor,
        note: Option<&Note>,
    ) -> Result<(), DbError> {
        self.sql
            .prepare_cached(
                "INSERT INTO case_changes (case_id, at, field, from_value, to_value, actor, note)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .db()?
            .execute(params![
                case.get(),
                self.now.unix_ms(),
                field.code(),
                from,
                to,
                actor.code(),
                note.map(Note::as_str)
            ])
            .db()?;
        Ok(())
    }

    /// Queues an outbox event about `case`; `extra` (a JSON object) adds to the common fields.
    pub(crate) fn event(
        &mut self,
        kind: EventKind,
        case: &CaseState,
        extra: Value,
    ) -> Result<(), DbError> {
        let mut detail = json!({
            "case_no": case.case_no.to_string(),
            "consulate": case.shape.consulate,
            "priority": case.shape.priority.code(),
            "status": case.shape.status.code(),
            "type": case.shape.type_code,
            "sensitivity": case.shape.sensitivity.code(),
        });
        if let (Some(all), Value::Object(more)) = (detail.as_object_mut(), extra) {
            all.extend(more);
        }
        self.sql
            .prepare_cached(
                "INSERT INTO outbox (kind, case_id, detail, created_at, available_at)
                 VALUES (?1, ?2, ?3, ?4, ?4)",
            )
            .db()?
            .execute(params![
                kind.code(),
                case.id.get(),
                detail.to_string(),
                self.now.unix_ms()
            ])
            .db()?;
        Ok(())
    }

    /// Writes a message and its search-index row.
    pub(crate) fn message(
        &mut self,
        case: CaseId,
        m: &MessageRow<'_>,
    ) -> Result<MessageId, DbError> {
        self.sql
            .prepare_cached(
                "INSERT INTO messages (case_id, at, direction, channel, author, visibility,
                 language, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .db()?
            .execute(params![
                case.get(),
                self.now.unix_ms(),
                m.direction.code(),
                m.channel.code(),
                m.author.code(),
                m.visibility.code(),
                m.language.as_str(),
                m.body.as_str()
            ])
            .db()?;
        let id = self.sql.last_insert_rowid();
        self.sql
            .prepare_cached("INSERT INTO message_fts (rowid, body, scope) VALUES (?1, ?2, ?3)")
            .db()?
            .execute(params![
                id,
                search::normalize(m.body.as_str()),
                search::scope_token(m.consulate)
            ])
            .db()?;
        Ok(MessageId::from_raw(id))
    }

    pub(crate) fn attachment(
        &mut self,
        case: CaseId,
        message: Option<MessageId>,
        a: &NewAttachment,
    ) -> Result<AttachmentId, WriteError> {
        let size = i64::try_from(a.size).map_err(|_| crate::InvalidValue {
            what: "attachment size",
            reason: "is too large",
        })?;
        let verdict_at = (a.verdict != crate::ScanVerdict::Pending).then_some(self.now.unix_ms());
        self.sql
            .prepare_cached(
                "INSERT INTO attachments (case_id, message_id, sha256, size, media_type,
                 file_name, verdict, verdict_at, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .db()?
            .execute(params![
                case.get(),
                message.map(MessageId::get),
                &a.sha256.0[..],
                size,
                a.media_type.as_str(),
                a.file_name.as_str(),
                a.verdict.code(),
                verdict_at,
                self.now.unix_ms()
            ])
            .db()?;
        Ok(AttachmentId::from_raw(self.sql.last_insert_rowid()))
    }

    pub(crate) fn person(
        &mut self,
        case: CaseId,
        role: Role,
        relationship: Relationship,
        p: &NewPerson,
    ) -> Result<PersonId, DbError> {
        self.sql
            .prepare_cached(
                "INSERT INTO persons (case_id, role, relationship, family_name, given_names,
                 birth_date) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .db()?
            .execute(params![
                case.get(),
                role.code(),
                relationship.code(),
                p.family_name.as_str(),
                p.given_names.as_str(),
                p.birth_date.as_ref().map(|d| d.as_str())
            ])
            .db()?;
        let id = PersonId::from_raw(self.sql.last_insert_rowid());
        for contact in &p.contacts {
            self.contact(id, contact)?;
        }
        let mut identifier = self
            .sql
            .prepare_cached(
                "INSERT INTO person_identifiers (person_id, kind, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT DO NOTHING",
            )
            .db()?;
        for i in &p.identifiers {
            identifier
                .execute(params![id.get(), i.kind().code(), i.value()])
                .db()?;
        }
        Ok(id)
    }

    pub(crate) fn contact(
        &mut self,
        person: PersonId,
        c: &NewContact,
    ) -> Result<ContactId, DbError> {
        self.sql
            .prepare_cached(
                "INSERT INTO contact_points (person_id, kind, value, verification, updated_at,
                 normalized) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .db()?
            .execute(params![
                person.get(),
                c.kind.code(),
                c.value.as_str(),
                c.verification.code(),
                self.now.unix_ms(),
                normalized_contact(c.kind, c.value.as_str())
            ])
            .db()?;
        Ok(ContactId::from_raw(self.sql.last_insert_rowid()))
    }

    /// Opens the status history of a case created in this transaction: its first entry,
    /// numbered 1 without reading anything (a new case has no entries yet).
    pub(crate) fn opening_history(
        &mut self,
        case: CaseId,
        to: Status,
        actor: &Actor,
    ) -> Result<(), DbError> {
        self.sql
            .prepare_cached(
                "INSERT INTO status_history (case_id, id, at, from_status, to_status, actor, note)
                 VALUES (?1, 1, ?2, NULL, ?3, ?4, NULL)",
            )
            .db()?
            .execute(params![
                case.get(),
                self.now.unix_ms(),
                to.code(),
                actor.code()
            ])
            .db()?;
        Ok(())
    }

    /// Appends to the case's status history, after its last entry.
    pub(crate) fn history(
        &mut self,
        case: CaseId,
        from: Option<Status>,
        to: Status,
        actor: &Actor,
        note: Option<&Note>,
    ) -> Result<(), DbError> {
        self.sql
            .prepare_cached(
                "INSERT INTO status_history (case_id, id, at, from_status, to_status, actor, note)
                 VALUES (?1, (SELECT coalesce(max(id), 0) + 1 FROM status_history
                              WHERE case_id = ?1), ?2, ?3, ?4, ?5, ?6)",
            )
            .db()?
            .execute(params![
                case.get(),
                self.now.unix_ms(),
                from.map(Status::code),
                to.code(),
                actor.code(),
                note.map(Note::as_str)
            ])
            .db()?;
        Ok(())
    }
}

/// A contact value in the form related cases are matched on (the migration's backfill applies
/// the same rule in SQL): e-mail without surrounding spaces and ASCII-lower-cased, a phone
/// number's digits; `None` for other kinds and for nothing left.
pub(crate) fn normalized_contact(kind: ContactKind, value: &str) -> Option<String> {
    let normalized = match kind {
        ContactKind::Email => value.trim_matches(' ').to_ascii_lowercase(),
        ContactKind::Phone => value.chars().filter(char::is_ascii_digit).collect(),
        ContactKind::Im => return None,
    };
    (!normalized.is_empty()).then_some(normalized)
}
