//! Reads of one case: header, persons, messages, attachments, history, links, referrals, and
//! the citizen's tracking check. Each is a short query on a pooled read-only connection.

pub(crate) mod decode;

use rusqlite::{Connection, OptionalExtension as _, Row};

use crate::error::{DbResult as _, ReadError};
use crate::model::{
    AgentId, Attachment, AttachmentId, Body, Case, CaseId, CaseNumber, CaseType, Channel,
    ConsulateId, ContactId, ContactKind, ContactPoint, ContactValue, Direction, Family, FileName,
    Language, Link, LinkKind, MediaType, Message, MessageId, Name, Note, Person, PersonId,
    Referral, ReferralId, Relationship, Role, ScanVerdict, Sensitivity, Sha256, StatusChange,
    TypeCode, Verification, Visibility,
};
use crate::store::Store;
use crate::tracking;

/// The columns [`case_row`] reads, in order; `c` is the `cases` table.
pub(crate) const CASE_COLUMNS: &str = "c.id, c.year, c.seq, c.type_code, c.subtype_code, \
     c.taxonomy_version, c.family, c.priority, c.sensitivity, c.status, c.consulate, \
     c.assignee, c.channel, c.language, c.created_at, c.updated_at";

/// How many columns [`CASE_COLUMNS`] names.
pub(crate) const CASE_COLUMN_COUNT: usize = 16;

/// A case header from a row whose first columns are [`CASE_COLUMNS`].
pub(crate) fn case_row(r: &Row<'_>) -> Result<Case, ReadError> {
    let id = CaseId::from_raw(r.get(0).db()?);
    let case_no = CaseNumber::new(r.get(1).db()?, r.get(2).db()?)
        .map_err(|e| ReadError::Corrupt(format!("case {id}: {e}")))?;
    let family: String = r.get(6).db()?;
    let sensitivity: String = r.get(8).db()?;
    let status: String = r.get(9).db()?;
    let channel: String = r.get(12).db()?;
    Ok(Case {
        id,
        case_no,
        case_type: CaseType {
            code: decode::text(r.get(3).db()?, TypeCode::new)?,
            subtype: decode::opt_text(r.get(4).db()?, TypeCode::new)?,
            taxonomy_version: r.get(5).db()?,
            family: decode::code("family", &family, Family::from_code)?,
        },
        priority: decode::priority(r.get(7).db()?)?,
        sensitivity: decode::code("sensitivity", &sensitivity, Sensitivity::from_code)?,
        status: decode::status(&status)?,
        consulate: decode::text(r.get(10).db()?, ConsulateId::new)?,
        assignee: decode::opt_text(r.get(11).db()?, AgentId::new)?,
        channel: decode::code("channel", &channel, Channel::from_code)?,
        language: decode::text(r.get(13).db()?, Language::new)?,
        created_at: decode::time(r.get(14).db()?),
        updated_at: decode::time(r.get(15).db()?),
    })
}

