//! TCP services at the gateway: each accepted connection becomes one stream to the hub.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tracing::debug;
use tunnel_proto::{ErrorCode, ServiceName, StreamHeader};

use super::{Gateway, Shared};
use crate::forward::{self, SpliceError};
use crate::log_limit::{LogLimit, limited};
use crate::metrics::ServiceLabel;

impl Gateway {
    /// Forwards every connection accepted on `listener` to `service` at the hub. Runs until the
    /// listener fails.
    pub async fn serve_tcp(
        &self,
        listener: TcpListener,
        service: ServiceName,
    ) -> std::io::Result<()> {
        let log = Arc::new(LogLimit::new(Duration::from_secs(10), 10));
        loop {
            let (tcp, _) = listener.accept().await?;
            let _ = tcp.set_nodelay(true);
            let (shared, service, log) = (self.shared.clone(), service.clone(), log.clone());
            tokio::spawn(async move { forward(&shared, tcp, &service, &log).await });
        }
    }
}

async fn forward(shared: &Shared, mut tcp: TcpStream, service: &ServiceName, log: &LogLimit) {
    let header = StreamHeader::Service(service.clone()).to_bytes();
    // A link that dies between lookup and open is retried once on its successor; nothing of
    // the local connection has been read yet, so nothing is lost.
    for _ in 0..2 {
        let Some(link) = shared.current_link(shared.config.wait_for_link).await else {
            shared
                .metrics
                .refused(service.as_str(), ErrorCode::UpstreamUnreachable);
            limited!(
                log,
                warn!(%service, "no tunnel to the hub; local connection refused")
            );
            return reset(tcp);
        };
        let Ok((mut send, recv)) = link.conn.open_bi().await else {
            continue;
        };
        if send.write_all(&header).await.is_err() {
            continue;
        }
        shared
            .metrics
            .streams
            .get_or_create(&ServiceLabel {
                service: service.to_string(),
            })
            .inc();
        shared.metrics.streams_active.inc();
        link.streams_open.fetch_add(1, Ordering::AcqRel);
        let result = forward::splice(&mut tcp, send, recv).await;
        link.streams_open.fetch_sub(1, Ordering::AcqRel);
        shared.metrics.streams_active.dec();
        match result {
            Ok(moved) => {
                shared
                    .metrics
                    .forwarded(service.as_str(), moved.into_quic, moved.out_of_quic)
            }
            Err(SpliceError::PeerReset(code)) => {
                shared.metrics.refused(service.as_str(), code);
                limited!(
                    log,
                    warn!(%service, reason = code.name(), "hub reset the stream")
                );
                return reset(tcp);
            }
            Err(SpliceError::Io(error)) => debug!(%service, %error, "stream ended with an error"),
        }
        return;
    }
    reset(tcp);
}

/// Closes the local connection with a TCP reset, so the client sees a failure rather than a
/// clean end of data.
fn reset(tcp: TcpStream) {
    // Linger zero sends RST at once and does not block.
    let _ = socket2::SockRef::from(&tcp).set_linger(Some(Duration::ZERO));
    drop(tcp);
}
