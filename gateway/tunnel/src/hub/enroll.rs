//! Connections without a client certificate: the enrollment protocol and nothing else.

use std::sync::Arc;
use std::time::Duration;

use tracing::info;
use tunnel_proto::{ErrorCode, StreamHeader};

use super::{Shared, code, streams};
use crate::error_chain;
use crate::log_limit::limited;
use crate::rpc;

/// Time an enrollment connection may take from admission to its last answer.
const ENROLL_DEADLINE: Duration = Duration::from_secs(30);

/// Why an enrollment connection was dropped.
#[derive(Debug, thiserror::Error)]
enum EnrollConnError {
    #[error("connection failed")]
    Connection(#[from] quinn::ConnectionError),
    #[error("bad stream header")]
    Header(#[from] streams::HeaderReadError),
    #[error("the only stream allowed here is the enrollment stream")]
    NotEnroll,
    #[error("frame exchange failed")]
    Rpc(#[from] rpc::RpcStreamError),
    #[error("the fleet manager failed")]
    Join(#[from] tokio::task::JoinError),
    #[error("took longer than {ENROLL_DEADLINE:?}")]
    Deadline,
}

pub(super) async fn serve(shared: Arc<Shared>, conn: quinn::Connection) {
    let remote = conn.remote_address();
    let Ok(_permit) = shared.enrollments.clone().try_acquire_owned() else {
        conn.close(code(ErrorCode::Limit), b"too many enrollments in progress");
        return;
    };
    info!(%remote, "enrollment connection");
    let outcome = tokio::time::timeout(ENROLL_DEADLINE, exchange(&shared, &conn))
        .await
        .unwrap_or(Err(EnrollConnError::Deadline));
    match outcome {
        Ok(()) => {
            // Let the last answer reach the appliance before closing.
            let _ = tokio::time::timeout(Duration::from_secs(2), conn.closed()).await;
            conn.close(code(ErrorCode::NoError), b"");
        }
        Err(error) => {
            limited!(
                shared.bad_peer_log,
                debug!(%remote, error = %error_chain(&error), "enrollment connection ended")
            );
            conn.close(code(ErrorCode::ProtocolViolation), b"enrollment only");
        }
    }
}

async fn exchange(shared: &Arc<Shared>, conn: &quinn::Connection) -> Result<(), EnrollConnError> {
    let remote = conn.remote_address();
    let (mut send, mut recv) = conn.accept_bi().await?;
    if streams::read_header(&mut recv).await? != StreamHeader::Enroll {
        return Err(EnrollConnError::NotEnroll);
    }
    let first = rpc::read(&mut recv).await?;
    let hooks = shared.hooks.clone();
    let (reply, mut session) =
        tokio::task::spawn_blocking(move || hooks.enroll(remote, &first)).await?;
    rpc::write(&mut send, &reply).await?;
    while let Some(s) = session {
        let message = rpc::read(&mut recv).await?;
        let (reply, next) = tokio::task::spawn_blocking(move || s.next(&message)).await?;
        rpc::write(&mut send, &reply).await?;
        session = next;
    }
    let _ = send.finish();
    Ok(())
}