/// Runs `sql` with one id parameter and maps every row with `f`.
fn rows<T>(
    conn: &Connection,
    sql: &str,
    id: i64,
    f: impl Fn(&Row<'_>) -> Result<T, ReadError>,
) -> Result<Vec<T>, ReadError> {
    let mut stmt = conn.prepare_cached(sql).db()?;
    let mut rows = stmt.query([id]).db()?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().db()? {
        out.push(f(row)?);
    }
    Ok(out)
}

impl Store {
    /// The header of case `id`.
    pub fn case(&self, id: CaseId) -> Result<Option<Case>, ReadError> {
        self.read(|conn| {
            let sql = format!("SELECT {CASE_COLUMNS} FROM cases c WHERE c.id = ?1");
            Ok(rows(conn, &sql, id.get(), case_row)?.pop())
        })
    }

    /// The case with public number `no`.
    pub fn case_id(&self, no: CaseNumber) -> Result<Option<CaseId>, ReadError> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached("SELECT id FROM cases WHERE year = ?1 AND seq = ?2")
                .db()?;
            let id = stmt
                .query_row([i64::from(no.year()), i64::from(no.seq())], |r| r.get(0))
                .optional()
                .db()?;
            Ok(id.map(CaseId::from_raw))
        })
    }

    /// The case that `no` and the citizen's `code` open, if both are right. A wrong number and
    /// a wrong code give the same answer after the same work.
    pub fn verify_tracking(&self, no: CaseNumber, code: &str) -> Result<Option<CaseId>, ReadError> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT id, tracking_salt, tracking_tag FROM cases WHERE year = ?1 AND seq = ?2",
                )
                .db()?;
            let row: Option<(i64, Vec<u8>, Vec<u8>)> = stmt
                .query_row([i64::from(no.year()), i64::from(no.seq())], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .optional()
                .db()?;
            Ok(match row {
                Some((id, salt, tag)) if tracking::verify(&salt, &tag, code) => Some(CaseId::from_raw(id)),
                Some(_) => None,
                None => {
                    tracking::verify_nothing(code);
                    None
                }
            })
        })
    }

    /// The case's messages, oldest first; with `Some(visibility)`, only those.
    pub fn messages(
        &self,
        case: CaseId,
        only: Option<Visibility>,
    ) -> Result<Vec<Message>, ReadError> {
        self.read(|conn| {
            let sql = "SELECT id, at, direction, channel, author, visibility, language, body
                       FROM messages WHERE case_id = ?1 ORDER BY id";
            let all = rows(conn, sql, case.get(), |r| {
                let direction: String = r.get(2).db()?;
                let channel: String = r.get(3).db()?;
                let author: String = r.get(4).db()?;
                let visibility: String = r.get(5).db()?;
                Ok(Message {
                    id: MessageId::from_raw(r.get(0).db()?),
                    at: decode::time(r.get(1).db()?),
                    direction: decode::code("direction", &direction, Direction::from_code)?,
                    channel: decode::code("channel", &channel, Channel::from_code)?,
                    author: decode::actor(&author)?,
                    visibility: decode::code("visibility", &visibility, Visibility::from_code)?,
                    language: decode::text(r.get(6).db()?, Language::new)?,
                    body: decode::text(r.get(7).db()?, Body::new)?,
                })
            })?;
            Ok(all
                .into_iter()
                .filter(|m| only.is_none_or(|v| m.visibility == v))
                .collect())
        })
    }

    /// The subject first, then the requester if any, each with contact points.
    pub fn persons(&self, case: CaseId) -> Result<Vec<Person>, ReadError> {
        self.read(|conn| {
            let sql = "SELECT id, role, relationship, family_name, given_names, birth_date
                       FROM persons WHERE case_id = ?1 ORDER BY role = 'requester', id";
            let mut persons = rows(conn, sql, case.get(), |r| {
                let role: String = r.get(1).db()?;
                let relationship: String = r.get(2).db()?;
                Ok(Person {
                    id: PersonId::from_raw(r.get(0).db()?),
                    role: decode::code("role", &role, Role::from_code)?,
                    relationship: decode::code(
                        "relationship",
                        &relationship,
                        Relationship::from_code,
                    )?,
                    family_name: decode::text(r.get(3).db()?, Name::new)?,
                    given_names: decode::text(r.get(4).db()?, Name::new)?,
                    birth_date: decode::opt_text(r.get(5).db()?, crate::BirthDate::new)?,
                    contacts: Vec::new(),
                })
            })?;
            for person in &mut persons {
                let sql = "SELECT id, kind, value, verification, updated_at FROM contact_points
                           WHERE person_id = ?1 ORDER BY id";
                person.contacts = rows(conn, sql, person.id.get(), |r| {
                    let kind: String = r.get(1).db()?;
                    let verification: String = r.get(3).db()?;
                    Ok(ContactPoint {
                        id: ContactId::from_raw(r.get(0).db()?),
                        kind: decode::code("contact kind", &kind, ContactKind::from_code)?,
                        value: decode::text(r.get(2).db()?, ContactValue::new)?,
                        verification: decode::code(
                            "verification",
                            &verification,
                            Verification::from_code,
                        )?,
                        updated_at: decode::time(r.get(4).db()?),
                    })
                })?;
            }
            Ok(persons)
        })
    }

    /// The case's status history, oldest first (the first entry opened it).
    pub fn status_history(&self, case: CaseId) -> Result<Vec<StatusChange>, ReadError> {
        self.read(|conn| {
            let sql = "SELECT at, from_status, to_status, actor, note FROM status_history
                       WHERE case_id = ?1 ORDER BY id";
            rows(conn, sql, case.get(), |r| {
                let from: Option<String> = r.get(1).db()?;
                let to: String = r.get(2).db()?;
                let actor: String = r.get(3).db()?;
                Ok(StatusChange {
                    at: decode::time(r.get(0).db()?),
                    from: from.as_deref().map(decode::status).transpose()?,
                    to: decode::status(&to)?,
                    actor: decode::actor(&actor)?,
                    note: decode::opt_text(r.get(4).db()?, Note::new)?,
                })
            })
        })
    }

    /// The case's attachments, oldest first.
    pub fn attachments(&self, case: CaseId) -> Result<Vec<Attachment>, ReadError> {
        self.read(|conn| {
            let sql = "SELECT id, message_id, sha256, size, media_type, file_name, verdict,
                       verdict_at, created_at FROM attachments WHERE case_id = ?1 ORDER BY id";
            rows(conn, sql, case.get(), |r| {
                let sha: Vec<u8> = r.get(2).db()?;
                let verdict: String = r.get(6).db()?;
                let file_name: String = r.get(5).db()?;
                Ok(Attachment {
                    id: AttachmentId::from_raw(r.get(0).db()?),
                    message: r.get::<_, Option<i64>>(1).db()?.map(MessageId::from_raw),
                    sha256: Sha256(
                        <[u8; 32]>::try_from(sha.as_slice())
                            .map_err(|_| ReadError::Corrupt("attachment sha256".to_owned()))?,
                    ),
                    size: decode::count(r.get(3).db()?)?,
                    media_type: decode::text(r.get(4).db()?, MediaType::new)?,
                    file_name: FileName::sanitize(&file_name),
                    verdict: decode::code("verdict", &verdict, ScanVerdict::from_code)?,
                    verdict_at: decode::opt_time(r.get(7).db()?),
                    created_at: decode::time(r.get(8).db()?),
                })
            })
        })
    }

    /// How many attachment rows name the file with digest `sha256` (0: the file may go).
    pub fn attachment_refs(&self, sha256: &Sha256) -> Result<u64, ReadError> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached("SELECT count(*) FROM attachments WHERE sha256 = ?1")
                .db()?;
            decode::count(stmt.query_row([&sha256.0[..]], |r| r.get(0)).db()?)
        })
    }

    /// Links from and to the case.
    pub fn links(&self, case: CaseId) -> Result<Vec<Link>, ReadError> {
        self.read(|conn| {
            let sql = "SELECT kind, 1, to_case, at, actor FROM case_links WHERE from_case = ?1
                       UNION ALL
                       SELECT kind, 0, from_case, at, actor FROM case_links WHERE to_case = ?1
                       ORDER BY 4, 3";
            rows(conn, sql, case.get(), |r| {
                let kind: String = r.get(0).db()?;
                let actor: String = r.get(4).db()?;
                Ok(Link {
                    kind: decode::code("link kind", &kind, LinkKind::from_code)?,
                    outgoing: r.get::<_, i64>(1).db()? == 1,
                    other: CaseId::from_raw(r.get(2).db()?),
                    at: decode::time(r.get(3).db()?),
                    actor: decode::actor(&actor)?,
                })
            })
        })
    }

    /// The case's referrals, oldest first.
    pub fn referrals(&self, case: CaseId) -> Result<Vec<Referral>, ReadError> {
        self.read(|conn| {
            let sql = "SELECT id, body, sent_at, acknowledged_at, due_at, outcome, outcome_at
                       FROM referrals WHERE case_id = ?1 ORDER BY id";
            rows(conn, sql, case.get(), |r| {
                Ok(Referral {
                    id: ReferralId::from_raw(r.get(0).db()?),
                    body: decode::text(r.get(1).db()?, Note::new)?,
                    sent_at: decode::opt_time(r.get(2).db()?),
                    acknowledged_at: decode::opt_time(r.get(3).db()?),
                    due_at: decode::opt_time(r.get(4).db()?),
                    outcome: decode::opt_text(r.get(5).db()?, Note::new)?,
                    outcome_at: decode::opt_time(r.get(6).db()?),
                })
            })
        })
    }
}

#[cfg(test)]
mod tests;
