//! Blind transfer: the agent's phone sends REFER (RFC 3515) naming another agent, a consul on
//! duty for instance, by username or extension. The bridge accepts it (202), reports progress
//! to the agent as NOTIFY with a `message/sipfrag` body, calls the target with the caller's
//! offer, and when the target answers connects the caller to it and hangs up the agent's leg
//! (RFC 5589 §6, the transferee being the bridge itself).
//!
//! Only calls whose media the hub anchors are transferred: the relay then points its agent
//! leg at the target and the caller's own session needs no re-INVITE. A target that refuses
//! or does not answer is reported in the final NOTIFY, and the call stays with the agent.

use std::time::Instant;

use bytes::Bytes;
use sip::dialog::Dialog;
use sip::{Key, Message, Method, NameAddr, Peer, Request, Response};
use tracing::debug;

use crate::b2bua::{Call, Leg, Purpose};
use crate::cdr::Side;
use crate::engine::{Engine, route};

/// A transfer whose target rings.
#[derive(Debug)]
pub(crate) struct Transfer {
    target: String,
    invite: Request,
    key: Key,
    peer: Peer,
    /// The tunnel flow the target's phone is behind, if any.
    flow: Option<Peer>,
    /// When the target's INVITE went out.
    started: Instant,
}

impl Engine {
    /// REFER within an answered call.
    pub(crate) fn on_refer(
        &mut self,
        now: Instant,
        call: &mut Call,
        side: Side,
        key: &Key,
        request: &Request,
    ) {
        let refused = |code: u16| request.response(code);
        if side != Side::Agent {
            // The caller is outside the centre: it cannot move the call to someone else.
            self.respond(now, key, refused(403));
            return;
        }
        if call.transfer.is_some() {
            self.respond(now, key, refused(491));
            return;
        }
        if !self.is_anchored(call.cdr) {
            self.respond(now, key, refused(488));
            return;
        }
        let target = request
            .headers
            .get("Refer-To")
            .and_then(|r| NameAddr::parse(r).ok())
            .and_then(|r| r.uri.user);
        let Some(target) = target.filter(|t| self.registrar.is_agent(t)) else {
            self.respond(now, key, refused(404));
            return;
        };
        let binding = self.registrar.lookup(now, &target).cloned();
        let Some((binding, peer)) = binding.and_then(|b| b.target().map(|p| (b, p))) else {
            self.respond(now, key, refused(480));
            return;
        };
        self.respond(now, key, request.response(202));
        self.notify(now, call, "100 Trying", false);
        let (mut invite, _) = self.agent_invite(&call.caller_invite, &binding, peer.transport);
        let caller_invite = call.caller_invite.clone();
        self.anchor_offer(
            call.cdr,
            &caller_invite,
            call.caller.flow,
            binding.gateway.as_ref(),
            &mut invite,
        );
        match self.txns.send_request(now, invite.clone(), peer) {
            Ok(client) => {
                debug!(cdr = call.cdr, target = %binding.username, "transfer: calling the target");
                self.purposes
                    .insert(client.clone(), Purpose::TransferInvite(call.id));
                call.transfer = Some(Transfer {
                    flow: binding.flow(),
                    target: binding.username,
                    invite,
                    key: client,
                    peer,
                    started: now,
                });
            }
            Err(_) => self.notify(now, call, "503 Service Unavailable", true),
        }
    }

    /// Tells the agent how the transfer goes (an implicit subscription, RFC 3515 §2.4.4).
    fn notify(&mut self, now: Instant, call: &mut Call, status: &str, last: bool) {
        let (transport, flow) = (call.agent.transport, call.agent.flow);
        let Some(dialog) = call.agent.dialog.as_mut() else {
            return;
        };
        let Some(peer) = route(flow, &dialog.next_hop(), transport) else {
            return;
        };
        let via = self.via(peer.transport);
        let contact = self.contact(peer.transport);
        let mut notify = dialog.request(Method::Notify, &via, &contact);
        notify.headers.push("Event", "refer");
        notify.headers.push(
            "Subscription-State",
            if last {
                "terminated;reason=noresource"
            } else {
                "active;expires=60"
            },
        );
        notify
            .headers
            .set("Content-Type", "message/sipfrag;version=2.0");
        notify.body = Bytes::from(format!("SIP/2.0 {status}\r\n"));
        if let Ok(client) = self.txns.send_request(now, notify, peer) {
            self.purposes.insert(client, Purpose::Cleanup);
        }
    }

