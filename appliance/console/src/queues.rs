//! Queue pages: the agent's queues within their scope, sorted and filtered, with counts read
//! from counters. The same rows come as a fragment for live updates.

use access::{QueueScope, StaffAction};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use casestore::{
    Case, Channel, ConsulateId, Language, PageSize, QueueCursor, QueueFilter, QueueKind,
    QueueQuery, QueueSort, Sensitivities, TypeCode,
};
use minijinja::{Value, context};
use serde::{Deserialize, Serialize};

use crate::errors::Failure;
use crate::forms::given;
use crate::login::spawn;
use crate::session::Agent;
use crate::{App, now, render};

/// The queues, in tab order: URL name, label, what it selects.
const QUEUES: &[(&str, &str, QueueKind)] = &[
    ("emergency", "Emergency", QueueKind::Emergency),
    ("unassigned", "New / unassigned", QueueKind::Unassigned),
    ("mine", "Mine", QueueKind::Assigned),
    ("consulate", "My consulate", QueueKind::Open),
    ("triage", "Triage", QueueKind::Triage),
    ("waiting", "Waiting for citizen", QueueKind::WaitingCitizen),
    ("referred", "Referred", QueueKind::Referred),
];

/// The largest page an agent may ask for.
const MAX_PAGE: u16 = 200;

/// The age filter's choices, in days; any whole number of days up to [`MAX_AGE_DAYS`] works.
const AGES: &[u16] = &[1, 3, 7, 14, 30];
const MAX_AGE_DAYS: u16 = 3650;

/// Where signing in lands: the queues, or the knowledge base for a role without queues (an
/// administrator would otherwise land on a refusal).
pub(crate) async fn home(State(app): State<App>, agent: Agent) -> Response {
    if app.policy.may(&agent.staff, StaffAction::ViewQueues) {
        Redirect::to("/queues/unassigned").into_response()
    } else {
        Redirect::to("/kb").into_response()
    }
}

#[derive(Debug, Default, Deserialize, Serialize)]
pub(crate) struct Params {
    sort: Option<String>,
    priority: Option<String>,
    #[serde(rename = "type")]
    case_type: Option<String>,
    language: Option<String>,
    channel: Option<String>,
    /// Only cases older than this many days.
    older_than: Option<String>,
    consulate: Option<String>,
    after: Option<String>,
    /// Any size is accepted and clamped to [`MAX_PAGE`]; a type as narrow as the limit would
    /// turn `size=100000` into an error page instead of a full page.
    size: Option<u32>,
}

pub(crate) async fn page(
    State(app): State<App>,
    agent: Agent,
    Path(queue): Path<String>,
    Query(params): Query<Params>,
) -> Result<Response, Failure> {
    let ctx = queue_context(&app, &agent, &queue, &params).await?;
    Ok(app.pages.page(StatusCode::OK, "queue.html", ctx))
}

pub(crate) async fn rows(
    State(app): State<App>,
    agent: Agent,
    Path(queue): Path<String>,
    Query(params): Query<Params>,
) -> Result<Response, Failure> {
    let ctx = queue_context(&app, &agent, &queue, &params).await?;
    Ok(app.pages.page(StatusCode::OK, "rows.html", ctx))
}

#[derive(Debug, Serialize)]
struct Row {
    number: String,
    priority: String,
    status: &'static str,
    case_type: String,
    consulate: String,
    language: String,
    channel: &'static str,
    assignee: Option<String>,
    created_at: i64,
}

impl From<&Case> for Row {
    fn from(case: &Case) -> Self {
        Self {
            number: case.case_no.to_string(),
            priority: crate::forms::priority_code(case.priority),
            status: case.status.code(),
            case_type: case.case_type.code.to_string(),
            consulate: case.consulate.to_string(),
            language: case.language.to_string(),
            channel: case.channel.code(),
            assignee: case.assignee.as_ref().map(ToString::to_string),
            created_at: case.created_at.unix_ms(),
        }
    }
}

async fn queue_context(
    app: &App,
    agent: &Agent,
    queue: &str,
    params: &Params,
) -> Result<Value, Failure> {
    if !app.policy.may(&agent.staff, StaffAction::ViewQueues) {
        return Err(Failure::Forbidden(
            "Your role works on accounts and articles, not on cases.",
        ));
    }
    let scope = app
        .policy
        .queue_scope(&agent.staff)
        .ok_or(Failure::Forbidden("Your role sees no queue."))?;
    let &(name, label, kind) = QUEUES
        .iter()
        .find(|(name, ..)| *name == queue)
        .ok_or(Failure::NotFound)?;
    let consulate = narrow(&scope, params.consulate.as_deref())?;
    let query = build_query(agent, &scope, consulate.clone(), name, kind, params)?;
    let store = app.store.clone();
    let sensitivities = Sensitivities::of(&scope.sensitivities);
    let me = agent.staff.id.clone();
    let (page, counts, mine) = spawn(move || {
        let page = store.queue(&query)?;
        let counts = store.queue_counts(consulate.as_ref(), sensitivities)?;
        let mine = store.assigned_count(&me)?;
        Ok::<_, casestore::ReadError>((page, counts, mine))
    })
    .await??;
    let tabs: Vec<Value> = QUEUES
        .iter()
        .map(|&(tab, label, kind)| {
            let n = if tab == "mine" {
                mine
            } else {
                counts.get(kind)
            };
            context! { name => tab, label => label, count => n, current => tab == name }
        })
        .collect();
    let rows: Vec<Row> = page.cases.iter().map(Row::from).collect();
    // Every value below was parsed and validated above, so it needs no URL escaping.
    let next = page.next.map(|cursor| {
        let mut more = link_params(params);
        more.push(("after", cursor.to_string()));
        more.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    });
    Ok(context! {
        ..render::base(&app.policy, agent),
        ..context! {
            queue => name,
            label => label,
            tabs => tabs,
            rows => rows,
            params => params,
            next => next,
            all_consulates => scope.consulate.is_none(),
            channels => Channel::ALL.iter().map(|c| c.code()).collect::<Vec<_>>(),
            ages => AGES,
        }
    })
}

