//! Length-prefixed request/response frames over a QUIC stream (enrollment and renewal).

use tunnel_proto::rpc;

/// Why a frame could not be exchanged.
#[derive(Debug, thiserror::Error)]
pub enum RpcStreamError {
    #[error("stream read failed")]
    Read(#[from] quinn::ReadExactError),
    #[error("stream write failed")]
    Write(#[from] quinn::WriteError),
    #[error("bad frame")]
    Frame(#[from] rpc::RpcError),
}

/// Reads one frame's body, bounded by [`rpc::MAX_RPC`].
pub(crate) async fn read(recv: &mut quinn::RecvStream) -> Result<Vec<u8>, RpcStreamError> {
    let mut prefix = [0u8; 4];
    recv.read_exact(&mut prefix).await?;
    let mut body = vec![0u8; rpc::body_len(prefix)?];
    recv.read_exact(&mut body).await?;
    Ok(body)
}

/// Writes one frame.
pub(crate) async fn write(send: &mut quinn::SendStream, body: &[u8]) -> Result<(), RpcStreamError> {
    let mut frame = Vec::with_capacity(4 + body.len());
    rpc::encode(body, &mut frame)?;
    send.write_all(&frame).await?;
    Ok(())
}