    pub(crate) fn on_transfer_response(&mut self, now: Instant, id: u64, response: Response) {
        let Some(mut call) = self.calls.remove(&id) else {
            return;
        };
        match (response.code, call.transfer.take()) {
            (_, None) => {}
            (100..=199, transfer) => call.transfer = transfer,
            (200..=299, Some(transfer)) => self.transferred(now, &mut call, transfer, &response),
            (code, Some(_)) => {
                let status = format!("{code} {}", response.reason);
                self.notify(now, &mut call, &status, true);
            }
        }
        self.calls.insert(id, call);
    }

    /// The target never answered (Timer B).
    pub(crate) fn transfer_failed(&mut self, now: Instant, id: u64, code: u16) {
        let Some(mut call) = self.calls.remove(&id) else {
            return;
        };
        if call.transfer.take().is_some() {
            let status = format!("{code} {}", sip::reason_phrase(code));
            self.notify(now, &mut call, &status, true);
        }
        self.calls.insert(id, call);
    }

    /// The target answered: ACK it, tell the agent, hang up the agent's leg, and make the
    /// target the call's agent leg.
    fn transferred(
        &mut self,
        now: Instant,
        call: &mut Call,
        transfer: Transfer,
        response: &Response,
    ) {
        let Ok(dialog) = Dialog::as_uac(&transfer.invite, response) else {
            let status = "500 Server Internal Error";
            self.notify(now, call, status, true);
            return;
        };
        let Some(peer) = route(transfer.flow, &dialog.next_hop(), transfer.peer.transport) else {
            self.notify(now, call, "502 Bad Gateway", true);
            return;
        };
        let via = self.via(peer.transport);
        let ack = dialog.ack(1, &via);
        self.txns
            .send_stateless(peer, &Message::Request(ack.clone()));

        self.notify(now, call, "200 OK", true);
        let (old_transport, old_flow) = (call.agent.transport, call.agent.flow);
        if let Some(old) = call.agent.dialog.as_mut()
            && let Some(old_peer) = route(old_flow, &old.next_hop(), old_transport)
        {
            let via = self.via(old_peer.transport);
            let contact = self.contact(old_peer.transport);
            let bye = old.request(Method::Bye, &via, &contact);
            if let Ok(client) = self.txns.send_request(now, bye, old_peer) {
                self.purposes.insert(client, Purpose::Cleanup);
            }
        }
        // The agent who transferred is done with the call (wrap-up for a queue call); the
        // target was not chosen by the ACD, so the call leaves the queues' books.
        self.queue_call_ended(now, call);
        call.queued = None;
        if let Some(old_id) = call.agent_invite.headers.get("Call-ID") {
            self.by_call_id.remove(old_id);
        }
        if let Some(new_id) = transfer.invite.headers.get("Call-ID") {
            self.by_call_id
                .insert(new_id.to_owned(), (call.id, Side::Agent));
        }
        self.cdrs
            .transferred(call.cdr, transfer.started, now, &transfer.target);
        self.anchor_new_agent(call.cdr, transfer.flow, &response.body);
        debug!(cdr = call.cdr, target = %transfer.target, "transferred");
        call.agent_invite = transfer.invite;
        call.agent_key = transfer.key;
        call.agent_peer = transfer.peer;
        call.agent = Leg {
            dialog: Some(dialog),
            transport: peer.transport,
            flow: transfer.flow,
        };
        call.agent_ack = Some((ack, peer));
    }

    /// A call ending while its transfer rings: the target is cancelled.
    pub(crate) fn cancel_transfer(&mut self, now: Instant, call: &mut Call) {
        let Some(transfer) = call.transfer.take() else {
            return;
        };
        let invite = &transfer.invite;
        let mut cancel = Request::new(Method::Cancel, invite.uri.clone());
        for name in ["Via", "Max-Forwards", "From", "To", "Call-ID"] {
            if let Some(value) = invite.headers.get(name) {
                cancel.headers.push(name, value);
            }
        }
        cancel.headers.push("CSeq", "1 CANCEL");
        if let Ok(client) = self.txns.send_request(now, cancel, transfer.peer) {
            self.purposes.insert(client, Purpose::Cleanup);
        }
        self.purposes.remove(&transfer.key);
    }
}
