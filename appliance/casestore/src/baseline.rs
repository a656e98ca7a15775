//! The benchmark's baseline: the rows of a new case inserted with plain rusqlite, nothing
//! else. It lives here because this is the only crate allowed to use rusqlite (deny.toml).
//!
//! [`PlainInserts`] writes, for each [`NewCase`], the case header, its persons and contact
//! points, the first message and the attachment rows into tables with the same columns as the
//! store's but no secondary indexes, no search index, no counters, no queue rows, no outbox,
//! no idempotency check and no case-number sequence: what a hand-written insert path would
//! do. Same durability as the store (WAL, `synchronous=FULL`, one transaction per case), so
//! the store's rate divided by this one prices everything the store adds.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, params};

use crate::error::{DbError, DbResult as _};
use crate::model::NewCase;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS cases (id INTEGER PRIMARY KEY, type_code TEXT, subtype_code TEXT,
    taxonomy_version INTEGER, family TEXT, priority INTEGER, sensitivity TEXT, status TEXT,
    consulate TEXT, channel TEXT, language TEXT, created_at INTEGER, updated_at INTEGER);
CREATE TABLE IF NOT EXISTS persons (id INTEGER PRIMARY KEY, case_id INTEGER, role TEXT,
    relationship TEXT, family_name TEXT, given_names TEXT, birth_date TEXT);
CREATE TABLE IF NOT EXISTS contact_points (id INTEGER PRIMARY KEY, person_id INTEGER, kind TEXT,
    value TEXT, verification TEXT, updated_at INTEGER);
CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY, case_id INTEGER, at INTEGER,
    direction TEXT, channel TEXT, author TEXT, visibility TEXT, language TEXT, body TEXT);
CREATE TABLE IF NOT EXISTS attachments (id INTEGER PRIMARY KEY, case_id INTEGER,
    message_id INTEGER, sha256 BLOB, size INTEGER, media_type TEXT, file_name TEXT,
    verdict TEXT, created_at INTEGER);
";

/// Plain inserts of the same rows, for comparison only; not a store.
#[derive(Debug)]
pub struct PlainInserts {
    conn: Connection,
    path: PathBuf,
}

impl PlainInserts {
    /// Creates (or reopens) a baseline database at `path`.
    pub fn create(path: &Path) -> Result<Self, DbError> {
        let conn = Connection::open(path).db()?;
        conn.pragma_update(None, "journal_mode", "WAL").db()?;
        conn.pragma_update(None, "synchronous", "FULL").db()?;
        conn.execute_batch(SCHEMA).db()?;
        Ok(Self {
            conn,
            path: path.to_owned(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Inserts one case's rows in one transaction, received at `at_ms`.
    pub fn insert(&mut self, case: &NewCase, at_ms: i64) -> Result<(), DbError> {
        let tx = self.conn.transaction().db()?;
        let t = &case.case_type;
        tx.prepare_cached(
            "INSERT INTO cases (type_code, subtype_code, taxonomy_version, family, priority,
             sensitivity, status, consulate, channel, language, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'new', ?7, ?8, ?9, ?10, ?10)",
        )
        .db()?
        .execute(params![
            t.code.as_str(),
            t.subtype.as_ref().map(|s| s.as_str()),
            t.taxonomy_version,
            t.family.code(),
            case.priority.rank(),
            case.sensitivity.code(),
            case.consulate.as_str(),
            case.channel.code(),
            case.language.as_str(),
            at_ms
        ])
        .db()?;
        let id = tx.last_insert_rowid();
        let people = std::iter::once(("subject", "self", &case.subject)).chain(
            case.requester
                .iter()
                .map(|r| ("requester", r.relationship.code(), &r.person)),
        );
        for (role, relationship, person) in people {
            tx.prepare_cached(
                "INSERT INTO persons (case_id, role, relationship, family_name, given_names,
                 birth_date) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .db()?
            .execute(params![
                id,
                role,
                relationship,
                person.family_name.as_str(),
                person.given_names.as_str(),
                person.birth_date.as_ref().map(|d| d.as_str())
            ])
            .db()?;
            let person_id = tx.last_insert_rowid();
            for c in &person.contacts {
                tx.prepare_cached(
                    "INSERT INTO contact_points (person_id, kind, value, verification, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .db()?
                .execute(params![
                    person_id,
                    c.kind.code(),
                    c.value.as_str(),
                    c.verification.code(),
                    at_ms
                ])
                .db()?;
            }
        }
        tx.prepare_cached(
            "INSERT INTO messages (case_id, at, direction, channel, author, visibility, language,
             body) VALUES (?1, ?2, 'in', ?3, ?4, 'external', ?5, ?6)",
        )
        .db()?
        .execute(params![
            id,
            at_ms,
            case.channel.code(),
            case.author.code(),
            case.language.as_str(),
            case.body.as_str()
        ])
        .db()?;
        let message_id = tx.last_insert_rowid();
        for a in &case.attachments {
            tx.prepare_cached(
                "INSERT INTO attachments (case_id, message_id, sha256, size, media_type,
                 file_name, verdict, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .db()?
            .execute(params![
                id,
                message_id,
                &a.sha256.0[..],
                i64::try_from(a.size).unwrap_or(i64::MAX),
                a.media_type.as_str(),
                a.file_name.as_str(),
                a.verdict.code(),
                at_ms
            ])
            .db()?;
        }
        tx.commit().db()
    }
}
