//! Control-stream frames: `type: u8 ‖ length: u16 (big-endian) ‖ body`.
//!
//! The control stream is the first stream of every connection. The gateway speaks first
//! ([`Control::Hello`]); the hub answers [`Control::Welcome`] only once it has admitted the
//! appliance, so a gateway never mistakes a completed QUIC handshake for acceptance.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::{ErrorCode, FlowId, ServiceName, varint};

/// Largest frame body accepted; larger frames are a protocol violation.
pub const MAX_CONTROL_BODY: usize = 1024;

/// Longest free-text field (software version, hub id).
const MAX_TEXT: usize = 128;

/// One control message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    /// Gateway → hub, first frame: who is calling (the identity itself comes from mTLS).
    Hello {
        software: String,
    },
    /// Hub → gateway: the appliance is admitted; the tunnel is up.
    Welcome {
        hub: String,
    },
    /// Hub → gateway: the hub is draining; open a replacement connection, then move over.
    GoAway {
        reconnect_after_ms: u32,
    },
    /// Either way: liveness probe answered with the same nonce.
    Ping {
        nonce: u64,
    },
    Pong {
        nonce: u64,
    },
    /// Gateway → hub, just before the [`Control::FlowOpen`] of the same flow: who sent the
    /// flow's first datagram on the embassy LAN, and to which gateway listener address. Purely
    /// informational for the hub's upstreams (the identity still comes from mTLS); a hub that
    /// does not know this frame skips it.
    FlowSource {
        flow: FlowId,
        /// The LAN client's address as the gateway's listener saw it.
        client: SocketAddr,
        /// The listener address the client sent to, when the gateway knows one worth naming.
        listener: Option<SocketAddr>,
    },
    /// Gateway → hub: a new UDP flow for `service`.
    FlowOpen {
        flow: FlowId,
        service: ServiceName,
    },
    /// Hub → gateway: the flow may send datagrams.
    FlowAccepted {
        flow: FlowId,
    },
    /// Hub → gateway: the flow was refused (unknown service, forbidden, …).
    FlowRefused {
        flow: FlowId,
        code: ErrorCode,
    },
    /// Either way: the flow is over; forget its id.
    FlowClosed {
        flow: FlowId,
    },
}

/// Why a control frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    /// More bytes are needed.
    #[error("control frame is incomplete")]
    Incomplete,
    #[error("control frame body of {0} bytes exceeds {MAX_CONTROL_BODY}")]
    TooLong(usize),
    /// A frame type this version does not know; `len` bytes may be skipped.
    #[error("unknown control frame type {ty}")]
    UnknownType { ty: u8, len: usize },
    #[error("malformed {0} frame")]
    Malformed(&'static str),
}

const HELLO: u8 = 1;
const WELCOME: u8 = 2;
const GOAWAY: u8 = 3;
const PING: u8 = 4;
const PONG: u8 = 5;
const FLOW_OPEN: u8 = 6;
const FLOW_ACCEPTED: u8 = 7;
const FLOW_REFUSED: u8 = 8;
const FLOW_CLOSED: u8 = 9;
const FLOW_SOURCE: u8 = 10;

/// Family bytes of an encoded socket address: `family ‖ ip ‖ port (u16 BE)`, or `NO_ADDR` alone.
const NO_ADDR: u8 = 0;
const ADDR_V4: u8 = 4;
const ADDR_V6: u8 = 6;

