//! Media anchored at the hub (`media` crate): every call's audio flows through the relay, so
//! the hub can play the menu, read the caller's keys and record.
//!
//! A call to a queue first hears the menu as **early media**: the caller's INVITE stays
//! unanswered, a 183 Session Progress carries the hub's SDP, the prompt plays and the keys
//! arrive as RFC 4733 telephone-events. The menu's outcome becomes the ACD's
//! [`crate::acd::IvrResult`] and the caller joins the queue (`Engine::enqueue`). When an agent is offered the call, the agent's INVITE carries the
//! hub's SDP for the agent's leg; when the agent answers, the caller's 200 carries the same
//! hub SDP the 183 did, and the relay bridges the legs (recording them if the queue is in
//! `record_queues`). Calls straight to an agent skip the menu but are anchored the same way.
//!
//! A phone behind an embassy gateway is given the gateway's media service instead of the
//! hub's address, and its audio reaches the relay through the tunnel (`crate::tunnelled`).
//!
//! A body the relay cannot carry (no SDP, no G.711) passes through unchanged, as without
//! media: the call still connects, without menu or recording.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use media::{Codec, Leg, Media, MediaConfig, MediaEvent, Prompt};
use sip::sdp::Sdp;
use sip::{Peer, Request, Response};
use tokio::sync::mpsc;
use tracing::{debug, warn};

use crate::acd;
use crate::engine::{Engine, tagged};
use crate::origin::Gateway;
use crate::queueing::Held;
use crate::tunnelled::MediaRoutes;

/// `[telephony.media]`: the relay, which queues record, and whether queue callers hear the
/// menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaSettings {
    pub relay: MediaConfig,
    /// Queues whose calls are recorded (both legs, into `relay.recordings`).
    pub record_queues: Vec<String>,
    /// Queue callers hear the menu before joining the queue; without it they join at once
    /// (and still hear their queue's `message` while they wait).
    pub ivr: bool,
    /// The port of every embassy gateway's media service (RTP; RTCP on the next port): a
    /// phone behind a gateway sends its audio there. Without it such phones are given the
    /// hub's own address, which only works where they can reach it.
    pub gateway_rtp_port: Option<u16>,
}

impl MediaSettings {
    /// The relay with the menu on and no recording.
    pub fn new(relay: MediaConfig) -> MediaSettings {
        MediaSettings {
            relay,
            record_queues: Vec::new(),
            ivr: true,
            gateway_rtp_port: None,
        }
    }
}

/// One anchored call.
#[derive(Debug)]
struct Anchored {
    /// The caller's offer, rewritten for each leg.
    offer: Bytes,
    /// Payload types relayed: the caller's G.711 law and its telephone-event type.
    keep: Vec<u8>,
    /// The SDP the caller gets (183 and 200).
    caller_sdp: Bytes,
    /// The hub's addresses facing each leg's peer.
    caller_leg: SocketAddr,
    agent_leg: Option<SocketAddr>,
}

/// The engine's media state.
#[derive(Debug)]
pub(crate) struct Anchor {
    media: Media,
    record_queues: Vec<String>,
    ivr: bool,
    /// Each queue's message (by queue index), loaded once at start.
    messages: HashMap<usize, Prompt>,
    /// Anchored calls by call record id.
    calls: HashMap<u64, Anchored>,
    /// Callers in the menu: call record id → the queue they join after it.
    in_menu: HashMap<u64, usize>,
    /// Tunnelled phones' addresses → the relay ports they reach.
    routes: MediaRoutes,
    gateway_rtp_port: Option<u16>,
}

impl Anchor {
    pub(crate) fn new(
        media: Media,
        settings: &MediaSettings,
        messages: HashMap<usize, Prompt>,
    ) -> Anchor {
        Anchor {
            media,
            record_queues: settings.record_queues.clone(),
            ivr: settings.ivr,
            messages,
            calls: HashMap::new(),
            in_menu: HashMap::new(),
            routes: MediaRoutes::default(),
            gateway_rtp_port: settings.gateway_rtp_port,
        }
    }

