//! Finished transactions waiting out their absorption timer: D and K for clients, I and J
//! for servers, and RFC 6026's L and M once the 2xx was ACKed or received. A transaction in
//! one of these states sends nothing of its own and decides nothing: it only answers
//! retransmissions from the network. So it is kept here in a compact form (its peer and at
//! most one message to repeat) instead of as a live state machine, and it does not count
//! against the bound on live transactions: at a steady call rate every call leaves about
//! four of them behind for up to 64·T1, which would otherwise crowd out new work.

use bytes::Bytes;

use super::{Peer, Timer};

/// What a finished transaction does with a retransmission it absorbs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    /// Nothing: duplicate ACKs (Timer I), INVITEs whose 2xx was ACKed (Timer L), duplicate
    /// non-INVITE finals (Timer K).
    Silent,
    /// A retransmitted request gets our final response again (Timer J).
    Resend(Bytes),
    /// A retransmitted non-2xx final gets our ACK again (Timer D).
    Ack(Bytes),
    /// Every 2xx goes to the TU, which ACKs it (Timer M; a second 2xx may come from a fork).
    Deliver2xx,
}

/// A finished transaction: its peer and at most one message to repeat.
#[derive(Debug)]
pub(crate) struct Finished {
    pub(crate) peer: Peer,
    pub(crate) reply: Reply,
    /// The timer that ends it; any other timer still armed for its key is stale.
    pub(crate) until: Timer,
}

/// What to do with a message that matched a finished transaction.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Absorbed {
    Nothing,
    Transmit(Bytes),
    Deliver,
}

impl Finished {
    /// A request with this transaction's key came again.
    pub(crate) fn on_request(&self) -> Absorbed {
        match &self.reply {
            Reply::Resend(bytes) => Absorbed::Transmit(bytes.clone()),
            _ => Absorbed::Nothing,
        }
    }

    /// A response with this transaction's key came again.
    pub(crate) fn on_response(&self, code: u16) -> Absorbed {
        match (&self.reply, code) {
            (Reply::Ack(ack), 300..) => Absorbed::Transmit(ack.clone()),
            (Reply::Deliver2xx, 200..=299) => Absorbed::Deliver,
            _ => Absorbed::Nothing,
        }
    }
}
