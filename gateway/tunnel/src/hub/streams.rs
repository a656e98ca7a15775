//! Service streams at the hub: read the header, authorise, connect upstream, (for services
//! that ask for it) write a PROXY header naming the appliance, splice.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tracing::debug;
use tunnel_proto::{
    ApplianceId, ErrorCode, HeaderError, MAX_HEADER_LEN, ServiceName, StreamHeader,
};

use super::Shared;
use crate::forward::{self, SpliceError};
use crate::log_limit::limited;
use crate::metrics::ServiceLabel;
use crate::policy::{Protocol, Upstream};

/// Why a stream header could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HeaderReadError {
    #[error("stream ended inside its header")]
    Read(#[from] quinn::ReadExactError),
    #[error("malformed stream header")]
    Malformed(#[from] HeaderError),
}

/// Reads exactly one header, byte by byte past the first two, so no payload byte is consumed.
/// Bounded by [`MAX_HEADER_LEN`].
pub(crate) async fn read_header(
    recv: &mut quinn::RecvStream,
) -> Result<StreamHeader, HeaderReadError> {
    let mut buf = [0u8; MAX_HEADER_LEN];
    let mut len = 2;
    recv.read_exact(&mut buf[..len]).await?;
    loop {
        match StreamHeader::decode(&buf[..len]) {
            Ok((header, _)) => return Ok(header),
            Err(HeaderError::Incomplete) if len < MAX_HEADER_LEN => {
                recv.read_exact(&mut buf[len..=len]).await?;
                len += 1;
            }
            Err(HeaderError::Incomplete) => return Err(HeaderError::TooLong.into()),
            Err(e) => return Err(e.into()),
        }
    }
}

pub(super) async fn accept_bi(
    shared: &Arc<Shared>,
    conn: &quinn::Connection,
    appliance: &ApplianceId,
    open: &Arc<AtomicU64>,
) {
    while let Ok((send, recv)) = conn.accept_bi().await {
        let (shared, appliance, open) = (shared.clone(), appliance.clone(), open.clone());
        // Read per stream: QUIC lets the gateway's address change during the connection.
        let peer = conn.remote_address();
        tokio::spawn(async move {
            open.fetch_add(1, Ordering::Relaxed);
            shared.metrics.streams_active.inc();
            serve_stream(&shared, &appliance, peer, send, recv).await;
            shared.metrics.streams_active.dec();
            open.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

async fn serve_stream(
    shared: &Shared,
    appliance: &ApplianceId,
    peer: SocketAddr,
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
) {
    let header = tokio::time::timeout(shared.config.header_timeout, read_header(&mut recv)).await;
    if shared.hooks.is_revoked(appliance) {
        return forward::refuse(&mut send, &mut recv, ErrorCode::Revoked);
    }
    let name = match header {
        Ok(Ok(StreamHeader::Service(name))) => name,
        Ok(Ok(StreamHeader::Renew)) => return renew(shared, appliance, send, recv).await,
        Ok(Ok(other)) => {
            return bad_header(
                shared,
                appliance,
                &mut send,
                &mut recv,
                &format!("{other:?} on a bidirectional stream"),
            );
        }
        Ok(Err(error)) => {
            return bad_header(shared, appliance, &mut send, &mut recv, &error.to_string());
        }
        Err(_) => {
            shared.metrics.refused("", ErrorCode::HeaderTimeout);
            return crate::forward::refuse(&mut send, &mut recv, ErrorCode::HeaderTimeout);
        }
    };
    let (upstream, proxy_protocol) = {
        let services = shared
            .services
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        match services.authorize(appliance, &name, Protocol::Tcp) {
            Ok(service) => (service.upstream.clone(), service.proxy_protocol),
            Err(code) => return refuse(shared, appliance, &name, &mut send, &mut recv, code),
        }
    };
    // Routing is per datagram; a TCP service can only have an address (hubd's configuration
    // refuses anything else, this covers tables built in code).
    let Upstream::Address(upstream) = upstream else {
        return refuse(
            shared,
            appliance,
            &name,
            &mut send,
            &mut recv,
            ErrorCode::UpstreamUnreachable,
        );
    };
    let tcp =
        match tokio::time::timeout(shared.config.connect_timeout, TcpStream::connect(&upstream))
            .await
        {
            Ok(Ok(tcp)) => tcp,
            Ok(Err(error)) => {
                limited!(
                    shared.bad_peer_log,
                    warn!(%appliance, service = %name, %upstream, %error, "upstream unreachable")
                );
                return refuse(
                    shared,
                    appliance,
                    &name,
                    &mut send,
                    &mut recv,
                    ErrorCode::UpstreamUnreachable,
                );
            }
            Err(_) => {
                limited!(
                    shared.bad_peer_log,
                    warn!(%appliance, service = %name, %upstream, "upstream connect timed out")
                );
                return refuse(
                    shared,
                    appliance,
                    &name,
                    &mut send,
                    &mut recv,
                    ErrorCode::UpstreamUnreachable,
                );
            }
        };
    let _ = tcp.set_nodelay(true);
    let mut tcp = tcp;
    if proxy_protocol && let Err(error) = write_origin(&mut tcp, appliance, peer).await {
        limited!(
            shared.bad_peer_log,
            warn!(%appliance, service = %name, %upstream, %error, "upstream refused the PROXY header")
        );
        return refuse(
            shared,
            appliance,
            &name,
            &mut send,
            &mut recv,
            ErrorCode::UpstreamUnreachable,
        );
    }
    shared
        .metrics
        .streams
        .get_or_create(&ServiceLabel {
            service: name.to_string(),
        })
        .inc();
    match forward::splice(&mut tcp, send, recv).await {
        // Into QUIC is towards the gateway; out of QUIC is what the gateway sent the hub.
        Ok(moved) => shared
            .metrics
            .forwarded(name.as_str(), moved.out_of_quic, moved.into_quic),
        Err(SpliceError::PeerReset(code)) => {
            debug!(%appliance, service = %name, %code, "gateway reset the stream")
        }
        Err(SpliceError::Io(error)) => {
            debug!(%appliance, service = %name, %error, "stream ended with an error")
        }
    }
}

/// Tells the upstream which appliance this connection comes from, before any byte the gateway
/// sent: whatever the LAN client writes, even a PROXY header of its own, arrives after it.
async fn write_origin(
    tcp: &mut TcpStream,
    appliance: &ApplianceId,
    peer: SocketAddr,
) -> std::io::Result<()> {
    let origin = tunnel_origin::Origin {
        appliance: appliance.clone(),
        peer,
    };
    let header = tunnel_origin::encode(&origin, tcp.peer_addr()?);
    tcp.write_all(&header).await
}

/// One renewal exchange: a request frame in, the fleet manager's answer out.
async fn renew(
    shared: &Shared,
    appliance: &ApplianceId,
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
) {
    let Ok(Ok(request)) =
        tokio::time::timeout(shared.config.header_timeout, crate::rpc::read(&mut recv)).await
    else {
        return forward::refuse(&mut send, &mut recv, ErrorCode::BadHeader);
    };
    let (hooks, id) = (shared.hooks.clone(), appliance.clone());
    let Ok(reply) = tokio::task::spawn_blocking(move || hooks.renew(&id, &request)).await else {
        return forward::refuse(&mut send, &mut recv, ErrorCode::Internal);
    };
    if crate::rpc::write(&mut send, &reply).await.is_ok() {
        let _ = send.finish();
    }
}

fn refuse(
    shared: &Shared,
    appliance: &ApplianceId,
    name: &ServiceName,
    send: &mut quinn::SendStream,
    recv: &mut quinn::RecvStream,
    code: ErrorCode,
) {
    shared.metrics.refused(name.as_str(), code);
    limited!(
        shared.bad_peer_log,
        warn!(%appliance, service = %name, reason = code.name(), "stream refused")
    );
    forward::refuse(send, recv, code);
}

fn bad_header(
    shared: &Shared,
    appliance: &ApplianceId,
    send: &mut quinn::SendStream,
    recv: &mut quinn::RecvStream,
    what: &str,
) {
    shared.metrics.refused("", ErrorCode::BadHeader);
    limited!(
        shared.bad_peer_log,
        warn!(%appliance, error = what, "bad stream header")
    );
    forward::refuse(send, recv, ErrorCode::BadHeader);
}
