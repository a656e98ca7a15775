//! The signed-in agent of a request: the session cookie, checked against the path the
//! request came through, and the account behind it, read fresh so that disabling an account
//! ends its sessions at their next request.

use std::time::Instant;

use access::{AccessPath, Staff};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use casestore::AgentId;
use staffauth::{SessionError, SessionView};

use crate::errors::Failure;
use crate::{App, Via};

/// The session cookie's name.
pub(crate) const COOKIE: &str = "lg_console";

/// The longest cookie header looked at; a real one is far shorter.
const MAX_COOKIE_HEADER: usize = 8 * 1024;

/// A signed-in agent.
#[derive(Debug)]
pub(crate) struct Agent {
    pub(crate) staff: Staff,
    pub(crate) name: String,
    pub(crate) session: SessionView,
    pub(crate) path: AccessPath,
    pub(crate) cookie: String,
}

impl Agent {
    pub(crate) fn actor(&self) -> casestore::Actor {
        casestore::Actor::Agent(self.staff.id.clone())
    }

    /// The audit log's name for this agent and where they are.
    pub(crate) fn audit_actor(&self) -> String {
        format!("staff:{}@{}", self.staff.id, self.path.key())
    }
}

/// The path of a request, from its connect info.
pub(crate) fn via(parts: &Parts) -> Result<Via, Failure> {
    parts
        .extensions
        .get::<ConnectInfo<Via>>()
        .map(|ConnectInfo(via)| via.clone())
        .ok_or_else(|| Failure::internal("a request without connect info"))
}

/// The value of our cookie in a request, if any.
pub(crate) fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter(|v| v.len() <= MAX_COOKIE_HEADER)
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == COOKIE && !value.is_empty() && value.len() <= 128).then(|| value.to_owned())
        })
}

/// The `Set-Cookie` value that starts a session.
pub(crate) fn set_cookie(value: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict{secure}")
}

/// The `Set-Cookie` value that ends one.
pub(crate) fn clear_cookie(secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}")
}

/// Why there is no agent: a page shows the sign-in form instead.
#[derive(Debug)]
pub(crate) enum NoAgent {
    SignIn,
    Failed(Failure),
}

impl IntoResponse for NoAgent {
    fn into_response(self) -> Response {
        match self {
            NoAgent::SignIn => Redirect::to("/login").into_response(),
            NoAgent::Failed(failure) => failure.into_response(),
        }
    }
}

impl FromRequestParts<App> for Agent {
    type Rejection = NoAgent;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, NoAgent> {
        let via = via(parts).map_err(NoAgent::Failed)?;
        let path = via.path();
        let cookie = cookie(&parts.headers).ok_or(NoAgent::SignIn)?;
        let session = match app.sessions.get(&cookie, &path.key(), Instant::now()) {
            Ok(session) => session,
            Err(SessionError::WrongPath) => {
                app.audit(
                    audit::Event::new(
                        "console.session.wrong_path",
                        path.key(),
                        "session",
                        "denied",
                    )
                    .with("why", "a session cookie came through another path; revoked"),
                );
                return Err(NoAgent::SignIn);
            }
            Err(_) => return Err(NoAgent::SignIn),
        };
        let id = AgentId::new(&session.staff).map_err(|_| NoAgent::SignIn)?;
        let store = app.store.clone();
        let lookup = id.clone();
        let account = tokio::task::spawn_blocking(move || store.staff(&lookup))
            .await
            .map_err(|e| NoAgent::Failed(Failure::internal(e)))?
            .map_err(|e| NoAgent::Failed(Failure::from(e)))?;
        let Some(account) = account.filter(|a| !a.disabled) else {
            app.sessions.revoke_staff(id.as_str());
            return Err(NoAgent::SignIn);
        };
        Ok(Agent {
            staff: Staff {
                id,
                role: account.role,
                consulate: account.consulate,
            },
            name: account.display_name.to_string(),
            session,
            path,
            cookie,
        })
    }
}
