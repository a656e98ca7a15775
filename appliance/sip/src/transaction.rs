//! The sans-IO transaction layer (RFC 3261 §17). No sockets and no clock: the caller passes
//! `now` with every input, sends what [`Transactions::poll_output`] yields and calls
//! [`Transactions::handle_timeout`] at [`Transactions::poll_timeout`]. Tests drive it with a
//! simulated clock and drop messages at will.
//!
//! Retransmission happens only over unreliable transports; over reliable ones the "wait"
//! timers (D, I, J, K) are zero, as §17 says.
//!
//! A transaction that has nothing left to do but absorb retransmissions (timers D, I, J, K,
//! and L or M once its 2xx was ACKed or received) leaves the live table for a compact one
//! that the bound on live transactions does not count. The bound sheds only new work:
//! requests within a dialog (with a To tag), CANCELs of a known INVITE and ACKs are admitted
//! past it, so calls in progress can always end.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;

mod client;
mod finished;
mod key;
mod server;

pub use key::{Key, Role};

use self::finished::{Absorbed, Finished};
use crate::message::{Essentials, Message, Method, Request, Response};
use crate::parse::{Limits, parse_datagram};

/// T1, T2 and T4 (§17.1.1.1); the other timers derive from them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// Round-trip estimate; 500 ms.
    pub t1: Duration,
    /// Cap on non-INVITE and response retransmission intervals; 4 s.
    pub t2: Duration,
    /// How long a message may stay in the network; 5 s.
    pub t4: Duration,
}

impl Default for Timers {
    fn default() -> Timers {
        Timers {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

/// RFC 3261's timer names (and the 2xx retransmission of §13.3.1.4, here `G2xx`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timer {
    A,
    B,
    D,
    E,
    F,
    G,
    G2xx,
    H,
    I,
    J,
    K,
    L,
    M,
}

/// The transport a message came over or goes out on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    pub fn is_reliable(self) -> bool {
        matches!(self, Transport::Tcp)
    }

    /// As written in Via (`SIP/2.0/UDP`).
    pub fn via_name(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        }
    }
}

/// A remote address and the transport to reach it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer {
    pub addr: SocketAddr,
    pub transport: Transport,
}

/// Why a transaction gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutReason {
    /// Timer B or F: no final response to our request.
    NoResponse,
    /// Timer H or L: no ACK for our final response.
    NoAck,
}

/// What the layer asks of its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send these bytes to this peer.
    Transmit { to: Peer, bytes: Bytes },
    /// A new request for the TU; it answers with [`Transactions::respond`] (CANCEL included:
    /// [`Key::invite_of_cancel`] names the INVITE it targets).
    Request {
        key: Key,
        request: Request,
        from: Peer,
    },
    /// An ACK that belongs to no server transaction: the ACK of a 2xx, for the dialog.
    Ack { request: Request, from: Peer },
    /// A response to one of our client transactions.
    Response { key: Key, response: Response },
    /// A response matching no transaction (a late 2xx retransmission to re-ACK).
    StrayResponse { response: Response, from: Peer },
    /// A transaction gave up.
    Timeout { key: Key, reason: TimeoutReason },
    /// A transaction ended and was forgotten.
    Terminated { key: Key },
}

/// An effect a state machine asks for.
#[derive(Debug)]
pub(crate) enum Action {
    Transmit(Bytes),
    Arm(Timer, Duration),
    Deliver(Response),
    Timeout(TimeoutReason),
    Terminate,
}

#[derive(Debug)]
#[allow(clippy::enum_variant_names)] // RFC 3261's own names for the four machines.
enum Machine {
    ClientInvite(client::ClientInvite),
    ClientNonInvite(client::ClientNonInvite),
    ServerInvite(server::ServerInvite),
    ServerNonInvite(server::ServerNonInvite),
}

impl Machine {
    fn finished(&self) -> Option<(finished::Reply, Timer)> {
        match self {
            Machine::ClientInvite(m) => m.finished(),
            Machine::ClientNonInvite(m) => m.finished(),
            Machine::ServerInvite(m) => m.finished(),
            Machine::ServerNonInvite(m) => m.finished(),
        }
    }
}

