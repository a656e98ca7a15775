//! Automatic call distribution: queues as data, the agents' states, and the choice of which
//! agent takes which waiting call. Pure and sans-IO: time is an argument, and whether an
//! agent's phone is registered is asked of the caller ([`Acd::next`]).
//!
//! The rules, in the order they decide:
//! - A waiting call is offered only to a **ready** agent whose phone is registered and whose
//!   languages include the call's language (a call without a language suits everyone).
//! - **Emergency** calls are served before all others, then the longest waiting.
//! - Among the agents who fit, the one **idle longest** gets it (ready since the earliest).
//! - An agent who does not answer within the queue's ring timeout (or refuses) has **missed**
//!   it: the caller goes back to the head of the queue with the time they first waited, the
//!   agent counts as idle from now, and after the queue's `max_missed` misses in a row the
//!   agent is set **not ready**.
//! - After a call the agent is in **wrap-up** for the queue's `wrap_up` and offered nothing.
//! - A queue holds at most `capacity` waiting callers; past that a new caller is refused.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;

/// A queue, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueConfig {
    /// Also a number that reaches it (the request URI's user part).
    pub name: String,
    /// Further dialled numbers that reach this queue.
    pub numbers: Vec<String>,
    /// The language an agent must speak to take its calls (`None`: any agent).
    pub language: Option<String>,
    /// The consulate whose cases its calls open (`None`: decided from the caller).
    pub consulate: Option<String>,
    /// Its calls jump every other queue's.
    pub emergency: bool,
    pub ring_timeout: Duration,
    pub wrap_up: Duration,
    /// Missed calls in a row after which an agent is set not ready.
    pub max_missed: u32,
    /// Callers waiting at most; the next one is refused (486).
    pub capacity: usize,
    /// The prompt a waiting caller hears, for the media engine (a file name).
    pub message: Option<String>,
}

impl QueueConfig {
    pub fn new(name: &str) -> QueueConfig {
        QueueConfig {
            name: name.to_owned(),
            numbers: Vec::new(),
            language: None,
            consulate: None,
            emergency: false,
            ring_timeout: Duration::from_secs(20),
            wrap_up: Duration::from_secs(30),
            max_missed: 3,
            capacity: 50,
            message: None,
        }
    }
}

/// What the IVR learned from a caller before the call is queued: the small plain type the
/// media engine hands to [`crate::Engine::enqueue_after_ivr`]. Without an IVR the queue's
/// own language and emergency flag stand in for it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IvrResult {
    /// The language the caller chose (`"ro"`, `"en"`…), overriding the queue's.
    pub language: Option<String>,
    /// The caller chose the emergency option.
    pub emergency: bool,
    /// Every digit the caller typed, in order (kept in the call record).
    pub digits: String,
}

/// An agent's state as the console shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentState {
    LoggedOut,
    Ready,
    NotReady,
    /// A queue call is ringing at the agent's phone.
    Ringing,
    OnCall,
    WrapUp,
}

impl AgentState {
    pub fn code(self) -> &'static str {
        match self {
            AgentState::LoggedOut => "logged_out",
            AgentState::Ready => "ready",
            AgentState::NotReady => "not_ready",
            AgentState::Ringing => "ringing",
            AgentState::OnCall => "on_call",
            AgentState::WrapUp => "wrap_up",
        }
    }
}

#[derive(Debug, Clone)]
struct Agent {
    languages: Vec<String>,
    state: AgentState,
    /// Since when the agent has been ready (for longest idle) or in the present state.
    since: Instant,
    wrap_until: Option<Instant>,
    missed: u32,
    /// The call record of the queue call ringing or in progress at the agent.
    call: Option<u64>,
}

/// A caller waiting in a queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// The call record id (one per caller).
    pub ticket: u64,
    pub queue: usize,
    pub language: Option<String>,
    pub emergency: bool,
    /// When the caller first joined the queue; kept across re-queues.
    pub since: Instant,
}

/// Why a caller could not join a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EnqueueError {
    #[error("queue full")]
    Full,
}

/// Figures per queue since the bridge started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct QueueStats {
    /// Callers who joined it.
    pub offered: u64,
    pub answered: u64,
    /// Answered within the service-level target.
    pub answered_in_target: u64,
    /// Callers who hung up while waiting or ringing.
    pub abandoned: u64,
    /// Callers refused because it was full.
    pub refused: u64,
}

#[derive(Debug)]
pub struct Acd {
    queues: Vec<QueueConfig>,
    stats: Vec<QueueStats>,
    agents: BTreeMap<String, Agent>,
    waiting: Vec<Waiting>,
    /// Answered within this counts towards the service level.
    pub service_level: Duration,
    changes: u64,
}

