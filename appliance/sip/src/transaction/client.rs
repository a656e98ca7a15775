//! Client transactions: INVITE (§17.1.1 with RFC 6026's Accepted state) and non-INVITE
//! (§17.1.2). Pure state machines: every effect is an [`Action`] for the manager.

use std::time::Duration;

use bytes::Bytes;

use super::finished::Reply;
use super::{Action, TimeoutReason, Timer, Timers};
use crate::message::{Headers, Method, Request, Response};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InviteState {
    Calling,
    Proceeding,
    Completed,
    Accepted,
}

#[derive(Debug)]
pub(crate) struct ClientInvite {
    pub(crate) state: InviteState,
    request: Request,
    bytes: Bytes,
    ack: Option<Bytes>,
    reliable: bool,
    interval: Duration,
    timers: Timers,
}

impl ClientInvite {
    pub(crate) fn start(
        request: Request,
        reliable: bool,
        timers: Timers,
        acts: &mut Vec<Action>,
    ) -> ClientInvite {
        let bytes = Bytes::from(request.to_bytes());
        acts.push(Action::Transmit(bytes.clone()));
        if !reliable {
            acts.push(Action::Arm(Timer::A, timers.t1));
        }
        acts.push(Action::Arm(Timer::B, timers.t1 * 64));
        ClientInvite {
            state: InviteState::Calling,
            request,
            bytes,
            ack: None,
            reliable,
            interval: timers.t1,
            timers,
        }
    }

    pub(crate) fn on_response(&mut self, response: Response, acts: &mut Vec<Action>) {
        use InviteState::*;
        match (self.state, response.code) {
            (Calling | Proceeding, 100..=199) => {
                self.state = Proceeding;
                acts.push(Action::Deliver(response));
            }
            (Calling | Proceeding, 200..=299) => {
                self.state = Accepted;
                acts.push(Action::Arm(Timer::M, self.timers.t1 * 64));
                acts.push(Action::Deliver(response));
            }
            (Calling | Proceeding, _) => {
                let ack = Bytes::from(ack_for(&self.request, &response).to_bytes());
                acts.push(Action::Transmit(ack.clone()));
                self.ack = Some(ack);
                self.state = Completed;
                let wait = if self.reliable {
                    Duration::ZERO
                } else {
                    Duration::from_secs(32)
                };
                acts.push(Action::Arm(Timer::D, wait));
                acts.push(Action::Deliver(response));
            }
            // A retransmitted final response: the ACK was lost; send it again.
            (Completed, 300..) => {
                if let Some(ack) = &self.ack {
                    acts.push(Action::Transmit(ack.clone()));
                }
            }
            // Every 2xx goes to the TU, which ACKs it (a second 2xx may come from a fork).
            (Accepted, 200..=299) => acts.push(Action::Deliver(response)),
            _ => {}
        }
    }

    pub(crate) fn on_timer(&mut self, timer: Timer, acts: &mut Vec<Action>) {
        match (self.state, timer) {
            (InviteState::Calling, Timer::A) => {
                acts.push(Action::Transmit(self.bytes.clone()));
                self.interval *= 2;
                acts.push(Action::Arm(Timer::A, self.interval));
            }
            (InviteState::Calling, Timer::B) => {
                acts.push(Action::Timeout(TimeoutReason::NoResponse));
                acts.push(Action::Terminate);
            }
            (InviteState::Completed, Timer::D) | (InviteState::Accepted, Timer::M) => {
                acts.push(Action::Terminate);
            }
            _ => {}
        }
    }

    pub(crate) fn request(&self) -> &Request {
        &self.request
    }

    /// Once only absorption is left: what it repeats, and the timer that ends it.
    pub(crate) fn finished(&self) -> Option<(Reply, Timer)> {
        match (self.state, &self.ack) {
            (InviteState::Completed, Some(ack)) => Some((Reply::Ack(ack.clone()), Timer::D)),
            (InviteState::Accepted, _) => Some((Reply::Deliver2xx, Timer::M)),
            _ => None,
        }
    }
}

