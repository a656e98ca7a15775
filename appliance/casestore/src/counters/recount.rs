//! The recount behind [`Store::check_counters`](crate::Store::check_counters): queue rules
//! and histogram buckets written again in SQL, independently of `QueueKind::contains` and
//! `stats::bucket`, and compared with what the write path maintained. It also checks the
//! times the histogram is built from against the messages and status history they come from.

use rusqlite::Connection;

use super::CounterMismatch;
use crate::error::{DbResult as _, ReadError};

/// Every queue entry the cases imply, in `queue_entries` column order.
const EXPECTED_ENTRIES: &str = "
SELECT q.column1 AS queue, c.consulate,
       CASE WHEN q.column1 = 'assigned' THEN c.assignee ELSE '' END AS agent,
       c.priority, c.created_at, c.id AS case_id, c.type_code, c.language, c.channel,
       c.sensitivity
FROM cases c
JOIN (VALUES ('open'), ('unassigned'), ('emergency'), ('unassigned_emergency'), ('triage'),
             ('waiting_citizen'), ('referred'), ('assigned')) q
WHERE CASE q.column1
    WHEN 'open' THEN c.status NOT IN ('resolved', 'closed', 'merged')
    WHEN 'unassigned' THEN c.status NOT IN ('resolved', 'closed', 'merged')
                           AND c.assignee IS NULL
    WHEN 'emergency' THEN c.status NOT IN ('resolved', 'closed', 'merged') AND c.priority <= 1
    WHEN 'unassigned_emergency' THEN c.status NOT IN ('resolved', 'closed', 'merged')
                                     AND c.priority <= 1 AND c.assignee IS NULL
    WHEN 'triage' THEN c.status = 'triage'
    WHEN 'waiting_citizen' THEN c.status = 'waiting_citizen'
    WHEN 'referred' THEN c.status = 'referred'
    WHEN 'assigned' THEN c.status NOT IN ('resolved', 'closed', 'merged')
                         AND c.assignee IS NOT NULL
END";

/// Every histogram row the cases' response and resolution times imply: bucket = how many of
/// the bounds (60 000 ms, ×5/4 each, 59 of them) the duration reaches; per consulate and `*`.
const EXPECTED_HISTOGRAM: &str = "
WITH RECURSIVE bounds (k, ms) AS (
         SELECT 1, 60000 UNION ALL SELECT k + 1, ms * 5 / 4 FROM bounds WHERE k < 59),
     times AS (
         SELECT consulate, sensitivity, 'first_response' AS metric, first_response_at AS at,
                first_response_at - created_at AS ms
         FROM cases WHERE first_response_at IS NOT NULL
         UNION ALL
         SELECT consulate, sensitivity, 'resolution', resolved_at, resolved_at - created_at
         FROM cases WHERE resolved_at IS NOT NULL),
     bucketed AS (
         SELECT t.consulate, t.sensitivity, t.metric, t.at / 86400000 AS day,
                (SELECT count(*) FROM bounds b WHERE b.ms <= t.ms) AS bucket
         FROM times t)
SELECT consulate, metric, day, sensitivity, bucket, count(*) AS n FROM (
    SELECT consulate, metric, day, sensitivity, bucket FROM bucketed
    UNION ALL SELECT '*', metric, day, sensitivity, bucket FROM bucketed)
GROUP BY consulate, metric, day, sensitivity, bucket";