#[derive(Debug)]
struct Entry {
    machine: Machine,
    peer: Peer,
    /// For INVITE server transactions: Call-ID and CSeq, to match the ACK of a 2xx.
    dialog_hint: Option<(String, u32)>,
    /// Its timers in `deadlines`, so that they leave with it instead of lingering.
    armed: Vec<(Instant, u64, Timer)>,
}

/// Requests within a dialog are admitted past the bound on live transactions up to this
/// many times it: the bound is for new work, and this ceiling only keeps a peer flooding
/// requests with made-up To tags from growing the table without end.
const IN_DIALOG_CEILING: usize = 2;

/// Finished transactions kept per live one allowed, unless set with
/// [`Transactions::set_max_finished`].
const FINISHED_PER_LIVE: usize = 16;

/// Why the layer refused a request from the TU.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("the request lacks {0}")]
    Malformed(#[from] crate::message::MissingHeader),
    #[error("a transaction with this branch and method exists")]
    Duplicate,
    #[error("ACK is sent with `send_stateless`, not in a transaction")]
    Ack,
    #[error("no such transaction, or it cannot send this response now")]
    NoTransaction,
    #[error("too many transactions")]
    Full,
}

/// All client and server transactions of one endpoint.
#[derive(Debug)]
pub struct Transactions {
    timers: Timers,
    limits: Limits,
    max_transactions: usize,
    max_finished: usize,
    entries: HashMap<Key, Entry>,
    /// Transactions that only absorb retransmissions until their last timer.
    finished: HashMap<Key, Finished>,
    /// (Call-ID, CSeq) of accepted INVITE server transactions → their key.
    accepted: HashMap<(String, u32), Key>,
    deadlines: BTreeMap<(Instant, u64), (Key, Timer)>,
    sequence: u64,
    out: VecDeque<Output>,
    /// Messages dropped because they did not parse or lacked a mandatory header.
    pub malformed: u64,
}

impl Transactions {
    /// A layer that sheds new work (503) past `max_transactions` live transactions, and
    /// keeps up to 16 times as many finished ones absorbing retransmissions.
    pub fn new(timers: Timers, limits: Limits, max_transactions: usize) -> Transactions {
        Transactions {
            timers,
            limits,
            max_transactions,
            max_finished: max_transactions.saturating_mul(FINISHED_PER_LIVE),
            entries: HashMap::new(),
            finished: HashMap::new(),
            accepted: HashMap::new(),
            deadlines: BTreeMap::new(),
            sequence: 0,
            out: VecDeque::new(),
            malformed: 0,
        }
    }

    pub fn timers(&self) -> Timers {
        self.timers
    }

    /// How many finished transactions may absorb retransmissions at once. Past it a
    /// transaction that finishes is forgotten at once, as over a reliable transport: a late
    /// retransmission is then seen as a new request (or a stray response) instead of being
    /// answered from the table. Size it as calls per second × 64·T1 × 4.
    pub fn set_max_finished(&mut self, max: usize) {
        self.max_finished = max;
    }

    /// Live transactions (those the bound counts).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Finished transactions still absorbing retransmissions.
    pub fn finished(&self) -> usize {
        self.finished.len()
    }

