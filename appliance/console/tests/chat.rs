//! The agents' side of the live chat: the waiting chats of the agent's reach, emergencies
//! first; picking one up claims the case and tells the citizen's window; the agent's message
//! is stored in the case and reaches the window; the citizen's messages, typing and presence
//! arrive over server-sent events; the console's CSRF and reach rules hold.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/harness.rs"]
mod support;

use std::time::Duration;

use casestore::{Channel, Direction, Priority, Sensitivity, StaffRole, Visibility};
use support::http::read_until;
use support::{BERLIN, Case, Env, PARIS, Req, Route, field, new_case, row_numbers, same_origin};

fn chat_case(env: &Env, consulate: &str, priority: Priority, text: &str) -> Case {
    let mut new = new_case(consulate, Sensitivity::Normal, priority, text);
    new.channel = Channel::Chat;
    let created = env.store.create_case(&new).unwrap();
    Case {
        id: created.case_id,
        number: created.case_no,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_chats_of_the_agents_reach_emergencies_first() {
    let env = Env::start().await;
    let officer = env.account("off.ana", StaffRole::Officer, PARIS);
    let session = env.login(&officer, &Route::paris()).await;
    let calm = chat_case(&env, PARIS, Priority::P3, "O întrebare despre pașaport.");
    let urgent = chat_case(&env, PARIS, Priority::P1, "Am fost arestat.");
    let _elsewhere = chat_case(&env, BERLIN, Priority::P1, "Berlin.");
    let _web = env.case(PARIS, Sensitivity::Normal);
    let _link = env.hub.connect_citizen(calm.id).unwrap();

    let page = session.get("/chats").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(
        row_numbers(&page.body),
        [urgent.number.to_string(), calm.number.to_string()]
    );
    assert!(page.body.contains("online"), "the open window shows");
    let rows = session.get("/chats/rows").await;
    assert_eq!(row_numbers(&rows.body).len(), 2);

    // Another consulate's officer neither lists nor opens Paris's chats.
    let berlin = env.account("off.hans", StaffRole::Officer, BERLIN);
    let other = env.login(&berlin, &Route::berlin()).await;
    let theirs = other.get("/chats").await;
    assert_eq!(row_numbers(&theirs.body).len(), 1);
    assert_eq!(
        other.get(&format!("/chats/{}", calm.number)).await.status,
        404
    );
    assert_eq!(
        other
            .get(&format!("/chats/{}/events", calm.number))
            .await
            .status,
        404
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pick_up_answer_and_hear_the_citizen_live() {
    let env = Env::start().await;
    let officer = env.account("off.ana", StaffRole::Officer, PARIS);
    let session = env.login(&officer, &Route::paris()).await;
    let case = chat_case(&env, PARIS, Priority::P3, "Bună ziua, am o întrebare.");
    let mut citizen = env.hub.connect_citizen(case.id).unwrap();
    let url = format!("/chats/{}", case.number);

    let page = session.get(&url).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Bună ziua, am o întrebare."));
    assert!(page.body.contains("Pick up this chat"));
    let version = field(&page.body, "version").unwrap();
    let mut events = session
        .open(Req::get(format!("{url}/events")))
        .await
        .into_body();

    // A pickup without the CSRF token is refused; with it, the case is claimed.
    let forged = session
        .send(same_origin(Req::form(
            format!("{url}/pickup"),
            &[("version", version.as_str())],
        )))
        .await;
    assert_eq!(forged.status, 403);
    let picked = session
        .post(&format!("{url}/pickup"), &[("version", version.as_str())])
        .await;
    assert!(
        picked.status.is_redirection(),
        "{} {}",
        picked.status,
        picked.body
    );
    let now = env.case_now(case);
    assert_eq!(now.assignee.unwrap().as_str(), "off.ana");
    let joined = tokio::time::timeout(Duration::from_secs(2), citizen.rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(joined, chat::ToCitizen::Joined { .. }),
        "{joined:?}"
    );
    let (heard, seen) = read_until(&mut events, "\"joined\"", Duration::from_secs(2)).await;
    assert!(heard, "{seen:?}");

    // The citizen writes and types: the agent's stream hears both.
    env.hub.to_agents(
        case.id,
        chat::ToAgent::Message {
            id: 1,
            text: "Mulțumesc!".into(),
            at: 0,
        },
    );
    let (heard, seen) = read_until(&mut events, "Mulțumesc!", Duration::from_secs(2)).await;
    assert!(heard, "{seen:?}");

    // The agent answers: stored as an external outbound chat message, delivered live.
    let sent = session
        .send(
            same_origin(Req::form(
                format!("{url}/send"),
                &[("csrf", session.csrf.as_str()), ("body", "Vă ascult.")],
            ))
            .header("accept", "application/json"),
        )
        .await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    assert!(sent.body.contains("\"delivered\":true"), "{}", sent.body);
    let got = citizen.rx.recv().await.unwrap();
    match got {
        chat::ToCitizen::Message { line } => {
            assert_eq!(line.text, "Vă ascult.");
            assert_eq!(line.from, "agent");
        }
        other => panic!("{other:?}"),
    }
    let messages = env.store.messages(case.id, None).unwrap();
    let last = messages.last().unwrap();
    assert_eq!(last.body.as_str(), "Vă ascult.");
    assert_eq!(
        (last.direction, last.visibility, last.channel),
        (Direction::Out, Visibility::External, Channel::Chat)
    );

    // Typing reaches the citizen's window.
    let typing = session.post(&format!("{url}/typing"), &[]).await;
    assert_eq!(typing.status, 204);
    assert_eq!(citizen.rx.recv().await.unwrap(), chat::ToCitizen::Typing);

    // With the window closed the message is still stored, and said not delivered.
    drop(citizen);
    let sent = session
        .send(
            same_origin(Req::form(
                format!("{url}/send"),
                &[("csrf", session.csrf.as_str()), ("body", "Sunteți acolo?")],
            ))
            .header("accept", "application/json"),
        )
        .await;
    assert!(sent.body.contains("\"delivered\":false"), "{}", sent.body);
    assert_eq!(
        env.store
            .messages(case.id, None)
            .unwrap()
            .last()
            .unwrap()
            .body
            .as_str(),
        "Sunteți acolo?"
    );
}