    /// The gateway of a phone whose audio rides the tunnel: `gateway` when it names its
    /// listener and the gateways' media service is configured.
    fn tunnelled<'g>(&self, gateway: Option<&'g Gateway>) -> Option<&'g Gateway> {
        gateway.filter(|g| g.listener.is_some() && self.gateway_rtp_port.is_some())
    }

    /// The address a leg's peer is given in SDP for the relay's port `local`: that port, or
    /// for a tunnelled phone the gateway's media service on the phone's LAN.
    fn facing(&self, local: SocketAddr, gateway: Option<&Gateway>) -> SocketAddr {
        match (
            self.tunnelled(gateway).and_then(|g| g.listener),
            self.gateway_rtp_port,
        ) {
            (Some(listener), Some(port)) => SocketAddr::new(listener.ip(), port),
            _ => local,
        }
    }

    /// A leg's peer receives at `remote`: the relay sends there, or for a tunnelled phone
    /// the tunnel routes that phone's datagrams to the leg's port `local` and the relay
    /// answers whichever flow they come from.
    fn learn(
        &mut self,
        cdr: u64,
        leg: Leg,
        local: SocketAddr,
        gateway: Option<&Gateway>,
        remote: SocketAddr,
    ) {
        match self.tunnelled(gateway) {
            Some(gateway) => {
                let relay = self.media.relay_address(local);
                if self.routes.set(cdr, leg, &gateway.appliance, remote, relay) {
                    // A new phone on this leg (the first, a transfer's target, a re-offer,
                    // one reached directly before): latch on its flow afresh.
                    let _ = self.media.forget_remote(cdr, leg);
                }
            }
            None => {
                self.routes.clear_leg(cdr, leg);
                let _ = self.media.set_remote(cdr, leg, remote);
            }
        }
    }

    fn forget(&mut self, cdr: u64) {
        self.calls.remove(&cdr);
        self.in_menu.remove(&cdr);
        self.routes.remove_call(cdr);
    }
}

/// The next media event, or never without media.
pub(crate) async fn next_event(events: &mut Option<mpsc::Receiver<MediaEvent>>) -> MediaEvent {
    match events {
        Some(rx) => match rx.recv().await {
            Some(event) => event,
            None => std::future::pending().await,
        },
        None => std::future::pending().await,
    }
}

/// The menu's outcome as the ACD reads it.
fn for_acd(result: &media::IvrResult) -> acd::IvrResult {
    acd::IvrResult {
        language: Some(
            match result.language {
                media::Language::Ro => "ro",
                media::Language::En => "en",
            }
            .to_owned(),
        ),
        emergency: result.emergency,
        digits: result.digits.clone(),
    }
}

/// The codec, telephone-event type and RTP address of the first audio stream of `body`.
fn choose(body: &[u8]) -> Option<(Codec, Option<u8>, Option<SocketAddr>)> {
    let sdp = Sdp::parse(body).ok()?;
    let audio = sdp
        .media
        .iter()
        .find(|m| m.kind == "audio" && m.port != 0)?;
    let codec = audio
        .formats
        .iter()
        .find_map(|pt| Codec::from_payload_type(*pt))?;
    let telephone_event = audio
        .encodings
        .iter()
        .find(|(pt, name)| {
            name.eq_ignore_ascii_case("telephone-event") && audio.formats.contains(pt)
        })
        .map(|(pt, _)| *pt);
    let remote = audio
        .address
        .or(sdp.address)
        .filter(|ip| !ip.is_unspecified())
        .map(|ip| SocketAddr::new(ip, audio.port));
    Some((codec, telephone_event, remote))
}

fn set_sdp(headers: &mut sip::Headers, body: &mut Bytes, sdp: Bytes) {
    headers.set("Content-Type", "application/sdp");
    *body = sdp;
}