    /// No transaction at all, live or finished.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.finished.is_empty()
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// The earliest armed timer.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines.keys().next().map(|(at, _)| *at)
    }

    /// Bytes from the network. Anything malformed is counted and dropped.
    pub fn receive(&mut self, now: Instant, bytes: &[u8], from: Peer) {
        match parse_datagram(bytes, &self.limits) {
            Ok(message) => self.receive_message(now, message, from),
            Err(_) => self.malformed += 1,
        }
    }

    pub fn receive_message(&mut self, now: Instant, message: Message, from: Peer) {
        match message {
            Message::Request(request) => self.receive_request(now, request, from),
            Message::Response(response) => self.receive_response(now, response, from),
        }
    }

    fn receive_request(&mut self, now: Instant, request: Request, from: Peer) {
        let Ok(essentials) = request.essentials() else {
            self.malformed += 1;
            return;
        };
        if essentials.cseq.method != request.method {
            self.malformed += 1;
            return;
        }
        let key = Key::server(&essentials);
        let mut acts = Vec::new();
        if let Some(entry) = self.entries.get_mut(&key) {
            match (&mut entry.machine, &request.method) {
                (Machine::ServerInvite(m), Method::Ack) => m.on_ack(&mut acts),
                (Machine::ServerInvite(m), _) => m.on_retransmission(&mut acts),
                (Machine::ServerNonInvite(m), _) => m.on_retransmission(&mut acts),
                _ => {}
            }
            self.apply(now, &key, acts);
            return;
        }
        if let Some(done) = self.finished.get(&key) {
            if let Absorbed::Transmit(bytes) = done.on_request() {
                self.transmit(done.peer, bytes);
            }
            return;
        }
        if request.method == Method::Ack {
            let hint = (essentials.call_id.clone(), essentials.cseq.seq);
            if let Some(invite) = self.accepted.get(&hint).cloned() {
                self.ack_2xx(&invite);
            }
            self.out.push_back(Output::Ack { request, from });
            return;
        }
        let continues = essentials.to.tag().is_some()
            || (request.method == Method::Cancel && self.knows(&key.invite_of_cancel()));
        if !self.has_room(continues) {
            // Overload: answer statelessly, keep nothing (§21.5.4 with Retry-After).
            let mut busy = request.response(503);
            busy.headers.push("Retry-After", "5");
            self.transmit(from, Bytes::from(busy.to_bytes()));
            return;
        }
        let reliable = from.transport.is_reliable();
        let (machine, dialog_hint) = if request.method == Method::Invite {
            let trying = request.response(100);
            let m = server::ServerInvite::start(
                Bytes::from(trying.to_bytes()),
                reliable,
                self.timers,
                &mut acts,
            );
            let hint = (essentials.call_id.clone(), essentials.cseq.seq);
            (Machine::ServerInvite(m), Some(hint))
        } else {
            let m = server::ServerNonInvite::start(reliable, self.timers);
            (Machine::ServerNonInvite(m), None)
        };
        self.entries.insert(
            key.clone(),
            Entry {
                machine,
                peer: from,
                dialog_hint,
                armed: Vec::new(),
            },
        );
        self.apply(now, &key, acts);
        self.out.push_back(Output::Request { key, request, from });
    }

    fn receive_response(&mut self, now: Instant, response: Response, from: Peer) {
        let Ok(essentials) = response.essentials() else {
            self.malformed += 1;
            return;
        };
        let key = Key::client(&essentials);
        let mut acts = Vec::new();
        match self.entries.get_mut(&key).map(|e| &mut e.machine) {
            Some(Machine::ClientInvite(m)) => m.on_response(response, &mut acts),
            Some(Machine::ClientNonInvite(m)) => m.on_response(response, &mut acts),
            _ => {
                match self
                    .finished
                    .get(&key)
                    .map(|f| (f.peer, f.on_response(response.code)))
                {
                    Some((_, Absorbed::Nothing)) => {}
                    Some((peer, Absorbed::Transmit(bytes))) => self.transmit(peer, bytes),
                    Some((_, Absorbed::Deliver)) => {
                        self.out.push_back(Output::Response { key, response });
                    }
                    None => self.out.push_back(Output::StrayResponse { response, from }),
                }
                return;
            }
        }
        self.apply(now, &key, acts);
    }

    /// Whether a new transaction may start: new work up to the bound, work of a dialog
    /// already under way up to the ceiling above it.
    fn has_room(&self, continues: bool) -> bool {
        let bound = if continues {
            self.max_transactions.saturating_mul(IN_DIALOG_CEILING)
        } else {
            self.max_transactions
        };
        self.entries.len() < bound
    }

    fn knows(&self, key: &Key) -> bool {
        self.entries.contains_key(key) || self.finished.contains_key(key)
    }

    /// The ACK of INVITE server transaction `key`'s 2xx came (or a later request stands for
    /// it): it stops resending and has only absorbing left.
    fn ack_2xx(&mut self, key: &Key) -> bool {
        let acked = match self.entries.get_mut(key).map(|e| &mut e.machine) {
            Some(Machine::ServerInvite(m)) => m.on_2xx_ack(),
            _ => false,
        };
        if acked {
            self.settle(key);
        }
        acked
    }

    /// Moves `key` to the finished table if it has only absorbing left, dropping its
    /// timers but the one that ends it.
    fn settle(&mut self, key: &Key) {
        let Some((reply, until)) = self.entries.get(key).and_then(|e| e.machine.finished()) else {
            return;
        };
        let Some(entry) = self.entries.remove(key) else {
            return;
        };
        if let Some(hint) = entry.dialog_hint {
            self.accepted.remove(&hint);
        }
        let full = self.finished.len() >= self.max_finished;
        for (at, seq, timer) in entry.armed {
            if full || timer != until {
                self.deadlines.remove(&(at, seq));
            }
        }
        if full {
            self.out.push_back(Output::Terminated { key: key.clone() });
            return;
        }
        self.finished.insert(
            key.clone(),
            Finished {
                peer: entry.peer,
                reply,
                until,
            },
        );
    }

    /// Starts a client transaction for `request` (not ACK) towards `to`.
    pub fn send_request(
        &mut self,
        now: Instant,
        request: Request,
        to: Peer,
    ) -> Result<Key, SendError> {
        let essentials = request.essentials()?;
        if request.method == Method::Ack {
            return Err(SendError::Ack);
        }
        let key = Key::client(&essentials);
        if self.knows(&key) {
            return Err(SendError::Duplicate);
        }
        if !self.has_room(continues(&request, &essentials)) {
            return Err(SendError::Full);
        }
        let reliable = to.transport.is_reliable();
        let mut acts = Vec::new();
        let machine = if request.method == Method::Invite {
            Machine::ClientInvite(client::ClientInvite::start(
                request,
                reliable,
                self.timers,
                &mut acts,
            ))
        } else {
            Machine::ClientNonInvite(client::ClientNonInvite::start(
                &request,
                reliable,
                self.timers,
                &mut acts,
            ))
        };
        self.entries.insert(
            key.clone(),
            Entry {
                machine,
                peer: to,
                dialog_hint: None,
                armed: Vec::new(),
            },
        );
        self.apply(now, &key, acts);
        Ok(key)
    }

    /// Sends the TU's response in server transaction `key`.
    pub fn respond(
        &mut self,
        now: Instant,
        key: &Key,
        response: Response,
    ) -> Result<(), SendError> {
        let mut acts = Vec::new();
        let entry = self.entries.get_mut(key).ok_or(SendError::NoTransaction)?;
        let sent = match &mut entry.machine {
            Machine::ServerInvite(m) => m.send(&response, &mut acts),
            Machine::ServerNonInvite(m) => m.send(&response, &mut acts),
            _ => false,
        };
        if !sent {
            return Err(SendError::NoTransaction);
        }
        if response.is_success()
            && let Some(hint) = entry.dialog_hint.clone()
        {
            self.accepted.insert(hint, key.clone());
        }
        self.apply(now, key, acts);
        Ok(())
    }

    /// Stops resending the 2xx of INVITE server transaction (Call-ID, CSeq) as if its ACK
    /// had come: the TU saw a later request in the dialog (a BYE overtaking a lost ACK).
    pub fn implicit_ack(&mut self, call_id: &str, seq: u32) -> bool {
        let hint = (call_id.to_owned(), seq);
        match self.accepted.get(&hint).cloned() {
            Some(key) => self.ack_2xx(&key),
            None => false,
        }
    }

    /// Forgets a transaction without another message: RFC 3261 §9.1 lets a client give up an
    /// INVITE whose CANCEL brought no final response within 64·T1.
    pub fn abandon(&mut self, key: &Key) -> bool {
        if self.forget(key) || self.finished.remove(key).is_some() {
            self.out.push_back(Output::Terminated { key: key.clone() });
            return true;
        }
        false
    }

    /// Removes live transaction `key` with its hint and timers.
    fn forget(&mut self, key: &Key) -> bool {
        let Some(entry) = self.entries.remove(key) else {
            return false;
        };
        if let Some(hint) = entry.dialog_hint {
            self.accepted.remove(&hint);
        }
        for (at, seq, _) in entry.armed {
            self.deadlines.remove(&(at, seq));
        }
        true
    }

    /// Sends a message outside any transaction (the ACK of a 2xx, stateless replies).
    pub fn send_stateless(&mut self, to: Peer, message: &Message) {
        self.transmit(to, Bytes::from(message.to_bytes()));
    }

    /// The request a client transaction sent (to build its CANCEL).
    pub fn client_request(&self, key: &Key) -> Option<&Request> {
        match &self.entries.get(key)?.machine {
            Machine::ClientInvite(m) => Some(m.request()),
            _ => None,
        }
    }

    /// Whether server transaction `key` may still send a final response.
    pub fn can_respond(&self, key: &Key) -> bool {
        match self.entries.get(key).map(|e| &e.machine) {
            Some(Machine::ServerInvite(m)) => m.state == server::InviteState::Proceeding,
            Some(Machine::ServerNonInvite(m)) => m.state != server::NonInviteState::Completed,
            _ => false,
        }
    }

    /// The peer a transaction talks to.
    pub fn peer(&self, key: &Key) -> Option<Peer> {
        match self.entries.get(key) {
            Some(e) => Some(e.peer),
            None => self.finished.get(key).map(|f| f.peer),
        }
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(entry) = self.deadlines.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let ((_, seq), (key, timer)) = entry.remove_entry();
            let mut acts = Vec::new();
            let Some(live) = self.entries.get_mut(&key) else {
                if self.finished.get(&key).is_some_and(|f| f.until == timer) {
                    self.finished.remove(&key);
                    self.out.push_back(Output::Terminated { key });
                }
                continue;
            };
            live.armed.retain(|(_, armed, _)| *armed != seq);
            match &mut live.machine {
                Machine::ClientInvite(m) => m.on_timer(timer, &mut acts),
                Machine::ClientNonInvite(m) => m.on_timer(timer, &mut acts),
                Machine::ServerInvite(m) => m.on_timer(timer, &mut acts),
                Machine::ServerNonInvite(m) => m.on_timer(timer, &mut acts),
            }
            self.apply(now, &key, acts);
        }
    }

    fn transmit(&mut self, to: Peer, bytes: Bytes) {
        self.out.push_back(Output::Transmit { to, bytes });
    }

    fn apply(&mut self, now: Instant, key: &Key, acts: Vec<Action>) {
        let Some(peer) = self.entries.get(key).map(|e| e.peer) else {
            return;
        };
        for act in acts {
            match act {
                Action::Transmit(bytes) => self.transmit(peer, bytes),
                Action::Arm(timer, after) => {
                    self.sequence += 1;
                    let at = now + after;
                    self.deadlines
                        .insert((at, self.sequence), (key.clone(), timer));
                    if let Some(entry) = self.entries.get_mut(key) {
                        entry.armed.push((at, self.sequence, timer));
                    }
                }
                Action::Deliver(response) => self.out.push_back(Output::Response {
                    key: key.clone(),
                    response,
                }),
                Action::Timeout(reason) => self.out.push_back(Output::Timeout {
                    key: key.clone(),
                    reason,
                }),
                Action::Terminate => {
                    self.forget(key);
                    self.out.push_back(Output::Terminated { key: key.clone() });
                }
            }
        }
        self.settle(key);
    }
}

/// Whether a request we send belongs to work already under way: a request within a dialog
/// or a CANCEL (of our own INVITE).
fn continues(request: &Request, essentials: &Essentials) -> bool {
    essentials.to.tag().is_some() || request.method == Method::Cancel
}

#[cfg(test)]
mod tests;
