//! The HTTP side: `GET /` (HTML, or JSON with `?format=json`) and `GET /status.json`, nothing
//! else. Each answer is built from a fresh [`Snapshot`], gathered at most once a second however
//! many people ask, so the page cannot be used to hammer gatewayd's admin endpoint.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::gatewayd;
use crate::page::Snapshot;
use crate::provision::Provision;

/// How long a snapshot is reused.
const FRESH: Duration = Duration::from_secs(1);

/// Where the page's facts come from.
#[derive(Debug, Clone)]
pub struct Sources {
    /// gateway-provision's status file (`/run/legatura/provision.json`).
    pub provision_file: PathBuf,
    /// gatewayd's admin endpoint (`127.0.0.1:9101`).
    pub admin: SocketAddr,
    /// The deadline for gatewayd's answer.
    pub admin_timeout: Duration,
}

/// The status page. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Page {
    sources: Arc<Sources>,
    last: Arc<Mutex<Option<(Instant, Snapshot)>>>,
}

impl Page {
    pub fn new(sources: Sources) -> Page {
        Page {
            sources: Arc::new(sources),
            last: Arc::new(Mutex::new(None)),
        }
    }

    /// What the box says now (or within the last second).
    pub async fn snapshot(&self) -> Snapshot {
        // Held while gathering: concurrent requests wait for this one's answer.
        let mut last = self.last.lock().await;
        if let Some((at, snapshot)) = last.as_ref()
            && at.elapsed() < FRESH
        {
            return snapshot.clone();
        }
        // A small file on /run (tmpfs): reading it does not block the runtime for long.
        let provision = Provision::read(&self.sources.provision_file);
        let gatewayd = gatewayd::fetch(self.sources.admin, self.sources.admin_timeout).await;
        let snapshot = Snapshot {
            provision,
            gatewayd,
        };
        *last = Some((Instant::now(), snapshot.clone()));
        snapshot
    }

    /// The routes.
    pub fn router(self) -> Router {
        Router::new()
            .route("/", get(index))
            .route("/status.json", get(status_json))
            .fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") })
            .with_state(self)
    }
}

#[derive(Debug, Deserialize)]
struct Params {
    format: Option<String>,
}

async fn index(State(page): State<Page>, Query(params): Query<Params>) -> Response {
    let snapshot = page.snapshot().await;
    match params.format.as_deref() {
        Some("json") => json(&snapshot),
        None | Some("html") => guarded("text/html; charset=utf-8", snapshot.html()),
        Some(_) => (StatusCode::BAD_REQUEST, "format is html or json\n").into_response(),
    }
}

async fn status_json(State(page): State<Page>) -> Response {
    json(&page.snapshot().await)
}

fn json(snapshot: &Snapshot) -> Response {
    let mut body = snapshot.json().to_string();
    body.push('\n');
    guarded("application/json", body)
}

/// A 200 with `body`, never cached, never framed, never run as anything but what it is.
fn guarded(content_type: &'static str, body: String) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, content_type),
        (header::CACHE_CONTROL, "no-store"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'",
        ),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// Binds the page's listener. `[::]` takes IPv6 and IPv4 both (Linux's default, dual stack):
/// embassy LANs number boxes either way. On a kernel without IPv6 it falls back to `0.0.0.0`,
/// saying so, rather than leave the page unserved.
pub async fn bind(listen: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    match tokio::net::TcpListener::bind(listen).await {
        Err(error) if listen.ip() == IpAddr::V6(Ipv6Addr::UNSPECIFIED) => {
            tracing::warn!(%error, "no IPv6 on this box; serving the page on IPv4 only");
            tokio::net::TcpListener::bind((Ipv4Addr::UNSPECIFIED, listen.port())).await
        }
        bound => bound,
    }
}

#[cfg(test)]
mod tests;
