//! Who sent a tunnelled connection. The hub knows, from a gateway's mutual-TLS certificate,
//! which appliance opened each stream; an upstream server behind the hub only sees a TCP
//! connection from the hub. For services configured with `proxy_protocol = true` the hub
//! writes one standard PROXY protocol v2 header (HAProxy's `proxy-protocol.txt`, section 2.2)
//! before the first forwarded byte: command PROXY, TCP over IPv4 or IPv6 with the gateway's
//! QUIC address as the source and the upstream as the destination, and a TLV of type
//! [`TLV_APPLIANCE`] carrying `mission/appliance`.
//!
//! [`encode`] builds that header at the hub; [`read_origin`] reads it at the upstream, and
//! [`OriginListener`] wraps a loopback `TcpListener` so an axum app gets
//! `ConnectInfo<Origin>` for every request.
//!
//! Invariants:
//! - The reader consumes exactly the header, never one byte of what follows, and reads at most
//!   [`MAX_HEADER_LEN`] bytes whatever the peer announces.
//! - Anything but a well-formed v2 PROXY header over TCP with exactly one valid appliance TLV is
//!   refused, with an error naming what was wrong.
//! - The header is only as trustworthy as the socket it arrives on: whoever can connect to an
//!   upstream listener can write any origin. [`OriginListener`] therefore listens on loopback
//!   only, where only the hub (and other local processes) can reach it.

mod encode;
mod listener;
mod read;

use std::net::SocketAddr;

pub use encode::encode;
pub use listener::{BindError, OriginCounters, OriginListener};
pub use read::{OriginError, read_origin};
pub use tunnel_proto::ApplianceId;

/// The TLV type carrying the appliance identity, `mission/appliance` in UTF-8:
/// `PP2_TYPE_MIN_CUSTOM`, the first of the range the specification leaves to applications.
pub const TLV_APPLIANCE: u8 = 0xE0;

/// The longest header [`read_origin`] accepts, fixed part included. The hub's own header is at
/// most 16 + 36 (IPv6 addresses) + 3 + 65 (the longest identity) = 120 bytes.
pub const MAX_HEADER_LEN: usize = 512;

/// Where a tunnelled connection came from, as the hub vouches for it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    /// The appliance whose certificate opened the tunnel.
    pub appliance: ApplianceId,
    /// The gateway's QUIC address as the hub saw it (after NAT, so often not the appliance's
    /// own address). An IPv4-mapped IPv6 address is reported as IPv4.
    pub peer: SocketAddr,
}
