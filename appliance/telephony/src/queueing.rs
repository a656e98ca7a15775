//! The engine's side of the queues: callers held with their INVITE unanswered (182 Queued)
//! until [`crate::acd`] picks an agent, offers made through the B2BUA, re-queues after a
//! missed offer, the agents' API (log in, ready, not ready) and what the console shows.
//!
//! A held caller is only a server transaction in Proceeding and a record here; nothing is
//! sent to any agent until the offer. The caller keeps one To tag for every provisional and
//! the final answer, whichever agent answers in the end.

use std::time::Instant;

use sip::{Key, Peer, Request, Transport};
use tracing::debug;

use crate::acd::{AgentState, EnqueueError, IvrResult, Waiting};
use crate::b2bua::Call;
use crate::cdr::{CallRecord, Outcome};
use crate::engine::{Engine, TuTimer, tagged};

/// A caller not (or no longer) offered to any agent.
#[derive(Debug, Clone)]
pub(crate) struct Held {
    pub(crate) key: Key,
    pub(crate) invite: Request,
    pub(crate) transport: Transport,
    /// The tunnel flow the caller is behind, when they call from an embassy.
    pub(crate) flow: Option<Peer>,
    pub(crate) cdr: u64,
    /// Our tag towards the caller, the same in every response.
    pub(crate) caller_tag: String,
}

/// What the bridge tells the hub about calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallEvent {
    /// A call came in: find the caller's open case or open one, then
    /// [`crate::Telephony::link_case`].
    Started {
        call: u64,
        /// The caller's leg's SIP Call-ID (with `call`, a reference unique across restarts).
        call_id: String,
        /// The caller's number (their From URI's user part).
        caller: String,
        /// Their display name, if the trunk sent one.
        display: Option<String>,
        queue: Option<String>,
        /// The queue's consulate, if it names one.
        consulate: Option<String>,
        language: Option<String>,
        emergency: bool,
        /// What the caller typed after the menu's choice (a case number, say), if anything.
        digits: Option<String>,
    },
    /// A call ended; its record is final.
    Ended(CallRecord),
}

/// An agent as the console shows them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AgentView {
    pub agent: String,
    /// The console account that answers this phone.
    pub staff: Option<String>,
    pub state: AgentState,
    /// Whether the phone is registered now.
    pub registered: bool,
    /// Seconds in the present state.
    pub for_s: u64,
    pub missed: u32,
    pub languages: Vec<String>,
    /// The queue call ringing at the agent or in progress.
    pub call: Option<CallRecord>,
}

/// A waiting caller, for the supervisor.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WaitingView {
    pub call: u64,
    pub caller: String,
    pub language: Option<String>,
    pub emergency: bool,
    pub waited_s: u64,
    pub case: Option<String>,
}

/// A queue, for the supervisor.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QueueView {
    pub name: String,
    pub language: Option<String>,
    pub consulate: Option<String>,
    pub emergency: bool,
    /// In the order they will be served.
    pub waiting: Vec<WaitingView>,
    pub longest_wait_s: u64,
    pub stats: crate::acd::QueueStats,
    /// Answered within the target, as a percentage of those answered or abandoned.
    pub service_level_pct: Option<u32>,
    pub service_level_s: u64,
}

/// Why an agent request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AgentError {
    #[error("no such SIP agent")]
    UnknownAgent,
    #[error("not possible in the agent's present state")]
    WrongState,
}

impl Engine {
    /// Puts `held` in queue `queue`: 182 Queued, or 486 when the queue is full.
    pub(crate) fn enqueue(
        &mut self,
        now: Instant,
        held: Held,
        queue: usize,
        ivr: Option<IvrResult>,
    ) {
        let ivr = ivr.unwrap_or_default();
        let cdr = held.cdr;
        match self.acd.enqueue(now, cdr, queue, &ivr) {
            Ok(()) => {}
            Err(EnqueueError::Full) => {
                let mut busy = tagged(held.invite.response(486), &held.caller_tag);
                busy.reason = "Queue Full".to_owned();
                busy.headers.push("Retry-After", "60");
                self.respond(now, &held.key, busy);
                self.cdrs.ended(cdr, now, Outcome::QueueFull, None);
                return;
            }
        }
        let (name, language, emergency) = match self.acd.waiting().iter().find(|w| w.ticket == cdr)
        {
            Some(w) => (
                self.acd.queue(queue).map(|q| q.name.clone()),
                w.language.clone(),
                w.emergency,
            ),
            None => (None, None, false),
        };
        if let Some(name) = &name {
            self.cdrs.queued(cdr, name, language.as_deref(), emergency);
        }
        if !ivr.digits.is_empty() {
            self.cdrs.digits(cdr, &ivr.digits);
        }
        self.call_started(cdr, Some(queue), &held.invite);
        let queued = tagged(held.invite.response(182), &held.caller_tag);
        self.respond(now, &held.key, queued);
        self.held.insert(cdr, held);
        self.dispatch(now);
    }

