//! The four state machines under simulated time and loss. Times are offsets from a start
//! instant; nothing sleeps.

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};

use super::*;
use crate::message::{Message, Method, Request};
use crate::parse::{Limits, parse_datagram};

const CLIENT: &str = "192.0.2.1:5060";
const SERVER: &str = "192.0.2.2:5060";

fn peer(addr: &str, transport: Transport) -> Peer {
    Peer {
        addr: addr.parse().expect("addr"),
        transport,
    }
}

fn request(method: &str, branch: &str, transport: Transport) -> Request {
    let text = format!(
        "{method} sip:agent@192.0.2.2 SIP/2.0\r\n\
Via: SIP/2.0/{t} 192.0.2.1:5060;branch={branch}\r\n\
Max-Forwards: 70\r\n\
From: <sip:trunk@192.0.2.1>;tag=from1\r\n\
To: <sip:agent@192.0.2.2>\r\n\
Call-ID: call-{branch}\r\n\
CSeq: 1 {method}\r\n\
Contact: <sip:trunk@192.0.2.1:5060>\r\n\r\n",
        t = transport.via_name()
    );
    match parse_datagram(text.as_bytes(), &Limits::default()) {
        Ok(Message::Request(r)) => r,
        other => panic!("{other:?}"),
    }
}

fn layer() -> Transactions {
    Transactions::new(Timers::default(), Limits::default(), 1000)
}

fn drain(t: &mut Transactions) -> Vec<Output> {
    std::iter::from_fn(|| t.poll_output()).collect()
}

/// Runs timers until `end`, returning each output with the offset it happened at.
fn run_until(t: &mut Transactions, start: Instant, end: Duration) -> Vec<(Duration, Output)> {
    let mut seen = Vec::new();
    while let Some(at) = t.poll_timeout() {
        if at > start + end {
            break;
        }
        t.handle_timeout(at);
        for out in drain(t) {
            seen.push((at - start, out));
        }
    }
    seen
}

fn transmit_times(outputs: &[(Duration, Output)]) -> Vec<u64> {
    outputs
        .iter()
        .filter(|(_, o)| matches!(o, Output::Transmit { .. }))
        .map(|(at, _)| at.as_millis() as u64)
        .collect()
}

fn response_to(request: &Request, code: u16, to_tag: &str) -> Response {
    let mut r = request.response(code);
    let to = r.headers.get("To").expect("To").to_owned();
    r.headers.set("To", format!("{to};tag={to_tag}"));
    r
}

fn message(o: &Output) -> Message {
    match o {
        Output::Transmit { bytes, .. } => parse_datagram(bytes, &Limits::default()).expect("ours"),
        other => panic!("not a transmit: {other:?}"),
    }
}

#[test]
fn client_invite_over_udp_retransmits_at_doubling_intervals_until_timer_b() {
    let start = Instant::now();
    let mut t = layer();
    t.send_request(
        start,
        request("INVITE", "z9hG4bKa", Transport::Udp),
        peer(SERVER, Transport::Udp),
    )
    .expect("sent");
    assert_eq!(drain(&mut t).len(), 1);
    let seen = run_until(&mut t, start, Duration::from_secs(40));
    // Timer A: T1, 2T1, 4T1, … (no cap for INVITE); Timer B at 64*T1 = 32 s.
    assert_eq!(transmit_times(&seen), [500, 1500, 3500, 7500, 15500, 31500]);
    let timeout = seen
        .iter()
        .find(|(_, o)| {
            matches!(
                o,
                Output::Timeout {
                    reason: TimeoutReason::NoResponse,
                    ..
                }
            )
        })
        .expect("Timer B");
    assert_eq!(timeout.0, Duration::from_secs(32));
    assert!(t.is_empty());
}

#[test]
fn client_invite_over_tcp_never_retransmits() {
    let start = Instant::now();
    let mut t = layer();
    t.send_request(
        start,
        request("INVITE", "z9hG4bKb", Transport::Tcp),
        peer(SERVER, Transport::Tcp),
    )
    .expect("sent");
    drain(&mut t);
    let seen = run_until(&mut t, start, Duration::from_secs(40));
    assert!(transmit_times(&seen).is_empty());
    assert!(
        seen.iter()
            .any(|(at, o)| *at == Duration::from_secs(32) && matches!(o, Output::Timeout { .. }))
    );
}

