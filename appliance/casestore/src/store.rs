//! The store handle: one writer connection behind a mutex, a small pool of read-only
//! connections, and the transaction wrapper every change goes through.
//!
//! SQLite allows one writer at a time, so writes are serialised here rather than retried on
//! `SQLITE_BUSY`; WAL lets reads proceed meanwhile on their own connections. Every write is
//! `BEGIN IMMEDIATE` … `COMMIT` with `synchronous=FULL`, so when a write method returns `Ok`
//! the change is on disk, and when it returns `Err` (or panics) nothing of it is.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ring::rand::SystemRandom;
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::counters::Deltas;
use crate::error::{DbError, DbResult as _, OpenError};
use crate::model::Timestamp;
use crate::schema;

/// Where the store gets the time. Tests and imports use their own.
pub trait Clock: Send + Sync + fmt::Debug {
    fn now(&self) -> Timestamp;
}

/// The system's UTC clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Timestamp::from_unix_ms(ms)
    }
}

/// A clock that shows what it was last set to; for tests of other crates too.
#[derive(Debug, Default)]
pub struct ManualClock(Mutex<i64>);

impl ManualClock {
    pub fn new(at: Timestamp) -> Self {
        Self(Mutex::new(at.unix_ms()))
    }

    pub fn set(&self, at: Timestamp) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = at.unix_ms();
    }

    pub fn advance_ms(&self, ms: i64) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) += ms;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix_ms(*self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// How a store is opened.
#[derive(Debug, Clone)]
pub struct Options {
    pub clock: Arc<dyn Clock>,
    /// Page cache of each read connection, in MiB.
    pub cache_mib: u32,
    /// Page cache of the write connection, in MiB. Kept small on purpose: SQLite scans the
    /// whole cache's hash table at the end of every write transaction whose page splits
    /// reordered pages (they pass through the page number of the 1 GiB lock byte), which
    /// is most intakes while the file is under 1 GiB. At 200,000 cases, 64 MiB made an
    /// intake about 20 % slower than 16 MiB; at 1,000,000 the two measured the same, the
    /// interior pages the writer walks fitting in either (docs/casestore.md).
    pub writer_cache_mib: u32,
    /// How long to wait for another process's lock before failing with a busy error.
    pub busy_timeout: Duration,
    /// Read connections kept open between reads.
    pub idle_readers: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            cache_mib: 64,
            writer_cache_mib: 16,
            busy_timeout: Duration::from_secs(5),
            idle_readers: 4,
        }
    }
}

/// The case store. Cheap to share (`&Store` is `Sync`); methods block on disk I/O, so async
/// callers run them on a blocking thread.
pub struct Store {
    pub(crate) path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    pub(crate) options: Options,
    pub(crate) rng: SystemRandom,
    /// Committed write transactions since open: lets in-process watchers (the console's live
    /// queues) notice a change without polling the database.
    generation: AtomicU64,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// An open write transaction with the time of the change and the counter deltas it gathers.
pub(crate) struct Tx<'c> {
    pub(crate) sql: rusqlite::Transaction<'c>,
    pub(crate) now: Timestamp,
    pub(crate) deltas: Deltas,
    pub(crate) rng: &'c SystemRandom,
}

impl Store {
    /// Opens (creating if needed) the store at `path` and migrates it to this build's schema.
    pub fn open(path: impl AsRef<Path>, options: Options) -> Result<Self, OpenError> {
        let path = path.as_ref().to_owned();
        let mut writer = connect(&path, &options, false).map_err(|source| OpenError::Open {
            path: path.clone(),
            source,
        })?;
        schema::migrate(&mut writer, &path)?;
        Ok(Self {
            path,
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
            options,
            rng: SystemRandom::new(),
            generation: AtomicU64::new(0),
        })
    }

    /// How many write transactions this handle has committed. It only grows; a watcher that
    /// saw another value knows something changed (in this process; other processes' writes
    /// are not counted).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` in one write transaction and commits it, with the counter deltas `f` gathered.
    /// An error from `f` rolls everything back.
    pub(crate) fn write<T, E: From<DbError>>(
        &self,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut conn = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let sql = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .db()?;
        let mut tx = Tx {
            sql,
            now: self.options.clock.now(),
            deltas: Deltas::default(),
            rng: &self.rng,
        };
        let out = f(&mut tx)?;
        tx.deltas.flush(&tx.sql)?;
        tx.sql.commit().db()?;
        self.generation.fetch_add(1, Ordering::Release);
        Ok(out)
    }

    /// Runs `f` on a read-only connection from the pool.
    pub(crate) fn read<T, E: From<DbError>>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, E>,
    ) -> Result<T, E> {
        let pooled = self
            .readers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => connect(&self.path, &self.options, true)?,
        };
        let out = f(&conn);
        let mut pool = self.readers.lock().unwrap_or_else(PoisonError::into_inner);
        if pool.len() < self.options.idle_readers {
            pool.push(conn);
        }
        out
    }

    /// Runs `f` on the writer connection outside any transaction; for maintenance statements
    /// (checkpoint, optimize) that must not run inside one.
    pub(crate) fn maintain<T, E: From<DbError>>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, E>,
    ) -> Result<T, E> {
        let conn = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        f(&conn)
    }
}

/// Opens one connection with the store's settings.
fn connect(path: &Path, options: &Options, read_only: bool) -> Result<Connection, DbError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).db()?;
    conn.busy_timeout(options.busy_timeout).db()?;
    let journal: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .db()?;
    if !journal.eq_ignore_ascii_case("wal") {
        return Err(DbError::other("the database refused WAL mode"));
    }
    let cache_mib = if read_only {
        options.cache_mib
    } else {
        options.writer_cache_mib
    };
    let cache_kib = -i64::from(cache_mib) * 1024;
    for (name, value) in [
        ("synchronous", "FULL".to_owned()),
        ("foreign_keys", "ON".to_owned()),
        ("temp_store", "MEMORY".to_owned()),
        ("cache_size", cache_kib.to_string()),
        ("journal_size_limit", (64 * 1024 * 1024).to_string()),
        // Checkpoint when the WAL holds 8192 pages (32 MiB) rather than SQLite's 1000: a
        // checkpoint copies each page once however often it changed since the last one, and the
        // pages every intake touches (counters, the ends of indexes, the search index's
        // structure) change constantly, so a longer interval halves the pages copied per
        // change. Durability is the WAL's, unchanged; the file stays under the size limit above.
        ("wal_autocheckpoint", "8192".to_owned()),
        (
            "query_only",
            if read_only { "ON" } else { "OFF" }.to_owned(),
        ),
    ] {
        conn.pragma_update(None, name, &value).db()?;
    }
    // The query planner stability guarantee: a statement's plan never depends on the values
    // bound to it. Without it, this SQLite (built with STAT4) plans some statements on their
    // bound values and marks them to be compiled again whenever a value is bound anew: every
    // case view, queue page and search, and the writer's queue and case-number statements,
    // were compiled on every run, and the search index's own look-ups once per segment.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
        .db()?;
    // Room for every statement the store prepares (about 110 call sites, some with variants
    // such as the queue pages'), so a busy connection never evicts and re-prepares one.
    conn.set_prepared_statement_cache_capacity(256);
    Ok(conn)
}