impl Acd {
    pub fn new(queues: Vec<QueueConfig>, service_level: Duration) -> Acd {
        Acd {
            stats: vec![QueueStats::default(); queues.len()],
            queues,
            agents: BTreeMap::new(),
            waiting: Vec::new(),
            service_level,
            changes: 0,
        }
    }

    /// Counts every change of a queue or an agent, for live views.
    pub fn changes(&self) -> u64 {
        self.changes
    }

    pub fn queues(&self) -> &[QueueConfig] {
        &self.queues
    }

    pub fn queue(&self, index: usize) -> Option<&QueueConfig> {
        self.queues.get(index)
    }

    pub fn stats(&self, index: usize) -> QueueStats {
        self.stats.get(index).copied().unwrap_or_default()
    }

    /// The queue a dialled number reaches.
    pub fn queue_for(&self, called: &str) -> Option<usize> {
        self.queues
            .iter()
            .position(|q| q.name == called || q.numbers.iter().any(|n| n == called))
    }

    /// Adds a caller; the queue's language and emergency flag unless the IVR said otherwise.
    pub fn enqueue(
        &mut self,
        now: Instant,
        ticket: u64,
        queue: usize,
        ivr: &IvrResult,
    ) -> Result<(), EnqueueError> {
        let Some(q) = self.queues.get(queue) else {
            return Err(EnqueueError::Full);
        };
        let stats = &mut self.stats[queue];
        if self.waiting.iter().filter(|w| w.queue == queue).count() >= q.capacity {
            stats.refused += 1;
            return Err(EnqueueError::Full);
        }
        stats.offered += 1;
        self.changes += 1;
        self.waiting.push(Waiting {
            ticket,
            queue,
            language: ivr.language.clone().or_else(|| q.language.clone()),
            emergency: ivr.emergency || q.emergency,
            since: now,
        });
        Ok(())
    }

    /// Puts a caller whose offer failed back, keeping their place (their first `since`).
    pub fn requeue(&mut self, waiting: Waiting) {
        self.changes += 1;
        self.waiting.push(waiting);
    }

    /// A waiting caller hung up.
    pub fn abandon(&mut self, ticket: u64) -> Option<Waiting> {
        self.changes += 1;
        let at = self.waiting.iter().position(|w| w.ticket == ticket)?;
        let w = self.waiting.remove(at);
        if let Some(s) = self.stats.get_mut(w.queue) {
            s.abandoned += 1;
        }
        Some(w)
    }

    /// Callers waiting, in the order they will be served.
    pub fn waiting(&self) -> Vec<&Waiting> {
        let mut all: Vec<&Waiting> = self.waiting.iter().collect();
        all.sort_by_key(|w| (!w.emergency, w.since, w.ticket));
        all
    }

    /// The next caller and the agent to offer them to, both taken out of the pool: the
    /// caller leaves the queue and the agent is ringing. `reachable` says whether an agent's
    /// phone is registered.
    pub fn next(
        &mut self,
        now: Instant,
        reachable: impl Fn(&str) -> bool,
    ) -> Option<(Waiting, String)> {
        self.tick(now);
        let order: Vec<u64> = self.waiting().iter().map(|w| w.ticket).collect();
        for ticket in order {
            let Some(at) = self.waiting.iter().position(|w| w.ticket == ticket) else {
                continue;
            };
            let language = self.waiting[at].language.clone();
            let chosen = self
                .agents
                .iter()
                .filter(|(name, a)| {
                    a.state == AgentState::Ready
                        && language
                            .as_ref()
                            .is_none_or(|l| a.languages.iter().any(|k| k == l))
                        && reachable(name)
                })
                .min_by_key(|(name, a)| (a.since, name.as_str()))
                .map(|(name, _)| name.clone());
            if let Some(agent) = chosen {
                let waiting = self.waiting.remove(at);
                self.changes += 1;
                if let Some(a) = self.agents.get_mut(&agent) {
                    a.state = AgentState::Ringing;
                    a.call = Some(waiting.ticket);
                }
                return Some((waiting, agent));
            }
        }
        None
    }

    /// Ends wrap-ups that are over.
    pub fn tick(&mut self, now: Instant) {
        let mut ended = 0;
        for a in self.agents.values_mut() {
            if let Some(until) = a.wrap_until
                && until <= now
            {
                a.wrap_until = None;
                if a.state == AgentState::WrapUp {
                    a.state = AgentState::Ready;
                    a.since = until;
                    ended += 1;
                }
            }
        }
        self.changes += ended;
    }

    /// When the next wrap-up ends.
    pub fn next_wakeup(&self) -> Option<Instant> {
        self.agents.values().filter_map(|a| a.wrap_until).min()
    }

