-- Version 3: queue pages and queue counters, backfilled from the cases already stored.
--
-- queue_entries holds one row per (queue, case) the case belongs to; the rules are
-- QueueKind::contains in model/codes.rs, repeated in the backfill below and in the recount
-- (counters.rs). `agent` is the assignee for the `assigned` queue and '' for the others.
-- The primary key is the "most urgent, then oldest" page order; queue_entries_age serves
-- "oldest"/"newest" and carries the filter columns so filtering never reads the table.

CREATE TABLE queue_entries (
    queue TEXT NOT NULL,
    consulate TEXT NOT NULL,
    agent TEXT NOT NULL,
    priority INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    case_id INTEGER NOT NULL REFERENCES cases (id),
    type_code TEXT NOT NULL,
    language TEXT NOT NULL,
    channel TEXT NOT NULL,
    PRIMARY KEY (queue, consulate, agent, priority, created_at, case_id)
) WITHOUT ROWID;
CREATE INDEX queue_entries_age
    ON queue_entries (queue, consulate, agent, created_at, case_id, type_code, language, channel);

CREATE TABLE queue_counts (
    consulate TEXT NOT NULL,
    queue TEXT NOT NULL,
    agent TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (consulate, queue, agent)
) WITHOUT ROWID;

CREATE TEMP TABLE queue_rules AS
SELECT id AS case_id, consulate, priority, created_at, type_code, language, channel,
       assignee, status,
       status NOT IN ('resolved', 'closed') AS open
FROM cases;

INSERT INTO queue_entries
SELECT q.queue, r.consulate,
       CASE WHEN q.queue = 'assigned' THEN r.assignee ELSE '' END,
       r.priority, r.created_at, r.case_id, r.type_code, r.language, r.channel
FROM queue_rules r
JOIN (SELECT 'open' AS queue UNION ALL SELECT 'unassigned' UNION ALL SELECT 'emergency'
      UNION ALL SELECT 'triage' UNION ALL SELECT 'waiting_citizen' UNION ALL SELECT 'referred'
      UNION ALL SELECT 'assigned') q
WHERE CASE q.queue
    WHEN 'open' THEN r.open
    WHEN 'unassigned' THEN r.open AND r.assignee IS NULL
    WHEN 'emergency' THEN r.open AND r.priority <= 1
    WHEN 'triage' THEN r.status = 'triage'
    WHEN 'waiting_citizen' THEN r.status = 'waiting_citizen'
    WHEN 'referred' THEN r.status = 'referred'
    WHEN 'assigned' THEN r.open AND r.assignee IS NOT NULL
END;

INSERT INTO queue_counts
SELECT consulate, queue, agent, count(*) FROM queue_entries GROUP BY consulate, queue, agent;

DROP TABLE temp.queue_rules;
