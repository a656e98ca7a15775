//! Counters and queue membership, kept in step with the cases inside each write transaction.
//!
//! A case's [`Shape`] is what queues and counters depend on. Every write that may change it
//! calls [`apply`] with the shape before and after; `apply` inserts and deletes the case's
//! `queue_entries` rows and records ±1 deltas, which [`Deltas::flush`] adds to `status_counts`
//! and `queue_counts` (both per sensitivity) just before commit, together with the response-time
//! histogram rows a first response or a resolution adds ([`Deltas::histogram`]). Reading
//! counts is then a handful of primary-key lookups, never a scan. [`Store::check_counters`] recounts everything from the cases with
//! SQL written independently of the Rust rules, so a drift between the two shows.

use std::collections::{BTreeMap, HashMap, HashSet};

use rusqlite::{Connection, params};

use crate::error::{DbError, DbResult as _, ReadError};
use crate::model::{
    AgentId, CaseId, ConsulateId, Priority, QueueKind, Sensitivities, Sensitivity, StatMetric,
    Status, Timestamp,
};
use crate::store::{Store, Tx};

/// What queue membership and the counters of one case depend on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Shape {
    pub(crate) consulate: String,
    pub(crate) status: Status,
    pub(crate) priority: Priority,
    pub(crate) assignee: Option<String>,
    pub(crate) created_at: i64,
    pub(crate) type_code: String,
    pub(crate) language: String,
    pub(crate) channel: String,
    pub(crate) sensitivity: Sensitivity,
}

impl Shape {
    /// Whether the queue rows of both shapes would hold the same values.
    fn row_eq(&self, other: &Shape) -> bool {
        self.consulate == other.consulate
            && self.priority == other.priority
            && self.created_at == other.created_at
            && self.type_code == other.type_code
            && self.language == other.language
            && self.channel == other.channel
            && self.sensitivity == other.sensitivity
    }

    /// The (queue, agent) pairs the case is in.
    fn memberships(&self) -> Vec<(QueueKind, &str)> {
        QueueKind::ALL
            .iter()
            .filter(|q| q.contains(self.status, self.priority, self.assignee.is_some()))
            .map(|&q| {
                let agent = match q {
                    QueueKind::Assigned => self.assignee.as_deref().unwrap_or_default(),
                    _ => "",
                };
                (q, agent)
            })
            .collect()
    }
}

/// Counter changes gathered during one transaction.
#[derive(Debug, Default)]
pub(crate) struct Deltas {
    status: HashMap<(String, Status, Priority, Sensitivity), i64>,
    queues: HashMap<(String, QueueKind, String, Sensitivity), i64>,
    histogram: HashMap<(String, StatMetric, i64, Sensitivity, u8), i64>,
    /// Cases whose version this transaction has already bumped: a transaction counts once.
    changed: HashSet<CaseId>,
}

impl Deltas {
    /// Whether this is the transaction's first change to `case`.
    pub(crate) fn first_change(&mut self, case: CaseId) -> bool {
        self.changed.insert(case)
    }

    /// Counts `n` (±1) durations of `metric` for a case of `consulate` and `sensitivity`
    /// created at `created_at` and answered or resolved at `at`, for that consulate and for
    /// all of them (`*`).
    pub(crate) fn histogram(
        &mut self,
        case: (&str, Sensitivity),
        metric: StatMetric,
        created_at: i64,
        at: Timestamp,
        n: i64,
    ) {
        let (consulate, sensitivity) = case;
        let bucket = crate::stats::bucket(at.unix_ms().saturating_sub(created_at));
        let day = crate::stats::day(at);
        for key in [consulate, crate::stats::ALL_CONSULATES] {
            *self
                .histogram
                .entry((key.to_owned(), metric, day, sensitivity, bucket))
                .or_default() += n;
        }
    }

    /// Adds the non-zero deltas to the counter tables.
    pub(crate) fn flush(&mut self, sql: &Connection) -> Result<(), DbError> {
        let mut status = sql
            .prepare_cached(
                "INSERT INTO status_counts (consulate, status, priority, sensitivity, n)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO UPDATE SET n = n + excluded.n",
            )
            .db()?;
        for ((consulate, s, p, sens), n) in self.status.drain().filter(|(_, n)| *n != 0) {
            status
                .execute(params![consulate, s.code(), p.rank(), sens.code(), n])
                .db()?;
        }
        let mut queues = sql
            .prepare_cached(
                "INSERT INTO queue_counts (consulate, queue, agent, sensitivity, n)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO UPDATE SET n = n + excluded.n",
            )
            .db()?;
        for ((consulate, q, agent, s), n) in self.queues.drain().filter(|(_, n)| *n != 0) {
            queues
                .execute(params![consulate, q.code(), agent, s.code(), n])
                .db()?;
        }
        let mut histogram = sql
            .prepare_cached(
                "INSERT INTO response_histogram (consulate, metric, day, sensitivity, bucket, n)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO UPDATE SET n = n + excluded.n",
            )
            .db()?;
        for ((consulate, metric, day, sens, bucket), n) in
            self.histogram.drain().filter(|(_, n)| *n != 0)
        {
            histogram
                .execute(params![
                    consulate,
                    metric.code(),
                    day,
                    sens.code(),
                    bucket,
                    n
                ])
                .db()?;
        }
        Ok(())
    }
}

