//! The supervisors' numbers, each read from counters or one index walk, so they cost the same
//! at a million cases as at ten: response and resolution times from the histogram, the oldest
//! open case, unacknowledged emergencies, and the consulates that have cases.
//!
//! Times are kept as a histogram per (consulate, metric, UTC day, sensitivity, bucket), added to by the
//! transaction that sets a case's `first_response_at` or `resolved_at` (counters.rs). Buckets
//! grow ×1.25 from one minute ([`BOUNDS`]), so a percentile read from them is within 25% of
//! the true value, and sixty of them reach about ten months.

use rusqlite::OptionalExtension as _;
use rusqlite::types::Value;

use crate::error::{DbResult as _, ReadError};
use crate::model::{
    CaseId, CaseNumber, ConsulateId, QueueKind, Sensitivities, StatMetric, Stats, Timestamp,
};
use crate::queue::{per_priority, sensitivity_condition};
use crate::read::decode;
use crate::store::Store;

/// How many buckets a histogram has; the last is open-ended.
pub(crate) const BUCKETS: usize = 60;

/// The lower bounds of buckets 1…59, in milliseconds: 60 000, then each ×5/4 (integer
/// division, as the migration's SQL computes them). Bucket 0 is everything under a minute.
pub(crate) const BOUNDS: [i64; BUCKETS - 1] = bounds();

const fn bounds() -> [i64; BUCKETS - 1] {
    let mut out = [0; BUCKETS - 1];
    let mut ms = 60_000;
    let mut i = 0;
    while i < out.len() {
        out[i] = ms;
        ms = ms * 5 / 4;
        i += 1;
    }
    out
}

/// The consulate key under which the histogram sums every consulate; not a valid
/// [`ConsulateId`], so it cannot clash with one.
pub(crate) const ALL_CONSULATES: &str = "*";

const DAY_MS: i64 = 86_400_000;

/// The bucket of a duration: how many bounds it reaches (a negative one, from a clock step,
/// counts as under a minute).
pub(crate) fn bucket(ms: i64) -> u8 {
    let n = BOUNDS.iter().take_while(|b| **b <= ms).count();
    u8::try_from(n).unwrap_or(u8::MAX)
}

/// The UTC day number of a moment (days since 1970-01-01), as SQL's integer division gives it.
pub(crate) fn day(at: Timestamp) -> i64 {
    at.unix_ms() / DAY_MS
}

/// What a percentile in `bucket` is reported as: its upper bound, or for the open-ended last
/// bucket its lower bound.
fn reported_ms(bucket: usize) -> i64 {
    match BOUNDS.get(bucket) {
        Some(upper) => *upper,
        None => BOUNDS[BOUNDS.len() - 1],
    }
}

/// The value `per_cent` of the counted durations do not exceed, from per-bucket counts.
fn percentile(counts: &[u64; BUCKETS], total: u64, per_cent: u64) -> Option<i64> {
    if total == 0 {
        return None;
    }
    // The 1-based rank of that value (nearest-rank method); the answer is the first bucket
    // whose running total reaches it.
    let rank = (u128::from(total) * u128::from(per_cent))
        .div_ceil(100)
        .max(1);
    let rank = u64::try_from(rank).unwrap_or(u64::MAX);
    let mut seen = 0;
    for (i, n) in counts.iter().enumerate() {
        seen += n;
        if seen >= rank {
            return Some(reported_ms(i));
        }
    }
    Some(reported_ms(BUCKETS - 1))
}

