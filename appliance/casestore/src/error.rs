//! The store's errors. The database engine's own error is wrapped in the opaque [`DbError`], so
//! no caller can come to depend on SQLite; it stays reachable as the `source()` for logs.

use std::path::PathBuf;

use crate::model::{CaseId, MergeId, Status};

/// A value that failed validation: `what` it was and the `reason`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {reason}")]
pub struct InvalidValue {
    pub what: &'static str,
    pub reason: &'static str,
}

/// An error reported by the database engine.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct DbError(Engine);

#[derive(Debug, thiserror::Error)]
enum Engine {
    #[error(transparent)]
    Sqlite(rusqlite::Error),
    #[error("{0}")]
    Other(&'static str),
}

impl DbError {
    pub(crate) fn other(message: &'static str) -> Self {
        Self(Engine::Other(message))
    }

    /// Another process held the database lock past the busy timeout; retrying may succeed.
    pub fn is_busy(&self) -> bool {
        match &self.0 {
            Engine::Sqlite(e) => matches!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            ),
            Engine::Other(_) => false,
        }
    }
}

/// Maps the engine's results onto [`DbError`] without a public `From<rusqlite::Error>`.
pub(crate) trait DbResult<T> {
    fn db(self) -> Result<T, DbError>;
}

impl<T> DbResult<T> for Result<T, rusqlite::Error> {
    fn db(self) -> Result<T, DbError> {
        self.map_err(|e| DbError(Engine::Sqlite(e)))
    }
}

/// Why [`Store::open`](crate::Store::open) failed.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot open the case store {path}")]
    Open { path: PathBuf, source: DbError },
    #[error("{path} is not a case store (application_id {found:#x})")]
    NotACaseStore { path: PathBuf, found: i64 },
    #[error(
        "{path} has schema version {found}, newer than the {supported} this build knows; \
         run a newer build"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error("migrating {path} to schema version {version} ({name}) failed")]
    Migration {
        path: PathBuf,
        version: i64,
        name: &'static str,
        source: DbError,
    },
    #[error("configuring the connection to {path} failed")]
    Setup { path: PathBuf, source: DbError },
}

/// Why a read failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// A query argument was refused (e.g. a cursor from another sort order).
    #[error(transparent)]
    Invalid(#[from] InvalidValue),
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    #[error("database error")]
    Database(#[from] DbError),
}

/// Why a change was refused or failed. A failed change left nothing behind.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("no case {0}")]
    NoSuchCase(CaseId),
    #[error("no {what} {id}")]
    NotFound { what: &'static str, id: i64 },
    #[error("a case cannot go from {from} to {to}")]
    InvalidTransition { from: Status, to: Status },
    #[error("nothing to change: {0}")]
    Unchanged(&'static str),
    /// Someone changed the case since the caller read it: reload and decide again.
    #[error("case {case} changed meanwhile: expected version {expected}, it is at {current}")]
    Conflict {
        case: CaseId,
        expected: u64,
        current: u64,
    },
    /// The case is merged into another: only messages, attachments, links and referrals may
    /// still reach it; everything else waits for an un-merge.
    #[error("case {0} is merged into another case; un-merge it first")]
    CaseMerged(CaseId),
    #[error("cannot merge: {0}")]
    Merge(#[from] MergeRefusal),
    #[error(transparent)]
    Invalid(#[from] InvalidValue),
    #[error("the case number sequence of {year} is exhausted")]
    SequenceExhausted { year: i32 },
    #[error("the system random number generator failed")]
    Randomness,
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    #[error("database error")]
    Database(#[from] DbError),
}

impl From<ReadError> for WriteError {
    fn from(error: ReadError) -> Self {
        match error {
            ReadError::Invalid(e) => WriteError::Invalid(e),
            ReadError::Corrupt(what) => WriteError::Corrupt(what),
            ReadError::Database(e) => WriteError::Database(e),
        }
    }
}

/// Why a merge or an un-merge was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeRefusal {
    #[error("a case cannot be merged into itself")]
    IntoItself,
    #[error("case {0} is already merged into another case")]
    SourceMerged(CaseId),
    #[error("case {0} is merged into another case, so nothing can be merged into it")]
    TargetMerged(CaseId),
    #[error("other cases are merged into case {0}; merges do not chain")]
    SourceHasMerges(CaseId),
    #[error("merge {0} was already undone")]
    AlreadyUndone(MergeId),
}

/// Why the [`AttachmentStore`](crate::AttachmentStore) failed.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{op} {path}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the file is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
}
