//! The back-to-back user agent: every inbound INVITE (the caller's leg) becomes an outbound
//! INVITE to a registered agent (the agent's leg). Provisional and final responses, ACK,
//! CANCEL, BYE and other in-dialog requests (re-INVITE, UPDATE, INFO) cross from one leg to
//! the other; each leg keeps its own dialog, Call-ID, tags and CSeq. SDP passes through
//! unchanged until the media relay anchors it.

use std::time::Instant;

use bytes::Bytes;
use sip::dialog::Dialog;
use sip::{Key, Message, Method, NameAddr, Peer, Request, Response, Transport, Uri};

use tracing::debug;

use crate::acd::Waiting;
use crate::cdr::{Outcome, Side};
use crate::engine::{ALLOW, Engine, TuTimer, route, tagged};
use crate::queueing::Held;
use crate::registrar::Binding;

/// Where a call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallState {
    /// The agent's phone has the INVITE; the caller waits.
    Ringing,
    /// The caller gave up (CANCEL) or the ring timeout fired; the agent's INVITE is being
    /// cancelled.
    Cancelled,
    Answered,
}

/// One leg: its dialog once there is one, and how to reach the peer.
#[derive(Debug)]
pub(crate) struct Leg {
    pub(crate) dialog: Option<Dialog>,
    pub(crate) transport: Transport,
    /// The tunnel flow the peer is behind (an embassy phone): requests go there.
    pub(crate) flow: Option<Peer>,
}

/// A call through the bridge.
#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) id: u64,
    pub(crate) cdr: u64,
    pub(crate) state: CallState,
    /// The caller's INVITE and our tag towards the caller.
    pub(crate) caller_invite: Request,
    pub(crate) caller_key: Key,
    pub(crate) caller_tag: String,
    /// The INVITE we sent the agent.
    pub(crate) agent_invite: Request,
    pub(crate) agent_key: Key,
    pub(crate) agent_peer: Peer,
    pub(crate) caller: Leg,
    pub(crate) agent: Leg,
    pub(crate) agent_ringing: bool,
    pub(crate) cancel_pending: bool,
    /// The ACK we sent for the agent's 2xx, to repeat if the 2xx comes again.
    pub(crate) agent_ack: Option<SentAck>,
    /// A re-INVITE answered 2xx on one leg waits for its ACK: (the side that will ACK,
    /// its CSeq, the CSeq of our relayed INVITE on the other leg, the ACK once sent).
    reinvite_ack: Option<(Side, u32, u32, Option<SentAck>)>,
    /// A queue call: the caller's place in the queue and the agent offered it.
    pub(crate) queued: Option<(Waiting, String)>,
    /// A blind transfer the agent asked for (REFER), while its target rings.
    pub(crate) transfer: Option<crate::transfer::Transfer>,
}

impl Call {
    /// The caller as they were before any offer: to put back in a queue.
    pub(crate) fn held(&self) -> Held {
        Held {
            key: self.caller_key.clone(),
            invite: self.caller_invite.clone(),
            transport: self.caller.transport,
            flow: self.caller.flow,
            cdr: self.cdr,
            caller_tag: self.caller_tag.clone(),
        }
    }

    pub(crate) fn leg(&mut self, side: Side) -> &mut Leg {
        match side {
            Side::Caller => &mut self.caller,
            Side::Agent => &mut self.agent,
        }
    }

    /// The tunnel flow `side`'s peer is behind, if any.
    pub(crate) fn flow(&self, side: Side) -> Option<Peer> {
        match side {
            Side::Caller => self.caller.flow,
            Side::Agent => self.agent.flow,
        }
    }
}

/// An ACK we sent and where, to send again when its 2xx comes again.
pub(crate) type SentAck = (Request, Peer);

/// Why we sent a client transaction.
#[derive(Debug, Clone)]
pub(crate) enum Purpose {
    /// The INVITE to the agent.
    AgentInvite(u64),
    /// The INVITE to the target of a blind transfer.
    TransferInvite(u64),
    /// A CANCEL or BYE whose answer does not matter.
    Cleanup,
    /// A request relayed from `from`'s leg; its answer goes back on `server`.
    Relay {
        call: u64,
        from: Side,
        server: Key,
        original: Box<Request>,
    },
}

