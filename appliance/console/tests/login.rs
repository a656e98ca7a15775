//! Signing in: the session cookie, one answer for every wrong credential, TOTP replay,
//! lockout, and the audit entry every attempt leaves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/harness.rs"]
mod support;

use casestore::StaffRole;
use support::{Env, PARIS, PASSWORD, Req, Route, session_cookie};

/// The login outcomes recorded for `account`, in order.
fn outcomes(env: &Env, account: &str) -> Vec<String> {
    env.audit_of("console.login")
        .iter()
        .filter(|e| e["actor"] == format!("staff:{account}"))
        .map(|e| e["outcome"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_sets_a_strict_http_only_cookie_and_lands_on_the_queues() {
    let env = Env::start().await;
    let officer = env.account("off.ana", StaffRole::Officer, PARIS);
    let paris = Route::paris();

    let response = env
        .try_login(&paris, &officer.id, PASSWORD, &officer.code())
        .await;
    assert!(response.status.is_redirection(), "{}", response.status);
    assert_eq!(response.location(), Some("/"));
    let set = response.header("set-cookie").expect("a session cookie");
    let attributes: Vec<&str> = set.split(';').map(str::trim).collect();
    assert!(attributes.contains(&"HttpOnly"), "{set}");
    assert!(attributes.contains(&"SameSite=Strict"), "{set}");
    assert!(attributes.contains(&"Path=/"), "{set}");
    let cookie = session_cookie(&response).unwrap();

    // The browser follows the redirect with its new cookie and lands on a queue.
    let target = env.target(&paris);
    let with_cookie = |path: &str| Req::get(path).header("cookie", format!("lg_console={cookie}"));
    let home = target.send(with_cookie("/")).await;
    assert!(home.status.is_redirection());
    let queue_url = home.location().unwrap().to_owned();
    assert!(queue_url.starts_with("/queues/"), "{queue_url}");
    let queue = target.send(with_cookie(&queue_url)).await;
    assert_eq!(queue.status, 200);
    assert!(
        queue
            .body
            .contains("aria-current=\"page\" data-queue=\"unassigned\""),
        "{}",
        queue.body
    );
    assert!(queue.body.contains("Test off.ana"));

    // Without the cookie the same page sends the browser to sign in.
    assert!(target.send(Req::get(&queue_url)).await.is_sign_in());
    assert_eq!(outcomes(&env, "off.ana"), ["ok"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_a_wrong_code_and_an_unknown_account_answer_alike() {
    let env = Env::start().await;
    let officer = env.account("off.ana", StaffRole::Officer, PARIS);
    let paris = Route::paris();

    let wrong_password = env
        .try_login(&paris, &officer.id, "not the password", &officer.code())
        .await;
    let wrong_code = env
        .try_login(&paris, &officer.id, PASSWORD, &officer.wrong_code())
        .await;
    let unknown = env
        .try_login(&paris, "nobody.here", PASSWORD, &officer.code())
        .await;
    let impossible = env
        .try_login(&paris, "no such <account>", PASSWORD, &officer.code())
        .await;

    for refused in [&wrong_password, &wrong_code, &unknown, &impossible] {
        assert_eq!(refused.status, 401);
        assert!(refused.header("set-cookie").is_none());
        assert!(
            refused
                .body
                .contains("The account, password or code is wrong."),
            "{}",
            refused.body
        );
    }
    // Not a byte tells them apart.
    assert_eq!(wrong_password.body, wrong_code.body);
    assert_eq!(wrong_password.body, unknown.body);
    assert_eq!(wrong_password.body, impossible.body);

    assert_eq!(outcomes(&env, "off.ana"), ["wrong_password", "wrong_code"]);
    assert_eq!(outcomes(&env, "nobody.here"), ["unknown_account"]);
    // A name no account can have is recorded without echoing it.
    assert_eq!(outcomes(&env, "?"), ["unknown_account"]);
    // Every entry says which path the attempt came through.
    for entry in env.audit_of("console.login") {
        assert_eq!(entry["subject"], "appliance:ro-emb-paris/PAR-01");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_used_once_cannot_be_used_again() {
    let env = Env::start().await;
    let officer = env.account("off.ana", StaffRole::Officer, PARIS);
    let code = officer.code();

    let first = env
        .try_login(&Route::paris(), &officer.id, PASSWORD, &code)
        .await;
    assert!(first.status.is_redirection());
    // Someone who watched the code being typed tries it, from the central network too.
    let again = env
        .try_login(&Route::Central, &officer.id, PASSWORD, &code)
        .await;
    assert_eq!(again.status, 401);
    assert!(again.header("set-cookie").is_none());
    assert!(
        again
            .body
            .contains("The account, password or code is wrong.")
    );
    assert_eq!(outcomes(&env, "off.ana"), ["ok", "replayed_code"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_failures_lock_the_account_even_against_the_right_password() {
    let env = Env::start().await;
    let officer = env.account("off.ana", StaffRole::Officer, PARIS);
    let paris = Route::paris();

    for _ in 0..5 {
        let refused = env
            .try_login(&paris, &officer.id, "guess", &officer.code())
            .await;
        assert_eq!(refused.status, 401);
    }
    let right = env
        .try_login(&paris, &officer.id, PASSWORD, &officer.code())
        .await;
    assert_eq!(right.status, 403);
    assert!(right.header("set-cookie").is_none());
    assert!(right.body.contains("locked"), "{}", right.body);

    assert_eq!(
        outcomes(&env, "off.ana"),
        [
            "wrong_password",
            "wrong_password",
            "wrong_password",
            "wrong_password",
            "wrong_password",
            "locked"
        ]
    );
    let attempts = env.audit_of("console.login");
    assert_eq!(attempts[3]["detail"]["locked"], false);
    assert_eq!(attempts[4]["detail"]["locked"], true);
    let account = env
        .store
        .staff(&casestore::AgentId::new("off.ana").unwrap())
        .unwrap()
        .unwrap();
    assert!(account.locked_until.is_some());
    assert!(account.last_login_at.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_from_one_appliance_is_slowed_down_without_locking_out_others() {
    let env = Env::start().await;
    let officer = env.account("off.ana", StaffRole::Officer, PARIS);
    let colleague = env.account("off.dan", StaffRole::Officer, PARIS);
    let paris = Route::paris();

    // Ten guesses at ten different names: no account is locked, but the appliance's budget
    // is spent.
    for n in 0..10 {
        let refused = env
            .try_login(&paris, &format!("guess.{n}"), "guess", "000000")
            .await;
        assert_eq!(refused.status, 401);
    }
    let limited = env
        .try_login(&paris, &officer.id, PASSWORD, &officer.code())
        .await;
    assert_eq!(limited.status, 429);
    assert!(limited.body.contains("Too many sign-in attempts"));
    assert_eq!(outcomes(&env, "?"), ["rate_limited"]);
    // The rest of the network is not affected.
    env.login(&colleague, &Route::Central).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_sign_ins_racing_with_one_code_only_one_gets_in() {
    let env = Env::start().await;
    let officer = env.account("off.ana", StaffRole::Officer, PARIS);
    let code = officer.code();
    let paris = Route::paris();
    let (a, b) = tokio::join!(
        env.try_login(&paris, &officer.id, PASSWORD, &code),
        env.try_login(&Route::Central, &officer.id, PASSWORD, &code),
    );
    let cookies = [&a, &b]
        .iter()
        .filter(|r| session_cookie(r).is_some())
        .count();
    assert_eq!(cookies, 1, "{} and {}", a.status, b.status);
    let mut seen = outcomes(&env, "off.ana");
    seen.sort();
    assert_eq!(seen, ["ok", "replayed_code"]);
}