    /// The IVR's hook: a caller it has finished with joins queue `queue` with what they
    /// chose. `call` is the call record id from [`CallEvent::Started`].
    pub fn enqueue_after_ivr(&mut self, now: Instant, call: u64, queue: &str, ivr: IvrResult) {
        let Some(index) = self.acd.queue_for(queue) else {
            return;
        };
        if let Some(held) = self.held.remove(&call) {
            self.enqueue(now, held, index, Some(ivr));
        }
    }

    /// Tells the hub a call started.
    pub(crate) fn call_started(&mut self, cdr: u64, queue: Option<usize>, invite: &Request) {
        let Some(record) = self.cdrs.get(cdr) else {
            return;
        };
        let q = queue.and_then(|q| self.acd.queue(q));
        let display = invite
            .essentials()
            .ok()
            .and_then(|e| e.from.display.clone());
        self.events.push_back(CallEvent::Started {
            call: cdr,
            call_id: record.call_id.clone(),
            caller: record.caller_number().to_owned(),
            display,
            queue: record.queue.clone(),
            consulate: q.and_then(|q| q.consulate.clone()),
            language: record.language.clone(),
            emergency: record.emergency,
            digits: (!record.digits.is_empty()).then(|| record.digits.clone()),
        });
    }

    /// Offers waiting callers to free agents while there are matches.
    pub(crate) fn dispatch(&mut self, now: Instant) {
        if self.stopping {
            return;
        }
        loop {
            let registrar = &self.registrar;
            let Some((waiting, agent)) = self.acd.next(now, |a| registrar.lookup(now, a).is_some())
            else {
                break;
            };
            let Some(held) = self.held.remove(&waiting.ticket) else {
                // The caller is gone; free the agent again.
                self.acd.released(&agent, &waiting);
                continue;
            };
            let binding = self.registrar.lookup(now, &agent).cloned();
            let target = binding.and_then(|b| b.target().map(|peer| (b, peer)));
            let ring_timeout = self
                .acd
                .queue(waiting.queue)
                .map_or(self.cfg.ring_timeout, |q| q.ring_timeout);
            let offered = match target {
                Some((binding, peer)) => self.offer(
                    now,
                    held,
                    &binding,
                    peer,
                    Some((waiting.clone(), agent.clone())),
                    ring_timeout,
                ),
                None => Err(Box::new(held)),
            };
            if let Err(held) = offered {
                debug!(%agent, "offer failed; the caller waits on");
                self.acd.missed(now, &agent, waiting.queue);
                self.held.insert(held.cdr, *held);
                self.acd.requeue(waiting);
            }
        }
        if let Some(at) = self.acd.next_wakeup() {
            self.arm(at, TuTimer::Dispatch);
        }
    }

    /// The offer of a queue call ended unanswered: the agent missed it and the caller goes
    /// back to the queue with their first place. The call itself is left for its agent leg
    /// to be cleaned up; it no longer answers the caller.
    pub(crate) fn requeue(&mut self, now: Instant, call: &mut Call, outcome: Outcome) {
        let Some((waiting, agent)) = call.queued.take() else {
            return;
        };
        call.state = crate::b2bua::CallState::Cancelled;
        self.cdrs.leg_ended(call.cdr, now, outcome);
        self.acd.missed(now, &agent, waiting.queue);
        let held = call.held();
        if self.by_server_invite.get(&held.key) == Some(&call.id) {
            self.by_server_invite.remove(&held.key);
        }
        self.held.insert(held.cdr, held);
        self.acd.requeue(waiting);
        self.dispatch(now);
    }

    /// A CANCEL for a caller still waiting in a queue: 200, 487, and they leave it.
    pub(crate) fn cancel_waiting(
        &mut self,
        now: Instant,
        key: &Key,
        cancel: &Request,
        invite_key: &Key,
    ) -> bool {
        let Some(cdr) = self
            .held
            .iter()
            .find(|(_, h)| &h.key == invite_key)
            .map(|(id, _)| *id)
        else {
            return false;
        };
        let Some(held) = self.held.remove(&cdr) else {
            return false;
        };
        self.respond(now, key, cancel.response(200));
        let terminated = tagged(held.invite.response(487), &held.caller_tag);
        self.respond(now, invite_key, terminated);
        self.acd.abandon(cdr);
        self.cdrs
            .ended(cdr, now, Outcome::Cancelled, Some(crate::cdr::Side::Caller));
        true
    }

    pub(crate) fn queue_call_answered(&mut self, now: Instant, call: &Call) {
        if let Some((waiting, agent)) = &call.queued {
            self.acd.answered(now, agent, waiting);
        }
    }

    pub(crate) fn queue_call_released(&mut self, call: &Call) {
        if let Some((waiting, agent)) = &call.queued {
            self.acd.released(agent, waiting);
        }
    }

    pub(crate) fn queue_call_ended(&mut self, now: Instant, call: &Call) {
        if let Some((waiting, agent)) = &call.queued {
            self.acd.hung_up(now, agent, waiting.queue);
            if let Some(at) = self.acd.next_wakeup() {
                self.arm(at, TuTimer::Dispatch);
            }
        }
    }

