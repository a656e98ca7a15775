-- Version 1: cases, people, messages, search, attachments, counters, outbox.
-- Enumerations are stored as their stable text codes (model/codes.rs); priority as its rank
-- 0–4 so that it sorts; times as milliseconds since the Unix epoch, UTC.

CREATE TABLE case_seq (
    year INTEGER PRIMARY KEY,
    last INTEGER NOT NULL
);

CREATE TABLE cases (
    id INTEGER PRIMARY KEY,
    year INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    tracking_salt BLOB NOT NULL,
    tracking_tag BLOB NOT NULL,
    type_code TEXT NOT NULL,
    subtype_code TEXT,
    taxonomy_version INTEGER NOT NULL,
    family TEXT NOT NULL,
    priority INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 4),
    sensitivity TEXT NOT NULL,
    status TEXT NOT NULL,
    consulate TEXT NOT NULL,
    assignee TEXT,
    channel TEXT NOT NULL,
    language TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (year, seq)
);

-- One row per idempotency key ever accepted: channel code, ':', the caller's key.
CREATE TABLE idempotency (
    key TEXT PRIMARY KEY,
    case_id INTEGER NOT NULL REFERENCES cases (id)
) WITHOUT ROWID;

CREATE TABLE status_history (
    id INTEGER PRIMARY KEY,
    case_id INTEGER NOT NULL REFERENCES cases (id),
    at INTEGER NOT NULL,
    from_status TEXT,
    to_status TEXT NOT NULL,
    actor TEXT NOT NULL,
    note TEXT
);
CREATE INDEX status_history_case ON status_history (case_id, id);

CREATE TABLE persons (
    id INTEGER PRIMARY KEY,
    case_id INTEGER NOT NULL REFERENCES cases (id),
    role TEXT NOT NULL CHECK (role IN ('subject', 'requester')),
    relationship TEXT NOT NULL,
    family_name TEXT NOT NULL,
    given_names TEXT NOT NULL,
    birth_date TEXT,
    UNIQUE (case_id, role)
);

CREATE TABLE contact_points (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES persons (id),
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    verification TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX contact_points_person ON contact_points (person_id);

CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    case_id INTEGER NOT NULL REFERENCES cases (id),
    at INTEGER NOT NULL,
    direction TEXT NOT NULL,
    channel TEXT NOT NULL,
    author TEXT NOT NULL,
    visibility TEXT NOT NULL,
    language TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX messages_case ON messages (case_id, id);

-- The search index holds only the inverted index (contentless); rowid = messages.id, so rowid
-- order is arrival order and "most recent first" is a reverse walk of each doclist. Bodies are
-- normalised (search.rs) before they are indexed and queried. `scope` holds one token naming
-- the owning consulate, so a search within one consulate is an index intersection rather
-- than a filter applied to every match.
CREATE VIRTUAL TABLE message_fts USING fts5 (
    body,
    scope,
    content = '',
    contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TABLE attachments (
    id INTEGER PRIMARY KEY,
    case_id INTEGER NOT NULL REFERENCES cases (id),
    message_id INTEGER REFERENCES messages (id),
    sha256 BLOB NOT NULL CHECK (length(sha256) = 32),
    size INTEGER NOT NULL CHECK (size >= 0),
    media_type TEXT NOT NULL,
    file_name TEXT NOT NULL,
    verdict TEXT NOT NULL,
    verdict_at INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX attachments_case ON attachments (case_id);
CREATE INDEX attachments_sha256 ON attachments (sha256);

-- Cases per consulate × status × priority (all statuses), kept by every transaction that
-- changes a case.
CREATE TABLE status_counts (
    consulate TEXT NOT NULL,
    status TEXT NOT NULL,
    priority INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (consulate, status, priority)
) WITHOUT ROWID;

-- Events for the notification workers. A row leaves only when a worker marks it done; a
-- claim is a lease that moves available_at into the future.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    case_id INTEGER NOT NULL REFERENCES cases (id),
    detail TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    available_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX outbox_available ON outbox (available_at, id);
