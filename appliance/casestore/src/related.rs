//! Related cases: other cases that may concern the same person, suggested to the agent and
//! never merged or linked by the store itself.
//!
//! Two cases are related when a person of one and a person of the other share a CNP or a
//! passport number (`person_identifiers`), or an e-mail address or phone number compared in
//! normalised form (`contact_points.normalized`, see `write::normalized_contact`). Every
//! look-up is one walk of the value's index, newest first and bounded by the limit, so a value
//! shared by thousands of cases (an NGO's address) costs no more than a rare one.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension as _, params};

use crate::error::{DbResult as _, ReadError};
use crate::model::{CaseId, CaseNumber, IdKind, MatchedOn, RelatedCase};
use crate::read::decode;
use crate::store::Store;

/// The most suggestions one call returns.
pub(crate) const MAX_RELATED: usize = 200;

/// Cases holding a person with identity number (`?1` kind, `?2` value), newest first. The
/// person's case is a subquery so that it is always a primary-key look-up, whatever the
/// planner's statistics say.
const BY_IDENTIFIER: &str = "SELECT (SELECT p.case_id FROM persons p WHERE p.id = i.person_id)
    FROM person_identifiers i
    WHERE i.kind = ?1 AND i.value = ?2 ORDER BY i.person_id DESC LIMIT ?3";

/// Cases holding a person with contact point (`?1` kind, `?2` normalised value), newest first.
const BY_CONTACT: &str = "SELECT (SELECT p.case_id FROM persons p WHERE p.id = c.person_id)
    FROM contact_points c
    WHERE c.kind = ?1 AND c.normalized = ?2 ORDER BY c.person_id DESC LIMIT ?3";

impl Store {
    /// Up to `limit` (at most 200) other cases sharing an identity number or a contact point
    /// with a person of `case`: identity-number matches first, then e-mail, then phone, each
    /// newest first. Empty for an unknown case.
    pub fn related_cases(&self, case: CaseId, limit: usize) -> Result<Vec<RelatedCase>, ReadError> {
        let limit = limit.min(MAX_RELATED);
        self.read(|conn| related(conn, case, limit))
    }
}

fn related(conn: &Connection, case: CaseId, limit: usize) -> Result<Vec<RelatedCase>, ReadError> {
    let keys = keys(conn, case)?;
    let mut found: HashMap<i64, MatchedOn> = HashMap::new();
    let mut order: Vec<(MatchedOn, i64)> = Vec::new();
    for matched_on in MatchedOn::ALL {
        if found.len() >= limit {
            break;
        }
        let sql = match matched_on {
            MatchedOn::Cnp | MatchedOn::Passport => BY_IDENTIFIER,
            MatchedOn::Email | MatchedOn::Phone => BY_CONTACT,
        };
        // Enough rows that, after this case and the cases already found, `limit` remain.
        let want = i64::try_from(limit + found.len() + 8).unwrap_or(i64::MAX);
        let mut stmt = conn.prepare_cached(sql).db()?;
        for (_, value) in keys.iter().filter(|(m, _)| m == matched_on) {
            let mut rows = stmt.query(params![matched_on.code(), value, want]).db()?;
            while let Some(row) = rows.next().db()? {
                let other: i64 = row.get(0).db()?;
                if other != case.get() && !found.contains_key(&other) {
                    found.insert(other, *matched_on);
                    order.push((*matched_on, other));
                }
            }
        }
    }
    // Strongest match first, then newest; cases are numbered in arrival order.
    order.sort_by_key(|(m, id)| (*m, std::cmp::Reverse(*id)));
    order.truncate(limit);
    let mut header = conn
        .prepare_cached("SELECT year, seq, status FROM cases WHERE id = ?1")
        .db()?;
    let mut out = Vec::with_capacity(order.len());
    for (matched_on, id) in order {
        let row: Option<(i64, i64, String)> = header
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()
            .db()?;
        let Some((year, seq, status)) = row else {
            return Err(ReadError::Corrupt(format!("a person of missing case {id}")));
        };
        out.push(RelatedCase {
            case: CaseId::from_raw(id),
            case_no: CaseNumber::new(year, seq)
                .map_err(|e| ReadError::Corrupt(format!("case {id}: {e}")))?,
            status: decode::status(&status)?,
            matched_on,
        });
    }
    Ok(out)
}

/// What the persons of `case` can be matched on, as (kind of match, stored value).
fn keys(conn: &Connection, case: CaseId) -> Result<Vec<(MatchedOn, String)>, ReadError> {
    let mut out: Vec<(MatchedOn, String)> = Vec::new();
    let mut ids = conn
        .prepare_cached(
            "SELECT i.kind, i.value FROM persons p
             CROSS JOIN person_identifiers i ON i.person_id = p.id
             WHERE p.case_id = ?1",
        )
        .db()?;
    let mut rows = ids.query([case.get()]).db()?;
    while let Some(row) = rows.next().db()? {
        let kind: String = row.get(0).db()?;
        let matched_on = match decode::code("identity number kind", &kind, IdKind::from_code)? {
            IdKind::Cnp => MatchedOn::Cnp,
            IdKind::Passport => MatchedOn::Passport,
        };
        out.push((matched_on, row.get(1).db()?));
    }
    let mut contacts = conn
        .prepare_cached(
            "SELECT c.kind, c.normalized FROM persons p
             CROSS JOIN contact_points c ON c.person_id = p.id
             WHERE p.case_id = ?1 AND c.normalized IS NOT NULL",
        )
        .db()?;
    let mut rows = contacts.query([case.get()]).db()?;
    while let Some(row) = rows.next().db()? {
        let kind: String = row.get(0).db()?;
        let matched_on = match kind.as_str() {
            "email" => MatchedOn::Email,
            "phone" => MatchedOn::Phone,
            _ => continue,
        };
        out.push((matched_on, row.get(1).db()?));
    }
    out.sort();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests;
