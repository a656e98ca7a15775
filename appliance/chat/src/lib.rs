//! The live chat hub: an in-process switchboard that connects a citizen's chat socket (on the
//! portal) and the agents watching that chat (on the console) by case id. It carries messages
//! that are **already stored** in the case (the transcript is the case's messages; the hub
//! keeps none), typing and presence, and tells the portal when an agent picked a chat up, so
//! the portal's no-agent timer can stop.
//!
//! Invariants:
//! - **Bounded.** At most [`Settings::max_chats`] chats at once (a further one is refused, the
//!   others are unaffected); each citizen has a bounded queue and each chat a bounded
//!   broadcast to agents. A full queue drops typing notices and reports a message as not
//!   delivered live; it never blocks a sender, so one slow browser cannot stall others.
//! - **Per hub instance.** Chats live in this process: a citizen and an agent meet only when
//!   their connections reach the same hub. A message is in the store either way, so a chat
//!   that does not meet live still reaches the citizen (status page, or e-mail through the
//!   outbox worker, which asks [`Hub::is_live`]).

mod frames;
mod limit;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use casestore::CaseId;
use tokio::sync::{broadcast, mpsc, watch};

pub use frames::{FrameError, FromCitizen, Line, MAX_FRAME, MAX_TEXT, ToAgent, ToCitizen, parse};
pub use limit::RateLimit;

/// How the hub and its chats are bounded and timed.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Chats (citizen windows or watched chats) at once.
    pub max_chats: usize,
    /// Frames queued for one citizen's window.
    pub citizen_queue: usize,
    /// Frames buffered for the agents watching one chat (a lagging agent skips ahead).
    pub agent_queue: usize,
    /// How long a new chat waits for an agent before the citizen is told.
    pub no_agent_wait: Duration,
    /// Messages a citizen may send per `window`.
    pub messages_per_window: usize,
    pub window: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            max_chats: 1000,
            citizen_queue: 64,
            agent_queue: 64,
            no_agent_wait: Duration::from_secs(120),
            messages_per_window: 5,
            window: Duration::from_secs(10),
        }
    }
}

/// The hub is full: the chat is refused, the others go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

impl std::fmt::Display for Full {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("too many chats at once")
    }
}

impl std::error::Error for Full {}

struct Chat {
    /// The citizen's window, with a serial so a stale link's drop does not remove a newer one.
    citizen: Option<(u64, mpsc::Sender<ToCitizen>)>,
    agents: broadcast::Sender<ToAgent>,
    /// Agents' streams open on this chat.
    watchers: usize,
    picked: watch::Sender<bool>,
}

/// The switchboard.
#[derive(Debug)]
pub struct Hub {
    settings: Settings,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    chats: HashMap<CaseId, Chat>,
    serial: u64,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("chats", &self.chats.len())
            .finish()
    }
}

/// A citizen's window on one chat; dropping it says the citizen left.
#[derive(Debug)]
pub struct CitizenLink {
    hub: Arc<Hub>,
    case: CaseId,
    serial: u64,
    /// Frames for the window, in order.
    pub rx: mpsc::Receiver<ToCitizen>,
}

/// An agent's stream of one chat; dropping it ends the watch.
#[derive(Debug)]
pub struct AgentWatch {
    hub: Arc<Hub>,
    case: CaseId,
    pub rx: broadcast::Receiver<ToAgent>,
}

