//! Live queues: a change committed by another writer reaches open consoles as an SSE
//! `changed` event, and the rows fragment the page then fetches shows it, within the agent's
//! reach.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/harness.rs"]
mod support;

use std::time::Duration;

use casestore::{Priority, Sensitivity, StaffRole};
use support::http::read_until;
use support::{BERLIN, Env, PARIS, Req, Route, row_numbers};

const CHANGED: &str = "event: changed";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_case_reaches_an_open_queue_within_seconds() {
    let env = Env::start().await;
    let officer = env.account("off.ana", StaffRole::Officer, PARIS);
    let session = env.login(&officer, &Route::paris()).await;

    let response = session.open(Req::get("/events")).await;
    assert_eq!(response.status(), 200);
    let kind = response.headers()["content-type"].to_str().unwrap();
    assert!(kind.starts_with("text/event-stream"), "{kind}");
    let mut events = response.into_body();

    // Nothing happened since the page opened: no event (the console polls every 50 ms here).
    let (spurious, seen) = read_until(&mut events, CHANGED, Duration::from_millis(600)).await;
    assert!(!spurious, "an event before any change: {seen:?}");

    // Another consulate's case: the event says only that something changed...
    let berlin = env.case(BERLIN, Sensitivity::Normal);
    let (heard, seen) = read_until(&mut events, CHANGED, Duration::from_secs(2)).await;
    assert!(heard, "no event for a new case: {seen:?}");
    assert!(!seen.contains(&berlin.number.to_string()));
    // ...and the fetched rows stay within reach.
    let rows = session.get("/queues/unassigned/rows").await;
    assert_eq!(rows.status, 200);
    assert!(row_numbers(&rows.body).is_empty(), "{}", rows.body);

    let paris = env.case_with(
        PARIS,
        Sensitivity::Normal,
        Priority::P2,
        "Programare, vă rog.",
    );
    let (heard, seen) = read_until(&mut events, CHANGED, Duration::from_secs(2)).await;
    assert!(heard, "no event for the second case: {seen:?}");
    let rows = session.get("/queues/unassigned/rows").await;
    assert_eq!(row_numbers(&rows.body), [paris.number.to_string()]);
    assert!(rows.body.contains("(<span class=\"count\">1</span>)"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_stream_needs_a_session() {
    let env = Env::start().await;
    let response = env.send(&Route::paris(), Req::get("/events")).await;
    assert!(response.is_sign_in(), "{}", response.status);
}