pub(crate) fn other(side: Side) -> Side {
    match side {
        Side::Caller => Side::Agent,
        Side::Agent => Side::Caller,
    }
}

/// Copies the body and its Content-Type.
pub(crate) fn copy_body(from_headers: &sip::Headers, body: &Bytes, to: &mut sip::Headers) -> Bytes {
    if let Some(ct) = from_headers.get("Content-Type") {
        to.set("Content-Type", ct);
    }
    body.clone()
}

impl Engine {
    pub(crate) fn on_invite(&mut self, now: Instant, key: Key, invite: Request, from: Peer) {
        let Ok(e) = invite.essentials() else { return };
        if self.by_call_id.contains_key(&e.call_id) {
            // The same call again through another branch: a loop or a merged request.
            self.respond(now, &key, tagged(invite.response(482), "x"));
            return;
        }
        if self.stopping {
            let mut busy = tagged(invite.response(503), "x");
            busy.headers.push("Retry-After", "30");
            self.respond(now, &key, busy);
            return;
        }
        if !self.may_call(now, from) {
            self.refuse_call(now, &key, &invite, from);
            return;
        }
        if self.calls.len() >= self.cfg.max_calls {
            let mut busy = tagged(invite.response(503), "x");
            busy.headers.push("Retry-After", "10");
            self.respond(now, &key, busy);
            return;
        }
        let max_forwards = invite
            .headers
            .get("Max-Forwards")
            .and_then(|m| m.trim().parse::<u32>().ok());
        if max_forwards == Some(0) {
            self.respond(now, &key, tagged(invite.response(483), "x"));
            return;
        }
        self.stats.calls += 1;
        let called = invite.uri.user.clone().unwrap_or_default();
        let cdr = self
            .cdrs
            .start(now, &e.call_id, &e.from.uri.to_string(), &called);
        let held = Held {
            key,
            invite,
            transport: from.transport,
            flow: self.origin_of(from).map(|_| from),
            cdr,
            caller_tag: self.random_token(),
        };
        // A queue's name or number: the caller waits there for an agent (crate::queueing).
        if let Some(queue) = self.acd.queue_for(&called) {
            // With media anchored the caller hears the menu first (crate::anchor).
            if self.anchor.is_some() {
                self.start_menu(now, held, queue);
            } else {
                self.enqueue(now, held, queue, None);
            }
            return;
        }
        self.call_started(cdr, None, &held.invite);
        // Dialled an agent by name or extension: that agent. Anything else: the agent
        // registered longest ago.
        let binding = if self.registrar.is_agent(&called) {
            self.registrar.lookup(now, &called)
        } else {
            self.registrar.first_registered(now)
        }
        .cloned();
        let target = binding.and_then(|b| b.target().map(|peer| (b, peer)));
        let Some((binding, agent_peer)) = target else {
            let unavailable = tagged(held.invite.response(480), &held.caller_tag);
            self.respond(now, &held.key, unavailable);
            self.cdrs.ended(cdr, now, Outcome::NoAgent, None);
            return;
        };
        let ring_timeout = self.cfg.ring_timeout;
        if let Err(held) = self.offer(now, held, &binding, agent_peer, None, ring_timeout) {
            let failed = tagged(held.invite.response(500), &held.caller_tag);
            self.respond(now, &held.key, failed);
            self.cdrs.ended(cdr, now, Outcome::Unreachable, None);
        }
    }

