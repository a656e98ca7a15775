use std::path::Path;

use rusqlite::Connection;

use super::*;
use crate::testkit::{self, T0};
use crate::{
    CaseId, ConsulateId, MatchedOn, Options, Priority, QueueKind, QueueQuery, QueueSort,
    SearchQuery, Sensitivities, Sensitivity, StatMetric, Status, Store, Timestamp,
};

fn raw(path: &Path) -> Connection {
    Connection::open(path).unwrap()
}

/// A minute past the case's creation: an agent's first reply to case 2.
const REPLY_AFTER: i64 = 120_000;
/// An hour: how long case 3 took to be closed.
const CLOSED_AFTER: i64 = 3_600_000;

/// Cases as a build of schema version `version` would have written them, straight into the
/// tables that version has. Everything a later migration derives must be what that version's
/// write path kept too (queue rows from v3, sensitivity and times from v4, status counters per
/// sensitivity from v7), or the store opens on counters that disagree with its cases: open and unassigned, open and assigned and urgent
/// and restricted (with an agent's reply), and closed (an hour after it came in).
fn seed(conn: &Connection, version: i64) {
    seed_v1(conn, version);
    seed_status_counts(conn, version);
    match version {
        ..=2 => {}
        3 => seed_v3_queues(conn),
        _ => seed_v4(conn, version),
    }
}

fn seed_v1(conn: &Connection, version: i64) {
    // Version 10 took case numbers from the cases themselves.
    if version < 10 {
        conn.execute_batch("INSERT INTO case_seq VALUES (2026, 3);")
            .unwrap();
    }
    conn.execute_batch(&format!(
        "INSERT INTO cases (id, year, seq, tracking_salt, tracking_tag, type_code, subtype_code,
             taxonomy_version, family, priority, sensitivity, status, consulate, assignee,
             channel, language, created_at, updated_at) VALUES
           (1, 2026, 1, x'00', x'00', 'A1.1', NULL, 1, 'service', 3, 'normal', 'new', 'RO-PAR',
            NULL, 'web', 'ro', {T0}, {T0}),
           (2, 2026, 2, x'00', x'00', 'C1', NULL, 1, 'protection', 1, 'restricted',
            'in_progress', 'RO-PAR', 'ana', 'phone', 'ro', {T0} + 1, {T0} + 1),
           (3, 2026, 3, x'00', x'00', 'D1', NULL, 1, 'info', 4, 'normal', 'closed', 'RO-LON',
            NULL, 'email', 'en', {T0} + 2, {T0} + 2);
         INSERT INTO status_history (case_id, id, at, from_status, to_status, actor) VALUES
           (1, 1, {T0}, NULL, 'new', 'citizen'),
           (2, 2, {T0} + 1, NULL, 'new', 'citizen'),
           (2, 3, {T0} + 10, 'new', 'in_progress', 'agent:ana'),
           (3, 4, {T0} + 2, NULL, 'new', 'citizen'),
           (3, 5, {T0} + 2 + {CLOSED_AFTER}, 'new', 'closed', 'agent:ana');
         INSERT INTO messages (id, case_id, at, direction, channel, author, visibility, language,
             body) VALUES
           (1, 1, {T0}, 'in', 'web', 'citizen', 'external', 'ro', 'pașaport pierdut'),
           (2, 2, {T0} + 1 + {REPLY_AFTER}, 'out', 'phone', 'agent:ana', 'external', 'ro',
            'am sunat la spital');
         INSERT INTO message_fts (rowid, body, scope) VALUES
           (1, 'pașaport pierdut', 'zc524f2d504152'),
           (2, 'am sunat la spital', 'zc524f2d504152');
         INSERT INTO persons (id, case_id, role, relationship, family_name, given_names) VALUES
           (1, 1, 'subject', 'self', 'Popescu', 'Ana'),
           (3, 3, 'subject', 'self', 'Popescu', 'Ana');
         INSERT INTO contact_points (person_id, kind, value, verification, updated_at) VALUES
           (1, 'email', 'Ana.Pop@Example.RO', 'unverified', {T0}),
           (1, 'phone', '+40 (712) 345-678', 'unverified', {T0}),
           (3, 'email', 'ana.pop@example.ro', 'unverified', {T0}),
           (3, 'phone', '+40-712-345-678', 'unverified', {T0});"
    ))
    .unwrap();
}

