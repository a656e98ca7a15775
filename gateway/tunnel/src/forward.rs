//! Splicing a TCP connection onto a QUIC stream, both ways, with half-close and resets mapped
//! across.

use quinn::{ReadError, RecvStream, SendStream, WriteError};
use tokio::io::{AsyncRead, AsyncWrite};
use tunnel_proto::ErrorCode;

/// Buffer per direction; large enough that one copy call fills many QUIC packets.
const BUF: usize = 64 << 10;

/// Bytes moved by a finished splice.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Moved {
    /// From the TCP side into the QUIC stream.
    pub(crate) into_quic: u64,
    /// From the QUIC stream out to the TCP side.
    pub(crate) out_of_quic: u64,
}

/// How a splice ended badly.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SpliceError {
    /// The peer reset or stopped the QUIC stream with this code.
    #[error("peer reset the stream: {0}")]
    PeerReset(ErrorCode),
    #[error("forwarding failed")]
    Io(#[source] std::io::Error),
}

/// Copies until both directions have finished. On a local failure the QUIC stream is reset so
/// the far end learns at once.
pub(crate) async fn splice<T>(
    tcp: &mut T,
    send: SendStream,
    recv: RecvStream,
) -> Result<Moved, SpliceError>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    let mut quic = tokio::io::join(recv, send);
    match tokio::io::copy_bidirectional_with_sizes(tcp, &mut quic, BUF, BUF).await {
        Ok((into_quic, out_of_quic)) => Ok(Moved {
            into_quic,
            out_of_quic,
        }),
        Err(error) => {
            if let Some(code) = peer_code(&error) {
                return Err(SpliceError::PeerReset(code));
            }
            let (mut recv, mut send) = quic.into_inner();
            let code = quinn::VarInt::from_u32(ErrorCode::Cancelled.to_u32());
            let _ = send.reset(code);
            let _ = recv.stop(code);
            Err(SpliceError::Io(error))
        }
    }
}

/// The application error code behind an I/O error from a quinn stream, if the peer sent one.
pub(crate) fn peer_code(error: &std::io::Error) -> Option<ErrorCode> {
    let inner = error.get_ref()?;
    if let Some(ReadError::Reset(code)) = inner.downcast_ref::<ReadError>() {
        return Some(ErrorCode::from_u64(code.into_inner()));
    }
    if let Some(WriteError::Stopped(code)) = inner.downcast_ref::<WriteError>() {
        return Some(ErrorCode::from_u64(code.into_inner()));
    }
    None
}

/// Resets both halves of a stream with `code`.
pub(crate) fn refuse(send: &mut SendStream, recv: &mut RecvStream, code: ErrorCode) {
    let code = quinn::VarInt::from_u32(code.to_u32());
    let _ = send.reset(code);
    let _ = recv.stop(code);
}
