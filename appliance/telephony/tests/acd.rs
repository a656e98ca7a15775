#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Queues and ACD with real SIP peers: SIPp as the citizens calling queue numbers and as the
//! agents' phones (registered with digest), the agents logged in through the bridge's API as
//! the console does it. Each test starts its own bridge and SIPp processes on loopback.

#[path = "support/sipp.rs"]
mod support;

use std::net::SocketAddr;
use std::time::Duration;

use support::{free_port, phone, register, scenario, settle, trunk};
use telephony::credentials::{NewAgent, parse, render};
use telephony::{
    AgentState, CallRecord, EngineConfig, Outcome, QueueConfig, ServerConfig, Side, Telephony,
};

const REALM: &str = "legatura-test";
const AGENTS: [&str; 3] = ["agent1", "agent2", "agent3"];

async fn bridge(queues: Vec<QueueConfig>) -> Telephony {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("telephony=debug")
        .with_test_writer()
        .try_init();
    let agents: Vec<NewAgent<'_>> = AGENTS
        .iter()
        .map(|a| NewAgent {
            username: a,
            password: "secret",
            extension: None,
            staff: None,
        })
        .collect();
    let accounts = parse(&render(REALM, &agents), REALM).unwrap();
    let placeholder: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut engine = EngineConfig::new(placeholder, REALM, accounts);
    engine.queues = queues;
    Telephony::start(ServerConfig {
        listen: placeholder,
        advertise: None,
        engine,
        max_connections: 64,
    })
    .await
    .unwrap()
}

fn queue(name: &str, language: &str) -> QueueConfig {
    let mut q = QueueConfig::new(name);
    q.language = Some(language.to_owned());
    q.wrap_up = Duration::ZERO;
    q
}