/// Status counters as each version kept them: per consulate, status and priority, and from
/// version 7 per sensitivity too.
fn seed_status_counts(conn: &Connection, version: i64) {
    let rows = if version < 7 {
        "('RO-PAR', 'new', 3, 1), ('RO-PAR', 'in_progress', 1, 1), ('RO-LON', 'closed', 4, 1)"
    } else {
        "('RO-PAR', 'new', 3, 'normal', 1), ('RO-PAR', 'in_progress', 1, 'restricted', 1),
         ('RO-LON', 'closed', 4, 'normal', 1)"
    };
    conn.execute_batch(&format!("INSERT INTO status_counts VALUES {rows};"))
        .unwrap();
}

/// Queue rows and counters as version 3 kept them: no sensitivity.
fn seed_v3_queues(conn: &Connection) {
    conn.execute_batch(&format!(
        "INSERT INTO queue_entries VALUES
           ('open', 'RO-PAR', '', 3, {T0}, 1, 'A1.1', 'ro', 'web'),
           ('unassigned', 'RO-PAR', '', 3, {T0}, 1, 'A1.1', 'ro', 'web'),
           ('open', 'RO-PAR', '', 1, {T0} + 1, 2, 'C1', 'ro', 'phone'),
           ('emergency', 'RO-PAR', '', 1, {T0} + 1, 2, 'C1', 'ro', 'phone'),
           ('assigned', 'RO-PAR', 'ana', 1, {T0} + 1, 2, 'C1', 'ro', 'phone');
         INSERT INTO queue_counts VALUES ('RO-PAR', 'open', '', 2), ('RO-PAR', 'unassigned', '', 1),
           ('RO-PAR', 'emergency', '', 1), ('RO-PAR', 'assigned', 'ana', 1);"
    ))
    .unwrap();
}

