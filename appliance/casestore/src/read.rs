//! Reads of one case: header, persons, messages, attachments, history, links, referrals, and
//! the citizen's tracking check. Each is a short query on a pooled read-only connection.

pub(crate) mod decode;
pub(crate) mod records;

use rusqlite::{Connection, OptionalExtension as _, Row};

use crate::error::{DbResult as _, ReadError};
use crate::model::{
    AgentId, Attachment, Case, CaseId, CaseNumber, CaseType, Channel, ConsulateId, ContactId,
    ContactKind, ContactPoint, ContactValue, Family, FieldChange, IdKind, Language, Link, Message,
    Name, Person, PersonId, PersonIdentifier, Referral, Relationship, Role, Sensitivity, Sha256,
    StatusChange, TypeCode, Verification, Visibility,
};
use crate::store::Store;
use crate::tracking;
use records::{
    ATTACHMENTS, CHANGES, LINKS, MESSAGES, REFERRALS, STATUS_HISTORY, attachment_row,
    field_change_row, link_row, message_row, referral_row, status_change_row,
};

/// The columns [`case_row`] reads, in order; `c` is the `cases` table.
pub(crate) const CASE_COLUMNS: &str = "c.id, c.year, c.seq, c.type_code, c.subtype_code, \
     c.taxonomy_version, c.family, c.priority, c.sensitivity, c.status, c.consulate, \
     c.assignee, c.channel, c.language, c.created_at, c.updated_at, c.version, \
     c.first_response_at, c.resolved_at";

/// How many columns [`CASE_COLUMNS`] names.
pub(crate) const CASE_COLUMN_COUNT: usize = 19;

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
        version: decode::count(r.get(16).db()?)?,
        first_response_at: decode::opt_time(r.get(17).db()?),
        resolved_at: decode::opt_time(r.get(18).db()?),
    })
}

/// Runs `sql` with one id parameter and maps every row with `f`.
pub(crate) fn rows<T>(
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
            let all = rows(conn, MESSAGES, case.get(), message_row)?;
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
                    identifiers: Vec::new(),
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
            for person in &mut persons {
                let sql = "SELECT kind, value FROM person_identifiers WHERE person_id = ?1
                           ORDER BY id";
                person.identifiers = rows(conn, sql, person.id.get(), |r| {
                    let kind: String = r.get(0).db()?;
                    let value: String = r.get(1).db()?;
                    let kind = decode::code("identity number kind", &kind, IdKind::from_code)?;
                    PersonIdentifier::new(kind, &value)
                        .map_err(|e| ReadError::Corrupt(e.to_string()))
                })?;
            }
            Ok(persons)
        })
    }

    /// The case's change log (priority, type, sensitivity, assignee), oldest first.
    pub fn changes(&self, case: CaseId) -> Result<Vec<FieldChange>, ReadError> {
        self.read(|conn| rows(conn, CHANGES, case.get(), field_change_row))
    }

    /// The case's status history, oldest first (the first entry opened it).
    pub fn status_history(&self, case: CaseId) -> Result<Vec<StatusChange>, ReadError> {
        self.read(|conn| rows(conn, STATUS_HISTORY, case.get(), status_change_row))
    }

    /// The case's attachments, oldest first.
    pub fn attachments(&self, case: CaseId) -> Result<Vec<Attachment>, ReadError> {
        self.read(|conn| rows(conn, ATTACHMENTS, case.get(), attachment_row))
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
        self.read(|conn| rows(conn, LINKS, case.get(), link_row))
    }

    /// The case's referrals, oldest first.
    pub fn referrals(&self, case: CaseId) -> Result<Vec<Referral>, ReadError> {
        self.read(|conn| rows(conn, REFERRALS, case.get(), referral_row))
    }
}

#[cfg(test)]
mod tests;