fn langs(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// Logs `agent` in; the next one logged in has been idle for less time.
async fn login(bridge: &Telephony, agent: &str, languages: &[&str]) {
    bridge.agent_login(agent, &langs(languages)).unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
}

/// A caller from `number` dialling `queue`, talking for `hold_ms` once answered.
fn citizen(bridge: SocketAddr, queue: &str, number: &str, hold_ms: u32) -> support::Sipp {
    trunk(
        bridge,
        queue,
        &["-sf", scenario("uac_queue.xml").to_str().unwrap()],
        "u1",
        &["-key", "caller", number, "-d", &hold_ms.to_string()],
    )
}

fn record_of(bridge: &Telephony, caller: &str) -> CallRecord {
    bridge
        .call_records()
        .into_iter()
        .find(|r| r.caller_number() == caller)
        .unwrap_or_else(|| panic!("no record for {caller}: {:#?}", bridge.call_records()))
}

async fn until(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..200 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("never: {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_longest_idle_agent_who_speaks_the_callers_language_answers() {
    let bridge = bridge(vec![queue("ro", "ro"), queue("en", "en")]).await;
    let addr = bridge.udp_addr();
    let ports = [free_port(), free_port(), free_port()];
    for (agent, port) in AGENTS.iter().zip(ports) {
        register(addr, agent, "secret", port, "u1", 3600).await;
    }
    login(&bridge, "agent1", &["ro"]).await;
    login(&bridge, "agent2", &["ro", "en"]).await;
    login(&bridge, "agent3", &["en"]).await;

    // English: agent2 and agent3 speak it; agent2 has been idle longer.
    let answering = phone(ports[1], &["-sn", "uas"], "u1", 1);
    citizen(addr, "en", "1001", 200).success().await;
    answering.success().await;
    settle(&bridge, 1).await;
    let r = record_of(&bridge, "1001");
    assert_eq!(r.agent.as_deref(), Some("agent2"));
    assert_eq!(r.queue.as_deref(), Some("en"));
    assert_eq!(r.language.as_deref(), Some("en"));
    assert_eq!(r.outcome, Outcome::Completed);

    // Romanian: agent1 (idle since logging in) before agent2 (idle since its call ended).
    let answering = phone(ports[0], &["-sn", "uas"], "u1", 1);
    citizen(addr, "ro", "1002", 200).success().await;
    answering.success().await;
    settle(&bridge, 2).await;
    assert_eq!(record_of(&bridge, "1002").agent.as_deref(), Some("agent1"));

    // English again: agent3 has now been idle longest of those who speak it.
    let answering = phone(ports[2], &["-sn", "uas"], "u1", 1);
    citizen(addr, "en", "1003", 200).success().await;
    answering.success().await;
    settle(&bridge, 3).await;
    assert_eq!(record_of(&bridge, "1003").agent.as_deref(), Some("agent3"));
    let en = &bridge.queues()[1];
    assert_eq!((en.stats.offered, en.stats.answered), (2, 2));
    assert_eq!(en.service_level_pct, Some(100));
    bridge.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emergency_call_jumps_the_queue_a_full_queue_says_so_and_wrap_up_is_kept() {
    let mut ro = queue("ro", "ro");
    ro.numbers = vec!["200".to_owned()];
    ro.capacity = 1;
    ro.wrap_up = Duration::from_secs(1);
    let mut sos = queue("sos", "ro");
    sos.numbers = vec!["209".to_owned()];
    sos.emergency = true;
    sos.wrap_up = Duration::from_secs(1);
    let bridge = bridge(vec![ro, sos]).await;
    let addr = bridge.udp_addr();
    let port = free_port();
    register(addr, "agent1", "secret", port, "u1", 3600).await;

    // Nobody is logged in: the first caller waits (182 Queued)…
    let first = citizen(addr, "200", "2001", 300);
    until("the first caller waits", || {
        bridge.queues()[0].waiting.len() == 1
    })
    .await;
    // …and with the queue at its capacity the next one hears 486.
    trunk(
        addr,
        "200",
        &["-sf", scenario("uac_queue_full.xml").to_str().unwrap()],
        "u1",
        &["-key", "caller", "2002"],
    )
    .success()
    .await;
    let emergency = citizen(addr, "209", "2009", 300);
    until("the emergency caller waits", || {
        bridge.queues()[1].waiting.len() == 1
    })
    .await;
    assert!(bridge.queues()[1].waiting[0].emergency);

    let answering = phone(port, &["-sn", "uas"], "u1", 2);
    bridge.agent_login("agent1", &langs(&["ro"])).unwrap();
    let view = bridge.agent("agent1").unwrap();
    assert!(view.registered);
    emergency.success().await;
    until("agent1 wraps up", || {
        bridge.agent("agent1").unwrap().state == AgentState::WrapUp
    })
    .await;
    first.success().await;
    answering.success().await;
    settle(&bridge, 3).await;

    let sos_call = record_of(&bridge, "2009");
    let first_call = record_of(&bridge, "2001");
    assert!(sos_call.emergency);
    assert_eq!(
        record_of(&bridge, "2002").outcome,
        Outcome::QueueFull,
        "refused, not queued"
    );
    let (sos_answer, first_answer) = (
        sos_call.answered_ms.unwrap(),
        first_call.answered_ms.unwrap(),
    );
    assert!(
        sos_answer < first_answer,
        "the emergency caller, who came later, was answered first"
    );
    let gap = first_answer - sos_call.ended_ms.unwrap();
    assert!(
        gap >= 1000,
        "a second of wrap-up between calls, not {gap} ms"
    );
    assert!(first_call.wait_ms().unwrap() > sos_call.wait_ms().unwrap());
    assert_eq!(bridge.queues()[0].stats.refused, 1);
    bridge.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ring_timeout_requeues_the_caller_and_misses_make_the_agent_not_ready() {
    let mut ro = queue("ro", "ro");
    ro.ring_timeout = Duration::from_secs(2);
    ro.max_missed = 2;
    let bridge = bridge(vec![ro]).await;
    let addr = bridge.udp_addr();
    let (silent, answering_port) = (free_port(), free_port());
    register(addr, "agent1", "secret", silent, "u1", 3600).await;
    register(addr, "agent2", "secret", answering_port, "u1", 3600).await;
    // agent1 has been idle longest, but its phone only rings.
    login(&bridge, "agent1", &["ro"]).await;
    login(&bridge, "agent2", &["ro"]).await;
    let ringing = phone(
        silent,
        &["-sf", scenario("uas_ringing.xml").to_str().unwrap()],
        "u1",
        2,
    );
    let answering = phone(answering_port, &["-sn", "uas"], "u1", 2);

    citizen(addr, "ro", "3001", 200).success().await;
    settle(&bridge, 1).await;
    let r = record_of(&bridge, "3001");
    let legs: Vec<(&str, Outcome)> = r
        .legs
        .iter()
        .map(|l| (l.agent.as_str(), l.outcome))
        .collect();
    assert_eq!(
        legs,
        [
            ("agent1", Outcome::NoAnswer),
            ("agent2", Outcome::Completed)
        ]
    );
    assert_eq!(
        (r.outcome, r.ended_by),
        (Outcome::Completed, Some(Side::Caller))
    );
    assert!(r.wait_ms().unwrap() >= 2000, "rang 2 s at agent1 first");
    let agent1 = bridge.agent("agent1").unwrap();
    assert_eq!((agent1.state, agent1.missed), (AgentState::Ready, 1));

    // The second miss in a row makes agent1 not ready; agent2 answers again.
    citizen(addr, "ro", "3002", 200).success().await;
    ringing.success().await;
    answering.success().await;
    settle(&bridge, 2).await;
    assert_eq!(record_of(&bridge, "3002").agent.as_deref(), Some("agent2"));
    let agent1 = bridge.agent("agent1").unwrap();
    assert_eq!((agent1.state, agent1.missed), (AgentState::NotReady, 2));
    // Ready again only when they say so.
    bridge.agent_ready("agent1", true).unwrap();
    assert_eq!(bridge.agent("agent1").unwrap().state, AgentState::Ready);
    bridge.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_who_hangs_up_while_queued_leaves_the_queue() {
    let bridge = bridge(vec![queue("ro", "ro")]).await;
    let addr = bridge.udp_addr();
    let mut events = bridge.events();
    trunk(
        addr,
        "ro",
        &["-sf", scenario("uac_queue_cancel.xml").to_str().unwrap()],
        "u1",
        &["-key", "caller", "4001"],
    )
    .success()
    .await;
    settle(&bridge, 1).await;
    let r = record_of(&bridge, "4001");
    assert_eq!(
        (r.outcome, r.ended_by),
        (Outcome::Cancelled, Some(Side::Caller))
    );
    assert!(r.legs.is_empty(), "never offered to anyone");
    let q = &bridge.queues()[0];
    assert!(q.waiting.is_empty());
    assert_eq!((q.stats.offered, q.stats.abandoned), (1, 1));
    assert_eq!(q.service_level_pct, Some(0));
    // The hub heard of the call when it came in and when it ended.
    let started = events.recv().await.unwrap();
    assert!(
        matches!(&started, telephony::CallEvent::Started { caller, queue, .. }
            if caller == "4001" && queue.as_deref() == Some("ro")),
        "{started:?}"
    );
    let ended = events.recv().await.unwrap();
    assert!(
        matches!(&ended, telephony::CallEvent::Ended(r) if r.outcome == Outcome::Cancelled),
        "{ended:?}"
    );
    bridge.shutdown().await;
}