/// What version 4 keeps besides: queue rows and counters per sensitivity, the response and
/// resolution times with their histogram rows (per sensitivity from version 11), comparable
/// contact values.
fn seed_v4(conn: &Connection, version: i64) {
    let day = |at: i64| crate::stats::day(crate::Timestamp::from_unix_ms(at));
    let reply = crate::stats::bucket(REPLY_AFTER);
    let closed = crate::stats::bucket(CLOSED_AFTER);
    let (reply_day, closed_day) = (day(T0 + 1 + REPLY_AFTER), day(T0 + 2 + CLOSED_AFTER));
    // The replied case is restricted, the closed one normal.
    let (restricted, normal) = if version >= 11 {
        ("'restricted', ", "'normal', ")
    } else {
        ("", "")
    };
    conn.execute_batch(&format!(
        "INSERT INTO queue_entries VALUES
           ('open', 'RO-PAR', '', 3, {T0}, 1, 'A1.1', 'ro', 'web', 'normal'),
           ('unassigned', 'RO-PAR', '', 3, {T0}, 1, 'A1.1', 'ro', 'web', 'normal'),
           ('open', 'RO-PAR', '', 1, {T0} + 1, 2, 'C1', 'ro', 'phone', 'restricted'),
           ('emergency', 'RO-PAR', '', 1, {T0} + 1, 2, 'C1', 'ro', 'phone', 'restricted'),
           ('assigned', 'RO-PAR', 'ana', 1, {T0} + 1, 2, 'C1', 'ro', 'phone', 'restricted');
         INSERT INTO queue_counts VALUES ('RO-PAR', 'open', '', 'normal', 1),
           ('RO-PAR', 'open', '', 'restricted', 1), ('RO-PAR', 'unassigned', '', 'normal', 1),
           ('RO-PAR', 'emergency', '', 'restricted', 1),
           ('RO-PAR', 'assigned', 'ana', 'restricted', 1);
         UPDATE cases SET first_response_at = {T0} + 1 + {REPLY_AFTER}, version = 3 WHERE id = 2;
         UPDATE cases SET resolved_at = {T0} + 2 + {CLOSED_AFTER}, version = 2 WHERE id = 3;
         INSERT INTO response_histogram VALUES
           ('RO-PAR', 'first_response', {reply_day}, {restricted}{reply}, 1),
           ('*', 'first_response', {reply_day}, {restricted}{reply}, 1),
           ('RO-LON', 'resolution', {closed_day}, {normal}{closed}, 1),
           ('*', 'resolution', {closed_day}, {normal}{closed}, 1);
         UPDATE contact_points SET normalized = '40712345678' WHERE kind = 'phone';
         UPDATE contact_points SET normalized = 'ana.pop@example.ro' WHERE kind = 'email';"
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

/// How wide the search index's merges are, and where FTS5 starts merging a whole level at
/// once, as FTS5 keeps them: the intake's commit time depends on both (version 12).
fn search_merge(path: &Path) -> (i64, i64) {
    let conn = raw(path);
    let get = |key: &str| -> i64 {
        conn.query_row(
            "SELECT v FROM message_fts_config WHERE k = ?1",
            [key],
            |r| r.get(0),
        )
        .unwrap()
    };
    (get("automerge"), get("crisismerge"))
}

#[test]
fn every_earlier_version_migrates_to_the_latest_with_its_data() {
    let paris = ConsulateId::new("RO-PAR").unwrap();
    let london = ConsulateId::new("RO-LON").unwrap();
    for from in 0..LATEST {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        let mut conn = raw(&path);
        migrate_to(&mut conn, &path, from).unwrap();
        assert_eq!(version(&conn).unwrap(), from);
        if from >= 1 {
            seed(&conn, from);
        }
        drop(conn);

        let store = Store::open(&path, testkit::options()).unwrap();
        assert_eq!(store.schema_version().unwrap(), LATEST, "from v{from}");
        assert_eq!(store.check_counters().unwrap(), vec![], "from v{from}");
        assert_eq!(search_merge(&path), (32, 128), "from v{from}");
        if from == 0 {
            continue;
        }
        let counts = store
            .queue_counts(Some(&paris), Sensitivities::ALL)
            .unwrap();
        assert_eq!(counts.get(QueueKind::Open), 2, "from v{from}");
        assert_eq!(counts.get(QueueKind::Unassigned), 1);
        assert_eq!(counts.get(QueueKind::Emergency), 1);
        assert_eq!(counts.get(QueueKind::Assigned), 1);
        assert_eq!(
            counts.get(QueueKind::UnassignedEmergency),
            0,
            "the emergency has an agent"
        );
        let normal = Sensitivities::only(Sensitivity::Normal);
        assert_eq!(
            store
                .queue_counts(Some(&paris), normal)
                .unwrap()
                .get(QueueKind::Open),
            1,
            "from v{from}: the restricted case counts only for who may see it"
        );
        // Status counters, per sensitivity: the restricted case counts only for who may see it.
        let by_status = |consulate, set| {
            store
                .status_counts(consulate, set)
                .unwrap()
                .into_iter()
                .map(|s| (s.status, s.priority, s.n))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            by_status(&paris, Sensitivities::ALL),
            vec![
                (Status::InProgress, Priority::P1, 1),
                (Status::New, Priority::P3, 1)
            ],
            "from v{from}"
        );
        assert_eq!(
            by_status(&paris, normal),
            vec![(Status::New, Priority::P3, 1)],
            "from v{from}"
        );
        assert_eq!(
            by_status(&paris, Sensitivities::only(Sensitivity::Restricted)),
            vec![(Status::InProgress, Priority::P1, 1)],
            "from v{from}"
        );
        assert_eq!(
            by_status(&london, normal),
            vec![(Status::Closed, Priority::P4, 1)],
            "from v{from}"
        );
        let in_london = store
            .queue_counts(Some(&london), Sensitivities::ALL)
            .unwrap();
        assert_eq!(
            in_london.get(QueueKind::Open),
            0,
            "closed cases sit in no queue"
        );
        // The times and their statistics, backfilled from the history.
        let urgent = store.case(CaseId::from_raw(2)).unwrap().unwrap();
        assert_eq!(
            urgent.first_response_at.map(Timestamp::unix_ms),
            Some(T0 + 1 + REPLY_AFTER),
            "from v{from}"
        );
        let closed = store.case(CaseId::from_raw(3)).unwrap().unwrap();
        assert_eq!(
            closed.resolved_at.map(Timestamp::unix_ms),
            Some(T0 + 2 + CLOSED_AFTER)
        );
        let day = Timestamp::from_unix_ms(T0);
        let reply = store
            .response_stats(
                Some(&paris),
                Sensitivities::ALL,
                StatMetric::FirstResponse,
                day,
                day,
            )
            .unwrap();
        assert_eq!(reply.count, 1, "from v{from}");
        // The reply was to the restricted case: not counted for whoever may not read it.
        let below_restricted = Sensitivities::of(&[Sensitivity::Normal, Sensitivity::Sensitive]);
        let unseen = store
            .response_stats(
                Some(&paris),
                below_restricted,
                StatMetric::FirstResponse,
                day,
                day,
            )
            .unwrap();
        assert_eq!(unseen.count, 0, "from v{from}");
        let median = reply.median_ms.unwrap();
        assert!(
            (REPLY_AFTER..=REPLY_AFTER * 5 / 4).contains(&median),
            "{median}"
        );
        let everywhere = store
            .response_stats(None, Sensitivities::ALL, StatMetric::Resolution, day, day)
            .unwrap();
        assert_eq!(everywhere.count, 1);
        // Contacts typed differently still match.
        let related = store.related_cases(CaseId::from_raw(1), 10).unwrap();
        assert_eq!(
            related
                .iter()
                .map(|r| (r.case.get(), r.matched_on))
                .collect::<Vec<_>>(),
            vec![(3, MatchedOn::Email)],
            "from v{from}"
        );
        let hits = store.search(&SearchQuery::recent("pasaport")).unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].case.case_no.to_string(), "CSC-2026-0000001");
        // The migrated store keeps working: the sequence continues where v1 left it.
        let created = store
            .create_case(&testkit::new_case("cerere nouă"))
            .unwrap();
        assert_eq!(created.case_no.seq(), 4);
        assert_eq!(store.case(created.case_id).unwrap().unwrap().version, 1);
        let stale = store.assign(
            created.case_id,
            Some(&crate::AgentId::new("ana").unwrap()),
            &crate::Actor::System,
            crate::Expect::Version(2),
        );
        assert!(matches!(
            stale,
            Err(crate::WriteError::Conflict { current: 1, .. })
        ));
        store
            .change_status(
                CaseId::from_raw(2),
                Status::Resolved,
                &crate::Actor::System,
                None,
                crate::Expect::Any,
            )
            .unwrap();
        assert_eq!(store.check_counters().unwrap(), vec![]);
    }
}

/// Version 9 keeps queue rows in urgency order only: a store migrated from version 8 loses
/// the two age-order indexes and still pages its queues oldest and newest first.
#[test]
fn queue_rows_keep_only_the_urgency_orders_from_version_9() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let mut conn = raw(&path);
    migrate_to(&mut conn, &path, 8).unwrap();
    seed(&conn, 8);
    drop(conn);
    let store = Store::open(&path, testkit::options()).unwrap();
    let indexes: Vec<String> = raw(&path)
        .prepare(
            "SELECT name FROM sqlite_schema
             WHERE type = 'index' AND tbl_name = 'queue_entries' AND sql IS NOT NULL",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(indexes, ["queue_entries_all"]);
    // Case 1 is P3 and came in first, case 2 is P1 and came in a millisecond later.
    for consulate in [Some(ConsulateId::new("RO-PAR").unwrap()), None] {
        let page = |sort| {
            let query = QueueQuery {
                sort,
                ..QueueQuery::first(consulate.clone(), QueueKind::Open)
            };
            let page = store.queue(&query).unwrap();
            page.cases.iter().map(|c| c.id.get()).collect::<Vec<_>>()
        };
        // The urgent case leads in every order (queue.rs); the rest is in age order.
        assert_eq!(page(QueueSort::Urgency), [2, 1], "{consulate:?}");
        assert_eq!(page(QueueSort::Oldest), [2, 1], "{consulate:?}");
        assert_eq!(page(QueueSort::Newest), [2, 1], "{consulate:?}");
    }
}

/// Version 10 keeps the status history in its case's order and takes case numbers from the
/// cases: a store migrated from version 9 keeps every entry in order, appends after them, and
/// numbers on from the last case of the year.
#[test]
fn history_is_kept_by_case_and_numbers_continue_from_version_10() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let mut conn = raw(&path);
    migrate_to(&mut conn, &path, 9).unwrap();
    seed(&conn, 9);
    drop(conn);
    let store = Store::open(&path, testkit::options()).unwrap();
    let objects: Vec<String> = raw(&path)
        .prepare(
            "SELECT name FROM sqlite_schema
             WHERE name IN ('case_seq', 'status_history_case', 'status_history_by_case')
                OR (tbl_name = 'status_history' AND type = 'index')",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(objects, Vec::<String>::new(), "one b-tree, no sequence row");
    let table: String = raw(&path)
        .query_row(
            "SELECT sql FROM sqlite_schema WHERE name = 'status_history'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(table.ends_with("WITHOUT ROWID"), "{table}");
    let steps = |case| {
        store
            .status_history(CaseId::from_raw(case))
            .unwrap()
            .into_iter()
            .map(|h| (h.from, h.to, h.at.unix_ms()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        steps(3),
        [
            (None, Status::New, T0 + 2),
            (Some(Status::New), Status::Closed, T0 + 2 + CLOSED_AFTER)
        ]
    );
    // Case 2 came in, was taken, and now waits for the citizen: the new entry comes last.
    store
        .change_status(
            CaseId::from_raw(2),
            Status::WaitingCitizen,
            &crate::Actor::System,
            None,
            crate::Expect::Any,
        )
        .unwrap();
    let case2 = steps(2);
    assert_eq!(case2.len(), 3);
    assert_eq!(case2[0].0, None);
    assert_eq!(case2[1].1, Status::InProgress);
    assert_eq!(case2[2].1, Status::WaitingCitizen);
    // A new case opens its own history and takes the number after the year's last.
    let created = store
        .create_case(&testkit::new_case("cerere nouă"))
        .unwrap();
    assert_eq!(created.case_no.to_string(), "CSC-2026-0000004");
    assert_eq!(steps(created.case_id.get()).len(), 1);
    assert_eq!(store.check_counters().unwrap(), vec![]);
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
    // The writer checkpoints every 8192 WAL pages, not SQLite's default 1000.
    assert_eq!(
        t.store
            .maintain(|c| pragma(c, "wal_autocheckpoint"))
            .unwrap(),
        8192
    );
    // The writer's page cache is small (store.rs, `writer_cache_mib`), the readers' large;
    // a negative cache_size is in KiB.
    assert_eq!(
        t.store.maintain(|c| pragma(c, "cache_size")).unwrap(),
        -16 * 1024
    );
    assert_eq!(
        t.store.read(|c| pragma(c, "cache_size")).unwrap(),
        -64 * 1024
    );
    let refused = t
        .store
        .read(|c| Ok::<_, crate::DbError>(c.execute("DELETE FROM cases", []).is_err()));
    assert!(refused.unwrap(), "read connections are query_only");
}

/// How often a cached statement was compiled again, and how often it ran.
fn compiled_and_run(conn: &Connection, sql: &str) -> Result<(i32, i32), crate::DbError> {
    let stmt = conn.prepare_cached(sql).db()?;
    Ok((
        stmt.get_status(rusqlite::StatementStatus::RePrepare),
        stmt.get_status(rusqlite::StatementStatus::Run),
    ))
}

/// With the planner's statistics in place, as in production, a statement is compiled once
/// and reused, whatever is bound to it: the case number and queue rows an intake or an
/// assignment writes, a case's messages, a queue page. (Without the planner stability
/// guarantee each of these was compiled again on every run.)
#[test]
fn statements_are_compiled_once_whatever_is_bound_to_them() {
    let t = testkit::store();
    let ana = crate::AgentId::new("ana").unwrap();
    let mut cases = Vec::new();
    for round in 0..2 {
        for i in 0..10 {
            let new = testkit::new_case(&format!("cererea {round}-{i}"));
            cases.push(t.store.create_case(&new).unwrap().case_id);
        }
        // Statistics, sqlite_stat4 samples included, after the first round.
        t.store
            .maintain(|c| c.execute_batch("ANALYZE").db())
            .unwrap();
    }
    for case in &cases[..10] {
        t.store
            .assign(*case, Some(&ana), &crate::Actor::System, crate::Expect::Any)
            .unwrap();
    }
    let paris = ConsulateId::new("RO-PAR").unwrap();
    let page = QueueQuery::first(Some(paris), QueueKind::Open);
    for case in &cases {
        t.store.messages(*case, None).unwrap();
        t.store.queue(&page).unwrap();
    }

    // At most once since the statistics changed the schema.
    let writer = [crate::intake::NEXT_SEQ, crate::counters::DELETE_QUEUE_ROW];
    for sql in writer {
        let (compiled, runs) = t.store.maintain(|c| compiled_and_run(c, sql)).unwrap();
        assert!(runs >= 10, "{sql}: ran {runs} times");
        assert!(compiled <= 1, "{sql}: compiled again {compiled} times");
    }
    let (page_sql, _) = crate::queue::page_sql(&page).unwrap();
    let mut reader = vec![crate::read::records::MESSAGES.to_owned()];
    reader.extend(page_sql);
    for sql in &reader {
        let (compiled, runs) = t.store.read(|c| compiled_and_run(c, sql)).unwrap();
        assert!(runs >= 20, "{sql}: ran {runs} times");
        assert!(compiled <= 1, "{sql}: compiled again {compiled} times");
    }
}