/// Removes one queue row, named by its whole key.
pub(crate) const DELETE_QUEUE_ROW: &str = "DELETE FROM queue_entries
    WHERE queue = ?1 AND consulate = ?2 AND agent = ?3 AND priority = ?4 AND created_at = ?5
      AND case_id = ?6";

/// Moves case `id` from shape `old` (`None`: a new case) to `new`.
pub(crate) fn apply(
    tx: &mut Tx<'_>,
    id: CaseId,
    old: Option<&Shape>,
    new: &Shape,
) -> Result<(), DbError> {
    if old == Some(new) {
        return Ok(());
    }
    let new_entries = new.memberships();
    let old_entries = old.map(Shape::memberships).unwrap_or_default();
    // A membership in both shapes keeps its row only if that row would be identical.
    let same_row = old.is_some_and(|o| o.row_eq(new));
    if let Some(old) = old {
        let mut delete = tx.sql.prepare_cached(DELETE_QUEUE_ROW).db()?;
        *tx.deltas
            .status
            .entry((
                old.consulate.clone(),
                old.status,
                old.priority,
                old.sensitivity,
            ))
            .or_default() -= 1;
        for &(queue, agent) in &old_entries {
            if same_row && new_entries.contains(&(queue, agent)) {
                continue;
            }
            let key = params![
                queue.code(),
                old.consulate,
                agent,
                old.priority.rank(),
                old.created_at,
                id.get()
            ];
            delete.execute(key).db()?;
            *tx.deltas
                .queues
                .entry((
                    old.consulate.clone(),
                    queue,
                    agent.to_owned(),
                    old.sensitivity,
                ))
                .or_default() -= 1;
        }
    }
    *tx.deltas
        .status
        .entry((
            new.consulate.clone(),
            new.status,
            new.priority,
            new.sensitivity,
        ))
        .or_default() += 1;
    let mut insert = tx
        .sql
        .prepare_cached(
            "INSERT INTO queue_entries (queue, consulate, agent, priority, created_at, case_id,
             type_code, language, channel, sensitivity)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )
        .db()?;
    for &(queue, agent) in &new_entries {
        if same_row && old_entries.contains(&(queue, agent)) {
            continue;
        }
        insert
            .execute(params![
                queue.code(),
                new.consulate,
                agent,
                new.priority.rank(),
                new.created_at,
                id.get(),
                new.type_code,
                new.language,
                new.channel,
                new.sensitivity.code()
            ])
            .db()?;
        *tx.deltas
            .queues
            .entry((
                new.consulate.clone(),
                queue,
                agent.to_owned(),
                new.sensitivity,
            ))
            .or_default() += 1;
    }
    Ok(())
}

/// How many cases each queue holds, at one consulate or at all of them, counting only the
/// sensitivities asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueCounts {
    /// Per queue; `Assigned` is the total over all agents.
    pub by_queue: BTreeMap<QueueKind, u64>,
    /// The `Assigned` queue per agent.
    pub by_agent: BTreeMap<AgentId, u64>,
}

impl QueueCounts {
    pub fn get(&self, queue: QueueKind) -> u64 {
        self.by_queue.get(&queue).copied().unwrap_or(0)
    }
}

/// Cases of one consulate with one status and priority (over the sensitivities asked for).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusCount {
    pub status: Status,
    pub priority: Priority,
    pub n: u64,
}

/// A counter or queue row that disagrees with a recount from the cases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterMismatch {
    /// Which table and key, e.g. `queue_counts RO-PAR/unassigned/`.
    pub what: String,
    pub stored: i64,
    pub recounted: i64,
}

mod recount;

