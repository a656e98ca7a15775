//! Call detail records: one per call through the B2BUA, kept in memory (the newest
//! [`CdrLog::CAPACITY`]) and handed to the case store when the call ends. The record is the
//! caller's leg; every offer to an agent is an [`AgentLeg`] inside it (a queue call missed by
//! one agent and answered by the next has two).

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
    /// The queue was full (486).
    QueueFull,
    /// An agent's leg only: the agent handed the call on (blind transfer).
    Transferred,
    /// The bridge stopped while the call was up or waiting (`Engine::hang_up_all`).
    Shutdown,
}

impl Outcome {
    /// A stable name for storage and display.
    pub fn code(self) -> &'static str {
        match self {
            Outcome::InProgress => "in_progress",
            Outcome::Completed => "completed",
            Outcome::Cancelled => "cancelled",
            Outcome::NoAgent => "no_agent",
            Outcome::NoAnswer => "no_answer",
            Outcome::Rejected(_) => "rejected",
            Outcome::Shutdown => "shutdown",
            Outcome::Unreachable => "unreachable",
            Outcome::QueueFull => "queue_full",
            Outcome::Transferred => "transferred",
        }
    }
}

/// One offer of the call to an agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentLeg {
    pub agent: String,
    /// Milliseconds since the Unix epoch.
    pub offered_ms: u64,
    pub answered_ms: Option<u64>,
    pub ended_ms: Option<u64>,
    pub outcome: Outcome,
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
    /// The queue it waited in, if it was a queue call.
    pub queue: Option<String>,
    /// The language it was queued for (the queue's or the caller's choice).
    pub language: Option<String>,
    pub emergency: bool,
    /// Digits the caller typed in the IVR.
    pub digits: String,
    /// The case it belongs to (its number), once the case store has said.
    pub case: Option<String>,
    /// Every offer to an agent, in order.
    pub legs: Vec<AgentLeg>,
    /// Both legs' audio, when the call's queue records.
    pub recording: Option<media::Recording>,
}

impl CallRecord {
    /// From the start to the answer, or to the end for an unanswered call.
    pub fn wait_ms(&self) -> Option<u64> {
        let until = self.answered_ms.or(self.ended_ms)?;
        Some(until.saturating_sub(self.started_ms))
    }

    /// From the answer to the end.
    pub fn talk_ms(&self) -> Option<u64> {
        Some(self.ended_ms?.saturating_sub(self.answered_ms?))
    }

    /// The caller's number: the user part of their From URI.
    pub fn caller_number(&self) -> &str {
        let s = self.caller.strip_prefix("sip:").unwrap_or(&self.caller);
        let s = s.strip_prefix("sips:").unwrap_or(s);
        s.split(['@', ';']).next().unwrap_or_default()
    }
}

/// A bounded log of records, with a clock mapping the engine's `Instant`s to wall time.
#[derive(Debug)]
pub struct CdrLog {
    records: VecDeque<CallRecord>,
    /// Records ended and not yet handed on (bounded like the records).
    finished: VecDeque<u64>,
    /// Every change, for whoever shows records live.
    changes: u64,
    next_id: u64,
    origin: (Instant, SystemTime),
}

impl CdrLog {
    pub const CAPACITY: usize = 10_000;