/// The consulate a page looks at: the scope's, or one the agent picked within it.
fn narrow(scope: &QueueScope, asked: Option<&str>) -> Result<Option<ConsulateId>, Failure> {
    let asked = asked.filter(|s| !s.is_empty());
    match (&scope.consulate, asked) {
        (own, None) => Ok(own.clone()),
        (None, Some(code)) => ConsulateId::new(code)
            .map(Some)
            .map_err(|e| Failure::BadRequest(format!("consulate: {e}"))),
        (Some(own), Some(code)) if own.as_str() == code => Ok(Some(own.clone())),
        // Asking for another consulate is answered like asking for an empty one would leak
        // nothing either; refusing says clearly that it is out of reach.
        (Some(_), Some(_)) => Err(Failure::Forbidden(
            "That consulate's queues are outside your reach.",
        )),
    }
}

fn build_query(
    agent: &Agent,
    scope: &QueueScope,
    consulate: Option<ConsulateId>,
    name: &str,
    kind: QueueKind,
    params: &Params,
) -> Result<QueueQuery, Failure> {
    let bad = |what: &str| Failure::BadRequest(format!("unknown {what}"));
    let sort = match params.sort.as_deref().unwrap_or("urgency") {
        "urgency" => QueueSort::Urgency,
        "oldest" => QueueSort::Oldest,
        "newest" => QueueSort::Newest,
        _ => return Err(bad("sort order")),
    };
    let size =
        u16::try_from(params.size.unwrap_or(50).clamp(1, u32::from(MAX_PAGE))).unwrap_or(MAX_PAGE);
    let page_size = PageSize::new(size).map_err(|e| Failure::BadRequest(e.to_string()))?;
    let filter = QueueFilter {
        priority: opt(params.priority.as_deref(), crate::forms::priority)
            .ok_or_else(|| bad("priority"))?,
        case_type: opt(params.case_type.as_deref(), |s| TypeCode::new(s).ok())
            .ok_or_else(|| bad("case type"))?,
        language: opt(params.language.as_deref(), |s| Language::new(s).ok())
            .ok_or_else(|| bad("language"))?,
        channel: opt(params.channel.as_deref(), Channel::from_code)
            .ok_or_else(|| bad("channel"))?,
        created_before: opt(params.older_than.as_deref(), |s| {
            s.parse::<u16>()
                .ok()
                .filter(|days| (1..=MAX_AGE_DAYS).contains(days))
        })
        .ok_or_else(|| bad("age"))?
        .map(|days| now().plus_ms(-i64::from(days) * 86_400_000)),
    };
    let after = match given(params.after.as_deref()) {
        Some(text) => Some(
            text.parse::<QueueCursor>()
                .map_err(|_| Failure::BadRequest("a stale or damaged page link".to_owned()))?,
        ),
        None => None,
    };
    let mine = name == "mine";
    Ok(QueueQuery {
        consulate: if mine { None } else { consulate },
        queue: kind,
        agent: mine.then(|| agent.staff.id.clone()),
        sensitivities: if mine {
            Sensitivities::all()
        } else {
            Sensitivities::of(&scope.sensitivities)
        },
        filter,
        sort,
        page_size,
        after,
    })
}

/// An optional filter: empty or absent is `Some(None)`, unparseable is `None`.
fn opt<T>(value: Option<&str>, parse: impl Fn(&str) -> Option<T>) -> Option<Option<T>> {
    match given(value) {
        None => Some(None),
        Some(s) => parse(s).map(Some),
    }
}

fn link_params(params: &Params) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let mut push = |k: &'static str, v: &Option<String>| {
        if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
            out.push((k, v.clone()));
        }
    };
    push("sort", &params.sort);
    push("priority", &params.priority);
    push("type", &params.case_type);
    push("language", &params.language);
    push("channel", &params.channel);
    push("older_than", &params.older_than);
    push("consulate", &params.consulate);
    if let Some(size) = params.size {
        out.push(("size", size.to_string()));
    }
    out
}
