//! Request/response frames on enrollment and renewal streams: `length: u32 (big-endian) ‖
//! body`, bodies at most [`MAX_RPC`] bytes. The bodies' meaning belongs to the PKI.

/// Largest body accepted.
pub const MAX_RPC: usize = 16 * 1024;

/// Why a frame could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RpcError {
    #[error("frame is incomplete")]
    Incomplete,
    #[error("frame of {0} bytes exceeds {MAX_RPC}")]
    TooLong(usize),
}

/// Appends a frame carrying `body` (which must be at most [`MAX_RPC`] bytes).
pub fn encode(body: &[u8], out: &mut Vec<u8>) -> Result<(), RpcError> {
    if body.len() > MAX_RPC {
        return Err(RpcError::TooLong(body.len()));
    }
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
    Ok(())
}

/// The body length announced by a 4-byte prefix, checked against the bound.
pub fn body_len(prefix: [u8; 4]) -> Result<usize, RpcError> {
    let len = u32::from_be_bytes(prefix) as usize;
    if len > MAX_RPC {
        Err(RpcError::TooLong(len))
    } else {
        Ok(len)
    }
}

/// Splits one frame off the front of `buf`.
pub fn decode(buf: &[u8]) -> Result<(&[u8], usize), RpcError> {
    let prefix: [u8; 4] = buf
        .get(..4)
        .and_then(|p| p.try_into().ok())
        .ok_or(RpcError::Incomplete)?;
    let len = body_len(prefix)?;
    let body = buf.get(4..4 + len).ok_or(RpcError::Incomplete)?;
    Ok((body, 4 + len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trip_and_truncation(body in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let mut buf = Vec::new();
            encode(&body, &mut buf).expect("fits");
            prop_assert_eq!(decode(&buf), Ok((body.as_slice(), buf.len())));
            for cut in 0..buf.len() {
                prop_assert_eq!(decode(&buf[..cut]), Err(RpcError::Incomplete));
            }
        }
    }

    #[test]
    fn oversized_frames_are_refused_both_ways() {
        assert_eq!(
            encode(&vec![0; MAX_RPC + 1], &mut Vec::new()),
            Err(RpcError::TooLong(MAX_RPC + 1))
        );
        assert_eq!(
            decode(&[0xff, 0xff, 0xff, 0xff]),
            Err(RpcError::TooLong(0xffff_ffff))
        );
    }
}
