//! Call detail records: one per call through the B2BUA, kept in memory (the newest
//! [`CdrLog::CAPACITY`]) until the case store takes them.

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// Which side of a call did something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The inbound leg: the trunk, the caller.
    Caller,
    /// The outbound leg: the agent.
    Agent,
}

/// How a call ended (or that it has not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "code")]
pub enum Outcome {
    /// Still ringing or talking.
    InProgress,
    /// Answered, then hung up by either side.
    Completed,
    /// The caller gave up before an answer.
    Cancelled,
    /// No agent registered to take it (480).
    NoAgent,
    /// The agent's phone did not answer within the ring timeout.
    NoAnswer,
    /// The agent's phone refused (busy, declined…) with this code.
    Rejected(u16),
    /// The agent's phone never answered the INVITE at all (Timer B).
    Unreachable,
}

/// One call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallRecord {
    pub id: u64,
    /// The inbound leg's Call-ID.
    pub call_id: String,
    /// The caller's From URI.
    pub caller: String,
    /// The dialled user part of the request URI.
    pub called: String,
    /// The agent the call was offered to, if any.
    pub agent: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub started_ms: u64,
    pub answered_ms: Option<u64>,
    pub ended_ms: Option<u64>,
    pub outcome: Outcome,
    pub ended_by: Option<Side>,
}

/// A bounded log of records, with a clock mapping the engine's `Instant`s to wall time.
#[derive(Debug)]
pub struct CdrLog {
    records: VecDeque<CallRecord>,
    next_id: u64,
    origin: (Instant, SystemTime),
}

impl CdrLog {
    pub const CAPACITY: usize = 10_000;

    /// `origin` pairs an instant with the wall time it stands for.
    pub fn new(origin: (Instant, SystemTime)) -> CdrLog {
        CdrLog {
            records: VecDeque::new(),
            next_id: 1,
            origin,
        }
    }

    fn wall_ms(&self, at: Instant) -> u64 {
        let (instant, wall) = self.origin;
        let wall = if at >= instant {
            wall + (at - instant)
        } else {
            wall - (instant - at)
        };
        wall.duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_millis() as u64
    }

    pub fn start(&mut self, at: Instant, call_id: &str, caller: &str, called: &str) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        if self.records.len() >= Self::CAPACITY {
            self.records.pop_front();
        }
        let started_ms = self.wall_ms(at);
        self.records.push_back(CallRecord {
            id,
            call_id: call_id.to_owned(),
            caller: caller.to_owned(),
            called: called.to_owned(),
            agent: None,
            started_ms,
            answered_ms: None,
            ended_ms: None,
            outcome: Outcome::InProgress,
            ended_by: None,
        });
        id
    }

    fn get_mut(&mut self, id: u64) -> Option<&mut CallRecord> {
        // Ids are increasing, so the record sits at a known offset from the front.
        let first = self.records.front()?.id;
        let index = usize::try_from(id.checked_sub(first)?).ok()?;
        self.records.get_mut(index)
    }

    pub fn offered(&mut self, id: u64, agent: &str) {
        if let Some(r) = self.get_mut(id) {
            r.agent = Some(agent.to_owned());
        }
    }

    pub fn answered(&mut self, id: u64, at: Instant) {
        let ms = self.wall_ms(at);
        if let Some(r) = self.get_mut(id) {
            r.answered_ms.get_or_insert(ms);
        }
    }

    /// Ends a record once; later calls keep the first outcome.
    pub fn ended(&mut self, id: u64, at: Instant, outcome: Outcome, by: Option<Side>) {
        let ms = self.wall_ms(at);
        if let Some(r) = self.get_mut(id)
            && r.outcome == Outcome::InProgress
        {
            r.ended_ms = Some(ms);
            r.outcome = outcome;
            r.ended_by = by;
        }
    }

    /// Every kept record, oldest first.
    pub fn records(&self) -> Vec<CallRecord> {
        self.records.iter().cloned().collect()
    }

    pub fn get(&self, id: u64) -> Option<&CallRecord> {
        let first = self.records.front()?.id;
        self.records
            .get(usize::try_from(id.checked_sub(first)?).ok()?)
    }
}
