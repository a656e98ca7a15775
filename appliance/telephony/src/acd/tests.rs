use std::time::{Duration, Instant};

use super::*;

fn queues() -> Vec<QueueConfig> {
    let mut ro = QueueConfig::new("ro");
    ro.language = Some("ro".into());
    ro.capacity = 2;
    let mut en = QueueConfig::new("en");
    en.language = Some("en".into());
    en.max_missed = 2;
    let mut sos = QueueConfig::new("sos");
    sos.language = Some("ro".into());
    sos.emergency = true;
    vec![ro, en, sos]
}

fn langs(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

const S: Duration = Duration::from_secs(1);

#[test]
fn the_longest_idle_agent_who_speaks_the_language_gets_the_call() {
    let t = Instant::now();
    let mut acd = Acd::new(queues(), 20 * S);
    acd.login(t, "ana", &langs(&["ro"]));
    acd.login(t + S, "bob", &langs(&["ro", "en"]));
    acd.login(t + 2 * S, "cid", &langs(&["en"]));
    acd.enqueue(t + 3 * S, 1, 1, &IvrResult::default()).unwrap();
    // English: bob (idle since 1 s) before cid (2 s); ana does not speak it.
    let (w, agent) = acd.next(t + 3 * S, |_| true).unwrap();
    assert_eq!((w.ticket, agent.as_str()), (1, "bob"));
    assert_eq!(acd.agent_state("bob"), AgentState::Ringing);
    acd.enqueue(t + 4 * S, 2, 0, &IvrResult::default()).unwrap();
    let (_, agent) = acd.next(t + 4 * S, |_| true).unwrap();
    assert_eq!(agent, "ana");
    // An unregistered phone is skipped.
    acd.enqueue(t + 5 * S, 3, 1, &IvrResult::default()).unwrap();
    assert!(acd.next(t + 5 * S, |a| a != "cid").is_none());
    assert_eq!(acd.next(t + 5 * S, |_| true).unwrap().1, "cid");
}

#[test]
fn emergency_calls_jump_the_queue_and_the_ivr_language_overrides_the_queues() {
    let t = Instant::now();
    let mut acd = Acd::new(queues(), 20 * S);
    acd.enqueue(t, 1, 0, &IvrResult::default()).unwrap();
    acd.enqueue(t + S, 2, 2, &IvrResult::default()).unwrap();
    let ivr = IvrResult {
        language: Some("en".into()),
        emergency: true,
        digits: "29".into(),
    };
    acd.enqueue(t + 2 * S, 3, 0, &ivr).unwrap();
    let order: Vec<u64> = acd.waiting().iter().map(|w| w.ticket).collect();
    assert_eq!(order, [2, 3, 1]);
    acd.login(t + 3 * S, "ana", &langs(&["ro"]));
    assert_eq!(acd.next(t + 3 * S, |_| true).unwrap().0.ticket, 2);
}

#[test]
fn a_missed_call_frees_the_agent_and_enough_misses_make_them_not_ready() {
    let t = Instant::now();
    let mut acd = Acd::new(queues(), 20 * S);
    acd.login(t, "cid", &langs(&["en"]));
    acd.login(t + S, "bob", &langs(&["en"]));
    acd.enqueue(t + 2 * S, 1, 1, &IvrResult::default()).unwrap();
    let (w, agent) = acd.next(t + 2 * S, |_| true).unwrap();
    assert_eq!(agent, "cid");
    acd.missed(t + 22 * S, "cid", 1);
    acd.requeue(w);
    // Idle from the miss: bob now waited longer.
    let (w, agent) = acd.next(t + 22 * S, |_| true).unwrap();
    assert_eq!(agent, "bob");
    acd.missed(t + 42 * S, "bob", 1);
    acd.requeue(w);
    let (w, agent) = acd.next(t + 42 * S, |_| true).unwrap();
    assert_eq!(agent, "cid");
    acd.missed(t + 62 * S, "cid", 1);
    assert_eq!(acd.agent_state("cid"), AgentState::NotReady);
    acd.requeue(w.clone());
    assert_eq!(
        acd.waiting()[0].since,
        t + 2 * S,
        "the caller keeps their place"
    );
    assert_eq!(acd.next(t + 62 * S, |_| true).unwrap().1, "bob");
    assert!(acd.set_ready(t + 70 * S, "cid", true));
    assert_eq!(acd.agent_state("cid"), AgentState::Ready);
}

#[test]
fn wrap_up_holds_the_agent_back_until_it_ends() {
    let t = Instant::now();
    let mut qs = queues();
    qs[0].wrap_up = 10 * S;
    let mut acd = Acd::new(qs, 20 * S);
    acd.login(t, "ana", &langs(&["ro"]));
    acd.enqueue(t, 1, 0, &IvrResult::default()).unwrap();
    let (w, agent) = acd.next(t, |_| true).unwrap();
    acd.answered(t + S, &agent, &w);
    assert_eq!(acd.stats(0).answered_in_target, 1);
    acd.hung_up(t + 5 * S, &agent, 0);
    assert_eq!(acd.agent_state("ana"), AgentState::WrapUp);
    assert_eq!(acd.next_wakeup(), Some(t + 15 * S));
    acd.enqueue(t + 6 * S, 2, 0, &IvrResult::default()).unwrap();
    assert!(acd.next(t + 14 * S, |_| true).is_none());
    assert_eq!(acd.next(t + 15 * S, |_| true).unwrap().1, "ana");
}

#[test]
fn a_full_queue_refuses_and_abandoned_callers_are_counted() {
    let t = Instant::now();
    let mut acd = Acd::new(queues(), 20 * S);
    acd.enqueue(t, 1, 0, &IvrResult::default()).unwrap();
    acd.enqueue(t, 2, 0, &IvrResult::default()).unwrap();
    assert_eq!(
        acd.enqueue(t, 3, 0, &IvrResult::default()),
        Err(EnqueueError::Full)
    );
    assert!(acd.abandon(1).is_some());
    assert!(acd.abandon(1).is_none());
    acd.enqueue(t, 3, 0, &IvrResult::default()).unwrap();
    let s = acd.stats(0);
    assert_eq!((s.offered, s.refused, s.abandoned), (3, 1, 1));
    assert_eq!(acd.queue_for("ro"), Some(0));
    assert_eq!(acd.queue_for("nope"), None);
}
