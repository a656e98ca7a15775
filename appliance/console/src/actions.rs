//! Case work: every action is one POST carrying the CSRF token and the case version the agent
//! saw, checked by the policy, done in one store transaction, and audited. A stale version
//! re-renders the case with the agent's text kept and says who changed what.

mod templates;

use std::time::Duration;

use access::{CaseAction, StaffAction};
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use casestore::{
    AgentId, Body, CaseId, CaseNumber, CaseType, Direction, Expect, LinkKind, NewMessage,
    NewReferral, Note, ReferralId, Sensitivity, Status, TypeCode, Visibility, WriteError,
};
use serde::Deserialize;

pub(crate) use templates::{TEMPLATE_NAMES, prefill};

use crate::case_view::{self, Reached, reach};
use crate::errors::Failure;
use crate::forms::{check_csrf, given, text};
use crate::login::spawn;
use crate::session::Agent;
use crate::{App, now};

/// Every field any action form may carry; each action reads the ones it needs.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ActionForm {
    csrf: Option<String>,
    version: Option<u64>,
    assignee: Option<String>,
    priority: Option<String>,
    sensitivity: Option<String>,
    status: Option<String>,
    case_type: Option<String>,
    reason: Option<String>,
    body: Option<String>,
    referral_body: Option<String>,
    due_days: Option<u32>,
    link_kind: Option<String>,
    other: Option<String>,
    merge_id: Option<i64>,
    outcome: Option<String>,
    /// An existing referral being updated (acknowledged, or answered with `referral_outcome`).
    referral_id: Option<i64>,
    referral_outcome: Option<String>,
}

/// Outcome codes a case can be closed with.
const OUTCOMES: &[&str] = &[
    "assisted",
    "documents_issued",
    "referred_external",
    "no_response",
    "duplicate",
    "withdrawn",
    "out_of_scope",
];

/// Which actions a break-glass grant allows (the policy says the same; the page uses this
/// to decide which forms to show).
pub(crate) fn allowed_under_grant(action: CaseAction) -> bool {
    matches!(
        action,
        CaseAction::Read
            | CaseAction::Note
            | CaseAction::Reply
            | CaseAction::RequestDocuments
            | CaseAction::Refer
            | CaseAction::Link
    )
}

