//! Path binding: an account signs in only through its own mission's appliances or the central
//! network, and a session works only on the path it was opened through.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/harness.rs"]
mod support;

use casestore::StaffRole;
use support::{CENTRAL, Env, PARIS, PASSWORD, Route};

const WRONG_PATH: &str = "This account cannot sign in through this appliance.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paris_officer_signs_in_through_paris_or_central_but_not_through_berlin() {
    let env = Env::start().await;
    let at_embassy = env.account("off.ana", StaffRole::Officer, PARIS);
    let at_home = env.account("off.dan", StaffRole::Officer, PARIS);

    let berlin = env
        .try_login(
            &Route::berlin(),
            &at_embassy.id,
            PASSWORD,
            &at_embassy.code(),
        )
        .await;
    assert_eq!(berlin.status, 403);
    assert!(berlin.header("set-cookie").is_none());
    assert!(berlin.body.contains(WRONG_PATH), "{}", berlin.body);

    // The same account, the same code, through its own mission: allowed.
    let paris = env.login(&at_embassy, &Route::paris()).await;
    let page = paris.get("/queues/unassigned").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains("appliance PAR-01 of mission ro-emb-paris")
    );

    let central = env.login(&at_home, &Route::Central).await;
    let page = central.get("/queues/unassigned").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("the central network"));

    let refused: Vec<_> = env
        .audit_of("console.login")
        .into_iter()
        .filter(|e| e["outcome"] == "wrong_path")
        .collect();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0]["actor"], "staff:off.ana");
    assert_eq!(refused[0]["subject"], "appliance:ro-emb-berlin/BER-01");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn central_staff_sign_in_only_from_the_central_network() {
    let env = Env::start().await;
    let operator = env.account("op.ioana", StaffRole::Operator, CENTRAL);
    let supervisor = env.account("sup.mihai", StaffRole::Supervisor, CENTRAL);

    for (account, route) in [
        (&operator, Route::paris()),
        (&operator, Route::berlin()),
        (&supervisor, Route::paris()),
    ] {
        let refused = env
            .try_login(&route, &account.id, PASSWORD, &account.code())
            .await;
        assert_eq!(refused.status, 403, "{} through {route:?}", account.id);
        assert!(refused.header("set-cookie").is_none());
        assert!(refused.body.contains(WRONG_PATH));
    }
    let session = env.login(&operator, &Route::Central).await;
    assert_eq!(session.get("/queues/unassigned").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cookie_replayed_through_another_path_is_refused_and_revoked() {
    let env = Env::start().await;
    let to_central = env.account("off.ana", StaffRole::Officer, PARIS);
    let to_berlin = env.account("off.dan", StaffRole::Officer, PARIS);

    for (account, elsewhere, key) in [
        (&to_central, Route::Central, "central"),
        (
            &to_berlin,
            Route::berlin(),
            "appliance:ro-emb-berlin/BER-01",
        ),
    ] {
        let session = env.login(account, &Route::paris()).await;
        assert_eq!(session.get("/queues/unassigned").await.status, 200);

        let stolen = session.through(env.target(&elsewhere));
        let replayed = stolen.get("/queues/unassigned").await;
        assert!(replayed.is_sign_in(), "{key}: {}", replayed.status);
        assert!(!replayed.body.contains("data-case"));

        // The session is gone for its owner too: whoever holds the cookie is suspect.
        let after = session.get("/queues/unassigned").await;
        assert!(after.is_sign_in(), "{key}: the session survived its replay");

        let reported = env
            .audit_of("console.session.wrong_path")
            .into_iter()
            .any(|e| e["actor"] == key && e["outcome"] == "denied");
        assert!(reported, "no audit entry for the replay through {key}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_change_through_another_path_changes_nothing() {
    let env = Env::start().await;
    let officer = env.account("off.ana", StaffRole::Officer, PARIS);
    let case = env.case(PARIS, casestore::Sensitivity::Normal);
    let session = env.login(&officer, &Route::paris()).await;
    let (_, version) = session.open_case(case).await;

    let stolen = session.through(env.target(&Route::Central));
    let reply = stolen
        .post(
            &format!("{}/reply", case.url()),
            &[("version", &version.to_string()), ("body", "Hello")],
        )
        .await;
    assert!(reply.is_sign_in(), "{}", reply.status);
    assert_eq!(env.case_now(case).version, version);
}
