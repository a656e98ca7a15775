-- Version 5: staff accounts, break-glass grants, knowledge-base articles.

-- The console's users. Secrets are opaque here: `password_phc` is an argon2id PHC string made
-- by the sign-in code, `totp_secret` whatever bytes it chose to keep (it may seal them). The
-- role is not CHECKed, so a new role needs no table rebuild; reads refuse an unknown code.
-- `languages` is the language tags separated by single spaces. `version` and `updated_at`
-- move only when an administrator changes the account, never for sign-in bookkeeping
-- (`failed_logins`, `locked_until`, `totp_last_step`, `last_login_at`).
CREATE TABLE staff (
    id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL,
    consulate TEXT NOT NULL,
    languages TEXT NOT NULL,
    password_phc TEXT NOT NULL,
    totp_secret BLOB,
    totp_last_step INTEGER CHECK (totp_last_step >= 0),
    failed_logins INTEGER NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
    locked_until INTEGER,
    last_login_at INTEGER,
    disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    version INTEGER NOT NULL CHECK (version >= 1)
) WITHOUT ROWID;
-- Ids differing only in letter case would be two accounts that look like one: refused.
CREATE UNIQUE INDEX staff_id_nocase ON staff (id COLLATE NOCASE);

-- A staff member's time-limited access to one case outside their reach, with the reason they
-- gave. Rows are never deleted: supervisors review who broke the glass.
CREATE TABLE break_glass (
    id INTEGER PRIMARY KEY,
    staff TEXT NOT NULL REFERENCES staff (id),
    case_id INTEGER NOT NULL REFERENCES cases (id),
    reason TEXT NOT NULL CHECK (reason <> ''),
    granted_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL CHECK (expires_at > granted_at),
    revoked_at INTEGER
);
CREATE INDEX break_glass_staff_case ON break_glass (staff, case_id, expires_at);
CREATE INDEX break_glass_granted ON break_glass (granted_at);

-- Knowledge-base articles; one row per (slug, language), so a slug's rows are translations.
-- `country` is an ISO 3166 alpha-2 code, or '' for an article about every country.
CREATE TABLE kb_articles (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL,
    country TEXT NOT NULL,
    topic TEXT NOT NULL,
    language TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    public INTEGER NOT NULL CHECK (public IN (0, 1)),
    version INTEGER NOT NULL CHECK (version >= 1),
    updated_at INTEGER NOT NULL,
    updated_by TEXT NOT NULL,
    UNIQUE (slug, language)
);
CREATE INDEX kb_articles_listing ON kb_articles (language, country, topic, slug);

-- The articles' search index, rowid = kb_articles.id, written in the same transaction as the
-- article. Same tokenizer as message_fts, and the text is normalised the same way
-- (search::normalize). Unlike message_fts it keeps its (normalised) text, so that snippet()
-- can show where an article matched; the knowledge base is small, the copy is cheap.
CREATE VIRTUAL TABLE kb_fts USING fts5 (
    title,
    body,
    tokenize = 'unicode61 remove_diacritics 2'
);
