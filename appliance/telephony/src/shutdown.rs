//! Stopping with calls up. When the hub stops, every phone in a call hears it at once rather
//! than dead air until its own timers give up: answered calls get a BYE on both legs, an
//! agent's phone still ringing is cancelled and its caller told 503, and callers waiting in a
//! queue or the menu get 503 with `Retry-After`. Their records end `shutdown`. From then on
//! new calls get 503 too, and no waiting caller is offered to an agent.

use std::time::Instant;

use sip::Method;
use tracing::info;

use crate::b2bua::{CallState, Purpose};
use crate::cdr::{Outcome, Side};
use crate::engine::{Engine, route, tagged};

/// What a caller is told to wait before calling again.
const RETRY_AFTER_S: u32 = 30;

impl Engine {
    /// Hangs up every call and waiting caller; returns how many there were. What it sends is
    /// queued for [`Engine::poll_transmit`].
    pub fn hang_up_all(&mut self, now: Instant) -> usize {
        self.stopping = true;
        let ids: Vec<u64> = self.calls.keys().copied().collect();
        let mut count = 0;
        for id in ids {
            let Some(mut call) = self.calls.remove(&id) else {
                continue;
            };
            count += 1;
            match call.state {
                CallState::Answered => {
                    for side in [Side::Caller, Side::Agent] {
                        let (transport, flow) = (call.leg(side).transport, call.leg(side).flow);
                        if let Some(dialog) = call.leg(side).dialog.as_mut()
                            && let Some(peer) = route(flow, &dialog.next_hop(), transport)
                        {
                            let via = self.via(peer.transport);
                            let contact = self.contact(peer.transport);
                            let bye = dialog.request(Method::Bye, &via, &contact);
                            self.send_cleanup(now, bye, peer);
                        }
                    }
                }
                CallState::Ringing | CallState::Cancelled => {
                    if call.state == CallState::Ringing {
                        self.cancel_agent(now, &call, id);
                    }
                    let mut busy = tagged(call.caller_invite.response(503), &call.caller_tag);
                    busy.headers.push("Retry-After", RETRY_AFTER_S.to_string());
                    self.respond(now, &call.caller_key, busy);
                }
            }
            self.cdrs.ended(call.cdr, now, Outcome::Shutdown, None);
            self.forget(id, &call);
        }
        let held: Vec<u64> = self.held.keys().copied().collect();
        for cdr in held {
            let Some(held) = self.held.remove(&cdr) else {
                continue;
            };
            count += 1;
            let mut busy = tagged(held.invite.response(503), &held.caller_tag);
            busy.headers.push("Retry-After", RETRY_AFTER_S.to_string());
            self.respond(now, &held.key, busy);
            self.acd.abandon(cdr);
            self.cdrs.ended(cdr, now, Outcome::Shutdown, None);
        }
        self.pump(now);
        info!(calls = count, "stopping: every call hung up");
        count
    }

    /// Requests whose answer does not matter (BYEs, CANCELs, keep-alives) still unanswered.
    pub fn cleanups_in_flight(&self) -> usize {
        self.purposes
            .values()
            .filter(|p| matches!(p, Purpose::Cleanup))
            .count()
    }
}
