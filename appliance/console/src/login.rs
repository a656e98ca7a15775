//! Sign-in and sign-out. One form takes the account, the password and the current TOTP code,
//! so a wrong value never tells which part was wrong. Every attempt is audited; repeated
//! failures lock the account; attempts per path are rate-limited before any work is done.

use std::time::Instant;

use axum::Form;
use axum::extract::{ConnectInfo, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use casestore::AgentId;
use minijinja::context;
use serde::Deserialize;
use staffauth::{TotpError, TotpSecret};

use crate::errors::Failure;
use crate::session::{self, Agent};
use crate::{App, Via, now, unix_secs};

/// The one message for a wrong account, password or code.
const WRONG: &str = "The account, password or code is wrong.";

/// The message for an account that may not sign in now whatever it sends.
const LOCKED: &str = "This account is locked after repeated failures or disabled; try again \
                      later or ask an administrator.";

pub(crate) async fn page(State(app): State<App>) -> Response {
    app.pages.page(
        StatusCode::OK,
        "login.html",
        context! { error => None::<&str> },
    )
}

#[derive(Debug, Deserialize)]
pub(crate) struct LoginForm {
    account: Option<String>,
    password: Option<String>,
    code: Option<String>,
}

pub(crate) async fn submit(
    State(app): State<App>,
    ConnectInfo(via): ConnectInfo<Via>,
    Form(form): Form<LoginForm>,
) -> Response {
    match sign_in(&app, &via, form).await {
        Ok(cookie) => (
            [(
                header::SET_COOKIE,
                session::set_cookie(&cookie, app.settings.secure_cookies),
            )],
            Redirect::to("/"),
        )
            .into_response(),
        Err(Refused::Form(status, why)) => {
            app.pages
                .page(status, "login.html", context! { error => Some(why) })
        }
        Err(Refused::Failed(failure)) => failure.into_response(),
    }
}

enum Refused {
    Form(StatusCode, &'static str),
    Failed(Failure),
}

impl From<Failure> for Refused {
    fn from(failure: Failure) -> Self {
        Refused::Failed(failure)
    }
}

async fn sign_in(app: &App, via: &Via, form: LoginForm) -> Result<String, Refused> {
    let path = via.path();
    let attempt = |outcome: &str, account: &str| {
        audit::Event::new(
            "console.login",
            format!("staff:{account}"),
            path.key(),
            outcome,
        )
    };
    if !app.limiter.check(&via.limit_key(), Instant::now()) {
        app.audit(attempt("rate_limited", "?"));
        return Err(Refused::Form(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many sign-in attempts from here; wait a minute and try again.",
        ));
    }
    // Attempts that name no possible account are audited too, under `?`: the log never
    // carries a string the account rules would not accept.
    let (Some(account), Some(password), Some(code)) = (form.account, form.password, form.code)
    else {
        app.audit(attempt("malformed", "?"));
        return Err(Refused::Form(StatusCode::BAD_REQUEST, WRONG));
    };
    if account.len() > 64 || password.len() > 1024 || code.len() > 16 {
        app.audit(attempt("malformed", "?"));
        return Err(Refused::Form(StatusCode::BAD_REQUEST, WRONG));
    }
    let Ok(id) = AgentId::new(account.trim()) else {
        spawn(move || staffauth::burn_verify(&password)).await?;
        app.audit(attempt("unknown_account", "?"));
        return Err(Refused::Form(StatusCode::UNAUTHORIZED, WRONG));
    };
    let store = app.store.clone();
    let lookup = id.clone();
    let record = spawn(move || store.staff(&lookup))
        .await?
        .map_err(Failure::from)?;
    let Some(record) = record else {
        spawn(move || staffauth::burn_verify(&password)).await?;
        app.audit(attempt("unknown_account", id.as_str()));
        return Err(Refused::Form(StatusCode::UNAUTHORIZED, WRONG));
    };
    let phc = record.password_phc.as_str().to_owned();
    let password_ok = spawn(move || staffauth::verify_password(&phc, &password)).await?;
    let at = now();
    if record.disabled || record.is_locked(at) {
        app.audit(attempt("locked", id.as_str()));
        return Err(Refused::Form(StatusCode::FORBIDDEN, LOCKED));
    }
    let secret = record
        .totp_secret
        .as_ref()
        .and_then(|s| TotpSecret::from_bytes(s.as_bytes()));
    let totp = match (&secret, password_ok) {
        (Some(secret), true) => {
            staffauth::totp_verify(secret, code.trim(), unix_secs(), record.totp_last_step)
        }
        _ => Err(TotpError::Wrong),
    };
    let step = match totp {
        Ok(step) => step,
        Err(error) => {
            let policy = app.settings.lockout;
            let store = app.store.clone();
            let failed = id.clone();
            let state = spawn(move || {
                store.login_failed(
                    &failed,
                    at,
                    policy.max_failures,
                    i64::try_from(policy.lock_for.as_millis()).unwrap_or(i64::MAX),
                )
            })
            .await?
            .map_err(Failure::internal)?;
            let outcome = match (password_ok, error) {
                (false, _) => "wrong_password",
                (true, TotpError::Replayed) => "replayed_code",
                (true, _) => "wrong_code",
            };
            app.audit(attempt(outcome, id.as_str()).with("locked", state.is_locked()));
            return Err(Refused::Form(StatusCode::UNAUTHORIZED, WRONG));
        }
    };
    let staff = access::Staff {
        id: id.clone(),
        role: record.role,
        consulate: record.consulate.clone(),
    };
    if let Err(denied) = app.policy.may_log_in(&staff, &path) {
        app.audit(attempt("wrong_path", id.as_str()).with("why", denied.to_string()));
        return Err(Refused::Form(
            StatusCode::FORBIDDEN,
            "This account cannot sign in through this appliance. Use an appliance of your \
             own mission or the central network.",
        ));
    }
    let store = app.store.clone();
    let succeeded = id.clone();
    // The store checks again in the transaction that records the step: of two sign-ins racing
    // with one code, or one racing a lockout, only one can win, and the loser is audited too.
    let recorded = spawn(move || store.login_succeeded(&succeeded, step, at)).await?;
    match recorded {
        Ok(()) => {}
        Err(casestore::StaffError::ReplayedCode { .. }) => {
            app.audit(attempt("replayed_code", id.as_str()));
            return Err(Refused::Form(StatusCode::UNAUTHORIZED, WRONG));
        }
        Err(casestore::StaffError::Locked { .. } | casestore::StaffError::Disabled) => {
            app.audit(attempt("locked", id.as_str()));
            return Err(Refused::Form(StatusCode::FORBIDDEN, LOCKED));
        }
        Err(other) => return Err(Failure::internal(other).into()),
    }
    let created = app
        .sessions
        .create(id.as_str(), &path.key(), Instant::now());
    app.audit(attempt("ok", id.as_str()));
    Ok(created.cookie)
}

pub(crate) async fn logout(
    State(app): State<App>,
    agent: Agent,
    Form(form): Form<crate::forms::CsrfOnly>,
) -> Response {
    if let Err(failure) = crate::forms::check_csrf(&agent, form.csrf.as_deref()) {
        return failure.into_response();
    }
    app.sessions.revoke(&agent.cookie);
    app.audit(audit::Event::new(
        "console.logout",
        agent.audit_actor(),
        "session",
        "ok",
    ));
    (
        [(
            header::SET_COOKIE,
            session::clear_cookie(app.settings.secure_cookies),
        )],
        Redirect::to("/login"),
    )
        .into_response()
}

/// Runs blocking work (the store, argon2) off the async threads.
pub(crate) async fn spawn<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Failure> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(Failure::internal)
}
