//! The outbox: events written in the same transaction as the change they announce, handed to
//! notification workers, and deleted only when a worker says it is done with them.
//!
//! A claim is a lease: claimed events become invisible until `now + lease`, and reappear if the
//! worker neither finishes nor fails them by then (it crashed). Delivery is therefore at least
//! once; consumers de-duplicate by [`OutboxEvent::id`].

use std::time::Duration;

use rusqlite::params;

use crate::error::{DbResult as _, ReadError, WriteError};
use crate::model::{CaseId, EventKind, OutboxId, Timestamp};
use crate::read::decode;
use crate::store::Store;

/// The longest error text kept for a failed delivery.
const MAX_ERROR_CHARS: usize = 1000;

/// One event for a worker.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEvent {
    pub id: OutboxId,
    pub kind: EventKind,
    pub case: CaseId,
    /// A JSON object: always `case_no`, `consulate`, `priority`, `status`, `type`, plus fields
    /// particular to the kind.
    pub detail: serde_json::Value,
    pub created_at: Timestamp,
    /// Failed deliveries so far.
    pub attempts: u32,
    pub last_error: Option<String>,
}

impl Store {
    /// Claims up to `n` due events, oldest first, for `lease`.
    pub fn outbox_claim(&self, n: usize, lease: Duration) -> Result<Vec<OutboxEvent>, WriteError> {
        let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        self.write(|tx| {
            let now = tx.now.unix_ms();
            let mut stmt = tx
                .sql
                .prepare_cached(
                    "UPDATE outbox SET available_at = ?3 WHERE id IN (
                         SELECT id FROM outbox WHERE available_at <= ?1
                         ORDER BY available_at, id LIMIT ?2)
                     RETURNING id, kind, case_id, detail, created_at, attempts, last_error",
                )
                .db()?;
            let mut rows = stmt
                .query(params![now, n, now.saturating_add(lease_ms)])
                .db()?;
            let mut out = Vec::new();
            while let Some(r) = rows.next().db()? {
                let kind: String = r.get(1).db()?;
                let detail: String = r.get(3).db()?;
                out.push(OutboxEvent {
                    id: OutboxId::from_raw(r.get(0).db()?),
                    kind: decode::code("event kind", &kind, EventKind::from_code)?,
                    case: CaseId::from_raw(r.get(2).db()?),
                    detail: serde_json::from_str(&detail)
                        .map_err(|e| ReadError::Corrupt(format!("outbox detail: {e}")))?,
                    created_at: decode::time(r.get(4).db()?),
                    attempts: u32::try_from(r.get::<_, i64>(5).db()?).unwrap_or(u32::MAX),
                    last_error: r.get(6).db()?,
                });
            }
            out.sort_by_key(|e| e.id);
            Ok(out)
        })
    }

    /// The event was delivered: it leaves the outbox.
    pub fn outbox_done(&self, id: OutboxId) -> Result<(), WriteError> {
        self.write(|tx| {
            let gone = tx
                .sql
                .prepare_cached("DELETE FROM outbox WHERE id = ?1")
                .db()?
                .execute([id.get()])
                .db()?;
            if gone == 0 {
                return Err(WriteError::NotFound {
                    what: "outbox event",
                    id: id.get(),
                });
            }
            Ok(())
        })
    }

    /// Delivery failed: the event stays, and is due again at `retry_at`.
    pub fn outbox_failed(
        &self,
        id: OutboxId,
        error: &str,
        retry_at: Timestamp,
    ) -> Result<(), WriteError> {
        let error: String = error.chars().take(MAX_ERROR_CHARS).collect();
        self.write(|tx| {
            let found = tx
                .sql
                .prepare_cached(
                    "UPDATE outbox SET available_at = ?2, attempts = attempts + 1, last_error = ?3
                     WHERE id = ?1",
                )
                .db()?
                .execute(params![id.get(), retry_at.unix_ms(), error])
                .db()?;
            if found == 0 {
                return Err(WriteError::NotFound {
                    what: "outbox event",
                    id: id.get(),
                });
            }
            Ok(())
        })
    }

    /// Events waiting in the outbox, due or not (for health checks).
    pub fn outbox_len(&self) -> Result<u64, ReadError> {
        self.read(|conn| {
            let n: i64 = conn
                .prepare_cached("SELECT count(*) FROM outbox")
                .db()?
                .query_row([], |r| r.get(0))
                .db()?;
            decode::count(n)
        })
    }
}

#[cfg(test)]
mod tests;