    /// The next event for the hub.
    pub fn poll_event(&mut self) -> Option<CallEvent> {
        if let Some(event) = self.events.pop_front() {
            return Some(event);
        }
        let id = self.cdrs.pop_finished()?;
        self.cdrs.get(id).cloned().map(CallEvent::Ended)
    }

    /// Changes whenever anything an agent or supervisor sees may have changed.
    pub fn generation(&self) -> u64 {
        self.cdrs.changes() + self.acd.changes() + self.api_changes
    }

    fn known_agent(&self, agent: &str) -> Result<(), AgentError> {
        match self.registrar.account(agent) {
            Some(_) => Ok(()),
            None => Err(AgentError::UnknownAgent),
        }
    }

    /// The agent logs in to the queues with the languages they speak, and is ready.
    pub fn agent_login(
        &mut self,
        now: Instant,
        agent: &str,
        languages: &[String],
    ) -> Result<(), AgentError> {
        self.known_agent(agent)?;
        self.acd.login(now, agent, languages);
        self.api_changes += 1;
        self.dispatch(now);
        Ok(())
    }

    pub fn agent_logout(&mut self, agent: &str) -> Result<(), AgentError> {
        self.known_agent(agent)?;
        self.acd.logout(agent);
        self.api_changes += 1;
        Ok(())
    }

    /// Ready or not ready (ending a wrap-up early either way).
    pub fn agent_ready(
        &mut self,
        now: Instant,
        agent: &str,
        ready: bool,
    ) -> Result<(), AgentError> {
        self.known_agent(agent)?;
        if !self.acd.set_ready(now, agent, ready) {
            return Err(AgentError::WrongState);
        }
        self.api_changes += 1;
        self.dispatch(now);
        Ok(())
    }

    /// Links a call to its case (the hub found or opened it).
    pub fn link_case(&mut self, call: u64, case: &str) -> bool {
        self.cdrs.link_case(call, case)
    }

    /// The SIP agent whose phone the console account `staff` answers.
    pub fn agent_of_staff(&self, staff: &str) -> Option<String> {
        self.registrar.agent_of_staff(staff).map(str::to_owned)
    }

    /// One agent, as their console shows them (logged out if they never logged in).
    pub fn agent_view(&mut self, now: Instant, agent: &str) -> Option<AgentView> {
        let account = self.registrar.account(agent)?;
        let staff = account.staff.clone();
        self.acd.tick(now);
        let snapshot = self.acd.agents().into_iter().find(|a| a.agent == agent);
        let registered = self.registrar.lookup(now, agent).is_some();
        Some(match snapshot {
            Some(a) => AgentView {
                agent: a.agent,
                staff,
                state: a.state,
                registered,
                for_s: now.saturating_duration_since(a.since).as_secs(),
                missed: a.missed,
                languages: a.languages,
                call: a.call.and_then(|c| self.cdrs.get(c).cloned()),
            },
            None => AgentView {
                agent: agent.to_owned(),
                staff,
                state: AgentState::LoggedOut,
                registered,
                for_s: 0,
                missed: 0,
                languages: Vec::new(),
                call: None,
            },
        })
    }

    /// Every agent who has logged in since the bridge started.
    pub fn agent_views(&mut self, now: Instant) -> Vec<AgentView> {
        self.acd.tick(now);
        let names: Vec<String> = self.acd.agents().into_iter().map(|a| a.agent).collect();
        names
            .iter()
            .filter_map(|a| self.agent_view(now, a))
            .collect()
    }

    /// Every queue with its waiting callers and figures.
    pub fn queue_views(&self, now: Instant) -> Vec<QueueView> {
        let waiting = self.acd.waiting();
        self.acd
            .queues()
            .iter()
            .enumerate()
            .map(|(i, q)| {
                let mine: Vec<WaitingView> = waiting
                    .iter()
                    .filter(|w| w.queue == i)
                    .map(|w| waiting_view(self, now, w))
                    .collect();
                let stats = self.acd.stats(i);
                let settled = stats.answered + stats.abandoned;
                QueueView {
                    name: q.name.clone(),
                    language: q.language.clone(),
                    consulate: q.consulate.clone(),
                    emergency: q.emergency,
                    longest_wait_s: mine.iter().map(|w| w.waited_s).max().unwrap_or(0),
                    waiting: mine,
                    stats,
                    service_level_pct: (settled > 0).then(|| {
                        u32::try_from(stats.answered_in_target * 100 / settled).unwrap_or(100)
                    }),
                    service_level_s: self.acd.service_level.as_secs(),
                }
            })
            .collect()
    }
}

fn waiting_view(engine: &Engine, now: Instant, w: &Waiting) -> WaitingView {
    let record = engine.cdrs.get(w.ticket);
    WaitingView {
        call: w.ticket,
        caller: record
            .map(|r| r.caller_number().to_owned())
            .unwrap_or_default(),
        language: w.language.clone(),
        emergency: w.emergency,
        waited_s: now.saturating_duration_since(w.since).as_secs(),
        case: record.and_then(|r| r.case.clone()),
    }
}
