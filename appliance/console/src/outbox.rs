//! What could not reach the citizen, and what the automatic messages say. Dead letters are
//! outbox events the worker gave up on after its last retry; supervisors and consuls see those
//! of the cases they may read and can put one back in the outbox once the cause is fixed. The
//! template preview shows every automatic message in every language, as the shipped templates
//! render it with sample values.

use access::{CaseAction, StaffAction};
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::{Value, context};

use crate::case_view::facts;
use crate::errors::Failure;
use crate::forms::{CsrfOnly, check_csrf};
use crate::login::spawn;
use crate::session::Agent;
use crate::{App, now, render};

/// The dead letters listed on one page.
const PAGE: usize = 200;

/// Who sees undelivered messages: those who see the dashboard (supervisors and consuls). The
/// menu asks the same question.
pub(crate) fn allowed(policy: &access::Policy, agent: &Agent) -> bool {
    policy.may(&agent.staff, StaffAction::ViewDashboard)
}

fn may_see(app: &App, agent: &Agent) -> Result<(), Failure> {
    if allowed(&app.policy, agent) {
        Ok(())
    } else {
        Err(Failure::Forbidden(
            "Undelivered messages are for supervisors and consuls.",
        ))
    }
}

/// The dead letters of the cases this agent may read, newest first.
async fn readable(app: &App, agent: &Agent) -> Result<Vec<Value>, Failure> {
    let store = app.store.clone();
    let rows = spawn(move || {
        let mut rows = Vec::new();
        for dead in store.dead_letters(None, PAGE)? {
            if let Some(case) = store.case(dead.case)? {
                rows.push((dead, case));
            }
        }
        Ok::<_, casestore::ReadError>(rows)
    })
    .await??;
    let at = now();
    Ok(rows
        .into_iter()
        .filter(|(_, case)| {
            app.policy
                .decide(&agent.staff, &facts(case), CaseAction::Read, None, at)
                .is_allowed()
        })
        .map(|(dead, case)| {
            context! {
                id => dead.id,
                kind => dead.kind.code(),
                case => case.case_no.to_string(),
                attempts => dead.attempts,
                error => dead.last_error,
                dead_at => dead.dead_at.unix_ms(),
            }
        })
        .collect())
}

pub(crate) async fn dead_letters(
    State(app): State<App>,
    agent: Agent,
) -> Result<Response, Failure> {
    may_see(&app, &agent)?;
    let rows = readable(&app, &agent).await?;
    let ctx = context! { ..render::base(&app.policy, &agent), ..context! { rows => rows } };
    Ok(app.pages.page(StatusCode::OK, "dead.html", ctx))
}

/// Puts a dead letter back in the outbox, for the worker to try again.
pub(crate) async fn requeue(
    State(app): State<App>,
    agent: Agent,
    Path(id): Path<i64>,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, Failure> {
    check_csrf(&agent, form.csrf.as_deref())?;
    may_see(&app, &agent)?;
    // Only one the agent can see: an id of another consulate's case is not found.
    let store = app.store.clone();
    let found = spawn(move || {
        let dead = store
            .dead_letters(None, usize::MAX)?
            .into_iter()
            .find(|d| d.id == id);
        let case = match &dead {
            Some(d) => store.case(d.case)?,
            None => None,
        };
        Ok::<_, casestore::ReadError>(dead.zip(case))
    })
    .await??;
    let Some((dead, case)) = found.filter(|(_, case)| {
        app.policy
            .decide(&agent.staff, &facts(case), CaseAction::Read, None, now())
            .is_allowed()
    }) else {
        return Err(Failure::NotFound);
    };
    let store = app.store.clone();
    spawn(move || store.requeue_dead_letter(id))
        .await?
        .map_err(Failure::internal)?;
    app.audit(
        audit::Event::new(
            "console.outbox.requeue",
            agent.audit_actor(),
            case.case_no.to_string(),
            "ok",
        )
        .with("event", dead.kind.code())
        .with("dead_letter", id),
    );
    Ok(Redirect::to("/outbox/dead").into_response())
}

/// Every automatic message in every shipped language, with sample values.
pub(crate) async fn templates(State(app): State<App>, agent: Agent) -> Result<Response, Failure> {
    let shipped = mail::Templates::shipped("ro").map_err(Failure::internal)?;
    let sample = mail::Sample {
        case_no: "CSC-2026-0001234".to_owned(),
        tracking_code: "K7QF-2M9X-HT4A-W8RC".to_owned(),
        tracking_url: "https://cetateni.example/status".to_owned(),
        name: "Ana Popescu".to_owned(),
        status: "in_progress".to_owned(),
        reply: "Bună ziua, vă rugăm să aduceți pașaportul vechi.".to_owned(),
        emergency: false,
        consulate: "ro-emb-paris".to_owned(),
    };
    let mut shown = Vec::new();
    for kind in mail::Kind::ALL {
        for language in ["ro", "en"] {
            let rendered = shipped
                .render_preview(kind.code(), language, Some(&sample))
                .map_err(Failure::internal)?;
            shown.push(context! {
                kind => kind.code(),
                language => rendered.language,
                subject => rendered.subject,
                body => rendered.body,
            });
        }
    }
    let ctx = context! { ..render::base(&app.policy, &agent), ..context! { messages => shown } };
    Ok(app.pages.page(StatusCode::OK, "templates.html", ctx))
}
