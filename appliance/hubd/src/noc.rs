//! The NOC API: HTTPS with mutual TLS, operator certificates only. Every action is audited by
//! the fleet manager under the operator's name.
//!
//! - `POST /v1/enrollments` `{"mission","appliance"}` → `{"code","expires"}`
//! - `POST /v1/revocations` `{"mission","appliance"}` → `{"disconnected"}`
//! - `POST /v1/operators` `{"name"}` → `{"code","expires"}`: enrols a new NOC operator
//! - `GET /v1/appliances` → the fleet
//! - `GET /v1/crl` → the CRL (PEM)

use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::extract::{Extension, Json, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use fleet::Fleet;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::CertificateDer;
use serde::Deserialize;
use tracing::{info, warn};
use tunnel::HubHandle;

/// The authenticated operator of a connection.
#[derive(Debug, Clone)]
struct Operator(String);

#[derive(Debug, Clone)]
struct Noc {
    fleet: Arc<Fleet>,
    hub: HubHandle,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Target {
    mission: String,
    appliance: String,
}

/// TLS for the NOC API: the hub's certificate, operator client certificates mandatory.
pub fn tls_config(
    cert: &std::path::Path,
    key: &std::path::Path,
    operator_ca: &std::path::Path,
) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let creds = tunnel::Credentials::from_files(operator_ca, cert, key)
        .context("loading the NOC API's TLS files")?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for root in &creds.roots {
        roots.add(root.clone())?;
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()?;
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(creds.chain, creds.key)?;
    Ok(Arc::new(config))
}

/// Serves the API until the task is dropped.
pub async fn serve(
    listener: tokio::net::TcpListener,
    tls: Arc<rustls::ServerConfig>,
    fleet: Arc<Fleet>,
    hub: HubHandle,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let router = Router::new()
        .route("/v1/enrollments", post(enroll))
        .route("/v1/revocations", post(revoke))
        .route("/v1/operators", post(enroll_operator))
        .route("/v1/appliances", get(list))
        .route("/v1/crl", get(crl))
        .with_state(Noc { fleet, hub });
    loop {
        let Ok((tcp, remote)) = listener.accept().await else {
            continue;
        };
        let (acceptor, router) = (acceptor.clone(), router.clone());
        tokio::spawn(async move {
            let Ok(Ok(stream)) =
                tokio::time::timeout(std::time::Duration::from_secs(10), acceptor.accept(tcp))
                    .await
            else {
                return;
            };
            let operator = stream.get_ref().1.peer_certificates().and_then(|c| {
                c.first()
                    .map(CertificateDer::as_ref)
                    .and_then(pki::operator_from_cert)
            });
            let Some(operator) = operator else {
                warn!(%remote, "NOC API: client certificate names no operator; refused");
                return;
            };
            let service = TowerToHyperService::new(router.layer(Extension(Operator(operator))));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    (
        status,
        Json(serde_json::json!({ "error": message.to_string() })),
    )
        .into_response()
}

async fn enroll(
    State(noc): State<Noc>,
    Extension(Operator(op)): Extension<Operator>,
    Json(t): Json<Target>,
) -> Response {
    let fleet = noc.fleet.clone();
    let result =
        tokio::task::spawn_blocking(move || fleet.create_enrollment(&t.mission, &t.appliance, &op))
            .await;
    match result {
        Ok(Ok(code)) => Json(serde_json::json!({
            "code": code.to_string(),
            "expires": noc.fleet.code_expires(code.id()),
        }))
        .into_response(),
        Ok(Err(e @ fleet::FleetError::AlreadyActive(_))) => error(StatusCode::CONFLICT, e),
        Ok(Err(e @ fleet::FleetError::Identity(_))) => error(StatusCode::BAD_REQUEST, e),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OperatorName {
    name: String,
}

async fn enroll_operator(
    State(noc): State<Noc>,
    Extension(Operator(op)): Extension<Operator>,
    Json(o): Json<OperatorName>,
) -> Response {
    let fleet = noc.fleet.clone();
    match tokio::task::spawn_blocking(move || fleet.create_operator_enrollment(&o.name, &op)).await
    {
        Ok(Ok(code)) => Json(serde_json::json!({
            "code": code.to_string(),
            "expires": noc.fleet.code_expires(code.id()),
        }))
        .into_response(),
        Ok(Err(e @ fleet::FleetError::InvalidOperator(_))) => error(StatusCode::BAD_REQUEST, e),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

async fn revoke(
    State(noc): State<Noc>,
    Extension(Operator(op)): Extension<Operator>,
    Json(t): Json<Target>,
) -> Response {
    let fleet = noc.fleet.clone();
    let (mission, appliance) = (t.mission.clone(), t.appliance.clone());
    let result = tokio::task::spawn_blocking(move || fleet.revoke(&mission, &appliance, &op)).await;
    match result {
        Ok(Ok(())) => {
            // This instance closes at once; the others within their refresh interval.
            let disconnected = tunnel::ApplianceId::new(&t.mission, &t.appliance)
                .map(|id| noc.hub.disconnect(&id, tunnel_proto::ErrorCode::Revoked))
                .unwrap_or(0);
            info!(mission = %t.mission, appliance = %t.appliance, disconnected, "revoked through the NOC API");
            Json(serde_json::json!({ "disconnected": disconnected })).into_response()
        }
        Ok(Err(e @ fleet::FleetError::Unknown(_))) => error(StatusCode::NOT_FOUND, e),
        Ok(Err(e @ fleet::FleetError::Identity(_))) => error(StatusCode::BAD_REQUEST, e),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

async fn list(State(noc): State<Noc>) -> Response {
    Json(noc.fleet.list()).into_response()
}

async fn crl(State(noc): State<Noc>) -> Response {
    let fleet = noc.fleet.clone();
    match tokio::task::spawn_blocking(move || fleet.crl_pem()).await {
        Ok(Ok(pem)) => (
            [(axum::http::header::CONTENT_TYPE, "application/pkix-crl")],
            pem,
        )
            .into_response(),
        Ok(Err(e)) => error(StatusCode::SERVICE_UNAVAILABLE, e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}
