//! The wire format of the Legătura tunnel, with no I/O, no async runtime and no clock.
//!
//! A gateway holds one QUIC connection to a hub. On it:
//! - the gateway's first bidirectional stream is the **control stream** ([`Control`] frames);
//! - every other bidirectional stream carries one TCP connection of a named service and starts
//!   with a [`StreamHeader::Service`];
//! - UDP flows travel as QUIC datagrams (`varint flow id ‖ payload`, see [`datagram`]); a datagram
//!   too large for the path goes on a unidirectional stream headed [`StreamHeader::Datagram`].
//!
//! Invariant: every decoder here takes untrusted bytes, is bounded by a constant, rejects trailing
//! garbage where a length is known, and returns an error rather than panicking.

mod backoff;
mod control;
pub mod datagram;
mod error_code;
mod header;
mod identity;
pub mod rpc;
mod service;
mod varint;

pub use backoff::Backoff;
pub use control::{Control, ControlError, MAX_CONTROL_BODY};
pub use error_code::ErrorCode;
pub use header::{HeaderError, MAX_HEADER_LEN, StreamHeader};
pub use identity::{ApplianceId, InvalidIdentity};
pub use service::{InvalidServiceName, MAX_SERVICE_NAME, ServiceName};
pub use varint::{FlowId, VarIntError};

/// ALPN protocol id negotiated by both ends; a peer speaking anything else is refused in TLS.
pub const ALPN: &[u8] = b"legatura-tunnel/1";

/// ALPN of an enrollment connection: server-authenticated only, one enrollment stream.
pub const ALPN_ENROLL: &[u8] = b"legatura-enroll/1";

/// Version byte at the start of every stream header.
pub const VERSION: u8 = 1;

/// Largest UDP payload a flow carries (the IPv4 UDP maximum).
pub const MAX_UDP_PAYLOAD: usize = 65_507;