#[test]
fn client_invite_provisional_stops_retransmission_and_non_2xx_is_acked_once_per_copy() {
    let start = Instant::now();
    let mut t = layer();
    let invite = request("INVITE", "z9hG4bKc", Transport::Udp);
    let key = t
        .send_request(start, invite.clone(), peer(SERVER, Transport::Udp))
        .expect("sent");
    drain(&mut t);
    let server = peer(SERVER, Transport::Udp);
    t.receive_message(
        start + Duration::from_millis(100),
        Message::Response(response_to(&invite, 180, "b")),
        server,
    );
    assert!(
        matches!(&drain(&mut t)[..], [Output::Response { response, .. }] if response.code == 180)
    );
    // No Timer A after the 180, and no Timer B either.
    assert!(transmit_times(&run_until(&mut t, start, Duration::from_secs(10))).is_empty());
    let busy = response_to(&invite, 486, "b");
    let at = start + Duration::from_secs(10);
    t.receive_message(at, Message::Response(busy.clone()), server);
    let out = drain(&mut t);
    let ack = out
        .iter()
        .find(|o| matches!(o, Output::Transmit { .. }))
        .expect("ACK");
    let Message::Request(ack) = message(ack) else {
        panic!("request")
    };
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(ack.essentials().expect("ok").via.branch(), Some("z9hG4bKc"));
    assert_eq!(ack.essentials().expect("ok").to.tag(), Some("b"));
    assert!(
        out.iter()
            .any(|o| matches!(o, Output::Response { response, .. } if response.code == 486))
    );
    // The 486 again (our ACK was lost): ACK again, nothing for the TU.
    t.receive_message(at + Duration::from_secs(1), Message::Response(busy), server);
    let out = drain(&mut t);
    assert_eq!(out.len(), 1);
    assert!(matches!(out[0], Output::Transmit { .. }));
    // Timer D (32 s over UDP) then the transaction is gone.
    let seen = run_until(&mut t, at, Duration::from_secs(33));
    assert!(
        seen.iter()
            .any(|(_, o)| o == &Output::Terminated { key: key.clone() })
    );
    assert!(t.is_empty());
}

#[test]
fn client_invite_2xx_retransmissions_reach_the_tu_until_timer_m() {
    let start = Instant::now();
    let mut t = layer();
    let invite = request("INVITE", "z9hG4bKd", Transport::Udp);
    t.send_request(start, invite.clone(), peer(SERVER, Transport::Udp))
        .expect("sent");
    drain(&mut t);
    let ok = Message::Response(response_to(&invite, 200, "b"));
    for i in 0..3 {
        t.receive_message(
            start + Duration::from_millis(100 * i),
            ok.clone(),
            peer(SERVER, Transport::Udp),
        );
        assert!(
            matches!(&drain(&mut t)[..], [Output::Response { response, .. }] if response.code == 200)
        );
    }
    let seen = run_until(&mut t, start, Duration::from_secs(40));
    assert!(
        transmit_times(&seen).is_empty(),
        "the 2xx is ACKed by the TU, not the transaction"
    );
    assert!(t.is_empty());
    // After Timer M a 2xx is stray: the TU may still re-ACK it.
    t.receive_message(
        start + Duration::from_secs(41),
        ok,
        peer(SERVER, Transport::Udp),
    );
    assert!(matches!(&drain(&mut t)[..], [Output::StrayResponse { .. }]));
}

