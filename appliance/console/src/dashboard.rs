//! The supervisors' page: per consulate the open work by queue, status and priority, the
//! oldest open case, emergencies nobody has picked up, and the median and p90 times to first
//! response and to resolution over 7 and 30 days. Every number comes from counters or
//! index walks, so the page costs the same at a million cases as at a hundred. Also as CSV.

use access::StaffAction;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use casestore::{ConsulateId, QueueKind, Sensitivities, StatMetric, Store};
use minijinja::context;
use serde::Serialize;

use crate::errors::Failure;
use crate::login::spawn;
use crate::session::Agent;
use crate::{App, now, render};

const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Serialize)]
pub(crate) struct Row {
    consulate: String,
    open: u64,
    unassigned: u64,
    emergency: u64,
    unacknowledged_emergencies: u64,
    triage: u64,
    waiting_citizen: u64,
    referred: u64,
    by_status: Vec<(String, [u64; 5])>,
    oldest_open: Option<String>,
    oldest_open_at: Option<i64>,
    first_response_7d: Stat,
    first_response_30d: Stat,
    resolution_7d: Stat,
    resolution_30d: Stat,
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct Stat {
    count: u64,
    median_min: Option<u64>,
    p90_min: Option<u64>,
}

impl From<casestore::Stats> for Stat {
    fn from(s: casestore::Stats) -> Self {
        let min = |ms: Option<i64>| ms.map(|ms| u64::try_from(ms / 60_000).unwrap_or(0));
        Self {
            count: s.count,
            median_min: min(s.median_ms),
            p90_min: min(s.p90_ms),
        }
    }
}

async fn rows(app: &App, agent: &Agent) -> Result<Vec<Row>, Failure> {
    if !app.policy.may(&agent.staff, StaffAction::ViewDashboard) {
        return Err(Failure::Forbidden(
            "The dashboard is for supervisors and consuls.",
        ));
    }
    let scope = app
        .policy
        .dashboard_scope(&agent.staff)
        .ok_or(Failure::Forbidden(
            "The dashboard is for supervisors and consuls.",
        ))?;
    let sensitivities = app
        .policy
        .queue_scope(&agent.staff)
        .map(|s| Sensitivities::of(&s.sensitivities))
        .unwrap_or_else(Sensitivities::all);
    let store = app.store.clone();
    let at = now();
    Ok(spawn(move || {
        let consulates = match scope {
            Some(one) => vec![one],
            None => store.consulates()?,
        };
        consulates
            .iter()
            .map(|c| row(&store, c, sensitivities, at))
            .collect::<Result<Vec<_>, casestore::ReadError>>()
    })
    .await??)
}

fn row(
    store: &Store,
    consulate: &ConsulateId,
    sensitivities: Sensitivities,
    at: casestore::Timestamp,
) -> Result<Row, casestore::ReadError> {
    let counts = store.queue_counts(Some(consulate), sensitivities)?;
    let mut by_status: Vec<(String, [u64; 5])> = Vec::new();
    // Counted, like the queues, only over the sensitivities this viewer may read.
    for count in store.status_counts(consulate, sensitivities)? {
        if !count.status.is_open() {
            continue;
        }
        let status = count.status.code().to_owned();
        let slot = match by_status.iter_mut().find(|(s, _)| *s == status) {
            Some((_, slot)) => slot,
            None => {
                by_status.push((status, [0; 5]));
                match by_status.last_mut() {
                    Some((_, slot)) => slot,
                    None => continue,
                }
            }
        };
        if let Some(n) = slot.get_mut(usize::from(count.priority.rank())) {
            *n += count.n;
        }
    }
    let oldest = store.oldest_open(Some(consulate), sensitivities)?;
    let stat = |metric, days: i64| -> Result<Stat, casestore::ReadError> {
        Ok(store
            .response_stats(
                Some(consulate),
                sensitivities,
                metric,
                at.plus_ms(-days * DAY_MS),
                at,
            )?
            .into())
    };
    Ok(Row {
        consulate: consulate.to_string(),
        open: counts.get(QueueKind::Open),
        unassigned: counts.get(QueueKind::Unassigned),
        emergency: counts.get(QueueKind::Emergency),
        unacknowledged_emergencies: store
            .unacknowledged_emergencies(Some(consulate), sensitivities)?,
        triage: counts.get(QueueKind::Triage),
        waiting_citizen: counts.get(QueueKind::WaitingCitizen),
        referred: counts.get(QueueKind::Referred),
        by_status,
        oldest_open: oldest.map(|(_, number, _)| number.to_string()),
        oldest_open_at: oldest.map(|(_, _, at)| at.unix_ms()),
        first_response_7d: stat(StatMetric::FirstResponse, 7)?,
        first_response_30d: stat(StatMetric::FirstResponse, 30)?,
        resolution_7d: stat(StatMetric::Resolution, 7)?,
        resolution_30d: stat(StatMetric::Resolution, 30)?,
    })
}

pub(crate) async fn page(State(app): State<App>, agent: Agent) -> Result<Response, Failure> {
    let rows = rows(&app, &agent).await?;
    let ctx = context! {
        ..render::base(&app.policy, &agent),
        ..context! { rows => rows }
    };
    Ok(app.pages.page(StatusCode::OK, "dashboard.html", ctx))
}

pub(crate) async fn csv(State(app): State<App>, agent: Agent) -> Result<Response, Failure> {
    if !app.policy.may(&agent.staff, StaffAction::ExportCsv) {
        return Err(Failure::Forbidden(
            "The export is for supervisors and consuls.",
        ));
    }
    let rows = rows(&app, &agent).await?;
    let mut out = String::from(
        "consulate,open,unassigned,emergency,unacknowledged_emergencies,triage,waiting_citizen,\
         referred,oldest_open,first_response_median_min_7d,first_response_p90_min_7d,\
         first_response_median_min_30d,first_response_p90_min_30d,resolution_median_min_7d,\
         resolution_p90_min_7d,resolution_median_min_30d,resolution_p90_min_30d\n",
    );
    let opt = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
    for r in &rows {
        // Consulate ids and case numbers are validated codes: no quoting needed.
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            r.consulate,
            r.open,
            r.unassigned,
            r.emergency,
            r.unacknowledged_emergencies,
            r.triage,
            r.waiting_citizen,
            r.referred,
            r.oldest_open.clone().unwrap_or_default(),
            opt(r.first_response_7d.median_min),
            opt(r.first_response_7d.p90_min),
            opt(r.first_response_30d.median_min),
            opt(r.first_response_30d.p90_min),
            opt(r.resolution_7d.median_min),
            opt(r.resolution_7d.p90_min),
            opt(r.resolution_30d.median_min),
            opt(r.resolution_30d.p90_min),
        ));
    }
    app.audit(audit::Event::new(
        "console.export",
        agent.audit_actor(),
        "dashboard.csv",
        "ok",
    ));
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            // Like every page: not kept by the browser of a shared embassy computer.
            (header::CACHE_CONTROL, "no-store"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"legatura-dashboard.csv\"",
            ),
        ],
        out,
    )
        .into_response())
}

