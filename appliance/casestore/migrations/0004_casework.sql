-- Version 4: case versions for optimistic concurrency, merges, sensitivity on queue rows,
-- response and resolution statistics, the change log of header fields, identity numbers and
-- normalised contact points for related cases. Everything derived is backfilled from the
-- cases already stored, with the same rules the write path and the recount (counters.rs,
-- counters/recount.rs) apply.

-- Cases: the version every change bumps; when the first response and the resolution were.
ALTER TABLE cases ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE cases ADD COLUMN first_response_at INTEGER;
ALTER TABLE cases ADD COLUMN resolved_at INTEGER;

-- The first external message an agent sent; the first move (not the opening entry, so not the
-- status an imported case arrived with) to resolved or closed.
UPDATE cases SET
    first_response_at = (SELECT min(m.at) FROM messages m
                         WHERE m.case_id = cases.id AND m.direction = 'out'
                           AND m.visibility = 'external' AND substr(m.author, 1, 6) = 'agent:'),
    resolved_at = (SELECT min(h.at) FROM status_history h
                   WHERE h.case_id = cases.id AND h.from_status IS NOT NULL
                     AND h.from_status <> 'merged' AND h.to_status IN ('resolved', 'closed'));

-- Response and resolution times: cases per (consulate, metric, UTC day of the response or
-- resolution, bucket of its duration since the case was created). Bucket 0 is under a minute;
-- bucket k (1–58) starts at the k-th bound, 60000 ms grown by ×5/4 (integer division) k-1
-- times; bucket 59 is open-ended. consulate '*' holds the sum over all consulates, so a
-- question about all of them reads as few rows as one about a single consulate.
CREATE TABLE response_histogram (
    consulate TEXT NOT NULL,
    metric TEXT NOT NULL,
    day INTEGER NOT NULL,
    bucket INTEGER NOT NULL CHECK (bucket BETWEEN 0 AND 59),
    n INTEGER NOT NULL,
    PRIMARY KEY (consulate, metric, day, bucket)
) WITHOUT ROWID;

CREATE TEMP TABLE histogram_bounds AS
WITH RECURSIVE b (k, ms) AS (
    SELECT 0, 60000 UNION ALL SELECT k + 1, ms * 5 / 4 FROM b WHERE k < 58
)
SELECT ms FROM b;

CREATE TEMP TABLE durations AS
SELECT consulate, 'first_response' AS metric, first_response_at AS at,
       first_response_at - created_at AS ms
FROM cases WHERE first_response_at IS NOT NULL
UNION ALL
SELECT consulate, 'resolution', resolved_at, resolved_at - created_at
FROM cases WHERE resolved_at IS NOT NULL;

INSERT INTO response_histogram
SELECT consulate, metric, day, bucket, count(*) FROM (
    SELECT d.consulate, d.metric, d.at / 86400000 AS day,
           (SELECT count(*) FROM histogram_bounds b WHERE b.ms <= d.ms) AS bucket
    FROM durations d
    UNION ALL
    SELECT '*', d.metric, d.at / 86400000,
           (SELECT count(*) FROM histogram_bounds b WHERE b.ms <= d.ms)
    FROM durations d
)
GROUP BY consulate, metric, day, bucket;

DROP TABLE temp.durations;
DROP TABLE temp.histogram_bounds;

-- Queue rows carry the case's sensitivity, so a reader allowed only some sensitivities
-- filters inside the index; counters are kept per sensitivity. A new queue,
-- unassigned_emergency, counts the emergencies nobody has taken. Rebuilt from the cases with
-- the rules of QueueKind::contains (model/codes.rs); `merged` is not open.
DROP TABLE queue_entries;
DROP TABLE queue_counts;

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
    sensitivity TEXT NOT NULL,
    PRIMARY KEY (queue, consulate, agent, priority, created_at, case_id)
) WITHOUT ROWID;

CREATE TABLE queue_counts (
    consulate TEXT NOT NULL,
    queue TEXT NOT NULL,
    agent TEXT NOT NULL,
    sensitivity TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (consulate, queue, agent, sensitivity)
) WITHOUT ROWID;

CREATE TEMP TABLE queue_rules AS
SELECT id AS case_id, consulate, priority, created_at, type_code, language, channel,
       sensitivity, assignee, status,
       status NOT IN ('resolved', 'closed', 'merged') AS open
FROM cases;

INSERT INTO queue_entries
SELECT q.queue, r.consulate,
       CASE WHEN q.queue = 'assigned' THEN r.assignee ELSE '' END,
       r.priority, r.created_at, r.case_id, r.type_code, r.language, r.channel, r.sensitivity
FROM queue_rules r
JOIN (SELECT 'open' AS queue UNION ALL SELECT 'unassigned' UNION ALL SELECT 'emergency'
      UNION ALL SELECT 'unassigned_emergency' UNION ALL SELECT 'triage'
      UNION ALL SELECT 'waiting_citizen' UNION ALL SELECT 'referred'
      UNION ALL SELECT 'assigned') q