    /// Calls the agent of `binding` for the caller `held`; gives the caller back if the
    /// INVITE cannot be sent. `queued` is the caller's place in a queue, for a queue call.
    pub(crate) fn offer(
        &mut self,
        now: Instant,
        held: Held,
        binding: &Binding,
        agent_peer: Peer,
        queued: Option<(Waiting, String)>,
        ring_timeout: std::time::Duration,
    ) -> Result<u64, Box<Held>> {
        let Ok(e) = held.invite.essentials() else {
            return Err(Box::new(held));
        };
        let id = self.next_call_id();
        let (mut agent_invite, agent_call_id) =
            self.agent_invite(&held.invite, binding, agent_peer.transport);
        self.anchor_offer(
            held.cdr,
            &held.invite,
            held.flow,
            binding.gateway.as_ref(),
            &mut agent_invite,
        );
        let Ok(agent_key) = self
            .txns
            .send_request(now, agent_invite.clone(), agent_peer)
        else {
            return Err(Box::new(held));
        };
        self.cdrs.offered(held.cdr, now, &binding.username);
        self.purposes
            .insert(agent_key.clone(), Purpose::AgentInvite(id));
        self.by_call_id
            .insert(e.call_id.clone(), (id, Side::Caller));
        self.by_call_id.insert(agent_call_id, (id, Side::Agent));
        self.by_server_invite.insert(held.key.clone(), id);
        self.calls.insert(
            id,
            Call {
                id,
                cdr: held.cdr,
                state: CallState::Ringing,
                caller_invite: held.invite,
                caller_key: held.key,
                caller_tag: held.caller_tag,
                agent_invite,
                agent_key,
                agent_peer,
                caller: Leg {
                    dialog: None,
                    transport: held.transport,
                    flow: held.flow,
                },
                agent: Leg {
                    dialog: None,
                    transport: agent_peer.transport,
                    flow: binding.flow(),
                },
                agent_ringing: false,
                cancel_pending: false,
                agent_ack: None,
                reinvite_ack: None,
                queued,
                transfer: None,
            },
        );
        debug!(call = id, agent = %binding.username, "offering call");
        self.arm(now + ring_timeout, TuTimer::Ring(id));
        Ok(id)
    }

    /// A new dialog's INVITE to the phone of `binding`, carrying the caller's number, name
    /// and offer (SDP unchanged; the anchor rewrites it when media is anchored).
    pub(crate) fn agent_invite(
        &mut self,
        caller_invite: &Request,
        binding: &Binding,
        transport: Transport,
    ) -> (Request, String) {
        let max_forwards = caller_invite
            .headers
            .get("Max-Forwards")
            .and_then(|m| m.trim().parse::<u32>().ok())
            .unwrap_or(70);
        let agent_tag = self.random_token();
        let agent_call_id = format!("{}@legatura", self.random_token());
        let via = self.via(transport);
        let mut agent_invite = Request::new(Method::Invite, binding.contact.clone());
        let h = &mut agent_invite.headers;
        h.push("Via", via.to_string());
        h.push("Max-Forwards", max_forwards.saturating_sub(1).to_string());
        // The caller's number and name stay visible to the agent (caller id).
        let from = caller_invite.essentials().ok().map(|e| e.from);
        let mut from_addr = NameAddr::new(Uri::for_addr(
            from.as_ref().and_then(|f| f.uri.user.as_deref()),
            self.cfg.local,
        ));
        from_addr.display = from.and_then(|f| f.display);
        h.push("From", from_addr.with_tag(&agent_tag).to_string());
        let to = NameAddr::new(Uri::for_addr(Some(&binding.username), self.cfg.local));
        h.push("To", to.to_string());
        h.push("Call-ID", agent_call_id.as_str());
        h.push("CSeq", "1 INVITE");
        h.push("Contact", format!("<{}>", self.contact(transport)));
        h.push("Allow", ALLOW);
        agent_invite.body = copy_body(
            &caller_invite.headers,
            &caller_invite.body,
            &mut agent_invite.headers,
        );
        (agent_invite, agent_call_id)
    }

    fn next_call_id(&mut self) -> u64 {
        let id = self.next_call;
        self.next_call += 1;
        id
    }