impl Control {
    /// Appends the encoded frame to `out`. Text fields longer than the limit are truncated
    /// at a character boundary, since they are informational.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0, 0, 0]);
        let ty = match self {
            Self::Hello { software } => {
                put_text(software, out);
                HELLO
            }
            Self::Welcome { hub } => {
                put_text(hub, out);
                WELCOME
            }
            Self::GoAway { reconnect_after_ms } => {
                out.extend_from_slice(&reconnect_after_ms.to_be_bytes());
                GOAWAY
            }
            Self::Ping { nonce } => {
                out.extend_from_slice(&nonce.to_be_bytes());
                PING
            }
            Self::Pong { nonce } => {
                out.extend_from_slice(&nonce.to_be_bytes());
                PONG
            }
            Self::FlowOpen { flow, service } => {
                varint::encode(flow.get(), out);
                service.encode(out);
                FLOW_OPEN
            }
            Self::FlowSource {
                flow,
                client,
                listener,
            } => {
                varint::encode(flow.get(), out);
                put_addr(Some(*client), out);
                put_addr(*listener, out);
                FLOW_SOURCE
            }
            Self::FlowAccepted { flow } => {
                varint::encode(flow.get(), out);
                FLOW_ACCEPTED
            }
            Self::FlowRefused { flow, code } => {
                varint::encode(flow.get(), out);
                out.extend_from_slice(&code.to_u32().to_be_bytes());
                FLOW_REFUSED
            }
            Self::FlowClosed { flow } => {
                varint::encode(flow.get(), out);
                FLOW_CLOSED
            }
        };
        let body_len = (out.len() - start - 3) as u16;
        out[start] = ty;
        out[start + 1..start + 3].copy_from_slice(&body_len.to_be_bytes());
    }

    /// The encoded frame as a new buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16);
        self.encode(&mut out);
        out
    }

    /// Decodes one frame from the front of `buf`; returns it and the bytes it used.
    pub fn decode(buf: &[u8]) -> Result<(Self, usize), ControlError> {
        let [ty, hi, lo, rest @ ..] = buf else {
            return Err(ControlError::Incomplete);
        };
        let len = usize::from(u16::from_be_bytes([*hi, *lo]));
        if len > MAX_CONTROL_BODY {
            return Err(ControlError::TooLong(len));
        }
        let body = rest.get(..len).ok_or(ControlError::Incomplete)?;
        let mut r = Reader(body);
        let frame = match *ty {
            HELLO => Self::Hello {
                software: r.text("hello")?,
            },
            WELCOME => Self::Welcome {
                hub: r.text("welcome")?,
            },
            GOAWAY => Self::GoAway {
                reconnect_after_ms: u32::from_be_bytes(r.array("goaway")?),
            },
            PING => Self::Ping {
                nonce: u64::from_be_bytes(r.array("ping")?),
            },
            PONG => Self::Pong {
                nonce: u64::from_be_bytes(r.array("pong")?),
            },
            FLOW_OPEN => Self::FlowOpen {
                flow: r.flow("flow_open")?,
                service: r.service("flow_open")?,
            },
            FLOW_SOURCE => Self::FlowSource {
                flow: r.flow("flow_source")?,
                client: r
                    .addr("flow_source")?
                    .ok_or(ControlError::Malformed("flow_source"))?,
                listener: r.addr("flow_source")?,
            },
            FLOW_ACCEPTED => Self::FlowAccepted {
                flow: r.flow("flow_accepted")?,
            },
            FLOW_REFUSED => Self::FlowRefused {
                flow: r.flow("flow_refused")?,
                code: ErrorCode::from_u64(u64::from(u32::from_be_bytes(r.array("flow_refused")?))),
            },
            FLOW_CLOSED => Self::FlowClosed {
                flow: r.flow("flow_closed")?,
            },
            other => {
                return Err(ControlError::UnknownType {
                    ty: other,
                    len: 3 + len,
                });
            }
        };
        if !r.0.is_empty() {
            return Err(ControlError::Malformed(frame.name()));
        }
        Ok((frame, 3 + len))
    }

    /// The frame's name, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Hello { .. } => "hello",
            Self::Welcome { .. } => "welcome",
            Self::GoAway { .. } => "goaway",
            Self::Ping { .. } => "ping",
            Self::Pong { .. } => "pong",
            Self::FlowSource { .. } => "flow_source",
            Self::FlowOpen { .. } => "flow_open",
            Self::FlowAccepted { .. } => "flow_accepted",
            Self::FlowRefused { .. } => "flow_refused",
            Self::FlowClosed { .. } => "flow_closed",
        }
    }
}

fn put_text(s: &str, out: &mut Vec<u8>) {
    let mut end = s.len().min(MAX_TEXT);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    out.push(end as u8);
    out.extend_from_slice(&s.as_bytes()[..end]);
}

/// Appends `family ‖ ip ‖ port`, or the lone `NO_ADDR` byte. An IPv6 address's flow label and
/// scope id are not sent: they mean nothing on the far side of the tunnel.
fn put_addr(addr: Option<SocketAddr>, out: &mut Vec<u8>) {
    match addr {
        None => out.push(NO_ADDR),
        Some(SocketAddr::V4(a)) => {
            out.push(ADDR_V4);
            out.extend_from_slice(&a.ip().octets());
            out.extend_from_slice(&a.port().to_be_bytes());
        }
        Some(SocketAddr::V6(a)) => {
            out.push(ADDR_V6);
            out.extend_from_slice(&a.ip().octets());
            out.extend_from_slice(&a.port().to_be_bytes());
        }
    }
}

/// A cursor over one frame body; every read is bounds-checked.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&[u8], ControlError> {
        if self.0.len() < n {
            return Err(ControlError::Malformed(what));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], ControlError> {
        let bytes = self.take(N, what)?;
        bytes.try_into().map_err(|_| ControlError::Malformed(what))
    }

    fn text(&mut self, what: &'static str) -> Result<String, ControlError> {
        let [len] = self.array::<1>(what)?;
        let len = usize::from(len);
        if len > MAX_TEXT {
            return Err(ControlError::Malformed(what));
        }
        let raw = self.take(len, what)?;
        String::from_utf8(raw.to_vec()).map_err(|_| ControlError::Malformed(what))
    }

    fn flow(&mut self, what: &'static str) -> Result<FlowId, ControlError> {
        let (v, used) = varint::decode(self.0).map_err(|_| ControlError::Malformed(what))?;
        self.0 = &self.0[used..];
        FlowId::new(v).map_err(|_| ControlError::Malformed(what))
    }

    /// A socket address written by `put_addr`; `None` for the "no address" byte.
    fn addr(&mut self, what: &'static str) -> Result<Option<SocketAddr>, ControlError> {
        let ip = match self.array::<1>(what)? {
            [NO_ADDR] => return Ok(None),
            [ADDR_V4] => IpAddr::V4(Ipv4Addr::from(self.array::<4>(what)?)),
            [ADDR_V6] => IpAddr::V6(Ipv6Addr::from(self.array::<16>(what)?)),
            _ => return Err(ControlError::Malformed(what)),
        };
        let port = u16::from_be_bytes(self.array(what)?);
        Ok(Some(SocketAddr::new(ip, port)))
    }

    fn service(&mut self, what: &'static str) -> Result<ServiceName, ControlError> {
        let [len] = self.array::<1>(what)?;
        let raw = self.take(usize::from(len), what)?;
        ServiceName::from_bytes(raw).ok_or(ControlError::Malformed(what))
    }
}

#[cfg(test)]
mod tests;