#[test]
fn client_non_invite_caps_at_t2_and_timer_k_absorbs_duplicates() {
    let start = Instant::now();
    let mut t = layer();
    let options = request("OPTIONS", "z9hG4bKe", Transport::Udp);
    t.send_request(start, options.clone(), peer(SERVER, Transport::Udp))
        .expect("sent");
    drain(&mut t);
    let seen = run_until(&mut t, start, Duration::from_secs(40));
    assert_eq!(
        transmit_times(&seen),
        [
            500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500
        ]
    );
    assert!(seen.iter().any(|(at, o)| *at == Duration::from_secs(32)
        && matches!(
            o,
            Output::Timeout {
                reason: TimeoutReason::NoResponse,
                ..
            }
        )));

    // Answered this time; the duplicates of the 200 are absorbed for T4.
    let mut t = layer();
    t.send_request(start, options.clone(), peer(SERVER, Transport::Udp))
        .expect("sent");
    drain(&mut t);
    let ok = Message::Response(response_to(&options, 200, "x"));
    t.receive_message(start, ok.clone(), peer(SERVER, Transport::Udp));
    assert_eq!(drain(&mut t).len(), 1);
    t.receive_message(
        start + Duration::from_secs(1),
        ok.clone(),
        peer(SERVER, Transport::Udp),
    );
    assert!(drain(&mut t).is_empty());
    let seen = run_until(&mut t, start, Duration::from_secs(6));
    assert!(transmit_times(&seen).is_empty());
    assert!(
        seen.iter()
            .any(|(at, o)| *at == Duration::from_secs(5) && matches!(o, Output::Terminated { .. }))
    );
}

#[test]
fn client_non_invite_after_provisional_retransmits_every_t2() {
    let start = Instant::now();
    let mut t = layer();
    let register = request("REGISTER", "z9hG4bKf", Transport::Udp);
    t.send_request(start, register.clone(), peer(SERVER, Transport::Udp))
        .expect("sent");
    drain(&mut t);
    t.receive_message(
        start + Duration::from_millis(10),
        Message::Response(register.response(100)),
        peer(SERVER, Transport::Udp),
    );
    drain(&mut t);
    let seen = run_until(&mut t, start, Duration::from_secs(12));
    // The first Timer E was armed at T1 before the 100; from then on every T2.
    assert_eq!(transmit_times(&seen), [500, 4500, 8500]);
}

#[test]
fn server_non_invite_retransmits_its_response_and_timer_j_absorbs() {
    let start = Instant::now();
    let mut t = layer();
    let options = request("OPTIONS", "z9hG4bKg", Transport::Udp);
    let from = peer(CLIENT, Transport::Udp);
    t.receive_message(start, Message::Request(options.clone()), from);
    let key = match &drain(&mut t)[..] {
        [Output::Request { key, .. }] => key.clone(),
        other => panic!("{other:?}"),
    };
    // A retransmission before the TU answered is absorbed silently.
    t.receive_message(start, Message::Request(options.clone()), from);
    assert!(drain(&mut t).is_empty());
    t.respond(start, &key, options.response(200))
        .expect("respond");
    assert_eq!(drain(&mut t).len(), 1);
    assert!(t.respond(start, &key, options.response(500)).is_err());
    t.receive_message(
        start + Duration::from_secs(2),
        Message::Request(options.clone()),
        from,
    );
    let out = drain(&mut t);
    assert!(matches!(&out[..], [Output::Transmit { to, .. }] if *to == from));
    let seen = run_until(&mut t, start, Duration::from_secs(33));
    assert!(seen.iter().any(|(at, o)| *at == Duration::from_secs(32)
        && matches!(o, Output::Terminated { .. })));
    // Once Timer J has fired, the same request is a new transaction for the TU.
    t.receive_message(
        start + Duration::from_secs(33),
        Message::Request(options),
        from,
    );
    assert!(matches!(&drain(&mut t)[..], [Output::Request { .. }]));
}

