//! UDP flow transport shared by both ends: QUIC datagrams, with a unidirectional stream for a
//! datagram too large for the path.

use bytes::Bytes;
use tunnel_proto::{FlowId, MAX_UDP_PAYLOAD, StreamHeader, datagram};

use crate::Metrics;

/// Sends one UDP payload of `flow` to the peer.
pub(crate) fn send(conn: &quinn::Connection, metrics: &Metrics, flow: FlowId, payload: &[u8]) {
    let mut buf = Vec::with_capacity(datagram::overhead(flow) + payload.len());
    datagram::encode(flow, payload, &mut buf);
    match conn.max_datagram_size() {
        Some(max) if buf.len() <= max => match conn.send_datagram(Bytes::from(buf)) {
            Ok(()) => metrics.datagram("sent"),
            Err(_) => metrics.datagram("send_failed"),
        },
        _ => {
            // Too large for one QUIC packet: carry it on its own stream, off the hot path.
            metrics.datagram("sent_on_stream");
            let conn = conn.clone();
            let payload = payload.to_vec();
            tokio::spawn(async move {
                let Ok(mut send) = conn.open_uni().await else {
                    return;
                };
                let mut head = StreamHeader::Datagram(flow).to_bytes();
                head.extend_from_slice(&payload);
                if send.write_all(&head).await.is_ok() {
                    let _ = send.finish();
                }
            });
        }
    }
}

/// Why a fallback stream could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FallbackError {
    #[error("bad header")]
    Header(#[from] crate::hub::streams::HeaderReadError),
    #[error("not a datagram stream")]
    NotDatagram,
    #[error("datagram stream unreadable or over the UDP maximum")]
    Read(#[from] quinn::ReadToEndError),
}

/// Reads one oversized datagram from a unidirectional stream, bounded by the UDP maximum.
pub(crate) async fn read_fallback(
    mut recv: quinn::RecvStream,
) -> Result<(FlowId, Vec<u8>), FallbackError> {
    match crate::hub::streams::read_header(&mut recv).await? {
        StreamHeader::Datagram(flow) => Ok((flow, recv.read_to_end(MAX_UDP_PAYLOAD).await?)),
        _ => Err(FallbackError::NotDatagram),
    }
}