    /// `origin` pairs an instant with the wall time it stands for.
    pub fn new(origin: (Instant, SystemTime)) -> CdrLog {
        CdrLog {
            records: VecDeque::new(),
            finished: VecDeque::new(),
            changes: 0,
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
        self.changes += 1;
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
            queue: None,
            language: None,
            emergency: false,
            digits: String::new(),
            case: None,
            legs: Vec::new(),
            recording: None,
        });
        id
    }

    /// The call joined a queue.
    pub fn queued(&mut self, id: u64, queue: &str, language: Option<&str>, emergency: bool) {
        if let Some(r) = self.get_mut(id) {
            r.queue = Some(queue.to_owned());
            r.language = language.map(str::to_owned);
            r.emergency = emergency;
        }
    }

    pub fn recording(&mut self, id: u64, recording: media::Recording) {
        if let Some(r) = self.get_mut(id) {
            r.recording = Some(recording);
        }
    }

    pub fn digits(&mut self, id: u64, digits: &str) {
        if let Some(r) = self.get_mut(id) {
            r.digits = digits.to_owned();
        }
    }

    pub fn link_case(&mut self, id: u64, case: &str) -> bool {
        match self.get_mut(id) {
            Some(r) => {
                r.case = Some(case.to_owned());
                true
            }
            None => false,
        }
    }

    /// The offer to the agent ringing now ended without an answer.
    pub fn leg_ended(&mut self, id: u64, at: Instant, outcome: Outcome) {
        let ms = self.wall_ms(at);
        if let Some(leg) = self.get_mut(id).and_then(|r| r.legs.last_mut())
            && leg.ended_ms.is_none()
        {
            leg.ended_ms = Some(ms);
            leg.outcome = outcome;
        }
    }

    /// The next ended record not yet handed on.
    pub fn pop_finished(&mut self) -> Option<u64> {
        self.finished.pop_front()
    }

    pub fn changes(&self) -> u64 {
        self.changes
    }

    fn get_mut(&mut self, id: u64) -> Option<&mut CallRecord> {
        self.changes += 1;
        // Ids are increasing, so the record sits at a known offset from the front.
        let first = self.records.front()?.id;
        let index = usize::try_from(id.checked_sub(first)?).ok()?;
        self.records.get_mut(index)
    }

    pub fn offered(&mut self, id: u64, at: Instant, agent: &str) {
        let ms = self.wall_ms(at);
        if let Some(r) = self.get_mut(id) {
            r.agent = Some(agent.to_owned());
            r.legs.push(AgentLeg {
                agent: agent.to_owned(),
                offered_ms: ms,
                answered_ms: None,
                ended_ms: None,
                outcome: Outcome::InProgress,
            });
        }
    }

    /// The agent's leg handed the call to `target`, called at `offered` and answering at
    /// `at`: the agent's leg ends `transferred` and the target's leg carries the call on.
    pub fn transferred(&mut self, id: u64, offered: Instant, at: Instant, target: &str) {
        let (offered_ms, ms) = (self.wall_ms(offered), self.wall_ms(at));
        if let Some(r) = self.get_mut(id) {
            if let Some(leg) = r.legs.last_mut()
                && leg.ended_ms.is_none()
            {
                leg.ended_ms = Some(ms);
                leg.outcome = Outcome::Transferred;
            }
            r.agent = Some(target.to_owned());
            r.legs.push(AgentLeg {
                agent: target.to_owned(),
                offered_ms,
                answered_ms: Some(ms),
                ended_ms: None,
                outcome: Outcome::InProgress,
            });
        }
    }

    pub fn answered(&mut self, id: u64, at: Instant) {
        let ms = self.wall_ms(at);
        if let Some(r) = self.get_mut(id) {
            r.answered_ms.get_or_insert(ms);
            if let Some(leg) = r.legs.last_mut() {
                leg.answered_ms.get_or_insert(ms);
            }
        }
    }

    /// Ends a record once; later calls keep the first outcome.
    pub fn ended(&mut self, id: u64, at: Instant, outcome: Outcome, by: Option<Side>) {
        let ms = self.wall_ms(at);
        let Some(r) = self.get_mut(id) else { return };
        if r.outcome != Outcome::InProgress {
            return;
        }
        r.ended_ms = Some(ms);
        r.outcome = outcome;
        r.ended_by = by;
        if let Some(leg) = r.legs.last_mut()
            && leg.ended_ms.is_none()
        {
            leg.ended_ms = Some(ms);
            leg.outcome = outcome;
        }
        if self.finished.len() >= Self::CAPACITY {
            self.finished.pop_front();
        }
        self.finished.push_back(id);
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