/// The ACK for a non-2xx final response (§17.1.1.3): same R-URI, Call-ID, From, top Via and
/// Route as the INVITE, the response's To (with its tag), CSeq number with method ACK.
pub(crate) fn ack_for(invite: &Request, response: &Response) -> Request {
    let mut headers = Headers::new();
    if let Some(via) = invite.headers.get("Via") {
        headers.push("Via", via);
    }
    headers.push("Max-Forwards", "70");
    for name in ["From", "Call-ID"] {
        if let Some(value) = invite.headers.get(name) {
            headers.push(name, value);
        }
    }
    if let Some(to) = response.headers.get("To") {
        headers.push("To", to);
    }
    let seq = invite.essentials().map(|e| e.cseq.seq).unwrap_or_default();
    headers.push("CSeq", format!("{seq} ACK"));
    for route in invite.headers.get_all("Route") {
        headers.push("Route", route);
    }
    Request {
        method: Method::Ack,
        uri: invite.uri.clone(),
        headers,
        body: Bytes::new(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NonInviteState {
    Trying,
    Proceeding,
    Completed,
}

#[derive(Debug)]
pub(crate) struct ClientNonInvite {
    pub(crate) state: NonInviteState,
    bytes: Bytes,
    reliable: bool,
    interval: Duration,
    timers: Timers,
}

impl ClientNonInvite {
    pub(crate) fn start(
        request: &Request,
        reliable: bool,
        timers: Timers,
        acts: &mut Vec<Action>,
    ) -> ClientNonInvite {
        let bytes = Bytes::from(request.to_bytes());
        acts.push(Action::Transmit(bytes.clone()));
        if !reliable {
            acts.push(Action::Arm(Timer::E, timers.t1));
        }
        acts.push(Action::Arm(Timer::F, timers.t1 * 64));
        ClientNonInvite {
            state: NonInviteState::Trying,
            bytes,
            reliable,
            interval: timers.t1,
            timers,
        }
    }

    pub(crate) fn on_response(&mut self, response: Response, acts: &mut Vec<Action>) {
        use NonInviteState::*;
        match (self.state, response.is_provisional()) {
            (Trying | Proceeding, true) => {
                self.state = Proceeding;
                acts.push(Action::Deliver(response));
            }
            (Trying | Proceeding, false) => {
                self.state = Completed;
                let wait = if self.reliable {
                    Duration::ZERO
                } else {
                    self.timers.t4
                };
                acts.push(Action::Arm(Timer::K, wait));
                acts.push(Action::Deliver(response));
            }
            // Completed: retransmitted responses are absorbed (Timer K).
            (Completed, _) => {}
        }
    }

    pub(crate) fn on_timer(&mut self, timer: Timer, acts: &mut Vec<Action>) {
        use NonInviteState::*;
        match (self.state, timer) {
            (Trying, Timer::E) => {
                acts.push(Action::Transmit(self.bytes.clone()));
                self.interval = (self.interval * 2).min(self.timers.t2);
                acts.push(Action::Arm(Timer::E, self.interval));
            }
            (Proceeding, Timer::E) => {
                acts.push(Action::Transmit(self.bytes.clone()));
                self.interval = self.timers.t2;
                acts.push(Action::Arm(Timer::E, self.interval));
            }
            (Trying | Proceeding, Timer::F) => {
                acts.push(Action::Timeout(TimeoutReason::NoResponse));
                acts.push(Action::Terminate);
            }
            (Completed, Timer::K) => acts.push(Action::Terminate),
            _ => {}
        }
    }

    pub(crate) fn finished(&self) -> Option<(Reply, Timer)> {
        (self.state == NonInviteState::Completed).then_some((Reply::Silent, Timer::K))
    }
}