impl Hub {
    pub fn new(settings: Settings) -> Arc<Self> {
        Arc::new(Self {
            settings,
            state: Mutex::new(State::default()),
        })
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn entry<'a>(&self, state: &'a mut State, case: CaseId) -> Result<&'a mut Chat, Full> {
        if !state.chats.contains_key(&case) && state.chats.len() >= self.settings.max_chats {
            return Err(Full);
        }
        Ok(state.chats.entry(case).or_insert_with(|| Chat {
            citizen: None,
            agents: broadcast::channel(self.settings.agent_queue.max(1)).0,
            watchers: 0,
            picked: watch::channel(false).0,
        }))
    }

    /// Connects the citizen's window to `case`; a window already open on it is replaced (its
    /// queue closes, so that socket ends).
    pub fn connect_citizen(self: &Arc<Self>, case: CaseId) -> Result<CitizenLink, Full> {
        let (tx, rx) = mpsc::channel(self.settings.citizen_queue.max(1));
        let mut state = self.lock();
        state.serial += 1;
        let serial = state.serial;
        let chat = self.entry(&mut state, case)?;
        chat.citizen = Some((serial, tx));
        let _ = chat.agents.send(ToAgent::Presence { online: true });
        Ok(CitizenLink {
            hub: self.clone(),
            case,
            serial,
            rx,
        })
    }

    /// Starts an agent's stream of `case`.
    pub fn watch(self: &Arc<Self>, case: CaseId) -> Result<AgentWatch, Full> {
        let mut state = self.lock();
        let chat = self.entry(&mut state, case)?;
        chat.watchers += 1;
        Ok(AgentWatch {
            hub: self.clone(),
            case,
            rx: chat.agents.subscribe(),
        })
    }

    fn release(&self, case: CaseId, citizen: Option<u64>) {
        let mut state = self.lock();
        let Some(chat) = state.chats.get_mut(&case) else {
            return;
        };
        match citizen {
            Some(serial) => {
                if chat.citizen.as_ref().is_some_and(|(s, _)| *s == serial) {
                    chat.citizen = None;
                    let _ = chat.agents.send(ToAgent::Presence { online: false });
                }
            }
            None => chat.watchers = chat.watchers.saturating_sub(1),
        }
        if chat.citizen.is_none() && chat.watchers == 0 {
            state.chats.remove(&case);
        }
    }

    /// Whether a citizen's window is connected to `case` on this hub right now.
    pub fn is_live(&self, case: CaseId) -> bool {
        self.lock()
            .chats
            .get(&case)
            .is_some_and(|c| c.citizen.is_some())
    }

    /// Cases with a citizen's window connected now.
    pub fn live_cases(&self) -> Vec<CaseId> {
        self.lock()
            .chats
            .iter()
            .filter(|(_, c)| c.citizen.is_some())
            .map(|(id, _)| *id)
            .collect()
    }

    /// Chats open now (citizens' windows and watched chats).
    pub fn len(&self) -> usize {
        self.lock().chats.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Tells the agents watching `case` something (a stored citizen message, typing).
    pub fn to_agents(&self, case: CaseId, frame: ToAgent) {
        if let Some(chat) = self.lock().chats.get(&case) {
            let _ = chat.agents.send(frame);
        }
    }

    /// Tells the citizen's window something. `true` when it was queued for a connected window;
    /// a full queue or no window is `false` (the message is in the case either way).
    pub fn to_citizen(&self, case: CaseId, frame: ToCitizen) -> bool {
        let state = self.lock();
        let Some((_, tx)) = state.chats.get(&case).and_then(|c| c.citizen.as_ref()) else {
            return false;
        };
        match tx.try_send(frame) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::debug!(case = case.get(), "citizen queue full; frame not delivered");
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// An agent picked `case` up: the portal's no-agent timer stops, the citizen and the
    /// other agents are told.
    pub fn picked_up(&self, case: CaseId, agent_name: &str) {
        let state = self.lock();
        if let Some(chat) = state.chats.get(&case) {
            chat.picked.send_replace(true);
            let _ = chat.agents.send(ToAgent::Joined {
                name: agent_name.to_owned(),
            });
            if let Some((_, tx)) = &chat.citizen {
                let _ = tx.try_send(ToCitizen::Joined {
                    name: agent_name.to_owned(),
                });
            }
        }
    }

    /// Waits up to `wait` for an agent to pick `case` up; `true` if one did. A chat the hub
    /// does not hold counts as not picked up.
    pub async fn wait_for_agent(&self, case: CaseId, wait: Duration) -> bool {
        let rx = self.lock().chats.get(&case).map(|c| c.picked.subscribe());
        let Some(mut rx) = rx else { return false };
        matches!(
            tokio::time::timeout(wait, rx.wait_for(|picked| *picked)).await,
            Ok(Ok(_))
        )
    }
}

impl Drop for CitizenLink {
    fn drop(&mut self) {
        self.hub.release(self.case, Some(self.serial));
    }
}

impl Drop for AgentWatch {
    fn drop(&mut self) {
        self.hub.release(self.case, None);
    }
}

#[cfg(test)]
mod tests;
