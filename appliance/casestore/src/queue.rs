//! Queue pages: one consulate's queue (or one queue across every consulate), filtered, sorted,
//! a bounded page at a time, continued with a keyset cursor (never OFFSET, so page 500 costs
//! what page 1 costs).
//!
//! Pages read `queue_entries`, which holds a row per (queue, case) maintained with the case
//! (counters.rs). Its primary key is the urgency order (priority, then age) beginning with
//! (queue, consulate, agent); `queue_entries_all` is the same order without the consulate.
//! Both carry the filter columns, the case's sensitivity among them, so a page in urgency
//! order is one index range scan plus a primary-key look-up per case shown. A page in age
//! order merges the five per-priority ranges of the same index (each already in age order),
//! reading at most a page from each: no age-order index has to be written by every intake.
//! Age order still shows the urgent (P0, P1) first: their arms are the first tier of the
//! merge, the other priorities' the second.

use std::fmt;
use std::str::FromStr;

use rusqlite::types::Value;

use crate::error::{DbResult as _, InvalidValue, ReadError};
use crate::model::{
    AgentId, Case, Channel, ConsulateId, Language, Priority, QueueKind, Sensitivities, Timestamp,
    TypeCode,
};
use crate::read::{CASE_COLUMN_COUNT, CASE_COLUMNS, case_row};
use crate::store::Store;

/// A page size: 1 to [`PageSize::MAX`] rows, 50 by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSize(u16);

impl PageSize {
    pub const MAX: u16 = 200;

    pub fn new(n: u16) -> Result<Self, InvalidValue> {
        if (1..=Self::MAX).contains(&n) {
            Ok(Self(n))
        } else {
            Err(InvalidValue {
                what: "page size",
                reason: "is outside 1–200",
            })
        }
    }

    pub fn get(self) -> u16 {
        self.0
    }
}

impl Default for PageSize {
    fn default() -> Self {
        Self(50)
    }
}

/// The order of a queue page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum QueueSort {
    /// P0 first, then oldest first: the order work should be taken in.
    #[default]
    Urgency,
    /// Oldest first, whatever the priority (FIFO).
    Oldest,
    /// Newest first.
    Newest,
}

impl QueueSort {
    fn code(self) -> char {
        match self {
            QueueSort::Urgency => 'u',
            QueueSort::Oldest => 'o',
            QueueSort::Newest => 'n',
        }
    }
}

/// Optional filters; each narrows the page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueFilter {
    pub priority: Option<Priority>,
    pub case_type: Option<TypeCode>,
    pub language: Option<Language>,
    pub channel: Option<Channel>,
    /// Only cases that arrived at or before this time: "older than a week".
    pub created_before: Option<Timestamp>,
}

/// A request for one page of a queue.
#[derive(Debug, Clone)]
pub struct QueueQuery {
    /// The owning consulate; `None` for the queue across every consulate.
    pub consulate: Option<ConsulateId>,
    pub queue: QueueKind,
    /// Whose queue, for [`QueueKind::Assigned`]; must be `None` for the others.
    pub agent: Option<AgentId>,
    /// Only cases of these sensitivities (what the reader may see); the others are not
    /// shown, not counted, and not hinted at by the cursor.
    pub sensitivities: Sensitivities,
    pub filter: QueueFilter,
    pub sort: QueueSort,
    pub page_size: PageSize,
    /// Where the previous page ended.
    pub after: Option<QueueCursor>,
}

impl QueueQuery {
    /// The first page of `queue` at `consulate` (`None`: everywhere), every sensitivity, most
    /// urgent first, 50 rows.
    pub fn first(consulate: Option<ConsulateId>, queue: QueueKind) -> Self {
        Self {
            consulate,
            queue,
            agent: None,
            sensitivities: Sensitivities::ALL,
            filter: QueueFilter::default(),
            sort: QueueSort::Urgency,
            page_size: PageSize::default(),
            after: None,
        }
    }
}

/// One page, and where the next one starts (`None`: this was the last).
#[derive(Debug, Clone)]
pub struct QueuePage {
    pub cases: Vec<Case>,
    pub next: Option<QueueCursor>,
}

/// A position in a queue, opaque to callers; its text form travels in URLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueCursor {
    sort: QueueSort,
    priority: u8,
    created_at: i64,
    case_id: i64,
}

impl fmt::Display for QueueCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.sort.code();
        write!(
            f,
            "{s}{}.{}.{}",
            self.priority, self.created_at, self.case_id
        )
    }
}

impl FromStr for QueueCursor {
    type Err = InvalidValue;

