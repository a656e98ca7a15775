//! The engine at its bound on live transactions: new calls are refused, calls in progress
//! end normally.

use super::*;

fn lab_with_bound(max_transactions: usize) -> Lab {
    let mut lab = Lab::new();
    lab.engine.cfg.max_transactions = max_transactions;
    let cfg = lab.engine.cfg.clone();
    lab.engine = Engine::with_rng(cfg, lab.now, SystemTime::now(), StdRng::seed_from_u64(7));
    lab
}

/// Another caller's INVITE, `i`.
fn another_call(i: usize) -> String {
    INVITE
        .replace("z9hG4bKinv1", &format!("z9hG4bKother{i}"))
        .replace("trunk-call-1", &format!("other-{i}"))
}

#[test]
fn a_call_in_progress_hangs_up_while_new_calls_get_503() {
    let mut lab = lab_with_bound(2);
    lab.register();
    lab.send(TRUNK, INVITE);
    let (_, invite) = request(&lab.sent(), Method::Invite);
    lab.send_message(PHONE, &answer(&invite, 200));
    let ok = response(&lab.sent(), 200);
    lab.send(TRUNK, &trunk_ack(&ok));
    request(&lab.sent(), Method::Ack);
    assert_eq!(
        lab.engine.txns.len(),
        0,
        "an answered call holds no live transaction"
    );

    // A second call ringing the phone fills the table (its two INVITEs); a third is shed.
    lab.send(TRUNK, &another_call(1));
    request(&lab.sent(), Method::Invite);
    assert_eq!(lab.engine.txns.len(), 2);
    lab.send(TRUNK, &another_call(2));
    let busy = response(&lab.sent(), 503);
    assert!(busy.headers.get("Retry-After").is_some());

    // The established call still ends on both sides.
    lab.send(TRUNK, &trunk_bye(&ok));
    let sent = lab.sent();
    assert_eq!(response(&sent, 200).headers.get("CSeq"), Some("2 BYE"));
    let (to, bye) = request(&sent, Method::Bye);
    assert_eq!(to, PHONE);
    lab.send_message(PHONE, &Message::Response(bye.response(200)));
    assert_eq!(lab.engine.active_calls(), 1, "the ringing call is left");
    assert_eq!(lab.engine.call_records()[0].outcome, Outcome::Completed);
}

#[test]
fn a_steady_call_rate_is_carried_beyond_what_finished_transactions_would_fill() {
    // 10 calls/s for 40 s: each call leaves about four finished transactions for 32 s, far
    // more than the 20 live ones allowed; none of them may cost a caller a 503.
    let mut lab = lab_with_bound(20);
    lab.register();
    for i in 0..400 {
        let id = format!("steady-{i}");
        lab.send(
            TRUNK,
            &INVITE
                .replace("z9hG4bKinv1", &format!("z9hG4bKsi{i}"))
                .replace("trunk-call-1", &id),
        );
        let (_, invite) = request(&lab.sent(), Method::Invite);
        lab.send_message(PHONE, &answer(&invite, 200));
        let ok = response(&lab.sent(), 200);
        let ack = trunk_ack(&ok)
            .replace("z9hG4bKack1", &format!("z9hG4bKsa{i}"))
            .replace("trunk-call-1", &id);
        lab.send(TRUNK, &ack);
        let bye = trunk_bye(&ok)
            .replace("z9hG4bKbye1", &format!("z9hG4bKsb{i}"))
            .replace("trunk-call-1", &id);
        lab.send(TRUNK, &bye);
        let sent = lab.sent();
        assert!(
            !sent
                .iter()
                .any(|(_, m)| matches!(m, Message::Response(r) if r.code >= 500)),
            "call {i}: {sent:#?}"
        );
        let (_, bye) = request(&sent, Method::Bye);
        lab.send_message(PHONE, &Message::Response(bye.response(200)));
        lab.advance(Duration::from_millis(100));
    }
    let records = lab.engine.call_records();
    assert_eq!(records.len(), 400);
    assert!(records.iter().all(|r| r.outcome == Outcome::Completed));
}
