//! The phone in the console with a real telephony bridge and SIPp peers: a supervisor sees a
//! caller waiting in a queue; the operator logs in from the console, the call rings at their
//! phone and their page pops the caller and the caller's case (live: the phone event stream
//! says `changed`), then shows them on the line; who may not use or supervise phones is
//! refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/harness.rs"]
mod support;

#[path = "../../telephony/tests/support/sipp.rs"]
mod sipp;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use casestore::{
    ContactKind, ContactValue, NewContact, Priority, Sensitivity, StaffRole, Verification,
};
use support::http::read_until;
use support::{CENTRAL, Env, Req, Route, new_case};
use telephony::credentials::{NewAgent, parse, render};
use telephony::{CallEvent, EngineConfig, QueueConfig, ServerConfig, Telephony};

const REALM: &str = "legatura-test";

async fn bridge() -> Arc<Telephony> {
    let agents = [NewAgent {
        username: "agent1",
        password: "secret",
        extension: None,
        staff: Some("op.ana"),
    }];
    let accounts = parse(&render(REALM, &agents), REALM).unwrap();
    let placeholder: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut engine = EngineConfig::new(placeholder, REALM, accounts);
    let mut ro = QueueConfig::new("ro");
    ro.numbers = vec!["200".to_owned()];
    ro.language = Some("ro".to_owned());
    ro.consulate = Some(CENTRAL.to_owned());
    engine.queues = vec![ro];
    Arc::new(
        Telephony::start(ServerConfig {
            listen: placeholder,
            advertise: None,
            engine,
            max_connections: 16,
        })
        .await
        .unwrap(),
    )
}

/// What the hub does with a call that starts: link the caller's open case (hubd's voice.rs
/// also opens one when there is none).
fn link_cases(bridge: Arc<Telephony>, store: Arc<casestore::Store>) {
    let mut events = bridge.events();
    tokio::spawn(async move {
        while let Ok(event) = events.recv().await {
            if let CallEvent::Started { call, caller, .. } = event
                && let Some(case) = store.phone_cases(&caller).unwrap().first()
            {
                bridge.link_case(call, &case.case_no.to_string());
            }
        }
    });
}

async fn until_page(session: &support::Session, path: &str, wanted: &str) -> String {
    let mut last = String::new();
    for _ in 0..120 {
        let page = session.get(path).await;
        assert_eq!(page.status, 200, "{}", page.body);
        if page.body.contains(wanted) {
            return page.body;
        }
        last = page.body;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{path} never showed {wanted:?}:\n{last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_caller_is_seen_and_the_call_pops_up_with_its_case_at_the_agent() {
    let env = Env::start().await;
    let operator = env.account("op.ana", StaffRole::Operator, CENTRAL);
    let supervisor = env.account("sup.mihai", StaffRole::Supervisor, CENTRAL);
    let admin = env.account("adm.ion", StaffRole::Administrator, CENTRAL);
    // The citizen already has an open case with their number.
    let mut new = new_case(
        CENTRAL,
        Sensitivity::Normal,
        Priority::P3,
        "Pașaport pierdut.",
    );
    new.subject.contacts.push(NewContact {
        kind: ContactKind::Phone,
        value: ContactValue::new("+40 721 000 111".to_owned()).unwrap(),
        verification: Verification::Unverified,
    });
    let case = env.store.create_case(&new).unwrap();

    let bridge = bridge().await;
    env.console.attach_phones(bridge.clone());
    link_cases(bridge.clone(), env.store.clone());
    let addr = bridge.udp_addr();
    let phone_port = sipp::free_port();
    sipp::register(addr, "agent1", "secret", phone_port, "u1", 3600).await;

    let ops = env.login(&operator, &Route::Central).await;
    let sup = env.login(&supervisor, &Route::Central).await;
    let page = ops.get("/phone").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("data-state=\"logged_out\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("/phone/login"));

    // Nobody is logged in: the caller waits, and the supervisor sees them waiting.
    let caller = sipp::trunk(
        addr,
        "200",
        &["-sf", sipp::scenario("uac_queue.xml").to_str().unwrap()],
        "u1",
        &["-key", "caller", "40721000111", "-d", "1000"],
    );
    // The case is linked to the call by a listener of the bridge's events, so it
    // can show a moment after the caller does.
    let queues = until_page(&sup, "/phone/queues", &format!("case {}", case.case_no)).await;
    assert!(queues.contains("data-caller=\"40721000111\""), "{queues}");
    assert!(queues.contains("data-waiting=\"1\""), "{queues}");

    // The operator's page listens for changes; logging in offers them the call.
    let stream = ops.open(Req::get("/phone/events")).await;
    assert_eq!(stream.status(), 200);
    let mut events = stream.into_body();
    let answering = sipp::phone(
        phone_port,
        &[
            "-sf",
            sipp::scenario("uas_ring_then_answer.xml").to_str().unwrap(),
        ],
        "u1",
        1,
    );
    let login = ops.post("/phone/login", &[]).await;
    assert_eq!(login.status, 303, "{}", login.body);
    let (heard, seen) = read_until(&mut events, "event: changed", Duration::from_secs(3)).await;
    assert!(heard, "no live event: {seen:?}");
    let pop = until_page(&ops, "/phone/panel", "data-state=\"ringing\"").await;
    assert!(pop.contains("Ringing: 40721000111"), "{pop}");
    assert!(
        pop.contains(&format!("data-case=\"{}\"", case.case_no)),
        "{pop}"
    );
    let on_call = until_page(&ops, "/phone/panel", "data-state=\"on_call\"").await;
    assert!(on_call.contains("On the line: 40721000111"), "{on_call}");
    let agents = sup.get("/phone/queues").await.body;
    assert!(
        agents.contains("data-agent=\"agent1\" data-state=\"on_call\""),
        "{agents}"
    );
    caller.success().await;
    answering.success().await;
    let after = until_page(&ops, "/phone/panel", "data-state=\"wrap_up\"").await;
    assert!(!after.contains("screen-pop"), "{after}");

    // An administrator answers no calls and supervises no queue.
    let adm = env.login(&admin, &Route::Central).await;
    assert_eq!(adm.get("/phone").await.status, 403);
    assert_eq!(adm.get("/phone/queues").await.status, 403);
    assert_eq!(ops.get("/phone/queues").await.status, 403);
    assert_eq!(env.audit_of("console.phone").len(), 1);
    bridge.agent_logout("agent1").unwrap();
}
