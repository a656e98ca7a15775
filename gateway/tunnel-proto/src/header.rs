//! Stream headers: the first bytes of every stream a gateway opens.

use crate::{FlowId, ServiceName, VERSION, varint};

/// Longest possible header: version, kind, length byte and a maximal service name.
pub const MAX_HEADER_LEN: usize = 2 + 1 + crate::MAX_SERVICE_NAME;

const KIND_CONTROL: u8 = 0;
const KIND_SERVICE: u8 = 1;
const KIND_DATAGRAM: u8 = 2;
const KIND_ENROLL: u8 = 3;
const KIND_RENEW: u8 = 4;

/// What a stream is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamHeader {
    /// The connection's control stream (bidirectional, opened first by the gateway).
    Control,
    /// One TCP connection to the named service (bidirectional).
    Service(ServiceName),
    /// One UDP datagram of a flow, too large for a QUIC datagram (unidirectional, either way).
    /// The rest of the stream is the payload.
    Datagram(FlowId),
    /// Enrollment exchange on a connection without a client certificate (bidirectional);
    /// the rest is [`crate::rpc`] frames.
    Enroll,
    /// Certificate renewal by an admitted appliance (bidirectional); the rest is
    /// [`crate::rpc`] frames.
    Renew,
}

/// Why a stream header could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// More bytes are needed; read more and try again.
    #[error("stream header is incomplete")]
    Incomplete,
    /// The header claims to be longer than any valid header.
    #[error("stream header is longer than {MAX_HEADER_LEN} bytes")]
    TooLong,
    #[error("unsupported tunnel protocol version {0}")]
    UnknownVersion(u8),
    #[error("unknown stream kind {0}")]
    UnknownKind(u8),
    #[error("stream header names an invalid service")]
    InvalidServiceName,
}

impl StreamHeader {
    /// Appends the encoded header to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(VERSION);
        match self {
            Self::Control => out.push(KIND_CONTROL),
            Self::Service(name) => {
                out.push(KIND_SERVICE);
                name.encode(out);
            }
            Self::Datagram(flow) => {
                out.push(KIND_DATAGRAM);
                varint::encode(flow.get(), out);
            }
            Self::Enroll => out.push(KIND_ENROLL),
            Self::Renew => out.push(KIND_RENEW),
        }
    }

    /// The encoded header as a new buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(MAX_HEADER_LEN);
        self.encode(&mut out);
        out
    }

    /// Decodes a header from the front of `buf`; returns it and the bytes it used.
    ///
    /// `Incomplete` means "read more"; a caller that already holds [`MAX_HEADER_LEN`] bytes
    /// will never see it.
    pub fn decode(buf: &[u8]) -> Result<(Self, usize), HeaderError> {
        let [version, kind, rest @ ..] = buf else {
            return Err(HeaderError::Incomplete);
        };
        if *version != VERSION {
            return Err(HeaderError::UnknownVersion(*version));
        }
        match *kind {
            KIND_CONTROL => Ok((Self::Control, 2)),
            KIND_ENROLL => Ok((Self::Enroll, 2)),
            KIND_RENEW => Ok((Self::Renew, 2)),
            KIND_SERVICE => {
                let len = usize::from(*rest.first().ok_or(HeaderError::Incomplete)?);
                if len > crate::MAX_SERVICE_NAME {
                    return Err(HeaderError::TooLong);
                }
                let raw = rest.get(1..1 + len).ok_or(HeaderError::Incomplete)?;
                let name = ServiceName::from_bytes(raw).ok_or(HeaderError::InvalidServiceName)?;
                Ok((Self::Service(name), 3 + len))
            }
            KIND_DATAGRAM => {
                let (id, used) = varint::decode(rest).map_err(|_| HeaderError::Incomplete)?;
                // Cannot fail: a decoded varint is always in range.
                let flow = FlowId::new(id).map_err(|_| HeaderError::TooLong)?;
                Ok((Self::Datagram(flow), 2 + used))
            }
            other => Err(HeaderError::UnknownKind(other)),
        }
    }
}

#[cfg(test)]
mod tests;
