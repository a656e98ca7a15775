-- Version 10: fewer pages written per change. Every intake wrote one page at the end of each
-- b-tree it appended to; two of them served nothing another b-tree could not.
--
-- The status history is kept in its case's order: the primary key is (case_id, id), so a
-- case's history is one range of the table itself and an entry is one b-tree write, where it
-- was the table and its index `status_history_case`. `id` orders the entries of one case:
-- rows keep the ids they had (unique, in the order they were written), and a new entry takes
-- the case's largest id plus one (write.rs).
CREATE TABLE status_history_by_case (
    case_id INTEGER NOT NULL REFERENCES cases (id),
    id INTEGER NOT NULL,
    at INTEGER NOT NULL,
    from_status TEXT,
    to_status TEXT NOT NULL,
    actor TEXT NOT NULL,
    note TEXT,
    PRIMARY KEY (case_id, id)
) WITHOUT ROWID;

INSERT INTO status_history_by_case (case_id, id, at, from_status, to_status, actor, note)
SELECT case_id, id, at, from_status, to_status, actor, note FROM status_history;

DROP TABLE status_history;
ALTER TABLE status_history_by_case RENAME TO status_history;

-- A year's case numbers continue from the largest one of that year's cases, read from the
-- index of UNIQUE (year, seq) every case row already writes (intake.rs), instead of a row of
-- its own that every intake rewrote. Cases are never deleted, so the largest number is the
-- last one given, as case_seq held.
DROP TABLE case_seq;