    /// The caller's leg answer for a response of the agent's leg.
    fn caller_response(&self, call: &Call, from_agent: &Response) -> Response {
        let mut response = tagged(
            call.caller_invite.response(from_agent.code),
            &call.caller_tag,
        );
        response.reason = from_agent.reason.clone();
        if from_agent.code > 100 && from_agent.code < 300 {
            response.headers.push(
                "Contact",
                format!("<{}>", self.contact(call.caller.transport)),
            );
            response.headers.push("Allow", ALLOW);
        }
        response.body = copy_body(&from_agent.headers, &from_agent.body, &mut response.headers);
        response
    }

    pub(crate) fn on_response(&mut self, now: Instant, key: &Key, response: Response) {
        let Some(purpose) = self.purposes.get(key).cloned() else {
            return;
        };
        match purpose {
            Purpose::AgentInvite(id) => self.on_agent_invite_response(now, id, response),
            Purpose::TransferInvite(id) => self.on_transfer_response(now, id, response),
            // Answered: nothing more to wait for (`Engine::cleanups_in_flight`).
            Purpose::Cleanup if response.code >= 200 => {
                self.purposes.remove(key);
            }
            Purpose::Cleanup => {}
            Purpose::Relay {
                call,
                from,
                server,
                original,
            } => self.on_relay_response(now, call, from, &server, &original, response),
        }
    }

    fn on_agent_invite_response(&mut self, now: Instant, id: u64, response: Response) {
        let Some(mut call) = self.calls.remove(&id) else {
            debug!(
                call = id,
                code = response.code,
                "agent response for a forgotten call"
            );
            return;
        };
        debug!(call = id, code = response.code, state = ?call.state, "agent response");
        match response.code {
            100 => {}
            101..=199 => {
                if call.agent.dialog.is_none() {
                    call.agent.dialog = Dialog::as_uac(&call.agent_invite, &response).ok();
                }
                call.agent_ringing = true;
                if call.cancel_pending {
                    call.cancel_pending = false;
                    self.cancel_agent(now, &call, id);
                } else if call.state == CallState::Ringing {
                    let mut relayed = self.caller_response(&call, &response);
                    self.anchor_response(call.cdr, call.agent.flow, &response, &mut relayed);
                    self.respond(now, &call.caller_key, relayed);
                }
            }
            200..=299 => match (call.state, &call.agent_ack) {
                (CallState::Ringing, _) => {
                    let dialog = match call.agent.dialog.take() {
                        Some(mut d)
                            if Some(d.id.remote_tag.as_str()) == to_tag(&response).as_deref() =>
                        {
                            d.on_response(&response);
                            Some(d)
                        }
                        _ => Dialog::as_uac(&call.agent_invite, &response).ok(),
                    };
                    call.agent.dialog = dialog;
                    call.state = CallState::Answered;
                    self.cdrs.answered(call.cdr, now);
                    self.queue_call_answered(now, &call);
                    call.caller.dialog = Dialog::as_uas(&call.caller_invite, &call.caller_tag).ok();
                    let mut relayed = self.caller_response(&call, &response);
                    self.anchor_response(call.cdr, call.agent.flow, &response, &mut relayed);
                    self.respond(now, &call.caller_key, relayed);
                }
                // The 2xx again: our ACK was lost.
                (CallState::Answered, Some((ack, peer))) => {
                    self.txns
                        .send_stateless(*peer, &Message::Request(ack.clone()));
                }
                (CallState::Answered, None) => {}
                // Answered after we cancelled: ACK it and hang up at once (§15.1.1 race).
                (CallState::Cancelled, _) => {
                    if let Ok(mut dialog) = Dialog::as_uac(&call.agent_invite, &response) {
                        let peer = route(call.agent.flow, &dialog.next_hop(), call.agent.transport);
                        if let Some(peer) = peer {
                            let via = self.via(peer.transport);
                            let ack = dialog.ack(1, &via);
                            self.txns.send_stateless(peer, &Message::Request(ack));
                            let via = self.via(peer.transport);
                            let contact = self.contact(peer.transport);
                            let bye = dialog.request(Method::Bye, &via, &contact);
                            self.send_cleanup(now, bye, peer);
                        }
                    }
                    self.forget(id, &call);
                    return;
                }
            },
            code => {
                if call.state == CallState::Ringing && call.queued.is_some() {
                    // A queue call the agent refused: the caller waits for the next agent.
                    self.requeue(now, &mut call, Outcome::Rejected(code));
                } else if call.state == CallState::Ringing {
                    // Redirections and the agent's own challenges mean nothing to the caller.
                    let relayed_code = match code {
                        300..=399 | 401 | 407 => 480,
                        c => c,
                    };
                    let mut failed = response.clone();
                    failed.code = relayed_code;
                    if relayed_code != code {
                        failed.reason = sip::reason_phrase(relayed_code).to_owned();
                    }
                    let relayed = self.caller_response(&call, &failed);
                    self.respond(now, &call.caller_key, relayed);
                    self.cdrs
                        .ended(call.cdr, now, Outcome::Rejected(code), Some(Side::Agent));
                }
                self.forget(id, &call);
                return;
            }
        }
        self.calls.insert(id, call);
    }

