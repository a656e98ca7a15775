//! Sessions end when they should (forged, idle, too old, signed out), and a state change
//! needs the session's CSRF token and a same-origin request.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/harness.rs"]
mod support;

use std::time::{Duration, Instant};

use casestore::{Sensitivity, StaffRole, Visibility};
use support::{Env, PARIS, Req, Route, same_origin};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_cookie_is_sent_to_sign_in() {
    let env = Env::start().await;
    let officer = env.account("off.ana", StaffRole::Officer, PARIS);
    let real = env.login(&officer, &Route::paris()).await;
    assert_eq!(real.get("/queues/unassigned").await.status, 200);

    // The right shape (43 characters of base64url), but not a session the console made; and
    // a value of the wrong shape.
    let mut forged_value = real.cookie.clone();
    let last = forged_value.pop().unwrap();
    forged_value.push(if last == 'A' { 'B' } else { 'A' });
    for value in [forged_value.as_str(), "admin", "../../etc/passwd"] {
        let mut forged = real.clone();
        forged.cookie = value.to_owned();
        for path in ["/queues/unassigned", "/kb", "/dashboard", "/events"] {
            let response = forged.get(path).await;
            assert!(
                response.is_sign_in(),
                "{path} with cookie {value:?}: {}",
                response.status
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_session_ends() {
    let env = Env::with(|s| {
        s.sessions.idle = Duration::from_secs(1);
        s.sessions.absolute = Duration::from_secs(30);
    })
    .await;
    let officer = env.account("off.ana", StaffRole::Officer, PARIS);
    let session = env.login(&officer, &Route::paris()).await;
    assert_eq!(session.get("/queues/unassigned").await.status, 200);

    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert!(session.get("/queues/unassigned").await.is_sign_in());
    // And it stays ended: the session was removed, not merely refused once.
    assert!(session.get("/kb").await.is_sign_in());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_ends_at_its_absolute_limit_however_busy() {
    let env = Env::with(|s| {
        s.sessions.idle = Duration::from_secs(1);
        s.sessions.absolute = Duration::from_secs(3);
    })
    .await;
    let officer = env.account("off.ana", StaffRole::Officer, PARIS);
    let started = Instant::now();
    let session = env.login(&officer, &Route::paris()).await;

    let ended_at = loop {
        let response = session.get("/queues/unassigned").await;
        let age = started.elapsed();
        if response.is_sign_in() {
            break age;
        }
        assert_eq!(response.status, 200);
        assert!(
            age < Duration::from_secs(5),
            "still signed in after {age:?}"
        );
        // Well within the idle limit: the agent is busy.
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert!(
        ended_at >= Duration::from_millis(2500),
        "ended after only {ended_at:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_change_without_the_token_or_from_another_site_changes_nothing() {
    let env = Env::start().await;
    let officer = env.account("off.ana", StaffRole::Officer, PARIS);
    let case = env.case(PARIS, Sensitivity::Normal);
    let session = env.login(&officer, &Route::paris()).await;
    let (_, version) = session.open_case(case).await;
    let version = version.to_string();
    let url = format!("{}/reply", case.url());
    let reply = |csrf: Option<&str>| {
        let mut fields = vec![("version", version.as_str()), ("body", "Forged reply")];
        if let Some(token) = csrf {
            fields.push(("csrf", token));
        }
        Req::form(&url, &fields)
    };
    let token = session.csrf.clone();
    let attempts = [
        ("no token", same_origin(reply(None))),
        (
            "a wrong token",
            same_origin(reply(Some("x".repeat(43).as_str()))),
        ),
        (
            "another session's token format",
            same_origin(reply(Some(""))),
        ),
        (
            "cross-site",
            reply(Some(&token)).header("sec-fetch-site", "cross-site"),
        ),
        (
            "a foreign origin",
            reply(Some(&token)).header("origin", "https://evil.example"),
        ),
        (
            "an origin on another port",
            reply(Some(&token)).header("origin", "http://console.test:8080"),
        ),
    ];
    for (what, request) in attempts {
        let response = session.send(request).await;
        assert_eq!(response.status, 403, "{what}: {}", response.body);
    }
    let after = env.case_now(case);
    assert_eq!(after.version.to_string(), version);
    let replies = env
        .store
        .messages(case.id, Some(Visibility::External))
        .unwrap();
    assert!(replies.iter().all(|m| m.body.as_str() != "Forged reply"));
    // The three forms without a valid token reached the console and are audited against the
    // case; the cross-site ones were stopped before any session was looked at.
    let refused: Vec<_> = env
        .audit_of("console.case.refused")
        .into_iter()
        .filter(|e| e["subject"] == case.number.to_string())
        .collect();
    assert_eq!(refused.len(), 3, "{refused:?}");

    // The same form with the token, from the console's own page, goes through.
    let response = session.send(same_origin(reply(Some(&token)))).await;
    assert!(response.status.is_redirection(), "{}", response.body);
    assert_ne!(env.case_now(case).version.to_string(), version);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_ends_the_session() {
    let env = Env::start().await;
    let officer = env.account("off.ana", StaffRole::Officer, PARIS);
    let session = env.login(&officer, &Route::paris()).await;

    // Without the token a third-party page cannot sign the agent out.
    let refused = session.send(same_origin(Req::form("/logout", &[]))).await;
    assert_eq!(refused.status, 403);
    assert_eq!(session.get("/queues/unassigned").await.status, 200);

    let out = session.post("/logout", &[]).await;
    assert!(out.is_sign_in(), "{}", out.status);
    let cleared = out.header("set-cookie").unwrap();
    assert!(cleared.starts_with("lg_console=;"), "{cleared}");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    // A copy of the cookie kept elsewhere no longer opens anything.
    assert!(session.get("/queues/unassigned").await.is_sign_in());
    let logged: Vec<_> = env.audit_of("console.logout");
    assert_eq!(logged.len(), 1);
    assert_eq!(
        logged[0]["actor"],
        "staff:off.ana@appliance:ro-emb-paris/PAR-01"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_an_account_ends_its_sessions_at_the_next_request() {
    let env = Env::start().await;
    let officer = env.account("off.ana", StaffRole::Officer, PARIS);
    let session = env.login(&officer, &Route::paris()).await;
    assert_eq!(session.get("/queues/unassigned").await.status, 200);

    let id = casestore::AgentId::new("off.ana").unwrap();
    env.store.set_disabled(&id, true).unwrap();
    assert!(session.get("/queues/unassigned").await.is_sign_in());
    // Enabling it again does not bring the old session back.
    env.store.set_disabled(&id, false).unwrap();
    assert!(session.get("/queues/unassigned").await.is_sign_in());
}
