//! Versioned schema migrations, applied when a store opens.
//!
//! `PRAGMA user_version` is the number of migrations applied; `PRAGMA application_id` marks the
//! file as a case store, so a store never migrates some other database. Each migration runs in
//! its own `BEGIN IMMEDIATE` transaction together with the version bump, and the version is read
//! again inside it, so two processes opening the same file at once apply each step once and a
//! failed step leaves the previous version intact. Released migrations never change: a change is
//! a new file at the end of [`MIGRATIONS`].

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use crate::error::{DbResult as _, OpenError};

/// "LGCS": the `application_id` of a case store.
pub(crate) const APPLICATION_ID: i64 = 0x4C47_4353;

/// One schema step: the SQL that takes version `version - 1` to `version`.
#[derive(Debug)]
pub(crate) struct Migration {
    pub(crate) version: i64,
    pub(crate) name: &'static str,
    pub(crate) sql: &'static str,
}

/// Every migration, in order; `MIGRATIONS[i].version == i + 1`.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "cases",
        sql: include_str!("../migrations/0001_cases.sql"),
    },
    Migration {
        version: 2,
        name: "links_referrals",
        sql: include_str!("../migrations/0002_links_referrals.sql"),
    },
    Migration {
        version: 3,
        name: "queues",
        sql: include_str!("../migrations/0003_queues.sql"),
    },
    Migration {
        version: 4,
        name: "casework",
        sql: include_str!("../migrations/0004_casework.sql"),
    },
    Migration {
        version: 5,
        name: "staff_knowledge",
        sql: include_str!("../migrations/0005_staff_knowledge.sql"),
    },
    Migration {
        version: 6,
        name: "mail",
        sql: include_str!("../migrations/0006_mail.sql"),
    },
    Migration {
        version: 7,
        name: "status_sensitivity",
        sql: include_str!("../migrations/0007_status_sensitivity.sql"),
    },
    Migration {
        version: 8,
        name: "calls",
        sql: include_str!("../migrations/0008_calls.sql"),
    },
    Migration {
        version: 9,
        name: "queue_orders",
        sql: include_str!("../migrations/0009_queue_orders.sql"),
    },
    Migration {
        version: 10,
        name: "clustered_history",
        sql: include_str!("../migrations/0010_clustered_history.sql"),
    },
    Migration {
        version: 11,
        name: "histogram_sensitivity",
        sql: include_str!("../migrations/0011_histogram_sensitivity.sql"),
    },
    Migration {
        version: 12,
        name: "search_merge",
        sql: include_str!("../migrations/0012_search_merge.sql"),
    },
];

/// The schema version this build writes.
pub(crate) const LATEST: i64 = MIGRATIONS.len() as i64;

/// Brings the database at `path` to [`LATEST`].
pub(crate) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), OpenError> {
    migrate_to(conn, path, LATEST)
}

/// Brings the database to `target` (≤ [`LATEST`]); tests use it to build older versions.
pub(crate) fn migrate_to(conn: &mut Connection, path: &Path, target: i64) -> Result<(), OpenError> {
    let setup = |source| OpenError::Setup {
        path: path.to_owned(),
        source,
    };
    loop {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .db()
            .map_err(setup)?;
        let version = pragma_i64(&tx, "user_version").map_err(setup)?;
        let app_id = pragma_i64(&tx, "application_id").map_err(setup)?;
        if version == 0 && app_id == 0 {
            let objects: i64 = tx
                .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
                .db()
                .map_err(setup)?;
            if objects != 0 {
                return Err(OpenError::NotACaseStore {
                    path: path.to_owned(),
                    found: app_id,
                });
            }
        } else if app_id != APPLICATION_ID {
            return Err(OpenError::NotACaseStore {
                path: path.to_owned(),
                found: app_id,
            });
        }
        if version > LATEST {
            return Err(OpenError::TooNew {
                path: path.to_owned(),
                found: version,
                supported: LATEST,
            });
        }
        if version >= target {
            return Ok(());
        }
        let Some(step) = MIGRATIONS.iter().find(|m| m.version == version + 1) else {
            return Err(OpenError::TooNew {
                path: path.to_owned(),
                found: version,
                supported: LATEST,
            });
        };
        let failed = |source| OpenError::Migration {
            path: path.to_owned(),
            version: step.version,
            name: step.name,
            source,
        };
        tx.execute_batch(step.sql).db().map_err(failed)?;
        tx.pragma_update(None, "application_id", APPLICATION_ID)
            .db()
            .map_err(failed)?;
        tx.pragma_update(None, "user_version", step.version)
            .db()
            .map_err(failed)?;
        tx.commit().db().map_err(failed)?;
    }
}

/// The schema version of an open connection.
pub(crate) fn version(conn: &Connection) -> Result<i64, crate::DbError> {
    pragma_i64(conn, "user_version")
}

fn pragma_i64(conn: &Connection, name: &str) -> Result<i64, crate::DbError> {
    conn.pragma_query_value(None, name, |r| r.get(0)).db()
}

#[cfg(test)]
mod tests;