    /// Drops a call's indexes (its transactions finish on their own). A re-queued caller's
    /// Call-ID may already belong to the next offer, so only this call's entries go.
    pub(crate) fn forget(&mut self, id: u64, call: &Call) {
        for leg_call_id in [
            call.caller_invite.headers.get("Call-ID"),
            call.agent_invite.headers.get("Call-ID"),
        ]
        .into_iter()
        .flatten()
        {
            if self
                .by_call_id
                .get(leg_call_id)
                .is_some_and(|(c, _)| *c == id)
            {
                self.by_call_id.remove(leg_call_id);
            }
        }
    }

    pub(crate) fn cancel_agent(&mut self, now: Instant, call: &Call, id: u64) {
        let give_up = now + self.txns.timers().t1 * 64;
        self.arm(give_up, TuTimer::CancelGiveUp(id));
        let invite = &call.agent_invite;
        let mut cancel = Request::new(Method::Cancel, invite.uri.clone());
        for name in ["Via", "Max-Forwards", "From", "To", "Call-ID"] {
            if let Some(value) = invite.headers.get(name) {
                cancel.headers.push(name, value);
            }
        }
        cancel.headers.push("CSeq", "1 CANCEL");
        for route in invite.headers.get_all("Route") {
            cancel.headers.push("Route", route);
        }
        self.send_cleanup(now, cancel, call.agent_peer);
    }

    pub(crate) fn send_cleanup(&mut self, now: Instant, request: Request, peer: Peer) {
        if let Ok(key) = self.txns.send_request(now, request, peer) {
            self.purposes.insert(key, Purpose::Cleanup);
        }
    }

    pub(crate) fn on_cancel(&mut self, now: Instant, key: &Key, cancel: &Request) {
        let invite_key = key.invite_of_cancel();
        if self.cancel_waiting(now, key, cancel, &invite_key) {
            return;
        }
        let Some(id) = self.by_server_invite.get(&invite_key).copied() else {
            self.respond(now, key, tagged(cancel.response(481), "x"));
            return;
        };
        self.respond(now, key, cancel.response(200));
        let Some(mut call) = self.calls.remove(&id) else {
            return;
        };
        if call.state == CallState::Ringing {
            let terminated = tagged(call.caller_invite.response(487), &call.caller_tag);
            self.respond(now, &invite_key, terminated);
            call.state = CallState::Cancelled;
            self.cdrs
                .ended(call.cdr, now, Outcome::Cancelled, Some(Side::Caller));
            self.queue_call_released(&call);
            if call.agent_ringing {
                self.cancel_agent(now, &call, id);
            } else {
                // §9.1: no CANCEL before a provisional response; send it when one comes.
                call.cancel_pending = true;
            }
        }
        self.calls.insert(id, call);
    }