pub(crate) async fn break_glass_log(
    State(app): State<App>,
    agent: Agent,
) -> Result<Response, Failure> {
    let may_log = app.policy.may(&agent.staff, StaffAction::ViewBreakGlassLog);
    let may_break = app.policy.may(&agent.staff, StaffAction::BreakGlass);
    if !may_log && !may_break {
        return Err(Failure::Forbidden(
            "Break-glass is for consuls; its log for supervisors.",
        ));
    }
    let store = app.store.clone();
    let since = now().plus_ms(-30 * DAY_MS);
    let grants = spawn(move || store.grants_since(since)).await??;
    // Who may view the log sees everyone's grants; who may only break glass, their own.
    let everyone = may_log;
    let grants: Vec<_> = grants
        .iter()
        .filter(|g| everyone || g.staff == agent.staff.id)
        .map(|g| {
            context! {
                staff => g.staff.to_string(),
                case => g.case_no.to_string(),
                reason => g.reason.to_string(),
                granted_at => g.granted_at.unix_ms(),
                expires_at => g.expires_at.unix_ms(),
                revoked => g.revoked_at.is_some(),
            }
        })
        .collect();
    let ctx = context! {
        ..render::base(&app.policy, &agent),
        ..context! { grants => grants, may_break => may_break }
    };
    Ok(app.pages.page(StatusCode::OK, "break_glass.html", ctx))
}