pub(crate) async fn act(
    State(app): State<App>,
    agent: Agent,
    Path((number, action)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Result<Response, Failure> {
    let kind = action_kind(&action)?;
    if let Err(failure) = check_csrf(&agent, form.csrf.as_deref()) {
        // A forged or stale form aimed at a case is worth a line in the audit log. The number
        // is logged only when it is one, so the log never carries what a forger typed.
        let target = number
            .parse::<CaseNumber>()
            .map_or_else(|_| "-".to_owned(), |n| n.to_string());
        app.audit(
            audit::Event::new(
                "console.case.refused",
                agent.audit_actor(),
                target,
                "denied",
            )
            .with("action", format!("{kind:?}"))
            .with("why", "no valid CSRF token"),
        );
        return Err(failure);
    }
    let reached = reach(&app, &agent, &number, kind).await?;
    let expect = form
        .version
        .map(Expect::Version)
        .ok_or_else(|| Failure::BadRequest("the form has no case version".to_owned()))?;
    let done = perform(&app, &agent, &reached, kind, &form, expect).await;
    match done {
        Ok(detail) => {
            app.audit(
                audit::Event::new(
                    "console.case.change",
                    agent.audit_actor(),
                    reached.case.case_no.to_string(),
                    "ok",
                )
                .with("action", action.as_str())
                .with("detail", detail)
                .with("via_break_glass", reached.via_break_glass),
            );
            Ok(Redirect::to(&format!("/cases/{}", reached.case.case_no)).into_response())
        }
        Err(Refusal::Conflict) => conflict(&app, &agent, &number, kind, &form).await,
        Err(Refusal::Failed(failure)) => Err(failure),
    }
}

fn action_kind(action: &str) -> Result<CaseAction, Failure> {
    Ok(match action {
        "claim" => CaseAction::Claim,
        "assign" => CaseAction::Assign,
        "priority" => CaseAction::ChangePriority,
        "type" => CaseAction::ChangeType,
        "sensitivity" => CaseAction::ChangeSensitivity,
        "status" => CaseAction::ChangeStatus,
        "reply" => CaseAction::Reply,
        "note" => CaseAction::Note,
        "request-documents" => CaseAction::RequestDocuments,
        "refer" | "referral" => CaseAction::Refer,
        "link" => CaseAction::Link,
        "merge" => CaseAction::Merge,
        "unmerge" => CaseAction::Unmerge,
        "close" => CaseAction::Close,
        _ => return Err(Failure::NotFound),
    })
}

enum Refusal {
    Conflict,
    Failed(Failure),
}

impl From<Failure> for Refusal {
    fn from(failure: Failure) -> Self {
        Refusal::Failed(failure)
    }
}

impl From<casestore::ReadError> for Refusal {
    fn from(error: casestore::ReadError) -> Self {
        Refusal::Failed(error.into())
    }
}

impl From<WriteError> for Refusal {
    fn from(error: WriteError) -> Self {
        match error {
            WriteError::Conflict { .. } => Refusal::Conflict,
            WriteError::InvalidTransition { from, to } => Refusal::Failed(Failure::BadRequest(
                format!("a case cannot go from {from} to {to}"),
            )),
            WriteError::Unchanged(what) => {
                Refusal::Failed(Failure::BadRequest(format!("nothing to change: {what}")))
            }
            WriteError::Invalid(e) => Refusal::Failed(Failure::BadRequest(e.to_string())),
            WriteError::NotFound { .. } | WriteError::NoSuchCase(_) => {
                Refusal::Failed(Failure::NotFound)
            }
            other => Refusal::Failed(Failure::internal(other)),
        }
    }
}

fn invalid(what: &str) -> impl Fn(casestore::InvalidValue) -> Failure + '_ {
    move |e| Failure::BadRequest(format!("{what}: {e}"))
}

/// Does one action; returns a short description for the audit log.
async fn perform(
    app: &App,
    agent: &Agent,
    reached: &Reached,
    kind: CaseAction,
    form: &ActionForm,
    expect: Expect,
) -> Result<String, Refusal> {
    let case = reached.case.clone();
    let id = case.id;
    let actor = agent.actor();
    let store = app.store.clone();
    let reason = || -> Result<Note, Failure> {
        Note::new(text(form.reason.as_deref(), "A reason")?).map_err(invalid("reason"))
    };
    let message = |body: &str, visibility| -> Result<NewMessage, Failure> {
        Ok(NewMessage {
            // Staff write outwards; an internal note is an outward message nobody outside sees.
            direction: Direction::Out,
            channel: case.channel,
            author: actor.clone(),
            visibility,
            language: case.language.clone(),
            body: Body::new(body).map_err(invalid("text"))?,
            attachments: Vec::new(),
        })
    };
    match kind {
        CaseAction::Claim => {
            let me = agent.staff.id.clone();
            spawn(move || store.assign(id, Some(&me), &actor, expect)).await??;
            Ok("claimed".to_owned())
        }
        CaseAction::Assign => {
            let to = form.assignee.as_deref().map(str::trim).unwrap_or_default();
            let to = if to.is_empty() {
                None
            } else {
                Some(AgentId::new(to).map_err(invalid("assignee"))?)
            };
            if let Some(to) = &to {
                let lookup = to.clone();
                let exists = spawn({
                    let store = store.clone();
                    move || store.staff(&lookup)
                })
                .await??;
                if exists.is_none_or(|a| a.disabled) {
                    return Err(Failure::BadRequest(format!("no active account {to}")).into());
                }
            }
            let detail = format!(
                "assigned to {}",
                to.as_ref().map_or("nobody", |a| a.as_str())
            );
            spawn(move || store.assign(id, to.as_ref(), &actor, expect)).await??;
            Ok(detail)
        }
        CaseAction::ChangePriority => {
            let priority = form
                .priority
                .as_deref()
                .and_then(crate::forms::priority)
                .ok_or_else(|| Failure::BadRequest("choose a priority".to_owned()))?;
            let reason = reason()?;
            spawn(move || store.change_priority(id, priority, &actor, &reason, expect)).await??;
            Ok(format!("priority {}", priority.code()))
        }
        CaseAction::ChangeSensitivity => {
            let sensitivity = form
                .sensitivity
                .as_deref()
                .and_then(Sensitivity::from_code)
                .ok_or_else(|| Failure::BadRequest("choose a sensitivity".to_owned()))?;
            let reason = reason()?;
            spawn(move || store.change_sensitivity(id, sensitivity, &actor, &reason, expect))
                .await??;
            Ok(format!("sensitivity {}", sensitivity.code()))
        }
        CaseAction::ChangeType => {
            // Only a type of the taxonomy, and the family is that type's: a free-text code
            // would leave the case in no form, no document list and the wrong family.
            let taxonomy = &app.settings.taxonomy;
            let asked = text(form.case_type.as_deref(), "A type")?;
            let chosen = taxonomy.lookup(asked.trim()).ok_or_else(|| {
                Failure::BadRequest(format!(
                    "{asked:?} is not a request type of taxonomy version {}",
                    taxonomy.version()
                ))
            })?;
            let new_type = CaseType {
                code: TypeCode::new(chosen.code.as_str()).map_err(invalid("type"))?,
                subtype: None,
                taxonomy_version: taxonomy.version(),
                family: casestore::Family::from_intake(Some(chosen.family)),
            };
            let detail = format!("type {}", new_type.code);
            let reason = reason()?;
            spawn(move || store.change_type(id, &new_type, &actor, &reason, expect)).await??;
            Ok(detail)
        }
        CaseAction::ChangeStatus => {
            let to = form
                .status
                .as_deref()
                .and_then(Status::from_code)
                .filter(|s| !matches!(s, Status::Merged | Status::Closed))
                .ok_or_else(|| Failure::BadRequest("choose a status".to_owned()))?;
            let note = match given(form.reason.as_deref()) {
                Some(text) => Some(Note::new(text).map_err(invalid("note"))?),
                None => None,
            };
            spawn(move || store.change_status(id, to, &actor, note.as_ref(), expect)).await??;
            Ok(format!("status {}", to.code()))
        }
        CaseAction::Reply | CaseAction::Note => {
            let visibility = if kind == CaseAction::Reply {
                Visibility::External
            } else {
                Visibility::Internal
            };
            let msg = message(text(form.body.as_deref(), "The text")?, visibility)?;
            spawn(move || store.add_message(id, &msg, expect)).await??;
            Ok(if kind == CaseAction::Reply {
                "reply"
            } else {
                "internal note"
            }
            .to_owned())
        }
        CaseAction::RequestDocuments => {
            let msg = message(
                text(form.body.as_deref(), "The list of documents")?,
                Visibility::External,
            )?;
            let note =
                Note::new("documents requested from the citizen").map_err(invalid("note"))?;
            // The store has no single operation for both, so everything that could refuse the
            // status change is checked before the message goes out: a case already waiting
            // stays so, and one that cannot wait (closed, merged) sends nothing. The version
            // check on the message makes sure the status seen here is still the case's.
            let wait = case.status != Status::WaitingCitizen;
            if wait && !case.status.can_become(Status::WaitingCitizen) {
                return Err(Failure::BadRequest(format!(
                    "a {} case cannot wait for documents; reopen it first",
                    case.status
                ))
                .into());
            }
            spawn(move || {
                store.add_message(id, &msg, expect)?;
                if wait {
                    store.change_status(
                        id,
                        Status::WaitingCitizen,
                        &actor,
                        Some(&note),
                        Expect::Any,
                    )?;
                }
                Ok::<_, WriteError>(())
            })
            .await??;
            Ok("documents requested".to_owned())
        }
        CaseAction::Refer if form.referral_id.is_some() => update_referral(app, id, form).await,
        CaseAction::Refer => {
            let body = Note::new(text(form.referral_body.as_deref(), "The body referred to")?)
                .map_err(invalid("body"))?;
            let at = now();
            let due = form
                .due_days
                .filter(|d| (1..=365).contains(d))
                .map(|d| at.plus_ms(i64::from(d) * 86_400_000));
            let referral = NewReferral {
                body,
                sent_at: Some(at),
                due_at: due,
            };
            spawn(move || store.add_referral(id, &referral, &actor, expect)).await??;
            Ok("referred".to_owned())
        }
        CaseAction::Link => {
            let other = case_view::parse_number(form.other.as_deref().unwrap_or_default())?;
            let link_kind = form
                .link_kind
                .as_deref()
                .and_then(LinkKind::from_code)
                .ok_or_else(|| Failure::BadRequest("choose a link type".to_owned()))?;
            let target = reach(app, agent, &other.to_string(), CaseAction::Read).await?;
            let to = target.case.id;
            spawn(move || store.link_cases(id, to, link_kind, &actor, expect)).await??;
            Ok(format!("linked {} {other}", link_kind.code()))
        }
        CaseAction::Merge => {
            let into: CaseNumber =
                case_view::parse_number(form.other.as_deref().unwrap_or_default())?;
            let target = reach(app, agent, &into.to_string(), CaseAction::Merge).await?;
            let (into_id, into_version) = (target.case.id, target.case.version);
            let reason = reason()?;
            spawn(move || {
                store.merge(
                    id,
                    into_id,
                    &actor,
                    &reason,
                    expect,
                    Expect::Version(into_version),
                )
            })
            .await??;
            Ok(format!("merged into {into}"))
        }
        CaseAction::Unmerge => {
            let merge = form
                .merge_id
                .ok_or_else(|| Failure::BadRequest("which merge?".to_owned()))?;
            let reason = reason()?;
            // The page offers un-merge on the case it shows; its version is checked, and the
            // other case of the merge takes whatever state it is in.
            let merge_id = casestore::MergeId::from_raw(merge);
            let on_record = spawn({
                let store = store.clone();
                move || store.merges_of(id)
            })
            .await??
            .into_iter()
            .find(|m| m.id == merge_id)
            .ok_or(Failure::NotFound)?;
            // Un-merging changes both cases, so the agent must be allowed to on the other one
            // too: a case they cannot reach is not pulled out of (or back from) one they can.
            let other = if on_record.source == id {
                on_record.into
            } else {
                on_record.source
            };
            case_view::reach_id(app, agent, other, CaseAction::Unmerge).await?;
            let (source, into) = if on_record.source == id {
                (expect, Expect::Any)
            } else {
                (Expect::Any, expect)
            };
            spawn(move || store.unmerge(merge_id, &actor, &reason, source, into)).await??;
            Ok(format!("merge {merge} undone"))
        }
        CaseAction::Close => {
            let outcome = form
                .outcome
                .as_deref()
                .filter(|o| OUTCOMES.contains(o))
                .ok_or_else(|| Failure::BadRequest("choose an outcome".to_owned()))?;
            let extra = form.reason.as_deref().map(str::trim).unwrap_or_default();
            let note = Note::new(if extra.is_empty() {
                format!("outcome: {outcome}")
            } else {
                format!("outcome: {outcome} — {extra}")
            })
            .map_err(invalid("note"))?;
            spawn(move || store.change_status(id, Status::Closed, &actor, Some(&note), expect))
                .await??;
            Ok(format!("closed: {outcome}"))
        }
        CaseAction::Read => Err(Failure::NotFound.into()),
    }
}

/// Records that the body referred to acknowledged the referral, or what it answered. The
/// referral must be one of this case's.
async fn update_referral(app: &App, case: CaseId, form: &ActionForm) -> Result<String, Refusal> {
    let wanted = form.referral_id.map(ReferralId::from_raw);
    let store = app.store.clone();
    let referral = spawn(move || store.referrals(case))
        .await??
        .into_iter()
        .find(|r| Some(r.id) == wanted)
        .ok_or(Failure::NotFound)?;
    let outcome = given(form.referral_outcome.as_deref());
    let store = app.store.clone();
    match outcome {
        Some(text) => {
            if referral.outcome.is_some() {
                return Err(
                    Failure::BadRequest("this referral already has an outcome".to_owned()).into(),
                );
            }
            let note = Note::new(text).map_err(invalid("outcome"))?;
            spawn(move || store.referral_outcome(referral.id, &note)).await??;
            Ok(format!("referral {} answered", referral.id.get()))
        }
        None => {
            if referral.acknowledged_at.is_some() {
                return Err(Failure::BadRequest(
                    "this referral is already acknowledged".to_owned(),
                )
                .into());
            }
            let at = now();
            spawn(move || store.referral_acknowledged(referral.id, at)).await??;
            Ok(format!("referral {} acknowledged", referral.id.get()))
        }
    }
}

/// Someone else changed the case first: show it as it is now, with this agent's text kept.
async fn conflict(
    app: &App,
    agent: &Agent,
    number: &str,
    kind: CaseAction,
    form: &ActionForm,
) -> Result<Response, Failure> {
    let reached = reach(app, agent, number, CaseAction::Read).await?;
    // The text goes back into the box it came from: a note put into the reply box would be
    // one click from reaching the citizen.
    let text = form.body.clone().unwrap_or_default();
    let drafts = match kind {
        CaseAction::Reply => case_view::Drafts {
            reply: text,
            ..Default::default()
        },
        CaseAction::Note => case_view::Drafts {
            note: text,
            ..Default::default()
        },
        CaseAction::RequestDocuments => case_view::Drafts {
            documents: text,
            ..Default::default()
        },
        _ => case_view::Drafts::default(),
    };
    let notice = "Someone changed this case while you were working on it; nothing was saved. \
                  The case below is as it is now and your text is kept — check it and send again."
        .to_owned();
    let ctx = case_view::case_context(app, agent, &reached, drafts, Some(notice)).await?;
    Ok(app.pages.page(StatusCode::CONFLICT, "case.html", ctx))
}

#[derive(Debug, Deserialize)]
pub(crate) struct BreakGlassForm {
    csrf: Option<String>,
    case: Option<String>,
    reason: Option<String>,
    minutes: Option<u64>,
}

/// A consul opens a case outside their reach: reason required, time-limited, audited, and
/// listed for supervisors.
pub(crate) async fn break_glass(
    State(app): State<App>,
    agent: Agent,
    Form(form): Form<BreakGlassForm>,
) -> Result<Response, Failure> {
    check_csrf(&agent, form.csrf.as_deref())?;
    // The role first: someone who may never break glass learns nothing, not even whether the
    // case number exists.
    if !app.policy.may(&agent.staff, StaffAction::BreakGlass) {
        app.audit(
            audit::Event::new(
                "console.break_glass",
                agent.audit_actor(),
                case_view::parse_number(form.case.as_deref().unwrap_or_default())
                    .map_or_else(|_| "?".to_owned(), |n| n.to_string()),
                "denied",
            )
            .with("why", "role"),
        );
        return Err(Failure::Forbidden(
            "Only consuls may open a case through break-glass.",
        ));
    }
    let number = case_view::parse_number(form.case.as_deref().unwrap_or_default())?;
    let reason = form.reason.clone().unwrap_or_default();
    let minutes = form.minutes.unwrap_or(60);
    let duration = Duration::from_secs(minutes.saturating_mul(60));
    let store = app.store.clone();
    let case = spawn(move || match store.case_id(number)? {
        Some(id) => store.case(id),
        None => Ok(None),
    })
    .await??
    .ok_or(Failure::NotFound)?;
    let event = |outcome: &str| {
        audit::Event::new(
            "console.break_glass",
            agent.audit_actor(),
            number.to_string(),
            outcome,
        )
        .with("reason", reason.trim())
        .with("minutes", minutes)
    };
    if let Err(denied) =
        app.policy
            .may_break_glass(&agent.staff, &case_view::facts(&case), &reason, duration)
    {
        app.audit(event("denied").with("why", denied.to_string()));
        return Err(Failure::BadRequest(denied.to_string()));
    }
    let at = now();
    let until = at.plus_ms(i64::try_from(duration.as_millis()).unwrap_or(i64::MAX));
    let note = Note::new(reason.trim()).map_err(invalid("reason"))?;
    let (store, who, id) = (app.store.clone(), agent.staff.id.clone(), case.id);
    spawn(move || store.grant_break_glass(&who, id, &note, at, until))
        .await?
        .map_err(Failure::internal)?;
    app.audit(event("ok"));
    Ok(Redirect::to(&format!("/cases/{number}")).into_response())
}