    pub(crate) fn on_tu_timer(&mut self, now: Instant, timer: TuTimer) {
        let id = match timer {
            TuTimer::Dispatch => {
                self.dispatch(now);
                return;
            }
            TuTimer::Ring(id) => id,
            TuTimer::CancelGiveUp(id) => {
                if let Some(call) = self.calls.remove(&id) {
                    if call.state == CallState::Cancelled {
                        debug!(call = id, "phone never answered the CANCEL; giving up");
                        self.txns.abandon(&call.agent_key);
                        self.forget(id, &call);
                    } else {
                        self.calls.insert(id, call);
                    }
                }
                return;
            }
        };
        let Some(mut call) = self.calls.remove(&id) else {
            return;
        };
        if call.state == CallState::Ringing && call.queued.is_some() {
            // Ring timeout on a queue call: the caller waits for the next agent.
            self.requeue(now, &mut call, Outcome::NoAnswer);
            if call.agent_ringing {
                self.cancel_agent(now, &call, id);
            } else {
                call.cancel_pending = true;
            }
        } else if call.state == CallState::Ringing {
            let unavailable = tagged(call.caller_invite.response(480), &call.caller_tag);
            self.respond(now, &call.caller_key, unavailable);
            call.state = CallState::Cancelled;
            self.cdrs.ended(call.cdr, now, Outcome::NoAnswer, None);
            if call.agent_ringing {
                self.cancel_agent(now, &call, id);
            } else {
                call.cancel_pending = true;
            }
        }
        self.calls.insert(id, call);
    }

    pub(crate) fn on_client_timeout(&mut self, now: Instant, purpose: Purpose) {
        match purpose {
            Purpose::AgentInvite(id) => {
                let Some(mut call) = self.calls.remove(&id) else {
                    return;
                };
                if call.state == CallState::Ringing && call.queued.is_some() {
                    self.requeue(now, &mut call, Outcome::Unreachable);
                } else if call.state == CallState::Ringing {
                    let timeout = tagged(call.caller_invite.response(408), &call.caller_tag);
                    self.respond(now, &call.caller_key, timeout);
                    self.cdrs.ended(call.cdr, now, Outcome::Unreachable, None);
                }
                self.forget(id, &call);
            }
            Purpose::Relay {
                server, original, ..
            } => {
                self.respond(now, &server, tagged(original.response(408), "x"));
            }
            Purpose::TransferInvite(id) => self.transfer_failed(now, id, 408),
            Purpose::Cleanup => {}
        }
    }

    /// Our 2xx to the caller was never ACKed (Timer L): hang up the agent's leg.
    pub(crate) fn on_caller_never_acked(&mut self, now: Instant, id: u64) {
        let Some(call) = self.calls.remove(&id) else {
            return;
        };
        if call.state == CallState::Answered && call.agent_ack.is_none() {
            self.hang_up(now, call, Side::Caller, Outcome::Completed);
        } else {
            self.calls.insert(id, call);
        }
    }

    pub(crate) fn on_ack(&mut self, _now: Instant, ack: &Request) {
        let Ok(e) = ack.essentials() else { return };
        let Some((id, side)) = self.by_call_id.get(&e.call_id).copied() else {
            debug!(call_id = %e.call_id, "ACK for no call");
            return;
        };
        debug!(call = id, ?side, "ACK");
        let Some(mut call) = self.calls.remove(&id) else {
            return;
        };
        let caller_seq = call
            .caller_invite
            .essentials()
            .map(|c| c.cseq.seq)
            .unwrap_or_default();
        if side == Side::Caller && call.state == CallState::Answered && e.cseq.seq == caller_seq {
            self.ack_agent(&mut call, Some(ack));
        } else if let Some((acker, seq, relayed_seq, None)) = call.reinvite_ack.clone()
            && acker == side
            && seq == e.cseq.seq
        {
            let target = other(side);
            let (transport, flow) = (call.leg(target).transport, call.leg(target).flow);
            if let Some(dialog) = &call.leg(target).dialog
                && let Some(peer) = route(flow, &dialog.next_hop(), transport)
            {
                let via = self.via(peer.transport);
                let mut forwarded = dialog.ack(relayed_seq, &via);
                forwarded.body = copy_body(&ack.headers, &ack.body, &mut forwarded.headers);
                self.txns
                    .send_stateless(peer, &Message::Request(forwarded.clone()));
                call.reinvite_ack = Some((acker, seq, relayed_seq, Some((forwarded, peer))));
            }
        }
        self.calls.insert(id, call);
    }

