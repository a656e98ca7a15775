//! Who may place a call. Citizens' calls come from the SIP trunks of the centre's numbers;
//! staff call from their registered phones; embassy phones through their gateway's tunnel.
//! With `EngineConfig::trunks` set, an INVITE from anyone else is refused with 403 before
//! any state is kept for it, so a stranger who finds the SIP port can neither ring agents
//! nor fill the queues. Refusals are counted and logged at most once per
//! [`LOG_EVERY`](self::LOG_EVERY) with the number not logged, so a scan cannot flood the log.

use std::time::{Duration, Instant};

use sip::{Key, Peer, Request};
use tracing::warn;

use crate::engine::{Engine, tagged};

/// The shortest interval between two log lines about refused peers.
pub(crate) const LOG_EVERY: Duration = Duration::from_secs(10);

/// A log line at most every [`LOG_EVERY`], saying how many were held back.
#[derive(Debug, Default)]
pub(crate) struct Limited {
    last: Option<Instant>,
    held_back: u64,
}

impl Limited {
    /// `Some(held back since the last line)` when a line is due now.
    pub(crate) fn due(&mut self, now: Instant) -> Option<u64> {
        let due = self
            .last
            .is_none_or(|at| now.saturating_duration_since(at) >= LOG_EVERY);
        if due {
            self.last = Some(now);
            Some(std::mem::take(&mut self.held_back))
        } else {
            self.held_back += 1;
            None
        }
    }
}

impl Engine {
    /// Whether `from` may place a call: anyone without `trunks`; else a trunk, a phone
    /// behind an embassy gateway, or the address a phone registered from.
    pub(crate) fn may_call(&self, now: Instant, from: Peer) -> bool {
        let Some(trunks) = &self.cfg.trunks else {
            return true;
        };
        trunks.iter().any(|net| net.contains(&from.addr.ip()))
            || self.origin_of(from).is_some()
            || self.registrar.is_registered_source(now, from)
    }

    /// Answers an INVITE from a peer that may not call.
    pub(crate) fn refuse_call(&mut self, now: Instant, key: &Key, invite: &Request, from: Peer) {
        self.stats.refused_calls += 1;
        if let Some(held_back) = self.call_refusals.due(now) {
            warn!(source = %from.addr, not_logged = held_back, "call refused: not a trunk, an embassy gateway or a registered phone");
        }
        self.respond(now, key, tagged(invite.response(403), "x"));
    }
}
