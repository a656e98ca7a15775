//! The hub's status page: the appliances connected right now.
//!
//! Served on a local port of the hub and offered to gateways as a tunnel service, so an
//! embassy can open it through its own appliance. Read-only; every value is HTML-escaped by the
//! template engine.

use std::time::{Duration, SystemTime};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use serde::Serialize;
use tunnel::HubHandle;

const TEMPLATE: &str = include_str!("../templates/status.html");

/// One row of the page.
#[derive(Debug, Clone, Serialize)]
pub struct ApplianceRow {
    pub mission: String,
    pub appliance: String,
    pub remote: String,
    pub connected_for: String,
    pub rtt_ms: f64,
    pub streams_open: u64,
    pub software: String,
}

#[derive(Clone, Debug)]
struct Page {
    hub: HubHandle,
    hub_id: String,
}

/// The page's routes: `/` (HTML) and `/api/appliances` (JSON).
pub fn router(hub: HubHandle, hub_id: String) -> Router {
    Router::new()
        .route("/", get(html))
        .route("/api/appliances", get(json))
        .with_state(Page { hub, hub_id })
}

/// The rows, oldest connection first.
pub fn rows(hub: &HubHandle) -> Vec<ApplianceRow> {
    let now = SystemTime::now();
    hub.connections()
        .into_iter()
        .map(|c| ApplianceRow {
            mission: c.appliance.mission().to_owned(),
            appliance: c.appliance.appliance().to_owned(),
            remote: c.remote.to_string(),
            connected_for: human(now.duration_since(c.connected_at).unwrap_or_default()),
            rtt_ms: (c.rtt.as_secs_f64() * 10_000.0).round() / 10.0,
            streams_open: c.streams_open,
            software: c.software,
        })
        .collect()
}

async fn html(State(page): State<Page>) -> impl IntoResponse {
    let mut env = minijinja::Environment::new();
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    let rendered = env.render_str(
        TEMPLATE,
        minijinja::context! { hub_id => page.hub_id, appliances => rows(&page.hub), draining => page.hub.is_draining() },
    );
    match rendered {
        Ok(body) => (StatusCode::OK, Html(body)),
        Err(error) => {
            tracing::error!(%error, "status page template failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html("status page unavailable".to_owned()),
            )
        }
    }
}

async fn json(State(page): State<Page>) -> impl IntoResponse {
    axum::Json(rows(&page.hub))
}

/// `3d 4h`, `2h 5m`, `4m 10s`, `12s`.
fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {}s", s / 60, s % 60),
        3600..86_400 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_a_person_would_say_them() {
        assert_eq!(human(Duration::from_secs(12)), "12s");
        assert_eq!(human(Duration::from_secs(250)), "4m 10s");
        assert_eq!(human(Duration::from_secs(7500)), "2h 5m");
        assert_eq!(human(Duration::from_secs(273_600)), "3d 4h");
    }

    #[test]
    fn template_escapes_what_it_shows() {
        let mut env = minijinja::Environment::new();
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
        let row = ApplianceRow {
            mission: "<script>".into(),
            appliance: "A".into(),
            remote: "1.2.3.4:5".into(),
            connected_for: "1s".into(),
            rtt_ms: 1.0,
            streams_open: 0,
            software: "x\"y".into(),
        };
        let out = env
            .render_str(
                TEMPLATE,
                minijinja::context! { hub_id => "h", appliances => vec![row], draining => false },
            )
            .expect("renders");
        assert!(out.contains("&lt;script&gt;") && !out.contains("<script>"));
        assert!(out.contains("1 appliance connection up"));
    }
}
