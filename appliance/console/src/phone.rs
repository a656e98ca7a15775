//! The phone in the console, live when a telephony bridge is attached
//! ([`crate::Console::attach_phones`]):
//!
//! - `GET /phone`: the agent's phone state (logged in, ready or not, ringing, on a call, wrap-up)
//!   with its controls (`POST /phone/{login|logout|ready|not-ready}`), and the **screen pop**:
//!   as a queue call rings at the agent's phone, the caller's number and their case. The case
//!   is shown only if the agent may read it; otherwise the pop says so without naming it.
//! - `GET /phone/panel`: the same panel as a fragment; `GET /phone/events`: `changed` whenever
//!   any phone or queue changed (no content: the browser fetches its own panel again).
//! - `GET /phone/queues`: supervisors' view: each queue's waiting callers, the longest wait,
//!   the service level, and the agents' phone states; consuls see their consulate's queues.
//!
//! A staff member's phone is the SIP account naming them (`staff = "…"` in the agents file).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use access::{CaseAction, StaffAction};
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use futures::Stream;
use minijinja::{Value, context};
use telephony::{AgentView, Telephony};

use crate::case_view::facts;
use crate::errors::Failure;
use crate::forms::{CsrfOnly, check_csrf};
use crate::login::spawn;
use crate::session::Agent;
use crate::{App, now, render};

fn phones(app: &App) -> Result<Arc<Telephony>, Failure> {
    app.phones.get().cloned().ok_or(Failure::NotFound)
}

/// The agent's phone, if they may use one and have one.
fn own_phone(app: &App, agent: &Agent) -> Result<(Arc<Telephony>, Option<String>), Failure> {
    if !app.policy.may(&agent.staff, StaffAction::UsePhone) {
        return Err(Failure::Forbidden("Your role does not answer phone calls."));
    }
    let phones = phones(app)?;
    let sip = phones.agent_of_staff(agent.staff.id.as_str());
    Ok((phones, sip))
}

/// The panel's context: state, and the ringing or current call with its case if readable.
async fn panel_context(app: &App, agent: &Agent) -> Result<Value, Failure> {
    let (phones, sip) = own_phone(app, agent)?;
    let Some(view) = sip.as_deref().and_then(|s| phones.agent(s)) else {
        return Ok(context! { phone => Value::from(()) });
    };
    let call = match &view.call {
        Some(call) => {
            let case = match &call.case {
                Some(no) => readable_case(app, agent, no).await?,
                None => None,
            };
            context! {
                caller => call.caller_number(),
                queue => call.queue,
                emergency => call.emergency,
                language => call.language,
                linked => call.case.is_some(),
                case => case,
            }
        }
        None => Value::from(()),
    };
    Ok(context! { phone => phone_context(&view), call => call })
}

fn phone_context(view: &AgentView) -> Value {
    context! {
        agent => view.agent,
        state => view.state.code(),
        registered => view.registered,
        for_s => view.for_s,
        missed => view.missed,
        languages => view.languages.join(", "),
    }
}

/// The case number and a few facts, if `agent` may read case `no`.
async fn readable_case(app: &App, agent: &Agent, no: &str) -> Result<Option<Value>, Failure> {
    let Ok(number) = no.parse::<casestore::CaseNumber>() else {
        return Ok(None);
    };
    let store = app.store.clone();
    let case = spawn(move || match store.case_id(number)? {
        Some(id) => store.case(id),
        None => Ok(None),
    })
    .await??;
    Ok(case
        .filter(|case| {
            app.policy
                .decide(&agent.staff, &facts(case), CaseAction::Read, None, now())
                .is_allowed()
        })
        .map(|case| {
            context! {
                number => case.case_no.to_string(),
                status => case.status.code(),
                priority => case.priority.code(),
                case_type => case.case_type.code.as_str(),
                consulate => case.consulate.as_str(),
            }
        }))
}

pub(crate) async fn page(State(app): State<App>, agent: Agent) -> Result<Response, Failure> {
    let ctx = panel_context(&app, &agent).await?;
    let ctx = context! { ..render::base(&app.policy, &agent), ..ctx };
    Ok(app.pages.page(StatusCode::OK, "phone.html", ctx))
}

