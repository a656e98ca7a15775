//! The sans-IO core of the bridge: the transaction layer, the registrar and the B2BUA behind
//! one `handle(now, bytes, from)` / `poll_transmit` / `poll_timeout` interface. The tokio
//! server ([`crate::server`]) only moves bytes and time in and out, so everything here runs
//! under simulated time in tests.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use rand::Rng as _;
use rand::SeedableRng as _;
use rand::rngs::StdRng;
use sip::transaction::{Role, TimeoutReason};
use sip::{
    Key, Limits, Method, NameAddr, Output, Peer, Request, Response, Timers, Transactions,
    Transport, Uri, Via,
};
use tracing::warn;

use crate::acd::{Acd, QueueConfig};
use crate::b2bua::{Call, Purpose};
use crate::cdr::{CallRecord, CdrLog};
use crate::queueing::{CallEvent, Held};
use crate::registrar::{Account, Binding, Expiry, Registrar, Verdict};

/// What the engine needs to know about itself and its agents.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Our address as written in Via and Contact: a concrete IP, never 0.0.0.0.
    pub local: SocketAddr,
    /// The digest realm; every stored HA1 was computed with it.
    pub realm: String,
    pub accounts: Vec<Account>,
    pub expiry: Expiry,
    /// How long an agent's phone may ring before the caller hears 480 and it is cancelled.
    pub ring_timeout: Duration,
    pub timers: Timers,
    pub limits: Limits,
    /// Live transactions (calls being set up or torn down, requests awaiting an answer);
    /// past it new calls, registrations and OPTIONS get 503, while calls in progress keep
    /// going. Finished transactions do not count.
    pub max_transactions: usize,
    /// The sustained calls per second the bridge keeps retransmission state for: each call
    /// leaves about four finished transactions for up to 64·T1, so this sizes that table.
    pub max_call_rate: usize,
    pub max_calls: usize,
    /// The call queues; a call to a queue's name or number waits there for an agent.
    pub queues: Vec<QueueConfig>,
    /// Media anchored at the hub: the relay, the menu, recording (`None`: SDP passes through).
    pub media: Option<crate::anchor::MediaSettings>,
    /// Queue calls answered within this count towards the service level.
    pub service_level: Duration,
    /// Which embassy gateway a UDP source is a tunnel flow of (`None`: no gateways).
    pub origins: Option<crate::Origins>,
    /// How often phones registered through a gateway are sent `OPTIONS`, so their tunnel
    /// flow stays open (`crate::keepalive`); well under the tunnel's `flow_idle_timeout`.
    pub keepalive: Duration,
    /// The trunks' addresses: with them, only a trunk, a phone behind an embassy gateway or
    /// a registered phone may place a call (`crate::admission`); `None` lets anyone.
    pub trunks: Option<Vec<ipnet::IpNet>>,
}

impl EngineConfig {
    pub fn new(local: SocketAddr, realm: &str, accounts: Vec<Account>) -> EngineConfig {
        EngineConfig {
            local,
            realm: realm.to_owned(),
            accounts,
            expiry: Expiry::default(),
            ring_timeout: Duration::from_secs(60),
            timers: Timers::default(),
            limits: Limits::default(),
            max_transactions: 20_000,
            max_call_rate: 1_000,
            max_calls: 5_000,
            queues: Vec::new(),
            media: None,
            service_level: Duration::from_secs(20),
            origins: None,
            keepalive: Duration::from_secs(30),
            trunks: None,
        }
    }
}

/// Bytes to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub to: Peer,
    pub bytes: Bytes,
}

/// Counters for the status API and logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    pub registrations: u64,
    pub auth_failures: u64,
    pub calls: u64,
    pub options: u64,
    /// INVITEs refused because their source may not call (`EngineConfig::trunks`).
    pub refused_calls: u64,
}

/// A registered contact, as the status API shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Registration {
    pub username: String,
    pub contact: String,
    pub source: String,
    pub transport: &'static str,
    pub expires_in_s: u64,
    /// `mission/appliance` of the embassy gateway the phone registered through, from the
    /// tunnel's certificate; `None` for a phone on the hub's own network.
    pub appliance: Option<String>,
}