#[test]
fn server_invite_non_2xx_retransmits_until_ack_then_timer_i_absorbs_acks() {
    let start = Instant::now();
    let mut t = layer();
    let invite = request("INVITE", "z9hG4bKh", Transport::Udp);
    let from = peer(CLIENT, Transport::Udp);
    t.receive_message(start, Message::Request(invite.clone()), from);
    let out = drain(&mut t);
    // 100 Trying at once, and the request for the TU.
    assert!(matches!(message(&out[0]), Message::Response(r) if r.code == 100));
    let Output::Request { key, .. } = &out[1] else {
        panic!("{out:?}")
    };
    let key = key.clone();
    // INVITE retransmitted: the 100 again.
    t.receive_message(start, Message::Request(invite.clone()), from);
    assert_eq!(drain(&mut t).len(), 1);
    let busy = response_to(&invite, 486, "s");
    t.respond(start, &key, busy.clone()).expect("respond");
    drain(&mut t);
    let seen = run_until(&mut t, start, Duration::from_secs(10));
    // Timer G: T1, 2T1, 4T1, then capped at T2.
    assert_eq!(transmit_times(&seen), [500, 1500, 3500, 7500]);
    let mut ack = crate::transaction::client::ack_for(&invite, &busy);
    ack.headers
        .set("Via", invite.headers.get("Via").expect("via"));
    let at = start + Duration::from_secs(10);
    t.receive_message(at, Message::Request(ack.clone()), from);
    assert!(
        drain(&mut t).is_empty(),
        "the ACK of a non-2xx stays in the transaction"
    );
    t.receive_message(at, Message::Request(ack.clone()), from);
    assert!(drain(&mut t).is_empty(), "Timer I absorbs duplicate ACKs");
    let seen = run_until(&mut t, at, Duration::from_secs(6));
    assert!(transmit_times(&seen).is_empty());
    assert!(seen.iter().any(
        |(after, o)| *after == Duration::from_secs(5) && matches!(o, Output::Terminated { .. })
    ));
}

#[test]
fn server_invite_without_ack_times_out_with_timer_h() {
    let start = Instant::now();
    let mut t = layer();
    let invite = request("INVITE", "z9hG4bKi", Transport::Tcp);
    t.receive_message(
        start,
        Message::Request(invite.clone()),
        peer(CLIENT, Transport::Tcp),
    );
    let Some(Output::Request { key, .. }) = drain(&mut t).into_iter().nth(1) else {
        panic!()
    };
    t.respond(start, &key, response_to(&invite, 480, "s"))
        .expect("respond");
    drain(&mut t);
    let seen = run_until(&mut t, start, Duration::from_secs(40));
    assert!(transmit_times(&seen).is_empty(), "no Timer G over TCP");
    assert!(seen.iter().any(|(at, o)| *at == Duration::from_secs(32)
        && matches!(
            o,
            Output::Timeout {
                reason: TimeoutReason::NoAck,
                ..
            }
        )));
}

#[test]
fn server_invite_2xx_is_retransmitted_until_its_ack_arrives() {
    let start = Instant::now();
    let mut t = layer();
    let invite = request("INVITE", "z9hG4bKj", Transport::Udp);
    let from = peer(CLIENT, Transport::Udp);
    t.receive_message(start, Message::Request(invite.clone()), from);
    let Some(Output::Request { key, .. }) = drain(&mut t).into_iter().nth(1) else {
        panic!()
    };
    t.respond(start, &key, response_to(&invite, 200, "s"))
        .expect("respond");
    drain(&mut t);
    let seen = run_until(&mut t, start, Duration::from_secs(4));
    assert_eq!(transmit_times(&seen), [500, 1500, 3500]);
    // The ACK of a 2xx has its own branch; it reaches the TU and stops the resending.
    let mut ack = request("ACK", "z9hG4bKother", Transport::Udp);
    ack.headers.set("Call-ID", "call-z9hG4bKj");
    ack.headers.set("CSeq", "1 ACK");
    t.receive_message(start + Duration::from_secs(4), Message::Request(ack), from);
    assert!(matches!(&drain(&mut t)[..], [Output::Ack { .. }]));
    let seen = run_until(
        &mut t,
        start + Duration::from_secs(4),
        Duration::from_secs(40),
    );
    assert!(transmit_times(&seen).is_empty());
    assert!(
        !seen
            .iter()
            .any(|(_, o)| matches!(o, Output::Timeout { .. }))
    );
    assert!(t.is_empty());
}

