-- Version 7: status counters per sensitivity, so a reader allowed only some sensitivities
-- (a supervisor who may not read restricted cases) can be shown cases by status and priority
-- without counting the ones they may not read. The primary key changes, so the table is
-- rebuilt and backfilled from the cases with the rule the write path (counters.rs) and the
-- recount (counters/recount.rs) keep: every case counts once, under its consulate, status
-- (every status, `merged`, `resolved` and `closed` included), priority and sensitivity.
DROP TABLE status_counts;

CREATE TABLE status_counts (
    consulate TEXT NOT NULL,
    status TEXT NOT NULL,
    priority INTEGER NOT NULL,
    sensitivity TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (consulate, status, priority, sensitivity)
) WITHOUT ROWID;

INSERT INTO status_counts (consulate, status, priority, sensitivity, n)
SELECT consulate, status, priority, sensitivity, count(*) FROM cases
GROUP BY consulate, status, priority, sensitivity;
