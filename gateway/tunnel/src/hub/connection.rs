//! One appliance connection at the hub: handshake, admission, then the control, stream,
//! datagram and statistics loops until the connection ends.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime};

use tokio::sync::mpsc;
use tracing::{debug, info, warn};
use tunnel_proto::{ApplianceId, Control, ErrorCode, StreamHeader};

use super::flows::Flows;
use super::{Registered, Shared, code, lock, streams};
use crate::control::{self, ControlReader};
use crate::error_chain;
use crate::log_limit::limited;
use crate::tls;

/// Why a connection was not admitted.
#[derive(Debug, thiserror::Error)]
enum AdmitError {
    #[error("handshake failed")]
    Handshake(#[from] quinn::ConnectionError),
    #[error("certificate names no appliance")]
    Identity(#[from] tls::PeerIdentityError),
    #[error("control stream failed")]
    Control(#[from] control::ControlStreamError),
    #[error("bad control stream header")]
    Header(#[from] streams::HeaderReadError),
    #[error("first stream was not the control stream")]
    NotControl,
    #[error("first frame was {0}, not hello")]
    NotHello(&'static str),
    #[error("a client certificate was presented for enrollment")]
    WrongAlpn,
    #[error("appliance is revoked")]
    Revoked,
}

pub(super) async fn run(shared: Arc<Shared>, incoming: quinn::Incoming) {
    let remote = incoming.remote_address();
    let Ok(permit) = shared.handshakes.clone().acquire_owned().await else {
        return;
    };
    let started = Instant::now();
    let admitted =
        tokio::time::timeout(shared.config.handshake_timeout, admit(&shared, incoming)).await;
    drop(permit);
    let (conn, appliance, software, send, reader) = match admitted {
        Ok(Ok(Admission::Appliance(ok))) => ok,
        Ok(Ok(Admission::Enrollment(conn))) => {
            shared.metrics.handshake("enrollment");
            return super::enroll::serve(shared, conn).await;
        }
        Ok(Err(error)) => {
            shared.metrics.handshake("rejected");
            limited!(
                shared.bad_peer_log,
                warn!(%remote, error = %error_chain(&error), "appliance not admitted")
            );
            return;
        }
        Err(_) => {
            shared.metrics.handshake("timeout");
            limited!(
                shared.bad_peer_log,
                warn!(%remote, "appliance handshake timed out")
            );
            return;
        }
    };
    shared.metrics.handshake("ok");
    shared
        .metrics
        .handshake_seconds
        .observe(started.elapsed().as_secs_f64());
    serve(shared, conn, appliance, software, send, reader).await;
}

type Admitted = (
    quinn::Connection,
    ApplianceId,
    String,
    quinn::SendStream,
    ControlReader,
);

/// What a completed handshake turned out to be.
enum Admission {
    Appliance(Admitted),
    /// No client certificate and the enrollment ALPN: enrollment only.
    Enrollment(quinn::Connection),
}

async fn admit(shared: &Shared, incoming: quinn::Incoming) -> Result<Admission, AdmitError> {
    let conn = incoming.accept()?.await?;
    let alpn = conn
        .handshake_data()
        .and_then(|d| d.downcast::<quinn::crypto::rustls::HandshakeData>().ok())
        .and_then(|d| d.protocol);
    let appliance = match (tls::peer_appliance(&conn), alpn.as_deref()) {
        (Ok(id), Some(tunnel_proto::ALPN)) => id,
        (Err(tls::PeerIdentityError::NoCertificate), Some(tunnel_proto::ALPN_ENROLL)) => {
            return Ok(Admission::Enrollment(conn));
        }
        (Ok(_), _) => {
            conn.close(
                code(ErrorCode::ProtocolViolation),
                b"enrollment is for appliances without a certificate",
            );
            return Err(AdmitError::WrongAlpn);
        }
        (Err(e), _) => {
            conn.close(
                code(ErrorCode::Forbidden),
                b"certificate names no appliance",
            );
            return Err(e.into());
        }
    };
    // The verifier already refused revoked certificates; checking again here closes any path
    // that skips it.
    if shared.hooks.is_revoked(&appliance) {
        conn.close(code(ErrorCode::Revoked), b"revoked");
        return Err(AdmitError::Revoked);
    }
    let (mut send, mut recv) = conn.accept_bi().await?;
    match streams::read_header(&mut recv).await? {
        StreamHeader::Control => {}
        _ => {
            conn.close(code(ErrorCode::ProtocolViolation), b"control stream first");
            return Err(AdmitError::NotControl);
        }
    }
    let mut reader = ControlReader::new(recv, Vec::new());
    let software = match reader.next().await? {
        Control::Hello { software } => software,
        other => {
            conn.close(code(ErrorCode::ProtocolViolation), b"hello first");
            return Err(AdmitError::NotHello(other.name()));
        }
    };
    control::write(
        &mut send,
        &Control::Welcome {
            hub: shared.config.hub_id.clone(),
        },
    )
    .await?;
    Ok(Admission::Appliance((
        conn, appliance, software, send, reader,
    )))
}

async fn serve(
    shared: Arc<Shared>,
    conn: quinn::Connection,
    appliance: ApplianceId,
    software: String,
    send: quinn::SendStream,
    reader: ControlReader,
) {
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    let (control_tx, control_rx) = mpsc::channel(64);
    let streams_open = Arc::new(AtomicU64::new(0));
    lock(&shared.conns).insert(
        id,
        Registered {
            appliance: appliance.clone(),
            software: software.clone(),
            connected_at: SystemTime::now(),
            conn: conn.clone(),
            control: control_tx.clone(),
            streams_open: streams_open.clone(),
        },
    );
    shared.metrics.connections.inc();
    shared
        .hooks
        .connected(&appliance, conn.remote_address(), &software);
    info!(%appliance, remote = %conn.remote_address(), %software, conn_id = id, "appliance connected");
    // A connection admitted while the hub drains must move on at once.
    if shared.draining.load(Ordering::Acquire) {
        let _ = control_tx.try_send(Control::GoAway {
            reconnect_after_ms: 0,
        });
    }

    let flows = Flows::new(
        shared.clone(),
        conn.clone(),
        appliance.clone(),
        control_tx.clone(),
    );
    let peer = appliance.to_string();
    tokio::select! {
        _ = control_writer(send, control_rx) => {}
        _ = control_reader(reader, &flows, control_tx) => {}
        _ = streams::accept_bi(&shared, &conn, &appliance, &streams_open) => {}
        _ = flows.accept_uni() => {}
        _ = flows.read_datagrams() => {}
        _ = flows.sweep() => {}
        _ = crate::metrics::sample_forever(&shared.metrics, &peer, &conn) => {}
        reason = conn.closed() => debug!(%appliance, %reason, "connection closed"),
    }
    // Whatever loop ended first, the connection is over.
    conn.close(code(ErrorCode::NoError), b"");
    flows.close_all();
    lock(&shared.conns).remove(&id);
    shared.metrics.connections.dec();
    shared.hooks.disconnected(&appliance);
    shared.metrics.forget_peer(peer);
    shared.conn_closed.notify_waiters();
    info!(%appliance, conn_id = id, reason = ?conn.close_reason(), "appliance disconnected");
}

async fn control_writer(mut send: quinn::SendStream, mut rx: mpsc::Receiver<Control>) {
    while let Some(frame) = rx.recv().await {
        if control::write(&mut send, &frame).await.is_err() {
            return;
        }
    }
}

async fn control_reader(mut reader: ControlReader, flows: &Flows, tx: mpsc::Sender<Control>) {
    loop {
        let frame = match reader.next().await {
            Ok(frame) => frame,
            Err(error) => {
                debug!(%error, "control stream ended");
                return;
            }
        };
        match frame {
            Control::Ping { nonce } => {
                if tx.send(Control::Pong { nonce }).await.is_err() {
                    return;
                }
            }
            Control::FlowSource {
                flow,
                client,
                listener,
            } => flows.source(flow, client, listener),
            Control::FlowOpen { flow, service } => flows.open(flow, service).await,
            Control::FlowClosed { flow } => flows.close(flow),
            Control::Pong { .. } => {}
            other => {
                warn!(
                    frame = other.name(),
                    "unexpected control frame from gateway"
                );
                return;
            }
        }
    }
}