impl Store {
    /// Count, median and 90th percentile of `metric` for cases of `sensitivities` answered (or
    /// resolved) during the UTC days from the one holding `since` to the one holding `until`,
    /// at `consulate` (`None`: all consulates). Whole days: the counters do not keep finer
    /// times.
    pub fn response_stats(
        &self,
        consulate: Option<&ConsulateId>,
        sensitivities: Sensitivities,
        metric: StatMetric,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<Stats, ReadError> {
        let key = consulate.map_or(ALL_CONSULATES, ConsulateId::as_str);
        let mut counts = [0u64; BUCKETS];
        let mut total = 0u64;
        let mut args = vec![
            Value::Text(key.to_owned()),
            Value::Text(metric.code().to_owned()),
            Value::Integer(day(since)),
            Value::Integer(day(until)),
        ];
        let only = sensitivity_condition("sensitivity", sensitivities, &mut args);
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT bucket, sum(n) FROM response_histogram
                     WHERE consulate = ?1 AND metric = ?2 AND day BETWEEN ?3 AND ?4{only}
                     GROUP BY bucket"
                ))
                .db()?;
            let mut rows = stmt.query(rusqlite::params_from_iter(args.iter())).db()?;
            while let Some(row) = rows.next().db()? {
                let bucket: i64 = row.get(0).db()?;
                let n = decode::count(row.get(1).db()?)?;
                let slot = usize::try_from(bucket)
                    .ok()
                    .and_then(|b| counts.get_mut(b))
                    .ok_or_else(|| ReadError::Corrupt(format!("histogram bucket {bucket}")))?;
                *slot += n;
                total += n;
            }
            Ok::<_, ReadError>(())
        })?;
        Ok(Stats {
            count: total,
            median_ms: percentile(&counts, total, 50),
            p90_ms: percentile(&counts, total, 90),
        })
    }

    /// The open case waiting longest at `consulate` (`None`: anywhere) among the sensitivities
    /// given: its id, number and creation time. One step of an index walk.
    pub fn oldest_open(
        &self,
        consulate: Option<&ConsulateId>,
        sensitivities: Sensitivities,
    ) -> Result<Option<(CaseId, CaseNumber, Timestamp)>, ReadError> {
        if sensitivities.is_empty() {
            return Ok(None);
        }
        let (sql, args) = oldest_open_sql(consulate, sensitivities);
        self.read(|conn| {
            let row: Option<(i64, i64, i64, i64)> = conn
                .prepare_cached(&sql)
                .db()?
                .query_row(rusqlite::params_from_iter(args), |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .optional()
                .db()?;
            row.map(|(id, year, seq, at)| {
                let no = CaseNumber::new(year, seq)
                    .map_err(|e| ReadError::Corrupt(format!("case {id}: {e}")))?;
                Ok((CaseId::from_raw(id), no, decode::time(at)))
            })
            .transpose()
        })
    }

    /// Open P0/P1 cases nobody is assigned to, at `consulate` (`None`: everywhere), among the
    /// sensitivities given; from the counters.
    pub fn unacknowledged_emergencies(
        &self,
        consulate: Option<&ConsulateId>,
        sensitivities: Sensitivities,
    ) -> Result<u64, ReadError> {
        Ok(self
            .queue_counts(consulate, sensitivities)?
            .get(QueueKind::UnassignedEmergency))
    }

    /// Every consulate that holds a case, from the counters, in code order.
    pub fn consulates(&self) -> Result<Vec<ConsulateId>, ReadError> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT consulate FROM status_counts GROUP BY consulate HAVING sum(n) > 0
                     ORDER BY consulate",
                )
                .db()?;
            let mut rows = stmt.query([]).db()?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().db()? {
                out.push(decode::text(row.get(0).db()?, ConsulateId::new)?);
            }
            Ok(out)
        })
    }
}

/// The first row of the `open` queue in age order: the oldest of the first rows of its
/// per-priority runs in the urgency order (the primary key for one consulate,
/// `queue_entries_all` for all of them).
pub(crate) fn oldest_open_sql(
    consulate: Option<&ConsulateId>,
    sensitivities: Sensitivities,
) -> (String, Vec<Value>) {
    let mut args = vec![Value::Text(QueueKind::Open.code().to_owned())];
    let mut cond = "q.queue = ?1 AND q.agent = ''".to_owned();
    if let Some(consulate) = consulate {
        args.push(Value::Text(consulate.as_str().to_owned()));
        cond.push_str(" AND q.consulate = ?2");
    }
    if !sensitivities.is_all() {
        cond.push_str(&sensitivity_condition(
            "q.sensitivity",
            sensitivities,
            &mut args,
        ));
    }
    let mut sql = per_priority(|priority| {
        format!(
            "SELECT c.id, c.year, c.seq, q.created_at AS q_created_at, q.case_id AS q_case_id
             FROM queue_entries q CROSS JOIN cases c ON c.id = q.case_id
             WHERE {cond}{priority}"
        )
    });
    sql.push_str(" ORDER BY q_created_at, q_case_id LIMIT 1");
    (sql, args)
}

#[cfg(test)]
mod tests;
