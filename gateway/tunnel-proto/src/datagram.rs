//! UDP flows as QUIC datagrams: `flow id (varint) ‖ payload`.

use crate::{FlowId, MAX_UDP_PAYLOAD, varint};

/// Why a datagram could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatagramError {
    #[error("datagram ends inside its flow id")]
    Truncated,
    #[error("datagram payload of {0} bytes exceeds the UDP maximum")]
    TooLong(usize),
}

/// Encodes a datagram for `flow` carrying `payload`.
pub fn encode(flow: FlowId, payload: &[u8], out: &mut Vec<u8>) {
    varint::encode(flow.get(), out);
    out.extend_from_slice(payload);
}

/// Bytes of framing `flow` adds to each datagram.
pub fn overhead(flow: FlowId) -> usize {
    match flow.get() {
        0..64 => 1,
        64..16_384 => 2,
        16_384..1_073_741_824 => 4,
        _ => 8,
    }
}

/// Splits a received datagram into its flow and payload.
pub fn decode(buf: &[u8]) -> Result<(FlowId, &[u8]), DatagramError> {
    let (id, used) = varint::decode(buf).map_err(|_| DatagramError::Truncated)?;
    let payload = &buf[used..];
    if payload.len() > MAX_UDP_PAYLOAD {
        return Err(DatagramError::TooLong(payload.len()));
    }
    let flow = FlowId::new(id).map_err(|_| DatagramError::Truncated)?;
    Ok((flow, payload))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trip(id in 0..=crate::varint::MAX, payload in proptest::collection::vec(any::<u8>(), 0..1500)) {
            let flow = FlowId::new(id).expect("in range");
            let mut buf = Vec::new();
            encode(flow, &payload, &mut buf);
            prop_assert_eq!(buf.len(), overhead(flow) + payload.len());
            prop_assert_eq!(decode(&buf), Ok((flow, payload.as_slice())));
        }

        #[test]
        fn arbitrary_bytes_never_panic(buf in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode(&buf);
        }
    }

    #[test]
    fn empty_and_oversized_datagrams_are_errors() {
        assert_eq!(decode(&[]), Err(DatagramError::Truncated));
        assert_eq!(decode(&[0x40]), Err(DatagramError::Truncated));
        let big = vec![0u8; MAX_UDP_PAYLOAD + 2];
        assert_eq!(
            decode(&big),
            Err(DatagramError::TooLong(MAX_UDP_PAYLOAD + 1))
        );
    }
}
