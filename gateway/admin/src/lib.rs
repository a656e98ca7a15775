//! The local admin endpoint of a Legătura daemon.
//!
//! - `GET /livez`: 200 while the process answers at all.
//! - `GET /readyz`: 200 only while the daemon really serves (for the gateway: an admitted
//!   tunnel to a hub is up), 503 otherwise, with the reason in the body.
//! - `GET /metrics`: Prometheus text exposition.
//! - `GET /status`: a JSON document for people and the NOC.
//!
//! Invariant: it is meant for loopback; binding elsewhere is the caller's explicit choice.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

/// Readiness: `Ok(())` when ready, `Err(reason)` otherwise.
pub type ReadyFn = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;
/// The `/status` document.
pub type StatusFn = Arc<dyn Fn() -> serde_json::Value + Send + Sync>;

/// What the admin endpoint reports on.
#[derive(Clone)]
pub struct Admin {
    registry: Arc<Registry>,
    ready: ReadyFn,
    status: StatusFn,
}

impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admin").finish_non_exhaustive()
    }
}

impl Admin {
    pub fn new(registry: Registry, ready: ReadyFn, status: StatusFn) -> Self {
        Self {
            registry: Arc::new(registry),
            ready,
            status,
        }
    }

    /// The routes, for embedding or testing.
    pub fn router(self) -> Router {
        Router::new()
            .route("/livez", get(|| async { "ok\n" }))
            .route("/readyz", get(readyz))
            .route("/metrics", get(metrics))
            .route("/status", get(status))
            .with_state(self)
    }

    /// Serves on `listener` until the task is dropped.
    pub async fn serve(self, listener: TcpListener) -> std::io::Result<()> {
        if let Ok(addr) = listener.local_addr()
            && !addr.ip().is_loopback()
        {
            tracing::warn!(%addr, "admin endpoint is reachable from the network; keep it on loopback");
        }
        axum::serve(listener, self.router()).await
    }
}

async fn readyz(State(admin): State<Admin>) -> impl IntoResponse {
    match (admin.ready)() {
        Ok(()) => (StatusCode::OK, "ready\n".to_owned()),
        Err(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {reason}\n"),
        ),
    }
}

async fn metrics(State(admin): State<Admin>) -> impl IntoResponse {
    let mut text = String::new();
    match prometheus_client::encoding::text::encode(&mut text, &admin.registry) {
        Ok(()) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        ),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain")],
            String::new(),
        ),
    }
}

async fn status(State(admin): State<Admin>) -> impl IntoResponse {
    axum::Json((admin.status)())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn get(addr: std::net::SocketAddr, path: &str) -> String {
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .expect("write");
        let mut out = String::new();
        s.read_to_string(&mut out).await.expect("read");
        out
    }

    #[tokio::test]
    async fn readyz_follows_the_daemon_and_metrics_are_prometheus_text() {
        let up = Arc::new(AtomicBool::new(false));
        let mut registry = Registry::default();
        let counter = prometheus_client::metrics::counter::Counter::<u64>::default();
        counter.inc();
        registry.register("demo", "A demo counter", counter);
        let ready_flag = up.clone();
        let admin = Admin::new(
            registry,
            Arc::new(move || {
                if ready_flag.load(Ordering::Relaxed) {
                    Ok(())
                } else {
                    Err("no tunnel".into())
                }
            }),
            Arc::new(|| serde_json::json!({"tunnel": "down"})),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(admin.serve(listener));

        let r = get(addr, "/readyz").await;
        assert!(
            r.starts_with("HTTP/1.1 503") && r.contains("not ready: no tunnel"),
            "{r}"
        );
        up.store(true, Ordering::Relaxed);
        assert!(get(addr, "/readyz").await.starts_with("HTTP/1.1 200"));
        assert!(get(addr, "/metrics").await.contains("demo_total 1"));
        assert!(get(addr, "/status").await.contains("\"tunnel\":\"down\""));
        assert!(get(addr, "/livez").await.starts_with("HTTP/1.1 200"));
    }
}