/// A timer of the B2BUA itself (not of a transaction).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TuTimer {
    /// The agent's phone has rung for `ring_timeout`.
    Ring(u64),
    /// 64·T1 after a CANCEL: a phone that sent no final response is given up (§9.1).
    CancelGiveUp(u64),
    /// An agent's wrap-up ends: offer waiting calls again.
    Dispatch,
}

const HOUSEKEEPING: Duration = Duration::from_secs(10);
/// Methods we answer or relay, for Allow.
pub(crate) const ALLOW: &str =
    "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, INFO, UPDATE, REFER, NOTIFY";

#[derive(Debug)]
pub struct Engine {
    pub(crate) cfg: EngineConfig,
    pub(crate) txns: Transactions,
    pub(crate) registrar: Registrar,
    pub(crate) cdrs: CdrLog,
    pub(crate) rng: StdRng,
    pub(crate) calls: HashMap<u64, Call>,
    /// Each leg's Call-ID → the call and which leg.
    pub(crate) by_call_id: HashMap<String, (u64, crate::cdr::Side)>,
    /// The caller's INVITE server transaction → the call (for CANCEL).
    pub(crate) by_server_invite: HashMap<Key, u64>,
    /// Our client transactions → why we sent them.
    pub(crate) purposes: HashMap<Key, Purpose>,
    tu_timers: BTreeMap<(Instant, u64), TuTimer>,
    tu_sequence: u64,
    pub(crate) next_call: u64,
    pub(crate) acd: Acd,
    /// Callers waiting in a queue, by call record id.
    pub(crate) held: HashMap<u64, Held>,
    /// The bridge is stopping: calls were hung up; new ones get 503 (`crate::shutdown`).
    pub(crate) stopping: bool,
    /// The media relay, when media is anchored (set by the server, which owns its events).
    pub(crate) anchor: Option<crate::anchor::Anchor>,
    pub(crate) events: VecDeque<CallEvent>,
    /// Changes made through the agents' API (login, ready…), for [`Engine::generation`].
    pub(crate) api_changes: u64,
    next_housekeeping: Instant,
    next_keepalive: Instant,
    out: VecDeque<Transmit>,
    registration_refusals: crate::admission::Limited,
    pub(crate) call_refusals: crate::admission::Limited,
    pub stats: Stats,
}

impl Engine {
    pub fn new(cfg: EngineConfig, now: Instant, wall: SystemTime) -> Engine {
        Engine::with_rng(cfg, now, wall, StdRng::from_entropy())
    }

    /// With a seeded generator, for reproducible tests.
    pub fn with_rng(cfg: EngineConfig, now: Instant, wall: SystemTime, rng: StdRng) -> Engine {
        let mut txns = Transactions::new(cfg.timers, cfg.limits, cfg.max_transactions);
        let absorbing = (cfg.timers.t1 * 64).as_secs().max(1) as usize;
        txns.set_max_finished(cfg.max_call_rate.saturating_mul(absorbing * 4));
        Engine {
            txns,
            registrar: Registrar::new(&cfg.realm, cfg.accounts.clone(), cfg.expiry),
            cdrs: CdrLog::new((now, wall)),
            rng,
            calls: HashMap::new(),
            by_call_id: HashMap::new(),
            by_server_invite: HashMap::new(),
            purposes: HashMap::new(),
            tu_timers: BTreeMap::new(),
            tu_sequence: 0,
            next_call: 1,
            acd: Acd::new(cfg.queues.clone(), cfg.service_level),
            held: HashMap::new(),
            stopping: false,
            anchor: None,
            events: VecDeque::new(),
            api_changes: 0,
            next_housekeeping: now + HOUSEKEEPING,
            next_keepalive: now + cfg.keepalive,
            out: VecDeque::new(),
            registration_refusals: crate::admission::Limited::default(),
            call_refusals: crate::admission::Limited::default(),
            stats: Stats::default(),
            cfg,
        }
    }

    /// Bytes received from `from`.
    pub fn handle(&mut self, now: Instant, bytes: &[u8], from: Peer) {
        self.txns.receive(now, bytes, from);
        self.pump(now);
    }