    /// ACKs the agent's 2xx once, with the caller's ACK body if there is one (late offer).
    fn ack_agent(&mut self, call: &mut Call, caller_ack: Option<&Request>) {
        if call.agent_ack.is_some() || call.state != CallState::Answered {
            return;
        }
        let Some(dialog) = &call.agent.dialog else {
            return;
        };
        let Some(peer) = route(call.agent.flow, &dialog.next_hop(), call.agent.transport) else {
            return;
        };
        let via = self.via(peer.transport);
        let mut forwarded = dialog.ack(1, &via);
        if let Some(ack) = caller_ack {
            forwarded.body = copy_body(&ack.headers, &ack.body, &mut forwarded.headers);
        }
        debug!(cdr = call.cdr, "ACK to the agent");
        self.txns
            .send_stateless(peer, &Message::Request(forwarded.clone()));
        call.agent_ack = Some((forwarded, peer));
    }

    /// A 2xx after its transaction ended: repeat the ACK we sent for it.
    pub(crate) fn on_stray_response(&mut self, response: &Response) {
        let Ok(e) = response.essentials() else { return };
        if !response.is_success() || e.cseq.method != Method::Invite {
            return;
        }
        let Some((id, Side::Agent)) = self.by_call_id.get(&e.call_id).copied() else {
            return;
        };
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let ack = if e.cseq.seq == 1 {
            call.agent_ack.clone()
        } else {
            call.reinvite_ack.clone().and_then(|(.., sent)| sent)
        };
        if let Some((ack, peer)) = ack {
            self.txns.send_stateless(peer, &Message::Request(ack));
        }
    }

    pub(crate) fn on_in_dialog(&mut self, now: Instant, key: Key, request: Request) {
        let Ok(e) = request.essentials() else { return };
        let Some((id, side)) = self.by_call_id.get(&e.call_id).copied() else {
            debug!(call_id = %e.call_id, method = %request.method, "in-dialog request for no call");
            self.respond(now, &key, request.response(481));
            return;
        };
        debug!(call = id, ?side, method = %request.method, "in-dialog request");
        let Some(mut call) = self.calls.remove(&id) else {
            self.respond(now, &key, request.response(481));
            return;
        };
        let checked = match call.leg(side).dialog.as_mut() {
            None => Err(481),
            Some(d) if Some(d.id.remote_tag.as_str()) != e.from.tag() => Err(481),
            Some(d) => d.on_request(&request).map_err(|_| 500),
        };
        if let Err(code) = checked {
            self.respond(now, &key, request.response(code));
            self.calls.insert(id, call);
            return;
        }
        if call.state != CallState::Answered {
            // An early-dialog request from the agent (UPDATE, INFO before answer) is not
            // relayed yet; BYE there means the agent gave up ringing.
            self.respond(
                now,
                &key,
                request.response(if request.method == Method::Bye {
                    200
                } else {
                    491
                }),
            );
            self.calls.insert(id, call);
            return;
        }
        if side == Side::Caller && call.agent_ack.is_none() {
            // A request from the caller overtook its lost ACK: the 2xx arrived, so stop
            // resending it, and ACK the agent's 2xx before anything else reaches the agent.
            let seq = call
                .caller_invite
                .essentials()
                .map(|c| c.cseq.seq)
                .unwrap_or_default();
            self.txns.implicit_ack(&e.call_id, seq);
            self.ack_agent(&mut call, None);
        }
        if request.method == Method::Bye {
            self.respond(now, &key, request.response(200));
            self.hang_up(now, call, side, Outcome::Completed);
            return;
        }
        if request.method == Method::Refer {
            self.on_refer(now, &mut call, side, &key, &request);
            self.calls.insert(id, call);
            return;
        }
        self.relay(now, &mut call, id, side, key, request);
        self.calls.insert(id, call);
    }

