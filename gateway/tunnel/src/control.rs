//! Async reading and writing of control frames over a QUIC stream.

use quinn::{RecvStream, SendStream};
use tunnel_proto::{Control, ControlError, MAX_CONTROL_BODY};

/// Why the control stream failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlStreamError {
    #[error("control stream read failed")]
    Read(#[from] quinn::ReadError),
    #[error("control stream write failed")]
    Write(#[from] quinn::WriteError),
    #[error("control stream closed by peer")]
    Closed,
    #[error("bad control frame")]
    Frame(#[from] ControlError),
}

/// Reads frames one by one, holding at most one frame's worth of bytes.
#[derive(Debug)]
pub(crate) struct ControlReader {
    stream: RecvStream,
    buf: Vec<u8>,
}

impl ControlReader {
    pub(crate) fn new(stream: RecvStream, leftover: Vec<u8>) -> Self {
        Self {
            stream,
            buf: leftover,
        }
    }

    /// The next known frame; unknown frame types (from a newer peer) are skipped.
    pub(crate) async fn next(&mut self) -> Result<Control, ControlStreamError> {
        loop {
            match Control::decode(&self.buf) {
                Ok((frame, used)) => {
                    self.buf.drain(..used);
                    return Ok(frame);
                }
                Err(ControlError::UnknownType { len, .. }) if len <= self.buf.len() => {
                    self.buf.drain(..len);
                    continue;
                }
                Err(ControlError::Incomplete | ControlError::UnknownType { .. }) => {}
                Err(e) => return Err(e.into()),
            }
            let mut chunk = [0u8; 3 + MAX_CONTROL_BODY];
            let room = (3 + MAX_CONTROL_BODY).saturating_sub(self.buf.len()).max(1);
            match self.stream.read(&mut chunk[..room]).await? {
                Some(n) => self.buf.extend_from_slice(&chunk[..n]),
                None => return Err(ControlStreamError::Closed),
            }
        }
    }
}

/// Writes one frame.
pub(crate) async fn write(
    stream: &mut SendStream,
    frame: &Control,
) -> Result<(), ControlStreamError> {
    stream.write_all(&frame.to_bytes()).await?;
    Ok(())
}
