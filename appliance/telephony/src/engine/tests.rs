//! The engine under simulated time: a scripted trunk and agent phone exchange messages with
//! it directly, with chosen messages dropped.

use std::time::{Duration, Instant, SystemTime};

use rand::SeedableRng as _;
use rand::rngs::StdRng;
use sip::digest::{Algorithm, Challenge, Credentials, ha1};
use sip::parse::{Limits, parse_datagram};
use sip::{Message, Peer, Request, Response, Transport};

use super::*;
use crate::cdr::{Outcome, Side};

const BRIDGE: &str = "10.0.0.1:5060";
const TRUNK: &str = "10.0.0.2:5060";
const PHONE: &str = "10.0.0.3:5062";

fn udp(addr: &str) -> Peer {
    Peer {
        addr: addr.parse().expect("addr"),
        transport: Transport::Udp,
    }
}

struct Lab {
    engine: Engine,
    now: Instant,
}

impl Lab {
    fn new() -> Lab {
        let accounts = vec![Account {
            username: "agent1".into(),
            ha1_md5: ha1(Algorithm::Md5, "agent1", "test", "pw"),
            ha1_sha256: None,
            extension: Some("101".into()),
            staff: None,
        }];
        let now = Instant::now();
        let cfg = EngineConfig::new(BRIDGE.parse().expect("addr"), "test", accounts);
        Lab {
            engine: Engine::with_rng(cfg, now, SystemTime::now(), StdRng::seed_from_u64(7)),
            now,
        }
    }

    fn send(&mut self, from: &str, text: &str) {
        let text = text.replace('\n', "\r\n");
        self.engine.handle(self.now, text.as_bytes(), udp(from));
    }

    fn send_message(&mut self, from: &str, message: &Message) {
        self.engine.handle(self.now, &message.to_bytes(), udp(from));
    }

    /// Everything the engine sent, parsed, with its destination.
    fn sent(&mut self) -> Vec<(String, Message)> {
        std::iter::from_fn(|| self.engine.poll_transmit())
            .map(|t| {
                let m = parse_datagram(&t.bytes, &Limits::default()).expect("we send valid SIP");
                (t.to.addr.to_string(), m)
            })
            .collect()
    }

    fn advance(&mut self, by: Duration) {
        let end = self.now + by;
        while let Some(at) = self.engine.poll_timeout() {
            if at > end {
                break;
            }
            self.now = at;
            self.engine.handle_timeout(at);
        }
        self.now = end;
    }