#[test]
fn cancel_names_its_invite_and_overload_is_answered_503() {
    let start = Instant::now();
    let mut t = Transactions::new(Timers::default(), Limits::default(), 2);
    let from = peer(CLIENT, Transport::Udp);
    let invite = request("INVITE", "z9hG4bKk", Transport::Udp);
    let mut cancel = invite.clone();
    cancel.method = Method::Cancel;
    cancel.headers.set("CSeq", "1 CANCEL");
    t.receive_message(start, Message::Request(invite), from);
    t.receive_message(start, Message::Request(cancel), from);
    let keys: Vec<Key> = drain(&mut t)
        .into_iter()
        .filter_map(|o| match o {
            Output::Request { key, .. } => Some(key),
            _ => None,
        })
        .collect();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[1].invite_of_cancel(), keys[0]);
    t.receive_message(
        start,
        Message::Request(request("OPTIONS", "z9hG4bKl", Transport::Udp)),
        from,
    );
    let out = drain(&mut t);
    assert!(matches!(&out[..], [o] if matches!(message(o), Message::Response(r) if r.code == 503)));
    assert_eq!(t.len(), 2);
}

/// Two layers over a link that loses a share of everything and delays the rest; the TU on
/// the server answers INVITE with 180 then 200, the client ACKs the 200. Every call must
/// complete and every server transaction must see its ACK.
#[test]
fn calls_complete_over_a_lossy_link() {
    for seed in 0..200u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let start = Instant::now();
        let mut now = start;
        let mut client = layer();
        let mut server = layer();
        let invite = request("INVITE", &format!("z9hG4bKsim{seed}"), Transport::Udp);
        client
            .send_request(now, invite, peer(SERVER, Transport::Udp))
            .expect("sent");
        // (deliver at, to server?, bytes)
        let mut wire: Vec<(Instant, bool, Bytes)> = Vec::new();
        let (mut answered, mut acked) = (false, false);
        for _ in 0..100_000 {
            for (to_server, layer) in [(true, &mut client), (false, &mut server)] {
                while let Some(out) = layer.poll_output() {
                    match out {
                        Output::Transmit { bytes, .. } => {
                            if rng.gen_bool(0.3) {
                                continue;
                            }
                            let delay = Duration::from_millis(rng.gen_range(5..80));
                            wire.push((now + delay, to_server, bytes));
                        }
                        Output::Request { key, request, .. } => {
                            let mut ringing = request.response(180);
                            let to = ringing.headers.get("To").expect("To").to_owned();
                            ringing.headers.set("To", format!("{to};tag=srv"));
                            let mut ok = ringing.clone();
                            ok.code = 200;
                            layer.respond(now, &key, ringing).expect("180");
                            layer.respond(now, &key, ok).expect("200");
                        }
                        Output::Response { response, .. }
                        | Output::StrayResponse { response, .. }
                            if response.code == 200 =>
                        {
                            answered = true;
                            let mut ack =
                                request("ACK", &format!("z9hG4bKack{seed}"), Transport::Udp);
                            ack.headers.set("Call-ID", format!("call-z9hG4bKsim{seed}"));
                            ack.headers.set("CSeq", "1 ACK");
                            layer.send_stateless(
                                peer(SERVER, Transport::Udp),
                                &Message::Request(ack),
                            );
                        }
                        Output::Ack { .. } => acked = true,
                        Output::Timeout { key, reason } => {
                            panic!("seed {seed}: {key:?} {reason:?}")
                        }
                        _ => {}
                    }
                }
            }
            let next_wire = wire.iter().map(|(at, _, _)| *at).min();
            let next = [next_wire, client.poll_timeout(), server.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            let Some(next) = next else { break };
            now = next;
            client.handle_timeout(now);
            server.handle_timeout(now);
            let (due, later): (Vec<_>, Vec<_>) =
                wire.into_iter().partition(|(at, _, _)| *at <= now);
            wire = later;
            for (_, to_server, bytes) in due {
                if to_server {
                    server.receive(now, &bytes, peer(CLIENT, Transport::Udp));
                } else {
                    client.receive(now, &bytes, peer(SERVER, Transport::Udp));
                }
            }
        }
        assert!(
            answered && acked,
            "seed {seed}: answered {answered}, acked {acked}"
        );
        assert!(
            client.is_empty() && server.is_empty(),
            "seed {seed}: transactions left"
        );
        assert!(now - start < Duration::from_secs(70));
    }
}

mod bounds;