impl Engine {
    /// Opens the caller's leg of call record `cdr` from its offer; the hub's SDP for the
    /// caller, or `None` if the relay cannot carry the call. `flow` is the tunnel flow the
    /// caller is behind, if any.
    fn anchor_caller(&mut self, cdr: u64, invite: &Request, flow: Option<Peer>) -> Option<Bytes> {
        let gateway = flow.and_then(|f| self.origin_of(f));
        let anchor = self.anchor.as_mut()?;
        if let Some(call) = anchor.calls.get(&cdr) {
            return Some(call.caller_sdp.clone());
        }
        let Some((codec, telephone_event, remote)) = choose(&invite.body) else {
            debug!(cdr, "offer without G.711 audio; media not anchored");
            return None;
        };
        let tunnelled = anchor.tunnelled(gateway.as_ref()).is_some();
        let direct = remote.filter(|_| !tunnelled);
        let local = match anchor.media.open(cdr, codec, telephone_event, direct) {
            Ok(local) => local,
            Err(error) => {
                warn!(cdr, %error, "media not anchored");
                return None;
            }
        };
        let keep: Vec<u8> = [Some(codec.payload_type()), telephone_event]
            .into_iter()
            .flatten()
            .collect();
        if let (true, Some(remote)) = (tunnelled, remote) {
            anchor.learn(cdr, Leg::Caller, local, gateway.as_ref(), remote);
        }
        let facing = anchor.facing(local, gateway.as_ref());
        let Ok(sdp) = sip::sdp::anchor(&invite.body, facing.ip(), facing.port(), &keep) else {
            anchor.media.close(cdr);
            anchor.routes.remove_call(cdr);
            return None;
        };
        let caller_sdp = Bytes::from(sdp);
        anchor.calls.insert(
            cdr,
            Anchored {
                offer: invite.body.clone(),
                keep,
                caller_sdp: caller_sdp.clone(),
                caller_leg: local,
                agent_leg: None,
            },
        );
        Some(caller_sdp)
    }

    /// A caller for queue `queue` hears the menu first (early media), then joins the queue.
    /// Without media, or when the relay cannot carry the call, the caller joins at once.
    pub(crate) fn start_menu(&mut self, now: Instant, held: Held, queue: usize) {
        let (ivr, message) = match &self.anchor {
            Some(a) => (a.ivr, a.messages.contains_key(&queue)),
            None => (false, false),
        };
        // Early media only when there is something to hear: the menu or the queue message.
        if !ivr && !message {
            self.enqueue(now, held, queue, None);
            return;
        }
        let Some(sdp) = self.anchor_caller(held.cdr, &held.invite, held.flow) else {
            self.enqueue(now, held, queue, None);
            return;
        };
        let mut progress = tagged(held.invite.response(183), &held.caller_tag);
        progress
            .headers
            .push("Contact", format!("<{}>", self.contact(held.transport)));
        set_sdp(&mut progress.headers, &mut progress.body, sdp);
        let Some(anchor) = self.anchor.as_mut() else {
            return;
        };
        if !ivr || anchor.media.start_ivr(held.cdr).is_err() {
            self.respond(now, &held.key, progress);
            self.enqueue_with_message(now, held, queue, None);
            return;
        }
        anchor.in_menu.insert(held.cdr, queue);
        self.respond(now, &held.key, progress);
        debug!(cdr = held.cdr, "caller in the menu");
        self.held.insert(held.cdr, held);
    }

    /// Queues the caller; one left waiting (no agent took the call at once) hears the
    /// queue's message, repeated, until an agent answers.
    fn enqueue_with_message(
        &mut self,
        now: Instant,
        held: Held,
        queue: usize,
        ivr: Option<acd::IvrResult>,
    ) {
        let cdr = held.cdr;
        self.enqueue(now, held, queue, ivr);
        if !self.held.contains_key(&cdr) {
            return;
        }
        let Some(anchor) = self.anchor.as_mut() else {
            return;
        };
        if let Some(message) = anchor.messages.get(&queue).cloned()
            && anchor.calls.contains_key(&cdr)
        {
            debug!(cdr, "caller waits; playing the queue message");
            if let Err(error) = anchor.media.play_looped(cdr, message) {
                warn!(cdr, %error, "queue message not played");
            }
        }
    }

