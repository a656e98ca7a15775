-- Version 2: typed links between cases and referrals to external bodies.

CREATE TABLE case_links (
    from_case INTEGER NOT NULL REFERENCES cases (id),
    to_case INTEGER NOT NULL REFERENCES cases (id),
    kind TEXT NOT NULL,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    PRIMARY KEY (from_case, kind, to_case),
    CHECK (from_case <> to_case)
) WITHOUT ROWID;
CREATE INDEX case_links_to ON case_links (to_case);

CREATE TABLE referrals (
    id INTEGER PRIMARY KEY,
    case_id INTEGER NOT NULL REFERENCES cases (id),
    body TEXT NOT NULL,
    sent_at INTEGER,
    acknowledged_at INTEGER,
    due_at INTEGER,
    outcome TEXT,
    outcome_at INTEGER
);
CREATE INDEX referrals_case ON referrals (case_id);
-- Overdue referrals: unanswered ones by due date.
CREATE INDEX referrals_due ON referrals (due_at) WHERE outcome IS NULL;
