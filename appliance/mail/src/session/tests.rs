use std::collections::HashSet;
use std::sync::Arc;

use proptest::prelude::*;

use super::*;

fn limits() -> SessionLimits {
    SessionLimits {
        hostname: "hub.test".to_owned(),
        recipients: Arc::new(HashSet::from(["consulat@mae.test".to_owned()])),
        max_size: 1000,
        max_header_bytes: 200,
        max_recipients: 3,
        tls_available: true,
        require_tls: false,
    }
}

/// Feeds `input` and collects every output, answering deliveries with 250.
fn run(session: &mut Session, input: &[u8]) -> Vec<Output> {
    session.receive(input);
    let mut out = Vec::new();
    while let Some(o) = session.poll_output() {
        let deliver = matches!(o, Output::Deliver(_));
        out.push(o);
        if deliver {
            session.delivered(Reply::new(250, "ok"));
        }
    }
    out
}

fn codes(out: &[Output]) -> Vec<u16> {
    out.iter()
        .filter_map(|o| match o {
            Output::Reply(r) | Output::StartTls(r) | Output::Close(r) => Some(r.code),
            Output::Deliver(_) => None,
        })
        .collect()
}

#[test]
fn a_whole_conversation_delivers_one_message_unstuffed() {
    let (mut s, greeting) = Session::new(limits());
    assert_eq!(greeting.code, 220);
    let out = run(
        &mut s,
        b"EHLO relay.mae.test\r\nMAIL FROM:<ana@example.org> SIZE=100\r\nRCPT TO:<Consulat@MAE.test>\r\nDATA\r\n",
    );
    assert_eq!(codes(&out), vec![250, 250, 250, 354]);
    let Output::Reply(ehlo) = &out[0] else {
        panic!()
    };
    assert!(ehlo.lines.iter().any(|l| l == "STARTTLS"));
    assert!(ehlo.lines.iter().any(|l| l == "SIZE 1000"));
    let out = run(&mut s, b"Subject: x\r\n\r\nline\r\n..dot\r\n.\r\nQUIT\r\n");
    let Output::Deliver(env) = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(env.from, "ana@example.org");
    assert_eq!(env.recipients, vec!["consulat@mae.test"]);
    assert_eq!(env.data, b"Subject: x\r\n\r\nline\r\n.dot\r\n");
    assert_eq!(codes(&out), vec![221]);
    assert!(s.is_closed());
}

#[test]
fn data_split_anywhere_is_the_same_message() {
    let message = b"Subject: y\r\n\r\na\r\n.\r\n";
    for cut in 0..message.len() {
        let (mut s, _) = Session::new(limits());
        run(
            &mut s,
            b"HELO x\r\nMAIL FROM:<>\r\nRCPT TO:<consulat@mae.test>\r\nDATA\r\n",
        );
        let mut out = run(&mut s, &message[..cut]);
        out.extend(run(&mut s, &message[cut..]));
        let delivered: Vec<_> = out
            .iter()
            .filter_map(|o| match o {
                Output::Deliver(e) => Some(e.data.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(
            delivered,
            vec![b"Subject: y\r\n\r\na\r\n".to_vec()],
            "cut at {cut}"
        );
    }
}

#[test]
fn unknown_recipients_order_and_size_are_refused() {
    let (mut s, _) = Session::new(limits());
    let out = run(
        &mut s,
        b"MAIL FROM:<a@b>\r\nEHLO x\r\nRCPT TO:<consulat@mae.test>\r\nMAIL FROM:<a@b> SIZE=5000\r\nMAIL FROM:<a@b>\r\nRCPT TO:<other@mae.test>\r\nDATA\r\n",
    );
    assert_eq!(codes(&out), vec![503, 250, 503, 552, 250, 550, 503]);
    let out = run(&mut s, b"RCPT TO:<consulat@mae.test>\r\nDATA\r\n");
    assert_eq!(codes(&out), vec![250, 354]);
    let mut big = b"Subject: z\r\n\r\n".to_vec();
    big.extend(std::iter::repeat_n(b'x', 3000));
    big.extend(b"\r\n.\r\nNOOP\r\n");
    let out = run(&mut s, &big);
    assert_eq!(
        codes(&out),
        vec![552, 250],
        "refused, and the session goes on"
    );
}

#[test]
fn huge_headers_and_long_lines_are_refused_clearly() {
    let (mut s, _) = Session::new(limits());
    run(
        &mut s,
        b"EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<consulat@mae.test>\r\nDATA\r\n",
    );
    let mut headers = Vec::new();
    for i in 0..20 {
        headers.extend(format!("X-H{i}: {}\r\n", "v".repeat(20)).bytes());
    }
    headers.extend(b"\r\nbody\r\n.\r\n");
    let out = run(&mut s, &headers);
    assert_eq!(codes(&out), vec![552]);
    let mut long = vec![b'A'; MAX_LINE * 3];
    long.extend(b"\r\nNOOP\r\n");
    let out = run(&mut s, &long);
    assert_eq!(codes(&out), vec![500, 250]);
}

#[test]
fn starttls_drops_what_was_sent_in_clear_after_it() {
    let (mut s, _) = Session::new(limits());
    let out = run(
        &mut s,
        b"EHLO x\r\nSTARTTLS\r\nMAIL FROM:<injected@evil>\r\n",
    );
    assert!(matches!(out.last(), Some(Output::StartTls(_))));
    s.tls_started();
    let out = run(&mut s, b"MAIL FROM:<a@b>\r\nEHLO x\r\n");
    assert_eq!(codes(&out), vec![503, 250], "EHLO again before MAIL");
    let Output::Reply(ehlo) = &out[1] else {
        panic!()
    };
    assert!(!ehlo.lines.iter().any(|l| l == "STARTTLS"));
}

#[test]
fn required_tls_and_too_many_errors() {
    let mut l = limits();
    l.require_tls = true;
    let (mut s, _) = Session::new(l);
    let out = run(&mut s, b"EHLO x\r\nMAIL FROM:<a@b>\r\n");
    assert_eq!(codes(&out), vec![250, 530]);
    let out = run(&mut s, &b"BOGUS\r\n".repeat(20));
    assert_eq!(codes(&out).last(), Some(&421));
    assert!(s.is_closed());
}

#[test]
fn replies_never_carry_line_breaks() {
    let r = Reply::new(250, "a\r\n250 injected");
    assert_eq!(r.to_bytes(), b"250 a250 injected\r\n");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_input_is_answered_without_panic_and_within_bounds(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..20),
        prefix in prop_oneof![
            Just(b"".to_vec()),
            Just(b"EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<consulat@mae.test>\r\nDATA\r\n".to_vec()),
        ],
    ) {
        let (mut s, _) = Session::new(limits());
        run(&mut s, &prefix);
        for c in chunks {
            for o in run(&mut s, &c) {
                if let Output::Deliver(e) = o {
                    prop_assert!(e.data.len() <= 1000);
                }
            }
            prop_assert!(s.buf.len() <= MAX_LINE + 300 || s.in_data());
        }
    }

    #[test]
    fn command_like_lines_never_panic(line in "[A-Za-z]{0,6}( [ -~]{0,80})?\r\n") {
        let (mut s, _) = Session::new(limits());
        run(&mut s, b"EHLO x\r\n");
        run(&mut s, line.as_bytes());
    }
}