    fn from_str(s: &str) -> Result<Self, InvalidValue> {
        let bad = InvalidValue {
            what: "queue cursor",
            reason: "is malformed",
        };
        let mut chars = s.chars();
        let sort = match chars.next() {
            Some('u') => QueueSort::Urgency,
            Some('o') => QueueSort::Oldest,
            Some('n') => QueueSort::Newest,
            _ => return Err(bad),
        };
        let mut parts = chars.as_str().split('.');
        let mut next = || parts.next().and_then(|p| p.parse::<i64>().ok());
        let (Some(priority), Some(created_at), Some(case_id), None) =
            (next(), next(), next(), next())
        else {
            return Err(bad);
        };
        let priority = u8::try_from(priority)
            .ok()
            .filter(|p| *p <= 4)
            .ok_or(bad.clone())?;
        Ok(Self {
            sort,
            priority,
            created_at,
            case_id,
        })
    }
}

/// ` AND column IN (?n, …)` for the members of `set`, their codes appended to `args`. An empty
/// set gives a condition nothing meets.
pub(crate) fn sensitivity_condition(
    column: &str,
    set: Sensitivities,
    args: &mut Vec<Value>,
) -> String {
    let mut places = Vec::new();
    for s in set.iter() {
        args.push(Value::Text(s.code().to_owned()));
        places.push(format!("?{}", args.len()));
    }
    if places.is_empty() {
        return " AND 0".to_owned();
    }
    format!(" AND {column} IN ({})", places.join(", "))
}

/// The arms of a compound SELECT, one per priority: `arm` gets the condition that keeps its
/// priority's rows (` AND q.priority = N`). Ordered by age, SQLite merges them (each is a range
/// of an index in urgency order, so already in age order) instead of sorting.
pub(crate) fn per_priority(arm: impl Fn(&str) -> String) -> String {
    Priority::ALL
        .iter()
        .map(|p| arm(&format!(" AND q.priority = {}", p.rank())))
        .collect::<Vec<_>>()
        .join("\n UNION ALL ")
}

/// The tier of a priority in age-ordered pages: 0 for the urgent (P0, P1), 1 for the rest.
fn tier(rank: u8) -> u8 {
    u8::from(rank > 1)
}

