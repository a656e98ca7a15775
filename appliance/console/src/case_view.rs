//! The case view: header, people, the whole timeline across channels (and of cases merged
//! into this one), related cases suggested by identifier or contact, and the actions the
//! agent may take, each form carrying the version it was rendered from.

use access::{CaseAction, CaseFacts, Decision, GrantFacts};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use casestore::{Case, CaseId, CaseNumber};
use minijinja::{Value, context};
use serde::{Deserialize, Serialize};

use crate::errors::Failure;
use crate::login::spawn;
use crate::session::Agent;
use crate::{App, now, render, timeline};

/// A case the agent may touch, with how the policy allowed it.
pub(crate) struct Reached {
    pub(crate) case: Case,
    pub(crate) via_break_glass: bool,
}

/// Looks a case up by its number and asks the policy about `action`. A case the agent may not
/// read is [`Failure::NotFound`], as if it did not exist, and the attempt is audited; a
/// readable case where `action` is refused is [`Failure::Forbidden`].
pub(crate) async fn reach(
    app: &App,
    agent: &Agent,
    number: &str,
    action: CaseAction,
) -> Result<Reached, Failure> {
    let number: CaseNumber = number.parse().map_err(|_| Failure::NotFound)?;
    reach_case(app, agent, CaseKey::Number(number), action).await
}

/// [`reach`] for a case known by its id: the other case of a merge, say, which an action
/// changes as much as the one on the page.
pub(crate) async fn reach_id(
    app: &App,
    agent: &Agent,
    id: CaseId,
    action: CaseAction,
) -> Result<Reached, Failure> {
    reach_case(app, agent, CaseKey::Id(id), action).await
}

enum CaseKey {
    Number(CaseNumber),
    Id(CaseId),
}

async fn reach_case(
    app: &App,
    agent: &Agent,
    key: CaseKey,
    action: CaseAction,
) -> Result<Reached, Failure> {
    let store = app.store.clone();
    let who = agent.staff.id.clone();
    let at = now();
    let found = spawn(move || {
        let id = match key {
            CaseKey::Id(id) => id,
            CaseKey::Number(number) => match store.case_id(number)? {
                Some(id) => id,
                None => return Ok(None),
            },
        };
        let case = store.case(id)?;
        let grant = store.active_grant(&who, id, at)?;
        Ok::<_, casestore::ReadError>(case.map(|c| (c, grant)))
    })
    .await??;
    let Some((case, grant)) = found else {
        return Err(Failure::NotFound);
    };
    let facts = facts(&case);
    let grant = grant.map(|g| GrantFacts {
        expires_at: g.expires_at,
    });
    let read = app
        .policy
        .decide(&agent.staff, &facts, CaseAction::Read, grant.as_ref(), at);
    if !read.is_allowed() {
        app.audit(
            audit::Event::new(
                "console.case.denied",
                agent.audit_actor(),
                case.case_no.to_string(),
                "denied",
            )
            .with("action", format!("{action:?}")),
        );
        return Err(Failure::NotFound);
    }
    let decision = app
        .policy
        .decide(&agent.staff, &facts, action, grant.as_ref(), at);
    match decision {
        Decision::Allow {
            via_break_glass, ..
        } => Ok(Reached {
            case,
            via_break_glass,
        }),
        Decision::Deny(reason) => {
            app.audit(
                audit::Event::new(
                    "console.case.refused",
                    agent.audit_actor(),
                    case.case_no.to_string(),
                    "denied",
                )
                .with("action", format!("{action:?}"))
                .with("why", reason.to_string()),
            );
            Err(Failure::Forbidden(
                "Your role or your access to this case does not allow that.",
            ))
        }
    }
}

