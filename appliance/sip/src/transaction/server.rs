//! Server transactions: INVITE (§17.2.1 with RFC 6026's Accepted state, where we also
//! retransmit the 2xx until its ACK as §13.3.1.4 asks of the UAS core) and non-INVITE (§17.2.2).

use std::time::Duration;

use bytes::Bytes;

use super::finished::Reply;
use super::{Action, TimeoutReason, Timer, Timers};
use crate::message::Response;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InviteState {
    Proceeding,
    Completed,
    Confirmed,
    /// A 2xx was sent; `acked` once its ACK (a separate transaction) arrived.
    Accepted {
        acked: bool,
    },
}

#[derive(Debug)]
pub(crate) struct ServerInvite {
    pub(crate) state: InviteState,
    last: Option<Bytes>,
    reliable: bool,
    interval: Duration,
    timers: Timers,
}

impl ServerInvite {
    /// A new INVITE server transaction; `trying` is the 100 it sends at once (§17.2.1 lets
    /// the transaction send it without waiting 200 ms for the TU).
    pub(crate) fn start(
        trying: Bytes,
        reliable: bool,
        timers: Timers,
        acts: &mut Vec<Action>,
    ) -> Self {
        acts.push(Action::Transmit(trying.clone()));
        ServerInvite {
            state: InviteState::Proceeding,
            last: Some(trying),
            reliable,
            interval: timers.t1,
            timers,
        }
    }

    pub(crate) fn on_retransmission(&mut self, acts: &mut Vec<Action>) {
        match self.state {
            InviteState::Proceeding
            | InviteState::Completed
            | InviteState::Accepted { acked: false } => {
                if let Some(last) = &self.last {
                    acts.push(Action::Transmit(last.clone()));
                }
            }
            InviteState::Confirmed | InviteState::Accepted { acked: true } => {}
        }
    }

    pub(crate) fn send(&mut self, response: &Response, acts: &mut Vec<Action>) -> bool {
        let bytes = Bytes::from(response.to_bytes());
        match (self.state, response.code) {
            (InviteState::Proceeding, 100..=199) => {}
            (InviteState::Proceeding, 200..=299) => {
                self.state = InviteState::Accepted { acked: false };
                acts.push(Action::Arm(Timer::L, self.timers.t1 * 64));
                if !self.reliable {
                    self.interval = self.timers.t1;
                    acts.push(Action::Arm(Timer::G2xx, self.interval));
                }
            }
            (InviteState::Proceeding, _) => {
                self.state = InviteState::Completed;
                if !self.reliable {
                    self.interval = self.timers.t1;
                    acts.push(Action::Arm(Timer::G, self.interval));
                }
                acts.push(Action::Arm(Timer::H, self.timers.t1 * 64));
            }
            // A further 2xx from the TU (a re-sent answer) is still passed on.
            (InviteState::Accepted { .. }, 200..=299) => {}
            _ => return false,
        }
        acts.push(Action::Transmit(bytes.clone()));
        self.last = Some(bytes);
        true
    }

    /// The ACK of a non-2xx final response, matched by branch.
    pub(crate) fn on_ack(&mut self, acts: &mut Vec<Action>) {
        if self.state == InviteState::Completed {
            self.state = InviteState::Confirmed;
            let wait = if self.reliable {
                Duration::ZERO
            } else {
                self.timers.t4
            };
            acts.push(Action::Arm(Timer::I, wait));
        }
    }

    /// The ACK of our 2xx (its own transaction, matched by Call-ID and CSeq): stop resending.
    pub(crate) fn on_2xx_ack(&mut self) -> bool {
        if self.state == (InviteState::Accepted { acked: false }) {
            self.state = InviteState::Accepted { acked: true };
            return true;
        }
        false
    }

    pub(crate) fn on_timer(&mut self, timer: Timer, acts: &mut Vec<Action>) {
        match (self.state, timer) {
            (InviteState::Completed, Timer::G)
            | (InviteState::Accepted { acked: false }, Timer::G2xx) => {
                if let Some(last) = &self.last {
                    acts.push(Action::Transmit(last.clone()));
                }
                self.interval = (self.interval * 2).min(self.timers.t2);
                acts.push(Action::Arm(timer, self.interval));
            }
            (InviteState::Completed, Timer::H) => {
                acts.push(Action::Timeout(TimeoutReason::NoAck));
                acts.push(Action::Terminate);
            }
            (InviteState::Confirmed, Timer::I) => acts.push(Action::Terminate),
            (InviteState::Accepted { acked }, Timer::L) => {
                if !acked {
                    acts.push(Action::Timeout(TimeoutReason::NoAck));
                }
                acts.push(Action::Terminate);
            }
            _ => {}
        }
    }

    /// Once only absorption is left: retransmitted INVITEs and ACKs are swallowed until the
    /// timer that ends it.
    pub(crate) fn finished(&self) -> Option<(Reply, Timer)> {
        match self.state {
            InviteState::Confirmed => Some((Reply::Silent, Timer::I)),
            InviteState::Accepted { acked: true } => Some((Reply::Silent, Timer::L)),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NonInviteState {
    Trying,
    Proceeding,
    Completed,
}

#[derive(Debug)]
pub(crate) struct ServerNonInvite {
    pub(crate) state: NonInviteState,
    last: Option<Bytes>,
    reliable: bool,
    timers: Timers,
}

impl ServerNonInvite {
    pub(crate) fn start(reliable: bool, timers: Timers) -> Self {
        ServerNonInvite {
            state: NonInviteState::Trying,
            last: None,
            reliable,
            timers,
        }
    }

    pub(crate) fn on_retransmission(&mut self, acts: &mut Vec<Action>) {
        if let (NonInviteState::Proceeding | NonInviteState::Completed, Some(last)) =
            (self.state, &self.last)
        {
            acts.push(Action::Transmit(last.clone()));
        }
    }

    pub(crate) fn send(&mut self, response: &Response, acts: &mut Vec<Action>) -> bool {
        if self.state == NonInviteState::Completed {
            return false;
        }
        let bytes = Bytes::from(response.to_bytes());
        acts.push(Action::Transmit(bytes.clone()));
        self.last = Some(bytes);
        if response.is_provisional() {
            self.state = NonInviteState::Proceeding;
        } else {
            self.state = NonInviteState::Completed;
            let wait = if self.reliable {
                Duration::ZERO
            } else {
                self.timers.t1 * 64
            };
            acts.push(Action::Arm(Timer::J, wait));
        }
        true
    }

    pub(crate) fn on_timer(&mut self, timer: Timer, acts: &mut Vec<Action>) {
        if (self.state, timer) == (NonInviteState::Completed, Timer::J) {
            acts.push(Action::Terminate);
        }
    }

    /// Once answered: retransmitted requests get the final response again until Timer J.
    pub(crate) fn finished(&self) -> Option<(Reply, Timer)> {
        match (self.state, &self.last) {
            (NonInviteState::Completed, Some(last)) => {
                Some((Reply::Resend(last.clone()), Timer::J))
            }
            _ => None,
        }
    }
}