/// The statement and arguments for one page.
pub(crate) fn page_sql(query: &QueueQuery) -> Result<(Vec<String>, Vec<Value>), ReadError> {
    let agent = match (query.queue, &query.agent) {
        (QueueKind::Assigned, Some(agent)) => agent.as_str().to_owned(),
        (QueueKind::Assigned, None) => {
            return Err(InvalidValue {
                what: "queue query",
                reason: "needs the agent whose queue it is",
            }
            .into());
        }
        (_, None) => String::new(),
        (_, Some(_)) => {
            return Err(InvalidValue {
                what: "queue query",
                reason: "names an agent for a shared queue",
            }
            .into());
        }
    };
    let mut args = vec![
        Value::Text(query.queue.code().to_owned()),
        Value::Text(agent),
    ];
    // The conditions every arm shares, after `WHERE`; numbered parameters, so arms repeat them.
    let mut cond = "q.queue = ?1 AND q.agent = ?2".to_owned();
    if let Some(consulate) = &query.consulate {
        args.push(Value::Text(consulate.as_str().to_owned()));
        cond.push_str(" AND q.consulate = ?3");
    }
    if !query.sensitivities.is_all() {
        cond.push_str(&sensitivity_condition(
            "q.sensitivity",
            query.sensitivities,
            &mut args,
        ));
    }
    let mut bind = |cond: &mut String, condition: &str, value: Value| {
        args.push(value);
        cond.push_str(&condition.replace('?', &format!("?{}", args.len())));
    };
    let f = &query.filter;
    if let Some(p) = f.priority {
        bind(
            &mut cond,
            " AND q.priority = ?",
            Value::Integer(p.rank().into()),
        );
    }
    if let Some(t) = &f.case_type {
        bind(
            &mut cond,
            " AND q.type_code = ?",
            Value::Text(t.as_str().to_owned()),
        );
    }
    if let Some(l) = &f.language {
        bind(
            &mut cond,
            " AND q.language = ?",
            Value::Text(l.as_str().to_owned()),
        );
    }
    if let Some(c) = f.channel {
        bind(
            &mut cond,
            " AND q.channel = ?",
            Value::Text(c.code().to_owned()),
        );
    }
    if let Some(before) = f.created_before {
        bind(
            &mut cond,
            " AND q.created_at <= ?",
            Value::Integer(before.unix_ms()),
        );
    }
    // In age order the urgent (P0, P1) still come first, each tier in age order: an
    // emergency is never below a routine case, whichever order the agent picked.
    let tiered = query.sort != QueueSort::Urgency && f.priority.is_none();
    // For a tiered page the age cursor applies only to the arms of the cursor's own tier.
    let mut keyset = String::new();
    let mut cursor_tier = None;
    if let Some(after) = query.after {
        if after.sort != query.sort {
            return Err(InvalidValue {
                what: "queue cursor",
                reason: "belongs to another sort order",
            }
            .into());
        }
        let (p, at, id) = (after.priority.into(), after.created_at, after.case_id);
        let beyond = if query.sort == QueueSort::Newest {
            "<"
        } else {
            ">"
        };
        match query.sort {
            QueueSort::Urgency => {
                bind(
                    &mut cond,
                    " AND (q.priority, q.created_at, q.case_id) > (?",
                    Value::Integer(p),
                );
                bind(&mut cond, ", ?", Value::Integer(at));
                bind(&mut cond, ", ?)", Value::Integer(id));
            }
            QueueSort::Oldest | QueueSort::Newest => {
                let target = if tiered { &mut keyset } else { &mut cond };
                bind(
                    target,
                    &format!(" AND (q.created_at, q.case_id) {beyond} (?"),
                    Value::Integer(at),
                );
                bind(target, ", ?)", Value::Integer(id));
                cursor_tier = Some(tier(after.priority));
            }
        }
    }
    let arm = |extra: &str| {
        format!(
            "SELECT {CASE_COLUMNS}, q.priority AS q_priority, q.created_at AS q_created_at,
                    q.case_id AS q_case_id
             FROM queue_entries q CROSS JOIN cases c ON c.id = q.case_id
             WHERE {cond}{extra}"
        )
    };
    let order = match query.sort {
        QueueSort::Urgency => " ORDER BY q_priority, q_created_at, q_case_id",
        QueueSort::Oldest => " ORDER BY q_created_at, q_case_id",
        QueueSort::Newest => " ORDER BY q_created_at DESC, q_case_id DESC",
    };
    // One row more than the page tells whether there is a next page. The limit is the last
    // parameter, so every statement below may be given all of `args`.
    args.push(Value::Integer(i64::from(query.page_size.get()) + 1));
    let limit = format!(" LIMIT ?{}", args.len());
    // The rows are kept in urgency order only (priority, then age): each extra order is one
    // more index for every intake to write. A page in age order is therefore the merge of the
    // priorities' runs, each already in age order; SQLite merges the arms of a compound
    // SELECT without sorting and stops at the LIMIT. Each tier is a statement of its own (a
    // tier column in one ORDER BY would make SQLite sort every arm), read in turn until the
    // page is full; a tier the cursor has left behind is not read at all.
    let statements = if tiered {
        [0, 1]
            .into_iter()
            .filter(|t| cursor_tier.is_none_or(|c| c <= *t))
            .map(|t| {
                let cursor = if cursor_tier == Some(t) {
                    keyset.as_str()
                } else {
                    ""
                };
                let arms = Priority::ALL
                    .iter()
                    .filter(|p| tier(p.rank()) == t)
                    .map(|p| arm(&format!(" AND q.priority = {}{cursor}", p.rank())))
                    .collect::<Vec<_>>()
                    .join("\n UNION ALL ");
                format!("{arms}{order}{limit}")
            })
            .collect()
    } else {
        vec![format!("{}{order}{limit}", arm(""))]
    };
    Ok((statements, args))
}

impl Store {
    /// One page of a queue; see the module documentation.
    pub fn queue(&self, query: &QueueQuery) -> Result<QueuePage, ReadError> {
        let (statements, args) = page_sql(query)?;
        if query.sensitivities.is_empty() {
            return Ok(QueuePage {
                cases: Vec::new(),
                next: None,
            });
        }
        let size = usize::from(query.page_size.get());
        self.read(|conn| {
            let mut cases = Vec::with_capacity(size);
            let mut last = None;
            let mut more = false;
            for sql in &statements {
                let mut stmt = conn.prepare_cached(sql).db()?;
                let mut rows = stmt.query(rusqlite::params_from_iter(args.iter())).db()?;
                while let Some(row) = rows.next().db()? {
                    if cases.len() == size {
                        more = true;
                        break;
                    }
                    let case = case_row(row)?;
                    let priority: i64 = row.get(CASE_COLUMN_COUNT).db()?;
                    let created_at: i64 = row.get(CASE_COLUMN_COUNT + 1).db()?;
                    last = Some(QueueCursor {
                        sort: query.sort,
                        priority: u8::try_from(priority).unwrap_or(u8::MAX),
                        created_at,
                        case_id: case.id.get(),
                    });
                    cases.push(case);
                }
                if more {
                    break;
                }
            }
            Ok(QueuePage {
                cases,
                next: if more { last } else { None },
            })
        })
    }
}

#[cfg(test)]
mod tests;