/// Each check yields rows of (what, stored, recounted) for every disagreement.
fn checks() -> [String; 7] {
    [
        "WITH actual AS (SELECT consulate, status, priority, sensitivity, count(*) AS n
                         FROM cases GROUP BY consulate, status, priority, sensitivity),
              keys AS (SELECT consulate, status, priority, sensitivity FROM actual
                       UNION SELECT consulate, status, priority, sensitivity FROM status_counts)
         SELECT 'status_counts ' || k.consulate || '/' || k.status || '/P' || k.priority || '/'
                || k.sensitivity,
                coalesce(s.n, 0), coalesce(a.n, 0)
         FROM keys k
         LEFT JOIN status_counts s USING (consulate, status, priority, sensitivity)
         LEFT JOIN actual a USING (consulate, status, priority, sensitivity)
         WHERE coalesce(s.n, 0) <> coalesce(a.n, 0)"
            .to_owned(),
        format!(
            "WITH actual AS (SELECT consulate, queue, agent, sensitivity, count(*) AS n
                             FROM ({EXPECTED_ENTRIES}) GROUP BY consulate, queue, agent, sensitivity),
                  keys AS (SELECT consulate, queue, agent, sensitivity FROM actual
                           UNION SELECT consulate, queue, agent, sensitivity FROM queue_counts)
             SELECT 'queue_counts ' || k.consulate || '/' || k.queue || '/' || k.agent || '/'
                    || k.sensitivity,
                    coalesce(s.n, 0), coalesce(a.n, 0)
             FROM keys k
             LEFT JOIN queue_counts s USING (consulate, queue, agent, sensitivity)
             LEFT JOIN actual a USING (consulate, queue, agent, sensitivity)
             WHERE coalesce(s.n, 0) <> coalesce(a.n, 0)"
        ),
        format!(
            "SELECT 'queue_entries missing ' || queue || '/' || consulate || '/' || agent
                    || ' case ' || case_id, 0, 1
             FROM ({EXPECTED_ENTRIES} EXCEPT SELECT * FROM queue_entries)"
        ),
        format!(
            "SELECT 'queue_entries stray ' || queue || '/' || consulate || '/' || agent
                    || ' case ' || case_id, 1, 0
             FROM (SELECT * FROM queue_entries EXCEPT {EXPECTED_ENTRIES})"
        ),
        format!(
            "WITH actual AS ({EXPECTED_HISTOGRAM}),
                  keys AS (SELECT consulate, metric, day, sensitivity, bucket FROM actual
                           UNION SELECT consulate, metric, day, sensitivity, bucket
                           FROM response_histogram)
             SELECT 'response_histogram ' || k.consulate || '/' || k.metric || '/' || k.day
                    || '/' || k.sensitivity || '/' || k.bucket,
                    coalesce(s.n, 0), coalesce(a.n, 0)
             FROM keys k
             LEFT JOIN response_histogram s USING (consulate, metric, day, sensitivity, bucket)
             LEFT JOIN actual a USING (consulate, metric, day, sensitivity, bucket)
             WHERE coalesce(s.n, 0) <> coalesce(a.n, 0)"
        ),
        // The first external message by an agent.
        "SELECT 'cases.first_response_at case ' || id, coalesce(first_response_at, -1),
                coalesce(expected, -1)
         FROM (SELECT c.id, c.first_response_at,
                      (SELECT min(m.at) FROM messages m
                       WHERE m.case_id = c.id AND m.direction = 'out'
                         AND m.visibility = 'external'
                         AND substr(m.author, 1, 6) = 'agent:') AS expected
               FROM cases c)
         WHERE first_response_at IS NOT expected"
            .to_owned(),
        // The first move to resolved or closed (not the opening entry, not an un-merge).
        "SELECT 'cases.resolved_at case ' || id, coalesce(resolved_at, -1),
                coalesce(expected, -1)
         FROM (SELECT c.id, c.resolved_at,
                      (SELECT min(h.at) FROM status_history h
                       WHERE h.case_id = c.id AND h.from_status IS NOT NULL
                         AND h.from_status <> 'merged'
                         AND h.to_status IN ('resolved', 'closed')) AS expected
               FROM cases c)
         WHERE resolved_at IS NOT expected"
            .to_owned(),
    ]
}

pub(super) fn mismatches(conn: &Connection) -> Result<Vec<CounterMismatch>, ReadError> {
    let mut out = Vec::new();
    for sql in checks() {
        let mut stmt = conn.prepare(&sql).db()?;
        let mut rows = stmt.query([]).db()?;
        while let Some(row) = rows.next().db()? {
            out.push(CounterMismatch {
                what: row.get(0).db()?,
                stored: row.get(1).db()?,
                recounted: row.get(2).db()?,
            });
        }
    }
    Ok(out)
}