    /// The agent's INVITE for call record `cdr` offers the hub's agent leg instead of the
    /// caller's own address. `caller_flow` is the tunnel flow the caller is behind, `agent`
    /// the gateway the agent's phone is behind, if any.
    pub(crate) fn anchor_offer(
        &mut self,
        cdr: u64,
        caller_invite: &Request,
        caller_flow: Option<Peer>,
        agent: Option<&Gateway>,
        agent_invite: &mut Request,
    ) {
        if self.anchor.is_none()
            || self
                .anchor_caller(cdr, caller_invite, caller_flow)
                .is_none()
        {
            return;
        }
        let Some(anchor) = self.anchor.as_mut() else {
            return;
        };
        let Some(call) = anchor.calls.get_mut(&cdr) else {
            return;
        };
        let local = match call.agent_leg {
            Some(local) => local,
            None => match anchor.media.open_agent(cdr) {
                Ok(local) => {
                    call.agent_leg = Some(local);
                    local
                }
                Err(error) => {
                    warn!(cdr, %error, "agent leg not anchored");
                    return;
                }
            },
        };
        let offer = call.offer.clone();
        let keep = call.keep.clone();
        let facing = anchor.facing(local, agent);
        if let Ok(sdp) = sip::sdp::anchor(&offer, facing.ip(), facing.port(), &keep) {
            set_sdp(
                &mut agent_invite.headers,
                &mut agent_invite.body,
                Bytes::from(sdp),
            );
        }
    }

    /// A response of the agent's INVITE on its way to the caller: the agent's SDP tells the
    /// relay where the agent receives; the caller gets the hub's SDP; a 2xx bridges the legs.
    /// `agent_flow` is the tunnel flow the agent's phone is behind, if any.
    pub(crate) fn anchor_response(
        &mut self,
        cdr: u64,
        agent_flow: Option<Peer>,
        from_agent: &Response,
        relayed: &mut Response,
    ) {
        let queue = self.cdrs.get(cdr).and_then(|r| r.queue.clone());
        let gateway = agent_flow.and_then(|f| self.origin_of(f));
        let Some(anchor) = self.anchor.as_mut() else {
            return;
        };
        let Some(agent_leg) = anchor.calls.get(&cdr).map(|c| c.agent_leg) else {
            return;
        };
        if let (Some((_, _, Some(remote))), Some(local)) = (choose(&from_agent.body), agent_leg) {
            anchor.learn(cdr, Leg::Agent, local, gateway.as_ref(), remote);
        }
        let Some(call) = anchor.calls.get(&cdr) else {
            return;
        };
        if !relayed.body.is_empty() || from_agent.is_success() {
            set_sdp(
                &mut relayed.headers,
                &mut relayed.body,
                call.caller_sdp.clone(),
            );
        }
        if from_agent.is_success() {
            let record = queue.is_some_and(|q| anchor.record_queues.contains(&q));
            match anchor.media.bridge(cdr, record) {
                Ok(Some(recording)) => self.cdrs.recording(cdr, recording),
                Ok(None) => {}
                Err(error) => warn!(cdr, %error, "media not bridged"),
            }
        }
    }