    /// `side` hung up: BYE the other leg, close the record, forget the call.
    fn hang_up(&mut self, now: Instant, mut call: Call, side: Side, outcome: Outcome) {
        self.cancel_transfer(now, &mut call);
        let target = other(side);
        let (transport, flow) = (call.leg(target).transport, call.leg(target).flow);
        if let Some(dialog) = call.leg(target).dialog.as_mut()
            && let Some(peer) = route(flow, &dialog.next_hop(), transport)
        {
            let via = self.via(peer.transport);
            let contact = self.contact(peer.transport);
            let bye = dialog.request(Method::Bye, &via, &contact);
            self.send_cleanup(now, bye, peer);
        }
        self.cdrs.ended(call.cdr, now, outcome, Some(side));
        self.queue_call_ended(now, &call);
        self.forget(call.id, &call);
    }

    fn relay(
        &mut self,
        now: Instant,
        call: &mut Call,
        id: u64,
        side: Side,
        key: Key,
        request: Request,
    ) {
        let target = other(side);
        let (transport, flow) = (call.leg(target).transport, call.leg(target).flow);
        let Some(dialog) = call.leg(target).dialog.as_mut() else {
            self.respond(now, &key, request.response(481));
            return;
        };
        let Some(peer) = route(flow, &dialog.next_hop(), transport) else {
            self.respond(now, &key, request.response(502));
            return;
        };
        let via = self.via(peer.transport);
        let contact = self.contact(peer.transport);
        let mut relayed = dialog.request(request.method.clone(), &via, &contact);
        relayed.body = copy_body(&request.headers, &request.body, &mut relayed.headers);
        if matches!(request.method, Method::Invite | Method::Update) {
            let flows = (call.flow(side), call.flow(other(side)));
            self.anchor_mid_dialog(
                call.cdr,
                side,
                flows,
                &mut relayed.headers,
                &mut relayed.body,
            );
        }
        for name in [
            "Event",
            "Subscription-State",
            "Session-Expires",
            "Supported",
        ] {
            if let Some(value) = request.headers.get(name) {
                relayed.headers.push(name, value);
            }
        }
        match self.txns.send_request(now, relayed, peer) {
            Ok(client) => {
                self.purposes.insert(
                    client,
                    Purpose::Relay {
                        call: id,
                        from: side,
                        server: key,
                        original: Box::new(request),
                    },
                );
            }
            Err(_) => self.respond(now, &key, request.response(500)),
        }
    }

    fn on_relay_response(
        &mut self,
        now: Instant,
        id: u64,
        from: Side,
        server: &Key,
        original: &Request,
        response: Response,
    ) {
        if response.code == 100 {
            return;
        }
        let Some((cdr, flows)) = self
            .calls
            .get(&id)
            .map(|c| (c.cdr, (c.flow(other(from)), c.flow(from))))
        else {
            return;
        };
        let mut relayed = original.response(response.code);
        relayed.reason = response.reason.clone();
        relayed.body = copy_body(&response.headers, &response.body, &mut relayed.headers);
        if matches!(original.method, Method::Invite | Method::Update) && response.code < 300 {
            // The answer comes from the other leg's peer.
            self.anchor_mid_dialog(
                cdr,
                other(from),
                flows,
                &mut relayed.headers,
                &mut relayed.body,
            );
        }
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let transport = call.leg(from).transport;
        if original.method == Method::Invite && response.is_success() {
            let seq = original
                .essentials()
                .map(|e| e.cseq.seq)
                .unwrap_or_default();
            let relayed_seq = response
                .essentials()
                .map(|e| e.cseq.seq)
                .unwrap_or_default();
            call.reinvite_ack = Some((from, seq, relayed_seq, None));
            if let Some(dialog) = call.leg(other(from)).dialog.as_mut() {
                dialog.on_response(&response);
            }
        }
        if original.method == Method::Invite && response.code < 300 {
            relayed
                .headers
                .push("Contact", format!("<{}>", self.contact(transport)));
        }
        self.respond(now, server, relayed);
    }
}

fn to_tag(response: &Response) -> Option<String> {
    response
        .essentials()
        .ok()
        .and_then(|e| e.to.tag().map(str::to_owned))
}
