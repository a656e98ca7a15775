-- Version 8: phone calls. One row per call (the caller's leg: who called, which number and
-- queue, when it started, was answered and ended, how it ended, the digits typed in the IVR)
-- and one row per offer of the call to an agent (the agent's legs), each call with its case.
-- `call_ref` is the bridge's own key for the call (the inbound Call-ID and its record id):
-- a record handed over twice is stored once.
CREATE TABLE calls (
    id INTEGER PRIMARY KEY,
    case_id INTEGER NOT NULL REFERENCES cases (id),
    call_ref TEXT NOT NULL UNIQUE,
    caller TEXT NOT NULL,
    called TEXT NOT NULL,
    queue TEXT,
    language TEXT,
    emergency INTEGER NOT NULL CHECK (emergency IN (0, 1)),
    digits TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    answered_at INTEGER,
    ended_at INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    ended_by TEXT CHECK (ended_by IN ('caller', 'agent')),
    -- The note that shows the call in the case's timeline.
    message_id INTEGER REFERENCES messages (id)
);
CREATE INDEX calls_case ON calls (case_id, started_at);

CREATE TABLE call_legs (
    call_id INTEGER NOT NULL REFERENCES calls (id),
    seq INTEGER NOT NULL,
    agent TEXT NOT NULL,
    offered_at INTEGER NOT NULL,
    answered_at INTEGER,
    ended_at INTEGER,
    outcome TEXT NOT NULL,
    PRIMARY KEY (call_id, seq)
) WITHOUT ROWID;
