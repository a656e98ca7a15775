//! The agents' side of the live chat: `GET /chats` lists the chats waiting for an agent within
//! the agent's queue scope (unassigned cases of channel `chat`, emergencies first), with
//! whether the citizen's window is open on this hub; `GET /chats/{number}` is the conversation
//! (the case's messages are the transcript); `POST /chats/{number}/pickup` claims the case;
//! `POST /chats/{number}/send` stores an external outbound message and hands it to the
//! citizen's window; `POST /chats/{number}/typing` says the agent is typing;
//! `GET /chats/{number}/events` streams the chat (server-sent events).
//!
//! The security model is the console's own: pages and streams ask [`reach`] like the case
//! page (a chat the agent may not read is "not found"), every POST needs the session's CSRF
//! token and passes the same-origin check. A chat message is an append and cannot conflict, so
//! `send` does not carry a case version; `pickup` does, like every claim.

use std::convert::Infallible;
use std::time::Duration;

use access::{CaseAction, StaffAction};
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use casestore::{
    Body, Channel, Direction, Expect, NewMessage, QueueFilter, QueueKind, QueueQuery, QueueSort,
    Sensitivities, Visibility,
};
use chat::{Line, ToAgent, ToCitizen};
use futures::Stream;
use minijinja::{Value, context};
use serde::{Deserialize, Serialize};

use crate::case_view::reach;
use crate::errors::Failure;
use crate::forms::check_csrf;
use crate::login::spawn;
use crate::session::Agent;
use crate::{App, render};

#[derive(Debug, Serialize)]
struct ChatRow {
    number: String,
    priority: String,
    emergency: bool,
    status: &'static str,
    consulate: String,
    language: String,
    online: bool,
    created_at: i64,
}

async fn rows_context(app: &App, agent: &Agent) -> Result<Value, Failure> {
    if !app.policy.may(&agent.staff, StaffAction::ViewQueues) {
        return Err(Failure::Forbidden(
            "Your role works on accounts and articles, not on cases.",
        ));
    }
    let scope = app
        .policy
        .queue_scope(&agent.staff)
        .ok_or(Failure::Forbidden("Your role sees no queue."))?;
    let mut query = QueueQuery::first(scope.consulate.clone(), QueueKind::Unassigned);
    query.sensitivities = Sensitivities::of(&scope.sensitivities);
    query.sort = QueueSort::Urgency;
    query.filter = QueueFilter {
        channel: Some(Channel::Chat),
        ..QueueFilter::default()
    };
    let store = app.store.clone();
    let page = spawn(move || store.queue(&query)).await??;
    let live = app
        .chat
        .get()
        .map(|hub| hub.live_cases())
        .unwrap_or_default();
    let rows: Vec<ChatRow> = page
        .cases
        .iter()
        .map(|c| ChatRow {
            number: c.case_no.to_string(),
            priority: crate::forms::priority_code(c.priority),
            emergency: c.priority.is_emergency(),
            status: c.status.code(),
            consulate: c.consulate.to_string(),
            language: c.language.to_string(),
            online: live.contains(&c.id),
            created_at: c.created_at.unix_ms(),
        })
        .collect();
    Ok(context! { ..render::base(&app.policy, agent), ..context! { rows => rows } })
}

pub(crate) async fn list(State(app): State<App>, agent: Agent) -> Result<Response, Failure> {
    let ctx = rows_context(&app, &agent).await?;
    Ok(app.pages.page(StatusCode::OK, "chats.html", ctx))
}

pub(crate) async fn rows(State(app): State<App>, agent: Agent) -> Result<Response, Failure> {
    let ctx = rows_context(&app, &agent).await?;
    let html = app.pages.render("chat_rows.html", ctx)?;
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        axum::response::Html(html),
    )
        .into_response())
}

#[derive(Debug, Serialize)]
struct Said {
    from: &'static str,
    internal: bool,
    author: String,
    text: String,
    at: i64,
}

pub(crate) async fn page(
    State(app): State<App>,
    agent: Agent,
    Path(number): Path<String>,
) -> Result<Response, Failure> {
    let reached = reach(&app, &agent, &number, CaseAction::Read).await?;
    let case = reached.case;
    let store = app.store.clone();
    let messages = spawn(move || store.messages(case.id, None)).await??;
    let said: Vec<Said> = messages
        .iter()
        .map(|m| Said {
            from: if m.direction == Direction::In {
                "citizen"
            } else {
                "agent"
            },
            internal: m.visibility == Visibility::Internal,
            author: m.author.code(),
            text: m.body.to_string(),
            at: m.at.unix_ms(),
        })
        .collect();
    let online = app.chat.get().is_some_and(|hub| hub.is_live(case.id));
    let may_reply = app
        .policy
        .decide(
            &agent.staff,
            &crate::case_view::facts(&case),
            CaseAction::Reply,
            None,
            crate::now(),
        )
        .is_allowed();
    let ctx = context! {
        ..render::base(&app.policy, &agent),
        ..context! {
            number => case.case_no.to_string(),
            version => case.version,
            status => case.status.code(),
            priority => crate::forms::priority_code(case.priority),
            language => case.language.to_string(),
            channel => case.channel.code(),
            assignee => case.assignee.as_ref().map(ToString::to_string),
            mine => case.assignee.as_ref() == Some(&agent.staff.id),
            online => online,
            may_reply => may_reply || reached.via_break_glass,
            messages => said,
        }
    };
    Ok(app.pages.page(StatusCode::OK, "chat.html", ctx))
}