    fn register(&mut self) {
        let register = |auth: &str| {
            format!(
                "REGISTER sip:10.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP {PHONE};branch=z9hG4bKreg{}\n\
From: <sip:agent1@10.0.0.1>;tag=r\nTo: <sip:agent1@10.0.0.1>\nCall-ID: reg\n\
CSeq: {} REGISTER\nContact: <sip:agent1@{PHONE}>\nExpires: 600\n{auth}Content-Length: 0\n\n",
                auth.len(),
                if auth.is_empty() { 1 } else { 2 }
            )
        };
        self.send(PHONE, &register(""));
        let challenge = response(&self.sent(), 401);
        let value = challenge
            .headers
            .get("WWW-Authenticate")
            .expect("challenge");
        let nonce = value
            .split("nonce=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("nonce");
        let answer = Credentials::answer(
            &Challenge {
                realm: "test".into(),
                nonce: nonce.into(),
                opaque: None,
                algorithm: Algorithm::Md5,
                stale: false,
            },
            "agent1",
            "pw",
            "REGISTER",
            "sip:10.0.0.1",
            "c",
            1,
        );
        self.send(PHONE, &register(&format!("Authorization: {answer}\n")));
        response(&self.sent(), 200);
    }
}

impl Lab {
    /// The trunk's call answered by the agent and ACKed: the agent's INVITE, and what the
    /// trunk's ACK made the bridge send.
    fn answered_call(&mut self) -> (Request, Vec<(String, Message)>) {
        self.send(TRUNK, INVITE);
        let (_, invite) = request(&self.sent(), Method::Invite);
        self.send_message(PHONE, &answer(&invite, 200));
        let ok = response(&self.sent(), 200);
        self.send(TRUNK, &trunk_ack(&ok));
        let sent = self.sent();
        (invite, sent)
    }
}

fn response(sent: &[(String, Message)], code: u16) -> Response {
    sent.iter()
        .find_map(|(_, m)| match m {
            Message::Response(r) if r.code == code => Some(r.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no {code} in {sent:#?}"))
}

fn request(sent: &[(String, Message)], method: Method) -> (String, Request) {
    sent.iter()
        .find_map(|(to, m)| match m {
            Message::Request(r) if r.method == method => Some((to.clone(), r.clone())),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no {method} in {sent:#?}"))
}

const INVITE: &str = "INVITE sip:101@10.0.0.1 SIP/2.0\n\
Via: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bKinv1\n\
From: \"Citizen\" <sip:+40722000000@10.0.0.2>;tag=c1\n\
To: <sip:101@10.0.0.1>\n\
Call-ID: trunk-call-1\n\
CSeq: 1 INVITE\n\
Contact: <sip:trunk@10.0.0.2:5060>\n\
Max-Forwards: 70\n\
Content-Type: application/sdp\n\
Content-Length: 4\n\nv=0\n";

/// The phone's answer to the bridge's INVITE.
fn answer(invite: &Request, code: u16) -> Message {
    let mut r = invite.response(code);
    let to = r.headers.get("To").expect("To").to_owned();
    r.headers.set("To", format!("{to};tag=phone"));
    r.headers.push("Contact", format!("<sip:agent1@{PHONE}>"));
    Message::Response(r)
}

fn trunk_ack(ok: &Response) -> String {
    format!(
        "ACK sip:bridge@10.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bKack1\n\
From: \"Citizen\" <sip:+40722000000@10.0.0.2>;tag=c1\nTo: {}\nCall-ID: trunk-call-1\n\
CSeq: 1 ACK\nContent-Length: 0\n\n",
        ok.headers.get("To").expect("To")
    )
}

fn trunk_bye(ok: &Response) -> String {
    format!(
        "BYE sip:bridge@10.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bKbye1\n\
From: \"Citizen\" <sip:+40722000000@10.0.0.2>;tag=c1\nTo: {}\nCall-ID: trunk-call-1\n\
CSeq: 2 BYE\nContent-Length: 0\n\n",
        ok.headers.get("To").expect("To")
    )
}

#[test]
fn a_call_crosses_the_bridge_and_is_recorded() {
    let mut lab = Lab::new();
    lab.register();
    lab.send(TRUNK, INVITE);
    let sent = lab.sent();
    assert_eq!(response(&sent, 100).code, 100);
    let (to, invite) = request(&sent, Method::Invite);
    assert_eq!(to, PHONE);
    assert_eq!(&invite.body[..], b"v=0\r");
    let e = invite.essentials().expect("valid");
    assert_ne!(e.call_id, "trunk-call-1", "each leg has its own Call-ID");
    assert_eq!(
        e.from.uri.user.as_deref(),
        Some("+40722000000"),
        "caller id kept"
    );
    assert_eq!(invite.headers.get("Max-Forwards"), Some("69"));

    lab.send_message(PHONE, &answer(&invite, 180));
    assert_eq!(response(&lab.sent(), 180).code, 180);
    lab.send_message(PHONE, &answer(&invite, 200));
    let ok = response(&lab.sent(), 200);
    assert_eq!(ok.headers.get("Call-ID"), Some("trunk-call-1"));
    lab.send(TRUNK, &trunk_ack(&ok));
    let (to, ack) = request(&lab.sent(), Method::Ack);
    assert_eq!(
        (to.as_str(), ack.headers.get("CSeq")),
        (PHONE, Some("1 ACK"))
    );

    lab.send(TRUNK, &trunk_bye(&ok));
    let sent = lab.sent();
    assert_eq!(response(&sent, 200).headers.get("CSeq"), Some("2 BYE"));
    let (to, bye) = request(&sent, Method::Bye);
    assert_eq!(to, PHONE);
    lab.send_message(PHONE, &Message::Response(bye.response(200)));
    let records = lab.engine.call_records();
    assert_eq!(records[0].outcome, Outcome::Completed);
    assert_eq!(records[0].ended_by, Some(Side::Caller));
    assert_eq!(records[0].agent.as_deref(), Some("agent1"));
    assert_eq!(lab.engine.active_calls(), 0);
    // Every transaction finishes within Timer J/K/D/M.
    lab.advance(Duration::from_secs(40));
    assert_eq!(lab.engine.transactions(), 0);
}

/// The phone's 180 and first 200 are lost; the 200 comes again after the bridge resent its
/// INVITE; the trunk's ACK is lost and its BYE overtakes it. The phone must still get an ACK
/// and a BYE, and the trunk must stop getting the 2xx.
#[test]
fn lost_provisional_and_ack_still_end_both_legs() {
    let mut lab = Lab::new();
    lab.register();
    lab.send(TRUNK, INVITE);
    let (_, invite) = request(&lab.sent(), Method::Invite);
    lab.advance(Duration::from_millis(500));
    let (_, again) = request(&lab.sent(), Method::Invite);
    assert_eq!(again, invite, "Timer A resends the INVITE");
    lab.send_message(PHONE, &answer(&invite, 200));
    let ok = response(&lab.sent(), 200);
    // The trunk's ACK is lost; its BYE arrives.
    lab.send(TRUNK, &trunk_bye(&ok));
    let sent = lab.sent();
    let (_, ack) = request(&sent, Method::Ack);
    let (_, bye) = request(&sent, Method::Bye);
    assert_eq!(ack.headers.get("Call-ID"), bye.headers.get("Call-ID"));
    let position = |m: Method| {
        sent.iter()
            .position(|(_, s)| matches!(s, Message::Request(r) if r.method == m))
    };
    assert!(
        position(Method::Ack) < position(Method::Bye),
        "ACK before BYE"
    );
    lab.advance(Duration::from_secs(5));
    assert!(
        !lab.sent()
            .iter()
            .any(|(to, m)| to == TRUNK && matches!(m, Message::Response(r) if r.code == 200)),
        "the BYE stood in for the lost ACK"
    );
}

#[test]
fn cancel_before_any_provisional_waits_for_one() {
    let mut lab = Lab::new();
    lab.register();
    lab.send(TRUNK, INVITE);
    let (_, invite) = request(&lab.sent(), Method::Invite);
    let cancel = INVITE
        .replace("INVITE sip:101", "CANCEL sip:101")
        .replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL")
        .replace("Content-Type: application/sdp\n", "")
        .replace("Content-Length: 4\n\nv=0\n", "Content-Length: 0\n\n");
    lab.send(TRUNK, &cancel);
    let sent = lab.sent();
    assert!(
        sent.iter()
            .any(|(_, m)| matches!(m, Message::Response(r) if r.code == 200))
    );
    assert_eq!(response(&sent, 487).headers.get("CSeq"), Some("1 INVITE"));
    assert!(
        !sent
            .iter()
            .any(|(_, m)| matches!(m, Message::Request(r) if r.method == Method::Cancel))
    );
    // The phone rings: now the CANCEL goes.
    lab.send_message(PHONE, &answer(&invite, 180));
    let (_, cancel) = request(&lab.sent(), Method::Cancel);
    assert_eq!(cancel.headers.get("Via"), invite.headers.get("Via"));
    // It answered anyway: ACK and BYE.
    lab.send_message(PHONE, &answer(&invite, 200));
    let sent = lab.sent();
    request(&sent, Method::Ack);
    request(&sent, Method::Bye);
    assert_eq!(lab.engine.call_records()[0].outcome, Outcome::Cancelled);
}

#[test]
fn ring_timeout_gives_480_and_cancels_the_phone() {
    let mut lab = Lab::new();
    lab.register();
    lab.send(TRUNK, INVITE);
    let (_, invite) = request(&lab.sent(), Method::Invite);
    lab.send_message(PHONE, &answer(&invite, 180));
    lab.sent();
    lab.advance(Duration::from_secs(61));
    let sent = lab.sent();
    assert_eq!(response(&sent, 480).headers.get("CSeq"), Some("1 INVITE"));
    request(&sent, Method::Cancel);
    assert_eq!(lab.engine.call_records()[0].outcome, Outcome::NoAnswer);
}

#[test]
fn reinvite_from_the_agent_is_relayed_and_acked_across() {
    let mut lab = Lab::new();
    lab.register();
    let (invite, _) = lab.answered_call();
    // The phone puts the caller on hold: a re-INVITE on the agent's leg.
    let leg = invite.essentials().expect("valid");
    let reinvite = format!(
        "INVITE sip:bridge@10.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP {PHONE};branch=z9hG4bKre1\n\
From: <sip:agent1@10.0.0.1>;tag=phone\nTo: {}\nCall-ID: {}\nCSeq: 7 INVITE\n\
Contact: <sip:agent1@{PHONE}>\nContent-Type: application/sdp\nContent-Length: 6\n\na=hold",
        invite.headers.get("From").expect("From"),
        leg.call_id
    );
    lab.send(PHONE, &reinvite);
    let (to, relayed) = request(&lab.sent(), Method::Invite);
    assert_eq!(to, "10.0.0.2:5060");
    assert_eq!(relayed.headers.get("Call-ID"), Some("trunk-call-1"));
    assert_eq!(
        relayed.headers.get("CSeq"),
        Some("1 INVITE"),
        "our own CSeq on the caller's leg"
    );
    assert_eq!(&relayed.body[..], b"a=hold");
    let mut trunk_ok = relayed.response(200);
    trunk_ok
        .headers
        .push("Contact", "<sip:trunk@10.0.0.2:5060>");
    lab.send_message(TRUNK, &Message::Response(trunk_ok));
    let back = response(&lab.sent(), 200);
    assert_eq!(back.headers.get("CSeq"), Some("7 INVITE"));
    let ack = format!(
        "ACK sip:bridge@10.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP {PHONE};branch=z9hG4bKreack\n\
From: <sip:agent1@10.0.0.1>;tag=phone\nTo: {}\nCall-ID: {}\nCSeq: 7 ACK\nContent-Length: 0\n\n",
        invite.headers.get("From").expect("From"),
        leg.call_id
    );
    lab.send(PHONE, &ack);
    let (to, ack) = request(&lab.sent(), Method::Ack);
    assert_eq!(
        (to.as_str(), ack.headers.get("CSeq")),
        ("10.0.0.2:5060", Some("1 ACK"))
    );
}

#[test]
fn requests_nobody_can_take() {
    let mut lab = Lab::new();
    lab.send(TRUNK, INVITE);
    assert!(
        response(&lab.sent(), 480)
            .headers
            .get("To")
            .expect("To")
            .contains("tag=")
    );
    assert_eq!(lab.engine.call_records()[0].outcome, Outcome::NoAgent);
    let bye = trunk_bye(&Response {
        code: 200,
        reason: "OK".into(),
        headers: {
            let mut h = sip::Headers::new();
            h.push("To", "<sip:101@10.0.0.1>;tag=gone");
            h
        },
        body: bytes::Bytes::new(),
    });
    lab.send(TRUNK, &bye);
    response(&lab.sent(), 481);
}

#[test]
fn a_phone_that_ignores_the_cancel_is_given_up() {
    let mut lab = Lab::new();
    lab.register();
    lab.send(TRUNK, INVITE);
    let (_, invite) = request(&lab.sent(), Method::Invite);
    lab.send_message(PHONE, &answer(&invite, 180));
    lab.sent();
    lab.advance(Duration::from_secs(61));
    request(&lab.sent(), Method::Cancel);
    assert_eq!(lab.engine.active_calls(), 1);
    // No 200 to the CANCEL, no 487: after 64*T1 the call and its transactions are gone.
    lab.advance(Duration::from_secs(40));
    assert_eq!(lab.engine.active_calls(), 0);
    lab.advance(Duration::from_secs(40));
    assert_eq!(lab.engine.transactions(), 0);
}

mod bounds;

#[test]
fn phones_behind_a_gateway_are_kept_reachable_with_options() {
    // The phone registers from 10.0.0.3:5062, which the hub says is a tunnel flow.
    let mut lab = Lab::new();
    lab.engine.cfg.origins = Some(crate::Origins::new(|source| {
        (source.to_string() == PHONE).then(|| crate::Gateway {
            appliance: "ro-emb-paris/PAR-01".into(),
            listener: Some("192.168.1.1:5060".parse().expect("addr")),
        })
    }));
    lab.register();
    lab.advance(Duration::from_secs(29));
    assert!(lab.sent().is_empty(), "nothing before the first round");
    lab.advance(Duration::from_secs(2));
    let (to, options) = request(&lab.sent(), Method::Options);
    assert_eq!(to, PHONE, "the keep-alive goes into the phone's flow");
    assert_eq!(options.uri.to_string(), format!("sip:agent1@{PHONE}"));
    // The phone answers; the next round comes 30 s later, and only then.
    lab.send_message(PHONE, &answer(&options, 200));
    lab.advance(Duration::from_secs(28));
    assert!(
        lab.sent()
            .iter()
            .all(|(_, m)| !matches!(m, Message::Request(r) if r.method == Method::Options)),
        "no second round early"
    );
    lab.advance(Duration::from_secs(2));
    request(&lab.sent(), Method::Options);
}

#[test]
fn phones_the_hub_reaches_directly_get_no_keep_alives() {
    let mut lab = Lab::new();
    lab.register();
    lab.advance(Duration::from_secs(65));
    assert!(
        lab.sent()
            .iter()
            .all(|(_, m)| !matches!(m, Message::Request(r) if r.method == Method::Options)),
        "a phone on the hub's network needs none"
    );
}

#[test]
fn with_trunks_set_a_stranger_cannot_call() {
    let mut lab = Lab::new();
    lab.engine.cfg.trunks = Some(vec!["10.0.0.2/32".parse().expect("net")]);
    lab.register();

    // Someone who found the SIP port: refused before anything rings.
    let stranger = INVITE
        .replace(
            "10.0.0.2:5060;branch=z9hG4bKinv1",
            "198.51.100.7:5060;branch=z9hG4bKx1",
        )
        .replace("trunk-call-1", "stranger-1");
    lab.send("198.51.100.7:5060", &stranger);
    let sent = lab.sent();
    assert_eq!(response(&sent, 403).code, 403);
    assert!(
        sent.iter().all(|(to, _)| to != PHONE),
        "the agent's phone never rang: {sent:#?}"
    );
    assert_eq!(lab.engine.stats.refused_calls, 1);
    assert!(
        lab.engine.call_records().is_empty(),
        "no record kept for it"
    );

    // The trunk's call rings the agent.
    lab.send(TRUNK, INVITE);
    let (to, _) = request(&lab.sent(), Method::Invite);
    assert_eq!(to, PHONE);

    // The registered phone may call too (here: a queue that does not exist, so 480 — but
    // not 403).
    let from_phone = INVITE
        .replace(
            "10.0.0.2:5060;branch=z9hG4bKinv1",
            "10.0.0.3:5062;branch=z9hG4bKp1",
        )
        .replace("trunk-call-1", "phone-call-1")
        .replace("INVITE sip:101@", "INVITE sip:999@");
    lab.send(PHONE, &from_phone);
    assert!(
        lab.sent()
            .iter()
            .all(|(_, m)| !matches!(m, Message::Response(r) if r.code == 403)),
        "a registered phone is not a stranger"
    );
    assert_eq!(lab.engine.stats.refused_calls, 1);
}

#[test]
fn stopping_hangs_up_and_turns_new_calls_away() {
    let mut lab = Lab::new();
    lab.register();
    lab.answered_call();

    assert_eq!(lab.engine.hang_up_all(lab.now), 1);
    let sent = lab.sent();
    let byes: Vec<&String> = sent
        .iter()
        .filter(|(_, m)| matches!(m, Message::Request(r) if r.method == Method::Bye))
        .map(|(to, _)| to)
        .collect();
    assert_eq!(byes.len(), 2, "a BYE to each phone: {sent:#?}");
    assert!(byes.contains(&&TRUNK.to_owned()) && byes.contains(&&PHONE.to_owned()));
    assert_eq!(lab.engine.cleanups_in_flight(), 2);
    assert_eq!(
        lab.engine.call_records()[0].outcome,
        Outcome::Shutdown,
        "the record says why it ended"
    );

    let again = INVITE
        .replace("z9hG4bKinv1", "z9hG4bKinv2")
        .replace("trunk-call-1", "trunk-call-2");
    lab.send(TRUNK, &again);
    let busy = response(&lab.sent(), 503);
    assert_eq!(busy.headers.get("Retry-After"), Some("30"));
}
