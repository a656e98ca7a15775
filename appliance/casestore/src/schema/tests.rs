use std::path::Path;

use rusqlite::Connection;

use super::*;
use crate::testkit::{self, T0};
use crate::{ConsulateId, Options, QueueKind, SearchQuery, Store};

fn raw(path: &Path) -> Connection {
    Connection::open(path).unwrap()
}

/// Cases as an older build would have written them, straight into the version-1 tables:
/// open and unassigned, open and assigned and urgent, and closed.
fn seed_v1(conn: &Connection) {
    conn.execute_batch(&format!(
        "INSERT INTO case_seq VALUES (2026, 3);
         INSERT INTO cases (id, year, seq, tracking_salt, tracking_tag, type_code, subtype_code,
             taxonomy_version, family, priority, sensitivity, status, consulate, assignee,
             channel, language, created_at, updated_at) VALUES
           (1, 2026, 1, x'00', x'00', 'A1.1', NULL, 1, 'service', 3, 'normal', 'new', 'RO-PAR',
            NULL, 'web', 'ro', {T0}, {T0}),
           (2, 2026, 2, x'00', x'00', 'C1', NULL, 1, 'protection', 1, 'restricted',
            'in_progress', 'RO-PAR', 'ana', 'phone', 'ro', {T0} + 1, {T0} + 1),
           (3, 2026, 3, x'00', x'00', 'D1', NULL, 1, 'info', 4, 'normal', 'closed', 'RO-LON',
            NULL, 'email', 'en', {T0} + 2, {T0} + 2);
         INSERT INTO status_counts VALUES ('RO-PAR', 'new', 3, 1), ('RO-PAR', 'in_progress', 1, 1),
                                          ('RO-LON', 'closed', 4, 1);
         INSERT INTO messages (id, case_id, at, direction, channel, author, visibility, language,
             body) VALUES (1, 1, {T0}, 'in', 'web', 'citizen', 'external', 'ro', 'pașaport pierdut');
         INSERT INTO message_fts (rowid, body, scope)
             VALUES (1, 'pașaport pierdut', 'zc524f2d504152');"
    ))
    .unwrap();
}

#[test]
fn migrations_are_numbered_in_order() {
    for (i, m) in MIGRATIONS.iter().enumerate() {
        assert_eq!(m.version, i as i64 + 1, "{}", m.name);
    }
    assert_eq!(crate::SCHEMA_VERSION, LATEST);
}

#[test]
fn a_new_store_is_at_the_latest_version_and_marked_as_ours() {
    let t = testkit::store();
    assert_eq!(t.store.schema_version().unwrap(), LATEST);
    let conn = raw(t.store.path());
    let app: i64 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .unwrap();
    assert_eq!(app, APPLICATION_ID);
    let journal: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(journal, "wal");
    drop(t.store);
    let again = Store::open(t.dir.path().join("cases.db"), Options::default()).unwrap();
    assert_eq!(
        again.schema_version().unwrap(),
        LATEST,
        "reopening changes nothing"
    );
}

#[test]
fn every_earlier_version_migrates_to_the_latest_with_its_data() {
    for from in 0..LATEST {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        let mut conn = raw(&path);
        migrate_to(&mut conn, &path, from).unwrap();
        assert_eq!(version(&conn).unwrap(), from);
        if from >= 1 {
            seed_v1(&conn);
        }
        drop(conn);

        let store = Store::open(&path, testkit::options()).unwrap();
        assert_eq!(store.schema_version().unwrap(), LATEST, "from v{from}");
        assert_eq!(store.check_counters().unwrap(), vec![], "from v{from}");
        if from == 0 {
            continue;
        }
        let paris = store
            .queue_counts(&ConsulateId::new("RO-PAR").unwrap())
            .unwrap();
        assert_eq!(paris.get(QueueKind::Open), 2, "from v{from}");
        assert_eq!(paris.get(QueueKind::Unassigned), 1);
        assert_eq!(paris.get(QueueKind::Emergency), 1);
        assert_eq!(paris.get(QueueKind::Assigned), 1);
        let london = store
            .queue_counts(&ConsulateId::new("RO-LON").unwrap())
            .unwrap();
        assert_eq!(
            london.get(QueueKind::Open),
            0,
            "closed cases sit in no queue"
        );
        let hits = store.search(&SearchQuery::recent("pasaport")).unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].case.case_no.to_string(), "CSC-2026-0000001");
        // The migrated store keeps working: the sequence continues where v1 left it.
        let created = store
            .create_case(&testkit::new_case("cerere nouă"))
            .unwrap();
        assert_eq!(created.case_no.seq(), 4);
        assert_eq!(store.check_counters().unwrap(), vec![]);
    }
}

#[test]
fn a_failed_migration_leaves_the_previous_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("half.db");
    let mut conn = raw(&path);
    migrate_to(&mut conn, &path, 1).unwrap();
    // Something in the way of version 2's first table.
    conn.execute_batch("CREATE TABLE case_links (x)").unwrap();
    drop(conn);
    let err = Store::open(&path, Options::default()).unwrap_err();
    assert!(
        matches!(err, OpenError::Migration { version: 2, .. }),
        "{err}"
    );
    assert_eq!(version(&raw(&path)).unwrap(), 1);
    let tables: i64 = raw(&path)
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE name = 'referrals'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tables, 0, "nothing of the failed step remains");
}

#[test]
fn foreign_and_newer_databases_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let foreign = dir.path().join("foreign.db");
    raw(&foreign).execute_batch("CREATE TABLE t (x)").unwrap();
    let err = Store::open(&foreign, Options::default()).unwrap_err();
    assert!(matches!(err, OpenError::NotACaseStore { .. }), "{err}");

    let other_app = dir.path().join("other.db");
    raw(&other_app)
        .pragma_update(None, "application_id", 7)
        .unwrap();
    let err = Store::open(&other_app, Options::default()).unwrap_err();
    assert!(
        matches!(err, OpenError::NotACaseStore { found: 7, .. }),
        "{err}"
    );

    let newer = dir.path().join("newer.db");
    drop(Store::open(&newer, Options::default()).unwrap());
    raw(&newer)
        .pragma_update(None, "user_version", LATEST + 1)
        .unwrap();
    let err = Store::open(&newer, Options::default()).unwrap_err();
    assert!(matches!(err, OpenError::TooNew { .. }), "{err}");
    assert!(err.to_string().contains("newer"), "{err}");
}

#[test]
fn connections_are_durable_checked_and_readers_cannot_write() {
    let t = testkit::store();
    let pragma = |conn: &Connection, name: &str| -> Result<i64, crate::DbError> {
        Ok(conn.pragma_query_value(None, name, |r| r.get(0)).unwrap())
    };
    // synchronous=FULL is 2: every commit waits for the WAL to reach the disk.
    assert_eq!(t.store.maintain(|c| pragma(c, "synchronous")).unwrap(), 2);
    assert_eq!(t.store.maintain(|c| pragma(c, "foreign_keys")).unwrap(), 1);
    assert_eq!(t.store.read(|c| pragma(c, "synchronous")).unwrap(), 2);
    let refused = t
        .store
        .read(|c| Ok::<_, crate::DbError>(c.execute("DELETE FROM cases", []).is_err()));
    assert!(refused.unwrap(), "read connections are query_only");
}