pub(crate) fn facts(case: &Case) -> CaseFacts {
    CaseFacts {
        consulate: case.consulate.clone(),
        sensitivity: case.sensitivity,
        assignee: case.assignee.clone(),
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ViewParams {
    /// A reply template to prefill the reply box with.
    template: Option<String>,
    /// A knowledge-base article to prefill the reply box with.
    kb: Option<i64>,
}

/// Text to put back into the case page's boxes: a prefilled reply, or what an agent typed
/// into a form that was refused, each in the box it was typed in.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Drafts {
    pub(crate) reply: String,
    /// An internal note: never in the reply box, where one click would send it out.
    pub(crate) note: String,
    pub(crate) documents: String,
}

pub(crate) async fn page(
    State(app): State<App>,
    agent: Agent,
    Path(number): Path<String>,
    Query(params): Query<ViewParams>,
) -> Result<Response, Failure> {
    let reached = reach(&app, &agent, &number, CaseAction::Read).await?;
    let reply = crate::actions::prefill(
        &app,
        &reached.case,
        &params.template,
        params.kb,
        &agent.name,
    )
    .await?;
    let drafts = Drafts {
        reply,
        ..Drafts::default()
    };
    let ctx = case_context(&app, &agent, &reached, drafts, None).await?;
    Ok(app.pages.page(StatusCode::OK, "case.html", ctx))
}

/// Everything the case page shows. `notice` is a line above the page (e.g. a conflict).
pub(crate) async fn case_context(
    app: &App,
    agent: &Agent,
    reached: &Reached,
    drafts: Drafts,
    notice: Option<String>,
) -> Result<Value, Failure> {
    let case = reached.case.clone();
    let id = case.id;
    let store = app.store.clone();
    let (persons, items, related, merges, mentioned, referrals) = spawn(move || {
        let persons = store.persons(id)?;
        let referrals = store.referrals(id)?;
        let items = store.timeline(id)?;
        let merges = store.merges_of(id)?;
        let mut mentioned = Vec::new();
        for other in timeline::mentioned(&items, &merges) {
            if let Some(c) = store.case(other)? {
                mentioned.push(c);
            }
        }
        // Suggestions are cases too: only their headers are read, to ask the policy.
        let mut related = Vec::new();
        for r in store.related_cases(id, 20)? {
            if let Some(c) = store.case(r.case)? {
                related.push((r, c));
            }
        }
        Ok::<_, casestore::ReadError>((persons, items, related, merges, mentioned, referrals))
    })
    .await??;
    audit_read(app, agent, reached);
    let at = now();
    // Other cases are named, and a merged case's entries shown, only where the agent could
    // open that case themselves: a link or a merge is no way around the policy.
    let numbers: timeline::Numbers = mentioned
        .into_iter()
        .filter(|c| {
            c.id == id
                || app
                    .policy
                    .decide(&agent.staff, &facts(c), CaseAction::Read, None, at)
                    .is_allowed()
        })
        .map(|c| (c.id, c.case_no))
        .collect();
    let hidden = items
        .iter()
        .filter(|i| !numbers.contains_key(&i.case()))
        .count();
    // Show only the suggestions this agent could open.
    let related: Vec<Value> = related
        .into_iter()
        .filter(|(_, c)| {
            app.policy
                .decide(&agent.staff, &facts(c), CaseAction::Read, None, at)
                .is_allowed()
        })
        .map(|(r, _)| {
            context! {
                number => r.case_no.to_string(),
                status => r.status.code(),
                matched_on => r.matched_on.code(),
            }
        })
        .collect();
    let may = |action| {
        app.policy
            .decide(&agent.staff, &facts(&case), action, None, at)
            .is_allowed()
            || (reached.via_break_glass && crate::actions::allowed_under_grant(action))
    };
    let actions = context! {
        claim => may(CaseAction::Claim) && case.assignee.as_ref() != Some(&agent.staff.id),
        assign => may(CaseAction::Assign),
        priority => may(CaseAction::ChangePriority),
        case_type => may(CaseAction::ChangeType),
        sensitivity => may(CaseAction::ChangeSensitivity),
        status => may(CaseAction::ChangeStatus),
        reply => may(CaseAction::Reply),
        note => may(CaseAction::Note),
        request_documents => may(CaseAction::RequestDocuments),
        refer => may(CaseAction::Refer),
        link => may(CaseAction::Link),
        merge => may(CaseAction::Merge),
        unmerge => may(CaseAction::Unmerge),
        close => may(CaseAction::Close),
    };
    Ok(context! {
        ..render::base(&app.policy, agent),
        ..context! {
            case => header(&case),
            persons => persons.iter().map(timeline::person).collect::<Vec<_>>(),
            timeline => items
                .iter()
                .filter(|i| numbers.contains_key(&i.case()))
                .map(|i| timeline::item(i, id, &numbers))
                .collect::<Vec<_>>(),
            hidden_entries => hidden,
            merges => merges.iter().map(|m| timeline::merge(m, &numbers)).collect::<Vec<_>>(),
            referrals => referrals.iter().map(timeline::referral).collect::<Vec<_>>(),
            related => related,
            actions => actions,
            via_break_glass => reached.via_break_glass,
            drafts => drafts,
            notice => notice,
            templates => crate::actions::TEMPLATE_NAMES,
            case_types => app
                .settings
                .taxonomy
                .types()
                .iter()
                .map(|t| context! { code => t.code.as_str(), name => t.name.get("en") })
                .collect::<Vec<_>>(),
        }
    })
}

/// Reads of restricted cases and reads through break-glass are audited.
fn audit_read(app: &App, agent: &Agent, reached: &Reached) {
    if reached.via_break_glass || reached.case.sensitivity == casestore::Sensitivity::Restricted {
        app.audit(
            audit::Event::new(
                "console.case.read",
                agent.audit_actor(),
                reached.case.case_no.to_string(),
                "ok",
            )
            .with("sensitivity", reached.case.sensitivity.code())
            .with("via_break_glass", reached.via_break_glass),
        );
    }
}

fn header(case: &Case) -> Value {
    context! {
        id => case.id.get(),
        number => case.case_no.to_string(),
        version => case.version,
        case_type => case.case_type.code.to_string(),
        subtype => case.case_type.subtype.as_ref().map(ToString::to_string),
        family => case.case_type.family.code(),
        priority => crate::forms::priority_code(case.priority),
        sensitivity => case.sensitivity.code(),
        status => case.status.code(),
        consulate => case.consulate.to_string(),
        assignee => case.assignee.as_ref().map(ToString::to_string),
        channel => case.channel.code(),
        language => case.language.to_string(),
        created_at => case.created_at.unix_ms(),
        updated_at => case.updated_at.unix_ms(),
    }
}

/// `2026-11-28 14:05 UTC`.
pub(crate) fn format_time(ms: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

/// A case id from a form field, for links and merges.
pub(crate) fn parse_number(text: &str) -> Result<CaseNumber, Failure> {
    text.trim()
        .parse()
        .map_err(|_| Failure::BadRequest(format!("{text:?} is not a case number")))
}
