//! The case store: every consular case, its people, messages, attachments, links and
//! referrals, with queues, counters, full-text search and an outbox for notifications. The
//! only crate that touches SQLite (deny.toml); other crates see typed operations on
//! [`Store`], never SQL or a connection, so a PostgreSQL backend can later sit behind the
//! same API.
//!
//! Invariants:
//! - **One change, one transaction.** Every write method is one `BEGIN IMMEDIATE` transaction
//!   holding the case row, its message and search-index row, attachment rows, status history,
//!   queue rows, counter deltas and the outbox event(s). When it returns `Ok` the whole change
//!   is durable (WAL, `synchronous=FULL`); when it returns `Err` nothing of it is visible.
//! - **Counters never drift.** Queue and status counts are maintained in that transaction, so
//!   [`Store::queue_counts`] reads counters and never scans; [`Store::check_counters`]
//!   recounts from scratch with independently written SQL and must find nothing.
//! - **Idempotent intake.** A [`NewCase`] whose idempotency key (per channel) was seen returns
//!   the first case and writes nothing.
//! - **Secrets stay sealed.** The citizen's tracking code is returned once and stored only as
//!   a salted HMAC, checked in constant time; for a case opened by e-mail it is also kept in
//!   clear until the acknowledgement that tells it has left (`mail_ack_codes`).
//! - **Search folds Romanian diacritics** in both the comma-below and cedilla forms, and ranks
//!   by recency unless asked otherwise.
//! - **Events leave only when done.** An outbox event is deleted only by
//!   [`Store::outbox_done`]; a claim is a lease, so a crashed worker's events come back.
//! - **Attachments live outside the database**, content-addressed by SHA-256 and written
//!   atomically ([`AttachmentStore`]); the database holds their metadata and scan verdict.
//! - **Mail is taken in once.** A Message-ID recorded with a case ([`Store::open_mail_case`],
//!   [`Store::append_mail`]) is never taken in again; a reply joins a case only through
//!   [`Store::append_mail`], which the channel calls only for a verified sender.
//! - **Nothing given up is lost.** An event past its last retry moves to the dead letters
//!   with a note in its case ([`Store::outbox_dead_letter`]); a person can requeue it.
//! - **Schema changes are migrations** (`migrations/*.sql`, embedded), applied at open, each in
//!   its own transaction with `PRAGMA user_version`; a file from a newer build is refused.

pub mod baseline;
mod calls;
mod counters;
mod error;
mod files;
mod grants;
mod intake;
mod knowledge;
mod mail;
mod maintain;
mod merge;
mod model;
mod outbox;
mod queue;
mod read;
mod reclassify;
mod related;
mod relations;
mod schema;
mod search;
mod staff;
mod stats;
mod store;
mod timeline;
mod tracking;
mod update;
mod write;

pub use calls::{CallLegRecord, NewCall, PhoneCase, StoredCall};
pub use counters::{CounterMismatch, QueueCounts, StatusCount};
pub use error::{DbError, FileError, InvalidValue, MergeRefusal, OpenError, ReadError, WriteError};
pub use files::{AttachmentStore, StoredFile};
pub use grants::{Grant, GrantError};
pub use intake::{CaseCreated, ImportedCase};
pub use knowledge::{
    Article, ArticleError, ArticleHit, ArticleQuery, ArticleSummary, MAX_ARTICLE_HITS,
    MAX_ARTICLE_QUERY_CHARS, NewArticle, Snippet, SnippetPart,
};
pub use mail::{
    DeadLetter, MAX_MAIL_ID_BYTES, MailCase, MailContact, MailId, MailOutcome, MailRef, SentMail,
};
pub use model::*;
pub use outbox::OutboxEvent;
pub use queue::{PageSize, QueueCursor, QueueFilter, QueuePage, QueueQuery, QueueSort};
pub use search::{SearchHit, SearchOrder, SearchQuery, normalize};
pub use staff::{LoginState, MAX_STAFF_LANGUAGES, NewStaff, StaffAccount, StaffError};
pub use store::{Clock, ManualClock, Options, Store, SystemClock};
pub use tracking::TrackingCode;

/// The schema version this build creates and expects.
pub const SCHEMA_VERSION: i64 = schema::LATEST;

#[cfg(test)]
mod testkit;
