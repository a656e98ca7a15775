//! The recount behind [`Store::check_counters`](crate::Store::check_counters): queue rules
//! written again in SQL, independently of `QueueKind::contains`, and compared with what the
//! write path maintained.

use rusqlite::Connection;

use super::CounterMismatch;
use crate::error::{DbResult as _, ReadError};

/// Every queue entry the cases imply, in `queue_entries` column order.
const EXPECTED_ENTRIES: &str = "
SELECT q.column1 AS queue, c.consulate,
       CASE WHEN q.column1 = 'assigned' THEN c.assignee ELSE '' END AS agent,
       c.priority, c.created_at, c.id AS case_id, c.type_code, c.language, c.channel
FROM cases c
JOIN (VALUES ('open'), ('unassigned'), ('emergency'), ('triage'), ('waiting_citizen'),
             ('referred'), ('assigned')) q
WHERE CASE q.column1
    WHEN 'open' THEN c.status NOT IN ('resolved', 'closed')
    WHEN 'unassigned' THEN c.status NOT IN ('resolved', 'closed') AND c.assignee IS NULL
    WHEN 'emergency' THEN c.status NOT IN ('resolved', 'closed') AND c.priority <= 1
    WHEN 'triage' THEN c.status = 'triage'
    WHEN 'waiting_citizen' THEN c.status = 'waiting_citizen'
    WHEN 'referred' THEN c.status = 'referred'
    WHEN 'assigned' THEN c.status NOT IN ('resolved', 'closed') AND c.assignee IS NOT NULL
END";

/// Each check yields rows of (what, stored, recounted) for every disagreement.
fn checks() -> [String; 4] {
    [
        "WITH actual AS (SELECT consulate, status, priority, count(*) AS n FROM cases
                         GROUP BY consulate, status, priority),
              keys AS (SELECT consulate, status, priority FROM actual
                       UNION SELECT consulate, status, priority FROM status_counts)
         SELECT 'status_counts ' || k.consulate || '/' || k.status || '/P' || k.priority,
                coalesce(s.n, 0), coalesce(a.n, 0)
         FROM keys k
         LEFT JOIN status_counts s USING (consulate, status, priority)
         LEFT JOIN actual a USING (consulate, status, priority)
         WHERE coalesce(s.n, 0) <> coalesce(a.n, 0)"
            .to_owned(),
        format!(
            "WITH actual AS (SELECT consulate, queue, agent, count(*) AS n
                             FROM ({EXPECTED_ENTRIES}) GROUP BY consulate, queue, agent),
                  keys AS (SELECT consulate, queue, agent FROM actual
                           UNION SELECT consulate, queue, agent FROM queue_counts)
             SELECT 'queue_counts ' || k.consulate || '/' || k.queue || '/' || k.agent,
                    coalesce(s.n, 0), coalesce(a.n, 0)
             FROM keys k
             LEFT JOIN queue_counts s USING (consulate, queue, agent)
             LEFT JOIN actual a USING (consulate, queue, agent)
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
