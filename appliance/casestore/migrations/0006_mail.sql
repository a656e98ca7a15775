-- Version 6: the e-mail channel. Message-IDs seen and sent per case (idempotency and
-- threading), the Message-ID an outgoing event keeps across retries, tracking codes held only
-- until the acknowledgement that carries them has been sent, automatic answers per address
-- (their rate limit), undeliverable contact points (bounces), and dead-lettered outbox events.

-- Every Message-ID the e-mail channel took in or sent, without angle brackets, as received
-- (Message-IDs are compared exactly). `message_id` is the case message it became, if any (a
-- bounce or a duplicate becomes none).
CREATE TABLE mail_messages (
    mail_id TEXT PRIMARY KEY,
    case_id INTEGER NOT NULL REFERENCES cases (id),
    message_id INTEGER REFERENCES messages (id),
    direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX mail_messages_case ON mail_messages (case_id, at);

-- The Message-ID chosen for an outbox event at its first attempt, so that every retry (and a
-- resend after a crash between the relay's acceptance and `done`) carries the same one.
CREATE TABLE mail_pending (
    outbox_id INTEGER PRIMARY KEY,
    mail_id TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- The citizen's tracking code for a case opened by e-mail, kept in clear only until the
-- acknowledgement that tells it has been accepted by the relay (or dead-lettered).
CREATE TABLE mail_ack_codes (
    case_id INTEGER PRIMARY KEY REFERENCES cases (id),
    code TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- Automatic answers sent, per normalised address, for the per-address rate limit.
CREATE TABLE mail_auto_replies (
    address TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX mail_auto_replies_address ON mail_auto_replies (address, at);

-- A contact point the relay reported undeliverable (a DSN with action failed).
ALTER TABLE contact_points ADD COLUMN undeliverable_at INTEGER;
ALTER TABLE contact_points ADD COLUMN undeliverable_reason TEXT;

-- Outbox events given up after the last retry: out of the outbox, kept for agents, and
-- requeued only by a person.
CREATE TABLE outbox_dead (
    id INTEGER PRIMARY KEY,
    outbox_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    case_id INTEGER NOT NULL REFERENCES cases (id),
    detail TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    last_error TEXT NOT NULL,
    dead_at INTEGER NOT NULL
);
CREATE INDEX outbox_dead_case ON outbox_dead (case_id, id);
