//! The bound on live transactions: finished ones do not count, and only new work is shed.

use super::*;

fn tagged_request(method: &str, branch: &str) -> Request {
    let mut r = request(method, branch, Transport::Udp);
    r.headers.set("To", "<sip:agent@192.0.2.2>;tag=dialog1");
    r
}

/// What the layer did with one received request: handed it to the TU, or refused it with
/// the stateless 503 (and its Retry-After).
fn admitted(t: &mut Transactions, at: Instant, request: Request) -> Option<Key> {
    t.receive_message(at, Message::Request(request), peer(CLIENT, Transport::Udp));
    let out = drain(t);
    match &out[..] {
        [.., Output::Request { key, .. }] => Some(key.clone()),
        [o] => match message(o) {
            Message::Response(r) if r.code == 503 => {
                assert_eq!(r.headers.get("Retry-After"), Some("5"));
                None
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
}

#[test]
fn answered_transactions_do_not_crowd_out_new_requests() {
    let start = Instant::now();
    let mut t = Transactions::new(Timers::default(), Limits::default(), 2);
    let first = request("OPTIONS", "z9hG4bKb1", Transport::Udp);
    for (i, options) in [
        first.clone(),
        request("OPTIONS", "z9hG4bKb2", Transport::Udp),
    ]
    .into_iter()
    .enumerate()
    {
        let key = admitted(&mut t, start, options.clone()).expect("room");
        t.respond(start, &key, options.response(200))
            .expect("respond");
        drain(&mut t);
        assert_eq!((t.len(), t.finished()), (0, i + 1));
    }
    // Both wait out Timer J, yet a third request is new work the layer has room for.
    let third = request("OPTIONS", "z9hG4bKb3", Transport::Udp);
    assert!(admitted(&mut t, start, third).is_some());
    // A finished transaction still answers its retransmissions (§17.2.2).
    t.receive_message(
        start + Duration::from_secs(2),
        Message::Request(first.clone()),
        peer(CLIENT, Transport::Udp),
    );
    let out = drain(&mut t);
    assert!(matches!(&out[..], [o] if matches!(message(o), Message::Response(r) if r.code == 200)));
    let seen = run_until(&mut t, start, Duration::from_secs(33));
    let ended = seen
        .iter()
        .filter(|(at, o)| *at == Duration::from_secs(32) && matches!(o, Output::Terminated { .. }))
        .count();
    assert_eq!(ended, 2, "Timer J ends both, not earlier");
    assert_eq!(t.finished(), 0);
}

#[test]
fn past_the_bound_only_new_work_is_refused() {
    let start = Instant::now();
    let mut t = Transactions::new(Timers::default(), Limits::default(), 1);
    // An INVITE still ringing fills the table.
    assert!(
        admitted(
            &mut t,
            start,
            request("INVITE", "z9hG4bKc1", Transport::Udp)
        )
        .is_some()
    );
    assert!(
        admitted(
            &mut t,
            start,
            request("OPTIONS", "z9hG4bKc2", Transport::Udp)
        )
        .is_none()
    );
    assert!(
        admitted(
            &mut t,
            start,
            request("INVITE", "z9hG4bKc3", Transport::Udp)
        )
        .is_none()
    );
    assert!(
        admitted(
            &mut t,
            start,
            request("REGISTER", "z9hG4bKc4", Transport::Udp)
        )
        .is_none()
    );
    // The caller gives up: its CANCEL reaches the TU.
    let mut cancel = request("INVITE", "z9hG4bKc1", Transport::Udp);
    cancel.method = Method::Cancel;
    cancel.headers.set("CSeq", "1 CANCEL");
    let cancelling = admitted(&mut t, start, cancel.clone()).expect("a CANCEL ends a call");
    t.respond(start, &cancelling, cancel.response(200))
        .expect("respond");
    drain(&mut t);
    // A CANCEL of nothing we know is new work, refused.
    let mut stray = request("INVITE", "z9hG4bKc9", Transport::Udp);
    stray.method = Method::Cancel;
    stray.headers.set("CSeq", "1 CANCEL");
    assert!(admitted(&mut t, start, stray).is_none());
    // The TU's own requests: a BYE of an established call goes out, a new INVITE does not.
    let to = peer(SERVER, Transport::Udp);
    assert_eq!(
        t.send_request(start, request("INVITE", "z9hG4bKc5", Transport::Udp), to),
        Err(SendError::Full)
    );
    assert!(
        t.send_request(start, tagged_request("BYE", "z9hG4bKc6"), to)
            .is_ok()
    );
}

#[test]
fn an_established_calls_bye_is_answered_when_the_table_is_full() {
    let start = Instant::now();
    let mut t = Transactions::new(Timers::default(), Limits::default(), 1);
    assert!(
        admitted(
            &mut t,
            start,
            request("INVITE", "z9hG4bKd1", Transport::Udp)
        )
        .is_some()
    );
    let bye =
        admitted(&mut t, start, tagged_request("BYE", "z9hG4bKd2")).expect("a BYE ends a call");
    t.respond(
        start,
        &bye,
        tagged_request("BYE", "z9hG4bKd2").response(200),
    )
    .expect("respond");
    assert!(
        matches!(&drain(&mut t)[..], [o] if matches!(message(o), Message::Response(r) if r.code == 200))
    );
    // Past the bound, requests with made-up To tags still stop at a ceiling.
    let mut flood = 0;
    for i in 0..10 {
        if admitted(
            &mut t,
            start,
            tagged_request("INFO", &format!("z9hG4bKdf{i}")),
        )
        .is_some()
        {
            flood += 1;
        }
    }
    assert_eq!(flood, 1, "in-dialog work is admitted up to twice the bound");
}

#[test]
fn a_received_2xx_frees_the_client_invite_and_still_reaches_the_tu() {
    let start = Instant::now();
    let mut t = Transactions::new(Timers::default(), Limits::default(), 1);
    let invite = request("INVITE", "z9hG4bKe1", Transport::Udp);
    let key = t
        .send_request(start, invite.clone(), peer(SERVER, Transport::Udp))
        .expect("sent");
    drain(&mut t);
    let ok = Message::Response(response_to(&invite, 200, "b"));
    t.receive_message(start, ok.clone(), peer(SERVER, Transport::Udp));
    drain(&mut t);
    assert_eq!((t.len(), t.finished()), (0, 1));
    // Room for the next call at once, not 64·T1 later.
    assert!(
        t.send_request(
            start,
            request("INVITE", "z9hG4bKe2", Transport::Udp),
            peer(SERVER, Transport::Udp)
        )
        .is_ok()
    );
    drain(&mut t);
    t.receive_message(
        start + Duration::from_secs(1),
        ok,
        peer(SERVER, Transport::Udp),
    );
    assert!(
        matches!(&drain(&mut t)[..], [Output::Response { key: k, response }] if *k == key && response.code == 200)
    );
}

#[test]
fn past_the_finished_bound_a_transaction_is_forgotten_at_once() {
    let start = Instant::now();
    let mut t = Transactions::new(Timers::default(), Limits::default(), 10);
    t.set_max_finished(1);
    let mut keys = Vec::new();
    for branch in ["z9hG4bKf1", "z9hG4bKf2"] {
        let options = request("OPTIONS", branch, Transport::Udp);
        let key = admitted(&mut t, start, options.clone()).expect("room");
        t.respond(start, &key, options.response(200))
            .expect("respond");
        keys.push((key, drain(&mut t)));
    }
    assert!(
        !keys[0]
            .1
            .iter()
            .any(|o| matches!(o, Output::Terminated { .. }))
    );
    assert!(keys[1].1.iter().any(|o| *o
        == Output::Terminated {
            key: keys[1].0.clone()
        }));
    assert_eq!(t.finished(), 1);
    // Its retransmission is a new request for the TU, which answers it again.
    let again = request("OPTIONS", "z9hG4bKf2", Transport::Udp);
    assert!(admitted(&mut t, start, again).is_some());
}