    /// Fires whatever is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.txns.handle_timeout(now);
        self.pump(now);
        while let Some(entry) = self.tu_timers.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let timer = entry.remove();
            self.on_tu_timer(now, timer);
            self.pump(now);
        }
        if now >= self.next_housekeeping {
            self.registrar.expire(now);
            self.next_housekeeping = now + HOUSEKEEPING;
            self.anchor_housekeeping();
            // A phone whose registration lapsed and came back, or anything missed: try again.
            self.dispatch(now);
            self.pump(now);
        }
        if now >= self.next_keepalive {
            self.next_keepalive = now + self.cfg.keepalive;
            self.keep_alive(now);
            self.pump(now);
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.txns.poll_timeout(),
            self.tu_timers.keys().next().map(|(at, _)| *at),
            Some(self.next_housekeeping),
            Some(self.next_keepalive),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }

    pub fn call_records(&self) -> Vec<CallRecord> {
        self.cdrs.records()
    }

    pub fn registrations(&self, now: Instant) -> Vec<Registration> {
        self.registrar
            .bindings(now)
            .into_iter()
            .map(|b: Binding| Registration {
                username: b.username,
                contact: b.contact.to_string(),
                source: b.source.addr.to_string(),
                transport: b.source.transport.via_name(),
                expires_in_s: b.expires_at.saturating_duration_since(now).as_secs(),
                appliance: b.gateway.map(|g| g.appliance),
            })
            .collect()
    }

    /// Calls in progress.
    pub fn active_calls(&self) -> usize {
        self.calls.len()
    }

    /// Transactions remembered, live or finished (for tests and metrics).
    pub fn transactions(&self) -> usize {
        self.txns.len() + self.txns.finished()
    }

    pub(crate) fn arm(&mut self, at: Instant, timer: TuTimer) {
        self.tu_sequence += 1;
        self.tu_timers.insert((at, self.tu_sequence), timer);
    }

    pub(crate) fn pump(&mut self, now: Instant) {
        while let Some(output) = self.txns.poll_output() {
            match output {
                Output::Transmit { to, bytes } => self.out.push_back(Transmit { to, bytes }),
                Output::Request { key, request, from } => self.on_request(now, key, request, from),
                Output::Ack { request, .. } => self.on_ack(now, &request),
                Output::Response { key, response } => self.on_response(now, &key, response),
                Output::StrayResponse { response, .. } => self.on_stray_response(&response),
                Output::Timeout { key, reason } => self.on_timeout(now, &key, reason),
                Output::Terminated { key } => {
                    if key.role == Role::Client {
                        self.purposes.remove(&key);
                    } else {
                        self.by_server_invite.remove(&key);
                    }
                }
            }
        }
    }

    fn on_request(&mut self, now: Instant, key: Key, request: Request, from: Peer) {
        let in_dialog = request.essentials().is_ok_and(|e| e.to.tag().is_some());
        match (&request.method, in_dialog) {
            (Method::Register, _) => {
                let appliance = self.origin_of(from);
                let (response, verdict) =
                    self.registrar
                        .register(now, &request, from, appliance, &mut self.rng);
                match verdict {
                    Verdict::Registered | Verdict::Unregistered => {
                        self.stats.registrations += 1;
                        // A phone that registers may take a waiting call (after the 200).
                        self.respond(now, &key, response);
                        self.dispatch(now);
                        return;
                    }
                    Verdict::Refused | Verdict::RateLimited => {
                        self.stats.auth_failures += 1;
                        self.warn_refused(now, from, verdict);
                    }
                    Verdict::Challenged | Verdict::Malformed => {}
                }
                self.respond(now, &key, response);
            }
            (Method::Cancel, _) => self.on_cancel(now, &key, &request),
            (_, true) => self.on_in_dialog(now, key, request),
            (Method::Invite, false) => self.on_invite(now, key, request, from),
            (Method::Options, false) => {
                self.stats.options += 1;
                let mut ok = tagged(request.response(200), "opt");
                ok.headers.push("Allow", ALLOW);
                ok.headers.push("Accept", "application/sdp");
                self.respond(now, &key, ok);
            }
            (Method::Bye | Method::Info | Method::Update | Method::Prack, false) => {
                self.respond(now, &key, tagged(request.response(481), "x"));
            }
            (Method::Other(_), false) => {
                self.respond(now, &key, tagged(request.response(501), "x"));
            }
            (_, false) => {
                let mut refused = tagged(request.response(405), "x");
                refused.headers.push("Allow", ALLOW);
                self.respond(now, &key, refused);
            }
        }
    }

    /// Refused registrations are logged, at most one line per ten seconds with a count of
    /// those not logged: a peer guessing passwords must not flood the log.
    fn warn_refused(&mut self, now: Instant, from: Peer, verdict: Verdict) {
        if let Some(held_back) = self.registration_refusals.due(now) {
            warn!(source = %from.addr, ?verdict, not_logged = held_back, "SIP registration refused");
        }
    }

    /// The embassy gateway whose tunnel flow `from` is, if it is one (UDP only: the tunnel
    /// carries SIP as a UDP service).
    pub(crate) fn origin_of(&self, from: Peer) -> Option<crate::origin::Gateway> {
        match from.transport {
            Transport::Udp => self.cfg.origins.as_ref()?.of(from.addr),
            Transport::Tcp => None,
        }
    }

    pub(crate) fn respond(&mut self, now: Instant, key: &Key, response: Response) {
        // A transaction that can no longer answer (already answered, or gone) needs nothing.
        let _ = self.txns.respond(now, key, response);
    }

    pub(crate) fn random_token(&mut self) -> String {
        hex::encode(self.rng.r#gen::<[u8; 8]>())
    }

    /// A new top Via with a fresh branch, for a request on `transport`.
    pub(crate) fn via(&mut self, transport: Transport) -> Via {
        let branch = format!("{}{}", sip::header::MAGIC_COOKIE, self.random_token());
        Via::new(transport.via_name(), self.cfg.local, &branch)
    }

    /// Our Contact for a leg on `transport`.
    pub(crate) fn contact(&self, transport: Transport) -> Uri {
        let uri = Uri::for_addr(Some("bridge"), self.cfg.local);
        match transport {
            Transport::Tcp => uri.with_param("transport", Some("tcp")),
            Transport::Udp => uri,
        }
    }

    pub(crate) fn on_timeout(&mut self, now: Instant, key: &Key, reason: TimeoutReason) {
        match key.role {
            Role::Client => {
                if let Some(purpose) = self.purposes.remove(key) {
                    self.on_client_timeout(now, purpose);
                }
            }
            Role::Server => {
                if reason == TimeoutReason::NoAck
                    && let Some(id) = self.by_server_invite.get(key).copied()
                {
                    self.on_caller_never_acked(now, id);
                }
            }
        }
    }
}

/// A peer to send requests for `uri` to: its IP literal, over its `transport=` parameter or
/// `default`.
pub(crate) fn peer_for(uri: &Uri, default: Transport) -> Option<Peer> {
    let transport = match uri.transport().as_deref() {
        Some("tcp") => Transport::Tcp,
        Some("udp") => Transport::Udp,
        Some(_) => return None,
        None => default,
    };
    Some(Peer {
        addr: uri.socket_addr()?,
        transport,
    })
}

/// Where a request within a dialog goes: back into the tunnel flow its peer is behind (the
/// hub cannot reach an embassy's LAN, whatever its Contact says), else to the dialog's next
/// hop.
pub(crate) fn route(flow: Option<Peer>, next_hop: &Uri, default: Transport) -> Option<Peer> {
    flow.or_else(|| peer_for(next_hop, default))
}

/// A response with our To tag, if it has none yet.
pub(crate) fn tagged(mut response: Response, tag: &str) -> Response {
    if let Some(to) = response.headers.get("To")
        && let Ok(to) = NameAddr::parse(to)
        && to.tag().is_none()
    {
        response.headers.set("To", to.with_tag(tag).to_string());
    }
    response
}

#[cfg(test)]
mod tests;