WHERE CASE q.queue
    WHEN 'open' THEN r.open
    WHEN 'unassigned' THEN r.open AND r.assignee IS NULL
    WHEN 'emergency' THEN r.open AND r.priority <= 1
    WHEN 'unassigned_emergency' THEN r.open AND r.priority <= 1 AND r.assignee IS NULL
    WHEN 'triage' THEN r.status = 'triage'
    WHEN 'waiting_citizen' THEN r.status = 'waiting_citizen'
    WHEN 'referred' THEN r.status = 'referred'
    WHEN 'assigned' THEN r.open AND r.assignee IS NOT NULL
END;

DROP TABLE temp.queue_rules;

INSERT INTO queue_counts
SELECT consulate, queue, agent, sensitivity, count(*) FROM queue_entries
GROUP BY consulate, queue, agent, sensitivity;

-- One consulate's page in urgency order is the primary key; in age order, this index. Both
-- carry the filter columns, so filtering never reads the table.
CREATE INDEX queue_entries_age
    ON queue_entries (queue, consulate, agent, created_at, case_id, type_code, language, channel,
                      sensitivity);
-- The same two orders across every consulate (the central 24/7 centre).
CREATE INDEX queue_entries_all
    ON queue_entries (queue, agent, priority, created_at, case_id, type_code, language, channel,
                      sensitivity);
CREATE INDEX queue_entries_all_age
    ON queue_entries (queue, agent, created_at, case_id, type_code, language, channel,
                      sensitivity);

-- Merges: the source leaves every queue with status `merged`; the row remembers what to give
-- back. An undone merge stays, marked, for the history. A case is the source of at most one
-- current merge.
CREATE TABLE merges (
    id INTEGER PRIMARY KEY,
    source INTEGER NOT NULL REFERENCES cases (id),
    into_case INTEGER NOT NULL REFERENCES cases (id),
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT NOT NULL,
    prior_status TEXT NOT NULL,
    prior_assignee TEXT,
    undone_at INTEGER,
    undone_by TEXT,
    undo_reason TEXT,
    CHECK (source <> into_case),
    CHECK ((undone_at IS NULL) = (undone_by IS NULL)
           AND (undone_at IS NULL) = (undo_reason IS NULL))
);
CREATE UNIQUE INDEX merges_current_source ON merges (source) WHERE undone_at IS NULL;
CREATE INDEX merges_source ON merges (source, id);
CREATE INDEX merges_into ON merges (into_case, id);

-- Changes of header fields other than the status (priority, type, sensitivity, assignee),
-- with who made them and why; status changes keep their own history.
CREATE TABLE case_changes (
    id INTEGER PRIMARY KEY,
    case_id INTEGER NOT NULL REFERENCES cases (id),
    at INTEGER NOT NULL,
    field TEXT NOT NULL,
    from_value TEXT,
    to_value TEXT,
    actor TEXT NOT NULL,
    note TEXT
);
CREATE INDEX case_changes_case ON case_changes (case_id, id);

-- When and by whom a referral was recorded, for the timeline; older ones take their sending
-- time, or the case's creation, and name nobody.
ALTER TABLE referrals ADD COLUMN recorded_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE referrals ADD COLUMN actor TEXT;
UPDATE referrals SET recorded_at = coalesce(
    sent_at, (SELECT c.created_at FROM cases c WHERE c.id = referrals.case_id), 0);

-- Identity numbers (CNP, passport), normalised, looked up by value to suggest related cases.
CREATE TABLE person_identifiers (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES persons (id),
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    UNIQUE (person_id, kind, value)
);
CREATE INDEX person_identifiers_value ON person_identifiers (kind, value, person_id);

-- Contact points in a comparable form: e-mail trimmed of spaces and ASCII-lower-cased, phone
-- numbers as their digits only (NULL when none); other kinds are not compared.
ALTER TABLE contact_points ADD COLUMN normalized TEXT;
UPDATE contact_points SET normalized = nullif(lower(trim(value, ' ')), '') WHERE kind = 'email';

CREATE TEMP TABLE phone_digits (id INTEGER PRIMARY KEY, digits TEXT NOT NULL);
INSERT INTO phone_digits
WITH RECURSIVE d (id, rest, digits) AS (
    SELECT id, value, '' FROM contact_points WHERE kind = 'phone'
    UNION ALL
    SELECT id, substr(rest, 2),
           digits || CASE WHEN substr(rest, 1, 1) BETWEEN '0' AND '9'
                          THEN substr(rest, 1, 1) ELSE '' END
    FROM d WHERE rest <> ''
)
SELECT id, digits FROM d WHERE rest = '';
UPDATE contact_points SET normalized = (
    SELECT nullif(p.digits, '') FROM phone_digits p WHERE p.id = contact_points.id
) WHERE kind = 'phone';
DROP TABLE temp.phone_digits;

CREATE INDEX contact_points_normalized ON contact_points (kind, normalized, person_id);