    /// A session description crossing an answered call (a re-INVITE or UPDATE, or its
    /// answer) from `from`'s peer: the relay learns where that peer now receives, and the
    /// other leg's peer is given the hub's address facing it, so a hold, a resume or a
    /// phone that moved keeps its audio through the relay. `flows` are the tunnel flows
    /// `from`'s peer and the other leg's peer are behind, if any.
    pub(crate) fn anchor_mid_dialog(
        &mut self,
        cdr: u64,
        from: crate::cdr::Side,
        flows: (Option<Peer>, Option<Peer>),
        headers: &mut sip::Headers,
        body: &mut Bytes,
    ) {
        let from_gateway = flows.0.and_then(|f| self.origin_of(f));
        let other_gateway = flows.1.and_then(|f| self.origin_of(f));
        let Some(anchor) = self.anchor.as_mut() else {
            return;
        };
        let Some(call) = anchor.calls.get(&cdr) else {
            return;
        };
        if body.is_empty() {
            return;
        }
        let (leg, own, facing_other) = match from {
            crate::cdr::Side::Caller => (Leg::Caller, Some(call.caller_leg), call.agent_leg),
            crate::cdr::Side::Agent => (Leg::Agent, call.agent_leg, Some(call.caller_leg)),
        };
        let (Some(own), Some(local)) = (own, facing_other) else {
            return;
        };
        let keep = call.keep.clone();
        // On hold a phone may name no address (c=0.0.0.0): the relay keeps the one it has.
        if let Some((_, _, Some(remote))) = choose(body) {
            anchor.learn(cdr, leg, own, from_gateway.as_ref(), remote);
        }
        let facing = anchor.facing(local, other_gateway.as_ref());
        match sip::sdp::anchor(body, facing.ip(), facing.port(), &keep) {
            Ok(sdp) => set_sdp(headers, body, Bytes::from(sdp)),
            Err(_) => warn!(
                cdr,
                "mid-call SDP without the call's codec; relayed unchanged"
            ),
        }
    }

    /// The relay sends the agent leg's audio to the address in `answer` from now on (a
    /// transfer's target, behind the tunnel flow `flow` if any).
    pub(crate) fn anchor_new_agent(&mut self, cdr: u64, flow: Option<Peer>, answer: &[u8]) {
        let gateway = flow.and_then(|f| self.origin_of(f));
        let Some(anchor) = self.anchor.as_mut() else {
            return;
        };
        let Some(local) = anchor.calls.get(&cdr).and_then(|c| c.agent_leg) else {
            return;
        };
        if let Some((_, _, Some(remote))) = choose(answer) {
            anchor.learn(cdr, Leg::Agent, local, gateway.as_ref(), remote);
        }
    }

    /// Whether call record `cdr`'s media goes through the relay.
    pub(crate) fn is_anchored(&self, cdr: u64) -> bool {
        self.anchor
            .as_ref()
            .is_some_and(|a| a.calls.get(&cdr).is_some_and(|c| c.agent_leg.is_some()))
    }

    /// What the relay reports: a finished menu sends the caller to its queue.
    pub fn on_media_event(&mut self, now: Instant, event: MediaEvent) {
        let Some(anchor) = self.anchor.as_mut() else {
            return;
        };
        match event {
            MediaEvent::Ivr { call, result } => {
                let Some(queue) = anchor.in_menu.remove(&call) else {
                    return;
                };
                debug!(cdr = call, ?result, "menu done");
                // A caller who hung up during the menu is no longer held.
                if let Some(held) = self.held.remove(&call) {
                    self.enqueue_with_message(now, held, queue, Some(for_acd(&result)));
                }
            }
            MediaEvent::Idle { call } => {
                debug!(cdr = call, "media idle; relay closed");
                anchor.forget(call);
            }
        }
    }

    /// Closes the media of calls whose record has ended (run with the housekeeping).
    pub(crate) fn anchor_housekeeping(&mut self) {
        let Some(anchor) = self.anchor.as_mut() else {
            return;
        };
        let cdrs = &self.cdrs;
        let ended: Vec<u64> = anchor
            .calls
            .keys()
            .copied()
            .filter(|cdr| cdrs.get(*cdr).is_none_or(|r| r.ended_ms.is_some()))
            .collect();
        for cdr in ended {
            anchor.media.close(cdr);
            anchor.forget(cdr);
        }
    }

    /// Where tunnelled phones' audio goes (empty without media).
    pub fn media_routes(&self) -> MediaRoutes {
        self.anchor
            .as_ref()
            .map(|a| a.routes.clone())
            .unwrap_or_default()
    }

    /// The relay's counters, if media is anchored.
    pub fn media_stats(&self) -> Option<media::StatsSnapshot> {
        self.anchor.as_ref().map(|a| a.media.stats())
    }
}
