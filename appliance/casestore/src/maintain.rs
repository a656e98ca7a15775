//! Upkeep: compacting the search index, checkpointing the WAL, sizes for monitoring.

use crate::error::{DbResult as _, ReadError, WriteError};
use crate::schema;
use crate::store::Store;

impl Store {
    /// Refreshes the query planner's statistics where they are stale. Cheap; worth running
    /// after a bulk import and now and then (e.g. daily).
    pub fn optimize(&self) -> Result<(), WriteError> {
        self.maintain(|conn| {
            conn.execute_batch("PRAGMA optimize = 0x10002").db()?;
            Ok(())
        })
    }

    /// Merges the whole search index into one segment. Searches work without it (FTS5 merges
    /// segments as it goes); it costs time in proportion to the index and holds the write lock
    /// meanwhile, so it is for quiet hours.
    pub fn compact_search_index(&self) -> Result<(), WriteError> {
        self.maintain(|conn| {
            conn.execute_batch("INSERT INTO message_fts (message_fts) VALUES ('optimize')")
                .db()?;
            Ok(())
        })
    }

    /// Copies the WAL into the database file and truncates it.
    pub fn checkpoint(&self) -> Result<(), WriteError> {
        self.maintain(|conn| {
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .db()?;
            Ok(())
        })
    }

    /// Bytes on disk: the database file and its WAL.
    pub fn storage_bytes(&self) -> Result<u64, ReadError> {
        let mut total = 0;
        let mut wal = self.path.as_os_str().to_owned();
        wal.push("-wal");
        for file in [self.path.as_os_str(), wal.as_os_str()] {
            match std::fs::metadata(file) {
                Ok(meta) => total += meta.len(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(ReadError::Corrupt(format!(
                        "size of {}: {e}",
                        self.path.display()
                    )));
                }
            }
        }
        Ok(total)
    }

    /// The schema version of the open database (the number of migrations applied).
    pub fn schema_version(&self) -> Result<i64, ReadError> {
        self.read(|conn| Ok(schema::version(conn)?))
    }

    /// How many cases the store holds, from the counters.
    pub fn case_count(&self) -> Result<u64, ReadError> {
        self.read(|conn| {
            let n: i64 = conn
                .prepare_cached("SELECT coalesce(sum(n), 0) FROM status_counts")
                .db()?
                .query_row([], |r| r.get(0))
                .db()?;
            crate::read::decode::count(n)
        })
    }
}