/// The statement summing `queue_counts` for one consulate or all, over some sensitivities.
fn counts_sql(
    consulate: Option<&ConsulateId>,
    sensitivities: Sensitivities,
) -> (String, Vec<rusqlite::types::Value>) {
    use rusqlite::types::Value;
    let mut args = Vec::new();
    let mut sql = "SELECT queue, agent, sum(n) FROM queue_counts WHERE 1".to_owned();
    if let Some(consulate) = consulate {
        args.push(Value::Text(consulate.as_str().to_owned()));
        sql.push_str(" AND consulate = ?1");
    }
    if !sensitivities.is_all() {
        sql.push_str(&crate::queue::sensitivity_condition(
            "sensitivity",
            sensitivities,
            &mut args,
        ));
    }
    sql.push_str(" GROUP BY queue, agent");
    (sql, args)
}

impl Store {
    /// The queue counters of `consulate` (`None`: all consulates) for cases whose sensitivity
    /// is in `sensitivities`, read from the counter table only.
    pub fn queue_counts(
        &self,
        consulate: Option<&ConsulateId>,
        sensitivities: Sensitivities,
    ) -> Result<QueueCounts, ReadError> {
        let mut counts = QueueCounts::default();
        if sensitivities.is_empty() {
            return Ok(counts);
        }
        let (sql, args) = counts_sql(consulate, sensitivities);
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&sql).db()?;
            let mut rows = stmt.query(rusqlite::params_from_iter(args)).db()?;
            while let Some(row) = rows.next().db()? {
                let queue: String = row.get(0).db()?;
                let agent: String = row.get(1).db()?;
                let n: i64 = row.get(2).db()?;
                let queue = QueueKind::from_code(&queue)
                    .ok_or_else(|| ReadError::Corrupt(format!("queue code {queue:?}")))?;
                let n =
                    u64::try_from(n).map_err(|_| ReadError::Corrupt(format!("queue count {n}")))?;
                *counts.by_queue.entry(queue).or_default() += n;
                if queue == QueueKind::Assigned && n > 0 {
                    let agent = AgentId::new(agent)
                        .map_err(|e| ReadError::Corrupt(format!("queue agent: {e}")))?;
                    *counts.by_agent.entry(agent).or_default() += n;
                }
            }
            Ok(counts)
        })
    }

    /// How many open cases are assigned to `agent`, at every consulate and of every
    /// sensitivity (they are the agent's own), from the counters.
    pub fn assigned_count(&self, agent: &AgentId) -> Result<u64, ReadError> {
        self.read(|conn| {
            let n: i64 = conn
                .prepare_cached(
                    "SELECT coalesce(sum(n), 0) FROM queue_counts
                     WHERE queue = 'assigned' AND agent = ?1",
                )
                .db()?
                .query_row([agent.as_str()], |r| r.get(0))
                .db()?;
            crate::read::decode::count(n)
        })
    }

    /// Cases of `consulate` whose sensitivity is in `sensitivities`, by status and priority
    /// (non-zero counts only), summed from the counter table.
    pub fn status_counts(
        &self,
        consulate: &ConsulateId,
        sensitivities: Sensitivities,
    ) -> Result<Vec<StatusCount>, ReadError> {
        use rusqlite::types::Value;
        if sensitivities.is_empty() {
            return Ok(Vec::new());
        }
        let mut args = vec![Value::Text(consulate.as_str().to_owned())];
        let mut sql =
            "SELECT status, priority, sum(n) FROM status_counts WHERE consulate = ?1".to_owned();
        if !sensitivities.is_all() {
            sql.push_str(&crate::queue::sensitivity_condition(
                "sensitivity",
                sensitivities,
                &mut args,
            ));
        }
        sql.push_str(" GROUP BY priority, status HAVING sum(n) <> 0 ORDER BY priority, status");
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&sql).db()?;
            let mut rows = stmt.query(rusqlite::params_from_iter(args)).db()?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().db()? {
                let status: String = row.get(0).db()?;
                let priority: i64 = row.get(1).db()?;
                let n: i64 = row.get(2).db()?;
                out.push(StatusCount {
                    status: Status::from_code(&status)
                        .ok_or_else(|| ReadError::Corrupt(format!("status {status:?}")))?,
                    priority: Priority::from_rank(priority)
                        .ok_or_else(|| ReadError::Corrupt(format!("priority {priority}")))?,
                    n: u64::try_from(n).map_err(|_| ReadError::Corrupt(format!("count {n}")))?,
                });
            }
            Ok(out)
        })
    }

    /// Recounts every counter and queue entry from the cases and lists the disagreements
    /// (none, unless something is wrong). Scans every case: a maintenance check, not a query
    /// for pages.
    pub fn check_counters(&self) -> Result<Vec<CounterMismatch>, ReadError> {
        self.read(recount::mismatches)
    }
}

#[cfg(test)]
mod tests;