#[derive(Debug, Deserialize)]
pub(crate) struct PickupForm {
    csrf: Option<String>,
    version: Option<u64>,
}

pub(crate) async fn pickup(
    State(app): State<App>,
    agent: Agent,
    Path(number): Path<String>,
    Form(form): Form<PickupForm>,
) -> Result<Response, Failure> {
    check_csrf(&agent, form.csrf.as_deref())?;
    let reached = reach(&app, &agent, &number, CaseAction::Claim).await?;
    let expect = form
        .version
        .map(Expect::Version)
        .ok_or_else(|| Failure::BadRequest("the form has no case version".to_owned()))?;
    let (store, id, me, actor) = (
        app.store.clone(),
        reached.case.id,
        agent.staff.id.clone(),
        agent.actor(),
    );
    match spawn(move || store.assign(id, Some(&me), &actor, expect)).await? {
        Ok(()) => {}
        Err(casestore::WriteError::Conflict { .. }) => {
            return Err(Failure::Conflict(
                "Someone else changed this chat first (perhaps picked it up); reload the page.",
            ));
        }
        Err(error) => return Err(Failure::internal(error)),
    }
    if let Some(hub) = app.chat.get() {
        hub.picked_up(id, &agent.name);
    }
    app.audit(
        audit::Event::new(
            "console.case.change",
            agent.audit_actor(),
            reached.case.case_no.to_string(),
            "ok",
        )
        .with("action", "chat.pickup")
        .with("detail", "claimed")
        .with("via_break_glass", reached.via_break_glass),
    );
    Ok(Redirect::to(&format!("/chats/{}", reached.case.case_no)).into_response())
}

#[derive(Debug, Deserialize)]
pub(crate) struct SendForm {
    csrf: Option<String>,
    body: Option<String>,
}

pub(crate) async fn send(
    State(app): State<App>,
    agent: Agent,
    Path(number): Path<String>,
    headers: HeaderMap,
    Form(form): Form<SendForm>,
) -> Result<Response, Failure> {
    check_csrf(&agent, form.csrf.as_deref())?;
    let reached = reach(&app, &agent, &number, CaseAction::Reply).await?;
    let text = crate::forms::text(form.body.as_deref(), "A message")?.to_owned();
    if text.len() > chat::MAX_TEXT {
        return Err(Failure::BadRequest(format!(
            "A chat message is at most {} bytes; split it.",
            chat::MAX_TEXT
        )));
    }
    let case = reached.case.clone();
    let message = NewMessage {
        direction: Direction::Out,
        channel: Channel::Chat,
        author: agent.actor(),
        visibility: Visibility::External,
        language: case.language.clone(),
        body: Body::new(text.clone()).map_err(|e| Failure::BadRequest(e.to_string()))?,
        attachments: Vec::new(),
    };
    let store = app.store.clone();
    let id = spawn(move || store.add_message(case.id, &message, Expect::Any))
        .await?
        .map_err(Failure::internal)?;
    let at = crate::now().unix_ms();
    let delivered = app.chat.get().is_some_and(|hub| {
        let delivered = hub.to_citizen(
            case.id,
            ToCitizen::Message {
                line: Line {
                    from: "agent",
                    name: agent.name.clone(),
                    text: text.clone(),
                    at,
                },
            },
        );
        hub.to_agents(
            case.id,
            ToAgent::Sent {
                id: id.get(),
                name: agent.name.clone(),
                text: text.clone(),
                at,
                delivered,
            },
        );
        delivered
    });
    app.audit(
        audit::Event::new(
            "console.case.change",
            agent.audit_actor(),
            case.case_no.to_string(),
            "ok",
        )
        .with("action", "chat.send")
        .with("detail", format!("message {}", id.get()))
        .with("via_break_glass", reached.via_break_glass),
    );
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    if wants_json {
        let body = serde_json::json!({ "id": id.get(), "delivered": delivered }).to_string();
        return Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response());
    }
    Ok(Redirect::to(&format!("/chats/{}", case.case_no)).into_response())
}

pub(crate) async fn typing(
    State(app): State<App>,
    agent: Agent,
    Path(number): Path<String>,
    Form(form): Form<crate::forms::CsrfOnly>,
) -> Result<Response, Failure> {
    check_csrf(&agent, form.csrf.as_deref())?;
    let reached = reach(&app, &agent, &number, CaseAction::Reply).await?;
    if let Some(hub) = app.chat.get() {
        hub.to_citizen(reached.case.id, ToCitizen::Typing);
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn events(
    State(app): State<App>,
    agent: Agent,
    Path(number): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Failure> {
    let reached = reach(&app, &agent, &number, CaseAction::Read).await?;
    let hub = app.chat.get().ok_or(Failure::NotFound)?.clone();
    let watch = hub
        .watch(reached.case.id)
        .map_err(|_| Failure::Forbidden("The chat hub is full; try again shortly."))?;
    let stream = futures::stream::unfold(watch, |mut watch| async move {
        loop {
            match watch.rx.recv().await {
                Ok(frame) => {
                    let data = serde_json::to_string(&frame).unwrap_or_default();
                    return Some((Ok(Event::default().event("chat").data(data)), watch));
                }
                // A lagging page skips ahead; the transcript is in the case.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

pub(crate) async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        include_str!("../static/chat.js"),
    )
        .into_response()
}