pub(crate) async fn panel(State(app): State<App>, agent: Agent) -> Result<Response, Failure> {
    let ctx = panel_context(&app, &agent).await?;
    let ctx = context! { ..render::base(&app.policy, &agent), ..ctx };
    let html = app.pages.render("phone_panel.html", ctx)?;
    Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response())
}

/// Log in (with the staff member's languages), log out, ready, not ready.
pub(crate) async fn act(
    State(app): State<App>,
    agent: Agent,
    Path(action): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, Failure> {
    check_csrf(&agent, form.csrf.as_deref())?;
    let (phones, sip) = own_phone(&app, &agent)?;
    let Some(sip) = sip else {
        return Err(Failure::Forbidden("No phone is set up for your account."));
    };
    let done = match action.as_str() {
        "login" => {
            let store = app.store.clone();
            let id = agent.staff.id.clone();
            let account = spawn(move || store.staff(&id)).await??;
            let languages: Vec<String> = account
                .map(|a| a.languages.iter().map(|l| l.as_str().to_owned()).collect())
                .unwrap_or_default();
            phones.agent_login(&sip, &languages)
        }
        "logout" => phones.agent_logout(&sip),
        "ready" => phones.agent_ready(&sip, true),
        "not-ready" => phones.agent_ready(&sip, false),
        _ => return Err(Failure::NotFound),
    };
    done.map_err(|e| Failure::BadRequest(format!("The phone refused: {e}.")))?;
    app.audit(audit::Event::new(
        "console.phone",
        agent.audit_actor(),
        sip,
        action.as_str(),
    ));
    Ok(Redirect::to("/phone").into_response())
}

/// `changed` whenever a phone or a queue changed; signed-in agents only, names nothing.
pub(crate) async fn events(
    State(app): State<App>,
    _agent: Agent,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Failure> {
    let mut rx = phones(&app)?.changes();
    rx.mark_unchanged();
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.changed().await.ok()?;
        let generation = *rx.borrow_and_update();
        Some((
            Ok(Event::default()
                .event("changed")
                .data(generation.to_string())),
            rx,
        ))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// The supervisors' view of the queues and the agents.
pub(crate) async fn queues(State(app): State<App>, agent: Agent) -> Result<Response, Failure> {
    if !app.policy.may(&agent.staff, StaffAction::SuperviseCalls) {
        return Err(Failure::Forbidden(
            "The phone queues are for supervisors and consuls.",
        ));
    }
    let scope = app.policy.dashboard_scope(&agent.staff).flatten();
    let phones = phones(&app)?;
    let queues: Vec<Value> = phones
        .queues()
        .into_iter()
        .filter(|q| {
            scope
                .as_ref()
                .is_none_or(|c| q.consulate.as_deref() == Some(c.as_str()))
        })
        .map(|q| {
            let waiting: Vec<Value> = q
                .waiting
                .iter()
                .map(|w| {
                    context! {
                        caller => w.caller, waited_s => w.waited_s, emergency => w.emergency,
                        language => w.language, case => w.case,
                    }
                })
                .collect();
            context! {
                name => q.name, language => q.language, consulate => q.consulate,
                emergency => q.emergency, waiting => waiting, longest_wait_s => q.longest_wait_s,
                offered => q.stats.offered, answered => q.stats.answered,
                abandoned => q.stats.abandoned, refused => q.stats.refused,
                service_level_pct => q.service_level_pct, service_level_s => q.service_level_s,
            }
        })
        .collect();
    // A consul sees the agents of their consulate's queues only when the queue list is
    // narrowed; agents are not tied to a consulate in the bridge, so a consul sees none.
    let agents: Vec<Value> = if scope.is_none() {
        phones.agents().iter().map(phone_context).collect()
    } else {
        Vec::new()
    };
    let ctx = context! { ..render::base(&app.policy, &agent), ..context! { queues => queues, agents => agents } };
    Ok(app.pages.page(StatusCode::OK, "phone_queues.html", ctx))
}

pub(crate) async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        include_str!("../static/phone.js"),
    )
        .into_response()
}