    /// The agent logs in to the queues with their languages and is ready.
    pub fn login(&mut self, now: Instant, agent: &str, languages: &[String]) {
        self.changes += 1;
        let entry = self.agents.entry(agent.to_owned()).or_insert(Agent {
            languages: Vec::new(),
            state: AgentState::LoggedOut,
            since: now,
            wrap_until: None,
            missed: 0,
            call: None,
        });
        entry.languages = languages.to_vec();
        if entry.state == AgentState::LoggedOut {
            entry.state = AgentState::Ready;
            entry.since = now;
            entry.missed = 0;
        }
    }

    /// Logs out; a call ringing or in progress goes on, and the agent gets no more.
    pub fn logout(&mut self, agent: &str) {
        self.changes += 1;
        if let Some(a) = self.agents.get_mut(agent) {
            a.state = AgentState::LoggedOut;
            a.wrap_until = None;
        }
    }

    /// Ready or not ready; refused (false) while logged out, ringing or on a call.
    pub fn set_ready(&mut self, now: Instant, agent: &str, ready: bool) -> bool {
        self.changes += 1;
        let Some(a) = self.agents.get_mut(agent) else {
            return false;
        };
        match (a.state, ready) {
            (AgentState::Ready | AgentState::NotReady | AgentState::WrapUp, true) => {
                if a.state != AgentState::Ready {
                    a.since = now;
                }
                a.state = AgentState::Ready;
                a.wrap_until = None;
                a.missed = 0;
                true
            }
            (AgentState::Ready | AgentState::NotReady | AgentState::WrapUp, false) => {
                a.state = AgentState::NotReady;
                a.since = now;
                a.wrap_until = None;
                true
            }
            _ => false,
        }
    }

    /// The agent answered the queue call offered to them.
    pub fn answered(&mut self, now: Instant, agent: &str, waiting: &Waiting) {
        self.changes += 1;
        if let Some(a) = self.agents.get_mut(agent) {
            a.state = AgentState::OnCall;
            a.since = now;
            a.missed = 0;
        }
        if let Some(s) = self.stats.get_mut(waiting.queue) {
            s.answered += 1;
            if now.saturating_duration_since(waiting.since) <= self.service_level {
                s.answered_in_target += 1;
            }
        }
    }

    /// The agent did not answer (ring timeout, refusal, unreachable phone): counts a miss,
    /// and after the queue's `max_missed` sets them not ready. The caller is for the engine
    /// to [`Acd::requeue`].
    pub fn missed(&mut self, now: Instant, agent: &str, queue: usize) {
        self.changes += 1;
        let max = self.queues.get(queue).map_or(1, |q| q.max_missed.max(1));
        if let Some(a) = self.agents.get_mut(agent) {
            a.call = None;
            a.missed += 1;
            a.since = now;
            if a.state == AgentState::Ringing {
                a.state = if a.missed >= max {
                    AgentState::NotReady
                } else {
                    AgentState::Ready
                };
            }
        }
    }

    /// The caller gave up while the agent's phone rang: the agent is free again, no miss.
    pub fn released(&mut self, agent: &str, waiting: &Waiting) {
        self.changes += 1;
        if let Some(a) = self.agents.get_mut(agent) {
            a.call = None;
            if a.state == AgentState::Ringing {
                a.state = AgentState::Ready;
            }
        }
        if let Some(s) = self.stats.get_mut(waiting.queue) {
            s.abandoned += 1;
        }
    }

    /// The queue call ended: wrap-up for the queue's time.
    pub fn hung_up(&mut self, now: Instant, agent: &str, queue: usize) {
        self.changes += 1;
        let wrap = self.queues.get(queue).map_or(Duration::ZERO, |q| q.wrap_up);
        if let Some(a) = self.agents.get_mut(agent) {
            a.call = None;
            if a.state == AgentState::OnCall {
                a.state = AgentState::WrapUp;
                a.since = now;
                a.wrap_until = Some(now + wrap);
            }
        }
    }

    pub fn agent_state(&self, agent: &str) -> AgentState {
        self.agents
            .get(agent)
            .map_or(AgentState::LoggedOut, |a| a.state)
    }

    /// Every agent who has logged in since the bridge started: (name, state, since, missed
    /// in a row, the call record ringing or in progress, languages).
    pub fn agents(&self) -> Vec<AgentSnapshot> {
        self.agents
            .iter()
            .map(|(name, a)| AgentSnapshot {
                agent: name.clone(),
                state: a.state,
                since: a.since,
                wrap_until: a.wrap_until,
                missed: a.missed,
                call: a.call,
                languages: a.languages.clone(),
            })
            .collect()
    }
}

/// One agent as [`Acd::agents`] reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentSnapshot {
    pub agent: String,
    pub state: AgentState,
    pub since: Instant,
    pub wrap_until: Option<Instant>,
    pub missed: u32,
    pub call: Option<u64>,
    pub languages: Vec<String>,
}

#[cfg(test)]
mod tests;
